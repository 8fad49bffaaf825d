// SPDX-License-Identifier: MIT
/*
 * The record beside the pins (docs/DESIGN.md §8): for each generation,
 * the policy written into it and the apply (serial) that wrote it, with
 * the rule behind each counter slot; and the interfaces attached, with
 * what the kernel cannot tell (attach mode, whether xnsg made the clsact
 * qdisc).  One file per pin directory under /run/xnsg (XNSG_STATE_DIR),
 * its name the pin directory escaped so that no two directories share it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "datapath.h"
#include "log.h"

static const char *state_dir(void)
{
	const char *d = getenv("XNSG_STATE_DIR");

	return d && *d ? d : "/run/xnsg";
}

/* "/sys/fs/bpf/xnsg" -> "_2fsys_2ffs_2fbpf_2fxnsg": letters, digits, '.'
 * and '-' as they are, every other byte as _XX, so the escape is one to one. */
static char *escape(const char *s)
{
	char *out = xcalloc(strlen(s) * 3 + 1, 1), *o = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-')
			*o++ = (char)c;
		else
			o += sprintf(o, "_%02x", c);
	}
	return out;
}

char *state_path(const char *suffix)
{
	char *name = escape(dp_pin_dir()), *path;

	if (mkdir(state_dir(), 0700) && errno != EEXIST)
		pr_debug("%s: %s", state_dir(), strerror(errno));
	path = xasprintf("%s/%s%s", state_dir(), name, suffix);
	free(name);
	return path;
}

json_t *state_read(void)
{
	char *path = state_path(".json");
	json_error_t jerr;
	json_t *st = NULL;

	if (access(path, F_OK) == 0) {
		st = json_load_file(path, 0, &jerr);
		if (!st)
			pr_warn("%s: unreadable record (%s); treating it as empty", path, jerr.text);
	}
	free(path);
	return st;
}

int state_write(json_t *st)
{
	char *path = state_path(".json"), *tmp = state_path(".json.tmp");
	int err = 0;

	if (json_dump_file(st, tmp, JSON_INDENT(1)) || rename(tmp, path))
		err = -EIO;
	if (err)
		pr_err("%s: cannot write the record: %s", path, strerror(errno));
	free(tmp);
	free(path);
	return err;
}

void state_remove(void)
{
	char *path = state_path(".json");

	unlink(path);
	free(path);
}

json_t *state_iface(json_t *st, const char *name)
{
	json_t *j;
	size_t i;

	json_array_foreach(json_object_get(st, "interfaces"), i, j)
		if (!strcmp(json_string_value(json_object_get(j, "name")) ?: "", name))
			return j;
	return NULL;
}

json_t *state_gen(json_t *st, unsigned int gen, unsigned int serial)
{
	json_t *g = json_array_get(json_object_get(st, "gens"), gen);

	/* Serials start at 1: a fresh xnsg_active (0) was never recorded. */
	if (!json_is_object(g) || !serial ||
	    json_integer_value(json_object_get(g, "serial")) != (json_int_t)serial)
		return NULL;
	return g;
}

void apply_step(const char *step)
{
	const char *at = getenv("XNSG_TEST_CRASH_AT");

	if (at && !strcmp(at, step)) {
		fprintf(stderr, "xnsg: test hook: killed at step '%s'\n", step);
		fflush(stderr);
		kill(getpid(), SIGKILL);
	}
}
