// SPDX-License-Identifier: MIT
/* xnsg status: what the kernel enforces, where (user/apply/report.c). */
#include <jansson.h>
#include <stdio.h>

#include "apply.h"
#include "cmd.h"
#include "datapath.h"
#include "log.h"
#include "opts.h"
#include "output.h"
#include "report.h"


static void print_status(json_t *st)
{
	json_t *fill = json_object_get(st, "map_fill"), *j;
	size_t i;

	if (!json_is_true(json_object_get(st, "applied")))
		printf("policy:     (none recorded for the enforced generation: an apply was "
		       "interrupted or the record lost; 'xnsg apply' repairs)\n");
	else
		printf("policy:     %s\nhash:       %s\napplied:    %s\n",
		       json_string_value(json_object_get(st, "policy")),
		       json_string_value(json_object_get(st, "hash")),
		       json_string_value(json_object_get(st, "applied_at")));
	printf("pins:       %s (generation %lld, apply #%lld)\n",
	       json_string_value(json_object_get(st, "pin_dir")), geti(st, "generation", NULL),
	       geti(st, "serial", NULL));
	printf("tables:     %lld of %lld   rules: %lld   classes: %lld of %lld\n",
	       geti(fill, "tables", "used"), geti(fill, "tables", "max"), geti(st, "rules", NULL),
	       geti(fill, "classes", "used"), geti(fill, "classes", "max"));
	printf("prefixes:   %lld IPv4 of %lld, %lld IPv6 of %lld (LPM entries, all generations)\n",
	       geti(fill, "lpm4", "used"), geti(fill, "lpm4", "max"), geti(fill, "lpm6", "used"),
	       geti(fill, "lpm6", "max"));
	printf("ipv4 trie:  %lld chunks of %lld (beyond them the LPM trie answers)\n",
	       geti(fill, "ipv4_chunks", "used"), geti(fill, "ipv4_chunks", "max"));
	printf("interfaces:\n");
	json_array_foreach(json_object_get(st, "interfaces"), i, j)
		printf("  %-16s ingress %-11s egress %-7s attach %-4s  %s\n",
		       json_string_value(json_object_get(j, "name")),
		       json_string_value(json_object_get(j, "ingress")),
		       json_string_value(json_object_get(j, "egress")),
		       json_string_value(json_object_get(j, "attach")),
		       json_string_value(json_object_get(j, "state")));
}


static int do_status(const void *args)
{
	(void)args;
	return report_show(apply_status, print_status);
}

const struct cli_command status_command =
	CLI_COMMAND("status", struct report_args, do_status, report_opts,
		    "what is attached where, policy hash, map fill");
