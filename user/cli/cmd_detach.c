// SPDX-License-Identifier: MIT
/* xnsg detach: remove xnsg from one interface or from all. */
#include <jansson.h>
#include <stdio.h>

#include "apply.h"
#include "cmd.h"
#include "datapath.h"
#include "opts.h"
#include "output.h"

struct detach_args {
	const char *only;
	bool all;
};

static const struct cli_opt detach_opts[] = {
	CLI_OPTION(struct detach_args, only, STRING, "interface", .short_name = 'i', .arg = "IF",
		   .help = "detach this interface"),
	CLI_OPTION(struct detach_args, all, FLAG, "all", .short_name = 'a',
		   .help = "detach every interface, then remove the pins"),
	CLI_END
};

extern const struct cli_command detach_command;

static int do_detach(const void *args)
{
	const struct detach_args *a = args;
	json_t *names = json_array(), *n;
	size_t i;
	int err;

	if (!a->only == !a->all) {
		json_decref(names);
		return cli_cmd_usage_error(&detach_command, "give -i IF or --all");
	}
	err = dp_check_env(false);
	if (!err)
		err = apply_detach(a->only, names);
	json_array_foreach(names, i, n)
		printf("detached %s\n", json_string_value(n));
	json_decref(names);
	return err ? 1 : 0;
}

const struct cli_command detach_command =
	CLI_COMMAND("detach", struct detach_args, do_detach, detach_opts,
		    "remove programs and pins from one interface or all",
		    .usage = "[-i IF | --all]");
