/* SPDX-License-Identifier: MIT */
/* What status, stats and flows share: no arguments but --json, and what
 * they print when nothing is applied. */
#ifndef XNSG_REPORT_H
#define XNSG_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "log.h"
#include "opts.h"

struct report_args {
	int unused;
};

static const struct cli_opt report_opts[] = {
	CLI_JSON_OPTION("machine-readable output"),
	CLI_END
};

/* o[k1] or o[k1][k2] as an integer (0 when absent). */
static inline long long geti(json_t *o, const char *k1, const char *k2)
{
	json_t *j = json_object_get(o, k1);

	return json_integer_value(k2 ? json_object_get(j, k2) : j);
}

/*
 * What status and stats do: needs root and BTF; nothing pinned is not an
 * error ("nothing applied"); otherwise get() builds the report, printed
 * as JSON or by print().  The exit status.
 */
int report_show(json_t *(*get)(void), void (*print)(json_t *report));

#endif
