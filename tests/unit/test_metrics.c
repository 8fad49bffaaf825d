// SPDX-License-Identifier: MIT
/*
 * The metrics renderer (docs/DESIGN.md §13): Prometheus text format 0.0.4
 * from a snapshot, checked line by line against what the exposition
 * format requires (HELP and TYPE before a family's samples, every sample
 * of a family together, label values escaped), the --metrics address
 * forms, and the endpoint: served through the libmicrohttpd it opens at
 * start, and one error line when that library is missing.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"

static json_t *snapshot(void)
{
	json_error_t e;
	json_t *j = json_loads(
		"{\"version\": \"0.1.0\","
		" \"status\": {\"applied\": true, \"serial\": 7, \"policy\": \"/etc/xnsg/p.json\","
		"   \"hash\": \"00000000deadbeef\", \"interfaces\": ["
		"     {\"name\": \"eth0\", \"attach\": \"host\", \"ingress\": \"xdp-native\", \"state\": \"enforcing\"},"
		"     {\"name\": \"veth1\", \"attach\": \"peer\", \"ingress\": \"tc\", \"state\": \"hooks-missing\"}]},"
		" \"stats\": {\"rules\": ["
		"     {\"nsg\": \"web\", \"direction\": \"Inbound\", \"rule\": \"AllowWeb\", \"packets\": 12, \"bytes\": 720},"
		"     {\"nsg\": \"web\", \"direction\": \"Inbound\", \"rule\": \"Odd\\\"name\\\\\", \"packets\": 1, \"bytes\": 60},"
		"     {\"nsg\": \"web\", \"direction\": \"Inbound\", \"rule\": \"DenyAllInBound\", \"packets\": 3, \"bytes\": 180}],"
		"   \"drops\": {\"rule-deny\": {\"packets\": 3, \"bytes\": 180}, \"no-config\": {\"packets\": 0, \"bytes\": 0}},"
		"   \"flows\": {\"created\": 5, \"expired\": 1, \"cut_by_policy_change\": 2, \"live\": 2,"
		"              \"live_cut\": 0, \"max\": 1024, \"evicted\": 0, \"packets_by_state\": 40},"
		"   \"flowlog\": {\"logging\": true, \"records\": 9, \"events_lost\": 6,"
		"      \"deny_records_suppressed\": 2, \"flows_evicted_before_export\": 0,"
		"      \"outputs\": {\"jsonl\": {\"exported\": 8, \"failed\": 1},"
		"                   \"azure\": {\"exported\": 0, \"failed\": 0, \"skipped\": 3},"
		"                   \"ipfix\": {\"exported\": 9, \"failed\": 0, \"send_failures\": 4}}}},"
		" \"access\": {\"web/Inbound/AllowWeb\": \"Allow\", \"web/Inbound/DenyAllInBound\": \"Deny\"},"
		" \"daemon\": {\"reload_success\": false, \"reload_timestamp\": 1700000000.25,"
		"              \"reloads_ok\": 4, \"reloads_failed\": 1},"
		" \"end\": 0}",
		0, &e);

	cr_assert_not_null(j, "the test's snapshot parses: %s", e.text);
	return j;
}

static char *render(void)
{
	json_t *snap = snapshot();
	size_t len;
	char *text = metrics_render(snap, &len);

	json_decref(snap);
	cr_assert_eq(strlen(text), len, "the length returned is the text's");
	return text;
}

static void expect_line(const char *text, const char *line)
{
	char *want = NULL;

	cr_assert(asprintf(&want, "\n%s\n", line) > 0);
	cr_expect(strstr(text, want) != NULL, "line '%s' in:\n%s", line, text);
	free(want);
}

Test(metrics, samples_and_labels)
{
	char *t = render();

	expect_line(t, "xnsg_build_info{version=\"0.1.0\"} 1");
	expect_line(t, "xnsg_policy_generation 7");
	expect_line(t, "xnsg_policy_info{policy=\"/etc/xnsg/p.json\",hash=\"00000000deadbeef\"} 1");
	expect_line(t, "xnsg_last_reload_success 0");
	expect_line(t, "xnsg_last_reload_timestamp_seconds 1700000000.250");
	expect_line(t, "xnsg_reloads_total{result=\"success\"} 4");
	expect_line(t, "xnsg_reloads_total{result=\"failure\"} 1");
	expect_line(t, "xnsg_interface_enforcing{interface=\"eth0\",attach=\"host\",ingress=\"xdp-native\"} 1");
	expect_line(t, "xnsg_interface_enforcing{interface=\"veth1\",attach=\"peer\",ingress=\"tc\"} 0");
	expect_line(t, "xnsg_rule_packets_total{nsg=\"web\",direction=\"Inbound\",rule=\"AllowWeb\",access=\"Allow\"} 12");
	expect_line(t, "xnsg_rule_bytes_total{nsg=\"web\",direction=\"Inbound\",rule=\"AllowWeb\",access=\"Allow\"} 720");
	expect_line(t, "xnsg_rule_packets_total{nsg=\"web\",direction=\"Inbound\",rule=\"DenyAllInBound\",access=\"Deny\"} 3");
	expect_line(t, "xnsg_drops_total{reason=\"rule-deny\"} 3");
	expect_line(t, "xnsg_drop_bytes_total{reason=\"rule-deny\"} 180");
	expect_line(t, "xnsg_flows 2");
	expect_line(t, "xnsg_flows_max 1024");
	expect_line(t, "xnsg_flows_created_total 5");
	expect_line(t, "xnsg_flows_expired_total 1");
	expect_line(t, "xnsg_flows_evicted_total 0");
	expect_line(t, "xnsg_flows_cut_total 2");
	expect_line(t, "xnsg_flowlog_logging 1");
	expect_line(t, "xnsg_flowlog_records_total 9");
	expect_line(t, "xnsg_flowlog_records_exported_total{output=\"jsonl\"} 8");
	expect_line(t, "xnsg_flowlog_records_exported_total{output=\"ipfix\"} 9");
	expect_line(t, "xnsg_flowlog_records_lost_total{output=\"jsonl\"} 1");
	expect_line(t, "xnsg_flowlog_records_skipped_total{output=\"azure\"} 3");
	expect_line(t, "xnsg_flowlog_send_failures_total{output=\"ipfix\"} 4");
	expect_line(t, "xnsg_flowlog_events_lost_total 6");
	expect_line(t, "xnsg_flowlog_deny_records_suppressed_total 2");
	cr_expect_null(strstr(t, "xnsg_flowlog_records_skipped_total{output=\"jsonl\"}"),
		       "no skipped counter for an output that has none");
	free(t);
}

Test(metrics, label_values_are_escaped)
{
	char *t = render();

	/* Odd"name\ -> Odd\"name\\ ; a slot the policy does not name: unknown. */
	expect_line(t, "xnsg_rule_packets_total{nsg=\"web\",direction=\"Inbound\",rule=\"Odd\\\"name\\\\\",access=\"unknown\"} 1");
	free(t);
}

