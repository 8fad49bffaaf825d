// SPDX-License-Identifier: MIT
/*
 * Generations (docs/DESIGN.md §3): a compiled policy is written into the
 * idle one of two generations, then one array update (the flip) makes it
 * the one packets are judged by; the old one is cleared after every
 * program that may still read it has finished.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xxhash.h>

#include "alloc.h"
#include "compile.h"
#include "datapath.h"
#include "dp_internal.h"
#include "log.h"
#include "model.h"

int dp_active_read(struct dp *dp, struct xnsg_active *a)
{
	__u32 zero = 0;

	memset(a, 0, sizeof(*a));
	if (bpf_map_lookup_elem(dp->fd_active, &zero, a))
		return -errno;
	a->gen &= 1;
	return 0;
}

int dp_flip(struct dp *dp, __u32 gen, __u32 serial)
{
	struct xnsg_active a = { .gen = gen, .serial = serial };
	__u32 zero = 0;

	return bpf_map_update_elem(dp->fd_active, &zero, &a, BPF_ANY) ? -errno : 0;
}

static bool lpm4_in_gen(const void *key, __u32 gen)
{
	return ((const struct xnsg_lpm4_key *)key)->tfg >> 24 == gen;
}

static bool lpm6_in_gen(const void *key, __u32 gen)
{
	return ((const struct xnsg_lpm6_key *)key)->tfg >> 24 == gen;
}

static bool iface_in_gen(const void *key, __u32 gen)
{
	return ((const struct xnsg_iface_key *)key)->gen == gen;
}

/* ---- interface entries: an array element below XNSG_IFINDEX_DIRECT,
 * else the hash (include/xnsg/abi.h) ---------------------------------- */

static __u32 iface_slot(__u32 gen, unsigned int ifindex)
{
	return gen * XNSG_IFINDEX_DIRECT + ifindex;
}

int dp_iface_set(struct dp *dp, __u32 gen, unsigned int ifindex, const struct xnsg_iface_cfg *cfg)
{
	struct xnsg_iface_key k = { .ifindex = ifindex, .gen = gen };
	struct xnsg_iface_cfg v = *cfg;
	__u32 slot = iface_slot(gen, ifindex);
	int err;

	v.present = 1;
	if (ifindex < XNSG_IFINDEX_DIRECT)
		err = bpf_map_update_elem(dp->fd_iface_idx, &slot, &v, BPF_ANY);
	else
		err = bpf_map_update_elem(dp->fd_ifaces, &k, &v, BPF_ANY);
	return err ? -errno : 0;
}

static bool iface_get(struct dp *dp, __u32 gen, unsigned int ifindex, struct xnsg_iface_cfg *cfg)
{
	struct xnsg_iface_key k = { .ifindex = ifindex, .gen = gen };
	__u32 slot = iface_slot(gen, ifindex);

	if (ifindex < XNSG_IFINDEX_DIRECT)
		return !bpf_map_lookup_elem(dp->fd_iface_idx, &slot, cfg) && cfg->present;
	return !bpf_map_lookup_elem(dp->fd_ifaces, &k, cfg);
}

static void iface_delete(struct dp *dp, __u32 gen, unsigned int ifindex)
{
	struct xnsg_iface_key k = { .ifindex = ifindex, .gen = gen };
	struct xnsg_iface_cfg none = { 0 };
	__u32 slot = iface_slot(gen, ifindex);

	if (ifindex < XNSG_IFINDEX_DIRECT)
		bpf_map_update_elem(dp->fd_iface_idx, &slot, &none, BPF_ANY);
	else
		bpf_map_delete_elem(dp->fd_ifaces, &k);
}

/*
 * Every interface entry of generation gen removed: the hash's deleted, the
 * array's slice zeroed through a mapping of the array (a batch update of
 * its 65,536 elements took 13 ms).  Only the idle generation is cleared,
 * after the grace period: no packet reads it.
 */
