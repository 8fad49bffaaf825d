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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "parser.h"
#include "policy.h"
#include "thread.h"

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

/* A side's addresses: sorted, merged intervals per family ([0] IPv4).
 * Most sides hold one interval a family, kept in one[] (no allocation);
 * a side of the Internet tag alone borrows the context's set. */
struct ivset {
	struct interval *v[2];
	size_t n[2];
	bool borrowed;
	struct interval one[2];
};

/* A rule as the comparisons need it, computed once, in place (ports[]
 * and the sets may point into the struct itself). */
struct lint_rule {
	const struct rule *r;
	unsigned protos;
	struct ivset src, dst;
	struct interval *ports[2]; /* source, destination ports: sorted, merged ('*': 0-65535) */
	size_t nports[2];
	bool any_port[2];          /* the field is '*' */
	struct interval port1[2];  /* ports[d] when it holds one range */
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

/* v[0..n) sorted and merged where they overlap or touch; the new count. */
static size_t intervals_merge(struct interval *v, size_t n)
{
	size_t m = 0, k = 1;

	if (!n)
		return 0;
	/* Tags come sorted (Azure's 100,000 prefixes): nothing to sort. */
	while (k < n && v[k - 1].lo <= v[k].lo)
		k++;
	if (k < n)
		qsort(v, n, sizeof(*v), interval_cmp);
	for (size_t i = 1; i < n; i++) {
		if (v[m].hi == ~(u128)0 || v[i].lo <= v[m].hi + 1) {
			if (v[i].hi > v[m].hi)
				v[m].hi = v[i].hi;
		} else {
			v[++m] = v[i];
		}
	}
	return m + 1;
}

/* Room for n intervals of family f: one[f] for one, else allocated. */
static struct interval *ivset_room(struct ivset *s, int f, size_t n)
{
	s->v[f] = n <= 1 ? &s->one[f] : xcalloc(n, sizeof(*s->v[f]));
	return s->v[f];
}

static void ivset_free(struct ivset *s)
{
	for (int f = 0; f < 2; f++)
		if (!s->borrowed && s->v[f] != &s->one[f])
			free(s->v[f]);
}

/* The Internet tag's addresses as a set (inet), computed once a check. */
static void internet_set(const struct prefix_list *l, struct ivset *inet)
{
	size_t n[2] = { 0, 0 };

	memset(inet, 0, sizeof(*inet));
	for (size_t i = 0; i < l->n; i++)
		n[l->v[i].family != XNSG_V4]++;
	for (int f = 0; f < 2; f++)
		ivset_room(inet, f, n[f]);
	for (size_t i = 0; i < l->n; i++) {
		int f = l->v[i].family != XNSG_V4;

		inet->v[f][inet->n[f]++] = prefix_interval(&l->v[i]);
	}
	for (int f = 0; f < 2; f++)
		inet->n[f] = intervals_merge(inet->v[f], inet->n[f]);
}

static void side_set(const struct addr_side *side, const struct ivset *inet, struct ivset *s)
{
	size_t n[2] = { 0, 0 };

	memset(s, 0, sizeof(*s));
	if (side->any) {
		s->one[0] = (struct interval){ 0, 0xffffffffu };
		s->one[1] = (struct interval){ 0, ~(u128)0 };
		s->v[0] = &s->one[0];
		s->v[1] = &s->one[1];
		s->n[0] = s->n[1] = 1;
		return;
	}
	if (side->internet && !side->prefixes.n) {
		*s = *inet;
		s->borrowed = true;
		return;
	}
	for (size_t i = 0; i < side->prefixes.n; i++)
		n[side->prefixes.v[i].family != XNSG_V4]++;
	for (int f = 0; f < 2; f++) {
		struct interval *v = ivset_room(s, f, n[f] + (side->internet ? inet->n[f] : 0));

		for (size_t i = 0; i < side->prefixes.n; i++)
			if ((side->prefixes.v[i].family != XNSG_V4) == f)
				v[s->n[f]++] = prefix_interval(&side->prefixes.v[i]);
		if (side->internet) {
			memcpy(v + s->n[f], inet->v[f], inet->n[f] * sizeof(*v));
			s->n[f] += inet->n[f];
		}
		s->n[f] = intervals_merge(v, s->n[f]);
	}
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

/* e's ports of field d ('*' or merged ranges) hold every range of r's. */
static bool ports_cover(const struct lint_rule *e, const struct lint_rule *r, int d)
{
	if (e->any_port[d])
		return true;
	if (r->any_port[d])
		return false;
	for (size_t i = 0; i < r->nports[d]; i++)
		if (!interval_inside(e->ports[d], e->nports[d], &r->ports[d][i]))
			return false;
	return true;
}

static void lint_rule_init(struct lint_rule *l, const struct rule *r, const struct ivset *inet)
{
	memset(l, 0, sizeof(*l));
	l->r = r;
	l->protos = proto_set(r);
	side_set(&r->src, inet, &l->src);
	side_set(&r->dst, inet, &l->dst);
	for (int d = 0; d < 2; d++) {
		const struct port_list *pl = d ? &r->dport : &r->sport;
		size_t n = pl->any ? 1 : pl->n;

		l->any_port[d] = pl->any;
		l->ports[d] = n <= 1 ? &l->port1[d] : xcalloc(n, sizeof(*l->ports[d]));
		l->nports[d] = n;
		if (pl->any)
			l->ports[d][0] = (struct interval){ 0, 65535 };
		for (size_t i = 0; i < n && !pl->any; i++)
			l->ports[d][i] = (struct interval){ pl->v[i].lo, pl->v[i].hi };
		l->nports[d] = intervals_merge(l->ports[d], n);
	}
}

static void lint_rule_free(struct lint_rule *l)
{
	for (int d = 0; d < 2; d++)
		if (l->ports[d] != &l->port1[d])
			free(l->ports[d]);
	ivset_free(&l->src);
	ivset_free(&l->dst);
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
 * hold: a segment tree over the intervals' distinct bounds.  Node k's rule
 * indexes, ascending, are item[first[k] .. first[k + 1]). */
struct stab {
	u128 *coord;          /* sorted distinct starts and ends + 1 */
	size_t ncoord, size;  /* size: leaves, a power of two >= ncoord */
	uint32_t *first;      /* 2 * size + 1 */
	uint32_t *item;
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

/* v[0..n) ascending: a radix sort by bytes, skipping the bytes all share
 * (an IPv4 or port field differs in 2-5 of its 16). */
static void u128_sort(u128 *v, size_t n)
{
	u128 any = 0, all = ~(u128)0, *tmp, *from = v, *to;
	size_t count[256];

	for (size_t i = 0; i < n; i++) {
		any |= v[i];
		all &= v[i];
	}
	to = tmp = xcalloc(n ? n : 1, sizeof(*tmp));
	for (int b = 0; b < 128; b += 8) {
		u128 *t;

		if (!(uint8_t)((any ^ all) >> b))
			continue;
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(uint8_t)(from[i] >> b)]++;
		for (size_t d = 0, at = 0; d < 256; d++) {
			size_t c = count[d];

			count[d] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++)
			to[count[(uint8_t)(from[i] >> b)]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
	if (from != v)
		memcpy(v, from, n * sizeof(*v));
	free(tmp);
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
	u128_sort(t->coord, t->ncoord);
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

/* A rule's interval as the leaves [a, b) it spans. */
struct span {
	uint32_t a, b, rule;
};

/* Each span's canonical cover of nodes: with fill false, the nodes' entries
 * counted into first[k + 1]; with fill true, the rule placed at
 * first[k]++ (spans in rule order: each node's list ascending). */
static void stab_place(struct stab *t, const struct span *sp, size_t nsp, bool fill)
{
	for (size_t j = 0; j < nsp; j++) {
		size_t a = sp[j].a + t->size, b = sp[j].b + t->size;

		for (; a < b; a /= 2, b /= 2) {
			if (a & 1) {
				if (fill)
					t->item[t->first[a]++] = sp[j].rule;
				else
					t->first[a + 1]++;
				a++;
			}
			if (b & 1) {
				--b;
				if (fill)
					t->item[t->first[b]++] = sp[j].rule;
				else
					t->first[b + 1]++;
			}
		}
	}
}

static void stab_build(struct stab *t, const struct lint_rule *l, size_t n, int f)
{
	struct span *sp = NULL;
	size_t nsp = 0, cap = 0, k;

	memset(t, 0, sizeof(*t));
	t->nrules = n;
	t->whole = field_whole(l, n, f);
	if (t->whole)
		return;
	stab_coords(t, l, n, f);
	for (t->size = 1; t->size < t->ncoord; t->size *= 2)
		;
	for (size_t i = 0; i < n; i++) {
		const struct interval *v = field(&l[i], f, &k);

		if (k > STAB_MAX_INTERVALS) {
			idxlist_add(&t->wide, i);
			continue;
		}
		if (nsp + k > cap) {
			cap = 2 * (nsp + k);
			sp = xrealloc(sp, cap * sizeof(*sp));
		}
		for (size_t j = 0; j < k; j++)
			sp[nsp++] = (struct span){
				(uint32_t)stab_leaf(t, v[j].lo),
				(uint32_t)(v[j].hi == ~(u128)0 ? t->ncoord : stab_leaf(t, v[j].hi + 1)),
				(uint32_t)i };
	}
	t->first = xcalloc(2 * t->size + 1, sizeof(*t->first));
	stab_place(t, sp, nsp, false);
	for (k = 1; k <= 2 * t->size; k++)
		t->first[k] += t->first[k - 1];
	t->item = xcalloc(t->first[2 * t->size] ? t->first[2 * t->size] : 1, sizeof(*t->item));
	stab_place(t, sp, nsp, true);
	/* Each first[k] now holds where node k + 1 starts: shift them back. */
	memmove(t->first + 1, t->first, 2 * t->size * sizeof(*t->first));
	t->first[0] = 0;
	free(sp);
}

static void stab_free(struct stab *t)
{
	free(t->first);
	free(t->item);
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
			n += t->first[k + 1] - t->first[k];
	return n;
}

/* The rules of v[0..n) (ascending) before rule i, appended to out. */
static void take_before(const uint32_t *v, size_t n, size_t i, uint32_t *out, size_t *m)
{
	for (size_t k = 0; k < n && v[k] < i; k++)
		out[(*m)++] = v[k];
}

/* out[0..m) ascending: by insertion for the few a rule usually has. */
static void u32_sort(uint32_t *out, size_t m)
{
	if (m > 32) {
		qsort(out, m, sizeof(*out), u32_cmp);
		return;
	}
	for (size_t i = 1; i < m; i++) {
		uint32_t x = out[i];
		size_t j = i;

		for (; j && out[j - 1] > x; j--)
			out[j] = out[j - 1];
		out[j] = x;
	}
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
	take_before(t->wide.v, t->wide.n, i, out, &m);
	if (leaf < t->ncoord)
		for (k = leaf + t->size; k; k /= 2)
			take_before(t->item + t->first[k], t->first[k + 1] - t->first[k], i, out, &m);
	u32_sort(out, m);
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
	if (!ports_cover(e, r, 0) || !ports_cover(e, r, 1))
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
static void lint_direction(struct ctx *c, const struct nsg *g, enum xnsg_dir dir,
			   const struct ivset *inet)
{
	size_t n, stop = 0;
	const struct rule *rules = nsg_rules(g, dir, &n);
	struct lint_rule *l = xcalloc(n ? n : 1, sizeof(*l));
	uint32_t *cand = xcalloc(n ? n : 1, sizeof(*cand));
	bool out_of_budget = false;
	struct stab ix[NFIELDS];

	for (size_t i = 0; i < n; i++)
		lint_rule_init(&l[i], &rules[i], inet);
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
	struct ivset inet;

	if (!c->have_internet) {
		tags_internet_prefixes(p, &c->internet);
		c->have_internet = true;
	}
	internet_set(&c->internet, &inet);
	for (size_t gi = 0; gi < p->nnsgs; gi++)
		for (int d = 0; d < 2; d++)
			lint_direction(c, &p->nsgs[gi], (enum xnsg_dir)d, &inet);
	ivset_free(&inet);
}

/* ---- beside the caller (POLICY_LINT_BESIDE) --------------------------- */

struct policy_lint_run {
	pthread_t thread;
	bool running;      /* ... and not joined */
	struct ctx c;      /* the policy, these diagnostics, the Internet prefixes */
	struct diag_list d;
};

static void *lint_run(void *arg)
{
	check_shadowing(&((struct policy_lint_run *)arg)->c);
	return NULL;
}

void check_shadowing_beside(struct ctx *c)
{
	struct policy_lint_run *l = xcalloc(1, sizeof(*l));

	l->c.p = c->p;
	l->c.d = &l->d;
	l->c.internet = c->internet;
	l->c.have_internet = c->have_internet;
	memset(&c->internet, 0, sizeof(c->internet));
	c->have_internet = false;
	c->p->lint = l;
	l->running = !thread_beside(&l->thread, lint_run, l);
	if (!l->running) /* no thread: here, as POLICY_LINT_NOW */
		check_shadowing(&l->c);
}

void policy_lint_join(struct policy *p, struct diag_list *d)
{
	struct policy_lint_run *l = p ? p->lint : NULL;

	if (!l)
		return;
	if (l->running)
		pthread_join(l->thread, NULL);
	diag_move(d, &l->d);
	prefix_list_free(&l->c.internet);
	free(l);
	p->lint = NULL;
}
