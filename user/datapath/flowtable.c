// SPDX-License-Identifier: MIT
/* The flow table (xnsg_ct) from user space: walk it, read its counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "dp_internal.h"
#include "model.h"

int dp_ct_walk(struct dp *dp, dp_ct_fn fn, void *arg, size_t *changed)
{
	struct xnsg_ct_key *keys;
	struct xnsg_ct_val v;
	size_t n;
	int err = dp_map_keys(dp->fd_ct, sizeof(*keys), (void **)&keys, &n);

	if (changed)
		*changed = 0;
	for (size_t i = 0; i < n; i++) {
		enum dp_ct_action a;
		int e = -1;

		if (bpf_map_lookup_elem(dp->fd_ct, &keys[i], &v))
			continue; /* gone meanwhile */
		a = fn(&keys[i], &v, arg);
		if (a == DP_CT_DELETE)
			e = bpf_map_delete_elem(dp->fd_ct, &keys[i]);
		else if (a == DP_CT_UPDATE)
			e = bpf_map_update_elem(dp->fd_ct, &keys[i], &v, BPF_EXIST);
		if (e == 0 && changed)
			(*changed)++;
	}
	free(keys);
	return err;
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
