/* SPDX-License-Identifier: MIT */
/*
 * The policy loader's API: a policy file (docs/DESIGN.md §1) in, the model of
 * model.h out, every mistake in a diag_list.  Also the Internet tag as
 * prefixes (tags.c), which the compiler and `show` need.
 */
#ifndef XNSG_POLICY_H
#define XNSG_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "diag.h"
#include "model.h"

/*
 * Parse and validate.  Returns 0 with *out set when the policy has no
 * errors (warnings may be present in diags); -EINVAL when it has errors
 * (all of them in diags, *out NULL); another -errno when the file cannot
 * be read (a diag says why).  `name` is the name used in messages,
 * `basedir` resolves a relative serviceTagsFile (NULL: the current dir).
 */
int policy_load(const char *file, struct policy **out, struct diag_list *diags);
int policy_parse_string(const char *json, const char *name, const char *basedir,
			struct policy **out, struct diag_list *diags);
void policy_free(struct policy *p);

/*
 * When a load runs the advisory never-match lint (lint.c), whose warnings
 * come last of the load's: within it (policy_load()); on a thread of its
 * own beside what the caller does next with the model (compiling it),
 * its warnings appended by policy_lint_join(); or not at all (a caller
 * that drops warnings: the CNI plugin).
 */
enum policy_lint { POLICY_LINT_NOW, POLICY_LINT_BESIDE, POLICY_LINT_OFF };

int policy_load_lint(const char *file, enum policy_lint lint, struct policy **out,
		     struct diag_list *diags);
int policy_parse_string_lint(const char *json, const char *name, const char *basedir,
			     enum policy_lint lint, struct policy **out, struct diag_list *diags);
/* The lint begun beside (POLICY_LINT_BESIDE) finished and its warnings
 * appended to d (NULL: dropped); nothing when none runs.  Whatever reads
 * p beside the lint only reads it: nothing writes p before this. */
void policy_lint_join(struct policy *p, struct diag_list *d);

/* ---- files (file.c) ------------------------------------------------ */

/*
 * A whole file into a NUL-terminated buffer (free() it), a UTF-8
 * byte-order mark dropped: at most POLICY_MAX_FILE_BYTES (else -EFBIG);
 * only a regular file (a directory -EISDIR; a FIFO, socket or device
 * -EINVAL, refused before anything is read).  *st (may be NULL): what
 * fstat() said.  0 or -errno.
 */
int policy_read_file(const char *file, char **out, size_t *len, struct stat *st);
/* The same from an open descriptor; regular false accepts a pipe (stdin). */
int policy_read_fd(int fd, bool regular, char **out, size_t *len, struct stat *st);
/* What a policy_read_file() error means, for "cannot read F: ...". */
const char *policy_file_strerror(int err);
/* Warnings at path for a file (named file) that someone other than its
 * owner or root may change, or whose owner is neither root nor us. */
void policy_file_perm_warnings(struct diag_list *d, const char *path, const char *file,
			       const struct stat *st);

/* ---- ARM ids (armid.c) ---------------------------------------------- */

/* The parts of an ARM id; each points into buf, NULL when the id has none. */
struct arm_id {
	char *buf;
	const char *sub, *rg;       /* subscriptions/S, resourceGroups/G */
	const char *type, *name;    /* the last pair: "networkSecurityGroups", "web-nsg" */
	const char *parent_type, *parent; /* a child's: "virtualNetworks", "v" */
};
/* 0, or -EINVAL for an empty id or one naming a group or subscription;
 * free with arm_id_free() (nothing to free after an error). */
int arm_id_parse(const char *id, struct arm_id *out);
void arm_id_free(struct arm_id *a);

/* An export's "defaultSecurityRules" array (at path) against Azure's six
 * (defaults.c): a warning for each difference, as the parser gives. */
void policy_check_default_rules(json_t *defs, const char *path, struct diag_list *d);

/* ---- bindings (bindings.c) ----------------------------------------- */

/* The interfaces an NSG applies to, at either level: 0 means the policy
 * filters nothing (`apply` refuses it). */
size_t policy_filtered_ifaces(const struct policy *p);
/* Warnings about what a valid policy binds: an NSG under no interface,
 * and a policy that filters nothing (docs/DESIGN.md §1). */
void policy_check_bindings(const struct policy *p, struct diag_list *d);

int policy_find_iface(const struct policy *p, const char *name);
/* Rules of one direction of an NSG: a contiguous, priority-sorted run. */
const struct rule *nsg_rules(const struct nsg *g, enum xnsg_dir dir, size_t *n);

/* ---- tags (tags.c) -------------------------------------------------- */

/* Special-purpose ranges excluded from the Internet tag (docs/DESIGN.md §2). */
extern const char *const xnsg_special_v4[];
extern const char *const xnsg_special_v6[];
/*
 * The Internet tag as a list of prefixes: every address of the family not
 * in virtual_network nor in the special ranges (a complement, computed).
 */
int tags_internet_prefixes(const struct policy *p, struct prefix_list *out);

#endif /* XNSG_POLICY_H */
