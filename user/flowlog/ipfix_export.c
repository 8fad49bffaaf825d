// SPDX-License-Identifier: MIT
/*
 * The IPFIX exporter: a connected UDP socket, one message being filled,
 * templates at open and again every template interval (RFC 7011 §8.4:
 * over UDP a collector that starts late, or lost a datagram, learns them
 * from the next refresh).  Sequence numbers count data records actually
 * sent (RFC 7011 §3.1), so a collector sees gaps only where the network
 * lost datagrams; records of a failed send are counted failed.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipfix.h"

#define IPFIX_MIN_MESSAGE 512   /* RFC 7011 §10.3.3, when the PMTU is unknown */
#define IPFIX_MAX_MESSAGE 65507 /* the largest UDP payload over IPv4 */

struct ipfix {
	struct flowlog_exporter base; /* first: the exporter is an ipfix */
	int fd;
	uint32_t odid, pen, seq;
	uint64_t interval_ns, last_tpl_ns;
	bool tpl_sent;
	uint8_t *buf;
	size_t cap;
	struct flowlog_ipfix_msg msg;
	bool open; /* msg has been started */
};

static bool templates_due(const struct ipfix *x, uint64_t now)
{
	return !x->tpl_sent || now - x->last_tpl_ns >= x->interval_ns;
}

static void begin(struct ipfix *x, uint64_t now)
{
	flowlog_ipfix_msg_init(&x->msg, x->buf, x->cap);
	if (templates_due(x, now))
		flowlog_ipfix_msg_add_templates(&x->msg, x->pen);
	x->open = true;
}

/* Send the message being filled; its records are exported or failed. */
static int send_msg(struct ipfix *x, uint64_t now)
{
	size_t len = flowlog_ipfix_msg_finish(&x->msg, (uint32_t)(now / 1000000000ull), x->seq,
					      x->odid);
	ssize_t n;
	int err = 0;

	do
		n = send(x->fd, x->buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EMSGSIZE;
	if (err) {
		flowlog_fail(&x->base, x->msg.records, err);
	} else {
		x->seq += x->msg.records;
		x->base.stats.exported += x->msg.records;
		if (x->msg.templates) {
			x->tpl_sent = true;
			x->last_tpl_ns = now;
		}
	}
	x->open = false;
	return err;
}

static int ipfix_write(struct flowlog_exporter *e, const struct flowlog_record *r)
{
	struct ipfix *x = (struct ipfix *)e;
	uint64_t now = flowlog_now(e);
	int err = 0;

	if (!x->open)
		begin(x, now);
	if (!flowlog_ipfix_msg_add_record(&x->msg, r))
		return 0;
	if (x->msg.records || x->msg.templates)
		err = send_msg(x, now);
	begin(x, now);
	if (flowlog_ipfix_msg_add_record(&x->msg, r)) {
		/* Cannot happen with max_message >= 512: a record is < 300 B. */
		flowlog_fail(e, 1, -EMSGSIZE);
		return -EMSGSIZE;
	}
	return err;
}

/* Send what is pending, and the templates alone when their refresh is
 * due, so a collector hears them even while no flow is logged. */
static int ipfix_flush(struct flowlog_exporter *e)
{
	struct ipfix *x = (struct ipfix *)e;
	uint64_t now = flowlog_now(e);

	if (!x->open && templates_due(x, now))
		begin(x, now);
	if (!x->open || (!x->msg.records && !x->msg.templates))
		return 0;
	return send_msg(x, now);
}

static void ipfix_destroy(struct flowlog_exporter *e)
{
	struct ipfix *x = (struct ipfix *)e;

	if (x->fd >= 0)
		close(x->fd);
	free(x->buf);
}

static const struct flowlog_exporter_ops ipfix_ops = {
	.name = "ipfix",
	.write = ipfix_write,
	.flush = ipfix_flush,
	.destroy = ipfix_destroy,
};

/* A connected UDP socket to o's target: fd or -errno (and o->why when
 * the name does not resolve). */
static int connect_target(const struct flowlog_ipfix_opts *o, int *family)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res, *ai;
	char host[256], port[32];
	int fd = -EINVAL, rc;

	if (flowlog_ipfix_parse_target(o->target, host, sizeof(host), port, sizeof(port)))
		return -EINVAL;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc && rc != EAI_SYSTEM && o->why && o->why_len)
		snprintf(o->why, o->why_len, "%s", gai_strerror(rc));
	if (rc)
		return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			*family = ai->ai_family;
			break;
		}
		close(fd);
		fd = -errno;
	}
	freeaddrinfo(res);
	return fd;
}

/* The largest message that fits the path MTU without fragmenting
 * (RFC 7011 §10.3.3); 512 when the kernel does not know it. */
static size_t path_room(int fd, int family)
{
	int mtu = 0;
	socklen_t len = sizeof(mtu);
	int hdr = family == AF_INET6 ? 48 : 28;
	int rc = family == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len)
				    : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);

	if (rc || mtu - hdr < IPFIX_MIN_MESSAGE)
		return IPFIX_MIN_MESSAGE;
	return mtu - hdr > IPFIX_MAX_MESSAGE ? IPFIX_MAX_MESSAGE : (size_t)(mtu - hdr);
}

static void ipfix_setup(struct ipfix *x, const struct flowlog_ipfix_opts *o)
{
	x->odid = o->odid ? o->odid : 1;
	x->pen = o->pen ? o->pen : FLOWLOG_IPFIX_PEN_DEFAULT;
	x->interval_ns = (uint64_t)(o->template_interval_s ? o->template_interval_s : 60) *
			 1000000000ull;
}

struct flowlog_exporter *flowlog_ipfix_open(const struct flowlog_ipfix_opts *o)
{
	struct ipfix *x;
	int family = AF_INET, fd;

	if (!o || !o->target || (o->max_message && o->max_message < IPFIX_MIN_MESSAGE)) {
		errno = EINVAL;
		return NULL;
	}
	fd = connect_target(o, &family);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		goto err_fd;
	x->fd = fd;
	x->cap = o->max_message ? o->max_message : path_room(fd, family);
	if (x->cap > IPFIX_MAX_MESSAGE)
		x->cap = IPFIX_MAX_MESSAGE;
	x->buf = malloc(x->cap);
	if (!x->buf)
		goto err_x;
	flowlog_init(&x->base, &ipfix_ops, &o->clock);
	ipfix_setup(x, o);
	/* Templates first, so a listening collector can decode the very
	 * first data record; a failure here is counted and retried. */
	ipfix_flush(&x->base);
	return &x->base;
err_x:
	free(x);
err_fd:
	close(fd);
	errno = ENOMEM;
	return NULL;
}
