// SPDX-License-Identifier: MIT
/*
 * Seeded generators of random valid policies (JSON text) and of packets
 * biased toward rule edges, for the differential tests of the compiler
 * (tests/unit/test_compile.c) and of the BPF classifier
 * (tests/bpf/test_diff.c).  See gen_policy.h for the replay convention.
 *
 * Policies draw addresses and ports from per-policy pools whose size grows
 * slowly with the rule count: big policies then look like real ones (the
 * same few dozen ports and prefixes reused) and stay within the classifier
 * limits of abi.h, while small ones get fresh values for every rule.
 *
 * The benchmark's policies (gen_bench_policy_json) are shapes made to
 * measure, not to explore: the same text for the same rule count and RNG
 * state, so figures of two builds compare.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "gen_policy.h"
#include "policy.h"

/* ---- random numbers ------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void gen_rng_seed(struct gen_rng *r, uint64_t seed)
{
	r->s = mix64(seed + 0x9e3779b97f4a7c15ULL) | 1;
}

uint64_t gen_u64(struct gen_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

uint32_t gen_u32(struct gen_rng *r)
{
	return (uint32_t)(gen_u64(r) >> 32);
}

uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)((gen_u64(r) >> 32) * n >> 32);
}

bool gen_chance(struct gen_rng *r, uint32_t num, uint32_t den)
{
	return gen_below(r, den) < num;
}

uint64_t gen_base_seed(uint64_t def, bool *from_env)
{
	const char *s = getenv("XNSG_SEED");
	char *end;
	uint64_t v;

	if (from_env)
		*from_env = false;
	if (!s || !*s)
		return def;
	v = strtoull(s, &end, 0);
	if (*end)
		return def;
	if (from_env)
		*from_env = true;
	return v;
}

uint64_t gen_policy_seed(uint64_t base, unsigned int k)
{
	return mix64(base * 0x100000001b3ULL + k);
}

uint64_t gen_packet_seed(uint64_t base, unsigned int k)
{
	return mix64(gen_policy_seed(base, k) ^ 0x7061636b657473ULL); /* "packets" */
}

/* ---- policy text ---------------------------------------------------- */

struct gen {
	struct gen_rng r;
	FILE *f;
	unsigned int vnet;   /* 10.<vnet>.0.0/16, fd00:<vnet>::/48 */
	bool v6;             /* dual stack */
	unsigned int nasgs;
	/* Pools of JSON fragments shared by the rules of big policies. */
	char **addr_pool, **port_pool;
	size_t naddr, nport;
	/* Prefixes generated so far, to nest new ones inside or around. */
	struct prefix_list bank;
	unsigned int written; /* rules written in the current NSG */
	unsigned int nnsgs, nsubnets, nifaces;
	unsigned int counts[16][2]; /* user rules of NSG i, inbound and outbound */
	size_t acap, pcap;          /* pool sizes */
};

static const unsigned int well_known[] = { 22, 25, 53, 80, 123, 443, 1433, 3389, 5432, 8080, 8443 };

static void rand_bytes(struct gen *g, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)gen_below(&g->r, 256);
}

static void fmt_prefix(const struct xnsg_prefix *p, bool as_addr, char *buf, size_t len)
{
	prefix_fmt(p, buf, len);
	if (as_addr)
		*strchr(buf, '/') = '\0';
}

/* Neighbours of the special-purpose and private ranges. */
static const char *const near4[] = {
	"9.255.255.0/24", "11.0.0.0/16", "10.0.0.0/8", "100.63.255.0/24", "100.128.0.0/16",
	"126.255.0.0/16", "128.0.0.0/16", "169.253.0.0/16", "169.255.0.0/16",
	"172.15.255.0/24", "172.32.0.0/16", "192.167.255.0/24", "192.169.0.0/16",
	"223.255.255.0/24", "168.63.129.16/32", "198.51.100.0/24", "203.0.113.0/24",
	"1.0.0.0/8", "192.0.2.0/24", "100.64.0.0/10",
};
static const char *const near6[] = {
	"fbff:ffff::/32", "fe00::/9", "fec0::/10", "2001:db8::/32", "::2/128", "::/127",
	"fe80::/10", "fc00::/7", "feff::/16", "ff00::/8", "2000::/3",
};

/* Give bytes the first `len` bits of parent (the rest stay as they are). */
static void keep_bits(uint8_t *bytes, const uint8_t *parent, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));

		bytes[i / 8] = (uint8_t)((bytes[i / 8] & ~m) | (parent[i / 8] & m));
	}
}

/* A random prefix: nested in or beside an earlier one, near the special
 * ranges of the Internet tag, in the VNet, or anywhere; occasionally /0. */
static struct xnsg_prefix rand_prefix(struct gen *g, uint8_t family)
{
	struct xnsg_prefix p = { .family = family };
	unsigned int bits = family == XNSG_V4 ? 32 : 128, k = gen_below(&g->r, 16);

	if (k < 6 && g->bank.n) {
		/* Inside (or, shorter, around) an earlier prefix of the family. */
		const struct xnsg_prefix *b = &g->bank.v[gen_below(&g->r, (uint32_t)g->bank.n)];

		if (b->family == family) {
			p = *b;
			rand_bytes(g, p.bytes + 0, bits / 8);
			keep_bits(p.bytes, b->bytes, b->len);
			if (k < 5)
				p.len = (uint8_t)(b->len + gen_below(&g->r, bits - b->len + 1));
			else
				p.len = (uint8_t)gen_below(&g->r, b->len + 1);
			goto done;
		}
	}
	if (k < 9) {
		const char *s = family == XNSG_V4 ? near4[gen_below(&g->r, sizeof(near4) / sizeof(*near4))]
						   : near6[gen_below(&g->r, sizeof(near6) / sizeof(*near6))];

		prefix_parse(s, &p, NULL);
		if (gen_chance(&g->r, 1, 2)) { /* a random sub-prefix */
			struct xnsg_prefix q = p;

			rand_bytes(g, q.bytes, bits / 8);
			keep_bits(q.bytes, p.bytes, p.len);
			q.len = (uint8_t)(p.len + gen_below(&g->r, bits - p.len + 1));
			p = q;
		}
		goto done;
	}
	if (k < 12) { /* the VNet */
		if (family == XNSG_V4) {
			p.bytes[0] = 10;
			p.bytes[1] = (uint8_t)g->vnet;
			rand_bytes(g, p.bytes + 2, 2);
			p.len = (uint8_t)(16 + gen_below(&g->r, 17));
		} else {
			p.bytes[0] = 0xfd;
			p.bytes[2] = (uint8_t)(g->vnet >> 8);
			p.bytes[3] = (uint8_t)g->vnet;
			rand_bytes(g, p.bytes + 6, 10);
			p.len = (uint8_t)(48 + gen_below(&g->r, 81));
		}
		goto done;
	}
	if (k == 12 && gen_chance(&g->r, 1, 4)) {
		p.len = 0;
		goto done;
	}
	rand_bytes(g, p.bytes, bits / 8);
	p.len = (uint8_t)(family == XNSG_V4 ? 4 + gen_below(&g->r, 29) : 8 + gen_below(&g->r, 121));
done:
	prefix_mask(&p);
	if (g->bank.n < 4096)
		prefix_list_add(&g->bank, &p);
	return p;
}

