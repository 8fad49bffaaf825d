// SPDX-License-Identifier: MIT
/*
 * The differential test of the datapath: the real BPF classifier, loaded
 * privately and run with BPF_PROG_TEST_RUN (dp_test_*), against the
 * reference evaluator on generated policies and packets biased toward
 * rule edges, and on every example policy.  At every level the deciding
 * NSG, rule and access must be eval_flow()'s; so must the final verdict.
 *
 * A disagreement prints "seed=N policy=K packet=J", the flow and both
 * answers; XNSG_SEED=N build/tests/bpf-tests --filter 'diff/generated*'
 * replays the very same policies and packets.  Needs root.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "alloc.h"
#include "compile.h"
#include "datapath.h"
#include "eval.h"
#include "gen_policy.h"
#include "model.h"
#include "policy.h"

#define MAX_REPORTS 20

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A private datapath; the test is skipped (with the reason) without root. */
static struct dp_test *open_dp(void)
{
	struct dp_test *t;

	if (geteuid() != 0)
		cr_skip_test("needs root: BPF_PROG_TEST_RUN loads the BPF datapath");
	/* Stateless: every packet is judged by the rules, not by a flow an
	 * earlier packet created. */
	t = dp_test_open(DP_TEST_STATELESS);
	cr_assert_not_null(t, "dp_test_open loads the BPF datapath as root (reason on stderr)");
	return t;
}

static bool same(const struct eval_result *a, const struct eval_result *b)
{
	if (a->allow != b->allow || a->decisive != b->decisive)
		return false;
	for (int l = 0; l < 2; l++)
		if (a->level[l].nsg != b->level[l].nsg || a->level[l].rule != b->level[l].rule ||
		    a->level[l].allow != b->level[l].allow)
			return false;
	return true;
}

struct run {
	uint64_t base;
	unsigned long packets, bad;
	unsigned int policies, max_rules;
};

/* Judge one query both ways; false (and a report) on a disagreement. */
static bool judge(struct dp_test *t, const struct policy *p, const struct eval_query *q,
		  struct run *run, const char *where, unsigned int j)
{
	struct eval_result want, got;
	char flow[256], a[512], b[512];
	int err;

	eval_flow(p, q, &want);
	err = dp_test_classify(t, q, &got);
	run->packets++;
	if (!err && same(&got, &want))
		return true;
	if (run->bad++ < MAX_REPORTS) {
		gen_flow_str(p, q, flow, sizeof(flow));
		if (err)
			cr_log_error("seed=%llu %s packet=%u: %s: the datapath did not classify it "
				     "(%s); eval: %s", (unsigned long long)run->base, where, j, flow,
				     strerror(-err), gen_result_str(p, &want, b, sizeof(b)));
		else
			cr_log_error("seed=%llu %s packet=%u: %s: bpf: %s; eval: %s",
				     (unsigned long long)run->base, where, j, flow,
				     gen_result_str(p, &got, a, sizeof(a)),
				     gen_result_str(p, &want, b, sizeof(b)));
	}
	return false;
}

static size_t max_table_rules(const struct compiled *c)
{
	size_t m = 0;

	for (size_t i = 0; i < c->ntables; i++)
		if (c->tables[i].nrules > m)
			m = c->tables[i].nrules;
	return m;
}

/* Policy json (named by where) parsed, compiled and loaded into t;
 * counted in run. */
static void load_policy(struct dp_test *t, struct run *run, const char *json, const char *where,
			struct policy **p, struct compiled **c)
{
	struct diag_list d = {};
	int err;

	err = policy_parse_string(json, "generated", NULL, p, &d);
	if (err)
		diag_print(stderr, "generated", &d);
	cr_assert_eq(err, 0, "seed=%llu %s: the generated policy is valid (diagnostics "
		     "on stderr)", (unsigned long long)run->base, where);
	diag_free(&d);
	err = compile_policy(*p, c, &d);
	if (err)
		diag_print(stderr, "generated", &d);
	cr_assert_eq(err, 0, "seed=%llu %s: the generated policy compiles (diagnostics "
		     "on stderr)", (unsigned long long)run->base, where);
	diag_free(&d);
	err = dp_test_load(t, *p, *c);
	cr_assert_eq(err, 0, "seed=%llu %s: the compiled policy loads into the maps (%s)",
		     (unsigned long long)run->base, where, strerror(-err));
	if (max_table_rules(*c) > run->max_rules)
		run->max_rules = (unsigned int)max_table_rules(*c);
	run->policies++;
}

