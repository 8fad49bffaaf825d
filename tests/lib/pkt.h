/* SPDX-License-Identifier: MIT */
/*
 * A small packet builder for the BPF tests, in the manner of the kernel
 * selftests' and katran's fixtures: one call builds a well-formed frame
 * (Ethernet + IPv4/IPv6 + TCP/UDP/ICMP), then modifiers reshape it - VLAN
 * tags, IPv4 options, IPv6 extension headers, fragments, payload - and
 * pkt_trunc() cuts it short.  Hand p.buf and p.len to BPF_PROG_TEST_RUN.
 *
 *   struct pkt p;
 *   pkt_tcp6(&p, "2001:db8::1", "2001:db8::2", 40000, 80, TH_SYN);
 *   pkt_ip6_ext(&p, IPPROTO_DSTOPTS, 16);   // inserted before TCP
 *   pkt_vlan(&p, 0x8100, 10);
 *
 * Modifiers keep the frame consistent: IPv4 total length and header
 * checksum, IPv6 payload length, the next-header chain.  pkt_trunc() and
 * direct pokes at p.buf do not (that is their point); pkt_ip4_csum()
 * redoes the IPv4 checksum after a poke.  L4 checksums are left zero: the
 * datapath never reads them.  Addresses are strings ("192.0.2.1",
 * "2001:db8::1"); a malformed one or an overflow aborts the test program.
 */
#ifndef XNSG_TEST_PKT_H
#define XNSG_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_CAP 3072 /* BPF_PROG_TEST_RUN takes at most about a page */

/* TCP flags (the datapath's TCP_* in bpf/conntrack.h) */
#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10

struct pkt {
	uint8_t buf[PKT_CAP];
	size_t len;
	size_t l3;      /* IP header (after VLAN tags); 14 for non-IP frames */
	size_t l4;      /* L4 header: after IPv4 options / the IPv6 extension chain */
	size_t nh;      /* the byte naming the L4 protocol: IPv4 protocol field or
			 * the last next-header field of the IPv6 chain */
	uint8_t family; /* 4, 6, or 0 for a non-IP frame */
};

/* ---- frames --------------------------------------------------------- */

size_t pkt_tcp4(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport, uint8_t flags);
size_t pkt_udp4(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport);
/* An ICMP header of 8 bytes: type, code, checksum, id, sequence 1. */
size_t pkt_icmp4(struct pkt *p, const char *src, const char *dst, uint8_t type, uint8_t code,
		 uint16_t id);
/* IPv4 carrying `paylen` zero bytes of protocol `proto` (ESP, AH, GRE...). */
size_t pkt_ip4(struct pkt *p, const char *src, const char *dst, uint8_t proto, size_t paylen);

size_t pkt_tcp6(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport, uint8_t flags);
size_t pkt_udp6(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		uint16_t dport);
size_t pkt_icmp6(struct pkt *p, const char *src, const char *dst, uint8_t type, uint8_t code,
		 uint16_t id);
size_t pkt_ip6(struct pkt *p, const char *src, const char *dst, uint8_t proto, size_t paylen);

/*
 * ICMP errors quoting `inner` (another built packet) from its IP header
 * through 8 bytes of its L4 header, as routers do.  `rest` is the second
 * word of the ICMP header: the next-hop MTU for IPv4 "fragmentation
 * needed" (type 3 code 4), the MTU for ICMPv6 "packet too big" (type 2).
 */
size_t pkt_icmp4_error(struct pkt *p, const char *src, const char *dst, uint8_t type,
		       uint8_t code, uint32_t rest, const struct pkt *inner);
size_t pkt_icmp6_error(struct pkt *p, const char *src, const char *dst, uint8_t type,
		       uint8_t code, uint32_t rest, const struct pkt *inner);

/* A non-IP frame: ethertype and `paylen` zero bytes. */
size_t pkt_eth(struct pkt *p, uint16_t ethertype, size_t paylen);
size_t pkt_arp(struct pkt *p);  /* an ARP request, 28 bytes */
size_t pkt_lldp(struct pkt *p); /* an LLDP frame with chassis, port, TTL, end TLVs */

/* ---- modifiers ------------------------------------------------------ */

/* Push a VLAN tag (tpid 0x8100 or 0x88a8) outside any existing one. */
size_t pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t vid);
/* Add `n` bytes (a multiple of 4, total options <= 40) of IPv4 options:
 * NOPs ended by End of Options. */
size_t pkt_ip4_opts(struct pkt *p, size_t n);
/* Append `n` bytes of payload (0xa5) after the L4 header. */
size_t pkt_payload(struct pkt *p, size_t n);
/*
 * Insert an IPv6 extension header at the end of the chain, just before
 * the L4 header: hop-by-hop (0), routing (43), destination options (60)
 * of `size` bytes (a multiple of 8, 8..2048), or AH (51) of `size` bytes
 * (a multiple of 4, 12..1028).  The chain's last next header names it;
 * it names the L4 protocol.
 */
size_t pkt_ip6_ext(struct pkt *p, uint8_t type, size_t size);
/* Make the packet a fragment: fragment offset `off8` (8-byte units),
 * more-fragments `more`, identification `id`.  IPv4 sets its header
 * fields (id truncated to 16 bits); IPv6 inserts a fragment header at the
 * end of the chain.  The bytes after it are left as they were: for a
 * later fragment they are payload the datapath must not read as ports. */
size_t pkt_ip4_frag(struct pkt *p, uint32_t id, uint16_t off8, int more);
size_t pkt_ip6_frag(struct pkt *p, uint32_t id, uint16_t off8, int more);
/* Cut the frame to n bytes (no length field changes). */
size_t pkt_trunc(struct pkt *p, size_t n);
/* Recompute the IPv4 header checksum after poking at the header. */
void pkt_ip4_csum(struct pkt *p);

#endif /* XNSG_TEST_PKT_H */
