/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The packet parser (docs/DESIGN.md §2 "Robustness"): Ethernet, up to two VLAN
 * tags, IPv4 (options skipped) or IPv6 (extension headers walked), then
 * the TCP/UDP ports or the ICMP type and code.  It turns a frame into a
 * struct xnsg_pkt for classify.h and conntrack.h, or says why not:
 *
 *   0                 classify it
 *   XNSG_PARSE_PASS   pass unfiltered: a non-IP frame (ARP, LLDP, ...) or
 *                     IPv6 neighbour/router discovery (ICMPv6 133-137)
 *   > 0               drop, counted under this enum xnsg_reason
 *
 * Decisions worth knowing:
 * - Every read is bounds-checked against data_end; every loop has a
 *   constant bound, so the verifier accepts it under XDP and TC alike.
 * - A later fragment (IPv4 offset > 0, IPv6 fragment offset > 0) has no
 *   L4 header: its ports stay 0 and it is judged by its first fragment's
 *   remembered verdict (conntrack.h), never by what its payload holds.
 *   A first fragment must hold the whole L4 header (the tiny-fragment
 *   attack of RFC 1858 is dropped as XNSG_R_TRUNC_L4).
 * - IPv6 extension headers: hop-by-hop (0), routing (43), destination
 *   options (60), fragment (44) and AH (51) are walked, at most
 *   XNSG_MAX_EXTHDRS of them (more: XNSG_R_EXTHDR_DEPTH, as is a chain
 *   over XNSG_EXT_BYTES_MAX bytes).  ESP (50) is never walked: what
 *   follows it is encrypted, so ESP is the protocol.  AH is walked like
 *   the others, so a rule on TCP ports sees the ports AH protects; only
 *   when AH's next header is No Next Header (59) is the packet classified
 *   as protocol AH (51).  IPv4 never walks AH: there it is the protocol.
 * - IPv6 fragments are named (conntrack.h's fragment key) by the fragment
 *   header's next header, frag_proto, which every fragment of a datagram
 *   carries, not by proto: a first fragment whose fragment header is
 *   followed by destination options or AH has proto TCP, its later
 *   fragments cannot know that.
 * - Neighbour discovery passes unfiltered only unfragmented (RFC 6980
 *   forbids fragmented ND); a fragmented one is classified by the rules.
 * - Lengths: besides the bytes present, the L3 length the header declares
 *   (IPv4 total length, IPv6 payload length) must cover the headers read,
 *   so Ethernet padding is never taken for a header.
 * - An IPv6 header whose version is not 6 counts as XNSG_R_TRUNC_IP6
 *   (abi.h has no bad-IPv6 reason).  A TCP data offset below 5 counts as
 *   XNSG_R_TRUNC_L4, as does an ICMP header shorter than 8 bytes.
 *
 * Included by xnsg.bpf.c after vmlinux.h and abi.h.
 */
#ifndef XNSG_PARSE_H
#define XNSG_PARSE_H

#define XNSG_ETH_P_IP 0x0800
#define XNSG_ETH_P_IPV6 0x86dd
#define XNSG_ETH_P_8021Q 0x8100
#define XNSG_ETH_P_8021AD 0x88a8

#define XNSG_ETH_HLEN 14
#define XNSG_VLAN_HLEN 4
#define XNSG_IP4_HLEN 20
#define XNSG_IP6_HLEN 40
#define XNSG_TCP_HLEN 20
#define XNSG_UDP_HLEN 8
#define XNSG_ICMP_HLEN 8 /* type, code, checksum, 4 bytes (echo id/seq, MTU, ...) */
#define XNSG_EXT_MIN 8   /* every IPv6 extension header we walk is at least 8 bytes */

/* conntrack.h reads L4 fields at (l4_off & 0xfff): keep l4_off below that.
 * Extension headers longer than XNSG_EXT_BYTES_MAX in all (no real chain
 * comes near) count as too deep. */
#define XNSG_L4_OFF_MAX 0xfff
#define XNSG_EXT_BYTES_MAX (XNSG_L4_OFF_MAX - XNSG_ETH_HLEN - XNSG_MAX_VLANS * XNSG_VLAN_HLEN - \
			    XNSG_IP6_HLEN)

