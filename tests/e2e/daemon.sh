#!/usr/bin/env bash
# End-to-end tests of `xnsg run` (docs/DESIGN.md §13): the daemon in a
# namespace this script creates, real traffic, a real Prometheus scraping
# its metrics.  Every namespace, process, pin and state file it makes is
# removed on exit, failure included; every traffic generator is bounded.
#
#   tests/e2e/daemon.sh [path/to/xnsg] [TEST...]
#
# Topology and traffic helpers: tools/topology.sh (A the workload with
# xnsg, B the client, C a container behind A).
set -u

XNSG=$(realpath "${1:-build/xnsg}")
shift || true
ID="xnsg-dmn-$$"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PROBES="$REPO/tests/e2e/probes.py"
DPID=""
. "$REPO/tools/topology.sh"
topo_init
MPORT=9180 PPORT=9190 # inside namespace A, which is ours alone

# ---- the daemon -----------------------------------------------------------

POLICY="$WORK/policy.json"

# The demo's policy plus a2, an interface that does not exist yet.
write_policy() {
	python3 - "$REPO/examples/demo.json" "$POLICY.tmp" "${1:-}" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["interfaces"].append({"name": "a2", "networkSecurityGroup": "web-nsg",
                        "ipAddresses": ["203.0.113.1"]})
if sys.argv[3] == "open8082":
    r = p["networkSecurityGroups"][0]["properties"]["securityRules"][0]["properties"]
    r["destinationPortRanges"] = ["8080", "8082"]
    del r["destinationPortRange"]
json.dump(p, open(sys.argv[2], "w"), indent=1)
EOF
	chmod 0644 "$POLICY.tmp"
	mv "$POLICY.tmp" "$POLICY" # as editors do: a new file renamed over the old
}

# A listener for sd_notify datagrams (systemd's NOTIFY_SOCKET protocol).
start_notify() {
	rm -f "$WORK/notify.sock" "$WORK/notify.log"
	timeout 600 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n"); f.flush()
' "$WORK/notify.sock" "$WORK/notify.log" &
	BG_PIDS="${BG_PIDS:-} $!"
	for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && return 0; sleep 0.1; done
	return 1
}

# start_daemon [OPTIONS...]: xnsg run in namespace A, its log in
# $WORK/daemon.log; waits for its "running" line.  NOTIFY_SOCKET is
# $WORK/notify.sock, or $DNOTIFY when set (empty: not set).
start_daemon() {
	local notify=${DNOTIFY-$WORK/notify.sock}
	: > "$WORK/daemon.log"
	# Not through A(): a function run in the background is a subshell, and
	# its pid would get the signals, not the daemon's.
	ip netns exec "$NS_A" env -u NOTIFY_SOCKET ${notify:+NOTIFY_SOCKET=$notify} \
		${JSTREAM:+JOURNAL_STREAM=$JSTREAM} "$XNSG" run "$POLICY" "$@" 2>>"$WORK/daemon.log" &
	DPID=$!
	wait_log "running:" 10
}

stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID"
	local rc=$?
	DPID=""
	return $rc
}

# wait_log PATTERN SECONDS [COUNT]: until the log has COUNT (1) lines matching.
wait_log() {
	local n=$((${2:-5} * 10)) count=${3:-1}
	for _ in $(seq "$n"); do
		[ "$(grep -c -- "$1" "$WORK/daemon.log")" -ge "$count" ] && return 0
		sleep 0.1
	done
	echo "no '$1' (x$count) in the daemon's log:"; cat "$WORK/daemon.log"
	return 1
}

