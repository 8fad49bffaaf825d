// SPDX-License-Identifier: MIT
/*
 * xnsg verify: Azure's IP flow verify (docs/DESIGN.md §5).  The decision for one
 * flow on one interface and the rule behind it, from the reference
 * evaluator or, with --datapath, from the BPF classifier itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "cmd.h"
#include "datapath.h"
#include "log.h"
#include "verify.h"

/* ---- rendering (shared by the evaluator's and the datapath's result) -- */

static const char *access_name(bool allow)
{
	return allow ? "Allow" : "Deny";
}

static const struct rule *level_rule(const struct policy *p, const struct eval_level *l)
{
	if (l->nsg < 0 || l->rule < 0)
		return NULL;
	return &p->nsgs[l->nsg].rules[l->rule];
}

static json_t *rule_ref_json(const struct policy *p, const struct eval_level *l)
{
	const struct rule *r = level_rule(p, l);

	return r ? json_sprintf("%s/%s", p->nsgs[l->nsg].name, r->name) : json_null();
}

/* Azure's spelling, as `az network watcher test-ip-flow` prints it. */
static json_t *rule_name_json(const struct policy *p, const struct eval_level *l)
{
	const struct rule *r = level_rule(p, l);

	if (!r)
		return json_null();
	return json_sprintf("%s/%s", r->is_default ? "defaultSecurityRules" : "securityRules",
			    r->name);
}

static json_t *level_json(const struct policy *p, const struct eval_level *l)
{
	return json_pack("{s:s,s:o,s:s,s:o,s:o}",
			 "scope", l->scope == EVAL_SUBNET ? "subnet" : "nic",
			 "nsg", l->nsg >= 0 ? json_string(p->nsgs[l->nsg].name) : json_null(),
			 "access", access_name(l->allow),
			 "rule", rule_ref_json(p, l),
			 "ruleName", rule_name_json(p, l));
}

json_t *verify_result_json(const struct policy *p, const struct eval_result *r)
{
	static const struct eval_level none = { .nsg = -1, .rule = -1, .allow = true };
	const struct eval_level *dec = r->decisive >= 0 ? &r->level[r->decisive] : &none;
	json_t *levels = json_array();

	for (int i = 0; i < 2; i++)
		json_array_append_new(levels, level_json(p, &r->level[i]));
	return json_pack("{s:s,s:o,s:o,s:o}", "access", access_name(r->allow),
			 "rule", rule_ref_json(p, dec), "ruleName", rule_name_json(p, dec),
			 "levels", levels);
}

void verify_result_print(FILE *f, const struct policy *p, const struct eval_result *r)
{
	fprintf(f, "%-5s ", access_name(r->allow));
	if (r->decisive < 0) {
		fputs("not filtered: no NSG on this interface or its subnet", f);
	} else {
		const struct eval_level *dec = &r->level[r->decisive];
		const struct rule *rule = level_rule(p, dec);

		if (rule)
			fprintf(f, "by %s/%s (%s/%s)", p->nsgs[dec->nsg].name, rule->name,
				rule->is_default ? "defaultSecurityRules" : "securityRules",
				rule->name);
		else
			fprintf(f, "by %s (no rule matched)", p->nsgs[dec->nsg].name);
	}
	fputs(" [", f);
	for (int i = 0; i < 2; i++) {
		const struct eval_level *l = &r->level[i];
		const struct rule *rule = level_rule(p, l);

		fprintf(f, "%s%s %s: %s", i ? "; " : "", l->scope == EVAL_SUBNET ? "subnet" : "nic",
			l->nsg >= 0 ? p->nsgs[l->nsg].name : "none", access_name(l->allow));
		if (rule)
			fprintf(f, " %s", rule->name);
	}
	fputs("]\n", f);
}

/* ---- arguments ------------------------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n > 65535)
		return -EINVAL;
	*port = (uint16_t)n;
	return 0;
}

int verify_parse_endpoint(const char *s, struct xnsg_addr *a, uint16_t *port, bool *has_port)
{
	char buf[64];
	const char *colon = strchr(s, ':');
	const char *portstr = NULL;
	bool bracketed = s[0] == '[';
	size_t alen;

	*port = 0;
	*has_port = false;
	if (bracketed) { /* [IPv6]:PORT or [IPv6] */
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		s++;
		alen = (size_t)(close - s);
		if (close[1])
			portstr = close + 2;
	} else if (colon && !strchr(colon + 1, ':')) { /* IPv4:PORT */
		alen = (size_t)(colon - s);
		portstr = colon + 1;
	} else { /* bare IPv4 or IPv6 */
		alen = strlen(s);
	}
	if (alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (addr_parse(buf, a))
		return -EINVAL;
	if (bracketed && a->family != XNSG_V6)
		return -EINVAL;
	if (portstr) {
		if (parse_port(portstr, port))
			return -EINVAL;
		*has_port = true;
	}
	return 0;
}

struct verify_args {
	const char *file, *ifname, *proto, *local, *remote;
	int dir; /* enum xnsg_dir */
	bool datapath;
};

static bool proto_has_ports(uint8_t ipproto)
{
	return ipproto == 6 || ipproto == 17;
}

/* One endpoint option: parsed, and its port required or ignored by protocol. */
static int endpoint_arg(const char *opt, const char *s, const char *proto, uint8_t ipproto,
			struct xnsg_addr *a, uint16_t *port)
{
	bool has_port;

