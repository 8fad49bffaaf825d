// SPDX-License-Identifier: MIT
/*
 * Flow state (bpf/conntrack.h, docs/DESIGN.md §2 "State") through the real
 * datapath with BPF_PROG_TEST_RUN.  The policy allows only outbound
 * traffic: the NSG has no rules of its own, so AllowInternetOutBound lets
 * the workload's packets out and DenyAllInBound stops everything the peer
 * starts.  Outbound packets run through TC egress, inbound ones through
 * XDP, both on loopback bound as the interface (attach host) - as on a
 * real NIC.  Each step states how the packet must fare: allowed by a rule,
 * passed by flow state, passed as an ICMP error about a tracked flow,
 * passed as a later fragment of an allowed datagram, or dropped (by a
 * rule, or as an orphan fragment), and the drop counter must agree.
 * Timeouts are 1 s where a test lets flows expire (sleeps of 1.3 s in
 * all).  Needs root.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpf_env.h"
#include "compile.h"
#include "datapath.h"
#include "apply.h"
#include "model.h"
#include "pkt.h"
#include "policy.h"
#include "xnsg/abi.h"

/* Outbound only (eth1 has no NSG at all: not filtered); short idle timeouts except for established TCP and a
 * UDP stream, so one sleep separates the states that expire from those
 * that must not. */
static const char policy_json[] =
	"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]},"
	"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[]}],"
	"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
	"\"ipAddresses\":[\"192.0.2.10\",\"2001:db8::10\"]},"
	"{\"name\":\"eth1\",\"ipAddresses\":[\"192.0.2.11\"]}],"
	"\"flowTimeouts\":{\"tcpEstablished\":60,\"tcpTransitory\":1,\"udp\":1,"
	"\"udpStream\":60,\"other\":1}}";

/* The workload (local), a peer on the Internet, a router between them,
 * a third host on the Internet, another host behind the interface. */
struct fam {
	int v;
	const char *l, *r, *rt, *x, *o;
};

static const struct fam fam4 = { 4, "192.0.2.10", "198.51.100.7", "203.0.113.1", "203.0.113.66",
				 "192.0.2.99" };
static const struct fam fam6 = { 6, "2001:db8::10", "2001:db8:1::7", "2001:db8:ffff::1",
				 "2001:db8:66::1", "2001:db8::99" };

/* Tests NAME_v4 and NAME_v6: scenario fn(env, family) on a fresh datapath
 * loaded with policy_json, once per family. */
#define FAMILY_TEST(name, fn, fam)                                                           \
	Test(conntrack, name)                                                                \
	{                                                                                    \
		struct bpf_env e;                                                            \
                                                                                             \
		bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);             \
		fn(&e, &fam);                                                                \
		bpf_env_close(&e);                                                           \
	}
#define BOTH_FAMILIES(name, fn) FAMILY_TEST(name##_v4, fn, fam4) FAMILY_TEST(name##_v6, fn, fam6)

enum way { IN, OUT };

/* The instance's flow table (both maps) as a struct dp whose other fds
 * are -1, for dp_ct_walk(). */
static struct dp ct_dp(const struct bpf_env *e)
{
	struct dp dp;

	memset(&dp, 0xff, sizeof(dp));
	dp.skel = NULL;
	dp.fd_ct4 = dp_test_map_fd(e->t, XNSG_MAP_CT4);
	dp.fd_ct6 = dp_test_map_fd(e->t, XNSG_MAP_CT6);
	cr_assert(dp.fd_ct4 >= 0 && dp.fd_ct6 >= 0, "the instance's flow tables");
	return dp;
}

static enum dp_ct_action count_one(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	(void)k;
	(void)v;
	(*(size_t *)arg)++;
	return DP_CT_KEEP;
}

static size_t ct_entries(const struct bpf_env *e)
{
	struct dp dp = ct_dp(e);
	size_t n = 0;

	dp_ct_walk(&dp, count_one, &n, NULL);
	return n;
}

static enum dp_ct_action cut_one(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	uint16_t port = *(const uint16_t *)arg;

	if (k->port_a != port && k->port_b != port)
		return DP_CT_KEEP;
	v->flags |= XNSG_CTF_DENIED;
	return DP_CT_UPDATE;
}

/* A flow-table counter (enum xnsg_ct_stat) summed over CPUs. */
static unsigned long long ct_stat(const struct bpf_env *e, unsigned int which)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long per[ncpu > 0 ? ncpu : 1], sum = 0;

	cr_assert_gt(ncpu, 0, "CPUs counted");
	cr_assert_eq(bpf_map_lookup_elem(dp_test_map_fd(e->t, XNSG_MAP_CT_STATS),
					 &which, per),
		     0, "xnsg_ct_stats[%u] reads", which);
	for (int c = 0; c < ncpu; c++)
		sum += per[c];
	return sum;
}

/* Cut the flows with an end on `port` as `apply --reset-flows` cuts those
 * the new policy denies (user/cmd_flows.c): mark them, in place. */
static void cut_flows(const struct bpf_env *e, uint16_t port)
{
	struct dp dp = ct_dp(e);
	size_t n = 0;

	cr_assert_eq(dp_ct_walk(&dp, cut_one, &port, &n), 0, "the flow table walks");
	cr_assert_gt(n, 0, "a flow on port %u to cut", port);
}

/* ---- what a packet must meet ---------------------------------------- */

struct want {
	int allow;
	int kind;         /* allowed: enum xnsg_pass */
	const char *rule; /* judged by the rules: the deciding rule, else NULL */
	int reason;       /* dropped: enum xnsg_reason */
};

#define ALLOWED_BY(r) ((struct want){ .allow = 1, .kind = XNSG_PASS_RULES, .rule = r })
#define DENIED_BY(r) ((struct want){ .allow = 0, .rule = r, .reason = XNSG_R_RULE_DENY })
#define BY_FLOW ((struct want){ .allow = 1, .kind = XNSG_PASS_FLOW })
#define RELATED ((struct want){ .allow = 1, .kind = XNSG_PASS_RELATED })
#define FOLLOWS_FIRST ((struct want){ .allow = 1, .kind = XNSG_PASS_FRAGMENT })
/* A later fragment of a datagram whose first fragment was denied. */
#define DENIED_WITH_FIRST ((struct want){ .allow = 0, .reason = XNSG_R_RULE_DENY })
#define ORPHAN ((struct want){ .allow = 0, .reason = XNSG_R_FRAGMENT })
/* A packet of a flow cut by a policy change: dropped without a rule. */
#define CUT ((struct want){ .allow = 0, .reason = XNSG_R_RULE_DENY })
/* On an interface with no NSG: recorded as judged with no table at all. */
#define NO_NSG ((struct want){ .allow = 1, .kind = XNSG_PASS_RULES, .rule = "(no table)" })


static unsigned long long dropped(const struct bpf_env *e, int reason)
{
	unsigned long long pk, by;

	cr_assert_eq(dp_test_counter(e->t, XNSG_MAP_DROPS, (unsigned int)reason, &pk, &by), 0,
		     "xnsg_drops[%d] reads", reason);
	return pk;
}

/* Send p the given way (OUT: TC egress, IN: XDP) and check it fared as w
 * says; what was recorded of it. */
static struct xnsg_verdict step(const struct bpf_env *e, enum way way, const struct pkt *p,
				const char *desc, struct want w)
{
	enum dp_prog prog = way == OUT ? DP_PROG_TC_EGRESS : DP_PROG_XDP;
	int pass_rc = way == OUT ? TC_ACT_OK : XDP_PASS;
	int drop_rc = way == OUT ? TC_ACT_SHOT : XDP_DROP;
	const char *w_s = way == OUT ? "out" : "in";
	unsigned long long before = 0, after;
	struct xnsg_verdict v;
	int ret;

	if (!w.allow)
		before = dropped(e, w.reason);
	cr_assert_eq(dp_test_run(e->t, prog, p->buf, p->len, &ret, &v), 0,
		     "%s (%s): BPF_PROG_TEST_RUN runs", desc, w_s);
	cr_expect_eq(ret, w.allow ? pass_rc : drop_rc, "%s (%s): %s (program returned %d)", desc,
		     w_s, w.allow ? "passes" : "is dropped", ret);
	cr_expect_eq(v.allow, w.allow, "%s (%s): recorded allow=%d (got %u)", desc, w_s, w.allow,
		     v.allow);
	cr_expect_eq(v.dir, way == OUT ? XNSG_DIR_OUT : XNSG_DIR_IN,
		     "%s (%s): judged in the workload's %s direction (dir %u)", desc, w_s,
		     way == OUT ? "Outbound" : "Inbound", v.dir);
	if (w.allow)
		cr_expect_eq(v.pass_kind, w.kind, "%s (%s): passes as kind %d (got %u)", desc, w_s,
			     w.kind, v.pass_kind);
	else
		cr_expect_eq(v.reason, w.reason, "%s (%s): dropped for reason %d (got %u)", desc,
			     w_s, w.reason, v.reason);
	if (w.rule)
		cr_expect_str_eq(bpf_env_decided_by(e, &v), w.rule, "%s (%s): decided by %s (got %s)", desc,
				 w_s, w.rule, bpf_env_decided_by(e, &v));
	if (!w.allow) {
		after = dropped(e, w.reason);
		cr_expect_eq(after - before, 1ULL, "%s (%s): xnsg_drops[%d] moves by 1 (moved by %llu)",
			     desc, w_s, w.reason, after - before);
	}
	return v;
}