enum {
	XNSG_FRAG_NONE = 0,  /* not a fragment (or an IPv6 atomic fragment) */
	XNSG_FRAG_FIRST = 1, /* offset 0, more fragments follow: has the L4 header */
	XNSG_FRAG_LATER = 2, /* offset > 0: no L4 header */
};

#define XNSG_PARSE_PASS (-1)

/* A parsed packet.  Addresses in network order, everything else host order. */
struct xnsg_pkt {
	/* IPv4 in bytes 0..3, the rest zero.  8-byte aligned: conntrack.h
	 * reads them as words (clang reads a __u8 array of unknown alignment
	 * with a load, shift and or per byte). */
	__u8 saddr[16] __attribute__((aligned(8))), daddr[16];
	__u32 frag_id;             /* IPv4 identification, IPv6 fragment id (32 bits) */
	__u32 l3_off;              /* IP header, from data */
	__u32 l4_off;              /* L4 header (after options / extension headers), from data */
	__u32 len;                 /* L3 length as declared: IPv4 total length, IPv6 40 +
				    * payload length (bytes present for a jumbogram) */
	__u16 sport, dport;        /* TCP/UDP of an unfragmented or first fragment, else 0 */
	__u16 eth_proto;           /* ethertype after the VLAN tags */
	__u8 family;               /* 4 or 6 */
	__u8 proto;                /* the L4 protocol (after IPv6 extension headers) */
	__u8 icmp_type, icmp_code; /* ICMP/ICMPv6, unless a later fragment */
	__u8 tcp_flags;            /* TCP flags byte (FIN 0x01 ... ACK 0x10) */
	__u8 frag;                 /* XNSG_FRAG_* */
	__u8 nvlans;               /* VLAN tags skipped */
	__u8 frag_proto;           /* fragments only: the protocol naming the datagram in
				    * fragment keys: IPv4 protocol, IPv6 fragment header's
				    * next header (the same in every fragment, unlike proto) */
};

/*
 * An address in the IP header, read as 4-byte words rather than byte by
 * byte.  The IP header starts 4-aligned when the frame is NET_IP_ALIGN-ed
 * (the verifier's assumption where alignment is strict; Ethernet and VLAN
 * tags are 14 + 4n bytes), and elsewhere an unaligned load is allowed.
 */
#define XNSG_IP_WORDS(p) ((const __u8 *)__builtin_assume_aligned((p), 4))

static __always_inline __u16 xnsg_get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/*
 * A no-op at run time (*off <= XNSG_L4_OFF_MAX already), but the verifier
 * then sees "some offset in 0..4095" however the walk got there, so it
 * prunes the next round instead of verifying it once per mix of headers
 * before it.  The empty asm keeps clang from dropping the mask.
 */
static __always_inline void xnsg_widen(__u32 *off)
{
	__u32 v = *off;

	asm volatile("" : "+r"(v));
	*off = v & XNSG_L4_OFF_MAX;
}

/* 1 if ethertype t is a VLAN tag (802.1Q, 802.1ad), else 0, without a
 * branch: x - 1 has its top bit set exactly when x == 0. */
static __always_inline __u32 xnsg_is_vlan(__u16 t)
{
	__u64 q = t ^ XNSG_ETH_P_8021Q, ad = t ^ XNSG_ETH_P_8021AD;

	asm volatile("" : "+r"(q), "+r"(ad));
	return (__u32)(((q - 1) >> 63) | ((ad - 1) >> 63));
}

static __always_inline int xnsg_ip6_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51;
}

/*
 * The L4 header at p: ports, flags, ICMP type.  l3_left: bytes the IP
 * header declares from p on.  Protocols without a header we read pass
 * as they are.
 */
