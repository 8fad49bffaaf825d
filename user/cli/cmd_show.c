// SPDX-License-Identifier: MIT
/*
 * xnsg show: the effective rules of each interface, per direction, level
 * by level in evaluation order, with every tag and ASG expanded to the
 * prefixes it stands for (Azure's "effective security rules").
 *
 * One model, two renderers: the rules are first built as JSON, and the
 * plain table is printed from that JSON, so both always say the same.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
		/* '*' is both families (SPEC §2). */
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

/* The levels of one direction in evaluation order (SPEC §2). */
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
	size_t len = 1, i;
	json_t *v;
	char *s;

	json_array_foreach(a, i, v)
		len += strlen(json_string_value(v)) + strlen(sep);
	s = xcalloc(1, len);
	json_array_foreach(a, i, v) {
		if (i)
			strcat(s, sep);
		strcat(s, json_string_value(v));
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

static void free_cells(char *cell[NCOLS])
{
	for (int c = 0; c < NCOLS; c++)
		free(cell[c]);
}

/* "source = 1.0.0.0/8 ..." under a rule, when the expansion says more
 * than the labels (tags, ASGs); '*' needs none. */
static void print_expansion(json_t *side, const char *what, const char *labels)
{
	char *prefixes = join(json_object_get(side, "prefixes"), " ");
	char *plain = join(json_object_get(side, "prefixes"), ",");

	if (!json_is_true(json_object_get(side, "any")) && strcmp(plain, labels))
		printf("        %s = %s\n", what, prefixes[0] ? prefixes : "(nothing)");
	free(prefixes);
	free(plain);
}

static void print_level(json_t *level)
{
	static const char *const head[NCOLS] = {
		"PRIO", "NAME", "ACCESS", "PROTO", "SOURCE", "SPORT", "DESTINATION", "DPORT",
	};
	json_t *rules = json_object_get(level, "rules"), *r;
	json_t *nsg = json_object_get(level, "nsg");
	int width[NCOLS];
	size_t i;

	if (json_is_null(nsg)) {
		printf("    %s: no NSG (allows everything)\n",
		       json_string_value(json_object_get(level, "scope")));
		return;
	}
	printf("    %s: %s\n", json_string_value(json_object_get(level, "scope")),
	       json_string_value(nsg));
	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(head[c]);
	json_array_foreach(rules, i, r) {
		char *cell[NCOLS];

		rule_cells(r, cell);
		for (int c = 0; c < NCOLS; c++)
			if ((int)strlen(cell[c]) > width[c])
				width[c] = (int)strlen(cell[c]);
		free_cells(cell);
	}
	printf("     ");
	for (int c = 0; c < NCOLS; c++)
		printf(" %-*s", c == NCOLS - 1 ? 0 : width[c], head[c]);
	putchar('\n');
	json_array_foreach(rules, i, r) {
		char *cell[NCOLS];

		rule_cells(r, cell);
		printf("     ");
		for (int c = 0; c < NCOLS; c++)
			printf(" %-*s", c == NCOLS - 1 ? 0 : width[c], cell[c]);
		putchar('\n');
		print_expansion(json_object_get(r, "source"), "source", cell[COL_SRC]);
		print_expansion(json_object_get(r, "destination"), "destination", cell[COL_DST]);
		free_cells(cell);
	}
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

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct prefix_list internet = {};
	const char *ifname = NULL;
	struct policy *p;
	int opt, only = -1, ret = 1, err;
	json_t *j, *ifc;
	size_t i;

	while ((opt = getopt_long(argc, argv, "hi:", opts, NULL)) != -1) {
		if (opt == 'j') {
			xnsg_json = 1;
		} else if (opt == 'i') {
			ifname = optarg;
		} else if (opt == 'h') {
			cmd_usage("show", stdout);
			return 0;
		} else {
			cmd_usage("show", stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("show", argc == optind ? "missing POLICY" : "one POLICY only");
	p = cli_policy_or_fail(argv[optind]);
	if (!p)
		return 1;
	if (ifname) {
		only = policy_find_iface(p, ifname);
		if (only < 0) {
			cli_error("%s: no interface '%s' in the policy", argv[optind], ifname);
			goto out;
		}
	}
	err = tags_internet_prefixes(p, &internet);
	if (err) {
		cli_error("%s: cannot expand the Internet tag: %s", argv[optind], strerror(-err));
		goto out;
	}
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
