// SPDX-License-Identifier: MIT
/*
 * apply, detach, status, stats: the commands that drive the live datapath.
 *
 * What apply attached is recorded in a state file beside the pins
 * (/run/xnsg/, one file per pin directory) so that later commands know
 * interfaces, hooks, the policy and the rule behind each counter slot.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cmd.h"
#include "compile.h"
#include "dp.h"
#include "flows.h"
#include "log.h"
#include "model.h"

static const char *const reason_names[XNSG_REASONS] = {
	[XNSG_R_RULE_DENY] = "rule-deny",
	[XNSG_R_TRUNC_L2] = "truncated-l2",
	[XNSG_R_VLAN_DEPTH] = "vlan-depth",
	[XNSG_R_TRUNC_IP4] = "truncated-ipv4",
	[XNSG_R_BAD_IP4] = "bad-ipv4",
	[XNSG_R_TRUNC_IP6] = "truncated-ipv6",
	[XNSG_R_TRUNC_EXTHDR] = "truncated-ext-header",
	[XNSG_R_EXTHDR_DEPTH] = "ext-header-depth",
	[XNSG_R_TRUNC_L4] = "truncated-l4",
	[XNSG_R_FRAGMENT] = "orphan-fragment",
	[XNSG_R_NO_MATCH] = "no-match",
	[XNSG_R_MAP_MISSING] = "map-missing",
};

static json_t *attachment_json(const struct dp_attachment *a, const struct iface *ifc)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:b, s:s}", "name", a->ifname, "ifindex",
			 (json_int_t)a->ifindex, "ingress",
			 a->ingress_tc ? "tc" : a->xdp_mode == XDP_FLAGS_DRV_MODE ? "xdp-native"
										 : "xdp-generic",
			 "egress", "tc", "clsact_created", a->clsact_created, "attach",
			 ifc && ifc->attach == XNSG_ATTACH_PEER ? "peer" : "host");
}

static void attachment_from_json(json_t *j, struct dp_attachment *a)
{
	const char *ingress = json_string_value(json_object_get(j, "ingress"));

	memset(a, 0, sizeof(*a));
	snprintf(a->ifname, sizeof(a->ifname), "%s",
		 json_string_value(json_object_get(j, "name")) ?: "?");
	a->ifindex = (unsigned int)json_integer_value(json_object_get(j, "ifindex"));
	a->ingress_tc = ingress && !strcmp(ingress, "tc");
	a->xdp_mode = a->ingress_tc		       ? 0
		      : ingress && !strcmp(ingress, "xdp-native") ? XDP_FLAGS_DRV_MODE
								  : XDP_FLAGS_SKB_MODE;
	a->clsact_created = json_is_true(json_object_get(j, "clsact_created"));
}

static json_t *state_find_iface(json_t *st, const char *name)
{
	json_t *ifs = json_object_get(st, "interfaces"), *j;
	size_t i;

	json_array_foreach(ifs, i, j)
		if (!strcmp(json_string_value(json_object_get(j, "name")) ?: "", name))
			return j;
	return NULL;
}

/* "NSG/Direction/RULE": the identity of a counter slot across updates. */
static char *slot_name(const struct policy *p, const struct compiled_table *t, uint32_t bit)
{
	return xasprintf("%s/%s/%s", p->nsgs[t->nsg].name, dir_name(t->dir), t->rules[bit]->name);
}

static json_t *slots_json(const struct policy *p, const struct compiled *c)
{
	json_t *a = json_array();

	for (size_t t = 0; t < c->ntables; t++)
		for (uint32_t b = 0; b < c->tables[t].nrules; b++) {
			char *n = slot_name(p, &c->tables[t], b);

			json_array_append_new(a, json_string(n));
			free(n);
		}
	return a;
}

static uint64_t fnv1a_file(const char *file)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	FILE *f = fopen(file, "rb");
	int ch;

	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		h = (h ^ (uint8_t)ch) * 0x100000001b3ULL;
	fclose(f);
	return h;
}

/* ---- apply ---------------------------------------------------------- */

struct apply_opts {
	const char *file, *only;
	bool ingress_set; /* --ingress given: switch the interfaces applied to */
	bool ingress_tc, reset_flows;
	unsigned int max_flows;
};

