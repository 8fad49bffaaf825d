/* SPDX-License-Identifier: MIT */
/*
 * The apply transaction (docs/DESIGN.md §8): make the kernel enforce a
 * validated, compiled policy atomically; detach; and report what the
 * kernel enforces.  Every call takes the pin directory's lock, so the
 * CLI, the daemon and the CNI plugin may call them repeatedly and at the
 * same time; nothing is kept between calls.
 */
#ifndef XNSG_APPLY_H
#define XNSG_APPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy;
struct compiled;

enum apply_ingress {
	APPLY_INGRESS_KEEP, /* what an earlier apply chose; XDP for a new interface */
	APPLY_INGRESS_XDP,
	APPLY_INGRESS_TC,
};

struct apply_opts {
	/* Apply to this interface only: the others keep their hooks and
	 * are judged by the new policy's tables from the same flip. */
	const char *only;
	/* Attach nothing new: re-judge only the interfaces attached earlier
	 * (a CNI DEL shrinking an ASG must not attach the host's NICs). */
	bool attached_only;
	enum apply_ingress ingress;
	bool reset_flows;       /* re-evaluate every tracked flow, cut what is denied */
	unsigned int max_flows; /* IPv4 flow table size when it is created (IPv6: a quarter); 0 default */
	/* apply_file(): refuse a policy (containers merged) under which no
	 * interface is filtered - `xnsg apply`; the daemon waits instead. */
	bool refuse_unfiltered;
};

struct apply_result {
	char hash[17];         /* of the policy file */
	size_t ninterfaces;    /* attached after the apply, present on the host */
	size_t ntables;
	unsigned int nrules;
	size_t flows_checked;  /* re-evaluated */
	size_t flows_cut;
};

/*
 * Load, validate and compile a policy file merged with the containers the
 * CNI plugin recorded beside it (overlay.c, docs/DESIGN.md §12), its
 * diagnostics on stderr and, on failure, one error line as the CLI words
 * it: what every caller of apply_policy() does first.  0 or -errno.
 */
int apply_load(const char *file, struct policy **p, struct compiled **c);
/* 0 or -errno; every failure was reported in one line, and a failed apply
 * leaves the kernel enforcing exactly what it enforced before.  Takes the
 * pin directory's lock for the whole transaction. */
int apply_policy(const struct policy *p, const struct compiled *c, const struct apply_opts *o,
		 struct apply_result *r);
/* The same, for a caller that already holds the lock (apply_lock()). */
int apply_policy_locked(const struct policy *p, const struct compiled *c,
			const struct apply_opts *o, struct apply_result *r);
/* The policy file's hash, as the record names it (XXH3-64 of its bytes);
 * 0 when it cannot be read (exists, if given: whether it could be opened). */
uint64_t apply_file_hash(const char *file, bool *exists);
/* The grace period a retirement an earlier apply left needs (§8 step 9),
 * begun on a thread while the caller reads its policy; apply_file() does
 * it itself.  apply_grace_end() joins it if no apply did. */
void apply_grace_begin(void);
void apply_grace_end(void);

/*
 * The keeper of an update's grace period (keeper.c): started as the
 * update flips, it waits for the kernel's grace period and writes a stamp
 * naming the flip, so the next apply need not wait.  apply_keeper_exe:
 * the binary a keeper runs as (xnsg's main sets /proc/self/exe; NULL, as
 * in a library's tests: no keeper).  The daemon keeps them on threads;
 * XNSG_KEEPER=off keeps none.  apply_grace_keeper_lock(): the keeper lock
 * of the flip of serial, taken before the record says a keeper keeps it
 * (-1: none will); apply_grace_keep(): whether a keeper started, given
 * that lock (closed here either way); apply_grace_kept(): whether a
 * keeper kept the grace period of that flip, waiting (2 s at most) while
 * one is still at it.  apply_keeper_main(): the keeper, run as
 * "xnsg-grace SERIAL STAMP".
 */
