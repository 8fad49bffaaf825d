// SPDX-License-Identifier: MIT
/*
 * The policy loader against docs/DESIGN.md §1 (file format, validation) and §2
 * (default rules, tags, ASGs): one test per class of validation error,
 * with the exact JSON path and the reason; the ARM shapes Azure exports;
 * the model the evaluator and compiler consume; every shipped example.
 *
 * Policies are written with single quotes for readability; sq() turns
 * them into JSON.  Expectations come from docs/DESIGN.md, not from the code.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "model.h"
#include "parser.h"
#include "policy.h"

/* ---- helpers ------------------------------------------------------------ */

struct res {
	int err;
	struct policy *p;
	struct diag_list d;
	char *all; /* every diagnostic, one a line, for assertion messages */
};

static char *sq(const char *s)
{
	char *d = xstrdup(s);

	for (char *q = d; *q; q++)
		if (*q == '\'')
			*q = '"';
	return d;
}

static char *diags_str(const struct diag_list *d)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < d->n; i++) {
		char *t = xasprintf("%s  %s %s: %s\n", s,
				    d->v[i].level == DIAG_ERROR ? "error" : "warning",
				    d->v[i].path, d->v[i].msg);
		free(s);
		s = t;
	}
	return s[0] ? s : (free(s), xstrdup("  (no diagnostics)\n"));
}

static struct res parse_in(const char *sqjson, const char *basedir)
{
	struct res r = {};
	char *json = sq(sqjson);

	r.err = policy_parse_string(json, "t.json", basedir, &r.p, &r.d);
	r.all = diags_str(&r.d);
	free(json);
	return r;
}

static struct res parse(const char *sqjson)
{
	return parse_in(sqjson, NULL);
}

static void res_free(struct res *r)
{
	policy_free(r->p);
	diag_free(&r->d);
	free(r->all);
}

static size_t count(const struct diag_list *d, enum diag_level level)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += d->v[i].level == level;
	return n;
}

static const struct diag *find(const struct diag_list *d, enum diag_level level, const char *path,
			       const char *reason)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].level == level && !strcmp(d->v[i].path, path) &&
		    strstr(d->v[i].msg, reason))
			return &d->v[i];
	return NULL;
}

/* r must be rejected with an error at path whose message holds reason. */
static void expect_err(const struct res *r, const char *path, const char *reason)
{
	cr_expect_eq(r->err, -EINVAL, "an invalid policy returns -EINVAL (got %d):\n%s", r->err,
		     r->all);
	cr_expect_null(r->p, "an invalid policy leaves *out NULL");
	cr_expect_not_null(find(&r->d, DIAG_ERROR, path, reason),
			   "expected an error at %s saying '%s'; got:\n%s", path, reason, r->all);
}

/* One policy, one expected error. */
static void expect_error(const char *sqjson, const char *path, const char *reason)
{
	struct res r = parse(sqjson);

	expect_err(&r, path, reason);
	res_free(&r);
}

static void expect_warning(const struct res *r, const char *path, const char *reason)
{
	cr_expect_not_null(find(&r->d, DIAG_WARNING, path, reason),
			   "expected a warning at %s saying '%s'; got:\n%s", path, reason, r->all);
}

/* The policy must load without errors. */
static struct res load_ok(const char *sqjson)
{
	struct res r = parse(sqjson);

	cr_assert_eq(r.err, 0, "the test policy is valid (err %d); diagnostics:\n%s", r.err, r.all);
	cr_assert_not_null(r.p, "a valid policy is returned");
	cr_assert_eq(r.d.nerrors, 0, "a valid policy has no errors:\n%s", r.all);
	return r;
}

static struct xnsg_prefix pfx(const char *s)
{
	struct xnsg_prefix p;

	cr_assert_eq(prefix_parse(s, &p, NULL), 0, "test prefix %s parses", s);
	return p;
}

static bool list_has(const struct prefix_list *l, const char *s)
{
	struct xnsg_prefix p = pfx(s);

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].family == p.family && l->v[i].len == p.len &&
		    !memcmp(l->v[i].bytes, p.bytes, 16))
			return true;
	return false;
}

static const struct rule *rule_named(const struct policy *p, size_t nsg, const char *name)
{
	for (size_t i = 0; i < p->nsgs[nsg].nrules; i++)
		if (!strcmp(p->nsgs[nsg].rules[i].name, name))
			return &p->nsgs[nsg].rules[i];
	cr_assert_fail("rule %s is in NSG %s", name, p->nsgs[nsg].name);
	return NULL;
}

#define VNET "'virtualNetwork':{'name':'v','addressPrefixes':['10.1.0.0/16','fd00:1::/48']}"
/* Both sides and ports of a rule, '*' everywhere but destination port 80. */
#define SIDES                                                                          \
	"'sourceAddressPrefix':'*','sourcePortRange':'*','destinationAddressPrefix':'*'," \
	"'destinationPortRange':'80'"
/* A flat rule; fields as strings except priority. */
#define R(name, prio, dir, access, proto, src, sport, dst, dport)                          \
	"{'name':'" name "','priority':" #prio ",'direction':'" dir "','access':'" access     \
	"','protocol':'" proto "','sourceAddressPrefix':'" src "','sourcePortRange':'" sport \
	"','destinationAddressPrefix':'" dst "','destinationPortRange':'" dport "'}"
/* A valid inbound rule with a name and priority. */
#define OK(name, prio) R(name, prio, "Inbound", "Allow", "Tcp", "*", "*", "*", "80")
/* One NSG "nsg" holding the rules (flat), in a VNet. */
#define NSG(rules) "{" VNET ",'networkSecurityGroups':[{'name':'nsg','securityRules':[" rules "]}]}"
#define RP "$.networkSecurityGroups[0].securityRules"

/* ---- JSON-level errors --------------------------------------------------- */

Test(policy_errors, json_syntax_line_and_column)
{
	/* The stray '}' is line 3, column 14. */
	struct res r = parse("{\n  'virtualNetwork': {},\n  'subnets': }");

	expect_err(&r, "$", "JSON syntax error at line 3 column 14");
	res_free(&r);
}

Test(policy_errors, json_duplicate_key)
{
	expect_error("{'subnets':[],'subnets':[]}", "$", "JSON syntax error at line 1");
	/* Keys are case-insensitive (docs/DESIGN.md §1): these collide too. */
	expect_error("{'subnets':[{'name':'a','Name':'b','addressPrefix':'10.0.0.0/24'}]}",
		     "$.subnets[0].Name", "differ only in case");
}

/* quick_json_parse() spares check_keys() only a tree it has nothing to say
 * of: whatever the quick reader sees, these are still found. */
Test(policy_errors, key_checks_behind_the_quick_reader)
{
	char big[2048], *q = big;

	expect_error("{'networkSecurityGroups':[{'name':'n','securityRules':[{'name':'r',"
		     "'priority':100,'NAME':'s'}]}]}",
		     "$.networkSecurityGroups[0].securityRules[0].NAME", "differ only in case");
	/* A key written with an escape: jansson's rules, the quick reader's tree. */
	expect_error("{'subnets':[{'name':'a','addressPrefix':'10.0.0.0/24','a\\/b':1,"
		     "'A\\/B':2}]}",
		     "$.subnets[0]['A/B']", "differ only in case");
	/* More keys than the quick reader compares, the clash past them. */
	q += sprintf(q, "{'subnets':[{'name':'a','addressPrefix':'10.0.0.0/24'");
	for (int i = 0; i < 40; i++)
		q += sprintf(q, ",'k%d':%d", i, i);
	sprintf(q, ",'K39':0}]}");
	expect_error(big, "$.subnets[0].K39", "differ only in case");
	/* A template expression as an array's element, and as a value. */
	expect_error("{'subnets':[{'name':'a','addressPrefixes':['[parameters(1)]']}]}",
		     "$.subnets[0].addressPrefixes[0]", "ARM template expression");
	expect_error("{'subnets':[{'name':'[ concat(1)]','addressPrefix':'10.0.0.0/24'}]}",
		     "$.subnets[0].name", "ARM template expression");
}

Test(policy_errors, top_level_not_object)
{
	expect_error("[1, 2]", "$", "must be a JSON object");
	expect_error("'just a string'", "$", "must be a JSON object");
}

Test(policy_errors, wrong_json_types)
{
	expect_error("{'networkSecurityGroups':{'name':'x'}}", "$.networkSecurityGroups",
		     "must be an array");
	expect_error("{'networkSecurityGroups':[{'name':'n','securityRules':{}}]}",
		     "$.networkSecurityGroups[0].securityRules", "must be an array, not an object");
	expect_error("{'networkSecurityGroups':[{'name':'n','properties':{'securityRules':'x'}}]}",
		     "$.networkSecurityGroups[0].properties.securityRules",
		     "must be an array, not a string");
	expect_error(NSG("'not a rule'"), RP "[0]", "must be an object, not a string");
	expect_error("{'subnets':'web'}", "$.subnets", "must be an array");
	expect_error("{'interfaces':42}", "$.interfaces", "must be an array");
	expect_error("{'virtualNetwork':[]}", "$.virtualNetwork", "must be an object");
	expect_error("{'virtualNetwork':{'addressPrefixes':'10.0.0.0/8'}}",
		     "$.virtualNetwork.addressPrefixes", "must be an array");
	expect_error("{'applicationSecurityGroups':['Web']}", "$.applicationSecurityGroups",
		     "must be an object");
	expect_error("{'serviceTags':{'Foo':'1.2.3.0/24'}}", "$.serviceTags.Foo",
		     "must be an array");
	expect_error(NSG("{'name':'a','priority':100,'direction':'Inbound','access':'Allow',"
			 "'protocol':'Tcp','sourceAddressPrefixes':'10.0.0.0/8',"
			 "'sourcePortRange':'*',"
			 "'destinationAddressPrefix':'*','destinationPortRange':'80'}"),
		     RP "[0].sourceAddressPrefixes", "must be an array, not a string");
	expect_error(NSG("{'name':'a','priority':100,'direction':'Inbound','access':'Allow',"
			 "'protocol':'Tcp','sourceAddressPrefix':'*','sourcePortRange':'*',"
			 "'destinationAddressPrefix':'*','destinationPortRange':80}"),
		     RP "[0].destinationPortRange", "must be a string");
	/* An element of an address list is named by its index, flat or under
	 * "properties" (rules.c spells these paths only for a message). */
	expect_error(NSG("{'name':'a','priority':100,'direction':'Inbound','access':'Allow',"
			 "'protocol':'Tcp','sourceAddressPrefixes':['10.0.0.0/8','10.0.0.300'],"
			 "'sourcePortRange':'*',"
			 "'destinationAddressPrefix':'*','destinationPortRange':'80'}"),
		     RP "[0].sourceAddressPrefixes[1]", "not a valid IPv4 or IPv6 address");
	expect_error(NSG("{'name':'a','properties':{'priority':100,'direction':'Inbound',"
			 "'access':'Allow','protocol':'Tcp','sourceAddressPrefix':'*',"
			 "'sourcePortRange':'*','destinationAddressPrefixes':['10.0.0.0/8',7],"
			 "'destinationPortRange':'80'}}"),
		     RP "[0].properties.destinationAddressPrefixes[1]", "must be a string, not an integer");
	expect_error("{'networkSecurityGroups':[{'name':'n','flushConnection':'yes'}]}",
		     "$.networkSecurityGroups[0].flushConnection", "must be true or false");
	expect_error("{'networkSecurityGroups':[{'name':'n','properties':[]}]}",
		     "$.networkSecurityGroups[0].properties", "must be an object");
}

/* ---- rule fields ----------------------------------------------------- */

Test(policy_errors, priority_range_spec_example)
{
	/* docs/DESIGN.md §1's own example, in the ARM "properties" shape. */
	struct res r = parse(
		"{'networkSecurityGroups':[{'name':'web-nsg','properties':{'securityRules':["
		"{'name':'a','properties':{'priority':100,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp'," SIDES "}},"
		"{'name':'b','properties':{'priority':110,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp'," SIDES "}},"
		"{'name':'c','properties':{'priority':120,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp'," SIDES "}},"
		"{'name':'d','properties':{'priority':99,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp'," SIDES "}}]}}]}");
	const struct diag *g = find(&r.d, DIAG_ERROR,
				    "$.networkSecurityGroups[0].properties.securityRules[3]"
				    ".properties.priority", "99 is outside 100-4096");

	expect_err(&r, "$.networkSecurityGroups[0].properties.securityRules[3].properties.priority",
		   "99 is outside 100-4096");
	cr_expect(g && !strcmp(g->msg, "99 is outside 100-4096"),
		  "the message reads exactly as docs/DESIGN.md §1's example: '%s'", g ? g->msg : "(none)");
	cr_expect_eq(r.d.nerrors, 1, "only the one error:\n%s", r.all);
	res_free(&r);
}

Test(policy_errors, priority_range_and_type)
{
	expect_error(NSG(OK("a", 4097)), RP "[0].priority", "4097 is outside 100-4096");
	expect_error(NSG(OK("a", 0)), RP "[0].priority", "0 is outside 100-4096");
	expect_error(NSG(OK("a", -100)), RP "[0].priority", "-100 is outside 100-4096");
	expect_error(NSG("{'name':'a','priority':'abc','direction':'Inbound','access':'Allow',"
			 "'protocol':'Tcp'," SIDES "}"),
		     RP "[0].priority", "must be an integer from 100 to 4096, not a string");
	expect_error(NSG("{'name':'a','priority':150.5,'direction':'Inbound','access':'Allow',"
			 "'protocol':'Tcp'," SIDES "}"),
		     RP "[0].priority", "must be an integer");
	/* Both ends are valid. */
	res_free((struct res[]){ load_ok(NSG(OK("a", 100) "," OK("b", 4096))) });
}

Test(policy_errors, priority_unique_per_direction)
{
	struct res r;

	expect_error(NSG(OK("a", 200) "," OK("b", 300) "," OK("c", 200)), RP "[2].priority",
		     "priority 200 is already used by rule 'a'");
	/* The same priority in the other direction is fine. */
	r = load_ok(NSG(OK("a", 200) "," R("b", 200, "Outbound", "Allow", "Tcp", "*", "*", "*",
					   "80")));
	res_free(&r);
	/* ... and in another NSG. */
	r = load_ok("{'networkSecurityGroups':[{'name':'n1','securityRules':[" OK("a", 200) "]},"
		    "{'name':'n2','securityRules':[" OK("a", 200) "]}]}");
	res_free(&r);
}

Test(policy_errors, rule_names_unique_per_nsg)
{
	/* Azure compares names case-insensitively, across directions. */
	expect_error(NSG(OK("Web", 100) "," R("web", 200, "Outbound", "Allow", "Tcp", "*", "*", "*",
					     "80")),
		     RP "[1].name", "rule name 'web' is already used by " RP "[0]");
}

Test(policy_errors, missing_required_fields)
{
	struct res r = parse(NSG(
		"{'priority':100,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp'," SIDES "},"
		"{'name':'r1','direction':'Inbound','access':'Allow','protocol':'Tcp'," SIDES "},"
		"{'name':'r2','priority':120,'access':'Allow','protocol':'Tcp'," SIDES "},"
		"{'name':'r3','priority':130,'direction':'Inbound','protocol':'Tcp'," SIDES "},"
		"{'name':'r4','priority':140,'direction':'Inbound','access':'Allow'," SIDES "},"
		"{'name':'r5','priority':150,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourcePortRange':'*','destinationAddressPrefix':'*','destinationPortRange':'80'},"
		"{'name':'r6','priority':160,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourceAddressPrefix':'*','sourcePortRange':'*','destinationPortRange':'80'},"
		"{'name':'r7','priority':170,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourceAddressPrefix':'*','destinationAddressPrefix':'*',"
		"'destinationPortRange':'80'},"
		"{'name':'r8','priority':180,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourceAddressPrefix':'*','sourcePortRange':'*','destinationAddressPrefix':'*'},"
		/* Present but empty everywhere: as good as missing. */
		"{'name':'r9','priority':190,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourceAddressPrefixes':[],'sourceApplicationSecurityGroups':[],"
		"'sourcePortRange':'*','destinationAddressPrefix':'*',"
		"'destinationPortRanges':[]}"));

	expect_err(&r, RP "[0]", "missing \"name\"");
	expect_err(&r, RP "[1]", "missing \"priority\"");
	expect_err(&r, RP "[2]", "missing \"direction\"");
	expect_err(&r, RP "[3]", "missing \"access\"");
	expect_err(&r, RP "[4]", "missing \"protocol\"");
	expect_err(&r, RP "[5]", "missing \"source\"");
	expect_err(&r, RP "[6]", "missing \"destination\"");
	expect_err(&r, RP "[7]", "missing source port");
	expect_err(&r, RP "[8]", "missing destination port");
	expect_err(&r, RP "[9]", "empty \"source\"");
	expect_err(&r, RP "[9]", "empty destination port");
	cr_expect_eq(r.d.nerrors, 11, "one error per missing field, no more:\n%s", r.all);
	res_free(&r);
}

Test(policy_errors, missing_field_under_properties)
{
	/* A rule in the ARM shape misses fields inside "properties". */
	expect_error("{'networkSecurityGroups':[{'name':'n','properties':{'securityRules':["
		     "{'name':'a','properties':{'direction':'Inbound','access':'Allow',"
		     "'protocol':'Tcp'," SIDES "}}]}}]}",
		     "$.networkSecurityGroups[0].properties.securityRules[0].properties",
		     "missing \"priority\"");
}

