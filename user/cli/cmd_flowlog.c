// SPDX-License-Identifier: MIT
/*
 * xnsg flowlog: the flow-log exporter (user/flowlog/export.h) in the
 * foreground until SIGINT or SIGTERM, which flush and close every output;
 * SIGHUP reopens the JSON lines file (logrotate).  A one-line summary on
 * stderr at the end (with --json, the summary on stdout as JSON).  An
 * output that fails is told at once (then once a minute), and a record
 * lost makes the exit status 1.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "datapath.h"
#include "export.h"
#include "flowlog_cli.h"
#include "log.h"
#include "opts.h"
#include "output.h"

struct flowlog_args {
	struct flowlog_cli fl;
	bool once;
};

static const struct cli_opt flowlog_opts[] = {
	CLI_FLOWLOG_OPTIONS(struct flowlog_args, fl),
	CLI_OPTION(struct flowlog_args, once, FLAG, "once",
		   .help = "one sweep of what is there now, then exit"),
	CLI_JSON_OPTION("the summary at exit as JSON on stdout"),
	CLI_END
};

static volatile sig_atomic_t stop, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stop = 1;
}

/* No SA_RESTART: epoll_wait() returns EINTR and the loop sees the flag. */
static void signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is an output error, counted */
}

static json_t *summary_json(const struct flowlog_export_summary *s)
{
	json_t *outs = json_object();

	for (unsigned int i = 0; i < s->noutputs; i++)
		json_object_set_new(outs, s->out[i].name,
				    json_pack("{s:I, s:I, s:I, s:I}", "exported",
					      (json_int_t)s->out[i].s.exported, "failed",
					      (json_int_t)s->out[i].s.failed, "skipped",
					      (json_int_t)s->out[i].s.skipped, "errors",
					      (json_int_t)s->out[i].s.errors));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			 "records", (json_int_t)s->records, "begin", (json_int_t)s->begins,
			 "continue", (json_int_t)s->conts, "end", (json_int_t)s->ends, "deny",
			 (json_int_t)s->denies, "begin_swept", (json_int_t)s->begin_swept,
			 "end_swept", (json_int_t)s->end_swept, "evicted", (json_int_t)s->evicted,
			 "sweeps", (json_int_t)s->sweeps, "ring_lost", (json_int_t)s->ring_lost,
			 "deny_suppressed", (json_int_t)s->deny_suppressed, "ring_peak_bytes",
			 (json_int_t)s->ring_peak, "ring_bytes", (json_int_t)s->ring_size,
			 "outputs", outs);
}

static void print_summary(const struct flowlog_export_summary *s)
{
	char outs[512] = "";

	for (unsigned int i = 0; i < s->noutputs; i++) {
		size_t n = strlen(outs);

		snprintf(outs + n, sizeof(outs) - n, "; %s: %llu exported, %llu failed", s->out[i].name,
			 (unsigned long long)s->out[i].s.exported,
			 (unsigned long long)s->out[i].s.failed);
		n = strlen(outs);
		if (!strcmp(s->out[i].name, "ipfix"))
			snprintf(outs + n, sizeof(outs) - n, ", %llu send failures",
				 (unsigned long long)s->out[i].s.errors);
		else if (s->out[i].s.skipped)
			snprintf(outs + n, sizeof(outs) - n, ", %llu skipped (format)",
				 (unsigned long long)s->out[i].s.skipped);
	}
	fprintf(stderr,
		"flowlog: %llu records (B %llu, C %llu, E %llu, D %llu) in %llu sweeps%s; "
		"ring buffer events lost %llu; deny records suppressed %llu; "
		"flows evicted before export %llu\n",
		(unsigned long long)s->records, (unsigned long long)s->begins,
		(unsigned long long)s->conts, (unsigned long long)s->ends,
		(unsigned long long)s->denies, (unsigned long long)s->sweeps, outs,
		(unsigned long long)s->ring_lost, (unsigned long long)s->deny_suppressed,
		(unsigned long long)s->evicted);
}

static bool outputs_failed(const struct flowlog_export_summary *s)
{
	for (unsigned int i = 0; i < s->noutputs; i++)
		if (s->out[i].s.failed)
			return true;
	return false;
}

static int do_flowlog(const void *args)
{
	const struct flowlog_args *a = args;
	struct flowlog_export_opts o = { .once = a->once, .what = "flowlog" };
	struct flowlog_export_summary s;
	struct flowlog_export *x;
	int err = flowlog_cli_check(&flowlog_command, &a->fl, true), cerr;
	bool failed;

	if (err)
		return err;
	flowlog_cli_to_opts(&a->fl, &o);
	if (dp_check_env(true))
		return 1;
	signals();
	if (flowlog_export_open(&o, &x))
		return 1;
	if (!a->once)
		err = flowlog_export_loop(x, &stop, &hup);
	if (err)
		pr_err("flowlog: %s", strerror(-err));
	cerr = flowlog_export_close(x, &s);
	failed = outputs_failed(&s);
	if (cerr && !err && !failed) /* a failed record was told as it failed */
		pr_warn("flowlog: some records could not be written (counted as failed)");
	print_summary(&s);
	if (xnsg_json)
		cli_print_json(summary_json(&s), JSON_INDENT(2));
	/* Records lost are a failure a script must see, not only a count. */
	return err || failed ? 1 : 0;
}

const struct cli_command flowlog_command =
	CLI_COMMAND("flowlog", struct flowlog_args, do_flowlog, flowlog_opts,
		    "stream flow logs: JSON lines, Azure flow-log files, IPFIX");
