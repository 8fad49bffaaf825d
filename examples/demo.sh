#!/usr/bin/env bash
# make demo: xnsg on three network namespaces with real traffic.
#   A: a web server (xnsg on its NIC a0, attach host)
#   B: a client in the VNet that also owns an Internet address
#   C: a container behind A (xnsg on the host end a1 of its veth, attach peer)
# Policy: examples/demo.json.  Everything is removed on exit.
set -u
XNSG=$(realpath "${1:-build/xnsg}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
ID="xnsg-demo-$$"
. "$REPO/tools/topology.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo needs root (network namespaces, BPF)"; exit 1
fi
need ip nc ping timeout tc
topo_init
POLICY="$REPO/examples/demo.json"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
try() { # try DESCRIPTION EXPECT(pass|drop) COMMAND...
	local what=$1 expect=$2; shift 2
	if "$@"; then got=pass; else got=drop; fi
	printf '  %-58s %-5s %s\n' "$what" "$got" "$([ "$got" = "$expect" ] && echo "(as the policy says)" || echo "(UNEXPECTED)")"
}

say "Setting up namespaces $NS_A, $NS_B, $NS_C"
setup > "$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; exit 1; }
listen_tcp "$NS_A" 8080; listen_tcp "$NS_A" 8081; listen_tcp "$NS_A" 8082
listen_tcp "$NS_B" 9000; listen_tcp "$NS_B" 9001; listen_tcp "$NS_C" 7000; listen_tcp "$NS_C" 7001
sleep 0.3

say "xnsg check $POLICY"
"$XNSG" check "$POLICY"

say "xnsg show -i a0 (effective rules of the web server's NIC, inbound excerpt)"
"$XNSG" show "$POLICY" -i a0 | head -40

say "IP flow verify: would B reach A on 8081? (userspace evaluator, then the BPF classifier)"
"$XNSG" verify "$POLICY" -i a0 -d in -P tcp -l 192.0.2.10:8081 -r 192.0.2.20:40000
x verify "$POLICY" -i a0 -d in -P tcp -l 192.0.2.10:8081 -r 192.0.2.20:40000 --datapath

say "xnsg apply (XDP on receive, TC on send)"
x apply "$POLICY"
x status

say "Traffic"
try "B -> A tcp/8080  (AllowWeb)" pass tcp_ok "$NS_B" 192.0.2.10 8080
try "B -> A tcp/8081  (DenyTcp8081FromVnet)" drop tcp_ok "$NS_B" 192.0.2.10 8081
try "B -> A tcp/8082  (AllowVnetInBound default)" pass tcp_ok "$NS_B" 192.0.2.10 8082
try "B(Internet) -> A tcp/8082 (DenyAllInBound default)" drop tcp_ok "$NS_B" 192.0.2.10 8082 198.51.100.20
try "B -> A [IPv6] tcp/8080" pass tcp_ok "$NS_B" 2001:db8:1::10 8080
try "B -> A udp/5353  (AllowDnsUdp)" pass udp_ok "$NS_B" 192.0.2.10 5353 "$NS_A"
try "B -> A udp/5354  (AllowVnetInBound default)" pass udp_ok "$NS_B" 192.0.2.10 5354 "$NS_A"
try "B -> A ping      (AllowPing)" pass ping_ok "$NS_B" 192.0.2.10
try "B(Internet) -> A ping (DenyPingFromInternet)" drop B ping -q -c 1 -W 1 -I 198.51.100.20 192.0.2.10
try "C -> B tcp/9000  (container Outbound: DenyOut9000)" drop tcp_ok "$NS_C" 192.0.2.20 9000
try "C -> B tcp/9001  (container Outbound: AllowVnetOutBound)" pass tcp_ok "$NS_C" 192.0.2.20 9001
try "B -> C tcp/7001  (container Inbound: DenyIn7001)" drop tcp_ok "$NS_B" 192.0.2.130 7001
try "B -> C tcp/7000  (container Inbound: AllowVnetInBound)" pass tcp_ok "$NS_B" 192.0.2.130 7000

say "xnsg stats (per-rule counters, drops by reason)"
x stats | awk 'NR == 1 || $4 + 0 > 0 || /drops/ || /rule-deny/'

say "xnsg detach --all"
x detach --all
[ -e "$XNSG_PIN_DIR" ] && echo "pins remain!" || echo "  pins removed: $XNSG_PIN_DIR is gone"
say "Done; namespaces are removed on exit"
