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
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "datapath.h"

const char *apply_keeper_exe;
static bool keep_in_process;

void apply_keep_grace_in_process(void)
{
	keep_in_process = true;
}

/* "serial stamp\n" into the stamp file, replaced whole. */
static int stamp_write(long long serial, long long stamp)
{
	char *path = state_path(".grace"), *tmp = state_path(".grace.tmp"), line[48];
	int n = snprintf(line, sizeof(line), "%lld %lld\n", serial, stamp), fd, err = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || rename(tmp, path))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	free(path);
	free(tmp);
	return err;
}

/* Whether the stamp file names the flip (serial, stamp). */
static bool stamp_says(long long serial, long long stamp)
{
	char *path = state_path(".grace"), line[48] = "";
	long long se, st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;

	if (fd >= 0)
		close(fd);
	free(path);
	return n > 0 && sscanf(line, "%lld %lld", &se, &st) == 2 && se == serial && st == stamp;
}

struct kept {
	long long serial, stamp;
};

static void *keep_run(void *arg)
{
	struct kept *k = arg;

	dp_wait_readers();
	stamp_write(k->serial, k->stamp);
	free(k);
	return NULL;
}

/* The daemon's keeper: a thread of its own, detached (the process lives on). */
static pid_t keep_thread(long long serial, long long stamp)
{
	struct kept *k = xcalloc(1, sizeof(*k));
	pthread_attr_t attr;
	pthread_t t;
	int err;

	k->serial = serial;
	k->stamp = stamp;
	if (pthread_attr_init(&attr)) {
		free(k);
		return 0;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, keep_run, k);
	pthread_attr_destroy(&attr);
	if (err) {
		free(k);
		return 0;
	}
	return getpid();
}

/* A keeper process: the binary again as "xnsg-grace SERIAL STAMP", in a
 * session of its own, with nothing of this process's open but /dev/null
 * for its standard streams (a CNI runtime reads the plugin's output to
 * its end). */
static pid_t keep_process(long long serial, long long stamp)
{
	char a1[24], a2[24], *argv[] = { "xnsg-grace", a1, a2, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid = 0;
	int err;

	snprintf(a1, sizeof(a1), "%lld", serial);
	snprintf(a2, sizeof(a2), "%lld", stamp);
	if (posix_spawn_file_actions_init(&fa))
		return 0;
	if (posix_spawnattr_init(&at)) {
		posix_spawn_file_actions_destroy(&fa);
		return 0;
	}
	err = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	for (int fd = 0; !err && fd < 3; fd++)
		err = posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
	err = err ?: posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!err)
		err = posix_spawn(&pid, apply_keeper_exe, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return err ? 0 : pid;
}

pid_t apply_grace_keep(long long serial, long long stamp)
{
	if (getenv("XNSG_TEST_NO_KEEPER"))
		return 0;
	if (keep_in_process)
		return keep_thread(serial, stamp);
	return apply_keeper_exe ? keep_process(serial, stamp) : 0;
}

int apply_keeper_main(int argc, char **argv)
{
	long long serial, stamp;

	if (argc != 3 || sscanf(argv[1], "%lld", &serial) != 1 ||
	    sscanf(argv[2], "%lld", &stamp) != 1)
		return 2;
	dp_wait_readers();
	return stamp_write(serial, stamp) ? 1 : 0;
}

/* A keeper waits for one grace period, milliseconds: one alive after this
 * long is not trusted to finish. */
#define KEEPER_WAIT_US (2 * 1000 * 1000)
#define KEEPER_POLL_US 250

bool apply_grace_kept(long long serial, long long stamp, pid_t keeper)
{
	for (long waited = 0; waited < KEEPER_WAIT_US; waited += KEEPER_POLL_US) {
		if (stamp_says(serial, stamp))
			return true;
		if (keeper <= 0 || (kill(keeper, 0) && errno == ESRCH))
			return stamp_says(serial, stamp); /* it may have written it as it went */
		usleep(KEEPER_POLL_US);
	}
	return false;
}
