// SPDX-License-Identifier: MIT
/*
 * The conntrack table seen from userspace: `xnsg flows`, and the
 * re-evaluation of tracked flows after a policy change (--reset-flows,
 * flushConnection).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cmd.h"
#include "dp.h"
#include "eval.h"
#include "flows.h"
#include "log.h"
#include "model.h"

static const char *const state_names[XNSG_CT_STATES] = {
	[XNSG_CT_NEW] = "new",
	[XNSG_CT_REPLIED] = "replied",
	[XNSG_CT_SYN_SENT] = "syn-sent",
	[XNSG_CT_SYN_RECV] = "syn-recv",
	[XNSG_CT_ESTABLISHED] = "established",
	[XNSG_CT_CLOSING] = "closing",
};

/* An entry's state as shown: "denied" when a policy change cut the flow
 * (XNSG_CTF_DENIED), whatever its TCP/UDP state. */
static const char *state_name(const struct xnsg_ct_val *v)
{
	if (v->flags & XNSG_CTF_DENIED)
		return "denied";
	return v->state < XNSG_CT_STATES ? state_names[v->state] : "?";
}

/* What ct_walk() does with an entry after fn saw it. */
enum ct_action {
	CT_KEEP,   /* leave it */
	CT_DELETE, /* remove it */
	CT_UPDATE, /* write back the value fn changed (if the entry is still there) */
};

/* Call fn on every entry of the flow table; *changed counts the entries
 * deleted or updated as fn asked. */
static int ct_walk(int fd, enum ct_action (*fn)(const struct xnsg_ct_key *, struct xnsg_ct_val *, void *),
		   void *arg, size_t *changed)
{
	struct xnsg_ct_key *keys = NULL;
	struct xnsg_ct_val v;
	size_t n = 0, cap = 0;

	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			keys = xrealloc(keys, cap * sizeof(*keys));
		}
		if (bpf_map_get_next_key(fd, n ? &keys[n - 1] : NULL, &keys[n]))
			break;
		n++;
	}
	if (changed)
		*changed = 0;
	for (size_t i = 0; i < n; i++) {
		enum ct_action a;
		int err = -1;

		if (bpf_map_lookup_elem(fd, &keys[i], &v))
			continue; /* gone meanwhile */
		a = fn(&keys[i], &v, arg);
		if (a == CT_DELETE)
			err = bpf_map_delete_elem(fd, &keys[i]);
		else if (a == CT_UPDATE)
			err = bpf_map_update_elem(fd, &keys[i], &v, BPF_EXIST);
		if (err == 0 && changed)
			(*changed)++;
	}
	free(keys);
	return 0;
}

/* The initiator and responder ends of an entry. */
static void ct_ends(const struct xnsg_ct_key *k, const struct xnsg_ct_val *v, struct xnsg_addr *ia,
		    uint16_t *ip, struct xnsg_addr *ra, uint16_t *rp)
{
	const uint8_t *ib = v->init_a ? k->addr_a : k->addr_b, *rb = v->init_a ? k->addr_b : k->addr_a;

	memset(ia, 0, sizeof(*ia));
	memset(ra, 0, sizeof(*ra));
	ia->family = ra->family = k->family;
	memcpy(ia->bytes, ib, 16);
	memcpy(ra->bytes, rb, 16);
	*ip = v->init_a ? k->port_a : k->port_b;
	*rp = v->init_a ? k->port_b : k->port_a;
}

/* ---- re-evaluation after a policy change ---------------------------- */

/*
 * A flow the new policy denies is cut, not removed: its entry is marked
 * XNSG_CTF_DENIED and the datapath drops its packets while they keep
 * coming, until it idles out (bpf/conntrack.h).  A removed entry would
 * let the side the new policy still allows (the workload's outbound ACKs,
 * say) start the flow again mid-stream, and the denied side ride it.
 */
struct reeval {
	const struct policy *p;
	bool all; /* --reset-flows: every flow; else interfaces with flushConnection */
	size_t checked;
	size_t cut;   /* flows cut now */
};

static bool flushes(const struct policy *p, const struct iface *ifc)
{
	return (ifc->nsg >= 0 && p->nsgs[ifc->nsg].flush_connection) ||
	       (ifc->subnet >= 0 && p->subnets[ifc->subnet].nsg >= 0 &&
		p->nsgs[p->subnets[ifc->subnet].nsg].flush_connection);
}

