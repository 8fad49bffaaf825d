// SPDX-License-Identifier: MIT
/*
 * The compiler against the reference evaluator: compiled_classify() (the
 * lookup bpf/classify.h performs, in userspace) must pick the same rule
 * as eval_flow() at every level, on generated policies and packets biased
 * toward rule edges; every compiled policy must also satisfy the layout
 * contract of abi.h (dedup, summary words, sorted tries, end-to-end
 * counter slots).  Targeted tests pin down the semantics docs/DESIGN.md §2 spells
 * out and the limit diagnostics.
 *
 * A disagreement prints "seed=N policy=K packet=J" and the flow;
 * XNSG_SEED=N build/tests/unit-tests --filter 'compile/generated*' replays it.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "alloc.h"
#include "compile.h"
#include "datapath.h"
#include "diag.h"
#include "eval.h"
#include "gen_policy.h"
#include "model.h"
#include "policy.h"

#define TCP 6
#define UDP 17
#define ICMP 1
#define ICMPV6 58
#define ESP 50
#define AH 51
#define GRE 47

/* ---- helpers -------------------------------------------------------- */

static struct policy *parse(const char *json, const char *what)
{
	struct diag_list d = {};
	struct policy *p = NULL;
	int err = policy_parse_string(json, what, NULL, &p, &d);

	if (err)
		diag_print(stderr, what, &d);
	cr_assert_eq(err, 0, "%s: the policy is valid (err %d, %zu errors on stderr)", what, err,
		     d.nerrors);
	cr_assert_not_null(p, "%s: policy_parse_string returned a policy", what);
	diag_free(&d);
	return p;
}

static struct compiled *compile(const struct policy *p, const char *what)
{
	struct diag_list d = {};
	struct compiled *c = NULL;
	int err = compile_policy(p, &c, &d);

