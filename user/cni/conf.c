// SPDX-License-Identifier: MIT
/*
 * The CNI protocol's data (CNI spec 1.0.0, docs/DESIGN.md §12), without
 * a syscall: the plugin configuration and runtime arguments in, the
 * container's interface entry, the result and the error JSON out.  The
 * tests run it on documents alone (tests/unit/test_cni.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "cni.h"

/* Oldest first; 0.3.0 is the first with chaining and prevResult. */
static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

int cni_fail(struct cni_error *e, int code, const char *details, const char *fmt, ...)
{
	va_list ap;

	cni_error_clear(e);
	va_start(ap, fmt);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
	e->code = code;
	e->details = details ? xstrdup(details) : NULL;
	return -EINVAL;
}

void cni_error_clear(struct cni_error *e)
{
	free(e->msg);
	free(e->details);
	memset(e, 0, sizeof(*e));
}

bool cni_version_supported(const char *v)
{
	for (size_t i = 0; v && i < NVERSIONS; i++)
		if (!strcmp(v, versions[i]))
			return true;
	return false;
}

bool cni_version_has_check(const char *v)
{
	return cni_version_supported(v) && strcmp(v, "0.3.0") && strcmp(v, "0.3.1");
}

static json_t *versions_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; i < NVERSIONS; i++)
		json_array_append_new(a, json_string(versions[i]));
	return a;
}

json_t *cni_error_json(const char *version, const struct cni_error *e)
{
	json_t *j = json_pack("{s:s, s:i, s:s}", "cniVersion",
			      cni_version_supported(version) ? version : CNI_VERSION_LATEST, "code",
			      e->code, "msg", e->msg ? e->msg : "failed");

	if (e->details)
		json_object_set_new(j, "details", json_string(e->details));
	return j;
}

json_t *cni_version_json(const char *stdin_text)
{
	json_t *in = stdin_text ? json_loads(stdin_text, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(in, "cniVersion"));
	json_t *out = json_pack("{s:s, s:o}", "cniVersion",
				cni_version_supported(v) ? v : CNI_VERSION_LATEST, "supportedVersions",
				versions_json());

	json_decref(in);
	return out;
}

json_t *cni_add_result(const struct cni_conf *c)
{
	json_t *r = json_deep_copy(c->prev);

	json_object_set_new(r, "cniVersion", json_string(c->version));
	return r;
}

/* ---- configuration ------------------------------------------------------ */

/* Add name to the set a unless it is there (ASG names compare
 * case-insensitively, docs/DESIGN.md §1). */
static void asg_add(json_t *a, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (!strcasecmp(json_string_value(v), name))
			return;
	json_array_append_new(a, json_string(name));
}

static int asg_name_ok(const char *name, const char *where, struct cni_error *e)
{
	if (!*name || strchr(name, ',') || strchr(name, '/'))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "%s: '%s' is not an application security "
			       "group name", where, name);
	return 0;
}

/* An optional string member: NULL when absent, an error when not a string. */
static int opt_string(json_t *o, const char *key, const char **out, struct cni_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !*json_string_value(v))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "\"%s\" must be a non-empty string", key);
	*out = json_string_value(v);
	return 0;
}

/* An array of ASG names into set (NULL set: only checked). */
static int asg_array(json_t *a, const char *where, json_t *set, struct cni_error *e)
{
	json_t *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "%s must be an array of names", where);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return cni_fail(e, CNI_ERR_CONFIG, NULL, "%s[%zu] must be a string", where, i);
		if (asg_name_ok(json_string_value(v), where, e))
			return -EINVAL;
		if (set)
			asg_add(set, json_string_value(v));
	}
	return 0;
}

static int parse_ingress(json_t *root, struct cni_conf *c, struct cni_error *e)
{
	const char *s;

	/* TC ingress by default: on veth it beats XDP, which copies every
	 * packet into a new buffer first (docs/DESIGN.md §3). */
	c->ingress = APPLY_INGRESS_TC;
	if (opt_string(root, "ingress", &s, e))
		return -EINVAL;
	if (s && !strcmp(s, "xdp"))
		c->ingress = APPLY_INGRESS_XDP;
	else if (s && strcmp(s, "tc"))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "\"ingress\": '%s' is not tc or xdp", s);
	if (opt_string(root, "attach", &s, e))
		return -EINVAL;
	if (s && strcmp(s, "peer"))
		return cni_fail(e, CNI_ERR_FIELD, NULL, "\"attach\": '%s' is not supported: a "
			       "container's host-side veth is always \"peer\"", s);
	return 0;
}