Test(policy_errors, direction_access_protocol)
{
	struct res r = load_ok(NSG(R("a", 100, "inbound", "allow", "tcp", "*", "*", "*", "80") ","
				   R("b", 110, "OUTBOUND", "DENY", "Any", "*", "*", "*", "*") ","
				   R("c", 120, "Inbound", "Allow", "*", "*", "*", "*", "*") ","
				   R("d", 130, "Inbound", "Allow", "ESP", "*", "*", "*", "*") ","
				   R("e", 140, "Inbound", "Allow", "ah", "*", "*", "*", "*") ","
				   R("f", 150, "Inbound", "Allow", "ICMP", "*", "*", "*", "*") ","
				   R("g", 160, "Inbound", "Allow", "Udp", "*", "*", "*", "53")));

	cr_expect_eq(rule_named(r.p, 0, "a")->dir, XNSG_IN, "'inbound' is Inbound");
	cr_expect_eq(rule_named(r.p, 0, "b")->dir, XNSG_OUT, "'OUTBOUND' is Outbound");
	cr_expect(rule_named(r.p, 0, "a")->allow, "'allow' is Allow");
	cr_expect(!rule_named(r.p, 0, "b")->allow, "'DENY' is Deny");
	cr_expect_eq(rule_named(r.p, 0, "a")->proto, XNSG_PROTO_TCP, "'tcp' is Tcp");
	cr_expect_eq(rule_named(r.p, 0, "b")->proto, XNSG_PROTO_ANY, "'Any' is *");
	cr_expect_eq(rule_named(r.p, 0, "c")->proto, XNSG_PROTO_ANY, "'*' is *");
	cr_expect_eq(rule_named(r.p, 0, "d")->proto, XNSG_PROTO_ESP, "'ESP' is Esp");
	cr_expect_eq(rule_named(r.p, 0, "e")->proto, XNSG_PROTO_AH, "'ah' is Ah");
	cr_expect_eq(rule_named(r.p, 0, "f")->proto, XNSG_PROTO_ICMP, "'ICMP' is Icmp");
	cr_expect_eq(rule_named(r.p, 0, "g")->proto, XNSG_PROTO_UDP, "'Udp' is Udp");
	res_free(&r);

	expect_error(NSG(R("a", 100, "Sideways", "Allow", "Tcp", "*", "*", "*", "80")),
		     RP "[0].direction", "'Sideways' is not a direction");
	expect_error(NSG(R("a", 100, "Inbound", "Permit", "Tcp", "*", "*", "*", "80")),
		     RP "[0].access", "'Permit' is not an access");
	expect_error(NSG(R("a", 100, "Inbound", "Allow", "Gre", "*", "*", "*", "80")),
		     RP "[0].protocol", "'Gre' is not a protocol");
	expect_error(NSG(R("a", 100, "Inbound", "Allow", "6", "*", "*", "*", "80")),
		     RP "[0].protocol", "'6' is not a protocol");
	expect_error(NSG("{'name':'a','priority':100,'direction':1,'access':'Allow',"
			 "'protocol':'Tcp'," SIDES "}"),
		     RP "[0].direction", "must be a string, not an integer");
}

Test(policy_errors, ports)
{
	static const struct { const char *port, *reason; } bad[] = {
		{ "80-", "is not a port" },      { "-1", "is not a port" },
		{ "abc", "is not a port" },      { "70000", "'70000' is outside 0-65535" },
		{ "90-80", "runs backwards" },    { "65536", "outside 0-65535" },
		{ " 80", "is not a port" },      { "80,443", "is not a port" },
		{ "1-2-3", "is not a port" },    { "0x50", "is not a port" },
		{ "+80", "is not a port" },      { "80-70000", "outside 0-65535" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *json = xasprintf(NSG("{'name':'a','priority':100,'direction':'Inbound',"
					   "'access':'Allow','protocol':'Tcp',"
					   "'sourceAddressPrefix':'*',"
					   "'sourcePortRange':'*','destinationAddressPrefix':'*',"
					   "'destinationPortRanges':['443','%s']}"),
				       bad[i].port);

		expect_error(json, RP "[0].destinationPortRanges[1]", bad[i].reason);
		free(json);
	}
	expect_error(NSG("{'name':'a','priority':100,'direction':'Inbound','access':'Allow',"
			 "'protocol':'Tcp','sourceAddressPrefix':'*','sourcePortRange':'99999',"
			 "'destinationAddressPrefix':'*','destinationPortRange':'80'}"),
		     RP "[0].sourcePortRange", "outside 0-65535");
}

Test(policy_model, port_lists)
{
	struct res r = load_ok(NSG(
		R("star", 100, "Inbound", "Allow", "*", "*", "*", "*", "*") ","
		R("full", 110, "Inbound", "Allow", "*", "*", "0-65535", "*", "0-65535") ","
		R("one", 120, "Inbound", "Allow", "Tcp", "*", "*", "*", "80") ","
		R("edge", 130, "Inbound", "Allow", "Tcp", "*", "0-0", "*", "65535") ","
		"{'name':'split','priority':140,'direction':'Inbound','access':'Allow',"
		"'protocol':'*','sourceAddressPrefix':'*','sourcePortRange':'*',"
		"'destinationAddressPrefix':'*','destinationPortRanges':['1000-65535','0-999']}"));
	const struct rule *one = rule_named(r.p, 0, "one"), *edge = rule_named(r.p, 0, "edge");

	cr_expect(rule_named(r.p, 0, "star")->dport.any, "'*' is any");
	cr_expect(rule_named(r.p, 0, "full")->sport.any && rule_named(r.p, 0, "full")->dport.any,
		  "'0-65535' is any (docs/DESIGN.md §2)");
	cr_expect(rule_named(r.p, 0, "split")->dport.any,
		  "ranges that together cover 0-65535 are any");
	cr_expect(!one->dport.any && one->dport.n == 1 && one->dport.v[0].lo == 80 &&
		  one->dport.v[0].hi == 80, "'80' is the single port 80");
	cr_expect(one->sport.any, "sourcePortRange '*' is any");
	cr_expect(!edge->sport.any && edge->sport.v[0].lo == 0 && edge->sport.v[0].hi == 0,
		  "'0-0' is port 0 only");
	cr_expect(port_list_contains(&edge->dport, 65535) && !port_list_contains(&edge->dport, 0),
		  "'65535' holds 65535 only");
	res_free(&r);
}

Test(policy_errors, prefixes)
{
	static const struct { const char *prefix, *reason; } bad[] = {
		{ "10.0.0.300", "'10.0.0.300' is not a valid IPv4 or IPv6 address or CIDR prefix" },
		{ "10.0.0.0/33", "not a valid IPv4 or IPv6 address or CIDR prefix" },
		{ "fd00::/129", "not a valid IPv4 or IPv6 address or CIDR prefix" },
		{ "10.0.0.0/", "not a valid" },
		{ "10.0.0.0/-1", "not a valid" },
		{ "1.2.3", "not a valid" },
		{ "Storage.Mars", "unknown service tag 'Storage.Mars'" },
		{ "Intranet", "unknown service tag 'Intranet'" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *json = xasprintf(NSG(R("a", 100, "Inbound", "Allow", "Tcp", "%s", "*", "*",
					     "80")), bad[i].prefix);

		expect_error(json, RP "[0].sourceAddressPrefix", bad[i].reason);
		free(json);
	}
	expect_error("{'virtualNetwork':{'addressPrefixes':['10.0.0.0/8','nope']}}",
		     "$.virtualNetwork.addressPrefixes[1]", "not an IPv4 or IPv6 address");
	expect_error("{'subnets':[{'name':'s','addressPrefix':'10.0.0.0/40'}]}",
		     "$.subnets[0].addressPrefix", "not an IPv4 or IPv6 address");
}

Test(policy_model, address_forms)
{
	struct res r = load_ok(NSG(
		R("star", 100, "Inbound", "Allow", "Tcp", "*", "*", "Any", "80") ","
		R("v4all", 110, "Inbound", "Allow", "Tcp", "0.0.0.0/0", "*", "::/0", "80") ","
		R("host", 120, "Inbound", "Allow", "Tcp", "198.51.100.7", "*", "2001:db8::1",
		  "80") ","
		R("inet", 130, "Inbound", "Allow", "Tcp", "Internet", "*", "10.0.0.0/8", "80")));
	const struct rule *star = rule_named(r.p, 0, "star"), *v4 = rule_named(r.p, 0, "v4all");
	const struct rule *host = rule_named(r.p, 0, "host"), *inet = rule_named(r.p, 0, "inet");

	cr_expect(star->src.any && star->dst.any, "'*' and 'Any' are any");
	cr_expect(!v4->src.any && v4->src.prefixes.n == 1 &&
		  list_has(&v4->src.prefixes, "0.0.0.0/0"),
		  "0.0.0.0/0 stays a literal IPv4 prefix, not any (docs/DESIGN.md §2)");
	cr_expect(!v4->dst.any && list_has(&v4->dst.prefixes, "::/0"),
		  "::/0 stays a literal IPv6 prefix, not any");
	cr_expect(list_has(&host->src.prefixes, "198.51.100.7/32"), "an IPv4 address is a /32");
	cr_expect(list_has(&host->dst.prefixes, "2001:db8::1/128"), "an IPv6 address is a /128");
	cr_expect(inet->src.internet && inet->src.prefixes.n == 0 && !inet->src.any,
		  "Internet is kept symbolic, not expanded");
	cr_expect(inet->src.nlabels == 1 && !strcmp(inet->src.labels[0], "Internet"),
		  "the label says Internet");
	cr_expect(inet->dst.nlabels == 1 && !strcmp(inet->dst.labels[0], "10.0.0.0/8"),
		  "the label is the prefix as written");
	res_free(&r);
}

Test(policy_warnings, host_bits_warned_and_masked)
{
	struct res r = load_ok(
		"{'virtualNetwork':{'addressPrefixes':['10.1.2.3/16']},"
		"'networkSecurityGroups':[{'name':'n','securityRules':["
		R("a", 100, "Inbound", "Allow", "Tcp", "192.0.2.77/24", "*", "2001:db8::1/32", "80")
		"]}]}");
	const struct rule *a = rule_named(r.p, 0, "a");

	expect_warning(&r, "$.networkSecurityGroups[0].securityRules[0].sourceAddressPrefix",
		       "host bits set in '192.0.2.77/24': using 192.0.2.0/24");
	expect_warning(&r, "$.networkSecurityGroups[0].securityRules[0].destinationAddressPrefix",
		       "using 2001:db8::/32");
	expect_warning(&r, "$.virtualNetwork.addressPrefixes[0]", "using 10.1.0.0/16");
	cr_expect(list_has(&a->src.prefixes, "192.0.2.0/24"), "the source prefix is masked");
	cr_expect(list_has(&a->dst.prefixes, "2001:db8::/32"), "the IPv6 prefix is masked");
	cr_expect(list_has(&r.p->vnet_prefixes, "10.1.0.0/16"), "the VNet prefix is masked");
	cr_expect_eq(count(&r.d, DIAG_WARNING), 3, "three host-bit warnings:\n%s", r.all);
	res_free(&r);
}

/* ---- ASGs ---------------------------------------------------------------- */

#define ASG_POLICY(rules)                                                                 \
	"{" VNET ",'applicationSecurityGroups':{'Web':[],'Db':['10.1.2.4'],'Empty':[]},"     \
	"'networkSecurityGroups':[{'name':'nsg','securityRules':[" rules "]}],"              \
	"'subnets':[{'name':'s','addressPrefix':'10.1.1.0/24'}],"                           \
	"'interfaces':[{'name':'eth0','subnet':'s','ipAddresses':['10.1.1.4','fd00:1::4'],"  \
	"'applicationSecurityGroups':['Web']},"                                               \
	"{'name':'eth1','subnet':'s','ipAddresses':['10.1.1.5'],"                             \
	"'applicationSecurityGroups':[{'id':'/subscriptions/x/providers/"                     \
	"Microsoft.Network/applicationSecurityGroups/web'},'Db']}]}"

#define ASG_RULE(name, prio, srcfield, dstfield)                                            \
	"{'name':'" name "','priority':" #prio ",'direction':'Inbound','access':'Allow',"      \
	"'protocol':'Tcp'," srcfield ",'sourcePortRange':'*'," dstfield                        \
	",'destinationPortRange':'80'}"

Test(policy_model, asg_membership)
{
	struct res r = load_ok(ASG_POLICY(
		ASG_RULE("ToWeb", 100, "'sourceAddressPrefix':'*'",
			 "'destinationApplicationSecurityGroups':"
			 "[{'id':'.../applicationSecurityGroups/Web'}]") ","
		ASG_RULE("DbToWeb", 110, "'sourceApplicationSecurityGroups':['db']",
			 "'destinationApplicationSecurityGroups':['Web']")));
	const struct rule *to_web = rule_named(r.p, 0, "ToWeb");
	const struct rule *db_web = rule_named(r.p, 0, "DbToWeb");

	cr_assert_eq(r.p->nasgs, 3, "three ASGs declared");
	/* Web: eth0 (both addresses) and eth1 (by ARM id, other case). */
	cr_expect_eq(to_web->dst.prefixes.n, 3, "Web has eth0's two addresses and eth1's one");
	cr_expect(list_has(&to_web->dst.prefixes, "10.1.1.4/32") &&
		  list_has(&to_web->dst.prefixes, "fd00:1::4/128") &&
		  list_has(&to_web->dst.prefixes, "10.1.1.5/32"),
		  "Web's members are the /32 and /128 of its interfaces' addresses");
	cr_expect(to_web->dst.nlabels == 1 && !strcmp(to_web->dst.labels[0], "asg:Web"),
		  "the label is asg:NAME (got %s)",
		  to_web->dst.nlabels ? to_web->dst.labels[0] : "-");
	/* Db: the explicit 10.1.2.4 plus eth1. */
	cr_expect(db_web->src.prefixes.n == 2 && list_has(&db_web->src.prefixes, "10.1.2.4/32") &&
		  list_has(&db_web->src.prefixes, "10.1.1.5/32"),
		  "Db holds its explicit address and eth1's");
	cr_expect(r.p->ifaces[1].nasgs == 2 && !strcmp(r.p->ifaces[1].asgs[0], "Web") &&
		  !strcmp(r.p->ifaces[1].asgs[1], "Db"),
		  "eth1 lists Web (from an ARM id) and Db by their declared names");
	res_free(&r);
}

Test(policy_errors, asg_rules)
{
	expect_error(ASG_POLICY(ASG_RULE("a", 100, "'sourceAddressPrefix':'*'",
					 "'destinationApplicationSecurityGroups':['Web','Db']")),
		     RP "[0].destinationApplicationSecurityGroups", "a rule takes one per side");
	expect_error(ASG_POLICY(ASG_RULE("a", 100,
					 "'sourceAddressPrefix':'10.0.0.0/8',"
					 "'sourceApplicationSecurityGroups':['Web']",
					 "'destinationAddressPrefix':'*'")),
		     RP "[0].sourceApplicationSecurityGroups",
		     "cannot be combined with address prefixes");
	expect_error(ASG_POLICY(ASG_RULE("a", 100, "'sourceAddressPrefix':'*'",
					 "'destinationApplicationSecurityGroups':['Nope']")),
		     RP "[0].destinationApplicationSecurityGroups[0]",
		     "unknown application security group 'Nope'");
	expect_error(ASG_POLICY(ASG_RULE("a", 100, "'sourceAddressPrefix':'*'",
					 "'destinationApplicationSecurityGroups':"
					 "[{'id':'.../networkSecurityGroups/Web'}]")),
		     RP "[0].destinationApplicationSecurityGroups[0]",
		     "does not name one of applicationSecurityGroups");
	expect_error("{'applicationSecurityGroups':{'A':[]},"
		     "'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1'],"
		     "'applicationSecurityGroups':['B']}]}",
		     "$.interfaces[0].applicationSecurityGroups[0]",
		     "unknown application security group 'B'");
	expect_error("{'applicationSecurityGroups':{'A':['10.0.0.0/24']}}",
		     "$.applicationSecurityGroups.A[0]", "is not an IP address");
}

Test(policy_warnings, empty_asg_never_matches)
{
	struct res r = load_ok(ASG_POLICY(ASG_RULE("ToEmpty", 100, "'sourceAddressPrefix':'*'",
					  "'destinationApplicationSecurityGroups':['Empty']")));

	expect_warning(&r, RP "[0]", "rule ToEmpty can never match: its destination (asg:Empty) "
		       "holds no address");
	res_free(&r);
}

/* ---- references and topology ------------------------------------------ */

Test(policy_errors, unknown_references)
{
	expect_error("{'networkSecurityGroups':[{'name':'n'}],"
		     "'subnets':[{'name':'s','addressPrefix':'10.0.0.0/24',"
		     "'networkSecurityGroup':'m'}]}",
		     "$.subnets[0].networkSecurityGroup", "unknown network security group 'm'");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1'],"
		     "'networkSecurityGroup':{'id':'.../networkSecurityGroups/ghost'}}]}",
		     "$.interfaces[0].networkSecurityGroup",
		     "unknown network security group 'ghost'");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1'],"
		     "'subnet':'nowhere'}]}",
		     "$.interfaces[0].subnet", "unknown subnet 'nowhere'");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1'],"
		     "'networkSecurityGroup':42}]}",
		     "$.interfaces[0].networkSecurityGroup", "must be a name or {\"id\"");
}

Test(policy_errors, duplicate_names)
{
	expect_error("{'networkSecurityGroups':[{'name':'web'},{'name':'WEB'}]}",
		     "$.networkSecurityGroups[1].name",
		     "network security group name 'WEB' is already used by "
		     "$.networkSecurityGroups[0]");
	expect_error("{'subnets':[{'name':'a','addressPrefix':'10.0.0.0/24'},"
		     "{'name':'a','addressPrefix':'10.0.1.0/24'}]}",
		     "$.subnets[1].name", "subnet name 'a' is already used by $.subnets[0]");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1']},"
		     "{'name':'eth0','ipAddresses':['10.0.0.2']}]}",
		     "$.interfaces[1].name",
		     "interface 'eth0' is already defined at $.interfaces[0]");
}

