/* SPDX-License-Identifier: MIT */
/*
 * A private BPF datapath (user/datapath.h's dp_test) holding one test
 * policy, with loopback — the interface BPF_PROG_TEST_RUN reports — bound
 * as one of the policy's interfaces.  For the BPF packet-table tests.
 */
#ifndef XNSG_TESTS_BPF_ENV_H
#define XNSG_TESTS_BPF_ENV_H

#include "compile.h"
#include "datapath.h"
#include "model.h"
#include "xnsg/abi.h"

struct bpf_env {
	struct policy *p;
	struct compiled *c;
	struct dp_test *t;
	unsigned int lo; /* loopback's ifindex */
};

/*
 * Parse json (named `name` in messages), compile it, load it into a new
 * private instance (dp_test_open(flags)) and bind loopback as interface
 * `ifname` with host attach.  Skips the test when not root; fails it on
 * any error.
 */
void bpf_env_open(struct bpf_env *e, const char *json, const char *name, const char *ifname,
		  unsigned int flags);
/* Bind loopback as interface `ifname` of the loaded policy. */
void bpf_env_bind(const struct bpf_env *e, const char *ifname, int attach);
/* The name of the rule that decided a recorded verdict (the first level
 * with a table), or "(no table)". */
const char *bpf_env_decided_by(const struct bpf_env *e, const struct xnsg_verdict *v);
void bpf_env_close(struct bpf_env *e);

#endif
