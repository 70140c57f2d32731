#!/usr/bin/env bats
# tf-corpus: the MUSDB18 layout, the audio format, mixture = sum of stems,
# voice that rests, determinism, seeds, re-runs, bad options and
# interrupted runs.

load helpers

STEMS="mixture vocals drums bass other"

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	# the tiny corpus most tests look at: 2 + 1 tracks of 2 s
	tf-corpus -q -o "$D/c1" --seed 7 --train 2 --test 1 --seconds 2
	# wavs.py DIR: each track's float WAVs read byte-exactly (no converter
	# in between), then CHECK (python code) run with `tracks` in scope
	cat > "$D/wavs.py" <<-'EOF'
		import glob, os, struct, sys, numpy as np
		def read_wav(path):
		    b = open(path, 'rb').read()
		    assert b[:4] == b'RIFF' and b[8:12] == b'WAVE', path
		    i, fmt = 12, None
		    while i + 8 <= len(b):
		        cid, n = b[i:i + 4], struct.unpack('<I', b[i + 4:i + 8])[0]
		        if cid == b'fmt ':
		            fmt = struct.unpack('<HHIIHH', b[i + 8:i + 24])
		        if cid == b'data':
		            tag, ch, rate, _, _, bits = fmt
		            assert tag in (3, 0xfffe) and bits == 32, (path, fmt)
		            return rate, np.frombuffer(b[i + 8:i + 8 + n], '<f4').reshape(-1, ch)
		        i += 8 + n + (n & 1)
		    raise SystemExit(path + ': no data chunk')
		tracks = {}
		for t in sorted(glob.glob(os.path.join(sys.argv[1], '*', '*', ''))):
		    tracks[os.path.basename(t[:-1])] = {s: read_wav(t + s + '.wav')[1]
		        for s in ('mixture', 'vocals', 'drums', 'bass', 'other')}
		exec(sys.argv[2])
	EOF
}

wavs() {
	$PY "$D/wavs.py" "$@"
}

