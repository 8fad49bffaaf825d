#!/usr/bin/env bash
# Flow-log end-to-end tests (docs/DESIGN.md §4): traffic of known shape
# between network namespaces this script creates, through xnsg, with the
# exporter (`xnsg flowlog`) writing JSON lines, Azure flow-log files of
# both formats and IPFIX to a real nfcapd, the IPFIX stream captured by
# tshark.  Each allowed flow must get one B and one E record and its
# packets and bytes exactly as nftables counted them at the client (the
# L3 length of each packet, as the datapath counts), and what the
# interface carried must all be in the records.  Namespaces, pins, files
# are removed on exit, failure included; all traffic is bounded.
#
#   tests/e2e/flowlog.sh [path/to/xnsg] [TEST...]
set -u

XNSG=$(realpath "${1:-build/xnsg}")
shift || true
ID="xnsg-fl-$$"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
T="$REPO/tests/e2e/flowlog.py"
BG_PIDS=""
. "$REPO/tools/topology.sh"
topo_init

# ---- fixtures ---------------------------------------------------------

# The demo policy with short timeouts, so UDP and ICMP flows end (and get
# their E) within the test.
policy() {
	"$PY" - "$REPO/examples/demo.json" "$WORK/policy.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["flowTimeouts"] = {"tcpTransitory": 2, "udp": 2, "udpStream": 2, "other": 2}
json.dump(p, open(sys.argv[2], "w"), indent=1)
EOF
	echo "$WORK/policy.json"
}

# The traffic of the main test: five TCP connections of known sizes, three
# refused, a UDP exchange and a ping, over IPv4 and IPv6.
flows_json() {
	"$PY" - > "$WORK/flows.json" <<'EOF'
import json
v4, v6 = ("192.0.2.20", "192.0.2.10"), ("2001:db8:1::20", "2001:db8:1::10")
f = []
for i in range(1, 6):
    f.append(dict(name=f"tcp{i}", proto="tcp", client=v4[0], server=v4[1], sport=40000 + i,
                  port=8080, bytes=7000 * i, nsg="web-nsg", rule="AllowWeb"))
for i in range(1, 3):
    f.append(dict(name=f"tcp6-{i}", proto="tcp", client=v6[0], server=v6[1], sport=40010 + i,
                  port=8080, bytes=30000 * i, nsg="web-nsg", rule="AllowWeb"))
for i in range(1, 4):
    f.append(dict(name=f"refused{i}", proto="tcp", client=v4[0], server=v4[1], sport=40030 + i,
                  port=8081, denied=True, nsg="web-nsg", rule="DenyTcp8081FromVnet"))
f.append(dict(name="refused6", proto="tcp", client=v6[0], server=v6[1], sport=40034, port=8081,
              denied=True, nsg="web-nsg", rule="DenyTcp8081FromVnet"))
f.append(dict(name="udp", proto="udp", client=v4[0], server=v4[1], sport=40021, port=5353,
              count=3, size=200, nsg="web-nsg", rule="AllowDnsUdp"))
f.append(dict(name="udp6", proto="udp", client=v6[0], server=v6[1], sport=40022, port=5353,
              count=4, size=300, nsg="web-nsg", rule="AllowDnsUdp"))
f.append(dict(name="ping", proto="icmp", client=v4[0], server=v4[1], sport=0, port=0,
              nsg="web-nsg", rule="AllowPing"))
f.append(dict(name="ping6", proto="icmpv6", client=v6[0], server=v6[1], sport=0, port=0,
              nsg="web-nsg", rule="AllowPingV6"))
print(json.dumps(f))
EOF
}

