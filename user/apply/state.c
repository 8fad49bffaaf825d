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
#include <fcntl.h>
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

/* Set by apply_step() at XNSG_TEST_RECORD_FAIL_AT's step. */
static bool record_broken;

int state_write(json_t *st)
{
	char *path = state_path(".json"), *tmp = state_path(".json.tmp");
	int err = 0;

	if (record_broken) {
		pr_err("%s: cannot write the record: test hook XNSG_TEST_RECORD_FAIL_AT", path);
		free(tmp);
		free(path);
		return -EIO;
	}
	/* Compact: read back by xnsg alone (people have `status --json`), and
	 * indenting 500 interfaces' entries cost an add-one ~1 ms a write. */
	if (json_dump_file(st, tmp, JSON_COMPACT) || rename(tmp, path))
		err = -EIO;
	if (err)
		pr_err("%s: cannot write the record: %s", path, strerror(errno));
	free(tmp);
	free(path);
	return err;
}

/*
 * A generation's counter-slot names live beside the record, a text file
 * each: "xnsg-slots SERIAL", then one name a line ('\\' and newline
 * escaped).  As a JSON array of thousands of strings inside the record
 * they cost an update of 2 x 4,000 rules ~20 ms at each of its reads and
 * writes (jansson); the serial ties a file to the record entry naming it.
 */
static char *slots_path(unsigned int gen)
{
	char sfx[24];

	snprintf(sfx, sizeof(sfx), ".gen%u.slots", gen);
	return state_path(sfx);
}

void slots_escape(struct slots_text *t, const char *name)
{
	size_t need = 2 * strlen(name) + 2;

	if (t->len + need > t->cap) {
		t->cap = 2 * (t->len + need) + 4096;
		t->text = xrealloc(t->text, t->cap);
	}
	for (; *name; name++) {
		if (*name == '\\' || *name == '\n')
			t->text[t->len++] = '\\';
		t->text[t->len++] = *name == '\n' ? 'n' : *name;
	}
	t->text[t->len++] = '\n';
	t->n++;
}

int state_slots_write(unsigned int gen, unsigned int serial, const struct slots_text *t)
{
	char *path = slots_path(gen), *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int err = f ? 0 : -errno;

	if (f && (fprintf(f, "xnsg-slots %u\n", serial) < 0 ||
		  fwrite(t->text, 1, t->len, f) != t->len))
		err = -EIO;
	if (f && fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		pr_err("%s: cannot write the counter-slot names: %s", path, strerror(-err));
	free(tmp);
	free(path);
	return err;
}

/* The names of generation gen's entry g as written: "slots" in a record
 * of an earlier version, else the file if it is of g's serial. */
int state_gen_slots_text(json_t *g, unsigned int gen, struct slots_text *t)
{
	unsigned int serial = (unsigned int)json_integer_value(json_object_get(g, "serial")), have;
	char *path = slots_path(gen);
	json_t *j;
	size_t i;
	FILE *f;

	memset(t, 0, sizeof(*t));
	json_array_foreach(json_object_get(g, "slots"), i, j)
		slots_escape(t, json_string_value(j) ?: "");
	f = json_object_get(g, "slots") || !g ? NULL : fopen(path, "r");
	free(path);
	if (!f)
		return json_object_get(g, "slots") ? 0 : -ENOENT;
	if (fscanf(f, "xnsg-slots %u", &have) != 1 || have != serial || fgetc(f) != '\n') {
		fclose(f);
		return -ESTALE; /* of another apply (this one crashed before its record) */
	}
	for (size_t got = 1; got;) {
		t->cap = t->len + 65536;
		t->text = xrealloc(t->text, t->cap);
		got = fread(t->text + t->len, 1, t->cap - t->len, f);
		t->len += got;
	}
	fclose(f);
	for (i = 0; i < t->len; i++)
		t->n += t->text[i] == '\n';
	return 0;
}

size_t slots_next(const struct slots_text *t, size_t *at, char *buf, size_t size)
{
	size_t n = 0;

	while (*at < t->len && t->text[*at] != '\n') {
		char c = t->text[(*at)++];

		if (c == '\\' && *at < t->len) {
			c = t->text[(*at)++];
			c = c == 'n' ? '\n' : c;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	(*at)++;
	buf[n] = '\0';
	return n;
}

json_t *state_gen_slots(json_t *g, unsigned int gen)
{
	struct slots_text t;
	json_t *a = json_array();
	char name[1024];

	if (!state_gen_slots_text(g, gen, &t))
		for (size_t at = 0; at < t.len;) {
			slots_next(&t, &at, name, sizeof(name));
			json_array_append_new(a, json_string(name));
		}
	free(t.text);
	return a;
}

void state_remove(void)
{
	char *path = state_path(".json");

	unlink(path);
	free(path);
	apply_keeper_files_remove();
	for (unsigned int g = 0; g < XNSG_GENS; g++) {
		path = slots_path(g);
		unlink(path);
		free(path);
	}
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

void apply_record_mend(void)
{
	record_broken = false;
}

void apply_step(const char *step)
{
	const char *at = getenv("XNSG_TEST_CRASH_AT"), *trace = getenv("XNSG_TEST_STEPS");
	const char *broken = getenv("XNSG_TEST_RECORD_FAIL_AT");

	if (trace) { /* one line a step, appended: the order the steps ran in */
		int fd = open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dprintf(fd, "%s\n", step);
			close(fd);
		}
	}

	if (broken && !strcmp(broken, step))
		record_broken = true;
	if (at && !strcmp(at, step)) {
		fprintf(stderr, "xnsg: test hook: killed at step '%s'\n", step);
		fflush(stderr);
		kill(getpid(), SIGKILL);
	}
}