Test(policy_errors, interface_in_two_subnets)
{
	static const char subnets[] =
		"'subnets':[{'name':'a','addressPrefix':'10.0.1.0/24'},"
		"{'name':'b','addressPrefixes':['10.0.2.0/24','fd00:2::/64']}]";
	char *json;
	struct res r;

	/* It names a, but one of its addresses is in b. */
	json = xasprintf("{%s,'interfaces':[{'name':'eth0','subnet':'a',"
			 "'ipAddresses':['10.0.1.4','fd00:2::4']}]}", subnets);
	expect_error(json, "$.interfaces[0].ipAddresses[1]",
		     "lies in subnet 'b', but interface 'eth0' is in subnet 'a'");
	free(json);
	/* It names none, and its addresses are in a and b. */
	json = xasprintf("{%s,'interfaces':[{'name':'eth0','ipAddresses':['10.0.1.4',"
			 "'10.0.2.4']}]}",
			 subnets);
	r = parse(json);
	expect_err(&r, "$.interfaces[0].ipAddresses[1]", "an interface is in one subnet");
	free(json);
	res_free(&r);
	/* It names none and its one address is in a: a warning, not an error. */
	json = xasprintf("{%s,'interfaces':[{'name':'eth0','ipAddresses':['10.0.1.4']}]}", subnets);
	r = load_ok(json);
	expect_warning(&r, "$.interfaces[0].ipAddresses[0]", "names no subnet");
	free(json);
	res_free(&r);
	/* Addresses in no subnet at all are fine. */
	json = xasprintf("{%s,'interfaces':[{'name':'eth0','subnet':'a','ipAddresses':['10.0.1.4',"
			 "'192.0.2.1']}]}", subnets);
	r = load_ok(json);
	cr_expect_eq(r.d.n, 0, "no diagnostics for an address outside every subnet:\n%s", r.all);
	free(json);
	res_free(&r);
}

Test(policy_errors, interface_fields)
{
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1'],'attach':'guest'}]}",
		     "$.interfaces[0].attach", "'guest' is not an attach mode");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.300']}]}",
		     "$.interfaces[0].ipAddresses[0]", "'10.0.0.300' is not an IP address");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':['10.0.0.1/24']}]}",
		     "$.interfaces[0].ipAddresses[0]", "without a prefix length");
	expect_error("{'interfaces':[{'name':'eth0','ipAddresses':'10.0.0.1'}]}",
		     "$.interfaces[0].ipAddresses", "must be an array");
	expect_error("{'interfaces':[{'ipAddresses':['10.0.0.1']}]}", "$.interfaces[0]",
		     "missing \"name\"");
	expect_error("{'interfaces':[{'name':'a-very-long-interface-name',"
		     "'ipAddresses':['10.0.0.1']}]}",
		     "$.interfaces[0].name", "is not a Linux interface name");
	expect_error("{'subnets':[{'name':'s'}]}", "$.subnets[0]", "missing \"addressPrefix\"");
}

Test(policy_model, interfaces)
{
	struct res r = load_ok(
		"{'networkSecurityGroups':[{'name':'n'}],"
		"'subnets':[{'name':'s','addressPrefix':'10.0.0.0/24','networkSecurityGroup':'N'}],"
		"'interfaces':[{'name':'eth0','subnet':'S','ipAddresses':['10.0.0.4',"
		"'2001:db8::4']},"
		"{'name':'veth1','attach':'Peer','networkSecurityGroup':null,"
		"'ipAddresses':['10.9.0.1']},"
		"{'name':'eth2','subnet':{'id':'/subscriptions/x/virtualNetworks/v/subnets/s'},"
		"'networkSecurityGroup':'n','attach':'host','ipAddresses':['10.0.0.5']}]}");
	const struct policy *p = r.p;

	cr_assert_eq(p->nifaces, 3, "three interfaces");
	cr_expect_eq(policy_find_iface(p, "eth0"), 0, "eth0 is interface 0");
	cr_expect_eq(policy_find_iface(p, "eth2"), 2, "eth2 is interface 2");
	cr_expect_eq(policy_find_iface(p, "eth9"), -1, "eth9 is not in the policy");
	cr_expect_eq(p->ifaces[0].subnet, 0, "eth0 is in subnet s (names are case-insensitive)");
	cr_expect_eq(p->subnets[0].nsg, 0, "subnet s has NSG n");
	cr_expect_eq(p->ifaces[0].nsg, -1, "eth0 has no NIC NSG");
	cr_expect_eq(p->ifaces[0].naddrs, 2, "eth0 has two addresses");
	cr_expect_eq(p->ifaces[0].addrs[1].family, XNSG_V6, "eth0's second address is IPv6");
	cr_expect_eq(p->ifaces[0].attach, XNSG_ATTACH_HOST, "attach defaults to host");
	cr_expect_eq(p->ifaces[1].attach, XNSG_ATTACH_PEER, "'Peer' is peer");
	cr_expect_eq(p->ifaces[1].subnet, -1, "veth1 has no subnet");
	cr_expect_eq(p->ifaces[1].nsg, -1, "networkSecurityGroup null is none");
	cr_expect_eq(p->ifaces[2].subnet, 0, "a subnet by ARM id");
	cr_expect_eq(p->ifaces[2].nsg, 0, "eth2 has NIC NSG n");
	res_free(&r);
}

Test(policy_warnings, interface_without_addresses)
{
	struct res r = load_ok("{'interfaces':[{'name':'eth0'},{'name':'eth1','ipAddresses':[]}]}");

	expect_warning(&r, "$.interfaces[0]", "interface 'eth0' has no ipAddresses");
	expect_warning(&r, "$.interfaces[1]", "interface 'eth1' has no ipAddresses");
	res_free(&r);
}

/* ---- tags ------------------------------------------------------------------ */

Test(policy_model, virtual_network_tag)
{
	struct res r = load_ok(
		"{'virtualNetwork':{'name':'v','addressPrefixes':['10.1.0.0/16','fd00:1::/48'],"
		"'connectedPrefixes':['192.168.50.0/24']},"
		"'networkSecurityGroups':[{'name':'n','securityRules':["
		R("a", 100, "Inbound", "Allow", "Tcp", "VirtualNetwork", "*", "virtualnetwork",
		  "80")
		"]}]}");
	const struct policy *p = r.p;
	const struct rule *a = rule_named(p, 0, "a");

	cr_expect_str_eq(p->vnet_name, "v", "the VNet's name");
	cr_expect_eq(p->vnet_prefixes.n, 2, "two address prefixes");
	cr_expect_eq(p->connected_prefixes.n, 1, "one connected prefix");
	cr_expect(p->virtual_network.n == 4 && list_has(&p->virtual_network, "10.1.0.0/16") &&
		  list_has(&p->virtual_network, "fd00:1::/48") &&
		  list_has(&p->virtual_network, "192.168.50.0/24") &&
		  list_has(&p->virtual_network, "168.63.129.16/32"),
		  "VirtualNetwork = addressPrefixes + connectedPrefixes + 168.63.129.16/32 "
		  "(docs/DESIGN.md §2)");
	cr_expect(a->src.prefixes.n == 4 && list_has(&a->src.prefixes, "192.168.50.0/24") &&
		  list_has(&a->src.prefixes, "168.63.129.16/32"),
		  "a VirtualNetwork source expands to the tag");
	cr_expect(a->dst.prefixes.n == 4, "tag names are case-insensitive");
	cr_expect(!strcmp(a->src.labels[0], "VirtualNetwork"), "the label is the tag");
	res_free(&r);
}

Test(policy_model, virtual_network_without_vnet)
{
	struct res r = load_ok("{}");

	cr_expect(r.p->virtual_network.n == 1 &&
		  list_has(&r.p->virtual_network, "168.63.129.16/32"),
		  "without a VNet, VirtualNetwork is just 168.63.129.16/32");
	cr_expect_eq(r.p->nnsgs + r.p->nsubnets + r.p->nifaces, 0, "an empty policy is empty");
	res_free(&r);
}

Test(policy_model, azure_load_balancer_tag)
{
	struct res r = load_ok(NSG(R("lb", 100, "Inbound", "Allow", "*", "AzureLoadBalancer", "*",
				     "*", "*")));
	const struct rule *lb = rule_named(r.p, 0, "lb");
	const struct rule *d = rule_named(r.p, 0, "AllowAzureLoadBalancerInBound");

	cr_expect(lb->src.prefixes.n == 1 && list_has(&lb->src.prefixes, "168.63.129.16/32"),
		  "AzureLoadBalancer is 168.63.129.16/32 by default");
	cr_expect(d->src.prefixes.n == 1 && list_has(&d->src.prefixes, "168.63.129.16/32"),
		  "the default rule's source is the same");
	res_free(&r);

	r = load_ok("{'serviceTags':{'azureloadbalancer':['198.51.100.7/32']},"
		    "'networkSecurityGroups':[{'name':'n','securityRules':["
		    R("lb", 100, "Inbound", "Allow", "*", "AzureLoadBalancer", "*", "*", "*")
		    "]}]}");
	lb = rule_named(r.p, 0, "lb");
	d = rule_named(r.p, 0, "AllowAzureLoadBalancerInBound");
	cr_expect(lb->src.prefixes.n == 1 && list_has(&lb->src.prefixes, "198.51.100.7/32"),
		  "serviceTags overrides AzureLoadBalancer (name case-insensitive)");
	cr_expect(d->src.prefixes.n == 1 && list_has(&d->src.prefixes, "198.51.100.7/32"),
		  "the default rule follows the override");
	res_free(&r);
}

Test(policy_errors, reserved_and_unknown_tags)
{
	expect_error("{'serviceTags':{'VirtualNetwork':['10.0.0.0/8']}}",
		     "$.serviceTags.VirtualNetwork", "built in and cannot be redefined");
	expect_error("{'serviceTags':{'Internet':['8.0.0.0/8']}}", "$.serviceTags.Internet",
		     "built in");
	expect_error("{'serviceTags':{'Storage.WestUS':['20.38.0.0/33']}}",
		     "$.serviceTags['Storage.WestUS'][0]", "not an IPv4 or IPv6 address");
	expect_error(NSG(R("a", 100, "Outbound", "Deny", "*", "*", "*", "Sql.EastUS", "*")),
		     RP "[0].destinationAddressPrefix", "unknown service tag 'Sql.EastUS'");
}

Test(policy_model, inline_tags)
{
	struct res r = load_ok(
		"{'serviceTags':{'Storage.WestUS':['20.38.0.0/16','20.60.0.0/16'],'Empty':[]},"
		"'networkSecurityGroups':[{'name':'n','securityRules':["
		R("st", 100, "Outbound", "Deny", "*", "*", "*", "storage.westus", "*") "]}]}");
	const struct rule *st = rule_named(r.p, 0, "st");

	cr_expect(st->dst.prefixes.n == 2 && list_has(&st->dst.prefixes, "20.60.0.0/16"),
		  "a tag expands to its prefixes, looked up case-insensitively");
	cr_expect(!strcmp(st->dst.labels[0], "storage.westus"), "the label is as written");
	res_free(&r);
}

/* ---- flowTimeouts ------------------------------------------------------- */

Test(policy_model, flow_timeouts)
{
	struct res r = load_ok("{}");

	cr_expect(r.p->timeouts.tcp_established == 240 && r.p->timeouts.tcp_transitory == 30 &&
		  r.p->timeouts.udp == 30 && r.p->timeouts.udp_stream == 120 &&
		  r.p->timeouts.other == 30, "defaults are 240/30/30/120/30 s (docs/DESIGN.md §2)");
	res_free(&r);
	r = load_ok("{'flowTimeouts':{'tcpEstablished':3600,'TCPTRANSITORY':10,'udp':5,"
		    "'udpStream':60}}");
	cr_expect(r.p->timeouts.tcp_established == 3600 && r.p->timeouts.tcp_transitory == 10 &&
		  r.p->timeouts.udp == 5 && r.p->timeouts.udp_stream == 60,
		  "given timeouts are taken");
	cr_expect_eq(r.p->timeouts.other, 30, "a timeout not given keeps its default");
	res_free(&r);
}

Test(policy_errors, flow_timeouts)
{
	expect_error("{'flowTimeouts':{'udp':0}}", "$.flowTimeouts.udp", "0 seconds is outside");
	expect_error("{'flowTimeouts':{'other':-5}}", "$.flowTimeouts.other", "is outside");
	expect_error("{'flowTimeouts':{'tcpEstablished':'240'}}", "$.flowTimeouts.tcpEstablished",
		     "must be a whole number of seconds, not a string");
	expect_error("{'flowTimeouts':{'tcpEstablished':2.5}}", "$.flowTimeouts.tcpEstablished",
		     "must be a whole number");
	expect_error("{'flowTimeouts':{'udp':100000000}}", "$.flowTimeouts.udp", "is outside");
	expect_error("{'flowTimeouts':{'icmp':30}}", "$.flowTimeouts.icmp", "unknown timeout");
	expect_error("{'flowTimeouts':30}", "$.flowTimeouts", "must be an object");
}

/* ---- rules in the model: order, defaults, shapes ------------------------ */

Test(policy_model, default_rules_present_and_ordered)
{
	static const struct { const char *name; int prio; bool allow; const char *src, *dst; }
	in[] = {
		{ "AllowVnetInBound", 65000, true, "VirtualNetwork", "VirtualNetwork" },
		{ "AllowAzureLoadBalancerInBound", 65001, true, "AzureLoadBalancer", "*" },
		{ "DenyAllInBound", 65500, false, "*", "*" },
	}, out[] = {
		{ "AllowVnetOutBound", 65000, true, "VirtualNetwork", "VirtualNetwork" },
		{ "AllowInternetOutBound", 65001, true, "*", "Internet" },
		{ "DenyAllOutBound", 65500, false, "*", "*" },
	};
	struct res r = load_ok(NSG(OK("user", 4096)));
	const struct nsg *g = &r.p->nsgs[0];
	size_t nin, nout;
	const struct rule *ri = nsg_rules(g, XNSG_IN, &nin), *ro = nsg_rules(g, XNSG_OUT, &nout);

	cr_assert_eq(g->nrules, 7, "one user rule plus six defaults");
	cr_assert_eq(nin, 4, "inbound: the user rule and three defaults");
	cr_assert_eq(nout, 3, "outbound: three defaults");
	cr_expect(ri == g->rules && ro == g->rules + 4, "inbound first, then outbound, contiguous");
	cr_expect(!ri[0].is_default && !strcmp(ri[0].name, "user"), "the user rule comes first");
	for (size_t i = 0; i < 3; i++) {
		const struct rule *a = &ri[i + 1], *b = &ro[i];

		cr_expect(a->is_default && !strcmp(a->name, in[i].name) &&
			  a->priority == in[i].prio &&
			  a->allow == in[i].allow && a->dir == XNSG_IN,
			  "inbound default %zu is %s %d", i, in[i].name, in[i].prio);
		cr_expect(b->is_default && !strcmp(b->name, out[i].name) &&
			  b->priority == out[i].prio && b->allow == out[i].allow &&
			  b->dir == XNSG_OUT,
			  "outbound default %zu is %s %d", i, out[i].name, out[i].prio);
		cr_expect(a->proto == XNSG_PROTO_ANY && a->sport.any && a->dport.any &&
			  b->proto == XNSG_PROTO_ANY && b->sport.any && b->dport.any,
			  "defaults have protocol * and ports *");
		cr_expect(a->src.nlabels == 1 && !strcmp(a->src.labels[0], in[i].src) &&
			  a->dst.nlabels == 1 && !strcmp(a->dst.labels[0], in[i].dst),
			  "%s is %s -> %s", in[i].name, in[i].src, in[i].dst);
		cr_expect(b->src.nlabels == 1 && !strcmp(b->src.labels[0], out[i].src) &&
			  b->dst.nlabels == 1 && !strcmp(b->dst.labels[0], out[i].dst),
			  "%s is %s -> %s", out[i].name, out[i].src, out[i].dst);
	}
	cr_expect(ri[1].src.prefixes.n == r.p->virtual_network.n &&
		  ri[1].dst.prefixes.n == r.p->virtual_network.n,
		  "AllowVnetInBound holds the VirtualNetwork tag both sides");
	cr_expect(ri[3].src.any && ri[3].dst.any, "DenyAllInBound is * -> *");
	cr_expect(ro[1].src.any && ro[1].dst.internet && !ro[1].dst.any,
		  "AllowInternetOutBound is * -> Internet (symbolic)");
	res_free(&r);
}

Test(policy_model, rules_sorted_by_priority)
{
	struct res r = load_ok(NSG(
		R("o300", 300, "Outbound", "Deny", "Tcp", "*", "*", "*", "25") ","
		OK("i400", 400) "," OK("i100", 100) ","
		R("o100", 100, "Outbound", "Deny", "Tcp", "*", "*", "*", "26") ","
		OK("i4000", 4000) "," OK("i250", 250)));
	static const char *const want_in[] = {
		"i100", "i250", "i400", "i4000", "AllowVnetInBound",
	};
	static const char *const want_out[] = { "o100", "o300", "AllowVnetOutBound" };
	size_t nin, nout;
	const struct rule *ri = nsg_rules(&r.p->nsgs[0], XNSG_IN, &nin);
	const struct rule *ro = nsg_rules(&r.p->nsgs[0], XNSG_OUT, &nout);

	cr_assert_eq(nin, 7, "four user rules and three defaults inbound");
	cr_assert_eq(nout, 5, "two user rules and three defaults outbound");
	for (size_t i = 0; i < 5; i++)
		cr_expect_str_eq(ri[i].name, want_in[i], "inbound rule %zu is %s", i, want_in[i]);
	for (size_t i = 0; i < 3; i++)
		cr_expect_str_eq(ro[i].name, want_out[i], "outbound rule %zu is %s", i,
				 want_out[i]);
	for (size_t i = 1; i < nin; i++)
		cr_expect_lt(ri[i - 1].priority, ri[i].priority, "inbound priorities rise");
	cr_expect_str_eq(ri[0].path, RP "[2]", "a rule keeps the JSON path it was written at");
	res_free(&r);
}

