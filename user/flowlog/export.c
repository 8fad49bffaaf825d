// SPDX-License-Identifier: MIT
/*
 * The exporter object (export.h): its outputs, the lock that keeps it
 * alone on a pin directory, the loop, and its counters, kept in the
 * datapath's xnsg_fl_stats map rather than a file: they describe that
 * datapath's flows, so they live and go with its pins (detach removes
 * them, a new datapath starts at zero), `xnsg stats` reads them as it
 * reads every other counter, and one map update a sweep is atomic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "alloc.h"
#include "export_int.h"
#include "lock.h"
#include "log.h"

/* An end waits this long for the flow's last packets (the ACK after the
 * second FIN); never longer than the interval. */
#define END_GRACE_NS 1000000000ull
/* The longest the loop sleeps without looking at the ring's positions
 * (the kernel's wake-ups are adaptive: none while the consumer lags). */
#define POLL_MAX_MS 500

static const char *const out_names[FL_OUTS] = { "jsonl", "azure", "azure-nsg-v2", "ipfix" };

bool fl_fail_line(struct fl_fail_log *f, const struct flowlog_stats *s, uint64_t now,
		  const char *name, const char *target, char *buf, size_t len)
{
	const char *why = strerror(s->last_err ? -s->last_err : EIO);

	if (s->failed == f->failed)
		return false;
	if (!f->told)
		snprintf(buf, len, "%s %s: %s", name, target, why);
	else if (now - f->told_ns >= FLOWLOG_FAIL_LOG_S * 1000000000ull)
		snprintf(buf, len, "%s %s: %llu more records failed: %s", name, target,
			 (unsigned long long)(s->failed - f->failed), why);
	else
		return false;
	f->failed = s->failed;
	f->told_ns = now;
	f->told = true;
	return true;
}

static void log_fail_default(const char *msg)
{
	pr_err("flowlog: %s", msg);
}

/* Say what failed since the last look, as fl_fail_line() allows. */
static void tell_failures(struct flowlog_export *x)
{
	uint64_t now = mono_ns();
	char line[512];

	for (int i = 0; i < FL_OUTS; i++)
		if (x->out[i] && fl_fail_line(&x->fail[i], flowlog_get_stats(x->out[i]), now,
					      out_names[i], x->target[i], line, sizeof(line)))
			x->log_fail(line);
}

void fl_emit(struct flowlog_export *x, const struct flowlog_record *r)
{
	x->sum.records++;
	for (int i = 0; i < FL_OUTS; i++)
		if (x->out[i])
			flowlog_write(x->out[i], r);
}

struct xnsg_fl_op *fl_op(struct flowlog_export *x, unsigned int op, const struct xnsg_ct_key *k,
			 const struct xnsg_ct_val *v)
{
	struct xnsg_fl_op *o;

	if (x->nops == x->ops_cap) {
		x->ops_cap = x->ops_cap ? x->ops_cap * 2 : XNSG_FL_BATCH;
		x->ops = xrealloc(x->ops, x->ops_cap * sizeof(*x->ops));
	}
	o = &x->ops[x->nops++];
	memset(o, 0, sizeof(*o));
	o->k = *k;
	o->op = op;
	o->created = v->created;
	return o;
}

int fl_ops_run(struct flowlog_export *x)
{
	int err;

	if (!x->nops)
		return fl_pos_flush(x);
	err = dp_fl_ops(x->fl, x->ops, x->nops);
	for (size_t i = 0; !err && i < x->nops; i++)
		if (x->ops[i].op == XNSG_FL_EXPIRE)
			fl_expired(x, &x->ops[i]);
	x->nops = 0;
	fl_pos_flush(x);
	if (err && !x->err)
		x->err = err;
	return err;
}

