/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer for the flow-log formatters: formatters append,
 * exporters write the bytes out.  An allocation failure sets err and
 * turns later appends into no-ops (open_memstream's model), so a
 * formatter appends without checking each step and its caller checks
 * once.  Hand-rolled number, address and time formatting because the
 * JSON-lines path must sustain 1M records/s on one core (issue 11);
 * snprintf per field alone costs more than that budget.
 */
#ifndef XNSG_FLOWLOG_STRBUF_H
#define XNSG_FLOWLOG_STRBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model.h"

struct strbuf {
	char *p;
	size_t len, cap;
	int err; /* 0 or -ENOMEM, sticky */
};

#define STRBUF_INIT { NULL, 0, 0, 0 }

/* Room for n more bytes; 0 or -ENOMEM (also stored in err). */
int sb_reserve(struct strbuf *b, size_t n);
void sb_reset(struct strbuf *b); /* len = 0, err = 0, keeps the memory */
void sb_free(struct strbuf *b);

/* Inline: the formatters append a few bytes at a time, and a call plus
 * a reserve per byte was half the JSON-lines cost. */
static inline void sb_putc(struct strbuf *b, char c)
{
	if (b->len < b->cap || !sb_reserve(b, 1))
		b->p[b->len++] = c;
}

static inline void sb_putn(struct strbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len >= n || !sb_reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

static inline void sb_puts(struct strbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}
void sb_u64(struct strbuf *b, uint64_t v);
/* Zero-padded to width digits (time fields). */
void sb_u64w(struct strbuf *b, uint64_t v, int width);
/* A JSON string: quoted, with ", \ and control characters escaped. */
void sb_json_str(struct strbuf *b, const char *s);
/* inet_ntop form: "192.0.2.1", "2001:db8::1". */
void sb_addr(struct strbuf *b, const struct xnsg_addr *a);
/* "00:22:48:71:c2:05" (sep ':', lower) or "00224871C205" (sep 0, upper:
 * Azure's spelling). */
void sb_mac(struct strbuf *b, const uint8_t mac[6], char sep);
/* RFC 3339 UTC with frac digits of fraction (0, 3 or 7), e.g.
 * "2026-12-02T10:00:00.123Z". */
void sb_time(struct strbuf *b, uint64_t ns, int frac);

/* UTC civil time of ns since the epoch, without libc's time zone state
 * (pure, so formatting never touches TZ or locks). */
struct flowlog_tm {
	int year, mon, mday, hour, min, sec; /* mon 1-12 */
};
void flowlog_utc(uint64_t ns, struct flowlog_tm *tm);

#endif
