// SPDX-License-Identifier: MIT
/*
 * The packet parser (bpf/parse.h) through the real datapath: packet
 * tables run with BPF_PROG_TEST_RUN on a private instance (dp_test_*).
 * Each row is a description, a frame built with tests/lib/pkt.h and what
 * must happen to it: passed unfiltered (non-IP, IPv6 ND), classified by
 * the rules (and which rule decided), or dropped for a parse reason -
 * checked three ways: the program's return code, the recorded
 * struct xnsg_verdict, and the xnsg_drops counter of that reason (and no
 * other) moving by one.  A few rows then run through the TC ingress and
 * TC egress programs too: one classifier serves every hook.  Needs root.
 */
#include <criterion/criterion.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "bpf_env.h"
#include "compile.h"
#include "datapath.h"
#include "model.h"
#include "pkt.h"
#include "xnsg/abi.h"

/* The workload's own addresses and a peer on the Internet (documentation
 * ranges, outside the virtual network). */
#define L4 "192.0.2.10"
#define R4 "198.51.100.7"
#define L6 "2001:db8::10"
#define R6 "2001:db8:1::7"

#define RULE(name, prio, proto, dport)                                                     \
	"{\"name\":\"" name "\",\"priority\":" #prio ",\"direction\":\"Inbound\","          \
	"\"access\":\"Allow\",\"protocol\":\"" proto "\",\"sourceAddressPrefix\":\"*\","     \
	"\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","                     \
	"\"destinationPortRange\":\"" dport "\"}"

/* Inbound: web, DNS, ICMP, ESP and AH allowed, the rest denied by
 * DenyAllInBound (the peer is outside the virtual network). */
