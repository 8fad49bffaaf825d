// SPDX-License-Identifier: MIT
/*
 * Flow-log outputs (issue 11, docs/DESIGN.md §4): golden output of every format for
 * IPv4 and IPv6 and each state B/C/E/D; the Azure files' layout, hourly
 * rotation by UTC hour (injected clock) and validity as JSON after every
 * flush; IPFIX messages decoded back field by field by a small decoder
 * here (header, set IDs, template fields, data record values), sent over
 * a UDP socket on 127.0.0.1.  Every exporter's accounting adds up:
 * written = exported + failed + skipped after a flush.
 *
 * The exporter's pure parts: its table of known flows, deltas from the
 * exported position, the rule a record names.
 *
 * Expected strings come from the formats' definitions (Microsoft's
 * nsg-flow-logs-overview and vnet-flow-logs-overview samples, RFC 7011,
 * the JSON-lines key order in jsonl.h), not from running the code.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "azure.h"
#include "flowlog.h"
#include "ipfix.h"
#include "jsonl.h"
#include "record.h"
#include "strbuf.h"

/* ---- records ------------------------------------------------------------ */

#define MS 1000000ull
#define T0 (1796205600123ull * MS) /* 2026-12-02T10:00:00.123Z */
#define S0 (1796205598500ull * MS) /* 2026-12-02T09:59:58.500Z */

static const char *const state_names[] = { "B", "C", "E", "D" };

static void set_addr(struct xnsg_addr *a, int family, const char *s)
{
	a->family = (uint8_t)family;
	cr_assert_eq(inet_pton(family == XNSG_V6 ? AF_INET6 : AF_INET, s, a->bytes), 1,
		     "test address %s parses", s);
}

/*
 * One flow seen at each state: web-nsg's user rule AllowHttp lets
 * 198.51.100.7:40000 (2001:db8::7) reach 10.1.1.4:80 (2001:db8:1::4) over
 * TCP; C and E carry counts; the D record is 203.0.113.9:51000
 * (2001:db8::9) denied SSH by the default rule DenyAllInBound, three
 * packets aggregated, two records suppressed before it.
 */
static struct flowlog_record make_rec(int family, int state)
{
	struct flowlog_record r;
	bool v6 = family == XNSG_V6;
	static const uint8_t mac[6] = { 0x00, 0x22, 0x48, 0x71, 0xc2, 0x05 };

