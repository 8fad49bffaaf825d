// SPDX-License-Identifier: MIT
/*
 * The reference evaluator against docs/DESIGN.md §2 and the examples of
 * (Microsoft's NSG overview and Azure's "how network security groups filter traffic":
 * VM1-VM4; "application security groups": AsgWeb/AsgLogic/AsgDb).
 * Expectations come from those texts, not from the code.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "eval.h"
#include "model.h"
#include "policy.h"

#define TCP 6
#define UDP 17
#define ICMP 1
#define ICMPV6 58
#define ESP 50
#define AH 51
#define IN XNSG_IN
#define OUT XNSG_OUT

/* A rule flat on its object (docs/DESIGN.md §1 allows it), one port / prefix each. */
#define RULE(name, prio, dir, access, proto, src, sport, dst, dport)                    \
	"{\"name\":\"" name "\",\"priority\":" #prio ",\"direction\":\"" dir              \
	"\",\"access\":\"" access "\",\"protocol\":\"" proto                              \
	"\",\"sourceAddressPrefix\":\"" src "\",\"sourcePortRange\":\"" sport             \
	"\",\"destinationAddressPrefix\":\"" dst "\",\"destinationPortRange\":\"" dport "\"}"

static struct policy *load(const char *json)
{
	struct diag_list d = {};
	struct policy *p = NULL;
	int err = policy_parse_string(json, "test.json", NULL, &p, &d);

	if (err)
		diag_print(stderr, "test.json", &d);
	cr_assert_eq(err, 0, "the test policy is valid (err %d, %zu errors, see stderr)", err,
		     d.nerrors);
	cr_assert_not_null(p, "policy_parse_string returned a policy");
	diag_free(&d);
	return p;
}

static struct xnsg_addr addr(const char *s)
{
	struct xnsg_addr a;

	cr_assert_eq(addr_parse(s, &a), 0, "test address %s parses", s);
	return a;
}

static struct eval_result run(const struct policy *p, const char *ifname, enum xnsg_dir dir,
			      uint8_t proto, const char *local, uint16_t lport,
			      const char *remote, uint16_t rport)
{
	struct eval_query q = {
		.iface = policy_find_iface(p, ifname), .dir = dir, .ipproto = proto,
		.local = addr(local), .remote = addr(remote), .lport = lport, .rport = rport,
	};
	struct eval_result r;

	cr_assert_geq(q.iface, 0, "interface %s is in the test policy", ifname);
	eval_flow(p, &q, &r);
	return r;
}

/* "NSG/RULE" of a level, "-" without NSG, "NSG/?" when no rule matched. */
static void level_str(const struct policy *p, const struct eval_level *l, char *buf, size_t n)
{
	if (l->nsg < 0)
		snprintf(buf, n, "-");
	else if (l->rule < 0)
		snprintf(buf, n, "%s/?", p->nsgs[l->nsg].name);
	else
		snprintf(buf, n, "%s/%s", p->nsgs[l->nsg].name, p->nsgs[l->nsg].rules[l->rule].name);
}

/* "Allow NSG/RULE", "Deny NSG/RULE", or "Allow" when not filtered. */
static void verdict(const struct policy *p, const struct eval_result *r, char *buf, size_t n)
{
	char l[128];

	if (r->decisive < 0) {
		snprintf(buf, n, "%s", r->allow ? "Allow" : "Deny");
		return;
	}
	level_str(p, &r->level[r->decisive], l, sizeof(l));
	snprintf(buf, n, "%s %s", r->allow ? "Allow" : "Deny", l);
}

/* The flow's verdict and deciding rule must be `want`. */
static void expect(const struct policy *p, const char *ifname, enum xnsg_dir dir, uint8_t proto,
		   const char *local, uint16_t lport, const char *remote, uint16_t rport,
		   const char *want)
{
	struct eval_result r = run(p, ifname, dir, proto, local, lport, remote, rport);
	char got[160];

	verdict(p, &r, got, sizeof(got));
	cr_expect_str_eq(got, want, "%s %s proto %u local %s:%u remote %s:%u: got '%s', want '%s'",
			 ifname, dir == IN ? "in" : "out", proto, local, lport, remote, rport,
			 got, want);
}

/* One NSG on the NIC of eth0 (10.1.1.4, fd00:1::4), VNet 10.1.0.0/16 + fd00:1::/48. */
static struct policy *nic_policy(const char *rules)
{
	char *json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]},"
		"\"serviceTags\":{\"Storage.WestUS\":[\"20.38.0.0/16\"]},"
		"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[%s]}],"
		"\"subnets\":[{\"name\":\"s\",\"addressPrefix\":\"10.1.1.0/24\"}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"subnet\":\"s\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"10.1.1.4\",\"fd00:1::4\"]}]}",
		rules);
	struct policy *p = load(json);

	free(json);
	return p;
}

/* ---- default rules -------------------------------------------------- */

Test(eval, default_rules_inbound)
{
	struct policy *p = nic_policy("");

	expect(p, "eth0", IN, TCP, "10.1.1.4", 22, "10.1.2.5", 40000, "Allow nsg/AllowVnetInBound");
	expect(p, "eth0", IN, ICMP, "10.1.1.4", 0, "10.1.200.1", 0, "Allow nsg/AllowVnetInBound");
	expect(p, "eth0", IN, TCP, "fd00:1::4", 22, "fd00:1:0:9::1", 40000,
	       "Allow nsg/AllowVnetInBound");
	/* 168.63.129.16 is in VirtualNetwork (docs/DESIGN.md §2), which comes first. */
	expect(p, "eth0", IN, TCP, "10.1.1.4", 80, "168.63.129.16", 40000,
	       "Allow nsg/AllowVnetInBound");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 22, "8.8.8.8", 40000, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", IN, UDP, "10.1.1.4", 53, "192.168.1.1", 53, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", IN, ICMPV6, "fd00:1::4", 0, "2001:db8::1", 0, "Deny nsg/DenyAllInBound");
	policy_free(p);
}

