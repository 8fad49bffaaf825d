// SPDX-License-Identifier: MIT
/*
 * Containers (docs/DESIGN.md §12): the CNI plugin records each container
 * interface it is given in an overlay beside the record, and every apply
 * parses the policy file with those entries appended to its "interfaces".
 * The merge is done on the JSON document, before the parser, so that an
 * ASG a container joins covers it through the ordinary parser and
 * compiler, and the model knows nothing of containers.
 *
 * Every change of the overlay happens under the pin directory's lock,
 * together with the apply that enforces it: two ADDs at once cannot lose
 * each other's ASG membership, and `xnsg apply` (apply_file()) loads the
 * overlay again under the lock when it changed meanwhile.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "compile.h"
#include "diag.h"
#include "log.h"
#include "policy.h"

#define OVERLAY_VERSION 1
/* The policy loader's own limit (docs/DESIGN.md §10): a bigger file is
 * left to the loader, which says so. */
#define OVERLAY_MAX_POLICY_BYTES (64 << 20)

static char *overlay_path(void)
{
	return state_path(".containers.json");
}

static json_t *overlay_empty(void)
{
	return json_pack("{s:i, s:i, s:[]}", "version", OVERLAY_VERSION, "serial", 0,
			 "containers");
}

json_t *overlay_read(void)
{
	char *path = overlay_path();
	json_error_t jerr;
	json_t *ov = NULL;

	if (access(path, F_OK) == 0) {
		ov = json_load_file(path, 0, &jerr);
		if (!ov || !json_is_array(json_object_get(ov, "containers"))) {
			pr_warn("%s: unreadable container record (%s); treating it as empty", path,
				ov ? "no containers array" : jerr.text);
			json_decref(ov);
			ov = NULL;
		}
	}
	free(path);
	return ov ?: overlay_empty();
}

json_int_t overlay_serial(json_t *ov)
{
	return json_integer_value(json_object_get(ov, "serial"));
}

int overlay_write(json_t *ov)
{
	char *path = overlay_path(), *tmp = xasprintf("%s.tmp", path);
	int err = 0;

	json_object_set_new(ov, "version", json_integer(OVERLAY_VERSION));
	json_object_set_new(ov, "serial", json_integer(overlay_serial(ov) + 1));
	if (!json_array_size(json_object_get(ov, "containers"))) {
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	} else if (json_dump_file(ov, tmp, JSON_INDENT(1)) || rename(tmp, path)) {
		err = errno ? -errno : -EIO;
		unlink(tmp);
	}
	if (err)
		pr_err("%s: cannot write the container record: %s", path, strerror(-err));
	free(tmp);
	free(path);
	return err;
}

/* ---- the merge ------------------------------------------------------- */

/* The policy's top-level "interfaces" key as the file spells it (keys are
 * case-insensitive, docs/DESIGN.md §1), or NULL. */
static const char *interfaces_key(json_t *root)
{
	const char *k;
	json_t *v;

	json_object_foreach(root, k, v)
		if (!strcasecmp(k, "interfaces"))
			return k;
	return NULL;
}

struct merged {
	char *text;   /* the policy to parse */
	char *ipath;  /* "$.interfaces" as the parser spells the path */
	size_t first; /* index of the first container's entry */
	json_t *ov;
};

/*
 * The file with the containers appended, as text for the parser; false
 * when the file is better parsed as it is (unreadable, too big, not JSON,
 * not an object, interfaces not an array): the loader then reports that
 * in its own words, line and column included.
 */
static bool merge(const char *file, json_t *ov, struct merged *m)
{
	json_t *root, *ifs, *ct;
	const char *key;
	struct stat sb;
	size_t i;

	if (stat(file, &sb) || sb.st_size > OVERLAY_MAX_POLICY_BYTES)
		return false;
	root = json_load_file(file, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return false;
	}
	key = interfaces_key(root);
	ifs = key ? json_object_get(root, key) : NULL;
	if (!ifs || json_is_null(ifs)) {
		key = key ?: "interfaces";
		ifs = json_array();
		json_object_set_new(root, key, ifs);
	}
	if (!json_is_array(ifs)) {
		json_decref(root);
		return false;
	}
	m->first = json_array_size(ifs);
	m->ipath = xasprintf("$.%s", key);
	json_array_foreach(json_object_get(ov, "containers"), i, ct)
		json_array_append(ifs, json_object_get(ct, "interface"));
	m->text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return m->text != NULL;
}

