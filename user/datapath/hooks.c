// SPDX-License-Identifier: MIT
/*
 * Hooks: XDP or TC ingress on the receive side, TC egress on the send
 * side (docs/DESIGN.md §3).  Which hooks are this instance's is read from
 * the kernel, never from a file: a program is ours when it is named
 * xnsg_* and uses this pin directory's xnsg_active map, so a record lost
 * in a crash, or a clsact qdisc deleted by hand, cannot mislead detach,
 * status or apply.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.h"
#include "datapath.h"
#include "dp_internal.h"
#include "log.h"
#include "xnsg.skel.h"

#define XNSG_TC_HANDLE 0x4e53 /* "NS" */
#define XNSG_TC_PRIO 1

enum owner { NOT_XNSG, OURS, OTHER_XNSG };

/* Whether program id is xnsg's, and this instance's (it reads our
 * xnsg_active map) or another instance's. */
static enum owner prog_owner(struct dp *dp, __u32 id)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info), nmaps = 0, *maps = NULL, active = dp_obj_id(dp->fd_active);
	enum owner o = NOT_XNSG;
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return NOT_XNSG;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || strncmp(info.name, "xnsg_", 5))
		goto out;
	o = OTHER_XNSG;
	dp_prog_map_ids(fd, &maps, &nmaps);
	for (__u32 i = 0; i < nmaps; i++)
		if (maps[i] == active)
			o = OURS;
out:
	free(maps);
	close(fd);
	return o;
}

/* The ids of the XDP programs on one interface, native and generic, from
 * the attributes of one RTM_NEWLINK message. */
static void xdp_ids_parse(struct nlmsghdr *nh, __u32 *drv, __u32 *skb)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		int n = (int)RTA_PAYLOAD(a);

		if (a->rta_type != IFLA_XDP)
			continue;
		for (struct rtattr *x = RTA_DATA(a); RTA_OK(x, n); x = RTA_NEXT(x, n))
			if (x->rta_type == IFLA_XDP_DRV_PROG_ID && RTA_PAYLOAD(x) >= 4)
				memcpy(drv, RTA_DATA(x), 4);
			else if (x->rta_type == IFLA_XDP_SKB_PROG_ID && RTA_PAYLOAD(x) >= 4)
				memcpy(skb, RTA_DATA(x), 4);
	}
}

/*
 * The XDP programs on one interface: an RTM_GETLINK for that interface
 * alone (statistics skipped).  libbpf's bpf_xdp_query() dumps every link
 * of the namespace and picks one, so querying n interfaces cost n^2 link
 * messages (a second for 500).
 */
static int xdp_ids(unsigned int ifindex, __u32 *drv, __u32 *skb)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr ext;
		__u32 mask;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)ifindex },
		.ext = { .rta_len = RTA_LENGTH(sizeof(__u32)), .rta_type = IFLA_EXT_MASK },
		.mask = RTEXT_FILTER_SKIP_STATS,
	};
	char buf[32768] __attribute__((aligned(4)));
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), err = -EIO;
	ssize_t n;

	*drv = *skb = 0;
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			break;
		}
		if (nh->nlmsg_type == RTM_NEWLINK) {
			xdp_ids_parse(nh, drv, skb);
			err = 0;
			break;
		}
	}
out:
	close(fd);
	return err;
}

static void xdp_query(struct dp *dp, unsigned int ifindex, struct dp_hooks *h)
{
	__u32 drv, skb;
	const struct {
		__u32 *id;
		int mode;
	} modes[] = { { &drv, XDP_FLAGS_DRV_MODE }, { &skb, XDP_FLAGS_SKB_MODE } };

	if (xdp_ids(ifindex, &drv, &skb))
		return;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!*modes[i].id)
			continue;
		switch (prog_owner(dp, *modes[i].id)) {
		case OURS:
			h->xdp_mode = modes[i].mode;
			break;
		case OTHER_XNSG:
			h->foreign = true;
			break;
		default:
			h->other_xdp = *modes[i].id;
		}
	}
}

/* Our TC filter at one attach point: 1 ours, 0 none, -1 another instance's. */
static int tc_query(struct dp *dp, unsigned int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XNSG_TC_HANDLE, .priority = XNSG_TC_PRIO);

	if (bpf_tc_query(&hook, &opts) || !opts.prog_id)
		return 0; /* no filter, or no clsact qdisc at all */
	switch (prog_owner(dp, opts.prog_id)) {
	case OURS:
		return 1;
	case OTHER_XNSG:
		return -1;
	default:
		return 0;
	}
}

int dp_hooks_query(struct dp *dp, unsigned int ifindex, struct dp_hooks *h)
{
	int in, eg;

	memset(h, 0, sizeof(*h));
	xdp_query(dp, ifindex, h);
	in = tc_query(dp, ifindex, BPF_TC_INGRESS);
	eg = tc_query(dp, ifindex, BPF_TC_EGRESS);
	h->tc_ingress = in > 0;
	h->tc_egress = eg > 0;
	h->foreign |= in < 0 || eg < 0;
	return 0;
}

