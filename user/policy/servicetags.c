// SPDX-License-Identifier: MIT
/*
 * Service tags: Azure's Service Tags JSON file named by "serviceTagsFile"
 * (read whole, up to POLICY_MAX_FILE_BYTES; at most
 * POLICY_MAX_TAGFILE_DIAGS of its problems shown, then a summary), then
 * the policy's inline "serviceTags", which add to the file's or replace a
 * tag of the same name, then AzureLoadBalancer's default.  VirtualNetwork
 * and Internet are the policy's own and never taken from either.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alloc.h"
#include "diag.h"
#include "json.h"
#include "parser.h"
#include "policy.h"

/*
 * Tags by name: Azure's file has ~3,000, each looked up when it is set and
 * whenever a rule names it, so a linear search made loading quadratic.
 * An open-addressing table of indexes into p->tags, keyed by the name
 * folded to lower case (Azure's names are case-insensitive ASCII).
 */
struct tag_index {
	size_t cap;      /* a power of two, at least twice the tags */
	uint32_t *slot;  /* index + 1 into p->tags; 0 empty */
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)tolower((unsigned char)*s)) * 0x100000001b3ULL;
	return h;
}

static uint32_t *index_slot(const struct policy *p, const char *name)
{
	const struct tag_index *x = p->tag_index;
	size_t i = name_hash(name) & (x->cap - 1);

	while (x->slot[i] && strcasecmp(p->tags[x->slot[i] - 1].name, name))
		i = (i + 1) & (x->cap - 1);
	return &x->slot[i];
}

/* Room for one more tag (rebuilt at double the size when half full). */
static void index_grow(struct policy *p)
{
	struct tag_index *x = p->tag_index;

	if (x && (p->ntags + 1) * 2 <= x->cap)
		return;
	if (!x)
		x = p->tag_index = xcalloc(1, sizeof(*x));
	free(x->slot);
	x->cap = x->cap ? x->cap * 2 : 64;
	while (x->cap < (p->ntags + 1) * 2)
		x->cap *= 2;
	x->slot = xcalloc(x->cap, sizeof(*x->slot));
	for (size_t i = 0; i < p->ntags; i++)
		*index_slot(p, p->tags[i].name) = (uint32_t)i + 1;
}

void tag_index_free(struct tag_index *x)
{
	if (x)
		free(x->slot);
	free(x);
}

struct tag *tag_find(const struct policy *p, const char *name)
{
	uint32_t i;

	if (!p->tag_index)
		return NULL;
	i = *index_slot(p, name);
	return i ? &p->tags[i - 1] : NULL;
}

/* Define or replace tag `name` with the prefixes of l (taken over). */
static void tag_set(struct policy *p, const char *name, struct prefix_list *l)
{
	struct tag *t = tag_find(p, name);

	if (t) {
		prefix_list_free(&t->prefixes);
		free(t->name);
		t->name = xstrdup(name); /* same name, folded alike: the slot holds */
	} else {
		index_grow(p);
		p->tags = xrealloc(p->tags, (p->ntags + 1) * sizeof(*p->tags));
		t = &p->tags[p->ntags];
		t->name = xstrdup(name);
		*index_slot(p, name) = (uint32_t)++p->ntags;
	}
	t->prefixes = *l;
	memset(l, 0, sizeof(*l));
}

/* Tags the policy defines itself; never taken from files or serviceTags. */
static bool tag_reserved(const char *name)
{
	return !strcasecmp(name, "VirtualNetwork") || !strcasecmp(name, "Internet") ||
	       !strcmp(name, "*") || !strcasecmp(name, "Any");
}

/* A tag of the Service Tags file (prefixes of l taken over): VirtualNetwork
 * and Internet are the policy's own, not the file's. */
static void set_file_tag(struct policy *p, const char *name, struct prefix_list *l)
{
	if (!tag_reserved(name))
		tag_set(p, name, l);
}

/* A diagnostic about the Service Tags file, counted against its cap. */
struct tagfile {
	struct ctx *c;
	const char *path; /* of "serviceTagsFile" in the policy */
	const char *file;
	size_t ndiags, nerrors, nwarnings;
};

static void tagfile_diag(struct tagfile *t, enum diag_level level, const char *where,
			 const char *msg)
{
	if (level == DIAG_ERROR)
		t->nerrors++;
	else
		t->nwarnings++;
	/* Past the cap, errors still need to count: one summary stands in. */
	if (t->ndiags++ < POLICY_MAX_TAGFILE_DIAGS)
		diag_add(t->c->d, level, t->path, "service tags file '%s': %s: %s", t->file,
			 where, msg);
}

