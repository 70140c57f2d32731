#!/usr/bin/env bats
# The output side: two stems, the lossy formats, output directories made as
# needed, temp files removed on signals, stems committed all or nothing, and
# the exit status of a bad command line.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	make_wav "$D/stereo.wav" 30001 2
	tf-stft "$D/stereo.wav" > "$D/stereo.stream"
	# stems.py IN OUT NAME=GAIN...: a stems stream whose stems are the spectrogram times GAIN
	cat > "$D/stems.py" <<-'EOF'
		import msgpack, sys, numpy as np
		src, dst = sys.argv[1], sys.argv[2]
		stems = [a.split('=') for a in sys.argv[3:]]
		fr = list(msgpack.Unpacker(open(src, 'rb'), raw=False))
		with open(dst, 'wb') as o:
		    o.write(msgpack.packb(dict(fr[0], kind='stems', stems=[n for n, _ in stems])))
		    t = 0
		    for f in fr[1:-1]:
		        x = np.frombuffer(f['data'], '<c8').reshape(f['shape'])
		        y = np.stack([float(g) * x for _, g in stems]).astype('<c8')
		        o.write(msgpack.packb({'dtype': 'c64', 'shape': list(y.shape), 'data': y.tobytes(), 'frame': t}))
		        t += x.shape[-1]
		    o.write(msgpack.packb(fr[-1]))
	EOF
	$PY "$D/stems.py" "$D/stereo.stream" "$D/stems.stream" vocals=0.2 drums=0.3 bass=0.1 other=0.4
}

# samples FILE: the length libsndfile reads (tf-stft's header), per channel
samples() {
	tf-stft "$1" > "$BATS_TEST_TMPDIR/len.stream" && stream_key "$BATS_TEST_TMPDIR/len.stream" header samples
}

# no_temps DIR: no hidden temp file (.name.XXXXXX) anywhere under DIR
no_temps() {
	local left
	left=$(find "$1" -name '.*.??????' 2>/dev/null)
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
}

@test "--two-stems vocals: vocals and no_vocals, the sum of the other stems" {
	tf-istft -q -b 32f -o "$D/all/%s.wav" "$D/stems.stream"
	tf-istft -q -b 32f --two-stems vocals -o "$D/two/%s.wav" "$D/stems.stream"
	run ls "$D/two"
	assert_output "$(printf 'no_vocals.wav\nvocals.wav')"
	run compare_audio "$D/all/vocals.wav" "$D/two/vocals.wav" 0
	assert_success
	sox -m -v 1 "$D/all/drums.wav" -v 1 "$D/all/bass.wav" -v 1 "$D/all/other.wav" -e float -b 32 "$D/sum.wav"
	run compare_audio "$D/sum.wav" "$D/two/no_vocals.wav" 2e-6
	assert_success
	# 0.3 + 0.1 + 0.4 of the mix: 0.8 of the original, and not, say, 0.9
	sox -v 0.8 "$D/stereo.wav" -e float -b 32 "$D/ref.wav"
	run compare_audio "$D/ref.wav" "$D/two/no_vocals.wav" 1e-5
	assert_success
	# one of the two with -s, to standard output
	tf-istft -b 32f --two-stems drums -s no_drums "$D/stems.stream" > "$D/no_drums.wav"
	sox -v 0.7 "$D/stereo.wav" -e float -b 32 "$D/ref7.wav"
	run compare_audio "$D/ref7.wav" "$D/no_drums.wav" 1e-5
	assert_success
	# to standard output without -s: the stem itself
	tf-istft -b 32f --two-stems bass "$D/stems.stream" > "$D/bass.wav"
	run compare_audio "$D/all/bass.wav" "$D/bass.wav" 0
	assert_success
}

@test "--two-stems: an unknown stem, a one-stem stream, a clashing name are refused" {
	run tf-istft --two-stems piano -o "$D/x/%s.wav" "$D/stems.stream"
	assert_clean_failure tf-istft
	assert_output --partial "no such stem"
	run tf-istft --two-stems mix -o "$D/x/%s.wav" "$D/stereo.stream"
	assert_clean_failure tf-istft
	assert_output --partial "no other stem"
	$PY "$D/stems.py" "$D/stereo.stream" "$D/clash.stream" vocals=0.5 no_vocals=0.5
	run tf-istft --two-stems vocals -o "$D/x/%s.wav" "$D/clash.stream"
	assert_clean_failure tf-istft
	run tf-istft --two-stems vocals -s drums -o "$D/x/%s.wav" "$D/stems.stream"
	assert_clean_failure tf-istft
	[ ! -e "$D/x" ]
}

