/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics: what is wrong with a policy, each located by JSON path, so
 * that one run reports every mistake (the loader, the compiler's limits
 * and the CLI all add to one list).
 */
#ifndef XNSG_DIAG_H
#define XNSG_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag {
	enum diag_level level;
	char *path; /* JSON path ("$.subnets[0].name") or "" */
	char *msg;
};

struct diag_list {
	struct diag *v;
	size_t n, cap;
	size_t nerrors;
};

void diag_add(struct diag_list *d, enum diag_level level, const char *path,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "FILE: PATH: MSG" (warnings: "FILE: PATH: warning: MSG"), one a line, as docs/DESIGN.md §1. */
void diag_print(FILE *f, const char *file, const struct diag_list *d);
void diag_free(struct diag_list *d);
/* src's diagnostics appended to dst (NULL: freed), src left empty. */
void diag_move(struct diag_list *dst, struct diag_list *src);

#endif /* XNSG_DIAG_H */