static int ifaces_clear(struct dp *dp, __u32 gen)
{
	size_t len = (size_t)XNSG_GENS * XNSG_IFINDEX_DIRECT * sizeof(struct xnsg_iface_cfg);
	int err = dp_map_delete_if(dp->fd_ifaces, sizeof(struct xnsg_iface_key), iface_in_gen, gen);
	struct xnsg_iface_cfg *v;

	if (err)
		return err;
	v = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dp->fd_iface_idx, 0);
	if (v == MAP_FAILED)
		return -errno;
	memset(v + iface_slot(gen, 0), 0, XNSG_IFINDEX_DIRECT * sizeof(*v));
	munmap(v, len);
	return 0;
}

/* The keyed entries of generation gen removed.  The policy's arrays need
 * no clearing: a generation's tables only reach the elements it wrote;
 * the interface array is reached by ifindex, so it is cleared too. */
int dp_clear_gen(struct dp *dp, __u32 gen)
{
	int err;

	err = dp_map_delete_if(dp->fd_lpm4, sizeof(struct xnsg_lpm4_key), lpm4_in_gen, gen);
	if (!err)
		err = dp_map_delete_if(dp->fd_lpm6, sizeof(struct xnsg_lpm6_key), lpm6_in_gen, gen);
	if (!err)
		err = ifaces_clear(dp, gen);
	return err;
}

/*
 * The keys and values of one LPM map, gathered from every table so that
 * they go in with one batch syscall (the kernel's generic batch update
 * of LPM tries) instead of one syscall each.
 */
struct lpm_batch {
	char *keys;
	struct xnsg_lpm_val *vals;
	size_t n, cap, ksize;
};

static void lpm_add(struct lpm_batch *b, __u32 gen, __u32 t, const struct lpm_entry *e)
{
	struct xnsg_lpm6_key k = { .prefixlen = 32 + e->prefix.len, .tfg = XNSG_TFG(gen, t, e->field) };

	_Static_assert(offsetof(struct xnsg_lpm4_key, addr) == offsetof(struct xnsg_lpm6_key, addr),
		       "the two LPM keys share their head");
	memcpy(k.addr, e->prefix.bytes, b->ksize - offsetof(struct xnsg_lpm6_key, addr));
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		b->keys = xrealloc(b->keys, b->cap * b->ksize);
		b->vals = xrealloc(b->vals, b->cap * sizeof(*b->vals));
	}
	memcpy(b->keys + b->n * b->ksize, &k, b->ksize);
	b->vals[b->n++] = (struct xnsg_lpm_val){ .cls = e->cls };
}

static int lpm_flush(int fd, struct lpm_batch *b)
{
	int err = dp_batch_put(fd, b->keys, b->ksize, b->vals, sizeof(*b->vals), b->n);

	free(b->keys);
	free(b->vals);
	return err;
}

/*
 * Whether the classifier may ask the LPM trie about an address of /16
 * block h: bpf/classify.h asks it only when the IPv4 multibit trie does
 * not answer, i.e. the block, or an entry below it, is XNSG_DIR4_TRIE (the
 * chunk pool ran out) or a pointer it cannot follow.  Each chunk belongs to
 * one block, so all blocks together read each chunk once.
 */
static bool block_asks_lpm(const struct compiled *c, const uint16_t *d, uint32_t h)
{
	const uint16_t *l2, *l3;

	if (d[h] < XNSG_DIR4_PTR)
		return false;
	if (d[h] == XNSG_DIR4_TRIE || d[h] - XNSG_DIR4_PTR >= (int)c->ndir4_next)
		return true;
	l2 = c->dir4_next[d[h] - XNSG_DIR4_PTR];
	for (int i = 0; i < 256; i++) {
		if (l2[i] < XNSG_DIR4_PTR)
			continue;
		if (l2[i] == XNSG_DIR4_TRIE || l2[i] - XNSG_DIR4_PTR >= (int)c->ndir4_next)
			return true;
		l3 = c->dir4_next[l2[i] - XNSG_DIR4_PTR];
		for (int j = 0; j < 256; j++)
			if (l3[j] >= XNSG_DIR4_PTR)
				return true;
	}
	return false;
}

