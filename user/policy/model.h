/* SPDX-License-Identifier: MIT */
/*
 * The policy model: what a policy file means once parsed and validated.
 *
 * Data flows one way: JSON (policy.c) -> this model -> reference evaluator
 * (eval.c) and, independently, compiler (compile.c) -> BPF maps.
 * Everything here is plain data; no function in this header touches the
 * kernel.
 */
#ifndef XNSG_MODEL_H
#define XNSG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- addresses and prefixes ------------------------------------------- */

enum xnsg_family { XNSG_V4 = 4, XNSG_V6 = 6 };

/* An address; IPv4 lives in bytes[0..3], network order. */
struct xnsg_addr {
	uint8_t family;
	uint8_t bytes[16];
};

/* A CIDR; bits past len are always zero (the parser masks and warns). */
struct xnsg_prefix {
	uint8_t family;
	uint8_t len;
	uint8_t bytes[16];
};

struct prefix_list {
	struct xnsg_prefix *v;
	size_t n, cap;
};

struct port_range {
	uint16_t lo, hi;
};

/* any: the rule's port field is '*' or covers 0-65535 entirely. */
struct port_list {
	bool any;
	struct port_range *v;
	size_t n, cap;
};

/* ---- rules ---------------------------------------------------------- */

enum xnsg_dir { XNSG_IN = 0, XNSG_OUT = 1 };

enum xnsg_proto {
	XNSG_PROTO_ANY = 0,
	XNSG_PROTO_TCP,
	XNSG_PROTO_UDP,
	XNSG_PROTO_ICMP, /* ICMP and ICMPv6 */
	XNSG_PROTO_ESP,
	XNSG_PROTO_AH,
};

/*
 * One side (source or destination) of a rule as the packet sees it.
 * A packet address matches when any is set, or it lies in one of
 * prefixes, or internet is set and the address is in the Internet tag.
 * Internet is kept symbolic here so the reference evaluator decides it
 * from its definition; tags_internet_prefixes() gives the expansion the
 * compiler and `show` use.
 */
struct addr_side {
	bool any;                    /* '*' or 'Any' */
	bool internet;               /* the Internet service tag */
	struct prefix_list prefixes; /* literal prefixes, other tags, ASG members */
	char **labels;               /* what the policy wrote, in order, for show */
	size_t nlabels;              /* e.g. "Internet", "10.0.0.0/8", "asg:Web" */
};

struct rule {
	char *name;
	char *description;
	int priority;
	enum xnsg_dir dir;
	bool allow;
	enum xnsg_proto proto;
	struct addr_side src, dst;
	struct port_list sport, dport;
	bool is_default; /* one of Azure's six default rules */
	char *path;      /* JSON path of the rule, for diagnostics */
};

struct nsg {
	char *name;
	/* Sorted by (dir, priority); the three defaults of each direction
	 * are included at the end of their direction. */
	struct rule *rules;
	size_t nrules;
	bool flush_connection;
	char *path;
};

/* ---- topology ------------------------------------------------------- */

struct subnet {
	char *name;
	struct prefix_list prefixes;
	int nsg; /* index into policy.nsgs, -1 for none */
};

enum xnsg_attach { XNSG_ATTACH_HOST = 0, XNSG_ATTACH_PEER = 1 };

struct iface {
	char *name;
	int subnet; /* index into policy.subnets, -1 for none */
	int nsg;    /* NIC NSG: index into policy.nsgs, -1 for none */
	struct xnsg_addr *addrs;
	size_t naddrs;
	char **asgs; /* ASG names this NIC belongs to */
	size_t nasgs;
	enum xnsg_attach attach;
};

struct tag {
	char *name; /* as spelled in the tags file or policy */
	struct prefix_list prefixes;
};

struct asg {
	char *name;
	struct prefix_list members; /* NIC addresses plus explicit ones, as /32 or /128 */
};

/* Idle timeouts in seconds (SPEC §2, "flowTimeouts"). */
struct flow_timeouts {
	uint32_t tcp_established; /* 240 */
	uint32_t tcp_transitory;  /* 30: handshake and closing */
	uint32_t udp;             /* 30 */
	uint32_t udp_stream;      /* 120: once both ways seen */
	uint32_t other;           /* 30: ICMP and everything else */
};

