// SPDX-License-Identifier: MIT
/*
 * The apply transaction in-process (user/apply/): each test runs in a
 * network and mount namespace of its own (Criterion forks a process per
 * test), with a private BPF filesystem, a private record directory and
 * veth interfaces, so nothing it makes outlives it.  Asserted: the
 * kernel's maps (active generation, interface entries), the record, the
 * hooks as the kernel reports them, and that detach leaves nothing.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply.h"
#include "compile.h"
#include "datapath.h"
#include "policy.h"
#include "xnsg_bin.h"

static char dir[32];

static const char *policy_json(const char *port)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "{\"virtualNetwork\": {\"name\": \"v\", \"addressPrefixes\": [\"192.0.2.0/24\"]},"
		 " \"networkSecurityGroups\": [{\"name\": \"n\", \"properties\": {\"securityRules\": ["
		 "  {\"name\": \"AllowWeb\", \"properties\": {\"priority\": 100, \"direction\": \"Inbound\","
		 "   \"access\": \"Allow\", \"protocol\": \"Tcp\", \"sourceAddressPrefix\": \"*\","
		 "   \"sourcePortRange\": \"*\", \"destinationAddressPrefix\": \"*\","
		 "   \"destinationPortRange\": \"%s\"}}]}}],"
		 " \"interfaces\": ["
		 "  {\"name\": \"d0\", \"networkSecurityGroup\": \"n\", \"ipAddresses\": [\"192.0.2.10\"]},"
		 "  {\"name\": \"d1\", \"networkSecurityGroup\": \"n\", \"ipAddresses\": [\"192.0.2.11\"]}]}",
		 port);
	return buf;
}

static void private_world(void)
{
	char path[96];

	if (geteuid() != 0)
		cr_skip_test("needs root (namespaces, BPF)");
	cr_assert_eq(unshare(CLONE_NEWNET | CLONE_NEWNS), 0, "unshare a network and mount namespace");
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "make mounts private");
	snprintf(dir, sizeof(dir), "/tmp/xnsg-apply-XXXXXX");
	cr_assert(mkdtemp(dir), "a private directory");
	snprintf(path, sizeof(path), "%s/bpf", dir);
	mkdir(path, 0700);
	cr_assert_eq(mount("bpf", path, "bpf", 0, "mode=0700"), 0, "a private BPF filesystem");
	snprintf(path, sizeof(path), "%s/bpf/xnsg", dir);
	setenv("XNSG_PIN_DIR", path, 1);
	snprintf(path, sizeof(path), "%s/run", dir);
	setenv("XNSG_STATE_DIR", path, 1);
	/* d1's ifindex is past XNSG_IFINDEX_DIRECT: its entries live in the hash,
	 * d0's in the array (include/xnsg/abi.h). */
	cr_assert_eq(system("ip link add d0 type veth peer name p0 && "
			    "ip link add d1 index 70001 type veth peer name p1 && "
			    "ip link set d0 up && ip link set d1 up"), 0, "veth interfaces d0, d1");
}

static void teardown(void)
{
	char cmd[160];

	if (!*dir)
		return;
	snprintf(cmd, sizeof(cmd), "umount %s/bpf 2>/dev/null; rm -rf %s", dir, dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(apply, .init = private_world, .fini = teardown);

/* Apply the test policy with port `port` (and options o). */
static int apply(const char *port, const struct apply_opts *o)
{
	struct apply_opts none = { 0 };
	struct apply_result r;
	struct compiled *c;
	struct policy *p;
	char file[128];
	FILE *f;
	int err;

	snprintf(file, sizeof(file), "%s/policy.json", dir);
	f = fopen(file, "w");
	cr_assert(f, "write the policy");
	fputs(policy_json(port), f);
	fclose(f);
	cr_assert_eq(apply_load(file, &p, &c), 0, "the test policy loads");
	err = apply_policy(p, c, o ? o : &none, &r);
	compiled_free(c);
	policy_free(p);
	return err;
}

static struct xnsg_active active(void)
{
	struct xnsg_active a = { 0 };
	struct dp dp;

	cr_assert_eq(dp_open_pins(&dp), 0, "the pinned maps open");
	cr_assert_eq(dp_active_read(&dp, &a), 0, "xnsg_active reads");
	dp_close(&dp);
	return a;
}

static bool entry(unsigned int gen, const char *ifname)
{
	struct dp dp;
	bool known;

	cr_assert_eq(dp_open_pins(&dp), 0, "the pinned maps open");
	known = dp_iface_known(&dp, gen, if_nametoindex(ifname));
	dp_close(&dp);
	return known;
}

static bool hooked(const char *ifname)
{
	struct dp_hooks h;
	struct dp dp;

	if (dp_open_pins(&dp))
		return false;
	dp_hooks_query(&dp, if_nametoindex(ifname), &h);
	dp_close(&dp);
	return (h.xdp_mode || h.tc_ingress) && h.tc_egress;
}

static size_t recorded(void)
{
	json_t *st = state_read();
	size_t n = json_array_size(json_object_get(st, "interfaces"));

	json_decref(st);
	return n;
}

/* The record's mark of a retirement left to the next apply: "gen serial",
 * or "" when there is none. */
static const char *retire_mark(void)
{
	static char buf[32];
	json_t *st = state_read(), *m = json_object_get(st, "retire");

	buf[0] = 0;
	if (m)
		snprintf(buf, sizeof(buf), "%lld %lld",
			 (long long)json_integer_value(json_object_get(m, "gen")),
			 (long long)json_integer_value(json_object_get(m, "serial")));
	json_decref(st);
	return buf;
}

Test(apply, first_apply_enforces_and_records)
{
	struct xnsg_active a;
	json_t *st;

	cr_assert_eq(apply("80", NULL), 0, "apply succeeds");
	a = active();
	cr_expect_eq(a.gen, 1, "a first apply writes and flips to generation 1 (got %u)", a.gen);
	cr_expect_eq(a.serial, 1, "apply serial 1 (got %u)", a.serial);
	cr_expect(entry(1, "d0") && entry(1, "d1"), "both interfaces have entries in generation 1");
	cr_expect_str_eq(retire_mark(), "", "generation 0 retired by the first apply itself: nothing left to retire");
	cr_expect(hooked("d0") && hooked("d1"), "the kernel reports our hooks on d0 and d1");
	cr_expect_eq(recorded(), 2, "the record lists two interfaces");
	st = apply_status();
	cr_assert(st, "status reports");
	cr_expect(json_is_true(json_object_get(st, "applied")), "status: applied");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(st, "interfaces"), 0), "state")),
			 "enforcing", "status: d0 is enforcing");
	json_decref(st);
}

