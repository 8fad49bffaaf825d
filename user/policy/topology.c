// SPDX-License-Identifier: MIT
/*
 * A host's topology (docs/DESIGN.md §1): its virtual network, application
 * security groups, the NSGs' names, subnets and interfaces -- read both
 * in xnsg's own shape and in the shapes Azure exports: the VNet of
 * `az network vnet show` (properties.addressSpace.addressPrefixes,
 * properties.subnets[]), a NIC of `az network nic show`
 * (properties.ipConfigurations[] with privateIPAddress, subnet and
 * applicationSecurityGroups), references by ARM id.  Part of the policy
 * parser (policy.c runs the passes); identities are refs.c's.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "json.h"
#include "parser.h"
#include "policy.h"

/* ---- virtual network ----------------------------------------------------- */

void parse_vnet(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	struct xnsg_prefix platform;
	const char *k, *path, *fpath, *name;
	json_t *v = jget(root, "virtualNetwork", &k), *f;
	struct obj *o = &c->vnet;

	if (v && !json_is_null(v)) {
		path = key_path(c, "$", k);
		if (!json_is_object(v)) {
			perr(c, path, "must be an object, not %s", jtype(v));
		} else {
			obj_init(c, o, v, path);
			name = obj_str(c, o, "name", false, &fpath);
			if (name)
				p->vnet_name = xstrdup(name);
			if ((f = obj_field(c, o, "addressPrefixes", &fpath)))
				literal_prefixes(c, f, fpath, &p->vnet_prefixes);
			/* `az network vnet show`: properties.addressSpace.addressPrefixes. */
			if ((f = obj_field(c, o, "addressSpace", &fpath))) {
				if (!json_is_object(f))
					perr(c, fpath, "must be an object, not %s", jtype(f));
				else if ((f = jget(f, "addressPrefixes", &k)) && !json_is_null(f))
					literal_prefixes(c, f, key_path(c, fpath, k),
							 &p->vnet_prefixes);
			}
			if ((f = obj_field(c, o, "connectedPrefixes", &fpath)))
				literal_prefixes(c, f, fpath, &p->connected_prefixes);
		}
	}
	/* VirtualNetwork = addressPrefixes + connectedPrefixes + 168.63.129.16. */
	prefix_list_append(&p->virtual_network, &p->vnet_prefixes);
	prefix_list_append(&p->virtual_network, &p->connected_prefixes);
	prefix_parse(AZURE_PLATFORM_ADDR, &platform, NULL);
	prefix_list_add_unique(&p->virtual_network, &platform);
}

/* ---- application security groups --------------------------------------- */

static void asg_members(struct ctx *c, struct asg *g, json_t *m, const char *mpath)
{
	struct xnsg_prefix pf;
	json_t *a;
	size_t i;

	if (!m || json_is_null(m))
		return;
	if (!json_is_array(m)) {
		perr(c, mpath, "must be an array of member addresses, not %s", jtype(m));
		return;
	}
	json_array_foreach(m, i, a)
		if (host_prefix(c, a, idx_path(c, mpath, i), &pf, NULL))
			prefix_list_add_unique(&g->members, &pf);
}

/* One of the array form: { "name", "id", "members": [addresses] }. */
static void parse_asg_entry(struct ctx *c, json_t *e, const char *epath)
{
	struct asg *g = &c->p->asgs[c->p->nasgs++];
	const char *name, *npath, *mpath;
	json_t *members;
	struct obj o;
	int dup;

	g->path = xstrdup(epath);
	obj_init(c, &o, e, epath);
	name = obj_str(c, &o, "name", true, &npath);
	if (!name)
		return;
	def_ident(c, &o, REF_ASG, name, npath, NULL, &g->ident);
	g->name = xstrdup(name);
	if ((dup = def_duplicate(c->p, REF_ASG, &g->ident, c->p->nasgs - 1)) >= 0)
		perr(c, npath, "application security group '%s' is already declared at %s", name,
		     c->p->asgs[dup].path);
	/* Two statements: C leaves the order of a call's arguments open, and
	 * mpath is set by obj_field(). */
	members = obj_field(c, &o, "members", &mpath);
	asg_members(c, g, members, mpath);
}

/*
 * "applicationSecurityGroups": an object of name -> member addresses, or
 * an array of { "name", "id", "members" } (as `xnsg import` writes it, so
 * two ASGs of one name in two resource groups can both be declared).
 */
