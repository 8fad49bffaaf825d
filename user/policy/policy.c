// SPDX-License-Identifier: MIT
/*
 * The policy loader: a JSON policy file (docs/DESIGN.md §1) in, the model of
 * model.h out, with every mistake reported by JSON path in one run.
 *
 * Shapes accepted are those Azure exports (`az network nsg show`, ARM
 * templates): keys are case-insensitive; a rule's, NSG's, subnet's or
 * interface's fields may sit under "properties" or flat on the object
 * (under "properties" wins when both hold one); singular and plural
 * prefix/port fields are unioned; NSG, subnet and ASG references are names
 * or ARM { "id": ".../NAME" } objects.  Paths in diagnostics follow where a
 * field actually sits, spelled as the file spelled it.
 *
 * Work happens in passes, so that every reference can be resolved and
 * every error reported: virtual network, timeouts, tags (file, then
 * inline, then the AzureLoadBalancer default: servicetags.c), ASG
 * declarations, NSG names, subnets, interfaces (ASG membership), NSG
 * rules, then checks across rules (limits; rules that can never match:
 * lint.c).  JSON access and diagnostic paths are json.c's.
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
 * - The NSG's "defaultSecurityRules" (in exports) are ignored: the six
 *   defaults are always Azure's.
 * - Unknown keys are ignored, except at the top level (warning: likely a
 *   typo) and in flowTimeouts (error).
 * - Shadowing is a single-rule check (lint.c says what it finds).
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
#include "json.h"
#include "parser.h"
#include "policy.h"

/* ---- whole-document checks -------------------------------------------- */

/* Keys are case-insensitive, so "Name" and "name" in one object clash. */
static void check_keys(struct ctx *c, json_t *v, const char *path)
{
	const char *k, *k2;
	json_t *m, *m2;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if (json_is_object(m) || json_is_array(m))
				check_keys(c, m, idx_path(c, path, i));
		return;
	}
	if (!json_is_object(v))
		return;
	json_object_foreach(v, k, m) {
		json_object_foreach(v, k2, m2) {
			if (k2 == k)
				break;
			if (!strcasecmp(k, k2)) {
				perr(c, key_path(c, path, k),
				     "duplicate key: \"%s\" and \"%s\" differ only in case "
				     "(keys are case-insensitive)", k2, k);
				break;
			}
		}
		if (json_is_object(m) || json_is_array(m))
			check_keys(c, m, key_path(c, path, k));
	}
}

