// SPDX-License-Identifier: MIT
/* Map walks and per-CPU sums: written once, used by every reader. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.h"
#include "datapath.h"
#include "dp_internal.h"

/* Every key by batch lookups, a few syscalls for the whole map; -errno
 * where the kernel or the map type has none (keys as far as they went). */
static int keys_batch(int fd, size_t ksize, char **k, size_t *n)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), count;
	size_t cap = 0, vsize;
	char in[64], out[64];
	void *vals;
	int err = 0, ncpu = libbpf_num_possible_cpus();

	if (ksize > sizeof(in) || ncpu <= 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return -EINVAL;
	vsize = (info.value_size + 7) / 8 * 8;
	if (info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	    info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		vsize *= (size_t)ncpu;
	vals = xcalloc(4096, vsize);
	while (!err) {
		if (*n + 4096 > cap) {
			cap = 2 * cap + 4096;
			*k = xrealloc(*k, cap * ksize);
		}
		count = 4096;
		err = bpf_map_lookup_batch(fd, *n ? in : NULL, out, *k + *n * ksize, vals, &count, NULL)
			      ? -errno : 0;
		*n += count;
		memcpy(in, out, sizeof(in));
	}
	free(vals);
	return err == -ENOENT ? 0 : err;
}

int dp_map_keys(int fd, size_t ksize, void **keys, size_t *n)
{
	char *k = NULL;
	size_t cap = 0;

	*n = 0;
	if (!keys_batch(fd, ksize, &k, n)) {
		*keys = k;
		return 0;
	}
	*n = 0; /* one key at a time from the start */
	for (cap = 0;;) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			k = xrealloc(k, cap * ksize);
		}
		if (bpf_map_get_next_key(fd, *n ? k + (*n - 1) * ksize : NULL, k + *n * ksize))
			break;
		(*n)++;
	}
	*keys = k;
	return errno == ENOENT ? 0 : -errno;
}

size_t dp_map_count(int fd, size_t ksize)
{
	void *keys;
	size_t n;

	dp_map_keys(fd, ksize, &keys, &n);
	free(keys);
	return n;
}

int dp_map_delete_if(int fd, size_t ksize, bool (*mine)(const void *key, __u32 arg), __u32 arg)
{
	char *keys;
	size_t n;
	int err = dp_map_keys(fd, ksize, (void **)&keys, &n);

	size_t m = 0;
	__u32 count;

	for (size_t i = 0; i < n; i++) /* the keys to delete, packed */
		if (!mine || mine(keys + i * ksize, arg))
			memmove(keys + m++ * ksize, keys + i * ksize, ksize);
	count = (__u32)m;
	/* A batch stops at a key gone meanwhile (ENOENT, count: those before
	 * it); without batches, nothing was deleted. */
	if (m && bpf_map_delete_batch(fd, keys, &count, NULL))
		for (size_t i = errno == ENOENT ? count : 0; i < m; i++)
			if (bpf_map_delete_elem(fd, keys + i * ksize) && errno != ENOENT)
				err = -errno;
	free(keys);
	return err;
}

int dp_map_flush(int fd, size_t ksize)
{
	return dp_map_delete_if(fd, ksize, NULL, 0);
}

int dp_batch_put(int fd, const void *keys, size_t ksize, const void *vals, size_t vsize, size_t n)
{
	__u32 count = (__u32)n;

	if (!n || !bpf_map_update_batch(fd, keys, vals, &count, NULL))
		return 0;
	/* No batch for this map type or kernel, or a partial write: one
	 * element at a time from the start (BPF_ANY), which also yields the
	 * error worth reporting (a full map: E2BIG / ENOSPC). */
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksize,
					(const char *)vals + i * vsize, BPF_ANY))
			return -errno;
	return 0;
}

/*
 * n elements from first copied into a mapping of an mmapable array: the
 * batch syscall copies and checks element by element (~8 ms for the 4 MB
 * of classes of 4,000 rules, a memcpy well under one).  1 when the map is
 * not mmapable (an earlier build's pins), 0 or -errno.
 */
