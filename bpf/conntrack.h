/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Connection tracking (docs/DESIGN.md §2 "State"): once the rules allow the first
 * packet of a flow, later packets of that flow, both ways, pass without
 * rule evaluation until the flow idles past its timeout.  Timeouts are
 * checked here, per packet, so no userspace sweep is needed for
 * correctness.  Also: ICMP errors about a tracked flow, and the verdict of
 * a datagram's first fragment remembered for its later fragments.
 *
 * Included by xnsg.bpf.c after the maps, parse.h and classify.h.
 */
#ifndef XNSG_CONNTRACK_H
#define XNSG_CONNTRACK_H

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* What state a packet may use (struct xnsg_flow's track). */
enum {
	XNSG_FLOW_NONE = 0,   /* none: ICMP errors and ICMP other than query/reply */
	XNSG_FLOW_FOLLOW = 1, /* may pass by state, never creates it: an ICMP reply */
	XNSG_FLOW_TRACK = 2,  /* may pass by state, creates it when the rules allow */
};

/* A packet's flow: its canonical key and which side sent it. */
struct xnsg_flow {
	struct xnsg_ct_key key;
	__u32 len;
	__u32 slot[2];  /* set before xnsg_ct_create: the allowing rules' slots */
	__u32 iface;    /* interface index in the policy */
	__u32 seen_bit; /* set by xnsg_ct_hit(): the key's filter bit, for xnsg_ct_create() */
	__u8 from_a;    /* the sender is side a of the key */
	__u8 tcp_flags;
	__u8 dir;       /* workload direction */
	__u8 gen;       /* generation that judged it */
	__u8 track;     /* XNSG_FLOW_* */
};

/* Flow-log events (bpf/flowlog.h, included after this file). */
static __always_inline struct xnsg_fl_config *fl_on(void);
static __always_inline int xnsg_fl_begin(const struct xnsg_ct_key *k,
					 const struct xnsg_ct4_key *k4,
					 const struct xnsg_ct_val *v, __u64 now);
static __always_inline int xnsg_fl_tcp(const struct xnsg_flow *f, struct xnsg_ct_val *v, __u32 tr,
				       __u32 side, __u64 now);
static __always_inline int xnsg_fl_expire(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v,
					  __u64 now);

/* What ct_tcp() did to a flow, for its flow-log events. */
enum {
	XNSG_TCP_SAME = 0,     /* nothing that logging cares about */
	XNSG_TCP_FINISHED = 1, /* closed: FIN both ways */
	XNSG_TCP_RESET = 2,    /* closed: RST */
	XNSG_TCP_REOPENED = 3, /* out of CLOSING: the 4-tuple reused, or a reset not taken */
};

static __always_inline void ct_stat(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&xnsg_ct_stats, &which);

	if (v)
		*v += 1;
}

static __always_inline __u64 xnsg_timeout(__u32 which)
{
	struct xnsg_config *c;
	__u32 zero = 0;
	__u64 v = 0;

	c = bpf_map_lookup_elem(&xnsg_config, &zero);
	if (c && which < XNSG_TIMEOUTS)
		v = c->timeout_ns[which];
	if (v)
		return v;
	switch (which) {
	case XNSG_TO_TCP_ESTABLISHED: return 240ULL * 1000000000ULL;
	case XNSG_TO_UDP_STREAM: return 120ULL * 1000000000ULL;
	case XNSG_TO_FRAGMENT: return 5ULL * 1000000000ULL;
	default: return 30ULL * 1000000000ULL;
	}
}

static __always_inline __u64 ct_idle_limit(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v)
{
	if (k->proto == 6)
		return xnsg_timeout(v->state == XNSG_CT_ESTABLISHED ? XNSG_TO_TCP_ESTABLISHED
								    : XNSG_TO_TCP_TRANSITORY);
	if (k->proto == 17)
		return xnsg_timeout(v->state == XNSG_CT_REPLIED ? XNSG_TO_UDP_STREAM : XNSG_TO_UDP);
	return xnsg_timeout(XNSG_TO_OTHER);
}

/*
 * Timeouts are whole seconds, at least 1 (policy.c), so an entry idle for
 * less than a second is live whatever its timeout: the packets of a busy
 * flow never read the configuration.
 */
#define XNSG_MIN_TIMEOUT_NS 1000000000ULL

