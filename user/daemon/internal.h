/* SPDX-License-Identifier: MIT */
/* What the daemon's files share (docs/DESIGN.md §13); not an API. */
#ifndef XNSG_DAEMON_INTERNAL_H
#define XNSG_DAEMON_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"

struct policy;
struct compiled;
struct metrics_server;
struct dflow;

/* What an epoll event of the daemon's loop is about (data.u32). */
enum { EV_SIGNAL, EV_INOTIFY, EV_RELOAD_TIMER, EV_NETLINK, EV_LINK_TIMER, EV_METRICS, EV_FLOW };

/* Syslog priorities for journal lines ("<3>..."): syslog.h's names clash
 * with log.h's. */
enum { DLOG_ERR = 3, DLOG_WARN = 4, DLOG_NOTICE = 5, DLOG_INFO = 6 };

/* Debounce of policy-file events: editors write, rename and chmod in a
 * burst; one reload after the burst. */
#define DAEMON_RELOAD_DEBOUNCE_MS 200
/* Link events come several per interface (created, renamed, up). */
#define DAEMON_LINK_DEBOUNCE_MS 100

struct daemon {
	const struct run_opts *o;
	int epfd, sigfd, inofd, nlfd, reload_tfd, link_tfd;
	int lock;              /* one daemon a pin directory (".run.lock") */
	char *dir, *base;      /* where the policy file's events are watched */
	uint64_t hash;         /* of the policy file last loaded (0: none) */
	struct policy *p;      /* the last policy loaded successfully */
	struct compiled *c;
	json_t *access;        /* "NSG/Direction/RULE" -> "Allow"|"Deny" of p */
	bool reload_ok;
	double reload_ts;      /* seconds since the epoch */
	unsigned long reloads_ok, reloads_failed;
	struct metrics_server *metrics;
	struct dflow *flow;    /* flow-log exporter, or NULL */
	bool stop;
};

/* ---- journal.c: one line an event, sd_notify ------------------------- */
void dlog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dlog_init(void);
/* sd_notify() with a printf format: READY=1, RELOADING=1, STOPPING=1,
 * STATUS=...; nothing when not run by systemd. */
void dnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- watch.c: inotify on the policy's directory, rtnetlink ---------- */
int watch_open(struct daemon *d);
/* Drain the inotify fd: whether an event may concern the policy file. */
bool watch_policy_event(struct daemon *d);
int links_open(void);
/* Drain the rtnetlink socket: whether a link appeared, changed or went
 * away (or events were lost: then every interface is checked anyway). */
bool links_event(int fd);
/* Arm a one-shot timerfd ms from now (a re-arm pushes it later). */
void timer_arm(int tfd, unsigned int ms);

/* ---- reload.c: load, apply, reload, follow interfaces ---------------- */
/* The first load and apply: 0, or -errno after one line. */
int daemon_start_policy(struct daemon *d);
/* A reload (why: "SIGHUP", "file changed"); force: even when the file's
 * content is what was loaded. */
void daemon_reload(struct daemon *d, const char *why, bool force);
/* Attach to policy interfaces that appeared, forget recorded ones that
 * are gone. */
void daemon_sync_links(struct daemon *d);
void daemon_free_policy(struct daemon *d);
/* "enforcing FILE (hash H, serial S) on N interfaces" for STATUS=. */
char *daemon_status_line(void);

/* ---- scrape.c: the metrics snapshot ---------------------------------- */
char *daemon_scrape(void *arg, size_t *len);

/* ---- flowlogs.c: the flow-log exporter, embedded -------------------- */
/* Open the outputs the options name (none: no exporter), or wait for the
 * first apply to pin a datapath: -errno after one line.  The exporter's
 * fd joins the epoll set as EV_FLOW. */
int dflow_open(struct daemon *d);
/* How long the loop may wait for it (-1: no exporter), and its work when
 * its fd is ready or the wait is over. */
int dflow_timeout_ms(struct daemon *d);
void dflow_run(struct daemon *d);
/* After a change of enforcement: the datapath may be new (the last
 * interface went and one came back) or gone. */
void dflow_reopen(struct daemon *d);
/* SIGHUP: reopen the JSON lines file (logrotate). */
void dflow_rotate(struct daemon *d);
void dflow_close(struct daemon *d);

#endif