@test "MP3, Ogg Vorbis and Opus: by extension and by -t, read back with their length" {
	for ext in wav flac mp3 ogg opus; do
		tf-istft -q -s vocals -o "$D/f/v.$ext" "$D/stems.stream"
		tf-istft -q -s vocals -t "$ext" -o "$D/f/t-$ext" "$D/stems.stream"
		want=30001
		# Opus holds no 44.1 kHz: resampled to 48 kHz, round(30001 * 48000 / 44100) frames
		[ "$ext" = opus ] && want=32654
		run samples "$D/f/v.$ext"
		assert_output "$want"
		run samples "$D/f/t-$ext"
		assert_output "$want"
	done
	# the lossy ones come back close to what went in (the vocals: 0.2 of the mix)
	sox -v 0.2 "$D/stereo.wav" -e float -b 32 "$D/v-ref.wav"
	for ext in mp3 ogg; do
		tf-stft "$D/f/v.$ext" | tf-istft -b 32f > "$D/f/back-$ext.wav"
		run compare_audio "$D/v-ref.wav" "$D/f/back-$ext.wav" 0.05
		assert_success
	done
}

@test "--quality: 0 makes smaller files than 10; to a pipe the lossy formats stream" {
	for t in mp3 ogg opus; do
		tf-istft -q -s vocals -t "$t" -Q 0 "$D/stems.stream" > "$D/q0.$t"
		tf-istft -q -s vocals -t "$t" --quality 10 "$D/stems.stream" > "$D/q10.$t"
		small=$(stat -c %s "$D/q0.$t") big=$(stat -c %s "$D/q10.$t")
		echo "$t: $small < $big"
		[ "$small" -lt "$big" ]
		# through a pipe, unseekable: still audio that libsndfile reads (MP3
		# then has no length header: read to its end, with the encoder's padding)
		tf-istft -q -s vocals -t "$t" "$D/stems.stream" | cat > "$D/pipe.$t"
		cat "$D/pipe.$t" | tf-stft > "$D/pipe.stream"
		n=$(stream_key "$D/pipe.stream" end samples)
		echo "$t from a pipe: $n samples"
		[ "$n" -ge 30001 ] && [ "$n" -le 36000 ]
		# the same bytes as a file: an MP3 without a length tag has only an
		# estimated length, and reads whole (it was refused as cut short)
		tf-stft "$D/pipe.$t" > "$D/file.stream"
		[ "$(stream_key "$D/file.stream" end samples)" -eq "$n" ]
	done
}

@test "-b and --quality belong to their formats; bad values are a bad command line (status 2)" {
	run tf-istft -t mp3 -b 24 "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft -t wav -Q 5 "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft -t ogg -Q 11 "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft -t aac "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft -b 12 "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft -o "$D/x.aac" "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft "$D/stems.stream" "$D/stems.stream"
	assert_usage_failure tf-istft
	run tf-istft --no-such-option "$D/stems.stream"
	[ "$status" -eq 2 ]
	run tf-unet -m "$D/none.bin" --threads abc
	assert_usage_failure tf-unet
	run tf-stft -n 0 "$D/stereo.wav"
	assert_usage_failure tf-stft
	# a runtime error is still 1
	run tf-istft -o "$D/y.wav" "$D/no-such.stream"
	assert_clean_failure tf-istft
}

@test "--help and --version into a full standard output fail with a message" {
	for p in tf-istft tf-stft tf-unet tf-export tf-quant tf-train tf-eval tf-bench tf-corpus; do
		run sh -c "$p --help > /dev/full"
		assert_clean_failure "$p"
		run sh -c "$p --version > /dev/full"
		assert_clean_failure "$p"
	done
}

