/* SPDX-License-Identifier: MIT */
/* What the datapath's own files share; nothing outside user/datapath/ includes this. */
#ifndef XNSG_DP_INTERNAL_H
#define XNSG_DP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "datapath.h"

/* Route libbpf's messages through xnsg's verbosity. */
void dp_libbpf_quiet(void);
/* This thread's libbpf messages are debug output (a load whose failure
 * the caller handles by loading again). */
extern __thread bool dp_libbpf_debug_only;
/* Write n consecutive array elements from key first: one batch syscall
 * where the kernel has it. */
int dp_array_put(int fd, __u32 first, const void *vals, __u32 n, size_t vsize);
/* Write n keys and values (arrays of ksize / vsize bytes): one batch
 * syscall where the kernel has it, else one each. */
int dp_batch_put(int fd, const void *keys, size_t ksize, const void *vals, size_t vsize, size_t n);
/* Delete every key for which mine(key, arg) says yes. */
int dp_map_delete_if(int fd, size_t ksize, bool (*mine)(const void *key, __u32 arg), __u32 arg);
/* The programs by name (load.c), in the order of struct dp's fd_progs. */
extern const char *const dp_progs[];
extern const size_t dp_nprogs;
/* Whether program `name` is a receive program (XDP, TC ingress): one an
 * instance loads only once an interface uses it, so its pin may be
 * missing. */
bool dp_prog_on_demand(const char *name);
/* Program `name` of a pinned instance opened without its skeleton
 * (reused or adopted pins): loaded over dp's maps and pinned if it is
 * not yet.  0 or -errno (said). */
int dp_prog_need(struct dp *dp, const char *name);
/* The ids of the instance's maps (load.c): at most DP_MAX_MAPS. */
#define DP_MAX_MAPS 64
size_t dp_map_ids(const struct dp *dp, __u32 *ids);
/* reuse.c: the pinned map marking the pinned programs as this build's. */
#define DP_PIN_BUILD "xnsg_build"
__u64 dp_object_hash(void);
int dp_build_mark(void);
void dp_build_unmark(void);
/* Open the pinned maps and programs when the programs are this build's
 * and read these maps; -ESTALE (dp reset) when they must be loaded. */
int dp_reuse_pinned(struct dp *dp);
/* The ids of the maps program fd uses: *ids malloc'd (free it), *n of
 * them.  0 or -errno. */
int dp_prog_map_ids(int fd, __u32 **ids, __u32 *n);
/* The id of the map behind fd, 0 if unknown. */
__u32 dp_obj_id(int fd);
/* flowtable.c: the table of k's family and k as that table keys it
 * (k itself, or k4 filled in). */
const void *dp_ct_table_key(const struct dp *dp, const struct xnsg_ct_key *k,
			    struct xnsg_ct4_key *k4, int *fd);
void dp_ct_key_from4(struct xnsg_ct_key *k, const struct xnsg_ct4_key *k4);

#endif