Test(apply, update_flips_and_clears_the_old_generation)
{
	struct apply_opts reset = { .reset_flows = true };
	struct xnsg_active a;
	json_t *st;
	char *h1;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	st = apply_status();
	h1 = strdup(json_string_value(json_object_get(st, "hash")));
	json_decref(st);
	/* Flows re-evaluated: the old generation retired after the grace
	 * period, by this apply (§8 step 9). */
	cr_assert_eq(apply("81", &reset), 0, "update");
	a = active();
	cr_expect_eq(a.gen, 0, "the update flips to generation 0 (got %u)", a.gen);
	cr_expect_eq(a.serial, 2, "apply serial 2 (got %u)", a.serial);
	cr_expect(!entry(1, "d0") && !entry(1, "d1"),
		  "the old generation's entries are cleared (array and hash)");
	cr_expect(entry(0, "d0") && entry(0, "d1"), "the new generation's are written (array and hash)");
	cr_expect_str_eq(retire_mark(), "", "nothing left to retire");
	/* Otherwise the next apply clears it when it writes it. */
	cr_assert_eq(apply("80", NULL), 0, "update without --reset-flows");
	cr_expect(entry(0, "d0") && entry(1, "d0"), "generation 0 kept until an apply writes it");
	cr_expect_str_eq(retire_mark(), "0 3", "its retirement left to the next apply");
	cr_assert_eq(apply("81", NULL), 0, "the next apply");
	cr_expect(entry(0, "d0") && entry(0, "d1"), "it wrote generation 0 again");
	cr_expect_str_eq(retire_mark(), "1 4", "and left generation 1's retirement to the next");
	st = apply_status();
	cr_expect_str_neq(json_string_value(json_object_get(st, "hash")), h1, "status names the new policy");
	json_decref(st);
	free(h1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(apply(i % 2 ? "81" : "80", NULL), 0, "repeated apply %d in one process", i);
	cr_expect_eq(active().serial, 8, "eight applies made (serial %u)", active().serial);
}

/* The first line of `step` after line `from` in the steps file
 * (XNSG_TEST_STEPS), -1 if absent. */
static int step_after(const char *file, const char *step, int from)
{
	char line[64];
	FILE *f = fopen(file, "r");
	int n = 0, at = -1;

	cr_assert(f, "the steps were traced");
	while (at < 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (n > from && !strcmp(line, step))
			at = n;
		n++;
	}
	fclose(f);
	return at;
}

/* The line of `step` in the steps file, -1 if absent. */
static int step_at(const char *file, const char *step)
{
	return step_after(file, step, -1);
}

/* Whether steps a and b were traced, a first. */
static bool traced_before(const char *file, const char *a, const char *b)
{
	int at = step_at(file, a);

	return at >= 0 && at < step_at(file, b);
}

/* Whether `step` was traced by the apply of port (options o). */
/* The apply of port (options o), its steps traced into a fresh steps file
 * (its path into file), and, with record_fail_at, every write of the
 * record failing after that step (XNSG_TEST_RECORD_FAIL_AT): apply()'s
 * result. */
static int apply_traced(const char *port, const struct apply_opts *o, const char *record_fail_at,
			char file[96])
{
	int err;

	snprintf(file, 96, "%s/steps", dir);
	unlink(file);
	setenv("XNSG_TEST_STEPS", file, 1);
	if (record_fail_at)
		setenv("XNSG_TEST_RECORD_FAIL_AT", record_fail_at, 1);
	err = apply(port, o);
	unsetenv("XNSG_TEST_RECORD_FAIL_AT");
	unsetenv("XNSG_TEST_STEPS");
	apply_record_mend();
	return err;
}

static bool apply_traces(const char *port, const struct apply_opts *o, const char *step)
{
	char file[96];

	cr_assert_eq(apply_traced(port, o, NULL, file), 0, "apply (port %s)", port);
	return step_at(file, step) >= 0;
}

/*
 * The grace period runs on a thread beside the record's write: the old
 * generation's counters and entries are touched, and the flows
 * re-evaluated, only once it has ended (no packet judged by the old
 * tables still running), and it starts after the flip.  Its thread traces
 * "grace-period" when the kernel's wait returned; without the join,
 * "retiring" comes first (the wait takes milliseconds, the main thread's
 * work before it microseconds).
 */
Test(apply, old_generation_retired_only_after_the_grace_period)
{
	struct apply_opts reset = { .reset_flows = true };
	char file[96];
	int flip, grace, retiring, flows;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	cr_assert_eq(apply_traced("81", &reset, NULL, file), 0, "update re-evaluating the flows");
	flip = step_at(file, "flipped");
	grace = step_after(file, "grace-period", flip);
	retiring = step_at(file, "retiring");
	flows = step_at(file, "flows");
	cr_assert(flip >= 0 && grace >= 0 && retiring >= 0 && flows >= 0,
		  "every step traced (flipped %d, grace-period %d, retiring %d, flows %d)", flip, grace,
		  retiring, flows);
	cr_expect_lt(flip, grace, "the grace period ends after the flip");
	cr_expect_lt(grace, retiring, "the old generation is retired after the grace period");
	cr_expect_lt(grace, flows, "the flows are re-evaluated after the grace period");
	cr_expect(!entry(1, "d0"), "the old generation's entries are cleared");
}

/* Slot `rule` of generation gen (of apply serial), and `packets` counted
 * into it on every CPU (as the datapath would: cpu + packets on CPU cpu). */
static __u32 count_into_gen(__u32 gen, __u32 serial, const char *rule, __u64 packets)
{
	struct xnsg_active a = { .gen = gen, .serial = serial };
	json_t *slots = apply_enforced_slots(a.gen, a.serial), *j;
	int ncpu = libbpf_num_possible_cpus();
	struct xnsg_rule_counters *v;
	__u32 s = UINT32_MAX, key;
	size_t i;
	struct dp dp;

	json_array_foreach(slots, i, j)
		if (strstr(json_string_value(j), rule))
			s = (__u32)i;
	json_decref(slots);
	cr_assert_neq(s, UINT32_MAX, "%s has a slot", rule);
	s = XNSG_RULE_STAT(a.gen, s);
	key = s / XNSG_RULE_COUNTERS;
	cr_assert_eq(dp_open_pins(&dp), 0, "the pinned maps open");
	v = calloc((size_t)ncpu, sizeof(*v));
	cr_assert_eq(bpf_map_lookup_elem(dp.fd_rule_stats, &key, v), 0, "read the counters");
	for (int c = 0; c < ncpu; c++) {
		v[c].c[s % XNSG_RULE_COUNTERS].packets += (__u64)c + packets;
		v[c].c[s % XNSG_RULE_COUNTERS].bytes += 100 * ((__u64)c + packets);
	}
	cr_assert_eq(bpf_map_update_elem(dp.fd_rule_stats, &key, v, BPF_ANY), 0, "count");
	free(v);
	dp_close(&dp);
	return (__u32)(ncpu * (ncpu - 1) / 2) + (__u32)ncpu * (__u32)packets;
}

/* count_into_gen() of the active generation. */
static __u32 count_into(const char *rule, __u64 packets)
{
	struct xnsg_active a = active();

	return count_into_gen(a.gen, a.serial, rule, packets);
}

static json_int_t stat_of(const char *rule, const char *what)
{
	json_t *st = apply_stats(), *j;
	json_int_t n = -1;
	size_t i;

	cr_assert(st, "stats report");
	json_array_foreach(json_object_get(st, "rules"), i, j)
		if (!strcmp(json_string_value(json_object_get(j, "rule")), rule) &&
		    !strcmp(json_string_value(json_object_get(j, "direction")), "Inbound"))
			n = json_integer_value(json_object_get(j, what));
	json_decref(st);
	return n;
}

Test(apply, rule_counters_carry_across_updates_exactly)
{
	json_int_t web, deny;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	cr_expect_eq(stat_of("AllowWeb", "packets"), 0, "a first apply counts from zero");
	web = count_into("AllowWeb", 5);
	deny = count_into("DenyAllInBound", 1000);
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "stats reads what was counted");
	cr_assert_eq(apply("81", NULL), 0, "update (generation 0)");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "AllowWeb's count carries over");
	cr_expect_eq(stat_of("AllowWeb", "bytes"), 100 * web, "and its bytes");
	cr_expect_eq(stat_of("DenyAllInBound", "packets"), deny, "DenyAllInBound's too");
	web += count_into("AllowWeb", 7);
	cr_assert_eq(apply("80", NULL), 0, "update (generation 1 again, counts of two applies back in it)");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "carried once, not added to the stale count");
	cr_expect_eq(stat_of("DenyAllInBound", "packets"), deny, "DenyAllInBound carried once");
	cr_assert_eq(apply("80", NULL), 0, "an update that counted nothing since");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "still the same count");
}

