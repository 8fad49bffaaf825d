// SPDX-License-Identifier: MIT
/*
 * One scrape of /metrics: what the kernel enforces and counts, read
 * through the apply module's reports at the moment of the scrape (the
 * daemon keeps no copy of a counter), plus the daemon's own reload
 * results and the flow-log outputs' counters (docs/DESIGN.md §13).
 */
#include <jansson.h>

#include "apply.h"
#include "internal.h"
#include "metrics.h"

char *daemon_scrape(void *arg, size_t *len)
{
	struct daemon *d = arg;
	json_t *snap = json_object(), *status = apply_status();
	char *text;

	json_object_set_new(snap, "version", json_string(d->o->version));
	if (status) {
		json_object_set_new(snap, "status", status);
		if (json_is_true(json_object_get(status, "applied")))
			json_object_set_new(snap, "stats", apply_stats() ?: json_null());
	}
	if (d->access)
		json_object_set(snap, "access", d->access);
	json_object_set_new(snap, "daemon",
			    json_pack("{s:b, s:f, s:I, s:I}", "reload_success", d->reload_ok,
				      "reload_timestamp", d->reload_ts, "reloads_ok",
				      (json_int_t)d->reloads_ok, "reloads_failed",
				      (json_int_t)d->reloads_failed));
	text = metrics_render(snap, len);
	json_decref(snap);
	return text;
}
