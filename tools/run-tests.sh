#!/usr/bin/env bash
# Run every test suite this machine can run; each prints its own summary
# (Criterion's, or "N passed, N failed").  Exit non-zero if any failed.
set -u
build=${1:-build}
failed=()

run() {
	local name=$1; shift
	echo "==== $name"
	"$@"
	local rc=$?
	[ $rc -eq 0 ] || failed+=("$name (exit $rc)")
}

export XNSG_BIN="$build/xnsg"
run unit "$build/tests/unit-tests"
run golden tests/golden/run.sh "$build/xnsg"
run lint tests/lint/run.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "==== bpf: SKIP: needs root (BPF_PROG_TEST_RUN)"
	echo "==== e2e: SKIP: needs root (network namespaces)"
	echo "==== e2e-flowlog: SKIP: needs root (network namespaces)"
else
	run bpf "$build/tests/bpf-tests"
	[ -x tests/e2e/run.sh ] && run e2e tests/e2e/run.sh "$build/xnsg"
	[ -x tests/e2e/flowlog.sh ] && run e2e-flowlog tests/e2e/flowlog.sh "$build/xnsg"
	run e2e-cni tests/e2e/cni.sh "$build/xnsg"
	run e2e-daemon tests/e2e/daemon.sh "$build/xnsg"
fi

echo "===="
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed suites: ${failed[*]}"
	exit 1
fi
echo "all suites passed"
