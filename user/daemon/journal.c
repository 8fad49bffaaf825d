// SPDX-License-Identifier: MIT
/*
 * The daemon's log: one line an event on stderr, no timestamps (journald
 * and container runtimes add their own).  When stderr is the journal
 * (JOURNAL_STREAM names its device and inode, as systemd documents), each
 * line starts with its syslog priority, "<3>" for an error, so
 * `journalctl -p err` finds failed reloads; elsewhere lines read like the
 * other commands' ("xnsg: ...").
 *
 * sd_notify() comes from libsystemd, opened at the first notification
 * (lib/dynlib.h), not linked: it and the 6 libraries it brings would cost
 * every command the loader's time, and only the daemon notifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "alloc.h"
#include "dynlib.h"
#include "internal.h"

#ifndef XNSG_SYSTEMD_SONAME
#error "XNSG_SYSTEMD_SONAME: the Makefile derives it from libsystemd.so's SONAME (objdump -p)"
#endif

static struct {
	DYNLIB_PTR(sd_notify)
} sd;
static const struct dynlib_sym sd_syms[] = { DYNLIB_SYM(sd, sd_notify) };
static struct dynlib libsystemd =
	DYNLIB(XNSG_SYSTEMD_SONAME, XNSG_SYSTEMD_DEB, "sd_notify", sd_syms);

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
	static bool warned;
	va_list ap;
	char *msg;

	/* Without NOTIFY_SOCKET sd_notify() does nothing: no need to open it. */
	if (!getenv("NOTIFY_SOCKET"))
		return;
	if (dynlib_load(&libsystemd)) {
		if (!warned)
			dlog(DLOG_WARN, "%s; NOTIFY_SOCKET is set, but systemd is not told the daemon's state",
			     dynlib_error(&libsystemd));
		warned = true;
		return;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	sd.sd_notify(0, msg);
	free(msg);
}