	memset(&r, 0, sizeof(r));
	r.time_ns = T0;
	r.start_ns = S0;
	r.ifindex = 2;
	r.proto = 6;
	r.dir = XNSG_IN;
	r.state = (uint8_t)state;
	memcpy(r.mac, mac, sizeof(mac));
	flowlog_set_name(r.ifname, sizeof(r.ifname), "eth0");
	flowlog_set_name(r.nsg, sizeof(r.nsg), "web-nsg");
	set_addr(&r.dst, family, v6 ? "2001:db8:1::4" : "10.1.1.4");
	if (state == FLOWLOG_DENY) {
		set_addr(&r.src, family, v6 ? "2001:db8::9" : "203.0.113.9");
		r.sport = 51000;
		r.dport = 22;
		r.decision = FLOWLOG_DENIED;
		flowlog_set_name(r.rule, sizeof(r.rule), "DenyAllInBound");
		r.default_rule = flowlog_is_default_rule(r.rule);
		r.pkts_s2d = 3;
		r.bytes_s2d = 180;
		r.suppressed = 2;
		return r;
	}
	set_addr(&r.src, family, v6 ? "2001:db8::7" : "198.51.100.7");
	r.sport = 40000;
	r.dport = 80;
	r.decision = FLOWLOG_ALLOW;
	flowlog_set_name(r.rule, sizeof(r.rule), "AllowHttp");
	if (state == FLOWLOG_CONT) {
		r.pkts_s2d = 10, r.bytes_s2d = 1500, r.pkts_d2s = 8, r.bytes_d2s = 6000;
	} else if (state == FLOWLOG_END) {
		r.pkts_s2d = 2, r.bytes_s2d = 120, r.pkts_d2s = 1, r.bytes_d2s = 60;
		r.end_reason = FLOWLOG_END_FIN;
	}
	return r;
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t fake_clock(void *ctx)
{
	return *(uint64_t *)ctx;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Each test of the file-writing suites gets a fresh directory, removed
 * by the fixture's fini, which Criterion runs after a failed test too. */
static char tmpdir_buf[] = "/tmp/xnsg-test-flowlog-XXXXXX";
static char *tmpdir;

static void tmpdir_init(void)
{
	strcpy(tmpdir_buf, "/tmp/xnsg-test-flowlog-XXXXXX");
	tmpdir = mkdtemp(tmpdir_buf);
	cr_assert_not_null(tmpdir, "cannot create a temporary directory: %s", strerror(errno));
}

static void tmpdir_fini(void)
{
	if (tmpdir)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir = NULL;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;

	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	cr_assert_geq(getdelim(&s, &n, '\0', f), 0, "cannot read %s", path);
	fclose(f);
	return s;
}

static void assert_accounting(const struct flowlog_exporter *e, const char *what)
{
	const struct flowlog_stats *s = flowlog_get_stats(e);

	cr_assert_eq(s->written, s->exported + s->failed + s->skipped,
		     "%s: written %lu = exported %lu + failed %lu + skipped %lu after a flush", what,
		     (unsigned long)s->written, (unsigned long)s->exported, (unsigned long)s->failed,
		     (unsigned long)s->skipped);
}

/* ---- the record model --------------------------------------------------- */

Test(flowlog_record, names)
{
	const char *defaults[] = { "AllowVnetInBound",  "AllowAzureLoadBalancerInBound",
				   "DenyAllInBound",    "AllowVnetOutBound",
				   "AllowInternetOutBound", "DenyAllOutBound" };
	char small[4];
	size_t i;

	for (i = 0; i < 4; i++)
		cr_assert_eq(flowlog_state_char((unsigned)i), state_names[i][0],
			     "state %zu is letter %s", i, state_names[i]);
	cr_assert_str_eq(flowlog_end_reason_name(FLOWLOG_END_POLICY_CUT), "policy-cut",
			 "policy-cut end reason name");
	cr_assert_str_eq(flowlog_end_reason_name(FLOWLOG_END_EVICTED), "evicted",
			 "evicted end reason name");
	for (i = 0; i < 6; i++)
		cr_assert(flowlog_is_default_rule(defaults[i]), "%s is a default rule", defaults[i]);
	cr_assert_not(flowlog_is_default_rule("denyallinbound"),
		      "default rule names are matched in Azure's exact case");
	cr_assert_not(flowlog_is_default_rule("AllowHttp"), "a user rule is not a default rule");
	flowlog_set_name(small, sizeof(small), "web-nsg");
	cr_assert_str_eq(small, "web", "a long name is cut to the field, terminated");
}

Test(flowlog_record, utc_time)
{
	struct strbuf b = STRBUF_INIT;

	sb_time(&b, T0, 3);
	sb_putc(&b, ' ');
	sb_time(&b, T0 + 456789, 7);
	sb_putc(&b, ' ');
	sb_time(&b, 951782400ull * 1000000000ull, 0); /* a leap day */
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p, "2026-12-02T10:00:00.123Z 2026-12-02T10:00:00.1234567Z 2000-02-29T00:00:00Z",
			 "RFC 3339 UTC with 3 and 7 fraction digits, and a leap day");
	sb_free(&b);
}

/* ---- JSON lines --------------------------------------------------------- */

TestSuite(flowlog_jsonl, .init = tmpdir_init, .fini = tmpdir_fini);

static const char *const jsonl_golden[2][4] = {
	{
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"AllowHttp\",\"default_rule\":false,\"direction\":\"in\",\"decision\":\"allow\",\"state\":\"B\",\"proto\":6,\"src\":\"198.51.100.7\",\"sport\":40000,\"dst\":\"10.1.1.4\",\"dport\":80,\"pkts_s2d\":0,\"bytes_s2d\":0,\"pkts_d2s\":0,\"bytes_d2s\":0,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":null,\"suppressed\":0}\n",
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"AllowHttp\",\"default_rule\":false,\"direction\":\"in\",\"decision\":\"allow\",\"state\":\"C\",\"proto\":6,\"src\":\"198.51.100.7\",\"sport\":40000,\"dst\":\"10.1.1.4\",\"dport\":80,\"pkts_s2d\":10,\"bytes_s2d\":1500,\"pkts_d2s\":8,\"bytes_d2s\":6000,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":null,\"suppressed\":0}\n",
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"AllowHttp\",\"default_rule\":false,\"direction\":\"in\",\"decision\":\"allow\",\"state\":\"E\",\"proto\":6,\"src\":\"198.51.100.7\",\"sport\":40000,\"dst\":\"10.1.1.4\",\"dport\":80,\"pkts_s2d\":2,\"bytes_s2d\":120,\"pkts_d2s\":1,\"bytes_d2s\":60,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":\"fin\",\"suppressed\":0}\n",
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"DenyAllInBound\",\"default_rule\":true,\"direction\":\"in\",\"decision\":\"deny\",\"state\":\"D\",\"proto\":6,\"src\":\"203.0.113.9\",\"sport\":51000,\"dst\":\"10.1.1.4\",\"dport\":22,\"pkts_s2d\":3,\"bytes_s2d\":180,\"pkts_d2s\":0,\"bytes_d2s\":0,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":null,\"suppressed\":2}\n",
	},
	{
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"AllowHttp\",\"default_rule\":false,\"direction\":\"in\",\"decision\":\"allow\",\"state\":\"B\",\"proto\":6,\"src\":\"2001:db8::7\",\"sport\":40000,\"dst\":\"2001:db8:1::4\",\"dport\":80,\"pkts_s2d\":0,\"bytes_s2d\":0,\"pkts_d2s\":0,\"bytes_d2s\":0,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":null,\"suppressed\":0}\n",
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"AllowHttp\",\"default_rule\":false,\"direction\":\"in\",\"decision\":\"allow\",\"state\":\"C\",\"proto\":6,\"src\":\"2001:db8::7\",\"sport\":40000,\"dst\":\"2001:db8:1::4\",\"dport\":80,\"pkts_s2d\":10,\"bytes_s2d\":1500,\"pkts_d2s\":8,\"bytes_d2s\":6000,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":null,\"suppressed\":0}\n",
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"AllowHttp\",\"default_rule\":false,\"direction\":\"in\",\"decision\":\"allow\",\"state\":\"E\",\"proto\":6,\"src\":\"2001:db8::7\",\"sport\":40000,\"dst\":\"2001:db8:1::4\",\"dport\":80,\"pkts_s2d\":2,\"bytes_s2d\":120,\"pkts_d2s\":1,\"bytes_d2s\":60,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":\"fin\",\"suppressed\":0}\n",
	"{\"time\":\"2026-12-02T10:00:00.123Z\",\"interface\":\"eth0\",\"ifindex\":2,\"mac\":\"00:22:48:71:c2:05\",\"nsg\":\"web-nsg\",\"rule\":\"DenyAllInBound\",\"default_rule\":true,\"direction\":\"in\",\"decision\":\"deny\",\"state\":\"D\",\"proto\":6,\"src\":\"2001:db8::9\",\"sport\":51000,\"dst\":\"2001:db8:1::4\",\"dport\":22,\"pkts_s2d\":3,\"bytes_s2d\":180,\"pkts_d2s\":0,\"bytes_d2s\":0,\"start\":\"2026-12-02T09:59:58.500Z\",\"end_reason\":null,\"suppressed\":2}\n",
	},
};

Test(flowlog_jsonl, golden_lines)
{
	int f, s;

	for (f = 0; f < 2; f++) {
		for (s = 0; s < 4; s++) {
			struct flowlog_record r = make_rec(f ? XNSG_V6 : XNSG_V4, s);
			struct strbuf b = STRBUF_INIT;
			json_error_t jerr;
			json_t *j;

			cr_assert_eq(flowlog_jsonl_format(&b, &r), 0, "format succeeds");
			sb_putc(&b, '\0');
			cr_assert_str_eq(b.p, jsonl_golden[f][s], "JSON line, IPv%d state %s",
					 f ? 6 : 4, state_names[s]);
			j = json_loads(b.p, 0, &jerr);
			cr_assert_not_null(j, "IPv%d %s line is JSON: %s", f ? 6 : 4, state_names[s],
					   jerr.text);
			cr_assert_eq(json_object_size(j), 22, "22 keys in every line");
			json_decref(j);
			sb_free(&b);
		}
	}
}

Test(flowlog_jsonl, escapes_names)
{
	struct flowlog_record r = make_rec(XNSG_V4, FLOWLOG_BEGIN);
	struct strbuf b = STRBUF_INIT;
	json_t *j;

	flowlog_set_name(r.rule, sizeof(r.rule), "Allow \"quoted\"\\\t");
	r.nsg[0] = '\0';
	flowlog_jsonl_format(&b, &r);
	sb_putc(&b, '\0');
	cr_assert(strstr(b.p, "\"nsg\":null,\"rule\":\"Allow \\\"quoted\\\"\\\\\\u0009\""),
		  "an empty NSG is null, quotes/backslashes/controls escaped: %s", b.p);
	j = json_loads(b.p, 0, NULL);
	cr_assert_not_null(j, "the escaped line parses");
	cr_assert_str_eq(json_string_value(json_object_get(j, "rule")), "Allow \"quoted\"\\\t",
			 "the rule name survives a JSON round trip");
	json_decref(j);
	sb_free(&b);
}

Test(flowlog_jsonl, exporter_file_reopen_and_accounting)
{
	char *dir = tmpdir;
	char path[512], rotated[512];
	struct flowlog_jsonl_opts o = { .path = path };
	struct flowlog_exporter *e;
	struct flowlog_record r = make_rec(XNSG_V4, FLOWLOG_BEGIN);
	char *text;

	snprintf(path, sizeof(path), "%s/flows.jsonl", dir);
	snprintf(rotated, sizeof(rotated), "%s/flows.jsonl.1", dir);
	e = flowlog_jsonl_open(&o);
	cr_assert_not_null(e, "the JSON-lines exporter opens %s: %s", path, strerror(errno));
	cr_assert_str_eq(flowlog_exporter_name(e), "jsonl", "exporter name");
	cr_assert_eq(flowlog_write(e, &r), 0, "write 1");
	cr_assert_eq(flowlog_write(e, &r), 0, "write 2");
	cr_assert_eq(flowlog_get_stats(e)->exported, 0, "nothing is exported before the flush");
	cr_assert_eq(flowlog_flush(e), 0, "flush");
	cr_assert_eq(flowlog_get_stats(e)->exported, 2, "two records exported after the flush");
	/* logrotate: rename, then SIGHUP -> reopen; new lines go to a new file */
	cr_assert_eq(rename(path, rotated), 0, "rotate the file");
	cr_assert_eq(flowlog_write(e, &r), 0, "write 3, buffered before the reopen");
	cr_assert_eq(flowlog_reopen(e), 0, "reopen");
	cr_assert_eq(flowlog_write(e, &r), 0, "write 4, after the reopen");
	cr_assert_eq(flowlog_close(e), 0, "close flushes");
	text = read_file(rotated);
	cr_assert_eq(strlen(text), 3 * strlen(jsonl_golden[0][0]),
		     "the rotated file has the 2 lines before and the 1 buffered at the reopen");
	free(text);
	text = read_file(path);
	cr_assert_str_eq(text, jsonl_golden[0][0], "the reopened file has the line after");
	free(text);
}

Test(flowlog_jsonl, write_errors_are_counted)
{
	struct flowlog_jsonl_opts o = { .path = "/dev/full" };
	struct flowlog_exporter *e = flowlog_jsonl_open(&o);
	struct flowlog_record r = make_rec(XNSG_V6, FLOWLOG_END);
	const struct flowlog_stats *s;
	int i;

	cr_assert_not_null(e, "/dev/full opens for writing");
	for (i = 0; i < 5; i++)
		flowlog_write(e, &r);
	cr_assert_eq(flowlog_flush(e), -ENOSPC, "the flush reports ENOSPC");
	s = flowlog_get_stats(e);
	cr_assert_eq(s->failed, 5, "all five buffered records are counted lost (%lu)",
		     (unsigned long)s->failed);
	cr_assert_eq(s->exported, 0, "none is counted exported");
	cr_assert_eq(s->last_err, -ENOSPC, "the last error is kept");
	assert_accounting(e, "jsonl to /dev/full");
	flowlog_close(e);
}

Test(flowlog_jsonl, bad_paths)
{
	struct flowlog_jsonl_opts o = { .path = "/nonexistent-dir/x/flows.jsonl" };

	cr_assert_null(flowlog_jsonl_open(&o), "a file in a missing directory does not open");
	cr_assert_eq(errno, ENOENT, "and says ENOENT (%d)", errno);
	o.path = "";
	cr_assert_null(flowlog_jsonl_open(&o), "an empty path is refused");
	cr_assert_eq(errno, EINVAL, "with EINVAL");
}

/* ---- Azure flow logs ---------------------------------------------------- */

TestSuite(flowlog_azure, .init = tmpdir_init, .fini = tmpdir_fini);

/* [format][family][state]; formats: 0 VNet v4, 1 NSG v2. */
static const char *const tuple_golden[2][2][4] = {
	{ {
		"1796205600123,198.51.100.7,10.1.1.4,40000,80,6,I,B,NX,0,0,0,0",
		"1796205600123,198.51.100.7,10.1.1.4,40000,80,6,I,C,NX,10,1500,8,6000",
		"1796205600123,198.51.100.7,10.1.1.4,40000,80,6,I,E,NX,2,120,1,60",
		"1796205600123,203.0.113.9,10.1.1.4,51000,22,6,I,D,NX,3,180,0,0",
	}, {
		"1796205600123,2001:db8::7,2001:db8:1::4,40000,80,6,I,B,NX,0,0,0,0",
		"1796205600123,2001:db8::7,2001:db8:1::4,40000,80,6,I,C,NX,10,1500,8,6000",
		"1796205600123,2001:db8::7,2001:db8:1::4,40000,80,6,I,E,NX,2,120,1,60",
		"1796205600123,2001:db8::9,2001:db8:1::4,51000,22,6,I,D,NX,3,180,0,0",
	} },
	{ {
		"1796205600,198.51.100.7,10.1.1.4,40000,80,T,I,A,B,,,,",
		"1796205600,198.51.100.7,10.1.1.4,40000,80,T,I,A,C,10,1500,8,6000",
		"1796205600,198.51.100.7,10.1.1.4,40000,80,T,I,A,E,2,120,1,60",
		"1796205600,203.0.113.9,10.1.1.4,51000,22,T,I,D,B,,,,",
	}, {
		"1796205600,2001:db8::7,2001:db8:1::4,40000,80,T,I,A,B,,,,",
		"1796205600,2001:db8::7,2001:db8:1::4,40000,80,T,I,A,C,10,1500,8,6000",
		"1796205600,2001:db8::7,2001:db8:1::4,40000,80,T,I,A,E,2,120,1,60",
		"1796205600,2001:db8::9,2001:db8:1::4,51000,22,T,I,D,B,,,,",
	} },
};

Test(flowlog_azure, golden_tuples)
{
	int fmt, f, s;

	for (fmt = 0; fmt < 2; fmt++) {
		for (f = 0; f < 2; f++) {
			for (s = 0; s < 4; s++) {
				struct flowlog_record r = make_rec(f ? XNSG_V6 : XNSG_V4, s);
				struct strbuf b = STRBUF_INIT;

				cr_assert_eq(flowlog_azure_tuple(&b, fmt ? FLOWLOG_AZURE_NSG_V2
									 : FLOWLOG_AZURE_VNET_V4, &r),
					     0, "tuple formats");
				sb_putc(&b, '\0');
				cr_assert_str_eq(b.p, tuple_golden[fmt][f][s], "%s tuple, IPv%d state %s",
						 fmt ? "NSG v2" : "VNet v4", f ? 6 : 4, state_names[s]);
				sb_free(&b);
			}
		}
	}
}

Test(flowlog_azure, direction_udp_and_protocols)
{
	struct flowlog_record r = make_rec(XNSG_V4, FLOWLOG_CONT);
	struct strbuf b = STRBUF_INIT;

	r.proto = 17;
	r.dir = XNSG_OUT;
	flowlog_azure_tuple(&b, FLOWLOG_AZURE_NSG_V2, &r);
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p, "1796205600,198.51.100.7,10.1.1.4,40000,80,U,O,A,C,10,1500,8,6000",
			 "v2: UDP is U, Outbound is O");
	sb_reset(&b);
	r.proto = 1;
	r.sport = r.dport = 0;
	cr_assert_eq(flowlog_azure_tuple(&b, FLOWLOG_AZURE_NSG_V2, &r), -EPROTONOSUPPORT,
		     "v2 has no letter for ICMP");
	cr_assert_eq(b.len, 0, "nothing is written for a tuple v2 cannot carry");
	cr_assert_eq(flowlog_azure_accepts(FLOWLOG_AZURE_NSG_V2, &r), -EPROTONOSUPPORT,
		     "v2 does not accept ICMP");
	cr_assert_eq(flowlog_azure_accepts(FLOWLOG_AZURE_VNET_V4, &r), 0, "v4 accepts ICMP");
	flowlog_azure_tuple(&b, FLOWLOG_AZURE_VNET_V4, &r);
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p, "1796205600123,198.51.100.7,10.1.1.4,0,0,1,O,C,NX,10,1500,8,6000",
			 "v4 writes the protocol number");
	r.nsg[0] = '\0';
	cr_assert_eq(flowlog_azure_accepts(FLOWLOG_AZURE_VNET_V4, &r), -ENOENT,
		     "a record no NSG decided is not an Azure flow log record");
	sb_free(&b);
}

