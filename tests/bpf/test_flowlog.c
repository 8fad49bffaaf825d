// SPDX-License-Identifier: MIT
/*
 * Flow-log events (bpf/flowlog.h, docs/DESIGN.md §4) through the real
 * datapath with BPF_PROG_TEST_RUN, read back through user/datapath/
 * ringbuf.c as the exporter reads them: a begin event for a new allowed
 * flow carrying each level's rule slot, an end event when TCP closes by
 * FIN both ways or RST and when a packet finds the flow idle, nothing on
 * an established flow's packets, nothing at all with logging off; denied
 * packets aggregated per 5-tuple under the per-CPU rate limit, every one
 * either in an entry or counted suppressed; a full ring buffer counted;
 * xnsg_fl_commit changing only what it is asked to.  Then the exporter
 * itself (user/flowlog/export.h) on a private instance: one B and one E
 * per flow, counts exact, D for the denied tuple.  Needs root.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf_env.h"
#include "datapath.h"
#include "export.h"
#include "pkt.h"
#include "xnsg/abi.h"

/* Two levels: the subnet's NSG allows web and denies telnet, the NIC's
 * allows web and denies UDP 9 in and SMTP out; the defaults allow the VNet and deny the
 * Internet.  Short timeouts so that one sleep expires a flow. */
static const char policy_json[] =
	"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/32\"]},"
	"\"networkSecurityGroups\":["
	"{\"name\":\"subnet-nsg\",\"securityRules\":["
	"{\"name\":\"AllowWebIn\",\"properties\":{\"priority\":100,\"direction\":\"Inbound\","
	"\"access\":\"Allow\",\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"80\"}},"
	"{\"name\":\"DenyTelnet\",\"properties\":{\"priority\":110,\"direction\":\"Inbound\","
	"\"access\":\"Deny\",\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"23\"}}]},"
	"{\"name\":\"nic-nsg\",\"securityRules\":["
	"{\"name\":\"AllowWebNic\",\"properties\":{\"priority\":100,\"direction\":\"Inbound\","
	"\"access\":\"Allow\",\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"80\"}},"
	"{\"name\":\"DenyUdp9\",\"properties\":{\"priority\":110,\"direction\":\"Inbound\","
	"\"access\":\"Deny\",\"protocol\":\"Udp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"9\"}},"
	"{\"name\":\"DenySmtpOut\",\"properties\":{\"priority\":120,\"direction\":\"Outbound\","
	"\"access\":\"Deny\",\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"25\"}}]}],"
	"\"subnets\":[{\"name\":\"web\",\"addressPrefixes\":[\"10.1.1.0/24\",\"fd00:1:1::/64\"],"
	"\"networkSecurityGroup\":\"subnet-nsg\"}],"
	"\"interfaces\":[{\"name\":\"eth0\",\"subnet\":\"web\",\"networkSecurityGroup\":\"nic-nsg\","
	"\"ipAddresses\":[\"10.1.1.4\",\"fd00:1:1::4\"]}],"
	"\"flowTimeouts\":{\"tcpTransitory\":1,\"udp\":1,\"other\":1}}";

struct fam {
	int v;
	const char *l, *r, *vnet; /* the workload, a peer on the Internet, one in the VNet */
};
static const struct fam fam4 = { 4, "10.1.1.4", "198.51.100.7", "10.1.2.5" };
static const struct fam fam6 = { 6, "fd00:1:1::4", "2001:db8::7", "fd00:1:2::5" };

#define MAX_EVENTS 512

/* A private datapath with logging on and its ring buffer, read as the
 * exporter reads it. */
struct env {
	struct bpf_env b;
	struct dp *dp;
	struct dp_fl *fl;
	struct xnsg_event ev[MAX_EVENTS];
	int nev;
};

static int collect(const struct xnsg_event *e, void *arg)
{
	struct env *x = arg;

	if (x->nev < MAX_EVENTS)
		x->ev[x->nev++] = *e;
	return 0;
}

static void env_open(struct env *x, unsigned int deny_rate)
{
	memset(x, 0, sizeof(*x));
	bpf_env_open(&x->b, policy_json, "test_flowlog.json", "eth0", 0);
	x->dp = dp_test_dp(x->b.t);
	cr_assert_eq(dp_fl_open(x->dp, collect, x, &x->fl), 0, "the ring buffer opens");
	cr_assert_eq(dp_fl_enable(x->dp, true, deny_rate), 0, "logging turns on");
}

