// SPDX-License-Identifier: MIT
/* The BPF tests' private datapath with a test policy (bpf_env.h). */
#include <criterion/criterion.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "bpf_env.h"
#include "policy.h"

void bpf_env_open(struct bpf_env *e, const char *json, const char *name, const char *ifname,
		  unsigned int flags)
{
	struct diag_list d = {};
	int err;

	if (geteuid() != 0)
		cr_skip_test("needs root: BPF_PROG_TEST_RUN loads the BPF datapath");
	memset(e, 0, sizeof(*e));
	err = policy_parse_string(json, name, NULL, &e->p, &d);
	if (err)
		diag_print(stderr, name, &d);
	cr_assert_eq(err, 0, "the test policy %s is valid (err %d, see stderr)", name, err);
	diag_free(&d);
	err = compile_policy(e->p, &e->c, &d);
	if (err)
		diag_print(stderr, name, &d);
	cr_assert_eq(err, 0, "the test policy %s compiles (err %d, see stderr)", name, err);
	diag_free(&d);
	e->t = dp_test_open(flags);
	cr_assert_not_null(e->t, "dp_test_open loads the BPF datapath (reason on stderr)");
	cr_assert_eq(dp_test_load(e->t, e->p, e->c), 0, "the compiled policy loads into the maps");
	e->lo = if_nametoindex("lo");
	if (!e->lo)
		e->lo = 1;
	bpf_env_bind(e, ifname, XNSG_ATTACH_MODE_HOST);
}

void bpf_env_bind(const struct bpf_env *e, const char *ifname, int attach)
{
	int iface = policy_find_iface(e->p, ifname);

	cr_assert_geq(iface, 0, "%s is an interface of the test policy", ifname);
	cr_assert_eq(dp_test_bind(e->t, e->lo, iface, attach), 0, "loopback binds as %s", ifname);
}

const char *bpf_env_decided_by(const struct bpf_env *e, const struct xnsg_verdict *v)
{
	for (int l = 0; l < 2; l++) {
		const struct compiled_table *ct;

		if (v->table[l] == XNSG_NO_TABLE)
			continue;
		if (v->table[l] >= e->c->ntables)
			return "(bad table)";
		ct = &e->c->tables[v->table[l]];
		return v->rule[l] < ct->nrules ? ct->rules[v->rule[l]]->name : "(bad rule)";
	}
	return "(no table)";
}

void bpf_env_close(struct bpf_env *e)
{
	dp_test_close(e->t);
	compiled_free(e->c);
	policy_free(e->p);
	memset(e, 0, sizeof(*e));
}
