/* SPDX-License-Identifier: MIT */
/*
 * Every struct, enum and constant that crosses the kernel/user boundary.
 * Included by bpf/xnsg.bpf.c (after vmlinux.h) and by the loader.
 *
 * Classifier layout (docs/DESIGN.md §3, the bit-vector search of bpf-iptables):
 * every NSG-direction of the live policy is one "table".  A table's rules
 * are numbered 0..nrules-1 in priority order (the defaults last).  Each
 * packet field maps to a "class", a bitmap of the rules the field value
 * satisfies:
 *   source and destination address -> LPM trie (table, field, prefix) -> class;
 *                                     for IPv4 a 16-8-8 multibit trie built
 *                                     from the same entries answers first
 *                                     (xnsg_dir4, below), for IPv6 a
 *                                     path-compressed 8-bit-stride trie
 *                                     (xnsg_dir6)
 *   source and destination port    -> port map: 65536 class ids, 32 a value
 *   IP protocol                    -> proto array (table, proto) -> class
 * The verdict of a table is the lowest bit set in the AND of the five
 * classes; it is found through the classes' summary words (bit b set: word
 * b has a bit) so only candidate words are touched and the cost does not
 * grow with the rule count.
 *
 * Atomic update: every key or index carries a generation (0 or 1).  The
 * loader writes the idle generation completely, flips xnsg_active in one
 * array update, then clears the old generation.  A packet reads the
 * generation once, so it is judged wholly by the old or wholly by the new
 * tables.
 */
#ifndef XNSG_ABI_H
#define XNSG_ABI_H

#ifndef __BPF__
#include <linux/types.h>
#endif

#define XNSG_PIN_DIR "/sys/fs/bpf/xnsg"

/* ---- limits: each overridable with -D at build time ----------------- */

/* Bitmap words per class: 65 * 64 = 4160 rules per NSG direction
 * (4096 user rules + the 3 defaults, with room). */
#ifndef XNSG_RULE_WORDS
#define XNSG_RULE_WORDS 65
#endif
#define XNSG_MAX_RULES (XNSG_RULE_WORDS * 64)
#define XNSG_SUMMARY_WORDS ((XNSG_RULE_WORDS + 63) / 64)

/* NSG-direction tables per generation: 32 NSGs with both directions. */
#ifndef XNSG_MAX_TABLES
#define XNSG_MAX_TABLES 64
#endif

/* Distinct rule bitmaps per generation.  Identical bitmaps are shared, so
 * this bounds distinct rule combinations, not prefixes.  One NSG whose
 * ~4,000 rules per direction all differ in prefixes and ports needs ~24k;
 * 32k takes 2 x 32768 x 536 B = 35 MiB.  Ids fit __u16. */
#ifndef XNSG_MAX_CLASSES
#define XNSG_MAX_CLASSES 32768
#endif

/* Distinct port maps (65536 class ids each, 128 KiB) per generation;
 * identical maps are shared between tables and fields. */
#ifndef XNSG_MAX_PORTMAPS
#define XNSG_MAX_PORTMAPS 32
#endif
#define XNSG_PORTS_PER_CHUNK 32
#define XNSG_PORT_CHUNKS (65536 / XNSG_PORTS_PER_CHUNK)

/* LPM entries per family, both fields, both generations: docs/DESIGN.md §1 asks for
 * 100k prefixes per policy; a live and a staged policy must fit together. */
#ifndef XNSG_MAX_LPM4
#define XNSG_MAX_LPM4 262144
#endif
#ifndef XNSG_MAX_LPM6
#define XNSG_MAX_LPM6 262144
#endif

/* Interfaces per generation. */
#ifndef XNSG_MAX_IFACES
#define XNSG_MAX_IFACES 1024
#endif

/* Per-rule counter slots per generation (all tables' rules end to end).
 * A flow entry keeps a slot in 16 bits, 0xffff meaning none. */
#ifndef XNSG_MAX_RULE_SLOTS
#define XNSG_MAX_RULE_SLOTS 65535
#endif

/* Tracked IPv4 flows (LRU: the least recently seen flow is evicted when
 * full); IPv6 flows a quarter as many (XNSG_CT6_MAX()), $XNSG_MAX_FLOWS6
 * when set.  `apply --max-flows N` sets it at load time. */
#ifndef XNSG_CT_MAX
#define XNSG_CT_MAX 1048576
#endif
#define XNSG_CT6_MIN 1024
#define XNSG_CT6_MAX(n) ((n) / 4 > XNSG_CT6_MIN ? (n) / 4 : XNSG_CT6_MIN)

/* Remembered first-fragment verdicts (per datagram, a few seconds each). */
#ifndef XNSG_FRAG_MAX
#define XNSG_FRAG_MAX 16384
#endif

#define XNSG_GENS 2
#define XNSG_NO_TABLE 0xffff
/* xnsg_table.port_class: no constant class, the port map decides. */
#define XNSG_NO_CLASS 0xffff
#define XNSG_PROTOS 256

/* ---- enums ---------------------------------------------------------- */

enum xnsg_abi_dir { XNSG_DIR_IN = 0, XNSG_DIR_OUT = 1, XNSG_DIRS = 2 };
enum xnsg_abi_field { XNSG_FIELD_SRC = 0, XNSG_FIELD_DST = 1 };
enum xnsg_abi_attach { XNSG_ATTACH_MODE_HOST = 0, XNSG_ATTACH_MODE_PEER = 1 };

