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

/* Print the usage of one command (from the table in main.c) to f. */
void cmd_usage(const char *name, FILE *f);

#endif
