// SPDX-License-Identifier: MIT
/*
 * The daemon's log: one line an event on stderr, no timestamps (journald
 * and container runtimes add their own).  When stderr is the journal
 * (JOURNAL_STREAM names its device and inode, as systemd documents), each
 * line starts with its syslog priority, "<3>" for an error, so
 * `journalctl -p err` finds failed reloads; elsewhere lines read like the
 * other commands' ("xnsg: ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "alloc.h"
#include "internal.h"

static bool to_journal;

void dlog_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
		     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void dlog(int prio, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (to_journal)
		fprintf(stderr, "<%d>%s\n", prio, msg);
	else
		fprintf(stderr, "xnsg: %s%s\n",
			prio == DLOG_ERR ? "error: " : prio == DLOG_WARN ? "warning: " : "", msg);
	fflush(stderr);
	free(msg);
}

void dnotify(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
	free(msg);
}
