// SPDX-License-Identifier: MIT
/*
 * xnsg-bench: the measuring half of `make bench` (bench/run.sh drives it).
 *
 *   xnsg-bench classify [--quick]      classifier ns/packet by rule count, JSON lines
 *   xnsg-bench genpolicy RULES [PREFIXES] DIR
 *                                      DIR/policy.json (+ DIR/ServiceTags.json)
 *   xnsg-bench pktgen IF DST_MAC SECONDS [SOURCES]
 *                                      64-byte UDP frames from many sources, AF_PACKET;
 *                                      prints "FRAMES SECONDS SECONDS_LOST OTHER_CPUS_BUSY"
 *   xnsg-bench xdpdrop IF              attach a bare XDP_DROP program (the XDP floor)
 *   xnsg-bench tcdrop IF               attach a bare TC ingress drop program (the TC floor)
 *   xnsg-bench ctmem [ENTRIES]         kernel memory of a flow table of ENTRIES (JSON)
 *
 * RULES is rules per NSG direction.  Azure's priorities (100-4096, unique
 * per NSG direction) leave room for 3,997 user rules, and every NSG also
 * holds Azure's three default rules of that direction, so RULES above
 * 3,997 means 3,997 user rules + 3 defaults (4,000 = the full table); the
 * probe packets still match only the last user rule.
 *
 * genpolicy reads XNSG_BENCH_IF (interface name), XNSG_BENCH_DENY_LAST
 * (the last rule denies UDP to port 443, like the peers' drop rule) and
 * XNSG_BENCH_ONE_LEVEL (NIC NSG only) and XNSG_BENCH_VARIANT (every
 * missing rule's port moved by one: the same policy, changed).
 *
 * Every figure is measured side by side in one run; run.sh repeats and
 * takes medians.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "compile.h"
#include "datapath.h"
#include "model.h"
#include "xnsg/abi.h"

/* Priorities 100..4096, unique per NSG direction: 3,997 user rules. */
#define BENCH_MAX_USER_RULES 3997

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd32(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

/* ---- policies ------------------------------------------------------- */

/*
 * A policy with `rules` inbound rules in each of two NSGs (subnet and
 * NIC level) on interface eth0 (10.9.1.4).  shape "last": every rule but
 * the last misses the probe packet (203.0.113.7:40000 -> 10.9.1.4:443/tcp),
 * the last allows it — the worst case of a linear scan.  shape "random":
 * random overlapping prefixes, port ranges and protocols, all allowing, and
 * a last rule that allows everything (so every packet is judged by both
 * levels, whatever it matched).
 */
static bool env_on(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0");
}

/* User rules written for RULES rules per NSG direction (see the top). */
static int user_rules(int rules)
{
	return rules > BENCH_MAX_USER_RULES ? BENCH_MAX_USER_RULES : rules < 1 ? 1 : rules;
}

static void write_rules(FILE *f, const char *nsg, int rules, const char *shape, int tag_rule)
{
	/* Side by side with filters that drop on their last rule. */
	bool deny_last = env_on("XNSG_BENCH_DENY_LAST");
	const char *last_access = deny_last ? "Deny" : "Allow";
	/* A second version of the same policy (every miss moved one port up):
	 * what an update writes. */
	unsigned int variant = env_on("XNSG_BENCH_VARIANT") ? 1 : 0;

	rules = user_rules(rules);
	fprintf(f, "{\"name\": \"%s\", \"securityRules\": [\n", nsg);
	for (int i = 0; i < rules; i++) {
		bool last = i == rules - 1;
		char src[64], dport[32];
		const char *proto = "Tcp";

		if (!strcmp(shape, "last")) {
			/* Misses: sources in 198.18.0.0/15, never the probe's. */
			snprintf(src, sizeof(src), "\"198.%u.%u.%u/%u\"", 18 + (i >> 16 & 1), i >> 8 & 255,
				 i & 255, 32);
			snprintf(dport, sizeof(dport), "%u", 1000 + (unsigned int)i % 60000 + variant);
			if (last) {
				snprintf(src, sizeof(src), "\"*\"");
				snprintf(dport, sizeof(dport), "443");
				/* The peers' last rule: "udp dport 443 drop". */
				proto = deny_last ? "Udp" : "*";
			}
		} else {
			unsigned int len = 8 + rnd32() % 25;
			unsigned int lo = rnd32() % 65536, hi = lo + rnd32() % 2000;

			snprintf(src, sizeof(src), "\"%u.%u.%u.%u/%u\"", 1 + rnd32() % 223, rnd32() % 256,
				 rnd32() % 256, rnd32() % 256, len);
			snprintf(dport, sizeof(dport), "%u-%u", lo, hi > 65535 ? 65535 : hi);
			proto = (const char *[]){ "Tcp", "Udp", "*", "Tcp" }[rnd32() % 4];
			if (rnd32() % 8 == 0)
				snprintf(src, sizeof(src), "\"Internet\"");
			if (last) {
				/* Allow what no other rule took: every packet is
				 * judged by both levels, as in the "last" shape. */
				snprintf(src, sizeof(src), "\"*\"");
				snprintf(dport, sizeof(dport), "*");
				proto = "*";
			}
		}
		if (tag_rule && last)
			snprintf(src, sizeof(src), "\"Big\"");
		fprintf(f,
			"  {\"name\": \"r%d\", \"priority\": %d, \"direction\": \"Inbound\", \"access\": \"%s\", "
			"\"protocol\": \"%s\", \"sourceAddressPrefix\": %s, \"sourcePortRange\": \"*\", "
			"\"destinationAddressPrefix\": \"*\", \"destinationPortRange\": \"%s\"}%s\n",
			i, 100 + i, last ? last_access : !strcmp(shape, "random") ? "Allow" : "Deny", proto, src, dport,
			last ? "" : ",");
	}
	fprintf(f, "]}");
}

/* The interface the generated policy names: eth0, or $XNSG_BENCH_IF. */
static const char *bench_if(void)
{
	const char *s = getenv("XNSG_BENCH_IF");

	return s && *s ? s : "eth0";
}

static char *policy_json(int rules, const char *shape, const char *tags_file)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "{\"virtualNetwork\": {\"name\": \"bench\", \"addressPrefixes\": [\"10.9.0.0/16\"]},\n");
	if (tags_file)
		fprintf(f, "\"serviceTagsFile\": \"%s\",\n", tags_file);
	fprintf(f, "\"networkSecurityGroups\": [\n");
	/* Both levels, unless $XNSG_BENCH_ONE_LEVEL: then the NIC NSG only. */
	write_rules(f, "subnet-nsg", rules, shape, tags_file != NULL);
	fprintf(f, ",\n");
	write_rules(f, "nic-nsg", rules, shape, 0);
	fprintf(f, "],\n\"subnets\": [{\"name\": \"s\", \"addressPrefix\": \"10.9.1.0/24\", "
		   "\"networkSecurityGroup\": %s}],\n"
		   "\"interfaces\": [{\"name\": \"%s\", \"subnet\": \"s\", \"networkSecurityGroup\": "
		   "\"nic-nsg\", \"ipAddresses\": [\"10.9.1.4\"]}]}\n",
		env_on("XNSG_BENCH_ONE_LEVEL") ? "null" : "\"subnet-nsg\"", bench_if());
	fclose(f);
	return buf;
}

