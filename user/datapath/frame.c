// SPDX-License-Identifier: MIT
/*
 * The frame builder (see frame.h): frames built in the caller's buffer,
 * reshaped by inserting bytes at recorded offsets.
 */
#include <errno.h>
#include <string.h>

#include "frame.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define IP6_HLEN 40

static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

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

/* The first error sticks; later ones would only describe its fallout. */
static int fail(struct frame *f, int err, const char *why)
{
	if (!f->err) {
		f->err = err;
		f->why = why;
	}
	return f->err;
}

void frame_init(struct frame *f, void *buf, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->cap = cap;
}

static bool room(struct frame *f, size_t n)
{
	if (f->err)
		return false;
	if (f->len + n > f->cap) {
		fail(f, -ENOSPC, "the frame would exceed its buffer");
		return false;
	}
	return true;
}

/* n zero bytes at the end, or NULL (err set) */
static uint8_t *append(struct frame *f, size_t n)
{
	uint8_t *b;

	if (!room(f, n))
		return NULL;
	b = f->buf + f->len;
	memset(b, 0, n);
	f->len += n;
	return b;
}

/* n zero bytes at off; recorded offsets at or after off move with the bytes. */
static uint8_t *insert(struct frame *f, size_t off, size_t n)
{
	if (!room(f, n))
		return NULL;
	if (off > f->len) {
		fail(f, -EINVAL, "insertion past the end of the frame");
		return NULL;
	}
	memmove(f->buf + off + n, f->buf + off, f->len - off);
	memset(f->buf + off, 0, n);
	f->len += n;
	if (f->l3 >= off)
		f->l3 += n;
	if (f->l4 >= off)
		f->l4 += n;
	if (f->family && f->nh >= off)
		f->nh += n;
	return f->buf + off;
}

int frame_ip4_csum(struct frame *f)
{
	uint8_t *ip = f->buf + f->l3;
	size_t hlen;
	uint32_t sum = 0;

	if (f->err)
		return f->err;
	if (f->family != XNSG_V4)
		return fail(f, -EINVAL, "an IPv4 checksum needs an IPv4 packet");
	hlen = (size_t)(ip[0] & 0xf) * 4;
	put16(ip + 10, 0);
	/* Over the header the version byte claims, as far as the frame goes. */
	for (size_t i = 0; i + 1 < hlen && f->l3 + i + 1 < f->len; i += 2)
		sum += get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	return 0;
}

/* The IP length fields after a well-formed change of the frame. */
static int fix(struct frame *f)
{
	uint8_t *ip = f->buf + f->l3;

	if (f->err)
		return f->err;
	if (f->family == XNSG_V4) {
		put16(ip + 2, (uint16_t)(f->len - f->l3));
		return frame_ip4_csum(f);
	}
	if (f->family == XNSG_V6)
		put16(ip + 4, (uint16_t)(f->len - f->l3 - IP6_HLEN));
	return 0;
}

/* ---- starts --------------------------------------------------------- */

int frame_eth(struct frame *f, uint16_t ethertype)
{
	uint8_t *b;

	if (f->err)
		return f->err;
	f->len = 0;
	f->l3 = f->l4 = ETH_HLEN;
	f->nh = 0;
	f->family = 0;
	b = append(f, ETH_HLEN);
	if (!b)
		return f->err;
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, ethertype);
	return 0;
}

int frame_ip(struct frame *f, const struct xnsg_addr *src, const struct xnsg_addr *dst,
	     uint8_t proto)
{
	bool v4 = src->family == XNSG_V4;
	uint8_t *ip;

	if ((!v4 && src->family != XNSG_V6) || dst->family != src->family)
		return fail(f, -EINVAL, "source and destination of different families");
	if (frame_eth(f, v4 ? 0x0800 : 0x86dd))
		return f->err;
	ip = append(f, v4 ? IP4_HLEN : IP6_HLEN);
	if (!ip)
		return f->err;
	f->family = src->family;
	if (v4) {
		ip[0] = 0x45;
		put16(ip + 4, 1);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, src->bytes, 4);
		memcpy(ip + 16, dst->bytes, 4);
		f->nh = f->l3 + 9;
	} else {
		ip[0] = 0x60;
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, src->bytes, 16);
		memcpy(ip + 24, dst->bytes, 16);
		f->nh = f->l3 + 6;
	}
	f->l4 = f->len;
	return fix(f);
}

