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
 * lists.  Nor is every earlier rule compared: a rule that shadows r holds
 * r's first source port, destination port, source and destination address
 * each, so an index per field (a segment tree of the rules' intervals)
 * names the rules holding one such point, and only those of the field
 * naming fewest are compared, in rule order -- the same first shadowing
 * rule a comparison with every earlier one finds, at a cost that follows
 * the near misses, not the square of the rules.  The work is still capped
 * (POLICY_SHADOW_BUDGET) so `check` stays quick; past the cap the rules
 * not compared are named in one warning per NSG direction, never dropped
 * silently.
 */
#include <stdint.h>
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
	struct interval *ports[2]; /* source, destination ports as intervals ('*': 0-65535) */
	size_t nports[2];
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

		size_t k = 1;

		if (!s->n[f])
			continue;
		/* Tags come sorted (Azure's 100,000 prefixes): nothing to sort. */
		while (k < s->n[f] && v[k - 1].lo <= v[k].lo)
			k++;
		if (k < s->n[f])
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
	static const struct xnsg_prefix all4 = { .family = XNSG_V4 }, all6 = { .family = XNSG_V6 };
	size_t cap[2] = { 0, 0 };

	memset(s, 0, sizeof(*s));
	if (side->any) {
		ivset_add(s, cap, &all4);
		ivset_add(s, cap, &all6);
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
	for (int d = 0; d < 2; d++) {
		const struct port_range *v = d ? l->dport : l->sport;
		size_t nv = d ? l->ndport : l->nsport;

		l->nports[d] = v ? nv : 1;
		l->ports[d] = xcalloc(l->nports[d], sizeof(*l->ports[d]));
		for (size_t i = 0; i < nv && v; i++)
			l->ports[d][i] = (struct interval){ v[i].lo, v[i].hi };
		if (!v)
			l->ports[d][0] = (struct interval){ 0, 65535 };
	}
}

static void lint_rule_free(struct lint_rule *l)
{
	free(l->sport);
	free(l->dport);
	free(l->ports[0]);
	free(l->ports[1]);
	for (int f = 0; f < 2; f++) {
		free(l->src.v[f]);
		free(l->dst.v[f]);
	}
}

/* ---- candidates: the rules holding a point ------------------------------ */

/* The fields whose first point a shadowing rule must hold: ports, then
 * addresses per family (the order of field()). */
enum { F_SPORT, F_DPORT, F_SRC4, F_SRC6, F_DST4, F_DST6, NFIELDS };

/* A rule with more intervals than this in a field is listed as holding
 * every point of it (stab.wide): what the index holds stays linear in the
 * rules, whatever a tag's size. */
#define STAB_MAX_INTERVALS 64

struct idxlist {
	uint32_t *v;
	size_t n, cap;
};

/* The rules of one NSG direction by the points of one field their intervals
 * hold: a segment tree over the intervals' distinct bounds. */
struct stab {
	u128 *coord;          /* sorted distinct starts and ends + 1 */
	size_t ncoord, size;  /* size: leaves, a power of two >= ncoord */
	struct idxlist *node; /* 2 * size; rule indexes, ascending */
	struct idxlist wide;  /* rules over STAB_MAX_INTERVALS: candidates for any point */
	size_t nrules;
	bool whole;           /* every rule holds all of the field ('*'): not indexed */
};

static const struct interval *field(const struct lint_rule *l, int f, size_t *n)
{
	const struct ivset *s = f <= F_SRC6 ? &l->src : &l->dst;

	if (f <= F_DPORT) {
		*n = l->nports[f];
		return l->ports[f];
	}
	*n = s->n[(f - F_SRC4) % 2];
	return s->v[(f - F_SRC4) % 2];
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int u128_cmp(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

static void idxlist_add(struct idxlist *l, size_t i)
{
	VEC_GROW(l);
	l->v[l->n++] = (uint32_t)i;
}

/* The leaf whose range holds x: the last bound <= x; ncoord when none. */
static size_t stab_leaf(const struct stab *t, u128 x)
{
	size_t lo = 0, hi = t->ncoord;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->coord[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : t->ncoord;
}

/* The distinct bounds of the intervals of field f (of rules not wide). */
static void stab_coords(struct stab *t, const struct lint_rule *l, size_t n, int f)
{
	size_t cap = 0, m = 0, k;
	const struct interval *v;

	for (size_t i = 0; i < n; i++) {
		v = field(&l[i], f, &k);
		if (k > STAB_MAX_INTERVALS)
			continue;
		if (t->ncoord + 2 * k > cap) {
			cap = 2 * (t->ncoord + 2 * k);
			t->coord = xrealloc(t->coord, cap * sizeof(*t->coord));
		}
		for (size_t j = 0; j < k; j++) {
			t->coord[t->ncoord++] = v[j].lo;
			if (v[j].hi != ~(u128)0)
				t->coord[t->ncoord++] = v[j].hi + 1;
		}
	}
	if (t->ncoord)
		qsort(t->coord, t->ncoord, sizeof(*t->coord), u128_cmp);
	for (size_t i = 0; i < t->ncoord; i++)
		if (!m || t->coord[i] != t->coord[m - 1])
			t->coord[m++] = t->coord[i];
	t->ncoord = m;
}

/* Every rule holds all of field f, as one interval. */
static bool field_whole(const struct lint_rule *l, size_t n, int f)
{
	u128 top = f <= F_DPORT ? 65535 : f == F_SRC4 || f == F_DST4 ? 0xffffffffu : ~(u128)0;
	const struct interval *v;
	size_t k;

	for (size_t i = 0; i < n; i++) {
		v = field(&l[i], f, &k);
		if (k != 1 || v[0].lo || v[0].hi != top)
			return false;
	}
	return true;
}

static void stab_build(struct stab *t, const struct lint_rule *l, size_t n, int f)
{
	memset(t, 0, sizeof(*t));
	t->nrules = n;
	t->whole = field_whole(l, n, f);
	if (t->whole)
		return;
	stab_coords(t, l, n, f);
	for (t->size = 1; t->size < t->ncoord; t->size *= 2)
		;
	t->node = xcalloc(2 * t->size, sizeof(*t->node));
	for (size_t i = 0; i < n; i++) {
		size_t k;
		const struct interval *v = field(&l[i], f, &k);

		if (k > STAB_MAX_INTERVALS) {
			idxlist_add(&t->wide, i);
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			size_t a = stab_leaf(t, v[j].lo) + t->size;
			size_t b = (v[j].hi == ~(u128)0 ? t->ncoord : stab_leaf(t, v[j].hi + 1)) +
				   t->size;

			for (; a < b; a /= 2, b /= 2) { /* the canonical cover of [a, b) */
				if (a & 1)
					idxlist_add(&t->node[a++], i);
				if (b & 1)
					idxlist_add(&t->node[--b], i);
			}
		}
	}
}

static void stab_free(struct stab *t)
{
	for (size_t i = 0; i < 2 * t->size; i++)
		free(t->node[i].v);
	free(t->node);
	free(t->coord);
	free(t->wide.v);
}

/* How many rules hold x (those of wide included); *leaf: x's, or ncoord. */
static size_t stab_count(const struct stab *t, u128 x, size_t *leaf)
{
	size_t n = t->wide.n;

	if (t->whole) {
		*leaf = 0;
		return t->nrules;
	}
	*leaf = stab_leaf(t, x);
	if (*leaf < t->ncoord)
		for (size_t k = *leaf + t->size; k; k /= 2)
			n += t->node[k].n;
	return n;
}

static void take_before(const struct idxlist *l, size_t i, uint32_t *out, size_t *m)
{
	for (size_t k = 0; k < l->n && l->v[k] < i; k++)
		out[(*m)++] = l->v[k];
}

/*
 * The rules before rule i that may shadow it, ascending, into out (room
 * for n): of each field the rules holding i's first point, of the field
 * naming fewest.  Returns how many.
 */
static size_t candidates(const struct stab *ix, const struct lint_rule *l, size_t i,
			 uint32_t *out)
{
	int fields[4] = { F_SPORT, F_DPORT, l[i].src.n[0] ? F_SRC4 : F_SRC6,
			  l[i].dst.n[0] ? F_DST4 : F_DST6 };
	size_t best = SIZE_MAX, leaf = 0, m = 0, k;
	const struct stab *t = NULL;

	for (int f = 0; f < 4; f++) {
		size_t lf, cnt = stab_count(&ix[fields[f]], field(&l[i], fields[f], &k)[0].lo, &lf);

		if (cnt < best) {
			best = cnt;
			t = &ix[fields[f]];
			leaf = lf;
		}
	}
	if (t->whole) {
		for (k = 0; k < i; k++)
			out[m++] = (uint32_t)k;
		return m;
	}
	take_before(&t->wide, i, out, &m);
	if (leaf < t->ncoord)
		for (k = leaf + t->size; k; k /= 2)
			take_before(&t->node[k], i, out, &m);
	qsort(out, m, sizeof(*out), u32_cmp);
	return m;
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

/* Rule i against the earlier rules that may shadow it (cand[0..m)), in
 * order; false when the work budget ran out first. */
static bool shadow_check(struct ctx *c, const struct lint_rule *l, size_t i,
			 const uint32_t *cand, size_t m)
{
	const struct rule *r = l[i].r;

	for (size_t k = 0; k < m; k++) {
		const struct rule *e = l[cand[k]].r;

		if (c->shadow_work > POLICY_SHADOW_BUDGET)
			return false;
		if (!shadows(c, &l[cand[k]], &l[i]))
			continue;
		pwarn(c, r->path, "rule %s can never match: shadowed by %s (priority %d)",
		      r->name, e->name, e->priority);
		break;
	}
	return true;
}

/* One NSG direction's rules (defaults last, never reported). */
static void lint_direction(struct ctx *c, const struct nsg *g, enum xnsg_dir dir)
{
	size_t n, stop = 0;
	const struct rule *rules = nsg_rules(g, dir, &n);
	struct lint_rule *l = xcalloc(n ? n : 1, sizeof(*l));
	uint32_t *cand = xcalloc(n ? n : 1, sizeof(*cand));
	bool out_of_budget = false;
	struct stab ix[NFIELDS];

	for (size_t i = 0; i < n; i++)
		lint_rule_init(c, &l[i], &rules[i]);
	for (int f = 0; f < NFIELDS; f++)
		stab_build(&ix[f], l, n, f);
	for (size_t i = 0; i < n; i++) {
		if (rules[i].is_default || never_matches(c, &l[i]) || out_of_budget || !i)
			continue;
		/* Out of budget: this rule and the rest go unchecked. */
		if (c->shadow_work > POLICY_SHADOW_BUDGET ||
		    !shadow_check(c, l, i, cand, candidates(ix, l, i, cand))) {
			out_of_budget = true;
			stop = i;
		}
	}
	if (out_of_budget && stop < n && !rules[stop].is_default)
		pwarn(c, rules[stop].path, "not checked for shadowing, past the shadow check's "
		      "work budget (POLICY_SHADOW_BUDGET, %llu comparisons): %s rules of %s from "
		      "%s (priority %d) on", POLICY_SHADOW_BUDGET, dir_name(dir), g->name,
		      rules[stop].name, rules[stop].priority);
	for (int f = 0; f < NFIELDS; f++)
		stab_free(&ix[f]);
	for (size_t i = 0; i < n; i++)
		lint_rule_free(&l[i]);
	free(cand);
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