/*
 * An update that re-evaluates no flow carries the counts at once, with no
 * grace period; what a packet the old tables judged, still running, counts
 * into the old slots after that is carried by the next apply, once a grace
 * period has passed (§8 step 9), and only once.
 */
Test(apply, an_update_carries_at_once_and_the_next_apply_carries_the_rest)
{
	char file[96];
	json_int_t web;
	__u32 late;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	web = count_into("AllowWeb", 5);
	cr_expect(apply_traces("81", NULL, "flipped"), "an update");
	snprintf(file, sizeof(file), "%s/steps", dir);
	cr_expect_lt(step_after(file, "grace-period", step_at(file, "flipped")), 0,
		     "waits for no grace period after its flip");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "its counts carried at once");
	cr_expect_str_eq(retire_mark(), "1 2", "generation 1's retirement left to the next apply");
	late = count_into_gen(1, 1, "AllowWeb", 2); /* a packet of the old tables, late */
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "the late count is not in the active slots yet");
	cr_expect(apply_traces("80", NULL, "carried-pending"), "the next apply finishes the retirement");
	cr_expect(traced_before(file, "grace-period", "carried-pending"),
		     "after a grace period");
	cr_expect(traced_before(file, "carried-pending", "staged"),
		     "before it writes the old generation");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web + late, "the late count carried too");
	cr_expect_str_eq(retire_mark(), "0 3", "and generation 0's is left to the next");
	cr_expect(apply_traces("80", NULL, "tables-kept"), "an apply that keeps the tables");
	cr_expect_str_eq(retire_mark(), "", "finishes it and leaves none");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web + late, "carried once, not twice");
	cr_assert_eq(apply("81", NULL), 0, "another update");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web + late, "still the same count");
}

