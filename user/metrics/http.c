// SPDX-License-Identifier: MIT
/*
 * The /metrics endpoint: libmicrohttpd in external-epoll mode on a socket
 * bound here (so a bad address or a port in use is one clear line), run
 * from the caller's event loop.  The text is collected in the caller's
 * thread at the moment of the scrape, so no state is shared between
 * threads.  Loopback unless an address is given (docs/DESIGN.md §13):
 * the endpoint has no authentication.
 *
 * libmicrohttpd is opened when the endpoint starts (lib/dynlib.h), not
 * linked: it and the 9 libraries it brings (gnutls...) would cost every
 * command the loader's time, and only `run --metrics` uses them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "dynlib.h"
#include "log.h"
#include "metrics.h"

#ifndef XNSG_MHD_SONAME
#error "XNSG_MHD_SONAME: the Makefile derives it from libmicrohttpd.so's SONAME (objdump -p)"
#endif

/* Every libmicrohttpd function this file calls, through mhd.NAME. */
#define MHD_FNS(X)                                                                      \
	X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_get_daemon_info) X(MHD_run)        \
	X(MHD_get_timeout) X(MHD_create_response_from_buffer) X(MHD_add_response_header) \
	X(MHD_queue_response) X(MHD_destroy_response)
static struct {
	MHD_FNS(DYNLIB_PTR)
} mhd;
#define MHD_SYM(fn) DYNLIB_SYM(mhd, fn)
static const struct dynlib_sym mhd_syms[] = { MHD_FNS(MHD_SYM) };
static struct dynlib libmhd = DYNLIB(XNSG_MHD_SONAME, XNSG_MHD_DEB, "--metrics", mhd_syms);

struct metrics_server {
	struct MHD_Daemon *mhd;
	metrics_collect_fn collect;
	void *arg;
	char bound[80];
};

static int parse_port(const char *s, unsigned int *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > 65535)
		return -EINVAL;
	*port = (unsigned int)v;
	return 0;
}

static bool is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Split "ADDR:PORT" / "[ADDR6]:PORT" / ":PORT" / "PORT" into a. */
static int split_addr(const char *spec, struct metrics_addr *a)
{
	const char *colon = strrchr(spec, ':'), *host = spec;
	size_t hlen;

	if (!colon) {
		snprintf(a->host, sizeof(a->host), "127.0.0.1");
		return parse_port(spec, &a->port);
	}
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hlen < 2 || spec[hlen - 1] != ']')
			return -EINVAL;
		host++;
		hlen -= 2;
	} else if (memchr(spec, ':', hlen)) {
		return -EINVAL; /* IPv6 with a port needs brackets */
	}
	if (hlen >= sizeof(a->host))
		return -EINVAL;
	snprintf(a->host, sizeof(a->host), "%.*s", (int)hlen, host);
	if (!hlen)
		snprintf(a->host, sizeof(a->host), "127.0.0.1");
	return parse_port(colon + 1, &a->port);
}

int metrics_check_addr(const char *spec, struct metrics_addr *a, char *why, size_t len)
{
	unsigned char buf[sizeof(struct in6_addr)];

	memset(a, 0, sizeof(*a));
	if (split_addr(spec, a)) {
		snprintf(why, len, "expected PORT, ADDR:PORT or [ADDR6]:PORT");
		return -EINVAL;
	}
	if (inet_pton(AF_INET, a->host, buf) != 1 && inet_pton(AF_INET6, a->host, buf) != 1) {
		snprintf(why, len, "'%s' is not a numeric IPv4 or IPv6 address", a->host);
		return -EINVAL;
	}
	a->loopback = is_loopback(a->host);
	return 0;
}

int metrics_parse_addr(const char *spec, struct metrics_addr *a)
{
	char why[128];
	int err = metrics_check_addr(spec, a, why, sizeof(why));

	if (err)
		pr_err("--metrics %s: %s", spec, why);
	return err;
}

