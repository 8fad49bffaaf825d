// SPDX-License-Identifier: MIT
/*
 * The Internet tag as prefixes (tags.c) against its definition (docs/DESIGN.md §2,
 * decided per address by eval_in_internet()): the two must agree on every
 * address tried (range edges, VNet edges, random ones), and the prefix
 * list must be a minimal CIDR list (disjoint, masked, no mergeable pair).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "diag.h"
#include "eval.h"
#include "model.h"
#include "policy.h"

static struct policy *load(const char *json)
{
	struct diag_list d = {};
	struct policy *p = NULL;
	int err = policy_parse_string(json, "test.json", NULL, &p, &d);

	cr_assert_eq(err, 0, "the test policy is valid (err %d, first: %s)", err,
		     d.n ? d.v[0].msg : "-");
	diag_free(&d);
	return p;
}

/* xorshift64*: fixed seed, the same addresses every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void check_addr(const struct policy *p, const struct prefix_list *inet,
		       const struct xnsg_addr *a)
{
	char buf[XNSG_PREFIX_STRLEN];
	bool want = eval_in_internet(p, a), got = prefix_list_contains(inet, a);

	cr_expect_eq(got, want, "%s: prefixes say %s, the definition says %s",
		     addr_fmt(a, buf, sizeof(buf)), got ? "Internet" : "not Internet",
		     want ? "Internet" : "not Internet");
}

/* Add delta (signed, small) to the address as a big-endian integer. */
static struct xnsg_addr addr_add(struct xnsg_addr a, int delta)
{
	int n = a.family == XNSG_V4 ? 4 : 16;

	if (delta >= 0) {
		for (int k = 0; k < delta; k++)
			for (int i = n - 1; i >= 0 && ++a.bytes[i] == 0; i--)
				;
	} else {
		for (int k = 0; k < -delta; k++)
			for (int i = n - 1; i >= 0 && a.bytes[i]-- == 0; i--)
				;
	}
	return a;
}

/* The first and last address of a prefix. */
static void prefix_ends(const struct xnsg_prefix *p, struct xnsg_addr *first,
			struct xnsg_addr *last)
{
	int bits = p->family == XNSG_V4 ? 32 : 128;

