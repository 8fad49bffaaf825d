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

/* policy.c: a literal address or CIDR string into *out (host bits masked
 * with a warning); false after an error. */
bool literal_prefix(struct ctx *c, json_t *v, const char *path, struct xnsg_prefix *out);
/* policy.c: an array of literal prefixes appended to l. */
void literal_prefixes(struct ctx *c, json_t *a, const char *path, struct prefix_list *l);
/* policy.c: an address (not a prefix) as its /32 or /128; *addr too when
 * not NULL.  False after an error. */
bool host_prefix(struct ctx *c, json_t *v, const char *path, struct xnsg_prefix *out,
		 struct xnsg_addr *addr);
void prefix_list_add_unique(struct prefix_list *l, const struct xnsg_prefix *pf);
/* policy.c: warn when pf (spelled s) is an IPv4-mapped IPv6 address. */
void warn_v4_mapped(struct ctx *c, const char *path, const char *s,
		    const struct xnsg_prefix *pf);

/* refs.c: the name a reference (a name, {"id"}, {"name"}) stands for. */
const char *ref_name(struct ctx *c, json_t *v, const char *path, const char *collection);
int nsg_find(const struct policy *p, const char *name);
int subnet_find(const struct policy *p, const char *name);
int asg_find(const struct policy *p, const char *name);
/* refs.c: an optional "networkSecurityGroup" field of o: index, or -1. */
int nsg_ref(struct ctx *c, const struct obj *o);
/* refs.c: an ASG reference: index, or -1 after an error. */
int asg_ref(struct ctx *c, json_t *v, const char *path);

/* rules.c: the rules of NSG gi (its object in c->nsg_objs), sorted, with
 * Azure's defaults; rule_free() releases one. */
void parse_nsg_rules(struct ctx *c, size_t gi);
void rule_free(struct rule *r);

/* servicetags.c: serviceTagsFile, then inline serviceTags, then the
 * AzureLoadBalancer default. */
void parse_tags(struct ctx *c, json_t *root);
/* servicetags.c: a tag of the policy by name, case-insensitively. */
struct tag *tag_find(const struct policy *p, const char *name);

/* lint.c: warn about rules that can never match. */
void check_shadowing(struct ctx *c);

#endif /* XNSG_PARSER_H */