/* Every sample line's family was announced by HELP and TYPE just before
 * its first sample, and a family's samples are not interleaved. */
Test(metrics, families_are_contiguous)
{
	char *t = render(), *save = NULL, fam[128] = "", typed[128] = "";
	json_t *seen = json_object();

	for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (sscanf(l, "# TYPE %127s", typed) == 1)
			continue;
		if (l[0] == '#')
			continue;
		cr_assert_eq(sscanf(l, "%127[a-z_]", name), 1, "a sample line: %s", l);
		if (strcmp(name, fam)) {
			cr_expect_null(json_object_get(seen, name), "family %s is split", name);
			cr_expect_str_eq(name, typed, "%s comes right after its # TYPE", name);
			json_object_set_new(seen, name, json_true());
			snprintf(fam, sizeof(fam), "%s", name);
		}
	}
	cr_expect_gt(json_object_size(seen), 20, "families rendered: %zu", json_object_size(seen));
	json_decref(seen);
	free(t);
}

Test(metrics, counters_end_in_total)
{
	char *t = render(), *save = NULL;

	for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[128], type[32];

		if (sscanf(l, "# TYPE %127s %31s", name, type) == 2 && !strcmp(type, "counter"))
			cr_expect(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"),
				  "counter %s ends in _total", name);
	}
	free(t);
}

Test(metrics, nothing_applied)
{
	json_t *snap = json_pack("{s:s, s:{s:b, s:i}}", "version", "0.1.0", "status", "applied", 0,
				 "serial", 0);
	size_t len;
	char *t = metrics_render(snap, &len);

	expect_line(t, "xnsg_policy_applied 0");
	cr_expect_null(strstr(t, "xnsg_rule_packets_total"), "no rule counters without a policy");
	cr_expect_null(strstr(t, "xnsg_policy_info"), "no policy info without a policy");
	json_decref(snap);
	free(t);
}

