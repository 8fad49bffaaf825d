// SPDX-License-Identifier: MIT
/*
 * Classes: the bitmap of the rules a field value satisfies, interned so
 * that identical bitmaps share one class id across the whole policy (an
 * open-addressing table over the bitmaps' words); a table's bitmap of
 * every rule becomes the one all-ones class.  Also the classes a table
 * needs beside its fields': per protocol, allow, and rules without ports.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "build.h"

_Static_assert(XNSG_MAX_CLASSES <= 65536, "class ids are __u16");

static uint64_t hash_words(const uint64_t *w, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;

	for (size_t i = 0; i < n; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

/* The summary words of bitmap w (nw words): bit b set when w[b] & and[b]
 * is not zero (and NULL: when w[b] is not zero). */
static void summarize(const uint64_t *w, const uint64_t *and, size_t nw,
		      uint64_t *sum)
{
	memset(sum, 0, XNSG_SUMMARY_WORDS * sizeof(*sum));
	for (size_t k = 0; k < nw; k++)
		if (w[k] & (and ? and[k] : ~0ULL))
			sum[k / 64] |= 1ULL << (k % 64);
}

/*
 * The class table's slots, twice as many: every class placed again.  A
 * table as large as the most classes could ever need (256 KiB) was read
 * at random before any write, so each page was first mapped to the
 * kernel's zero page and then copied on the write - with the lint's
 * thread running on the other CPU, a TLB shootdown each (~0.5 ms of an
 * update of 1,000 rules).  So it starts small, and is written whole
 * before any read.
 */
static void slots_grow(struct cstate *cs)
{
	size_t n = cs->nslots ? 2 * cs->nslots : 4096, i;
	uint32_t *s = xrealloc(NULL, n * sizeof(*s));

	memset(s, 0, n * sizeof(*s));
	for (size_t k = 0; k < cs->c->nclasses; k++) {
		for (i = cs->chash[k] & (n - 1); s[i]; i = (i + 1) & (n - 1))
			;
		s[i] = (uint32_t)k + 1;
	}
	free(cs->slots);
	cs->slots = s;
	cs->nslots = n;
}

int class_intern(struct cstate *cs, const uint64_t *w, size_t nw,
		 const uint64_t (*l4sum)[XNSG_SUMMARY_WORDS])
{
	struct compiled *c = cs->c;
	struct xnsg_bitmap *b;
	uint64_t sum[XNSG_SUMMARY_WORDS], l4[2][XNSG_SUMMARY_WORDS];
	size_t len = nw, i;
	uint64_t h;

	while (len && !w[len - 1])
		len--;
	summarize(w, NULL, len, sum);
	for (int p = 0; p < 2; p++)
		memcpy(l4[p], l4sum ? l4sum[p] : sum, sizeof(sum));
	/* Classes of equal words and unequal protocol summaries (destination
	 * ports of tables whose protocols differ) are distinct classes. */
	h = hash_words(w, len) ^ hash_words(&l4[0][0], 2 * XNSG_SUMMARY_WORDS);
	if (2 * ((size_t)c->nclasses + 1) > cs->nslots)
		slots_grow(cs);
	for (i = h & (cs->nslots - 1);; i = (i + 1) & (cs->nslots - 1)) {
		uint32_t s = cs->slots[i];

		if (!s)
			break;
		if (cs->clen[s - 1] == len && !memcmp(c->classes[s - 1].w, w, len * sizeof(*w)) &&
		    !memcmp(c->classes[s - 1].l4sum, l4, sizeof(l4)))
			return (int)(s - 1);
	}
	if (c->nclasses >= XNSG_MAX_CLASSES)
		return -E2BIG;
	if (!c->classes) {
		c->classes = huge_map(CLASSES_BYTES, true);
		if (!c->classes)
			oom();
	}
	if (c->nclasses == cs->ccap) {
		cs->ccap = cs->ccap ? cs->ccap * 2 : 256;
		cs->clen = xrealloc(cs->clen, cs->ccap);
		cs->chash = xrealloc(cs->chash, cs->ccap * sizeof(*cs->chash));
	}
	b = &c->classes[c->nclasses];
	memset(b, 0, sizeof(*b));
	memcpy(b->w, w, len * sizeof(*w));
	memcpy(b->summary, sum, sizeof(sum));
	memcpy(b->l4sum, l4, sizeof(l4));
	cs->clen[c->nclasses] = (uint8_t)len;
	cs->chash[c->nclasses] = h;
	cs->slots[i] = (uint32_t)c->nclasses + 1;
	return (int)c->nclasses++;
}