static int apply_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "xnsg apply: %s\n", msg);
	cmd_usage("apply", stderr);
	return EXIT_USAGE;
}

/* Carry per-rule counters of rules that survive the update. */
static void carry_counters(struct dp *dp, json_t *old_slots, __u32 old_gen, json_t *new_slots,
			   __u32 new_gen)
{
	json_t *index = json_object(), *j;
	size_t i;

	json_array_foreach(old_slots, i, j)
		json_object_set_new(index, json_string_value(j) ?: "", json_integer((json_int_t)i));
	json_array_foreach(new_slots, i, j) {
		json_t *o = json_object_get(index, json_string_value(j) ?: "");

		if (o)
			dp_counter_move(dp->fd_rule_stats,
					old_gen * XNSG_MAX_RULE_SLOTS + (__u32)json_integer_value(o),
					new_gen * XNSG_MAX_RULE_SLOTS + (__u32)i);
	}
	json_decref(index);
}

static int load_and_compile(const char *file, struct policy **p, struct compiled **c)
{
	struct diag_list d = {};
	int err;

	err = policy_load(file, p, &d);
	diag_print(stderr, file, &d);
	diag_free(&d);
	if (err)
		return err;
	err = compile_policy(*p, c, &d);
	diag_print(stderr, file, &d);
	diag_free(&d);
	if (err) {
		policy_free(*p);
		*p = NULL;
	}
	return err;
}