/* One address item for a prefix list: "10.1.0.0/16", "10.1.2.3". */
static void rand_addr_item(struct gen *g, char *buf, size_t len)
{
	uint8_t family = g->v6 && gen_chance(&g->r, 1, 3) ? XNSG_V6 : XNSG_V4;
	struct xnsg_prefix p = rand_prefix(g, family);
	unsigned int bits = family == XNSG_V4 ? 32 : 128;

	if (p.len == bits && gen_chance(&g->r, 1, 2)) {
		fmt_prefix(&p, true, buf, len);
		return;
	}
	if (p.len > 0 && p.len < bits && gen_chance(&g->r, 1, 40)) {
		/* Host bits set: the parser warns and masks. */
		p.bytes[(bits - 1) / 8] |= 1;
	}
	fmt_prefix(&p, false, buf, len);
}

/* The JSON members of one side of a rule, e.g.
 * "sourceAddressPrefix": "Internet" or an ASG reference. */
static char *rand_side(struct gen *g, const char *side)
{
	static const char *const tags[] = {
		"*", "Any", "Internet", "VirtualNetwork", "AzureLoadBalancer", "Storage.WestUS",
		"Sql.EastUS", "0.0.0.0/0", "::/0", "Internet", "*",
	};
	char item[64], *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	unsigned int k = gen_below(&g->r, 20);

	if (k < 3 && g->nasgs) {
		fprintf(f, "\"%sApplicationSecurityGroups\": [{\"id\": \"/subscriptions/0/resourceGroups/"
			   "rg/providers/Microsoft.Network/applicationSecurityGroups/Asg%u\"}]",
			side, gen_below(&g->r, g->nasgs));
	} else if (k < 8) {
		fprintf(f, "\"%sAddressPrefix\": \"%s\"", side,
			tags[gen_below(&g->r, sizeof(tags) / sizeof(*tags))]);
	} else if (k < 13) {
		rand_addr_item(g, item, sizeof(item));
		fprintf(f, "\"%sAddressPrefix\": \"%s\"", side, item);
	} else {
		unsigned int n = 1 + gen_below(&g->r, 3);

		if (k == 19) { /* both spellings: unioned */
			rand_addr_item(g, item, sizeof(item));
			fprintf(f, "\"%sAddressPrefix\": \"%s\", ", side, item);
		}
		fprintf(f, "\"%sAddressPrefixes\": [", side);
		for (unsigned int i = 0; i < n; i++) {
			rand_addr_item(g, item, sizeof(item));
			fprintf(f, "%s\"%s\"", i ? ", " : "", item);
		}
		fprintf(f, "]");
	}
	fclose(f);
	return out;
}

static unsigned int rand_port(struct gen *g)
{
	unsigned int k = gen_below(&g->r, 10);

	if (k < 4)
		return well_known[gen_below(&g->r, sizeof(well_known) / sizeof(*well_known))];
	if (k == 4)
		return (unsigned int[]){ 0, 1, 65534, 65535 }[gen_below(&g->r, 4)];
	if (k < 7)
		return 1024 + gen_below(&g->r, 64512);
	return gen_below(&g->r, 65536);
}

static void rand_port_item(struct gen *g, char *buf, size_t len)
{
	unsigned int a = rand_port(g), b;

	if (gen_chance(&g->r, 1, 2)) {
		snprintf(buf, len, "%u", a);
		return;
	}
	b = gen_chance(&g->r, 1, 2) ? a + gen_below(&g->r, 100) : rand_port(g);
	if (b > 65535)
		b = 65535;
	if (b < a) {
		unsigned int t = a;

		a = b;
		b = t;
	}
	snprintf(buf, len, "%u-%u", a, b);
}

/* The JSON members of a port field: '*', one item, a list, or both. */
static char *rand_ports(struct gen *g, const char *side, bool src)
{
	char item[32], *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	unsigned int k = gen_below(&g->r, 20);

	if (src && k < 17)
		k = 0; /* source ports are nearly always '*', as in real policies */
	if (k < 6) {
		fprintf(f, "\"%sPortRange\": \"*\"", side);
	} else if (k == 6) {
		fprintf(f, "\"%sPortRange\": \"0-65535\"", side);
	} else if (k < 15) {
		rand_port_item(g, item, sizeof(item));
		fprintf(f, "\"%sPortRange\": \"%s\"", side, item);
	} else {
		unsigned int n = 1 + gen_below(&g->r, 4);

		if (k == 19) {
			rand_port_item(g, item, sizeof(item));
			fprintf(f, "\"%sPortRange\": \"%s\", ", side, item);
		}
		fprintf(f, "\"%sPortRanges\": [", side);
		for (unsigned int i = 0; i < n; i++) {
			rand_port_item(g, item, sizeof(item));
			fprintf(f, "%s\"%s\"", i ? ", " : "", item);
		}
		fprintf(f, "]");
	}
	fclose(f);
	return out;
}

/* A pooled fragment: fresh while the pool fills, then reused. */
static const char *pooled(struct gen *g, char **pool, size_t *n, size_t cap,
			  char *(*make)(struct gen *, const char *, bool), const char *side)
{
	char *s;

	if (*n >= cap || (*n && gen_chance(&g->r, (uint32_t)*n, (uint32_t)cap)))
		return pool[gen_below(&g->r, (uint32_t)*n)];
	s = make(g, side, false);
	pool[(*n)++] = s;
	return s;
}

