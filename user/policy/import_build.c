// SPDX-License-Identifier: MIT
/*
 * `xnsg import`, the second half: the host policy written from the
 * resources import.c collected.  Each --map NIC becomes an interface with
 * its IP configurations' addresses, subnet and ASGs and its NIC NSG; its
 * subnet comes with the subnet's NSG, the VNet with its address space
 * (and its peerings' address spaces as connectedPrefixes: Azure counts
 * them in VirtualNetwork).  Only what applies to a mapped NIC is written;
 * what Azure applies but no input holds (a subnet, an NSG, the VNet) is
 * an error, never a silent gap.  An ASG's members are the addresses of
 * every NIC given, mapped or not.  The policy is then loaded as `check`
 * loads it, and its diagnostics point back at the inputs.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "diag.h"
#include "import_int.h"
#include "json.h"
#include "policy.h"

/* An ASG the policy declares: a resource given, or only an id. */
struct asg_out {
	const char *id, *name, *rg;
	const struct az_res *res; /* or NULL */
	json_t *members;          /* addresses of the NICs not mapped */
};

/* Where a part of the policy came from: its JSON path in the policy, and
 * the input's "FILE: PATH". */
struct origin {
	char *out, *in;
};

struct build {
	struct imp *m;
	struct az_res *vnet;
	struct az_res **nsgs, **subnets, **nic_subnet, **nic_nsg; /* nic_*: per --map */
	size_t nnsgs, nsubnets;
	struct asg_out *asgs;
	size_t nasgs;
	struct origin *orig;
	size_t norig;
};

static const char *ref_id(json_t *ref)
{
	return json_string_value(jget(ref, "id", NULL));
}

static void add_origin(struct build *b, char *out, const char *file, const char *path)
{
	b->orig = xrealloc(b->orig, (b->norig + 1) * sizeof(*b->orig));
	b->orig[b->norig].out = out;
	b->orig[b->norig++].in = xasprintf("%s: %s", file, path);
}

/* ---- what applies to the mapped NICs ------------------------------------ */

static void use(struct az_res ***list, size_t *n, struct az_res *r)
{
	for (size_t i = 0; i < *n; i++)
		if ((*list)[i] == r)
			return;
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = r;
	r->used = true;
}

/* The resource an id names, or an error at `at` (a NIC or subnet) saying
 * what to add: what Azure applies is never silently left out. */
static struct az_res *need(struct build *b, enum azure_kind kind, const char *id,
			   const struct az_res *at, const char *what, const char *how)
{
	bool ambiguous;
	struct az_res *r = imp_find(b->m, kind, id, &ambiguous);

	if (!r)
		imp_diag(b->m, DIAG_ERROR, at, "", "%s %s: %s %s%s: %s",
			 at->kind == AZ_NIC ? "NIC" : "subnet", at->name, what, id,
			 ambiguous ? " matches more than one input" : " is in no input",
			 ambiguous ? "give each once" : how);
	return r;
}

/* A NIC's subnet: every IP configuration's must be the same one. */
static const char *nic_subnet_id(struct build *b, const struct az_res *nic)
{
	json_t *cfgs = az_field(nic->j, "ipConfigurations"), *c;
	const char *id = NULL, *sid, *pfx;
	size_t i;

	json_array_foreach(cfgs, i, c) {
		if ((pfx = az_str(c, "privateIPAddressPrefix")))
			imp_diag(b->m, DIAG_WARNING, nic, "", "NIC %s: IP configuration %s holds the "
				 "prefix %s, not an address: its addresses are not the interface's "
				 "here (ASGs do not hold them)", nic->name, az_str(c, "name") ?
				 az_str(c, "name") : "?", pfx);
		if (!(sid = ref_id(az_field(c, "subnet"))))
			continue;
		if (!id)
			id = sid;
		else if (strcasecmp(id, sid))
			imp_diag(b->m, DIAG_ERROR, nic, "", "NIC %s has IP configurations in two "
				 "subnets (%s, %s): an interface is in one subnet", nic->name, id, sid);
	}
	if (!id)
		imp_diag(b->m, DIAG_ERROR, nic, "", "NIC %s names no subnet in its "
			 "ipConfigurations", nic->name);
	return id;
}

