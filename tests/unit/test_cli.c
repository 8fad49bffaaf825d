// SPDX-License-Identifier: MIT
/*
 * check, show and verify as a user meets them: verify's JSON (docs/DESIGN.md §5,
 * the shape `az network watcher test-ip-flow` scripts read), its text
 * line, and exit codes (0 ok, 1 failure, 2 usage) of each command called
 * directly with an argv; the option tables' parser, usage and help
 * (opts.h) and the output module's errors (output.h) on a test command.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "alloc.h"
#include "cmd.h"
#include "eval.h"
#include "flowlog_cli.h"
#include "log.h"
#include "model.h"
#include "opts.h"
#include "output.h"
#include "policy.h"
#include "verify.h"
#include "xnsg_bin.h"

/*
 * web: subnet "web" with web-nsg (defaults only) and NIC app-nsg allowing
 * TCP 80 and denying TCP 22.  bare: no NSG anywhere.  nicnsg: no subnet.
 */
static const char policy_json[] =
	"{\"virtualNetwork\":{\"name\":\"v\",\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\"]},"
	"\"networkSecurityGroups\":["
	"{\"name\":\"web-nsg\",\"securityRules\":[]},"
	"{\"name\":\"app-nsg\",\"securityRules\":["
	"{\"name\":\"AllowHttp\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
	"\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"80\"},"
	"{\"name\":\"DenySsh\",\"priority\":110,\"direction\":\"Inbound\",\"access\":\"Deny\","
	"\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
	"\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"22\"}]}],"
	"\"subnets\":[{\"name\":\"web\",\"addressPrefix\":\"10.1.1.0/24\",\"networkSecurityGroup\":\"web-nsg\"}],"
	"\"interfaces\":["
	"{\"name\":\"eth0\",\"subnet\":\"web\",\"networkSecurityGroup\":\"app-nsg\","
	"\"ipAddresses\":[\"10.1.1.4\",\"fd00:1::4\"]},"
	"{\"name\":\"nicnsg\",\"networkSecurityGroup\":\"app-nsg\",\"ipAddresses\":[\"10.1.2.4\"]},"
	"{\"name\":\"bare\",\"ipAddresses\":[\"10.1.3.4\"]}]}";

static char policy_file[] = "/tmp/xnsg-test-cli-XXXXXX.json";
static char bad_file[] = "/tmp/xnsg-test-cli-bad-XXXXXX.json";

static void write_file(char *tmpl, const char *text)
{
	int fd = mkstemps(tmpl, 5);

	cr_assert_geq(fd, 0, "cannot create %s", tmpl);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text), "short write to %s", tmpl);
	close(fd);
}

static void setup(void)
{
	xnsg_json = 0;
	write_file(policy_file, policy_json);
	write_file(bad_file,
		   "{\"networkSecurityGroups\":[{\"name\":\"n\",\"securityRules\":["
		   "{\"name\":\"R\",\"priority\":99,\"direction\":\"Inbound\",\"access\":\"Allow\","
		   "\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
		   "\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"80\"}]}]}");
	cr_redirect_stdout();
	cr_redirect_stderr();
}

static void teardown(void)
{
	unlink(policy_file);
	unlink(bad_file);
}

TestSuite(cli, .init = setup, .fini = teardown);

static struct policy *load(void)
{
	struct diag_list d = {};
	struct policy *p = NULL;
	int err = policy_parse_string(policy_json, "test.json", NULL, &p, &d);

	if (err)
		diag_print(stderr, "test.json", &d);
	cr_assert_eq(err, 0, "the test policy is valid (err %d)", err);
	diag_free(&d);
	return p;
}

static struct eval_result flow(const struct policy *p, const char *ifname, enum xnsg_dir dir,
			       uint8_t proto, const char *local, uint16_t lport,
			       const char *remote, uint16_t rport)
{
	struct eval_query q = { .iface = policy_find_iface(p, ifname), .dir = dir,
				.ipproto = proto, .lport = lport, .rport = rport };
	struct eval_result r;

	cr_assert_geq(q.iface, 0, "interface %s exists", ifname);
	cr_assert_eq(addr_parse(local, &q.local), 0, "address %s", local);
	cr_assert_eq(addr_parse(remote, &q.remote), 0, "address %s", remote);
	eval_flow(p, &q, &r);
	return r;
}

/* verify_result_json() must equal the JSON text want, key for key. */
static void expect_json(const struct policy *p, const struct eval_result *r, const char *want)
{
	json_t *got = verify_result_json(p, r), *w = json_loads(want, 0, NULL);
	char *s = json_dumps(got, JSON_COMPACT);

	cr_assert_not_null(w, "the expected JSON parses: %s", want);
	cr_expect(json_equal(got, w), "verify JSON\n got  %s\n want %s", s, want);
	free(s);
	json_decref(got);
	json_decref(w);
}