/* A carry that fails part way (here: its counts moved, the old slots not
 * zeroed) is not repeated by the next apply: the mark says carry:false,
 * and the count is not doubled. */
Test(apply, a_carry_that_fails_part_way_is_not_repeated)
{
	json_int_t web;
	json_t *st;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	web = count_into("AllowWeb", 5);
	setenv("XNSG_TEST_CARRY_ZERO_FAIL", "1", 1);
	cr_assert_eq(apply("81", NULL), 0, "an update whose carry fails after the move (a warning)");
	unsetenv("XNSG_TEST_CARRY_ZERO_FAIL");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "the counts moved");
	st = state_read();
	cr_expect(json_is_false(json_object_get(json_object_get(st, "retire"), "carry")),
		  "the mark says the next apply carries nothing");
	json_decref(st);
	cr_assert_eq(apply("80", NULL), 0, "the next apply");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "counted once, not twice (%lld)",
		     (long long)stat_of("AllowWeb", "packets"));
}

/* The same carry, of the rest of an earlier update's retirement, in an
 * apply that then fails before any record of its own (one that keeps the
 * tables: no staging zeroes the old slots meanwhile): the record says
 * carry:false at once, and the apply after it does not move the late
 * counts a second time. */
Test(apply, a_pending_carry_that_fails_part_way_is_not_repeated)
{
	char file[96];
	json_int_t web;
	json_t *st;
	__u32 late;

	setenv("XNSG_KEEPER", "off", 1);
	cr_assert_eq(apply("80", NULL), 0, "first apply");
	web = count_into("AllowWeb", 5);
	cr_assert_eq(apply("81", NULL), 0, "an update: generation 1's retirement left to the next");
	late = count_into_gen(1, 1, "AllowWeb", 2); /* a packet of the old tables, late */
	setenv("XNSG_TEST_CARRY_ZERO_FAIL", "1", 1);
	cr_expect_neq(apply_traced("81", NULL, "carried-pending", file), 0,
		      "an apply whose pending carry fails after the move, then its record");
	unsetenv("XNSG_TEST_CARRY_ZERO_FAIL");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web + late, "the late counts moved");
	st = state_read();
	cr_expect(json_is_false(json_object_get(json_object_get(st, "retire"), "carry")),
		  "the record says the next apply carries nothing");
	json_decref(st);
	cr_assert_eq(apply("80", NULL), 0, "the next apply");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web + late, "counted once, not twice (%lld)",
		     (long long)stat_of("AllowWeb", "packets"));
	unsetenv("XNSG_KEEPER");
}

/* A first apply retires generation 0 (the pass-all entries of the hooks
 * attached before its flip) itself, after a grace period: the apply after
 * it neither writes generation 0 under a reader nor waits for one. */
Test(apply, a_first_apply_retires_generation_0_after_its_readers)
{
	char file[96];
	int g;

	cr_assert_eq(apply_traced("80", NULL, NULL, file), 0, "first apply");
	g = step_after(file, "grace-period", step_at(file, "flipped"));
	cr_expect(g >= 0 && g < step_at(file, "retired"), "a grace period after the flip, then the retirement");
	cr_expect_str_eq(retire_mark(), "", "none left to the next apply");
	cr_expect(!apply_traces("81", NULL, "carried-pending"), "the next apply has nothing to finish");
	cr_expect_lt(step_after(file, "grace-period", -1), 0, "and waits for no grace period");
	cr_expect_eq(active().gen, 0, "it wrote generation 0 and flipped to it");
}

/* The record cannot be written after the flip: its mark would be lost, and
 * no apply would finish the retirement, so this one does all of it, after
 * a grace period (§8 step 9). */
Test(apply, a_record_lost_after_the_flip_retires_the_old_generation_at_once)
{
	char file[96];
	json_int_t web;
	int err, g;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	web = count_into("AllowWeb", 5);
	err = apply_traced("81", NULL, "flipped", file);
	cr_expect_neq(err, 0, "the apply reports the record it could not write");
	cr_expect_eq(active().gen, 0, "the new policy is in force (flipped)");
	g = step_after(file, "grace-period", step_at(file, "flipped"));
	cr_expect(g >= 0 && g < step_at(file, "retiring"), "a grace period after the flip, then the retirement");
	cr_expect_geq(step_at(file, "retired"), 0, "all of it");
	cr_expect_lt(step_at(file, "carried"), 0, "not the half left to the next apply");
	cr_expect(!entry(1, "d0") && !entry(1, "d1"), "the old generation's entries are cleared");
	cr_assert_eq(apply("80", NULL), 0, "the next apply");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "the counts were carried, once");
}

/* A first apply whose record cannot be written after its flip: the same
 * whole retirement, and the next apply completes the record. */
Test(apply, a_first_apply_whose_record_is_lost_still_retires_generation_0)
{
	char file[96];
	int err;

	err = apply_traced("80", NULL, "flipped", file);
	cr_expect_neq(err, 0, "the apply reports the record it could not write");
	cr_expect(traced_before(file, "grace-period", "retired"), "generation 0 retired after a grace period");
	cr_expect(entry(1, "d0") && hooked("d0"), "the policy enforced");
	cr_assert_eq(apply("80", NULL), 0, "the next apply");
	cr_expect_eq(recorded(), 2, "records both interfaces");
}

