// SPDX-License-Identifier: MIT
/* xnsg stats: per-rule counters of the enforced generation, flow table, drops. */
#include <jansson.h>
#include <stdio.h>

#include "apply.h"
#include "cmd.h"
#include "datapath.h"
#include "log.h"
#include "opts.h"
#include "output.h"
#include "report.h"

static void print_stats(json_t *out)
{
	const char *key;
	json_t *j, *v;
	size_t i;

	printf("%-24s %-9s %-36s %12s %14s\n", "NSG", "DIRECTION", "RULE", "PACKETS", "BYTES");
	json_array_foreach(json_object_get(out, "rules"), i, j)
		printf("%-24s %-9s %-36s %12lld %14lld\n", json_string_value(json_object_get(j, "nsg")),
		       json_string_value(json_object_get(j, "direction")),
		       json_string_value(json_object_get(j, "rule")), geti(j, "packets", NULL),
		       geti(j, "bytes", NULL));
	printf("\nflow table:\n");
	json_object_foreach(json_object_get(out, "flows"), key, v)
		printf("  %-22s %12lld\n", key, json_integer_value(v));
	printf("\nflow logs:\n");
	json_object_foreach(json_object_get(out, "flowlog"), key, v) {
		const char *okey;
		json_t *o;

		if (!json_is_object(v)) {
			printf("  %-28s %12lld\n", key,
			       json_is_boolean(v) ? (long long)json_is_true(v) : json_integer_value(v));
			continue;
		}
		json_object_foreach(v, okey, o) { /* the outputs: one line each */
			const char *ck;
			json_t *cv;

			printf("  output %-21s", okey);
			json_object_foreach(o, ck, cv)
				printf(" %s %lld", ck, json_integer_value(cv));
			printf("\n");
		}
	}
	printf("\ndrops by reason:\n");
	json_object_foreach(json_object_get(out, "drops"), key, v)
		printf("  %-22s %12lld packets %14lld bytes\n", key, geti(v, "packets", NULL),
		       geti(v, "bytes", NULL));
}

static int do_stats(const void *args)
{
	(void)args;
	return report_show(apply_stats, print_stats);
}

const struct cli_command stats_command =
	CLI_COMMAND("stats", struct report_args, do_stats, report_opts,
		    "per-rule hit counters, flow-table counters, flow-log accounting, drops by reason");
