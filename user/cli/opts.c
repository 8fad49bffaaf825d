// SPDX-License-Identifier: MIT
/*
 * The option parser and the help writer (opts.h): both read a command's
 * table, so what --help lists is what is parsed.  getopt_long() does the
 * scanning; its own messages are off (opterr = 0) so that every usage
 * error reads "xnsg CMD: MESSAGE" and is followed by the usage.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "log.h"
#include "opts.h"
#include "output.h"

/* Options of one command, -h/--help included; far more than any needs. */
#define CLI_MAX_OPTS 32
/* getopt_long() values of options without a short letter. */
#define CLI_LONG_VAL 256

static const struct cli_opt implicit_help = CLI_HELP_OPTION("this help");

/* The command's entries in table order, and -h/--help when it has none
 * (a table may name its own "help": the program's global options do). */
struct optset {
	const struct cli_opt *v[CLI_MAX_OPTS + 1];
	int n;
};

static void optset_of(const struct cli_command *c, struct optset *s)
{
	bool help = false;

	s->n = 0;
	for (const struct cli_opt *o = c->opts; o && o->type != CLI_OPT_END; o++) {
		if (s->n < CLI_MAX_OPTS)
			s->v[s->n++] = o;
		help |= o->type == CLI_OPT_HELP || !strcmp(o->name ? o->name : "", "help");
	}
	if (!help)
		s->v[s->n++] = &implicit_help;
}

static bool takes_arg(const struct cli_opt *o)
{
	switch (o->type) {
	case CLI_OPT_STRING:
	case CLI_OPT_UINT:
	case CLI_OPT_ENUM:
	case CLI_OPT_LIST:
		return true;
	case CLI_OPT_DOC:
		return o->arg != NULL;
	default:
		return false;
	}
}

static int opt_val(const struct optset *s, int i)
{
	return s->v[i]->short_name ? s->v[i]->short_name : CLI_LONG_VAL + i;
}

static int find_val(const struct optset *s, int val)
{
	for (int i = 0; i < s->n; i++)
		if (!s->v[i]->positional && opt_val(s, i) == val)
			return i;
	return -1;
}

/* The argument's name: given, or an enum's words ("in|out"). */
static const char *arg_name(const struct cli_opt *o, char *buf, size_t len)
{
	size_t used = 0;

	if (o->arg || o->type != CLI_OPT_ENUM)
		return o->arg ? o->arg : "";
	buf[0] = '\0';
	for (const struct cli_word *w = o->words; w && w->word && used < len; w++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", w == o->words ? "" : "|",
					 w->word);
	return buf;
}

/* ---- usage and help -------------------------------------------------- */

/* One option as the usage line shows it: "-i IF", "--max-flows N", "--json". */
static void usage_form(const struct cli_opt *o, char *buf, size_t len)
{
	char words[128];

	if (o->positional)
		snprintf(buf, len, "%s", o->name);
	else if (takes_arg(o) && o->short_name)
		snprintf(buf, len, "-%c %s", o->short_name, arg_name(o, words, sizeof(words)));
	else if (takes_arg(o))
		snprintf(buf, len, "--%s %s", o->name, arg_name(o, words, sizeof(words)));
	else
		snprintf(buf, len, "--%s", o->name);
}

void cli_print_usage(FILE *f, const struct cli_command *c)
{
	struct optset s;
	char form[160];

	fprintf(f, "Usage: xnsg%s%s", c->name ? " " : "", c->name ? c->name : "");
	optset_of(c, &s);
	if (c->usage) {
		fprintf(f, " %s", c->usage);
	} else {
		for (int i = 0; i < s.n; i++) {
			if (s.v[i]->type == CLI_OPT_HELP)
				continue;
			usage_form(s.v[i], form, sizeof(form));
			fprintf(f, s.v[i]->positional || s.v[i]->required ? " %s" : " [%s]", form);
			if (s.v[i]->type == CLI_OPT_LIST)
				fputs("...", f); /* may be given again */
		}
	}
	fprintf(f, "\n  %s\n", c->summary);
}

/* The left column of an option's help line: "-i, --interface IF". */
static void help_form(const struct cli_opt *o, char *buf, size_t len)
{
	char words[128];

	snprintf(buf, len, "%c%c%c --%s%s%s", o->short_name ? '-' : ' ',
		 o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ', o->name,
		 takes_arg(o) ? " " : "", takes_arg(o) ? arg_name(o, words, sizeof(words)) : "");
}

void cli_print_options(FILE *f, const struct cli_command *c)
{
	char form[160];
	struct optset s;
	int width = 0;

	optset_of(c, &s);
	for (int i = 0; i < s.n; i++) {
		help_form(s.v[i], form, sizeof(form));
		if (!s.v[i]->positional && (int)strlen(form) > width)
			width = (int)strlen(form);
	}
	for (int i = 0; i < s.n; i++) {
		if (s.v[i]->positional)
			continue;
		help_form(s.v[i], form, sizeof(form));
		fprintf(f, "  %-*s  %s\n", width, form, s.v[i]->help ? s.v[i]->help : "");
	}
}

