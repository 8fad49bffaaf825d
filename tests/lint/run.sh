#!/usr/bin/env bash
# Source rules a reviewer would check by hand, checked on every run
# (docs/DESIGN.md §7, §11).  Unprivileged; prints one line a check and
# "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0

check() { # check NAME COMMAND...: the command prints offenders, nothing when clean
	local name=$1 out; shift
	out=$("$@" 2>&1)
	if [ -z "$out" ]; then
		echo "[$name] PASS"; pass=$((pass + 1))
	else
		echo "[$name] FAIL"; echo "$out" | sed 's/^/    /' | head -20; fail=$((fail + 1))
	fi
}

# No function in user/ longer than 80 lines (tables of data excepted).
fnlen() { python3 tests/lint/fnlen.py $(find user -name '*.c' | sort); }
# Only user/datapath/ makes bpf() syscalls.
bpf_calls() {
	grep -rnE '\bbpf_(map|obj|prog|link)_[a-z_]+\(' user --include='*.[ch]' | grep -v '^user/datapath/'
}
# Code cites the design document in the repository, never a file outside it.
no_outside_refs() {
	grep -rnE 'SPEC §|SPEC\.md|\.\./shared|seed 00[0-9]' user bpf include tests bench examples \
		--include='*.[ch]' --include='*.sh' --include='*.py' | grep -v '^tests/lint/'
}
# Every "docs/DESIGN.md §N" names a section that exists.
design_sections() {
	local n
	for n in $(grep -rhoE 'DESIGN\.md §[0-9]+' user bpf include tests bench README.md | sort -u | grep -oE '[0-9]+$'); do
		grep -q "^## §$n " docs/DESIGN.md || echo "docs/DESIGN.md has no §$n"
	done
}

check function-length fnlen
check bpf-calls-in-datapath-only bpf_calls
check no-references-outside-the-repository no_outside_refs
check design-sections-exist design_sections
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
