/* SPDX-License-Identifier: MIT */
/*
 * The policy model: what a policy file means once parsed and validated.
 *
 * Data flows one way: JSON (policy/policy.c) -> this model -> reference
 * evaluator (eval/) and, independently, compiler (compile/) -> BPF maps.
 * Types only, plain data: the functions over them are declared in addr.h
 * (addresses, prefixes, ports), policy.h (loading, the Internet tag) and
 * diag.h (what loading reports).
 */
#ifndef XNSG_MODEL_H
#define XNSG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * Who an Azure resource is (docs/DESIGN.md §1, "Identity"): names are
 * unique per resource group (a subnet's per virtual network), so a name
 * alone may not say.  Each part is NULL when the policy does not say it.
 */
struct azure_ident {
	char *name;           /* the resource's own name */
	char *resource_group; /* from its ARM id or "resourceGroup" */
	char *subscription;
	char *parent;         /* a subnet's virtual network */
	char *id;             /* the ARM id as written */
};

struct nsg {
	/* As shown: the NSG's name, or "NAME (RG)" when another NSG of the
	 * policy has the same name (docs/DESIGN.md §1); never holds '/'. */
	char *name;
	struct azure_ident ident;
	/* Sorted by (dir, priority); the three defaults of each direction
	 * are included at the end of their direction. */
	struct rule *rules;
	size_t nrules;
	bool flush_connection;
	char *path;
};

/* ---- topology ------------------------------------------------------- */

struct subnet {
	char *name; /* as shown, like an NSG's */
	struct azure_ident ident;
	struct prefix_list prefixes;
	int nsg; /* index into policy.nsgs, -1 for none */
	char *path;
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
	char *name; /* as shown, like an NSG's */
	struct azure_ident ident;
	struct prefix_list members; /* NIC addresses plus explicit ones, as /32 or /128 */
	char *path;
};

/* Idle timeouts in seconds (docs/DESIGN.md §2, "flowTimeouts"). */
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
	struct tag_index *tag_index;           /* tags by name, case-insensitive (servicetags.c) */
	struct asg *asgs;
	size_t nasgs;
	struct nsg *nsgs;
	size_t nnsgs;
	struct subnet *subnets;
	size_t nsubnets;
	struct iface *ifaces;
	size_t nifaces;
	struct flow_timeouts timeouts;
	struct policy_lint_run *lint; /* the lint running beside (policy.h), until joined */
};

#endif /* XNSG_MODEL_H */
