/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The classifier: one NSG direction ("table") decides a parsed packet by
 * the bit-vector search described in include/xnsg/abi.h.  Included by
 * xnsg.bpf.c after the map definitions and parse.h.
 *
 * Per table: up to five lookups turn the packet's fields into class ids
 * (an IPv4 address usually by one read of the direct table, see
 * xnsg_dir4, an IPv6 one by a few reads of a path-compressed trie,
 * xnsg_dir6; a port no rule restricts - the source port, in most NSGs -
 * and the protocol of TCP and UDP are read from the table itself), five
 * more fetch the classes' bitmaps, then the summary words name the only
 * 64-rule words worth ANDing.  No loop over rules: the usual packet ANDs
 * one summary word and one rule word per field.
 */
#ifndef XNSG_CLASSIFY_H
#define XNSG_CLASSIFY_H

#define XNSG_NFIELDS 5

/*
 * Count trailing zeros of a non-zero word.  BPF has no ctz instruction,
 * and a branchy version multiplies the verifier's paths; this one is
 * straight-line: the lowest set bit times a de Bruijn sequence puts a
 * distinct 6-bit pattern in the top bits, which a 64-byte table (in
 * .rodata) maps to the bit's index.  A multiply, a shift and one load
 * where a popcount of the bits below took a dozen ALU operations: two
 * calls a level at least, 5-10 ns a new flow, ~20 ns with 4,000 random
 * rules (bench/RESULTS-datapath.md).
 */
static const __u8 xnsg_ctz_table[64] = {
	0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
};