Test(cli, verify_json_subnet_denies)
{
	struct policy *p = load();
	struct eval_result r = flow(p, "eth0", XNSG_IN, 6, "10.1.1.4", 80, "8.8.8.8", 40000);

	expect_json(p, &r,
		"{\"access\":\"Deny\",\"rule\":\"web-nsg/DenyAllInBound\","
		"\"ruleName\":\"defaultSecurityRules/DenyAllInBound\",\"levels\":["
		"{\"scope\":\"subnet\",\"nsg\":\"web-nsg\",\"access\":\"Deny\","
		"\"rule\":\"web-nsg/DenyAllInBound\",\"ruleName\":\"defaultSecurityRules/DenyAllInBound\"},"
		"{\"scope\":\"nic\",\"nsg\":\"app-nsg\",\"access\":\"Allow\","
		"\"rule\":\"app-nsg/AllowHttp\",\"ruleName\":\"securityRules/AllowHttp\"}]}");
	policy_free(p);
}

Test(cli, verify_json_nic_denies_user_rule)
{
	struct policy *p = load();
	struct eval_result r = flow(p, "eth0", XNSG_IN, 6, "10.1.1.4", 22, "10.1.9.9", 40000);

	expect_json(p, &r,
		"{\"access\":\"Deny\",\"rule\":\"app-nsg/DenySsh\","
		"\"ruleName\":\"securityRules/DenySsh\",\"levels\":["
		"{\"scope\":\"subnet\",\"nsg\":\"web-nsg\",\"access\":\"Allow\","
		"\"rule\":\"web-nsg/AllowVnetInBound\",\"ruleName\":\"defaultSecurityRules/AllowVnetInBound\"},"
		"{\"scope\":\"nic\",\"nsg\":\"app-nsg\",\"access\":\"Deny\","
		"\"rule\":\"app-nsg/DenySsh\",\"ruleName\":\"securityRules/DenySsh\"}]}");
	policy_free(p);
}

Test(cli, verify_json_outbound_last_level_allows)
{
	struct policy *p = load();
	struct eval_result r = flow(p, "eth0", XNSG_OUT, 17, "10.1.1.4", 5000, "8.8.8.8", 53);

	/* Outbound: NIC first, subnet last; the last allowing level's rule. */
	expect_json(p, &r,
		"{\"access\":\"Allow\",\"rule\":\"web-nsg/AllowInternetOutBound\","
		"\"ruleName\":\"defaultSecurityRules/AllowInternetOutBound\",\"levels\":["
		"{\"scope\":\"nic\",\"nsg\":\"app-nsg\",\"access\":\"Allow\","
		"\"rule\":\"app-nsg/AllowInternetOutBound\",\"ruleName\":\"defaultSecurityRules/AllowInternetOutBound\"},"
		"{\"scope\":\"subnet\",\"nsg\":\"web-nsg\",\"access\":\"Allow\","
		"\"rule\":\"web-nsg/AllowInternetOutBound\",\"ruleName\":\"defaultSecurityRules/AllowInternetOutBound\"}]}");
	policy_free(p);
}

Test(cli, verify_json_no_subnet_level)
{
	struct policy *p = load();
	struct eval_result r = flow(p, "nicnsg", XNSG_IN, 6, "10.1.2.4", 80, "8.8.8.8", 40000);

	expect_json(p, &r,
		"{\"access\":\"Allow\",\"rule\":\"app-nsg/AllowHttp\","
		"\"ruleName\":\"securityRules/AllowHttp\",\"levels\":["
		"{\"scope\":\"subnet\",\"nsg\":null,\"access\":\"Allow\",\"rule\":null,\"ruleName\":null},"
		"{\"scope\":\"nic\",\"nsg\":\"app-nsg\",\"access\":\"Allow\","
		"\"rule\":\"app-nsg/AllowHttp\",\"ruleName\":\"securityRules/AllowHttp\"}]}");
	policy_free(p);
}

Test(cli, verify_json_not_filtered)
{
	struct policy *p = load();
	struct eval_result r = flow(p, "bare", XNSG_IN, 6, "10.1.3.4", 22, "8.8.8.8", 40000);

	expect_json(p, &r,
		"{\"access\":\"Allow\",\"rule\":null,\"ruleName\":null,\"levels\":["
		"{\"scope\":\"subnet\",\"nsg\":null,\"access\":\"Allow\",\"rule\":null,\"ruleName\":null},"
		"{\"scope\":\"nic\",\"nsg\":null,\"access\":\"Allow\",\"rule\":null,\"ruleName\":null}]}");
	policy_free(p);
}

Test(cli, verify_json_key_order)
{
	struct policy *p = load();
	struct eval_result r = flow(p, "eth0", XNSG_IN, 6, "10.1.1.4", 22, "10.1.9.9", 40000);
	json_t *j = verify_result_json(p, &r);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	/* Scripts and eyes read these; keep the documented order. */
	cr_expect(!strncmp(s, "{\"access\":\"Deny\",\"rule\":\"app-nsg/DenySsh\",\"ruleName\":", 52),
		  "top-level keys in docs/DESIGN.md §5 order: %s", s);
	cr_expect(strstr(s, "{\"scope\":\"subnet\",\"nsg\":\"web-nsg\",\"access\":") != NULL,
		  "level keys in docs/DESIGN.md §5 order: %s", s);
	free(s);
	json_decref(j);
	policy_free(p);
}