/* The same rule in every shape must give the same model. */
static void expect_same_rule(const struct rule *a, const struct rule *b, const char *what)
{
	cr_expect(a->priority == b->priority && a->dir == b->dir && a->allow == b->allow &&
		  a->proto == b->proto, "%s: priority, direction, access, protocol agree", what);
	cr_expect(a->src.prefixes.n == b->src.prefixes.n &&
		  a->dst.prefixes.n == b->dst.prefixes.n &&
		  a->src.any == b->src.any && a->dst.any == b->dst.any &&
		  a->src.internet == b->src.internet && a->dst.internet == b->dst.internet,
		  "%s: addresses agree", what);
	for (size_t i = 0; i < a->src.prefixes.n && i < b->src.prefixes.n; i++)
		cr_expect(!memcmp(&a->src.prefixes.v[i], &b->src.prefixes.v[i],
				  sizeof(a->src.prefixes.v[i])),
			  "%s: source prefix %zu agrees", what, i);
	cr_expect(a->sport.any == b->sport.any && a->dport.any == b->dport.any &&
		  a->dport.n == b->dport.n, "%s: ports agree", what);
	for (size_t i = 0; i < a->dport.n && i < b->dport.n; i++)
		cr_expect(a->dport.v[i].lo == b->dport.v[i].lo &&
			  a->dport.v[i].hi == b->dport.v[i].hi,
			  "%s: destination port range %zu agrees", what, i);
}

Test(policy_shapes, properties_flat_and_case)
{
	/* Flat; ARM "properties"; keys in odd case; NSG rules flat vs nested. */
	struct res flat = load_ok(
		"{'networkSecurityGroups':[{'name':'n','securityRules':[{'name':'r',"
		"'priority':200,'direction':'Inbound','access':'Deny','protocol':'Udp',"
		"'sourceAddressPrefix':'10.0.0.0/8','sourcePortRange':'*',"
		"'destinationAddressPrefix':'Internet','destinationPortRanges':['53',"
		"'5353-5354']}],"
		"'flushConnection':true}]}");
	struct res arm = load_ok(
		"{'networkSecurityGroups':[{'name':'n','properties':{'flushConnection':true,"
		"'securityRules':[{'name':'r','id':'.../securityRules/r','etag':'x',"
		"'properties':{'priority':200,'direction':'Inbound','access':'Deny',"
		"'protocol':'Udp',"
		"'sourceAddressPrefix':'10.0.0.0/8','sourcePortRange':'*',"
		"'destinationAddressPrefix':'Internet','destinationPortRanges':['53','5353-5354'],"
		"'provisioningState':'Succeeded'}}]}}]}");
	struct res odd = load_ok(
		"{'NetworkSecurityGroups':[{'NAME':'n','Properties':{'SecurityRules':[{'Name':'r',"
		"'PROPERTIES':{'Priority':200,'DIRECTION':'Inbound','Access':'Deny',"
		"'protocol':'Udp',"
		"'SOURCEADDRESSPREFIX':'10.0.0.0/8','sourceportrange':'*',"
		"'DestinationAddressPrefix':'Internet','DestinationPortRanges':['53',"
		"'5353-5354']}}]},"
		"'FlushConnection':true}]}");

	expect_same_rule(&flat.p->nsgs[0].rules[0], &arm.p->nsgs[0].rules[0], "flat vs properties");
	expect_same_rule(&flat.p->nsgs[0].rules[0], &odd.p->nsgs[0].rules[0], "flat vs odd case");
	cr_expect_str_eq(arm.p->nsgs[0].rules[0].name, "r", "the ARM rule's name sits flat");
	cr_expect(flat.p->nsgs[0].flush_connection && arm.p->nsgs[0].flush_connection &&
		  odd.p->nsgs[0].flush_connection,
		  "flushConnection is read flat, under properties, and in any case");
	cr_expect_str_eq(arm.p->nsgs[0].rules[0].path,
			 "$.networkSecurityGroups[0].properties.securityRules[0]",
			 "the rule's path follows the ARM shape");
	cr_expect_str_eq(arm.p->nsgs[0].path, "$.networkSecurityGroups[0]", "the NSG's path");
	res_free(&flat);
	res_free(&arm);
	res_free(&odd);
	/* Errors use the key spelling the file used. */
	expect_error("{'NetworkSecurityGroups':[{'NAME':'n',"
		     "'Properties':{'SecurityRules':[{'Name':'r',"
		     "'PROPERTIES':{'Priority':5000,'DIRECTION':'Inbound','Access':'Deny',"
		     "'protocol':'Udp'," SIDES "}}]}}]}",
		     "$.NetworkSecurityGroups[0].Properties.SecurityRules[0].PROPERTIES.Priority",
		     "5000 is outside 100-4096");
}

Test(policy_shapes, singular_and_plural_union)
{
	struct res r = load_ok(NSG(
		"{'name':'u','priority':100,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourceAddressPrefix':'10.0.0.0/8','sourceAddressPrefixes':['192.0.2.0/24',"
		"'Internet'],"
		"'sourcePortRange':'1000','sourcePortRanges':['2000-2100'],"
		"'destinationAddressPrefix':'','destinationAddressPrefixes':['198.51.100.1'],"
		"'destinationPortRange':'80','destinationPortRanges':['443','8000-8099']}"));
	const struct rule *u = rule_named(r.p, 0, "u");
	static const char *const labels[] = { "10.0.0.0/8", "192.0.2.0/24", "Internet" };

	cr_expect(u->src.prefixes.n == 2 && list_has(&u->src.prefixes, "10.0.0.0/8") &&
		  list_has(&u->src.prefixes, "192.0.2.0/24") && u->src.internet,
		  "singular and plural source prefixes are unioned, with Internet");
	cr_assert_eq(u->src.nlabels, 3, "three source labels");
	for (size_t i = 0; i < 3; i++)
		cr_expect_str_eq(u->src.labels[i], labels[i], "source label %zu in written order",
				 i);
	cr_expect(u->dst.prefixes.n == 1 && list_has(&u->dst.prefixes, "198.51.100.1/32"),
		  "an empty singular beside a plural is absent");
	cr_expect(port_list_contains(&u->sport, 1000) && port_list_contains(&u->sport, 2050) &&
		  !port_list_contains(&u->sport, 1500), "source ports are unioned");
	cr_expect(u->dport.n == 3 && port_list_contains(&u->dport, 80) &&
		  port_list_contains(&u->dport, 443) && port_list_contains(&u->dport, 8099),
		  "destination ports are unioned");
	res_free(&r);
}

Test(policy_shapes, arm_id_references)
{
	struct res r = load_ok(
		"{'applicationSecurityGroups':{'WebServers':[]},"
		"'networkSecurityGroups':[{'name':'web-nsg','securityRules':["
		"{'name':'w','priority':100,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp',"
		"'sourceAddressPrefix':'Internet','sourcePortRange':'*',"
		"'destinationApplicationSecurityGroups':[{'id':'/subscriptions/0/resourceGroups/g/"
		"providers/Microsoft.Network/applicationSecurityGroups/WebServers',"
		"'resourceGroup':'g'}],"
		"'destinationPortRange':'80'}]},{'name':'nic-nsg'}],"
		"'subnets':[{'name':'web','properties':{'addressPrefix':'10.0.1.0/24',"
		"'networkSecurityGroup':{'id':'/subscriptions/0/resourceGroups/g/providers/"
		"Microsoft.Network/networkSecurityGroups/web-nsg'}}}],"
		"'interfaces':[{'name':'eth0','subnet':'web',"
		"'networkSecurityGroup':{'id':'.../networkSecurityGroups/NIC-NSG'},"
		"'ipAddresses':['10.0.1.4'],"
		"'applicationSecurityGroups':"
		"[{'id':'.../applicationSecurityGroups/webservers'}]}]}");
	const struct rule *w = rule_named(r.p, 0, "w");

	cr_expect_eq(r.p->subnets[0].nsg, 0, "a subnet's NSG by ARM id (under properties)");
	cr_expect_eq(r.p->ifaces[0].nsg, 1, "an interface's NSG by ARM id, case-insensitive");
	cr_expect(r.p->subnets[0].prefixes.n == 1, "a subnet's addressPrefix under properties");
	cr_expect(w->dst.prefixes.n == 1 && list_has(&w->dst.prefixes, "10.0.1.4/32"),
		  "an ASG by ARM id in a rule and an interface");
	cr_expect(!strcmp(w->dst.labels[0], "asg:WebServers"), "the label uses the declared name");
	res_free(&r);
}

Test(policy_shapes, subnet_prefix_forms)
{
	struct res r = load_ok("{'subnets':[{'name':'a','addressPrefix':'10.0.0.0/24',"
			       "'addressPrefixes':['fd00::/64','10.0.9.0/24']}]}");

	cr_expect(r.p->subnets[0].prefixes.n == 3 &&
		  list_has(&r.p->subnets[0].prefixes, "fd00::/64"),
		  "addressPrefix and addressPrefixes are unioned");
	cr_expect_eq(r.p->subnets[0].nsg, -1, "a subnet without networkSecurityGroup has none");
	res_free(&r);
}

Test(policy_shapes, export_default_rules_ignored)
{
	/* Exports carry defaultSecurityRules; ours are Azure's, not duplicated. */
	struct res r = load_ok(
		"{'networkSecurityGroups':[{'name':'n',"
		"'defaultSecurityRules':[{'name':'DenyAllInBound',"
		"'priority':65500,'direction':'Inbound','access':'Deny','protocol':'*'," SIDES "}],"
		"'securityRules':[]}]}");

	cr_expect_eq(r.p->nsgs[0].nrules, 6, "six defaults, none from the export");
	res_free(&r);
}

Test(policy_warnings, unknown_top_level_key)
{
	struct res r = load_ok("{'networkSecurityGroup':[],'subnets':[]}");

	expect_warning(&r, "$.networkSecurityGroup", "unknown key");
	res_free(&r);
}

/* ---- shadowing ------------------------------------------------------------ */

Test(policy_warnings, shadowed_rules)
{
	struct res r = load_ok(NSG(
		R("AllTcp", 100, "Inbound", "Deny", "Tcp", "10.0.0.0/8", "*", "*", "*") ","
		/* Every packet of these is denied by AllTcp first. */
		R("Sub", 200, "Inbound", "Allow", "Tcp", "10.1.0.0/16", "*", "192.0.2.1",
		  "80-90") ","
		"{'name':'Multi','priority':210,'direction':'Inbound','access':'Allow',"
		"'protocol':'Tcp','sourceAddressPrefixes':['10.2.0.0/16','10.3.3.3'],"
		"'sourcePortRange':'*','destinationAddressPrefix':'*','destinationPortRanges':['1',"
		"'2']},"
		/* Not shadowed: wider source, other protocol, other direction. */
		R("Wider", 300, "Inbound", "Allow", "Tcp", "0.0.0.0/0", "*", "*", "80") ","
		R("Udp", 310, "Inbound", "Allow", "Udp", "10.1.0.0/16", "*", "*", "80") ","
		R("Out", 320, "Outbound", "Allow", "Tcp", "10.1.0.0/16", "*", "*", "80") ","
		R("AnyProto", 330, "Inbound", "Allow", "*", "10.1.0.0/16", "*", "*", "*") ","
		/* Port-restricted '*' only matches TCP and UDP. */
		R("Udp80", 400, "Inbound", "Deny", "Udp", "*", "*", "*", "80") ","
		R("Tcp80", 410, "Inbound", "Deny", "Tcp", "*", "*", "*", "80") ","
		/* Any80 (TCP and UDP) needs both: the single-rule check stays quiet... */
		R("Any80", 420, "Inbound", "Deny", "*", "192.0.2.0/24", "*", "*", "80") ","
		/* ...but one rule covering it all is found: Wider, the first. */
		R("Tcp80Doc", 430, "Inbound", "Deny", "Tcp", "192.0.2.0/24", "*", "*", "80") ","
		/* Ports restricted with Icmp: never matches (docs/DESIGN.md §2). */
		R("IcmpPort", 500, "Inbound", "Allow", "Icmp", "*", "*", "*", "7")));

	expect_warning(&r, RP "[1]", "rule Sub can never match: shadowed by AllTcp (priority 100)");
	expect_warning(&r, RP "[2]",
		       "rule Multi can never match: shadowed by AllTcp (priority 100)");
	expect_warning(&r, RP "[10]", "rule Tcp80Doc can never match: shadowed by Wider "
		       "(priority 300)");
	expect_warning(&r, RP "[11]", "rule IcmpPort can never match");
	cr_expect_eq(count(&r.d, DIAG_WARNING), 4, "exactly four rules can never match:\n%s",
		     r.all);
	res_free(&r);
}

Test(policy_warnings, shadowing_with_tags_and_any)
{
	struct res r = load_ok(
		"{'virtualNetwork':{'addressPrefixes':['10.1.0.0/16']},"
		"'networkSecurityGroups':[{'name':'nsg','securityRules':["
		R("DenyInternet", 100, "Outbound", "Deny", "*", "*", "*", "Internet", "*") ","
		R("AllowGoogle", 110, "Outbound", "Allow", "Tcp", "*", "*", "8.8.8.8", "443") ","
		R("AllowPrivate", 120, "Outbound", "Allow", "Tcp", "*", "*", "192.168.1.1",
		  "443") ","
		R("AllowVnetIn", 100, "Inbound", "Allow", "*", "VirtualNetwork", "*", "*", "*") ","
		R("AllowSubnetIn", 110, "Inbound", "Allow", "Tcp", "10.1.2.0/24", "*", "*",
		  "22") ","
		R("BothFamilies", 120, "Inbound", "Allow", "*", "0.0.0.0/0", "*", "*", "*") ","
		R("Star", 130, "Inbound", "Allow", "*", "*", "*", "*", "*") "]}]}");

	expect_warning(&r, RP "[1]", "rule AllowGoogle can never match: shadowed by DenyInternet");
	expect_warning(&r, RP "[4]", "rule AllowSubnetIn can never match: shadowed by AllowVnetIn");
	cr_expect_eq(count(&r.d, DIAG_WARNING), 2,
		     "192.168.1.1 is not Internet; '*' is wider than 0.0.0.0/0:\n%s", r.all);
	res_free(&r);
}

/* A lint of its own kind: POLICY_LINT_BESIDE (apply, the daemon) and
 * POLICY_LINT_OFF (the CNI plugin) against the lint within the load. */
static struct res parse_lint(const char *sqjson, enum policy_lint lint, bool join)
{
	struct res r = {};
	char *json = sq(sqjson);

	r.err = policy_parse_string_lint(json, "t.json", NULL, lint, &r.p, &r.d);
	if (join)
		policy_lint_join(r.p, &r.d);
	r.all = diags_str(&r.d);
	free(json);
	return r;
}

#define LINTED                                                                              \
	"{'unknownTop':1,'networkSecurityGroups':[{'name':'nsg','securityRules':["            \
	R("AllTcp", 100, "Inbound", "Deny", "Tcp", "10.0.0.0/8", "*", "*", "*") ","            \
	R("Sub", 200, "Inbound", "Allow", "Tcp", "10.1.0.0/16", "*", "*", "80") ","            \
	R("IcmpPort", 300, "Inbound", "Allow", "Icmp", "*", "*", "*", "7") ","                 \
	R("Out", 100, "Outbound", "Allow", "Udp", "10.0.0.0/8", "*", "*", "53") ","            \
	R("OutSub", 110, "Outbound", "Allow", "Udp", "10.9.0.0/16", "*", "*", "53") "]}]}"

Test(policy_warnings, lint_beside_says_what_the_lint_within_says)
{
	struct res now = parse_lint(LINTED, POLICY_LINT_NOW, false);
	struct res beside = parse_lint(LINTED, POLICY_LINT_BESIDE, true);

	cr_assert_eq(now.err, 0, "%s", now.all);
	cr_expect_eq(count(&now.d, DIAG_WARNING), 4, "unknown key, Sub, IcmpPort, OutSub:\n%s",
		     now.all);
	cr_expect_null(now.p->lint, "the lint within the load leaves nothing to join");
	cr_assert_eq(beside.err, 0, "%s", beside.all);
	cr_expect_str_eq(beside.all, now.all, "the same warnings in the same order");
	cr_expect_null(beside.p->lint, "joined");
	policy_lint_join(beside.p, &beside.d); /* again: nothing */
	cr_expect_eq(beside.d.n, now.d.n);
	res_free(&now);
	res_free(&beside);
}

Test(policy_warnings, lint_off_keeps_the_other_warnings)
{
	struct res r = parse_lint(LINTED, POLICY_LINT_OFF, true);

	cr_assert_eq(r.err, 0, "%s", r.all);
	expect_warning(&r, "$.unknownTop", "unknown key");
	cr_expect_eq(count(&r.d, DIAG_WARNING), 1, "no never-match warning:\n%s", r.all);
	res_free(&r);
}

Test(policy_warnings, a_lint_beside_not_joined_is_dropped_with_its_policy)
{
	struct res r = parse_lint(LINTED, POLICY_LINT_BESIDE, false);

	cr_assert_eq(r.err, 0, "%s", r.all);
	cr_expect_not_null(r.p->lint, "running or finished, not yet joined");
	cr_expect_eq(count(&r.d, DIAG_WARNING), 1, "only the parse's own warning so far:\n%s",
		     r.all);
	res_free(&r); /* policy_free() joins it: no leak, no use after free (valgrind, ASan) */
}

Test(policy_warnings, a_policy_with_errors_starts_no_lint)
{
	struct res r = parse_lint("{'networkSecurityGroups':[{'name':'nsg','securityRules':["
				  R("A", 100, "Inbound", "Deny", "Tcp", "10.0.0.0/8", "*", "*", "*")
				  "," R("B", 100, "Inbound", "Allow", "Tcp", "10.1.0.0/16", "*",
					"*", "80") "]}]}", POLICY_LINT_BESIDE, false);

	cr_expect_eq(r.err, -EINVAL, "two rules of one priority: %s", r.all);
	cr_expect_null(r.p);
	res_free(&r);
}