/* The counters as the datapath keeps them: this run's added to base. */
static void stats_value(const struct flowlog_export *x, struct xnsg_fl_stats *v)
{
	static const int slot[FL_OUTS][3] = {
		{ XNSG_FLS_JSONL_EXPORTED, XNSG_FLS_JSONL_FAILED, -1 },
		{ XNSG_FLS_AZURE_EXPORTED, XNSG_FLS_AZURE_FAILED, XNSG_FLS_AZURE_SKIPPED },
		{ XNSG_FLS_AZURE_EXPORTED, XNSG_FLS_AZURE_FAILED, XNSG_FLS_AZURE_SKIPPED },
		{ XNSG_FLS_IPFIX_EXPORTED, XNSG_FLS_IPFIX_FAILED, -1 },
	};
	const struct flowlog_export_summary *s = &x->sum;

	*v = x->base;
	for (int i = 0; i < FL_OUTS; i++) {
		const struct flowlog_stats *o = x->out[i] ? flowlog_get_stats(x->out[i]) : NULL;

		if (!o)
			continue;
		v->v[slot[i][0]] += o->exported;
		v->v[slot[i][1]] += o->failed;
		if (slot[i][2] >= 0)
			v->v[slot[i][2]] += o->skipped;
		if (i == FL_OUT_IPFIX)
			v->v[XNSG_FLS_IPFIX_SEND_ERRORS] += o->errors;
	}
	v->v[XNSG_FLS_RECORDS] += s->records;
	v->v[XNSG_FLS_BEGIN_EVENTS] += s->begins - s->begin_swept;
	v->v[XNSG_FLS_BEGIN_SWEPT] += s->begin_swept;
	v->v[XNSG_FLS_END_EVENTS] += s->ends - s->end_swept - s->evicted;
	v->v[XNSG_FLS_END_SWEPT] += s->end_swept;
	v->v[XNSG_FLS_EVICTED] += s->evicted;
	v->v[XNSG_FLS_DENY_RECORDS] += s->denies;
	v->v[XNSG_FLS_SWEEPS] += s->sweeps;
	v->v[XNSG_FLS_STARTS] += 1;
	v->v[XNSG_FLS_EVENTS] += s->events;
}

static void stats_save(struct flowlog_export *x)
{
	struct xnsg_fl_stats v;

	stats_value(x, &v);
	if (dp_fl_stats_write(x->dp, &v))
		pr_debug("flowlog: cannot save the counters");
}

static struct flowlog_exporter *open_one(int kind, const struct flowlog_export_opts *o,
					  char *why, size_t why_len)
{
	struct flowlog_jsonl_opts j = { .path = o->jsonl };
	struct flowlog_azure_opts a = { .dir = o->azure_dir, .format = o->azure_format,
					.clock = o->clock };
	struct flowlog_ipfix_opts p = { .target = o->ipfix,
					.template_interval_s = o->ipfix_template_s,
					.clock = o->clock, .why = why, .why_len = why_len };

	switch (kind) {
	case FL_OUT_JSONL:
		return flowlog_jsonl_open(&j);
	case FL_OUT_AZURE:
		if (o->azure_both)
			a.format = FLOWLOG_AZURE_VNET_V4;
		return flowlog_azure_open(&a);
	case FL_OUT_AZURE2:
		a.format = FLOWLOG_AZURE_NSG_V2;
		return flowlog_azure_open(&a);
	default:
		return flowlog_ipfix_open(&p);
	}
}

static int open_outputs(struct flowlog_export *x, const struct flowlog_export_opts *o)
{
	const char *what[FL_OUTS] = { o->jsonl, o->azure_dir, o->azure_both ? o->azure_dir : NULL,
				      o->ipfix };

	for (int i = 0; i < FL_OUTS; i++) {
		char why[128] = "";

		if (!what[i])
			continue;
		x->out[i] = open_one(i, o, why, sizeof(why));
		if (!x->out[i]) {
			int err = -errno;

			pr_err("flowlog: cannot open the %s output %s: %s", out_names[i], what[i],
			       *why ? why : strerror(errno));
			return err;
		}
		x->target[i] = xstrdup(i == FL_OUT_JSONL && !strcmp(what[i], "-") ? "stdout"
										  : what[i]);
	}
	return 0;
}

