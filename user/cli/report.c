// SPDX-License-Identifier: MIT
/* What status and stats share (report.h). */
#include "datapath.h"
#include "output.h"
#include "report.h"

int report_show(json_t *(*get)(void), void (*print)(json_t *report))
{
	json_t *r;

	if (dp_check_env(false))
		return 1;
	if (!dp_is_pinned()) {
		puts(xnsg_json ? "{\"applied\": false}" : "nothing applied");
		return 0;
	}
	r = get();
	if (!r)
		return 1;
	if (xnsg_json) {
		cli_print_json(r, JSON_INDENT(2));
		return 0;
	}
	print(r);
	json_decref(r);
	return 0;
}