int dp_hooks_scan(struct dp *dp, int (*fn)(unsigned int ifindex, const struct dp_hooks *h, void *arg),
		  void *arg)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct dp_hooks h;
	int rc = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index && !rc; i++) {
		dp_hooks_query(dp, i->if_index, &h);
		if (h.xdp_mode || h.tc_ingress || h.tc_egress)
			rc = fn(i->if_index, &h, arg);
	}
	if_freenameindex(ifs);
	return rc < 0 ? rc : 0;
}

static int tc_attach(unsigned int ifindex, enum bpf_tc_attach_point where, int prog_fd,
		     bool *created)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XNSG_TC_HANDLE, .priority = XNSG_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	if (created && !err)
		*created = true;
	return bpf_tc_attach(&hook, &opts);
}

static int tc_detach(unsigned int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XNSG_TC_HANDLE, .priority = XNSG_TC_PRIO);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT ? 0 : err;
}

static int xdp_attach(struct dp *dp, struct dp_attachment *a, const struct dp_hooks *h)
{
	int fd = dp_prog_fd(dp, "xnsg_xdp"), err;

	/* Keep the mode of an earlier attach: switching modes needs a detach. */
	if (h->xdp_mode) {
		a->xdp_mode = h->xdp_mode;
		return bpf_xdp_attach((int)a->ifindex, fd, (__u32)a->xdp_mode, NULL);
	}
	a->xdp_mode = XDP_FLAGS_DRV_MODE;
	err = bpf_xdp_attach((int)a->ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		a->xdp_mode = XDP_FLAGS_SKB_MODE;
		err = bpf_xdp_attach((int)a->ifindex, fd, XDP_FLAGS_SKB_MODE, NULL);
	}
	return err;
}

/* Whether the interface may take our hooks: one line saying why not. */
static int attach_allowed(const struct dp_attachment *a, const struct dp_hooks *h)
{
	if (h->foreign) {
		pr_err("%s: already filtered by another xnsg instance (pins in another directory); "
		       "detach it there first", a->ifname);
		return -EBUSY;
	}
	if (!a->ingress_tc && h->other_xdp) {
		pr_err("%s: already has an XDP program (id %u) not loaded by xnsg; remove it "
		       "or use --ingress tc", a->ifname, h->other_xdp);
		return -EBUSY;
	}
	return 0;
}

int dp_attach(struct dp *dp, struct dp_attachment *a)
{
	struct dp_hooks h;
	int err;

	dp_hooks_query(dp, a->ifindex, &h);
	err = attach_allowed(a, &h);
	if (err)
		return err;
	/* A receive program no interface used before is loaded now. */
	err = dp_prog_need(dp, a->ingress_tc ? "xnsg_tc_ingress" : "xnsg_xdp");
	if (err)
		return err;
	if (!a->ingress_tc) {
		err = xdp_attach(dp, a, &h);
		if (err) {
			pr_err("%s: cannot attach XDP: %s", a->ifname, strerror(-err));
			return err;
		}
	} else {
		err = tc_attach(a->ifindex, BPF_TC_INGRESS,
				dp_prog_fd(dp, "xnsg_tc_ingress"), &a->clsact_created);
		if (err) {
			pr_err("%s: cannot attach TC ingress: %s", a->ifname, strerror(-err));
			return err;
		}
	}
	err = tc_attach(a->ifindex, BPF_TC_EGRESS, dp_prog_fd(dp, "xnsg_tc_egress"),
			&a->clsact_created);
	if (err)
		pr_err("%s: cannot attach TC egress: %s", a->ifname, strerror(-err));
	return err;
}

static int remove_xdp(const struct dp_attachment *a, int mode)
{
	int err = bpf_xdp_detach((int)a->ifindex, (__u32)mode, NULL);

	if (err)
		pr_err("%s: cannot detach XDP: %s", a->ifname, strerror(-err));
	return err;
}

static int remove_tc(const struct dp_attachment *a, enum bpf_tc_attach_point where)
{
	int err = tc_detach(a->ifindex, where);

	if (err)
		pr_err("%s: cannot detach TC %s: %s", a->ifname,
		       where == BPF_TC_INGRESS ? "ingress" : "egress", strerror(-err));
	return err;
}

int dp_detach_ingress(struct dp *dp, const struct dp_attachment *a)
{
	struct dp_hooks h;

	dp_hooks_query(dp, a->ifindex, &h);
	if (a->ingress_tc)
		return h.tc_ingress ? remove_tc(a, BPF_TC_INGRESS) : 0;
	return h.xdp_mode ? remove_xdp(a, h.xdp_mode) : 0;
}

int dp_detach(struct dp *dp, const struct dp_attachment *a)
{
	struct dp_hooks h;
	int err = 0, e;

	if (!if_indextoname(a->ifindex, (char[IF_NAMESIZE]){ 0 }))
		return 0;
	dp_hooks_query(dp, a->ifindex, &h);
	if (h.xdp_mode && (e = remove_xdp(a, h.xdp_mode)))
		err = e;
	if (h.tc_ingress && (e = remove_tc(a, BPF_TC_INGRESS)))
		err = e;
	if (h.tc_egress && (e = remove_tc(a, BPF_TC_EGRESS)))
		err = e;
	if (!err && a->clsact_created) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)a->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}