/* ---- all errors at once, and limits ----------------------------------- */

Test(policy_errors, all_errors_in_one_run)
{
	struct res r = parse(
		"{'networkSecurityGroups':[{'name':'nsg','securityRules':["
		OK("LowPriority", 99) ","
		R("BadDirection", 110, "Sideways", "Allow", "Tcp", "*", "*", "*", "80") ","
		R("BadPort", 120, "Inbound", "Allow", "Tcp", "*", "*", "*", "70000") ","
		R("BadTag", 130, "Inbound", "Allow", "Tcp", "Storage.Mars", "*", "*", "80") ","
		OK("BadPort", 140) "]}],"
		"'subnets':[{'name':'s','addressPrefix':'10.0.0.0/24',"
		"'networkSecurityGroup':'nope'}],"
		"'interfaces':[{'name':'eth0','subnet':'nowhere','ipAddresses':['10.0.0.1'],"
		"'attach':'sideways'}],"
		"'flowTimeouts':{'udp':0}}");

	expect_err(&r, RP "[0].priority", "99 is outside 100-4096");
	expect_err(&r, RP "[1].direction", "not a direction");
	expect_err(&r, RP "[2].destinationPortRange", "outside 0-65535");
	expect_err(&r, RP "[3].sourceAddressPrefix", "unknown service tag 'Storage.Mars'");
	expect_err(&r, RP "[4].name", "already used");
	expect_err(&r, "$.subnets[0].networkSecurityGroup", "unknown network security group");
	expect_err(&r, "$.interfaces[0].subnet", "unknown subnet 'nowhere'");
	expect_err(&r, "$.interfaces[0].attach", "not an attach mode");
	expect_err(&r, "$.flowTimeouts.udp", "outside");
	cr_expect_eq(r.d.nerrors, 9, "every one of the nine mistakes, each once:\n%s", r.all);
	res_free(&r);
}

Test(policy_errors, slash_in_names)
{
	/* stats and flow logs name a rule "NSG/RULE": a '/' would split it. */
	struct res r = parse("{'networkSecurityGroups':[{'name':'a/b','securityRules':["
			     "{'name':'x/y','priority':100,'direction':'Inbound','access':'Allow',"
			     "'protocol':'Tcp'," SIDES "}]}]}");

	expect_err(&r, "$.networkSecurityGroups[0].name", "contains '/'");
	expect_err(&r, "$.networkSecurityGroups[0].securityRules[0].name", "contains '/'");
	res_free(&r);
}

Test(util, prefix_length_digits_only)
{
	struct xnsg_prefix p;

	cr_expect_neq(prefix_parse("1.2.3.4/ 8", &p, NULL), 0, "a space in the length is refused");
	cr_expect_neq(prefix_parse("1.2.3.4/+8", &p, NULL), 0, "a sign in the length is refused");
	cr_expect_neq(prefix_parse("1.2.3.4/", &p, NULL), 0, "an empty length is refused");
	cr_expect_eq(prefix_parse("1.2.3.0/24", &p, NULL), 0, "1.2.3.0/24 parses");
}

/* prefix_parse() as it was before its IPv4 fast path: inet_pton(), a
 * digits-only strtol() length, the host bits cleared one at a time. */
static int ref_prefix_parse(const char *s, struct xnsg_prefix *out, bool *hb)
{
	char buf[64], *slash, *end;
	uint8_t bytes[16] = { 0 };
	long len;
	int fam;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, bytes) == 1)
		fam = XNSG_V4;
	else if (inet_pton(AF_INET6, buf, bytes) == 1)
		fam = XNSG_V6;
	else
		return -1;
	len = fam == XNSG_V4 ? 32 : 128;
	if (slash) {
		if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1))
			return -1;
		len = strtol(slash + 1, &end, 10);
		if (*end || len > (fam == XNSG_V4 ? 32 : 128))
			return -1;
	}
	memset(out, 0, sizeof(*out));
	out->family = (uint8_t)fam;
	out->len = (uint8_t)len;
	memcpy(out->bytes, bytes, sizeof(bytes));
	*hb = false;
	for (int i = (int)len; i < 128; i++)
		if (out->bytes[i / 8] & (0x80u >> (i % 8))) {
			*hb = true;
			out->bytes[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
		}
	return 0;
}

/* The IPv4 fast path takes what inet_pton() takes, as it reads it, and
 * leaves the rest (leading zeros, 3-digit lengths, IPv6) to the general
 * parse: 200,000 strings near and far from valid, against the reference. */
Test(util, prefix_parse_agrees_with_inet_pton)
{
	static const char *const parts[] = { "0", "1", "9", "10", "01", "00", "99", "100", "199",
					     "255", "256", "300", "999", "1000", "", "a", "-1", " 1" };
	static const char *const lens[] = { "", "/0", "/8", "/9", "/16", "/24", "/31", "/32", "/33",
					    "/024", "/08", "/", "/a", "/ 8", "/+8", "/320", "/1/2" };
	static const char *const v6[] = { "::", "::1", "2001:db8::", "::ffff:1.2.3.4", "fe80::1:2",
					  "1::2::3", "2001:db8::1.2.3" };
	static const char chars[] = "0123456789./:af ";
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t ok = 0;

	for (int n = 0; n < 200000; n++) {
		char s[64] = "";
		struct xnsg_prefix a, b;
		bool ha = false, hb = false;
		int ra, rb;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (n % 4 == 3) { /* any short string of the characters addresses use */
			size_t len = (x >> 59) % 20;

			for (size_t i = 0; i < len; i++)
				s[i] = chars[(x >> (i * 3 % 60)) % (sizeof(chars) - 1)];
			s[len] = '\0';
		} else if (n % 16 == 2) {
			snprintf(s, sizeof(s), "%s%s", v6[(x >> 20) % 7], lens[(x >> 40) % 17]);
		} else {
			snprintf(s, sizeof(s), "%s.%s.%s.%s%s", parts[(x >> 10) % 18],
				 parts[(x >> 16) % 18], parts[(x >> 22) % 18],
				 (x >> 60) % 2 ? parts[(x >> 28) % 18] : "7", lens[(x >> 34) % 17]);
		}
		memset(&a, 0x5a, sizeof(a));
		memset(&b, 0x5a, sizeof(b));
		ra = prefix_parse(s, &a, &ha);
		rb = ref_prefix_parse(s, &b, &hb);
		cr_assert_eq(ra == 0, rb == 0, "'%s': prefix_parse %d, inet_pton %d", s, ra, rb);
		if (ra)
			continue;
		ok++;
		cr_assert(!memcmp(&a, &b, sizeof(a)) && ha == hb, "'%s': parsed differently", s);
	}
	cr_expect_gt(ok, 5000, "enough valid prefixes among them (%zu)", ok);
}

Test(policy_warnings, subnet_outside_vnet)
{
	struct res r = parse("{'virtualNetwork':{'name':'v','addressPrefixes':['10.1.0.0/16']},"
			     "'subnets':[{'name':'in','addressPrefix':'10.1.1.0/24'},"
			     "{'name':'out','addressPrefix':'10.2.1.0/24'}]}");

	cr_expect(strstr(r.all, "warning $.subnets[1]: subnet prefix 10.2.1.0/24 lies outside"),
		  "a subnet outside the VNet is warned about:\n%s", r.all);
	cr_expect(!strstr(r.all, "warning $.subnets[0]:"), "a subnet inside is not:\n%s", r.all);
	res_free(&r);
}

/* ---- an NSG's rules parsed in two halves (rules.c, RULES_SPLIT_MIN) ----------- */

/* An NSG of n inbound TCP rules r<i> (priority 100 + i); rule i's source
 * is src(i) (NULL: '*'), its protocol proto(i) (NULL: Tcp).  Before the
 * NSG: extra, a top-level member or "". */
static char *long_nsg(size_t n, const char *extra, const char *(*src)(size_t),
		      const char *(*proto)(size_t))
{
	size_t len = 0, cap = n * 300 + strlen(extra) + 256;
	char *json = xcalloc(1, cap);

	len += (size_t)snprintf(json + len, cap - len, "{%s'networkSecurityGroups':[{'name':'n',"
				"'securityRules':[", extra);
	for (size_t i = 0; i < n; i++) {
		const char *sp = src ? src(i) : NULL, *pr = proto ? proto(i) : NULL;

		len += (size_t)snprintf(json + len, cap - len,
					"%s{'name':'r%zu','priority':%zu,'direction':'Inbound',"
					"'access':'Allow','protocol':'%s','sourceAddressPrefix':'%s',"
					"'sourcePortRange':'*','destinationAddressPrefix':'*',"
					"'destinationPortRange':'%zu'}",
					i ? "," : "", i, 100 + i, pr ? pr : "Tcp", sp ? sp : "*",
					1 + i);
	}
	snprintf(json + len, cap - len, "]}]}");
	return json;
}

static const char *host_bits_at_3_and_1100(size_t i)
{
	return i == 3 || i == 1100 ? "10.0.0.1/8" : NULL;
}

static const char *bad_proto_at_5_and_1100(size_t i)
{
	return i == 5 || i == 1100 ? "Foo" : NULL;
}

/* Index of the first diagnostic at path, or SIZE_MAX. */
static size_t diag_at(const struct diag_list *d, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].path, path))
			return i;
	return SIZE_MAX;
}

Test(policy_split, long_nsg_keeps_rule_order_paths_and_warnings)
{
	char *json = long_nsg(1200, "", host_bits_at_3_and_1100, NULL);
	struct res r = parse(json);
	const struct nsg *g;
	size_t w3, w1100;
	char want[96];

	cr_assert_eq(r.err, 0, "%.2000s", r.all);
	g = &r.p->nsgs[0];
	cr_assert_eq(g->nrules, 1200 + 6, "1,200 rules and Azure's six defaults");
	for (size_t i = 0; i < 1200; i++) {
		snprintf(want, sizeof(want), "r%zu", i);
		cr_assert_str_eq(g->rules[i].name, want, "rule %zu in priority order", i);
		snprintf(want, sizeof(want), RP "[%zu]", i);
		cr_assert_str_eq(g->rules[i].path, want);
		cr_assert_eq(g->rules[i].dport.n, 1);
		cr_assert_eq(g->rules[i].dport.v[0].lo, 1 + i, "rule %zu's own port", i);
	}
	w3 = diag_at(&r.d, RP "[3].sourceAddressPrefix");
	w1100 = diag_at(&r.d, RP "[1100].sourceAddressPrefix");
	cr_expect(w3 != SIZE_MAX && w1100 != SIZE_MAX, "both halves' warnings:\n%.2000s", r.all);
	cr_expect_lt(w3, w1100, "in rule order");
	cr_expect_eq(count(&r.d, DIAG_WARNING), 2, "each once:\n%.2000s", r.all);
	res_free(&r);
	free(json);
}

Test(policy_split, errors_in_both_halves_are_reported_once_in_order)
{
	char *json = long_nsg(1200, "", NULL, bad_proto_at_5_and_1100);
	struct res r = parse(json);
	size_t e5 = diag_at(&r.d, RP "[5].protocol"), e1100 = diag_at(&r.d, RP "[1100].protocol");

	expect_err(&r, RP "[1100].protocol", "'Foo' is not a protocol");
	cr_expect(e5 != SIZE_MAX && e5 < e1100, "rule 5's error first:\n%.2000s", r.all);
	cr_expect_eq(r.d.nerrors, 2, "no error twice:\n%.2000s", r.all);
	cr_expect_eq(r.d.n, 2, "nothing else:\n%.2000s", r.all);
	res_free(&r);
	free(json);
}

static const char *the_tag(size_t i)
{
	(void)i;
	return "Big";
}

/* 1,001 rules on a 1,000-prefix tag: the second half alone stays under
 * POLICY_MAX_PREFIXES, both together cross it at rule 1000. */
Test(policy_split, the_prefix_limit_crossed_in_the_second_half_is_reported_there)
{
	size_t len = 0, cap = 1000 * 24 + 64;
	char *tags = xcalloc(1, cap), *json;
	struct res r;

	len += (size_t)snprintf(tags + len, cap - len, "'serviceTags':{'Big':[");
	for (size_t i = 0; i < 1000; i++)
		len += (size_t)snprintf(tags + len, cap - len, "%s'10.%zu.%zu.0/24'", i ? "," : "",
					i / 256, i % 256);
	snprintf(tags + len, cap - len, "]},");
	json = long_nsg(1001, tags, the_tag, NULL);
	r = parse(json);
	expect_err(&r, RP "[1000].sourceAddressPrefix", "more than 1000000 prefixes");
	cr_expect_eq(r.d.nerrors, 1, "%.2000s", r.all);
	res_free(&r);
	free(json);
	free(tags);
}

Test(policy_errors, rules_per_direction_limit)
{
	/* 4097 inbound rules: over the limit whatever their priorities. */
	size_t n = 4097, len = 0, cap = n * 256 + 256;
	char *json = xcalloc(1, cap);
	struct res r;

	len += (size_t)snprintf(json + len, cap - len,
				"{'networkSecurityGroups':[{'name':'n','securityRules':[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(json + len, cap - len,
					"%s{'name':'r%zu','priority':%zu,'direction':'Inbound',"
					"'access':'Allow','protocol':'Tcp'," SIDES "}",
					i ? "," : "", i, 100 + i % 3997);
	snprintf(json + len, cap - len, "]}]}");
	r = parse(json);
	expect_err(&r, "$.networkSecurityGroups[0].securityRules",
		   "4097 Inbound rules: more than 4096 per NSG direction");
	res_free(&r);
	free(json);
}

Test(policy_errors, policy_prefix_limit)
{
	/* A tag of 250001 prefixes on both sides of two rules: > 1000000. */
	size_t n = 250001, len = 0, cap = n * 24 + 1024;
	char *json = xcalloc(1, cap);
	struct res r;

	len += (size_t)snprintf(json + len, cap - len, "{'serviceTags':{'Big':[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(json + len, cap - len, "%s'%zu.%zu.%zu.0/24'", i ? "," : "",
					1 + i / 65536, (i / 256) % 256, i % 256);
	snprintf(json + len, cap - len, "]},'networkSecurityGroups':[{'name':'n','securityRules':["
		 R("big", 100, "Inbound", "Deny", "*", "Big", "*", "Big", "*") ","
		 R("big2", 110, "Inbound", "Deny", "*", "Big", "*", "Big", "*") "]}]}");
	r = parse(json);
	expect_err(&r, RP "[1].destinationAddressPrefix", "more than 1000000 prefixes");
	cr_expect_eq(r.d.nerrors, 1, "the limit is reported once:\n%.500s", r.all);
	res_free(&r);
	free(json);
}

/* ---- files: serviceTagsFile, policy_load ------------------------------ */

static char tmpdir[64];

static void files_init(void)
{
	strcpy(tmpdir, "/tmp/xnsg-test-policy-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "cannot create a temporary directory");
}

static void files_fini(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			char *f = xasprintf("%s/%s", tmpdir, e->d_name);

			unlink(f);
			free(f);
		}
	closedir(d);
	rmdir(tmpdir);
}

static char *write_tmp(const char *name, const char *sqtext)
{
	char *path = xasprintf("%s/%s", tmpdir, name), *text = sq(sqtext);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot create %s", path);
	fputs(text, f);
	fclose(f);
	free(text);
	return path;
}

TestSuite(policy_files, .init = files_init, .fini = files_fini);

static const char tags_file[] =
	"{'changeNumber':1,'cloud':'Public','values':["
	"{'name':'Storage','id':'Storage','properties':{'addressPrefixes':['20.38.0.0/16',"
	"'2603:1000::/40']}},"
	"{'name':'Storage.WestUS','id':'Storage.WestUS','properties':{'region':'westus',"
	"'addressPrefixes':['20.38.1.0/24']}},"
	"{'name':'Sql','id':'Sql','properties':{'addressPrefixes':['40.64.0.0/16']}}]}";

#define TAGS_POLICY(extra)                                                                \
	"{'serviceTagsFile':'ServiceTags_Public.json'" extra ","                            \
	"'networkSecurityGroups':[{'name':'n','securityRules':["                             \
	R("st", 100, "Outbound", "Deny", "*", "*", "*", "storage", "*") ","                   \
	R("wus", 110, "Outbound", "Deny", "*", "*", "*", "Storage.WestUS", "*") ","           \
	R("sql", 120, "Outbound", "Deny", "*", "*", "*", "Sql", "*") "]}]}"

Test(policy_files, service_tags_file_relative_to_policy)
{
	char *pf, *tf = write_tmp("ServiceTags_Public.json", tags_file);
	struct diag_list d = {};
	struct policy *p = NULL;
	int err;

	pf = write_tmp("policy.json", TAGS_POLICY(",'serviceTags':{'sql':['192.0.2.0/24']}"));
	/* Loaded from elsewhere: the tags file is found beside the policy. */
	cr_assert_eq(chdir("/"), 0, "chdir /");
	err = policy_load(pf, &p, &d);
	cr_assert_eq(err, 0, "the policy with a tags file loads (err %d, %zu errors: %s)", err,
		     d.nerrors, d.n ? d.v[0].msg : "");
	cr_expect_str_eq(p->file, pf, "the policy keeps the file name it was loaded from");
	{
		const struct rule *st = rule_named(p, 0, "st"), *wus = rule_named(p, 0, "wus");
		const struct rule *sql = rule_named(p, 0, "sql");

		cr_expect(st->dst.prefixes.n == 2 && list_has(&st->dst.prefixes, "2603:1000::/40"),
			  "Storage from the file, IPv4 and IPv6, looked up case-insensitively");
		cr_expect(wus->dst.prefixes.n == 1 && list_has(&wus->dst.prefixes, "20.38.1.0/24"),
			  "Storage.WestUS from the file");
		cr_expect(sql->dst.prefixes.n == 1 && list_has(&sql->dst.prefixes, "192.0.2.0/24"),
			  "inline serviceTags override the file's Sql");
	}
	policy_free(p);
	diag_free(&d);
	free(pf);
	free(tf);
}

