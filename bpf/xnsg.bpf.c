// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xnsg datapath: hook entry points.  One classifier serves XDP (receive),
 * TC ingress (receive, --ingress tc) and TC egress (send).
 *
 *   packet -> parse.h -> interface config -> per level: classify.h -> verdict
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xnsg/abi.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
/* Bytes made linear for the parser: Ethernet, 2 VLANs, IPv6 and 8 extension headers fit. */
#define XNSG_TC_PULL 256

/* ---- maps (layout: include/xnsg/abi.h) ------------------------------ */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xnsg_active);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_IFACES);
	__type(key, struct xnsg_iface_key);
	__type(value, struct xnsg_iface_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_TABLES);
	__type(key, __u32);
	__type(value, struct xnsg_table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XNSG_MAX_LPM4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xnsg_lpm4_key);
	__type(value, struct xnsg_lpm_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XNSG_MAX_LPM6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xnsg_lpm6_key);
	__type(value, struct xnsg_lpm_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_PORTMAPS * XNSG_PORT_CHUNKS);
	__type(key, __u32);
	__type(value, struct xnsg_port_chunk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_TABLES * XNSG_PROTOS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_protos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct xnsg_bitmap);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_RULE_SLOTS);
	__type(key, __u32);
	__type(value, struct xnsg_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XNSG_REASONS);
	__type(key, __u32);
	__type(value, struct xnsg_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_drops SEC(".maps");

/* Set to 1 only in the private instance of verify --datapath and tests. */
const volatile __u8 xnsg_record = 0;
struct xnsg_verdict xnsg_last = {};

#if __has_include("parse.h")
#include "parse.h"
#else /* TEMPORARY until bpf/parse.h lands */
struct xnsg_pkt {
	__u8 saddr[16], daddr[16];
	__u32 frag_id; __u32 l3_off, l4_off; __u32 len;
	__u16 sport, dport; __u16 eth_proto;
	__u8 family, proto, icmp_type, icmp_code, tcp_flags, frag, nvlans, pad;
};
enum { XNSG_FRAG_NONE, XNSG_FRAG_FIRST, XNSG_FRAG_LATER };
#define XNSG_PARSE_PASS (-1)
static __always_inline int xnsg_parse(void *data, void *data_end, struct xnsg_pkt *pkt)
{
	struct ethhdr *eth = data; struct iphdr *ip = data + sizeof(*eth);
	if ((void *)(ip + 1) > data_end) return XNSG_PARSE_PASS;
	pkt->family = 4; pkt->proto = ip->protocol; __builtin_memcpy(pkt->saddr, &ip->saddr, 4); __builtin_memcpy(pkt->daddr, &ip->daddr, 4);
	pkt->len = data_end - (void*)ip;
	return 0;
}
#endif
#include "classify.h"

enum { HOOK_RX = 0, HOOK_TX = 1 };

static __always_inline void count(void *map, __u32 key, __u32 len)
{
	struct xnsg_counter *c = bpf_map_lookup_elem(map, &key);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/* Drop for a reason other than a rule: counted, recorded. */
static __always_inline int drop(__u32 reason, __u32 len)
{
	count(&xnsg_drops, reason, len);
	if (xnsg_record) {
		xnsg_last.allow = 0;
		xnsg_last.reason = reason;
		xnsg_last.seq++;
	}
	return 0;
}

static __always_inline int pass_unfiltered(void)
{
	if (xnsg_record) {
		xnsg_last.allow = 1;
		xnsg_last.pass_kind = 1;
		xnsg_last.seq++;
	}
	return 1;
}

/*
 * The verdict for one packet: 1 pass, 0 drop.  hook: where the program
 * runs (receive or send side); with the interface's attach mode it gives
 * the workload's direction.
 */
static __always_inline int xnsg_judge(void *data, void *data_end, __u32 ifindex, int hook)
{
	struct xnsg_iface_cfg *cfg;
	struct xnsg_iface_key ik;
	struct xnsg_active *act;
	struct xnsg_pkt pkt = {};
	__u32 zero = 0, gen, dir, l;
	int rc, allow_all = 1;

	rc = xnsg_parse(data, data_end, &pkt);
	if (rc == XNSG_PARSE_PASS)
		return pass_unfiltered();
	if (rc > 0)
		return drop(rc, (__u32)(data_end - data));

	act = bpf_map_lookup_elem(&xnsg_active, &zero);
	if (!act)
		return pass_unfiltered();
	gen = act->gen & 1;
	ik.ifindex = ifindex;
	ik.gen = gen;
	cfg = bpf_map_lookup_elem(&xnsg_ifaces, &ik);
	if (!cfg)
		return pass_unfiltered(); /* not an interface of the policy */

	dir = (hook ^ cfg->attach) & 1;
	if (xnsg_record) {
		xnsg_last.dir = dir;
		xnsg_last.reason = 0;
		xnsg_last.pass_kind = 0;
	}
	if (pkt.frag == XNSG_FRAG_LATER)
		return drop(XNSG_R_FRAGMENT, pkt.len);

	for (l = 0; l < 2; l++) {
		__u32 t = cfg->table[dir][l];
		struct xnsg_decision d = {};

		if (xnsg_record)
			xnsg_last.table[l] = t;
		if (t == XNSG_NO_TABLE)
			continue;
		rc = xnsg_table_decide(gen, t, &pkt, &d);
		if (rc)
			return drop(rc, pkt.len);
		if (d.slot < XNSG_MAX_RULE_SLOTS)
			count(&xnsg_rule_stats, gen * XNSG_MAX_RULE_SLOTS + d.slot, pkt.len);
		if (xnsg_record) {
			xnsg_last.rule[l] = d.rule;
			xnsg_last.slot[l] = d.slot;
			xnsg_last.level_allow[l] = d.allow;
		}
		if (!d.allow) {
			allow_all = 0;
			if (!xnsg_record) /* verify wants every level's opinion */
				break;
		}
	}
	if (xnsg_record) {
		xnsg_last.allow = allow_all;
		xnsg_last.seq++;
	}
	if (!allow_all)
		count(&xnsg_drops, XNSG_R_RULE_DENY, pkt.len);
	return allow_all;
}

SEC("xdp")
int xnsg_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	return xnsg_judge(data, end, ctx->ingress_ifindex, HOOK_RX) ? XDP_PASS : XDP_DROP;
}

/* TC sees socket buffers whose headers may sit partly outside the linear
 * area; make the first bytes linear so the parser reads them all. */
static __always_inline int tc_judge(struct __sk_buff *skb, int hook)
{
	__u32 len = skb->len, ifindex = skb->ifindex;
	__u32 want = len < XNSG_TC_PULL ? len : XNSG_TC_PULL;
	void *data, *end;

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if ((__u32)(end - data) < want) {
		bpf_skb_pull_data(skb, want);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	return xnsg_judge(data, end, ifindex, hook) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int xnsg_tc_ingress(struct __sk_buff *skb)
{
	return tc_judge(skb, HOOK_RX);
}

SEC("tc")
int xnsg_tc_egress(struct __sk_buff *skb)
{
	return tc_judge(skb, HOOK_TX);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
