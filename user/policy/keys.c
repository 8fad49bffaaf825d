// SPDX-License-Identifier: MIT
/*
 * Unknown keys, at every level of a host policy (docs/DESIGN.md §1): a key
 * the parser does not read is most likely a typo ("destinationPortRnages",
 * an interface's "networkSecurityGroups"), and a typo ignored in silence
 * is a rule that filters nothing.  Each is a warning with its JSON path
 * and, when a known key is close, "did you mean".  What Azure's exports
 * carry for information (ids, etags, provisioning states, the reverse
 * references a resource lists, ...) is known and passes quietly.
 *
 * The schema is data: one table of keys per kind of object, each key
 * naming the kind of what it holds.  Keys compare case-insensitively and
 * "properties" holds the same keys as the object itself (json.c).
 */
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "json.h"
#include "parser.h"

enum key_kind {
	K_VALUE,    /* a value the parser reads (its type is the parser's concern) */
	K_OBJECT,   /* an object of schema child */
	K_ARRAY,    /* an array of objects of schema child */
	K_FREE,     /* free-form: names chosen by the user (tags), or read elsewhere */
	K_EITHER,   /* an object of free-form names, or an array of child objects */
};

struct schema;

struct schema_key {
	const char *key;
	size_t len; /* strlen(key), for the lookups */
	enum key_kind kind;
	const struct schema *child;
};

struct schema {
	const struct schema_key *keys;
	bool resource; /* an Azure resource: its informational fields are known */
};

/* What every Azure resource (and reference) may carry for information. */
#define KEY(k, kind, child) { k, sizeof(k) - 1, kind, child }
#define INFO(k) KEY(k, K_FREE, NULL)
#define END { NULL, 0, K_VALUE, NULL }

static const struct schema_key azure_info[] = {
	INFO("id"), INFO("etag"), INFO("type"), INFO("location"), INFO("tags"),
	INFO("provisioningState"), INFO("resourceGuid"), INFO("description"),
	INFO("resourceGroup"), INFO("sku"), INFO("kind"), INFO("zones"),
	INFO("extendedLocation"), INFO("systemData"), INFO("managedBy"), INFO("apiVersion"),
	INFO("properties"), END,
};

/* A reference: { "id": ... } or { "name": ... } (az adds resourceGroup). */
static const struct schema ref_schema = {
	(const struct schema_key[]){ KEY("name", K_VALUE, NULL), END }, true
};

static const struct schema rule_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("priority", K_VALUE, NULL),
		KEY("direction", K_VALUE, NULL), KEY("access", K_VALUE, NULL),
		KEY("protocol", K_VALUE, NULL),
		KEY("sourceAddressPrefix", K_VALUE, NULL), KEY("sourceAddressPrefixes", K_VALUE, NULL),
		KEY("sourceApplicationSecurityGroups", K_ARRAY, &ref_schema),
		KEY("sourcePortRange", K_VALUE, NULL), KEY("sourcePortRanges", K_VALUE, NULL),
		KEY("destinationAddressPrefix", K_VALUE, NULL),
		KEY("destinationAddressPrefixes", K_VALUE, NULL),
		KEY("destinationApplicationSecurityGroups", K_ARRAY, &ref_schema),
		KEY("destinationPortRange", K_VALUE, NULL), KEY("destinationPortRanges", K_VALUE, NULL),
		END },
	true
};

static const struct schema nsg_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("securityRules", K_ARRAY, &rule_schema),
		KEY("defaultSecurityRules", K_ARRAY, &rule_schema),
		KEY("flushConnection", K_VALUE, NULL),
		/* Read-only: what the NSG is bound to, as Azure lists it. */
		KEY("networkInterfaces", K_FREE, NULL), KEY("subnets", K_FREE, NULL),
		KEY("flowLogs", K_FREE, NULL),
		END },
	true
};

static const struct schema subnet_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("addressPrefix", K_VALUE, NULL),
		KEY("addressPrefixes", K_VALUE, NULL),
		KEY("networkSecurityGroup", K_OBJECT, &ref_schema),
		/* Read-only or unrelated to filtering. */
		KEY("ipConfigurations", K_FREE, NULL), KEY("ipConfigurationProfiles", K_FREE, NULL),
		KEY("serviceEndpoints", K_FREE, NULL), KEY("serviceEndpointPolicies", K_FREE, NULL),
		KEY("delegations", K_FREE, NULL), KEY("privateEndpointNetworkPolicies", K_FREE, NULL),
		KEY("privateLinkServiceNetworkPolicies", K_FREE, NULL),
		KEY("routeTable", K_FREE, NULL), KEY("natGateway", K_FREE, NULL),
		KEY("purpose", K_FREE, NULL), KEY("resourceNavigationLinks", K_FREE, NULL),
		KEY("serviceAssociationLinks", K_FREE, NULL),
		KEY("applicationGatewayIPConfigurations", K_FREE, NULL),
		KEY("privateEndpoints", K_FREE, NULL), KEY("ipAllocations", K_FREE, NULL),
		KEY("defaultOutboundAccess", K_FREE, NULL), KEY("sharingScope", K_FREE, NULL),
		KEY("ipamPoolPrefixAllocations", K_FREE, NULL),
		END },
	true
};