Test(policy_files, service_tags_file_with_basedir)
{
	char *tf = write_tmp("ServiceTags_Public.json", tags_file);
	struct res r = parse_in(TAGS_POLICY(""), tmpdir);

	cr_expect_eq(r.err, 0, "policy_parse_string resolves the tags file in basedir:\n%s", r.all);
	if (!r.err)
		cr_expect(list_has(&rule_named(r.p, 0, "sql")->dst.prefixes, "40.64.0.0/16"),
			  "Sql comes from the file when not overridden");
	res_free(&r);
	free(tf);
}

/* The tags a tags file (single-quoted JSON) gives, or the load's result. */
static struct res load_tags_file(const char *sqtags)
{
	char *tf = write_tmp("ServiceTags_Public.json", sqtags);
	struct res r = parse_in("{'serviceTagsFile':'ServiceTags_Public.json',"
				"'networkSecurityGroups':[{'name':'n','securityRules':[]}]}",
				tmpdir);

	free(tf);
	return r;
}

static bool same_tags(const struct policy *a, const struct policy *b)
{
	if (a->ntags != b->ntags)
		return false;
	for (size_t i = 0; i < a->ntags; i++) {
		const struct prefix_list *x = &a->tags[i].prefixes, *y = &b->tags[i].prefixes;

		if (strcmp(a->tags[i].name, b->tags[i].name) || x->n != y->n ||
		    (x->n && memcmp(x->v, y->v, x->n * sizeof(*x->v))))
			return false;
	}
	return true;
}

/*
 * Azure's file is read without a JSON tree (quickjson.c) when it is written
 * as Azure writes it; an escape in a string it does not need ("Pub\u006cic")
 * sends the same file to jansson.  Both must give the same tags, and what
 * jansson refuses must be refused all the same.
 */
Test(policy_files, service_tags_file_read_alike_either_way)
{
	static const char *const files[] = {
		"{'changeNumber':375,'cloud':'%s','values':[]}",
		"{'changeNumber':-1,'cloud':'%s','values':[{'name':'A','id':'A','properties':"
		"{'changeNumber':0,'region':'','regionId':12,'platform':'Azure','systemService':"
		"'','addressPrefixes':['20.0.0.0/24','2603:1000::/40'],'networkFeatures':"
		"['API','NSG',null,true,false,{'x':[[],{}]}]}},{'name':'a','properties':"
		"{'addressPrefixes':['1.2.3.4/32']}},{'name':'VirtualNetwork','properties':"
		"{'addressPrefixes':['9.9.9.0/24']}},{'Name':'B','Properties':{'AddressPrefixes':"
		"[]}}]}",
		" \r\n\t{ 'values' : [ { 'properties' : { 'addressPrefixes' : [ '10.0.0.0/8' ] } "
		", 'name' : 'C' } ] , 'cloud' : '%s' } \n",
		"{'cloud':'%s','values':[{'name':'H','properties':{'addressPrefixes':"
		"['10.0.0.1/8']}}]}", /* a warning: masked */
	};
	static const char *const refused[] = {
		"{'cloud':'%s','values':[{'name':'A','properties':{'addressPrefixes':[]}},]}",
		"{'cloud':'%s','values':[]} x",
		"{'cloud':'%s','values':[],'n':01}",
		"{'cloud':'%s','values':[],'n':1.}",
		"{'cloud':'%s','values':[],'n':\"\x01\"}",
		"{'cloud':'%s','values':[],'n':\"\xff\"}",
		"{'cloud':'%s','values':[],'n':tru}",
		"{'cloud':'%s','values':[]",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *quick = xasprintf(files[i], "Public"), *slow = xasprintf(files[i], "Pub\\u006cic");
		struct res q = load_tags_file(quick), s = load_tags_file(slow);

		cr_expect(!q.err && !s.err, "file %zu loads both ways:\n%s\n%s", i, q.all, s.all);
		cr_expect_str_eq(q.all, s.all, "file %zu: the same messages both ways", i);
		if (!q.err && !s.err)
			cr_expect(same_tags(q.p, s.p), "file %zu: the same tags both ways", i);
		res_free(&q);
		res_free(&s);
		free(quick);
		free(slow);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *quick = xasprintf(refused[i], "Public");
		struct res q = load_tags_file(quick);

		expect_err(&q, "$.serviceTagsFile", "JSON syntax error");
		res_free(&q);
		free(quick);
	}
}

Test(policy_files, service_tags_file_errors)
{
	char *missing = xasprintf("%s/ServiceTags_Public.json", tmpdir), *tf;
	struct res r;

	r = parse_in(TAGS_POLICY(""), tmpdir);
	expect_err(&r, "$.serviceTagsFile", missing);
	expect_err(&r, "$.serviceTagsFile", "No such file or directory");
	res_free(&r);

	tf = write_tmp("ServiceTags_Public.json", "{'values':[{'name':'Storage',}]}");
	r = parse_in(TAGS_POLICY(""), tmpdir);
	expect_err(&r, "$.serviceTagsFile", "JSON syntax error at line 1");
	res_free(&r);
	free(tf);

	tf = write_tmp("ServiceTags_Public.json", "{'value':[]}");
	r = parse_in(TAGS_POLICY(""), tmpdir);
	expect_err(&r, "$.serviceTagsFile", "no \"values\" array");
	res_free(&r);
	free(tf);

	tf = write_tmp("ServiceTags_Public.json",
		       "{'values':[{'name':'Storage',"
		       "'properties':{'addressPrefixes':['20.38.0.0/99']}},"
		       "{'name':'Sql'}]}");
	r = parse_in(TAGS_POLICY(""), tmpdir);
	expect_err(&r, "$.serviceTagsFile", "$.values[0].properties.addressPrefixes[0]");
	expect_err(&r, "$.serviceTagsFile", "$.values[1]: no \"properties.addressPrefixes\"");
	res_free(&r);
	free(tf);
	free(missing);

	expect_error("{'serviceTagsFile':7}", "$.serviceTagsFile", "must be a file name");
}

Test(policy_files, unreadable_policy)
{
	char *missing = xasprintf("%s/no-such-policy.json", tmpdir);
	struct diag_list d = {};
	struct policy *p = (struct policy *)&d; /* must be reset to NULL */
	int err = policy_load(missing, &p, &d);

	cr_expect_eq(err, -ENOENT, "a missing file is -ENOENT (got %d)", err);
	cr_expect_null(p, "*out is NULL");
	cr_expect(d.nerrors == 1 && strstr(d.v[0].msg, missing) &&
		  strstr(d.v[0].msg, "No such file or directory"),
		  "one error naming the file and the reason: %s", d.n ? d.v[0].msg : "(none)");
	diag_free(&d);
	err = policy_load(tmpdir, &p, &d);
	cr_expect_eq(err, -EISDIR, "a directory is not a policy (got %d)", err);
	diag_free(&d);
	free(missing);
}

Test(policy_files, load_reports_syntax_error)
{
	char *pf = write_tmp("broken.json", "{\n'subnets': [\n  {'name': 'a',}\n]}");
	struct diag_list d = {};
	struct policy *p = NULL;
	int err = policy_load(pf, &p, &d);

	cr_expect_eq(err, -EINVAL, "a syntax error is -EINVAL (got %d)", err);
	cr_expect(d.nerrors == 1 && !strcmp(d.v[0].path, "$") &&
		  strstr(d.v[0].msg, "JSON syntax error at line 3 column"),
		  "the syntax error gives line 3: %s", d.n ? d.v[0].msg : "(none)");
	diag_free(&d);
	free(pf);
}

/* ---- unknown keys, at every level (issue 10, 2) ------------------------- */

Test(policy_warnings, typo_keys_at_every_level)
{
	struct res r = load_ok(
		"{'virtualNetwork':{'name':'v','adressPrefixes':['10.1.0.0/16'],"
		"'properties':{'addressSpace':{'adressPrefixes':[]}}},"
		"'networkSecurityGroups':[{'name':'n','flushConection':true,'properties':{"
		"'securityRules':[{'name':'r','properties':{'priority':100,'direction':'Inbound',"
		"'access':'Deny','protocol':'Tcp','sourceAddressPrefix':'*','sourcePortRange':'*',"
		"'destinationAddressPrefix':'*','destinationPortRange':'*',"
		"'destinationPortRnages':['80']}}]}}],'applicationSecurityGroups':{'g':[]},"
		"'subnets':[{'name':'s','addressPrefix':'10.1.1.0/24','networkSecurityGroups':'n'}],"
		"'interfaces':[{'name':'eth0','subnet':'s','networkSecurityGroups':'n',"
		"'ipAddresses':['10.1.1.4'],'atach':'host','applicationSecurityGroups':"
		"[{'name':'g','idd':'x'}],'ipConfigurations':[{'properties':"
		"{'privateIpAdress':'10.1.1.5'}}]}],"
		"'subnet':[],'zzz':1}");

	expect_warning(&r, "$.virtualNetwork.adressPrefixes", "did you mean \"addressPrefixes\"?");
	expect_warning(&r, "$.virtualNetwork.properties.addressSpace.adressPrefixes",
		       "did you mean \"addressPrefixes\"?");
	expect_warning(&r, "$.networkSecurityGroups[0].flushConection",
		       "did you mean \"flushConnection\"?");
	expect_warning(&r, "$.networkSecurityGroups[0].properties.securityRules[0].properties"
		       ".destinationPortRnages", "unknown key \"destinationPortRnages\" ignored; "
		       "did you mean \"destinationPortRanges\"?");
	expect_warning(&r, "$.interfaces[0].applicationSecurityGroups[0].idd",
		       "unknown key \"idd\" ignored; did you mean \"id\"?");
	expect_warning(&r, "$.subnets[0].networkSecurityGroups",
		       "did you mean \"networkSecurityGroup\"?");
	expect_warning(&r, "$.interfaces[0].networkSecurityGroups",
		       "did you mean \"networkSecurityGroup\"?");
	expect_warning(&r, "$.interfaces[0].atach", "did you mean \"attach\"?");
	expect_warning(&r, "$.interfaces[0].ipConfigurations[0].properties.privateIpAdress",
		       "did you mean \"privateIPAddress\"?");
	expect_warning(&r, "$.subnet", "did you mean \"subnets\"?");
	expect_warning(&r, "$.zzz", "unknown key \"zzz\" ignored");
	cr_expect_null(find(&r.d, DIAG_WARNING, "$.zzz", "did you mean"),
		       "no suggestion when nothing is close:\n%s", r.all);
	res_free(&r);
}

Test(policy_warnings, azure_informational_fields_quiet)
{
	/* What exports carry for information is known, at every level. */
	struct res r = load_ok(
		"{'virtualNetwork':{'name':'v','id':'/x','etag':'e','type':'t','location':'l',"
		"'tags':{'anything':'goes'},'properties':{'provisioningState':'Succeeded',"
		"'resourceGuid':'g','addressSpace':{'addressPrefixes':['10.1.0.0/16']},"
		"'dhcpOptions':{'dnsServers':[]},'virtualNetworkPeerings':[]}},"
		"'networkSecurityGroups':[{'name':'n','id':'/subscriptions/s/resourceGroups/rg/providers/"
		"Microsoft.Network/networkSecurityGroups/n','etag':'e','location':'l',"
		"'resourceGroup':'rg','properties':{'provisioningState':'Succeeded','resourceGuid':"
		"'g','securityRules':[{'name':'r','id':'/x','etag':'e','type':'t','properties':{"
		"'provisioningState':'Succeeded','description':'d','priority':100,'direction':"
		"'Inbound','access':'Deny','protocol':'Tcp','sourceAddressPrefix':'*',"
		"'sourcePortRange':'*','destinationAddressPrefix':'*','destinationPortRange':'80',"
		"'sourcePortRanges':[],'destinationPortRanges':[],'sourceAddressPrefixes':[],"
		"'destinationAddressPrefixes':[]}}],'networkInterfaces':[{'id':'/x'}],"
		"'subnets':[{'id':'/x'}]}}],"
		"'interfaces':[{'name':'eth0','networkSecurityGroup':{'id':'.../networkSecurityGroups/n',"
		"'resourceGroup':'rg'},'ipAddresses':['10.1.1.4'],'macAddress':'00-0D-3A-00-00-01',"
		"'enableAcceleratedNetworking':false}]}");

	cr_expect_eq(count(&r.d, DIAG_WARNING), 0, "no warnings:\n%s", r.all);
	res_free(&r);
}

/* ---- identity by ARM id (issue 10, 4) ---------------------------------- */

#define ARM "/subscriptions/S1/resourceGroups/"
#define NSGID(rg, name) ARM rg "/providers/Microsoft.Network/networkSecurityGroups/" name
#define TWO_WEB_NSGS                                                                    \
	"'networkSecurityGroups':["                                                        \
	"{'name':'web-nsg','id':'" NSGID("rg-a", "web-nsg") "','securityRules':["        \
	R("DenyA", 100, "Inbound", "Deny", "Tcp", "*", "*", "*", "22") "]},"                \
	"{'name':'web-nsg','id':'" NSGID("rg-b", "web-nsg") "','securityRules':["        \
	R("DenyB", 100, "Inbound", "Deny", "Tcp", "*", "*", "*", "23") "]}]"

Test(policy_identity, same_name_in_two_resource_groups)
{
	struct res r = load_ok(
		"{" VNET "," TWO_WEB_NSGS ","
		"'subnets':[{'name':'s','addressPrefix':'10.1.1.0/24','networkSecurityGroup':"
		"{'id':'" NSGID("RG-B", "WEB-NSG") "'}}],"
		"'interfaces':[{'name':'eth0','subnet':'s','ipAddresses':['10.1.1.4'],"
		"'networkSecurityGroup':{'id':'" NSGID("rg-a", "web-nsg") "'}}]}");

	cr_expect_eq(r.p->nnsgs, 2, "both web-nsg load");
	cr_expect_eq(r.p->subnets[0].nsg, 1, "the subnet's id names rg-b's (case-insensitively)");
	cr_expect_eq(r.p->ifaces[0].nsg, 0, "the NIC's id names rg-a's");
	cr_expect_str_eq(r.p->nsgs[0].name, "web-nsg (rg-a)", "shown names tell them apart");
	cr_expect_str_eq(r.p->nsgs[1].name, "web-nsg (rg-b)", "shown names tell them apart");
	cr_expect_str_eq(r.p->nsgs[1].ident.name, "web-nsg", "the Azure name is kept");
	cr_expect_str_eq(r.p->nsgs[1].ident.resource_group, "rg-b", "and the resource group");
	cr_expect_str_eq(r.p->nsgs[1].ident.subscription, "S1", "and the subscription");
	res_free(&r);
}

Test(policy_identity, references_must_be_unambiguous)
{
	struct res r = parse("{" TWO_WEB_NSGS ",'interfaces':[{'name':'eth0',"
			     "'ipAddresses':['10.1.1.4'],'networkSecurityGroup':'web-nsg'}]}");

	expect_err(&r, "$.interfaces[0].networkSecurityGroup", "network security group "
		   "'web-nsg' is ambiguous: web-nsg in resource group 'rg-a' of subscription 'S1' "
		   "($.networkSecurityGroups[0]), web-nsg in resource group 'rg-b' of subscription "
		   "'S1' ($.networkSecurityGroups[1]); refer to one by its ARM id");
	res_free(&r);
	/* An id of another resource group never binds to this one's. */
	r = parse("{" TWO_WEB_NSGS ",'interfaces':[{'name':'eth0','ipAddresses':['10.1.1.4'],"
		  "'networkSecurityGroup':{'id':'/subscriptions/OTHER/resourceGroups/rg-zzz/"
		  "providers/Microsoft.Network/networkSecurityGroups/web-nsg'}}]}");
	expect_err(&r, "$.interfaces[0].networkSecurityGroup",
		   "unknown network security group 'web-nsg' in resource group 'rg-zzz' of "
		   "subscription 'OTHER'; the policy has web-nsg in resource group 'rg-a'");
	res_free(&r);
	/* One resource twice is still a duplicate: same group, or one says none. */
	expect_error("{'networkSecurityGroups':[{'name':'n','id':'" NSGID("g", "n") "'},"
		     "{'name':'N','resourceGroup':'G'}]}", "$.networkSecurityGroups[1].name",
		     "network security group name 'N' is already used by $.networkSecurityGroups[0]");
	expect_error("{'networkSecurityGroups':[{'name':'n','id':'" NSGID("g", "n") "'},"
		     "{'name':'n'}]}", "$.networkSecurityGroups[1].name", "already used by");
	expect_error("{'networkSecurityGroups':[{'name':'n','id':'" NSGID("g", "m") "'}]}",
		     "$.networkSecurityGroups[0].name", "name 'n' is not the name its id ends in");
}

