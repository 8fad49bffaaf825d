/* SPDX-License-Identifier: MIT */
/*
 * `xnsg verify` output: one renderer for the reference evaluator's result
 * and the datapath's, so the two are printed (and compared) the same way.
 */
#ifndef XNSG_VERIFY_H
#define XNSG_VERIFY_H

#include <jansson.h>
#include <stdio.h>

#include "eval.h"

/*
 * docs/DESIGN.md §5: {"access","rule","ruleName","levels":[{"scope","nsg","access",
 * "rule","ruleName"}]}; the top-level rule is the decisive level's, null
 * when no level has an NSG.  A new reference, never NULL.
 */
json_t *verify_result_json(const struct policy *p, const struct eval_result *r);
/* One line: "Deny  by NSG/RULE (defaultSecurityRules/RULE) [subnet NSG: ...; nic ...]". */
void verify_result_print(FILE *f, const struct policy *p, const struct eval_result *r);

/*
 * "10.1.1.4:80", "10.1.1.4", "[2001:db8::1]:80", "2001:db8::1".  *has_port
 * tells whether a port was given (*port is 0 when not).  0 or -EINVAL.
 */
int verify_parse_endpoint(const char *s, struct xnsg_addr *a, uint16_t *port, bool *has_port);

#endif
