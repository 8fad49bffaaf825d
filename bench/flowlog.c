// SPDX-License-Identifier: MIT
/*
 * xnsg-bench flowlog [--quick] [newflow|drain|sweep|deny...]: the flow
 * logs' costs (docs/DESIGN.md §4), JSON lines on stdout (the parts named,
 * all by default), each figure measured side by side in this run.
 *
 *   newflow   the datapath's cost of a new flow with logging off and on
 *             (BPF_PROG_TEST_RUN, one distinct flow a run, the passes
 *             interleaved), and of an established flow's packet both ways
 *   drain     records/s of the exporter on one core, to JSON lines and to
 *             IPFIX: N flows' begin events put in the ring buffer first,
 *             then the time (CPU) the exporter takes to write them all;
 *             and the same with the flows created while it runs, each on
 *             its own CPU (the events lost must be 0)
 *   sweep     the exporter's CPU to walk 100,000 flows: adopting them (a B
 *             each), with nothing changed, and with every flow's counts
 *             moved (a C each)
 *   deny      a denied packet's cost with logging off and on (its tuple's
 *             entry found and counted), 256 tuples of 1,000 packets each,
 *             the two interleaved in chunks of 32 tuples
 *
 * A private, unpinned instance of the datapath (dp_open) with a policy
 * that allows everything to 10.9.1.4 on loopback (deny: one that denies
 * UDP to port 53); flows are UDP from 198.18.0.0/15 and 198.51.100.0/24
 * to 10.9.1.4:53.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "compile.h"
#include "datapath.h"
#include "diag.h"
#include "export.h"
#include "frame.h"
#include "model.h"
#include "policy.h"
#include "xnsg.skel.h"

#define MAX_PASSES 15

static const char allow_all[] =
	"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.9.0.0/16\"]},"
	"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[{\"name\":\"AllowAll\","
	"\"properties\":{\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
	"\"protocol\":\"*\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\"}}]}],"
	"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
	"\"ipAddresses\":[\"10.9.1.4\"]}]}";

static const char deny_dns[] =
	"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.9.0.0/16\"]},"
	"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[{\"name\":\"DenyDns\","
	"\"properties\":{\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Deny\","
	"\"protocol\":\"Udp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"53\"}}]}],"
	"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
	"\"ipAddresses\":[\"10.9.1.4\"]}]}";

struct bdp {
	struct dp dp;
	struct policy *p;
	struct compiled *c;
	int xdp_fd;
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "xnsg-bench flowlog: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* A private instance of max_flows entries holding policy json, loopback
 * bound as its interface eth0. */
static int bdp_open_policy(struct bdp *b, const char *json, unsigned int max_flows)
{
	struct diag_list d = { 0 };
	struct xnsg_iface_cfg cfg;
	int err = policy_parse_string(json, "bench.json", ".", &b->p, &d);

	err = err ?: compile_policy(b->p, &b->c, &d);
	diag_free(&d);
	err = err ?: dp_open(&b->dp, 0, max_flows);
	err = err ?: dp_write_gen(&b->dp, 0, b->c, NULL);
	err = err ?: dp_write_config(&b->dp, &b->p->timeouts);
	err = err ?: dp_flip(&b->dp, 0, 1);
	if (err)
		return err;
	cfg = b->c->ifaces[0].cfg;
	cfg.attach = XNSG_ATTACH_MODE_HOST;
	err = dp_iface_set(&b->dp, 0, if_nametoindex("lo"), &cfg);
	if (err)
		return err;
	b->xdp_fd = bpf_program__fd(b->dp.skel->progs.xnsg_xdp);
	return 0;
}

static int bdp_open(struct bdp *b, unsigned int max_flows)
{
	return bdp_open_policy(b, allow_all, max_flows);
}

static void bdp_close(struct bdp *b)
{
	dp_close(&b->dp);
	compiled_free(b->c);
	policy_free(b->p);
}