/* Policy json (named by where) and npkt packets of gen_packet(): both ways. */
static void run_policy(struct dp_test *t, struct run *run, const char *json, const char *where,
		       uint64_t packet_seed, unsigned int npkt)
{
	struct policy *p = NULL;
	struct compiled *c = NULL;
	struct gen_pkts *g;
	struct gen_rng r;

	load_policy(t, run, json, where, &p, &c);
	g = gen_pkts_new(p);
	gen_rng_seed(&r, packet_seed);
	for (unsigned int j = 0; j < npkt; j++) {
		struct eval_query q;

		gen_packet(g, &r, &q);
		judge(t, p, &q, run, where, j);
	}
	gen_pkts_free(g);
	compiled_free(c);
	policy_free(p);
}

/* Policies [first, first + n) of the run, npkt packets each. */
static void run_generated(struct dp_test *t, struct run *run, unsigned int first, unsigned int n,
			  const struct gen_opts *(*opts_of)(unsigned int k), unsigned int npkt)
{
	for (unsigned int k = first; k < first + n; k++) {
		char *json = gen_policy_json(gen_policy_seed(run->base, k), opts_of(k));
		char where[64];

		snprintf(where, sizeof(where), "policy=%u", k);
		run_policy(t, run, json, where, gen_packet_seed(run->base, k), npkt);
		free(json);
	}
}

/* Mostly small policies, every tenth medium: rules per NSG direction. */
static const struct gen_opts *mixed_sizes(unsigned int k)
{
	static const struct gen_opts small = { .min_rules = 1, .max_rules = 40 };
	static const struct gen_opts medium = { .min_rules = 40, .max_rules = 800 };

	return k % 10 == 9 ? &medium : &small;
}

/* Two NSGs at most, so the expanded prefixes stay within the policy limit. */
static const struct gen_opts *big_sizes(unsigned int k)
{
	static const struct gen_opts big = { .min_rules = 2000, .max_rules = 3997, .max_nsgs = 2 };
	static const struct gen_opts biggest = { .min_rules = 3997, .max_rules = 3997,
						 .max_nsgs = 1 };

	return k % 3 ? &big : &biggest;
}

static void finish(struct run *run, const char *name, double t0)
{
	cr_log_info("diff/%s: %u policies (up to %u rules per table), %lu packets, %lu "
		    "disagreements, %.1f s, seed=%llu", name, run->policies, run->max_rules,
		    run->packets, run->bad, now() - t0, (unsigned long long)run->base);
	cr_assert_eq(run->bad, 0, "the BPF classifier and eval_flow disagree on %lu of %lu "
		     "packets (seed=%llu; XNSG_SEED=%llu replays)", run->bad, run->packets,
		     (unsigned long long)run->base, (unsigned long long)run->base);
}

Test(diff, generated, .timeout = 300)
{
	struct run run = { .base = gen_base_seed(1, NULL) };
	struct dp_test *t = open_dp();
	double t0 = now();

	run_generated(t, &run, 0, 300, mixed_sizes, 450);
	dp_test_close(t);
	cr_assert_geq(run.policies, 200, "at least 200 policies ran");
	cr_assert_geq(run.packets, 100000, "at least 100,000 packets ran");
	finish(&run, "generated", t0);
}

Test(diff, generated_big, .timeout = 300)
{
	struct run run = { .base = gen_base_seed(1, NULL) };
	struct dp_test *t = open_dp();
	double t0 = now();

	run_generated(t, &run, 10000, 8, big_sizes, 1200);
	dp_test_close(t);
	cr_assert_geq(run.max_rules, 4000, "a table of 4,000 rules (3,997 and the defaults) ran");
	finish(&run, "generated_big", t0);
}

/*
 * The benchmark's random rules (tests/lib/gen_policy.c, GEN_SHAPE_RANDOM):
 * hundreds to thousands of TCP, UDP and any-protocol rules with narrow
 * destination port ranges, so many 64-rule words hold a port's rules of
 * one protocol only - the words a destination port's per-protocol summary
 * (abi.h, xnsg_bitmap.l4sum) must name exactly.  Reading the other
 * protocol's summary fails here, where the generated policies' few
 * words (each with a default rule of any protocol) cannot tell.
 */