Test(policy_identity, asgs_and_subnets_by_id)
{
	struct res r = load_ok(
		"{'virtualNetwork':{'name':'v1','properties':{'addressSpace':{'addressPrefixes':"
		"['10.1.0.0/16']},'subnets':[{'name':'web','id':'" ARM "g/providers/Microsoft."
		"Network/virtualNetworks/v1/subnets/web','properties':{'addressPrefix':"
		"'10.1.1.0/24'}}]}},"
		"'subnets':[{'name':'web','id':'" ARM "g/providers/Microsoft.Network/"
		"virtualNetworks/v2/subnets/web','addressPrefix':'10.2.1.0/24'}],"
		"'applicationSecurityGroups':[{'name':'app','id':'" ARM "g1/providers/Microsoft."
		"Network/applicationSecurityGroups/app'},{'name':'app','id':'" ARM "g2/providers/"
		"Microsoft.Network/applicationSecurityGroups/app','members':['10.9.9.9']}],"
		"'networkSecurityGroups':[{'name':'n','securityRules':["
		"{'name':'r','priority':100,'direction':'Inbound','access':'Allow','protocol':'Tcp',"
		"'sourceApplicationSecurityGroups':[{'id':'" ARM "g2/providers/Microsoft.Network/"
		"applicationSecurityGroups/app'}],'sourcePortRange':'*',"
		"'destinationAddressPrefix':'*','destinationPortRange':'80'}]}],"
		"'interfaces':[{'name':'eth0','ipAddresses':['10.1.1.4'],'networkSecurityGroup':'n',"
		"'subnet':{'id':'" ARM "g/providers/Microsoft.Network/virtualNetworks/v1/subnets/web'},"
		"'applicationSecurityGroups':[{'id':'" ARM "g1/providers/Microsoft.Network/"
		"applicationSecurityGroups/app'}]}]}");
	const struct rule *rr = rule_named(r.p, 0, "r");

	cr_expect_eq(r.p->nsubnets, 2, "the VNet's subnets and the top-level ones");
	cr_expect_eq(r.p->ifaces[0].subnet, 0, "the subnet of virtual network v1");
	cr_expect_str_eq(r.p->subnets[0].name, "web (v1)", "a subnet shown with its VNet");
	cr_expect_str_eq(r.p->subnets[1].name, "web (v2)", "a subnet shown with its VNet");
	cr_expect_str_eq(r.p->asgs[0].name, "app (g1)", "an ASG shown with its resource group");
	cr_expect(rr->src.prefixes.n == 1 && list_has(&rr->src.prefixes, "10.9.9.9/32"),
		  "the rule's ASG is g2's, not g1's (where eth0 is)");
	cr_expect_str_eq(rr->src.labels[0], "asg:app (g2)", "the label says which");
	res_free(&r);
}

/* ---- Azure's VNet and NIC shapes in the host document (issue 10, 3) ---- */

Test(policy_shapes, vnet_as_az_network_vnet_show)
{
	struct res r = load_ok(
		"{'virtualNetwork':{'name':'v','properties':{'addressSpace':{'addressPrefixes':"
		"['10.0.0.0/16']},'subnets':[{'name':'web','properties':{'addressPrefix':"
		"'10.0.1.0/24','networkSecurityGroup':{'id':'.../networkSecurityGroups/n'}}}]}},"
		"'networkSecurityGroups':[{'name':'n','securityRules':[]}],"
		"'interfaces':[{'name':'eth0','subnet':'web','ipAddresses':['10.0.1.4']}]}");

	cr_expect(list_has(&r.p->virtual_network, "10.0.0.0/16"),
		  "VirtualNetwork holds properties.addressSpace.addressPrefixes");
	cr_expect(r.p->nsubnets == 1 && r.p->subnets[0].nsg == 0,
		  "properties.subnets[] are subnets, with their NSG");
	res_free(&r);
}

Test(policy_shapes, nic_as_az_network_nic_show)
{
	struct res r = load_ok(
		"{" VNET ",'applicationSecurityGroups':{'web':[]},"
		"'networkSecurityGroups':[{'name':'sub-nsg'},{'name':'nic-nsg'}],"
		"'subnets':[{'name':'s','id':'" ARM "g/providers/Microsoft.Network/virtualNetworks/v/"
		"subnets/s','addressPrefix':'10.1.1.0/24','networkSecurityGroup':'sub-nsg'}],"
		"'interfaces':[{'name':'eth0','attach':'host','properties':{"
		"'networkSecurityGroup':{'id':'" ARM "g/providers/Microsoft.Network/"
		"networkSecurityGroups/nic-nsg'},'ipConfigurations':[{'name':'ipconfig1',"
		"'properties':{'privateIPAddress':'10.1.1.4','privateIPAllocationMethod':'Dynamic',"
		"'subnet':{'id':'" ARM "g/providers/Microsoft.Network/virtualNetworks/v/subnets/s'},"
		"'applicationSecurityGroups':[{'id':'.../applicationSecurityGroups/web'}]}}]}}]}");
	const struct iface *i = &r.p->ifaces[0];

	cr_expect(i->naddrs == 1, "privateIPAddress is an address of the interface");
	cr_expect_eq(i->subnet, 0, "the IP configuration's subnet is the interface's");
	cr_expect_eq(r.p->subnets[i->subnet].nsg, 0, "so the subnet NSG applies");
	cr_expect_eq(i->nsg, 1, "properties.networkSecurityGroup is the NIC NSG");
	cr_expect(i->nasgs == 1 && list_has(&r.p->asgs[0].members, "10.1.1.4/32"),
		  "the IP configuration's ASG holds the address");
	cr_expect_null(find(&r.d, DIAG_WARNING, "$.interfaces[0]", "no ipAddresses"),
		       "no 'no ipAddresses' warning:\n%s", r.all);
	res_free(&r);
	expect_error("{'subnets':[{'name':'a','addressPrefix':'10.0.1.0/24'},{'name':'b',"
		     "'addressPrefix':'10.0.2.0/24'}],'interfaces':[{'name':'eth0','subnet':'a',"
		     "'ipConfigurations':[{'properties':{'privateIPAddress':'10.0.1.4','subnet':"
		     "{'id':'.../subnets/b'}}}]}]}",
		     "$.interfaces[0].ipConfigurations[0].properties.subnet",
		     "subnet 'b', but interface 'eth0' is in subnet 'a'");
}

/* ---- an export's defaultSecurityRules (issue 10, 6) --------------------- */

#define DEFAULT_RULE(name, prio, dir, access, src, dst)                                  \
	"{'name':'" name "','properties':{'priority':" #prio ",'direction':'" dir "',"       \
	"'access':'" access "','protocol':'*','sourceAddressPrefix':'" src "',"             \
	"'sourcePortRange':'*','destinationAddressPrefix':'" dst "',"                        \
	"'destinationPortRange':'*','sourceAddressPrefixes':[],"                            \
	"'destinationAddressPrefixes':[]}}"
#define AZURE_DEFAULTS(deny_in_access)                                                   \
	DEFAULT_RULE("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork",        \
		     "VirtualNetwork") ","                                                  \
	DEFAULT_RULE("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow",             \
		     "AzureLoadBalancer", "*") ","                                          \
	DEFAULT_RULE("DenyAllInBound", 65500, "Inbound", deny_in_access, "*", "*") ","       \
	DEFAULT_RULE("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork",      \
		     "VirtualNetwork") ","                                                  \
	DEFAULT_RULE("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet") "," \
	DEFAULT_RULE("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*")

Test(policy_shapes, export_default_rules_checked)
{
	struct res r = load_ok("{'networkSecurityGroups':[{'name':'n','properties':{"
			       "'defaultSecurityRules':[" AZURE_DEFAULTS("Deny") "]}}]}");

	cr_expect_eq(count(&r.d, DIAG_WARNING), 0, "Azure's six as exported: quiet\n%s", r.all);
	res_free(&r);
	r = load_ok("{'networkSecurityGroups':[{'name':'n','properties':{"
		    "'defaultSecurityRules':[" AZURE_DEFAULTS("Allow") ","
		    DEFAULT_RULE("AllowAll", 65100, "Inbound", "Allow", "*", "*") "]}}]}");
	expect_warning(&r, "$.networkSecurityGroups[0].properties.defaultSecurityRules[2]",
		       "default rule DenyAllInBound differs from Azure's: access Allow (Azure: "
		       "Deny); ignored, an NSG's default rules are always Azure's");
	expect_warning(&r, "$.networkSecurityGroups[0].properties.defaultSecurityRules[6]",
		       "'AllowAll' is not one of Azure's six default rules: ignored");
	cr_expect(!rule_named(r.p, 0, "DenyAllInBound")->allow, "DenyAllInBound still denies");
	res_free(&r);
	r = load_ok("{'networkSecurityGroups':[{'name':'n','defaultSecurityRules':["
		    DEFAULT_RULE("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*") "]}]}");
	expect_warning(&r, "$.networkSecurityGroups[0].defaultSecurityRules",
		       "the others (AllowVnetInBound, AllowAzureLoadBalancerInBound, "
		       "AllowVnetOutBound, AllowInternetOutBound, DenyAllOutBound) apply");
	res_free(&r);
}

/* ---- what a valid policy binds (issue 10, 1 and 2) ---------------------- */

static struct diag_list bindings(const struct res *r)
{
	struct diag_list d = {};

	policy_check_bindings(r->p, &d);
	return d;
}

Test(policy_bindings, nothing_filtered_and_nsgs_bound_to_nothing)
{
	struct res r = load_ok("{" VNET ",'networkSecurityGroups':[{'name':'a'},{'name':'b'}],"
			       "'subnets':[{'name':'s','addressPrefix':'10.1.9.0/24',"
			       "'networkSecurityGroup':'b'}],"
			       "'interfaces':[{'name':'eth0','ipAddresses':['10.1.1.4']}]}");
	struct diag_list d = bindings(&r);
	char *all = diags_str(&d);

	cr_expect_eq(policy_filtered_ifaces(r.p), 0, "no interface is filtered");
	cr_expect(strstr(all, "warning $.networkSecurityGroups[0]: NSG a is bound to no subnet "
			 "and no interface: its rules apply to nothing"), "a:\n%s", all);
	cr_expect(strstr(all, "warning $.networkSecurityGroups[1]: NSG b applies to no "
			 "interface: subnet 's' has no interface in this policy"), "b:\n%s", all);
	cr_expect(strstr(all, "warning : no NSG applies to any interface: this policy filters "
			 "nothing"), "the whole policy:\n%s", all);
	free(all);
	diag_free(&d);
	res_free(&r);
	r = load_ok("{'networkSecurityGroups':[{'name':'a'}],'interfaces':[{'name':'eth0',"
		    "'networkSecurityGroup':'a','ipAddresses':['10.1.1.4']},{'name':'eth1',"
		    "'ipAddresses':['10.1.1.5']}]}");
	d = bindings(&r);
	cr_expect_eq(policy_filtered_ifaces(r.p), 1, "eth0 is filtered");
	cr_expect_eq(d.n, 0, "nothing to say when an NSG applies");
	diag_free(&d);
	res_free(&r);
}

/* ---- input files as a careful tool reads them (issue 10, 9) ------------ */

Test(policy_files, fifo_refused_at_once)
{
	char *fifo = xasprintf("%s/policy.fifo", tmpdir), *pf;
	struct diag_list d = {};
	struct policy *p = NULL;
	int err;

	cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo %s", fifo);
	/* No writer: reading would block forever; it must not even try. */
	err = policy_load(fifo, &p, &d);
	cr_expect_eq(err, -EINVAL, "a FIFO is refused with -EINVAL (got %d)", err);
	cr_expect(d.nerrors == 1 && strstr(d.v[0].msg, "not a regular file"),
		  "one error saying it is not a regular file: %s", d.n ? d.v[0].msg : "(none)");
	diag_free(&d);
	/* The same for a serviceTagsFile that is a FIFO. */
	pf = write_tmp("fifo-tags.json", "{'serviceTagsFile':'policy.fifo'}");
	err = policy_load(pf, &p, &d);
	cr_expect_eq(err, -EINVAL, "a FIFO tags file makes the policy invalid (got %d)", err);
	cr_expect(d.nerrors == 1 && !strcmp(d.v[0].path, "$.serviceTagsFile") &&
		  strstr(d.v[0].msg, "not a regular file"),
		  "the tags file's error names $.serviceTagsFile: %s", d.n ? d.v[0].msg : "(none)");
	diag_free(&d);
	unlink(fifo);
	free(fifo);
	free(pf);
}

Test(policy_files, byte_order_mark_accepted)
{
	char *pf = xasprintf("%s/bom.json", tmpdir);
	FILE *f = fopen(pf, "w");
	struct diag_list d = {};
	struct policy *p = NULL;
	struct res r;
	int err;

	cr_assert_not_null(f);
	fputs("\xef\xbb\xbf{\"subnets\":[{\"name\":\"a\",\"addressPrefix\":\"10.0.0.0/24\"}]}", f);
	fclose(f);
	err = policy_load(pf, &p, &d);
	cr_expect_eq(err, 0, "a UTF-8 BOM (PowerShell's Out-File) is accepted (err %d)", err);
	cr_expect(p && p->nsubnets == 1, "and the document read after it");
	policy_free(p);
	diag_free(&d);
	r = parse("\xef\xbb\xbf{}");
	cr_expect_eq(r.err, 0, "policy_parse_string() skips a BOM too:\n%s", r.all);
	res_free(&r);
	free(pf);
}

Test(policy_files, writable_by_others_warned)
{
	char *pf = write_tmp("open.json", "{}");
	struct diag_list d = {};
	struct policy *p = NULL;
	char *all;

	cr_assert_eq(chmod(pf, 0666), 0);
	cr_expect_eq(policy_load(pf, &p, &d), 0, "a writable policy still loads");
	all = diags_str(&d);
	cr_expect(strstr(all, "writable by everyone (mode 0666)"),
		  "a world-writable policy is warned about:\n%s", all);
	free(all);
	diag_free(&d);
	policy_free(p);
	cr_assert_eq(chmod(pf, 0620), 0);
	cr_expect_eq(policy_load(pf, &p, &d), 0);
	all = diags_str(&d);
	cr_expect(strstr(all, "writable by its group (mode 0620)"), "group-writable:\n%s", all);
	free(all);
	diag_free(&d);
	policy_free(p);
	cr_assert_eq(chmod(pf, 0644), 0);
	cr_expect_eq(policy_load(pf, &p, &d), 0);
	cr_expect_eq(d.n, 0, "0644, owned by us: nothing to say");
	diag_free(&d);
	policy_free(p);
	free(pf);
}

Test(policy_warnings, ipv4_mapped_ipv6)
{
	struct res r = load_ok(NSG(
		R("Mapped", 100, "Inbound", "Deny", "Tcp", "::ffff:192.0.2.21", "*", "*", "80") ","
		R("MappedNet", 110, "Inbound", "Deny", "Tcp", "::ffff:192.0.2.0/120", "*", "*",
		  "80") ","
		R("Plain6", 120, "Inbound", "Deny", "Tcp", "2001:db8::1", "*", "*", "80")));

	expect_warning(&r, RP "[0].sourceAddressPrefix", "'::ffff:192.0.2.21' is an IPv4-mapped "
		       "IPv6 address: it matches IPv6 packets only, never IPv4 ones; did you mean "
		       "192.0.2.21?");
	expect_warning(&r, RP "[1].sourceAddressPrefix", "did you mean 192.0.2.0/24?");
	cr_expect_null(find(&r.d, DIAG_WARNING, RP "[2].sourceAddressPrefix", "IPv4-mapped"),
		       "an ordinary IPv6 address is not:\n%s", r.all);
	res_free(&r);
	r = load_ok("{'interfaces':[{'name':'eth0','ipAddresses':['::ffff:10.1.1.4']}]}");
	expect_warning(&r, "$.interfaces[0].ipAddresses[0]", "did you mean 10.1.1.4?");
	res_free(&r);
}

Test(policy_model, protocol_all)
{
	/* Effective security rules print protocol "All". */
	struct res r = load_ok(NSG(R("A", 100, "Inbound", "Allow", "All", "*", "*", "*", "*")));

	cr_expect_eq(rule_named(r.p, 0, "A")->proto, XNSG_PROTO_ANY, "All is *");
	res_free(&r);
}

/* An NSG far over the per-direction limit is refused before its rules are
 * compared pairwise: 40,000 rules in well under the 36 s it once took. */
Test(policy_errors, huge_nsg_refused_quickly, .timeout = 10)
{
	size_t n = 40000, len = 0, cap = n * 300 + 256;
	char *json = xcalloc(1, cap);
	struct res r;

	len += (size_t)snprintf(json + len, cap - len,
				"{'networkSecurityGroups':[{'name':'n','securityRules':[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(json + len, cap - len,
					"%s{'name':'r%zu','priority':%zu,'direction':'Inbound',"
					"'access':'Allow','protocol':'Tcp'," SIDES "}",
					i ? "," : "", i, 100 + i);
	snprintf(json + len, cap - len, "]}]}");
	r = parse(json);
	expect_err(&r, "$.networkSecurityGroups[0].securityRules",
		   "40000 Inbound rules: more than 4096 per NSG direction");
	cr_expect_eq(r.d.nerrors, 1, "one error, not one per rule:\n%.2000s", r.all);
	res_free(&r);
	free(json);
}

/* Uniqueness by sort: every repeat found, each against the first. */
Test(policy_errors, repeats_found_by_sort)
{
	struct res r = parse(NSG(
		OK("a", 100) "," OK("B", 101) "," OK("A", 102) "," OK("c", 100) ","
		R("b", 101, "Outbound", "Allow", "Tcp", "*", "*", "*", "80") "," OK("a", 100)));

	expect_err(&r, RP "[2].name", "rule name 'A' is already used by " RP "[0]");
	expect_err(&r, RP "[4].name", "rule name 'b' is already used by " RP "[1]");
	expect_err(&r, RP "[5].name", "rule name 'a' is already used by " RP "[0]");
	expect_err(&r, RP "[3].priority", "priority 100 is already used by rule 'a' (Inbound)");
	expect_err(&r, RP "[5].priority", "priority 100 is already used by rule 'a' (Inbound)");
	cr_expect_eq(r.d.nerrors, 5, "101 Outbound does not repeat 101 Inbound:\n%s", r.all);
	res_free(&r);
}

/* ---- the shadow check is complete, or says where it stopped (issue 10, 8) */

/* Sql's prefixes all lie inside AzureCloud's, but no single AzureCloud
 * prefix holds 10.0.0.0/23: the set holds it. */
#define CLOUD_TAGS                                                                       \
	"'serviceTags':{'AzureCloud':['10.0.0.0/24','10.0.1.0/24','20.0.0.0/16'],"         \
	"'Sql':['10.0.0.0/23','20.0.5.0/24']}"
