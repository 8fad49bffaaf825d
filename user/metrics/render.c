// SPDX-License-Identifier: MIT
/*
 * The Prometheus text exposition format, version 0.0.4: a "# HELP" and a
 * "# TYPE" line, then every sample of a family together; label values
 * escaped (backslash, double quote, newline).  Names follow Prometheus'
 * conventions: counters end in _total, sizes and times are in base units
 * (bytes, seconds).
 *
 * Per-rule counters carry no interface label: the datapath counts per
 * NSG rule (one counter slot per NSG/Direction/RULE, shared by every
 * interface and subnet that NSG is on, as Azure's rule counters are per
 * NSG), so a per-interface split would be invented (docs/DESIGN.md §13).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "metrics.h"
#include "xnsg/abi.h"

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

/* name{k1="v1",...}: the labels are NULL-terminated (key, value) pairs. */
static void sample_head(FILE *f, const char *name, va_list ap)
{
	const char *k, *v;
	int n = 0;

	fputs(name, f);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		fprintf(f, "%s%s=\"", n++ ? "," : "{", k);
		label_value(f, v ? v : "");
		fputc('"', f);
	}
	if (n)
		fputc('}', f);
}

static void sample_i(FILE *f, const char *name, long long value, ...)
{
	va_list ap;

	va_start(ap, value);
	sample_head(f, name, ap);
	va_end(ap);
	fprintf(f, " %lld\n", value);
}

static void sample_d(FILE *f, const char *name, double value, ...)
{
	va_list ap;

	va_start(ap, value);
	sample_head(f, name, ap);
	va_end(ap);
	fprintf(f, " %.3f\n", value);
}

static long long jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

static void render_policy(FILE *f, json_t *snap)
{
	json_t *st = json_object_get(snap, "status"), *d = json_object_get(snap, "daemon");
	bool applied = json_is_true(json_object_get(st, "applied"));

	family(f, "xnsg_build_info", "gauge", "Always 1; the version of xnsg serving the metrics.");
	sample_i(f, "xnsg_build_info", 1, "version", jstr(snap, "version"), NULL);
	family(f, "xnsg_policy_applied", "gauge",
	       "1 when the kernel enforces a policy xnsg recorded.");
	sample_i(f, "xnsg_policy_applied", applied, NULL);
	family(f, "xnsg_policy_generation", "gauge",
	       "Serial of the apply whose tables the kernel enforces "
	       "(one more per policy update).");
	sample_i(f, "xnsg_policy_generation", jint(st, "serial"), NULL);
	if (applied) {
		family(f, "xnsg_policy_info", "gauge",
		       "Always 1; the enforced policy file and its hash.");
		sample_i(f, "xnsg_policy_info", 1, "policy", jstr(st, "policy"), "hash",
			 jstr(st, "hash"), NULL);
	}
	if (!d)
		return;
	family(f, "xnsg_last_reload_success", "gauge",
	       "1 when the last load or reload of the policy succeeded, 0 when it failed.");
	sample_i(f, "xnsg_last_reload_success", json_is_true(json_object_get(d, "reload_success")),
		 NULL);
	family(f, "xnsg_last_reload_timestamp_seconds", "gauge",
	       "When the last load or reload was attempted, in seconds since the epoch.");
	sample_d(f, "xnsg_last_reload_timestamp_seconds",
		 json_number_value(json_object_get(d, "reload_timestamp")), NULL);
	family(f, "xnsg_reloads_total", "counter", "Policy loads and reloads by result.");
	sample_i(f, "xnsg_reloads_total", jint(d, "reloads_ok"), "result", "success", NULL);
	sample_i(f, "xnsg_reloads_total", jint(d, "reloads_failed"), "result", "failure", NULL);
}

