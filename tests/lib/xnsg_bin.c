// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xnsg_bin.h"

const char *test_xnsg_bin(void)
{
	static char bin[PATH_MAX + 16];
	char self[PATH_MAX];
	const char *env = getenv("XNSG_BIN");
	ssize_t n;

	if (env && *env)
		return env;
	if (bin[0])
		return bin;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "build/xnsg";
	self[n] = '\0';
	/* BUILD/tests/unit-tests: the parent of its directory is BUILD. */
	snprintf(bin, sizeof(bin), "%s/../xnsg", dirname(self));
	return bin;
}

char *test_run_cmd(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0, cap = 4096;
	char *s = malloc(cap);

	cr_assert_not_null(f, "cannot run %s", cmd);
	while (!feof(f)) {
		if (cap - n < 1024)
			s = realloc(s, cap *= 2);
		n += fread(s + n, 1, cap - n - 1, f);
	}
	s[n] = '\0';
	*status = pclose(f);
	return s;
}

char *test_slurp(const char *path)
{
	char *cmd, *s;
	int st;

	cr_assert(asprintf(&cmd, "cat %s", path) > 0);
	s = test_run_cmd(cmd, &st);
	cr_assert_eq(st, 0, "cannot read %s", path);
	free(cmd);
	return s;
}