/*
 * The IPv4 entries of one table the classifier can reach: those
 * overlapping a block that asks the LPM trie.  The trie then holds every
 * entry covering any address it is asked about, so its longest match is
 * the one over all entries; the other entries (all of them, unless the
 * chunk pool ran out) are never read and are not written.  asks[h] counts
 * the asking blocks below h, so an entry spanning blocks is one test.
 */
static void lpm4_gather(struct lpm_batch *b, const struct compiled *c, __u32 gen, __u32 t)
{
	const struct compiled_table *ct = &c->tables[t];
	uint32_t *asks[2] = { NULL, NULL };

	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST; f++) {
		if (!ct->dir4[f])
			continue; /* no multibit trie: every entry is read */
		asks[f] = xcalloc(65537, sizeof(*asks[f]));
		for (uint32_t h = 0; h < 65536; h++)
			asks[f][h + 1] = asks[f][h] + block_asks_lpm(c, ct->dir4[f], h);
	}
	for (size_t i = 0; i < ct->nlpm4; i++) {
		const struct lpm_entry *e = &ct->lpm4[i];
		const uint32_t *a = asks[e->field & 1];
		uint32_t lo = (uint32_t)e->prefix.bytes[0] << 8 | e->prefix.bytes[1];
		uint32_t hi = lo + (e->prefix.len < 16 ? 1u << (16 - e->prefix.len) : 1u);

		if (!a || a[hi] > a[lo])
			lpm_add(b, gen, t, e);
	}
	free(asks[0]);
	free(asks[1]);
}

/*
 * Whether the classifier may ask the LPM trie about an IPv6 address of a
 * field whose multibit trie starts at entry e: only where the trie hands
 * over (XNSG_DIR4_TRIE: the node pool ran out, or the prefixes nest
 * deeper than XNSG_DIR6_DEPTH).  When it never does, the field's IPv6
 * entries are never read and are not written; else all of them are.
 */
static bool dir6_asks_lpm(const struct compiled *c, uint16_t e)
{
	const struct xnsg_dir6_node *n;

	if (e < XNSG_DIR4_PTR)
		return false;
	if (e == XNSG_DIR4_TRIE || (size_t)(e - XNSG_DIR4_PTR) >= c->ndir6)
		return true;
	n = &c->dir6[e - XNSG_DIR4_PTR];
	if (n->miss >= XNSG_DIR4_PTR)
		return true;
	for (int i = 0; i < 256; i++)
		if (dir6_asks_lpm(c, n->e[i]))
			return true;
	return false;
}

static void lpm6_gather(struct lpm_batch *b, const struct compiled *c, __u32 gen, __u32 t)
{
	const struct compiled_table *ct = &c->tables[t];
	bool asks[2];

	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST; f++)
		asks[f] = dir6_asks_lpm(c, ct->desc.dir6_root[f]);
	for (size_t i = 0; i < ct->nlpm6; i++)
		if (asks[ct->lpm6[i].field & 1])
			lpm_add(b, gen, t, &ct->lpm6[i]);
}

static int put_table(struct dp *dp, __u32 gen, __u32 t, const struct compiled_table *ct)
{
	__u32 protos[XNSG_PROTOS];
	int err;

	for (int i = 0; i < XNSG_PROTOS; i++)
		protos[i] = ct->proto_class[i];
	err = dp_array_put(dp->fd_protos, (gen * XNSG_MAX_TABLES + t) * XNSG_PROTOS, protos,
			   XNSG_PROTOS, sizeof(__u32));
	for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST && !err; f++)
		err = dp_array_put(dp->fd_dir4,
				   ((gen * XNSG_MAX_TABLES + t) * 2 + (__u32)f) * XNSG_DIR4_CHUNKS,
				   ct->dir4[f], XNSG_DIR4_CHUNKS, sizeof(struct xnsg_dir4_chunk));
	if (!err)
		err = dp_array_put(dp->fd_tables, gen * XNSG_MAX_TABLES + t, &ct->desc, 1,
				   sizeof(ct->desc));
	return err;
}

