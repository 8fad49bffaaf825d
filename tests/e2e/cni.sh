#!/usr/bin/env bash
# End-to-end tests of the CNI plugin (docs/DESIGN.md §12): the real
# `bridge` and `host-local` plugins chained with xnsg-cni, run as a
# runtime runs them (tests/e2e/cni_exec.py: environment variables, the
# configuration list plugin by plugin, prevResult passed along), for
# containers in namespaces this script creates.  A namespace plays the
# host (the bridge, the veths' host ends and xnsg live there); traffic
# stays between its own namespaces, bounded in count and time.  Every
# namespace, pin and file it makes is removed on exit, failure included.
#
#   tests/e2e/cni.sh [path/to/xnsg] [TEST...]
set -u

XNSG=$(realpath "${1:-build/xnsg}")
shift || true
ID="xnsg-cni-$$"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
. "$REPO/tools/topology.sh" # need, tcp_ok, listen_tcp

topo_sweep_stale
NS_H="$ID-h"
CONTAINERS=() # netns names, for cleanup
WORK=$(mktemp -d "/tmp/$ID.XXXX")
export XNSG_PIN_DIR="$WORK/bpf/xnsg" XNSG_STATE_DIR="$WORK/run"
export CNI_CACHE_DIR="$WORK/cache"

cleanup() {
	set +e
	[ -n "${BG_PIDS:-}" ] && kill $BG_PIDS 2>/dev/null
	ip netns exec "$NS_H" "$XNSG" detach --all >/dev/null 2>&1
	for ns in "${CONTAINERS[@]}" "$NS_H"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	umount "$WORK/bpf" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

H() { ip netns exec "$NS_H" "$@"; }
x() { H "$XNSG" "$@"; }

# ---- the network -----------------------------------------------------

# WebServers may reach DbServers on 8080; nothing else from the VNet
# comes in.  203.0.113.0/24 is the network's (a documentation range).
write_policy() {
	cat > "$WORK/policy.json" <<'EOF'
{
  "virtualNetwork": { "name": "cni-vnet", "addressPrefixes": ["203.0.113.0/24"] },
  "applicationSecurityGroups": { "WebServers": [], "DbServers": [] },
  "networkSecurityGroups": [
    { "name": "containers-nsg",
      "securityRules": [
        { "name": "AllowWebToDb8080", "priority": 100, "direction": "Inbound", "access": "Allow",
          "protocol": "Tcp", "sourceApplicationSecurityGroups": ["WebServers"], "sourcePortRange": "*",
          "destinationApplicationSecurityGroups": ["DbServers"], "destinationPortRange": "8080" },
        { "name": "DenyVnetInbound", "priority": 200, "direction": "Inbound", "access": "Deny",
          "protocol": "*", "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*",
          "destinationAddressPrefix": "*", "destinationPortRange": "*" }
      ] }
  ],
  "interfaces": []
}
EOF
}

write_conflist() {
	cat > "$WORK/net.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "xnsg-e2e",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true,
      "ipam": { "type": "host-local", "dataDir": "$WORK/ipam",
                "ranges": [[{ "subnet": "203.0.113.0/24", "rangeStart": "203.0.113.10",
                              "rangeEnd": "203.0.113.200" }]] } },
    { "type": "xnsg-cni", "policy": "$WORK/policy.json", "nsg": "containers-nsg",
      "capabilities": { "applicationSecurityGroups": true } }
  ] }
EOF
}

setup() {
	mkdir -p "$WORK/bpf" "$WORK/bin"
	mount -t bpf bpf "$WORK/bpf" || return 1
	ip netns add "$NS_H" || return 1
	H ip link set lo up
	ln -s "$XNSG" "$WORK/bin/xnsg-cni"
	export CNI_PATH="/usr/lib/cni:$WORK/bin"
	write_policy
	write_conflist
}

# cni COMMAND NAME [cni_exec options]: container NAME (netns $ID-NAME).
cni() {
	local cmd=$1 name=$2; shift 2
	H "$PY" "$REPO/tests/e2e/cni_exec.py" "$cmd" "$WORK/net.conflist" "$name" \
		"/run/netns/$ID-$name" eth0 "$@"
}