Test(diff, protocol_port_words, .timeout = 300)
{
	struct run run = { .base = gen_base_seed(1, NULL) };
	struct dp_test *t = open_dp();
	double t0 = now();
	struct gen_rng r;

	gen_rng_seed(&r, gen_policy_seed(run.base, 30000));
	for (unsigned int k = 0; k < 8; k++) {
		struct gen_bench_opts o = { .rules = 200 + (int)k * 450, .shape = GEN_SHAPE_RANDOM,
					    .ifname = "eth0", .deny_last = k % 2 };
		char *json = gen_bench_policy_json(&r, &o), where[64];

		cr_assert_not_null(json, "the random benchmark policy is generated");
		snprintf(where, sizeof(where), "bench policy=%u (%d rules)", k, o.rules);
		run_policy(t, &run, json, where, gen_packet_seed(run.base, 30000 + k), 4000);
		free(json);
	}
	dp_test_close(t);
	cr_assert_geq(run.max_rules, 3000, "a table of over 3,000 random rules ran");
	finish(&run, "protocol_port_words", t0);
}

/*
 * A service tag of 99,000 random, overlapping IPv4 and IPv6 prefixes (near
 * the loader's limit of 100,000 expanded prefixes per policy, docs/DESIGN.md §1's
 * size) in a rule before an Internet rule: the tries built from it must
 * answer as eval_flow() does at their edges.  They overflow the IPv4
 * multibit trie's chunk pool, so blocks answered by the LPM trie are
 * judged beside blocks answered by the multibit trie.
 */
Test(diff, hundred_thousand_prefixes, .timeout = 300)
{
	struct run run = { .base = gen_base_seed(1, NULL) };
	char *tag = NULL, *json, where[64];
	size_t len = 0;
	FILE *f = open_memstream(&tag, &len);
	struct diag_list d = {};
	struct policy *p = NULL;
	struct compiled *c = NULL;
	struct gen_pkts *g;
	struct gen_rng r;
	struct dp_test *t = open_dp();
	double t0 = now(), tc, tl;
	int err;

	gen_rng_seed(&r, gen_policy_seed(run.base, 20000));
	for (int i = 0; i < 99000; i++) {
		struct xnsg_prefix q = { .family = i % 8 ? XNSG_V4 : XNSG_V6 };
		char s[XNSG_PREFIX_STRLEN];

		for (int b = 0; b < 16; b++)
			q.bytes[b] = (uint8_t)gen_below(&r, 256);
		/* Mostly disjoint, some nested: lengths from /16 (IPv6 /32) up. */
		q.bytes[0] = q.family == XNSG_V4 ? (uint8_t)(1 + gen_below(&r, 223))
						 : (uint8_t)(0x20 + gen_below(&r, 32));
		q.len = (uint8_t)(q.family == XNSG_V4 ? 16 + gen_below(&r, 17) : 32 + gen_below(&r, 97));
		prefix_mask(&q);
		fprintf(f, "%s\"%s\"", i ? "," : "", prefix_fmt(&q, s, sizeof(s)));
	}
	fclose(f);
	json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]},"
		"\"serviceTags\":{\"Big\":[%s]},\"networkSecurityGroups\":[{\"name\":\"nsg\","
		"\"securityRules\":["
		"{\"name\":\"big-in\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
		"\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"Big\",\"sourcePortRange\":\"*\","
		"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"443\"},"
		"{\"name\":\"net-in\",\"priority\":110,\"direction\":\"Inbound\",\"access\":\"Deny\","
		"\"protocol\":\"*\",\"sourceAddressPrefix\":\"Internet\",\"sourcePortRange\":\"*\","
		"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\"}]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"10.1.1.4\",\"fd00:1::4\"]}]}", tag);
	free(tag);
	err = policy_parse_string(json, "100k-prefix policy", NULL, &p, &d);
	if (err)
		diag_print(stderr, "100k-prefix policy", &d);
	cr_assert_eq(err, 0, "the 100k-prefix policy is valid (diagnostics on stderr)");
	diag_free(&d);
	tc = now();
	err = compile_policy(p, &c, &d);
	cr_assert_eq(err, 0, "the 100k-prefix policy compiles");
	tc = now() - tc;
	tl = now();
	cr_assert_eq(dp_test_load(t, p, c), 0, "the 100k-prefix policy loads into the maps");
	tl = now() - tl;
	cr_log_info("diff/hundred_thousand_prefixes: compile %.3f s, load %.2f s, %zu+%zu IPv4 "
		    "and %zu+%zu IPv6 entries, %zu IPv4 multibit-trie chunks", tc, tl, c->tables[0].nlpm4,
		    c->tables[1].nlpm4, c->tables[0].nlpm6, c->tables[1].nlpm6, c->ndir4_next);
	/* So some /16 blocks are handed to the LPM trie: that path is judged too. */
	cr_assert_eq(c->ndir4_next, XNSG_DIR4_POOL, "the prefixes fill the IPv4 chunk pool (%zu of %d)",
		     c->ndir4_next, XNSG_DIR4_POOL);
	run.policies = 1;
	run.max_rules = (unsigned int)max_table_rules(c);
	g = gen_pkts_new(p);
	gen_rng_seed(&r, gen_packet_seed(run.base, 20000));
	snprintf(where, sizeof(where), "policy=100k-prefixes");
	for (unsigned int j = 0; j < 2000; j++) {
		struct eval_query q;

		gen_packet(g, &r, &q);
		judge(t, p, &q, &run, where, j);
	}
	gen_pkts_free(g);
	compiled_free(c);
	policy_free(p);
	free(json);
	dp_test_close(t);
	finish(&run, "hundred_thousand_prefixes", t0);
}