/* The entry has idled past its timeout: its ticks since the last packet
 * (wrap-aware; ~16.8 ms each, docs/DESIGN.md §9) against the timeout. */
static __always_inline int ct_expired(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v,
				      __u64 now)
{
	__u64 idle = (__u64)(__u32)((__u32)(now >> XNSG_CT_LAST_SHIFT) - v->last) << XNSG_CT_LAST_SHIFT;

	return idle > XNSG_MIN_TIMEOUT_NS && idle > ct_idle_limit(k, v);
}

/*
 * The flow table of k's family (abi.h): an IPv4 flow is keyed by its
 * addresses' four bytes, k4 (xnsg_ct4_key_of(), packed once by each caller
 * for all its calls), which the IPv6 table ignores.  Each map
 * call must stay a call site of its own: clang would otherwise merge the
 * two branches' calls into one whose map is chosen by the branch, and the
 * verifier, meeting two maps at one call, can neither inline the lookup
 * nor call the map's own function directly - measured +8-18 ns on an
 * established packet.  The empty asm on one branch's result keeps the two
 * tails different.
 */
#define XNSG_KEEP_APART(x) asm volatile("" : "+r"(x))

static __always_inline struct xnsg_ct_val *ct_lookup(const struct xnsg_ct_key *k,
						      const struct xnsg_ct4_key *k4)
{
	struct xnsg_ct_val *v;

	if (k->family != 4)
		return bpf_map_lookup_elem(&xnsg_ct6, k);
	v = bpf_map_lookup_elem(&xnsg_ct4, k4);
	XNSG_KEEP_APART(v);
	return v;
}

static __always_inline long ct_update(const struct xnsg_ct_key *k, const struct xnsg_ct4_key *k4,
				       const struct xnsg_ct_val *v)
{
	long rc;

	if (k->family != 4)
		return bpf_map_update_elem(&xnsg_ct6, k, v, BPF_ANY);
	rc = bpf_map_update_elem(&xnsg_ct4, k4, v, BPF_ANY);
	XNSG_KEEP_APART(rc);
	return rc;
}

static __always_inline long ct_delete(const struct xnsg_ct_key *k, const struct xnsg_ct4_key *k4)
{
	long rc;

	if (k->family != 4)
		return bpf_map_delete_elem(&xnsg_ct6, k);
	rc = bpf_map_delete_elem(&xnsg_ct4, k4);
	XNSG_KEEP_APART(rc);
	return rc;
}

/*
 * The filter (abi.h: XNSG_SEEN_*, docs/DESIGN.md §9 "Filter"): the word
 * holding a flow's bit in one half.  Array lookups the verifier inlines:
 * no call, no hash of the key's bytes.
 */
static __always_inline __u64 *seen_word(__u32 half, __u32 bit)
{
	__u32 i = XNSG_SEEN_AT(bit >> 6, half & 1);

	return bpf_map_lookup_elem(&xnsg_ct_seen, &i);
}

static __always_inline __u32 seen_bit(const struct xnsg_ct_key *k, const struct xnsg_ct4_key *k4)
{
	return k->family == 4 ? xnsg_seen_bit4(k4) : xnsg_seen_bit6(k);
}

/* 0 only when the table certainly holds no flow of k: its bit is clear in
 * the active half, and the filter is on. */
static __always_inline int ct_maybe(__u32 bit)
{
	__u32 si = XNSG_SEEN_STATE;
	__u64 *st = bpf_map_lookup_elem(&xnsg_ct_seen, &si), s, *w;

	if (!st)
		return 1;
	s = *(volatile __u64 *)st;
	if (!(s & XNSG_SEEN_ON))
		return 1;
	w = seen_word(s & XNSG_SEEN_HALF ? 1 : 0, bit);
	return !w || ((*w >> (bit & 63)) & 1);
}

/* The bit of a flow about to be (or just) inserted, in both halves: the
 * active one for every reader, the other for a rebuild filling it now. */
static __always_inline void ct_seen_set(__u32 bit)
{
	__u64 m = 1ull << (bit & 63), *w;

#pragma unroll
	for (__u32 h = 0; h < 2; h++) {
		w = seen_word(h, bit);
		if (w && !(*(volatile __u64 *)w & m))
			__sync_fetch_and_or(w, m);
	}
}

