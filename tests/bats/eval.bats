#!/usr/bin/env bats
# tf-eval: global SDR and SI-SDR against numpy's arithmetic, the folder and
# MUSDB layouts, medians over tracks, and refusals.

load helpers

# noisy REF EST GAIN NOISE SEED: est = GAIN * ref + NOISE * white noise (float WAV)
noisy() {
	$PY - "$@" <<-'EOF'
		import sys, numpy as np
		ref, est, gain, noise, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
		x = np.fromfile(ref + ".f32", "<f4").reshape(-1, 2)
		y = gain * x + noise * np.random.default_rng(seed).standard_normal(x.shape)
		y.astype("<f4").tofile(est + ".f32")
	EOF
	sox -t f32 -r 44100 -c 2 "$2.f32" -e float -b 32 "$2"
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	mkdir -p test/t1 test/t2 est/t1 est/t2
	for t in t1 t2; do
		for s in vocals bass; do
			make_wav "test/$t/$s.wav" 30000 2 44100 "-e float -b 32"
			sox "test/$t/$s.wav" -t f32 "test/$t/$s.wav.f32"
		done
		cp "test/$t/vocals.wav" "test/$t/mixture.wav"
	done
	noisy test/t1/vocals.wav est/t1/vocals.wav 1.0 0.1 1
	noisy test/t1/bass.wav est/t1/bass.wav 0.8 0.05 2
	noisy test/t2/vocals.wav est/t2/vocals.wav 0.5 0.2 3
	noisy test/t2/bass.wav est/t2/bass.wav 1.2 0.01 4
}

@test "tf-eval --help and --version" {
	run tf-eval --help
	assert_success
	assert_output --partial "usage: tf-eval"
	run tf-eval --version
	assert_success
}

@test "SDR and SI-SDR as numpy computes them, per stem and as medians over tracks" {
	run tf-eval --json --musdb test est
	assert_success
	echo "$output" > out.json
	run $PY - <<-'EOF'
		import json, numpy as np
		j = json.load(open("out.json"))
		def load(p): return np.fromfile(p + ".f32", "<f4").astype(np.float64)
		worst = 0
		got = {(r["track"], r["stem"]): r for r in j["tracks"]}
		assert sorted(got) == [(t, s) for t in ("t1", "t2") for s in ("bass", "vocals")], sorted(got)
		want = {}
		for (t, s), r in got.items():
		    x, y = load("test/%s/%s.wav" % (t, s)), load("est/%s/%s.wav" % (t, s))
		    sdr = 10 * np.log10((np.sum(x * x) + 1e-7) / (np.sum((x - y) ** 2) + 1e-7))
		    xc, yc = x - x.mean(), y - y.mean()
		    a = np.dot(yc, xc) / np.dot(xc, xc)
		    si = 10 * np.log10(np.sum((a * xc) ** 2) / np.sum((yc - a * xc) ** 2))
		    want[(t, s)] = (sdr, si)
		    worst = max(worst, abs(r["sdr"] - sdr), abs(r["si_sdr"] - si))
		for s in ("bass", "vocals"):
		    m = j["median"][s]
		    worst = max(worst, abs(m["sdr"] - np.median([want[(t, s)][0] for t in ("t1", "t2")])))
		print("largest difference from numpy: %.2g dB" % worst)
		assert worst < 1e-4
	EOF
	echo "$output"
	assert_success
}

@test "a file pair and a folder pair; the table" {
	run tf-eval test/t1/vocals.wav est/t1/vocals.wav
	assert_success
	assert_line --regexp '^-  +-  +[0-9.]+  +[0-9.]+$'
	run tf-eval test/t2 est/t2
	assert_success
	assert_line --partial "median over tracks"
	refute_output --partial "mixture"
}

@test "a scaled estimate: SI-SDR beyond 100 dB (scale does not count), SDR 6.02 dB (it does)" {
	sox test/t1/vocals.wav -e float -b 32 half.wav vol 0.5
	run tf-eval --json test/t1/vocals.wav half.wav
	assert_success
	assert_output --partial '"sdr": 6.02'
	si=$(printf '%s' "$output" | sed 's/.*"si_sdr": \([0-9.a-z]*\).*/\1/')
	echo "SI-SDR $si"
	[ "$si" = null ] || awk -v s="$si" 'BEGIN {exit !(s > 100)}'
}

@test "bad input: a missing stem, other lengths or rates, unreadable audio, no tracks" {
	rm est/t2/bass.wav
	run tf-eval --musdb test est
	assert_clean_failure tf-eval
	assert_output --partial "no estimate for stem bass"
	sox test/t1/vocals.wav short.wav trim 0 1000s
	run tf-eval test/t1/vocals.wav short.wav
	assert_clean_failure tf-eval
	assert_output --partial "differ in length"
	sox test/t1/vocals.wav -r 22050 rate.wav
	run tf-eval test/t1/vocals.wav rate.wav
	assert_clean_failure tf-eval
	assert_output --partial "22050 Hz"
	random_bytes junk.wav 3000 9
	run tf-eval test/t1/vocals.wav junk.wav
	assert_clean_failure tf-eval
	mkdir empty
	run tf-eval --musdb empty est
	assert_clean_failure tf-eval
}
