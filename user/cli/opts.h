/* SPDX-License-Identifier: MIT */
/*
 * Declarative command-line options, after xdp-tools' DEFINE_OPTION and
 * DEFINE_COMMAND: a command is a table of options, each naming where its
 * value goes in the command's argument struct.  One parser fills that
 * struct and reports every usage error the same way; the usage line and
 * --help are written from the same table, so help cannot drift from what
 * is parsed.
 *
 *	struct show_args { const char *file, *ifname; };
 *	static const struct cli_opt show_opts[] = {
 *		CLI_POSITIONAL(struct show_args, file, "POLICY"),
 *		CLI_OPTION(struct show_args, ifname, STRING, "interface", .short_name = 'i',
 *			   .arg = "IF", .help = "only this interface"),
 *		CLI_JSON_OPTION("print the rules as JSON"),
 *		CLI_END
 *	};
 *	const struct cli_command show_command =
 *		CLI_COMMAND("show", struct show_args, do_show, show_opts, "effective rules ...");
 *
 * do_show(const void *args) then gets a filled struct show_args.
 */
#ifndef XNSG_OPTS_H
#define XNSG_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cli_opt_type {
	CLI_OPT_END,
	CLI_OPT_FLAG,	/* bool: set to true */
	CLI_OPT_COUNT,	/* int: one more each time (-v, -vv) */
	CLI_OPT_STRING,	/* const char *: the argument as given */
	CLI_OPT_UINT,	/* unsigned int: a decimal number in [min, max] */
	CLI_OPT_ENUM,	/* int: the value of the word given, from words */
	CLI_OPT_REST,	/* struct cli_rest: the first argument and all after it */
	CLI_OPT_LIST,	/* struct cli_list: each argument of a repeated option */
	CLI_OPT_JSON,	/* --json: sets xnsg_json, like the global option */
	CLI_OPT_HELP,	/* -h/--help with its own text (else one is implied,
			 * unless an option of the table is called "help") */
	CLI_OPT_DOC,	/* documented only: a legacy command parses it itself */
};

/* One allowed word of a CLI_OPT_ENUM (matched case-insensitively). */
struct cli_word {
	const char *word;
	int value;
};

/* What a CLI_OPT_REST positional holds: argv[0] is the first argument. */
struct cli_rest {
	int argc;
	char **argv;
};

/* What a CLI_OPT_LIST option holds: every argument given, in order.  A
 * fixed array, so that the argument struct needs no freeing. */
#define CLI_LIST_MAX 1024
struct cli_list {
	int n;
	const char *v[CLI_LIST_MAX];
};

struct cli_opt {
	/* Long name without "--"; for a positional, its name in usage. */
	const char *name;
	char short_name;	/* 0: long only */
	enum cli_opt_type type;
	bool positional;	/* a STRING is required; a REST may be empty */
	bool interspersed;	/* a REST of arguments only: options may come between */
	bool required;		/* an option that must be given ("missing -d in|out") */
	const char *arg;	/* argument name in usage and help; an enum's default: its words */
	const char *help;	/* one line in --help */
	size_t offset;		/* of the value in the command's argument struct */
	unsigned int min, max;	/* CLI_OPT_UINT */
	const struct cli_word *words; /* CLI_OPT_ENUM: ended by { NULL } */
};

/* The C type each kind stores, checked against the field at compile time. */
#define CLI_CTYPE_FLAG bool
#define CLI_CTYPE_COUNT int
#define CLI_CTYPE_STRING const char *
#define CLI_CTYPE_UINT unsigned int
#define CLI_CTYPE_ENUM int
#define CLI_CTYPE_REST struct cli_rest
#define CLI_CTYPE_LIST struct cli_list

/* offsetof(T, field), or a compile error when field is not of type ctype. */
#define CLI_FIELD(T, field, ctype)                                                    \
	(offsetof(T, field) +                                                        \
	 0 * sizeof(char[1 - 2 * !__builtin_types_compatible_p(                       \
				     __typeof__(((T *)0)->field), ctype)]))

/* An option of kind FLAG, COUNT, STRING, UINT, ENUM or LIST stored in T.field;
 * the rest (.short_name, .arg, .help, .required, .min/.max, .words) as
 * designated initialisers. */
