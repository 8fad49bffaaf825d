// SPDX-License-Identifier: MIT
/*
 * xnsg show: the effective rules of each interface, per direction, level
 * by level in evaluation order, with every tag and ASG expanded to the
 * prefixes it stands for (Azure's "effective security rules").
 *
 * One model, two renderers: the rules are first built as JSON, and the
 * plain table is printed from that JSON, so both always say the same.
 * The JSON lists every prefix; the table shows a long expansion (the
 * Internet tag is hundreds of prefixes) by its first few and a count,
 * unless --expand.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "cli.h"
#include "cmd.h"
#include "eval.h"
#include "log.h"

/* ---- the model, as JSON ---------------------------------------------- */

static json_t *prefixes_json(const struct prefix_list *l, json_t *a)
{
	char buf[XNSG_PREFIX_STRLEN];

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(prefix_fmt(&l->v[i], buf, sizeof(buf))));
	return a;
}

static json_t *side_json(const struct addr_side *s, const struct prefix_list *internet)
{
	json_t *labels = json_array(), *prefixes = json_array();

	for (size_t i = 0; i < s->nlabels; i++)
		json_array_append_new(labels, json_string(s->labels[i]));
	if (s->any) {
		/* '*' is both families (docs/DESIGN.md §2). */
		json_array_append_new(prefixes, json_string("0.0.0.0/0"));
		json_array_append_new(prefixes, json_string("::/0"));
	} else {
		prefixes_json(&s->prefixes, prefixes);
		if (s->internet)
			prefixes_json(internet, prefixes);
	}
	return json_pack("{s:o,s:b,s:o}", "labels", labels, "any", s->any, "prefixes", prefixes);
}

static json_t *ports_json(const struct port_list *l)
{
	json_t *a = json_array();

	if (l->any) {
		json_array_append_new(a, json_string("*"));
		return a;
	}
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, l->v[i].lo == l->v[i].hi
					 ? json_sprintf("%u", l->v[i].lo)
					 : json_sprintf("%u-%u", l->v[i].lo, l->v[i].hi));
	return a;
}

static json_t *rule_json(const struct rule *r, const struct prefix_list *internet)
{
	return json_pack("{s:i,s:s,s:o,s:b,s:s,s:s,s:o,s:o,s:o,s:o}",
			 "priority", r->priority, "name", r->name,
			 "ruleName", json_sprintf("%s/%s", r->is_default ? "defaultSecurityRules"
									 : "securityRules", r->name),
			 "default", r->is_default, "access", r->allow ? "Allow" : "Deny",
			 "protocol", proto_name(r->proto),
			 "source", side_json(&r->src, internet),
			 "sourcePorts", ports_json(&r->sport),
			 "destination", side_json(&r->dst, internet),
			 "destinationPorts", ports_json(&r->dport));
}

static json_t *level_json(const struct policy *p, enum eval_scope scope, int nsg,
			  enum xnsg_dir dir, const struct prefix_list *internet)
{
	json_t *rules = json_array();

	if (nsg >= 0) {
		size_t n;
		const struct rule *r = nsg_rules(&p->nsgs[nsg], dir, &n);

		for (size_t i = 0; i < n; i++)
			json_array_append_new(rules, rule_json(&r[i], internet));
	}
	return json_pack("{s:s,s:o,s:o}", "scope", scope == EVAL_SUBNET ? "subnet" : "nic",
			 "nsg", nsg >= 0 ? json_string(p->nsgs[nsg].name) : json_null(),
			 "rules", rules);
}

/* The levels of one direction in evaluation order (docs/DESIGN.md §2). */
static json_t *direction_json(const struct policy *p, const struct iface *ifc,
			      enum xnsg_dir dir, const struct prefix_list *internet)
{
	int subnet_nsg = ifc->subnet >= 0 ? p->subnets[ifc->subnet].nsg : -1;
	json_t *subnet = level_json(p, EVAL_SUBNET, subnet_nsg, dir, internet);
	json_t *nic = level_json(p, EVAL_NIC, ifc->nsg, dir, internet);

	return dir == XNSG_IN ? json_pack("[o,o]", subnet, nic) : json_pack("[o,o]", nic, subnet);
}