static char *print_to_string(const struct policy *p, const struct eval_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f, "open_memstream");
	verify_result_print(f, p, r);
	fclose(f);
	return buf;
}

Test(cli, verify_text_line)
{
	struct policy *p = load();
	struct eval_result deny = flow(p, "eth0", XNSG_IN, 6, "10.1.1.4", 80, "8.8.8.8", 40000);
	struct eval_result bare = flow(p, "bare", XNSG_IN, 1, "10.1.3.4", 0, "8.8.8.8", 0);
	char *s = print_to_string(p, &deny), *t;

	cr_expect_str_eq(s,
		"Deny  by web-nsg/DenyAllInBound (defaultSecurityRules/DenyAllInBound) "
		"[subnet web-nsg: Deny DenyAllInBound; nic app-nsg: Allow AllowHttp]\n",
		"verify text line: %s", s);
	t = print_to_string(p, &bare);
	cr_expect(!strncmp(t, "Allow ", 6) && strstr(t, "subnet none: Allow; nic none: Allow]\n"),
		  "not-filtered text line: %s", t);
	cr_expect(!strchr(t, '\n') || strchr(t, '\n')[1] == '\0', "one line: %s", t);
	free(s);
	free(t);
	policy_free(p);
}

Test(cli, parse_endpoint)
{
	static const struct { const char *in; const char *addr; int port; } ok[] = {
		{ "10.1.1.4:80", "10.1.1.4", 80 },
		{ "10.1.1.4", "10.1.1.4", -1 },
		{ "10.1.1.4:0", "10.1.1.4", 0 },
		{ "10.1.1.4:65535", "10.1.1.4", 65535 },
		{ "[2001:db8::1]:80", "2001:db8::1", 80 },
		{ "[2001:db8::1]", "2001:db8::1", -1 },
		{ "2001:db8::1", "2001:db8::1", -1 },
		{ "::1", "::1", -1 },
	};
	static const char *const bad[] = {
		"", "10.1.1.4:", "10.1.1.4:65536", "10.1.1.4:-1", "10.1.1.4:8x", "10.1.1",
		"[10.1.1.4]:80", "[2001:db8::1]80", "[2001:db8::1", "2001:db8::1:80:", "host:80",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct xnsg_addr a, want;
		uint16_t port;
		bool has;

		cr_assert_eq(verify_parse_endpoint(ok[i].in, &a, &port, &has), 0, "%s parses",
			     ok[i].in);
		cr_assert_eq(addr_parse(ok[i].addr, &want), 0);
		cr_expect(a.family == want.family && !memcmp(a.bytes, want.bytes, 16),
			  "%s: address %s", ok[i].in, ok[i].addr);
		cr_expect_eq(has, ok[i].port >= 0, "%s: port given or not", ok[i].in);
		if (ok[i].port >= 0)
			cr_expect_eq(port, ok[i].port, "%s: port %d", ok[i].in, ok[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xnsg_addr a;
		uint16_t port;
		bool has;

		cr_expect_neq(verify_parse_endpoint(bad[i], &a, &port, &has), 0,
			      "'%s' is rejected", bad[i]);
	}
}

/* ---- exit codes ----------------------------------------------------- */

/* Run a command as main() does after the global options: by name, the
 * run ended by cli_finish() (JSON-mode errors); argv NULL-ended. */
static int run_cmd(const char *const *args)
{
	char *argv[32];
	int argc = 0;

	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	return cli_finish(argv[0], cli_run(argc, argv));
}

#define RUN(...) run_cmd((const char *const[]){ __VA_ARGS__, NULL })

Test(cli, verify_usage_errors)
{
	const char *f = policy_file;

	cr_expect_eq(RUN("verify"), 2, "no POLICY");
	cr_expect_eq(RUN("verify", f, f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 2, "two POLICYs");
	cr_expect_eq(RUN("verify", f, "-d", "in", "-P", "tcp", "-l", "10.1.1.4:80",
			 "-r", "8.8.8.8:5000"), 2, "missing -i");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-P", "tcp", "-l", "10.1.1.4:80",
			 "-r", "8.8.8.8:5000"), 2, "missing -d");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-l", "10.1.1.4:80",
			 "-r", "8.8.8.8:5000"), 2, "missing -P");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-r", "8.8.8.8:5000"), 2, "missing -l");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4:80"), 2, "missing -r");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "sideways", "-P", "tcp",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 2, "-d sideways");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "gopher",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 2, "-P gopher");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "256",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 2, "-P 256");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4", "-r", "8.8.8.8:5000"), 2, "tcp without a local port");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "udp",
			 "-l", "10.1.1.4:53", "-r", "8.8.8.8"), 2, "udp without a remote port");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.999:80", "-r", "8.8.8.8:5000"), 2, "bad local address");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4:80", "-r", "[2001:db8::1]:5000"), 2, "mixed families");
	cr_expect_eq(RUN("verify", f, "--bogus"), 2, "unknown option");
}

