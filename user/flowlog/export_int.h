/* SPDX-License-Identifier: MIT */
/* What the exporter's files share (export.c, events.c, sweep.c, decode.c,
 * known.c); nothing outside user/flowlog/ includes this. */
#ifndef XNSG_FLOWLOG_EXPORT_INT_H
#define XNSG_FLOWLOG_EXPORT_INT_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

#include "datapath.h"
#include "export.h"
#include "record.h"

/* ---- known.c: the flows this exporter has logged a B for -------------- */

/* Enough of a flow to write its E when it vanished from the table, and
 * its position: what of its counts is logged (pos.created: the entry's
 * created, which tells a reused key's flows apart). */
struct fl_known { /* its flow is (k, pos.created) */
	struct xnsg_ct_key k;
	uint32_t slot[2];
	uint64_t created_ns; /* monotonic */
	uint64_t seen;   /* the sweep that last found it */
	struct xnsg_fl_pos pos;
	uint8_t dir, init_a, gen;
	uint8_t state;   /* 0 free, FL_LIVE, FL_ENDING (its E waits: events.c) */
	bool stored;     /* pos is in xnsg_fl_pos */
};
enum { FL_FREE = 0, FL_LIVE = 1, FL_ENDING = 2 };

/* Open addressing, linear probing, deletion by backward shift (no
 * tombstones: flows come and go all the time). */
struct fl_table {
	struct fl_known *e;
	size_t n, mask; /* used slots; capacity - 1 (a power of two) */
};

void fl_table_init(struct fl_table *t);
void fl_table_free(struct fl_table *t);
struct fl_known *fl_table_find(const struct fl_table *t, const struct xnsg_ct_key *k);
/* The slot for k, new (state FL_FREE, key set) if absent. */
struct fl_known *fl_table_get(struct fl_table *t, const struct xnsg_ct_key *k);
void fl_table_del(struct fl_table *t, struct fl_known *e);

/* ---- decode.c: records from flow entries, names ---------------------- */

/* What a record needs of a flow besides its counts. */
struct fl_flow {
	const struct xnsg_ct_key *k;
	uint32_t slot[2];
	uint64_t created_ns; /* monotonic */
	uint8_t dir, init_a, gen;
};

struct fl_iface {
	unsigned int ifindex;
	char name[IF_NAMESIZE];
	uint8_t mac[6];
};

/* A counter slot's rule, split once ("NSG/Direction/RULE"). */
struct fl_rule {
	char nsg[FLOWLOG_NAME_MAX + 1];
	char rule[FLOWLOG_NAME_MAX + 1];
	bool default_rule;
};

struct fl_names {
	unsigned int gen, serial;   /* of the active generation when read */
	bool read;
	struct fl_rule *rules[XNSG_GENS]; /* each generation's slots */
	size_t nrules[XNSG_GENS];
	struct fl_iface *ifaces;
	size_t nifaces;
	uint64_t mono_to_real;    /* add to a monotonic time for the wall clock */
};

/* Read the slot names again when the active (generation, serial) changed. */
void fl_names_refresh(struct fl_names *n, struct dp *dp);
void fl_names_free(struct fl_names *n);
/* The record of flow f with counts d[4] (s2d packets, bytes, d2s packets,
 * bytes) in state st at monotonic time t. */
void fl_record_flow(struct fl_names *n, struct flowlog_record *r, const struct fl_flow *f,
		    const uint64_t d[4], unsigned int st, uint64_t t);
void fl_record_deny(struct fl_names *n, struct flowlog_record *r, const struct xnsg_deny_key *k,
		    const struct xnsg_deny_val *v);
/* A flow of an event or an entry, its times read at monotonic now. */
void fl_flow_of(struct fl_flow *f, const struct xnsg_ct_key *k, const struct xnsg_ct_val *v,
		uint64_t now);
void fl_flow_of_known(struct fl_flow *f, const struct fl_known *kn);
/* The other way: what kn keeps of the flow f for its later records. */
void fl_known_of_flow(struct fl_known *kn, const struct fl_flow *f);
/* Counts of v past the position p (NULL: nothing logged), into d[4]. */
void fl_delta(const struct xnsg_ct_val *v, const struct xnsg_fl_pos *p, uint64_t d[4]);

/* ---- the exporter ---------------------------------------------------- */

/* An E event whose record waits a moment for the flow's last packets
 * (the ACK after the second FIN), read then from the entry. */
struct fl_pending {
	struct xnsg_event e;
	struct xnsg_fl_pos pos; /* the flow's when its E came */
	bool stored;
	uint64_t due_ns; /* monotonic */
};

