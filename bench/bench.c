// SPDX-License-Identifier: MIT
/*
 * xnsg-bench: the measuring half of `make bench` (bench/run.sh drives it).
 *
 *   xnsg-bench classify [--quick] [stateless|stateful|family...]
 *                                      classifier ns/packet by rule count, and by
 *                                      address family and prefix count, JSON lines
 *                                      (the parts named; all by default)
 *   xnsg-bench genpolicy RULES [PREFIXES] DIR
 *                                      DIR/policy.json (+ DIR/ServiceTags.json)
 *   xnsg-bench pktgen IF DST_MAC SECONDS [SOURCES]
 *                                      64-byte UDP frames from many sources, AF_PACKET;
 *                                      prints "FRAMES SECONDS SECONDS_LOST OTHER_CPUS_BUSY";
 *                                      XNSG_BENCH_TRAFFIC=v6: IPv6 frames (66 bytes)
 *   xnsg-bench xdpdrop IF              attach a bare XDP_DROP program (the XDP floor)
 *   xnsg-bench tcdrop IF               attach a bare TC ingress drop program (the TC floor)
 *   xnsg-bench ctmem [ENTRIES]         kernel memory of a flow table of ENTRIES (JSON)
 *   xnsg-bench flowlog [--quick] [PART...]
 *                                      flow logs: new-flow cost on/off, exporter records/s,
 *                                      sweep CPU, denied packet on/off (bench/flowlog.c;
 *                                      JSON lines; the parts named, all by default)
 *
 * RULES is rules per NSG direction.  Azure's priorities (100-4096, unique
 * per NSG direction) leave room for 3,997 user rules, and every NSG also
 * holds Azure's three default rules of that direction, so RULES above
 * 3,997 means 3,997 user rules + 3 defaults (4,000 = the full table); the
 * probe packets still match only the last user rule.  The policies come
 * from the tests' generator (tests/lib/gen_policy.c, gen_bench_policy_json),
 * every frame from user/datapath/frame.c.
 *
 * genpolicy reads XNSG_BENCH_IF (interface name), XNSG_BENCH_DENY_LAST
 * (the last rule denies UDP to port 443, like the peers' drop rule) and
 * XNSG_BENCH_ONE_LEVEL (NIC NSG only), XNSG_BENCH_NEAR (every fourth
 * missing rule is a near miss: UDP from the traffic's own source prefix
 * 198.51.100.0/24 and 2001:db8:100::/64, to other ports), XNSG_BENCH_VARIANT (every
 * missing rule's port moved by one: the same policy, changed) and
 * XNSG_BENCH_IFACES=N (N interfaces XNSG_BENCH_IF0.. sharing the NSGs,
 * in a subnet 10.9.0.0/16: a container host).
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
#include <jansson.h>
#include <linux/bpf.h>
#include <linux/if_link.h>


#include "gen_policy.h"
#include "addr.h"
#include "compile.h"
#include "datapath.h"
#include "diag.h"
#include "frame.h"
#include "model.h"
#include "policy.h"
#include "xnsg/abi.h"

/*
 * The one RNG of the benchmark: the random policies and the random
 * packets draw from it in turn, so this state (the one bench/RESULTS.md
 * was measured with) fixes every one of them.
 */
static struct gen_rng rng = { 0x9e3779b97f4a7c15ULL };

/* ---- policies ------------------------------------------------------- */

static bool env_on(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0");
}

/* The interface the generated policy names: eth0, or $XNSG_BENCH_IF. */
static const char *bench_if(void)
{
	const char *s = getenv("XNSG_BENCH_IF");

	return s && *s ? s : "eth0";
}

/* A policy of `rules` rules per NSG direction (gen_policy.h), shaped as
 * the environment asks (see the top of this file). */
static char *policy_json(int rules, enum gen_shape shape, const char *tags_file)
{
	struct gen_bench_opts o = {
		.rules = rules,
		.shape = shape,
		.ifname = bench_if(),
		.tags_file = tags_file,
		.deny_last = env_on("XNSG_BENCH_DENY_LAST"),
		.variant = env_on("XNSG_BENCH_VARIANT"),
		.one_level = env_on("XNSG_BENCH_ONE_LEVEL"),
		.near = env_on("XNSG_BENCH_NEAR"),
	};

	return gen_bench_policy_json(&rng, &o);
}

/*
 * The policy's one interface made n (XNSG_BENCH_IFACES): IFn, each with
 * its own address in a subnet widened to 10.9.0.0/16.  Takes text; a new
 * text, or NULL.
 */
