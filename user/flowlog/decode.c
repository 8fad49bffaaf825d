// SPDX-License-Identifier: MIT
/*
 * Records from what the datapath holds: a flow entry (or an event's copy
 * of one) or an aggregated deny, named as Azure names them.
 *
 * Which rule a record names (docs/DESIGN.md §4): a denied flow the rule
 * that denied it (the first level that denies: the datapath keeps its
 * slot), an allowed flow the rule of the last level with an NSG (Inbound
 * the NIC's, Outbound the subnet's, when there is one).  A slot is named
 * from the record of the generation the flow was judged by (the apply
 * that wrote it); a flow allowed by a generation since rewritten twice
 * keeps the names of the one now in its place.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "export_int.h"

/* Generation g's counter-slot names, split. */
static void read_rules(struct fl_names *n, unsigned int g, json_t *slots)
{
	json_t *j;
	size_t i;

	free(n->rules[g]);
	n->nrules[g] = json_array_size(slots);
	n->rules[g] = xcalloc(n->nrules[g] ? n->nrules[g] : 1, sizeof(*n->rules[g]));
	json_array_foreach(slots, i, j) {
		const char *s = json_string_value(j);
		const char *dir = s ? strchr(s, '/') : NULL, *rule = dir ? strchr(dir + 1, '/') : NULL;
		struct fl_rule *r = &n->rules[g][i];
		size_t len;

		if (!rule)
			continue;
		len = (size_t)(dir - s) < FLOWLOG_NAME_MAX ? (size_t)(dir - s) : FLOWLOG_NAME_MAX;
		memcpy(r->nsg, s, len);
		r->nsg[len] = '\0';
		flowlog_set_name(r->rule, sizeof(r->rule), rule + 1);
		r->default_rule = flowlog_is_default_rule(r->rule);
	}
}

void fl_names_refresh(struct fl_names *n, struct dp *dp)
{
	struct xnsg_active act = { 0 };
	json_t *st;

	n->mono_to_real = flowlog_realtime_ns(NULL) - mono_ns();
	if (dp_active_read(dp, &act))
		return;
	if (n->read && act.gen == n->gen && act.serial == n->serial)
		return;
	st = state_read();
	for (unsigned int g = 0; g < XNSG_GENS; g++) {
		json_t *slots = state_gen_slots(json_array_get(json_object_get(st, "gens"), g), g);

		read_rules(n, g, slots);
		json_decref(slots);
	}
	json_decref(st);
	n->gen = act.gen;
	n->serial = act.serial;
	n->read = true;
}

void fl_names_free(struct fl_names *n)
{
	for (unsigned int g = 0; g < XNSG_GENS; g++)
		free(n->rules[g]);
	free(n->ifaces);
	memset(n, 0, sizeof(*n));
}

/* The interface's name and MAC, looked up once (by ioctl: right in any
 * network namespace, whatever /sys shows). */
