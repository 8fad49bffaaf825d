// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xnsg datapath: hook entry points.  One classifier serves XDP (receive),
 * TC ingress (receive, --ingress tc) and TC egress (send).
 *
 *   packet -> parse.h -> interface config -> per level: classify.h -> verdict
 *
 * Flow-log events (flowlog.h) come from conntrack.h where a flow begins
 * and ends, and from here where the rules deny a packet.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xnsg/abi.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
/* Bytes made linear for the parser: Ethernet, 2 VLANs, IPv6 and 8 extension headers fit. */
#define XNSG_TC_PULL 256

#include "maps.h"

/* Set to 1 only in the private instance of verify --datapath and tests. */
const volatile __u8 xnsg_record = 0;
/* Set to 1 only by benchmarks measuring classification: no flow state. */
const volatile __u8 xnsg_stateless = 0;
struct xnsg_verdict xnsg_last = {};

#include "parse.h"
#include "classify.h"
#include "conntrack.h"
#include "flowlog.h"

enum { HOOK_RX = 0, HOOK_TX = 1 };

static __always_inline void count(void *map, __u32 key, __u32 len)
{
	struct xnsg_counter *c = bpf_map_lookup_elem(map, &key);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/* Slot s of the per-rule counters (include/xnsg/abi.h: xnsg_rule_stats). */
static __always_inline void count_rule(__u32 s, __u32 len)
{
	__u32 key = s / XNSG_RULE_COUNTERS;
	struct xnsg_rule_counters *v = bpf_map_lookup_elem(&xnsg_rule_stats, &key);

	if (v) {
		struct xnsg_counter *c = &v->c[s % XNSG_RULE_COUNTERS];

		c->packets++;
		c->bytes += len;
	}
}

/* Drop without a rule's decision (a malformed packet, an orphan fragment,
 * a flow cut by a policy change): counted, recorded. */
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

static __always_inline int pass_as(__u8 kind)
{
	if (xnsg_record) {
		xnsg_last.allow = 1;
		xnsg_last.pass_kind = kind;
		xnsg_last.seq++;
	}
	return 1;
}

/* The interface's entry (include/xnsg/abi.h): an array element for the
 * common ifindexes, inlined by the verifier, else the hash; NULL if none. */
static __always_inline struct xnsg_iface_cfg *iface_cfg(__u32 ifindex, __u32 gen)
{
	struct xnsg_iface_cfg *cfg;
	struct xnsg_iface_key ik;

	if (ifindex < XNSG_IFINDEX_DIRECT) {
		__u32 i = gen * XNSG_IFINDEX_DIRECT + ifindex;

		cfg = bpf_map_lookup_elem(&xnsg_iface_idx, &i);
		return cfg && cfg->present ? cfg : NULL;
	}
	ik.ifindex = ifindex;
	ik.gen = gen;
	return bpf_map_lookup_elem(&xnsg_ifaces, &ik);
}

/* All four table slots XNSG_NO_TABLE: no NSG on the interface's subnet or NIC. */
static __always_inline int iface_unfiltered(const struct xnsg_iface_cfg *cfg)
{
	__u64 t;

	_Static_assert(sizeof(cfg->table) == sizeof(t) && XNSG_NO_TABLE == 0xffff, "table slots");
	__builtin_memcpy(&t, cfg->table, sizeof(t));
	return t == ~0ULL;
}

/*
 * The verdict for one packet: 1 pass, 0 drop.  pkt and rc: what
 * xnsg_parse() made of [data, data_end).  hook: where the program runs
 * (receive or send side); with the interface's attach mode it gives the
 * workload's direction.
 *
 *   parse -> interface config (no NSG: pass) -> later fragment? follow its first
 *         -> tracked flow? pass (cut by a policy change: drop)
 *         -> ICMP error of a tracked flow? pass
 *         -> every level's table -> track the flow if allowed
 */
static __always_inline int xnsg_judge(void *data, void *data_end, struct xnsg_pkt *pkt, int rc,
				      __u32 ifindex, int hook)
{
	struct xnsg_iface_cfg *cfg;
	struct xnsg_active *act;
	struct xnsg_flow flow;
	struct xnsg_flow rel;
	__u32 zero = 0, gen, dir, l, slots[2] = { ~0U, ~0U }, deny_slot = ~0U;
	__u64 now;
	int allow_all = 1;

	if (rc == XNSG_PARSE_PASS)
		return pass_as(XNSG_PASS_UNFILTERED);
	if (rc > 0)
		return drop(rc, (__u32)(data_end - data));

	act = bpf_map_lookup_elem(&xnsg_active, &zero);
	if (!act)
		return pass_as(XNSG_PASS_UNFILTERED);
	gen = act->gen & 1;
	cfg = iface_cfg(ifindex, gen);
	/* The programs run only where xnsg attached them, and apply writes an
	 * entry for every such interface (an explicit pass-all one for an
	 * interface not yet, or no longer, under a policy): a missing entry
	 * is a broken invariant, and a firewall fails closed. */
	if (!cfg)
		return drop(XNSG_R_NO_CONFIG, (__u32)(data_end - data));

	dir = (hook ^ cfg->attach) & 1;
	if (xnsg_record) {
		xnsg_last.dir = dir;
		xnsg_last.reason = 0;
		xnsg_last.ct_looked = 0;
		xnsg_last.pass_kind = 0;
	}
	if (iface_unfiltered(cfg)) {
		/* No NSG at any level (docs/DESIGN.md §2): not filtered, so no flow state
		 * either - a flood here must not evict the flows of filtered
		 * interfaces.  The private instance records it as judged with no
		 * table at either level (each allows), as verify --datapath
		 * reports such an interface. */
		if (xnsg_record) {
			xnsg_last.table[0] = XNSG_NO_TABLE;
			xnsg_last.table[1] = XNSG_NO_TABLE;
			xnsg_last.allow = 1;
			xnsg_last.seq++;
		}
		return 1;
	}
	/* The coarse clock (CLOCK_MONOTONIC at the last tick, <= 1 tick
	 * behind): read on every filtered packet, and bpf_ktime_get_ns()'s
	 * clock source read cost ~17 ns of a ~67 ns established packet
	 * (bench/RESULTS.md).  What reads it needs no finer: idle timeouts
	 * are whole seconds, flow-log times are milliseconds. */
	now = bpf_ktime_get_coarse_ns();
	if (pkt->frag == XNSG_FRAG_LATER) {
		rc = xnsg_frag_follow(pkt, ifindex, now);
		if (rc < 0)
			return drop(XNSG_R_FRAGMENT, pkt->len);
		return rc ? pass_as(XNSG_PASS_FRAGMENT) : drop(XNSG_R_RULE_DENY, pkt->len);
	}

	xnsg_flow_of(data, data_end, pkt, ifindex, &flow);
	rc = xnsg_stateless ? 0 : xnsg_ct_hit(&flow, now);
	if (rc) { /* a tracked flow: 1 pass, -1 cut by a policy change */
		xnsg_frag_record(pkt, ifindex, now, rc > 0);
		return rc > 0 ? pass_as(XNSG_PASS_FLOW) : drop(XNSG_R_RULE_DENY, pkt->len);
	}
	if (!xnsg_stateless && xnsg_related_key(data, data_end, pkt, ifindex, &rel) == 0) {
		rel.dir = (__u8)dir;
		if (xnsg_ct_related(&rel, now))
			return pass_as(XNSG_PASS_RELATED);
	}

	for (l = 0; l < 2; l++) {
		__u32 t = cfg->table[dir][l];
		struct xnsg_decision d = {};

		if (xnsg_record)
			xnsg_last.table[l] = t;
		if (t == XNSG_NO_TABLE)
			continue;
		rc = xnsg_table_decide(gen, t, pkt, &d);
		if (rc)
			return drop(rc, pkt->len);
		if (d.slot < XNSG_MAX_RULE_SLOTS)
			count_rule(XNSG_RULE_STAT(gen, d.slot), pkt->len);
		slots[l] = d.slot;
		if (xnsg_record) {
			xnsg_last.rule[l] = d.rule;
			xnsg_last.slot[l] = d.slot;
			xnsg_last.level_allow[l] = d.allow;
		}
		if (!d.allow) {
			if (allow_all)
				deny_slot = d.slot; /* the first level that denies decides */
			allow_all = 0;
			if (!xnsg_record) /* verify wants every level's opinion */
				break;
		}
	}
	xnsg_frag_record(pkt, ifindex, now, allow_all);
	if (xnsg_record) {
		xnsg_last.allow = allow_all;
		xnsg_last.seq++;
	}
	flow.iface = cfg->id;
	flow.dir = (__u8)dir;
	flow.gen = (__u8)gen;
	if (!allow_all) {
		count(&xnsg_drops, XNSG_R_RULE_DENY, pkt->len);
		if (!xnsg_stateless && fl_on()) /* off: not even the call */
			xnsg_fl_deny(&flow, deny_slot, now);
		return 0;
	}
	if (xnsg_stateless)
		return 1;
	flow.slot[0] = slots[0];
	flow.slot[1] = slots[1];
	xnsg_ct_create(&flow, now);
	return 1;
}

SEC("xdp")
int xnsg_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct xnsg_pkt pkt;
	int rc = xnsg_parse(data, end, &pkt);

	return xnsg_judge(data, end, &pkt, rc, ctx->ingress_ifindex, HOOK_RX) ? XDP_PASS : XDP_DROP;
}