/* Why a packet was dropped, or passed without a rule decision. */
enum xnsg_reason {
	XNSG_R_RULE_DENY = 0,    /* a rule denied it (counted per rule too) */
	XNSG_R_TRUNC_L2,         /* Ethernet or VLAN header cut short */
	XNSG_R_VLAN_DEPTH,       /* more than two VLAN tags */
	XNSG_R_TRUNC_IP4,        /* IPv4 header cut short */
	XNSG_R_BAD_IP4,          /* IHL < 5, version, total length */
	XNSG_R_TRUNC_IP6,        /* IPv6 header cut short */
	XNSG_R_TRUNC_EXTHDR,     /* IPv6 extension header cut short */
	XNSG_R_EXTHDR_DEPTH,     /* more extension headers than XNSG_MAX_EXTHDRS */
	XNSG_R_TRUNC_L4,         /* TCP/UDP/ICMP header cut short */
	XNSG_R_FRAGMENT,         /* non-first fragment without a remembered verdict */
	XNSG_R_NO_MATCH,         /* no rule matched: corrupt tables (never expected) */
	XNSG_R_MAP_MISSING,      /* a table lookup failed (never expected) */
	XNSG_R_NO_CONFIG,        /* on an interface xnsg attached to, but with no
				  * entry in the active generation: fail closed */
	XNSG_REASONS
};
/* xnsg_drops has fixed slots so that a new reason keeps pinned maps valid. */
#define XNSG_REASON_SLOTS 32
_Static_assert(XNSG_REASONS <= XNSG_REASON_SLOTS, "reason slots");

#define XNSG_MAX_VLANS 2
#define XNSG_MAX_EXTHDRS 8

/* ---- maps ----------------------------------------------------------- */

/*
 * xnsg_active: array, 1 entry.  The generation packets are judged by, and
 * the serial number of the apply that made it: the state file records the
 * policy of each (generation, serial), so what `status` reports is tied to
 * what the kernel enforces even after a crash between the flip and the
 * record (docs/DESIGN.md §8).
 */
struct xnsg_active {
	__u32 gen;
	__u32 serial;
};
_Static_assert(sizeof(struct xnsg_active) == 8, "xnsg_active");

/*
 * An interface's entry: for ifindex < XNSG_IFINDEX_DIRECT, element
 * gen * XNSG_IFINDEX_DIRECT + ifindex of the array xnsg_iface_idx (looked
 * up without a call: every filtered packet reads it), else the hash
 * xnsg_ifaces, key = xnsg_iface_key.  An array element always exists:
 * `present` tells an entry apply wrote from a cleared one.
 */
#ifndef XNSG_IFINDEX_DIRECT
#define XNSG_IFINDEX_DIRECT 65536
#endif

struct xnsg_iface_key {
	__u32 ifindex;
	__u32 gen;
};
_Static_assert(sizeof(struct xnsg_iface_key) == 8, "xnsg_iface_key");

struct xnsg_iface_cfg {
	/* Tables in evaluation order: [dir][0] first.  Inbound: subnet NSG,
	 * then NIC NSG; Outbound: NIC, then subnet.  XNSG_NO_TABLE: level
	 * without an NSG (allows). */
	__u16 table[XNSG_DIRS][2];
	__u32 id;     /* interface index in the policy, for stats */
	__u8 attach;  /* enum xnsg_abi_attach */
	__u8 present; /* 1 in every entry written; 0: no entry (a cleared element) */
	__u8 pad[2];
};
_Static_assert(sizeof(struct xnsg_iface_cfg) == 16, "xnsg_iface_cfg");

/* xnsg_tables: array, XNSG_GENS * XNSG_MAX_TABLES. Class ids and port map
 * ids are within the table's generation. */
struct xnsg_table {
	__u32 nrules;
	__u32 rule_base;    /* first counter slot of this table's rules */
	__u16 allow_class;  /* bitmap of the Allow rules */
	__u16 noport_class; /* used for both ports of non-TCP/UDP packets */
	__u16 any4_class[2];/* per field: IPv4 address matching no trie entry */
	__u16 any6_class[2];/* per field: same for IPv6 */
	__u16 portmap[2];   /* per field */
	__u16 nsg;          /* NSG index in the policy */
	__u8 dir;
	__u8 pad;
	__u16 dir6_root[2]; /* per field: the IPv6 trie's first entry (xnsg_dir6) */
	/* per field: the class of every port when no rule of the table
	 * restricts that port (as a source port, almost always), read here
	 * instead of a port map chunk; XNSG_NO_CLASS when the map decides */
	__u16 port_class[2];
	/* proto_class of TCP and UDP, inline: the packets with ports do not
	 * read xnsg_protos */
	__u16 l4_class[2];
	/* allow_class's words, inline: the decision reads the winning rule's
	 * bit from the table it already holds, not from one more class */
	__u64 allow[XNSG_RULE_WORDS];
};
_Static_assert(sizeof(struct xnsg_table) == 40 + 8 * XNSG_RULE_WORDS, "xnsg_table");

/* xnsg_lpm4 / xnsg_lpm6: LPM tries.  prefixlen counts the 32 bits of
 * `tfg` (table index within generation, field and generation, all
 * exact-matched) plus the prefix length. */
struct xnsg_lpm4_key {
	__u32 prefixlen;
	__u32 tfg; /* XNSG_TFG(gen, table, field) */
	__u8 addr[4];
};
_Static_assert(sizeof(struct xnsg_lpm4_key) == 12, "xnsg_lpm4_key");

struct xnsg_lpm6_key {
	__u32 prefixlen;
	__u32 tfg;
	__u8 addr[16];
};
_Static_assert(sizeof(struct xnsg_lpm6_key) == 24, "xnsg_lpm6_key");

#define XNSG_TFG(gen, table, field) (((__u32)(gen) << 24) | ((__u32)(table) << 1) | (__u32)(field))

/* xnsg_lpm value. */
struct xnsg_lpm_val {
	__u32 cls;
};