/* The selected interfaces' entries, one batch for the array and one for
 * the hash (500 interfaces: two syscalls, not 500). */
int dp_write_ifaces(struct dp *dp, __u32 gen, const struct compiled *c, const unsigned int *ifindex)
{
	size_t cap = c->nifaces ? c->nifaces : 1, n = 0, nd = 0;
	struct xnsg_iface_key *k = xcalloc(cap, sizeof(*k));
	struct xnsg_iface_cfg *v = xcalloc(cap, sizeof(*v)), *vd = xcalloc(cap, sizeof(*vd));
	__u32 *kd = xcalloc(cap, sizeof(*kd));
	int err;

	for (size_t i = 0; i < c->nifaces; i++) {
		if (!ifindex || !ifindex[i])
			continue;
		if (ifindex[i] < XNSG_IFINDEX_DIRECT) {
			kd[nd] = iface_slot(gen, ifindex[i]);
			vd[nd] = c->ifaces[i].cfg;
			vd[nd++].present = 1;
		} else {
			k[n] = (struct xnsg_iface_key){ .ifindex = ifindex[i], .gen = gen };
			v[n] = c->ifaces[i].cfg;
			v[n++].present = 1;
		}
	}
	err = dp_batch_put(dp->fd_iface_idx, kd, sizeof(*kd), vd, sizeof(*vd), nd);
	if (!err)
		err = dp_batch_put(dp->fd_ifaces, k, sizeof(*k), v, sizeof(*v), n);
	free(k);
	free(v);
	free(kd);
	free(vd);
	return err;
}

/* Every table's LPM entries the classifier can reach, one batch per family. */
static int put_lpm(struct dp *dp, __u32 gen, const struct compiled *c)
{
	struct lpm_batch b4 = { .ksize = sizeof(struct xnsg_lpm4_key) };
	struct lpm_batch b6 = { .ksize = sizeof(struct xnsg_lpm6_key) };
	int err, err6;

	for (size_t t = 0; t < c->ntables; t++) {
		lpm4_gather(&b4, c, gen, (__u32)t);
		lpm6_gather(&b6, c, gen, (__u32)t);
	}
	err = lpm_flush(dp->fd_lpm4, &b4);
	err6 = lpm_flush(dp->fd_lpm6, &b6);
	return err ? err : err6;
}

int dp_write_gen(struct dp *dp, __u32 gen, const struct compiled *c, const unsigned int *ifindex)
{
	int err;

	err = dp_clear_gen(dp, gen);
	/* Slots of this generation may hold counts of an apply two back. */
	if (!err)
		err = dp_rule_counters_zero(dp, XNSG_RULE_STAT(gen, 0), (__u32)c->nrule_slots);
	if (!err)
		err = dp_array_put(dp->fd_classes, gen * XNSG_MAX_CLASSES, c->classes,
				   (__u32)c->nclasses, sizeof(struct xnsg_bitmap));
	for (size_t i = 0; i < c->nportmaps && !err; i++)
		err = dp_array_put(dp->fd_ports,
				   (gen * XNSG_MAX_PORTMAPS + (__u32)i) * XNSG_PORT_CHUNKS,
				   c->portmaps[i], XNSG_PORT_CHUNKS, sizeof(struct xnsg_port_chunk));
	if (!err)
		err = dp_array_put(dp->fd_dir4_next, gen * XNSG_DIR4_POOL, c->dir4_next,
				   (__u32)c->ndir4_next, sizeof(struct xnsg_dir4_next));
	if (!err)
		err = dp_array_put(dp->fd_dir6, gen * XNSG_DIR6_POOL, c->dir6, (__u32)c->ndir6,
				   sizeof(struct xnsg_dir6_node));
	for (size_t t = 0; t < c->ntables && !err; t++)
		err = put_table(dp, gen, (__u32)t, &c->tables[t]);
	if (!err)
		err = put_lpm(dp, gen, c);
	if (!err)
		err = dp_write_ifaces(dp, gen, c, ifindex);
	if (err == -E2BIG || err == -ENOSPC)
		pr_err("a BPF map is full while writing the policy: raise the limits in include/xnsg/abi.h");
	else if (err)
		pr_err("cannot write the policy into the BPF maps: %s", strerror(-err));
	return err;
}

