// SPDX-License-Identifier: MIT
/*
 * The apply transaction (docs/DESIGN.md §8), in named steps:
 *
 *   lock -> select interfaces -> stage the idle generation -> record the
 *   intent -> give new interfaces a pass-all entry -> attach (rolled back
 *   on failure) -> commit: the flip -> retire the old generation (carry
 *   counters, clear) -> re-evaluate flows when asked -> record -> unlock
 *
 * The kernel enforces exactly the old policy until the flip and exactly
 * the new one after it; the record names both generations with the
 * serial of the apply that wrote them, so `status` reports what the
 * kernel enforces whichever step a crash interrupts.
 *
 * An apply whose tables are the active generation's (the same digest:
 * one more interface of a live policy, a CNI ADD, a re-apply) keeps them:
 * it writes only the entries of interfaces that have none, before their
 * hooks, and needs no flip, no grace period and no retirement (§8
 * "Tables kept").
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/if_link.h>
#include <malloc.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL /* the streaming state on the stack: no malloc */
#include <xxhash.h>

#include "addr.h"
#include "alloc.h"
#include "apply.h"
#include "compile.h"
#include "diag.h"
#include "datapath.h"
#include "log.h"
#include "model.h"
#include "policy.h"

struct txn_if {
	struct dp_attachment att; /* as attached (or to be) */
	struct dp_attachment old; /* before a receive-hook switch */
	bool selected;            /* judged by this apply's tables */
	bool named;               /* named by this apply: (re-)attached */
	bool fresh;               /* not attached before */
	bool switching;           /* --ingress changes its receive hook */
	bool attached;            /* attach done in this apply */
};

struct txn {
	const struct policy *p;
	const struct compiled *c;
	const struct apply_opts *o;
	struct dp dp;
	bool opened;            /* dp is open (its skeleton may be NULL: reused programs) */
	bool closable;          /* dp_open() was called: until then dp holds fd 0, not "none" */
	json_t *st;             /* the record */
	struct xnsg_active act; /* what the kernel enforced before */
	__u32 gen, serial;      /* the generation written, its apply serial */
	json_int_t stamp;       /* of its flip, in the record's mark (boot_ns()) */
	bool marked;            /* the record's mark is this apply's (the intent's) */
	bool was_pinned;
	struct txn_if *ifs;     /* parallel to c->ifaces */
	struct slots_text slots; /* the counter-slot names of c */
	json_t *names;          /* the policy's interfaces: name -> index in p->ifaces */
	int ifsock;             /* for SIOCGIFINDEX, -1 until needed */
	pthread_t grace;        /* waits for the old generation's readers */
	bool grace_running;     /* ... and has not been joined */
	char digest[DP_DIGEST_HEX]; /* of c's tables and slot names (dp_gen_digest()) */
	bool wait;              /* flows re-evaluated: the old generation retired after a grace period */
	bool gone;              /* an interface of the record is gone (or has another ifindex) */
	bool kept;              /* the active generation's tables kept: gen is act.gen */
	json_t *kept_was;       /* ... and its record entry before this apply */
	json_t *ifs_before;     /* the record's interfaces before this apply */
	unsigned int *added;    /* ... and the entries written into it (ifindex, parallel to c->ifaces) */
	struct apply_result *r;
};

static const struct iface *txn_iface(const struct txn *t, size_t i)
{
	return &t->p->ifaces[t->c->ifaces[i].iface];
}

/* policy_find_iface() by hash: the record's interfaces are matched to the
 * policy's by name two or three times an apply, and a linear search made
 * that O(n^2) for n interfaces (250,000 compares each at 500). */
static int txn_find_iface(struct txn *t, const char *name)
{
	json_t *i;

	if (!t->names) {
		t->names = json_object();
		for (size_t k = t->p->nifaces; k-- > 0;) /* the first of a name wins, as before */
			json_object_set_new_nocheck(t->names, t->p->ifaces[k].name,
						    json_integer((json_int_t)k));
	}
	i = json_object_get(t->names, name);
	return i ? (int)json_integer_value(i) : -1;
}

/* No stdio: on apply's hashing thread a malloc would make glibc a thread
 * arena (a 64 MB mapping cut down, each cut a TLB shootdown of the other
 * CPU). */
uint64_t apply_file_hash(const char *file, bool *exists)
{
	int fd = file ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	unsigned char buf[65536];
	XXH3_state_t st;
	ssize_t n;

	if (exists)
		*exists = fd >= 0;
	if (fd < 0)
		return 0;
	XXH3_64bits_reset(&st);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		XXH3_64bits_update(&st, buf, (size_t)n);
	close(fd);
	return n < 0 ? 0 : XXH3_64bits_digest(&st);
}

/*
 * The file's hash, read on a thread of its own while the policy is parsed
 * (apply_file()): the parse does not need it, and a 4,000-rule policy is
 * ~2 MB (FNV-1a, a byte at a time, took ~1.4 ms a megabyte; XXH3 ~0.1).
 */
struct file_hash {
	const char *file;
	uint64_t h;
	pthread_t thread;
	bool running;
};

static void *file_hash_run(void *arg)
{
	struct file_hash *fh = arg;

	fh->h = apply_file_hash(fh->file, NULL);
	return NULL;
}

static void file_hash_begin(struct file_hash *fh, const char *file)
{
	fh->file = file;
	fh->running = !pthread_create(&fh->thread, NULL, file_hash_run, fh);
}