/* Azure's Service Tags file shape, one tag "Big" of n distinct /24..32s. */
static int write_tags_file(const char *path, int n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "{\"changeNumber\": 1, \"cloud\": \"Public\", \"values\": [{\"name\": \"Big\", "
		   "\"id\": \"Big\", \"properties\": {\"changeNumber\": 1, \"region\": \"\", "
		   "\"platform\": \"Azure\", \"systemService\": \"Bench\", \"addressPrefixes\": [\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "\"%u.%u.%u.0/24\"%s\n", 20 + (i >> 16), (i >> 8) & 255, i & 255,
			i + 1 < n ? "," : "");
	fprintf(f, "]}}]}\n");
	return fclose(f) ? -errno : 0;
}

static int cmd_genpolicy(int argc, char **argv)
{
	int rules, prefixes = 0;
	const char *dir;
	char path[512], *json;
	FILE *f;

	if (argc < 3)
		return 2;
	rules = atoi(argv[1]);
	if (argc == 4)
		prefixes = atoi(argv[2]);
	dir = argv[argc - 1];
	if (prefixes) {
		snprintf(path, sizeof(path), "%s/ServiceTags.json", dir);
		if (write_tags_file(path, prefixes))
			return 1;
	}
	json = policy_json(rules, "last", prefixes ? "ServiceTags.json" : NULL);
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fputs(json, f);
	free(json);
	return fclose(f) ? 1 : 0;
}

