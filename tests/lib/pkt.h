/* SPDX-License-Identifier: MIT */
/*
 * The BPF tests' packet builder, in the manner of the kernel selftests'
 * and katran's fixtures: one call builds a well-formed frame (Ethernet +
 * IPv4/IPv6 + TCP/UDP/ICMP), then modifiers reshape it - VLAN tags, IPv4
 * options, IPv6 extension headers, fragments, payload - and pkt_trunc()
 * cuts it short.  Hand p.buf and p.len to BPF_PROG_TEST_RUN.
 *
 *   struct pkt p;
 *   pkt_tcp6(&p, "2001:db8::1", "2001:db8::2", 40000, 80, PKT_SYN);
 *   pkt_ip6_ext(&p, IPPROTO_DSTOPTS, 16);   // inserted before TCP
 *   pkt_vlan(&p, 0x8100, 10);
 *
 * Every byte is written by user/datapath/frame.c, the builder verify
 * --datapath and the benchmark use (frame.h says what each call keeps
 * consistent); these wrappers only hold the frame in a fixed buffer, take
 * addresses as strings ("192.0.2.1", "2001:db8::1") and end the test
 * program on a malformed address or a request the builder refuses (a bug
 * in the test, not a failure of the datapath).  TCP frames carry sequence
 * number 1, and acknowledgment number 1 when PKT_ACK is set.
 */
#ifndef XNSG_TEST_PKT_H
#define XNSG_TEST_PKT_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define PKT_CAP 3072 /* BPF_PROG_TEST_RUN takes at most about a page */

#define PKT_FIN FRAME_TCP_FIN
#define PKT_SYN FRAME_TCP_SYN
#define PKT_RST FRAME_TCP_RST
#define PKT_PSH FRAME_TCP_PSH
#define PKT_ACK FRAME_TCP_ACK

/* A frame and the offsets of its headers, kept between calls. */
struct pkt {
	uint8_t buf[PKT_CAP];
	size_t len;
	size_t l3;      /* IP header (after VLAN tags); 14 for non-IP frames */
	size_t l4;      /* L4 header: after IPv4 options / the IPv6 extension chain */
	size_t nh;      /* the byte naming the L4 protocol */
	uint8_t family; /* 4, 6, or 0 for a non-IP frame */
};

static inline void __attribute__((noreturn, format(printf, 1, 2))) pkt_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pkt: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* The builder's view of p as the last call left it. */
static inline struct frame pkt_frame(const struct pkt *p)
{
	struct frame f;

	frame_init(&f, (void *)p->buf, PKT_CAP);
	f.len = p->len;
	f.l3 = p->l3;
	f.l4 = p->l4;
	f.nh = p->nh;
	f.family = p->family;
	return f;
}

/* Keep what the builder made of p; its length. */
static inline size_t pkt_done(struct pkt *p, const struct frame *f, const char *fn)
{
	if (f->err)
		pkt_die("%s: %s (%s)", fn, f->why, strerror(-f->err));
	p->len = f->len;
	p->l3 = f->l3;
	p->l4 = f->l4;
	p->nh = f->nh;
	p->family = f->family;
	return p->len;
}

static inline struct xnsg_addr pkt_addr(int family, const char *s)
{
	struct xnsg_addr a = { .family = (uint8_t)family };

	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, a.bytes) != 1)
		pkt_die("'%s' is not an IPv%d address", s, family);
	return a;
}

/* A new frame in p: Ethernet + IP from src to dst, protocol proto. */
static inline struct frame pkt_ip(struct pkt *p, int family, const char *src, const char *dst,
				  uint8_t proto)
{
	struct xnsg_addr s = pkt_addr(family, src), d = pkt_addr(family, dst);
	struct frame f;

	frame_init(&f, p->buf, PKT_CAP);
	frame_ip(&f, &s, &d, proto);
	return f;
}

/* ---- frames --------------------------------------------------------- */