/* An early grace period covers the flip of the mark it was begun for:
 * the same serial at another time (serials restart after detach --all)
 * is another flip, which the apply waits for itself. */
static int grace_periods_of_next_apply(bool same_flip)
{
	char file[96], line[64];
	json_t *st;
	FILE *f;
	int n = 0;

	snprintf(file, sizeof(file), "%s/steps", dir);
	unlink(file);
	setenv("XNSG_TEST_STEPS", file, 1);
	apply_grace_begin(); /* joined, and so traced, by the apply */
	if (!same_flip) {
		st = state_read();
		json_object_set_new(json_object_get(st, "retire"), "stamp", json_integer(1));
		cr_assert_eq(state_write(st), 0, "the mark rewritten");
		json_decref(st);
	}
	cr_assert_eq(apply("80", NULL), 0, "the apply after");
	unsetenv("XNSG_TEST_STEPS");
	f = fopen(file, "r");
	cr_assert(f, "the steps were traced");
	while (fgets(line, sizeof(line), f))
		n += !strcmp(line, "grace-period\n");
	fclose(f);
	return n;
}

Test(apply, an_early_grace_period_covers_only_the_flip_it_was_begun_for)
{
	cr_assert_eq(apply("80", NULL), 0, "first apply");
	cr_assert_eq(apply("81", NULL), 0, "an update leaves a retirement");
	cr_expect_eq(grace_periods_of_next_apply(true), 1, "the early grace period covers it: no other");
	cr_assert_eq(apply("81", NULL), 0, "an update leaves another");
	cr_expect_eq(grace_periods_of_next_apply(false), 2,
		     "a mark of the same serial from another flip: a grace period of the apply's own");
}

/* Whether the record's mark says a keeper keeps its flip's grace period;
 * the mark's serial and stamp. */
static bool mark_keeper(json_int_t *serial, json_int_t *stamp)
{
	json_t *st = state_read(), *m = json_object_get(st, "retire");
	bool keeper = json_is_true(json_object_get(m, "keeper"));

	*serial = json_integer_value(json_object_get(m, "serial"));
	*stamp = json_integer_value(json_object_get(m, "stamp"));
	json_decref(st);
	return keeper;
}

/* The stamp file of the keepers of serial's parity (keeper.c). */
static char *stamp_path(json_int_t serial)
{
	return state_path(serial & 1 ? ".grace1" : ".grace0");
}

/* The keeper's stamp as it names a flip of serial's parity, "" while
 * there is none. */