static const char policy_json[] =
	"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]},"
	"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":["
	RULE("AllowWeb", 100, "Tcp", "80") ","
	RULE("AllowDns", 110, "Udp", "53") ","
	RULE("AllowPing", 120, "Icmp", "*") ","
	RULE("AllowEsp", 130, "Esp", "*") ","
	RULE("AllowAh", 140, "Ah", "*") "]}],"
	"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
	"\"ipAddresses\":[\"" L4 "\",\"" L6 "\"]}]}";



enum outcome {
	UNFILTERED, /* passed without the rules */
	RULES,      /* classified: `rule` decided (allow or deny as that rule says) */
	DROP,       /* dropped by the parser for `reason` */
};

struct row {
	const char *desc;
	size_t (*build)(struct pkt *p);
	enum outcome out;
	const char *rule; /* RULES: the deciding rule's name */
	int allow;        /* RULES: the verdict that rule gives */
	int reason;       /* DROP: enum xnsg_reason */
};


static void drops(const struct bpf_env *e, unsigned long long *pk)
{
	unsigned long long by;

	for (unsigned int r = 0; r < XNSG_REASONS; r++)
		cr_assert_eq(dp_test_counter(e->t, XNSG_MAP_DROPS, r, &pk[r], &by), 0,
			     "xnsg_drops[%u] reads", r);
}

/* The per-rule counters of every slot (generation 0: the test instance's). */
#define MAX_SLOTS 64
static void rule_counts(const struct bpf_env *e, unsigned long long *pk, unsigned long long *by)
{
	cr_assert_leq(e->c->nrule_slots, MAX_SLOTS, "the test policy has few slots");
	for (unsigned int s = 0; s < e->c->nrule_slots; s++)
		cr_assert_eq(dp_test_counter(e->t, XNSG_MAP_RULE_STATS, s, &pk[s], &by[s]), 0,
			     "rule slot %u reads", s);
}

/* Exactly the deciding rule's counter moved, by this frame: a packet and
 * its length; no rule's for a frame the rules did not judge. */
static void check_rule_counts(const struct bpf_env *e, const struct xnsg_verdict *v,
			      const char *what, size_t len, const unsigned long long *pk0,
			      const unsigned long long *by0)
{
	unsigned long long pk[MAX_SLOTS], by[MAX_SLOTS];
	unsigned int want = UINT32_MAX;

	rule_counts(e, pk, by);
	if (v->pass_kind == XNSG_PASS_RULES && !v->reason)
		for (int l = 1; l >= 0; l--) /* the last level that decided: allowed by both, or the denier */
			if (v->table[l] != XNSG_NO_TABLE && (want == UINT32_MAX || !v->level_allow[l]))
				want = v->slot[l];
	for (unsigned int s = 0; s < e->c->nrule_slots; s++) {
		cr_expect_eq(pk[s] - pk0[s], s == want ? 1ULL : 0ULL,
			     "%s: rule slot %u counts %d packet (counted %llu)", what, s, s == want,
			     pk[s] - pk0[s]);
		cr_expect_eq(by[s] - by0[s], s == want ? (unsigned long long)len : 0ULL,
			     "%s: rule slot %u counts %zu bytes (counted %llu)", what, s,
			     s == want ? len : 0, by[s] - by0[s]);
	}
}

/* Run one row through one program and check everything it promises. */
static void check(const struct bpf_env *e, const struct row *r, enum dp_prog prog)
{
	static const char *const hook[] = { "XDP", "TC ingress", "TC egress" };
	int pass_rc = prog == DP_PROG_XDP ? XDP_PASS : TC_ACT_OK;
	int drop_rc = prog == DP_PROG_XDP ? XDP_DROP : TC_ACT_SHOT;
	unsigned long long before[XNSG_REASONS], after[XNSG_REASONS], rpk[MAX_SLOTS], rby[MAX_SLOTS];
	struct xnsg_verdict v;
	struct pkt p;
	int ret, allow, want_drop;
	size_t len = r->build(&p);

	drops(e, before);
	rule_counts(e, rpk, rby);
	cr_assert_eq(dp_test_run(e->t, prog, p.buf, len, &ret, &v), 0,
		     "%s: %s: BPF_PROG_TEST_RUN runs", hook[prog], r->desc);
	drops(e, after);
	check_rule_counts(e, &v, r->desc, len - p.l3, rpk, rby); /* bytes from the IP header on */

	allow = r->out == UNFILTERED || (r->out == RULES && r->allow);
	cr_expect_eq(ret, allow ? pass_rc : drop_rc, "%s: %s: returns %s (got %d)", hook[prog],
		     r->desc, allow ? "pass" : "drop", ret);
	cr_expect_eq(v.seq, 1, "%s: %s: one decision recorded (seq %u)", hook[prog], r->desc, v.seq);
	cr_expect_eq(v.allow, allow, "%s: %s: verdict allow=%d (got %u)", hook[prog], r->desc, allow,
		     v.allow);
	switch (r->out) {
	case UNFILTERED:
		cr_expect_eq(v.pass_kind, XNSG_PASS_UNFILTERED,
			     "%s: %s: passes unfiltered (pass_kind %u)", hook[prog], r->desc,
			     v.pass_kind);
		break;
	case RULES:
		cr_expect_eq(v.pass_kind, XNSG_PASS_RULES, "%s: %s: judged by the rules (pass_kind %u)",
			     hook[prog], r->desc, v.pass_kind);
		cr_expect_eq(v.reason, 0, "%s: %s: no parse reason (reason %u)", hook[prog], r->desc,
			     v.reason);
		cr_expect_str_eq(bpf_env_decided_by(e, &v), r->rule, "%s: %s: decided by %s (got %s)",
				 hook[prog], r->desc, r->rule, bpf_env_decided_by(e, &v));
		break;
	case DROP:
		cr_expect_eq(v.reason, r->reason, "%s: %s: dropped for reason %d (got %u)", hook[prog],
			     r->desc, r->reason, v.reason);
		break;
	}
	/* Exactly the expected drop counter moved: a parse reason, or
	 * RULE_DENY for a denied packet; nothing for a passed one. */
	want_drop = r->out == DROP ? r->reason : !allow ? XNSG_R_RULE_DENY : -1;
	for (int k = 0; k < XNSG_REASONS; k++)
		cr_expect_eq(after[k] - before[k], k == want_drop ? 1ULL : 0ULL,
			     "%s: %s: xnsg_drops[%d] moves by %d (moved by %llu)", hook[prog],
			     r->desc, k, k == want_drop, after[k] - before[k]);
}

/* ---- frames --------------------------------------------------------- */

#define BUILD(name, ...)                          \
	static size_t name(struct pkt *p)         \
	{                                         \
		__VA_ARGS__;                      \
		return p->len;                    \
	}

/* non-IP, ND */
BUILD(arp, pkt_arp(p))
BUILD(lldp, pkt_lldp(p))
BUILD(arp_vlan, pkt_arp(p); pkt_vlan(p, 0x8100, 5))
BUILD(llc_8023, pkt_eth(p, 46, 46)) /* an 802.3 length field, not an ethertype */
BUILD(nd_rs, pkt_icmp6(p, "fe80::1", "ff02::2", 133, 0, 0))
BUILD(nd_ra, pkt_icmp6(p, "fe80::1", "ff02::1", 134, 0, 0); pkt_payload(p, 8))
BUILD(nd_ns, pkt_icmp6(p, R6, "ff02::1:ff00:10", 135, 0, 0); pkt_payload(p, 16))
BUILD(nd_na, pkt_icmp6(p, R6, L6, 136, 0, 0); pkt_payload(p, 16))
BUILD(nd_redirect, pkt_icmp6(p, "fe80::1", L6, 137, 0, 0); pkt_payload(p, 32))
BUILD(nd_ns_vlan, pkt_icmp6(p, R6, L6, 135, 0, 0); pkt_payload(p, 16); pkt_vlan(p, 0x8100, 7))
BUILD(nd_ns_frag, pkt_icmp6(p, R6, L6, 135, 0, 0); pkt_payload(p, 16); pkt_ip6_frag(p, 9, 0, 1))
BUILD(mld_query, pkt_icmp6(p, "fe80::1", "ff02::1", 130, 0, 0); pkt_ip6_ext(p, 0, 8))

/* classified, IPv4 */
BUILD(tcp4_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN))
BUILD(tcp4_22, pkt_tcp4(p, R4, L4, 40000, 22, PKT_SYN))
BUILD(udp4_53, pkt_udp4(p, R4, L4, 5353, 53))
BUILD(udp4_54, pkt_udp4(p, R4, L4, 5353, 54))
BUILD(icmp4_echo, pkt_icmp4(p, R4, L4, 8, 0, 77))
BUILD(esp4, pkt_ip4(p, R4, L4, 50, 16))
BUILD(ah4, pkt_ip4(p, R4, L4, 51, 24))
BUILD(gre4, pkt_ip4(p, R4, L4, 47, 8))
BUILD(vlan1_tcp4_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 10))
BUILD(vlan1_tcp4_22, pkt_tcp4(p, R4, L4, 40000, 22, PKT_SYN); pkt_vlan(p, 0x8100, 10))
BUILD(vlan1ad_udp4_53, pkt_udp4(p, R4, L4, 5353, 53); pkt_vlan(p, 0x88a8, 10))
BUILD(vlan2_tcp4_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 10);
      pkt_vlan(p, 0x88a8, 20))