#define CLOUD_RULES(dir)                                                                 \
	R("Cloud" dir, 100, dir, "Deny", "*", "*", "*", "AzureCloud", "*") ","               \
	R("Sql" dir, 200, dir, "Allow", "Tcp", "*", "*", "Sql", "1433")

Test(policy_warnings, tag_inside_tag_shadowed)
{
	struct res r = load_ok("{" CLOUD_TAGS ",'networkSecurityGroups':[{'name':'n',"
			       "'securityRules':[" CLOUD_RULES("Outbound") "]}]}");

	expect_warning(&r, RP "[1]", "rule SqlOutbound can never match: shadowed by "
		       "CloudOutbound (priority 100)");
	res_free(&r);
}

Test(policy_warnings, shadows_do_not_vanish_as_the_policy_grows)
{
	/* Big unrelated rules, inbound and outbound, before and between. */
	size_t cap = 1 << 20, len = 0;
	char *json = xcalloc(1, cap);
	struct res r;

	len += (size_t)snprintf(json + len, cap - len, "{" CLOUD_TAGS ",'networkSecurityGroups':"
				"[{'name':'n','securityRules':[" CLOUD_RULES("Outbound") ","
				CLOUD_RULES("Inbound"));
	for (int i = 0; i < 2000; i++)
		len += (size_t)snprintf(json + len, cap - len,
					",{'name':'u%d','priority':%d,'direction':'%s','access':"
					"'Allow','protocol':'Udp','sourceAddressPrefix':"
					"'172.16.%d.%d','sourcePortRange':'*',"
					"'destinationAddressPrefix':'Internet',"
					"'destinationPortRange':'%d'}",
					i, 300 + i / 2, i % 2 ? "Inbound" : "Outbound", i / 250,
					i % 250, 1000 + i);
	snprintf(json + len, cap - len, "]}]}");
	r = load_ok(json);
	expect_warning(&r, RP "[1]", "rule SqlOutbound can never match: shadowed by CloudOutbound");
	expect_warning(&r, RP "[3]", "rule SqlInbound can never match: shadowed by CloudInbound");
	cr_expect_null(strstr(r.all, "not checked for shadowing"),
		       "all of it is analysed:\n%.2000s", r.all);
	res_free(&r);
	free(json);
}

/* Only the earlier rules holding a rule's first port and address are
 * compared (lint.c): a shadowing rule is found whether its interval is a
 * leaf of the index or spans hundreds, or it lists too many prefixes to be
 * indexed by them, and the first of several is named. */
Test(policy_warnings, shadowing_found_among_near_misses)
{
	size_t cap = 1 << 18, len = 0;
	char *json = xcalloc(1, cap);
	struct res r;

	len += (size_t)snprintf(json + len, cap - len, "{'serviceTags':{'Many':[");
	for (int i = 0; i < 100; i++) /* 100 intervals: not indexed by address */
		len += (size_t)snprintf(json + len, cap - len, "%s'30.0.%d.0/24'", i ? "," : "",
					2 * i);
	len += (size_t)snprintf(json + len, cap - len,
				"]},'networkSecurityGroups':[{'name':'n','securityRules':[");
	for (int i = 0; i < 400; i++)
		len += (size_t)snprintf(json + len, cap - len,
					"{'name':'r%d','priority':%d,'direction':'Inbound','access':"
					"'Deny','protocol':'Tcp','sourceAddressPrefix':'10.%d.%d.0/24',"
					"'sourcePortRange':'*','destinationAddressPrefix':'*',"
					"'destinationPortRange':'%d-%d'},", i, 100 + i, i / 200, i % 200,
					1000 + 10 * i,
					1009 + 10 * i);
	snprintf(json + len, cap - len, "%s]}]}",
		 R("Wide", 600, "Inbound", "Deny", "Udp", "Many", "*", "*", "*") ","
		 R("Range", 601, "Inbound", "Deny", "Tcp", "10.0.7.0/24", "*", "*", "1000-5000") ","
		 R("InLeaf", 700, "Inbound", "Allow", "Tcp", "10.0.7.0/25", "*", "*", "1072-1075") ","
		 R("InWide", 701, "Inbound", "Allow", "Udp", "30.0.4.0/25", "*", "*", "53") ","
		 R("InSpan", 702, "Inbound", "Allow", "Tcp", "10.0.7.128/25", "*", "*", "1500") ","
		 R("Free", 703, "Inbound", "Allow", "Tcp", "10.0.8.0/25", "*", "*", "1500"));
	r = load_ok(json);
	expect_warning(&r, RP "[402]", "rule InLeaf can never match: shadowed by r7 (priority 107)");
	expect_warning(&r, RP "[403]", "rule InWide can never match: shadowed by Wide (priority 600)");
	expect_warning(&r, RP "[404]", "rule InSpan can never match: shadowed by Range "
		       "(priority 601)");
	cr_expect_null(strstr(r.all, "rule Free can"), "Free is shadowed by nothing:\n%.2000s",
		       r.all);
	cr_expect_null(strstr(r.all, "rule r1 "), "the near misses are not shadowed:\n%.2000s",
		       r.all);
	res_free(&r);
	free(json);
}

/*
 * The shadow check against a brute force on random policies: addresses
 * from 16 IPv4 and 16 IPv6 points, ports 1-16, so every field is a
 * bitmask (bit 63: a point outside them, held only by '*') and "e shadows
 * r" is "each of r's masks lies in e's".  The first earlier rule that
 * shadows r is the one lint.c must name, and a rule no earlier one
 * shadows must not be reported, whatever the index picks to compare.
 */
#define LD_OUTSIDE (1ULL << 63)
#define LD_ALL_PROTOS 0x3fu /* Tcp, Udp, Icmp and three others: '*' */

struct ld_rule {
	unsigned protos;
	uint64_t src, dst, sport, dport;
	bool ports; /* restricts a port: only Tcp and Udp can match */
	int dir;
};

static uint64_t ld_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One side: '*' (every point) or 1-3 aligned prefixes of one family. */
static uint64_t ld_addrs(uint64_t *s, int v6, char *out, size_t cap)
{
	int n = 1 + (int)(ld_next(s) % 3);
	uint64_t m = 0;
	size_t len = 0;

	if (ld_next(s) % 10 < 3) {
		snprintf(out, cap, "'sourceAddressPrefix':'*'");
		return ~0ULL;
	}
	len += (size_t)snprintf(out, cap, "'sourceAddressPrefixes':[");
	for (int i = 0; i < n; i++) {
		int plen = 28 + (int)(ld_next(s) % 5), size = 1 << (32 - plen);
		int base = (int)(ld_next(s) % (16 / size)) * size;

		if (v6)
			len += (size_t)snprintf(out + len, cap - len, "%s'fd00::%x/%d'", i ? "," : "",
						base, plen + 96);
		else
			len += (size_t)snprintf(out + len, cap - len, "%s'10.0.0.%d/%d'", i ? "," : "",
						base, plen);
		m |= ((1ULL << size) - 1) << (base + (v6 ? 16 : 0));
	}
	snprintf(out + len, cap - len, "]");
	return m;
}

/* Ports: '*' (with the outside point) or 1-2 ranges within 1-16. */
static uint64_t ld_ports(uint64_t *s, int star_in_10, char *out, size_t cap)
{
	int n = 1 + (int)(ld_next(s) % 2);
	uint64_t m = 0;
	size_t len = 0;

	if ((int)(ld_next(s) % 10) < star_in_10) {
		snprintf(out, cap, "'sourcePortRange':'*'");
		return ~0ULL;
	}
	len += (size_t)snprintf(out, cap, "'sourcePortRanges':[");
	for (int i = 0; i < n; i++) {
		int lo = 1 + (int)(ld_next(s) % 16), hi = lo + (int)(ld_next(s) % 4);

		hi = hi > 16 ? 16 : hi;
		len += (size_t)snprintf(out + len, cap - len, lo == hi ? "%s'%d'" : "%s'%d-%d'",
					i ? "," : "", lo, hi);
		for (int p = lo; p <= hi; p++)
			m |= 1ULL << (p - 1);
	}
	snprintf(out + len, cap - len, "]");
	return m;
}

/* "source" in a field's text made the destination's. */
static void ld_to_dst(char *f)
{
	char *p = strstr(f, "source");

	memmove(p + strlen("destination"), p + strlen("source"), strlen(p + strlen("source")) + 1);
	memcpy(p, "destination", strlen("destination"));
}

static bool ld_covers(const struct ld_rule *e, const struct ld_rule *r)
{
	return e->dir == r->dir && !(r->protos & ~e->protos) && !(r->src & ~e->src) &&
	       !(r->dst & ~e->dst) && !(r->sport & ~e->sport) && !(r->dport & ~e->dport);
}

Test(policy_warnings, shadow_check_agrees_with_brute_force_on_random_policies)
{
	enum { POLICIES = 300, RULES = 40 };
	static const char *const protos[] = { "Tcp", "Udp", "*", "Icmp" };
	static const unsigned pbits[] = { 1, 2, LD_ALL_PROTOS, 4 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t cap = 1 << 16, checked = 0, shadowed = 0;
	char *json = xcalloc(1, cap);

	for (int pi = 0; pi < POLICIES; pi++) {
		struct ld_rule rules[RULES];
		size_t len = (size_t)snprintf(json, cap, "{" VNET ",'networkSecurityGroups':[{'name':"
					      "'n','securityRules':[");
		struct res r;

		for (int i = 0; i < RULES; i++) {
			struct ld_rule *l = &rules[i];
			int pr = (int)(ld_next(&seed) % 10), v6 = ld_next(&seed) % 8 == 0;
			char src[256], dst[256], sp[128], dp[128];

			pr = pr < 4 ? 0 : pr < 7 ? 1 : pr < 9 ? 2 : 3;
			l->dir = ld_next(&seed) % 4 == 0;
			l->src = ld_addrs(&seed, v6, src, sizeof(src));
			l->dst = ld_addrs(&seed, v6, dst, sizeof(dst));
			ld_to_dst(dst);
			l->sport = ld_ports(&seed, 8, sp, sizeof(sp));
			l->dport = ld_ports(&seed, 3, dp, sizeof(dp));
			ld_to_dst(dp);
			l->ports = l->sport != ~0ULL || l->dport != ~0ULL;
			l->protos = pbits[pr] & (l->ports ? 3u : LD_ALL_PROTOS);
			len += (size_t)snprintf(json + len, cap - len,
						"%s{'name':'r%03d','priority':%d,'direction':'%s',"
						"'access':'%s','protocol':'%s',%s,%s,%s,%s}",
						i ? "," : "", i, 100 + i, l->dir ? "Outbound" : "Inbound",
						i % 3 ? "Allow" : "Deny", protos[pr], src, sp, dst, dp);
		}
		snprintf(json + len, cap - len, "]}]}");
		r = load_ok(json);
		for (int i = 0; i < RULES; i++) {
			char want[128], name[64];
			int e = 0;

			snprintf(name, sizeof(name), "rule r%03d can never match", i);
			if (!rules[i].protos) {
				snprintf(want, sizeof(want), "%s: it restricts ports", name);
			} else {
				while (e < i && !ld_covers(&rules[e], &rules[i]))
					e++;
				if (e < i)
					snprintf(want, sizeof(want), "%s: shadowed by r%03d (priority %d)",
						 name, e, 100 + e);
				shadowed += e < i;
			}
			if (!rules[i].protos || e < i)
				cr_assert_not_null(strstr(r.all, want), "policy %d: expected '%s':\n%s\n%s",
						   pi, want, r.all, json);
			else
				cr_assert_null(strstr(r.all, name), "policy %d: r%03d is shadowed by "
					       "no earlier rule:\n%s\n%s", pi, i, r.all, json);
			checked++;
		}
		res_free(&r);
	}
	/* The generator makes both kinds often, or the test says nothing. */
	cr_assert_gt(shadowed, checked / 10, "%zu of %zu rules shadowed", shadowed, checked);
	cr_assert_lt(shadowed, checked * 9 / 10, "%zu of %zu rules shadowed", shadowed, checked);
	free(json);
}

/* Past the work budget the rules not compared are named, never dropped. */
Test(policy_warnings, shadow_budget_says_where_it_stopped, .timeout = 60)
{
	size_t n = 200000, cap = n * 24 + 700 * 300 + 1024, len = 0;
	char *json = xcalloc(1, cap);
	struct res r;

	/* A 200,000-address tag on the source of the last rule, compared in
	 * full with 700 earlier rules that differ only in the destination:
	 * each holds 5.5.5.5 of the last rule's, so each is a candidate, but
	 * not 6.6.6.6. */
	len += (size_t)snprintf(json + len, cap - len, "{'serviceTags':{'Big':[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(json + len, cap - len, "%s'11.%zu.%zu.%zu'", i ? "," : "",
					i >> 15, (i >> 7) & 255, (i & 127) * 2);
	len += (size_t)snprintf(json + len, cap - len,
				"]},'networkSecurityGroups':[{'name':'n','securityRules':[");
	for (int i = 0; i < 700; i++)
		len += (size_t)snprintf(json + len, cap - len,
					"{'name':'d%d','priority':%d,'direction':'Inbound','access':"
					"'Deny','protocol':'*','sourceAddressPrefix':'*',"
					"'sourcePortRange':'*','destinationAddressPrefixes':['1.2.%d.%d',"
					"'5.5.5.5'],'destinationPortRange':'*'},", i, 100 + i, i / 256,
					i % 256);
	snprintf(json + len, cap - len, "{'name':'Last','priority':4000,'direction':'Inbound',"
		 "'access':'Allow','protocol':'*','sourceAddressPrefix':'Big','sourcePortRange':"
		 "'*','destinationAddressPrefixes':['5.5.5.5','6.6.6.6'],"
		 "'destinationPortRange':'*'}]}]}");
	r = load_ok(json);
	expect_warning(&r, RP "[700]", "not checked for shadowing, past the shadow check's work "
		       "budget");
	expect_warning(&r, RP "[700]", "Inbound rules of n from Last (priority 4000) on");
	res_free(&r);
	free(json);
}

/* ---- the shipped examples --------------------------------------------- */

/* jansson's text of v, members in order (free() it). */
static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/*
 * A policy written plainly is read by quickjson.c into the tree jansson
 * would build, member order included; anything it does not read (jansson
 * does, and says what is wrong) it leaves alone.
 */
Test(policy_examples, quick_reader_builds_jansson_tree)
{
	static const char *const left[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":\"\\u0041\"}", "{\"a\":1.5}", "{\"a\":1e3}",
		"{\"a\":01}", "{\"a\":1234567890123456}", "{\"a\":\"\xc3\xa9\"}", "{\"a\":1} x",
		"[1]", "7", "{\"a\":[1,]}", "{\"a\":tru}", "{\"a\":\"\t\"}", "{\"a\":1",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	glob_t g;

	cr_assert_eq(glob("examples/*.json", 0, NULL, &g), 0, "examples/*.json found");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *text, *q, *j;
		size_t len;
		json_t *quick, *slow;

		cr_assert_eq(policy_read_file(g.gl_pathv[i], &text, &len, NULL), 0, "read %s",
			     g.gl_pathv[i]);
		quick = quick_json_load(text, len);
		slow = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
		cr_expect_not_null(quick, "%s is read by the quick reader", g.gl_pathv[i]);
		q = dump(quick);
		j = dump(slow);
		cr_expect(q && j && !strcmp(q, j), "%s: the same tree, in the same order",
			  g.gl_pathv[i]);
		free(q);
		free(j);
		json_decref(quick);
		json_decref(slow);
		free(text);
	}
	globfree(&g);
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		cr_expect_null(quick_json_load(left[i], strlen(left[i])), "left to jansson: %s",
			       left[i]);
	cr_expect_not_null(quick_json_load("{\"a\":[-0,0,-12,true,false,null,{},[]]}", 38),
			   "integers, literals, empty containers");
}

/*
 * The parse's arena (quickjson.c) reserves room for a tree of ~16 bytes a
 * byte of text; empty objects take far more: such a tree runs past the
 * mapping into malloc's blocks, and still loads, read and freed whole.
 */
Test(policy_examples, tree_larger_than_its_arena_mapping)
{
	size_t n = 40000, len;
	char *json = xcalloc(1, 3 * n + 256), *q = json;
	struct res r;

	q += sprintf(q, "{'virtualNetwork':{'name':'v','addressPrefixes':['10.0.0.0/16']},"
		     "'subnets':[{'name':'s','addressPrefix':'10.0.0.0/24'}],'zzz':[");
	for (size_t i = 0; i < n; i++)
		q += sprintf(q, "%s{}", i ? "," : "");
	sprintf(q, "]}");
	len = strlen(json);
	r = parse(json);
	cr_expect_eq(r.err, 0, "a policy of %zu bytes whose tree outgrows the arena's "
		     "mapping loads:\n%s", len, r.all);
	expect_warning(&r, "$.zzz", "unknown key \"zzz\" ignored");
	res_free(&r);
	free(json);
}

Test(policy_examples, all_load_without_errors)
{
	glob_t g;

	cr_assert_eq(glob("examples/*.json", 0, NULL, &g), 0,
		     "examples/*.json found (run from the source tree)");
	cr_expect_geq(g.gl_pathc, 5, "at least the five examples of README");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct diag_list d = {};
		struct policy *p = NULL;
		int err = policy_load(g.gl_pathv[i], &p, &d);
		char *all = diags_str(&d);

		cr_expect_eq(err, 0, "%s loads (err %d):\n%s", g.gl_pathv[i], err, all);
		cr_expect_eq(d.nerrors, 0, "%s has no errors:\n%s", g.gl_pathv[i], all);
		cr_expect(!p || p->nifaces > 0, "%s has interfaces", g.gl_pathv[i]);
		free(all);
		diag_free(&d);
		policy_free(p);
	}
	globfree(&g);
}