/* ---- classifier cost ------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_REPS 16

/* Median over `reps` timings of `repeat` runs of each frame (mean over frames). */
static double time_frames(struct dp_test *t, enum dp_prog prog, uint8_t (*frames)[128],
			  size_t *lens, int nframes, unsigned int repeat, int reps)
{
	double med[MAX_REPS], sum;

	for (int r = 0; r < reps && r < MAX_REPS; r++) {
		sum = 0;
		for (int i = 0; i < nframes; i++) {
			double ns = 0;

			if (dp_test_time(t, prog, frames[i], lens[i], repeat, &ns))
				return -1;
			sum += ns;
		}
		med[r] = sum / nframes;
	}
	return median_of(med, reps < MAX_REPS ? reps : MAX_REPS);
}

/* A program that only returns: the floor of a hook (XDP_PASS / TC_ACT_OK). */
static int empty_prog(enum bpf_prog_type type)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = type == BPF_PROG_TYPE_XDP ? XDP_PASS : TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "empty", "GPL", insns, 2, NULL);
}

/* One test run of fd on frame; the kernel's duration in ns (per run). */
static double run_fd(int fd, enum bpf_prog_type type, uint8_t *frame, size_t len,
		     unsigned int repeat)
{
	struct __sk_buff skb = { .ifindex = if_nametoindex("lo") };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
		    .repeat = repeat);

	if (type != BPF_PROG_TYPE_XDP) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	return o.duration;
}

static double time_empty(int fd, enum bpf_prog_type type, uint8_t *frame, size_t len,
			 unsigned int repeat, int reps)
{
	double v[MAX_REPS];

	for (int r = 0; r < reps && r < MAX_REPS; r++)
		v[r] = run_fd(fd, type, frame, len, repeat);
	return median_of(v, reps < MAX_REPS ? reps : MAX_REPS);
}

/* Load policy json into t, bound to loopback as eth0 with host attach. */
static int load(struct dp_test *t, const char *json, struct policy **p, struct compiled **c)
{
	struct diag_list d = { 0 };
	int err = policy_parse_string(json, "bench.json", ".", p, &d);

	if (!err)
		err = compile_policy(*p, c, &d);
	if (err)
		diag_print(stderr, "bench.json", &d);
	diag_free(&d);
	if (!err)
		err = dp_test_load(t, *p, *c);
	if (!err)
		err = dp_test_bind(t, if_nametoindex("lo"), 0, XNSG_ATTACH_MODE_HOST);
	return err;
}

static size_t probe(uint8_t *buf, const char *src, uint16_t sport, uint16_t dport, uint8_t proto)
{
	struct xnsg_addr s, d;

	addr_parse(src, &s);
	addr_parse("10.9.1.4", &d);
	return packet_for_flow(buf, 128, proto, &s, sport, &d, dport);
}

/*
 * The "random, deep" packets: sources inside the policy's IPv4 source
 * entries longer than /16 (host bits random), whose lookups go through
 * the second and third levels of the IPv4 multibit trie (xnsg_dir4): the
 * worst case of the address lookup.  A policy without such entries gets
 * the random packets already in fr.
 */