/* Subnets and NSGs of each mapped NIC. */
static void plan_nics(struct build *b)
{
	const struct import_opts *o = b->m->o;

	for (size_t i = 0; i < o->nmaps; i++) {
		struct az_res *nic = &b->m->v[b->m->map_res[i]], *sn, *g;
		const char *sid = nic_subnet_id(b, nic), *gid;

		nic->used = true;
		if ((gid = ref_id(az_field(nic->j, "networkSecurityGroup"))) &&
		    (g = need(b, AZ_NSG, gid, nic, "its network security group",
			      "add the output of az network nsg show")))
			use(&b->nsgs, &b->nnsgs, b->nic_nsg[i] = g);
		if (!sid || !(sn = need(b, AZ_SUBNET, sid, nic, "its subnet", "add the output of "
					"az network vnet show for the virtual network holding it")))
			continue;
		b->nic_subnet[i] = sn;
		use(&b->subnets, &b->nsubnets, sn);
		if ((gid = ref_id(az_field(sn->j, "networkSecurityGroup"))) &&
		    (g = need(b, AZ_NSG, gid, sn, "its network security group",
			      "add the output of az network nsg show")))
			use(&b->nsgs, &b->nnsgs, g);
	}
}

/* The one VNet of the subnets used (or the only one given, with no NIC). */
static void plan_vnet(struct build *b)
{
	struct imp *m = b->m;

	for (size_t s = 0; s < b->nsubnets; s++) {
		const struct az_res *sn = b->subnets[s];
		struct az_res *v = NULL;

		for (size_t i = 0; i < m->n && !v; i++)
			if (m->v[i].kind == AZ_VNET && !strcasecmp(m->v[i].name, sn->parent ? sn->parent
											 : "") &&
			    (!m->v[i].rg || !sn->rg || !strcasecmp(m->v[i].rg, sn->rg)))
				v = &m->v[i];
		if (!v)
			imp_diag(m, DIAG_ERROR, sn, "", "subnet %s: its virtual network %s is in no "
				 "input, and its address space makes the VirtualNetwork tag: add the "
				 "output of az network vnet show", sn->name, sn->parent ? sn->parent : "?");
		else if (b->vnet && b->vnet != v)
			imp_diag(m, DIAG_ERROR, sn, "", "the mapped NICs are in two virtual networks "
				 "(%s, %s): a host policy is one virtual network; import them apart",
				 b->vnet->name, v->name);
		else
			b->vnet = v;
	}
	if (!m->o->nmaps) {
		size_t n = 0;

		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].kind == AZ_VNET && !n++)
				b->vnet = &m->v[i];
		if (n > 1)
			b->vnet = NULL;
	}
	if (b->vnet)
		b->vnet->used = true;
}

/* The declared ASG an id names, added when new. */
static struct asg_out *asg_use(struct build *b, const char *id)
{
	struct asg_out *a;
	struct arm_id parts;
	bool ambiguous;

	for (size_t i = 0; i < b->nasgs; i++)
		if (!strcasecmp(b->asgs[i].id, id))
			return &b->asgs[i];
	if (arm_id_parse(id, &parts))
		return NULL;
	b->asgs = xrealloc(b->asgs, (b->nasgs + 1) * sizeof(*b->asgs));
	a = &b->asgs[b->nasgs++];
	a->id = id;
	a->name = imp_keep(b->m, xstrdup(parts.name));
	a->rg = parts.rg ? imp_keep(b->m, xstrdup(parts.rg)) : NULL;
	a->res = imp_find(b->m, AZ_ASG, id, &ambiguous);
	a->members = json_array();
	arm_id_free(&parts);
	return a;
}

/* The ASGs of an "…ApplicationSecurityGroups" array or a NIC's IP
 * configurations, declared. */
