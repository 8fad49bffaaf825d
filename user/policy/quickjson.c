// SPDX-License-Identifier: MIT
/*
 * A quick reader for the JSON xnsg reads most: policies and Azure's
 * Service Tags file, as tools and Azure write them.  jansson's reader
 * checks and copies its input a character at a time; for a policy of
 * thousands of rules that was a third of `check`, and for the Service
 * Tags file -- megabytes of prefix strings, 100,000 of them -- building
 * jansson's tree at all cost more than everything else a command does
 * with it.  So: quick_json_load() scans a policy once and builds the same
 * jansson tree; tags_file_scan() takes each tag's name and prefixes
 * straight from the text into prefix lists, no tree.
 *
 * Both read only what they understand completely and give up on anything
 * else: a control or non-ASCII byte in a string, a \uXXXX escape (the
 * Service Tags reader: any escape), a number that is not a short integer,
 * nesting deeper than policies go, a key written twice, anything that is
 * not JSON -- and the Service Tags reader also on a key it reads written
 * twice in any case, a value of another type than Azure's, a prefix that
 * does not parse or has host bits set.  Then jansson reads the text and
 * reports whatever it is: what is loaded, and every message, are the same
 * either way.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "alloc.h"
#include "parser.h"

/* Nesting past this is no policy's nor Azure's: jansson takes it. */
#define SCAN_MAX_DEPTH 32

struct scan {
	const char *p, *end;
	int depth;
	bool plain; /* quick_json_parse()'s *plain, so far */
};

/* One tag read, set only once the whole file is read. */
struct scanned_tag {
	char *name;
	struct prefix_list prefixes;
};

struct scanned {
	struct scanned_tag *v;
	size_t n, cap;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static bool eat(struct scan *s, char ch)
{
	ws(s);
	if (s->p < s->end && *s->p == ch) {
		s->p++;
		return true;
	}
	return false;
}

/*
 * A string of printable ASCII: *str, *len, as written (not NUL-terminated).
 * Escapes other than \uXXXX only when esc is not NULL, *esc saying
 * whether it has any (Azure's etags are "W/\"...\"").
 */
/* The bytes a string's scan must stop at: '"', '\\', control and non-ASCII. */
static const bool string_stop[256] = {
	[0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x80 ... 0xff] = true,
};

static bool scan_string(struct scan *s, const char **str, size_t *len, bool *esc)
{
	const char *q;

	if (!eat(s, '"'))
		return false;
	if (esc)
		*esc = false;
	for (q = s->p; q < s->end && *q != '"'; q++) {
		while (q < s->end && !string_stop[(unsigned char)*q])
			q++; /* the common bytes, one test each */
		if (q == s->end || *q == '"')
			break;
		if (*q == '\\') {
			if (!esc || q + 1 == s->end || !q[1] || !strchr("\"\\/bfnrt", q[1]))
				return false;
			*esc = true;
			q++;
		} else if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x80) {
			return false;
		}
	}
	if (q == s->end)
		return false;
	*str = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return true;
}

/* What a string scanned with escapes says: a new string, *out its length. */
static char *unescape(const char *str, size_t len, size_t *out)
{
	static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
	char *d = xcalloc(1, len + 1), *q = d;

	for (size_t i = 0; i < len; i++) {
		const char *e;

		if (str[i] != '\\') {
			*q++ = str[i];
			continue;
		}
		i++;
		e = strchr(from, str[i]);
		*q++ = e ? to[e - from] : str[i]; /* " \ / stand for themselves */
	}
	*out = (size_t)(q - d);
	return d;
}

/* -?(0|[1-9][0-9]*), at most 15 digits: never a range error.  A fraction
 * or exponent after it is no ',', ']' or '}': given up there. */
static bool scan_number(struct scan *s, long long *out)
{
	const char *q = s->p;
	size_t digits = 0;
	long long n = 0;

	if (q < s->end && *q == '-')
		q++;
	while (q + digits < s->end && q[digits] >= '0' && q[digits] <= '9')
		n = n * 10 + (q[digits++] - '0');
	if (!digits || digits > 15 || (digits > 1 && *q == '0'))
		return false;
	*out = *s->p == '-' ? -n : n;
	s->p = q + digits;
	return true;
}

static bool scan_word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
		return false;
	s->p += n;
	return true;
}

static bool skip_value(struct scan *s);

/* The members of an object or elements of an array, after its opening. */
static bool skip_members(struct scan *s, bool object)
{
	const char *k;
	size_t kl;

	if (eat(s, object ? '}' : ']'))
		return true;
	do {
		if (object && (!scan_string(s, &k, &kl, NULL) || !eat(s, ':')))
			return false;
		if (!skip_value(s))
			return false;
	} while (eat(s, ','));
	return eat(s, object ? '}' : ']');
}

