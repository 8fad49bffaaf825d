// SPDX-License-Identifier: MIT
/*
 * The CNI plugin's transactions (docs/DESIGN.md §12): ADD, DEL and CHECK
 * of one container interface, each a read-modify-write of the overlay
 * (overlay.c) and an apply under ONE hold of the pin directory's lock, so
 * that concurrent ADDs and DELs of many containers are serialised and no
 * ASG membership is lost between reading the overlay and enforcing it.
 */
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "apply.h"
#include "compile.h"
#include "datapath.h"
#include "log.h"
#include "policy.h"

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static json_t *containers(json_t *ov)
{
	return json_object_get(ov, "containers");
}

/* The overlay's entry for key (and its index), or NULL. */
static json_t *find(json_t *ov, const char *key, size_t *idx)
{
	json_t *e;
	size_t i;

	json_array_foreach(containers(ov), i, e)
		if (!strcmp(str(e, "key"), key)) {
			if (idx)
				*idx = i;
			return e;
		}
	return NULL;
}

static bool shares_address(json_t *a, json_t *b)
{
	json_t *x, *y;
	size_t i, j;

	json_array_foreach(json_object_get(a, "ipAddresses"), i, x)
		json_array_foreach(json_object_get(b, "ipAddresses"), j, y)
			if (json_equal(x, y))
				return true;
	return false;
}

/*
 * Entries a new container makes stale: one naming its veth (a name exists
 * once on a host), or one holding one of its addresses whose veth is gone
 * (its DEL never came, and the address was handed out again).  A live
 * veth with the same address (overlapping networks) keeps its entry.
 */
static void drop_stale(json_t *ov, const struct apply_container *ct)
{
	const char *veth = str(ct->iface, "name");
	json_t *cts = containers(ov);

	for (size_t i = json_array_size(cts); i-- > 0;) {
		json_t *e = json_array_get(cts, i), *ifc = json_object_get(e, "interface");
		const char *name = str(ifc, "name");

		if (!strcmp(str(e, "key"), ct->key)) {
			json_array_remove(cts, i);
		} else if (!strcmp(name, veth)) {
			pr_warn("container %s: its veth %s is now %s's; its entry is dropped",
				str(e, "key"), veth, ct->key);
			json_array_remove(cts, i);
		} else if (shares_address(ifc, ct->iface) && !if_nametoindex(name)) {
			pr_warn("container %s: its veth %s is gone and its address is now %s's; its "
				"entry is dropped", str(e, "key"), name, ct->key);
			json_array_remove(cts, i);
		}
	}
}

static void put(json_t *ov, const struct apply_container *ct)
{
	json_t *e = json_pack("{s:s, s:s, s:O}", "key", ct->key, "policy", ct->policy,
			      "interface", ct->iface);

	drop_stale(ov, ct);
	if (ct->meta)
		json_object_update_missing(e, ct->meta);
	json_array_append_new(containers(ov), e);
}

/* One datapath, one policy: a network naming another policy than the one
 * enforced would swap the host's policy at each ADD. */
static int same_policy(const char *policy)
{
	json_t *st = state_read(), *g, *newest = NULL;
	char *abs = realpath(policy, NULL);
	size_t i;
	int err = 0;

	json_array_foreach(json_object_get(st, "gens"), i, g)
		if (json_is_object(g) && (!newest || json_integer_value(json_object_get(g, "serial")) >
							 json_integer_value(json_object_get(newest, "serial"))))
			newest = g;
	if (newest && abs && strcmp(str(newest, "policy"), abs)) {
		pr_err("%s: the datapath enforces %s; every CNI network of this host must name "
		       "the policy applied (or 'xnsg apply %s' first)", policy, str(newest, "policy"),
		       policy);
		err = -EINVAL;
	}
	free(abs);
	json_decref(st);
	return err;
}

/* Load the merged policy and apply it with only this container's veth
 * attached; the overlay is written first (the intent) and restored when
 * the apply fails. */
static int add_locked(const struct apply_container *ct, struct apply_result *r, int *why)
{
	struct apply_opts o = { .only = str(ct->iface, "name"), .ingress = ct->ingress };
	json_t *ov = overlay_read(), *before = json_deep_copy(ov);
	struct compiled *c = NULL;
	struct policy *p = NULL;
	int err;

	*why = APPLY_CT_POLICY;
	err = same_policy(ct->policy);
	put(ov, ct);
	if (!err)
		err = overlay_load(ct->policy, ov, true, &p, &c);
	if (!err) {
		*why = APPLY_CT_DATAPATH;
		err = overlay_write(ov);
	}
	if (!err) {
		err = apply_policy_locked(p, c, &o, r);
		if (err) { /* a later serial: a loader that saw ours loads again */
			json_object_set(before, "serial", json_object_get(ov, "serial"));
			overlay_write(before);
		}
	}
	compiled_free(c);
	policy_free(p);
	json_decref(before);
	json_decref(ov);
	return err;
}

