// SPDX-License-Identifier: MIT
/*
 * The datapath module, the only one that talks to the kernel: load the BPF
 * object, reuse or pin its maps, write a compiled policy into the idle
 * generation, flip, clear the old one, attach and detach hooks, and the
 * private test-run instance behind verify --datapath.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "compile.h"
#include "datapath.h"
#include "dp.h"
#include "log.h"
#include "xnsg/abi.h"
#include "xnsg.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* ---- environment ---------------------------------------------------- */

const char *dp_pin_dir(void)
{
	const char *d = getenv("XNSG_PIN_DIR");

	return d && *d ? d : XNSG_PIN_DIR;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
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

/* Root, BTF, and a BPF filesystem under the pin directory (mounted if
 * /sys/fs/bpf is not one yet).  One line and -errno on failure. */
int dp_check_env(bool need_pins)
{
	struct statfs sfs;
	char parent[512], *slash;

	libbpf_set_print(libbpf_print);
	if (geteuid() != 0) {
		pr_err("needs root (CAP_BPF and CAP_NET_ADMIN) to load BPF programs");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_err("the kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	if (!need_pins)
		return 0;
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

/* ---- loading -------------------------------------------------------- */

static void dp_collect_fds(struct dp *dp)
{
	struct xnsg *s = dp->skel;

	dp->fd_active = bpf_map__fd(s->maps.xnsg_active);
	dp->fd_ifaces = bpf_map__fd(s->maps.xnsg_ifaces);
	dp->fd_tables = bpf_map__fd(s->maps.xnsg_tables);
	dp->fd_lpm4 = bpf_map__fd(s->maps.xnsg_lpm4);
	dp->fd_lpm6 = bpf_map__fd(s->maps.xnsg_lpm6);
	dp->fd_ports = bpf_map__fd(s->maps.xnsg_ports);
	dp->fd_dir4 = bpf_map__fd(s->maps.xnsg_dir4);
	dp->fd_dir4_next = bpf_map__fd(s->maps.xnsg_dir4_next);
	dp->fd_protos = bpf_map__fd(s->maps.xnsg_protos);
	dp->fd_classes = bpf_map__fd(s->maps.xnsg_classes);
	dp->fd_rule_stats = bpf_map__fd(s->maps.xnsg_rule_stats);
	dp->fd_drops = bpf_map__fd(s->maps.xnsg_drops);
	dp->fd_ct = bpf_map__fd(s->maps.xnsg_ct);
	dp->fd_config = bpf_map__fd(s->maps.xnsg_config);
	dp->fd_ct_stats = bpf_map__fd(s->maps.xnsg_ct_stats);
	dp->fd_frags = bpf_map__fd(s->maps.xnsg_frags);
}

/* Flow table size of a private instance: tests and verify need few. */
#define DP_PRIVATE_CT_MAX 65536

/*
 * Load the object.  pinned: maps are reused from (or pinned to) the pin
 * directory; otherwise the instance is private.  record: keep the last
 * decision in xnsg_last (tests, verify).  max_flows: size of the flow
 * table when it is created (0: XNSG_CT_MAX); a pinned table keeps its size.
 */
/* max_entries of the pinned flow table, 0 when there is none. */
static unsigned int pinned_ct_size(void)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), XNSG_MAP_CT);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

int dp_open(struct dp *dp, bool pinned, bool record, unsigned int max_flows)
{
	return dp_open_opts(dp, pinned, record, max_flows, false);
}

int dp_open_opts(struct dp *dp, bool pinned, bool record, unsigned int max_flows, bool stateless)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dp_pin_dir());
	struct bpf_map *map;
	int err;

	memset(dp, 0, sizeof(*dp));
	libbpf_set_print(libbpf_print);
	if (pinned && mkdir(dp_pin_dir(), 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("%s: cannot create the pin directory: %s", dp_pin_dir(), strerror(errno));
		return err;
	}
	dp->skel = xnsg__open_opts(&oo);
	if (!dp->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(errno));
		return err;
	}
	if (!pinned) {
		bpf_object__for_each_map(map, dp->skel->obj)
			bpf_map__set_pin_path(map, NULL);
		if (!max_flows)
			max_flows = DP_PRIVATE_CT_MAX;
	}
	if (pinned) {
		/* The flow table outlives updates: keep the size it was made with. */
		unsigned int have = pinned_ct_size();

		if (have && max_flows && max_flows != have) {
			pr_err("the flow table exists with %u entries; --max-flows sizes it only "
			       "when it is created ('xnsg detach --all' first)", have);
			xnsg__destroy(dp->skel);
			dp->skel = NULL;
			return -EEXIST;
		}
		if (have)
			max_flows = have;
	}
	if (max_flows)
		bpf_map__set_max_entries(dp->skel->maps.xnsg_ct, max_flows);
	dp->skel->rodata->xnsg_record = record;
	dp->skel->rodata->xnsg_stateless = stateless;
	err = xnsg__load(dp->skel);
	if (err) {
		if (pinned && err == -EINVAL)
			pr_err("cannot load the BPF datapath: maps pinned under %s do not match this "
			       "version of xnsg (run 'xnsg detach --all' first)", dp_pin_dir());
		else
			pr_err("cannot load the BPF datapath: %s%s", strerror(-err),
			       err == -EPERM ? " (needs root, and a memlock limit large enough)" : "");
		xnsg__destroy(dp->skel);
		dp->skel = NULL;
		return err;
	}
	dp_collect_fds(dp);
	return 0;
}