static char *with_ifaces(char *text, int n)
{
	json_t *p = text ? json_loads(text, 0, NULL) : NULL, *ifs = json_array(), *one;
	char *out = NULL;

	free(text);
	one = json_array_get(json_object_get(p, "interfaces"), 0);
	if (!one || n < 1 || n > 250 * 250)
		goto out;
	for (int i = 0; i < n; i++) {
		json_t *x = json_deep_copy(one);
		char name[IF_NAMESIZE], ip[32];

		snprintf(name, sizeof(name), "%s%d", bench_if(), i);
		snprintf(ip, sizeof(ip), "10.9.%d.%d", 1 + i / 250, 4 + i % 250);
		json_object_set_new(x, "name", json_string(name));
		json_object_set_new(x, "ipAddresses", json_pack("[s]", ip));
		json_array_append_new(ifs, x);
	}
	json_object_set(p, "interfaces", ifs);
	json_object_set_new(json_array_get(json_object_get(p, "subnets"), 0), "addressPrefix",
			    json_string("10.9.0.0/16"));
	out = json_dumps(p, JSON_COMPACT);
out:
	json_decref(ifs);
	json_decref(p);
	return out;
}

/* DIR/NAME holding text (NULL: out of memory); 0 or -errno. */
static int write_file(const char *dir, const char *name, char *text)
{
	char path[512];
	FILE *f;
	int err = 0;

	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		err = -errno;
	else if (fputs(text, f) < 0 || fclose(f))
		err = -EIO;
	free(text);
	return err;
}

