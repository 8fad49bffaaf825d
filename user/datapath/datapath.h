/* SPDX-License-Identifier: MIT */
/*
 * The datapath module: the only code in user/ that makes bpf() syscalls
 * (docs/DESIGN.md §7).  It loads the BPF object, pins and finds its maps,
 * writes compiled tables into a generation and flips to it, attaches and
 * finds hooks in the kernel's own view, walks maps and sums per-CPU
 * values, and runs the private BPF_PROG_TEST_RUN instance.
 *
 *   env.c        pin directory, privileges, BTF, BPF filesystem
 *   load.c       open/load/close an instance, pins
 *   gen.c        generations: write, flip, clear, interface entries
 *   hooks.c      XDP and TC hooks: attach, detach, the kernel's view
 *   maps.c       key walks, batch writes, per-CPU sums
 *   counters.c   the per-rule counters: read, zero, carry across updates
 *   flowtable.c  the conntrack map: walk, counters
 *   testrun.c    the private test instance (verify --datapath, tests)
 *   frame.c      crafted frames (frame.h)
 *
 * Every function returns 0 or -errno unless it says otherwise; the ones
 * that fail for a reason a user can fix print one line saying so.
 */
#ifndef XNSG_DATAPATH_H
#define XNSG_DATAPATH_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xnsg/abi.h"

struct xnsg;
struct compiled;
struct policy;
struct flow_timeouts;
struct eval_query;
struct eval_result;
struct xnsg_addr;

/* ---- env.c ---------------------------------------------------------- */

/* XNSG_PIN_DIR from the environment, else /sys/fs/bpf/xnsg. */
const char *dp_pin_dir(void);
/*
 * Root, BTF; with need_pins also a BPF filesystem under the pin directory
 * (mounted on /sys/fs/bpf if it is not one yet) and a pin directory, if
 * it exists, owned by root and writable by no one else.
 */
int dp_check_env(bool need_pins);

/* ---- load.c --------------------------------------------------------- */

#define DP_MAX_PROGS 8
/* One instance: the skeleton (NULL when opened from pins) and map fds. */
struct dp {
	struct xnsg *skel;
	int fd_active, fd_ifaces, fd_iface_idx, fd_tables, fd_lpm4, fd_lpm6, fd_ports, fd_dir4, fd_dir4_next, fd_dir6,
		fd_protos, fd_classes, fd_rule_stats, fd_drops, fd_ct4, fd_ct6, fd_config, fd_ct_stats,
		fd_frags;
	/* the flow table's filter (abi.h XNSG_SEEN_*); -1 in pins of a build before it */
	int fd_ct_seen;
	/* flow logs (ringbuf.c) */
	int fd_events, fd_fl_config, fd_fl_cpu, fd_denies, fd_fl_batch, fd_fl_stats;
	/* IPv4 denied tuples (xnsg_denies4); -1 in pins of a build before it */
	int fd_denies4;
	/* the exporter's positions (xnsg_fl_pos), -1 until dp_fl_open() */
	int fd_fl_pos;
	/* the programs, when reused from their pins (no skeleton): dp_prog_fd() */
	int fd_progs[DP_MAX_PROGS];
	/* maps of dp_preload() adopted, its programs still being verified:
	 * dp_pin_programs() waits for them and pins them */
	bool preloaded;
};

enum dp_open_flags {
	DP_PINNED = 1,    /* reuse (or create and pin) the maps under the pin directory */
	DP_RECORD = 2,    /* keep the last decision in xnsg_last (tests, verify) */
	DP_STATELESS = 4, /* no flow tracking: classification alone (benchmarks) */
	DP_REUSE = 8,     /* with DP_PINNED: keep the pinned programs when they are this
			   * build's (an update), instead of loading and verifying them */
};
/* Load the BPF object.  max_flows sizes a flow table being created (0:
 * the default); a pinned table keeps the size it was made with. */
int dp_open(struct dp *dp, unsigned int flags, unsigned int max_flows);
/* Start loading the datapath (maps, programs) on a thread of its own when
 * nothing is pinned: a first apply's dp_open(DP_PINNED | DP_REUSE) with
 * the same max_flows then adopts it.  Of the two receive programs only
 * the one the apply is expected to attach is loaded: TC ingress when
 * rx_tc, else XDP (the other when an interface needs it, dp_attach()).
 * dp_preload_drop(): what was not adopted is freed. */
