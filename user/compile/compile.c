// SPDX-License-Identifier: MIT
/*
 * The compiler: policy model in, classifier tables out (layout and meaning
 * in include/xnsg/abi.h).  A pure function: no syscalls, no maps.
 *
 * Every NSG direction an interface uses becomes a table whose rule i is
 * bit i.  Each packet field value maps to a class, the bitmap of the rules
 * that value satisfies:
 *   addresses  one LPM entry per distinct prefix of a (table, field,
 *              family); its class holds the rules of every prefix covering
 *              it plus the rules with '*'.  Prefixes are sorted so that a
 *              prefix follows all prefixes covering it, and a stack walk
 *              gives each one its covering set: O(n log n), not O(n^2).
 *              The Internet tag is expanded here from tags.c's complement.
 *   ports      a sweep over the rules' range endpoints yields constant
 *              segments; each segment's class fills its ports of a
 *              65536-entry port map.
 *   protocol   256 class ids per table.
 * Identical bitmaps share a class id across the whole policy, identical
 * port maps share a port map id.  A class holding every rule of its table
 * is replaced by the one all-ones class: bits past a table's last rule are
 * never reached (every table ends in a match-all default rule, so the AND
 * of a packet's classes always has a set bit below nrules), and tables of
 * different sizes then share "matches everything" classes and port maps.
 *
 * compile.c builds each table and each interface's configuration from
 * classes.c (class ids, protocol classes), ports.c (port maps) and
 * addresses.c (LPM entries, the IPv4 and IPv6 multibit tries); lookup.c is the
 * classifier's lookup over the result.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "build.h"
#include "compile.h"
#include "policy.h"

_Static_assert(XNSG_MAX_TABLES < XNSG_NO_TABLE, "table ids are __u16 below XNSG_NO_TABLE");

#define NWORDS(n) (((n) + 63) / 64)

/* ---- one table ------------------------------------------------------ */

/* "NSG web-nsg Inbound: MSG" at the NSG's JSON path. */
void limit_diag(struct tctx *tc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(tc->cs->d, DIAG_ERROR, tc->g->path ? tc->g->path : "", "NSG %s %s: %s",
		 tc->g->name, dir_name(tc->t->dir), msg);
}

static int build_table(struct cstate *cs, const struct policy *p, struct compiled_table *t,
		       const struct prefix_list *inet)
{
	struct tctx tc = { .cs = cs, .g = &p->nsgs[t->nsg], .t = t };
	int err;

	tc.rules = nsg_rules(tc.g, t->dir, &tc.n);
	if (tc.n > XNSG_MAX_RULES) {
		limit_diag(&tc, "%zu rules (defaults included) exceed XNSG_MAX_RULES (%d); rebuild "
			   "with -DXNSG_RULE_WORDS=%zu to raise it", tc.n, XNSG_MAX_RULES,
			   NWORDS(tc.n));
		return -E2BIG;
	}
	tc.nw = NWORDS(tc.n);
	memset(tc.full, 0, sizeof(tc.full));
	for (size_t i = 0; i < tc.n; i++)
		setbit(tc.full, i);

	t->nrules = (uint32_t)tc.n;
	t->rules = xcalloc(tc.n ? tc.n : 1, sizeof(*t->rules));
	for (size_t i = 0; i < tc.n; i++)
		t->rules[i] = &tc.rules[i];
	t->desc.nrules = (uint32_t)tc.n;
	t->desc.rule_base = cs->c->nrule_slots;
	t->desc.nsg = (uint16_t)t->nsg;
	t->desc.dir = (uint8_t)t->dir;
	t->desc.port_class[0] = t->desc.port_class[1] = XNSG_NO_CLASS;
	if ((uint64_t)cs->c->nrule_slots + tc.n > XNSG_MAX_RULE_SLOTS) {
		limit_diag(&tc, "the policy's rules need more than XNSG_MAX_RULE_SLOTS (%d) counter "
			   "slots; rebuild with a larger -DXNSG_MAX_RULE_SLOTS=N to raise it",
			   XNSG_MAX_RULE_SLOTS);
		return -E2BIG;
	}
	cs->c->nrule_slots += (uint32_t)tc.n;

	err = build_allow_noport(&tc);
	if (!err)
		err = build_protos(&tc);
	if (!err)
		err = build_portmap(&tc, XNSG_FIELD_SRC);
	if (!err)
		err = build_portmap(&tc, XNSG_FIELD_DST);
	if (!err)
		err = build_addresses(&tc, inet);
	return err;
}

/* ---- the policy ----------------------------------------------------- */

static bool uses_internet(const struct policy *p, const bool *used)
{
	for (size_t g = 0; g < p->nnsgs; g++) {
		if (!used[g])
			continue;
		for (size_t i = 0; i < p->nsgs[g].nrules; i++)
			if (p->nsgs[g].rules[i].src.internet || p->nsgs[g].rules[i].dst.internet)
				return true;
	}
	return false;
}

static int subnet_nsg(const struct policy *p, const struct iface *ifc)
{
	return ifc->subnet >= 0 && (size_t)ifc->subnet < p->nsubnets ? p->subnets[ifc->subnet].nsg
								       : -1;
}

/* used[g]: NSG g is some interface's subnet or NIC NSG. */
static void mark_used(const struct policy *p, bool *used)
{
	for (size_t i = 0; i < p->nifaces; i++) {
		int sn = subnet_nsg(p, &p->ifaces[i]);

		if (sn >= 0 && (size_t)sn < p->nnsgs)
			used[sn] = true;
		if (p->ifaces[i].nsg >= 0 && (size_t)p->ifaces[i].nsg < p->nnsgs)
			used[p->ifaces[i].nsg] = true;
	}
}