static int cmd_genpolicy(int argc, char **argv)
{
	int rules, prefixes = 0;
	const char *dir;
	char *text;

	if (argc < 3)
		return 2;
	rules = atoi(argv[1]);
	if (argc == 4)
		prefixes = atoi(argv[2]);
	dir = argv[argc - 1];
	if (prefixes && write_file(dir, "ServiceTags.json", gen_bench_tags_json(prefixes)))
		return 1;
	text = policy_json(rules, GEN_SHAPE_LAST, prefixes ? "ServiceTags.json" : NULL);
	if (getenv("XNSG_BENCH_IFACES"))
		text = with_ifaces(text, atoi(getenv("XNSG_BENCH_IFACES")));
	return write_file(dir, "policy.json", text) ? 1 : 0;
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

/* A dotted-quad source 1-223.x.x.x at random.  The last octet is drawn
 * first: the order GCC evaluated snprintf()'s arguments in when
 * bench/RESULTS.md was measured. */
static void rand_src(char *buf, size_t len)
{
	unsigned int d = gen_u32(&rng) % 256, c = gen_u32(&rng) % 256, b = gen_u32(&rng) % 256;

	snprintf(buf, len, "%u.%u.%u.%u", 1 + gen_u32(&rng) % 223, b, c, d);
}

/* A TCP or UDP probe from src between random ports: the protocol drawn
 * first, then the ports, for the same reason as in rand_src(). */
static size_t rand_probe(uint8_t *buf, const char *src)
{
	uint8_t proto = gen_u32(&rng) % 2 ? 6 : 17;
	uint16_t dport = (uint16_t)gen_u32(&rng), sport = (uint16_t)gen_u32(&rng);

	return probe(buf, src, sport, dport, proto);
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
		const struct xnsg_prefix *p = &deep[gen_u32(&rng) % (uint32_t)ndeep]->prefix;
		uint32_t a = (uint32_t)p->bytes[0] << 24 | (uint32_t)p->bytes[1] << 16 |
			     (uint32_t)p->bytes[2] << 8 | p->bytes[3];
		char src[32];

		if (p->len < 32)
			a |= gen_u32(&rng) & (0xffffffffu >> p->len);
		snprintf(src, sizeof(src), "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
		lens[k] = rand_probe(fr[k], src);
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

static const int counts[] = { 1, 10, 100, 1000, 4000 };
enum { NCOUNTS = sizeof(counts) / sizeof(counts[0]), NSHAPES = 2 };

/* What every part of `classify` shares. */
struct classify {
	unsigned int repeat;
	int reps, nsingle, passes;
	int efd, tfd; /* the empty XDP and TC programs */
	struct dp_test *stateless, *stateful;
	uint8_t probe[1][128]; /* 203.0.113.7:40000 -> 10.9.1.4:443/tcp SYN */
	size_t probe_len[1];
	/* nsingle distinct flows and room for their timings */
	uint8_t (*many)[128];
	size_t *mlens;
	double *scratch;
};

static int classify_open(struct classify *k, bool quick)
{
	k->repeat = quick ? 20000 : 200000;
	k->reps = quick ? 3 : 9;
	k->nsingle = quick ? 4000 : 20000;
	k->passes = quick ? 3 : 5;
	k->efd = empty_prog(BPF_PROG_TYPE_XDP);
	k->tfd = empty_prog(BPF_PROG_TYPE_SCHED_CLS);
	k->stateless = dp_test_open(DP_TEST_STATELESS | DP_TEST_NO_RECORD);
	k->stateful = dp_test_open(DP_TEST_NO_RECORD);
	if (k->efd < 0 || k->tfd < 0 || !k->stateless || !k->stateful) {
		fprintf(stderr, "xnsg-bench: cannot load BPF programs (root?)\n");
		return 1;
	}
	k->many = calloc((size_t)k->nsingle, sizeof(*k->many));
	k->mlens = calloc((size_t)k->nsingle, sizeof(*k->mlens));
	k->scratch = calloc((size_t)k->nsingle, sizeof(*k->scratch));
	if (!k->many || !k->mlens || !k->scratch)
		return fail("calloc");
	return 0;
}

static void classify_close(struct classify *k)
{
	dp_test_close(k->stateless);
	dp_test_close(k->stateful);
	if (k->efd >= 0)
		close(k->efd);
	if (k->tfd >= 0)
		close(k->tfd);
	free(k->many);
	free(k->mlens);
	free(k->scratch);
}

/* The stateless part: every rule count in both shapes, and its timings. */
struct stateless {
	struct policy *pol[NCOUNTS][NSHAPES];
	struct compiled *cmp[NCOUNTS][NSHAPES];
	/* the random shape's packets, and the "deep" ones (trie_frames) */
	uint8_t rframes[NCOUNTS][16][128], dframes[NCOUNTS][16][128];
	size_t rlens[NCOUNTS][16], dlens[NCOUNTS][16];
	double t_last[NCOUNTS][MAX_REPS], t_tc[NCOUNTS][MAX_REPS], t_rand[NCOUNTS][MAX_REPS];
	double t_deep[NCOUNTS][MAX_REPS];
	double t_exdp[MAX_REPS], t_etc[MAX_REPS];
};

/* The policies compiled once, and each rule count's packets. */
static int stateless_prepare(struct stateless *s)
{
	for (int i = 0; i < NCOUNTS; i++) {
		for (int sh = 0; sh < NSHAPES; sh++) {
			char *json = policy_json(counts[i], sh ? GEN_SHAPE_RANDOM : GEN_SHAPE_LAST, NULL);
			struct diag_list d = { 0 };
			int err = json ? policy_parse_string(json, "bench.json", ".", &s->pol[i][sh], &d)
				       : -ENOMEM;

			if (!err)
				err = compile_policy(s->pol[i][sh], &s->cmp[i][sh], &d);
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

			rand_src(src, sizeof(src));
			s->rlens[i][k] = rand_probe(s->rframes[i][k], src);
		}
		memcpy(s->dframes[i], s->rframes[i], sizeof(s->dframes[i]));
		memcpy(s->dlens[i], s->rlens[i], sizeof(s->dlens[i]));
		trie_frames(s->cmp[i][1], s->dframes[i], s->dlens[i], 16);
	}
	return 0;
}

/* Bind the loaded policy's eth0 to loopback, host attach. */
static int load_compiled(struct dp_test *t, const struct policy *p, const struct compiled *c)
{
	int err = dp_test_load(t, p, c);

	return err ? err : dp_test_bind(t, if_nametoindex("lo"), 0, XNSG_ATTACH_MODE_HOST);
}

/*
 * Each repetition loads every rule count and shape in turn and times it
 * once, so that a slow spell of the machine hits one repetition of every
 * point rather than every repetition of one point.
 */
static int stateless_time(struct classify *k, struct stateless *s)
{
	unsigned int repeat = k->repeat;

	for (int r = 0; r < k->reps; r++) {
		s->t_exdp[r] = time_empty(k->efd, BPF_PROG_TYPE_XDP, k->probe[0], k->probe_len[0],
					  repeat, 1);
		s->t_etc[r] = time_empty(k->tfd, BPF_PROG_TYPE_SCHED_CLS, k->probe[0],
					 k->probe_len[0], repeat, 1);
		for (int i = 0; i < NCOUNTS; i++) {
			if (load_compiled(k->stateless, s->pol[i][0], s->cmp[i][0]))
				return fail("loading the last-rule policy");
			s->t_last[i][r] = time_frames(k->stateless, DP_PROG_XDP, k->probe, k->probe_len,
						      1, repeat, 1);
			s->t_tc[i][r] = time_frames(k->stateless, DP_PROG_TC_INGRESS, k->probe,
						    k->probe_len, 1, repeat, 1);
			if (load_compiled(k->stateless, s->pol[i][1], s->cmp[i][1]))
				return fail("loading the random policy");
			s->t_rand[i][r] = time_frames(k->stateless, DP_PROG_XDP, s->rframes[i],
						      s->rlens[i], 16, repeat / 16 + 1, 1);
			s->t_deep[i][r] = time_frames(k->stateless, DP_PROG_XDP, s->dframes[i],
						      s->dlens[i], 16, repeat / 16 + 1, 1);
			if (s->t_last[i][r] < 0 || s->t_tc[i][r] < 0 || s->t_rand[i][r] < 0 ||
			    s->t_deep[i][r] < 0)
				return fail("a test run");
		}
	}
	return 0;
}

static void stateless_print(const struct classify *k, struct stateless *s)
{
	printf("{\"case\": \"empty-xdp\", \"ns\": %.2f}\n", median_of(s->t_exdp, k->reps));
	printf("{\"case\": \"empty-tc\", \"ns\": %.2f}\n", median_of(s->t_etc, k->reps));
	for (int i = 0; i < NCOUNTS; i++) {
		printf("{\"case\": \"new-flow-last-rule\", \"rules\": %d, \"user_rules\": %d, "
		       "\"ns\": %.2f}\n", counts[i], gen_user_rules(counts[i]),
		       median_of(s->t_last[i], k->reps));
		printf("{\"case\": \"new-flow-last-rule-tc\", \"rules\": %d, \"ns\": %.2f}\n", counts[i],
		       median_of(s->t_tc[i], k->reps));
		printf("{\"case\": \"new-flow-random\", \"rules\": %d, \"ns\": %.2f}\n", counts[i],
		       median_of(s->t_rand[i], k->reps));
		printf("{\"case\": \"new-flow-random-deep\", \"rules\": %d, \"ns\": %.2f}\n", counts[i],
		       median_of(s->t_deep[i], k->reps));
	}
	fflush(stdout);
}

static void stateless_free(struct stateless *s)
{
	for (int i = 0; i < NCOUNTS; i++)
		for (int sh = 0; sh < NSHAPES; sh++) {
			compiled_free(s->cmp[i][sh]);
			policy_free(s->pol[i][sh]);
		}
}

/* Stateless classification: the policies are compiled once, then timed. */
static int classify_stateless(struct classify *k)
{
	static struct stateless s;
	int err;

	memset(&s, 0, sizeof(s));
	err = stateless_prepare(&s);
	if (!err) {
		k->probe_len[0] = probe(k->probe[0], "203.0.113.7", 40000, 443, 6);
		err = stateless_time(k, &s);
	}
	if (!err)
		stateless_print(k, &s);
	stateless_free(&s);
	return err;
}

/* The policy of one stateful point, loaded into both instances. */
struct stateful {
	struct policy *p, *p2;
	struct compiled *c, *c2;
};

/*
 * `passes` passes of the single-shot runs over the distinct flows, the
 * flow table flushed before each: new flows through the stateful instance
 * (lookup miss + classification + insert), the same frames again
 * (established), through the stateless instance (classification alone)
 * and through the empty program.  per[] is what the rule counters say was
 * classified per packet.
 */
static int stateful_passes(struct classify *k, const struct stateful *st,
			   struct single (*acc)[MAX_REPS], double (*per)[MAX_REPS])
{
	for (int r = 0; r < k->passes && r < MAX_REPS; r++) {
		unsigned long long c0;

		dp_test_flush_flows(k->stateful);
		c0 = classified(k->stateful, st->c);
		if (single_shot(k->stateful, -1, 0, k->many, k->mlens, k->nsingle, k->scratch,
				&acc[0][r]))
			return fail("single-shot new flows");
		per[0][r] = (double)(classified(k->stateful, st->c) - c0) / k->nsingle;
		c0 = classified(k->stateful, st->c);
		if (single_shot(k->stateful, -1, 0, k->many, k->mlens, k->nsingle, k->scratch,
				&acc[1][r]))
			return fail("single-shot established");
		per[1][r] = (double)(classified(k->stateful, st->c) - c0) / k->nsingle;
		c0 = classified(k->stateless, st->c2);
		if (single_shot(k->stateless, -1, 0, k->many, k->mlens, k->nsingle, k->scratch,
				&acc[2][r]))
			return fail("single-shot stateless");
		per[2][r] = (double)(classified(k->stateless, st->c2) - c0) / k->nsingle;
		if (single_shot(NULL, k->efd, BPF_PROG_TYPE_XDP, k->many, k->mlens, k->nsingle,
				k->scratch, &acc[3][r]))
			return fail("single-shot empty");
		per[3][r] = -1;
	}
	return 0;
}

/* Medians over the passes of each single-shot figure. */
static void stateful_print(const struct classify *k, int n, struct single (*acc)[MAX_REPS],
			   double (*per)[MAX_REPS])
{
	static const char *const names[] = { "new-flow-ct", "established", "new-flow-last-rule",
					     "empty-xdp" };
	int np = k->passes < MAX_REPS ? k->passes : MAX_REPS;
	double v[MAX_REPS];
	struct single s;

	for (int i = 0; i < 4; i++) {
		for (int r = 0; r < np; r++)
			v[r] = acc[i][r].median;
		s.median = median_of(v, np);
		for (int r = 0; r < np; r++)
			v[r] = acc[i][r].mean;
		s.mean = median_of(v, np);
		print_single(names[i], n, &s, per[i][0]);
	}
	fflush(stdout);
}

/*
 * With flow tracking, at n rules.  repeat: established, the same tracked
 * flow again and again; then the single-shot passes (stateful_passes).
 */
static int classify_stateful(struct classify *k, int n)
{
	struct stateful st = { 0 };
	char *json = policy_json(n, GEN_SHAPE_LAST, NULL);
	struct single acc[4][MAX_REPS];
	double per[4][MAX_REPS], ns;
	int ret, err = 0;

	if (!json || load(k->stateful, json, &st.p, &st.c) || load(k->stateless, json, &st.p2, &st.c2))
		err = fail("loading the stateful policy");
	if (!err) {
		dp_test_flush_flows(k->stateful);
		k->probe_len[0] = probe(k->probe[0], "203.0.113.7", 40000, 443, 6);
		dp_test_run(k->stateful, DP_PROG_XDP, k->probe[0], k->probe_len[0], &ret, NULL);
		ns = time_frames(k->stateful, DP_PROG_XDP, k->probe, k->probe_len, 1, k->repeat,
				 k->reps);
		printf("{\"case\": \"established\", \"rules\": %d, \"ns\": %.2f}\n", n, ns);
		err = stateful_passes(k, &st, acc, per);
	}
	if (!err)
		stateful_print(k, n, acc, per);
	dp_test_flush_flows(k->stateful);
	compiled_free(st.c);
	policy_free(st.p);
	compiled_free(st.c2);
	policy_free(st.p2);
	free(json);
	return err;
}

/*
 * Addresses by family: one rule allowing TCP from a tag of n random
 * prefixes (IPv4 /16-/32, IPv6 /32-/128, as the tests' 100k-prefix tag),
 * probed by TCP packets from inside them (host bits random): the address
 * lookup's cost as prefixes grow, IPv6 against IPv4.  An RNG of its own,
 * so the other parts' policies and packets stay those of bench/RESULTS.md.
 */
static const int fam_counts[] = { 1, 1000, 4000 };
enum { NFAM = sizeof(fam_counts) / sizeof(fam_counts[0]) };

struct by_family {
	struct policy *p[NFAM][2];
	struct compiled *c[NFAM][2];
	uint8_t frames[NFAM][2][16][128];
	size_t lens[NFAM][2][16];
	double t[NFAM][2][MAX_REPS], empty[MAX_REPS];
};

/* Prefix k of the tag: random bytes, family fam (0: IPv4, 1: IPv6). */
static void fam_prefix(struct gen_rng *r, int fam, struct xnsg_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = fam ? XNSG_V6 : XNSG_V4;
	for (int b = 0; b < 16; b++)
		p->bytes[b] = (uint8_t)gen_below(r, 256);
	p->bytes[0] = fam ? (uint8_t)(0x20 + gen_below(r, 32)) : (uint8_t)(1 + gen_below(r, 223));
	p->len = (uint8_t)(fam ? 32 + gen_below(r, 97) : 16 + gen_below(r, 17));
	prefix_mask(p);
}

/* The policy of n prefixes of family fam, and its 16 probe frames. */
static int fam_prepare(struct by_family *b, struct gen_rng *r, int i, int fam)
{
	struct xnsg_prefix *pf = calloc((size_t)fam_counts[i], sizeof(*pf));
	char *txt = NULL, s[XNSG_PREFIX_STRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&txt, &len);
	struct diag_list d = { 0 };
	struct xnsg_addr dst;
	int err;

	fprintf(f, "{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.9.0.0/16\","
		"\"fd00:9::/48\"]},\"serviceTags\":{\"Big\":[");
	for (int k = 0; k < fam_counts[i]; k++) {
		fam_prefix(r, fam, &pf[k]);
		fprintf(f, "%s\"%s\"", k ? "," : "", prefix_fmt(&pf[k], s, sizeof(s)));
	}
	fprintf(f, "]},\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[{\"name\":"
		"\"big\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
		"\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"Big\",\"sourcePortRange\":\"*\","
		"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\"}]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"10.9.1.4\",\"fd00:9::4\"]}]}");
	fclose(f);
	err = policy_parse_string(txt, "bench.json", ".", &b->p[i][fam], &d);
	if (!err)
		err = compile_policy(b->p[i][fam], &b->c[i][fam], &d);
	if (err)
		diag_print(stderr, "bench.json", &d);
	diag_free(&d);
	addr_parse(fam ? "fd00:9::4" : "10.9.1.4", &dst);
	for (int k = 0; k < 16 && !err; k++) {
		const struct xnsg_prefix *p = &pf[gen_below(r, (uint32_t)fam_counts[i])];
		struct xnsg_addr src = { .family = p->family };
		int bits = fam ? 128 : 32;

		for (int j = 0; j < bits; j++) /* random host bits */
			if (j >= p->len ? gen_below(r, 2) : p->bytes[j / 8] & (0x80u >> (j % 8)))
				src.bytes[j / 8] |= (uint8_t)(0x80u >> (j % 8));
		b->lens[i][fam][k] = packet_for_flow(b->frames[i][fam][k], 128, 6, &src,
						     (uint16_t)(1024 + gen_below(r, 60000)), &dst, 443);
	}
	free(pf);
	free(txt);
	return err;
}

static int classify_family(struct classify *k)
{
	static struct by_family b;
	struct gen_rng r = { 0x6a09e667f3bcc908ULL };
	int err = 0;

	memset(&b, 0, sizeof(b));
	for (int i = 0; i < NFAM && !err; i++)
		for (int fam = 0; fam < 2 && !err; fam++)
			err = fam_prepare(&b, &r, i, fam);
	for (int rep = 0; rep < k->reps && !err; rep++) {
		b.empty[rep] = time_empty(k->efd, BPF_PROG_TYPE_XDP, b.frames[0][1][0],
					  b.lens[0][1][0], k->repeat, 1);
		for (int i = 0; i < NFAM && !err; i++)
			for (int fam = 0; fam < 2 && !err; fam++) {
				err = load_compiled(k->stateless, b.p[i][fam], b.c[i][fam]);
				b.t[i][fam][rep] = err ? -1 : time_frames(k->stateless, DP_PROG_XDP,
						 b.frames[i][fam], b.lens[i][fam], 16, k->repeat / 16 + 1, 1);
				err = err || b.t[i][fam][rep] < 0;
			}
	}
	if (!err) {
		printf("{\"case\": \"empty-xdp-ipv6\", \"ns\": %.2f}\n", median_of(b.empty, k->reps));
		for (int i = 0; i < NFAM; i++)
			for (int fam = 0; fam < 2; fam++)
				printf("{\"case\": \"new-flow-prefixes\", \"family\": \"ipv%d\", "
				       "\"prefixes\": %d, \"ns\": %.2f}\n", fam ? 6 : 4, fam_counts[i],
				       median_of(b.t[i][fam], k->reps));
	}
	for (int i = 0; i < NFAM; i++)
		for (int fam = 0; fam < 2; fam++) {
			compiled_free(b.c[i][fam]);
			policy_free(b.p[i][fam]);
		}
	return err ? fail("the by-family part") : 0;
}

/* `classify [--quick] [PART...]`: whether PART (stateless, stateful,
 * family) runs; every part when none is named. */
static bool part_on(int argc, char **argv, const char *part)
{
	bool named = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], part))
			return true;
		named = named || strcmp(argv[i], "--quick");
	}
	return !named;
}

