// SPDX-License-Identifier: MIT
/*
 * The compiler: policy model in, classifier tables out (layout and meaning
 * in include/xnsg/abi.h).  A pure function: no syscalls, no maps.
 *
 * Every NSG direction an interface uses becomes a table whose rule i is
 * bit i.  Each packet field value maps to a class, the bitmap of the rules
 * that value satisfies:
 *   addresses  one LPM entry per distinct prefix of a (table, field,
 *              family); its class holds the rules of every prefix covering
 *              it plus the rules with '*'.  Prefixes are sorted so that a
 *              prefix follows all prefixes covering it, and a stack walk
 *              gives each one its covering set: O(n log n), not O(n^2).
 *              The Internet tag is expanded here from tags.c's complement.
 *   ports      a sweep over the rules' range endpoints yields constant
 *              segments; each segment's class fills its ports of a
 *              65536-entry port map.
 *   protocol   256 class ids per table.
 * Identical bitmaps share a class id across the whole policy, identical
 * port maps share a port map id.  A class holding every rule of its table
 * is replaced by the one all-ones class: bits past a table's last rule are
 * never reached (every table ends in a match-all default rule, so the AND
 * of a packet's classes always has a set bit below nrules), and tables of
 * different sizes then share "matches everything" classes and port maps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "compile.h"
#include "policy.h"

_Static_assert(XNSG_MAX_CLASSES <= 65536, "class ids are __u16");
_Static_assert(XNSG_MAX_TABLES < XNSG_NO_TABLE, "table ids are __u16 below XNSG_NO_TABLE");

#define NWORDS(n) (((n) + 63) / 64)
#define PAIR_INTERNET UINT32_MAX /* pseudo-rule of an Internet tag prefix */
#define MAX_DEPTH 130             /* nested prefix lengths: /0../128 */

/* ---- class and port map interning ----------------------------------- */

struct cstate {
	struct compiled *c;
	size_t ccap;
	uint8_t *clen;       /* per class: words up to the last non-zero one */
	uint32_t *slots;     /* open addressing: class id + 1, 0 empty */
	size_t nslots;       /* power of two, at least twice XNSG_MAX_CLASSES */
	uint64_t *pmhash;    /* per port map */
	size_t pmcap;
	int allones;         /* class id of the every-bit class */
	int allones_map;     /* port map id of the all-ones constant map, -1 */
	uint32_t nlpm[2];    /* LPM entries so far: IPv4, IPv6 */
	struct diag_list *d;
};

