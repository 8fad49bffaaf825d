// SPDX-License-Identifier: MIT
/* Names of the ABI enums (names.h): one table each, as the CLI and JSON print them. */
#include "names.h"

#define NAME_OF(table, i) ((i) < sizeof(table) / sizeof(table[0]) && table[i] ? table[i] : "?")

const char *reason_name(unsigned int reason)
{
	static const char *const names[XNSG_REASONS] = {
		[XNSG_R_RULE_DENY] = "rule-deny",
		[XNSG_R_TRUNC_L2] = "truncated-l2",
		[XNSG_R_VLAN_DEPTH] = "vlan-depth",
		[XNSG_R_TRUNC_IP4] = "truncated-ipv4",
		[XNSG_R_BAD_IP4] = "bad-ipv4",
		[XNSG_R_TRUNC_IP6] = "truncated-ipv6",
		[XNSG_R_TRUNC_EXTHDR] = "truncated-ext-header",
		[XNSG_R_EXTHDR_DEPTH] = "ext-header-depth",
		[XNSG_R_TRUNC_L4] = "truncated-l4",
		[XNSG_R_FRAGMENT] = "orphan-fragment",
		[XNSG_R_NO_MATCH] = "no-match",
		[XNSG_R_MAP_MISSING] = "map-missing",
		[XNSG_R_NO_CONFIG] = "no-config",
	};

	return NAME_OF(names, reason);
}

const char *ct_state_name(unsigned int state)
{
	static const char *const names[XNSG_CT_STATES] = {
		[XNSG_CT_NEW] = "new",
		[XNSG_CT_REPLIED] = "replied",
		[XNSG_CT_SYN_SENT] = "syn-sent",
		[XNSG_CT_SYN_RECV] = "syn-recv",
		[XNSG_CT_ESTABLISHED] = "established",
		[XNSG_CT_CLOSING] = "closing",
	};

	return NAME_OF(names, state);
}

const char *ct_stat_name(unsigned int stat)
{
	static const char *const names[XNSG_CT_STATS] = {
		[XNSG_CTS_CREATED] = "created",
		[XNSG_CTS_HITS] = "packets_by_state",
		[XNSG_CTS_EXPIRED] = "expired",
		[XNSG_CTS_RELATED] = "icmp_errors_related",
		[XNSG_CTS_FRAG_FOLLOWED] = "fragments_followed",
		[XNSG_CTS_FRAG_RECORDED] = "fragments_recorded",
		[XNSG_CTS_RESET] = "cut_by_policy_change",
	};

	return NAME_OF(names, stat);
}