/* ---- packets of one flow, either way -------------------------------- */

static void tcp(const struct fam *f, struct pkt *p, enum way way, uint16_t lport, uint16_t rport,
		uint8_t flags)
{
	if (way == OUT)
		f->v == 4 ? pkt_tcp4(p, f->l, f->r, lport, rport, flags)
			  : pkt_tcp6(p, f->l, f->r, lport, rport, flags);
	else
		f->v == 4 ? pkt_tcp4(p, f->r, f->l, rport, lport, flags)
			  : pkt_tcp6(p, f->r, f->l, rport, lport, flags);
}

static void udp(const struct fam *f, struct pkt *p, enum way way, uint16_t lport, uint16_t rport)
{
	if (way == OUT)
		f->v == 4 ? pkt_udp4(p, f->l, f->r, lport, rport) : pkt_udp6(p, f->l, f->r, lport, rport);
	else
		f->v == 4 ? pkt_udp4(p, f->r, f->l, rport, lport) : pkt_udp6(p, f->r, f->l, rport, lport);
}

/* An echo request (or reply) with identifier id. */
static void echo(const struct fam *f, struct pkt *p, enum way way, int reply, uint16_t id)
{
	const char *src = way == OUT ? f->l : f->r, *dst = way == OUT ? f->r : f->l;

	if (f->v == 4)
		pkt_icmp4(p, src, dst, reply ? 0 : 8, 0, id);
	else
		pkt_icmp6(p, src, dst, reply ? 129 : 128, 0, id);
}

/* An ICMP error from src to dst quoting `inner`: IPv4 "fragmentation
 * needed" (3/4, MTU 1400), ICMPv6 "packet too big" (2/0, MTU 1280), or
 * the given type and code. */
static void icmp_err_from(const struct fam *f, struct pkt *p, const char *src, const char *dst,
			  int type, int code, const struct pkt *inner)
{
	if (f->v == 4)
		pkt_icmp4_error(p, src, dst, type < 0 ? 3 : (uint8_t)type,
				type < 0 ? 4 : (uint8_t)code, 1400, inner);
	else
		pkt_icmp6_error(p, src, dst, type < 0 ? 2 : (uint8_t)type,
				type < 0 ? 0 : (uint8_t)code, 1280, inner);
}

/* The same from the router to the workload. */
static void icmp_err(const struct fam *f, struct pkt *p, int type, int code,
		     const struct pkt *inner)
{
	icmp_err_from(f, p, f->rt, f->l, type, code, inner);
}

#define PMTU -1 /* icmp_err type: the family's path-MTU error */

/* ---- TCP ------------------------------------------------------------ */

static void tcp_life(const struct bpf_env *e, const struct fam *f)
{
	struct pkt p;

	dp_test_flush_flows(e->t);
	tcp(f, &p, OUT, 40000, 443, PKT_SYN);
	step(e, OUT, &p, "SYN out starts a flow", ALLOWED_BY("AllowInternetOutBound"));
	tcp(f, &p, IN, 40000, 443, PKT_SYN | PKT_ACK);
	step(e, IN, &p, "SYN-ACK in passes by state", BY_FLOW);
	tcp(f, &p, OUT, 40000, 443, PKT_ACK);
	step(e, OUT, &p, "ACK out", BY_FLOW);
	tcp(f, &p, OUT, 40000, 443, PKT_ACK | PKT_PSH);
	pkt_payload(&p, 100);
	step(e, OUT, &p, "data out", BY_FLOW);
	tcp(f, &p, IN, 40000, 443, PKT_ACK | PKT_PSH);
	pkt_payload(&p, 1000);
	step(e, IN, &p, "data in", BY_FLOW);
	tcp(f, &p, IN, 40000, 443, PKT_FIN | PKT_ACK);
	step(e, IN, &p, "FIN in", BY_FLOW);
	tcp(f, &p, OUT, 40000, 443, PKT_FIN | PKT_ACK);
	step(e, OUT, &p, "FIN-ACK out", BY_FLOW);
	tcp(f, &p, IN, 40000, 443, PKT_ACK);
	step(e, IN, &p, "last ACK in", BY_FLOW);

	/* Another connection on the same ports: a new SYN reuses the entry. */
	tcp(f, &p, OUT, 40000, 443, PKT_SYN);
	step(e, OUT, &p, "SYN out again on the closing 4-tuple", BY_FLOW);
	tcp(f, &p, IN, 40000, 443, PKT_RST | PKT_ACK);
	step(e, IN, &p, "RST in", BY_FLOW);

	/* Another flow the peer did not start: its packets meet the rules. */
	tcp(f, &p, IN, 40001, 443, PKT_ACK);
	step(e, IN, &p, "ACK in with no flow", DENIED_BY("DenyAllInBound"));
	tcp(f, &p, IN, 40001, 443, PKT_SYN | PKT_ACK);
	step(e, IN, &p, "SYN-ACK in with no flow", DENIED_BY("DenyAllInBound"));
	tcp(f, &p, IN, 22, 40002, PKT_SYN);
	step(e, IN, &p, "SYN in (the peer starts)", DENIED_BY("DenyAllInBound"));
	tcp(f, &p, IN, 22, 40002, PKT_SYN);
	step(e, IN, &p, "SYN in again: a denied packet left no state",
	     DENIED_BY("DenyAllInBound"));

	/* Forgetting the flows forgets the connection. */
	dp_test_flush_flows(e->t);
	tcp(f, &p, IN, 40000, 443, PKT_ACK);
	step(e, IN, &p, "ACK in after the flows are flushed", DENIED_BY("DenyAllInBound"));
}

BOTH_FAMILIES(tcp, tcp_life)

/* ---- UDP and ICMP echo ---------------------------------------------- */

static void udp_echo(const struct bpf_env *e, const struct fam *f)
{
	struct pkt p;

	dp_test_flush_flows(e->t);
	udp(f, &p, IN, 5353, 53);
	step(e, IN, &p, "UDP reply before any request", DENIED_BY("DenyAllInBound"));
	udp(f, &p, OUT, 5353, 53);
	step(e, OUT, &p, "UDP request out", ALLOWED_BY("AllowInternetOutBound"));
	udp(f, &p, IN, 5353, 53);
	step(e, IN, &p, "UDP reply in", BY_FLOW);
	udp(f, &p, IN, 5353, 53);
	pkt_payload(&p, 200);
	step(e, IN, &p, "second UDP reply in", BY_FLOW);
	udp(f, &p, IN, 5353, 54);
	step(e, IN, &p, "UDP from another peer port", DENIED_BY("DenyAllInBound"));
	udp(f, &p, IN, 5354, 53);
	step(e, IN, &p, "UDP to another local port", DENIED_BY("DenyAllInBound"));

	echo(f, &p, IN, 1, 77);
	step(e, IN, &p, "unsolicited echo reply", DENIED_BY("DenyAllInBound"));
	echo(f, &p, OUT, 0, 77);
	step(e, OUT, &p, "echo request out", ALLOWED_BY("AllowInternetOutBound"));
	echo(f, &p, IN, 1, 77);
	step(e, IN, &p, "echo reply in", BY_FLOW);
	echo(f, &p, IN, 1, 78);
	step(e, IN, &p, "echo reply with another identifier", DENIED_BY("DenyAllInBound"));
}

BOTH_FAMILIES(udp_icmp, udp_echo)

/* ---- the flow's key ------------------------------------------------- */

