// SPDX-License-Identifier: MIT
/*
 * IPFIX encoder: pure (buffers in, bytes out, no I/O).
 *
 * Why our own encoder and not libfixbuf 2.4 (Debian's libfixbuf-dev):
 * we export two fixed templates over UDP, which is ~250 lines here.
 * libfixbuf's API is GLib's (GError, gboolean; libfixbuf-dev pulls in
 * libglib2.0-dev), against the errno convention the rest of xnsg keeps;
 * it does not re-send templates on UDP by itself (its docs leave the
 * RFC 7011 §8.4 timer to the application), so the part that needs care
 * would be ours anyway; it is LGPL-3.0 where xnsg is MIT; and the unit
 * tests need a decoder of our own to check the bytes in any case.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ipfix.h"

struct field {
	uint16_t ie, len;
	uint32_t pen; /* 0: IANA */
};

/* The templates' fields, in data-record order; [0] and [1] are the
 * addresses, whose IE and length depend on the family. */
static const struct field fields_tail[] = {
	{ IPFIX_IE_SRC_PORT, 2, 0 },
	{ IPFIX_IE_DST_PORT, 2, 0 },
	{ IPFIX_IE_PROTOCOL, 1, 0 },
	{ IPFIX_IE_PACKET_DELTA, 8, 0 },
	{ IPFIX_IE_OCTET_DELTA, 8, 0 },
	{ IPFIX_IE_PACKET_DELTA, 8, FLOWLOG_IPFIX_PEN_REVERSE },
	{ IPFIX_IE_OCTET_DELTA, 8, FLOWLOG_IPFIX_PEN_REVERSE },
	{ IPFIX_IE_FLOW_START_MS, 8, 0 },
	{ IPFIX_IE_FLOW_END_MS, 8, 0 },
	{ IPFIX_IE_FLOW_END_REASON, 1, 0 },
	{ IPFIX_IE_INGRESS_IF, 4, 0 },
	{ IPFIX_IE_FLOW_DIRECTION, 1, 0 },
	{ IPFIX_IE_FORWARDING_STATUS, 1, 0 },
	{ IPFIX_IE_FIREWALL_EVENT, 1, 0 },
	{ FLOWLOG_IPFIX_IE_RULE, IPFIX_VARLEN, 1 /* replaced by opts.pen */ },
};
#define NTAIL (sizeof(fields_tail) / sizeof(fields_tail[0]))

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

void flowlog_ipfix_msg_init(struct flowlog_ipfix_msg *m, uint8_t *buf, size_t cap)
{
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->cap = cap;
	m->len = FLOWLOG_IPFIX_HDR_LEN;
}

static void close_set(struct flowlog_ipfix_msg *m)
{
	if (!m->set_off)
		return;
	put16(m->buf + m->set_off + 2, (uint16_t)(m->len - m->set_off));
	m->set_off = 0;
}

/* Open a set of id unless it is the open one; false if there is no room
 * for its header and need more bytes. */
static bool want_set(struct flowlog_ipfix_msg *m, uint16_t id, size_t need)
{
	if (m->set_off && m->set_id == id)
		return m->len + need <= m->cap;
	if (m->len + 4 + need > m->cap)
		return false;
	close_set(m);
	m->set_off = m->len;
	m->set_id = id;
	put16(m->buf + m->len, id);
	m->len += 4;
	return true;
}

static size_t put_field(uint8_t *p, const struct field *f, uint32_t pen)
{
	uint32_t e = f->pen == 1 ? pen : f->pen;

	put16(p, (uint16_t)(f->ie | (e ? 0x8000 : 0)));
	put16(p + 2, f->len);
	if (!e)
		return 4;
	put32(p + 4, e);
	return 8;
}

static size_t put_template(uint8_t *p, uint16_t id, bool v6, uint32_t pen)
{
	const struct field addr[2] = {
		{ v6 ? IPFIX_IE_SRC_IPV6 : IPFIX_IE_SRC_IPV4, v6 ? 16 : 4, 0 },
		{ v6 ? IPFIX_IE_DST_IPV6 : IPFIX_IE_DST_IPV4, v6 ? 16 : 4, 0 },
	};
	size_t n = 4, i;

	put16(p, id);
	put16(p + 2, (uint16_t)(2 + NTAIL));
	n += put_field(p + n, &addr[0], pen);
	n += put_field(p + n, &addr[1], pen);
	for (i = 0; i < NTAIL; i++)
		n += put_field(p + n, &fields_tail[i], pen);
	return n;
}

