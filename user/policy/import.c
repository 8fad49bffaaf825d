// SPDX-License-Identifier: MIT
/*
 * `xnsg import`, the first half (import.h): what each input is, and the
 * Azure resources it holds.  An input may be one resource (`az ... show`,
 * a REST GET body), a JSON array of them (`az ... list`), a REST list
 * {"value": [...]} or an ARM template whose values are literal; what is
 * none of these, a host policy, or a template expression ("[...]") is an
 * error saying what to give instead.  A VNet's subnets become resources
 * of their own; a child rule resource (`az network nsg rule list`, a
 * template's Microsoft.Network/networkSecurityGroups/securityRules) joins
 * its NSG.  import_build.c then writes the host policy.
 */
#include <errno.h>
#include <stdint.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "diag.h"
#include "import_int.h"
#include "json.h"
#include "policy.h"

/* ---- what a document is -------------------------------------------------- */

static const struct {
	const char *type;
	enum azure_kind kind;
	const char *what;
} az_types[] = {
	{ "Microsoft.Network/networkSecurityGroups", AZ_NSG,
	  "a network security group as `az network nsg show` prints it" },
	{ "Microsoft.Network/networkSecurityGroups/securityRules", AZ_RULE,
	  "a security rule as `az network nsg rule show` prints it" },
	{ "Microsoft.Network/networkInterfaces", AZ_NIC,
	  "a network interface as `az network nic show` prints it" },
	{ "Microsoft.Network/virtualNetworks", AZ_VNET,
	  "a virtual network as `az network vnet show` prints it" },
	{ "Microsoft.Network/virtualNetworks/subnets", AZ_SUBNET,
	  "a subnet as `az network vnet subnet show` prints it" },
	{ "Microsoft.Network/applicationSecurityGroups", AZ_ASG,
	  "an application security group as `az network asg show` prints it" },
};

#define NTYPES (sizeof(az_types) / sizeof(az_types[0]))

json_t *az_field(json_t *o, const char *name)
{
	json_t *v = jget(jget(o, "properties", NULL), name, NULL);

	if (!v || json_is_null(v))
		v = jget(o, name, NULL);
	return v && !json_is_null(v) ? v : NULL;
}

