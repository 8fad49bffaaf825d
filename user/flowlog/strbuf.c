// SPDX-License-Identifier: MIT
/* Byte buffer and the formatting primitives the flow-log formats share. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int sb_reserve(struct strbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->err)
		return b->err;
	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sb_reset(struct strbuf *b)
{
	b->len = 0;
	b->err = 0;
}

void sb_free(struct strbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

void sb_u64w(struct strbuf *b, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < (int)sizeof(tmp))
		tmp[n++] = '0';
	if (sb_reserve(b, (size_t)n))
		return;
	while (n)
		b->p[b->len++] = tmp[--n];
}

void sb_u64(struct strbuf *b, uint64_t v)
{
	sb_u64w(b, v, 1);
}

void sb_json_str(struct strbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c;

	sb_putc(b, '"');
	for (c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)*c);
		} else if (*c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15] };

			sb_putn(b, esc, sizeof(esc));
		} else {
			sb_putc(b, (char)*c);
		}
	}
	sb_putc(b, '"');
}

void sb_addr(struct strbuf *b, const struct xnsg_addr *a)
{
	char tmp[INET6_ADDRSTRLEN];
	int af = a->family == XNSG_V6 ? AF_INET6 : AF_INET;

	if (!inet_ntop(af, a->bytes, tmp, sizeof(tmp)))
		strcpy(tmp, "?");
	sb_puts(b, tmp);
}

void sb_mac(struct strbuf *b, const uint8_t mac[6], char sep)
{
	const char *hex = sep ? "0123456789abcdef" : "0123456789ABCDEF";
	int i;

	for (i = 0; i < 6; i++) {
		if (i && sep)
			sb_putc(b, sep);
		sb_putc(b, hex[mac[i] >> 4]);
		sb_putc(b, hex[mac[i] & 15]);
	}
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * civil_from_days, public domain algorithm). */
void flowlog_utc(uint64_t ns, struct flowlog_tm *tm)
{
	uint64_t secs = ns / 1000000000ull;
	int64_t z = (int64_t)(secs / 86400) + 719468;
	int64_t era = z / 146097;
	unsigned int doe = (unsigned int)(z - era * 146097);
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned int mp = (5 * doy + 2) / 153;
	unsigned int sod = (unsigned int)(secs % 86400);

	tm->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	tm->year = (int)(yoe + era * 400 + (tm->mon <= 2));
	tm->hour = (int)(sod / 3600);
	tm->min = (int)(sod / 60 % 60);
	tm->sec = (int)(sod % 60);
}

void sb_time(struct strbuf *b, uint64_t ns, int frac)
{
	struct flowlog_tm tm;
	uint64_t sub = ns % 1000000000ull;

	flowlog_utc(ns, &tm);
	sb_u64w(b, (uint64_t)tm.year, 4);
	sb_putc(b, '-');
	sb_u64w(b, (uint64_t)tm.mon, 2);
	sb_putc(b, '-');
	sb_u64w(b, (uint64_t)tm.mday, 2);
	sb_putc(b, 'T');
	sb_u64w(b, (uint64_t)tm.hour, 2);
	sb_putc(b, ':');
	sb_u64w(b, (uint64_t)tm.min, 2);
	sb_putc(b, ':');
	sb_u64w(b, (uint64_t)tm.sec, 2);
	if (frac == 3) {
		sb_putc(b, '.');
		sb_u64w(b, sub / 1000000, 3);
	} else if (frac == 7) {
		sb_putc(b, '.');
		sb_u64w(b, sub / 100, 7);
	}
	sb_putc(b, 'Z');
}
