/* SPDX-License-Identifier: MIT */
/* Internals of the datapath module shared with the commands that drive
 * it (cmd_apply.c); nothing else includes this. */
#ifndef XNSG_DP_H
#define XNSG_DP_H

#include <net/if.h>
#include <stdbool.h>

#include "compile.h"
#include "xnsg/abi.h"

struct xnsg;

struct dp {
	struct xnsg *skel;
	int fd_active, fd_ifaces, fd_tables, fd_lpm4, fd_lpm6, fd_ports, fd_dir4, fd_dir4_next, fd_protos,
	    fd_classes, fd_rule_stats, fd_drops, fd_ct, fd_config, fd_ct_stats, fd_frags;
};

/* One interface's hooks as attached (and recorded in the state file). */
struct dp_attachment {
	char ifname[IF_NAMESIZE];
	unsigned int ifindex;
	bool ingress_tc;     /* TC ingress instead of XDP */
	int xdp_mode;        /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE; 0 none */
	bool clsact_created; /* xnsg created the clsact qdisc: remove it on detach */
};

const char *dp_pin_dir(void);
int dp_check_env(bool need_pins);
int dp_open(struct dp *dp, bool pinned, bool record, unsigned int max_flows);
int dp_open_opts(struct dp *dp, bool pinned, bool record, unsigned int max_flows, bool stateless);
int dp_write_config(struct dp *dp, const struct flow_timeouts *to);
int dp_flush_map(int fd, size_t ksize);
void dp_close(struct dp *dp);
int dp_active_gen(struct dp *dp, __u32 *gen);
int dp_write_gen(struct dp *dp, __u32 gen, const struct compiled *c, const unsigned int *ifindex);
int dp_flip(struct dp *dp, __u32 gen);
int dp_clear_gen(struct dp *dp, __u32 gen);
int dp_lpm_fill(struct dp *dp, size_t *n4, size_t *n6);
int dp_counter_read(int fd, __u32 key, struct xnsg_counter *sum);
int dp_counter_move(int fd, __u32 from, __u32 to);
int dp_attach(struct dp *dp, struct dp_attachment *a);
int dp_detach(const struct dp_attachment *a);
/* Remove only the receive hook a describes (XDP or TC ingress). */
int dp_detach_ingress(const struct dp_attachment *a);
/* Whether a datapath is pinned (an earlier apply is live). */
bool dp_is_pinned(void);
/* Return once every BPF program that was running has finished (an RCU
 * grace period), so that a generation just switched away from is unread. */
void dp_wait_readers(void);
int dp_pin_programs(struct dp *dp);
int dp_unpin_all(void);
int dp_open_pinned_map(const char *name);

/* The state file (state.c); NULL when nothing is applied. */
typedef struct json_t json_t;
char *dp_state_path(void);
json_t *dp_state_read(void);
int dp_state_write(json_t *st);
void dp_state_remove(void);

#endif
