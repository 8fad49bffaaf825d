/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The datapath's maps: BTF-defined, pinned by name under the pin
 * directory (docs/DESIGN.md §3).  Layouts and limits: include/xnsg/abi.h.
 * Included once, by xnsg.bpf.c, before the headers that use the maps.
 */
#ifndef XNSG_BPF_MAPS_H
#define XNSG_BPF_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xnsg_active);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_IFACES);
	__type(key, struct xnsg_iface_key);
	__type(value, struct xnsg_iface_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_IFINDEX_DIRECT);
	__type(key, __u32);
	__type(value, struct xnsg_iface_cfg);
	__uint(map_flags, BPF_F_MMAPABLE); /* a generation's slice is cleared by memset */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_iface_idx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_TABLES);
	__type(key, __u32);
	__type(value, struct xnsg_table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XNSG_MAX_LPM4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xnsg_lpm4_key);
	__type(value, struct xnsg_lpm_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XNSG_MAX_LPM6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xnsg_lpm6_key);
	__type(value, struct xnsg_lpm_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_TABLES * 2 * XNSG_DIR4_CHUNKS);
	__type(key, __u32);
	__type(value, struct xnsg_dir4_chunk);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping (user/datapath/maps.c) */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_dir4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_DIR4_POOL);
	__type(key, __u32);
	__type(value, struct xnsg_dir4_next);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping (user/datapath/maps.c) */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_dir4_next SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_DIR6_POOL);
	__type(key, __u32);
	__type(value, struct xnsg_dir6_node);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping (user/datapath/maps.c) */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_dir6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_PORTMAPS * XNSG_PORT_CHUNKS);
	__type(key, __u32);
	__type(value, struct xnsg_port_chunk);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping (user/datapath/maps.c) */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_TABLES * XNSG_PROTOS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_protos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_GENS * XNSG_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct xnsg_bitmap);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping (user/datapath/maps.c) */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XNSG_RULE_STATS_VALUES);
	__type(key, __u32);
	__type(value, struct xnsg_rule_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XNSG_REASON_SLOTS);
	__type(key, __u32);
	__type(value, struct xnsg_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XNSG_CT_MAX);
	__type(key, struct xnsg_ct4_key);
	__type(value, struct xnsg_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ct4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XNSG_CT6_MAX(XNSG_CT_MAX));
	__type(key, struct xnsg_ct_key);
	__type(value, struct xnsg_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ct6 SEC(".maps");

/* The flow table's filter (include/xnsg/abi.h: XNSG_SEEN_*), read and set
 * by the datapath, rebuilt by user space through its mapping. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XNSG_SEEN_ENTRIES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ct_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XNSG_FRAG_MAX);
	__type(key, struct xnsg_frag_key);
	__type(value, struct xnsg_frag_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xnsg_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XNSG_CT_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_ct_stats SEC(".maps");

/* ---- flow logs (bpf/flowlog.h) ---------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XNSG_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xnsg_fl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_fl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xnsg_fl_cpu);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_fl_cpu SEC(".maps");

/* Not LRU: a full map refuses a new tuple, which is then counted
 * suppressed, where an LRU would silently evict counts not yet logged.
 * IPv6 tuples here, IPv4 ones in xnsg_denies4 (a 20-byte key). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XNSG_DENY_MAX);
	__type(key, struct xnsg_deny_key);
	__type(value, struct xnsg_deny_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_denies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XNSG_DENY_MAX);
	__type(key, struct xnsg_deny4_key);
	__type(value, struct xnsg_deny_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_denies4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xnsg_fl_batch);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_fl_batch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xnsg_fl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xnsg_fl_stats SEC(".maps");

#endif
