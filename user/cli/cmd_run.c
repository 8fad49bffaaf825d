// SPDX-License-Identifier: MIT
/*
 * xnsg run: options in, the daemon (user/daemon/) does the rest.  The
 * flow-log options are `xnsg flowlog`'s, from the same table entries
 * (flowlog_cli.h; a test compares the two --help texts).
 */
#include "apply.h"
#include "cmd.h"
#include "daemon.h"
#include "flowlog_cli.h"
#include "metrics.h"
#include "opts.h"
#include "output.h"

struct run_args {
	const char *file, *metrics;
	struct flowlog_cli fl;
	unsigned int max_flows;
	int ingress;
	bool detach_on_exit;
};

static const struct cli_word ingress_words[] = {
	{ "xdp", APPLY_INGRESS_XDP },
	{ "tc", APPLY_INGRESS_TC },
	{ NULL, 0 },
};

static const struct cli_opt run_opts[] = {
	CLI_POSITIONAL(struct run_args, file, "POLICY"),
	CLI_FLOWLOG_OPTIONS(struct run_args, fl),
	CLI_OPTION(struct run_args, metrics, STRING, "metrics", .arg = "ADDR:PORT",
		   .help = "serve Prometheus metrics at http://ADDR:PORT/metrics (PORT alone: "
			   "127.0.0.1)"),
	CLI_OPTION(struct run_args, detach_on_exit, FLAG, "detach-on-exit",
		   .help = "detach from every interface when stopping (default: keep enforcing)"),
	CLI_OPTION(struct run_args, ingress, ENUM, "ingress", .arg = "xdp|tc",
		   .words = ingress_words,
		   .help = "receive hook for interfaces it attaches: XDP (default) or TC ingress"),
	CLI_OPTION(struct run_args, max_flows, UINT, "max-flows", .arg = "N", .min = 1024,
		   .max = 1U << 26, .help = "IPv4 flows the flow table holds, IPv6 a quarter; set at creation (default 1048576)"),
	CLI_END
};

const struct cli_command run_command;

static int check_args(const struct run_args *a)
{
	struct metrics_addr addr;
	char why[128];

	if (flowlog_cli_check(&run_command, &a->fl, false))
		return EXIT_USAGE;
	if (a->metrics && metrics_check_addr(a->metrics, &addr, why, sizeof(why)))
		return cli_cmd_usage_error(&run_command, "--metrics %s: %s", a->metrics, why);
	return 0;
}

static int do_run(const void *args)
{
	const struct run_args *a = args;
	struct run_opts o = {
		.policy = a->file, .version = XNSG_VERSION, .metrics = a->metrics,
		.detach_on_exit = a->detach_on_exit, .ingress = a->ingress,
		.max_flows = a->max_flows, .flowlog = { .what = "run" },
	};
	int err = check_args(a);

	if (err)
		return err;
	flowlog_cli_to_opts(&a->fl, &o.flowlog);
	return daemon_run(&o);
}

const struct cli_command run_command =
	CLI_COMMAND("run", struct run_args, do_run, run_opts,
		    "daemon: apply, follow interfaces, reload on change, flow logs, metrics");