BUILD(vlan2q_tcp4_22, pkt_tcp4(p, R4, L4, 40000, 22, PKT_SYN); pkt_vlan(p, 0x8100, 10);
      pkt_vlan(p, 0x8100, 20))
BUILD(opts4_tcp_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_ip4_opts(p, 4))
BUILD(opts40_tcp_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_ip4_opts(p, 40))
BUILD(opts40_tcp_22, pkt_tcp4(p, R4, L4, 40000, 22, PKT_SYN); pkt_ip4_opts(p, 40))
BUILD(opts8_udp_53_vlan2, pkt_udp4(p, R4, L4, 5353, 53); pkt_ip4_opts(p, 8);
      pkt_vlan(p, 0x8100, 1); pkt_vlan(p, 0x88a8, 2))
BUILD(first_frag4_tcp_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_ACK); pkt_payload(p, 64);
      pkt_ip4_frag(p, 4242, 0, 1))
BUILD(first_frag4_tcp_22, pkt_tcp4(p, R4, L4, 40000, 22, PKT_ACK); pkt_payload(p, 64);
      pkt_ip4_frag(p, 4243, 0, 1))
BUILD(df4_tcp_80, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); p->buf[p->l3 + 6] = 0x40;
      pkt_ip4_csum(p))

/* classified, IPv6 */
BUILD(tcp6_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN))
BUILD(tcp6_22, pkt_tcp6(p, R6, L6, 40000, 22, PKT_SYN))
BUILD(udp6_53, pkt_udp6(p, R6, L6, 5353, 53))
BUILD(icmp6_echo, pkt_icmp6(p, R6, L6, 128, 0, 77))
BUILD(vlan1_tcp6_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 10))
BUILD(vlan2_udp6_53, pkt_udp6(p, R6, L6, 5353, 53); pkt_vlan(p, 0x8100, 10);
      pkt_vlan(p, 0x88a8, 20))