/* "$.interfaces[7].ipAddresses[0]" -> " (container NET/ID/IF)" appended
 * to the path when index 7 is a container's: the user sees which
 * container's entry is wrong, not an index into a merged document. */
static void name_containers(const struct merged *m, struct diag_list *d)
{
	size_t plen = strlen(m->ipath);

	for (size_t i = 0; i < d->n; i++) {
		const char *path = d->v[i].path;
		char *end;
		unsigned long idx;
		json_t *ct;

		if (strncmp(path, m->ipath, plen) || path[plen] != '[')
			continue;
		idx = strtoul(path + plen + 1, &end, 10);
		if (*end != ']' || idx < m->first)
			continue;
		ct = json_array_get(json_object_get(m->ov, "containers"), idx - m->first);
		if (!ct)
			continue;
		d->v[i].path = xasprintf("%s (container %s)", path,
					 json_string_value(json_object_get(ct, "key")) ?: "?");
		free((char *)path);
	}
}

/* The CNI plugin prints errors only: a policy's warnings (an ASG no
 * container has joined yet can never match) are `xnsg check`'s to show,
 * not a line in the runtime's log at every ADD. */
static void drop_warnings(struct diag_list *d)
{
	size_t k = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].level == DIAG_ERROR) {
			d->v[k++] = d->v[i];
			continue;
		}
		free(d->v[i].path);
		free(d->v[i].msg);
	}
	d->n = k;
}

static const struct diag *first_error(const struct diag_list *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].level == DIAG_ERROR)
			return &d->v[i];
	return NULL;
}

/* One line on failure: the CLI's words (cli_policy_or_fail, cli_compile),
 * or for the CNI plugin the first error itself (a runtime shows only the
 * error's msg to its user). */
static void report(const char *file, const struct diag_list *d, bool compiling, bool cni)
{
	const struct diag *e = first_error(d);

	if (cni && e)
		pr_err("%s: %s%s%s", file, e->path, *e->path ? ": " : "", e->msg);
	else if (compiling)
		pr_err("%s: cannot compile the policy (%zu error%s); nothing changed", file,
		       d->nerrors, d->nerrors == 1 ? "" : "s");
	else if (d->nerrors)
		pr_err("%s: invalid policy (%zu error%s)", file, d->nerrors, d->nerrors == 1 ? "" : "s");
	else
		pr_err("%s: cannot load the policy", file);
}

static int parse(const char *file, json_t *ov, enum policy_lint lint, struct policy **p,
		 struct diag_list *d, struct merged *m)
{
	char *dir;
	int err;

	m->ov = ov;
	if (!json_array_size(json_object_get(ov, "containers")) || !merge(file, ov, m))
		return policy_load_lint(file, lint, p, d);
	dir = xstrdup(file);
	err = policy_parse_string_lint(m->text, file, dirname(dir), lint, p, d);
	free(dir);
	return err;
}

/* One stage's diagnostics out: named for the containers they are about,
 * warnings dropped for the CNI plugin, printed, the failure reported. */
static void stage_done(const char *file, const struct merged *m, struct diag_list *d, int err,
		       bool compiling, bool cni)
{
	if (m->text)
		name_containers(m, d);
	if (cni)
		drop_warnings(d);
	diag_print(stderr, file, d);
	if (err)
		report(file, d, compiling, cni);
	diag_free(d);
}

/*
 * The never-match lint runs beside the compiler (a sixth of an update's
 * time at 4,000 rules, as long as compiling): its warnings are the
 * parse's last, printed with them once both are done, before the
 * compiler's.  The CNI plugin, which drops warnings, runs none.
 */
int overlay_load(const char *file, json_t *ov, bool cni, struct policy **p, struct compiled **c)
{
	struct merged m = { 0 };
	struct diag_list d = { 0 }, dc = { 0 };
	int err;

	*p = NULL;
	*c = NULL;
	err = parse(file, ov, cni ? POLICY_LINT_OFF : POLICY_LINT_BESIDE, p, &d, &m);
	if (!err)
		err = compile_policy(*p, c, &dc);
	policy_lint_join(*p, &d);
	stage_done(file, &m, &d, *p ? 0 : err, false, cni);
	if (*p) {
		stage_done(file, &m, &dc, err, true, cni);
		if (err) {
			policy_free(*p);
			*p = NULL;
		}
	}
	free(m.text);
	free(m.ipath);
	return err;
}
