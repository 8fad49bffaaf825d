// SPDX-License-Identifier: MIT
/*
 * What is packaged agrees with the CLI: the bash completion names every
 * command and option `--help` lists (and no other), every `xnsg` command
 * line in the systemd unit and the Kubernetes files uses options the
 * command has, `run` takes `flowlog`'s flow-log options as `flowlog`
 * does, the unit passes `systemd-analyze verify` where it is
 * installed, and the binary does not link the libraries it opens at first
 * use.  Runs the built binary (tests/lib/xnsg_bin.h): XNSG_BIN, or the one beside the test binary, from the
 * repository root.
 */
#include <criterion/criterion.h>

#include "xnsg_bin.h"
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *bin(void)
{
	return test_xnsg_bin();
}

/* `xnsg ARGS` (e.g. "run --help"), which must exit 0. */
static char *xnsg(const char *args)
{
	char *cmd, *out;
	int st;

	cr_assert(asprintf(&cmd, "%s %s", bin(), args) > 0);
	out = test_run_cmd(cmd, &st);
	cr_assert_eq(st, 0, "'xnsg %s' exits 0", args);
	free(cmd);
	return out;
}

/* The words of s (space separated) as a JSON object used as a set. */
static json_t *word_set(const char *s)
{
	json_t *set = json_object();
	char *copy = strdup(s), *save = NULL;

	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		json_object_set_new(set, w, json_true());
	free(copy);
	return set;
}

/* The options of a --help text's "Options:" lines (or of the whole text
 * from `from` on): "-i", "--interface", ...; with args, each option that
 * takes an argument maps to it ("IF"). */
static json_t *help_options(const char *help, const char *from, json_t *args)
{
	const char *p = strstr(help, from);
	json_t *set = json_object();
	regex_t re;
	regmatch_t m[4];

	cr_assert_not_null(p, "'%s' in:\n%s", from, help);
	cr_assert_eq(regcomp(&re, "^ +(-[a-zA-Z], )?(--[a-z-]+)( [^ ]+)?", REG_EXTENDED | REG_NEWLINE),
		     0);
	for (; regexec(&re, p, 4, m, 0) == 0; p += m[0].rm_eo) {
		char *lng = strndup(p + m[2].rm_so, m[2].rm_eo - m[2].rm_so);

		json_object_set_new(set, lng, json_true());
		if (m[1].rm_so >= 0)
			json_object_set_new(set, (char[3]){ p[m[1].rm_so], p[m[1].rm_so + 1], 0 },
					    json_true());
		if (args && m[3].rm_so >= 0)
			json_object_set_new(args, lng,
					    json_stringn(p + m[3].rm_so + 1, m[3].rm_eo - m[3].rm_so - 1));
		free(lng);
	}
	regfree(&re);
	return set;
}

