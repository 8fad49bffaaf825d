#!/usr/bin/env bash
# Golden output of the policy commands (check, show, verify) on every
# example: stdout, stderr and exit status, compared byte for byte with
# tests/golden/expected/.  Unprivileged.  A change of output that is meant
# is recorded with:  tests/golden/run.sh build/xnsg --update
set -u
xnsg=${1:?usage: run.sh XNSG [--update]}
update=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
exp=$here/expected
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pass=0 fail=0

# Every command line the golden files cover, one a line: NAME|ARGS...
cases() {
	local f n
	for f in "$top"/examples/*.json; do
		n=$(basename "$f" .json)
		echo "check-$n|check examples/$n.json"
		echo "show-$n|show examples/$n.json"
		echo "show-json-$n|--json show examples/$n.json"
	done
	# Usage and help: their text is part of the contract too.
	echo "help|--help"
	for c in check show verify apply detach status stats flows import flowlog cni run; do
		echo "help|$c --help"
	done
	# Azure's exports: refused by check with the command that converts
	# them, converted by import (tests/fixtures/azure/README.md says
	# where each comes from).
	local az=tests/fixtures/azure
	for f in "$top"/$az/*.json; do
		echo "check-azure|check $az/$(basename "$f")"
	done
	echo "import|import $az/cli-vnet-show.json $az/cli-nic-show.json --map nic-000002=eth0"
	echo "import|import $az/rest-nsg-get.json $az/rest-vnet-get.json $az/rest-nic-get.json --map test-nic=eth0"
	echo "import|import $az/rest-nsg-get.json $az/rest-vnet-get.json"
	echo "import|import $az/checkov-nsg-template.json"
	echo "import|import $az/cli-nic-show.json --map nosuch=eth0"
	echo "usage|import"
	echo "usage|import $az/cli-nic-show.json --map nic-000002"
	echo "usage|verify examples/demo.json -i a0"
	echo "usage|show"
	echo "usage|check a b"
	echo "usage|nosuchcommand"
	echo "usage|verify examples/demo.json -i a0 -d sideways -P Tcp -l 192.0.2.10:80 -r 203.0.113.5:1"
	echo "usage|--json verify examples/demo.json -i nosuch -d in -P Tcp -l 192.0.2.10:80 -r 203.0.113.5:1"
	# verify: each interface's first IPv4 (and IPv6) address, both
	# directions, TCP/UDP/ICMP, against an Internet, a VNet-ish and the
	# load balancer's address.
	python3 - "$top" <<'PY'
import glob, json, os, sys
top = sys.argv[1]
for f in sorted(glob.glob(os.path.join(top, "examples", "*.json"))):
    n = os.path.basename(f)[:-5]
    doc = json.load(open(f))
    for ifc in doc.get("interfaces", []):
        for a in ifc.get("ipAddresses", [])[:4]:
            v6 = ":" in a
            remotes = (["[2001:db8:ff::5]", "[fd00:20::99]"] if v6
                       else ["203.0.113.5", "10.10.2.4", "168.63.129.16", "192.0.2.99"])
            for d in ("in", "out"):
                for proto, lp, rp in (("Tcp", "80", "40000"), ("Tcp", "8080", "443"),
                                      ("Udp", "5353", "53"), ("Icmp", None, None)):
                    for r in remotes:
                        la = "[%s]" % a if v6 else a
                        l = la + (":" + lp if lp else "")
                        rr = r + (":" + rp if rp else "")
                        base = "verify examples/%s.json -i %s -d %s -P %s -l %s -r %s" % (
                            n, ifc["name"], d, proto, l, rr)
                        print("verify-%s|%s" % (n, base))
                        print("verify-json-%s|--json %s" % (n, base))
PY
}

# Run every case; cases of one NAME go to one file, in order.
rm -rf "$out/got" && mkdir -p "$out/got"
cd "$top" || exit 1
while IFS='|' read -r name args; do
	{
		echo "\$ xnsg $args"
		# shellcheck disable=SC2086
		"$xnsg" $args 2>&1
		echo "[exit $?]"
	} >>"$out/got/$name.out"
done < <(cases)

if [ "$update" = --update ]; then
	rm -rf "$exp" && cp -r "$out/got" "$exp"
	echo "golden: updated $(ls "$exp" | wc -l) files in $exp"
	exit 0
fi
for g in "$out"/got/*.out; do
	name=$(basename "$g" .out)
	if cmp -s "$g" "$exp/$name.out"; then
		echo "[$name] PASS"; pass=$((pass + 1))
	else
		echo "[$name] FAIL"; fail=$((fail + 1))
		diff -u "$exp/$name.out" "$g" 2>&1 | head -40
	fi
done
for e in "$exp"/*.out; do
	[ -e "$out/got/$(basename "$e")" ] && continue
	echo "[$(basename "$e" .out)] FAIL: expected output but no such case ran"; fail=$((fail + 1))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
