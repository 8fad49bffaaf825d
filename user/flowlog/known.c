// SPDX-License-Identifier: MIT
/*
 * The exporter's table of the flows it has logged a B for: what it needs
 * to tell, at the next sweep, that a flow vanished from the datapath's
 * table without an end (and to write its E).  Open addressing with
 * linear probing; deletion shifts the following entries back, so no
 * tombstones pile up while flows come and go.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "export_int.h"

#define TABLE_MIN 1024

static uint64_t key_hash(const struct xnsg_ct_key *k)
{
	uint64_t w[5], h = 0x9e3779b97f4a7c15ull;
	uint32_t tail;

	memcpy(w, k, sizeof(w));
	memcpy(&tail, (const char *)k + sizeof(w), sizeof(tail));
	for (int i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= tail;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

void fl_table_init(struct fl_table *t)
{
	t->e = xcalloc(TABLE_MIN, sizeof(*t->e));
	t->n = 0;
	t->mask = TABLE_MIN - 1;
}

void fl_table_free(struct fl_table *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static size_t probe(const struct fl_table *t, const struct xnsg_ct_key *k)
{
	size_t i = (size_t)key_hash(k) & t->mask;

	while (t->e[i].state != FL_FREE && memcmp(&t->e[i].k, k, sizeof(*k)))
		i = (i + 1) & t->mask;
	return i;
}

struct fl_known *fl_table_find(const struct fl_table *t, const struct xnsg_ct_key *k)
{
	size_t i = probe(t, k);

	return t->e[i].state == FL_FREE ? NULL : &t->e[i];
}

static void grow(struct fl_table *t)
{
	struct fl_known *old = t->e;
	size_t cap = (t->mask + 1) * 2;

	t->e = xcalloc(cap, sizeof(*t->e));
	t->mask = cap - 1;
	for (size_t i = 0; i < cap / 2; i++)
		if (old[i].state != FL_FREE)
			t->e[probe(t, &old[i].k)] = old[i];
	free(old);
}

struct fl_known *fl_table_get(struct fl_table *t, const struct xnsg_ct_key *k)
{
	size_t i;

	if ((t->n + 1) * 2 > t->mask + 1)
		grow(t);
	i = probe(t, k);
	if (t->e[i].state == FL_FREE) {
		memset(&t->e[i], 0, sizeof(t->e[i]));
		t->e[i].k = *k;
		t->e[i].state = FL_LIVE;
		t->n++;
	}
	return &t->e[i];
}

void fl_table_del(struct fl_table *t, struct fl_known *e)
{
	size_t i = (size_t)(e - t->e), j = i;

	t->e[i].state = FL_FREE;
	t->n--;
	/* Move back every entry of the run after i that i's hole would make
	 * unreachable (its home slot is not in (i, j]). */
	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (t->e[j].state == FL_FREE)
			return;
		home = (size_t)key_hash(&t->e[j].k) & t->mask;
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		t->e[i] = t->e[j];
		t->e[j].state = FL_FREE;
		i = j;
	}
}