lines() { wc -l < "$WORK/daemon.log"; }
count() { grep -c -- "$1" "$WORK/daemon.log"; }
get() { A python3 "$PROBES" get "$@"; }
metrics() { get "http://127.0.0.1:$MPORT/metrics"; }
metric() { metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# ---- tests ----------------------------------------------------------------

test_starts_and_enforces() {
	write_policy
	start_notify || { echo "no notify socket"; return 1; }
	# The daemon's stderr is "the journal" (JOURNAL_STREAM names it): its
	# lines carry syslog priorities.
	: > "$WORK/daemon.log"; JSTREAM=$(stat -c '%d:%i' "$WORK/daemon.log")
	start_daemon --metrics "127.0.0.1:$MPORT" --jsonl "$WORK/flows.jsonl" --interval 1 || return 1
	tcp_ok "$NS_B" 192.0.2.10 8080 || { echo "8080 refused"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "8081 not denied"; return 1; }
	grep -q "READY=1" "$WORK/notify.log" || { cat "$WORK/notify.log"; echo "no READY=1"; return 1; }
	grep -q "STATUS=enforcing" "$WORK/notify.log" || { cat "$WORK/notify.log"; return 1; }
	grep -q '^<6>applied' "$WORK/daemon.log" || { cat "$WORK/daemon.log"; echo "no <6> priority"; return 1; }
	grep -q '^<5>running: enforcing' "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	grep -q 'not on this host yet: a2' "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	x status | grep -q "a0.*enforcing" || { x status; return 1; }
}

test_sighup_reload_under_ping() {
	local out="$WORK/ping.out" before n
	before=$(grep -c "READY=1" "$WORK/notify.log")
	n=$(count "reload (SIGHUP): applied")
	B ping -q -c 200 -i 0.01 -W 1 192.0.2.10 > "$out" 2>&1 &
	local ping=$!
	for i in 1 2 3; do
		kill -HUP "$DPID"
		wait_log "reload (SIGHUP): applied" 10 $((n + i)) || return 1
	done
	wait $ping
	grep -q " 0% packet loss" "$out" || { cat "$out"; echo "packets lost during SIGHUP reloads"; return 1; }
	[ "$(grep -c "RELOADING=1" "$WORK/notify.log")" -ge 3 ] || { cat "$WORK/notify.log"; return 1; }
	[ "$(grep -c "READY=1" "$WORK/notify.log")" -ge $((before + 3)) ] || { cat "$WORK/notify.log"; return 1; }
}

test_file_change_reload_under_ping() {
	local out="$WORK/ping.out" n
	write_policy; cp "$POLICY" "$WORK/p.copy"
	n=$(count "reload (file changed): applied")
	B ping -q -c 200 -i 0.01 -W 1 192.0.2.10 > "$out" 2>&1 &
	local ping=$!
	write_policy open8082
	wait_log "reload (file changed): applied" 10 $((n + 1)) || return 1
	tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20 || { echo "8082 not open after the change"; return 1; }
	# Written in place this time (cp truncates and writes the same inode).
	cp "$WORK/p.copy" "$POLICY"
	wait_log "reload (file changed): applied" 10 $((n + 2)) || return 1
	wait $ping
	grep -q " 0% packet loss" "$out" || { cat "$out"; echo "packets lost during file reloads"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20 || { echo "8082 still open"; return 1; }
}

test_unchanged_file_no_reload() {
	local n; n=$(lines)
	touch "$POLICY"; chmod 0644 "$POLICY"
	sleep 0.8
	[ "$(lines)" -eq "$n" ] || { tail -n +$((n + 1)) "$WORK/daemon.log"; echo "touch reloaded"; return 1; }
}

test_bad_reload_keeps_policy() {
	local n hash ok; n=$(lines); ok=$(count "reload (file changed): applied")
	hash=$(x status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
	printf '{"networkSecurityGroups": [' > "$POLICY.tmp"; chmod 0644 "$POLICY.tmp"; mv "$POLICY.tmp" "$POLICY"
	wait_log "failed" 10 || return 1
	sleep 0.3
	[ "$(tail -n +$((n + 1)) "$WORK/daemon.log" | wc -l)" -eq 1 ] || {
		tail -n +$((n + 1)) "$WORK/daemon.log"; echo "a bad reload is one line"; return 1; }
	tail -1 "$WORK/daemon.log" | grep -q "^<3>reload (file changed) failed: .*JSON syntax error.*still enforcing hash $hash" || {
		tail -1 "$WORK/daemon.log"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 && ! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "policy changed"; return 1; }
	[ "$(metric xnsg_last_reload_success)" = 0 ] || { echo "xnsg_last_reload_success not 0"; return 1; }
	write_policy
	wait_log "reload (file changed): applied" 10 $((ok + 1)) || return 1
	[ "$(metric xnsg_last_reload_success)" = 1 ] || { echo "xnsg_last_reload_success not 1"; return 1; }
}

test_interface_appears_and_goes() {
	tcp_ok "$NS_B" 203.0.113.1 8082 && { echo "203.0.113.1 answers before a2 exists"; return 1; }
	ip link add a2 netns "$NS_A" type veth peer name b2 netns "$NS_B" || return 1
	A ip addr add 203.0.113.1/30 dev a2; B ip addr add 203.0.113.2/30 dev b2
	A ip link set a2 up; B ip link set b2 up
	wait_log "interface a2 appeared: attached" 10 || return 1
	sleep 1 # the link comes up
	tcp_ok "$NS_B" 203.0.113.1 8080 || { echo "8080 on a2 refused"; return 1; }
	! tcp_ok "$NS_B" 203.0.113.1 8082 || { echo "8082 from the Internet not denied on a2"; return 1; }
	x status | grep -q "a2.*enforcing" || { x status; return 1; }
	A ip link del a2
	wait_log "interface a2 is gone: forgotten" 10 || return 1
	! x status | grep -q "a2" || { x status; echo "a2 still in status"; return 1; }
	x status | grep -q "a0.*enforcing" || { x status; return 1; }
}

# The embedded exporter: records for what the tests sent, accounting in
# the metrics, and SIGHUP reopening a file logrotate moved away.
test_flow_logs() {
	local n
	tcp_ok "$NS_B" 192.0.2.10 8080; tcp_ok "$NS_B" 192.0.2.10 8081
	for _ in $(seq 50); do
		grep -q '"rule":"AllowWeb".*"state":"B"\|"state":"B".*"rule":"AllowWeb"' "$WORK/flows.jsonl" 2>/dev/null &&
			grep -q '"rule":"DenyTcp8081FromVnet"' "$WORK/flows.jsonl" && break
		sleep 0.1
	done
	grep -q '"rule":"AllowWeb"' "$WORK/flows.jsonl" || { head -3 "$WORK/flows.jsonl"; echo "no AllowWeb record"; return 1; }
	grep -q '"rule":"DenyTcp8081FromVnet"' "$WORK/flows.jsonl" || { head -3 "$WORK/flows.jsonl"; echo "no deny record"; return 1; }
	grep -q "flow logs: exporting JSON lines to $WORK/flows.jsonl" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	mv "$WORK/flows.jsonl" "$WORK/flows.jsonl.1"
	kill -HUP "$DPID"
	n=$(count "reload (SIGHUP): applied")
	wait_log "reload (SIGHUP): applied" 10 "$n" || return 1
	tcp_ok "$NS_B" 192.0.2.10 8080
	for _ in $(seq 50); do [ -s "$WORK/flows.jsonl" ] && break; sleep 0.1; done
	[ -s "$WORK/flows.jsonl" ] || { echo "SIGHUP did not reopen the JSON lines file"; return 1; }
	for _ in $(seq 30); do
		[ "$(metrics | awk '$1 == "xnsg_flowlog_records_exported_total{output=\"jsonl\"}" { print ($2 > 0) }')" = 1 ] && return 0
		sleep 0.1
	done
	metrics | grep flowlog; echo "no exported records in the metrics"; return 1
}

test_second_daemon_refused() {
	local rc
	A timeout 10 "$XNSG" run "$POLICY" 2> "$WORK/second.err"; rc=$?
	[ $rc -eq 1 ] && grep -q "pid $DPID: xnsg run" "$WORK/second.err" || { cat "$WORK/second.err"; echo "exit $rc"; return 1; }
}

test_metrics_endpoint() {
	local h
	h=$(get --head "http://127.0.0.1:$MPORT/metrics")
	echo "$h" | grep -qi '^content-type: text/plain; version=0.0.4' || { echo "$h"; return 1; }
	[ "$(get --head "http://127.0.0.1:$MPORT/nope" | head -1)" = 404 ] || return 1
	metrics | grep -q '^xnsg_rule_packets_total{nsg="web-nsg",direction="Inbound",rule="AllowWeb",access="Allow"} [1-9]' || {
		metrics | grep AllowWeb; return 1; }
	[ "$(metric xnsg_policy_applied)" = 1 ] || return 1
}

# A real Prometheus, in namespace A, scrapes the daemon; its HTTP API must
# report the same rule counter as `xnsg stats`.
test_prometheus_scrapes() {
	command -v prometheus >/dev/null || { echo "SKIP: prometheus is not installed"; return 2; }
	mkdir -p "$WORK/prom"
	cat > "$WORK/prom.yml" <<EOF
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: xnsg
    static_configs: [ { targets: ["127.0.0.1:$MPORT"] } ]
EOF
	A timeout 120 prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/prom" \
		--web.listen-address="127.0.0.1:$PPORT" --log.level=warn > "$WORK/prom.log" 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
	for _ in $(seq 3); do tcp_ok "$NS_B" 192.0.2.10 8080; done
	python3 - "$NS_A" "$PPORT" "$XNSG" "$PROBES" <<'EOF' || { tail -5 "$WORK/prom.log"; return 1; }
import json, subprocess, sys, time, urllib.parse
ns, port, xnsg, probes = sys.argv[1:5]
def sh(*a):
    return subprocess.run(["ip", "netns", "exec", ns] + list(a), capture_output=True, text=True).stdout
q = urllib.parse.quote('xnsg_rule_packets_total{nsg="web-nsg",rule="AllowWeb"}')
deadline, got, want = time.time() + 40, None, None
while time.time() < deadline:
    want = [r["packets"] for r in json.loads(sh(xnsg, "stats", "--json"))["rules"]
            if r["nsg"] == "web-nsg" and r["rule"] == "AllowWeb"][0]
    try:
        res = json.loads(sh("python3", probes, "get", "http://127.0.0.1:%s/api/v1/query?query=%s" % (port, q)))
        got = [int(float(r["value"][1])) for r in res["data"]["result"]]
    except (ValueError, KeyError):
        got = None
    if got == [want] and want > 0:
        print("note: Prometheus and xnsg stats agree: AllowWeb %d packets" % want)
        sys.exit(0)
    time.sleep(1)
print("Prometheus says %s, xnsg stats %s" % (got, want))
sys.exit(1)
EOF
}

# 2 x 1,000 rules, two versions that decide UDP 6002 differently and
# agree on 6000 (allowed) and 6001 (denied): reloaded back and forth while
# every probe, each a new flow, is judged; not one may be misjudged.
big_policy() { # big_policy VERSION OUT
	python3 - "$REPO/examples/demo.json" "$2" "$1" <<'EOF'
import json, random, sys
p = json.load(open(sys.argv[1])); v = sys.argv[3]
rnd = random.Random(v)
rules = p["networkSecurityGroups"][0]["properties"]["securityRules"]
def rule(name, prio, d, acc, proto, src, dport):
    return {"name": name, "properties": {"priority": prio, "direction": d, "access": acc,
            "protocol": proto, "sourceAddressPrefix": src, "sourcePortRange": "*",
            "destinationAddressPrefix": "*" if d == "Inbound" else src,
            "destinationPortRange": dport}}
rules.append(rule("AllowProbe", 160, "Inbound", "Allow", "Udp", "VirtualNetwork", "6000"))
rules.append(rule("DenyProbe", 170, "Inbound", "Deny", "Udp", "*", "6001"))
rules.append(rule("Flip", 180, "Inbound", "Allow" if v == "a" else "Deny", "Udp", "*", "6002"))
n_in = 1000 - len(rules)
for i in range(n_in):  # never matching the probes: sources in 10/8
    rules.append(rule("FillIn%d" % i, 200 + i, "Inbound", rnd.choice(["Allow", "Deny"]),
                      rnd.choice(["Tcp", "Udp", "*"]),
                      "10.%d.%d.0/24" % (rnd.randrange(256), rnd.randrange(256)),
                      str(rnd.randrange(1, 65535))))
for i in range(1000):
    r = rule("FillOut%d" % i, 100 + i, "Outbound", rnd.choice(["Allow", "Deny"]),
             rnd.choice(["Tcp", "Udp"]), "10.%d.%d.0/24" % (rnd.randrange(256), rnd.randrange(256)),
             str(rnd.randrange(1, 65535)))
    rules.append(r)
p["interfaces"] = [i for i in p["interfaces"] if i["name"] == "a0"]
json.dump(p, open(sys.argv[2], "w"))
EOF
	chmod 0644 "$2"
}

test_big_reload_misjudges_nothing() {
	local n res
	big_policy a "$WORK/big-a.json" && big_policy b "$WORK/big-b.json" || return 1
	n=$(count "reload (file changed): applied")
	cp "$WORK/big-a.json" "$POLICY.tmp"; mv "$POLICY.tmp" "$POLICY"
	wait_log "reload (file changed): applied" 20 $((n + 1)) || return 1
	grep "reload (file changed): applied" "$WORK/daemon.log" | tail -1 | grep -q "2000 rules\|20[0-9][0-9] rules" || {
		tail -1 "$WORK/daemon.log"; echo "not the big policy"; return 1; }
	A timeout 60 python3 "$PROBES" echo 0.0.0.0 6000 6001 6002 --timeout 40 &
	BG_PIDS="${BG_PIDS:-} $!"
	sleep 0.3
	B timeout 60 python3 "$PROBES" stream 192.0.2.10 --allow 6000 --deny 6001 --duration 12 --rate 25 \
		> "$WORK/probes.out" 2>&1 &
	local probes=$!
	for i in 1 2 3 4 5 6; do
		if [ $((i % 2)) -eq 1 ]; then cp "$WORK/big-b.json" "$POLICY.tmp"; else cp "$WORK/big-a.json" "$POLICY.tmp"; fi
		mv "$POLICY.tmp" "$POLICY"
		wait_log "reload (file changed): applied" 20 $((n + 1 + i)) || { kill $probes; return 1; }
	done
	wait $probes; res=$?
	echo "note: $(cat "$WORK/probes.out") across 6 reloads of 2 x 1,000 rules"
	[ $res -eq 0 ] || return 1
	# The last version (a) allows 6002; b denied it: the reloads took effect.
	B timeout 5 python3 "$PROBES" stream 192.0.2.10 --allow 6002 --deny 6001 --duration 0.5 >/dev/null ||
		{ echo "6002 not allowed by the last version"; return 1; }
	write_policy
	wait_log "reload (file changed): applied" 20 $((n + 8))
}

test_clean_stop_keeps_enforcement() {
	stop_daemon || { echo "exit status $?"; return 1; }
	grep -q "STOPPING=1" "$WORK/notify.log" || { cat "$WORK/notify.log"; return 1; }
	tail -1 "$WORK/daemon.log" | grep -q "stopped; enforcement stays" || { tail -2 "$WORK/daemon.log"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "8081 open after the daemon stopped"; return 1; }
	[ -d "$XNSG_PIN_DIR" ] || { echo "pins removed"; return 1; }
}

test_restart_updates_in_place_and_detach_on_exit() {
	JSTREAM=""
	start_daemon --detach-on-exit || return 1
	grep -q "^xnsg: applied" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; echo "plain lines expected"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "8081 not denied"; return 1; }
	stop_daemon || return 1
	grep -q "detached from 2 interfaces; pins removed" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	[ ! -e "$XNSG_PIN_DIR" ] || { ls "$XNSG_PIN_DIR"; echo "pins remain"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "still filtered after --detach-on-exit"; return 1; }
}

test_starts_before_its_interfaces() {
	python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
p["interfaces"] = [i for i in p["interfaces"] if i["name"] == "a2"]
json.dump(p, open(sys.argv[1], "w"))' "$POLICY"
	start_daemon --detach-on-exit --jsonl "$WORK/flows2.jsonl" || return 1
	grep -q "none of its interfaces exists yet" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	grep -q "running: nothing applied" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	grep -q "flow logs start when the policy is first applied" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; return 1; }
	ip link add a2 netns "$NS_A" type veth peer name b2 netns "$NS_B" || return 1
	wait_log "interface a2 appeared: attached" 10 || return 1
	wait_log "flow logs: exporting" 10 || return 1
	A ip link del a2
	wait_log "interface a2 is gone: forgotten" 10 || return 1
	wait_log "flow logs stop: nothing is applied" 10 || return 1
	stop_daemon || return 1
}

test_bad_start_fails() {
	local rc
	echo '{' > "$WORK/bad.json"; chmod 0644 "$WORK/bad.json"
	A timeout 10 "$XNSG" run "$WORK/bad.json" 2> "$WORK/bad.err"; rc=$?
	[ $rc -eq 1 ] || { cat "$WORK/bad.err"; echo "exit $rc"; return 1; }
	grep -q "JSON syntax error" "$WORK/bad.err" && grep -q "not started" "$WORK/bad.err" || { cat "$WORK/bad.err"; return 1; }
	A timeout 10 "$XNSG" run "$POLICY" --metrics localhost:1 2> "$WORK/bad.err"; rc=$?
	[ $rc -eq 2 ] && grep -q "not a numeric" "$WORK/bad.err" || { cat "$WORK/bad.err"; echo "exit $rc"; return 1; }
	[ ! -e "$XNSG_PIN_DIR" ] || { echo "a failed start left pins"; return 1; }
}

# libmicrohttpd and libsystemd are opened when used, not linked
# (user/lib/dynlib.h); XNSG_TEST_DLOPEN_FAIL makes one missing.  Without
# libmicrohttpd, --metrics is one error line naming the file, the option
# and the package, exit 1, nothing applied; without libsystemd the daemon
# runs, warning once when NOTIFY_SOCKET asks for notifications, silent
# when it does not.
test_missing_libraries() {
	local rc n
	write_policy
	A env XNSG_TEST_DLOPEN_FAIL=libmicrohttpd.so timeout 10 "$XNSG" run "$POLICY" \
		--metrics "127.0.0.1:$MPORT" 2> "$WORK/nolib.err"; rc=$?
	[ $rc -eq 1 ] || { cat "$WORK/nolib.err"; echo "exit $rc"; return 1; }
	grep -q "^xnsg: --metrics needs libmicrohttpd\.so\.[0-9]* (Debian package libmicrohttpd[0-9a-z]*): cannot open shared object file" \
		"$WORK/nolib.err" || { cat "$WORK/nolib.err"; return 1; }
	[ "$(wc -l < "$WORK/nolib.err")" -eq 1 ] || { cat "$WORK/nolib.err"; echo "not one line"; return 1; }
	[ ! -e "$XNSG_PIN_DIR" ] || { echo "a start without libmicrohttpd left pins"; return 1; }

	start_notify || { echo "no notify socket"; return 1; }
	export XNSG_TEST_DLOPEN_FAIL=libsystemd.so
	start_daemon --detach-on-exit; rc=$?
	unset XNSG_TEST_DLOPEN_FAIL
	[ $rc -eq 0 ] || return 1
	n=$(count "reload (SIGHUP)")
	kill -HUP "$DPID" # RELOADING=1 and READY=1 again
	wait_log "reload (SIGHUP)" 10 $((n + 1)) || return 1
	stop_daemon || { cat "$WORK/daemon.log"; return 1; }
	[ "$(grep -c "warning: sd_notify needs libsystemd\.so\.[0-9]* (Debian package libsystemd[0-9a-z]*): cannot open shared object file.*NOTIFY_SOCKET is set" "$WORK/daemon.log")" -eq 1 ] ||
		{ cat "$WORK/daemon.log"; echo "not one warning"; return 1; }
	[ ! -s "$WORK/notify.log" ] || { cat "$WORK/notify.log"; echo "notified without libsystemd"; return 1; }

	export XNSG_TEST_DLOPEN_FAIL=libsystemd.so
	DNOTIFY="" start_daemon --detach-on-exit; rc=$?
	unset XNSG_TEST_DLOPEN_FAIL
	[ $rc -eq 0 ] && stop_daemon || { cat "$WORK/daemon.log"; return 1; }
	! grep -q "libsystemd" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; echo "warned without NOTIFY_SOCKET"; return 1; }
}

TESTS=(starts_and_enforces sighup_reload_under_ping file_change_reload_under_ping
       unchanged_file_no_reload bad_reload_keeps_policy interface_appears_and_goes flow_logs
       second_daemon_refused metrics_endpoint
       prometheus_scrapes big_reload_misjudges_nothing clean_stop_keeps_enforcement
       restart_updates_in_place_and_detach_on_exit starts_before_its_interfaces bad_start_fails
       missing_libraries)
[ $# -gt 0 ] && TESTS=("$@")

main() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e-daemon: SKIP: needs root"; echo "0 passed, 0 failed, ${#TESTS[@]} skipped"; return 0
	fi
	need ip nc ping timeout python3 tc
	if ! setup > "$WORK/setup.log" 2>&1; then
		cat "$WORK/setup.log"; echo "e2e-daemon: setup failed"; echo "0 passed, 1 failed"; return 1
	fi
	listen_tcp "$NS_A" 8080; listen_tcp "$NS_A" 8081; listen_tcp "$NS_A" 8082
	sleep 0.3
	run_tests; local rc=$?
	stop_daemon >/dev/null 2>&1
	return $rc
}

cleanup_daemon() { [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null; cleanup; }
trap cleanup_daemon EXIT

main
