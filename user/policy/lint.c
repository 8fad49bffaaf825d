// SPDX-License-Identifier: MIT
/*
 * Rules that can never match: advisory warnings, run once a policy has
 * loaded without errors.  A rule is reported when it restricts ports but
 * its protocol carries none, when a side holds no address, or when it is
 * shadowed.  Shadowing is a single-rule check: a rule is reported when one
 * earlier rule of the same NSG and direction covers its protocol, ports
 * and addresses, each address prefix inside a single prefix of that rule.
 * Coverage needing the union of several rules or prefixes is not found.
 * The work is capped (POLICY_SHADOW_BUDGET) so `check` stays quick.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "parser.h"
#include "policy.h"

#define PROTO_BIT(p) (1u << (p))
#define PROTO_OTHER_BIT (1u << 7)
#define PROTO_ALL_BITS                                                               \
	(PROTO_BIT(XNSG_PROTO_TCP) | PROTO_BIT(XNSG_PROTO_UDP) | PROTO_BIT(XNSG_PROTO_ICMP) | \
	 PROTO_BIT(XNSG_PROTO_ESP) | PROTO_BIT(XNSG_PROTO_AH) | PROTO_OTHER_BIT)

/* The IP protocols a rule can match: a port-restricted rule only TCP/UDP. */
static unsigned proto_set(const struct rule *r)
{
	unsigned s = r->proto == XNSG_PROTO_ANY ? PROTO_ALL_BITS : PROTO_BIT(r->proto);

	if (!r->sport.any || !r->dport.any)
		s &= PROTO_BIT(XNSG_PROTO_TCP) | PROTO_BIT(XNSG_PROTO_UDP);
	return s;
}

static bool ports_cover(const struct port_list *e, const struct port_list *r)
{
	struct port_range *m;
	size_t n;
	bool ok = true;

	if (e->any)
		return true;
	if (r->any)
		return false;
	n = port_list_merged(e, &m);
	for (size_t i = 0; i < r->n && ok; i++) {
		bool in = false;

		for (size_t k = 0; k < n && !in; k++)
			in = m[k].lo <= r->v[i].lo && r->v[i].hi <= m[k].hi;
		ok = in;
	}
	free(m);
	return ok;
}

/* q lies inside one prefix of side e (or its Internet expansion). */
static bool side_holds(struct ctx *c, const struct addr_side *e, const struct xnsg_prefix *q)
{
	/* Out of budget: claim nothing rather than keep `check` waiting. */
	if (c->shadow_work > POLICY_SHADOW_BUDGET)
		return false;
	c->shadow_work += e->prefixes.n + 1;
	for (size_t i = 0; i < e->prefixes.n; i++)
		if (prefix_covers(&e->prefixes.v[i], q))
			return true;
	if (e->internet) {
		c->shadow_work += c->internet.n;
		for (size_t i = 0; i < c->internet.n; i++)
			if (prefix_covers(&c->internet.v[i], q))
				return true;
	}
	return false;
}

/* Every address r matches, e matches too (single-prefix containment). */
static bool side_covers(struct ctx *c, const struct addr_side *e, const struct addr_side *r)
{
	if (e->any)
		return true;
	if (r->any) {
		struct xnsg_prefix all4, all6;

		prefix_parse("0.0.0.0/0", &all4, NULL);
		prefix_parse("::/0", &all6, NULL);
		return side_holds(c, e, &all4) && side_holds(c, e, &all6);
	}
	if (r->internet && !e->internet)
		for (size_t i = 0; i < c->internet.n; i++)
			if (!side_holds(c, e, &c->internet.v[i]))
				return false;
	for (size_t i = 0; i < r->prefixes.n; i++)
		if (!side_holds(c, e, &r->prefixes.v[i]))
			return false;
	return true;
}

static bool side_empty(const struct addr_side *s)
{
	return !s->any && !s->internet && !s->prefixes.n;
}

static char *labels_str(const struct addr_side *s)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < s->nlabels; i++)
		len += strlen(s->labels[i]) + 1;
	out = xcalloc(1, len);
	for (size_t i = 0; i < s->nlabels; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, s->labels[i]);
	}
	return out;
}

static void check_never_match(struct ctx *c, const struct rule *r, const struct rule *first)
{
	const struct addr_side *sides[2] = { &r->src, &r->dst };

	if (!proto_set(r)) {
		pwarn(c, r->path, "rule %s can never match: it restricts ports, which only Tcp "
		      "and Udp carry, and its protocol is %s", r->name, proto_name(r->proto));
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (side_empty(sides[i])) {
			char *l = labels_str(sides[i]);

			pwarn(c, r->path, "rule %s can never match: its %s (%s) holds no address",
			      r->name, i ? "destination" : "source", l);
			free(l);
			return;
		}
	}
	for (const struct rule *e = first; e < r; e++) {
		if (c->shadow_work > POLICY_SHADOW_BUDGET)
			return;
		if ((proto_set(r) & ~proto_set(e)) || side_empty(&e->src) || side_empty(&e->dst))
			continue;
		c->shadow_work += e->sport.n + e->dport.n + 1;
		if (!ports_cover(&e->sport, &r->sport) || !ports_cover(&e->dport, &r->dport))
			continue;
		if (!side_covers(c, &e->src, &r->src) || !side_covers(c, &e->dst, &r->dst))
			continue;
		pwarn(c, r->path, "rule %s can never match: shadowed by %s (priority %d)",
		      r->name, e->name, e->priority);
		return;
	}
}

void check_shadowing(struct ctx *c)
{
	struct policy *p = c->p;

	if (!c->have_internet) {
		tags_internet_prefixes(p, &c->internet);
		c->have_internet = true;
	}
	for (size_t gi = 0; gi < p->nnsgs; gi++) {
		const struct nsg *g = &p->nsgs[gi];

		for (int d = 0; d < 2; d++) {
			size_t n;
			const struct rule *rules = nsg_rules(g, (enum xnsg_dir)d, &n);

			for (size_t i = 0; i < n; i++)
				if (!rules[i].is_default)
					check_never_match(c, &rules[i], rules);
		}
	}
}
