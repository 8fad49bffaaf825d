// SPDX-License-Identifier: MIT
/*
 * The flow-log side of the datapath (docs/DESIGN.md §4): the ring buffer
 * of events, the flow-table snapshot the exporter's sweep reads, the
 * program that changes live flow entries for it (xnsg_fl_commit), the
 * denied tuples it takes, and the counters.  Nothing else in user/
 * touches the ring buffer or these maps.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.h"
#include "datapath.h"
#include "dp_internal.h"
#include "log.h"
#include "xnsg.skel.h"

/* Entries a batch lookup asks for: large enough that the syscalls cost
 * little per flow, small enough for the stack of buffers. */
#define SNAP_BATCH 4096

struct dp_fl {
	struct dp *dp;
	struct ring_buffer *rb;
	dp_fl_event_fn fn;
	void *arg;
	int prog_fd;
	bool own_prog_fd;
	struct xnsg_fl_batch *batch; /* xnsg_fl_batch's value, mmapped */
	size_t batch_len;
	const volatile __u64 *cons, *prod; /* the ring's positions, mmapped */
	size_t page;
	unsigned long ring_size;
	__u64 bad;                   /* records of an unexpected size */
};

/* libbpf calls this for every record; a record of another size (another
 * build's datapath) is counted and skipped. */
static int on_record(void *ctx, void *data, size_t size)
{
	struct dp_fl *fl = ctx;

	if (size != sizeof(struct xnsg_event)) {
		fl->bad++;
		return 0;
	}
	return fl->fn(data, fl->arg);
}

static int commit_prog(struct dp *dp, bool *own)
{
	char path[PATH_MAX];
	int fd;

	*own = false;
	if (dp->skel)
		return bpf_program__fd(dp->skel->progs.xnsg_fl_commit);
	snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), XNSG_PROG_FL_COMMIT);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = -errno;
		pr_err("%s: missing: the datapath was loaded by an xnsg without flow logs "
		       "('xnsg detach --all', then apply again)", path);
		return fd;
	}
	*own = true;
	return fd;
}

/* The ring's consumer and producer positions (its first two pages), to
 * tell how full it is; libbpf 1.1 does not say. */
static int map_positions(struct dp_fl *fl)
{
	void *c, *p;

	fl->page = (size_t)sysconf(_SC_PAGESIZE);
	c = mmap(NULL, fl->page, PROT_READ, MAP_SHARED, fl->dp->fd_events, 0);
	if (c == MAP_FAILED)
		return -errno;
	p = mmap(NULL, fl->page, PROT_READ, MAP_SHARED, fl->dp->fd_events, (off_t)fl->page);
	if (p == MAP_FAILED) {
		munmap(c, fl->page);
		return -errno;
	}
	fl->cons = c;
	fl->prod = p;
	fl->ring_size = dp_map_max_entries(fl->dp->fd_events);
	return 0;
}

static int map_batch(struct dp_fl *fl)
{
	void *b;

	fl->batch_len = (sizeof(*fl->batch) + fl->page - 1) / fl->page * fl->page;
	b = mmap(NULL, fl->batch_len, PROT_READ | PROT_WRITE, MAP_SHARED, fl->dp->fd_fl_batch, 0);
	if (b == MAP_FAILED)
		return -errno;
	fl->batch = b;
	return 0;
}

/* Whether dp's flow table is the pinned one (the live datapath's). */
static bool pinned_instance(struct dp *dp)
{
	char path[PATH_MAX];
	bool same;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), XNSG_MAP_CT4);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	same = dp_obj_id(fd) == dp_obj_id(dp->fd_ct4);
	close(fd);
	return same;
}

static bool pos_map_fits(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_HASH &&
	       info.key_size == sizeof(struct xnsg_ct_key) &&
	       info.value_size == sizeof(struct xnsg_fl_pos);
}

/* The positions' size: the flows both tables hold, rounded down to a power
 * of two (the buckets are one, allocated at creation, 16 bytes each). */
static unsigned int pos_size(struct dp *dp)
{
	unsigned int n = dp_ct_capacity(dp), p = 1;

	while (p <= n / 2)
		p *= 2;
	return p;
}

/*
 * The exporter's positions: a hash without preallocation (an entry costs
 * only while a flow has one), about as large as the flow table.  The live
 * datapath's is pinned beside its maps, so that it outlives the exporter;
 * a private instance's lives with dp.
 */
