// SPDX-License-Identifier: MIT
/*
 * The CNI plugin's protocol data (user/cni/conf.c, docs/DESIGN.md §12):
 * the configuration and runtime arguments, the container's veth and
 * addresses from a prevResult shaped as the bridge plugin writes it, the
 * error, VERSION and ADD result JSON; and the overlay merge
 * (user/apply/overlay.c): containers appended to a policy file's
 * interfaces join their ASGs, and diagnostics name the container.  No
 * root, no kernel: documents in, documents out.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "cni.h"
#include "compile.h"
#include "policy.h"

static const char conf_json[] =
	"{\"cniVersion\": \"1.0.0\", \"name\": \"net1\", \"type\": \"xnsg-cni\","
	" \"policy\": \"/etc/xnsg/p.json\", \"nsg\": \"containers-nsg\","
	" \"applicationSecurityGroups\": [\"WebServers\"]%s}";

/* A bridge plugin's result: the bridge and the host veth have no
 * sandbox, the container's eth0 has; one IPv4 and one IPv6 address on it,
 * and one on no interface of ours. */
static const char prev_json[] =
	"{\"cniVersion\": \"1.0.0\", \"interfaces\": ["
	" {\"name\": \"cni0\", \"mac\": \"aa:00:00:00:00:01\"},"
	" {\"name\": \"veth1234\", \"mac\": \"aa:00:00:00:00:02\"},"
	" {\"name\": \"eth0\", \"mac\": \"aa:00:00:00:00:03\", \"sandbox\": \"/run/netns/c1\"}],"
	" \"ips\": [{\"interface\": 2, \"address\": \"203.0.113.10/24\", \"gateway\": \"203.0.113.1\"},"
	"  {\"interface\": 2, \"address\": \"2001:DB8:0::0:a/64\"},"
	"  {\"interface\": 0, \"address\": \"203.0.113.1/24\"}],"
	" \"dns\": {}}";

static bool fake_veth(const char *name)
{
	return !strncmp(name, "veth", 4);
}

static bool no_veth(const char *name)
{
	(void)name;
	return false;
}

/* The configuration with `extra` ("" or ", \"key\": value") inserted. */
static int parse(const char *extra, struct cni_conf *c, struct cni_error *e)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), conf_json, extra);
	return cni_conf_parse(buf, c, e);
}

static void expect_code(const char *extra, int code, const char *what)
{
	struct cni_error e = { 0 };
	struct cni_conf c;

	cr_expect_neq(parse(extra, &c, &e), 0, "%s: the configuration is refused", what);
	cr_expect_eq(e.code, code, "%s: error code %d (got %d: %s)", what, code, e.code,
		     e.msg ? e.msg : "");
	cni_conf_free(&c);
	cni_error_clear(&e);
}

static json_t *asgs_of(const char *extra, const char *cni_args, int *code)
{
	struct cni_error e = { 0 };
	struct cni_conf c;
	json_t *a;

	cr_assert_eq(parse(extra, &c, &e), 0, "the configuration parses: %s", e.msg ? e.msg : "");
	cni_runtime_asgs(&c, cni_args, &e);
	*code = e.code;
	a = json_deep_copy(c.asgs);
	cni_conf_free(&c);
	cni_error_clear(&e);
	return a;
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(j);
	return s;
}

Test(cni_conf, fields_and_defaults)
{
	struct cni_error e = { 0 };
	struct cni_conf c;

	cr_assert_eq(parse("", &c, &e), 0, "a plain configuration parses (%s)", e.msg ? e.msg : "");
	cr_expect_str_eq(c.version, "1.0.0", "cniVersion");
	cr_expect_str_eq(c.name, "net1", "the network's name");
	cr_expect_str_eq(c.policy, "/etc/xnsg/p.json", "the policy file");
	cr_expect_str_eq(c.nsg, "containers-nsg", "the NSG");
	cr_expect_null(c.subnet, "no subnet");
	cr_expect_eq(c.ingress, APPLY_INGRESS_TC, "TC ingress by default (faster on veth)");
	cr_expect_null(c.prev, "no prevResult");
	cr_expect_eq(json_array_size(c.asgs), 1, "one configured ASG");
	cni_conf_free(&c);
	cr_assert_eq(cni_conf_parse("{\"cniVersion\": \"0.4.0\", \"name\": \"n\", \"type\": \"xnsg-cni\","
				    " \"ingress\": \"xdp\"}", &c, &e), 0, "a minimal 0.4.0 configuration");
	cr_expect_str_eq(c.policy, CNI_DEFAULT_POLICY, "the default policy file");
	cr_expect_eq(c.ingress, APPLY_INGRESS_XDP, "ingress xdp");
	cr_expect_null(c.nsg, "no NSG");
	cni_conf_free(&c);
}

