// SPDX-License-Identifier: MIT
/*
 * The policy loader: a JSON policy file (docs/DESIGN.md §1) in, the model of
 * model.h out, with every mistake reported by JSON path in one run.
 *
 * Shapes accepted are those Azure exports (`az network nsg show`, `az
 * network vnet show`, `az network nic show`): keys are case-insensitive; a
 * rule's, NSG's, subnet's or interface's fields may sit under "properties"
 * or flat on the object (under "properties" wins when both hold one);
 * singular and plural prefix/port fields are unioned; NSG, subnet and ASG
 * references are names or ARM { "id": ... } objects, resolved by identity
 * (refs.c).  Paths in diagnostics follow where a field actually sits,
 * spelled as the file spelled it.  A document that is Azure's rather than
 * a host policy is refused first (host_document()), with the import
 * command that converts it.
 *
 * Work happens in passes, so that every reference can be resolved and
 * every error reported: whole-document checks (duplicate keys, template
 * expressions, unknown keys: keys.c), virtual network, timeouts, tags
 * (file, then inline, then the AzureLoadBalancer default: servicetags.c),
 * ASG declarations, NSG names, subnets, interfaces (ASG membership:
 * topology.c), NSG rules (rules.c), then rules that can never match
 * (lint.c).  JSON access and diagnostic paths are json.c's.
 *
 * Interpretation choices, where the design (docs/DESIGN.md §1) leaves room:
 * - Required rule fields (as Azure requires them): name, priority,
 *   direction, access, protocol, and on each side at least one address
 *   form (AddressPrefix, AddressPrefixes or ApplicationSecurityGroups,
 *   not all empty) and one port form (PortRange or PortRanges).  An empty
 *   singular string ("sourceAddressPrefix": "") counts as absent, as ARM
 *   tooling writes it beside a plural.
 * - Protocol "Any" is accepted as "*" (the portal's spelling).
 * - Ports whose union covers 0-65535 are '*' (port_list.any).
 * - ASGs must be declared under "applicationSecurityGroups"; referencing
 *   an undeclared one, from a rule or an interface, is an error.
 * - "An interface in two subnets": an interface name defined twice, an
 *   interface address lying in a subnet other than the one the interface
 *   names, or (for an interface naming no subnet) addresses lying in two
 *   different subnets.  An address of an interface without "subnet" lying
 *   in a subnet is a warning: that subnet's NSG does not apply to it.
 * - An export's "defaultSecurityRules" are checked against Azure's six
 *   (defaults.c), never taken: the six defaults are always Azure's.
 * - Unknown keys are warnings at every level (keys.c), errors in
 *   flowTimeouts.
 * - Shadowing is a single-rule check (lint.c says what it finds).
 * - What a valid policy binds is bindings.c's, run by the CLI.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "import.h"
#include "json.h"
#include "parser.h"
#include "policy.h"

/* ---- whole-document checks -------------------------------------------- */

/*
 * Is root a host policy?  Azure's own shapes -- a bare NSG, NIC or VNet,
 * a list, an array, an ARM template -- parse as JSON but name no host: the
 * parser would find nothing it knows and say "ok" to a policy that
 * filters nothing.  One line says what it is and how to convert it.
 */
static bool host_document(json_t *root, const char *file, struct diag_list *d)
{
	const char *what;
	enum azure_kind k = azure_doc_kind(root, &what);

	switch (k) {
	case AZ_HOST:
		return true;
	case AZ_NOT_JSON_OBJECT:
		diag_add(d, DIAG_ERROR, "$", "the policy must be a JSON object, not %s", jtype(root));
		break;
	case AZ_ARRAY:
		diag_add(d, DIAG_ERROR, "$", "the policy must be a JSON object, not %s: convert "
			 "Azure's exports with `xnsg import %s --map AZURE_NIC=IFNAME > policy.json`",
			 what, file);
		break;
	case AZ_TEMPLATE:
		diag_add(d, DIAG_ERROR, "$", "this is %s, not a host policy: deploy it, then "
			 "convert the deployed resources (az network nsg show, az network nic show, "
			 "az network vnet show) with `xnsg import FILE... --map AZURE_NIC=IFNAME > "
			 "policy.json`", what);
		break;
	default:
		diag_add(d, DIAG_ERROR, "$", "this is %s, not a host policy: it names no interface "
			 "to filter; convert it with `xnsg import %s --map AZURE_NIC=IFNAME > "
			 "policy.json`", what, file);
	}
	return false;
}

static void check_keys(struct ctx *c, json_t *v, const struct lpath *path);

/* A member of an array or object, at: containers are walked, strings
 * checked for template expressions; its path is spelled only for a
 * message (a large tag list has a million strings). */