	if (err)
		diag_print(stderr, what, &d);
	cr_assert_eq(err, 0, "%s: compile_policy succeeds (err %d, diagnostics on stderr)", what,
		     err);
	cr_assert_not_null(c, "%s: compile_policy returned tables", what);
	diag_free(&d);
	return c;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool bit(const struct xnsg_bitmap *b, uint32_t i)
{
	return (b->w[i / 64] >> (i % 64)) & 1;
}

static int cmp_bitmap_idx(const void *a, const void *b, void *arg)
{
	const struct xnsg_bitmap *v = arg;

	return memcmp(&v[*(const size_t *)a], &v[*(const size_t *)b], sizeof(*v));
}

static int lpm_cmp(const struct lpm_entry *a, const struct lpm_entry *b)
{
	int r;

	if (a->field != b->field)
		return a->field < b->field ? -1 : 1;
	r = memcmp(a->prefix.bytes, b->prefix.bytes, sizeof(a->prefix.bytes));
	if (r)
		return r;
	return a->prefix.len < b->prefix.len ? -1 : a->prefix.len > b->prefix.len;
}

static void check_lpm(const struct compiled *c, const struct lpm_entry *v, size_t n, uint8_t family,
		      const char *what, size_t t)
{
	for (size_t i = 0; i < n; i++) {
		struct xnsg_prefix m = v[i].prefix;

		cr_assert_eq(v[i].prefix.family, family, "%s: table %zu LPM entry %zu has family %u",
			     what, t, i, family);
		cr_assert(v[i].prefix.len > 0, "%s: table %zu LPM entry %zu: /0 is the any class, "
			  "not an entry", what, t, i);
		cr_assert(v[i].field <= XNSG_FIELD_DST, "%s: table %zu LPM entry %zu field", what, t, i);
		cr_assert_lt(v[i].cls, c->nclasses, "%s: table %zu LPM entry %zu class id in range",
			     what, t, i);
		prefix_mask(&m);
		cr_assert(!memcmp(m.bytes, v[i].prefix.bytes, 16),
			  "%s: table %zu LPM entry %zu has no bits past its length", what, t, i);
		if (i)
			cr_assert_lt(lpm_cmp(&v[i - 1], &v[i]), 0,
				     "%s: table %zu LPM entries sorted by (field, prefix) and unique "
				     "(entry %zu)", what, t, i);
	}
}

/*
 * Every class of a table's destination port map summarizes its words
 * ANDed with the table's TCP and UDP classes (the all-ones class, shared
 * by every table, keeps its plain summary), and any other class's
 * per-protocol summaries are its plain one.
 */
static void check_dport_summaries(const struct compiled *c, const struct compiled_table *ct,
				  const char *what, size_t t)
{
	const uint16_t *map = c->portmaps[ct->desc.portmap[XNSG_FIELD_DST]];
	bool *seen = calloc(c->nclasses, sizeof(*seen));

	for (size_t port = 0; port < 65536; port++) {
		const struct xnsg_bitmap *b = &c->classes[map[port]];

		if (seen[map[port]])
			continue;
		seen[map[port]] = true;
		for (int pr = 0; pr < 2; pr++)
			for (int s = 0; s < XNSG_SUMMARY_WORDS; s++) {
				const struct xnsg_bitmap *pc = &c->classes[ct->desc.l4_class[pr]];
				uint64_t want = 0;

				for (int k = 0; k < 64 && s * 64 + k < XNSG_RULE_WORDS; k++)
					if (b->w[s * 64 + k] & pc->w[s * 64 + k])
						want |= 1ULL << k;
				if (map[port] == 0) /* the all-ones class, interned first */
					want = b->summary[s];
				cr_assert_eq(b->l4sum[pr][s], want,
					     "%s: table %zu port %zu: class %u's %s summary word %d",
					     what, t, port, map[port], pr ? "UDP" : "TCP", s);
			}
	}
	free(seen);
}

/* The layout contract of abi.h and compile.h, on any compiled policy. */
static void check_invariants(const struct policy *p, const struct compiled *c, const char *what)
{
	uint32_t slots = 0;
	size_t *idx;

	cr_assert_leq(c->nclasses, XNSG_MAX_CLASSES, "%s: class count within the limit", what);
	cr_assert_leq(c->nportmaps, XNSG_MAX_PORTMAPS, "%s: port map count within the limit", what);
	cr_assert_leq(c->ntables, XNSG_MAX_TABLES, "%s: table count within the limit", what);
	for (size_t i = 0; i < c->nclasses; i++)
		for (int s = 0; s < XNSG_SUMMARY_WORDS; s++) {
			uint64_t want = 0;

			for (int b = 0; b < 64 && s * 64 + b < XNSG_RULE_WORDS; b++)
				if (c->classes[i].w[s * 64 + b])
					want |= 1ULL << b;
			cr_assert_eq(c->classes[i].summary[s], want,
				     "%s: class %zu summary word %d names exactly its non-zero words",
				     what, i, s);
			/* (a destination port's per-protocol summaries: a subset) */
			cr_assert_eq(c->classes[i].l4sum[0][s] & ~want, 0, "%s: class %zu TCP summary "
				     "word %d names only non-zero words", what, i, s);
			cr_assert_eq(c->classes[i].l4sum[1][s] & ~want, 0, "%s: class %zu UDP summary "
				     "word %d names only non-zero words", what, i, s);
		}
	/* Identical bitmaps share one id: sorted, no two neighbours equal. */
	idx = calloc(c->nclasses + 1, sizeof(*idx));
	for (size_t i = 0; i < c->nclasses; i++)
		idx[i] = i;
	qsort_r(idx, c->nclasses, sizeof(*idx), cmp_bitmap_idx, c->classes);
	for (size_t i = 1; i < c->nclasses; i++)
		cr_assert(memcmp(&c->classes[idx[i - 1]], &c->classes[idx[i]], sizeof(c->classes[0])),
			  "%s: classes %zu and %zu are identical bitmaps (not deduplicated)", what,
			  idx[i - 1], idx[i]);
	free(idx);
	for (size_t m = 0; m < c->nportmaps; m++) {
		for (size_t k = 0; k < 65536; k++)
			cr_assert_lt(c->portmaps[m][k], c->nclasses,
				     "%s: port map %zu port %zu class id in range", what, m, k);
		for (size_t o = 0; o < m; o++)
			cr_assert(memcmp(c->portmaps[o], c->portmaps[m], sizeof(c->portmaps[0])),
				  "%s: port maps %zu and %zu are identical (not deduplicated)", what, o,
				  m);
	}
	for (size_t t = 0; t < c->ntables; t++) {
		const struct compiled_table *ct = &c->tables[t];
		const struct xnsg_table *d = &ct->desc;
		size_t n;
		const struct rule *run = nsg_rules(&p->nsgs[ct->nsg], ct->dir, &n);

		cr_assert_eq(ct->nrules, n, "%s: table %zu holds every rule of its NSG direction",
			     what, t);
		cr_assert_eq(d->nrules, n, "%s: table %zu desc.nrules", what, t);
		cr_assert_eq(d->nsg, ct->nsg, "%s: table %zu desc.nsg", what, t);
		cr_assert_eq(d->dir, ct->dir, "%s: table %zu desc.dir", what, t);
		cr_assert_eq(d->rule_base, slots, "%s: table %zu counter slots follow the previous "
			     "table's", what, t);
		slots += d->nrules;
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ct->rules[i], &run[i], "%s: table %zu bit %zu is rule %zu in "
				     "priority order", what, t, i, i);
		cr_assert(d->allow_class < c->nclasses && d->noport_class < c->nclasses &&
			  d->any4_class[0] < c->nclasses && d->any4_class[1] < c->nclasses &&
			  d->any6_class[0] < c->nclasses && d->any6_class[1] < c->nclasses,
			  "%s: table %zu class ids in range", what, t);
		cr_assert(d->portmap[0] < c->nportmaps && d->portmap[1] < c->nportmaps,
			  "%s: table %zu port map ids in range", what, t);
		for (int k = 0; k < XNSG_PROTOS; k++)
			cr_assert_lt(ct->proto_class[k], c->nclasses,
				     "%s: table %zu proto %d class id in range", what, t, k);
		cr_assert(d->l4_class[0] == ct->proto_class[6] && d->l4_class[1] == ct->proto_class[17],
			  "%s: table %zu inline TCP and UDP classes are the protocol classes", what, t);
		for (int f = 0; f < 2; f++) {
			bool restricted = false;

			for (size_t i = 0; i < n; i++)
				restricted = restricted || !(f ? run[i].dport.any : run[i].sport.any);
			/* A constant class is what the map holds at every port. */
			cr_assert_eq(d->port_class[f] == XNSG_NO_CLASS, restricted,
				     "%s: table %zu port field %d has a constant class iff no rule "
				     "restricts it", what, t, f);
			if (!restricted)
				cr_assert(c->portmaps[d->portmap[f]][0] == d->port_class[f] &&
					  c->portmaps[d->portmap[f]][65535] == d->port_class[f],
					  "%s: table %zu port field %d: constant class = the map's", what,
					  t, f);
		}
		check_dport_summaries(c, ct, what, t);
		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(bit(&c->classes[d->allow_class], (uint32_t)i), run[i].allow,
				     "%s: table %zu allow class bit %zu is the rule's access", what, t,
				     i);
			cr_assert_eq((d->allow[i / 64] >> (i % 64)) & 1, (uint64_t)run[i].allow,
				     "%s: table %zu inline allow bit %zu is the rule's access", what, t,
				     i);
		}
		check_lpm(c, ct->lpm4, ct->nlpm4, XNSG_V4, what, t);
		check_lpm(c, ct->lpm6, ct->nlpm6, XNSG_V6, what, t);
	}
	cr_assert_eq(c->nrule_slots, slots, "%s: nrule_slots is the sum of the tables' rules", what);
	cr_assert_leq(c->nrule_slots, XNSG_MAX_RULE_SLOTS, "%s: counter slots within the limit",
		      what);
	cr_assert_eq(c->nifaces, p->nifaces, "%s: one interface config per policy interface", what);
	for (size_t i = 0; i < c->nifaces; i++) {
		const struct iface *ifc = &p->ifaces[i];
		const struct xnsg_iface_cfg *cfg = &c->ifaces[i].cfg;
		int sn = ifc->subnet >= 0 ? p->subnets[ifc->subnet].nsg : -1;

		cr_assert_eq(c->ifaces[i].iface, (int)i, "%s: iface %zu index", what, i);
		cr_assert_eq(cfg->id, i, "%s: iface %zu cfg.id", what, i);
		cr_assert_eq(cfg->attach, ifc->attach == XNSG_ATTACH_PEER ? XNSG_ATTACH_MODE_PEER
									  : XNSG_ATTACH_MODE_HOST,
			     "%s: iface %zu attach mode", what, i);
		for (int dir = 0; dir < 2; dir++)
			for (int l = 0; l < 2; l++) {
				/* Inbound: subnet, NIC; Outbound: NIC, subnet. */
				int want = (dir == XNSG_IN) == (l == 0) ? sn : ifc->nsg;
				uint16_t t = cfg->table[dir][l];

				if (want < 0) {
					cr_assert_eq(t, XNSG_NO_TABLE, "%s: iface %s dir %d level %d has "
						     "no NSG, so no table", what, ifc->name, dir, l);
					continue;
				}
				cr_assert_lt(t, c->ntables, "%s: iface %s dir %d level %d table id",
					     what, ifc->name, dir, l);
				cr_assert(c->tables[t].nsg == want && (int)c->tables[t].dir == dir,
					  "%s: iface %s dir %d level %d is NSG %s's table of that "
					  "direction", what, ifc->name, dir, l, p->nsgs[want].name);
			}
	}
}