/* Remove an expired entry (its flow-log end event first).  One cut by a
 * policy change was counted then (XNSG_CTS_RESET), so it does not count
 * as expired. */
static __always_inline void ct_expire(const struct xnsg_ct_key *k, const struct xnsg_ct4_key *k4,
				      const struct xnsg_ct_val *v, __u64 now)
{
	__u8 cut = v->flags & XNSG_CTF_DENIED;

	xnsg_fl_expire(k, v, now);
	ct_delete(k, k4);
	if (!cut)
		ct_stat(XNSG_CTS_EXPIRED);
}

/* -1, 0, 1 as (address x, port px) sorts before, equal to, after (y, py):
 * any total order will do, it only has to be the same both ways. */
static __always_inline int end_cmp(const __u8 *x, __u16 px, const __u8 *y, __u16 py)
{
	__u64 a0, a1, b0, b1;

	x = __builtin_assume_aligned(x, 8); /* struct xnsg_pkt's, related_key()'s */
	y = __builtin_assume_aligned(y, 8);

	__builtin_memcpy(&a0, x, 8);
	__builtin_memcpy(&a1, x + 8, 8);
	__builtin_memcpy(&b0, y, 8);
	__builtin_memcpy(&b1, y + 8, 8);
	if (a0 != b0)
		return a0 < b0 ? -1 : 1;
	if (a1 != b1)
		return a1 < b1 ? -1 : 1;
	if (px != py)
		return px < py ? -1 : 1;
	return 0;
}

/*
 * Fill the key of a flow from one packet's view of it: canonical (side a
 * the smaller end), or for an ICMP query (query != 0) the querier as side
 * a: the source of a request, the destination of a reply.
 *
 * An IPv4 flow compares and copies only the addresses' four bytes (the
 * rest is zero on both sides, so the order is end_cmp()'s): an 8-byte
 * read of pkt's address would also wait for the parser's 4-byte write of
 * it to reach the cache.  The ports go in as one 4-byte word, as
 * xnsg_ct4_key_of() and the table's hash read them.
 */
static __always_inline void flow_key(struct xnsg_ct_key *k, __u32 ifindex, __u8 family, __u8 proto,
				     const __u8 *src, __u16 sport, const __u8 *dst, __u16 dport,
				     __u8 query, __u8 reply, __u8 *from_a)
{
	__u16 ports[2];
	__u32 s4, d4;
	int c;

	src = __builtin_assume_aligned(src, 8); /* as end_cmp() */
	dst = __builtin_assume_aligned(dst, 8);
	__builtin_memcpy(&s4, src, 4);
	__builtin_memcpy(&d4, dst, 4);
	if (query)
		c = reply ? 1 : -1;
	else if (family == 4)
		c = s4 != d4 ? (s4 < d4 ? -1 : 1) : (sport != dport ? (sport < dport ? -1 : 1) : 0);
	else
		c = end_cmp(src, sport, dst, dport);

	__builtin_memset(k, 0, sizeof(*k));
	k->ifindex = ifindex;
	k->family = family;
	k->proto = proto;
	k->icmp_query = query;
	*from_a = c <= 0;
	if (c > 0) {
		const __u8 *t = src;

		src = dst;
		dst = t;
		ports[0] = dport;
		ports[1] = sport;
	} else {
		ports[0] = sport;
		ports[1] = dport;
	}
	__builtin_memcpy((__u8 *)k + __builtin_offsetof(struct xnsg_ct_key, port_a), ports, 4);
	if (family == 4) {
		__builtin_memcpy(k->addr_a, src, 4);
		__builtin_memcpy(k->addr_b, dst, 4);
	} else {
		__builtin_memcpy(k->addr_a, src, 16);
		__builtin_memcpy(k->addr_b, dst, 16);
	}
}