Test(eval, default_rules_outbound)
{
	struct policy *p = nic_policy("");

	expect(p, "eth0", OUT, TCP, "10.1.1.4", 40000, "10.1.9.9", 443, "Allow nsg/AllowVnetOutBound");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 40000, "8.8.8.8", 443,
	       "Allow nsg/AllowInternetOutBound");
	expect(p, "eth0", OUT, TCP, "fd00:1::4", 40000, "2001:4860::1", 443,
	       "Allow nsg/AllowInternetOutBound");
	/* Private space outside the VNet is neither VirtualNetwork nor Internet. */
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 40000, "192.168.1.1", 443,
	       "Deny nsg/DenyAllOutBound");
	expect(p, "eth0", OUT, UDP, "10.1.1.4", 40000, "172.16.0.1", 53, "Deny nsg/DenyAllOutBound");
	expect(p, "eth0", OUT, ICMPV6, "fd00:1::4", 0, "fd99::1", 0, "Deny nsg/DenyAllOutBound");
	policy_free(p);
}

Test(eval, default_rules_shape)
{
	static const struct { const char *name; int prio; enum xnsg_dir dir; bool allow; } want[] = {
		{ "AllowVnetInBound", 65000, IN, true },
		{ "AllowAzureLoadBalancerInBound", 65001, IN, true },
		{ "DenyAllInBound", 65500, IN, false },
		{ "AllowVnetOutBound", 65000, OUT, true },
		{ "AllowInternetOutBound", 65001, OUT, true },
		{ "DenyAllOutBound", 65500, OUT, false },
	};
	struct policy *p = nic_policy("");

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t n;
		const struct rule *r = nsg_rules(&p->nsgs[0], want[i].dir, &n);
		bool found = false;

		for (size_t j = 0; j < n; j++) {
			if (strcmp(r[j].name, want[i].name))
				continue;
			found = true;
			cr_expect_eq(r[j].priority, want[i].prio, "%s has priority %d", want[i].name,
				     want[i].prio);
			cr_expect_eq(r[j].allow, want[i].allow, "%s access", want[i].name);
			cr_expect(r[j].is_default, "%s is marked default", want[i].name);
			cr_expect_eq(r[j].proto, XNSG_PROTO_ANY, "%s has protocol *", want[i].name);
			cr_expect(r[j].sport.any && r[j].dport.any, "%s has ports *", want[i].name);
		}
		cr_expect(found, "default rule %s is present in its direction", want[i].name);
	}
	policy_free(p);
}

Test(eval, load_balancer_default_rule)
{
	struct policy *p = load(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
		"\"serviceTags\":{\"AzureLoadBalancer\":[\"198.51.100.7/32\"]},"
		"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"10.1.1.4\"]}]}");

	expect(p, "eth0", IN, TCP, "10.1.1.4", 80, "198.51.100.7", 40000,
	       "Allow nsg/AllowAzureLoadBalancerInBound");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 80, "198.51.100.8", 40000, "Deny nsg/DenyAllInBound");
	policy_free(p);
}

/* ---- priority order ------------------------------------------------- */

Test(eval, priority_order_first_match)
{
	/* Written out of order: the lower number must still win. */
	struct policy *p = nic_policy(
		RULE("AllowWeb", 300, "Inbound", "Allow", "Tcp", "*", "*", "*", "80") ","
		RULE("DenyWeb", 200, "Inbound", "Deny", "Tcp", "*", "*", "*", "80") ","
		RULE("AllowSsh", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "*", "22") ","
		RULE("AllowAll", 4096, "Inbound", "Allow", "*", "*", "*", "*", "*") ","
		RULE("DenyVnetTo81", 150, "Inbound", "Deny", "*", "VirtualNetwork", "*", "*", "81"));

	expect(p, "eth0", IN, TCP, "10.1.1.4", 80, "8.8.8.8", 40000, "Deny nsg/DenyWeb");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 22, "8.8.8.8", 40000, "Allow nsg/AllowSsh");
	/* A user rule beats the default AllowVnetInBound. */
	expect(p, "eth0", IN, TCP, "10.1.1.4", 81, "10.1.7.7", 40000, "Deny nsg/DenyVnetTo81");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 81, "8.8.8.8", 40000, "Allow nsg/AllowAll");
	/* A 4096 allow-all overrides DenyAllInBound (65500). */
	expect(p, "eth0", IN, UDP, "10.1.1.4", 9, "203.0.113.9", 9, "Allow nsg/AllowAll");
	/* Inbound rules never judge outbound packets. */
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 80, "192.168.9.9", 80, "Deny nsg/DenyAllOutBound");
	policy_free(p);
}

/* ---- protocols and ports -------------------------------------------- */