static void asgs_of(struct build *b, json_t *refs)
{
	json_t *e;
	size_t i;

	json_array_foreach(refs, i, e)
		if (ref_id(e))
			asg_use(b, ref_id(e));
}

/* rules holds a rule named like child rule r. */
static bool has_rule(json_t *rules, const struct az_res *r)
{
	const char *name = r->name, *other;
	json_t *e;
	size_t i;

	json_array_foreach(rules, i, e)
		if (name && (other = json_string_value(jget(e, "name", NULL))) &&
		    !strcasecmp(name, other))
			return true;
	return false;
}

/* The rules of NSG g: its own securityRules, then the child rule
 * resources naming it (`az network nsg rule list`, a template's) that it
 * does not list already. */
static json_t *nsg_rules_of(struct build *b, const struct az_res *g, json_t *out)
{
	json_t *own = az_field(g->j, "securityRules"), *e;
	size_t i;

	json_array_foreach(own, i, e)
		json_array_append(out, e);
	for (size_t k = 0; k < b->m->n; k++) {
		struct az_res *r = &b->m->v[k];

		if (r->kind != AZ_RULE || !r->parent || strcasecmp(r->parent, g->name) ||
		    (r->rg && g->rg && strcasecmp(r->rg, g->rg)) ||
		    (r->sub && g->sub && strcasecmp(r->sub, g->sub)))
			continue;
		r->used = true;
		if (!has_rule(out, r)) {
			/* A template's child is named "NSG/RULE": the rule is RULE. */
			json_t *own = json_copy(r->j);

			json_object_set_new(own, "name", json_string(r->name));
			json_array_append_new(out, own);
		}
	}
	return out;
}

/* A mapped NIC declares its ASGs; one not mapped is a member of those
 * declared (its private addresses are). */
static void nic_asgs(struct build *b, const struct az_res *nic)
{
	json_t *cfgs = az_field(nic->j, "ipConfigurations"), *c, *e;
	size_t j, k;

	json_array_foreach(cfgs, j, c) {
		const char *ip = az_str(c, "privateIPAddress");

		json_array_foreach(az_field(c, "applicationSecurityGroups"), k, e) {
			const char *id = ref_id(e);
			struct asg_out *a = NULL;

			if (id && nic->mapped)
				asg_use(b, id);
			for (size_t i = 0; id && !nic->mapped && i < b->nasgs && !a; i++)
				if (!strcasecmp(b->asgs[i].id, id))
					a = &b->asgs[i];
			if (a && ip)
				json_array_append_new(a->members, json_string(ip));
		}
	}
}

/* Every ASG a used NSG's rule or a mapped NIC names; the members of each
 * are the addresses of the NICs given that are not mapped. */
static void plan_asgs(struct build *b)
{
	struct imp *m = b->m;

	for (size_t g = 0; g < b->nnsgs; g++) {
		json_t *rules = nsg_rules_of(b, b->nsgs[g], json_array()), *r;
		size_t i;

		json_array_foreach(rules, i, r) {
			asgs_of(b, az_field(r, "sourceApplicationSecurityGroups"));
			asgs_of(b, az_field(r, "destinationApplicationSecurityGroups"));
		}
		json_decref(rules);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].kind == AZ_NIC && m->v[i].mapped == !pass)
				nic_asgs(b, &m->v[i]);
}

/* ---- writing the policy --------------------------------------------------- */

/* How the policy refers to a definition: by name when no other of its
 * kind has it, else by ARM id (names are unique per resource group). */
static json_t *ref_out(struct build *b, enum azure_kind kind, const char *name, const char *id)
{
	size_t same = 0;

	for (size_t i = 0; kind == AZ_NSG && i < b->nnsgs; i++)
		same += !strcasecmp(b->nsgs[i]->name, name);
	for (size_t i = 0; kind == AZ_SUBNET && i < b->nsubnets; i++)
		same += !strcasecmp(b->subnets[i]->name, name);
	for (size_t i = 0; kind == AZ_ASG && i < b->nasgs; i++)
		same += !strcasecmp(b->asgs[i].name, name);
	if (same > 1 && id)
		return json_pack("{s:s}", "id", id);
	return json_string(name);
}