/*
 * ICMP and flows (docs/DESIGN.md §2: errors about a tracked flow pass, an echo reply
 * follows its request).  Only a query and its reply make a flow:
 *
 *   ICMP    echo 8/0, timestamp 13/14, information 15/16, address mask 17/18
 *   ICMPv6  echo 128/129, node information 139/140
 *
 * Its key has the querier as side a (not the smaller end), the identifier
 * (bytes 4-5, echoed in the reply) as both ports and the request's type as
 * icmp_query.  So a request from the querier and a reply to it find the
 * flow; a request the other way (the peer pinging back with the same
 * identifier) or another query type is another flow, judged by the rules.
 * Only a request creates a flow: a reply passes by one or meets the rules,
 * and an allowed reply never opens the way for requests from its
 * destination.  Every other type - errors, redirects, router messages -
 * never passes by state nor creates it: an error (ICMP 3, 11, 12; ICMPv6
 * 1-4) passes as related to the flow it quotes (xnsg_related_key()), the
 * rest meet the rules.
 */
static __always_inline int icmp_is_error(__u8 family, __u8 type)
{
	return family == 4 ? (type == 3 || type == 11 || type == 12) : (type >= 1 && type <= 4);
}

/* ICMP of the packet's family (ICMP in IPv4, ICMPv6 in IPv6). */
static __always_inline int is_icmp(__u8 family, __u8 proto)
{
	return proto == (family == 4 ? 1 : 58);
}

/* The request type of an ICMP query (*reply 0) or reply (*reply 1), else 0. */
static __always_inline __u8 icmp_query(__u8 family, __u8 type, __u8 *reply)
{
	*reply = 0;
	if (family == 4) {
		if (type == 8 || type == 13 || type == 15 || type == 17)
			return type;
		*reply = 1;
		if (type == 0)
			return 8;
		if (type == 14 || type == 16 || type == 18)
			return type - 1;
	} else {
		if (type == 128 || type == 139)
			return type;
		*reply = 1;
		if (type == 129 || type == 140)
			return type - 1;
	}
	*reply = 0;
	return 0;
}

/* The flow of a packet as parsed. */
static __always_inline void xnsg_flow_of(void *data, void *data_end, const struct xnsg_pkt *pkt,
					 __u32 ifindex, struct xnsg_flow *f)
{
	__u16 sport = pkt->sport, dport = pkt->dport;
	__u8 q = 0, reply = 0, *p;

	f->track = XNSG_FLOW_TRACK;
	if (is_icmp(pkt->family, pkt->proto)) {
		p = data + (pkt->l4_off & 0xfff);
		q = icmp_query(pkt->family, pkt->icmp_type, &reply);
		sport = dport = 0;
		if (!q || (void *)(p + 8) > data_end) {
			q = reply = 0;
			f->track = XNSG_FLOW_NONE;
		} else {
			sport = dport = (__u16)(p[4] << 8 | p[5]);
			if (reply)
				f->track = XNSG_FLOW_FOLLOW;
		}
	} else if (pkt->proto != 6 && pkt->proto != 17) {
		sport = dport = 0;
	}
	flow_key(&f->key, ifindex, pkt->family, pkt->proto, pkt->saddr, sport, pkt->daddr, dport, q,
		 reply, &f->from_a);
	f->len = pkt->len;
	f->tcp_flags = pkt->proto == 6 ? pkt->tcp_flags : 0;
}

/* 16-byte addresses equal (IPv4: bytes 4..15 are zero in both). */
static __always_inline int addr_eq(const __u8 *x, const __u8 *y)
{
	__u64 a0, a1, b0, b1;

	x = __builtin_assume_aligned(x, 8);
	y = __builtin_assume_aligned(y, 8);

	__builtin_memcpy(&a0, x, 8);
	__builtin_memcpy(&a1, x + 8, 8);
	__builtin_memcpy(&b0, y, 8);
	__builtin_memcpy(&b1, y + 8, 8);
	return a0 == b0 && a1 == b1;
}

/*
 * The flow an ICMP error is about: the header it quotes, the packet that
 * caused it.  An error goes back to that packet's sender, whoever sends
 * it (the far end, or a router on the path: path MTU discovery), so the
 * quoted source must be the error's destination, as Linux's
 * nf_conntrack_inet_error() requires; a third host cannot make an error
 * about someone else's flow, nor one quoting the flow's reverse, pass.
 * Fills r's key, and r->from_a with the quoted packet's side (for the
 * direction check of xnsg_ct_related()).  Returns 0, or -1: not an ICMP
 * error, or not one that can be about a flow.
 */