void dp_preload(unsigned int max_flows, bool rx_tc);
void dp_preload_drop(void);
/* The fd of program `name` (xnsg_xdp, ...), loaded or reused; -ENOENT. */
int dp_prog_fd(const struct dp *dp, const char *name);
/* Open the pinned maps only, to read or edit them: -ENOENT if nothing is
 * pinned (no message), or one line naming the missing map. */
int dp_open_pins(struct dp *dp);
void dp_close(struct dp *dp);
/* Whether a datapath is pinned (an earlier apply is live). */
bool dp_is_pinned(void);
/* Pin the instance's programs (replacing earlier pins): they identify
 * the instance's hooks after the loader exits. */
int dp_pin_programs(struct dp *dp);
/* Remove every pin (maps and programs) and the directory itself. */
int dp_unpin_all(void);

/* ---- gen.c ---------------------------------------------------------- */

int dp_active_read(struct dp *dp, struct xnsg_active *a);
/*
 * Write compiled policy c into generation gen: classes, port maps, tables,
 * and the interfaces whose ifindex[i] (parallel to c->ifaces) is non-zero.
 * Nothing of gen is reachable by packets until dp_flip(gen).
 */
int dp_write_gen(struct dp *dp, __u32 gen, const struct compiled *c, const unsigned int *ifindex);
/* Make gen the generation packets are judged by, as apply number serial. */
int dp_flip(struct dp *dp, __u32 gen, __u32 serial);
/* Remove the keyed entries (LPM, interfaces) of generation gen. */
int dp_clear_gen(struct dp *dp, __u32 gen);
/* An interface entry that passes everything (no NSG at any level): for an
 * interface with hooks but no policy yet, or no more. */
int dp_iface_pass(struct dp *dp, __u32 gen, unsigned int ifindex);
/* Interface ifindex's entry in generation gen set to cfg (marked present). */
int dp_iface_set(struct dp *dp, __u32 gen, unsigned int ifindex, const struct xnsg_iface_cfg *cfg);
/* Whether generation gen has an entry for ifindex. */
bool dp_iface_known(struct dp *dp, __u32 gen, unsigned int ifindex);
/* Generation gen's entry of each interface whose ifindex[i] (parallel to
 * c->ifaces) is non-zero against the one c gives it (present aside):
 * m[i].  0 or -errno. */
enum dp_iface_match { DP_IFACE_ABSENT, DP_IFACE_SAME, DP_IFACE_OTHER };
int dp_iface_match_all(struct dp *dp, __u32 gen, const struct compiled *c,
		       const unsigned int *ifindex, enum dp_iface_match *m);
/* Remove ifindex's entry from generation gen. */
void dp_iface_remove(struct dp *dp, __u32 gen, unsigned int ifindex);
/* The entries of the interfaces whose ifindex[i] (parallel to c->ifaces)
 * is non-zero written into generation gen: dp_write_gen()'s last part. */
int dp_write_ifaces(struct dp *dp, __u32 gen, const struct compiled *c, const unsigned int *ifindex);
/* A digest (hex, NUL-terminated) of what dp_write_gen() writes of c but
 * the interface entries, and of extra, with this build's BPF object and
 * DP_TABLES_FORMAT: equal digests, equal tables read alike.  Raise
 * DP_TABLES_FORMAT when dp_write_gen() writes the same compiled tables
 * into the maps otherwise. */
#define DP_TABLES_FORMAT 1
#define DP_DIGEST_HEX 33
void dp_gen_digest(const struct compiled *c, const void *extra, size_t extra_len,
		   char hex[DP_DIGEST_HEX]);
/* Remove ifindex's entries from every generation. */
void dp_iface_forget(struct dp *dp, unsigned int ifindex);
/* The policy's idle timeouts (not generational). */
int dp_write_config(struct dp *dp, const struct flow_timeouts *to);
/* Return once every BPF program that was running has finished (an RCU
 * grace period), so that a generation just switched away from is unread. */
void dp_wait_readers(void);

/* ---- counters.c: the per-rule counters ------------------------------ */

/* Add the counts of slots from[i] (a generation nothing counts into any
 * more) to slots to[i]: one batch read of the old slots, then a read and
 * write back of only the elements that receive something. */
int dp_counters_move(struct dp *dp, const __u32 *from, const __u32 *to, size_t n);
/* Slots [first, first + n) summed over CPUs into sum[n]. */
int dp_rule_counters_read(struct dp *dp, __u32 first, __u32 n, struct xnsg_counter *sum);
/* Zero slots [first, first + n) of a generation nothing counts into. */
int dp_rule_counters_zero(struct dp *dp, __u32 first, __u32 n);

