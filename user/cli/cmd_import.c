// SPDX-License-Identifier: MIT
/*
 * xnsg import FILE... --map AZURE_NIC=IFNAME[:host|peer] [--service-tags
 * FILE] [-o FILE]: Azure's exports in, a host policy out (docs/DESIGN.md
 * §1 "Import", §5).  The files are read here, as carefully as a policy
 * (regular files only, "-" for stdin); the conversion is import.c's; what
 * it bound to what, and what it could not resolve, goes to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "cmd.h"
#include "import.h"
#include "log.h"
#include "opts.h"
#include "output.h"
#include "policy.h"

struct import_args {
	struct cli_rest files;
	struct cli_list maps;
	const char *service_tags, *out;
};

/* One input, parsed; 0 or 1 after an error on stderr. */
static int read_input(const char *file, bool *stdin_used, json_t **doc)
{
	json_error_t je;
	size_t len;
	char *text;
	int err;

	if (!strcmp(file, "-")) {
		if (*stdin_used) {
			cli_error("import: '-' (standard input) given twice");
			return 1;
		}
		*stdin_used = true;
		err = policy_read_fd(STDIN_FILENO, false, &text, &len, NULL);
	} else {
		err = policy_read_file(file, &text, &len, NULL);
	}
	if (err) {
		cli_error("import: cannot read %s: %s", file, policy_file_strerror(err));
		return 1;
	}
	*doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	free(text);
	if (!*doc) {
		cli_error("import: %s: $: JSON syntax error at line %d column %d: %s", file, je.line,
			  je.column, je.text);
		return 1;
	}
	return 0;
}

/* Every byte of buf to fd: 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Into something that is not a regular file (a terminal, a pipe, a
 * device, a symbolic link such as /dev/stdout): written through, never
 * replaced. */
static int write_stream(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = write_all(fd, text, strlen(text));
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* A regular file (or a new one), whole or not at all: a temporary file
 * beside it renamed over it, with the existing file's mode and owner. */
static int write_replace(const char *file, const char *text, const struct stat *old)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", file);
	int fd = mkstemp(tmp), err = 0;

	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	if (fchmod(fd, old ? old->st_mode & 07777 : 0644) ||
	    (old && fchown(fd, old->st_uid, old->st_gid)))
		err = -errno;
	err = err ?: write_all(fd, text, strlen(text));
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, file))
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

/* The policy into file: a regular one is replaced whole or not at all;
 * anything else (a device, a FIFO, a link to one) is written, not replaced. */
static int write_output(const char *file, json_t *policy)
{
	char *body = json_dumps(policy, JSON_INDENT(2)), *text = xasprintf("%s\n", body);
	struct stat lst;
	int err;

	if (lstat(file, &lst) == 0)
		err = S_ISREG(lst.st_mode) ? write_replace(file, text, &lst)
					   : write_stream(file, text);
	else
		err = errno == ENOENT ? write_replace(file, text, NULL) : -errno;
	if (err)
		cli_error("import: cannot write %s: %s", file, strerror(-err));
	free(body);
	free(text);
	return err ? 1 : 0;
}

/* --map and --service-tags into o (maps and bufs: the caller frees). */
static int import_options(const struct import_args *a, struct import_opts *o,
			  struct import_map *maps, char **bufs, char **tags)
{
	const char *why;

	for (int i = 0; i < a->maps.n; i++)
		if (import_parse_map(a->maps.v[i], &maps[i], &bufs[i], &why))
			return cli_cmd_usage_error(&import_command, "--map %s: %s", a->maps.v[i],
						   why);
	o->maps = maps;
	o->nmaps = (size_t)a->maps.n;
	if (a->service_tags) {
		/* Absolute: the policy may be written and applied anywhere. */
		*tags = realpath(a->service_tags, NULL);
		if (!*tags) {
			cli_error("import: --service-tags %s: %s", a->service_tags, strerror(errno));
			return 1;
		}
		o->service_tags = *tags;
	}
	return 0;
}

static int run_import(const struct import_args *a, struct import_input *in)
{
	struct import_map *maps = xcalloc((size_t)a->maps.n + 1, sizeof(*maps));
	char **bufs = xcalloc((size_t)a->maps.n + 1, sizeof(*bufs)), *tags = NULL;
	struct import_opts o = { 0 };
	struct import_result r;
	int ret;

	ret = import_options(a, &o, maps, bufs, &tags);
	if (!ret) {
		ret = import_policy(in, (size_t)a->files.argc, &o, &r) ? 1 : 0;
		diag_print(stderr, "import", &r.diags);
		for (size_t i = 0; i < r.nsummary; i++)
			fprintf(stderr, "import: %s\n", r.summary[i]);
		if (ret)
			cli_error("import: %zu error%s; no policy written", r.diags.nerrors,
				  r.diags.nerrors == 1 ? "" : "s");
		else if (a->out)
			ret = write_output(a->out, r.policy);
		else
			cli_print_json(json_incref(r.policy), JSON_INDENT(2));
		import_result_free(&r);
	}
	for (int i = 0; i < a->maps.n; i++)
		free(bufs[i]);
	free(bufs);
	free(maps);
	free(tags);
	return ret;
}

static int do_import(const void *args)
{
	const struct import_args *a = args;
	struct import_input *in;
	bool stdin_used = false;
	int ret = 0;

	if (!a->files.argc)
		return cli_cmd_usage_error(&import_command, "missing FILE (an export, or - for "
					   "standard input)");
	in = xcalloc((size_t)a->files.argc, sizeof(*in));
	for (int i = 0; i < a->files.argc && !ret; i++) {
		in[i].name = a->files.argv[i];
		ret = read_input(in[i].name, &stdin_used, &in[i].doc);
	}
	if (!ret)
		ret = run_import(a, in);
	for (int i = 0; i < a->files.argc; i++)
		json_decref(in[i].doc);
	free(in);
	return ret;
}

static const struct cli_opt import_opts[] = {
	CLI_ARGS(struct import_args, files, "FILE..."),
	CLI_OPTION(struct import_args, maps, LIST, "map", .arg = "AZURE_NIC=IFNAME[:host|peer]",
		   .help = "this Azure NIC is this interface (attach host, the default, or peer); "
			   "once per NIC"),
	CLI_OPTION(struct import_args, service_tags, STRING, "service-tags", .arg = "FILE",
		   .help = "Azure's Service Tags JSON, for rules on service tags"),
	CLI_OPTION(struct import_args, out, STRING, "output", .short_name = 'o', .arg = "FILE",
		   .help = "write the policy to FILE (default: standard output)"),
	CLI_END
};

const struct cli_command import_command =
	CLI_COMMAND("import", struct import_args, do_import, import_opts,
		    "a host policy from Azure's exports (az network nsg/nic/vnet show)");