/* The hash; computed here when no thread could be started. */
static uint64_t file_hash_end(struct file_hash *fh)
{
	if (!fh->running)
		return apply_file_hash(fh->file, NULL);
	pthread_join(fh->thread, NULL);
	fh->running = false;
	return fh->h;
}

/* ---- the record ------------------------------------------------------ */

static json_t *attachment_json(const struct dp_attachment *a, const struct iface *ifc)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:b, s:s}", "name", a->ifname, "ifindex",
			 (json_int_t)a->ifindex, "ingress",
			 a->ingress_tc			     ? "tc"
			 : a->xdp_mode == XDP_FLAGS_DRV_MODE ? "xdp-native"
							     : "xdp-generic",
			 "egress", "tc", "clsact_created", a->clsact_created, "attach",
			 ifc && ifc->attach == XNSG_ATTACH_PEER ? "peer" : "host");
}

void attachment_from_json(json_t *j, struct dp_attachment *a)
{
	const char *ingress = json_string_value(json_object_get(j, "ingress"));

	memset(a, 0, sizeof(*a));
	snprintf(a->ifname, sizeof(a->ifname), "%s",
		 json_string_value(json_object_get(j, "name")) ?: "?");
	a->ifindex = (unsigned int)json_integer_value(json_object_get(j, "ifindex"));
	a->ingress_tc = ingress && !strcmp(ingress, "tc");
	a->xdp_mode = a->ingress_tc					? 0
		      : ingress && !strcmp(ingress, "xdp-native") ? XDP_FLAGS_DRV_MODE
								  : XDP_FLAGS_SKB_MODE;
	a->clsact_created = json_is_true(json_object_get(j, "clsact_created"));
}

/* "NSG/Direction/RULE": the identity of a counter slot across updates. */
static void slot_names(const struct policy *p, const struct compiled *c, struct slots_text *st)
{
	char name[1024];

	memset(st, 0, sizeof(*st));
	for (size_t t = 0; t < c->ntables; t++)
		for (uint32_t b = 0; b < c->tables[t].nrules; b++) {
			const struct compiled_table *ct = &c->tables[t];

			snprintf(name, sizeof(name), "%s/%s/%s", p->nsgs[ct->nsg].name,
				 dir_name(ct->dir), ct->rules[b]->name);
			slots_escape(st, name);
		}
}

static json_t *gen_json(const struct txn *t)
{
	char when[32], *abs = t->p->file ? realpath(t->p->file, NULL) : NULL;
	time_t now = time(NULL);
	json_t *g;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	g = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "serial",
		      (json_int_t)t->serial, "policy", abs ? abs : t->p->file ? t->p->file : "-",
		      "hash", t->r->hash, "applied", when, "tables_digest", t->digest,
		      "tables", (json_int_t)t->c->ntables,
		      "rules", (json_int_t)t->c->nrule_slots, "classes", (json_int_t)t->c->nclasses,
		      "portmaps", (json_int_t)t->c->nportmaps, "ipv4_chunks",
		      (json_int_t)t->c->ndir4_next);
	free(abs);
	return g;
}

/* The record's interfaces after this apply: ours (pending until recorded
 * as done), then those attached earlier that this policy does not name. */
static json_t *ifaces_json(struct txn *t, bool pending)
{
	bool *kept = xcalloc(t->p->nifaces ? t->p->nifaces : 1, sizeof(*kept));
	json_t *ifs = json_array(), *j;
	size_t k;

	for (size_t i = 0; i < t->c->nifaces; i++) {
		if (!t->ifs[i].selected)
			continue;
		kept[t->c->ifaces[i].iface] = true;
		j = attachment_json(&t->ifs[i].att, txn_iface(t, i));
		if (pending && t->ifs[i].fresh)
			json_object_set_new(j, "pending", json_true());
		json_array_append_new(ifs, j);
	}
	json_array_foreach(json_object_get(t->st, "interfaces"), k, j) {
		int pi = txn_find_iface(t, json_string_value(json_object_get(j, "name")) ?: "");

		if (pi < 0 || !kept[pi])
			json_array_append(ifs, j);
	}
	free(kept);
	return ifs;
}

static int record(struct txn *t, bool pending)
{
	json_t *gens = json_object_get(t->st, "gens");

	if (!json_is_array(gens) || json_array_size(gens) != XNSG_GENS) {
		gens = json_pack("[n, n]");
		json_object_set_new(t->st, "gens", gens);
	}
	if (pending) {
		/* The names first: the record then names the file (kept tables:
		 * the file of the same names, by the digest). */
		int err = t->kept ? 0 : state_slots_write(t->gen, t->serial, &t->slots);

		if (err)
			return err;
		json_array_set_new(gens, t->gen, gen_json(t));
	}
	json_object_set_new(t->st, "version", json_integer(2));
	json_object_set_new(t->st, "interfaces", ifaces_json(t, pending));
	return state_write(t->st);
}

/* ---- steps ----------------------------------------------------------- */

/* The ifindex of interface name, 0 if none: an ioctl on one socket for
 * the whole apply.  A dump of the host's links (if_nameindex) costs ~5 ms
 * with 500 of them, an ioctl ~1.5 us: 500 ioctls beat one dump, and an
 * apply made two; if_nametoindex() opens a socket per name. */