const char *az_str(json_t *o, const char *name)
{
	json_t *v = az_field(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A resource by its "type", else by the fields only its kind has. */
static enum azure_kind resource_kind(json_t *o, const char **what)
{
	const char *type = az_str(o, "type");

	if (type && !jget(o, "type", NULL))
		type = NULL; /* "type" under properties is something else */
	for (size_t i = 0; type && i < NTYPES; i++) {
		if (!strcasecmp(type, az_types[i].type)) {
			*what = az_types[i].what;
			return az_types[i].kind;
		}
	}
	if (type && strchr(type, '/')) {
		*what = "an Azure resource of another type";
		return AZ_OTHER;
	}
	if (az_field(o, "securityRules") || az_field(o, "defaultSecurityRules"))
		return *what = az_types[0].what, AZ_NSG;
	if (az_field(o, "ipConfigurations"))
		return *what = az_types[2].what, AZ_NIC;
	if (az_field(o, "addressSpace"))
		return *what = az_types[3].what, AZ_VNET;
	return AZ_HOST;
}

enum azure_kind azure_doc_kind(json_t *doc, const char **what)
{
	const char *w = NULL, *schema;
	enum azure_kind k;

	if (json_is_array(doc)) {
		w = "a JSON array of resources, as `az network nsg list` prints them";
		k = AZ_ARRAY;
	} else if (!json_is_object(doc)) {
		w = "not a JSON object";
		k = AZ_NOT_JSON_OBJECT;
	} else if ((schema = az_str(doc, "$schema")) && strcasestr(schema, "deploymentTemplate")) {
		w = "an ARM template";
		k = AZ_TEMPLATE;
	} else if (json_is_array(jget(doc, "resources", NULL)) && jget(doc, "contentVersion", NULL)) {
		w = "an ARM template";
		k = AZ_TEMPLATE;
	} else if (json_is_array(jget(doc, "value", NULL))) {
		w = "a list of resources ({\"value\": [...]}) as Azure's REST API returns it";
		k = AZ_LIST;
	} else {
		k = resource_kind(doc, &w);
	}
	if (what)
		*what = w ? w : "a host policy";
	return k;
}

/* "[name(...)...]": every template expression is a function call ("[["
 * escapes a literal '['), so "[legacy] rule" in a description is not one. */
bool azure_is_expression(const char *s)
{
	size_t n = strlen(s), i = 1;

	if (n < 4 || s[0] != '[' || s[n - 1] != ']')
		return false;
	while (s[i] == ' ')
		i++;
	if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		return false;
	while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	       (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.')
		i++;
	while (s[i] == ' ')
		i++;
	return s[i] == '(';
}

/* ---- diagnostics and the summary --------------------------------------- */

void imp_diag(struct imp *m, enum diag_level level, const struct az_res *res, const char *sub,
	      const char *fmt, ...)
{
	char *msg, *path;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		oom();
	va_end(ap);
	path = res ? xasprintf("%s: %s%s", res->file, res->path, sub ? sub : "") : xstrdup("");
	diag_add(&m->r->diags, level, path, "%s", msg);
	free(path);
	free(msg);
}

void imp_say(struct imp *m, const char *fmt, ...)
{
	struct import_result *r = m->r;
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		oom();
	va_end(ap);
	r->summary = xrealloc(r->summary, (r->nsummary + 1) * sizeof(*r->summary));
	r->summary[r->nsummary++] = line;
}

/* ---- template expressions --------------------------------------------- */

/* The template expressions ("[...]" strings) of v: how many, and the
 * path of the first (*first, a new string). */
static size_t expressions(json_t *v, const char *path, size_t found, char **first,
			  const char **what)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_string(v) && azure_is_expression(json_string_value(v))) {
		if (!found) {
			*first = xstrdup(path);
			*what = json_string_value(v);
		}
		return found + 1;
	}
	json_array_foreach(v, i, e) {
		char *p = xasprintf("%s[%zu]", path, i);

		found = expressions(e, p, found, first, what);
		free(p);
	}
	json_object_foreach(v, k, e) {
		char *p = xasprintf("%s.%s", path, k);

		found = expressions(e, p, found, first, what);
		free(p);
	}
	return found;
}

/* An input holding template expressions is refused whole, in one error:
 * what it holds are a deployment's inputs, not what is deployed. */
static bool refuse_expressions(struct imp *m, const struct import_input *in)
{
	const char *what = NULL;
	char *first = NULL;
	size_t n = expressions(in->doc, "$", 0, &first, &what);
	struct az_res at = { .file = in->name, .path = first };

	if (n)
		imp_diag(m, DIAG_ERROR, &at, "", "'%s' is an ARM template expression (%zu in this "
			 "file), which only a deployment evaluates: deploy the template, then "
			 "import the deployed resources (az network nsg show -g RG -n NAME, az "
			 "network nic show, az network vnet show)", what, n);
	free(first);
	return n > 0;
}

/* ---- resources ------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Identity parts from the resource's "id" (or "resourceGroup"); a child
 * rule's NSG from its id or a template's "NSG/RULE" name. */
static void res_ident(struct az_res *r)
{
	const char *id = json_string_value(jget(r->j, "id", NULL)), *slash;
	struct arm_id a = { 0 };

	if (id && !arm_id_parse(id, &a)) {
		r->id = xstrdup(id);
		r->rg = dup_or_null(a.rg);
		r->sub = dup_or_null(a.sub);
		if (a.parent && (r->kind == AZ_SUBNET || r->kind == AZ_RULE))
			r->parent = xstrdup(a.parent);
		arm_id_free(&a);
	}
	if (!r->rg && json_is_string(jget(r->j, "resourceGroup", NULL)))
		r->rg = xstrdup(json_string_value(jget(r->j, "resourceGroup", NULL)));
	if (r->kind == AZ_RULE && (slash = strchr(r->name, '/'))) {
		char *nsg = xasprintf("%.*s", (int)(slash - r->name), r->name);
		char *rule = xstrdup(slash + 1);

		free(r->parent);
		r->parent = nsg;
		free(r->name);
		r->name = rule;
	}
}

static struct az_res *add_res(struct imp *m, enum azure_kind kind, json_t *j, const char *file,
			      const char *path)
{
	const char *name = json_string_value(jget(j, "name", NULL));
	struct az_res *r;

	if (!name || !name[0]) {
		struct az_res at = { .file = file, .path = (char *)path };

		imp_diag(m, DIAG_ERROR, &at, "", "a resource without a \"name\"");
		return NULL;
	}
	VEC_GROW(m);
	r = &m->v[m->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->j = j;
	r->file = file;
	r->path = xstrdup(path);
	r->name = xstrdup(name);
	res_ident(r);
	return r;
}

static void collect(struct imp *m, json_t *doc, const char *file, const char *path, int depth);

/* A template's resources, and the children nested in each ("resources"
 * of an NSG: its rules, whose type and name may be relative). */
static void collect_template(struct imp *m, json_t *res, const char *file, const char *path,
			     const char *parent)
{
	json_t *e;
	size_t i;

	json_array_foreach(res, i, e) {
		char *p = xasprintf("%s[%zu]", path, i);
		const char *type = json_string_value(jget(e, "type", NULL));

		/* A nested child's type is relative: "securityRules", "subnets". */
		if (parent && type && (!strcasecmp(type, "securityRules") ||
				       !strcasecmp(type, "subnets"))) {
			struct az_res *r = add_res(m, !strcasecmp(type, "subnets") ? AZ_SUBNET
										  : AZ_RULE,
						   e, file, p);

			if (r && !r->parent)
				r->parent = xstrdup(parent);
		} else {
			collect(m, e, file, p, 1);
		}
		if (json_is_array(jget(e, "resources", NULL))) {
			char *cp = xasprintf("%s.resources", p);

			collect_template(m, jget(e, "resources", NULL), file, cp,
					 json_string_value(jget(e, "name", NULL)));
			free(cp);
		}
		free(p);
	}
}

static void collect_list(struct imp *m, json_t *a, const char *file, const char *path)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e) {
		char *p = xasprintf("%s[%zu]", path, i);

		collect(m, e, file, p, 1);
		free(p);
	}
}

