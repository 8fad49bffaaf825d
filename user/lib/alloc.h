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
#include <stdbool.h>
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

/*
 * Address space for a large buffer built once: a private anonymous mapping
 * of huge_size(size) bytes, 2 MiB-aligned so that transparent huge pages
 * can back it, asked for them when advise (one page fault and one
 * clearing every 2 MiB, where 4 KiB pages each took a fault, a clearing
 * and a memory-cgroup charge); its memory is made on first touch
 * (MAP_NORESERVE).  NULL if the mapping fails; huge_unmap() with the same
 * size undoes it.
 */
#define HUGE_PAGE_BYTES (2u << 20)
size_t huge_size(size_t size);
void *huge_map(size_t size, bool advise);
void huge_unmap(void *p, size_t size);

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
