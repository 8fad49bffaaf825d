// SPDX-License-Identifier: MIT
/*
 * `xnsg import` (docs/DESIGN.md §1 "Import") on real documents Azure
 * produced (tests/fixtures/azure/, sources in its README) and on the
 * shapes the issue found mishandled: import -> check -> verify, with the
 * decisions worked out from Azure's documented rules (NSG overview:
 * default rules, evaluation order, ASGs), not from the code.  Where a
 * test needs what no real document holds, it builds it in memory and says
 * so.  Run from the repository root (the fixtures are read by path).
 */
#include <criterion/criterion.h>

#include "xnsg_bin.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "alloc.h"
#include "compile.h"
#include "diag.h"
#include "eval.h"
#include "import.h"
#include "model.h"
#include "policy.h"
#include "verify.h"

#define FIX "tests/fixtures/azure/"
#define SUB "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
#define CLI_RG SUB "cli_test_multiple_ipconfigs_update_with_asg_000001"
#define TESTNSG "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/" \
		"networkSecurityGroups/testnsg"

/* ---- helpers --------------------------------------------------------- */

static json_t *fixture(const char *name)
{
	char *text;
	size_t len;
	json_error_t je;
	json_t *j;
	int err = policy_read_file(name, &text, &len, NULL);

	cr_assert_eq(err, 0, "fixture %s is readable (run from the repository root): %d", name,
		     err);
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	cr_assert_not_null(j, "fixture %s is JSON: %s", name, je.text);
	free(text);
	return j;
}

/* Single quotes for double, for readable JSON in C strings. */
static json_t *doc(const char *sq)
{
	char *s = xstrdup(sq);
	json_error_t je;
	json_t *j;

	for (char *q = s; *q; q++)
		if (*q == '\'')
			*q = '"';
	j = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	cr_assert_not_null(j, "test document parses: %s\n%s", je.text, s);
	free(s);
	return j;
}

static char *diags_str(const struct diag_list *d)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < d->n; i++) {
		char *t = xasprintf("%s  %s %s: %s\n", s, d->v[i].level == DIAG_ERROR ? "error" :
				    "warning", d->v[i].path, d->v[i].msg);
		free(s);
		s = t;
	}
	return s;
}

static bool has_diag(const struct diag_list *d, enum diag_level level, const char *text)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].level == level &&
		    (strstr(d->v[i].msg, text) || strstr(d->v[i].path, text)))
			return true;
	return false;
}

static bool has_line(const struct import_result *r, const char *text)
{
	for (size_t i = 0; i < r->nsummary; i++)
		if (strstr(r->summary[i], text))
			return true;
	return false;
}

struct run {
	struct import_result r;
	int err;
	char *all; /* diagnostics and summary, for messages */
};

/* import the documents (names: labels in messages) with the maps given
 * as "NIC=IF" strings, NULL-terminated. */
static struct run import_docs(json_t **docs, const char **names, size_t n, const char *const *maps)
{
	struct import_input in[8];
	struct import_map m[8];
	char *bufs[8];
	struct import_opts o = { .maps = m };
	const char *why;
	struct run run;

	for (size_t i = 0; i < n; i++)
		in[i] = (struct import_input){ .name = names[i], .doc = docs[i] };
	for (; maps && maps[o.nmaps]; o.nmaps++)
		cr_assert_eq(import_parse_map(maps[o.nmaps], &m[o.nmaps], &bufs[o.nmaps], &why), 0,
			     "--map %s parses", maps[o.nmaps]);
	run.err = import_policy(in, n, &o, &run.r);
	run.all = diags_str(&run.r.diags);
	for (size_t i = 0; i < run.r.nsummary; i++) {
		char *t = xasprintf("%s  summary: %s\n", run.all, run.r.summary[i]);

		free(run.all);
		run.all = t;
	}
	for (size_t i = 0; i < o.nmaps; i++)
		free(bufs[i]);
	return run;
}

static void run_free(struct run *run)
{
	import_result_free(&run->r);
	free(run->all);
}

/* The imported policy, loaded as check loads it. */
static struct policy *load(const struct run *run, struct diag_list *d)
{
	char *text = json_dumps(run->r.policy, 0);
	struct policy *p = NULL;
	int err = policy_parse_string(text, "imported.json", NULL, &p, d);

	cr_assert_eq(err, 0, "the imported policy loads (%d):\n%s", err, text);
	free(text);
	policy_check_bindings(p, d);
	return p;
}

