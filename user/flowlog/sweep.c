// SPDX-License-Identifier: MIT
/*
 * The sweep, every interval (docs/DESIGN.md §4): read the whole flow
 * table and, for each flow,
 *   - a B when none was written (its event lost, or logging was off when
 *     it began), then
 *   - an E when it is closed (FIN both ways, RST) or cut by a policy
 *     change and no E was written for it,
 *   - an E "timeout" when it idled past its timeout, the entry removed
 *     (xnsg_fl_commit checks the idleness again, so a packet that came
 *     meanwhile keeps it),
 *   - else a C with its counts since the exported position, if any moved;
 * then an E "evicted" for every flow it knew that is no longer there,
 * and a D for every denied tuple the datapath aggregated.  Each record
 * is written before the exported position is moved past it (committed
 * per chunk of the walk), so a crash repeats nothing and loses at most
 * what the outputs had buffered.
 */
#include <string.h>

#include "export_int.h"

/* An event submitted this long before a consume began was consumed by it. */
#define IN_FLIGHT_NS 1000000ull

static uint64_t idle_limit(const struct flowlog_export *x, const struct xnsg_ct_key *k,
			   const struct xnsg_ct_val *v)
{
	if (k->proto == 6)
		return x->timeouts[v->state == XNSG_CT_ESTABLISHED ? XNSG_TO_TCP_ESTABLISHED
								   : XNSG_TO_TCP_TRANSITORY];
	if (k->proto == 17)
		return x->timeouts[v->state == XNSG_CT_REPLIED ? XNSG_TO_UDP_STREAM : XNSG_TO_UDP];
	return x->timeouts[XNSG_TO_OTHER];
}

/* As bpf/conntrack.h's ct_expired(). */
static bool idle(const struct flowlog_export *x, const struct xnsg_ct_key *k,
		 const struct xnsg_ct_val *v, uint64_t now)
{
	uint64_t t = dp_ct_idle_ns(v, now);

	return t > 1000000000ull && t > idle_limit(x, k, v);
}

/* A record of entry (k, v) with its counts past its position. */
static void record(struct flowlog_export *x, const struct xnsg_ct_key *k,
		   const struct xnsg_ct_val *v, unsigned int st, unsigned int why, uint64_t t)
{
	struct flowlog_record r;
	struct fl_flow f;
	uint64_t d[4];

	fl_delta(v, fl_pos_of(x, k, v->created), d);
	fl_flow_of(&f, k, v, t);
	fl_record_flow(&x->names, &r, &f, d, st, t);
	r.end_reason = (uint8_t)why;
	fl_emit(x, &r);
	if (st == FLOWLOG_CONT)
		x->sum.conts++;
	else if (st == FLOWLOG_END)
		x->sum.ends++;
}

void fl_expired(struct flowlog_export *x, const struct xnsg_fl_op *o)
{
	struct fl_known *kn;

	if (o->result != 1 || o->log_set) /* log_set: a quiet removal */
		return;
	record(x, &o->k, &o->v, FLOWLOG_END, FLOWLOG_END_TIMEOUT, x->sweep_mono);
	x->sum.end_swept++;
	kn = fl_table_find(&x->known, &o->k);
	if (kn && kn->pos.created == o->created)
		fl_forget(x, kn);
}

/* A flow of the table not known yet: false when its B event is still on
 * its way (it began after the last consume); else known from now on,
 * with a B written unless its event was sent (then an exporter before
 * this one consumed it and wrote the B) or a sweep wrote it. */
static bool adopt(struct flowlog_export *x, const struct xnsg_ct_key *k,
		  const struct xnsg_ct_val *v, bool *wrote_b)
{
	struct fl_known *kn;
	struct fl_flow f;

	*wrote_b = false;
	fl_flow_of(&f, k, v, x->sweep_mono);
	/* (created is a tick of ~1.05 ms: one more keeps the test on the safe side) */
	if ((v->log & XNSG_LOG_B_SENT) && !(v->log & XNSG_LOG_B_DONE) &&
	    f.created_ns + (1ull << XNSG_CT_CREATED_SHIFT) + IN_FLIGHT_NS > x->consumed_at)
		return false;
	if (!(v->log & (XNSG_LOG_B_SENT | XNSG_LOG_B_DONE))) {
		struct flowlog_record r;
		static const uint64_t zero[4];

		fl_record_flow(&x->names, &r, &f, zero, FLOWLOG_BEGIN, f.created_ns);
		fl_emit(x, &r);
		x->sum.begins++;
		x->sum.begin_swept++;
		*wrote_b = true;
	}
	kn = fl_table_get(&x->known, k);
	if (kn->stored) /* an ending flow's, whose pending E has a copy */
		fl_pos_del(x, k);
	fl_known_of_flow(kn, &f);
	kn->state = FL_LIVE;
	fl_pos_restore(x, kn, v->created);
	return true;
}

/* Closed or cut and no E written: write it now, unless its event is on
 * its way (sent after the last consume began). */
