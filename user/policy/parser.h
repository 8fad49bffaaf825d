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
 * docs/DESIGN.md §10's 100k so that a 100k-prefix tag can serve several rules.  What
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
/* Comparisons (rule pairs and address intervals) spent looking for
 * shadowed rules; past it the (advisory) check names the rules it did not
 * compare and stops, rather than slow `check` down. */
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
	char *arena, *arena_end; /* room left in scratch's last path block (json.c) */
	struct obj vnet;       /* "virtualNetwork"; flat NULL when absent or unusable */
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

/* ---- identities and references (refs.c) ----------------------------- */

enum ref_kind { REF_NSG, REF_SUBNET, REF_ASG };

/* What a reference says; NULL parts are not said.  Strings live in the
 * document or the context. */
struct ref {
	const char *name, *rg, *sub, *parent;
};

/* A reference (a name, {"id"}, {"name"}) into *r; false after an error. */
bool ref_parse(struct ctx *c, json_t *v, const char *path, enum ref_kind kind, struct ref *r);
/* The one definition r names: index, or -1 after an error at path. */
int ref_resolve(struct ctx *c, const struct ref *r, enum ref_kind kind, const char *path);
/* ref_parse() then ref_resolve(). */
int ref_at(struct ctx *c, json_t *v, const char *path, enum ref_kind kind);
/* An optional "networkSecurityGroup" field of o: index, or -1. */
int nsg_ref(struct ctx *c, const struct obj *o);
/* A definition's identity: name, and what its "id" or "resourceGroup"
 * say (vnet: a subnet's virtual network otherwise known, or NULL). */
void def_ident(struct ctx *c, const struct obj *o, enum ref_kind kind, const char *name,
	       const char *name_path, const char *vnet, struct azure_ident *out);
void ident_free(struct azure_ident *i);
/* The first of definitions 0..before-1 that is one resource with d, or -1. */
int def_duplicate(const struct policy *p, enum ref_kind kind, const struct azure_ident *d,
		  size_t before);
/* Replace each definition's name by its shown name (refs.c says which). */
void assign_shown_names(struct policy *p, enum ref_kind kind);

/* topology.c: the passes over the topology, in this order. */
void parse_vnet(struct ctx *c, json_t *root);
void parse_asgs(struct ctx *c, json_t *root);
void parse_nsg_names(struct ctx *c, json_t *root);
void parse_subnets(struct ctx *c, json_t *root);
void parse_ifaces(struct ctx *c, json_t *root);

/* rules.c: Azure's six default rules (docs/DESIGN.md §2). */
#define NDEFAULTS 6
struct default_rule {
	const char *name, *desc, *src, *dst;
	int priority;
	enum xnsg_dir dir;
	bool allow;
};
extern const struct default_rule default_rules[NDEFAULTS];
/* defaults.c: an export's "defaultSecurityRules" (at path) against them:
 * each difference is a warning; they are never taken. */
void check_export_defaults(struct ctx *c, json_t *defs, const char *path);

/* rules.c: the rules of NSG gi (its object in c->nsg_objs), sorted, with
 * Azure's defaults; rule_free() releases one. */
void parse_nsg_rules(struct ctx *c, size_t gi);
void rule_free(struct rule *r);

/* servicetags.c: serviceTagsFile, then inline serviceTags, then the
 * AzureLoadBalancer default. */
void parse_tags(struct ctx *c, json_t *root);
/* servicetags.c: a tag of the policy by name, case-insensitively. */
struct tag *tag_find(const struct policy *p, const char *name);
struct tag_index;
void tag_index_free(struct tag_index *x);
/* quickjson.c: a Service Tags file text as Azure writes it, each tag given to
 * set() in file order (its prefixes taken over) once all of it is read;
 * false, and nothing set, for anything else (the general reader's then). */
bool tags_file_scan(struct policy *p, const char *text, size_t len,
		    void (*set)(struct policy *, const char *, struct prefix_list *));

/* quickjson.c: the policy text (len bytes) as jansson would read it with
 * JSON_REJECT_DUPLICATES, for text written plainly; NULL for anything else,
 * which jansson then reads and reports on. */
json_t *quick_json_load(const char *text, size_t len);
/* quick_json_load(), *plain saying whether the tree is one check_keys()
 * (policy.c) has nothing to say of: no two keys of an object the same in
 * any case, no string value that could be an ARM template expression
 * (none starts with '[').  Seen as the text is read, it spares the parse a
 * walk over every value of the tree (a fifth of `check`'s instructions). */
json_t *quick_json_parse(const char *text, size_t len, bool *plain);
/* quickjson.c: from begin to end, the jansson values this thread makes are
 * cut from big blocks and their frees are nothing; end frees the blocks,
 * so every such value must be gone by then (the parse's document tree).
 * Values of other threads, or made before, are malloc's as ever.  len:
 * the length of the text the tree is read from, to reserve room for it. */
void json_arena_begin(size_t len);
void json_arena_end(void);
/* quickjson.c: json_decref(v), except that a value this thread cut from the
 * arena is left for json_arena_end() to free with its blocks: walking a
 * document tree of thousands of rules only to free nothing was 5% of
 * `check`.  Only for a tree made wholly in the arena (no value of it made
 * before json_arena_begin() or kept past json_arena_end()). */
void json_arena_drop(json_t *v);

/* keys.c: warn about every key the parser does not read (docs/DESIGN.md §1). */
void check_unknown_keys(struct ctx *c, json_t *root);
/* lint.c: warn about rules that can never match. */
void check_shadowing(struct ctx *c);
/* lint.c: check_shadowing() on a thread of its own (POLICY_LINT_BESIDE),
 * into diagnostics of its own, joined by policy_lint_join(); c's Internet
 * prefixes move to it. */
void check_shadowing_beside(struct ctx *c);

#endif /* XNSG_PARSER_H */
