// SPDX-License-Identifier: MIT
/*
 * Identities and references (docs/DESIGN.md §1, "Identity"): NSGs, subnets
 * and ASGs are Azure resources, unique per resource group (a subnet per
 * virtual network), not per subscription.  A definition is known by its
 * name and, when it gives them, the subscription, resource group and
 * (a subnet's) virtual network of its ARM "id" or "resourceGroup".  A
 * reference -- a name, {"id": ARM id} or {"name": ...} -- names the
 * definitions it is compatible with: the same name (case-insensitively,
 * as Azure compares), and no known part different.  Exactly one must
 * answer; none is an unknown reference, several an ambiguous one, each an
 * error listing what the policy has.  Two definitions compatible with
 * each other are one resource defined twice.
 *
 * Names shown: a definition's own name, or, when another definition of
 * its kind has the same name, the name and what tells them apart --
 * "web-nsg (rg-a)", "web (vnet-b)", "web-nsg (rg-a, subscription S)".
 * No '/' in it, so "NSG/RULE" and "NSG/Direction/RULE" still split.
 */
#include <errno.h>
#include <jansson.h>
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

static const struct ref_kind_info {
	const char *what, *collection;
} kinds[] = {
	[REF_NSG] = { "network security group", "networkSecurityGroups" },
	[REF_SUBNET] = { "subnet", "subnets" },
	[REF_ASG] = { "application security group", "applicationSecurityGroups" },
};

/* ---- ARM ids ------------------------------------------------------------ */

/* ARM id parts (arm_id_parse) into *r: strings kept in the context. */
static bool split_id(struct ctx *c, const char *id, enum ref_kind kind, const char *path,
		     struct ref *r)
{
	struct arm_id a;

	memset(r, 0, sizeof(*r));
	if (arm_id_parse(id, &a)) {
		perr(c, path, "a reference needs \"id\": \".../%s/NAME\" (or \"name\")",
		     kinds[kind].collection);
		return false;
	}
	ctx_keep(c, a.buf);
	if (a.type && strcasecmp(a.type, kinds[kind].collection) && strcmp(a.type, "...")) {
		perr(c, path, "ARM id '%s' does not name one of %s", id, kinds[kind].collection);
		return false;
	}
	r->name = a.name;
	r->rg = a.rg;
	r->sub = a.sub;
	if (kind == REF_SUBNET && a.parent_type && !strcasecmp(a.parent_type, "virtualNetworks"))
		r->parent = a.parent;
	return true;
}

/* The reference v (a name, {"id"} or {"name"}) into *r; false after an error. */
bool ref_parse(struct ctx *c, json_t *v, const char *path, enum ref_kind kind, struct ref *r)
{
	json_t *f;

	memset(r, 0, sizeof(*r));
	if (json_is_string(v)) {
		if (!json_string_value(v)[0]) {
			perr(c, path, "empty name");
			return false;
		}
		r->name = json_string_value(v);
		return true;
	}
	if (!json_is_object(v)) {
		perr(c, path, "must be a name or {\"id\": \".../%s/NAME\"}, not %s",
		     kinds[kind].collection, jtype(v));
		return false;
	}
	f = jget(v, "id", NULL);
	if (json_is_string(f))
		return split_id(c, json_string_value(f), kind, path, r);
	f = jget(v, "name", NULL);
	if (json_is_string(f) && json_string_value(f)[0]) {
		r->name = json_string_value(f);
		f = jget(v, "resourceGroup", NULL);
		r->rg = json_is_string(f) ? json_string_value(f) : NULL;
		return true;
	}
	perr(c, path, "a reference needs \"id\": \".../%s/NAME\" (or \"name\")",
	     kinds[kind].collection);
	return false;
}

/* ---- definitions ------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/*
 * The identity of a definition named name (at name_path) in object o: its
 * "id" (which must be of kind's collection and end in name) or its
 * "resourceGroup".  *vnet: a subnet's virtual network when the id does
 * not say.  Errors are reported; what is known is kept either way.
 */
