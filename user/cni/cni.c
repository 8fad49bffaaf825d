// SPDX-License-Identifier: MIT
/*
 * The CNI plugin process (CNI spec 1.0.0, docs/DESIGN.md §12): the
 * command and the container come in environment variables (CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS), the plugin's
 * configuration with the previous plugin's result on stdin; the result,
 * or an error {"cniVersion", "code", "msg", "details"}, goes to stdout
 * and the messages to stderr.  Exit 0 on success, 1 on error.
 */
#include <errno.h>
#include <jansson.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "apply.h"
#include "cni.h"
#include "datapath.h"
#include "log.h"

#define CNI_MAX_STDIN (16u << 20) /* a configuration with a big prevResult fits */

struct cni_run {
	const char *command, *container, *netns, *ifname, *args;
	char *input;
	struct cni_conf conf;
	struct cni_error err;
};

/* The first error a module printed: a CNI error's msg when the command
 * has no better one.  One plugin run per process. */
static char *first_error;

static void note_error(const char *msg)
{
	if (!first_error)
		first_error = xstrdup(msg);
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(j);
}

/* ---- input --------------------------------------------------------------- */

static char *read_stdin(void)
{
	size_t n = 0, cap = 4096;
	char *buf = xcalloc(cap, 1);
	size_t got;

	while ((got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
		n += got;
		if (n + 1 == cap) {
			if (cap >= CNI_MAX_STDIN)
				break;
			buf = xrealloc(buf, cap *= 2);
		}
	}
	buf[n] = '\0';
	return buf;
}

/* The spec's container id: an alphanumeric, then alphanumerics, '_', '.', '-'. */
static bool container_id_ok(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] == '\0';
}

/* A Linux interface name: 1-15 bytes, not . or .., no '/', ':' or space. */
static bool ifname_ok(const char *s)
{
	return s && *s && strlen(s) < IF_NAMESIZE && strcmp(s, ".") && strcmp(s, "..") &&
	       !s[strcspn(s, "/: \t\n\r\v\f")];
}

static int read_env(struct cni_run *r, bool need_netns)
{
	r->container = getenv("CNI_CONTAINERID");
	r->netns = getenv("CNI_NETNS");
	r->ifname = getenv("CNI_IFNAME");
	r->args = getenv("CNI_ARGS");
	if (!container_id_ok(r->container))
		return cni_fail(&r->err, CNI_ERR_ENV, NULL, "CNI_CONTAINERID %s", r->container ?
				"is not a container id (alphanumerics, '_', '.', '-')" : "is missing");
	if (!ifname_ok(r->ifname))
		return cni_fail(&r->err, CNI_ERR_ENV, NULL, "CNI_IFNAME %s", r->ifname ?
				"is not an interface name" : "is missing");
	if (need_netns && (!r->netns || !*r->netns))
		return cni_fail(&r->err, CNI_ERR_ENV, NULL, "CNI_NETNS is missing");
	return 0;
}

/* The interface's driver is veth (ethtool's driver name, as `ethtool -i`
 * shows it): the bridge in the same result has no sandbox either. */
static bool is_veth(const char *name)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool veth;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	veth = ioctl(fd, SIOCETHTOOL, &ifr) == 0 && !strcmp(info.driver, "veth");
	close(fd);
	return veth;
}

/* ---- commands ------------------------------------------------------------ */

static json_t *meta_json(const struct cni_run *r)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "container", r->container, "network",
			 r->conf.name, "ifname", r->ifname, "netns", r->netns ? r->netns : "",
			 "ingress", r->conf.ingress == APPLY_INGRESS_XDP ? "xdp" : "tc");
}

/* An apply_container_* failure as a CNI error: the first message printed. */
static int fail_apply(struct cni_run *r, int why, int err)
{
	int code = why == APPLY_CT_LOCKED	  ? CNI_ERR_TRY_AGAIN
		   : why == APPLY_CT_POLICY	  ? CNI_ERR_CONFIG
		   : why == APPLY_CT_UNKNOWN	  ? CNI_ERR_CONTAINER
		   : why == APPLY_CT_NOT_ENFORCED ? CNI_ERR_NOT_ENFORCED
						  : CNI_ERR_DATAPATH;

	return cni_fail(&r->err, code, NULL, "%s", first_error ? first_error : strerror(-err));
}

