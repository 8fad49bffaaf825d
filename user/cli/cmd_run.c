// SPDX-License-Identifier: MIT
/* xnsg run: options in, the daemon (user/daemon/) does the rest. */
#include "apply.h"
#include "cmd.h"
#include "daemon.h"
#include "metrics.h"
#include "opts.h"
#include "output.h"

struct run_args {
	const char *file, *metrics, *jsonl, *azure, *ipfix;
	unsigned int interval, max_flows;
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
	CLI_OPTION(struct run_args, jsonl, STRING, "jsonl", .arg = "FILE|-",
		   .help = "flow logs as JSON lines to FILE, or - for stdout"),
	CLI_OPTION(struct run_args, azure, STRING, "azure", .arg = "DIR",
		   .help = "flow logs as Azure NSG flow-log files (PT1H.json) under DIR"),
	CLI_OPTION(struct run_args, ipfix, STRING, "ipfix", .arg = "HOST:PORT",
		   .help = "flow logs as IPFIX over UDP to a collector"),
	CLI_OPTION(struct run_args, interval, UINT, "interval", .arg = "S", .min = 1, .max = 3600,
		   .help = "seconds between flow-table sweeps (default 60)"),
	CLI_OPTION(struct run_args, metrics, STRING, "metrics", .arg = "ADDR:PORT",
		   .help = "serve Prometheus metrics at http://ADDR:PORT/metrics (PORT alone: "
			   "127.0.0.1)"),
	CLI_OPTION(struct run_args, detach_on_exit, FLAG, "detach-on-exit",
		   .help = "detach from every interface when stopping (default: keep enforcing)"),
	CLI_OPTION(struct run_args, ingress, ENUM, "ingress", .arg = "xdp|tc",
		   .words = ingress_words,
		   .help = "receive hook for interfaces it attaches: XDP (default) or TC ingress"),
	CLI_OPTION(struct run_args, max_flows, UINT, "max-flows", .arg = "N", .min = 1024,
		   .max = 1U << 26, .help = "flow table size when it is created (default 1048576)"),
	CLI_END
};

const struct cli_command run_command;

static int do_run(const void *args)
{
	const struct run_args *a = args;
	struct run_opts o = {
		.policy = a->file, .version = XNSG_VERSION, .metrics = a->metrics,
		.detach_on_exit = a->detach_on_exit, .ingress = a->ingress,
		.max_flows = a->max_flows,
		.flowlog = { .jsonl = a->jsonl, .azure = a->azure, .ipfix = a->ipfix,
			     .interval = a->interval },
	};
	struct metrics_addr addr;

	if (a->metrics && metrics_parse_addr(a->metrics, &addr))
		return EXIT_USAGE;
	return daemon_run(&o);
}

const struct cli_command run_command =
	CLI_COMMAND("run", struct run_args, do_run, run_opts,
		    "daemon: apply, follow interfaces, reload on change, flow logs, metrics");
