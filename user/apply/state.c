// SPDX-License-Identifier: MIT
/*
 * What apply attached, recorded beside the pins (/run/xnsg/, one file per
 * pin directory) so that later commands know the interfaces, hooks, the
 * policy and the rule behind each counter slot.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp.h"
#include "log.h"
#include "model.h"

#define STATE_DIR "/run/xnsg"

char *dp_state_path(void)
{
	char *name = xstrdup(dp_pin_dir()), *path;

	for (char *c = name; *c; c++)
		if (*c == '/')
			*c = '_';
	path = xasprintf("%s/%s.json", STATE_DIR, name);
	free(name);
	return path;
}

/* The state as last written, or NULL when nothing is applied. */
json_t *dp_state_read(void)
{
	char *path = dp_state_path();
	json_error_t jerr;
	json_t *st = NULL;

	if (access(path, F_OK) == 0) {
		st = json_load_file(path, 0, &jerr);
		if (!st)
			pr_warn("%s: unreadable state (%s); treating as empty", path, jerr.text);
	}
	free(path);
	return st;
}

int dp_state_write(json_t *st)
{
	char *path = dp_state_path(), *tmp = xasprintf("%s.tmp", path);
	int err = 0;

	if (mkdir(STATE_DIR, 0700) && errno != EEXIST)
		err = -errno;
	else if (json_dump_file(st, tmp, JSON_INDENT(1)) || rename(tmp, path))
		err = -EIO;
	if (err)
		pr_err("%s: cannot write state: %s", path, strerror(-err));
	free(tmp);
	free(path);
	return err;
}

void dp_state_remove(void)
{
	char *path = dp_state_path();

	unlink(path);
	free(path);
}

