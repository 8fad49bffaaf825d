/* SPDX-License-Identifier: MIT */
/*
 * Frames built byte by byte, the one builder of xnsg: the packet that
 * verify --datapath crafts for a flow (packet_for_flow), the rows of the
 * BPF tests' packet tables (tests/lib/pkt.h wraps this with address
 * strings) and the benchmark's probe and generator frames.
 *
 * A frame is built in a buffer its caller owns: start it (frame_ip,
 * frame_eth, frame_arp, frame_lldp), add the L4 header (frame_tcp,
 * frame_udp, frame_icmp, then frame_quote for an ICMP error), then
 * reshape it - VLAN tags, IPv4 options, IPv6 extension headers,
 * fragments, payload - and frame_trunc() cuts it short.
 *
 *   uint8_t buf[256];
 *   struct frame f;
 *
 *   frame_init(&f, buf, sizeof(buf));
 *   frame_ip(&f, &src, &dst, IPPROTO_TCP);
 *   frame_tcp(&f, 40000, 80, FRAME_TCP_SYN, 1, 0);
 *   frame_ip6_ext(&f, IPPROTO_DSTOPTS, 16);   // inserted before TCP
 *   frame_vlan(&f, 0x8100, 10);
 *   if (f.err) ...                             // else f.len bytes in buf
 *
 * The builders keep the frame consistent: IPv4 total length and header
 * checksum, IPv6 payload length, the next-header chain.  frame_trunc()
 * and direct pokes at buf do not (that is their point); frame_ip4_csum()
 * redoes the IPv4 checksum after a poke.  The L4 builders do not touch
 * the IP header's protocol field: frame_ip() names it, so a frame can say
 * one protocol and carry another.  L4 checksums are left zero: the
 * datapath never reads them.  MAC addresses are 02:00:00:00:00:01 to
 * 02:00:00:00:00:02 unless frame_dst_mac() says otherwise.
 *
 * Errors stick, as in a stdio stream: the first one is kept in err
 * (-ENOSPC: the buffer is full; -EINVAL: a request this frame cannot
 * take) with a reason in why, and every later call does nothing.  Every
 * call returns err.  No call allocates or makes a system call.
 */
#ifndef XNSG_FRAME_H
#define XNSG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* TCP flags (the datapath's TCP_* in bpf/conntrack.h) */
enum {
	FRAME_TCP_FIN = 0x01,
	FRAME_TCP_SYN = 0x02,
	FRAME_TCP_RST = 0x04,
	FRAME_TCP_PSH = 0x08,
	FRAME_TCP_ACK = 0x10,
};

struct frame {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t l3;       /* IP header (after VLAN tags); 14 for non-IP frames */
	size_t l4;       /* L4 header: after IPv4 options / the IPv6 extension chain */
	size_t nh;       /* the byte naming the L4 protocol: IPv4 protocol field or
			  * the last next-header field of the IPv6 chain */
	uint8_t family;  /* XNSG_V4, XNSG_V6, or 0 for a non-IP frame */
	int err;         /* 0 or the first -errno */
	const char *why; /* what err refused, for a message */
};

/* An empty frame in buf[0..cap). */
void frame_init(struct frame *f, void *buf, size_t cap);

/* ---- starts: each discards what the frame held ---------------------- */

/* Ethernet + IPv4 or IPv6 (src's family; dst's must match), protocol
 * `proto`, TTL / hop limit 64, IPv4 identification 1. */
int frame_ip(struct frame *f, const struct xnsg_addr *src, const struct xnsg_addr *dst,
	     uint8_t proto);
/* A non-IP frame: the Ethernet header alone. */
int frame_eth(struct frame *f, uint16_t ethertype);
/* A broadcast ARP request from IPv4 address spa for tpa. */
int frame_arp(struct frame *f, const struct xnsg_addr *spa, const struct xnsg_addr *tpa);
/* An LLDP frame with chassis ID, port ID "eth0", TTL and end TLVs. */
int frame_lldp(struct frame *f);

/* ---- L4 headers, appended after the IP header ----------------------- */

int frame_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
	      uint32_t ack);
/* The length field covers the header; frame_payload() grows it. */
int frame_udp(struct frame *f, uint16_t sport, uint16_t dport);
/* 8 bytes: type, code, checksum 0, then `rest`, the second word: id and
 * sequence of an echo, the MTU of "fragmentation needed" / "packet too
 * big", zero for other errors. */
int frame_icmp(struct frame *f, uint8_t type, uint8_t code, uint32_t rest);
/* What an ICMP error quotes, as routers do: `inner` (of the same family)
 * from its IP header through 8 bytes of its L4 header. */
int frame_quote(struct frame *f, const struct frame *inner);

/* ---- modifiers ------------------------------------------------------ */

/* Append n bytes of `fill` at the end; a UDP header's length covers them. */
int frame_payload(struct frame *f, size_t n, uint8_t fill);
/* Push a VLAN tag (tpid 0x8100 or 0x88a8) outside any existing one. */
int frame_vlan(struct frame *f, uint16_t tpid, uint16_t vid);
/* Add n bytes (a multiple of 4, total options <= 40) of IPv4 options:
 * NOPs ended by End of Options. */
int frame_ip4_opts(struct frame *f, size_t n);
/*
 * Insert an IPv6 extension header at the end of the chain, just before
 * the L4 header: hop-by-hop (0), routing (43), destination options (60)
 * of `size` bytes (a multiple of 8, 8..2048), or AH (51) of `size` bytes
 * (a multiple of 4, 12..1028).  The chain's last next header names it;
 * it names the L4 protocol.
 */
int frame_ip6_ext(struct frame *f, uint8_t type, size_t size);
/* Make the packet a fragment: fragment offset `off8` (8-byte units),
 * more-fragments `more`, identification `id`.  IPv4 sets its header
 * fields (id truncated to 16 bits); IPv6 inserts a fragment header at the
 * end of the chain.  The bytes after it are left as they were: for a
 * later fragment they are payload the datapath must not read as ports. */
int frame_ip4_frag(struct frame *f, uint32_t id, uint16_t off8, int more);
int frame_ip6_frag(struct frame *f, uint32_t id, uint16_t off8, int more);
/* Cut the frame to n bytes (no length field changes). */
int frame_trunc(struct frame *f, size_t n);
/* Recompute the IPv4 header checksum after poking at the header. */
int frame_ip4_csum(struct frame *f);
/* Replace the destination MAC address. */
int frame_dst_mac(struct frame *f, const uint8_t mac[6]);

/*
 * The frame verify --datapath runs for a flow: Ethernet + IPv4/IPv6 +
 * TCP SYN / UDP with 8 zero bytes / ICMP or ICMPv6 echo request (for
 * protocol 1 or 58) / 8 zero bytes of any other protocol, addresses and
 * ports as the packet sees them.  Returns its length, 0 if cap is too
 * small or the families differ.
 */
size_t packet_for_flow(uint8_t *buf, size_t cap, uint8_t ipproto,
		       const struct xnsg_addr *src, uint16_t sport,
		       const struct xnsg_addr *dst, uint16_t dport);

#endif /* XNSG_FRAME_H */
