// SPDX-License-Identifier: MIT
/*
 * The packet builder of the BPF tests (see pkt.h): frames built in a fixed
 * buffer, reshaped by inserting bytes at recorded offsets.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define IP6_HLEN 40

static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pkt: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void room(const struct pkt *p, size_t n)
{
	if (p->len + n > PKT_CAP)
		die("frame of %zu bytes would exceed PKT_CAP (%d)", p->len + n, PKT_CAP);
}

/* n zero bytes at the end */
static uint8_t *append(struct pkt *p, size_t n)
{
	uint8_t *b;

	room(p, n);
	b = p->buf + p->len;
	memset(b, 0, n);
	p->len += n;
	return b;
}

/* n zero bytes at off; recorded offsets at or after off move with the bytes. */
static uint8_t *insert(struct pkt *p, size_t off, size_t n)
{
	room(p, n);
	if (off > p->len)
		die("insert at %zu past the end (%zu)", off, p->len);
	memmove(p->buf + off + n, p->buf + off, p->len - off);
	memset(p->buf + off, 0, n);
	p->len += n;
	if (p->l3 >= off)
		p->l3 += n;
	if (p->l4 >= off)
		p->l4 += n;
	if (p->family && p->nh >= off)
		p->nh += n;
	return p->buf + off;
}

void pkt_ip4_csum(struct pkt *p)
{
	uint8_t *ip = p->buf + p->l3;
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;
	uint32_t sum = 0;

	put16(ip + 10, 0);
	for (size_t i = 0; i + 1 < hlen && p->l3 + i + 1 < p->len; i += 2)
		sum += get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
}

/* The IP length fields after a well-formed change of the frame. */
static size_t fix(struct pkt *p)
{
	uint8_t *ip = p->buf + p->l3;

	if (p->family == 4) {
		put16(ip + 2, (uint16_t)(p->len - p->l3));
		pkt_ip4_csum(p);
	} else if (p->family == 6) {
		put16(ip + 4, (uint16_t)(p->len - p->l3 - IP6_HLEN));
	}
	return p->len;
}

static void addr(int family, const char *s, uint8_t *out)
{
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1)
		die("'%s' is not an IPv%d address", s, family);
}

static void eth_start(struct pkt *p, uint16_t ethertype)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->buf, dmac, 6);
	memcpy(p->buf + 6, smac, 6);
	put16(p->buf + 12, ethertype);
	p->len = ETH_HLEN;
	p->l3 = p->l4 = ETH_HLEN;
}

static void ip_start(struct pkt *p, int family, const char *src, const char *dst, uint8_t proto)
{
	uint8_t *ip;

	eth_start(p, family == 4 ? 0x0800 : 0x86dd);
	p->family = (uint8_t)family;
	if (family == 4) {
		ip = append(p, IP4_HLEN);
		ip[0] = 0x45;
		put16(ip + 4, 1);
		ip[8] = 64;
		ip[9] = proto;
		addr(4, src, ip + 12);
		addr(4, dst, ip + 16);
		p->nh = p->l3 + 9;
	} else {
		ip = append(p, IP6_HLEN);
		ip[0] = 0x60;
		ip[6] = proto;
		ip[7] = 64;
		addr(6, src, ip + 8);
		addr(6, dst, ip + 24);
		p->nh = p->l3 + 6;
	}
	p->l4 = p->len;
}

static size_t tcp(struct pkt *p, int family, const char *src, const char *dst, uint16_t sport,
		  uint16_t dport, uint8_t flags)
{
	uint8_t *th;

	ip_start(p, family, src, dst, 6);
	th = append(p, 20);
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, 1);
	if (flags & PKT_ACK)
		put32(th + 8, 1);
	th[12] = 5 << 4;
	th[13] = flags;
	put16(th + 14, 65535);
	return fix(p);
}

static size_t udp(struct pkt *p, int family, const char *src, const char *dst, uint16_t sport,
		  uint16_t dport)
{
	uint8_t *uh;

	ip_start(p, family, src, dst, 17);
	uh = append(p, 8);
	put16(uh, sport);
	put16(uh + 2, dport);
	put16(uh + 4, 8);
	return fix(p);
}

