/* SPDX-License-Identifier: MIT */
/* The only module that talks to the kernel: load, pin, attach, swap. */
#ifndef XNSG_DATAPATH_H
#define XNSG_DATAPATH_H

#include "eval.h"
#include "model.h"

/*
 * verify --datapath: compile the policy into a private, unpinned copy of
 * the maps, run the classifier on a packet crafted for the query with
 * BPF_PROG_TEST_RUN, and fill r as eval_flow() does (allow, decisive level,
 * its NSG and rule).  Returns 0 or -errno (a message was printed).
 */
int datapath_verify(const struct policy *p, const struct eval_query *q, struct eval_result *r);

#endif
