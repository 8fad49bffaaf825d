// SPDX-License-Identifier: MIT
/*
 * What is enforced, read from the kernel first (docs/DESIGN.md §8): the
 * active generation and its apply serial from xnsg_active, the hooks
 * from each interface, and only then the record of that (generation,
 * serial) for names.  A record a crash left stale can name neither the
 * wrong policy nor hooks that are not there.
 */
#include <errno.h>
#include <jansson.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "apply.h"
#include "datapath.h"
#include "names.h"

static const char *ingress_of(const struct dp_hooks *h)
{
	return h->xdp_mode == XDP_FLAGS_DRV_MODE	? "xdp-native"
	       : h->xdp_mode == XDP_FLAGS_SKB_MODE ? "xdp-generic"
	       : h->tc_ingress			    ? "tc"
						    : "missing";
}

/* One interface as the kernel has it, with the record's attach mode. */
static json_t *iface_report(struct dp *dp, const struct xnsg_active *act, json_t *rec,
			    unsigned int ifindex, const char *name)
{
	struct dp_hooks h = { 0 };
	bool present = ifindex && if_indextoname(ifindex, (char[IF_NAMESIZE]){ 0 });
	bool entry, hooks;
	const char *state;

	if (present)
		dp_hooks_query(dp, ifindex, &h);
	entry = present && dp_iface_known(dp, act->gen, ifindex);
	hooks = (h.xdp_mode || h.tc_ingress) && h.tc_egress;
	state = !present			       ? "gone"
		: json_is_true(json_object_get(rec, "pending")) ? "apply-interrupted"
		: !hooks				       ? "hooks-missing"
		: !entry				       ? "no-entry"
							       : "enforcing";
	return json_pack("{s:s, s:I, s:b, s:s, s:s, s:s, s:s}", "name", name, "ifindex",
			 (json_int_t)ifindex, "present", present, "ingress",
			 present ? ingress_of(&h) : "missing", "egress",
			 h.tc_egress ? "tc" : "missing", "attach",
			 json_string_value(json_object_get(rec, "attach")) ?: "host", "state", state);
}

struct scan {
	struct dp *dp;
	const struct xnsg_active *act;
	json_t *st, *out;
};

static int add_unrecorded(unsigned int ifindex, const struct dp_hooks *h, void *arg)
{
	struct scan *s = arg;
	char name[IF_NAMESIZE];

	(void)h;
	if (if_indextoname(ifindex, name) && !state_iface(s->st, name))
		json_array_append_new(s->out, iface_report(s->dp, s->act, NULL, ifindex, name));
	return 0;
}

/* The record's interfaces, then any the kernel has our hooks on that the
 * record lost. */
static json_t *ifaces_report(struct dp *dp, const struct xnsg_active *act, json_t *st)
{
	struct scan s = { dp, act, st, json_array() };
	json_t *j;
	size_t i;

	json_array_foreach(json_object_get(st, "interfaces"), i, j) {
		const char *name = json_string_value(json_object_get(j, "name")) ?: "?";
		unsigned int idx = if_nametoindex(name);

		json_array_append_new(s.out, iface_report(dp, act, j, idx, name));
	}
	dp_hooks_scan(dp, add_unrecorded, &s);
	return s.out;
}

static json_t *fill(json_int_t used, json_int_t max)
{
	return json_pack("{s:I, s:I}", "used", used, "max", max);
}

static json_t *map_fill(struct dp *dp, json_t *g)
{
#define GI(k) json_integer_value(json_object_get(g, k))
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "lpm4",
			 fill((json_int_t)dp_map_count(dp->fd_lpm4, sizeof(struct xnsg_lpm4_key)),
			      XNSG_MAX_LPM4),
			 "ipv4_chunks", fill(GI("ipv4_chunks"), XNSG_DIR4_POOL), "lpm6",
			 fill((json_int_t)dp_map_count(dp->fd_lpm6, sizeof(struct xnsg_lpm6_key)),
			      XNSG_MAX_LPM6),
			 "classes", fill(GI("classes"), XNSG_MAX_CLASSES), "tables",
			 fill(GI("tables"), XNSG_MAX_TABLES));