Test(flowlog_azure, rule_names_and_formats)
{
	struct flowlog_record u = make_rec(XNSG_V4, FLOWLOG_BEGIN), d = make_rec(XNSG_V4, FLOWLOG_DENY);
	enum flowlog_azure_format f;
	struct strbuf b = STRBUF_INIT;

	flowlog_azure_rule(&b, &u);
	sb_putc(&b, ' ');
	flowlog_azure_rule(&b, &d);
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p, "UserRule_AllowHttp DefaultRule_DenyAllInBound",
			 "Azure's rule prefixes");
	cr_assert_eq(flowlog_azure_parse_format("nsg-v2", &f), 0, "nsg-v2 parses");
	cr_assert_eq(f, FLOWLOG_AZURE_NSG_V2, "nsg-v2 is NSG flow logs v2");
	cr_assert_eq(flowlog_azure_parse_format("vnet-v4", &f), 0, "vnet-v4 parses");
	cr_assert_eq(f, FLOWLOG_AZURE_VNET_V4, "vnet-v4 is VNet flow logs");
	cr_assert_eq(flowlog_azure_parse_format("v3", &f), -EINVAL, "v3 is not a format");
	sb_free(&b);
}

Test(flowlog_azure, blob_paths)
{
	struct flowlog_record r = make_rec(XNSG_V4, FLOWLOG_BEGIN);
	struct flowlog_azure_opts o = { .dir = "/x" };
	struct strbuf b = STRBUF_INIT;

	flowlog_azure_blob_path(&b, &o, &r, T0);
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p,
			 "flowLogResourceID=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/"
			 "RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/"
			 "NETWORKWATCHER_LOCAL/FLOWLOGS/XNSG/y=2026/m=12/d=02/h=10/m=00/"
			 "macAddress=00224871C205/PT1H.json",
			 "VNet flow log blob path, default identity");
	sb_reset(&b);
	o.format = FLOWLOG_AZURE_NSG_V2;
	o.id.subscription = "1a2b3c4d-0000-0000-0000-00000000abcd";
	o.id.resource_group = "web-rg";
	flowlog_set_name(r.nsg, sizeof(r.nsg), "../web/nsg");
	flowlog_azure_blob_path(&b, &o, &r, T0);
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p,
			 "resourceId=/SUBSCRIPTIONS/1A2B3C4D-0000-0000-0000-00000000ABCD/"
			 "RESOURCEGROUPS/WEB-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/"
			 ".._WEB_NSG/y=2026/m=12/d=02/h=10/m=00/macAddress=00224871C205/PT1H.json",
			 "NSG flow log blob path: upper case, '/' in a name cannot leave the directory");
	sb_free(&b);
}