static char *make_side(struct gen *g, const char *side, bool src)
{
	(void)src;
	return rand_side(g, side);
}

/* Pools hold fragments for "source" and "destination" alike: the side
 * name is rewritten when a fragment is reused on the other side. */
static char *respell(const char *frag, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p;
	char *out, *o;

	for (p = frag; (p = strstr(p, from)); p += fl)
		n++;
	out = malloc(strlen(frag) + n * (tl > fl ? tl - fl : 0) + 1);
	for (o = out, p = frag; *p;) {
		if (!strncmp(p, from, fl)) {
			memcpy(o, to, tl);
			o += tl;
			p += fl;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* side: "source" or "destination". */
static void write_side(struct gen *g, const char *side, size_t cap)
{
	const char *frag = pooled(g, g->addr_pool, &g->naddr, cap, make_side, "source");
	char *s = respell(frag, "\"source", strcmp(side, "source") ? "\"destination" : "\"source");

	fprintf(g->f, "%s", s);
	free(s);
}

static void write_ports(struct gen *g, const char *side, bool src, size_t cap)
{
	char *s;

	if (src) { /* not pooled: rarely restricted anyway */
		s = rand_ports(g, side, true);
	} else {
		const char *frag = pooled(g, g->port_pool, &g->nport, cap, rand_ports, "destination");

		s = xstrdup(frag);
	}
	fprintf(g->f, "%s", s);
	free(s);
}

static void write_rules(struct gen *g, unsigned int nsg, const char *dir, unsigned int n,
			size_t acap, size_t pcap)
{
	static const char *const protos[] = { "Tcp", "Tcp", "Tcp", "Udp", "Udp", "*", "*", "*",
					      "Icmp", "Icmp", "Esp", "Ah" };
	unsigned int prio = 100, left = n, span = 4096 - 100 + 1;

	for (unsigned int i = 0; i < n; i++) {
		bool props = gen_chance(&g->r, 1, 2);

		/* Priorities: a sorted random subset of 100-4096 (Knuth's S). */
		while (gen_below(&g->r, span) >= left) {
			prio++;
			span--;
		}
		fprintf(g->f, "%s\n      {\"name\": \"n%u-%s-%u\", ", g->written++ ? "," : "", nsg,
			dir, i);
		if (props)
			fprintf(g->f, "\"properties\": {");
		fprintf(g->f, "\"priority\": %u, \"direction\": \"%s\", \"access\": \"%s\", \"protocol\": \"%s\", ",
			prio, dir, gen_chance(&g->r, 1, 2) ? "Allow" : "Deny",
			protos[gen_below(&g->r, sizeof(protos) / sizeof(*protos))]);
		write_side(g, "source", acap);
		fprintf(g->f, ", ");
		write_ports(g, "source", true, pcap);
		fprintf(g->f, ", ");
		write_side(g, "destination", acap);
		fprintf(g->f, ", ");
		write_ports(g, "destination", false, pcap);
		fprintf(g->f, "}%s", props ? "}" : "");
		prio++;
		span--;
		left--;
	}
}

static unsigned int rand_count(struct gen *g, const struct gen_opts *o)
{
	unsigned int lo = o->min_rules, hi = o->max_rules > GEN_MAX_USER_RULES ? GEN_MAX_USER_RULES : o->max_rules;

	if (hi < lo)
		hi = lo;
	return lo + gen_below(&g->r, hi - lo + 1);
}

static void write_nsg_ref(struct gen *g, unsigned int nsg)
{
	if (gen_chance(&g->r, 1, 4))
		fprintf(g->f, "{\"id\": \"/subscriptions/0/resourceGroups/rg/providers/"
			      "Microsoft.Network/networkSecurityGroups/nsg%u\"}", nsg);
	else
		fprintf(g->f, "\"nsg%u\"", nsg);
}

/* The VNet, Service Tags and ASGs: what the rules can name. */
static void write_vnet(struct gen *g)
{
	char item[64];

	fprintf(g->f, "{\"virtualNetwork\": {\"name\": \"gen\", \"addressPrefixes\": [\"10.%u.0.0/16\"",
		g->vnet);
	if (g->v6)
		fprintf(g->f, ", \"fd00:%x::/48\"", g->vnet);
	fprintf(g->f, "]");
	if (gen_chance(&g->r, 1, 3))
		fprintf(g->f, ", \"connectedPrefixes\": [\"192.168.%u.0/24\"%s]", gen_below(&g->r, 256),
			g->v6 ? ", \"2001:db8:c0::/48\"" : "");
	fprintf(g->f, "},\n\"serviceTags\": {");
	for (int t = 0; t < 3; t++) {
		unsigned int n = 1 + gen_below(&g->r, 3);

		if (t == 2 && !gen_chance(&g->r, 1, 5))
			break;
		fprintf(g->f, "%s\"%s\": [", t ? ", " : "",
			(const char *[]){ "Storage.WestUS", "Sql.EastUS", "AzureLoadBalancer" }[t]);
		for (unsigned int i = 0; i < n; i++) {
			rand_addr_item(g, item, sizeof(item));
			fprintf(g->f, "%s\"%s\"", i ? ", " : "", item);
		}
		fprintf(g->f, "]");
	}
	fprintf(g->f, "},\n\"applicationSecurityGroups\": {");
	for (unsigned int a = 0; a < g->nasgs; a++) {
		unsigned int n = gen_below(&g->r, 3);

		fprintf(g->f, "%s\"Asg%u\": [", a ? ", " : "", a);
		for (unsigned int i = 0; i < n; i++) {
			struct xnsg_prefix p = rand_prefix(g, g->v6 && gen_chance(&g->r, 1, 3) ? XNSG_V6 : XNSG_V4);
			char s[XNSG_PREFIX_STRLEN];

			/* A member is an address: keep the prefix's network address. */
			fmt_prefix(&p, true, s, sizeof(s));
			fprintf(g->f, "%s\"%s\"", i ? ", " : "", s);
		}
		fprintf(g->f, "]");
	}
	fprintf(g->f, "},\n");
}

static void write_nsgs(struct gen *g)
{
	fprintf(g->f, "\"networkSecurityGroups\": [");
	for (unsigned int i = 0; i < g->nnsgs; i++) {
		bool props = gen_chance(&g->r, 1, 2);

		fprintf(g->f, "%s\n  {\"name\": \"nsg%u\", %s\"securityRules\": [", i ? "," : "", i,
			props ? "\"properties\": {" : "");
		g->written = 0;
		write_rules(g, i, "Inbound", g->counts[i][0], g->acap, g->pcap);
		write_rules(g, i, "Outbound", g->counts[i][1], g->acap, g->pcap);
		fprintf(g->f, "]%s}", props ? "}" : "");
	}
	fprintf(g->f, "],\n");
}

static void write_subnets(struct gen *g)
{
	fprintf(g->f, "\"subnets\": [");
	for (unsigned int s = 0; s < g->nsubnets; s++) {
		fprintf(g->f, "%s\n  {\"name\": \"s%u\", \"addressPrefix\": \"10.%u.%u.0/24\"",
			s ? "," : "", s, g->vnet, s + 1);
		if (g->v6)
			fprintf(g->f, ", \"addressPrefixes\": [\"fd00:%x:0:%x::/64\"]", g->vnet, s + 1);
		if (gen_chance(&g->r, 2, 3)) {
			fprintf(g->f, ", \"networkSecurityGroup\": ");
			write_nsg_ref(g, gen_below(&g->r, g->nnsgs));
		}
		fprintf(g->f, "}");
	}
	fprintf(g->f, "],\n");
}

static void write_ifaces(struct gen *g)
{
	fprintf(g->f, "\"interfaces\": [");
	for (unsigned int i = 0; i < g->nifaces; i++) {
		unsigned int s = gen_below(&g->r, g->nsubnets);

		fprintf(g->f, "%s\n  {\"name\": \"if%u\", \"subnet\": \"s%u\", \"networkSecurityGroup\": ",
			i ? "," : "", i, s);
		if (gen_chance(&g->r, 2, 3))
			write_nsg_ref(g, gen_below(&g->r, g->nnsgs));
		else
			fprintf(g->f, "null");
		fprintf(g->f, ", \"ipAddresses\": [\"10.%u.%u.%u\"", g->vnet, s + 1, 10 + i);
		if (g->v6)
			fprintf(g->f, ", \"fd00:%x:0:%x::%x\"", g->vnet, s + 1, 10 + i);
		fprintf(g->f, "], \"applicationSecurityGroups\": [");
		for (unsigned int a = 0, first = 1; a < g->nasgs; a++)
			if (gen_chance(&g->r, 1, 2)) {
				fprintf(g->f, "%s\"Asg%u\"", first ? "" : ", ", a);
				first = 0;
			}
		fprintf(g->f, "]");
		if (gen_chance(&g->r, 2, 3))
			fprintf(g->f, ", \"attach\": \"%s\"", gen_chance(&g->r, 1, 2) ? "host" : "peer");
		fprintf(g->f, "}");
	}
	fprintf(g->f, "]}\n");
}

char *gen_policy_json(uint64_t seed, const struct gen_opts *o)
{
	struct gen g = {};
	unsigned int total = 0;
	size_t len = 0;
	char *out = NULL;

	gen_rng_seed(&g.r, seed);
	g.f = open_memstream(&out, &len);
	g.vnet = 1 + gen_below(&g.r, 200);
	g.v6 = gen_chance(&g.r, 2, 3);
	g.nnsgs = 1 + gen_below(&g.r, o->max_nsgs ? (o->max_nsgs > 16 ? 16 : o->max_nsgs) : 4);
	g.nsubnets = 1 + gen_below(&g.r, 3);
	g.nifaces = 1 + gen_below(&g.r, o->max_ifaces ? o->max_ifaces : 4);
	g.nasgs = gen_below(&g.r, 4);
	for (unsigned int i = 0; i < g.nnsgs; i++)
		for (int d = 0; d < 2; d++) {
			g.counts[i][d] = rand_count(&g, o);
			total += g.counts[i][d];
		}
	/* Pools: fresh values for small policies, a realistic vocabulary for
	 * big ones (and the class and port map counts stay within abi.h). */
	g.acap = 24 + (total < 160 ? total : 160);
	g.pcap = 12 + (total < 48 ? total : 48);
	g.addr_pool = calloc(g.acap, sizeof(char *));
	g.port_pool = calloc(g.pcap, sizeof(char *));
	write_vnet(&g);
	write_nsgs(&g);
	write_subnets(&g);
	write_ifaces(&g);
	fclose(g.f);
	for (size_t i = 0; i < g.naddr; i++)
		free(g.addr_pool[i]);
	for (size_t i = 0; i < g.nport; i++)
		free(g.port_pool[i]);
	free(g.addr_pool);
	free(g.port_pool);
	prefix_list_free(&g.bank);
	return out;
}

/* ---- benchmark policies -------------------------------------------- */

int gen_user_rules(int rules)
{
	return rules > GEN_MAX_USER_RULES ? GEN_MAX_USER_RULES : rules < 1 ? 1 : rules;
}

struct bench_rule {
	char src[64], dport[32]; /* JSON values: the source is quoted */
	const char *proto, *access;
	bool prefixes;           /* src is a list: sourceAddressPrefixes */
};

/* GEN_SHAPE_LAST: misses with sources in 198.18.0.0/15, never the
 * probe's, then the probe's rule. */
static void bench_rule_last(const struct gen_bench_opts *o, int i, bool last,
			    struct bench_rule *r)
{
	snprintf(r->src, sizeof(r->src), "\"198.%u.%u.%u/%u\"", 18 + (i >> 16 & 1), i >> 8 & 255,
		 i & 255, 32);
	snprintf(r->dport, sizeof(r->dport), "%u",
		 1000 + (unsigned int)i % 60000 + (o->variant ? 1 : 0));
	r->proto = "Tcp";
	r->access = "Deny";
	r->prefixes = false;
	if (o->near && i % 4 == 0 && !last) {
		/* A near miss: only the port range tells it from the last rule. */
		snprintf(r->src, sizeof(r->src), "[\"198.51.100.0/24\", \"2001:db8:100::/64\"]");
		snprintf(r->dport, sizeof(r->dport), "%u-%u", 1000 + (unsigned int)i % 60000,
			 1010 + (unsigned int)i % 60000);
		r->proto = "Udp";
		r->prefixes = true;
		return;
	}
	if (last) {
		snprintf(r->src, sizeof(r->src), "\"*\"");
		snprintf(r->dport, sizeof(r->dport), "443");
		/* The peers' last rule: "udp dport 443 drop". */
		r->proto = o->deny_last ? "Udp" : "*";
	}
}

static void bench_rule_random(struct gen_rng *g, bool last, struct bench_rule *r)
{
	unsigned int len = 8 + gen_u32(g) % 25;
	unsigned int lo = gen_u32(g) % 65536, hi = lo + gen_u32(g) % 2000;
	unsigned int a, b, c, d;

	/* The last octet drawn first: the order GCC evaluated these as
	 * snprintf()'s arguments in when bench/RESULTS.md was measured. */
	d = gen_u32(g) % 256;
	c = gen_u32(g) % 256;
	b = gen_u32(g) % 256;
	a = 1 + gen_u32(g) % 223;
	snprintf(r->src, sizeof(r->src), "\"%u.%u.%u.%u/%u\"", a, b, c, d, len);
	snprintf(r->dport, sizeof(r->dport), "%u-%u", lo, hi > 65535 ? 65535 : hi);
	r->proto = (const char *[]){ "Tcp", "Udp", "*", "Tcp" }[gen_u32(g) % 4];
	r->access = "Allow";
	if (gen_u32(g) % 8 == 0)
		snprintf(r->src, sizeof(r->src), "\"Internet\"");
	if (last) {
		/* Allow what no other rule took: every packet is judged by
		 * both levels, as in the "last" shape. */
		snprintf(r->src, sizeof(r->src), "\"*\"");
		snprintf(r->dport, sizeof(r->dport), "*");
		r->proto = "*";
	}
}

static void write_bench_nsg(FILE *f, struct gen_rng *g, const struct gen_bench_opts *o,
			    const char *nsg, bool tag_rule)
{
	int rules = gen_user_rules(o->rules);

	fprintf(f, "{\"name\": \"%s\", \"securityRules\": [\n", nsg);
	for (int i = 0; i < rules; i++) {
		bool last = i == rules - 1;
		struct bench_rule r = { .prefixes = false };

		if (o->shape == GEN_SHAPE_LAST)
			bench_rule_last(o, i, last, &r);
		else
			bench_rule_random(g, last, &r);
		if (last)
			r.access = o->deny_last ? "Deny" : "Allow";
		if (tag_rule && last)
			snprintf(r.src, sizeof(r.src), "\"Big\"");
		fprintf(f,
			"  {\"name\": \"r%d\", \"priority\": %d, \"direction\": \"Inbound\", \"access\": \"%s\", "
			"\"protocol\": \"%s\", \"sourceAddressPrefix%s\": %s, \"sourcePortRange\": \"*\", "
			"\"destinationAddressPrefix\": \"*\", \"destinationPortRange\": \"%s\"}%s\n",
			i, 100 + i, r.access, r.proto, r.prefixes ? "es" : "", r.src, r.dport,
			last ? "" : ",");
	}
	fprintf(f, "]}");
}

char *gen_bench_policy_json(struct gen_rng *r, const struct gen_bench_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "{\"virtualNetwork\": {\"name\": \"bench\", \"addressPrefixes\": [\"10.9.0.0/16\"]},\n");
	if (o->tags_file)
		fprintf(f, "\"serviceTagsFile\": \"%s\",\n", o->tags_file);
	fprintf(f, "\"networkSecurityGroups\": [\n");
	/* One level: the NIC's NSG alone, as the peers' files hold the N
	 * rules once (an unbound subnet NSG was read, linted and compiled
	 * too: twice the peers' input in `make bench`'s load pairing). */
	if (!o->one_level) {
		write_bench_nsg(f, r, o, "subnet-nsg", o->tags_file != NULL);
		fprintf(f, ",\n");
	}
	write_bench_nsg(f, r, o, "nic-nsg", false);
	fprintf(f, "],\n\"subnets\": [{\"name\": \"s\", \"addressPrefix\": \"10.9.1.0/24\", "
		   "\"networkSecurityGroup\": %s}],\n"
		   "\"interfaces\": [{\"name\": \"%s\", \"subnet\": \"s\", \"networkSecurityGroup\": "
		   "\"nic-nsg\", \"ipAddresses\": [\"10.9.1.4\"]}]}\n",
		o->one_level ? "null" : "\"subnet-nsg\"", o->ifname ? o->ifname : "eth0");
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *gen_bench_tags_json(int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "{\"changeNumber\": 1, \"cloud\": \"Public\", \"values\": [{\"name\": \"Big\", "
		   "\"id\": \"Big\", \"properties\": {\"changeNumber\": 1, \"region\": \"\", "
		   "\"platform\": \"Azure\", \"systemService\": \"Bench\", \"addressPrefixes\": [\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "\"%u.%u.%u.0/24\"%s\n", 20 + (i >> 16), (i >> 8) & 255, i & 255,
			i + 1 < n ? "," : "");
	fprintf(f, "]}}]}\n");
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- packets -------------------------------------------------------- */

struct gen_pkts {
	const struct policy *p;
	struct prefix_list edges[2]; /* IPv4, IPv6 prefixes whose edges to probe */
	uint16_t *ports;
	size_t nports, pcap;
	bool near_misses; /* gen_pkts_near_misses() */
};

static void add_edges(struct gen_pkts *g, const struct prefix_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		prefix_list_add(&g->edges[l->v[i].family == XNSG_V6], &l->v[i]);
}

static void add_port(struct gen_pkts *g, long v)
{
	if (v < 0 || v > 65535)
		return;
	if (g->nports == g->pcap) {
		g->pcap = g->pcap ? g->pcap * 2 : 64;
		g->ports = realloc(g->ports, g->pcap * sizeof(*g->ports));
	}
	g->ports[g->nports++] = (uint16_t)v;
}

static void add_port_edges(struct gen_pkts *g, const struct port_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		add_port(g, (long)l->v[i].lo - 1);
		add_port(g, l->v[i].lo);
		add_port(g, l->v[i].hi);
		add_port(g, (long)l->v[i].hi + 1);
	}
}

struct gen_pkts *gen_pkts_new(const struct policy *p)
{
	struct gen_pkts *g = calloc(1, sizeof(*g));
	const char *const *special[2] = { xnsg_special_v4, xnsg_special_v6 };

	g->p = p;
	for (size_t n = 0; n < p->nnsgs; n++)
		for (size_t i = 0; i < p->nsgs[n].nrules; i++) {
			const struct rule *r = &p->nsgs[n].rules[i];

			add_edges(g, &r->src.prefixes);
			add_edges(g, &r->dst.prefixes);
			add_port_edges(g, &r->sport);
			add_port_edges(g, &r->dport);
		}
	add_edges(g, &p->virtual_network);
	for (size_t i = 0; i < p->ntags; i++)
		add_edges(g, &p->tags[i].prefixes);
	for (size_t i = 0; i < p->nasgs; i++)
		add_edges(g, &p->asgs[i].members);
	for (size_t i = 0; i < p->nsubnets; i++)
		add_edges(g, &p->subnets[i].prefixes);
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; special[f][i]; i++) {
			struct xnsg_prefix q;

			if (!prefix_parse(special[f][i], &q, NULL))
				prefix_list_add(&g->edges[f], &q);
		}
	add_port(g, 0);
	add_port(g, 65535);
	return g;
}

void gen_pkts_near_misses(struct gen_pkts *g)
{
	g->near_misses = true;
}

void gen_pkts_free(struct gen_pkts *g)
{
	if (!g)
		return;
	prefix_list_free(&g->edges[0]);
	prefix_list_free(&g->edges[1]);
	free(g->ports);
	free(g);
}

/* Add (carry) or subtract (borrow) one to a big-endian address. */
static void addr_step(uint8_t *b, int n, int up)
{
	for (int i = n - 1; i >= 0; i--) {
		if (up) {
			if (++b[i])
				return;
		} else {
			if (b[i]--)
				return;
		}
	}
}

/* An address at or just beside an edge of a prefix of the family;
 * inside: never beside (nor anywhere). */
static void edge_addr_in(struct gen_pkts *g, struct gen_rng *r, uint8_t family, bool inside,
			 struct xnsg_addr *a)
{
	static const unsigned int in[] = { 1, 2, 5, 6, 9, 10, 11 };
	const struct prefix_list *l = &g->edges[family == XNSG_V6];
	int n = family == XNSG_V4 ? 4 : 16, bits = n * 8;
	const struct xnsg_prefix *p;
	unsigned int k = inside ? in[gen_below(r, 7)] : gen_below(r, g->near_misses ? 15 : 12);

	memset(a, 0, sizeof(*a));
	a->family = family;
	for (int i = 0; i < n; i++)
		a->bytes[i] = (uint8_t)gen_below(r, 256);
	if (!l->n || k == 0)
		return; /* anywhere */
	p = &l->v[gen_below(r, (uint32_t)l->n)];
	/* Random host bits under the prefix, then pin them for the edges. */
	keep_bits(a->bytes, p->bytes, p->len);
	if (k >= 12 && p->len) { /* a near miss: one of its bits flipped */
		unsigned int i = gen_below(r, p->len);

		a->bytes[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
		return;
	}
	if (k >= 9)
		return; /* inside, at random */
	for (int i = p->len; i < bits; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));

		if (k <= 4)
			a->bytes[i / 8] &= (uint8_t)~m; /* first address */
		else
			a->bytes[i / 8] |= m; /* last address */
	}
	if (k == 3 || k == 4)
		addr_step(a->bytes, n, 0); /* just below the first */
	else if (k == 7 || k == 8)
		addr_step(a->bytes, n, 1); /* just above the last */
}