/*
 * One flow through the compiled tables as the datapath judges it: per
 * level of the interface config, the deciding rule (index into the NSG's
 * rules) and its access.  Compared with eval_flow level by level.
 */
static bool agree(const struct policy *p, const struct compiled *c, const struct eval_query *q,
		  char *why, size_t len)
{
	const struct xnsg_iface_cfg *cfg = &c->ifaces[q->iface].cfg;
	const struct xnsg_addr *src = q->dir == XNSG_IN ? &q->remote : &q->local;
	const struct xnsg_addr *dst = q->dir == XNSG_IN ? &q->local : &q->remote;
	uint16_t sport = q->dir == XNSG_IN ? q->rport : q->lport;
	uint16_t dport = q->dir == XNSG_IN ? q->lport : q->rport;
	struct eval_result r;
	bool allow = true;

	if (q->ipproto != TCP && q->ipproto != UDP)
		sport = dport = 0;
	eval_flow(p, q, &r);
	for (int l = 0; l < 2; l++) {
		const struct eval_level *lv = &r.level[l];
		uint16_t t = cfg->table[q->dir][l];
		const struct compiled_table *ct;
		int b, rule;
		bool a;

		if (lv->nsg < 0) {
			if (t != XNSG_NO_TABLE) {
				snprintf(why, len, "level %d: eval has no NSG, compiled has table %u", l, t);
				return false;
			}
			continue;
		}
		if (t >= c->ntables) {
			snprintf(why, len, "level %d: eval has NSG %s, compiled has no table", l,
				 p->nsgs[lv->nsg].name);
			return false;
		}
		ct = &c->tables[t];
		b = compiled_classify(c, t, q->ipproto, src, sport, dst, dport);
		if (b < 0 || (uint32_t)b >= ct->nrules) {
			snprintf(why, len, "level %d: compiled_classify found no rule (%d), eval %s/%s",
				 l, b, p->nsgs[lv->nsg].name,
				 lv->rule >= 0 ? p->nsgs[lv->nsg].rules[lv->rule].name : "-");
			return false;
		}
		rule = (int)(ct->rules[b] - p->nsgs[ct->nsg].rules);
		a = bit(&c->classes[ct->desc.allow_class], (uint32_t)b);
		if (ct->nsg != lv->nsg || rule != lv->rule || a != lv->allow) {
			snprintf(why, len, "level %d: compiled %s %s/%s, eval %s %s/%s", l,
				 a ? "Allow" : "Deny", p->nsgs[ct->nsg].name,
				 p->nsgs[ct->nsg].rules[rule].name, lv->allow ? "Allow" : "Deny",
				 p->nsgs[lv->nsg].name,
				 lv->rule >= 0 ? p->nsgs[lv->nsg].rules[lv->rule].name : "-");
			return false;
		}
		allow = allow && a;
	}
	if (allow != r.allow) {
		snprintf(why, len, "final verdict: compiled %d, eval %d", allow, r.allow);
		return false;
	}
	return true;
}

/* ---- generated policies --------------------------------------------- */

/*
 * Run npol generated policies of the given sizes, npkt packets each;
 * returns the number of disagreements (each printed with its seed).
 */
static unsigned int run_generated(const char *name, uint64_t base, unsigned int first,
				  unsigned int npol, const struct gen_opts *o, unsigned int npkt,
				  unsigned long *packets)
{
	unsigned int bad = 0;

	for (unsigned int k = first; k < first + npol; k++) {
		char *json = gen_policy_json(gen_policy_seed(base, k), o), what[96];
		struct policy *p;
		struct compiled *c;
		struct gen_pkts *g;
		struct gen_rng r;

		snprintf(what, sizeof(what), "%s seed=%llu policy=%u", name, (unsigned long long)base, k);
		p = parse(json, what);
		c = compile(p, what);
		check_invariants(p, c, what);
		g = gen_pkts_new(p);
		gen_rng_seed(&r, gen_packet_seed(base, k));
		for (unsigned int j = 0; j < npkt; j++) {
			struct eval_query q;
			char why[512], flow[256];

			gen_packet(g, &r, &q);
			(*packets)++;
			if (agree(p, c, &q, why, sizeof(why)))
				continue;
			if (bad++ < 20)
				cr_log_error("seed=%llu policy=%u packet=%u: %s: %s",
					     (unsigned long long)base, k, j,
					     gen_flow_str(p, &q, flow, sizeof(flow)), why);
		}
		gen_pkts_free(g);
		compiled_free(c);
		policy_free(p);
		free(json);
	}
	return bad;
}

Test(compile, generated_small_vs_eval, .timeout = 120)
{
	struct gen_opts o = { .min_rules = 1, .max_rules = 24 };
	uint64_t base = gen_base_seed(1, NULL);
	unsigned long packets = 0;
	unsigned int bad = run_generated("small", base, 0, 300, &o, 600, &packets);

	cr_log_info("compile: %u small policies, %lu packets, seed=%llu", 300, packets,
		    (unsigned long long)base);
	cr_assert_eq(bad, 0, "compiled tables and eval_flow disagree on %u of %lu packets "
		     "(seed=%llu; XNSG_SEED replays)", bad, packets, (unsigned long long)base);
}

Test(compile, generated_medium_vs_eval, .timeout = 120)
{
	struct gen_opts o = { .min_rules = 20, .max_rules = 400 };
	uint64_t base = gen_base_seed(1, NULL);
	unsigned long packets = 0;
	unsigned int bad = run_generated("medium", base, 1000, 40, &o, 1500, &packets);

	cr_assert_eq(bad, 0, "compiled tables and eval_flow disagree on %u of %lu packets "
		     "(seed=%llu; XNSG_SEED replays)", bad, packets, (unsigned long long)base);
}

Test(compile, generated_large_vs_eval, .timeout = 120)
{
	struct gen_opts o = { .min_rules = 2000, .max_rules = 3997, .max_nsgs = 2 };
	uint64_t base = gen_base_seed(1, NULL);
	unsigned long packets = 0;
	unsigned int bad = run_generated("large", base, 2000, 2, &o, 2000, &packets);

	cr_assert_eq(bad, 0, "compiled tables and eval_flow disagree on %u of %lu packets "
		     "(seed=%llu; XNSG_SEED replays)", bad, packets, (unsigned long long)base);
}

