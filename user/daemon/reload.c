// SPDX-License-Identifier: MIT
/*
 * Loading and applying the policy for the daemon (docs/DESIGN.md §13):
 * the first apply, reloads, and following interfaces as they come and go.
 * Every change goes through the apply transaction as `xnsg apply` does:
 * apply_file(), which merges the containers the CNI plugin recorded and
 * loads again under the lock if they changed meanwhile, or
 * apply_detach(); so a reload is exactly as atomic as an apply, and a
 * failed one leaves the kernel enforcing what it did.
 *
 * A reload is reported in one line.  The loader and the transaction
 * print their diagnostics and errors on stderr, one line each, as the
 * one-shot commands want; here they are caught and summed up: the first
 * error goes into the line, warnings of the transaction (an interface
 * attached earlier that the policy no longer names) are logged as
 * warnings, and the policy's own warnings are counted (`xnsg check`
 * lists them).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "alloc.h"
#include "apply.h"
#include "compile.h"
#include "internal.h"
#include "log.h"
#include "model.h"
#include "policy.h"

/* ---- catching stderr -------------------------------------------------- */

struct caught {
	size_t nerrors;
	size_t nwarnings;  /* the policy's ("FILE: PATH: warning: ...") */
	char *first_error; /* without "xnsg: " */
	char *text;        /* everything, as printed */
};

/* The daemon is one thread: while `stderr` points at a memory stream,
 * nothing else prints. */
static FILE *catch_start(char **buf, size_t *len)
{
	FILE *saved = stderr, *mem;

	fflush(stderr);
	mem = open_memstream(buf, len);
	if (!mem)
		oom();
	stderr = mem;
	return saved;
}

/* *buf is the memory stream's: complete once the stream is closed. */
static void catch_stop(FILE *saved, struct caught *out, char **buf)
{
	char *save = NULL, *copy;

	fclose(stderr);
	stderr = saved;
	memset(out, 0, sizeof(*out));
	out->text = *buf ? *buf : xstrdup("");
	copy = xstrdup(out->text);
	/* The policy's diagnostics ("FILE: PATH: ...") are the errors, and
	 * the first one says most; an "xnsg: ..." line sums them up, or is
	 * the error of a policy that loaded (the kernel refused, ...). */
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "xnsg: warning: ", 15))
			continue; /* the transaction's: log_warnings() */
		if (strstr(l, ": warning: ")) {
			out->nwarnings++;
		} else if (strncmp(l, "xnsg: ", 6)) {
			if (!out->nerrors++) {
				free(out->first_error);
				out->first_error = xstrdup(l);
			}
		} else if (!out->first_error) {
			out->first_error = xstrdup(l + 6);
		}
	}
	free(copy);
}

static void caught_free(struct caught *c)
{
	free(c->first_error);
	free(c->text);
}

/* The transaction's warnings, each a line of the daemon's log; but an
 * interface not on the host is no news to the daemon, which waits for it
 * (the reload's line names those). */
static void log_warnings(const struct caught *c)
{
	char *save = NULL, *copy = xstrdup(c->text);

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "xnsg: warning: ", 15) &&
		    !strstr(l, "no such interface on this host"))
			dlog(DLOG_WARN, "%s", l + 15);
	free(copy);
}

static int load_caught(const char *file, struct policy **p, struct compiled **c,
		       struct caught *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *saved = catch_start(&buf, &len);
	int err = apply_load(file, p, c);

	catch_stop(saved, out, &buf);
	if (xnsg_verbosity && out->text[0])
		fputs(out->text, stderr);
	if (err && !out->first_error)
		out->first_error = xasprintf("%s: cannot load: %s", file, strerror(-err));
	return err;
}

/* apply_file(): *p and *c are the policy applied (NULL on failure). */
static int apply_caught(struct daemon *d, const char *only, struct apply_result *r,
			struct policy **p, struct compiled **c, struct caught *out)
{
	struct apply_opts o = { .only = only, .ingress = d->o->ingress,
				.max_flows = d->o->max_flows };
	char *buf = NULL;
	size_t len = 0;
	FILE *saved = catch_start(&buf, &len);
	int err = apply_file(d->o->policy, &o, r, p, c);

	catch_stop(saved, out, &buf);
	if (err && !out->first_error)
		out->first_error = xasprintf("apply failed: %s", strerror(-err));
	return err;
}

/* ---- the policy held ------------------------------------------------- */

/* "NSG/Direction/RULE" -> access: the label the counters lack. */
static json_t *access_of(const struct policy *p)
{
	json_t *a = json_object();

	for (size_t n = 0; n < p->nnsgs; n++)
		for (size_t i = 0; i < p->nsgs[n].nrules; i++) {
			const struct rule *r = &p->nsgs[n].rules[i];
			char *id = xasprintf("%s/%s/%s", p->nsgs[n].name, dir_name(r->dir),
					     r->name);

			json_object_set_new(a, id, json_string(r->allow ? "Allow" : "Deny"));
			free(id);
		}
	return a;
}