static unsigned int link_index(struct txn *t, const char *name)
{
	struct ifreq r = {};

	if (t->ifsock < 0)
		t->ifsock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->ifsock < 0 || strlen(name) >= sizeof(r.ifr_name))
		return if_nametoindex(name);
	memcpy(r.ifr_name, name, strlen(name));
	return ioctl(t->ifsock, SIOCGIFINDEX, &r) ? 0 : (unsigned int)r.ifr_ifindex;
}

/* Which interfaces: asked for now, or attached by an earlier apply. */
static int select_ifaces(struct txn *t, int only)
{
	json_t *recorded = json_object(), *j;
	size_t n = 0, k;

	/* The record's interfaces by name: one pass, not one per interface. */
	json_array_foreach(json_object_get(t->st, "interfaces"), k, j)
		if (!json_object_get(recorded, json_string_value(json_object_get(j, "name")) ?: ""))
			json_object_set(recorded, json_string_value(json_object_get(j, "name")) ?: "", j);
	t->ifs = xcalloc(t->c->nifaces ? t->c->nifaces : 1, sizeof(*t->ifs));
	for (size_t i = 0; i < t->c->nifaces; i++) {
		struct txn_if *ti = &t->ifs[i];
		const struct iface *ifc = txn_iface(t, i);
		json_t *prev = json_object_get(recorded, ifc->name);
		bool named = !t->o->attached_only && (only < 0 || t->c->ifaces[i].iface == only);
		unsigned int idx;

		if (!named && !prev)
			continue;
		idx = link_index(t, ifc->name);
		t->gone |= prev && (json_int_t)idx != json_integer_value(json_object_get(prev, "ifindex"));
		if (!idx) {
			pr_warn("%s: no such interface on this host; skipped", ifc->name);
			continue;
		}
		if (prev)
			attachment_from_json(prev, &ti->att);
		ti->fresh = !prev || json_is_true(json_object_get(prev, "pending"));
		snprintf(ti->att.ifname, sizeof(ti->att.ifname), "%s", ifc->name);
		ti->att.ifindex = idx;
		/* The receive hook: --ingress when given (for the interfaces this
		 * apply names), else what an earlier apply chose, else XDP. */
		if (!prev)
			ti->att.ingress_tc = t->o->ingress == APPLY_INGRESS_TC;
		else if (t->o->ingress != APPLY_INGRESS_KEEP && named &&
			 ti->att.ingress_tc != (t->o->ingress == APPLY_INGRESS_TC))
			ti->switching = true;
		ti->selected = true;
		ti->named = named;
		n++;
	}
	/* Recorded, out of the policy, and gone from the host. */
	json_array_foreach(json_object_get(t->st, "interfaces"), k, j) {
		const char *name = json_string_value(json_object_get(j, "name")) ?: "";

		t->gone |= txn_find_iface(t, name) < 0 &&
			   (json_int_t)link_index(t, name) != json_integer_value(json_object_get(j, "ifindex"));
	}
	json_decref(recorded);
	if (!n && !t->o->attached_only)
		pr_err("%s: none of the policy's interfaces exists on this host",
		       t->p->file ? t->p->file : "policy");
	return n ? 0 : -ENODEV;
}

/* The next interface of the record from *k on that was attached earlier,
 * is not in this policy and still exists: its record entry, or NULL. */
static json_t *left_out(struct txn *t, size_t *k)
{
	json_t *ifs = json_object_get(t->st, "interfaces"), *j;

	for (; *k < json_array_size(ifs); ++*k) {
		const char *name;

		j = json_array_get(ifs, *k);
		name = json_string_value(json_object_get(j, "name")) ?: "";
		if (txn_find_iface(t, name) < 0 && link_index(t, name))
			return j;
	}
	return NULL;
}

/*
 * Whether this apply can keep the active generation's tables (§8 "Tables
 * kept"): they are this policy's (the digest its record entry names), no
 * interface is left out (it would need a pass-all entry), and every
 * selected interface's entry there is the one this policy gives it, or
 * there is none and the interface is new (no hook reads the entry yet).
 * Not on a first apply, nor with --reset-flows.
 */
static bool tables_kept(struct txn *t)
{
	json_t *old = state_gen(t->st, t->act.gen, t->act.serial);
	const char *d = json_string_value(json_object_get(old, "tables_digest"));
	size_t k = 0, n = t->c->nifaces ? t->c->nifaces : 1;
	enum dp_iface_match *m;
	bool keep;

	if (!t->was_pinned || t->o->reset_flows || !d || strcmp(d, t->digest) || left_out(t, &k))
		return false;
	t->added = xcalloc(n, sizeof(*t->added));
	m = xcalloc(n, sizeof(*m));
	for (size_t i = 0; i < t->c->nifaces; i++)
		t->added[i] = t->ifs[i].selected ? t->ifs[i].att.ifindex : 0;
	keep = !dp_iface_match_all(&t->dp, t->act.gen, t->c, t->added, m);
	for (size_t i = 0; i < t->c->nifaces && keep; i++) {
		if (!t->added[i])
			continue;
		/* Attached earlier and no entry: something is amiss, the whole way. */
		keep = m[i] == DP_IFACE_SAME || (m[i] == DP_IFACE_ABSENT && t->ifs[i].fresh);
		if (m[i] == DP_IFACE_SAME)
			t->added[i] = 0; /* nothing to write */
	}
	free(m);
	if (!keep) {
		free(t->added);
		t->added = NULL;
		return false;
	}
	t->kept_was = json_incref(old);
	t->gen = t->act.gen;
	t->serial = t->act.serial;
	return true;
}

