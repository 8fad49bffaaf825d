/* SPDX-License-Identifier: MIT */
#ifndef XNSG_FLOWS_H
#define XNSG_FLOWS_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/*
 * Judge the tracked flows again by policy p (already in force) and remove
 * those it denies, so their next packet meets the rules.  all: every flow
 * (--reset-flows); otherwise only flows on interfaces whose subnet or NIC
 * NSG sets flushConnection.  Returns 0 or -errno.
 */
int flows_reevaluate(const struct policy *p, bool all, size_t *checked, size_t *removed);

#endif