Test(eval, port_rules_match_only_tcp_udp)
{
	struct policy *p = nic_policy(
		RULE("AnyProto80", 100, "Inbound", "Allow", "*", "*", "*", "*", "80") ","
		RULE("AnySrcPort", 110, "Inbound", "Allow", "*", "*", "1024-65535", "*", "*") ","
		/* Holds port 0, what a portless packet would look like. */
		RULE("AnyProtoLow", 120, "Inbound", "Allow", "*", "*", "*", "*", "0-10"));
	const struct rule *r80 = &p->nsgs[0].rules[0];
	struct xnsg_addr src = addr("8.8.8.8"), dst = addr("10.1.1.4");

	cr_assert_str_eq(r80->name, "AnyProto80", "the first rule");
	cr_expect(eval_rule_matches(p, r80, UDP, &src, 1, &dst, 80), "UDP port 80 matches");
	cr_expect(!eval_rule_matches(p, r80, ICMP, &src, 0, &dst, 80),
		  "an ICMP packet never matches a port-restricted rule, whatever its ports");
	cr_expect(!eval_rule_matches(p, r80, ESP, &src, 80, &dst, 80),
		  "an ESP packet never matches a port-restricted rule");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 80, "8.8.8.8", 40000, "Allow nsg/AnyProto80");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 5, "8.8.8.8", 1000, "Allow nsg/AnyProtoLow");
	expect(p, "eth0", IN, UDP, "10.1.1.4", 80, "8.8.8.8", 53, "Allow nsg/AnyProto80");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 443, "8.8.8.8", 40000, "Allow nsg/AnySrcPort");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 443, "8.8.8.8", 1023, "Deny nsg/DenyAllInBound");
	/* ICMP, ESP, AH have no ports: port-restricted rules never match. */
	expect(p, "eth0", IN, ICMP, "10.1.1.4", 80, "8.8.8.8", 40000, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", IN, ICMPV6, "fd00:1::4", 0, "2001:4860::1", 0, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", IN, ESP, "10.1.1.4", 0, "8.8.8.8", 0, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", IN, 132 /* SCTP */, "10.1.1.4", 80, "8.8.8.8", 40000,
	       "Deny nsg/DenyAllInBound");
	policy_free(p);
}

Test(eval, full_port_range_is_any)
{
	/* '0-65535' is '*': it does not restrict, so ICMP matches. */
	struct policy *p = nic_policy(
		RULE("AllowFullRange", 100, "Inbound", "Allow", "*", "*", "0-65535", "*", "0-65535"));
	const struct rule *r;
	size_t n;

	r = nsg_rules(&p->nsgs[0], IN, &n);
	cr_assert_str_eq(r[0].name, "AllowFullRange", "the user rule comes first");
	cr_expect(r[0].sport.any && r[0].dport.any, "0-65535 is parsed as any");
	expect(p, "eth0", IN, ICMP, "10.1.1.4", 0, "8.8.8.8", 0, "Allow nsg/AllowFullRange");
	expect(p, "eth0", IN, AH, "10.1.1.4", 0, "8.8.8.8", 0, "Allow nsg/AllowFullRange");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 0, "8.8.8.8", 65535, "Allow nsg/AllowFullRange");
	policy_free(p);
}

Test(eval, protocols)
{
	struct policy *p = nic_policy(
		RULE("Icmp", 100, "Inbound", "Allow", "Icmp", "*", "*", "*", "*") ","
		RULE("Udp", 110, "Inbound", "Allow", "Udp", "*", "*", "*", "*") ","
		RULE("Esp", 120, "Inbound", "Allow", "Esp", "*", "*", "*", "*") ","
		RULE("Ah", 130, "Inbound", "Allow", "Ah", "*", "*", "*", "*") ","
		RULE("Tcp443", 140, "Inbound", "Allow", "Tcp", "*", "*", "*", "443"));

	/* Icmp matches ICMP and ICMPv6 (docs/DESIGN.md §2). */
	expect(p, "eth0", IN, ICMP, "10.1.1.4", 0, "8.8.8.8", 0, "Allow nsg/Icmp");
	expect(p, "eth0", IN, ICMPV6, "fd00:1::4", 0, "2001:4860::1", 0, "Allow nsg/Icmp");
	expect(p, "eth0", IN, UDP, "10.1.1.4", 443, "8.8.8.8", 5000, "Allow nsg/Udp");
	expect(p, "eth0", IN, ESP, "10.1.1.4", 0, "8.8.8.8", 0, "Allow nsg/Esp");
	expect(p, "eth0", IN, AH, "10.1.1.4", 0, "8.8.8.8", 0, "Allow nsg/Ah");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 443, "8.8.8.8", 5000, "Allow nsg/Tcp443");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 444, "8.8.8.8", 5000, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", IN, 47 /* GRE */, "10.1.1.4", 0, "8.8.8.8", 0, "Deny nsg/DenyAllInBound");
	policy_free(p);
}

Test(eval, rule_matches_directly)
{
	struct policy *p = nic_policy(
		RULE("Tcp80", 100, "Inbound", "Allow", "Tcp", "*", "*", "10.1.1.0/24", "80-81"));
	struct xnsg_addr src = addr("8.8.8.8"), dst = addr("10.1.1.4"), other = addr("10.1.2.4");
	const struct rule *r = &p->nsgs[0].rules[0];

	cr_assert_str_eq(r->name, "Tcp80", "the user rule comes first");
	cr_expect(eval_rule_matches(p, r, TCP, &src, 1, &dst, 80), "tcp to port 80 matches");
	cr_expect(eval_rule_matches(p, r, TCP, &src, 1, &dst, 81), "port range end is inclusive");
	cr_expect(!eval_rule_matches(p, r, TCP, &src, 1, &dst, 82), "port 82 is outside 80-81");
	cr_expect(!eval_rule_matches(p, r, TCP, &src, 1, &other, 80), "10.1.2.4 is outside the /24");
	cr_expect(!eval_rule_matches(p, r, UDP, &src, 1, &dst, 80), "a Tcp rule ignores UDP");
	cr_expect(!eval_rule_matches(p, r, ICMP, &src, 0, &dst, 80), "a Tcp rule ignores ICMP");
	policy_free(p);
}

/* ---- address families ---------------------------------------------- */