Test(cni_conf, errors_carry_the_specs_codes)
{
	struct cni_error e = { 0 };
	struct cni_conf c;

	cr_expect_neq(cni_conf_parse("{not json", &c, &e), 0, "not JSON");
	cr_expect_eq(e.code, CNI_ERR_DECODE, "undecodable stdin is code 6 (got %d)", e.code);
	cr_expect(e.details && strstr(e.details, "line 1"), "details say where: %s", e.details);
	cni_conf_free(&c);
	cni_error_clear(&e);
	cr_expect_neq(cni_conf_parse("[1]", &c, &e), 0, "not an object");
	cr_expect_eq(e.code, CNI_ERR_DECODE, "a non-object is code 6 (got %d)", e.code);
	cni_conf_free(&c);
	cni_error_clear(&e);
	cr_expect_neq(cni_conf_parse("{\"cniVersion\": \"9.9.9\", \"name\": \"n\"}", &c, &e), 0, "9.9.9");
	cr_expect_eq(e.code, CNI_ERR_VERSION, "an unsupported version is code 1 (got %d)", e.code);
	cr_expect(e.details && strstr(e.details, "9.9.9"), "details name the version: %s", e.details);
	cni_conf_free(&c);
	cni_error_clear(&e);
	cr_expect_neq(cni_conf_parse("{\"name\": \"n\"}", &c, &e), 0, "no cniVersion");
	cr_expect_eq(e.code, CNI_ERR_VERSION, "no cniVersion is code 1 (got %d)", e.code);
	cni_conf_free(&c);
	cni_error_clear(&e);
	expect_code(", \"ingress\": \"tcx\"", CNI_ERR_CONFIG, "a bad ingress");
	expect_code(", \"attach\": \"host\"", CNI_ERR_FIELD, "attach host");
	expect_code(", \"subnet\": 3", CNI_ERR_CONFIG, "a subnet that is not a string");
	expect_code(", \"nsg\": \"\"", CNI_ERR_CONFIG, "an empty NSG name");
	expect_code(", \"allowedApplicationSecurityGroups\": \"Web\"", CNI_ERR_CONFIG,
		    "allowed ASGs not an array");
	expect_code(", \"prevResult\": [1]", CNI_ERR_DECODE, "a prevResult that is not an object");
	cr_expect_neq(cni_conf_parse("{\"cniVersion\": \"1.0.0\", \"name\": \"n\","
				     " \"applicationSecurityGroups\": [\"A,B\"]}", &c, &e), 0, "a comma");
	cr_expect_eq(e.code, CNI_ERR_CONFIG, "an ASG name with a comma is code 7 (got %d)", e.code);
	cni_conf_free(&c);
	cni_error_clear(&e);
}

Test(cni_conf, versions)
{
	json_t *v;
	char *s;

	cr_expect(cni_version_supported("1.0.0") && cni_version_supported("0.3.1") &&
		  cni_version_supported("0.4.0"), "1.0.0, 0.4.0 and 0.3.1 are supported");
	cr_expect(!cni_version_supported("0.2.0") && !cni_version_supported("1.1.0") &&
		  !cni_version_supported(NULL), "0.2.0 (no chaining), 1.1.0 and none are not");
	cr_expect(!cni_version_has_check("0.3.1") && cni_version_has_check("0.4.0") &&
		  cni_version_has_check("1.0.0"), "CHECK came with 0.4.0");
	v = cni_version_json("{\"cniVersion\": \"0.4.0\"}");
	cr_expect_str_eq(json_string_value(json_object_get(v, "cniVersion")), "0.4.0",
			 "VERSION answers in the version asked");
	s = dump(json_incref(json_object_get(v, "supportedVersions")));
	cr_expect_str_eq(s, "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]", "the supported versions");
	free(s);
	json_decref(v);
	v = cni_version_json("");
	cr_expect_str_eq(json_string_value(json_object_get(v, "cniVersion")), "1.0.0",
			 "VERSION with no input answers in the latest version");
	json_decref(v);
}