void parse_asgs(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k, *path;
	json_t *v = jget(root, "applicationSecurityGroups", &k), *m;
	size_t i;

	if (!v || json_is_null(v))
		return;
	path = key_path(c, "$", k);
	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (json_is_object(m))
				continue;
			perr(c, path, "must be an object of group name -> member addresses, or an "
			     "array of {\"name\", \"id\", \"members\"} objects, not an array "
			     "holding %s", jtype(m));
			return;
		}
		p->asgs = xcalloc(json_array_size(v) + 1, sizeof(*p->asgs));
		json_array_foreach(v, i, m)
			parse_asg_entry(c, m, idx_path(c, path, i));
	} else if (json_is_object(v)) {
		p->asgs = xcalloc(json_object_size(v) + 1, sizeof(*p->asgs));
		json_object_foreach(v, k, m) {
			struct asg *g = &p->asgs[p->nasgs++];

			g->path = xstrdup(key_path(c, path, k));
			g->name = xstrdup(k);
			g->ident.name = xstrdup(k);
			asg_members(c, g, m, g->path);
		}
	} else {
		perr(c, path, "must be an object of group name -> member addresses, not %s",
		     jtype(v));
	}
	assign_shown_names(p, REF_ASG);
}

/* ---- NSG names --------------------------------------------------------- */

void parse_nsg_names(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k, *path, *npath;
	json_t *v = jget(root, "networkSecurityGroups", &k), *g;
	size_t i;
	int dup;

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
		if (strchr(name, '/'))
			perr(c, npath, "network security group name '%s' contains '/': Azure "
			     "resource names cannot", name);
		def_ident(c, &c->nsg_objs[i], REF_NSG, name, npath, NULL, &n->ident);
		/* Unique per resource group, as Azure's (docs/DESIGN.md §1). */
		if ((dup = def_duplicate(p, REF_NSG, &n->ident, i)) >= 0)
			perr(c, npath, "network security group name '%s' is already used by %s",
			     name, p->nsgs[dup].path);
		n->name = xstrdup(name);
	}
	assign_shown_names(p, REF_NSG);
}

/* ---- subnets ------------------------------------------------------------- */

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

/* vnet: the name of the VNet listing it, for its identity; or NULL.
 * *o: the subnet's object (flat NULL when it is not one). */
static void parse_one_subnet(struct ctx *c, json_t *s, const char *spath, const char *vnet,
			     struct obj *o)
{
	struct subnet *sn = &c->p->subnets[c->p->nsubnets++];
	const char *name, *fpath;
	struct xnsg_prefix pf;
	bool any = false;
	json_t *f;
	int dup;

	sn->nsg = -1;
	sn->path = xstrdup(spath);
	if (!json_is_object(s)) {
		perr(c, spath, "a subnet must be an object, not %s", jtype(s));
		return;
	}
	obj_init(c, o, s, spath);
	name = obj_str(c, o, "name", true, &fpath);
	if (name) {
		def_ident(c, o, REF_SUBNET, name, fpath, vnet, &sn->ident);
		if ((dup = def_duplicate(c->p, REF_SUBNET, &sn->ident, c->p->nsubnets - 1)) >= 0)
			perr(c, fpath, "subnet name '%s' is already used by %s", name,
			     c->p->subnets[dup].path);
		sn->name = xstrdup(name);
	}
	if ((f = obj_field(c, o, "addressPrefix", &fpath))) {
		any = true;
		if (literal_prefix(c, f, fpath, &pf))
			prefix_list_add(&sn->prefixes, &pf);
	}
	if ((f = obj_field(c, o, "addressPrefixes", &fpath))) {
		any = any || (json_is_array(f) && json_array_size(f));
		literal_prefixes(c, f, fpath, &sn->prefixes);
	}
	if (!any)
		perr(c, obj_fields_path(o), "missing \"addressPrefix\" or \"addressPrefixes\"");
	warn_outside_vnet(c, sn, spath);
}

/* An array of subnets at path, or NULL (absent, or a type error). */
static json_t *subnet_array(struct ctx *c, json_t *v, const char *path)
{
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v)) {
		perr(c, path, "must be an array of subnets, not %s", jtype(v));
		return NULL;
	}
	return v;
}

/*
 * The subnets of the VNet (its properties.subnets, as `az network vnet
 * show` prints them) and of "subnets", in that order; then their NSGs,
 * once every NSG and subnet has its name.
 */