# A container of ASG $2 (by CNI_ARGS, or by runtimeConfig with $3 = cap),
# with listeners on 8080 and 8081.
add() {
	local name=$1 asg=$2 how=${3:-args} ns="$ID-$1"
	ip netns add "$ns" || return 1
	CONTAINERS+=("$ns")
	ip netns exec "$ns" ip link set lo up
	if [ "$how" = cap ]; then
		cni ADD "$name" --cap-args "{\"applicationSecurityGroups\": [\"$asg\"]}" > "$WORK/$name.add"
	else
		cni ADD "$name" --args "IgnoreUnknown=1;XNSG_ASGS=$asg" > "$WORK/$name.add"
	fi || return 1
	listen_tcp "$ns" 8080
	listen_tcp "$ns" 8081
}

ip_of() { ip netns exec "$ID-$1" ip -4 -o addr show eth0 | awk '{ sub("/.*", "", $4); print $4 }'; }
veth_of() {
	"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))
print([i["name"] for i in r["interfaces"] if not i.get("sandbox") and i["name"] != "cni0"][0])' "$WORK/$1.add"
}
# open FROM TO PORT: a TCP connection from container FROM to container TO.
open_() { tcp_ok "$ID-$1" "$(ip_of "$2")" "$3"; }
overlay() { cat "$XNSG_STATE_DIR"/*.containers.json 2>/dev/null; }
n_containers() { overlay | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["containers"]))' 2>/dev/null || echo 0; }

# ---- tests ------------------------------------------------------------

test_version() {
	local out
	out=$(CNI_COMMAND=VERSION "$WORK/bin/xnsg-cni" <<< '{"cniVersion": "1.0.0"}') || return 1
	echo "$out" | "$PY" -c 'import json,sys; d=json.load(sys.stdin)
assert d["cniVersion"] == "1.0.0" and "1.0.0" in d["supportedVersions"] and "0.4.0" in d["supportedVersions"], d' || return 1
	out=$(echo '{}' | CNI_COMMAND=VERSION "$XNSG" cni) || { echo "xnsg cni VERSION failed"; return 1; }
	echo "$out" | grep -q supportedVersions || { echo "xnsg cni: $out"; return 1; }
}

test_errors_are_cni_error_json() {
	local out rc
	out=$(echo 'not json' | CNI_COMMAND=ADD CNI_CONTAINERID=c0 CNI_NETNS=/x CNI_IFNAME=eth0 "$WORK/bin/xnsg-cni" 2>/dev/null); rc=$?
	[ $rc -eq 1 ] || { echo "exit $rc on bad stdin"; return 1; }
	echo "$out" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["code"] == 6 and d["msg"] and d["cniVersion"], d' || return 1
	out=$(echo '{"cniVersion": "9.9.9", "name": "n", "type": "xnsg-cni"}' | CNI_COMMAND=ADD CNI_CONTAINERID=c0 CNI_NETNS=/x CNI_IFNAME=eth0 "$WORK/bin/xnsg-cni" 2>/dev/null)
	echo "$out" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["code"] == 1, d' || return 1
	out=$(echo '{"cniVersion": "1.0.0", "name": "n", "type": "xnsg-cni"}' | CNI_COMMAND=ADD CNI_NETNS=/x CNI_IFNAME=eth0 "$WORK/bin/xnsg-cni" 2>/dev/null)
	echo "$out" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["code"] == 4 and "CNI_CONTAINERID" in d["msg"], d' || return 1
}

test_add_two_containers() {
	add web1 WebServers args && add db1 DbServers cap || return 1
	x status > "$WORK/status" || return 1
	for c in web1 db1; do
		grep -q "$(veth_of $c) .*peer *enforcing" "$WORK/status" || { cat "$WORK/status"; echo "$c's veth is not enforcing"; return 1; }
	done
	[ "$(n_containers)" -eq 2 ] || { overlay; return 1; }
	# The result passed on is the bridge's, in the list's version.
	"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["cniVersion"] == "1.0.0" and r["ips"], r' "$WORK/web1.add"
}

test_asg_rule_allows_web_to_db() {
	open_ web1 db1 8080 || { echo "WebServers -> DbServers:8080 refused"; return 1; }
}

test_nsg_denies_the_rest() {
	! open_ web1 db1 8081 || { echo "web1 -> db1:8081 not denied"; return 1; }
	! open_ db1 web1 8080 || { echo "db1 (DbServers) -> web1:8080 not denied"; return 1; }
	! tcp_ok "$NS_H" "$(ip_of db1)" 8080 || { echo "the host (not WebServers) reached db1:8080"; return 1; }
}

test_check_passes() {
	cni CHECK web1 --args "IgnoreUnknown=1;XNSG_ASGS=WebServers" || return 1
	cni CHECK db1 --cap-args '{"applicationSecurityGroups": ["DbServers"]}' || return 1
}

test_check_fails_without_hooks_apply_repairs() {
	local v; v=$(veth_of web1)
	H tc qdisc del dev "$v" clsact || return 1
	cni CHECK web1 --args "IgnoreUnknown=1;XNSG_ASGS=WebServers" 2> "$WORK/check.err" && { echo "CHECK passed without hooks"; return 1; }
	grep -q '"code": 101' "$WORK/check.err" || { cat "$WORK/check.err"; return 1; }
	# A full apply by hand: it re-attaches, and keeps every container's ASG.
	x apply "$WORK/policy.json" > "$WORK/apply.out" || return 1
	grep -q "to 2 interfaces" "$WORK/apply.out" || { cat "$WORK/apply.out"; return 1; }
	cni CHECK web1 --args "IgnoreUnknown=1;XNSG_ASGS=WebServers" || return 1
	open_ web1 db1 8080 || { echo "a manual apply lost the containers' ASGs"; return 1; }
	[ "$(n_containers)" -eq 2 ] || { overlay; return 1; }
}

test_undeclared_asg_fails_and_changes_nothing() {
	add bad1 NoSuchAsg args 2> "$WORK/bad.err" && { echo "an undeclared ASG was accepted"; return 1; }
	grep -q '"code": 7' "$WORK/bad.err" && grep -q "NoSuchAsg" "$WORK/bad.err" || { cat "$WORK/bad.err"; return 1; }
	[ "$(n_containers)" -eq 2 ] || { overlay; echo "the overlay changed"; return 1; }
	cni DEL bad1 || { echo "DEL after a failed ADD failed"; return 1; } # as a runtime does
	open_ web1 db1 8080 || { echo "the other containers were disturbed"; return 1; }
}

test_concurrent_adds_keep_every_asg() {
	local pids=() i rc=0 w d
	for i in 2 3 4; do
		ip netns add "$ID-web$i" && CONTAINERS+=("$ID-web$i") && ip netns add "$ID-db$i" && CONTAINERS+=("$ID-db$i") || return 1
	done
	for i in 2 3 4; do
		cni ADD "web$i" --args "IgnoreUnknown=1;XNSG_ASGS=WebServers" > "$WORK/web$i.add" & pids+=($!)
		cni ADD "db$i" --cap-args '{"applicationSecurityGroups": ["DbServers"]}' > "$WORK/db$i.add" & pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	[ $rc -eq 0 ] || { echo "a concurrent ADD failed"; return 1; }
	[ "$(n_containers)" -eq 8 ] || { overlay; echo "$(n_containers) containers recorded, not 8"; return 1; }
	for i in 2 3 4; do listen_tcp "$ID-db$i" 8080; listen_tcp "$ID-web$i" 8080; done
	sleep 0.3
	for w in web1 web2 web3 web4; do
		for d in db1 db2 db3 db4; do
			open_ "$w" "$d" 8080 || { echo "$w -> $d:8080 refused: an ASG membership was lost"; return 1; }
		done
	done
	! open_ db4 web4 8080 || { echo "db4 -> web4:8080 not denied"; return 1; }
	echo "note: 6 concurrent ADDs: all 16 WebServers -> DbServers pairs open"
}

test_del_shrinks_the_asg() {
	local old; old=$(ip_of web2)
	cni DEL web2 --args "IgnoreUnknown=1;XNSG_ASGS=WebServers" || return 1
	[ "$(n_containers)" -eq 7 ] || { overlay; return 1; }
	overlay | grep -q '"xnsg-e2e/web2/eth0"' && { echo "web2 still recorded"; return 1; }
	# An unfiltered impostor with web2's old address: if the kernel still
	# counted it in WebServers, db1 would let it in on 8080.
	ip netns add "$ID-imp" && CONTAINERS+=("$ID-imp") || return 1
	H ip link add imp0 type veth peer name eth0 netns "$ID-imp" || return 1
	H ip link set imp0 master cni0 up
	ip netns exec "$ID-imp" ip addr add "$old/24" dev eth0
	ip netns exec "$ID-imp" ip link set eth0 up
	sleep 0.5
	ping_ok "$ID-imp" 203.0.113.1 || { echo "control: the impostor cannot reach the bridge"; return 1; }
	! tcp_ok "$ID-imp" "$(ip_of db1)" 8080 || { echo "web2's address is still in WebServers"; return 1; }
	H ip link del imp0
	open_ web1 db1 8080 || { echo "the other containers were disturbed"; return 1; }
}

test_del_is_idempotent() {
	cni DEL web2 || { echo "a second DEL failed"; return 1; }
	cni DEL never-added || { echo "DEL of an unknown container failed"; return 1; }
	# The namespace (and with it the veth) gone before DEL: its processes
	# first, or they keep it alive.
	ip netns pids "$ID-db2" | xargs -r kill
	sleep 0.2
	ip netns del "$ID-db2" || return 1
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(H ip -o link show | grep -c veth)" -le 6 ] && break; sleep 0.1; done
	cni DEL db2 || { echo "DEL after the netns was deleted failed"; return 1; }
	[ "$(n_containers)" -eq 6 ] || { overlay; return 1; }
	open_ web3 db3 8080 || { echo "the other containers were disturbed"; return 1; }
}

test_del_all_leaves_nothing() {
	local c
	for c in web1 db1 web3 db3 web4 db4; do cni DEL "$c" || return 1; done
	[ -z "$(overlay)" ] || { overlay; echo "containers left in the overlay"; return 1; }
	[ ! -e "$XNSG_PIN_DIR" ] || { echo "pins left: $(ls "$XNSG_PIN_DIR")"; return 1; }
	! ls "$XNSG_STATE_DIR"/*.json >/dev/null 2>&1 || { echo "files left: $(ls "$XNSG_STATE_DIR")"; return 1; }
	H tc filter show dev cni0 ingress 2>/dev/null | grep -q xnsg && { echo "hooks left on the bridge"; return 1; }
	H ip -o link show | grep -q veth && { echo "veths left: $(H ip -o link show | grep veth)"; return 1; }
	x status | grep -q "nothing applied" || { x status; return 1; }
}

TESTS=(version errors_are_cni_error_json add_two_containers asg_rule_allows_web_to_db
       nsg_denies_the_rest check_passes check_fails_without_hooks_apply_repairs
       undeclared_asg_fails_and_changes_nothing concurrent_adds_keep_every_asg
       del_shrinks_the_asg del_is_idempotent del_all_leaves_nothing)
[ $# -gt 0 ] && TESTS=("$@")

main() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e-cni: SKIP: needs root"; echo "0 passed, 0 failed, ${#TESTS[@]} skipped"; return 0
	fi
	need ip nc timeout tc
	if [ ! -x /usr/lib/cni/bridge ] || [ ! -x /usr/lib/cni/host-local ]; then
		echo "e2e-cni: SKIP: no bridge/host-local plugins in /usr/lib/cni (containernetworking-plugins)"
		echo "0 passed, 0 failed, ${#TESTS[@]} skipped"; return 0
	fi
	if ! setup > "$WORK/setup.log" 2>&1; then
		cat "$WORK/setup.log"
		echo "e2e-cni: setup failed"; echo "0 passed, 1 failed"; return 1
	fi
	run_tests
}

main