static const struct fl_iface *iface_of(struct fl_names *n, unsigned int ifindex)
{
	struct ifreq ifr = { 0 };
	struct fl_iface *f;
	int fd;

	for (size_t i = 0; i < n->nifaces; i++)
		if (n->ifaces[i].ifindex == ifindex)
			return &n->ifaces[i];
	n->ifaces = xrealloc(n->ifaces, (n->nifaces + 1) * sizeof(*n->ifaces));
	f = &n->ifaces[n->nifaces++];
	memset(f, 0, sizeof(*f));
	f->ifindex = ifindex;
	if (!if_indextoname(ifindex, f->name)) {
		n->nifaces--; /* gone, or not yet: ask again next time */
		return NULL;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(ifr.ifr_name, f->name, sizeof(ifr.ifr_name));
	if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(f->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (fd >= 0)
		close(fd);
	return f;
}

/* The rule of slot in generation gen into r's nsg and rule. */
static void name_rule(struct fl_names *n, struct flowlog_record *r, unsigned int gen, uint32_t slot)
{
	const struct fl_rule *f = slot < n->nrules[gen & 1] ? &n->rules[gen & 1][slot] : NULL;

	if (!f)
		return;
	memcpy(r->nsg, f->nsg, sizeof(r->nsg));
	memcpy(r->rule, f->rule, sizeof(r->rule));
	r->default_rule = f->default_rule;
}

static void record_iface(struct fl_names *n, struct flowlog_record *r, unsigned int ifindex)
{
	const struct fl_iface *f = iface_of(n, ifindex);

	r->ifindex = ifindex;
	if (f) {
		memcpy(r->ifname, f->name, sizeof(r->ifname));
		memcpy(r->mac, f->mac, sizeof(r->mac));
	}
}

static void addr_of(struct xnsg_addr *a, uint8_t family, const uint8_t *bytes)
{
	memset(a, 0, sizeof(*a));
	a->family = family == 6 ? XNSG_V6 : XNSG_V4;
	memcpy(a->bytes, bytes, 16);
}

void fl_flow_of(struct fl_flow *f, const struct xnsg_ct_key *k, const struct xnsg_ct_val *v,
		uint64_t now)
{
	f->k = k;
	f->slot[0] = v->slot[0] == XNSG_CT_NO_SLOT ? ~0U : v->slot[0];
	f->slot[1] = v->slot[1] == XNSG_CT_NO_SLOT ? ~0U : v->slot[1];
	f->created_ns = dp_ct_created_ns(v, now);
	f->dir = v->dir;
	f->init_a = v->init_a;
	f->gen = v->gen;
}

void fl_flow_of_known(struct fl_flow *f, const struct fl_known *kn)
{
	f->k = &kn->k;
	f->slot[0] = kn->slot[0];
	f->slot[1] = kn->slot[1];
	f->created_ns = kn->created_ns;
	f->dir = kn->dir;
	f->init_a = kn->init_a;
	f->gen = kn->gen;
}

void fl_known_of_flow(struct fl_known *kn, const struct fl_flow *f)
{
	kn->slot[0] = f->slot[0];
	kn->slot[1] = f->slot[1];
	kn->created_ns = f->created_ns;
	kn->dir = f->dir;
	kn->init_a = f->init_a;
	kn->gen = f->gen;
}

void fl_delta(const struct xnsg_ct_val *v, const struct xnsg_fl_pos *p, uint64_t d[4])
{
	for (int i = 0; i < 2; i++) {
		uint32_t pk = p ? p->packets[i] : 0;
		uint64_t b = p ? p->bytes[i] : 0;

		d[2 * i] = (uint32_t)(v->packets[i] - pk); /* both modulo 2^32 */
		d[2 * i + 1] = v->bytes[i] > b ? v->bytes[i] - b : 0;
	}
}

void fl_record_flow(struct fl_names *n, struct flowlog_record *r, const struct fl_flow *f,
		    const uint64_t d[4], unsigned int st, uint64_t t)
{
	const struct xnsg_ct_key *k = f->k;
	int level = f->slot[1] != ~0U ? 1 : 0;

	memset(r, 0, sizeof(*r));
	r->time_ns = t + n->mono_to_real;
	r->start_ns = f->created_ns + n->mono_to_real;
	r->state = (uint8_t)st;
	r->decision = FLOWLOG_ALLOW;
	r->dir = f->dir == XNSG_DIR_OUT ? XNSG_OUT : XNSG_IN;
	r->proto = k->proto;
	addr_of(&r->src, k->family, f->init_a ? k->addr_a : k->addr_b);
	addr_of(&r->dst, k->family, f->init_a ? k->addr_b : k->addr_a);
	r->sport = f->init_a ? k->port_a : k->port_b;
	r->dport = f->init_a ? k->port_b : k->port_a;
	if (st != FLOWLOG_BEGIN) {
		r->pkts_s2d = d[0];
		r->bytes_s2d = d[1];
		r->pkts_d2s = d[2];
		r->bytes_d2s = d[3];
	}
	record_iface(n, r, k->ifindex);
	if (f->slot[level] != ~0U)
		name_rule(n, r, f->gen, f->slot[level]);
}

void fl_record_deny(struct fl_names *n, struct flowlog_record *r, const struct xnsg_deny_key *k,
		    const struct xnsg_deny_val *v)
{
	memset(r, 0, sizeof(*r));
	r->time_ns = v->last_ns + n->mono_to_real;
	r->start_ns = v->first_ns + n->mono_to_real;
	r->state = FLOWLOG_DENY;
	r->decision = FLOWLOG_DENIED;
	r->dir = k->dir == XNSG_DIR_OUT ? XNSG_OUT : XNSG_IN;
	r->proto = k->proto;
	addr_of(&r->src, k->family, k->src);
	addr_of(&r->dst, k->family, k->dst);
	r->sport = k->sport;
	r->dport = k->dport;
	r->pkts_s2d = v->packets;
	r->bytes_s2d = v->bytes;
	record_iface(n, r, k->ifindex);
	if (v->slot != ~0U)
		name_rule(n, r, v->gen, v->slot);
}