/* The commands `xnsg help` lists, "help" included. */
static json_t *commands(void)
{
	char *help = xnsg("help"), *save = NULL;
	json_t *set = json_object();
	bool in = false;

	for (char *l = strtok_r(help, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[32];

		if (!strcmp(l, "Commands:")) {
			in = true;
			continue;
		}
		if (in && !strncmp(l, "  ", 2) && sscanf(l, "  %31[a-z]", name) == 1)
			json_object_set_new(set, name, json_true());
		else if (in && l[0] != ' ')
			in = false;
	}
	free(help);
	return set;
}

static void expect_same_set(json_t *want, json_t *got, const char *what)
{
	const char *k;
	json_t *v;

	json_object_foreach(want, k, v)
		cr_expect(json_object_get(got, k) != NULL, "%s lacks %s", what, k);
	json_object_foreach(got, k, v)
		cr_expect(json_object_get(want, k) != NULL, "%s has %s, which --help does not list",
			  what, k);
}

/* The value of `NAME="..."` in a shell file, or of `[NAME]="..."`. */
static char *shell_value(const char *text, const char *name)
{
	char *pat, *p, *end;

	cr_assert(asprintf(&pat, "\n%s=\"", name) > 0);
	p = strstr(text, pat);
	if (!p) {
		free(pat);
		cr_assert(asprintf(&pat, "\t[%s]=\"", name) > 0);
		p = strstr(text, pat);
	}
	cr_assert_not_null(p, "the completion defines %s", name);
	p += strlen(pat);
	end = strchr(p, '"');
	free(pat);
	return strndup(p, end - p);
}

Test(packaging, completion_names_every_command_and_option)
{
	char *comp = test_slurp("dist/completion/xnsg"), *v, *help, *args;
	json_t *cmds = commands(), *set, *opts, *argmap;
	const char *name, *opt;
	json_t *x;

	v = shell_value(comp, "_xnsg_commands");
	set = word_set(v);
	expect_same_set(cmds, set, "the completion's command list");
	json_decref(set);
	free(v);
	help = xnsg("--help");
	opts = help_options(help, "Global options:", NULL);
	v = shell_value(comp, "_xnsg_global");
	set = word_set(v);
	expect_same_set(opts, set, "the completion's global options");
	json_decref(set);
	json_decref(opts);
	free(v);
	free(help);
	json_object_foreach(cmds, name, x) {
		char *what;

		if (!strcmp(name, "help"))
			continue;
		cr_assert(asprintf(&args, "%s --help", name) > 0);
		help = xnsg(args);
		argmap = json_object();
		opts = help_options(help, "Options:", argmap);
		v = shell_value(comp, name);
		set = word_set(v);
		cr_assert(asprintf(&what, "the completion's options of '%s'", name) > 0);
		expect_same_set(opts, set, what);
		/* An option with an argument is known to take one, so the word
		 * after it is completed as its argument, not as an option. */
		json_object_foreach(argmap, opt, x) {
			char *key;

			cr_assert(asprintf(&key, "[%s]=", opt) > 0);
			cr_expect(strstr(comp, key) != NULL, "the completion knows %s of '%s' takes %s",
				  opt, name, json_string_value(x));
			free(key);
		}
		free(what);
		json_decref(set);
		json_decref(opts);
		json_decref(argmap);
		free(help);
		free(args);
	}
	json_decref(cmds);
	free(comp);
}

/* `run` takes every flow-log option of `flowlog` (but --once and --json),
 * with the same argument and help, so one page of docs serves both. */
Test(packaging, run_takes_flowlogs_options)
{
	char *run = xnsg("run --help"), *fl = xnsg("flowlog --help"), *save = NULL;
	char *lines = strstr(fl, "Options:");

	cr_assert_not_null(lines);
	lines = strdup(lines);
	for (char *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char opt[64], *line;

		if (sscanf(l, "      %63s", opt) != 1 || strncmp(opt, "--", 2) || !strcmp(opt, "--once") ||
		    !strcmp(opt, "--json"))
			continue;
		/* The same line, up to the column padding. */
		line = l;
		while (*line == ' ')
			line++;
		cr_expect(strstr(run, opt) != NULL, "run has flowlog's %s", opt);
		{
			char *help = strstr(line, "  ");

			while (help && *help == ' ')
				help++;
			cr_expect(help && strstr(run, help), "run's %s says '%s' as flowlog's does", opt,
				  help ? help : "");
		}
	}
	free(lines);
	free(run);
	free(fl);
}

/* argv (a JSON array): argv[0] is xnsg, argv[1] a command, and every
 * --option is one that command's --help lists.  0 when argv[0] is
 * something else. */
static int check_argv(json_t *argv, const char *where)
{
	const char *cmd = json_string_value(json_array_get(argv, 1));
	const char *b = json_string_value(json_array_get(argv, 0));
	json_t *cmds, *opts, *v;
	char *args, *help;
	size_t i;

	if (!b || strcmp(strrchr(b, '/') ? strrchr(b, '/') + 1 : b, "xnsg"))
		return 0;
	cmds = commands();
	cr_assert(cmd && json_object_get(cmds, cmd), "%s: 'xnsg %s' is a command", where,
		  cmd ? cmd : "(none)");
	cr_assert(asprintf(&args, "%s --help", cmd) > 0);
	help = xnsg(args);
	opts = help_options(help, "Options:", NULL);
	json_array_foreach(argv, i, v) {
		const char *a = json_string_value(v);

		if (a && !strncmp(a, "--", 2))
			cr_expect(json_object_get(opts, a) != NULL, "%s: 'xnsg %s' has no option %s",
				  where, cmd, a);
	}
	json_decref(opts);
	json_decref(cmds);
	free(help);
	free(args);
	return 1;
}

/* Every `command: [...]` of the DaemonSet that runs xnsg. */
Test(packaging, daemonset_command_lines)
{
	char *y = test_slurp("dist/k8s/daemonset.yaml"), *save = NULL;
	int n = 0;

	for (char *l = strtok_r(y, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c = strstr(l, "command: [");
		json_error_t e;
		json_t *argv;

		if (!c)
			continue;
		argv = json_loads(c + 9, 0, &e);
		cr_assert_not_null(argv, "daemonset.yaml: a command is a one-line JSON list: %s", l);
		n += check_argv(argv, "daemonset.yaml");
		json_decref(argv);
	}
	cr_expect_geq(n, 1, "the DaemonSet runs xnsg");
	free(y);
}

/* The image's ENTRYPOINT and CMD together. */
Test(packaging, containerfile_command_line)
{
	char *c = test_slurp("dist/k8s/Containerfile"), *ep = strstr(c, "\nENTRYPOINT "),
	     *cmd = strstr(c, "\nCMD ");
	json_t *a, *b;

	cr_assert(ep && cmd, "the Containerfile has ENTRYPOINT and CMD");
	a = json_loads(ep + 12, JSON_DISABLE_EOF_CHECK, NULL);
	b = json_loads(cmd + 5, JSON_DISABLE_EOF_CHECK, NULL);
	cr_assert(a && b, "ENTRYPOINT and CMD are JSON lists");
	json_array_extend(a, b);
	cr_expect_eq(check_argv(a, "Containerfile"), 1, "the image runs xnsg");
	json_decref(a);
	json_decref(b);
	free(c);
}

/* Every command's options (and the global ones), as one set. */
static json_t *all_options(void)
{
	json_t *cmds = commands(), *all, *x;
	char *help = xnsg("--help"), *args;
	const char *name;

	all = help_options(help, "Global options:", NULL);
	free(help);
	json_object_foreach(cmds, name, x) {
		if (!strcmp(name, "help"))
			continue;
		cr_assert(asprintf(&args, "%s --help", name) > 0);
		help = xnsg(args);
		x = help_options(help, "Options:", NULL);
		json_object_update(all, x);
		json_decref(x);
		free(help);
		free(args);
	}
	json_decref(cmds);
	return all;
}

/* ExecStart, and the options the unit's comment suggests for XNSG_OPTS;
 * the --options the Kubernetes README names are options of xnsg. */
Test(packaging, unit_and_readme_options)
{
	char *u = test_slurp("dist/xnsg.service"), *r = test_slurp("dist/k8s/README.md");
	char *run = xnsg("run --help"), *s, *line;
	json_t *opts = help_options(run, "Options:", NULL), *all = all_options();
	regex_t re;
	regmatch_t m[1];
	const char *p;

	cr_assert_not_null(strstr(u, "\nExecStart=@SBINDIR@/xnsg run "), "ExecStart runs xnsg run");
	s = strstr(u, "XNSG_OPTS=\"");
	cr_assert_not_null(s, "the unit's comment shows XNSG_OPTS");
	line = strndup(s, strcspn(s, "\n"));
	cr_assert_eq(regcomp(&re, "--[a-z][a-z-]*", REG_EXTENDED), 0);
	for (p = line; regexec(&re, p, 1, m, 0) == 0; p += m[0].rm_eo) {
		char *o = strndup(p + m[0].rm_so, m[0].rm_eo - m[0].rm_so);

		cr_expect(json_object_get(opts, o) != NULL, "xnsg.service: run has no option %s", o);
		free(o);
	}
	for (p = r; regexec(&re, p, 1, m, 0) == 0; p += m[0].rm_eo) {
		char *o = strndup(p + m[0].rm_so, m[0].rm_eo - m[0].rm_so);

		cr_expect(json_object_get(all, o) != NULL,
			  "dist/k8s/README.md: no command has an option %s", o);
		free(o);
	}
	regfree(&re);
	json_decref(opts);
	json_decref(all);
	free(line);
	free(run);
	free(u);
	free(r);
}

Test(packaging, unit_passes_systemd_analyze_verify)
{
	char dir[] = "/tmp/xnsg-unit-XXXXXX", *cmd, *out, *abs;
	int st;

	if (system("command -v systemd-analyze >/dev/null 2>&1"))
		cr_skip_test("systemd-analyze is not installed");
	abs = realpath(bin(), NULL);
	cr_assert_not_null(abs, "the binary %s exists", bin());
	*strrchr(abs, '/') = '\0';
	cr_assert_not_null(mkdtemp(dir));
	/* The unit as installed, with the built binary where the sbin dir is. */
	cr_assert(asprintf(&cmd, "sed 's#@SBINDIR@#%s#' dist/xnsg.service > %s/xnsg.service && "
				 "systemd-analyze verify --man=no %s/xnsg.service 2>&1; echo rc=$?",
			   abs, dir, dir) > 0);
	out = test_run_cmd(cmd, &st);
	cr_expect(strstr(out, "rc=0\n") && !strstr(out, "xnsg.service:"),
		  "systemd-analyze verify dist/xnsg.service:\n%s", out);
	free(cmd);
	cr_assert(asprintf(&cmd, "rm -rf %s", dir) > 0);
	free(test_run_cmd(cmd, &st));
	free(cmd);
	free(out);
	free(abs);
}

/* libmicrohttpd (--metrics) and libsystemd (sd_notify) are opened when
 * used (user/lib/dynlib.h), not linked: with the 15 libraries they bring,
 * the dynamic loader would cost every command ~3 ms before main(). */
Test(packaging, binary_links_neither_libmicrohttpd_nor_libsystemd)
{
	static const char *const opened[] = { "libmicrohttpd", "libsystemd", "libgnutls", "libgcrypt" };
	char *cmd, *out;
	int st;

	cr_assert(asprintf(&cmd, "ldd %s 2>&1", bin()) > 0);
	out = test_run_cmd(cmd, &st);
	cr_assert_eq(st, 0, "'%s' exits 0:\n%s", cmd, out);
	cr_assert_not_null(strstr(out, "libbpf.so"), "ldd lists what is linked:\n%s", out);
	for (size_t i = 0; i < sizeof(opened) / sizeof(opened[0]); i++)
		cr_expect_null(strstr(out, opened[i]), "%s is not linked (ldd %s):\n%s", opened[i],
			       bin(), out);
	free(cmd);
	free(out);
}