#define T_FLUSH (1796205660ull * 1000000000ull) /* 2026-12-02T10:01:00Z */

static const char record_v4_golden[] =
	"{\"time\":\"2026-12-02T10:01:00.0000000Z\",\"flowLogVersion\":4,"
	"\"flowLogGUID\":\"00000000-0000-0000-0000-000000000000\",\"macAddress\":\"00224871C205\","
	"\"category\":\"FlowLogFlowEvent\",\"flowLogResourceID\":\"/SUBSCRIPTIONS/"
	"00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/"
	"MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_LOCAL/FLOWLOGS/XNSG\","
	"\"targetResourceID\":\"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
	"xnsg/providers/Microsoft.Network/virtualNetworks/xnsg\",\"operationName\":\"FlowLogFlowEvent\","
	"\"flowRecords\":{\"flows\":[{\"aclID\":\"web-nsg\",\"flowGroups\":["
	"{\"rule\":\"UserRule_AllowHttp\",\"flowTuples\":["
	"\"1796205600123,198.51.100.7,10.1.1.4,40000,80,6,I,B,NX,0,0,0,0\","
	"\"1796205600123,198.51.100.7,10.1.1.4,40000,80,6,I,C,NX,10,1500,8,6000\","
	"\"1796205600123,198.51.100.7,10.1.1.4,40000,80,6,I,E,NX,2,120,1,60\"]},"
	"{\"rule\":\"DefaultRule_DenyAllInBound\",\"flowTuples\":["
	"\"1796205600123,203.0.113.9,10.1.1.4,51000,22,6,I,D,NX,3,180,0,0\"]}]}]}}";

static const char record_v2_golden[] =
	"{\"time\":\"2026-12-02T10:01:00.0000000Z\","
	"\"systemId\":\"00000000-0000-0000-0000-000000000000\",\"macAddress\":\"00224871C205\","
	"\"category\":\"NetworkSecurityGroupFlowEvent\",\"resourceId\":\"/SUBSCRIPTIONS/"
	"00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/XNSG/PROVIDERS/MICROSOFT.NETWORK/"
	"NETWORKSECURITYGROUPS/WEB-NSG\",\"operationName\":\"NetworkSecurityGroupFlowEvents\","
	"\"properties\":{\"Version\":2,\"flows\":["
	"{\"rule\":\"UserRule_AllowHttp\",\"flows\":[{\"mac\":\"00224871C205\",\"flowTuples\":["
	"\"1796205600,2001:db8::7,2001:db8:1::4,40000,80,T,I,A,B,,,,\","
	"\"1796205600,2001:db8::7,2001:db8:1::4,40000,80,T,I,A,C,10,1500,8,6000\","
	"\"1796205600,2001:db8::7,2001:db8:1::4,40000,80,T,I,A,E,2,120,1,60\"]}]},"
	"{\"rule\":\"DefaultRule_DenyAllInBound\",\"flows\":[{\"mac\":\"00224871C205\",\"flowTuples\":["
	"\"1796205600,2001:db8::9,2001:db8:1::4,51000,22,T,I,D,B,,,,\"]}]}]}}";

static void golden_record(enum flowlog_azure_format fmt, int family, const char *golden)
{
	struct flowlog_record r[4];
	const struct flowlog_record *p[4];
	struct flowlog_azure_opts o = { .dir = "/x", .format = fmt };
	struct strbuf b = STRBUF_INIT;
	json_t *j;
	int s;

	for (s = 0; s < 4; s++) {
		r[s] = make_rec(family, s);
		p[s] = &r[s];
	}
	cr_assert_eq(flowlog_azure_record(&b, &o, T_FLUSH, p, 4), 0, "the record formats");
	sb_putc(&b, '\0');
	cr_assert_str_eq(b.p, golden, "%s record", fmt ? "NSG v2" : "VNet v4");
	j = json_loads(b.p, 0, NULL);
	cr_assert_not_null(j, "the record is JSON");
	json_decref(j);
	sb_free(&b);
}

Test(flowlog_azure, golden_record_v4_ipv4)
{
	golden_record(FLOWLOG_AZURE_VNET_V4, XNSG_V4, record_v4_golden);
}

Test(flowlog_azure, golden_record_v2_ipv6)
{
	golden_record(FLOWLOG_AZURE_NSG_V2, XNSG_V6, record_v2_golden);
}

/* Parse the blob at dir/rel as JSON; its records array's size. */
static size_t blob_records(const char *dir, const char *rel, json_t **out)
{
	char path[1024], tmp[1100];
	json_error_t jerr;
	json_t *doc, *recs;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_neq(access(tmp, F_OK), 0, "no temporary file is left beside %s", rel);
	doc = json_load_file(path, 0, &jerr);
	cr_assert_not_null(doc, "%s is valid JSON: %s (line %d)", rel, jerr.text, jerr.line);
	recs = json_object_get(doc, "records");
	cr_assert(json_is_array(recs), "%s has a records array", rel);
	n = json_array_size(recs);
	if (out)
		*out = doc;
	else
		json_decref(doc);
	return n;
}

static const char *blob_v4(int hour)
{
	static char p[512];

	snprintf(p, sizeof(p),
		 "flowLogResourceID=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/"
		 "RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/"
		 "NETWORKWATCHER_LOCAL/FLOWLOGS/XNSG/y=2026/m=12/d=02/h=%02d/m=00/"
		 "macAddress=00224871C205/PT1H.json", hour);
	return p;
}

Test(flowlog_azure, hourly_rotation_and_valid_after_every_flush)
{
	char *dir = tmpdir;
	uint64_t now = T0 + 30 * 1000000000ull; /* 10:00:30 */
	struct flowlog_azure_opts o = { .dir = dir, .clock = { fake_clock, &now } };
	struct flowlog_exporter *e = flowlog_azure_open(&o);
	struct flowlog_record b = make_rec(XNSG_V4, FLOWLOG_BEGIN), c = make_rec(XNSG_V4, FLOWLOG_CONT);
	struct flowlog_record end = make_rec(XNSG_V4, FLOWLOG_END), d = make_rec(XNSG_V6, FLOWLOG_DENY);
	json_t *doc;
	size_t n;

	cr_assert_not_null(e, "the Azure exporter opens on %s: %s", dir, strerror(errno));
	cr_assert_eq(flowlog_flush(e), 0, "a flush with nothing buffered is a no-op");
	flowlog_write(e, &b);
	cr_assert_eq(flowlog_flush(e), 0, "flush at 10:00:30");
	n = blob_records(dir, blob_v4(10), NULL);
	cr_assert_eq(n, 1, "10:00 file: one record after one flush");
	now = 1796209199ull * 1000000000ull; /* 10:59:59 */
	flowlog_write(e, &c);
	cr_assert_eq(flowlog_flush(e), 0, "flush at 10:59:59");
	n = blob_records(dir, blob_v4(10), NULL);
	cr_assert_eq(n, 2, "10:00 file: a record appended per flush");
	now = 1796209201ull * 1000000000ull; /* 11:00:01 */
	flowlog_write(e, &end);
	flowlog_write(e, &d);
	cr_assert_eq(flowlog_flush(e), 0, "flush at 11:00:01");
	n = blob_records(dir, blob_v4(10), NULL);
	cr_assert_eq(n, 2, "the 10:00 file is left as it was");
	n = blob_records(dir, blob_v4(11), &doc);
	cr_assert_eq(n, 1, "a flush in a new hour starts a new file");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc, "records"), 0),
							   "time")),
			 "2026-12-02T11:00:01.0000000Z", "the record is stamped with the flush time");
	json_decref(doc);
	cr_assert_eq(flowlog_get_stats(e)->exported, 4, "four records exported");
	assert_accounting(e, "azure v4");
	flowlog_close(e);
}