Test(cni_conf, error_json)
{
	struct cni_error e = { 0 };
	char *s;

	cni_fail(&e, CNI_ERR_TRY_AGAIN, NULL, "lock busy (%s)", "pid 7");
	s = dump(cni_error_json("0.4.0", &e));
	cr_expect_str_eq(s, "{\"cniVersion\":\"0.4.0\",\"code\":11,\"msg\":\"lock busy (pid 7)\"}",
			 "the error in the configuration's version, no details: %s", s);
	free(s);
	cni_fail(&e, CNI_ERR_VERSION, "config is \"9\"", "incompatible CNI versions");
	s = dump(cni_error_json("9", &e));
	cr_expect_str_eq(s, "{\"cniVersion\":\"1.0.0\",\"code\":1,\"msg\":\"incompatible CNI "
			 "versions\",\"details\":\"config is \\\"9\\\"\"}",
			 "an unsupported version answers in 1.0.0, with details: %s", s);
	free(s);
	cni_error_clear(&e);
	cr_expect_null(e.msg, "cleared");
}

Test(cni_args, runtime_asgs_join_the_configured_ones)
{
	int code;
	char *s;

	s = dump(asgs_of("", "IgnoreUnknown=1;K8S_POD_NAME=web-0;XNSG_ASGS=DbServers, webservers ,Apps;X=1",
			 &code));
	cr_expect_eq(code, 0, "CNI_ARGS with other keys is fine");
	cr_expect_str_eq(s, "[\"WebServers\",\"DbServers\",\"Apps\"]",
			 "XNSG_ASGS adds, trimmed, without case-insensitive duplicates: %s", s);
	free(s);
	s = dump(asgs_of(", \"runtimeConfig\": {\"applicationSecurityGroups\": [\"DbServers\"],"
			 " \"io.kubernetes.cri.pod-annotations\": {\"xnsg.io/application-security-groups\":"
			 " \"Apps,Logs\", \"other\": \"x\"}}", NULL, &code));
	cr_expect_eq(code, 0, "runtimeConfig is fine");
	cr_expect_str_eq(s, "[\"WebServers\",\"DbServers\",\"Apps\",\"Logs\"]",
			 "runtimeConfig's array and the pod annotation add: %s", s);
	free(s);
	s = dump(asgs_of("", "XNSG_ASGSX=Db;XNSG_ASGS=", &code));
	cr_expect_str_eq(s, "[\"WebServers\"]", "another key, and an empty list, add nothing: %s", s);
	free(s);
}

Test(cni_args, allowed_list_limits_what_the_runtime_names)
{
	int code;

	json_decref(asgs_of(", \"allowedApplicationSecurityGroups\": [\"DbServers\"]",
			    "XNSG_ASGS=dbservers", &code));
	cr_expect_eq(code, 0, "an allowed ASG (any case) is fine");
	json_decref(asgs_of(", \"allowedApplicationSecurityGroups\": [\"DbServers\"]",
			    "XNSG_ASGS=DbServers,Admins", &code));
	cr_expect_eq(code, CNI_ERR_CONFIG, "an ASG outside the allowed list is code 7 (got %d)", code);
	json_decref(asgs_of(", \"allowedApplicationSecurityGroups\": [],"
			    " \"runtimeConfig\": {\"applicationSecurityGroups\": [\"DbServers\"]}",
			    NULL, &code));
	cr_expect_eq(code, CNI_ERR_CONFIG, "an empty allowed list allows none (got %d)", code);
	json_decref(asgs_of(", \"runtimeConfig\": {\"applicationSecurityGroups\": [7]}", NULL, &code));
	cr_expect_eq(code, CNI_ERR_CONFIG, "a non-string runtime ASG is code 7 (got %d)", code);
}

