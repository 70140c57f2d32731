#!/usr/bin/env bats
# tf-istft: streams back to audio, exact lengths, stems to files, output
# formats, pipes read by sox, and truncated or foreign input.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	make_wav "$D/stereo.wav" 30001 2
	make_wav "$D/mono.wav" 12347 1
	make_wav "$D/float.wav" 20011 2 44100 "-e float -b 32"
	tf-stft "$D/stereo.wav" > "$D/stereo.stream"
	tf-stft "$D/float.wav" > "$D/float.stream"
	# stems.py IN OUT GAINS...: a stems stream whose stem k is the spectrogram times GAINS[k]
	cat > "$D/stems.py" <<-'EOF'
		import msgpack, sys, numpy as np
		src, dst, gains = sys.argv[1], sys.argv[2], [float(g) for g in sys.argv[3:]]
		fr = list(msgpack.Unpacker(open(src, 'rb'), raw=False))
		names = ['vocals', 'other', 'drums', 'bass'][:len(gains)]
		with open(dst, 'wb') as o:
		    o.write(msgpack.packb(dict(fr[0], kind='stems', stems=names)))
		    t = 0
		    for f in fr[1:-1]:
		        x = np.frombuffer(f['data'], '<c8').reshape(f['shape'])
		        y = np.stack([g * x for g in gains]).astype('<c8')
		        o.write(msgpack.packb({'dtype': 'c64', 'shape': list(y.shape), 'data': y.tobytes(), 'frame': t}))
		        t += x.shape[-1]
		    o.write(msgpack.packb(fr[-1]))
	EOF
	$PY "$D/stems.py" "$D/stereo.stream" "$D/stems.stream" 0.25 0.75
}

@test "tf-istft --help and --version" {
	run tf-istft --help
	assert_success
	assert_line --index 0 "usage: tf-istft [options] [INPUT]"
	run tf-istft --version
	assert_success
	assert_line --index 0 --partial "tf-istft (tfswa)"
}

@test "round trip through files: the same samples, length and channels" {
	tf-stft < "$D/stereo.wav" | tf-istft > "$D/y.wav"
	[ "$(soxi -s "$D/y.wav")" -eq 30001 ]
	[ "$(soxi -c "$D/y.wav")" -eq 2 ]
	[ "$(soxi -r "$D/y.wav")" -eq 44100 ]
	[ "$(soxi -b "$D/y.wav")" -eq 16 ]
	# 16-bit in, 16-bit out: at most one step of rounding
	run compare_audio "$D/stereo.wav" "$D/y.wav" 3.1e-5
	assert_success
	tf-stft "$D/mono.wav" | tf-istft -o "$D/m.wav"
	run compare_audio "$D/mono.wav" "$D/m.wav" 3.1e-5
	assert_success
}

@test "odd lengths, tiny and empty signals come back with exactly their length" {
	for n in 0 1 2 1023 1025 4099; do
		make_wav "$D/n$n.wav" "$n" 2 44100 "-e float -b 32"
		tf-stft -n 1024 -H 256 "$D/n$n.wav" | tf-istft -b 32f > "$D/o$n.wav"
		[ "$(soxi -s "$D/o$n.wav")" -eq "$n" ]
		run compare_audio "$D/n$n.wav" "$D/o$n.wav" 1e-5
		assert_success
	done
}