Test(eval, star_v4_any_v6_any)
{
	struct policy *p = nic_policy(
		RULE("V4Only", 100, "Inbound", "Deny", "Tcp", "0.0.0.0/0", "*", "*", "1000") ","
		RULE("V6Only", 110, "Inbound", "Deny", "Tcp", "::/0", "*", "*", "1000") ","
		RULE("Star", 120, "Inbound", "Deny", "Tcp", "*", "*", "*", "2000") ","
		RULE("AnyWord", 130, "Inbound", "Deny", "Tcp", "Any", "*", "*", "3000"));

	expect(p, "eth0", IN, TCP, "10.1.1.4", 1000, "10.1.2.2", 5, "Deny nsg/V4Only");
	expect(p, "eth0", IN, TCP, "fd00:1::4", 1000, "fd00:1::2", 5, "Deny nsg/V6Only");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 2000, "10.1.2.2", 5, "Deny nsg/Star");
	expect(p, "eth0", IN, TCP, "fd00:1::4", 2000, "fd00:1::2", 5, "Deny nsg/Star");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 3000, "10.1.2.2", 5, "Deny nsg/AnyWord");
	expect(p, "eth0", IN, TCP, "fd00:1::4", 3000, "fd00:1::2", 5, "Deny nsg/AnyWord");
	policy_free(p);
}

Test(eval, ipv6_prefixes)
{
	struct policy *p = nic_policy(
		RULE("DenyNet", 100, "Inbound", "Deny", "*", "2001:db8:bad::/48", "*", "*", "*") ","
		RULE("AllowDoc", 110, "Inbound", "Allow", "Tcp", "2001:db8::/32", "*",
		     "fd00:1::4/128", "443") ","
		RULE("DenyOutHost", 100, "Outbound", "Deny", "Udp", "*", "*", "2001:db8::53", "53"));

	expect(p, "eth0", IN, TCP, "fd00:1::4", 443, "2001:db8:bad::1", 5000, "Deny nsg/DenyNet");
	expect(p, "eth0", IN, TCP, "fd00:1::4", 443, "2001:db8:900d::1", 5000, "Allow nsg/AllowDoc");
	expect(p, "eth0", IN, TCP, "fd00:1::5", 443, "2001:db8:900d::1", 5000,
	       "Deny nsg/DenyAllInBound");
	/* An IPv6 prefix never holds an IPv4 address. */
	expect(p, "eth0", IN, TCP, "10.1.1.4", 443, "32.1.13.184", 5000, "Deny nsg/DenyAllInBound");
	expect(p, "eth0", OUT, UDP, "fd00:1::4", 5000, "2001:db8::53", 53, "Deny nsg/DenyOutHost");
	expect(p, "eth0", OUT, UDP, "fd00:1::4", 5000, "2001:db8::54", 53,
	       "Allow nsg/AllowInternetOutBound");
	policy_free(p);
}

/* ---- tags ----------------------------------------------------------- */

/* A VNet in public space so that "outside the VNet" is visible. */
static struct policy *public_vnet_policy(const char *rules)
{
	char *json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"203.0.113.0/24\",\"2001:db8:1::/48\"],"
		"\"connectedPrefixes\":[\"198.51.100.0/24\"]},"
		"\"serviceTags\":{\"Storage.WestUS\":[\"20.38.0.0/16\"]},"
		"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":[%s]}],"
		"\"interfaces\":[{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\","
		"\"ipAddresses\":[\"203.0.113.4\",\"2001:db8:1::4\"]}]}",
		rules);
	struct policy *p = load(json);

	free(json);
	return p;
}

Test(eval, internet_tag_definition)
{
	static const char *const outside[] = {
		"0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
		"127.0.0.1", "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255",
		"203.0.113.77",   /* the VNet itself */
		"198.51.100.9",   /* its connected prefixes */
		"168.63.129.16",  /* part of VirtualNetwork */
		"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "ff02::1",
		"2001:db8:1::99", /* the VNet's IPv6 prefix */
	};
	static const char *const inside[] = {
		"8.8.8.8", "1.1.1.1", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
		"126.255.255.255", "128.0.0.1", "169.253.0.1", "172.15.255.255", "172.32.0.0",
		"192.167.255.255", "192.169.0.0", "223.255.255.255", "20.38.1.1", "168.63.129.17",
		"2001:4860::1", "2606:4700::1111", "2001:db8:2::1", "fec0::1", "fbff::1", "::2",
	};
	struct policy *p = public_vnet_policy("");

	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		struct xnsg_addr a = addr(outside[i]);

		cr_expect(!eval_in_internet(p, &a), "%s is not in the Internet tag", outside[i]);
	}
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		struct xnsg_addr a = addr(inside[i]);

		cr_expect(eval_in_internet(p, &a), "%s is in the Internet tag", inside[i]);
	}
	policy_free(p);
}

Test(eval, internet_tag_in_rules)
{
	struct policy *p = public_vnet_policy(
		RULE("DenyInternetOut", 100, "Outbound", "Deny", "*", "*", "*", "Internet", "*"));

	expect(p, "eth0", OUT, TCP, "203.0.113.4", 5000, "8.8.8.8", 443, "Deny nsg/DenyInternetOut");
	expect(p, "eth0", OUT, TCP, "2001:db8:1::4", 5000, "2001:4860::1", 443,
	       "Deny nsg/DenyInternetOut");
	expect(p, "eth0", OUT, TCP, "203.0.113.4", 5000, "203.0.113.9", 443,
	       "Allow nsg/AllowVnetOutBound");
	expect(p, "eth0", OUT, TCP, "203.0.113.4", 5000, "198.51.100.1", 443,
	       "Allow nsg/AllowVnetOutBound");
	expect(p, "eth0", OUT, TCP, "203.0.113.4", 5000, "192.168.0.1", 443,
	       "Deny nsg/DenyAllOutBound");
	policy_free(p);
}

