// SPDX-License-Identifier: MIT
/* Names of the record's enums, shared by every output. */
#include <string.h>

#include "record.h"

char flowlog_state_char(unsigned int state)
{
	static const char letters[FLOWLOG_STATES] = { 'B', 'C', 'E', 'D' };

	return state < FLOWLOG_STATES ? letters[state] : '?';
}

const char *flowlog_end_reason_name(unsigned int reason)
{
	static const char *const names[FLOWLOG_END_REASONS] = {
		[FLOWLOG_END_NONE] = "none",
		[FLOWLOG_END_FIN] = "fin",
		[FLOWLOG_END_RST] = "rst",
		[FLOWLOG_END_TIMEOUT] = "timeout",
		[FLOWLOG_END_EVICTED] = "evicted",
		[FLOWLOG_END_POLICY_CUT] = "policy-cut",
	};

	return reason < FLOWLOG_END_REASONS ? names[reason] : "?";
}

/* docs/DESIGN.md §2: the six default rules, as Azure's API and flow logs spell them. */
bool flowlog_is_default_rule(const char *name)
{
	static const char *const defaults[] = {
		"AllowVnetInBound",  "AllowAzureLoadBalancerInBound", "DenyAllInBound",
		"AllowVnetOutBound", "AllowInternetOutBound",         "DenyAllOutBound",
	};
	size_t i;

	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (!strcmp(name, defaults[i]))
			return true;
	return false;
}

void flowlog_set_name(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}
