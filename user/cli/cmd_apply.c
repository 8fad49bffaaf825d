// SPDX-License-Identifier: MIT
/* xnsg apply: options in, the apply transaction (user/apply/) does the rest. */
#include <stdio.h>

#include "apply.h"
#include "cli.h"
#include "cmd.h"
#include "compile.h"
#include "datapath.h"
#include "opts.h"
#include "output.h"
#include "policy.h"

struct apply_args {
	const char *file, *only;
	int ingress;
	bool reset_flows;
	unsigned int max_flows;
};

static const struct cli_word ingress_words[] = {
	{ "xdp", APPLY_INGRESS_XDP },
	{ "tc", APPLY_INGRESS_TC },
	{ NULL, 0 },
};

static const struct cli_opt apply_opts[] = {
	CLI_POSITIONAL(struct apply_args, file, "POLICY"),
	CLI_OPTION(struct apply_args, only, STRING, "interface", .short_name = 'i', .arg = "IF",
		   .help = "apply to this interface only (the others keep theirs)"),
	CLI_OPTION(struct apply_args, ingress, ENUM, "ingress", .arg = "xdp|tc",
		   .words = ingress_words,
		   .help = "receive hook: XDP (default) or TC ingress (faster on veth)"),
	CLI_OPTION(struct apply_args, reset_flows, FLAG, "reset-flows",
		   .help = "re-evaluate tracked flows; cut those the new policy denies"),
	CLI_OPTION(struct apply_args, max_flows, UINT, "max-flows", .arg = "N", .min = 1024,
		   .max = 1U << 26, .help = "flow table size when it is created (default 1048576)"),
	CLI_END
};

static int do_apply(const void *args)
{
	const struct apply_args *a = args;
	struct apply_opts o = { .only = a->only, .ingress = a->ingress,
				.reset_flows = a->reset_flows, .max_flows = a->max_flows };
	struct apply_result r;
	struct compiled *c;
	struct policy *p;
	int err;

	p = cli_policy_or_fail(a->file);
	if (!p)
		return 1;
	if (cli_compile(p, &c)) {
		policy_free(p);
		return 1;
	}
	err = dp_check_env(true);
	if (!err)
		err = apply_policy(p, c, &o, &r);
	compiled_free(c);
	policy_free(p);
	if (err)
		return 1;
	if (r.flows_checked)
		printf("re-evaluated %zu tracked flow%s: %zu now denied and cut\n", r.flows_checked,
		       r.flows_checked == 1 ? "" : "s", r.flows_cut);
	printf("applied %s (hash %s) to %zu interface%s: %zu tables, %u rules\n", a->file, r.hash,
	       r.ninterfaces, r.ninterfaces == 1 ? "" : "s", r.ntables, r.nrules);
	return 0;
}

const struct cli_command apply_command =
	CLI_COMMAND("apply", struct apply_args, do_apply, apply_opts,
		    "attach the policy to its interfaces, or atomically update it");