Test(flowlog_azure, nsg_v2_blobs_per_nsg_and_skips)
{
	char *dir = tmpdir;
	uint64_t now = T_FLUSH;
	struct flowlog_azure_opts o = { .dir = dir, .format = FLOWLOG_AZURE_NSG_V2,
					.clock = { fake_clock, &now } };
	struct flowlog_exporter *e = flowlog_azure_open(&o);
	struct flowlog_record web = make_rec(XNSG_V4, FLOWLOG_BEGIN), app = make_rec(XNSG_V4, FLOWLOG_END);
	struct flowlog_record icmp = make_rec(XNSG_V4, FLOWLOG_CONT);
	const char *tail = "/y=2026/m=12/d=02/h=10/m=00/macAddress=00224871C205/PT1H.json";
	char rel[512];
	json_t *doc, *flows;
	size_t n;

	cr_assert_not_null(e, "the NSG v2 exporter opens: %s", strerror(errno));
	flowlog_set_name(app.nsg, sizeof(app.nsg), "app-nsg");
	icmp.proto = 1;
	flowlog_write(e, &web);
	flowlog_write(e, &app);
	flowlog_write(e, &icmp);
	cr_assert_eq(flowlog_flush(e), 0, "flush");
	snprintf(rel, sizeof(rel), "resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/"
		 "RESOURCEGROUPS/XNSG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG%s", tail);
	n = blob_records(dir, rel, &doc);
	cr_assert_eq(n, 1, "web-nsg has its own blob");
	flows = json_object_get(json_object_get(json_array_get(json_object_get(doc, "records"), 0),
						"properties"), "flows");
	cr_assert_eq(json_array_size(flows), 1, "web-nsg's record has one rule group");
	json_decref(doc);
	snprintf(rel, sizeof(rel), "resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/"
		 "RESOURCEGROUPS/XNSG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/APP-NSG%s", tail);
	n = blob_records(dir, rel, NULL);
	cr_assert_eq(n, 1, "app-nsg has its own blob");
	cr_assert_eq(flowlog_get_stats(e)->skipped, 1, "the ICMP record is skipped, and counted");
	cr_assert_eq(flowlog_get_stats(e)->exported, 2, "two records exported");
	assert_accounting(e, "azure v2");
	flowlog_close(e);
}

Test(flowlog_azure, foreign_file_is_kept_aside)
{
	char *dir = tmpdir;
	char path[1024], aside[1100];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/a/PT1H.json", dir);
	snprintf(aside, sizeof(aside), "%s.invalid", path);
	cr_assert_eq(flowlog_azure_append(path, "{\"n\":1}", 7), 0, "append to a new file");
	cr_assert_eq(flowlog_azure_append(path, "{\"n\":2}", 7), 0, "append to our file");
	n = blob_records(dir, "a/PT1H.json", NULL);
	cr_assert_eq(n, 2, "two records in the document (%zu)", n);
	f = fopen(path, "w");
	cr_assert_not_null(f, "overwrite the file");
	fputs("{\"records\":[{\"n\":1}", f); /* cut short: not a document we wrote */
	fclose(f);
	cr_assert_eq(flowlog_azure_append(path, "{\"n\":3}", 7), 0, "append after a foreign edit");
	cr_assert_eq(access(aside, F_OK), 0, "the foreign file is kept as PT1H.json.invalid");
	n = blob_records(dir, "a/PT1H.json", NULL);
	cr_assert_eq(n, 1, "a fresh document holds the record");
}

Test(flowlog_azure, unwritable_dir_fails_at_open)
{
	struct flowlog_azure_opts o = { .dir = "/dev/null/flowlogs" };

	cr_assert_null(flowlog_azure_open(&o), "a directory under a file cannot be created");
	cr_assert_eq(errno, ENOTDIR, "and says ENOTDIR (%d)", errno);
}

/* ---- IPFIX: a small decoder (RFC 7011 §3) ------------------------------ */

struct ipx_field {
	uint16_t ie, len;
	uint32_t pen;
};

struct ipx_tpl {
	uint16_t id;
	int n;
	struct ipx_field f[32];
};

struct ipx_rec {
	const struct ipx_tpl *tpl;
	const uint8_t *val[32];
	uint16_t len[32];
};

/* One message; templates persist in the session across messages (UDP). */
struct ipx_msg {
	uint16_t version, length;
	uint32_t export_s, seq, odid;
	int nsets, ntpl_here, nrec;
	uint16_t set_id[32];
	struct ipx_rec rec[256];
};

struct ipx_session {
	int ntpl;
	struct ipx_tpl tpl[8];
};

