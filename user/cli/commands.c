// SPDX-License-Identifier: MIT
/*
 * The command table: names, handlers, usage lines.  Kept out of main.c so
 * every command (and the tests that call them) can print its usage.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

const struct command commands[] = {
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
const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
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

void xnsg_usage(FILE *f)
{
	fprintf(f,
		"Usage: xnsg [-v|-vv] [--json] COMMAND [ARGS]\n"
		"Azure Network Security Group semantics for Linux, enforced with XDP and TC.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < ncommands; i++)
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
