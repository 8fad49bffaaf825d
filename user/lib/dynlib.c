// SPDX-License-Identifier: MIT
/* Libraries opened at first use (dynlib.h): dlopen(), dlsym(), one error line. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynlib.h"

/* dlerror()'s text starts with the file ("libx.so.1: cannot open ...",
 * "/usr/lib/.../libx.so.1: undefined symbol: f"); the line names it once. */
static const char *reason(const struct dynlib *l, const char *err)
{
	const char *sep = err ? strstr(err, ": ") : NULL;
	size_t flen = strlen(l->file);

	if (!err)
		return "unknown error";
	if (sep && (size_t)(sep - err) >= flen && !memcmp(sep - flen, l->file, flen))
		return sep + 2;
	return err;
}

static int fail(struct dynlib *l, int err, const char *why)
{
	if (*l->package)
		snprintf(l->msg, sizeof(l->msg), "%s needs %s (Debian package %s): %s", l->user,
			 l->file, l->package, why);
	else
		snprintf(l->msg, sizeof(l->msg), "%s needs %s: %s", l->user, l->file, why);
	l->err = err;
	return err;
}

int dynlib_load(struct dynlib *l)
{
	const char *hook = getenv("XNSG_TEST_DLOPEN_FAIL");

	if (l->tried)
		return l->err;
	l->tried = true;
	if (hook && *hook && !strncmp(l->file, hook, strlen(hook)))
		return fail(l, -ELIBACC,
			    "cannot open shared object file: No such file or directory "
			    "(XNSG_TEST_DLOPEN_FAIL)");
	/* RTLD_NOW: a library that cannot be completed fails here, not at a call. */
	l->handle = dlopen(l->file, RTLD_NOW | RTLD_LOCAL);
	if (!l->handle)
		return fail(l, -ELIBACC, reason(l, dlerror()));
	for (size_t i = 0; i < l->nsyms; i++) {
		dlerror();
		*l->syms[i].fn = dlsym(l->handle, l->syms[i].name);
		if (!*l->syms[i].fn) {
			fail(l, -ELIBBAD, reason(l, dlerror()));
			for (size_t j = 0; j <= i; j++)
				*l->syms[j].fn = NULL;
			dlclose(l->handle);
			l->handle = NULL;
			return l->err;
		}
	}
	return 0;
}

const char *dynlib_error(const struct dynlib *l)
{
	return l->err ? l->msg : "";
}