Test(cli, verify_runs)
{
	const char *f = policy_file;

	cr_expect_eq(RUN("verify", "--help"), 0, "--help");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 0, "a denied flow still exits 0");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "out", "-P", "icmp",
			 "-l", "10.1.1.4", "-r", "8.8.8.8"), 0, "icmp needs no ports");
	cr_expect_eq(RUN("verify", f, "-i", "eth0", "-d", "in", "-P", "6",
			 "-l", "[fd00:1::4]:80", "-r", "2001:db8::1:5000"), 2,
		     "a bare IPv6 remote has no port, tcp needs one");
	cr_expect_eq(RUN("verify", f, "--json", "-i", "eth0", "-d", "in", "-P", "6",
			 "-l", "[fd00:1::4]:80", "-r", "[2001:db8::1]:5000"), 0, "IPv6, --json");
	cr_expect_eq(RUN("verify", f, "-i", "eth9", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 1, "unknown interface");
	cr_expect_eq(RUN("verify", bad_file, "-i", "eth0", "-d", "in", "-P", "tcp",
			 "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 1, "invalid policy");
}

/* What the command printed on f (stdout or stderr) so far. */
static char *captured(FILE *f, FILE *redirected)
{
	char *buf = xcalloc(1, 1 << 16);
	size_t n;

	fflush(f);
	cr_assert_not_null(redirected, "the stream is redirected");
	n = fread(buf, 1, (1 << 16) - 1, redirected);
	buf[n] = '\0';
	return buf;
}

static char *captured_stdout(void)
{
	return captured(stdout, cr_get_redirected_stdout());
}

static char *captured_stderr(void)
{
	return captured(stderr, cr_get_redirected_stderr());
}

Test(cli, verify_json_output)
{
	json_t *j;
	char *out;

	cr_assert_eq(RUN("verify", policy_file, "--json", "-i", "eth0", "-d", "in",
			 "-P", "tcp", "-l", "10.1.1.4:80", "-r", "8.8.8.8:5000"), 0, "verify --json");
	out = captured_stdout();
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "verify --json prints JSON: %s", out);
	cr_expect_str_eq(json_string_value(json_object_get(j, "access")), "Deny", "access: %s", out);
	cr_expect_str_eq(json_string_value(json_object_get(j, "ruleName")),
			 "defaultSecurityRules/DenyAllInBound", "ruleName: %s", out);
	cr_expect(strchr(out, '\n') == out + strlen(out) - 1, "one line: %s", out);
	json_decref(j);
	free(out);
}

Test(cli, json_error_on_stdout)
{
	json_t *j;
	char *out;

	cr_assert_eq(RUN("show", policy_file, "--json", "-i", "eth9"), 1,
		     "show: unknown interface");
	out = captured_stdout();
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "an error in JSON mode is JSON: %s", out);
	cr_expect(strstr(json_string_value(json_object_get(j, "error")), "eth9") != NULL,
		  "the error names the interface: %s", out);
	json_decref(j);
	free(out);
}

Test(cli, check_exit_codes)
{
	cr_expect_eq(RUN("check", policy_file), 0, "valid policy");
	cr_expect_eq(RUN("check", bad_file), 1, "priority 99 is invalid");
	cr_expect_eq(RUN("check", "/nonexistent/policy.json"), 1, "missing file");
	cr_expect_eq(RUN("check"), 2, "no POLICY");
	cr_expect_eq(RUN("check", "--bogus", policy_file), 2, "unknown option");
	cr_expect_eq(RUN("check", "-h"), 0, "-h");
}

Test(cli, check_json)
{
	json_t *j, *e;
	char *out;

	cr_assert_eq(RUN("check", "--json", bad_file), 1, "invalid policy");
	out = captured_stdout();
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "check --json prints JSON: %s", out);
	cr_expect(json_is_false(json_object_get(j, "valid")), "valid: false: %s", out);
	e = json_array_get(json_object_get(j, "errors"), 0);
	cr_expect(json_is_string(json_object_get(e, "path")) &&
		  json_is_string(json_object_get(e, "message")),
		  "errors[0] has path and message: %s", out);
	cr_expect(json_is_array(json_object_get(j, "warnings")), "warnings is an array: %s", out);
	json_decref(j);
	free(out);
}

Test(cli, show_exit_codes)
{
	cr_expect_eq(RUN("show", policy_file), 0, "show all");
	cr_expect_eq(RUN("show", policy_file, "-i", "eth0"), 0, "show one interface");
	cr_expect_eq(RUN("show", policy_file, "-i", "eth9"), 1, "unknown interface");
	cr_expect_eq(RUN("show", bad_file), 1, "invalid policy");
	cr_expect_eq(RUN("show"), 2, "no POLICY");
}

