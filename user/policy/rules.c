// SPDX-License-Identifier: MIT
/*
 * NSG rules (docs/DESIGN.md §1, §2): each rule's fields, Azure's six
 * default rules, and the checks across the rules of one NSG -- names
 * unique, priorities unique per direction, at most
 * POLICY_MAX_RULES_PER_DIR a direction.  Part of the policy parser
 * (policy.c runs the passes); the JSON access is json.c's.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "json.h"
#include "parser.h"
#include "policy.h"
#include "thread.h"

/* ---- rules ------------------------------------------------------------ */

static void side_label(struct addr_side *s, const char *label)
{
	s->labels = xrealloc(s->labels, (s->nlabels + 1) * sizeof(*s->labels));
	s->labels[s->nlabels++] = xstrdup(label);
}

static void side_add_prefixes(struct ctx *c, struct addr_side *s, const struct prefix_list *l,
			      const struct lpath *path)
{
	prefix_list_append(&s->prefixes, l);
	c->nprefixes += l->n;
	if (c->nprefixes > POLICY_MAX_PREFIXES && !c->prefix_limit_hit) {
		c->prefix_limit_hit = true;
		perr(c, lpath_str(c, path), "the policy's rules expand to more than %d prefixes "
		     "(POLICY_MAX_PREFIXES)", POLICY_MAX_PREFIXES);
	}
}

static bool looks_like_address(const char *s)
{
	return strchr(s, '/') || strchr(s, ':') || (*s >= '0' && *s <= '9');
}

/* One address entry of a rule side: '*', a tag, an address or CIDR;
 * path spelled only for a message. */
static void side_entry(struct ctx *c, struct addr_side *s, const char *str,
		       const struct lpath *path)
{
	struct policy *p = c->p;
	struct xnsg_prefix pf;
	const struct tag *t;
	bool hb;

	if (!strcmp(str, "*") || !strcasecmp(str, "Any")) {
		s->any = true;
	} else if (!strcasecmp(str, "Internet")) {
		s->internet = true; /* symbolic: the evaluator decides it */
	} else if (!strcasecmp(str, "VirtualNetwork")) {
		side_add_prefixes(c, s, &p->virtual_network, path);
	} else if (!prefix_parse(str, &pf, &hb)) {
		struct prefix_list one = { .v = &pf, .n = 1, .cap = 1 };
		char buf[XNSG_PREFIX_STRLEN];

		if (hb)
			pwarn(c, lpath_str(c, path), "host bits set in '%s': using %s", str,
			      prefix_fmt(&pf, buf, sizeof(buf)));
		if (pf.family == XNSG_V6) /* only IPv6 can be IPv4-mapped */
			warn_v4_mapped(c, lpath_str(c, path), str, &pf);
		side_add_prefixes(c, s, &one, path);
	} else if ((t = tag_find(p, str))) {
		side_add_prefixes(c, s, &t->prefixes, path);
	} else if (looks_like_address(str)) {
		perr(c, lpath_str(c, path), "'%s' is not a valid IPv4 or IPv6 address or CIDR prefix",
		     str);
		return;
	} else {
		perr(c, lpath_str(c, path), "unknown service tag '%s' (define it in serviceTags or "
		     "serviceTagsFile)", str);
		return;
	}
	side_label(s, str);
}

/* "source"/"destination" address fields of a rule into s. */
static void parse_side(struct ctx *c, const struct obj *o, const char *which,
		       struct addr_side *s)
{
	static const char *const keys[2][3] = {
		{ "sourceAddressPrefix", "sourceAddressPrefixes",
		  "sourceApplicationSecurityGroups" },
		{ "destinationAddressPrefix", "destinationAddressPrefixes",
		  "destinationApplicationSecurityGroups" },
	};
	const char *k1 = keys[*which == 'd'][0];
	const char *k2 = keys[*which == 'd'][1], *k3 = keys[*which == 'd'][2];
	struct lpath sp, pp, ap;
	json_t *single = obj_field_at(o, k1, &sp);
	json_t *plural = obj_field_at(o, k2, &pp);
	json_t *asgs = obj_field_at(o, k3, &ap);
	size_t nprefix = 0, nasg = 0, i;
	bool present = single || plural || asgs, mistyped = false;
	json_t *v;