static void env_close(struct env *x)
{
	dp_fl_close(x->fl);
	bpf_env_close(&x->b);
}

/* Consume what waits; the events collected since the last call. */
static int events(struct env *x)
{
	x->nev = 0;
	cr_assert_geq(dp_fl_consume(x->fl), 0, "the ring buffer is read");
	return x->nev;
}

/* Inbound (XDP) from src:sport to the workload:dport, or outbound (TC
 * egress) from the workload:sport to dst:dport; the program's verdict. */
static int tcp_in(struct env *x, const struct fam *f, const char *src, uint16_t sport,
		  uint16_t dport, uint8_t flags)
{
	struct pkt p;
	int ret;

	f->v == 4 ? pkt_tcp4(&p, src, f->l, sport, dport, flags)
		  : pkt_tcp6(&p, src, f->l, sport, dport, flags);
	cr_assert_eq(dp_test_run(x->b.t, DP_PROG_XDP, p.buf, p.len, &ret, NULL), 0, "runs");
	return ret == XDP_PASS;
}

static int tcp_out(struct env *x, const struct fam *f, const char *dst, uint16_t sport,
		   uint16_t dport, uint8_t flags)
{
	struct pkt p;
	int ret;

	f->v == 4 ? pkt_tcp4(&p, f->l, dst, sport, dport, flags)
		  : pkt_tcp6(&p, f->l, dst, sport, dport, flags);
	cr_assert_eq(dp_test_run(x->b.t, DP_PROG_TC_EGRESS, p.buf, p.len, &ret, NULL), 0, "runs");
	return ret == 0; /* TC_ACT_OK */
}

static int udp_in(struct env *x, const struct fam *f, const char *src, uint16_t sport,
		  uint16_t dport, size_t *len)
{
	struct pkt p;
	int ret;

	f->v == 4 ? pkt_udp4(&p, src, f->l, sport, dport) : pkt_udp6(&p, src, f->l, sport, dport);
	cr_assert_eq(dp_test_run(x->b.t, DP_PROG_XDP, p.buf, p.len, &ret, NULL), 0, "runs");
	if (len)
		*len = p.len - 14; /* the L3 length the datapath counts */
	return ret == XDP_PASS;
}

/* The counter slot of NSG's rule (Inbound), as the compiler numbered it. */
static __u32 slot_of(const struct env *x, const char *nsg, const char *rule)
{
	const struct compiled *c = x->b.c;

	for (size_t t = 0; t < c->ntables; t++) {
		const struct compiled_table *ct = &c->tables[t];

		if (strcmp(x->b.p->nsgs[ct->nsg].name, nsg) || ct->dir != XNSG_IN)
			continue;
		for (__u32 i = 0; i < ct->nrules; i++)
			if (!strcmp(ct->rules[i]->name, rule))
				return ct->desc.rule_base + i;
	}
	cr_assert_fail("no rule %s/%s", nsg, rule);
	return ~0U;
}

static struct xnsg_fl_cpu cpu_sum(struct env *x)
{
	struct xnsg_fl_cpu c;

	cr_assert_eq(dp_fl_cpu_sum(x->dp, &c), 0, "xnsg_fl_cpu reads");
	return c;
}

/* ---- begin and end -------------------------------------------------- */