Test(eval, virtual_network_and_service_tags)
{
	struct policy *p = public_vnet_policy(
		RULE("DenyVnet", 100, "Inbound", "Deny", "Tcp", "VirtualNetwork", "*", "*", "22") ","
		RULE("AllowLb", 110, "Inbound", "Allow", "Tcp", "AzureLoadBalancer", "*", "*", "*") ","
		RULE("DenyStorage", 100, "Outbound", "Deny", "Tcp", "*", "*", "Storage.WestUS", "443"));

	expect(p, "eth0", IN, TCP, "203.0.113.4", 22, "203.0.113.5", 5000, "Deny nsg/DenyVnet");
	expect(p, "eth0", IN, TCP, "203.0.113.4", 22, "198.51.100.5", 5000, "Deny nsg/DenyVnet");
	expect(p, "eth0", IN, TCP, "2001:db8:1::4", 22, "2001:db8:1::5", 5000, "Deny nsg/DenyVnet");
	expect(p, "eth0", IN, TCP, "203.0.113.4", 22, "168.63.129.16", 5000, "Deny nsg/DenyVnet");
	expect(p, "eth0", IN, TCP, "203.0.113.4", 80, "168.63.129.16", 5000, "Allow nsg/AllowLb");
	expect(p, "eth0", IN, TCP, "203.0.113.4", 80, "168.63.129.17", 5000,
	       "Deny nsg/DenyAllInBound");
	expect(p, "eth0", OUT, TCP, "203.0.113.4", 5000, "20.38.4.4", 443, "Deny nsg/DenyStorage");
	expect(p, "eth0", OUT, TCP, "203.0.113.4", 5000, "20.39.4.4", 443,
	       "Allow nsg/AllowInternetOutBound");
	policy_free(p);
}

/* ---- levels --------------------------------------------------------- */

/*
 * eth0: subnet NSG "sub" and NIC NSG "nic".  Ports: 80 both allow, 81
 * subnet denies, 82 NIC denies, 83 both deny; the same both directions.
 * eth1: subnet without NSG, NIC NSG.  eth2: no subnet, NIC NSG.
 * eth3: subnet NSG only.  eth4: nothing at all.
 */
#define LEVEL_RULES(tag, dir, a80, a81, a82, a83)                                        \
	RULE(tag "80", 100, dir, a80, "Tcp", "*", "*", "*", "80") ","                     \
	RULE(tag "81", 110, dir, a81, "Tcp", "*", "*", "*", "81") ","                     \
	RULE(tag "82", 120, dir, a82, "Tcp", "*", "*", "*", "82") ","                     \
	RULE(tag "83", 130, dir, a83, "Tcp", "*", "*", "*", "83")

static struct policy *levels_policy(void)
{
	return load(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
		"\"networkSecurityGroups\":["
		"{\"name\":\"sub\",\"securityRules\":["
		LEVEL_RULES("InS", "Inbound", "Allow", "Deny", "Allow", "Deny") ","
		LEVEL_RULES("OutS", "Outbound", "Allow", "Deny", "Allow", "Deny") "]},"
		"{\"name\":\"nic\",\"securityRules\":["
		LEVEL_RULES("InN", "Inbound", "Allow", "Allow", "Deny", "Deny") ","
		LEVEL_RULES("OutN", "Outbound", "Allow", "Allow", "Deny", "Deny") "]}],"
		"\"subnets\":[{\"name\":\"a\",\"addressPrefix\":\"10.1.1.0/24\",\"networkSecurityGroup\":\"sub\"},"
		"{\"name\":\"b\",\"addressPrefix\":\"10.1.2.0/24\"}],"
		"\"interfaces\":["
		"{\"name\":\"eth0\",\"subnet\":\"a\",\"networkSecurityGroup\":\"nic\",\"ipAddresses\":[\"10.1.1.4\"]},"
		"{\"name\":\"eth1\",\"subnet\":\"b\",\"networkSecurityGroup\":\"nic\",\"ipAddresses\":[\"10.1.2.4\"]},"
		"{\"name\":\"eth2\",\"networkSecurityGroup\":\"nic\",\"ipAddresses\":[\"10.1.3.4\"]},"
		"{\"name\":\"eth3\",\"subnet\":\"a\",\"ipAddresses\":[\"10.1.1.5\"]},"
		"{\"name\":\"eth4\",\"subnet\":\"b\",\"ipAddresses\":[\"10.1.2.5\"]}]}");
}

Test(eval, inbound_subnet_then_nic)
{
	struct policy *p = levels_policy();
	struct eval_result r = run(p, "eth0", IN, TCP, "10.1.1.4", 83, "8.8.8.8", 5000);

	cr_expect_eq(r.level[0].scope, EVAL_SUBNET, "inbound: the subnet level comes first");
	cr_expect_eq(r.level[1].scope, EVAL_NIC, "inbound: the NIC level comes second");
	cr_expect_eq(r.decisive, 0, "inbound, both deny: the subnet decides");
	/* The NIC level is still evaluated, for verify. */
	cr_expect(!r.level[1].allow && r.level[1].rule >= 0 &&
		  !strcmp(p->nsgs[r.level[1].nsg].rules[r.level[1].rule].name, "InN83"),
		  "inbound, both deny: the NIC level's own rule InN83 is recorded");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 80, "8.8.8.8", 5000, "Allow nic/InN80");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 81, "8.8.8.8", 5000, "Deny sub/InS81");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 82, "8.8.8.8", 5000, "Deny nic/InN82");
	expect(p, "eth0", IN, TCP, "10.1.1.4", 83, "8.8.8.8", 5000, "Deny sub/InS83");
	/* Neither has a rule for 84: the subnet's DenyAllInBound decides. */
	expect(p, "eth0", IN, TCP, "10.1.1.4", 84, "8.8.8.8", 5000, "Deny sub/DenyAllInBound");
	policy_free(p);
}