/* ---- targeted ------------------------------------------------------- */

/* A rule flat on its object, one prefix and port each. */
#define RULE(name, prio, dir, access, proto, src, sport, dst, dport)                    \
	"{\"name\":\"" name "\",\"priority\":" #prio ",\"direction\":\"" dir              \
	"\",\"access\":\"" access "\",\"protocol\":\"" proto                              \
	"\",\"sourceAddressPrefix\":\"" src "\",\"sourcePortRange\":\"" sport             \
	"\",\"destinationAddressPrefix\":\"" dst "\",\"destinationPortRange\":\"" dport "\"}"

/* One NSG "nsg" on the NIC of eth0 (10.1.1.4, fd00:1::4). */
static struct policy *nic_policy(const char *rules, const char *extra)
{
	char *json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]"
		"%s},"
		"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[%s]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"10.1.1.4\",\"fd00:1::4\"]}]}",
		extra ? extra : "", rules);
	struct policy *p = parse(json, "test policy");

	free(json);
	return p;
}

static struct xnsg_addr A(const char *s)
{
	struct xnsg_addr a;

	cr_assert_eq(addr_parse(s, &a), 0, "test address %s parses", s);
	return a;
}

/* The name of the rule table t picks for the packet, "-" for none. */
static const char *pick(const struct policy *p, const struct compiled *c, size_t t, uint8_t proto,
			const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct xnsg_addr s = A(src), d = A(dst);
	int b = compiled_classify(c, t, proto, &s, sport, &d, dport);

	(void)p;
	return b < 0 || (uint32_t)b >= c->tables[t].nrules ? "-" : c->tables[t].rules[b]->name;
}

/* The inbound table of NSG `nsg`. */
static size_t table_of(const struct compiled *c, int nsg, enum xnsg_dir dir)
{
	for (size_t t = 0; t < c->ntables; t++)
		if (c->tables[t].nsg == nsg && c->tables[t].dir == dir)
			return t;
	cr_assert_fail("NSG %d direction %d has a table", nsg, dir);
	return 0;
}

#define EXPECT_RULE(p, c, t, proto, src, sport, dst, dport, want)                                  \
	do {                                                                                        \
		const char *got_ = pick(p, c, t, proto, src, sport, dst, dport);                     \
		cr_expect_str_eq(got_, want, "proto %u %s:%u -> %s:%u: compiled picks %s, want %s",  \
				 proto, src, sport, dst, dport, got_, want);                        \
	} while (0)

Test(compile, star_vs_v4_default_vs_v6_default)
{
	struct policy *p = nic_policy(
		RULE("v4only", 100, "Inbound", "Allow", "Udp", "0.0.0.0/0", "*", "*", "1000") ","
		RULE("v6only", 110, "Inbound", "Allow", "Udp", "::/0", "*", "*", "2000") ","
		RULE("both", 120, "Inbound", "Allow", "Udp", "*", "*", "*", "3000") ","
		RULE("anyword", 130, "Inbound", "Allow", "Udp", "Any", "*", "*", "4000"), NULL);
	struct compiled *c = compile(p, "star policy");
	size_t t = table_of(c, 0, XNSG_IN);

	check_invariants(p, c, "star policy");
	EXPECT_RULE(p, c, t, UDP, "198.51.100.1", 9, "10.1.1.4", 1000, "v4only");
	EXPECT_RULE(p, c, t, UDP, "2001:db8::1", 9, "fd00:1::4", 1000, "DenyAllInBound");
	EXPECT_RULE(p, c, t, UDP, "2001:db8::1", 9, "fd00:1::4", 2000, "v6only");
	EXPECT_RULE(p, c, t, UDP, "198.51.100.1", 9, "10.1.1.4", 2000, "DenyAllInBound");
	EXPECT_RULE(p, c, t, UDP, "198.51.100.1", 9, "10.1.1.4", 3000, "both");
	EXPECT_RULE(p, c, t, UDP, "2001:db8::1", 9, "fd00:1::4", 3000, "both");
	EXPECT_RULE(p, c, t, UDP, "2001:db8::1", 9, "fd00:1::4", 4000, "anyword");
	EXPECT_RULE(p, c, t, UDP, "0.0.0.0", 9, "10.1.1.4", 4000, "anyword");
	/* 0.0.0.0/0 is the IPv4 default class, never an LPM entry. */
	cr_expect(c->tables[t].desc.any4_class[XNSG_FIELD_SRC] !=
		  c->tables[t].desc.any6_class[XNSG_FIELD_SRC],
		  "IPv4 and IPv6 sources without an entry get different classes");
	compiled_free(c);
	policy_free(p);
}

/*
 * The IPv4 multibit trie (16-8-8): a /16 block answers from the first
 * level unless an entry longer than /16 lies inside it; then the next
 * levels do.  Nested /8, /12, /16, a /24 and a /30, and addresses on both
 * sides of each edge.
 */