void dp_close(struct dp *dp)
{
	if (dp->skel)
		xnsg__destroy(dp->skel);
	dp->skel = NULL;
}

/* ---- generations ---------------------------------------------------- */

int dp_active_gen(struct dp *dp, __u32 *gen)
{
	struct xnsg_active a = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dp->fd_active, &zero, &a))
		return -errno;
	*gen = a.gen & 1;
	return 0;
}

int dp_flip(struct dp *dp, __u32 gen)
{
	struct xnsg_active a = { .gen = gen };
	__u32 zero = 0;

	return bpf_map_update_elem(dp->fd_active, &zero, &a, BPF_ANY) ? -errno : 0;
}

/* Write n consecutive array elements starting at key first; one batch
 * syscall where the kernel has it. */
static int array_put(int fd, __u32 first, const void *vals, __u32 n, size_t vsize)
{
	__u32 *keys, count = n;
	int err = 0;

	if (!n)
		return 0;
	keys = xcalloc(n, sizeof(*keys));
	for (__u32 i = 0; i < n; i++)
		keys[i] = first + i;
	if (bpf_map_update_batch(fd, keys, vals, &count, NULL)) {
		err = 0;
		for (__u32 i = 0; i < n && !err; i++)
			if (bpf_map_update_elem(fd, &keys[i], (const char *)vals + i * vsize, BPF_ANY))
				err = -errno;
	}
	free(keys);
	return err;
}

/* Delete every key of a hash or LPM map for which `mine` says yes.  Keys
 * are collected first: deleting while iterating restarts the walk. */
static int delete_keys(int fd, size_t ksize, bool (*mine)(const void *key, __u32 gen), __u32 gen)
{
	char *keys = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			keys = xrealloc(keys, cap * ksize);
		}
		if (bpf_map_get_next_key(fd, n ? keys + (n - 1) * ksize : NULL, keys + n * ksize))
			break;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (mine(keys + i * ksize, gen) && bpf_map_delete_elem(fd, keys + i * ksize) &&
		    errno != ENOENT)
			err = -errno;
	free(keys);
	return err;
}

static bool any_key(const void *key, __u32 gen)
{
	(void)key;
	(void)gen;
	return true;
}

int dp_flush_map(int fd, size_t ksize)
{
	return delete_keys(fd, ksize, any_key, 0);
}

static bool lpm4_in_gen(const void *key, __u32 gen)
{
	return ((const struct xnsg_lpm4_key *)key)->tfg >> 24 == gen;
}