static void udp_any(const struct fam *f, struct pkt *p, const char *src, const char *dst,
		    uint16_t sport, uint16_t dport)
{
	f->v == 4 ? pkt_udp4(p, src, dst, sport, dport) : pkt_udp6(p, src, dst, sport, dport);
}

/*
 * The key holds every byte of both addresses, whichever end sorts first
 * (bpf/conntrack.h flow_key() copies an IPv4 flow's four bytes, an IPv6
 * flow's sixteen), and the ports order two ends of one address: a flow
 * from the workload to itself is one flow both ways.
 */
static void key_exact(const struct bpf_env *e, const struct fam *f)
{
	const char *peer2 = f->v == 4 ? "198.51.100.6" : "2001:db8:1::6";
	struct pkt p;

	dp_test_flush_flows(e->t);
	udp(f, &p, OUT, 5353, 53);
	step(e, OUT, &p, "UDP request out", ALLOWED_BY("AllowInternetOutBound"));
	udp_any(f, &p, peer2, f->l, 53, 5353);
	step(e, IN, &p, "UDP from a peer one address below", DENIED_BY("DenyAllInBound"));
	udp_any(f, &p, f->r, f->o, 53, 5353);
	step(e, IN, &p, "UDP to another host behind the interface", DENIED_BY("DenyAllInBound"));
	udp(f, &p, IN, 5353, 53);
	step(e, IN, &p, "UDP reply in", BY_FLOW);

	udp_any(f, &p, f->l, f->l, 40000, 7);
	step(e, OUT, &p, "UDP from the workload to itself", ALLOWED_BY("AllowInternetOutBound"));
	udp_any(f, &p, f->l, f->l, 7, 40000);
	step(e, IN, &p, "its reply", BY_FLOW);
	udp_any(f, &p, f->l, f->l, 7, 40001);
	step(e, IN, &p, "to another port of itself", DENIED_BY("DenyAllInBound"));
}

BOTH_FAMILIES(key_exact, key_exact)

/* ---- ICMP queries --------------------------------------------------- */

/* An ICMP message of any type with the given identifier, one way. */
static void icmp_msg(const struct fam *f, struct pkt *p, enum way way, uint8_t type, uint16_t id)
{
	const char *src = way == OUT ? f->l : f->r, *dst = way == OUT ? f->r : f->l;

	if (f->v == 4)
		pkt_icmp4(p, src, dst, type, 0, id);
	else
		pkt_icmp6(p, src, dst, type, 0, id);
}

/*
 * A query's flow passes only its requests from the querier and its
 * replies to it; replies, errors and other types create no state.
 * Before: request and reply shared one key (the peer's echo request with
 * the workload's identifier passed), every non-echo type shared
 * identifier 0 (after any outbound timestamp request or error, the peer's
 * redirects and unreachables passed by state), and a reply created state.
 */
static void icmp_queries(const struct bpf_env *e, const struct fam *f)
{
	int v4 = f->v == 4;
	uint8_t req = v4 ? 8 : 128, rep = v4 ? 0 : 129, unreach = v4 ? 3 : 1;
	struct pkt p;

	dp_test_flush_flows(e->t);
	icmp_msg(f, &p, OUT, req, 99);
	step(e, OUT, &p, "echo request out, id 99", ALLOWED_BY("AllowInternetOutBound"));
	icmp_msg(f, &p, IN, rep, 99);
	step(e, IN, &p, "its echo reply in", BY_FLOW);
	icmp_msg(f, &p, IN, req, 99);
	step(e, IN, &p, "echo request in from the peer, id 99", DENIED_BY("DenyAllInBound"));
	icmp_msg(f, &p, OUT, req, 99);
	step(e, OUT, &p, "the next echo request out, id 99", BY_FLOW);
	icmp_msg(f, &p, OUT, rep, 99);
	step(e, OUT, &p, "an echo reply out, id 99: not the flow's direction",
	     ALLOWED_BY("AllowInternetOutBound"));
	icmp_msg(f, &p, IN, req, 99);
	step(e, IN, &p, "echo request in, id 99, after that reply", DENIED_BY("DenyAllInBound"));

	icmp_msg(f, &p, OUT, rep, 55);
	step(e, OUT, &p, "unsolicited echo reply out, id 55", ALLOWED_BY("AllowInternetOutBound"));
	icmp_msg(f, &p, IN, req, 55);
	step(e, IN, &p, "echo request in, id 55: the reply created no state",
	     DENIED_BY("DenyAllInBound"));

	icmp_msg(f, &p, OUT, unreach, 0);
	step(e, OUT, &p, "an unreachable out (quoting nothing)", ALLOWED_BY("AllowInternetOutBound"));
	icmp_msg(f, &p, IN, unreach, 0);
	step(e, IN, &p, "an unreachable in (quoting nothing): no state", DENIED_BY("DenyAllInBound"));

	if (v4) {
		icmp_msg(f, &p, OUT, 13, 7);
		step(e, OUT, &p, "timestamp request out, id 7", ALLOWED_BY("AllowInternetOutBound"));
		icmp_msg(f, &p, IN, 14, 7);
		step(e, IN, &p, "its timestamp reply in", BY_FLOW);
		icmp_msg(f, &p, IN, 13, 7);
		step(e, IN, &p, "timestamp request in, id 7", DENIED_BY("DenyAllInBound"));
		icmp_msg(f, &p, IN, 0, 7);
		step(e, IN, &p, "echo reply in, id 7: another query type", DENIED_BY("DenyAllInBound"));
		icmp_msg(f, &p, IN, 5, 0);
		step(e, IN, &p, "redirect in", DENIED_BY("DenyAllInBound"));
		icmp_msg(f, &p, OUT, 9, 0);
		step(e, OUT, &p, "router advertisement out", ALLOWED_BY("AllowInternetOutBound"));
		icmp_msg(f, &p, IN, 9, 0);
		step(e, IN, &p, "router advertisement in: no state", DENIED_BY("DenyAllInBound"));
	} else {
		icmp_msg(f, &p, OUT, 139, 3);
		step(e, OUT, &p, "node information query out", ALLOWED_BY("AllowInternetOutBound"));
		icmp_msg(f, &p, IN, 140, 3);
		step(e, IN, &p, "its reply in", BY_FLOW);
		icmp_msg(f, &p, IN, 139, 3);
		step(e, IN, &p, "node information query in", DENIED_BY("DenyAllInBound"));
		icmp_msg(f, &p, OUT, 130, 0);
		step(e, OUT, &p, "MLD query out", ALLOWED_BY("AllowInternetOutBound"));
		icmp_msg(f, &p, IN, 130, 0);
		step(e, IN, &p, "MLD query in: no state", DENIED_BY("DenyAllInBound"));
	}
}

BOTH_FAMILIES(icmp_queries, icmp_queries)

/* ---- ICMP errors ---------------------------------------------------- */

static void icmp_errors(const struct bpf_env *e, const struct fam *f)
{
	struct pkt syn, dns, ping, other, p;

	dp_test_flush_flows(e->t);
	tcp(f, &syn, OUT, 40000, 443, PKT_SYN);
	step(e, OUT, &syn, "SYN out", ALLOWED_BY("AllowInternetOutBound"));
	udp(f, &dns, OUT, 5353, 53);
	step(e, OUT, &dns, "UDP out", ALLOWED_BY("AllowInternetOutBound"));
	echo(f, &ping, OUT, 0, 99);
	step(e, OUT, &ping, "echo request out", ALLOWED_BY("AllowInternetOutBound"));

	icmp_err(f, &p, PMTU, 0, &syn);
	step(e, IN, &p, f->v == 4 ? "fragmentation needed about the TCP flow"
				  : "packet too big about the TCP flow", RELATED);
	icmp_err(f, &p, PMTU, 0, &dns);
	step(e, IN, &p, f->v == 4 ? "fragmentation needed about the UDP flow"
				  : "packet too big about the UDP flow", RELATED);
	icmp_err(f, &p, f->v == 4 ? 3 : 1, f->v == 4 ? 3 : 4, &dns);
	step(e, IN, &p, "port unreachable about the UDP flow", RELATED);
	icmp_err(f, &p, f->v == 4 ? 11 : 3, 0, &ping);
	step(e, IN, &p, "time exceeded about the echo", RELATED);

	tcp(f, &other, OUT, 40001, 443, PKT_SYN);
	icmp_err(f, &p, PMTU, 0, &other);
	step(e, IN, &p, "path-MTU error about an untracked flow", DENIED_BY("DenyAllInBound"));
	udp(f, &other, OUT, 5353, 54);
	icmp_err(f, &p, f->v == 4 ? 3 : 1, f->v == 4 ? 3 : 4, &other);
	step(e, IN, &p, "port unreachable about an untracked flow", DENIED_BY("DenyAllInBound"));

	dp_test_flush_flows(e->t);
	icmp_err(f, &p, PMTU, 0, &syn);
	step(e, IN, &p, "the same error once the flow is gone", DENIED_BY("DenyAllInBound"));
}