	if (single && !json_is_string(single)) {
		perr(c, lpath_str(c, &sp), "must be a string, not %s", jtype(single));
		mistyped = true;
	} else if (single && json_string_value(single)[0]) { /* "" beside a plural: absent */
		nprefix++;
		side_entry(c, s, json_string_value(single), &sp);
	}
	if (plural && !json_is_array(plural)) {
		perr(c, lpath_str(c, &pp), "must be an array, not %s", jtype(plural));
		mistyped = true;
		plural = NULL;
	}
	if (asgs && !json_is_array(asgs)) {
		perr(c, lpath_str(c, &ap), "must be an array, not %s", jtype(asgs));
		mistyped = true;
		asgs = NULL;
	}
	if (plural) {
		json_array_foreach(plural, i, v) {
			const struct lpath ep = { &pp, NULL, i };

			nprefix++;
			if (!json_is_string(v))
				perr(c, lpath_str(c, &ep), "must be a string, not %s", jtype(v));
			else if (!json_string_value(v)[0])
				perr(c, lpath_str(c, &ep), "empty prefix");
			else
				side_entry(c, s, json_string_value(v), &ep);
		}
	}
	if (asgs) {
		json_array_foreach(asgs, i, v) {
			const struct lpath ep = { &ap, NULL, i };
			int gi = ref_at(c, v, lpath_str(c, &ep), REF_ASG);

			nasg++;
			if (gi < 0)
				continue;
			side_add_prefixes(c, s, &c->p->asgs[gi].members, &ep);
			{
				char *label = xasprintf("asg:%s", c->p->asgs[gi].name);

				side_label(s, label);
				free(label);
			}
		}
	}
	if (!nprefix && !nasg && !mistyped)
		perr(c, obj_fields_path(o), "%s \"%s\": give %s, %s or %s",
		     present ? "empty" : "missing", which, k1, k2, k3);
	if (nasg > 1)
		perr(c, lpath_str(c, &ap), "%zu application security groups: a rule takes one per "
		     "side", nasg);
	if (nasg && nprefix)
		perr(c, lpath_str(c, &ap), "application security groups cannot be combined with "
		     "address prefixes on the same side (%s)", lpath_str(c, single ? &sp : &pp));
}

static bool parse_port_num(const char *s, size_t len, long *out)
{
	long n = 0;

	if (!len || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (s[i] - '0');
	}
	*out = n;
	return true;
}

/* "*", "N" or "N-M", 0 <= N <= M <= 65535; path spelled only for a message. */
static void port_entry(struct ctx *c, struct port_list *l, const char *s,
		       const struct lpath *path)
{
	const char *dash = strchr(s, '-');
	long lo, hi;

	if (!strcmp(s, "*")) {
		port_list_add(l, 0, 65535);
		return;
	}
	if (dash ? !parse_port_num(s, (size_t)(dash - s), &lo) ||
			   !parse_port_num(dash + 1, strlen(dash + 1), &hi)
		 : !parse_port_num(s, strlen(s), &lo)) {
		perr(c, lpath_str(c, path), "'%s' is not a port: use *, N or N-M with 0 <= N <= M <= "
		     "65535", s);
		return;
	}
	if (!dash)
		hi = lo;
	if (lo > 65535 || hi > 65535) {
		perr(c, lpath_str(c, path), "'%s' is outside 0-65535", s);
		return;
	}
	if (lo > hi) {
		perr(c, lpath_str(c, path), "'%s' runs backwards: N-M needs N <= M", s);
		return;
	}
	port_list_add(l, (uint16_t)lo, (uint16_t)hi);
}

static void parse_ports(struct ctx *c, const struct obj *o, const char *which,
			struct port_list *l)
{
	static const char *const keys[2][2] = {
		{ "sourcePortRange", "sourcePortRanges" },
		{ "destinationPortRange", "destinationPortRanges" },
	};
	const char *k1 = keys[*which == 'd'][0], *k2 = keys[*which == 'd'][1];
	struct lpath sp, pp;
	json_t *single = obj_field_at(o, k1, &sp);
	json_t *plural = obj_field_at(o, k2, &pp);
	bool present = single || plural, mistyped = false;
	struct port_range *m;
	size_t n = 0, i;
	json_t *v;