static inline size_t pkt_tcp(struct pkt *p, int family, const char *src, const char *dst,
			     uint16_t sport, uint16_t dport, uint8_t flags, const char *fn)
{
	struct frame f = pkt_ip(p, family, src, dst, 6);

	frame_tcp(&f, sport, dport, flags, 1, flags & PKT_ACK ? 1 : 0);
	return pkt_done(p, &f, fn);
}

static inline size_t pkt_udp(struct pkt *p, int family, const char *src, const char *dst,
			     uint16_t sport, uint16_t dport, const char *fn)
{
	struct frame f = pkt_ip(p, family, src, dst, 17);

	frame_udp(&f, sport, dport);
	return pkt_done(p, &f, fn);
}

/* An ICMP header of 8 bytes: type, code, checksum, id, sequence 1. */
static inline size_t pkt_icmp(struct pkt *p, int family, const char *src, const char *dst,
			      uint8_t type, uint8_t code, uint16_t id, const char *fn)
{
	struct frame f = pkt_ip(p, family, src, dst, family == 4 ? 1 : 58);

	frame_icmp(&f, type, code, (uint32_t)id << 16 | 1);
	return pkt_done(p, &f, fn);
}

/* IP carrying `paylen` zero bytes of protocol `proto` (ESP, AH, GRE...). */
static inline size_t pkt_bare(struct pkt *p, int family, const char *src, const char *dst,
			      uint8_t proto, size_t paylen, const char *fn)
{
	struct frame f = pkt_ip(p, family, src, dst, proto);

	frame_payload(&f, paylen, 0);
	return pkt_done(p, &f, fn);
}

/*
 * An ICMP error quoting `inner` (another built packet of the family) from
 * its IP header through 8 bytes of its L4 header, as routers do.  `rest`
 * is the second word of the ICMP header: the next-hop MTU for IPv4
 * "fragmentation needed" (type 3 code 4), the MTU for ICMPv6 "packet too
 * big" (type 2).
 */
static inline size_t pkt_icmp_error(struct pkt *p, int family, const char *src, const char *dst,
				    uint8_t type, uint8_t code, uint32_t rest,
				    const struct pkt *inner, const char *fn)
{
	struct frame in = pkt_frame(inner);
	struct frame f = pkt_ip(p, family, src, dst, family == 4 ? 1 : 58);

	frame_icmp(&f, type, code, rest);
	frame_quote(&f, &in);
	return pkt_done(p, &f, fn);
}

static inline size_t pkt_tcp4(struct pkt *p, const char *src, const char *dst, uint16_t sport,
			      uint16_t dport, uint8_t flags)
{
	return pkt_tcp(p, 4, src, dst, sport, dport, flags, __func__);
}

static inline size_t pkt_tcp6(struct pkt *p, const char *src, const char *dst, uint16_t sport,
			      uint16_t dport, uint8_t flags)
{
	return pkt_tcp(p, 6, src, dst, sport, dport, flags, __func__);
}

static inline size_t pkt_udp4(struct pkt *p, const char *src, const char *dst, uint16_t sport,
			      uint16_t dport)
{
	return pkt_udp(p, 4, src, dst, sport, dport, __func__);
}

static inline size_t pkt_udp6(struct pkt *p, const char *src, const char *dst, uint16_t sport,
			      uint16_t dport)
{
	return pkt_udp(p, 6, src, dst, sport, dport, __func__);
}

static inline size_t pkt_icmp4(struct pkt *p, const char *src, const char *dst, uint8_t type,
			       uint8_t code, uint16_t id)
{
	return pkt_icmp(p, 4, src, dst, type, code, id, __func__);
}

static inline size_t pkt_icmp6(struct pkt *p, const char *src, const char *dst, uint8_t type,
			       uint8_t code, uint16_t id)
{
	return pkt_icmp(p, 6, src, dst, type, code, id, __func__);
}

static inline size_t pkt_ip4(struct pkt *p, const char *src, const char *dst, uint8_t proto,
			     size_t paylen)
{
	return pkt_bare(p, 4, src, dst, proto, paylen, __func__);
}

