#!/usr/bin/env bash
# make bench / make bench-quick: measurements, not tests.  Writes
# bench/results.json, bench/RESULTS.md and bench/plots/*.svg.
#
#   bench/run.sh BUILD_DIR [--quick]
#
# Every figure is a median of repetitions measured side by side in this one
# run, reported with its ratio to a baseline of the same run: the machine
# is shared and noisy, absolute numbers vary.
set -u
BUILD=$(realpath "${1:-build}")
QUICK=0; [ "${2:-}" = "--quick" ] && QUICK=1
XNSG="$BUILD/xnsg" TOOL="$BUILD/xnsg-bench"
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/bench"
ID="xnsg-bench-$$"
NS_S="$ID-s" NS_R="$ID-r"
WORK=$(mktemp -d "/tmp/$ID.XXXX")
export XNSG_PIN_DIR="$WORK/bpf/xnsg" XNSG_BENCH_IF=r0
JSONL="$WORK/results.jsonl"

if [ $QUICK -eq 1 ]; then
	COUNTS=(1 1000); REPS=1; SECS=2
else
	COUNTS=(1 100 1000 4000); REPS=3; SECS=4
fi

cleanup() {
	set +e
	ip netns exec "$NS_R" "$XNSG" detach --all >/dev/null 2>&1
	ip netns del "$NS_S" 2>/dev/null; ip netns del "$NS_R" 2>/dev/null
	umount "$WORK/bpf" 2>/dev/null
	rm -f "/run/xnsg/$(echo "$XNSG_PIN_DIR" | tr / _).json"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "make bench needs root"; exit 1; }
for c in ip nft iptables-restore xdp-filter python3 taskset; do
	command -v "$c" >/dev/null || { echo "bench: '$c' is missing (make deps)"; exit 1; }
done
R() { ip netns exec "$NS_R" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }
note() { printf '%s\n' "$*" >&2; }
emit() { printf '%s\n' "$*" >> "$JSONL"; }

setup() {
	mkdir -p "$WORK/bpf" && mount -t bpf bpf "$WORK/bpf" || return 1
	ip netns add "$NS_S" && ip netns add "$NS_R" || return 1
	ip link add s0 netns "$NS_S" type veth peer name r0 netns "$NS_R" || return 1
	S ip link set lo up; R ip link set lo up
	S ip addr add 198.51.100.1/24 dev s0; R ip addr add 10.9.1.4/24 dev r0
	S ip link set s0 up; R ip link set r0 up
	# Frames from the generator are IP to 10.9.1.4 with r0's MAC.
	R sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0
	sleep 0.5
}

# ---- filters: each installs N rules whose last one matches (and drops) --

rules_iptables() { # N
	{
		echo "*raw"; echo ":PREROUTING ACCEPT [0:0]"
		for ((i = 0; i < $1 - 1; i++)); do
			echo "-A PREROUTING -s 198.$((18 + (i >> 16 & 1))).$((i >> 8 & 255)).$((i & 255))/32 -p tcp --dport $((1000 + i % 60000)) -j DROP"
		done
		echo "-A PREROUTING -p udp --dport 443 -j DROP"; echo "COMMIT"
	} > "$WORK/ipt.rules"
	R iptables-restore < "$WORK/ipt.rules"
}
unrules_iptables() { R iptables -t raw -F PREROUTING; }

rules_nft_linear() {
	{
		echo "table netdev xb { chain c { type filter hook ingress device r0 priority 0;"
		for ((i = 0; i < $1 - 1; i++)); do
			echo "ip saddr 198.$((18 + (i >> 16 & 1))).$((i >> 8 & 255)).$((i & 255)) tcp dport $((1000 + i % 60000)) drop"
		done
		echo "udp dport 443 drop"; echo "} }"
	} > "$WORK/nft.rules"
	R nft -f "$WORK/nft.rules"
}
unrules_nft_linear() { R nft delete table netdev xb; }

rules_nft_set() {
	{
		echo "table netdev xb { set s { type ipv4_addr . inet_service; flags interval;"
		printf 'elements = { 0.0.0.0/0 . 443'
		for ((i = 0; i < $1 - 1; i++)); do
			printf ', 198.%d.%d.%d . %d' $((18 + (i >> 16 & 1))) $((i >> 8 & 255)) $((i & 255)) $((1000 + i % 60000))
		done
		echo " } }"
		echo "chain c { type filter hook ingress device r0 priority 0; ip saddr . th dport @s drop } }"
	} > "$WORK/nftset.rules"
	R nft -f "$WORK/nftset.rules"
}
unrules_nft_set() { R nft delete table netdev xb; }

rules_xdp_filter() { # xdp-filter matches sets of addresses/ports, not ordered rules
	R xdp-filter load r0 -m native -f ipv4,udp,tcp || return 1
	for ((i = 0; i < $1 - 1 && i < 1000; i++)); do
		R xdp-filter ip "198.$((18 + (i >> 16 & 1))).$((i >> 8 & 255)).$((i & 255))" -m src >/dev/null || return 1
	done
	R xdp-filter port 443 -p udp -m dst
}
unrules_xdp_filter() { R xdp-filter unload r0 >/dev/null 2>&1 || R ip link set dev r0 xdp off; }