void daemon_free_policy(struct daemon *d)
{
	compiled_free(d->c);
	policy_free(d->p);
	json_decref(d->access);
	d->c = NULL;
	d->p = NULL;
	d->access = NULL;
}

static void hold_policy(struct daemon *d, struct policy *p, struct compiled *c)
{
	daemon_free_policy(d);
	d->p = p;
	d->c = c;
	d->access = access_of(p);
}

static const char *iface_name(const struct policy *p, const struct compiled *c, size_t i)
{
	return p->ifaces[c->ifaces[i].iface].name;
}

/* "; not on this host yet: a, b" or "", a new string. */
static char *absent_ifaces(const struct policy *p, const struct compiled *c)
{
	char *s = xstrdup(""), *t;

	for (size_t i = 0; i < c->nifaces; i++) {
		if (if_nametoindex(iface_name(p, c, i)))
			continue;
		t = xasprintf("%s%s%s", s, s[0] ? ", " : "; not on this host yet: ",
			      iface_name(p, c, i));
		free(s);
		s = t;
	}
	return s;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_reload(struct daemon *d, bool ok)
{
	d->reload_ok = ok;
	d->reload_ts = now_s();
	if (ok)
		d->reloads_ok++;
	else
		d->reloads_failed++;
}

/* ---- start and reload ------------------------------------------------ */

/* The line of an apply that worked, and the transaction's warnings. */
static void log_applied(struct daemon *d, const char *what, const struct apply_result *r,
			const struct caught *c)
{
	char *absent = absent_ifaces(d->p, d->c);

	dlog(DLOG_INFO, "%s%sapplied %s (hash %s) to %zu interface%s: %zu tables, %u rules%s%s",
	     what ?: "", what ? ": " : "", d->o->policy, r->hash, r->ninterfaces,
	     r->ninterfaces == 1 ? "" : "s", r->ntables, r->nrules, absent,
	     c->nwarnings ? "; the policy has warnings ('xnsg check' lists them)" : "");
	log_warnings(c);
	free(absent);
}

/*
 * Apply the file; when none of its interfaces exists (-ENODEV), load it
 * only, to wait for them.  The policy is held when either works.  0, or
 * -errno with *c saying why.
 */
static int apply_or_hold(struct daemon *d, const char *what, uint64_t h, struct caught *c)
{
	struct apply_result r;
	struct compiled *cc;
	struct policy *p;
	int err = apply_caught(d, NULL, &r, &p, &cc, c);

	if (err == -ENODEV) {
		caught_free(c);
		err = load_caught(d->o->policy, &p, &cc, c);
		if (err)
			return err;
		hold_policy(d, p, cc);
		d->hash = h;
		dlog(DLOG_NOTICE, "%s%s%s (hash %016llx): none of its interfaces exists yet; "
		     "attaching them as they appear", what ?: "", what ? ": loaded " : "",
		     d->o->policy, (unsigned long long)h);
		return 0;
	}
	if (err)
		return err;
	hold_policy(d, p, cc);
	d->hash = h;
	log_applied(d, what, &r, c);
	return 0;
}

int daemon_start_policy(struct daemon *d)
{
	bool exists;
	uint64_t h = apply_file_hash(d->o->policy, &exists);
	struct caught c;
	int err = apply_or_hold(d, NULL, h, &c);

	if (err) {
		/* At the start every diagnostic is shown, as `apply` shows them. */
		fputs(c.text, stderr);
		pr_err("%s: not started", d->o->policy);
	} else {
		count_reload(d, true);
	}
	caught_free(&c);
	return err;
}

/* What the kernel enforces now, for a line about a failed change. */
static char *enforced(void)
{
	json_t *st = apply_status();
	char *s;

	if (!st || !json_is_true(json_object_get(st, "applied")))
		s = xstrdup("nothing is applied");
	else
		s = xasprintf("still enforcing hash %s (serial %lld)",
			      json_string_value(json_object_get(st, "hash")),
			      json_integer_value(json_object_get(st, "serial")));
	json_decref(st);
	return s;
}

static void log_failure(const char *what, const struct caught *c)
{
	char *e = enforced();
	size_t more = c->nerrors > 1 ? c->nerrors - 1 : 0;

	if (more)
		dlog(DLOG_ERR, "%s failed: %s (and %zu more error%s); %s", what, c->first_error,
		     more, more == 1 ? "" : "s", e);
	else
		dlog(DLOG_ERR, "%s failed: %s; %s", what, c->first_error, e);
	free(e);
}

static bool reload_apply(struct daemon *d, const char *what, uint64_t h)
{
	struct caught c;
	int err = apply_or_hold(d, what, h, &c);

	if (err)
		log_failure(what, &c);
	caught_free(&c);
	return !err;
}

void daemon_reload(struct daemon *d, const char *why, bool force)
{
	bool exists;
	uint64_t h = apply_file_hash(d->o->policy, &exists);
	char *what, *status;
	struct timespec ts;
	bool ok;

	/* Touched, chmod'ed or rewritten the same; after a failed reload the
	 * file put back as it was is applied again, so that the last reload
	 * is seen to succeed. */
	if (!force && exists && h == d->hash && d->reload_ok)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	dnotify("RELOADING=1\nMONOTONIC_USEC=%llu",
		(unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	what = xasprintf("reload (%s)", why);
	ok = reload_apply(d, what, h);
	free(what);
	count_reload(d, ok);
	dflow_reopen(d);
	status = daemon_status_line();
	dnotify("READY=1\nSTATUS=%s", status);
	free(status);
}

char *daemon_status_line(void)
{
	json_t *st = apply_status(), *j;
	size_t n = 0, i;
	char *s;

	if (!st || !json_is_true(json_object_get(st, "applied"))) {
		json_decref(st);
		return xstrdup("nothing applied: waiting for the policy's interfaces");
	}
	json_array_foreach(json_object_get(st, "interfaces"), i, j)
		n += !strcmp(json_string_value(json_object_get(j, "state")) ?: "", "enforcing");
	s = xasprintf("enforcing %s (hash %s, serial %lld) on %zu interface%s",
		      json_string_value(json_object_get(st, "policy")),
		      json_string_value(json_object_get(st, "hash")),
		      json_integer_value(json_object_get(st, "serial")), n, n == 1 ? "" : "s");
	json_decref(st);
	return s;
}

/* ---- interfaces that come and go ------------------------------------- */

/* Recorded interfaces that are gone, or were re-created (a new ifindex:
 * the old one's hooks went with it): forgotten, so the record and
 * `status` match the host and a new one of that name is attached. */
static void forget_gone(void)
{
	json_t *st = state_read(), *gone = json_array(), *j, *done;
	size_t i;

	json_array_foreach(json_object_get(st, "interfaces"), i, j) {
		const char *name = json_string_value(json_object_get(j, "name")) ?: "";
		unsigned int idx = if_nametoindex(name);

		if (!idx || idx != (unsigned int)json_integer_value(json_object_get(j, "ifindex")))
			json_array_append_new(gone, json_string(name));
	}
	json_decref(st);
	json_array_foreach(gone, i, j) {
		struct caught c;
		char *buf = NULL;
		size_t len = 0;
		FILE *saved = catch_start(&buf, &len);
		int err;

		done = json_array();
		err = apply_detach(json_string_value(j), done);
		catch_stop(saved, &c, &buf);
		if (err)
			dlog(DLOG_ERR, "interface %s is gone; forgetting it failed: %s",
			     json_string_value(j), c.first_error ?: strerror(-err));
		else
			dlog(DLOG_INFO, "interface %s is gone: forgotten", json_string_value(j));
		caught_free(&c);
		json_decref(done);
	}
	json_decref(gone);
}

/* The policy's interfaces that exist and are not (or no longer) attached. */
static json_t *appeared(const struct policy *p, const struct compiled *c)
{
	json_t *st = state_read(), *out = json_array();

	for (size_t i = 0; i < c->nifaces; i++) {
		const char *name = iface_name(p, c, i);
		unsigned int idx = if_nametoindex(name);
		json_t *rec = state_iface(st, name);
		json_int_t was = json_integer_value(json_object_get(rec, "ifindex"));

		if (idx && (!rec || json_is_true(json_object_get(rec, "pending")) ||
			    (unsigned int)was != idx))
			json_array_append_new(out, json_string(name));
	}
	json_decref(st);
	return out;
}

/* apply_file() loads the policy again, so containers the CNI plugin
 * added since are part of it; the tables it applied are held. */
static void attach_one(struct daemon *d, const char *name, uint64_t h)
{
	struct apply_result r;
	struct compiled *c;
	struct policy *p;
	struct caught k;
	int err = apply_caught(d, name, &r, &p, &c, &k);

	if (err) {
		char *what = xasprintf("interface %s appeared; attaching it", name);

		log_failure(what, &k);
		free(what);
	} else {
		hold_policy(d, p, c);
		d->hash = h;
		dlog(DLOG_INFO, "interface %s appeared: attached (hash %s, %zu interface%s)", name,
		     r.hash, r.ninterfaces, r.ninterfaces == 1 ? "" : "s");
		log_warnings(&k);
	}
	caught_free(&k);
}

void daemon_sync_links(struct daemon *d)
{
	json_t *names, *j;
	bool exists;
	uint64_t h;
	size_t i;

	forget_gone();
	if (d->p) {
		h = apply_file_hash(d->o->policy, &exists);
		names = appeared(d->p, d->c);
		json_array_foreach(names, i, j)
			attach_one(d, json_string_value(j), h);
		json_decref(names);
	}
	dflow_reopen(d);
}