/* Outputs by kind; the Azure one twice when both formats are asked for. */
enum { FL_OUT_JSONL, FL_OUT_AZURE, FL_OUT_AZURE2, FL_OUT_IPFIX, FL_OUTS };

/* What was said about an output's failures (export.c). */
struct fl_fail_log {
	uint64_t failed;  /* the output's failed count when last told */
	uint64_t told_ns; /* when (monotonic) */
	bool told;        /* the first failure was told */
};

/* The line due about an output (name, target) whose counts are s at
 * monotonic time now, into buf: the first failure at once with its
 * reason, then how many more failed, at most every FLOWLOG_FAIL_LOG_S.
 * False when nothing is due. */
bool fl_fail_line(struct fl_fail_log *f, const struct flowlog_stats *s, uint64_t now,
		  const char *name, const char *target, char *buf, size_t len);

struct flowlog_export {
	struct dp own_dp, *dp;
	struct dp_fl *fl;
	int lock_fd;
	struct flowlog_exporter *out[FL_OUTS]; /* by kind; NULL: not asked for */
	char *target[FL_OUTS];   /* what each writes to, for its failure lines */
	struct fl_fail_log fail[FL_OUTS];
	void (*log_fail)(const char *msg);
	struct fl_table known;
	struct fl_table restored; /* positions a former exporter left, until the first sweep */
	/* position writes of the chunk being swept (fl_ops_run) */
	struct xnsg_ct_key *pos_k;
	struct xnsg_fl_pos *pos_v;
	bool *pos_del;
	size_t npos, pos_cap;
	struct fl_names names;
	struct fl_pending *pend;
	size_t npend, pend_cap, pend_head;
	struct xnsg_fl_op *ops;  /* operations of the chunk being swept */
	size_t nops, ops_cap;
	uint64_t interval_ns, next_sweep, grace_ns, consumed_at;
	uint64_t sweep_no, sweep_mono;
	__u64 timeouts[XNSG_TIMEOUTS];
	unsigned int deny_rate;
	uint64_t suppressed_seen; /* datapath's deny_suppressed at the last sweep */
	struct xnsg_fl_stats base; /* the datapath's counters when this run began */
	struct flowlog_export_summary sum;
	int err;                  /* first datapath error of a callback */
	bool logging;             /* this exporter turned logging on */
	bool once;                /* no final sweep (opts.once) */
};

/* Hand r to every output. */
void fl_emit(struct flowlog_export *x, const struct flowlog_record *r);
/* Queue an operation on a flow entry (run at the end of the chunk). */
struct xnsg_fl_op *fl_op(struct flowlog_export *x, unsigned int op, const struct xnsg_ct_key *k,
			 const struct xnsg_ct_val *v);
int fl_ops_run(struct flowlog_export *x);

/* kn's position moved to v's counts (a record carried them). */
void fl_pos_move(struct flowlog_export *x, struct fl_known *kn, const struct xnsg_ct_val *v);
/* A flow newly known: the position a former exporter left for it, if any. */
void fl_pos_restore(struct flowlog_export *x, struct fl_known *kn, uint32_t created);
/* Write the positions queued (after the records that moved them). */
int fl_pos_flush(struct flowlog_export *x);
/* Load the positions a former exporter left (at start), and drop those no
 * flow claimed (after the first sweep). */
int fl_pos_load(struct flowlog_export *x);
void fl_pos_drop_unclaimed(struct flowlog_export *x);
/* Queue the removal of k's stored position. */
void fl_pos_del(struct flowlog_export *x, const struct xnsg_ct_key *k);
/* kn is done with (its E written, or gone): forgotten, its position too. */
void fl_forget(struct flowlog_export *x, struct fl_known *kn);
/* The position of flow (k, created) as known, NULL if none. */
const struct xnsg_fl_pos *fl_pos_of(const struct flowlog_export *x, const struct xnsg_ct_key *k,
				    uint32_t created);

/* events.c */
int fl_on_event(const struct xnsg_event *e, void *arg);
/* The E "evicted" of a known flow gone unseen; removes it from known. */
void fl_evicted(struct flowlog_export *x, struct fl_known *kn, uint64_t now);
/* Write the pending ends due by now (all of them with force). */
int fl_pending_run(struct flowlog_export *x, uint64_t now, bool force);
/* sweep.c */
int fl_sweep(struct flowlog_export *x);
/* An EXPIRE operation's outcome (called by fl_ops_run). */
void fl_expired(struct flowlog_export *x, const struct xnsg_fl_op *o);

#endif