static void edge_addr(struct gen_pkts *g, struct gen_rng *r, uint8_t family, struct xnsg_addr *a)
{
	edge_addr_in(g, r, family, false, a);
}

static uint16_t rand_pkt_port(struct gen_pkts *g, struct gen_rng *r)
{
	if (g->nports && gen_chance(r, 3, 4))
		return g->ports[gen_below(r, (uint32_t)g->nports)];
	if (gen_chance(r, 1, 3))
		return well_known[gen_below(r, sizeof(well_known) / sizeof(*well_known))];
	return (uint16_t)gen_below(r, 65536);
}

/* A port at or beside an edge of one of the rule's ranges. */
static uint16_t aim_port(struct gen_pkts *g, struct gen_rng *r, const struct port_list *l)
{
	const struct port_range *pr;
	long v;

	if (l->any || !l->n)
		return rand_pkt_port(g, r);
	pr = &l->v[gen_below(r, (uint32_t)l->n)];
	/* Mostly inside, so the rule matches often enough to matter. */
	switch (gen_chance(r, 2, 3) ? (unsigned int[]){ 1, 2, 4 }[gen_below(r, 3)] : gen_below(r, 5)) {
	case 0:
		v = (long)pr->lo - 1;
		break;
	case 1:
		v = pr->lo;
		break;
	case 2:
		v = pr->hi;
		break;
	case 3:
		v = (long)pr->hi + 1;
		break;
	default:
		v = pr->lo + (long)gen_below(r, (uint32_t)(pr->hi - pr->lo) + 1);
	}
	return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
}

