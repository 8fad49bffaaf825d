#!/usr/bin/env bash
# End-to-end tests: real traffic between network namespaces this script
# creates, through xnsg attached to their veths.  Every namespace, pin and
# state file it makes is removed on exit, failure included.  Traffic stays
# between its own namespaces; every generator is bounded in count and time.
#
#   tests/e2e/run.sh [path/to/xnsg] [TEST...]
#
# Topology and traffic helpers: tools/topology.sh.
set -u

XNSG=$(realpath "${1:-build/xnsg}")
shift || true
ID="xnsg-e2e-$$"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PASSED=0 FAILED=0
. "$(dirname "$0")/../../tools/topology.sh"
topo_init

# ---- policies ---------------------------------------------------------

# The demo's policy (examples/demo.json) fits the topology.
base_policy() { cp "$REPO/examples/demo.json" "$WORK/base.json"; echo "$WORK/base.json"; }

# ---- tests ------------------------------------------------------------

test_baseline_without_xnsg() {
	tcp_ok "$NS_B" 192.0.2.10 8080 && tcp_ok "$NS_B" 192.0.2.10 8081 && ping_ok "$NS_B" 192.0.2.10
}

test_apply_attaches() {
	x apply "$(base_policy)" && x status | grep -q "a0" && x status | grep -q "a1"
}

