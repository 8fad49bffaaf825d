/* SPDX-License-Identifier: MIT */
/*
 * Inside the compiler: the state of one compilation (cstate) and of the
 * table being built (tctx), and what each of its files lends the others.
 * Nothing outside user/compile/ includes this; the API is compile.h.
 */
#ifndef XNSG_COMPILE_BUILD_H
#define XNSG_COMPILE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"

/* compiled.classes: room for every class a policy may have, in a region of
 * huge pages (huge_map()): written once, each page as far as the classes
 * reach; 4 KiB pages grown by realloc were each faulted in, cleared and
 * charged alone, ~2 ms of an update of 4,000 rules. */
#define CLASSES_BYTES ((size_t)XNSG_MAX_CLASSES * sizeof(struct xnsg_bitmap))

struct cstate {
	struct compiled *c;
	size_t ccap;
	uint8_t *clen;       /* per class: words up to the last non-zero one */
	uint64_t *chash;     /* per class: its hash (class_intern()) */
	uint32_t *slots;     /* open addressing: class id + 1, 0 empty */
	size_t nslots;       /* power of two, more than twice the classes */
	uint64_t *pmhash;    /* per port map */
	size_t pmcap;
	int allones;         /* class id of the every-bit class */
	int allones_map;     /* port map id of the all-ones constant map, -1 */
	uint32_t nlpm[2];    /* LPM entries so far: IPv4, IPv6 */
	struct diag_list *d;
};

struct tctx {
	struct cstate *cs;
	const struct nsg *g;
	struct compiled_table *t;
	const struct rule *rules;
	size_t n;                       /* rules */
	size_t nw;                      /* words holding them */
	uint64_t full[XNSG_RULE_WORDS]; /* every rule of the table */
};

static inline void setbit(uint64_t *w, size_t i)
{
	w[i / 64] |= 1ULL << (i % 64);
}

/* classes.c: the class id of bitmap w (nw words, the rest zero) with the
 * per-protocol summaries l4sum (NULL: the plain summary, as every class
 * but a destination port's), interned; -E2BIG when XNSG_MAX_CLASSES
 * distinct classes already exist. */
int class_intern(struct cstate *cs, const uint64_t *w, size_t nw,
		 const uint64_t (*l4sum)[XNSG_SUMMARY_WORDS]);
/* compile.c: "NSG web-nsg Inbound: MSG" at the NSG's JSON path. */
void limit_diag(struct tctx *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* classes.c: the class of a bitmap of this table; -E2BIG (diagnosed) when full. */
int tclass(struct tctx *tc, const uint64_t *w, uint16_t *out);
/* classes.c: the same for a destination port's bitmap, with its
 * per-protocol summaries (after build_protos). */
int tclass_dport(struct tctx *tc, const uint64_t *w, uint16_t *out);
/* classes.c: the table's protocol classes. */
int build_protos(struct tctx *tc);
/* classes.c: the table's allow class and no-port class. */
int build_allow_noport(struct tctx *tc);
/* ports.c: the port map of one field (XNSG_FIELD_SRC/DST). */
int build_portmap(struct tctx *tc, int field);
/* addresses.c: the LPM entries and IPv4 tries of both fields; inet: the
 * Internet tag's prefixes (empty when no rule names it). */
int build_addresses(struct tctx *tc, const struct prefix_list *inet);
/* trie6.c: the IPv6 multibit tries of both fields (xnsg_dir6), from the
 * table's LPM entries; their roots in t->desc.dir6_root. */
void build_dir6(struct compiled *c, struct compiled_table *t);

#endif /* XNSG_COMPILE_BUILD_H */