static inline size_t pkt_ip6(struct pkt *p, const char *src, const char *dst, uint8_t proto,
			     size_t paylen)
{
	return pkt_bare(p, 6, src, dst, proto, paylen, __func__);
}

static inline size_t pkt_icmp4_error(struct pkt *p, const char *src, const char *dst,
				     uint8_t type, uint8_t code, uint32_t rest,
				     const struct pkt *inner)
{
	return pkt_icmp_error(p, 4, src, dst, type, code, rest, inner, __func__);
}

static inline size_t pkt_icmp6_error(struct pkt *p, const char *src, const char *dst,
				     uint8_t type, uint8_t code, uint32_t rest,
				     const struct pkt *inner)
{
	return pkt_icmp_error(p, 6, src, dst, type, code, rest, inner, __func__);
}

/* A non-IP frame: ethertype and `paylen` zero bytes. */
static inline size_t pkt_eth(struct pkt *p, uint16_t ethertype, size_t paylen)
{
	struct frame f;

	frame_init(&f, p->buf, PKT_CAP);
	frame_eth(&f, ethertype);
	frame_payload(&f, paylen, 0);
	return pkt_done(p, &f, __func__);
}

/* An ARP request, 28 bytes, 192.0.2.1 asking for 192.0.2.2 */
static inline size_t pkt_arp(struct pkt *p)
{
	struct xnsg_addr spa = pkt_addr(4, "192.0.2.1"), tpa = pkt_addr(4, "192.0.2.2");
	struct frame f;

	frame_init(&f, p->buf, PKT_CAP);
	frame_arp(&f, &spa, &tpa);
	return pkt_done(p, &f, __func__);
}

/* An LLDP frame with chassis, port, TTL, end TLVs */
static inline size_t pkt_lldp(struct pkt *p)
{
	struct frame f;

	frame_init(&f, p->buf, PKT_CAP);
	frame_lldp(&f);
	return pkt_done(p, &f, __func__);
}

/* ---- modifiers: frame.h's, on p ------------------------------------- */

static inline size_t pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t vid)
{
	struct frame f = pkt_frame(p);

	frame_vlan(&f, tpid, vid);
	return pkt_done(p, &f, __func__);
}

static inline size_t pkt_ip4_opts(struct pkt *p, size_t n)
{
	struct frame f = pkt_frame(p);

	frame_ip4_opts(&f, n);
	return pkt_done(p, &f, __func__);
}

/* Append `n` bytes of payload (0xa5) after the L4 header. */
static inline size_t pkt_payload(struct pkt *p, size_t n)
{
	struct frame f = pkt_frame(p);

	frame_payload(&f, n, 0xa5);
	return pkt_done(p, &f, __func__);
}

static inline size_t pkt_ip6_ext(struct pkt *p, uint8_t type, size_t size)
{
	struct frame f = pkt_frame(p);

	frame_ip6_ext(&f, type, size);
	return pkt_done(p, &f, __func__);
}

static inline size_t pkt_ip4_frag(struct pkt *p, uint32_t id, uint16_t off8, int more)
{
	struct frame f = pkt_frame(p);

	frame_ip4_frag(&f, id, off8, more);
	return pkt_done(p, &f, __func__);
}

static inline size_t pkt_ip6_frag(struct pkt *p, uint32_t id, uint16_t off8, int more)
{
	struct frame f = pkt_frame(p);

	frame_ip6_frag(&f, id, off8, more);
	return pkt_done(p, &f, __func__);
}

static inline size_t pkt_trunc(struct pkt *p, size_t n)
{
	struct frame f = pkt_frame(p);

	frame_trunc(&f, n);
	return pkt_done(p, &f, __func__);
}

static inline void pkt_ip4_csum(struct pkt *p)
{
	struct frame f = pkt_frame(p);

	frame_ip4_csum(&f);
	pkt_done(p, &f, __func__);
}

#endif /* XNSG_TEST_PKT_H */