	if (single && !json_is_string(single)) {
		perr(c, lpath_str(c, &sp), "must be a string like \"80\" or \"80-90\", not %s",
		     jtype(single));
		mistyped = true;
	} else if (single && json_string_value(single)[0]) {
		n++;
		port_entry(c, l, json_string_value(single), &sp);
	}
	if (plural && !json_is_array(plural)) {
		perr(c, lpath_str(c, &pp), "must be an array, not %s", jtype(plural));
		mistyped = true;
		plural = NULL;
	}
	if (plural) {
		json_array_foreach(plural, i, v) {
			const struct lpath ep = { &pp, NULL, i };

			n++;
			if (!json_is_string(v))
				perr(c, lpath_str(c, &ep), "must be a string like \"80\" or \"80-90\", "
				     "not %s", jtype(v));
			else
				port_entry(c, l, json_string_value(v), &ep);
		}
	}
	if (!n && !mistyped)
		perr(c, obj_fields_path(o), "%s %s port: give %s or %s",
		     present ? "empty" : "missing", which, k1, k2);
	/* Ranges that together cover 0-65535 are '*' (docs/DESIGN.md §2). */
	if (port_list_merged(l, &m) == 1 && m[0].lo == 0 && m[0].hi == 65535)
		l->any = true;
	free(m);
}

/* A rule's "priority", 100-4096; -1 after an error.  *path: where it
 * sits, NULL when it is missing. */
static int parse_priority(struct ctx *c, const struct obj *o, struct lpath *at)
{
	json_t *f = obj_field_at(o, "priority", at);

	if (!f) {
		perr(c, obj_fields_path(o), "missing \"priority\"");
	} else if (!json_is_integer(f)) {
		perr(c, lpath_str(c, at), "must be an integer from %d to %d, not %s",
		     POLICY_PRIO_MIN, POLICY_PRIO_MAX, jtype(f));
	} else if (json_integer_value(f) < POLICY_PRIO_MIN ||
		   json_integer_value(f) > POLICY_PRIO_MAX) {
		perr(c, lpath_str(c, at), "%lld is outside %d-%d", json_integer_value(f),
		     POLICY_PRIO_MIN, POLICY_PRIO_MAX);
	} else {
		return (int)json_integer_value(f);
	}
	return -1;
}

/* A rule's "protocol" (case-insensitive; "Any" is "*"); ANY after an error. */
static enum xnsg_proto parse_proto(struct ctx *c, const char *s, const struct lpath *path)
{
	static const struct { const char *name; enum xnsg_proto proto; } protos[] = {
		{ "Tcp", XNSG_PROTO_TCP }, { "Udp", XNSG_PROTO_UDP },
		{ "Icmp", XNSG_PROTO_ICMP }, { "Esp", XNSG_PROTO_ESP },
		{ "Ah", XNSG_PROTO_AH }, { "*", XNSG_PROTO_ANY }, { "Any", XNSG_PROTO_ANY },
		{ "All", XNSG_PROTO_ANY }, /* effective security rules print "All" */
	};

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(s, protos[i].name))
			return protos[i].proto;
	perr(c, lpath_str(c, path), "'%s' is not a protocol: use Tcp, Udp, Icmp, Esp, Ah or * "
	     "(Any, All)", s);
	return XNSG_PROTO_ANY;
}

/*
 * Where a rule's field sits, for a later check's message: member key of
 * the object at base (a spelled path), or the rule itself when key is
 * NULL.  Spelled only for a message (field_path()): the names and
 * priorities of thousands of rules are checked, few are reported.
 */
struct field_at {
	const char *base, *key;
};

static const char *field_path(struct ctx *c, const struct field_at *f)
{
	return f->key ? key_path(c, f->base, f->key) : f->base;
}

/* A found field's lazy path (obj_field_at()) as a field_at. */
static struct field_at field_at(const struct lpath *at)
{
	return (struct field_at){ at->up->key, at->key };
}

/* *name_at, *prio_at: where those fields sit, for later checks. */
static bool parse_rule(struct ctx *c, json_t *v, const char *path, struct rule *r,
		       struct field_at *name_at, struct field_at *prio_at)
{
	struct lpath fpath;
	const char *s;
	struct obj o;
	bool ok = true;
	size_t before = c->d->nerrors;

