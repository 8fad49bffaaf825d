/* SPDX-License-Identifier: MIT */
/*
 * Seeded, deterministic generators for the differential tests: random
 * valid policies as JSON text (so they go through the real parser) and
 * packets biased toward the edges of the rules (prefix boundaries +-1,
 * port range endpoints +-1, tag and ASG members, the Internet tag's
 * special ranges).
 *
 * Replay convention: a test takes its base seed from gen_base_seed()
 * ($XNSG_SEED, or a fixed default), derives policy K's seed with
 * gen_policy_seed(base, K) and draws packet J of that policy from a
 * generator seeded with gen_packet_seed(base, K); on a disagreement it
 * prints "seed=N policy=K packet=J" and the flow (gen_flow_str), and
 * XNSG_SEED=N reruns the very same policies and packets.
 *
 * The benchmark (bench/bench.c) draws its policies here too: fixed shapes
 * of N rules per NSG direction (gen_bench_policy_json), from an RNG it
 * owns.
 */
#ifndef XNSG_GEN_POLICY_H
#define XNSG_GEN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval.h"
#include "model.h"

/* xorshift64*: small, fast, and the same on every machine. */
struct gen_rng {
	uint64_t s;
};

void gen_rng_seed(struct gen_rng *r, uint64_t seed);
uint64_t gen_u64(struct gen_rng *r);
/* The high 32 bits of gen_u64(). */
uint32_t gen_u32(struct gen_rng *r);
/* Uniform in [0, n); n > 0. */
uint32_t gen_below(struct gen_rng *r, uint32_t n);
/* True with probability num/den. */
bool gen_chance(struct gen_rng *r, uint32_t num, uint32_t den);

/* $XNSG_SEED (decimal or 0x hex), else `def`; *from_env tells which. */
uint64_t gen_base_seed(uint64_t def, bool *from_env);
uint64_t gen_policy_seed(uint64_t base, unsigned int k);
uint64_t gen_packet_seed(uint64_t base, unsigned int k);

/* Priorities 100..4096, unique per NSG direction: 3,997 user rules. */
#define GEN_MAX_USER_RULES 3997

struct gen_opts {
	/* User rules per NSG direction are drawn from [min_rules, max_rules]
	 * (at most GEN_MAX_USER_RULES). */
	unsigned int min_rules, max_rules;
	/* NSGs in the policy, 1..max_nsgs (default 4); each interface's NIC
	 * and subnet levels draw from them or have none. */
	unsigned int max_nsgs;
	unsigned int max_ifaces; /* default 4 */
};

/* A random valid policy, malloc'd JSON text, determined by seed and o. */
char *gen_policy_json(uint64_t seed, const struct gen_opts *o);

/*
 * A policy of one NSG whose rules name IPv6 prefixes shaped to walk every
 * path of the IPv6 multibit trie (xnsg_dir6): prefixes nested at every
 * byte boundary (deeper than the trie goes: the LPM trie answers), a
 * shared long prefix with prefixes under it (path compression), sibling
 * /48s, /128 hosts, short prefixes and ::/0; with nbig > 0 a tag "Big" of
 * nbig random IPv6 prefixes in the first rule (enough overflow the node
 * pool).  Malloc'd JSON text, determined by seed and nbig.
 */
char *gen_trie6_policy_json(uint64_t seed, unsigned int nbig);

/*
 * Packet generation for one parsed policy: the edges worth probing are
 * collected once (gen_pkts_new), then each gen_packet() draws a query
 * for a random interface and direction.
 */
struct gen_pkts;
struct gen_pkts *gen_pkts_new(const struct policy *p);
void gen_pkts_free(struct gen_pkts *g);
/* From now on, some addresses are near misses: an address of a prefix
 * with one of its first len bits flipped (outside it, but sharing all
 * else), which probe the trie's skipped bytes. */
void gen_pkts_near_misses(struct gen_pkts *g);
void gen_packet(struct gen_pkts *g, struct gen_rng *r, struct eval_query *q);
/* The same for interface `iface` (index into policy.ifaces; -1: random). */
void gen_packet_for(struct gen_pkts *g, struct gen_rng *r, int iface, struct eval_query *q);

/* ---- benchmark policies ---------------------------------------------- */

enum gen_shape {
	/* Every rule but the last misses the probe packet (203.0.113.7:40000
	 * -> 10.9.1.4:443/tcp), the last allows it: the worst case of a
	 * linear scan. */
	GEN_SHAPE_LAST,
	/* Random overlapping prefixes, port ranges and protocols, all
	 * allowing, and a last rule that allows everything (so every packet
	 * is judged by both levels, whatever it matched). */
	GEN_SHAPE_RANDOM,
};

struct gen_bench_opts {
	/* Rules per NSG direction.  Every NSG also holds Azure's three
	 * default rules of that direction, so above GEN_MAX_USER_RULES this
	 * means that many user rules + 3 defaults (4,000 = the full table). */
	int rules;
	enum gen_shape shape;
	const char *ifname;    /* the interface (10.9.1.4); NULL: "eth0" */
	const char *tags_file; /* serviceTagsFile; the subnet NSG's last rule
				* then has source "Big" (gen_bench_tags_json) */
	bool deny_last;        /* the last rule denies (GEN_SHAPE_LAST: UDP to
				* port 443, like the peers' drop rule) */
	bool variant;          /* every missing rule's port moved up by one:
				* the same policy, changed (what an update writes) */
	bool one_level;        /* the NIC NSG only, no subnet NSG (nor its tag rule) */
	bool near;             /* GEN_SHAPE_LAST: every fourth miss is UDP from
				* the probe's sources (198.51.100.0/24,
				* 2001:db8:100::/64) to other ports */
};

/* User rules written for `rules` rules per NSG direction: 1..3997. */
int gen_user_rules(int rules);
/*
 * A policy of VNet 10.9.0.0/16, subnet 10.9.1.0/24 and one interface
 * 10.9.1.4 whose subnet and NIC NSGs each hold o->rules inbound rules of
 * o->shape; GEN_SHAPE_RANDOM draws from r.  Malloc'd JSON text, or NULL.
 */
char *gen_bench_policy_json(struct gen_rng *r, const struct gen_bench_opts *o);
/* Azure's Service Tags file shape, one tag "Big" of n distinct /24s
 * (20.0.0.0/24 on); malloc'd JSON text, or NULL. */
char *gen_bench_tags_json(int n);

/* "eth0 in proto 6 local 10.1.1.4:80 remote 198.51.100.7:40000" */
char *gen_flow_str(const struct policy *p, const struct eval_query *q, char *buf, size_t len);
/* "Allow nsg/rule | Deny nsg/rule" per level, for failure messages. */
char *gen_result_str(const struct policy *p, const struct eval_result *r, char *buf, size_t len);

#endif
