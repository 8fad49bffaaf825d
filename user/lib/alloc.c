// SPDX-License-Identifier: MIT
/* Allocation that never returns NULL (see alloc.h for why). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"

void oom(void)
{
	fputs("xnsg: out of memory\n", stderr);
	abort();
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		oom();
	return d;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t huge_size(size_t size)
{
	return (size + HUGE_PAGE_BYTES - 1) & ~(size_t)(HUGE_PAGE_BYTES - 1);
}

void *huge_map(size_t size, bool advise)
{
	size_t len = huge_size(size), head;
	char *m;

	if (!size || len < size || len > SIZE_MAX - HUGE_PAGE_BYTES)
		return NULL;
	/* One huge page more than asked, the unaligned ends given back. */
	m = mmap(NULL, len + HUGE_PAGE_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	head = (HUGE_PAGE_BYTES - (uintptr_t)m % HUGE_PAGE_BYTES) % HUGE_PAGE_BYTES;
	if (head)
		munmap(m, head);
	munmap(m + head + len, HUGE_PAGE_BYTES - head);
	if (advise) /* advice: 4 KiB pages if refused */
		madvise(m + head, len, MADV_HUGEPAGE);
	return m + head;
}

void huge_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, huge_size(size));
}