static void begin_names_each_level(const struct fam *f)
{
	struct env x;
	struct xnsg_event *e;

	env_open(&x, 0);
	cr_assert(tcp_in(&x, f, f->r, 40000, 80, PKT_SYN), "the SYN is allowed");
	cr_assert_eq(events(&x), 1, "a new allowed flow: one event (got %d)", x.nev);
	e = &x.ev[0];
	cr_expect_eq(e->type, XNSG_EV_BEGIN, "a begin event");
	cr_expect_eq(e->v.slot[0], slot_of(&x, "subnet-nsg", "AllowWebIn"),
		     "level 0 (the subnet's NSG, Inbound): AllowWebIn's slot (got %u)", e->v.slot[0]);
	cr_expect_eq(e->v.slot[1], slot_of(&x, "nic-nsg", "AllowWebNic"),
		     "level 1 (the NIC's NSG): AllowWebNic's slot (got %u)", e->v.slot[1]);
	cr_expect_eq(e->v.dir, XNSG_DIR_IN, "Inbound");
	cr_expect(e->v.log & XNSG_LOG_B_SENT, "the entry says its B was sent");
	cr_expect_eq(e->k.port_a == 40000 ? e->k.port_b : e->k.port_a, 80, "the flow's ports");
	cr_expect_eq(e->v.packets[0], 1ULL, "the first packet counted");
	/* The handshake's other packets: an established flow, no event. */
	cr_assert(tcp_out(&x, f, f->r, 80, 40000, PKT_SYN | PKT_ACK), "the SYN-ACK passes");
	cr_assert(tcp_in(&x, f, f->r, 40000, 80, PKT_ACK), "the ACK passes");
	for (int i = 0; i < 20; i++)
		tcp_in(&x, f, f->r, 40000, 80, PKT_ACK | PKT_PSH);
	cr_expect_eq(events(&x), 0, "packets of a tracked flow send no event (got %d)", x.nev);
	/* Logging off: a new flow sends nothing, and its entry has no B_SENT. */
	dp_fl_enable(x.dp, false, 0);
	cr_assert(tcp_in(&x, f, f->r, 40001, 80, PKT_SYN), "the SYN is allowed");
	cr_expect_eq(events(&x), 0, "logging off: no event (got %d)", x.nev);
	env_close(&x);
}

Test(flowlog, begin_names_each_level_v4) { begin_names_each_level(&fam4); }
Test(flowlog, begin_names_each_level_v6) { begin_names_each_level(&fam6); }

static void end_by_fin_and_rst(const struct fam *f)
{
	struct env x;
	__u32 created;

	env_open(&x, 0);
	tcp_in(&x, f, f->r, 40010, 80, PKT_SYN);
	tcp_out(&x, f, f->r, 80, 40010, PKT_SYN | PKT_ACK);
	tcp_in(&x, f, f->r, 40010, 80, PKT_ACK);
	tcp_in(&x, f, f->r, 40010, 80, PKT_FIN | PKT_ACK);
	cr_expect_eq(events(&x), 1, "a FIN one way: only the begin (got %d)", x.nev);
	tcp_out(&x, f, f->r, 80, 40010, PKT_FIN | PKT_ACK);
	cr_assert_eq(events(&x), 1, "FIN both ways: the end (got %d)", x.nev);
	cr_expect_eq(x.ev[0].type, XNSG_EV_END, "an end event");
	cr_expect_eq(x.ev[0].why, XNSG_END_FIN, "by FIN (got %u)", x.ev[0].why);
	cr_expect_eq(x.ev[0].v.packets[0] + x.ev[0].v.packets[1], 5ULL,
		     "its counts: five packets so far");
	tcp_in(&x, f, f->r, 40010, 80, PKT_ACK);
	tcp_out(&x, f, f->r, 80, 40010, PKT_FIN | PKT_ACK); /* a retransmitted FIN */
	cr_expect_eq(events(&x), 0, "one end only (got %d)", x.nev);
	/* A reset. */
	tcp_in(&x, f, f->r, 40011, 80, PKT_SYN);
	tcp_out(&x, f, f->r, 80, 40011, PKT_RST | PKT_ACK);
	cr_assert_eq(events(&x), 2, "begin, then end (got %d)", x.nev);
	cr_expect_eq(x.ev[1].type, XNSG_EV_END, "an end event");
	cr_expect_eq(x.ev[1].why, XNSG_END_RST, "by RST (got %u)", x.ev[1].why);
	created = x.ev[0].v.created;
	/* The 4-tuple used again: a new flow, its begin. */
	tcp_in(&x, f, f->r, 40011, 80, PKT_SYN);
	cr_assert_eq(events(&x), 1, "a SYN on the closed 4-tuple: a begin (got %d)", x.nev);
	cr_expect_eq(x.ev[0].type, XNSG_EV_BEGIN, "a begin event");
	/* Within one tick of the coarse clock, as here: still another flow's. */
	cr_expect_gt((__s32)(x.ev[0].v.created - created), 0, "the new flow's created is later");
	cr_expect(x.ev[0].v.packets[0] == 1 && x.ev[0].v.packets[1] == 0 &&
		  x.ev[0].v.bytes[1] == 0,
		  "the new flow counts from its SYN, not the old one's two packets");
	env_close(&x);
}

