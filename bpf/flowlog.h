/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Flow-log events (docs/DESIGN.md §4): the datapath's side of the
 * exporter.
 *
 *   begin   a new allowed flow, or a TCP 4-tuple reused: an event in
 *           xnsg_events with the flow entry (each level's rule slot)
 *   end     TCP FIN both ways or RST, or an entry a packet found idle
 *           past its timeout: an event with the entry's last counts
 *   deny    aggregated per 5-tuple in xnsg_denies4 (IPv4) or xnsg_denies
 *           (IPv6; a flood of one tuple is one entry with counts); a new
 *           tuple is admitted at most deny_cost_ns apart per CPU (GCRA),
 *           the rest counted suppressed
 *
 * All of it only while an exporter runs (xnsg_fl_config.on), and none of
 * it on the packets of an established flow: the config is read where a
 * flow begins or ends and where a packet is denied.  A full ring buffer
 * is counted per CPU (xnsg_fl_cpu) and the entry's log bits say the event
 * was not sent, so the exporter's sweep makes the record instead.
 *
 * xnsg_fl_commit is the exporter's only way to change a live entry: it
 * or-s log bits in place, or removes
 * an entry idle past its timeout after checking again that it is, so
 * that no packet counted meanwhile is undone.
 *
 * Included by xnsg.bpf.c after conntrack.h (which calls the functions
 * declared there).
 */
#ifndef XNSG_FLOWLOG_H
#define XNSG_FLOWLOG_H

static __always_inline struct xnsg_fl_config *fl_on(void)
{
	struct xnsg_fl_config *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&xnsg_fl_config, &zero);
	return c && c->on ? c : (struct xnsg_fl_config *)0;
}

static __always_inline struct xnsg_fl_cpu *fl_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xnsg_fl_cpu, &zero);
}

/* Put one event of flow (k, v) in the ring buffer: 0, or -1 when it is
 * full (counted).  what: enum xnsg_event_type | enum xnsg_end_why << 8. */