static void render_interfaces(FILE *f, json_t *st)
{
	json_t *ifs = json_object_get(st, "interfaces"), *j;
	size_t i;

	if (!json_array_size(ifs))
		return;
	family(f, "xnsg_interface_enforcing", "gauge",
	       "1 when the interface has its hooks and an entry in the enforced tables.");
	json_array_foreach(ifs, i, j)
		sample_i(f, "xnsg_interface_enforcing", !strcmp(jstr(j, "state"), "enforcing"),
			 "interface", jstr(j, "name"), "attach", jstr(j, "attach"), "ingress",
			 jstr(j, "ingress"), NULL);
}

/* One family of per-rule counters: key is "packets" or "bytes". */
static void render_rule_family(FILE *f, json_t *rules, json_t *access, const char *name,
			       const char *key, const char *help)
{
	json_t *r;
	size_t i;

	family(f, name, "counter", help);
	json_array_foreach(rules, i, r) {
		char *id = xasprintf("%s/%s/%s", jstr(r, "nsg"), jstr(r, "direction"),
				     jstr(r, "rule"));
		const char *acc = json_string_value(json_object_get(access, id)) ?: "unknown";

		sample_i(f, name, jint(r, key), "nsg", jstr(r, "nsg"), "direction",
			 jstr(r, "direction"), "rule", jstr(r, "rule"), "access", acc, NULL);
		free(id);
	}
}

static void render_rules(FILE *f, json_t *stats, json_t *access)
{
	json_t *rules = json_object_get(stats, "rules");

	if (!json_array_size(rules))
		return;
	render_rule_family(f, rules, access, "xnsg_rule_packets_total", "packets",
			   "Packets decided by the rule (first packets of flows; per NSG rule, "
			   "shared by every interface the NSG is on).");
	render_rule_family(f, rules, access, "xnsg_rule_bytes_total", "bytes",
			   "Bytes (L3 length) of the packets decided by the rule.");
}

static void render_drops(FILE *f, json_t *stats)
{
	json_t *drops = json_object_get(stats, "drops"), *v;
	const char *reason;

	if (!json_object_size(drops))
		return;
	family(f, "xnsg_drops_total", "counter", "Packets dropped by the datapath, by reason.");
	json_object_foreach(drops, reason, v)
		sample_i(f, "xnsg_drops_total", jint(v, "packets"), "reason", reason, NULL);
	family(f, "xnsg_drop_bytes_total", "counter", "Bytes of the packets dropped, by reason.");
	json_object_foreach(drops, reason, v)
		sample_i(f, "xnsg_drop_bytes_total", jint(v, "bytes"), "reason", reason, NULL);
}

/* The flow table: xnsg stats' "flows" keys, as Prometheus names. */
static const struct {
	const char *key, *name, *type, *help;
} flow_metrics[] = {
	{ "live", "xnsg_flows", "gauge", "Tracked flows in the flow table now." },
	{ "live_cut", "xnsg_flows_denied", "gauge",
	  "Tracked flows cut by a policy change and not yet idle (their packets are dropped)." },
	{ "max", "xnsg_flows_max", "gauge",
	  "Size of the flow table (LRU: the least recently seen flow is evicted)." },
	{ "created", "xnsg_flows_created_total", "counter", "Flows created." },
	{ "expired", "xnsg_flows_expired_total", "counter",
	  "Flows removed after their idle timeout." },
	{ "evicted", "xnsg_flows_evicted_total", "counter",
	  "Flows evicted because the flow table was full." },
	{ "cut_by_policy_change", "xnsg_flows_cut_total", "counter",
	  "Flows cut because a policy update denies them." },
	{ "packets_by_state", "xnsg_flow_state_packets_total", "counter",
	  "Packets passed by flow state, without rule evaluation." },
	{ "icmp_errors_related", "xnsg_flow_icmp_errors_related_total", "counter",
	  "ICMP errors passed because they relate to a tracked flow." },
	{ "fragments_followed", "xnsg_fragments_followed_total", "counter",
	  "Non-first fragments that followed their first fragment's verdict." },
	{ "filter_on", "xnsg_flow_filter_on", "gauge",
	  "1 when the flow table's filter spares the lookup of packets of no flow." },
	{ "filter_bits_set", "xnsg_flow_filter_bits_set", "gauge",
	  "Bits set in the active half of the flow table's filter (of 8388608); "
	  "rebuilt by apply and by each flow-log sweep." },
};

