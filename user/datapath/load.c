// SPDX-License-Identifier: MIT
/* An instance of the datapath: the BPF object loaded, its maps pinned or
 * private, or the pinned maps alone opened for reading. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "dp_internal.h"
#include "log.h"
#include "xnsg.skel.h"

/* Flow table size of a private instance: tests and verify need few. */
#define DP_PRIVATE_CT_MAX 65536

/* Every map by name and where its fd lives in struct dp: the one list
 * that loading, opening from pins and unpinning share. */
#define DP_MAP(name, field) { name, offsetof(struct dp, field) }
static const struct {
	const char *name;
	size_t off;
} dp_maps[] = {
	DP_MAP(XNSG_MAP_ACTIVE, fd_active),	  DP_MAP(XNSG_MAP_IFACES, fd_ifaces),
	DP_MAP(XNSG_MAP_TABLES, fd_tables),	  DP_MAP(XNSG_MAP_LPM4, fd_lpm4),
	DP_MAP(XNSG_MAP_LPM6, fd_lpm6),		  DP_MAP(XNSG_MAP_PORTS, fd_ports),
	DP_MAP(XNSG_MAP_DIR4, fd_dir4),		  DP_MAP(XNSG_MAP_DIR4_NEXT, fd_dir4_next),
	DP_MAP(XNSG_MAP_PROTOS, fd_protos),	  DP_MAP(XNSG_MAP_CLASSES, fd_classes),
	DP_MAP(XNSG_MAP_RULE_STATS, fd_rule_stats), DP_MAP(XNSG_MAP_DROPS, fd_drops),
	DP_MAP(XNSG_MAP_CT4, fd_ct4),		  DP_MAP(XNSG_MAP_CT6, fd_ct6),
	DP_MAP(XNSG_MAP_CONFIG, fd_config),
	DP_MAP(XNSG_MAP_CT_STATS, fd_ct_stats),	  DP_MAP(XNSG_MAP_FRAGS, fd_frags),
	DP_MAP(XNSG_MAP_EVENTS, fd_events),	  DP_MAP(XNSG_MAP_FL_CONFIG, fd_fl_config),
	DP_MAP(XNSG_MAP_FL_CPU, fd_fl_cpu),	  DP_MAP(XNSG_MAP_DENIES, fd_denies),
	DP_MAP(XNSG_MAP_FL_BATCH, fd_fl_batch),	  DP_MAP(XNSG_MAP_FL_STATS, fd_fl_stats),
	DP_MAP(XNSG_MAP_DIR6, fd_dir6),
};
#define DP_NMAPS (sizeof(dp_maps) / sizeof(dp_maps[0]))
const char *const dp_progs[] = { "xnsg_xdp", "xnsg_tc_ingress", "xnsg_tc_egress",
				  XNSG_PROG_FL_COMMIT };
const size_t dp_nprogs = sizeof(dp_progs) / sizeof(dp_progs[0]);
_Static_assert(sizeof(dp_progs) / sizeof(dp_progs[0]) <= DP_MAX_PROGS, "fd_progs holds them");

static int *map_fd(struct dp *dp, size_t i)
{
	return (int *)((char *)dp + dp_maps[i].off);
}

_Static_assert(DP_NMAPS <= DP_MAX_MAPS, "dp_map_ids() has room for every map");

size_t dp_map_ids(const struct dp *dp, __u32 *ids)
{
	size_t n = 0;

	for (size_t i = 0; i < DP_NMAPS; i++) {
		__u32 id = dp_obj_id(*(const int *)((const char *)dp + dp_maps[i].off));

		if (id)
			ids[n++] = id;
	}
	return n;
}

static void dp_reset(struct dp *dp)
{
	memset(dp, 0, sizeof(*dp));
	for (size_t i = 0; i < DP_NMAPS; i++)
		*map_fd(dp, i) = -1;
	for (size_t i = 0; i < DP_MAX_PROGS; i++)
		dp->fd_progs[i] = -1;
	dp->fd_fl_pos = -1;
}