BUILD(hbh_tcp6_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 0, 8))
BUILD(hbh_tcp6_22, pkt_tcp6(p, R6, L6, 40000, 22, PKT_SYN); pkt_ip6_ext(p, 0, 8))
BUILD(rt_tcp6_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 43, 24))
BUILD(dst_udp6_53, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_ext(p, 60, 16))
BUILD(big_dst_udp6_53, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_ext(p, 60, 2048))
BUILD(ah_tcp6_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_ACK); pkt_ip6_ext(p, 51, 24))
BUILD(ah_tcp6_22, pkt_tcp6(p, R6, L6, 40000, 22, PKT_ACK); pkt_ip6_ext(p, 51, 24))
BUILD(ah12_udp6_53, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_ext(p, 51, 12))
BUILD(ah_alone6, pkt_ip6(p, R6, L6, 59, 0); pkt_ip6_ext(p, 51, 24))
BUILD(esp6, pkt_ip6(p, R6, L6, 50, 24))
BUILD(hbh_esp6, pkt_ip6(p, R6, L6, 50, 24); pkt_ip6_ext(p, 0, 8))
BUILD(no_next6, pkt_ip6(p, R6, L6, 59, 0); pkt_ip6_ext(p, 60, 8))
BUILD(atomic_frag6_tcp_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_frag(p, 5, 0, 0))
BUILD(first_frag6_tcp_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_ACK); pkt_payload(p, 64);
      pkt_ip6_frag(p, 0xdeadbeef, 0, 1))
BUILD(first_frag6_tcp_22, pkt_tcp6(p, R6, L6, 40000, 22, PKT_ACK); pkt_payload(p, 64);
      pkt_ip6_frag(p, 0xdeadbeee, 0, 1))
/* HBH, routing, fragment (atomic), destination, AH, destination: six */
BUILD(chain6_tcp_80, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 0, 8);
      pkt_ip6_ext(p, 43, 24); pkt_ip6_frag(p, 6, 0, 0); pkt_ip6_ext(p, 60, 8);
      pkt_ip6_ext(p, 51, 16); pkt_ip6_ext(p, 60, 16))
static size_t ext6_n(struct pkt *p, int n, uint16_t dport)
{
	pkt_tcp6(p, R6, L6, 40000, dport, PKT_SYN);
	for (int i = 0; i < n; i++)
		pkt_ip6_ext(p, i % 2 ? 60 : 43, 8);
	return p->len;
}
BUILD(ext8_tcp6_80, ext6_n(p, XNSG_MAX_EXTHDRS, 80))
BUILD(ext8_tcp6_22, ext6_n(p, XNSG_MAX_EXTHDRS, 22))

/* dropped by the parser */
BUILD(vlan3, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 1);
      pkt_vlan(p, 0x8100, 2); pkt_vlan(p, 0x88a8, 3))
BUILD(vlan3_arp, pkt_arp(p); pkt_vlan(p, 0x8100, 1); pkt_vlan(p, 0x8100, 2);
      pkt_vlan(p, 0x8100, 3))
BUILD(trunc_vlan1, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 1);
      pkt_trunc(p, 16))
BUILD(trunc_vlan2, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 1);
      pkt_vlan(p, 0x88a8, 2); pkt_trunc(p, 20))
BUILD(trunc_ip4_none, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_trunc(p, 14))
BUILD(trunc_ip4_19, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_trunc(p, 14 + 19))
BUILD(trunc_ip4_opts, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_ip4_opts(p, 12);
      pkt_trunc(p, 14 + 24))
BUILD(trunc_ip4_vlan, pkt_udp4(p, R4, L4, 5353, 53); pkt_vlan(p, 0x8100, 1);
      pkt_trunc(p, 18 + 10))
BUILD(bad_ihl4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); p->buf[p->l3] = 0x44; pkt_ip4_csum(p))
BUILD(bad_version4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); p->buf[p->l3] = 0x65;
      pkt_ip4_csum(p))
BUILD(bad_totlen4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); p->buf[p->l3 + 2] = 0;
      p->buf[p->l3 + 3] = 19; pkt_ip4_csum(p))
BUILD(bad_totlen4_opts, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_ip4_opts(p, 8);
      p->buf[p->l3 + 2] = 0; p->buf[p->l3 + 3] = 24; pkt_ip4_csum(p))
BUILD(trunc_ip6_none, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_trunc(p, 14))
BUILD(trunc_ip6_39, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_trunc(p, 14 + 39))
BUILD(trunc_ip6_vlan2, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_vlan(p, 0x8100, 1);
      pkt_vlan(p, 0x8100, 2); pkt_trunc(p, 22 + 20))