/* xnsg_ports: array, XNSG_GENS * XNSG_MAX_PORTMAPS * XNSG_PORT_CHUNKS. */
struct xnsg_port_chunk {
	__u16 cls[XNSG_PORTS_PER_CHUNK];
};
_Static_assert(sizeof(struct xnsg_port_chunk) == 64, "xnsg_port_chunk");

/*
 * IPv4 addresses are looked up in a multibit trie of strides 16, 8 and 8
 * (DIR-16-8-8): at most three array reads, however many prefixes; the LPM
 * trie, which walks a node (~10 ns) per branching bit, is the fallback.
 *
 * xnsg_dir4: array, XNSG_GENS * XNSG_MAX_TABLES * 2 fields * XNSG_DIR4_CHUNKS,
 * the first level: entry h of a (table, field) is for the addresses whose
 * first 16 bits are h.  xnsg_dir4_next: array, XNSG_GENS * XNSG_DIR4_POOL
 * chunks of 256 entries, the second and third levels (bits 16-23, 24-31),
 * shared by a generation's tables.  An entry is
 *   < XNSG_DIR4_PTR        the class of every address it covers
 *   XNSG_DIR4_PTR | n      (n < XNSG_DIR4_POOL) look further in chunk n
 *   XNSG_DIR4_TRIE         ask the LPM trie (the pool ran out)
 * A block holding no entry longer than its stride is a class: a /16 of
 * short prefixes costs one read.
 */
#define XNSG_DIR4_PER_CHUNK 64
#define XNSG_DIR4_CHUNKS (65536 / XNSG_DIR4_PER_CHUNK)
#define XNSG_DIR4_PTR 0x8000
#define XNSG_DIR4_TRIE 0xffff
#ifndef XNSG_DIR4_POOL
#define XNSG_DIR4_POOL 16384
#endif
struct xnsg_dir4_chunk {
	__u16 cls[XNSG_DIR4_PER_CHUNK];
};
_Static_assert(sizeof(struct xnsg_dir4_chunk) == 128, "xnsg_dir4_chunk");
struct xnsg_dir4_next {
	__u16 cls[256];
};
_Static_assert(XNSG_MAX_CLASSES <= XNSG_DIR4_PTR, "class ids must stay below XNSG_DIR4_PTR");
_Static_assert(XNSG_DIR4_POOL < XNSG_DIR4_TRIE - XNSG_DIR4_PTR, "chunk ids must stay below XNSG_DIR4_TRIE");

/*
 * IPv6 addresses are looked up in a path-compressed multibit trie of
 * 8-bit strides: at most XNSG_DIR6_DEPTH node reads, however many
 * prefixes; the LPM trie is the fallback (fail safe: it holds every IPv6
 * entry, so it is always exact).
 *
 * xnsg_dir6: array, XNSG_GENS * XNSG_DIR6_POOL nodes, shared by a
 * generation's tables; xnsg_table.dir6_root[field] is the first entry.
 * Entries are encoded as xnsg_dir4's: a class (< XNSG_DIR4_PTR), a node
 * (XNSG_DIR4_PTR | n), or XNSG_DIR4_TRIE (ask the LPM trie: the pool ran
 * out, or the prefixes nest deeper than XNSG_DIR6_DEPTH nodes).  A node
 * stands for the region of addresses whose first 8 * pos bits are key's
 * (mask has those bits set): an address outside it takes `miss` (the
 * class of the longest prefix covering the region of the entry that led
 * here); inside, entry e[address byte pos].  The compiler puts a node at
 * the longest byte boundary the prefixes below an entry all share (path
 * compression: 2001:db8:1:2::/64 under an empty root is one node at byte
 * 7, not six), so a read is one per byte where the prefixes differ; a
 * block with no prefix longer than its byte is a class (leaf-pushed).
 */
#ifndef XNSG_DIR6_POOL
#define XNSG_DIR6_POOL 16384
#endif
#define XNSG_DIR6_DEPTH 8
struct xnsg_dir6_node {
	__u64 key[2];  /* the region's address bits, the rest 0 (address byte order) */
	__u64 mask[2]; /* 1 on the region's 8 * pos bits */
	__u16 miss;    /* the class of an address outside the region */
	__u8 pos;      /* the address byte e[] is indexed by, 0-15 */
	__u8 pad[5];
	__u16 e[256];
};
_Static_assert(sizeof(struct xnsg_dir6_node) == 552, "xnsg_dir6_node");
_Static_assert(XNSG_DIR6_POOL < XNSG_DIR4_TRIE - XNSG_DIR4_PTR, "node ids must stay below XNSG_DIR4_TRIE");

/* xnsg_protos: array, XNSG_GENS * XNSG_MAX_TABLES * XNSG_PROTOS of __u32 class. */

/* xnsg_classes: array, XNSG_GENS * XNSG_MAX_CLASSES. */
struct xnsg_bitmap {
	__u64 summary[XNSG_SUMMARY_WORDS]; /* bit b: w[b] != 0 */
	/* As a destination port's class, per protocol (0 TCP, 1 UDP): bit b
	 * set when w[b] AND the table's class of that protocol is not zero,
	 * so a word whose port rules are all of the other protocol is no
	 * candidate.  Equal to summary in every other class. */
	__u64 l4sum[2][XNSG_SUMMARY_WORDS];
	__u64 w[XNSG_RULE_WORDS];          /* bit r of w[r/64]: rule r */
};
_Static_assert(sizeof(struct xnsg_bitmap) == 8 * (3 * XNSG_SUMMARY_WORDS + XNSG_RULE_WORDS),
	       "xnsg_bitmap");

struct xnsg_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct xnsg_counter) == 16, "xnsg_counter");