Test(metrics, addresses)
{
	struct metrics_addr a;

	cr_assert_eq(metrics_parse_addr("9108", &a), 0);
	cr_expect_str_eq(a.host, "127.0.0.1", "PORT alone is loopback");
	cr_expect_eq(a.port, 9108);
	cr_expect(a.loopback);
	cr_assert_eq(metrics_parse_addr(":9108", &a), 0);
	cr_expect_str_eq(a.host, "127.0.0.1", ":PORT is loopback, not every address");
	cr_assert_eq(metrics_parse_addr("127.0.0.2:1", &a), 0);
	cr_expect(a.loopback, "127/8 is loopback");
	cr_assert_eq(metrics_parse_addr("[::1]:9108", &a), 0);
	cr_expect_str_eq(a.host, "::1");
	cr_expect(a.loopback);
	cr_assert_eq(metrics_parse_addr("0.0.0.0:9108", &a), 0, "any address, when asked for");
	cr_expect(!a.loopback);
	cr_assert_eq(metrics_parse_addr("[2001:db8::1]:80", &a), 0);
	cr_expect(!a.loopback);
	cr_expect_neq(metrics_parse_addr("localhost:9108", &a), 0, "names are refused");
	cr_expect_neq(metrics_parse_addr("::1:9108", &a), 0, "IPv6 with a port needs brackets");
	cr_expect_neq(metrics_parse_addr("127.0.0.1:65536", &a), 0, "port out of range");
	cr_expect_neq(metrics_parse_addr("127.0.0.1:", &a), 0, "port missing");
	cr_expect_neq(metrics_parse_addr("", &a), 0, "empty");
}

static char *collect(void *arg, size_t *len)
{
	(void)arg;
	*len = strlen("xnsg_policy_applied 1\n");
	return strdup("xnsg_policy_applied 1\n");
}

/* GET /metrics from an endpoint on an ephemeral loopback port, served by
 * metrics_run() from this thread (as the daemon's loop does). */
Test(metrics, endpoint_serves_a_scrape)
{
	struct metrics_server *m = metrics_start("127.0.0.1:0", collect, NULL);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *port;
	char resp[4096] = "";
	size_t got = 0;
	int c;

	cr_assert_not_null(m, "the endpoint starts: %s", strerror(errno));
	port = strrchr(metrics_bound(m), ':') + 1;
	sa.sin_port = htons((uint16_t)atoi(port));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect to %s",
		     metrics_bound(m));
	cr_assert(write(c, "GET /metrics HTTP/1.0\r\n\r\n", 26) == 26);
	for (int turn = 0; turn < 200; turn++) { /* 2 s at most */
		struct pollfd p[2] = { { .fd = metrics_fd(m), .events = POLLIN },
				       { .fd = c, .events = POLLIN } };
		ssize_t n;

		poll(p, 2, 10);
		metrics_run(m);
		if (!(p[1].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(c, resp + got, sizeof(resp) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(c);
	metrics_stop(m);
	cr_expect(!strncmp(resp, "HTTP/1.", 7) && strstr(resp, " 200 "), "200 OK:\n%s", resp);
	cr_expect(strstr(resp, "\r\n\r\nxnsg_policy_applied 1\n") != NULL, "the collected text:\n%s",
		  resp);
}

/* Without libmicrohttpd, --metrics fails before it binds, in one line
 * naming the library file, --metrics and the package to install. */
Test(metrics, missing_library_is_one_error_line, .init = cr_redirect_stderr)
{
	struct metrics_server *m;
	char err[1024] = "";
	size_t n;

	setenv("XNSG_TEST_DLOPEN_FAIL", "libmicrohttpd.so", 1);
	errno = 0;
	m = metrics_start("127.0.0.1:0", collect, NULL);
	cr_assert_null(m, "no endpoint without libmicrohttpd");
	cr_expect_eq(errno, ELIBACC, "errno says a library is missing: %s", strerror(errno));
	fflush(stderr);
	n = fread(err, 1, sizeof(err) - 1, cr_get_redirected_stderr());
	err[n] = '\0';
	cr_expect(!strncmp(err, "xnsg: --metrics needs libmicrohttpd.so.", 39) &&
			  strstr(err, " (Debian package libmicrohttpd") &&
			  strstr(err, "cannot open shared object file"),
		  "one line naming --metrics, the file and the package:\n%s", err);
	cr_expect(strchr(err, '\n') == err + n - 1, "exactly one line:\n%s", err);
}