static const char *stamp_text(json_int_t serial)
{
	static char buf[64];
	char *path = stamp_path(serial);
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	free(path);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* The keepers this test process started (its children) reaped. */
static void reap_keepers(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * An update starts a keeper after its flip (the binary again, as
 * xnsg-grace), which holds the keeper lock while it waits for the grace
 * period and then stamps the flip; the next apply, finding the stamp,
 * waits for none of its own - yet finishes the retirement as before.
 */
Test(apply, a_keeper_keeps_an_updates_grace_period_for_the_next_apply)
{
	json_int_t serial, stamp;
	char file[96], want[64];

	apply_keeper_exe = test_xnsg_bin();
	cr_assert_eq(apply("80", NULL), 0, "first apply");
	cr_assert_eq(apply("81", NULL), 0, "an update leaves a retirement");
	cr_assert(mark_keeper(&serial, &stamp), "its mark says a keeper keeps its grace period");
	cr_expect(apply_grace_kept(serial, stamp), "the keeper ends, having kept it");
	snprintf(want, sizeof(want), "%lld %lld", (long long)serial, (long long)stamp);
	cr_expect_str_eq(stamp_text(serial), want, "its stamp names that flip");
	cr_assert_eq(apply_traced("80", NULL, NULL, file), 0, "the next apply");
	cr_expect(traced_before(file, "grace-kept", "carried-pending"),
		  "takes the keeper's grace period and finishes the retirement");
	cr_expect_lt(step_at(file, "grace-period"), 0, "and waits for none of its own");
	cr_expect_str_eq(retire_mark(), "0 3", "its own retirement left to the next in turn");
	cr_expect(mark_keeper(&serial, &stamp), "with a keeper of its own");
	cr_expect(apply_grace_kept(serial, stamp));
	reap_keepers();
	apply_keeper_exe = NULL;
}

/* A keeper that ends without its stamp (here one that does nothing), or a
 * stamp of another flip: the next apply waits for a grace period itself. */
Test(apply, a_keeper_without_the_flips_stamp_leaves_the_wait_to_the_next_apply)
{
	json_int_t serial, stamp;
	char file[96], *path;
	FILE *f;

	apply_keeper_exe = "/bin/true";
	cr_assert_eq(apply("80", NULL), 0, "first apply");
	cr_assert_eq(apply("81", NULL), 0, "an update");
	cr_assert(mark_keeper(&serial, &stamp), "a keeper was started");
	cr_expect(!apply_grace_kept(serial, stamp), "it ended (its lock free) stamping nothing");
	path = stamp_path(serial);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, "%lld %lld\n", (long long)serial, (long long)stamp + 1); /* another flip's */
	fclose(f);
	free(path);
	cr_assert_eq(apply_traced("80", NULL, NULL, file), 0, "the next apply");
	cr_expect_lt(step_at(file, "grace-kept"), 0, "finds no stamp of that flip");
	cr_expect(traced_before(file, "grace-period", "carried-pending"),
		  "so waits for a grace period before it finishes the retirement");
	reap_keepers();
	apply_keeper_exe = NULL;
}

/* XNSG_KEEPER=off: no keeper, and the mark says so. */
Test(apply, keepers_off_leave_the_wait_to_the_next_apply)
{
	json_int_t serial, stamp;
	char file[96];

	apply_keeper_exe = test_xnsg_bin();
	setenv("XNSG_KEEPER", "off", 1);
	cr_assert_eq(apply("80", NULL), 0, "first apply");
	cr_assert_eq(apply("81", NULL), 0, "an update");
	cr_expect(!mark_keeper(&serial, &stamp), "the mark names no keeper");
	cr_assert_eq(apply_traced("80", NULL, NULL, file), 0, "the next apply");
	cr_expect(traced_before(file, "grace-period", "carried-pending"), "waits itself");
	unsetenv("XNSG_KEEPER");
	apply_keeper_exe = NULL;
}

/* A flow on ifindex put straight into the pinned IPv4 flow table; whether
 * it is there. */
static bool flow_at(unsigned int ifindex, bool put)
{
	struct xnsg_ct4_key k = { .addr_a = { 192, 0, 2, 10 }, .addr_b = { 198, 51, 100, 1 },
				  .ifindex = ifindex, .port_a = 80, .port_b = 40000, .proto = 6 };
	struct xnsg_ct_val v = { 0 };
	struct dp dp;
	bool there;

	cr_assert_eq(dp_open_pins(&dp), 0, "the pinned maps open");
	if (put)
		cr_assert_eq(bpf_map_update_elem(dp.fd_ct4, &k, &v, BPF_ANY), 0, "put a flow");
	there = !bpf_map_lookup_elem(dp.fd_ct4, &k, &v);
	dp_close(&dp);
	return there;
}

/*
 * docs/DESIGN.md §8 step 10: an apply that re-evaluates no flow walks the
 * flow table only when an interface of the record is gone, to delete its
 * flows; the walk is O(flows) and was made by every apply, CNI ADDs too.
 */
Test(apply, the_flow_table_is_walked_only_when_an_interface_is_gone)
{
	unsigned int d1;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	d1 = if_nametoindex("d1");
	cr_assert(flow_at(d1, true) && flow_at(4242, true), "a flow on d1, one on no interface");
	cr_assert_eq(apply("81", NULL), 0, "an update, no interface gone");
	cr_expect(flow_at(4242, false), "no walk: the flow of no interface is left to idle out");
	cr_expect(flow_at(d1, false), "d1's flow stays");
	cr_assert_eq(system("ip link del d1"), 0, "d1 goes");
	cr_assert_eq(apply("80", NULL), 0, "an apply with a recorded interface gone");
	cr_expect(!flow_at(d1, false), "the walk deleted d1's flow");
	cr_expect(!flow_at(4242, false), "and the other one of no interface");
}

/* A record as an earlier version wrote it: the active generation's slot
 * names inside it ("slots"), no file beside it. */
static void record_of_an_earlier_version(void)
{
	struct xnsg_active a = active();
	json_t *st = state_read(), *g = json_array_get(json_object_get(st, "gens"), a.gen);
	char sfx[24], *file;

	cr_assert(g, "the record has the active generation");
	json_object_set_new(g, "slots", state_gen_slots(g, a.gen));
	cr_assert_gt(json_array_size(json_object_get(g, "slots")), 0, "it has slot names");
	cr_assert_eq(state_write(st), 0, "the record is written back");
	json_decref(st);
	snprintf(sfx, sizeof(sfx), ".gen%u.slots", a.gen);
	file = state_path(sfx);
	cr_assert_eq(unlink(file), 0, "%s is removed", file);
	free(file);
}

Test(apply, slot_names_of_an_earlier_record_still_carry_counts)
{
	json_int_t web;

	cr_assert_eq(apply("80", NULL), 0, "first apply");
	web = count_into("AllowWeb", 3);
	record_of_an_earlier_version();
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "stats reads the names in the record");
	cr_assert_eq(apply("81", NULL), 0, "update over the earlier record");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "AllowWeb's count carries over");
}

Test(apply, one_interface_only)
{
	struct apply_opts o = { .only = "d0" };

	cr_assert_eq(apply("80", &o), 0, "apply -i d0");
	cr_expect(hooked("d0"), "d0 is hooked");
	cr_expect(!hooked("d1"), "d1 is left alone");
	cr_expect_eq(recorded(), 1, "the record lists d0 only");
	o.only = "d1";
	cr_assert_eq(apply("81", &o), 0, "apply -i d1");
	cr_expect(hooked("d0") && hooked("d1"), "both hooked now");
	cr_expect(entry(active().gen, "d0"), "d0 is judged by the new generation too");
}

/*
 * docs/DESIGN.md §8 "Tables kept": an apply whose tables are those of the
 * active generation (one more interface, a re-apply) writes only the new
 * interfaces' entries into it: no flip (the serial stays), no grace
 * period; one whose rules differ flips as before.
 */
Test(apply, an_added_interface_keeps_the_active_tables)
{
	struct apply_opts o = { .only = "d0" };
	json_int_t web;

	cr_assert_eq(apply("80", &o), 0, "apply -i d0");
	web = count_into("AllowWeb", 3);
	o.only = "d1";
	cr_expect(apply_traces("80", &o, "tables-kept"), "apply -i d1 of the same rules keeps the tables");
	cr_expect_eq(active().serial, 1, "no flip (serial %u)", active().serial);
	cr_expect(entry(1, "d1") && entry(1, "d0"), "d1's entry is in the active generation, beside d0's");
	cr_expect(!entry(0, "d1"), "nothing of d1 in the idle one");
	cr_expect(hooked("d1"), "d1 is hooked");
	cr_expect_eq(recorded(), 2, "the record lists both");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "the counts stay");
	cr_expect(apply_traces("80", NULL, "tables-kept"), "a re-apply keeps them too");
	cr_expect_eq(active().serial, 1, "still no flip");
	cr_expect(apply_traces("81", NULL, "flipped"), "other rules flip");
	cr_expect_eq(active().serial, 2, "serial 2 after the flip (got %u)", active().serial);
	cr_expect(entry(0, "d0") && entry(0, "d1"), "the new generation has both");
	cr_expect_eq(stat_of("AllowWeb", "packets"), web, "the counts carried by the flip");
}

