/* SPDX-License-Identifier: MIT */
/* Names of the ABI's enums as the CLI and its JSON print them: one table each. */
#ifndef XNSG_NAMES_H
#define XNSG_NAMES_H

#include "xnsg/abi.h"

/* enum xnsg_reason: "rule-deny", "truncated-l2", ...; "?" out of range. */
const char *reason_name(unsigned int reason);
/* enum xnsg_ct_state: "new", "established", ... */
const char *ct_state_name(unsigned int state);
/* enum xnsg_ct_stat: "created", "expired", ... */
const char *ct_stat_name(unsigned int stat);

#endif