/* The datapath: the caller's, or the pinned one (under the lock). */
static int open_datapath(struct flowlog_export *x, const struct flowlog_export_opts *o)
{
	int err;

	if (o->dp) {
		x->dp = o->dp;
		return 0;
	}
	x->lock_fd = lock_take(".flowlog.lock", o->what ? o->what : "flowlog", 0);
	if (x->lock_fd < 0)
		return x->lock_fd;
	err = dp_open_pins(&x->own_dp);
	if (err == -ENOENT)
		pr_err("flowlog: no datapath is loaded here (xnsg apply first)");
	if (!err)
		x->dp = &x->own_dp;
	return err;
}

static void setup(struct flowlog_export *x, const struct flowlog_export_opts *o)
{
	unsigned int s = o->interval_s ? o->interval_s : FLOWLOG_INTERVAL_DEFAULT;

	x->interval_ns = (uint64_t)s * 1000000000ull;
	x->grace_ns = END_GRACE_NS < x->interval_ns ? END_GRACE_NS : x->interval_ns;
	x->deny_rate = o->deny_rate ? o->deny_rate : XNSG_DENY_RATE;
	fl_table_init(&x->known);
	if (fl_pos_load(x))
		pr_warn("flowlog: cannot read the positions a former exporter left: "
			"counts since its last records may be logged again");
	dp_fl_stats_read(x->dp, &x->base);
	fl_names_refresh(&x->names, x->dp);
	dp_fl_timeouts(x->dp, x->timeouts);
}

int flowlog_export_open(const struct flowlog_export_opts *o, struct flowlog_export **out)
{
	struct flowlog_export *x = xcalloc(1, sizeof(*x));
	struct xnsg_fl_cpu c;
	int err;

	x->lock_fd = -1;
	x->log_fail = o->log_fail ? o->log_fail : log_fail_default;
	x->once = o->once;
	err = open_datapath(x, o);
	err = err ?: open_outputs(x, o);
	err = err ?: dp_fl_open(x->dp, fl_on_event, x, &x->fl);
	if (!err) {
		setup(x, o);
		if (!dp_fl_cpu_sum(x->dp, &c))
			x->suppressed_seen = c.deny_suppressed;
		err = dp_fl_enable(x->dp, true, x->deny_rate);
		if (err)
			pr_err("flowlog: cannot turn flow logging on: %s", strerror(-err));
		x->logging = !err;
	}
	if (!err) {
		x->next_sweep = mono_ns() + x->interval_ns;
		err = fl_sweep(x);
		if (err)
			pr_err("flowlog: the first sweep failed: %s", strerror(-err));
	}
	if (err) {
		x->sweep_no = ~0ull; /* no final sweep */
		flowlog_export_close(x, NULL);
		return err;
	}
	stats_save(x);
	*out = x; /* failures of the first sweep are told by the first run() */
	return 0;
}

int flowlog_export_fd(const struct flowlog_export *x)
{
	return dp_fl_poll_fd(x->fl);
}

int flowlog_export_timeout_ms(const struct flowlog_export *x)
{
	uint64_t now = mono_ns(), due = x->next_sweep;
	int64_t ms;

	if (x->pend_head < x->npend && x->pend[x->pend_head].due_ns < due)
		due = x->pend[x->pend_head].due_ns;
	ms = due > now ? (int64_t)((due - now + 999999) / 1000000) : 0;
	return ms > POLL_MAX_MS ? POLL_MAX_MS : (int)ms;
}

static void note_fill(struct flowlog_export *x)
{
	unsigned long used, size;

	dp_fl_ring_fill(x->fl, &used, &size);
	if (used > x->sum.ring_peak)
		x->sum.ring_peak = used;
	x->sum.ring_size = size;
}