static __always_inline int xnsg_related_key(void *data, void *data_end, const struct xnsg_pkt *pkt,
					    __u32 ifindex, struct xnsg_flow *r)
{
	__u8 *in = data + (pkt->l4_off & 0xfff) + 8, *l4, proto, q = 0, reply = 0;
	__u16 sport = 0, dport = 0;
	__u8 src[16] __attribute__((aligned(8))) = {}, dst[16] __attribute__((aligned(8))) = {};

	if (!is_icmp(pkt->family, pkt->proto) || !icmp_is_error(pkt->family, pkt->icmp_type))
		return -1;
	if (pkt->family == 4) {
		__u32 ihl;

		if ((void *)(in + 20) > data_end || (in[0] >> 4) != 4)
			return -1;
		ihl = (in[0] & 0xf) * 4;
		if (ihl < 20)
			return -1;
		proto = in[9];
		__builtin_memcpy(src, in + 12, 4);
		__builtin_memcpy(dst, in + 16, 4);
		l4 = in + ihl;
	} else {
		if ((void *)(in + 40) > data_end || (in[0] >> 4) != 6)
			return -1;
		proto = in[6];
		__builtin_memcpy(src, in + 8, 16);
		__builtin_memcpy(dst, in + 24, 16);
		l4 = in + 40;
	}
	if (!addr_eq(src, pkt->daddr))
		return -1;
	if (proto == 6 || proto == 17) {
		if ((void *)(l4 + 4) > data_end)
			return -1;
		sport = (__u16)(l4[0] << 8 | l4[1]);
		dport = (__u16)(l4[2] << 8 | l4[3]);
	} else if (is_icmp(pkt->family, proto)) {
		if ((void *)(l4 + 8) > data_end)
			return -1;
		q = icmp_query(pkt->family, l4[0], &reply);
		if (!q)
			return -1; /* an error about an error: no flow */
		sport = dport = (__u16)(l4[4] << 8 | l4[5]);
	}
	flow_key(&r->key, ifindex, pkt->family, proto, src, sport, dst, dport, q, reply, &r->from_a);
	return 0;
}

/*
 * Whether an ICMP error is about a live tracked flow: r from
 * xnsg_related_key(), r->dir the error's direction.  The quoted packet
 * went the other way: it must be its sender's direction of the flow (the
 * initiator's packets go the flow's direction, the responder's the other).
 * An entry idle past its timeout is removed as xnsg_ct_hit() does; a
 * flow cut by a policy change has no related errors.
 */
__noinline int xnsg_ct_related(const struct xnsg_flow *r, __u64 now)
{
	struct xnsg_ct4_key k4;
	struct xnsg_ct_val *v;
	__u8 qdir;

	if (!r)
		return 0;
	xnsg_ct4_key_of(&k4, &r->key);
	v = ct_lookup(&r->key, &k4);
	if (!v)
		return 0;
	if (ct_expired(&r->key, v, now)) {
		ct_expire(&r->key, &k4, v, now);
		return 0;
	}
	qdir = r->from_a == v->init_a ? v->dir : v->dir ^ 1;
	if (qdir == r->dir || (v->flags & XNSG_CTF_DENIED))
		return 0;
	ct_stat(XNSG_CTS_RELATED);
	return 1;
}

#define CTF_FIN_BOTH (XNSG_CTF_FIN_INIT | XNSG_CTF_FIN_RESP)
#define CTF_RST_ANY (XNSG_CTF_RST_INIT | XNSG_CTF_RST_RESP)

/*
 * TCP state after a packet with flags fl from side (0 the initiator, 1
 * the responder).  Sequence numbers are not tracked, so a FIN or RST
 * cannot be told from a spoofed one; what keeps either from cutting a live
 * flow down to the transitory timeout:
 * - FIN is remembered per side (XNSG_CTF_FIN_*): the flow is CLOSING once
 *   both sides sent one; a half-closed connection may go on one way for
 *   as long as it likes.
 * - RST makes it CLOSING at once.  If it closed an ESTABLISHED flow, its
 *   sender is remembered (XNSG_CTF_RST_*), and a later packet with ACK and
 *   without RST from the other side makes it ESTABLISHED again: that side
 *   did not take the reset (or never saw it).
 * - A SYN from the initiator on a CLOSING flow starts the 4-tuple afresh.
 * Returns XNSG_TCP_*: whether the flow closed, or left CLOSING.
 */