	r->path = xstrdup(path);
	r->priority = -1;
	*name_at = *prio_at = (struct field_at){ path, NULL };
	if (!json_is_object(v)) {
		perr(c, path, "a rule must be an object, not %s", jtype(v));
		return false;
	}
	obj_init(c, &o, v, path);
	s = obj_str_at(c, &o, "name", true, &fpath);
	if (s)
		*name_at = field_at(&fpath);
	if (s && strchr(s, '/'))
		perr(c, field_path(c, name_at), "rule name '%s' contains '/': Azure resource names "
		     "cannot", s);
	r->name = s ? xstrdup(s) : NULL;
	s = obj_str_at(c, &o, "description", false, &fpath);
	if (s)
		r->description = xstrdup(s);

	r->priority = parse_priority(c, &o, &fpath);
	if (r->priority >= 0)
		*prio_at = field_at(&fpath);

	s = obj_str_at(c, &o, "direction", true, &fpath);
	r->dir = (enum xnsg_dir)-1;
	if (s) {
		if (!strcasecmp(s, "Inbound"))
			r->dir = XNSG_IN;
		else if (!strcasecmp(s, "Outbound"))
			r->dir = XNSG_OUT;
		else
			perr(c, lpath_str(c, &fpath), "'%s' is not a direction: use Inbound or "
			     "Outbound", s);
	}
	s = obj_str_at(c, &o, "access", true, &fpath);
	if (s) {
		if (!strcasecmp(s, "Allow"))
			r->allow = true;
		else if (strcasecmp(s, "Deny"))
			perr(c, lpath_str(c, &fpath), "'%s' is not an access: use Allow or Deny", s);
	}
	s = obj_str_at(c, &o, "protocol", true, &fpath);
	if (s)
		r->proto = parse_proto(c, s, &fpath);
	parse_side(c, &o, "source", &r->src);
	parse_ports(c, &o, "source", &r->sport);
	parse_side(c, &o, "destination", &r->dst);
	parse_ports(c, &o, "destination", &r->dport);
	ok = c->d->nerrors == before;
	return ok;
}

static void side_free(struct addr_side *s)
{
	prefix_list_free(&s->prefixes);
	for (size_t i = 0; i < s->nlabels; i++)
		free(s->labels[i]);
	free(s->labels);
	memset(s, 0, sizeof(*s));
}

void rule_free(struct rule *r)
{
	free(r->name);
	free(r->description);
	free(r->path);
	side_free(&r->src);
	side_free(&r->dst);
	port_list_free(&r->sport);
	port_list_free(&r->dport);
}

/* A side holding one label: '*', a tag, or a list of prefixes. */
static void default_side(struct addr_side *s, const char *label, const struct prefix_list *l)
{
	if (!strcmp(label, "*"))
		s->any = true;
	else if (!strcmp(label, "Internet"))
		s->internet = true;
	else
		prefix_list_append(&s->prefixes, l);
	side_label(s, label);
}

/* Azure's six default rules (docs/DESIGN.md §2), in order within each direction. */
const struct default_rule default_rules[NDEFAULTS] = {
	{ "AllowVnetInBound", "Allow inbound traffic from all VMs in VNET",
	  "VirtualNetwork", "VirtualNetwork", 65000, XNSG_IN, true },
	{ "AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer",
	  "AzureLoadBalancer", "*", 65001, XNSG_IN, true },
	{ "DenyAllInBound", "Deny all inbound traffic", "*", "*", 65500, XNSG_IN, false },
	{ "AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET",
	  "VirtualNetwork", "VirtualNetwork", 65000, XNSG_OUT, true },
	{ "AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet",
	  "*", "Internet", 65001, XNSG_OUT, true },
	{ "DenyAllOutBound", "Deny all outbound traffic", "*", "*", 65500, XNSG_OUT, false },
};

