// SPDX-License-Identifier: MIT
/* Loading a policy for the policy commands: check, show, verify. */
#include "cli.h"
#include "compile.h"

int cli_policy_load(const char *file, struct policy **p, struct diag_list *d)
{
	int err;

	*p = NULL;
	err = policy_load(file, p, d);
	/* Valid, but is it a policy that filters anything? (check warns) */
	if (!err)
		policy_check_bindings(*p, d);
	diag_print(stderr, file, d);
	return err;
}

struct policy *cli_policy_or_fail(const char *file)
{
	struct diag_list d = {};
	struct policy *p;
	int err;

	err = cli_policy_load(file, &p, &d);
	if (err) {
		if (d.nerrors)
			cli_error("%s: invalid policy (%zu error%s)", file, d.nerrors,
				  d.nerrors == 1 ? "" : "s");
		else
			cli_error("%s: cannot load the policy", file);
	}
	diag_free(&d);
	return err ? NULL : p;
}

int cli_compile(const struct policy *p, struct compiled **c)
{
	struct diag_list d = {};
	int err = compile_policy(p, c, &d);

	diag_print(stderr, p->file ? p->file : "policy", &d);
	if (err)
		cli_error("%s: cannot compile the policy (%zu error%s); nothing changed",
			  p->file ? p->file : "policy", d.nerrors, d.nerrors == 1 ? "" : "s");
	diag_free(&d);
	return err;
}