/* Interfaces attached earlier that this policy leaves out pass everything
 * in the new generation: an explicit entry, since a missing one drops.
 * Kept tables: only the new interfaces' entries, into the active one. */
static int stage(struct txn *t)
{
	unsigned int *ifindex;
	json_t *j;
	size_t k = 0;
	int err;

	if (t->kept)
		return dp_write_ifaces(&t->dp, t->gen, t->c, t->added);
	ifindex = xcalloc(t->c->nifaces ? t->c->nifaces : 1, sizeof(*ifindex));
	for (size_t i = 0; i < t->c->nifaces; i++)
		ifindex[i] = t->ifs[i].selected ? t->ifs[i].att.ifindex : 0;
	err = dp_write_gen(&t->dp, t->gen, t->c, ifindex);
	free(ifindex);
	for (; !err && (j = left_out(t, &k)); k++) {
		const char *name = json_string_value(json_object_get(j, "name"));

		pr_warn("%s: attached earlier but not in this policy; it now passes everything "
			"('xnsg detach -i %s' removes the hooks)", name, name);
		err = dp_iface_pass(&t->dp, t->gen,
				    (unsigned int)json_integer_value(json_object_get(j, "ifindex")));
	}
	return err;
}

/* Until the flip, a new interface is judged by the old generation, where
 * it has no entry: give it one that passes, as it did before xnsg. */
static int pass_new(struct txn *t)
{
	for (size_t i = 0; i < t->c->nifaces; i++) {
		unsigned int idx = t->ifs[i].att.ifindex;

		if (t->ifs[i].selected && !dp_iface_known(&t->dp, t->act.gen, idx)) {
			int err = dp_iface_pass(&t->dp, t->act.gen, idx);

			if (err)
				return err;
		}
	}
	return 0;
}

static void rollback_attach(struct txn *t)
{
	for (size_t i = 0; i < t->c->nifaces; i++)
		if (t->ifs[i].attached && t->ifs[i].fresh)
			dp_detach(&t->dp, &t->ifs[i].att);
}

static int attach_one(struct txn *t, struct txn_if *ti)
{
	int err;

	ti->old = ti->att;
	if (ti->switching) {
		ti->att.ingress_tc = t->o->ingress == APPLY_INGRESS_TC;
		ti->att.xdp_mode = 0;
	}
	err = dp_attach(&t->dp, &ti->att);
	if (!err && ti->switching)
		err = dp_detach_ingress(&t->dp, &ti->old); /* the new hook is in place */
	return err;
}

/*
 * Hooks first: until the flip they see the old generation.  An interface
 * attached earlier that this apply does not name (-i, a CNI ADD) keeps
 * the hooks it has: they read the same maps, so the flip moves it to the
 * new tables too, and re-attaching it would cost a link dump per
 * interface (O(n^2) for n containers) for nothing.  A full apply names
 * every interface and so repairs a missing hook.
 */
static int attach_all(struct txn *t)
{
	for (size_t i = 0; i < t->c->nifaces; i++) {
		struct txn_if *ti = &t->ifs[i];
		int err;

		if (!ti->selected || (!ti->named && !ti->fresh))
			continue;
		err = attach_one(t, ti);
		if (err) {
			rollback_attach(t);
			return err;
		}
		ti->attached = true;
		apply_step("attached-one");
	}
	return 0;
}

/* The lines of a struct slots_text by content: open addressing on FNV-1a. */
struct slot_index {
	const struct slots_text *t;
	size_t *at;   /* offset of the line of each bucket, SIZE_MAX empty */
	__u32 *slot;  /* its slot */
	size_t mask;
};

static size_t line_len(const struct slots_text *t, size_t at)
{
	const char *nl = memchr(t->text + at, '\n', t->len - at);

	return nl ? (size_t)(nl - t->text) - at : t->len - at;
}

static size_t *bucket(const struct slot_index *x, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	for (size_t b = h & x->mask;; b = (b + 1) & x->mask)
		if (x->at[b] == SIZE_MAX ||
		    (line_len(x->t, x->at[b]) == len && !memcmp(x->t->text + x->at[b], s, len)))
			return &x->at[b];
}

static void index_build(struct slot_index *x, const struct slots_text *t)
{
	size_t cap = 16;
	__u32 slot = 0;

	while (cap < 2 * t->n)
		cap *= 2;
	x->t = t;
	x->mask = cap - 1;
	x->at = xcalloc(cap, sizeof(*x->at));
	x->slot = xcalloc(cap, sizeof(*x->slot));
	memset(x->at, 0xff, cap * sizeof(*x->at));
	for (size_t at = 0; at < t->len; slot++) {
		size_t len = line_len(t, at), *b = bucket(x, t->text + at, len);

		*b = at; /* a repeated name: the later slot, as before */
		x->slot[b - x->at] = slot;
		at += len + 1;
	}
}

/*
 * The grace period after the flip (docs/DESIGN.md §3): waited on a thread
 * of its own, ~10-16 ms of the kernel's synchronize_rcu() in which the
 * apply does what does not touch the old generation (finish()).  It
 * starts after the flip, so every program that may read the old
 * generation began before it and has finished when it ends; grace_end()
 * joins it before anything that must see no such reader: the counter
 * carry, the clearing, the flows' re-evaluation.
 */
