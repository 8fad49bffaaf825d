// SPDX-License-Identifier: MIT
/* What every exporter shares: dispatch, accounting, the clock. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "flowlog.h"

uint64_t flowlog_realtime_ns(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t flowlog_now(const struct flowlog_exporter *e)
{
	return e->clock.fn(e->clock.ctx);
}

void flowlog_init(struct flowlog_exporter *e, const struct flowlog_exporter_ops *ops,
		  const struct flowlog_clock *clock)
{
	e->ops = ops;
	e->clock.fn = clock && clock->fn ? clock->fn : flowlog_realtime_ns;
	e->clock.ctx = clock && clock->fn ? clock->ctx : NULL;
}

void flowlog_fail(struct flowlog_exporter *e, uint64_t n, int err)
{
	e->stats.failed += n;
	e->stats.errors++;
	e->stats.last_err = err;
}

int flowlog_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int flowlog_write(struct flowlog_exporter *e, const struct flowlog_record *r)
{
	e->stats.written++;
	return e->ops->write(e, r);
}

int flowlog_flush(struct flowlog_exporter *e)
{
	return e->ops->flush(e);
}

int flowlog_reopen(struct flowlog_exporter *e)
{
	return e->ops->reopen ? e->ops->reopen(e) : 0;
}

int flowlog_close(struct flowlog_exporter *e)
{
	int err;

	if (!e)
		return 0;
	err = e->ops->flush(e);
	e->ops->destroy(e);
	free(e);
	return err;
}

const struct flowlog_stats *flowlog_get_stats(const struct flowlog_exporter *e)
{
	return &e->stats;
}

const char *flowlog_exporter_name(const struct flowlog_exporter *e)
{
	return e->ops->name;
}
