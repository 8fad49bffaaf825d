// SPDX-License-Identifier: MIT
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