/*
 * xnsg_rule_stats: per-CPU array, XNSG_RULE_STATS_VALUES of struct
 * xnsg_rule_counters; slot s (XNSG_RULE_STAT(gen, rule slot)) is
 * c[s % XNSG_RULE_COUNTERS] of element s / XNSG_RULE_COUNTERS.  Few large
 * values: the kernel allocates a per-CPU array element by element, and
 * 131,072 values of 16 bytes cost a first apply ~75 ms, 512 of 4 KiB ~1 ms.
 * A packet's cost is the same one lookup.
 */
#define XNSG_RULE_COUNTERS 256
struct xnsg_rule_counters {
	struct xnsg_counter c[XNSG_RULE_COUNTERS];
};
_Static_assert(sizeof(struct xnsg_rule_counters) == 16 * XNSG_RULE_COUNTERS, "xnsg_rule_counters");
/* Generation gen's rule slot r: each generation starts an element, so
 * that one is written only while nothing counts into it. */
#define XNSG_RULE_STATS_GEN \
	((XNSG_MAX_RULE_SLOTS + XNSG_RULE_COUNTERS - 1) / XNSG_RULE_COUNTERS * XNSG_RULE_COUNTERS)
#define XNSG_RULE_STAT(gen, r) ((gen) * XNSG_RULE_STATS_GEN + (r))
#define XNSG_RULE_STATS_VALUES (XNSG_GENS * XNSG_RULE_STATS_GEN / XNSG_RULE_COUNTERS)

/* xnsg_drops: per-CPU array, XNSG_REASONS of struct xnsg_counter. */

enum xnsg_pass {
	XNSG_PASS_RULES = 0,      /* judged by the rules */
	XNSG_PASS_UNFILTERED = 1, /* non-IP, IPv6 ND, interface not in the policy */
	XNSG_PASS_FLOW = 2,       /* a packet of a tracked flow */
	XNSG_PASS_RELATED = 3,    /* an ICMP error about a tracked flow */
	XNSG_PASS_FRAGMENT = 4,   /* a later fragment following its first */
};

/*
 * The last decision, kept only by a private instance loaded for
 * `verify --datapath` and tests (rodata xnsg_record = 1); the live
 * datapath never writes it.  Every level is evaluated in that mode, as the
 * reference evaluator does, so the two can be compared level by level.
 */
struct xnsg_verdict {
	__u32 rule[2];       /* per level: the deciding rule's bit */
	__u32 slot[2];       /* per level: its counter slot */
	__u16 table[2];      /* per level: table index, XNSG_NO_TABLE if none */
	__u8 level_allow[2]; /* per level: 1 allow, 0 deny */
	__u8 dir;            /* enum xnsg_abi_dir the packet was judged in */
	__u8 allow;          /* final verdict */
	__u8 reason;         /* enum xnsg_reason when dropped without a rule */
	__u8 pass_kind;      /* enum xnsg_pass: why it passed without the rules */
	__u8 ct_looked;      /* the flow table was looked up (its filter let it) */
	__u8 pad;
	__u32 seq;           /* incremented at each record */
};
_Static_assert(sizeof(struct xnsg_verdict) == 32, "xnsg_verdict");

/* ---- connection tracking ------------------------------------------- */

/*
 * The flow table: two LRU hashes of one value, xnsg_ct4 for IPv4 flows
 * (key struct xnsg_ct4_key, 20 bytes) and xnsg_ct6 for IPv6 (key struct
 * xnsg_ct_key, 44), so that an IPv4 flow neither stores nor hashes 24
 * bytes of zeros (docs/DESIGN.md §9).  struct xnsg_ct_key is also how a
 * flow is named everywhere else (events, the exporter's operations, user
 * space: user/datapath/flowtable.c converts).
 *
 * The key is canonical: side a is the smaller of the
 * two (address, port) ends, so both directions of a flow find one entry.
 * An ICMP query (echo, timestamp, ...) is the exception: side a is the
 * querier, the identifier is both ports and icmp_query the request's type
 * (bpf/conntrack.h); other protocols have ports 0.
 */
struct xnsg_ct_key {
	__u8 addr_a[16];
	__u8 addr_b[16];
	__u32 ifindex;
	__u16 port_a, port_b; /* host order */
	__u8 proto;
	__u8 family;
	__u8 icmp_query;      /* ICMP query flows: the request's type, else 0 */
	__u8 pad;
};
_Static_assert(sizeof(struct xnsg_ct_key) == 44, "xnsg_ct_key");

/* The same of an IPv4 flow (family 4): the addresses' four bytes. */
struct xnsg_ct4_key {
	__u8 addr_a[4];
	__u8 addr_b[4];
	__u32 ifindex;
	__u16 port_a, port_b;
	__u8 proto;
	__u8 icmp_query;
	__u8 pad[2];
};
_Static_assert(sizeof(struct xnsg_ct4_key) == 20, "xnsg_ct4_key");

/* The IPv4 table's key of an IPv4 flow k, packed here for both sides
 * (bpf/conntrack.h, user/datapath/flowtable.c): a datapath and a loader
 * that packed it differently would never find each other's flows.  Every
 * byte is written, the pad too: the kernel hashes all 20. */
/* The 4-aligned word of struct type t at member m of p: the ports and
 * the protocol's word are copied whole (past the member, so through the
 * struct's own address). */
#define XNSG_AT(p, t, m) __builtin_assume_aligned((__u8 *)(p) + __builtin_offsetof(t, m), 4)
_Static_assert(__builtin_offsetof(struct xnsg_ct_key, port_a) % 4 == 0 &&
	       __builtin_offsetof(struct xnsg_ct4_key, port_a) % 4 == 0 &&
	       __builtin_offsetof(struct xnsg_ct4_key, proto) % 4 == 0, "key words");

