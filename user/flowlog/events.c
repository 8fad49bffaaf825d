// SPDX-License-Identifier: MIT
/*
 * The datapath's events made records.  A begin is written at once.  An
 * end waits a grace period (the ACK after the second FIN comes after the
 * event), then is written with the counts of the entry if it is still
 * there, else those the event carried; either way the entry, when still
 * there, is told the E is done, so that no later sweep writes another.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "export_int.h"

static void known_from(struct flowlog_export *x, struct fl_known *kn, const struct xnsg_event *e)
{
	struct fl_flow f;

	fl_flow_of(&f, &e->k, &e->v, e->time_ns);
	fl_known_of_flow(kn, &f);
	kn->seen = 0;
	fl_pos_restore(x, kn, e->v.created);
}

/* The E of a known flow that vanished (or whose key another flow took):
 * the counts are those exported, nothing more is known. */
void fl_evicted(struct flowlog_export *x, struct fl_known *kn, uint64_t now)
{
	static const uint64_t zero[4];
	struct flowlog_record r;
	struct fl_flow f;

	fl_flow_of_known(&f, kn);
	fl_record_flow(&x->names, &r, &f, zero, FLOWLOG_END, now);
	r.end_reason = FLOWLOG_END_EVICTED;
	fl_emit(x, &r);
	x->sum.ends++;
	x->sum.evicted++;
	fl_forget(x, kn);
}

static void begin(struct flowlog_export *x, const struct xnsg_event *e, bool swept)
{
	static const uint64_t zero[4];
	struct flowlog_record r;
	struct fl_flow f;

	fl_flow_of(&f, &e->k, &e->v, e->time_ns);
	fl_record_flow(&x->names, &r, &f, zero, FLOWLOG_BEGIN, f.created_ns);
	fl_emit(x, &r);
	x->sum.begins++;
	if (swept)
		x->sum.begin_swept++;
}

static void on_begin(struct flowlog_export *x, const struct xnsg_event *e)
{
	struct fl_known *kn = fl_table_find(&x->known, &e->k);

	if (kn && kn->pos.created == e->v.created)
		return; /* the sweep met it first and wrote its B */
	if (kn && kn->state == FL_LIVE)
		fl_evicted(x, kn, e->time_ns); /* the key's earlier flow went unseen */
	else if (kn && kn->stored) /* an ending flow's: its pending E has a copy */
		fl_pos_del(x, &e->k);
	begin(x, e, false);
	kn = fl_table_get(&x->known, &e->k);
	known_from(x, kn, e);
	kn->state = FL_LIVE;
	/* No commit: the entry's B_SENT says its B is the consumer's to
	 * write, which a later exporter takes as written (sweep.c adopt()). */
}

static void on_end(struct flowlog_export *x, const struct xnsg_event *e)
{
	struct fl_known *kn = fl_table_find(&x->known, &e->k);
	struct fl_pending *p;

	if (kn && kn->pos.created != e->v.created && kn->state == FL_LIVE)
		fl_evicted(x, kn, e->time_ns);
	else if (kn && kn->state == FL_ENDING)
		return; /* its E is on its way already */
	kn = fl_table_find(&x->known, &e->k);
	if (!kn && !(e->v.log & (XNSG_LOG_B_SENT | XNSG_LOG_B_DONE)))
		begin(x, e, true); /* its B event was lost, or logging was off */
	if (!kn) {
		kn = fl_table_get(&x->known, &e->k);
		known_from(x, kn, e);
	}
	kn->state = FL_ENDING;
	if (x->npend == x->pend_cap) {
		x->pend_cap = x->pend_cap ? x->pend_cap * 2 : 256;
		x->pend = xrealloc(x->pend, x->pend_cap * sizeof(*x->pend));
	}
	p = &x->pend[x->npend++];
	p->e = *e;
	p->pos = kn->pos;
	p->stored = kn->stored;
	p->due_ns = mono_ns() + x->grace_ns;
}

int fl_on_event(const struct xnsg_event *e, void *arg)
{
	struct flowlog_export *x = arg;

	x->sum.events++;
	if (e->type == XNSG_EV_BEGIN)
		on_begin(x, e);
	else if (e->type == XNSG_EV_END)
		on_end(x, e);
	else
		x->sum.bad_events++;
	return 0;
}

static unsigned int end_reason(unsigned int why)
{
	switch (why) {
	case XNSG_END_FIN: return FLOWLOG_END_FIN;
	case XNSG_END_RST: return FLOWLOG_END_RST;
	case XNSG_END_CUT: return FLOWLOG_END_POLICY_CUT;
	default: return FLOWLOG_END_TIMEOUT;
	}
}

/* Write one waiting end: the entry's counts when it is still the same
 * flow's, else the event's; past the position the flow had. */
static void end_one(struct flowlog_export *x, const struct fl_pending *p)
{
	const struct xnsg_event *e = &p->e;
	struct xnsg_ct_val now;
	const struct xnsg_ct_val *v = &e->v;
	struct flowlog_record r;
	struct fl_known *kn;
	struct fl_flow f;
	uint64_t d[4];

	if (!dp_fl_ct_lookup(x->dp, &e->k, &now) && now.created == e->v.created)
		v = &now;
	fl_delta(v, &p->pos, d);
	fl_flow_of(&f, &e->k, &e->v, e->time_ns);
	fl_record_flow(&x->names, &r, &f, d, FLOWLOG_END, e->time_ns);
	r.end_reason = (uint8_t)end_reason(e->why);
	fl_emit(x, &r);
	x->sum.ends++;
	if (v == &now)
		fl_op(x, XNSG_FL_COMMIT, &e->k, &now)->log_set = XNSG_LOG_B_DONE | XNSG_LOG_E_DONE;
	kn = fl_table_find(&x->known, &e->k);
	if (kn && kn->pos.created == e->v.created)
		fl_forget(x, kn);
}

int fl_pending_run(struct flowlog_export *x, uint64_t now, bool force)
{
	size_t i = x->pend_head;

	while (i < x->npend && (force || x->pend[i].due_ns <= now))
		end_one(x, &x->pend[i++]);
	x->pend_head = i;
	if (x->pend_head == x->npend) {
		x->pend_head = x->npend = 0;
	} else if (x->pend_head > x->npend / 2) { /* keep the queue from creeping */
		memmove(x->pend, x->pend + i, (x->npend - i) * sizeof(*x->pend));
		x->npend -= i;
		x->pend_head = 0;
	}
	return fl_ops_run(x);
}