# Static neighbours and no router solicitations: nothing on a0 but IP
# traffic the policy judges, so the interface's counters can be compared
# with the records.
quiet_link() {
	B ip link set dev b0 gso_max_segs 1
	local ma mb
	ma=$(A cat /sys/class/net/a0/address) mb=$(B cat /sys/class/net/b0/address)
	B sysctl -qw net.ipv6.conf.b0.accept_ra=0 net.ipv6.conf.b0.router_solicitations=0
	B ip neigh replace 192.0.2.10 lladdr "$ma" dev b0 nud permanent
	B ip -6 neigh replace 2001:db8:1::10 lladdr "$ma" dev b0 nud permanent
	A ip neigh replace 192.0.2.20 lladdr "$mb" dev a0 nud permanent
	A ip -6 neigh replace 2001:db8:1::20 lladdr "$mb" dev a0 nud permanent
	# Duplicate address detection of the link-local addresses, and the
	# MLD reports that follow it, are ND/ICMPv6 the datapath passes
	# unjudged (and does not log): let them finish first.
	local i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(A ip -6 addr show dev a0 tentative)$(B ip -6 addr show dev b0 tentative)" ] && break
		sleep 0.1
	done
	sleep 2
}

counters() { # NS IF FILE: rx packets, rx bytes, tx packets, tx bytes
	local d=/sys/class/net/$2/statistics
	ip netns exec "$1" sh -c "echo \$(cat $d/rx_packets $d/rx_bytes $d/tx_packets $d/tx_bytes)" > "$3"
}

# Start the exporter in namespace A with the given options; its pid in FL_PID.
exporter() {
	ip netns exec "$NS_A" "$XNSG" flowlog "$@" 2>> "$WORK/flowlog.err" &
	FL_PID=$!
	BG_PIDS="${BG_PIDS:-} $FL_PID"
}
stop_exporter() { # [SIGNAL]: the exporter's exit status
	kill -"${1:-TERM}" "$FL_PID" 2>/dev/null
	wait "$FL_PID"
}

# Wait (at most $2 s) until file $1 has a line matching $3, $4 times.
wait_lines() {
	local i c
	for ((i = 0; i < $2 * 10; i++)); do
		c=$(grep -c -- "$3" "$1" 2>/dev/null)
		[ "${c:-0}" -ge "$4" ] && return 0
		sleep 0.1
	done
	return 1
}

stat_of() { # KEY.PATH from `xnsg stats --json`
	x stats --json | "$PY" -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[k]
print(v)' "$1"
}

# ---- tests ------------------------------------------------------------

test_usage_errors() {
	x flowlog 2> "$WORK/u.err"; [ $? -eq 2 ] || { echo "no output must be a usage error"; return 1; }
	grep -q -- "--jsonl" "$WORK/u.err" || { cat "$WORK/u.err"; return 1; }
	x flowlog --jsonl - --azure-format nsg-v2 2>/dev/null; [ $? -eq 2 ] || { echo "--azure-format without --azure"; return 1; }
	x flowlog --jsonl - --interval 0 2>/dev/null; [ $? -eq 2 ] || { echo "--interval 0 accepted"; return 1; }
	x flowlog --help | grep -q -- "--azure-format" || { echo "--help lacks --azure-format"; return 1; }
	x flowlog --jsonl - --once > /dev/null 2> "$WORK/u.err" && { echo "ran without a datapath"; return 1; }
	grep -q "apply first" "$WORK/u.err" || { cat "$WORK/u.err"; return 1; }
}

test_apply() {
	x apply "$(policy)" > /dev/null && quiet_link
}