static void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dp_pin_dir(), name);
}

static void unpin(const char *name);

/* max_entries of a pinned map, 0 when there is none. */
static unsigned int pinned_size(const char *name)
{
	char path[PATH_MAX];
	unsigned int n;
	int fd;

	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	n = dp_map_max_entries(fd);
	close(fd);
	return n;
}

/* The flow table's size: a pinned table outlives updates with the size it
 * was made with; a different --max-flows needs a detach first. */
static int flow_table_size(unsigned int flags, unsigned int *max_flows)
{
	unsigned int have;

	if (!(flags & DP_PINNED)) {
		if (!*max_flows)
			*max_flows = DP_PRIVATE_CT_MAX;
		return 0;
	}
	have = pinned_size(XNSG_MAP_CT4);
	if (have && *max_flows && *max_flows != have) {
		pr_err("the flow table exists with %u entries; --max-flows sizes it only "
		       "when it is created ('xnsg detach --all' first)", have);
		return -EEXIST;
	}
	if (have)
		*max_flows = have;
	return 0;
}

/*
 * The IPv6 flow table's size for max_flows IPv4 flows: a quarter as many
 * (the tables are preallocated: sized for IPv4-heavy traffic, the common
 * case, docs/DESIGN.md §9), or $XNSG_MAX_FLOWS6 (1,024 to 2^26) when it
 * is created; a pinned one keeps its size.
 */
static unsigned int flow6_size(unsigned int flags, unsigned int max_flows)
{
	const char *s = getenv("XNSG_MAX_FLOWS6");
	unsigned long v;
	char *end;

	if ((flags & DP_PINNED) && pinned_size(XNSG_MAP_CT6))
		return pinned_size(XNSG_MAP_CT6);
	if (!s || !*s)
		return XNSG_CT6_MAX(max_flows ? max_flows : XNSG_CT_MAX);
	v = strtoul(s, &end, 0);
	if (*end || v < 1024 || v > (1UL << 26)) {
		pr_warn("XNSG_MAX_FLOWS6=%s is not a number from 1024 to 67108864; using a quarter "
			"of --max-flows", s);
		return XNSG_CT6_MAX(max_flows ? max_flows : XNSG_CT_MAX);
	}
	return (unsigned int)v;
}

/*
 * The flow-log ring buffer's size: $XNSG_RINGBUF_BYTES (a power of two,
 * at least a page) when it is created, else XNSG_EVENTS_BYTES; a pinned
 * one keeps its size (reusing it needs the same).  0: leave the default.
 */
static unsigned int ring_size(unsigned int flags)
{
	const char *s = getenv("XNSG_RINGBUF_BYTES");
	unsigned long v;
	char *end;

	if ((flags & DP_PINNED) && pinned_size(XNSG_MAP_EVENTS))
		return pinned_size(XNSG_MAP_EVENTS);
	if (!s || !*s)
		return 0;
	v = strtoul(s, &end, 0);
	if (*end || v < 4096 || v > (1UL << 30) || (v & (v - 1))) {
		pr_warn("XNSG_RINGBUF_BYTES=%s is not a power of two from 4096 to 2^30; "
			"using %u", s, XNSG_EVENTS_BYTES);
		return 0;
	}
	return (unsigned int)v;
}

static void load_error(unsigned int flags, int err)
{
	if ((flags & DP_PINNED) && err == -EINVAL)
		pr_err("cannot load the BPF datapath: maps pinned under %s do not match this "
		       "version of xnsg (run 'xnsg detach --all' first)", dp_pin_dir());
	else
		pr_err("cannot load the BPF datapath: %s%s", strerror(-err),
		       err == -EPERM ? " (needs root, and a memlock limit large enough)" : "");
}