/* What the IPv6 packets of diff/ipv6_trie did in the multibit trie
 * (compiled_dir6, the userspace twin of the walk). */
struct trie6_paths {
	unsigned long v6, leaf[XNSG_DIR6_DEPTH + 1], skipped, missed, lpm, root_class;
	size_t max_nodes;
};

static void trie6_note(const struct compiled *c, const struct eval_query *q,
		       struct trie6_paths *tp)
{
	const struct xnsg_addr *a[2] = { &q->remote, &q->local };

	if (q->local.family != XNSG_V6)
		return;
	for (int f = 0; f < 2; f++) { /* inbound: the remote is the source */
		int field = (q->dir == XNSG_IN) == (f == 0) ? XNSG_FIELD_SRC : XNSG_FIELD_DST;
		const struct compiled_table *t = &c->tables[q->dir == XNSG_IN ? 0 : 1];
		struct dir6_walk w;
		uint16_t e = compiled_dir6(c, t->desc.dir6_root[field], a[f]->bytes, &w);

		tp->v6++;
		tp->lpm += e == XNSG_DIR4_TRIE;
		tp->missed += w.missed;
		tp->skipped += w.skipped;
		tp->root_class += !w.reads;
		if (e != XNSG_DIR4_TRIE && !w.missed)
			tp->leaf[w.reads]++;
	}
}

/* One policy of gen_trie6_policy_json(), npkt packets, near misses too. */
static void run_trie6(struct dp_test *t, struct run *run, unsigned int k, unsigned int nbig,
		      unsigned int npkt, struct trie6_paths *tp)
{
	char *json = gen_trie6_policy_json(gen_policy_seed(run->base, k), nbig), where[64];
	struct policy *p = NULL;
	struct compiled *c = NULL;
	struct gen_pkts *g;
	struct gen_rng r;

	snprintf(where, sizeof(where), "trie6 policy=%u", k);
	load_policy(t, run, json, where, &p, &c);
	if (c->ndir6 > tp->max_nodes)
		tp->max_nodes = c->ndir6;
	g = gen_pkts_new(p);
	gen_pkts_near_misses(g);
	gen_rng_seed(&r, gen_packet_seed(run->base, k));
	for (unsigned int j = 0; j < npkt; j++) {
		struct eval_query q;

		gen_packet(g, &r, &q);
		trie6_note(c, &q, tp);
		judge(t, p, &q, run, where, j);
	}
	gen_pkts_free(g);
	compiled_free(c);
	policy_free(p);
	free(json);
}

/*
 * The IPv6 multibit trie (xnsg_dir6) on policies shaped to walk all of
 * it (gen_trie6_policy_json): answers at every depth, path-compressed
 * nodes, near misses sent off by a node's region check, /0 and /128,
 * prefixes nested deeper than XNSG_DIR6_DEPTH (the LPM trie answers), and
 * one policy whose tag overflows the node pool (so does it, there).
 */