BUILD(bad_version6, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); p->buf[p->l3] = 0x40)
BUILD(trunc_hbh, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 0, 16);
      pkt_trunc(p, 54 + 4))
BUILD(trunc_hbh_body, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 0, 16);
      pkt_trunc(p, 54 + 12))
BUILD(trunc_rt, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 43, 24);
      pkt_trunc(p, 54 + 20))
BUILD(trunc_dst, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_ext(p, 0, 8); pkt_ip6_ext(p, 60, 8);
      pkt_trunc(p, 54 + 8 + 6))
BUILD(trunc_frag6, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_frag(p, 1, 0, 1);
      pkt_trunc(p, 54 + 4))
BUILD(trunc_ah, pkt_tcp6(p, R6, L6, 40000, 80, PKT_ACK); pkt_ip6_ext(p, 51, 24);
      pkt_trunc(p, 54 + 16))
BUILD(short_plen6, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_ext(p, 0, 16);
      p->buf[p->l3 + 4] = 0; p->buf[p->l3 + 5] = 8)
BUILD(ext9_tcp6, ext6_n(p, XNSG_MAX_EXTHDRS + 1, 80))
BUILD(ext9_frag_tcp6, ext6_n(p, XNSG_MAX_EXTHDRS, 80); pkt_ip6_frag(p, 3, 0, 1))
BUILD(trunc_tcp4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_trunc(p, 34 + 10))
BUILD(trunc_tcp4_opts_vlan, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_ip4_opts(p, 20);
      pkt_vlan(p, 0x8100, 1); pkt_trunc(p, 18 + 40 + 19))
BUILD(bad_doff4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); p->buf[p->l4 + 12] = 4 << 4)
BUILD(trunc_udp4, pkt_udp4(p, R4, L4, 5353, 53); pkt_trunc(p, 34 + 6))
BUILD(padded_udp4, pkt_udp4(p, R4, L4, 5353, 53); pkt_payload(p, 18); p->buf[p->l3 + 3] = 24;
      pkt_ip4_csum(p))
BUILD(trunc_icmp4, pkt_icmp4(p, R4, L4, 8, 0, 1); pkt_trunc(p, 34 + 4))
BUILD(trunc_tcp6, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_trunc(p, 54 + 19))
BUILD(trunc_udp6_hbh, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_ext(p, 0, 8);
      pkt_trunc(p, 54 + 8 + 7))
BUILD(trunc_icmp6, pkt_icmp6(p, R6, L6, 128, 0, 1); pkt_trunc(p, 54 + 7))
BUILD(tiny_frag4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_SYN); pkt_ip4_frag(p, 99, 0, 1);
      pkt_trunc(p, 34 + 8); p->buf[p->l3 + 3] = 28; pkt_ip4_csum(p))
BUILD(tiny_frag6, pkt_tcp6(p, R6, L6, 40000, 80, PKT_SYN); pkt_ip6_frag(p, 99, 0, 1);
      pkt_trunc(p, 62 + 8); p->buf[p->l3 + 5] = 16)
/* later fragments with nothing remembered: their payload starts like an
 * allowed TCP header (port 80), which must not count */
BUILD(orphan4, pkt_tcp4(p, R4, L4, 40000, 80, PKT_ACK); pkt_ip4_frag(p, 555, 185, 0))
BUILD(orphan4_more, pkt_udp4(p, R4, L4, 5353, 53); pkt_ip4_frag(p, 556, 1, 1))
BUILD(orphan6, pkt_tcp6(p, R6, L6, 40000, 80, PKT_ACK); pkt_ip6_frag(p, 557, 185, 0))
BUILD(orphan6_hbh, pkt_udp6(p, R6, L6, 5353, 53); pkt_ip6_ext(p, 0, 8);
      pkt_ip6_frag(p, 558, 2, 1))

#define UNF(d, b) { .desc = d, .build = b, .out = UNFILTERED }
#define BY(d, b, r, a) { .desc = d, .build = b, .out = RULES, .rule = r, .allow = a }
#define DROPS(d, b, why) { .desc = d, .build = b, .out = DROP, .reason = why }