Test(compile, ipv4_direct_table)
{
	struct policy *p = nic_policy(
		RULE("host30", 100, "Inbound", "Allow", "Tcp", "203.0.113.64/30", "*", "*", "*") ","
		RULE("host24", 105, "Inbound", "Deny", "Tcp", "203.0.113.0/24", "*", "*", "*") ","
		RULE("block16", 110, "Inbound", "Deny", "Tcp", "203.0.0.0/16", "*", "*", "*") ","
		RULE("mid12", 120, "Inbound", "Allow", "Tcp", "203.0.0.0/12", "*", "*", "*") ","
		RULE("wide8", 130, "Inbound", "Deny", "Tcp", "203.0.0.0/8", "*", "*", "*"), NULL);
	struct compiled *c = compile(p, "direct-table policy");
	size_t t = table_of(c, 0, XNSG_IN);
	const uint16_t *d = c->tables[t].dir4[XNSG_FIELD_SRC], *l2;
	static const struct { const char *src, *rule; } cases[] = {
		{ "203.0.113.64", "host30" },  { "203.0.113.67", "host30" },   { "203.0.113.68", "host24" },
		{ "203.0.113.63", "host24" },  { "203.0.113.1", "host24" },   { "203.0.112.255", "block16" }, { "203.0.114.0", "block16" },
		{ "203.0.0.0", "block16" },    { "203.0.255.255", "block16" }, { "203.1.0.0", "mid12" },
		{ "203.15.255.255", "mid12" }, { "203.16.0.0", "wide8" },      { "203.255.255.255", "wide8" },
		{ "202.255.255.255", "DenyAllInBound" },
		{ "204.0.0.0", "DenyAllInBound" },
	};

	check_invariants(p, c, "direct-table policy");
	cr_assert_not_null(d, "the table has an IPv4 source direct table");
	cr_assert(d[203 << 8 | 0] >= XNSG_DIR4_PTR && d[203 << 8 | 0] != XNSG_DIR4_TRIE,
		  "the /16 holding the /24 points to a second level");
	l2 = c->dir4_next[d[203 << 8 | 0] - XNSG_DIR4_PTR];
	cr_expect_lt(l2[112], XNSG_DIR4_PTR, "203.0.112/24 holds no longer entry: a class");
	cr_expect_eq(l2[112], l2[114], "203.0.112/24 and 203.0.114/24 are both block16's");
	cr_assert(l2[113] >= XNSG_DIR4_PTR && l2[113] != XNSG_DIR4_TRIE,
		  "203.0.113/24 holds the /30: a third level");
	cr_expect_lt(d[203 << 8 | 1], XNSG_DIR4_PTR, "a /16 of the /12 without longer entries answers");
	cr_expect_eq(d[203 << 8 | 1], d[203 << 8 | 15], "the /12's blocks share its class");
	cr_expect_neq(d[203 << 8 | 15], d[203 << 8 | 16], "the /12 ends at 203.16");
	cr_expect_eq(d[202 << 8 | 255], c->tables[t].desc.any4_class[XNSG_FIELD_SRC],
		     "outside every prefix: the field's default class");
	cr_expect_eq(c->tables[t].dir4[XNSG_FIELD_DST][203 << 8], c->tables[t].desc.any4_class[XNSG_FIELD_DST],
		     "the destination field has its own table");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_RULE(p, c, t, TCP, cases[i].src, 9, "10.1.1.4", 80, cases[i].rule);
	compiled_free(c);
	policy_free(p);
}

Test(compile, port_rules_vs_portless_protocols)
{
	struct policy *p = nic_policy(
		RULE("low-ports", 100, "Inbound", "Deny", "*", "*", "*", "*", "0-1000") ","
		RULE("src-port", 110, "Inbound", "Deny", "*", "*", "53", "*", "*") ","
		RULE("full-range", 120, "Inbound", "Allow", "*", "*", "0-65535", "*", "0-65535"), NULL);
	struct compiled *c = compile(p, "ports policy");
	size_t t = table_of(c, 0, XNSG_IN);
	static const uint8_t portless[] = { ICMP, ICMPV6, ESP, AH, GRE, 0, 255 };

	check_invariants(p, c, "ports policy");
	EXPECT_RULE(p, c, t, TCP, "198.51.100.1", 40000, "10.1.1.4", 0, "low-ports");
	EXPECT_RULE(p, c, t, TCP, "198.51.100.1", 40000, "10.1.1.4", 1000, "low-ports");
	EXPECT_RULE(p, c, t, UDP, "198.51.100.1", 53, "10.1.1.4", 1001, "src-port");
	EXPECT_RULE(p, c, t, UDP, "198.51.100.1", 54, "10.1.1.4", 1001, "full-range");
	EXPECT_RULE(p, c, t, TCP, "198.51.100.1", 52, "10.1.1.4", 65535, "full-range");
	/* A port-restricted rule never matches a packet without ports, even
	 * with port 0 in its range; 0-65535 is '*' and does (docs/DESIGN.md §2). */
	for (size_t i = 0; i < sizeof(portless); i++) {
		EXPECT_RULE(p, c, t, portless[i], "198.51.100.1", 0, "10.1.1.4", 0, "full-range");
		EXPECT_RULE(p, c, t, portless[i], "2001:db8::1", 0, "fd00:1::4", 0, "full-range");
	}
	cr_expect(!bit(&c->classes[c->tables[t].desc.noport_class], 0) &&
		  !bit(&c->classes[c->tables[t].desc.noport_class], 1) &&
		  bit(&c->classes[c->tables[t].desc.noport_class], 2),
		  "noport class: only the rule with both port fields '*' (or 0-65535)");
	compiled_free(c);
	policy_free(p);
}

Test(compile, protocols)
{
	struct policy *p = nic_policy(
		RULE("tcp", 100, "Inbound", "Allow", "Tcp", "*", "*", "*", "*") ","
		RULE("udp", 110, "Inbound", "Allow", "Udp", "*", "*", "*", "*") ","
		RULE("icmp", 120, "Inbound", "Allow", "Icmp", "*", "*", "*", "*") ","
		RULE("esp", 130, "Inbound", "Allow", "Esp", "*", "*", "*", "*") ","
		RULE("ah", 140, "Inbound", "Allow", "Ah", "*", "*", "*", "*") ","
		RULE("any", 150, "Inbound", "Deny", "*", "*", "*", "*", "*"), NULL);
	struct compiled *c = compile(p, "protocol policy");
	size_t t = table_of(c, 0, XNSG_IN);
	static const struct { uint8_t proto; const char *rule; } want[] = {
		{ TCP, "tcp" }, { UDP, "udp" }, { ICMP, "icmp" }, { ICMPV6, "icmp" }, { ESP, "esp" },
		{ AH, "ah" }, { GRE, "any" }, { 0, "any" }, { 132, "any" }, { 255, "any" },
	};

	check_invariants(p, c, "protocol policy");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		EXPECT_RULE(p, c, t, want[i].proto, "198.51.100.1", 1, "10.1.1.4", 2, want[i].rule);
		EXPECT_RULE(p, c, t, want[i].proto, "2001:db8::1", 1, "fd00:1::4", 2, want[i].rule);
	}
	compiled_free(c);
	policy_free(p);
}

/*
 * The Internet tag expanded at compile time from tags.c's complement must
 * match docs/DESIGN.md §2's definition at the edges of every excluded range.
 */
