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

/*
 * A private instance of the datapath (maps unpinned, programs unattached,
 * decisions recorded) for verify --datapath and the BPF tests.
 */
struct compiled;
struct xnsg_verdict;
struct dp_test;

enum dp_prog { DP_PROG_XDP, DP_PROG_TC_INGRESS, DP_PROG_TC_EGRESS };

enum dp_test_flags {
	DP_TEST_STATELESS = 1, /* no flow tracking: classification alone */
	DP_TEST_NO_RECORD = 2, /* no xnsg_last bookkeeping: for timing */
};
struct dp_test *dp_test_open(unsigned int flags);
void dp_test_close(struct dp_test *t);
/* Replace whatever the instance held by policy p compiled as c (generation 0). */
int dp_test_load(struct dp_test *t, const struct policy *p, const struct compiled *c);
/* Classify the flow q through the XDP program: fills r like eval_flow(). */
int dp_test_classify(struct dp_test *t, const struct eval_query *q, struct eval_result *r);
/* Run one program on a raw frame; *ret the program's return code. */
int dp_test_run(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		int *ret, struct xnsg_verdict *v);
/* Run a frame `repeat` times; *ns the kernel's mean run time per packet. */
int dp_test_time(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		 unsigned int repeat, double *ns);
/* Forget every tracked flow and remembered fragment. */
void dp_test_flush_flows(struct dp_test *t);
/* Configure ifindex (e.g. loopback's, the one test runs see) as interface
 * `iface` of the loaded policy with the given attach mode. */
int dp_test_bind(struct dp_test *t, unsigned int ifindex, int iface, int attach);
/* The fd of one of the instance's maps (XNSG_MAP_*), or -ENOENT. */
int dp_test_map_fd(struct dp_test *t, const char *name);
/* A per-CPU counter summed over CPUs: XNSG_MAP_DROPS reason or rule slot. */
int dp_test_counter(struct dp_test *t, const char *map, unsigned int key,
		    unsigned long long *packets, unsigned long long *bytes);

/* Frame for a flow: Ethernet + IPv4/IPv6 + TCP SYN / UDP / ICMP echo /
 * bare protocol header, addresses and ports as the packet sees them. */
size_t packet_for_flow(uint8_t *buf, size_t cap, uint8_t ipproto,
		       const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport);

#endif