static void check_member(struct ctx *c, json_t *m, const struct lpath *at)
{
	if (json_is_string(m) && azure_is_expression(json_string_value(m)))
		perr(c, lpath_str(c, at),
		     "'%s' is an ARM template expression, which only a deployment evaluates: "
		     "export the deployed resources instead (az network nsg show -g RG -n NAME) "
		     "and convert them with xnsg import", json_string_value(m));
	else if (json_is_object(m) || json_is_array(m))
		check_keys(c, m, at);
}

/* Keys are case-insensitive, so "Name" and "name" in one object clash;
 * and no value may be an ARM template expression.  Each key is compared
 * with the earlier ones of its length, read once into keys[]. */
static void check_keys(struct ctx *c, json_t *v, const struct lpath *path)
{
	struct { const char *k; size_t len; } few[32], *keys;
	size_t n = json_object_size(v), i = 0;
	json_t *m;

	json_array_foreach(v, i, m)
		check_member(c, m, &(struct lpath){ path, NULL, i });
	keys = n <= 32 ? few : xcalloc(n, sizeof(*keys));
	i = 0;
	for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it), i++) {
		const char *k = json_object_iter_key(it);
		size_t len = json_object_iter_key_len(it);

		for (size_t j = 0; j < i; j++)
			if (keys[j].len == len && key_eq(k, keys[j].k, len)) {
				perr(c, key_path(c, lpath_str(c, path), k),
				     "duplicate key: \"%s\" and \"%s\" differ only in case "
				     "(keys are case-insensitive)", keys[j].k, k);
				break;
			}
		keys[i].k = k;
		keys[i].len = len;
		check_member(c, json_object_iter_value(it), &(struct lpath){ path, k, 0 });
	}
	if (keys != few)
		free(keys);
}

/* ---- prefixes ------------------------------------------------------- */

/*
 * ::ffff:a.b.c.d is an IPv6 address: it never matches the IPv4 packet a
 * user who wrote it meant (docs/DESIGN.md §2, families never mix).  Say so,
 * and what to write instead.
 */
void warn_v4_mapped(struct ctx *c, const char *path, const char *s,
			   const struct xnsg_prefix *pf)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct xnsg_prefix v4 = { .family = XNSG_V4 };
	char buf[XNSG_PREFIX_STRLEN];

	if (pf->family != XNSG_V6 || pf->len < 96 || memcmp(pf->bytes, mapped, 12))
		return;
	v4.len = (uint8_t)(pf->len - 96);
	memcpy(v4.bytes, pf->bytes + 12, 4);
	prefix_fmt(&v4, buf, sizeof(buf));
	if (v4.len == 32)
		*strchr(buf, '/') = '\0';
	pwarn(c, path, "'%s' is an IPv4-mapped IPv6 %s: it matches IPv6 packets only, never "
	      "IPv4 ones; did you mean %s?", s, pf->len == 128 ? "address" : "prefix", buf);
}

/* A literal address or CIDR string into *out; warns on host bits. */
bool literal_prefix(struct ctx *c, json_t *v, const char *path, struct xnsg_prefix *out)
{
	char buf[XNSG_PREFIX_STRLEN];
	const char *s;
	bool hb;

	if (!json_is_string(v)) {
		perr(c, path, "must be a prefix string, not %s", jtype(v));
		return false;
	}
	s = json_string_value(v);
	if (prefix_parse(s, out, &hb)) {
		perr(c, path, "'%s' is not an IPv4 or IPv6 address or CIDR prefix", s);
		return false;
	}
	if (hb)
		pwarn(c, path, "host bits set in '%s': using %s", s,
		      prefix_fmt(out, buf, sizeof(buf)));
	warn_v4_mapped(c, path, s, out);
	return true;
}

void literal_prefixes(struct ctx *c, json_t *a, const char *path, struct prefix_list *l)
{
	struct xnsg_prefix pf;
	json_t *v;
	size_t i;

	if (!json_is_array(a)) {
		perr(c, path, "must be an array of prefixes, not %s", jtype(a));
		return;
	}
	json_array_foreach(a, i, v)
		if (literal_prefix(c, v, idx_path(c, path, i), &pf))
			prefix_list_add(l, &pf);
}

/* An address (not a prefix) as its /32 or /128. */
bool host_prefix(struct ctx *c, json_t *v, const char *path, struct xnsg_prefix *out,
			struct xnsg_addr *addr)
{
	struct xnsg_addr a;
	const char *s;

	if (!json_is_string(v)) {
		perr(c, path, "must be an IP address string, not %s", jtype(v));
		return false;
	}
	s = json_string_value(v);
	if (addr_parse(s, &a)) {
		perr(c, path, "'%s' is not an IP address%s", s,
		     strchr(s, '/') ? " (write the address without a prefix length)" : "");
		return false;
	}
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	out->len = a.family == XNSG_V4 ? 32 : 128;
	memcpy(out->bytes, a.bytes, sizeof(a.bytes));
	warn_v4_mapped(c, path, s, out);
	if (addr)
		*addr = a;
	return true;
}

