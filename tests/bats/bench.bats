#!/usr/bin/env bats
# tf-bench: the tables it prints and the numbers that do not depend on timing.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	G="$BATS_TEST_DIRNAME/../data/golden"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 62 --hop 16 -o "$D/m.bin"
	tf-export --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" \
		--n-fft 62 --hop 16 --stems drums,bass,other,vocals -o "$D/s.bin"
}

# tf-bench with its stderr apart: on a busy machine it warns there, and the
# tests below read the tables line by line
bench() {
	tf-bench "$@" 2>"$D/stderr"
}

@test "tf-bench --help and --version" {
	run tf-bench --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: tf-bench"* ]]
	run tf-bench --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"tf-bench (tfswa)"* ]]
}

@test "the kernels it names are the ones --version names" {
	want=$(tf-unet --version | sed -n 's/^kernels: //p')
	[ -n "$want" ]
	run bench --runs 1 -w 0 -j 1 "$D/m.bin"
	[ "$status" -eq 0 ]
	got=$(printf '%s\n' "$output" | sed -n 's/.*Kernels: \(.*\)\.$/\1/p')
	echo "got [$got], expected [$want]"
	[ "$got" = "$want" ]
}

@test "markdown: a row per model and thread count, with the expected columns" {
	run bench --runs 2 -j 1,2 -m "$D/m.bin" "$D/m.bin"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "${lines[0]}" == "| model | params | shape | threads | GFLOP | median ms | min ms | max ms | GFLOP/s | % of peak | RTF (180 s) | peak RSS MB | vs first |" ]]
	[ "$(printf '%s\n' "$output" | grep -c "^| m | ")" -eq 4 ]
	[ "$(printf '%s\n' "$output" | grep -c "^| m | .* | 1x2x32x256 | 1 | ")" -eq 2 ]
	[ "$(printf '%s\n' "$output" | grep -c "^| m | .* | 1x2x32x256 | 2 | ")" -eq 2 ]
	# every row has the 13 columns
	[ "$(printf '%s\n' "$output" | grep '^| m |' | awk -F'|' '{print NF}' | sort -u)" = 15 ]
	[[ "$output" == *"FMA peak ("*" loop, measured): 1 thread "*" GFLOP/s"*", 2 threads "* ]]
}

@test "the GFLOP are tf-export --flops's" {
	want=$(tf-export --info "$D/m.bin" --flops 40x50 | sed -n 's/^flops: //p')
	run bench --runs 2 -j 1 --shape 1x2x40x50 "$D/m.bin"
	[ "$status" -eq 0 ]
	got=$(printf '%s\n' "$output" | awk -F' *[|] *' '/^[|] m / {print $6}')
	echo "want $want got $got"
	[ "$got" = "$want" ]
	# FxT: batch 1 and the model's channels
	run bench --runs 2 -j 1 --shape 40x50 --csv "$D/s.bin"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *",1x4x40x50,"* ]]
}

