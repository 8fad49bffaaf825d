#!/usr/bin/env bash
# Shared by tests/e2e/run.sh and examples/demo.sh: three network namespaces
# joined by veths, helpers for bounded traffic, and a teardown that removes
# everything it made (namespaces, the private BPF filesystem, state file).
#
# The caller sets XNSG (the binary) and ID (a unique name) and then calls
# topo_init; the EXIT trap tears down.
#
#   ns B (client) b0 ---- a0 ns A (workload, xnsg attach host on a0)
#     192.0.2.20              192.0.2.10          VNet 192.0.2.0/24
#     198.51.100.20 (Internet)                         2001:db8:1::/64
#     2001:db8:1::20          2001:db8:1::10
#     2001:db8:ff::20 (Internet)
#                             a1 ---- c0 ns C (container)
#                             (xnsg attach peer    192.0.2.130
#                              on a1)              2001:db8:1::1:130

# What an earlier run of this suite left when it was killed outright
# (SIGKILL: no trap ran): its namespaces ($ID's prefix, its pid, a suffix)
# and work directory (with its BPF filesystem), for a pid no longer alive.
topo_sweep_stale() {
	local prefix=${ID%-*} ns d pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		pid=${ns#"$prefix"-}; pid=${pid%%-*}
		[[ $ns == "$prefix"-* && $pid =~ ^[0-9]+$ && $pid != "$$" ]] || continue
		kill -0 "$pid" 2>/dev/null && continue
		echo "note: removing namespace $ns, left by a killed run (pid $pid)" >&2
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for d in /tmp/"$prefix"-*.*; do
		pid=${d#/tmp/"$prefix"-}; pid=${pid%%.*}
		[[ -d $d && $pid =~ ^[0-9]+$ && $pid != "$$" ]] || continue
		kill -0 "$pid" 2>/dev/null && continue
		umount "$d/bpf" 2>/dev/null
		rm -rf "$d"
	done
}

topo_init() {
	topo_sweep_stale
	NS_A="$ID-a" NS_B="$ID-b" NS_C="$ID-c"
	WORK=$(mktemp -d "/tmp/$ID.XXXX")
	export XNSG_PIN_DIR="$WORK/bpf/xnsg" XNSG_STATE_DIR="$WORK/run"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

cleanup() {
	set +e
	[ -n "${BG_PIDS:-}" ] && kill $BG_PIDS 2>/dev/null
	ip netns exec "$NS_A" "$XNSG" detach --all >/dev/null 2>&1
	for ns in "$NS_A" "$NS_B" "$NS_C"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	umount "$WORK/bpf" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() {
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "e2e: SKIP all: '$c' is not installed"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
	done
}

A() { ip netns exec "$NS_A" "$@"; }
B() { ip netns exec "$NS_B" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
x() { A "$XNSG" "$@"; }

setup() {
	mkdir -p "$WORK/bpf"
	mount -t bpf bpf "$WORK/bpf" || return 1
	ip netns add "$NS_A" && ip netns add "$NS_B" && ip netns add "$NS_C" || return 1
	ip link add a0 netns "$NS_A" type veth peer name b0 netns "$NS_B" || return 1
	ip link add a1 netns "$NS_A" type veth peer name c0 netns "$NS_C" || return 1
	A ip link set lo up; B ip link set lo up; C ip link set lo up
	A ip addr add 192.0.2.10/25 dev a0
	A ip addr add 2001:db8:1::10/120 dev a0 nodad
	B ip addr add 192.0.2.20/25 dev b0
	B ip addr add 198.51.100.20/24 dev b0
	B ip addr add 2001:db8:1::20/120 dev b0 nodad
	B ip addr add 2001:db8:ff::20/64 dev b0 nodad
	A ip addr add 192.0.2.129/25 dev a1
	A ip addr add 2001:db8:1::1:1/112 dev a1 nodad
	C ip addr add 192.0.2.130/25 dev c0
	C ip addr add 2001:db8:1::1:130/112 dev c0 nodad
	A ip link set a0 up; A ip link set a1 up; B ip link set b0 up; C ip link set c0 up
	# Routes through a device need it up.
	A ip route add 198.51.100.0/24 dev a0
	A ip -6 route add 2001:db8:ff::/64 dev a0
	B ip route add 192.0.2.128/25 via 192.0.2.10
	C ip route add default via 192.0.2.129
	C ip -6 route add default via 2001:db8:1::1:1
	B ip -6 route add 2001:db8:1::1:0/112 via 2001:db8:1::10
	A sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	sleep 1 # let the links come up
}


# TCP connect from namespace $1 to $2:$3 [from source address $4]; 0 when
# the connection opens.
tcp_ok() {
	local ns=$1 host=$2 port=$3 src=${4:-}
	ip netns exec "$ns" timeout 4 nc -z -w 2 ${src:+-s "$src"} "$host" "$port" >/dev/null 2>&1
}

# TCP listeners (IPv4 and IPv6) in namespace $1 on port $2, accepting
# repeatedly for at most 10 minutes.
listen_tcp() {
	ip netns exec "$1" timeout 600 nc -4 -lk "$2" >/dev/null 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
	ip netns exec "$1" timeout 600 nc -6 -lk "$2" >/dev/null 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
}

# One UDP datagram from $1 to $2:$3 [from source address $5], received by
# a listener in $4.
udp_ok() {
	local from=$1 host=$2 port=$3 to=$4 src=${5:-} out="$WORK/udp.$RANDOM"
	local fam=-4; [[ $host == *:* ]] && fam=-6
	ip netns exec "$to" timeout 3 nc $fam -u -l -W 1 "$port" > "$out" 2>/dev/null &
	local pid=$!
	sleep 0.3
	echo "ping-$port" | ip netns exec "$from" timeout 2 nc -u -w 1 ${src:+-s "$src"} "$host" "$port" >/dev/null 2>&1
	wait $pid 2>/dev/null
	grep -q "ping-$port" "$out"
}

ping_ok() {
	local ns=$1 host=$2
	ip netns exec "$ns" ping -q -c 1 -W 1 "$host" >/dev/null 2>&1
}


# ---- the demo's cloud (examples/demo.sh) ------------------------------
#
#   ns inet (the Internet)  eth0 203.0.113.10 ---- inet0 ┐
#   ns web  (VM, AsgWeb)    eth0 10.10.1.4    ---- web0  │ ns host: the
#   ns app  (VM, AsgLogic)  eth0 10.10.2.4    ---- app0  │ hypervisor and
#   ns db   (VM, AsgDb)     eth0 10.10.3.4    ---- db0   │ VNet router;
#   ns c1, c2 (containers)  eth0 10.10.4.x  -- veth -- cni0 ┘ xnsg runs here
#
# The VMs' NICs are the host ends of their veths (attach "peer": what a VM
# sends arrives on its host end), as the containers' are; the containers'
# veths, addresses and the cni0 bridge are made by the real `bridge` and
# `host-local` CNI plugins, chained with xnsg-cni (cloud_container).  The
# caller sets ID and WORK (XNSG_PIN_DIR and XNSG_STATE_DIR under it).

CLOUD_VMS="web app db"

cloud_ns() { echo "$ID-$1"; }
H() { ip netns exec "$ID-host" "$@"; }

# cloud_link NAME HOST_IF ADDR/LEN GATEWAY: a namespace with eth0, whose
# host end HOST_IF (in ns host) is the gateway's side.
cloud_link() {
	local ns="$ID-$1" hif=$2 addr=$3 gw=$4
	ip netns add "$ns" || return 1
	ip link add "$hif" netns "$ID-host" type veth peer name eth0 netns "$ns" || return 1
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip addr add "$addr" dev eth0
	ip netns exec "$ns" ip link set eth0 up
	H ip addr add "$gw/${addr#*/}" dev "$hif"
	H ip link set "$hif" up
	ip netns exec "$ns" ip route add default via "$gw"
}

cloud_setup() {
	mkdir -p "$WORK/bpf" "$WORK/bin" "$WORK/cache"
	mount -t bpf bpf "$WORK/bpf" || return 1
	ip netns add "$ID-host" || return 1
	H ip link set lo up
	H sysctl -qw net.ipv4.ip_forward=1
	cloud_link inet inet0 203.0.113.10/24 203.0.113.1 || return 1
	cloud_link web web0 10.10.1.4/24 10.10.1.1 || return 1
	cloud_link app app0 10.10.2.4/24 10.10.2.1 || return 1
	cloud_link db db0 10.10.3.4/24 10.10.3.1 || return 1
	ln -sf "$XNSG" "$WORK/bin/xnsg-cni"
	cat > "$WORK/containers.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "demo-containers",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true,
      "ipam": { "type": "host-local", "dataDir": "$WORK/ipam",
                "ranges": [[{ "subnet": "10.10.4.0/24", "gateway": "10.10.4.1" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "xnsg-cni", "policy": "$WORK/policy.json", "subnet": "containers", "ingress": "tc" }
  ] }
JSON
}

# cloud_cni COMMAND NAME [cni_exec.py options]: as a runtime runs the
# network configuration list for container NAME (tests/e2e/cni_exec.py).
cloud_cni() {
	local cmd=$1 name=$2; shift 2
	H env CNI_PATH="/usr/lib/cni:$WORK/bin" CNI_CACHE_DIR="$WORK/cache" \
		python3 "$REPO/tests/e2e/cni_exec.py" "$cmd" "$WORK/containers.conflist" "$name" \
		"/run/netns/$ID-$name" eth0 "$@"
}

# cloud_container NAME ASG: a container namespace, set up by the CNI chain
# with the container in application security group ASG.
cloud_container() {
	ip netns add "$ID-$1" || return 1
	ip netns exec "$ID-$1" ip link set lo up
	cloud_cni ADD "$1" --args "IgnoreUnknown=1;XNSG_ASGS=$2" > "$WORK/$1.add"
}

# The container's address, from the CNI result.
cloud_ip() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["ips"][0]["address"].split("/")[0])' \
		"$WORK/$1.add"
}

# Everything cloud_setup and cloud_container made, whatever failed.
cloud_cleanup() {
	local n
	set +e
	for n in c1 c2; do
		[ -e "$WORK/$n.add" ] && cloud_cni DEL "$n" >/dev/null 2>&1
	done
	H "$XNSG" detach --all >/dev/null 2>&1
	for n in c1 c2 inet $CLOUD_VMS host; do
		ip netns pids "$ID-$n" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ID-$n" 2>/dev/null
	done
	umount "$WORK/bpf" 2>/dev/null
	rm -rf "$WORK"
}

# The host end of container NAME's veth, from the CNI result.
cloud_veth() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print([i["name"] for i in r["interfaces"] if not i.get("sandbox") and i["name"] != "cni0"][0])' \
		"$WORK/$1.add"
}

# Run every test_NAME of the TESTS array: one "[NAME] PASS|FAIL|SKIP"
# line each (a failing test's output indented after it, its "note: "
# lines after a pass), then "N passed, N failed[, N skipped]"; non-zero
# when any failed.  A test skips by printing "SKIP: why" and returning 2.
# Hooks, when set to a function name: BEFORE_TEST (before each test),
# ON_FAIL (after a failure's output).
run_tests() {
	local t log rc passed=0 failed=0 skipped=0
	for t in "${TESTS[@]}"; do
		log="$WORK/$t.log"
		[ -n "${BEFORE_TEST:-}" ] && "$BEFORE_TEST"
		"test_$t" > "$log" 2>&1; rc=$?
		if [ $rc -eq 0 ]; then
			echo "[$t] PASS"; passed=$((passed + 1))
			sed -n 's/^note: /    /p' "$log"
		elif [ $rc -eq 2 ] && grep -q '^SKIP' "$log"; then
			echo "[$t] SKIP: $(sed -n 's/^SKIP: //p' "$log")"; skipped=$((skipped + 1))
		else
			echo "[$t] FAIL"; sed 's/^/    /' "$log"; failed=$((failed + 1))
			[ -n "${ON_FAIL:-}" ] && "$ON_FAIL"
		fi
	done
	echo "$passed passed, $failed failed$([ $skipped -gt 0 ] && echo ", $skipped skipped")"
	[ $failed -eq 0 ]
}