static bool skip_value(struct scan *s)
{
	const char *str;
	size_t len;
	bool ok;

	ws(s);
	if (s->p == s->end)
		return false;
	switch (*s->p) {
	case '"':
		return scan_string(s, &str, &len, NULL);
	case '{':
	case '[':
		if (++s->depth > SCAN_MAX_DEPTH)
			return false;
		ok = skip_members(s, *s->p++ == '{');
		s->depth--;
		return ok;
	case 't': return scan_word(s, "true");
	case 'f': return scan_word(s, "false");
	case 'n': return scan_word(s, "null");
	default: return scan_number(s, &(long long){ 0 });
	}
}

/* key (kl bytes) is name, in any case. */
static bool key_is(const char *key, size_t kl, const char *name)
{
	return strlen(name) == kl && !strncasecmp(key, name, kl);
}

/* "addressPrefixes": [ "CIDR", ... ] into l. */
static bool scan_prefixes(struct scan *s, struct prefix_list *l)
{
	char buf[64];
	const char *str;
	size_t len;
	struct xnsg_prefix pf;
	bool hb;

	if (!eat(s, '['))
		return false;
	if (eat(s, ']'))
		return true;
	do {
		if (!scan_string(s, &str, &len, NULL) || len >= sizeof(buf))
			return false;
		memcpy(buf, str, len);
		buf[len] = '\0';
		if (prefix_parse(buf, &pf, &hb) || hb)
			return false;
		prefix_list_add(l, &pf);
	} while (eat(s, ','));
	return eat(s, ']');
}

/*
 * The members of an object after its '{', each key named in keys[] (at
 * most once, in any case) read by take(i), the others skipped; *seen: a
 * bit per key found.
 */
static bool scan_object(struct scan *s, const char *const *keys, unsigned *seen,
			bool (*take)(struct scan *, size_t, void *), void *arg)
{
	const char *k;
	size_t kl, i;

	*seen = 0;
	if (eat(s, '}'))
		return true;
	do {
		if (!scan_string(s, &k, &kl, NULL) || !eat(s, ':'))
			return false;
		for (i = 0; keys[i] && !key_is(k, kl, keys[i]); i++)
			;
		if (keys[i] && (*seen & (1u << i)))
			return false;
		if (keys[i])
			*seen |= 1u << i;
		if (keys[i] ? !take(s, i, arg) : !skip_value(s))
			return false;
	} while (eat(s, ','));
	return eat(s, '}');
}

static bool take_properties(struct scan *s, size_t i, void *arg)
{
	(void)i;
	return scan_prefixes(s, arg);
}

/* A tag's name ([0]) and properties ([1]). */
static bool take_tag_field(struct scan *s, size_t i, void *arg)
{
	static const char *const keys[] = { "addressPrefixes", NULL };
	struct scanned_tag *t = arg;
	const char *str;
	size_t len;
	unsigned seen;

	if (i == 0) {
		if (!scan_string(s, &str, &len, NULL))
			return false;
		t->name = xcalloc(1, len + 1);
		memcpy(t->name, str, len);
		return true;
	}
	return eat(s, '{') && scan_object(s, keys, &seen, take_properties, &t->prefixes) &&
	       seen == 1;
}

/* "values": [ { "name": ..., "properties": { "addressPrefixes": [...] } }, ... ] */
static bool take_values(struct scan *s, size_t i, void *arg)
{
	static const char *const keys[] = { "name", "properties", NULL };
	struct scanned *out = arg;
	unsigned seen;

	(void)i;
	if (!eat(s, '['))
		return false;
	if (eat(s, ']'))
		return true;
	do {
		struct scanned_tag *t;

		VEC_GROW(out);
		t = &out->v[out->n++];
		memset(t, 0, sizeof(*t));
		if (!eat(s, '{') || !scan_object(s, keys, &seen, take_tag_field, t) || seen != 3)
			return false;
	} while (eat(s, ','));
	return eat(s, ']');
}

static void scanned_free(struct scanned *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->v[i].name);
		prefix_list_free(&sc->v[i].prefixes);
	}
	free(sc->v);
}

bool tags_file_scan(struct policy *p, const char *text, size_t len,
		    void (*set)(struct policy *, const char *, struct prefix_list *))
{
	static const char *const keys[] = { "values", NULL };
	struct scan s = { text, text + len, 0, false };
	struct scanned sc = {};
	unsigned seen = 0;
	bool ok = eat(&s, '{') && scan_object(&s, keys, &seen, take_values, &sc) && seen == 1;

	ws(&s);
	ok = ok && s.p == s.end;
	for (size_t i = 0; ok && i < sc.n; i++)
		set(p, sc.v[i].name, &sc.v[i].prefixes);
	scanned_free(&sc);
	return ok;
}

