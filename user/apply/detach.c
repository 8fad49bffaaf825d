// SPDX-License-Identifier: MIT
/*
 * Detach (docs/DESIGN.md §8): the hooks removed are the ones the kernel
 * reports as this instance's, so a record lost in a crash, left stale, or
 * a clsact qdisc deleted by hand cannot keep an interface filtered or make
 * detach fail.  With the last interface go every pin and the record.
 */
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "apply.h"
#include "datapath.h"
#include "log.h"

struct detach {
	struct dp dp;
	json_t *st;       /* the record (may be empty) */
	json_t *detached; /* names, for the caller */
	int err;
};

static void drop_record(json_t *st, const char *name)
{
	json_t *ifs = json_object_get(st, "interfaces");

	for (size_t i = 0; i < json_array_size(ifs); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(ifs, i), "name")) ?: "",
			    name)) {
			json_array_remove(ifs, i);
			return;
		}
}

/* Detach one interface known by index (and by the record, if it is there). */
static int detach_index(struct detach *d, unsigned int ifindex, const char *name)
{
	json_t *rec = state_iface(d->st, name);
	struct dp_attachment a = { .ifindex = ifindex };
	int err;

	if (rec)
		attachment_from_json(rec, &a);
	a.ifindex = ifindex;
	snprintf(a.ifname, sizeof(a.ifname), "%s", name);
	err = dp_detach(&d->dp, &a);
	if (err)
		return err;
	dp_iface_forget(&d->dp, ifindex);
	drop_record(d->st, name);
	json_array_append_new(d->detached, json_string(name));
	return 0;
}

static int detach_found(unsigned int ifindex, const struct dp_hooks *h, void *arg)
{
	struct detach *d = arg;
	char name[IF_NAMESIZE];
	int err;

	(void)h;
	if (!if_indextoname(ifindex, name))
		return 0;
	err = detach_index(d, ifindex, name);
	if (err)
		d->err = err;
	return 0;
}

static int count_found(unsigned int ifindex, const struct dp_hooks *h, void *arg)
{
	(void)ifindex;
	(void)h;
	(*(size_t *)arg)++;
	return 0;
}

/* Whether the record still lists an interface that exists. */
static bool others_recorded(json_t *st)
{
	json_t *j;
	size_t i;

	json_array_foreach(json_object_get(st, "interfaces"), i, j)
		if (if_nametoindex(json_string_value(json_object_get(j, "name")) ?: ""))
			return true;
	return false;
}

/*
 * The last interface gone: pins and record too.  Whether it was the last
 * is the kernel's word (a scan of every interface's hooks, so that a lost
 * record cannot leave pins behind); after a detach of one interface, an
 * existing interface still recorded already says no without the scan,
 * which costs a link dump per host interface (O(n^2) for n containers).
 */
static int finish(struct detach *d, bool one)
{
	size_t left = 0;

	if (one && others_recorded(d->st))
		left = 1;
	else
		dp_hooks_scan(&d->dp, count_found, &left);
	if (left || d->err) {
		if (d->err)
			pr_err("some interfaces could not be detached; their pins and record stay");
		return state_write(d->st) ?: d->err;
	}
	dp_close(&d->dp);
	state_remove();
	return dp_unpin_all();
}

static int detach_named(struct detach *d, const char *ifname, bool missing_ok)
{
	unsigned int idx = if_nametoindex(ifname);
	json_t *rec = state_iface(d->st, ifname);
	struct dp_hooks h = { 0 };

	if (idx)
		dp_hooks_query(&d->dp, idx, &h);
	if (!rec && !(h.xdp_mode || h.tc_ingress || h.tc_egress)) {
		if (missing_ok)
			return 0;
		pr_err("%s: not attached", ifname);
		return -ENOENT;
	}
	if (!idx) { /* gone, and its hooks with it: forget it and its entries */
		dp_iface_forget(&d->dp, (unsigned int)json_integer_value(json_object_get(rec, "ifindex")));
		drop_record(d->st, ifname);
		json_array_append_new(d->detached, json_string(ifname));
		return 0;
	}
	return detach_index(d, idx, ifname);
}

int apply_detach_locked(const char *ifname, json_t *detached, bool missing_ok)
{
	struct detach d = { .detached = detached };
	int err;

	d.st = state_read() ?: json_object();
	err = dp_open_pins(&d.dp);
	if (err == -ENOENT) { /* nothing pinned: at most a stale record */
		if (ifname && !missing_ok)
			pr_err("%s: not attached (nothing is applied)", ifname);
		else if (!ifname)
			state_remove();
		err = ifname && !missing_ok ? -ENOENT : 0;
	} else if (!err) {
		if (ifname)
			err = detach_named(&d, ifname, missing_ok);
		else
			err = dp_hooks_scan(&d.dp, detach_found, &d);
		if (!err) {
			if (!ifname) /* recorded but without hooks now: nothing to remove */
				json_object_set_new(d.st, "interfaces", json_array());
			err = finish(&d, ifname != NULL);
		}
	}
	dp_close(&d.dp);
	json_decref(d.st);
	return err;
}

int apply_detach(const char *ifname, json_t *detached)
{
	char *what = xasprintf("detach %s", ifname ? ifname : "--all");
	int lock = apply_lock(what), err;

	free(what);
	if (lock < 0)
		return lock;
	err = apply_detach_locked(ifname, detached, false);
	apply_unlock(lock);
	return err;
}