@test "pipes both ways: cat | tf-stft | tf-istft | sox, streaming WAV that sox reads" {
	cat "$D/stereo.wav" | tf-stft | tf-istft | sox -t wav - "$D/p.wav" 2> "$D/sox.err"
	[ ! -s "$D/sox.err" ] || { cat "$D/sox.err"; false; }
	run compare_audio "$D/stereo.wav" "$D/p.wav" 3.1e-5
	assert_success
	# length known from the stream header: a WAV header with the exact sizes
	tf-istft < "$D/stereo.stream" | cat > "$D/known.wav"
	run $PY -c "
import struct
b = open('$D/known.wav', 'rb').read()
riff, data = struct.unpack('<I', b[4:8])[0], struct.unpack('<I', b[40:44])[0]
print(riff, data, len(b))
assert b[36:40] == b'data' and data == 30001 * 4 and riff == len(b) - 8"
	assert_success
	# length unknown until the end: sox's own placeholder, read to the end of the data
	cat "$D/stereo.wav" | tf-stft | tf-istft -b 24 | cat > "$D/unknown.wav"
	run $PY -c "
import struct
b = open('$D/unknown.wav', 'rb').read()
assert struct.unpack('<I', b[40:44])[0] == 0x7ffff000 and len(b) == 44 + 30001 * 6"
	assert_success
	run sox "$D/unknown.wav" "$D/u.wav"
	assert_success
	[ -z "$output" ]
	[ "$(soxi -s "$D/u.wav")" -eq 30001 ]
}

@test "output formats: 24-bit, float, FLAC to files and to a pipe" {
	tf-istft -b 32f < "$D/float.stream" > "$D/f.wav"
	[ "$(soxi -e "$D/f.wav")" = "Floating Point PCM" ]
	run compare_audio "$D/float.wav" "$D/f.wav" 1e-5
	assert_success
	tf-istft -b 32f < "$D/float.stream" | sox -t wav - "$D/fp.wav" 2> "$D/sox.err"
	[ ! -s "$D/sox.err" ] || { cat "$D/sox.err"; false; }
	run compare_audio "$D/float.wav" "$D/fp.wav" 1e-5
	assert_success
	tf-istft -b 24 -o "$D/x24.wav" "$D/float.stream"
	[ "$(soxi -b "$D/x24.wav")" -eq 24 ]
	run compare_audio "$D/float.wav" "$D/x24.wav" 1e-6
	assert_success
	tf-istft -o "$D/x.flac" "$D/float.stream"
	[ "$(soxi -t "$D/x.flac")" = flac ]
	[ "$(soxi -b "$D/x.flac")" -eq 16 ]
	run compare_audio "$D/float.wav" "$D/x.flac" 3.1e-5
	assert_success
	tf-istft -t flac -b 24 "$D/float.stream" | sox -t flac - "$D/xp.wav" 2> "$D/sox.err"
	[ ! -s "$D/sox.err" ] || { cat "$D/sox.err"; false; }
	run compare_audio "$D/float.wav" "$D/xp.wav" 1e-6
	assert_success
	run tf-istft -t flac -b 32f "$D/float.stream"
	assert_usage_failure tf-istft
	run tf-istft -o "$D/x.aac" "$D/float.stream"
	assert_usage_failure tf-istft
	assert_output --partial "use -t"
	run tf-istft -b 8 "$D/float.stream"
	assert_usage_failure tf-istft
}

@test "stems: every stem to its file with %s, one with -s, to stdout the first" {
	tf-istft -q -b 32f -o "$D/song-%s.wav" "$D/stems.stream"
	sox -v 0.25 "$D/stereo.wav" -e float -b 32 "$D/quarter.wav"
	sox -v 0.75 "$D/stereo.wav" -e float -b 32 "$D/three.wav"
	run compare_audio "$D/quarter.wav" "$D/song-vocals.wav" 1e-5
	assert_success
	run compare_audio "$D/three.wav" "$D/song-other.wav" 1e-5
	assert_success
	tf-istft -b 32f -s other < "$D/stems.stream" > "$D/other.wav"
	run compare_audio "$D/three.wav" "$D/other.wav" 1e-5
	assert_success
	tf-istft -b 32f -o - < "$D/stems.stream" > "$D/first.wav"
	run compare_audio "$D/quarter.wav" "$D/first.wav" 1e-5
	assert_success
	tf-istft -s vocals -o "$D/just-vocals.flac" "$D/stems.stream"
	[ -e "$D/just-vocals.flac" ] && [ ! -e "$D/just-other.flac" ]
	run tf-istft -o "$D/both.wav" "$D/stems.stream"
	assert_clean_failure tf-istft
	assert_output --partial "need %s in the name"
	run tf-istft -s piano "$D/stems.stream"
	assert_clean_failure tf-istft
	assert_output "tf-istft: no stem \"piano\" in this stream (it has: vocals, other)"
}

