// SPDX-License-Identifier: MIT
/*
 * The quick JSON reader (user/policy/quickjson.c) against jansson on
 * damaged input: every example policy, mutated byte by byte thousands of
 * times (a byte replaced by one of JSON's own characters, deleted, or
 * doubled).  For each text the quick reader either leaves it to jansson
 * (NULL) or builds exactly the tree jansson builds, member order included;
 * where jansson refuses a text, the quick reader must have left it alone,
 * so a policy jansson calls broken is never read.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gen_policy.h"
#include "parser.h"
#include "policy.h"

static char *dump(const json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

/* One mutation of text (len > 0 bytes) into out (len + 1 bytes): a byte
 * replaced, deleted or doubled.  Returns the new length. */
static size_t mutate(struct gen_rng *r, const char *text, size_t len, char *out)
{
	static const char alphabet[] = "{}[]\":,\\ 0123456789-.eEtrufalsn\tu\x01\x7f\xc3";
	size_t at = gen_below(r, (uint32_t)len), n = at;

	memcpy(out, text, at);
	switch (gen_below(r, 3)) {
	case 0: /* replaced */
		out[n++] = alphabet[gen_below(r, sizeof(alphabet) - 1)];
		at++;
		break;
	case 1: /* deleted */
		at++;
		break;
	default: /* doubled */
		out[n++] = text[at];
		break;
	}
	memcpy(out + n, text + at, len - at);
	return n + len - at;
}

/* Returns 1 when the quick reader's answer is one jansson agrees with. */
static int agrees(const char *text, size_t len, int *quick_read)
{
	json_t *q = quick_json_load(text, len);
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	int ok = 1;

	*quick_read = q != NULL;
	if (q) {
		char *a = dump(q), *b = dump(j);

		ok = j && a && b && !strcmp(a, b);
		free(a);
		free(b);
	}
	json_decref(q);
	json_decref(j);
	return ok;
}

Test(quickjson, mutated_examples_agree_with_jansson, .timeout = 120)
{
	struct gen_rng r;
	glob_t g;
	size_t texts = 0, read = 0;

	gen_rng_seed(&r, 20261202);
	cr_assert_eq(glob("examples/*.json", 0, NULL, &g), 0, "examples/*.json found");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *text, *buf;
		size_t len;

		cr_assert_eq(policy_read_file(g.gl_pathv[i], &text, &len, NULL), 0, "read %s",
			     g.gl_pathv[i]);
		buf = malloc(len + 2);
		cr_assert_not_null(buf);
		for (int k = 0; k < 3000; k++) {
			size_t n = mutate(&r, text, len, buf);
			int quick;

			if (!agrees(buf, n, &quick)) {
				buf[n] = 0;
				cr_assert_fail("%s, mutation %d: the quick reader's tree is not "
					       "jansson's (or jansson refused it):\n%s",
					       g.gl_pathv[i], k, buf);
			}
			texts++;
			read += (size_t)quick;
		}
		free(buf);
		free(text);
	}
	globfree(&g);
	/* The mutations must exercise both outcomes, or the test proves nothing. */
	cr_expect_gt(read, texts / 20, "the quick reader read %zu of %zu mutated texts", read,
		     texts);
	cr_expect_lt(read, texts, "the quick reader left some of %zu texts to jansson", texts);
}

/* Every kind of byte a string's scan must stop at, at every offset of
 * strings long enough to be read eight bytes at a time: the tree is
 * jansson's (or jansson reads the text). */
Test(quickjson, string_stops_at_every_offset)
{
	static const char *const stops[] = { "\\\\", "\\\"", "\\n", "\\/", "\\u0041", "\x01",
					     "\x1f", "\xc3\xa9", "\x7f" };
	char text[128];
	int quick;

	for (size_t len = 0; len <= 40; len++)
		for (size_t at = 0; at <= len; at++)
			for (size_t k = 0; k < sizeof(stops) / sizeof(stops[0]); k++) {
				int n = snprintf(text, sizeof(text), "{\"key\": \"%.*s%s%.*s\", \"b\": 1}",
						 (int)at, "0123456789abcdefghij0123456789abcdefghij",
						 stops[k], (int)(len - at),
						 "ABCDEFGHIJ0123456789ABCDEFGHIJ0123456789");

				cr_assert(agrees(text, (size_t)n, &quick), "%s", text);
			}
}
