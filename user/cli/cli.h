/* SPDX-License-Identifier: MIT */
/*
 * What the policy commands (check, show, verify) share: loading a policy
 * with its diagnostics, reporting one error, parsing the common options.
 */
#ifndef XNSG_CLI_H
#define XNSG_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "model.h"

/*
 * policy_load() and every diagnostic (warnings too) to stderr.  d is the
 * caller's, so `check` can render it; returns what policy_load() returns.
 */
int cli_policy_load(const char *file, struct policy **p, struct diag_list *d);
/*
 * The policy, or NULL after one error line (and {"error": ...} on stdout
 * in JSON mode): what show and verify need.
 */
struct policy *cli_policy_or_fail(const char *file);

/* One error: "xnsg: MSG" on stderr; in JSON mode {"error": MSG} on stdout too. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: "xnsg CMD: MSG" and the command's usage on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print j on stdout (json_dumps flags: 0 for one line), keys in insertion
 * order; consumes j. */
void cli_print_json(json_t *j, size_t flags);

#endif