static size_t icmp(struct pkt *p, int family, const char *src, const char *dst, uint8_t type,
		   uint8_t code, uint16_t id)
{
	uint8_t *ih;

	ip_start(p, family, src, dst, family == 4 ? 1 : 58);
	ih = append(p, 8);
	ih[0] = type;
	ih[1] = code;
	put16(ih + 4, id);
	put16(ih + 6, 1);
	return fix(p);
}

static size_t bare(struct pkt *p, int family, const char *src, const char *dst, uint8_t proto,
		   size_t paylen)
{
	ip_start(p, family, src, dst, proto);
	append(p, paylen);
	return fix(p);
}

static size_t icmp_error(struct pkt *p, int family, const char *src, const char *dst,
			 uint8_t type, uint8_t code, uint32_t rest, const struct pkt *inner)
{
	size_t end = inner->l4 + 8 < inner->len ? inner->l4 + 8 : inner->len;
	uint8_t *ih;

	if (inner->family != family)
		die("an ICMPv%d error quotes an IPv%d packet, not IPv%d", family, family,
		    inner->family);
	ip_start(p, family, src, dst, family == 4 ? 1 : 58);
	ih = append(p, 8);
	ih[0] = type;
	ih[1] = code;
	put32(ih + 4, rest);
	memcpy(append(p, end - inner->l3), inner->buf + inner->l3, end - inner->l3);
	return fix(p);
}

size_t pkt_tcp4(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport, uint8_t flags)
{
	return tcp(p, 4, src, dst, sport, dport, flags);
}

size_t pkt_udp4(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport)
{
	return udp(p, 4, src, dst, sport, dport);
}

size_t pkt_icmp4(struct pkt *p, const char *src, const char *dst, uint8_t type, uint8_t code,
		 uint16_t id)
{
	return icmp(p, 4, src, dst, type, code, id);
}

size_t pkt_ip4(struct pkt *p, const char *src, const char *dst, uint8_t proto, size_t paylen)
{
	return bare(p, 4, src, dst, proto, paylen);
}

size_t pkt_tcp6(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport, uint8_t flags)
{
	return tcp(p, 6, src, dst, sport, dport, flags);
}

size_t pkt_udp6(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport)
{
	return udp(p, 6, src, dst, sport, dport);
}

size_t pkt_icmp6(struct pkt *p, const char *src, const char *dst, uint8_t type, uint8_t code,
		 uint16_t id)
{
	return icmp(p, 6, src, dst, type, code, id);
}

size_t pkt_ip6(struct pkt *p, const char *src, const char *dst, uint8_t proto, size_t paylen)
{
	return bare(p, 6, src, dst, proto, paylen);
}

size_t pkt_icmp4_error(struct pkt *p, const char *src, const char *dst, uint8_t type,
		       uint8_t code, uint32_t rest, const struct pkt *inner)
{
	return icmp_error(p, 4, src, dst, type, code, rest, inner);
}

size_t pkt_icmp6_error(struct pkt *p, const char *src, const char *dst, uint8_t type,
		       uint8_t code, uint32_t rest, const struct pkt *inner)
{
	return icmp_error(p, 6, src, dst, type, code, rest, inner);
}

size_t pkt_eth(struct pkt *p, uint16_t ethertype, size_t paylen)
{
	eth_start(p, ethertype);
	append(p, paylen);
	return p->len;
}

size_t pkt_arp(struct pkt *p)
{
	uint8_t *a;

	eth_start(p, 0x0806);
	memset(p->buf, 0xff, 6); /* broadcast */
	a = append(p, 28);
	put16(a, 1);          /* Ethernet */
	put16(a + 2, 0x0800); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);      /* request */
	memcpy(a + 8, smac, 6);
	addr(4, "192.0.2.1", a + 14);
	addr(4, "192.0.2.2", a + 24);
	return p->len;
}

static uint8_t *lldp_tlv(struct pkt *p, uint8_t type, size_t len)
{
	uint8_t *t = append(p, 2 + len);

	put16(t, (uint16_t)(type << 9 | len));
	return t + 2;
}