/* Flow i's frame: UDP from one of 2^17 + 2^16... sources, distinct for
 * every i below 2^32. */
static size_t frame_of(uint8_t *buf, uint32_t i)
{
	struct xnsg_addr s = { .family = XNSG_V4 }, d = { .family = XNSG_V4 };

	s.bytes[0] = 198;
	s.bytes[1] = (uint8_t)(18 + ((i >> 16) & 1));
	s.bytes[2] = (uint8_t)(i >> 8);
	s.bytes[3] = (uint8_t)i;
	d.bytes[0] = 10, d.bytes[1] = 9, d.bytes[2] = 1, d.bytes[3] = 4;
	return packet_for_flow(buf, 128, 17, &s, (uint16_t)(1024 + (i >> 17)), &d, 53);
}

/* One run of the XDP program on flow i's frame (repeat times): ns a run. */
static double run_flow(const struct bdp *b, uint32_t i, unsigned int repeat)
{
	uint8_t frame[128];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .repeat = repeat);

	o.data_size_in = (__u32)frame_of(frame, i);
	if (bpf_prog_test_run_opts(b->xdp_fd, &o))
		return -1;
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int drop_event(const struct xnsg_event *e, void *arg)
{
	(void)e;
	(*(unsigned long *)arg)++;
	return 0;
}

static void pin_cpu(int cpu);

/* The mean of v[0..n) without its slowest and fastest tenth: the
 * kernel's timer has a coarse grain (tens of ns here), which a median
 * would keep. */
static double trimmed_mean(double *v, int n)
{
	double sum = 0;
	int lo = n / 10, hi = n - n / 10;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (int i = lo; i < hi; i++)
		sum += v[i];
	return sum / (hi - lo);
}

#define CHUNK 128

/*
 * n new flows (the table emptied first), in chunks of CHUNK flows with
 * logging off and on in turn, so that both see the same table fill and
 * the same moments of a noisy machine: *off and *on, each one's trimmed
 * mean single-run time.
 */
static void newflow_pass(struct bdp *b, int pass, int n, double *scratch, double *off, double *on)
{
	double *t[2] = { scratch, scratch + n / 2 };
	int m[2] = { 0, 0 };

	dp_map_flush(b->dp.fd_ct4, sizeof(struct xnsg_ct4_key));
	dp_map_flush(b->dp.fd_ct6, sizeof(struct xnsg_ct_key));
	for (int c = 0; c < n / CHUNK; c++) {
		int mode = (c + pass) % 2;

		dp_fl_enable(&b->dp, mode, 0);
		for (int i = 0; i < CHUNK; i++)
			t[mode][m[mode]++] = run_flow(b, (uint32_t)(c * CHUNK + i), 1);
	}
	*off = trimmed_mean(t[0], m[0]);
	*on = trimmed_mean(t[1], m[1]);
}

static double established_pass(struct bdp *b, bool on, unsigned int repeat)
{
	dp_fl_enable(&b->dp, on, 0);
	return run_flow(b, 0, repeat);
}