static int pos_open(struct dp *dp)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	bool pinned = pinned_instance(dp);
	char path[PATH_MAX];
	int fd;

	if (dp->fd_fl_pos >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), XNSG_MAP_FL_POS);
	if (pinned) {
		fd = bpf_obj_get(path);
		if (fd >= 0 && pos_map_fits(fd)) {
			dp->fd_fl_pos = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		unlink(path); /* another build's */
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, XNSG_MAP_FL_POS, sizeof(struct xnsg_ct_key),
			    sizeof(struct xnsg_fl_pos), pos_size(dp), &mo);
	if (fd < 0)
		return -errno;
	if (pinned && bpf_obj_pin(fd, path)) {
		int err = -errno;

		close(fd);
		return err;
	}
	dp->fd_fl_pos = fd;
	return 0;
}

int dp_fl_open(struct dp *dp, dp_fl_event_fn fn, void *arg, struct dp_fl **out)
{
	struct dp_fl *fl = xcalloc(1, sizeof(*fl));
	int err;

	fl->dp = dp;
	fl->fn = fn;
	fl->arg = arg;
	fl->prog_fd = commit_prog(dp, &fl->own_prog_fd);
	if (fl->prog_fd < 0) {
		err = fl->prog_fd;
		free(fl);
		return err;
	}
	err = map_positions(fl);
	if (!err)
		err = map_batch(fl);
	if (!err)
		err = pos_open(dp);
	if (!err) {
		fl->rb = ring_buffer__new(dp->fd_events, on_record, fl, NULL);
		if (!fl->rb)
			err = -errno;
	}
	if (err) {
		pr_err("cannot open the flow-log ring buffer: %s", strerror(-err));
		dp_fl_close(fl);
		return err;
	}
	*out = fl;
	return 0;
}

void dp_fl_close(struct dp_fl *fl)
{
	if (!fl)
		return;
	ring_buffer__free(fl->rb);
	if (fl->batch)
		munmap(fl->batch, fl->batch_len);
	if (fl->cons)
		munmap((void *)fl->cons, fl->page);
	if (fl->prod)
		munmap((void *)fl->prod, fl->page);
	if (fl->own_prog_fd)
		close(fl->prog_fd);
	free(fl);
}

int dp_fl_poll_fd(const struct dp_fl *fl)
{
	return ring_buffer__epoll_fd(fl->rb);
}

int dp_fl_consume(struct dp_fl *fl)
{
	int n = ring_buffer__consume(fl->rb);

	return n == -EINTR ? 0 : n;
}

void dp_fl_ring_fill(const struct dp_fl *fl, unsigned long *used, unsigned long *size)
{
	*used = (unsigned long)(*fl->prod - *fl->cons);
	*size = fl->ring_size;
}

__u64 dp_fl_bad_records(const struct dp_fl *fl)
{
	return fl->bad;
}

/* One run of xnsg_fl_commit over the n ops in the batch. */
static int run_batch(struct dp_fl *fl, __u32 n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	fl->batch->n = n;
	if (bpf_prog_test_run_opts(fl->prog_fd, &o))
		return -errno;
	return o.retval ? -EIO : 0;
}

int dp_fl_ops(struct dp_fl *fl, struct xnsg_fl_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i += XNSG_FL_BATCH) {
		size_t m = n - i < XNSG_FL_BATCH ? n - i : XNSG_FL_BATCH;
		int err;

		memcpy(fl->batch->op, ops + i, m * sizeof(*ops));
		err = run_batch(fl, (__u32)m);
		if (err)
			return err;
		memcpy(ops + i, fl->batch->op, m * sizeof(*ops));
	}
	return 0;
}

int dp_fl_enable(struct dp *dp, bool on, unsigned int deny_rate)
{
	struct xnsg_fl_config c = { .on = on };
	__u32 zero = 0;

	if (deny_rate) {
		c.deny_cost_ns = 1000000000ull / deny_rate;
		c.deny_burst_ns = 1000000000ull; /* a second's worth at once */
	}
	return bpf_map_update_elem(dp->fd_fl_config, &zero, &c, BPF_ANY) ? -errno : 0;
}

