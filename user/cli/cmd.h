/* SPDX-License-Identifier: MIT */
/*
 * Command handlers.  Each returns the process exit code: 0 success,
 * 1 failure (policy invalid, kernel refused, ...), 2 usage.
 * argv[0] is the command name; global options are already consumed.
 */
#ifndef XNSG_CMD_H
#define XNSG_CMD_H

#define EXIT_USAGE 2

int cmd_check(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_flows(int argc, char **argv);

#ifndef XNSG_VERSION
#define XNSG_VERSION "0.1.0"
#endif

#include <stddef.h>
#include <stdio.h>

struct command {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *args;
	const char *summary;
};

/* The command table (commands.c). */
extern const struct command commands[];
extern const size_t ncommands;
const struct command *find_command(const char *name);
/* Print the usage of one command to f. */
void cmd_usage(const char *name, FILE *f);
/* Print the top-level usage (every command, global options) to f. */
void xnsg_usage(FILE *f);

#endif
