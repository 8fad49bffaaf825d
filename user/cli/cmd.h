/* SPDX-License-Identifier: MIT */
/*
 * The commands.  Each is a struct cli_command (opts.h) defined beside its
 * handler in cmd_NAME.c and listed in commands.c.  A handler returns the
 * process exit status: 0 success, 1 failure (policy invalid, kernel
 * refused, ...), EXIT_USAGE (2) bad usage.
 */
#ifndef XNSG_CMD_H
#define XNSG_CMD_H

#include <stddef.h>
#include <stdio.h>

#include "opts.h"

#ifndef XNSG_VERSION
#define XNSG_VERSION "0.1.0"
#endif

extern const struct cli_command check_command, show_command, verify_command;
extern const struct cli_command apply_command, detach_command;
extern const struct cli_command status_command, stats_command, flows_command;
extern const struct cli_command import_command;
extern const struct cli_command flowlog_command;
extern const struct cli_command cni_command;
extern const struct cli_command run_command;

/* The command table (commands.c), in the order help lists it. */
extern const struct cli_command *const commands[];
extern const size_t ncommands;
const struct cli_command *find_command(const char *name);

/*
 * Run one command: argv[0] is its name, global options are consumed.  An
 * unknown name is a usage error.  Returns the exit status; the caller
 * ends the run with cli_finish().
 */
int cli_run(int argc, char **argv);
/* The same for a known command (a declarative or a legacy one). */
int cli_run_command(const struct cli_command *c, int argc, char **argv);

/* "  NAME     SUMMARY" for every command, as the top-level help lists them. */
void cli_print_commands(FILE *f);
/* The usage line and summary of one command, by name (nothing if unknown):
 * what a legacy command prints after its own usage error. */
void cmd_usage(const char *name, FILE *f);

#endif