static __always_inline int xnsg_parse_l4(__u8 *p, void *data_end, __u32 l3_left,
					 struct xnsg_pkt *pkt)
{
	switch (pkt->proto) {
	case 6:
		if ((void *)(p + XNSG_TCP_HLEN) > data_end || l3_left < XNSG_TCP_HLEN ||
		    (p[12] >> 4) < 5)
			return XNSG_R_TRUNC_L4;
		pkt->sport = xnsg_get16(p);
		pkt->dport = xnsg_get16(p + 2);
		pkt->tcp_flags = p[13];
		return 0;
	case 17:
		if ((void *)(p + XNSG_UDP_HLEN) > data_end || l3_left < XNSG_UDP_HLEN)
			return XNSG_R_TRUNC_L4;
		pkt->sport = xnsg_get16(p);
		pkt->dport = xnsg_get16(p + 2);
		return 0;
	case 1:
	case 58:
		if ((void *)(p + XNSG_ICMP_HLEN) > data_end || l3_left < XNSG_ICMP_HLEN)
			return XNSG_R_TRUNC_L4;
		pkt->icmp_type = p[0];
		pkt->icmp_code = p[1];
		return 0;
	default:
		return 0;
	}
}

static __always_inline int xnsg_parse_ip4(void *data, __u8 *ip, void *data_end,
					  struct xnsg_pkt *pkt)
{
	__u32 hlen, tot;
	__u16 frag;

	if ((void *)(ip + XNSG_IP4_HLEN) > data_end)
		return XNSG_R_TRUNC_IP4;
	if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
		return XNSG_R_BAD_IP4;
	hlen = (ip[0] & 0xf) * 4;
	tot = xnsg_get16(ip + 2);
	if (tot < hlen)
		return XNSG_R_BAD_IP4;
	if ((void *)(ip + hlen) > data_end)
		return XNSG_R_TRUNC_IP4;

	pkt->family = 4;
	pkt->len = tot;
	pkt->proto = ip[9];
	pkt->frag_proto = ip[9];
	__builtin_memcpy(pkt->saddr, XNSG_IP_WORDS(ip + 12), 4);
	__builtin_memcpy(pkt->daddr, XNSG_IP_WORDS(ip + 16), 4);
	pkt->l4_off = (__u32)((void *)ip - data) + hlen;

	frag = xnsg_get16(ip + 6);
	if (frag & 0x3fff) { /* MF or an offset */
		pkt->frag_id = xnsg_get16(ip + 4);
		if (frag & 0x1fff) {
			pkt->frag = XNSG_FRAG_LATER;
			return 0;
		}
		pkt->frag = XNSG_FRAG_FIRST;
	}
	return xnsg_parse_l4(ip + hlen, data_end, tot - hlen, pkt);
}

/* IPv6 length: 40 + payload length, or for a jumbogram (payload length
 * 0, RFC 2675) the bytes present. */
static __always_inline __u32 xnsg_ip6_len(const __u8 *ip, void *data_end)
{
	__u32 plen = xnsg_get16(ip + 4);

	return plen ? XNSG_IP6_HLEN + plen : (__u32)(data_end - (void *)ip);
}

static __always_inline int xnsg_parse_ip6(void *data, __u8 *ip, void *data_end,
					  struct xnsg_pkt *pkt)
{
	__u32 plen, off = 0, i;
	__u8 *base = ip + XNSG_IP6_HLEN, *p = base, nh;

	if ((void *)base > data_end || (ip[0] >> 4) != 6)
		return XNSG_R_TRUNC_IP6;
	pkt->family = 6;
	__builtin_memcpy(pkt->saddr, XNSG_IP_WORDS(ip + 8), 16);
	__builtin_memcpy(pkt->daddr, XNSG_IP_WORDS(ip + 24), 16);