static int cmd_classify(int argc, char **argv)
{
	struct classify k = { .efd = -1, .tfd = -1 };
	bool quick = false;
	int err;

	for (int i = 1; i < argc; i++)
		quick = quick || !strcmp(argv[i], "--quick");
	err = classify_open(&k, quick);
	if (!err) {
		printf("{\"case\": \"params\", \"repeat\": %u, \"reps\": %d, \"single_flows\": %d, "
		       "\"single_passes\": %d, \"max_user_rules\": %d}\n",
		       k.repeat, k.reps, k.nsingle, k.passes, GEN_MAX_USER_RULES);
		if (k.reps > MAX_REPS)
			k.reps = MAX_REPS;
		if (part_on(argc, argv, "stateless"))
			err = classify_stateless(&k);
	}
	if (!err && part_on(argc, argv, "stateful")) {
		/* every frame a distinct TCP SYN 5-tuple the last rule allows */
		distinct_flows(k.many, k.mlens, k.nsingle);
		err = classify_stateful(&k, 1);
		if (!err)
			err = classify_stateful(&k, 4000);
	}
	if (!err && part_on(argc, argv, "family"))
		err = classify_family(&k);
	classify_close(&k);
	return err;
}

/* ---- packet generator ----------------------------------------------- */

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

enum { PKTGEN_FRAMES = 256, PKTGEN_FRAME = 64, PKTGEN_BATCH = 64 };