static void collect(struct imp *m, json_t *doc, const char *file, const char *path, int depth)
{
	struct az_res at = { .file = file, .path = (char *)path };
	const char *what, *type = json_string_value(jget(doc, "type", NULL));
	enum azure_kind k = azure_doc_kind(doc, &what);
	char *p;

	if (depth && (k == AZ_ARRAY || k == AZ_LIST || k == AZ_TEMPLATE)) {
		imp_diag(m, DIAG_ERROR, &at, "", "%s inside a list: give each list as a file", what);
		return;
	}
	switch (k) {
	case AZ_ARRAY:
		collect_list(m, doc, file, path);
		break;
	case AZ_LIST:
		p = xasprintf("%s.value", path);
		collect_list(m, jget(doc, "value", NULL), file, p);
		free(p);
		break;
	case AZ_TEMPLATE:
		p = xasprintf("%s.resources", path);
		collect_template(m, jget(doc, "resources", NULL), file, p, NULL);
		free(p);
		break;
	case AZ_HOST:
		imp_diag(m, DIAG_ERROR, &at, "", depth ? "not an Azure resource xnsg reads (no "
			 "\"type\", none of an NSG's, NIC's or VNet's fields)" : "already a host "
			 "policy: give it to xnsg check or xnsg apply; import takes Azure's exports");
		break;
	case AZ_NOT_JSON_OBJECT:
		imp_diag(m, DIAG_ERROR, &at, "", "%s, not an Azure resource", what);
		break;
	case AZ_OTHER:
		imp_diag(m, DIAG_WARNING, &at, "", "skipped: a %s is not a resource xnsg reads",
			 type ? type : "resource of another type");
		break;
	default:
		add_res(m, k, doc, file, path);
	}
}

/* A VNet's subnets (properties.subnets[]) are resources too. */
static void vnet_subnets(struct imp *m, size_t vi)
{
	json_t *sub = jget(jget(m->v[vi].j, "properties", NULL), "subnets", NULL), *e;
	const char *where = ".properties.subnets";
	size_t i;

	if (!json_is_array(sub)) {
		sub = jget(m->v[vi].j, "subnets", NULL);
		where = ".subnets";
	}
	json_array_foreach(sub, i, e) {
		char *p = xasprintf("%s%s[%zu]", m->v[vi].path, where, i);
		const char *file = m->v[vi].file;
		struct az_res *r = json_is_object(e) ? add_res(m, AZ_SUBNET, e, file, p) : NULL;

		/* add_res may move m->v: index again. */
		if (r) {
			if (!r->parent)
				r->parent = xstrdup(m->v[vi].name);
			if (!r->rg)
				r->rg = dup_or_null(m->v[vi].rg);
			if (!r->sub)
				r->sub = dup_or_null(m->v[vi].sub);
		}
		free(p);
	}
}