static void trie_frames(const struct compiled *c, uint8_t (*fr)[128], size_t *lens, int n)
{
	const struct lpm_entry *deep[64];
	int ndeep = 0;

	for (size_t t = 0; t < c->ntables; t++)
		for (size_t i = 0; i < c->tables[t].nlpm4 && ndeep < 64; i++)
			if (c->tables[t].lpm4[i].field == XNSG_FIELD_SRC && c->tables[t].lpm4[i].prefix.len > 16)
				deep[ndeep++] = &c->tables[t].lpm4[i];
	for (int k = 0; k < n && ndeep; k++) {
		const struct xnsg_prefix *p = &deep[rnd32() % (uint32_t)ndeep]->prefix;
		uint32_t a = (uint32_t)p->bytes[0] << 24 | (uint32_t)p->bytes[1] << 16 |
			     (uint32_t)p->bytes[2] << 8 | p->bytes[3];
		char src[32];

		if (p->len < 32)
			a |= rnd32() & (0xffffffffu >> p->len);
		snprintf(src, sizeof(src), "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
		lens[k] = probe(fr[k], src, (uint16_t)rnd32(), (uint16_t)rnd32(), rnd32() % 2 ? 6 : 17);
	}
}

/* Packets classified so far: the sum of every rule counter of generation 0. */
static unsigned long long classified(struct dp_test *t, const struct compiled *c)
{
	unsigned long long sum = 0, pk, by;

	for (uint32_t k = 0; k < c->nrule_slots; k++)
		if (!dp_test_counter(t, XNSG_MAP_RULE_STATS, k, &pk, &by))
			sum += pk;
	return sum;
}

struct single {
	double median, mean;
};

/*
 * repeat=1 over n distinct frames, each once: the cost of a packet that
 * cannot profit from a repeat loop (a new flow must miss the flow table
 * once).  Includes the kernel's timer overhead, which the empty program's
 * single-shot figure shows.
 */
static int single_shot(struct dp_test *t, int fd, enum bpf_prog_type type, uint8_t (*frames)[128],
		       size_t *lens, int n, double *scratch, struct single *out)
{
	double sum = 0;

	for (int i = 0; i < n; i++) {
		double ns;

		if (t) {
			if (dp_test_time(t, DP_PROG_XDP, frames[i], lens[i], 1, &ns))
				return -1;
		} else {
			ns = run_fd(fd, type, frames[i], lens[i], 1);
			if (ns < 0)
				return -1;
		}
		scratch[i] = ns;
		sum += ns;
	}
	out->mean = sum / n;
	out->median = median_of(scratch, n);
	return 0;
}

/* Every frame a distinct TCP SYN 5-tuple to 10.9.1.4:443 (the last rule's). */
static void distinct_flows(uint8_t (*frames)[128], size_t *lens, int n)
{
	for (int i = 0; i < n; i++) {
		char src[32];

		snprintf(src, sizeof(src), "203.0.%u.%u", 112 + (i >> 16 & 3), i >> 8 & 255);
		lens[i] = probe(frames[i], src, (uint16_t)(1024 + (i & 255) * 251 % 60000), 443, 6);
	}
}

static void print_single(const char *name, int rules, const struct single *s, double per_pkt)
{
	printf("{\"case\": \"%s\", \"method\": \"single\", \"rules\": %d, \"ns\": %.2f, "
	       "\"mean_ns\": %.2f", name, rules, s->median, s->mean);
	if (per_pkt >= 0)
		printf(", \"classified_per_pkt\": %.3f", per_pkt);
	printf("}\n");
}

static int fail(const char *what)
{
	fprintf(stderr, "xnsg-bench classify: %s failed\n", what);
	return 1;
}

static int cmd_classify(int argc, char **argv)
{
	static const int counts[] = { 1, 10, 100, 1000, 4000 };
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	unsigned int repeat = quick ? 20000 : 200000;
	int reps = quick ? 3 : 9, nsingle = quick ? 4000 : 20000, passes = quick ? 3 : 5;
	int efd = empty_prog(BPF_PROG_TYPE_XDP), tfd = empty_prog(BPF_PROG_TYPE_SCHED_CLS);
	struct dp_test *stateless = dp_test_open(DP_TEST_STATELESS | DP_TEST_NO_RECORD);
	struct dp_test *stateful = dp_test_open(DP_TEST_NO_RECORD);
	static uint8_t frames[16][128], (*many)[128];
	size_t lens[16], *mlens;
	double *scratch;

	if (efd < 0 || tfd < 0 || !stateless || !stateful) {
		fprintf(stderr, "xnsg-bench: cannot load BPF programs (root?)\n");
		return 1;
	}
	many = calloc((size_t)nsingle, sizeof(*many));
	mlens = calloc((size_t)nsingle, sizeof(*mlens));
	scratch = calloc((size_t)nsingle, sizeof(*scratch));
	if (!many || !mlens || !scratch)
		return fail("calloc");
	printf("{\"case\": \"params\", \"repeat\": %u, \"reps\": %d, \"single_flows\": %d, "
	       "\"single_passes\": %d, \"max_user_rules\": %d}\n",
	       repeat, reps, nsingle, passes, BENCH_MAX_USER_RULES);
	/*
	 * Stateless classification.  The policies are compiled once; each
	 * repetition then loads every rule count and shape in turn and times
	 * it once, so that a slow spell of the machine hits one repetition of
	 * every point rather than every repetition of one point.
	 */
	enum { NCOUNTS = sizeof(counts) / sizeof(counts[0]), NSHAPES = 2 };
	struct policy *pol[NCOUNTS][NSHAPES] = { { 0 } };
	struct compiled *cmp[NCOUNTS][NSHAPES] = { { 0 } };
	static uint8_t rframes[NCOUNTS][16][128], dframes[NCOUNTS][16][128];
	size_t rlens[NCOUNTS][16], dlens[NCOUNTS][16];
	double t_last[NCOUNTS][MAX_REPS], t_tc[NCOUNTS][MAX_REPS], t_rand[NCOUNTS][MAX_REPS];
	double t_deep[NCOUNTS][MAX_REPS];
	double t_exdp[MAX_REPS], t_etc[MAX_REPS];

	if (reps > MAX_REPS)
		reps = MAX_REPS;
	for (int i = 0; i < NCOUNTS; i++) {
		for (int sh = 0; sh < NSHAPES; sh++) {
			char *json = policy_json(counts[i], sh ? "random" : "last", NULL);
			struct diag_list d = { 0 };
			int err = policy_parse_string(json, "bench.json", ".", &pol[i][sh], &d);

			if (!err)
				err = compile_policy(pol[i][sh], &cmp[i][sh], &d);
			if (err)
				diag_print(stderr, "bench.json", &d);
			diag_free(&d);
			free(json);
			if (err)
				return fail("compiling a policy");
		}
		/* The random shape's packets, fixed per rule count. */
		for (int k = 0; k < 16; k++) {
			char src[32];

			snprintf(src, sizeof(src), "%u.%u.%u.%u", 1 + rnd32() % 223, rnd32() % 256,
				 rnd32() % 256, rnd32() % 256);
			rlens[i][k] = probe(rframes[i][k], src, (uint16_t)rnd32(), (uint16_t)rnd32(),
					    rnd32() % 2 ? 6 : 17);
		}
		memcpy(dframes[i], rframes[i], sizeof(dframes[i]));
		memcpy(dlens[i], rlens[i], sizeof(dlens[i]));
		trie_frames(cmp[i][1], dframes[i], dlens[i], 16);
	}
	lens[0] = probe(frames[0], "203.0.113.7", 40000, 443, 6);
	for (int r = 0; r < reps; r++) {
		t_exdp[r] = time_empty(efd, BPF_PROG_TYPE_XDP, frames[0], lens[0], repeat, 1);
		t_etc[r] = time_empty(tfd, BPF_PROG_TYPE_SCHED_CLS, frames[0], lens[0], repeat, 1);
		for (int i = 0; i < NCOUNTS; i++) {
			if (dp_test_load(stateless, pol[i][0], cmp[i][0]) ||
			    dp_test_bind(stateless, if_nametoindex("lo"), 0, XNSG_ATTACH_MODE_HOST))
				return fail("loading the last-rule policy");
			t_last[i][r] = time_frames(stateless, DP_PROG_XDP, frames, lens, 1, repeat, 1);
			t_tc[i][r] = time_frames(stateless, DP_PROG_TC_INGRESS, frames, lens, 1, repeat, 1);
			if (dp_test_load(stateless, pol[i][1], cmp[i][1]) ||
			    dp_test_bind(stateless, if_nametoindex("lo"), 0, XNSG_ATTACH_MODE_HOST))
				return fail("loading the random policy");
			t_rand[i][r] = time_frames(stateless, DP_PROG_XDP, rframes[i], rlens[i], 16,
						   repeat / 16 + 1, 1);
			t_deep[i][r] = time_frames(stateless, DP_PROG_XDP, dframes[i], dlens[i], 16,
						   repeat / 16 + 1, 1);
			if (t_last[i][r] < 0 || t_tc[i][r] < 0 || t_rand[i][r] < 0 || t_deep[i][r] < 0)
				return fail("a test run");
		}
	}
	printf("{\"case\": \"empty-xdp\", \"ns\": %.2f}\n", median_of(t_exdp, reps));
	printf("{\"case\": \"empty-tc\", \"ns\": %.2f}\n", median_of(t_etc, reps));
	for (int i = 0; i < NCOUNTS; i++) {
		printf("{\"case\": \"new-flow-last-rule\", \"rules\": %d, \"user_rules\": %d, "
		       "\"ns\": %.2f}\n", counts[i], user_rules(counts[i]), median_of(t_last[i], reps));
		printf("{\"case\": \"new-flow-last-rule-tc\", \"rules\": %d, \"ns\": %.2f}\n", counts[i],
		       median_of(t_tc[i], reps));
		printf("{\"case\": \"new-flow-random\", \"rules\": %d, \"ns\": %.2f}\n", counts[i],
		       median_of(t_rand[i], reps));
		printf("{\"case\": \"new-flow-random-deep\", \"rules\": %d, \"ns\": %.2f}\n", counts[i],
		       median_of(t_deep[i], reps));
		for (int sh = 0; sh < NSHAPES; sh++) {
			compiled_free(cmp[i][sh]);
			policy_free(pol[i][sh]);
		}
	}
	fflush(stdout);

	/*
	 * With flow tracking, at 1 and 4,000 rules.  repeat: established, the
	 * same tracked flow again and again.  single: `nsingle` distinct flows
	 * (TCP SYNs the last rule allows), each run once (repeat=1): first
	 * through the stateful instance with an empty flow table (lookup miss +
	 * classification + insert: a new flow), then the same frames again
	 * (hits: established), through the stateless instance (classification
	 * alone) and through the empty program; median of `passes` passes,
	 * the flow table flushed before each.  The rule counters prove which
	 * packets were classified.
	 */
	distinct_flows(many, mlens, nsingle);
	for (int which = 0; which < 2; which++) {
		int n = which ? 4000 : 1;
		struct policy *p = NULL, *p2 = NULL;
		struct compiled *c = NULL, *c2 = NULL;
		char *json = policy_json(n, "last", NULL);
		struct single s, acc[4][MAX_REPS];
		double per[4][MAX_REPS], v[MAX_REPS];
		int ret;
		double ns;

		if (load(stateful, json, &p, &c) || load(stateless, json, &p2, &c2))
			return fail("loading the stateful policy");
		dp_test_flush_flows(stateful);
		lens[0] = probe(frames[0], "203.0.113.7", 40000, 443, 6);
		dp_test_run(stateful, DP_PROG_XDP, frames[0], lens[0], &ret, NULL);
		ns = time_frames(stateful, DP_PROG_XDP, frames, lens, 1, repeat, reps);
		printf("{\"case\": \"established\", \"rules\": %d, \"ns\": %.2f}\n", n, ns);
		for (int r = 0; r < passes && r < MAX_REPS; r++) {
			unsigned long long c0;

			dp_test_flush_flows(stateful);
			c0 = classified(stateful, c);
			if (single_shot(stateful, -1, 0, many, mlens, nsingle, scratch, &acc[0][r]))
				return fail("single-shot new flows");
			per[0][r] = (double)(classified(stateful, c) - c0) / nsingle;
			c0 = classified(stateful, c);
			if (single_shot(stateful, -1, 0, many, mlens, nsingle, scratch, &acc[1][r]))
				return fail("single-shot established");
			per[1][r] = (double)(classified(stateful, c) - c0) / nsingle;
			c0 = classified(stateless, c2);
			if (single_shot(stateless, -1, 0, many, mlens, nsingle, scratch, &acc[2][r]))
				return fail("single-shot stateless");
			per[2][r] = (double)(classified(stateless, c2) - c0) / nsingle;
			if (single_shot(NULL, efd, BPF_PROG_TYPE_XDP, many, mlens, nsingle, scratch,
					&acc[3][r]))
				return fail("single-shot empty");
			per[3][r] = -1;
		}
		for (int k = 0; k < 4; k++) {
			static const char *const names[] = { "new-flow-ct", "established", "new-flow-last-rule",
							     "empty-xdp" };
			int np = passes < MAX_REPS ? passes : MAX_REPS;

			for (int r = 0; r < np; r++)
				v[r] = acc[k][r].median;
			s.median = median_of(v, np);
			for (int r = 0; r < np; r++)
				v[r] = acc[k][r].mean;
			s.mean = median_of(v, np);
			print_single(names[k], n, &s, per[k][0]);
		}
		fflush(stdout);
		dp_test_flush_flows(stateful);
		compiled_free(c);
		policy_free(p);
		compiled_free(c2);
		policy_free(p2);
		free(json);
	}
	dp_test_close(stateless);
	dp_test_close(stateful);
	close(efd);
	close(tfd);
	free(many);
	free(mlens);
	free(scratch);
	return 0;
}

/* ---- packet generator ----------------------------------------------- */

static uint16_t csum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Fields 1 and 2 of a schedstat file: ns run on a CPU, ns runnable but waiting. */
static void schedstat(const char *path, unsigned long long *run, unsigned long long *wait)
{
	FILE *f = fopen(path, "r");

	*run = *wait = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", run, wait) != 2)
			*run = *wait = 0;
		fclose(f);
	}
}

