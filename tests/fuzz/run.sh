#!/bin/sh
# The long fuzz run (make fuzz): every target (or those named), first its
# reproducers from tests/fuzz/regressions/ once each, then libFuzzer on the
# seeds and the corpus that earlier runs left in build/fuzz/corpus/TARGET,
# for FUZZ_TIME seconds (default 60) or, with FUZZ_RUNS set, that many
# executions. One line per target:
#   fuzz model: 1000000 runs in 612 s wall, 590 s CPU (1634/s, 1695/CPU-s), no crash
# (CPU: user + system time, what the run got of a shared machine). A crash
# prints the sanitizer's report and the saved input (build/fuzz/artifacts/);
# the exit status is 1 if any target failed. Expects make fuzz-build fuzz-seeds.
cd "$(dirname "$0")/../.." || exit 2
D=build/fuzz
[ $# -gt 0 ] || set -- stream specstream audio model pth safetensors config train_state
if [ -n "${FUZZ_RUNS:-}" ]; then
	limit="-runs=$FUZZ_RUNS"
else
	limit="-max_total_time=${FUZZ_TIME:-60}"
fi
mkdir -p $D/artifacts
failed=
for t in "$@"; do
	log=$D/$t.log
	for r in tests/fuzz/regressions/"$t"-*; do
		[ -e "$r" ] || continue
		if ! $D/fuzz_"$t" "$r" >"$log" 2>&1; then
			failed="$failed $t"
			echo "fuzz $t: regression $(basename "$r") crashes (log: $log)"
			grep -m 6 -E 'ERROR|SUMMARY|runtime error' "$log"
			continue 2
		fi
	done
	mkdir -p $D/corpus/"$t"
	dict=
	[ -f tests/fuzz/"$t".dict ] && dict=-dict=tests/fuzz/$t.dict
	/usr/bin/time -f 'cpu %U %S' -o $D/"$t".time $D/fuzz_"$t" $limit -max_len="$(sh tests/fuzz/max_len.sh "$t")" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$D/artifacts/"$t"- $dict \
		$D/corpus/"$t" $D/seeds/"$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
	cpu=$(awk '/^cpu/ {printf "%.0f", $2 + $3}' $D/"$t".time 2>/dev/null)
	if [ $rc -eq 0 ] && [ -n "$runs" ]; then
		echo "fuzz $t: $runs runs in ${secs:-?} s wall, ${cpu:-?} s CPU" \
			"($((runs / (${secs:-0} > 0 ? secs : 1)))/s, $((runs / (${cpu:-0} > 0 ? cpu : 1)))/CPU-s), no crash"
	else
		failed="$failed $t"
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "fuzz $t: FAILED, exit $rc${art:+, input saved as $art} (log: $log)"
		grep -m 12 -E -A3 'ERROR|runtime error' "$log"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: failures in:$failed"
	exit 1
fi
