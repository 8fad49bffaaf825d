/* SPDX-License-Identifier: MIT */
/*
 * The compiler: policy model in, classifier tables out (layout in
 * include/xnsg/abi.h).  A pure function: no syscalls, no maps; the
 * datapath module writes what it returns into the kernel.
 */
#ifndef XNSG_COMPILE_H
#define XNSG_COMPILE_H

#include "diag.h"
#include "model.h"
#include "xnsg/abi.h"

/* One LPM entry: prefix of `family` for `field` (XNSG_FIELD_SRC/DST). */
struct lpm_entry {
	struct xnsg_prefix prefix;
	uint8_t field;
	uint16_t cls;
};

struct compiled_table {
	int nsg;                   /* index into policy.nsgs */
	enum xnsg_dir dir;
	uint32_t nrules;           /* rules of this NSG direction, priority order */
	const struct rule **rules; /* rules[i]: the model rule behind bit i */
	struct xnsg_table desc;    /* as written to xnsg_tables (gen-relative ids) */
	uint16_t proto_class[XNSG_PROTOS];
	struct lpm_entry *lpm4, *lpm6;
	size_t nlpm4, nlpm6;
	uint16_t *dir4[2];         /* per field: 65536 entries, see xnsg_dir4 in abi.h */
};

struct compiled_iface {
	int iface;                 /* index into policy.ifaces */
	struct xnsg_iface_cfg cfg; /* table[dir][level], evaluation order */
};

struct compiled {
	struct compiled_table *tables;
	size_t ntables;
	struct xnsg_bitmap *classes; /* class id -> bitmap; identical bitmaps shared */
	size_t nclasses;
	uint16_t (*portmaps)[65536]; /* port map id -> class id of each port */
	size_t nportmaps;
	uint16_t (*dir4_next)[256];  /* IPv4 trie levels 2 and 3 (xnsg_dir4_next) */
	size_t ndir4_next;           /* at most XNSG_DIR4_POOL */
	struct xnsg_dir6_node *dir6; /* IPv6 trie nodes (xnsg_dir6); roots in desc */
	size_t ndir6;                /* at most XNSG_DIR6_POOL */
	struct compiled_iface *ifaces;
	size_t nifaces;
	uint32_t nrule_slots;        /* counter slots used (sum of nrules) */
};

/*
 * Compile every NSG direction used by an interface.  Returns 0, or
 * -E2BIG when a limit of abi.h is exceeded (a diag names the limit, the
 * NSG and how to raise it).
 */
int compile_policy(const struct policy *p, struct compiled **out, struct diag_list *d);
void compiled_free(struct compiled *c);

/*
 * The lookup the BPF classifier performs, done in userspace over the
 * compiled tables: the rule index (bit) in table t that decides the
 * packet, or -1.  For tests of the compiler.
 */
int compiled_classify(const struct compiled *c, size_t t, uint8_t ipproto,
		      const struct xnsg_addr *src, uint16_t sport,
		      const struct xnsg_addr *dst, uint16_t dport);

/*
 * The IPv6 multibit trie's answer for address addr (16 bytes) from entry
 * e, as bpf/classify.h walks it: a class, or XNSG_DIR4_TRIE (the LPM trie
 * decides).  w (may be NULL) tells the path, for tests.
 */
struct dir6_walk {
	int reads;    /* nodes read */
	int pos;      /* the last node's byte */
	bool skipped; /* some node was past the byte after its parent's (path compression) */
	bool missed;  /* a node's region check sent it to the node's miss class */
};
uint16_t compiled_dir6(const struct compiled *c, uint16_t e, const uint8_t *addr,
		       struct dir6_walk *w);

#endif