BOTH_FAMILIES(icmp_errors, icmp_errors)

/*
 * An error goes back to the sender of the packet it quotes: its
 * destination must be the quoted source, and it must travel against the
 * quoted packet's direction.  Before, only the quoted flow's key was
 * looked up, so any host could get an error through by quoting a tracked
 * flow either way round, to any destination.
 */
static void icmp_error_origin(const struct bpf_env *e, const struct fam *f)
{
	struct pkt syn, synack, rev, p;
	int unreach = f->v == 4 ? 3 : 1, port = f->v == 4 ? 3 : 4;

	dp_test_flush_flows(e->t);
	tcp(f, &syn, OUT, 40000, 443, PKT_SYN);
	step(e, OUT, &syn, "SYN out", ALLOWED_BY("AllowInternetOutBound"));
	tcp(f, &synack, IN, 40000, 443, PKT_SYN | PKT_ACK);
	step(e, IN, &synack, "SYN-ACK in", BY_FLOW);

	tcp(f, &rev, IN, 40000, 443, PKT_ACK);
	icmp_err_from(f, &p, f->x, f->l, unreach, port, &rev);
	step(e, IN, &p, "error from a third host quoting the flow reversed (peer -> workload)",
	     DENIED_BY("DenyAllInBound"));
	icmp_err_from(f, &p, f->r, f->l, unreach, port, &rev);
	step(e, IN, &p, "error from the peer quoting its own packet to the workload",
	     DENIED_BY("DenyAllInBound"));
	icmp_err_from(f, &p, f->x, f->o, unreach, port, &syn);
	step(e, IN, &p, "error to another host quoting the workload's packet",
	     DENIED_BY("DenyAllInBound"));

	icmp_err_from(f, &p, f->x, f->l, PMTU, 0, &syn);
	step(e, IN, &p, "path-MTU error from a router on the path", RELATED);
	icmp_err_from(f, &p, f->r, f->l, unreach, port, &syn);
	step(e, IN, &p, "unreachable from the peer about the workload's packet", RELATED);
	icmp_err_from(f, &p, f->l, f->r, unreach, port, &synack);
	step(e, OUT, &p, "the workload's error about the peer's packet", RELATED);
	icmp_err_from(f, &p, f->x, f->l, PMTU, 0, &syn);
	step(e, OUT, &p, "error leaving towards the workload quoting its own packet",
	     ALLOWED_BY("AllowInternetOutBound"));
}

BOTH_FAMILIES(icmp_error_origin, icmp_error_origin)

/* ---- fragments ------------------------------------------------------ */

/* A UDP datagram of 1400 bytes as its first fragment (offset 0, MF) or
 * its last (offset 1400/8 = 175, the bytes after the first 1400). */
static void frag_udp(const struct fam *f, struct pkt *p, enum way way, uint16_t lport,
		     uint16_t rport, uint32_t id, int later)
{
	udp(f, p, way, lport, rport);
	pkt_payload(p, later ? 200 : 1392);
	if (f->v == 4)
		pkt_ip4_frag(p, id, later ? 175 : 0, !later);
	else
		pkt_ip6_frag(p, id, later ? 175 : 0, !later);
}

static void fragments(const struct bpf_env *e, const struct fam *f)
{
	struct pkt p;

	dp_test_flush_flows(e->t);
	frag_udp(f, &p, OUT, 5353, 4500, 1000, 0);
	step(e, OUT, &p, "first fragment out, allowed by its ports",
	     ALLOWED_BY("AllowInternetOutBound"));
	frag_udp(f, &p, OUT, 5353, 4500, 1000, 1);
	step(e, OUT, &p, "later fragment out follows its first", FOLLOWS_FIRST);
	frag_udp(f, &p, OUT, 5353, 4500, 1000, 1);
	step(e, OUT, &p, "a retransmitted later fragment still follows", FOLLOWS_FIRST);

	frag_udp(f, &p, IN, 5353, 4500, 1001, 0);
	step(e, IN, &p, "first fragment of the reply passes by state", BY_FLOW);
	frag_udp(f, &p, IN, 5353, 4500, 1001, 1);
	step(e, IN, &p, "later fragment of the reply follows it", FOLLOWS_FIRST);

	frag_udp(f, &p, IN, 6000, 4500, 1002, 0);
	step(e, IN, &p, "first fragment in, denied", DENIED_BY("DenyAllInBound"));
	frag_udp(f, &p, IN, 6000, 4500, 1002, 1);
	step(e, IN, &p, "later fragment in follows the denial", DENIED_WITH_FIRST);

	frag_udp(f, &p, OUT, 5353, 4501, 1003, 1);
	step(e, OUT, &p, "later fragment before its first: orphan", ORPHAN);
	frag_udp(f, &p, OUT, 5353, 4501, 1003, 0);
	step(e, OUT, &p, "then its first fragment", ALLOWED_BY("AllowInternetOutBound"));
	frag_udp(f, &p, OUT, 5353, 4501, 1003, 1);
	step(e, OUT, &p, "the later fragment sent again now follows", FOLLOWS_FIRST);
	frag_udp(f, &p, OUT, 5353, 4501, 1004, 1);
	step(e, OUT, &p, "a later fragment of another datagram id", ORPHAN);

	dp_test_flush_flows(e->t);
	frag_udp(f, &p, OUT, 5353, 4500, 1000, 1);
	step(e, OUT, &p, "a later fragment once remembered verdicts are flushed", ORPHAN);
}

BOTH_FAMILIES(fragments, fragments)

/* An IPv6 datagram whose fragmentable part starts with destination
 * options: the first fragment's protocol is UDP (the chain is walked),
 * its later fragments only know "destination options" (60) from their
 * fragment header - the datagram must still be recognised. */
Test(conntrack, fragments_v6_exthdr_after_fragment_header)
{
	const struct fam *f = &fam6;
	struct bpf_env e;
	struct pkt p;

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	pkt_udp6(&p, f->l, f->r, 5353, 4500);
	pkt_payload(&p, 1384);
	pkt_ip6_frag(&p, 2000, 0, 1);
	pkt_ip6_ext(&p, 60, 8);
	step(&e, OUT, &p, "first fragment: fragment header, destination options, UDP",
	     ALLOWED_BY("AllowInternetOutBound"));
	pkt_ip6(&p, f->l, f->r, 60, 200);
	pkt_ip6_frag(&p, 2000, 175, 0);
	step(&e, OUT, &p, "later fragment: fragment header naming destination options",
	     FOLLOWS_FIRST);
	bpf_env_close(&e);
}

/* ---- expiry --------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

/* An outbound TCP connection through its handshake. */
static void tcp_established(const struct bpf_env *e, const struct fam *f, uint16_t lport)
{
	struct pkt p;

	tcp(f, &p, OUT, lport, 443, PKT_SYN);
	step(e, OUT, &p, "SYN out", ALLOWED_BY("AllowInternetOutBound"));
	tcp(f, &p, IN, lport, 443, PKT_SYN | PKT_ACK);
	step(e, IN, &p, "SYN-ACK in", BY_FLOW);
	tcp(f, &p, OUT, lport, 443, PKT_ACK);
	step(e, OUT, &p, "ACK out (established)", BY_FLOW);
}

/*
 * Flows in each state, one sleep past the 1 s timeouts, then a packet of
 * each: established TCP (60 s), half-closed TCP, TCP whose RST one side
 * ignored, a UDP stream (60 s) and a flow cut by a policy change whose
 * packets keep coming survive; a TCP handshake, TCP after FIN both ways or
 * RST (closing), one-way UDP, ICMP (1 s) and an idle cut flow
 * are gone and their packets meet the rules, as do ICMP errors about
 * them.  Both families at once.
 */