static const struct row unfiltered_rows[] = {
	UNF("ARP request", arp),
	UNF("LLDP", lldp),
	UNF("ARP behind an 802.1Q tag", arp_vlan),
	UNF("802.3 frame with a length, not an ethertype", llc_8023),
	UNF("ICMPv6 router solicitation (133)", nd_rs),
	UNF("ICMPv6 router advertisement (134)", nd_ra),
	UNF("ICMPv6 neighbour solicitation (135)", nd_ns),
	UNF("ICMPv6 neighbour advertisement (136)", nd_na),
	UNF("ICMPv6 redirect (137)", nd_redirect),
	UNF("neighbour solicitation behind an 802.1Q tag", nd_ns_vlan),
	BY("fragmented neighbour solicitation is classified", nd_ns_frag, "AllowPing", 1),
	BY("MLD query (130) is not ND: classified", mld_query, "AllowPing", 1),
};

static const struct row classified_rows[] = {
	BY("IPv4 TCP SYN to 80", tcp4_80, "AllowWeb", 1),
	BY("IPv4 TCP SYN to 22", tcp4_22, "DenyAllInBound", 0),
	BY("IPv4 UDP to 53", udp4_53, "AllowDns", 1),
	BY("IPv4 UDP to 54", udp4_54, "DenyAllInBound", 0),
	BY("IPv4 ICMP echo request", icmp4_echo, "AllowPing", 1),
	BY("IPv4 ESP", esp4, "AllowEsp", 1),
	BY("IPv4 AH is the protocol, not walked", ah4, "AllowAh", 1),
	BY("IPv4 GRE", gre4, "DenyAllInBound", 0),
	BY("IPv4 with DF set is not a fragment", df4_tcp_80, "AllowWeb", 1),
	BY("802.1Q tag, TCP to 80", vlan1_tcp4_80, "AllowWeb", 1),
	BY("802.1Q tag, TCP to 22", vlan1_tcp4_22, "DenyAllInBound", 0),
	BY("802.1ad tag, UDP to 53", vlan1ad_udp4_53, "AllowDns", 1),
	BY("802.1ad + 802.1Q tags, TCP to 80", vlan2_tcp4_80, "AllowWeb", 1),
	BY("two 802.1Q tags, TCP to 22", vlan2q_tcp4_22, "DenyAllInBound", 0),
	BY("IPv4 options (4 bytes), TCP to 80", opts4_tcp_80, "AllowWeb", 1),
	BY("IPv4 options (40 bytes), TCP to 80", opts40_tcp_80, "AllowWeb", 1),
	BY("IPv4 options (40 bytes), TCP to 22", opts40_tcp_22, "DenyAllInBound", 0),
	BY("two tags and IPv4 options, UDP to 53", opts8_udp_53_vlan2, "AllowDns", 1),
	BY("IPv4 first fragment judged by its ports (80)", first_frag4_tcp_80, "AllowWeb", 1),
	BY("IPv4 first fragment judged by its ports (22)", first_frag4_tcp_22, "DenyAllInBound", 0),
	BY("IPv6 TCP SYN to 80", tcp6_80, "AllowWeb", 1),
	BY("IPv6 TCP SYN to 22", tcp6_22, "DenyAllInBound", 0),
	BY("IPv6 UDP to 53", udp6_53, "AllowDns", 1),
	BY("ICMPv6 echo request", icmp6_echo, "AllowPing", 1),
	BY("802.1Q tag, IPv6 TCP to 80", vlan1_tcp6_80, "AllowWeb", 1),
	BY("two tags, IPv6 UDP to 53", vlan2_udp6_53, "AllowDns", 1),
	BY("hop-by-hop, TCP to 80", hbh_tcp6_80, "AllowWeb", 1),
	BY("hop-by-hop, TCP to 22", hbh_tcp6_22, "DenyAllInBound", 0),
	BY("routing header, TCP to 80", rt_tcp6_80, "AllowWeb", 1),
	BY("destination options, UDP to 53", dst_udp6_53, "AllowDns", 1),
	BY("2048-byte destination options, UDP to 53", big_dst_udp6_53, "AllowDns", 1),
	BY("AH walked to TCP 80", ah_tcp6_80, "AllowWeb", 1),
	BY("AH walked to TCP 22", ah_tcp6_22, "DenyAllInBound", 0),
	BY("12-byte AH walked to UDP 53", ah12_udp6_53, "AllowDns", 1),
	BY("AH followed by No Next Header is AH", ah_alone6, "AllowAh", 1),
	BY("IPv6 ESP is not walked", esp6, "AllowEsp", 1),
	BY("hop-by-hop then ESP", hbh_esp6, "AllowEsp", 1),
	BY("destination options then No Next Header", no_next6, "DenyAllInBound", 0),
	BY("IPv6 atomic fragment is a whole packet", atomic_frag6_tcp_80, "AllowWeb", 1),
	BY("IPv6 first fragment judged by its ports (80)", first_frag6_tcp_80, "AllowWeb", 1),
	BY("IPv6 first fragment judged by its ports (22)", first_frag6_tcp_22, "DenyAllInBound", 0),
	BY("chain: hop-by-hop, routing, fragment, dest, AH, dest; TCP 80", chain6_tcp_80, "AllowWeb", 1),
	BY("XNSG_MAX_EXTHDRS extension headers, TCP to 80", ext8_tcp6_80, "AllowWeb", 1),
	BY("XNSG_MAX_EXTHDRS extension headers, TCP to 22", ext8_tcp6_22, "DenyAllInBound", 0),
};