/* Tables: both directions of every NSG some interface uses, in NSG order
 * (stable across updates that keep the NSGs); tid[g][dir] their ids. */
static int build_tables(struct cstate *cs, const struct policy *p, const bool *used,
			int (*tid)[2], const struct prefix_list *inet)
{
	struct compiled *c = cs->c;
	int err;

	for (size_t g = 0; g < p->nnsgs; g++) {
		tid[g][0] = tid[g][1] = -1;
		if (!used[g])
			continue;
		for (int dir = XNSG_IN; dir <= XNSG_OUT; dir++) {
			struct compiled_table *t;

			if (c->ntables >= XNSG_MAX_TABLES) {
				diag_add(cs->d, DIAG_ERROR, p->nsgs[g].path ? p->nsgs[g].path : "",
					 "NSG %s %s: interfaces use more than XNSG_MAX_TABLES (%d) NSG "
					 "directions; rebuild with a larger -DXNSG_MAX_TABLES=N to raise it",
					 p->nsgs[g].name, dir_name(dir), XNSG_MAX_TABLES);
				return -E2BIG;
			}
			c->tables = xrealloc(c->tables, (c->ntables + 1) * sizeof(*c->tables));
			t = &c->tables[c->ntables];
			memset(t, 0, sizeof(*t));
			t->nsg = (int)g;
			t->dir = dir;
			tid[g][dir] = (int)c->ntables++;
			err = build_table(cs, p, t, inet);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Each interface's tables in evaluation order: inbound subnet then NIC,
 * outbound NIC then subnet. */
static void build_ifaces(struct compiled *c, const struct policy *p, int (*tid)[2])
{
	c->ifaces = xcalloc(p->nifaces ? p->nifaces : 1, sizeof(*c->ifaces));
	c->nifaces = p->nifaces;
	for (size_t i = 0; i < p->nifaces; i++) {
		const struct iface *ifc = &p->ifaces[i];
		struct xnsg_iface_cfg *cfg = &c->ifaces[i].cfg;
		int sn = subnet_nsg(p, ifc), nic = ifc->nsg;

		if (sn >= (int)p->nnsgs)
			sn = -1;
		if (nic >= (int)p->nnsgs)
			nic = -1;
		c->ifaces[i].iface = (int)i;
		for (int dir = XNSG_IN; dir <= XNSG_OUT; dir++) {
			int first = dir == XNSG_IN ? sn : nic, second = dir == XNSG_IN ? nic : sn;

			cfg->table[dir][0] = first >= 0 ? (uint16_t)tid[first][dir] : XNSG_NO_TABLE;
			cfg->table[dir][1] = second >= 0 ? (uint16_t)tid[second][dir] : XNSG_NO_TABLE;
		}
		cfg->id = (uint32_t)i;
		cfg->attach = ifc->attach == XNSG_ATTACH_PEER ? XNSG_ATTACH_MODE_PEER
							      : XNSG_ATTACH_MODE_HOST;
	}
}

int compile_policy(const struct policy *p, struct compiled **out, struct diag_list *d)
{
	struct cstate cs = { .d = d, .allones_map = -1 };
	struct prefix_list inet = {};
	struct compiled *c;
	int (*tid)[2] = NULL;
	bool *used = NULL;
	uint64_t ones[XNSG_RULE_WORDS];
	int err = 0;

	*out = NULL;
	c = xcalloc(1, sizeof(*c));
	cs.c = c;
	memset(ones, 0xff, sizeof(ones));
	cs.allones = class_intern(&cs, ones, XNSG_RULE_WORDS, NULL);

	used = xcalloc(p->nnsgs + 1, sizeof(*used));
	tid = xcalloc(p->nnsgs + 1, sizeof(*tid));
	mark_used(p, used);
	if (p->nifaces > XNSG_MAX_IFACES) {
		diag_add(d, DIAG_ERROR, "$.interfaces",
			 "%zu interfaces exceed XNSG_MAX_IFACES (%d), from interface %s on; rebuild "
			 "with a larger -DXNSG_MAX_IFACES=N to raise it", p->nifaces,
			 XNSG_MAX_IFACES, p->ifaces[XNSG_MAX_IFACES].name);
		err = -E2BIG;
		goto out;
	}
	if (uses_internet(p, used)) {
		err = tags_internet_prefixes(p, &inet);
		if (err) {
			diag_add(d, DIAG_ERROR, "", "cannot expand the Internet tag: %s",
				 strerror(-err));
			goto out;
		}
	}
	err = build_tables(&cs, p, used, tid, &inet);
	if (!err)
		build_ifaces(c, p, tid);
out:
	prefix_list_free(&inet);
	free(used);
	free(tid);
	free(cs.slots);
	free(cs.clen);
	free(cs.chash);
	free(cs.pmhash);
	if (err) {
		compiled_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void compiled_free(struct compiled *c)
{
	if (!c)
		return;
	for (size_t t = 0; t < c->ntables; t++) {
		free(c->tables[t].rules);
		free(c->tables[t].lpm4);
		free(c->tables[t].lpm6);
		free(c->tables[t].dir4[0]);
		free(c->tables[t].dir4[1]);
	}
	free(c->tables);
	huge_unmap(c->classes, CLASSES_BYTES);
	free(c->portmaps);
	free(c->dir4_next);
	free(c->dir6);
	free(c->ifaces);
	free(c);
}