bool dp_fl_enabled(struct dp *dp)
{
	struct xnsg_fl_config c;
	__u32 zero = 0;

	return !bpf_map_lookup_elem(dp->fd_fl_config, &zero, &c) && c.on;
}

/* One batch walk of a hash map: fn on each chunk; take deletes as it reads. */
static int walk_batch(int fd, size_t ksize, size_t vsize, bool take,
		      int (*fn)(const void *keys, const void *vals, size_t n, void *arg), void *arg)
{
	void *keys = xcalloc(SNAP_BATCH, ksize), *vals = xcalloc(SNAP_BATCH, vsize);
	__u32 in = 0, out = 0, count;
	bool first = true, done = false;
	int err = 0;

	while (!done && !err) {
		count = SNAP_BATCH;
		if (take)
			err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals,
							      &count, NULL);
		else
			err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count,
						   NULL);
		if (err) {
			err = -errno;
			if (err != -ENOENT)
				break;
			done = true;
			err = 0;
		}
		if (count)
			err = fn(keys, vals, count, arg);
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return err;
}

/* A chunk of a table, its keys as struct xnsg_ct_key, their bits set in
 * the filter being rebuilt (flowtable.c). */
struct snap {
	dp_fl_ct_fn fn;
	void *arg;
	struct dp_seen seen;
	struct xnsg_ct_key k[SNAP_BATCH];
};

static int snap4_chunk(const void *keys, const void *vals, size_t n, void *arg)
{
	const struct xnsg_ct4_key *k4 = keys;
	struct snap *s = arg;

	for (size_t i = 0; i < n; i++) {
		dp_seen_add4(&s->seen, &k4[i]);
		dp_ct_key_from4(&s->k[i], &k4[i]);
	}
	return s->fn(s->k, vals, n, s->arg);
}

static int snap6_chunk(const void *keys, const void *vals, size_t n, void *arg)
{
	const struct xnsg_ct_key *k = keys;
	struct snap *s = arg;

	for (size_t i = 0; i < n; i++)
		dp_seen_add6(&s->seen, &k[i]);
	return s->fn(k, vals, n, s->arg);
}

int dp_fl_ct_snapshot(struct dp *dp, dp_fl_ct_fn fn, void *arg)
{
	struct snap *s = xcalloc(1, sizeof(*s));
	int err;

	s->fn = fn;
	s->arg = arg;
	dp_seen_begin(dp, &s->seen);
	err = walk_batch(dp->fd_ct4, sizeof(struct xnsg_ct4_key), sizeof(struct xnsg_ct_val), false,
			 snap4_chunk, s);
	err = err ?: walk_batch(dp->fd_ct6, sizeof(struct xnsg_ct_key), sizeof(struct xnsg_ct_val),
				false, snap6_chunk, s);
	dp_seen_end(&s->seen, !err);
	free(s);
	return err;
}

int dp_fl_ct_lookup(struct dp *dp, const struct xnsg_ct_key *k, struct xnsg_ct_val *v)
{
	struct xnsg_ct4_key k4;
	int fd;
	const void *tk = dp_ct_table_key(dp, k, &k4, &fd);

	return bpf_map_lookup_elem(fd, tk, v) ? -errno : 0;
}

int dp_fl_pos_read(struct dp *dp, dp_fl_pos_fn fn, void *arg)
{
	if (dp->fd_fl_pos < 0)
		return -ENOENT;
	return walk_batch(dp->fd_fl_pos, sizeof(struct xnsg_ct_key), sizeof(struct xnsg_fl_pos),
			  false, (int (*)(const void *, const void *, size_t, void *))fn, arg);
}

/* Write positions [i, j): one batch, or one by one past an element the
 * batch could not take (the map full: left out). */
static int pos_update(int fd, const struct xnsg_ct_key *k, const struct xnsg_fl_pos *p, size_t i,
		      size_t j)
{
	__u32 count = (__u32)(j - i);
	int err = 0;

	if (!bpf_map_update_batch(fd, &k[i], &p[i], &count, NULL))
		return 0;
	for (i += count; i < j; i++)
		if (bpf_map_update_elem(fd, &k[i], &p[i], BPF_ANY) && errno != E2BIG && !err)
			err = -errno;
	return err;
}