static bool lpm6_in_gen(const void *key, __u32 gen)
{
	return ((const struct xnsg_lpm6_key *)key)->tfg >> 24 == gen;
}

static bool iface_in_gen(const void *key, __u32 gen)
{
	return ((const struct xnsg_iface_key *)key)->gen == gen;
}

/* Remove the keyed entries of a generation (arrays need no clearing: a
 * generation's tables only reach the elements it wrote). */
int dp_clear_gen(struct dp *dp, __u32 gen)
{
	int err;

	err = delete_keys(dp->fd_lpm4, sizeof(struct xnsg_lpm4_key), lpm4_in_gen, gen);
	if (!err)
		err = delete_keys(dp->fd_lpm6, sizeof(struct xnsg_lpm6_key), lpm6_in_gen, gen);
	if (!err)
		err = delete_keys(dp->fd_ifaces, sizeof(struct xnsg_iface_key), iface_in_gen, gen);
	return err;
}

static int put_lpm(struct dp *dp, __u32 gen, __u32 t, const struct lpm_entry *e)
{
	struct xnsg_lpm_val v = { .cls = e->cls };
	__u32 tfg = XNSG_TFG(gen, t, e->field);

	if (e->prefix.family == XNSG_V4) {
		struct xnsg_lpm4_key k = { .prefixlen = 32 + e->prefix.len, .tfg = tfg };

		memcpy(k.addr, e->prefix.bytes, 4);
		return bpf_map_update_elem(dp->fd_lpm4, &k, &v, BPF_ANY) ? -errno : 0;
	} else {
		struct xnsg_lpm6_key k = { .prefixlen = 32 + e->prefix.len, .tfg = tfg };

		memcpy(k.addr, e->prefix.bytes, 16);
		return bpf_map_update_elem(dp->fd_lpm6, &k, &v, BPF_ANY) ? -errno : 0;
	}
}

static int put_table(struct dp *dp, __u32 gen, __u32 t, const struct compiled_table *ct)
{
	__u32 protos[XNSG_PROTOS];
	int err;

	for (int i = 0; i < XNSG_PROTOS; i++)
		protos[i] = ct->proto_class[i];
	err = array_put(dp->fd_protos, (gen * XNSG_MAX_TABLES + t) * XNSG_PROTOS, protos,
			XNSG_PROTOS, sizeof(__u32));
	for (size_t i = 0; i < ct->nlpm4 && !err; i++)
		err = put_lpm(dp, gen, t, &ct->lpm4[i]);
	for (size_t i = 0; i < ct->nlpm6 && !err; i++)
		err = put_lpm(dp, gen, t, &ct->lpm6[i]);
	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST && !err; f++)
		err = array_put(dp->fd_dir4, ((gen * XNSG_MAX_TABLES + t) * 2 + (__u32)f) * XNSG_DIR4_CHUNKS,
				ct->dir4[f], XNSG_DIR4_CHUNKS, sizeof(struct xnsg_dir4_chunk));
	if (!err)
		err = array_put(dp->fd_tables, gen * XNSG_MAX_TABLES + t, &ct->desc, 1,
				sizeof(ct->desc));
	return err;
}

/*
 * Write compiled policy c into generation gen: classes, port maps, tables,
 * and the interfaces whose ifindex[i] (parallel to c->ifaces) is non-zero.
 * Nothing of gen is reachable by packets until dp_flip(gen).
 */
/* Zero the per-rule counters of slots [first, first + n). */
static int zero_counters(int fd, __u32 first, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	void *zeros;

	if (ncpu <= 0)
		return -EINVAL;
	zeros = xcalloc((size_t)n * (size_t)ncpu, sizeof(struct xnsg_counter));
	err = array_put(fd, first, zeros, n, (size_t)ncpu * sizeof(struct xnsg_counter));
	free(zeros);
	return err;
}