static __always_inline int ct_tcp(struct xnsg_ct_val *v, __u8 fl, __u32 side)
{
	__u8 st = v->state, cf = v->flags, nst = st, ncf = cf;

	if (st == XNSG_CT_ESTABLISHED && !(fl & (TCP_RST | TCP_FIN)))
		return XNSG_TCP_SAME; /* the common case */
	if (fl & TCP_RST) {
		if (st == XNSG_CT_ESTABLISHED)
			ncf |= XNSG_CTF_RST_INIT << side;
		nst = XNSG_CT_CLOSING;
	} else if (st == XNSG_CT_CLOSING) {
		if ((fl & TCP_SYN) && !(fl & TCP_ACK) && !side) {
			nst = XNSG_CT_SYN_SENT; /* the 4-tuple is reused */
			ncf &= ~(CTF_FIN_BOTH | CTF_RST_ANY);
		} else if ((cf & (XNSG_CTF_RST_INIT << (side ^ 1))) && (fl & TCP_ACK)) {
			nst = XNSG_CT_ESTABLISHED;
			ncf &= ~CTF_RST_ANY;
		}
	} else {
		if (st == XNSG_CT_SYN_SENT && side && (fl & TCP_SYN) && (fl & TCP_ACK))
			nst = XNSG_CT_SYN_RECV;
		else if (st == XNSG_CT_SYN_RECV && !side && (fl & TCP_ACK))
			nst = XNSG_CT_ESTABLISHED;
		if (fl & TCP_FIN) {
			ncf |= XNSG_CTF_FIN_INIT << side;
			if ((ncf & CTF_FIN_BOTH) == CTF_FIN_BOTH)
				nst = XNSG_CT_CLOSING;
		}
	}
	if (nst != st)
		v->state = nst;
	if (ncf != cf)
		v->flags = ncf;
	if (nst == st || (nst != XNSG_CT_CLOSING && st != XNSG_CT_CLOSING))
		return XNSG_TCP_SAME;
	if (nst != XNSG_CT_CLOSING)
		return XNSG_TCP_REOPENED;
	return fl & TCP_RST ? XNSG_TCP_RESET : XNSG_TCP_FINISHED;
}

/*
 * A packet of a tracked flow: account it, advance the TCP state, and
 * return 1 to pass it.  An entry idle past its timeout is removed and 0
 * returned: the packet is then judged by the rules like a new flow's.
 * A flow cut by a policy change (XNSG_CTF_DENIED, set by `apply
 * --reset-flows` / flushConnection): -1, drop it, and keep the entry
 * alive.  Removing the entry instead would let the flow start again
 * mid-stream from whichever side the new policy still allows (the
 * workload's ACKs, say) and carry the denied side with it.
 */
__noinline int xnsg_ct_hit(struct xnsg_flow *f, __u64 now)
{
	struct xnsg_ct4_key k4;
	struct xnsg_ct_val *v;
	__u32 side;
	int tr;

	/* Tested here, not by the caller: a branch there on a constant would
	 * split the verifier's walk of the rules for each kind of flow. */
	if (!f || !f->track)
		return 0;
	xnsg_ct4_key_of(&k4, &f->key);
	f->seen_bit = seen_bit(&f->key, &k4);
	if (!ct_maybe(f->seen_bit))
		return 0;
	if (xnsg_record)
		xnsg_last.ct_looked = 1;
	v = ct_lookup(&f->key, &k4);
	if (!v)
		return 0;
	if (ct_expired(&f->key, v, now)) {
		ct_expire(&f->key, &k4, v, now);
		return 0;
	}
	v->last = (__u32)(now >> XNSG_CT_LAST_SHIFT);
	if (v->flags & XNSG_CTF_DENIED)
		return -1;
	side = f->from_a == v->init_a ? 0 : 1;
	__sync_fetch_and_add(&v->packets[side & 1], 1);
	__sync_fetch_and_add(&v->bytes[side & 1], f->len);
	if (f->key.proto == 6) {
		tr = ct_tcp(v, f->tcp_flags, side & 1);
		if (tr != XNSG_TCP_SAME)
			xnsg_fl_tcp(f, v, tr, side & 1, now);
	} else if (side && v->state == XNSG_CT_NEW)
		v->state = XNSG_CT_REPLIED;
	ct_stat(XNSG_CTS_HITS);
	return 1;
}

