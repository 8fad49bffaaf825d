// SPDX-License-Identifier: MIT
/*
 * The Azure exporter: buffers the records of one interval, and on flush
 * appends one Azure record (a "minute") to each blob that has tuples.
 * Formats and the atomic file append are in azure.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azure.h"

#ifndef AZURE_MAX_PENDING
#define AZURE_MAX_PENDING 65536 /* ~18 MB of records between flushes */
#endif

struct azure {
	struct flowlog_exporter base; /* first: the exporter is an azure */
	struct flowlog_azure_opts o;  /* strings point into owned copies */
	char *owned[7];
	struct flowlog_record *recs;  /* this interval's, in arrival order */
	size_t n, cap;
	struct strbuf rec, path;
};

/* Order that groups records by blob, then by NSG and rule within it, and
 * keeps arrival order inside a group (the pointers are into one array). */
static int cmp_recs(const void *pa, const void *pb, void *ctx)
{
	const struct flowlog_record *a = *(const struct flowlog_record *const *)pa;
	const struct flowlog_record *b = *(const struct flowlog_record *const *)pb;
	bool v2 = *(const enum flowlog_azure_format *)ctx == FLOWLOG_AZURE_NSG_V2;
	int c;

	c = v2 ? strcmp(a->nsg, b->nsg) : 0;
	if (!c)
		c = memcmp(a->mac, b->mac, sizeof(a->mac));
	if (!c)
		c = strcmp(a->nsg, b->nsg);
	if (!c)
		c = (int)a->default_rule - (int)b->default_rule;
	if (!c)
		c = strcmp(a->rule, b->rule);
	if (!c)
		c = a < b ? -1 : a > b;
	return c;
}

static bool same_blob(const struct azure *az, const struct flowlog_record *a,
		      const struct flowlog_record *b)
{
	if (memcmp(a->mac, b->mac, sizeof(a->mac)))
		return false;
	return az->o.format != FLOWLOG_AZURE_NSG_V2 || !strcmp(a->nsg, b->nsg);
}

/* Append one blob's record; its records are counted either way. */
static int flush_blob(struct azure *az, uint64_t now, const struct flowlog_record *const *recs,
		      size_t n)
{
	int err;

	sb_reset(&az->rec);
	sb_reset(&az->path);
	flowlog_azure_record(&az->rec, &az->o, now, recs, n);
	sb_puts(&az->path, az->o.dir);
	sb_putc(&az->path, '/');
	flowlog_azure_blob_path(&az->path, &az->o, recs[0], now);
	sb_putc(&az->path, '\0');
	err = az->rec.err ?: az->path.err;
	if (!err)
		err = flowlog_azure_append(az->path.p, az->rec.p, az->rec.len);
	if (err)
		flowlog_fail(&az->base, n, err);
	else
		az->base.stats.exported += n;
	return err;
}

static int azure_flush(struct flowlog_exporter *e)
{
	struct azure *az = (struct azure *)e;
	const struct flowlog_record **ptrs;
	uint64_t now = flowlog_now(e);
	size_t i, j;
	int err = 0, ret;

	if (!az->n)
		return 0;
	ptrs = malloc(az->n * sizeof(*ptrs));
	if (!ptrs) {
		flowlog_fail(e, az->n, -ENOMEM);
		az->n = 0;
		return -ENOMEM;
	}
	for (i = 0; i < az->n; i++)
		ptrs[i] = &az->recs[i];
	qsort_r(ptrs, az->n, sizeof(*ptrs), cmp_recs, &az->o.format);
	for (i = 0; i < az->n; i = j) {
		for (j = i + 1; j < az->n && same_blob(az, ptrs[i], ptrs[j]); j++)
			;
		ret = flush_blob(az, now, ptrs + i, j - i);
		if (ret && !err)
			err = ret;
	}
	free(ptrs);
	az->n = 0;
	return err;
}

static int azure_write(struct flowlog_exporter *e, const struct flowlog_record *r)
{
	struct azure *az = (struct azure *)e;
	size_t max = az->o.max_pending ? az->o.max_pending : AZURE_MAX_PENDING;

	if (flowlog_azure_accepts(az->o.format, r)) {
		e->stats.skipped++;
		return 0;
	}
	if (az->n == az->cap) {
		size_t cap = az->cap ? az->cap * 2 : 256;
		struct flowlog_record *v = realloc(az->recs, cap * sizeof(*v));

		if (!v) {
			flowlog_fail(e, 1, -ENOMEM);
			return -ENOMEM;
		}
		az->recs = v;
		az->cap = cap;
	}
	az->recs[az->n++] = *r;
	return az->n >= max ? azure_flush(e) : 0;
}

static void azure_destroy(struct flowlog_exporter *e)
{
	struct azure *az = (struct azure *)e;
	size_t i;

	for (i = 0; i < sizeof(az->owned) / sizeof(az->owned[0]); i++)
		free(az->owned[i]);
	free(az->recs);
	sb_free(&az->rec);
	sb_free(&az->path);
}

static const struct flowlog_exporter_ops azure_ops = {
	.name = "azure",
	.write = azure_write,
	.flush = azure_flush,
	.destroy = azure_destroy,
};

/* Copy the caller's strings so the exporter outlives its options. */
static int own_strings(struct azure *az)
{
	const char **fields[] = {
		&az->o.dir,		&az->o.id.subscription, &az->o.id.resource_group,
		&az->o.id.region,	&az->o.id.flowlog_name, &az->o.id.vnet,
		&az->o.id.guid,
	};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!*fields[i])
			continue;
		az->owned[i] = strdup(*fields[i]);
		if (!az->owned[i])
			return -ENOMEM;
		*fields[i] = az->owned[i];
	}
	return 0;
}

struct flowlog_exporter *flowlog_azure_open(const struct flowlog_azure_opts *o)
{
	struct azure *az;
	int err;

	if (!o || !o->dir || !*o->dir ||
	    (o->format != FLOWLOG_AZURE_VNET_V4 && o->format != FLOWLOG_AZURE_NSG_V2)) {
		errno = EINVAL;
		return NULL;
	}
	/* Fail at open, not at the first flush a minute later, when DIR
	 * cannot be created or written. */
	err = flowlog_azure_make_dirs(o->dir);
	if (!err && access(o->dir, W_OK))
		err = -errno;
	if (err) {
		errno = -err;
		return NULL;
	}
	az = calloc(1, sizeof(*az));
	if (!az)
		return NULL;
	az->o = *o;
	flowlog_init(&az->base, &azure_ops, &o->clock);
	if (own_strings(az)) {
		azure_destroy(&az->base);
		free(az);
		errno = ENOMEM;
		return NULL;
	}
	return &az->base;
}