/* ---- a policy: jansson's tree, built from one scan -------------------- */

static json_t *build_value(struct scan *s);

/* Keys of one object compared in any case for *plain; an object of more,
 * or a key with an escape, leaves it to check_keys() (policy.c). */
#define PLAIN_KEYS 32

/* The members of an object after its '{'; NULL for a key written twice
 * (jansson's JSON_REJECT_DUPLICATES says where) or anything else. */
static json_t *build_object(struct scan *s)
{
	struct { const char *k; size_t len; } seen[PLAIN_KEYS];
	json_t *o = json_object(), *v;
	const char *k;
	char *dk = NULL;
	size_t kl, n = 0;
	bool esc;

	if (eat(s, '}'))
		return o;
	do {
		size_t had = json_object_size(o);

		if (!scan_string(s, &k, &kl, &esc) || !eat(s, ':'))
			goto fail;
		if (esc || n == PLAIN_KEYS) {
			s->plain = false;
		} else if (s->plain) {
			for (size_t j = 0; j < n; j++)
				if (seen[j].len == kl && key_eq(seen[j].k, k, kl))
					s->plain = false;
			seen[n].k = k;
			seen[n++].len = kl;
		}
		if (esc)
			k = dk = unescape(k, kl, &kl);
		if (!(v = build_value(s)))
			goto fail;
		/* A key written twice replaces its value: the size says so,
		 * without hashing the key a second time to look for it first. */
		if (json_object_setn_new_nocheck(o, k, kl, v) || json_object_size(o) == had)
			goto fail;
		free(dk);
		dk = NULL;
	} while (eat(s, ','));
	if (eat(s, '}'))
		return o;
fail:
	free(dk);
	json_decref(o);
	return NULL;
}

/* A string value, escapes and all. */
static json_t *build_string(struct scan *s)
{
	const char *str;
	char *d;
	size_t len;
	bool esc;
	json_t *v;

	if (!scan_string(s, &str, &len, &esc))
		return NULL;
	/* An ARM template expression is "[...]"; no escape makes a '['. */
	if (len && *str == '[')
		s->plain = false;
	if (!esc)
		return json_stringn_nocheck(str, len);
	d = unescape(str, len, &len);
	v = json_stringn_nocheck(d, len);
	free(d);
	return v;
}

static json_t *build_array(struct scan *s)
{
	json_t *a = json_array(), *v;

	if (eat(s, ']'))
		return a;
	do {
		if (!(v = build_value(s)))
			goto fail;
		json_array_append_new(a, v);
	} while (eat(s, ','));
	if (eat(s, ']'))
		return a;
fail:
	json_decref(a);
	return NULL;
}

static json_t *build_value(struct scan *s)
{
	long long n;
	json_t *v;

	ws(s);
	if (s->p == s->end)
		return NULL;
	switch (*s->p) {
	case '"':
		return build_string(s);
	case '{':
	case '[':
		if (++s->depth > SCAN_MAX_DEPTH)
			return NULL;
		v = *s->p++ == '{' ? build_object(s) : build_array(s);
		s->depth--;
		return v;
	case 't': return scan_word(s, "true") ? json_true() : NULL;
	case 'f': return scan_word(s, "false") ? json_false() : NULL;
	case 'n': return scan_word(s, "null") ? json_null() : NULL;
	default: return scan_number(s, &n) ? json_integer(n) : NULL;
	}
}

json_t *quick_json_load(const char *text, size_t len)
{
	bool plain;

	return quick_json_parse(text, len, &plain);
}

json_t *quick_json_parse(const char *text, size_t len, bool *plain)
{
	struct scan s = { text, text + len, 0, true };
	json_t *root;

	if (!eat(&s, '{'))
		return NULL; /* anything but an object: not a policy, jansson says what */
	s.depth = 1;
	root = build_object(&s);
	ws(&s);
	if (root && s.p != s.end) {
		json_decref(root);
		return NULL;
	}
	*plain = root && s.plain;
	return root;
}

/* ---- the document tree's memory -------------------------------------- */

/*
 * A policy's tree is ~60 jansson allocations a rule (objects, their hash
 * tables and pairs, strings and their copies, integers), built in one
 * go and freed in one go at the end of the parse: malloc() and free()
 * were a quarter of the instructions of `check` of 4,000 rules.  While
 * the arena is on, the parsing thread's values are cut, each after 8
 * bytes holding ARENA_MAGIC, from one mapping reserved for the document
 * (ARENA_PER_BYTE bytes of address space a byte of its text, touched only
 * as used), then from blocks of ARENA_BLOCK of malloc's heap should the
 * tree outgrow it; freeing one is nothing.  The mapping asks for
 * transparent huge pages: the tree of 4,000 rules is ~10 MB, and faulting
 * it in 4 KB pages, each cleared and charged on its own, was a fifth of
 * `check`'s time.  A pointer of malloc's own has its chunk's size word
 * where the header's magic would be, never the magic, so a value made
 * before the arena is freed as ever (none is, in the parse); other
 * threads' values are malloc's (jansson's allocator as it was before).
 */
