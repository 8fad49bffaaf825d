// SPDX-License-Identifier: MIT
/*
 * The per-rule counters: slot s is counter s % XNSG_RULE_COUNTERS of
 * element s / XNSG_RULE_COUNTERS of the per-CPU array xnsg_rule_stats
 * (include/xnsg/abi.h), so the readers and writers here work on whole
 * elements ("blocks"): one batch syscall for every slot of a policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.h"
#include "datapath.h"
#include "dp_internal.h"

/* Blocks [b0, b0 + nb) of every CPU: v[(b - b0) * ncpu + cpu]. */
struct blocks {
	__u32 b0, nb;
	int ncpu;
	struct xnsg_rule_counters *v;
};

static struct xnsg_counter *slot_of(const struct blocks *b, __u32 s, int cpu)
{
	return &b->v[(size_t)(s / XNSG_RULE_COUNTERS - b->b0) * b->ncpu + cpu].c[s % XNSG_RULE_COUNTERS];
}

/* The blocks covering slots [lo, hi]: one batch lookup where the kernel
 * has it, else one lookup each.  0 or -errno (b->v NULL). */
static int blocks_read(int fd, __u32 lo, __u32 hi, struct blocks *b)
{
	__u32 *keys, prev, out, count, i;
	int err = 0;

	b->ncpu = libbpf_num_possible_cpus();
	b->v = NULL;
	if (b->ncpu <= 0)
		return -EINVAL;
	b->b0 = lo / XNSG_RULE_COUNTERS;
	b->nb = hi / XNSG_RULE_COUNTERS - b->b0 + 1;
	b->v = xcalloc((size_t)b->nb * (size_t)b->ncpu, sizeof(*b->v));
	keys = xcalloc(b->nb, sizeof(*keys));
	prev = b->b0 - 1;
	count = b->nb;
	if (bpf_map_lookup_batch(fd, b->b0 ? &prev : NULL, &out, keys, b->v, &count, NULL) &&
	    errno != ENOENT)
		count = 0;
	for (i = 0; i < b->nb && !err; i++) /* the batch's keys are b0, b0 + 1, ... */
		if (i >= count || keys[i] != b->b0 + i)
			err = bpf_map_lookup_elem(fd, &(__u32){ b->b0 + i }, b->v + (size_t)i * b->ncpu)
				      ? -errno : 0;
	free(keys);
	if (err) {
		free(b->v);
		b->v = NULL;
	}
	return err;
}

int dp_rule_counters_read(struct dp *dp, __u32 first, __u32 n, struct xnsg_counter *sum)
{
	struct blocks b;
	int err;

	memset(sum, 0, (size_t)n * sizeof(*sum));
	if (!n)
		return 0;
	err = blocks_read(dp->fd_rule_stats, first, first + n - 1, &b);
	for (__u32 i = 0; i < n && !err; i++)
		for (int cpu = 0; cpu < b.ncpu; cpu++) {
			sum[i].packets += slot_of(&b, first + i, cpu)->packets;
			sum[i].bytes += slot_of(&b, first + i, cpu)->bytes;
		}
	free(b.v);
	return err;
}

/* Only a generation that nothing counts into: every slot of the blocks
 * covering [first, first + n) is zeroed, beyond n too (unused by it). */
int dp_rule_counters_zero(struct dp *dp, __u32 first, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	__u32 b0 = first / XNSG_RULE_COUNTERS, nb;
	void *zeros;

	if (!n)
		return 0;
	if (ncpu <= 0)
		return -EINVAL;
	nb = (first + n - 1) / XNSG_RULE_COUNTERS - b0 + 1;
	zeros = xcalloc((size_t)nb * (size_t)ncpu, sizeof(struct xnsg_rule_counters));
	err = dp_array_put(dp->fd_rule_stats, b0, zeros, nb,
			   (size_t)ncpu * sizeof(struct xnsg_rule_counters));
	free(zeros);
	return err;
}

static bool counted(const struct blocks *b, __u32 s)
{
	for (int cpu = 0; cpu < b->ncpu; cpu++)
		if (slot_of(b, s, cpu)->packets || slot_of(b, s, cpu)->bytes)
			return true;
	return false;
}

/* Write back the blocks of t marked dirty, and only those: a block read
 * and written back loses what packets counted into it meanwhile. */
static int blocks_write_dirty(int fd, struct blocks *t, const bool *dirty)
{
	size_t vsize = (size_t)t->ncpu * sizeof(*t->v), k = 0;
	__u32 *keys = xcalloc(t->nb, sizeof(*keys));
	int err;

	for (__u32 j = 0; j < t->nb; j++)
		if (dirty[j]) {
			memmove(t->v + k * t->ncpu, t->v + (size_t)j * t->ncpu, vsize);
			keys[k++] = t->b0 + j;
		}
	err = dp_batch_put(fd, keys, sizeof(*keys), t->v, vsize, k);
	free(keys);
	return err;
}

static void span(const __u32 *s, const bool *only, size_t n, __u32 *lo, __u32 *hi)
{
	*lo = UINT32_MAX;
	*hi = 0;
	for (size_t i = 0; i < n; i++)
		if (!only || only[i]) {
			*lo = s[i] < *lo ? s[i] : *lo;
			*hi = s[i] > *hi ? s[i] : *hi;
		}
}

int dp_counters_move(struct dp *dp, const __u32 *from, const __u32 *to, size_t n)
{
	struct blocks f, t = { .v = NULL };
	bool *hit, *dirty = NULL, any = false;
	__u32 lo, hi;
	int err;

	if (!n)
		return 0;
	span(from, NULL, n, &lo, &hi);
	err = blocks_read(dp->fd_rule_stats, lo, hi, &f);
	if (err)
		return err;
	hit = xcalloc(n, sizeof(*hit));
	for (size_t i = 0; i < n; i++)
		any |= hit[i] = counted(&f, from[i]);
	/* Nothing to carry (most rules of an update): one syscall. */
	if (any) {
		span(to, hit, n, &lo, &hi);
		/* Read just before the write back: the window in which a packet
		 * counted into these blocks would be lost is two syscalls. */
		err = blocks_read(dp->fd_rule_stats, lo, hi, &t);
	}
	if (any && !err) {
		dirty = xcalloc(t.nb, sizeof(*dirty));
		for (size_t i = 0; i < n; i++)
			for (int cpu = 0; hit[i] && cpu < t.ncpu; cpu++) {
				slot_of(&t, to[i], cpu)->packets += slot_of(&f, from[i], cpu)->packets;
				slot_of(&t, to[i], cpu)->bytes += slot_of(&f, from[i], cpu)->bytes;
				dirty[to[i] / XNSG_RULE_COUNTERS - t.b0] = true;
			}
		err = blocks_write_dirty(dp->fd_rule_stats, &t, dirty);
	}
	free(dirty);
	free(hit);
	free(f.v);
	free(t.v);
	return err;
}
