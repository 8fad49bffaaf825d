// SPDX-License-Identifier: MIT
/*
 * The command table and the dispatcher: find a command by name, parse
 * its options from its table (opts.h) and run it.  Kept out of main.c so
 * the tests run commands exactly as the binary does.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "output.h"

const struct cli_command *const commands[] = {
	&check_command,	 &show_command,	  &verify_command, &apply_command,
	&detach_command, &status_command, &stats_command,  &flows_command,
	&import_command,
	&flowlog_command,
	&cni_command,
	&run_command,
};
const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

void cli_print_commands(FILE *f)
{
	for (size_t i = 0; i < ncommands; i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
}

void cmd_usage(const char *name, FILE *f)
{
	const struct cli_command *c = find_command(name);

	if (c)
		cli_print_usage(f, c);
}

/* A legacy command parses its own argv, but its --help comes from the
 * table like every other command's. */
static int run_legacy(const struct cli_command *c, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cli_print_help(stdout, c);
			return 0;
		}
	}
	optind = 0; /* a full getopt reset for the command's own parsing */
	return c->legacy(argc, argv);
}

int cli_run_command(const struct cli_command *c, int argc, char **argv)
{
	void *args;
	int ret;

	if (c->legacy)
		return run_legacy(c, argc, argv);
	args = xcalloc(1, c->args_size);
	if (c->defaults)
		memcpy(args, c->defaults, c->args_size);
	ret = cli_parse(c, argc, argv, args);
	if (ret == CLI_PARSED)
		ret = c->run(args);
	else
		ret = ret == CLI_HELP_SHOWN ? 0 : EXIT_USAGE;
	free(args);
	return ret;
}

int cli_run(int argc, char **argv)
{
	const struct cli_command *c = find_command(argv[0]);

	if (!c) {
		cli_error("unknown command '%s'; see 'xnsg help'", argv[0]);
		return EXIT_USAGE;
	}
	return cli_run_command(c, argc, argv);
}
