#!/bin/sh
# A short libFuzzer run of every fuzz target (FUZZ_SMOKE_TIME seconds each,
# default 3), for `make check`: one TAP line per target,
#   ok N - fuzz pth 3s: X execs, no crash
# then every input in tests/fuzz/regressions/ (named TARGET-what) once
# through its target: inputs that once crashed, kept so the fix stays.
# Builds the targets and seeds first (make fuzz-build fuzz-seeds). Without
# clang every target is skipped.
cd "$(dirname "$0")/../.." || exit 2
T=${FUZZ_SMOKE_TIME:-3}
targets="stream specstream audio model pth safetensors config train_state"
set -- $targets
for r in tests/fuzz/regressions/*-*; do
	[ -e "$r" ] && set -- "$@" "regression $(basename "$r")"
done
echo "1..$#"
n=0
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
	for t in "$@"; do
		n=$((n + 1))
		echo "ok $n - fuzz $t # SKIP clang not installed"
	done
	exit 0
fi
mkdir -p build/fuzz/artifacts
if ! make -s fuzz-build fuzz-seeds >build/fuzz/build.log 2>&1; then
	for t in "$@"; do
		n=$((n + 1))
		echo "not ok $n - fuzz $t: the fuzz build failed (build/fuzz/build.log)"
	done
	tail -n 20 build/fuzz/build.log | sed 's/^/# /'
	exit 1
fi
fail=0
for t in $targets; do
	n=$((n + 1))
	log=build/fuzz/smoke-$t.log
	work=$(mktemp -d)
	dict=
	[ -f tests/fuzz/$t.dict ] && dict=-dict=tests/fuzz/$t.dict
	build/fuzz/fuzz_$t -max_total_time="$T" -max_len=$(sh tests/fuzz/max_len.sh $t) -timeout=10 -rss_limit_mb=2048 -seed=$n \
		-artifact_prefix=build/fuzz/artifacts/$t- $dict "$work" build/fuzz/seeds/$t >"$log" 2>&1
	rc=$?
	rm -rf "$work"
	execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
	if [ $rc -eq 0 ] && [ -n "$execs" ]; then
		echo "ok $n - fuzz $t ${T}s: $execs execs, no crash"
	else
		fail=1
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "not ok $n - fuzz $t: exit $rc${art:+, input saved as $art} (log: $log)"
		grep -m 8 -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | sed 's/^/# /'
	fi
done
for r in tests/fuzz/regressions/*-*; do
	[ -e "$r" ] || continue
	n=$((n + 1))
	t=$(basename "$r")
	t=${t%%-*}
	log=build/fuzz/regression-$(basename "$r").log
	if build/fuzz/fuzz_$t "$r" >"$log" 2>&1; then
		echo "ok $n - fuzz $t regression $(basename "$r"): no crash"
	else
		fail=1
		echo "not ok $n - fuzz $t regression $(basename "$r") crashes (log: $log)"
		grep -m 4 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/# /'
	fi
done
exit $fail
