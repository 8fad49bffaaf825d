// SPDX-License-Identifier: MIT
/*
 * Azure flow-log formatters (tuples, records, blob paths) and the file
 * appender that keeps every PT1H.json a valid document.  The exporter on
 * top of them is in azure_export.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "azure.h"

#define DOC_HEAD "{\"records\":[\n"
#define DOC_SEP ",\n"
#define DOC_TAIL "\n]}\n"

static const char zero_guid[] = "00000000-0000-0000-0000-000000000000";

int flowlog_azure_parse_format(const char *s, enum flowlog_azure_format *f)
{
	if (!strcmp(s, "vnet-v4") || !strcmp(s, "v4"))
		*f = FLOWLOG_AZURE_VNET_V4;
	else if (!strcmp(s, "nsg-v2") || !strcmp(s, "v2"))
		*f = FLOWLOG_AZURE_NSG_V2;
	else
		return -EINVAL;
	return 0;
}

static const char *or_default(const char *s, const char *def)
{
	return s && *s ? s : def;
}

int flowlog_azure_accepts(enum flowlog_azure_format f, const struct flowlog_record *r)
{
	if (!r->nsg[0])
		return -ENOENT;
	if (f == FLOWLOG_AZURE_NSG_V2 && r->proto != 6 && r->proto != 17)
		return -EPROTONOSUPPORT;
	return 0;
}

void flowlog_azure_rule(struct strbuf *b, const struct flowlog_record *r)
{
	sb_puts(b, r->default_rule ? "DefaultRule_" : "UserRule_");
	sb_puts(b, r->rule);
}

/* The part every tuple shares: src,dst,sport,dport, */
static void tuple_ends(struct strbuf *b, const struct flowlog_record *r)
{
	sb_putc(b, ',');
	sb_addr(b, &r->src);
	sb_putc(b, ',');
	sb_addr(b, &r->dst);
	sb_putc(b, ',');
	sb_u64(b, r->sport);
	sb_putc(b, ',');
	sb_u64(b, r->dport);
	sb_putc(b, ',');
}

static void tuple_counts(struct strbuf *b, const struct flowlog_record *r)
{
	sb_putc(b, ',');
	sb_u64(b, r->pkts_s2d);
	sb_putc(b, ',');
	sb_u64(b, r->bytes_s2d);
	sb_putc(b, ',');
	sb_u64(b, r->pkts_d2s);
	sb_putc(b, ',');
	sb_u64(b, r->bytes_d2s);
}

static void tuple_v2(struct strbuf *b, const struct flowlog_record *r)
{
	bool deny = r->decision == FLOWLOG_DENIED || r->state == FLOWLOG_DENY;
	bool begin = r->state == FLOWLOG_BEGIN || r->state == FLOWLOG_DENY;

	sb_u64(b, r->time_ns / 1000000000ull);
	tuple_ends(b, r);
	sb_putc(b, r->proto == 6 ? 'T' : 'U');
	sb_putc(b, ',');
	sb_putc(b, r->dir == XNSG_OUT ? 'O' : 'I');
	sb_putc(b, ',');
	sb_putc(b, deny ? 'D' : 'A');
	sb_putc(b, ',');
	/* v2 has no D state: Azure logs a denied flow as its begin. */
	sb_putc(b, begin ? 'B' : flowlog_state_char(r->state));
	if (begin)
		sb_puts(b, ",,,,");
	else
		tuple_counts(b, r);
}

static void tuple_v4(struct strbuf *b, const struct flowlog_record *r)
{
	sb_u64(b, r->time_ns / 1000000ull);
	tuple_ends(b, r);
	sb_u64(b, r->proto);
	sb_putc(b, ',');
	sb_putc(b, r->dir == XNSG_OUT ? 'O' : 'I');
	sb_putc(b, ',');
	sb_putc(b, flowlog_state_char(r->state));
	sb_puts(b, ",NX");
	if (r->state == FLOWLOG_BEGIN)
		sb_puts(b, ",0,0,0,0");
	else
		tuple_counts(b, r);
}