static bool prefix_eq(const struct xnsg_prefix *a, const struct xnsg_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->bytes, b->bytes, 16);
}

void prefix_list_add_unique(struct prefix_list *l, const struct xnsg_prefix *pf)
{
	for (size_t i = 0; i < l->n; i++)
		if (prefix_eq(&l->v[i], pf))
			return;
	prefix_list_add(l, pf);
}

/* ---- timeouts ------------------------------------------------------------ */

/*
 * "flowTimeouts": { "tcpEstablished": 240, "tcpTransitory": 30, "udp": 30,
 *                   "udpStream": 120, "other": 30 }
 * Idle timeouts in whole seconds, 1 to POLICY_MAX_TIMEOUT; each optional,
 * defaults as shown (docs/DESIGN.md §2): TCP established, TCP handshake/closing,
 * UDP seen one way, UDP seen both ways, ICMP and everything else.
 */
static const struct {
	const char *key;
	size_t off;
	uint32_t def;
} timeout_keys[] = {
	{ "tcpEstablished", offsetof(struct flow_timeouts, tcp_established), 240 },
	{ "tcpTransitory", offsetof(struct flow_timeouts, tcp_transitory), 30 },
	{ "udp", offsetof(struct flow_timeouts, udp), 30 },
	{ "udpStream", offsetof(struct flow_timeouts, udp_stream), 120 },
	{ "other", offsetof(struct flow_timeouts, other), 30 },
};

#define NTIMEOUTS (sizeof(timeout_keys) / sizeof(timeout_keys[0]))

static void parse_timeouts(struct ctx *c, json_t *root)
{
	const char *k, *path;
	json_t *v = jget(root, "flowTimeouts", &k), *m;

	for (size_t i = 0; i < NTIMEOUTS; i++)
		*(uint32_t *)((char *)&c->p->timeouts + timeout_keys[i].off) = timeout_keys[i].def;
	if (!v || json_is_null(v))
		return;
	path = key_path(c, "$", k);
	if (!json_is_object(v)) {
		perr(c, path, "must be an object, not %s", jtype(v));
		return;
	}
	json_object_foreach(v, k, m) {
		const char *mpath = key_path(c, path, k);
		size_t i;

		for (i = 0; i < NTIMEOUTS; i++)
			if (!strcasecmp(k, timeout_keys[i].key))
				break;
		if (i == NTIMEOUTS) {
			perr(c, mpath, "unknown timeout \"%s\" (known: tcpEstablished, "
			     "tcpTransitory, udp, udpStream, other)", k);
			continue;
		}
		if (!json_is_integer(m)) {
			perr(c, mpath, "must be a whole number of seconds, not %s", jtype(m));
			continue;
		}
		if (json_integer_value(m) < 1 || json_integer_value(m) > POLICY_MAX_TIMEOUT) {
			perr(c, mpath, "%lld seconds is outside 1-%u", json_integer_value(m),
			     POLICY_MAX_TIMEOUT);
			continue;
		}
		*(uint32_t *)((char *)&c->p->timeouts + timeout_keys[i].off) =
			(uint32_t)json_integer_value(m);
	}
}

/* ---- entry points -------------------------------------------------------- */

void policy_free(struct policy *p)
{
	if (!p)
		return;
	policy_lint_join(p, NULL); /* it reads p */
	free(p->file);
	free(p->vnet_name);
	prefix_list_free(&p->vnet_prefixes);
	prefix_list_free(&p->connected_prefixes);
	prefix_list_free(&p->virtual_network);
	for (size_t i = 0; i < p->ntags; i++) {
		free(p->tags[i].name);
		prefix_list_free(&p->tags[i].prefixes);
	}
	free(p->tags);
	tag_index_free(p->tag_index);
	for (size_t i = 0; i < p->nasgs; i++) {
		free(p->asgs[i].name);
		free(p->asgs[i].path);
		ident_free(&p->asgs[i].ident);
		prefix_list_free(&p->asgs[i].members);
	}
	free(p->asgs);
	for (size_t i = 0; i < p->nnsgs; i++) {
		for (size_t j = 0; j < p->nsgs[i].nrules; j++)
			rule_free(&p->nsgs[i].rules[j]);
		free(p->nsgs[i].rules);
		free(p->nsgs[i].name);
		free(p->nsgs[i].path);
		ident_free(&p->nsgs[i].ident);
	}
	free(p->nsgs);
	for (size_t i = 0; i < p->nsubnets; i++) {
		free(p->subnets[i].name);
		free(p->subnets[i].path);
		ident_free(&p->subnets[i].ident);
		prefix_list_free(&p->subnets[i].prefixes);
	}
	free(p->subnets);
	for (size_t i = 0; i < p->nifaces; i++) {
		free(p->ifaces[i].name);
		free(p->ifaces[i].addrs);
		for (size_t j = 0; j < p->ifaces[i].nasgs; j++)
			free(p->ifaces[i].asgs[j]);
		free(p->ifaces[i].asgs);
	}
	free(p->ifaces);
	free(p);
}