# The main run: every output at once, the traffic, then the exporter
# stopped with SIGTERM (which must flush and close everything).
test_known_traffic() {
	local d="$WORK/t" port=4739 f
	mkdir -p "$d/nf" "$d/azure"
	flows_json
	"$PY" "$T" nft-rules "$WORK/flows.json" > "$d/rules.nft" && B nft -f "$d/rules.nft" || return 1
	ip netns exec "$NS_A" nfcapd -w "$d/nf" -b 127.0.0.1 -p $port -t 60 > "$d/nfcapd.log" 2>&1 & local nfpid=$!
	ip netns exec "$NS_A" timeout 60 tshark -Q -i lo -f "udp port $port" -w "$d/ipfix.pcapng" > "$d/tshark.log" 2>&1 & local tspid=$!
	# Both listening before the first IPFIX message (the templates): tshark
	# has written its capture file's header once it captures, nfcapd's
	# socket is bound.  Slow to start on a loaded machine: wait up to 20 s.
	local w
	for ((w = 0; w < 200; w++)); do
		[ -s "$d/ipfix.pcapng" ] && ip netns exec "$NS_A" ss -Hlun "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	[ $w -lt 200 ] || { cat "$d/tshark.log" "$d/nfcapd.log"; echo "tshark or nfcapd not listening after 20 s"; return 1; }
	sleep 0.3
	counters "$NS_A" a0 "$d/if.before"
	exporter --jsonl "$d/fl.jsonl" --azure "$d/azure" --azure-format both \
		--ipfix 127.0.0.1:$port --interval 1
	sleep 0.5
	for f in 1 2 3 4 5; do B "$PY" "$T" tcp 192.0.2.10 8080 --sport $((40000 + f)) --bytes $((7000 * f)) || return 1; done
	for f in 1 2; do B "$PY" "$T" tcp 2001:db8:1::10 8080 --sport $((40010 + f)) --bytes $((30000 * f)) || return 1; done
	for f in 1 2 3; do B "$PY" "$T" refused 192.0.2.10 8081 --sport $((40030 + f)) || return 1; done
	B "$PY" "$T" refused 2001:db8:1::10 8081 --sport 40034 || return 1
	B "$PY" "$T" udp 192.0.2.10 5353 --sport 40021 --count 3 --size 200 || return 1
	B "$PY" "$T" udp 2001:db8:1::10 5353 --sport 40022 --count 4 --size 300 || return 1
	B ping -q -c 3 -i 0.2 192.0.2.10 > /dev/null || return 1
	B ping -6 -q -c 3 -i 0.2 2001:db8:1::10 > /dev/null || return 1
	# Eleven allowed flows: each ends (FIN, or its 2 s timeout) and gets its E.
	wait_lines "$d/fl.jsonl" 15 '"state":"E"' 11 || { echo "not every flow ended in time"; }
	stop_exporter TERM || { echo "the exporter did not exit 0 on SIGTERM"; cat "$WORK/flowlog.err"; return 1; }
	counters "$NS_A" a0 "$d/if.after"
	B nft -j list table inet xfl > "$d/nft.json"
	sleep 0.3
	kill -INT $tspid; kill -TERM $nfpid; wait $tspid $nfpid 2>/dev/null
	grep -q "^flowlog: .* records" "$WORK/flowlog.err" || { echo "no summary on stderr"; cat "$WORK/flowlog.err"; return 1; }
	"$PY" "$T" check traffic "$d/fl.jsonl" "$d/nft.json" "$WORK/flows.json"
	local rc=$?
	echo "note: $(grep -m1 '"rule":"AllowWeb".*"state":"E"' "$d/fl.jsonl")"
	echo "note: $(grep -m1 '"state":"D".*"dport":8081' "$d/fl.jsonl")"
	return $rc
}

test_interface_counters() {
	"$PY" "$T" check iface "$WORK/t/fl.jsonl" a0 "$WORK/t/if.before" "$WORK/t/if.after"
}

