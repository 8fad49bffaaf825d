// SPDX-License-Identifier: MIT
/* The flow table (xnsg_ct4, xnsg_ct6) from user space: walk it, read its counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "dp_internal.h"
#include "model.h"

/* The flow table is two maps of one value (abi.h): IPv4 flows keyed by
 * struct xnsg_ct4_key, IPv6 ones by struct xnsg_ct_key, which is what
 * every caller gets and gives. */
const void *dp_ct_table_key(const struct dp *dp, const struct xnsg_ct_key *k,
			    struct xnsg_ct4_key *k4, int *fd)
{
	if (k->family != 4) {
		*fd = dp->fd_ct6;
		return k;
	}
	xnsg_ct4_key_of(k4, k);
	*fd = dp->fd_ct4;
	return k4;
}

void dp_ct_key_from4(struct xnsg_ct_key *k, const struct xnsg_ct4_key *k4)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr_a, k4->addr_a, 4);
	memcpy(k->addr_b, k4->addr_b, 4);
	k->ifindex = k4->ifindex;
	k->port_a = k4->port_a;
	k->port_b = k4->port_b;
	k->proto = k4->proto;
	k->family = 4;
	k->icmp_query = k4->icmp_query;
}

/* ---- the filter (datapath.h: dp_seen_*) ------------------------------ */

static __u64 mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec;
}

static __u64 *seen_map(struct dp *dp, size_t *len)
{
	void *m;

	if (dp->fd_ct_seen < 0)
		return NULL;
	*len = (size_t)XNSG_SEEN_ENTRIES * sizeof(__u64);
	m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, dp->fd_ct_seen, 0);
	return m == MAP_FAILED ? NULL : m;
}