static enum ct_action reeval_one(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct reeval *re = arg;
	struct eval_query q = { 0 };
	struct eval_result r;
	struct xnsg_addr ia, ra;
	char name[IF_NAMESIZE];
	bool cut = v->flags & XNSG_CTF_DENIED;
	uint16_t ip, rp;

	if (!if_indextoname(k->ifindex, name)) { /* the interface is gone */
		if (!cut)
			re->cut++;
		return CT_DELETE;
	}
	q.iface = policy_find_iface(re->p, name);
	if (q.iface < 0)
		return CT_KEEP; /* not filtered by this policy any more */
	if (!re->all && !flushes(re->p, &re->p->ifaces[q.iface]))
		return CT_KEEP;
	re->checked++;
	ct_ends(k, v, &ia, &ip, &ra, &rp);
	q.dir = v->dir == XNSG_DIR_IN ? XNSG_IN : XNSG_OUT;
	q.ipproto = k->proto;
	/* Inbound: the initiator is the remote end; outbound, the local one. */
	q.local = q.dir == XNSG_IN ? ra : ia;
	q.remote = q.dir == XNSG_IN ? ia : ra;
	q.lport = q.dir == XNSG_IN ? rp : ip;
	q.rport = q.dir == XNSG_IN ? ip : rp;
	if (k->proto != 6 && k->proto != 17)
		q.lport = q.rport = 0;
	eval_flow(re->p, &q, &r);
	if (cut) /* cut earlier: allowed now, its next packet meets the rules */
		return r.allow ? CT_DELETE : CT_KEEP;
	if (r.allow)
		return CT_KEEP;
	v->flags |= XNSG_CTF_DENIED;
	re->cut++;
	return CT_UPDATE;
}

/* Add n to the flow-table counter of flows cut by a policy change, so
 * `stats` can tell them from LRU evictions. */
static void count_reset(size_t n)
{
	int ncpu = libbpf_num_possible_cpus(), fd = dp_open_pinned_map(XNSG_MAP_CT_STATS);
	__u32 key = XNSG_CTS_RESET;
	__u64 *per;

	if (fd < 0 || ncpu <= 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	per = xcalloc((size_t)ncpu, sizeof(*per));
	if (bpf_map_lookup_elem(fd, &key, per) == 0) {
		per[0] += n;
		bpf_map_update_elem(fd, &key, per, BPF_ANY);
	}
	free(per);
	close(fd);
}

/* *removed: the flows cut (their entries stay, marked, until they idle out). */
int flows_reevaluate(const struct policy *p, bool all, size_t *checked, size_t *removed)
{
	struct reeval re = { .p = p, .all = all };
	int fd = dp_open_pinned_map(XNSG_MAP_CT);

	if (fd < 0)
		return fd;
	ct_walk(fd, reeval_one, &re, NULL);
	close(fd);
	*checked = re.checked;
	*removed = re.cut;
	if (re.cut)
		count_reset(re.cut);
	return 0;
}

/* ---- xnsg flows ----------------------------------------------------- */

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
		if (v->slot[l] == ~0U)
			continue;
		if (v->gen == s->gen && v->slot[l] < json_array_size(s->slots))
			json_array_append(a, json_array_get(s->slots, v->slot[l]));
		else
			json_array_append_new(a, json_string("(an earlier policy)"));
	}
	return a;
}

static enum ct_action show_one(const struct xnsg_ct_key *k, struct xnsg_ct_val *v, void *arg)
{
	struct show *s = arg;
	char ib[64], rb[64], ifname[IF_NAMESIZE];
	struct xnsg_addr ia, ra;
	uint16_t ip, rp;

	ct_ends(k, v, &ia, &ip, &ra, &rp);
	if (!if_indextoname(k->ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "#%u", k->ifindex);
	json_array_append_new(
		s->out,
		json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:s, s:f, s:f, s:[I,I], s:[I,I], s:o}",
			  "interface", ifname, "direction", v->dir == XNSG_DIR_IN ? "Inbound" : "Outbound",
			  "protocol", k->proto, "initiator", addr_fmt(&ia, ib, sizeof(ib)), "initiator_port",
			  ip, "responder", addr_fmt(&ra, rb, sizeof(rb)), "responder_port", rp, "state",
			  state_name(v), "age_s", (double)(s->now - v->created_ns) / 1e9, "idle_s",
			  s->now > v->last_ns ? (double)(s->now - v->last_ns) / 1e9 : 0.0, "packets",
			  (json_int_t)v->packets[0], (json_int_t)v->packets[1], "bytes",
			  (json_int_t)v->bytes[0], (json_int_t)v->bytes[1], "rules", rule_of(s, v)));
	return CT_KEEP;
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
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