static int do_apply(const struct apply_opts *o)
{
	struct dp_attachment *att = NULL;
	unsigned int *ifindex = NULL;
	struct compiled *c = NULL;
	struct policy *p = NULL;
	json_t *st = NULL, *nst = NULL, *ifs, *new_slots;
	size_t nattached = 0;
	__u32 old_gen = 0, gen;
	struct dp dp = {};
	char hash[32], when[32];
	bool *fresh = NULL, *switching = NULL, live;
	time_t now = time(NULL);
	int err, only = -1;

	if (load_and_compile(o->file, &p, &c))
		return 1;
	if (o->only) {
		only = policy_find_iface(p, o->only);
		if (only < 0) {
			pr_err("%s: not an interface of %s", o->only, o->file);
			goto fail;
		}
	}
	err = dp_check_env(true);
	if (err)
		goto fail;
	st = dp_state_read();

	/* Which interfaces: asked for now, or attached by an earlier apply. */
	ifindex = xcalloc(c->nifaces, sizeof(*ifindex));
	att = xcalloc(c->nifaces, sizeof(*att));
	fresh = xcalloc(c->nifaces, sizeof(*fresh));
	switching = xcalloc(c->nifaces, sizeof(*switching));
	for (size_t i = 0; i < c->nifaces; i++) {
		const struct iface *ifc = &p->ifaces[c->ifaces[i].iface];
		json_t *prev = st ? state_find_iface(st, ifc->name) : NULL;
		unsigned int idx;

		if (only >= 0 && c->ifaces[i].iface != only && !prev)
			continue;
		idx = if_nametoindex(ifc->name);
		if (!idx) {
			pr_warn("%s: no such interface on this host; skipped", ifc->name);
			continue;
		}
		if (prev)
			attachment_from_json(prev, &att[i]);
		else
			fresh[i] = true;
		snprintf(att[i].ifname, sizeof(att[i].ifname), "%s", ifc->name);
		att[i].ifindex = idx;
		/* The receive hook: --ingress when given (for the interfaces this
		 * apply names), else what an earlier apply chose, else XDP. */
		if (fresh[i])
			att[i].ingress_tc = o->ingress_tc;
		else if (o->ingress_set && (only < 0 || c->ifaces[i].iface == only) &&
			 att[i].ingress_tc != o->ingress_tc)
			switching[i] = true;
		ifindex[i] = idx;
		nattached++;
	}
	if (!nattached) {
		pr_err("%s: none of the policy's interfaces exists on this host", o->file);
		goto fail;
	}

	/* A live datapath (pins from an earlier apply, whatever the state
	 * file says) is only ever written in its idle generation. */
	live = dp_is_pinned();
	err = dp_open(&dp, true, false, o->max_flows);
	if (err)
		goto fail;
	err = dp_active_gen(&dp, &old_gen);
	if (err)
		goto fail_dp;
	gen = live ? old_gen ^ 1 : old_gen;
	err = dp_write_gen(&dp, gen, c, ifindex);
	if (err)
		goto fail_gen;

	/* Hooks first: until the flip they see the old generation, where a new
	 * interface has no config and passes. */
	for (size_t i = 0; i < c->nifaces; i++) {
		struct dp_attachment old = att[i];

		if (!ifindex[i])
			continue;
		if (switching[i]) {
			att[i].ingress_tc = o->ingress_tc;
			att[i].xdp_mode = 0;
		}
		err = dp_attach(&dp, &att[i]);
		if (!err && switching[i])
			err = dp_detach_ingress(&old); /* the new hook is in place */
		if (err) {
			for (size_t k = 0; k <= i; k++)
				if (fresh[k] && ifindex[k])
					dp_detach(&att[k]);
			goto fail_gen;
		}
	}
	err = dp_flip(&dp, gen);
	if (err) {
		pr_err("cannot switch to the new policy: %s", strerror(-err));
		goto fail_gen;
	}
	/* Idle timeouts are not generational: written once the policy is in. */
	dp_write_config(&dp, &p->timeouts);
	new_slots = slots_json(p, c);
	if (live) {
		/* No packet still judged by the old generation when it is cleared. */
		dp_wait_readers();
		if (st)
			carry_counters(&dp, json_object_get(st, "slots"), old_gen, new_slots, gen);
		dp_clear_gen(&dp, old_gen);
	}
	err = dp_pin_programs(&dp);
	if (err) {
		json_decref(new_slots);
		goto fail_dp;
	}
	{
		size_t checked = 0, cut = 0;

		/* Existing flows survive an update (Azure) unless asked. */
		if (flows_reevaluate(p, o->reset_flows, &checked, &cut) == 0 && checked)
			printf("re-evaluated %zu tracked flow%s: %zu now denied and cut\n", checked,
			       checked == 1 ? "" : "s", cut);
	}

	/* Record what is attached: this apply's interfaces plus earlier ones. */
	ifs = json_array();
	for (size_t i = 0; i < c->nifaces; i++)
		if (ifindex[i])
			json_array_append_new(ifs, attachment_json(&att[i], &p->ifaces[c->ifaces[i].iface]));
	if (st) {
		json_t *j;
		size_t k;

		json_array_foreach(json_object_get(st, "interfaces"), k, j) {
			const char *name = json_string_value(json_object_get(j, "name")) ?: "";
			int pi = policy_find_iface(p, name);
			bool kept = false;

			for (size_t i = 0; i < c->nifaces; i++)
				kept |= ifindex[i] && c->ifaces[i].iface == pi;
			if (!kept) {
				pr_warn("%s: attached earlier but not in this policy; it now passes "
					"everything ('xnsg detach -i %s' removes the hooks)", name, name);
				json_array_append(ifs, j);
			}
		}
	}
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)fnv1a_file(o->file));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	{
		char *abs = realpath(o->file, NULL);

		nst = json_pack("{s:s, s:s, s:s, s:i, s:o, s:I, s:I, s:I, s:I, s:I, s:o}", "policy",
				abs ? abs : o->file, "hash", hash, "applied", when, "generation", gen,
				"interfaces", ifs, "tables", (json_int_t)c->ntables, "rules",
				(json_int_t)c->nrule_slots, "classes", (json_int_t)c->nclasses,
				"portmaps", (json_int_t)c->nportmaps, "ipv4_chunks",
				(json_int_t)c->ndir4_next, "slots", new_slots);
		free(abs);
	}
	err = dp_state_write(nst);
	if (!err) {
		size_t n = json_array_size(ifs);

		printf("applied %s (hash %s) to %zu interface%s: %zu tables, %u rules\n", o->file,
		       hash, n, n == 1 ? "" : "s", c->ntables, c->nrule_slots);
	}
	json_decref(nst);
	json_decref(st);
	dp_close(&dp);
	free(att);
	free(ifindex);
	free(fresh);
	free(switching);
	compiled_free(c);
	policy_free(p);
	return err ? 1 : 0;

