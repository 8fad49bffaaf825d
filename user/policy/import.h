/* SPDX-License-Identifier: MIT */
/*
 * From what Azure exports to a host policy (docs/DESIGN.md §1, "Import";
 * `xnsg import`): any mix of `az network vnet show`, `az network nsg
 * show|list`, `az network nsg rule list`, `az network nic show|list`,
 * `az network asg list`, REST GET bodies and {"value": [...]} lists, and
 * ARM templates of literal values, plus which Linux interface each Azure
 * NIC is.  Pure: JSON documents in, a host policy document out, every
 * problem in a diagnostic list.  Also what tells such a document from a
 * host policy, so that every other command can refuse it helpfully.
 */
#ifndef XNSG_IMPORT_H
#define XNSG_IMPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "model.h"

/* What a JSON document (or one resource in it) is. */
enum azure_kind {
	AZ_HOST = 0,  /* a host policy (xnsg's own shape) */
	AZ_NSG,       /* Microsoft.Network/networkSecurityGroups */
	AZ_RULE,      /* .../networkSecurityGroups/securityRules */
	AZ_NIC,       /* Microsoft.Network/networkInterfaces */
	AZ_VNET,      /* Microsoft.Network/virtualNetworks */
	AZ_SUBNET,    /* .../virtualNetworks/subnets */
	AZ_ASG,       /* Microsoft.Network/applicationSecurityGroups */
	AZ_OTHER,     /* another resource type */
	AZ_LIST,      /* {"value": [...]}: a REST list */
	AZ_ARRAY,     /* [...]: `az ... list` */
	AZ_TEMPLATE,  /* an ARM template: {"$schema": ...deploymentTemplate..., "resources"} */
	AZ_NOT_JSON_OBJECT, /* a scalar */
};

/* What doc is; *what (may be NULL): a phrase for messages, e.g. "a
 * network security group as `az network nsg show` prints it". */
enum azure_kind azure_doc_kind(json_t *doc, const char **what);
/* "[variables('x')]": an ARM template expression ("[[" escapes one). */
bool azure_is_expression(const char *s);

/* --map AZURE_NIC=IFNAME[:host|peer] */
struct import_map {
	const char *nic;    /* a NIC's name, "RESOURCE_GROUP/NAME" or its ARM id */
	const char *ifname; /* the Linux interface */
	enum xnsg_attach attach;
};
/* "myVmNic=eth0:peer" into *m (pointing into a copy kept in *buf, to
 * free); 0 or -EINVAL with *why set. */
int import_parse_map(const char *arg, struct import_map *m, char **buf, const char **why);

struct import_input {
	const char *name; /* the file, as given ("-": stdin) */
	json_t *doc;
};

struct import_opts {
	const struct import_map *maps;
	size_t nmaps;
	const char *service_tags; /* --service-tags: the path written as serviceTagsFile */
};

struct import_result {
	json_t *policy;         /* the host policy; NULL when there are errors */
	struct diag_list diags; /* paths are "FILE: $.json.path" */
	char **summary;         /* what was bound to what, one line each */
	size_t nsummary;
};

/*
 * Build the host policy from the inputs; 0, or -EINVAL when there are
 * errors (r->policy NULL, every error in r->diags).  The policy is then
 * loaded as `check` would load it, and its diagnostics are r's too.
 */
int import_policy(const struct import_input *in, size_t nin, const struct import_opts *o,
		  struct import_result *r);
void import_result_free(struct import_result *r);

#endif