int dp_write_gen(struct dp *dp, __u32 gen, const struct compiled *c, const unsigned int *ifindex)
{
	int err;

	err = dp_clear_gen(dp, gen);
	/* Slots of this generation may hold counts of an apply two back. */
	if (!err)
		err = zero_counters(dp->fd_rule_stats, gen * XNSG_MAX_RULE_SLOTS, c->nrule_slots);
	if (!err)
		err = array_put(dp->fd_classes, gen * XNSG_MAX_CLASSES, c->classes,
				(__u32)c->nclasses, sizeof(struct xnsg_bitmap));
	for (size_t i = 0; i < c->nportmaps && !err; i++)
		err = array_put(dp->fd_ports, (gen * XNSG_MAX_PORTMAPS + (__u32)i) * XNSG_PORT_CHUNKS,
				c->portmaps[i], XNSG_PORT_CHUNKS, sizeof(struct xnsg_port_chunk));
	if (!err)
		err = array_put(dp->fd_dir4_next, gen * XNSG_DIR4_POOL, c->dir4_next,
				(__u32)c->ndir4_next, sizeof(struct xnsg_dir4_next));
	for (size_t t = 0; t < c->ntables && !err; t++)
		err = put_table(dp, gen, (__u32)t, &c->tables[t]);
	for (size_t i = 0; i < c->nifaces && !err; i++) {
		struct xnsg_iface_key k = { .ifindex = ifindex ? ifindex[i] : 0, .gen = gen };

		if (!k.ifindex)
			continue;
		if (bpf_map_update_elem(dp->fd_ifaces, &k, &c->ifaces[i].cfg, BPF_ANY))
			err = -errno;
	}
	if (err == -E2BIG || err == -ENOSPC)
		pr_err("a BPF map is full while writing the policy: raise the limits in include/xnsg/abi.h");
	else if (err)
		pr_err("cannot write the policy into the BPF maps: %s", strerror(-err));
	return err;
}

/* Idle timeouts of the policy (SPEC §2 "flowTimeouts"). */
int dp_write_config(struct dp *dp, const struct flow_timeouts *to)
{
	struct xnsg_config cfg = {};
	__u32 zero = 0;

	cfg.timeout_ns[XNSG_TO_TCP_ESTABLISHED] = to->tcp_established * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_TCP_TRANSITORY] = to->tcp_transitory * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_UDP] = to->udp * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_UDP_STREAM] = to->udp_stream * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_OTHER] = to->other * 1000000000ULL;
	return bpf_map_update_elem(dp->fd_config, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

/* Count entries of generation gen in the LPM tries (for status). */
int dp_lpm_fill(struct dp *dp, size_t *n4, size_t *n6)
{
	struct xnsg_lpm4_key k4, *p4 = NULL;
	struct xnsg_lpm6_key k6, *p6 = NULL;

	*n4 = *n6 = 0;
	while (bpf_map_get_next_key(dp->fd_lpm4, p4, &k4) == 0) {
		(*n4)++;
		p4 = &k4;
	}
	while (bpf_map_get_next_key(dp->fd_lpm6, p6, &k6) == 0) {
		(*n6)++;
		p6 = &k6;
	}
	return 0;
}

/* ---- per-CPU counters ----------------------------------------------- */

int dp_counter_read(int fd, __u32 key, struct xnsg_counter *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xnsg_counter *v;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return -EINVAL;
	v = xcalloc((size_t)ncpu, sizeof(*v));
	if (bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return -errno;
	}
	for (int i = 0; i < ncpu; i++) {
		sum->packets += v[i].packets;
		sum->bytes += v[i].bytes;
	}
	free(v);
	return 0;
}

/* Add the per-CPU values of slot `from` to slot `to`, then zero `from`. */
int dp_counter_move(int fd, __u32 from, __u32 to)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xnsg_counter *a, *b;
	int err = 0;

	if (ncpu <= 0)
		return -EINVAL;
	a = xcalloc((size_t)ncpu, sizeof(*a));
	b = xcalloc((size_t)ncpu, sizeof(*b));
	if (bpf_map_lookup_elem(fd, &from, a) || bpf_map_lookup_elem(fd, &to, b)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpu; i++) {
		b[i].packets += a[i].packets;
		b[i].bytes += a[i].bytes;
	}
	memset(a, 0, (size_t)ncpu * sizeof(*a));
	if (bpf_map_update_elem(fd, &to, b, BPF_ANY) || bpf_map_update_elem(fd, &from, a, BPF_ANY))
		err = -errno;
out:
	free(a);
	free(b);
	return err;
}