int flowlog_azure_tuple(struct strbuf *b, enum flowlog_azure_format f,
			const struct flowlog_record *r)
{
	if (f == FLOWLOG_AZURE_NSG_V2) {
		if (r->proto != 6 && r->proto != 17)
			return -EPROTONOSUPPORT;
		tuple_v2(b, r);
	} else {
		tuple_v4(b, r);
	}
	return b->err;
}

/* A path segment from a name: upper-cased as Azure writes resource IDs,
 * with anything that could leave the directory ('/', "..") made '_'. */
static void put_segment(struct strbuf *b, const char *s, bool upper)
{
	const char *c;

	if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) {
		sb_putc(b, '_');
		return;
	}
	for (c = s; *c; c++) {
		char ch = *c;

		if (ch == '/' || (unsigned char)ch < 0x20)
			ch = '_';
		else if (upper && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		sb_putc(b, ch);
	}
}

/* v2's resourceId: the NSG's ARM ID, upper-cased. */
static void nsg_resource_id(struct strbuf *b, const struct flowlog_azure_ident *id,
			    const char *nsg)
{
	sb_puts(b, "/SUBSCRIPTIONS/");
	put_segment(b, or_default(id->subscription, zero_guid), true);
	sb_puts(b, "/RESOURCEGROUPS/");
	put_segment(b, or_default(id->resource_group, "xnsg"), true);
	sb_puts(b, "/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/");
	put_segment(b, nsg, true);
}

/* v4's flowLogResourceID: the FlowLog resource under the Network Watcher. */
static void flowlog_resource_id(struct strbuf *b, const struct flowlog_azure_ident *id)
{
	sb_puts(b, "/SUBSCRIPTIONS/");
	put_segment(b, or_default(id->subscription, zero_guid), true);
	sb_puts(b, "/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/"
		   "NETWORKWATCHERS/NETWORKWATCHER_");
	put_segment(b, or_default(id->region, "local"), true);
	sb_puts(b, "/FLOWLOGS/");
	put_segment(b, or_default(id->flowlog_name, "xnsg"), true);
}

static void target_resource_id(struct strbuf *b, const struct flowlog_azure_ident *id)
{
	sb_puts(b, "/subscriptions/");
	put_segment(b, or_default(id->subscription, zero_guid), false);
	sb_puts(b, "/resourceGroups/");
	put_segment(b, or_default(id->resource_group, "xnsg"), false);
	sb_puts(b, "/providers/Microsoft.Network/virtualNetworks/");
	put_segment(b, or_default(id->vnet, "xnsg"), false);
}

int flowlog_azure_blob_path(struct strbuf *b, const struct flowlog_azure_opts *o,
			    const struct flowlog_record *r, uint64_t now_ns)
{
	struct flowlog_tm tm;

	flowlog_utc(now_ns, &tm);
	if (o->format == FLOWLOG_AZURE_NSG_V2) {
		sb_puts(b, "resourceId=");
		nsg_resource_id(b, &o->id, r->nsg);
	} else {
		sb_puts(b, "flowLogResourceID=");
		flowlog_resource_id(b, &o->id);
	}
	sb_puts(b, "/y=");
	sb_u64w(b, (uint64_t)tm.year, 4);
	sb_puts(b, "/m=");
	sb_u64w(b, (uint64_t)tm.mon, 2);
	sb_puts(b, "/d=");
	sb_u64w(b, (uint64_t)tm.mday, 2);
	sb_puts(b, "/h=");
	sb_u64w(b, (uint64_t)tm.hour, 2);
	sb_puts(b, "/m=00/macAddress=");
	sb_mac(b, r->mac, 0);
	sb_puts(b, "/PT1H.json");
	return b->err;
}