Test(conntrack, expiry, .timeout = 30)
{
	const struct fam *fams[] = { &fam4, &fam6 };
	unsigned long long expired;
	struct bpf_env e;
	struct pkt p, q;

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	for (int i = 0; i < 2; i++) {
		const struct fam *f = fams[i];

		tcp(f, &p, OUT, 41000, 443, PKT_SYN);
		step(&e, OUT, &p, "A: SYN out", ALLOWED_BY("AllowInternetOutBound"));
		tcp(f, &p, IN, 41000, 443, PKT_SYN | PKT_ACK);
		step(&e, IN, &p, "A: SYN-ACK in", BY_FLOW);
		tcp(f, &p, OUT, 41000, 443, PKT_ACK);
		step(&e, OUT, &p, "A: ACK out (established)", BY_FLOW);

		tcp(f, &p, OUT, 41001, 443, PKT_SYN);
		step(&e, OUT, &p, "B: SYN out", ALLOWED_BY("AllowInternetOutBound"));
		tcp(f, &p, IN, 41001, 443, PKT_SYN | PKT_ACK);
		step(&e, IN, &p, "B: SYN-ACK in", BY_FLOW);
		tcp(f, &p, OUT, 41001, 443, PKT_ACK);
		step(&e, OUT, &p, "B: ACK out", BY_FLOW);
		tcp(f, &p, OUT, 41001, 443, PKT_FIN | PKT_ACK);
		step(&e, OUT, &p, "B: FIN out", BY_FLOW);
		tcp(f, &p, IN, 41001, 443, PKT_FIN | PKT_ACK);
		step(&e, IN, &p, "B: FIN in (both sides: closing)", BY_FLOW);

		tcp(f, &p, OUT, 41002, 443, PKT_SYN);
		step(&e, OUT, &p, "C: SYN out (handshake only)", ALLOWED_BY("AllowInternetOutBound"));

		tcp(f, &p, OUT, 41003, 443, PKT_SYN);
		step(&e, OUT, &p, "D: SYN out", ALLOWED_BY("AllowInternetOutBound"));
		tcp(f, &p, IN, 41003, 443, PKT_SYN | PKT_ACK);
		step(&e, IN, &p, "D: SYN-ACK in", BY_FLOW);
		tcp(f, &p, OUT, 41003, 443, PKT_ACK);
		step(&e, OUT, &p, "D: ACK out", BY_FLOW);
		tcp(f, &p, IN, 41003, 443, PKT_RST);
		step(&e, IN, &p, "D: RST in (closing)", BY_FLOW);

		udp(f, &p, OUT, 5000, 53);
		step(&e, OUT, &p, "E: UDP out, no reply", ALLOWED_BY("AllowInternetOutBound"));

		udp(f, &p, OUT, 5001, 53);
		step(&e, OUT, &p, "F: UDP out", ALLOWED_BY("AllowInternetOutBound"));
		udp(f, &p, IN, 5001, 53);
		step(&e, IN, &p, "F: UDP reply in (a stream)", BY_FLOW);

		echo(f, &p, OUT, 0, 4242);
		step(&e, OUT, &p, "G: echo request out", ALLOWED_BY("AllowInternetOutBound"));

		tcp(f, &p, OUT, 41004, 443, PKT_SYN);
		step(&e, OUT, &p, "H: SYN out (handshake only)", ALLOWED_BY("AllowInternetOutBound"));

		/* Before, one FIN or RST either way made any flow closing. */
		tcp_established(&e, f, 41005);
		tcp(f, &p, OUT, 41005, 443, PKT_FIN | PKT_ACK);
		step(&e, OUT, &p, "K: FIN out (half-close)", BY_FLOW);
		tcp(f, &p, IN, 41005, 443, PKT_ACK | PKT_PSH);
		step(&e, IN, &p, "K: the peer still sends", BY_FLOW);

		tcp_established(&e, f, 41006);
		tcp(f, &p, IN, 41006, 443, PKT_RST);
		step(&e, IN, &p, "L: a (spoofed) RST in", BY_FLOW);
		tcp(f, &p, OUT, 41006, 443, PKT_ACK | PKT_PSH);
		step(&e, OUT, &p, "L: the workload carries on (established again)", BY_FLOW);

		tcp_established(&e, f, 41007);
		tcp(f, &p, IN, 41007, 443, PKT_RST);
		step(&e, IN, &p, "M: RST in", BY_FLOW);
		tcp(f, &p, IN, 41007, 443, PKT_ACK);
		step(&e, IN, &p, "M: an ACK from the RST's sender (still closing)", BY_FLOW);

		/* Flows cut by a policy change: N's packets keep coming, O's stop. */
		udp(f, &p, OUT, 5002, 53);
		step(&e, OUT, &p, "N: UDP out", ALLOWED_BY("AllowInternetOutBound"));
		cut_flows(&e, 5002);
		udp(f, &p, OUT, 5003, 53);
		step(&e, OUT, &p, "O: UDP out", ALLOWED_BY("AllowInternetOutBound"));
		cut_flows(&e, 5003);
	}

	sleep_ms(700);
	for (int i = 0; i < 2; i++) {
		udp(fams[i], &p, IN, 5002, 53);
		step(&e, IN, &p, "N: UDP in on the cut flow, 0.7 s on", CUT);
	}
	sleep_ms(600);

	for (int i = 0; i < 2; i++) {
		const struct fam *f = fams[i];

		tcp(f, &p, IN, 41000, 443, PKT_ACK | PKT_PSH);
		step(&e, IN, &p, "A: established TCP survives 1.3 s idle", BY_FLOW);
		tcp(f, &p, IN, 41001, 443, PKT_ACK);
		step(&e, IN, &p, "B: closing TCP expired", DENIED_BY("DenyAllInBound"));
		tcp(f, &p, IN, 41002, 443, PKT_SYN | PKT_ACK);
		step(&e, IN, &p, "C: handshake expired", DENIED_BY("DenyAllInBound"));
		tcp(f, &p, IN, 41003, 443, PKT_ACK);
		step(&e, IN, &p, "D: TCP after RST expired", DENIED_BY("DenyAllInBound"));
		udp(f, &p, IN, 5000, 53);
		step(&e, IN, &p, "E: one-way UDP expired", DENIED_BY("DenyAllInBound"));
		udp(f, &p, IN, 5001, 53);
		step(&e, IN, &p, "F: UDP stream survives 1.3 s idle", BY_FLOW);
		echo(f, &p, IN, 1, 4242);
		step(&e, IN, &p, "G: echo expired", DENIED_BY("DenyAllInBound"));

		/* An ICMP error about a flow idle past its timeout is no longer
		 * related (before: any entry still in the table would do). */
		tcp(f, &q, OUT, 41004, 443, PKT_SYN);
		icmp_err(f, &p, PMTU, 0, &q);
		step(&e, IN, &p, "H: path-MTU error about the expired handshake",
		     DENIED_BY("DenyAllInBound"));
		tcp(f, &q, OUT, 41004, 443, PKT_SYN);
		icmp_err(f, &p, PMTU, 0, &q);
		step(&e, IN, &p, "H: the same error once the entry is gone",
		     DENIED_BY("DenyAllInBound"));
		tcp(f, &q, OUT, 41000, 443, PKT_ACK);
		icmp_err(f, &p, PMTU, 0, &q);
		step(&e, IN, &p, "A: path-MTU error about the live established flow", RELATED);

		tcp(f, &p, IN, 41005, 443, PKT_ACK | PKT_PSH);
		step(&e, IN, &p, "K: half-closed TCP survives 1.3 s idle", BY_FLOW);
		tcp(f, &p, IN, 41006, 443, PKT_ACK | PKT_PSH);
		step(&e, IN, &p, "L: TCP after a RST the other side ignored survives", BY_FLOW);
		tcp(f, &p, IN, 41007, 443, PKT_ACK);
		step(&e, IN, &p, "M: TCP after a RST expired", DENIED_BY("DenyAllInBound"));

		udp(f, &p, OUT, 5002, 53);
		step(&e, OUT, &p, "N: cut flow kept alive by its packets", CUT);
		expired = ct_stat(&e, XNSG_CTS_EXPIRED);
		udp(f, &p, IN, 5003, 53);
		step(&e, IN, &p, "O: cut flow idle 1.3 s is gone, the rules judge",
		     DENIED_BY("DenyAllInBound"));
		cr_expect_eq(ct_stat(&e, XNSG_CTS_EXPIRED), expired,
			     "a cut flow leaving is not counted expired (counted cut)");
		udp(f, &p, OUT, 5003, 53);
		step(&e, OUT, &p, "O: a new flow on its ports", ALLOWED_BY("AllowInternetOutBound"));
	}
	bpf_env_close(&e);
}

