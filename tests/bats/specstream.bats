#!/usr/bin/env bats
# The spectrogram-stream readers agree: tf-unet, tf-istft and calibration
# (tf-quant -t q8s --calibrate) read their input through lib/specstream.c,
# so each broken stream (tests/tools/stream.py broken) is refused by every
# one of them with the same one-line message, exit 1 and no output left.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	G="$BATS_TEST_DIRNAME/../data/golden"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 62 --hop 16 --stems vocals,other -o "$D/mono.bin"
	mkdir -p "$D/s"
	$PY "$STREAM_PY" broken "$D/s" 1 62 16 44100
}

# refusal PROG STREAM: runs PROG on STREAM, checks a clean failure with no
# output file, and prints the message without "PROG: " (and tf-quant's
# "calibration: ") in front.
refusal() {
	local prog=$1 in=$2
	rm -f "$D/out"*
	case $prog in
	tf-unet) run tf-unet -q -m "$D/mono.bin" -o "$D/out" "$in" ;;
	tf-istft) run tf-istft -q -o "$D/out.wav" "$in" ;;
	tf-quant) run tf-quant -q -t q8s --calibrate "$in" -o "$D/out" "$D/mono.bin" ;;
	esac
	assert_clean_failure "$prog" >&2 || return 1
	[ -z "$(ls "$D" | grep '^out')" ] || { echo "$prog left output for $in" >&2; return 1; }
	printf '%s\n' "$output" | sed -E "s/^$prog: (calibration: )?//"
}

@test "the valid stream of the set is accepted by all three" {
	tf-unet -q -m "$D/mono.bin" -o "$D/good.out" "$D/s/good.stream"
	tf-istft -q -o "$D/good.wav" "$D/s/good.stream"
	[ "$(soxi -s "$D/good.wav")" -eq $((39 * 16)) ]
	tf-quant -q -t q8s --calibrate "$D/s/good.stream" -o "$D/good.q8s" "$D/mono.bin"
	[ -s "$D/good.out" ] && [ -s "$D/good.q8s" ]
}

@test "every broken stream: tf-unet, tf-istft and calibration refuse it with the same line" {
	n=0
	for s in "$D"/s/*.stream; do
		name=$(basename "$s" .stream)
		[ "$name" != good ] || continue
		u=$(refusal tf-unet "$s") || { echo "tf-unet accepted or failed badly: $name"; return 1; }
		i=$(refusal tf-istft "$s") || { echo "tf-istft accepted or failed badly: $name"; return 1; }
		q=$(refusal tf-quant "$s") || { echo "calibration accepted or failed badly: $name"; return 1; }
		echo "$name: $u"
		if [ "$name" = kind ]; then
			# tf-istft reads stems streams too, and says so
			[[ "$u" == *"got a model stream" && "$i" == *"got a model stream" && "$q" == "$u" ]]
		else
			[ "$u" = "$i" ] || { echo "tf-unet and tf-istft disagree on $name: '$u' / '$i'"; return 1; }
			[ "$u" = "$q" ] || { echo "tf-unet and calibration disagree on $name: '$u' / '$q'"; return 1; }
		fi
		n=$((n + 1))
	done
	[ "$n" -ge 19 ]
}

@test "what each refusal says" {
	check() { # NAME WORDS: the message tf-unet gives for s/NAME.stream contains WORDS
		local m
		m=$(refusal tf-unet "$D/s/$1.stream") || return 1
		[[ "$m" == *"/$1.stream: "*"$2"* ]] || { echo "$1: '$m' lacks '$2'"; return 1; }
	}
	check kind "expected a spectrogram stream, got a model stream"
	check version "version 2 is not supported"
	check missing-key "needs sample_rate, n_fft, hop and channels"
	check window "hamming window"
	check dtype "chunk 0: expected c64 [1, 32, frames], got f32 [1, 32, 10]"
	check shape "chunk 0: expected c64 [1, 32, frames], got c64 [1, 31, 10]"
	check stems-shape "got c64 [2, 1, 32, 10]"
	check length "tensor data is"
	check gap "chunk 1 starts at frame 20, expected 10"
	check duplicate "chunk 2 starts at frame 10, expected 20"
	check reordered "chunk 0 starts at frame 10, expected 0"
	check nan "chunk 1: a value that is not finite (nan) at [0, 3, 2]"
	check inf "chunk 0: a value that is not finite (inf) at [0, 3, 2]"
	check end-frames "ends claiming 41 frames, but it held 40"
	check end-samples "ends claiming 640 samples, but its header said 624"
	check end-tensors "ends claiming 7 tensors, but it held 4"
	check no-end "without an end frame"
	check truncated "truncated stream"
	check empty "empty input"
}

@test "a stems stream is read by tf-istft with the same checks: gap and NaN refused" {
	tf-unet -q -m "$D/mono.bin" --segment 16 --overlap 4 -o "$D/stems.stream" "$D/s/good.stream"
	tf-istft -q -o "$D/st-%s.wav" "$D/stems.stream"
	[ -e "$D/st-vocals.wav" ] && [ -e "$D/st-other.wav" ]
	$PY -c "
import msgpack, sys, numpy as np
fr = list(msgpack.Unpacker(open('$D/stems.stream', 'rb'), raw=False))
body = [f for f in fr if 'data' in f]
a = np.frombuffer(body[1]['data'], '<c8').copy()
a[5] = np.nan
nan = fr[:2] + [dict(body[1], data=a.tobytes())] + fr[3:]
gap = fr[:2] + fr[3:]
open('$D/stems-nan.stream', 'wb').write(b''.join(msgpack.packb(f) for f in nan))
open('$D/stems-gap.stream', 'wb').write(b''.join(msgpack.packb(f) for f in gap))"
	run tf-istft -q -o "$D/n-%s.wav" "$D/stems-nan.stream"
	assert_clean_failure tf-istft
	assert_output --partial "chunk 1: a value that is not finite (nan) at [0, 0, "
	run tf-istft -q -o "$D/g-%s.wav" "$D/stems-gap.stream"
	assert_clean_failure tf-istft
	assert_output --partial "chunk 1 starts at frame"
	[ -z "$(ls "$D" | grep -E '^[ng]-')" ]
}

@test "a pipeline whose first program fails: the next ones say one short line each" {
	run bash -c "tf-stft '$D/missing.wav' | tf-unet -q -m '$D/mono.bin' | tf-istft -q -o '$D/p.wav'"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 3 ]
	printf '%s\n' "$output" | grep -q "^tf-stft: .*missing.wav"
	printf '%s\n' "$output" | grep -qx "tf-unet: empty input: expected a tfswa stream"
	printf '%s\n' "$output" | grep -qx "tf-istft: empty input: expected a tfswa stream"
	[ ! -e "$D/p.wav" ]
}