/* /proc/PID/schedstat of ksoftirqd/CPU, or "" when there is none. */
static void ksoftirqd_path(int cpu, char *buf, size_t len)
{
	char want[32], comm[64], path[64];
	int pid;

	buf[0] = 0;
	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	for (pid = 1; pid < 4096; pid++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			snprintf(buf, len, "/proc/%d/schedstat", pid);
		fclose(f);
		if (buf[0])
			return;
	}
}

/* Busy and total jiffies of every CPU but `cpu` (from /proc/stat). */
static void other_cpus(int cpu, unsigned long long *busy, unsigned long long *total)
{
	char line[512];
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 };
		int n;

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9' || atoi(line + 3) == cpu)
			continue;
		n = sscanf(line + 3, "%*d %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]);
		if (n < 8)
			continue;
		/* user nice system idle iowait irq softirq steal */
		*busy += v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		*total += v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	}
	if (f)
		fclose(f);
}

/*
 * 64-byte UDP/IPv4 frames to 10.9.1.4:443 from SOURCES addresses in
 * 198.51.100.0/24 and ports, sent with sendmmsg on an AF_PACKET socket
 * that bypasses the qdisc, for SECONDS.  Prints frames sent, seconds
 * elapsed, seconds other tasks held its CPU while it waited, and the busy
 * share of the other CPUs.
 */
