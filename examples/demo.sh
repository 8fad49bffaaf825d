#!/usr/bin/env bash
# make demo: a small cloud in network namespaces, under xnsg.
#
#   an Internet client; web, app and db VMs in a VNet (10.10.0.0/16), in
#   application security groups AsgWeb, AsgLogic, AsgDb (the three-tier
#   example of Azure's documentation, examples/cloud/policy.json); two
#   containers attached by the real `bridge` CNI plugin chained with
#   xnsg-cni, one in AsgWeb and one in AsgLogic.
#
# `xnsg run` enforces the policy with flow logs and metrics; real traffic
# shows what is allowed and denied, and the flow log says by which rule.
# Then: a live policy change, the effective rules, IP flow verify, the
# tracked flows, flow-log records and metrics.  Everything it makes
# (namespaces, pins, processes, files) is removed on exit, interrupted or
# not; the host's own pins (/sys/fs/bpf/xnsg) are never touched.
#
#   examples/demo.sh [path/to/xnsg]
set -u
XNSG=$(realpath "${1:-build/xnsg}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
ID="xnsg-demo-$$"
. "$REPO/tools/topology.sh"
WORK=$(mktemp -d "/tmp/$ID.XXXX")
export XNSG_PIN_DIR="$WORK/bpf/xnsg" XNSG_STATE_DIR="$WORK/run"
DPID=""

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
	B="" G="" R="" D="" N=""
fi

finish() {
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	cloud_cleanup
}
trap finish EXIT
trap 'exit 130' INT TERM

say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
fail() { printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2; exit 1; }
x() { H "$XNSG" "$@"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces, BPF); try: sudo make demo"
for c in ip nc python3 /usr/lib/cni/bridge /usr/lib/cni/host-local; do
	command -v "$c" >/dev/null || fail "'$c' is missing; 'make deps' installs it"
done

say "A VNet with web, app and db VMs, an Internet client, and two containers (bridge + xnsg-cni)"
cloud_setup > "$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; fail "setting up the namespaces failed"; }
install -m 0644 "$REPO/examples/cloud/policy.json" "$WORK/policy.json"
echo "  policy: examples/cloud/policy.json (NSG1 on every subnet; ASGs AsgWeb, AsgLogic, AsgDb)"

# The daemon, in the host namespace: the VMs' NICs are there.  Not
# through H(): a function run in the background is a subshell, whose pid
# would get the signal instead of the daemon.
ip netns exec "$ID-host" "$XNSG" run "$WORK/policy.json" --jsonl "$WORK/flows.jsonl" \
	--interval 1 --metrics 127.0.0.1:9108 2> "$WORK/daemon.log" &
DPID=$!
for _ in $(seq 100); do grep -q "running:" "$WORK/daemon.log" && break; sleep 0.1; done
grep -q "running:" "$WORK/daemon.log" || { cat "$WORK/daemon.log"; fail "xnsg run did not start"; }
sed -n 's/^xnsg: running: /  xnsg run: /p' "$WORK/daemon.log" | sed "s#$WORK/##g"

cloud_container c1 AsgWeb > "$WORK/c1.log" 2>&1 || { cat "$WORK/c1.log" "$WORK/c1.add"; fail "CNI ADD c1 failed"; }
cloud_container c2 AsgLogic > "$WORK/c2.log" 2>&1 || { cat "$WORK/c2.log" "$WORK/c2.add"; fail "CNI ADD c2 failed"; }
C1=$(cloud_ip c1) C2=$(cloud_ip c2)
echo "  containers: c1 $C1 (AsgWeb) on $(cloud_veth c1), c2 $C2 (AsgLogic) on $(cloud_veth c2):" \
	"CNI ADD through bridge, host-local, xnsg-cni"

# Listeners: each at most 10 minutes.
listen() { ip netns exec "$ID-$1" timeout 600 nc -4 -lk "$2" >/dev/null 2>&1 & }
for p in 80 22; do listen web $p; done
for p in 80 8080; do listen app $p; done
for p in 1433 22; do listen db $p; done
listen inet 80
for n in c1 c2; do listen $n 80; done
sleep 0.3

# One probe: N FROM-NS TO-ADDR PORT (a TCP connection, at most 2 s); its
# result in $WORK/probe.N.
probe() {
	if ip netns exec "$ID-$2" timeout 3 nc -z -w 2 "$3" "$4" >/dev/null 2>&1; then
		echo allowed > "$WORK/probe.$1"
	else
		echo denied > "$WORK/probe.$1"
	fi
}

I=203.0.113.10 WEB=10.10.1.4 APP=10.10.2.4 DB=10.10.3.4
# name|from-ns|from-addr|to-addr|port|what the policy says
PROBES=(
	"Internet -> web|inet|$I|$WEB|80|allowed"
	"Internet -> web|inet|$I|$WEB|22|denied"
	"Internet -> app|inet|$I|$APP|80|denied"
	"web -> app|web|$WEB|$APP|8080|allowed"
	"app -> db|app|$APP|$DB|1433|allowed"
	"web -> db|web|$WEB|$DB|1433|denied"
	"db -> Internet|db|$DB|$I|80|denied"
	"Internet -> c1 (AsgWeb)|inet|$I|$C1|80|allowed"
	"Internet -> c2 (AsgLogic)|inet|$I|$C2|80|denied"
	"c2 (AsgLogic) -> db|c2|$C2|$DB|1433|allowed"
	"c1 (AsgWeb) -> db|c1|$C1|$DB|1433|denied"
)

# Every probe at once, then the flow log's verdicts (a denied flow is
# written at the exporter's next sweep, every second here).  Only the
# records written from here on count: $WORK/probes.from is where they start.
run_probes() { # run_probes FIRST-INDEX ENTRIES...
	local i=$1 e pids="" from to port
	shift
	wc -l < "$WORK/flows.jsonl" > "$WORK/probes.from"
	for e in "$@"; do
		IFS='|' read -r _ from _ to port _ <<< "$e"
		probe "$i" "$from" "$to" "$port" &
		pids="$pids $!"
		i=$((i + 1))
	done
	wait $pids
	sleep 2.2
}

# The table: what happened, the rule the flow log names, and whether that
# is what the policy says.
report() { # report FIRST-INDEX ENTRIES...
	python3 - "$WORK" "$B" "$G" "$R" "$D" "$N" "$(cloud_veth c1)" "$(cloud_veth c2)" "$@" <<'EOF'
import json, sys
work, B, G, R, D, N, v1, v2 = sys.argv[1:9]
first, entries = int(sys.argv[9]), sys.argv[10:]
names = {v1: "c1's veth", v2: "c2's veth"}
recs = []
with open(work + "/flows.jsonl") as f:
    for line in f.readlines()[int(open(work + "/probes.from").read()):]:
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
bad = 0
for i, e in enumerate(entries, first):
    name, _, src, dst, port, want = e.split("|")
    got = open("%s/probe.%d" % (work, i)).read().strip()
    rs = [r for r in recs if (r.get("src"), r.get("dst"), str(r.get("dport"))) == (src, dst, port)]
    deny = [r for r in rs if r.get("decision") == "deny"]
    inb = [r for r in rs if r.get("direction") == "in"]
    r = (deny or inb or rs or [None])[0]
    if r:
        rule = "%s/%s%s" % (r["nsg"], r["rule"], " (default)" if r.get("default_rule") else "")
        where = "%s at %s" % ("Inbound" if r["direction"] == "in" else "Outbound",
                              names.get(r["interface"], r["interface"]))
    else:
        rule, where = "(no flow-log record)", ""
    ok = got == want
    bad += not ok
    print("  %-26s tcp/%-5s %s%-7s%s %-42s %s%s%s%s" % (
        name, port, G if got == "allowed" else R, got, N, rule, D, where, N,
        "" if ok else "  %sUNEXPECTED: the policy says %s%s" % (R, want, N)))
sys.exit(1 if bad else 0)
EOF
}

say "Real traffic (TCP connections); the rule is the one the flow log recorded"
run_probes 0 "${PROBES[@]}"
report 0 "${PROBES[@]}" && OK=1 || OK=0

say "Effective rules of db0, Inbound (xnsg show)"
x show "$WORK/policy.json" -i db0 | sed -n '/Inbound/,/Outbound/p' | sed '$d'

say "IP flow verify: may web reach db on 1433? (the evaluator, then the BPF classifier)"
x verify "$WORK/policy.json" -i db0 -d in -P tcp -l 10.10.3.4:1433 -r 10.10.1.4:50000 | sed 's/^/  /'
x verify "$WORK/policy.json" -i db0 -d in -P tcp -l 10.10.3.4:1433 -r 10.10.1.4:50000 --datapath | sed 's/^/  /'

say "The database's tracked flows (xnsg flows)"
x flows | awk 'NR == 1 || $1 == "db0"' | sed 's/^/  /'

say "Flow-log records (JSON lines; --azure and --ipfix carry the same records)"
# A flow's begin (B) and end (E) with its counts, and a denied tuple (D).
python3 - "$WORK/flows.jsonl" <<'EOF' | sed 's/^/  /'
import json, sys
recs = [(l, json.loads(l)) for l in open(sys.argv[1]).read().splitlines() if l.startswith("{")]
def first(**kv):
    for l, r in recs:
        if all(r.get(k) == v for k, v in kv.items()):
            return l, r
    return None, None
b, rb = first(state="B", rule="Allow-Database-BusinessLogic")
print(b or "(no B record)")
if rb:
    print(first(state="E", src=rb["src"], sport=rb["sport"], interface=rb["interface"])[0] or "")
print(first(state="D", rule="Deny-Database-All")[0] or "(no D record)")
EOF

say "Metrics (GET http://127.0.0.1:9108/metrics, an excerpt)"
H python3 "$REPO/tests/e2e/probes.py" get http://127.0.0.1:9108/metrics |
	grep -E '^xnsg_(policy_generation|last_reload_success|flows|flows_created_total|flowlog_records_exported_total\{output="jsonl"\}) |^xnsg_drops_total\{reason="rule-deny"\}|^xnsg_rule_packets_total\{.*(Allow-HTTP|Deny-Database-All|Allow-Database)' |
	sed 's/^/  /'

say "A policy change, picked up as the file is saved: SSH from the Internet to AsgWeb"
python3 - "$WORK/policy.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
rules = p["networkSecurityGroups"][0]["properties"]["securityRules"]
rules.insert(1, {"name": "Allow-SSH-Inbound-Internet", "properties": {
    "priority": 105, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
    "sourceAddressPrefix": "Internet", "sourcePortRange": "*",
    "destinationApplicationSecurityGroups": [{"id": "AsgWeb"}], "destinationPortRange": "22"}})
json.dump(p, open(sys.argv[1] + ".new", "w"), indent=1)
EOF
chmod 0644 "$WORK/policy.json.new"
mv "$WORK/policy.json.new" "$WORK/policy.json" # an editor's write and rename
for _ in $(seq 50); do grep -q "reload (file changed)" "$WORK/daemon.log" && break; sleep 0.1; done
grep "reload (file changed)" "$WORK/daemon.log" | sed 's/^xnsg: /  xnsg run: /; s#'"$WORK"'/##'
CHANGE=("Internet -> web|inet|$I|$WEB|22|allowed")
run_probes 20 "${CHANGE[@]}"
report 20 "${CHANGE[@]}" || OK=0

say "Stopping"
kill -TERM "$DPID"
wait "$DPID"
DPID=""
sed -n 's/^xnsg: \(flow logs stopped.*\|stopped.*\)/  xnsg run: \1/p' "$WORK/daemon.log" | sed 's#'"$WORK"'/##'
echo "  removing the namespaces, the containers (CNI DEL) and the demo's pins"
if [ "$OK" = 1 ]; then
	printf '\n%sEvery connection went as the policy says.%s\n' "$G" "$N"
else
	printf '\n%sSome connections did not go as the policy says (above).%s\n' "$R" "$N"
	exit 1
fi
