/* SPDX-License-Identifier: MIT */
/*
 * The flow-log record: one model carried from the ring-buffer decoder and
 * the flow-table sweep to every output (JSON lines, Azure flow logs,
 * IPFIX).  Data flows one way: kernel -> ring buffer / flow table ->
 * struct flowlog_record -> exporters (flowlog.h).  No output reaches back.
 *
 * The record is plain, fixed-size data (names are arrays, not pointers) so
 * the decoder fills one on the stack, an exporter may copy it into a
 * buffer (the Azure exporter keeps a minute of them), and nothing needs
 * freeing.
 *
 * Orientation.  src/dst are the flow's initiator and responder for B, C
 * and E records (the first packet's sender is src), and the denied
 * packet's sender and receiver for D records.  "s2d" counts go
 * src -> dst, "d2s" counts dst -> src.  All counts are deltas since this
 * flow's previous record (Azure's rule), so a flow's totals are the sum
 * of its records; B records carry none.
 *
 * Which NSG a record names (Azure's rule, docs/DESIGN.md §4): a denied flow is
 * logged by the NSG that denied it; an allowed flow by the last NSG that
 * allowed it (Inbound: the NIC's NSG when it has one, else the subnet's;
 * Outbound: the subnet's when it has one, else the NIC's).  The decoder
 * picks that level's NSG and rule; exporters take nsg/rule as given.
 */
#ifndef XNSG_FLOWLOG_RECORD_H
#define XNSG_FLOWLOG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h" /* struct xnsg_addr, enum xnsg_dir */

/* Azure limits NSG names to 80 characters and rule names to 80; flow logs
 * truncate longer ones, so a fixed array loses nothing Azure keeps. */
#define FLOWLOG_NAME_MAX 80
/* IFNAMSIZ, without pulling <net/if.h> into every user of the model. */
#define FLOWLOG_IFNAME_MAX 16

/* B/C/E/D: the letters Azure's flow logs use (D only in VNet flow logs). */
enum flowlog_state {
	FLOWLOG_BEGIN = 0, /* B: an allowed flow was created; no counts */
	FLOWLOG_CONT,      /* C: a live flow's counts since its previous record */
	FLOWLOG_END,       /* E: the flow ended; its last counts */
	FLOWLOG_DENY,      /* D: denied packets of one 5-tuple, aggregated */
	FLOWLOG_STATES
};

enum flowlog_decision { FLOWLOG_ALLOW = 0, FLOWLOG_DENIED = 1 };

/* Why an E record ended its flow.  NONE on B, C and D records. */
enum flowlog_end_reason {
	FLOWLOG_END_NONE = 0,
	FLOWLOG_END_FIN,        /* TCP: FIN seen both ways */
	FLOWLOG_END_RST,        /* TCP: RST */
	FLOWLOG_END_TIMEOUT,    /* idle past its timeout, reclaimed by the sweep */
	FLOWLOG_END_EVICTED,    /* vanished from the flow table between sweeps
				   (LRU eviction); counts are the last known */
	FLOWLOG_END_POLICY_CUT, /* cut by a policy change (flushConnection,
				   apply --reset-flows) */
	FLOWLOG_END_REASONS
};

struct flowlog_record {
	uint64_t time_ns;  /* wall clock (CLOCK_REALTIME ns) of the event: the
			      first packet (B), the sweep (C, E by timeout or
			      eviction), the closing packet (E by FIN/RST),
			      the latest denied packet (D) */
	uint64_t start_ns; /* wall clock of the flow's first packet (D: of the
			      first denied packet this record aggregates) */
	uint64_t pkts_s2d, bytes_s2d; /* deltas, src -> dst (D: the denied ones) */
	uint64_t pkts_d2s, bytes_d2s; /* deltas, dst -> src (D: zero) */
	uint32_t ifindex;
	uint32_t suppressed; /* D: deny records the datapath's rate limit
				dropped since the previous D record it let
				through (so they are counted, never silent) */
	struct xnsg_addr src, dst; /* same family */
	uint16_t sport, dport;     /* host order; 0 for protocols without ports
				      (ICMP queries: the identifier in both) */
	uint8_t proto;             /* IANA protocol number (6, 17, 1, 58, ...) */
	uint8_t dir;               /* enum xnsg_dir: the workload's direction */
	uint8_t decision;          /* enum flowlog_decision */
	uint8_t state;             /* enum flowlog_state */
	uint8_t end_reason;        /* enum flowlog_end_reason */
	bool default_rule;         /* rule is one of the six default rules */
	uint8_t mac[6];            /* the interface's MAC (Azure files are per MAC) */
	char ifname[FLOWLOG_IFNAME_MAX];
	char nsg[FLOWLOG_NAME_MAX + 1];  /* "" only if no NSG decided (never logged to Azure) */
	char rule[FLOWLOG_NAME_MAX + 1]; /* Azure spelling: "AllowVnetInBound", a user rule's name */
};

/* "B", "C", "E", "D"; "?" for a value out of range. */
char flowlog_state_char(unsigned int state);
/* "none", "fin", "rst", "timeout", "evicted", "policy-cut". */
const char *flowlog_end_reason_name(unsigned int reason);
/* Is name one of the six default rules (Azure spelling, exact case)? */
bool flowlog_is_default_rule(const char *name);
/* Bounded copy that always terminates (names longer than the field are
 * cut, as Azure cuts them). */
void flowlog_set_name(char *dst, size_t size, const char *src);

#endif
