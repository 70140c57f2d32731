#!/usr/bin/env bats
# tf-eval: the numbers museval gives on the fixture signals (table and JSON),
# the three ways of naming inputs (file pairs, two directories, a MUSDB18
# tree with museval's vocals/accompaniment rule), and bad inputs.

load helpers

FIXTURES="$BATS_TEST_DIRNAME/../data/eval/fixtures.py"
MUSEVAL="$BATS_TEST_DIRNAME/../data/eval/museval.txt"

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	$PY "$FIXTURES" wav "$D/fx"
	# check_json FILE CASE TRACK: every median and window of TRACK in the
	# JSON within 0.01 dB of museval's numbers for CASE (NaN windows null)
	cat > "$D/check.py" <<-'EOF'
		import json, math, sys
		doc = json.load(open(sys.argv[1]))
		case, track, museval = sys.argv[2], sys.argv[3], sys.argv[4]
		t = [t for t in doc['tracks'] if t['name'] == track][0]
		order = ['SDR', 'ISR', 'SIR', 'SAR']  # museval.txt's column order
		worst, n = 0.0, 0
		for line in open(museval):
		    f = line.split()
		    if f[1] != case:
		        continue
		    s = t['stems'][f[2]]
		    if f[0] == 'window':
		        got = [s['windows'][m][int(f[3])] for m in order]
		        want = [float(v) for v in f[4:8]]
		    elif f[0] == 'median':
		        got = [s[m] for m in order]
		        want = [float(v) for v in f[3:7]]
		    else:
		        got = [s['global_SDR'], s['SI_SDR']]
		        want = [float(v) for v in f[3:5]]
		    for g, w in zip(got, want):
		        n += 1
		        if math.isnan(w):
		            assert g is None, (line, g)
		        else:
		            worst = max(worst, abs(g - w))
		print('values', n, 'largest difference', worst)
		assert n > 0 and worst <= 0.01
	EOF
}