void def_ident(struct ctx *c, const struct obj *o, enum ref_kind kind, const char *name,
	       const char *name_path, const char *vnet, struct azure_ident *out)
{
	const char *ipath, *rpath;
	json_t *id = obj_field(c, o, "id", &ipath), *rg = obj_field(c, o, "resourceGroup", &rpath);
	struct ref r = { 0 };

	memset(out, 0, sizeof(*out));
	out->name = xstrdup(name);
	if (id && !json_is_string(id))
		perr(c, ipath, "must be an ARM id string, not %s", jtype(id));
	else if (id && split_id(c, json_string_value(id), kind, ipath, &r)) {
		if (strcasecmp(r.name, name))
			perr(c, name_path, "name '%s' is not the name its id ends in ('%s')", name,
			     r.name);
		out->id = xstrdup(json_string_value(id));
	}
	if (json_is_string(rg) && !r.rg)
		r.rg = json_string_value(rg);
	out->resource_group = dup_or_null(r.rg);
	out->subscription = dup_or_null(r.sub);
	out->parent = dup_or_null(r.parent ? r.parent : vnet);
}

void ident_free(struct azure_ident *i)
{
	free(i->name);
	free(i->resource_group);
	free(i->subscription);
	free(i->parent);
	free(i->id);
	memset(i, 0, sizeof(*i));
}

/* Two parts agree unless both are known and differ. */
static bool part_ok(const char *a, const char *b)
{
	return !a || !b || !strcasecmp(a, b);
}

static bool compatible(const struct azure_ident *d, const struct ref *r)
{
	return d->name && !strcasecmp(d->name, r->name) && part_ok(d->resource_group, r->rg) &&
	       part_ok(d->subscription, r->sub) && part_ok(d->parent, r->parent);
}

static struct ref as_ref(const struct azure_ident *d)
{
	return (struct ref){ .name = d->name, .rg = d->resource_group, .sub = d->subscription,
			     .parent = d->parent };
}

/* Definition i of kind: its identity, shown name and JSON path. */
static const struct azure_ident *def_at(const struct policy *p, enum ref_kind kind, size_t i,
					const char **label, const char **path)
{
	switch (kind) {
	case REF_NSG:
		*label = p->nsgs[i].name, *path = p->nsgs[i].path;
		return &p->nsgs[i].ident;
	case REF_SUBNET:
		*label = p->subnets[i].name, *path = p->subnets[i].path;
		return &p->subnets[i].ident;
	default:
		*label = p->asgs[i].name, *path = p->asgs[i].path;
		return &p->asgs[i].ident;
	}
}

static size_t def_count(const struct policy *p, enum ref_kind kind)
{
	return kind == REF_NSG ? p->nnsgs : kind == REF_SUBNET ? p->nsubnets : p->nasgs;
}

/* The first definition before `before` of one resource with d, or -1. */
int def_duplicate(const struct policy *p, enum ref_kind kind, const struct azure_ident *d,
		  size_t before)
{
	struct ref r = as_ref(d);
	const char *label, *path;

	for (size_t i = 0; i < before && d->name; i++)
		if (compatible(def_at(p, kind, i, &label, &path), &r))
			return (int)i;
	return -1;
}

/* ---- resolving a reference ------------------------------------------- */

/* " in resource group 'G' of subscription 'S'" and the like, or "". */
static const char *where(struct ctx *c, const char *parent, const char *rg, const char *sub)
{
	return pathf(c, "%s%s%s%s%s%s%s%s%s", parent ? " in virtual network '" : "",
		     parent ? parent : "", parent ? "'" : "", rg ? " in resource group '" : "",
		     rg ? rg : "", rg ? "'" : "", sub ? " of subscription '" : "", sub ? sub : "",
		     sub ? "'" : "");
}

/* The definitions of kind named like r (compatible or not), for messages:
 * "web-nsg in resource group 'rg-a' ($.networkSecurityGroups[0]), ...". */
static const char *same_named(struct ctx *c, enum ref_kind kind, const struct ref *r,
			      bool compatible_only)
{
	const char *out = "", *label, *path;

	for (size_t i = 0; i < def_count(c->p, kind); i++) {
		const struct azure_ident *d = def_at(c->p, kind, i, &label, &path);

		if (!d->name || strcasecmp(d->name, r->name) ||
		    (compatible_only && !compatible(d, r)))
			continue;
		out = pathf(c, "%s%s%s%s (%s)", out, out[0] ? ", " : "", d->name,
			    where(c, d->parent, d->resource_group, d->subscription), path);
	}
	return out;
}

/* The one definition of kind that r names: its index, or -1 after an
 * error at path (unknown, or ambiguous). */