extern const char *apply_keeper_exe;
void apply_keep_grace_in_process(void);
bool apply_keeper_on(void);
int apply_grace_keeper_lock(long long serial);
bool apply_grace_keep(long long serial, long long stamp, int lock);
bool apply_grace_kept(long long serial, long long stamp);
int apply_keeper_main(int argc, char **argv);
/* The keepers' stamps and locks removed (state_remove(): detach --all). */
void apply_keeper_files_remove(void);

/*
 * apply_load() then apply_policy(), with the containers read again under
 * the lock: a container the CNI plugin added or removed between the load
 * and the lock is not lost (the file is loaded again when the overlay
 * changed).  A bad policy, and a host that cannot enforce (dp_check_env),
 * are reported before the lock is taken.  With
 * pout/cout the caller gets the policy and tables applied (to free);
 * NULL: freed here.  What `xnsg apply` and the daemon's reload call.
 */
int apply_file(const char *file, const struct apply_opts *o, struct apply_result *r,
	       struct policy **pout, struct compiled **cout);
/* Remove xnsg from one interface (ifname) or from all (NULL): hooks as
 * the kernel reports them, entries, and with the last one every pin and
 * the record.  The names detached are appended to `detached`. */
int apply_detach(const char *ifname, json_t *detached);
/* The same under a lock the caller holds; missing_ok: an interface with
 * neither hooks nor a record (or nothing pinned) is no error, and says
 * nothing (a CNI DEL is idempotent). */
int apply_detach_locked(const char *ifname, json_t *detached, bool missing_ok);
/* What is enforced, from the kernel and the record: NULL when nothing is
 * pinned (and nothing recorded). */
json_t *apply_status(void);
/* Per-rule counters of the enforced generation, drops by reason, flow
 * table counters: NULL when nothing is applied. */
json_t *apply_stats(void);
/* The counter-slot names ("NSG/Direction/RULE") of the enforced
 * generation (a new reference), or an empty array. */
json_t *apply_enforced_slots(unsigned int gen, unsigned int serial);

/* ---- reeval.c ------------------------------------------------------- */
struct dp;
/*
 * Judge the tracked flows again by policy p (already in force) and cut
 * those it denies: their entries are marked denied, so every later packet
 * of the flow, either way, is dropped until the flow idles out (removing
 * the entry instead would let an allowed direction re-create it).  all:
 * every flow (--reset-flows); otherwise only flows on interfaces whose
 * subnet or NIC NSG sets flushConnection.
 */
int flows_reevaluate(struct dp *dp, const struct policy *p, bool all, size_t *checked,
		     size_t *cut);
/* Whether an interface of p has flushConnection (its flows re-evaluated
 * by every apply). */
bool flows_flushing(const struct policy *p);

/* ---- lock.c --------------------------------------------------------- */
/* The pin directory's lock, held for the whole of a change: waits up to
 * XNSG_LOCK_WAIT seconds (default 30), then says who holds it.  Returns
 * an fd to give to apply_unlock(), or -errno. */
int apply_lock(const char *what);
void apply_unlock(int fd);

/* ---- state.c -------------------------------------------------------- */
/* The record beside the pins: /run/xnsg (XNSG_STATE_DIR) / escaped pin
 * directory + suffix.  A new string. */
char *state_path(const char *suffix);
/* The record as last written, or NULL when there is none. */
json_t *state_read(void);
int state_write(json_t *st);
void state_remove(void);
/* The record's entry for interface name, or NULL. */
json_t *state_iface(json_t *st, const char *name);
/* The record of generation gen if it was made by apply number serial. */
json_t *state_gen(json_t *st, unsigned int gen, unsigned int serial);
/* Counter-slot names ("NSG/Direction/RULE", slot order) as escaped text,
 * a name a line: what a generation's record names, in a file of its own. */
struct slots_text {
	char *text;
	size_t len, cap, n;
};
/* Append a name. */
void slots_escape(struct slots_text *t, const char *name);
/* The next name from offset *at (moved past it), unescaped into buf: its length. */
size_t slots_next(const struct slots_text *t, size_t *at, char *buf, size_t size);
/* Write generation gen's names, of apply serial; before the record names them. */
int state_slots_write(unsigned int gen, unsigned int serial, const struct slots_text *t);
/* The names of record entry g (of generation gen): 0, -ENOENT (none), or
 * -ESTALE (the file is of another apply); t->text malloc'd either way. */
