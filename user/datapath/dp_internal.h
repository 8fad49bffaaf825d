/* SPDX-License-Identifier: MIT */
/* What the datapath's own files share; nothing outside user/datapath/ includes this. */
#ifndef XNSG_DP_INTERNAL_H
#define XNSG_DP_INTERNAL_H

#include <stddef.h>

#include "datapath.h"

/* Route libbpf's messages through xnsg's verbosity. */
void dp_libbpf_quiet(void);
/* Write n consecutive array elements from key first: one batch syscall
 * where the kernel has it. */
int dp_array_put(int fd, __u32 first, const void *vals, __u32 n, size_t vsize);
/* Write n keys and values (arrays of ksize / vsize bytes): one batch
 * syscall where the kernel has it, else one each. */
int dp_batch_put(int fd, const void *keys, size_t ksize, const void *vals, size_t vsize, size_t n);
/* Delete every key for which mine(key, arg) says yes. */
int dp_map_delete_if(int fd, size_t ksize, bool (*mine)(const void *key, __u32 arg), __u32 arg);
/* The id of the map behind fd, 0 if unknown. */
__u32 dp_obj_id(int fd);

#endif
