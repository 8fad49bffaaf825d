// SPDX-License-Identifier: MIT
/* An instance of the datapath: the BPF object loaded, its maps pinned or
 * private, or the pinned maps alone opened for reading. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
#define DP_MAP(name, field) { name, offsetof(struct dp, field), false }
/* A map later builds added: the pins of an earlier one lack it. */
#define DP_MAP_LATER(name, field) { name, offsetof(struct dp, field), true }
static const struct {
	const char *name;
	size_t off;
	bool later;
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
	DP_MAP(XNSG_MAP_DIR6, fd_dir6),		  DP_MAP_LATER(XNSG_MAP_IFACE_IDX, fd_iface_idx),
	DP_MAP_LATER(XNSG_MAP_CT_SEEN, fd_ct_seen), DP_MAP_LATER(XNSG_MAP_DENIES4, fd_denies4),
};
#define DP_NMAPS (sizeof(dp_maps) / sizeof(dp_maps[0]))
const char *const dp_progs[] = { "xnsg_xdp", "xnsg_tc_ingress", "xnsg_tc_egress",
				  XNSG_PROG_FL_COMMIT };
const size_t dp_nprogs = sizeof(dp_progs) / sizeof(dp_progs[0]);
_Static_assert(sizeof(dp_progs) / sizeof(dp_progs[0]) <= DP_MAX_PROGS, "fd_progs holds them");

bool dp_prog_on_demand(const char *name)
{
	return !strcmp(name, "xnsg_xdp") || !strcmp(name, "xnsg_tc_ingress");
}

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

/*
 * The BTF the programs' CO-RE relocations are resolved against: the
 * object's own.  Its only relocations are fields of the UAPI contexts
 * (struct xdp_md, struct __sk_buff: offsets that are ABI, the same in
 * every kernel; tests/unit/test_core.c keeps it so), so the kernel's BTF
 * resolves them to the offsets they were compiled with, and libbpf parsed
 * all 5 MB of it, 4 KiB a read(), for every object a load opens (~10 ms
 * each, four on a first apply).  Dropping CO-RE (BPF_NO_PRESERVE_ACCESS_INDEX)
 * would too, but clang then compiles the programs differently.  The object
 * reaches libbpf as a path: a memfd of it, by /proc/self/fd; without /proc,
 * NULL, and libbpf reads the kernel's BTF as before.
 */
static char self_btf[64];

static void self_btf_make(void)
{
	size_t n;
	const char *p = xnsg__elf_bytes(&n);
	int fd = memfd_create("xnsg-btf", MFD_CLOEXEC);

	if (fd < 0)
		return;
	for (ssize_t w; n > 0; p += w, n -= (size_t)w) {
		w = write(fd, p, n);
		if (w <= 0) {
			close(fd);
			return;
		}
	}
	snprintf(self_btf, sizeof(self_btf), "/proc/self/fd/%d", fd);
	if (access(self_btf, R_OK)) {
		close(fd);
		self_btf[0] = '\0';
	}
}

static const char *self_btf_path(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, self_btf_make);
	return self_btf[0] ? self_btf : NULL;
}

/* The skeleton opened and sized for flags, not loaded; NULL (errno set). */
static struct xnsg *skel_open(unsigned int flags, unsigned int max_flows)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dp_pin_dir(),
		    .btf_custom_path = self_btf_path());
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
 * does that on threads of its own while the policy is parsed and
 * compiled, with private maps, and dp_open() adopts the result under the
 * apply lock, pinning it, if nothing was pinned meanwhile.
 *
 * libbpf verifies an object's programs one after another (~55-75 ms each
 * here), so the preload splits the object: one copy creates the maps and
 * loads no program, while the IPv4 flow table, the largest map, is
 * created beside it; then each part is loaded from a copy of its own
 * that reuses those maps, both at once: the receive program the apply is
 * expected to attach (XDP, or TC ingress with --ingress tc), and TC
 * egress with the flow-log commit.  The other receive program is left
 * unloaded: every interface has one receive hook, and verifying a
 * program no interface runs cost a first apply a third of its CPU on two
 * cores; dp_attach() loads it if an interface turns out to need it
 * (dp_prog_need()).  The result is pinned as an update finds pins
 * (reuse.c) and opened from the pins.
 */
enum { PRE_PARTS = 2 };
/* The programs of each part: the receive one chosen by dp_preload(). */
static const char *pre_progs[PRE_PARTS][2] = {
	{ "xnsg_xdp", NULL },
	{ "xnsg_tc_egress", XNSG_PROG_FL_COMMIT },
};