static int bench_newflow(bool quick)
{
	int n = quick ? 4096 : 16384, passes = quick ? 5 : 11;
	double off[MAX_PASSES], on[MAX_PASSES], d[MAX_PASSES], eoff[MAX_PASSES], eon[MAX_PASSES];
	double *scratch = calloc((size_t)n, sizeof(double));
	unsigned long events = 0;
	struct dp_fl *fl = NULL;
	struct bdp b = { 0 };
	int err = bdp_open(&b, 65536);

	err = err ?: dp_fl_open(&b.dp, drop_event, &events, &fl);
	if (err || !scratch)
		return fail("newflow: a private datapath", err ? err : ENOMEM);
	/* One CPU for every run and every flush: the LRU's free lists are per
	 * CPU, and a flush from another CPU would make the next pass slower. */
	pin_cpu(0);
	for (int p = 0; p < passes; p++) {
		newflow_pass(&b, p, n, scratch, &off[p], &on[p]);
		d[p] = on[p] - off[p];
		dp_fl_consume(fl);
		run_flow(&b, 0, 1); /* flow 0 tracked: its packets are established */
		eoff[p] = established_pass(&b, false, 100000);
		eon[p] = established_pass(&b, true, 100000);
	}
	printf("{\"case\": \"flowlog-new-flow\", \"flows\": %d, \"passes\": %d, \"off_ns\": %.1f, "
	       "\"on_ns\": %.1f, \"cost_ns\": %.1f, \"events\": %lu, \"established_off_ns\": %.2f, "
	       "\"established_on_ns\": %.2f}\n",
	       n, passes, median(off, passes), median(on, passes), median(d, passes), events,
	       median(eoff, passes), median(eon, passes));
	fflush(stdout);
	dp_fl_close(fl);
	bdp_close(&b);
	free(scratch);
	return 0;
}

static int drop_denies(const struct xnsg_deny_key *k, const struct xnsg_deny_val *v, size_t n,
		       void *arg)
{
	(void)k, (void)v;
	*(size_t *)arg += n;
	return 0;
}

#define DENY_TUPLES 256
#define DENY_CHUNK 32
#define DENY_REPEAT 1000

/* Denied packets of DENY_TUPLES tuples, logging off and on interleaved
 * by chunks: each one's median ns a packet; the entries taken after. */
static void deny_pass(struct bdp *b, int pass, double *off, double *on, size_t *taken)
{
	double t[2][DENY_TUPLES];
	int m[2] = { 0, 0 };

	for (int c = 0; c < DENY_TUPLES / DENY_CHUNK; c++) {
		int mode = (c + pass) % 2;

		dp_fl_enable(&b->dp, mode, 0);
		for (int i = 0; i < DENY_CHUNK; i++)
			t[mode][m[mode]++] = run_flow(b, (uint32_t)(c * DENY_CHUNK + i), DENY_REPEAT);
	}
	*off = median(t[0], m[0]);
	*on = median(t[1], m[1]);
	dp_fl_denies_take(&b->dp, drop_denies, taken);
}

static int bench_deny(bool quick)
{
	int passes = quick ? 5 : 11;
	double off[MAX_PASSES], on[MAX_PASSES], d[MAX_PASSES];
	struct bdp b = { 0 };
	size_t taken = 0;
	int err = bdp_open_policy(&b, deny_dns, 65536);

	if (err)
		return fail("deny: a private datapath", err);
	pin_cpu(0);
	for (int p = 0; p < passes; p++) {
		deny_pass(&b, p, &off[p], &on[p], &taken);
		d[p] = on[p] - off[p];
	}
	printf("{\"case\": \"flowlog-deny\", \"tuples\": %d, \"repeat\": %d, \"passes\": %d, "
	       "\"off_ns\": %.1f, \"on_ns\": %.1f, \"cost_ns\": %.1f, \"entries_taken\": %zu}\n",
	       DENY_TUPLES, DENY_REPEAT, passes, median(off, passes), median(on, passes),
	       median(d, passes), taken);
	fflush(stdout);
	bdp_close(&b);
	return 0;
}

static const char *tmp_dir(void)
{
	return access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
}

/* CPU seconds of the calling thread (the exporter's: its syscalls too). */
static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Write the events waiting in the ring (probe: a second view of it, never
 * consumed): records written. */
static uint64_t drain(struct flowlog_export *x, struct dp_fl *probe)
{
	struct flowlog_export_summary s0, s1;
	unsigned long used, size;

	flowlog_export_summary(x, &s0);
	do {
		flowlog_export_run(x);
		dp_fl_ring_fill(probe, &used, &size);
	} while (used);
	flowlog_export_summary(x, &s1);
	return s1.records - s0.records;
}

struct gen {
	struct bdp *b;
	uint32_t first, n;
	double secs;
	volatile sig_atomic_t *done;
};

