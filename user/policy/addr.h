/* SPDX-License-Identifier: MIT */
/*
 * Addresses, prefixes, prefix lists and port lists of the model: parsing,
 * formatting, containment.  Shared by the parser, the evaluator, the
 * compiler and the CLI, none of which may disagree on what "contains" means.
 */
#ifndef XNSG_ADDR_H
#define XNSG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

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
/* A sorted, merged copy of l's ranges (free() it); returns the count. */
size_t port_list_merged(const struct port_list *l, struct port_range **out);

const char *proto_name(enum xnsg_proto p); /* "Tcp", "Udp", "Icmp", "Esp", "Ah", "*" */
const char *dir_name(enum xnsg_dir d);     /* "Inbound", "Outbound" */
/* IP protocol number from a name ("tcp", "6", "icmp", ...); -1 if unknown. */
int ipproto_parse(const char *s);

#endif /* XNSG_ADDR_H */