rules_xdp_drop() { R "$TOOL" xdpdrop r0; }
unrules_xdp_drop() { R ip link set dev r0 xdp off 2>/dev/null; R ip link set dev r0 xdpgeneric off 2>/dev/null; }

rules_xnsg() {
	mkdir -p "$WORK/pol$1"
	XNSG_BENCH_DENY_LAST=1 XNSG_BENCH_ONE_LEVEL=1 "$TOOL" genpolicy "$1" "$WORK/pol$1" || return 1
	R "$XNSG" apply "$WORK/pol$1/policy.json" >/dev/null
}
unrules_xnsg() { R "$XNSG" detach --all >/dev/null; }

rules_none() { :; }
unrules_none() { :; }

# Packets the receiver took in per second while the generator ran.
measure() {
	local mac rx0 rx1 sent
	mac=$(R cat /sys/class/net/r0/address)
	rx0=$(R cat /sys/class/net/r0/statistics/rx_packets)
	sent=$(S taskset -c 0 "$TOOL" pktgen s0 "$mac" "$SECS" 256) || return 1
	rx1=$(R cat /sys/class/net/r0/statistics/rx_packets)
	python3 -c "print('%.4f %.4f' % (($rx1 - $rx0) / $SECS / 1e6, $sent / $SECS / 1e6))"
}

median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

side_by_side() {
	local filters=(none iptables nft_linear nft_set xdp_filter xdp_drop xnsg)
	for n in "${COUNTS[@]}"; do
		for f in "${filters[@]}"; do
			[ "$f" = none ] || [ "$f" = xdp_drop ] && [ "$n" != "${COUNTS[0]}" ] && continue
			if ! "rules_$f" "$n" > "$WORK/$f.log" 2>&1; then
				note "bench: $f with $n rules failed to install: $(tail -1 "$WORK/$f.log")"
				"unrules_$f" >/dev/null 2>&1
				continue
			fi
			local rx=() tx=()
			for ((r = 0; r < REPS; r++)); do
				read -r a b < <(measure) || break
				rx+=("$a"); tx+=("$b")
			done
			"unrules_$f" >/dev/null 2>&1
			[ ${#rx[@]} -gt 0 ] || continue
			local m t
			m=$(median "${rx[@]}"); t=$(median "${tx[@]}")
			note "  $f, $n rules: $m Mpps received ($t Mpps sent)"
			emit "{\"kind\": \"pps\", \"filter\": \"$f\", \"rules\": $n, \"mpps\": $m, \"sent_mpps\": $t, \"runs\": [$(IFS=,; echo "${rx[*]}")]}"
		done
	done
}

# Seconds a command takes (wall clock), median of REPS.
timed() {
	local v=()
	for ((r = 0; r < REPS; r++)); do
		local t0 t1
		t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || return 1; t1=$(date +%s.%N)
		v+=("$(python3 -c "print($t1 - $t0)")")
	done
	median "${v[@]}"
}

control_plane() {
	local sizes=(100 1000 4000)
	for n in "${sizes[@]}" "4000:100000"; do
		local rules=${n%%:*} prefixes=0 dir="$WORK/cp-$n"
		[[ $n == *:* ]] && prefixes=${n##*:}
		mkdir -p "$dir"
		XNSG_BENCH_ONE_LEVEL=0 "$TOOL" genpolicy "$rules" $([ "$prefixes" -gt 0 ] && echo "$prefixes") "$dir" || continue
		local tc ta tu
		tc=$(timed "$XNSG" check "$dir/policy.json")
		ta=$(timed R "$XNSG" apply "$dir/policy.json")
		# An update while 1 s of traffic flows: the apply is timed alone.
		S taskset -c 0 "$TOOL" pktgen s0 "$(R cat /sys/class/net/r0/address)" 1 16 >/dev/null &
		tu=$(timed R "$XNSG" apply "$dir/policy.json")
		wait
		local mem
		mem=$(bpftool map show -j 2>/dev/null | python3 -c '
import json, sys
maps = json.load(sys.stdin)
print(sum(m.get("bytes_memlock", 0) for m in maps if m.get("name", "").startswith("xnsg_")))')
		R "$XNSG" detach --all >/dev/null
		note "  control plane, $rules rules x2 NSGs, $prefixes tag prefixes: check ${tc}s, apply ${ta}s, update ${tu}s"
		emit "{\"kind\": \"control\", \"rules\": $rules, \"prefixes\": $prefixes, \"check_s\": $tc, \"apply_s\": $ta, \"update_s\": $tu, \"map_bytes\": ${mem:-0}}"
	done
}

note "bench: machine $(uname -r), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
setup || { echo "bench: setup failed"; exit 1; }
note "bench: classifier cost (BPF_PROG_TEST_RUN)"
"$TOOL" classify $([ $QUICK -eq 1 ] && echo --quick) | sed 's/^{/{"kind": "classify", /' >> "$JSONL" || exit 1
note "bench: side by side on real packets (${SECS}s x $REPS per point)"
side_by_side
note "bench: control plane"
control_plane
python3 "$REPO/bench/report.py" "$JSONL" "$OUT" "$QUICK" || exit 1
note "bench: wrote $OUT/RESULTS.md, $OUT/results.json, $OUT/plots/"
