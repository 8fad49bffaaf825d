// SPDX-License-Identifier: MIT
/*
 * JSON lines formatter and exporter.  The exporter buffers lines itself
 * (not stdio) so it knows exactly which records a failed write(2) lost,
 * and drains whenever the buffer passes JSONL_DRAIN_BYTES so memory stays
 * bounded between flushes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl.h"

/* Large enough to make write(2) cheap per record (~300 B a line), small
 * enough that a crash loses little. */
#ifndef JSONL_DRAIN_BYTES
#define JSONL_DRAIN_BYTES (256 * 1024)
#endif

static void put_key(struct strbuf *b, const char *key)
{
	sb_putc(b, ',');
	sb_putc(b, '"');
	sb_puts(b, key);
	sb_putc(b, '"');
	sb_putc(b, ':');
}

static void put_u64(struct strbuf *b, const char *key, uint64_t v)
{
	put_key(b, key);
	sb_u64(b, v);
}

static void put_str(struct strbuf *b, const char *key, const char *s)
{
	put_key(b, key);
	if (s && *s)
		sb_json_str(b, s);
	else
		sb_puts(b, "null");
}

int flowlog_jsonl_format(struct strbuf *b, const struct flowlog_record *r)
{
	char state[2] = { flowlog_state_char(r->state), '\0' };

	sb_puts(b, "{\"time\":\"");
	sb_time(b, r->time_ns, 3);
	sb_putc(b, '"');
	put_str(b, "interface", r->ifname);
	put_u64(b, "ifindex", r->ifindex);
	put_key(b, "mac");
	sb_putc(b, '"');
	sb_mac(b, r->mac, ':');
	sb_putc(b, '"');
	put_str(b, "nsg", r->nsg);
	put_str(b, "rule", r->rule);
	put_key(b, "default_rule");
	sb_puts(b, r->default_rule ? "true" : "false");
	put_str(b, "direction", r->dir == XNSG_OUT ? "out" : "in");
	put_str(b, "decision", r->decision == FLOWLOG_DENIED ? "deny" : "allow");
	put_str(b, "state", state);
	put_u64(b, "proto", r->proto);
	put_key(b, "src");
	sb_putc(b, '"');
	sb_addr(b, &r->src);
	sb_putc(b, '"');
	put_u64(b, "sport", r->sport);
	put_key(b, "dst");
	sb_putc(b, '"');
	sb_addr(b, &r->dst);
	sb_putc(b, '"');
	put_u64(b, "dport", r->dport);
	put_u64(b, "pkts_s2d", r->pkts_s2d);
	put_u64(b, "bytes_s2d", r->bytes_s2d);
	put_u64(b, "pkts_d2s", r->pkts_d2s);
	put_u64(b, "bytes_d2s", r->bytes_d2s);
	put_key(b, "start");
	sb_putc(b, '"');
	sb_time(b, r->start_ns, 3);
	sb_putc(b, '"');
	put_str(b, "end_reason", r->end_reason == FLOWLOG_END_NONE ? NULL
					: flowlog_end_reason_name(r->end_reason));
	put_u64(b, "suppressed", r->suppressed);
	sb_puts(b, "}\n");
	return b->err;
}

struct jsonl {
	struct flowlog_exporter base; /* first: the exporter is a jsonl */
	char *path;                   /* NULL: stdout */
	int fd;                       /* -1 after a failed (re)open */
	struct strbuf buf;
	uint64_t pending;             /* records in buf */
};

static int jsonl_open_fd(struct jsonl *j)
{
	if (!j->path) {
		j->fd = STDOUT_FILENO;
		return 0;
	}
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	return j->fd < 0 ? -errno : 0;
}

/* Write the buffer out; on failure its records are counted lost.  A file
 * that failed to (re)open is retried here, so an output that comes back
 * (a full disk freed, a directory recreated) resumes by itself. */
static int jsonl_drain(struct jsonl *j)
{
	int err = 0;

	if (!j->pending && !j->buf.len)
		return 0;
	if (j->fd < 0)
		err = jsonl_open_fd(j);
	if (!err)
		err = flowlog_write_all(j->fd, j->buf.p, j->buf.len);
	if (err)
		flowlog_fail(&j->base, j->pending, err);
	else
		j->base.stats.exported += j->pending;
	j->pending = 0;
	sb_reset(&j->buf);
	return err;
}

static int jsonl_write(struct flowlog_exporter *e, const struct flowlog_record *r)
{
	struct jsonl *j = (struct jsonl *)e;
	size_t mark = j->buf.len;
	int err = flowlog_jsonl_format(&j->buf, r);

	if (err) {
		j->buf.len = mark; /* drop the partial line, keep the others */
		j->buf.err = 0;
		flowlog_fail(e, 1, err);
		return err;
	}
	j->pending++;
	return j->buf.len >= JSONL_DRAIN_BYTES ? jsonl_drain(j) : 0;
}

static int jsonl_flush(struct flowlog_exporter *e)
{
	return jsonl_drain((struct jsonl *)e);
}

static int jsonl_reopen(struct flowlog_exporter *e)
{
	struct jsonl *j = (struct jsonl *)e;
	int err = jsonl_drain(j);

	if (!j->path)
		return err;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	return jsonl_open_fd(j) ?: err;
}

static void jsonl_destroy(struct flowlog_exporter *e)
{
	struct jsonl *j = (struct jsonl *)e;

	if (j->path && j->fd >= 0)
		close(j->fd);
	free(j->path);
	sb_free(&j->buf);
}

static const struct flowlog_exporter_ops jsonl_ops = {
	.name = "jsonl",
	.write = jsonl_write,
	.flush = jsonl_flush,
	.reopen = jsonl_reopen,
	.destroy = jsonl_destroy,
};

struct flowlog_exporter *flowlog_jsonl_open(const struct flowlog_jsonl_opts *o)
{
	struct jsonl *j;
	int err;

	if (!o || !o->path || !*o->path) {
		errno = EINVAL;
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	flowlog_init(&j->base, &jsonl_ops, NULL);
	if (strcmp(o->path, "-")) {
		j->path = strdup(o->path);
		if (!j->path) {
			free(j);
			errno = ENOMEM;
			return NULL;
		}
	}
	err = jsonl_open_fd(j);
	if (err) {
		free(j->path);
		free(j);
		errno = -err;
		return NULL;
	}
	return &j->base;
}