/* ---- identities ----------------------------------------------------------- */

static bool part_ok(const char *a, const char *b)
{
	return !a || !b || !strcasecmp(a, b);
}

/* The same id, but for case and trailing slashes. */
static bool same_id(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncasecmp(a, b, la);
}

/* r could be the resource named (name, rg, sub, parent). */
static bool res_matches(const struct az_res *r, const char *name, const char *rg,
			const char *sub, const char *parent)
{
	return !strcasecmp(r->name, name) && part_ok(r->rg, rg) && part_ok(r->sub, sub) &&
	       part_ok(r->parent, parent);
}

/* One resource listed twice (nsg show and nsg list): the first counts. */
static void drop_duplicates(struct imp *m)
{
	for (size_t j = 0; j < m->n; j++) {
		struct az_res *b = &m->v[j];

		for (size_t i = 0; i < j && b->kind != AZ_OTHER; i++) {
			const struct az_res *a = &m->v[i];

			if (a->kind != b->kind || !(a->id && b->id ? same_id(a->id, b->id)
						     : res_matches(a, b->name, b->rg, b->sub,
								   b->parent)))
				continue;
			if (!json_equal(a->j, b->j))
				imp_diag(m, DIAG_WARNING, b, "", "%s is also given at %s: %s, and the "
					 "two differ; the first is used", b->name, a->file, a->path);
			b->kind = AZ_OTHER; /* dropped */
		}
	}
}

struct az_res *imp_find(struct imp *m, enum azure_kind kind, const char *id, bool *ambiguous)
{
	struct az_res *found = NULL;
	struct arm_id a;
	size_t n = 0;

	*ambiguous = false;
	if (!id || arm_id_parse(id, &a))
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		struct az_res *r = &m->v[i];

		if (r->kind != kind || !res_matches(r, a.name, a.rg, a.sub,
						    kind == AZ_SUBNET || kind == AZ_RULE ? a.parent
											 : NULL))
			continue;
		if (r->id && same_id(r->id, id)) { /* the very one */
			found = r;
			n = 1;
			break;
		}
		if (!n++)
			found = r;
	}
	arm_id_free(&a);
	if (n > 1) {
		*ambiguous = true;
		return NULL;
	}
	return found;
}

const char *imp_label(struct imp *m, const struct az_res *res)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct az_res *o = &m->v[i];

		if (o == res || o->kind != res->kind || !o->used || strcasecmp(o->name, res->name))
			continue;
		if (res->kind == AZ_SUBNET && res->parent)
			return imp_keep(m, xasprintf("%s (%s)", res->name, res->parent));
		if (res->rg)
			return imp_keep(m, xasprintf("%s (%s)", res->name, res->rg));
	}
	return res->name;
}

const char *imp_keep(struct imp *m, char *s)
{
	VEC_GROW(&m->scratch);
	m->scratch.v[m->scratch.n++] = s;
	return s;
}

/* ---- --map ------------------------------------------------------------------ */

int import_parse_map(const char *arg, struct import_map *m, char **buf, const char **why)
{
	char *copy = xstrdup(arg), *eq = strrchr(copy, '='), *colon;

	memset(m, 0, sizeof(*m));
	*buf = copy;
	m->attach = XNSG_ATTACH_HOST;
	if (!eq || eq == copy || !eq[1]) {
		*why = "expected AZURE_NIC=IFNAME[:host|peer]";
		return -EINVAL;
	}
	*eq = '\0';
	m->nic = copy;
	m->ifname = eq + 1;
	if ((colon = strchr(eq + 1, ':'))) {
		*colon = '\0';
		if (!strcasecmp(colon + 1, "peer")) {
			m->attach = XNSG_ATTACH_PEER;
		} else if (strcasecmp(colon + 1, "host")) {
			*why = "the attach mode after ':' is host or peer";
			return -EINVAL;
		}
	}
	if (!m->ifname[0]) {
		*why = "expected AZURE_NIC=IFNAME[:host|peer]";
		return -EINVAL;
	}
	return 0;
}

/* "a, b, c": the names of the NICs given, for messages. */
static const char *nic_names(struct imp *m)
{
	const char *out = "";

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].kind == AZ_NIC)
			out = imp_keep(m, xasprintf("%s%s%s", out, out[0] ? ", " : "",
						    m->v[i].name));
	return out[0] ? out : "none";
}