static const struct schema address_space_schema = {
	(const struct schema_key[]){
		KEY("addressPrefixes", K_VALUE, NULL), KEY("ipamPoolPrefixAllocations", K_FREE, NULL),
		END },
	false
};

static const struct schema vnet_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("addressPrefixes", K_VALUE, NULL),
		KEY("connectedPrefixes", K_VALUE, NULL),
		KEY("addressSpace", K_OBJECT, &address_space_schema),
		KEY("subnets", K_ARRAY, &subnet_schema),
		/* Read-only or unrelated to filtering. */
		KEY("dhcpOptions", K_FREE, NULL), KEY("virtualNetworkPeerings", K_FREE, NULL),
		KEY("enableDdosProtection", K_FREE, NULL), KEY("enableVmProtection", K_FREE, NULL),
		KEY("ddosProtectionPlan", K_FREE, NULL), KEY("bgpCommunities", K_FREE, NULL),
		KEY("encryption", K_FREE, NULL), KEY("flowTimeoutInMinutes", K_FREE, NULL),
		KEY("ipAllocations", K_FREE, NULL), KEY("privateEndpointVNetPolicies", K_FREE, NULL),
		KEY("flowLogs", K_FREE, NULL), KEY("defaultPublicNatGateway", K_FREE, NULL),
		END },
	true
};

static const struct schema ipconfig_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("privateIPAddress", K_VALUE, NULL),
		KEY("subnet", K_OBJECT, &ref_schema),
		KEY("applicationSecurityGroups", K_ARRAY, &ref_schema),
		KEY("privateIPAddressVersion", K_VALUE, NULL),
		KEY("privateIPAddressPrefix", K_VALUE, NULL), /* warned: not an address */
		KEY("privateIPAddressPrefixSize", K_FREE, NULL),
		/* Not part of filtering: NSGs see private addresses. */
		KEY("privateIPAllocationMethod", K_FREE, NULL),
		KEY("privateIPAddressPrefixLength", K_FREE, NULL), KEY("primary", K_FREE, NULL),
		KEY("publicIPAddress", K_FREE, NULL), KEY("loadBalancerBackendAddressPools", K_FREE, NULL),
		KEY("loadBalancerInboundNatRules", K_FREE, NULL),
		KEY("applicationGatewayBackendAddressPools", K_FREE, NULL),
		KEY("virtualNetworkTaps", K_FREE, NULL), KEY("gatewayLoadBalancer", K_FREE, NULL),
		KEY("privateLinkConnectionProperties", K_FREE, NULL),
		END },
	true
};

static const struct schema iface_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("subnet", K_OBJECT, &ref_schema),
		KEY("networkSecurityGroup", K_OBJECT, &ref_schema),
		KEY("ipAddresses", K_VALUE, NULL),
		KEY("applicationSecurityGroups", K_ARRAY, &ref_schema),
		KEY("attach", K_VALUE, NULL),
		KEY("ipConfigurations", K_ARRAY, &ipconfig_schema),
		/* The Azure NIC it is (`xnsg import` says), for the reader. */
		KEY("networkInterface", K_FREE, NULL),
		/* A NIC's own fields, read-only or unrelated to filtering. */
		KEY("macAddress", K_FREE, NULL), KEY("primary", K_FREE, NULL),
		KEY("enableAcceleratedNetworking", K_FREE, NULL), KEY("enableIPForwarding", K_FREE, NULL),
		KEY("virtualMachine", K_FREE, NULL), KEY("dnsSettings", K_FREE, NULL),
		KEY("hostedWorkloads", K_FREE, NULL), KEY("tapConfigurations", K_FREE, NULL),
		KEY("nicType", K_FREE, NULL), KEY("vnetEncryptionSupported", K_FREE, NULL),
		KEY("auxiliaryMode", K_FREE, NULL), KEY("auxiliarySku", K_FREE, NULL),
		KEY("disableTcpStateTracking", K_FREE, NULL), KEY("allowPort25Out", K_FREE, NULL),
		KEY("privateEndpoint", K_FREE, NULL), KEY("privateLinkService", K_FREE, NULL),
		KEY("migrationPhase", K_FREE, NULL), KEY("workloadType", K_FREE, NULL),
		KEY("dscpConfiguration", K_FREE, NULL),
		KEY("defaultOutboundConnectivityEnabled", K_FREE, NULL),
		END },
	true
};

/* The array form of "applicationSecurityGroups": [{name, id, members}]. */
static const struct schema asg_schema = {
	(const struct schema_key[]){
		KEY("name", K_VALUE, NULL), KEY("members", K_VALUE, NULL), END },
	true
};