	/*
	 * The walk keeps one offset from the end of the fixed header and
	 * rebuilds the pointer from it each round; xnsg_widen() then makes
	 * the verifier forget which mix of headers led there, so it prunes
	 * each round once instead of following every combination (5^8).  For
	 * that, no branch may be decided by the offset's range: the depth cap
	 * is skipped in the first round, where it cannot trigger anyway.
	 */
	nh = ip[6];
#pragma unroll
	for (i = 0; i < XNSG_MAX_EXTHDRS; i++) {
		__u32 hlen;

		if (!xnsg_ip6_ext(nh))
			goto l4;
		p = base + off;
		if ((void *)(p + XNSG_EXT_MIN) > data_end)
			return XNSG_R_TRUNC_EXTHDR;
		if (nh == 44) {
			__u16 fo = xnsg_get16(p + 2);

			pkt->frag_proto = p[0];
			pkt->frag_id = (__u32)xnsg_get16(p + 4) << 16 | xnsg_get16(p + 6);
			if (fo & 0xfff8) {
				/* A later fragment: what follows is payload. */
				pkt->frag = XNSG_FRAG_LATER;
				pkt->len = xnsg_ip6_len(ip, data_end);
				pkt->proto = p[0];
				pkt->l4_off = (__u32)((void *)(p + 8) - data);
				return 0;
			}
			if (fo & 1)
				pkt->frag = XNSG_FRAG_FIRST;
			/* else an atomic fragment (RFC 6946): a whole packet */
			hlen = 8;
		} else if (nh == 51) {
			if (p[0] == 59)
				goto l4; /* AH protecting nothing: AH is the protocol */
			hlen = ((__u32)p[1] + 2) * 4;
		} else {
			hlen = ((__u32)p[1] + 1) * 8;
		}
		if ((void *)(p + hlen) > data_end)
			return XNSG_R_TRUNC_EXTHDR;
		nh = p[0];
		off += hlen;
		if (i > 0 && off > XNSG_EXT_BYTES_MAX)
			return XNSG_R_EXTHDR_DEPTH;
		xnsg_widen(&off);
	}
	if (xnsg_ip6_ext(nh))
		return XNSG_R_EXTHDR_DEPTH;
l4:
	/* Read only now: a branch on it before the walk would double the walk. */
	plen = xnsg_get16(ip + 4);
	pkt->len = xnsg_ip6_len(ip, data_end);
	if (plen && off > plen)
		return XNSG_R_TRUNC_EXTHDR;

	p = base + off;
	pkt->proto = nh;
	pkt->l4_off = (__u32)((void *)p - data);
	return xnsg_parse_l4(p, data_end, plen ? plen - off : XNSG_L4_OFF_MAX, pkt);
}

/*
 * Parse the frame [data, data_end) into pkt.  Returns 0 (classify),
 * XNSG_PARSE_PASS (pass unfiltered) or an enum xnsg_reason (drop).
 */
static __always_inline int xnsg_parse(void *data, void *data_end, struct xnsg_pkt *pkt)
{
	__u32 v0, v1, off;
	__u16 proto;
	__u8 *p;
	int rc;

	__builtin_memset(pkt, 0, sizeof(*pkt));
	if (data + XNSG_ETH_HLEN > data_end)
		return XNSG_R_TRUNC_L2;
	/*
	 * Up to XNSG_MAX_VLANS (2) tags, counted without a branch: the
	 * verifier then walks the IP parsers once for 0, 1 or 2 tags, not
	 * three times.  A frame without a tag reads its ethertype three times.
	 */
	v0 = xnsg_is_vlan(xnsg_get16(data + 12));
	p = data + 12 + v0 * XNSG_VLAN_HLEN;
	if ((void *)(p + 2) > data_end)
		return XNSG_R_TRUNC_L2;
	v1 = xnsg_is_vlan(xnsg_get16(p));
	off = 12 + (v0 + v1) * XNSG_VLAN_HLEN;
	p = data + off;
	if ((void *)(p + 2) > data_end)
		return XNSG_R_TRUNC_L2;
	proto = xnsg_get16(p);
	if (xnsg_is_vlan(proto))
		return XNSG_R_VLAN_DEPTH;
	pkt->nvlans = v0 + v1;
	p += 2;
	pkt->eth_proto = proto;
	pkt->l3_off = (__u32)((void *)p - data);

	if (proto == XNSG_ETH_P_IP)
		return xnsg_parse_ip4(data, p, data_end, pkt);
	if (proto != XNSG_ETH_P_IPV6)
		return XNSG_PARSE_PASS; /* ARP, LLDP and every other non-IP frame */
	rc = xnsg_parse_ip6(data, p, data_end, pkt);
	if (rc == 0 && pkt->proto == 58 && pkt->frag == XNSG_FRAG_NONE &&
	    pkt->icmp_type >= 133 && pkt->icmp_type <= 137)
		return XNSG_PARSE_PASS; /* router/neighbour discovery, redirect */
	return rc;
}

#endif /* XNSG_PARSE_H */