Test(flowlog, end_by_fin_and_rst_v4) { end_by_fin_and_rst(&fam4); }
Test(flowlog, end_by_fin_and_rst_v6) { end_by_fin_and_rst(&fam6); }

Test(flowlog, end_when_a_packet_finds_it_idle)
{
	struct env x;

	env_open(&x, 0);
	cr_assert(udp_in(&x, &fam4, fam4.vnet, 5000, 53, NULL), "UDP from the VNet is allowed");
	cr_assert_eq(events(&x), 1, "a begin");
	usleep(1300 * 1000); /* past the 1 s UDP timeout */
	udp_in(&x, &fam4, fam4.vnet, 5000, 53, NULL);
	cr_assert_eq(events(&x), 2, "the old flow's end, the new one's begin (got %d)", x.nev);
	cr_expect_eq(x.ev[0].type, XNSG_EV_END, "first the end");
	cr_expect_eq(x.ev[0].why, XNSG_END_TIMEOUT, "by timeout (got %u)", x.ev[0].why);
	cr_expect_eq(x.ev[1].type, XNSG_EV_BEGIN, "then the begin");
	env_close(&x);
}

/* ---- deny ----------------------------------------------------------- */

struct denies {
	struct xnsg_deny_key k[64];
	struct xnsg_deny_val v[64];
	size_t n;
};

static int take(const struct xnsg_deny_key *k, const struct xnsg_deny_val *v, size_t n, void *arg)
{
	struct denies *d = arg;

	for (size_t i = 0; i < n && d->n < 64; i++, d->n++) {
		d->k[d->n] = k[i];
		d->v[d->n] = v[i];
	}
	return 0;
}

static void deny_aggregated(const struct fam *f)
{
	struct denies d = { .n = 0 };
	size_t len = 0;
	struct env x;

	env_open(&x, 0);
	for (int i = 0; i < 100; i++)
		cr_assert(!tcp_in(&x, f, f->r, 41000, 23, PKT_SYN), "telnet is denied");
	for (int i = 0; i < 30; i++)
		cr_assert(!udp_in(&x, f, f->vnet, 41001, 9, &len), "UDP 9 is denied");
	cr_expect_eq(events(&x), 0, "denied packets send no event");
	cr_assert_eq(dp_fl_denies_take(x.dp, take, &d), 0, "the deny entries are taken");
	cr_assert_eq(d.n, 2, "two denied tuples, two entries (got %zu)", d.n);
	for (size_t i = 0; i < d.n; i++) {
		bool telnet = d.k[i].dport == 23;

		cr_expect_eq(d.v[i].packets, telnet ? 100ULL : 30ULL, "the tuple's packets");
		cr_expect_eq(d.v[i].slot, telnet ? slot_of(&x, "subnet-nsg", "DenyTelnet")
						 : slot_of(&x, "nic-nsg", "DenyUdp9"),
			     "the denying level's rule: %s (slot %u)", telnet ? "the subnet's" : "the NIC's",
			     d.v[i].slot);
		cr_expect_eq(d.k[i].sport, telnet ? 41000 : 41001, "as sent: the source port");
		cr_expect_eq(d.k[i].dir, XNSG_DIR_IN, "Inbound");
		if (!telnet)
			cr_expect_eq(d.v[i].bytes, 30ULL * len, "bytes: 30 x %zu", len);
	}
	d.n = 0;
	dp_fl_denies_take(x.dp, take, &d);
	cr_expect_eq(d.n, 0, "taken means gone");
	env_close(&x);
}

Test(flowlog, deny_aggregated_per_tuple_v4) { deny_aggregated(&fam4); }
Test(flowlog, deny_aggregated_per_tuple_v6) { deny_aggregated(&fam6); }