static inline __attribute__((always_inline)) void
xnsg_ct4_key_of(struct xnsg_ct4_key *k4, const struct xnsg_ct_key *k)
{
	/* Written as whole 4-byte words, as the kernel's hash then reads
	 * them: a word read over narrower writes not yet in the cache
	 * waits for them (store forwarding fails). */
	__u32 ports, tail;

	__builtin_memcpy(&ports, __builtin_assume_aligned(&k->port_a, 4), 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	tail = (__u32)k->proto | (__u32)k->icmp_query << 8;
#else
	tail = (__u32)k->proto << 24 | (__u32)k->icmp_query << 16;
#endif
	__builtin_memcpy(k4->addr_a, k->addr_a, 4);
	__builtin_memcpy(k4->addr_b, k->addr_b, 4);
	k4->ifindex = k->ifindex;
	__builtin_memcpy(XNSG_AT(k4, struct xnsg_ct4_key, port_a), &ports, 4);
	__builtin_memcpy(XNSG_AT(k4, struct xnsg_ct4_key, proto), &tail, 4);
}

/*
 * The flow table's filter, xnsg_ct_seen (docs/DESIGN.md §9 "Filter"): a
 * bit per hash of a flow's table key, set before the flow is inserted and
 * never cleared while it may be read, so a clear bit proves there is no
 * flow and a packet of traffic the table does not hold (denied, new)
 * skips the lookup, a hash and a walk of a bucket of a million.  Bits of
 * flows gone stay set until a rebuild: two halves, the datapath reading
 * the active one and setting a flow's bit in both; a rebuild (user space,
 * user/datapath/flowtable.c) clears the other, sets the bit of every flow
 * the tables hold, then makes it the active one.
 *
 * An array of __u64, BPF_F_MMAPABLE: the halves interleaved, word j of
 * half h at XNSG_SEEN_AT(j, h), so that a new flow's two words are one
 * cache line (a first packet's sets cost one miss, not two); then the
 * state word XNSG_SEEN_STATE (below).  2^23 bits a half (1 MiB): a full
 * default table of 1,048,576 flows sets at most an eighth of them, so at
 * most one packet in eight of traffic it does not hold still looks.
 */
#define XNSG_SEEN_BITS_LOG 23
#define XNSG_SEEN_WORDS (1u << (XNSG_SEEN_BITS_LOG - 6)) /* a half */
#define XNSG_SEEN_AT(j, h) (2 * (j) + (h))
#define XNSG_SEEN_STATE (2 * XNSG_SEEN_WORDS)          /* index of the state word */
#define XNSG_SEEN_ENTRIES (XNSG_SEEN_STATE + 1)
/* The state word: the datapath reads bits 0-1; a rebuild holds bit 2 while
 * it works (taken and given back by compare-and-swap, so one rebuilds at a
 * time); bits 32-63: CLOCK_MONOTONIC seconds of the last change.  0 (as a
 * new map starts) is off: every packet looks the flow up. */
#define XNSG_SEEN_ON 1ull      /* the active half holds every flow's bit */
#define XNSG_SEEN_HALF 2ull    /* the active half: 0 or 1 */
#define XNSG_SEEN_BUSY 4ull    /* a rebuild is filling the other half */
#define XNSG_SEEN_TIME_SHIFT 32

/* The filter's hash of a key's n 4-byte words (n odd): two multiplied in
 * at a step, the last mixed in alone; the bit is the top bits. */
static inline __attribute__((always_inline)) __u32 xnsg_seen_hash(const __u32 *w, unsigned int n)
{
	__u64 h = 0x243f6a8885a308d3ull;
	unsigned int i;

	for (i = 0; i + 1 < n; i += 2)
		h = (h ^ ((__u64)w[i] | (__u64)w[i + 1] << 32)) *
		    ((i & 2) ? 0xc2b2ae3d27d4eb4full : 0x9e3779b97f4a7c15ull);
	return (__u32)(((h ^ w[i]) * 0x9e3779b97f4a7c15ull) >> (64 - XNSG_SEEN_BITS_LOG));
}

/* The filter bit (0 to 2^XNSG_SEEN_BITS_LOG - 1) of an IPv4 flow's key,
 * or an IPv6 one's: the same on both sides, from the key's 4-byte words
 * (what xnsg_ct4_key_of() writes). */
static inline __attribute__((always_inline)) __u32 xnsg_seen_bit4(const struct xnsg_ct4_key *k4)
{
	__u32 w[sizeof(*k4) / 4];

	__builtin_memcpy(w, k4, sizeof(w));
	return xnsg_seen_hash(w, sizeof(w) / 4);
}

static inline __attribute__((always_inline)) __u32 xnsg_seen_bit6(const struct xnsg_ct_key *k)
{
	__u32 w[sizeof(*k) / 4];

	__builtin_memcpy(w, k, sizeof(w));
	return xnsg_seen_hash(w, sizeof(w) / 4);
}

enum xnsg_ct_state {
	XNSG_CT_NEW = 0,     /* UDP/ICMP/other: one way seen */
	XNSG_CT_REPLIED,     /* UDP/ICMP/other: both ways seen */
	XNSG_CT_SYN_SENT,    /* TCP: SYN seen */
	XNSG_CT_SYN_RECV,    /* TCP: SYN-ACK seen */
	XNSG_CT_ESTABLISHED, /* TCP: handshake done (or picked up mid-stream) */
	XNSG_CT_CLOSING,     /* TCP: FIN seen from both sides, or RST */
	XNSG_CT_STATES
};

/*
 * Times in a flow entry are 32-bit ticks of the coarse clock, compared
 * wrap-aware (docs/DESIGN.md §9): created in 2^20 ns (~1.05 ms, below the
 * clock's own 1-4 ms tick; the 32 bits wrap after 52 days, and a reader
 * takes the latest time with those bits, so a flow's start is exact for
 * 52 days), last in 2^24 ns (~16.8 ms against timeouts of whole seconds;
 * wraps after 834 days).
 */
#define XNSG_CT_CREATED_SHIFT 20
#define XNSG_CT_LAST_SHIFT 24
#define XNSG_CT_NO_SLOT 0xffff
_Static_assert(XNSG_MAX_RULE_SLOTS <= XNSG_CT_NO_SLOT, "a flow entry keeps slots in 16 bits");

struct xnsg_ct_val {
	__u64 bytes[2];    /* [0] initiator -> responder, [1] replies */
	__u32 packets[2];  /* modulo 2^32: flow logs count deltas between sweeps */
	__u32 created;     /* ns >> XNSG_CT_CREATED_SHIFT of the first packet (flow
			      logs: of a reused 4-tuple's new flow) */
	__u32 last;        /* ns >> XNSG_CT_LAST_SHIFT of the latest packet */
	__u16 slot[2];     /* counter slots of the rules that allowed it, per level;
			      XNSG_CT_NO_SLOT none */
	union {
		struct {
			__u8 state;      /* enum xnsg_ct_state */
			__u8 flags;      /* XNSG_CTF_* */
			__u8 dir : 1;    /* enum xnsg_abi_dir of the first packet */
			__u8 init_a : 1; /* the initiator is side a of the key */
			__u8 gen : 1;    /* generation whose rules allowed it */
			__u8 log;        /* XNSG_LOG_*: flow-log progress */
		};
		/* The four bytes as one word, for the atomic or/and of log
		 * bits (BPF atomics are 32 or 64 bits): XNSG_CT_LOG_WORD. */
		__u32 word;
	};
};
_Static_assert(sizeof(struct xnsg_ct_val) == 40, "xnsg_ct_val");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define XNSG_CT_LOG_WORD(bits) ((__u32)(bits) << 24)
#else
#define XNSG_CT_LOG_WORD(bits) ((__u32)(bits))
#endif

/* xnsg_ct_val.log: which flow-log records of the flow exist.  *_SENT: the
 * datapath put the event in the ring buffer; *_DONE: the exporter wrote
 * the record (how much of the counts it logged is its own: the position,
 * struct xnsg_fl_pos).  A flow whose B was never sent (logging off, or the ring
 * full) gets its B from the exporter's sweep; likewise its E. */
#define XNSG_LOG_B_SENT 0x01
#define XNSG_LOG_E_SENT 0x02
#define XNSG_LOG_B_DONE 0x04
#define XNSG_LOG_E_DONE 0x08

#define XNSG_CTF_SEEN_SYN 0x01
#define XNSG_CTF_FIN_INIT 0x02 /* TCP: the initiator sent FIN */
#define XNSG_CTF_FIN_RESP 0x04 /* TCP: the responder sent FIN */
#define XNSG_CTF_RST_INIT 0x08 /* TCP: the initiator's RST closed the established flow */
#define XNSG_CTF_RST_RESP 0x10 /* TCP: the responder's did */
/* Cut by a policy change (apply --reset-flows, flushConnection): its
 * packets are dropped and keep it alive, so the cut holds while traffic
 * continues; once idle past its timeout it goes and the flow's next
 * packet meets the rules. */
#define XNSG_CTF_DENIED 0x80

/* xnsg_config: array, 1 entry; idle timeouts in ns (0: the default). */
enum xnsg_timeout {
	XNSG_TO_TCP_ESTABLISHED = 0, /* 240 s */
	XNSG_TO_TCP_TRANSITORY,      /* 30 s: handshake, closing */
	XNSG_TO_UDP,                 /* 30 s */
	XNSG_TO_UDP_STREAM,          /* 120 s: both ways seen */
	XNSG_TO_OTHER,               /* 30 s: ICMP and the rest */
	XNSG_TO_FRAGMENT,            /* 5 s: a datagram's fragments */
	XNSG_TIMEOUTS
};

struct xnsg_config {
	__u64 timeout_ns[8];
};
/* The defaults in seconds, in enum xnsg_timeout order (bpf/conntrack.h's
 * xnsg_timeout() spells the same). */
#define XNSG_TIMEOUT_DEFAULTS_S { 240, 30, 30, 120, 30, 5 }
_Static_assert(sizeof(struct xnsg_config) == 64, "xnsg_config");

/* xnsg_frags: LRU hash of first-fragment verdicts. */
struct xnsg_frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;
	__u32 ifindex;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct xnsg_frag_key) == 44, "xnsg_frag_key");

