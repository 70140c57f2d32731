#!/usr/bin/env bats
# tf-separate: files in, a folder of stems per track out, any file name,
# one line per failed track, a closing count, the exit status.

load helpers

setup() {
	G="$BATS_TEST_DIRNAME/../data/golden"
	ROOT="$BATS_TEST_DIRNAME/../.."
	cd "$BATS_TEST_TMPDIR"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 256 --hop 64 --stems vocals,other -o m.bin
	make_wav a.wav 8000 1
}

# hostile NAME...: one small WAV per name
hostile() {
	for n in "$@"; do
		cp -- a.wav "$n"
	done
}

@test "any file name: every track separated into its own folder, and a count at the end" {
	names=("with space.wav" "quo'te\"s.wav" "ünï cødé ♪.wav" "c:o;l#o=n\$x&y|z.wav" "100%s %d.wav"
	       "live_(remix).wav" "-dash.wav" "-" "[a]*?.wav" "$(printf 'new\nline.wav')" "\\back.wav" "tab	x.wav")
	hostile "${names[@]}"
	run tf-separate -m m.bin -o "out put" -- "${names[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_line "tf-separate: ${#names[@]} done, 0 failed"
	[ "${#lines[@]}" -eq 1 ]
	for n in "${names[@]}"; do
		t=${n%.wav}
		[ "$(soxi -s "out put/$t/vocals.wav")" -eq 8000 ]
		[ "$(soxi -s "out put/$t/other.wav")" -eq 8000 ]
	done
	[ "$(find "out put" -type f -print0 | tr -dc '\0' | wc -c)" -eq $((2 * ${#names[@]})) ]
}

@test "the stems are those of the pipeline it runs, byte for byte" {
	make_wav s.wav 20000 2
	tf-stft -m m.bin s.wav | tf-unet -m m.bin | tf-istft -o 'ref-%s.wav'
	run tf-separate -m m.bin s.wav
	[ "$status" -eq 0 ]
	cmp ref-vocals.wav separated/s/vocals.wav
	cmp ref-other.wav separated/s/other.wav
}

@test "a failed track: one line naming it and why, the others go on, exit 1" {
	random_bytes bad.wav 3000 11
	head -c 9000 a.wav > cut.wav
	hostile b.wav "c d.wav"
	run tf-separate -m m.bin -o out b.wav bad.wav missing.wav cut.wav "c d.wav"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 4 ]
	assert_line --index 0 --regexp "^tf-separate: bad.wav: tf-stft: .*bad.wav"
	assert_line --index 1 --regexp "^tf-separate: missing.wav: tf-stft: cannot open missing.wav"
	assert_line --index 2 --regexp "^tf-separate: cut.wav: tf-stft: "
	assert_line --index 3 "tf-separate: 2 done, 3 failed"
	[ -f out/b/vocals.wav ] && [ -f "out/c d/other.wav" ]
	# nothing of the failed ones: no folder, no temporary file
	[ ! -e out/bad ] && [ ! -e out/missing ] && [ ! -e out/cut ]
	[ "$(find out -type f | wc -l)" -eq 4 ]
}

@test "a failing model step is reported by the program that failed" {
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 256 --hop 64 --stems vocals,other -o m2.bin
	head -c 3000 m2.bin > short.bin
	run tf-separate -m short.bin a.wav
	[ "$status" -eq 1 ]
	assert_output --regexp "^tf-separate: "
	[ ! -e separated ]
}

@test "two files that would write the same stems: the second is refused, not overwritten" {
	mkdir x y
	make_wav x/song.wav 8000 1
	make_wav y/song.wav 9000 1
	sox x/song.wav song.flac
	run tf-separate -m m.bin x/song.wav y/song.wav song.flac
	echo "$output"
	[ "$status" -eq 1 ]
	assert_line "tf-separate: y/song.wav: its stems would overwrite those of x/song.wav (use --filename)"
	assert_line "tf-separate: song.flac: its stems would overwrite those of x/song.wav (use --filename)"
	assert_line "tf-separate: 1 done, 2 failed"
	[ "$(soxi -s separated/song/vocals.wav)" -eq 8000 ]
}

@test "--filename, -s, folders made as needed" {
	run tf-separate -m m.bin -o 'o/p q' --filename 'x/{stem}/{track}-{stem}.{ext}' -s vocals a.wav
	[ "$status" -eq 0 ]
	[ -f "o/p q/x/vocals/a-vocals.wav" ]
	[ "$(find o -type f | wc -l)" -eq 1 ]
	run tf-separate -m m.bin -s other,vocals --filename '{track}_{stem}.{ext}' -o flat a.wav
	[ "$status" -eq 0 ]
	[ -f flat/a_other.wav ] && [ -f flat/a_vocals.wav ]
	# one stem needs no {stem}
	run tf-separate -m m.bin -s other --filename '{track}.{ext}' -o one a.wav
	[ "$status" -eq 0 ]
	[ -f one/a.wav ]
}

@test "bad options: one clear line" {
	run tf-separate -m m.bin --filename '{track}/{stm}.{ext}' a.wav
	assert_usage_failure tf-separate
	assert_output --partial "unknown field"
	run tf-separate -m m.bin --filename '{track}.{ext}' a.wav
	assert_usage_failure tf-separate
	assert_output --partial "{stem}"
	run tf-separate -m m.bin -s drums a.wav
	assert_clean_failure tf-separate
	assert_output --partial 'no stem "drums" (it has: vocals, other)'
	run tf-separate -m nothere.bin a.wav
	assert_clean_failure tf-separate
	run tf-separate -m m.bin
	[ "$status" -eq 2 ]
	[ ! -e separated ]
}

@test "--help, --version" {
	run tf-separate --help
	[ "$status" -eq 0 ]
	assert_output --partial "usage: tf-separate"
	run tf-separate --version
	[ "$status" -eq 0 ]
	assert_line --index 0 --regexp "^tf-separate \(tfswa\) "
}

@test "without -m: the shipped model, from a checkout and from an installed layout" {
	make_wav short.wav 22050 2
	run tf-separate -q -j 1 short.wav
	[ "$status" -eq 0 ]
	for s in vocals drums bass other; do
		[ "$(soxi -s separated/short/$s.wav)" -eq 22050 ]
	done
	# PREFIX/bin next to PREFIX/share/tfswa/models
	mkdir -p p/bin p/share/tfswa/models
	cp "$BIN"tf-separate "$BIN"tf-stft "$BIN"tf-unet "$BIN"tf-istft p/bin/
	cp "$ROOT"/models/compact.bin p/share/tfswa/models/
	run env PATH=/usr/bin:/bin p/bin/tf-separate -q -j 1 -o inst short.wav
	[ "$status" -eq 0 ]
	cmp separated/short/bass.wav inst/short/bass.wav
	rm p/share/tfswa/models/compact.bin
	run env PATH=/usr/bin:/bin p/bin/tf-separate short.wav
	assert_clean_failure tf-separate
	assert_output --partial "no model of that name in"
}

@test "reads MP3 directly" {
	make_wav s.wav 30000 2
	$PY "$BATS_TEST_DIRNAME/../tools/wav2mp3.py" s.wav s.mp3
	run tf-separate -m m.bin s.mp3
	[ "$status" -eq 0 ]
	[ "$(soxi -s separated/s/vocals.wav)" -eq 30000 ]
}

@test "one progress bar per track on a terminal, none of the programs' own" {
	hostile b.wav c.wav
	run script -qec "tf-separate -m m.bin a.wav b.wav missing.wav c.wav" /dev/null
	echo "$output"
	[ "$status" -eq 1 ]
	# the programs draw nothing; each track is one bar that ends "done in"
	# (tracks this short may end before the first redraw, so no bar then)
	refute_output --partial "tf-stft:"$'\r'
	refute_output --partial "tf-unet: separating"
	refute_output --partial "tf-istft: istft"
	assert_output --partial "tf-separate: missing.wav: tf-stft: cannot open"
	assert_output --partial "tf-separate: 3 done, 1 failed"
	make_wav long.wav 400000 2
	run script -qec "tf-separate -m m.bin -j 1 long.wav" /dev/null
	[ "$status" -eq 0 ]
	bars=$(printf '%s' "$output" | tr '\r' '\n' | grep -c '^tf-separate: long.wav \[')
	[ "$bars" -ge 1 ]
	[ "$(printf '%s' "$output" | grep -c 'tf-separate: long.wav done in')" -eq 1 ]
	run grep -c 'tf-unet\|tf-stft\|tf-istft' <<<"$output"
	[ "$output" = 0 ]
}

@test "SIGTERM: the track under way stops, nothing of it stays, no program left running" {
	make_wav long.wav 2000000 2
	tf-separate -m "$BATS_TEST_TMPDIR/m.bin" -j 1 -o out long.wav 2>err &
	pid=$!
	for i in $(seq 50); do
		pgrep -f "tf-unet -m $BATS_TEST_TMPDIR/m.bin" >/dev/null && break
		sleep 0.1
	done
	sleep 0.5
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	cat err
	[ "$st" -eq 143 ]
	grep -q "tf-separate: long.wav: interrupted" err
	sleep 0.3
	run pgrep -f "$BATS_TEST_TMPDIR/m.bin"
	[ "$status" -eq 1 ] || { echo "still running: $output"; return 1; }
	[ -z "$(find out -type f 2>/dev/null)" ]
}

@test "a pipe as FILE: its audio is tf-stft's alone, also with the bar drawn" {
	mkfifo fifo.wav
	cat a.wav > fifo.wav &
	run script -qec "tf-separate -m m.bin -o out fifo.wav" /dev/null
	[ "$status" -eq 0 ]
	[ "$(soxi -s out/fifo/vocals.wav)" -eq 8000 ]
	tf-separate -m m.bin -o ref a.wav 2>/dev/null
	cmp ref/a/vocals.wav out/fifo/vocals.wav
}
