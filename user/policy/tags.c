// SPDX-License-Identifier: MIT
/*
 * The Internet service tag (docs/DESIGN.md §2): every address outside VirtualNetwork
 * and the special-purpose ranges.  The reference evaluator decides it from
 * that definition (eval_in_internet()); the compiler and `show` need it as
 * prefixes, which this file computes as a complement.  A unit test checks
 * that the two agree address by address.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "policy.h"

/* Special-purpose ranges that are never Internet (docs/DESIGN.md §2). */
const char *const xnsg_special_v4[] = {
	"0.0.0.0/8",      /* "this network" */
	"10.0.0.0/8",     /* RFC 1918 */
	"100.64.0.0/10",  /* shared address space (CGN) */
	"127.0.0.0/8",    /* loopback */
	"169.254.0.0/16", /* link local */
	"172.16.0.0/12",  /* RFC 1918 */
	"192.168.0.0/16", /* RFC 1918 */
	"224.0.0.0/4",    /* multicast */
	"240.0.0.0/4",    /* reserved, broadcast */
	NULL,
};

const char *const xnsg_special_v6[] = {
	"::/128",    /* unspecified */
	"::1/128",   /* loopback */
	"fc00::/7",  /* unique local */
	"fe80::/10", /* link local */
	"ff00::/8",  /* multicast */
	NULL,
};

/* The half of p whose next bit is `bit`. */
static struct xnsg_prefix half(const struct xnsg_prefix *p, int bit)
{
	struct xnsg_prefix h = *p;

	if (bit)
		h.bytes[p->len / 8] |= (uint8_t)(0x80u >> (p->len % 8));
	h.len++;
	return h;
}

/*
 * Append to out the maximal aligned blocks of `within` that no prefix of
 * ex (all of within's family) touches.  Those blocks are the minimal CIDR
 * list of the complement: a block is emitted only when its parent was
 * touched, so no two emitted blocks can merge.
 */
static void complement(const struct xnsg_prefix *within, const struct xnsg_prefix *const *ex,
		       size_t n, struct prefix_list *out)
{
	const struct xnsg_prefix **inside;
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (prefix_covers(ex[i], within))
			return; /* excluded entirely */
	inside = xcalloc(n ? n : 1, sizeof(*inside));
	for (size_t i = 0; i < n; i++)
		if (prefix_covers(within, ex[i]))
			inside[m++] = ex[i];
	if (!m) {
		prefix_list_add(out, within);
	} else {
		/* Some exclusion lies strictly inside (it does not cover
		 * within), so within->len is below the family's width. */
		struct xnsg_prefix lo = half(within, 0), hi = half(within, 1);

		complement(&lo, inside, m, out);
		complement(&hi, inside, m, out);
	}
	free(inside);
}

static int family_complement(const struct policy *p, uint8_t family,
			     const char *const *special, struct prefix_list *out)
{
	size_t n = 0, cap = p->virtual_network.n + 32;
	struct xnsg_prefix *sp = xcalloc(cap, sizeof(*sp));
	const struct xnsg_prefix **ex = xcalloc(cap, sizeof(*ex));
	struct xnsg_prefix all = { .family = family, .len = 0 };

	for (size_t i = 0; special[i]; i++) {
		if (prefix_parse(special[i], &sp[i], NULL)) {
			free(sp);
			free(ex);
			return -EINVAL;
		}
		ex[n++] = &sp[i];
	}
	for (size_t i = 0; i < p->virtual_network.n; i++)
		if (p->virtual_network.v[i].family == family)
			ex[n++] = &p->virtual_network.v[i];
	complement(&all, ex, n, out);
	free(sp);
	free(ex);
	return 0;
}

int tags_internet_prefixes(const struct policy *p, struct prefix_list *out)
{
	int err = family_complement(p, XNSG_V4, xnsg_special_v4, out);

	return err ? err : family_complement(p, XNSG_V6, xnsg_special_v6, out);
}