/* ADD and CHECK: the container as prevResult and the configuration make it. */
static int container_of(struct cni_run *r, struct cni_endpoint *ep, struct apply_container *ct,
			char **key)
{
	if (!r->conf.prev)
		return cni_fail(&r->err, CNI_ERR_CONFIG, NULL, "no prevResult: xnsg-cni is chained "
				"after a plugin that makes a veth pair (bridge, ptp)");
	if (cni_runtime_asgs(&r->conf, r->args, &r->err) ||
	    cni_endpoint(r->conf.prev, r->ifname, is_veth, ep, &r->err))
		return -EINVAL;
	*key = xasprintf("%s/%s/%s", r->conf.name, r->container, r->ifname);
	*ct = (struct apply_container){ .key = *key, .policy = r->conf.policy,
					.iface = cni_iface_entry(&r->conf, ep), .meta = meta_json(r),
					.ingress = r->conf.ingress };
	return 0;
}

static int cmd_add(struct cni_run *r)
{
	struct cni_endpoint ep = { 0 };
	struct apply_container ct = { 0 };
	struct apply_result res;
	char *key = NULL;
	int why = 0, err;

	err = read_env(r, true) ?: container_of(r, &ep, &ct, &key);
	if (!err && dp_check_env(true))
		err = cni_fail(&r->err, CNI_ERR_DATAPATH, NULL, "%s", first_error ?: "cannot enforce here");
	if (!err) {
		err = apply_container_add(&ct, &res, &why);
		if (err)
			err = fail_apply(r, why, err);
	}
	if (!err) {
		fprintf(stderr, "xnsg-cni: %s: %s attached (%zu interfaces, hash %s)\n", key, ep.veth,
			res.ninterfaces, res.hash);
		print_json(cni_add_result(&r->conf));
	}
	json_decref(ct.iface);
	json_decref(ct.meta);
	cni_endpoint_free(&ep);
	free(key);
	return err;
}

/* DEL: whatever of the container is left goes; nothing left is success. */
static int cmd_del(struct cni_run *r)
{
	struct cni_endpoint ep = { 0 };
	const char *veth = NULL;
	char *key;
	int why = 0, err = read_env(r, false);

	if (err)
		return err;
	/* The veth prevResult names, for a container the overlay lost. */
	if (r->conf.prev && !cni_endpoint(r->conf.prev, r->ifname, is_veth, &ep, &r->err))
		veth = ep.veth;
	cni_error_clear(&r->err);
	key = xasprintf("%s/%s/%s", r->conf.name, r->container, r->ifname);
	err = apply_container_del(r->conf.policy, key, veth, &why);
	if (err)
		err = fail_apply(r, why, err);
	cni_endpoint_free(&ep);
	free(key);
	return err;
}

static int cmd_check(struct cni_run *r)
{
	struct cni_endpoint ep = { 0 };
	struct apply_container ct = { 0 };
	char *key = NULL;
	int why = 0, err;

	if (!cni_version_has_check(r->conf.version))
		return cni_fail(&r->err, CNI_ERR_VERSION, NULL, "CHECK needs cniVersion 0.4.0 or "
				"later (the configuration says %s)", r->conf.version);
	err = read_env(r, true) ?: container_of(r, &ep, &ct, &key);
	if (!err) {
		err = apply_container_check(&ct, &why);
		if (err)
			err = fail_apply(r, why, err);
	}
	json_decref(ct.iface);
	json_decref(ct.meta);
	cni_endpoint_free(&ep);
	free(key);
	return err;
}

/* ---- the run ------------------------------------------------------------- */

static int dispatch(struct cni_run *r)
{
	if (!strcmp(r->command, "VERSION")) {
		print_json(cni_version_json(r->input));
		return 0;
	}
	if (strcmp(r->command, "ADD") && strcmp(r->command, "DEL") && strcmp(r->command, "CHECK"))
		return cni_fail(&r->err, CNI_ERR_ENV, NULL, "CNI_COMMAND '%s' is not ADD, DEL, CHECK "
				"or VERSION", r->command);
	if (cni_conf_parse(r->input, &r->conf, &r->err))
		return -EINVAL;
	if (!strcmp(r->command, "ADD"))
		return cmd_add(r);
	if (!strcmp(r->command, "DEL"))
		return cmd_del(r);
	return cmd_check(r);
}

int cni_main(void)
{
	struct cni_run r = { .command = getenv("CNI_COMMAND") };
	int err;

	if (!r.command || !*r.command) {
		fprintf(stderr, "xnsg-cni: the xnsg CNI plugin, run by a container runtime "
			"(CNI_COMMAND)\nCNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0\n");
		return 0;
	}
	free(first_error);
	first_error = NULL;
	xnsg_log_error_hook = note_error;
	r.input = read_stdin();
	err = dispatch(&r);
	if (err) {
		fprintf(stderr, "xnsg-cni: %s failed: %s\n", r.command, r.err.msg ? r.err.msg : "?");
		print_json(cni_error_json(r.conf.version, &r.err));
	}
	fflush(stdout);
	xnsg_log_error_hook = NULL;
	cni_error_clear(&r.err);
	cni_conf_free(&r.conf);
	free(r.input);
	return err ? 1 : 0;
}