/* An address of the family for one side of a rule: at an edge of one of
 * its prefixes, or anywhere when it has none of that family. */
static void aim_addr(struct gen_pkts *g, struct gen_rng *r, const struct addr_side *s,
		     uint8_t family, struct xnsg_addr *a)
{
	struct prefix_list one = {};
	struct gen_pkts sub = *g;
	size_t n = 0, pick;

	for (size_t i = 0; i < s->prefixes.n; i++)
		n += s->prefixes.v[i].family == family;
	if (!n || gen_chance(r, 1, 8)) {
		edge_addr(g, r, family, a);
		return;
	}
	pick = gen_below(r, (uint32_t)n);
	for (size_t i = 0; i < s->prefixes.n; i++)
		if (s->prefixes.v[i].family == family && !pick--) {
			one.v = &s->prefixes.v[i];
			one.n = one.cap = 1;
			break;
		}
	sub.edges[family == XNSG_V6] = one;
	/* Mostly inside, so the rule matches often enough to matter. */
	edge_addr_in(&sub, r, family, gen_chance(r, 2, 3), a);
}

static uint8_t aim_proto(struct gen_rng *r, enum xnsg_proto p)
{
	switch (p) {
	case XNSG_PROTO_TCP:
		return 6;
	case XNSG_PROTO_UDP:
		return 17;
	case XNSG_PROTO_ICMP:
		return gen_chance(r, 1, 2) ? 1 : 58;
	case XNSG_PROTO_ESP:
		return 50;
	case XNSG_PROTO_AH:
		return 51;
	default:
		return (uint8_t[]){ 6, 17, 1, 58, 47 }[gen_below(r, 5)];
	}
}