/* A frame shorter than an Ethernet header cannot be tried: the kernel's
 * BPF_PROG_TEST_RUN refuses it (EINVAL) for XDP and TC alike, so a cut
 * inside a VLAN tag stands for XNSG_R_TRUNC_L2. */
static const struct row drop_rows[] = {
	DROPS("three VLAN tags", vlan3, XNSG_R_VLAN_DEPTH),
	DROPS("three VLAN tags around ARP", vlan3_arp, XNSG_R_VLAN_DEPTH),
	DROPS("cut inside the first VLAN tag", trunc_vlan1, XNSG_R_TRUNC_L2),
	DROPS("cut inside the second VLAN tag", trunc_vlan2, XNSG_R_TRUNC_L2),
	DROPS("IPv4 ethertype, no IPv4 header", trunc_ip4_none, XNSG_R_TRUNC_IP4),
	DROPS("IPv4 header cut at 19 bytes", trunc_ip4_19, XNSG_R_TRUNC_IP4),
	DROPS("IPv4 cut inside its options", trunc_ip4_opts, XNSG_R_TRUNC_IP4),
	DROPS("IPv4 behind a tag cut at 10 bytes", trunc_ip4_vlan, XNSG_R_TRUNC_IP4),
	DROPS("IPv4 IHL 4", bad_ihl4, XNSG_R_BAD_IP4),
	DROPS("IPv4 ethertype, version 6", bad_version4, XNSG_R_BAD_IP4),
	DROPS("IPv4 total length 19", bad_totlen4, XNSG_R_BAD_IP4),
	DROPS("IPv4 total length 24 < IHL 7 * 4", bad_totlen4_opts, XNSG_R_BAD_IP4),
	DROPS("IPv6 ethertype, no IPv6 header", trunc_ip6_none, XNSG_R_TRUNC_IP6),
	DROPS("IPv6 header cut at 39 bytes", trunc_ip6_39, XNSG_R_TRUNC_IP6),
	DROPS("IPv6 behind two tags cut at 20 bytes", trunc_ip6_vlan2, XNSG_R_TRUNC_IP6),
	DROPS("IPv6 ethertype, version 4", bad_version6, XNSG_R_TRUNC_IP6),
	DROPS("hop-by-hop cut at 4 bytes", trunc_hbh, XNSG_R_TRUNC_EXTHDR),
	DROPS("16-byte hop-by-hop cut at 12", trunc_hbh_body, XNSG_R_TRUNC_EXTHDR),
	DROPS("routing header cut at 20 of 24", trunc_rt, XNSG_R_TRUNC_EXTHDR),
	DROPS("destination options cut at 6", trunc_dst, XNSG_R_TRUNC_EXTHDR),
	DROPS("fragment header cut at 4", trunc_frag6, XNSG_R_TRUNC_EXTHDR),
	DROPS("AH cut at 16 of 24", trunc_ah, XNSG_R_TRUNC_EXTHDR),
	DROPS("payload length shorter than the chain", short_plen6, XNSG_R_TRUNC_EXTHDR),
	DROPS("XNSG_MAX_EXTHDRS + 1 extension headers", ext9_tcp6, XNSG_R_EXTHDR_DEPTH),
	DROPS("XNSG_MAX_EXTHDRS + 1 with a fragment header last", ext9_frag_tcp6, XNSG_R_EXTHDR_DEPTH),
	DROPS("TCP cut at 10 bytes", trunc_tcp4, XNSG_R_TRUNC_L4),
	DROPS("TCP after a tag and options cut at 19", trunc_tcp4_opts_vlan, XNSG_R_TRUNC_L4),
	DROPS("TCP data offset 4", bad_doff4, XNSG_R_TRUNC_L4),
	DROPS("UDP cut at 6 bytes", trunc_udp4, XNSG_R_TRUNC_L4),
	DROPS("IPv4 length covers 4 UDP bytes, the rest is padding", padded_udp4, XNSG_R_TRUNC_L4),
	DROPS("ICMP cut at 4 bytes", trunc_icmp4, XNSG_R_TRUNC_L4),
	DROPS("IPv6 TCP cut at 19 bytes", trunc_tcp6, XNSG_R_TRUNC_L4),
	DROPS("UDP after hop-by-hop cut at 7", trunc_udp6_hbh, XNSG_R_TRUNC_L4),
	DROPS("ICMPv6 cut at 7 bytes", trunc_icmp6, XNSG_R_TRUNC_L4),
	DROPS("IPv4 first fragment with 8 bytes of TCP", tiny_frag4, XNSG_R_TRUNC_L4),
	DROPS("IPv6 first fragment with 8 bytes of TCP", tiny_frag6, XNSG_R_TRUNC_L4),
	DROPS("IPv4 orphan last fragment (looks like TCP 80)", orphan4, XNSG_R_FRAGMENT),
	DROPS("IPv4 orphan middle fragment", orphan4_more, XNSG_R_FRAGMENT),
	DROPS("IPv6 orphan last fragment (looks like TCP 80)", orphan6, XNSG_R_FRAGMENT),
	DROPS("IPv6 orphan fragment after hop-by-hop", orphan6_hbh, XNSG_R_FRAGMENT),
};

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static void run_table(const struct row *rows, size_t n, enum dp_prog prog, int attach)
{
	struct bpf_env e;

	bpf_env_open(&e, policy_json, "test_parse.json", "eth0", 0);
	bpf_env_bind(&e, "eth0", attach);
	for (size_t i = 0; i < n; i++) {
		dp_test_flush_flows(e.t);
		check(&e, &rows[i], prog);
	}
	bpf_env_close(&e);
}