/* The class of a bitmap of this table (l4sum as class_intern's); -E2BIG
 * (diagnosed) when full. */
static int tclass_with(struct tctx *tc, const uint64_t *w,
		       const uint64_t (*l4sum)[XNSG_SUMMARY_WORDS], uint16_t *out)
{
	int id;

	if (tc->n && !memcmp(w, tc->full, tc->nw * sizeof(*w)))
		id = tc->cs->allones;
	else
		id = class_intern(tc->cs, w, tc->nw, l4sum);
	if (id < 0) {
		limit_diag(tc, "more than XNSG_MAX_CLASSES (%d) distinct rule bitmaps in the policy; "
			   "rebuild with a larger -DXNSG_MAX_CLASSES=N (at most 65536) to raise it",
			   XNSG_MAX_CLASSES);
		return id;
	}
	*out = (uint16_t)id;
	return 0;
}

int tclass(struct tctx *tc, const uint64_t *w, uint16_t *out)
{
	return tclass_with(tc, w, NULL, out);
}

/*
 * A destination port's class also summarizes its words ANDed with the
 * table's TCP and UDP classes: the classifier's candidate words are then
 * those holding a rule of the packet's port *and* protocol, not merely of
 * its port (with random rules, ~30% fewer words ANDed).  The all-ones
 * class, shared by every table, keeps its plain summary: a superset of
 * candidates, never fewer than a match needs.
 */
int tclass_dport(struct tctx *tc, const uint64_t *w, uint16_t *out)
{
	uint64_t l4[2][XNSG_SUMMARY_WORDS];

	for (int p = 0; p < 2; p++)
		summarize(w, (const uint64_t *)tc->cs->c->classes[tc->t->desc.l4_class[p]].w, tc->nw,
			  l4[p]);
	return tclass_with(tc, w, l4, out);
}

static bool proto_in(enum xnsg_proto rp, unsigned int ipproto)
{
	switch (rp) {
	case XNSG_PROTO_ANY:
		return true;
	case XNSG_PROTO_TCP:
		return ipproto == 6;
	case XNSG_PROTO_UDP:
		return ipproto == 17;
	case XNSG_PROTO_ICMP: /* ICMP and ICMPv6 */
		return ipproto == 1 || ipproto == 58;
	case XNSG_PROTO_ESP:
		return ipproto == 50;
	case XNSG_PROTO_AH:
		return ipproto == 51;
	}
	return false;
}

/* Protocol classes: the numbers some rule names, and the rest. */
int build_protos(struct tctx *tc)
{
	static const unsigned int named[] = { 1, 6, 17, 50, 51, 58 };
	uint64_t w[XNSG_RULE_WORDS];
	uint16_t other;
	int err;

	memset(w, 0, sizeof(w));
	for (size_t i = 0; i < tc->n; i++)
		if (tc->rules[i].proto == XNSG_PROTO_ANY)
			setbit(w, i);
	err = tclass(tc, w, &other);
	if (err)
		return err;
	for (int p = 0; p < XNSG_PROTOS; p++)
		tc->t->proto_class[p] = other;
	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
		memset(w, 0, sizeof(w));
		for (size_t i = 0; i < tc->n; i++)
			if (proto_in(tc->rules[i].proto, named[k]))
				setbit(w, i);
		err = tclass(tc, w, &tc->t->proto_class[named[k]]);
		if (err)
			return err;
	}
	tc->t->desc.l4_class[0] = tc->t->proto_class[6];
	tc->t->desc.l4_class[1] = tc->t->proto_class[17];
	return 0;
}

/* Allow rules; rules that match packets without ports (both fields '*'). */
int build_allow_noport(struct tctx *tc)
{
	uint64_t allow[XNSG_RULE_WORDS], noport[XNSG_RULE_WORDS];
	int err;

	memset(allow, 0, sizeof(allow));
	memset(noport, 0, sizeof(noport));
	for (size_t i = 0; i < tc->n; i++) {
		if (tc->rules[i].allow)
			setbit(allow, i);
		if (tc->rules[i].sport.any && tc->rules[i].dport.any)
			setbit(noport, i);
	}
	memcpy(tc->t->desc.allow, allow, sizeof(tc->t->desc.allow));
	err = tclass(tc, allow, &tc->t->desc.allow_class);
	if (!err)
		err = tclass(tc, noport, &tc->t->desc.noport_class);
	return err;
}