@test "a masks stream is refused with what to do instead" {
	$PY -c "
import msgpack, sys
o = sys.stdout.buffer
o.write(msgpack.packb({'tfswa': 1, 'kind': 'masks', 'sample_rate': 44100, 'n_fft': 64, 'hop': 16,
                       'channels': 1, 'stems': ['a', 'b']}))
o.write(msgpack.packb({'end': True}))" > "$D/masks.stream"
	run tf-istft "$D/masks.stream"
	assert_clean_failure tf-istft
	assert_output --partial "from tf-unet without --masks"
}

@test "a stream without samples gives (frames - 1) * hop samples, as torch.istft" {
	$PY "$STREAM_PY" spec 10 1 64 16 > "$D/spec.stream"
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/spec.stream', 'rb'), raw=False))
fr[-1] = {'end': True}
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in fr))" > "$D/nolen.stream"
	tf-istft -b 32f "$D/nolen.stream" > "$D/nolen.wav"
	[ "$(soxi -s "$D/nolen.wav")" -eq 144 ]
}

@test "-o files appear complete or not at all: truncated streams, missing end frame" {
	size=$(stat -c %s "$D/stems.stream")
	head -c $((size / 2)) "$D/stems.stream" > "$D/cut.stream"
	run tf-istft -o "$D/cut-%s.wav" "$D/cut.stream"
	assert_clean_failure tf-istft
	assert_output --partial "truncated"
	[ -z "$(ls -A "$D" | grep 'cut-')" ]
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/stems.stream', 'rb'), raw=False))
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in fr[:-1]))" > "$D/noend.stream"
	run tf-istft -o "$D/noend-%s.wav" "$D/noend.stream"
	assert_clean_failure tf-istft
	assert_output --partial "without an end frame"
	[ -z "$(ls -A "$D" | grep 'noend-')" ]
	# and to a pipe: an error, whatever was already written
	run bash -c "set -o pipefail; tf-istft < '$D/cut.stream' | cat > /dev/null"
	[ "$status" -eq 1 ]
}

@test "random bytes, foreign streams, wrong shapes, gaps: clean errors, no crash" {
	random_bytes "$D/random.bin" 5000 2
	run tf-istft -o "$D/r.wav" "$D/random.bin"
	assert_clean_failure tf-istft
	[ ! -e "$D/r.wav" ]
	run tf-istft < /dev/null
	assert_clean_failure tf-istft
	$PY -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'tfswa': 1, 'kind': 'model'}) + msgpack.packb({'end': True}))" > "$D/model.stream"
	run tf-istft "$D/model.stream"
	assert_clean_failure tf-istft
	assert_output --partial "expected a spectrogram or stems stream, got a model stream"
	$PY -c "
import msgpack, sys, numpy as np
o = sys.stdout.buffer
o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 64, 'hop': 16, 'channels': 1}))
o.write(msgpack.packb({'dtype': 'c64', 'shape': [1, 32, 4], 'data': np.zeros(128, '<c8').tobytes()}))
o.write(msgpack.packb({'end': True}))" > "$D/shape.stream"
	run tf-istft -o "$D/shape.wav" "$D/shape.stream"
	assert_clean_failure tf-istft
	[ ! -e "$D/shape.wav" ]
	assert_output --partial "expected c64 [1, 33, frames], got c64 [1, 32, 4]"
	$PY -c "
import msgpack, sys, numpy as np
o = sys.stdout.buffer
o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 64, 'hop': 16, 'channels': 1}))
for t in (0, 8):
    o.write(msgpack.packb({'dtype': 'c64', 'shape': [1, 33, 4], 'data': np.zeros(132, '<c8').tobytes(), 'frame': t}))