static uint32_t be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static uint64_t be64(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static void ipx_template_set(struct ipx_session *s, struct ipx_msg *m, const uint8_t *p,
			     const uint8_t *end)
{
	while (p + 4 <= end) {
		struct ipx_tpl *t = &s->tpl[s->ntpl++];
		int i;

		cr_assert_leq(s->ntpl, 8, "too many templates");
		t->id = (uint16_t)be(p, 2);
		t->n = (int)be(p + 2, 2);
		cr_assert_leq(t->n, 32, "template %u: too many fields", t->id);
		p += 4;
		for (i = 0; i < t->n; i++) {
			uint16_t ie = (uint16_t)be(p, 2);

			cr_assert_leq(p + 4, end, "template %u field %d inside its set", t->id, i);
			t->f[i].ie = ie & 0x7fff;
			t->f[i].len = (uint16_t)be(p + 2, 2);
			t->f[i].pen = ie & 0x8000 ? be(p + 4, 4) : 0;
			p += ie & 0x8000 ? 8 : 4;
		}
		m->ntpl_here++;
	}
	cr_assert_eq(p, end, "the template set has no trailing bytes");
}

static const struct ipx_tpl *ipx_find(const struct ipx_session *s, uint16_t id)
{
	int i;

	for (i = s->ntpl - 1; i >= 0; i--)
		if (s->tpl[i].id == id)
			return &s->tpl[i];
	return NULL;
}

static void ipx_data_set(const struct ipx_tpl *t, struct ipx_msg *m, const uint8_t *p,
			 const uint8_t *end)
{
	while (p < end) {
		struct ipx_rec *r = &m->rec[m->nrec++];
		int i;

		r->tpl = t;
		for (i = 0; i < t->n; i++) {
			size_t len = t->f[i].len;

			if (len == IPFIX_VARLEN) { /* RFC 7011 §7 */
				len = *p++;
				if (len == 255) {
					len = be(p, 2);
					p += 2;
				}
			}
			cr_assert_leq(p + len, end, "field %d of a record in set %u fits", i, t->id);
			r->val[i] = p;
			r->len[i] = (uint16_t)len;
			p += len;
		}
	}
}

static void ipx_decode(struct ipx_session *s, const uint8_t *buf, size_t n, struct ipx_msg *m)
{
	const uint8_t *p = buf + 16, *end = buf + n;

	memset(m, 0, sizeof(*m));
	cr_assert_geq(n, 16, "a message has a 16-byte header");
	m->version = (uint16_t)be(buf, 2);
	m->length = (uint16_t)be(buf + 2, 2);
	m->export_s = be(buf + 4, 4);
	m->seq = be(buf + 8, 4);
	m->odid = be(buf + 12, 4);
	cr_assert_eq(m->length, n, "the header's length %u is the datagram's %zu", m->length, n);
	while (p < end) {
		uint16_t id = (uint16_t)be(p, 2), len = (uint16_t)be(p + 2, 2);

		cr_assert_geq(len, 4, "set length at least its header");
		cr_assert_leq(p + len, end, "set %u inside the message", id);
		m->set_id[m->nsets++] = id;
		if (id == FLOWLOG_IPFIX_SET_TEMPLATE) {
			ipx_template_set(s, m, p + 4, p + len);
		} else {
			const struct ipx_tpl *t = ipx_find(s, id);

			cr_assert_geq(id, 256, "set %u is a data set", id);
			cr_assert_not_null(t, "data set %u has a template", id);
			ipx_data_set(t, m, p + 4, p + len);
		}
		p += len;
	}
}

static int ipx_index(const struct ipx_rec *r, uint16_t ie, uint32_t pen)
{
	int i;

	for (i = 0; i < r->tpl->n; i++)
		if (r->tpl->f[i].ie == ie && r->tpl->f[i].pen == pen)
			return i;
	cr_assert_fail("template %u has no element %u (enterprise %u)", r->tpl->id, ie, pen);
	return -1;
}

static uint64_t ipx_u(const struct ipx_rec *r, uint16_t ie, uint32_t pen)
{
	int i = ipx_index(r, ie, pen);

	return be64(r->val[i], r->len[i]);
}

static void ipx_str(const struct ipx_rec *r, uint16_t ie, uint32_t pen, char *out, size_t cap)
{
	int i = ipx_index(r, ie, pen);

	cr_assert_lt(r->len[i], cap, "string fits");
	memcpy(out, r->val[i], r->len[i]);
	out[r->len[i]] = '\0';
}

/* ---- IPFIX: templates and records -------------------------------------- */

static const struct ipx_field tpl_golden[2][17] = {
	{ { 8, 4, 0 }, { 12, 4, 0 }, { 7, 2, 0 }, { 11, 2, 0 }, { 4, 1, 0 }, { 2, 8, 0 }, { 1, 8, 0 },
	  { 2, 8, 29305 }, { 1, 8, 29305 }, { 152, 8, 0 }, { 153, 8, 0 }, { 136, 1, 0 },
	  { 10, 4, 0 }, { 61, 1, 0 }, { 89, 1, 0 }, { 233, 1, 0 }, { 1, 0xffff, 32473 } },
	{ { 27, 16, 0 }, { 28, 16, 0 }, { 7, 2, 0 }, { 11, 2, 0 }, { 4, 1, 0 }, { 2, 8, 0 },
	  { 1, 8, 0 }, { 2, 8, 29305 }, { 1, 8, 29305 }, { 152, 8, 0 }, { 153, 8, 0 },
	  { 136, 1, 0 }, { 10, 4, 0 }, { 61, 1, 0 }, { 89, 1, 0 }, { 233, 1, 0 },
	  { 1, 0xffff, 32473 } },
};

static void check_templates(const struct ipx_session *s)
{
	int v, i;

	for (v = 0; v < 2; v++) {
		const struct ipx_tpl *t = ipx_find(s, (uint16_t)(256 + v));

		cr_assert_not_null(t, "template %d is defined", 256 + v);
		cr_assert_eq(t->n, 17, "template %u has 17 fields (%d)", t->id, t->n);
		for (i = 0; i < 17; i++) {
			cr_assert_eq(t->f[i].ie, tpl_golden[v][i].ie, "template %u field %d: IE %u",
				     t->id, i, tpl_golden[v][i].ie);
			cr_assert_eq(t->f[i].len, tpl_golden[v][i].len, "template %u field %d: length %u",
				     t->id, i, tpl_golden[v][i].len);
			cr_assert_eq(t->f[i].pen, tpl_golden[v][i].pen,
				     "template %u field %d: enterprise %u", t->id, i, tpl_golden[v][i].pen);
		}
	}
}

/* Every field of a decoded record against the record it came from. */
static void check_record(const struct ipx_rec *d, const struct flowlog_record *r)
{
	bool v6 = r->src.family == XNSG_V6;
	int alen = v6 ? 16 : 4, s = r->state;
	static const uint8_t end_reason[4] = { 2, 2, 3, 4 }, fw_event[4] = { 1, 5, 2, 3 };
	char rule[200], want[200];

	cr_assert_eq(d->tpl->id, v6 ? 257 : 256, "state %s: template by family", state_names[s]);
	cr_assert_eq(d->len[0], alen, "source address length");
	cr_assert_eq(memcmp(d->val[0], r->src.bytes, (size_t)alen), 0, "%s: source address", state_names[s]);
	cr_assert_eq(memcmp(d->val[1], r->dst.bytes, (size_t)alen), 0, "%s: destination address",
		     state_names[s]);
	cr_assert_eq(ipx_u(d, 7, 0), r->sport, "%s: sourceTransportPort", state_names[s]);
	cr_assert_eq(ipx_u(d, 11, 0), r->dport, "%s: destinationTransportPort", state_names[s]);
	cr_assert_eq(ipx_u(d, 4, 0), 6, "%s: protocolIdentifier", state_names[s]);
	cr_assert_eq(ipx_u(d, 2, 0), r->pkts_s2d, "%s: packetDeltaCount", state_names[s]);
	cr_assert_eq(ipx_u(d, 1, 0), r->bytes_s2d, "%s: octetDeltaCount", state_names[s]);
	cr_assert_eq(ipx_u(d, 2, 29305), r->pkts_d2s, "%s: reverse packetDeltaCount", state_names[s]);
	cr_assert_eq(ipx_u(d, 1, 29305), r->bytes_d2s, "%s: reverse octetDeltaCount", state_names[s]);
	cr_assert_eq(ipx_u(d, 152, 0), 1796205598500ull, "%s: flowStartMilliseconds", state_names[s]);
	cr_assert_eq(ipx_u(d, 153, 0), 1796205600123ull, "%s: flowEndMilliseconds", state_names[s]);
	cr_assert_eq(ipx_u(d, 136, 0), end_reason[s], "%s: flowEndReason", state_names[s]);
	cr_assert_eq(ipx_u(d, 10, 0), 2, "%s: ingressInterface", state_names[s]);
	cr_assert_eq(ipx_u(d, 61, 0), 0, "%s: flowDirection ingress for Inbound", state_names[s]);
	cr_assert_eq(ipx_u(d, 89, 0), s == FLOWLOG_DENY ? 129 : 64,
		     "%s: forwardingStatus (64 forwarded, 129 ACL deny)", state_names[s]);
	cr_assert_eq(ipx_u(d, 233, 0), fw_event[s], "%s: firewallEvent", state_names[s]);
	ipx_str(d, 1, 32473, rule, sizeof(rule));
	snprintf(want, sizeof(want), "%s/%s", r->nsg, r->rule);
	cr_assert_str_eq(rule, want, "%s: the rule string element", state_names[s]);
}

Test(flowlog_ipfix, message_decoded_field_by_field)
{
	uint8_t buf[1500];
	struct flowlog_ipfix_msg m;
	struct flowlog_record r[8];
	struct ipx_session sess = { 0 };
	struct ipx_msg d;
	size_t len;
	int i;

	flowlog_ipfix_msg_init(&m, buf, sizeof(buf));
	cr_assert_eq(flowlog_ipfix_msg_add_templates(&m, 0), 0, "templates fit");
	for (i = 0; i < 8; i++) {
		r[i] = make_rec(i < 4 ? XNSG_V4 : XNSG_V6, i % 4);
		cr_assert_eq(flowlog_ipfix_msg_add_record(&m, &r[i]), 0, "record %d fits", i);
	}
	len = flowlog_ipfix_msg_finish(&m, 1796205600, 7, 42);
	ipx_decode(&sess, buf, len, &d);
	cr_assert_eq(d.version, 10, "IPFIX version 10");
	cr_assert_eq(d.export_s, 1796205600, "export time");
	cr_assert_eq(d.seq, 7, "sequence number as given");
	cr_assert_eq(d.odid, 42, "observation domain");
	cr_assert_eq(d.nsets, 3, "three sets: templates, IPv4 data, IPv6 data");
	cr_assert_eq(d.set_id[0], 2, "set 0 is the template set");
	cr_assert_eq(d.set_id[1], 256, "set 1 is IPv4 data");
	cr_assert_eq(d.set_id[2], 257, "set 2 is IPv6 data");
	cr_assert_eq(d.ntpl_here, 2, "two templates");
	check_templates(&sess);
	cr_assert_eq(d.nrec, 8, "eight data records");
	for (i = 0; i < 8; i++)
		check_record(&d.rec[i], &r[i]);
}

Test(flowlog_ipfix, sets_follow_the_family_and_room)
{
	uint8_t buf[512];
	struct flowlog_ipfix_msg m;
	struct flowlog_record v4 = make_rec(XNSG_V4, FLOWLOG_CONT), v6 = make_rec(XNSG_V6, FLOWLOG_CONT);
	struct ipx_session sess = { 0 };
	struct ipx_msg d;
	size_t len, before;
	int n = 0;

	flowlog_ipfix_msg_init(&m, buf, sizeof(buf));
	flowlog_ipfix_msg_add_templates(&m, 0);
	flowlog_ipfix_msg_add_record(&m, &v4);
	flowlog_ipfix_msg_add_record(&m, &v6);
	flowlog_ipfix_msg_add_record(&m, &v4);
	len = flowlog_ipfix_msg_finish(&m, 1, 0, 1);
	ipx_decode(&sess, buf, len, &d);
	cr_assert_eq(d.nsets, 4, "v4, v6, v4 records make three data sets after the templates");
	cr_assert_eq(d.set_id[3], 256, "the last set is IPv4 again");
	/* fill a 512-byte message: the record that does not fit is refused
	 * and leaves the message as it was */
	flowlog_ipfix_msg_init(&m, buf, sizeof(buf));
	while (before = m.len, !flowlog_ipfix_msg_add_record(&m, &v6))
		n++;
	cr_assert_eq(m.len, before, "a refused record changes nothing");
	cr_assert_eq(m.records, (uint32_t)n, "the message counts the records it holds");
	len = flowlog_ipfix_msg_finish(&m, 1, 0, 1);
	cr_assert_leq(len, 512, "the message fits its buffer");
	ipx_decode(&sess, buf, len, &d);
	cr_assert_eq(d.nrec, n, "every record that fit decodes (%d)", n);
}

Test(flowlog_ipfix, parse_target)
{
	char h[64], p[16];

	cr_assert_eq(flowlog_ipfix_parse_target("127.0.0.1:4739", h, sizeof(h), p, sizeof(p)), 0,
		     "HOST:PORT parses");
	cr_assert_str_eq(h, "127.0.0.1", "host");
	cr_assert_str_eq(p, "4739", "port");
	cr_assert_eq(flowlog_ipfix_parse_target("[2001:db8::1]:9995", h, sizeof(h), p, sizeof(p)), 0,
		     "[V6]:PORT parses");
	cr_assert_str_eq(h, "2001:db8::1", "IPv6 host without brackets");
	cr_assert_eq(flowlog_ipfix_parse_target("2001:db8::1:9995", h, sizeof(h), p, sizeof(p)),
		     -EINVAL, "a bare IPv6 address is ambiguous");
	cr_assert_eq(flowlog_ipfix_parse_target("collector", h, sizeof(h), p, sizeof(p)), -EINVAL,
		     "a port is required");
	cr_assert_eq(flowlog_ipfix_parse_target(":9995", h, sizeof(h), p, sizeof(p)), -EINVAL,
		     "a host is required");
}

/* ---- IPFIX over UDP on 127.0.0.1 --------------------------------------- */

static int udp_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 2 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0, "UDP socket: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind 127.0.0.1:0");
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0, "getsockname");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*port = ntohs(a.sin_port);
	return fd;
}