static json_t *iface_json(const struct policy *p, const struct iface *ifc,
			  const struct prefix_list *internet)
{
	json_t *addrs = json_array(), *asgs = json_array();
	char buf[XNSG_PREFIX_STRLEN];

	for (size_t i = 0; i < ifc->naddrs; i++)
		json_array_append_new(addrs, json_string(addr_fmt(&ifc->addrs[i], buf, sizeof(buf))));
	for (size_t i = 0; i < ifc->nasgs; i++)
		json_array_append_new(asgs, json_string(ifc->asgs[i]));
	return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "name", ifc->name,
			 "attach", ifc->attach == XNSG_ATTACH_PEER ? "peer" : "host",
			 "subnet", ifc->subnet >= 0 ? json_string(p->subnets[ifc->subnet].name)
						    : json_null(),
			 "nsg", ifc->nsg >= 0 ? json_string(p->nsgs[ifc->nsg].name) : json_null(),
			 "addresses", addrs, "applicationSecurityGroups", asgs,
			 "inbound", direction_json(p, ifc, XNSG_IN, internet),
			 "outbound", direction_json(p, ifc, XNSG_OUT, internet));
}

/* only: an interface index, or -1 for all. */
static json_t *show_json(const struct policy *p, int only, const struct prefix_list *internet)
{
	json_t *ifaces = json_array();

	for (size_t i = 0; i < p->nifaces; i++)
		if (only < 0 || (size_t)only == i)
			json_array_append_new(ifaces, iface_json(p, &p->ifaces[i], internet));
	return json_pack("{s:s,s:o}", "policy", p->file ? p->file : "", "interfaces", ifaces);
}

/* ---- the plain renderer ---------------------------------------------- */

/* The strings of a JSON array joined by sep, in a new string. */
static char *join(json_t *a, const char *sep)
{
	size_t len = 1, lsep = strlen(sep), i;
	json_t *v;
	char *s, *end;

	json_array_foreach(a, i, v)
		len += json_string_length(v) + lsep;
	end = s = xcalloc(1, len);
	/* Appended at the end, not strcat()ed: a tag's expansion has 100,000. */
	json_array_foreach(a, i, v) {
		if (i)
			end = mempcpy(end, sep, lsep);
		end = mempcpy(end, json_string_value(v), json_string_length(v));
	}
	return s;
}

enum { COL_PRIO, COL_NAME, COL_ACCESS, COL_PROTO, COL_SRC, COL_SPORT, COL_DST, COL_DPORT, NCOLS };

/* The table cells of one rule, each a new string. */
static void rule_cells(json_t *r, char *cell[NCOLS])
{
	cell[COL_PRIO] = xasprintf("%lld", json_integer_value(json_object_get(r, "priority")));
	cell[COL_NAME] = xasprintf("%s%s", json_string_value(json_object_get(r, "name")),
				   json_is_true(json_object_get(r, "default")) ? " (default)" : "");
	cell[COL_ACCESS] = xstrdup(json_string_value(json_object_get(r, "access")));
	cell[COL_PROTO] = xstrdup(json_string_value(json_object_get(r, "protocol")));
	cell[COL_SRC] = join(json_object_get(json_object_get(r, "source"), "labels"), ",");
	cell[COL_SPORT] = join(json_object_get(r, "sourcePorts"), ",");
	cell[COL_DST] = join(json_object_get(json_object_get(r, "destination"), "labels"), ",");
	cell[COL_DPORT] = join(json_object_get(r, "destinationPorts"), ",");
}

/* show --expand: every prefix of a tag, however many. */
static bool show_expand;

/* A tag expanded to more prefixes than this (the Internet tag is hundreds,
 * a service tag thousands) is shown by its first few and a count. */
#define SHOW_PREFIXES_COMPACT 6

/* "source = 1.0.0.0/8 ..." under a rule, when the expansion says more
 * than the labels (tags, ASGs); '*' needs none.  A new string or NULL. */
static char *expansion(json_t *side, const char *what, const char *labels)
{
	json_t *all = json_object_get(side, "prefixes"), *shown = all;
	size_t n = json_array_size(all);
	char *prefixes, *plain = join(all, ","), *line;

	if (!show_expand && n > SHOW_PREFIXES_COMPACT) {
		shown = json_array();
		for (size_t i = 0; i < SHOW_PREFIXES_COMPACT; i++)
			json_array_append(shown, json_array_get(all, i));
	}
	prefixes = join(shown, " ");
	if (json_is_true(json_object_get(side, "any")) || !strcmp(plain, labels))
		line = NULL;
	else if (shown != all)
		line = xasprintf("        %s = %s ... (%zu prefixes; --expand lists them)", what,
				 prefixes, n);
	else
		line = xasprintf("        %s = %s", what, prefixes[0] ? prefixes : "(nothing)");
	if (shown != all)
		json_decref(shown);
	free(prefixes);
	free(plain);
	return line;
}