int dp_iface_pass(struct dp *dp, __u32 gen, unsigned int ifindex)
{
	struct xnsg_iface_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	memset(cfg.table, 0xff, sizeof(cfg.table)); /* XNSG_NO_TABLE at every level */
	return dp_iface_set(dp, gen, ifindex, &cfg);
}

bool dp_iface_known(struct dp *dp, __u32 gen, unsigned int ifindex)
{
	struct xnsg_iface_cfg cfg;

	return iface_get(dp, gen, ifindex, &cfg);
}

static enum dp_iface_match match_of(const struct xnsg_iface_cfg *have, const struct xnsg_iface_cfg *want)
{
	struct xnsg_iface_cfg w = *want;

	if (!have->present)
		return DP_IFACE_ABSENT;
	w.present = 1;
	return memcmp(have, &w, sizeof(w)) ? DP_IFACE_OTHER : DP_IFACE_SAME;
}

/* The array's entries read through a mapping of it: 500 lookups were
 * 500 syscalls (~4 ms of an add-one). */
int dp_iface_match_all(struct dp *dp, __u32 gen, const struct compiled *c,
		       const unsigned int *ifindex, enum dp_iface_match *m)
{
	size_t len = (size_t)XNSG_GENS * XNSG_IFINDEX_DIRECT * sizeof(struct xnsg_iface_cfg);
	struct xnsg_iface_cfg *v = mmap(NULL, len, PROT_READ, MAP_SHARED, dp->fd_iface_idx, 0);

	if (v == MAP_FAILED)
		return -errno;
	for (size_t i = 0; i < c->nifaces; i++) {
		struct xnsg_iface_cfg have = { 0 };

		if (!ifindex[i])
			continue;
		if (ifindex[i] < XNSG_IFINDEX_DIRECT)
			have = v[iface_slot(gen, ifindex[i])];
		else if (!iface_get(dp, gen, ifindex[i], &have))
			have.present = 0;
		m[i] = match_of(&have, &c->ifaces[i].cfg);
	}
	munmap(v, len);
	return 0;
}

void dp_iface_remove(struct dp *dp, __u32 gen, unsigned int ifindex)
{
	iface_delete(dp, gen, ifindex);
}

/*
 * A digest of everything dp_write_gen() writes but the interface entries:
 * two policies of one digest give the classifier the same tables, so an
 * apply that changes only which interfaces use them can leave the active
 * generation's tables in place (docs/DESIGN.md §8 "Tables kept").  Whatever
 * dp_write_gen() comes to write must be hashed here too.
 */
static void digest_u64(XXH3_state_t *h, uint64_t v)
{
	XXH3_128bits_update(h, &v, sizeof(v));
}