Test(cli, show_json_structure)
{
	json_t *j, *ifc, *in, *out_levels, *rule;
	char *out;

	cr_assert_eq(RUN("show", policy_file, "--json", "-i", "eth0"), 0, "show --json");
	out = captured_stdout();
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "show --json prints JSON: %s", out);
	cr_assert_eq(json_array_size(json_object_get(j, "interfaces")), 1, "-i selects one");
	ifc = json_array_get(json_object_get(j, "interfaces"), 0);
	in = json_object_get(ifc, "inbound");
	out_levels = json_object_get(ifc, "outbound");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(in, 0), "scope")),
			 "subnet", "inbound starts with the subnet");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(out_levels, 0), "scope")),
			 "nic", "outbound starts with the NIC");
	rule = json_array_get(json_object_get(json_array_get(in, 1), "rules"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(rule, "name")), "AllowHttp",
			 "the NIC's first inbound rule");
	cr_expect_eq(json_integer_value(json_object_get(rule, "priority")), 100, "its priority");
	cr_expect(json_is_false(json_object_get(rule, "default")), "a user rule");
	/* The subnet NSG's rules: defaults only, Internet expanded. */
	rule = json_array_get(json_object_get(json_array_get(out_levels, 1), "rules"), 1);
	cr_expect_str_eq(json_string_value(json_object_get(rule, "name")), "AllowInternetOutBound",
			 "second outbound default");
	cr_expect(json_array_size(json_object_get(json_object_get(rule, "destination"),
						  "prefixes")) > 1,
		  "Internet is expanded to prefixes");
	json_decref(j);
	free(out);
}

/* ---- the option tables (opts.h) on a test command -------------------- */

struct t_args {
	const char *file, *name;
	int dir;
	unsigned int count;
	bool flag;
};

static const struct cli_word t_dirs[] = { { "in", 1 }, { "out", 2 }, { NULL, 0 } };
static const struct cli_opt t_opts[] = {
	CLI_POSITIONAL(struct t_args, file, "FILE"),
	CLI_OPTION(struct t_args, name, STRING, "name", .short_name = 'n', .arg = "NAME",
		   .required = true, .help = "a name"),
	CLI_OPTION(struct t_args, dir, ENUM, "direction", .short_name = 'd', .words = t_dirs,
		   .help = "a direction"),
	CLI_OPTION(struct t_args, count, UINT, "count", .arg = "N", .min = 10, .max = 20,
		   .help = "a number"),
	CLI_OPTION(struct t_args, flag, FLAG, "flag", .help = "a flag"),
	CLI_JSON_OPTION("JSON"),
	CLI_END
};

/* What the handler got, and how it ends: 0, or a failure of some kind. */
static struct t_args t_got;
static int t_runs;
static enum { T_OK, T_FAIL_SILENT, T_FAIL_TWICE, T_FAIL_NOTED, T_FAIL_AFTER_JSON } t_end;

static int t_run(const void *args)
{
	t_got = *(const struct t_args *)args;
	t_runs++;
	switch (t_end) {
	case T_OK:
		return 0;
	case T_FAIL_TWICE:
		cli_error("first %s", "error");
		cli_error("second error");
		return 1;
	case T_FAIL_NOTED: /* what the log's hook does for a pr_err() deep down */
		cli_note_error("deep error");
		return 1;
	case T_FAIL_AFTER_JSON:
		cli_print_json(json_pack("{s:b}", "partial", 1), 0);
		return 1;
	default:
		return 1;
	}
}

static const struct t_args t_defaults = { .dir = -1, .count = 15 };
static const struct cli_command t_command =
	CLI_COMMAND("tcmd", struct t_args, t_run, t_opts, "a test command",
		    .defaults = &t_defaults);

static const char t_usage[] =
	"Usage: xnsg tcmd FILE -n NAME [-d in|out] [--count N] [--flag] [--json]\n"
	"  a test command\n";

static int t_run_args(const char *const *args)
{
	char *argv[32];
	int argc = 0;

	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	return cli_finish("tcmd", cli_run_command(&t_command, argc, argv));
}

#define T_RUN(...) t_run_args((const char *const[]){ "tcmd", __VA_ARGS__, NULL })

/* A usage error: exit 2, the handler not run, "xnsg tcmd: MSG" + usage. */
static void expect_usage_error(int ret, const char *msg)
{
	char *err = captured_stderr(), *want = xasprintf("xnsg tcmd: %s\n%s", msg, t_usage);

	cr_expect_eq(ret, 2, "exit 2 for '%s'", msg);
	cr_expect_eq(t_runs, 0, "the handler does not run after '%s'", msg);
	cr_expect_str_eq(err, want, "the message and the usage on stderr");
	free(err);
	free(want);
}

Test(cli, opts_fill_the_struct)
{
	cr_assert_eq(T_RUN("f", "-n", "x", "--direction", "OUT", "--count", "12", "--flag"), 0,
		     "a full command line parses");
	cr_expect_str_eq(t_got.file, "f", "the positional");
	cr_expect_str_eq(t_got.name, "x", "the string");
	cr_expect_eq(t_got.dir, 2, "the enum's value, matched case-insensitively");
	cr_expect_eq(t_got.count, 12, "the number");
	cr_expect(t_got.flag, "the flag");
	cr_expect_eq(xnsg_json, 0, "no --json given");
	cr_assert_eq(T_RUN("--name=y", "-d", "in", "--count", "20", "--json", "g"), 0,
		     "options before the positional, --opt=value, the range's top");
	cr_expect_str_eq(t_got.file, "g", "the positional after the options");
	cr_expect_str_eq(t_got.name, "y", "--name=y");
	cr_expect_eq(t_got.count, 20, "20 is in 10-20");
	cr_expect_eq(xnsg_json, 1, "--json sets JSON mode as the global option does");
	xnsg_json = 0;
	cr_assert_eq(T_RUN("f", "-nz"), 0, "a short option's argument attached");
	cr_expect_str_eq(t_got.name, "z", "-nz");
	cr_expect_eq(t_got.dir, -1, "an enum not given keeps its default");
	cr_expect_eq(t_got.count, 15, "a number not given keeps its default");
	cr_expect(!t_got.flag, "a flag not given is false");
	cr_expect_eq(t_runs, 3, "the handler ran each time");
}