o.write(msgpack.packb({'end': True}))" > "$D/gap.stream"
	run tf-istft -o "$D/gap.wav" "$D/gap.stream"
	assert_clean_failure tf-istft
	assert_output --partial "starts at frame 8, expected 4"
	$PY -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100,
    'n_fft': 64, 'hop': 64, 'channels': 1}) + msgpack.packb({'end': True}))" > "$D/hop.stream"
	run tf-istft "$D/hop.stream"
	assert_clean_failure tf-istft
	$PY -c "
import msgpack, sys, numpy as np
o = sys.stdout.buffer
o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 64, 'hop': 16, 'channels': 1}))
o.write(msgpack.packb({'dtype': 'c64', 'shape': [1, 33, 4], 'data': np.zeros(132, '<c8').tobytes()}))
o.write(msgpack.packb({'end': True, 'samples': 10**12}))" > "$D/long.stream"
	run tf-istft -o "$D/long.wav" "$D/long.stream"
	assert_clean_failure tf-istft
	assert_output --partial "more than its 4 frames can hold"
	[ ! -e "$D/long.wav" ]
	# a fuzzed stream: bytes flipped all over a valid one; errors or audio, never a crash
	for seed in 1 2 3 4 5 6 7 8; do
		$PY -c "
import random
b = bytearray(open('$D/stereo.stream', 'rb').read())
r = random.Random($seed)
for _ in range(20):
    i = r.randrange(min(len(b), 400))
    b[i] = r.randrange(256)
open('$D/fuzz.stream', 'wb').write(b)"
		run tf-istft -o "$D/fuzz.wav" "$D/fuzz.stream"
		[ "$status" -eq 0 ] || [ "$status" -eq 1 ]
	done
}

@test "loud stems are clipped to full scale with a warning; 32f keeps them" {
	$PY "$D/stems.py" "$D/stereo.stream" "$D/loud.stream" 4
	run tf-istft -o "$D/loud.wav" "$D/loud.stream"
	assert_success
	assert_output --regexp "^tf-istft: .*loud.wav: [0-9]+ samples clipped to full scale"
	run tf-istft -q -o "$D/loud2.wav" "$D/loud.stream"
	assert_success
	[ -z "$output" ]
	tf-istft -b 32f -o "$D/loud.wav" "$D/loud.stream"
	# (sox would clip on reading; numpy reads the float WAV as it is)
	run $PY -c "
import numpy as np
b = open('$D/loud.wav', 'rb').read()
x = np.frombuffer(b[b.index(b'data') + 8:], '<f4')
print(len(x), np.abs(x).max())
assert len(x) == 2 * 30001 and np.abs(x).max() > 1.5"
	assert_success
}

@test "resampled on the way in: 48 kHz to 44.1 kHz close to sox's own resampler" {
	make_wav "$D/48k.wav" 48007 2 48000
	tf-stft -r 44100 "$D/48k.wav" | tf-istft -b 32f > "$D/r.wav"
	sox "$D/48k.wav" -e float -b 32 "$D/sox.wav" rate -h 44100
	[ "$(soxi -r "$D/r.wav")" -eq 44100 ]
	[ "$(soxi -s "$D/r.wav")" -eq "$(soxi -s "$D/sox.wav")" ]
	run compare_audio "$D/sox.wav" "$D/r.wav" 1e-3
	assert_success
}

@test "-o onto a FIFO writes into it rather than replacing it" {
	mkfifo "$D/fifo"
	cat "$D/fifo" > "$D/from-fifo.wav" &
	tf-istft -o "$D/fifo" "$D/stereo.stream"
	wait
	[ -p "$D/fifo" ]
	[ "$(soxi -s "$D/from-fifo.wav")" -eq 30001 ]
}

@test "tf-istft will not write audio to a terminal" {
	run script -qec "tf-istft $D/stereo.stream" /dev/null
	[[ "$output" == *"will not write audio to a terminal"* ]]
}
