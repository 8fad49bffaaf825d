/* SPDX-License-Identifier: MIT */
/*
 * The reference evaluator: docs/DESIGN.md §2 read literally, one rule at a time.
 * It is the oracle the BPF classifier is tested against, so it shares the
 * model with the compiler but none of the compiler's code.
 */
#ifndef XNSG_EVAL_H
#define XNSG_EVAL_H

#include "model.h"

enum eval_scope { EVAL_SUBNET = 0, EVAL_NIC = 1 };

struct eval_query {
	int iface;             /* index into policy.ifaces */
	enum xnsg_dir dir;     /* XNSG_IN: remote -> local */
	uint8_t ipproto;       /* IP protocol number: 6, 17, 1, 58, 50, 51, ... */
	struct xnsg_addr local, remote;
	uint16_t lport, rport; /* meaningful for TCP and UDP only */
};

struct eval_level {
	enum eval_scope scope;
	int nsg;   /* index into policy.nsgs; -1: no NSG at this level (allows) */
	int rule;  /* index into nsg->rules of the first matching rule, -1 if none */
	bool allow;
};

struct eval_result {
	bool allow;                  /* every level with an NSG allows */
	struct eval_level level[2];  /* in evaluation order: in = subnet, nic; out = nic, subnet */
	int decisive;                /* level whose rule decided: the first denying one, else
	                                the last allowing one with an NSG; -1: not filtered */
};

void eval_flow(const struct policy *p, const struct eval_query *q, struct eval_result *r);
/* Whether one rule matches a packet (exposed for tests and `show`). */
bool eval_rule_matches(const struct policy *p, const struct rule *r, uint8_t ipproto,
		       const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport);
bool eval_in_internet(const struct policy *p, const struct xnsg_addr *a);

#endif