int flowlog_export_run(struct flowlog_export *x)
{
	uint64_t now;
	int n, err;

	note_fill(x);
	/* An apply by another process may have flipped since the last batch:
	 * name its events' rules from the record of their generation (one map
	 * read when nothing changed). */
	fl_names_refresh(&x->names, x->dp);
	x->consumed_at = mono_ns();
	n = dp_fl_consume(x->fl);
	if (n < 0)
		return n;
	now = mono_ns();
	err = fl_pending_run(x, now, false);
	if (!err && now >= x->next_sweep) {
		x->next_sweep += x->interval_ns;
		if (x->next_sweep <= now) /* a sweep took longer than the interval */
			x->next_sweep = now + x->interval_ns;
		err = flowlog_export_sweep(x);
	}
	tell_failures(x);
	return err;
}

int flowlog_export_sweep(struct flowlog_export *x)
{
	int err;

	note_fill(x);
	err = fl_sweep(x);
	stats_save(x);
	tell_failures(x);
	return err;
}

int flowlog_export_reopen(struct flowlog_export *x)
{
	return x->out[FL_OUT_JSONL] ? flowlog_reopen(x->out[FL_OUT_JSONL]) : 0;
}

void flowlog_export_summary(const struct flowlog_export *x, struct flowlog_export_summary *s)
{
	struct xnsg_fl_cpu c;

	*s = x->sum;
	s->bad_events = x->sum.bad_events + (x->fl ? dp_fl_bad_records(x->fl) : 0);
	if (x->dp && !dp_fl_cpu_sum(x->dp, &c)) {
		s->ring_lost = c.lost_begin + c.lost_end;
		s->deny_suppressed = c.deny_suppressed;
	}
	s->noutputs = 0;
	for (int i = 0; i < FL_OUTS; i++) {
		if (!x->out[i])
			continue;
		s->out[s->noutputs].name = out_names[i];
		s->out[s->noutputs].s = *flowlog_get_stats(x->out[i]);
		s->noutputs++;
	}
}

/* The last records out, the outputs flushed (their counts final). */
static int finish(struct flowlog_export *x)
{
	int err = 0, e;

	if (x->fl && x->sweep_no != ~0ull) {
		x->consumed_at = mono_ns();
		dp_fl_consume(x->fl);
		err = fl_pending_run(x, 0, true);
		/* Without it (once), counts since the first sweep stay past the
		 * entries' exported positions: the next exporter writes them. */
		if (!x->once) {
			e = fl_sweep(x);
			err = err ?: e;
			e = fl_pending_run(x, 0, true); /* ends the final consume brought */
			err = err ?: e;
		}
	}
	for (int i = 0; i < FL_OUTS; i++) {
		if (x->out[i]) {
			e = flowlog_flush(x->out[i]);
			err = err ?: e;
		}
	}
	return err;
}

int flowlog_export_close(struct flowlog_export *x, struct flowlog_export_summary *s)
{
	int err;

	if (!x)
		return 0;
	err = finish(x);
	if (x->fl && x->sweep_no != ~0ull)
		stats_save(x);
	tell_failures(x);
	if (x->logging)
		dp_fl_enable(x->dp, false, 0);
	if (s)
		flowlog_export_summary(x, s);
	for (int i = 0; i < FL_OUTS; i++) {
		flowlog_close(x->out[i]);
		free(x->target[i]);
	}
	dp_fl_close(x->fl);
	if (x->dp == &x->own_dp)
		dp_close(&x->own_dp);
	lock_release(x->lock_fd);
	fl_table_free(&x->known);
	fl_table_free(&x->restored);
	fl_names_free(&x->names);
	free(x->pend);
	free(x->ops);
	free(x->pos_k);
	free(x->pos_v);
	free(x->pos_del);
	free(x);
	return err;
}

int flowlog_export_loop(struct flowlog_export *x, volatile sig_atomic_t *stop,
			volatile sig_atomic_t *hup)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), err = 0;

	if (ep < 0)
		return -errno;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, flowlog_export_fd(x), &ev)) {
		err = -errno;
		close(ep);
		return err;
	}
	while (!*stop && !err) {
		if (hup && *hup) {
			*hup = 0;
			flowlog_export_reopen(x);
		}
		if (epoll_wait(ep, &ev, 1, flowlog_export_timeout_ms(x)) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (!*stop)
			err = flowlog_export_run(x);
	}
	close(ep);
	return err;
}