static bool end_if_over(struct flowlog_export *x, const struct xnsg_ct_key *k,
			const struct xnsg_ct_val *v)
{
	bool cut = v->flags & XNSG_CTF_DENIED;
	bool closed = k->proto == 6 && v->state == XNSG_CT_CLOSING;
	unsigned int why;
	struct fl_known *kn;

	if (!cut && !closed)
		return false;
	if ((v->log & XNSG_LOG_E_SENT) &&
	    dp_ct_last_ns(v, x->sweep_mono) + (1ull << XNSG_CT_LAST_SHIFT) + IN_FLIGHT_NS >
		    x->consumed_at)
		return true;
	why = cut ? FLOWLOG_END_POLICY_CUT
	      : (v->flags & (XNSG_CTF_FIN_INIT | XNSG_CTF_FIN_RESP)) ==
			(XNSG_CTF_FIN_INIT | XNSG_CTF_FIN_RESP) ? FLOWLOG_END_FIN
							       : FLOWLOG_END_RST;
	record(x, k, v, FLOWLOG_END, why, x->sweep_mono);
	x->sum.end_swept++;
	fl_op(x, XNSG_FL_COMMIT, k, v)->log_set = XNSG_LOG_B_DONE | XNSG_LOG_E_DONE;
	kn = fl_table_find(&x->known, k);
	if (kn)
		fl_forget(x, kn);
	return true;
}

static void sweep_one(struct flowlog_export *x, const struct xnsg_ct_key *k,
		      const struct xnsg_ct_val *v)
{
	struct fl_known *kn = fl_table_find(&x->known, k);
	uint64_t d[4], now = x->sweep_mono;
	bool wrote_b = false;

	if (kn && kn->pos.created != v->created && kn->state == FL_LIVE) {
		fl_evicted(x, kn, now); /* gone, and its key taken by a new flow */
		kn = NULL;
	} else if (kn && kn->pos.created != v->created) {
		kn = NULL; /* the key's last flow waits for its E; this is another */
	}
	if (kn && kn->state == FL_ENDING)
		return;
	if (v->log & XNSG_LOG_E_DONE) { /* logged to the end: only reclaim it */
		if (idle(x, k, v, now))
			fl_op(x, XNSG_FL_EXPIRE, k, v)->log_set = 1;
		return;
	}
	if (!kn && !adopt(x, k, v, &wrote_b))
		return;
	kn = fl_table_find(&x->known, k);
	kn->seen = x->sweep_no;
	if (end_if_over(x, k, v))
		return;
	if (idle(x, k, v, now)) {
		fl_op(x, XNSG_FL_EXPIRE, k, v);
		return;
	}
	fl_delta(v, &kn->pos, d);
	if (d[0] | d[1] | d[2] | d[3]) {
		record(x, k, v, FLOWLOG_CONT, FLOWLOG_END_NONE, now);
		fl_pos_move(x, kn, v);
	}
	if (wrote_b)
		fl_op(x, XNSG_FL_COMMIT, k, v)->log_set = XNSG_LOG_B_DONE;
}

static int sweep_chunk(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, size_t n,
		       void *arg)
{
	struct flowlog_export *x = arg;

	for (size_t i = 0; i < n; i++)
		sweep_one(x, &k[i], &v[i]);
	return fl_ops_run(x);
}

/* Every known flow the walk did not meet is gone: its E "evicted". */
static void sweep_gone(struct flowlog_export *x)
{
	for (size_t i = 0; i <= x->known.mask;) {
		struct fl_known *kn = &x->known.e[i];

		if (kn->state == FL_LIVE && kn->seen != x->sweep_no)
			fl_evicted(x, kn, x->sweep_mono); /* the hole may be refilled: look again */
		else
			i++;
	}
}

static int deny_chunk(const struct xnsg_deny_key *k, const struct xnsg_deny_val *v, size_t n,
		      void *arg)
{
	struct flowlog_export *x = arg;
	struct flowlog_record r;
	struct xnsg_fl_cpu c;

	if (n && !dp_fl_cpu_sum(x->dp, &c) && c.deny_suppressed > x->suppressed_seen) {
		/* The first D of the sweep carries what the limit kept out since. */
		fl_record_deny(&x->names, &r, &k[0], &v[0]);
		r.suppressed = (uint32_t)(c.deny_suppressed - x->suppressed_seen);
		x->suppressed_seen = c.deny_suppressed;
		fl_emit(x, &r);
		x->sum.denies++;
		k++, v++, n--;
	}
	for (size_t i = 0; i < n; i++) {
		fl_record_deny(&x->names, &r, &k[i], &v[i]);
		fl_emit(x, &r);
		x->sum.denies++;
	}
	return 0;
}

int fl_sweep(struct flowlog_export *x)
{
	int err;

	x->consumed_at = mono_ns();
	err = dp_fl_consume(x->fl);
	if (err < 0)
		return err;
	err = fl_pending_run(x, x->consumed_at, false);
	fl_names_refresh(&x->names, x->dp);
	dp_fl_timeouts(x->dp, x->timeouts);
	x->sweep_no++;
	x->sweep_mono = mono_ns();
	err = err ?: dp_fl_ct_snapshot(x->dp, sweep_chunk, x);
	err = err ?: fl_ops_run(x);
	sweep_gone(x);
	if (x->sweep_no == 1)
		fl_pos_drop_unclaimed(x); /* gone while no exporter ran */
	err = err ?: fl_ops_run(x);
	err = err ?: dp_fl_denies_take(x->dp, deny_chunk, x);
	x->sum.sweeps++;
	for (int i = 0; i < FL_OUTS; i++)
		if (x->out[i])
			flowlog_flush(x->out[i]);
	return err;
}
