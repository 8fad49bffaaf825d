/* SPDX-License-Identifier: MIT */
/*
 * Azure flow-log files, so tools built for Azure (Traffic Analytics
 * parsers, Splunk/Elastic/Sentinel inputs) read xnsg's logs unchanged.
 * Shapes from Microsoft's vnet-flow-logs-overview and nsg-flow-logs-overview
 * pages.
 *
 * VNet flow logs (flowLogVersion 4, the default), one blob per MAC:
 *   DIR/flowLogResourceID=/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/NETWORKWATCHERRG/
 *     PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_{REGION}/
 *     FLOWLOGS/{NAME}/y=YYYY/m=MM/d=DD/h=HH/m=00/macAddress={MAC}/PT1H.json
 *   {"records":[{"time":..,"flowLogVersion":4,"flowLogGUID":..,"macAddress":..,
 *     "category":"FlowLogFlowEvent","flowLogResourceID":..,"targetResourceID":..,
 *     "operationName":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":NSG,
 *     "flowGroups":[{"rule":RULE,"flowTuples":[TUPLE,..]}]}]}}, ..]}
 *   TUPLE: ts_ms,src,dst,sport,dport,PROTO,I|O,B|C|E|D,NX,pkts_s2d,bytes_s2d,pkts_d2s,bytes_d2s
 *   B tuples carry 0,0,0,0 (as Azure's sample); D tuples carry the denied
 *   packets and bytes src -> dst.  aclID is the NSG's name (Azure puts
 *   the NSG's GUID there, which a policy file does not have).
 *
 * NSG flow logs version 2 (`nsg-v2`), one blob per NSG and MAC:
 *   DIR/resourceId=/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/{RG}/PROVIDERS/
 *     MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/{NSG}/y=YYYY/m=MM/d=DD/h=HH/
 *     m=00/macAddress={MAC}/PT1H.json
 *   {"records":[{"time":..,"systemId":..,"macAddress":..,
 *     "category":"NetworkSecurityGroupFlowEvent","resourceId":..,
 *     "operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":2,
 *     "flows":[{"rule":RULE,"flows":[{"mac":MAC,"flowTuples":[TUPLE,..]}]}]}}, ..]}
 *   TUPLE: ts_s,src,dst,sport,dport,T|U,I|O,A|D,B|C|E,pkts_s2d,bytes_s2d,pkts_d2s,bytes_d2s
 *   B tuples carry empty counters (",,,,").  Denied flows are A|D = D with
 *   state B and empty counters, as Azure writes them (v2 has no D state),
 *   so v2 does not carry deny counts.  v2 knows only TCP and UDP: other
 *   records are skipped (counted in stats.skipped).
 *
 * Both: RULE is UserRule_NAME or DefaultRule_NAME; DIR stands for the
 * storage container (insights-logs-flowlogflowevent, or
 * insights-logs-networksecuritygroupflowevent); I|O is the workload's
 * direction; each flush appends one record (Azure writes one a minute)
 * to every blob that has tuples, stamped with the flush time; the blob is
 * chosen by the flush time's UTC hour, so the first flush in a new hour
 * starts a new file.  Every PT1H.json is a complete JSON document at all
 * times: a flush writes PT1H.json.tmp (the old document, its closing
 * "]}" replaced by the new record) and renames it over PT1H.json.
 * Records without an NSG are skipped (nothing decided them).
 */
#ifndef XNSG_FLOWLOG_AZURE_H
#define XNSG_FLOWLOG_AZURE_H

#include <stddef.h>
#include <stdint.h>

#include "flowlog.h"
#include "strbuf.h"

enum flowlog_azure_format {
	FLOWLOG_AZURE_VNET_V4 = 0, /* "vnet-v4" (default) */
	FLOWLOG_AZURE_NSG_V2,      /* "nsg-v2" */
};

/* "vnet-v4" / "v4" / "nsg-v2" / "v2": 0 or -EINVAL. */
int flowlog_azure_parse_format(const char *s, enum flowlog_azure_format *f);

/* The Azure identities the files name.  xnsg runs outside Azure, so these
 * are labels for the tools that read the files; NULL takes the default. */
struct flowlog_azure_ident {
	const char *subscription;   /* "00000000-0000-0000-0000-000000000000" */
	const char *resource_group; /* v2 resourceId, v4 targetResourceID: "xnsg" */
	const char *region;         /* v4 NETWORKWATCHER_{REGION}: "local" */
	const char *flowlog_name;   /* v4 FLOWLOGS/{NAME}: "xnsg" */
	const char *vnet;           /* v4 targetResourceID: "xnsg" */
	const char *guid;           /* v4 flowLogGUID, v2 systemId: the zero GUID */
};

struct flowlog_azure_opts {
	const char *dir; /* created if missing */
	enum flowlog_azure_format format;
	struct flowlog_azure_ident id;
	struct flowlog_clock clock;
	size_t max_pending; /* flush by itself past this many records; 0: 65536 */
};

/* Can format f carry r?  0, or -EPROTONOSUPPORT (v2: not TCP/UDP),
 * -ENOENT (no NSG). */
int flowlog_azure_accepts(enum flowlog_azure_format f, const struct flowlog_record *r);
/* Append r's tuple (the string's contents, without quotes) to b. */
int flowlog_azure_tuple(struct strbuf *b, enum flowlog_azure_format f,
			const struct flowlog_record *r);
/* Append "UserRule_NAME" or "DefaultRule_NAME". */
void flowlog_azure_rule(struct strbuf *b, const struct flowlog_record *r);
/* Append the blob path of r at time now_ns, relative to dir. */
int flowlog_azure_blob_path(struct strbuf *b, const struct flowlog_azure_opts *o,
			    const struct flowlog_record *r, uint64_t now_ns);
/* Append one record (one flush's tuples for one blob) stamped now_ns.
 * recs all belong to one blob and are ordered by NSG then rule (v4) or
 * by rule (v2); each run of equal names becomes one group. */
int flowlog_azure_record(struct strbuf *b, const struct flowlog_azure_opts *o, uint64_t now_ns,
			 const struct flowlog_record *const *recs, size_t n);
/* Append record text rec to the PT1H.json at path, creating it and its
 * directories; atomic (tmp + rename).  0 or -errno. */
int flowlog_azure_append(const char *path, const char *rec, size_t len);
/* mkdir -p dir: 0 or -errno. */
int flowlog_azure_make_dirs(const char *dir);

#endif
