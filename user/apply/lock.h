/* SPDX-License-Identifier: MIT */
/*
 * Locks beside the record (docs/DESIGN.md §8): flock() on a file named by
 * the pin directory and a suffix, its holder's pid and doing written in
 * it so that a second caller can say who holds it.  apply_lock() is the
 * ".lock" one; the flow-log exporter takes ".flowlog.lock" (one exporter
 * a pin directory).
 */
#ifndef XNSG_LOCK_H
#define XNSG_LOCK_H

/* Wait up to wait_s seconds for the lock named by suffix (0: try once),
 * then fail with -EBUSY and one line naming the holder.  An fd for
 * lock_release(), or -errno. */
int lock_take(const char *suffix, const char *what, unsigned int wait_s);
void lock_release(int fd);

#endif