Test(eval, outbound_nic_then_subnet)
{
	struct policy *p = levels_policy();
	struct eval_result r = run(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "8.8.8.8", 83);

	cr_expect_eq(r.level[0].scope, EVAL_NIC, "outbound: the NIC level comes first");
	cr_expect_eq(r.level[1].scope, EVAL_SUBNET, "outbound: the subnet level comes second");
	cr_expect_eq(r.decisive, 0, "outbound, both deny: the NIC decides");
	cr_expect(!r.level[1].allow, "outbound, both deny: the subnet level's opinion is recorded");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "8.8.8.8", 80, "Allow sub/OutS80");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "8.8.8.8", 81, "Deny sub/OutS81");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "8.8.8.8", 82, "Deny nic/OutN82");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "8.8.8.8", 83, "Deny nic/OutN83");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "8.8.8.8", 84,
	       "Allow sub/AllowInternetOutBound");
	policy_free(p);
}

Test(eval, levels_without_nsg)
{
	struct policy *p = levels_policy();
	struct eval_result r;

	/* eth1: subnet without NSG: only the NIC NSG judges. */
	expect(p, "eth1", IN, TCP, "10.1.2.4", 81, "8.8.8.8", 5000, "Allow nic/InN81");
	expect(p, "eth1", IN, TCP, "10.1.2.4", 82, "8.8.8.8", 5000, "Deny nic/InN82");
	r = run(p, "eth1", IN, TCP, "10.1.2.4", 81, "8.8.8.8", 5000);
	cr_expect(r.level[0].nsg == -1 && r.level[0].allow,
		  "eth1: the subnet level has no NSG and allows");
	/* eth2: no subnet at all: the subnet level has no NSG. */
	r = run(p, "eth2", OUT, TCP, "10.1.3.4", 5000, "8.8.8.8", 81);
	cr_expect(r.level[1].scope == EVAL_SUBNET && r.level[1].nsg == -1 && r.level[1].allow,
		  "eth2: the subnet level of an interface without subnet has no NSG");
	expect(p, "eth2", OUT, TCP, "10.1.3.4", 5000, "8.8.8.8", 81, "Allow nic/OutN81");
	/* eth3: subnet NSG only. */
	expect(p, "eth3", IN, TCP, "10.1.1.5", 82, "8.8.8.8", 5000, "Allow sub/InS82");
	expect(p, "eth3", OUT, TCP, "10.1.1.5", 5000, "8.8.8.8", 81, "Deny sub/OutS81");
	policy_free(p);
}

Test(eval, interface_without_any_nsg_is_not_filtered)
{
	struct policy *p = levels_policy();
	struct eval_result r = run(p, "eth4", IN, TCP, "10.1.2.5", 22, "8.8.8.8", 5000);

	cr_expect(r.allow, "no NSG at any level: allowed");
	cr_expect_eq(r.decisive, -1, "no NSG at any level: no decisive level");
	cr_expect(r.level[0].nsg == -1 && r.level[1].nsg == -1, "both levels have no NSG");
	expect(p, "eth4", OUT, UDP, "10.1.2.5", 5000, "192.168.1.1", 53, "Allow");
	expect(p, "eth4", IN, ICMP, "10.1.2.5", 0, "8.8.8.8", 0, "Allow");
	policy_free(p);
}

/* ---- Microsoft's examples -------------------------------------------- */

/*
 * Azure's VM1-VM4: Subnet1 has NSG1; VM1 (Subnet1) has NSG2 on its NIC;
 * VM2 (Subnet1) has no NIC NSG; VM3 (Subnet2, no NSG) has NSG2 on its
 * NIC; VM4 (Subnet3) has no NSG anywhere.  Port 80 from the Internet.
 */
static struct policy *vm_policy(bool nsg1_allows_80, bool nsg2_allows_80)
{
	const char *allow80 = RULE("Allow-HTTP", 200, "Inbound", "Allow", "Tcp", "Internet", "*",
				   "*", "80");
	char *json = xasprintf(
		"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.0.0.0/16\"]},"
		"\"networkSecurityGroups\":["
		"{\"name\":\"NSG1\",\"securityRules\":[%s]},"
		"{\"name\":\"NSG2\",\"securityRules\":[%s%s%s]}],"
		"\"subnets\":[{\"name\":\"Subnet1\",\"addressPrefix\":\"10.0.1.0/24\",\"networkSecurityGroup\":\"NSG1\"},"
		"{\"name\":\"Subnet2\",\"addressPrefix\":\"10.0.2.0/24\"},"
		"{\"name\":\"Subnet3\",\"addressPrefix\":\"10.0.3.0/24\"}],"
		"\"interfaces\":["
		"{\"name\":\"VM1\",\"subnet\":\"Subnet1\",\"networkSecurityGroup\":\"NSG2\",\"ipAddresses\":[\"10.0.1.4\"]},"
		"{\"name\":\"VM2\",\"subnet\":\"Subnet1\",\"ipAddresses\":[\"10.0.1.5\"]},"
		"{\"name\":\"VM3\",\"subnet\":\"Subnet2\",\"networkSecurityGroup\":\"NSG2\",\"ipAddresses\":[\"10.0.2.4\"]},"
		"{\"name\":\"VM4\",\"subnet\":\"Subnet3\",\"ipAddresses\":[\"10.0.3.4\"]}]}",
		nsg1_allows_80 ? allow80 : "", nsg2_allows_80 ? allow80 : "",
		nsg2_allows_80 ? "," : "",
		RULE("Deny-Out-8080", 300, "Outbound", "Deny", "Tcp", "*", "*", "*", "8080"));
	struct policy *p = load(json);

	free(json);
	return p;
}