struct pre_part {
	pthread_t th;
	bool threaded;
	struct xnsg *skel;
	int err;
};

static struct {
	pthread_t th;
	bool running;
	bool ok;           /* every part loaded */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int maps_made;     /* under mu: 0 not yet, 1 made, -1 failed */
	unsigned int max_flows;
	struct xnsg *maps; /* created the maps, loaded no program */
	int fd_ct4;        /* the IPv4 flow table, created beside it */
	struct pre_part part[PRE_PARTS];
} pre = { .fd_ct4 = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void pre_release(void)
{
	for (int i = 0; i < PRE_PARTS; i++) {
		xnsg__destroy(pre.part[i].skel);
		pre.part[i].skel = NULL;
	}
	xnsg__destroy(pre.maps);
	pre.maps = NULL;
	if (pre.fd_ct4 >= 0)
		close(pre.fd_ct4);
	pre.fd_ct4 = -1;
}

static void *pre_create_ct4(void *arg)
{
	struct bpf_map *m = arg;
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = bpf_map__map_flags(m));

	pre.fd_ct4 = bpf_map_create(bpf_map__type(m), XNSG_MAP_CT4, bpf_map__key_size(m),
				    bpf_map__value_size(m), bpf_map__max_entries(m), &o);
	return NULL;
}

/* The copy that only creates the maps, the flow table created beside it. */
static int pre_load_maps(void)
{
	struct bpf_program *prog;
	struct bpf_map *ct4;
	pthread_t th;
	bool beside;
	int err;

	pre.maps = skel_open(0, pre.max_flows);
	if (!pre.maps)
		return -errno;
	bpf_object__for_each_program(prog, pre.maps->obj)
		bpf_program__set_autoload(prog, false);
	ct4 = pre.maps->maps.xnsg_ct4;
	bpf_map__set_autocreate(ct4, false);
	beside = !pthread_create(&th, NULL, pre_create_ct4, ct4);
	if (!beside)
		pre_create_ct4(ct4);
	err = xnsg__load(pre.maps);
	if (beside)
		pthread_join(th, NULL);
	return err ? err : pre.fd_ct4 < 0 ? -EINVAL : 0;
}

/* The fd of the preload's map `name`: the maps copy's, or the flow table. */
static int pre_map_fd(const char *name)
{
	if (!strcmp(name, XNSG_MAP_CT4))
		return pre.fd_ct4;
	return bpf_map__fd(bpf_object__find_map_by_name(pre.maps->obj, name));
}

static int pre_fd_of(const char *name, void *arg)
{
	(void)arg;
	return pre_map_fd(name);
}

/* Whether prog is one of names[0..n) (NULL ones are none). */
static bool name_in(const char *prog, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(prog, names[i]))
			return true;
	return false;
}

static bool pre_part_has(const struct pre_part *pp, const char *prog)
{
	return name_in(prog, pre_progs[pp - pre.part], 2);
}

/*
 * A copy of the object that loads only the programs names[0..n) over
 * existing maps, fd_of(map name, arg) each (every map but the internal
 * .rodata and .bss, which each copy keeps for itself; the copy takes the
 * maps' sizes, not its own): a preload part, a program an interface needs
 * later.  *out is the copy (NULL if it could not be opened).
 */
static int load_over(const char *const *names, size_t n, int (*fd_of)(const char *, void *),
		     void *arg, struct xnsg **out)
{
	struct bpf_program *prog;
	struct bpf_map *m;
	int err = 0;

	*out = skel_open(0, 0);
	if (!*out)
		return -errno;
	bpf_object__for_each_program(prog, (*out)->obj)
		bpf_program__set_autoload(prog, name_in(bpf_program__name(prog), names, n));
	bpf_object__for_each_map(m, (*out)->obj)
		if (!strchr(bpf_map__name(m), '.') && !err)
			err = bpf_map__reuse_fd(m, fd_of(bpf_map__name(m), arg));
	return err ? err : xnsg__load(*out);
}

/* One part: its programs loaded over the maps copy's maps. */
static void *pre_load_part(void *arg)
{
	const char *fail = getenv("XNSG_TEST_PRELOAD_FAIL");
	struct pre_part *pp = arg;

	dp_libbpf_debug_only = true;
	/* Test hook: the part holding that program fails (tests/e2e/run.sh). */
	if (fail && pre_part_has(pp, fail)) {
		pp->err = -EAGAIN;
		return NULL;
	}
	pp->err = load_over(pre_progs[pp - pre.part], 2, pre_fd_of, NULL, &pp->skel);
	return NULL;
}