/* The tuples of recs[i..] while the group key holds; returns the next i. */
static size_t put_tuples(struct strbuf *b, enum flowlog_azure_format f,
			 const struct flowlog_record *const *recs, size_t i, size_t n)
{
	const struct flowlog_record *first = recs[i];
	size_t start = i;

	sb_puts(b, "\"flowTuples\":[");
	for (; i < n; i++) {
		if (strcmp(recs[i]->rule, first->rule) || strcmp(recs[i]->nsg, first->nsg) ||
		    recs[i]->default_rule != first->default_rule)
			break;
		if (i != start)
			sb_putc(b, ',');
		sb_putc(b, '"');
		flowlog_azure_tuple(b, f, recs[i]);
		sb_putc(b, '"');
	}
	sb_putc(b, ']');
	return i;
}

static void put_rule_key(struct strbuf *b, const struct flowlog_record *r)
{
	sb_puts(b, "{\"rule\":\"");
	flowlog_azure_rule(b, r);
	sb_puts(b, "\",");
}

static void record_v2(struct strbuf *b, const struct flowlog_azure_opts *o, uint64_t now_ns,
		      const struct flowlog_record *const *recs, size_t n)
{
	size_t i = 0;

	sb_puts(b, "{\"time\":\"");
	sb_time(b, now_ns, 7);
	sb_puts(b, "\",\"systemId\":");
	sb_json_str(b, or_default(o->id.guid, zero_guid));
	sb_puts(b, ",\"macAddress\":\"");
	sb_mac(b, recs[0]->mac, 0);
	sb_puts(b, "\",\"category\":\"NetworkSecurityGroupFlowEvent\",\"resourceId\":\"");
	nsg_resource_id(b, &o->id, recs[0]->nsg);
	sb_puts(b, "\",\"operationName\":\"NetworkSecurityGroupFlowEvents\","
		   "\"properties\":{\"Version\":2,\"flows\":[");
	while (i < n) {
		if (i)
			sb_putc(b, ',');
		put_rule_key(b, recs[i]);
		sb_puts(b, "\"flows\":[{\"mac\":\"");
		sb_mac(b, recs[i]->mac, 0);
		sb_puts(b, "\",");
		i = put_tuples(b, FLOWLOG_AZURE_NSG_V2, recs, i, n);
		sb_puts(b, "}]}");
	}
	sb_puts(b, "]}}");
}

/* One flows[] entry of a v4 record: an NSG (aclID) and its rule groups. */
static size_t acl_v4(struct strbuf *b, const struct flowlog_record *const *recs, size_t i,
		     size_t n)
{
	const char *nsg = recs[i]->nsg;
	bool first = true;

	sb_puts(b, "{\"aclID\":");
	sb_json_str(b, nsg);
	sb_puts(b, ",\"flowGroups\":[");
	while (i < n && !strcmp(recs[i]->nsg, nsg)) {
		if (!first)
			sb_putc(b, ',');
		first = false;
		put_rule_key(b, recs[i]);
		i = put_tuples(b, FLOWLOG_AZURE_VNET_V4, recs, i, n);
		sb_putc(b, '}');
	}
	sb_puts(b, "]}");
	return i;
}

static void record_v4(struct strbuf *b, const struct flowlog_azure_opts *o, uint64_t now_ns,
		      const struct flowlog_record *const *recs, size_t n)
{
	size_t i = 0;

	sb_puts(b, "{\"time\":\"");
	sb_time(b, now_ns, 7);
	sb_puts(b, "\",\"flowLogVersion\":4,\"flowLogGUID\":");
	sb_json_str(b, or_default(o->id.guid, zero_guid));
	sb_puts(b, ",\"macAddress\":\"");
	sb_mac(b, recs[0]->mac, 0);
	sb_puts(b, "\",\"category\":\"FlowLogFlowEvent\",\"flowLogResourceID\":\"");
	flowlog_resource_id(b, &o->id);
	sb_puts(b, "\",\"targetResourceID\":\"");
	target_resource_id(b, &o->id);
	sb_puts(b, "\",\"operationName\":\"FlowLogFlowEvent\",\"flowRecords\":{\"flows\":[");
	while (i < n) {
		if (i)
			sb_putc(b, ',');
		i = acl_v4(b, recs, i, n);
	}
	sb_puts(b, "]}}");
}

