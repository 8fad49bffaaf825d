// SPDX-License-Identifier: MIT
/*
 * What the daemon watches besides signals: the policy file's directory
 * (inotify) and the host's links (rtnetlink).
 *
 * The directory, not the file: editors replace a file by writing a new
 * one and renaming it over the old (the old inode, which a watch on the
 * file would follow, is then gone), and a Kubernetes ConfigMap volume
 * swaps a "..data" symlink.  Events only say "look again": whether the
 * policy changed is decided by its content's hash after the debounce.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

#define WATCH_MASK                                                                        \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | \
	 IN_DELETE_SELF | IN_MOVE_SELF)

int watch_open(struct daemon *d)
{
	char *a = xstrdup(d->o->policy), *b = xstrdup(d->o->policy);
	int err;

	d->dir = xstrdup(dirname(a));
	d->base = xstrdup(basename(b));
	free(a);
	free(b);
	d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inofd < 0)
		return -errno;
	if (inotify_add_watch(d->inofd, d->dir, WATCH_MASK) < 0) {
		err = -errno;
		dlog(DLOG_ERR, "cannot watch %s for changes: %s", d->dir, strerror(-err));
		return err;
	}
	return 0;
}

bool watch_policy_event(struct daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(d->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			/* The file itself, a ConfigMap's "..data", a lost event,
			 * or the directory replaced. */
			if (e->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF) ||
			    (e->len && (!strcmp(e->name, d->base) || !strncmp(e->name, "..", 2))))
				hit = true;
			p += sizeof(*e) + e->len;
		}
	}
	return hit;
}

int links_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd, size = 1 << 20, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* A burst of containers starting must not overflow the queue; if it
	 * does anyway (ENOBUFS), every interface is checked. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

bool links_event(int fd)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool hit = false;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return hit || errno == ENOBUFS; /* lost events: look at everything */
		if (n == 0)
			return hit;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n))
			hit |= h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK;
	}
}

void timer_arm(int tfd, unsigned int ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						 .tv_nsec = (long)(ms % 1000) * 1000000L } };

	timerfd_settime(tfd, 0, &its, NULL);
}
