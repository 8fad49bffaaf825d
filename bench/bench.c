// SPDX-License-Identifier: MIT
/*
 * xnsg-bench: the measuring half of `make bench` (bench/run.sh drives it).
 *
 *   xnsg-bench classify [--quick]      classifier ns/packet by rule count, JSON lines
 *   xnsg-bench genpolicy RULES [PREFIXES] DIR
 *                                      DIR/policy.json (+ DIR/ServiceTags.json)
 *   xnsg-bench pktgen IF DST_MAC SECONDS [SOURCES]
 *                                      64-byte UDP frames from many sources, AF_PACKET
 *   xnsg-bench xdpdrop IF              attach a bare XDP_DROP program (the floor)
 *
 * genpolicy reads XNSG_BENCH_IF (interface name), XNSG_BENCH_DENY_LAST
 * (the last rule denies, like the peers' drop rule) and
 * XNSG_BENCH_ONE_LEVEL (NIC NSG only).
 *
 * Every figure is measured side by side in one run; run.sh repeats and
 * takes medians.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "compile.h"
#include "datapath.h"
#include "model.h"
#include "xnsg/abi.h"

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
 * random overlapping prefixes, port ranges and protocols.
 */
static bool env_on(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0");
}

static void write_rules(FILE *f, const char *nsg, int rules, const char *shape, int tag_rule)
{
	/* Side by side with filters that drop on their last rule. */
	const char *last_access = env_on("XNSG_BENCH_DENY_LAST") ? "Deny" : "Allow";

	fprintf(f, "{\"name\": \"%s\", \"securityRules\": [\n", nsg);
	for (int i = 0; i < rules; i++) {
		bool last = i == rules - 1;
		char src[64], dport[32];
		const char *proto = "Tcp";

		if (!strcmp(shape, "last")) {
			/* Misses: sources in 198.18.0.0/15, never the probe's. */
			snprintf(src, sizeof(src), "\"198.%u.%u.%u/%u\"", 18 + (i >> 16 & 1), i >> 8 & 255,
				 i & 255, 32);
			snprintf(dport, sizeof(dport), "%u", 1000 + (unsigned int)i % 60000);
			if (last) {
				snprintf(src, sizeof(src), "\"*\"");
				snprintf(dport, sizeof(dport), "443");
				proto = "*";
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

/* Median over `reps` timings of `repeat` runs of each frame. */
static double time_frames(struct dp_test *t, uint8_t (*frames)[128], size_t *lens, int nframes,
			  unsigned int repeat, int reps)
{
	double med[16], sum;

	for (int r = 0; r < reps && r < 16; r++) {
		sum = 0;
		for (int i = 0; i < nframes; i++) {
			double ns = 0;

			if (dp_test_time(t, DP_PROG_XDP, frames[i], lens[i], repeat, &ns))
				return -1;
			sum += ns;
		}
		med[r] = sum / nframes;
	}
	qsort(med, (size_t)reps, sizeof(double), cmp_double);
	return med[reps / 2];
}

static int empty_xdp(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "empty_xdp", "GPL", insns, 2, NULL);
}

static double time_empty(int fd, uint8_t *frame, size_t len, unsigned int repeat, int reps)
{
	double v[16];

	for (int r = 0; r < reps && r < 16; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
			    .repeat = repeat);
		bpf_prog_test_run_opts(fd, &o);
		v[r] = o.duration;
	}
	qsort(v, (size_t)reps, sizeof(double), cmp_double);
	return v[reps / 2];
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

static int cmd_classify(int argc, char **argv)
{
	static const int counts[] = { 1, 10, 100, 1000, 4000 };
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	unsigned int repeat = quick ? 20000 : 200000;
	int reps = quick ? 3 : 7, efd = empty_xdp();
	struct dp_test *stateless = dp_test_open(DP_TEST_STATELESS | DP_TEST_NO_RECORD);
	struct dp_test *stateful = dp_test_open(DP_TEST_NO_RECORD);
	uint8_t frames[16][128];
	size_t lens[16];
	double floor_ns;

	if (efd < 0 || !stateless || !stateful) {
		fprintf(stderr, "xnsg-bench: cannot load BPF programs (root?)\n");
		return 1;
	}
	lens[0] = probe(frames[0], "203.0.113.7", 40000, 443, 6);
	floor_ns = time_empty(efd, frames[0], lens[0], repeat, reps);
	printf("{\"case\": \"empty-xdp\", \"ns\": %.2f}\n", floor_ns);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct policy *p = NULL;
		struct compiled *c = NULL;
		char *json = policy_json(counts[i], "last", NULL);
		double ns;

		if (load(stateless, json, &p, &c))
			return 1;
		lens[0] = probe(frames[0], "203.0.113.7", 40000, 443, 6);
		ns = time_frames(stateless, frames, lens, 1, repeat, reps);
		printf("{\"case\": \"new-flow-last-rule\", \"rules\": %d, \"ns\": %.2f}\n", counts[i], ns);
		compiled_free(c);
		policy_free(p);
		free(json);

		json = policy_json(counts[i], "random", NULL);
		if (load(stateless, json, &p, &c))
			return 1;
		for (int k = 0; k < 16; k++) {
			char src[32];

			snprintf(src, sizeof(src), "%u.%u.%u.%u", 1 + rnd32() % 223, rnd32() % 256,
				 rnd32() % 256, rnd32() % 256);
			lens[k] = probe(frames[k], src, (uint16_t)rnd32(), (uint16_t)rnd32(),
					rnd32() % 2 ? 6 : 17);
		}
		ns = time_frames(stateless, frames, lens, 16, repeat / 16 + 1, reps);
		printf("{\"case\": \"new-flow-random\", \"rules\": %d, \"ns\": %.2f}\n", counts[i], ns);
		compiled_free(c);
		policy_free(p);
		free(json);
	}
	/* Established: the second and later packets of an allowed flow. */
	{
		struct policy *p = NULL;
		struct compiled *c = NULL;
		char *json = policy_json(4000, "last", NULL);
		int ret;
		double ns;

		if (load(stateful, json, &p, &c))
			return 1;
		lens[0] = probe(frames[0], "203.0.113.7", 40000, 443, 6);
		dp_test_run(stateful, DP_PROG_XDP, frames[0], lens[0], &ret, NULL);
		ns = time_frames(stateful, frames, lens, 1, repeat, reps);
		printf("{\"case\": \"established\", \"rules\": 4000, \"ns\": %.2f}\n", ns);
		compiled_free(c);
		policy_free(p);
		free(json);
	}
	dp_test_close(stateless);
	dp_test_close(stateful);
	close(efd);
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

/*
 * 64-byte UDP/IPv4 frames to 10.9.1.4:443 from SOURCES addresses in
 * 198.51.100.0/24 and ports, sent with sendmmsg on an AF_PACKET socket
 * that bypasses the qdisc, for SECONDS.  Prints frames sent.
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
	unsigned long long sent = 0;
	struct timespec start, now;

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
	printf("%llu\n", sent);
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
	fprintf(stderr, "usage: xnsg-bench classify [--quick] | genpolicy RULES [PREFIXES] DIR |"
			" pktgen IF DST_MAC SECONDS [SOURCES] | xdpdrop IF\n");
	return 2;
}