/* An XDP program that is not xnsg's (XDP_PASS) on ifname, generic mode. */
static void foreign_xdp(const char *ifname)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign", "GPL", insns, 2, NULL);

	cr_assert_geq(fd, 0, "load a foreign XDP program");
	cr_assert_eq(bpf_xdp_attach((int)if_nametoindex(ifname), fd, XDP_FLAGS_SKB_MODE, NULL), 0,
		     "attach it to %s", ifname);
	close(fd);
}

Test(apply, a_failed_attach_of_kept_tables_takes_its_entry_back)
{
	struct apply_opts o = { .only = "d0" };
	json_t *st;
	char *h;

	cr_assert_eq(apply("80", &o), 0, "apply -i d0");
	st = apply_status();
	h = strdup(json_string_value(json_object_get(st, "hash")) ?: "");
	json_decref(st);
	foreign_xdp("d1");
	o.only = "d1";
	/* "80-80": another file, the same tables. */
	cr_expect_neq(apply("80-80", &o), 0, "apply -i d1 fails: d1 has an XDP program of another");
	cr_expect(!entry(1, "d1"), "d1's entry is taken back from the active generation");
	cr_expect(entry(1, "d0"), "d0's stays");
	cr_expect_eq(active().serial, 1, "no flip");
	cr_expect_eq(recorded(), 1, "the record lists d0 alone");
	st = apply_status();
	cr_expect_str_eq(json_string_value(json_object_get(st, "hash")) ?: "", h,
			 "status names the policy as before");
	cr_expect(json_is_true(json_object_get(st, "applied")), "and it is applied");
	json_decref(st);
	cr_assert_eq(system("ip link set d1 xdpgeneric off"), 0, "remove the foreign program");
	cr_expect(apply_traces("80-80", &o, "tables-kept"), "apply -i d1 again keeps the tables");
	cr_expect(entry(1, "d1") && hooked("d1"), "d1 is filtered");
	st = apply_status();
	cr_expect_str_neq(json_string_value(json_object_get(st, "hash")) ?: "", h,
			  "status names the policy file applied now");
	json_decref(st);
	free(h);
}

Test(apply, detach_one_then_all_leaves_nothing)
{
	char pins[128], rec[160];
	json_t *names = json_array();
	struct stat sb;

	cr_assert_eq(apply("80", NULL), 0, "apply");
	cr_assert_eq(apply_detach("d1", names), 0, "detach d1");
	cr_expect(!hooked("d1") && hooked("d0"), "d1 unhooked, d0 still hooked");
	cr_expect(!entry(active().gen, "d1"), "d1's entries are gone");
	cr_expect_eq(recorded(), 1, "the record lists d0 only");
	cr_assert_eq(apply_detach(NULL, names), 0, "detach --all");
	cr_expect_eq(json_array_size(names), 2, "two interfaces reported detached");
	snprintf(pins, sizeof(pins), "%s/bpf/xnsg", dir);
	cr_expect_neq(stat(pins, &sb), 0, "the pin directory is gone");
	snprintf(rec, sizeof(rec), "%s", state_path(".json"));
	cr_expect_neq(stat(rec, &sb), 0, "the record is gone");
	for (int g = 0; g < XNSG_GENS; g++) {
		char sfx[24], *file;

		snprintf(sfx, sizeof(sfx), ".gen%d.slots", g);
		file = state_path(sfx);
		cr_expect_neq(stat(file, &sb), 0, "%s is gone", file);
		free(file);
	}
	json_decref(names);
}

Test(apply, detach_without_record_finds_the_hooks)
{
	json_t *names = json_array();
	char pins[128];
	struct stat sb;

	cr_assert_eq(apply("80", NULL), 0, "apply");
	state_remove(); /* as a crash or an operator might */
	cr_assert_eq(apply_detach(NULL, names), 0, "detach --all with no record");
	cr_expect(!hooked("d0") && !hooked("d1"), "the hooks were found in the kernel and removed");
	snprintf(pins, sizeof(pins), "%s/bpf/xnsg", dir);
	cr_expect_neq(stat(pins, &sb), 0, "the pin directory is gone");
	json_decref(names);
}

Test(apply, state_paths_of_two_pin_dirs_differ)
{
	char *a, *b;

	setenv("XNSG_PIN_DIR", "/x/a_b", 1);
	a = state_path(".json");
	setenv("XNSG_PIN_DIR", "/x/a/b", 1);
	b = state_path(".json");
	cr_expect_str_neq(a, b, "/x/a_b and /x/a/b have different records");
	free(a);
	free(b);
}

/* ---- containers (the CNI plugin's transactions, docs/DESIGN.md §12) ---- */

/*
 * A policy with no interfaces of its own: its ASGs are filled by containers.
 * Written once per test (a test's processes forked after the first call
 * inherit the name): rewriting it while a concurrent ADD reads it would
 * hand that ADD an empty file.
 */
