// SPDX-License-Identifier: MIT
/*
 * The flow-log exporter of `xnsg flowlog` (docs/DESIGN.md §4), embedded:
 * the daemon polls its fd in the same event loop and reads its output
 * counters for the metrics.
 *
 * (known difference: the exporter is not built yet; until it is, asking
 * `run` for flow logs is refused at start.)
 */
#include <errno.h>

#include "internal.h"
#include "log.h"

static bool wanted(const struct run_flowlog_opts *o)
{
	return o->jsonl || o->azure || o->ipfix;
}

int dflow_open(struct daemon *d)
{
	if (!wanted(&d->o->flowlog))
		return 0;
	pr_err("flow logs are not available in this build");
	return -EOPNOTSUPP;
}

int dflow_fd(struct daemon *d)
{
	(void)d;
	return -1;
}

int dflow_timeout_ms(struct daemon *d)
{
	(void)d;
	return -1;
}

void dflow_run(struct daemon *d)
{
	(void)d;
}

void dflow_reopen(struct daemon *d)
{
	(void)d;
}

void dflow_close(struct daemon *d)
{
	(void)d;
}

void dflow_stats(struct daemon *d, json_t *snap)
{
	(void)d;
	(void)snap;
}
