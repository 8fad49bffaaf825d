// SPDX-License-Identifier: MIT
/* pr_err() and friends (log.h): one line a message on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int xnsg_verbosity;
int xnsg_json;

void (*xnsg_log_error_hook)(const char *msg);

void xnsg_log(int level, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (level > LOG_WARN && level - LOG_WARN > xnsg_verbosity)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL; /* out of memory: the format is better than nothing */
	va_end(ap);
	fprintf(stderr, "xnsg: %s%s\n", level == LOG_WARN ? "warning: " : "", msg ? msg : fmt);
	if (level == LOG_ERR && xnsg_log_error_hook)
		xnsg_log_error_hook(msg ? msg : fmt);
	free(msg);
}
