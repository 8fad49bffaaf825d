// SPDX-License-Identifier: MIT
/*
 * ARM resource ids (policy.h): "/subscriptions/S/resourceGroups/G/
 * providers/Microsoft.Network/T/N", a child "…/T/N/T2/N2", the short
 * ".../T/N" the documentation writes, or a bare "N".  Case is kept as
 * written; Azure compares ids case-insensitively, and so do the callers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "policy.h"

#define ARM_ID_MAX_SEGMENTS 64

int arm_id_parse(const char *id, struct arm_id *out)
{
	char *seg[ARM_ID_MAX_SEGMENTS], *save = NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	out->buf = xstrdup(id);
	for (char *s = strtok_r(out->buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (n == ARM_ID_MAX_SEGMENTS)
			goto bad;
		seg[n++] = s;
	}
	if (!n)
		goto bad;
	out->name = seg[n - 1];
	if (n >= 2)
		out->type = seg[n - 2];
	/* The pair before: a child's parent (".../virtualNetworks/V/subnets/N"). */
	if (n >= 4 && strcasecmp(seg[n - 4], "providers") && strcasecmp(seg[n - 4], "resourceGroups") &&
	    strcasecmp(seg[n - 4], "subscriptions")) {
		out->parent_type = seg[n - 4];
		out->parent = seg[n - 3];
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (!strcasecmp(seg[i], "subscriptions"))
			out->sub = seg[i + 1];
		else if (!strcasecmp(seg[i], "resourceGroups"))
			out->rg = seg[i + 1];
	}
	/* A resource group or subscription is no resource of its own here. */
	if ((out->type && !strcasecmp(out->type, "resourceGroups")) ||
	    (out->type && !strcasecmp(out->type, "subscriptions")))
		goto bad;
	return 0;
bad:
	free(out->buf);
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

void arm_id_free(struct arm_id *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}