static int endpoint_of(const char *prev, const char *ifname, struct cni_endpoint *ep, int *code)
{
	struct cni_error e = { 0 };
	json_t *j = json_loads(prev, 0, NULL);
	int err;

	cr_assert_not_null(j, "the test's prevResult parses");
	err = cni_endpoint(j, ifname, fake_veth, ep, &e);
	*code = e.code;
	cni_error_clear(&e);
	json_decref(j);
	return err;
}

Test(cni_prev, veth_and_addresses_from_a_bridge_result)
{
	struct cni_endpoint ep;
	struct cni_error e = { 0 };
	struct cni_conf c;
	int code;
	char *s;

	cr_assert_eq(endpoint_of(prev_json, "eth0", &ep, &code), 0, "the endpoint is found (%d)", code);
	cr_expect_str_eq(ep.veth, "veth1234", "the host veth, not the bridge");
	s = dump(json_incref(ep.ips));
	cr_expect_str_eq(s, "[\"203.0.113.10\",\"2001:db8::a\"]",
			 "eth0's addresses, bare and normalised, not the bridge's: %s", s);
	free(s);
	cr_assert_eq(parse(", \"subnet\": \"containers\"", &c, &e), 0, "configuration");
	s = dump(cni_iface_entry(&c, &ep));
	cr_expect_str_eq(s, "{\"name\":\"veth1234\",\"attach\":\"peer\",\"ipAddresses\":[\"203.0.113.10\","
			 "\"2001:db8::a\"],\"networkSecurityGroup\":\"containers-nsg\",\"subnet\":"
			 "\"containers\",\"applicationSecurityGroups\":[\"WebServers\"]}",
			 "the policy interface entry: %s", s);
	free(s);
	cni_endpoint_free(&ep);
	cni_conf_free(&c);
}

Test(cni_prev, what_is_missing_or_ambiguous)
{
	struct cni_endpoint ep;
	int code;

	cr_expect_neq(endpoint_of(prev_json, "eth1", &ep, &code), 0, "no eth1 in the container");
	cr_expect_eq(code, CNI_ERR_CONFIG, "code 7 (got %d)", code);
	cni_endpoint_free(&ep);
	cr_expect_neq(endpoint_of("{\"interfaces\": [{\"name\": \"cni0\"}, {\"name\": \"eth0\","
				  " \"sandbox\": \"/x\"}]}", "eth0", &ep, &code), 0, "no veth");
	cr_expect_eq(code, CNI_ERR_CONFIG, "no host veth is code 7 (got %d)", code);
	cni_endpoint_free(&ep);
	cr_expect_neq(endpoint_of("{\"interfaces\": [{\"name\": \"veth1\"}, {\"name\": \"veth2\"},"
				  " {\"name\": \"eth0\", \"sandbox\": \"/x\"}]}", "eth0", &ep, &code), 0,
		      "two veths");
	cr_expect_eq(code, CNI_ERR_CONFIG, "two host veths is code 7 (got %d)", code);
	cni_endpoint_free(&ep);
	cr_expect_neq(endpoint_of("{\"ips\": []}", "eth0", &ep, &code), 0, "no interfaces");
	cr_expect_eq(code, CNI_ERR_CONFIG, "no interfaces is code 7 (got %d)", code);
	cni_endpoint_free(&ep);
	cr_expect_neq(endpoint_of("{\"interfaces\": [{\"name\": \"veth1\"}, {\"name\": \"eth0\","
				  " \"sandbox\": \"/x\"}], \"ips\": [{\"address\": \"300.1.1.1/24\"}]}",
				  "eth0", &ep, &code), 0, "a bad address");
	cr_expect_eq(code, CNI_ERR_DECODE, "a bad address is code 6 (got %d)", code);
	cni_endpoint_free(&ep);
	cr_expect_eq(endpoint_of("{\"interfaces\": [{\"name\": \"veth1\"}, {\"name\": \"eth0\","
				 " \"sandbox\": \"/x\"}], \"ips\": [{\"version\": \"4\", \"address\":"
				 " \"192.0.2.9/24\"}]}", "eth0", &ep, &code), 0,
		     "a 0.3.x address without an interface index belongs to the container");
	cr_expect_eq(json_array_size(ep.ips), 1, "one address");
	cni_endpoint_free(&ep);
}

/* A host-side interface that is not a veth here is named in the error,
 * so the user sees what was looked at and rejected. */