/* ---- hooks.c -------------------------------------------------------- */

/* One interface's hooks as attached (and recorded in the state file). */
struct dp_attachment {
	char ifname[IF_NAMESIZE];
	unsigned int ifindex;
	bool ingress_tc;     /* TC ingress instead of XDP */
	int xdp_mode;        /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE; 0 none */
	bool clsact_created; /* xnsg created the clsact qdisc: remove it on detach */
};

/* What the kernel has on one interface, seen from this instance. */
struct dp_hooks {
	int xdp_mode;   /* ours: XDP_FLAGS_DRV_MODE / XDP_FLAGS_SKB_MODE; 0 none */
	bool tc_ingress; /* our TC ingress filter */
	bool tc_egress;  /* our TC egress filter */
	bool foreign;    /* an xnsg hook of another instance (other pins) */
	__u32 other_xdp; /* an XDP program not loaded by xnsg (id), 0 none */
};

/*
 * Attach (or replace) the programs on one interface: XDP native, else
 * generic, or TC ingress; TC egress always.  a->ifindex and a->ingress_tc
 * are inputs; the modes used are recorded in a.  Refuses an interface
 * another xnsg instance filters or another XDP program sits on.
 */
int dp_attach(struct dp *dp, struct dp_attachment *a);
/* Remove only the receive hook a describes (XDP or TC ingress). */
int dp_detach_ingress(struct dp *dp, const struct dp_attachment *a);
/* Remove every hook of this instance from the interface, as the kernel
 * reports them; the clsact qdisc too when xnsg created it.  An interface
 * that is gone took its hooks with it. */
int dp_detach(struct dp *dp, const struct dp_attachment *a);
/* This instance's hooks on ifindex, from the kernel (never from a file). */
int dp_hooks_query(struct dp *dp, unsigned int ifindex, struct dp_hooks *h);
/* Every interface of the host with a hook of this instance: fn is called
 * with its index and hooks; fn's non-zero return stops the scan. */
int dp_hooks_scan(struct dp *dp, int (*fn)(unsigned int ifindex, const struct dp_hooks *h,
					   void *arg), void *arg);

/* ---- maps.c --------------------------------------------------------- */

/* Every key of a map, collected first (deleting while walking restarts
 * the walk): *keys is malloc'd, *n keys of ksize bytes. */
int dp_map_keys(int fd, size_t ksize, void **keys, size_t *n);
/* Number of keys in a map. */
size_t dp_map_count(int fd, size_t ksize);
/* Delete every key. */
int dp_map_flush(int fd, size_t ksize);
/* max_entries of a map, 0 when it cannot be read. */
unsigned int dp_map_max_entries(int fd);
/* A per-CPU struct xnsg_counter summed over CPUs. */
int dp_counter_read(int fd, __u32 key, struct xnsg_counter *sum);
/* A per-CPU __u64 summed over CPUs. */
int dp_u64_read(int fd, __u32 key, __u64 *sum);
/* Add n to a per-CPU __u64 (on CPU 0's slot). */
int dp_u64_add(int fd, __u32 key, __u64 n);

/* ---- flowtable.c ---------------------------------------------------- */

/* What dp_ct_walk() does with an entry after fn saw it. */
enum dp_ct_action {
	DP_CT_KEEP,   /* leave it */
	DP_CT_DELETE, /* remove it */
	DP_CT_UPDATE, /* write back the value fn changed (if the entry is still there) */
};
typedef enum dp_ct_action (*dp_ct_fn)(const struct xnsg_ct_key *k, struct xnsg_ct_val *v,
				      void *arg);
/* Call fn on every flow (both tables); *changed (may be NULL) counts the
 * entries deleted or updated as fn asked. */
int dp_ct_walk(struct dp *dp, dp_ct_fn fn, void *arg, size_t *changed);
/* Flows the two tables hold at most. */
unsigned int dp_ct_capacity(struct dp *dp);

/*
 * The flow table's filter (abi.h XNSG_SEEN_*, docs/DESIGN.md §9 "Filter").
 * dp_ct_walk() and dp_fl_ct_snapshot() rebuild it as they list the flows
 * (at most once in XNSG_SEEN_SETTLE_S seconds, one rebuilder at a time):
 * dp_seen_begin() clears the idle half, dp_seen_add*() sets the listed
 * flows' bits in it, dp_seen_end() makes it the active half if the
 * listing was whole.  Rebuilding is never needed for correctness, only
 * to shed the bits of flows gone.
 */
