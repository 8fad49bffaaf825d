// SPDX-License-Identifier: MIT
/* Addresses, prefixes, prefix lists and port lists of the model (addr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alloc.h"

static int addr_len_bits(uint8_t family)
{
	return family == XNSG_V4 ? 32 : 128;
}

int addr_parse(const char *s, struct xnsg_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = XNSG_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = XNSG_V6;
		return 0;
	}
	return -EINVAL;
}

void prefix_mask(struct xnsg_prefix *p)
{
	int bits = addr_len_bits(p->family);

	for (int i = p->len; i < bits; i++)
		p->bytes[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	for (int i = bits / 8; i < 16; i++)
		p->bytes[i] = 0;
}

int prefix_parse(const char *s, struct xnsg_prefix *out, bool *host_bits)
{
	char buf[64], *slash, *end;
	struct xnsg_addr a;
	struct xnsg_prefix orig;
	long len;

	if (host_bits)
		*host_bits = false;
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (addr_parse(buf, &a))
		return -EINVAL;
	len = addr_len_bits(a.family);
	if (slash) {
		if (strspn(slash + 1, "0123456789") != strlen(slash + 1) || !slash[1])
			return -EINVAL; /* digits only: no sign, no space */
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || *end || len < 0 || len > addr_len_bits(a.family))
			return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	out->len = (uint8_t)len;
	memcpy(out->bytes, a.bytes, sizeof(a.bytes));
	orig = *out;
	prefix_mask(out);
	if (host_bits)
		*host_bits = memcmp(orig.bytes, out->bytes, sizeof(out->bytes)) != 0;
	return 0;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, int len)
{
	int full = len / 8, rem = len % 8;

	if (memcmp(a, b, full))
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xff00u >> rem);

		return (a[full] & m) == (b[full] & m);
	}
	return true;
}

bool prefix_contains(const struct xnsg_prefix *p, const struct xnsg_addr *a)
{
	return p->family == a->family && bits_equal(p->bytes, a->bytes, p->len);
}

bool prefix_covers(const struct xnsg_prefix *p, const struct xnsg_prefix *q)
{
	return p->family == q->family && p->len <= q->len &&
	       bits_equal(p->bytes, q->bytes, p->len);
}

char *addr_fmt(const struct xnsg_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == XNSG_V4 ? AF_INET : AF_INET6, a->bytes, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

char *prefix_fmt(const struct xnsg_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family == XNSG_V4 ? AF_INET : AF_INET6, p->bytes, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, p->len);
	return buf;
}

int prefix_list_add(struct prefix_list *l, const struct xnsg_prefix *p)
{
	VEC_GROW(l);
	l->v[l->n++] = *p;
	return 0;
}

int prefix_list_append(struct prefix_list *l, const struct prefix_list *src)
{
	for (size_t i = 0; i < src->n; i++)
		prefix_list_add(l, &src->v[i]);
	return 0;
}

bool prefix_list_contains(const struct prefix_list *l, const struct xnsg_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (prefix_contains(&l->v[i], a))
			return true;
	return false;
}

void prefix_list_free(struct prefix_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int port_list_add(struct port_list *l, uint16_t lo, uint16_t hi)
{
	VEC_GROW(l);
	l->v[l->n].lo = lo;
	l->v[l->n].hi = hi;
	l->n++;
	if (lo == 0 && hi == 65535)
		l->any = true;
	return 0;
}

bool port_list_contains(const struct port_list *l, uint16_t port)
{
	if (l->any)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (port >= l->v[i].lo && port <= l->v[i].hi)
			return true;
	return false;
}

void port_list_free(struct port_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int range_cmp(const void *a, const void *b)
{
	const struct port_range *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

/* Sorted, merged copy of l's ranges; returns the count. */
size_t port_list_merged(const struct port_list *l, struct port_range **out)
{
	struct port_range *m = xcalloc(l->n ? l->n : 1, sizeof(*m));
	size_t n = 0;

	if (l->n) { /* l->v is NULL for an empty list */
		memcpy(m, l->v, l->n * sizeof(*m));
		qsort(m, l->n, sizeof(*m), range_cmp);
	}
	for (size_t i = 0; i < l->n; i++) {
		if (n && (uint32_t)m[i].lo <= (uint32_t)m[n - 1].hi + 1) {
			if (m[i].hi > m[n - 1].hi)
				m[n - 1].hi = m[i].hi;
		} else {
			m[n++] = m[i];
		}
	}
	*out = m;
	return n;
}

const char *proto_name(enum xnsg_proto p)
{
	switch (p) {
	case XNSG_PROTO_TCP: return "Tcp";
	case XNSG_PROTO_UDP: return "Udp";
	case XNSG_PROTO_ICMP: return "Icmp";
	case XNSG_PROTO_ESP: return "Esp";
	case XNSG_PROTO_AH: return "Ah";
	default: return "*";
	}
}

const char *dir_name(enum xnsg_dir d)
{
	return d == XNSG_IN ? "Inbound" : "Outbound";
}

int ipproto_parse(const char *s)
{
	static const struct { const char *name; int num; } names[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 },
		{ "ipv6-icmp", 58 }, { "esp", 50 }, { "ah", 51 },
	};
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].num;
	errno = 0;
	n = strtol(s, &end, 10);
	if (!*s || *end || errno || n < 0 || n > 255)
		return -1;
	return (int)n;
}