/* verify: "Allow nsg/rule", "Deny nsg/rule" or "Allow not filtered". */
static void expect(const struct policy *p, const char *ifname, enum xnsg_dir dir, uint8_t proto,
		   const char *local, uint16_t lport, const char *remote, uint16_t rport,
		   const char *want)
{
	struct eval_query q = { .iface = policy_find_iface(p, ifname), .dir = dir,
				.ipproto = proto, .lport = lport, .rport = rport };
	struct eval_result r;
	char got[256];

	cr_assert_geq(q.iface, 0, "interface %s is in the policy", ifname);
	cr_assert_eq(addr_parse(local, &q.local), 0);
	cr_assert_eq(addr_parse(remote, &q.remote), 0);
	eval_flow(p, &q, &r);
	if (r.decisive < 0) {
		snprintf(got, sizeof(got), "%s not filtered", r.allow ? "Allow" : "Deny");
	} else {
		const struct eval_level *l = &r.level[r.decisive];

		snprintf(got, sizeof(got), "%s %s/%s", r.allow ? "Allow" : "Deny",
			 p->nsgs[l->nsg].name, p->nsgs[l->nsg].rules[l->rule].name);
	}
	cr_expect_str_eq(got, want, "%s %s proto %u %s:%u <-> %s:%u", ifname,
			 dir == XNSG_IN ? "in" : "out", proto, local, lport, remote, rport);
}

static bool vnet_has(const struct policy *p, const char *a)
{
	struct xnsg_addr x;

	cr_assert_eq(addr_parse(a, &x), 0);
	return prefix_list_contains(&p->virtual_network, &x);
}

/* The counter-slot identities "NSG/Direction/RULE" of the compiled tables,
 * as apply records them for stats and flow logs, one a line. */
static char *slot_names(const struct policy *p)
{
	struct compiled *c = NULL;
	struct diag_list d = {};
	char *out = xstrdup("");

	cr_assert_eq(compile_policy(p, &c, &d), 0, "compiles");
	for (size_t t = 0; t < c->ntables; t++)
		for (uint32_t b = 0; b < c->tables[t].nrules; b++) {
			const struct compiled_table *ct = &c->tables[t];
			char *n = xasprintf("%s%s/%s/%s\n", out, p->nsgs[ct->nsg].name,
					    dir_name(ct->dir), ct->rules[b]->name);

			free(out);
			out = n;
		}
	compiled_free(c);
	diag_free(&d);
	return out;
}

/* The built binary's output for args (tests/lib/xnsg_bin.h). */
static char *xnsg_out(const char *args)
{
	const char *bin = test_xnsg_bin();
	char *cmd = xasprintf("%s %s 2>/dev/null", bin, args), *out = xcalloc(1, 1 << 20);
	FILE *f = popen(cmd, "r");
	size_t n;

	cr_assert_not_null(f, "runs %s", cmd);
	n = fread(out, 1, (1 << 20) - 1, f);
	out[n] = '\0';
	pclose(f);
	free(cmd);
	return out;
}

#define IN XNSG_IN
#define OUT XNSG_OUT

/* ---- every command refuses an export, helpfully (issue 10, 1) -------- */