#define XNSG_SEEN_SETTLE_S 2  /* a half just made idle is not cleared sooner */
#define XNSG_SEEN_STALE_S 30  /* a rebuild holding the word longer died */
struct dp_seen {
	__u64 *m;     /* the map, mmapped; NULL: not rebuilding */
	size_t len;
	__u64 taken;  /* the state word as this rebuild set it */
	__u32 spare;  /* the half being filled */
};
void dp_seen_begin(struct dp *dp, struct dp_seen *r);
void dp_seen_add4(struct dp_seen *r, const struct xnsg_ct4_key *k4);
void dp_seen_add6(struct dp_seen *r, const struct xnsg_ct_key *k);
void dp_seen_end(struct dp_seen *r, bool whole);
/* The filter's state: on (the datapath skips lookups its bits rule out)
 * and how many of the active half's 2^XNSG_SEEN_BITS_LOG bits are set;
 * -ENOENT without a filter. */
int dp_seen_state(struct dp *dp, bool *on, size_t *set);
/* Turn it on (a flow table just created: empty, every bit clear is true)
 * or off (a table this load did not make: flows its programs never saw). */
int dp_seen_init(struct dp *dp, bool on);
/* An entry's times as monotonic ns: the latest time not after now
 * (CLOCK_MONOTONIC ns) with its ticks (docs/DESIGN.md §9). */
__u64 dp_ct_created_ns(const struct xnsg_ct_val *v, __u64 now);
__u64 dp_ct_last_ns(const struct xnsg_ct_val *v, __u64 now);
/* The ns an entry has been idle at now (wrap-aware, as the datapath counts it). */
__u64 dp_ct_idle_ns(const struct xnsg_ct_val *v, __u64 now);
/* The initiator and responder ends of an entry (address, port). */
void dp_ct_ends(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, struct xnsg_addr *ia,
		uint16_t *ip, struct xnsg_addr *ra, uint16_t *rp);
/* The flow-table counters (enum xnsg_ct_stat) summed over CPUs. */
int dp_ct_stats(struct dp *dp, __u64 v[XNSG_CT_STATS]);

/* ---- ringbuf.c: flow logs (docs/DESIGN.md §4) ---------------------- */

/* A consumer of the flow-log ring buffer, with the exporter's tools. */
struct dp_fl;
/* Called for every event, in order; a non-zero return stops the consume. */
typedef int (*dp_fl_event_fn)(const struct xnsg_event *e, void *arg);
/* Open dp's ring buffer (dp stays the caller's) and the commit program
 * (its skeleton's, or the pinned one). */
int dp_fl_open(struct dp *dp, dp_fl_event_fn fn, void *arg, struct dp_fl **fl);
void dp_fl_close(struct dp_fl *fl);
/* An fd that polls readable when events wait (epoll). */
int dp_fl_poll_fd(const struct dp_fl *fl);
/* Hand every waiting event to fn: the number handed, or -errno. */
int dp_fl_consume(struct dp_fl *fl);
/* Bytes waiting in the ring, and its size. */
void dp_fl_ring_fill(const struct dp_fl *fl, unsigned long *used, unsigned long *size);
/* Records skipped for their size (another build's datapath). */
__u64 dp_fl_bad_records(const struct dp_fl *fl);
/* Carry out n operations on flow entries (xnsg_fl_commit); results in ops. */
int dp_fl_ops(struct dp_fl *fl, struct xnsg_fl_op *ops, size_t n);
/* Events and deny records on or off; deny_rate: new denied tuples per
 * second per CPU recorded (0: no limit). */
int dp_fl_enable(struct dp *dp, bool on, unsigned int deny_rate);
bool dp_fl_enabled(struct dp *dp);
/* The flow table, read in batches: fn(keys, values, n, arg); a non-zero
 * return stops the walk and is returned. */
typedef int (*dp_fl_ct_fn)(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, size_t n,
			   void *arg);
int dp_fl_ct_snapshot(struct dp *dp, dp_fl_ct_fn fn, void *arg);
int dp_fl_ct_lookup(struct dp *dp, const struct xnsg_ct_key *k, struct xnsg_ct_val *v);
/* The exporter's positions (struct xnsg_fl_pos, keyed by flow; opened or
 * created by dp_fl_open): every one, in batches. */
typedef int (*dp_fl_pos_fn)(const struct xnsg_ct_key *k, const struct xnsg_fl_pos *p, size_t n,
			    void *arg);