int state_gen_slots_text(json_t *g, unsigned int gen, struct slots_text *t);
/* The same as a JSON array of strings (empty when unknown). */
json_t *state_gen_slots(json_t *g, unsigned int gen);

struct dp_attachment;
/* A record's interface entry as an attachment. */
void attachment_from_json(json_t *j, struct dp_attachment *a);

/* ---- overlay.c: containers (docs/DESIGN.md §12) -------------------- */
/*
 * The CNI plugin's containers, kept beside the record (/run/xnsg/<escaped
 * pin directory>.containers.json): each an interface entry appended to the
 * policy's "interfaces" before it is parsed, so that the ASGs it joins
 * cover it through the ordinary parser.  {"version", "serial",
 * "containers": [{"key", "interface", ...}]}; the serial counts writes.
 */
json_t *overlay_read(void); /* never NULL: an empty overlay when there is none */
/* Serial + 1, written to a temporary file and renamed; an overlay without
 * containers removes the file.  0 or -errno (one line said why). */
int overlay_write(json_t *ov);
json_int_t overlay_serial(json_t *ov);
/* Load file merged with ov's containers, as apply_load() does; cni:
 * errors only (no warnings), and the error line is the first error (a
 * CNI error's msg). */
int overlay_load(const char *file, json_t *ov, bool cni, struct policy **p,
		 struct compiled **c);

/* ---- containers.c: the CNI plugin's transactions -------------------- */
/* One container interface as the CNI plugin hands it over. */
struct apply_container {
	const char *key;    /* "NETWORK/CONTAINERID/IFNAME": the spec's state key */
	const char *policy; /* the base policy file */
	json_t *iface;      /* its policies' interface entry (name = the host-side veth) */
	json_t *meta;       /* recorded beside it for people (container id, netns...); may be NULL */
	enum apply_ingress ingress;
};

enum apply_container_error {
	APPLY_CT_LOCKED = 1,  /* the lock could not be had in time */
	APPLY_CT_POLICY,      /* the policy with this container is invalid */
	APPLY_CT_DATAPATH,    /* the kernel refused, or the record could not be written */
	APPLY_CT_UNKNOWN,     /* CHECK: not recorded */
	APPLY_CT_NOT_ENFORCED /* CHECK: recorded, but its veth is not enforcing */
};
/*
 * Under one hold of the lock: record the container (replacing an entry of
 * the same key, and dropping stale ones that name its veth or one of its
 * addresses), load the policy merged with every container, apply it with
 * only this veth attached (the others keep their hooks and get the new
 * tables in the same flip), and restore the overlay if that fails.
 * 0, or -errno with *why set to an apply_container_error.
 */
int apply_container_add(const struct apply_container *ct, struct apply_result *r, int *why);
/*
 * Forget the container: its veth (veth, or the one recorded) detached,
 * its entry removed, and the policy applied again to the interfaces still
 * attached so that its ASGs shrink.  Missing entry, veth or pins are no
 * error (idempotent); a re-apply that fails is a warning.
 */
int apply_container_del(const char *policy, const char *key, const char *veth, int *why);
/* CHECK: the container is recorded as ct describes it now (veth,
 * addresses, ASGs, NSG, subnet), and the kernel enforces on its veth. */
int apply_container_check(const struct apply_container *ct, int *why);

/* ---- test hook ------------------------------------------------------ */
/* XNSG_TEST_CRASH_AT=STEP kills the process at that step of apply: the
 * crash tests prove every step leaves a state the next command repairs.
 * XNSG_TEST_STEPS=FILE appends each step's name to FILE, a line each: the
 * order the steps ran in, for the tests of the ones on another thread.
 * XNSG_TEST_RECORD_FAIL_AT=STEP fails every write of the record after
 * that step (apply_record_mend() ends it): the tests of a record that
 * cannot be written.  XNSG_TEST_CARRY_ZERO_FAIL=1 fails the zeroing of
 * the old slots after a counter carry: the test of a carry that fails
 * part way. */
void apply_step(const char *step);
void apply_record_mend(void);

#endif
