/* SPDX-License-Identifier: MIT */
/*
 * The flow-log exporter (docs/DESIGN.md §4): the datapath's events and a
 * sweep of its flow table made into records (record.h) for every output
 * (flowlog.h).  One object, driven by its caller's event loop, so that
 * `xnsg flowlog` and the `xnsg run` daemon share it:
 *
 *	struct flowlog_export *x;
 *	flowlog_export_open(&opts, &x);          lock, pins, outputs, logging on
 *	epoll: flowlog_export_fd(x) readable, or flowlog_export_timeout_ms(x)
 *	       passed -> flowlog_export_run(x)  events, due ends, due sweep
 *	SIGHUP -> flowlog_export_reopen(x)       JSON lines file reopened
 *	flowlog_export_close(x, &summary)        final sweep, flush, logging off
 *
 * flowlog_export_loop() is that loop with a stop flag, for a caller that
 * has nothing else to wait for.  Nothing here installs signal handlers
 * or prints, except the one error line of a failed open and the lines
 * about outputs that fail (opts.log_fail), so that a full disk or a
 * refused collector is heard of when it happens, not at exit.
 *
 * What the exporter guarantees: every flow the datapath tracks gets one B
 * and one E record, and every count of it appears once in its records,
 * across exporter restarts - or the loss is counted (`xnsg stats`):
 * events the ring buffer could not take are made up by the sweep from the
 * flow table; a flow that vanished from the table between two sweeps
 * (LRU eviction) gets an E "evicted" with the counts known; denied
 * tuples beyond the datapath's rate limit are counted suppressed.  A
 * flow that began and ended while no exporter ran is not logged.  Killed
 * (SIGKILL), the exporter loses what it had buffered (at most one
 * interval); the datapath keeps the exported position in each flow entry,
 * so its successor repeats no count.
 */
#ifndef XNSG_FLOWLOG_EXPORT_H
#define XNSG_FLOWLOG_EXPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "azure.h"
#include "flowlog.h"
#include "ipfix.h"

#define FLOWLOG_INTERVAL_DEFAULT 60 /* seconds between sweeps (Azure writes once a minute) */

struct flowlog_export_opts {
	const char *jsonl;       /* FILE or "-" (stdout); NULL: none */
	const char *azure_dir;   /* NULL: none */
	enum flowlog_azure_format azure_format;
	bool azure_both;         /* both formats under azure_dir (migrating from v2 to v4) */
	const char *ipfix;       /* HOST:PORT; NULL: none */
	unsigned int ipfix_template_s; /* 0: 60 */
	unsigned int interval_s; /* 0: FLOWLOG_INTERVAL_DEFAULT */
	unsigned int deny_rate;  /* new denied tuples logged per second per CPU; 0: XNSG_DENY_RATE */
	bool once;               /* the sweep at open is the only one: close adds none
				  * (`xnsg flowlog --once`); what it leaves stays in the
				  * flow entries for the next exporter */
	const char *what;        /* noted in the lock for a second exporter to name */
	struct dp *dp;           /* a datapath to use (tests, benchmarks); NULL: the pinned one */
	struct flowlog_clock clock; /* wall clock of records; NULL fn: CLOCK_REALTIME */
	/* Told of each output's failures, one line without a prefix ("jsonl
	 * /dev/full: No space left on device"): the first at once, then a
	 * count at most every FLOWLOG_FAIL_LOG_S.  NULL: pr_err("flowlog: ..."). */
	void (*log_fail)(const char *msg);
};

#define FLOWLOG_FAIL_LOG_S 60 /* seconds between lines about one output's failures */

/* What the exporter did, this run and (total_*) since the datapath was
 * loaded, as `xnsg stats` shows it. */
struct flowlog_export_summary {
	uint64_t records;      /* made, each handed to every output */
	uint64_t begins, ends, conts, denies;
	uint64_t begin_swept;  /* B records the sweep made (event lost or logging was off) */
	uint64_t end_swept;    /* E records the sweep made (idle, closed while unseen, cut) */
	uint64_t evicted;      /* E "evicted": gone between two sweeps */
	uint64_t sweeps;
	uint64_t events, bad_events; /* events consumed; of another size (skipped) */
	uint64_t ring_lost;    /* events the ring buffer could not take (datapath, all runs) */
	uint64_t deny_suppressed; /* denied packets whose tuple got no record (datapath) */
	unsigned long ring_peak, ring_size; /* bytes waiting at most, seen between consumes */
	unsigned int noutputs;
	struct {
		const char *name; /* "jsonl", "azure", "azure-nsg-v2", "ipfix" */
		struct flowlog_stats s;
	} out[4];
};

struct flowlog_export;

/* Take the exporter lock (a second exporter fails naming the holder),
 * open the datapath's pins and the outputs, turn logging on and sweep
 * once.  0 or -errno (one line printed). */
int flowlog_export_open(const struct flowlog_export_opts *o, struct flowlog_export **x);
/* Readable when events wait. */
int flowlog_export_fd(const struct flowlog_export *x);
/* Milliseconds until run() has something due without an event (>= 0). */
int flowlog_export_timeout_ms(const struct flowlog_export *x);
/* Consume events, write the ends whose grace passed, sweep when due.
 * 0 or -errno of the datapath (output errors are counted, not returned). */
int flowlog_export_run(struct flowlog_export *x);
/* Sweep now (also drains events first).  0 or -errno. */
int flowlog_export_sweep(struct flowlog_export *x);
/* Reopen the JSON lines file (after logrotate moved it). */
int flowlog_export_reopen(struct flowlog_export *x);
void flowlog_export_summary(const struct flowlog_export *x, struct flowlog_export_summary *s);
/* Final sweep (none with opts.once), flush and close every output,
 * logging off, lock released; s (may be NULL) gets the summary.  0 or the first error.  NULL: no-op. */
int flowlog_export_close(struct flowlog_export *x, struct flowlog_export_summary *s);

/* Run until *stop: epoll on the fd with the timeout; *hup (may be NULL)
 * set means reopen (and is cleared).  EINTR is a clean wake-up. */
int flowlog_export_loop(struct flowlog_export *x, volatile sig_atomic_t *stop,
			volatile sig_atomic_t *hup);

#endif