static int parse_fields(json_t *root, struct cni_conf *c, struct cni_error *e)
{
	json_t *prev = json_object_get(root, "prevResult");

	c->version = json_string_value(json_object_get(root, "cniVersion"));
	c->name = json_string_value(json_object_get(root, "name"));
	if (!c->version)
		return cni_fail(e, CNI_ERR_VERSION, NULL, "the configuration has no cniVersion");
	if (!cni_version_supported(c->version)) {
		char *d = xasprintf("config is \"%s\", xnsg-cni supports 0.3.0, 0.3.1, 0.4.0, 1.0.0",
				    c->version);

		cni_fail(e, CNI_ERR_VERSION, d, "incompatible CNI versions");
		free(d);
		return -EINVAL;
	}
	if (!c->name || !*c->name)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "the configuration has no network name");
	if (opt_string(root, "policy", &c->policy, e) || opt_string(root, "nsg", &c->nsg, e) ||
	    opt_string(root, "subnet", &c->subnet, e) || parse_ingress(root, c, e))
		return -EINVAL;
	c->policy = c->policy ?: CNI_DEFAULT_POLICY;
	if (asg_array(json_object_get(root, "applicationSecurityGroups"),
		      "\"applicationSecurityGroups\"", c->asgs, e))
		return -EINVAL;
	c->allowed = json_object_get(root, "allowedApplicationSecurityGroups");
	if (asg_array(c->allowed, "\"allowedApplicationSecurityGroups\"", NULL, e))
		return -EINVAL;
	if (json_is_null(c->allowed))
		c->allowed = NULL;
	if (prev && !json_is_null(prev) && !json_is_object(prev))
		return cni_fail(e, CNI_ERR_DECODE, NULL, "prevResult must be an object");
	c->prev = json_is_object(prev) ? prev : NULL;
	return 0;
}

int cni_conf_parse(const char *text, struct cni_conf *c, struct cni_error *e)
{
	json_error_t je;

	memset(c, 0, sizeof(*c));
	c->asgs = json_array();
	c->root = json_loads(text ? text : "", 0, &je);
	if (!c->root) {
		char *d = xasprintf("line %d column %d: %s", je.line, je.column, je.text);

		cni_fail(e, CNI_ERR_DECODE, d, "the network configuration on stdin is not JSON");
		free(d);
		return -EINVAL;
	}
	if (!json_is_object(c->root))
		return cni_fail(e, CNI_ERR_DECODE, NULL, "the network configuration must be an object");
	return parse_fields(c->root, c, e);
}

void cni_conf_free(struct cni_conf *c)
{
	json_decref(c->root);
	json_decref(c->asgs);
	memset(c, 0, sizeof(*c));
}

/* ---- runtime arguments -------------------------------------------------- */

/* Names the runtime gives must be among allowedApplicationSecurityGroups
 * when the configuration sets it: who may label a pod must not thereby
 * join it to any ASG the policy trusts. */
static int runtime_asg(struct cni_conf *c, const char *name, const char *where,
		       struct cni_error *e)
{
	json_t *v;
	size_t i;

	if (asg_name_ok(name, where, e))
		return -EINVAL;
	if (c->allowed) {
		bool ok = false;

		json_array_foreach(c->allowed, i, v)
			ok |= !strcasecmp(json_string_value(v), name);
		if (!ok)
			return cni_fail(e, CNI_ERR_CONFIG, NULL, "%s names ASG '%s', which is not in "
				       "the network's allowedApplicationSecurityGroups", where, name);
	}
	asg_add(c->asgs, name);
	return 0;
}

/* "a,b , c" -> each name, trimmed. */
static int asg_list(struct cni_conf *c, const char *list, size_t len, const char *where,
		    struct cni_error *e)
{
	char *s = strndup(list, len), *save = NULL, *tok;
	int err = 0;

	for (tok = strtok_r(s, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		char *end = tok + strlen(tok);

		while (*tok == ' ')
			tok++;
		while (end > tok && end[-1] == ' ')
			*--end = '\0';
		if (*tok)
			err = runtime_asg(c, tok, where, e);
	}
	free(s);
	return err;
}

/* CNI_ARGS: "K=V;K=V".  Keys other than ours are the runtime's business
 * (K8S_POD_NAME, IgnoreUnknown...): ignored. */
static int args_asgs(struct cni_conf *c, const char *args, struct cni_error *e)
{
	size_t klen = strlen(CNI_ARGS_ASGS);

	while (args && *args) {
		size_t len = strcspn(args, ";");

		if (len > klen && !strncmp(args, CNI_ARGS_ASGS, klen) && args[klen] == '=' &&
		    asg_list(c, args + klen + 1, len - klen - 1, "CNI_ARGS " CNI_ARGS_ASGS, e))
			return -EINVAL;
		args += len + (args[len] == ';');
	}
	return 0;
}

int cni_runtime_asgs(struct cni_conf *c, const char *cni_args, struct cni_error *e)
{
	json_t *rc = json_object_get(c->root, "runtimeConfig"), *a, *v;
	const char *ann;
	size_t i;

	if (args_asgs(c, cni_args, e))
		return -EINVAL;
	if (!json_is_object(rc))
		return 0;
	a = json_object_get(rc, "applicationSecurityGroups");
	if (asg_array(a, "runtimeConfig.applicationSecurityGroups", NULL, e))
		return -EINVAL;
	json_array_foreach(a, i, v)
		if (runtime_asg(c, json_string_value(v), "runtimeConfig.applicationSecurityGroups", e))
			return -EINVAL;
	ann = json_string_value(json_object_get(json_object_get(rc, CNI_POD_ANNOTATIONS),
						CNI_ANNOTATION_ASGS));
	if (ann && asg_list(c, ann, strlen(ann), "the pod annotation " CNI_ANNOTATION_ASGS, e))
		return -EINVAL;
	return 0;
}

/* ---- prevResult --------------------------------------------------------- */

/* "10.0.0.5/24" -> "10.0.0.5" as inet_ntop writes it; NULL if not an address. */
static char *bare_address(const char *cidr)
{
	char *s = xstrdup(cidr), buf[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	int fam;

	s[strcspn(s, "/")] = '\0';
	fam = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, s, bin) != 1 || !inet_ntop(fam, bin, buf, sizeof(buf))) {
		free(s);
		return NULL;
	}
	free(s);
	return xstrdup(buf);
}

