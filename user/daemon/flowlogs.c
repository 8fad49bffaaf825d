// SPDX-License-Identifier: MIT
/*
 * The flow-log exporter of `xnsg flowlog` (user/flowlog/export.h,
 * docs/DESIGN.md §4), embedded: its fd is in the daemon's epoll set and
 * its work runs in the daemon's loop.  Its counters reach the metrics
 * through `xnsg stats`' (the exporter keeps them in the datapath).
 *
 * The exporter reads the pinned maps, which come and go with the
 * datapath: created by the first apply (the daemon may start before any
 * of its interfaces exists), removed with the last interface detached,
 * and made anew by the next apply.  So after every change the daemon
 * makes, and at each of the exporter's timeouts, the pins are looked at
 * (the inode of the pinned xnsg_active, which a new datapath pins anew):
 * the exporter is opened when a datapath appears, closed when it goes,
 * and reopened on a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "alloc.h"
#include "datapath.h"
#include "export.h"
#include "internal.h"
#include "log.h"

struct dflow {
	struct flowlog_export *x;
	dev_t dev;
	ino_t ino; /* of the pinned xnsg_active the exporter opened; 0: none */
	bool run_failed;
};

static bool wanted(const struct flowlog_export_opts *o)
{
	return o->jsonl || o->azure_dir || o->ipfix;
}

/* The pinned datapath's identity: false when nothing is pinned. */
static bool pins_id(dev_t *dev, ino_t *ino)
{
	char *path = xasprintf("%s/%s", dp_pin_dir(), XNSG_MAP_ACTIVE);
	struct stat st;
	bool ok = !stat(path, &st);

	free(path);
	*dev = ok ? st.st_dev : 0;
	*ino = ok ? st.st_ino : 0;
	return ok;
}

static void summary_line(const struct flowlog_export_summary *s, const char *why)
{
	char outs[256] = "";

	for (unsigned int i = 0; i < s->noutputs; i++) {
		size_t n = strlen(outs);

		snprintf(outs + n, sizeof(outs) - n, "%s %s %llu exported, %llu lost",
			 i ? ";" : "", s->out[i].name, (unsigned long long)s->out[i].s.exported,
			 (unsigned long long)s->out[i].s.failed);
	}
	dlog(DLOG_INFO, "flow logs %s: %llu records in %llu sweeps;%s", why,
	     (unsigned long long)s->records, (unsigned long long)s->sweeps, outs);
}

static void close_exporter(struct daemon *d, const char *why)
{
	struct flowlog_export_summary s;

	if (!d->flow->x)
		return;
	if (flowlog_export_close(d->flow->x, &s))
		dlog(DLOG_WARN, "flow logs: some records could not be written (counted as lost)");
	summary_line(&s, why);
	d->flow->x = NULL; /* its fd left the epoll set when it was closed */
	d->flow->ino = 0;
}

/* An output's failures, as they happen, in the journal (the exporter
 * limits them to one line a minute an output). */
static void log_fail(const char *msg)
{
	dlog(DLOG_ERR, "flow logs: %s", msg);
}

static int open_exporter(struct daemon *d, dev_t dev, ino_t ino)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_FLOW };
	struct flowlog_export_opts o = d->o->flowlog;
	int err;

	o.log_fail = log_fail;
	err = flowlog_export_open(&o, &d->flow->x);

	if (err) {
		d->flow->x = NULL;
		return err;
	}
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, flowlog_export_fd(d->flow->x), &ev)) {
		err = -errno;
		pr_err("flow logs: cannot poll the ring buffer: %s", strerror(-err));
		flowlog_export_close(d->flow->x, NULL);
		d->flow->x = NULL;
		return err;
	}
	d->flow->dev = dev;
	d->flow->ino = ino;
	d->flow->run_failed = false;
	dlog(DLOG_INFO, "flow logs: exporting%s%s%s%s%s%s",
	     d->o->flowlog.jsonl ? " JSON lines to " : "", d->o->flowlog.jsonl ?: "",
	     d->o->flowlog.azure_dir ? " Azure flow logs under " : "",
	     d->o->flowlog.azure_dir ?: "", d->o->flowlog.ipfix ? " IPFIX to " : "",
	     d->o->flowlog.ipfix ?: "");
	return 0;
}

int dflow_open(struct daemon *d)
{
	dev_t dev;
	ino_t ino;

	if (!wanted(&d->o->flowlog))
		return 0;
	d->flow = xcalloc(1, sizeof(*d->flow));
	if (!pins_id(&dev, &ino)) {
		dlog(DLOG_NOTICE, "flow logs start when the policy is first applied");
		return 0;
	}
	return open_exporter(d, dev, ino);
}

/* Follow the pins: open, close or reopen the exporter. */
static void follow_pins(struct daemon *d)
{
	dev_t dev;
	ino_t ino;
	bool pinned;

	if (!d->flow)
		return;
	pinned = pins_id(&dev, &ino);
	if (d->flow->x && (!pinned || dev != d->flow->dev || ino != d->flow->ino))
		close_exporter(d, pinned ? "restart on a new datapath"
					 : "stop: nothing is applied");
	if (pinned && !d->flow->x && open_exporter(d, dev, ino))
		dlog(DLOG_ERR, "flow logs: cannot start; retried after the next change");
}

int dflow_timeout_ms(struct daemon *d)
{
	if (!d->flow)
		return -1;
	/* Without an exporter, look at the pins again now and then. */
	return d->flow->x ? flowlog_export_timeout_ms(d->flow->x) : 5000;
}

void dflow_run(struct daemon *d)
{
	int err;

	if (!d->flow)
		return;
	if (!d->flow->x || flowlog_export_timeout_ms(d->flow->x) == 0)
		follow_pins(d);
	if (!d->flow->x)
		return;
	err = flowlog_export_run(d->flow->x);
	if (err && !d->flow->run_failed)
		dlog(DLOG_ERR, "flow logs: %s", strerror(-err));
	d->flow->run_failed = err != 0;
}

/*
 * After a change of enforcement the exporter sweeps at once: the sweep
 * also reads the new generation's rule names, which the records of flows
 * it judges must carry; the exporter would otherwise read them only at
 * its next sweep (up to --interval later), naming the new flows' rules
 * with the slots' previous owners.  (known difference: an apply made by
 * another process, `xnsg apply` or the CNI plugin, is seen at that next
 * sweep only.)
 */
void dflow_reopen(struct daemon *d)
{
	int err;

	follow_pins(d);
	if (!d->flow || !d->flow->x)
		return;
	err = flowlog_export_sweep(d->flow->x);
	if (err)
		dlog(DLOG_ERR, "flow logs: sweep after the change: %s", strerror(-err));
}

void dflow_rotate(struct daemon *d)
{
	int err;

	if (!d->flow || !d->flow->x)
		return;
	err = flowlog_export_reopen(d->flow->x);
	if (err)
		dlog(DLOG_ERR, "flow logs: cannot reopen %s: %s",
		     d->o->flowlog.jsonl ?: "the outputs", strerror(-err));
}

void dflow_close(struct daemon *d)
{
	if (!d->flow)
		return;
	close_exporter(d, "stopped");
	free(d->flow);
	d->flow = NULL;
}