/*
 * Whether the parser and conntrack may read past the linear area (the
 * frame [data, end) as the skb holds it linear).  Exact for the frames
 * that matter - TCP or UDP over IPv4 or IPv6 without extension headers,
 * untagged - and "maybe" for anything else (VLAN tags, extension
 * headers, ICMP - an error's quoted header is read - other protocols).
 */
static __always_inline int tc_short(__u8 *data, void *end)
{
	__u32 lin = (__u32)(end - (void *)data), need;
	__u16 proto;
	__u8 l4;

	if ((void *)(data + XNSG_ETH_HLEN + XNSG_IP6_HLEN) > end)
		return 1;
	proto = xnsg_get16(data + 12);
	if (proto == XNSG_ETH_P_IP) {
		l4 = data[XNSG_ETH_HLEN + 9];
		need = XNSG_ETH_HLEN + (data[XNSG_ETH_HLEN] & 0xf) * 4;
	} else if (proto == XNSG_ETH_P_IPV6) {
		l4 = data[XNSG_ETH_HLEN + 6];
		need = XNSG_ETH_HLEN + XNSG_IP6_HLEN;
	} else {
		return 1;
	}
	if (l4 == 6)
		need += XNSG_TCP_HLEN;
	else if (l4 == 17)
		need += XNSG_UDP_HLEN;
	else
		return 1;
	return need > lin;
}

/*
 * TC sees socket buffers whose headers may sit partly outside the linear
 * area.  A TCP segment the host sends is a clone with only its headers
 * linear: pulling then reallocates and copies every segment.  So the
 * first XNSG_TC_PULL bytes are made linear only when the linear part is
 * shorter and the headers may not all be in it; the frame is parsed once,
 * after.  (Parsing in place and again after a pull would double the
 * verifier's walk of the TC programs: measured 23.5k -> 38.7k insns.)
 */
static __always_inline int tc_judge(struct __sk_buff *skb, int hook)
{
	__u32 len = skb->len, ifindex = skb->ifindex;
	__u32 want = len < XNSG_TC_PULL ? len : XNSG_TC_PULL;
	struct xnsg_pkt pkt;
	void *data, *end;
	int rc;

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if ((__u32)(end - data) < want && tc_short(data, end))
		bpf_skb_pull_data(skb, want);
	asm volatile("" : "+r"(skb)); /* reload from skb, not from addresses clang kept */
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	rc = xnsg_parse(data, end, &pkt);
	return xnsg_judge(data, end, &pkt, rc, ifindex, hook) ? TC_ACT_OK : TC_ACT_SHOT;
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