/* The skeleton opened and sized for flags, not loaded; NULL (errno set). */
static struct xnsg *skel_open(unsigned int flags, unsigned int max_flows)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dp_pin_dir());
	struct xnsg *skel = xnsg__open_opts(&oo);
	struct bpf_map *map;

	if (!skel)
		return NULL;
	if (!(flags & DP_PINNED))
		bpf_object__for_each_map(map, skel->obj)
			bpf_map__set_pin_path(map, NULL);
	if (max_flows)
		bpf_map__set_max_entries(skel->maps.xnsg_ct4, max_flows);
	bpf_map__set_max_entries(skel->maps.xnsg_ct6, flow6_size(flags, max_flows));
	if (ring_size(flags))
		bpf_map__set_max_entries(skel->maps.xnsg_events, ring_size(flags));
	skel->rodata->xnsg_record = !!(flags & DP_RECORD);
	skel->rodata->xnsg_stateless = !!(flags & DP_STATELESS);
	return skel;
}

static void dp_fill_fds(struct dp *dp)
{
	for (size_t i = 0; i < DP_NMAPS; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(dp->skel->obj, dp_maps[i].name);

		*map_fd(dp, i) = m ? bpf_map__fd(m) : -1;
	}
}

/*
 * A first apply (nothing pinned) spends most of its time creating maps
 * and verifying programs, which do not depend on the policy: dp_preload()
 * does that on a thread of its own while the policy is parsed and
 * compiled, with private maps, and dp_open() adopts the result under the
 * apply lock, pinning its maps, if nothing was pinned meanwhile.
 */
static struct {
	pthread_t th;
	bool running;
	unsigned int max_flows;
	struct xnsg *skel; /* loaded, or NULL */
} pre;

static void *preload_run(void *arg)
{
	(void)arg;
	dp_libbpf_debug_only = true; /* a failure here is retried by dp_open() */
	pre.skel = skel_open(0, pre.max_flows);
	if (pre.skel && xnsg__load(pre.skel)) {
		xnsg__destroy(pre.skel);
		pre.skel = NULL;
	}
	return NULL;
}

void dp_preload(unsigned int max_flows)
{
	if (pre.running || geteuid() != 0 || dp_is_pinned())
		return;
	dp_libbpf_quiet();
	pre.max_flows = max_flows;
	pre.skel = NULL;
	pre.running = !pthread_create(&pre.th, NULL, preload_run, NULL);
}

static struct xnsg *preload_take(void)
{
	struct xnsg *skel;

	if (!pre.running)
		return NULL;
	pthread_join(pre.th, NULL);
	pre.running = false;
	skel = pre.skel;
	pre.skel = NULL;
	return skel;
}

void dp_preload_drop(void)
{
	struct xnsg *skel = preload_take();

	if (skel)
		xnsg__destroy(skel);
}

/* The preloaded object as dp, its maps pinned, when none of the
 * datapath's maps is pinned (else they are the ones to use). */
static int preload_adopt(struct dp *dp, unsigned int max_flows)
{
	struct xnsg *skel = preload_take();
	char path[PATH_MAX];
	size_t i;

	if (!skel)
		return -ENOENT;
	for (i = 0; i < DP_NMAPS; i++) {
		pin_path(path, sizeof(path), dp_maps[i].name);
		if (!access(path, F_OK))
			break;
	}
	if (i < DP_NMAPS || max_flows != pre.max_flows) {
		xnsg__destroy(skel);
		return -EEXIST;
	}
	for (i = 0; i < DP_NMAPS; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, dp_maps[i].name);

		pin_path(path, sizeof(path), dp_maps[i].name);
		if (m && bpf_map__pin(m, path))
			break;
	}
	if (i < DP_NMAPS) {
		pr_debug("%s: cannot pin the preloaded map: %s", path, strerror(errno));
		while (i--)
			unpin(dp_maps[i].name);
		xnsg__destroy(skel);
		return -EEXIST;
	}
	dp->skel = skel;
	dp_fill_fds(dp);
	return 0;
}