static const char *container_policy(void)
{
	static char file[128];
	FILE *f;

	if (file[0])
		return file;
	snprintf(file, sizeof(file), "%s/containers.json", dir);
	f = fopen(file, "w");
	cr_assert(f, "write the container policy");
	fputs("{\"virtualNetwork\": {\"name\": \"v\", \"addressPrefixes\": [\"192.0.2.0/24\"]},"
	      " \"applicationSecurityGroups\": {\"Web\": [], \"Db\": []},"
	      " \"networkSecurityGroups\": [{\"name\": \"n\", \"securityRules\": ["
	      "  {\"name\": \"AllowWebToDb\", \"priority\": 100, \"direction\": \"Inbound\","
	      "   \"access\": \"Allow\", \"protocol\": \"Tcp\", \"sourceApplicationSecurityGroups\": [\"Web\"],"
	      "   \"sourcePortRange\": \"*\", \"destinationApplicationSecurityGroups\": [\"Db\"],"
	      "   \"destinationPortRange\": \"8080\"}]}], \"interfaces\": []}", f);
	fclose(f);
	return file;
}

/* ADD container `n` (its veth dN, address 192.0.2.(20+n)) into asg. */
static int container_add(int n, const char *asg)
{
	char key[32], veth[16], addr[16];
	struct apply_container ct = { .key = key, .policy = container_policy(),
				      .ingress = APPLY_INGRESS_TC };
	struct apply_result r;
	int why = 0, err;

	snprintf(key, sizeof(key), "net/c%d/eth0", n);
	snprintf(veth, sizeof(veth), "d%d", n);
	snprintf(addr, sizeof(addr), "192.0.2.%d", 20 + n);
	ct.iface = json_pack("{s:s, s:s, s:s, s:[s], s:[s]}", "name", veth, "attach", "peer",
			     "networkSecurityGroup", "n", "ipAddresses", addr,
			     "applicationSecurityGroups", asg);
	err = apply_container_add(&ct, &r, &why);
	json_decref(ct.iface);
	return err;
}

static int container_del(int n)
{
	char key[32];
	int why;

	snprintf(key, sizeof(key), "net/c%d/eth0", n);
	return apply_container_del(container_policy(), key, NULL, &why);
}

static size_t ncontainers(void)
{
	json_t *ov = overlay_read();
	size_t n = json_array_size(json_object_get(ov, "containers"));

	json_decref(ov);
	return n;
}

static size_t asg_members(const char *name)
{
	struct compiled *c;
	struct policy *p;
	size_t n = 0;

	cr_assert_eq(apply_load(container_policy(), &p, &c), 0, "the merged policy loads");
	for (size_t i = 0; i < p->nasgs; i++)
		if (!strcmp(p->asgs[i].name, name))
			n = p->asgs[i].members.n;
	compiled_free(c);
	policy_free(p);
	return n;
}

Test(apply, container_add_del_leaves_nothing)
{
	struct apply_result r;
	struct stat sb;
	char pins[128], *ov;

	cr_assert_eq(container_add(0, "Web"), 0, "ADD c0");
	cr_expect(hooked("d0") && !hooked("d1"), "only c0's veth is hooked");
	cr_assert_eq(container_add(1, "Db"), 0, "ADD c1");
	cr_expect(hooked("d0") && hooked("d1"), "both veths hooked");
	cr_expect(entry(active().gen, "d0") && entry(active().gen, "d1"),
		  "both judged by the active generation");
	cr_expect_eq(asg_members("Web"), 1, "Web holds c0");
	cr_expect_eq(asg_members("Db"), 1, "Db holds c1");
	cr_assert_eq(apply_file(container_policy(), &(struct apply_opts){ 0 }, &r, NULL, NULL), 0,
		     "a full apply of the file");
	cr_expect_eq(r.ninterfaces, 2, "it keeps both containers (%zu interfaces)", r.ninterfaces);
	cr_assert_eq(container_del(0), 0, "DEL c0");
	cr_expect(!hooked("d0") && hooked("d1"), "c0's veth unhooked, c1's kept");
	cr_expect_eq(ncontainers(), 1, "one container recorded");
	cr_expect_eq(asg_members("Web"), 0, "Web is empty again");
	cr_expect_eq(container_del(0), 0, "a second DEL of c0 succeeds");
	cr_expect_eq(container_del(7), 0, "DEL of a container never added succeeds");
	cr_assert_eq(container_del(1), 0, "DEL c1");
	cr_expect(!hooked("d1"), "c1's veth unhooked");
	snprintf(pins, sizeof(pins), "%s/bpf/xnsg", dir);
	cr_expect_neq(stat(pins, &sb), 0, "no pins left");
	ov = state_path(".containers.json");
	cr_expect_neq(stat(ov, &sb), 0, "no container record left");
	free(ov);
}

Test(apply, concurrent_container_adds_keep_every_member)
{
	pid_t pids[6];
	int status, ok = 0;

	cr_assert_eq(system("for i in 2 3 4 5 6 7; do ip link add d$i type veth peer name p$i && "
			    "ip link set d$i up || exit 1; done"), 0, "veths d2..d7");
	container_policy(); /* before the fork: no ADD sees it half-written */
	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0, "fork");
		if (!pids[i])
			_exit(container_add(2 + i, i % 2 ? "Db" : "Web") ? 1 : 0);
	}
	for (int i = 0; i < 6; i++)
		if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) && !WEXITSTATUS(status))
			ok++;
	cr_expect_eq(ok, 6, "six concurrent ADDs succeed (%d did)", ok);
	cr_expect_eq(ncontainers(), 6, "six containers recorded (%zu)", ncontainers());
	cr_expect_eq(asg_members("Web"), 3, "Web holds its three");
	cr_expect_eq(asg_members("Db"), 3, "Db holds its three");
	for (int i = 2; i < 8; i++) {
		char veth[8];

		snprintf(veth, sizeof(veth), "d%d", i);
		cr_expect(hooked(veth) && entry(active().gen, veth), "%s hooked and judged", veth);
	}
}
