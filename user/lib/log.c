// SPDX-License-Identifier: MIT
/* pr_err() and friends (log.h): one line a message on stderr. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int xnsg_verbosity;
int xnsg_json;

void xnsg_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > LOG_WARN && level - LOG_WARN > xnsg_verbosity)
		return;
	fputs("xnsg: ", stderr);
	if (level == LOG_WARN)
		fputs("warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