test_tcp_allowed_and_denied_ipv4() {
	tcp_ok "$NS_B" 192.0.2.10 8080 || { echo "allowed port 8080 was refused"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "port 8081 was not denied"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8082 || { echo "8082 from the VNet should pass AllowVNetInBound"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 198.51.100.20 || { echo "8080 from the Internet was refused"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20 || { echo "8082 from the Internet should hit DenyAllInbound"; return 1; }
}

test_tcp_allowed_and_denied_ipv6() {
	tcp_ok "$NS_B" 2001:db8:1::10 8080 || { echo "allowed v6 port 8080 was refused"; return 1; }
	! tcp_ok "$NS_B" 2001:db8:1::10 8081 || { echo "v6 port 8081 was not denied"; return 1; }
}

test_udp_allowed_and_denied() {
	udp_ok "$NS_B" 192.0.2.10 5353 "$NS_A" || { echo "UDP 5353 from the VNet was dropped"; return 1; }
	! udp_ok "$NS_B" 192.0.2.10 5354 "$NS_A" || { echo "UDP 5354 was not denied"; return 1; }
	udp_ok "$NS_B" 2001:db8:1::10 5353 "$NS_A" || { echo "UDP v6 5353 was dropped"; return 1; }
}

test_ping_by_source_tag() {
	ping_ok "$NS_B" 192.0.2.10 || { echo "ping from the VNet was dropped"; return 1; }
	! B ping -q -c 1 -W 1 -I 198.51.100.20 192.0.2.10 >/dev/null 2>&1 || { echo "ping from Internet was not denied"; return 1; }
	ping_ok "$NS_B" 2001:db8:1::10 || { echo "ICMPv6 echo from the VNet was dropped"; return 1; }
}

test_peer_attach_container() {
	# C is the container: traffic it sends is its Outbound.
	listen_tcp "$NS_B" 9000; listen_tcp "$NS_B" 9001; listen_tcp "$NS_C" 7000; listen_tcp "$NS_C" 7001
	sleep 0.3
	tcp_ok "$NS_C" 192.0.2.20 9001 || { echo "container outbound 9001 refused"; return 1; }
	! tcp_ok "$NS_C" 192.0.2.20 9000 || { echo "container outbound 9000 not denied"; return 1; }
	tcp_ok "$NS_B" 192.0.2.130 7000 || { echo "inbound 7000 to the container refused"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.130 7001 || { echo "inbound 7001 to the container not denied"; return 1; }
}

test_stats_count_denies() {
	x stats --json > "$WORK/stats.json" || return 1
	python3 - "$WORK/stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
hits = {r["rule"]: r["packets"] for r in s["rules"] if r["nsg"] == "web-nsg"}
assert hits.get("DenyTcp8081FromVnet", 0) > 0, hits
assert hits.get("AllowWeb", 0) > 0, hits
assert s["drops"]["rule-deny"]["packets"] > 0, s["drops"]
EOF
}

test_update_under_traffic() {
	# A ping stream (bounded: 300 packets, 10 ms apart) runs while the
	# policy is re-applied 10 times, alternating whether port 8082 is open.
	local p1 p2 out="$WORK/ping.out"
	p1=$(base_policy)
	p2=$(sed 's/"destinationPortRange": "8080"/"destinationPortRanges": ["8080", "8082"]/' "$p1" > "$WORK/p2.json"; echo "$WORK/p2.json")
	B ping -q -c 300 -i 0.01 -W 1 192.0.2.10 > "$out" 2>&1 &
	local ping_pid=$!
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if [ $((i % 2)) -eq 0 ]; then x apply "$p1" >/dev/null; else x apply "$p2" >/dev/null; fi || return 1
	done
	wait $ping_pid
	grep -q " 0% packet loss" "$out" || { cat "$out"; echo "packets were lost during updates"; return 1; }
	x apply "$p2" >/dev/null && tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20 || { echo "8082 not open after update"; return 1; }
	x apply "$p1" >/dev/null && ! tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20 || { echo "8082 still open after update"; return 1; }
}

test_bad_policy_changes_nothing() {
	local bad="$WORK/bad.json"
	sed 's/"priority": 100, "direction": "Inbound", "access": "Allow",/"priority": 99, "direction": "Inbound", "access": "Allow",/' "$(base_policy)" > "$bad"
	x apply "$bad" 2>"$WORK/bad.err" && { echo "a bad policy was applied"; return 1; }
	grep -q "priority" "$WORK/bad.err" || { cat "$WORK/bad.err"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 && ! tcp_ok "$NS_B" 192.0.2.10 8081
}

test_verify_datapath_agrees() {
	local p; p=$(base_policy)
	for q in "-d in -P tcp -l 192.0.2.10:8080 -r 192.0.2.20:40000" \
		 "-d in -P tcp -l 192.0.2.10:8081 -r 192.0.2.20:40000" \
		 "-d in -P icmp -l 192.0.2.10 -r 198.51.100.20" \
		 "-d out -P udp -l 192.0.2.10:5000 -r 198.51.100.20:53"; do
		local u d
		u=$(x verify "$p" -i a0 $q --json) || return 1
		d=$(x verify "$p" -i a0 $q --json --datapath) || return 1
		[ "$u" = "$d" ] || { echo "verify disagrees for $q: $u vs $d"; return 1; }
	done
}

test_detach_leaves_nothing() {
	x detach -i a1 || return 1
	A tc filter show dev a1 egress | grep -q xnsg && { echo "a1 still has a filter"; return 1; }
	x detach --all || return 1
	[ ! -e "$XNSG_PIN_DIR" ] || { ls "$XNSG_PIN_DIR"; echo "pins remain"; return 1; }
	A ip link show a0 | grep -q xdp && { echo "XDP still attached to a0"; return 1; }
	A tc filter show dev a0 egress | grep -q xnsg && { echo "tc egress filter remains"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "traffic still filtered after detach"; return 1; }
}

TESTS=(baseline_without_xnsg apply_attaches tcp_allowed_and_denied_ipv4 tcp_allowed_and_denied_ipv6
       udp_allowed_and_denied ping_by_source_tag peer_attach_container stats_count_denies
       update_under_traffic bad_policy_changes_nothing verify_datapath_agrees detach_leaves_nothing)
[ $# -gt 0 ] && TESTS=("$@")

main() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e: SKIP: needs root"; echo "0 passed, 0 failed, ${#TESTS[@]} skipped"; return 0
	fi
	need ip nc ping timeout python3 tc
	if ! setup > "$WORK/setup.log" 2>&1; then
		cat "$WORK/setup.log"
		echo "e2e: setup failed"; echo "0 passed, 1 failed"; return 1
	fi
	listen_tcp "$NS_A" 8080; listen_tcp "$NS_A" 8081; listen_tcp "$NS_A" 8082
	sleep 0.3
	for t in "${TESTS[@]}"; do
		local log="$WORK/$t.log"
		if "test_$t" > "$log" 2>&1; then
			echo "[$t] PASS"; PASSED=$((PASSED + 1))
		else
			echo "[$t] FAIL"; sed 's/^/    /' "$log"; FAILED=$((FAILED + 1))
		fi
	done
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

main
