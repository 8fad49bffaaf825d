// SPDX-License-Identifier: MIT
/* xnsg: the command table and global options. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

#ifndef XNSG_VERSION
#define XNSG_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "check", cmd_check, "POLICY",
	  "validate a policy; exit 0 valid, 1 invalid" },
	{ "show", cmd_show, "POLICY [-i IF] [--json]",
	  "effective rules per interface and direction, prefixes expanded" },
	{ "verify", cmd_verify,
	  "POLICY -i IF -d in|out -P PROTO -l LOCAL[:PORT] -r REMOTE[:PORT] [--json] [--datapath]",
	  "IP flow verify: the decision for one flow, and the rule behind it" },
	{ "apply", cmd_apply,
	  "POLICY [-i IF] [--ingress xdp|tc] [--reset-flows] [--max-flows N]",
	  "attach the policy to its interfaces, or atomically update it" },
	{ "detach", cmd_detach, "[-i IF | --all]",
	  "remove programs and pins from one interface or all" },
	{ "status", cmd_status, "[--json]",
	  "what is attached where, policy hash, map fill" },
	{ "stats", cmd_stats, "[--json]",
	  "per-rule hit counters, flow-table counters, drops by reason" },
	{ "flows", cmd_flows, "[--json]",
	  "the tracked flows: 5-tuple, interface, state, age, counters, rule" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

void cmd_usage(const char *name, FILE *f)
{
	const struct command *c = find_command(name);

	if (!c)
		return;
	fprintf(f, "Usage: xnsg %s %s\n  %s\n", c->name, c->args, c->summary);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xnsg [-v|-vv] [--json] COMMAND [ARGS]\n"
		"Azure Network Security Group semantics for Linux, enforced with XDP and TC.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"  %-8s %s\n\n"
		"Global options:\n"
		"  -v, --verbose  more messages (-vv: libbpf debug output too)\n"
		"      --json     machine-readable output on stdout; errors as {\"error\": ...}\n"
		"  -h, --help     this help; 'xnsg COMMAND --help' for one command\n"
		"  -V, --version  print the version\n\n"
		"Exit status: 0 success, 1 failure (invalid policy, kernel refused), 2 bad usage.\n",
		"help", "this help, or 'xnsg help COMMAND'");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const struct command *c;
	int opt;

	/* '+': stop at the first non-option, the command name. */
	while ((opt = getopt_long(argc, argv, "+vhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			xnsg_verbosity++;
			break;
		case 'j':
			xnsg_json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("xnsg %s\n", XNSG_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 < argc) {
			if (!find_command(argv[optind + 1])) {
				fprintf(stderr, "xnsg: unknown command '%s'\n", argv[optind + 1]);
				return EXIT_USAGE;
			}
			cmd_usage(argv[optind + 1], stdout);
			return 0;
		}
		usage(stdout);
		return 0;
	}
	c = find_command(argv[optind]);
	if (!c) {
		fprintf(stderr, "xnsg: unknown command '%s'; see 'xnsg help'\n", argv[optind]);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the command's own parsing */
	return c->handler(argc, argv);
}