static void check_top_keys(struct ctx *c, json_t *root)
{
	static const char *const known[] = {
		"virtualNetwork", "serviceTags", "serviceTagsFile", "applicationSecurityGroups",
		"networkSecurityGroups", "subnets", "interfaces", "flowTimeouts",
		"$schema", "description", "comment",
	};
	const char *k;
	json_t *v;

	json_object_foreach(root, k, v) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcasecmp(k, known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			pwarn(c, key_path(c, "$", k), "unknown key \"%s\" ignored", k);
	}
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

/* ---- virtual network and timeouts -------------------------------------- */

static void parse_vnet(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	struct xnsg_prefix platform;
	const char *k, *path, *fpath;
	json_t *v = jget(root, "virtualNetwork", &k), *f;
	struct obj o;

	if (v && !json_is_null(v)) {
		path = key_path(c, "$", k);
		if (!json_is_object(v)) {
			perr(c, path, "must be an object, not %s", jtype(v));
		} else {
			const char *name;

			obj_init(c, &o, v, path);
			name = obj_str(c, &o, "name", false, &fpath);
			if (name)
				p->vnet_name = xstrdup(name);
			if ((f = obj_field(c, &o, "addressPrefixes", &fpath)))
				literal_prefixes(c, f, fpath, &p->vnet_prefixes);
			if ((f = obj_field(c, &o, "connectedPrefixes", &fpath)))
				literal_prefixes(c, f, fpath, &p->connected_prefixes);
		}
	}
	/* VirtualNetwork = addressPrefixes + connectedPrefixes + 168.63.129.16. */
	prefix_list_append(&p->virtual_network, &p->vnet_prefixes);
	prefix_list_append(&p->virtual_network, &p->connected_prefixes);
	prefix_parse(AZURE_PLATFORM_ADDR, &platform, NULL);
	prefix_list_add_unique(&p->virtual_network, &platform);
}

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

/* ---- application security groups --------------------------------------- */

static void parse_asgs(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k, *path;
	json_t *v = jget(root, "applicationSecurityGroups", &k), *m, *a;
	size_t i;

	if (!v || json_is_null(v))
		return;
	path = key_path(c, "$", k);
	if (!json_is_object(v)) {
		perr(c, path, "must be an object of group name -> member addresses, not %s",
		     jtype(v));
		return;
	}
	p->asgs = xcalloc(json_object_size(v), sizeof(*p->asgs));
	json_object_foreach(v, k, m) {
		const char *mpath = key_path(c, path, k);
		struct asg *g = &p->asgs[p->nasgs++];

		g->name = xstrdup(k);
		if (json_is_null(m))
			continue;
		if (!json_is_array(m)) {
			perr(c, mpath, "must be an array of member addresses, not %s", jtype(m));
			continue;
		}
		json_array_foreach(m, i, a) {
			struct xnsg_prefix pf;

			if (host_prefix(c, a, idx_path(c, mpath, i), &pf, NULL))
				prefix_list_add_unique(&g->members, &pf);
		}
	}
}

/* ---- NSG names, subnets, interfaces ---------------------------------- */

static void parse_nsg_names(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k, *path, *npath;
	json_t *v = jget(root, "networkSecurityGroups", &k), *g;
	size_t i;

	if (!v || json_is_null(v))
		return;
	path = key_path(c, "$", k);
	if (!json_is_array(v)) {
		perr(c, path, "must be an array of network security groups, not %s", jtype(v));
		return;
	}
	p->nnsgs = json_array_size(v);
	p->nsgs = xcalloc(p->nnsgs, sizeof(*p->nsgs));
	c->nsg_objs = xcalloc(p->nnsgs, sizeof(*c->nsg_objs));
	json_array_foreach(v, i, g) {
		struct nsg *n = &p->nsgs[i];
		const char *gpath = idx_path(c, path, i), *name;

		n->path = xstrdup(gpath);
		if (!json_is_object(g)) {
			perr(c, gpath, "a network security group must be an object, not %s",
			     jtype(g));
			continue;
		}
		obj_init(c, &c->nsg_objs[i], g, gpath);
		name = obj_str(c, &c->nsg_objs[i], "name", true, &npath);
		if (!name)
			continue;
		if (nsg_find(p, name) >= 0)
			perr(c, npath, "network security group name '%s' is already used by %s",
			     name, p->nsgs[nsg_find(p, name)].path);
		if (strchr(name, '/'))
			perr(c, npath, "network security group name '%s' contains '/': Azure "
			     "resource names cannot", name);
		n->name = xstrdup(name);
	}
}

/* Azure places every subnet inside its VNet; one outside is not covered
 * by the VirtualNetwork tag, so AllowVnetInBound does not hold for it. */
static void warn_outside_vnet(struct ctx *c, const struct subnet *sn, const char *spath)
{
	const struct prefix_list *v = &c->p->vnet_prefixes;
	char buf[XNSG_PREFIX_STRLEN];

	if (!v->n)
		return;
	for (size_t i = 0; i < sn->prefixes.n; i++) {
		bool inside = false;

		for (size_t j = 0; j < v->n && !inside; j++)
			inside = prefix_covers(&v->v[j], &sn->prefixes.v[i]);
		if (!inside)
			pwarn(c, spath, "subnet prefix %s lies outside virtualNetwork.addressPrefixes: "
			      "the VirtualNetwork tag does not cover it",
			      prefix_fmt(&sn->prefixes.v[i], buf, sizeof(buf)));
	}
}

static void parse_subnets(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k, *path, *fpath;
	json_t *v = jget(root, "subnets", &k), *s, *f;
	size_t i;

	if (!v || json_is_null(v))
		return;
	path = key_path(c, "$", k);
	if (!json_is_array(v)) {
		perr(c, path, "must be an array of subnets, not %s", jtype(v));
		return;
	}
	p->nsubnets = json_array_size(v);
	p->subnets = xcalloc(p->nsubnets, sizeof(*p->subnets));
	json_array_foreach(v, i, s) {
		struct subnet *sn = &p->subnets[i];
		const char *spath = idx_path(c, path, i), *name;
		struct xnsg_prefix pf;
		bool any = false;
		struct obj o;

		sn->nsg = -1;
		if (!json_is_object(s)) {
			perr(c, spath, "a subnet must be an object, not %s", jtype(s));
			continue;
		}
		obj_init(c, &o, s, spath);
		name = obj_str(c, &o, "name", true, &fpath);
		if (name) {
			if (subnet_find(p, name) >= 0)
				perr(c, fpath, "subnet name '%s' is already used by $.%s[%d]", name,
				     k, subnet_find(p, name));
			sn->name = xstrdup(name);
		}
		if ((f = obj_field(c, &o, "addressPrefix", &fpath))) {
			any = true;
			if (literal_prefix(c, f, fpath, &pf))
				prefix_list_add(&sn->prefixes, &pf);
		}
		if ((f = obj_field(c, &o, "addressPrefixes", &fpath))) {
			any = any || (json_is_array(f) && json_array_size(f));
			literal_prefixes(c, f, fpath, &sn->prefixes);
		}
		if (!any)
			perr(c, obj_fields_path(&o),
			     "missing \"addressPrefix\" or \"addressPrefixes\"");
		warn_outside_vnet(c, sn, spath);
		sn->nsg = nsg_ref(c, &o);
	}
}

static bool ifname_valid(const char *s)
{
	if (!*s || strlen(s) > POLICY_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static void iface_add_asg(struct policy *p, struct iface *ifc, int gi)
{
	for (size_t i = 0; i < ifc->nasgs; i++)
		if (!strcmp(ifc->asgs[i], p->asgs[gi].name))
			return;
	ifc->asgs = xrealloc(ifc->asgs, (ifc->nasgs + 1) * sizeof(*ifc->asgs));
	ifc->asgs[ifc->nasgs++] = xstrdup(p->asgs[gi].name);
}

/*
 * An interface is in one subnet: its address a (at apath) must not lie in
 * another subnet than the one it names.  *other: the subnet the
 * addresses of an interface naming none lie in so far, -1 for none.
 */
static void check_addr_subnet(struct ctx *c, const struct iface *ifc, const struct xnsg_addr *a,
			      const char *apath, int *other)
{
	const struct policy *p = c->p;
	char buf[XNSG_PREFIX_STRLEN];

	/* The named subnet holds it: that is where it is. */
	if (ifc->subnet >= 0 && prefix_list_contains(&p->subnets[ifc->subnet].prefixes, a))
		return;
	for (size_t s = 0; s < p->nsubnets; s++) {
		/* A duplicate of the named subnet's name is reported already. */
		if ((int)s == ifc->subnet || !p->subnets[s].name ||
		    (ifc->subnet >= 0 &&
		     !strcasecmp(p->subnets[s].name, p->subnets[ifc->subnet].name)) ||
		    !prefix_list_contains(&p->subnets[s].prefixes, a))
			continue;
		addr_fmt(a, buf, sizeof(buf));
		if (ifc->subnet >= 0) {
			perr(c, apath, "address %s lies in subnet '%s', but interface '%s' is in "
			     "subnet '%s': an interface is in one subnet", buf, p->subnets[s].name,
			     ifc->name, p->subnets[ifc->subnet].name);
		} else if (*other >= 0 && *other != (int)s) {
			perr(c, apath, "address %s lies in subnet '%s', another address of "
			     "interface '%s' in subnet '%s': an interface is in one subnet", buf,
			     p->subnets[s].name, ifc->name, p->subnets[*other].name);
		} else if (*other < 0) {
			*other = (int)s;
			pwarn(c, apath, "address %s lies in subnet '%s', but interface '%s' names "
			      "no subnet: that subnet's NSG does not apply to it", buf,
			      p->subnets[s].name, ifc->name);
		}
		return;
	}
}

/* An interface's "applicationSecurityGroups": it joins each, and its
 * addresses become members of each. */
static void parse_iface_asgs(struct ctx *c, const struct obj *o, struct iface *ifc)
{
	struct policy *p = c->p;
	const char *fpath;
	json_t *f, *m;
	size_t i;

	if (!(f = obj_array(c, o, "applicationSecurityGroups", &fpath)))
		return;
	json_array_foreach(f, i, m) {
		int gi = asg_ref(c, m, idx_path(c, fpath, i));

		if (gi < 0)
			continue;
		iface_add_asg(p, ifc, gi);
		for (size_t a = 0; a < ifc->naddrs; a++) {
			struct xnsg_prefix pf = { .family = ifc->addrs[a].family };

			pf.len = pf.family == XNSG_V4 ? 32 : 128;
			memcpy(pf.bytes, ifc->addrs[a].bytes, 16);
			prefix_list_add_unique(&p->asgs[gi].members, &pf);
		}
	}
}

static void parse_one_iface(struct ctx *c, json_t *s, const char *ipath, size_t idx)
{
	struct policy *p = c->p;
	struct iface *ifc = &p->ifaces[idx];
	const char *fpath, *name, *str;
	json_t *f, *m;
	struct obj o;
	size_t i;

	ifc->subnet = -1;
	ifc->nsg = -1;
	if (!json_is_object(s)) {
		perr(c, ipath, "an interface must be an object, not %s", jtype(s));
		ifc->name = xstrdup("");
		return;
	}
	obj_init(c, &o, s, ipath);
	name = obj_str(c, &o, "name", true, &fpath);
	ifc->name = xstrdup(name ? name : "");
	if (name && !ifname_valid(name))
		perr(c, fpath, "'%s' is not a Linux interface name (1-%d characters, no '/', "
		     "':' or spaces)", name, POLICY_IFNAME_MAX);
	if (name) {
		for (i = 0; i < idx; i++) {
			if (!strcmp(p->ifaces[i].name, name)) {
				perr(c, fpath, "interface '%s' is already defined at "
				     "$.interfaces[%zu] (an interface is in one subnet, with one "
				     "definition)", name, i);
				break;
			}
		}
	}
	if ((f = obj_field(c, &o, "subnet", &fpath))) {
		const char *sname = ref_name(c, f, fpath, "subnets");

		if (sname) {
			ifc->subnet = subnet_find(p, sname);
			if (ifc->subnet < 0)
				perr(c, fpath, "unknown subnet '%s'", sname);
		}
	}
	ifc->nsg = nsg_ref(c, &o);
	if ((f = obj_array(c, &o, "ipAddresses", &fpath))) {
		int other = -1;

		ifc->addrs = xcalloc(json_array_size(f), sizeof(*ifc->addrs));
		json_array_foreach(f, i, m) {
			const char *apath = idx_path(c, fpath, i);
			struct xnsg_prefix pf;

			if (!host_prefix(c, m, apath, &pf, &ifc->addrs[ifc->naddrs]))
				continue;
			check_addr_subnet(c, ifc, &ifc->addrs[ifc->naddrs], apath, &other);
			ifc->naddrs++;
		}
	}
	if (!f || !json_array_size(f))
		pwarn(c, ipath, "interface '%s' has no ipAddresses: application security groups "
		      "cannot match it", ifc->name);
	parse_iface_asgs(c, &o, ifc);
	ifc->attach = XNSG_ATTACH_HOST;
	if ((str = obj_str(c, &o, "attach", false, &fpath))) {
		if (!strcasecmp(str, "peer"))
			ifc->attach = XNSG_ATTACH_PEER;
		else if (strcasecmp(str, "host"))
			perr(c, fpath, "'%s' is not an attach mode: use \"host\" or \"peer\"", str);
	}
}

static void parse_ifaces(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k, *path;
	json_t *v = jget(root, "interfaces", &k), *s;
	size_t i;

	if (!v || json_is_null(v))
		return;
	path = key_path(c, "$", k);
	if (!json_is_array(v)) {
		perr(c, path, "must be an array of interfaces, not %s", jtype(v));
		return;
	}
	p->ifaces = xcalloc(json_array_size(v), sizeof(*p->ifaces));
	json_array_foreach(v, i, s) {
		p->nifaces = i + 1;
		parse_one_iface(c, s, idx_path(c, path, i), i);
	}
}

/* ---- entry points -------------------------------------------------------- */

void policy_free(struct policy *p)
{
	if (!p)
		return;
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
	for (size_t i = 0; i < p->nasgs; i++) {
		free(p->asgs[i].name);
		prefix_list_free(&p->asgs[i].members);
	}
	free(p->asgs);
	for (size_t i = 0; i < p->nnsgs; i++) {
		for (size_t j = 0; j < p->nsgs[i].nrules; j++)
			rule_free(&p->nsgs[i].rules[j]);
		free(p->nsgs[i].rules);
		free(p->nsgs[i].name);
		free(p->nsgs[i].path);
	}
	free(p->nsgs);
	for (size_t i = 0; i < p->nsubnets; i++) {
		free(p->subnets[i].name);
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

int policy_parse_string(const char *json, const char *name, const char *basedir,
			struct policy **out, struct diag_list *diags)
{
	struct ctx c = { .d = diags, .basedir = basedir };
	size_t errors_before = diags->nerrors;
	json_error_t je;
	json_t *root;

	*out = NULL;
	/* A UTF-8 byte-order mark is not JSON, but editors write one. */
	if (!strncmp(json, "\xef\xbb\xbf", 3))
		json += 3;
	/* DECODE_ANY: a scalar is valid JSON, just not a policy; say so. */
	root = json_loads(json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root) {
		diag_add(diags, DIAG_ERROR, "$", "JSON syntax error at line %d column %d: %s",
			 je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		diag_add(diags, DIAG_ERROR, "$", "the policy must be a JSON object, not %s",
			 jtype(root));
		json_decref(root);
		return -EINVAL;
	}
	c.p = xcalloc(1, sizeof(*c.p));
	c.p->file = xstrdup(name);

	check_keys(&c, root, "$");
	check_top_keys(&c, root);
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
	if (diags->nerrors == errors_before)
		check_shadowing(&c);

	json_decref(root);
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

int policy_load(const char *file, struct policy **out, struct diag_list *diags)
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
	err = policy_parse_string(text, file, dirname(copy), out, diags);
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