Test(eval, seed_vm1_to_vm4_only_nic_allows)
{
	struct policy *p = vm_policy(false, true);

	/* VM1: NSG1 (subnet) is evaluated first and denies by DenyAllInBound;
	 * NSG2's rule does not help. */
	expect(p, "VM1", IN, TCP, "10.0.1.4", 80, "8.8.8.8", 5000, "Deny NSG1/DenyAllInBound");
	/* VM2: only NSG1 applies. */
	expect(p, "VM2", IN, TCP, "10.0.1.5", 80, "8.8.8.8", 5000, "Deny NSG1/DenyAllInBound");
	/* VM3: only NSG2 (its subnet has none) applies and allows. */
	expect(p, "VM3", IN, TCP, "10.0.2.4", 80, "8.8.8.8", 5000, "Allow NSG2/Allow-HTTP");
	/* VM4: no NSG: all traffic allowed. */
	expect(p, "VM4", IN, TCP, "10.0.3.4", 80, "8.8.8.8", 5000, "Allow");
	expect(p, "VM4", IN, UDP, "10.0.3.4", 9999, "8.8.8.8", 5000, "Allow");
	/* Intra-subnet traffic is filtered too: NSG1's AllowVnetInBound. */
	expect(p, "VM2", IN, TCP, "10.0.1.5", 22, "10.0.1.4", 5000, "Allow NSG1/AllowVnetInBound");
	policy_free(p);
}

Test(eval, seed_vm1_both_must_allow)
{
	struct policy *both = vm_policy(true, true), *subnet_only = vm_policy(true, false);

	/* Both NSG1 and NSG2 allow port 80: VM1 receives it; the NIC's NSG
	 * is the last level with an NSG. */
	expect(both, "VM1", IN, TCP, "10.0.1.4", 80, "8.8.8.8", 5000, "Allow NSG2/Allow-HTTP");
	expect(both, "VM2", IN, TCP, "10.0.1.5", 80, "8.8.8.8", 5000, "Allow NSG1/Allow-HTTP");
	/* Only the subnet allows: NSG2's default rules deny. */
	expect(subnet_only, "VM1", IN, TCP, "10.0.1.4", 80, "8.8.8.8", 5000,
	       "Deny NSG2/DenyAllInBound");
	expect(subnet_only, "VM2", IN, TCP, "10.0.1.5", 80, "8.8.8.8", 5000,
	       "Allow NSG1/Allow-HTTP");
	expect(subnet_only, "VM3", IN, TCP, "10.0.2.4", 80, "8.8.8.8", 5000,
	       "Deny NSG2/DenyAllInBound");
	policy_free(both);
	policy_free(subnet_only);
}

Test(eval, seed_vm_outbound_nic_first)
{
	struct policy *p = vm_policy(true, true);

	/* Outbound: NSG2 (NIC) first; its deny decides for VM1 and VM3. */
	expect(p, "VM1", OUT, TCP, "10.0.1.4", 5000, "8.8.8.8", 8080, "Deny NSG2/Deny-Out-8080");
	expect(p, "VM3", OUT, TCP, "10.0.2.4", 5000, "8.8.8.8", 8080, "Deny NSG2/Deny-Out-8080");
	/* NSG2 allows, then NSG1 (subnet) is the last level and allows. */
	expect(p, "VM1", OUT, TCP, "10.0.1.4", 5000, "8.8.8.8", 443,
	       "Allow NSG1/AllowInternetOutBound");
	expect(p, "VM2", OUT, TCP, "10.0.1.5", 5000, "8.8.8.8", 8080,
	       "Allow NSG1/AllowInternetOutBound");
	expect(p, "VM4", OUT, TCP, "10.0.3.4", 5000, "8.8.8.8", 8080, "Allow");
	policy_free(p);
}

/*
 * Azure's ASG example: NIC1 and NIC2 in AsgWeb, NIC3 in AsgLogic, NIC4 in
 * AsgDb; NSG1 on both subnets, no NSG on any NIC.
 */
#define ASG_REF(name) "[{\"id\":\"/subscriptions/0/resourceGroups/rg/providers/" \
	"Microsoft.Network/applicationSecurityGroups/" name "\"}]"

static struct policy *asg_policy(void)
{
	return load(
		"{\"virtualNetwork\":{\"name\":\"vnet\",\"addressPrefixes\":[\"10.0.0.0/16\"]},"
		"\"applicationSecurityGroups\":{\"AsgWeb\":[],\"AsgLogic\":[],\"AsgDb\":[]},"
		"\"networkSecurityGroups\":[{\"name\":\"NSG1\",\"properties\":{\"securityRules\":["
		"{\"name\":\"Allow-HTTP-Inbound-Internet\",\"properties\":{\"priority\":100,"
		"\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\","
		"\"sourceAddressPrefix\":\"Internet\",\"sourcePortRange\":\"*\","
		"\"destinationApplicationSecurityGroups\":" ASG_REF("AsgWeb") ","
		"\"destinationPortRange\":\"80\"}},"
		"{\"name\":\"Deny-Database-All\",\"properties\":{\"priority\":120,"
		"\"direction\":\"Inbound\",\"access\":\"Deny\",\"protocol\":\"*\","
		"\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
		"\"destinationApplicationSecurityGroups\":" ASG_REF("AsgDb") ","
		"\"destinationPortRange\":\"1433\"}},"
		"{\"name\":\"Allow-Database-BusinessLogic\",\"properties\":{\"priority\":110,"
		"\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\","
		"\"sourceApplicationSecurityGroups\":" ASG_REF("AsgLogic") ",\"sourcePortRange\":\"*\","
		"\"destinationApplicationSecurityGroups\":" ASG_REF("AsgDb") ","
		"\"destinationPortRange\":\"1433\"}}]}}],"
		"\"subnets\":[{\"name\":\"Subnet1\",\"addressPrefix\":\"10.0.1.0/24\",\"networkSecurityGroup\":\"NSG1\"},"
		"{\"name\":\"Subnet2\",\"addressPrefix\":\"10.0.2.0/24\",\"networkSecurityGroup\":\"NSG1\"}],"
		"\"interfaces\":["
		"{\"name\":\"NIC1\",\"subnet\":\"Subnet1\",\"ipAddresses\":[\"10.0.1.4\"],\"applicationSecurityGroups\":[\"AsgWeb\"]},"
		"{\"name\":\"NIC2\",\"subnet\":\"Subnet1\",\"ipAddresses\":[\"10.0.1.5\"],\"applicationSecurityGroups\":[\"AsgWeb\"]},"
		"{\"name\":\"NIC3\",\"subnet\":\"Subnet1\",\"ipAddresses\":[\"10.0.1.6\"],\"applicationSecurityGroups\":[\"AsgLogic\"]},"
		"{\"name\":\"NIC4\",\"subnet\":\"Subnet2\",\"ipAddresses\":[\"10.0.2.4\"],\"applicationSecurityGroups\":[\"AsgDb\"]}]}");
}