/*
 * Aim at one rule of one of the interface's NSGs: protocol, addresses and
 * ports at or beside the rule's edges, so that the rule, its neighbours in
 * priority order and the rules overlapping it all get exercised.
 */
static bool aim_rule(struct gen_pkts *g, struct gen_rng *r, struct eval_query *q)
{
	const struct policy *p = g->p;
	const struct iface *ifc = &p->ifaces[q->iface];
	int nsgs[2] = { ifc->nsg, ifc->subnet >= 0 ? p->subnets[ifc->subnet].nsg : -1 };
	int nsg = nsgs[gen_below(r, 2)];
	const struct rule *rules, *ru;
	struct xnsg_addr src, dst;
	uint8_t family = XNSG_V4;
	size_t n;

	if (nsg < 0)
		nsg = nsgs[0] >= 0 ? nsgs[0] : nsgs[1];
	if (nsg < 0)
		return false;
	rules = nsg_rules(&p->nsgs[nsg], q->dir, &n);
	if (!n)
		return false;
	ru = &rules[gen_below(r, (uint32_t)n)];
	/* The family of one of the rule's prefixes, else either. */
	if (ru->src.prefixes.n && gen_chance(r, 1, 2))
		family = ru->src.prefixes.v[gen_below(r, (uint32_t)ru->src.prefixes.n)].family;
	else if (ru->dst.prefixes.n)
		family = ru->dst.prefixes.v[gen_below(r, (uint32_t)ru->dst.prefixes.n)].family;
	else
		family = gen_chance(r, 1, 3) ? XNSG_V6 : XNSG_V4;
	aim_addr(g, r, &ru->src, family, &src);
	aim_addr(g, r, &ru->dst, family, &dst);
	q->ipproto = gen_chance(r, 7, 8) ? aim_proto(r, ru->proto) : (uint8_t)gen_below(r, 256);
	if (q->dir == XNSG_IN) {
		q->remote = src;
		q->local = dst;
	} else {
		q->local = src;
		q->remote = dst;
	}
	if (q->ipproto == 6 || q->ipproto == 17) {
		uint16_t sp = aim_port(g, r, &ru->sport), dp = aim_port(g, r, &ru->dport);

		q->lport = q->dir == XNSG_IN ? dp : sp;
		q->rport = q->dir == XNSG_IN ? sp : dp;
	}
	return true;
}

