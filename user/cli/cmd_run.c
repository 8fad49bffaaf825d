// SPDX-License-Identifier: MIT
/*
 * xnsg run: options in, the daemon (user/daemon/) does the rest.  The
 * flow-log options are `xnsg flowlog`'s, with the same names, arguments
 * and help (a test compares the two --help texts).
 */
#include "apply.h"
#include "cmd.h"
#include "daemon.h"
#include "metrics.h"
#include "opts.h"
#include "output.h"

struct run_args {
	const char *file, *metrics, *jsonl, *azure, *ipfix;
	int azure_format; /* 0: not given, else enum flowlog_azure_format + 1 */
	unsigned int interval, deny_rate, templates, max_flows;
	int ingress;
	bool detach_on_exit;
};

#define FORMAT_BOTH 3 /* as `xnsg flowlog --azure-format both` */

static const struct cli_word format_words[] = {
	{ "vnet-v4", FLOWLOG_AZURE_VNET_V4 + 1 },
	{ "nsg-v2", FLOWLOG_AZURE_NSG_V2 + 1 },
	{ "both", FORMAT_BOTH },
	{ NULL, 0 },
};

static const struct cli_word ingress_words[] = {
	{ "xdp", APPLY_INGRESS_XDP },
	{ "tc", APPLY_INGRESS_TC },
	{ NULL, 0 },
};

static const struct cli_opt run_opts[] = {
	CLI_POSITIONAL(struct run_args, file, "POLICY"),
	CLI_OPTION(struct run_args, jsonl, STRING, "jsonl", .arg = "FILE|-",
		   .help = "JSON lines to FILE (appended; reopened on SIGHUP) or stdout"),
	CLI_OPTION(struct run_args, azure, STRING, "azure", .arg = "DIR",
		   .help = "Azure flow-log blobs (hourly PT1H.json) under DIR"),
	CLI_OPTION(struct run_args, azure_format, ENUM, "azure-format",
		   .arg = "vnet-v4|nsg-v2|both", .words = format_words,
		   .help = "VNet flow logs v4 (default), NSG flow logs v2, or both"),
	CLI_OPTION(struct run_args, ipfix, STRING, "ipfix", .arg = "HOST:PORT",
		   .help = "IPFIX over UDP to a collector ([IPV6]:PORT for IPv6)"),
	CLI_OPTION(struct run_args, interval, UINT, "interval", .arg = "S", .min = 1,
		   .max = 3600, .help = "seconds between sweeps of the flow table (default 60)"),
	CLI_OPTION(struct run_args, deny_rate, UINT, "deny-rate", .arg = "N", .min = 1,
		   .max = 10000000,
		   .help = "new denied 5-tuples logged per second per CPU (default 1000)"),
	CLI_OPTION(struct run_args, templates, UINT, "ipfix-templates", .arg = "S", .min = 1,
		   .max = 3600, .help = "seconds between IPFIX template refreshes (default 60)"),
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

static int check_args(const struct run_args *a)
{
	struct metrics_addr addr;

	if (a->azure_format && !a->azure)
		return cli_cmd_usage_error(&run_command, "--azure-format needs --azure");
	if (a->templates && !a->ipfix)
		return cli_cmd_usage_error(&run_command, "--ipfix-templates needs --ipfix");
	if ((a->interval || a->deny_rate) && !a->jsonl && !a->azure && !a->ipfix)
		return cli_cmd_usage_error(&run_command, "--interval and --deny-rate need an "
					   "output: --jsonl, --azure or --ipfix");
	if (a->metrics && metrics_parse_addr(a->metrics, &addr))
		return EXIT_USAGE;
	return 0;
}

static int do_run(const void *args)
{
	const struct run_args *a = args;
	struct run_opts o = {
		.policy = a->file, .version = XNSG_VERSION, .metrics = a->metrics,
		.detach_on_exit = a->detach_on_exit, .ingress = a->ingress,
		.max_flows = a->max_flows,
		.flowlog = {
			.jsonl = a->jsonl, .azure_dir = a->azure, .ipfix = a->ipfix,
			.azure_format = a->azure_format && a->azure_format != FORMAT_BOTH
						? a->azure_format - 1 : FLOWLOG_AZURE_VNET_V4,
			.azure_both = a->azure_format == FORMAT_BOTH,
			.interval_s = a->interval, .deny_rate = a->deny_rate,
			.ipfix_template_s = a->templates, .what = "run",
		},
	};
	int err = check_args(a);

	return err ? err : daemon_run(&o);
}

const struct cli_command run_command =
	CLI_COMMAND("run", struct run_args, do_run, run_opts,
		    "daemon: apply, follow interfaces, reload on change, flow logs, metrics");
