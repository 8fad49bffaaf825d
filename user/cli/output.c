// SPDX-License-Identifier: MIT
/* The output module (output.h): errors, JSON, tables. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "opts.h"
#include "output.h"

/* What this run has printed and failed with, for cli_finish(). */
static struct {
	char *error;	/* the first error, without "xnsg: " */
	bool printed;	/* something went to stdout through this module */
} run;

void cli_note_error(const char *msg)
{
	if (!run.error)
		run.error = xstrdup(msg);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pr_err("%s", msg);
	cli_note_error(msg);
	free(msg);
}

void cli_print_json(json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags | JSON_PRESERVE_ORDER);

	if (s)
		puts(s);
	free(s);
	json_decref(j);
	run.printed = true;
}

/* For a failure no message was kept for (a legacy command's own getopt
 * error): what failed and where the reason is. */
static char *fallback_error(const char *cmd, int ret)
{
	if (ret == EXIT_USAGE)
		return cmd ? xasprintf("%s: bad usage, see 'xnsg %s --help'", cmd, cmd)
			   : xstrdup("bad usage, see 'xnsg --help'");
	return xasprintf("%s failed, the reason is on stderr", cmd ? cmd : "xnsg");
}

int cli_finish(const char *cmd, int ret)
{
	if (xnsg_json && ret && !run.printed) {
		char *msg = run.error ? xstrdup(run.error) : fallback_error(cmd, ret);

		cli_print_json(json_pack("{s:s}", "error", msg), 0);
		free(msg);
	}
	/* A result that did not reach stdout (a full disk under `import >
	 * policy.json`) is a failure, never exit 0. */
	if ((fflush(stdout) || ferror(stdout)) && !ret) {
		pr_err("standard output: %s", strerror(errno ? errno : EIO));
		ret = 1;
	}
	free(run.error);
	memset(&run, 0, sizeof(run));
	return ret;
}

/* ---- tables ---------------------------------------------------------- */

struct cli_line {
	char **cells;	/* ncols cells, or NULL for a note */
	char *note;
};

struct cli_table {
	const char *indent;
	int ncols;
	const char *const *head;
	struct cli_line *v;
	size_t n, cap;
};

struct cli_table *cli_table_new(const char *indent, int ncols, const char *const *head)
{
	struct cli_table *t = xcalloc(1, sizeof(*t));

	t->indent = indent;
	t->ncols = ncols;
	t->head = head;
	return t;
}

void cli_table_row(struct cli_table *t, char **cells)
{
	VEC_GROW(t);
	t->v[t->n].cells = xcalloc((size_t)t->ncols, sizeof(char *));
	memcpy(t->v[t->n].cells, cells, (size_t)t->ncols * sizeof(char *));
	t->v[t->n++].note = NULL;
}

void cli_table_note(struct cli_table *t, char *line)
{
	VEC_GROW(t);
	t->v[t->n].cells = NULL;
	t->v[t->n++].note = line;
}

static void print_cells(FILE *f, const struct cli_table *t, const char *const *cell,
			const int *width)
{
	fputs(t->indent, f);
	for (int c = 0; c < t->ncols; c++)
		fprintf(f, " %-*s", c == t->ncols - 1 ? 0 : width[c], cell[c]);
	fputc('\n', f);
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	int *width = xcalloc((size_t)t->ncols, sizeof(int));

	for (int c = 0; c < t->ncols; c++)
		width[c] = (int)strlen(t->head[c]);
	for (size_t i = 0; i < t->n; i++)
		for (int c = 0; t->v[i].cells && c < t->ncols; c++)
			if ((int)strlen(t->v[i].cells[c]) > width[c])
				width[c] = (int)strlen(t->v[i].cells[c]);
	print_cells(f, t, t->head, width);
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].cells) {
			print_cells(f, t, (const char *const *)t->v[i].cells, width);
			for (int c = 0; c < t->ncols; c++)
				free(t->v[i].cells[c]);
			free(t->v[i].cells);
		} else {
			fprintf(f, "%s\n", t->v[i].note);
			free(t->v[i].note);
		}
	}
	free(t->v);
	free(width);
	free(t);
}
