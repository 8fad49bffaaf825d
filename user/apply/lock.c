// SPDX-License-Identifier: MIT
/*
 * One change at a time per pin directory (docs/DESIGN.md §8): two applies
 * that both wrote the idle generation would clear each other's entries.
 * flock() on a file beside the record; the holder writes its pid and what
 * it does there, so a waiter can say who it is waiting for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "lock.h"
#include "log.h"

#define LOCK_WAIT_DEFAULT 30 /* seconds: longer than any apply takes */

static unsigned int lock_wait(void)
{
	const char *s = getenv("XNSG_LOCK_WAIT");
	char *end;
	unsigned long v = s ? strtoul(s, &end, 10) : LOCK_WAIT_DEFAULT;

	return s && (*end || end == s) ? LOCK_WAIT_DEFAULT : (unsigned int)v;
}

static void holder(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!*buf)
		snprintf(buf, len, "unknown");
}

int lock_take(const char *suffix, const char *what, unsigned int wait)
{
	char *path = state_path(suffix), who[256];
	struct timespec start, now;
	int fd, err = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		pr_err("%s: cannot open the lock: %s", path, strerror(errno));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err = -errno;
			pr_err("%s: cannot lock: %s", path, strerror(errno));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)wait) {
			holder(fd, who, sizeof(who));
			if (wait)
				pr_err("another xnsg holds %s (%s) after %u s of waiting; try again "
				       "when it is done", path, who, wait);
			else
				pr_err("another xnsg holds %s (%s)", path, who);
			err = -EBUSY;
			break;
		}
		usleep(20 * 1000);
	}
	if (!err) {
		char line[300];
		int n = snprintf(line, sizeof(line), "pid %d: %s\n", (int)getpid(), what);

		if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) < 0)
			pr_debug("%s: cannot note the holder", path);
	}
out:
	if (err && fd >= 0)
		close(fd);
	free(path);
	return err ? err : fd;
}

int apply_lock(const char *what)
{
	return lock_take(".lock", what, lock_wait());
}

void apply_unlock(int fd)
{
	lock_release(fd);
}

void lock_release(int fd)
{
	if (fd < 0)
		return;
	if (ftruncate(fd, 0))
		pr_debug("lock: cannot clear the holder");
	close(fd); /* releases the flock */
}
