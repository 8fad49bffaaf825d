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

/* Every bit from min(len, the family's bits) on cleared, a byte at a time. */
void prefix_mask(struct xnsg_prefix *p)
{
	int bits = addr_len_bits(p->family), keep = p->len < bits ? p->len : bits;
	int full = keep / 8;

	if (keep % 8)
		p->bytes[full++] &= (uint8_t)(0xff00u >> (keep % 8));
	memset(p->bytes + full, 0, sizeof(p->bytes) - (size_t)full);
}

/*
 * "a.b.c.d" or "a.b.c.d/N": each part 0-255 without a leading zero (as
 * inet_pton() takes them), N one or two digits up to 32.  Most prefixes
 * of a policy and all of a Service Tags file's IPv4 half are written so,
 * and inet_pton(), strtol() and the copies around them cost ~600
 * instructions a prefix (100,000 in a big tag).  False for anything
 * else, which the general parse takes (and any error is its).
 */
/* c's value as a decimal digit; above 9 when it is none. */
static unsigned int digit(char c)
{
	return (unsigned int)(unsigned char)c - '0';
}

static bool prefix_parse_v4(const char *s, struct xnsg_prefix *out)
{
	unsigned int len = 32;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 4; i++) {
		/* One to three digits, no leading zero, at most 255. */
		unsigned int v = digit(s[0]), d;

		if (v > 9)
			return false;
		s++;
		if ((d = digit(*s)) <= 9) {
			if (!v)
				return false;
			v = v * 10 + d;
			if ((d = digit(*++s)) <= 9) {
				v = v * 10 + d;
				if (digit(*++s) <= 9 || v > 255)
					return false;
			}
		}
		out->bytes[i] = (uint8_t)v;
		if (i < 3 && *s++ != '.')
			return false;
	}
	if (*s == '/') {
		if ((len = digit(s[1])) > 9)
			return false;
		s += 2;
		if (digit(*s) <= 9)
			len = len * 10 + digit(*s++);
		if (len > 32)
			return false;
	}
	if (*s)
		return false;
	out->family = XNSG_V4;
	out->len = (uint8_t)len;
	return true;
}

/* Any address inet_pton() takes, with an optional /N (digits only). */
static int prefix_parse_any(const char *s, struct xnsg_prefix *out)
{
	char buf[64], *slash, *end;
	struct xnsg_addr a;
	long len;

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
	return 0;
}

int prefix_parse(const char *s, struct xnsg_prefix *out, bool *host_bits)
{
	struct xnsg_prefix p, orig;

	if (host_bits)
		*host_bits = false;
	if (!prefix_parse_v4(s, &p) && prefix_parse_any(s, &p))
		return -EINVAL;
	orig = p;
	prefix_mask(&p);
	if (host_bits)
		*host_bits = memcmp(orig.bytes, p.bytes, sizeof(p.bytes)) != 0;
	*out = p;
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
