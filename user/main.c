// SPDX-License-Identifier: MIT
/*
 * xnsg: the global options, from a table like every command's (opts.h),
 * then the command (commands.c).  The run ends in cli_finish(), which
 * owes stdout an {"error": ...} in JSON mode when the command failed.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cmd.h"
#include "cni.h"
#include "log.h"
#include "opts.h"
#include "output.h"

struct global_args {
	int verbose;
	bool help, version;
	struct cli_rest cmd;
};

static int run_xnsg(const void *args);

static const struct cli_opt global_opts[] = {
	CLI_OPTION(struct global_args, verbose, COUNT, "verbose", .short_name = 'v',
		   .help = "more messages (-vv: libbpf debug output too)"),
	CLI_JSON_OPTION("machine-readable output on stdout; errors as {\"error\": ...}"),
	CLI_OPTION(struct global_args, help, FLAG, "help", .short_name = 'h',
		   .help = "this help; 'xnsg COMMAND --help' for one command"),
	CLI_OPTION(struct global_args, version, FLAG, "version", .short_name = 'V',
		   .help = "print the version"),
	CLI_REST(struct global_args, cmd, "COMMAND"),
	CLI_END
};

static const struct cli_command xnsg = {
	.summary = "Azure Network Security Group semantics for Linux, enforced with XDP and TC.",
	.usage = "[-v|-vv] [--json] COMMAND [ARGS]",
	.opts = global_opts,
	.args_size = sizeof(struct global_args),
	.run = run_xnsg,
};

static void xnsg_usage(FILE *f)
{
	fprintf(f, "Usage: xnsg %s\n%s\n\nCommands:\n", xnsg.usage, xnsg.summary);
	cli_print_commands(f);
	fprintf(f, "  %-8s %s\n\nGlobal options:\n", "help", "this help, or 'xnsg help COMMAND'");
	cli_print_options(f, &xnsg);
	fputs("\nExit status: 0 success, 1 failure (invalid policy, kernel refused), 2 bad usage.\n",
	      f);
}

/* xnsg help [COMMAND]; `xnsg help --help` is the same as `xnsg help`
 * (a user asking help how it works gets it, not "unknown command"). */
static int help(const struct cli_rest *r)
{
	const struct cli_command *c;

	if (r->argc < 2 || !strcmp(r->argv[1], "--help") || !strcmp(r->argv[1], "-h")) {
		xnsg_usage(stdout);
		return 0;
	}
	c = find_command(r->argv[1]);
	if (!c) {
		cli_error("unknown command '%s'", r->argv[1]);
		return EXIT_USAGE;
	}
	cli_print_help(stdout, c);
	return 0;
}

static int run_xnsg(const void *args)
{
	const struct global_args *a = args;

	xnsg_verbosity = a->verbose;
	if (a->help) {
		xnsg_usage(stdout);
		return 0;
	}
	if (a->version) {
		printf("xnsg %s\n", XNSG_VERSION);
		return 0;
	}
	if (!a->cmd.argc) { /* the whole help: what a first try wants to see */
		cli_note_error("missing COMMAND");
		xnsg_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(a->cmd.argv[0], "help"))
		return help(&a->cmd);
	return cli_run(a->cmd.argc, a->cmd.argv);
}

int main(int argc, char **argv)
{
	struct global_args a = {};
	const char *self = strrchr(argv[0], '/');
	int ret;

	/* A policy load makes and frees 100,000s of small blocks (a JSON tree,
	 * paths, the model); glibc's fast bins spent a sixth of `check` of
	 * 2 x 4,000 rules consolidating them.  Without them the per-thread
	 * cache and the ordinary bins serve small sizes. */
	mallopt(M_MXFAST, 0);
	/* An update's grace-period keeper runs as this binary again. */
	apply_keeper_exe = "/proc/self/exe";
	if (!strcmp(self ? self + 1 : argv[0], "xnsg-grace"))
		return apply_keeper_main(argc, argv);
	/* One binary: run as xnsg-cni (a link), it is the CNI plugin. */
	if (!strcmp(self ? self + 1 : argv[0], "xnsg-cni"))
		return cni_main();

	/* In JSON mode the first error of any module becomes {"error": ...}. */
	xnsg_log_error_hook = cli_note_error;
	ret = cli_parse(&xnsg, argc, argv, &a);

	/* --help is an option of the table, so CLI_HELP_SHOWN cannot be. */
	ret = ret == CLI_PARSED ? run_xnsg(&a) : EXIT_USAGE;
	return cli_finish(a.cmd.argc ? a.cmd.argv[0] : NULL, ret);
}