static int parse_document(const char *json, const char *name, const char *basedir,
			  enum policy_lint lint, struct policy **out, struct diag_list *diags)
{
	struct ctx c = { .d = diags, .basedir = basedir };
	size_t errors_before = diags->nerrors;
	json_error_t je;
	json_t *root;
	bool plain = false;

	*out = NULL;
	/* A UTF-8 byte-order mark is not JSON, but editors write one. */
	if (!strncmp(json, "\xef\xbb\xbf", 3))
		json += 3;
	/* DECODE_ANY: a scalar is valid JSON, just not a policy; say so. */
	root = quick_json_parse(json, strlen(json), &plain);
	if (!root)
		root = json_loads(json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root && !json[strspn(json, " \t\r\n")]) {
		diag_add(diags, DIAG_ERROR, "$", "the file is empty (a policy is a JSON object)");
		return -EINVAL;
	}
	if (!root) {
		diag_add(diags, DIAG_ERROR, "$", "JSON syntax error at line %d column %d: %s",
			 je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!host_document(root, name, diags)) {
		json_decref(root);
		return -EINVAL;
	}
	c.p = xcalloc(1, sizeof(*c.p));
	c.p->file = xstrdup(name);

	if (!plain)
		check_keys(&c, root, &(struct lpath){ NULL, "$", 0 });
	check_unknown_keys(&c, root);
	parse_vnet(&c, root);
	parse_timeouts(&c, root);
	parse_tags(&c, root);
	parse_asgs(&c, root);
	parse_nsg_names(&c, root);
	parse_subnets(&c, root);
	parse_ifaces(&c, root);
	for (size_t i = 0; i < c.p->nnsgs; i++)
		parse_nsg_rules(&c, i);
	/* Advisory, and only meaningful on a policy that stands. */
	if (diags->nerrors == errors_before && lint == POLICY_LINT_NOW)
		check_shadowing(&c);
	else if (diags->nerrors == errors_before && lint == POLICY_LINT_BESIDE)
		check_shadowing_beside(&c);

	json_arena_drop(root);
	for (size_t i = 0; i < c.scratch.n; i++)
		free(c.scratch.v[i]);
	free(c.scratch.v);
	free(c.nsg_objs);
	prefix_list_free(&c.internet);
	if (diags->nerrors != errors_before) {
		policy_free(c.p);
		return -EINVAL;
	}
	*out = c.p;
	return 0;
}

/* The document's tree lives in the arena (quickjson.c) for the parse:
 * nothing of it is kept, the model copies what it takes. */
int policy_parse_string_lint(const char *json, const char *name, const char *basedir,
			     enum policy_lint lint, struct policy **out, struct diag_list *diags)
{
	int err;

	json_arena_begin(strlen(json));
	err = parse_document(json, name, basedir, lint, out, diags);
	json_arena_end();
	return err;
}

int policy_parse_string(const char *json, const char *name, const char *basedir,
			struct policy **out, struct diag_list *diags)
{
	return policy_parse_string_lint(json, name, basedir, POLICY_LINT_NOW, out, diags);
}

int policy_load(const char *file, struct policy **out, struct diag_list *diags)
{
	return policy_load_lint(file, POLICY_LINT_NOW, out, diags);
}

int policy_load_lint(const char *file, enum policy_lint lint, struct policy **out,
		     struct diag_list *diags)
{
	char *text, *copy;
	struct stat st;
	int err;

	*out = NULL;
	err = policy_read_file(file, &text, NULL, &st);
	if (err) {
		diag_add(diags, DIAG_ERROR, "", "cannot read %s: %s", file,
			 policy_file_strerror(err));
		return err;
	}
	policy_file_perm_warnings(diags, "", file, &st);
	copy = xstrdup(file);
	err = policy_parse_string_lint(text, file, dirname(copy), lint, out, diags);
	free(copy);
	free(text);
	return err;
}

int policy_find_iface(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nifaces; i++)
		if (!strcmp(p->ifaces[i].name, name))
			return (int)i;
	return -1;
}

const struct rule *nsg_rules(const struct nsg *g, enum xnsg_dir dir, size_t *n)
{
	size_t i = 0, j;

	while (i < g->nrules && g->rules[i].dir != dir)
		i++;
	for (j = i; j < g->nrules && g->rules[j].dir == dir; j++)
		;
	*n = j - i;
	return g->rules + i;
}