Test(compile, internet_expansion)
{
	static const struct { const char *addr; bool internet; } probes[] = {
		{ "8.8.8.8", true }, { "1.0.0.0", true }, { "0.255.255.255", false },
		{ "9.255.255.255", true }, { "10.0.0.0", false }, { "10.255.255.255", false },
		{ "11.0.0.0", true }, { "100.63.255.255", true }, { "100.64.0.0", false },
		{ "100.127.255.255", false }, { "100.128.0.0", true }, { "126.255.255.255", true },
		{ "127.0.0.1", false }, { "128.0.0.0", true }, { "169.253.255.255", true },
		{ "169.254.1.1", false }, { "169.255.0.0", true }, { "172.15.255.255", true },
		{ "172.16.0.0", false }, { "172.31.255.255", false }, { "172.32.0.0", true },
		{ "192.167.255.255", true }, { "192.168.0.0", false }, { "192.169.0.0", true },
		{ "223.255.255.255", true }, { "224.0.0.1", false }, { "240.0.0.0", false },
		{ "255.255.255.255", false }, { "20.0.255.255", true }, { "20.1.0.0", false },
		{ "20.1.255.255", false }, { "20.2.0.0", true }, { "198.51.99.255", true },
		{ "198.51.100.0", false }, { "198.51.100.255", false }, { "198.51.101.0", true },
		{ "168.63.129.15", true }, { "168.63.129.16", false }, { "168.63.129.17", true },
		{ "::", false }, { "::1", false }, { "::2", true }, { "2001:db8::1", true },
		{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true }, { "fc00::", false },
		{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false }, { "fe00::", true },
		{ "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true }, { "fe80::1", false },
		{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false }, { "fec0::", true },
		{ "ff00::", false }, { "ff02::1", false }, { "2a00:1450::1", true },
		{ "2001:db9::", false }, { "2001:db9:ffff::", false }, { "2001:dba::", true },
	};
	struct policy *p = nic_policy(
		RULE("from-internet", 100, "Inbound", "Deny", "*", "Internet", "*", "*", "*") ","
		RULE("to-internet", 100, "Outbound", "Deny", "*", "*", "*", "Internet", "*"),
		",\"connectedPrefixes\":[\"20.1.0.0/16\",\"198.51.100.0/24\",\"2001:db9::/32\"]");
	struct compiled *c = compile(p, "internet policy");
	size_t tin = table_of(c, 0, XNSG_IN), tout = table_of(c, 0, XNSG_OUT);

	check_invariants(p, c, "internet policy");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct xnsg_addr a = A(probes[i].addr);
		const char *local = a.family == XNSG_V4 ? "10.1.1.4" : "fd00:1::4";
		const char *in = pick(p, c, tin, UDP, probes[i].addr, 1, local, 2);
		const char *out = pick(p, c, tout, UDP, local, 1, probes[i].addr, 2);

		cr_expect_eq(eval_in_internet(p, &a), probes[i].internet,
			     "eval: %s is %sin the Internet tag", probes[i].addr,
			     probes[i].internet ? "" : "not ");
		cr_expect_eq(!strcmp(in, "from-internet"), probes[i].internet,
			     "compiled source %s: picked %s, Internet %d", probes[i].addr, in,
			     probes[i].internet);
		cr_expect_eq(!strcmp(out, "to-internet"), probes[i].internet,
			     "compiled destination %s: picked %s, Internet %d", probes[i].addr, out,
			     probes[i].internet);
	}
	compiled_free(c);
	policy_free(p);
}

/* Two NSGs with the same rules on two interfaces share every class and
 * port map; no two classes of a policy are the same bitmap. */
Test(compile, class_and_portmap_dedup)
{
	const char *rules =
		RULE("web", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "*", "80") ","
		RULE("ssh", 110, "Inbound", "Allow", "Tcp", "203.0.113.0/24", "1024-65535", "*", "22") ","
		RULE("dns", 100, "Outbound", "Allow", "Udp", "*", "*", "192.0.2.53", "53");
	char *json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
		"\"networkSecurityGroups\":[{\"name\":\"a\",\"securityRules\":[%s]},"
		"{\"name\":\"b\",\"securityRules\":[%s]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"a\",\"ipAddresses\":[\"10.1.1.4\"]},"
		"{\"name\":\"eth1\",\"networkSecurityGroup\":\"b\",\"ipAddresses\":[\"10.1.1.5\"]}]}",
		rules, rules);
	struct policy *p = parse(json, "dedup policy");
	struct compiled *c = compile(p, "dedup policy");

	check_invariants(p, c, "dedup policy");
	cr_assert_eq(c->ntables, 4, "two NSGs, two directions each: 4 tables (got %zu)", c->ntables);
	for (int dir = 0; dir < 2; dir++) {
		const struct compiled_table *a = &c->tables[table_of(c, 0, dir)];
		const struct compiled_table *b = &c->tables[table_of(c, 1, dir)];

		cr_expect(!memcmp(&a->desc.allow_class, &b->desc.allow_class,
				  offsetof(struct xnsg_table, nsg) -
					  offsetof(struct xnsg_table, allow_class)),
			  "dir %d: identical NSGs share allow/noport/any/portmap ids", dir);
		cr_expect(!memcmp(a->proto_class, b->proto_class, sizeof(a->proto_class)),
			  "dir %d: identical NSGs share protocol classes", dir);
		cr_expect_eq(a->nlpm4, b->nlpm4, "dir %d: same number of IPv4 entries", dir);
		for (size_t i = 0; i < a->nlpm4 && i < b->nlpm4; i++)
			cr_expect(!memcmp(&a->lpm4[i], &b->lpm4[i], sizeof(a->lpm4[i])),
				  "dir %d: IPv4 entry %zu is the same prefix and class", dir, i);
	}
	/* Ports: inbound source and destination maps (shared by a and b), the
	 * outbound destination map, and one constant map for the outbound
	 * source field, which no rule restricts. */
	cr_expect_eq(c->nportmaps, 4, "4 distinct port maps (got %zu)", c->nportmaps);
	{
		const uint16_t *m = c->portmaps[c->tables[table_of(c, 0, XNSG_OUT)].desc.portmap[0]];
		bool constant = true;

		for (size_t i = 1; i < 65536; i++)
			constant = constant && m[i] == m[0];
		cr_expect(constant, "an unrestricted port field has a constant port map");
	}
	compiled_free(c);
	policy_free(p);
	free(json);
}

/* Summary words name the non-zero rule words: a rule in word 3 and the
 * default DenyAllInBound in word 4. */
