#!/usr/bin/env bash
# Install the Debian packages xnsg needs, only when something is missing.
#   tools/deps.sh          check; install what is missing (needs root)
#   tools/deps.sh --check  check only; exit 1 when something is missing
set -euo pipefail

# Build: clang/llvm (BPF), libbpf, bpftool (skeletons), libelf/zlib (libbpf's
# own deps), jansson (JSON), libmicrohttpd (the metrics endpoint), libsystemd
# (sd_notify), xxhash (the digest of a policy's tables), pkg-config.
# Tests: Criterion; iproute2, netcat, iperf3 for
# end-to-end traffic; nfdump and tshark (real IPFIX collectors), prometheus
# (a real scraper), containernetworking-plugins (the real bridge/host-local
# plugins xnsg-cni chains after).  Benchmarks: nftables, iptables, xdp-tools
# (the peers), python3 (the report).
PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjansson-dev
      libmicrohttpd-dev libsystemd-dev libxxhash-dev libcriterion-dev pkg-config make iproute2
      netcat-openbsd iperf3 iputils-ping nftables iptables xdp-tools python3
      nfdump tshark prometheus containernetworking-plugins)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "xnsg: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "xnsg: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
