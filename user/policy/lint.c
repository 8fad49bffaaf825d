// SPDX-License-Identifier: MIT
/*
 * Rules that can never match: advisory warnings, run once a policy has
 * loaded without errors.  A rule is reported when it restricts ports but
 * its protocol carries none, when a side holds no address, or when it is
 * shadowed: one earlier rule of the same NSG and direction matches every
 * packet it matches -- its protocols, its ports, and on each side every
 * address (a tag or an ASG is the set of its prefixes, compared as a set:
 * Sql's prefixes all inside AzureCloud's make a rule on Sql shadowed by
 * one on AzureCloud, whichever prefix holds which).  Coverage needing the
 * union of several rules is not looked for.
 *
 * Each side is made a sorted list of merged address intervals once, so a
 * comparison costs a binary search per interval, not a product of prefix
 * lists.  The work is still capped (POLICY_SHADOW_BUDGET) so `check` stays
 * quick; past the cap the rules not compared are named in one warning per
 * NSG direction, never dropped silently.
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

typedef unsigned __int128 u128;

/* Addresses lo..hi of one family, as 128-bit numbers (IPv4 in the low 32). */
struct interval {
	u128 lo, hi;
};

/* A side's addresses: sorted, merged intervals per family ([0] IPv4). */
struct ivset {
	struct interval *v[2];
	size_t n[2];
};

/* A rule as the comparisons need it, computed once. */
struct lint_rule {
	const struct rule *r;
	unsigned protos;
	struct port_range *sport, *dport; /* merged; NULL when '*' */
	size_t nsport, ndport;
	struct ivset src, dst;
};

/* The IP protocols a rule can match: a port-restricted rule only TCP/UDP. */
static unsigned proto_set(const struct rule *r)
{
	unsigned s = r->proto == XNSG_PROTO_ANY ? PROTO_ALL_BITS : PROTO_BIT(r->proto);

	if (!r->sport.any || !r->dport.any)
		s &= PROTO_BIT(XNSG_PROTO_TCP) | PROTO_BIT(XNSG_PROTO_UDP);
	return s;
}

/* ---- address intervals ------------------------------------------------ */

static struct interval prefix_interval(const struct xnsg_prefix *p)
{
	int bits = p->family == XNSG_V4 ? 32 : 128;
	struct interval iv = { 0, 0 };
	u128 host;

	for (int i = 0; i < bits / 8; i++)
		iv.lo = iv.lo << 8 | p->bytes[i];
	host = p->len >= bits ? 0 : (bits - p->len == 128 ? ~(u128)0
							   : ((u128)1 << (bits - p->len)) - 1);
	iv.hi = iv.lo | host;
	return iv;
}

