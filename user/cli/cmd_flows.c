// SPDX-License-Identifier: MIT
/* xnsg flows: the flow table, each flow's ends, state, age, counters, rules. */
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "alloc.h"
#include "apply.h"
#include "clock.h"
#include "cmd.h"
#include "datapath.h"
#include "log.h"
#include "model.h"
#include "names.h"
#include "opts.h"
#include "output.h"
#include "report.h"

/* An entry's state as shown: "denied" when a policy change cut the flow
 * (XNSG_CTF_DENIED), whatever its TCP/UDP state. */
static const char *flow_state(const struct xnsg_ct_val *v)
{
	return v->flags & XNSG_CTF_DENIED ? "denied" : ct_state_name(v->state);
}

struct show {
	json_t *out;
	json_t *slots; /* names of the current generation's counter slots */
	__u32 gen;
	__u64 now;
};

static json_t *rule_of(const struct show *s, const struct xnsg_ct_val *v)
{
	json_t *a = json_array();

	for (int l = 0; l < 2; l++) {
		if (v->slot[l] == XNSG_CT_NO_SLOT)
			continue;
		if (v->gen == s->gen && v->slot[l] < json_array_size(s->slots))
			json_array_append(a, json_array_get(s->slots, v->slot[l]));
		else
			json_array_append_new(a, json_string("(an earlier policy)"));
	}
	return a;
}

static enum dp_ct_action show_one(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct show *s = arg;
	char ib[64], rb[64], ifname[IF_NAMESIZE];
	struct xnsg_addr ia, ra;
	uint16_t ip, rp;

	dp_ct_ends(k, v, &ia, &ip, &ra, &rp);
	if (!if_indextoname(k->ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "#%u", k->ifindex);
	json_array_append_new(
		s->out,
		json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:s, s:f, s:f, s:[I,I], s:[I,I], s:o}",
			  "interface", ifname, "direction", v->dir == XNSG_DIR_IN ? "Inbound" : "Outbound",
			  "protocol", k->proto, "initiator", addr_fmt(&ia, ib, sizeof(ib)), "initiator_port",
			  ip, "responder", addr_fmt(&ra, rb, sizeof(rb)), "responder_port", rp, "state",
			  flow_state(v), "age_s", (double)(s->now - dp_ct_created_ns(v, s->now)) / 1e9,
			  "idle_s", (double)dp_ct_idle_ns(v, s->now) / 1e9, "packets",
			  (json_int_t)v->packets[0], (json_int_t)v->packets[1], "bytes",
			  (json_int_t)v->bytes[0], (json_int_t)v->bytes[1], "rules", rule_of(s, v)));
	return DP_CT_KEEP;
}

static const char *proto_label(int proto, char *buf, size_t len)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	default: snprintf(buf, len, "%d", proto); return buf;
	}
}

/* "A/B" of a two-element JSON array of integers. */
static char *pair(json_t *f, const char *key)
{
	json_t *a = json_object_get(f, key);

	return xasprintf("%lld/%lld", json_integer_value(json_array_get(a, 0)),
			 json_integer_value(json_array_get(a, 1)));
}

static char *endpoint(json_t *f, const char *addr, const char *port)
{
	return xasprintf("%s:%lld", json_string_value(json_object_get(f, addr)),
			 json_integer_value(json_object_get(f, port)));
}

static char *rules_of(json_t *f)
{
	char *out = xstrdup(""), *next;
	json_t *r;
	size_t k;

	json_array_foreach(json_object_get(f, "rules"), k, r) {
		next = xasprintf("%s%s%s", out, k ? ", " : "", json_string_value(r));
		free(out);
		out = next;
	}
	return out;
}

/* One row a flow; columns as wide as their widest cell (veth names, IPv6). */
static void print_flows(json_t *flows)
{
	static const char *const head[] = { "INTERFACE", "DIR",	 "PROTO",    "INITIATOR",
					    "RESPONDER", "STATE", "AGE",     "IDLE",
					    "PKTS >/<",  "BYTES >/<", "RULES" };
	struct cli_table *t = cli_table_new("", 11, head);
	json_t *f;
	size_t i;

	json_array_foreach(flows, i, f) {
		char pb[8], *cells[11] = {
			xstrdup(json_string_value(json_object_get(f, "interface"))),
			xstrdup(json_string_value(json_object_get(f, "direction"))),
			xstrdup(proto_label((int)json_integer_value(json_object_get(f, "protocol")), pb,
					    sizeof(pb))),
			endpoint(f, "initiator", "initiator_port"),
			endpoint(f, "responder", "responder_port"),
			xstrdup(json_string_value(json_object_get(f, "state"))),
			xasprintf("%.1fs", json_real_value(json_object_get(f, "age_s"))),
			xasprintf("%.1fs", json_real_value(json_object_get(f, "idle_s"))),
			pair(f, "packets"),
			pair(f, "bytes"),
			rules_of(f),
		};

		cli_table_row(t, cells);
	}
	cli_table_print(t, stdout);
	printf("%zu flow%s\n", json_array_size(flows), json_array_size(flows) == 1 ? "" : "s");
}

static int do_flows(const void *args)
{
	struct xnsg_active act;
	struct show s = { 0 };
	struct dp dp;

	(void)args;
	if (dp_check_env(false))
		return 1;
	if (!dp_is_pinned()) {
		puts(xnsg_json ? "[]" : "nothing applied");
		return 0;
	}
	if (dp_open_pins(&dp))
		return 1;
	dp_active_read(&dp, &act);
	s.out = json_array();
	s.slots = apply_enforced_slots(act.gen, act.serial);
	s.gen = act.gen;
	s.now = mono_ns();
	dp_ct_walk(&dp, show_one, &s, NULL);
	dp_close(&dp);
	json_decref(s.slots);
	if (xnsg_json) {
		cli_print_json(s.out, JSON_INDENT(2));
		return 0;
	}
	print_flows(s.out);
	json_decref(s.out);
	return 0;
}

const struct cli_command flows_command =
	CLI_COMMAND("flows", struct report_args, do_flows, report_opts,
		    "the tracked flows: 5-tuple, interface, state, age, counters, rule");