@test "--json parses and has the fields" {
	run bench --runs 2 -j 1,2 --json --profile -m "$D/m.bin"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$D/out.json"
	run $PY -c "
import json
d = json.load(open('$D/out.json'))
assert d['program'] == 'tf-bench' and d['runs'] == 2 and d['warmup'] == 1, d
assert [p['threads'] for p in d['fma_peak_gflops']] == [1, 2]
assert all(p['gflops'] > 0 for p in d['fma_peak_gflops'])
assert all(0 < p['median_gflops'] <= p['gflops'] and p['trials'] == 9 and p['busy'] in (True, False)
           for p in d['fma_peak_gflops'])
rs = d['results']
assert len(rs) == 2 and [r['threads'] for r in rs] == [1, 2]
for r in rs:
    for k in ('label', 'kind', 'model', 'params', 'shape', 'threads', 'gflop', 'median_s', 'min_s', 'max_s',
              'gflops', 'peak_gflops', 'peak_fraction', 'rtf', 'segments', 'peak_rss_mb', 'ratio', 'timing', 'stages'):
        assert k in r, k
    assert r['shape'] == [1, 2, 32, 256] and r['kind'] == 'model'
    assert r['label'] == 'm' and r['model'] == '$D/m.bin', (r['label'], r['model'])
    assert r['min_s'] <= r['median_s'] <= r['max_s']
    assert r['peak_rss_mb'] > 0 and r['ratio'] == 1
    # 180 s at 44.1 kHz, hop 16: 496126 frames in segments of 256 overlapping by 64
    assert r['segments'] == 2584, r['segments']
    assert abs(r['rtf'] - r['segments'] * r['median_s'] / 180) < 1e-3 * r['rtf']
print('ok')
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--profile: every stage, none negative, adding up to the total" {
	run bench --runs 2 -j 1 --profile --json "$D/m.bin"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$D/p.json"
	run $PY -c "
import json
r = json.load(open('$D/p.json'))['results'][0]
names = [s['name'] for s in r['stages']]
assert names == ['stem', 'enc0', 'enc1', 'enc2', 'bottleneck', 'dec0', 'dec1', 'dec2', 'head'], names
assert all(s['median_s'] >= 0 for s in r['stages'])
assert abs(sum(s['gflop'] for s in r['stages']) - r['gflop']) < 1e-5
# medians of parts need not add up to the median of the whole exactly
t = sum(s['median_s'] for s in r['stages'])
assert 0.5 * r['median_s'] <= t <= 2 * r['median_s'], (t, r['median_s'])
print('ok')
"
	echo "$output"
	[ "$status" -eq 0 ]
	run bench --runs 2 -j 1 --profile "$D/m.bin"
	for s in stem enc0 enc1 enc2 bottleneck dec0 dec1 dec2 head "sum of stages"; do
		[[ "$output" == *"| m | 1 | $s | "* ]]
	done
}

@test "--csv: a header and a row per configuration" {
	run bench --runs 2 -j 1,2 --csv "$D/m.bin"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "label,kind,params,shape,threads,gflop,median_s,min_s,max_s,gflops,peak_gflops,peak_fraction,rtf,segments,peak_rss_mb,ratio,timing,peak_busy" ]
	[[ "${lines[1]}" == "\"m\",model,"*",1x2x32x256,1,"* ]]
	[[ "${lines[2]}" == "\"m\",model,"*",1x2x32x256,2,"* ]]
	n=$(printf '%s\n' "$output" | $PY -c "import csv, sys; print(sorted({len(r) for r in csv.reader(sys.stdin)}))")
	[ "$n" = "[18]" ]
}

@test "--ref-cmd: a row with its ratio; 'seconds: X' is its time; placeholders filled in" {
	run bench --runs 2 -j 1 -m "$D/m.bin" --ref-cmd "sh -c 'echo seconds: 0.5'" \
		--ref-cmd "args=echo {B} {C} {F} {T} {shape} {threads} {model} {other} > $D/args"
	[ "$status" -eq 0 ]
	echo "$output"
	row=$(printf '%s\n' "$output" | grep "^| sh -c 'echo seconds: 0.5' | ")
	[[ "$row" == *" | 500.0 | 500.0 | 500.0 | "* ]]
	ours=$(printf '%s\n' "$output" | awk -F' *[|] *' '/^[|] m / {print $7}')
	ratio=$(printf '%s\n' "$row" | awk -F' *[|] *' '{print $14}')
	echo "ours $ours ms, ratio $ratio"
	[[ "$ratio" == *x ]]
	# the ratio is of unrounded times: within 2% of the rounded ones'
	awk -v o="$ours" -v r="${ratio%x}" 'BEGIN {d = r / (500 / o); exit !(d > 0.98 && d < 1.02)}'
	[[ "$output" == *"| args | - | 1x2x32x256 | 1 | "* ]]
	[ "$(cat "$D/args")" = "1 2 32 256 1x2x32x256 1 $D/m.bin {other}" ]
	[[ "$output" == *"Command sh -c 'echo seconds: 0.5': the time it printed"* ]]
	[[ "$output" == *"Command args: wall clock around it"* ]]
}