static int interval_cmp(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void ivset_add(struct ivset *s, size_t *cap, const struct xnsg_prefix *p)
{
	int f = p->family == XNSG_V4 ? 0 : 1;

	if (s->n[f] == cap[f]) {
		cap[f] = cap[f] ? 2 * cap[f] : 8;
		s->v[f] = xrealloc(s->v[f], cap[f] * sizeof(*s->v[f]));
	}
	s->v[f][s->n[f]++] = prefix_interval(p);
}

/* Sort each family and merge what overlaps or touches. */
static void ivset_merge(struct ivset *s)
{
	for (int f = 0; f < 2; f++) {
		struct interval *v = s->v[f];
		size_t m = 0;

		if (!s->n[f])
			continue;
		qsort(v, s->n[f], sizeof(*v), interval_cmp);
		for (size_t i = 1; i < s->n[f]; i++) {
			if (v[m].hi == ~(u128)0 || v[i].lo <= v[m].hi + 1) {
				if (v[i].hi > v[m].hi)
					v[m].hi = v[i].hi;
			} else {
				v[++m] = v[i];
			}
		}
		s->n[f] = m + 1;
	}
}

static void side_set(struct ctx *c, const struct addr_side *side, struct ivset *s)
{
	size_t cap[2] = { 0, 0 };
	struct xnsg_prefix all;

	memset(s, 0, sizeof(*s));
	if (side->any) {
		prefix_parse("0.0.0.0/0", &all, NULL);
		ivset_add(s, cap, &all);
		prefix_parse("::/0", &all, NULL);
		ivset_add(s, cap, &all);
		return;
	}
	for (size_t i = 0; i < side->prefixes.n; i++)
		ivset_add(s, cap, &side->prefixes.v[i]);
	if (side->internet)
		for (size_t i = 0; i < c->internet.n; i++)
			ivset_add(s, cap, &c->internet.v[i]);
	ivset_merge(s);
}

/* iv lies inside one interval of the sorted, merged v[0..n). */
static bool interval_inside(const struct interval *v, size_t n, const struct interval *iv)
{
	size_t lo = 0, hi = n;

	while (lo < hi) { /* the first interval starting after iv->lo */
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].lo <= iv->lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && v[lo - 1].hi >= iv->hi;
}

/* Every address of r lies in e. */
static bool set_covers(struct ctx *c, const struct ivset *e, const struct ivset *r)
{
	for (int f = 0; f < 2; f++) {
		c->shadow_work += r->n[f];
		for (size_t i = 0; i < r->n[f]; i++)
			if (!interval_inside(e->v[f], e->n[f], &r->v[f][i]))
				return false;
	}
	return true;
}

static bool set_empty(const struct ivset *s)
{
	return !s->n[0] && !s->n[1];
}

/* ---- ports ------------------------------------------------------------ */

/* e's merged ranges (NULL: '*') hold every range of r's. */
static bool ports_cover(const struct port_range *e, size_t ne, const struct port_range *r,
			size_t nr)
{
	if (!e)
		return true;
	if (!r)
		return false;
	for (size_t i = 0; i < nr; i++) {
		bool in = false;

		for (size_t k = 0; k < ne && !in; k++)
			in = e[k].lo <= r[i].lo && r[i].hi <= e[k].hi;
		if (!in)
			return false;
	}
	return true;
}

static void lint_rule_init(struct ctx *c, struct lint_rule *l, const struct rule *r)
{
	memset(l, 0, sizeof(*l));
	l->r = r;
	l->protos = proto_set(r);
	if (!r->sport.any)
		l->nsport = port_list_merged(&r->sport, &l->sport);
	if (!r->dport.any)
		l->ndport = port_list_merged(&r->dport, &l->dport);
	side_set(c, &r->src, &l->src);
	side_set(c, &r->dst, &l->dst);
}

static void lint_rule_free(struct lint_rule *l)
{
	free(l->sport);
	free(l->dport);
	for (int f = 0; f < 2; f++) {
		free(l->src.v[f]);
		free(l->dst.v[f]);
	}
}

/* ---- the checks ------------------------------------------------------- */

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

/* Ports on a protocol without them, or a side with no address. */
static bool never_matches(struct ctx *c, const struct lint_rule *l)
{
	const struct rule *r = l->r;
	const struct addr_side *sides[2] = { &r->src, &r->dst };
	const struct ivset *sets[2] = { &l->src, &l->dst };

	if (!l->protos) {
		pwarn(c, r->path, "rule %s can never match: it restricts ports, which only Tcp "
		      "and Udp carry, and its protocol is %s", r->name, proto_name(r->proto));
		return true;
	}
	for (int i = 0; i < 2; i++) {
		if (set_empty(sets[i])) {
			char *lb = labels_str(sides[i]);

			pwarn(c, r->path, "rule %s can never match: its %s (%s) holds no address",
			      r->name, i ? "destination" : "source", lb);
			free(lb);
			return true;
		}
	}
	return false;
}

/* e (earlier) matches every packet r matches. */
static bool shadows(struct ctx *c, const struct lint_rule *e, const struct lint_rule *r)
{
	c->shadow_work++;
	if ((r->protos & ~e->protos) || set_empty(&e->src) || set_empty(&e->dst))
		return false;
	if (!ports_cover(e->sport, e->nsport, r->sport, r->nsport) ||
	    !ports_cover(e->dport, e->ndport, r->dport, r->ndport))
		return false;
	return set_covers(c, &e->src, &r->src) && set_covers(c, &e->dst, &r->dst);
}

/* One NSG direction's rules (defaults last, never reported). */
static void lint_direction(struct ctx *c, const struct nsg *g, enum xnsg_dir dir)
{
	size_t n, stop = 0;
	const struct rule *rules = nsg_rules(g, dir, &n);
	struct lint_rule *l = xcalloc(n ? n : 1, sizeof(*l));
	bool out_of_budget = false;

	for (size_t i = 0; i < n; i++)
		lint_rule_init(c, &l[i], &rules[i]);
	for (size_t i = 0; i < n; i++) {
		if (rules[i].is_default || never_matches(c, &l[i]))
			continue;
		for (size_t j = 0; j < i && !out_of_budget; j++) {
			/* Out of budget: this rule and the rest go unchecked. */
			if (c->shadow_work > POLICY_SHADOW_BUDGET) {
				out_of_budget = true;
				stop = i;
				break;
			}
			if (!shadows(c, &l[j], &l[i]))
				continue;
			pwarn(c, rules[i].path, "rule %s can never match: shadowed by %s "
			      "(priority %d)", rules[i].name, rules[j].name, rules[j].priority);
			break;
		}
	}
	if (out_of_budget && stop < n && !rules[stop].is_default)
		pwarn(c, rules[stop].path, "not checked for shadowing, past the shadow check's "
		      "work budget (POLICY_SHADOW_BUDGET, %llu comparisons): %s rules of %s from "
		      "%s (priority %d) on", POLICY_SHADOW_BUDGET, dir_name(dir), g->name,
		      rules[stop].name, rules[stop].priority);
	for (size_t i = 0; i < n; i++)
		lint_rule_free(&l[i]);
	free(l);
}

void check_shadowing(struct ctx *c)
{
	struct policy *p = c->p;

	if (!c->have_internet) {
		tags_internet_prefixes(p, &c->internet);
		c->have_internet = true;
	}
	for (size_t gi = 0; gi < p->nnsgs; gi++)
		for (int d = 0; d < 2; d++)
			lint_direction(c, &p->nsgs[gi], (enum xnsg_dir)d);
}