/* A definition's own fields: name, and id when known. */
static json_t *def_out(const struct az_res *r)
{
	json_t *o = json_pack("{s:s}", "name", r->name);

	if (r->id)
		json_object_set_new(o, "id", json_string(r->id));
	return o;
}

/* An "…ApplicationSecurityGroups" array with each ASG as the policy
 * declares it. */
static json_t *asg_refs_out(struct build *b, json_t *refs)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(refs, i, e) {
		struct asg_out *a = ref_id(e) ? asg_use(b, ref_id(e)) : NULL;

		json_array_append_new(out, a ? ref_out(b, AZ_ASG, a->name, a->id) : json_deep_copy(e));
	}
	return out;
}

/* A rule in the policy's flat shape: the fields the parser reads, as the
 * input wrote them (an empty singular or plural form left out). */
static json_t *rule_out(struct build *b, json_t *r)
{
	static const char *const fields[] = {
		"description", "priority", "direction", "access", "protocol",
		"sourceAddressPrefix", "sourceAddressPrefixes", "sourceApplicationSecurityGroups",
		"sourcePortRange", "sourcePortRanges",
		"destinationAddressPrefix", "destinationAddressPrefixes",
		"destinationApplicationSecurityGroups", "destinationPortRange",
		"destinationPortRanges", NULL,
	};
	json_t *o = json_object(), *name = jget(r, "name", NULL);

	json_object_set_new(o, "name", name ? json_deep_copy(name) : json_null());
	for (const char *const *f = fields; *f; f++) {
		json_t *v = az_field(r, *f);

		if (!v || (json_is_string(v) && !json_string_value(v)[0]) ||
		    (json_is_array(v) && !json_array_size(v)))
			continue;
		json_object_set_new(o, *f, strstr(*f, "ApplicationSecurityGroups")
					   ? asg_refs_out(b, v) : json_deep_copy(v));
	}
	return o;
}

static json_t *nsgs_out(struct build *b)
{
	json_t *out = json_array();

	for (size_t g = 0; g < b->nnsgs; g++) {
		const struct az_res *n = b->nsgs[g];
		json_t *o = def_out(n), *rules = nsg_rules_of(b, n, json_array()), *r, *rs, *flush;
		size_t i;

		add_origin(b, xasprintf("$.networkSecurityGroups[%zu]", g), n->file, n->path);
		if ((flush = az_field(n->j, "flushConnection")))
			json_object_set_new(o, "flushConnection", json_deep_copy(flush));
		rs = json_array();
		json_array_foreach(rules, i, r)
			json_array_append_new(rs, rule_out(b, r));
		json_object_set_new(o, "securityRules", rs);
		json_decref(rules);
		/* Exports list Azure's defaults: checked, not copied (never taken). */
		if ((r = az_field(n->j, "defaultSecurityRules"))) {
			char *at = xasprintf("%s: %s%s.defaultSecurityRules", n->file, n->path,
					     jget(jget(n->j, "properties", NULL), "defaultSecurityRules",
						  NULL) ? ".properties" : "");

			policy_check_default_rules(r, at, &b->m->r->diags);
			free(at);
		}
		json_array_append_new(out, o);
	}
	return out;
}

/* The values of array a appended to out, each once. */
static void append_unique(json_t *out, json_t *a)
{
	json_t *e, *o;
	size_t i, j;

	json_array_foreach(a, i, e) {
		bool seen = false;

		json_array_foreach(out, j, o)
			seen = seen || json_equal(o, e);
		if (!seen)
			json_array_append(out, e);
	}
}

/* The VNet's address space; its peerings' (connected ones) are
 * connectedPrefixes, which Azure counts in VirtualNetwork. */
