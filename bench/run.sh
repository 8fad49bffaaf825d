#!/usr/bin/env bash
# make bench / make bench-quick: measurements, not tests.  Writes
# bench/results.json, bench/RESULTS.md and bench/plots/*.svg.
#
#   bench/run.sh BUILD_DIR [--quick]
#
# Every figure is a median of repetitions measured side by side in this one
# run, reported with its ratio to a baseline of the same run: the machine
# is shared and noisy, absolute numbers vary.  A step that fails becomes a
# row saying so (and why) in RESULTS.md; it never stops the run.
#
# Environment: BENCH_KEEP=1 keeps the work directory (logs, policies);
# BENCH_CPU (default 0) is the CPU the generator is pinned to;
# BENCH_PARTS (default "classify packets control goals flowlog") the parts run;
# BENCH_BASELINE=DIR another build directory (say, of the commit before a
# change) measured side by side with this one in the same run: its xnsg in
# every packets block and in the control-plane goals, its xnsg-bench
# classify and ctmem alternated with this build's (goals 2 and 4).
# For a developer's quicker look at one part (the figures are not the
# run's of record then): BENCH_COUNTS (rule counts, say "1 1000"),
# BENCH_REPS (repetitions of a packets point), BENCH_FILTERS (the packets
# part's filters of the IPv4 last-rule traffic, say "xdp_drop xnsg"),
# BENCH_TRAFFIC (default "v4 near v6", the packets part's traffic).
set -u
export LC_NUMERIC=C # $EPOCHREALTIME and printf with a decimal point
BUILD=$(realpath "${1:-build}")
QUICK=0; [ "${2:-}" = "--quick" ] && QUICK=1
XNSG="$BUILD/xnsg" TOOL="$BUILD/xnsg-bench"
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/bench"
ID="xnsg-bench-$$"
NS_S="$ID-s" NS_R="$ID-r"
WORK=$(mktemp -d "/tmp/$ID.XXXX")
CPU=${BENCH_CPU:-0}
export XNSG_PIN_DIR="$WORK/bpf/xnsg" XNSG_STATE_DIR="$WORK/run" XNSG_BENCH_IF=r0
JSONL="$WORK/results.jsonl"
T_START=$(date +%s.%N)
# Debian's interpreter: a pyenv shim costs ~1 s per call.
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)

if [ $QUICK -eq 1 ]; then
	COUNTS=(1 1000); REPS=1; REPS_OTHER=1; SECS=2; CP_REPS=1
else
	COUNTS=(1 100 1000 4000); REPS=5; REPS_OTHER=3; SECS=2; CP_REPS=3
fi
FILTERS=(none iptables nft_linear nft_set xdp_filter xdp_drop tc_drop xnsg xnsg_tc xnsg_fl)
[ -n "${BENCH_COUNTS:-}" ] && read -ra COUNTS <<< "$BENCH_COUNTS"
[ -n "${BENCH_REPS:-}" ] && REPS=$BENCH_REPS REPS_OTHER=$BENCH_REPS
[ -n "${BENCH_FILTERS:-}" ] && read -ra FILTERS <<< "$BENCH_FILTERS"
# The other traffic (issue 13's goal 1): xnsg against the empty programs
# only, on the near-miss policy (IPv4 frames) and on IPv6 frames.
FLOOR_FILTERS=(none xdp_drop tc_drop xnsg xnsg_tc xnsg_fl)
TRAFFIC=v4
# With BENCH_BASELINE, its xnsg (XDP) is one more filter of every block.
if [ -n "${BENCH_BASELINE:-}" ]; then
	BASE_XNSG="$(realpath "$BENCH_BASELINE")/xnsg"
	FILTERS+=(xnsg_base); FLOOR_FILTERS+=(xnsg_base)
fi

cleanup() {
	set +e
	ip netns exec "$NS_R" "$XNSG" detach --all >/dev/null 2>&1
	ip netns del "$NS_S" 2>/dev/null; ip netns del "$NS_R" 2>/dev/null
	umount "$WORK/bpf" 2>/dev/null
	if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "make bench needs root"; exit 1; }
for c in ip nft iptables-restore xdp-filter "$PY" taskset bpftool tc; do
	command -v "$c" >/dev/null || { echo "bench: '$c' is missing (make deps)"; exit 1; }
done
R() { ip netns exec "$NS_R" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }
# xdp-filter pins its maps in the first BPF filesystem it finds (another
# test's private one, if /sys/fs/bpf is not mounted): give it ours.
X() { ip netns exec "$NS_R" sh -c 'mount --bind "$0" /sys/fs/bpf && exec "$@"' "$WORK/bpf" "$@"; }
note() { printf '%s\n' "$*" >&2; }