fail_gen:
	if (live) {
		dp_clear_gen(&dp, gen); /* the idle generation: nothing reads it */
	} else {
		dp_close(&dp);
		dp_unpin_all();
	}
fail_dp:
	dp_close(&dp);
fail:
	json_decref(st);
	free(att);
	free(ifindex);
	free(fresh);
	free(switching);
	compiled_free(c);
	policy_free(p);
	return 1;
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "ingress", required_argument, NULL, 'I' },
		{ "reset-flows", no_argument, NULL, 'R' },
		{ "max-flows", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct apply_opts o = {};
	int opt;

	while ((opt = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			o.only = optarg;
			break;
		case 'I':
			if (strcmp(optarg, "xdp") && strcmp(optarg, "tc"))
				return apply_usage("--ingress takes xdp or tc");
			o.ingress_tc = !strcmp(optarg, "tc");
			o.ingress_set = true;
			break;
		case 'R':
			o.reset_flows = true;
			break;
		case 'M': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n < 1024 || n > (1UL << 26))
				return apply_usage("--max-flows takes a number from 1024 to 67108864");
			o.max_flows = (unsigned int)n;
			break;
		}
		case 'h':
			cmd_usage("apply", stdout);
			return 0;
		default:
			return apply_usage(NULL);
		}
	}
	if (optind + 1 != argc)
		return apply_usage("expects one POLICY file");
	o.file = argv[optind];
	return do_apply(&o);
}

/* ---- detach --------------------------------------------------------- */

static int detach_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "xnsg detach: %s\n", msg);
	cmd_usage("detach", stderr);
	return EXIT_USAGE;
}

static int detach_all(json_t *st)
{
	struct dp_attachment a;
	json_t *j;
	size_t i;
	int err = 0;

	json_t *left = json_array();

	json_array_foreach(json_object_get(st, "interfaces"), i, j) {
		attachment_from_json(j, &a);
		if (dp_detach(&a)) {
			json_array_append(left, j);
			err = -EIO;
		} else {
			printf("detached %s\n", a.ifname);
		}
	}
	if (json_array_size(left)) {
		/* Hooks still attached keep their record and the maps they read. */
		pr_err("%zu interface%s could not be detached; the pins and the record stay",
		       json_array_size(left), json_array_size(left) == 1 ? "" : "s");
		json_object_set_new(st, "interfaces", left);
		dp_state_write(st);
		return err;
	}
	json_decref(left);
	if (dp_unpin_all())
		err = -EIO;
	dp_state_remove();
	return err;
}

static int detach_one(json_t *st, const char *name)
{
	json_t *j = state_find_iface(st, name), *ifs = json_object_get(st, "interfaces");
	struct xnsg_iface_key k;
	struct dp_attachment a;
	int fd, err;

	if (!j) {
		pr_err("%s: not attached", name);
		return -ENOENT;
	}
	attachment_from_json(j, &a);
	err = dp_detach(&a);
	if (err)
		return err;
	printf("detached %s\n", a.ifname);
	fd = dp_open_pinned_map(XNSG_MAP_IFACES);
	if (fd >= 0) {
		for (k.gen = 0; k.gen < XNSG_GENS; k.gen++) {
			k.ifindex = a.ifindex;
			bpf_map_delete_elem(fd, &k);
		}
		close(fd);
	}
	for (size_t i = 0; i < json_array_size(ifs); i++)
		if (json_array_get(ifs, i) == j) {
			json_array_remove(ifs, i);
			break;
		}
	if (json_array_size(ifs) == 0) { /* the last one: remove everything */
		err = dp_unpin_all();
		dp_state_remove();
		return err;
	}
	return dp_state_write(st);
}

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL;
	bool all = false;
	json_t *st;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "i:ah", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			only = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			cmd_usage("detach", stdout);
			return 0;
		default:
			return detach_usage(NULL);
		}
	}
	if (optind != argc || (!only) == (!all))
		return detach_usage("give -i IF or --all");
	err = dp_check_env(false);
	if (err)
		return 1;
	st = dp_state_read();
	if (!st) {
		if (only) {
			pr_err("%s: not attached (nothing is applied)", only);
			return 1;
		}
		/* Nothing recorded: still remove leftover pins, if any. */
		return dp_unpin_all() ? 1 : 0;
	}
	err = all ? detach_all(st) : detach_one(st, only);
	json_decref(st);
	return err ? 1 : 0;
}