/* The container's addresses: ips[] on its interface (or on none named). */
static int endpoint_ips(json_t *prev, size_t sandbox, struct cni_endpoint *ep,
			struct cni_error *e)
{
	json_t *ip;
	size_t i;

	json_array_foreach(json_object_get(prev, "ips"), i, ip) {
		json_t *idx = json_object_get(ip, "interface");
		const char *addr = json_string_value(json_object_get(ip, "address"));
		char *bare;

		if (idx && json_integer_value(idx) != (json_int_t)sandbox)
			continue;
		bare = addr ? bare_address(addr) : NULL;
		if (!bare)
			return cni_fail(e, CNI_ERR_DECODE, NULL, "prevResult.ips[%zu].address: '%s' is "
				       "not an address", i, addr ? addr : "(none)");
		json_array_append_new(ep->ips, json_string(bare));
		free(bare);
	}
	return 0;
}

static const char *sandbox_of(json_t *ifc)
{
	const char *s = json_string_value(json_object_get(ifc, "sandbox"));

	return s && *s ? s : NULL;
}

/* The container's interface (its index in ifs, or -1) and the host-side
 * veths; the host-side names that are not veths here go into rejected
 * ("cni0, tap1"), for the error that names them. */
static size_t find_ends(json_t *ifs, const char *ifname, bool (*is_veth)(const char *name),
			struct cni_endpoint *ep, size_t *nveth, char *rejected, size_t rlen)
{
	size_t i, sandbox = (size_t)-1;
	json_t *ifc;

	json_array_foreach(ifs, i, ifc) {
		const char *name = json_string_value(json_object_get(ifc, "name"));
		size_t n = strlen(rejected);

		if (!name)
			continue;
		if (sandbox_of(ifc)) {
			if (!strcmp(name, ifname))
				sandbox = i;
		} else if (strlen(name) < IF_NAMESIZE && is_veth(name)) {
			if (!(*nveth)++)
				snprintf(ep->veth, sizeof(ep->veth), "%s", name);
		} else {
			snprintf(rejected + n, rlen - n, "%s%s", n ? ", " : "", name);
		}
	}
	return sandbox;
}

int cni_endpoint(json_t *prev, const char *ifname, bool (*is_veth)(const char *name),
		 struct cni_endpoint *ep, struct cni_error *e)
{
	json_t *ifs = json_object_get(prev, "interfaces");
	size_t sandbox, nveth = 0;
	char rejected[256] = "";

	memset(ep, 0, sizeof(*ep));
	ep->ips = json_array();
	if (!json_is_array(ifs))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult lists no interfaces: xnsg-cni "
			       "is chained after a plugin that makes a veth pair (bridge, ptp)");
	sandbox = find_ends(ifs, ifname, is_veth, ep, &nveth, rejected, sizeof(rejected));
	if (sandbox == (size_t)-1)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult has no interface %s inside "
			       "the container", ifname);
	if (!nveth && *rejected)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult's host-side interfaces (%s) "
			       "are not veths on this host: chain xnsg-cni after a plugin that "
			       "makes one (bridge, ptp)", rejected);
	if (!nveth)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult names no host-side veth: "
			       "chain xnsg-cni after a plugin that makes one (bridge, ptp)");
	if (nveth > 1)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult names %zu host-side veths: "
			       "which one is the container's is ambiguous", nveth);
	return endpoint_ips(prev, sandbox, ep, e);
}

void cni_endpoint_free(struct cni_endpoint *ep)
{
	json_decref(ep->ips);
	memset(ep, 0, sizeof(*ep));
}

json_t *cni_iface_entry(const struct cni_conf *c, const struct cni_endpoint *ep)
{
	json_t *j = json_pack("{s:s, s:s, s:O}", "name", ep->veth, "attach", "peer",
			      "ipAddresses", ep->ips);

	if (c->nsg)
		json_object_set_new(j, "networkSecurityGroup", json_string(c->nsg));
	if (c->subnet)
		json_object_set_new(j, "subnet", json_string(c->subnet));
	if (json_array_size(c->asgs))
		json_object_set_new(j, "applicationSecurityGroups", json_deep_copy(c->asgs));
	return j;
}