#define CLI_OPTION(T, field, kind, lname, ...)                                        \
	{ .name = (lname), .type = CLI_OPT_##kind,                                    \
	  .offset = CLI_FIELD(T, field, CLI_CTYPE_##kind), __VA_ARGS__ }
/* A required positional argument (a const char *), in table order. */
#define CLI_POSITIONAL(T, field, metavar, ...)                                        \
	{ .name = (metavar), .type = CLI_OPT_STRING, .positional = true,              \
	  .offset = CLI_FIELD(T, field, const char *), __VA_ARGS__ }
/* Everything from the first positional on, unparsed (a subcommand's argv,
 * possibly none): option parsing stops there. */
#define CLI_REST(T, field, metavar, ...)                                              \
	{ .name = (metavar), .type = CLI_OPT_REST, .positional = true,                \
	  .offset = CLI_FIELD(T, field, struct cli_rest), __VA_ARGS__ }
/* Every positional argument (a struct cli_rest, possibly none), with the
 * options free to come before, between or after them ("FILE..."). */
#define CLI_ARGS(T, field, metavar, ...)                                              \
	{ .name = (metavar), .type = CLI_OPT_REST, .positional = true,                \
	  .interspersed = true, .offset = CLI_FIELD(T, field, struct cli_rest), __VA_ARGS__ }
#define CLI_JSON_OPTION(helptext) { .name = "json", .type = CLI_OPT_JSON, .help = (helptext) }
#define CLI_HELP_OPTION(helptext)                                                     \
	{ .name = "help", .short_name = 'h', .type = CLI_OPT_HELP, .help = (helptext) }
/* An option a legacy command parses itself: in its usage and --help only. */
#define CLI_DOC_OPTION(lname, ...) { .name = (lname), .type = CLI_OPT_DOC, __VA_ARGS__ }
#define CLI_END { .type = CLI_OPT_END }

struct cli_command {
	const char *name;	/* NULL: the program itself (global options) */
	const char *summary;
	const struct cli_opt *opts;
	/* The usage line after "xnsg NAME"; NULL: written from opts. */
	const char *usage;
	/* A declarative command: cli_parse() fills a copy of *defaults (zeros
	 * when NULL) of args_size bytes, and run gets it. */
	size_t args_size;
	const void *defaults;
	int (*run)(const void *args);
	/* A legacy command parses its own argv (argv[0] its name, getopt
	 * reset); opts are CLI_DOC_OPTIONs and usage is given. */
	int (*legacy)(int argc, char **argv);
};

/* A declarative command; more fields (.defaults, .usage) after the summary. */
#define CLI_COMMAND(cname, T, fn, opttab, sum, ...)                                   \
	{ .name = (cname), .summary = (sum), .opts = (opttab), .args_size = sizeof(T),   \
	  .run = (fn), __VA_ARGS__ }
/* A command that still parses its own argv, documented by opttab. */
#define CLI_LEGACY_COMMAND(cname, fn, use, opttab, sum)                               \
	{ .name = (cname), .summary = (sum), .opts = (opttab), .usage = (use),           \
	  .legacy = (fn) }

/* Exit status of a usage error (0 success, 1 failure). */
#define EXIT_USAGE 2

/* cli_parse() returns: */
#define CLI_PARSED 0	/* run the command */
#define CLI_HELP_SHOWN 1	/* --help was printed on stdout: exit 0 */
/* or -EINVAL after a usage error was reported (cli_cmd_usage_error): exit 2 */

/*
 * Parse argv (argv[0] is the command's name or the program's) against c's
 * table into args, which holds c's defaults already.  A usage error is
 * "xnsg CMD: MESSAGE" and the usage on stderr, and the error kept for
 * {"error": ...} in JSON mode.
 */
int cli_parse(const struct cli_command *c, int argc, char **argv, void *args);

/* "Usage: xnsg CMD ARGS" and the summary. */
void cli_print_usage(FILE *f, const struct cli_command *c);
/* The usage, then one line per option (-h/--help included). */
void cli_print_help(FILE *f, const struct cli_command *c);
/* Only the option lines: "  -i, --interface IF  help". */
void cli_print_options(FILE *f, const struct cli_command *c);
/* A usage error of c: message and usage on stderr, the error kept for JSON
 * mode; returns EXIT_USAGE. */
int cli_cmd_usage_error(const struct cli_command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A table mistake (duplicate name or letter, missing help, an enum without
 * words, a legacy command without its usage line), or NULL: for the tests. */
const char *cli_check_command(const struct cli_command *c);

#endif