int dp_fl_pos_write(struct dp *dp, const struct xnsg_ct_key *k, const struct xnsg_fl_pos *p,
		    const bool *del, size_t n)
{
	int fd = dp->fd_fl_pos, err = 0, e;

	if (fd < 0)
		return -ENOENT;
	for (size_t i = 0, j; i < n; i = j) {
		if (del[i]) {
			bpf_map_delete_elem(fd, &k[i]); /* ENOENT: never written */
			j = i + 1;
			continue;
		}
		for (j = i; j < n && !del[j]; j++)
			;
		e = pos_update(fd, k, p, i, j);
		err = err ?: e;
	}
	return err;
}

/* A chunk of xnsg_denies4, its keys as struct xnsg_deny_key. */
struct deny4_take {
	dp_fl_deny_fn fn;
	void *arg;
	struct xnsg_deny_key k[SNAP_BATCH];
};

void dp_deny_key_from4(struct xnsg_deny_key *k, const struct xnsg_deny4_key *k4)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, k4->src, 4);
	memcpy(k->dst, k4->dst, 4);
	k->ifindex = k4->ifindex;
	k->sport = k4->sport;
	k->dport = k4->dport;
	k->proto = k4->proto;
	k->family = 4;
	k->dir = k4->dir;
}

static int deny4_chunk(const void *keys, const void *vals, size_t n, void *arg)
{
	const struct xnsg_deny4_key *k4 = keys;
	struct deny4_take *t = arg;

	for (size_t i = 0; i < n; i++)
		dp_deny_key_from4(&t->k[i], &k4[i]);
	return t->fn(t->k, vals, n, t->arg);
}

int dp_fl_denies_take(struct dp *dp, dp_fl_deny_fn fn, void *arg)
{
	struct deny4_take *t;
	int err = 0;

	if (dp->fd_denies4 >= 0) { /* absent from an earlier build's pins */
		t = xcalloc(1, sizeof(*t));
		t->fn = fn;
		t->arg = arg;
		err = walk_batch(dp->fd_denies4, sizeof(struct xnsg_deny4_key),
				 sizeof(struct xnsg_deny_val), true, deny4_chunk, t);
		free(t);
	}
	return err ?: walk_batch(dp->fd_denies, sizeof(struct xnsg_deny_key),
				 sizeof(struct xnsg_deny_val), true,
				 (int (*)(const void *, const void *, size_t, void *))fn, arg);
}

int dp_fl_cpu_sum(struct dp *dp, struct xnsg_fl_cpu *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xnsg_fl_cpu *v;
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return -EINVAL;
	v = xcalloc((size_t)ncpu, sizeof(*v));
	if (bpf_map_lookup_elem(dp->fd_fl_cpu, &zero, v)) {
		int err = -errno;

		free(v);
		return err;
	}
	for (int i = 0; i < ncpu; i++) {
		sum->sent += v[i].sent;
		sum->lost_begin += v[i].lost_begin;
		sum->lost_end += v[i].lost_end;
		sum->deny_tuples += v[i].deny_tuples;
		sum->deny_suppressed += v[i].deny_suppressed;
		sum->deny_full += v[i].deny_full;
	}
	free(v);
	return 0;
}

int dp_fl_stats_read(struct dp *dp, struct xnsg_fl_stats *s)
{
	__u32 zero = 0;

	memset(s, 0, sizeof(*s));
	return bpf_map_lookup_elem(dp->fd_fl_stats, &zero, s) ? -errno : 0;
}

int dp_fl_stats_write(struct dp *dp, const struct xnsg_fl_stats *s)
{
	__u32 zero = 0;

	return bpf_map_update_elem(dp->fd_fl_stats, &zero, s, BPF_ANY) ? -errno : 0;
}

int dp_fl_timeouts(struct dp *dp, __u64 ns[XNSG_TIMEOUTS])
{
	static const __u64 def_s[XNSG_TIMEOUTS] = XNSG_TIMEOUT_DEFAULTS_S;
	struct xnsg_config c = { 0 };
	__u32 zero = 0;
	int err = bpf_map_lookup_elem(dp->fd_config, &zero, &c) ? -errno : 0;

	for (int i = 0; i < XNSG_TIMEOUTS; i++)
		ns[i] = c.timeout_ns[i] ? c.timeout_ns[i] : def_s[i] * 1000000000ull;
	return err;
}
