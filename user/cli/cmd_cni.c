// SPDX-License-Identifier: MIT
/*
 * xnsg cni: the CNI plugin (user/cni/), as `xnsg-cni` runs it.  It takes
 * no options: a container runtime hands it the command and the container
 * in CNI_* environment variables and the network configuration on stdin
 * (docs/DESIGN.md §12).
 */
#include "cmd.h"
#include "cni.h"
#include "log.h"
#include "opts.h"

struct cni_args {
	int unused;
};

static const struct cli_opt cni_opts[] = {
	CLI_END
};

static int do_cni(const void *args)
{
	(void)args;
	/* stdout carries the CNI result or error alone, never {"error": ...}. */
	xnsg_json = 0;
	return cni_main();
}

const struct cli_command cni_command =
	CLI_COMMAND("cni", struct cni_args, do_cni, cni_opts,
		    "the CNI plugin xnsg-cni (CNI_* environment, configuration on stdin)");