@test "--ref-cmd: the command's peak RSS is its own, not tf-bench's" {
	run bench --runs 1 -w 0 -j 1 --shape 1x2x256x256 --csv "$D/m.bin" --ref-cmd "nothing=true"
	[ "$status" -eq 0 ]
	echo "$output"
	ours=$(printf '%s
' "$output" | awk -F, 'NR == 2 {print $15}')
	cmd=$(printf '%s
' "$output" | awk -F, 'NR == 3 {print $15}')
	awk -v o="$ours" -v c="$cmd" 'BEGIN {exit !(c > 0 && c < o / 2)}'
}

@test "--compare: one row per model, one column per thread count" {
	run bench --runs 2 -j 1,2 --compare -m "$D/m.bin" "$D/m.bin" --ref-cmd "ref=echo seconds: 1"
	[ "$status" -eq 0 ]
	echo "$output"
	[ "${lines[0]}" = "| model | 1 thread, median ms (vs first) | 2 threads, median ms (vs first) |" ]
	[[ "${lines[2]}" == "| m | "*" (1.00x) | "*" (1.00x) |" ]]
	[[ "${lines[4]}" == "| ref | 1000 ("*"x) | 1000 ("*"x) |" ]]
}

@test "model rows are named by the file name; two files of one name by their paths" {
	mkdir -p "$D/other"
	cp "$D/m.bin" "$D/other/m.bin"
	cp "$D/m.bin" "$D/tiny"
	run bench --runs 1 -w 0 -j 1 --compare "$D/m.bin" "$D/tiny"
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" == "| m | "* ]]
	[[ "${lines[3]}" == "| tiny | "* ]]
	run bench --runs 1 -w 0 -j 1 --compare "$D/m.bin" "$D/other/m.bin"
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" == "| $D/m.bin | "* ]]
	[[ "${lines[3]}" == "| $D/other/m.bin | "* ]]
}

@test "the peak line says when the machine looked busy" {
	run bench --runs 1 -w 0 -j 1 "$D/m.bin"
	[ "$status" -eq 0 ]
	# whichever it was, the table and stderr agree
	if grep -q "machine looks busy" "$D/stderr"; then
		[[ "$output" == *"GFLOP/s (busy)"* ]]
		[[ "$output" == *"The machine looked busy while the peak was measured on 1 thread"* ]]
	else
		[[ "$output" != *"(busy)"* ]]
	fi
}

@test "bad input: one clean line" {
	run tf-bench
	assert_usage_failure tf-bench
	run tf-bench -m "$D/nonexistent.bin"
	assert_clean_failure tf-bench
	run tf-bench -m "$BATS_TEST_DIRNAME/../../README.md"
	assert_clean_failure tf-bench
	run tf-bench -m "$D/m.bin" --shape 1x4x32x64
	assert_clean_failure tf-bench
	[[ "$output" == *"4 channels, the model takes 2"* ]]
	run tf-bench -m "$D/m.bin" --shape 1x2x4x64
	assert_clean_failure tf-bench
	[[ "$output" == *"smaller than the network's minimum"* ]]
	for bad in 1x2x 0x2x32x32 1x2x3x4x5 abc 1x2x3; do
		run tf-bench -m "$D/m.bin" --shape "$bad"
		assert_usage_failure tf-bench
	done
	run tf-bench -m "$D/m.bin" -j 1,,2
	assert_usage_failure tf-bench
	run tf-bench -m "$D/m.bin" --runs 0
	assert_usage_failure tf-bench
	run tf-bench -m "$D/m.bin" --json --csv
	assert_usage_failure tf-bench
	# these fail after the peak probe, which may have warned of a busy machine
	for cmd in false 'echo seconds: soon'; do
		run bench --runs 1 -m "$D/m.bin" --ref-cmd "$cmd"
		[ "$status" -eq 1 ]
		[ -z "$output" ]
		grep -v '^tf-bench: the machine looks busy' "$D/stderr" > "$D/rest" || true
		[ "$(wc -l < "$D/rest")" -eq 1 ]
		grep -q "^tf-bench: --ref-cmd '$cmd'" "$D/rest"
	done
	run tf-bench -m "$D/m.bin" --shape 2x2x32x32 --profile
	assert_usage_failure tf-bench
}

@test "--ref-cmd: the command gets the user's environment, not tf-bench's own OpenMP waiting" {
	run env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT tf-bench --runs 1 -w 0 -j 1 -m "$D/m.bin" \
		--ref-cmd "envcheck=sh -c 'env > $D/env'"
	[ "$status" -eq 0 ]
	! grep -q '^GOMP_SPINCOUNT=' "$D/env"
	! grep -q '^TFSWA_SPIN_SET=' "$D/env"
}