Test(diff, ipv6_trie, .timeout = 300)
{
	struct run run = { .base = gen_base_seed(1, NULL) };
	struct trie6_paths tp = { 0 };
	struct dp_test *t = open_dp();
	double t0 = now();

	for (unsigned int k = 0; k < 60; k++)
		run_trie6(t, &run, 30000 + k, 0, 1500, &tp);
	run_trie6(t, &run, 30100, 3 * XNSG_DIR6_POOL / 2, 4000, &tp);
	dp_test_close(t);
	cr_log_info("diff/ipv6_trie: %lu IPv6 lookups: %lu a class at the root entry, answers after "
		    "1/2/3/4+ reads %lu/%lu/%lu/%lu, %lu path-compressed, %lu sent off by a region "
		    "check, %lu to the LPM trie; up to %zu nodes", tp.v6, tp.root_class, tp.leaf[1],
		    tp.leaf[2], tp.leaf[3], tp.v6 - tp.root_class - tp.leaf[1] - tp.leaf[2] -
		    tp.leaf[3] - tp.missed - tp.lpm, tp.skipped, tp.missed, tp.lpm, tp.max_nodes);
	cr_assert_eq(tp.max_nodes, XNSG_DIR6_POOL, "the big tag fills the node pool");
	cr_assert(tp.leaf[1] && tp.leaf[2] && tp.leaf[3] && tp.leaf[XNSG_DIR6_DEPTH],
		  "answers after 1, 2, 3 and %d reads", XNSG_DIR6_DEPTH);
	cr_assert(tp.skipped > 100 && tp.missed > 100 && tp.lpm > 100,
		  "path compression, region misses and the LPM fallback are all exercised");
	finish(&run, "ipv6_trie", t0);
}

/* Every example policy, every interface, both directions. */
Test(diff, examples, .timeout = 300)
{
	const char *dir = getenv("XNSG_EXAMPLES") ?: "examples";
	struct run run = { .base = gen_base_seed(1, NULL) };
	char pattern[512];
	struct dp_test *t;
	glob_t gl;
	double t0;

	snprintf(pattern, sizeof(pattern), "%s/*.json", dir);
	cr_assert_eq(glob(pattern, 0, NULL, &gl), 0,
		     "%s matches the example policies (run from the repository root or set "
		     "XNSG_EXAMPLES)", pattern);
	t = open_dp();
	t0 = now();
	for (size_t f = 0; f < gl.gl_pathc; f++) {
		const char *file = gl.gl_pathv[f];
		struct diag_list d = {};
		struct policy *p = NULL;
		struct compiled *c = NULL;
		struct gen_pkts *g;
		struct gen_rng r;
		int err = policy_load(file, &p, &d);

		if (err)
			diag_print(stderr, file, &d);
		cr_assert_eq(err, 0, "%s is a valid policy (diagnostics on stderr)", file);
		diag_free(&d);
		err = compile_policy(p, &c, &d);
		if (err)
			diag_print(stderr, file, &d);
		cr_assert_eq(err, 0, "%s compiles (diagnostics on stderr)", file);
		diag_free(&d);
		cr_assert_eq(dp_test_load(t, p, c), 0, "%s loads into the maps", file);
		cr_assert_gt(p->nifaces, 0, "%s has interfaces to check", file);
		if (max_table_rules(c) > run.max_rules)
			run.max_rules = (unsigned int)max_table_rules(c);
		run.policies++;

		g = gen_pkts_new(p);
		gen_rng_seed(&r, gen_packet_seed(run.base, (unsigned int)f));
		for (size_t i = 0; i < p->nifaces; i++) {
			char where[600];

			snprintf(where, sizeof(where), "example=%s iface=%s", file, p->ifaces[i].name);
			for (unsigned int j = 0; j < 600; j++) {
				struct eval_query q;

				gen_packet_for(g, &r, (int)i, &q);
				judge(t, p, &q, &run, where, j);
			}
		}
		gen_pkts_free(g);
		compiled_free(c);
		policy_free(p);
	}
	globfree(&gl);
	dp_test_close(t);
	finish(&run, "examples", t0);
}