int flowlog_azure_record(struct strbuf *b, const struct flowlog_azure_opts *o, uint64_t now_ns,
			 const struct flowlog_record *const *recs, size_t n)
{
	if (!n)
		return -EINVAL;
	if (o->format == FLOWLOG_AZURE_NSG_V2)
		record_v2(b, o, now_ns, recs, n);
	else
		record_v4(b, o, now_ns, recs, n);
	return b->err;
}

/* mkdir -p of path's directory (with last: of path itself too). */
static int make_parents(const char *path, bool last)
{
	char *p = strdup(path), *s;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		else if (!last)
			break;
		if (mkdir(p, 0755) && errno != EEXIST) {
			err = -errno;
			break;
		}
		if (!s)
			break;
		*s = '/';
	}
	free(p);
	return err;
}

int flowlog_azure_make_dirs(const char *dir)
{
	return make_parents(dir, true);
}

/* Copy the first len bytes of in to out: copy_file_range (a reflink or
 * in-kernel copy), falling back to read/write where it is unsupported. */
static int copy_prefix(int in, int out, off_t len)
{
	char buf[65536];
	off_t off = 0;

	while (off < len) {
		ssize_t n = copy_file_range(in, &off, out, NULL, (size_t)(len - off), 0);

		if (n > 0 || (n < 0 && errno == EINTR)) /* a signal: the exporter's stop, say */
			continue;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	while (off < len) {
		size_t want = (size_t)(len - off) < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		ssize_t n = pread(in, buf, want, off);
		int err;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		err = flowlog_write_all(out, buf, (size_t)n);
		if (err)
			return err;
		off += n;
	}
	return 0;
}

/* Length of the document in fd to keep (everything before DOC_TAIL), or
 * -EBADMSG when it does not end as our documents do. */
static off_t doc_body(int fd)
{
	char tail[sizeof(DOC_TAIL) - 1];
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size < (off_t)(sizeof(DOC_HEAD) - 1 + sizeof(tail)))
		return -EBADMSG;
	if (pread(fd, tail, sizeof(tail), st.st_size - (off_t)sizeof(tail)) != (ssize_t)sizeof(tail))
		return -EBADMSG;
	if (memcmp(tail, DOC_TAIL, sizeof(tail)))
		return -EBADMSG;
	return st.st_size - (off_t)sizeof(tail);
}

/* Write the new document to out: the old one's body (or the head) and rec. */
static int write_doc(int out, int old, const char *path, const char *rec, size_t len)
{
	off_t body = old >= 0 ? doc_body(old) : -ENOENT;
	int err;

	/* Only "no file" and "not our document" start a new one; any other
	 * error must not replace an hour of records with one. */
	if (body < 0 && body != -ENOENT && body != -EBADMSG)
		return (int)body;
	if (body == -EBADMSG) {
		/* Not a document we wrote (edited by hand?): keep it aside
		 * rather than append to something no reader could parse. */
		char aside[4096];

		snprintf(aside, sizeof(aside), "%s.invalid", path);
		if (rename(path, aside))
			return -errno;
	}
	if (body >= 0)
		err = copy_prefix(old, out, body) ?: flowlog_write_all(out, DOC_SEP, 2);
	else
		err = flowlog_write_all(out, DOC_HEAD, sizeof(DOC_HEAD) - 1);
	if (!err)
		err = flowlog_write_all(out, rec, len);
	if (!err)
		err = flowlog_write_all(out, DOC_TAIL, sizeof(DOC_TAIL) - 1);
	/* Data on disk before the rename makes it visible; else a crash
	 * could leave an empty PT1H.json where a full one was. */
	if (!err && fsync(out))
		err = -errno;
	return err;
}

int flowlog_azure_append(const char *path, const char *rec, size_t len)
{
	char tmp[4096];
	int old, out, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	err = make_parents(path, false);
	if (err)
		return err;
	old = open(path, O_RDONLY | O_CLOEXEC);
	if (old < 0 && errno != ENOENT)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		err = -errno;
		goto out_old;
	}
	err = write_doc(out, old, path, rec, len);
	if (close(out) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out_old:
	if (old >= 0)
		close(old);
	return err;
}
