/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics (docs/DESIGN.md §13): a pure renderer, JSON snapshot
 * in, text exposition format 0.0.4 out; and a small HTTP endpoint
 * (libmicrohttpd, driven from the caller's event loop) serving it at
 * /metrics.  The metrics module never reads the kernel: its caller
 * collects the snapshot through the apply module's reports.
 */
#ifndef XNSG_METRICS_H
#define XNSG_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The text for one scrape from a snapshot, every key optional:
 *
 *   "version":  "0.1.0"                              xnsg_build_info
 *   "stats":    apply_stats()                        rules, drops, flows, flow logs
 *   "status":   apply_status()                       generation, interfaces
 *   "access":   {"NSG/Direction/RULE": "Allow"|"Deny"}  the access label
 *   "daemon":   {"reload_success": bool, "reload_timestamp": seconds,
 *                "reloads_ok": N, "reloads_failed": N}
 *
 * A new string (free()); *len its length.
 */
char *metrics_render(json_t *snap, size_t *len);

/* ---- the HTTP endpoint (http.c) --------------------------------------- */

struct metrics_addr {
	char host[64];	/* numeric, as given (IPv6 without brackets) */
	unsigned int port;
	bool loopback;
};

/*
 * "PORT", ":PORT" (both 127.0.0.1), "ADDR:PORT" or "[ADDR6]:PORT", ADDR
 * numeric: 0, or -EINVAL with one line saying what is wrong.
 */
int metrics_parse_addr(const char *spec, struct metrics_addr *a);
/* The same without printing: what is wrong goes into why (for a usage
 * error of the command that was given the address). */
int metrics_check_addr(const char *spec, struct metrics_addr *a, char *why, size_t len);

/* The scrape's text: a new string of *len bytes, or NULL (503). */
typedef char *(*metrics_collect_fn)(void *arg, size_t *len);

struct metrics_server;

/*
 * Listen on spec (metrics_parse_addr()) and answer GET /metrics with
 * collect()'s text.  Nothing happens outside metrics_run(): the caller
 * polls metrics_fd() and calls it, so the text is collected in the
 * caller's thread.  NULL (errno set) after one line saying why.
 */
struct metrics_server *metrics_start(const char *spec, metrics_collect_fn collect, void *arg);
/* An fd that is readable when metrics_run() has work. */
int metrics_fd(const struct metrics_server *m);
/* Serve what is ready; never blocks. */
void metrics_run(struct metrics_server *m);
/* How long the caller may wait before calling metrics_run() again, in ms
 * (-1: as long as it likes). */
int metrics_timeout_ms(struct metrics_server *m);
/* "127.0.0.1:9108" as bound (the port the kernel chose for port 0). */
const char *metrics_bound(const struct metrics_server *m);
void metrics_stop(struct metrics_server *m);

#endif