	memset(first, 0, sizeof(*first));
	first->family = p->family;
	memcpy(first->bytes, p->bytes, 16);
	*last = *first;
	for (int i = p->len; i < bits; i++)
		last->bytes[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

/* Both ends of every prefix, one address either side of each end. */
static void check_edges(const struct policy *p, const struct prefix_list *inet,
			const struct prefix_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct xnsg_addr first, last;

		prefix_ends(&l->v[i], &first, &last);
		for (int d = -1; d <= 1; d++) {
			struct xnsg_addr a = addr_add(first, d), b = addr_add(last, d);

			check_addr(p, inet, &a);
			check_addr(p, inet, &b);
		}
	}
}

static void check_ranges_text(const struct policy *p, const struct prefix_list *inet,
			      const char *const *ranges)
{
	struct prefix_list l = {};

	for (size_t i = 0; ranges[i]; i++) {
		struct xnsg_prefix pf;

		cr_assert_eq(prefix_parse(ranges[i], &pf, NULL), 0, "special range %s parses",
			     ranges[i]);
		prefix_list_add(&l, &pf);
	}
	check_edges(p, inet, &l);
	prefix_list_free(&l);
}

static void check_random(const struct policy *p, const struct prefix_list *inet, int n)
{
	for (int i = 0; i < n; i++) {
		struct xnsg_addr a = { .family = (i & 1) ? XNSG_V6 : XNSG_V4 };
		uint64_t hi = rnd(), lo = rnd();

		memcpy(a.bytes, &hi, 8);
		memcpy(a.bytes + 8, &lo, 8);
		if (a.family == XNSG_V4) {
			memset(a.bytes + 4, 0, 12);
		} else if (i % 4 == 1) {
			/* Bias IPv6 towards the low and special space too. */
			a.bytes[0] = (uint8_t)(i % 8 == 1 ? 0 : 0xf0 | (lo & 0x0f));
		}
		check_addr(p, inet, &a);
	}
}

/* Minimal CIDR list: masked, disjoint, and no two siblings both present. */
static void check_minimal(const struct prefix_list *l)
{
	char a[XNSG_PREFIX_STRLEN], b[XNSG_PREFIX_STRLEN];

	for (size_t i = 0; i < l->n; i++) {
		struct xnsg_prefix m = l->v[i];

		prefix_mask(&m);
		cr_expect(!memcmp(m.bytes, l->v[i].bytes, 16), "%s has no host bits",
			  prefix_fmt(&l->v[i], a, sizeof(a)));
		for (size_t j = i + 1; j < l->n; j++) {
			const struct xnsg_prefix *x = &l->v[i], *y = &l->v[j];
			struct xnsg_prefix px = *x, py = *y;

			cr_expect(!prefix_covers(x, y) && !prefix_covers(y, x),
				  "%s and %s overlap", prefix_fmt(x, a, sizeof(a)),
				  prefix_fmt(y, b, sizeof(b)));
			if (x->family != y->family || x->len != y->len || !x->len)
				continue;
			px.len--;
			py.len--;
			prefix_mask(&px);
			prefix_mask(&py);
			cr_expect(memcmp(px.bytes, py.bytes, 16),
				  "%s and %s are siblings: the list is not minimal",
				  prefix_fmt(x, a, sizeof(a)), prefix_fmt(y, b, sizeof(b)));
		}
	}
}

static void check_policy(const char *json)
{
	struct policy *p = load(json);
	struct prefix_list inet = {};

	cr_assert_eq(tags_internet_prefixes(p, &inet), 0, "the Internet tag expands");
	check_minimal(&inet);
	check_ranges_text(p, &inet, xnsg_special_v4);
	check_ranges_text(p, &inet, xnsg_special_v6);
	check_edges(p, &inet, &p->virtual_network);
	check_edges(p, &inet, &inet);
	check_random(p, &inet, 20000);
	prefix_list_free(&inet);
	policy_free(p);
}

Test(tags, special_ranges_are_specs)
{
	static const char *const v4[] = {
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
	};
	static const char *const v6[] = {
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
	};
	size_t n;

	for (n = 0; xnsg_special_v4[n]; n++)
		cr_expect(n < 9 && !strcmp(xnsg_special_v4[n], v4[n]), "IPv4 special %zu is %s", n,
			  n < 9 ? v4[n] : "(end)");
	cr_expect_eq(n, 9, "nine IPv4 special ranges, NULL-terminated");
	for (n = 0; xnsg_special_v6[n]; n++)
		cr_expect(n < 5 && !strcmp(xnsg_special_v6[n], v6[n]), "IPv6 special %zu is %s", n,
			  n < 5 ? v6[n] : "(end)");
	cr_expect_eq(n, 5, "five IPv6 special ranges, NULL-terminated");
}

Test(tags, agrees_without_vnet)
{
	check_policy("{}");
}

Test(tags, agrees_with_public_vnet)
{
	check_policy("{\"virtualNetwork\":{\"addressPrefixes\":[\"203.0.113.0/24\","
		     "\"2001:db8:1::/48\","
		     "\"20.0.0.1/32\",\"2001:db8:1:5::/64\"],"
		     "\"connectedPrefixes\":[\"198.51.100.0/25\","
		     "\"8.0.0.0/7\",\"2600::/12\"]}}");
}

Test(tags, agrees_with_private_vnet)
{
	/* Inside special ranges (10/8) and overlapping them (172.0.0.0/10). */
	check_policy("{\"virtualNetwork\":{\"addressPrefixes\":[\"10.1.0.0/16\",\"fd00:1::/48\","
		     "\"172.0.0.0/10\",\"fe80::/9\"]}}");
}

Test(tags, agrees_with_everything_in_vnet)
{
	struct policy *p = load("{\"virtualNetwork\":{\"addressPrefixes\":[\"0.0.0.0/0\"]}}");
	struct prefix_list inet = {};

	cr_assert_eq(tags_internet_prefixes(p, &inet), 0, "the Internet tag expands");
	for (size_t i = 0; i < inet.n; i++)
		cr_expect_eq(inet.v[i].family, XNSG_V6,
			     "a VNet of 0.0.0.0/0 leaves no IPv4 Internet");
	cr_expect_gt(inet.n, 0, "IPv6 Internet remains");
	check_random(p, &inet, 2000);
	prefix_list_free(&inet);
	policy_free(p);
}

Test(tags, known_blocks)
{
	struct policy *p = load("{}");
	struct prefix_list inet = {};
	static const char *const present[] = { "1.0.0.0/8", "8.0.0.0/7", "11.0.0.0/8",
					       "2000::/3", "168.63.129.17/32", "fec0::/10" };

	cr_assert_eq(tags_internet_prefixes(p, &inet), 0, "the Internet tag expands");
	for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
		struct xnsg_prefix want;
		bool found = false;

		prefix_parse(present[i], &want, NULL);
		for (size_t j = 0; j < inet.n; j++)
			found |= !memcmp(&inet.v[j], &want, sizeof(want));
		cr_expect(found, "%s is one maximal block of the Internet tag", present[i]);
	}
	prefix_list_free(&inet);
	policy_free(p);
}
