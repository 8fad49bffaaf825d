/* SPDX-License-Identifier: MIT */
/*
 * Inside `xnsg import` (import.c collects the resources of the inputs,
 * import_build.c writes the host policy from them).  Nothing outside
 * user/policy/import*.c includes this; the API is import.h.
 */
#ifndef XNSG_IMPORT_INT_H
#define XNSG_IMPORT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "import.h"
#include "json.h"
#include "policy.h"

/* One Azure resource found in an input. */
struct az_res {
	enum azure_kind kind;
	json_t *j;          /* the resource object, borrowed from its document */
	const char *file;   /* the input's name */
	char *path;         /* "$.value[2]" */
	char *name;         /* its own name (a child rule's without "nsg/") */
	char *id;           /* its ARM id as written, or NULL */
	char *rg, *sub;     /* resource group and subscription, or NULL */
	char *parent;       /* a subnet's VNet, a child rule's NSG, or NULL */
	bool used;          /* written into the policy */
	bool mapped;        /* a NIC named by --map */
};

struct imp {
	const struct import_opts *o;
	struct import_result *r;
	struct az_res *v;
	size_t n, cap;
	size_t *map_res;       /* per --map: its NIC's index in v, SIZE_MAX if none */
	struct strvec scratch; /* strings made for messages, freed at the end */
};

/* Keep s until the import ends; returns it. */
const char *imp_keep(struct imp *m, char *s);

/* ---- import.c --------------------------------------------------------- */

/* A field under "properties", else flat (case-insensitive); NULL if absent. */
json_t *az_field(json_t *o, const char *name);
const char *az_str(json_t *o, const char *name);
/* A diagnostic at res's path (+ sub, may be ""); res NULL: no path. */
void imp_diag(struct imp *m, enum diag_level level, const struct az_res *res, const char *sub,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A summary line. */
void imp_say(struct imp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The resource of kind an ARM id string names (subscription, group, name
 * and a child's parent compatible, case-insensitively); NULL when none,
 * or after an "ambiguous" error (*ambiguous set).
 */
struct az_res *imp_find(struct imp *m, enum azure_kind kind, const char *id, bool *ambiguous);
/* The resource's shown name: "NAME", or "NAME (RG)" when another of its
 * kind in use has the same name. */
const char *imp_label(struct imp *m, const struct az_res *res);

/* ---- import_build.c --------------------------------------------------- */

/* Write the policy from m's resources into m->r->policy; errors in diags. */
void imp_build(struct imp *m);

#endif