Test(import_shapes, fixtures_refused_by_check_with_the_command)
{
	static const struct { const char *file, *says; } cases[] = {
		{ FIX "rest-nsg-get.json", "a network security group as `az network nsg show`" },
		{ FIX "rest-vnet-get.json", "a virtual network as `az network vnet show`" },
		{ FIX "rest-nic-get.json", "a network interface as `az network nic show`" },
		{ FIX "cli-nic-show.json", "a network interface" },
		{ FIX "cli-vnet-show.json", "a virtual network" },
		{ FIX "checkov-nsg-template.json", "an ARM template, not a host policy: deploy it" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list d = {};
		struct policy *p = NULL;
		int err = policy_load(cases[i].file, &p, &d);
		char *all = diags_str(&d);

		cr_expect_eq(err, -EINVAL, "%s is not a host policy", cases[i].file);
		cr_expect(d.nerrors == 1 && strstr(d.v[0].msg, cases[i].says) &&
			  strstr(d.v[0].msg, "xnsg import"),
			  "%s: one error saying what it is and how to convert it:\n%s", cases[i].file,
			  all);
		free(all);
		diag_free(&d);
	}
}

Test(import_shapes, lists_arrays_and_templates_refused_too)
{
	static const struct { const char *json, *says; } cases[] = {
		{ "{\"value\":[{\"name\":\"n\",\"type\":\"Microsoft.Network/networkSecurityGroups\"}]}",
		  "a list of resources ({\"value\": [...]})" },
		{ "[{\"name\":\"n\",\"type\":\"Microsoft.Network/networkSecurityGroups\"}]",
		  "must be a JSON object, not a JSON array of resources, as `az network nsg list`" },
		{ "{\"name\":\"web-nsg\",\"securityRules\":[]}", "a network security group" },
		{ "{\"networkSecurityGroups\":[{\"name\":\"[variables('nsgName')]\"}]}",
		  "is an ARM template expression" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list d = {};
		struct policy *p = NULL;
		char *all;

		cr_expect_eq(policy_parse_string(cases[i].json, "t.json", NULL, &p, &d), -EINVAL);
		all = diags_str(&d);
		cr_expect(d.nerrors == 1 && strstr(d.v[0].msg, cases[i].says),
			  "case %zu says '%s':\n%s", i, cases[i].says, all);
		free(all);
		diag_free(&d);
	}
}

/* ---- real documents: import -> check -> verify --------------------------- */

Test(import_real, cli_vnet_and_nic)
{
	json_t *docs[] = { fixture(FIX "cli-vnet-show.json"), fixture(FIX "cli-nic-show.json") };
	const char *names[] = { "vnet.json", "nic.json" };
	struct run run = import_docs(docs, names, 2, (const char *const[]){ "nic-000002=eth0", NULL });
	struct diag_list d = {};
	struct policy *p;
	const struct iface *ifc;

	cr_assert_eq(run.err, 0, "imports:\n%s", run.all);
	p = load(&run, &d);
	ifc = &p->ifaces[0];
	cr_expect(vnet_has(p, "10.0.0.4") && vnet_has(p, "10.0.255.1"),
		  "VirtualNetwork holds the VNet's address space");
	cr_expect_eq(ifc->naddrs, 2, "both IP configurations' addresses (10.0.0.4, 10.0.0.5)");
	cr_expect(ifc->subnet >= 0 && !strcmp(p->subnets[ifc->subnet].name, "subnet-000004"),
		  "the IP configurations' subnet");
	cr_expect(ifc->nasgs == 1 && !strcmp(ifc->asgs[0], "asg-000005"), "and their ASG");
	cr_expect_eq(p->asgs[0].members.n, 2, "whose members are the NIC's two addresses");
	/* Azure: a NIC with no NSG on it or its subnet lets everything pass. */
	cr_expect_eq(policy_filtered_ifaces(p), 0, "nothing is filtered");
	cr_expect(has_diag(&d, DIAG_WARNING, "this policy filters nothing"), "and check says so");
	expect(p, "eth0", IN, 6, "10.0.0.4", 22, "203.0.113.5", 4000, "Allow not filtered");
	policy_free(p);
	diag_free(&d);
	run_free(&run);
	json_decref(docs[0]);
	json_decref(docs[1]);
}

/*
 * The REST example's testnsg bound, in memory, to the recorded NIC as its
 * NIC NSG (no real document has both: the test adds the reference), with
 * the recorded VNet.  Decisions from Azure's rules: rule1 allows any
 * protocol to port 80; the defaults decide the rest.
 */
Test(import_real, rest_nsg_on_cli_nic)
{
	json_t *docs[] = { fixture(FIX "cli-vnet-show.json"), fixture(FIX "cli-nic-show.json"),
			   fixture(FIX "rest-nsg-get.json") };
	const char *names[] = { "vnet.json", "nic.json", "nsg.json" };
	struct diag_list d = {};
	struct policy *p;
	struct run run;

	json_object_set_new(json_object_get(docs[1], "properties"), "networkSecurityGroup",
			    json_pack("{s:s}", "id", TESTNSG));
	run = import_docs(docs, names, 3, (const char *const[]){ "nic-000002=eth0", NULL });
	cr_assert_eq(run.err, 0, "imports:\n%s", run.all);
	cr_expect(!has_diag(&run.r.diags, DIAG_WARNING, "default rule"),
		  "the export's default rules are Azure's six: nothing to say:\n%s", run.all);
	cr_expect(has_line(&run.r, "eth0 <- NIC nic-000002: 10.0.0.4, 10.0.0.5; subnet "
			   "subnet-000004 (no NSG); NIC NSG testnsg"), "the summary:\n%s", run.all);
	p = load(&run, &d);
	cr_expect_eq(d.n, 0, "check has nothing to say");
	expect(p, "eth0", IN, 6, "10.0.0.4", 80, "203.0.113.5", 40000, "Allow testnsg/rule1");
	expect(p, "eth0", IN, 17, "10.0.0.5", 80, "203.0.113.5", 40000, "Allow testnsg/rule1");
	expect(p, "eth0", IN, 6, "10.0.0.4", 22, "203.0.113.5", 40000, "Deny testnsg/DenyAllInBound");
	/* rule1 restricts ports: ICMP carries none, so it is not rule1's. */
	expect(p, "eth0", IN, 1, "10.0.0.4", 0, "203.0.113.5", 0, "Deny testnsg/DenyAllInBound");
	expect(p, "eth0", IN, 6, "10.0.0.4", 22, "10.0.77.7", 40000,
	       "Allow testnsg/AllowVnetInBound");
	expect(p, "eth0", IN, 6, "10.0.0.4", 22, "168.63.129.16", 40000,
	       "Allow testnsg/AllowVnetInBound");
	expect(p, "eth0", OUT, 6, "10.0.0.4", 40000, "8.8.8.8", 443,
	       "Allow testnsg/AllowInternetOutBound");
	expect(p, "eth0", OUT, 6, "10.0.0.4", 40000, "10.0.9.9", 443,
	       "Allow testnsg/AllowVnetOutBound");
	expect(p, "eth0", OUT, 6, "10.0.0.4", 40000, "192.168.1.1", 443,
	       "Deny testnsg/DenyAllOutBound");
	{
		/* verify --json's ruleName: Azure's spelling, as test-ip-flow prints. */
		struct eval_query q = { .iface = 0, .dir = IN, .ipproto = 6, .lport = 22,
					.rport = 4000 };
		struct eval_result r;
		json_t *j;

		addr_parse("10.0.0.4", &q.local);
		addr_parse("203.0.113.5", &q.remote);
		eval_flow(p, &q, &r);
		j = verify_result_json(p, &r);
		cr_expect_str_eq(json_string_value(json_object_get(j, "ruleName")),
				 "defaultSecurityRules/DenyAllInBound", "ruleName");
		json_decref(j);
	}
	{
		/* stats and flow logs name rules by these: Azure's spelling. */
		char *slots = slot_names(p);

		cr_expect(strstr(slots, "testnsg/Inbound/AllowVnetInBound\n") &&
			  strstr(slots, "testnsg/Inbound/DenyAllInBound\n") &&
			  strstr(slots, "testnsg/Outbound/AllowVnetOutBound\n"),
			  "counter slots:\n%s", slots);
		free(slots);
	}
	policy_free(p);
	diag_free(&d);
	run_free(&run);
	for (int i = 0; i < 3; i++)
		json_decref(docs[i]);
}

Test(import_real, what_it_cannot_resolve)
{
	json_t *docs[] = { fixture(FIX "rest-nsg-get.json"), fixture(FIX "rest-vnet-get.json"),
			   fixture(FIX "rest-nic-get.json") };
	const char *names[] = { "nsg.json", "vnet.json", "nic.json" };
	struct run run = import_docs(docs, names, 3, (const char *const[]){ "test-nic=eth0", NULL });

	cr_expect_eq(run.err, -EINVAL, "the NIC's NSG and subnet are in no input:\n%s", run.all);
	cr_expect_null(run.r.policy, "no policy");
	cr_expect(has_diag(&run.r.diags, DIAG_ERROR, "NIC test-nic: its network security group "
			   "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/"
			   "networkSecurityGroups/nsg is in no input: add the output of az network "
			   "nsg show"), "%s", run.all);
	cr_expect(has_diag(&run.r.diags, DIAG_ERROR, "its subnet /subscriptions/subid/"
			   "resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/rg1-vnet/"
			   "subnets/default is in no input"), "%s", run.all);
	cr_expect(has_diag(&run.r.diags, DIAG_WARNING, "holds the prefix 172.20.2.16/28, not an "
			   "address"), "the IP prefix configuration is said:\n%s", run.all);
	run_free(&run);
	for (int i = 0; i < 3; i++)
		json_decref(docs[i]);
}

Test(import_real, unused_nsg_and_no_map)
{
	json_t *docs[] = { fixture(FIX "rest-nsg-get.json"), fixture(FIX "rest-vnet-get.json") };
	const char *names[] = { "nsg.json", "vnet.json" };
	struct run run = import_docs(docs, names, 2, NULL);

	cr_expect_eq(run.err, 0, "imports:\n%s", run.all);
	cr_expect(has_line(&run.r, "not used: NSG testnsg (no mapped NIC is under it)"),
		  "an NSG given but under no mapped NIC is said:\n%s", run.all);
	cr_expect(has_diag(&run.r.diags, DIAG_WARNING, "no --map: the policy names no interface "
			   "and filters nothing"), "%s", run.all);
	run_free(&run);
	json_decref(docs[0]);
	json_decref(docs[1]);
}

Test(import_real, template_expressions_refused)
{
	json_t *docs[] = { fixture(FIX "checkov-nsg-template.json") };
	const char *names[] = { "t.json" };
	struct run run = import_docs(docs, names, 1, NULL);

	cr_expect_eq(run.err, -EINVAL);
	cr_expect(run.r.diags.nerrors == 1 &&
		  has_diag(&run.r.diags, DIAG_ERROR, "t.json: $.resources[0].name") &&
		  has_diag(&run.r.diags, DIAG_ERROR, "'[parameters('vnetName')]' is an ARM template "
			   "expression (15 in this file), which only a deployment evaluates: deploy "
			   "the template, then import the deployed resources"),
		  "one error:\n%s", run.all);
	run_free(&run);
	json_decref(docs[0]);
}

/* ---- identity by resource group (issue 10, 4): built in memory ---------- */

#define ARMG(rg) "/subscriptions/S/resourceGroups/" rg "/providers/Microsoft.Network/"
#define RULE(name, prio, access, port)                                                   \
	"{'name':'" name "','properties':{'priority':" #prio ",'direction':'Inbound',"      \
	"'access':'" access "','protocol':'Tcp','sourceAddressPrefix':'*',"                 \
	"'sourcePortRange':'*','destinationAddressPrefix':'*','destinationPortRange':'"     \
	port "'}}"
#define NIC(name, rg, nsgrg, ip)                                                         \
	"{'name':'" name "','id':'" ARMG(rg) "networkInterfaces/" name "',"                  \
	"'type':'Microsoft.Network/networkInterfaces','properties':{"                        \
	"'networkSecurityGroup':{'id':'" ARMG(nsgrg) "networkSecurityGroups/web-nsg'},"      \
	"'ipConfigurations':[{'name':'ipconfig1','properties':{'privateIPAddress':'" ip "',"  \
	"'subnet':{'id':'" ARMG("rg-a") "virtualNetworks/v/subnets/s'}}}]}}"
#define VNET_V                                                                           \
	"{'name':'v','id':'" ARMG("rg-a") "virtualNetworks/v','type':"                       \
	"'Microsoft.Network/virtualNetworks','properties':{'addressSpace':{'addressPrefixes':" \
	"['10.1.0.0/16']},'subnets':[{'name':'s','id':'" ARMG("rg-a") "virtualNetworks/v/"    \
	"subnets/s','properties':{'addressPrefix':'10.1.1.0/24'}}]}}"
/* `az network nsg list` over the subscription: two web-nsg. */
#define TWO_NSGS                                                                         \
	"[{'name':'web-nsg','id':'" ARMG("rg-a") "networkSecurityGroups/web-nsg',"           \
	"'type':'Microsoft.Network/networkSecurityGroups','resourceGroup':'rg-a',"           \
	"'properties':{'securityRules':[" RULE("DenySsh", 100, "Deny", "22") "]}},"          \
	"{'name':'web-nsg','id':'" ARMG("rg-b") "networkSecurityGroups/web-nsg',"            \
	"'type':'Microsoft.Network/networkSecurityGroups','resourceGroup':'rg-b',"           \
	"'properties':{'securityRules':[" RULE("AllowSsh", 100, "Allow", "22") "]}}]"

Test(import_identity, two_nsgs_of_one_name)
{
	json_t *docs[] = { doc(VNET_V), doc(TWO_NSGS),
			   doc("[" NIC("nic-a", "rg-a", "rg-a", "10.1.1.4") ","
			       NIC("nic-b", "rg-b", "rg-b", "10.1.1.5") "]") };
	const char *names[] = { "vnet.json", "nsgs.json", "nics.json" };
	struct run run = import_docs(docs, names, 3,
				     (const char *const[]){ "nic-a=eth0", "rg-b/nic-b=eth1", NULL });
	struct diag_list d = {};
	struct policy *p;
	json_t *ifc;

	cr_assert_eq(run.err, 0, "imports:\n%s", run.all);
	ifc = json_array_get(json_object_get(run.r.policy, "interfaces"), 0);
	cr_expect(json_is_object(json_object_get(ifc, "networkSecurityGroup")),
		  "a name two NSGs share is referred to by ARM id");
	p = load(&run, &d);
	cr_expect_eq(p->nnsgs, 2, "both load");
	cr_expect_str_eq(p->nsgs[0].name, "web-nsg (rg-a)", "shown with their resource groups");
	cr_expect_str_eq(p->nsgs[1].name, "web-nsg (rg-b)", "shown with their resource groups");
	expect(p, "eth0", IN, 6, "10.1.1.4", 22, "203.0.113.5", 4000, "Deny web-nsg (rg-a)/DenySsh");
	expect(p, "eth1", IN, 6, "10.1.1.5", 22, "203.0.113.5", 4000,
	       "Allow web-nsg (rg-b)/AllowSsh");
	cr_expect(has_line(&run.r, "eth1 <- NIC nic-b: 10.1.1.5; subnet s (no NSG); NIC NSG "
			   "web-nsg (rg-b)"), "the summary names which:\n%s", run.all);
	{
		/* stats and flow logs tell the two apart too. */
		char *slots = slot_names(p);

		cr_expect(strstr(slots, "web-nsg (rg-a)/Inbound/DenySsh\n") &&
			  strstr(slots, "web-nsg (rg-b)/Inbound/AllowSsh\n"), "slots:\n%s", slots);
		free(slots);
	}
	policy_free(p);
	diag_free(&d);
	run_free(&run);
	for (int i = 0; i < 3; i++)
		json_decref(docs[i]);
}

Test(import_identity, maps_name_one_nic)
{
	json_t *docs[] = { doc(VNET_V), doc(TWO_NSGS),
			   doc("[" NIC("nic", "rg-a", "rg-a", "10.1.1.4") ","
			       NIC("nic", "rg-b", "rg-b", "10.1.1.5") "]") };
	const char *names[] = { "vnet.json", "nsgs.json", "nics.json" };
	struct run run = import_docs(docs, names, 3, (const char *const[]){ "nic=eth0", NULL });

	cr_expect_eq(run.err, -EINVAL);
	cr_expect(has_diag(&run.r.diags, DIAG_ERROR, "--map nic=eth0: more than one NIC is called "
			   "that; name it RESOURCE_GROUP/NAME or by its ARM id"), "%s", run.all);
	run_free(&run);
	run = import_docs(docs, names, 3, (const char *const[]){
		"RG-B/nic=eth1", ARMG("rg-a") "networkInterfaces/nic=eth0", NULL });
	cr_expect_eq(run.err, 0, "by group/name and by id:\n%s", run.all);
	run_free(&run);
	run = import_docs(docs, names, 3, (const char *const[]){ "ghost=eth0", NULL });
	cr_expect(has_diag(&run.r.diags, DIAG_ERROR, "--map ghost=eth0: no NIC of that name in the "
			   "input (NICs given: nic, nic;"), "%s", run.all);
	run_free(&run);
	for (int i = 0; i < 3; i++)
		json_decref(docs[i]);
}

/* ---- Azure's shapes, as exported (issue 10, what to build 1) ------------ */

Test(import_shapes, list_child_rules_duplicates_and_peerings)
{
	json_t *docs[] = {
		/* `az network vnet show` with a connected peering. */
		doc("{'name':'v','id':'" ARMG("rg-a") "virtualNetworks/v','type':"
		    "'Microsoft.Network/virtualNetworks','properties':{'addressSpace':{"
		    "'addressPrefixes':['10.1.0.0/16']},'subnets':[{'name':'s','id':'" ARMG("rg-a")
		    "virtualNetworks/v/subnets/s','properties':{'addressPrefix':'10.1.1.0/24',"
		    "'networkSecurityGroup':{'id':'" ARMG("rg-a") "networkSecurityGroups/web-nsg'}}}],"
		    "'virtualNetworkPeerings':[{'name':'to-hub','properties':{'peeringState':"
		    "'Connected','remoteAddressSpace':{'addressPrefixes':['10.9.0.0/16']}}},"
		    "{'name':'gone','properties':{'peeringState':'Disconnected','remoteAddressSpace':"
		    "{'addressPrefixes':['10.8.0.0/16']}}}]}}"),
		/* A REST list holding the NSG... */
		doc("{'value':[{'name':'web-nsg','id':'" ARMG("rg-a") "networkSecurityGroups/web-nsg',"
		    "'type':'Microsoft.Network/networkSecurityGroups','properties':{"
		    "'securityRules':[]}}],'nextLink':null}"),
		/* ...`az network nsg rule list` of its rules, and the NSG again. */
		doc("[{'name':'AllowHttp','id':'" ARMG("rg-a") "networkSecurityGroups/web-nsg/"
		    "securityRules/AllowHttp','type':'Microsoft.Network/networkSecurityGroups/"
		    "securityRules','protocol':'Tcp','sourceAddressPrefix':'Internet',"
		    "'sourcePortRange':'*','destinationAddressPrefix':'*','destinationPortRange':"
		    "'80','access':'Allow','priority':100,'direction':'Inbound',"
		    "'sourceAddressPrefixes':[],'destinationPortRanges':[]}]"),
		doc("{'name':'web-nsg','id':'" ARMG("rg-a") "networkSecurityGroups/web-nsg',"
		    "'type':'Microsoft.Network/networkSecurityGroups','properties':{"
		    "'securityRules':[]}}"),
		doc("[{'name':'nic-a','id':'" ARMG("rg-a") "networkInterfaces/nic-a','properties':{"
		    "'ipConfigurations':[{'name':'c','properties':{'privateIPAddress':'10.1.1.4',"
		    "'subnet':{'id':'" ARMG("rg-a") "virtualNetworks/v/subnets/s'}}}]}}]"),
	};
	const char *names[] = { "vnet.json", "list.json", "rules.json", "nsg.json", "nic.json" };
	struct run run = import_docs(docs, names, 5, (const char *const[]){ "nic-a=eth0", NULL });
	struct diag_list d = {};
	struct policy *p;

	cr_assert_eq(run.err, 0, "imports:\n%s", run.all);
	cr_expect(!has_diag(&run.r.diags, DIAG_WARNING, "also given"),
		  "the same NSG twice, equal: quiet:\n%s", run.all);
	p = load(&run, &d);
	cr_expect_eq(p->nnsgs, 1, "one NSG");
	cr_expect(vnet_has(p, "10.9.1.1") && !vnet_has(p, "10.8.1.1"),
		  "a connected peering's space is VirtualNetwork, a disconnected one's not");
	expect(p, "eth0", IN, 6, "10.1.1.4", 80, "203.0.113.5", 4000, "Allow web-nsg/AllowHttp");
	expect(p, "eth0", IN, 6, "10.1.1.4", 22, "10.9.3.3", 4000, "Allow web-nsg/AllowVnetInBound");
	expect(p, "eth0", IN, 6, "10.1.1.4", 22, "10.8.3.3", 4000, "Deny web-nsg/DenyAllInBound");
	policy_free(p);
	diag_free(&d);
	run_free(&run);
	for (int i = 0; i < 5; i++)
		json_decref(docs[i]);
}

Test(import_shapes, template_of_literal_values_with_a_child_rule)
{
	json_t *docs[] = {
		doc("{'$schema':'https://schema.management.azure.com/schemas/2019-04-01/"
		    "deploymentTemplate.json#','contentVersion':'1.0.0.0','resources':["
		    "{'type':'Microsoft.Network/networkSecurityGroups','name':'web-nsg',"
		    "'apiVersion':'2023-09-01','properties':{'securityRules':[]}},"
		    "{'type':'Microsoft.Network/networkSecurityGroups/securityRules',"
		    "'name':'web-nsg/DenyTelnet','apiVersion':'2023-09-01','properties':{"
		    "'protocol':'Tcp','sourceAddressPrefix':'*','sourcePortRange':'*',"
		    "'destinationAddressPrefix':'*','destinationPortRange':'23','access':'Deny',"
		    "'priority':200,'direction':'Inbound'}},"
		    "{'type':'Microsoft.Network/virtualNetworks','name':'v','properties':{"
		    "'addressSpace':{'addressPrefixes':['10.1.0.0/16']},'subnets':[{'name':'s',"
		    "'properties':{'addressPrefix':'10.1.1.0/24','networkSecurityGroup':{'id':"
		    "'.../networkSecurityGroups/web-nsg'}}}]}},"
		    "{'type':'Microsoft.Network/networkInterfaces','name':'nic','properties':{"
		    "'ipConfigurations':[{'name':'c','properties':{'privateIPAddress':'10.1.1.4',"
		    "'subnet':{'id':'.../virtualNetworks/v/subnets/s'}}}]}}]}"),
	};
	const char *names[] = { "template.json" };
	struct run run = import_docs(docs, names, 1, (const char *const[]){ "nic=eth0", NULL });
	struct diag_list d = {};
	struct policy *p;

	cr_assert_eq(run.err, 0, "imports:\n%s", run.all);
	p = load(&run, &d);
	expect(p, "eth0", IN, 6, "10.1.1.4", 23, "203.0.113.5", 4000, "Deny web-nsg/DenyTelnet");
	policy_free(p);
	diag_free(&d);
	run_free(&run);
	json_decref(docs[0]);
}

Test(import_shapes, asg_members_from_nics_not_mapped)
{
	/* The three-tier walk-through: only the app tier reaches the database. */
	json_t *docs[] = {
		doc(VNET_V),
		doc("{'name':'db-nsg','id':'" ARMG("rg-a") "networkSecurityGroups/db-nsg',"
		    "'properties':{'securityRules':[{'name':'AllowLogic','properties':{"
		    "'priority':100,'direction':'Inbound','access':'Allow','protocol':'Tcp',"
		    "'sourceApplicationSecurityGroups':[{'id':'" ARMG("rg-a")
		    "applicationSecurityGroups/AsgLogic'}],'sourcePortRange':'*',"
		    "'destinationAddressPrefix':'*','destinationPortRange':'1433'}},"
		    "{'name':'DenyRest','properties':{'priority':110,'direction':'Inbound',"
		    "'access':'Deny','protocol':'*','sourceAddressPrefix':'*','sourcePortRange':'*',"
		    "'destinationAddressPrefix':'*','destinationPortRange':'1433'}}]}}"),
		doc("[{'name':'db-nic','id':'" ARMG("rg-a") "networkInterfaces/db-nic','properties':{"
		    "'networkSecurityGroup':{'id':'" ARMG("rg-a") "networkSecurityGroups/db-nsg'},"
		    "'ipConfigurations':[{'name':'c','properties':{'privateIPAddress':'10.1.1.10',"
		    "'subnet':{'id':'" ARMG("rg-a") "virtualNetworks/v/subnets/s'}}}]}},"
		    "{'name':'app-nic','id':'" ARMG("rg-a") "networkInterfaces/app-nic','properties':{"
		    "'ipConfigurations':[{'name':'c','properties':{'privateIPAddress':'10.1.1.20',"
		    "'subnet':{'id':'" ARMG("rg-a") "virtualNetworks/v/subnets/s'},"
		    "'applicationSecurityGroups':[{'id':'" ARMG("rg-a")
		    "applicationSecurityGroups/AsgLogic'}]}}]}}]"),
	};
	const char *names[] = { "vnet.json", "nsg.json", "nics.json" };
	struct run run = import_docs(docs, names, 3, (const char *const[]){ "db-nic=eth0", NULL });
	struct diag_list d = {};
	struct policy *p;

	cr_assert_eq(run.err, 0, "imports:\n%s", run.all);
	cr_expect(has_line(&run.r, "not mapped: NIC app-nic"), "%s", run.all);
	p = load(&run, &d);
	expect(p, "eth0", IN, 6, "10.1.1.10", 1433, "10.1.1.20", 4000, "Allow db-nsg/AllowLogic");
	expect(p, "eth0", IN, 6, "10.1.1.10", 1433, "10.1.1.21", 4000, "Deny db-nsg/DenyRest");
	policy_free(p);
	diag_free(&d);
	run_free(&run);
	for (int i = 0; i < 3; i++)
		json_decref(docs[i]);
}

Test(import_shapes, refusals)
{
	json_t *host = doc("{'networkSecurityGroups':[],'interfaces':[]}");
	json_t *scalar = json_integer(7);
	json_t *docs[] = { host, scalar };
	const char *names[] = { "policy.json", "seven.json" };
	struct run run = import_docs(docs, names, 2, NULL);

	cr_expect(has_diag(&run.r.diags, DIAG_ERROR, "already a host policy: give it to xnsg "
			   "check or xnsg apply"), "%s", run.all);
	cr_expect(has_diag(&run.r.diags, DIAG_ERROR, "not a JSON object, not an Azure resource"),
		  "%s", run.all);
	run_free(&run);
	json_decref(host);
	json_decref(scalar);
}

Test(import_shapes, map_argument)
{
	struct import_map m;
	const char *why;
	char *buf;

	cr_expect_eq(import_parse_map("myVmNic=eth0", &m, &buf, &why), 0);
	cr_expect(!strcmp(m.nic, "myVmNic") && !strcmp(m.ifname, "eth0") &&
		  m.attach == XNSG_ATTACH_HOST, "NIC=IF: host");
	free(buf);
	cr_expect_eq(import_parse_map("rg/nic=veth1:peer", &m, &buf, &why), 0);
	cr_expect(!strcmp(m.nic, "rg/nic") && !strcmp(m.ifname, "veth1") &&
		  m.attach == XNSG_ATTACH_PEER, "NIC=IF:peer");
	free(buf);
	cr_expect_eq(import_parse_map("nic", &m, &buf, &why), -EINVAL, "no '='");
	free(buf);
	cr_expect_eq(import_parse_map("nic=eth0:guest", &m, &buf, &why), -EINVAL, "bad attach");
	free(buf);
}

/* show and verify as the binary prints them: the API spelling. */
Test(import_real, show_and_verify_spell_defaults_as_azure)
{
	char path[] = "/tmp/xnsg-test-import-XXXXXX.json", *out, *args;
	json_t *docs[] = { fixture(FIX "cli-vnet-show.json"), fixture(FIX "cli-nic-show.json"),
			   fixture(FIX "rest-nsg-get.json") };
	const char *names[] = { "vnet.json", "nic.json", "nsg.json" };
	struct run run;
	int fd = mkstemps(path, 5);

	cr_assert_geq(fd, 0);
	json_object_set_new(json_object_get(docs[1], "properties"), "networkSecurityGroup",
			    json_pack("{s:s}", "id", TESTNSG));
	run = import_docs(docs, names, 3, (const char *const[]){ "nic-000002=eth0", NULL });
	cr_assert_eq(run.err, 0, "%s", run.all);
	cr_assert_eq(json_dumpfd(run.r.policy, fd, 0), 0);
	close(fd);
	args = xasprintf("show %s", path);
	out = xnsg_out(args);
	cr_expect(strstr(out, "AllowVnetInBound (default)") && strstr(out, "DenyAllInBound (default)"),
		  "show:\n%s", out);
	free(out);
	free(args);
	args = xasprintf("--json verify %s -i eth0 -d in -P tcp -l 10.0.0.4:22 -r 203.0.113.5:4000",
			 path);
	out = xnsg_out(args);
	cr_expect(strstr(out, "\"ruleName\": \"defaultSecurityRules/DenyAllInBound\""),
		  "verify --json:\n%s", out);
	free(out);
	free(args);
	unlink(path);
	run_free(&run);
	for (int i = 0; i < 3; i++)
		json_decref(docs[i]);
}
