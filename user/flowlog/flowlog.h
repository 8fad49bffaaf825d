/* SPDX-License-Identifier: MIT */
/*
 * Flow-log exporters: one object per output, all driven the same way.
 *
 *	e = flowlog_jsonl_open(&opts);        (or _azure_open, _ipfix_open)
 *	flowlog_write(e, &rec);               for each record
 *	flowlog_flush(e);                     every interval, and before exit
 *	flowlog_reopen(e);                    on SIGHUP (logrotate)
 *	flowlog_close(e);                     flushes, frees
 *
 * Each format's pure formatter (records in, bytes out) sits in its own
 * header (jsonl.h, azure.h, ipfix.h); the exporter adds only the I/O.
 *
 * Accounting (issue 11: every record is exported or counted, never
 * silently lost).  For every record written:
 *	written = exported + failed + skipped + pending
 * where pending are records buffered since the last flush (0 right after
 * a successful flush).  exported: the bytes went out (write(2) returned,
 * the datagram was sent, the file holding them was renamed into place).
 * failed: an output error lost them.  skipped: the format cannot carry
 * the record (NSG flow logs v2 know only TCP and UDP; Azure files need
 * an NSG).
 *
 * Errors follow libbpf's convention: ints are 0 or -errno, constructors
 * return NULL and set errno.  No function prints; the caller reports
 * stats and the last error once, at the command boundary.
 */
#ifndef XNSG_FLOWLOG_H
#define XNSG_FLOWLOG_H

#include <stdint.h>

#include "record.h"

struct flowlog_stats {
	uint64_t written;  /* records handed to flowlog_write() */
	uint64_t exported; /* records that went out */
	uint64_t failed;   /* records lost to an output error */
	uint64_t skipped;  /* records the format cannot represent */
	uint64_t errors;   /* failed I/O operations (one may lose many records) */
	int last_err;      /* -errno of the latest failure, 0 if none */
};

/* Wall clock in ns; injected so tests control time (hourly rotation,
 * template refresh, export timestamps).  NULL means CLOCK_REALTIME. */
typedef uint64_t (*flowlog_clock_fn)(void *ctx);

struct flowlog_clock {
	flowlog_clock_fn fn;
	void *ctx;
};

struct flowlog_exporter;

struct flowlog_exporter_ops {
	const char *name; /* "jsonl", "azure", "ipfix" */
	int (*write)(struct flowlog_exporter *e, const struct flowlog_record *r);
	int (*flush)(struct flowlog_exporter *e);
	int (*reopen)(struct flowlog_exporter *e); /* NULL: nothing to reopen */
	void (*destroy)(struct flowlog_exporter *e);
};

/* The common head of every exporter (each embeds it first). */
struct flowlog_exporter {
	const struct flowlog_exporter_ops *ops;
	struct flowlog_stats stats;
	struct flowlog_clock clock;
};

/* Record r: 0, or -errno of an output error (a lost record, or a flush
 * the buffer triggered); stats say which records were lost. */
int flowlog_write(struct flowlog_exporter *e, const struct flowlog_record *r);
/* Push everything buffered out: 0 or the first -errno (records counted). */
int flowlog_flush(struct flowlog_exporter *e);
/* Reopen the output (a rotated file): 0 or -errno; a no-op where there
 * is nothing to reopen. */
int flowlog_reopen(struct flowlog_exporter *e);
/* Flush and free; returns the flush's result.  NULL is a no-op. */
int flowlog_close(struct flowlog_exporter *e);
const struct flowlog_stats *flowlog_get_stats(const struct flowlog_exporter *e);
const char *flowlog_exporter_name(const struct flowlog_exporter *e);

/* ---- for the exporters ------------------------------------------------ */

uint64_t flowlog_realtime_ns(void *ctx);
uint64_t flowlog_now(const struct flowlog_exporter *e);
void flowlog_init(struct flowlog_exporter *e, const struct flowlog_exporter_ops *ops,
		  const struct flowlog_clock *clock);
/* Count n records lost to error err (a -errno). */
void flowlog_fail(struct flowlog_exporter *e, uint64_t n, int err);
/* Write all of buf to fd, retrying short writes and EINTR: 0 or -errno. */
int flowlog_write_all(int fd, const void *buf, size_t len);

/* ---- the outputs ------------------------------------------------------ */

struct flowlog_jsonl_opts {
	const char *path; /* a file (appended to, created 0640) or "-" for stdout */
};
struct flowlog_exporter *flowlog_jsonl_open(const struct flowlog_jsonl_opts *o);

struct flowlog_azure_opts;  /* azure.h */
struct flowlog_exporter *flowlog_azure_open(const struct flowlog_azure_opts *o);

struct flowlog_ipfix_opts;  /* ipfix.h */
struct flowlog_exporter *flowlog_ipfix_open(const struct flowlog_ipfix_opts *o);

#endif