/* The rules allowed the first packet of f: start tracking it. */
__noinline int xnsg_ct_create(const struct xnsg_flow *f, __u64 now)
{
	struct xnsg_ct4_key k4;
	struct xnsg_ct_val v = {};

	if (!f || f->track != XNSG_FLOW_TRACK)
		return 0; /* (tested here for the reason xnsg_ct_hit() says) */
	if (f->key.proto == 6) {
		if (f->tcp_flags & TCP_RST)
			return 0; /* nothing to track */
		v.state = (f->tcp_flags & TCP_SYN) && !(f->tcp_flags & TCP_ACK) ? XNSG_CT_SYN_SENT
									     : XNSG_CT_ESTABLISHED;
		if (f->tcp_flags & TCP_FIN) { /* picked up as it ends */
			v.state = XNSG_CT_CLOSING;
			v.flags = XNSG_CTF_FIN_INIT;
		}
	}
	v.created = (__u32)(now >> XNSG_CT_CREATED_SHIFT);
	v.last = (__u32)(now >> XNSG_CT_LAST_SHIFT);
	v.packets[0] = 1;
	v.bytes[0] = f->len;
	v.slot[0] = f->slot[0] < XNSG_CT_NO_SLOT ? (__u16)f->slot[0] : XNSG_CT_NO_SLOT;
	v.slot[1] = f->slot[1] < XNSG_CT_NO_SLOT ? (__u16)f->slot[1] : XNSG_CT_NO_SLOT;
	v.dir = f->dir & 1;
	v.init_a = f->from_a & 1;
	v.gen = f->gen & 1;
	if (fl_on())
		v.log = XNSG_LOG_B_SENT; /* undone by xnsg_fl_begin() if the ring is full */
	xnsg_ct4_key_of(&k4, &f->key);
	/* The bit (xnsg_ct_hit() found it, always run before) set before the
	 * insert, so that no reader finds the entry without it, and again
	 * after it (a read, once the bit is set), for a rebuild that cleared
	 * the other half in between and listed the table before the entry
	 * was in it. */
	ct_seen_set(f->seen_bit);
	if (ct_update(&f->key, &k4, &v))
		return 0;
	ct_seen_set(f->seen_bit);
	ct_stat(XNSG_CTS_CREATED);
	if (v.log)
		xnsg_fl_begin(&f->key, &k4, &v, now);
	return 0;
}

static __always_inline void frag_key(const struct xnsg_pkt *pkt, __u32 ifindex,
				     struct xnsg_frag_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->src, pkt->saddr, 16);
	__builtin_memcpy(k->dst, pkt->daddr, 16);
	k->id = pkt->frag_id;
	k->ifindex = ifindex;
	/* Not proto: an IPv6 first fragment walks past extension headers
	 * after its fragment header, its later fragments cannot (parse.h). */
	k->proto = pkt->frag_proto;
	k->family = pkt->family;
}

/* Remember a first fragment's verdict for the datagram's later ones. */
static __always_inline void xnsg_frag_record(const struct xnsg_pkt *pkt, __u32 ifindex, __u64 now,
					     int allow)
{
	struct xnsg_frag_key k;
	struct xnsg_frag_val v = {};

	if (pkt->frag != XNSG_FRAG_FIRST)
		return;
	frag_key(pkt, ifindex, &k);
	v.expires_ns = now + xnsg_timeout(XNSG_TO_FRAGMENT);
	v.allow = (__u8)allow;
	if (bpf_map_update_elem(&xnsg_frags, &k, &v, BPF_ANY) == 0)
		ct_stat(XNSG_CTS_FRAG_RECORDED);
}

/* A later fragment: 1 allow, 0 deny as its first fragment was judged;
 * -1 when no verdict is remembered. */
static __always_inline int xnsg_frag_follow(const struct xnsg_pkt *pkt, __u32 ifindex, __u64 now)
{
	struct xnsg_frag_key k;
	struct xnsg_frag_val *v;

	frag_key(pkt, ifindex, &k);
	v = bpf_map_lookup_elem(&xnsg_frags, &k);
	if (!v || now > v->expires_ns)
		return -1;
	ct_stat(XNSG_CTS_FRAG_FOLLOWED);
	return v->allow;
}

#endif /* XNSG_CONNTRACK_H */