/* Entries in a hash map (without taking them). */
static size_t entries(int fd, size_t ksize)
{
	unsigned char k[64], next[64];
	size_t n = 0;

	cr_assert_leq(ksize, sizeof(k), "key fits");
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, next); prev = k, n++)
		memcpy(k, next, ksize);
	return n;
}

/* The address s as a deny key holds it: 4 or 16 bytes, the rest 0. */
static void key_addr(const struct fam *f, const char *s, unsigned char a[16])
{
	memset(a, 0, 16);
	cr_assert_eq(inet_pton(f->v == 4 ? AF_INET : AF_INET6, s, a), 1, "%s parses", s);
}

/*
 * Every field of a denied tuple's key, as sent, from a sender on either
 * side of the flow key (its address below the workload's: side a; above:
 * side b), inbound and outbound, and the tuple in its family's map: an IPv4 one in
 * xnsg_denies4 (20-byte key), an IPv6 one in xnsg_denies.
 */
static void deny_key_exact(const struct fam *f, const char *lo, const char *hi)
{
	const char *src[2] = { lo, hi };
	struct denies d = { .n = 0 };
	unsigned char want[16], got[16];
	struct xnsg_fl_cpu c0, c1;
	struct env x;

	env_open(&x, 0);
	c0 = cpu_sum(&x);
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < 3 + s; i++)
			cr_assert(!tcp_in(&x, f, src[s], (uint16_t)(41010 + s), 23, PKT_SYN),
				  "telnet from %s is denied", src[s]);
		cr_assert(!tcp_out(&x, f, src[s], (uint16_t)(41020 + s), 25, PKT_SYN),
			  "SMTP to %s is denied", src[s]);
	}
	c1 = cpu_sum(&x);
	cr_expect_eq(entries(x.dp->fd_denies4, sizeof(struct xnsg_deny4_key)), f->v == 4 ? 4U : 0U,
		     "IPv4 tuples in xnsg_denies4, only they");
	cr_expect_eq(entries(x.dp->fd_denies, sizeof(struct xnsg_deny_key)), f->v == 6 ? 4U : 0U,
		     "IPv6 tuples in xnsg_denies, only they");
	cr_assert_eq(dp_fl_denies_take(x.dp, take, &d), 0, "the deny entries are taken");
	cr_assert_eq(d.n, 4, "four tuples (got %zu)", d.n);
	cr_expect_eq(c1.deny_tuples - c0.deny_tuples, 4ULL, "four tuples counted");
	cr_expect_eq(c1.deny_suppressed, c0.deny_suppressed, "none suppressed");
	for (size_t i = 0; i < d.n; i++) {
		const struct xnsg_deny_key *k = &d.k[i];
		int s = k->dport == 25 ? k->sport == 41021 : k->sport == 41011;

		if (k->dport == 25) { /* outbound: from the workload */
			cr_expect(k->sport == 41020 || k->sport == 41021, "source port as sent (%u)", k->sport);
			key_addr(f, f->l, want);
			memcpy(got, k->src, 16);
			cr_expect(!memcmp(got, want, 16), "source the workload %s", f->l);
			key_addr(f, src[s], want);
			memcpy(got, k->dst, 16);
			cr_expect(!memcmp(got, want, 16), "destination %s as sent", src[s]);
			cr_expect_eq(k->dir, XNSG_DIR_OUT, "Outbound");
			cr_expect_eq(k->family, f->v, "family %d (got %u)", f->v, k->family);
			cr_expect_eq(k->proto, 6, "TCP");
			cr_expect_eq(d.v[i].packets, 1ULL, "one packet");
			cr_expect_neq(d.v[i].slot, ~0U, "a rule's slot");
			continue;
		}

		cr_expect(k->sport == 41010 || k->sport == 41011, "source port as sent (%u)", k->sport);
		cr_expect_eq(k->dport, 23, "destination port as sent (%u)", k->dport);
		key_addr(f, src[s], want);
		memcpy(got, k->src, 16);
		cr_expect(!memcmp(got, want, 16), "source %s as sent", src[s]);
		key_addr(f, f->l, want);
		memcpy(got, k->dst, 16);
		cr_expect(!memcmp(got, want, 16), "destination the workload %s", f->l);
		cr_expect_eq(k->family, f->v, "family %d (got %u)", f->v, k->family);
		cr_expect_eq(k->proto, 6, "TCP");
		cr_expect_eq(k->dir, XNSG_DIR_IN, "Inbound");
		cr_expect_eq(k->ifindex, x.b.lo, "the interface's ifindex (got %u)", k->ifindex);
		cr_expect_eq(k->pad, 0, "pad 0");
		cr_expect_eq(d.v[i].packets, 3ULL + (unsigned)s, "from %s: %d packets (got %llu)", src[s],
			     3 + s, (unsigned long long)d.v[i].packets);
		cr_expect_eq(d.v[i].slot, slot_of(&x, "subnet-nsg", "DenyTelnet"), "the denying rule");
	}
	env_close(&x);
}

