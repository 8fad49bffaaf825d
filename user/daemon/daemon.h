/* SPDX-License-Identifier: MIT */
/*
 * xnsg run: the long-running form (docs/DESIGN.md §13).  It applies the
 * policy, keeps the flow-log exporter and the metrics endpoint running,
 * reloads atomically on SIGHUP and when the policy file changes, attaches
 * to a policy interface when it appears and forgets one that disappears,
 * and on SIGINT/SIGTERM stops cleanly, leaving enforcement in place
 * unless asked to detach.
 */
#ifndef XNSG_DAEMON_H
#define XNSG_DAEMON_H

#include <stdbool.h>

#include "apply.h"
#include "export.h"

struct run_opts {
	const char *policy;
	const char *version;   /* for xnsg_build_info */
	const char *metrics;   /* ADDR:PORT to serve /metrics on, or NULL */
	bool detach_on_exit;   /* detach --all when stopping */
	enum apply_ingress ingress;
	unsigned int max_flows;
	/* The outputs and knobs of `xnsg flowlog` (docs/DESIGN.md §4); no
	 * output: no exporter. */
	struct flowlog_export_opts flowlog;
};

/* Runs until SIGINT or SIGTERM: the exit status (0 after a clean stop, 1
 * when starting failed, after one line saying why). */
int daemon_run(const struct run_opts *o);

#endif