static void print_level(json_t *level)
{
	static const char *const head[NCOLS] = {
		"PRIO", "NAME", "ACCESS", "PROTO", "SOURCE", "SPORT", "DESTINATION", "DPORT",
	};
	json_t *nsg = json_object_get(level, "nsg"), *r;
	struct cli_table *t;
	size_t i;

	if (json_is_null(nsg)) {
		printf("    %s: no NSG (allows everything)\n",
		       json_string_value(json_object_get(level, "scope")));
		return;
	}
	printf("    %s: %s\n", json_string_value(json_object_get(level, "scope")),
	       json_string_value(nsg));
	t = cli_table_new("     ", NCOLS, head);
	json_array_foreach(json_object_get(level, "rules"), i, r) {
		char *cell[NCOLS], *src, *dst;

		rule_cells(r, cell);
		src = expansion(json_object_get(r, "source"), "source", cell[COL_SRC]);
		dst = expansion(json_object_get(r, "destination"), "destination", cell[COL_DST]);
		cli_table_row(t, cell);
		if (src)
			cli_table_note(t, src);
		if (dst)
			cli_table_note(t, dst);
	}
	cli_table_print(t, stdout);
}

static void print_iface(json_t *ifc)
{
	static const char *const dirs[] = { "inbound", "outbound" };
	char *addrs = join(json_object_get(ifc, "addresses"), " ");
	char *asgs = join(json_object_get(ifc, "applicationSecurityGroups"), ",");
	json_t *subnet = json_object_get(ifc, "subnet");

	printf("%s: attach %s, subnet %s, addresses %s%s%s\n",
	       json_string_value(json_object_get(ifc, "name")),
	       json_string_value(json_object_get(ifc, "attach")),
	       json_is_null(subnet) ? "none" : json_string_value(subnet),
	       addrs[0] ? addrs : "none", asgs[0] ? ", ASGs " : "", asgs);
	for (int d = 0; d < 2; d++) {
		json_t *level;
		size_t i;

		printf("  %s\n", d == 0 ? "Inbound" : "Outbound");
		json_array_foreach(json_object_get(ifc, dirs[d]), i, level)
			print_level(level);
	}
	free(addrs);
	free(asgs);
}

/* ---- the command ----------------------------------------------------- */

struct show_args {
	const char *file, *ifname;
	bool expand;
};

static int do_show(const void *args)
{
	const struct show_args *a = args;
	struct prefix_list internet = {};
	int only = -1, ret = 1, err;
	struct policy *p;
	json_t *j, *ifc;
	size_t i;

	p = cli_policy_or_fail(a->file);
	if (!p)
		return 1;
	if (a->ifname) {
		only = policy_find_iface(p, a->ifname);
		if (only < 0) {
			cli_error("%s: no interface '%s' in the policy", a->file, a->ifname);
			goto out;
		}
	}
	err = tags_internet_prefixes(p, &internet);
	if (err) {
		cli_error("%s: cannot expand the Internet tag: %s", a->file, strerror(-err));
		goto out;
	}
	show_expand = a->expand;
	j = show_json(p, only, &internet);
	if (xnsg_json) {
		cli_print_json(j, JSON_INDENT(2));
	} else {
		json_array_foreach(json_object_get(j, "interfaces"), i, ifc)
			print_iface(ifc);
		json_decref(j);
	}
	ret = 0;
out:
	prefix_list_free(&internet);
	policy_free(p);
	return ret;
}

static const struct cli_opt show_opts[] = {
	CLI_POSITIONAL(struct show_args, file, "POLICY"),
	CLI_OPTION(struct show_args, ifname, STRING, "interface", .short_name = 'i', .arg = "IF",
		   .help = "only this interface (its name in the policy)"),
	CLI_OPTION(struct show_args, expand, FLAG, "expand",
		   .help = "list every prefix of a tag or ASG (else the first 6 and a count)"),
	CLI_JSON_OPTION("print the rules as JSON"),
	CLI_END
};

const struct cli_command show_command =
	CLI_COMMAND("show", struct show_args, do_show, show_opts,
		    "effective rules per interface and direction, tags and ASGs as prefixes");