void gen_packet(struct gen_pkts *g, struct gen_rng *r, struct eval_query *q)
{
	gen_packet_for(g, r, -1, q);
}

void gen_packet_for(struct gen_pkts *g, struct gen_rng *r, int iface, struct eval_query *q)
{
	static const uint8_t protos[] = { 6, 6, 6, 6, 6, 17, 17, 17, 17, 1, 1, 58, 58, 50, 51, 47 };
	const struct policy *p = g->p;
	const struct iface *ifc;
	uint8_t family;

	memset(q, 0, sizeof(*q));
	q->iface = iface >= 0 ? iface : (int)gen_below(r, (uint32_t)(p->nifaces ? p->nifaces : 1));
	q->dir = gen_chance(r, 1, 2) ? XNSG_IN : XNSG_OUT;
	if (p->nifaces && gen_chance(r, 2, 3) && aim_rule(g, r, q))
		goto out;
	q->ipproto = gen_chance(r, 1, 16) ? (uint8_t)gen_below(r, 256)
					  : protos[gen_below(r, sizeof(protos))];
	ifc = p->nifaces ? &p->ifaces[q->iface] : NULL;
	if (ifc && ifc->naddrs && gen_chance(r, 3, 4)) {
		q->local = ifc->addrs[gen_below(r, (uint32_t)ifc->naddrs)];
		family = q->local.family;
	} else {
		family = gen_chance(r, 1, 3) ? XNSG_V6 : XNSG_V4;
		edge_addr(g, r, family, &q->local);
	}
	edge_addr(g, r, family, &q->remote);
	if (q->ipproto == 6 || q->ipproto == 17) {
		q->lport = rand_pkt_port(g, r);
		q->rport = rand_pkt_port(g, r);
	}
out:
	/* IPv6 hop-by-hop, routing, fragment and destination options are
	 * extension headers the datapath walks, not protocols a packet can
	 * be judged by: ask for "no next header" (59) instead. */
	if (q->local.family == XNSG_V6 &&
	    (q->ipproto == 0 || q->ipproto == 43 || q->ipproto == 44 || q->ipproto == 60))
		q->ipproto = 59;
}

char *gen_flow_str(const struct policy *p, const struct eval_query *q, char *buf, size_t len)
{
	char l[64], rm[64];
	addr_fmt(&q->local, l, sizeof(l));
	addr_fmt(&q->remote, rm, sizeof(rm));
	bool v6 = q->local.family == XNSG_V6;

	snprintf(buf, len, "%s %s proto %u local %s%s%s:%u remote %s%s%s:%u",
		 q->iface >= 0 && (size_t)q->iface < p->nifaces ? p->ifaces[q->iface].name : "?",
		 q->dir == XNSG_IN ? "in" : "out", q->ipproto, v6 ? "[" : "", l, v6 ? "]" : "",
		 q->lport, v6 ? "[" : "", rm, v6 ? "]" : "", q->rport);
	return buf;
}