/* The NIC a --map names: by name, "GROUP/NAME" or ARM id. */
static struct az_res *map_nic(struct imp *m, const struct import_map *mp)
{
	const char *slash = strchr(mp->nic, '/'), *rg = NULL, *name = mp->nic;
	struct az_res *found = NULL;
	bool ambiguous = false;
	size_t n = 0;

	if (mp->nic[0] == '/')
		found = imp_find(m, AZ_NIC, mp->nic, &ambiguous);
	else {
		if (slash) {
			rg = imp_keep(m, xasprintf("%.*s", (int)(slash - mp->nic), mp->nic));
			name = slash + 1;
		}
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].kind == AZ_NIC && res_matches(&m->v[i], name, rg, NULL, NULL) &&
			    !n++)
				found = &m->v[i];
		ambiguous = n > 1;
	}
	if (ambiguous)
		imp_diag(m, DIAG_ERROR, NULL, NULL, "--map %s=%s: more than one NIC is called that; "
			 "name it RESOURCE_GROUP/NAME or by its ARM id", mp->nic, mp->ifname);
	else if (!found)
		imp_diag(m, DIAG_ERROR, NULL, NULL, "--map %s=%s: no NIC of that name in the input "
			 "(NICs given: %s; add the output of az network nic show)", mp->nic,
			 mp->ifname, nic_names(m));
	return ambiguous ? NULL : found;
}

/* ---- the import ------------------------------------------------------------ */

/* Each input's resources, unless it holds template expressions. */
static void collect_inputs(struct imp *m, const struct import_input *in, size_t nin)
{
	for (size_t i = 0; i < nin; i++)
		if (!refuse_expressions(m, &in[i]))
			collect(m, in[i].doc, in[i].name, "$", 0);
	for (size_t i = 0, n = m->n; i < n; i++)
		if (m->v[i].kind == AZ_VNET)
			vnet_subnets(m, i);
	drop_duplicates(m);
}

/* The map's NICs, marked; each once, each interface name once. */
static void resolve_maps(struct imp *m)
{
	const struct import_opts *o = m->o;

	for (size_t i = 0; i < o->nmaps; i++) {
		struct az_res *nic = map_nic(m, &o->maps[i]);

		for (size_t j = 0; j < i; j++)
			if (!strcmp(o->maps[j].ifname, o->maps[i].ifname))
				imp_diag(m, DIAG_ERROR, NULL, NULL, "--map %s=%s: interface %s is "
					 "mapped twice", o->maps[i].nic, o->maps[i].ifname,
					 o->maps[i].ifname);
		if (nic && nic->mapped)
			imp_diag(m, DIAG_ERROR, NULL, NULL, "--map %s=%s: NIC %s is mapped twice",
				 o->maps[i].nic, o->maps[i].ifname, nic->name);
		if (nic) {
			nic->mapped = true;
			m->map_res[i] = (size_t)(nic - m->v);
		}
	}
}

int import_policy(const struct import_input *in, size_t nin, const struct import_opts *o,
		  struct import_result *r)
{
	struct imp m = { .o = o, .r = r };

	memset(r, 0, sizeof(*r));
	m.map_res = xcalloc(o->nmaps + 1, sizeof(*m.map_res));
	for (size_t i = 0; i < o->nmaps; i++)
		m.map_res[i] = SIZE_MAX;
	collect_inputs(&m, in, nin);
	resolve_maps(&m);
	if (!r->diags.nerrors)
		imp_build(&m);
	for (size_t i = 0; i < m.n; i++) {
		free(m.v[i].path);
		free(m.v[i].name);
		free(m.v[i].id);
		free(m.v[i].rg);
		free(m.v[i].sub);
		free(m.v[i].parent);
	}
	free(m.v);
	free(m.map_res);
	for (size_t i = 0; i < m.scratch.n; i++)
		free(m.scratch.v[i]);
	free(m.scratch.v);
	if (r->diags.nerrors) {
		json_decref(r->policy);
		r->policy = NULL;
		return -EINVAL;
	}
	return 0;
}

void import_result_free(struct import_result *r)
{
	json_decref(r->policy);
	diag_free(&r->diags);
	for (size_t i = 0; i < r->nsummary; i++)
		free(r->summary[i]);
	free(r->summary);
	memset(r, 0, sizeof(*r));
}
