// SPDX-License-Identifier: MIT
/*
 * `xnsg --help`, the man page and README agree on commands and options
 * (bpftool's sync test, in spirit); --help itself is written from the
 * option tables the parser reads, so all three agree with the parser.
 * Runs the built binary: XNSG_BIN, or the xnsg built beside the test
 * binary (tests/lib/xnsg_bin.h).
 */
#include <criterion/criterion.h>

#include "xnsg_bin.h"
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bin(void)
{
	return test_xnsg_bin();
}

/* The option words (--long and -x) of a usage text. */
static int options_of(const char *usage, char opts[][32], int max)
{
	regex_t re;
	regmatch_t m[2];
	const char *p = usage;
	int n = 0;

	cr_assert_eq(regcomp(&re, "[[ |](--[a-z-]+|-[a-zA-Z])\\b", REG_EXTENDED), 0);
	while (n < max && regexec(&re, p, 2, m, 0) == 0) {
		int len = m[1].rm_eo - m[1].rm_so;

		snprintf(opts[n++], 32, "%.*s", len, p + m[1].rm_so);
		p += m[1].rm_eo;
	}
	regfree(&re);
	return n;
}

/* "--reset-flows" as groff writes it: "\-\-reset\-flows". */
static void man_escape(const char *opt, char *out, size_t len)
{
	size_t o = 0;

	for (; *opt && o + 3 < len; opt++) {
		if (*opt == '-')
			out[o++] = '\\';
		out[o++] = *opt;
	}
	out[o] = '\0';
}

/* s with every run of spaces made one space, in a new string. */
static char *squeeze(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	cr_assert_not_null(out);
	for (; *s; s++)
		if (*s != ' ' || o == out || o[-1] != ' ')
			*o++ = *s;
	*o = '\0';
	return out;
}

/* README's usage block shows each command as its --help does: the line
 * after "Usage: " (written from the option table), up to spacing. */
static void expect_readme_usage(const char *readme, const char *usage, const char *name)
{
	const char *start = strstr(usage, "Usage: ");
	char *line, *squeezed = squeeze(readme);

	cr_assert_not_null(start, "'xnsg %s --help' starts with its usage", name);
	line = strndup(start + 7, strcspn(start + 7, "\n"));
	cr_expect(strstr(squeezed, line), "README's usage shows '%s'", line);
	free(line);
	free(squeezed);
}

Test(docs, commands_and_options_agree)
{
	char *help, *readme = test_slurp("README.md"), *man = test_slurp("man/xnsg.8"), *cmd;
	char *line, *save = NULL;
	int st, ncmds = 0;

	cr_assert(asprintf(&cmd, "%s help", bin()) > 0);
	help = test_run_cmd(cmd, &st);
	cr_assert_eq(st, 0, "'xnsg help' exits 0");
	free(cmd);
	for (line = strtok_r(help, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[32], opts[32][32], pat[96], esc[96], *usage;
		int n;

		if (sscanf(line, "  %31[a-z] ", name) != 1 || !strcmp(name, "help") ||
		    strncmp(line, "  ", 2) || line[2] == ' ' || line[2] == '-')
			continue;
		ncmds++;
		cr_assert(asprintf(&cmd, "%s %s --help", bin(), name) > 0);
		usage = test_run_cmd(cmd, &st);
		cr_assert_eq(st, 0, "'xnsg %s --help' exits 0", name);
		cr_assert(strstr(usage, "Usage: xnsg"), "'xnsg %s --help' prints a usage line", name);
		snprintf(pat, sizeof(pat), "xnsg %s", name);
		cr_assert(strstr(readme, pat), "README shows '%s'", pat);
		expect_readme_usage(readme, usage, name);
		snprintf(pat, sizeof(pat), ".B xnsg %s", name);
		cr_assert(strstr(man, pat), "the man page has a synopsis for '%s'", name);
		snprintf(pat, sizeof(pat), ".B %s\n", name);
		cr_assert(strstr(man, pat), "the man page describes command '%s'", name);
		n = options_of(usage, opts, 32);
		for (int i = 0; i < n; i++) {
			cr_assert(strstr(readme, opts[i]), "README mentions %s of 'xnsg %s'", opts[i], name);
			man_escape(opts[i], esc, sizeof(esc));
			cr_assert(strstr(man, esc), "the man page mentions %s of 'xnsg %s'", opts[i], name);
		}
		free(usage);
		free(cmd);
	}
	cr_assert_geq(ncmds, 7, "'xnsg help' lists the commands (found %d)", ncmds);
	for (const char *const *g = (const char *const[]){ "--json", "--verbose", "--help", "--version", NULL }; *g; g++) {
		char esc[32];

		cr_assert(strstr(readme, *g), "README mentions global option %s", *g);
		man_escape(*g, esc, sizeof(esc));
		cr_assert(strstr(man, esc), "the man page mentions global option %s", *g);
	}
	free(help);
	free(readme);
	free(man);
}