static json_t *vnet_out(struct build *b)
{
	const struct az_res *v = b->vnet;
	json_t *o = def_out(v), *space = json_array(), *peered = json_array(), *p;
	size_t i;

	add_origin(b, xstrdup("$.virtualNetwork"), v->file, v->path);
	append_unique(space, jget(az_field(v->j, "addressSpace"), "addressPrefixes", NULL));
	json_object_set_new(o, "addressPrefixes", space);
	json_array_foreach(az_field(v->j, "virtualNetworkPeerings"), i, p) {
		const char *state = az_str(p, "peeringState");

		if (state && strcasecmp(state, "Connected"))
			continue;
		append_unique(peered, jget(az_field(p, "remoteAddressSpace"), "addressPrefixes",
					   NULL));
		append_unique(peered, jget(az_field(p, "remoteVirtualNetworkAddressSpace"),
					   "addressPrefixes", NULL));
	}
	if (json_array_size(peered))
		json_object_set_new(o, "connectedPrefixes", peered);
	else
		json_decref(peered);
	return o;
}

static json_t *asgs_out(struct build *b)
{
	json_t *out = json_array();

	for (size_t i = 0; i < b->nasgs; i++) {
		const struct asg_out *a = &b->asgs[i];
		json_t *o = json_pack("{s:s,s:s}", "name", a->name, "id", a->id);

		if (json_array_size(a->members))
			json_object_set(o, "members", a->members);
		if (a->res)
			add_origin(b, xasprintf("$.applicationSecurityGroups[%zu]", i), a->res->file,
				   a->res->path);
		json_array_append_new(out, o);
	}
	return out;
}

static json_t *subnets_out(struct build *b)
{
	json_t *out = json_array();

	for (size_t i = 0; i < b->nsubnets; i++) {
		const struct az_res *sn = b->subnets[i];
		json_t *o = def_out(sn), *v;
		bool ambiguous;
		const struct az_res *g;

		add_origin(b, xasprintf("$.subnets[%zu]", i), sn->file, sn->path);
		if ((v = az_field(sn->j, "addressPrefix")))
			json_object_set_new(o, "addressPrefix", json_deep_copy(v));
		if ((v = az_field(sn->j, "addressPrefixes")) && json_array_size(v))
			json_object_set_new(o, "addressPrefixes", json_deep_copy(v));
		if ((g = imp_find(b->m, AZ_NSG, ref_id(az_field(sn->j, "networkSecurityGroup")),
				  &ambiguous)))
			json_object_set_new(o, "networkSecurityGroup",
					    ref_out(b, AZ_NSG, g->name, g->id));
		json_array_append_new(out, o);
	}
	return out;
}

/* One --map NIC as an interface. */
static json_t *iface_out(struct build *b, size_t i)
{
	const struct import_map *mp = &b->m->o->maps[i];
	const struct az_res *nic = &b->m->v[b->m->map_res[i]];
	json_t *o = json_pack("{s:s}", "name", mp->ifname), *addrs = json_array(), *asgs, *c;
	size_t k;

	add_origin(b, xasprintf("$.interfaces[%zu]", i), nic->file, nic->path);
	json_object_set_new(o, "networkInterface", nic->id ? json_pack("{s:s}", "id", nic->id)
							    : json_string(nic->name));
	json_object_set_new(o, "attach", json_string(mp->attach == XNSG_ATTACH_PEER ? "peer"
										    : "host"));
	if (b->nic_subnet[i])
		json_object_set_new(o, "subnet", ref_out(b, AZ_SUBNET, b->nic_subnet[i]->name,
							 b->nic_subnet[i]->id));
	if (b->nic_nsg[i])
		json_object_set_new(o, "networkSecurityGroup",
				    ref_out(b, AZ_NSG, b->nic_nsg[i]->name, b->nic_nsg[i]->id));
	asgs = json_array();
	json_array_foreach(az_field(nic->j, "ipConfigurations"), k, c) {
		json_t *refs = asg_refs_out(b, az_field(c, "applicationSecurityGroups"));

		if (az_str(c, "privateIPAddress"))
			json_array_append_new(addrs, json_string(az_str(c, "privateIPAddress")));
		append_unique(asgs, refs);
		json_decref(refs);
	}
	json_object_set_new(o, "ipAddresses", addrs);
	if (json_array_size(asgs))
		json_object_set_new(o, "applicationSecurityGroups", asgs);
	else
		json_decref(asgs);
	return o;
}