void dp_gen_digest(const struct compiled *c, const void *extra, size_t extra_len,
		   char hex[DP_DIGEST_HEX])
{
	XXH3_state_t *h = XXH3_createState();
	XXH128_hash_t d;

	if (!h)
		oom();
	XXH3_128bits_reset(h);
	/* Who wrote the tables and who reads them: tables kept by a build
	 * that writes or reads the same compiled tables otherwise are not
	 * this build's. */
	digest_u64(h, DP_TABLES_FORMAT);
	digest_u64(h, dp_object_hash());
	digest_u64(h, c->ntables);
	digest_u64(h, c->nrule_slots);
	digest_u64(h, c->nclasses);
	XXH3_128bits_update(h, c->classes, c->nclasses * sizeof(*c->classes));
	digest_u64(h, c->nportmaps);
	XXH3_128bits_update(h, c->portmaps, c->nportmaps * sizeof(*c->portmaps));
	digest_u64(h, c->ndir4_next);
	XXH3_128bits_update(h, c->dir4_next, c->ndir4_next * sizeof(*c->dir4_next));
	digest_u64(h, c->ndir6);
	XXH3_128bits_update(h, c->dir6, c->ndir6 * sizeof(*c->dir6));
	for (size_t t = 0; t < c->ntables; t++) {
		const struct compiled_table *ct = &c->tables[t];
		const struct lpm_entry *l[2] = { ct->lpm4, ct->lpm6 };
		size_t nl[2] = { ct->nlpm4, ct->nlpm6 };

		XXH3_128bits_update(h, &ct->desc, sizeof(ct->desc));
		XXH3_128bits_update(h, ct->proto_class, sizeof(ct->proto_class));
		for (int f = XNSG_FIELD_SRC; f <= XNSG_FIELD_DST; f++) {
			digest_u64(h, ct->dir4[f] != NULL);
			if (ct->dir4[f])
				XXH3_128bits_update(h, ct->dir4[f], 65536 * sizeof(*ct->dir4[f]));
		}
		/* Field by field: struct lpm_entry has padding. */
		for (int fam = 0; fam < 2; fam++) {
			digest_u64(h, nl[fam]);
			for (size_t i = 0; i < nl[fam]; i++) {
				const struct lpm_entry *e = &l[fam][i];

				XXH3_128bits_update(h, e->prefix.bytes, sizeof(e->prefix.bytes));
				digest_u64(h, (uint64_t)e->prefix.family << 32 | (uint64_t)e->prefix.len << 24 |
						      (uint64_t)e->field << 16 | e->cls);
			}
		}
	}
	digest_u64(h, extra_len);
	XXH3_128bits_update(h, extra, extra_len);
	d = XXH3_128bits_digest(h);
	XXH3_freeState(h);
	snprintf(hex, DP_DIGEST_HEX, "%016llx%016llx", (unsigned long long)d.high64,
		 (unsigned long long)d.low64);
}

void dp_iface_forget(struct dp *dp, unsigned int ifindex)
{
	for (__u32 g = 0; g < XNSG_GENS; g++)
		iface_delete(dp, g, ifindex);
}

/* Idle timeouts of the policy (docs/DESIGN.md §2 "flowTimeouts"). */
int dp_write_config(struct dp *dp, const struct flow_timeouts *to)
{
	struct xnsg_config cfg = {};
	__u32 zero = 0;

	cfg.timeout_ns[XNSG_TO_TCP_ESTABLISHED] = to->tcp_established * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_TCP_TRANSITORY] = to->tcp_transitory * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_UDP] = to->udp * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_UDP_STREAM] = to->udp_stream * 1000000000ULL;
	cfg.timeout_ns[XNSG_TO_OTHER] = to->other * 1000000000ULL;
	return bpf_map_update_elem(dp->fd_config, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

/*
 * An update of a map-in-map from user space returns only after
 * synchronize_rcu() (the kernel's maybe_wait_bpf_programs()), and XDP and
 * TC programs run inside RCU read-side sections: so updating a throwaway
 * one is a portable "wait for every running program to finish".
 */
void dp_wait_readers(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, oo);
	int inner, outer;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xnsg_rcu_in", 4, 4, 1, NULL);
	if (inner < 0)
		goto fallback;
	oo.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "xnsg_rcu", 4, 4, 1, &oo);
	if (outer < 0) {
		close(inner);
		goto fallback;
	}
	if (bpf_map_update_elem(outer, &zero, &inner, BPF_ANY)) {
		/* No synchronize_rcu() happened: wait the other way. */
		pr_debug("grace period via map-in-map failed: %s", strerror(errno));
		close(outer);
		close(inner);
		goto fallback;
	}
	close(outer);
	close(inner);
	return;
fallback:
	usleep(50 * 1000); /* far longer than any program runs */
}