Test(cni_prev, rejected_host_interfaces_are_named)
{
	json_t *j = json_loads("{\"interfaces\": [{\"name\": \"cni0\"}, {\"name\": \"vethX\"},"
			       " {\"name\": \"eth0\", \"sandbox\": \"/x\"}]}", 0, NULL);
	struct cni_error e = { 0 };
	struct cni_endpoint ep;

	cr_assert_neq(cni_endpoint(j, "eth0", no_veth, &ep, &e), 0, "no veth on this host");
	cr_expect_eq(e.code, CNI_ERR_CONFIG, "code 7 (got %d)", e.code);
	cr_expect(strstr(e.msg, "prevResult's host-side interfaces (cni0, vethX) are not veths "
			 "on this host"), "the rejected names are in the error: %s", e.msg);
	cni_error_clear(&e);
	cni_endpoint_free(&ep);
	json_decref(j);
}

Test(cni_prev, add_result_is_prev_result_in_the_configured_version)
{
	struct cni_error e = { 0 };
	struct cni_conf c;
	char buf[4096];
	json_t *r;

	snprintf(buf, sizeof(buf), "{\"cniVersion\": \"0.4.0\", \"name\": \"n\", \"prevResult\": %s}",
		 prev_json);
	cr_assert_eq(cni_conf_parse(buf, &c, &e), 0, "the configuration parses");
	r = cni_add_result(&c);
	cr_expect_str_eq(json_string_value(json_object_get(r, "cniVersion")), "0.4.0",
			 "the result is in the configuration's version");
	cr_expect_eq(json_array_size(json_object_get(r, "interfaces")), 3,
		     "the previous result's interfaces are passed on");
	json_decref(r);
	cni_conf_free(&c);
}

/* ---- the overlay merge --------------------------------------------------- */

static const char base_policy[] =
	"{\"virtualNetwork\": {\"name\": \"v\", \"addressPrefixes\": [\"203.0.113.0/24\"]},\n"
	" \"applicationSecurityGroups\": {\"WebServers\": [], \"DbServers\": [\"203.0.113.99\"]},\n"
	" \"networkSecurityGroups\": [{\"name\": \"n\", \"securityRules\": [\n"
	"  {\"name\": \"AllowWebToDb\", \"priority\": 100, \"direction\": \"Inbound\", \"access\": \"Allow\","
	"   \"protocol\": \"Tcp\", \"sourceApplicationSecurityGroups\": [\"WebServers\"],"
	"   \"sourcePortRange\": \"*\", \"destinationApplicationSecurityGroups\": [\"DbServers\"],"
	"   \"destinationPortRange\": \"8080\"}]}],\n"
	" \"%s\": [{\"name\": \"eth0\", \"ipAddresses\": [\"203.0.113.2\"]}]}\n";

static char policy_file[64];