/* ---- loading it as check would --------------------------------------- */

/* A policy path ("$.networkSecurityGroups[0].securityRules[2]...") as
 * the input's "FILE: PATH": the longest origin it lies in. */
static char *input_path(const struct build *b, const char *path)
{
	size_t best = SIZE_MAX, blen = 0;

	for (size_t i = 0; i < b->norig; i++) {
		size_t n = strlen(b->orig[i].out);

		if (!strncmp(path, b->orig[i].out, n) && (!path[n] || path[n] == '.' || path[n] == '[') &&
		    n >= blen) {
			best = i;
			blen = n;
		}
	}
	if (best == SIZE_MAX)
		return xasprintf("%s%s", path[0] ? "the policy: " : "", path);
	return xasprintf("%s%s", b->orig[best].in, path + blen);
}

static void validate(struct build *b, json_t *policy)
{
	char *text = json_dumps(policy, JSON_COMPACT);
	struct diag_list d = { 0 };
	struct policy *p = NULL;
	bool tags = false;

	if (!policy_parse_string(text, "policy", NULL, &p, &d))
		policy_check_bindings(p, &d);
	for (size_t i = 0; i < d.n; i++) {
		char *at;

		/* Without --map, that the policy filters nothing is said already. */
		if (!b->m->o->nmaps && strstr(d.v[i].msg, "filters nothing"))
			continue;
		at = input_path(b, d.v[i].path);

		diag_add(&b->m->r->diags, d.v[i].level, at, "%s", d.v[i].msg);
		tags = tags || strstr(d.v[i].msg, "unknown service tag");
		free(at);
	}
	if (tags && !b->m->o->service_tags)
		imp_diag(b->m, DIAG_ERROR, NULL, NULL, "the rules use service tags: give "
			 "--service-tags FILE, Azure's Service Tags JSON (\"Azure IP Ranges and "
			 "Service Tags\", from Microsoft's download center)");
	policy_free(p);
	diag_free(&d);
	free(text);
}

/* ---- the summary ---------------------------------------------------------- */

/* The strings of a JSON array joined by ", " (a new string kept in m). */
static const char *joined(struct imp *m, json_t *a)
{
	const char *out = "";
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
		out = imp_keep(m, xasprintf("%s%s%s", out, i ? ", " : "",
					    json_is_string(e) ? json_string_value(e)
							      : ref_id(e) ? ref_id(e) : "?"));
	return out;
}

static void say_ifaces(struct build *b, json_t *ifaces)
{
	struct imp *m = b->m;
	json_t *ifc;
	size_t i;

	json_array_foreach(ifaces, i, ifc) {
		const struct az_res *nic = &m->v[m->map_res[i]], *sn = b->nic_subnet[i];
		bool ambiguous;
		const struct az_res *sg = sn ? imp_find(m, AZ_NSG, ref_id(az_field(
					       sn->j, "networkSecurityGroup")), &ambiguous) : NULL;

		imp_say(m, "%s <- NIC %s: %s; subnet %s (%s%s); NIC NSG %s%s%s",
			json_string_value(jget(ifc, "name", NULL)), imp_label(m, nic),
			joined(m, jget(ifc, "ipAddresses", NULL)), sn ? imp_label(m, sn) : "none",
			sg ? "NSG " : "no NSG", sg ? imp_label(m, sg) : "",
			b->nic_nsg[i] ? imp_label(m, b->nic_nsg[i]) : "none",
			jget(ifc, "applicationSecurityGroups", NULL) ? "; ASGs " : "",
			joined(m, jget(ifc, "applicationSecurityGroups", NULL)));
	}
}

