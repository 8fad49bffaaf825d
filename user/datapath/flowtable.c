// SPDX-License-Identifier: MIT
/* The flow table (xnsg_ct4, xnsg_ct6) from user space: walk it, read its counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* One table's flows: fn on each, then what it asked. */
static int walk_table(struct dp *dp, bool v4, dp_ct_fn fn, void *arg, size_t *changed)
{
	size_t ksize = v4 ? sizeof(struct xnsg_ct4_key) : sizeof(struct xnsg_ct_key), n;
	struct xnsg_ct4_key k4;
	struct xnsg_ct_key k;
	struct xnsg_ct_val v;
	char *keys;
	int fd = v4 ? dp->fd_ct4 : dp->fd_ct6, err = dp_map_keys(fd, ksize, (void **)&keys, &n);

	for (size_t i = 0; i < n; i++) {
		const void *tk = keys + i * ksize;
		enum dp_ct_action a;
		int e = -1;

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
	}
	free(keys);
	return err;
}

int dp_ct_walk(struct dp *dp, dp_ct_fn fn, void *arg, size_t *changed)
{
	int err, err6;

	if (changed)
		*changed = 0;
	err = walk_table(dp, true, fn, arg, changed);
	err6 = walk_table(dp, false, fn, arg, changed);
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