static void *grace_run(void *arg)
{
	(void)arg;
	dp_wait_readers();
	apply_step("grace-period");
	return NULL;
}

static void grace_begin(struct txn *t)
{
	t->grace_running = !pthread_create(&t->grace, NULL, grace_run, NULL);
	if (!t->grace_running)
		grace_run(NULL); /* no thread: waited here */
}

static void grace_end(struct txn *t)
{
	if (t->grace_running)
		pthread_join(t->grace, NULL);
	t->grace_running = false;
}

/* The pairs of counter slots of the rules named alike in generation
 * from_gen (names was) and to_gen (names now). */
struct carry {
	__u32 *from, *to;
	size_t n;
};

static void carry_find(struct carry *cr, __u32 from_gen, const struct slots_text *was, __u32 to_gen,
		       const struct slots_text *now)
{
	size_t cap = now->n ? now->n : 1;
	struct slot_index x;
	__u32 slot = 0;

	cr->from = xcalloc(cap, sizeof(*cr->from));
	cr->to = xcalloc(cap, sizeof(*cr->to));
	cr->n = 0;
	index_build(&x, was);
	for (size_t at = 0; at < now->len && cr->n < cap; slot++) {
		size_t len = line_len(now, at), *b = bucket(&x, now->text + at, len);

		if (*b != SIZE_MAX) {
			cr->from[cr->n] = XNSG_RULE_STAT(from_gen, x.slot[b - x.at]);
			cr->to[cr->n++] = XNSG_RULE_STAT(to_gen, slot);
		}
		at += len + 1;
	}
	free(x.at);
	free(x.slot);
}

/* The counts moved, then generation from_gen's nfrom slots zeroed: what
 * comes into them later is what a later carry moves, never twice.  A
 * failure (a move may have written part of its blocks, and nothing is
 * zeroed after one) leaves counts a later carry could move again: the
 * caller carries none later (-errno). */
static int carry_do(struct txn *t, struct carry *cr, __u32 from_gen, size_t nfrom)
{
	int err = dp_counters_move(&t->dp, cr->from, cr->to, cr->n);

	if (!err)
		err = getenv("XNSG_TEST_CARRY_ZERO_FAIL") ? -EIO
			: dp_rule_counters_zero(&t->dp, XNSG_RULE_STAT(from_gen, 0), (__u32)nfrom);
	free(cr->from);
	free(cr->to);
	if (err)
		pr_warn("the rule counters of the policy replaced could not all be carried (%s): "
			"stats may miss some of their counts", strerror(-err));
	return err;
}

/* The names of the record's entry of generation gen (whatever its
 * serial), empty when there are none. */
static void gen_names(struct txn *t, __u32 gen, struct slots_text *names)
{
	json_t *g = json_array_get(json_object_get(t->st, "gens"), gen);

	state_gen_slots_text(json_is_object(g) ? g : NULL, gen, names);
}

/*
 * After the flip, when no flow is re-evaluated (§8 step 9): the counters
 * of rules that survive the update carried now, without waiting for the
 * grace period; a packet the old tables judged that is still running
 * counts into the old slots afterwards, and the next apply, after a
 * grace period, carries that too (retire_pending()).  The old
 * generation's entries stay until the next apply writes it.
 */
static void carry_now(struct txn *t)
{
	struct slots_text was;
	struct carry cr;

	gen_names(t, t->act.gen, &was);
	carry_find(&cr, t->act.gen, &was, t->gen, &t->slots);
	/* Failed: the next apply waits its grace period but carries nothing
	 * (what came in since is lost, not counted twice). */
	if (carry_do(t, &cr, t->act.gen, was.n)) {
		json_object_set_new(json_object_get(t->st, "retire"), "carry", json_false());
		if (state_write(t->st))
			pr_warn("the next apply may count the replaced policy's rules twice in stats");
	}
	free(was.text);
	apply_step("carried");
}

/* Flows re-evaluated: no packet still judged by the old generation when
 * the counts move and it is cleared.  The pairs of slots are found during
 * the grace period, the counts moved after it. */
static void retire(struct txn *t)
{
	struct slots_text was;
	struct carry cr;

	gen_names(t, t->act.gen, &was);
	carry_find(&cr, t->act.gen, &was, t->gen, &t->slots);
	grace_end(t);
	apply_step("retiring");
	carry_do(t, &cr, t->act.gen, was.n);
	free(was.text);
	dp_clear_gen(&t->dp, t->act.gen);
}

/*
 * A grace period begun early (apply_grace_begin()), while the policy is
 * read: the one an earlier apply's carry_now() left for this one.  It
 * covers that apply's flip when the record bore the same mark (serial and
 * stamp) before it began (the record is written after the flip).
 */
static struct {
	pthread_t thread;
	bool running;
	json_int_t serial, stamp; /* the pending retirement's mark it was begun for */
} early;

/* CLOCK_BOOTTIME in ns: with the serial, names one flip (serials restart
 * after detach --all). */
