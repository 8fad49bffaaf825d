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
	enum apply_ingress ingress;
	bool reset_flows;       /* re-evaluate every tracked flow, cut what is denied */
	unsigned int max_flows; /* flow table size when it is created; 0 default */
};

struct apply_result {
	char hash[17];         /* of the policy file */
	size_t ninterfaces;    /* attached after the apply */
	size_t ntables;
	unsigned int nrules;
	size_t flows_checked;  /* re-evaluated */
	size_t flows_cut;
};

/* Load, validate and compile a policy file, its diagnostics on stderr:
 * what every caller of apply_policy() does first.  0 or -errno. */
int apply_load(const char *file, struct policy **p, struct compiled **c);
/* 0 or -errno; every failure was reported in one line, and a failed apply
 * leaves the kernel enforcing exactly what it enforced before. */
int apply_policy(const struct policy *p, const struct compiled *c, const struct apply_opts *o,
		 struct apply_result *r);
/* Remove xnsg from one interface (ifname) or from all (NULL): hooks as
 * the kernel reports them, entries, and with the last one every pin and
 * the record.  The names detached are appended to `detached`. */
int apply_detach(const char *ifname, json_t *detached);
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

struct dp_attachment;
/* A record's interface entry as an attachment. */
void attachment_from_json(json_t *j, struct dp_attachment *a);

/* ---- test hook ------------------------------------------------------ */
/* XNSG_TEST_CRASH_AT=STEP kills the process at that step of apply: the
 * crash tests prove every step leaves a state the next command repairs. */
void apply_step(const char *step);

#endif
