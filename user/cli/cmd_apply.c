// SPDX-License-Identifier: MIT
/* xnsg apply: options in, the apply transaction (user/apply/) does the rest. */
#include <stdio.h>

#include "apply.h"
#include "cmd.h"
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
		   .max = 1U << 26, .help = "IPv4 flows the flow table holds, IPv6 a quarter; set at creation (default 1048576)"),
	CLI_END
};

static int do_apply(const void *args)
{
	const struct apply_args *a = args;
	struct apply_opts o = { .only = a->only, .ingress = a->ingress,
				.reset_flows = a->reset_flows, .max_flows = a->max_flows,
				/* docs/DESIGN.md §1 "Bindings": check warns, apply refuses */
				.refuse_unfiltered = true };
	struct apply_result r;
	struct compiled *c;
	struct policy *p;

	/* The policy file with the CNI plugin's containers, loaded again under
	 * the lock if one came or went meanwhile: an apply by hand keeps them.
	 * The model is not freed: the process exits next, and freeing 2 x
	 * 4,000 rules and a 100,000-prefix tag piece by piece costs ~7 ms. */
	if (apply_file(a->file, &o, &r, &p, &c))
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
