/* SPDX-License-Identifier: MIT */
/*
 * JSON access for the policy parser: members found case-insensitively,
 * fields that sit flat on an object or under its "properties", and the
 * JSON paths diagnostics name ("$.networkSecurityGroups[0].properties
 * .securityRules[2]"), spelled as the file spelled them.  Paths and names
 * built here live in the parse context's scratch list until the parse ends.
 */
#ifndef XNSG_JSON_H
#define XNSG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "alloc.h"

struct ctx; /* the parse context, parser.h */

/* Keys compare as strcasecmp() compares them in the C locale xnsg runs in
 * (it sets no other): ASCII letters folded, every other byte as it is.
 * Inline, for lengths already known: a parse compares keys by the
 * hundred thousand, and the library call was 6% of `check`. */
static inline unsigned char key_fold(unsigned char ch)
{
	return (unsigned char)((unsigned)(ch - 'A') < 26u ? ch + 32 : ch);
}

/* a and b, both len bytes, are the same key in any case.  Most keys are
 * written in the case they are looked up in: memcmp() first. */
static inline bool key_eq(const char *a, const char *b, size_t len)
{
	if (!memcmp(a, b, len))
		return true;
	for (size_t i = 0; i < len; i++)
		if (key_fold((unsigned char)a[i]) != key_fold((unsigned char)b[i]))
			return false;
	return true;
}

struct strvec {
	char **v;
	size_t n, cap;
};

/* The members of an object, read once, for the lookups of its fields
 * (a rule's take a dozen); more than OBJ_MEMBERS are looked up in place. */
#define OBJ_MEMBERS 24

struct members {
	struct {
		const char *key;
		size_t len;
		json_t *v;
	} m[OBJ_MEMBERS];
	unsigned n;
	bool more; /* past OBJ_MEMBERS */
};

/*
 * A path not yet spelled: a walk over every value of a document (keys.c,
 * policy.c's check_keys), or over a rule's fields (rules.c), names almost
 * none of them in a message, and spelling each path it passes cost an
 * update of 4,000 rules a path of ~90 bytes per object and per field
 * (fresh heap, page faults) for nothing.  A link to
 * its parent on the stack, spelled by lpath_str() only when a message
 * needs it: the root (up NULL) is key, a spelled path; below it key names
 * a member (key_path()), or key NULL element idx (idx_path()).
 */
struct lpath {
	const struct lpath *up;
	const char *key;
	size_t idx;
};

/* An object whose fields may sit flat or under "properties"; at and
 * props_at: path and props_path as roots of the lazy paths of its fields. */
struct obj {
	json_t *flat, *props;
	const char *path, *props_path;
	struct lpath at, props_at;
	struct members flat_m, props_m;
};

/* Keep s until the context is freed; returns it. */
const char *ctx_keep(struct ctx *c, char *s);
#define pathf(c, ...) ctx_keep(c, xasprintf(__VA_ARGS__))

/* parent.key, or parent['key'] when key is not an identifier. */
const char *key_path(struct ctx *c, const char *parent, const char *key);
/* parent[i] */
const char *idx_path(struct ctx *c, const char *parent, size_t i);
/* lp spelled, kept with the context. */
const char *lpath_str(struct ctx *c, const struct lpath *lp);

/* "an object", "a string", ...: for "must be X, not Y" messages. */
const char *jtype(const json_t *v);
/* Member `name` of an object, found case-insensitively; *key: its spelling. */
json_t *jget(json_t *o, const char *name, const char **key);

/* o over object v at path; a non-object "properties" is an error. */
void obj_init(struct ctx *c, struct obj *o, json_t *v, const char *path);
/* Where a missing field should have been written. */
const char *obj_fields_path(const struct obj *o);
/* Field `name` under "properties", else flat; NULL when absent or null.
 * *path: where it sits. */
json_t *obj_field(struct ctx *c, const struct obj *o, const char *name, const char **path);
/* obj_field() with the path not spelled: *at, a member of o's at or
 * props_at (so no longer valid than o); unset when absent. */
json_t *obj_field_at(const struct obj *o, const char *name, struct lpath *at);
/* A string field; NULL when absent (an error if required) or mistyped. */
const char *obj_str(struct ctx *c, const struct obj *o, const char *name, bool required,
		    const char **path);
/* obj_str() with the path not spelled, as obj_field_at(). */
const char *obj_str_at(struct ctx *c, const struct obj *o, const char *name, bool required,
		       struct lpath *at);
/* An array field, reporting a wrong type; NULL when absent. */
json_t *obj_array(struct ctx *c, const struct obj *o, const char *name, const char **path);

#endif /* XNSG_JSON_H */