int flowlog_ipfix_msg_add_templates(struct flowlog_ipfix_msg *m, uint32_t pen)
{
	/* Per template: a 4-byte header, 4 bytes a field, 4 more for each
	 * enterprise field (three of them). */
	size_t one = 4 + 4 * (2 + NTAIL) + 4 * 3;

	if (!pen)
		pen = FLOWLOG_IPFIX_PEN_DEFAULT;
	if (!want_set(m, FLOWLOG_IPFIX_SET_TEMPLATE, 2 * one))
		return -ENOSPC;
	m->len += put_template(m->buf + m->len, FLOWLOG_IPFIX_TPL_V4, false, pen);
	m->len += put_template(m->buf + m->len, FLOWLOG_IPFIX_TPL_V6, true, pen);
	m->templates = true;
	return 0;
}

uint8_t flowlog_ipfix_end_reason(const struct flowlog_record *r)
{
	switch (r->state) {
	case FLOWLOG_DENY:
		return 4;
	case FLOWLOG_END:
		break;
	default:
		return 2;
	}
	switch (r->end_reason) {
	case FLOWLOG_END_TIMEOUT:
		return 1;
	case FLOWLOG_END_FIN:
	case FLOWLOG_END_RST:
		return 3;
	case FLOWLOG_END_EVICTED:
		return 5;
	default:
		return 4;
	}
}

uint8_t flowlog_ipfix_firewall_event(const struct flowlog_record *r)
{
	static const uint8_t ev[FLOWLOG_STATES] = { 1, 5, 2, 3 };

	return r->state < FLOWLOG_STATES ? ev[r->state] : 0;
}

/* "NSG/RULE", bounded by the record's fields (< 255: one length byte). */
static size_t rule_string(const struct flowlog_record *r, char *out, size_t cap)
{
	size_t a = strlen(r->nsg), b = strlen(r->rule);

	if (a + 1 + b >= cap)
		return 0;
	memcpy(out, r->nsg, a);
	out[a] = '/';
	memcpy(out + a + 1, r->rule, b);
	return a + 1 + b;
}

/* RFC 7011 §7: one length byte below 255, else 255 and two bytes. */
static size_t put_varlen(uint8_t *p, const char *s, size_t n)
{
	size_t h = n < 255 ? 1 : 3;

	if (h == 1) {
		p[0] = (uint8_t)n;
	} else {
		p[0] = 255;
		put16(p + 1, (uint16_t)n);
	}
	memcpy(p + h, s, n);
	return h + n;
}

int flowlog_ipfix_msg_add_record(struct flowlog_ipfix_msg *m, const struct flowlog_record *r)
{
	bool v6 = r->src.family == XNSG_V6;
	size_t alen = v6 ? 16 : 4;
	char rule[2 * FLOWLOG_NAME_MAX + 2];
	size_t rlen = rule_string(r, rule, sizeof(rule));
	size_t need = 2 * alen + 2 + 2 + 1 + 4 * 8 + 2 * 8 + 1 + 4 + 3 + (rlen < 255 ? 1 : 3) + rlen;
	uint8_t *p;

	if (!want_set(m, v6 ? FLOWLOG_IPFIX_TPL_V6 : FLOWLOG_IPFIX_TPL_V4, need))
		return -ENOSPC;
	p = m->buf + m->len;
	memcpy(p, r->src.bytes, alen);
	memcpy(p + alen, r->dst.bytes, alen);
	p += 2 * alen;
	put16(p, r->sport);
	put16(p + 2, r->dport);
	p[4] = r->proto;
	put64(p + 5, r->pkts_s2d);
	put64(p + 13, r->bytes_s2d);
	put64(p + 21, r->pkts_d2s);
	put64(p + 29, r->bytes_d2s);
	put64(p + 37, r->start_ns / 1000000ull);
	put64(p + 45, r->time_ns / 1000000ull);
	p[53] = flowlog_ipfix_end_reason(r);
	put32(p + 54, r->ifindex);
	p[58] = r->dir == XNSG_OUT ? 1 : 0;
	p[59] = r->decision == FLOWLOG_DENIED || r->state == FLOWLOG_DENY ? IPFIX_FWD_ACL_DENY
									  : IPFIX_FWD_FORWARDED;
	p[60] = flowlog_ipfix_firewall_event(r);
	p += 61;
	p += put_varlen(p, rule, rlen);
	m->len = (size_t)(p - m->buf);
	m->records++;
	return 0;
}

size_t flowlog_ipfix_msg_finish(struct flowlog_ipfix_msg *m, uint32_t export_s, uint32_t seq,
				uint32_t odid)
{
	close_set(m);
	put16(m->buf, FLOWLOG_IPFIX_VERSION);
	put16(m->buf + 2, (uint16_t)m->len);
	put32(m->buf + 4, export_s);
	put32(m->buf + 8, seq);
	put32(m->buf + 12, odid);
	return m->len;
}

int flowlog_ipfix_parse_target(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *h = s;
	size_t n;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = s + 1;
		n = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL; /* a bare IPv6 address needs [brackets] */
		n = (size_t)(colon - s);
	}
	if (!n || n >= hlen || !colon[1] || strlen(colon + 1) >= plen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}