static void write_policy(const char *text)
{
	FILE *f;

	snprintf(policy_file, sizeof(policy_file), "/tmp/xnsg-test-cni-XXXXXX");
	cr_assert_geq(mkstemp(policy_file), 0, "a temporary policy file");
	f = fopen(policy_file, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static json_t *overlay_of(const char *asg1, const char *asg2)
{
	return json_pack("{s:i, s:i, s:[{s:s, s:{s:s, s:s, s:[s], s:[s], s:s}}, {s:s, s:{s:s, s:s, s:[s], s:[s]}}]}",
			 "version", 1, "serial", 3, "containers",
			 "key", "net1/c1/eth0", "interface", "name", "veth1", "attach", "peer",
			 "ipAddresses", "203.0.113.10", "applicationSecurityGroups", asg1,
			 "networkSecurityGroup", "n",
			 "key", "net1/c2/eth0", "interface", "name", "veth2", "attach", "peer",
			 "ipAddresses", "203.0.113.11", "applicationSecurityGroups", asg2);
}

/* overlay_load() with stderr captured into err (at most len bytes). */
static int load_capturing(json_t *ov, struct policy **p, struct compiled **c, char *err, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(2), rc;
	size_t n;

	cr_assert(tmp && saved >= 0, "stderr can be captured");
	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = overlay_load(policy_file, ov, false, p, c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, len - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

static const struct asg *asg_named(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nasgs; i++)
		if (!strcmp(p->asgs[i].name, name))
			return &p->asgs[i];
	return NULL;
}

Test(cni_overlay, containers_join_their_asgs)
{
	char text[2048], err[4096];
	struct compiled *c;
	struct policy *p;
	json_t *ov = overlay_of("WebServers", "DbServers");

	snprintf(text, sizeof(text), base_policy, "Interfaces");
	write_policy(text);
	cr_assert_eq(load_capturing(ov, &p, &c, err, sizeof(err)), 0, "the merged policy loads: %s", err);
	cr_expect_eq(p->nifaces, 3, "the file's interface and two containers (got %zu)", p->nifaces);
	cr_expect_str_eq(p->ifaces[1].name, "veth1", "containers come after the file's interfaces");
	cr_expect_eq(p->ifaces[2].attach, XNSG_ATTACH_PEER, "a container is attached as peer");
	cr_expect_eq(asg_named(p, "WebServers")->members.n, 1, "WebServers holds c1's address");
	cr_expect_eq(asg_named(p, "DbServers")->members.n, 2, "DbServers: its own address and c2's");
	cr_expect_null(strstr(err, "duplicate"), "the file's spelling 'Interfaces' is extended, not "
		       "doubled: %s", err);
	compiled_free(c);
	policy_free(p);
	json_decref(ov);
	unlink(policy_file);
}

Test(cni_overlay, errors_name_the_container)
{
	char text[2048], err[4096];
	struct compiled *c;
	struct policy *p;
	json_t *ov = overlay_of("WebServers", "NoSuchAsg");

	snprintf(text, sizeof(text), base_policy, "interfaces");
	write_policy(text);
	cr_expect_neq(load_capturing(ov, &p, &c, err, sizeof(err)), 0, "an undeclared ASG fails");
	cr_expect_null(p, "no policy");
	cr_expect(strstr(err, "$.interfaces[2]") && strstr(err, "(container net1/c2/eth0)"),
		  "the error names the container's entry: %s", err);
	cr_expect(strstr(err, "invalid policy (1 error)"), "and the CLI's summary line: %s", err);
	json_decref(ov);
	unlink(policy_file);
}

Test(cni_overlay, a_syntax_error_keeps_its_line_and_column)
{
	char err[4096];
	struct compiled *c;
	struct policy *p;
	json_t *ov = overlay_of("WebServers", "DbServers");

	write_policy("{\"virtualNetwork\": {\"name\": \"v\",\n  \"addressPrefixes\": [,]}}\n");
	cr_expect_neq(load_capturing(ov, &p, &c, err, sizeof(err)), 0, "a syntax error fails");
	cr_expect(strstr(err, "line 2"), "the file's own line, as check reports it: %s", err);
	json_decref(ov);
	unlink(policy_file);
}

/* The example network configuration list holds a valid xnsg-cni entry,
 * and the example policy it names loads. */
Test(cni_overlay, the_example_conflist_and_policy)
{
	json_t *list = json_load_file("examples/cni/10-xnsg.conflist", 0, NULL), *pl;
	struct cni_error e = { 0 };
	struct diag_list d = { 0 };
	struct cni_conf conf;
	struct policy *p;
	size_t i, found = 0;

	cr_assert_not_null(list, "examples/cni/10-xnsg.conflist parses (run from the source tree)");
	json_array_foreach(json_object_get(list, "plugins"), i, pl) {
		char *s;

		if (strcmp(json_string_value(json_object_get(pl, "type")) ?: "", "xnsg-cni"))
			continue;
		found++;
		json_object_set(pl, "name", json_object_get(list, "name"));
		json_object_set(pl, "cniVersion", json_object_get(list, "cniVersion"));
		s = json_dumps(pl, 0);
		cr_expect_eq(cni_conf_parse(s, &conf, &e), 0, "its xnsg-cni entry parses: %s",
			     e.msg ? e.msg : "");
		free(s);
		cni_conf_free(&conf);
	}
	cr_expect_eq(found, 1, "one xnsg-cni entry");
	cr_expect_eq(policy_load("examples/cni/policy.json", &p, &d), 0, "examples/cni/policy.json loads");
	policy_free(p);
	diag_free(&d);
	json_decref(list);
}