/* ---- status --------------------------------------------------------- */

static int simple_usage(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'j') {
			xnsg_json = 1;
		} else if (opt == 'h') {
			cmd_usage(cmd, stdout);
			return 0;
		} else {
			cmd_usage(cmd, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "xnsg %s: unexpected argument '%s'\n", cmd, argv[optind]);
		cmd_usage(cmd, stderr);
		return EXIT_USAGE;
	}
	return -1;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	puts(s);
	free(s);
}

/* A map opened from its pin, for status and stats. */
struct pinned {
	int fd_active, fd_lpm4, fd_lpm6, fd_rule_stats, fd_drops, fd_ct, fd_ct_stats;
};

static int pinned_open(struct pinned *m)
{
	m->fd_active = dp_open_pinned_map(XNSG_MAP_ACTIVE);
	m->fd_lpm4 = dp_open_pinned_map(XNSG_MAP_LPM4);
	m->fd_lpm6 = dp_open_pinned_map(XNSG_MAP_LPM6);
	m->fd_rule_stats = dp_open_pinned_map(XNSG_MAP_RULE_STATS);
	m->fd_drops = dp_open_pinned_map(XNSG_MAP_DROPS);
	m->fd_ct = dp_open_pinned_map(XNSG_MAP_CT);
	m->fd_ct_stats = dp_open_pinned_map(XNSG_MAP_CT_STATS);
	if (m->fd_active < 0 || m->fd_lpm4 < 0 || m->fd_lpm6 < 0 || m->fd_rule_stats < 0 ||
	    m->fd_drops < 0 || m->fd_ct < 0 || m->fd_ct_stats < 0) {
		pr_err("%s: the datapath's maps are missing (was it detached by hand?)", dp_pin_dir());
		return -ENOENT;
	}
	return 0;
}