/*
 * 64-byte frames on the wire (60 + the FCS): UDP/IPv4 to 10.9.1.4:443
 * from source port 10000+i and 198.51.100.(i % sources), IP
 * identification 0 (the frames the published figures were taken with).
 * With v6, the smallest UDP/IPv6 frames (62 + the FCS): to
 * [fd00:9:1::4]:443 from 2001:db8:100::(i % sources).  Returns the frame
 * length, or -EINVAL.
 */
static int pktgen_frames(uint8_t (*frames)[PKTGEN_FRAME], unsigned int sources,
			 const uint8_t mac[6], bool v6)
{
	struct xnsg_addr src = { .family = XNSG_V4, .bytes = { 198, 51, 100 } };
	struct xnsg_addr dst = { .family = XNSG_V4, .bytes = { 10, 9, 1, 4 } };
	size_t want = v6 ? 62 : 60;

	if (v6) {
		src = (struct xnsg_addr){ .family = XNSG_V6,
					  .bytes = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00 } };
		dst = (struct xnsg_addr){ .family = XNSG_V6, .bytes = { 0xfd, 0x00, 0x00, 0x09,
									  0x00, 0x01, [15] = 4 } };
	}
	for (unsigned int i = 0; i < PKTGEN_FRAMES; i++) {
		struct frame f;

		src.bytes[v6 ? 15 : 3] = (uint8_t)(i % sources);
		frame_init(&f, frames[i], PKTGEN_FRAME);
		frame_ip(&f, &src, &dst, 17);
		frame_udp(&f, (uint16_t)(10000 + i), 443);
		if (!v6) {
			frame_payload(&f, 18, 0);
			frame_ip4_frag(&f, 0, 0, 0); /* identification 0, not a fragment */
		}
		frame_dst_mac(&f, mac);
		if (f.err || f.len != want)
			return -EINVAL;
	}
	return (int)want;
}