Test(flowlog, deny_key_exact_either_side_v4) { deny_key_exact(&fam4, "10.1.0.9", "198.51.100.7"); }
Test(flowlog, deny_key_exact_either_side_v6) { deny_key_exact(&fam6, "2001:db8::7", "fd00:1:2::5"); }

/* Both families' tuples in one take, each counted once. */
Test(flowlog, deny_both_families_taken)
{
	struct denies d = { .n = 0 };
	struct xnsg_fl_cpu c0, c1;
	int v4 = 0, v6 = 0;
	struct env x;

	env_open(&x, 0);
	c0 = cpu_sum(&x);
	for (int i = 0; i < 5; i++) {
		tcp_in(&x, &fam4, fam4.r, (uint16_t)(43000 + i), 23, PKT_SYN);
		tcp_in(&x, &fam6, fam6.r, (uint16_t)(43100 + i), 23, PKT_SYN);
		tcp_in(&x, &fam6, fam6.r, (uint16_t)(43100 + i), 23, PKT_SYN);
	}
	c1 = cpu_sum(&x);
	cr_assert_eq(dp_fl_denies_take(x.dp, take, &d), 0, "the deny entries are taken");
	for (size_t i = 0; i < d.n; i++) {
		v4 += d.k[i].family == 4 && d.v[i].packets == 1;
		v6 += d.k[i].family == 6 && d.v[i].packets == 2;
	}
	cr_expect_eq(d.n, 10, "ten tuples (got %zu)", d.n);
	cr_expect(v4 == 5 && v6 == 5, "five of each family, counts exact (%d, %d)", v4, v6);
	cr_expect_eq(c1.deny_tuples - c0.deny_tuples, (unsigned long long)d.n, "each counted once");
	d.n = 0;
	dp_fl_denies_take(x.dp, take, &d);
	cr_expect_eq(d.n, 0, "taken means gone, both maps");
	env_close(&x);
}

Test(flowlog, deny_rate_limited_and_counted)
{
	struct denies d = { .n = 0 };
	struct xnsg_fl_cpu c0, c1;
	struct env x;
	int n = 60;

	env_open(&x, 10); /* 10 new tuples a second, a second's worth at once */
	c0 = cpu_sum(&x);
	for (int i = 0; i < n; i++)
		tcp_in(&x, &fam4, fam4.r, (uint16_t)(42000 + i), 23, PKT_SYN);
	c1 = cpu_sum(&x);
	dp_fl_denies_take(x.dp, take, &d);
	cr_expect_leq(d.n, 12, "the rate limit admitted about a second's worth (%zu)", d.n);
	cr_expect_geq(d.n, 10, "the rate limit admitted about a second's worth (%zu)", d.n);
	cr_expect_eq(d.n + (c1.deny_suppressed - c0.deny_suppressed), (size_t)n,
		     "every denied packet is in an entry or counted suppressed (%zu + %llu != %d)",
		     d.n, (unsigned long long)(c1.deny_suppressed - c0.deny_suppressed), n);
	cr_expect_eq(c1.deny_tuples - c0.deny_tuples, d.n, "tuples recorded counted");
	env_close(&x);
}

/* ---- a full ring buffer --------------------------------------------- */

static enum dp_ct_action count_unsent(const struct xnsg_ct_key *k, struct xnsg_ct_val *v,
				       void *arg)
{
	(void)k;
	*(int *)arg += !(v->log & XNSG_LOG_B_SENT);
	return DP_CT_KEEP;
}