char *gen_result_str(const struct policy *p, const struct eval_result *r, char *buf, size_t len)
{
	size_t off = 0;

	off += (size_t)snprintf(buf, len, "%s (decisive level %d)", r->allow ? "Allow" : "Deny",
				r->decisive);
	for (int i = 0; i < 2 && off < len; i++) {
		const struct eval_level *l = &r->level[i];

		if (l->nsg < 0)
			off += (size_t)snprintf(buf + off, len - off, "; %s: no NSG",
						l->scope == EVAL_SUBNET ? "subnet" : "nic");
		else
			off += (size_t)snprintf(buf + off, len - off, "; %s: %s %s/%s",
						l->scope == EVAL_SUBNET ? "subnet" : "nic",
						l->allow ? "Allow" : "Deny", p->nsgs[l->nsg].name,
						l->rule >= 0 ? p->nsgs[l->nsg].rules[l->rule].name
							     : "(no rule)");
	}
	return buf;
}

/* ---- IPv6 trie policies ---------------------------------------------- */

/* A random global-looking IPv6 address, 2000::/3. */
static void rand6(struct gen_rng *r, uint8_t *b)
{
	for (int i = 0; i < 16; i++)
		b[i] = (uint8_t)gen_below(r, 256);
	b[0] = (uint8_t)(0x20 + gen_below(r, 32));
}

/* Prefix len of a with the bits after `keep` random. */
static void push6(struct prefix_list *l, struct gen_rng *r, const uint8_t *a, unsigned int keep,
		  unsigned int len)
{
	struct xnsg_prefix p = { .family = XNSG_V6, .len = (uint8_t)len };

	rand6(r, p.bytes);
	keep_bits(p.bytes, a, keep < len ? keep : len);
	prefix_mask(&p);
	prefix_list_add(l, &p);
}

/* The prefixes of gen_trie6_policy_json(): see gen_policy.h. */
static void trie6_prefixes(struct gen_rng *r, struct prefix_list *l)
{
	uint8_t a[16], b[16], c[16];
	unsigned int lb = 64 + gen_below(r, 49);

	rand6(r, a);
	rand6(r, b);
	rand6(r, c);
	for (unsigned int len = 8; len <= 128; len += 8) { /* nested at every byte */
		push6(l, r, a, 128, len);
		if (gen_chance(r, 1, 3) && len < 128)
			push6(l, r, a, 128, len + 1 + gen_below(r, 7));
	}
	push6(l, r, b, 128, lb); /* a shared long prefix and prefixes under it */
	for (int i = 0, n = 4 + (int)gen_below(r, 24); i < n; i++)
		push6(l, r, b, lb, lb + 1 + gen_below(r, 128 - lb));
	for (int i = 0, n = 2 + (int)gen_below(r, 6); i < n; i++) { /* siblings */
		push6(l, r, c, 40, 48);
		push6(l, r, l->v[l->n - 1].bytes, 48, 56 + 8 * gen_below(r, 3));
	}
	for (int i = 0; i < 6; i++) /* hosts, some beside the shared prefix */
		push6(l, r, b, i < 3 ? lb : 0, 128);
	for (int i = 0; i < 4; i++) /* short ones */
		push6(l, r, a, gen_below(r, 2) ? 0 : 16, 1 + gen_below(r, 24));
}

/* One side of a rule: "*", ::/0, or one to three of the prefixes. */
static void trie6_side(FILE *f, struct gen_rng *r, const char *side, const struct prefix_list *l,
		       bool any)
{
	char s[XNSG_PREFIX_STRLEN];
	unsigned int n = 1 + gen_below(r, 3);

	if (any || gen_chance(r, 1, 40)) {
		fprintf(f, "\"%sAddressPrefix\": \"%s\"", side, any ? "*" : "::/0");
		return;
	}
	fprintf(f, "\"%sAddressPrefixes\": [", side);
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "",
			prefix_fmt(&l->v[gen_below(r, (uint32_t)l->n)], s, sizeof(s)));
	fprintf(f, "]");
}

char *gen_trie6_policy_json(uint64_t seed, unsigned int nbig)
{
	struct prefix_list l = { 0 };
	struct gen_rng r;
	char *out = NULL, s[XNSG_PREFIX_STRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	gen_rng_seed(&r, seed);
	trie6_prefixes(&r, &l);
	fprintf(f, "{\"virtualNetwork\": {\"name\": \"v\", \"addressPrefixes\": [\"10.1.0.0/16\", "
		"\"fd00:1::/48\"]}, %s", nbig ? "\"serviceTags\": {\"Big\": [" : "");
	for (unsigned int i = 0; i < nbig; i++) {
		struct xnsg_prefix p = { .family = XNSG_V6, .len = (uint8_t)(32 + gen_below(&r, 97)) };

		rand6(&r, p.bytes);
		prefix_mask(&p);
		fprintf(f, "%s\"%s\"", i ? ", " : "", prefix_fmt(&p, s, sizeof(s)));
	}
	fprintf(f, "%s\"networkSecurityGroups\": [{\"name\": \"nsg\", \"securityRules\": [",
		nbig ? "]}, " : "");
	for (unsigned int i = 0, n = (unsigned int)l.n * 3 / 2; i < n; i++) {
		bool src = gen_chance(&r, 1, 2);

		fprintf(f, "%s{\"name\": \"r%u\", \"priority\": %u, \"direction\": \"%s\", "
			"\"access\": \"%s\", \"protocol\": \"*\", \"sourcePortRange\": \"*\", "
			"\"destinationPortRange\": \"*\", ", i ? ", " : "", i, 100 + i / 2,
			i % 2 ? "Outbound" : "Inbound", gen_chance(&r, 1, 2) ? "Allow" : "Deny");
		if (nbig && i == 0)
			fprintf(f, "\"sourceAddressPrefix\": \"Big\"");
		else
			trie6_side(f, &r, "source", &l, !src && gen_chance(&r, 1, 2));
		fprintf(f, ", ");
		trie6_side(f, &r, "destination", &l, src && gen_chance(&r, 1, 2));
		fprintf(f, "}");
	}
	fprintf(f, "]}], \"interfaces\": [{\"name\": \"eth0\", \"networkSecurityGroup\": \"nsg\", "
		"\"ipAddresses\": [\"10.1.1.4\", \"fd00:1::4\"]}]}");
	fclose(f);
	prefix_list_free(&l);
	return out;
}