pairs() {
	local dir=$1 args=()
	for f in "$dir"/ref/*.wav; do
		args+=(--ref "$f" --est "$dir/est/$(basename "$f")")
	done
	echo "${args[@]}"
}

@test "tf-eval --help and --version" {
	run tf-eval --help
	assert_success
	assert_line --index 0 --partial "usage: tf-eval [options] --ref REF.wav --est EST.wav"
	run tf-eval --version
	assert_success
	assert_line --index 0 --partial "tf-eval (tfswa)"
}

@test "file pairs: a table of the museval medians, global SDR and SI-SDR" {
	run tf-eval $(pairs "$D/fx/three")
	assert_success
	assert_line --index 0 --regexp '^track +stem +SDR +SIR +ISR +SAR +gSDR +SI-SDR$'
	# museval: bass median SDR 15.18293556, SIR 17.83120845, ISR 20.98778883, SAR 22.31110238
	assert_line --regexp '^- +bass +15\.183 +17\.831 +20\.988 +22\.311 +15\.125 +15\.122$'
	assert_line --regexp '^- +vocals +-1\.871 +21\.225 +-1\.723 +13\.492 +-1\.904 +-11\.805$'
	[ "${#lines[@]}" -eq 4 ]
}

@test "--json: every window and median within 0.01 dB of museval, silent windows null" {
	for c in three mono short; do
		tf-eval --json $(pairs "$D/fx/$c") > "$D/$c.json"
		run $PY "$D/check.py" "$D/$c.json" "$c" - "$MUSEVAL"
		assert_success
		echo "$c: $output"
	done
}

@test "--ref-dir/--est-dir: the same numbers, the track named after the directory" {
	tf-eval --json --ref-dir "$D/fx/mono/ref/" --est-dir "$D/fx/mono/est" > "$D/dirs.json"
	run $PY "$D/check.py" "$D/dirs.json" mono ref "$MUSEVAL"
	assert_success
	# a mixture among the references is not a stem
	cp -r "$D/fx/short" "$D/withmix"
	cp "$D/withmix/ref/drums.wav" "$D/withmix/ref/mixture.wav"
	run tf-eval --ref-dir "$D/withmix/ref" --est-dir "$D/withmix/est"
	assert_success
	[ "${#lines[@]}" -eq 3 ]
}

# A MUSDB18 (wav) layout: ROOT/test/<track>/{mixture,<stem>}.wav and the
# separated OUT/<track>/<stem>.wav.
make_musdb() {
	local root=$1 out=$2 f
	mkdir -p "$root/test/Song A" "$root/test/Song B" "$root/test/Song C" "$out/Song A" "$out/Song B" "$out/Song C"
	cp "$D/fx/three/ref/"*.wav "$root/test/Song A/"
	cp "$D/fx/three/est/"*.wav "$out/Song A/"
	cp "$D/fx/short/ref/"*.wav "$root/test/Song B/"
	cp "$D/fx/short/est/"*.wav "$out/Song B/"
	for f in "$root/test/Song A" "$root/test/Song B"; do
		sox -m "$f"/[bdov]*.wav "$f/mixture.wav"
	done
	# Song C: vocals and accompaniment (drums + bass + other, as musdb sums them)
	cp "$D/fx/three/ref/"{vocals,drums,bass}.wav "$root/test/Song C/"
	sox -D -v -0.5 "$D/fx/three/ref/bass.wav" "$root/test/Song C/other.wav"
	cp "$D/fx/three/est/vocals.wav" "$out/Song C/"
	cp "$D/fx/three/est/bass.wav" "$out/Song C/accompaniment.wav"
}

@test "--musdb: one row per track and stem, then the medians over tracks" {
	make_musdb "$D/musdb" "$D/out"
	run tf-eval --musdb "$D/musdb/test" --est "$D/out"
	assert_success
	assert_line --regexp '^Song A +bass +15\.183 +17\.831 +20\.988 +22\.311 '
	assert_line --regexp '^Song B +drums +7\.555 '
	assert_line "median over tracks"
	assert_line --regexp '^2 tracks +vocals +-1\.871 '
	# drums: Song A 1.213142282, Song B 7.554898757; the median of two is their mean
	assert_line --regexp '^2 tracks +drums +4\.384 '
	tf-eval --json --musdb "$D/musdb/test" --est "$D/out" > "$D/musdb.json"
	run $PY "$D/check.py" "$D/musdb.json" three "Song A" "$MUSEVAL"
	assert_success
	run $PY "$D/check.py" "$D/musdb.json" short "Song B" "$MUSEVAL"
	assert_success
	run $PY -c "
import json
m = json.load(open('$D/musdb.json'))['median']
print(m['drums'])
assert m['drums']['tracks'] == 2 and abs(m['drums']['SDR'] - (1.213142282 + 7.554898757) / 2) < 1e-4"
	assert_success
}

@test "--musdb: vocals and accompaniment are evaluated as a pair, the accompaniment summed from the stems" {
	make_musdb "$D/m2" "$D/o2"
	tf-eval --json --musdb "$D/m2/test" --est "$D/o2" > "$D/m2.json"
	# the same pair by hand: the sum written as float (exact), then --ref-dir
	mkdir -p "$D/pair/ref" "$D/pair/est"
	cp "$D/m2/test/Song C/vocals.wav" "$D/pair/ref/"
	local c="$D/m2/test/Song C"
	$PY - "$c/drums.wav" "$c/bass.wav" "$c/other.wav" "$D/pair/ref/accompaniment.wav" <<-'EOF'
		import struct, sys, wave, numpy as np
		def read(p):
		    with wave.open(p) as w:
		        return np.frombuffer(w.readframes(w.getnframes()), '<i2').reshape(-1, w.getnchannels())
		x = sum(read(p).astype(np.float32) / 32768 for p in sys.argv[1:4]).astype('<f4')
		data = x.tobytes()  # a float WAV by hand: sox would clip beyond full scale
		fmt = struct.pack('<HHIIHH', 3, x.shape[1], 44100, 44100 * 4 * x.shape[1], 4 * x.shape[1], 32)
		with open(sys.argv[4], 'wb') as f:
		    f.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE')
		    f.write(b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data)
	EOF
	cp "$D/o2/Song C/"*.wav "$D/pair/est/"
	tf-eval --json --ref-dir "$D/pair/ref" --est-dir "$D/pair/est" > "$D/pair.json"
	run $PY -c "
import json
a = json.load(open('$D/m2.json'))['tracks']
a = [t for t in a if t['name'] == 'Song C'][0]['stems']
b = json.load(open('$D/pair.json'))['tracks'][0]['stems']
assert sorted(a) == ['accompaniment', 'vocals'], sorted(a)
d = max(abs(a[s][m] - b[s][m]) for s in a for m in ('SDR', 'SIR', 'ISR', 'SAR', 'global_SDR', 'SI_SDR'))
print('largest difference', d)
assert d < 1e-6"
	assert_success
}

@test "--musdb: tracks without estimates are named in a warning; the medians are over the rest" {
	make_musdb "$D/m3" "$D/o3"
	rm -r "$D/o3/Song B"
	run tf-eval --musdb "$D/m3/test" --est "$D/o3"
	assert_success
	assert_line --partial "tf-eval: 1 track of $D/m3/test has no estimates in $D/o3; the medians are over the 2 evaluated"
	run tf-eval -q --musdb "$D/m3/test" --est "$D/o3"
	refute_line --partial "no estimates"
}

@test "bad inputs: one line naming the problem, status 1 (2 for a bad command line)" {
	local f="$D/fx/short"
	mkdir -p "$D/bad"
	sox "$f/est/drums.wav" "$D/bad/short.wav" trim 0 1000s
	run tf-eval --ref "$f/ref/drums.wav" --est "$D/bad/short.wav"
	assert_clean_failure tf-eval
	assert_output --partial "1000 frames, but $f/ref/drums.wav has 22050"
	sox "$f/est/drums.wav" -r 48000 "$D/bad/rate.wav"
	run tf-eval --ref "$f/ref/drums.wav" --est "$D/bad/rate.wav"
	assert_clean_failure tf-eval
	assert_output --partial "48000 Hz, but $f/ref/drums.wav is 44100 Hz"
	sox "$f/est/drums.wav" "$D/bad/mono.wav" remix 1
	run tf-eval --ref "$f/ref/drums.wav" --est "$D/bad/mono.wav"
	assert_clean_failure tf-eval
	assert_output --partial "1 channel, but $f/ref/drums.wav has 2"
	random_bytes "$D/bad/noise.wav" 5000 7
	run tf-eval --ref "$f/ref/drums.wav" --est "$D/bad/noise.wav"
	assert_clean_failure tf-eval
	assert_output --partial "noise.wav"
	run tf-eval --ref "$f/ref/drums.wav" --est "$D/bad/absent.wav"
	assert_clean_failure tf-eval
	run tf-eval --ref "$f/ref/drums.wav"
	assert_usage_failure tf-eval
	assert_output "tf-eval: 1 --ref but 0 --est: give them in pairs"
	# directories: an estimate without reference, a stem without estimate
	cp -r "$f" "$D/bad/dirs"
	cp "$f/est/drums.wav" "$D/bad/dirs/est/piano.wav"
	run tf-eval --ref-dir "$D/bad/dirs/ref" --est-dir "$D/bad/dirs/est"
	assert_clean_failure tf-eval
	assert_output --partial "piano.wav: no reference for the estimate"
	rm "$D/bad/dirs/est/piano.wav" "$D/bad/dirs/est/other.wav"
	run tf-eval --ref-dir "$D/bad/dirs/ref" --est-dir "$D/bad/dirs/est"
	assert_clean_failure tf-eval
	assert_output --partial "missing stem \"other\""
	# MUSDB: a separated track that is not in the set, an empty track
	make_musdb "$D/m4" "$D/o4"
	mkdir "$D/o4/Song X" && cp "$f/est/drums.wav" "$D/o4/Song X/"
	run tf-eval --musdb "$D/m4/test" --est "$D/o4"
	assert_clean_failure tf-eval
	assert_output --partial "no track \"Song X\""
	rm -r "$D/o4/Song X"/* && rm -r "$D/o4/Song X"
	mkdir "$D/o4/Song B/sub" && rm "$D/o4/Song B/"*.wav
	run tf-eval --musdb "$D/m4/test" --est "$D/o4"
	assert_clean_failure tf-eval
	assert_output --partial "Song B: no estimates"
	run tf-eval --musdb "$D/m4/test" --est "$D/o4" --ref x.wav
	assert_usage_failure tf-eval
	run tf-eval --window 0 --ref-dir "$f/ref" --est-dir "$f/est"
	assert_usage_failure tf-eval
}

@test "a silent reference: its windows and medians are null, the rest still measured" {
	mkdir -p "$D/quiet"
	cp -r "$D/fx/short/"* "$D/quiet/"
	sox -D "$D/fx/short/ref/other.wav" "$D/quiet/ref/other.wav" vol 0
	run sh -c "tf-eval --json --ref-dir '$D/quiet/ref' --est-dir '$D/quiet/est' 2>'$D/quiet.err' >'$D/quiet.json'"
	assert_success
	run cat "$D/quiet.err"
	assert_output --regexp '^tf-eval: .*the other reference is silent \(all zero\)'
	[ "${#lines[@]}" -eq 1 ]
	run $PY -c "
import json
s = json.load(open('$D/quiet.json'))['tracks'][0]['stems']
print(s['other'])
assert s['other']['SDR'] is None and s['other']['SI_SDR'] is None and s['other']['global_SDR'] < -50
assert s['drums']['SDR'] is None  # museval: a window with any silent reference is NaN for all
assert s['drums']['global_SDR'] > 7"
	assert_success
}

@test "a silent (all-zero) estimate: SI-SDR and BSS Eval undefined (null), one warning naming the stem" {
	mkdir -p "$D/zero"
	cp -r "$D/fx/short/"* "$D/zero/"
	sox -D "$D/fx/short/est/other.wav" "$D/zero/est/other.wav" vol 0
	run tf-eval --json --ref-dir "$D/zero/ref" --est-dir "$D/zero/est"
	assert_success
	echo "$output" | grep -v '^tf-eval:' > "$D/zero.json"
	echo "$output" | grep '^tf-eval:' > "$D/zero.err" || true
	run cat "$D/zero.err"
	assert_output --regexp "^tf-eval: .*other estimate is silent \(all zero\).*undefined"
	[ "${#lines[@]}" -eq 1 ]
	run $PY -c "
import json
s = json.load(open('$D/zero.json'))['tracks'][0]['stems']
print(s['other'])
# 0/0: not +inf (the worst estimate must not rank as perfect)
assert s['other']['SI_SDR'] is None and s['other']['SDR'] is None
assert s['other']['global_SDR'] < 1  # the MDX SDR stays defined: |s|^2 / |s|^2 = 0 dB
assert s['drums']['SI_SDR'] is not None"
	echo "$output"
	assert_success
}

@test "nearly collinear references (a stem that is almost mono): a warning with the condition number" {
	mkdir -p "$D/mono"
	cp -r "$D/fx/short/"* "$D/mono/"
	# other: the right channel the left plus noise 1e-7 of full scale, in float
	$PY -c "
import numpy as np, struct, sys, wave
w = wave.open(sys.argv[1]); p = w.getparams()
a = np.frombuffer(w.readframes(p.nframes), '<i2').reshape(-1, 2) / 32768.0
w.close()
l = a[:, 0]
x = np.stack([l, l + 1e-7 * np.random.default_rng(1).standard_normal(len(l))], 1).astype('<f4')
d = x.tobytes()
fmt = struct.pack('<IHHIIHH', 16, 3, 2, p.framerate, p.framerate * 8, 8, 32)
open(sys.argv[2], 'wb').write(b'RIFF' + struct.pack('<I', 36 + len(d)) + b'WAVEfmt ' + fmt + b'data' + struct.pack('<I', len(d)) + d)
" "$D/fx/short/ref/other.wav" "$D/mono/ref/other.wav"
	run tf-eval --ref-dir "$D/mono/ref" --est-dir "$D/mono/est"
	assert_success
	assert_line --regexp "^tf-eval: .*other: its reference's channels are nearly collinear.*condition number about [0-9.]+e\+[0-9]+"
	# the fixtures as they are: no such warning
	run tf-eval --ref-dir "$D/fx/short/ref" --est-dir "$D/fx/short/est"
	assert_success
	refute_output --partial 'collinear'
}

@test "bench/oracle.py --stems vocals,accompaniment: the references of a karaoke model, accompaniment summed" {
	$PY "$BATS_TEST_DIRNAME/../tools/train_dataset.py" "$D/k" 1 1 1 4000
	$PY "$BATS_TEST_DIRNAME/../../bench/oracle.py" --stems vocals,accompaniment "$D/k/test" "$D/ko" 64 16 0.25 0.5
	$PY - "$D/k/test" "$D/ko" <<-'EOF'
		import os, sys, numpy as np
		def wav(p):  # the float32 WAVs of train_dataset.py and oracle.py: 44-byte header
		    return np.frombuffer(open(p, 'rb').read()[44:], '<f4').reshape(-1, 2)
		test, out = sys.argv[1:]
		t = sorted(os.listdir(test))[0]
		for kind in ('mixture', 'gain', 'irm'):
		    got = sorted(os.listdir(os.path.join(out, kind, t)))
		    assert got == ['accompaniment.wav', 'vocals.wav'], (kind, got)
		a, b = 1000, 3000  # 0.5 s from 0.25 s at 4 kHz
		acc = sum(wav(os.path.join(test, t, s + '.wav'))[a:b] for s in ('drums', 'bass', 'other'))
		cut = wav(os.path.join(out, 'test', t, 'accompaniment.wav'))
		mix = wav(os.path.join(out, 'test', t, 'mixture.wav'))
		irm = sum(wav(os.path.join(out, 'irm', t, s + '.wav')) for s in ('vocals', 'accompaniment'))
		print('cut accompaniment vs drums + bass + other: max %.3g; two oracle masks sum to the mixture within %.3g'
		      % (np.abs(cut - acc).max(), np.abs(irm - mix).max()))
		assert cut.shape == (2000, 2) and np.abs(cut - acc).max() < 1e-6 and np.abs(irm - mix).max() < 1e-4
	EOF
}