/* ---- flows cut by a policy change ----------------------------------- */

/*
 * A flow the new policy denies (apply --reset-flows, flushConnection) is
 * marked, and its packets are dropped both ways for as long as they keep
 * coming.  Before, its entry was removed: the workload's next ACK, allowed
 * out by the rules, made a new ESTABLISHED entry and the peer's packets
 * passed by it again.
 */
static void cut_flow(const struct bpf_env *e, const struct fam *f)
{
	struct pkt p, q;

	dp_test_flush_flows(e->t);
	tcp_established(e, f, 42000);
	udp(f, &p, OUT, 5300, 53);
	step(e, OUT, &p, "UDP out", ALLOWED_BY("AllowInternetOutBound"));
	udp(f, &p, IN, 5300, 53);
	step(e, IN, &p, "UDP reply in", BY_FLOW);
	cut_flows(e, 42000);
	cut_flows(e, 5300);

	for (int i = 0; i < 2; i++) {
		tcp(f, &p, OUT, 42000, 443, PKT_ACK | PKT_PSH);
		pkt_payload(&p, 100);
		step(e, OUT, &p, "data out on the cut TCP flow", CUT);
		tcp(f, &p, IN, 42000, 443, PKT_ACK);
		step(e, IN, &p, "ACK in on the cut TCP flow", CUT);
		udp(f, &p, OUT, 5300, 53);
		step(e, OUT, &p, "UDP out on the cut flow", CUT);
		udp(f, &p, IN, 5300, 53);
		step(e, IN, &p, "UDP in on the cut flow", CUT);
	}
	tcp(f, &q, OUT, 42000, 443, PKT_ACK);
	icmp_err(f, &p, PMTU, 0, &q);
	step(e, IN, &p, "an ICMP error about the cut flow", DENIED_BY("DenyAllInBound"));
	cr_expect_eq(ct_entries(e), 2, "the cut flows' entries stay (%zu)", ct_entries(e));

	tcp(f, &p, OUT, 42001, 443, PKT_SYN);
	step(e, OUT, &p, "another connection is judged by the rules",
	     ALLOWED_BY("AllowInternetOutBound"));
}

BOTH_FAMILIES(cut_flow, cut_flow)

/*
 * The same through flows_reevaluate() (apply --reset-flows), given the
 * private instance's flow table and counters as the datapath handle, and
 * a new policy naming loopback that denies outbound 443.  (The
 * instance's tables keep the old policy, which still allows the
 * workload's packets out - as AllowVnetOutBound would.)
 * The denied flow is cut and counted once; a later policy allowing it
 * removes the cut entry.  Before, the entry was removed: the workload's
 * next packet out, allowed by the rules, started the flow again and the
 * peer's packets passed by state.
 */
static const char policy_deny_443[] =
	"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
	"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[{\"name\":\"DenyHttpsOut\","
	"\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Deny\",\"protocol\":\"Tcp\","
	"\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
	"\"destinationPortRange\":\"443\"}]}],"
	"\"interfaces\":[{\"name\":\"lo\",\"networkSecurityGroup\":\"nsg\","
	"\"ipAddresses\":[\"192.0.2.10\"]}]}";
static const char policy_allow[] =
	"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
	"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[]}],"
	"\"interfaces\":[{\"name\":\"lo\",\"networkSecurityGroup\":\"nsg\","
	"\"ipAddresses\":[\"192.0.2.10\"]}]}";

static struct policy *parse(const char *json)
{
	struct diag_list d = {};
	struct policy *p = NULL;
	int err = policy_parse_string(json, "reeval.json", NULL, &p, &d);

	if (err)
		diag_print(stderr, "reeval.json", &d);
	diag_free(&d);
	cr_assert_eq(err, 0, "the re-evaluation policy is valid");
	return p;
}

Test(conntrack, reset_flows_cuts_denied_flows)
{
	const struct fam *f = &fam4;
	struct policy *deny, *allow;
	struct dp dp;
	size_t checked, cut;
	struct bpf_env e;
	struct pkt p;

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	dp = ct_dp(&e); /* every fd -1 but the flow tables and counters */
	dp.fd_ct_stats = dp_test_map_fd(e.t, XNSG_MAP_CT_STATS);
	cr_assert(dp.fd_ct_stats >= 0, "the instance's flow counters");
	deny = parse(policy_deny_443);
	allow = parse(policy_allow);

	tcp_established(&e, f, 43000);
	udp(f, &p, OUT, 5400, 53);
	step(&e, OUT, &p, "UDP out", ALLOWED_BY("AllowInternetOutBound"));

	cr_assert_eq(flows_reevaluate(&dp, deny, true, &checked, &cut), 0, "re-evaluation runs");
	cr_expect_eq(checked, 2, "both flows re-evaluated (%zu)", checked);
	cr_expect_eq(cut, 1, "the TCP flow to 443 is cut (%zu)", cut);
	cr_expect_eq(ct_stat(&e, XNSG_CTS_RESET), 1, "counted once as cut");
	tcp(f, &p, OUT, 43000, 443, PKT_ACK | PKT_PSH);
	step(&e, OUT, &p, "data out on the cut flow", CUT);
	tcp(f, &p, IN, 43000, 443, PKT_ACK | PKT_PSH);
	step(&e, IN, &p, "data in on the cut flow", CUT);
	udp(f, &p, IN, 5400, 53);
	step(&e, IN, &p, "the UDP flow the new policy allows goes on", BY_FLOW);

	cr_assert_eq(flows_reevaluate(&dp, deny, true, &checked, &cut), 0, "re-evaluation runs again");
	cr_expect_eq(cut, 0, "a cut flow is not cut twice (%zu)", cut);
	cr_expect_eq(ct_stat(&e, XNSG_CTS_RESET), 1, "nor counted twice");
	tcp(f, &p, OUT, 43000, 443, PKT_ACK);
	step(&e, OUT, &p, "still cut", CUT);

	cr_assert_eq(flows_reevaluate(&dp, allow, true, &checked, &cut), 0, "re-evaluation by a policy allowing it");
	cr_expect_eq(cut, 0, "nothing cut (%zu)", cut);
	cr_expect_eq(ct_entries(&e), 1, "the mark is gone with its entry (%zu entries)", ct_entries(&e));
	tcp(f, &p, OUT, 43000, 443, PKT_ACK | PKT_PSH);
	step(&e, OUT, &p, "data out: judged by the rules again", ALLOWED_BY("AllowInternetOutBound"));

	policy_free(deny);
	policy_free(allow);
	bpf_env_close(&e);
}

/*
 * The re-evaluation remembers each interface for the walk (user/apply/
 * reeval.c): here every flow on loopback has a twin on an interface the
 * host does not have, whose index falls in loopback's slot of that memory
 * (lo + 64).  The twins are deleted, as flows of a gone interface are,
 * and only loopback's flows are judged: a lookup that trusted the slot
 * without its index would judge both, or delete both.
 */
Test(conntrack, reset_flows_tells_a_gone_interface_from_a_live_one)
{
	const struct fam *f = &fam4;
	struct xnsg_ct4_key k, twin[8];
	struct xnsg_ct_val v;
	struct policy *allow;
	size_t checked, cut, n = 0;
	struct bpf_env e;
	struct pkt p;
	struct dp dp;
	int fd;

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	dp = ct_dp(&e);
	dp.fd_ct_stats = dp_test_map_fd(e.t, XNSG_MAP_CT_STATS);
	fd = dp.fd_ct4;
	dp_test_flush_flows(e.t);
	allow = parse(policy_allow);
	tcp_established(&e, f, 43000);
	udp(f, &p, OUT, 5400, 53);
	step(&e, OUT, &p, "UDP out", ALLOWED_BY("AllowInternetOutBound"));
	for (int more = bpf_map_get_next_key(fd, NULL, &k); !more && n < 8;
	     more = bpf_map_get_next_key(fd, &k, &k))
		twin[n++] = k;
	cr_assert_eq(n, 2, "two flows on loopback (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &twin[i], &v), 0, "read flow %zu", i);
		twin[i].ifindex += 64;
		cr_assert_eq(bpf_map_update_elem(fd, &twin[i], &v, BPF_NOEXIST), 0, "its twin");
	}

	cr_assert_eq(flows_reevaluate(&dp, allow, true, &checked, &cut), 0, "re-evaluation runs");
	cr_expect_eq(checked, 2, "loopback's two flows judged (%zu)", checked);
	cr_expect_eq(cut, 2, "the two of the gone interface removed (%zu)", cut);
	cr_expect_eq(ct_entries(&e), 2, "loopback's flows stay (%zu entries)", ct_entries(&e));
	for (size_t i = 0; i < n; i++)
		cr_expect_neq(bpf_map_lookup_elem(fd, &twin[i], &v), 0, "twin %zu is gone", i);
	policy_free(allow);
	bpf_env_close(&e);
}

