// SPDX-License-Identifier: MIT
/* What the datapath needs of the host: privileges, BTF, a BPF filesystem
 * and a pin directory no one else can write. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "datapath.h"
#include "dp_internal.h"
#include "log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *dp_pin_dir(void)
{
	const char *d = getenv("XNSG_PIN_DIR");

	return d && *d ? d : XNSG_PIN_DIR;
}

__thread bool dp_libbpf_debug_only;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (dp_libbpf_debug_only)
		level = LIBBPF_DEBUG;
	/* Netlink's extended ack for an error the caller handles (the clsact
	 * qdisc exists already, no filter to remove): xnsg says what matters
	 * itself, so these are debug output. */
	if (level == LIBBPF_WARN && !strncmp(fmt, "libbpf: Kernel error message:", 29))
		level = LIBBPF_DEBUG;
	if (level == LIBBPF_DEBUG && xnsg_verbosity < 2)
		return 0;
	if (level == LIBBPF_INFO && xnsg_verbosity < 1)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void dp_libbpf_quiet(void)
{
	libbpf_set_print(libbpf_print);
}

/* The parent of the pin directory is on a BPF filesystem (mount one on
 * /sys/fs/bpf when that is the parent and it is not mounted yet). */
static int check_bpffs(void)
{
	struct statfs sfs;
	char parent[512], *slash;

	snprintf(parent, sizeof(parent), "%s", dp_pin_dir());
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (statfs(parent, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (!strcmp(parent, "/sys/fs/bpf")) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0)
			return 0;
		pr_err("/sys/fs/bpf: cannot mount the BPF filesystem: %s", strerror(errno));
		return -errno;
	}
	pr_err("%s: not on a BPF filesystem (mount -t bpf bpf %s)", parent, parent);
	return -ENOTSUP;
}

/* An existing pin directory must be root's and writable by root alone:
 * whoever can write it can replace the maps every later apply trusts. */
static int check_pin_dir_owner(void)
{
	struct stat st;

	if (stat(dp_pin_dir(), &st)) {
		if (errno == ENOENT)
			return 0;
		pr_err("%s: %s", dp_pin_dir(), strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err("%s: not a directory", dp_pin_dir());
		return -ENOTDIR;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pr_err("%s: owned by uid %u with mode %03o; the pin directory must be root's and "
		       "writable by root alone", dp_pin_dir(), (unsigned int)st.st_uid,
		       (unsigned int)(st.st_mode & 0777));
		return -EPERM;
	}
	return 0;
}

int dp_check_env(bool need_pins)
{
	int err;

	dp_libbpf_quiet();
	if (geteuid() != 0) {
		pr_err("needs root (CAP_BPF and CAP_NET_ADMIN) to load BPF programs");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_err("the kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	err = check_pin_dir_owner();
	if (err || !need_pins)
		return err;
	return check_bpffs();
}