Test(parse, unfiltered)
{
	run_table(unfiltered_rows, NROWS(unfiltered_rows), DP_PROG_XDP, XNSG_ATTACH_MODE_HOST);
}

Test(parse, classified)
{
	run_table(classified_rows, NROWS(classified_rows), DP_PROG_XDP, XNSG_ATTACH_MODE_HOST);
}

Test(parse, dropped)
{
	run_table(drop_rows, NROWS(drop_rows), DP_PROG_XDP, XNSG_ATTACH_MODE_HOST);
}

/* One classifier serves every hook: the same rows through TC.  TC egress
 * sees what the interface sends; attach "peer" makes that the workload's
 * Inbound, so the expectations are the same. */
static const struct row hook_rows[] = {
	UNF("ARP request", arp),
	UNF("ICMPv6 neighbour solicitation (135)", nd_ns),
	BY("802.1ad + 802.1Q tags, TCP to 80", vlan2_tcp4_80, "AllowWeb", 1),
	BY("IPv4 options (40 bytes), TCP to 22", opts40_tcp_22, "DenyAllInBound", 0),
	BY("chain: hop-by-hop, routing, fragment, dest, AH, dest; TCP 80", chain6_tcp_80, "AllowWeb", 1),
	BY("AH walked to TCP 22", ah_tcp6_22, "DenyAllInBound", 0),
	DROPS("three VLAN tags", vlan3, XNSG_R_VLAN_DEPTH),
	DROPS("IPv4 IHL 4", bad_ihl4, XNSG_R_BAD_IP4),
	DROPS("XNSG_MAX_EXTHDRS + 1 extension headers", ext9_tcp6, XNSG_R_EXTHDR_DEPTH),
	DROPS("routing header cut at 20 of 24", trunc_rt, XNSG_R_TRUNC_EXTHDR),
	DROPS("TCP cut at 10 bytes", trunc_tcp4, XNSG_R_TRUNC_L4),
	DROPS("IPv6 orphan last fragment (looks like TCP 80)", orphan6, XNSG_R_FRAGMENT),
};

Test(parse, tc_ingress)
{
	run_table(hook_rows, NROWS(hook_rows), DP_PROG_TC_INGRESS, XNSG_ATTACH_MODE_HOST);
}

Test(parse, tc_egress)
{
	run_table(hook_rows, NROWS(hook_rows), DP_PROG_TC_EGRESS, XNSG_ATTACH_MODE_PEER);
}

Test(parse, xdp_hook_rows)
{
	run_table(hook_rows, NROWS(hook_rows), DP_PROG_XDP, XNSG_ATTACH_MODE_HOST);
}