static void *preload_run(void *arg)
{
	(void)arg;
	int made;

	dp_libbpf_debug_only = true; /* a failure here is retried by dp_open() */
	made = pre_load_maps() ? -1 : 1;
	pthread_mutex_lock(&pre.mu);
	pre.maps_made = made;
	pthread_cond_broadcast(&pre.cv);
	pthread_mutex_unlock(&pre.mu);
	if (made < 0)
		return NULL;
	for (int i = 1; i < PRE_PARTS; i++)
		pre.part[i].threaded = !pthread_create(&pre.part[i].th, NULL, pre_load_part,
						       &pre.part[i]);
	for (int i = 0; i < PRE_PARTS; i++)
		if (!pre.part[i].threaded)
			pre_load_part(&pre.part[i]);
	pre.ok = true;
	for (int i = 0; i < PRE_PARTS; i++) {
		if (pre.part[i].threaded)
			pthread_join(pre.part[i].th, NULL);
		pre.ok = pre.ok && !pre.part[i].err;
	}
	return NULL;
}

void dp_preload(unsigned int max_flows, bool rx_tc)
{
	if (pre.running || geteuid() != 0 || dp_is_pinned())
		return;
	pre_progs[0][0] = rx_tc ? "xnsg_tc_ingress" : "xnsg_xdp";
	dp_libbpf_quiet();
	pre_release();
	memset(pre.part, 0, sizeof(pre.part));
	pre.ok = false;
	pre.maps_made = 0;
	pre.max_flows = max_flows;
	pre.running = !pthread_create(&pre.th, NULL, preload_run, NULL);
}

/* Waits for the preload: whether it loaded every part. */
static bool preload_wait(void)
{
	if (!pre.running)
		return false;
	pthread_join(pre.th, NULL);
	pre.running = false;
	return pre.ok;
}

void dp_preload_drop(void)
{
	preload_wait();
	pre_release();
}

/* Waits for the preload's maps (its programs may still be verified):
 * whether it made them. */
static bool preload_maps_wait(void)
{
	int made;

	if (!pre.running)
		return false;
	pthread_mutex_lock(&pre.mu);
	while (!pre.maps_made)
		pthread_cond_wait(&pre.cv, &pre.mu);
	made = pre.maps_made;
	pthread_mutex_unlock(&pre.mu);
	return made > 0;
}

/* The preload's maps pinned; false (none left pinned) on a failure. */
static bool preload_pin_maps(void)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < DP_NMAPS; i++) {
		pin_path(path, sizeof(path), dp_maps[i].name);
		if (bpf_obj_pin(pre_map_fd(dp_maps[i].name), path)) {
			pr_debug("%s: cannot pin the preloaded map: %s", path, strerror(errno));
			for (i = 0; i < DP_NMAPS; i++)
				unpin(dp_maps[i].name);
			return false;
		}
	}
	return true;
}

/*
 * The flow table's filter starts off (a new map is zeros) and is turned on
 * by the load that creates the flow table: empty, so every clear bit is
 * true.  Programs loaded afresh over a pinned table (another build's pins,
 * a load cut short) turn it off: the table may hold flows whose bits no
 * program set.  A rebuild never turns it on; `detach --all` then an apply
 * does (docs/DESIGN.md §9 "Filter").
 */
static void seen_init(struct dp *dp, bool on)
{
	int err = dp_seen_init(dp, on);

	if (err)
		pr_debug("the flow table's filter: cannot turn it %s: %s", on ? "on" : "off",
			 strerror(-err));
	else if (!on)
		pr_warn("the pinned flow table was made by another load of the datapath: its filter "
			"is off, every packet of a denied or new flow looks the table up, until "
			"'xnsg detach --all' and an apply");
}

/*
 * The preloaded datapath as dp, its maps pinned and opened from the pins,
 * when none of the datapath's maps is pinned (else they are the ones to
 * use).  Its programs may still be verified: dp_pin_programs() (§8 step
 * 5) waits for them, so the policy is staged in the meantime.
 */
static int preload_adopt(struct dp *dp, unsigned int max_flows)
{
	char path[PATH_MAX];
	bool ok = preload_maps_wait() && max_flows == pre.max_flows;
	size_t i;

	for (i = 0; i < DP_NMAPS && ok; i++) {
		pin_path(path, sizeof(path), dp_maps[i].name);
		ok = access(path, F_OK) != 0;
	}
	if (ok && preload_pin_maps()) {
		if (!dp_open_pins(dp)) {
			pr_debug("adopting the datapath preloaded for %s", dp_pin_dir());
			dp->preloaded = true;
			seen_init(dp, true); /* its flow table is new */
			return 0;
		}
		for (i = 0; i < DP_NMAPS; i++)
			unpin(dp_maps[i].name);
	}
	preload_wait();
	pre_release();
	return -EEXIST;
}

