// SPDX-License-Identifier: MIT
/*
 * The reference evaluator: docs/DESIGN.md §2 read literally, one rule at a time.
 *
 * It is the oracle the BPF classifier is tested against, so it is written
 * to be obviously correct rather than fast: linear scans over rules and
 * prefixes, tags decided from their definitions.  It shares the policy
 * model with the compiler and nothing else.
 */
#include <string.h>

#include "addr.h"
#include "eval.h"
#include "policy.h"

#define IPPROTO_NUM_ICMP 1
#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17
#define IPPROTO_NUM_ESP 50
#define IPPROTO_NUM_AH 51
#define IPPROTO_NUM_ICMPV6 58

static bool proto_matches(enum xnsg_proto rp, uint8_t ipproto)
{
	switch (rp) {
	case XNSG_PROTO_ANY:
		return true;
	case XNSG_PROTO_TCP:
		return ipproto == IPPROTO_NUM_TCP;
	case XNSG_PROTO_UDP:
		return ipproto == IPPROTO_NUM_UDP;
	case XNSG_PROTO_ICMP: /* docs/DESIGN.md §2: Icmp matches ICMP and ICMPv6 */
		return ipproto == IPPROTO_NUM_ICMP || ipproto == IPPROTO_NUM_ICMPV6;
	case XNSG_PROTO_ESP:
		return ipproto == IPPROTO_NUM_ESP;
	case XNSG_PROTO_AH:
		return ipproto == IPPROTO_NUM_AH;
	}
	return false;
}

static bool has_ports(uint8_t ipproto)
{
	return ipproto == IPPROTO_NUM_TCP || ipproto == IPPROTO_NUM_UDP;
}

/* Whether a is in one of the textual special-purpose ranges. */
static bool in_special(const char *const *ranges, const struct xnsg_addr *a)
{
	struct xnsg_prefix p;

	for (size_t i = 0; ranges[i]; i++)
		if (!prefix_parse(ranges[i], &p, NULL) && prefix_contains(&p, a))
			return true;
	return false;
}

/*
 * Internet = every address outside VirtualNetwork and the special-purpose
 * ranges (docs/DESIGN.md §2).  Decided from that definition, not from the complement
 * prefixes tags.c computes for the compiler, so a bug there shows up as a
 * disagreement between the two.
 */
bool eval_in_internet(const struct policy *p, const struct xnsg_addr *a)
{
	if (prefix_list_contains(&p->virtual_network, a))
		return false;
	return !in_special(a->family == XNSG_V4 ? xnsg_special_v4 : xnsg_special_v6, a);
}

static bool side_matches(const struct policy *p, const struct addr_side *s,
			 const struct xnsg_addr *a)
{
	if (s->any)
		return true;
	/* prefix_contains() compares families: 0.0.0.0/0 never holds IPv6. */
	if (prefix_list_contains(&s->prefixes, a))
		return true;
	return s->internet && eval_in_internet(p, a);
}

bool eval_rule_matches(const struct policy *p, const struct rule *r, uint8_t ipproto,
		       const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport)
{
	if (!proto_matches(r->proto, ipproto))
		return false;
	/* A rule that restricts ports matches only TCP and UDP (docs/DESIGN.md §2). */
	if ((!r->sport.any || !r->dport.any) && !has_ports(ipproto))
		return false;
	return side_matches(p, &r->src, src) && port_list_contains(&r->sport, sport) &&
	       side_matches(p, &r->dst, dst) && port_list_contains(&r->dport, dport);
}

/* The index into g->rules of the first rule of direction dir matching. */
static int first_match(const struct policy *p, const struct nsg *g, enum xnsg_dir dir,
		       uint8_t ipproto, const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport)
{
	size_t n;
	const struct rule *rules = nsg_rules(g, dir, &n);

	for (size_t i = 0; i < n; i++)
		if (eval_rule_matches(p, &rules[i], ipproto, src, sport, dst, dport))
			return (int)(&rules[i] - g->rules);
	return -1;
}

void eval_flow(const struct policy *p, const struct eval_query *q, struct eval_result *r)
{
	const struct iface *ifc = &p->ifaces[q->iface];
	const struct xnsg_addr *src, *dst;
	uint16_t sport, dport;
	int subnet_nsg = ifc->subnet >= 0 ? p->subnets[ifc->subnet].nsg : -1;
	int last_with_nsg = -1;

	memset(r, 0, sizeof(*r));
	if (q->dir == XNSG_IN) {
		src = &q->remote, sport = q->rport;
		dst = &q->local, dport = q->lport;
	} else {
		src = &q->local, sport = q->lport;
		dst = &q->remote, dport = q->rport;
	}
	/* Ports exist only for TCP and UDP; anything else carries none. */
	if (!has_ports(q->ipproto))
		sport = dport = 0;

	/* Inbound: subnet, then NIC.  Outbound: NIC, then subnet. */
	r->level[0].scope = q->dir == XNSG_IN ? EVAL_SUBNET : EVAL_NIC;
	r->level[1].scope = q->dir == XNSG_IN ? EVAL_NIC : EVAL_SUBNET;
	r->allow = true;
	r->decisive = -1;
	for (int i = 0; i < 2; i++) {
		struct eval_level *l = &r->level[i];

		l->nsg = l->scope == EVAL_SUBNET ? subnet_nsg : ifc->nsg;
		l->rule = -1;
		l->allow = true; /* a level without an NSG allows everything */
		if (l->nsg < 0)
			continue;
		l->rule = first_match(p, &p->nsgs[l->nsg], q->dir, q->ipproto,
				      src, sport, dst, dport);
		/* Every NSG ends in DenyAll; should nothing match, fail closed. */
		l->allow = l->rule >= 0 && p->nsgs[l->nsg].rules[l->rule].allow;
		last_with_nsg = i;
		/* Every level is evaluated, even after a deny, so verify can
		 * show each level's opinion; the first deny decides. */
		if (!l->allow && r->allow) {
			r->allow = false;
			r->decisive = i;
		}
	}
	if (r->allow)
		r->decisive = last_with_nsg;
}