static void pinned_close(struct pinned *m)
{
	int *fds[] = { &m->fd_active, &m->fd_lpm4,	 &m->fd_lpm6, &m->fd_rule_stats,
			&m->fd_drops,  &m->fd_ct, &m->fd_ct_stats };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

static size_t count_keys(int fd, size_t ksize)
{
	char *a = xcalloc(2, ksize);
	size_t n = 0;

	for (char *prev = NULL; bpf_map_get_next_key(fd, prev, a + (n % 2) * ksize) == 0; n++)
		prev = a + (n % 2) * ksize;
	free(a);
	return n;
}

/* Requires state; prints "nothing applied" otherwise. */
static json_t *state_or_say(void)
{
	json_t *st = dp_state_read();

	if (!st) {
		if (xnsg_json)
			puts("{\"applied\": false}");
		else
			puts("nothing applied");
	}
	return st;
}

int cmd_status(int argc, char **argv)
{
	struct pinned m = { -1, -1, -1, -1, -1, -1, -1 };
	json_t *st, *ifs, *j;
	size_t i, n4, n6;
	int rc = simple_usage("status", argc, argv);

	if (rc >= 0)
		return rc;
	if (dp_check_env(false))
		return 1;
	st = state_or_say();
	if (!st)
		return 0;
	if (pinned_open(&m)) {
		pinned_close(&m);
		json_decref(st);
		return 1;
	}
	n4 = count_keys(m.fd_lpm4, sizeof(struct xnsg_lpm4_key));
	n6 = count_keys(m.fd_lpm6, sizeof(struct xnsg_lpm6_key));
	ifs = json_object_get(st, "interfaces");
	json_array_foreach(ifs, i, j) {
		unsigned int idx = (unsigned int)json_integer_value(json_object_get(j, "ifindex"));
		char name[IF_NAMESIZE];

		json_object_set_new(j, "present", json_boolean(if_indextoname(idx, name) != NULL));
	}
	json_object_del(st, "slots");
	/* "applied" answers whether; the state file's timestamp says when. */
	json_object_set(st, "applied_at", json_object_get(st, "applied"));
	json_object_set_new(st, "applied", json_true());
	json_object_set_new(st, "pin_dir", json_string(dp_pin_dir()));
	json_object_set_new(st, "map_fill",
			    json_pack("{s:{s:I,s:I}, s:{s:I,s:I}, s:{s:I,s:I}, s:{s:I,s:I}, s:{s:I,s:I}}",
				      "lpm4", "used", (json_int_t)n4, "max", (json_int_t)XNSG_MAX_LPM4,
				      "ipv4_chunks", "used",
				      json_integer_value(json_object_get(st, "ipv4_chunks")), "max",
				      (json_int_t)XNSG_DIR4_POOL,
				      "lpm6", "used", (json_int_t)n6, "max", (json_int_t)XNSG_MAX_LPM6,
				      "classes", "used",
				      json_integer_value(json_object_get(st, "classes")), "max",
				      (json_int_t)XNSG_MAX_CLASSES, "tables", "used",
				      json_integer_value(json_object_get(st, "tables")), "max",
				      (json_int_t)XNSG_MAX_TABLES));
	if (xnsg_json) {
		print_json(st);
	} else {
		printf("policy:     %s\nhash:       %s\napplied:    %s\npins:       %s\n",
		       json_string_value(json_object_get(st, "policy")),
		       json_string_value(json_object_get(st, "hash")),
		       json_string_value(json_object_get(st, "applied_at")) ?: "?", dp_pin_dir());
		printf("tables:     %lld of %d   rules: %lld   classes: %lld of %d\n",
		       json_integer_value(json_object_get(st, "tables")), XNSG_MAX_TABLES,
		       json_integer_value(json_object_get(st, "rules")),
		       json_integer_value(json_object_get(st, "classes")), XNSG_MAX_CLASSES);
		printf("prefixes:   %zu IPv4 of %d, %zu IPv6 of %d (LPM entries, all generations)\n",
		       n4, XNSG_MAX_LPM4, n6, XNSG_MAX_LPM6);
		printf("ipv4 trie:  %lld chunks of %d (beyond them the LPM trie answers)\n",
		       json_integer_value(json_object_get(st, "ipv4_chunks")), XNSG_DIR4_POOL);
		printf("interfaces:\n");
		json_array_foreach(ifs, i, j)
			printf("  %-16s ingress %-11s egress tc   attach %-4s%s\n",
			       json_string_value(json_object_get(j, "name")),
			       json_string_value(json_object_get(j, "ingress")),
			       json_string_value(json_object_get(j, "attach")),
			       json_is_true(json_object_get(j, "present")) ? "" : "   (gone)");
	}
	pinned_close(&m);
	json_decref(st);
	return 0;
}

/* ---- stats ---------------------------------------------------------- */

/*
 * Flow-table counters.  An LRU table evicts silently when full, so
 * evictions are what creation put in and neither expiry nor the table
 * holds any more.
 */
static json_t *ct_stats_json(struct pinned *m)
{
	static const char *const names[XNSG_CT_STATS] = {
		[XNSG_CTS_CREATED] = "created", [XNSG_CTS_HITS] = "packets_by_state",
		[XNSG_CTS_EXPIRED] = "expired", [XNSG_CTS_RELATED] = "icmp_errors_related",
		[XNSG_CTS_FRAG_FOLLOWED] = "fragments_followed",
		[XNSG_CTS_FRAG_RECORDED] = "fragments_recorded",
		[XNSG_CTS_RESET] = "cut_by_policy_change",
	};
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[XNSG_CT_STATS] = { 0 }, *per = xcalloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(__u64));
	json_t *j = json_object();
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	size_t live = 0, cut_live = 0;
	struct xnsg_ct_key keys[2];
	struct xnsg_ct_val val;
	__s64 evicted;

	for (void *prev = NULL; bpf_map_get_next_key(m->fd_ct, prev, &keys[live % 2]) == 0; live++) {
		prev = &keys[live % 2];
		if (bpf_map_lookup_elem(m->fd_ct, prev, &val) == 0 && (val.flags & XNSG_CTF_DENIED))
			cut_live++;
	}

	for (__u32 k = 0; k < XNSG_CT_STATS; k++) {
		if (bpf_map_lookup_elem(m->fd_ct_stats, &k, per) == 0)
			for (int c = 0; c < ncpu; c++)
				v[k] += per[c];
		json_object_set_new(j, names[k], json_integer((json_int_t)v[k]));
	}
	free(per);
	bpf_obj_get_info_by_fd(m->fd_ct, &info, &len);
	/* A flow ends by expiring, by a policy change cutting it (its entry
	 * stays, marked, until idle: counted once, as cut), or by LRU
	 * eviction when the table is full: the rest. */
	evicted = (__s64)v[XNSG_CTS_CREATED] - (__s64)v[XNSG_CTS_EXPIRED] -
		  (__s64)v[XNSG_CTS_RESET] - (__s64)(live - cut_live);
	json_object_set_new(j, "live", json_integer((json_int_t)live));
	json_object_set_new(j, "live_cut", json_integer((json_int_t)cut_live));
	json_object_set_new(j, "max", json_integer(info.max_entries));
	json_object_set_new(j, "evicted", json_integer(evicted > 0 ? evicted : 0));
	return j;
}