@test "output directories are made as needed, and removed again on failure" {
	tf-istft -q -o "$D/new/a/b/%s.flac" "$D/stems.stream"
	[ -f "$D/new/a/b/vocals.flac" ] && [ -f "$D/new/a/b/other.flac" ]
	tf-stft -o "$D/new2/x/s.stream" "$D/stereo.wav"
	[ -s "$D/new2/x/s.stream" ]
	# a failed run leaves no directory it made
	head -c 50000 "$D/stems.stream" > "$D/cut.stream"
	run tf-istft -o "$D/gone/a/%s.wav" "$D/cut.stream"
	assert_clean_failure tf-istft
	[ ! -e "$D/gone" ]
	# a file in the way is an error, not a crash
	touch "$D/plain"
	run tf-istft -o "$D/plain/%s.wav" "$D/stems.stream"
	assert_clean_failure tf-istft
}

@test "stems all or nothing: one that cannot be written leaves none of the others (rename failures: test_fileio)" {
	mkdir -p "$D/aon/bass.wav"
	touch "$D/aon/bass.wav/keep"
	run tf-istft -o "$D/aon/%s.wav" "$D/stems.stream"
	assert_clean_failure tf-istft
	assert_output --partial "bass.wav"
	run ls -A "$D/aon"
	assert_output "bass.wav"
	[ -e "$D/aon/bass.wav/keep" ]
	# the same with --two-stems
	mkdir -p "$D/aon2/no_vocals.wav/x"
	run tf-istft --two-stems vocals -o "$D/aon2/%s.wav" "$D/stems.stream"
	assert_clean_failure tf-istft
	run ls -A "$D/aon2"
	assert_output "no_vocals.wav"
}

# killed SIG PROG ARGS...: starts PROG with ARGS reading a FIFO that gets
# the first part of its input and is then held open, sends SIG once the
# temp files exist, and checks that the program died of SIG leaving none.
# The input comes from $FEED; the outputs go under $OUTDIR.
killed() {
	local sig=$1
	shift
	rm -rf "$OUTDIR" "$D/fifo"
	mkfifo "$D/fifo"
	(exec 3> "$D/fifo"; head -c 60000 "$FEED" >&3; sleep 20) &
	local writer=$!
	# SIGINT is ignored in background jobs of a script: start with it at its default
	$PY -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@" &
	local pid=$! i=0
	while [ -z "$(find "$OUTDIR" -name '.*' -type f 2>/dev/null)" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	find "$OUTDIR" -name '.*' -type f | grep -q . || { echo "no temp file appeared"; kill "$pid" "$writer"; return 1; }
	kill -s "$sig" "$pid"
	local rc=0
	wait "$pid" || rc=$?
	kill "$writer" 2>/dev/null
	wait "$writer" 2>/dev/null || true
	echo "$sig: status $rc"
	[ "$rc" -eq $((128 + $(kill -l "$sig"))) ] || { echo "want death by $sig"; return 1; }
	no_temps "$D"
	# the directories made for the outputs went with them
	[ ! -e "$OUTDIR" ] || { echo "left: $(find "$OUTDIR")"; return 1; }
}

@test "SIGTERM, SIGINT, SIGHUP: tf-istft -o removes its temp files and the directories it made" {
	export FEED="$D/stems.stream" OUTDIR="$D/sig"
	for sig in TERM INT HUP; do
		killed "$sig" tf-istft -o "$D/sig/a/%s.wav" "$D/fifo"
	done
}

@test "SIGTERM and SIGHUP: tf-stft -o leaves no temp file" {
	export FEED="$D/stereo.wav" OUTDIR="$D/sig2"
	for sig in TERM HUP; do
		killed "$sig" tf-stft -o "$D/sig2/s.stream" "$D/fifo"
	done
}

@test "SIGABRT (a library that aborts): one line naming the program, no temp files left" {
	export FEED="$D/stems.stream" OUTDIR="$D/abrt"
	killed ABRT tf-istft -o "$D/abrt/a/%s.wav" "$D/fifo" 2> "$D/abrt.err"
	cat "$D/abrt.err"
	# (bash adds its own "Aborted" job line: the program's are those that name it)
	[ "$(grep -c '^tf-' "$D/abrt.err")" -eq 1 ]
	grep -q '^tf-istft: aborted inside a library' "$D/abrt.err"
}
