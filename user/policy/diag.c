// SPDX-License-Identifier: MIT
/* The diagnostic list (diag.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "diag.h"

void diag_add(struct diag_list *d, enum diag_level level, const char *path,
	      const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	VEC_GROW(d);
	d->v[d->n].level = level;
	d->v[d->n].path = xstrdup(path ? path : "");
	d->v[d->n].msg = msg;
	d->n++;
	if (level == DIAG_ERROR)
		d->nerrors++;
}

void diag_print(FILE *f, const char *file, const struct diag_list *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];

		fprintf(f, "%s: ", file);
		if (g->path[0])
			fprintf(f, "%s: ", g->path);
		fprintf(f, "%s%s\n", g->level == DIAG_WARNING ? "warning: " : "", g->msg);
	}
}

void diag_free(struct diag_list *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].path);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void diag_move(struct diag_list *dst, struct diag_list *src)
{
	if (!dst) {
		diag_free(src);
		return;
	}
	for (size_t i = 0; i < src->n; i++) {
		VEC_GROW(dst);
		dst->v[dst->n++] = src->v[i];
		dst->nerrors += src->v[i].level == DIAG_ERROR;
	}
	free(src->v); /* the entries are dst's now */
	memset(src, 0, sizeof(*src));
}
