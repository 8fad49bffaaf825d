// SPDX-License-Identifier: MIT
/*
 * Port maps: for each field, a 65536-entry map from port to class.  A
 * sweep over the rules' range endpoints yields segments of constant class;
 * identical maps share one port map id across the policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "build.h"

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

/* The class of a port field's bitmap: a destination port's carries its
 * per-protocol summaries (classes.c, tclass_dport). */
static int port_class_of(struct tctx *tc, int field, const uint64_t *bits, uint16_t *cls)
{
	return field == XNSG_FIELD_DST ? tclass_dport(tc, bits, cls) : tclass(tc, bits, cls);
}

static const struct port_list *ports_of(const struct rule *r, int field)
{
	return field == XNSG_FIELD_SRC ? &r->sport : &r->dport;
}

/*
 * The port map of one field: sweep the rules' range endpoints in order,
 * keeping per rule how many of its ranges hold the current port (ranges of
 * one rule may overlap); between two endpoints the class is constant.
 * When no rule restricts the field, its one class is also the table's
 * port_class (the classifier then reads no port map); the map is still
 * built, for the tests and tools that read maps.
 */
int build_portmap(struct tctx *tc, int field)
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
		err = port_class_of(tc, field, bits, &cls);
		if (!err)
			tc->t->desc.port_class[field] = cls; /* the classifier needs no map */
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
		err = port_class_of(tc, field, bits, &cls);
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
