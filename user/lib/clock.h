/* SPDX-License-Identifier: MIT */
#ifndef XNSG_CLOCK_H
#define XNSG_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: deadlines and intervals. */
uint64_t mono_ns(void);

#endif /* XNSG_CLOCK_H */