static int array_copy_in(int fd, __u32 first, const void *vals, __u32 n, size_t vsize)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), esz, lo, hi, size;
	char *m;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    !(info.map_flags & BPF_F_MMAPABLE) || info.value_size != vsize)
		return 1;
	esz = (vsize + 7) & ~(size_t)7;
	if ((size_t)first + n > info.max_entries)
		return -E2BIG;
	size = ((size_t)info.max_entries * esz + page - 1) & ~(page - 1);
	lo = (size_t)first * esz & ~(page - 1);
	hi = (((size_t)first + n) * esz + page - 1) & ~(page - 1);
	m = mmap(NULL, (hi < size ? hi : size) - lo, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)lo);
	if (m == MAP_FAILED)
		return 1;
	if (esz == vsize)
		memcpy(m + (size_t)first * esz - lo, vals, (size_t)n * vsize);
	else
		for (__u32 i = 0; i < n; i++)
			memcpy(m + ((size_t)first + i) * esz - lo, (const char *)vals + i * vsize, vsize);
	munmap(m, (hi < size ? hi : size) - lo);
	return 0;
}

int dp_array_put(int fd, __u32 first, const void *vals, __u32 n, size_t vsize)
{
	__u32 *keys;
	int err;

	if (!n)
		return 0;
	err = array_copy_in(fd, first, vals, n, vsize);
	if (err <= 0)
		return err;
	keys = xcalloc(n, sizeof(*keys));
	for (__u32 i = 0; i < n; i++)
		keys[i] = first + i;
	err = dp_batch_put(fd, keys, sizeof(*keys), vals, vsize, n);
	free(keys);
	return err;
}

int dp_prog_map_ids(int fd, __u32 **ids, __u32 *n)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info), nmaps;

	*ids = NULL;
	*n = 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	nmaps = info.nr_map_ids;
	*ids = xcalloc(nmaps ? nmaps : 1, sizeof(**ids));
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = nmaps;
	info.map_ids = (__u64)(uintptr_t)*ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*n = info.nr_map_ids < nmaps ? info.nr_map_ids : nmaps;
	return info.nr_map_ids == nmaps ? 0 : -EAGAIN; /* changed meanwhile */
}

unsigned int dp_map_max_entries(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

__u32 dp_obj_id(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* The per-CPU values of key: a malloc'd array of ncpu elements of size
 * vsize, or NULL (errno set). */
static void *percpu_lookup(int fd, __u32 key, size_t vsize, int *ncpu)
{
	void *v;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0) {
		errno = EINVAL;
		return NULL;
	}
	v = xcalloc((size_t)*ncpu, vsize);
	if (bpf_map_lookup_elem(fd, &key, v)) {
		int e = errno;

		free(v);
		errno = e;
		return NULL;
	}
	return v;
}

int dp_counter_read(int fd, __u32 key, struct xnsg_counter *sum)
{
	struct xnsg_counter *v;
	int ncpu;

	memset(sum, 0, sizeof(*sum));
	v = percpu_lookup(fd, key, sizeof(*v), &ncpu);
	if (!v)
		return -errno;
	for (int i = 0; i < ncpu; i++) {
		sum->packets += v[i].packets;
		sum->bytes += v[i].bytes;
	}
	free(v);
	return 0;
}

int dp_u64_read(int fd, __u32 key, __u64 *sum)
{
	__u64 *v;
	int ncpu;

	*sum = 0;
	v = percpu_lookup(fd, key, sizeof(*v), &ncpu);
	if (!v)
		return -errno;
	for (int i = 0; i < ncpu; i++)
		*sum += v[i];
	free(v);
	return 0;
}

int dp_u64_add(int fd, __u32 key, __u64 n)
{
	__u64 *v;
	int ncpu, err = 0;

	v = percpu_lookup(fd, key, sizeof(*v), &ncpu);
	if (!v)
		return -errno;
	v[0] += n;
	if (bpf_map_update_elem(fd, &key, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}