static void print_ct_stats(json_t *j)
{
	const char *key;
	json_t *v;

	printf("\nflow table:\n");
	json_object_foreach(j, key, v)
		printf("  %-22s %12lld\n", key, json_integer_value(v));
}

int cmd_stats(int argc, char **argv)
{
	struct pinned m = { -1, -1, -1, -1, -1, -1, -1 };
	json_t *st, *out, *rules, *drops, *j;
	struct xnsg_counter sum;
	struct xnsg_active act = {};
	__u32 zero = 0;
	size_t i;
	int rc = simple_usage("stats", argc, argv);

	if (rc >= 0)
		return rc;
	if (dp_check_env(false))
		return 1;
	st = state_or_say();
	if (!st)
		return 0;
	if (pinned_open(&m) || bpf_map_lookup_elem(m.fd_active, &zero, &act)) {
		pinned_close(&m);
		json_decref(st);
		return 1;
	}
	rules = json_array();
	json_array_foreach(json_object_get(st, "slots"), i, j) {
		const char *name = json_string_value(j) ?: "?";
		char *copy = xstrdup(name), *dir, *rule;

		if (dp_counter_read(m.fd_rule_stats, (act.gen & 1) * XNSG_MAX_RULE_SLOTS + (__u32)i, &sum))
			memset(&sum, 0, sizeof(sum));
		dir = strchr(copy, '/');
		*dir++ = '\0';
		rule = strchr(dir, '/');
		*rule++ = '\0';
		json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:I, s:I}", "nsg", copy,
						       "direction", dir, "rule", rule, "packets",
						       (json_int_t)sum.packets, "bytes",
						       (json_int_t)sum.bytes));
		free(copy);
	}
	drops = json_object();
	for (__u32 r = 0; r < XNSG_REASONS; r++) {
		dp_counter_read(m.fd_drops, r, &sum);
		json_object_set_new(drops, reason_names[r],
				    json_pack("{s:I, s:I}", "packets", (json_int_t)sum.packets,
					      "bytes", (json_int_t)sum.bytes));
	}
	out = json_pack("{s:o, s:o, s:o}", "rules", rules, "drops", drops, "flows", ct_stats_json(&m));
	if (xnsg_json) {
		print_json(out);
	} else {
		printf("%-24s %-9s %-36s %12s %14s\n", "NSG", "DIRECTION", "RULE", "PACKETS", "BYTES");
		json_array_foreach(rules, i, j)
			printf("%-24s %-9s %-36s %12lld %14lld\n",
			       json_string_value(json_object_get(j, "nsg")),
			       json_string_value(json_object_get(j, "direction")),
			       json_string_value(json_object_get(j, "rule")),
			       json_integer_value(json_object_get(j, "packets")),
			       json_integer_value(json_object_get(j, "bytes")));
		print_ct_stats(json_object_get(out, "flows"));
		printf("\ndrops by reason:\n");
		for (__u32 r = 0; r < XNSG_REASONS; r++) {
			json_t *d = json_object_get(drops, reason_names[r]);

			printf("  %-22s %12lld packets %14lld bytes\n", reason_names[r],
			       json_integer_value(json_object_get(d, "packets")),
			       json_integer_value(json_object_get(d, "bytes")));
		}
	}
	json_decref(out);
	pinned_close(&m);
	json_decref(st);
	return 0;
}