int frame_arp(struct frame *f, const struct xnsg_addr *spa, const struct xnsg_addr *tpa)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a;

	if (spa->family != XNSG_V4 || tpa->family != XNSG_V4)
		return fail(f, -EINVAL, "ARP for IPv4 addresses only");
	if (frame_eth(f, 0x0806) || frame_dst_mac(f, bcast))
		return f->err;
	a = append(f, 28);
	if (!a)
		return f->err;
	put16(a, 1);          /* Ethernet */
	put16(a + 2, 0x0800); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);      /* request */
	memcpy(a + 8, smac, 6);
	memcpy(a + 14, spa->bytes, 4);
	memcpy(a + 24, tpa->bytes, 4);
	return 0;
}

/* A TLV's value of len bytes, or NULL */
static uint8_t *lldp_tlv(struct frame *f, uint8_t type, size_t len)
{
	uint8_t *t = append(f, 2 + len);

	if (!t)
		return NULL;
	put16(t, (uint16_t)(type << 9 | len));
	return t + 2;
}

int frame_lldp(struct frame *f)
{
	static const uint8_t lldp_mac[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	uint8_t *v;

	if (frame_eth(f, 0x88cc) || frame_dst_mac(f, lldp_mac))
		return f->err;
	v = lldp_tlv(f, 1, 7); /* chassis ID: MAC address */
	if (v) {
		v[0] = 4;
		memcpy(v + 1, smac, 6);
	}
	v = lldp_tlv(f, 2, 5); /* port ID: interface name */
	if (v) {
		v[0] = 5;
		memcpy(v + 1, "eth0", 4);
	}
	v = lldp_tlv(f, 3, 2); /* TTL */
	if (v)
		put16(v, 120);
	lldp_tlv(f, 0, 0);     /* end */
	return f->err;
}

/* ---- L4 headers ----------------------------------------------------- */

/* n bytes for an L4 header at the end of an IP packet, or NULL */
static uint8_t *l4_append(struct frame *f, size_t n)
{
	if (!f->err && !f->family) {
		fail(f, -EINVAL, "an L4 header needs an IP header");
		return NULL;
	}
	return append(f, n);
}

int frame_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
	      uint32_t ack)
{
	uint8_t *th = l4_append(f, 20);

	if (!th)
		return f->err;
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = 5 << 4; /* data offset */
	th[13] = flags;
	put16(th + 14, 65535);
	return fix(f);
}

int frame_udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	uint8_t *uh = l4_append(f, 8);

	if (!uh)
		return f->err;
	put16(uh, sport);
	put16(uh + 2, dport);
	put16(uh + 4, 8);
	return fix(f);
}

int frame_icmp(struct frame *f, uint8_t type, uint8_t code, uint32_t rest)
{
	uint8_t *ih = l4_append(f, 8);

	if (!ih)
		return f->err;
	ih[0] = type;
	ih[1] = code;
	put32(ih + 4, rest);
	return fix(f);
}

int frame_quote(struct frame *f, const struct frame *inner)
{
	size_t end = inner->l4 + 8 < inner->len ? inner->l4 + 8 : inner->len;
	uint8_t *q;

	if (!f->err && (inner->family != f->family || end < inner->l3))
		return fail(f, -EINVAL, "an ICMP error quotes a packet of its own family");
	q = l4_append(f, end - inner->l3);
	if (!q)
		return f->err;
	memcpy(q, inner->buf + inner->l3, end - inner->l3);
	return fix(f);
}

/* ---- modifiers ------------------------------------------------------ */

int frame_payload(struct frame *f, size_t n, uint8_t fill)
{
	size_t off = f->len;
	uint8_t *b = append(f, n);

	if (!b)
		return f->err;
	memset(b, fill, n);
	if (f->family && f->buf[f->nh] == 17 && f->l4 + 8 <= off)
		put16(f->buf + f->l4 + 4, (uint16_t)(f->len - f->l4));
	return fix(f);
}

int frame_vlan(struct frame *f, uint16_t tpid, uint16_t vid)
{
	uint8_t *t = insert(f, 12, 4);

	if (!t)
		return f->err;
	put16(t, tpid);
	put16(t + 2, vid & 0x0fff);
	return 0;
}

int frame_ip4_opts(struct frame *f, size_t n)
{
	uint8_t *ip = f->buf + f->l3, *o;
	size_t ihl;

	if (f->err)
		return f->err;
	if (f->family != XNSG_V4)
		return fail(f, -EINVAL, "IPv4 options need an IPv4 packet");
	ihl = ip[0] & 0xf;
	if (!n || n % 4 || ihl + n / 4 > 15)
		return fail(f, -EINVAL, "IPv4 options: a multiple of 4 bytes, at most 40 in all");
	o = insert(f, f->l4, n);
	if (!o)
		return f->err;
	memset(o, 1, n); /* NOP */
	o[n - 1] = 0;    /* End of Options */
	ip[0] = (uint8_t)(0x40 | (ihl + n / 4));
	return fix(f);
}