int ref_resolve(struct ctx *c, const struct ref *r, enum ref_kind kind, const char *path)
{
	const char *label, *dpath, *others;
	int found = -1, n = 0;

	for (size_t i = 0; i < def_count(c->p, kind); i++) {
		if (compatible(def_at(c->p, kind, i, &label, &dpath), r)) {
			if (!n++)
				found = (int)i;
		}
	}
	if (n == 1)
		return found;
	if (n > 1) {
		perr(c, path, "%s '%s' is ambiguous: %s; refer to one by its ARM id", kinds[kind].what,
		     r->name, same_named(c, kind, r, true));
		return -1;
	}
	others = same_named(c, kind, r, false);
	perr(c, path, "unknown %s '%s'%s%s%s", kinds[kind].what, r->name,
	     where(c, r->parent, r->rg, r->sub), others[0] ? "; the policy has " : "", others);
	return -1;
}

/* A reference at path: its index, or -1 after an error. */
int ref_at(struct ctx *c, json_t *v, const char *path, enum ref_kind kind)
{
	struct ref r;

	if (!ref_parse(c, v, path, kind, &r))
		return -1;
	return ref_resolve(c, &r, kind, path);
}

/* An optional "networkSecurityGroup" field: index, or -1. */
int nsg_ref(struct ctx *c, const struct obj *o)
{
	const char *path;
	json_t *v = obj_field(c, o, "networkSecurityGroup", &path);

	return v ? ref_at(c, v, path, REF_NSG) : -1;
}

/* ---- names shown --------------------------------------------------- */

enum { PART_VNET = 1, PART_RG = 2, PART_SUB = 4 };

static bool differ(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b);
}

/* The parts known in both a and b that differ. */
static unsigned differing(const struct azure_ident *a, const struct azure_ident *b)
{
	return (differ(a->parent, b->parent) ? PART_VNET : 0) |
	       (differ(a->resource_group, b->resource_group) ? PART_RG : 0) |
	       (differ(a->subscription, b->subscription) ? PART_SUB : 0);
}

/* Whether the parts in set tell d (definition i) apart from every other
 * definition of its name; *collides: there is another. */
static bool sets_apart(const struct policy *p, enum ref_kind kind, size_t i, unsigned set,
		       bool *collides)
{
	const char *label, *path;
	const struct azure_ident *d = def_at(p, kind, i, &label, &path);
	bool apart = true;

	*collides = false;
	for (size_t j = 0; j < def_count(p, kind); j++) {
		const struct azure_ident *e = def_at(p, kind, j, &label, &path);

		if (j == i || !e->name || strcasecmp(e->name, d->name))
			continue;
		*collides = true;
		apart = apart && (differing(d, e) & set);
	}
	return apart;
}

/* Definition i's name, or "NAME (VNET)", "NAME (RG)", "NAME (RG,
 * subscription S)": the fewest parts telling it from the others. */
static char *shown_name(const struct policy *p, enum ref_kind kind, size_t i)
{
	static const unsigned sets[] = {
		PART_VNET, PART_RG, PART_VNET | PART_RG, PART_RG | PART_SUB,
		PART_VNET | PART_RG | PART_SUB,
	};
	const char *label, *path;
	const struct azure_ident *d = def_at(p, kind, i, &label, &path);
	unsigned known = (d->parent ? PART_VNET : 0) | (d->resource_group ? PART_RG : 0) |
			 (d->subscription ? PART_SUB : 0);
	bool collides;

	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		unsigned set = sets[k];

		if ((known & set) != set)
			continue;
		if (!sets_apart(p, kind, i, set, &collides) && collides)
			continue;
		if (!collides)
			break;
		return xasprintf("%s (%s%s%s%s%s%s)", d->name,
				 set & PART_VNET ? d->parent : "",
				 set & PART_VNET && set & PART_RG ? ", " : "",
				 set & PART_RG ? d->resource_group : "",
				 set & PART_SUB ? ", subscription " : "",
				 set & PART_SUB ? d->subscription : "", "");
	}
	return xstrdup(d->name);
}

/* Every definition of kind gets its shown name (docs/DESIGN.md §1). */
void assign_shown_names(struct policy *p, enum ref_kind kind)
{
	size_t n = def_count(p, kind);
	char **names = xcalloc(n ? n : 1, sizeof(*names));

	/* All computed first: each depends on the others' identities only. */
	for (size_t i = 0; i < n; i++) {
		const char *label, *path;

		names[i] = def_at(p, kind, i, &label, &path)->name ? shown_name(p, kind, i) : NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char **slot = kind == REF_NSG ? &p->nsgs[i].name :
			      kind == REF_SUBNET ? &p->subnets[i].name : &p->asgs[i].name;

		if (!names[i])
			continue;
		free(*slot);
		*slot = names[i];
	}
	free(names);
}