#define ARENA_BLOCK (64u << 10)
#define ARENA_HEAD 8 /* jansson's values need no more than 8-byte alignment */
#define ARENA_MAGIC 0x9e3779b97f4a7c15ull
/* A tree takes ~5 bytes a byte of its text; room for much more costs
 * nothing but address space (MAP_NORESERVE, untouched pages). */
#define ARENA_PER_BYTE 16
/* Below this much text, the tree fills too little of a huge page to be
 * worth clearing all of it (a Service Tags policy of a few rules). */
#define ARENA_HUGE_MIN_TEXT (128u << 10)

static struct {
	pthread_t owner;
	bool on;
	char *cur, *end;
	void *blocks; /* each block's first word: the previous block */
	char *map;    /* the mapping, map_size bytes; NULL if none */
	size_t map_size;
	json_malloc_t prev_malloc;
	json_free_t prev_free;
} arena;
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;

/* A block of size bytes linked in, its usable part 8-byte aligned. */
static char *arena_block(size_t size)
{
	char *b = malloc(size);

	if (!b)
		return NULL;
	*(void **)b = arena.blocks;
	arena.blocks = b;
	return b + 16;
}

/* The mapping for a document of len bytes (huge pages asked for when it
 * is long enough to fill them); on any failure, none (malloc's blocks
 * serve). */
static void arena_map(size_t len)
{
	if (!len || len > SIZE_MAX / ARENA_PER_BYTE - HUGE_PAGE_BYTES)
		return;
	arena.map_size = huge_size(len * ARENA_PER_BYTE);
	arena.map = huge_map(arena.map_size, len >= ARENA_HUGE_MIN_TEXT);
	if (!arena.map)
		return;
	arena.cur = arena.map;
	arena.end = arena.map + arena.map_size;
}

static void *arena_malloc(size_t n)
{
	size_t need = ARENA_HEAD + ((n + 7) & ~(size_t)7);
	char *p;

	if (!pthread_equal(pthread_self(), arena.owner))
		return arena.prev_malloc(n);
	if ((size_t)(arena.end - arena.cur) < need && need > ARENA_BLOCK / 4) {
		/* a block of its own (a long array's storage) */
		p = arena_block(16 + need);
	} else {
		if ((size_t)(arena.end - arena.cur) < need) {
			arena.cur = arena_block(ARENA_BLOCK);
			arena.end = arena.cur ? arena.cur - 16 + ARENA_BLOCK : NULL;
		}
		p = arena.cur;
		if (p)
			arena.cur += need;
	}
	if (!p)
		return NULL;
	*(uint64_t *)p = ARENA_MAGIC;
	return p + ARENA_HEAD;
}

/* Only the owner frees arena values; anything else is malloc's. */
static void arena_free(void *v)
{
	if (v && pthread_equal(pthread_self(), arena.owner) &&
	    *(const uint64_t *)((const char *)v - 8) == ARENA_MAGIC)
		return;
	arena.prev_free(v);
}

void json_arena_drop(json_t *v)
{
	/* The arena is this thread's (else no value is its): no lock needed. */
	if (v && pthread_equal(pthread_self(), arena.owner) && arena.on &&
	    *(const uint64_t *)((const char *)v - 8) == ARENA_MAGIC)
		return;
	json_decref(v);
}

void json_arena_begin(size_t len)
{
	/* One arena at a time: another thread's parse meanwhile uses malloc. */
	pthread_mutex_lock(&arena_lock);
	if (!arena.on) {
		arena.on = true;
		arena.owner = pthread_self();
		arena_map(len);
		json_get_alloc_funcs(&arena.prev_malloc, &arena.prev_free);
		json_set_alloc_funcs(arena_malloc, arena_free);
	}
	pthread_mutex_unlock(&arena_lock);
}

void json_arena_end(void)
{
	pthread_mutex_lock(&arena_lock);
	if (arena.on && pthread_equal(pthread_self(), arena.owner)) {
		json_set_alloc_funcs(arena.prev_malloc, arena.prev_free);
		while (arena.blocks) {
			void *b = arena.blocks;

			arena.blocks = *(void **)b;
			free(b);
		}
		huge_unmap(arena.map, arena.map_size);
		arena.map = NULL;
		arena.cur = arena.end = NULL;
		arena.on = false;
	}
	pthread_mutex_unlock(&arena_lock);
}