Test(cli, opts_unknown_option)
{
	expect_usage_error(T_RUN("f", "-n", "x", "--bogus"), "unknown option '--bogus'");
}

Test(cli, opts_unknown_short_option)
{
	expect_usage_error(T_RUN("f", "-n", "x", "-z"), "unknown option '-z'");
}

Test(cli, opts_flag_with_argument)
{
	expect_usage_error(T_RUN("f", "-n", "x", "--flag=1"), "--flag takes no argument");
}

Test(cli, opts_missing_argument)
{
	expect_usage_error(T_RUN("f", "-n"), "-n needs NAME");
}

Test(cli, opts_missing_argument_long)
{
	expect_usage_error(T_RUN("f", "-n", "x", "--direction"), "--direction needs in|out");
}

Test(cli, opts_missing_required_option)
{
	expect_usage_error(T_RUN("f"), "missing -n NAME");
}

Test(cli, opts_missing_positional)
{
	expect_usage_error(T_RUN("-n", "x"), "missing FILE");
}

Test(cli, opts_extra_positional)
{
	expect_usage_error(T_RUN("f", "g", "-n", "x"), "unexpected argument 'g'");
}

Test(cli, opts_bad_enum)
{
	expect_usage_error(T_RUN("f", "-n", "x", "-d", "sideways"),
			   "-d sideways: must be in or out");
}

Test(cli, opts_bad_enum_long)
{
	/* Said as the user wrote it. */
	expect_usage_error(T_RUN("f", "-n", "x", "--direction", "up"),
			   "--direction up: must be in or out");
}

Test(cli, opts_below_range)
{
	expect_usage_error(T_RUN("f", "-n", "x", "--count", "9"),
			   "--count 9: must be a number from 10 to 20");
}

Test(cli, opts_above_range)
{
	expect_usage_error(T_RUN("f", "-n", "x", "--count", "21"),
			   "--count 21: must be a number from 10 to 20");
}