Test(compile, summary_words)
{
	char *rules = NULL, *json;
	size_t len = 0;
	FILE *f = open_memstream(&rules, &len);
	struct policy *p;
	struct compiled *c;
	size_t t;

	for (int i = 0; i < 300; i++)
		fprintf(f, "%s{\"name\":\"r%d\",\"priority\":%d,\"direction\":\"Inbound\","
			   "\"access\":\"Allow\",\"protocol\":\"Udp\",\"sourceAddressPrefix\":\"%s.%d\","
			   "\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
			   "\"destinationPortRange\":\"*\"}", i ? "," : "", i, 100 + i,
			i < 256 ? "198.51.100" : "203.0.113", i % 256);
	fclose(f);
	json = xasprintf("{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
			 "\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[%s]}],"
			 "\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
			 "\"ipAddresses\":[\"10.1.1.4\"]}]}", rules);
	p = parse(json, "summary policy");
	c = compile(p, "summary policy");
	check_invariants(p, c, "summary policy");
	t = table_of(c, 0, XNSG_IN);
	cr_assert_eq(c->tables[t].nrules, 303, "300 rules and 3 defaults");
	EXPECT_RULE(p, c, t, UDP, "198.51.100.250", 1, "10.1.1.4", 2, "r250");
	EXPECT_RULE(p, c, t, UDP, "203.0.113.43", 1, "10.1.1.4", 2, "r299");
	EXPECT_RULE(p, c, t, UDP, "203.0.113.44", 1, "10.1.1.4", 2, "DenyAllInBound");
	for (size_t i = 0; i < c->tables[t].nlpm4; i++) {
		const struct lpm_entry *e = &c->tables[t].lpm4[i];
		const struct xnsg_bitmap *b = &c->classes[e->cls];

		if (e->field != XNSG_FIELD_SRC || e->prefix.len != 32 || e->prefix.bytes[0] != 198 ||
		    e->prefix.bytes[3] != 250)
			continue;
		cr_expect_eq(b->summary[0], (1ULL << 3) | (1ULL << 4),
			     "198.51.100.250's class: rule 250 (word 3) and DenyAllInBound, rule 302 "
			     "(word 4); summary 0x%llx", (unsigned long long)b->summary[0]);
		cr_expect(bit(b, 250) && bit(b, 302) && !bit(b, 249) && !bit(b, 300),
			  "198.51.100.250's class holds rules 250 and 302 only");
	}
	compiled_free(c);
	policy_free(p);
	free(json);
	free(rules);
}

/* A policy over a limit: -E2BIG, no tables, and a diagnostic naming the
 * limit, the NSG and direction, and the -D that raises it. */
static void expect_e2big(const char *json, const char *limit, const char *nsg)
{
	struct diag_list d = {};
	struct compiled *c = (struct compiled *)1;
	struct policy *p = parse(json, "limit policy");
	int err = compile_policy(p, &c, &d);
	char dflag[64];
	bool found = false;

	snprintf(dflag, sizeof(dflag), "-D%s=", limit);
	cr_assert_eq(err, -E2BIG, "over %s: compile_policy returns -E2BIG (got %d)", limit, err);
	cr_assert_null(c, "over %s: no tables returned", limit);
	cr_assert_geq(d.nerrors, 1, "over %s: an error diagnostic", limit);
	for (size_t i = 0; i < d.n; i++) {
		const char *m = d.v[i].msg;

		if (strstr(m, limit) && strstr(m, dflag) && strstr(m, nsg) &&
		    (strstr(m, "Inbound") || strstr(m, "Outbound")))
			found = true;
		cr_log_info("%s: %s", limit, m);
	}
	cr_assert(found, "over %s: the diagnostic names %s, NSG %s, its direction and %s "
		  "(got: %s)", limit, limit, nsg, dflag, d.n ? d.v[0].msg : "nothing");
	diag_free(&d);
	policy_free(p);
}

/* n NSGs nsgK, each on its own interface, rules made by fmt(k). */
static char *many_nsgs(int n, char *(*rules)(int k))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
		   "\"networkSecurityGroups\":[");
	for (int k = 0; k < n; k++) {
		char *r = rules(k);

		fprintf(f, "%s{\"name\":\"nsg%d\",\"securityRules\":[%s]}", k ? "," : "", k, r);
		free(r);
	}
	fprintf(f, "],\"interfaces\":[");
	for (int k = 0; k < n; k++)
		fprintf(f, "%s{\"name\":\"eth%d\",\"networkSecurityGroup\":\"nsg%d\","
			   "\"ipAddresses\":[\"10.1.%d.%d\"]}", k ? "," : "", k, k, k / 200, 1 + k % 200);
	fprintf(f, "]}");
	fclose(f);
	return buf;
}

static char *no_rules(int k)
{
	(void)k;
	return xstrdup("");
}

static char *port_rule(int k)
{
	return xasprintf("{\"name\":\"p\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
			 "\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"%d\","
			 "\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"%d\"}",
			 1000 + k, 2000 + k);
}

/* About 3000 inbound rules with distinct /32 sources and destinations; a
 * different count per NSG puts DenyAllInBound on a different bit, so the
 * NSGs' classes cannot be shared. */
static char *distinct_rules(int k)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (int i = 0; i < 3000 - 7 * k; i++)
		fprintf(f, "%s{\"name\":\"r%d\",\"priority\":%d,\"direction\":\"Inbound\","
			   "\"access\":\"Allow\",\"protocol\":\"*\",\"sourceAddressPrefix\":\"198.18.%d.%d\","
			   "\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"198.19.%d.%d\","
			   "\"destinationPortRange\":\"*\"}", i ? "," : "", i, 100 + i, k * 16 + i / 256,
			i % 256, k * 16 + i / 256, i % 256);
	fclose(f);
	return buf;
}

Test(compile, limit_tables)
{
	char *json = many_nsgs(XNSG_MAX_TABLES / 2 + 1, no_rules);

	expect_e2big(json, "XNSG_MAX_TABLES", "nsg32");
	free(json);
}

Test(compile, limit_portmaps)
{
	/* Each NSG's inbound table has its own source and destination map. */
	char *json = many_nsgs(XNSG_MAX_PORTMAPS / 2 + 1, port_rule);

	expect_e2big(json, "XNSG_MAX_PORTMAPS", "nsg");
	free(json);
}

Test(compile, limit_classes, .timeout = 60)
{
	/* About 6000 classes per NSG: enough NSGs to overflow the limit. */
	char *json = many_nsgs(XNSG_MAX_CLASSES / 6000 + 1, distinct_rules);

	expect_e2big(json, "XNSG_MAX_CLASSES", "nsg");
	free(json);
}

/* Compile time at docs/DESIGN.md §10's sizes: 4,000 rules per direction (3,997 user
 * rules, every priority 100-4096, plus the defaults), and 100,000 prefixes. */
