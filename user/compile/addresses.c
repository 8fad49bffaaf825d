// SPDX-License-Identifier: MIT
/*
 * Addresses: one LPM entry per distinct prefix of a (table, field,
 * family), whose class holds the rules of every prefix covering it plus
 * the rules with '*'; then the multibit tries the classifier tries before
 * the LPM trie: for IPv4 16-8-8 (xnsg_dir4 in abi.h), for IPv6 trie6.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "build.h"

#define PAIR_INTERNET UINT32_MAX /* pseudo-rule of an Internet tag prefix */
#define MAX_DEPTH 130             /* nested prefix lengths: /0../128 */

struct pfx_pair {
	uint8_t bytes[16];
	uint8_t len;
	uint8_t pad[3];
	uint32_t rule; /* bit, or PAIR_INTERNET */
};

struct pair_vec {
	struct pfx_pair *v;
	size_t n, cap;
};

struct entry_vec {
	struct lpm_entry *v;
	size_t n, cap;
};

static const struct addr_side *side_of(const struct rule *r, int field)
{
	return field == XNSG_FIELD_SRC ? &r->src : &r->dst;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct pfx_pair *x = a, *y = b;
	int r = memcmp(x->bytes, y->bytes, sizeof(x->bytes));

	if (r)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Most runs of pairs come sorted already: a rule's prefixes in address
 * order, a tag's as its file lists them.  Past this many runs, qsort. */
#define SORT_MAX_RUNS 64

/*
 * The pairs sorted by cmp_pair(), which orders every two different pairs
 * (equal ones are the same bytes), so the result is qsort's.  Sorted runs
 * are merged pairwise: a policy whose big tag sits in one rule is two or
 * three runs, merged in O(n) where qsort took n log n comparisons
 * (100,000 pairs: a tenth of an update's CPU); with more runs than
 * SORT_MAX_RUNS, qsort.
 */
static void sort_pairs(struct pair_vec *pv)
{
	size_t run[SORT_MAX_RUNS + 1], nrun = 0, n = pv->n;
	struct pfx_pair *tmp;

	run[nrun++] = 0;
	for (size_t i = 1; i < n; i++)
		if (cmp_pair(&pv->v[i - 1], &pv->v[i]) > 0) {
			if (nrun == SORT_MAX_RUNS) {
				qsort(pv->v, n, sizeof(pv->v[0]), cmp_pair);
				return;
			}
			run[nrun++] = i;
		}
	if (nrun == 1)
		return;
	run[nrun] = n;
	tmp = xcalloc(n, sizeof(*tmp));
	while (nrun > 1) { /* runs r and r + 1 into one, for every even r */
		size_t m = 0;

		for (size_t r = 0; r < nrun; r += 2, m++) {
			size_t lo = run[r], mid = run[r + 1], hi = r + 1 < nrun ? run[r + 2] : mid;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				tmp[k++] = cmp_pair(&pv->v[j], &pv->v[i]) < 0 ? pv->v[j++] : pv->v[i++];
			while (i < mid)
				tmp[k++] = pv->v[i++];
			while (j < hi)
				tmp[k++] = pv->v[j++];
			memcpy(pv->v + lo, tmp + lo, (hi - lo) * sizeof(*tmp));
			run[m] = lo;
		}
		run[m] = n;
		nrun = m;
	}
	free(tmp);
}

static void add_pair(struct pair_vec *pv, const struct xnsg_prefix *p, uint32_t rule)
{
	struct xnsg_prefix m = *p;

	prefix_mask(&m);
	VEC_GROW(pv);
	memset(&pv->v[pv->n], 0, sizeof(pv->v[0]));
	memcpy(pv->v[pv->n].bytes, m.bytes, sizeof(m.bytes));
	pv->v[pv->n].len = m.len;
	pv->v[pv->n].rule = rule;
	pv->n++;
}

/* p (length plen) covers the prefix q of length qlen. */
static bool covers(const uint8_t *p, unsigned int plen, const uint8_t *q, unsigned int qlen)
{
	unsigned int full = plen / 8, rem = plen % 8;

	if (plen > qlen || memcmp(p, q, full))
		return false;
	return !rem || !((p[full] ^ q[full]) & (uint8_t)(0xff00u >> rem));
}

/*
 * The (prefix, rule) pairs of one (field, family), sorted by address then
 * length.  base: the rules with '*' on that side; inet_bits: the rules
 * naming Internet, whose prefixes are paired once, with PAIR_INTERNET.
 */
static void lpm_pairs(struct tctx *tc, int field, uint8_t family, const struct prefix_list *inet,
		      struct pair_vec *pv, uint64_t *base, uint64_t *inet_bits)
{
	bool have_inet = false;

	memset(base, 0, XNSG_RULE_WORDS * sizeof(*base));
	memset(inet_bits, 0, XNSG_RULE_WORDS * sizeof(*inet_bits));
	for (size_t i = 0; i < tc->n; i++) {
		const struct addr_side *s = side_of(&tc->rules[i], field);

		if (s->any) {
			setbit(base, i);
			continue;
		}
		for (size_t k = 0; k < s->prefixes.n; k++)
			if (s->prefixes.v[k].family == family)
				add_pair(pv, &s->prefixes.v[k], (uint32_t)i);
		if (s->internet) {
			setbit(inet_bits, i);
			have_inet = true;
		}
	}
	/* The Internet tag's prefixes once, standing for all its rules. */
	if (have_inet)
		for (size_t k = 0; k < inet->n; k++)
			if (inet->v[k].family == family)
				add_pair(pv, &inet->v[k], PAIR_INTERNET);
	if (pv->n > 1)
		sort_pairs(pv);
}

/* The entry of prefix g with class cls. */
static void lpm_push(int field, uint8_t family, const struct pfx_pair *g, uint16_t cls,
		     struct entry_vec *out)
{
	struct lpm_entry *e;

	VEC_GROW(out);
	e = &out->v[out->n++];
	memset(e, 0, sizeof(*e));
	e->prefix.family = family;
	e->prefix.len = g->len;
	memcpy(e->prefix.bytes, g->bytes, sizeof(g->bytes));
	e->field = (uint8_t)field;
	e->cls = cls;
}

/* The walk of build_lpm(): the chain of prefixes covering the current
 * one, each with its rule set, and what the previous group of pairs (one
 * prefix) was given, so that a sibling with the same parent and the same
 * rules (the /24s of a service tag, say) costs no bitmap work at all. */
struct lpm_walk {
	struct {
		uint8_t bytes[16];
		uint8_t len;
	} stack[MAX_DEPTH];
	uint64_t *sbits; /* MAX_DEPTH x nw: the rule set of each stack entry */
	size_t depth, nw;
	const uint64_t *base, *inet_bits;
	/* the previous group: pairs [pk, pj), the depth of its parent, and
	 * its result (added: it has an entry, of class cls, at that depth) */
	size_t pk, pj, pdepth;
	bool pvalid, padded;
	uint16_t pcls;
};

/* Groups [k, j) and the previous one name the same rules. */
static bool same_rules(const struct pair_vec *pv, const struct lpm_walk *w, size_t k, size_t j)
{
	if (!w->pvalid || j - k != w->pj - w->pk)
		return false;
	for (size_t m = 0; m < j - k; m++)
		if (pv->v[k + m].rule != pv->v[w->pk + m].rule)
			return false;
	return true;
}

/*
 * One group of pairs [k, j) (one prefix g): its rule set is its parent's
 * (the top of the stack) plus its own rules; when that adds nothing the
 * parent's entry answers, else it gets an entry and goes on the stack.
 * After a sibling with the same parent and rules, its set is the
 * sibling's, still in the stack slot the sibling left.
 */
static int lpm_group(struct tctx *tc, int field, uint8_t family, const struct pair_vec *pv,
		     size_t k, size_t j, struct lpm_walk *w, struct entry_vec *out, uint16_t *any_cls)
{
	const struct pfx_pair *g = &pv->v[k];
	const uint64_t *parent;
	uint64_t *cur;
	bool same;
	int err = 0;

	while (w->depth && !covers(w->stack[w->depth - 1].bytes, w->stack[w->depth - 1].len,
				   g->bytes, g->len))
		w->depth--;
	if (w->depth >= MAX_DEPTH) /* cannot happen: lengths nest strictly */
		return -EINVAL;
	cur = w->sbits + w->depth * w->nw;
	same = g->len && w->depth == w->pdepth && same_rules(pv, w, k, j);
	w->pk = k;
	w->pj = j;
	w->pdepth = w->depth;
	w->pvalid = g->len != 0; /* /0 leaves no class in pcls */
	if (same && !w->padded)
		return 0;
	if (!same) {
		parent = w->depth ? w->sbits + (w->depth - 1) * w->nw : w->base;
		memcpy(cur, parent, w->nw * sizeof(*cur));
		for (size_t m = k; m < j; m++) {
			if (pv->v[m].rule == PAIR_INTERNET)
				for (size_t i = 0; i < w->nw; i++)
					cur[i] |= w->inet_bits[i];
			else
				setbit(cur, pv->v[m].rule);
		}
		w->padded = memcmp(cur, parent, w->nw * sizeof(*cur)) != 0;
		if (!w->padded)
			return 0; /* adds no rule: the covering entry answers */
		err = g->len ? tclass(tc, cur, &w->pcls) : tclass(tc, cur, any_cls);
		if (err)
			return err;
	}
	if (g->len) /* /0 is no entry but the class of addresses no entry holds */
		lpm_push(field, family, g, w->pcls, out);
	memcpy(w->stack[w->depth].bytes, g->bytes, sizeof(g->bytes));
	w->stack[w->depth].len = g->len;
	w->depth++;
	return 0;
}

/*
 * The LPM entries of one (field, family) and the class of addresses no
 * entry holds.  Pairs (prefix, rule) sorted by address then length put
 * every prefix after the prefixes covering it, so a stack of the current
 * chain of covering prefixes gives each one its set: its parent's set
 * plus its own rules.  A prefix adding nothing to its parent needs no
 * entry (the parent's entry answers the same); /0 becomes the default.
 */
static int build_lpm(struct tctx *tc, int field, uint8_t family, const struct prefix_list *inet,
		     struct entry_vec *out, uint16_t *any_cls)
{
	uint64_t base[XNSG_RULE_WORDS], inet_bits[XNSG_RULE_WORDS];
	struct lpm_walk *w = xcalloc(1, sizeof(*w));
	struct pair_vec pv = {};
	bool have_default = false;
	int err = 0;

	lpm_pairs(tc, field, family, inet, &pv, base, inet_bits);
	w->nw = tc->nw;
	w->base = base;
	w->inet_bits = inet_bits;
	w->sbits = xcalloc((MAX_DEPTH + 1) * (w->nw ? w->nw : 1), sizeof(*w->sbits));
	for (size_t k = 0, j; k < pv.n && !err; k = j) {
		for (j = k; j < pv.n && pv.v[j].len == pv.v[k].len &&
			    !memcmp(pv.v[j].bytes, pv.v[k].bytes, sizeof(pv.v[k].bytes)); j++)
			;
		err = lpm_group(tc, field, family, &pv, k, j, w, out, any_cls);
		have_default = have_default || (!err && !pv.v[k].len && w->padded);
	}
	if (!err && !have_default)
		err = tclass(tc, base, any_cls);
	free(w->sbits);
	free(w);
	free(pv.v);
	return err;
}

/*
 * The chunk of the IPv4 multibit trie's next level that entry value v
 * points to; when v is a class, a new chunk whose 256 entries all hold it
 * (the longest entry covering them so far).  -1 when v hands its block to
 * the LPM trie or the pool is full.  (Ids, not pointers: the pool moves.)
 */
static int dir4_chunk(struct compiled *c, uint16_t v)
{
	if (v >= XNSG_DIR4_PTR)
		return v == XNSG_DIR4_TRIE ? -1 : v - XNSG_DIR4_PTR;
	if (c->ndir4_next == XNSG_DIR4_POOL)
		return -1;
	if (!(c->ndir4_next & (c->ndir4_next - 1))) /* 0, 1, 2, 4...: double */
		c->dir4_next = xrealloc(c->dir4_next, (c->ndir4_next ? 2 * c->ndir4_next : 1) *
						       sizeof(*c->dir4_next));
	for (int i = 0; i < 256; i++)
		c->dir4_next[c->ndir4_next][i] = v;
	return (int)c->ndir4_next++;
}

/* For a prefix of length len: entries [lo, lo + 2^(end - len)) of the level
 * that ends at address bit `end`. */
static void dir4_fill(uint16_t *level, uint32_t lo, unsigned int end, unsigned int len,
		      uint16_t cls)
{
	for (uint32_t k = 0; k < 1u << (end - len); k++)
		level[lo + k] = cls;
}

/*
 * The IPv4 multibit trie of one field (see xnsg_dir4 in abi.h).  The
 * entries are sorted by (field, address, length), so a prefix comes after
 * every prefix covering it: writing them in that order leaves each slot
 * with its longest covering entry, and a chunk made for a longer prefix
 * starts from what its slot held.  When the pool runs out, the /16 block
 * is handed to the LPM trie, which holds every entry and is always right.
 */
static uint16_t *build_dir4(struct compiled *c, const struct compiled_table *t, int field)
{
	uint16_t *d = xcalloc(65536, sizeof(*d));

	for (size_t h = 0; h < 65536; h++)
		d[h] = t->desc.any4_class[field];
	for (size_t i = 0; i < t->nlpm4; i++) {
		const struct lpm_entry *e = &t->lpm4[i];
		const uint8_t *a = e->prefix.bytes;
		unsigned int len = e->prefix.len;
		uint32_t h = (uint32_t)a[0] << 8 | a[1];
		int n2, n3;

		if (e->field != field)
			continue;
		if (len <= 16) {
			dir4_fill(d, h, 16, len, e->cls);
			continue;
		}
		n2 = dir4_chunk(c, d[h]);
		if (n2 >= 0) {
			d[h] = (uint16_t)(XNSG_DIR4_PTR + n2);
			if (len <= 24) {
				dir4_fill(c->dir4_next[n2], a[2], 24, len, e->cls);
				continue;
			}
			n3 = dir4_chunk(c, c->dir4_next[n2][a[2]]);
			if (n3 >= 0) {
				c->dir4_next[n2][a[2]] = (uint16_t)(XNSG_DIR4_PTR + n3);
				dir4_fill(c->dir4_next[n3], a[3], 32, len, e->cls);
				continue;
			}
		}
		d[h] = XNSG_DIR4_TRIE;
	}
	return d;
}

int build_addresses(struct tctx *tc, const struct prefix_list *inet)
{
	struct entry_vec v4 = {}, v6 = {};
	int err = 0;

	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST && !err; f++) {
		err = build_lpm(tc, f, XNSG_V4, inet, &v4, &tc->t->desc.any4_class[f]);
		if (!err)
			err = build_lpm(tc, f, XNSG_V6, inet, &v6, &tc->t->desc.any6_class[f]);
	}
	tc->t->lpm4 = v4.v;
	tc->t->nlpm4 = v4.n;
	tc->t->lpm6 = v6.v;
	tc->t->nlpm6 = v6.n;
	if (err)
		return err;
	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST; f++)
		tc->t->dir4[f] = build_dir4(tc->cs->c, tc->t, f);
	build_dir6(tc->cs->c, tc->t);
	tc->cs->nlpm[0] += (uint32_t)v4.n;
	tc->cs->nlpm[1] += (uint32_t)v6.n;
	/* A policy must fit the trie alone; whether it also fits beside the
	 * live one is known only when it is written (datapath.c says so). */
	if (tc->cs->nlpm[0] > XNSG_MAX_LPM4) {
		limit_diag(tc, "the policy needs %u IPv4 LPM entries, more than XNSG_MAX_LPM4 (%d); "
			   "rebuild with a larger -DXNSG_MAX_LPM4=N to raise it", tc->cs->nlpm[0],
			   XNSG_MAX_LPM4);
		return -E2BIG;
	}
	if (tc->cs->nlpm[1] > XNSG_MAX_LPM6) {
		limit_diag(tc, "the policy needs %u IPv6 LPM entries, more than XNSG_MAX_LPM6 (%d); "
			   "rebuild with a larger -DXNSG_MAX_LPM6=N to raise it", tc->cs->nlpm[1],
			   XNSG_MAX_LPM6);
		return -E2BIG;
	}
	return 0;
}
