// SPDX-License-Identifier: MIT
/*
 * The exporter's positions (docs/DESIGN.md §4 "The exported position"):
 * what of each flow's counts it has logged, so that a record carries the
 * counts since the last one.  Kept with the flows it knows (fl_known),
 * and stored in xnsg_fl_pos - a map only the exporter writes - once a C
 * record moved it, so that a restarted exporter continues where the last
 * one stopped; removed when the flow's E is written or the flow is gone.
 * A flow ends without a C in most workloads, so most never cost an entry.
 */
#include <string.h>

#include "alloc.h"
#include "export_int.h"
#include "log.h"

static void pos_queue(struct flowlog_export *x, const struct xnsg_ct_key *k,
		      const struct xnsg_fl_pos *p)
{
	if (x->npos == x->pos_cap) {
		x->pos_cap = x->pos_cap ? x->pos_cap * 2 : XNSG_FL_BATCH;
		x->pos_k = xrealloc(x->pos_k, x->pos_cap * sizeof(*x->pos_k));
		x->pos_v = xrealloc(x->pos_v, x->pos_cap * sizeof(*x->pos_v));
		x->pos_del = xrealloc(x->pos_del, x->pos_cap * sizeof(*x->pos_del));
	}
	x->pos_k[x->npos] = *k;
	memset(&x->pos_v[x->npos], 0, sizeof(x->pos_v[x->npos]));
	if (p)
		x->pos_v[x->npos] = *p;
	x->pos_del[x->npos++] = !p;
}

void fl_pos_move(struct flowlog_export *x, struct fl_known *kn, const struct xnsg_ct_val *v)
{
	kn->pos.created = v->created;
	for (int i = 0; i < 2; i++) {
		kn->pos.packets[i] = v->packets[i];
		kn->pos.bytes[i] = v->bytes[i];
	}
	kn->stored = true;
	pos_queue(x, &kn->k, &kn->pos);
}

void fl_pos_del(struct flowlog_export *x, const struct xnsg_ct_key *k)
{
	pos_queue(x, k, NULL);
}

void fl_forget(struct flowlog_export *x, struct fl_known *kn)
{
	if (kn->stored)
		fl_pos_del(x, &kn->k);
	fl_table_del(&x->known, kn);
}

const struct xnsg_fl_pos *fl_pos_of(const struct flowlog_export *x, const struct xnsg_ct_key *k,
				    uint32_t created)
{
	const struct fl_known *kn = fl_table_find(&x->known, k);

	return kn && kn->pos.created == created ? &kn->pos : NULL;
}

void fl_pos_restore(struct flowlog_export *x, struct fl_known *kn, uint32_t created)
{
	struct fl_known *r;

	kn->stored = false;
	memset(&kn->pos, 0, sizeof(kn->pos));
	kn->pos.created = created;
	if (!x->restored.n || !(r = fl_table_find(&x->restored, &kn->k)))
		return;
	if (r->pos.created == kn->pos.created) {
		kn->pos = r->pos;
		kn->stored = true;
	}
	fl_table_del(&x->restored, r);
}

static int pos_chunk(const struct xnsg_ct_key *k, const struct xnsg_fl_pos *p, size_t n, void *arg)
{
	struct flowlog_export *x = arg;

	for (size_t i = 0; i < n; i++) {
		struct fl_known *r = fl_table_get(&x->restored, &k[i]);

		r->pos = p[i];
		r->stored = true;
	}
	return 0;
}

int fl_pos_load(struct flowlog_export *x)
{
	fl_table_init(&x->restored);
	return dp_fl_pos_read(x->dp, pos_chunk, x);
}

void fl_pos_drop_unclaimed(struct flowlog_export *x)
{
	for (size_t i = 0; x->restored.n && i <= x->restored.mask; i++)
		if (x->restored.e[i].state != FL_FREE)
			fl_pos_del(x, &x->restored.e[i].k);
	fl_table_free(&x->restored);
	fl_table_init(&x->restored);
}

/* Write the queued positions (after the records that moved them). */
int fl_pos_flush(struct flowlog_export *x)
{
	int err;

	if (!x->npos)
		return 0;
	err = dp_fl_pos_write(x->dp, x->pos_k, x->pos_v, x->pos_del, x->npos);
	if (err)
		pr_debug("flowlog: positions not stored: %s", strerror(-err));
	x->npos = 0;
	return 0;
}