static int listen_on(const struct metrics_addr *a, char *bound, size_t blen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	bool v6 = strchr(a->host, ':') != NULL;
	socklen_t len = v6 ? sizeof(*s6) : sizeof(*s4);
	int fd, one = 1, err;

	ss.ss_family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		inet_pton(AF_INET6, a->host, &s6->sin6_addr);
		s6->sin6_port = htons((uint16_t)a->port);
	} else {
		inet_pton(AF_INET, a->host, &s4->sin_addr);
		s4->sin_port = htons((uint16_t)a->port);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		err = -errno;
		close(fd);
		return err;
	}
	snprintf(bound, blen, v6 ? "[%s]:%u" : "%s:%u", a->host,
		 ntohs(v6 ? s6->sin6_port : s4->sin_port));
	return fd;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int code, char *body,
			       size_t len, const char *type)
{
	struct MHD_Response *r =
		mhd.MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	mhd.MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = mhd.MHD_queue_response(conn, code, r);
	mhd.MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct metrics_server *m = cls;
	size_t len = 0;
	char *body;

	(void)version, (void)upload, (void)req;
	if (*upload_size)
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		body = xstrdup("only GET\n");
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, body, strlen(body), text);
	}
	if (!strcmp(url, "/")) {
		body = xstrdup("xnsg: metrics at /metrics\n");
		return respond(conn, MHD_HTTP_OK, body, strlen(body), text);
	}
	if (strcmp(url, "/metrics")) {
		body = xstrdup("not found; metrics are at /metrics\n");
		return respond(conn, MHD_HTTP_NOT_FOUND, body, strlen(body), text);
	}
	body = m->collect(m->arg, &len);
	if (!body) {
		body = xstrdup("cannot read the counters; see the daemon's log\n");
		return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body, strlen(body), text);
	}
	return respond(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);

	(void)cls;
	msg[strcspn(msg, "\n")] = '\0';
	pr_debug("metrics: %s", msg);
	free(msg);
}

struct metrics_server *metrics_start(const char *spec, metrics_collect_fn collect, void *arg)
{
	struct metrics_server *m;
	struct metrics_addr a;
	int fd, err;

	if (metrics_parse_addr(spec, &a)) {
		errno = EINVAL;
		return NULL;
	}
	/* Before the socket, so that a missing library is the only error. */
	err = dynlib_load(&libmhd);
	if (err) {
		pr_err("%s", dynlib_error(&libmhd));
		errno = -err;
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	fd = listen_on(&a, m->bound, sizeof(m->bound));
	if (fd < 0) {
		pr_err("metrics: cannot listen on %s: %s", spec, strerror(-fd));
		free(m);
		errno = -fd;
		return NULL;
	}
	if (!a.loopback)
		pr_warn("metrics on %s are reachable from the network, without authentication",
			m->bound);
	m->collect = collect;
	m->arg = arg;
	/* MHD owns the listening socket from here: MHD_stop_daemon() closes it. */
	m->mhd = mhd.MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, m,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 16u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!m->mhd) {
		pr_err("metrics: cannot start the HTTP server on %s", m->bound);
		close(fd);
		free(m);
		errno = EIO;
		return NULL;
	}
	return m;
}

int metrics_fd(const struct metrics_server *m)
{
	const union MHD_DaemonInfo *i = mhd.MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

void metrics_run(struct metrics_server *m)
{
	mhd.MHD_run(m->mhd);
}

int metrics_timeout_ms(struct metrics_server *m)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (mhd.MHD_get_timeout(m->mhd, &t) != MHD_YES)
		return -1;
	return t > 60000 ? 60000 : (int)t;
}

const char *metrics_bound(const struct metrics_server *m)
{
	return m->bound;
}

void metrics_stop(struct metrics_server *m)
{
	if (!m)
		return;
	mhd.MHD_stop_daemon(m->mhd);
	free(m);
}