_Static_assert((1u << XNSG_SEEN_BITS_LOG) == 8388608, "xnsg_flow_filter_bits_set's help");

static void render_flows(FILE *f, json_t *stats)
{
	json_t *flows = json_object_get(stats, "flows");

	if (!flows)
		return;
	for (size_t i = 0; i < sizeof(flow_metrics) / sizeof(flow_metrics[0]); i++) {
		json_t *v = json_object_get(flows, flow_metrics[i].key);

		if (!v)
			continue;
		family(f, flow_metrics[i].name, flow_metrics[i].type, flow_metrics[i].help);
		sample_i(f, flow_metrics[i].name, json_integer_value(v), NULL);
	}
}

/* One counter per output, from the outputs' key k. */
static void render_flowlog_family(FILE *f, json_t *outs, const char *name, const char *k,
				  const char *help)
{
	const char *out;
	json_t *o;

	family(f, name, "counter", help);
	json_object_foreach(outs, out, o)
		if (json_object_get(o, k))
			sample_i(f, name, jint(o, k), "output", out, NULL);
}

/* Flow-log accounting as `xnsg stats` has it: kept in the datapath by
 * every exporter run, so the counters survive the exporter's restarts. */
static const struct {
	const char *key, *name, *type, *help;
} flowlog_metrics[] = {
	{ "logging", "xnsg_flowlog_logging", "gauge",
	  "1 while an exporter has the datapath emit flow events." },
	{ "records", "xnsg_flowlog_records_total", "counter",
	  "Flow-log records made (each handed to every output)." },
	{ "events_lost", "xnsg_flowlog_events_lost_total", "counter",
	  "Flow events the ring buffer could not take (the sweep makes the records up)." },
	{ "deny_records_suppressed", "xnsg_flowlog_deny_records_suppressed_total", "counter",
	  "Denied packets whose 5-tuple got no record (over the deny rate)." },
	{ "flows_evicted_before_export", "xnsg_flowlog_flows_evicted_before_export_total",
	  "counter", "Flows evicted from the flow table between two sweeps." },
};

static void render_flowlog(FILE *f, json_t *fl)
{
	json_t *outs = json_object_get(fl, "outputs");

	if (!fl)
		return;
	for (size_t i = 0; i < sizeof(flowlog_metrics) / sizeof(flowlog_metrics[0]); i++) {
		json_t *v = json_object_get(fl, flowlog_metrics[i].key);

		if (!v)
			continue;
		family(f, flowlog_metrics[i].name, flowlog_metrics[i].type,
		       flowlog_metrics[i].help);
		sample_i(f, flowlog_metrics[i].name,
			 json_is_boolean(v) ? json_is_true(v) : json_integer_value(v), NULL);
	}
	if (!json_object_size(outs))
		return;
	render_flowlog_family(f, outs, "xnsg_flowlog_records_exported_total", "exported",
			      "Flow-log records the output wrote or sent.");
	render_flowlog_family(f, outs, "xnsg_flowlog_records_lost_total", "failed",
			      "Flow-log records lost to an output error.");
	render_flowlog_family(f, outs, "xnsg_flowlog_records_skipped_total", "skipped",
			      "Flow-log records the output's format cannot carry.");
	render_flowlog_family(f, outs, "xnsg_flowlog_send_failures_total", "send_failures",
			      "Datagrams the output could not send.");
}

char *metrics_render(json_t *snap, size_t *len)
{
	json_t *stats = json_object_get(snap, "stats");
	char *buf = NULL;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		oom();
	render_policy(f, snap);
	render_interfaces(f, json_object_get(snap, "status"));
	render_rules(f, stats, json_object_get(snap, "access"));
	render_drops(f, stats);
	render_flows(f, stats);
	render_flowlog(f, json_object_get(stats, "flowlog"));
	if (fclose(f))
		oom();
	return buf;
}