static json_int_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (json_int_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void apply_grace_begin(void)
{
	json_t *st = state_read();
	json_t *m = json_object_get(st, "retire");

	/* A keeper (keeper.c) keeps the flip's grace period: no wait of our own. */
	if (m && !early.running && !json_is_true(json_object_get(m, "keeper"))) {
		early.serial = json_integer_value(json_object_get(m, "serial"));
		early.stamp = json_integer_value(json_object_get(m, "stamp"));
		early.running = !pthread_create(&early.thread, NULL, grace_run, NULL);
	}
	json_decref(st);
}

/* Whether the early grace period covers the flip of mark m; joined
 * either way. */
static bool early_grace_end(const json_t *m)
{
	bool covers = early.running && early.serial == json_integer_value(json_object_get(m, "serial")) &&
		      early.stamp == json_integer_value(json_object_get(m, "stamp"));

	if (early.running)
		pthread_join(early.thread, NULL);
	early.running = false;
	return covers;
}

void apply_grace_end(void)
{
	early_grace_end(NULL);
}

/* Whether the keeper the flip of mark m started kept its grace period. */
static bool kept_by_keeper(const json_t *m)
{
	if (!json_is_true(json_object_get(m, "keeper")) ||
	    !apply_grace_kept(json_integer_value(json_object_get(m, "serial")),
			      json_integer_value(json_object_get(m, "stamp"))))
		return false;
	apply_step("grace-kept");
	return true;
}

/*
 * The rest of an earlier apply's retirement (carry_now()), before this one
 * writes the idle generation: after a grace period (no packet the old
 * tables judged still running), what still came into its slots carried
 * into the active generation's, and the record's mark dropped.  A mark
 * another flip made stale (a crash) is dropped alone.
 */
static void retire_pending(struct txn *t)
{
	json_t *m = json_object_get(t->st, "retire");
	json_int_t serial = json_integer_value(json_object_get(m, "serial"));
	__u32 old = t->act.gen ^ 1;
	struct slots_text was, now;
	struct carry cr;

	if (!m)
		return;
	if (serial == (json_int_t)t->act.serial &&
	    json_integer_value(json_object_get(m, "gen")) == (json_int_t)old) {
		if (!early_grace_end(m) && !kept_by_keeper(m)) {
			dp_wait_readers();
			apply_step("grace-period");
		}
		if (!json_is_false(json_object_get(m, "carry"))) {
			gen_names(t, old, &was);
			gen_names(t, t->act.gen, &now);
			carry_find(&cr, old, &was, t->act.gen, &now);
			/* Failed part way: the record says so at once, so that
			 * an apply that fails before its own record leaves the
			 * next one no carry to repeat. */
			if (carry_do(t, &cr, old, was.n)) {
				json_object_set_new(m, "carry", json_false());
				if (state_write(t->st))
					pr_warn("the next apply may count the replaced policy's "
						"rules twice in stats");
			}
			free(was.text);
			free(now.text);
		}
	}
	json_object_del(t->st, "retire");
	apply_step("carried-pending");
}

/* ---- the transaction ------------------------------------------------- */

/* The record's mark of this apply's flip (§8 step 9): the old generation
 * to retire, the flip's serial and stamp, and whether a keeper keeps its
 * grace period. */
static json_t *retire_mark(const struct txn *t, bool keeper)
{
	json_t *m = json_pack("{s:I, s:I, s:I}", "gen", (json_int_t)t->act.gen, "serial",
			      (json_int_t)t->serial, "stamp", t->stamp);

	if (keeper)
		json_object_set_new(m, "keeper", json_true());
	return m;
}

static int prepare(struct txn *t)
{
	int only = -1, err;

	if (t->o->only) {
		only = policy_find_iface(t->p, t->o->only);
		if (only < 0) {
			pr_err("%s: not an interface of %s", t->o->only, t->p->file ? t->p->file : "the policy");
			return -ENOENT;
		}
	}
	err = select_ifaces(t, only);
	if (err)
		return err;
	/* record() replaces the array, so this one stays as it was. */
	t->ifs_before = json_incref(json_object_get(t->st, "interfaces"));
	t->was_pinned = dp_is_pinned();
	err = dp_open(&t->dp, DP_PINNED | DP_REUSE, t->o->max_flows);
	t->closable = true;
	t->opened = !err;
	if (!err)
		err = dp_active_read(&t->dp, &t->act);
	if (!err)
		retire_pending(t);
	/* Always the idle generation, even on a first apply: hooks attached
	 * before the flip must meet the old one's pass-all entries. */
	t->gen = t->act.gen ^ 1;
	t->serial = t->act.serial + 1;
	/* Flows re-evaluated after the flip wait for the grace period (§8). */
	t->wait = t->o->reset_flows || flows_flushing(t->p);
	if (!err)
		t->kept = tables_kept(t);
	return err;
}

/* Steps up to the flip; on failure the kernel enforces what it did. */
static int stage_and_attach(struct txn *t)
{
	int err;

	err = stage(t);
	apply_step("staged");
	/* The intent bears the mark of the flip to come: an apply killed past
	 * its flip, before its last record, leaves the next one the wait for
	 * that flip's readers (a mark of a flip that never came is dropped). */
	if (!err && !t->kept) {
		t->stamp = boot_ns();
		json_object_set_new(t->st, "retire", retire_mark(t, false));
		t->marked = true;
	}
	if (!err)
		err = record(t, true);
	apply_step("recorded-intent");
	if (!err)
		err = pass_new(t);
	if (!err)
		err = dp_pin_programs(&t->dp);
	apply_step("pinned");
	if (!err)
		err = attach_all(t);
	apply_step("attached");
	return err;
}

/*
 * Whether this apply retires the old generation whole, after a grace
 * period begun at its flip (§8 step 9): when flows are re-evaluated, and
 * on a first apply, whose generation 0 holds only the pass-all entries of
 * the hooks attached before the flip: its grace period runs beside step
 * 8, and the update after it then waits for none before it writes them.
 */
static bool retires_whole(const struct txn *t)
{
	return t->wait || !t->was_pinned;
}

static int commit(struct txn *t)
{
	int err;

	if (t->kept) { /* nothing to flip: the new interfaces' entries are live */
		apply_step("tables-kept");
	} else {
		err = dp_flip(&t->dp, t->gen, t->serial);
		if (err) {
			pr_err("cannot switch to the new policy: %s", strerror(-err));
			rollback_attach(t);
			return err;
		}
		apply_step("flipped");
		if (retires_whole(t))
			grace_begin(t);
	}
	/* Idle timeouts are not generational: written once the policy is in,
	 * which a failure here does not undo (its hooks and entries are live;
	 * failing the apply would unrecord them). */
	err = dp_write_config(&t->dp, &t->p->timeouts);
	if (err)
		pr_warn("the policy is applied, but its flow idle timeouts are not: %s", strerror(-err));
	return 0;
}

/* Interfaces attached after this apply that exist on the host: a recorded
 * one that is gone is not "applied to". */
static size_t count_present(struct txn *t)
{
	size_t n = 0, k = 0;

	/* As the host has them now, after the attach: the selected ones, and
	 * those left out of the policy (left_out() asks the host); a recorded
	 * interface of the policy that is not selected is not on the host. */
	for (size_t i = 0; i < t->c->nifaces; i++)
		n += t->ifs[i].selected && link_index(t, t->ifs[i].att.ifname);
	for (; left_out(t, &k); k++)
		n++;
	return n;
}

/*
 * After the flip: first what needs no grace period (the result, the
 * record: it names the new generation, active since the flip), while it
 * runs; then, after it, the old generation retired and the flows
 * re-evaluated.  A crash in between leaves the old generation as the idle
 * one, which the next apply clears before writing it (§8).
 */
static int finish(struct txn *t)
{
	bool later = !t->kept && !retires_whole(t); /* the retirement left partly to the next apply */
	int err, keeper;

	t->r->ntables = t->c->ntables;
	t->r->nrules = t->c->nrule_slots;
	t->r->ninterfaces = count_present(t);
	/* The old generation's counters are carried now and again by the next
	 * apply (retire_pending()), once its readers are gone: a keeper waits
	 * for them from now on.  Retired here: the intent's mark stays until
	 * the retirement is done. */
	keeper = later ? apply_grace_keeper_lock((long long)t->serial) : -1;
	if (later)
		json_object_set_new(t->st, "retire", retire_mark(t, keeper >= 0));
	err = record(t, false);
	apply_step("recorded");
	if (keeper >= 0 && err)
		close(keeper);
	else if (keeper >= 0)
		apply_grace_keep((long long)t->serial, (long long)t->stamp, keeper);
	/* The heap's free pages back to the kernel while the grace period
	 * runs, rather than torn down by the exit after it (~1.5 ms of 8 MB
	 * after an update of 4,000 rules); the daemon keeps less, too. */
	malloc_trim(0);
	/* No record of the mark: nothing would finish the retirement, so all
	 * of it now, after a grace period of its own. */
	if (later && err)
		grace_begin(t);
	if (!t->kept && (!later || err)) {
		if (t->was_pinned)
			retire(t);
		else /* generation 0 holds only pass-all entries: the next apply's
		      * step 3 clears them with the rest; clearing here walked
		      * every LPM entry of generation 1 (+40 ms at 100,000) */
			grace_end(t);
		apply_step("retired");
		if (!err && json_object_get(t->st, "retire")) { /* done: no mark */
			json_object_del(t->st, "retire");
			if (state_write(t->st))
				pr_warn("the next apply will wait for a grace period it need not");
		}
	} else if (later) {
		carry_now(t);
	}
	/* Existing flows survive an update (Azure) unless asked; the walk
	 * also deletes the flows of interfaces gone, and only when asked or
	 * one is does an apply make it (§8 step 10). */
	if (t->wait || t->gone)
		flows_reevaluate(&t->dp, t->p, t->o->reset_flows, &t->r->flows_checked,
				 &t->r->flows_cut);
	apply_step("flows");
	return err;
}

/* The record without what this apply added: its generation's entry (kept
 * tables: the entry as it was), and its new interfaces (rolled back or
 * never attached) as the record had them before, pending or not at all. */
static void unrecord(struct txn *t, json_t *gen_was)
{
	for (size_t i = 0; i < t->c->nifaces; i++)
		t->ifs[i].selected &= !t->ifs[i].fresh;
	json_array_set(json_object_get(t->st, "gens"), t->gen, gen_was);
	json_object_set_new(t->st, "interfaces", t->ifs_before ? json_incref(t->ifs_before) : json_array());
	if (t->marked) /* no flip came */
		json_object_del(t->st, "retire");
	record(t, false);
}

/* A failed apply: the idle generation is cleared (nothing reads it), the
 * record loses what this apply added, and a first apply leaves no pins.
 * Kept tables: the live generation loses only the entries this apply
 * wrote into it. */
static void abort_txn(struct txn *t)
{
	if (!t->opened)
		return;
	if (t->kept) {
		for (size_t i = 0; i < t->c->nifaces; i++)
			if (t->added[i])
				dp_iface_remove(&t->dp, t->gen, t->added[i]);
		unrecord(t, t->kept_was);
		return;
	}
	dp_clear_gen(&t->dp, t->gen);
	if (!t->was_pinned) {
		dp_close(&t->dp);
		dp_unpin_all();
		state_remove();
		return;
	}
	if (t->st && json_array_get(json_object_get(t->st, "gens"), t->gen))
		unrecord(t, json_null());
}

/* apply_policy_locked(), the policy file's hash given (hashed: not NULL). */
static int apply_hashed(const struct policy *p, const struct compiled *c,
			const struct apply_opts *o, struct apply_result *r, const uint64_t *hashed)
{
	struct txn t = { .p = p, .c = c, .o = o, .r = r, .ifsock = -1 };
	int err;

	memset(r, 0, sizeof(*r));
	snprintf(r->hash, sizeof(r->hash), "%016llx",
		 (unsigned long long)(hashed ? *hashed : apply_file_hash(p->file, NULL)));
	apply_step("locked");
	slot_names(p, c, &t.slots);
	dp_gen_digest(c, t.slots.text, t.slots.len, t.digest);
	t.st = state_read() ?: json_object();
	err = prepare(&t);
	if (!err)
		err = stage_and_attach(&t);
	if (!err)
		err = commit(&t);
	if (err)
		abort_txn(&t);
	else
		err = finish(&t);
	if (t.closable)
		dp_close(&t.dp);
	json_decref(t.st);
	free(t.ifs);
	free(t.slots.text);
	json_decref(t.names);
	json_decref(t.kept_was);
	json_decref(t.ifs_before);
	free(t.added);
	if (t.ifsock >= 0)
		close(t.ifsock);
	return err;
}

int apply_policy_locked(const struct policy *p, const struct compiled *c,
			const struct apply_opts *o, struct apply_result *r)
{
	return apply_hashed(p, c, o, r, NULL);
}

int apply_policy(const struct policy *p, const struct compiled *c, const struct apply_opts *o,
		 struct apply_result *r)
{
	char *what = xasprintf("apply %s", p->file ? p->file : "-");
	int lock = apply_lock(what), err;

	free(what);
	if (lock < 0) {
		memset(r, 0, sizeof(*r));
		return lock;
	}
	err = apply_policy_locked(p, c, o, r);
	apply_unlock(lock);
	return err;
}

int apply_load(const char *file, struct policy **p, struct compiled **c)
{
	json_t *ov = overlay_read();
	int err = overlay_load(file, ov, false, p, c);

	json_decref(ov);
	return err;
}

/* The containers changed between the load and the lock: load again, so
 * that the apply carries every container recorded now. */
static int reload_if_changed(const char *file, json_int_t serial, struct policy **p,
			     struct compiled **c)
{
	json_t *ov = overlay_read();
	int err = 0;

	if (overlay_serial(ov) != serial) {
		compiled_free(*c);
		policy_free(*p);
		err = overlay_load(file, ov, false, p, c);
	}
	json_decref(ov);
	return err;
}

int apply_file(const char *file, const struct apply_opts *o, struct apply_result *r,
	       struct policy **pout, struct compiled **cout)
{
	json_t *ov = overlay_read();
	json_int_t serial = overlay_serial(ov);
	struct compiled *c = NULL;
	struct policy *p = NULL;
	struct file_hash fh;
	uint64_t hash;
	char *what;
	int lock, err;

	memset(r, 0, sizeof(*r));
	if (pout) {
		*pout = NULL;
		*cout = NULL;
	}
	/* A first apply loads the datapath while the policy is read; the
	 * file is hashed meanwhile too. */
	dp_preload(o->max_flows, o->ingress == APPLY_INGRESS_TC);
	apply_grace_begin();
	file_hash_begin(&fh, file);
	/* A bad policy, or a host that cannot enforce, never takes the lock. */
	err = overlay_load(file, ov, false, &p, &c);
	json_decref(ov);
	hash = file_hash_end(&fh);
	if (!err && o->refuse_unfiltered && !policy_filtered_ifaces(p)) {
		pr_err("%s: no NSG applies to any interface: the policy filters nothing; nothing "
		       "changed (bind an NSG to an interface or its subnet; xnsg check says more)",
		       file);
		err = -EINVAL;
	}
	if (!err)
		err = dp_check_env(true);
	if (err) {
		apply_grace_end();
		dp_preload_drop();
		compiled_free(c);
		policy_free(p);
		return err;
	}
	what = xasprintf("apply %s", file);
	lock = apply_lock(what);
	free(what);
	err = lock < 0 ? lock : reload_if_changed(file, serial, &p, &c);
	if (!err)
		err = apply_hashed(p, c, o, r, &hash);
	apply_unlock(lock);
	apply_grace_end();
	dp_preload_drop(); /* not adopted: the lock was not had, or pins appeared */
	if (pout && !err) {
		*pout = p;
		*cout = c;
		return 0;
	}
	compiled_free(c);
	policy_free(p);
	return err;
}