test_azure_both_formats() {
	local f
	"$PY" "$T" check azure "$WORK/t/azure" "$WORK/t/fl.jsonl" || return 1
	f=$(find "$WORK/t/azure" -path '*flowLogResourceID=*' -name PT1H.json | head -1)
	echo "note: v4: $(grep -o '"flowTuples":\["[^"]*"' "$f" | head -1)"
	f=$(find "$WORK/t/azure" -path '*resourceId=*' -name PT1H.json | head -1)
	echo "note: v2: $(grep -o '"flowTuples":\["[^"]*"' "$f" | head -1)"
}

test_nfcapd_reads_ipfix() {
	local out="$WORK/t/nfdump.csv"
	ls "$WORK"/t/nf/nfcapd.* > /dev/null 2>&1 || { echo "nfcapd stored no file"; cat "$WORK/t/nfcapd.log"; return 1; }
	nfdump -R "$WORK/t/nf" -q -o "fmt:%sa,%da,%sp,%dp,%pr,%ipkt,%ibyt,%opkt,%obyt" 2> "$WORK/t/nfdump.err" | tr -d ' ' > "$out"
	[ -s "$out" ] || { cat "$WORK/t/nfdump.err"; echo "nfdump read nothing"; return 1; }
	"$PY" "$T" check nfdump "$out" "$WORK/t/fl.jsonl" "$WORK/flows.json" || return 1
	echo "note: nfdump -o long: $(nfdump -R "$WORK/t/nf" -q -o long 'proto tcp and port 8080 and packets > 0' 2>/dev/null | head -1 | tr -s ' ')"
}

test_tshark_decodes_ipfix() {
	local cap="$WORK/t/ipfix.pcapng" n bad
	[ -s "$cap" ] || { cat "$WORK/t/tshark.log"; echo "no capture"; return 1; }
	n=$(tshark -r "$cap" -d udp.port==4739,cflow -Y 'cflow.version == 10' 2>/dev/null | wc -l)
	bad=$(tshark -r "$cap" -d udp.port==4739,cflow -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || { echo "tshark decoded no IPFIX message"; return 1; }
	[ "$bad" -eq 0 ] || { tshark -r "$cap" -d udp.port==4739,cflow -Y '_ws.malformed || _ws.expert.severity >= error' | head; return 1; }
	echo "note: tshark: $n IPFIX messages, none malformed; a flow: $(tshark -r "$cap" -d udp.port==4739,cflow -V -Y 'cflow.dstport == 8080' 2>/dev/null |
		grep -m8 -E '^ +(SrcAddr|DstAddr|SrcPort|DstPort|Protocol|Packets|Octets|Flow End Reason):' | sed 's/^ *//' | tr '\n' ';')"
}

test_stats_accounting() {
	local s="$WORK/stats.json" lines
	x stats --json > "$s" || return 1
	lines=$(wc -l < "$WORK/t/fl.jsonl")
	"$PY" - "$s" "$lines" <<'EOF' || return 1
import json, sys
f = json.load(open(sys.argv[1]))["flowlog"]
lines = int(sys.argv[2])
need = ["records", "outputs", "events_lost", "deny_records_suppressed", "flows_evicted_before_export",
        "ipfix_send_failures"]
missing = [k for k in need if k not in f]
assert not missing, f"stats lacks {missing}"
o = f["outputs"]
assert o["jsonl"]["exported"] == lines, (o["jsonl"], lines)
assert o["ipfix"]["exported"] == lines and o["ipfix"]["failed"] == 0, o["ipfix"]
assert f["records"] == lines, (f["records"], lines)
assert f["events_lost"] == 0 and f["ipfix_send_failures"] == 0, f
assert f["logging"] is False, "logging stays on after the exporter stopped"
print(f"note: stats: {lines} records, jsonl {o['jsonl']}, ipfix {o['ipfix']}, azure {o['azure']}")
EOF
}

test_one_exporter_at_a_time() {
	exporter --jsonl "$WORK/one.jsonl" --interval 1
	sleep 1
	x flowlog --jsonl "$WORK/two.jsonl" 2> "$WORK/two.err"
	local rc=$?
	stop_exporter TERM
	[ $rc -eq 1 ] || { echo "a second exporter ran (exit $rc)"; return 1; }
	grep -q "pid $FL_PID: flowlog" "$WORK/two.err" || { cat "$WORK/two.err"; echo "the refusal does not name pid $FL_PID"; return 1; }
	echo "note: $(cat "$WORK/two.err")"
}

test_sighup_reopens_jsonl() {
	local f="$WORK/hup.jsonl"
	exporter --jsonl "$f" --interval 1
	sleep 0.5
	B ping -q -c 1 192.0.2.10 > /dev/null
	wait_lines "$f" 5 '"proto":1' 1 || { stop_exporter; echo "no record before the rotation"; return 1; }
	mv "$f" "$f.1"
	kill -HUP "$FL_PID"
	sleep 0.3
	B "$PY" "$T" tcp 192.0.2.10 8080 --sport 40051 --bytes 100 || return 1
	wait_lines "$f" 5 '"sport":40051' 2 || { stop_exporter; echo "nothing written to the reopened file"; return 1; }
	stop_exporter TERM || return 1
	! grep -q '"sport":40051' "$f.1" || { echo "records went to the rotated file"; return 1; }
}

# A flow that outlives its exporter: the exporter is stopped and started
# again while it streams; its records still add up to its traffic, once.
test_restart_mid_stream() {
	local f="$WORK/restart.jsonl"
	"$PY" - > "$WORK/rflows.json" <<'EOF'
import json
print(json.dumps([dict(name="stream", proto="tcp", client="192.0.2.20", server="192.0.2.10",
                       sport=40061, port=8080, nsg="web-nsg", rule="AllowWeb")]))
EOF
	"$PY" "$T" nft-rules "$WORK/rflows.json" > "$WORK/r.nft"
	B nft delete table inet xfl 2>/dev/null; B nft -f "$WORK/r.nft" || return 1
	exporter --jsonl "$f" --interval 1
	B "$PY" "$T" stream 192.0.2.10 8080 --sport 40061 --seconds 4 --rate 200000 & local cl=$!
	sleep 1.6
	stop_exporter TERM || return 1
	sleep 0.5
	exporter --jsonl "$f" --interval 1
	sleep 0.8
	stop_exporter KILL
	exporter --jsonl "$f" --interval 1
	wait $cl || { echo "the stream failed"; return 1; }
	wait_lines "$f" 8 '"sport":40061.*"state":"E"' 1 || echo "no E yet"
	stop_exporter TERM || return 1
	B nft -j list table inet xfl > "$WORK/r.json"
	"$PY" "$T" check traffic "$f" "$WORK/r.json" "$WORK/rflows.json" || return 1
	echo "note: $(grep -c '"sport":40061' "$f") records for the flow over three exporter runs (one killed)"
}

# Flows created faster than the exporter drains a ring buffer of 4 KiB
# (25 events): each is exported or counted lost, exactly, and the sweep
# still gives every one its B.
test_tiny_ring_counts_every_loss() {
	local f="$WORK/ring.jsonl" c0 c1 n=300 s
	x detach --all > /dev/null || return 1
	XNSG_RINGBUF_BYTES=4096 x apply "$WORK/policy.json" > /dev/null || return 1
	quiet_link
	[ "$(bpftool map show pinned "$XNSG_PIN_DIR/xnsg_events" 2>/dev/null | grep -o 'max_entries [0-9]*')" = "max_entries 4096" ] ||
		{ echo "the ring buffer is not 4096 bytes"; return 1; }
	exporter --jsonl "$f" --interval 1
	sleep 0.5
	kill -STOP "$FL_PID"
	c0=$(stat_of flows.created)
	B "$PY" "$REPO/tests/e2e/traffic.py" udp-spray 192.0.2.10 20000 --count $n > /dev/null || return 1
	sleep 0.3
	c1=$(stat_of flows.created)
	kill -CONT "$FL_PID"
	wait_lines "$f" 10 '"state":"B".*"dport":2[0-9][0-9][0-9][0-9]' $n || echo "not every B yet"
	stop_exporter TERM || return 1
	x stats --json > "$WORK/ring.stats"
	"$PY" - "$WORK/ring.stats" "$f" $((c1 - c0)) $n <<'EOF'
import json, sys
fl = json.load(open(sys.argv[1]))["flowlog"]
recs = [json.loads(l) for l in open(sys.argv[2])]
created, n = int(sys.argv[3]), int(sys.argv[4])
b = [r for r in recs if r["state"] == "B" and r["proto"] == 17 and 20000 <= r["dport"] < 20000 + n]
from_events = len(b) - fl["begin_swept"]
lost = fl["begin_events_lost"]
assert created == n, f"{created} flows created, {n} sent"
assert lost > 0, "the tiny ring lost nothing: the test proves nothing"
assert from_events + lost == created, f"{from_events} B from events + {lost} lost != {created} created"
assert len(b) == n and len({(r["sport"], r["dport"]) for r in b}) == n, f"{len(b)} B records for {n} flows"
assert fl["begin_swept"] == lost, f"the sweep made {fl['begin_swept']} B, {lost} events were lost"
print(f"note: {created} flows: {from_events} B records from events + {lost} events lost = {created}; "
      f"the sweep wrote the {lost} missing B")
EOF
}

# What a user types: JSON lines and IPFIX at once, a sweep a second, ^C.
test_cli_as_a_user_runs_it() {
	local f="$WORK/user.jsonl" out="$WORK/user.nf"
	mkdir -p "$out"
	ip netns exec "$NS_A" nfcapd -w "$out" -b 127.0.0.1 -p 9995 -t 60 > /dev/null 2>&1 & local nfpid=$!
	sleep 1
	exporter --jsonl "$f" --ipfix 127.0.0.1:9995 --interval 1
	sleep 0.5
	B ping -q -c 2 -i 0.2 192.0.2.10 > /dev/null
	wait_lines "$f" 5 '"state":"C"' 1 || { stop_exporter; echo "no C record after a second"; return 1; }
	stop_exporter INT || { echo "^C did not exit 0"; return 1; }
	kill -TERM $nfpid; wait $nfpid 2>/dev/null
	[ "$(nfdump -R "$out" -q -o csv 2>/dev/null | grep -c 192.0.2.20)" -ge 1 ] || { echo "nfcapd got nothing on 9995"; return 1; }
	echo "note: $(tail -1 "$WORK/flowlog.err")"
}

TESTS=(usage_errors apply known_traffic interface_counters azure_both_formats nfcapd_reads_ipfix
       tshark_decodes_ipfix stats_accounting one_exporter_at_a_time sighup_reopens_jsonl
       restart_mid_stream tiny_ring_counts_every_loss cli_as_a_user_runs_it)
[ $# -gt 0 ] && TESTS=("$@")

main() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "flowlog e2e: SKIP: needs root"; echo "0 passed, 0 failed, ${#TESTS[@]} skipped"; return 0
	fi
	need ip ping timeout nft nfcapd nfdump tshark bpftool
	[ -x "$PY" ] || { echo "flowlog e2e: SKIP: no python3"; echo "0 passed, 0 failed, ${#TESTS[@]} skipped"; return 0; }
	if ! setup > "$WORK/setup.log" 2>&1; then
		cat "$WORK/setup.log"
		echo "flowlog e2e: setup failed"; echo "0 passed, 1 failed"; return 1
	fi
	# Servers for every test (bounded: they stop by themselves).
	A "$PY" "$T" serve-tcp :: 8080 --lifetime 170 & BG_PIDS="$BG_PIDS $!"
	A "$PY" "$T" serve-udp :: 5353 --lifetime 170 & BG_PIDS="$BG_PIDS $!"
	sleep 0.3
	BEFORE_TEST=clear_exporter_log ON_FAIL=show_exporter_log run_tests
}

clear_exporter_log() { : > "$WORK/flowlog.err"; }
show_exporter_log() { [ -s "$WORK/flowlog.err" ] && sed 's/^/    exporter: /' "$WORK/flowlog.err" | tail -5; return 0; }

main