int dp_open(struct dp *dp, unsigned int flags, unsigned int max_flows)
{
	int err;

	dp_reset(dp);
	dp_libbpf_quiet();
	if ((flags & DP_PINNED) && mkdir(dp_pin_dir(), 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("%s: cannot create the pin directory: %s", dp_pin_dir(), strerror(errno));
		return err;
	}
	err = flow_table_size(flags, &max_flows);
	if (err)
		return err;
	if (flags == (DP_PINNED | DP_REUSE) && !preload_adopt(dp, max_flows))
		return 0;
	/* An update: the programs pinned are this build's, keep them (reuse.c). */
	if ((flags & DP_REUSE) && (flags & DP_PINNED) && !(flags & (DP_RECORD | DP_STATELESS)) &&
	    !dp_reuse_pinned(dp))
		return 0;
	dp->skel = skel_open(flags, max_flows);
	if (!dp->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(errno));
		return err;
	}
	err = xnsg__load(dp->skel);
	if (err) {
		load_error(flags, err);
		dp_close(dp);
		return err;
	}
	dp_fill_fds(dp);
	return 0;
}

int dp_open_pins(struct dp *dp)
{
	char path[PATH_MAX];

	dp_reset(dp);
	dp_libbpf_quiet();
	if (!dp_is_pinned())
		return -ENOENT;
	for (size_t i = 0; i < DP_NMAPS; i++) {
		pin_path(path, sizeof(path), dp_maps[i].name);
		*map_fd(dp, i) = bpf_obj_get(path);
		if (*map_fd(dp, i) < 0) {
			int err = -errno;

			pr_err("%s: the datapath's map is missing (was it removed by hand? "
			       "'xnsg detach --all' cleans up)", path);
			dp_close(dp);
			return err;
		}
	}
	return 0;
}

void dp_close(struct dp *dp)
{
	if (dp->fd_fl_pos >= 0)
		close(dp->fd_fl_pos);
	if (dp->skel) {
		xnsg__destroy(dp->skel); /* owns the map fds */
	} else {
		for (size_t i = 0; i < DP_NMAPS; i++)
			if (*map_fd(dp, i) >= 0)
				close(*map_fd(dp, i));
		for (size_t i = 0; i < DP_MAX_PROGS; i++)
			if (dp->fd_progs[i] >= 0)
				close(dp->fd_progs[i]);
	}
	dp_reset(dp);
}

bool dp_is_pinned(void)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), XNSG_MAP_ACTIVE);
	return access(path, F_OK) == 0;
}

int dp_pin_programs(struct dp *dp)
{
	struct bpf_program *prog;
	char path[PATH_MAX];
	int err;

	if (!dp->skel)
		return 0; /* reused: pinned already */
	dp_build_unmark(); /* no mark while the pins are a mix of two loads */
	bpf_object__for_each_program(prog, dp->skel->obj) {
		pin_path(path, sizeof(path), bpf_program__name(prog));
		unlink(path);
		err = bpf_program__pin(prog, path);
		if (err) {
			pr_err("%s: cannot pin: %s", path, strerror(-err));
			return err;
		}
	}
	/* Without the mark the next apply loads the programs again: slower, not wrong. */
	err = dp_build_mark();
	if (err)
		pr_debug("cannot mark the pinned programs as this build's: %s", strerror(-err));
	return 0;
}

static void unpin(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	if (unlink(path) && errno != ENOENT)
		pr_warn("%s: cannot remove: %s", path, strerror(errno));
}

int dp_unpin_all(void)
{
	dp_build_unmark();
	for (size_t i = 0; i < DP_NMAPS; i++)
		unpin(dp_maps[i].name);
	unpin(XNSG_MAP_FL_POS);
	unpin("xnsg_ct"); /* the one flow table of builds before 2026-12-02 */
	for (size_t i = 0; i < sizeof(dp_progs) / sizeof(dp_progs[0]); i++)
		unpin(dp_progs[i]);
	if (rmdir(dp_pin_dir()) && errno != ENOENT) {
		pr_err("%s: cannot remove: %s", dp_pin_dir(), strerror(errno));
		return -errno;
	}
	return 0;
}