#undef GI
}

json_t *apply_status(void)
{
	struct xnsg_active act;
	struct dp dp;
	json_t *st, *g, *out;

	if (dp_open_pins(&dp))
		return NULL;
	st = state_read() ?: json_object();
	dp_active_read(&dp, &act);
	g = state_gen(st, act.gen, act.serial);
	out = json_pack("{s:b, s:O?, s:O?, s:O?, s:i, s:i, s:s}", "applied", g != NULL, "policy",
			json_object_get(g, "policy"), "hash", json_object_get(g, "hash"),
			"applied_at", json_object_get(g, "applied"), "generation", (int)act.gen,
			"serial", (int)act.serial, "pin_dir", dp_pin_dir());
	json_object_set_new(out, "tables", json_integer(json_integer_value(json_object_get(g, "tables"))));
	json_object_set_new(out, "rules", json_integer(json_integer_value(json_object_get(g, "rules"))));
	json_object_set_new(out, "classes", json_integer(json_integer_value(json_object_get(g, "classes"))));
	json_object_set_new(out, "interfaces", ifaces_report(&dp, &act, st));
	json_object_set_new(out, "map_fill", map_fill(&dp, g));
	json_decref(st);
	dp_close(&dp);
	return out;
}

json_t *apply_enforced_slots(unsigned int gen, unsigned int serial)
{
	json_t *st = state_read(), *slots;

	slots = state_gen_slots(state_gen(st, gen, serial), gen);
	json_decref(st);
	return slots;
}

/*
 * Flow-table counters.  An LRU table evicts silently when full, so
 * evictions are what creation put in and neither expiry, a policy cut,
 * nor the table holds any more.
 */
struct live {
	size_t live, cut;
};

static enum dp_ct_action count_live(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct live *l = arg;

	(void)k;
	l->live++;
	l->cut += !!(v->flags & XNSG_CTF_DENIED);
	return DP_CT_KEEP;
}

static json_t *ct_report(struct dp *dp)
{
	__u64 v[XNSG_CT_STATS] = { 0 };
	struct live l = { 0 };
	json_t *j = json_object();
	__s64 evicted;
	size_t set;
	bool on;

	dp_ct_walk(dp, count_live, &l, NULL);
	dp_ct_stats(dp, v);
	for (unsigned int k = 0; k < XNSG_CT_STATS; k++)
		json_object_set_new(j, ct_stat_name(k), json_integer((json_int_t)v[k]));
	/* A cut flow's entry stays, marked, until idle: counted once, as cut. */
	evicted = (__s64)v[XNSG_CTS_CREATED] - (__s64)v[XNSG_CTS_EXPIRED] -
		  (__s64)v[XNSG_CTS_RESET] - (__s64)(l.live - l.cut);
	json_object_set_new(j, "live", json_integer((json_int_t)l.live));
	json_object_set_new(j, "live_cut", json_integer((json_int_t)l.cut));
	json_object_set_new(j, "max", json_integer(dp_ct_capacity(dp)));
	json_object_set_new(j, "evicted", json_integer(evicted > 0 ? evicted : 0));
	if (!dp_seen_state(dp, &on, &set)) { /* after the walk, which may rebuild it */
		json_object_set_new(j, "filter_on", json_integer(on));
		json_object_set_new(j, "filter_bits_set", json_integer((json_int_t)set));
	}
	return j;
}

/*
 * Flow-log accounting (docs/DESIGN.md §4): the datapath's per-CPU event
 * and deny counters, and the exporter's own, which it keeps in the
 * datapath (cumulative over its runs): every record exported or counted.
 */