static __always_inline __u32 xnsg_ctz64(__u64 x)
{
	__u32 r = xnsg_ctz_table[((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58];

	/* Hide the table's contents from clang: knowing them (all < 64), it
	 * drops the callers' bound checks, which the verifier, seeing a byte
	 * load (< 256), needs. */
	asm volatile("" : "+r"(r));
	return r;
}

static __always_inline struct xnsg_bitmap *xnsg_class(__u32 gen, __u32 id)
{
	__u32 key;

	if (id >= XNSG_MAX_CLASSES)
		return NULL;
	key = gen * XNSG_MAX_CLASSES + id;
	return bpf_map_lookup_elem(&xnsg_classes, &key);
}

/*
 * The IPv4 multibit trie (see xnsg_dir4 in abi.h): the class of addr, or
 * XNSG_DIR4_TRIE when the LPM trie must decide.
 */
static __always_inline __u32 xnsg_dir4_class(__u32 gen, __u32 t, __u32 field, const __u8 *addr)
{
	__u32 hi = (__u32)addr[0] << 8 | addr[1];
	__u32 key = ((gen * XNSG_MAX_TABLES + t) * 2 + (field & 1)) * XNSG_DIR4_CHUNKS +
		    hi / XNSG_DIR4_PER_CHUNK;
	struct xnsg_dir4_chunk *c = bpf_map_lookup_elem(&xnsg_dir4, &key);
	struct xnsg_dir4_next *n;
	__u32 e;

	if (!c)
		return XNSG_DIR4_TRIE;
	e = c->cls[hi % XNSG_DIR4_PER_CHUNK];
	for (int byte = 2; byte < 4; byte++) { /* levels 2 and 3: one address byte each */
		if (e < XNSG_DIR4_PTR || e == XNSG_DIR4_TRIE)
			return e;
		key = gen * XNSG_DIR4_POOL + (e & (XNSG_DIR4_PTR - 1));
		n = bpf_map_lookup_elem(&xnsg_dir4_next, &key);
		if (!n)
			return XNSG_DIR4_TRIE;
		e = n->cls[addr[byte]];
	}
	return e < XNSG_DIR4_PTR ? e : XNSG_DIR4_TRIE;
}

/*
 * The IPv6 multibit trie from entry e (see xnsg_dir6 in abi.h): the class
 * of addr, or XNSG_DIR4_TRIE when the LPM trie must decide.  At most
 * XNSG_DIR6_DEPTH node reads, each a two-word masked compare (is the
 * address in the node's region?) and one entry read.
 */
static __always_inline __u32 xnsg_dir6_class(__u32 gen, __u32 e, const __u8 *addr)
{
	struct xnsg_dir6_node *n;
	__u64 a[2];
	__u32 key;

	__builtin_memcpy(a, addr, 16);
	for (int i = 0; i < XNSG_DIR6_DEPTH; i++) {
		if (e < XNSG_DIR4_PTR || e == XNSG_DIR4_TRIE)
			return e;
		key = gen * XNSG_DIR6_POOL + (e & (XNSG_DIR4_PTR - 1));
		n = bpf_map_lookup_elem(&xnsg_dir6, &key);
		if (!n)
			return XNSG_DIR4_TRIE;
		if (((a[0] & n->mask[0]) ^ n->key[0]) | ((a[1] & n->mask[1]) ^ n->key[1]))
			return n->miss;
		e = n->e[addr[n->pos & 15]];
	}
	return e < XNSG_DIR4_PTR ? e : XNSG_DIR4_TRIE;
}

/* The class of an address field: longest prefix, else the table's default. */
static __always_inline __u32 xnsg_addr_class(const struct xnsg_table *tb, __u32 gen, __u32 t,
					     __u32 field, const struct xnsg_pkt *pkt)
{
	const __u8 *addr = field == XNSG_FIELD_SRC ? pkt->saddr : pkt->daddr;
	struct xnsg_lpm_val *v;

	if (pkt->family == 4) {
		struct xnsg_lpm4_key k = { .prefixlen = 64, .tfg = XNSG_TFG(gen, t, field) };
		__u32 e = xnsg_dir4_class(gen, t, field, addr);

		if (e < XNSG_DIR4_PTR)
			return e;
		__builtin_memcpy(k.addr, addr, 4);
		v = bpf_map_lookup_elem(&xnsg_lpm4, &k);
		return v ? v->cls : tb->any4_class[field & 1];
	} else {
		struct xnsg_lpm6_key k = { .prefixlen = 160, .tfg = XNSG_TFG(gen, t, field) };
		__u32 e = xnsg_dir6_class(gen, tb->dir6_root[field & 1], addr);

		if (e < XNSG_DIR4_PTR)
			return e;
		__builtin_memcpy(k.addr, addr, 16);
		v = bpf_map_lookup_elem(&xnsg_lpm6, &k);
		return v ? v->cls : tb->any6_class[field & 1];
	}
}

static __always_inline int xnsg_port_class(const struct xnsg_table *tb, __u32 gen, __u32 field,
					   __u16 port, __u32 *cls)
{
	struct xnsg_port_chunk *c;
	__u32 key = tb->port_class[field & 1];

	if (key != XNSG_NO_CLASS) { /* no rule restricts this port */
		*cls = key;
		return 0;
	}
	key = (gen * XNSG_MAX_PORTMAPS + tb->portmap[field & 1]) * XNSG_PORT_CHUNKS +
	      port / XNSG_PORTS_PER_CHUNK;
	c = bpf_map_lookup_elem(&xnsg_ports, &key);
	if (!c)
		return -1;
	*cls = c->cls[port % XNSG_PORTS_PER_CHUNK];
	return 0;
}

struct xnsg_decision {
	__u32 rule;  /* the winning rule's index (its bit) */
	__u32 slot;  /* its counter slot */
	__u32 allow; /* 1 allow, 0 deny */
};

/*
 * Decide packet pkt by table t of generation gen.  Returns 0 with d
 * filled, or a positive xnsg_reason when the tables are inconsistent.
 * A global function: the verifier checks it once, not once per caller
 * path, which keeps the candidate-word loop affordable.
 */
__noinline int xnsg_table_decide(__u32 gen, __u32 t, const struct xnsg_pkt *pkt,
				 struct xnsg_decision *d)
{
	struct xnsg_bitmap *b[XNSG_NFIELDS];
	__u32 cls[XNSG_NFIELDS], key, *pc;
	struct xnsg_table *tb;
	const __u64 *dsum;
	__u32 s, k, i, r, ports = 0;

	if (!pkt || !d || t >= XNSG_MAX_TABLES || gen >= XNSG_GENS)
		return XNSG_R_MAP_MISSING;
	key = gen * XNSG_MAX_TABLES + t;
	tb = bpf_map_lookup_elem(&xnsg_tables, &key);
	if (!tb)
		return XNSG_R_MAP_MISSING;

	cls[0] = xnsg_addr_class(tb, gen, t, XNSG_FIELD_SRC, pkt);
	cls[1] = xnsg_addr_class(tb, gen, t, XNSG_FIELD_DST, pkt);
	if (pkt->proto == 6 || pkt->proto == 17) {
		cls[4] = tb->l4_class[pkt->proto == 17];
		if (pkt->frag == XNSG_FRAG_LATER) {
			cls[2] = cls[3] = tb->noport_class;
		} else {
			if (xnsg_port_class(tb, gen, XNSG_FIELD_SRC, pkt->sport, &cls[2]) ||
			    xnsg_port_class(tb, gen, XNSG_FIELD_DST, pkt->dport, &cls[3]))
				return XNSG_R_MAP_MISSING;
			ports = 1;
		}
	} else {
		cls[2] = cls[3] = tb->noport_class;
		key = key * XNSG_PROTOS + pkt->proto;
		pc = bpf_map_lookup_elem(&xnsg_protos, &key);
		if (!pc)
			return XNSG_R_MAP_MISSING;
		cls[4] = *pc;
	}

	for (i = 0; i < XNSG_NFIELDS; i++) {
		b[i] = xnsg_class(gen, cls[i]);
		if (!b[i])
			return XNSG_R_MAP_MISSING;
	}

	/* A destination port's class summarizes its words per protocol. */
	dsum = ports ? b[3]->l4sum[pkt->proto == 17] : b[3]->summary;
	for (s = 0; s < XNSG_SUMMARY_WORDS; s++) {
		__u64 m = b[0]->summary[s] & b[1]->summary[s] & b[2]->summary[s] & dsum[s] &
			  b[4]->summary[s];

		for (k = 0; k < 64 && m; k++) {
			__u32 wi = s * 64 + xnsg_ctz64(m);
			__u64 w;

			if (wi >= XNSG_RULE_WORDS)
				break;
			w = b[3]->w[wi] & b[0]->w[wi];
			if (w)
				w &= b[1]->w[wi] & b[2]->w[wi] & b[4]->w[wi];
			if (w) {
				r = wi * 64 + xnsg_ctz64(w);
				goto found;
			}
			m &= m - 1;
		}
	}
	return XNSG_R_NO_MATCH;

found:
	if (r >= XNSG_MAX_RULES)
		return XNSG_R_MAP_MISSING;
	d->rule = r;
	d->allow = (tb->allow[r / 64] >> (r % 64)) & 1;
	d->slot = tb->rule_base + r;
	return 0;
}

#endif /* XNSG_CLASSIFY_H */