# One JSON object per line, built by Python so that it is always valid:
#   key=text   key=#number   key=[n,n,...]   key=?true|false   key={json}
# A number that does not parse becomes null and the record gets "invalid".
emit() {
	"$PY" - "$@" >> "$JSONL" <<'EOF'
import json, sys
rec, bad = {}, []
for arg in sys.argv[1:]:
    k, _, v = arg.partition("=")
    try:
        if v in ("#", "#null"):
            rec[k] = None
        elif v.startswith("#"):
            rec[k] = json.loads(v[1:])
            if not isinstance(rec[k], (int, float)) or isinstance(rec[k], bool):
                raise ValueError
        elif v.startswith("["):
            if not v.endswith("]"):
                raise ValueError
            rec[k] = [float(x) for x in v[1:-1].split(",") if x.strip()]
        elif v.startswith("?"):
            rec[k] = v[1:] == "true"
        elif v.startswith("{"):
            rec[k] = json.loads(v)
        else:
            rec[k] = v
    except ValueError:
        rec[k] = None
        bad.append(k)
if bad:
    rec["invalid"] = "unparsable value for " + ", ".join(bad)
print(json.dumps(rec))
EOF
}
# The last lines of a log, on one line: why a step failed.
why() { tail -n "${2:-3}" "$1" 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g; s/ $//' | cut -c1-300; }
pyf() { "$PY" -c "import sys; print($1)" "${@:2}"; }
median() { "$PY" -c 'import sys, statistics; v = [float(x) for x in sys.argv[1:]]; print(statistics.median(v) if v else "")' "$@"; }

setup() {
	mkdir -p "$WORK/bpf" && mount -t bpf bpf "$WORK/bpf" || return 1
	ip netns add "$NS_S" && ip netns add "$NS_R" || return 1
	ip link add s0 netns "$NS_S" type veth peer name r0 netns "$NS_R" || return 1
	S ip link set lo up; R ip link set lo up
	S ip addr add 198.51.100.1/24 dev s0; R ip addr add 10.9.1.4/24 dev r0
	S ip link set s0 up; R ip link set r0 up
	# Frames from the generator are IP to 10.9.1.4 with r0's MAC.
	R sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0
	# No IPv6 chatter (router solicitations) in the counters.
	S sysctl -qw net.ipv6.conf.all.disable_ipv6=1; R sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	sleep 0.5
}

# ---- filters: each installs N rules; the frames (UDP to port 443 from
# 198.51.100.0/24) miss all but the last, which drops them ---------------

# Rule i (0-based) of the N-1 misses: TCP from 198.18.0.0/15 (a /32 each),
# one destination port each.  Prints one line per miss in the given format,
# the fields being SRC and PORT (awk printf: %s for SRC, %d for PORT).
misses() { # N FORMAT
	awk -v n="$1" -v fmt="$2" 'BEGIN {
		for (i = 0; i < n - 1; i++) {
			src = sprintf("198.%d.%d.%d", 18 + int(i / 65536) % 2, int(i / 256) % 256, i % 256)
			printf fmt "\n", src, 1000 + i % 60000
		}
	}'
}
# Each rule file is written once per rule count (kept for the next runs).
rulefile() { # NAME N GENERATOR...
	local f="$WORK/rules/$1-$2"
	if [ ! -s "$f" ]; then
		mkdir -p "$WORK/rules"; "${@:3}" > "$f.tmp" && mv "$f.tmp" "$f" || return 1
	fi
	echo "$f"
}

gen_iptables() { # N
	echo "*raw"; echo ":PREROUTING ACCEPT [0:0]"
	misses "$1" "-A PREROUTING -s %s/32 -p tcp --dport %d -j DROP"
	echo "-A PREROUTING -p udp --dport 443 -j DROP"; echo "COMMIT"
}
rules_iptables() { local f; f=$(rulefile ipt "$1" gen_iptables "$1") && R iptables-restore < "$f"; }
unrules_iptables() { R iptables -t raw -F PREROUTING; }
count_iptables() { R iptables -t raw -L PREROUTING -v -n -x | awk 'END { print $1 }'; }

# nftables 1.0.6 wants a newline or ';' between a statement and '}'.
gen_nft_linear() {
	echo "table netdev xb {"; echo "chain c {"
	echo "type filter hook ingress device r0 priority 0;"
	misses "$1" "ip saddr %s tcp dport %d drop"
	echo "udp dport 443 counter name hits drop"; echo "}"
	echo "counter hits {"; echo "}"; echo "}"
}
rules_nft_linear() { local f; f=$(rulefile nft "$1" gen_nft_linear "$1") && R nft -f "$f"; }
unrules_nft_linear() { R nft delete table netdev xb; }
# A named counter: listing it is quick whatever the rule count.
count_nft_linear() { R nft list counter netdev xb hits | awk '$1 == "packets" { print $2 }'; }

# The misses as elements of one set ip saddr . th dport; the drop as the
# element 0.0.0.0/0 . 443 (any source, port 443).  Note: "th dport" of a
# set element does not look at the protocol; the misses are TCP rules in
# the other filters, here they are "any protocol", which no frame meets.
gen_nft_set() {
	echo "table netdev xb {"
	echo "set s {"; echo "type ipv4_addr . inet_service"; echo "flags interval"
	echo "elements = { 0.0.0.0/0 . 443"
	misses "$1" ", %s . %d"
	echo "}"; echo "}"
	echo "chain c {"; echo "type filter hook ingress device r0 priority 0;"
	echo "ip saddr . th dport @s counter name hits drop"; echo "}"
	echo "counter hits {"; echo "}"; echo "}"
}
rules_nft_set() { local f; f=$(rulefile nftset "$1" gen_nft_set "$1") && R nft -f "$f"; }
unrules_nft_set() { R nft delete table netdev xb; }
count_nft_set() { count_nft_linear; }

