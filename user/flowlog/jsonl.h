/* SPDX-License-Identifier: MIT */
/*
 * JSON lines: one object a record, one record a line, for Fluent Bit,
 * Vector, Logstash and jq.  Keys always appear, always in this order, so
 * a line can be compared byte for byte and parsed by position:
 *
 *	{"time":"2026-12-02T10:00:00.123Z","interface":"eth0","ifindex":2,
 *	 "mac":"00:22:48:71:c2:05","nsg":"web-nsg","rule":"AllowHttp",
 *	 "default_rule":false,"direction":"in","decision":"allow","state":"B",
 *	 "proto":6,"src":"198.51.100.7","sport":40000,"dst":"10.1.1.4",
 *	 "dport":80,"pkts_s2d":0,"bytes_s2d":0,"pkts_d2s":0,"bytes_d2s":0,
 *	 "start":"2026-12-02T10:00:00.123Z","end_reason":null,"suppressed":0}
 *
 * (one line in the output).  time and start are RFC 3339 UTC with
 * milliseconds; nsg and rule are null when empty; end_reason is null
 * except on E records.
 */
#ifndef XNSG_FLOWLOG_JSONL_H
#define XNSG_FLOWLOG_JSONL_H

#include "flowlog.h"
#include "strbuf.h"

/* Append r's line (with its '\n') to b: 0 or -ENOMEM. */
int flowlog_jsonl_format(struct strbuf *b, const struct flowlog_record *r);

#endif