struct xnsg_frag_val {
	__u64 expires_ns;
	__u8 allow;
	__u8 pad[7];
};
_Static_assert(sizeof(struct xnsg_frag_val) == 16, "xnsg_frag_val");

/* xnsg_ct_stats: per-CPU array of __u64, XNSG_CT_STATS_SLOTS entries
 * (fixed, so a counter added later still fits a map pinned earlier),
 * indexed by these. */
enum xnsg_ct_stat {
	XNSG_CTS_CREATED = 0, /* flows created */
	XNSG_CTS_HITS,        /* packets passed by flow state */
	XNSG_CTS_EXPIRED,     /* entries found idle past their timeout and removed */
	XNSG_CTS_RELATED,     /* ICMP errors passed for a tracked flow */
	XNSG_CTS_FRAG_FOLLOWED, /* later fragments that followed their first */
	XNSG_CTS_FRAG_RECORDED, /* first-fragment verdicts remembered */
	XNSG_CTS_RESET,         /* flows cut by apply --reset-flows / flushConnection
				   (counted by the loader, on CPU 0's slot) */
	XNSG_CT_STATS
};
#define XNSG_CT_STATS_SLOTS 16
_Static_assert(XNSG_CT_STATS <= XNSG_CT_STATS_SLOTS, "xnsg_ct_stats slots");