/* ---- hooks ---------------------------------------------------------- */

#define XNSG_TC_HANDLE 0x4e53 /* "NS" */
#define XNSG_TC_PRIO 1

/* Whether the XDP program attached to ifindex (if any) is ours. */
static int xdp_owner(unsigned int ifindex, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	*id = 0;
	err = bpf_xdp_query_id((int)ifindex, 0, id);
	if (err)
		return err;
	if (!*id)
		return 0;
	fd = bpf_prog_get_fd_by_id(*id);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return -errno;
	return strcmp(info.name, "xnsg_xdp") ? 1 : 2; /* 1: someone else's, 2: ours */
}

static int tc_attach(unsigned int ifindex, enum bpf_tc_attach_point where, int prog_fd,
		     bool *created)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XNSG_TC_HANDLE, .priority = XNSG_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	if (created && !err)
		*created = true;
	return bpf_tc_attach(&hook, &opts);
}

static int tc_detach(unsigned int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XNSG_TC_HANDLE, .priority = XNSG_TC_PRIO);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT ? 0 : err;
}

/*
 * Attach (or replace) the programs on one interface: XDP native, else
 * generic, or TC ingress; TC egress always.  a->ifindex and a->ingress_tc
 * are inputs; the modes used are recorded in a.
 */
int dp_attach(struct dp *dp, struct dp_attachment *a)
{
	int xdp_fd = bpf_program__fd(dp->skel->progs.xnsg_xdp);
	__u32 id;
	int err, owner;

	if (!a->ingress_tc) {
		owner = xdp_owner(a->ifindex, &id);
		if (owner == 1) {
			pr_err("%s: already has an XDP program (id %u) not loaded by xnsg; remove it "
			       "or use --ingress tc", a->ifname, id);
			return -EBUSY;
		}
		/* Keep the mode of an earlier attach: switching modes needs a detach. */
		if (owner == 2 && a->xdp_mode)
			err = bpf_xdp_attach((int)a->ifindex, xdp_fd, (__u32)a->xdp_mode, NULL);
		else {
			a->xdp_mode = XDP_FLAGS_DRV_MODE;
			err = bpf_xdp_attach((int)a->ifindex, xdp_fd, XDP_FLAGS_DRV_MODE, NULL);
			if (err) {
				a->xdp_mode = XDP_FLAGS_SKB_MODE;
				err = bpf_xdp_attach((int)a->ifindex, xdp_fd, XDP_FLAGS_SKB_MODE, NULL);
			}
		}
		if (err) {
			pr_err("%s: cannot attach XDP: %s", a->ifname, strerror(-err));
			return err;
		}
	} else {
		err = tc_attach(a->ifindex, BPF_TC_INGRESS,
				bpf_program__fd(dp->skel->progs.xnsg_tc_ingress), &a->clsact_created);
		if (err) {
			pr_err("%s: cannot attach TC ingress: %s", a->ifname, strerror(-err));
			return err;
		}
	}
	err = tc_attach(a->ifindex, BPF_TC_EGRESS, bpf_program__fd(dp->skel->progs.xnsg_tc_egress),
			&a->clsact_created);
	if (err) {
		pr_err("%s: cannot attach TC egress: %s", a->ifname, strerror(-err));
		return err;
	}
	return 0;
}

