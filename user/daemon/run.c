// SPDX-License-Identifier: MIT
/*
 * xnsg run's event loop (docs/DESIGN.md §13): one thread, one epoll set.
 *
 *   signalfd   SIGHUP reload; SIGINT, SIGTERM stop
 *   inotify    the policy's directory -> reload after a 200 ms quiet spell
 *   rtnetlink  links -> after 100 ms, attach to policy interfaces that
 *              appeared, forget recorded ones that are gone
 *   metrics    libmicrohttpd's epoll fd: scrapes answered in this thread
 *   flow logs  the exporter's fd
 *
 * Signals are taken from a signalfd, never in a handler, so a SIGTERM
 * that arrives during an apply is seen after the transaction, not in the
 * middle of it.  Everything changes enforcement through the apply module
 * and its lock, so `xnsg apply`, `detach` and the CNI plugin may run
 * beside the daemon.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "alloc.h"
#include "datapath.h"
#include "internal.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"

static int watch_fd(struct daemon *d, int fd, unsigned int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	/* A flow-log reader that goes away is an output error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Every fd but the metrics' and the flow logs', watched before the first
 * apply so that no change between it and the loop is missed. */
static int setup(struct daemon *d)
{
	int err;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signals_open();
	d->reload_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->link_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->nlfd = links_open();
	if (d->epfd < 0 || d->sigfd < 0 || d->reload_tfd < 0 || d->link_tfd < 0 || d->nlfd < 0) {
		err = d->nlfd < 0 && d->nlfd != -1 ? d->nlfd : -errno;
		pr_err("cannot set up the event loop: %s", strerror(-err));
		return err;
	}
	err = watch_open(d);
	if (err)
		return err;
	err = watch_fd(d, d->sigfd, EV_SIGNAL) ?: watch_fd(d, d->inofd, EV_INOTIFY)
	      ?: watch_fd(d, d->reload_tfd, EV_RELOAD_TIMER) ?: watch_fd(d, d->nlfd, EV_NETLINK)
	      ?: watch_fd(d, d->link_tfd, EV_LINK_TIMER);
	if (err)
		pr_err("cannot set up the event loop: %s", strerror(-err));
	return err;
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			dflow_rotate(d);
			daemon_reload(d, "SIGHUP", true);
			continue;
		}
		dlog(DLOG_NOTICE, "stopping (%s)", strsignal((int)si.ssi_signo));
		d->stop = true;
	}
}

static void drain_timer(int fd)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
}

static void dispatch(struct daemon *d, unsigned int tag)
{
	switch (tag) {
	case EV_SIGNAL:
		on_signal(d);
		break;
	case EV_INOTIFY:
		if (watch_policy_event(d))
			timer_arm(d->reload_tfd, DAEMON_RELOAD_DEBOUNCE_MS);
		break;
	case EV_RELOAD_TIMER:
		drain_timer(d->reload_tfd);
		daemon_reload(d, "file changed", false);
		break;
	case EV_NETLINK:
		if (links_event(d->nlfd))
			timer_arm(d->link_tfd, DAEMON_LINK_DEBOUNCE_MS);
		break;
	case EV_LINK_TIMER:
		drain_timer(d->link_tfd);
		daemon_sync_links(d);
		break;
	case EV_METRICS:
		break; /* served below, every turn */
	case EV_FLOW:
		break; /* below, every turn */
	}
}

static int loop_timeout(struct daemon *d)
{
	int m = d->metrics ? metrics_timeout_ms(d->metrics) : -1, f = dflow_timeout_ms(d);

	return m < 0 ? f : f < 0 ? m : m < f ? m : f;
}

static void loop(struct daemon *d)
{
	struct epoll_event ev[16];

	while (!d->stop) {
		int n = epoll_wait(d->epfd, ev, 16, loop_timeout(d));

		if (n < 0 && errno != EINTR) {
			dlog(DLOG_ERR, "event loop: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n && !d->stop; i++)
			dispatch(d, ev[i].data.u32);
		if (d->flow)
			dflow_run(d); /* events, and when due the flow-table sweep */
		if (d->metrics)
			metrics_run(d->metrics); /* also closes timed-out connections */
	}
}

/* Before the first apply, so that an address in use changes nothing;
 * scrapes are answered from the loop only. */
static int start_metrics(struct daemon *d)
{
	if (!d->o->metrics)
		return 0;
	d->metrics = metrics_start(d->o->metrics, daemon_scrape, d);
	if (!d->metrics)
		return -errno;
	return watch_fd(d, metrics_fd(d->metrics), EV_METRICS);
}


static void stop(struct daemon *d)
{
	json_t *done = json_array();

	dnotify("STOPPING=1");
	dflow_close(d);
	metrics_stop(d->metrics);
	if (d->o->detach_on_exit) {
		if (apply_detach(NULL, done))
			dlog(DLOG_ERR, "--detach-on-exit: detaching failed; "
				       "'xnsg status' shows what stays");
		else
			dlog(DLOG_INFO, "detached from %zu interface%s; pins removed",
			     json_array_size(done), json_array_size(done) == 1 ? "" : "s");
	} else if (dp_is_pinned()) {
		dlog(DLOG_INFO, "stopped; enforcement stays (pins under %s; 'xnsg detach --all' "
				"removes it)", dp_pin_dir());
	} else {
		dlog(DLOG_INFO, "stopped");
	}
	json_decref(done);
}

static void teardown(struct daemon *d)
{
	int fds[] = { d->epfd, d->sigfd, d->inofd, d->nlfd, d->reload_tfd, d->link_tfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	lock_release(d->lock);
	daemon_free_policy(d);
	free(d->dir);
	free(d->base);
}

static void announce(struct daemon *d)
{
	char *status = daemon_status_line();

	dlog(DLOG_NOTICE, "running: %s%s%s%s; reloads on SIGHUP and when %s changes", status,
	     d->metrics ? "; metrics on http://" : "", d->metrics ? metrics_bound(d->metrics) : "",
	     d->metrics ? "/metrics" : "", d->o->policy);
	dnotify("READY=1\nSTATUS=%s", status);
	free(status);
}

int daemon_run(const struct run_opts *o)
{
	struct daemon d = { .o = o, .epfd = -1, .sigfd = -1, .inofd = -1, .nlfd = -1,
			    .reload_tfd = -1, .link_tfd = -1, .lock = -1 };
	char *what = xasprintf("xnsg run %s", o->policy);
	int err;

	dlog_init();
	/* Its updates' grace periods kept on threads: the process lives on
	 * (a keeper process would be its child, left a zombie). */
	apply_keep_grace_in_process();
	err = dp_check_env(true);
	/* Two daemons on one pin directory would undo each other's reloads. */
	if (!err) {
		d.lock = lock_take(".run.lock", what, 0);
		err = d.lock < 0 ? d.lock : 0;
	}
	free(what);
	if (!err)
		err = setup(&d);
	if (!err)
		err = start_metrics(&d);
	if (!err)
		err = daemon_start_policy(&d);
	if (!err)
		err = dflow_open(&d); /* after the apply: it reads the maps pinned */
	if (!err) {
		announce(&d);
		loop(&d);
	}
	/* Once the policy was applied, stopping is the same whatever failed. */
	if (d.p)
		stop(&d);
	else
		metrics_stop(d.metrics);
	teardown(&d);
	return err ? 1 : 0;
}