static void *generate(void *arg)
{
	struct gen *g = arg;
	double t0;

	if (g->done)
		pin_cpu(0);
	t0 = wall_s();
	for (uint32_t i = 0; i < g->n; i++)
		run_flow(g->b, g->first + i, 1);
	g->secs = wall_s() - t0;
	if (g->done)
		*g->done = 1;
	return NULL;
}

/* While n flows are made on CPU 0, the exporter's own loop on CPU 1. */
static void concurrent(struct bdp *b, struct flowlog_export *x, struct dp_fl *probe, uint32_t n,
		       double *gen_s, double *cpu)
{
	static volatile sig_atomic_t done;
	struct gen g = { b, n, n, 0, &done };
	pthread_t th;
	double c0;

	done = 0;
	pin_cpu(1);
	c0 = thread_cpu_s();
	pthread_create(&th, NULL, generate, &g);
	flowlog_export_loop(x, &done, NULL);
	pthread_join(th, NULL);
	drain(x, probe);
	*cpu = thread_cpu_s() - c0;
	*gen_s = g.secs;
}

/* One output: n flows' begin events in the ring first, then written
 * (records/s on one core); then n more made while it runs. */
static int drain_output(struct bdp *b, const struct flowlog_export_opts *o, const char *name,
			uint32_t n)
{
	struct flowlog_export_summary s;
	struct gen g = { b, 0, n, 0, NULL };
	struct flowlog_export *x;
	unsigned long used, size, dummy = 0;
	double c0, cpu, gen_s, ccpu;
	struct dp_fl *probe;
	uint64_t rec;
	int err;

	dp_map_flush(b->dp.fd_ct4, sizeof(struct xnsg_ct4_key));
	dp_map_flush(b->dp.fd_ct6, sizeof(struct xnsg_ct_key));
	err = flowlog_export_open(o, &x);
	err = err ?: dp_fl_open(&b->dp, drop_event, &dummy, &probe);
	if (err)
		return fail(name, err);
	generate(&g);
	dp_fl_ring_fill(probe, &used, &size);
	c0 = thread_cpu_s();
	rec = drain(x, probe);
	cpu = thread_cpu_s() - c0;
	concurrent(b, x, probe, n, &gen_s, &ccpu);
	flowlog_export_summary(x, &s);
	printf("{\"case\": \"flowlog-drain\", \"output\": \"%s\", \"records\": %llu, \"cpu_s\": %.3f, "
	       "\"records_per_s\": %.0f, \"ring_bytes\": %lu, \"ring_used_bytes\": %lu, "
	       "\"concurrent_flows\": %u, \"concurrent_flows_per_s\": %.0f, "
	       "\"concurrent_exporter_cpu_s\": %.3f, \"ring_lost\": %llu, \"failed\": %llu}\n",
	       name, (unsigned long long)rec, cpu, (double)rec / cpu, size, used, n, n / gen_s, ccpu,
	       (unsigned long long)s.ring_lost,
	       (unsigned long long)(s.noutputs ? s.out[0].s.failed : 0));
	fflush(stdout);
	dp_fl_close(probe);
	flowlog_export_close(x, NULL);
	return 0;
}

/* A UDP socket on 127.0.0.1 that the IPFIX output sends to (never read:
 * the kernel drops what overflows it, as a slow collector would). */
static int udp_sink(struct flowlog_export_opts *o)
{
	static char target[64];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -errno;
	snprintf(target, sizeof(target), "127.0.0.1:%u", ntohs(a.sin_port));
	o->ipfix = target;
	return fd;
}

