/* SPDX-License-Identifier: MIT */
/*
 * Inside the policy parser (policy.c, json.c, servicetags.c, lint.c): the
 * limits it enforces, the context its passes share, and what one of its
 * files lends another.  Nothing outside user/policy/ includes this; the
 * parser's API is policy.h.
 */
#ifndef XNSG_PARSER_H
#define XNSG_PARSER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "json.h"
#include "model.h"

/* ---- limits -------------------------------------------------------- */

/* Priorities are 100-4096 (Azure); so at most 3997 user rules per NSG
 * direction can be valid anyway.  The datapath holds 4160 with defaults. */
#define POLICY_PRIO_MIN 100
#define POLICY_PRIO_MAX 4096
/* User rules per NSG direction (README "Limits"). */
#define POLICY_MAX_RULES_PER_DIR 4096
/* Prefixes the rules of a policy expand to (tags and ASGs included),
 * summed over all rules: a guard against absurd input, well above the
 * docs/DESIGN.md §1's 100k so that a 100k-prefix tag can serve several rules.  What
 * the datapath holds after de-duplication is the compiler's limit
 * (XNSG_MAX_LPM4/6). */
#define POLICY_MAX_PREFIXES 1000000
/* A policy or Service Tags file larger than this is not a policy;
 * Azure's public Service Tags file is about 5 MiB. */
#define POLICY_MAX_FILE_BYTES (64u << 20)
/* An idle timeout longer than a week is a mistake, not a policy. */
#define POLICY_MAX_TIMEOUT (7u * 24 * 3600)
/* Diagnostics from one Service Tags file before the rest are summed up. */
#define POLICY_MAX_TAGFILE_DIAGS 20
/* Prefix comparisons spent looking for shadowed rules; past it the
 * (advisory) check stops rather than slow `check` down. */
#define POLICY_SHADOW_BUDGET 50000000ull
/* Linux interface names are at most 15 characters (IFNAMSIZ - 1). */
#define POLICY_IFNAME_MAX 15

/* The platform address behind AzureLoadBalancer and in VirtualNetwork. */
#define AZURE_PLATFORM_ADDR "168.63.129.16/32"

/* ---- the parse context ---------------------------------------------- */

struct ctx {
	struct policy *p;
	struct diag_list *d;
	const char *basedir;
	struct strvec scratch; /* paths and names, freed with the context */
	struct obj *nsg_objs;  /* per policy.nsgs entry; flat NULL when unusable */
	size_t nprefixes;      /* rule prefixes so far, against POLICY_MAX_PREFIXES */
	bool prefix_limit_hit;
	bool have_internet;
	struct prefix_list internet; /* tags_internet_prefixes(), for shadowing */
	unsigned long long shadow_work;
};

#define perr(c, path, ...) diag_add((c)->d, DIAG_ERROR, path, __VA_ARGS__)
#define pwarn(c, path, ...) diag_add((c)->d, DIAG_WARNING, path, __VA_ARGS__)

/* ---- shared between the parser's files ------------------------------- */

/* policy.c: an array of literal prefixes appended to l. */
void literal_prefixes(struct ctx *c, json_t *a, const char *path, struct prefix_list *l);
/* policy.c: a whole file into a NUL-terminated buffer (at most
 * POLICY_MAX_FILE_BYTES, else -EFBIG); 0 or -errno. */
int policy_read_file(const char *file, char **out, size_t *len);

/* servicetags.c: serviceTagsFile, then inline serviceTags, then the
 * AzureLoadBalancer default. */
void parse_tags(struct ctx *c, json_t *root);
/* servicetags.c: a tag of the policy by name, case-insensitively. */
struct tag *tag_find(const struct policy *p, const char *name);

/* lint.c: warn about rules that can never match. */
void check_shadowing(struct ctx *c);

#endif /* XNSG_PARSER_H */