# xdp-filter matches sets (hash maps) of addresses and ports, not ordered
# rules: the misses become N-1 source addresses (its map holds 10,000),
# the drop "udp dst port 443".  The first address goes in through the CLI,
# the rest straight into the map it pins (one bpftool batch; the CLI takes
# ~35 ms per address): the same entries either way.
gen_xdpf_batch() { # N MAP VALUE
	misses "$1" "%s %d" | awk -v map="$2" -v val="$3" 'NR > 1 { split($1, a, "."); print "map update pinned " map " key " a[1] " " a[2] " " a[3] " " a[4] " value " val }'
}
rules_xdp_filter() {
	X xdp-filter load r0 -m native -f ipv4,udp,tcp || return 1
	if [ "$1" -gt 1 ]; then
		X xdp-filter ip 198.18.0.0 -m src || return 1
	fi
	if [ "$1" -gt 2 ]; then
		local map="$WORK/bpf/xdp-filter/filter_ipv4" val f
		# The value the CLI wrote for the first address, byte by byte.
		val=$(bpftool map lookup pinned "$map" key 198 18 0 0 -j |
		      "$PY" -c 'import json,sys; print(" ".join(str(int(b, 16)) for b in json.load(sys.stdin)["values"][0]["value"]))') || return 1
		f=$(rulefile xdpf "$1" gen_xdpf_batch "$1" "$map" "$val") || return 1
		bpftool batch file "$f" >/dev/null || return 1
	fi
	X xdp-filter port 443 -p udp -m dst
}
unrules_xdp_filter() { X xdp-filter unload r0 >/dev/null 2>&1 || R ip link set dev r0 xdp off; }
count_xdp_filter() { X xdp-filter status | awk '$1 == "443" && $2 ~ /dst/ && $2 ~ /udp/ { print $3 }'; }

rules_xdp_drop() { R "$TOOL" xdpdrop r0; }
unrules_xdp_drop() { R ip link set dev r0 xdp off 2>/dev/null; R ip link set dev r0 xdpgeneric off 2>/dev/null; }
# It has no counter (veth counts XDP drops only in ethtool -S): frames
# received but never seen by IP (Ip InReceives) were dropped by it.
count_xdp_drop() { echo $(($(R cat /sys/class/net/r0/statistics/rx_packets) - $(snmp_field Ip: InReceives))); }

rules_tc_drop() { R "$TOOL" tcdrop r0; }
unrules_tc_drop() { R tc qdisc del dev r0 clsact 2>/dev/null; }
# clsact counts TC_ACT_SHOT as qdisc drops.
count_tc_drop() { R tc -s qdisc show dev r0 | grep -A2 clsact | grep -o 'dropped [0-9]*' | awk 'END { print $2 }'; }

# N: one NSG (the NIC's) of N rules, the last denies UDP to 443; with
# the near traffic every fourth miss is UDP from the frames' own sources.
xnsg_policy() {
	local d="$WORK/pol-$([ "$TRAFFIC" = near ] && echo near || echo last)$1"
	if [ ! -f "$d/policy.json" ]; then
		mkdir -p "$d"
		XNSG_BENCH_DENY_LAST=1 XNSG_BENCH_ONE_LEVEL=1 XNSG_BENCH_NEAR=$([ "$TRAFFIC" = near ] && echo 1 || echo 0) \
			"$TOOL" genpolicy "$1" "$d" && "$XNSG" check "$d/policy.json" >/dev/null || return 1
	fi
	ln -sfn "$d" "$WORK/pol"
}
rules_xnsg() { xnsg_policy "$1" && R "$XNSG" apply "$WORK/pol/policy.json"; }
unrules_xnsg() { R "$XNSG" detach --all >/dev/null; }
# The last user rule's counter (r<U-1> of nic-nsg; U = min(N, 3997)), as
# xnsg BINARY (default this build's) reads it.
count_xnsg() { # N [BINARY]
	local last=$(($1 > 3997 ? 3996 : $1 - 1))
	R "${2:-$XNSG}" stats --json | "$PY" -c '
import json, sys
st = json.load(sys.stdin)
print(sum(r["packets"] for r in st["rules"] if r["nsg"] == "nic-nsg" and r["rule"] == sys.argv[1]))' "r$last"
}
rules_xnsg_tc() { xnsg_policy "$1" && R "$XNSG" apply --ingress tc "$WORK/pol/policy.json"; }
unrules_xnsg_tc() { unrules_xnsg; }
count_xnsg_tc() { count_xnsg "$1"; }
# xnsg on XDP with flow logs on, as users run it: an exporter (JSON lines,
# the default 60 s sweep) takes the denied tuples the datapath records.
rules_xnsg_fl() {
	rules_xnsg "$1" || return 1
	# Not through R(): $! must be the exporter itself (ip execs it).
	ip netns exec "$NS_R" "$XNSG" flowlog --jsonl "$WORK/flows.jsonl" > "$WORK/flowlog-exporter.log" 2>&1 &
	echo $! > "$WORK/flowlog.pid"
	sleep 0.5 # the exporter has switched logging on
	kill -0 "$(cat "$WORK/flowlog.pid")" 2>/dev/null
}
unrules_xnsg_fl() {
	[ -s "$WORK/flowlog.pid" ] && { kill "$(cat "$WORK/flowlog.pid")"; wait "$(cat "$WORK/flowlog.pid")"; } 2>/dev/null
	rm -f "$WORK/flowlog.pid"; unrules_xnsg
}
count_xnsg_fl() { count_xnsg "$1"; }
# The baseline build's xnsg on XDP, same policy, same pin directory.
rules_xnsg_base() { xnsg_policy "$1" && R "$BASE_XNSG" apply "$WORK/pol/policy.json"; }
unrules_xnsg_base() { R "$BASE_XNSG" detach --all >/dev/null; }
count_xnsg_base() { count_xnsg "$1" "$BASE_XNSG"; } # its own counter layout

rules_none() { :; }
unrules_none() { :; }
count_none() { echo 0; }

