// SPDX-License-Identifier: MIT
/* Frames crafted for a flow, for verify --datapath (BPF_PROG_TEST_RUN). */
#include <arpa/inet.h>
#include <string.h>

#include "datapath.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t ip4_csum(const uint8_t *h, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The L4 header for the flow: TCP SYN, UDP, ICMP/ICMPv6 echo request, or
 * 8 zero bytes for anything else. Returns its length. */
static size_t put_l4(uint8_t *p, uint8_t ipproto, uint16_t sport, uint16_t dport)
{
	switch (ipproto) {
	case 6:
		memset(p, 0, 20);
		put16(p, sport);
		put16(p + 2, dport);
		p[12] = 5 << 4; /* data offset */
		p[13] = 0x02;   /* SYN */
		put16(p + 14, 65535);
		return 20;
	case 17:
		put16(p, sport);
		put16(p + 2, dport);
		put16(p + 4, 8 + 8);
		put16(p + 6, 0);
		memset(p + 8, 0, 8);
		return 16;
	case 1:
	case 58:
		memset(p, 0, 8);
		p[0] = ipproto == 1 ? 8 : 128; /* echo request */
		return 8;
	default:
		memset(p, 0, 8);
		/* AH: next header 59 (none), or IPv6's walk would take the
		 * zeros for a hop-by-hop header and drop the frame as cut short. */
		if (ipproto == 51)
			p[0] = 59;
		return 8;
	}
}

size_t packet_for_flow(uint8_t *buf, size_t cap, uint8_t ipproto,
		       const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 }, smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *ip = buf + 14, *l4;
	size_t l4len;

	if (cap < 14 + 40 + 28)
		return 0;
	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	if (src->family == XNSG_V4) {
		put16(buf + 12, 0x0800);
		l4 = ip + 20;
		l4len = put_l4(l4, ipproto, sport, dport);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + l4len));
		put16(ip + 4, 1);
		ip[8] = 64;
		ip[9] = ipproto;
		memcpy(ip + 12, src->bytes, 4);
		memcpy(ip + 16, dst->bytes, 4);
		put16(ip + 10, ip4_csum(ip, 20));
		return 14 + 20 + l4len;
	}
	put16(buf + 12, 0x86dd);
	l4 = ip + 40;
	l4len = put_l4(l4, ipproto, sport, dport);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)l4len);
	ip[6] = ipproto;
	ip[7] = 64;
	memcpy(ip + 8, src->bytes, 16);
	memcpy(ip + 24, dst->bytes, 16);
	return 14 + 40 + l4len;
}
