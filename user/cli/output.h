/* SPDX-License-Identifier: MIT */
/*
 * What a command prints: errors, JSON, tables.  Diagnostics go to stderr,
 * results to stdout; in JSON mode (--json) stdout is one JSON document,
 * and a command that fails without printing its result prints
 * {"error": "..."} there instead, exactly once, with the run's first error.
 *
 * How the first error is known: cli_error() and usage errors keep it;
 * pr_err() from the other modules is kept when the log hands its errors
 * to cli_note_error() (an error hook main() installs); a failure with no
 * kept message still gets an {"error": ...} naming the command.  main()
 * calls cli_finish() with the exit status, which prints it when due.
 */
#ifndef XNSG_OUTPUT_H
#define XNSG_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

/* One error: "xnsg: MSG" on stderr, kept as the run's error for JSON mode. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Keep msg as the run's error unless one is kept already (the log's hook). */
void cli_note_error(const char *msg);
/*
 * The end of a run with exit status ret: in JSON mode, when ret is not 0
 * and nothing was printed on stdout, {"error": FIRST ERROR} (or, when no
 * error was kept, one naming cmd and where to look).  Forgets the run's
 * state (for the next run in one process: tests, a daemon).  Returns ret.
 */
int cli_finish(const char *cmd, int ret);

/* Print j on stdout (json_dumps flags: 0 for one line, JSON_INDENT(2) for
 * a document), keys in insertion order; consumes j. */
void cli_print_json(json_t *j, size_t flags);

/*
 * A table of left-aligned columns, as wide as their widest cell; the last
 * column is not padded.  Each line is indent, then " CELL" per column.
 * A note is a line of its own printed after the row added before it.
 */
struct cli_table;
struct cli_table *cli_table_new(const char *indent, int ncols, const char *const *head);
/* Add a row of ncols cells; the table takes (and frees) the strings. */
void cli_table_row(struct cli_table *t, char **cells);
/* Add a line after the last row; the table takes (and frees) it. */
void cli_table_note(struct cli_table *t, char *line);
/* Print the heading and the rows to f, then free the table. */
void cli_table_print(struct cli_table *t, FILE *f);

#endif