static uint64_t hash_words(const uint64_t *w, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;

	for (size_t i = 0; i < n; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

/* The class id of bitmap w (nw words, the rest zero), interned; -E2BIG
 * when XNSG_MAX_CLASSES distinct bitmaps already exist. */
static int intern(struct cstate *cs, const uint64_t *w, size_t nw)
{
	struct compiled *c = cs->c;
	struct xnsg_bitmap *b;
	size_t len = nw, i;
	uint64_t h;

	while (len && !w[len - 1])
		len--;
	h = hash_words(w, len);
	for (i = h & (cs->nslots - 1);; i = (i + 1) & (cs->nslots - 1)) {
		uint32_t s = cs->slots[i];

		if (!s)
			break;
		if (cs->clen[s - 1] == len && !memcmp(c->classes[s - 1].w, w, len * sizeof(*w)))
			return (int)(s - 1);
	}
	if (c->nclasses >= XNSG_MAX_CLASSES)
		return -E2BIG;
	if (c->nclasses == cs->ccap) {
		cs->ccap = cs->ccap ? cs->ccap * 2 : 256;
		c->classes = xrealloc(c->classes, cs->ccap * sizeof(*c->classes));
		cs->clen = xrealloc(cs->clen, cs->ccap);
	}
	b = &c->classes[c->nclasses];
	memset(b, 0, sizeof(*b));
	memcpy(b->w, w, len * sizeof(*w));
	for (size_t k = 0; k < len; k++)
		if (w[k])
			b->summary[k / 64] |= 1ULL << (k % 64);
	cs->clen[c->nclasses] = (uint8_t)len;
	cs->slots[i] = (uint32_t)c->nclasses + 1;
	return (int)c->nclasses++;
}

/* ---- one table ------------------------------------------------------ */

struct tctx {
	struct cstate *cs;
	const struct nsg *g;
	struct compiled_table *t;
	const struct rule *rules;
	size_t n;                       /* rules */
	size_t nw;                      /* words holding them */
	uint64_t full[XNSG_RULE_WORDS]; /* every rule of the table */
};

static void limit_diag(struct tctx *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NSG web-nsg Inbound: MSG" at the NSG's JSON path. */
static void limit_diag(struct tctx *tc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(tc->cs->d, DIAG_ERROR, tc->g->path ? tc->g->path : "", "NSG %s %s: %s",
		 tc->g->name, dir_name(tc->t->dir), msg);
}

/* The class of a bitmap of this table; -E2BIG (diagnosed) when full. */
static int tclass(struct tctx *tc, const uint64_t *w, uint16_t *out)
{
	int id;

	if (tc->n && !memcmp(w, tc->full, tc->nw * sizeof(*w)))
		id = tc->cs->allones;
	else
		id = intern(tc->cs, w, tc->nw);
	if (id < 0) {
		limit_diag(tc, "more than XNSG_MAX_CLASSES (%d) distinct rule bitmaps in the policy; "
			   "rebuild with a larger -DXNSG_MAX_CLASSES=N (at most 65536) to raise it",
			   XNSG_MAX_CLASSES);
		return id;
	}
	*out = (uint16_t)id;
	return 0;
}

static inline void setbit(uint64_t *w, size_t i)
{
	w[i / 64] |= 1ULL << (i % 64);
}

static const struct addr_side *side_of(const struct rule *r, int field)
{
	return field == XNSG_FIELD_SRC ? &r->src : &r->dst;
}

static const struct port_list *ports_of(const struct rule *r, int field)
{
	return field == XNSG_FIELD_SRC ? &r->sport : &r->dport;
}

static bool proto_in(enum xnsg_proto rp, unsigned int ipproto)
{
	switch (rp) {
	case XNSG_PROTO_ANY:
		return true;
	case XNSG_PROTO_TCP:
		return ipproto == 6;
	case XNSG_PROTO_UDP:
		return ipproto == 17;
	case XNSG_PROTO_ICMP: /* ICMP and ICMPv6 */
		return ipproto == 1 || ipproto == 58;
	case XNSG_PROTO_ESP:
		return ipproto == 50;
	case XNSG_PROTO_AH:
		return ipproto == 51;
	}
	return false;
}

/* Protocol classes: the numbers some rule names, and the rest. */
static int build_protos(struct tctx *tc)
{
	static const unsigned int named[] = { 1, 6, 17, 50, 51, 58 };
	uint64_t w[XNSG_RULE_WORDS];
	uint16_t other;
	int err;

	memset(w, 0, sizeof(w));
	for (size_t i = 0; i < tc->n; i++)
		if (tc->rules[i].proto == XNSG_PROTO_ANY)
			setbit(w, i);
	err = tclass(tc, w, &other);
	if (err)
		return err;
	for (int p = 0; p < XNSG_PROTOS; p++)
		tc->t->proto_class[p] = other;
	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
		memset(w, 0, sizeof(w));
		for (size_t i = 0; i < tc->n; i++)
			if (proto_in(tc->rules[i].proto, named[k]))
				setbit(w, i);
		err = tclass(tc, w, &tc->t->proto_class[named[k]]);
		if (err)
			return err;
	}
	return 0;
}

/* Allow rules; rules that match packets without ports (both fields '*'). */
static int build_allow_noport(struct tctx *tc)
{
	uint64_t allow[XNSG_RULE_WORDS], noport[XNSG_RULE_WORDS];
	int err;

	memset(allow, 0, sizeof(allow));
	memset(noport, 0, sizeof(noport));
	for (size_t i = 0; i < tc->n; i++) {
		if (tc->rules[i].allow)
			setbit(allow, i);
		if (tc->rules[i].sport.any && tc->rules[i].dport.any)
			setbit(noport, i);
	}
	err = tclass(tc, allow, &tc->t->desc.allow_class);
	if (!err)
		err = tclass(tc, noport, &tc->t->desc.noport_class);
	return err;
}

/* ---- ports ---------------------------------------------------------- */

struct port_event {
	uint32_t pos;  /* first port where the change applies */
	uint32_t rule;
	int32_t delta; /* +1 a range starts, -1 it ended at pos - 1 */
};

static int cmp_event(const void *a, const void *b)
{
	const struct port_event *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The port map id of `map`, shared with an identical one; -E2BIG. */
static int intern_portmap(struct tctx *tc, const uint16_t *map, uint16_t *out)
{
	struct cstate *cs = tc->cs;
	struct compiled *c = cs->c;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < 65536; i++)
		h = (h ^ map[i]) * 1099511628211ULL;
	for (size_t i = 0; i < c->nportmaps; i++)
		if (cs->pmhash[i] == h && !memcmp(c->portmaps[i], map, sizeof(c->portmaps[i]))) {
			*out = (uint16_t)i;
			return 0;
		}
	if (c->nportmaps >= XNSG_MAX_PORTMAPS) {
		limit_diag(tc, "more than XNSG_MAX_PORTMAPS (%d) distinct port maps in the policy; "
			   "rebuild with a larger -DXNSG_MAX_PORTMAPS=N to raise it",
			   XNSG_MAX_PORTMAPS);
		return -E2BIG;
	}
	if (c->nportmaps == cs->pmcap) {
		cs->pmcap = cs->pmcap ? cs->pmcap * 2 : 4;
		c->portmaps = xrealloc(c->portmaps, cs->pmcap * sizeof(*c->portmaps));
		cs->pmhash = xrealloc(cs->pmhash, cs->pmcap * sizeof(*cs->pmhash));
	}
	memcpy(c->portmaps[c->nportmaps], map, sizeof(c->portmaps[0]));
	cs->pmhash[c->nportmaps] = h;
	*out = (uint16_t)c->nportmaps++;
	return 0;
}

/*
 * The port map of one field: sweep the rules' range endpoints in order,
 * keeping per rule how many of its ranges hold the current port (ranges of
 * one rule may overlap); between two endpoints the class is constant.
 */
static int build_portmap(struct tctx *tc, int field)
{
	struct port_event *ev = NULL;
	size_t nev = 0, cap = 0, e = 0;
	uint64_t bits[XNSG_RULE_WORDS];
	uint32_t *count = NULL;
	uint16_t *map = NULL, cls;
	uint32_t pos = 0;
	int err = 0;

	memset(bits, 0, sizeof(bits));
	for (size_t i = 0; i < tc->n; i++) {
		const struct port_list *pl = ports_of(&tc->rules[i], field);

		if (pl->any) {
			setbit(bits, i);
			continue;
		}
		for (size_t k = 0; k < pl->n; k++) {
			if (pl->v[k].lo > pl->v[k].hi)
				continue;
			if (nev + 2 > cap) {
				cap = cap ? cap * 2 : 64;
				ev = xrealloc(ev, cap * sizeof(*ev));
			}
			ev[nev++] = (struct port_event){ pl->v[k].lo, (uint32_t)i, 1 };
			ev[nev++] = (struct port_event){ (uint32_t)pl->v[k].hi + 1, (uint32_t)i, -1 };
		}
	}
	map = xcalloc(65536, sizeof(*map));
	if (!nev) {
		/* No rule restricts this port: one class everywhere, and the
		 * all-ones map is shared by every such table and field. */
		err = tclass(tc, bits, &cls);
		if (!err && cls == tc->cs->allones && tc->cs->allones_map >= 0) {
			tc->t->desc.portmap[field] = (uint16_t)tc->cs->allones_map;
			goto out;
		}
		for (size_t i = 0; !err && i < 65536; i++)
			map[i] = cls;
		if (!err)
			err = intern_portmap(tc, map, &tc->t->desc.portmap[field]);
		if (!err && cls == tc->cs->allones)
			tc->cs->allones_map = tc->t->desc.portmap[field];
		goto out;
	}
	qsort(ev, nev, sizeof(*ev), cmp_event);
	count = xcalloc(tc->n, sizeof(*count));
	while (pos < 65536) {
		uint32_t next;

		for (; e < nev && ev[e].pos == pos; e++) {
			uint32_t r = ev[e].rule;

			count[r] += (uint32_t)ev[e].delta;
			if (count[r])
				setbit(bits, r);
			else
				bits[r / 64] &= ~(1ULL << (r % 64));
		}
		next = e < nev ? ev[e].pos : 65536;
		err = tclass(tc, bits, &cls);
		if (err)
			goto out;
		for (uint32_t p = pos; p < next && p < 65536; p++)
			map[p] = cls;
		pos = next;
	}
	err = intern_portmap(tc, map, &tc->t->desc.portmap[field]);
out:
	free(ev);
	free(count);
	free(map);
	return err;
}

/* ---- addresses ------------------------------------------------------ */

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
		qsort(pv->v, pv->n, sizeof(pv->v[0]), cmp_pair);
}

/* The entry of prefix g, whose rules are cur; /0 is no entry but the
 * class of addresses no entry holds, *any_cls. */
static int lpm_entry(struct tctx *tc, int field, uint8_t family, const struct pfx_pair *g,
		     const uint64_t *cur, struct entry_vec *out, uint16_t *any_cls)
{
	struct lpm_entry *e;
	int err;

	if (g->len == 0)
		return tclass(tc, cur, any_cls);
	VEC_GROW(out);
	e = &out->v[out->n];
	memset(e, 0, sizeof(*e));
	e->prefix.family = family;
	e->prefix.len = g->len;
	memcpy(e->prefix.bytes, g->bytes, sizeof(g->bytes));
	e->field = (uint8_t)field;
	err = tclass(tc, cur, &e->cls);
	if (!err)
		out->n++;
	return err;
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
	struct {
		uint8_t bytes[16];
		uint8_t len;
	} stack[MAX_DEPTH];
	uint64_t base[XNSG_RULE_WORDS], inet_bits[XNSG_RULE_WORDS], cur[XNSG_RULE_WORDS];
	struct pair_vec pv = {};
	bool have_default = false;
	uint64_t *sbits = NULL;
	size_t depth = 0, nw = tc->nw;
	int err = 0;

	lpm_pairs(tc, field, family, inet, &pv, base, inet_bits);
	sbits = xcalloc(MAX_DEPTH * (nw ? nw : 1), sizeof(*sbits));
	for (size_t k = 0, j; k < pv.n; k = j) {
		const struct pfx_pair *g = &pv.v[k];
		const uint64_t *parent;

		for (j = k; j < pv.n && pv.v[j].len == g->len &&
			    !memcmp(pv.v[j].bytes, g->bytes, sizeof(g->bytes)); j++)
			;
		while (depth && !covers(stack[depth - 1].bytes, stack[depth - 1].len, g->bytes, g->len))
			depth--;
		parent = depth ? sbits + (depth - 1) * nw : base;
		memcpy(cur, parent, nw * sizeof(*cur));
		for (size_t m = k; m < j; m++) {
			if (pv.v[m].rule == PAIR_INTERNET)
				for (size_t w = 0; w < nw; w++)
					cur[w] |= inet_bits[w];
			else
				setbit(cur, pv.v[m].rule);
		}
		if (!memcmp(cur, parent, nw * sizeof(*cur)))
			continue; /* adds no rule: the covering entry answers */
		if (depth >= MAX_DEPTH) { /* cannot happen: lengths nest strictly */
			err = -EINVAL;
			break;
		}
		err = lpm_entry(tc, field, family, g, cur, out, any_cls);
		if (err)
			break;
		have_default = have_default || g->len == 0;
		memcpy(stack[depth].bytes, g->bytes, sizeof(g->bytes));
		stack[depth].len = g->len;
		memcpy(sbits + depth * nw, cur, nw * sizeof(*cur));
		depth++;
	}
	if (!err && !have_default)
		err = tclass(tc, base, any_cls);
	free(sbits);
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
static void dir4_fill(uint16_t *level, uint32_t lo, unsigned int end, unsigned int len, uint16_t cls)
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

static int build_addresses(struct tctx *tc, const struct prefix_list *inet)
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

static int build_table(struct cstate *cs, const struct policy *p, struct compiled_table *t,
		       const struct prefix_list *inet)
{
	struct tctx tc = { .cs = cs, .g = &p->nsgs[t->nsg], .t = t };
	int err;

	tc.rules = nsg_rules(tc.g, t->dir, &tc.n);
	if (tc.n > XNSG_MAX_RULES) {
		limit_diag(&tc, "%zu rules (defaults included) exceed XNSG_MAX_RULES (%d); rebuild "
			   "with -DXNSG_RULE_WORDS=%zu to raise it", tc.n, XNSG_MAX_RULES,
			   NWORDS(tc.n));
		return -E2BIG;
	}
	tc.nw = NWORDS(tc.n);
	memset(tc.full, 0, sizeof(tc.full));
	for (size_t i = 0; i < tc.n; i++)
		setbit(tc.full, i);

	t->nrules = (uint32_t)tc.n;
	t->rules = xcalloc(tc.n ? tc.n : 1, sizeof(*t->rules));
	for (size_t i = 0; i < tc.n; i++)
		t->rules[i] = &tc.rules[i];
	t->desc.nrules = (uint32_t)tc.n;
	t->desc.rule_base = cs->c->nrule_slots;
	t->desc.nsg = (uint16_t)t->nsg;
	t->desc.dir = (uint8_t)t->dir;
	if ((uint64_t)cs->c->nrule_slots + tc.n > XNSG_MAX_RULE_SLOTS) {
		limit_diag(&tc, "the policy's rules need more than XNSG_MAX_RULE_SLOTS (%d) counter "
			   "slots; rebuild with a larger -DXNSG_MAX_RULE_SLOTS=N to raise it",
			   XNSG_MAX_RULE_SLOTS);
		return -E2BIG;
	}
	cs->c->nrule_slots += (uint32_t)tc.n;

	err = build_allow_noport(&tc);
	if (!err)
		err = build_protos(&tc);
	if (!err)
		err = build_portmap(&tc, XNSG_FIELD_SRC);
	if (!err)
		err = build_portmap(&tc, XNSG_FIELD_DST);
	if (!err)
		err = build_addresses(&tc, inet);
	return err;
}

/* ---- the policy ----------------------------------------------------- */

static bool uses_internet(const struct policy *p, const bool *used)
{
	for (size_t g = 0; g < p->nnsgs; g++) {
		if (!used[g])
			continue;
		for (size_t i = 0; i < p->nsgs[g].nrules; i++)
			if (p->nsgs[g].rules[i].src.internet || p->nsgs[g].rules[i].dst.internet)
				return true;
	}
	return false;
}

static int subnet_nsg(const struct policy *p, const struct iface *ifc)
{
	return ifc->subnet >= 0 && (size_t)ifc->subnet < p->nsubnets ? p->subnets[ifc->subnet].nsg
								       : -1;
}

/* used[g]: NSG g is some interface's subnet or NIC NSG. */
static void mark_used(const struct policy *p, bool *used)
{
	for (size_t i = 0; i < p->nifaces; i++) {
		int sn = subnet_nsg(p, &p->ifaces[i]);

		if (sn >= 0 && (size_t)sn < p->nnsgs)
			used[sn] = true;
		if (p->ifaces[i].nsg >= 0 && (size_t)p->ifaces[i].nsg < p->nnsgs)
			used[p->ifaces[i].nsg] = true;
	}
}

/* Tables: both directions of every NSG some interface uses, in NSG order
 * (stable across updates that keep the NSGs); tid[g][dir] their ids. */
static int build_tables(struct cstate *cs, const struct policy *p, const bool *used,
			int (*tid)[2], const struct prefix_list *inet)
{
	struct compiled *c = cs->c;
	int err;

	for (size_t g = 0; g < p->nnsgs; g++) {
		tid[g][0] = tid[g][1] = -1;
		if (!used[g])
			continue;
		for (int dir = XNSG_IN; dir <= XNSG_OUT; dir++) {
			struct compiled_table *t;

			if (c->ntables >= XNSG_MAX_TABLES) {
				diag_add(cs->d, DIAG_ERROR, p->nsgs[g].path ? p->nsgs[g].path : "",
					 "NSG %s %s: interfaces use more than XNSG_MAX_TABLES (%d) NSG "
					 "directions; rebuild with a larger -DXNSG_MAX_TABLES=N to raise it",
					 p->nsgs[g].name, dir_name(dir), XNSG_MAX_TABLES);
				return -E2BIG;
			}
			c->tables = xrealloc(c->tables, (c->ntables + 1) * sizeof(*c->tables));
			t = &c->tables[c->ntables];
			memset(t, 0, sizeof(*t));
			t->nsg = (int)g;
			t->dir = dir;
			tid[g][dir] = (int)c->ntables++;
			err = build_table(cs, p, t, inet);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Each interface's tables in evaluation order: inbound subnet then NIC,
 * outbound NIC then subnet. */
static void build_ifaces(struct compiled *c, const struct policy *p, int (*tid)[2])
{
	c->ifaces = xcalloc(p->nifaces ? p->nifaces : 1, sizeof(*c->ifaces));
	c->nifaces = p->nifaces;
	for (size_t i = 0; i < p->nifaces; i++) {
		const struct iface *ifc = &p->ifaces[i];
		struct xnsg_iface_cfg *cfg = &c->ifaces[i].cfg;
		int sn = subnet_nsg(p, ifc), nic = ifc->nsg;

		if (sn >= (int)p->nnsgs)
			sn = -1;
		if (nic >= (int)p->nnsgs)
			nic = -1;
		c->ifaces[i].iface = (int)i;
		for (int dir = XNSG_IN; dir <= XNSG_OUT; dir++) {
			int first = dir == XNSG_IN ? sn : nic, second = dir == XNSG_IN ? nic : sn;

			cfg->table[dir][0] = first >= 0 ? (uint16_t)tid[first][dir] : XNSG_NO_TABLE;
			cfg->table[dir][1] = second >= 0 ? (uint16_t)tid[second][dir] : XNSG_NO_TABLE;
		}
		cfg->id = (uint32_t)i;
		cfg->attach = ifc->attach == XNSG_ATTACH_PEER ? XNSG_ATTACH_MODE_PEER
							      : XNSG_ATTACH_MODE_HOST;
	}
}

int compile_policy(const struct policy *p, struct compiled **out, struct diag_list *d)
{
	struct cstate cs = { .d = d, .allones_map = -1 };
	struct prefix_list inet = {};
	struct compiled *c;
	int (*tid)[2] = NULL;
	bool *used = NULL;
	uint64_t ones[XNSG_RULE_WORDS];
	int err = 0;

	*out = NULL;
	c = xcalloc(1, sizeof(*c));
	cs.c = c;
	for (cs.nslots = 1; cs.nslots < 2 * (size_t)XNSG_MAX_CLASSES; cs.nslots <<= 1)
		;
	cs.slots = xcalloc(cs.nslots, sizeof(*cs.slots));
	memset(ones, 0xff, sizeof(ones));
	cs.allones = intern(&cs, ones, XNSG_RULE_WORDS);

	used = xcalloc(p->nnsgs + 1, sizeof(*used));
	tid = xcalloc(p->nnsgs + 1, sizeof(*tid));
	mark_used(p, used);
	if (p->nifaces > XNSG_MAX_IFACES) {
		diag_add(d, DIAG_ERROR, "$.interfaces",
			 "%zu interfaces exceed XNSG_MAX_IFACES (%d), from interface %s on; rebuild "
			 "with a larger -DXNSG_MAX_IFACES=N to raise it", p->nifaces,
			 XNSG_MAX_IFACES, p->ifaces[XNSG_MAX_IFACES].name);
		err = -E2BIG;
		goto out;
	}
	if (uses_internet(p, used)) {
		err = tags_internet_prefixes(p, &inet);
		if (err) {
			diag_add(d, DIAG_ERROR, "", "cannot expand the Internet tag: %s",
				 strerror(-err));
			goto out;
		}
	}
	err = build_tables(&cs, p, used, tid, &inet);
	if (!err)
		build_ifaces(c, p, tid);
out:
	prefix_list_free(&inet);
	free(used);
	free(tid);
	free(cs.slots);
	free(cs.clen);
	free(cs.pmhash);
	if (err) {
		compiled_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void compiled_free(struct compiled *c)
{
	if (!c)
		return;
	for (size_t t = 0; t < c->ntables; t++) {
		free(c->tables[t].rules);
		free(c->tables[t].lpm4);
		free(c->tables[t].lpm6);
		free(c->tables[t].dir4[0]);
		free(c->tables[t].dir4[1]);
	}
	free(c->tables);
	free(c->classes);
	free(c->portmaps);
	free(c->dir4_next);
	free(c->ifaces);
	free(c);
}

/* ---- the lookup, as bpf/classify.h does it -------------------------- */

static int cmp_entry(uint8_t field, const uint8_t *bytes, uint8_t len, const struct lpm_entry *e)
{
	int r;

	if (field != e->field)
		return field < e->field ? -1 : 1;
	r = memcmp(bytes, e->prefix.bytes, sizeof(e->prefix.bytes));
	if (r)
		return r;
	return len < e->prefix.len ? -1 : len > e->prefix.len;
}

/* Longest-prefix match over a table's entries of one family: they are
 * sorted by (field, address, length), so each length is a binary search. */
static uint16_t addr_class(const struct compiled *c, const struct compiled_table *t, int field,
			   const struct xnsg_addr *a)
{
	const struct lpm_entry *v = a->family == XNSG_V4 ? t->lpm4 : t->lpm6;
	size_t n = a->family == XNSG_V4 ? t->nlpm4 : t->nlpm6;
	int bits = a->family == XNSG_V4 ? 32 : 128;

	if (a->family == XNSG_V4 && t->dir4[field]) {
		uint16_t d = t->dir4[field][a->bytes[0] << 8 | a->bytes[1]];

		for (int level = 2; d >= XNSG_DIR4_PTR && d != XNSG_DIR4_TRIE && level < 4; level++)
			d = c->dir4_next[d - XNSG_DIR4_PTR][a->bytes[level]];
		if (d < XNSG_DIR4_PTR)
			return d;
	}

	for (int len = bits; len > 0; len--) {
		struct xnsg_prefix m = { .family = a->family, .len = (uint8_t)len };
		size_t lo = 0, hi = n;

		memcpy(m.bytes, a->bytes, sizeof(m.bytes));
		prefix_mask(&m);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int r = cmp_entry((uint8_t)field, m.bytes, m.len, &v[mid]);

			if (!r)
				return v[mid].cls;
			if (r < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return a->family == XNSG_V4 ? t->desc.any4_class[field] : t->desc.any6_class[field];
}

static int ctz64(uint64_t x)
{
	return __builtin_ctzll(x);
}

int compiled_classify(const struct compiled *c, size_t t, uint8_t ipproto,
		      const struct xnsg_addr *src, uint16_t sport,
		      const struct xnsg_addr *dst, uint16_t dport)
{
	const struct xnsg_bitmap *b[5];
	const struct compiled_table *ct;
	uint16_t cls[5];

	if (t >= c->ntables)
		return -1;
	ct = &c->tables[t];
	cls[0] = addr_class(c, ct, XNSG_FIELD_SRC, src);
	cls[1] = addr_class(c, ct, XNSG_FIELD_DST, dst);
	if (ipproto == 6 || ipproto == 17) {
		if (ct->desc.portmap[0] >= c->nportmaps || ct->desc.portmap[1] >= c->nportmaps)
			return -1;
		cls[2] = c->portmaps[ct->desc.portmap[0]][sport];
		cls[3] = c->portmaps[ct->desc.portmap[1]][dport];
	} else {
		cls[2] = cls[3] = ct->desc.noport_class;
	}
	cls[4] = ct->proto_class[ipproto];
	for (int i = 0; i < 5; i++) {
		if (cls[i] >= c->nclasses)
			return -1;
		b[i] = &c->classes[cls[i]];
	}
	/* Only words the summaries name as non-zero in all five are ANDed. */
	for (int s = 0; s < XNSG_SUMMARY_WORDS; s++) {
		uint64_t m = b[0]->summary[s] & b[1]->summary[s] & b[2]->summary[s] &
			     b[3]->summary[s] & b[4]->summary[s];

		for (; m; m &= m - 1) {
			int wi = s * 64 + ctz64(m);
			uint64_t w;

			if (wi >= XNSG_RULE_WORDS)
				break;
			w = b[0]->w[wi] & b[1]->w[wi] & b[2]->w[wi] & b[3]->w[wi] & b[4]->w[wi];
			if (w)
				return wi * 64 + ctz64(w);
		}
	}
	return -1;
}