# every_track_complete DIR: each visible track has its five files, all as
# long as the first; nothing hidden is left behind.
every_track_complete() {
	local t s n
	for t in "$1"/train/* "$1"/test/*; do
		[ -d "$t" ] || continue
		n=$(soxi -s "$t/mixture.wav") || return 1
		for s in $STEMS; do
			[ "$(soxi -s "$t/$s.wav")" -eq "$n" ] || { echo "$t/$s.wav incomplete"; return 1; }
		done
	done
	[ -z "$(find "$1" -name '.*' ! -name '.' -print -quit)" ] || { find "$1" -name '.*'; return 1; }
}

@test "tf-corpus --help and --version" {
	run tf-corpus --help
	assert_success
	assert_line --index 0 "usage: tf-corpus -o DIR [options]"
	run tf-corpus --version
	assert_success
	assert_line --index 0 --partial "tf-corpus (tfswa)"
}

@test "MUSDB18 layout: train and test tracks, five WAVs each, 44.1 kHz stereo float, equal lengths" {
	[ "$(ls "$D/c1/train" | wc -l)" -eq 2 ]
	[ "$(ls "$D/c1/test" | wc -l)" -eq 1 ]
	for t in "$D"/c1/train/* "$D"/c1/test/*; do
		[ "$(ls "$t" | sort | tr '\n' ' ')" = "bass.wav drums.wav mixture.wav other.wav vocals.wav " ]
		for s in $STEMS; do
			[ "$(soxi -r "$t/$s.wav")" -eq 44100 ]
			[ "$(soxi -c "$t/$s.wav")" -eq 2 ]
			[ "$(soxi -s "$t/$s.wav")" -eq 88200 ]
			[ "$(soxi -e "$t/$s.wav")" = "Floating Point PCM" ]
		done
	done
	grep -q '^seed 7$' "$D/c1/corpus.txt"
}

@test "the mixture is the sum of the stems, exactly in float32, and peaks below full scale" {
	run wavs "$D/c1" "
for name, t in tracks.items():
    s = ((t['vocals'] + t['drums']) + t['bass']) + t['other']
    d64 = np.abs(t['mixture'].astype(np.float64) - sum(t[k].astype(np.float64) for k in ('vocals', 'drums', 'bass', 'other')))
    peak = float(np.abs(t['mixture']).max())
    i = np.unravel_index(d64.argmax(), d64.shape)
    print(name, 'float32 sum exact:', np.array_equal(s, t['mixture']), 'largest difference from the float64 sum %.3g at %s' % (d64.max(), i), 'peak %.4f' % peak)
    assert np.array_equal(s, t['mixture'])
    assert d64.max() < 1e-6
    # the peak is normalised to -6..-1 dBFS, whatever fluidsynth's level
    assert 10 ** (-6 / 20) - 1e-4 < peak < 10 ** (-1 / 20) + 1e-4
    for k in ('vocals', 'drums', 'bass', 'other'):
        assert np.abs(t[k]).max() <= 10 ** (-1 / 20) + 1e-4, k
        assert np.sqrt((t[k].astype(np.float64) ** 2).mean()) > 1e-3, k + ' is silent'
"
	echo "$output"
	assert_success
}

@test "vocals: voice programs only, singing in some places and resting in others" {
	# what the composer made (no rendering): the vocals stem holds choir,
	# oohs, synth voice and the voice lead (GM 52-54, 85, 91) or the formant
	# singers of the default set, and nothing else
	run tf-corpus --list --seed 7 --train 40 --test 0 --seconds 30
	assert_success
	[ "${#lines[@]}" -eq 40 ]
	run sh -c "tf-corpus --list --seed 7 --train 40 --test 0 | sed 's/.*; vocals [[][^]]*[]]://; s/; drums.*//' | tr ',' '\n' | sed 's/ ([a-z]*)$//; s/^ *//' | sort -u"
	echo "$output"
	singers=0
	for v in "${lines[@]}"; do
		case "$v" in
		"Choir Aahs"|"Voice Oohs"|"Synth Voice"|"Lead 6 (voice)"|"Pad 4 (choir)") ;;
		baritone|tenor|rock|alto|soprano|breathy) singers=$((singers + 1)) ;;
		*) false ;;
		esac
	done
	[ "${#lines[@]}" -ge 3 ] && [ "$singers" -ge 4 ]
	# held-out singers only where asked for, and nowhere else
	run sh -c "tf-corpus --list --seed 7 --train 40 --test 0 --singers held-out | grep -c 'mezzo (lead)\|bass-baritone (lead)'"
	[ "$output" -ge 10 ]
	run sh -c "tf-corpus --list --seed 7 --train 40 --test 0 | grep -c 'mezzo\|bass-baritone'"
	[ "$output" -eq 0 ]
	run tf-corpus --list --train 1 --singers tenor,nobody
	assert_failure
	assert_output --partial 'no singer "nobody"'
	# and, rendered: a track whose voice is loud somewhere and silent for a
	# second or more elsewhere (an intro, a solo, a break, between phrases)
	tf-corpus -q -o "$D/long" --seed 11 --train 4 --test 0 --seconds 12
	run wavs "$D/long" "