int dp_detach_ingress(const struct dp_attachment *a)
{
	__u32 id;
	int err;

	if (a->ingress_tc) {
		err = tc_detach(a->ifindex, BPF_TC_INGRESS);
	} else {
		if (!a->xdp_mode || xdp_owner(a->ifindex, &id) != 2)
			return 0;
		err = bpf_xdp_detach((int)a->ifindex, (__u32)a->xdp_mode, NULL);
	}
	if (err)
		pr_err("%s: cannot remove the old receive hook: %s", a->ifname, strerror(-err));
	return err;
}

bool dp_is_pinned(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), XNSG_MAP_ACTIVE);
	return access(path, F_OK) == 0;
}

/*
 * An update of a map-in-map from user space returns only after
 * synchronize_rcu() (the kernel's maybe_wait_bpf_programs()), and XDP and
 * TC programs run inside RCU read-side sections: so updating a throwaway
 * one is a portable "wait for every running program to finish".
 */
void dp_wait_readers(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, oo);
	int inner, outer;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xnsg_rcu_in", 4, 4, 1, NULL);
	if (inner < 0)
		goto fallback;
	oo.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "xnsg_rcu", 4, 4, 1, &oo);
	if (outer < 0) {
		close(inner);
		goto fallback;
	}
	if (bpf_map_update_elem(outer, &zero, &inner, BPF_ANY))
		pr_debug("grace period via map-in-map failed: %s", strerror(errno));
	close(outer);
	close(inner);
	return;
fallback:
	usleep(50 * 1000); /* far longer than any program runs */
}

/* Remove what dp_attach put on the interface; an interface that is gone
 * took its hooks with it. */
int dp_detach(const struct dp_attachment *a)
{
	__u32 id;
	int err = 0, e;

	if (!if_indextoname(a->ifindex, (char[IF_NAMESIZE]){ 0 }))
		return 0;
	if (a->xdp_mode && xdp_owner(a->ifindex, &id) == 2) {
		e = bpf_xdp_detach((int)a->ifindex, (__u32)a->xdp_mode, NULL);
		if (e) {
			pr_err("%s: cannot detach XDP: %s", a->ifname, strerror(-e));
			err = e;
		}
	}
	e = tc_detach(a->ifindex, BPF_TC_INGRESS);
	if (!e)
		e = tc_detach(a->ifindex, BPF_TC_EGRESS);
	if (e) {
		pr_err("%s: cannot detach TC: %s", a->ifname, strerror(-e));
		err = e;
	}
	if (a->clsact_created) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)a->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}

int dp_pin_programs(struct dp *dp)
{
	struct bpf_program *prog;
	char path[512];
	int err;

	bpf_object__for_each_program(prog, dp->skel->obj) {
		snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), bpf_program__name(prog));
		unlink(path);
		err = bpf_program__pin(prog, path);
		if (err) {
			pr_err("%s: cannot pin: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Remove every pin (maps and programs) and the directory itself. */
int dp_unpin_all(void)
{
	static const char *const names[] = {
		XNSG_MAP_ACTIVE, XNSG_MAP_IFACES, XNSG_MAP_TABLES, XNSG_MAP_LPM4, XNSG_MAP_LPM6,
		XNSG_MAP_PORTS, XNSG_MAP_DIR4, XNSG_MAP_DIR4_NEXT, XNSG_MAP_PROTOS, XNSG_MAP_CLASSES, XNSG_MAP_RULE_STATS,
		XNSG_MAP_DROPS, XNSG_MAP_CT, XNSG_MAP_CONFIG, XNSG_MAP_FRAGS, XNSG_MAP_CT_STATS,
		"xnsg_xdp", "xnsg_tc_ingress", "xnsg_tc_egress",
	};
	char path[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), names[i]);
		if (unlink(path) && errno != ENOENT)
			pr_warn("%s: cannot remove: %s", path, strerror(errno));
	}
	if (rmdir(dp_pin_dir()) && errno != ENOENT) {
		pr_err("%s: cannot remove: %s", dp_pin_dir(), strerror(errno));
		return -errno;
	}
	return 0;
}