static size_t recv_msg(int fd, uint8_t *buf, size_t cap, const char *what)
{
	ssize_t n = recv(fd, buf, cap, 0);

	cr_assert_gt(n, 0, "%s: a datagram arrives (%s)", what, n < 0 ? strerror(errno) : "empty");
	return (size_t)n;
}

static struct flowlog_exporter *open_ipfix(int port, uint64_t *now, size_t max_message)
{
	char target[64];
	struct flowlog_ipfix_opts o = { .target = target, .max_message = max_message,
					.clock = { fake_clock, now } };
	struct flowlog_exporter *e;

	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	e = flowlog_ipfix_open(&o);
	cr_assert_not_null(e, "the IPFIX exporter opens to %s: %s", target, strerror(errno));
	return e;
}

Test(flowlog_ipfix, udp_export_sequence_and_template_refresh)
{
	uint64_t now = T0;
	int port, fd = udp_listener(&port);
	struct flowlog_exporter *e = open_ipfix(port, &now, 0);
	struct flowlog_record b = make_rec(XNSG_V4, FLOWLOG_BEGIN), dn = make_rec(XNSG_V6, FLOWLOG_DENY);
	struct flowlog_record end = make_rec(XNSG_V4, FLOWLOG_END), c = make_rec(XNSG_V6, FLOWLOG_CONT);
	struct ipx_session sess = { 0 };
	struct ipx_msg d;
	uint8_t buf[65536];

	ipx_decode(&sess, buf, recv_msg(fd, buf, sizeof(buf), "at open"), &d);
	cr_assert_eq(d.nsets, 1, "the first message carries only the templates");
	cr_assert_eq(d.set_id[0], 2, "the template set");
	cr_assert_eq(d.seq, 0, "sequence starts at 0");
	cr_assert_eq(d.odid, 1, "default observation domain 1");
	cr_assert_eq(d.export_s, T0 / 1000000000ull, "export time from the injected clock");
	check_templates(&sess);
	flowlog_write(e, &b);
	flowlog_write(e, &dn);
	cr_assert_eq(flowlog_flush(e), 0, "flush sends");
	ipx_decode(&sess, buf, recv_msg(fd, buf, sizeof(buf), "first data"), &d);
	cr_assert_eq(d.ntpl_here, 0, "templates are not repeated before the refresh interval");
	cr_assert_eq(d.nrec, 2, "two records");
	cr_assert_eq(d.seq, 0, "no data record was sent before");
	check_record(&d.rec[0], &b);
	check_record(&d.rec[1], &dn);
	now += 10 * 1000000000ull;
	flowlog_write(e, &end);
	flowlog_flush(e);
	ipx_decode(&sess, buf, recv_msg(fd, buf, sizeof(buf), "second data"), &d);
	cr_assert_eq(d.seq, 2, "sequence counts the two data records sent before");
	check_record(&d.rec[0], &end);
	now += 60 * 1000000000ull; /* past the 60 s refresh */
	cr_assert_eq(flowlog_flush(e), 0, "an idle flush past the interval");
	ipx_decode(&sess, buf, recv_msg(fd, buf, sizeof(buf), "refresh"), &d);
	cr_assert_eq(d.ntpl_here, 2, "RFC 7011 §8.4: templates re-sent even without data");
	cr_assert_eq(d.nrec, 0, "the refresh carries no data");
	cr_assert_eq(d.seq, 3, "templates do not advance the sequence");
	flowlog_write(e, &c);
	flowlog_flush(e);
	ipx_decode(&sess, buf, recv_msg(fd, buf, sizeof(buf), "after refresh"), &d);
	cr_assert_eq(d.ntpl_here, 0, "the refresh resets the interval");
	cr_assert_eq(d.seq, 3, "sequence 3");
	check_record(&d.rec[0], &c);
	cr_assert_eq(flowlog_get_stats(e)->exported, 4, "four records exported");
	assert_accounting(e, "ipfix");
	flowlog_close(e);
	close(fd);
}

Test(flowlog_ipfix, udp_messages_split_at_max_message)
{
	uint64_t now = T0;
	int port, fd = udp_listener(&port), i, got = 0;
	struct flowlog_exporter *e = open_ipfix(port, &now, 512);
	struct flowlog_record r = make_rec(XNSG_V6, FLOWLOG_CONT);
	struct ipx_session sess = { 0 };
	struct ipx_msg d;
	uint8_t buf[65536];
	size_t n;

	ipx_decode(&sess, buf, recv_msg(fd, buf, sizeof(buf), "templates"), &d);
	for (i = 0; i < 20; i++)
		flowlog_write(e, &r);
	flowlog_flush(e);
	while (got < 20) {
		n = recv_msg(fd, buf, sizeof(buf), "split data");
		cr_assert_leq(n, 512, "no message exceeds max_message (%zu)", n);
		ipx_decode(&sess, buf, n, &d);
		cr_assert_eq(d.seq, (uint32_t)got, "each message's sequence is the records before it");
		got += d.nrec;
	}
	cr_assert_eq(got, 20, "all twenty records arrive");
	assert_accounting(e, "ipfix split");
	flowlog_close(e);
	close(fd);
}

Test(flowlog_ipfix, send_failures_are_counted)
{
	uint64_t now = T0;
	int port, fd = udp_listener(&port), i;
	struct flowlog_exporter *e;
	struct flowlog_record r = make_rec(XNSG_V4, FLOWLOG_END);

	close(fd); /* nobody listens: the kernel answers port unreachable */
	e = open_ipfix(port, &now, 0);
	for (i = 0; i < 5; i++) {
		flowlog_write(e, &r);
		flowlog_flush(e);
		usleep(10000);
	}
	cr_assert_gt(flowlog_get_stats(e)->failed, 0, "refused sends are counted as failed records");
	cr_assert_eq(flowlog_get_stats(e)->last_err, -ECONNREFUSED, "the error is ECONNREFUSED");
	assert_accounting(e, "ipfix refused");
	flowlog_close(e);
}

