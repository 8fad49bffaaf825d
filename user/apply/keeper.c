// SPDX-License-Identifier: MIT
/*
 * The grace period of an update's flip, kept past the command that
 * flipped (docs/DESIGN.md §8 "Retirement"): an update leaves the old
 * generation's retirement to the next apply, which must first know that
 * no packet the old tables judged is still running.  It used to learn
 * that by waiting for a grace period of its own, begun when it started -
 * 5-20 ms of every CNI ADD or DEL that followed another, half of its
 * time.  Now the update starts a keeper as it flips: a process of the
 * same binary (or, in the daemon, a thread) that waits for the kernel's
 * grace period and then writes a stamp naming the flip (its serial and
 * CLOCK_BOOTTIME stamp, as the record's mark does).  The next apply finds
 * the stamp, usually long written, and waits for nothing; a keeper still
 * waiting is waited for, and one that died or never ran leaves the next
 * apply its own wait, as before.  Only the keeper writes the stamp, after
 * its grace period, and a stamp counts only for the mark it names.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "clock.h"
#include "datapath.h"

const char *apply_keeper_exe;
static bool keep_in_process;

void apply_keep_grace_in_process(void)
{
	keep_in_process = true;
}

/*
 * A keeper's files: its stamp and its lock, one pair for flips of even
 * serials and one for odd, so that the keeper of a flip and that of the
 * flip before it, which may still be at it, never share one.
 */
static char *keeper_file(const char *what, long long serial)
{
	char sfx[16];

	snprintf(sfx, sizeof(sfx), ".%s%d", what, (int)(serial & 1));
	return state_path(sfx);
}

void apply_keeper_files_remove(void)
{
	for (long long parity = 0; parity < 2; parity++) {
		char *stamp = keeper_file("grace", parity), *lock = keeper_file("keeper", parity);

		unlink(stamp);
		unlink(lock);
		free(stamp);
		free(lock);
	}
}

/* "serial stamp\n" into the stamp file, replaced whole; nothing when the
 * record is gone (detach --all: no apply will ask). */
static int stamp_write(long long serial, long long stamp)
{
	char *record = state_path(".json"), *path = keeper_file("grace", serial), *tmp, line[48];
	int n = snprintf(line, sizeof(line), "%lld %lld\n", serial, stamp), fd = -1, err = 0;

	tmp = xasprintf("%s.%d.tmp", path, (int)getpid()); /* keepers may overlap */
	if (access(record, F_OK))
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(record);
	free(path);
	free(tmp);
	return err;
}

/* Whether the stamp file names the flip (serial, stamp). */
static bool stamp_says(long long serial, long long stamp)
{
	char *path = keeper_file("grace", serial), line[48] = "";
	long long se, st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;

	if (fd >= 0)
		close(fd);
	free(path);
	return n > 0 && sscanf(line, "%lld %lld", &se, &st) == 2 && se == serial && st == stamp;
}

int apply_grace_keeper_lock(long long serial)
{
	char *path;
	int fd;

	if (!apply_keeper_on())
		return -1;
	path = keeper_file("keeper", serial);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) { /* the keeper of two flips back, stuck */
		close(fd);
		fd = -1;
	}
	return fd;
}

struct kept {
	long long serial, stamp;
	int lock;
};

static void *keep_run(void *arg)
{
	struct kept *k = arg;

	dp_wait_readers();
	stamp_write(k->serial, k->stamp);
	close(k->lock); /* the flock with it */
	free(k);
	return NULL;
}

/* The daemon's keeper: a thread of its own, detached (the process lives on). */
static bool keep_thread(long long serial, long long stamp, int lock)
{
	struct kept *k = xcalloc(1, sizeof(*k));
	pthread_attr_t attr;
	pthread_t t;
	int err;

	*k = (struct kept){ .serial = serial, .stamp = stamp, .lock = lock };
	if (pthread_attr_init(&attr)) {
		free(k);
		return false;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, keep_run, k);
	pthread_attr_destroy(&attr);
	if (err)
		free(k);
	return !err;
}

/* A keeper process: the binary again as "xnsg-grace SERIAL STAMP", in a
 * session of its own, the keeper lock as its fd 3 and nothing else of
 * this process's open but /dev/null for its standard streams (a CNI
 * runtime reads the plugin's output to its end). */
static bool keep_process(long long serial, long long stamp, int lock)
{
	char a1[24], a2[24], *argv[] = { "xnsg-grace", a1, a2, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	int err;

	snprintf(a1, sizeof(a1), "%lld", serial);
	snprintf(a2, sizeof(a2), "%lld", stamp);
	if (posix_spawn_file_actions_init(&fa))
		return false;
	if (posix_spawnattr_init(&at)) {
		posix_spawn_file_actions_destroy(&fa);
		return false;
	}
	err = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	err = err ?: posix_spawn_file_actions_adddup2(&fa, lock, 3);
	for (int fd = 0; !err && fd < 3; fd++)
		err = posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
	err = err ?: posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	if (!err)
		err = posix_spawn(&pid, apply_keeper_exe, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(lock); /* the keeper's fd 3 holds the flock now */
	return !err;
}

/* XNSG_KEEPER=off: no keeper (a CNI runtime that reaps no orphans, say):
 * the next apply waits for the grace period itself. */
static bool keepers_off(void)
{
	const char *e = getenv("XNSG_KEEPER");

	return e && (!strcmp(e, "off") || !strcmp(e, "0"));
}

bool apply_keeper_on(void)
{
	return !keepers_off() && (keep_in_process || apply_keeper_exe);
}

bool apply_grace_keep(long long serial, long long stamp, int lock)
{
	if (lock < 0)
		return false;
	if (keep_in_process) {
		if (keep_thread(serial, stamp, lock))
			return true;
		close(lock);
		return false;
	}
	return keep_process(serial, stamp, lock);
}

int apply_keeper_main(int argc, char **argv)
{
	long long serial, stamp;

	if (argc != 3 || sscanf(argv[1], "%lld", &serial) != 1 ||
	    sscanf(argv[2], "%lld", &stamp) != 1)
		return 2;
	dp_wait_readers();
	return stamp_write(serial, stamp) ? 1 : 0; /* exit drops fd 3's flock */
}

/* A keeper waits for one grace period, milliseconds; one still holding
 * its lock after this long is not waited for. */
#define KEEPER_WAIT_NS (2ll * 1000 * 1000 * 1000)

bool apply_grace_kept(long long serial, long long stamp)
{
	char *path = keeper_file("keeper", serial);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t deadline = mono_ns() + KEEPER_WAIT_NS;
	bool free_now = false;

	free(path);
	if (stamp_says(serial, stamp)) {
		if (fd >= 0)
			close(fd);
		return true;
	}
	/* No lock file: no keeper ever ran here; else wait for its holder. */
	while (fd >= 0 && !(free_now = !flock(fd, LOCK_SH | LOCK_NB)) && mono_ns() < deadline)
		usleep(500);
	if (fd >= 0)
		close(fd);
	return free_now && stamp_says(serial, stamp);
}