static void tagfile_entry(struct tagfile *t, json_t *e, const char *epath)
{
	struct ctx *c = t->c;
	struct prefix_list l = {};
	const char *k, *name;
	json_t *nv = jget(e, "name", NULL), *pr = jget(e, "properties", &k), *a, *v;
	size_t i;

	if (!json_is_object(e)) {
		tagfile_diag(t, DIAG_ERROR, epath, "must be an object");
		return;
	}
	if (!json_is_string(nv)) {
		tagfile_diag(t, DIAG_ERROR, epath, "no \"name\" string");
		return;
	}
	name = json_string_value(nv);
	a = jget(pr, "addressPrefixes", NULL);
	if (!json_is_array(a)) {
		tagfile_diag(t, DIAG_ERROR, epath, "no \"properties.addressPrefixes\" array");
		return;
	}
	/* A path is made only for a prefix with something to say: Azure's
	 * file has 100,000 of them. */
	json_array_foreach(a, i, v) {
		struct xnsg_prefix pf;
		bool hb;

		if (!json_is_string(v) || prefix_parse(json_string_value(v), &pf, &hb)) {
			tagfile_diag(t, DIAG_ERROR,
				     pathf(c, "%s.properties.addressPrefixes[%zu]", epath, i),
				     pathf(c, "%s is not an IPv4 or IPv6 CIDR prefix",
					   json_is_string(v) ? json_string_value(v) : jtype(v)));
			continue;
		}
		if (hb)
			tagfile_diag(t, DIAG_WARNING,
				     pathf(c, "%s.properties.addressPrefixes[%zu]", epath, i),
				     pathf(c, "host bits set in '%s': masked",
					   json_string_value(v)));
		prefix_list_add(&l, &pf);
	}
	set_file_tag(c->p, name, &l);
	prefix_list_free(&l);
}

static void load_tags_file(struct ctx *c, json_t *root)
{
	struct tagfile t = { .c = c };
	const char *k, *name;
	json_t *v = jget(root, "serviceTagsFile", &k), *doc, *values, *e;
	json_error_t je;
	struct stat st;
	char *text, *full;
	size_t i, len;
	int err;

	if (!v || json_is_null(v))
		return;
	t.path = key_path(c, "$", k);
	if (!json_is_string(v) || !json_string_value(v)[0]) {
		perr(c, t.path, "must be a file name string, not %s",
		     json_is_string(v) ? "an empty string" : jtype(v));
		return;
	}
	name = json_string_value(v);
	if (name[0] == '/' || !c->basedir)
		full = xstrdup(name);
	else
		full = xasprintf("%s/%s", c->basedir, name);
	t.file = ctx_keep(c, full);
	err = policy_read_file(full, &text, &len, &st);
	if (err) {
		perr(c, t.path, "cannot read service tags file '%s': %s", full,
		     policy_file_strerror(err));
		return;
	}
	policy_file_perm_warnings(c->d, t.path, full, &st);
	/* Azure's file as Azure writes it is read without a JSON tree. */
	if (tags_file_scan(c->p, text, len, set_file_tag)) {
		free(text);
		return;
	}
	doc = json_loadb(text, len, 0, &je);
	free(text);
	if (!doc) {
		perr(c, t.path,
		     "service tags file '%s': JSON syntax error at line %d column %d: %s", full,
		     je.line, je.column, je.text);
		return;
	}
	values = jget(doc, "values", NULL);
	if (!json_is_array(values)) {
		perr(c, t.path, "service tags file '%s': no \"values\" array "
		     "(expected Azure's Service Tags JSON)", full);
		json_decref(doc);
		return;
	}
	json_array_foreach(values, i, e)
		tagfile_entry(&t, e, idx_path(c, "$.values", i));
	if (t.ndiags > POLICY_MAX_TAGFILE_DIAGS)
		diag_add(c->d, t.nerrors ? DIAG_ERROR : DIAG_WARNING, t.path,
			 "service tags file '%s': %zu more problems not shown (%zu errors, "
			 "%zu warnings in all)", full, t.ndiags - POLICY_MAX_TAGFILE_DIAGS,
			 t.nerrors, t.nwarnings);
	json_decref(doc);
}

void parse_tags(struct ctx *c, json_t *root)
{
	const char *k, *path;
	json_t *v, *m;

	load_tags_file(c, root);
	/* Inline tags add to the file's, or replace one of the same name. */
	v = jget(root, "serviceTags", &k);
	if (v && !json_is_null(v)) {
		path = key_path(c, "$", k);
		if (!json_is_object(v)) {
			perr(c, path, "must be an object of tag name -> prefixes, not %s",
			     jtype(v));
		} else {
			json_object_foreach(v, k, m) {
				const char *mpath = key_path(c, path, k);
				struct prefix_list l = {};

				if (tag_reserved(k)) {
					perr(c, mpath,
					     "\"%s\" is built in and cannot be redefined", k);
					continue;
				}
				literal_prefixes(c, m, mpath, &l);
				tag_set(c->p, k, &l);
			}
		}
	}
	/* AzureLoadBalancer is 168.63.129.16/32 unless overridden (docs/DESIGN.md §2). */
	if (!tag_find(c->p, "AzureLoadBalancer")) {
		struct prefix_list l = {};
		struct xnsg_prefix pf;

		prefix_parse(AZURE_PLATFORM_ADDR, &pf, NULL);
		prefix_list_add(&l, &pf);
		tag_set(c->p, "AzureLoadBalancer", &l);
	}
}
