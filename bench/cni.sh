#!/usr/bin/env bash
# make bench-cni (and make bench): the CNI plugin's ADD and DEL latency
# with N containers already attached (default 250; goal: ADD p99 <= 100 ms).
# A measurement, not a test: it prints the figures and writes
# bench/RESULTS-cni.md and bench/cni-results.json.
#
#   bench/cni.sh BUILD_DIR [--quick] [--containers N] [--samples S]
#
# In a namespace of its own (the "host"), N+1 veth pairs stand for the
# containers' (their host ends named as the bridge plugin names them); the
# plugin is exec'd as a runtime execs it, with the CNI environment and a
# configuration whose prevResult names the veth and the container's
# address.  N containers are added one by one (the ADD latency as they
# accumulate is recorded), then S times: ADD one more, DEL it — each
# timed from exec to exit.  Every ADD applies the whole merged policy
# (N interfaces, two ASGs of N/2 members each).
set -u
BUILD=$(realpath "${1:-build}")
shift || true
N=250 S=100
while [ $# -gt 0 ]; do
	case $1 in
	--quick) N=50 S=20 ;;
	--containers) N=$2; shift ;;
	--samples) S=$2; shift ;;
	*) echo "usage: bench/cni.sh BUILD_DIR [--quick] [--containers N] [--samples S]" >&2; exit 2 ;;
	esac
	shift
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
ID="xnsg-bcni-$$"
NS="$ID-h"
WORK=$(mktemp -d "/tmp/$ID.XXXX")
export XNSG_PIN_DIR="$WORK/bpf/xnsg" XNSG_STATE_DIR="$WORK/run"

cleanup() {
	set +e
	ip netns exec "$NS" "$BUILD/xnsg" detach --all >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	umount "$WORK/bpf" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "bench-cni needs root"; exit 1; }
[ -x "$BUILD/xnsg-cni" ] || { echo "bench-cni: $BUILD/xnsg-cni missing (make)"; exit 1; }
mkdir -p "$WORK/bpf" && mount -t bpf bpf "$WORK/bpf" || exit 1
ip netns add "$NS" || exit 1
# One batch for the kernel: N+1 veth pairs in a few hundred milliseconds.
for i in $(seq 0 "$N"); do
	printf 'link add veth%08x type veth peer name c%d\nlink set veth%08x up\n' "$i" "$i" "$i"
done | ip -n "$NS" -batch - || exit 1

cat > "$WORK/policy.json" <<'EOF'
{
  "virtualNetwork": { "name": "bench", "addressPrefixes": ["10.88.0.0/16"] },
  "applicationSecurityGroups": { "WebServers": [], "DbServers": [] },
  "networkSecurityGroups": [
    { "name": "containers-nsg",
      "securityRules": [
        { "name": "AllowWebToDb", "priority": 100, "direction": "Inbound", "access": "Allow",
          "protocol": "Tcp", "sourceApplicationSecurityGroups": ["WebServers"], "sourcePortRange": "*",
          "destinationApplicationSecurityGroups": ["DbServers"], "destinationPortRange": "5432" },
        { "name": "AllowHttp", "priority": 110, "direction": "Inbound", "access": "Allow",
          "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
          "destinationApplicationSecurityGroups": ["WebServers"], "destinationPortRanges": ["80", "443"] },
        { "name": "DenyVnet", "priority": 4000, "direction": "Inbound", "access": "Deny",
          "protocol": "*", "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*",
          "destinationAddressPrefix": "*", "destinationPortRange": "*" }
      ] }
  ],
  "interfaces": []
}
EOF

ip netns exec "$NS" "$PY" - "$BUILD/xnsg-cni" "$WORK" "$N" "$S" "$REPO/bench" <<'EOF'
import json, os, subprocess, sys, time

plugin, work, n, samples, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def conf(i, prev=True):
    c = {"cniVersion": "1.0.0", "name": "bench", "type": "xnsg-cni",
         "policy": f"{work}/policy.json", "nsg": "containers-nsg"}
    if prev:
        c["prevResult"] = {"cniVersion": "1.0.0",
            "interfaces": [{"name": "cni0"}, {"name": f"veth{i:08x}"},
                           {"name": "eth0", "sandbox": f"/run/netns/bench-{i}"}],
            "ips": [{"interface": 2, "address": f"10.88.{i // 250}.{i % 250 + 2}/16"}]}
    return json.dumps(c)

def run(cmd, i):
    asg = "WebServers" if i % 2 else "DbServers"
    env = dict(os.environ, CNI_COMMAND=cmd, CNI_CONTAINERID=f"bench{i}", CNI_NETNS=f"/run/netns/bench-{i}",
               CNI_IFNAME="eth0", CNI_ARGS=f"IgnoreUnknown=1;XNSG_ASGS={asg}", CNI_PATH=os.path.dirname(plugin))
    t = time.perf_counter()
    p = subprocess.run([plugin], input=conf(i).encode(), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t) * 1000
    if p.returncode:
        sys.exit(f"bench-cni: {cmd} {i} failed: {p.stdout.decode()} {p.stderr.decode()}")
    return ms

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]

growth = []
for i in range(n):
    ms = run("ADD", i)
    if i % max(1, n // 5) == 0 or i == n - 1:
        growth.append((i, ms))
add, dele = [], []
for k in range(samples):
    add.append(run("ADD", n))
    dele.append(run("DEL", n))
res = {"containers": n, "samples": samples,
       "add_ms": {"p50": pct(add, 50), "p99": pct(add, 99), "max": max(add)},
       "del_ms": {"p50": pct(dele, 50), "p99": pct(dele, 99), "max": max(dele)},
       "add_ms_while_filling": [{"attached": i, "ms": ms} for i, ms in growth],
       "goal_add_p99_ms": 100}
json.dump(res, open(f"{out}/cni-results.json", "w"), indent=1)
lines = [f"# CNI plugin latency (bench/cni.sh)", "",
         f"xnsg-cni exec'd as a runtime does, {n} containers attached, {samples} samples of",
         f"ADD one more / DEL it (each from exec to exit, ms; this machine, one run).", "",
         "| | p50 | p99 | max |", "| --- | --- | --- | --- |",
         f"| ADD | {res['add_ms']['p50']:.1f} | {res['add_ms']['p99']:.1f} | {res['add_ms']['max']:.1f} |",
         f"| DEL | {res['del_ms']['p50']:.1f} | {res['del_ms']['p99']:.1f} | {res['del_ms']['max']:.1f} |", "",
         "ADD while filling: " + ", ".join(f"{ms:.1f} ms at {i}" for i, ms in growth), "",
         f"Goal: ADD p99 <= 100 ms at 250 containers: "
         + ("met" if n >= 250 and res['add_ms']['p99'] <= 100 else "not met" if n >= 250 else "(fewer containers: --quick)"), ""]
open(f"{out}/RESULTS-cni.md", "w").write("\n".join(lines))
print("\n".join(lines))
EOF