size_t pkt_lldp(struct pkt *p)
{
	static const uint8_t lldp_mac[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	uint8_t *v;

	eth_start(p, 0x88cc);
	memcpy(p->buf, lldp_mac, 6);
	v = lldp_tlv(p, 1, 7); /* chassis ID: MAC address */
	v[0] = 4;
	memcpy(v + 1, smac, 6);
	v = lldp_tlv(p, 2, 5); /* port ID: interface name */
	v[0] = 5;
	memcpy(v + 1, "eth0", 4);
	v = lldp_tlv(p, 3, 2); /* TTL */
	put16(v, 120);
	lldp_tlv(p, 0, 0);     /* end */
	return p->len;
}

size_t pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t vid)
{
	uint8_t *t = insert(p, 12, 4);

	put16(t, tpid);
	put16(t + 2, vid & 0x0fff);
	return p->len;
}

size_t pkt_ip4_opts(struct pkt *p, size_t n)
{
	uint8_t *ip = p->buf + p->l3, *o;
	size_t ihl = ip[0] & 0xf;

	if (p->family != 4 || n % 4 || ihl + n / 4 > 15)
		die("cannot add %zu bytes of options to an IPv4 header of %zu words", n, ihl);
	o = insert(p, p->l4, n);
	memset(o, 1, n); /* NOP */
	o[n - 1] = 0;    /* End of Options */
	ip[0] = (uint8_t)(0x40 | (ihl + n / 4));
	return fix(p);
}

size_t pkt_payload(struct pkt *p, size_t n)
{
	size_t off = p->len;

	memset(append(p, n), 0xa5, n);
	if (p->family && p->buf[p->nh] == 17 && p->l4 + 8 <= off)
		put16(p->buf + p->l4 + 4, (uint16_t)(p->len - p->l4));
	return fix(p);
}

/* Insert a zeroed extension header of `size` bytes at the end of the
 * IPv6 chain and link it in; returns it. */
static uint8_t *ext_insert(struct pkt *p, uint8_t type, size_t size)
{
	size_t off = p->l4;
	uint8_t *h;

	if (p->family != 6)
		die("extension headers need an IPv6 packet");
	h = insert(p, off, size);
	h[0] = p->buf[p->nh];
	p->buf[p->nh] = type;
	p->nh = off;
	return h;
}

size_t pkt_ip6_ext(struct pkt *p, uint8_t type, size_t size)
{
	uint8_t *h;

	if (type == 51) {
		if (size < 12 || size > 1028 || size % 4)
			die("AH of %zu bytes: a multiple of 4 in 12..1028", size);
		h = ext_insert(p, type, size);
		h[1] = (uint8_t)(size / 4 - 2);
		put32(h + 4, 0x100); /* SPI */
		put32(h + 8, 1);     /* sequence */
	} else if (type == 0 || type == 43 || type == 60) {
		if (size < 8 || size > 2048 || size % 8)
			die("extension header of %zu bytes: a multiple of 8 in 8..2048", size);
		h = ext_insert(p, type, size);
		h[1] = (uint8_t)(size / 8 - 1);
		if (type != 43) { /* options: one PadN filling the rest */
			h[2] = 1;
			h[3] = (uint8_t)(size - 4 > 255 ? 255 : size - 4);
		}
	} else {
		die("%u is not an extension header pkt_ip6_ext builds", type);
	}
	return fix(p);
}

size_t pkt_ip6_frag(struct pkt *p, uint32_t id, uint16_t off8, int more)
{
	uint8_t *h = ext_insert(p, 44, 8);

	put16(h + 2, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	put32(h + 4, id);
	return fix(p);
}

size_t pkt_ip4_frag(struct pkt *p, uint32_t id, uint16_t off8, int more)
{
	uint8_t *ip = p->buf + p->l3;

	if (p->family != 4)
		die("pkt_ip4_frag needs an IPv4 packet");
	put16(ip + 4, (uint16_t)id);
	put16(ip + 6, (uint16_t)((more ? 0x2000 : 0) | (off8 & 0x1fff)));
	return fix(p);
}

size_t pkt_trunc(struct pkt *p, size_t n)
{
	if (n > p->len)
		die("cannot cut a frame of %zu bytes to %zu", p->len, n);
	p->len = n;
	return n;
}
