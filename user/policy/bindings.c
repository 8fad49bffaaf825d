// SPDX-License-Identifier: MIT
/*
 * What a valid policy binds (docs/DESIGN.md §1, "Bindings"): a document
 * may be a perfectly good policy and still filter nothing -- NSGs with no
 * interface under them, the shape of an export that names no host.  Such
 * a policy must never pass for one that enforces: `check`, `show` and
 * `verify` warn (policy_check_bindings), `apply` refuses one under which
 * no interface is filtered (policy_filtered_ifaces).
 */
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "policy.h"

static bool iface_filtered(const struct policy *p, const struct iface *ifc)
{
	return ifc->nsg >= 0 || (ifc->subnet >= 0 && p->subnets[ifc->subnet].nsg >= 0);
}

size_t policy_filtered_ifaces(const struct policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nifaces; i++)
		n += iface_filtered(p, &p->ifaces[i]);
	return n;
}

/* The subnets NSG g is bound to, and whether any of them has interfaces. */
static size_t subnet_bindings(const struct policy *p, int g, bool *with_ifaces, int *first)
{
	size_t n = 0;

	*with_ifaces = false;
	*first = -1;
	for (size_t s = 0; s < p->nsubnets; s++) {
		if (p->subnets[s].nsg != g)
			continue;
		if (!n++)
			*first = (int)s;
		for (size_t i = 0; i < p->nifaces; i++)
			*with_ifaces = *with_ifaces || p->ifaces[i].subnet == (int)s;
	}
	return n;
}

static void check_nsg(const struct policy *p, int g, struct diag_list *d)
{
	const struct nsg *n = &p->nsgs[g];
	bool with_ifaces;
	int first;
	size_t nsub = subnet_bindings(p, g, &with_ifaces, &first);

	if (with_ifaces)
		return;
	for (size_t i = 0; i < p->nifaces; i++)
		if (p->ifaces[i].nsg == g)
			return;
	if (nsub)
		diag_add(d, DIAG_WARNING, n->path, "NSG %s applies to no interface: %s '%s'%s has "
			 "no interface in this policy", n->name, nsub > 1 ? "its subnets, as" : "subnet",
			 p->subnets[first].name, nsub > 1 ? " and the others," : "");
	else
		diag_add(d, DIAG_WARNING, n->path, "NSG %s is bound to no subnet and no interface: "
			 "its rules apply to nothing", n->name);
}

void policy_check_bindings(const struct policy *p, struct diag_list *d)
{
	for (size_t g = 0; g < p->nnsgs; g++)
		check_nsg(p, (int)g, d);
	if (policy_filtered_ifaces(p))
		return;
	diag_add(d, DIAG_WARNING, "", "no NSG applies to any interface: this policy filters "
		 "nothing%s", p->nifaces ? "" : " (it names no interface; `xnsg import` builds "
		 "a host policy from Azure's exports)");
}