static int cmd_pktgen(int argc, char **argv)
{
	enum { BATCH = 64, FRAME = 60 };
	static uint8_t frames[256][FRAME];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll ll = { 0 };
	unsigned int mac[6], sources;
	int fd, one = 1, seconds;
	unsigned long long sent = 0, run0, wait0, run1, wait1, krun0 = 0, kwait, krun1 = 0;
	unsigned long long busy0, total0, busy1, total1;
	struct timespec start, now;
	char kpath[64];
	double elapsed, others;

	if (argc < 4 || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
			       &mac[4], &mac[5]) != 6)
		return 2;
	seconds = atoi(argv[3]);
	sources = argc > 4 ? (unsigned int)atoi(argv[4]) : 256;
	if (sources < 1 || sources > 256)
		sources = 256;
	if (seconds < 1 || seconds > 60) {
		fprintf(stderr, "xnsg-bench pktgen: SECONDS is 1 to 60\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("xnsg-bench pktgen: socket");
		return 1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = (int)if_nametoindex(argv[1]);
	ll.sll_halen = 6;
	if (!ll.sll_ifindex || bind(fd, (struct sockaddr *)&ll, sizeof(ll))) {
		fprintf(stderr, "xnsg-bench pktgen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (unsigned int i = 0; i < 256; i++) {
		uint8_t *f = frames[i], *ip = f + 14, *udp = ip + 20;

		memset(f, 0, FRAME);
		for (int k = 0; k < 6; k++)
			f[k] = (uint8_t)mac[k];
		f[6] = 0x02;
		f[11] = 0x01;
		f[12] = 0x08;
		ip[0] = 0x45;
		ip[3] = 46; /* total length: 20 + 8 + 18 payload */
		ip[8] = 64;
		ip[9] = 17;
		ip[12] = 198, ip[13] = 51, ip[14] = 100, ip[15] = (uint8_t)(i % sources);
		ip[16] = 10, ip[17] = 9, ip[18] = 1, ip[19] = 4;
		ip[10] = (uint8_t)(csum16(ip, 20) >> 8);
		ip[11] = (uint8_t)csum16(ip, 20);
		udp[0] = (uint8_t)((10000 + i) >> 8), udp[1] = (uint8_t)(10000 + i);
		udp[2] = 443 >> 8, udp[3] = 443 & 0xff;
		udp[5] = 26;
	}
	memset(msgs, 0, sizeof(msgs));
	/* Was the run disturbed?  Time this thread waited for its CPU while
	 * others ran there, less what ksoftirqd of that CPU ran (our own
	 * receive work, deferred), and how busy the other CPUs were. */
	ksoftirqd_path(sched_getcpu(), kpath, sizeof(kpath));
	if (kpath[0])
		schedstat(kpath, &krun0, &kwait);
	other_cpus(sched_getcpu(), &busy0, &total0);
	schedstat("/proc/thread-self/schedstat", &run0, &wait0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned int b = 0;; b++) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = frames[(b * BATCH + (unsigned int)i) % 256];
			iov[i].iov_len = FRAME;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (unsigned long long)n;
		if ((b & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
				break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	schedstat("/proc/thread-self/schedstat", &run1, &wait1);
	other_cpus(sched_getcpu(), &busy1, &total1);
	if (kpath[0])
		schedstat(kpath, &krun1, &kwait);
	elapsed = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
	others = ((double)(wait1 - wait0) - (double)(krun1 - krun0)) / 1e9;
	printf("%llu %.6f %.6f %.4f\n", sent, elapsed, others < 0 ? 0 : others,
	       total1 > total0 ? (double)(busy1 - busy0) / (double)(total1 - total0) : 0);
	close(fd);
	return 0;
}

/* Attach a bare XDP_DROP program to IF (it stays after exit). */
static int cmd_xdpdrop(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd, ifindex = argc > 1 ? (int)if_nametoindex(argv[1]) : 0;

	if (!ifindex)
		return 2;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_drop", "GPL", insns, 2, NULL);
	if (fd < 0 || bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL)) {
		fprintf(stderr, "xnsg-bench xdpdrop: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}

/* Attach a bare TC ingress program that drops everything (it stays after exit). */
static int cmd_tcdrop(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_SHOT },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd, err, ifindex = argc > 1 ? (int)if_nametoindex(argv[1]) : 0;
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);

	if (!ifindex)
		return 2;
	hook.ifindex = ifindex;
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tc_drop", "GPL", insns, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "xnsg-bench tcdrop: load: %s\n", strerror(errno));
		return 1;
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "xnsg-bench tcdrop: %s: clsact: %s\n", argv[1], strerror(-err));
		return 1;
	}
	opts.prog_fd = fd;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		fprintf(stderr, "xnsg-bench tcdrop: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	return 0;
}

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

static long long fdinfo_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "memlock:", 8))
			v = atoll(line + 8);
	if (f)
		fclose(f);
	return v;
}

