// SPDX-License-Identifier: MIT
/*
 * The IPv6 multibit trie (xnsg_dir6 in abi.h): 8-bit strides, path
 * compressed, leaf-pushed, built from a table's IPv6 LPM entries, which
 * the classifier asks first; the LPM trie (every entry) answers what it
 * hands over (XNSG_DIR4_TRIE), so the structure may give up anywhere and
 * stay exact.
 *
 * A node is put at the longest byte boundary that the entries below it
 * all share (capped at byte 15, so a /128 is an entry of a byte-15 node):
 * its region.  Its entries start as the longest entry covering the region
 * (the one whose length is the boundary, else the class the parent had
 * there); each entry ending within the node's byte fills its slots; the
 * longer entries of one slot make a child.  The entries are sorted by
 * (address, length), so a prefix comes before every prefix it covers:
 * written in order, a slot holds its longest covering entry when a child
 * is made from it, and the entries of one slot that need a child are
 * consecutive.
 */
#include <string.h>

#include "alloc.h"
#include "build.h"

/* Leading bits a and b share (128 when equal). */
static unsigned int common_bits(const uint8_t *a, const uint8_t *b)
{
	for (unsigned int i = 0; i < 16; i++)
		if (a[i] != b[i])
			return i * 8 + (unsigned int)__builtin_clz((unsigned int)(a[i] ^ b[i])) - 24;
	return 128;
}

/* A new node of region bytes[0, pos), every entry `fill`; -1 when the
 * pool is full.  (Ids, not pointers: the pool moves.) */
static int node_new(struct compiled *c, const uint8_t *bytes, unsigned int pos, uint16_t miss,
		    uint16_t fill)
{
	uint8_t key[16] = { 0 }, mask[16] = { 0 };
	struct xnsg_dir6_node *n;

	if (c->ndir6 == XNSG_DIR6_POOL)
		return -1;
	if (!(c->ndir6 & (c->ndir6 - 1))) /* 0, 1, 2, 4...: double */
		c->dir6 = xrealloc(c->dir6, (c->ndir6 ? 2 * c->ndir6 : 1) * sizeof(*c->dir6));
	n = &c->dir6[c->ndir6];
	memset(n, 0, sizeof(*n));
	memcpy(key, bytes, pos);
	memset(mask, 0xff, pos);
	memcpy(n->key, key, sizeof(key));
	memcpy(n->mask, mask, sizeof(mask));
	n->miss = miss;
	n->pos = (uint8_t)pos;
	for (int i = 0; i < 256; i++)
		n->e[i] = fill;
	return (int)c->ndir6++;
}

/*
 * The trie entry for entries v[lo, hi) (at least one), all inside one
 * block and longer than it; outer: the class of the block's addresses
 * that none of them holds; depth: the reads down to the node made here.
 */
static uint16_t trie6_node(struct compiled *c, const struct lpm_entry *v, size_t lo, size_t hi,
			   uint16_t outer, int depth)
{
	unsigned int len = common_bits(v[lo].prefix.bytes, v[hi - 1].prefix.bytes), pos, end;
	uint16_t fill = outer;
	int id;

	if (depth > XNSG_DIR6_DEPTH)
		return XNSG_DIR4_TRIE;
	for (size_t i = lo; i < hi; i++)
		if (v[i].prefix.len < len)
			len = v[i].prefix.len;
	pos = len / 8 < 15 ? len / 8 : 15;
	end = 8 * pos + 8;
	if (v[lo].prefix.len == 8 * pos) /* it covers the region: the first */
		fill = v[lo].cls;
	id = node_new(c, v[lo].prefix.bytes, pos, outer, fill);
	if (id < 0)
		return XNSG_DIR4_TRIE;
	if (v[lo].prefix.len == 8 * pos)
		lo++;
	for (size_t i = lo, j; i < hi; i = j) {
		unsigned int b = v[i].prefix.bytes[pos], l = v[i].prefix.len;

		j = i + 1;
		if (l <= end) { /* ends in this byte: its slots */
			for (unsigned int k = 0; k < 1u << (end - l); k++)
				c->dir6[id].e[b + k] = v[i].cls;
			continue;
		}
		while (j < hi && v[j].prefix.bytes[pos] == b && v[j].prefix.len > end)
			j++;
		fill = trie6_node(c, v, i, j, c->dir6[id].e[b], depth + 1);
		c->dir6[id].e[b] = fill;
	}
	return (uint16_t)(XNSG_DIR4_PTR + id);
}

/* The IPv6 tries of both fields of table t: their roots in t->desc. */
void build_dir6(struct compiled *c, struct compiled_table *t)
{
	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST; f++) {
		size_t lo = 0, hi;

		while (lo < t->nlpm6 && t->lpm6[lo].field != f)
			lo++;
		for (hi = lo; hi < t->nlpm6 && t->lpm6[hi].field == f; hi++)
			;
		t->desc.dir6_root[f] = lo < hi ? trie6_node(c, t->lpm6, lo, hi,
							    t->desc.any6_class[f], 1)
					       : t->desc.any6_class[f];
	}
}
