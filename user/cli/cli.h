/* SPDX-License-Identifier: MIT */
/*
 * What the policy commands (check, show, verify) share: loading a policy
 * with its diagnostics.  Errors, JSON and tables are the output module's
 * (output.h), options the option tables' (opts.h).
 */
#ifndef XNSG_CLI_H
#define XNSG_CLI_H

#include "diag.h"
#include "model.h"
#include "output.h"
#include "policy.h"

/*
 * policy_load(), policy_check_bindings() on a valid policy, and every
 * diagnostic (warnings too) to stderr.  d is the caller's, so `check` can
 * render it; returns what policy_load() returns.
 */
int cli_policy_load(const char *file, struct policy **p, struct diag_list *d);
/*
 * The policy, or NULL after one error (cli_error(): {"error": ...} on
 * stdout in JSON mode): what show and verify need.
 */
struct policy *cli_policy_or_fail(const char *file);

struct compiled;
/* compile_policy() with its diagnostics on stderr and one error line on
 * failure (for apply and the daemon): 0 or -errno. */
int cli_compile(const struct policy *p, struct compiled **c);

#endif