/* What was given but applies to no mapped NIC: said, not silently left out. */
static void say_unused(struct build *b)
{
	struct imp *m = b->m;

	for (size_t i = 0; i < m->n; i++) {
		const struct az_res *r = &m->v[i];

		if (r->kind == AZ_NSG && !r->used)
			imp_say(m, "not used: NSG %s (no mapped NIC is under it)", imp_label(m, r));
		else if (r->kind == AZ_NIC && !r->mapped)
			imp_say(m, "not mapped: NIC %s (its addresses count in its ASGs; --map %s=IFNAME "
				"filters it here)", imp_label(m, r), r->name);
		else if (r->kind == AZ_RULE && !r->used)
			imp_say(m, "not used: rule %s of NSG %s (that NSG is not used)", r->name,
				r->parent ? r->parent : "?");
	}
	for (size_t i = 0; i < b->nasgs; i++)
		imp_say(m, "ASG %s: members %s%s", b->asgs[i].name,
			json_array_size(b->asgs[i].members) ? joined(m, b->asgs[i].members)
							    : "(none beyond the mapped NICs)",
			json_array_size(b->asgs[i].members) ? " (NICs not mapped) and the mapped "
							      "NICs listing it" : "");
}

static void say(struct build *b, json_t *policy)
{
	struct imp *m = b->m;
	json_t *v = jget(policy, "virtualNetwork", NULL);

	if (v)
		imp_say(m, "virtual network %s: %s%s%s", imp_label(m, b->vnet),
			joined(m, jget(v, "addressPrefixes", NULL)),
			jget(v, "connectedPrefixes", NULL) ? "; peered: " : "",
			joined(m, jget(v, "connectedPrefixes", NULL)));
	say_ifaces(b, jget(policy, "interfaces", NULL));
	for (size_t g = 0; g < b->nnsgs; g++)
		imp_say(m, "NSG %s: %zu rules", imp_label(m, b->nsgs[g]),
			json_array_size(jget(json_array_get(jget(policy, "networkSecurityGroups", NULL),
							    g), "securityRules", NULL)));
	say_unused(b);
}

/* ---- the whole ------------------------------------------------------------- */

static json_t *write_policy(struct build *b)
{
	const struct import_opts *o = b->m->o;
	json_t *p = json_object(), *ifaces = json_array();

	if (b->vnet)
		json_object_set_new(p, "virtualNetwork", vnet_out(b));
	if (o->service_tags)
		json_object_set_new(p, "serviceTagsFile", json_string(o->service_tags));
	if (b->nasgs)
		json_object_set_new(p, "applicationSecurityGroups", asgs_out(b));
	json_object_set_new(p, "networkSecurityGroups", nsgs_out(b));
	json_object_set_new(p, "subnets", subnets_out(b));
	for (size_t i = 0; i < o->nmaps; i++)
		json_array_append_new(ifaces, iface_out(b, i));
	json_object_set_new(p, "interfaces", ifaces);
	return p;
}

void imp_build(struct imp *m)
{
	struct build b = { .m = m };
	json_t *policy;

	b.nic_subnet = xcalloc(m->o->nmaps + 1, sizeof(*b.nic_subnet));
	b.nic_nsg = xcalloc(m->o->nmaps + 1, sizeof(*b.nic_nsg));
	plan_nics(&b);
	plan_vnet(&b);
	plan_asgs(&b);
	if (!m->o->nmaps)
		imp_diag(m, DIAG_WARNING, NULL, NULL, "no --map: the policy names no interface and "
			 "filters nothing; name each NIC's Linux interface with --map "
			 "AZURE_NIC=IFNAME");
	if (!m->r->diags.nerrors) {
		policy = write_policy(&b);
		validate(&b, policy);
		say(&b, policy);
		m->r->policy = policy;
	}
	for (size_t i = 0; i < b.nasgs; i++)
		json_decref(b.asgs[i].members);
	for (size_t i = 0; i < b.norig; i++) {
		free(b.orig[i].out);
		free(b.orig[i].in);
	}
	free(b.orig);
	free(b.asgs);
	free(b.nsgs);
	free(b.subnets);
	free(b.nic_subnet);
	free(b.nic_nsg);
}