Test(cli, opts_not_a_number)
{
	static const char *const bad[] = { "1x", "-1", "", " 12", "+12", "99999999999999999999" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(T_RUN("f", "-n", "x", "--count", bad[i]), 2, "'%s' is not a count",
			     bad[i]);
	cr_expect_eq(t_runs, 0, "the handler never ran");
}

Test(cli, opts_help_from_the_table)
{
	char *out;

	cr_assert_eq(T_RUN("--help"), 0, "--help exits 0 without the required arguments");
	cr_expect_eq(t_runs, 0, "--help does not run the command");
	out = captured_stdout();
	cr_expect_str_eq(out,
			 "Usage: xnsg tcmd FILE -n NAME [-d in|out] [--count N] [--flag] [--json]\n"
			 "  a test command\n"
			 "\n"
			 "Options:\n"
			 "  -n, --name NAME         a name\n"
			 "  -d, --direction in|out  a direction\n"
			 "      --count N           a number\n"
			 "      --flag              a flag\n"
			 "      --json              JSON\n"
			 "  -h, --help              this help\n",
			 "--help: the usage line and one line per option, from the table:\n%s", out);
	free(out);
}

Test(cli, opts_json_usage_error)
{
	char *out;

	xnsg_json = 1;
	cr_assert_eq(T_RUN("f"), 2, "missing -n is a usage error");
	out = captured_stdout();
	cr_expect_str_eq(out, "{\"error\": \"tcmd: missing -n NAME\"}\n",
			 "JSON mode: the usage error as {\"error\": ...} on stdout: %s", out);
	free(out);
}

Test(cli, opts_json_error_once)
{
	char *out;

	xnsg_json = 1;
	t_end = T_FAIL_TWICE;
	cr_assert_eq(T_RUN("f", "-n", "x"), 1, "the handler fails");
	out = captured_stdout();
	cr_expect_str_eq(out, "{\"error\": \"first error\"}\n",
			 "the first error, exactly once: %s", out);
	free(out);
}

Test(cli, opts_json_error_from_the_log)
{
	char *out;

	xnsg_json = 1;
	t_end = T_FAIL_NOTED;
	cr_assert_eq(T_RUN("f", "-n", "x"), 1, "the handler fails");
	out = captured_stdout();
	cr_expect_str_eq(out, "{\"error\": \"deep error\"}\n", "a noted error: %s", out);
	free(out);
}

Test(cli, opts_json_error_without_message)
{
	char *out;

	xnsg_json = 1;
	t_end = T_FAIL_SILENT;
	cr_assert_eq(T_RUN("f", "-n", "x"), 1, "the handler fails");
	out = captured_stdout();
	cr_expect_str_eq(out, "{\"error\": \"tcmd failed, the reason is on stderr\"}\n",
			 "a failure without a message still prints JSON: %s", out);
	free(out);
}

Test(cli, opts_json_result_then_failure)
{
	char *out;

	xnsg_json = 1;
	t_end = T_FAIL_AFTER_JSON;
	cr_assert_eq(T_RUN("f", "-n", "x"), 1, "the handler fails");
	out = captured_stdout();
	cr_expect_str_eq(out, "{\"partial\": true}\n",
			 "stdout holds one JSON document: no error after a result: %s", out);
	free(out);
}

Test(cli, opts_plain_mode_no_json)
{
	char *out;

	t_end = T_FAIL_TWICE;
	cr_assert_eq(T_RUN("f", "-n", "x"), 1, "the handler fails");
	out = captured_stdout();
	cr_expect_str_eq(out, "", "no JSON without --json: %s", out);
	free(out);
	out = captured_stderr();
	cr_expect_str_eq(out, "xnsg: first error\nxnsg: second error\n",
			 "each error once on stderr: %s", out);
	free(out);
}

Test(cli, json_unknown_command)
{
	char *out;

	xnsg_json = 1;
	cr_assert_eq(RUN("nosuch"), 2, "an unknown command is a usage error");
	out = captured_stdout();
	cr_expect_str_eq(out, "{\"error\": \"unknown command 'nosuch'; see 'xnsg help'\"}\n",
			 "JSON mode: {\"error\"} for an unknown command: %s", out);
	free(out);
}

/* A legacy command: its own argv parsing, its help from the table. */
static int legacy_argc;
static char **legacy_argv;

static int legacy_run(int argc, char **argv)
{
	legacy_argc = argc;
	legacy_argv = argv;
	return optind == 0 ? 0 : 1; /* getopt is reset for it */
}

static const struct cli_opt legacy_opts[] = {
	CLI_DOC_OPTION("all", .short_name = 'a', .help = "every one"),
	CLI_DOC_OPTION("max", .arg = "N", .help = "at most N"),
	CLI_END
};
static const struct cli_command legacy_command =
	CLI_LEGACY_COMMAND("old", legacy_run, "[-a] [--max N]", legacy_opts, "a legacy command");

Test(cli, opts_legacy_command)
{
	char *argv[] = { "old", "-a", "--max", "3", NULL };
	char *help_argv[] = { "old", "-a", "--help", NULL };
	char *out;

	cr_assert_eq(cli_run_command(&legacy_command, 4, argv), 0, "the handler runs, getopt reset");
	cr_expect(legacy_argc == 4 && legacy_argv == argv, "argc and argv are passed through");
	legacy_argc = 0;
	cr_assert_eq(cli_run_command(&legacy_command, 3, help_argv), 0, "--help exits 0");
	cr_expect_eq(legacy_argc, 0, "--help does not run a legacy handler");
	out = captured_stdout();
	cr_expect_str_eq(out,
			 "Usage: xnsg old [-a] [--max N]\n"
			 "  a legacy command\n"
			 "\n"
			 "Options:\n"
			 "  -a, --all    every one\n"
			 "      --max N  at most N\n"
			 "  -h, --help   this help\n",
			 "a legacy command's help from its table: %s", out);
	free(out);
	cr_expect_null(cli_check_command(&legacy_command), "the legacy table is well formed");
}

Test(cli, opts_tables_are_well_formed)
{
	static const struct cli_opt dup_short[] = {
		CLI_OPTION(struct t_args, name, STRING, "name", .short_name = 'n', .arg = "N",
			   .help = "a"),
		CLI_OPTION(struct t_args, file, STRING, "next", .short_name = 'n', .arg = "N",
			   .help = "b"),
		CLI_END
	};
	static const struct cli_opt no_help[] = {
		CLI_OPTION(struct t_args, flag, FLAG, "flag"),
		CLI_END
	};
	static const struct cli_opt help_letter[] = {
		CLI_OPTION(struct t_args, flag, FLAG, "host", .short_name = 'h', .help = "a"),
		CLI_END
	};
	const struct cli_command bad[] = {
		CLI_COMMAND("a", struct t_args, t_run, dup_short, "two -n"),
		CLI_COMMAND("b", struct t_args, t_run, no_help, "no help text"),
		CLI_COMMAND("c", struct t_args, t_run, help_letter, "-h taken"),
		CLI_COMMAND("d", struct t_args, t_run, legacy_opts, "a parsed command with doc options"),
	};

	for (size_t i = 0; i < ncommands; i++) {
		const char *why = cli_check_command(commands[i]);

		cr_expect_null(why, "'%s': %s", commands[i]->name, why);
	}
	cr_expect_null(cli_check_command(&t_command), "the test command's table");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not_null(cli_check_command(&bad[i]), "%s is found", bad[i].summary);
}

/* ---- the table printer (output.h) ----------------------------------- */

Test(cli, table_columns_and_notes)
{
	static const char *const head[] = { "A", "BB", "C" };
	struct cli_table *t = cli_table_new("  ", 3, head);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f, "open_memstream");
	cli_table_row(t, (char *[]){ xstrdup("long cell"), xstrdup("x"), xstrdup("last") });
	cli_table_note(t, xstrdup("    a note under the row"));
	cli_table_row(t, (char *[]){ xstrdup("y"), xstrdup("wide cell"), xstrdup("z") });
	cli_table_print(t, f);
	fclose(f);
	cr_expect_str_eq(buf,
			 "   A         BB        C\n"
			 "   long cell x         last\n"
			 "    a note under the row\n"
			 "   y         wide cell z\n",
			 "columns as wide as their widest cell, the last unpadded:\n%s", buf);
	free(buf);
}