Test(flowlog, full_ring_buffer_counted)
{
	struct xnsg_fl_cpu c0, c1;
	struct env x;
	int n = 100, sent, unsent = 0;

	setenv("XNSG_RINGBUF_BYTES", "4096", 1);
	env_open(&x, 0);
	unsetenv("XNSG_RINGBUF_BYTES");
	c0 = cpu_sum(&x);
	for (int i = 0; i < n; i++)
		cr_assert(udp_in(&x, &fam4, fam4.vnet, (uint16_t)(43000 + i), 53, NULL), "allowed");
	c1 = cpu_sum(&x);
	sent = events(&x);
	cr_expect_lt(sent, n, "a 4 KiB ring buffer holds fewer than %d events (%d)", n, sent);
	cr_expect_eq(sent + (int)(c1.lost_begin - c0.lost_begin), n,
		     "events sent + counted lost = flows created (%d + %llu != %d)", sent,
		     (unsigned long long)(c1.lost_begin - c0.lost_begin), n);
	dp_ct_walk(x.dp, count_unsent, &unsent, NULL);
	cr_expect_eq(unsent, n - sent, "the flows whose event was lost say so (%d)", unsent);
	env_close(&x);
}

/* ---- xnsg_fl_commit ------------------------------------------------- */

static struct xnsg_fl_op op_for(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v,
				unsigned int what)
{
	struct xnsg_fl_op o;

	memset(&o, 0, sizeof(o));
	o.k = *k;
	o.op = what;
	o.created = v->created;
	return o;
}

Test(flowlog, commit_changes_only_what_it_is_asked)
{
	struct xnsg_ct_val v, w;
	struct xnsg_fl_op o[2];
	struct xnsg_ct_key k;
	struct env x;

	env_open(&x, 0);
	udp_in(&x, &fam4, fam4.vnet, 44000, 53, NULL);
	cr_assert_eq(events(&x), 1, "a begin");
	k = x.ev[0].k;
	cr_assert_eq(dp_fl_ct_lookup(x.dp, &k, &v), 0, "the entry is there");
	o[0] = op_for(&k, &v, XNSG_FL_COMMIT);
	o[0].log_set = XNSG_LOG_E_DONE;
	o[1] = op_for(&k, &v, XNSG_FL_COMMIT);
	o[1].created = v.created + 1; /* another flow's */
	o[1].log_set = XNSG_LOG_B_DONE;
	cr_assert_eq(dp_fl_ops(x.fl, o, 2), 0, "the operations run");
	cr_expect_eq(o[0].result, 1U, "the commit is done");
	cr_expect_eq(o[1].result, 0U, "a commit for another flow on the key is refused");
	cr_assert_eq(dp_fl_ct_lookup(x.dp, &k, &w), 0, "the entry is there");
	cr_expect_eq(w.log, XNSG_LOG_B_SENT | XNSG_LOG_E_DONE, "log bits or-ed (got %#x)", w.log);
	cr_expect(w.packets[0] == v.packets[0] && w.bytes[0] == v.bytes[0] &&
		  w.last == v.last && w.state == v.state && w.flags == v.flags &&
			  w.dir == v.dir && w.init_a == v.init_a && w.gen == v.gen &&
			  w.slot[0] == v.slot[0] && w.slot[1] == v.slot[1],
		  "nothing else changed");
	o[0] = op_for(&k, &v, XNSG_FL_EXPIRE);
	dp_fl_ops(x.fl, o, 1);
	cr_expect_eq(o[0].result, 0U, "a flow not idle is not removed");
	cr_expect_eq(dp_fl_ct_lookup(x.dp, &k, &w), 0, "and stays");
	usleep(1300 * 1000);
	o[0] = op_for(&k, &v, XNSG_FL_EXPIRE);
	dp_fl_ops(x.fl, o, 1);
	cr_expect_eq(o[0].result, 1U, "an idle flow is removed");
	cr_expect_eq(o[0].v.packets[0], v.packets[0], "with its last counts handed back");
	cr_expect_neq(dp_fl_ct_lookup(x.dp, &k, &w), 0, "and is gone");
	env_close(&x);
}

/* ---- the exporter on a private instance ----------------------------- */

