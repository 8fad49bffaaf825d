// SPDX-License-Identifier: MIT
/*
 * An update reuses the programs pinned by the apply before it
 * (docs/DESIGN.md §3).  Loading the BPF object verifies every program
 * again, some 35 ms of kernel time per apply, while an update only
 * rewrites tables the programs already read: the pinned maps are the
 * programs' own maps, and the generation flip switches them to the new
 * tables.  The programs are reused only when they are this build's:
 * beside them a one-element map, xnsg_build, holds a hash of the BPF
 * object they were loaded from, written once all of them are pinned
 * (and removed before they are pinned again, so a crash in between leaves
 * no mark and the next apply loads afresh).  Another build's programs,
 * a missing pin or programs that do not read the pinned xnsg_active are
 * loaded again, as on a first apply.  A receive program no interface has
 * used yet may be missing: it is loaded and pinned when one does.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xxhash.h>

#include "alloc.h"
#include "datapath.h"
#include "dp_internal.h"
#include "log.h"
#include "xnsg.skel.h"

/* A 64-bit hash of the BPF object embedded in this build (computed once):
 * what the pinned programs' build mark and the tables' digest name. */
__u64 dp_object_hash(void)
{
	static __u64 h;
	size_t n;
	const void *p;

	if (!h) {
		p = xnsg__elf_bytes(&n);
		h = XXH3_64bits(p, n) | 1; /* never 0: 0 is "no mark" */
	}
	return h;
}

static void build_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dp_pin_dir(), DP_PIN_BUILD);
}

void dp_build_unmark(void)
{
	char path[PATH_MAX];

	build_path(path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		pr_warn("%s: cannot remove: %s", path, strerror(errno));
}

int dp_build_mark(void)
{
	__u64 h = dp_object_hash();
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err = 0;

	build_path(path, sizeof(path));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, DP_PIN_BUILD, sizeof(zero), sizeof(h), 1, NULL);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bpf_map_update_elem(fd, &zero, &h, BPF_ANY) || bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

/* The pinned programs were loaded from this build's object. */
static bool build_marked(void)
{
	char path[PATH_MAX];
	__u64 h = 0;
	__u32 zero = 0;
	int fd;

	build_path(path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	if (bpf_map_lookup_elem(fd, &zero, &h))
		h = 0;
	close(fd);
	return h && h == dp_object_hash();
}

/* Whether map `id` is one of ids[0..n) (the pinned maps), or an internal
 * map (.rodata, .bss), which libbpf names with a dot and never pins. */
static bool map_known(__u32 id, const __u32 *ids, size_t n)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	bool internal;
	int fd;

	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return false;
	internal = !bpf_obj_get_info_by_fd(fd, &info, &len) && strchr(info.name, '.');
	close(fd);
	return internal;
}

/* Program fd reads only the pinned maps (ids[0..n)) and its own internal
 * ones: it was loaded with these maps, not with maps since replaced. */
static bool prog_reads_pins(int fd, const __u32 *ids, size_t n)
{
	__u32 nmaps, *maps;
	bool ok = dp_prog_map_ids(fd, &maps, &nmaps) == 0;

	for (__u32 i = 0; i < nmaps && ok; i++)
		ok = map_known(maps[i], ids, n);
	free(maps);
	return ok;
}

int dp_reuse_pinned(struct dp *dp)
{
	__u32 ids[DP_MAX_MAPS];
	char path[PATH_MAX];
	size_t n;

	if (!build_marked() || dp_open_pins(dp))
		return -ESTALE;
	n = dp_map_ids(dp, ids);
	for (size_t i = 0; i < dp_nprogs; i++) {
		snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), dp_progs[i]);
		dp->fd_progs[i] = bpf_obj_get(path);
		if (dp->fd_progs[i] < 0 && errno == ENOENT && dp_prog_on_demand(dp_progs[i]))
			continue; /* loaded when an interface needs it (dp_prog_need()) */
		if (dp->fd_progs[i] < 0 || !prog_reads_pins(dp->fd_progs[i], ids, n)) {
			pr_debug("%s: not reusable, loading the programs again", path);
			dp_close(dp);
			return -ESTALE;
		}
	}
	pr_debug("reusing the programs pinned under %s", dp_pin_dir());
	return 0;
}

int dp_prog_fd(const struct dp *dp, const char *name)
{
	if (dp->skel) {
		struct bpf_program *p = bpf_object__find_program_by_name(dp->skel->obj, name);

		return p ? bpf_program__fd(p) : -ENOENT;
	}
	for (size_t i = 0; i < dp_nprogs; i++)
		if (!strcmp(dp_progs[i], name))
			return dp->fd_progs[i] >= 0 ? dp->fd_progs[i] : -ENOENT;
	return -ENOENT;
}