# A counter of the receiver's /proc/net/snmp, e.g. snmp_field Udp: NoPorts.
snmp_field() {
	R awk -v sec="$1" -v key="$2" '$1 == sec { if (!h) { for (i = 2; i <= NF; i++) if ($i == key) c = i; h = 1 } else print $c }' /proc/net/snmp
}
# Datagrams that reached the receiver's UDP layer (none should, but for
# the no-filter case): InDatagrams + NoPorts + InErrors.
udp_reached() { R awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $2 + $3 + $4 }' /proc/net/snmp; }

# Print "rx_mpps sent_mpps dropped_frac udp_frac cpu_mpps busy_frac
# wait_frac" for one run of SECS seconds: frames r0 took in per second (the
# sender's CPU does the receiver's work too: veth delivers in the sender's
# softirq), frames the generator got out per second, which share of the
# received frames the filter's own counter says it dropped / reached the
# UDP layer, frames per second of the CPU time the generator had (elapsed
# minus the time other tasks held its CPU), how busy the other CPUs were,
# and which share of the time other tasks held the generator's CPU.
measure() { # FILTER N
	local mac rx0 rx1 u0 u1 c0 c1 out
	mac=$(R cat /sys/class/net/r0/address)
	c0=$("count_$1" "$2" 2>/dev/null); c0=${c0:-0}
	rx0=$(R cat /sys/class/net/r0/statistics/rx_packets); u0=$(udp_reached)
	out=$(S env XNSG_BENCH_TRAFFIC="$TRAFFIC" taskset -c "$CPU" "$TOOL" pktgen s0 "$mac" "$SECS" 256) || return 1
	rx1=$(R cat /sys/class/net/r0/statistics/rx_packets); u1=$(udp_reached)
	c1=$("count_$1" "$2" 2>/dev/null); c1=${c1:-0}
	awk -v rx0="$rx0" -v rx1="$rx1" -v c0="$c0" -v c1="$c1" -v u0="$u0" -v u1="$u1" -v out="$out" 'BEGIN {
		split(out, o, " "); rx = rx1 - rx0
		if (o[2] <= 0 || rx <= 0) exit 1
		printf "%.4f %.4f %.4f %.4f %.4f %.4f %.4f\n", rx / o[2] / 1e6, o[1] / o[2] / 1e6, (c1 - c0) / rx, (u1 - u0) / rx,
			rx / (o[2] - o[3]) / 1e6, o[4], o[3] / o[2]
	}'
}

# A run during which other tasks held the generator's CPU more than this
# share of the time was disturbed by other work on the machine: it is
# measured again (at most RETRIES times, RETRY_BUDGET in all) and the least
# disturbed run is kept.  (How busy the other CPU was is recorded, but it
# does not predict a slow run here, so it is no reason to measure again.)
MAX_WAIT=0.02 RETRIES=3 RETRY_BUDGET=$([ $QUICK -eq 1 ] && echo 10 || echo 60)