static void print_flows(json_t *flows)
{
	json_t *f;
	size_t i;

	printf("%-10s %-8s %-6s %-40s %-40s %-11s %8s %8s %10s %10s %s\n", "INTERFACE", "DIR",
	       "PROTO", "INITIATOR", "RESPONDER", "STATE", "AGE", "IDLE", "PKTS >/<", "BYTES >/<",
	       "RULES");
	json_array_foreach(flows, i, f) {
		char ini[80], res[80], pb[8], pk[32], by[48], rules[256] = "";
		json_t *r;
		size_t k;

		snprintf(ini, sizeof(ini), "%s:%lld", json_string_value(json_object_get(f, "initiator")),
			 json_integer_value(json_object_get(f, "initiator_port")));
		snprintf(res, sizeof(res), "%s:%lld", json_string_value(json_object_get(f, "responder")),
			 json_integer_value(json_object_get(f, "responder_port")));
		snprintf(pk, sizeof(pk), "%lld/%lld",
			 json_integer_value(json_array_get(json_object_get(f, "packets"), 0)),
			 json_integer_value(json_array_get(json_object_get(f, "packets"), 1)));
		snprintf(by, sizeof(by), "%lld/%lld",
			 json_integer_value(json_array_get(json_object_get(f, "bytes"), 0)),
			 json_integer_value(json_array_get(json_object_get(f, "bytes"), 1)));
		json_array_foreach(json_object_get(f, "rules"), k, r) {
			size_t used = strlen(rules);

			snprintf(rules + used, sizeof(rules) - used, "%s%s", k ? ", " : "",
				 json_string_value(r));
		}
		printf("%-10s %-8s %-6s %-40s %-40s %-11s %7.1fs %7.1fs %10s %10s %s\n",
		       json_string_value(json_object_get(f, "interface")),
		       json_string_value(json_object_get(f, "direction")),
		       proto_label((int)json_integer_value(json_object_get(f, "protocol")), pb, sizeof(pb)),
		       ini, res, json_string_value(json_object_get(f, "state")),
		       json_real_value(json_object_get(f, "age_s")),
		       json_real_value(json_object_get(f, "idle_s")), pk, by, rules);
	}
	printf("%zu flow%s\n", json_array_size(flows), json_array_size(flows) == 1 ? "" : "s");
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct show s = { 0 };
	struct xnsg_active act = { 0 };
	json_t *st;
	__u32 zero = 0;
	int opt, fd, fda;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'j') {
			xnsg_json = 1;
		} else if (opt == 'h') {
			cmd_usage("flows", stdout);
			return 0;
		} else {
			cmd_usage("flows", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "xnsg flows: unexpected argument '%s'\n", argv[optind]);
		cmd_usage("flows", stderr);
		return EXIT_USAGE;
	}
	if (dp_check_env(false))
		return 1;
	fd = dp_open_pinned_map(XNSG_MAP_CT);
	fda = dp_open_pinned_map(XNSG_MAP_ACTIVE);
	if (fd < 0 || fda < 0) {
		if (fd >= 0)
			close(fd);
		if (fda >= 0)
			close(fda);
		if (xnsg_json)
			puts("[]");
		else
			puts("nothing applied");
		return 0;
	}
	bpf_map_lookup_elem(fda, &zero, &act);
	close(fda);
	st = dp_state_read();
	s.out = json_array();
	s.slots = json_object_get(st, "slots");
	s.gen = act.gen & 1;
	s.now = monotonic_ns();
	ct_walk(fd, show_one, &s, NULL);
	close(fd);
	if (xnsg_json) {
		char *out = json_dumps(s.out, JSON_INDENT(2));

		puts(out);
		free(out);
	} else {
		print_flows(s.out);
	}
	json_decref(s.out);
	json_decref(st);
	return 0;
}