void cli_print_help(FILE *f, const struct cli_command *c)
{
	cli_print_usage(f, c);
	fputs("\nOptions:\n", f);
	cli_print_options(f, c);
}

static void vusage_error(const struct cli_command *c, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap), *kept;

	kept = c->name ? xasprintf("%s: %s", c->name, msg) : xstrdup(msg);
	fprintf(stderr, "xnsg%s%s\n", c->name ? " " : ": ", kept);
	cli_print_usage(stderr, c);
	cli_note_error(kept);
	free(kept);
	free(msg);
}

int cli_cmd_usage_error(const struct cli_command *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage_error(c, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* The parser's way to report one: -EINVAL, what cli_parse() returns. */
static int __attribute__((format(printf, 2, 3))) usage_error(const struct cli_command *c,
							     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage_error(c, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- storing values -------------------------------------------------- */

static int store_uint(const struct cli_command *c, const struct cli_opt *o, const char *spelled,
		      const char *s, unsigned int *v)
{
	unsigned int max = o->max ? o->max : UINT_MAX;
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || errno || *end || n < o->min || n > max)
		return usage_error(c, "%s %s: must be a number from %u to %u", spelled, s, o->min,
				   max);
	*v = (unsigned int)n;
	return 0;
}

static int store_enum(const struct cli_command *c, const struct cli_opt *o, const char *spelled,
		      const char *s, int *v)
{
	char allowed[160];
	size_t used = 0, n = 0;

	for (const struct cli_word *w = o->words; w->word; w++, n++) {
		if (!strcasecmp(w->word, s)) {
			*v = w->value;
			return 0;
		}
	}
	/* "in or out", "xdp, tc or skb" */
	allowed[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(allowed); i++)
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
					 i == 0 ? "" : i == n - 1 ? " or " : ", ", o->words[i].word);
	return usage_error(c, "%s %s: must be %s", spelled, s, allowed);
}

static int store(const struct cli_command *c, const struct cli_opt *o, const char *spelled,
		 const char *arg, void *args)
{
	char *field = (char *)args + o->offset;

	switch (o->type) {
	case CLI_OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case CLI_OPT_COUNT:
		(*(int *)field)++;
		return 0;
	case CLI_OPT_STRING:
		*(const char **)field = arg;
		return 0;
	case CLI_OPT_UINT:
		return store_uint(c, o, spelled, arg, (unsigned int *)field);
	case CLI_OPT_ENUM:
		return store_enum(c, o, spelled, arg, (int *)field);
	case CLI_OPT_LIST: {
		struct cli_list *l = (struct cli_list *)field;

		if (l->n == CLI_LIST_MAX)
			return usage_error(c, "%s: given more than %d times", spelled, CLI_LIST_MAX);
		l->v[l->n++] = arg;
		return 0;
	}
	case CLI_OPT_JSON:
		xnsg_json = 1;
		return 0;
	default: /* CLI_OPT_DOC: a legacy command's, never parsed here */
		return usage_error(c, "%s: not parsed here", spelled);
	}
}

/* ---- parsing --------------------------------------------------------- */

/* getopt_long()'s tables for s: '+' stops at the first positional when
 * the command hands the rest on (CLI_OPT_REST). */
static void getopt_tables(const struct optset *s, struct option *lo, char *shorts)
{
	size_t k = 0;
	int n = 0;

	for (int i = 0; i < s->n; i++)
		if (s->v[i]->type == CLI_OPT_REST && !s->v[i]->interspersed)
			shorts[k++] = '+';
	shorts[k++] = ':'; /* a missing argument is ':', not '?' */
	for (int i = 0; i < s->n; i++) {
		const struct cli_opt *o = s->v[i];

		if (o->positional)
			continue;
		lo[n++] = (struct option){ o->name, takes_arg(o) ? required_argument : no_argument,
					   NULL, opt_val(s, i) };
		if (o->short_name) {
			shorts[k++] = o->short_name;
			if (takes_arg(o))
				shorts[k++] = ':';
		}
	}
	lo[n] = (struct option){ 0 };
	shorts[k] = '\0';
}

/* How the user wrote o: "--interface" or "-i". */
static void spelling(const struct cli_opt *o, bool as_long, char *buf, size_t len)
{
	if (as_long || !o->short_name)
		snprintf(buf, len, "--%s", o->name);
	else
		snprintf(buf, len, "-%c", o->short_name);
}

/* getopt_long() said '?': an unknown, ambiguous or argument-taking-flag one. */
static int bad_option(const struct cli_command *c, const struct optset *s, char **argv)
{
	const char *word = argv[optind - 1];
	int i = optopt ? find_val(s, optopt) : -1, matches = 0;
	size_t len = strcspn(word, "=");

	if (i >= 0)
		return usage_error(c, "--%s takes no argument", s->v[i]->name);
	if (optopt)
		return usage_error(c, "unknown option '-%c'", optopt);
	for (int j = 0; j < s->n; j++)
		matches += !s->v[j]->positional && len > 2 &&
			   !strncmp(s->v[j]->name, word + 2, len - 2);
	if (matches > 1)
		return usage_error(c, "ambiguous option '%.*s'", (int)len, word);
	return usage_error(c, "unknown option '%s'", word);
}

static int one_option(const struct cli_command *c, const struct optset *s, int ch, int li,
		      char **argv, void *args, bool *given)
{
	char spelled[64], words[128];
	int i;

	if (ch == '?')
		return bad_option(c, s, argv);
	i = find_val(s, ch == ':' ? optopt : ch);
	if (i < 0) /* cannot happen: getopt returns only what it was given */
		return usage_error(c, "unknown option");
	spelling(s->v[i], ch == ':' ? !strncmp(argv[optind - 1], "--", 2) : li >= 0, spelled,
		 sizeof(spelled));
	if (ch == ':')
		return usage_error(c, "%s needs %s", spelled, arg_name(s->v[i], words, sizeof(words)));
	if (s->v[i]->type == CLI_OPT_HELP) {
		cli_print_help(stdout, c);
		return CLI_HELP_SHOWN;
	}
	given[i] = true;
	return store(c, s->v[i], spelled, optarg, args);
}

/* The positionals in table order from argv[optind], then what is left over. */
static int positionals(const struct cli_command *c, const struct optset *s, int argc,
		       char **argv, void *args)
{
	int k = optind;

	for (int i = 0; i < s->n; i++) {
		const struct cli_opt *o = s->v[i];
		char *field = (char *)args + o->offset;

		if (!o->positional)
			continue;
		if (o->type == CLI_OPT_REST) { /* may be empty: its owner decides */
			*(struct cli_rest *)field = (struct cli_rest){ argc - k, argv + k };
			k = argc;
		} else if (k < argc) {
			*(const char **)field = argv[k++];
		} else {
			return usage_error(c, "missing %s", o->name);
		}
	}
	if (k < argc)
		return usage_error(c, "unexpected argument '%s'", argv[k]);
	return 0;
}

int cli_parse(const struct cli_command *c, int argc, char **argv, void *args)
{
	struct option lo[CLI_MAX_OPTS + 2];
	char shorts[3 * CLI_MAX_OPTS + 4], form[160];
	bool given[CLI_MAX_OPTS + 1] = {};
	int ch, li, err = 0, saved_opterr = opterr;
	struct optset s;

	optset_of(c, &s);
	getopt_tables(&s, lo, shorts);
	opterr = 0;
	optind = 0; /* a full reset: each parse reads a new argv */
	while (!err && (li = -1, ch = getopt_long(argc, argv, shorts, lo, &li)) != -1)
		err = one_option(c, &s, ch, li, argv, args, given);
	/* A legacy command's own getopt loop still wants getopt's messages. */
	opterr = saved_opterr;
	if (!err)
		err = positionals(c, &s, argc, argv, args);
	if (err)
		return err;
	for (int i = 0; i < s.n; i++) {
		if (s.v[i]->required && !given[i]) {
			usage_form(s.v[i], form, sizeof(form));
			return usage_error(c, "missing %s", form);
		}
	}
	return CLI_PARSED;
}

/* ---- table checks (the tests run them on every command) -------------- */

static const char *check_opt(const struct cli_command *c, const struct optset *s, int i)
{
	const struct cli_opt *o = s->v[i];

	if (!o->name || !o->name[0])
		return "an entry without a name";
	if (c->legacy && o->type != CLI_OPT_DOC && o->type != CLI_OPT_HELP)
		return "a legacy command's options are CLI_DOC_OPTIONs";
	if (!c->legacy && o->type == CLI_OPT_DOC)
		return "a CLI_DOC_OPTION in a parsed command";
	if (!o->positional && !o->help)
		return "an option without help text";
	if (o->type == CLI_OPT_ENUM && (!o->words || !o->words[0].word))
		return "an enum without words";
	if (o->type == CLI_OPT_REST && i + 1 < s->n && s->v[i + 1]->positional)
		return "a positional after CLI_REST";
	for (int j = 0; j < i; j++) {
		if (!o->positional && !s->v[j]->positional && !strcmp(o->name, s->v[j]->name))
			return "two options of one long name";
		if (o->short_name && o->short_name == s->v[j]->short_name)
			return "two options of one short letter";
	}
	return NULL;
}

const char *cli_check_command(const struct cli_command *c)
{
	struct optset s;
	int n = 0;

	for (const struct cli_opt *o = c->opts; o && o->type != CLI_OPT_END; o++)
		n++;
	if (n >= CLI_MAX_OPTS)
		return "more options than CLI_MAX_OPTS";
	if (!c->summary)
		return "no summary";
	if (c->legacy ? !c->usage || c->run : !c->run || !c->args_size)
		return c->legacy ? "a legacy command without its usage line"
				 : "a command without its handler or argument struct";
	optset_of(c, &s);
	for (int i = 0; i < s.n; i++) {
		const char *why = check_opt(c, &s, i);

		if (why)
			return why;
	}
	return NULL;
}
