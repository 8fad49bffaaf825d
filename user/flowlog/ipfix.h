/* SPDX-License-Identifier: MIT */
/*
 * IPFIX (RFC 7011) over UDP: a small encoder of our two fixed templates
 * and an exporter that sends them (why not libfixbuf: see ipfix.c).
 *
 * Template 256 (IPv4) and 257 (IPv6), one data record per flow record,
 * in this order (IE number, length; "R" = RFC 5103 reverse element,
 * enterprise 29305; "E" = enterprise-specific, opts.pen):
 *	sourceIPv4Address 8 (4) | sourceIPv6Address 27 (16)
 *	destinationIPv4Address 12 (4) | destinationIPv6Address 28 (16)
 *	sourceTransportPort 7 (2), destinationTransportPort 11 (2)
 *	protocolIdentifier 4 (1)
 *	packetDeltaCount 2 (8), octetDeltaCount 1 (8)          src -> dst
 *	R packetDeltaCount 2 (8), R octetDeltaCount 1 (8)      dst -> src
 *	flowStartMilliseconds 152 (8), flowEndMilliseconds 153 (8)
 *	flowEndReason 136 (1), ingressInterface 10 (4)
 *	flowDirection 61 (1)      0 ingress = workload Inbound, 1 egress = Outbound
 *	forwardingStatus 89 (1)   64 Forwarded (allow), 129 Dropped: ACL deny (deny)
 *	firewallEvent 233 (1)     1 created (B), 5 updated (C), 2 deleted (E), 3 denied (D)
 *	E ruleName 1 (variable)   "NSG/RULE", UTF-8, RFC 7011 §7 length prefix
 *
 * flowEndReason: E records map fin/rst to 3 (end of flow detected),
 * timeout to 1 (idle timeout), evicted to 5 (lack of resources),
 * policy-cut to 4 (forced end); B and C records, still alive, to 2
 * (active timeout: a periodic report); D records to 4 (forced end).
 * flowEnd is the record's time, flowStart the flow's first packet.
 */
#ifndef XNSG_FLOWLOG_IPFIX_H
#define XNSG_FLOWLOG_IPFIX_H

#include <stddef.h>
#include <stdint.h>

#include "flowlog.h"

#define FLOWLOG_IPFIX_VERSION 10
#define FLOWLOG_IPFIX_HDR_LEN 16
#define FLOWLOG_IPFIX_SET_TEMPLATE 2
#define FLOWLOG_IPFIX_TPL_V4 256
#define FLOWLOG_IPFIX_TPL_V6 257
#define FLOWLOG_IPFIX_PEN_REVERSE 29305 /* RFC 5103 reverse information elements */
/* RFC 5612's enterprise number for documentation: xnsg has no PEN of its
 * own, so the rule element lives here until one is registered (set
 * opts.pen to yours; collectors are told the same number). */
#define FLOWLOG_IPFIX_PEN_DEFAULT 32473
#define FLOWLOG_IPFIX_IE_RULE 1 /* ruleName under opts.pen: string */

/* IANA information element numbers used here. */
enum flowlog_ipfix_ie {
	IPFIX_IE_OCTET_DELTA = 1,
	IPFIX_IE_PACKET_DELTA = 2,
	IPFIX_IE_PROTOCOL = 4,
	IPFIX_IE_SRC_PORT = 7,
	IPFIX_IE_SRC_IPV4 = 8,
	IPFIX_IE_INGRESS_IF = 10,
	IPFIX_IE_DST_PORT = 11,
	IPFIX_IE_DST_IPV4 = 12,
	IPFIX_IE_SRC_IPV6 = 27,
	IPFIX_IE_DST_IPV6 = 28,
	IPFIX_IE_FLOW_DIRECTION = 61,
	IPFIX_IE_FORWARDING_STATUS = 89,
	IPFIX_IE_FLOW_END_REASON = 136,
	IPFIX_IE_FLOW_START_MS = 152,
	IPFIX_IE_FLOW_END_MS = 153,
	IPFIX_IE_FIREWALL_EVENT = 233,
};

#define IPFIX_FWD_FORWARDED 64 /* forwardingStatus: Forwarded, unknown reason */
#define IPFIX_FWD_ACL_DENY 129 /* forwardingStatus: Dropped, ACL deny */
#define IPFIX_VARLEN 0xffff    /* a template's field length: variable */

/* A message being built in a caller's buffer. */
struct flowlog_ipfix_msg {
	uint8_t *buf;
	size_t cap, len;
	size_t set_off;    /* the open set's header, 0 if none */
	uint16_t set_id;
	uint32_t records;  /* data records in the message */
	bool templates;    /* the message carries the template set */
};

/* Start a message (its header is written by finish). */
void flowlog_ipfix_msg_init(struct flowlog_ipfix_msg *m, uint8_t *buf, size_t cap);
/* Add the template set (both templates): 0 or -ENOSPC. */
int flowlog_ipfix_msg_add_templates(struct flowlog_ipfix_msg *m, uint32_t pen);
/* Add r as a data record: 0, or -ENOSPC with the message unchanged. */
int flowlog_ipfix_msg_add_record(struct flowlog_ipfix_msg *m, const struct flowlog_record *r);
/* Close the open set and write the header; returns the message length.
 * seq: data records sent before this message in the stream (RFC 7011
 * §3.1: templates do not count), export_s: seconds since the epoch. */
size_t flowlog_ipfix_msg_finish(struct flowlog_ipfix_msg *m, uint32_t export_s, uint32_t seq,
				uint32_t odid);
/* r's flowEndReason / firewallEvent values (see above). */
uint8_t flowlog_ipfix_end_reason(const struct flowlog_record *r);
uint8_t flowlog_ipfix_firewall_event(const struct flowlog_record *r);

struct flowlog_ipfix_opts {
	const char *target;               /* "HOST:PORT" or "[IPV6]:PORT" */
	uint32_t odid;                    /* Observation Domain ID; 0: 1 */
	uint32_t pen;                     /* the rule element's enterprise; 0: default */
	unsigned int template_interval_s; /* re-send templates (RFC 7011 §8.4); 0: 60 */
	size_t max_message;               /* bytes; 0: the path MTU's room (else 512) */
	struct flowlog_clock clock;
	/* Where a failed open says why when errno cannot ("Name or service
	 * not known": errno is EHOSTUNREACH then); NULL: nowhere. */
	char *why;
	size_t why_len;
};

/* Split "HOST:PORT" / "[V6]:PORT": 0 or -EINVAL. */
int flowlog_ipfix_parse_target(const char *s, char *host, size_t hlen, char *port, size_t plen);

#endif