struct recs {
	int b, c, e, d;
	long long s2d, d2s, d_pkts; /* the TCP flow's sums; the denied tuple's packets */
	const char *end_reason;
	char reason[16];
};

static void read_jsonl(const char *path, struct recs *r)
{
	char line[2048];
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "%s opens", path);
	memset(r, 0, sizeof(*r));
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *st;

		cr_assert_not_null(j, "a JSON line: %s", line);
		st = json_string_value(json_object_get(j, "state"));
		if (json_integer_value(json_object_get(j, "dport")) == 23 && !strcmp(st, "D")) {
			r->d++;
			r->d_pkts += json_integer_value(json_object_get(j, "pkts_s2d"));
		} else if (json_integer_value(json_object_get(j, "dport")) == 80) {
			r->b += !strcmp(st, "B");
			r->c += !strcmp(st, "C");
			r->e += !strcmp(st, "E");
			r->s2d += json_integer_value(json_object_get(j, "pkts_s2d"));
			r->d2s += json_integer_value(json_object_get(j, "pkts_d2s"));
			if (!strcmp(st, "E"))
				snprintf(r->reason, sizeof(r->reason), "%s",
					 json_string_value(json_object_get(j, "end_reason")));
		}
		json_decref(j);
	}
	fclose(f);
}

Test(flowlog, exporter_writes_one_begin_one_end_and_the_denies)
{
	char path[] = "/tmp/xnsg-test-flowlog-XXXXXX";
	struct flowlog_export_opts o = { .jsonl = path, .interval_s = 1 };
	struct flowlog_export_summary s;
	struct flowlog_export *fx;
	struct env x;
	struct recs r;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0, "a temporary file");
	close(fd);
	memset(&x, 0, sizeof(x));
	bpf_env_open(&x.b, policy_json, "test_flowlog.json", "eth0", 0);
	o.dp = dp_test_dp(x.b.t);
	cr_assert_eq(flowlog_export_open(&o, &fx), 0, "the exporter opens on the private instance");
	tcp_in(&x, &fam4, fam4.r, 45000, 80, PKT_SYN);
	tcp_out(&x, &fam4, fam4.r, 80, 45000, PKT_SYN | PKT_ACK);
	tcp_in(&x, &fam4, fam4.r, 45000, 80, PKT_ACK);
	tcp_in(&x, &fam4, fam4.r, 45000, 80, PKT_ACK | PKT_PSH);
	tcp_out(&x, &fam4, fam4.r, 80, 45000, PKT_ACK);
	tcp_in(&x, &fam4, fam4.r, 45000, 80, PKT_FIN | PKT_ACK);
	tcp_out(&x, &fam4, fam4.r, 80, 45000, PKT_FIN | PKT_ACK);
	tcp_in(&x, &fam4, fam4.r, 45000, 80, PKT_ACK); /* after the end event */
	for (int i = 0; i < 3; i++)
		tcp_in(&x, &fam4, fam4.r, 45001, 23, PKT_SYN);
	cr_assert_eq(flowlog_export_run(fx), 0, "the exporter runs");
	usleep(1100 * 1000); /* the end's grace, and the interval */
	cr_assert_eq(flowlog_export_run(fx), 0, "the exporter runs");
	cr_assert_eq(flowlog_export_close(fx, &s), 0, "the exporter closes cleanly");
	read_jsonl(path, &r);
	unlink(path);
	cr_expect_eq(r.b, 1, "one B (got %d)", r.b);
	cr_expect_eq(r.e, 1, "one E (got %d)", r.e);
	cr_expect_eq(r.c, 0, "no C for a flow that ended before a sweep (got %d)", r.c);
	cr_expect_str_eq(r.reason, "fin", "it ended by FIN");
	cr_expect_eq(r.s2d, 5, "the records count the initiator's 5 packets, the last ACK too");
	cr_expect_eq(r.d2s, 3, "and the responder's 3");
	cr_expect_eq(r.d, 1, "one D for the denied tuple (got %d)", r.d);
	cr_expect_eq(r.d_pkts, 3, "counting its 3 packets");
	cr_expect_eq(s.ring_lost, 0ULL, "nothing lost");
	cr_expect_eq(s.out[0].s.exported, s.records, "every record exported");
	bpf_env_close(&x.b);
}