/* ---- an interface without NSG --------------------------------------- */

/*
 * docs/DESIGN.md §2: an interface with no NSG at any level is not filtered - and
 * keeps no flow state, or a flood on it would evict the flows of the
 * filtered ones from the shared LRU table.  Before: every packet created
 * an entry and the reply passed by it.
 */
Test(conntrack, no_nsg_interface_keeps_no_state)
{
	const struct fam *f = &fam4;
	struct bpf_env e;
	struct pkt p;

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	dp_test_flush_flows(e.t);
	bpf_env_bind(&e, "eth1", XNSG_ATTACH_MODE_HOST);
	for (uint16_t port = 6000; port < 6100; port++) {
		pkt_udp4(&p, "192.0.2.11", f->r, port, 53);
		step(&e, OUT, &p, "UDP out on eth1 (no NSG)", NO_NSG);
	}
	pkt_udp4(&p, f->r, "192.0.2.11", 53, 6000);
	step(&e, IN, &p, "its reply: not filtered, not by state", NO_NSG);
	pkt_tcp4(&p, f->r, "192.0.2.11", 443, 6000, PKT_SYN);
	step(&e, IN, &p, "a SYN in: not filtered", NO_NSG);
	cr_expect_eq(ct_entries(&e), 0, "no flow entry for an unfiltered interface (%zu)",
		     ct_entries(&e));
	bpf_env_bind(&e, "eth0", XNSG_ATTACH_MODE_HOST);
	udp(f, &p, OUT, 6000, 53);
	step(&e, OUT, &p, "UDP out on eth0 still creates state", ALLOWED_BY("AllowInternetOutBound"));
	cr_expect_eq(ct_entries(&e), 1, "one flow entry (%zu)", ct_entries(&e));
	bpf_env_close(&e);
}

/*
 * Where a packet finds its interface's entry (include/xnsg/abi.h): an
 * array element for ifindexes below XNSG_IFINDEX_DIRECT, the hash above.
 * Loopback (1) is the array's; a veth made in a network namespace
 * of the test's own with an ifindex past the bound is the hash's.  On
 * either, no entry drops the packet (XNSG_R_NO_CONFIG: fails closed),
 * an entry judges it, and another generation's entry is not read.
 */
/* p sent out through TC egress is dropped for want of an interface entry
 * (before any direction is known, so not by step()). */
static void no_entry(const struct bpf_env *e, const struct pkt *p, const char *desc)
{
	unsigned long long before = dropped(e, XNSG_R_NO_CONFIG);
	struct xnsg_verdict v;
	int ret;

	cr_assert_eq(dp_test_run(e->t, DP_PROG_TC_EGRESS, p->buf, p->len, &ret, &v), 0,
		     "%s: BPF_PROG_TEST_RUN runs", desc);
	cr_expect_eq(ret, TC_ACT_SHOT, "%s: dropped (program returned %d)", desc, ret);
	cr_expect_eq(v.reason, XNSG_R_NO_CONFIG, "%s: for want of an entry (reason %u)", desc,
		     v.reason);
	cr_expect_eq(dropped(e, XNSG_R_NO_CONFIG) - before, 1ULL, "%s: counted", desc);
}

Test(conntrack, interface_entries_by_array_and_by_hash)
{
	unsigned int hi = XNSG_IFINDEX_DIRECT + 4464;
	struct xnsg_iface_cfg pass_all;
	struct bpf_env e;
	struct pkt p;
	char cmd[128];

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "a network namespace of the test's own");
	snprintf(cmd, sizeof(cmd), "ip link add xnsghi index %u type veth peer name xnsghp && ip link set xnsghi up",
		 hi);
	cr_assert_eq(system(cmd), 0, "a veth with ifindex %u", hi);
	cr_assert_eq(if_nametoindex("xnsghi"), hi, "the veth has ifindex %u", hi);

	udp(&fam4, &p, OUT, 4000, 53);
	step(&e, OUT, &p, "on loopback (array), bound", ALLOWED_BY("AllowInternetOutBound"));
	dp_test_arrive_on(e.t, hi);
	no_entry(&e, &p, "on the veth (hash), no entry");
	cr_assert_eq(dp_test_bind(e.t, hi, policy_find_iface(e.p, "eth0"), XNSG_ATTACH_MODE_HOST), 0,
		     "the veth binds as eth0");
	step(&e, OUT, &p, "on the veth (hash), bound", ALLOWED_BY("AllowInternetOutBound"));

	/* Generation 1's entries say pass-all; generation 0 judges. */
	memset(&pass_all, 0, sizeof(pass_all));
	memset(pass_all.table, 0xff, sizeof(pass_all.table));
	cr_assert_eq(dp_iface_set(dp_test_dp(e.t), 1, e.lo, &pass_all), 0, "gen 1 entry of lo");
	cr_assert_eq(dp_iface_set(dp_test_dp(e.t), 1, hi, &pass_all), 0, "gen 1 entry of the veth");
	udp(&fam4, &p, IN, 5000, 5353); /* no flow: the rules judge */
	step(&e, IN, &p, "inbound on loopback beside another generation's entry",
	     DENIED_BY("DenyAllInBound"));
	cr_assert_eq(dp_test_run(e.t, DP_PROG_TC_INGRESS, p.buf, p.len, &(int){ 0 }, NULL), 0,
		     "TC ingress runs");
	cr_expect_eq(dropped(&e, XNSG_R_RULE_DENY), 2ULL,
		     "inbound on the veth is judged by generation 0 too (denied)");

	/* Forgotten: the array's element reads as no entry, as the hash's. */
	dp_iface_forget(dp_test_dp(e.t), e.lo);
	dp_test_arrive_on(e.t, e.lo);
	udp(&fam4, &p, OUT, 4001, 53);
	no_entry(&e, &p, "on loopback, forgotten");
	dp_iface_forget(dp_test_dp(e.t), hi);
	dp_test_arrive_on(e.t, hi);
	no_entry(&e, &p, "on the veth, forgotten");
	bpf_env_close(&e);
}

/* ---- the flow table's filter (abi.h XNSG_SEEN_*) -------------------- */

static __u64 seen_word(const struct bpf_env *e, __u32 i)
{
	__u64 w = 0;

	cr_assert_eq(bpf_map_lookup_elem(dp_test_map_fd(e->t, XNSG_MAP_CT_SEEN), &i, &w), 0,
		     "xnsg_ct_seen[%u] reads", i);
	return w;
}

static void seen_state_set(const struct bpf_env *e, __u64 s)
{
	__u32 i = XNSG_SEEN_STATE;

	cr_assert_eq(bpf_map_update_elem(dp_test_map_fd(e->t, XNSG_MAP_CT_SEEN), &i, &s, BPF_ANY), 0,
		     "the filter's state word writes");
}

static __u64 now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec;
}

/* The state word as it is, its last change moved back by `ago` seconds
 * (so that a rebuild need not wait XNSG_SEEN_SETTLE_S). */
static void seen_age(const struct bpf_env *e, __u64 ago)
{
	__u64 s = seen_word(e, XNSG_SEEN_STATE);

	seen_state_set(e, (s & 0xffffffffull) | (now_s() - ago) << XNSG_SEEN_TIME_SHIFT);
}

struct find_port {
	uint16_t port;
	struct xnsg_ct_key k;
	int found;
};

static enum dp_ct_action find_port(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct find_port *f = arg;

	(void)v;
	if (k->port_a == f->port || k->port_b == f->port) {
		f->k = *k;
		f->found++;
	}
	return DP_CT_KEEP;
}

static enum dp_ct_action delete_port(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct find_port *f = arg;
	int before = f->found;

	find_port(k, v, arg);
	return f->found != before ? DP_CT_DELETE : DP_CT_KEEP;
}

