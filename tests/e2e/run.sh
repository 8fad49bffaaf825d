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
	tcp_ok "$NS_B" 192.0.2.10 8082 || { echo "8082 from the VNet should pass AllowVnetInBound"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 198.51.100.20 || { echo "8080 from the Internet was refused"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20 || { echo "8082 from the Internet should hit DenyAllInBound"; return 1; }
}

test_tcp_allowed_and_denied_ipv6() {
	tcp_ok "$NS_B" 2001:db8:1::10 8080 || { echo "allowed v6 port 8080 was refused"; return 1; }
	! tcp_ok "$NS_B" 2001:db8:1::10 8081 || { echo "v6 port 8081 was not denied"; return 1; }
}

test_udp_allowed_and_denied() {
	udp_ok "$NS_B" 192.0.2.10 5353 "$NS_A" || { echo "UDP 5353 from the VNet was dropped"; return 1; }
	udp_ok "$NS_B" 192.0.2.10 5354 "$NS_A" || { echo "UDP 5354 from the VNet should pass AllowVnetInBound"; return 1; }
	! udp_ok "$NS_B" 192.0.2.10 5353 "$NS_A" 198.51.100.20 || { echo "UDP 5353 from the Internet was not denied"; return 1; }
	udp_ok "$NS_B" 2001:db8:1::10 5353 "$NS_A" || { echo "UDP v6 5353 was dropped"; return 1; }
}

test_ping_by_source_tag() {
	ping_ok "$NS_B" 192.0.2.10 || { echo "ping from the VNet was dropped"; return 1; }
	! B ping -q -c 1 -W 1 -I 198.51.100.20 192.0.2.10 >/dev/null 2>&1 || { echo "ping from Internet was not denied"; return 1; }
	ping_ok "$NS_B" 2001:db8:1::10 || { echo "ICMPv6 echo from the VNet was dropped"; return 1; }
}

test_peer_attach_container() {
	# C is the container: traffic it sends is its Outbound.
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

test_switch_ingress_hook() {
	# --ingress moves the receive hook in place: the old one is removed
	# (never both), a later apply without it keeps the choice, and the
	# policy holds throughout.
	local p; p=$(base_policy)
	x apply "$p" --ingress tc >/dev/null || return 1
	A ip link show a0 | grep -q xdp && { echo "XDP still attached after --ingress tc"; return 1; }
	A tc filter show dev a0 ingress | grep -q xnsg_tc_ingress || { echo "no TC ingress filter"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "8081 not denied under TC ingress"; return 1; }
	x apply "$p" >/dev/null || return 1
	A tc filter show dev a0 ingress | grep -q xnsg_tc_ingress || { echo "a plain apply dropped the TC choice"; return 1; }
	x status | grep -q "tc" || { echo "status does not show the TC hook"; return 1; }
	x apply "$p" --ingress xdp >/dev/null || return 1
	A ip link show a0 | grep -q xdp || { echo "XDP not back after --ingress xdp"; return 1; }
	A tc filter show dev a0 ingress | grep -q xnsg_tc_ingress && { echo "TC ingress left beside XDP"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 && ! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "policy not enforced after switching back"; return 1; }
}

test_bad_policy_changes_nothing() {
	local bad="$WORK/bad.json"
	sed 's/"priority": 100, "direction": "Inbound", "access": "Allow",/"priority": 99, "direction": "Inbound", "access": "Allow",/' "$(base_policy)" > "$bad"
	x apply "$bad" 2>"$WORK/bad.err" && { echo "a bad policy was applied"; return 1; }
	grep -q "priority" "$WORK/bad.err" || { cat "$WORK/bad.err"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 && ! tcp_ok "$NS_B" 192.0.2.10 8081
}

test_policy_filtering_nothing_refused() {
	# docs/DESIGN.md §1 "Bindings": check warns, apply refuses and changes nothing.
	local p="$WORK/nofilter.json" err="$WORK/nofilter.err"
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for i in d["interfaces"]:
    i.pop("networkSecurityGroup", None)
json.dump(d, open(sys.argv[2], "w"))' "$(base_policy)" "$p" || return 1
	x check "$p" 2>&1 | grep -q "filters nothing" || { echo "check does not warn"; return 1; }
	x apply "$p" >/dev/null 2>"$err" && { echo "a policy filtering nothing was applied"; return 1; }
	grep -q "filters nothing" "$err" || { cat "$err"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8080 && ! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "enforcement changed"; return 1; }
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

# ---- stateful flows (docs/DESIGN.md §2 "State") ----------------------------------

# a0 (the workload A): every inbound packet is denied by a rule, outbound
# passes by the defaults; a1 (container C): inbound ICMP is denied, so ICMP
# errors reach C only as errors about its own tracked flows.
#   $1 more rules for a0's NSG (each ending in a comma), $2 more NSG
#   properties (e.g. '"flushConnection": true,'), $3 the flowTimeouts.
stateful_policy() {
	local extra=${1:-} nsgprops=${2:-} timeouts=${3:-'"udp": 2'} f="$WORK/stateful.$RANDOM.json"
	cat > "$f" <<EOF
{
  "virtualNetwork": { "name": "e2e", "addressPrefixes": ["192.0.2.0/24", "2001:db8:1::/64"] },
  "flowTimeouts": { $timeouts },
  "networkSecurityGroups": [
    { "name": "outonly-nsg", $nsgprops "securityRules": [ $extra
      { "name": "DenyAllIn", "priority": 200, "direction": "Inbound", "access": "Deny", "protocol": "*",
        "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*" } ] },
    { "name": "container-nsg", "securityRules": [
      { "name": "DenyIcmpIn", "priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "Icmp",
        "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*" } ] }
  ],
  "subnets": [ { "name": "web", "addressPrefixes": ["192.0.2.0/25", "2001:db8:1::/120"] },
               { "name": "containers", "addressPrefixes": ["192.0.2.128/25", "2001:db8:1::1:0/112"] } ],
  "interfaces": [
    { "name": "a0", "subnet": "web", "networkSecurityGroup": "outonly-nsg", "ipAddresses": ["192.0.2.10", "2001:db8:1::10"] },
    { "name": "a1", "subnet": "containers", "networkSecurityGroup": "container-nsg",
      "ipAddresses": ["192.0.2.130", "2001:db8:1::1:130"], "attach": "peer" } ]
}
EOF
	echo "$f"
}

ALLOW_8090='{ "name": "AllowLong", "priority": 150, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
  "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "8090" },'

# traffic NS MODE ARGS...: tests/e2e/traffic.py (bounded) inside namespace NS.
traffic() {
	local ns=$1; shift
	ip netns exec "$ns" timeout 30 python3 "$REPO/tests/e2e/traffic.py" "$@"
}

flow_stat() { # flow_stat NAME: a counter of `xnsg stats --json`'s "flows"
	x stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['flows'].get('$1', 0))"
}

test_outbound_only_replies_follow_state() {
	x apply "$(stateful_policy)" >/dev/null || return 1
	! tcp_ok "$NS_B" 192.0.2.10 8080 || { echo "inbound TCP was not denied"; return 1; }
	! ping_ok "$NS_B" 192.0.2.10 || { echo "inbound ping was not denied"; return 1; }
	tcp_ok "$NS_A" 192.0.2.20 9001 || { echo "outbound TCP failed: the SYN-ACK did not follow the flow"; return 1; }
	tcp_ok "$NS_A" 2001:db8:1::20 9001 || { echo "outbound TCP over IPv6 failed"; return 1; }
	ping_ok "$NS_A" 192.0.2.20 || { echo "outbound ping failed: the echo reply did not follow the flow"; return 1; }
	ping_ok "$NS_A" 2001:db8:1::20 || { echo "outbound ICMPv6 echo failed"; return 1; }
	traffic "$NS_B" udp-echo 192.0.2.20 5000 --timeout 4 &
	sleep 0.3
	traffic "$NS_A" udp-ask 192.0.2.20 5000 --timeout 2 || { echo "the UDP reply did not follow the flow"; return 1; }
	wait $!
	x flows --json > "$WORK/flows.json" || return 1
	python3 - "$WORK/flows.json" <<'EOF' || return 1
import json, sys
flows = json.load(open(sys.argv[1]))
flows = flows["flows"] if isinstance(flows, dict) else flows
assert any("9001" in json.dumps(f) for f in flows), "no tracked flow to port 9001: %s" % flows
assert any("5000" in json.dumps(f) for f in flows), "no tracked UDP flow to port 5000: %s" % flows
EOF
}

test_udp_flow_idles_out() {
	# flowTimeouts.udp is 2 s: a reply 0.5 s later follows the flow, one
	# 3 s later is judged by the rules (DenyAllIn) and dropped.
	x apply "$(stateful_policy)" >/dev/null || return 1
	traffic "$NS_B" udp-echo 192.0.2.20 5001 --delay 0.5 --timeout 4 &
	sleep 0.3
	traffic "$NS_A" udp-ask 192.0.2.20 5001 --timeout 3 || { echo "a reply within the timeout was dropped"; return 1; }
	wait $!
	traffic "$NS_B" udp-echo 192.0.2.20 5002 --delay 3 --timeout 7 &
	sleep 0.3
	! traffic "$NS_A" udp-ask 192.0.2.20 5002 --timeout 5 || { echo "a reply after the flow idled out passed"; return 1; }
	wait $!
}

# The long connection: B sends a line every 0.1 s (at most 25 s) to A:8090.
# Started with ip netns exec rather than A/B: those are functions, so $!
# would be a subshell, and killing it would leave the listener behind to
# take the next test's connection (nc listens with SO_REUSEPORT).  $! is
# timeout here, which passes the signal on to its whole process group.
long_start() {
	: > "$WORK/long.out"
	ip netns exec "$NS_A" timeout 40 nc -4 -l 8090 > "$WORK/long.out" 2>/dev/null &
	LONG_SRV=$!
	sleep 0.3
	ip netns exec "$NS_B" timeout 30 bash -c \
		'for i in $(seq 250); do echo line$i; sleep 0.1; done | nc 192.0.2.10 8090' >/dev/null 2>&1 &
	LONG_CLI=$!
}
long_stop() { kill $LONG_CLI $LONG_SRV 2>/dev/null; wait $LONG_CLI $LONG_SRV 2>/dev/null; true; }
long_lines() { wc -l < "$WORK/long.out"; }
# long_grows S: 0 when the connection delivered new lines within S seconds.
long_grows() { local n; n=$(long_lines); sleep "$1"; [ "$(long_lines)" -gt "$n" ]; }
# long_cut: 0 when nothing more arrives once the cut has had 0.5 s.
long_cut() { local n; sleep 0.5; n=$(long_lines); sleep 1.5; [ "$(long_lines)" -eq "$n" ]; }

test_long_flow_survives_apply_reset_cuts_it() {
	x apply "$(stateful_policy "$ALLOW_8090")" >/dev/null || return 1
	long_start
	long_grows 1 || { long_stop; echo "the long connection never carried data"; return 1; }
	x apply "$(stateful_policy)" >/dev/null || { long_stop; return 1; } # AllowLong removed
	long_grows 1.5 || { long_stop; echo "an update without --reset-flows cut the connection"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8090 || { long_stop; echo "a new connection was accepted after its rule was removed"; return 1; }
	long_grows 1 || { long_stop; echo "the connection stopped after a new one was refused"; return 1; }
	x apply --reset-flows "$(stateful_policy)" >/dev/null || { long_stop; return 1; }
	long_cut || { long_stop; echo "--reset-flows did not cut the connection"; return 1; }
	long_stop
}

test_flush_connection_cuts_flows() {
	x apply "$(stateful_policy "$ALLOW_8090")" >/dev/null || return 1
	long_start
	long_grows 1 || { long_stop; echo "the long connection never carried data"; return 1; }
	x apply "$(stateful_policy "" '"flushConnection": true,')" >/dev/null || { long_stop; return 1; }
	long_cut || { long_stop; echo "an NSG with flushConnection: true did not cut the connection"; return 1; }
	long_stop
}

test_iperf3_through_xnsg() {
	command -v iperf3 >/dev/null || { echo "iperf3 is not installed"; return 1; }
	x apply "$(stateful_policy)" >/dev/null || return 1
	B timeout 20 iperf3 -s -1 -B 192.0.2.20 -p 5201 >/dev/null 2>&1 &
	sleep 0.5
	A timeout 15 iperf3 -c 192.0.2.20 -p 5201 -t 3 --connect-timeout 2000 > "$WORK/iperf3.out" 2>&1 \
		|| { cat "$WORK/iperf3.out"; return 1; }
	wait $!
	local rate; rate=$(awk '/receiver/ { print $(NF-2), $(NF-1) }' "$WORK/iperf3.out")
	[ -n "$rate" ] || { cat "$WORK/iperf3.out"; return 1; }
	echo "note: iperf3 TCP A -> B through xnsg (XDP + TC egress + conntrack), 3 s: $rate"
}

test_fragmented_udp() {
	# 4000 bytes over a 1500-byte MTU: three fragments.  AllowDnsUdp
	# (VirtualNetwork -> 5353) lets the VNet's through; from the Internet
	# the first fragment meets DenyAllInBound and the others follow it.
	x apply "$(base_policy)" >/dev/null || return 1
	local dst pair followed
	followed=$(flow_stat fragments_followed)
	for dst in 192.0.2.10 2001:db8:1::10; do
		traffic "$NS_A" udp-recv "$dst" 5353 --size 4000 --timeout 3 > "$WORK/frag.out" &
		sleep 0.3
		traffic "$NS_B" udp-send "$dst" 5353 --size 4000
		wait $! || { cat "$WORK/frag.out"; echo "an allowed fragmented datagram to $dst was dropped"; return 1; }
	done
	for pair in "192.0.2.10 198.51.100.20" "2001:db8:1::10 2001:db8:ff::20"; do
		set -- $pair
		traffic "$NS_A" udp-recv "$1" 5353 --size 4000 --timeout 2 > "$WORK/frag.out" &
		sleep 0.3
		traffic "$NS_B" udp-send "$1" 5353 --size 4000 --src "$2"
		! wait $! || { cat "$WORK/frag.out"; echo "a denied fragmented datagram from $2 arrived"; return 1; }
	done
	[ "$(flow_stat fragments_followed)" -gt "$followed" ] || { echo "no later fragment was counted as following its first"; return 1; }
}

# C uploads 3 MB to B through A, whose link to B has the smaller MTU: A
# answers C's big packets with "fragmentation needed" / "packet too big",
# which C's NSG (DenyIcmpIn) would drop were they not about C's own flow.
pmtu_transfer() {
	local dst=$1 port=$2 sink rc=0
	traffic "$NS_B" tcp-sink "$dst" "$port" --bytes 3000000 --timeout 15 > "$WORK/sink.out" &
	sink=$!
	sleep 0.3
	traffic "$NS_C" tcp-send "$dst" "$port" --bytes 3000000 --timeout 12 > "$WORK/send.out" 2>&1 || rc=1
	wait $sink || rc=1
	[ $rc -eq 0 ] || { cat "$WORK/send.out" "$WORK/sink.out"; echo "the transfer to $dst stalled: path MTU discovery failed"; }
	return $rc
}

test_pmtu_discovery() {
	x apply "$(stateful_policy)" >/dev/null || return 1
	local before after rc
	before=$(flow_stat icmp_errors_related)
	A ip link set a0 mtu 1280
	pmtu_transfer 192.0.2.20 9100 && pmtu_transfer 2001:db8:1::20 9101
	rc=$?
	A ip link set a0 mtu 1500
	[ $rc -eq 0 ] || return 1
	after=$(flow_stat icmp_errors_related)
	[ "$after" -gt "$before" ] || { echo "no ICMP error was passed as related to its flow ($before -> $after)"; return 1; }
	echo "note: ICMP errors passed as related to a tracked flow: $((after - before))"
}

test_full_flow_table_evicts_and_fails_closed() {
	# A 1024-entry table (the least): while B holds its echo for 1.5 s, A
	# opens 5000 more UDP flows.  BPF's LRU is approximate (a used entry
	# is kept longer), so the first flow may or may not be evicted; either
	# way its late reply must follow the table: dropped by the rules
	# (DenyAllIn) when evicted, passed when still tracked.  Never fail open.
	x detach --all >/dev/null || return 1
	x apply --max-flows 1024 "$(stateful_policy "" "" '"udp": 30')" >/dev/null || return 1
	local before after tracked=no
	before=$(flow_stat evicted)
	traffic "$NS_B" udp-echo 192.0.2.20 5003 --delay 1.5 --timeout 4 &
	local echo=$!
	sleep 0.3
	traffic "$NS_A" udp-ask 192.0.2.20 5003 --timeout 3 > "$WORK/ask.out" &
	local ask=$!
	sleep 0.2
	traffic "$NS_A" udp-spray 192.0.2.20 20000 --count 5000 || return 1
	x flows --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
flows = d["flows"] if isinstance(d, dict) else d
sys.exit(0 if any(f["responder_port"] == 5003 for f in flows) else 1)' && tracked=yes
	if [ $tracked = yes ]; then
		wait $ask || { echo "a still-tracked flow's reply was dropped"; return 1; }
	else
		! wait $ask || { echo "the reply of an evicted flow passed: the full table failed open"; return 1; }
	fi
	wait $echo
	after=$(flow_stat evicted)
	[ "$after" -gt "$before" ] || { echo "no eviction counted ($before -> $after)"; return 1; }
	[ "$(flow_stat live)" -le 1024 ] || { echo "more live flows than --max-flows"; return 1; }
	echo "note: 5000 flows into a 1024-entry table: $((after - before)) evicted (counted in xnsg stats); the first flow was $([ $tracked = yes ] && echo kept || echo evicted) and its reply $([ $tracked = yes ] && echo passed || echo dropped)"
	x detach --all >/dev/null && x apply "$(stateful_policy)" >/dev/null # default size again
}

# ---- the apply transaction under crashes and concurrency (docs/DESIGN.md §8)

# The demo policy with ports 8080 and 8081 swapped: from the VNet, "old"
# opens 8080 and denies 8081, "new" the other way round.
swapped_policy() {
	sed -e 's/"8080"/"XXXX"/' -e 's/"8081"/"8080"/' -e 's/"XXXX"/"8081"/' "$(base_policy)" > "$WORK/new.json"
	echo "$WORK/new.json"
}

# Which of the two the kernel enforces on a0: old, new, or mixed.
enforced() {
	local o80=no o81=no
	tcp_ok "$NS_B" 192.0.2.10 8080 && o80=yes
	tcp_ok "$NS_B" 192.0.2.10 8081 && o81=yes
	case "$o80$o81" in
	yesno) echo old ;; noyes) echo new ;; yesyes) echo open ;; *) echo closed ;;
	esac
}