static void make_default(const struct policy *p, const struct nsg *g, size_t i, struct rule *r)
{
	const struct tag *alb = tag_find(p, "AzureLoadBalancer");
	const struct prefix_list *src = &p->virtual_network, *dst = &p->virtual_network;

	memset(r, 0, sizeof(*r));
	r->name = xstrdup(default_rules[i].name);
	r->description = xstrdup(default_rules[i].desc);
	r->priority = default_rules[i].priority;
	r->dir = default_rules[i].dir;
	r->allow = default_rules[i].allow;
	r->proto = XNSG_PROTO_ANY;
	r->is_default = true;
	r->path = xasprintf("%s.defaultSecurityRules[%zu]", g->path, i);
	if (!strcmp(default_rules[i].src, "AzureLoadBalancer"))
		src = &alb->prefixes;
	default_side(&r->src, default_rules[i].src, src);
	default_side(&r->dst, default_rules[i].dst, dst);
	port_list_add(&r->sport, 0, 65535);
	port_list_add(&r->dport, 0, 65535);
}

struct sorted_rule {
	struct rule r;
	size_t idx;
	struct field_at name_at, prio_at;
};

/* Rule indexes by (direction, priority), then position (the model's order). */
static int rule_cmp(const void *a, const void *b, void *arg)
{
	const struct sorted_rule *sr = arg;
	const struct sorted_rule *x = &sr[*(const size_t *)a], *y = &sr[*(const size_t *)b];

	if (x->r.dir != y->r.dir)
		return x->r.dir < y->r.dir ? -1 : 1;
	if (x->r.priority != y->r.priority)
		return x->r.priority < y->r.priority ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool dir_valid(enum xnsg_dir d)
{
	return (int)d == XNSG_IN || (int)d == XNSG_OUT;
}

static int idx_order(size_t i, size_t j)
{
	return i < j ? -1 : i > j;
}

/* Rule indexes by (direction, priority), then position. */
static int prio_cmp(const void *a, const void *b, void *arg)
{
	const struct sorted_rule *sr = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct rule *x = &sr[i].r, *y = &sr[j].r;

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return idx_order(i, j);
}

static bool prioritised(const struct rule *r)
{
	return r->priority >= 0 && dir_valid(r->dir);
}

static bool same_prio(const struct rule *a, const struct rule *b)
{
	return a->dir == b->dir && a->priority == b->priority;
}

/*
 * first[i]: the earliest rule with rule i's key (same()), when that is
 * not rule i itself; else n.  Only rules keep() accepts take part.  A
 * sort, not a comparison of every pair: thousands of rules cost n log n.
 */
static void first_equal(const struct sorted_rule *sr, size_t n, size_t *first,
			int (*cmp)(const void *, const void *, void *),
			bool (*keep)(const struct rule *),
			bool (*same)(const struct rule *, const struct rule *))
{
	size_t *ix = xcalloc(n ? n : 1, sizeof(*ix)), m = 0;

	for (size_t i = 0; i < n; i++) {
		first[i] = n;
		if (keep(&sr[i].r))
			ix[m++] = i;
	}
	qsort_r(ix, m, sizeof(*ix), cmp, (void *)sr);
	/* Runs of one key, each in position order: its head is the earliest. */
	for (size_t k = 1, head = 0; k < m; k++) {
		if (same(&sr[ix[head]].r, &sr[ix[k]].r))
			first[ix[k]] = ix[head];
		else
			head = k;
	}
	free(ix);
}

/*
 * first_equal() of the rules' names, case-insensitively: rule by rule, in
 * order, a hash table of folded names keeps the first rule of each, so
 * the rules repeating it find it in one probe or few.  Sorting the names
 * with strcasecmp() was 4% of `check` of 4,000 rules.
 */
static void first_equal_name(const struct sorted_rule *sr, size_t n, size_t *first)
{
	struct { uint64_t h; size_t i; } *slot; /* i: the rule + 1, 0 for a free slot */
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	slot = xcalloc(cap, sizeof(*slot));
	for (size_t i = 0; i < n; i++) {
		const char *name = sr[i].r.name;
		uint64_t h = 14695981039346656037ull; /* FNV-1a of the folded name */
		size_t k;

		first[i] = n;
		if (!name)
			continue;
		for (const char *q = name; *q; q++)
			h = (h ^ key_fold((unsigned char)*q)) * 1099511628211ull;
		for (k = h & (cap - 1); slot[k].i; k = (k + 1) & (cap - 1))
			if (slot[k].h == h && !strcasecmp(sr[slot[k].i - 1].r.name, name))
				break;
		if (slot[k].i) {
			first[i] = slot[k].i - 1;
		} else {
			slot[k].h = h;
			slot[k].i = i + 1;
		}
	}
	free(slot);
}

/* Names unique per NSG (case-insensitive, as Azure's); priorities unique
 * per NSG and direction.  Reported in rule order, each against the
 * earliest rule it repeats. */
static void check_rule_names_prios(struct ctx *c, const struct sorted_rule *sr, size_t n)
{
	size_t *by_name = xcalloc(n ? n : 1, sizeof(*by_name));
	size_t *by_prio = xcalloc(n ? n : 1, sizeof(*by_prio));

	first_equal_name(sr, n, by_name);
	first_equal(sr, n, by_prio, prio_cmp, prioritised, same_prio);
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &sr[i].r;

		if (by_name[i] < n)
			perr(c, field_path(c, &sr[i].name_at), "rule name '%s' is already used by %s",
			     r->name, sr[by_name[i]].r.path);
		if (by_prio[i] < n) {
			const struct rule *e = &sr[by_prio[i]].r;

			perr(c, field_path(c, &sr[i].prio_at),
			     "priority %d is already used by rule '%s' (%s)", r->priority,
			     e->name ? e->name : "?", dir_name(r->dir));
		}
	}
	free(by_name);
	free(by_prio);
}