static __always_inline int fl_event(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v,
				    __u32 what, __u64 now)
{
	struct xnsg_fl_cpu *c;
	struct xnsg_event *e;

	if (!k || !v)
		return -1;
	e = bpf_ringbuf_reserve(&xnsg_events, sizeof(*e), 0);
	if (!e) {
		c = fl_cpu();
		if (c && (what & 0xff) == XNSG_EV_BEGIN)
			c->lost_begin++;
		else if (c)
			c->lost_end++;
		return -1;
	}
	__builtin_memcpy(&e->v, v, sizeof(e->v));
	__builtin_memcpy(&e->k, k, sizeof(e->k));
	e->type = (__u8)what;
	e->why = (__u8)(what >> 8);
	e->pad[0] = 0;
	e->pad[1] = 0;
	e->time_ns = now;
	/* Events sent are not counted here (the consumer counts what it
	 * gets): on the path of every new flow, a counter costs ~3 ns. */
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The begin event of a flow just created with log = XNSG_LOG_B_SENT: when
 * the ring is full, the entry says so, and the sweep makes the B. */
static __always_inline int xnsg_fl_begin(const struct xnsg_ct_key *k,
					 const struct xnsg_ct4_key *k4,
					 const struct xnsg_ct_val *v, __u64 now)
{
	struct xnsg_ct_val *e;

	if (!k || !v || !fl_event(k, v, XNSG_EV_BEGIN, now))
		return 0;
	e = ct_lookup(k, k4);
	if (e)
		__sync_fetch_and_and(&e->word, ~XNSG_CT_LOG_WORD(XNSG_LOG_B_SENT));
	return 0;
}

/*
 * A TCP flow's state crossed CLOSING (ct_tcp()'s tr) at packet f from
 * side (0 the initiator), already counted: closed by FIN both ways or by
 * RST, its end event (once); or reopened - the 4-tuple reused, or a reset
 * the other side did not take - a new flow from this packet on: its
 * counts start again (the old flow's went with its end event).
 */
static __always_inline int xnsg_fl_tcp(const struct xnsg_flow *f, struct xnsg_ct_val *v, __u32 tr,
				       __u32 side, __u64 now)
{
	const struct xnsg_ct_key *k = &f->key;
	__u32 old, t = (__u32)(now >> XNSG_CT_CREATED_SHIFT);

	if (!v || !fl_on())
		return 0;
	if (tr == XNSG_TCP_REOPENED) {
		/* created tells a reused key's flows apart (user/flowlog): the
		 * clock may not have ticked since the last one. */
		v->created = (__s32)(t - v->created) > 0 ? t : v->created + 1;
		v->packets[side & 1] = 1;
		v->packets[(side & 1) ^ 1] = 0;
		v->bytes[side & 1] = f->len;
		v->bytes[(side & 1) ^ 1] = 0;
		v->log = XNSG_LOG_B_SENT;
		if (fl_event(k, v, XNSG_EV_BEGIN, now))
			__sync_fetch_and_and(&v->word, ~XNSG_CT_LOG_WORD(XNSG_LOG_B_SENT));
		return 0;
	}
	old = __sync_fetch_and_or(&v->word, XNSG_CT_LOG_WORD(XNSG_LOG_E_SENT));
	if (old & XNSG_CT_LOG_WORD(XNSG_LOG_E_SENT))
		return 0;
	if (fl_event(k, v, XNSG_EV_END | (tr == XNSG_TCP_RESET ? XNSG_END_RST : XNSG_END_FIN) << 8,
			  now))
		__sync_fetch_and_and(&v->word, ~XNSG_CT_LOG_WORD(XNSG_LOG_E_SENT));
	return 0;
}

/* A packet found the entry idle past its timeout and removes it: its end
 * event, unless one was sent (a closed TCP flow). */
static __always_inline int xnsg_fl_expire(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, __u64 now)
{
	__u32 why;

	if (!k || !v || (v->log & (XNSG_LOG_E_SENT | XNSG_LOG_E_DONE)) || !fl_on())
		return 0;
	why = v->flags & XNSG_CTF_DENIED ? XNSG_END_CUT : XNSG_END_TIMEOUT;
	fl_event(k, v, XNSG_EV_END | why << 8, now);
	return 0;
}

/* The deny rate limit (GCRA): 1 when a new tuple may be recorded now. */
static __always_inline int deny_admit(const struct xnsg_fl_config *cfg, struct xnsg_fl_cpu *c,
				      __u64 now)
{
	__u64 tat = c->deny_tat > now ? c->deny_tat : now;

	if (tat - now > cfg->deny_burst_ns)
		return 0;
	c->deny_tat = tat + cfg->deny_cost_ns;
	return 1;
}

/* The packet's 5-tuple as it was sent (an IPv6 one: xnsg_denies). */
static __always_inline void deny_key(const struct xnsg_flow *f, struct xnsg_deny_key *dk)
{
	const struct xnsg_ct_key *k = &f->key;

	__builtin_memset(dk, 0, sizeof(*dk));
	if (f->from_a) {
		__builtin_memcpy(dk->src, k->addr_a, 16);
		__builtin_memcpy(dk->dst, k->addr_b, 16);
		dk->sport = k->port_a;
		dk->dport = k->port_b;
	} else {
		__builtin_memcpy(dk->src, k->addr_b, 16);
		__builtin_memcpy(dk->dst, k->addr_a, 16);
		dk->sport = k->port_b;
		dk->dport = k->port_a;
	}
	dk->ifindex = k->ifindex;
	dk->proto = k->proto;
	dk->family = k->family;
	dk->dir = f->dir;
}

/* The same of an IPv4 packet (xnsg_denies4), written as whole words as
 * the kernel's hash reads them (see xnsg_ct4_key_of()). */
_Static_assert(__builtin_offsetof(struct xnsg_deny4_key, sport) % 4 == 0 &&
	       __builtin_offsetof(struct xnsg_deny4_key, proto) % 4 == 0, "deny4 key words");
static __always_inline void deny4_key(const struct xnsg_flow *f, struct xnsg_deny4_key *dk)
{
	const struct xnsg_ct_key *k = &f->key;
	__u32 ports, tail;

	__builtin_memcpy(&ports, XNSG_AT(k, struct xnsg_ct_key, port_a), 4);
	if (f->from_a) {
		__builtin_memcpy(dk->src, k->addr_a, 4);
		__builtin_memcpy(dk->dst, k->addr_b, 4);
	} else {
		__builtin_memcpy(dk->src, k->addr_b, 4);
		__builtin_memcpy(dk->dst, k->addr_a, 4);
		ports = ports >> 16 | ports << 16; /* sport is port_b */
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	tail = (__u32)k->proto | (__u32)f->dir << 8;
#else
	tail = (__u32)k->proto << 24 | (__u32)f->dir << 16;
#endif
	dk->ifindex = k->ifindex;
	__builtin_memcpy(XNSG_AT(dk, struct xnsg_deny4_key, sport), &ports, 4);
	__builtin_memcpy(XNSG_AT(dk, struct xnsg_deny4_key, proto), &tail, 4);
}

/* Count a denied packet into its tuple's entry dk of map (xnsg_denies4 or
 * xnsg_denies; inlined once for each, so that each lookup is of one map
 * and the verifier can inline it). */
static __always_inline int deny_count(void *map, const void *dk, const struct xnsg_flow *f,
				      const struct xnsg_fl_config *cfg, __u32 slot, __u64 now)
{
	struct xnsg_deny_val *d, nv = {};
	struct xnsg_fl_cpu *c;

	d = bpf_map_lookup_elem(map, dk);
	if (!d) {
		c = fl_cpu();
		if (!c)
			return 0;
		if (!deny_admit(cfg, c, now)) {
			c->deny_suppressed++;
			return 0;
		}
		nv.first_ns = now;
		nv.last_ns = now;
		nv.packets = 1;
		nv.bytes = f->len;
		nv.slot = slot;
		nv.iface = f->iface;
		nv.gen = f->gen;
		if (bpf_map_update_elem(map, dk, &nv, BPF_NOEXIST) == 0) {
			c->deny_tuples++;
			return 0;
		}
		d = bpf_map_lookup_elem(map, dk); /* another CPU's came first */
		if (!d) {
			c->deny_suppressed++;
			c->deny_full++;
			return 0;
		}
	}
	__sync_fetch_and_add(&d->packets, 1);
	__sync_fetch_and_add(&d->bytes, f->len);
	d->last_ns = now;
	return 0;
}

/* A packet the rules denied (slot: the denying rule's counter slot):
 * counted into its tuple's entry, which the exporter takes and logs.
 * Called only while flow logs are on (the caller tests fl_on(): a call
 * and its return are dear with retpolines); the config is read again
 * here for the rate limit. */
__noinline int xnsg_fl_deny(const struct xnsg_flow *f, __u32 slot, __u64 now)
{
	struct xnsg_fl_config *cfg = fl_on();
	struct xnsg_deny4_key dk4;
	struct xnsg_deny_key dk;

	if (!f || !cfg)
		return 0;
	if (f->key.family == 4) {
		deny4_key(f, &dk4);
		return deny_count(&xnsg_denies4, &dk4, f, cfg, slot, now);
	}
	deny_key(f, &dk);
	return deny_count(&xnsg_denies, &dk, f, cfg, slot, now);
}

/* One operation of the exporter's batch (bpf_loop callback). */
static long fl_op(__u32 i, void *unused)
{
	struct xnsg_fl_batch *b;
	struct xnsg_ct4_key k4;
	struct xnsg_ct_val *v;
	struct xnsg_fl_op *o;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&xnsg_fl_batch, &zero);
	if (!b || i >= XNSG_FL_BATCH)
		return 1;
	o = &b->op[i];
	o->result = 0;
	xnsg_ct4_key_of(&k4, &o->k);
	v = ct_lookup(&o->k, &k4);
	if (!v || v->created != o->created)
		return 0; /* gone, or the key is another flow's now */
	if (o->op == XNSG_FL_COMMIT) {
		if (o->log_set)
			__sync_fetch_and_or(&v->word, XNSG_CT_LOG_WORD(o->log_set & 0xff));
		o->result = 1;
	} else if (o->op == XNSG_FL_EXPIRE) {
		if (!ct_expired(&o->k, v, bpf_ktime_get_ns()))
			return 0; /* a packet came meanwhile */
		__builtin_memcpy(&o->v, v, sizeof(o->v));
		if (ct_delete(&o->k, &k4) == 0) {
			if (!(o->v.flags & XNSG_CTF_DENIED))
				ct_stat(XNSG_CTS_EXPIRED);
			o->result = 1;
		}
	}
	return 0;
}

SEC("syscall")
int xnsg_fl_commit(void *ctx)
{
	struct xnsg_fl_batch *b;
	__u32 zero = 0, n;

	b = bpf_map_lookup_elem(&xnsg_fl_batch, &zero);
	if (!b)
		return -1;
	n = b->n < XNSG_FL_BATCH ? b->n : XNSG_FL_BATCH;
	bpf_loop(n, fl_op, (void *)0, 0);
	return 0;
}

#endif /* XNSG_FLOWLOG_H */