void parse_subnets(struct ctx *c, json_t *root)
{
	struct policy *p = c->p;
	const char *k = NULL, *path = NULL, *vpath = NULL;
	json_t *top = jget(root, "subnets", &k), *in_vnet = NULL, *s;
	struct obj *objs;
	size_t i, n;

	if (top)
		path = key_path(c, "$", k);
	top = subnet_array(c, top, path);
	if (c->vnet.flat) {
		json_t *vs = obj_field(c, &c->vnet, "subnets", &vpath); /* sets vpath */

		in_vnet = subnet_array(c, vs, vpath);
	}
	n = json_array_size(top) + json_array_size(in_vnet);
	p->subnets = xcalloc(n ? n : 1, sizeof(*p->subnets));
	objs = xcalloc(n ? n : 1, sizeof(*objs));
	json_array_foreach(in_vnet, i, s)
		parse_one_subnet(c, s, idx_path(c, vpath, i), p->vnet_name, &objs[p->nsubnets]);
	json_array_foreach(top, i, s)
		parse_one_subnet(c, s, idx_path(c, path, i), NULL, &objs[p->nsubnets]);
	assign_shown_names(p, REF_SUBNET);
	for (i = 0; i < p->nsubnets; i++)
		if (objs[i].flat)
			p->subnets[i].nsg = nsg_ref(c, &objs[i]);
	free(objs);
}

/* ---- interfaces ---------------------------------------------------------- */