/* The direction a rule gives, read without parsing the rule. */
static int peek_dir(json_t *v)
{
	json_t *d = jget(jget(v, "properties", NULL), "direction", NULL);

	if (!json_is_string(d))
		d = jget(v, "direction", NULL);
	if (!json_is_string(d))
		return -1;
	if (!strcasecmp(json_string_value(d), "Inbound"))
		return XNSG_IN;
	return strcasecmp(json_string_value(d), "Outbound") ? -1 : XNSG_OUT;
}

/*
 * At most POLICY_MAX_RULES_PER_DIR rules a direction, counted before any
 * rule is parsed: an NSG over the limit is refused at once, so an absurd
 * file costs no more than reading it.  rpath: the NSG's "securityRules".
 * An array no longer than the limit cannot hold too many of either
 * direction: not walked (the walk was the first touch of every rule's
 * keys, ~4% of `check` of 4,000 rules).
 */
static bool over_limit(struct ctx *c, json_t *rules, const char *rpath)
{
	size_t ndir[2] = { 0, 0 }, i;
	bool over = false;
	json_t *v;

	if (json_array_size(rules) <= POLICY_MAX_RULES_PER_DIR)
		return false;
	json_array_foreach(rules, i, v) {
		int d = peek_dir(v);

		if (d >= 0)
			ndir[d]++;
	}
	for (int d = 0; d < 2; d++) {
		if (ndir[d] <= POLICY_MAX_RULES_PER_DIR)
			continue;
		perr(c, rpath, "%zu %s rules: more than %d per NSG direction "
		     "(POLICY_MAX_RULES_PER_DIR); its rules are not checked further", ndir[d],
		     dir_name((enum xnsg_dir)d), POLICY_MAX_RULES_PER_DIR);
		over = true;
	}
	return over;
}

/* Rules [from, to) of an NSG's array rules (at rpath) into sr and ok. */
static void parse_rules(struct ctx *c, json_t *rules, const char *rpath, struct sorted_rule *sr,
			bool *ok, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		sr[i].idx = i;
		ok[i] = parse_rule(c, json_array_get(rules, i), idx_path(c, rpath, i), &sr[i].r,
				   &sr[i].name_at, &sr[i].prio_at);
	}
}

/*
 * The second half of a long NSG's rules, parsed on another CPU with a
 * context of its own (its diagnostics, its paths, its prefix count)
 * while this one parses the first: rules do not depend on each other
 * until check_rule_names_prios(), and parse_rule() only reads the
 * document and the model.  Half of a quarter of `check` of 4,000 rules.
 */
#define RULES_SPLIT_MIN 512

struct rules_half {
	struct ctx c;
	struct diag_list d;
	json_t *rules;
	const char *rpath;
	struct sorted_rule *sr;
	bool *ok;
	size_t from, to;
};

static void *rules_half_run(void *arg)
{
	struct rules_half *h = arg;

	parse_rules(&h->c, h->rules, h->rpath, h->sr, h->ok, h->from, h->to);
	return NULL;
}

