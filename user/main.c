// SPDX-License-Identifier: MIT
/* xnsg: global options, then the command (table in commands.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const struct command *c;
	int opt;

	/* '+': stop at the first non-option, the command name. */
	while ((opt = getopt_long(argc, argv, "+vhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			xnsg_verbosity++;
			break;
		case 'j':
			xnsg_json = 1;
			break;
		case 'h':
			xnsg_usage(stdout);
			return 0;
		case 'V':
			printf("xnsg %s\n", XNSG_VERSION);
			return 0;
		default:
			xnsg_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		xnsg_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 < argc) {
			if (!find_command(argv[optind + 1])) {
				fprintf(stderr, "xnsg: unknown command '%s'\n", argv[optind + 1]);
				return EXIT_USAGE;
			}
			cmd_usage(argv[optind + 1], stdout);
			return 0;
		}
		xnsg_usage(stdout);
		return 0;
	}
	c = find_command(argv[optind]);
	if (!c) {
		fprintf(stderr, "xnsg: unknown command '%s'; see 'xnsg help'\n", argv[optind]);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the command's own parsing */
	return c->handler(argc, argv);
}
