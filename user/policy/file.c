// SPDX-License-Identifier: MIT
/*
 * Reading the files a policy names, as a careful tool does (policy.h):
 * policies, Service Tags files and Azure exports are read whole, from
 * regular files only -- a FIFO would block `check` and `apply` forever, a
 * device could be read without end -- so anything else is refused before
 * a byte is read.  A UTF-8 byte-order mark (Windows editors, PowerShell's
 * Out-File) is dropped.  Root applies what the file says, so a file that
 * someone other than its owner or root may change is worth a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "diag.h"
#include "parser.h"
#include "policy.h"

#define UTF8_BOM "\xef\xbb\xbf"

/* 0 when st is a regular file; else why not, as policy_read_fd() says it. */
static int regular_only(const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return 0;
	return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
}

/* All of fd, up to POLICY_MAX_FILE_BYTES, NUL-terminated; 0 or -errno. */
static int read_all(int fd, char **out, size_t *len)
{
	size_t n = 0, cap = 65536;
	char *buf = xrealloc(NULL, cap);

	for (;;) {
		ssize_t got;

		if (n + 1 >= cap) {
			if (cap >= POLICY_MAX_FILE_BYTES) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	if (n >= 3 && !memcmp(buf, UTF8_BOM, 3)) {
		memmove(buf, buf + 3, n - 2);
		n -= 3;
	}
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int policy_read_fd(int fd, bool regular, char **out, size_t *len, struct stat *st)
{
	struct stat sb;
	int err;

	*out = NULL;
	if (fstat(fd, &sb))
		return -errno;
	if (st)
		*st = sb;
	if (regular && (err = regular_only(&sb)))
		return err;
	return read_all(fd, out, len);
}

int policy_read_file(const char *file, char **out, size_t *len, struct stat *st)
{
	/* O_NONBLOCK: opening a FIFO without a writer must not wait for one. */
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC), err;

	*out = NULL;
	if (fd < 0)
		return -errno;
	err = policy_read_fd(fd, true, out, len, st);
	close(fd);
	return err;
}

const char *policy_file_strerror(int err)
{
	if (err == -EFBIG)
		return "larger than the 64 MiB limit";
	if (err == -EINVAL)
		return "not a regular file (a FIFO, socket or device is never read)";
	return strerror(-err);
}

void policy_file_perm_warnings(struct diag_list *d, const char *path, const char *file,
			       const struct stat *st)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me)
		diag_add(d, DIAG_WARNING, path, "%s is owned by uid %u, neither root nor you: its "
			 "owner decides what is enforced", file, (unsigned int)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		diag_add(d, DIAG_WARNING, path, "%s is writable by %s (mode %04o): whoever can "
			 "write it decides what is enforced", file,
			 st->st_mode & S_IWOTH ? "everyone" : "its group",
			 (unsigned int)(st->st_mode & 07777));
}