/* The second half's results taken as they are when the parse in order
 * would have said the same: no error in it, and the prefix limit not
 * crossed in it for the first time; else parsed again here, in order. */
static void rules_half_join(struct ctx *c, struct rules_half *h)
{
	bool same = !h->d.nerrors &&
		    (c->prefix_limit_hit || c->nprefixes + h->c.nprefixes <= POLICY_MAX_PREFIXES);

	for (size_t i = 0; i < h->c.scratch.n; i++) /* the paths sr holds */
		ctx_keep(c, h->c.scratch.v[i]);
	free(h->c.scratch.v);
	if (same) {
		c->nprefixes += h->c.nprefixes;
		diag_move(c->d, &h->d);
		return;
	}
	diag_move(NULL, &h->d);
	for (size_t i = h->from; i < h->to; i++) {
		rule_free(&h->sr[i].r);
		memset(&h->sr[i], 0, sizeof(h->sr[i]));
	}
	parse_rules(c, h->rules, h->rpath, h->sr, h->ok, h->from, h->to);
}

static void parse_all_rules(struct ctx *c, json_t *rules, const char *rpath,
			    struct sorted_rule *sr, bool *ok, size_t n)
{
	struct rules_half h = {
		.c = { .p = c->p, .d = &h.d, .basedir = c->basedir, .vnet = c->vnet,
		       .nsg_objs = c->nsg_objs },
		.rules = rules, .rpath = rpath, .sr = sr, .ok = ok, .from = n / 2, .to = n,
	};
	pthread_t t;

	if (n < RULES_SPLIT_MIN || thread_beside(&t, rules_half_run, &h)) {
		parse_rules(c, rules, rpath, sr, ok, 0, n);
		return;
	}
	parse_rules(c, rules, rpath, sr, ok, 0, h.from);
	pthread_join(t, NULL);
	rules_half_join(c, &h);
}

void parse_nsg_rules(struct ctx *c, size_t gi)
{
	struct policy *p = c->p;
	struct nsg *g = &p->nsgs[gi];
	const struct obj *o = &c->nsg_objs[gi];
	struct sorted_rule *sr = NULL;
	const char *rpath, *fpath;
	size_t n = 0, i, j, *ord;
	bool *ok = NULL;
	json_t *rules, *defs, *f;

	if (!o->flat)
		return;
	if ((f = obj_field(c, o, "flushConnection", &fpath))) {
		if (json_is_boolean(f))
			g->flush_connection = json_is_true(f);
		else
			perr(c, fpath, "must be true or false, not %s", jtype(f));
	}
	/* Exports list Azure's defaults: checked, never taken (docs/DESIGN.md §1). */
	if ((defs = obj_array(c, o, "defaultSecurityRules", &fpath)))
		check_export_defaults(c, defs, fpath);
	rules = obj_array(c, o, "securityRules", &rpath);
	if (rules && over_limit(c, rules, rpath))
		return;
	if (rules) {
		n = json_array_size(rules);
		sr = xcalloc(n, sizeof(*sr));
		ok = xcalloc(n, sizeof(*ok));
		parse_all_rules(c, rules, rpath, sr, ok, n);
	}
	check_rule_names_prios(c, sr, n);

	/* Only well-formed rules make it into the model; the model is
	 * dropped anyway when any error was found.  Their indexes are sorted,
	 * not the rules: each rule is copied once, into its place. */
	g->rules = xcalloc(n + NDEFAULTS, sizeof(*g->rules));
	ord = xcalloc(n ? n : 1, sizeof(*ord));
	for (i = 0, j = 0; i < n; i++) {
		if (ok[i])
			ord[j++] = i;
		else
			rule_free(&sr[i].r);
	}
	if (j) /* sr is NULL for an NSG without securityRules */
		qsort_r(ord, j, sizeof(*ord), rule_cmp, sr);
	for (int d = 0; d < 2; d++) {
		for (i = 0; i < j; i++)
			if ((int)sr[ord[i]].r.dir == d)
				g->rules[g->nrules++] = sr[ord[i]].r;
		for (i = 0; i < NDEFAULTS; i++)
			if ((int)default_rules[i].dir == d)
				make_default(p, g, i, &g->rules[g->nrules++]);
	}
	free(ord);
	free(sr);
	free(ok);
}