Test(compile, time_at_spec_limits, .timeout = 120)
{
	char *buf = NULL, *json;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct policy *p;
	struct compiled *c;
	double t0, t1;

	for (int d = 0; d < 2; d++)
		for (int i = 0; i < 3997; i++)
			fprintf(f, "%s{\"name\":\"r%d-%d\",\"priority\":%d,\"direction\":\"%s\","
				   "\"access\":\"%s\",\"protocol\":\"%s\",\"sourceAddressPrefix\":\"198.18.%d.%d\","
				   "\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"%s\","
				   "\"destinationPortRange\":\"%d\"}", d || i ? "," : "", d, i, 100 + i,
				d ? "Outbound" : "Inbound", i % 3 ? "Allow" : "Deny",
				(const char *[]){ "Tcp", "Udp", "*" }[i % 3], i / 256, i % 256,
				i % 5 ? "*" : "Internet", 1000 + i % 50);
	fclose(f);
	json = xasprintf("{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
			 "\"networkSecurityGroups\":[{\"name\":\"big\",\"securityRules\":[%s]}],"
			 "\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"big\","
			 "\"ipAddresses\":[\"10.1.1.4\"]}]}", buf);
	free(buf);
	p = parse(json, "4000-rule policy");
	t0 = now();
	c = compile(p, "4000-rule policy");
	t1 = now();
	cr_log_info("compile: 2 x %u rules in %.3f s (%zu classes, %zu port maps)",
		    c->tables[0].nrules, t1 - t0, c->nclasses, c->nportmaps);
	cr_expect_lt(t1 - t0, 5.0, "a 4000-rule-per-direction NSG compiles in seconds (%.3f s)",
		     t1 - t0);
	check_invariants(p, c, "4000-rule policy");
	compiled_free(c);
	policy_free(p);
	free(json);

	/* 100,000 distinct prefixes in a service tag used by one rule. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "%s\"%d.%d.%d.0/24\"", i ? "," : "", 20 + i / 65536, (i / 256) % 256,
			i % 256);
	fclose(f);
	json = xasprintf("{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
			 "\"serviceTags\":{\"Big\":[%s]},"
			 "\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":["
			 RULE("big", 100, "Inbound", "Allow", "Tcp", "Big", "*", "*", "443") ","
			 RULE("net", 110, "Inbound", "Deny", "*", "Internet", "*", "*", "*")
			 "]}],\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
			 "\"ipAddresses\":[\"10.1.1.4\"]}]}", buf);
	free(buf);
	p = parse(json, "100k-prefix policy");
	t0 = now();
	c = compile(p, "100k-prefix policy");
	t1 = now();
	cr_log_info("compile: 100,000 tag prefixes in %.3f s (%zu IPv4 entries)", t1 - t0,
		    c->tables[0].nlpm4);
	cr_expect_lt(t1 - t0, 5.0, "100,000 prefixes compile in seconds (%.3f s)", t1 - t0);
	cr_expect_geq(c->tables[table_of(c, 0, XNSG_IN)].nlpm4, 100000,
		      "every tag prefix is an entry");
	check_invariants(p, c, "100k-prefix policy");
	EXPECT_RULE(p, c, table_of(c, 0, XNSG_IN), TCP, "21.134.159.1", 1, "10.1.1.4", 443, "big");
	EXPECT_RULE(p, c, table_of(c, 0, XNSG_IN), TCP, "21.134.160.1", 1, "10.1.1.4", 443, "net");
	EXPECT_RULE(p, c, table_of(c, 0, XNSG_IN), TCP, "21.134.159.1", 1, "10.1.1.4", 80, "net");
	compiled_free(c);
	policy_free(p);
	free(json);
}

/* ---- the tables' digest (docs/DESIGN.md §8 "Tables kept") ----------- */

/* The digest of a policy of one NSG holding rules, on eth0 and, when
 * two, eth1 too. */
static void digest_of(const char *rules, bool two, char hex[DP_DIGEST_HEX])
{
	char *json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]},"
		"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[%s]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"10.1.1.4\",\"fd00:1::4\"]}%s]}",
		rules, two ? ",{\"name\":\"eth1\",\"networkSecurityGroup\":\"nsg\","
			     "\"ipAddresses\":[\"10.1.1.5\"]}" : "");
	struct policy *p = parse(json, rules);
	struct compiled *c = compile(p, rules);

	cr_assert_eq(c->nifaces, two ? 2u : 1u, "the policy's interfaces compiled");
	dp_gen_digest(c, "n", 1, hex);
	compiled_free(c);
	policy_free(p);
	free(json);
}

Test(compile, tables_digest_tells_rules_apart_not_interfaces)
{
#define R2(src, dport, proto, access, v6) \
	RULE("a", 100, "Inbound", access, proto, src, "*", "*", dport) "," \
	RULE("b", 110, "Outbound", "Deny", "Udp", "*", "*", v6, "53")
	static const char *const other[] = {
		R2("10.1.3.0/24", "80", "Tcp", "Allow", "fd00:2::/64"),    /* an IPv4 prefix */
		R2("10.1.2.0/24", "81", "Tcp", "Allow", "fd00:2::/64"),    /* a port */
		R2("10.1.2.0/24", "80", "Udp", "Allow", "fd00:2::/64"),    /* a protocol */
		R2("10.1.2.0/24", "80", "Tcp", "Deny", "fd00:2::/64"),     /* the access */
		R2("10.1.2.0/24", "80", "Tcp", "Allow", "fd00:3::/64"),    /* an IPv6 prefix */
		R2("10.1.2.0/23", "80", "Tcp", "Allow", "fd00:2::/64"),    /* a prefix length */
	};
	char base[DP_DIGEST_HEX], d[DP_DIGEST_HEX];

	digest_of(R2("10.1.2.0/24", "80", "Tcp", "Allow", "fd00:2::/64"), false, base);
	cr_expect_eq(strlen(base), DP_DIGEST_HEX - 1u, "32 hex digits");
	digest_of(R2("10.1.2.0/24", "80", "Tcp", "Allow", "fd00:2::/64"), true, d);
	cr_expect_str_eq(d, base, "an interface added leaves the tables as they were");
	digest_of(R2("10.1.2.0/24", "80-80", "Tcp", "Allow", "fd00:2::/64"), false, d);
	cr_expect_str_eq(d, base, "another spelling of the same port range: the same tables");
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		digest_of(other[i], false, d);
		cr_expect_str_neq(d, base, "variant %zu differs from the base policy", i);
	}
	/* Two /16 blocks: only the first level of the IPv4 trie tells them apart. */
	digest_of(R2("10.2.0.0/16", "80", "Tcp", "Allow", "fd00:2::/64"), false, base);
	digest_of(R2("10.3.0.0/16", "80", "Tcp", "Allow", "fd00:2::/64"), false, d);
	cr_expect_str_neq(d, base, "another /16 block");
	/* Two IPv6 /64s under one /48: the IPv6 trie's nodes tell them apart. */
	digest_of(R2("10.1.2.0/24", "80", "Tcp", "Allow", "fd00:2:0:1::/64"), false, base);
	digest_of(R2("10.1.2.0/24", "80", "Tcp", "Allow", "fd00:2:0:2::/64"), false, d);
	cr_expect_str_neq(d, base, "another IPv6 /64");
#undef R2
}