side_by_side() { # TRAFFIC FILTER...
	local n f r k order
	TRAFFIC=$1; shift
	local FILTERS=("$@")
	for n in "${COUNTS[@]}"; do
		declare -A RX=() TX=() DROP=() UDP=() CPUR=() BUSY=() WAIT=() FAILED=()
		for ((r = 0; r < REPS; r++)); do
			# Alternate the order so that no filter always runs first or last.
			order=("${FILTERS[@]}")
			if [ $((r % 2)) -eq 1 ]; then
				order=(); for ((k = ${#FILTERS[@]} - 1; k >= 0; k--)); do order+=("${FILTERS[$k]}"); done
			fi
			for f in "${order[@]}"; do
				[ -n "${FAILED[$f]:-}" ] && continue
				if ! "rules_$f" "$n" > "$WORK/$f-$n.log" 2>&1; then
					FAILED[$f]="install failed: $(why "$WORK/$f-$n.log")"
					note "  $f, $n rules: ${FAILED[$f]}"
					"unrules_$f" >/dev/null 2>&1
					continue
				fi
				local best="" line try
				for ((try = 0; try <= RETRIES; try++)); do
					if [ $try -gt 0 ]; then
						[ $RETRY_BUDGET -gt 0 ] || break
						RETRY_BUDGET=$((RETRY_BUDGET - 1)); RETRIES_USED=$((RETRIES_USED + 1))
					fi
					line=$(measure "$f" "$n") || continue
					if [ -z "$best" ] || awk -v a="${line##* }" -v b="${best##* }" 'BEGIN { exit !(a < b) }'; then
						best=$line
					fi
					awk -v w="${best##* }" -v m="$MAX_WAIT" 'BEGIN { exit !(w <= m) }' && break
				done
				if [ -n "$best" ]; then
					local a b c d e g h
					read -r a b c d e g h <<< "$best"
					RX[$f]+="$a,"; TX[$f]+="$b,"; DROP[$f]+="$c,"; UDP[$f]+="$d,"; CPUR[$f]+="$e,"
					BUSY[$f]+="$g,"; WAIT[$f]+="$h,"
				else
					FAILED[$f]="measurement failed (no frames received)"
				fi
				"unrules_$f" >/dev/null 2>&1
			done
		done
		for f in "${FILTERS[@]}"; do
			if [ -n "${FAILED[$f]:-}" ] && [ -z "${RX[$f]:-}" ]; then
				emit kind=pps traffic="$TRAFFIC" filter="$f" rules="#$n" failed="${FAILED[$f]}"
				continue
			fi
			local m t cm
			m=$(median ${RX[$f]//,/ }); t=$(median ${TX[$f]//,/ }); cm=$(median ${CPUR[$f]//,/ })
			note "  $TRAFFIC $f, $n rules: $m Mpps [${RX[$f]%,}]; dropped by filter [${DROP[$f]%,}], reached UDP [${UDP[$f]%,}], CPU wait [${WAIT[$f]%,}]"
			emit kind=pps traffic="$TRAFFIC" filter="$f" rules="#$n" mpps="#$m" sent_mpps="#$t" cpu_mpps="#$cm" \
				runs="[${RX[$f]%,}]" sent_runs="[${TX[$f]%,}]" cpu_runs="[${CPUR[$f]%,}]" \
				dropped_frac="[${DROP[$f]%,}]" udp_frac="[${UDP[$f]%,}]" wait_frac="[${WAIT[$f]%,}]" busy_frac="[${BUSY[$f]%,}]" \
				secs="#$SECS" failed="${FAILED[$f]:-}"
		done
		unset RX TX DROP UDP CPUR BUSY WAIT FAILED
	done
}

# ---- control plane ------------------------------------------------------

# Seconds one command takes (wall clock); its output goes to $WORK/last.log.
# bash's own clock: a $(date) after the command timed the fork and exec of
# date too, ~1.2 ms more on every figure, which pulled ratios towards 1.
elapsed() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" > "$WORK/last.log" 2>&1 || return 1
	t1=$EPOCHREALTIME
	pyf "'%.4f' % ($t1 - $t0)"
}

# Sum of bytes_memlock of the maps pinned in our pin directory.
pinned_map_bytes() {
	local f total=0 b
	for f in "$XNSG_PIN_DIR"/*; do
		b=$(bpftool map show pinned "$f" -j 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null) || continue
		total=$((total + ${b:-0}))
	done
	echo "$total"
}
pinned_map_detail() {
	local f b first=1
	printf '{'
	for f in "$XNSG_PIN_DIR"/*; do
		b=$(bpftool map show pinned "$f" -j 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null) || continue
		[ $first -eq 1 ] || printf ', '
		printf '"%s": %s' "$(basename "$f")" "${b:-0}"; first=0
	done
	printf '}'
}
# Drops by reasons other than a rule, from xnsg stats.
other_drops() {
	R "$XNSG" stats --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["drops"]
print(sum(v["packets"] for k, v in d.items() if k not in ("rule_deny", "rule-deny", "rule")))'
}

control_plane() {
	local n
	for n in 100 1000 4000 "4000:100000"; do
		local rules=${n%%:*} prefixes=0 dir="$WORK/cp-$n" fail="" r
		[[ $n == *:* ]] && prefixes=${n##*:}
		mkdir -p "$dir/a" "$dir/b"
		# Two versions: b moves every missing rule's port by one, so an
		# update rewrites every table.
		if ! { XNSG_BENCH_ONE_LEVEL=0 "$TOOL" genpolicy "$rules" $([ "$prefixes" -gt 0 ] && echo "$prefixes") "$dir/a" &&
		       XNSG_BENCH_ONE_LEVEL=0 XNSG_BENCH_VARIANT=1 "$TOOL" genpolicy "$rules" $([ "$prefixes" -gt 0 ] && echo "$prefixes") "$dir/b"; } > "$dir/gen.log" 2>&1; then
			emit kind=control rules="#$rules" prefixes="#$prefixes" failed="genpolicy: $(why "$dir/gen.log")"
			continue
		fi
		local tc=() ta=() tu=() t mem=0 detail="{}" drops="" pkts=""
		for ((r = 0; r < CP_REPS; r++)); do
			t=$(elapsed "$XNSG" check "$dir/a/policy.json") || { fail="check: $(why "$WORK/last.log")"; break; }
			tc+=("$t")
			t=$(elapsed R "$XNSG" apply "$dir/a/policy.json") || { fail="apply: $(why "$WORK/last.log")"; break; }
			ta+=("$t")
			if [ $r -eq 0 ]; then
				mem=$(pinned_map_bytes); detail=$(pinned_map_detail)
			fi
			R "$XNSG" detach --all > "$WORK/last.log" 2>&1 || { fail="detach: $(why "$WORK/last.log")"; break; }
		done
		if [ -z "$fail" ]; then
			# Atomic updates a -> b -> a ... while the generator sends.
			R "$XNSG" apply "$dir/a/policy.json" > "$WORK/last.log" 2>&1 || fail="apply: $(why "$WORK/last.log")"
		fi
		if [ -z "$fail" ]; then
			local secs=$((CP_REPS * 2 + 2)) v=b rx0 rx1
			rx0=$(R cat /sys/class/net/r0/statistics/rx_packets)
			S taskset -c "$CPU" "$TOOL" pktgen s0 "$(R cat /sys/class/net/r0/address)" "$secs" 256 > "$WORK/cp-gen.log" 2>&1 &
			local gen=$!
			sleep 0.5
			for ((r = 0; r < CP_REPS; r++)); do
				t=$(elapsed R "$XNSG" apply "$dir/$v/policy.json") || { fail="update: $(why "$WORK/last.log")"; break; }
				tu+=("$t")
				[ $v = b ] && v=a || v=b
			done
			wait "$gen"
			rx1=$(R cat /sys/class/net/r0/statistics/rx_packets)
			pkts=$((rx1 - rx0))
			drops=$(other_drops)
			R "$XNSG" detach --all >/dev/null 2>&1
		fi
		local mc ma mu
		mc=$(median "${tc[@]}"); ma=$(median "${ta[@]}"); mu=$(median "${tu[@]}")
		note "  control plane, $rules rules x2 NSGs, $prefixes tag prefixes: check ${mc:-?}s, apply ${ma:-?}s, update ${mu:-?}s, maps $mem B${fail:+; FAILED: $fail}"
		emit kind=control rules="#$rules" prefixes="#$prefixes" check_s="#${mc:-null}" apply_s="#${ma:-null}" \
			update_s="#${mu:-null}" check_runs="[$(IFS=,; echo "${tc[*]}")]" apply_runs="[$(IFS=,; echo "${ta[*]}")]" \
			update_runs="[$(IFS=,; echo "${tu[*]}")]" map_bytes="#$mem" maps="$detail" \
			update_traffic_pkts="#${pkts:-null}" update_other_drops="#${drops:-null}" failed="$fail"
	done
	# The flow table alone: a map like the datapath's, 1M entries (and the
	# baseline build's, for goal 4's before and after).
	local t b
	for t in "${CL_TOOLS[@]}"; do
		b=$([ "$t" = "$TOOL" ] && echo this || echo baseline)
		if "$t" ctmem 1048576 > "$WORK/ctmem-$b.json" 2> "$WORK/ctmem-$b.log"; then
			emit kind=ctmem build="$b" data="$(cat "$WORK/ctmem-$b.json")"
		else
			emit kind=ctmem build="$b" failed="$b ctmem: $(why "$WORK/ctmem-$b.log")"
		fi
	done
}

# ---- control-plane goals -------------------------------------------------
# Each xnsg (this build, and BENCH_BASELINE's when set) in turn within every
# repetition, each with its own pin directory:
#   load     the side-by-side rules (one NSG of N rules, the last drops) from
#            nothing: nft -f (interval set, linear chain), iptables-restore,
#            xnsg apply (first, on a detached interface: maps created,
#            programs loaded and verified) and xnsg update (apply of the
#            changed policy over the live one)
#   big      2 NSGs x 4,000 rules + a 100,000-prefix tag: first apply, then
#            updates while the generator sends through the interface
#   ifaces   IFACES veth pairs under one policy (2 NSGs x 100 rules): apply to
#            all from nothing, re-apply (every interface), add one interface
#            (apply -i of the policy naming it over the policy without it),
#            detach --all
# Times are wall clock of the command run in the receiver's namespace (ip
# netns exec included, alike for every tool); medians of GOAL_REPS.
if [ $QUICK -eq 1 ]; then LOAD_COUNTS=(1000); GOAL_REPS=1; IFACES=100; else LOAD_COUNTS=(1000 4000); GOAL_REPS=5; IFACES=500; fi
part() { [[ " ${BENCH_PARTS:-classify packets control goals flowlog} " == *" $1 "* ]]; }
GOAL_BINS=("$XNSG")
[ -n "${BENCH_BASELINE:-}" ] && GOAL_BINS+=("$(realpath "$BENCH_BASELINE")/xnsg")
label_of() { [ "$1" = "$XNSG" ] && echo this || echo baseline; }
# Run xnsg binary $1 with its own pin directory and record: xb BIN ARGS...
xb() { local b=$1; shift; XNSG_PIN_DIR="$WORK/bpf/goal-$(label_of "$b")" XNSG_STATE_DIR="$WORK/run-$(label_of "$b")" R "$b" "$@"; }
csv() { local IFS=,; echo "$*"; }

goal_policies() {
	local n
	for n in "${LOAD_COUNTS[@]}"; do
		TRAFFIC=v4 xnsg_policy "$n" || return 1 # pol-last$n: the rules of the nft and iptables files
		[ -f "$WORK/polb$n/policy.json" ] || { mkdir -p "$WORK/polb$n" &&
			XNSG_BENCH_DENY_LAST=1 XNSG_BENCH_ONE_LEVEL=1 XNSG_BENCH_VARIANT=1 "$TOOL" genpolicy "$n" "$WORK/polb$n"; } || return 1
	done
	mkdir -p "$WORK/big/a" "$WORK/big/b" "$WORK/if/all" "$WORK/if/less"
	XNSG_BENCH_ONE_LEVEL=0 "$TOOL" genpolicy 4000 100000 "$WORK/big/a" &&
		XNSG_BENCH_ONE_LEVEL=0 XNSG_BENCH_VARIANT=1 "$TOOL" genpolicy 4000 100000 "$WORK/big/b" &&
		XNSG_BENCH_IF=xb XNSG_BENCH_IFACES=$IFACES "$TOOL" genpolicy 100 "$WORK/if/all" &&
		XNSG_BENCH_IF=xb XNSG_BENCH_IFACES=$((IFACES - 1)) "$TOOL" genpolicy 100 "$WORK/if/less"
}

# One repetition of the load pairing at N rules: appends to the arrays
# named L_<tool>_<N>.
goal_load_rep() { # N
	local n=$1 t b l f
	f=$(rulefile nftset "$n" gen_nft_set "$n") && t=$(elapsed R nft -f "$f") && eval "L_nftset_$n+=($t)"; unrules_nft_set
	f=$(rulefile nft "$n" gen_nft_linear "$n") && t=$(elapsed R nft -f "$f") && eval "L_nftlin_$n+=($t)"; unrules_nft_linear
	f=$(rulefile ipt "$n" gen_iptables "$n") && t=$(elapsed R iptables-restore "$f") && eval "L_ipt_$n+=($t)"; unrules_iptables
	for b in "${GOAL_BINS[@]}"; do
		l=$(label_of "$b")
		t=$(elapsed xb "$b" apply "$WORK/pol-last$n/policy.json") || { note "  load $n: $l apply: $(why "$WORK/last.log")"; xb "$b" detach --all >/dev/null 2>&1; continue; }
		eval "L_apply_${l}_$n+=($t)"
		t=$(elapsed xb "$b" apply "$WORK/polb$n/policy.json") && eval "L_update_${l}_$n+=($t)"
		xb "$b" detach --all >/dev/null 2>&1
	done
}

# One repetition of the big policy: first apply, then updates b, a, b...
# under traffic; appends to B_apply_<label>, B_update_<label>.
goal_big_rep() {
	local b l t v k
	for b in "${GOAL_BINS[@]}"; do
		l=$(label_of "$b")
		t=$(elapsed xb "$b" apply "$WORK/big/a/policy.json") || { note "  big: $l apply: $(why "$WORK/last.log")"; xb "$b" detach --all >/dev/null 2>&1; continue; }
		eval "B_apply_$l+=($t)"
		S taskset -c "$CPU" "$TOOL" pktgen s0 "$(R cat /sys/class/net/r0/address)" 5 256 > "$WORK/goal-gen.log" 2>&1 &
		local gen=$!
		sleep 0.3
		v=b
		for ((k = 0; k < 3; k++)); do
			t=$(elapsed xb "$b" apply "$WORK/big/$v/policy.json") && eval "B_update_$l+=($t)"
			[ $v = b ] && v=a || v=b
		done
		wait "$gen"
		local dr
		dr=$(goal_drops "$b") && [ -n "$dr" ] && B_drops+=("$dr")
		xb "$b" detach --all >/dev/null 2>&1
	done
}

# Drops by reasons other than a rule, from binary $1's stats.
goal_drops() {
	xb "$1" stats --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["drops"]
print(sum(v["packets"] for k, v in d.items() if k not in ("rule_deny", "rule-deny", "rule")))' 2>/dev/null
}

goal_ifaces_rep() {
	local b l t last=xb$((IFACES - 1))
	for b in "${GOAL_BINS[@]}"; do
		l=$(label_of "$b")
		t=$(elapsed xb "$b" apply "$WORK/if/all/policy.json") || { note "  ifaces: $l apply: $(why "$WORK/last.log")"; xb "$b" detach --all >/dev/null 2>&1; continue; }
		eval "I_apply_$l+=($t)"
		t=$(elapsed xb "$b" apply "$WORK/if/all/policy.json") && eval "I_reapply_$l+=($t)"
		xb "$b" detach --all >/dev/null 2>&1
		xb "$b" apply "$WORK/if/less/policy.json" >/dev/null 2>&1
		t=$(elapsed xb "$b" apply -i "$last" "$WORK/if/all/policy.json") && eval "I_addone_$l+=($t)"
		t=$(elapsed xb "$b" detach --all) && eval "I_detach_$l+=($t)"
	done
}

# "[a,b,c]" of an array by name, and its median.
runs_of() { local -n a=$1; echo "[$(csv "${a[@]}")]"; }
median_of() { local -n a=$1; median "${a[@]}"; }

goals() {
	local r n l i
	if ! goal_policies > "$WORK/goal-gen.log" 2>&1; then
		emit kind=goal case=failed failed="genpolicy: $(why "$WORK/goal-gen.log")"; return
	fi
	for ((i = 0; i < IFACES; i++)); do echo "link add xb$i type veth peer name xq$i netns $NS_S"; done > "$WORK/ifaces.batch"
	R ip -batch "$WORK/ifaces.batch" > "$WORK/ifaces.log" 2>&1 || note "  ifaces: $(why "$WORK/ifaces.log")"
	for n in "${LOAD_COUNTS[@]}"; do
		eval "L_nftset_$n=() L_nftlin_$n=() L_ipt_$n=()"
		for l in this baseline; do eval "L_apply_${l}_$n=() L_update_${l}_$n=()"; done
	done
	B_drops=()
	for l in this baseline; do eval "B_apply_$l=() B_update_$l=() I_apply_$l=() I_reapply_$l=() I_addone_$l=() I_detach_$l=()"; done
	for ((r = 0; r < GOAL_REPS; r++)); do
		for n in "${LOAD_COUNTS[@]}"; do goal_load_rep "$n"; done
		goal_big_rep
		goal_ifaces_rep
	done
	for n in "${LOAD_COUNTS[@]}"; do
		local args=(kind=goal case=load rules="#$n")
		for l in nftset nftlin ipt; do args+=("${l}_s=#$(median_of "L_${l}_$n")" "${l}_runs=$(runs_of "L_${l}_$n")"); done
		for l in this baseline; do
			args+=("apply_${l}_s=#$(median_of "L_apply_${l}_$n")" "apply_${l}_runs=$(runs_of "L_apply_${l}_$n")"
			       "update_${l}_s=#$(median_of "L_update_${l}_$n")" "update_${l}_runs=$(runs_of "L_update_${l}_$n")")
		done
		emit "${args[@]}"
	done
	local args=(kind=goal case=big rules="#4000" prefixes="#100000" other_drops="[$(csv "${B_drops[@]}")]")
	for l in this baseline; do
		args+=("apply_${l}_s=#$(median_of "B_apply_$l")" "apply_${l}_runs=$(runs_of "B_apply_$l")"
		       "update_${l}_s=#$(median_of "B_update_$l")" "update_${l}_runs=$(runs_of "B_update_$l")")
	done
	emit "${args[@]}"
	args=(kind=goal case=ifaces ifaces="#$IFACES")
	for l in this baseline; do
		for k in apply reapply addone detach; do
			args+=("${k}_${l}_s=#$(median_of "I_${k}_$l")" "${k}_${l}_runs=$(runs_of "I_${k}_$l")")
		done
	done
	emit "${args[@]}"
	note "  goals: $(tail -n $((${#LOAD_COUNTS[@]} + 2)) "$JSONL" | tr '\n' ' ' | cut -c1-600)"
	for ((i = 0; i < IFACES; i++)); do echo "link del xb$i"; done > "$WORK/ifaces.batch"
	R ip -batch "$WORK/ifaces.batch" >/dev/null 2>&1
}

# ---- main ---------------------------------------------------------------

note "bench: machine $(uname -r), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
setup || { echo "bench: setup failed"; exit 1; }
note "bench: classifier cost (BPF_PROG_TEST_RUN)"
T0=$(date +%s.%N)
# With BENCH_BASELINE, its xnsg-bench classify runs too, alternated with this
# build's (this, baseline, three times): goal 2's before and after from one
# run, each point the median of three runs, so that one run disturbed by
# other work on the machine does not move it (of two, the median was their
# mean: one pass of 60 ns against 41 read as 50.5).  Every line is tagged
# with its build and run.
CL_TOOLS=("$TOOL")
[ -n "${BENCH_BASELINE:-}" ] && [ -x "$(realpath "$BENCH_BASELINE")/xnsg-bench" ] &&
	CL_TOOLS+=("$(realpath "$BENCH_BASELINE")/xnsg-bench")
CL_RUNS=$([ $QUICK -eq 1 ] || [ ${#CL_TOOLS[@]} -eq 1 ] && echo 1 || echo 3)
classify_run() { # TOOL BUILD RUN
	local out="$WORK/classify-$2-$3.out" log="$WORK/classify-$2-$3.log" line
	if ! "$1" classify $([ $QUICK -eq 1 ] && echo --quick) > "$out" 2> "$log"; then
		emit kind=classify build="$2" case=failed failed="$2 xnsg-bench classify: $(why "$log")"
	fi
	while read -r line; do
		if "$PY" -c 'import json,sys; json.loads(sys.argv[1])' "$line" 2>/dev/null; then
			echo "$line" | sed "s/^{/{\"kind\": \"classify\", \"build\": \"$2\", \"run\": $3, /" >> "$JSONL"
		else
			emit kind=classify build="$2" case=failed failed="unparsable output: ${line:0:200}"
		fi
	done < "$out"
}
if part classify; then
	for ((r = 1; r <= CL_RUNS; r++)); do
		for t in "${CL_TOOLS[@]}"; do
			classify_run "$t" "$([ "$t" = "$TOOL" ] && echo this || echo baseline)" "$r"
		done
	done
fi
T1=$(date +%s.%N)
note "bench: side by side on real packets (${SECS}s x $REPS per point)"
RETRIES_USED=0
traffic() { [[ " ${BENCH_TRAFFIC:-v4 near v6} " == *" $1 "* ]]; }
if part packets; then
	traffic v4 && side_by_side v4 "${FILTERS[@]}"
	# Fewer repetitions for the other traffic: the run stays under half an hour.
	traffic near && REPS=$REPS_OTHER side_by_side near "${FLOOR_FILTERS[@]}"
	traffic v6 && REPS=$REPS_OTHER side_by_side v6 "${FLOOR_FILTERS[@]}"
	TRAFFIC=v4
fi
T2=$(date +%s.%N)
note "bench: control plane"
part control && control_plane
note "bench: control-plane goals (${GOAL_BINS[*]})"
part goals && goals
T3=$(date +%s.%N)
note "bench: flow logs (new-flow cost, exporter records/s, sweep CPU)"
if ! part flowlog; then :; elif "$TOOL" flowlog $([ $QUICK -eq 1 ] && echo --quick) > "$WORK/flowlog.out" 2> "$WORK/flowlog.log"; then :; else
	emit kind=flowlog case=failed failed="xnsg-bench flowlog: $(why "$WORK/flowlog.log")"
fi
while read -r line; do
	if "$PY" -c 'import json,sys; json.loads(sys.argv[1])' "$line" 2>/dev/null; then
		echo "$line" | sed 's/^{/{"kind": "flowlog", /' >> "$JSONL"
		note "  $line"
	else
		emit kind=flowlog case=failed failed="unparsable output: ${line:0:200}"
	fi
done < <(cat "$WORK/flowlog.out" 2>/dev/null)
T4=$(date +%s.%N)
emit kind=timing classify_s="#$(pyf "round($T1 - $T0, 1)")" pps_s="#$(pyf "round($T2 - $T1, 1)")" \
	control_s="#$(pyf "round($T3 - $T2, 1)")" flowlog_s="#$(pyf "round($T4 - $T3, 1)")" total_s="#$(pyf "round($T4 - $T_START, 1)")" \
	reps="#$REPS" secs="#$SECS" counts="[$(IFS=,; echo "${COUNTS[*]}")]" cpu="#$CPU" \
	retries="#$RETRIES_USED" max_wait="#$MAX_WAIT"
"$PY" "$REPO/bench/report.py" "$JSONL" "$OUT" "$QUICK" || exit 1
note "bench: wrote $OUT/RESULTS.md, $OUT/results.json, $OUT/plots/ ($(pyf "round($(date +%s.%N) - $T_START)") s)"