found = []
for name, t in tracks.items():
    v = t['vocals'].astype(np.float64)
    w = 4410
    rms = np.sqrt((v[:len(v) // w * w] ** 2).reshape(-1, w * 2).mean(1))
    quiet = rms < 1e-3 * rms.max()
    run, longest = 0, 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    print(name, 'vocal RMS max %.4f, longest silence %.1f s' % (rms.max(), longest / 10))
    if rms.max() > 0.02 and longest >= 10:
        found.append(name)
assert found, 'no track with both singing and a rest of 1 s'
"
	echo "$output"
	assert_success
}

@test "variety: styles, tempi 70-160, major and minor, several programs per role" {
	tf-corpus --list --seed 3 --train 60 --test 0 > "$D/list.txt"
	run $PY -c "
import re, sys
lines = open(sys.argv[1]).read().splitlines()
bpm = [int(re.search(r', (\d+) bpm', l).group(1)) for l in lines]
styles = {re.search(r'bpm, \d/4, ([^;]+);', l).group(1) for l in lines}
modes = {re.search(r': \S+ (\w+),', l).group(1) for l in lines}
def programs(role):
    out = set()
    for l in lines:
        part = re.search(role + r' \[[^]]*\]:([^;]*)', l).group(1)
        out |= {p.split(' (')[0].strip() for p in part.split('),')}
    return out
print('tempi', min(bpm), max(bpm), 'styles', sorted(styles), 'modes', sorted(modes))
print({r: len(programs(r)) for r in ('vocals', 'drums', 'bass', 'other')})
assert min(bpm) >= 70 and max(bpm) <= 160 and max(bpm) - min(bpm) >= 60
assert len(styles) >= 6 and {'major', 'minor'} <= modes
assert len(programs('vocals')) >= 4 and len(programs('bass')) >= 6 and len(programs('other')) >= 20
assert len(programs('drums')) >= 4
fx = [m for l in lines for m in re.findall(r' \[([a-z+]+)\]:', l)]
assert len(fx) == 4 * len(lines) and {'none', 'eq', 'comp', 'reverb', 'delay'} <= {e for f in fx for e in f.split('+')}
print('effects', len(fx))
" "$D/list.txt"
	echo "$output"
	assert_success
}

@test "deterministic: the same seed gives byte-identical files, with or without -j" {
	tf-corpus -q -o "$D/c2" --seed 7 --train 2 --test 1 --seconds 2 --jobs 2
	for t in train/s7-train-0001 train/s7-train-0002 test/s7-test-0001; do
		for s in $STEMS; do
			cmp "$D/c1/$t/$s.wav" "$D/c2/$t/$s.wav"
		done
	done
	cmp "$D/c1/corpus.txt" "$D/c2/corpus.txt"
}

@test "different seeds and different tracks differ" {
	tf-corpus -q -o "$D/c3" --seed 8 --train 1 --test 0 --seconds 2
	run cmp -s "$D/c1/train/s7-train-0001/mixture.wav" "$D/c3/train/s8-train-0001/mixture.wav"
	assert_failure
	run cmp -s "$D/c1/train/s7-train-0001/vocals.wav" "$D/c1/train/s7-train-0002/vocals.wav"
	assert_failure
	run cmp -s "$D/c1/train/s7-train-0001/mixture.wav" "$D/c1/test/s7-test-0001/mixture.wav"
	assert_failure
}

@test "a re-run makes only the missing tracks; more tracks leave the first ones as they were" {
	cp -a "$D/c1" "$D/c4"
	rm -r "$D/c4/train/s7-train-0002"
	touch -d '2001-01-01' "$D/c4/train/s7-train-0001/mixture.wav"
	tf-corpus -q -o "$D/c4" --seed 7 --train 3 --test 1 --seconds 2
	# untouched: still the old time stamp
	[ "$(stat -c %Y "$D/c4/train/s7-train-0001/mixture.wav")" -eq "$(date -d 2001-01-01 +%s)" ]
	for s in $STEMS; do
		cmp "$D/c1/train/s7-train-0002/$s.wav" "$D/c4/train/s7-train-0002/$s.wav"
	done
	[ -f "$D/c4/train/s7-train-0003/mixture.wav" ]
	run every_track_complete "$D/c4"
	assert_success
}

@test "a directory made with another seed or length is refused" {
	run tf-corpus -q -o "$D/c1" --seed 9 --train 1 --test 0 --seconds 2
	assert_clean_failure tf-corpus
	assert_output --partial "seed"
	run tf-corpus -q -o "$D/c1" --seed 7 --train 1 --test 0 --seconds 3
	assert_clean_failure tf-corpus
	assert_output --partial "frames"
}

@test "bad options: one line naming the problem, status 2 (1 for a bad soundfont), nothing made" {
	run tf-corpus --train 1
	assert_usage_failure tf-corpus
	assert_output --partial "-o"
	for args in "--train -1" "--test x" "--train 100001" "--seconds 0" "--seconds 601" "--seconds nan" \
		"--jobs 0" "--seed -3" "--stems vocals,accompaniment" "--stems vocals,drums,bass,bass" \
		"--train 0 --test 0"; do
		run tf-corpus -o "$D/bad" $args
		echo "$args: $output"
		assert_usage_failure tf-corpus
	done
	for args in "--soundfont $D/missing.sf2" "--soundfont $D"; do
		run tf-corpus -o "$D/bad" $args
		echo "$args: $output"
		assert_clean_failure tf-corpus
	done
	# a file that is not a soundfont
	random_bytes "$D/junk.sf2" 4096 5
	run tf-corpus -o "$D/bad" --soundfont "$D/junk.sf2" --train 1 --test 0 --seconds 1
	echo "$output"
	assert_clean_failure tf-corpus
	assert_output --partial "junk.sf2"
	# a soundfont cut short
	head -c 3000000 /usr/share/sounds/sf2/FluidR3_GM.sf2 > "$D/cut.sf2"
	run tf-corpus -o "$D/bad" --soundfont "$D/cut.sf2" --train 1 --test 0 --seconds 1
	echo "$output"
	assert_clean_failure tf-corpus
	[ ! -e "$D/bad" ]
	run tf-corpus -o "$D/bad2" --stems vocals,drums,bass,other --train 1 --test 0 --seconds 1
	assert_success
}

@test "an interrupted run leaves no track looking complete, and a re-run finishes the corpus" {
	tf-corpus -q -o "$D/int" --seed 5 --train 4 --test 0 --seconds 10 &
	pid=$!
	# stop it once the first track is there, while the next is being made
	for i in $(seq 600); do
		[ -n "$(ls "$D/int/train" 2>/dev/null)" ] && break
		sleep 0.1
	done
	kill -TERM $pid
	status=0
	wait $pid || status=$?
	[ "$status" -ne 0 ]
	n=$(ls "$D/int/train" | wc -l)
	echo "tracks after the interruption: $n"
	[ "$n" -ge 1 ] && [ "$n" -lt 4 ]
	run every_track_complete "$D/int"
	assert_success
	# killed outright, the hidden directory stays, never looking like a track
	tf-corpus -q -o "$D/int" --seed 5 --train 6 --test 0 --seconds 10 &
	pid=$!
	for i in $(seq 600); do
		[ "$(ls "$D/int/train" | wc -l)" -gt "$n" ] && break
		sleep 0.05
	done
	kill -KILL $pid
	wait $pid || true
	for t in "$D"/int/train/*; do
		for s in $STEMS; do
			[ "$(soxi -s "$t/$s.wav")" -eq 441000 ]
		done
	done
	tf-corpus -q -o "$D/int" --seed 5 --train 6 --test 0 --seconds 10
	[ "$(ls "$D/int/train" | wc -l)" -eq 6 ]
	# with -j, a signal to tf-corpus stops its workers too, and they clean up
	tf-corpus -q -o "$D/intj" --seed 5 --train 6 --test 0 --seconds 10 --jobs 2 &
	pid=$!
	for i in $(seq 600); do
		[ -n "$(ls "$D/intj/train" 2>/dev/null)" ] && break
		sleep 0.05
	done
	workers=$(pgrep -P $pid | tr '\n' ' ')
	echo "workers: $workers"
	[ -n "$workers" ]
	kill -TERM $pid
	wait $pid || true
	for i in $(seq 100); do
		alive=
		for w in $workers; do
			[ -e /proc/$w ] && alive=1
		done
		[ -z "$alive" ] && break
		sleep 0.05
	done
	[ -z "$alive" ]
	[ "$(ls "$D/intj/train" | wc -l)" -lt 6 ]
	run every_track_complete "$D/intj"
	assert_success
	find "$D/int" -name '.*' ! -name . -prune -exec rm -r {} +
	tf-corpus -q -o "$D/ref" --seed 5 --train 6 --test 0 --seconds 10 --jobs 2
	diff -r "$D/int" "$D/ref"
}

@test "several soundfonts: each stem draws one; the same soundfont under two names changes nothing" {
	ln -s /usr/share/sounds/sf2/FluidR3_GM.sf2 "$D/other-name.sf2"
	tf-corpus -q -o "$D/two" --seed 7 --train 1 --test 0 --seconds 2 \
		--soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 --soundfont "$D/other-name.sf2"
	[ "$(grep -c '^soundfont ' "$D/two/corpus.txt")" -eq 2 ]
	for s in $STEMS; do
		cmp "$D/c1/train/s7-train-0001/$s.wav" "$D/two/train/s7-train-0001/$s.wav"
	done
	run tf-corpus -q -o "$D/two-bad" --train 1 --test 0 --seconds 1 \
		--soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 --soundfont "$D/none.sf2"
	assert_clean_failure tf-corpus
	assert_output --partial "none.sf2"
}

@test "tf-eval --musdb reads the corpus as MUSDB18: stems at half gain score SDR 20 log10(2) = 6.021 dB" {
	for t in "$D"/c1/test/*; do
		mkdir -p "$D/est/$(basename "$t")"
		for s in vocals drums bass other; do
			sox "$t/$s.wav" "$D/est/$(basename "$t")/$s.wav" vol 0.5
		done
	done
	run tf-eval --musdb "$D/c1/test" --est "$D/est"
	echo "$output"
	assert_success
	[ "$(echo "$output" | awk '$1 == "s7-test-0001"' | wc -l)" -eq 4 ]
	echo "$output" | awk '$1 == "s7-test-0001" { if ($3 != "6.021") bad = 1 } END { exit bad }'
}