/* Insert a zeroed extension header of `size` bytes at the end of the
 * IPv6 chain and link it in; returns it, or NULL. */
static uint8_t *ext_insert(struct frame *f, uint8_t type, size_t size)
{
	size_t off = f->l4;
	uint8_t *h;

	if (!f->err && f->family != XNSG_V6) {
		fail(f, -EINVAL, "extension headers need an IPv6 packet");
		return NULL;
	}
	h = insert(f, off, size);
	if (!h)
		return NULL;
	h[0] = f->buf[f->nh];
	f->buf[f->nh] = type;
	f->nh = off;
	return h;
}

int frame_ip6_ext(struct frame *f, uint8_t type, size_t size)
{
	uint8_t *h;

	if (type == 51) {
		if (size < 12 || size > 1028 || size % 4)
			return fail(f, -EINVAL, "AH: a multiple of 4 bytes in 12..1028");
		h = ext_insert(f, type, size);
		if (!h)
			return f->err;
		h[1] = (uint8_t)(size / 4 - 2);
		put32(h + 4, 0x100); /* SPI */
		put32(h + 8, 1);     /* sequence */
	} else if (type == 0 || type == 43 || type == 60) {
		if (size < 8 || size > 2048 || size % 8)
			return fail(f, -EINVAL, "extension header: a multiple of 8 bytes in 8..2048");
		h = ext_insert(f, type, size);
		if (!h)
			return f->err;
		h[1] = (uint8_t)(size / 8 - 1);
		if (type != 43) { /* options: one PadN filling the rest */
			h[2] = 1;
			h[3] = (uint8_t)(size - 4 > 255 ? 255 : size - 4);
		}
	} else {
		return fail(f, -EINVAL, "not an extension header frame_ip6_ext builds");
	}
	return fix(f);
}

int frame_ip6_frag(struct frame *f, uint32_t id, uint16_t off8, int more)
{
	uint8_t *h = ext_insert(f, 44, 8);

	if (!h)
		return f->err;
	put16(h + 2, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	put32(h + 4, id);
	return fix(f);
}

int frame_ip4_frag(struct frame *f, uint32_t id, uint16_t off8, int more)
{
	uint8_t *ip = f->buf + f->l3;

	if (f->err)
		return f->err;
	if (f->family != XNSG_V4)
		return fail(f, -EINVAL, "IPv4 fragment fields need an IPv4 packet");
	put16(ip + 4, (uint16_t)id);
	put16(ip + 6, (uint16_t)((more ? 0x2000 : 0) | (off8 & 0x1fff)));
	return fix(f);
}

int frame_trunc(struct frame *f, size_t n)
{
	if (f->err)
		return f->err;
	if (n > f->len)
		return fail(f, -EINVAL, "cannot cut a frame to more than its length");
	f->len = n;
	return 0;
}

int frame_dst_mac(struct frame *f, const uint8_t mac[6])
{
	if (f->err)
		return f->err;
	if (f->len < ETH_HLEN)
		return fail(f, -EINVAL, "a MAC address needs an Ethernet header");
	memcpy(f->buf, mac, 6);
	return 0;
}

/* ---- the frame of a flow -------------------------------------------- */

size_t packet_for_flow(uint8_t *buf, size_t cap, uint8_t ipproto,
		       const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport)
{
	struct frame f;

	frame_init(&f, buf, cap);
	frame_ip(&f, src, dst, ipproto);
	switch (ipproto) {
	case 6:
		frame_tcp(&f, sport, dport, FRAME_TCP_SYN, 0, 0);
		break;
	case 17:
		frame_udp(&f, sport, dport);
		frame_payload(&f, 8, 0);
		break;
	case 1:
	case 58:
		frame_icmp(&f, ipproto == 1 ? 8 : 128, 0, 0); /* echo request */
		break;
	default:
		frame_payload(&f, 8, 0);
		/* AH: next header 59 (none), or IPv6's walk would take the
		 * zeros for a hop-by-hop header and drop the frame as cut short. */
		if (ipproto == 51 && !f.err)
			buf[f.l4] = 59;
	}
	return f.err ? 0 : f.len;
}
