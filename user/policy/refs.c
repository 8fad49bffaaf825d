// SPDX-License-Identifier: MIT
/*
 * References between a policy's objects (docs/DESIGN.md §1): a subnet's
 * or interface's NSG, an interface's subnet, a rule's or interface's ASG,
 * each a name, an ARM id or {"name": ...}.  Part of the policy parser.
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

/* ---- references ------------------------------------------------------- */

/*
 * The name a reference stands for: a string, or an object's ARM "id"
 * (".../COLLECTION/NAME": the last segment) or "name".  NULL after an error.
 */
const char *ref_name(struct ctx *c, json_t *v, const char *path, const char *collection)
{
	const char *slash, *prev;
	json_t *f;

	if (json_is_string(v)) {
		if (!json_string_value(v)[0]) {
			perr(c, path, "empty name");
			return NULL;
		}
		return json_string_value(v);
	}
	if (!json_is_object(v)) {
		perr(c, path, "must be a name or {\"id\": \".../%s/NAME\"}, not %s", collection,
		     jtype(v));
		return NULL;
	}
	f = jget(v, "id", NULL);
	if (json_is_string(f)) {
		char *copy = (char *)ctx_keep(c, xstrdup(json_string_value(f)));
		size_t n = strlen(copy);

		while (n && copy[n - 1] == '/')
			copy[--n] = '\0';
		slash = strrchr(copy, '/');
		if (!slash) {
			if (!copy[0])
				goto bad_id;
			return copy;
		}
		if (!slash[1])
			goto bad_id;
		/* ".../networkSecurityGroups/NAME": check the collection. */
		copy[slash - copy] = '\0';
		prev = strrchr(copy, '/');
		prev = prev ? prev + 1 : copy;
		if (strcasecmp(prev, collection) && strcmp(prev, "...")) {
			perr(c, path, "ARM id '%s' does not name one of %s", json_string_value(f),
			     collection);
			return NULL;
		}
		return slash + 1;
	}
	f = jget(v, "name", NULL);
	if (json_is_string(f) && json_string_value(f)[0])
		return json_string_value(f);
bad_id:
	perr(c, path, "a reference needs \"id\": \".../%s/NAME\" (or \"name\")", collection);
	return NULL;
}

int nsg_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nnsgs; i++)
		if (p->nsgs[i].name && !strcasecmp(p->nsgs[i].name, name))
			return (int)i;
	return -1;
}

int subnet_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nsubnets; i++)
		if (p->subnets[i].name && !strcasecmp(p->subnets[i].name, name))
			return (int)i;
	return -1;
}

int asg_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nasgs; i++)
		if (!strcasecmp(p->asgs[i].name, name))
			return (int)i;
	return -1;
}

/* An optional "networkSecurityGroup" field: index, or -1. */
int nsg_ref(struct ctx *c, const struct obj *o)
{
	const char *path, *name;
	json_t *v = obj_field(c, o, "networkSecurityGroup", &path);
	int i;

	if (!v)
		return -1;
	name = ref_name(c, v, path, "networkSecurityGroups");
	if (!name)
		return -1;
	i = nsg_find(c->p, name);
	if (i < 0)
		perr(c, path, "unknown network security group '%s'", name);
	return i;
}

/* An ASG reference: index, or -1 after an error. */
int asg_ref(struct ctx *c, json_t *v, const char *path)
{
	const char *name = ref_name(c, v, path, "applicationSecurityGroups");
	int i;

	if (!name)
		return -1;
	i = asg_find(c->p, name);
	if (i < 0)
		perr(c, path, "unknown application security group '%s'", name);
	return i;
}