status_hash() { x --json status | python3 -c 'import json,sys; print(json.load(sys.stdin).get("hash"))'; }

# No hook of ours on a0 or a1, no pins, no record.
nothing_left() {
	local i
	for i in a0 a1; do
		A ip link show "$i" | grep -q "prog/xdp" && { echo "XDP left on $i"; return 1; }
		A tc filter show dev "$i" ingress 2>/dev/null | grep -q xnsg && { echo "TC ingress left on $i"; return 1; }
		A tc filter show dev "$i" egress 2>/dev/null | grep -q xnsg && { echo "TC egress left on $i"; return 1; }
	done
	[ ! -e "$XNSG_PIN_DIR" ] || { echo "pins left: $(ls "$XNSG_PIN_DIR")"; return 1; }
	! ls "$XNSG_STATE_DIR"/*.json >/dev/null 2>&1 || { echo "record left: $(ls "$XNSG_STATE_DIR")"; return 1; }
}

# The steps of an update, in order ("carried-pending": the retirement the
# apply before it left, §8 step 9), of one that re-evaluates flows after
# its flip (--reset-flows), and of a first apply.
STEPS="locked carried-pending staged recorded-intent pinned attached-one attached flipped recorded carried flows"
WAIT_STEPS="flipped grace-period recorded retiring retired flows"
FIRST_STEPS="locked staged recorded-intent pinned attached-one attached flipped recorded retired flows"

# Whether the record's retirement mark names its newest generation's flip.
flip_marked() {
	python3 - "$XNSG_STATE_DIR" <<'EOF'
import glob, json, sys
st = json.load(open(glob.glob(sys.argv[1] + "/*.json")[0]))
serials = [g["serial"] for g in st.get("gens", []) if g]
m = st.get("retire")
sys.exit(0 if m and serials and m.get("serial") == max(serials) else 1)
EOF
}

test_update_killed_at_every_step() {
	# An update killed at step K: the kernel enforces exactly the old or
	# the new policy, status names that one, and the next apply recovers.
	local old new h_old h_new k e h opt
	old=$(base_policy); new=$(swapped_policy)
	x apply "$new" >/dev/null && h_new=$(status_hash) || return 1
	x apply "$old" >/dev/null && h_old=$(status_hash) || return 1
	for k in $STEPS --reset-flows $WAIT_STEPS; do
		# An apply with it leaves no retirement to the next: the grace
		# period killed is then the one after the flip.
		[ "$k" = --reset-flows ] && { opt=$k; x apply $opt "$old" >/dev/null || return 1; continue; }
		XNSG_TEST_CRASH_AT=$k x apply ${opt:-} "$new" >/dev/null 2>&1
		[ $? -eq 137 ] || { echo "$k: the test hook did not kill apply ${opt:-}"; return 1; }
		e=$(enforced); h=$(status_hash)
		case "$e" in
		old) [ "$h" = "$h_old" ] || { echo "$k: old enforced, status says $h"; return 1; } ;;
		new) [ "$h" = "$h_new" ] || { echo "$k: new enforced, status says $h"; return 1; } ;;
		*) echo "$k: neither policy enforced exactly ($e)"; return 1 ;;
		esac
		echo "note: killed at $k ${opt:-}: $e policy enforced, status agrees"
		# Killed past its flip, before its last record: the record (its
		# intent) bears the mark of that flip, so the next apply waits for
		# the readers of the old generation before it writes it.
		if [ "$k" = flipped ] && ! flip_marked; then
			echo "$k ${opt:-}: no mark of the flip in the record: the next apply would not wait"; return 1
		fi
		x apply "$new" >/dev/null || { echo "$k: the next apply failed"; return 1; }
		[ "$(enforced)" = new ] && [ "$(status_hash)" = "$h_new" ] || { echo "$k: not recovered"; return 1; }
		x apply ${opt:-} "$old" >/dev/null || return 1
	done
}

# The steps of an apply that keeps the active generation's tables.
KEPT_STEPS="locked staged recorded-intent pinned attached-one attached tables-kept recorded flows"

a0_state() {
	x --json status | python3 -c '
import json, sys
print(next((i["state"] for i in json.load(sys.stdin).get("interfaces", []) if i["name"] == "a0"), "none"))'
}

test_added_interface_keeps_the_tables() {
	# docs/DESIGN.md §8 "Tables kept": a0 added to the live policy (on a1)
	# gets its entry in the active generation before its hooks: no flip,
	# filtered from its first packet.  Killed at any step, a0 is filtered
	# or not hooked yet, never open while status says it is enforced, and
	# the next apply completes it.
	local p k e st steps="$WORK/kept.steps"
	p=$(base_policy)
	x detach --all >/dev/null && x apply -i a1 "$p" >/dev/null || return 1
	[ "$(enforced)" = open ] || { echo "a0 filtered before it was added"; return 1; }
	rm -f "$steps"
	XNSG_TEST_STEPS=$steps x apply -i a0 "$p" >/dev/null || return 1
	grep -qx tables-kept "$steps" && ! grep -qx flipped "$steps" ||
		{ echo "the tables were not kept: $(tr '\n' ' ' < "$steps")"; return 1; }
	[ "$(enforced)" = old ] && [ "$(a0_state)" = enforcing ] || { echo "a0 not enforced once added"; return 1; }
	for k in $KEPT_STEPS; do
		x detach --all >/dev/null && x apply -i a1 "$p" >/dev/null || return 1
		XNSG_TEST_CRASH_AT=$k x apply -i a0 "$p" >/dev/null 2>&1
		[ $? -eq 137 ] || { echo "$k: the test hook did not kill apply"; return 1; }
		e=$(enforced); st=$(a0_state)
		case "$e/$st" in
		old/*|open/none|open/apply-interrupted) ;;
		*) echo "$k: traffic says $e, status says a0 is $st"; return 1 ;;
		esac
		echo "note: killed at $k: a0 $e, status $st"
		x apply -i a0 "$p" >/dev/null || { echo "$k: the next apply failed"; return 1; }
		[ "$(enforced)" = old ] && [ "$(a0_state)" = enforcing ] || { echo "$k: not recovered"; return 1; }
	done
	x apply "$p" >/dev/null
}

test_first_apply_killed_at_every_step() {
	# A first apply killed at step K: either nothing or the policy is
	# enforced (never an unfiltered interface claimed as filtered), and
	# detach --all removes every hook, pin and record.
	local p k e st
	p=$(base_policy)
	x detach --all >/dev/null || return 1
	for k in $FIRST_STEPS; do
		XNSG_TEST_CRASH_AT=$k x apply "$p" >/dev/null 2>&1
		[ $? -eq 137 ] || { echo "$k: the test hook did not kill apply"; return 1; }
		e=$(enforced)
		st=$(x --json status | python3 -c 'import json,sys; print(json.load(sys.stdin).get("applied"))')
		case "$e/$st" in
		old/True|open/False) ;;
		*) echo "$k: traffic says $e, status says applied=$st"; return 1 ;;
		esac
		x detach --all >/dev/null || { echo "$k: detach --all failed"; return 1; }
		nothing_left || { echo "$k: detach left something"; return 1; }
	done
	x apply "$p" >/dev/null
}

# The ids of the pinned programs named (default: every one but TC
# ingress), one line.
prog_ids() {
	local n
	for n in ${*:-xnsg_xdp xnsg_tc_egress xnsg_fl_commit}; do
		bpftool -j prog show pinned "$XNSG_PIN_DIR/$n" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' || return 1
	done | tr '\n' ' '
}

test_first_apply_pins_what_an_update_reuses() {
	# A first apply loads its programs in parts over maps one part made
	# (user/datapath/load.c), pins them and opens them from the pins as an
	# update does: nothing is loaded twice, and the update after it keeps
	# the very programs.  The receive program no interface uses (TC
	# ingress, without --ingress tc) is not loaded; the first update that
	# needs it loads it alone and keeps every other program.
	local p ids log="$WORK/first.log"
	p=$(base_policy)
	x detach --all >/dev/null || return 1
	x -vvv apply "$p" >/dev/null 2>"$log" || { grep -v libbpf "$log"; return 1; }
	grep -q "adopting the datapath preloaded" "$log" && ! grep -q "loading the programs again" "$log" ||
		{ grep -v libbpf "$log"; echo "the first apply did not open what it preloaded"; return 1; }
	ids=$(prog_ids) && [ -n "$ids" ] || { echo "a program is not pinned"; return 1; }
	[ ! -e "$XNSG_PIN_DIR/xnsg_tc_ingress" ] || { echo "TC ingress loaded with no interface on it"; return 1; }
	x apply "$(swapped_policy)" >/dev/null || return 1
	[ "$(prog_ids)" = "$ids" ] || { echo "the update loaded programs again: $ids -> $(prog_ids)"; return 1; }
	[ "$(enforced)" = new ] || { echo "the update is not enforced"; return 1; }
	x apply "$p" --ingress tc >/dev/null || { echo "an update to TC ingress failed"; return 1; }
	[ "$(prog_ids)" = "$ids" ] || { echo "TC ingress loaded the other programs again: $ids -> $(prog_ids)"; return 1; }
	prog_ids xnsg_tc_ingress >/dev/null || { echo "TC ingress is not pinned"; return 1; }
	A tc filter show dev a0 ingress | grep -q xnsg_tc_ingress || { echo "no TC ingress filter"; return 1; }
	! tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "8081 not denied under TC ingress"; return 1; }
	x apply "$p" --ingress xdp >/dev/null
}

# The flow table's filter as `stats` reports it: 1 on, 0 off.
filter_on() {
	x stats --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["flows"]["filter_on"])'
}

test_flow_filter_on_and_off() {
	# The flow table's filter (docs/DESIGN.md §9 "Filter") is on once a
	# first apply made the table.  Programs loaded afresh over the pinned
	# table (the build mark removed: as another build's pins would lack
	# this one's) turn it off with a warning, connections still work; a
	# detach --all and an apply turn it on again.
	local p log="$WORK/filter.log"
	p=$(base_policy)
	x detach --all >/dev/null && x apply "$p" >/dev/null || return 1
	[ "$(filter_on)" = 1 ] || { echo "the filter is not on after a first apply"; return 1; }
	rm "$XNSG_PIN_DIR/xnsg_build" || return 1
	x apply "$p" >/dev/null 2>"$log" || { cat "$log"; return 1; }
	grep -q "its filter is off" "$log" || { cat "$log"; echo "no warning that the filter is off"; return 1; }
	[ "$(filter_on)" = 0 ] || { echo "the filter is on over a table another load made"; return 1; }
	[ "$(enforced)" = old ] || { echo "policy not enforced with the filter off"; return 1; }
	x apply "$p" >/dev/null || return 1
	[ "$(filter_on)" = 0 ] || { echo "an update turned the filter on again"; return 1; }
	x detach --all >/dev/null && x apply "$p" >/dev/null || return 1
	[ "$(filter_on)" = 1 ] || { echo "the filter is not on after detach --all and an apply"; return 1; }
	[ "$(enforced)" = old ] || { echo "policy not enforced with the filter on"; return 1; }
}

test_first_apply_loads_a_failed_preload_part_again() {
	# The first apply stages the policy into the preloaded maps while the
	# programs are verified (user/datapath/load.c): a part that fails
	# then is loaded again over those maps, and the apply enforces.
	local p n
	p=$(base_policy)
	for n in xnsg_xdp xnsg_tc_egress; do
		x detach --all >/dev/null || return 1
		XNSG_TEST_PRELOAD_FAIL=$n x apply "$p" >/dev/null || { echo "$n: the apply failed"; return 1; }
		prog_ids >/dev/null || { echo "$n: a program is not pinned"; return 1; }
		[ "$(enforced)" = old ] || { echo "$n: the policy is not enforced"; return 1; }
		x apply "$p" >/dev/null || { echo "$n: the update after it failed"; return 1; }
	done
}

test_detach_of_an_earlier_builds_pins() {
	# Pins of a build before xnsg_iface_idx (and the flow filter, and the
	# IPv4 deny map) lack those maps: the commands that open the pins say
	# so in one line, and `detach --all` still removes everything.
	local err="$WORK/older.log"
	x apply "$(base_policy)" >/dev/null || return 1
	rm "$XNSG_PIN_DIR/xnsg_iface_idx" "$XNSG_PIN_DIR/xnsg_ct_seen" "$XNSG_PIN_DIR/xnsg_denies4" || return 1
	x detach --all >/dev/null 2>"$err" || { cat "$err"; echo "detach failed on an earlier build's pins"; return 1; }
	grep -q "made by an earlier xnsg" "$err" || { cat "$err"; echo "no line saying the pins are older"; return 1; }
	[ ! -e "$XNSG_PIN_DIR" ] || { ls "$XNSG_PIN_DIR"; echo "pins remain"; return 1; }
	A ip link show a0 | grep -q xdp && { echo "XDP still attached to a0"; return 1; }
	x apply "$(base_policy)" >/dev/null || return 1
	[ "$(enforced)" = old ] || { echo "the policy is not enforced after applying again"; return 1; }
}

test_concurrent_applies_never_open() {
	# Two policies that both deny 8081, applied 20 times in overlapping
	# pairs while SYNs to 8081 keep coming: none may be answered.
	local p1 p2 hits="$WORK/hits" stop="$WORK/stop" i
	p1=$(base_policy)
	sed 's/"destinationPortRange": "8080"/"destinationPortRanges": ["8080", "8082"]/' "$p1" > "$WORK/p2.json"; p2="$WORK/p2.json"
	x apply "$p1" >/dev/null || return 1
	: > "$hits"; rm -f "$stop"
	( for i in $(seq 1 600); do
		[ -e "$stop" ] && break
		B timeout 1 nc -z -w 1 192.0.2.10 8081 >/dev/null 2>&1 && echo hit >> "$hits"
	  done ) &
	local probe=$!
	for i in $(seq 1 20); do
		x apply "$p1" >/dev/null 2>&1 & local a=$!
		x apply "$p2" >/dev/null 2>&1 & local b=$!
		wait $a || { touch "$stop"; wait $probe; echo "an apply failed"; return 1; }
		wait $b || { touch "$stop"; wait $probe; echo "an apply failed"; return 1; }
	done
	touch "$stop"; wait $probe
	[ ! -s "$hits" ] || { echo "8081 answered $(wc -l < "$hits") times during concurrent applies"; return 1; }
	[ "$(enforced)" = old ] || { echo "policy not enforced after the applies"; return 1; }
}

test_lock_says_who_holds_it() {
	local lock err="$WORK/lock.err"
	lock=$(ls "$XNSG_STATE_DIR"/*.lock | head -1)
	[ -n "$lock" ] || { echo "no lock file"; return 1; }
	flock "$lock" sleep 3 &
	local holder=$!
	sleep 0.3
	XNSG_LOCK_WAIT=1 x apply "$(base_policy)" >/dev/null 2>"$err" && { wait $holder; echo "apply ran while the lock was held"; return 1; }
	wait $holder
	grep -q "another xnsg holds" "$err" || { cat "$err"; return 1; }
	x apply "$(base_policy)" >/dev/null
}

test_clsact_deleted_by_hand() {
	# Someone deletes a0's clsact qdisc: status sees the egress hook gone,
	# apply repairs it, and detach never fails on it.
	x apply "$(base_policy)" >/dev/null || return 1
	A tc qdisc del dev a0 clsact || return 1
	x status | grep a0 | grep -q "egress missing" || { x status; echo "status does not see the missing egress hook"; return 1; }
	x apply "$(base_policy)" >/dev/null || return 1
	x status | grep a0 | grep -q "enforcing" || { x status; echo "apply did not repair a0"; return 1; }
	A tc qdisc del dev a0 clsact || return 1
	x detach -i a0 >/dev/null || { echo "detach failed on the missing qdisc"; return 1; }
	x apply "$(base_policy)" >/dev/null
}

test_another_instance_cannot_take_over() {
	local other="$WORK/bpf/other" err="$WORK/other.err"
	XNSG_PIN_DIR=$other x apply "$(base_policy)" >/dev/null 2>"$err" && { echo "a second instance took over a0"; XNSG_PIN_DIR=$other x detach --all; return 1; }
	grep -q "another xnsg instance" "$err" || { cat "$err"; return 1; }
	XNSG_PIN_DIR=$other x detach --all >/dev/null 2>&1
	[ "$(enforced)" = old ] || { echo "the first instance stopped enforcing"; return 1; }
}

test_pin_dir_owned_by_another_user() {
	local err="$WORK/own.err"
	chown 65534 "$XNSG_PIN_DIR" || return 1
	x apply "$(base_policy)" >/dev/null 2>"$err"; local rc=$?
	chown 0 "$XNSG_PIN_DIR"
	[ $rc -ne 0 ] || { echo "apply used a pin directory owned by another user"; return 1; }
	grep -q "must be root's" "$err" || { cat "$err"; return 1; }
}

test_json_errors_on_stdout() {
	local out
	out=$(x --json apply "$WORK/no-such-policy.json" 2>/dev/null)
	echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "error" in d, d' || { echo "stdout: $out"; return 1; }
	out=$(x --json detach -i nosuch0 2>/dev/null)
	echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "error" in d, d' || { echo "stdout: $out"; return 1; }
}

test_detach_leaves_nothing() {
	x detach -i a1 || return 1
	A tc filter show dev a1 egress | grep -q xnsg && { echo "a1 still has a filter"; return 1; }
	x detach --all || return 1
	[ ! -e "$XNSG_PIN_DIR" ] || { ls "$XNSG_PIN_DIR"; echo "pins remain"; return 1; }
	! ls "$XNSG_STATE_DIR"/*.json >/dev/null 2>&1 || { echo "the record remains"; return 1; }
	A ip link show a0 | grep -q xdp && { echo "XDP still attached to a0"; return 1; }
	A tc filter show dev a0 egress | grep -q xnsg && { echo "tc egress filter remains"; return 1; }
	tcp_ok "$NS_B" 192.0.2.10 8081 || { echo "traffic still filtered after detach"; return 1; }
}

TESTS=(baseline_without_xnsg apply_attaches tcp_allowed_and_denied_ipv4 tcp_allowed_and_denied_ipv6
       udp_allowed_and_denied ping_by_source_tag peer_attach_container stats_count_denies
       update_under_traffic switch_ingress_hook bad_policy_changes_nothing
       policy_filtering_nothing_refused verify_datapath_agrees
       outbound_only_replies_follow_state udp_flow_idles_out long_flow_survives_apply_reset_cuts_it
       flush_connection_cuts_flows iperf3_through_xnsg fragmented_udp pmtu_discovery
       full_flow_table_evicts_and_fails_closed update_killed_at_every_step added_interface_keeps_the_tables
       first_apply_killed_at_every_step first_apply_pins_what_an_update_reuses flow_filter_on_and_off
       detach_of_an_earlier_builds_pins
       first_apply_loads_a_failed_preload_part_again
       concurrent_applies_never_open lock_says_who_holds_it
       clsact_deleted_by_hand another_instance_cannot_take_over pin_dir_owned_by_another_user
       json_errors_on_stdout detach_leaves_nothing)
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
	listen_tcp "$NS_B" 9000; listen_tcp "$NS_B" 9001; listen_tcp "$NS_C" 7000; listen_tcp "$NS_C" 7001
	sleep 0.3
	run_tests
}

main