static const struct schema top_schema = {
	(const struct schema_key[]){
		KEY("virtualNetwork", K_OBJECT, &vnet_schema),
		KEY("serviceTags", K_FREE, NULL), KEY("serviceTagsFile", K_VALUE, NULL),
		KEY("applicationSecurityGroups", K_EITHER, &asg_schema),
		KEY("networkSecurityGroups", K_ARRAY, &nsg_schema),
		KEY("subnets", K_ARRAY, &subnet_schema),
		KEY("interfaces", K_ARRAY, &iface_schema),
		KEY("flowTimeouts", K_FREE, NULL), /* its unknown keys are errors there */
		KEY("$schema", K_VALUE, NULL), KEY("description", K_VALUE, NULL),
		KEY("comment", K_VALUE, NULL),
		END },
	false
};

/* ---- did you mean ------------------------------------------------------ */

static bool same_char(char a, char b)
{
	return (a | 32) == (b | 32); /* case-insensitive for letters, enough for keys */
}

/* Optimal string alignment distance (a transposition is one edit),
 * case-insensitive; keys of 63 characters or more are never close. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[3][64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		/* Rows i, i - 1 and i - 2 of the table, three kept in turn. */
		int *cur = row[i % 3], *prev = row[(i + 2) % 3], *prev2 = row[(i + 1) % 3];

		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int best = prev[j - 1] + !same_char(a[i - 1], b[j - 1]);

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && same_char(a[i - 1], b[j - 2]) &&
			    same_char(a[i - 2], b[j - 1]) && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return row[la % 3][lb];
}

/* The known key closest to k, when close enough to be a typo of it: one
 * edit in a short key, two from 6 characters, three from 16. */
static const char *closest(const struct schema *s, const char *k)
{
	size_t len = strlen(k);
	int limit = len < 6 ? 1 : len < 16 ? 2 : 3, bestd = limit + 1;
	const char *best = NULL;

	for (const struct schema_key *e = s->keys; e->key; e++) {
		int d = edit_distance(k, e->key);

		if (d < bestd) {
			best = e->key;
			bestd = d;
		}
	}
	for (const struct schema_key *i = azure_info; s->resource && i->key; i++) {
		int d = edit_distance(k, i->key);

		if (d < bestd) {
			best = i->key;
			bestd = d;
		}
	}
	return best;
}

/* ---- the walk ---------------------------------------------------------- */

/* Key k (len bytes) is e's, in any case: the length and the first letter
 * first, which most keys of a table differ in. */
static bool key_is(const struct schema_key *e, const char *k, size_t len)
{
	return e->len == len && same_char(e->key[0], k[0]) && key_eq(e->key, k, len);
}

static const struct schema_key *find_key(const struct schema_key *keys, const char *k, size_t len)
{
	for (const struct schema_key *e = keys; e->key; e++)
		if (key_is(e, k, len))
			return e;
	return NULL;
}

static void walk(struct ctx *c, json_t *v, const struct lpath *path, const struct schema *s,
		 bool in_props);

/* Member m of the object at mpath (its own path), known as e: its
 * children walked.  Paths are spelled only for a warning. */
static void walk_child(struct ctx *c, json_t *m, const struct lpath *mpath,
		       const struct schema_key *e)
{
	size_t i;
	json_t *el;

	switch (e->kind) {
	case K_OBJECT:
		if (json_is_object(m))
			walk(c, m, mpath, e->child, false);
		break;
	case K_EITHER:
	case K_ARRAY:
		/* K_EITHER's object form: its keys are the user's names */
		if (!json_is_array(m))
			break;
		json_array_foreach(m, i, el)
			if (json_is_object(el))
				walk(c, el, &(struct lpath){ mpath, NULL, i }, e->child, false);
		break;
	default:
		break;
	}
}

static void walk(struct ctx *c, json_t *v, const struct lpath *path, const struct schema *s,
		 bool in_props)
{
	const char *k;
	json_t *m;

	if (!json_is_object(v))
		return; /* a wrong type is the parser's error */
	for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
		const char *near;
		size_t len = json_object_iter_key_len(it);
		const struct schema_key *e;
		struct lpath mpath;

		k = json_object_iter_key(it);
		m = json_object_iter_value(it);
		e = find_key(s->keys, k, len);
		mpath = (struct lpath){ path, k, 0 };
		if (e) {
			walk_child(c, m, &mpath, e);
		} else if (len == 10 && key_eq("properties", k, len) && s->resource && !in_props) {
			if (json_is_object(m))
				walk(c, m, &mpath, s, true);
		} else if (!(s->resource && find_key(azure_info, k, len))) {
			near = closest(s, k);
			if (near)
				pwarn(c, lpath_str(c, &mpath), "unknown key \"%s\" ignored; did you "
				      "mean \"%s\"?", k, near);
			else
				pwarn(c, lpath_str(c, &mpath), "unknown key \"%s\" ignored", k);
		}
	}
}

void check_unknown_keys(struct ctx *c, json_t *root)
{
	walk(c, root, &(struct lpath){ NULL, "$", 0 }, &top_schema, false);
}