/* Open a pinned map by name; -errno. */
int dp_open_pinned_map(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* ---- the private test instance -------------------------------------- */

struct dp_test {
	struct dp dp;
	const struct policy *p;
	const struct compiled *c;
	unsigned int lo;
};

int dp_test_map_fd(struct dp_test *t, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(t->dp.skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

struct dp_test *dp_test_open(unsigned int flags)
{
	struct dp_test *t = xcalloc(1, sizeof(*t));

	if (dp_open_opts(&t->dp, false, !(flags & DP_TEST_NO_RECORD), 0,
			 flags & DP_TEST_STATELESS)) {
		free(t);
		return NULL;
	}
	t->lo = if_nametoindex("lo");
	if (!t->lo)
		t->lo = 1;
	return t;
}

void dp_test_close(struct dp_test *t)
{
	if (!t)
		return;
	dp_close(&t->dp);
	free(t);
}

int dp_test_load(struct dp_test *t, const struct policy *p, const struct compiled *c)
{
	int err;

	t->p = p;
	t->c = c;
	err = dp_write_gen(&t->dp, 0, c, NULL);
	if (!err)
		err = dp_write_config(&t->dp, &p->timeouts);
	return err ? err : dp_flip(&t->dp, 0);
}

/* Forget every tracked flow and remembered fragment. */
void dp_test_flush_flows(struct dp_test *t)
{
	dp_flush_map(t->dp.fd_ct, sizeof(struct xnsg_ct_key));
	dp_flush_map(t->dp.fd_frags, sizeof(struct xnsg_frag_key));
}

int dp_test_bind(struct dp_test *t, unsigned int ifindex, int iface, int attach)
{
	struct xnsg_iface_key k = { .ifindex = ifindex, .gen = 0 };

	for (size_t i = 0; i < t->c->nifaces; i++) {
		struct xnsg_iface_cfg cfg = t->c->ifaces[i].cfg;

		if (t->c->ifaces[i].iface != iface)
			continue;
		cfg.attach = (__u8)attach;
		return bpf_map_update_elem(t->dp.fd_ifaces, &k, &cfg, BPF_ANY) ? -errno : 0;
	}
	return -ENOENT;
}

static int test_prog_fd(struct dp_test *t, enum dp_prog prog)
{
	struct xnsg *s = t->dp.skel;

	return bpf_program__fd(prog == DP_PROG_XDP	     ? s->progs.xnsg_xdp
			       : prog == DP_PROG_TC_INGRESS ? s->progs.xnsg_tc_ingress
							    : s->progs.xnsg_tc_egress);
}

/* One BPF_PROG_TEST_RUN; skb programs run as if on loopback. */
static int test_run(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		    unsigned int repeat, struct bpf_test_run_opts *opts)
{
	struct __sk_buff skb = { .ifindex = t->lo };

	opts->sz = sizeof(*opts);
	opts->data_in = frame;
	opts->data_size_in = (__u32)len;
	opts->repeat = repeat;
	if (prog != DP_PROG_XDP) {
		opts->ctx_in = &skb;
		opts->ctx_size_in = sizeof(skb);
	}
	return bpf_prog_test_run_opts(test_prog_fd(t, prog), opts) ? -errno : 0;
}

int dp_test_run(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len, int *ret,
		struct xnsg_verdict *v)
{
	struct bpf_test_run_opts opts = { 0 };
	int err;

	memset(&t->dp.skel->bss->xnsg_last, 0, sizeof(t->dp.skel->bss->xnsg_last));
	err = test_run(t, prog, frame, len, 1, &opts);
	if (err)
		return err;
	*ret = (int)opts.retval;
	if (v)
		*v = t->dp.skel->bss->xnsg_last;
	return 0;
}

int dp_test_time(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		 unsigned int repeat, double *ns)
{
	struct bpf_test_run_opts opts = { 0 };
	int err = test_run(t, prog, frame, len, repeat, &opts);

	*ns = opts.duration;
	return err;
}

int dp_test_counter(struct dp_test *t, const char *map, unsigned int key,
		    unsigned long long *packets, unsigned long long *bytes)
{
	struct xnsg_counter sum;
	int fd = !strcmp(map, XNSG_MAP_DROPS) ? t->dp.fd_drops : t->dp.fd_rule_stats;
	int err = dp_counter_read(fd, key, &sum);

	*packets = sum.packets;
	*bytes = sum.bytes;
	return err;
}

/* The rule index in its NSG of bit `bit` of compiled table `table`. */
static int model_rule(const struct policy *p, const struct compiled *c, __u32 table, __u32 bit,
		      int *nsg)
{
	const struct compiled_table *ct;

	if (table >= c->ntables)
		return -1;
	ct = &c->tables[table];
	*nsg = ct->nsg;
	if (bit >= ct->nrules)
		return -1;
	return (int)(ct->rules[bit] - p->nsgs[ct->nsg].rules);
}

int dp_test_classify(struct dp_test *t, const struct eval_query *q, struct eval_result *r)
{
	const struct xnsg_addr *src = q->dir == XNSG_IN ? &q->remote : &q->local;
	const struct xnsg_addr *dst = q->dir == XNSG_IN ? &q->local : &q->remote;
	uint16_t sport = q->dir == XNSG_IN ? q->rport : q->lport;
	uint16_t dport = q->dir == XNSG_IN ? q->lport : q->rport;
	struct xnsg_verdict v;
	uint8_t frame[256];
	size_t len;
	int ret, err;

	/* XDP sees the receive side: host attach reads Inbound, peer Outbound. */
	err = dp_test_bind(t, t->lo, q->iface,
			   q->dir == XNSG_IN ? XNSG_ATTACH_MODE_HOST : XNSG_ATTACH_MODE_PEER);
	if (err)
		return err;
	len = packet_for_flow(frame, sizeof(frame), q->ipproto, src, sport, dst, dport);
	/* Judge the flow by the rules, not by state an earlier query left. */
	dp_test_flush_flows(t);
	err = dp_test_run(t, DP_PROG_XDP, frame, len, &ret, &v);
	if (err)
		return err;
	if (v.reason || v.pass_kind || v.seq == 0) {
		pr_err("the datapath did not classify the packet (reason %u)", v.reason);
		return -EPROTO;
	}
	memset(r, 0, sizeof(*r));
	r->allow = v.allow;
	r->decisive = -1;
	for (int l = 0, first_deny = -1; l < 2; l++) {
		struct eval_level *lv = &r->level[l];

		/* Inbound: subnet then NIC; Outbound: NIC then subnet. */
		lv->scope = (q->dir == XNSG_IN) == (l == 0) ? EVAL_SUBNET : EVAL_NIC;
		lv->nsg = -1;
		lv->rule = -1;
		lv->allow = true;
		if (v.table[l] == XNSG_NO_TABLE)
			continue;
		lv->rule = model_rule(t->p, t->c, v.table[l], v.rule[l], &lv->nsg);
		lv->allow = v.level_allow[l];
		if (!lv->allow && first_deny < 0)
			first_deny = l;
		r->decisive = first_deny >= 0 ? first_deny : l;
	}
	if ((ret == XDP_PASS) != r->allow) {
		pr_err("the datapath returned %d but recorded %s", ret, r->allow ? "allow" : "deny");
		return -EPROTO;
	}
	return 0;
}

int datapath_verify(const struct policy *p, const struct eval_query *q, struct eval_result *r)
{
	struct diag_list d = {};
	struct compiled *c = NULL;
	struct dp_test *t;
	int err;

	err = dp_check_env(false);
	if (err)
		return err;
	err = compile_policy(p, &c, &d);
	if (err) {
		diag_print(stderr, p->file ? p->file : "policy", &d);
		diag_free(&d);
		return err;
	}
	diag_free(&d);
	t = dp_test_open(0);
	if (!t) {
		compiled_free(c);
		return -EIO;
	}
	err = dp_test_load(t, p, c);
	if (!err)
		err = dp_test_classify(t, q, r);
	dp_test_close(t);
	compiled_free(c);
	return err;
}
