/* SPDX-License-Identifier: MIT */
#ifndef XNSG_FLOWS_H
#define XNSG_FLOWS_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/*
 * Judge the tracked flows again by policy p (already in force) and cut
 * those it denies: their entries are marked denied, so every later packet
 * of the flow, either way, is dropped until the flow idles out (removing
 * the entry instead would let an allowed direction re-create it).  all:
 * every flow (--reset-flows); otherwise only flows on interfaces whose
 * subnet or NIC NSG sets flushConnection.  *cut: flows cut now.
 * Returns 0 or -errno.
 */
int flows_reevaluate(const struct policy *p, bool all, size_t *checked, size_t *cut);

#endif
