// SPDX-License-Identifier: MIT
/* JSON access and diagnostic paths for the policy parser (json.h). */
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "diag.h"
#include "json.h"
#include "parser.h"

/* Keep s until the context is freed; returns it. */
const char *ctx_keep(struct ctx *c, char *s)
{
	VEC_GROW(&c->scratch);
	c->scratch.v[c->scratch.n++] = s;
	return s;
}

static bool is_ident(const char *s)
{
	if (!*s)
		return false;
	for (const char *q = s; *q; q++) {
		bool alpha = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' ||
			     *q == '$';

		if (!alpha && !(q > s && *q >= '0' && *q <= '9'))
			return false;
	}
	return true;
}

/*
 * n bytes kept until the context is freed.  A parse makes a path for
 * nearly every value it reads (most never named in a message), so they
 * are cut from blocks, not allocated one by one.
 */
#define PATH_BLOCK 65536

static char *ctx_alloc(struct ctx *c, size_t n)
{
	char *s;

	if (n > PATH_BLOCK / 4)
		return (char *)ctx_keep(c, xrealloc(NULL, n));
	if ((size_t)(c->arena_end - c->arena) < n) {
		c->arena = (char *)ctx_keep(c, xrealloc(NULL, PATH_BLOCK));
		c->arena_end = c->arena + PATH_BLOCK;
	}
	s = c->arena;
	c->arena += n;
	return s;
}

/* a, sep, b and z joined, kept with the context. */
static const char *path_cat(struct ctx *c, const char *a, const char *sep, const char *b,
			    const char *z)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b), lz = strlen(z);
	char *s = ctx_alloc(c, la + ls + lb + lz + 1);

	memcpy(s, a, la);
	memcpy(s + la, sep, ls);
	memcpy(s + la + ls, b, lb);
	memcpy(s + la + ls + lb, z, lz + 1);
	return s;
}

/* parent.key, or parent['key'] when key is not an identifier. */
const char *key_path(struct ctx *c, const char *parent, const char *key)
{
	if (is_ident(key))
		return path_cat(c, parent, ".", key, "");
	return path_cat(c, parent, "['", key, "']");
}

const char *idx_path(struct ctx *c, const char *parent, size_t i)
{
	char num[24], *q = num + sizeof(num);

	*--q = '\0';
	do
		*--q = (char)('0' + i % 10);
	while (i /= 10);
	return path_cat(c, parent, "[", q, "]");
}

const char *lpath_str(struct ctx *c, const struct lpath *lp)
{
	if (!lp->up)
		return lp->key;
	return lp->key ? key_path(c, lpath_str(c, lp->up), lp->key)
		       : idx_path(c, lpath_str(c, lp->up), lp->idx);
}

const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* Member `name` of an object, found case-insensitively; *key: its spelling. */
json_t *jget(json_t *o, const char *name, const char **key)
{
	size_t len = strlen(name);

	if (!json_is_object(o))
		return NULL;
	/* Most keys differ in length: strcasecmp() only for those that do not. */
	for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
		const char *k = json_object_iter_key(it);

		if (json_object_iter_key_len(it) == len && key_eq(k, name, len)) {
			if (key)
				*key = k;
			return json_object_iter_value(it);
		}
	}
	return NULL;
}

static void members_read(json_t *o, struct members *m)
{
	m->n = 0;
	m->more = false;
	if (!json_is_object(o))
		return;
	for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
		if (m->n == OBJ_MEMBERS) {
			m->more = true;
			return;
		}
		m->m[m->n].key = json_object_iter_key(it);
		m->m[m->n].len = json_object_iter_key_len(it);
		m->m[m->n++].v = json_object_iter_value(it);
	}
}

/* jget() of o, whose members m holds; len: strlen(name). */
static json_t *members_get(json_t *o, const struct members *m, const char *name, size_t len,
			   const char **key)
{
	if (m->more)
		return jget(o, name, key);
	for (unsigned i = 0; i < m->n; i++) {
		if (m->m[i].len == len && key_eq(m->m[i].key, name, len)) {
			if (key)
				*key = m->m[i].key;
			return m->m[i].v;
		}
	}
	return NULL;
}

void obj_init(struct ctx *c, struct obj *o, json_t *v, const char *path)
{
	const char *k;
	json_t *pr;

	members_read(v, &o->flat_m);
	members_read(NULL, &o->props_m);
	pr = members_get(v, &o->flat_m, "properties", strlen("properties"), &k);
	o->flat = v;
	o->path = path;
	o->props = NULL;
	o->props_path = NULL;
	o->at = (struct lpath){ NULL, path, 0 };
	if (pr && json_is_object(pr)) {
		members_read(pr, &o->props_m);
		o->props = pr;
		o->props_path = key_path(c, path, k);
		o->props_at = (struct lpath){ NULL, o->props_path, 0 };
	} else if (pr && !json_is_null(pr)) {
		perr(c, key_path(c, path, k), "must be an object, not %s", jtype(pr));
	}
}

/* Where a missing field should have been written. */
const char *obj_fields_path(const struct obj *o)
{
	return o->props_path ? o->props_path : o->path;
}

/* Field `name` under "properties", else flat; NULL when absent or null. */
json_t *obj_field_at(const struct obj *o, const char *name, struct lpath *at)
{
	size_t len = strlen(name);
	const char *k;
	json_t *v;

	if (o->props && (v = members_get(o->props, &o->props_m, name, len, &k)) &&
	    !json_is_null(v)) {
		*at = (struct lpath){ &o->props_at, k, 0 };
		return v;
	}
	if ((v = members_get(o->flat, &o->flat_m, name, len, &k)) && !json_is_null(v)) {
		*at = (struct lpath){ &o->at, k, 0 };
		return v;
	}
	return NULL;
}

json_t *obj_field(struct ctx *c, const struct obj *o, const char *name, const char **path)
{
	struct lpath at;
	json_t *v = obj_field_at(o, name, &at);

	*path = v ? lpath_str(c, &at) : NULL;
	return v;
}

const char *obj_str_at(struct ctx *c, const struct obj *o, const char *name, bool required,
		       struct lpath *at)
{
	json_t *v = obj_field_at(o, name, at);

	if (!v) {
		if (required)
			perr(c, !strcmp(name, "name") ? o->path : obj_fields_path(o),
			     "missing \"%s\"", name);
		return NULL;
	}
	if (!json_is_string(v)) {
		perr(c, lpath_str(c, at), "must be a string, not %s", jtype(v));
		return NULL;
	}
	if (required && !json_string_value(v)[0]) {
		perr(c, lpath_str(c, at), "must not be empty");
		return NULL;
	}
	return json_string_value(v);
}

/* A string field; NULL when absent (an error if required) or mistyped. */
const char *obj_str(struct ctx *c, const struct obj *o, const char *name, bool required,
		    const char **path)
{
	struct lpath at;
	const char *s = obj_str_at(c, o, name, required, &at);

	*path = s || obj_field_at(o, name, &at) ? lpath_str(c, &at) : NULL;
	return s;
}

/* Fetch an array field, reporting a wrong type; NULL when absent. */
json_t *obj_array(struct ctx *c, const struct obj *o, const char *name, const char **path)
{
	json_t *v = obj_field(c, o, name, path);

	if (v && !json_is_array(v)) {
		perr(c, *path, "must be an array, not %s", jtype(v));
		return NULL;
	}
	return v;
}
