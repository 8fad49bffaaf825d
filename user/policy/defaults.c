// SPDX-License-Identifier: MIT
/*
 * An export's "defaultSecurityRules" (docs/DESIGN.md §1): `az network nsg
 * show` lists Azure's six default rules with every NSG.  They are never
 * taken from the file -- an NSG's defaults are always Azure's -- but a
 * list that says something else (another priority, access or address, a
 * seventh rule) is a file someone edited believing it counts: each
 * difference is a warning, never a silent override.
 */
#include <jansson.h>
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

/* The strings of a side's or ports' singular and plural field, ","-joined
 * ("" when none), as the file spells them. */
static const char *joined(struct ctx *c, const struct obj *o, const char *one, const char *many)
{
	const char *path, *out = "";
	json_t *v = obj_field(c, o, one, &path), *e;
	size_t i;

	if (json_is_string(v) && json_string_value(v)[0])
		out = json_string_value(v);
	v = obj_field(c, o, many, &path);
	json_array_foreach(v, i, e)
		if (json_is_string(e))
			out = pathf(c, "%s%s%s", out, out[0] ? "," : "", json_string_value(e));
	return out;
}

static bool is_any(const char *s)
{
	return !strcmp(s, "*") || !strcasecmp(s, "Any") || !strcasecmp(s, "All");
}

static bool same_side(const char *got, const char *want)
{
	return !strcasecmp(got, want) || (is_any(got) && is_any(want));
}

/* "; access Allow (Azure: Deny)" for each field that differs, or "". */
static const char *differences(struct ctx *c, const struct obj *o, const struct default_rule *d)
{
	const char *path, *out = "", *s;
	json_t *prio = obj_field(c, o, "priority", &path);
	const char *access = d->allow ? "Allow" : "Deny", *dir = dir_name(d->dir);

	if (!json_is_integer(prio) || json_integer_value(prio) != d->priority)
		out = pathf(c, "%s, priority %s (Azure: %d)", out,
			    json_is_integer(prio) ? pathf(c, "%lld", json_integer_value(prio))
						  : "not given", d->priority);
	s = obj_str(c, o, "direction", false, &path);
	if (!s || strcasecmp(s, dir))
		out = pathf(c, "%s, direction %s (Azure: %s)", out, s ? s : "not given", dir);
	s = obj_str(c, o, "access", false, &path);
	if (!s || strcasecmp(s, access))
		out = pathf(c, "%s, access %s (Azure: %s)", out, s ? s : "not given", access);
	s = obj_str(c, o, "protocol", false, &path);
	if (!s || !is_any(s))
		out = pathf(c, "%s, protocol %s (Azure: *)", out, s ? s : "not given");
	if (!same_side((s = joined(c, o, "sourceAddressPrefix", "sourceAddressPrefixes")), d->src))
		out = pathf(c, "%s, source %s (Azure: %s)", out, s, d->src);
	if (!same_side((s = joined(c, o, "destinationAddressPrefix",
				   "destinationAddressPrefixes")), d->dst))
		out = pathf(c, "%s, destination %s (Azure: %s)", out, s, d->dst);
	if (!is_any(s = joined(c, o, "sourcePortRange", "sourcePortRanges")) &&
	    strcmp(s, "0-65535"))
		out = pathf(c, "%s, source ports %s (Azure: *)", out, s);
	if (!is_any(s = joined(c, o, "destinationPortRange", "destinationPortRanges")) &&
	    strcmp(s, "0-65535"))
		out = pathf(c, "%s, destination ports %s (Azure: *)", out, s);
	return out[0] ? out + 2 : out;
}

/* One entry: which default it is (its bit in *seen), and how it differs. */
static void check_one(struct ctx *c, json_t *e, const char *epath, unsigned *seen)
{
	const char *npath, *name, *diff;
	struct obj o;
	size_t i;

	if (!json_is_object(e)) {
		pwarn(c, epath, "a default rule must be an object, not %s: ignored", jtype(e));
		return;
	}
	obj_init(c, &o, e, epath);
	name = obj_str(c, &o, "name", false, &npath);
	for (i = 0; name && i < NDEFAULTS; i++)
		if (!strcasecmp(name, default_rules[i].name))
			break;
	if (!name || i == NDEFAULTS) {
		pwarn(c, epath, "'%s' is not one of Azure's six default rules: ignored (the NSG's "
		      "own rules belong in securityRules)", name ? name : "(no name)");
		return;
	}
	*seen |= 1u << i;
	diff = differences(c, &o, &default_rules[i]);
	if (diff[0])
		pwarn(c, epath, "default rule %s differs from Azure's: %s; ignored, an NSG's default "
		      "rules are always Azure's", default_rules[i].name, diff);
}

void check_export_defaults(struct ctx *c, json_t *defs, const char *path)
{
	const char *missing = "";
	unsigned seen = 0;
	json_t *e;
	size_t i;

	if (!json_array_size(defs))
		return;
	json_array_foreach(defs, i, e)
		check_one(c, e, idx_path(c, path, i), &seen);
	for (i = 0; i < NDEFAULTS; i++)
		if (!(seen & (1u << i)))
			missing = pathf(c, "%s%s%s", missing, missing[0] ? ", " : "",
					default_rules[i].name);
	if (missing[0])
		pwarn(c, path, "lists only some of Azure's six default rules; the others (%s) "
		      "apply all the same", missing);
}

void policy_check_default_rules(json_t *defs, const char *path, struct diag_list *d)
{
	struct ctx c = { .d = d };

	if (json_is_array(defs))
		check_export_defaults(&c, defs, path);
	for (size_t i = 0; i < c.scratch.n; i++)
		free(c.scratch.v[i]);
	free(c.scratch.v);
}