/* Whether the bit of the flow with an end on `port` is set in half h. */
static int seen_has(const struct bpf_env *e, uint16_t port, __u32 h)
{
	struct find_port f = { .port = port };
	struct dp dp = ct_dp(e);
	struct xnsg_ct4_key k4;
	__u32 bit;

	dp_ct_walk(&dp, find_port, &f, NULL);
	cr_assert_eq(f.found, 1, "one flow on port %u", port);
	if (f.k.family == 4) {
		xnsg_ct4_key_of(&k4, &f.k);
		bit = xnsg_seen_bit4(&k4);
	} else {
		bit = xnsg_seen_bit6(&f.k);
	}
	return (seen_word(e, XNSG_SEEN_AT(bit >> 6, h)) >> (bit & 63)) & 1;
}

/* The instance's flow table with its filter: a walk rebuilds it. */
static struct dp seen_dp(const struct bpf_env *e)
{
	struct dp dp = ct_dp(e);

	dp.fd_ct_seen = dp_test_map_fd(e->t, XNSG_MAP_CT_SEEN);
	cr_assert(dp.fd_ct_seen >= 0, "the instance's flow-table filter");
	return dp;
}

/* A packet of no flow the table ever held does not look it up; one of a
 * flow does.  The bit the datapath sets is the one user space computes. */
static void seen_spares(const struct bpf_env *e, const struct fam *f)
{
	struct xnsg_verdict v;
	struct pkt p;

	cr_assert_eq(seen_word(e, XNSG_SEEN_STATE) & (XNSG_SEEN_ON | XNSG_SEEN_BUSY), XNSG_SEEN_ON,
		     "a new instance's filter is on, no rebuild holding it");
	udp(f, &p, IN, 5000, 5353);
	v = step(e, IN, &p, "inbound, no flow", DENIED_BY("DenyAllInBound"));
	cr_expect_eq(v.ct_looked, 0, "a packet of no flow does not look the table up");
	udp(f, &p, OUT, 4000, 53);
	v = step(e, OUT, &p, "outbound first packet", ALLOWED_BY("AllowInternetOutBound"));
	cr_expect_eq(v.ct_looked, 0, "the first packet of a flow does not look it up");
	cr_expect(seen_has(e, 4000, 0) && seen_has(e, 4000, 1),
		  "the new flow's bit is set in both halves, as user space computes it");
	udp(f, &p, IN, 4000, 53);
	v = step(e, IN, &p, "the reply", BY_FLOW);
	cr_expect_eq(v.ct_looked, 1, "a packet of a tracked flow looks it up");
}
BOTH_FAMILIES(filter_spares_the_lookup_of_no_flow, seen_spares)

/* A rebuild keeps every flow the table holds and sheds the bits of the
 * flows gone; it waits XNSG_SEEN_SETTLE_S after the last. */
static void seen_rebuild(const struct bpf_env *e, const struct fam *f)
{
	struct find_port gone = { .port = 4001 };
	struct dp dp = ct_dp(e), sdp = seen_dp(e);
	struct xnsg_verdict v;
	__u64 s0, s1;
	struct pkt p;

	for (uint16_t port = 4000; port <= 4002; port++) {
		udp(f, &p, OUT, port, 53);
		step(e, OUT, &p, "outbound first packet", ALLOWED_BY("AllowInternetOutBound"));
	}
	dp_ct_walk(&dp, delete_port, &gone, NULL); /* without the filter: no rebuild */
	cr_assert_eq(gone.found, 1, "the flow on port 4001 removed");
	seen_age(e, 10);
	s0 = seen_word(e, XNSG_SEEN_STATE);
	cr_assert_eq(ct_entries(e), 2, "two flows left");
	dp_ct_walk(&sdp, count_one, &(size_t){ 0 }, NULL);
	s1 = seen_word(e, XNSG_SEEN_STATE);
	cr_expect_eq(s1 & (XNSG_SEEN_ON | XNSG_SEEN_BUSY), XNSG_SEEN_ON, "on after the rebuild, not held");
	cr_expect_neq(s1 & XNSG_SEEN_HALF, s0 & XNSG_SEEN_HALF, "the rebuilt half is the active one");
	cr_expect_geq(s1 >> XNSG_SEEN_TIME_SHIFT, now_s() - 1, "its time is the rebuild's");
	for (uint16_t port = 4000; port <= 4002; port += 2) {
		udp(f, &p, IN, port, 53);
		v = step(e, IN, &p, "a reply of a flow kept", BY_FLOW);
		cr_expect_eq(v.ct_looked, 1, "looked up");
	}
	udp(f, &p, IN, 4001, 53);
	v = step(e, IN, &p, "a reply of the flow removed", DENIED_BY("DenyAllInBound"));
	cr_expect_eq(v.ct_looked, 0, "the removed flow's bit is gone with the rebuild");
	dp_ct_walk(&sdp, count_one, &(size_t){ 0 }, NULL);
	cr_expect_eq(seen_word(e, XNSG_SEEN_STATE), s1, "no second rebuild within %d s",
		     XNSG_SEEN_SETTLE_S);

	/* A flow the rebuilding walk itself deletes loses its bit too. */
	seen_age(e, 10);
	gone = (struct find_port){ .port = 4000 };
	dp_ct_walk(&sdp, delete_port, &gone, NULL);
	cr_assert_eq(gone.found, 1, "the walk removed the flow on port 4000");
	cr_expect_neq(seen_word(e, XNSG_SEEN_STATE) & XNSG_SEEN_HALF, s1 & XNSG_SEEN_HALF,
		      "that walk rebuilt the filter");
	udp(f, &p, IN, 4000, 53);
	v = step(e, IN, &p, "a reply of the flow the walk removed", DENIED_BY("DenyAllInBound"));
	cr_expect_eq(v.ct_looked, 0, "its bit went with it");
}
BOTH_FAMILIES(filter_rebuild_keeps_flows_and_sheds_the_gone, seen_rebuild)

/* A flow made after a rebuild cleared its half and listed the table is in
 * the half it makes active: the datapath sets both. */
static void seen_during(const struct bpf_env *e, const struct fam *f)
{
	struct dp sdp = seen_dp(e);
	struct xnsg_verdict v;
	struct dp_seen r;
	struct pkt p;

	seen_age(e, 10);
	dp_seen_begin(&sdp, &r);
	cr_assert_not_null(r.m, "the rebuild starts");
	cr_expect(seen_word(e, XNSG_SEEN_STATE) & XNSG_SEEN_BUSY, "and holds the state word");
	udp(f, &p, OUT, 4100, 53);
	step(e, OUT, &p, "a flow made during the rebuild", ALLOWED_BY("AllowInternetOutBound"));
	dp_seen_end(&r, true);
	udp(f, &p, IN, 4100, 53);
	v = step(e, IN, &p, "its reply after the rebuild", BY_FLOW);
	cr_expect_eq(v.ct_looked, 1, "looked up");
}
BOTH_FAMILIES(filter_keeps_a_flow_made_during_a_rebuild, seen_during)

/* Off stays off; one rebuild at a time, a dead one's hold given up. */
Test(conntrack, filter_state_word)
{
	struct bpf_env e;
	struct dp_seen r;
	struct dp sdp;
	struct pkt p;

	bpf_env_open(&e, policy_json, "test_conntrack.json", "eth0", 0);
	sdp = seen_dp(&e);
	seen_state_set(&e, 0);
	dp_seen_begin(&sdp, &r);
	cr_expect_null(r.m, "no rebuild of a filter that is off");
	udp(&fam4, &p, IN, 5000, 5353);
	cr_expect_eq(step(&e, IN, &p, "off: inbound, no flow", DENIED_BY("DenyAllInBound")).ct_looked, 1,
		     "off: every packet looks the table up");
	seen_state_set(&e, XNSG_SEEN_ON | XNSG_SEEN_BUSY | (now_s() - 5) << XNSG_SEEN_TIME_SHIFT);
	dp_seen_begin(&sdp, &r);
	cr_expect_null(r.m, "no rebuild while another holds the word");
	seen_state_set(&e, XNSG_SEEN_ON | XNSG_SEEN_BUSY |
			   (now_s() - XNSG_SEEN_STALE_S - 1) << XNSG_SEEN_TIME_SHIFT);
	dp_seen_begin(&sdp, &r);
	cr_expect_not_null(r.m, "a hold older than %d s is taken over", XNSG_SEEN_STALE_S);
	dp_seen_end(&r, false);
	cr_expect_eq(seen_word(&e, XNSG_SEEN_STATE) & (XNSG_SEEN_ON | XNSG_SEEN_BUSY | XNSG_SEEN_HALF),
		     XNSG_SEEN_ON, "a listing cut short leaves the active half as it was");
	bpf_env_close(&e);
}