	if (verify_parse_endpoint(s, a, port, &has_port))
		return cli_cmd_usage_error(&verify_command,
					   "%s %s: not ADDRESS, ADDRESS:PORT or [IPv6]:PORT", opt, s);
	if (proto_has_ports(ipproto) && !has_port)
		return cli_cmd_usage_error(&verify_command,
					   "%s %s: missing port (-P %s needs ADDRESS:PORT)", opt, s,
					   proto);
	if (!proto_has_ports(ipproto) && has_port) {
		pr_warn("verify: %s %s: the port is ignored, -P %s has no ports", opt, s, proto);
		*port = 0;
	}
	return 0;
}

/* Everything the arguments alone decide beyond the option table; 0 or
 * EXIT_USAGE. */
static int build_query(const struct verify_args *a, struct eval_query *q)
{
	int proto;

	memset(q, 0, sizeof(*q));
	q->dir = a->dir;
	proto = ipproto_parse(a->proto);
	if (proto < 0)
		return cli_cmd_usage_error(&verify_command,
					   "-P %s: not tcp, udp, icmp, icmpv6, esp, ah or 0-255",
					   a->proto);
	q->ipproto = (uint8_t)proto;
	if (endpoint_arg("-l", a->local, a->proto, q->ipproto, &q->local, &q->lport) ||
	    endpoint_arg("-r", a->remote, a->proto, q->ipproto, &q->remote, &q->rport))
		return EXIT_USAGE;
	if (q->local.family != q->remote.family)
		return cli_cmd_usage_error(&verify_command,
					   "-l %s and -r %s: not the same address family",
					   a->local, a->remote);
	/* The datapath walks these past to the protocol they carry (docs/DESIGN.md §2),
	 * so no IPv6 packet is ever judged as one of them. */
	if (q->local.family == XNSG_V6 && (proto == 0 || proto == 43 || proto == 44 || proto == 60))
		return cli_cmd_usage_error(&verify_command,
					   "-P %s: an IPv6 extension header, not a protocol; "
					   "give the protocol it carries", a->proto);
	return 0;
}

static bool iface_has_addr(const struct iface *ifc, const struct xnsg_addr *a)
{
	for (size_t i = 0; i < ifc->naddrs; i++)
		if (ifc->addrs[i].family == a->family &&
		    !memcmp(ifc->addrs[i].bytes, a->bytes, sizeof(a->bytes)))
			return true;
	return false;
}

static int run_verify(const struct verify_args *a, struct eval_query *q)
{
	struct eval_result r;
	struct policy *p;
	int ret = 1, err = 0;

	p = cli_policy_or_fail(a->file);
	if (!p)
		return 1;
	q->iface = policy_find_iface(p, a->ifname);
	if (q->iface < 0) {
		cli_error("%s: no interface '%s' in the policy", a->file, a->ifname);
		goto out;
	}
	/* ASG membership comes from the interface's addresses: say so when
	 * LOCAL is not one of them, the answer may surprise. */
	if (!iface_has_addr(&p->ifaces[q->iface], &q->local))
		pr_warn("verify: %s is not an address of %s in the policy", a->local, a->ifname);
	if (a->datapath)
		err = dp_verify(p, q, &r);
	else
		eval_flow(p, q, &r);
	if (err == -EOPNOTSUPP) {
		cli_error("verify --datapath: the BPF datapath is not available in this build");
		goto out;
	} else if (err) {
		cli_error("verify --datapath: %s", strerror(-err));
		goto out;
	}
	if (xnsg_json)
		cli_print_json(verify_result_json(p, &r), 0);
	else
		verify_result_print(stdout, p, &r);
	ret = 0;
out:
	policy_free(p);
	return ret;
}

static int do_verify(const void *args)
{
	const struct verify_args *a = args;
	struct eval_query q;

	if (build_query(a, &q))
		return EXIT_USAGE;
	return run_verify(a, &q);
}

static const struct cli_word directions[] = {
	{ "in", XNSG_IN },
	{ "out", XNSG_OUT },
	{ NULL, 0 },
};

static const struct cli_opt verify_opts[] = {
	CLI_POSITIONAL(struct verify_args, file, "POLICY"),
	CLI_OPTION(struct verify_args, ifname, STRING, "interface", .short_name = 'i', .arg = "IF",
		   .required = true, .help = "the interface, by its name in the policy"),
	CLI_OPTION(struct verify_args, dir, ENUM, "direction", .short_name = 'd',
		   .words = directions, .required = true,
		   .help = "in: from REMOTE to LOCAL; out: from LOCAL to REMOTE"),
	CLI_OPTION(struct verify_args, proto, STRING, "protocol", .short_name = 'P', .arg = "PROTO",
		   .required = true, .help = "tcp, udp, icmp, icmpv6, esp, ah or a number 0-255"),
	CLI_OPTION(struct verify_args, local, STRING, "local", .short_name = 'l',
		   .arg = "LOCAL[:PORT]", .required = true,
		   .help = "the interface's side; IPv6 with a port is [ADDRESS]:PORT"),
	CLI_OPTION(struct verify_args, remote, STRING, "remote", .short_name = 'r',
		   .arg = "REMOTE[:PORT]", .required = true, .help = "the peer"),
	CLI_JSON_OPTION("print the decision as JSON"),
	CLI_OPTION(struct verify_args, datapath, FLAG, "datapath",
		   .help = "ask the compiled BPF classifier (BPF_PROG_TEST_RUN), not the evaluator"),
	CLI_END
};

const struct cli_command verify_command =
	CLI_COMMAND("verify", struct verify_args, do_verify, verify_opts,
		    "IP flow verify: the decision for one flow, and the rule behind it");