void dp_seen_begin(struct dp *dp, struct dp_seen *r)
{
	__u64 *st, s, now = mono_s(), t;

	memset(r, 0, sizeof(*r));
	r->m = seen_map(dp, &r->len);
	if (!r->m)
		return;
	st = &r->m[XNSG_SEEN_STATE];
	s = __atomic_load_n(st, __ATOMIC_ACQUIRE);
	t = s >> XNSG_SEEN_TIME_SHIFT;
	/* Off stays off; a half made idle less than XNSG_SEEN_SETTLE_S ago may
	 * still be read by a packet that took the old state word. */
	if (!(s & XNSG_SEEN_ON) ||
	    (now >= t && now - t < ((s & XNSG_SEEN_BUSY) ? XNSG_SEEN_STALE_S : XNSG_SEEN_SETTLE_S)))
		goto skip;
	r->taken = (s & (XNSG_SEEN_ON | XNSG_SEEN_HALF)) | XNSG_SEEN_BUSY | now << XNSG_SEEN_TIME_SHIFT;
	if (!__atomic_compare_exchange_n(st, &s, r->taken, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		goto skip; /* another rebuild took it */
	r->spare = (s & XNSG_SEEN_HALF) ? 0 : 1;
	/* The datapath sets a new flow's bit in both halves, before and after
	 * its insert: whatever it inserts from here on is in the spare half,
	 * or in the listing that follows. */
	for (size_t j = 0; j < XNSG_SEEN_WORDS; j++)
		__atomic_store_n(&r->m[XNSG_SEEN_AT(j, r->spare)], 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return;
skip:
	munmap(r->m, r->len);
	r->m = NULL;
}

static void seen_add(struct dp_seen *r, __u32 bit)
{
	__atomic_fetch_or(&r->m[XNSG_SEEN_AT((size_t)bit >> 6, r->spare)], 1ull << (bit & 63),
			  __ATOMIC_RELAXED);
}

void dp_seen_add4(struct dp_seen *r, const struct xnsg_ct4_key *k4)
{
	if (r->m)
		seen_add(r, xnsg_seen_bit4(k4));
}

void dp_seen_add6(struct dp_seen *r, const struct xnsg_ct_key *k)
{
	if (r->m)
		seen_add(r, xnsg_seen_bit6(k));
}

void dp_seen_end(struct dp_seen *r, bool whole)
{
	__u64 s = r->taken, n;

	if (!r->m)
		return;
	n = XNSG_SEEN_ON | mono_s() << XNSG_SEEN_TIME_SHIFT;
	if (whole)
		n |= r->spare ? XNSG_SEEN_HALF : 0;
	else
		n |= s & XNSG_SEEN_HALF; /* the active half as it was */
	/* Fails only if the rebuild was taken for dead (XNSG_SEEN_STALE_S):
	 * that one's now. */
	__atomic_compare_exchange_n(&r->m[XNSG_SEEN_STATE], &s, n, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	munmap(r->m, r->len);
	r->m = NULL;
}

int dp_seen_state(struct dp *dp, bool *on, size_t *set)
{
	size_t len;
	__u64 *m = seen_map(dp, &len), s;
	unsigned int h;

	if (!m)
		return -ENOENT;
	s = __atomic_load_n(&m[XNSG_SEEN_STATE], __ATOMIC_ACQUIRE);
	h = (s & XNSG_SEEN_HALF) ? 1 : 0;
	*set = 0;
	for (size_t j = 0; j < XNSG_SEEN_WORDS; j++)
		*set += (size_t)__builtin_popcountll(m[XNSG_SEEN_AT(j, h)]);
	*on = s & XNSG_SEEN_ON;
	munmap(m, len);
	return 0;
}

int dp_seen_init(struct dp *dp, bool on)
{
	__u64 s = on ? XNSG_SEEN_ON | mono_s() << XNSG_SEEN_TIME_SHIFT : 0;
	__u32 k = XNSG_SEEN_STATE;

	if (dp->fd_ct_seen < 0)
		return -ENOENT;
	return bpf_map_update_elem(dp->fd_ct_seen, &k, &s, BPF_ANY) ? -errno : 0;
}

/* One table's flows: fn on each, then what it asked. */
static int walk_table(struct dp *dp, bool v4, dp_ct_fn fn, void *arg, size_t *changed,
		      struct dp_seen *seen)
{
	size_t ksize = v4 ? sizeof(struct xnsg_ct4_key) : sizeof(struct xnsg_ct_key), n;
	struct xnsg_ct4_key k4;
	struct xnsg_ct_key k;
	struct xnsg_ct_val v;
	char *keys;
	int fd = v4 ? dp->fd_ct4 : dp->fd_ct6, err = dp_map_keys(fd, ksize, (void **)&keys, &n);

	for (size_t i = 0; i < n; i++) {
		const void *listed = keys + i * ksize, *tk = listed;
		enum dp_ct_action a;
		int e = -1;

		/* (A flow gone or deleted here and made again has its bit from
		 * the datapath, in both halves.) */
		if (bpf_map_lookup_elem(fd, tk, &v))
			continue; /* gone meanwhile */
		if (v4)
			dp_ct_key_from4(&k, tk);
		else
			memcpy(&k, tk, sizeof(k));
		a = fn(&k, &v, arg);
		tk = dp_ct_table_key(dp, &k, &k4, &fd);
		if (a == DP_CT_DELETE)
			e = bpf_map_delete_elem(fd, tk);
		else if (a == DP_CT_UPDATE)
			e = bpf_map_update_elem(fd, tk, &v, BPF_EXIST);
		if (e == 0 && changed)
			(*changed)++;
		if (a == DP_CT_DELETE && e == 0)
			continue;
		if (v4)
			dp_seen_add4(seen, listed);
		else
			dp_seen_add6(seen, listed);
	}
	free(keys);
	return err;
}

int dp_ct_walk(struct dp *dp, dp_ct_fn fn, void *arg, size_t *changed)
{
	struct dp_seen seen;
	int err, err6;

	if (changed)
		*changed = 0;
	dp_seen_begin(dp, &seen);
	err = walk_table(dp, true, fn, arg, changed, &seen);
	err6 = walk_table(dp, false, fn, arg, changed, &seen);
	dp_seen_end(&seen, !err && !err6);
	return err ? err : err6;
}

unsigned int dp_ct_capacity(struct dp *dp)
{
	return dp_map_max_entries(dp->fd_ct4) + dp_map_max_entries(dp->fd_ct6);
}

int dp_ct_stats(struct dp *dp, __u64 v[XNSG_CT_STATS])
{
	int err = 0;

	for (__u32 k = 0; k < XNSG_CT_STATS; k++)
		if (dp_u64_read(dp->fd_ct_stats, k, &v[k]))
			err = -errno;
	return err;
}

static __u64 ticks_ns(__u32 t, unsigned int shift, __u64 now)
{
	__u64 nt = now >> shift;

	return (nt - (__u32)((__u32)nt - t)) << shift;
}

__u64 dp_ct_created_ns(const struct xnsg_ct_val *v, __u64 now)
{
	return ticks_ns(v->created, XNSG_CT_CREATED_SHIFT, now);
}

__u64 dp_ct_last_ns(const struct xnsg_ct_val *v, __u64 now)
{
	return ticks_ns(v->last, XNSG_CT_LAST_SHIFT, now);
}

__u64 dp_ct_idle_ns(const struct xnsg_ct_val *v, __u64 now)
{
	return (__u64)(__u32)((__u32)(now >> XNSG_CT_LAST_SHIFT) - v->last) << XNSG_CT_LAST_SHIFT;
}

void dp_ct_ends(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, struct xnsg_addr *ia,
		uint16_t *ip, struct xnsg_addr *ra, uint16_t *rp)
{
	const uint8_t *ib = v->init_a ? k->addr_a : k->addr_b, *rb = v->init_a ? k->addr_b : k->addr_a;

	memset(ia, 0, sizeof(*ia));
	memset(ra, 0, sizeof(*ra));
	ia->family = ra->family = k->family;
	memcpy(ia->bytes, ib, 16);
	memcpy(ra->bytes, rb, 16);
	*ip = v->init_a ? k->port_a : k->port_b;
	*rp = v->init_a ? k->port_b : k->port_a;
}
