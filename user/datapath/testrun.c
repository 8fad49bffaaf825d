// SPDX-License-Identifier: MIT
/*
 * The private test instance: maps unpinned, programs unattached, decisions
 * recorded in xnsg_last; BPF_PROG_TEST_RUN on crafted frames.  Behind
 * `verify --datapath`, the BPF tests and the benchmarks.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.h"
#include "compile.h"
#include "datapath.h"
#include "diag.h"
#include "eval.h"
#include "log.h"
#include "model.h"
#include "xnsg.skel.h"


struct dp_test {
	struct dp dp;
	const struct policy *p;
	const struct compiled *c;
	unsigned int lo;
	unsigned int skb_ifindex; /* where TC's frames arrive: lo, or dp_test_arrive_on()'s */
};

struct dp *dp_test_dp(struct dp_test *t)
{
	return &t->dp;
}

int dp_test_map_fd(struct dp_test *t, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(t->dp.skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

struct dp_test *dp_test_open(unsigned int flags)
{
	struct dp_test *t = xcalloc(1, sizeof(*t));

	if (dp_open(&t->dp, (flags & DP_TEST_NO_RECORD ? 0 : DP_RECORD) |
				    (flags & DP_TEST_STATELESS ? DP_STATELESS : 0), 0)) {
		free(t);
		return NULL;
	}
	t->lo = if_nametoindex("lo");
	if (!t->lo)
		t->lo = 1;
	t->skb_ifindex = t->lo;
	return t;
}

void dp_test_close(struct dp_test *t)
{
	if (!t)
		return;
	dp_close(&t->dp);
	free(t);
}

int dp_test_load(struct dp_test *t, const struct policy *p, const struct compiled *c)
{
	int err;

	t->p = p;
	t->c = c;
	err = dp_write_gen(&t->dp, 0, c, NULL);
	if (!err)
		err = dp_write_config(&t->dp, &p->timeouts);
	return err ? err : dp_flip(&t->dp, 0, 1);
}

/* Forget every tracked flow and remembered fragment. */
void dp_test_flush_flows(struct dp_test *t)
{
	dp_map_flush(t->dp.fd_ct4, sizeof(struct xnsg_ct4_key));
	dp_map_flush(t->dp.fd_ct6, sizeof(struct xnsg_ct_key));
	dp_map_flush(t->dp.fd_frags, sizeof(struct xnsg_frag_key));
}

void dp_test_arrive_on(struct dp_test *t, unsigned int ifindex)
{
	t->skb_ifindex = ifindex;
}

int dp_test_bind(struct dp_test *t, unsigned int ifindex, int iface, int attach)
{
	for (size_t i = 0; i < t->c->nifaces; i++) {
		struct xnsg_iface_cfg cfg = t->c->ifaces[i].cfg;

		if (t->c->ifaces[i].iface != iface)
			continue;
		cfg.attach = (__u8)attach;
		return dp_iface_set(&t->dp, 0, ifindex, &cfg);
	}
	return -ENOENT;
}

static int test_prog_fd(struct dp_test *t, enum dp_prog prog)
{
	struct xnsg *s = t->dp.skel;

	return bpf_program__fd(prog == DP_PROG_XDP	     ? s->progs.xnsg_xdp
			       : prog == DP_PROG_TC_INGRESS ? s->progs.xnsg_tc_ingress
							    : s->progs.xnsg_tc_egress);
}

/* One BPF_PROG_TEST_RUN; skb programs run as if on loopback. */
static int test_run(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		    unsigned int repeat, struct bpf_test_run_opts *opts)
{
	struct __sk_buff skb = { .ifindex = t->skb_ifindex };

	opts->sz = sizeof(*opts);
	opts->data_in = frame;
	opts->data_size_in = (__u32)len;
	opts->repeat = repeat;
	if (prog != DP_PROG_XDP) {
		opts->ctx_in = &skb;
		opts->ctx_size_in = sizeof(skb);
	}
	return bpf_prog_test_run_opts(test_prog_fd(t, prog), opts) ? -errno : 0;
}

int dp_test_run(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len, int *ret,
		struct xnsg_verdict *v)
{
	struct bpf_test_run_opts opts = { 0 };
	int err;

	memset(&t->dp.skel->bss->xnsg_last, 0, sizeof(t->dp.skel->bss->xnsg_last));
	err = test_run(t, prog, frame, len, 1, &opts);
	if (err)
		return err;
	*ret = (int)opts.retval;
	if (v)
		*v = t->dp.skel->bss->xnsg_last;
	return 0;
}

int dp_test_time(struct dp_test *t, enum dp_prog prog, const void *frame, size_t len,
		 unsigned int repeat, double *ns)
{
	struct bpf_test_run_opts opts = { 0 };
	int err = test_run(t, prog, frame, len, repeat, &opts);

	*ns = opts.duration;
	return err;
}

int dp_test_counter(struct dp_test *t, const char *map, unsigned int key,
		    unsigned long long *packets, unsigned long long *bytes)
{
	struct xnsg_counter sum;
	int err = !strcmp(map, XNSG_MAP_DROPS) ? dp_counter_read(t->dp.fd_drops, key, &sum)
					       : dp_rule_counters_read(&t->dp, key, 1, &sum);

	*packets = sum.packets;
	*bytes = sum.bytes;
	return err;
}

/* The rule index in its NSG of bit `bit` of compiled table `table`. */
static int model_rule(const struct policy *p, const struct compiled *c, __u32 table, __u32 bit,
		      int *nsg)
{
	const struct compiled_table *ct;

	if (table >= c->ntables)
		return -1;
	ct = &c->tables[table];
	*nsg = ct->nsg;
	if (bit >= ct->nrules)
		return -1;
	return (int)(ct->rules[bit] - p->nsgs[ct->nsg].rules);
}

int dp_test_classify(struct dp_test *t, const struct eval_query *q, struct eval_result *r)
{
	const struct xnsg_addr *src = q->dir == XNSG_IN ? &q->remote : &q->local;
	const struct xnsg_addr *dst = q->dir == XNSG_IN ? &q->local : &q->remote;
	uint16_t sport = q->dir == XNSG_IN ? q->rport : q->lport;
	uint16_t dport = q->dir == XNSG_IN ? q->lport : q->rport;
	struct xnsg_verdict v;
	uint8_t frame[256];
	size_t len;
	int ret, err;

	/* XDP sees the receive side: host attach reads Inbound, peer Outbound. */
	err = dp_test_bind(t, t->lo, q->iface,
			   q->dir == XNSG_IN ? XNSG_ATTACH_MODE_HOST : XNSG_ATTACH_MODE_PEER);
	if (err)
		return err;
	len = packet_for_flow(frame, sizeof(frame), q->ipproto, src, sport, dst, dport);
	/* Judge the flow by the rules, not by state an earlier query left. */
	dp_test_flush_flows(t);
	err = dp_test_run(t, DP_PROG_XDP, frame, len, &ret, &v);
	if (err)
		return err;
	if (v.reason || v.pass_kind || v.seq == 0) {
		pr_err("the datapath did not classify the packet (reason %u)", v.reason);
		return -EPROTO;
	}
	memset(r, 0, sizeof(*r));
	r->allow = v.allow;
	r->decisive = -1;
	for (int l = 0, first_deny = -1; l < 2; l++) {
		struct eval_level *lv = &r->level[l];

		/* Inbound: subnet then NIC; Outbound: NIC then subnet. */
		lv->scope = (q->dir == XNSG_IN) == (l == 0) ? EVAL_SUBNET : EVAL_NIC;
		lv->nsg = -1;
		lv->rule = -1;
		lv->allow = true;
		if (v.table[l] == XNSG_NO_TABLE)
			continue;
		lv->rule = model_rule(t->p, t->c, v.table[l], v.rule[l], &lv->nsg);
		lv->allow = v.level_allow[l];
		if (!lv->allow && first_deny < 0)
			first_deny = l;
		r->decisive = first_deny >= 0 ? first_deny : l;
	}
	if ((ret == XDP_PASS) != r->allow) {
		pr_err("the datapath returned %d but recorded %s", ret, r->allow ? "allow" : "deny");
		return -EPROTO;
	}
	return 0;
}

int dp_verify(const struct policy *p, const struct eval_query *q, struct eval_result *r)
{
	struct diag_list d = {};
	struct compiled *c = NULL;
	struct dp_test *t;
	int err;

	err = dp_check_env(false);
	if (err)
		return err;
	err = compile_policy(p, &c, &d);
	if (err) {
		diag_print(stderr, p->file ? p->file : "policy", &d);
		diag_free(&d);
		return err;
	}
	diag_free(&d);
	t = dp_test_open(0);
	if (!t) {
		compiled_free(c);
		return -EIO;
	}
	err = dp_test_load(t, p, c);
	if (!err)
		err = dp_test_classify(t, q, r);
	dp_test_close(t);
	compiled_free(c);
	return err;
}