struct policy {
	char *file; /* as given on the command line */
	char *vnet_name;
	struct prefix_list vnet_prefixes;      /* virtualNetwork.addressPrefixes */
	struct prefix_list connected_prefixes; /* virtualNetwork.connectedPrefixes */
	struct prefix_list virtual_network;    /* the VirtualNetwork tag, expanded */
	struct tag *tags;                      /* service tags (not VirtualNetwork/Internet) */
	size_t ntags;
	struct asg *asgs;
	size_t nasgs;
	struct nsg *nsgs;
	size_t nnsgs;
	struct subnet *subnets;
	size_t nsubnets;
	struct iface *ifaces;
	size_t nifaces;
	struct flow_timeouts timeouts;
};

/* ---- diagnostics ---------------------------------------------------- */

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag {
	enum diag_level level;
	char *path; /* JSON path ("$.subnets[0].name") or "" */
	char *msg;
};

struct diag_list {
	struct diag *v;
	size_t n, cap;
	size_t nerrors;
};

void diag_add(struct diag_list *d, enum diag_level level, const char *path,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "FILE: PATH: MSG" (warnings: "FILE: PATH: warning: MSG"), one a line, as SPEC §1. */
void diag_print(FILE *f, const char *file, const struct diag_list *d);
void diag_free(struct diag_list *d);

/* ---- policy loading (policy.c) -------------------------------------- */

/*
 * Parse and validate.  Returns 0 with *out set when the policy has no
 * errors (warnings may be present in diags); -EINVAL when it has errors
 * (all of them in diags, *out NULL); another -errno when the file cannot
 * be read (a diag says why).  `name` is the name used in messages,
 * `basedir` resolves a relative serviceTagsFile (NULL: the current dir).
 */
int policy_load(const char *file, struct policy **out, struct diag_list *diags);
int policy_parse_string(const char *json, const char *name, const char *basedir,
			struct policy **out, struct diag_list *diags);
void policy_free(struct policy *p);

int policy_find_iface(const struct policy *p, const char *name);
/* Rules of one direction of an NSG: a contiguous, priority-sorted run. */
const struct rule *nsg_rules(const struct nsg *g, enum xnsg_dir dir, size_t *n);

/* ---- tags (tags.c) -------------------------------------------------- */

/* Special-purpose ranges excluded from the Internet tag (SPEC §2). */
extern const char *const xnsg_special_v4[];
extern const char *const xnsg_special_v6[];
/*
 * The Internet tag as a list of prefixes: every address of the family not
 * in virtual_network nor in the special ranges (a complement, computed).
 */
int tags_internet_prefixes(const struct policy *p, struct prefix_list *out);

/* ---- small helpers (util.c) ----------------------------------------- */

/* "10.0.0.0/8", "2001:db8::/32", "10.1.2.3" (as /32). Returns 0, or
 * -EINVAL.  *host_bits is set when bits past the length were set (the
 * result is masked). */
int prefix_parse(const char *s, struct xnsg_prefix *out, bool *host_bits);
int addr_parse(const char *s, struct xnsg_addr *out);
bool prefix_contains(const struct xnsg_prefix *p, const struct xnsg_addr *a);
/* q lies wholly inside p. */
bool prefix_covers(const struct xnsg_prefix *p, const struct xnsg_prefix *q);
void prefix_mask(struct xnsg_prefix *p);
#define XNSG_PREFIX_STRLEN 48
char *prefix_fmt(const struct xnsg_prefix *p, char *buf, size_t len);
char *addr_fmt(const struct xnsg_addr *a, char *buf, size_t len);
int prefix_list_add(struct prefix_list *l, const struct xnsg_prefix *p);
int prefix_list_append(struct prefix_list *l, const struct prefix_list *src);
bool prefix_list_contains(const struct prefix_list *l, const struct xnsg_addr *a);
void prefix_list_free(struct prefix_list *l);
int port_list_add(struct port_list *l, uint16_t lo, uint16_t hi);
bool port_list_contains(const struct port_list *l, uint16_t port);
void port_list_free(struct port_list *l);

const char *proto_name(enum xnsg_proto p); /* "Tcp", "Udp", "Icmp", "Esp", "Ah", "*" */
const char *dir_name(enum xnsg_dir d);     /* "Inbound", "Outbound" */
/* IP protocol number from a name ("tcp", "6", "icmp", ...); -1 if unknown. */
int ipproto_parse(const char *s);

void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow a (v, n, cap) vector to hold one more element. */
#define VEC_GROW(vec)                                                          \
	do {                                                                   \
		if ((vec)->n == (vec)->cap) {                                  \
			(vec)->cap = (vec)->cap ? (vec)->cap * 2 : 8;          \
			(vec)->v = xrealloc((vec)->v,                          \
					    (vec)->cap * sizeof(*(vec)->v));   \
		}                                                              \
	} while (0)

#endif /* XNSG_MODEL_H */
