// SPDX-License-Identifier: MIT
/*
 * The lookup the BPF classifier performs (bpf/classify.h), done in
 * userspace over the compiled tables, so the compiler's tests can check
 * tables against the reference evaluator without loading a program.
 */
#include <string.h>

#include "addr.h"
#include "compile.h"

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

uint16_t compiled_dir6(const struct compiled *c, uint16_t e, const uint8_t *addr,
		       struct dir6_walk *w)
{
	struct dir6_walk dummy;
	uint64_t a[2];

	w = w ? w : &dummy;
	memset(w, 0, sizeof(*w));
	memcpy(a, addr, sizeof(a));
	for (int i = 0; i < XNSG_DIR6_DEPTH; i++) {
		const struct xnsg_dir6_node *n;

		if (e < XNSG_DIR4_PTR || e == XNSG_DIR4_TRIE)
			return e;
		if ((size_t)(e - XNSG_DIR4_PTR) >= c->ndir6)
			return XNSG_DIR4_TRIE;
		n = &c->dir6[e - XNSG_DIR4_PTR];
		w->reads++;
		if (((a[0] & n->mask[0]) ^ n->key[0]) | ((a[1] & n->mask[1]) ^ n->key[1])) {
			w->missed = true;
			return n->miss;
		}
		w->skipped = w->skipped || n->pos > w->pos + (i ? 1 : 0);
		w->pos = n->pos;
		e = n->e[addr[n->pos & 15]];
	}
	return e < XNSG_DIR4_PTR ? e : XNSG_DIR4_TRIE;
}

/* Longest-prefix match over a table's entries of one family: they are
 * sorted by (field, address, length), so each length is a binary search. */
static uint16_t addr_class(const struct compiled *c, const struct compiled_table *t, int field,
			   const struct xnsg_addr *a)
{
	const struct lpm_entry *v = a->family == XNSG_V4 ? t->lpm4 : t->lpm6;
	size_t n = a->family == XNSG_V4 ? t->nlpm4 : t->nlpm6;
	int bits = a->family == XNSG_V4 ? 32 : 128;

	if (a->family == XNSG_V6) {
		uint16_t d = compiled_dir6(c, t->desc.dir6_root[field], a->bytes, NULL);

		if (d < XNSG_DIR4_PTR)
			return d;
	}
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
	const __u64 *dsum;
	const struct compiled_table *ct;
	uint16_t cls[5];

	if (t >= c->ntables)
		return -1;
	ct = &c->tables[t];
	cls[0] = addr_class(c, ct, XNSG_FIELD_SRC, src);
	cls[1] = addr_class(c, ct, XNSG_FIELD_DST, dst);
	if (ipproto == 6 || ipproto == 17) {
		uint16_t port[2] = { sport, dport };

		for (int f = 0; f < 2; f++) {
			if (ct->desc.port_class[f] != XNSG_NO_CLASS) {
				cls[2 + f] = ct->desc.port_class[f];
				continue;
			}
			if (ct->desc.portmap[f] >= c->nportmaps)
				return -1;
			cls[2 + f] = c->portmaps[ct->desc.portmap[f]][port[f]];
		}
		cls[4] = ct->desc.l4_class[ipproto == 17];
	} else {
		cls[2] = cls[3] = ct->desc.noport_class;
		cls[4] = ct->proto_class[ipproto];
	}
	for (int i = 0; i < 5; i++) {
		if (cls[i] >= c->nclasses)
			return -1;
		b[i] = &c->classes[cls[i]];
	}
	/* Only words the summaries name as non-zero in all five are ANDed;
	 * the destination port's summary is that of its packet's protocol. */
	dsum = ipproto == 6 || ipproto == 17 ? b[3]->l4sum[ipproto == 17] : b[3]->summary;
	for (int s = 0; s < XNSG_SUMMARY_WORDS; s++) {
		uint64_t m = b[0]->summary[s] & b[1]->summary[s] & b[2]->summary[s] & dsum[s] &
			     b[4]->summary[s];

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