/* Program fd (of a copy about to go) pinned under its name and kept in
 * dp->fd_progs[]; -errno (said). */
static int prog_keep(struct dp *dp, const char *name, int fd)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < dp_nprogs && strcmp(dp_progs[i], name); i++)
		;
	if (i == dp_nprogs)
		return -ENOENT;
	pin_path(path, sizeof(path), name);
	unlink(path);
	dp->fd_progs[i] = dup(fd);
	if (dp->fd_progs[i] < 0 || bpf_obj_pin(dp->fd_progs[i], path)) {
		int err = -errno;

		pr_err("%s: cannot pin: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

/* dp_pin_programs() of an adopted preload: its programs pinned, each
 * part's as it loaded, a part that failed loaded again over the maps
 * (dp_prog_need()), then the build mark. */
static int preload_pin_programs(struct dp *dp)
{
	const char *again[PRE_PARTS * 2];
	struct bpf_program *prog;
	size_t n = 0;
	int err = 0;

	preload_wait();
	dp->preloaded = false;
	for (size_t i = 0; i < dp_nprogs; i++)
		unpin(dp_progs[i]); /* an earlier instance's: not loaded by this one */
	for (int k = 0; k < PRE_PARTS; k++) {
		for (int j = 0; j < 2; j++)
			if (pre.part[k].err && pre_progs[k][j])
				again[n++] = pre_progs[k][j];
		if (pre.part[k].err || !pre.part[k].skel)
			continue;
		bpf_object__for_each_program(prog, pre.part[k].skel->obj)
			if (!err && pre_part_has(&pre.part[k], bpf_program__name(prog)))
				err = prog_keep(dp, bpf_program__name(prog), bpf_program__fd(prog));
	}
	pre_release();
	for (size_t i = 0; i < n && !err; i++)
		err = dp_prog_need(dp, again[i]);
	if (err)
		return err;
	err = dp_build_mark();
	if (err)
		pr_debug("cannot mark the pinned programs as this build's: %s", strerror(-err));
	return 0;
}

int dp_open(struct dp *dp, unsigned int flags, unsigned int max_flows)
{
	bool table_was;
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
	table_was = (flags & DP_PINNED) && pinned_size(XNSG_MAP_CT4);
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
	seen_init(dp, !table_was);
	return 0;
}

/* The fd of dp's map `name`, -1 if it has none. */
static int dp_map_fd_named(struct dp *dp, const char *name)
{
	for (size_t i = 0; i < DP_NMAPS; i++)
		if (!strcmp(dp_maps[i].name, name))
			return *map_fd(dp, i);
	return -1;
}

static int dp_fd_of(const char *name, void *dp)
{
	return dp_map_fd_named(dp, name);
}

int dp_prog_need(struct dp *dp, const char *name)
{
	struct bpf_program *prog;
	struct xnsg *skel;
	int err;

	if (dp->skel || dp_prog_fd(dp, name) >= 0)
		return 0; /* loaded with the others, or pinned */
	err = load_over(&name, 1, dp_fd_of, dp, &skel);
	prog = err ? NULL : bpf_object__find_program_by_name(skel->obj, name);
	if (!err && !prog)
		err = -ENOENT;
	if (err)
		pr_err("cannot load the datapath's %s: %s", name, strerror(-err));
	else
		err = prog_keep(dp, name, bpf_program__fd(prog));
	xnsg__destroy(skel);
	return err;
}

int dp_open_pins(struct dp *dp)
{
	char path[PATH_MAX];

	dp_reset(dp);
	dp_libbpf_quiet();
	if (!dp_is_pinned())
		return -ENOENT;
	for (size_t i = 0, older = 0; i < DP_NMAPS; i++) {
		pin_path(path, sizeof(path), dp_maps[i].name);
		*map_fd(dp, i) = bpf_obj_get(path);
		/* An earlier build's pins: enough to detach them; an apply loads
		 * this build's programs and adds the map. */
		if (*map_fd(dp, i) < 0 && errno == ENOENT && dp_maps[i].later) {
			if (!older++)
				pr_warn("%s: missing: the pinned datapath was made by an earlier xnsg "
					"('xnsg detach --all', then apply, to run this one's)", path);
			continue;
		}
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

	if (dp->preloaded)
		return preload_pin_programs(dp);
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