/* ---- flow logs (docs/DESIGN.md §4) ------------------------------------ */

/* Ring buffer of flow events (bytes, a power of two of pages): ~87,000
 * events of 96 bytes, a few tens of ms at the exporter's rate; what
 * does not fit is counted lost per CPU and recovered by the sweep.
 * $XNSG_RINGBUF_BYTES sizes it when it is created. */
#ifndef XNSG_EVENTS_BYTES
#define XNSG_EVENTS_BYTES (8 * 1024 * 1024)
#endif
/* Denied 5-tuples aggregated between two exporter flushes, in each
 * family's map (xnsg_denies4, xnsg_denies); past it a denied packet of a
 * new tuple of that family is counted suppressed. */
#ifndef XNSG_DENY_MAX
#define XNSG_DENY_MAX 65536
#endif
/* New denied tuples per second per CPU that get a record (a flood of
 * spoofed sources is rate-limited to this, the rest counted suppressed). */
#ifndef XNSG_DENY_RATE
#define XNSG_DENY_RATE 1000
#endif
/* Commit operations per run of xnsg_fl_commit. */
#define XNSG_FL_BATCH 256

enum xnsg_event_type {
	XNSG_EV_BEGIN = 1, /* an allowed flow was created (or its 4-tuple reused) */
	XNSG_EV_END = 2,   /* the datapath saw it end, or removed it idle */
};

enum xnsg_end_why {
	XNSG_END_NONE = 0,
	XNSG_END_FIN,     /* TCP: FIN both ways */
	XNSG_END_RST,     /* TCP: RST */
	XNSG_END_TIMEOUT, /* idle past its timeout (found so by a packet) */
	XNSG_END_CUT,     /* a flow cut by a policy change, removed idle */
};

/* xnsg_events: ring buffer record, the flow entry as the event saw it. */
struct xnsg_event {
	struct xnsg_ct_val v;
	struct xnsg_ct_key k;
	__u8 type;   /* enum xnsg_event_type */
	__u8 why;    /* enum xnsg_end_why (END) */
	__u8 pad[2];
	__u64 time_ns; /* bpf_ktime_get_coarse_ns() of the packet */
};
_Static_assert(sizeof(struct xnsg_event) == 96, "xnsg_event");

/* xnsg_fl_config: array, 1 entry, written by the exporter.  Read only
 * where a flow begins or ends and where a packet is denied, never on an
 * established flow's packets: with on == 0 flow logs cost nothing there. */
struct xnsg_fl_config {
	__u32 on;            /* 1 while an exporter runs */
	__u32 pad;
	__u64 deny_cost_ns;  /* rate limit (GCRA): 1e9 / new deny tuples per s per CPU */
	__u64 deny_burst_ns; /* and its tolerance */
	__u64 reserved;
};
_Static_assert(sizeof(struct xnsg_fl_config) == 32, "xnsg_fl_config");

/* xnsg_fl_cpu: per-CPU array, 1 entry: event and deny accounting, and the
 * deny rate limiter's state. */
struct xnsg_fl_cpu {
	__u64 sent;            /* reserved (events sent are the consumer's count) */
	__u64 lost_begin;      /* ring buffer reserve failures, B events */
	__u64 lost_end;        /* and E events */
	__u64 deny_tuples;     /* denied 5-tuples recorded in xnsg_denies */
	__u64 deny_suppressed; /* denied packets of tuples left out (rate, map full) */
	__u64 deny_full;       /* of those: because xnsg_denies was full */
	__u64 deny_tat;        /* rate limiter: theoretical arrival time */
	__u64 pad;
};
_Static_assert(sizeof(struct xnsg_fl_cpu) == 64, "xnsg_fl_cpu");

/* xnsg_denies: hash, denied packets aggregated per 5-tuple (as sent:
 * src is the sender) until the exporter takes them; IPv6 tuples (and an
 * earlier build's IPv4 ones) - an IPv4 tuple is in xnsg_denies4.  User
 * space names a tuple of either map by this key (user/datapath). */
struct xnsg_deny_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 ifindex;
	__u16 sport, dport; /* host order; ICMP queries: the identifier */
	__u8 proto;
	__u8 family;
	__u8 dir;           /* enum xnsg_abi_dir */
	__u8 pad;
};
_Static_assert(sizeof(struct xnsg_deny_key) == 44, "xnsg_deny_key");

/* xnsg_denies4: the same of an IPv4 tuple (family 4), the addresses' four
 * bytes, so that a denied packet hashes and compares 20 bytes, not 44
 * (the deny lookup was ~2.7% of a denied packet's CPU with flow logs on).
 * Every byte is written, the pad too: the kernel hashes all 20. */
struct xnsg_deny4_key {
	__u8 src[4];
	__u8 dst[4];
	__u32 ifindex;
	__u16 sport, dport; /* host order; ICMP queries: the identifier */
	__u8 proto;
	__u8 dir;           /* enum xnsg_abi_dir */
	__u8 pad[2];
};
_Static_assert(sizeof(struct xnsg_deny4_key) == 20, "xnsg_deny4_key");

struct xnsg_deny_val {
	__u64 first_ns, last_ns;
	__u64 packets, bytes;
	__u32 slot;  /* counter slot of the denying rule */
	__u32 iface; /* interface index in the policy */
	__u8 gen;
	__u8 pad[7];
};
_Static_assert(sizeof(struct xnsg_deny_val) == 48, "xnsg_deny_val");