/* ---- the binary's own dispatch (user/main.c) ------------------------- */

/* `xnsg ARGS`'s stdout and exit status, stderr dropped. */
static char *bin_out(const char *args, int *status)
{
	char *cmd = xasprintf("%s %s 2>/dev/null", test_xnsg_bin(), args), *s;
	FILE *f = popen(cmd, "r");
	size_t n = 0, cap = 1 << 16;

	cr_assert_not_null(f, "cannot run %s", cmd);
	s = xcalloc(1, cap);
	while (n < cap - 1 && !feof(f))
		n += fread(s + n, 1, cap - 1 - n, f);
	*status = pclose(f);
	free(cmd);
	return s;
}

/* `xnsg help --help` is the top-level help, as `xnsg help` and `xnsg
 * --help` are: not "unknown command '--help'". */
Test(cli_main, help_help_is_the_help)
{
	int st, st2;
	char *want = bin_out("--help", &st), *got = bin_out("help --help", &st2);

	cr_assert_eq(st, 0, "xnsg --help exits 0");
	cr_expect_eq(st2, 0, "xnsg help --help exits 0 (got %d)", st2);
	cr_expect_str_eq(got, want, "xnsg help --help prints the top-level help:\n%s", got);
	free(got);
	got = bin_out("help -h", &st2);
	cr_expect_eq(st2, 0, "xnsg help -h exits 0 (got %d)", st2);
	cr_expect_str_eq(got, want, "xnsg help -h prints it too");
	free(got);
	free(want);
}

/* ---- the flow-log options flowlog and run share (flowlog_cli.h) ------- */

struct fl_test_args {
	const char *file;
	struct flowlog_cli fl;
};

static const struct cli_opt fl_test_opts[] = {
	CLI_POSITIONAL(struct fl_test_args, file, "POLICY"),
	CLI_FLOWLOG_OPTIONS(struct fl_test_args, fl),
	CLI_END
};
static int fl_test_run(const void *args)
{
	(void)args;
	return 0;
}

static const struct cli_command fl_test_command =
	CLI_COMMAND("fltest", struct fl_test_args, fl_test_run, fl_test_opts, "flow-log options");

static struct flowlog_export_opts fl_parsed(const char *const *args, int *rc)
{
	struct fl_test_args a = { 0 };
	struct flowlog_export_opts o = { .what = "kept" };
	char *argv[16];
	int argc = 0;

	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	cr_assert_eq(cli_parse(&fl_test_command, argc, argv, &a), CLI_PARSED, "parses");
	*rc = flowlog_cli_check(&fl_test_command, &a.fl, false);
	flowlog_cli_to_opts(&a.fl, &o);
	return o;
}

#define FL(rc, ...) fl_parsed((const char *const[]){ "fltest", "p.json", __VA_ARGS__, NULL }, rc)

Test(cli, flowlog_options_map_to_the_exporter)
{
	const char *bad = cli_check_command(&fl_test_command);
	struct flowlog_export_opts o;
	int rc;

	cr_assert_null(bad, "the shared entries are well formed: %s", bad);
	o = FL(&rc, "--azure", "/d", "--azure-format", "nsg-v2", "--interval", "5");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(o.azure_dir, "/d");
	cr_expect_eq(o.azure_format, FLOWLOG_AZURE_NSG_V2, "nsg-v2 is the v2 format");
	cr_expect_not(o.azure_both);
	cr_expect_eq(o.interval_s, 5);
	cr_expect_str_eq(o.what, "kept", "fields it does not own are left alone");
	o = FL(&rc, "--azure", "/d", "--azure-format", "both");
	cr_expect(o.azure_both && o.azure_format == FLOWLOG_AZURE_VNET_V4, "both: v4 and v2");
	o = FL(&rc, "--jsonl", "-");
	cr_expect_eq(o.azure_format, FLOWLOG_AZURE_VNET_V4, "v4 by default");
	o = FL(&rc, "--jsonl", "-", "--ipfix-templates", "3");
	cr_expect_eq(rc, EXIT_USAGE, "--ipfix-templates needs --ipfix");
	o = FL(&rc, "--deny-rate", "3");
	cr_expect_eq(rc, EXIT_USAGE, "--deny-rate needs an output");
}
