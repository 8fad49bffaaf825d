// SPDX-License-Identifier: MIT
/*
 * Tracked flows judged again after a policy change (docs/DESIGN.md §2:
 * --reset-flows, flushConnection).  A flow the new policy denies is cut,
 * not removed: its entry is marked XNSG_CTF_DENIED and the datapath drops
 * its packets while they keep coming, until it idles out
 * (bpf/conntrack.h).  A removed entry would let the side the new policy
 * still allows (the workload's outbound ACKs, say) start the flow again
 * mid-stream, and the denied side ride it.
 */
#include <net/if.h>
#include <string.h>

#include "apply.h"
#include "datapath.h"
#include "eval.h"
#include "model.h"
#include "policy.h"

/* A flow's interface as the policy knows it: its index in p->ifaces, -1
 * when the policy does not name it, IFACE_GONE when the host has none. */
#define IFACE_GONE (-2)
#define IFACE_CACHE 64 /* slots, by ifindex: a walk meets few interfaces */

struct iface_seen {
	unsigned int ifindex; /* 0: empty (no interface has index 0) */
	int iface;
};

struct reeval {
	const struct policy *p;
	bool all; /* --reset-flows: every flow; else interfaces with flushConnection */
	size_t checked;
	size_t cut; /* flows cut now */
	struct iface_seen seen[IFACE_CACHE];
};

/* Remembered for the walk: each flow asked if_indextoname() (a socket, an
 * ioctl and a close, ~10 us) and searched the policy's interfaces by name,
 * while the flows of a table share a few interfaces. */
static int iface_of(struct reeval *re, unsigned int ifindex)
{
	struct iface_seen *e = &re->seen[ifindex % IFACE_CACHE];
	char name[IF_NAMESIZE];

	if (!ifindex || e->ifindex != ifindex) {
		e->ifindex = ifindex;
		e->iface = if_indextoname(ifindex, name) ? policy_find_iface(re->p, name) : IFACE_GONE;
	}
	return e->iface;
}

static bool flushes(const struct policy *p, const struct iface *ifc)
{
	return (ifc->nsg >= 0 && p->nsgs[ifc->nsg].flush_connection) ||
	       (ifc->subnet >= 0 && p->subnets[ifc->subnet].nsg >= 0 &&
		p->nsgs[p->subnets[ifc->subnet].nsg].flush_connection);
}

bool flows_flushing(const struct policy *p)
{
	for (size_t i = 0; i < p->nifaces; i++)
		if (flushes(p, &p->ifaces[i]))
			return true;
	return false;
}

/* The query IP flow verify would ask for this entry. */
static void query_of(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, struct eval_query *q)
{
	struct xnsg_addr ia, ra;
	uint16_t ip, rp;

	dp_ct_ends(k, v, &ia, &ip, &ra, &rp);
	q->dir = v->dir == XNSG_DIR_IN ? XNSG_IN : XNSG_OUT;
	q->ipproto = k->proto;
	/* Inbound: the initiator is the remote end; outbound, the local one. */
	q->local = q->dir == XNSG_IN ? ra : ia;
	q->remote = q->dir == XNSG_IN ? ia : ra;
	q->lport = q->dir == XNSG_IN ? rp : ip;
	q->rport = q->dir == XNSG_IN ? ip : rp;
	if (k->proto != 6 && k->proto != 17)
		q->lport = q->rport = 0;
}

static enum dp_ct_action reeval_one(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct reeval *re = arg;
	struct eval_query q = { 0 };
	struct eval_result r;
	bool cut = v->flags & XNSG_CTF_DENIED;

	q.iface = iface_of(re, k->ifindex);
	if (q.iface == IFACE_GONE) {
		if (!cut)
			re->cut++;
		return DP_CT_DELETE;
	}
	if (q.iface < 0)
		return DP_CT_KEEP; /* not filtered by this policy any more */
	if (!re->all && !flushes(re->p, &re->p->ifaces[q.iface]))
		return DP_CT_KEEP;
	re->checked++;
	query_of(k, v, &q);
	eval_flow(re->p, &q, &r);
	if (cut) /* cut earlier: allowed now, its next packet meets the rules */
		return r.allow ? DP_CT_DELETE : DP_CT_KEEP;
	if (r.allow)
		return DP_CT_KEEP;
	v->flags |= XNSG_CTF_DENIED;
	re->cut++;
	return DP_CT_UPDATE;
}

int flows_reevaluate(struct dp *dp, const struct policy *p, bool all, size_t *checked, size_t *cut)
{
	struct reeval re = { .p = p, .all = all };
	int err = dp_ct_walk(dp, reeval_one, &re, NULL);

	*checked = re.checked;
	*cut = re.cut;
	/* Counted so that `stats` can tell cut flows from LRU evictions. */
	if (re.cut)
		dp_u64_add(dp->fd_ct_stats, XNSG_CTS_RESET, re.cut);
	return err;
}