static bool ifname_valid(const char *s)
{
	if (!*s || strlen(s) > POLICY_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
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
		/* A duplicate of the named subnet is reported already. */
		if ((int)s == ifc->subnet || !p->subnets[s].name ||
		    (ifc->subnet >= 0 &&
		     def_duplicate(p, REF_SUBNET, &p->subnets[s].ident, p->nsubnets) ==
			     def_duplicate(p, REF_SUBNET, &p->subnets[ifc->subnet].ident,
					   p->nsubnets)) ||
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

/* The interface joins ASG gi: its addresses become members. */
static void iface_join_asg(struct policy *p, struct iface *ifc, int gi)
{
	for (size_t a = 0; a < ifc->naddrs; a++) {
		struct xnsg_prefix pf = { .family = ifc->addrs[a].family };

		pf.len = pf.family == XNSG_V4 ? 32 : 128;
		memcpy(pf.bytes, ifc->addrs[a].bytes, 16);
		prefix_list_add_unique(&p->asgs[gi].members, &pf);
	}
	for (size_t i = 0; i < ifc->nasgs; i++)
		if (!strcmp(ifc->asgs[i], p->asgs[gi].name))
			return;
	ifc->asgs = xrealloc(ifc->asgs, (ifc->nasgs + 1) * sizeof(*ifc->asgs));
	ifc->asgs[ifc->nasgs++] = xstrdup(p->asgs[gi].name);
}

/* An "applicationSecurityGroups" array of o (the interface's or an IP
 * configuration's): the interface joins each. */
static void iface_asgs(struct ctx *c, const struct obj *o, struct iface *ifc)
{
	const char *fpath;
	json_t *f, *m;
	size_t i;

	if (!(f = obj_array(c, o, "applicationSecurityGroups", &fpath)))
		return;
	json_array_foreach(f, i, m) {
		int gi = ref_at(c, m, idx_path(c, fpath, i), REF_ASG);

		if (gi >= 0)
			iface_join_asg(c->p, ifc, gi);
	}
}

/* The NIC shape: properties.ipConfigurations[], each an object. */
struct ipconfigs {
	struct obj *v;
	size_t n;
};

static void ipconfigs_init(struct ctx *c, const struct obj *o, struct ipconfigs *cf)
{
	const char *path;
	json_t *a = obj_array(c, o, "ipConfigurations", &path), *e;
	size_t i;

	cf->n = 0;
	cf->v = xcalloc(json_array_size(a) + 1, sizeof(*cf->v));
	json_array_foreach(a, i, e) {
		const char *epath = idx_path(c, path, i);

		if (!json_is_object(e))
			perr(c, epath, "an IP configuration must be an object, not %s", jtype(e));
		else
			obj_init(c, &cf->v[cf->n++], e, epath);
	}
}

/* The interface's subnet: its "subnet", and its IP configurations'. */
static void iface_subnet(struct ctx *c, const struct obj *o, const struct ipconfigs *cf,
			 struct iface *ifc)
{
	const char *fpath;
	json_t *f;

	if ((f = obj_field(c, o, "subnet", &fpath)))
		ifc->subnet = ref_at(c, f, fpath, REF_SUBNET);
	for (size_t i = 0; i < cf->n; i++) {
		int s;

		if (!(f = obj_field(c, &cf->v[i], "subnet", &fpath)) ||
		    (s = ref_at(c, f, fpath, REF_SUBNET)) < 0 || s == ifc->subnet)
			continue;
		if (ifc->subnet < 0)
			ifc->subnet = s;
		else
			perr(c, fpath, "subnet '%s', but interface '%s' is in subnet '%s': an "
			     "interface is in one subnet", c->p->subnets[s].name, ifc->name,
			     c->p->subnets[ifc->subnet].name);
	}
}

/* One address of the interface (at apath), unless it is not one. */
static void iface_addr(struct ctx *c, struct iface *ifc, json_t *m, const char *apath,
		       int *other)
{
	struct xnsg_prefix pf;

	if (!host_prefix(c, m, apath, &pf, &ifc->addrs[ifc->naddrs]))
		return;
	check_addr_subnet(c, ifc, &ifc->addrs[ifc->naddrs], apath, other);
	ifc->naddrs++;
}

/* "ipAddresses", and each IP configuration's privateIPAddress. */
static void iface_addrs(struct ctx *c, const struct obj *o, const struct ipconfigs *cf,
			struct iface *ifc, const char *ipath)
{
	const char *fpath;
	json_t *f = obj_array(c, o, "ipAddresses", &fpath), *m;
	size_t i, given = json_array_size(f);
	int other = -1;

	ifc->addrs = xcalloc(given + cf->n + 1, sizeof(*ifc->addrs));
	json_array_foreach(f, i, m)
		iface_addr(c, ifc, m, idx_path(c, fpath, i), &other);
	for (i = 0; i < cf->n; i++) {
		if ((m = obj_field(c, &cf->v[i], "privateIPAddress", &fpath))) {
			given++;
			iface_addr(c, ifc, m, fpath, &other);
		}
		/* A prefix delegated to the NIC is many addresses, none of them
		 * this interface's own: said, not silently taken or dropped. */
		if ((m = obj_field(c, &cf->v[i], "privateIPAddressPrefix", &fpath)))
			pwarn(c, fpath, "an IP prefix of the NIC, not an address: its addresses "
			      "are not the interface's here (ASGs do not hold them)");
	}
	if (!given)
		pwarn(c, ipath, "interface '%s' has no ipAddresses: application security groups "
		      "cannot match it", ifc->name);
}

/* "name": a Linux interface name, defined once. */
static void iface_name(struct ctx *c, const struct obj *o, struct iface *ifc, size_t idx)
{
	const char *fpath, *name = obj_str(c, o, "name", true, &fpath);

	ifc->name = xstrdup(name ? name : "");
	if (!name)
		return;
	if (!ifname_valid(name))
		perr(c, fpath, "'%s' is not a Linux interface name (1-%d characters, no '/', "
		     "':' or spaces)", name, POLICY_IFNAME_MAX);
	for (size_t i = 0; i < idx; i++) {
		if (!strcmp(c->p->ifaces[i].name, name)) {
			perr(c, fpath, "interface '%s' is already defined at $.interfaces[%zu] (an "
			     "interface is in one subnet, with one definition)", name, i);
			break;
		}
	}
}

static void parse_one_iface(struct ctx *c, json_t *s, const char *ipath, size_t idx)
{
	struct iface *ifc = &c->p->ifaces[idx];
	struct ipconfigs cf = { 0 };
	const char *fpath, *str;
	struct obj o;

	ifc->subnet = -1;
	ifc->nsg = -1;
	if (!json_is_object(s)) {
		perr(c, ipath, "an interface must be an object, not %s", jtype(s));
		ifc->name = xstrdup("");
		return;
	}
	obj_init(c, &o, s, ipath);
	iface_name(c, &o, ifc, idx);
	ipconfigs_init(c, &o, &cf);
	iface_subnet(c, &o, &cf, ifc);
	ifc->nsg = nsg_ref(c, &o);
	iface_addrs(c, &o, &cf, ifc, ipath);
	iface_asgs(c, &o, ifc);
	for (size_t i = 0; i < cf.n; i++)
		iface_asgs(c, &cf.v[i], ifc);
	free(cf.v);
	ifc->attach = XNSG_ATTACH_HOST;
	if ((str = obj_str(c, &o, "attach", false, &fpath))) {
		if (!strcasecmp(str, "peer"))
			ifc->attach = XNSG_ATTACH_PEER;
		else if (strcasecmp(str, "host"))
			perr(c, fpath, "'%s' is not an attach mode: use \"host\" or \"peer\"", str);
	}
}

void parse_ifaces(struct ctx *c, json_t *root)
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