/*
 * Memory of a flow table like the datapath's (LRU hash, the ABI's key and
 * value, ENTRIES entries, preallocated as LRU maps always are): the
 * kernel's own accounting (fdinfo memlock, what bpftool shows as
 * bytes_memlock) and the growth of vmalloc and per-CPU memory while it
 * exists (a cross-check; other activity on the machine adds noise).
 */
static int cmd_ctmem(int argc, char **argv)
{
	unsigned int entries = argc > 1 ? (unsigned int)atol(argv[1]) : XNSG_CT_MAX;
	long v0 = meminfo_kb("VmallocUsed"), p0 = meminfo_kb("Percpu"), v1, p1;
	int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "bench_ct", sizeof(struct xnsg_ct_key),
				sizeof(struct xnsg_ct_val), entries, NULL);

	if (fd < 0) {
		fprintf(stderr, "xnsg-bench ctmem: %s\n", strerror(errno));
		return 1;
	}
	v1 = meminfo_kb("VmallocUsed");
	p1 = meminfo_kb("Percpu");
	printf("{\"entries\": %u, \"key_bytes\": %zu, \"value_bytes\": %zu, \"memlock_bytes\": %lld, "
	       "\"vmalloc_delta_bytes\": %ld, \"percpu_delta_bytes\": %ld}\n",
	       entries, sizeof(struct xnsg_ct_key), sizeof(struct xnsg_ct_val), fdinfo_memlock(fd),
	       (v1 - v0) * 1024, (p1 - p0) * 1024);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "xdpdrop"))
		return cmd_xdpdrop(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "classify"))
		return cmd_classify(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "genpolicy"))
		return cmd_genpolicy(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "pktgen"))
		return cmd_pktgen(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "tcdrop"))
		return cmd_tcdrop(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "ctmem"))
		return cmd_ctmem(argc - 1, argv + 1);
	fprintf(stderr, "usage: xnsg-bench classify [--quick] | genpolicy RULES [PREFIXES] DIR |"
			" pktgen IF DST_MAC SECONDS [SOURCES] | xdpdrop IF | tcdrop IF |"
			" ctmem [ENTRIES]\n");
	return 2;
}