/* xnsg_fl_batch: mmapable array, 1 entry: the exporter's operations on
 * flow entries, carried out by the program xnsg_fl_commit (run with
 * BPF_PROG_TEST_RUN), which alone may change a live entry in place:
 * a whole-value update from user space would undo packets counted
 * meanwhile. */
enum xnsg_fl_opcode {
	XNSG_FL_COMMIT = 1, /* or log bits into log */
	XNSG_FL_EXPIRE = 2, /* remove the entry if idle past its timeout */
};

struct xnsg_fl_op {
	struct xnsg_ct_key k;
	__u32 op;             /* enum xnsg_fl_opcode */
	__u32 created;        /* the entry's: a reused key is another flow */
	__u32 log_set;
	__u32 result;         /* out: 1 done, 0 gone / other flow / not idle */
	__u32 pad;
	struct xnsg_ct_val v; /* out (EXPIRE): the entry as removed */
};
_Static_assert(sizeof(struct xnsg_fl_op) == 104, "xnsg_fl_op");

/*
 * xnsg_fl_pos: hash (no preallocation), written and read only by the
 * exporter (user/flowlog), never by a program: what it has logged of a
 * flow's counts, so that its deltas survive its restart.  An entry exists
 * only for a flow that has had a C record and not yet its E; the key is
 * the flow's, and created tells a reused key's flows apart.
 */
struct xnsg_fl_pos {
	__u32 created;
	__u32 packets[2];
	__u32 pad;
	__u64 bytes[2];
};
_Static_assert(sizeof(struct xnsg_fl_pos) == 32, "xnsg_fl_pos");

struct xnsg_fl_batch {
	__u32 n;
	__u32 pad;
	struct xnsg_fl_op op[XNSG_FL_BATCH];
};

/* xnsg_fl_stats: array, 1 entry, written only by the exporter: its
 * counters, cumulative across exporter restarts, for `xnsg stats`. */
enum xnsg_fl_stat {
	XNSG_FLS_JSONL_EXPORTED = 0,
	XNSG_FLS_JSONL_FAILED,
	XNSG_FLS_AZURE_EXPORTED,
	XNSG_FLS_AZURE_FAILED,
	XNSG_FLS_AZURE_SKIPPED,  /* records the chosen format cannot carry */
	XNSG_FLS_IPFIX_EXPORTED,
	XNSG_FLS_IPFIX_FAILED,
	XNSG_FLS_IPFIX_SEND_ERRORS, /* failed sends (one may lose many records) */
	XNSG_FLS_RECORDS,        /* records made (each to every output) */
	XNSG_FLS_BEGIN_EVENTS,   /* B records from ring buffer events */
	XNSG_FLS_BEGIN_SWEPT,    /* B records the sweep made (event lost, or logging was off) */
	XNSG_FLS_END_EVENTS,     /* E records from events */
	XNSG_FLS_END_SWEPT,      /* E records the sweep made (timeout, closed, cut) */
	XNSG_FLS_EVICTED,        /* flows gone between two walks: E "evicted" */
	XNSG_FLS_DENY_RECORDS,   /* D records */
	XNSG_FLS_SWEEPS,
	XNSG_FLS_STARTS,         /* exporter runs */
	XNSG_FLS_EVENTS,         /* events the exporter took from the ring buffer */
	XNSG_FL_STATS
};
#define XNSG_FL_STATS_SLOTS 32
_Static_assert(XNSG_FL_STATS <= XNSG_FL_STATS_SLOTS, "xnsg_fl_stats slots");

struct xnsg_fl_stats {
	__u64 v[XNSG_FL_STATS_SLOTS];
};

/* Map names, defined once; pin paths are XNSG_PIN_DIR "/" name. */
#define XNSG_MAP_ACTIVE "xnsg_active"
#define XNSG_MAP_IFACES "xnsg_ifaces"
#define XNSG_MAP_IFACE_IDX "xnsg_iface_idx"
#define XNSG_MAP_TABLES "xnsg_tables"
#define XNSG_MAP_LPM4 "xnsg_lpm4"
#define XNSG_MAP_LPM6 "xnsg_lpm6"
#define XNSG_MAP_PORTS "xnsg_ports"
#define XNSG_MAP_DIR4 "xnsg_dir4"
#define XNSG_MAP_DIR4_NEXT "xnsg_dir4_next"
#define XNSG_MAP_DIR6 "xnsg_dir6"
#define XNSG_MAP_PROTOS "xnsg_protos"
#define XNSG_MAP_CLASSES "xnsg_classes"
#define XNSG_MAP_RULE_STATS "xnsg_rule_stats"
#define XNSG_MAP_DROPS "xnsg_drops"
#define XNSG_MAP_CT4 "xnsg_ct4"
#define XNSG_MAP_CT6 "xnsg_ct6"
#define XNSG_MAP_CT_SEEN "xnsg_ct_seen"
#define XNSG_MAP_CONFIG "xnsg_config"
#define XNSG_MAP_FRAGS "xnsg_frags"
#define XNSG_MAP_CT_STATS "xnsg_ct_stats"
#define XNSG_MAP_EVENTS "xnsg_events"
#define XNSG_MAP_FL_CONFIG "xnsg_fl_config"
#define XNSG_MAP_FL_CPU "xnsg_fl_cpu"
#define XNSG_MAP_DENIES "xnsg_denies"
#define XNSG_MAP_DENIES4 "xnsg_denies4"
#define XNSG_MAP_FL_BATCH "xnsg_fl_batch"
#define XNSG_MAP_FL_STATS "xnsg_fl_stats"
#define XNSG_MAP_FL_POS "xnsg_fl_pos" /* created by the exporter */
/* The program that edits flow entries for the exporter (pinned by name). */
#define XNSG_PROG_FL_COMMIT "xnsg_fl_commit"

#endif /* XNSG_ABI_H */
