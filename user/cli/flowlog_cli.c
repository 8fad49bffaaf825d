// SPDX-License-Identifier: MIT
/* The flow-log options of `xnsg flowlog` and `xnsg run` (flowlog_cli.h). */
#include "flowlog_cli.h"

const struct cli_word flowlog_cli_format_words[] = {
	{ "vnet-v4", FLOWLOG_AZURE_VNET_V4 + 1 },
	{ "nsg-v2", FLOWLOG_AZURE_NSG_V2 + 1 },
	{ "both", FLOWLOG_CLI_BOTH },
	{ NULL, 0 },
};

int flowlog_cli_check(const struct cli_command *c, const struct flowlog_cli *f,
		      bool need_output)
{
	bool output = f->jsonl || f->azure || f->ipfix;

	if (need_output && !output)
		return cli_cmd_usage_error(c, "no output: give --jsonl, --azure or --ipfix");
	if (f->azure_format && !f->azure)
		return cli_cmd_usage_error(c, "--azure-format needs --azure");
	if (f->templates && !f->ipfix)
		return cli_cmd_usage_error(c, "--ipfix-templates needs --ipfix");
	if ((f->interval || f->deny_rate) && !output)
		return cli_cmd_usage_error(c, "--interval and --deny-rate need an output: "
					   "--jsonl, --azure or --ipfix");
	return 0;
}

void flowlog_cli_to_opts(const struct flowlog_cli *f, struct flowlog_export_opts *o)
{
	o->jsonl = f->jsonl;
	o->azure_dir = f->azure;
	o->ipfix = f->ipfix;
	/* The words' values are the format + 1, so that 0 is "not given". */
	o->azure_format = f->azure_format && f->azure_format != FLOWLOG_CLI_BOTH
				  ? (enum flowlog_azure_format)(f->azure_format - 1)
				  : FLOWLOG_AZURE_VNET_V4;
	o->azure_both = f->azure_format == FLOWLOG_CLI_BOTH;
	o->interval_s = f->interval;
	o->deny_rate = f->deny_rate;
	o->ipfix_template_s = f->templates;
}
