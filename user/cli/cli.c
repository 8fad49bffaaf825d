// SPDX-License-Identifier: MIT
/* Helpers shared by the policy commands: check, show, verify. */
#include <stdarg.h>
#include <stdlib.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"

void cli_print_json(json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags | JSON_PRESERVE_ORDER);

	if (s)
		puts(s);
	free(s);
	json_decref(j);
}

/* A message from a format; never NULL (falls back to the format). */
static char *vformat(const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup(fmt);
	return msg;
}

static void json_error(const char *prefix, const char *msg)
{
	if (xnsg_json)
		cli_print_json(json_pack("{s:s+}", "error", prefix, msg), 0);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	pr_err("%s", msg);
	json_error("", msg);
	free(msg);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char *prefix = xasprintf("%s: ", cmd);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	fprintf(stderr, "xnsg %s%s\n", prefix, msg);
	cmd_usage(cmd, stderr);
	json_error(prefix, msg);
	free(prefix);
	free(msg);
	return EXIT_USAGE;
}

int cli_policy_load(const char *file, struct policy **p, struct diag_list *d)
{
	int err;

	*p = NULL;
	err = policy_load(file, p, d);
	diag_print(stderr, file, d);
	return err;
}

struct policy *cli_policy_or_fail(const char *file)
{
	struct diag_list d = {};
	struct policy *p;
	int err;

	err = cli_policy_load(file, &p, &d);
	if (err) {
		if (d.nerrors)
			cli_error("%s: invalid policy (%zu error%s)", file, d.nerrors,
				  d.nerrors == 1 ? "" : "s");
		else
			cli_error("%s: cannot load the policy", file);
	}
	diag_free(&d);
	return err ? NULL : p;
}
