/* SPDX-License-Identifier: MIT */
/*
 * xnsg-cni: the CNI plugin (CNI spec 1.0.0, docs/DESIGN.md §12), chained
 * after a plugin that makes a veth pair (bridge, ptp).  The same binary
 * as xnsg: run as `xnsg-cni` (argv[0]) or `xnsg cni`.
 *
 *   conf.c  the protocol's data, pure: the plugin configuration, runtime
 *           arguments, the container's veth and addresses from prevResult,
 *           result, error and VERSION JSON (unit-tested)
 *   cni.c   the process: environment, stdin, the commands, stdout
 */
#ifndef XNSG_CNI_H
#define XNSG_CNI_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>

#include "apply.h"

/* The spec's error codes (1-99 are the spec's), then xnsg's own (100+). */
enum cni_code {
	CNI_ERR_VERSION = 1,        /* incompatible CNI version */
	CNI_ERR_FIELD = 2,          /* unsupported field in the network configuration */
	CNI_ERR_CONTAINER = 3,      /* container unknown or does not exist */
	CNI_ERR_ENV = 4,            /* invalid necessary environment variables */
	CNI_ERR_IO = 5,             /* I/O failure */
	CNI_ERR_DECODE = 6,         /* failed to decode content */
	CNI_ERR_CONFIG = 7,         /* invalid network configuration */
	CNI_ERR_TRY_AGAIN = 11,     /* try again later: the lock was busy */
	CNI_ERR_DATAPATH = 100,     /* xnsg: the kernel refused (or cannot enforce here) */
	CNI_ERR_NOT_ENFORCED = 101, /* xnsg: CHECK found the container not enforced */
};

#define CNI_VERSION_LATEST "1.0.0"
#define CNI_DEFAULT_POLICY "/etc/xnsg/policy.json"
/* CNI_ARGS key and pod annotation naming ASGs, comma-separated. */
#define CNI_ARGS_ASGS "XNSG_ASGS"
#define CNI_ANNOTATION_ASGS "xnsg.io/application-security-groups"
#define CNI_POD_ANNOTATIONS "io.kubernetes.cri.pod-annotations"

struct cni_error {
	int code; /* enum cni_code; 0: no error */
	char *msg;
	char *details; /* may be NULL */
};

/* One plugin configuration, as the runtime hands it over on stdin. */
struct cni_conf {
	json_t *root;        /* the whole document (owns the strings below) */
	const char *version; /* cniVersion */
	const char *name;    /* the network's name */
	const char *policy;  /* "policy": the base policy file */
	const char *nsg;     /* "nsg": the NIC NSG, or NULL */
	const char *subnet;  /* "subnet": the policy subnet, or NULL */
	json_t *asgs;        /* the ASGs joined: configuration and runtime, deduplicated */
	json_t *allowed;     /* "allowedApplicationSecurityGroups" (runtime ones), or NULL */
	enum apply_ingress ingress;
	json_t *prev;        /* prevResult, or NULL */
};

/* What ADD/CHECK need from prevResult. */
struct cni_endpoint {
	char veth[IF_NAMESIZE]; /* the host-side end of the container's veth pair */
	json_t *ips;            /* the container interface's addresses, without prefix lengths */
};

/* 0, or the error filled (msg, details a new string each) and returned as
 * -EINVAL; cni_error_clear() frees it. */
int cni_fail(struct cni_error *e, int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cni_error_clear(struct cni_error *e);

bool cni_version_supported(const char *v);
/* Whether version v of the spec has CHECK (0.4.0 and later). */
bool cni_version_has_check(const char *v);

int cni_conf_parse(const char *text, struct cni_conf *c, struct cni_error *e);
void cni_conf_free(struct cni_conf *c);
/* Add the ASGs the runtime names: CNI_ARGS XNSG_ASGS=a,b, runtimeConfig's
 * applicationSecurityGroups, and the pod annotation of containerd's
 * io.kubernetes.cri.pod-annotations capability; each must be in
 * allowedApplicationSecurityGroups when the configuration has it. */
int cni_runtime_asgs(struct cni_conf *c, const char *cni_args, struct cni_error *e);

/* The container interface ifname and the host-side veth in prevResult:
 * the interface without a sandbox for which is_veth() holds. */
int cni_endpoint(json_t *prev, const char *ifname, bool (*is_veth)(const char *name),
		 struct cni_endpoint *ep, struct cni_error *e);
void cni_endpoint_free(struct cni_endpoint *ep);
/* The policy interface entry for the container (docs/DESIGN.md §1). */
json_t *cni_iface_entry(const struct cni_conf *c, const struct cni_endpoint *ep);

/* {"cniVersion", "code", "msg", "details"}: version NULL means the latest. */
json_t *cni_error_json(const char *version, const struct cni_error *e);
/* VERSION's answer, in the version stdin asked (if supported). */
json_t *cni_version_json(const char *stdin_text);
/* ADD's result: prevResult passed on, in the configuration's version. */
json_t *cni_add_result(const struct cni_conf *c);

/* The whole plugin run: environment, stdin, stdout; the exit status. */
int cni_main(void);

#endif