Test(flowlog_ipfix, bad_targets)
{
	struct flowlog_ipfix_opts o = { .target = "no-port" };

	cr_assert_null(flowlog_ipfix_open(&o), "a target without a port is refused");
	cr_assert_eq(errno, EINVAL, "with EINVAL");
	o.target = "127.0.0.1:9995";
	o.max_message = 100;
	cr_assert_null(flowlog_ipfix_open(&o), "max_message below 512 is refused");
}

/* A name that does not resolve says so (gai_strerror), not "No route to
 * host" as its errno alone would. */
Test(flowlog_ipfix, unresolvable_name_says_why)
{
	char why[128] = "";
	struct flowlog_ipfix_opts o = { .target = "no-such-host.invalid:4739", .why = why,
					.why_len = sizeof(why) };

	cr_assert_null(flowlog_ipfix_open(&o), "an unresolvable name is refused");
	cr_assert_eq(errno, EHOSTUNREACH, "with EHOSTUNREACH");
	cr_assert_neq(why[0], '\0', "and a reason");
	cr_assert_str_neq(why, strerror(EHOSTUNREACH), "from the resolver: %s", why);
}

/* ---- the exporter's pure parts (export_int.h) -------------------------- */

#include "export_int.h"

static struct xnsg_ct_key known_key(uint32_t i)
{
	struct xnsg_ct_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.proto = 17;
	memcpy(k.addr_a, &i, sizeof(i));
	k.port_a = (uint16_t)(i * 7);
	k.port_b = 53;
	k.ifindex = 2;
	return k;
}

/* The table of known flows: what is put in is found, what is deleted is
 * not, whatever the order, across growth and backward-shift deletion. */
Test(flowlog_known, insert_find_delete_in_any_order)
{
	enum { N = 5000 };
	struct fl_table t;
	struct xnsg_ct_key k;

	fl_table_init(&t);
	for (uint32_t i = 0; i < N; i++) {
		k = known_key(i);
		cr_assert_null(fl_table_find(&t, &k), "flow %u not there before", i);
		fl_table_get(&t, &k)->created_ns = i;
	}
	cr_assert_eq(t.n, (size_t)N, "%d flows in the table (got %zu)", N, t.n);
	for (uint32_t i = 0; i < N; i += 3) { /* every third, in insertion order */
		k = known_key(i);
		fl_table_del(&t, fl_table_find(&t, &k));
	}
	for (uint32_t i = N; i-- > 0;) { /* then every one left of each even pair, backwards */
		struct fl_known *e;

		k = known_key(i);
		e = fl_table_find(&t, &k);
		if (i % 3 == 0) {
			cr_assert_null(e, "flow %u deleted", i);
			continue;
		}
		cr_assert_not_null(e, "flow %u still found after the deletions around it", i);
		cr_assert_eq(e->created_ns, (uint64_t)i, "flow %u keeps its data", i);
		if (i % 2 == 0)
			fl_table_del(&t, e);
	}
	for (uint32_t i = 0; i < N; i++) {
		k = known_key(i);
		cr_assert_eq(fl_table_find(&t, &k) != NULL, i % 3 != 0 && i % 2 != 0,
			     "flow %u: found exactly when neither deletion took it", i);
	}
	fl_table_free(&t);
}

/* Deltas from the exported position: packets kept as their low 32 bits
 * in the entry, so a count crossing 2^32 still gives the right delta. */
Test(flowlog_known, delta_across_32_bit_wrap)
{
	struct xnsg_ct_val v = { 0 };
	struct xnsg_fl_pos p = { 0 };
	uint64_t d[4];

	v.packets[0] = (uint32_t)((1ull << 32) + 5);
	p.packets[0] = 0xfffffffbu; /* 2^32 - 5 exported */
	v.bytes[0] = 10000;
	p.bytes[0] = 4000;
	v.packets[1] = 7;
	p.packets[1] = 7;
	v.bytes[1] = 900;
	p.bytes[1] = 900;
	fl_delta(&v, &p, d);
	cr_expect_eq(d[0], 10ull, "10 packets since the exported position (got %llu)",
		     (unsigned long long)d[0]);
	cr_expect_eq(d[1], 6000ull, "6000 bytes since it");
	cr_expect(d[2] == 0 && d[3] == 0, "nothing new the other way");
}

/* Which rule a record names: an allowed flow the last level with an NSG,
 * a denied tuple the rule that denied it; defaults spelled as Azure does. */
Test(flowlog_known, records_name_the_deciding_rule)
{
	struct fl_rule rules[3] = {
		{ "subnet-nsg", "AllowWeb", false },
		{ "nic-nsg", "AllowVnetInBound", true },
		{ "nic-nsg", "DenyTelnet", false },
	};
	struct fl_names n = { 0 };
	struct xnsg_ct_key k = known_key(1);
	struct xnsg_ct_val v = { 0 };
	struct xnsg_deny_key dk = { 0 };
	struct xnsg_deny_val dv = { 0 };
	static const uint64_t d[4] = { 3, 300, 2, 200 };
	struct flowlog_record r;
	struct fl_flow f;

	n.rules[0] = rules;
	n.nrules[0] = 3;
	n.read = true;
	v.slot[0] = 0;
	v.slot[1] = 1;
	v.init_a = 1;
	fl_flow_of(&f, &k, &v, 0);
	fl_record_flow(&n, &r, &f, d, FLOWLOG_CONT, 0);
	cr_expect_str_eq(r.nsg, "nic-nsg", "an allowed flow: the last level's NSG");
	cr_expect_str_eq(r.rule, "AllowVnetInBound", "and its rule");
	cr_expect(r.default_rule, "a default rule");
	cr_expect(r.pkts_s2d == 3 && r.bytes_d2s == 200, "the deltas as given");
	cr_expect_eq(r.sport, k.port_a, "side a initiated: its port is the source");
	v.slot[1] = XNSG_CT_NO_SLOT; /* no NSG at the second level */
	fl_flow_of(&f, &k, &v, 0);
	fl_record_flow(&n, &r, &f, d, FLOWLOG_BEGIN, 0);
	cr_expect_str_eq(r.nsg, "subnet-nsg", "the only level with an NSG");
	cr_expect_eq(r.pkts_s2d, 0ull, "a B carries no counts");
	dk.family = 4;
	dk.proto = 6;
	dk.dport = 23;
	dv.slot = 2;
	dv.packets = 9;
	fl_record_deny(&n, &r, &dk, &dv);
	cr_expect_str_eq(r.rule, "DenyTelnet", "a denied tuple: the denying rule");
	cr_expect(r.state == FLOWLOG_DENY && r.decision == FLOWLOG_DENIED && r.pkts_s2d == 9,
		  "a D with its packets");
	free(n.ifaces); /* the interfaces it looked up (the rules are this test's) */
}

/* An output's failures are told as they happen: the first at once with
 * its reason, then a count no more than once a minute, never a line when
 * nothing more failed. */
Test(flowlog_fail_log, first_at_once_then_rate_limited)
{
	const uint64_t s1 = 1000000000ull, t0 = 5 * s1;
	struct flowlog_stats st = { 0 };
	struct fl_fail_log f = { 0 };
	char line[256];

	cr_assert_not(fl_fail_line(&f, &st, t0, "jsonl", "/dev/full", line, sizeof(line)),
		      "nothing failed: no line");
	st.failed = 3;
	st.last_err = -ENOSPC;
	cr_assert(fl_fail_line(&f, &st, t0, "jsonl", "/dev/full", line, sizeof(line)));
	cr_assert_str_eq(line, "jsonl /dev/full: No space left on device");
	st.failed = 10;
	cr_assert_not(fl_fail_line(&f, &st, t0 + 59 * s1, "jsonl", "/dev/full", line,
				   sizeof(line)), "the next within a minute is held back");
	cr_assert(fl_fail_line(&f, &st, t0 + FLOWLOG_FAIL_LOG_S * s1, "jsonl", "/dev/full", line,
			       sizeof(line)));
	cr_assert_str_eq(line, "jsonl /dev/full: 7 more records failed: No space left on device");
	cr_assert_not(fl_fail_line(&f, &st, t0 + 600 * s1, "jsonl", "/dev/full", line,
				   sizeof(line)), "nothing more failed: no line");
}