static int bench_drain(bool quick)
{
	uint32_t n = quick ? 200000 : 1000000;
	char path[256], ring[32];
	struct bdp b = { 0 };
	int err, sink, rc = 0;
	struct flowlog_export_opts o = { .interval_s = 3600 };

	/* Room for every event of a run: the exporter's rate is measured,
	 * not the ring's size. */
	snprintf(ring, sizeof(ring), "%u", quick ? 64u << 20 : 256u << 20);
	setenv("XNSG_RINGBUF_BYTES", ring, 1);
	err = bdp_open(&b, 262144);
	unsetenv("XNSG_RINGBUF_BYTES");
	if (err)
		return fail("drain: a private datapath", err);
	o.dp = &b.dp;
	snprintf(path, sizeof(path), "%s/xnsg-bench-flowlog.%d.jsonl", tmp_dir(), (int)getpid());
	o.jsonl = path;
	rc |= drain_output(&b, &o, "jsonl", n);
	unlink(path);
	o.jsonl = NULL;
	sink = udp_sink(&o);
	if (sink < 0)
		return fail("drain: a UDP sink on 127.0.0.1", sink);
	rc |= drain_output(&b, &o, "ipfix", n);
	close(sink);
	bdp_close(&b);
	return rc;
}

/* The exporter's CPU for a sweep of n flows, three ways. */
static int bench_sweep(bool quick)
{
	uint32_t n = 100000;
	struct flowlog_export_opts o = { .interval_s = 3600 };
	struct flowlog_export_summary s0, s1, s2;
	double c0, adopt, idle, cont;
	struct flowlog_export *x;
	struct bdp b = { 0 };
	char path[256];
	int err = bdp_open(&b, 131072);

	(void)quick;
	if (err)
		return fail("sweep: a private datapath", err);
	for (uint32_t i = 0; i < n; i++) /* logging off: no events, the sweep logs them */
		run_flow(&b, i, 1);
	snprintf(path, sizeof(path), "%s/xnsg-bench-sweep.%d.jsonl", tmp_dir(), (int)getpid());
	o.jsonl = path;
	o.dp = &b.dp;
	c0 = thread_cpu_s();
	err = flowlog_export_open(&o, &x); /* its first sweep adopts every flow: a B each */
	adopt = thread_cpu_s() - c0;
	if (err)
		return fail("sweep: the exporter", err);
	flowlog_export_summary(x, &s0);
	c0 = thread_cpu_s();
	flowlog_export_sweep(x);
	idle = thread_cpu_s() - c0;
	flowlog_export_summary(x, &s1);
	for (uint32_t i = 0; i < n; i++) /* a packet more each: every flow's counts moved */
		run_flow(&b, i, 1);
	c0 = thread_cpu_s();
	flowlog_export_sweep(x);
	cont = thread_cpu_s() - c0;
	flowlog_export_summary(x, &s2);
	printf("{\"case\": \"flowlog-sweep\", \"flows\": %u, \"adopt_ms\": %.1f, \"adopt_records\": %llu, "
	       "\"idle_ms\": %.1f, \"idle_records\": %llu, \"cont_ms\": %.1f, \"cont_records\": %llu}\n",
	       n, adopt * 1e3, (unsigned long long)s0.records, idle * 1e3,
	       (unsigned long long)(s1.records - s0.records), cont * 1e3,
	       (unsigned long long)(s2.records - s1.records));
	fflush(stdout);
	flowlog_export_close(x, NULL);
	unlink(path);
	bdp_close(&b);
	return 0;
}

int cmd_flowlog(int argc, char **argv);

/* The part named, or every part when none is (arguments past --quick). */
static bool part(int argc, char **argv, int first, const char *name)
{
	for (int i = first; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return first >= argc;
}

int cmd_flowlog(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	int first = quick ? 2 : 1, rc = 0;

	if (part(argc, argv, first, "newflow"))
		rc |= bench_newflow(quick);
	if (part(argc, argv, first, "drain"))
		rc |= bench_drain(quick);
	if (part(argc, argv, first, "sweep"))
		rc |= bench_sweep(quick);
	if (part(argc, argv, first, "deny"))
		rc |= bench_deny(quick);
	return rc;
}