/* An AF_PACKET socket on ifname that bypasses the qdisc, or -1 (said why). */
static int pktgen_socket(const char *ifname)
{
	struct sockaddr_ll ll = { 0 };
	int fd, one = 1;

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("xnsg-bench pktgen: socket");
		return -1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = (int)if_nametoindex(ifname);
	ll.sll_halen = 6;
	if (!ll.sll_ifindex || bind(fd, (struct sockaddr *)&ll, sizeof(ll))) {
		fprintf(stderr, "xnsg-bench pktgen: %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* What disturbed the run: see pktgen_send(). */
struct disturb {
	unsigned long long run, wait, krun, kwait, busy, total;
};

/* Read nested around the timed loop: this thread's own figure innermost. */
static void disturb_begin(const char *kpath, struct disturb *d)
{
	d->krun = 0;
	if (kpath[0])
		schedstat(kpath, &d->krun, &d->kwait);
	other_cpus(sched_getcpu(), &d->busy, &d->total);
	schedstat("/proc/thread-self/schedstat", &d->run, &d->wait);
}

static void disturb_end(const char *kpath, struct disturb *d)
{
	schedstat("/proc/thread-self/schedstat", &d->run, &d->wait);
	other_cpus(sched_getcpu(), &d->busy, &d->total);
	d->krun = 0;
	if (kpath[0])
		schedstat(kpath, &d->krun, &d->kwait);
}

/*
 * Send the frames round-robin with sendmmsg for `seconds`; print frames
 * sent, seconds elapsed, seconds other tasks held its CPU while it
 * waited, and the busy share of the other CPUs.  Was the run disturbed?
 * Time this thread waited for its CPU while others ran there, less what
 * ksoftirqd of that CPU ran (our own receive work, deferred), and how
 * busy the other CPUs were.
 */
static void pktgen_send(int fd, uint8_t (*frames)[PKTGEN_FRAME], size_t len, int seconds)
{
	struct mmsghdr msgs[PKTGEN_BATCH];
	struct iovec iov[PKTGEN_BATCH];
	unsigned long long sent = 0;
	struct disturb d0, d1;
	struct timespec start, now;
	char kpath[64];
	double elapsed, others;

	memset(msgs, 0, sizeof(msgs));
	ksoftirqd_path(sched_getcpu(), kpath, sizeof(kpath));
	disturb_begin(kpath, &d0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned int b = 0;; b++) {
		int n;

		for (int i = 0; i < PKTGEN_BATCH; i++) {
			iov[i].iov_base = frames[(b * PKTGEN_BATCH + (unsigned int)i) % PKTGEN_FRAMES];
			iov[i].iov_len = len;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(fd, msgs, PKTGEN_BATCH, 0);
		if (n > 0)
			sent += (unsigned long long)n;
		if ((b & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
				break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	disturb_end(kpath, &d1);
	elapsed = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
	others = ((double)(d1.wait - d0.wait) - (double)(d1.krun - d0.krun)) / 1e9;
	printf("%llu %.6f %.6f %.4f\n", sent, elapsed, others < 0 ? 0 : others,
	       d1.total > d0.total ? (double)(d1.busy - d0.busy) / (double)(d1.total - d0.total) : 0);
}

/* 64-byte UDP frames from SOURCES addresses, AF_PACKET, for SECONDS. */
static int cmd_pktgen(int argc, char **argv)
{
	static uint8_t frames[PKTGEN_FRAMES][PKTGEN_FRAME];
	unsigned int m[6], sources;
	const char *traffic = getenv("XNSG_BENCH_TRAFFIC");
	uint8_t mac[6];
	int fd, seconds, len;

	if (argc < 4 || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
			       &m[5]) != 6)
		return 2;
	for (int k = 0; k < 6; k++)
		mac[k] = (uint8_t)m[k];
	seconds = atoi(argv[3]);
	sources = argc > 4 ? (unsigned int)atoi(argv[4]) : 256;
	if (sources < 1 || sources > 256)
		sources = 256;
	if (seconds < 1 || seconds > 60) {
		fprintf(stderr, "xnsg-bench pktgen: SECONDS is 1 to 60\n");
		return 2;
	}
	fd = pktgen_socket(argv[1]);
	if (fd < 0)
		return 1;
	len = pktgen_frames(frames, sources, mac, traffic && !strcmp(traffic, "v6"));
	if (len < 0) {
		fprintf(stderr, "xnsg-bench pktgen: cannot build the frames\n");
		close(fd);
		return 1;
	}
	pktgen_send(fd, frames, (size_t)len, seconds);
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

/* One table of the flow state as the kernel accounts it (fdinfo memlock). */
struct ctmem_table {
	const char *name;
	enum bpf_map_type type;
	__u32 flags;
	size_t key, value;
};

/* The exporter's positions are not preallocated: what N stored flows add
 * over the empty map (its buckets) is their cost. */
static void ctmem_pos(const struct ctmem_table *t, unsigned int entries, unsigned int stored)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = t->flags);
	int fd = bpf_map_create(t->type, t->name, (__u32)t->key, (__u32)t->value, entries, &mo);
	long long empty, full;
	char key[64] = { 0 }, val[64] = { 0 };

	if (fd < 0) {
		printf("{\"name\": \"%s\", \"failed\": \"%s\"}", t->name, strerror(errno));
		return;
	}
	empty = fdinfo_memlock(fd);
	for (unsigned int i = 0; i < stored; i++) {
		memcpy(key, &i, sizeof(i));
		bpf_map_update_elem(fd, key, val, BPF_ANY);
	}
	full = fdinfo_memlock(fd);
	printf("{\"name\": \"%s\", \"key_bytes\": %zu, \"value_bytes\": %zu, \"entries\": %u, "
	       "\"empty_memlock_bytes\": %lld, \"stored\": %u, \"memlock_bytes\": %lld, "
	       "\"bytes_per_stored_flow\": %.1f}",
	       t->name, t->key, t->value, entries, empty, stored, full,
	       (double)(full - empty) / stored);
	close(fd);
}

/* A preallocated table of entries: its memlock; the vmalloc and per-CPU
 * growth while it exists into *vm, *pc. */
static long long ctmem_lru(const struct ctmem_table *t, unsigned int entries, long *vm, long *pc)
{
	long v0 = meminfo_kb("VmallocUsed"), p0 = meminfo_kb("Percpu");
	int fd = bpf_map_create(t->type, t->name, (__u32)t->key, (__u32)t->value, entries, NULL);
	long long ml;

	if (fd < 0)
		return -errno;
	*vm = (meminfo_kb("VmallocUsed") - v0) * 1024;
	*pc = (meminfo_kb("Percpu") - p0) * 1024;
	ml = fdinfo_memlock(fd);
	close(fd);
	printf("{\"name\": \"%s\", \"key_bytes\": %zu, \"value_bytes\": %zu, \"entries\": %u, "
	       "\"memlock_bytes\": %lld, \"bytes_per_flow\": %.1f}, ",
	       t->name, t->key, t->value, entries, ml, (double)ml / entries);
	return ml;
}

/*
 * Memory of the flow state like the datapath's for ENTRIES (--max-flows):
 * each table of the flow table (LRU hashes, the ABI's keys and value,
 * preallocated as LRU maps always are; IPv4 ENTRIES, IPv6 a quarter) by
 * the kernel's own accounting (fdinfo memlock, what bpftool shows as
 * bytes_memlock) and the growth of vmalloc and per-CPU memory while the
 * IPv4 one exists (a cross-check; other activity on the machine adds
 * noise); then the flow-log exporter's positions (xnsg_fl_pos), per flow
 * that has one.  The top-level fields are the IPv4 table's.
 */
static int cmd_ctmem(int argc, char **argv)
{
	unsigned int entries = argc > 1 ? (unsigned int)atol(argv[1]) : XNSG_CT_MAX;
	static const struct ctmem_table ct4 = { XNSG_MAP_CT4, BPF_MAP_TYPE_LRU_HASH, 0,
						sizeof(struct xnsg_ct4_key),
						sizeof(struct xnsg_ct_val) };
	static const struct ctmem_table ct6 = { XNSG_MAP_CT6, BPF_MAP_TYPE_LRU_HASH, 0,
						sizeof(struct xnsg_ct_key),
						sizeof(struct xnsg_ct_val) };
	static const struct ctmem_table pos = { XNSG_MAP_FL_POS, BPF_MAP_TYPE_HASH,
						BPF_F_NO_PREALLOC, sizeof(struct xnsg_ct_key),
						sizeof(struct xnsg_fl_pos) };
	long vm = 0, pc = 0, vm6, pc6;
	long long ml, ml6;

	printf("{\"tables\": [");
	ml = ctmem_lru(&ct4, entries, &vm, &pc);
	ml6 = ctmem_lru(&ct6, XNSG_CT6_MAX(entries), &vm6, &pc6);
	if (ml < 0 || ml6 < 0) {
		fprintf(stderr, "xnsg-bench ctmem: %s\n", strerror((int)-(ml < 0 ? ml : ml6)));
		return 1;
	}
	ctmem_pos(&pos, entries, entries < 65536 ? entries : 65536); /* as ringbuf.c's pos_size() */
	printf("], \"entries\": %u, \"key_bytes\": %zu, \"value_bytes\": %zu, \"memlock_bytes\": %lld, "
	       "\"vmalloc_delta_bytes\": %ld, \"percpu_delta_bytes\": %ld}\n",
	       entries, ct4.key, ct4.value, ml, vm, pc);
	return 0;
}

int cmd_flowlog(int argc, char **argv); /* bench/flowlog.c */

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
	if (argc >= 2 && !strcmp(argv[1], "flowlog"))
		return cmd_flowlog(argc - 1, argv + 1);
	fprintf(stderr, "usage: xnsg-bench classify [--quick] [stateless|stateful|family...] | genpolicy RULES [PREFIXES] DIR |"
			" pktgen IF DST_MAC SECONDS [SOURCES] | xdpdrop IF | tcdrop IF |"
			" ctmem [ENTRIES] | flowlog [--quick]\n");
	return 2;
}