int dp_fl_pos_read(struct dp *dp, dp_fl_pos_fn fn, void *arg);
/* Write n positions (del[i]: remove k[i]'s instead); one that does not
 * fit is left out (the flow's deltas are then exact unless the exporter
 * restarts before its end). */
int dp_fl_pos_write(struct dp *dp, const struct xnsg_ct_key *k, const struct xnsg_fl_pos *p,
		    const bool *del, size_t n);
/* Take (read and remove) every aggregated deny entry, in batches: the
 * IPv4 map's, then the IPv6 one's, each named by a struct xnsg_deny_key. */
typedef int (*dp_fl_deny_fn)(const struct xnsg_deny_key *k, const struct xnsg_deny_val *v,
			     size_t n, void *arg);
int dp_fl_denies_take(struct dp *dp, dp_fl_deny_fn fn, void *arg);
/* An IPv4 tuple's key (xnsg_denies4) as struct xnsg_deny_key. */
void dp_deny_key_from4(struct xnsg_deny_key *k, const struct xnsg_deny4_key *k4);
/* The per-CPU event and deny counters, summed. */
int dp_fl_cpu_sum(struct dp *dp, struct xnsg_fl_cpu *sum);
/* The exporter's own counters, kept in the datapath (cumulative). */
int dp_fl_stats_read(struct dp *dp, struct xnsg_fl_stats *s);
int dp_fl_stats_write(struct dp *dp, const struct xnsg_fl_stats *s);
/* The idle timeouts in force (enum xnsg_timeout), defaults filled in. */
int dp_fl_timeouts(struct dp *dp, __u64 ns[XNSG_TIMEOUTS]);

/* ---- testrun.c ------------------------------------------------------ */

/*
 * verify --datapath: compile the policy into a private, unpinned copy of
 * the maps, run the classifier on a packet crafted for the query with
 * BPF_PROG_TEST_RUN, and fill r as eval_flow() does (allow, decisive level,
 * its NSG and rule).  Returns 0 or -errno (a message was printed).
 */
int dp_verify(const struct policy *p, const struct eval_query *q, struct eval_result *r);

/*
 * A private instance of the datapath (maps unpinned, programs unattached,
 * decisions recorded) for verify --datapath and the BPF tests.
 */
struct xnsg_verdict;
struct dp_test;

enum dp_prog { DP_PROG_XDP, DP_PROG_TC_INGRESS, DP_PROG_TC_EGRESS };

enum dp_test_flags {
	DP_TEST_STATELESS = 1, /* no flow tracking: classification alone */
	DP_TEST_NO_RECORD = 2, /* no xnsg_last bookkeeping: for timing */
};
struct dp_test *dp_test_open(unsigned int flags);
void dp_test_close(struct dp_test *t);
/* Replace whatever the instance held by policy p compiled as c (generation 0). */
int dp_test_load(struct dp_test *t, const struct policy *p, const struct compiled *c);
/* Classify the flow q through the XDP program: fills r like eval_flow(). */
int dp_test_classify(struct dp_test *t, const struct eval_query *q, struct eval_result *r);
/* Run one program on a raw frame; *ret the program's return code. */
int dp_test_run(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		int *ret, struct xnsg_verdict *v);
/* Run a frame `repeat` times; *ns the kernel's mean run time per packet. */
int dp_test_time(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		 unsigned int repeat, double *ns);
/* Forget every tracked flow and remembered fragment. */
void dp_test_flush_flows(struct dp_test *t);
/* Configure ifindex (e.g. loopback's, the one test runs see) as interface
 * `iface` of the loaded policy with the given attach mode. */
int dp_test_bind(struct dp_test *t, unsigned int ifindex, int iface, int attach);
/* TC frames arrive on ifindex from now on (a device of the caller's
 * network namespace; XDP's always arrive on loopback). */
void dp_test_arrive_on(struct dp_test *t, unsigned int ifindex);
/* The instance as a struct dp (for the flow-log tools, ringbuf.c). */
struct dp *dp_test_dp(struct dp_test *t);
/* The fd of one of the instance's maps (XNSG_MAP_*), or -ENOENT. */
int dp_test_map_fd(struct dp_test *t, const char *name);
/* A per-CPU counter summed over CPUs: XNSG_MAP_DROPS reason or rule slot. */
int dp_test_counter(struct dp_test *t, const char *map, unsigned int key,
		    unsigned long long *packets, unsigned long long *bytes);

#include "frame.h" /* crafted frames: packet_for_flow() and the test builders */

#endif
