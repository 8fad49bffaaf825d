/* SPDX-License-Identifier: MIT */
/*
 * Allocation that never returns NULL.  xnsg's inputs are bounded (policy
 * limits, map sizes), so running out of memory is not a condition a caller
 * could handle usefully: these abort with a message instead, and no caller
 * carries an error path for it.
 */
#ifndef XNSG_ALLOC_H
#define XNSG_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* "xnsg: out of memory" on stderr, then abort(). */
void oom(void) __attribute__((noreturn));

/* A zero size still allocates (one byte), so NULL always means OOM. */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* xstrdup(NULL) is "". */
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Grow a (v, n, cap) vector to hold one more element. */
#define VEC_GROW(vec)                                                          \
	do {                                                                   \
		if ((vec)->n == (vec)->cap) {                                  \
			(vec)->cap = (vec)->cap ? (vec)->cap * 2 : 8;          \
			(vec)->v = xrealloc((vec)->v,                          \
					    (vec)->cap * sizeof(*(vec)->v));   \
		}                                                              \
	} while (0)

#endif /* XNSG_ALLOC_H */