int apply_container_add(const struct apply_container *ct, struct apply_result *r, int *why)
{
	char *what = xasprintf("cni ADD %s", ct->key);
	int lock = apply_lock(what), err;

	free(what);
	memset(r, 0, sizeof(*r));
	if (lock < 0) {
		*why = APPLY_CT_LOCKED;
		return lock;
	}
	apply_grace_begin(); /* under the lock: the mark it reads stays */
	err = add_locked(ct, r, why);
	apply_grace_end();
	apply_unlock(lock);
	return err;
}

/* After a DEL: the interfaces still attached judged by the policy without
 * the container, so that the ASGs it was in shrink.  Failing here leaves
 * its addresses in those ASGs until the next apply, harmless while the
 * address is unused, and the next ADD that reuses it applies again. */
static void reapply(const char *policy, json_t *ov, const char *key)
{
	struct apply_opts o = { .attached_only = true };
	struct apply_result r;
	struct compiled *c;
	struct policy *p;
	int err;

	if (!dp_is_pinned())
		return;
	err = overlay_load(policy, ov, true, &p, &c);
	if (!err) {
		err = apply_policy_locked(p, c, &o, &r);
		compiled_free(c);
		policy_free(p);
	}
	if (err && err != -ENODEV)
		pr_warn("container %s removed, but the policy could not be applied again: its "
			"addresses stay in its ASGs until the next apply", key);
}

static int del_locked(const char *policy, const char *key, const char *veth, int *why)
{
	json_t *ov = overlay_read(), *names = json_array(), *e;
	char *name = NULL;
	size_t idx;
	int err = 0;

	e = find(ov, key, &idx);
	if (e) {
		name = xstrdup(str(json_object_get(e, "interface"), "name"));
		policy = policy ?: str(e, "policy");
	} else if (veth && *veth) {
		name = xstrdup(veth); /* not recorded: still no hooks of ours left on it */
	}
	*why = APPLY_CT_DATAPATH;
	if (name) /* also when it is gone: its record entry goes with it */
		err = apply_detach_locked(name, names, true);
	if (!err && e) {
		json_array_remove(containers(ov), idx);
		err = overlay_write(ov);
		if (!err && policy && *policy)
			reapply(policy, ov, key);
	}
	free(name);
	json_decref(names);
	json_decref(ov);
	return err;
}

int apply_container_del(const char *policy, const char *key, const char *veth, int *why)
{
	char *what = xasprintf("cni DEL %s", key);
	int lock = apply_lock(what), err;

	free(what);
	if (lock < 0) {
		*why = APPLY_CT_LOCKED;
		return lock;
	}
	apply_grace_begin();
	err = del_locked(policy, key, veth, why);
	apply_grace_end();
	apply_unlock(lock);
	return err;
}

/* What CHECK compares: the entry recorded against the one the runtime's
 * prevResult and configuration make now. */
static int check_entry(json_t *e, const struct apply_container *ct)
{
	static const char *const keys[] = { "name", "ipAddresses", "applicationSecurityGroups",
					    "networkSecurityGroup", "subnet" };
	json_t *ifc = json_object_get(e, "interface");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *was = json_object_get(ifc, keys[i]), *now = json_object_get(ct->iface, keys[i]);
		char *s;

		if ((!was && !now) || json_equal(was, now))
			continue;
		s = was ? json_dumps(was, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		pr_err("container %s: its %s changed since ADD (recorded: %s)", ct->key, keys[i],
		       s ?: "none");
		free(s);
		return -ESTALE;
	}
	return 0;
}

/* The kernel's view of the veth: our hooks, and an entry in the active
 * generation (otherwise its packets are dropped as no-config). */
static int check_kernel(const char *veth)
{
	unsigned int idx = if_nametoindex(veth);
	struct xnsg_active act = { 0 };
	struct dp_hooks h = { 0 };
	struct dp dp;
	int err;

	if (!idx) {
		pr_err("%s: no such interface", veth);
		return -ENODEV;
	}
	err = dp_open_pins(&dp);
	if (err) {
		pr_err("%s: nothing is applied (no pins under %s)", veth, dp_pin_dir());
		return err;
	}
	dp_hooks_query(&dp, idx, &h);
	dp_active_read(&dp, &act);
	if (!((h.xdp_mode || h.tc_ingress) && h.tc_egress)) {
		pr_err("%s: xnsg's hooks are missing (receive %s, egress %s)", veth,
		       h.xdp_mode || h.tc_ingress ? "ok" : "missing", h.tc_egress ? "ok" : "missing");
		err = -ENOLINK;
	} else if (!dp_iface_known(&dp, act.gen, idx)) {
		pr_err("%s: hooked, but the active policy has no entry for it", veth);
		err = -ENOLINK;
	}
	dp_close(&dp);
	return err;
}

int apply_container_check(const struct apply_container *ct, int *why)
{
	json_t *ov = overlay_read(), *e = find(ov, ct->key, NULL);
	int err;

	*why = APPLY_CT_UNKNOWN;
	if (!e) {
		pr_err("container %s is not recorded (no ADD, or a DEL since)", ct->key);
		err = -ENOENT;
	} else {
		*why = APPLY_CT_NOT_ENFORCED;
		err = check_entry(e, ct) ?: check_kernel(str(ct->iface, "name"));
	}
	json_decref(ov);
	return err;
}