static json_t *flowlog_report(struct dp *dp)
{
	struct xnsg_fl_stats s;
	struct xnsg_fl_cpu c;
	json_t *outs;

	dp_fl_cpu_sum(dp, &c);
	dp_fl_stats_read(dp, &s);
#define S(i) ((json_int_t)s.v[i])
	outs = json_pack("{s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "jsonl", "exported",
			 S(XNSG_FLS_JSONL_EXPORTED), "failed", S(XNSG_FLS_JSONL_FAILED), "azure",
			 "exported", S(XNSG_FLS_AZURE_EXPORTED), "failed", S(XNSG_FLS_AZURE_FAILED),
			 "skipped", S(XNSG_FLS_AZURE_SKIPPED), "ipfix", "exported",
			 S(XNSG_FLS_IPFIX_EXPORTED), "failed", S(XNSG_FLS_IPFIX_FAILED),
			 "send_failures", S(XNSG_FLS_IPFIX_SEND_ERRORS));
	return json_pack("{s:b, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I}",
			 "logging", dp_fl_enabled(dp), "records", S(XNSG_FLS_RECORDS), "outputs", outs,
			 "events", S(XNSG_FLS_EVENTS), "events_lost",
			 (json_int_t)(c.lost_begin + c.lost_end), "begin_events_lost",
			 (json_int_t)c.lost_begin, "end_events_lost", (json_int_t)c.lost_end,
			 "deny_tuples", (json_int_t)c.deny_tuples, "deny_records_suppressed",
			 (json_int_t)c.deny_suppressed, "flows_evicted_before_export",
			 S(XNSG_FLS_EVICTED), "ipfix_send_failures", S(XNSG_FLS_IPFIX_SEND_ERRORS),
			 "begin_swept", S(XNSG_FLS_BEGIN_SWEPT), "end_swept", S(XNSG_FLS_END_SWEPT),
			 "deny_records", S(XNSG_FLS_DENY_RECORDS), "sweeps", S(XNSG_FLS_SWEEPS),
			 "exporter_runs", S(XNSG_FLS_STARTS));
#undef S
}

/* "NSG/Direction/RULE" -> {nsg, direction, rule, packets, bytes}. */
static json_t *rule_report(const char *slot, const struct xnsg_counter *sum)
{
	char *copy = xstrdup(slot), *dir = strchr(copy, '/'), *rule = NULL;
	json_t *j;

	if (dir) {
		*dir++ = '\0';
		rule = strchr(dir, '/');
		if (rule)
			*rule++ = '\0';
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "nsg", copy, "direction", dir ?: "?", "rule",
		      rule ?: "?", "packets", (json_int_t)sum->packets, "bytes",
		      (json_int_t)sum->bytes);
	free(copy);
	return j;
}

json_t *apply_stats(void)
{
	struct xnsg_counter sum, *sums;
	struct xnsg_active act;
	json_t *slots, *rules = json_array(), *drops = json_object(), *j;
	struct dp dp;
	size_t i, n;

	if (dp_open_pins(&dp)) {
		json_decref(rules);
		json_decref(drops);
		return NULL;
	}
	dp_active_read(&dp, &act);
	slots = apply_enforced_slots(act.gen, act.serial);
	n = json_array_size(slots) < XNSG_MAX_RULE_SLOTS ? json_array_size(slots) : XNSG_MAX_RULE_SLOTS;
	sums = xcalloc(n ? n : 1, sizeof(*sums));
	if (dp_rule_counters_read(&dp, XNSG_RULE_STAT(act.gen, 0), (__u32)n, sums))
		memset(sums, 0, n * sizeof(*sums));
	json_array_foreach(slots, i, j)
		json_array_append_new(rules, rule_report(json_string_value(j) ?: "?",
							 i < n ? &sums[i] : &(struct xnsg_counter){ 0 }));
	free(sums);
	json_decref(slots);
	for (__u32 r = 0; r < XNSG_REASONS; r++) {
		dp_counter_read(dp.fd_drops, r, &sum);
		json_object_set_new(drops, reason_name(r),
				    json_pack("{s:I, s:I}", "packets", (json_int_t)sum.packets,
					      "bytes", (json_int_t)sum.bytes));
	}
	j = json_pack("{s:o, s:o, s:o, s:o}", "rules", rules, "drops", drops, "flows", ct_report(&dp),
		      "flowlog", flowlog_report(&dp));
	dp_close(&dp);
	return j;
}