Test(eval, seed_asg_web_from_internet)
{
	struct policy *p = asg_policy();

	/* Allow-HTTP-Inbound-Internet: Internet to the web servers on 80. */
	expect(p, "NIC1", IN, TCP, "10.0.1.4", 80, "8.8.8.8", 5000,
	       "Allow NSG1/Allow-HTTP-Inbound-Internet");
	expect(p, "NIC2", IN, TCP, "10.0.1.5", 80, "8.8.8.8", 5000,
	       "Allow NSG1/Allow-HTTP-Inbound-Internet");
	/* Only port 80, only TCP. */
	expect(p, "NIC1", IN, TCP, "10.0.1.4", 443, "8.8.8.8", 5000, "Deny NSG1/DenyAllInBound");
	expect(p, "NIC1", IN, UDP, "10.0.1.4", 80, "8.8.8.8", 5000, "Deny NSG1/DenyAllInBound");
	/* "no additional rules are needed for AsgLogic or AsgDb": DenyAllInBound. */
	expect(p, "NIC3", IN, TCP, "10.0.1.6", 80, "8.8.8.8", 5000, "Deny NSG1/DenyAllInBound");
	expect(p, "NIC4", IN, TCP, "10.0.2.4", 80, "8.8.8.8", 5000, "Deny NSG1/DenyAllInBound");
	policy_free(p);
}

Test(eval, seed_asg_database)
{
	struct policy *p = asg_policy();

	/* Allow-Database-BusinessLogic (110) comes before Deny-Database-All (120). */
	expect(p, "NIC4", IN, TCP, "10.0.2.4", 1433, "10.0.1.6", 5000,
	       "Allow NSG1/Allow-Database-BusinessLogic");
	/* Everything else to AsgDb on 1433 is denied, VNet traffic included,
	 * which AllowVnetInBound would otherwise allow. */
	expect(p, "NIC4", IN, TCP, "10.0.2.4", 1433, "10.0.1.4", 5000,
	       "Deny NSG1/Deny-Database-All");
	expect(p, "NIC4", IN, UDP, "10.0.2.4", 1433, "10.0.1.6", 5000,
	       "Deny NSG1/Deny-Database-All");
	expect(p, "NIC4", IN, TCP, "10.0.2.4", 1433, "8.8.8.8", 5000, "Deny NSG1/Deny-Database-All");
	/* Other ports to the database stay under AllowVnetInBound. */
	expect(p, "NIC4", IN, TCP, "10.0.2.4", 22, "10.0.1.4", 5000, "Allow NSG1/AllowVnetInBound");
	/* The rules name AsgDb: 1433 on a web server is not affected. */
	expect(p, "NIC1", IN, TCP, "10.0.1.4", 1433, "10.0.1.5", 5000,
	       "Allow NSG1/AllowVnetInBound");
	/* Outbound from the web tier to the database is not filtered by the
	 * inbound rules: AllowVnetOutBound. */
	expect(p, "NIC1", OUT, TCP, "10.0.1.4", 5000, "10.0.2.4", 1433,
	       "Allow NSG1/AllowVnetOutBound");
	policy_free(p);
}

Test(eval, asg_members)
{
	struct policy *p = load(
		"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\"]},"
		"\"applicationSecurityGroups\":{\"Db\":[\"10.1.9.9\", \"fd00:1::99\"]},"
		"\"networkSecurityGroups\":[{\"name\":\"nsg\",\"securityRules\":["
		"{\"name\":\"DenyDbOut\",\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Deny\","
		"\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
		"\"destinationApplicationSecurityGroups\":" ASG_REF("Db") ",\"destinationPortRange\":\"5432\"}]}],"
		"\"interfaces\":["
		"{\"name\":\"eth0\",\"networkSecurityGroup\":\"nsg\",\"ipAddresses\":[\"10.1.1.4\",\"fd00:1::4\"]},"
		"{\"name\":\"db0\",\"ipAddresses\":[\"10.1.2.2\"],\"applicationSecurityGroups\":[\"Db\"]}]}");

	/* Members: the explicit addresses and every interface listing the ASG. */
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "10.1.9.9", 5432, "Deny nsg/DenyDbOut");
	expect(p, "eth0", OUT, TCP, "fd00:1::4", 5000, "fd00:1::99", 5432, "Deny nsg/DenyDbOut");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "10.1.2.2", 5432, "Deny nsg/DenyDbOut");
	expect(p, "eth0", OUT, TCP, "10.1.1.4", 5000, "10.1.2.3", 5432,
	       "Allow nsg/AllowVnetOutBound");
	policy_free(p);
}
