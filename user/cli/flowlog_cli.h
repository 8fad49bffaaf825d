/* SPDX-License-Identifier: MIT */
/*
 * The flow-log options `xnsg flowlog` and `xnsg run` share: one struct
 * each embeds, one macro for the option table entries, one check and one
 * mapping to the exporter's options, so the two commands cannot drift
 * (names, arguments, help, checks).
 *
 *	struct run_args { const char *file; struct flowlog_cli fl; ... };
 *	static const struct cli_opt run_opts[] = {
 *		CLI_POSITIONAL(struct run_args, file, "POLICY"),
 *		CLI_FLOWLOG_OPTIONS(struct run_args, fl),
 *		...
 */
#ifndef XNSG_CLI_FLOWLOG_CLI_H
#define XNSG_CLI_FLOWLOG_CLI_H

#include <stdbool.h>

#include "export.h"
#include "opts.h"

struct flowlog_cli {
	const char *jsonl, *azure, *ipfix;
	int azure_format; /* 0: not given; enum flowlog_azure_format + 1; FLOWLOG_CLI_BOTH */
	unsigned int interval, deny_rate, templates; /* 0: not given */
};

/* --azure-format both: both formats under DIR, so v2 readers keep working
 * while v4 comes. */
#define FLOWLOG_CLI_BOTH 3

extern const struct cli_word flowlog_cli_format_words[];

/* The option entries of struct flowlog_cli member m of T, in help order. */
#define CLI_FLOWLOG_OPTIONS(T, m)                                                      \
	CLI_OPTION(T, m.jsonl, STRING, "jsonl", .arg = "FILE|-",                        \
		   .help = "JSON lines to FILE (appended; reopened on SIGHUP) or stdout"),    \
	CLI_OPTION(T, m.azure, STRING, "azure", .arg = "DIR",                           \
		   .help = "Azure flow-log blobs (hourly PT1H.json) under DIR"),              \
	CLI_OPTION(T, m.azure_format, ENUM, "azure-format",                             \
		   .arg = "vnet-v4|nsg-v2|both", .words = flowlog_cli_format_words,           \
		   .help = "VNet flow logs v4 (default), NSG flow logs v2, or both"),        \
	CLI_OPTION(T, m.ipfix, STRING, "ipfix", .arg = "HOST:PORT",                     \
		   .help = "IPFIX over UDP to a collector ([IPV6]:PORT for IPv6)"),           \
	CLI_OPTION(T, m.interval, UINT, "interval", .arg = "S", .min = 1, .max = 3600,  \
		   .help = "seconds between sweeps of the flow table (default 60)"),         \
	CLI_OPTION(T, m.deny_rate, UINT, "deny-rate", .arg = "N", .min = 1,             \
		   .max = 10000000,                                                           \
		   .help = "new denied 5-tuples logged per second per CPU (default 1000)"),   \
	CLI_OPTION(T, m.templates, UINT, "ipfix-templates", .arg = "S", .min = 1,       \
		   .max = 3600, .help = "seconds between IPFIX template refreshes (default 60)")

/* The options' usage errors, reported as c's: an output is needed when
 * need_output (`flowlog`), else only by --interval and --deny-rate
 * (`run` without flow logs); --azure-format needs --azure and
 * --ipfix-templates --ipfix.  0 or EXIT_USAGE. */
int flowlog_cli_check(const struct cli_command *c, const struct flowlog_cli *f,
		      bool need_output);
/* The exporter's outputs and knobs from f (the rest of o untouched). */
void flowlog_cli_to_opts(const struct flowlog_cli *f, struct flowlog_export_opts *o);

#endif
