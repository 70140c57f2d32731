#!/usr/bin/env bats
# tf-stft: audio from files and pipes to spectrogram streams, resampling,
# mixing, model settings, and refusals.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	make_wav "$D/stereo.wav" 30001 2
	make_wav "$D/mono.wav" 12347 1
	make_wav "$D/float.wav" 9999 2 44100 "-e float -b 32"
	sox "$D/stereo.wav" "$D/stereo.flac"
	# numpy's own STFT with torch.stft's conventions, to compare a stream with
	cat > "$D/ref.py" <<-'EOF'
		import sys, subprocess, numpy as np
		stream, audio, n_fft, hop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
		ch = int(subprocess.run(['soxi', '-c', audio], capture_output=True, text=True).stdout)
		raw = subprocess.run(['sox', audio, '-t', 'f32', '-'], capture_output=True, check=True).stdout
		x = np.frombuffer(raw, '<f4').reshape(-1, ch).T.astype(np.float64)
		w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
		T = 1 + x.shape[1] // hop
		xp = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)), mode='reflect')
		idx = np.arange(T)[None, :] * hop + np.arange(n_fft)[:, None]
		want = np.fft.rfft(xp[:, idx] * w[None, :, None], axis=1)
		got = np.load(stream)
		assert got.shape == want.shape, (got.shape, want.shape)
		d = np.abs(got - want).max() / np.abs(want).max()
		print('frames', T, 'max diff / peak', d)
		assert d < 1e-5
	EOF
}

@test "tf-stft --help and --version" {
	run tf-stft --help
	assert_success
	assert_line --index 0 "usage: tf-stft [options] [INPUT]"
	run tf-stft --version
	assert_success
	assert_line --index 0 --partial "tf-stft (tfswa)"
	run tf-stft --no-such-option
	[ "$status" -eq 2 ]
}

@test "a stereo file: header, chunks, totals and the frames numpy computes" {
	tf-stft "$D/stereo.wav" > "$D/s.stream"
	run $PY "$STREAM_PY" info "$D/s.stream"
	assert_success
	assert_line --index 0 "header [('center', True), ('channels', 2), ('hop', 512), ('kind', 'spectrogram'), ('n_fft', 2048), ('sample_rate', 44100), ('samples', 30001), ('tfswa', 1), ('window', 'hann')]"
	# 1 + 30001 / 512 = 59 frames: one chunk of 64 would be too many
	[ "${#lines[@]}" -eq 3 ]
	assert_line --index 1 "tensor c64 [2, 1025, 59] 0"
	assert_line --index 2 "end [('end', True), ('frames', 59), ('samples', 30001)]"
	stream_npy "$D/s.stream" "$D/s.npy"
	run $PY "$D/ref.py" "$D/s.npy" "$D/stereo.wav" 2048 512
	assert_success
}

@test "chunks of any size, other FFT sizes, and mono of odd lengths" {
	for n in 1025 1500 4097 12347; do
		sox "$D/mono.wav" "$D/m$n.wav" trim 0s ${n}s
		tf-stft -n 1024 -H 256 --chunk 7 "$D/m$n.wav" > "$D/m.stream"
		[ "$(stream_key "$D/m.stream" end frames)" -eq $((1 + n / 256)) ]
		[ "$(stream_key "$D/m.stream" end samples)" -eq "$n" ]
		stream_npy "$D/m.stream" "$D/m.npy"
		run $PY "$D/ref.py" "$D/m.npy" "$D/m$n.wav" 1024 256
		assert_success
	done
	run $PY "$STREAM_PY" info "$D/m.stream"
	assert_line --index 1 "tensor c64 [1, 513, 7] 0"
	assert_line --index 2 "tensor c64 [1, 513, 7] 7"
}

@test "float WAV input is read unscaled" {
	tf-stft -n 256 -H 64 "$D/float.wav" > "$D/f.stream"
	stream_npy "$D/f.stream" "$D/f.npy"
	run $PY "$D/ref.py" "$D/f.npy" "$D/float.wav" 256 64
	assert_success
}

@test "pipes: cat and sox into tf-stft give the file's frames; the length comes at the end" {
	tf-stft "$D/stereo.wav" > "$D/file.stream"
	cat "$D/stereo.wav" | tf-stft > "$D/cat.stream"
	sox "$D/stereo.flac" -t wav - | tf-stft > "$D/sox.stream"
	tf-stft - < "$D/stereo.flac" > "$D/stdin.stream"
	# FLAC from a pipe, which libsndfile alone cannot read
	cat "$D/stereo.flac" | tf-stft > "$D/flac.stream"
	# a writer whose first write is shorter than the magic: waited for
	{ head -c 2 "$D/stereo.flac"; sleep 0.3; tail -c +3 "$D/stereo.flac"; } | tf-stft > "$D/slow.stream"
	# from a pipe the header's length may be a placeholder: not announced
	[ -z "$(stream_key "$D/cat.stream" header samples)" ]
	[ "$(stream_key "$D/cat.stream" end samples)" -eq 30001 ]
	[ "$(stream_key "$D/stdin.stream" header samples)" -eq 30001 ]
	sox "$D/stereo.wav" "$D/stereo.ogg"
	cat "$D/stereo.ogg" | tf-stft > "$D/ogg.stream"
	[ "$(stream_key "$D/ogg.stream" end samples)" -eq 30001 ]
	for s in file cat sox stdin flac slow; do stream_npy "$D/$s.stream" "$D/$s.npy"; done
	run $PY -c "
import numpy as np
a = np.load('$D/file.npy')
for s in 'cat', 'sox', 'stdin', 'flac', 'slow':
    assert np.array_equal(a, np.load('$D/%s.npy' % s)), s
"
	assert_success
}

@test "a WAV from a pipe with an unknown length (sox's placeholder header)" {
	sox "$D/stereo.wav" -t raw - | sox -t raw -r 44100 -c 2 -e signed -b 16 - -t wav - 2>/dev/null |
		tf-stft > "$D/u.stream"
	[ "$(stream_key "$D/u.stream" end samples)" -eq 30001 ]
	[ "$(stream_key "$D/u.stream" end frames)" -eq 59 ]
}

@test "-r resamples 48 kHz to 44.1 kHz: exact length, the sine stays at 1 kHz" {
	make_wav "$D/48k.wav" 48001 2 48000
	tf-stft -r 44100 "$D/48k.wav" > "$D/r.stream"
	# round(48001 * 44100 / 48000) = 44101
	[ "$(stream_key "$D/r.stream" header sample_rate)" -eq 44100 ]
	[ "$(stream_key "$D/r.stream" header samples)" -eq 44101 ]
	[ "$(stream_key "$D/r.stream" end samples)" -eq 44101 ]
	[ "$(stream_key "$D/r.stream" end frames)" -eq $((1 + 44101 / 512)) ]
	cat "$D/48k.wav" | tf-stft -r 44100 > "$D/rp.stream"
	[ "$(stream_key "$D/rp.stream" end samples)" -eq 44101 ]
	stream_npy "$D/r.stream" "$D/r.npy"
	run $PY -c "
import numpy as np
X = np.load('$D/r.npy')
peak = np.abs(X[0]).mean(axis=1).argmax()
print('peak bin', peak, 'want', 1000 / 44100 * 2048)
assert abs(peak - 1000 / 44100 * 2048) < 1
"
	assert_success
}

@test "-c 1 averages the channels, -c 2 repeats a mono input" {
	tf-stft -n 512 -H 128 -c 1 "$D/stereo.wav" > "$D/down.stream"
	sox "$D/stereo.wav" -t wav -e float -b 32 "$D/avg.wav" remix 1v0.5,2v0.5
	stream_npy "$D/down.stream" "$D/down.npy"
	run $PY "$D/ref.py" "$D/down.npy" "$D/avg.wav" 512 128
	assert_success
	tf-stft -n 512 -H 128 -c 2 "$D/mono.wav" > "$D/up.stream"
	[ "$(stream_key "$D/up.stream" header channels)" -eq 2 ]
	stream_npy "$D/up.stream" "$D/up.npy"
	run $PY -c "
import numpy as np
X = np.load('$D/up.npy')
assert X.shape[0] == 2 and np.array_equal(X[0], X[1])"
	assert_success
	make_wav "$D/nine.wav" 1000 9
	run tf-stft -c 2 "$D/nine.wav"
	assert_clean_failure tf-stft
	assert_output --partial "cannot turn 9 channels into 2"
	run tf-stft -c 4 "$D/stereo.wav"
	assert_clean_failure tf-stft
	assert_output --partial "cannot turn 2 channels into 4"
}

# float_wav FILE CHANNELS PYEXPR: a 32-bit float WAV written byte by byte
# (sox would turn NaN into numbers); PYEXPR makes x, float32 [frames, channels].
float_wav() {
	$PY - "$1" "$2" "$3" <<-'EOF'
		import struct, sys, numpy as np
		path, ch = sys.argv[1], int(sys.argv[2])
		rng = np.random.default_rng(3)
		x = eval(sys.argv[3]).astype('<f4')
		assert x.shape[1] == ch
		data = x.tobytes()
		fmt = struct.pack('<HHIIHH', 3, ch, 44100, 44100 * 4 * ch, 4 * ch, 32)
		with open(path, 'wb') as f:
		    f.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE')
		    f.write(b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data)
	EOF
}

@test "5.1 to stereo and to mono: the ITU-R BS.775 downmix, normalised" {
	float_wav "$D/six.wav" 6 "rng.uniform(-0.5, 0.5, (5000, 6))"
	# L R C LFE Ls Rs -> (L + 0.7071 C + 0.7071 Ls) / 2.4142, (R + 0.7071 C + 0.7071 Rs) / 2.4142
	$PY -c "
import numpy as np, sys
raw = open('$D/six.wav', 'rb').read()[44:]
x = np.frombuffer(raw, '<f4').reshape(-1, 6).astype(np.float64)
k = np.sqrt(0.5)
L = (x[:, 0] + k * x[:, 2] + k * x[:, 4]) / (1 + 2 * k)
R = (x[:, 1] + k * x[:, 2] + k * x[:, 5]) / (1 + 2 * k)
np.stack([L, R], 1).astype('<f4').tofile('$D/lr.f32')
((L + R) / 2).astype('<f4').tofile('$D/m.f32')"
	sox -t f32 -r 44100 -c 2 "$D/lr.f32" -e float -b 32 "$D/lr.wav"
	sox -t f32 -r 44100 -c 1 "$D/m.f32" -e float -b 32 "$D/m.wav"
	run tf-stft -v -n 512 -H 128 -c 2 "$D/six.wav" -o "$D/six.stream"
	assert_success
	assert_output --partial "mixing 6 channels to 2 (ITU-R BS.775 downmix)"
	[ "$(stream_key "$D/six.stream" header channels)" -eq 2 ]
	stream_npy "$D/six.stream" "$D/six.npy"
	run $PY "$D/ref.py" "$D/six.npy" "$D/lr.wav" 512 128
	assert_success
	tf-stft -n 512 -H 128 -c 1 "$D/six.wav" > "$D/six1.stream"
	stream_npy "$D/six1.stream" "$D/six1.npy"
	run $PY "$D/ref.py" "$D/six1.npy" "$D/m.wav" 512 128
	assert_success
	# the LFE channel is left out
	float_wav "$D/lfe.wav" 6 "np.pad(rng.uniform(-0.5, 0.5, (3000, 1)), ((0, 0), (3, 2)))"
	tf-stft -c 2 "$D/lfe.wav" > "$D/lfe.stream"
	stream_npy "$D/lfe.stream" "$D/lfe.npy"
	run $PY -c "
import numpy as np
assert np.abs(np.load('$D/lfe.npy')).max() == 0"
	assert_success
}

@test "NaN or infinite samples are refused with where they are; --zero-nonfinite zeroes them with a warning" {
	float_wav "$D/nan.wav" 2 "np.where(np.arange(8000)[:, None] * 2 + [0, 1] == 2 * 1234 + 1, np.nan, rng.uniform(-0.5, 0.5, (8000, 2)))"
	run tf-stft -o "$D/nan.stream" "$D/nan.wav"
	assert_clean_failure tf-stft
	assert_output "tf-stft: $D/nan.wav: sample 1234 (channel 2, at 0.028 s) is not finite (nan); --zero-nonfinite replaces such samples with 0"
	[ ! -e "$D/nan.stream" ]
	run sh -c "cat '$D/nan.wav' | tf-stft > /dev/null"
	assert_clean_failure tf-stft
	assert_output --partial "standard input: sample 1234 (channel 2"
	float_wav "$D/inf.wav" 1 "np.where(np.arange(8000)[:, None] == 7000, -np.inf, 0.25)"
	run tf-stft -o "$D/inf.stream" "$D/inf.wav"
	assert_clean_failure tf-stft
	assert_output --partial "sample 7000 (channel 1, at 0.159 s) is not finite (-inf)"
	# zeroed: the same stream as the file with a 0 there
	run tf-stft --zero-nonfinite -o "$D/zeroed.stream" "$D/nan.wav"
	assert_success
	assert_output "tf-stft: $D/nan.wav: 1 samples that were not finite (the first at sample 1234) replaced with 0"
	float_wav "$D/zero.wav" 2 "np.where(np.arange(8000)[:, None] * 2 + [0, 1] == 2 * 1234 + 1, 0, rng.uniform(-0.5, 0.5, (8000, 2)))"
	tf-stft -o "$D/zero.stream" "$D/zero.wav"
	cmp "$D/zeroed.stream" "$D/zero.stream"
}

@test "a format libsndfile cannot read: the ffmpeg command that converts it on the way" {
	random_bytes "$D/song.m4a" 4000 5
	run tf-stft "$D/song.m4a"
	assert_clean_failure tf-stft
	assert_output --partial "convert to WAV on the way: ffmpeg -i $D/song.m4a -f wav - | tf-stft -)"
}

@test "-m takes FFT size, hop, rate and channels from the model; options still win" {
	$PY -c "
import msgpack, sys
h = {'tfswa': 1, 'kind': 'model', 'in_channels': 2, 'out_channels': 2, 'depths': [2, 2, 2, 2],
     'dims': [8, 16, 32, 64], 'window_size': 4, 'shift_size': 2, 'num_heads': 2, 'mlp_ratio': 4.0,
     'sample_rate': 22050, 'n_fft': 1024, 'hop': 256, 'window': 'hann', 'channels': 1,
     'stems': ['vocals', 'other']}
sys.stdout.buffer.write(msgpack.packb(h) + msgpack.packb({'end': True}))" > "$D/model.bin"
	tf-stft -m "$D/model.bin" "$D/stereo.wav" > "$D/m.stream"
	run $PY "$STREAM_PY" info "$D/m.stream"
	assert_line --index 0 "header [('center', True), ('channels', 1), ('hop', 256), ('kind', 'spectrogram'), ('n_fft', 1024), ('sample_rate', 22050), ('samples', 15001), ('tfswa', 1), ('window', 'hann')]"
	tf-stft -m "$D/model.bin" -H 512 "$D/stereo.wav" > "$D/m2.stream"
	[ "$(stream_key "$D/m2.stream" header hop)" -eq 512 ]
	random_bytes "$D/junk.bin" 100 3
	run tf-stft -m "$D/junk.bin" "$D/stereo.wav"
	assert_clean_failure tf-stft
}

@test "very short and empty inputs: zero-extended to n_fft/2 + 1 samples, lengths kept" {
	make_wav "$D/short.wav" 10 2
	tf-stft "$D/short.wav" > "$D/short.stream"
	# 1 + 1025 / 512 = 3 frames
	[ "$(stream_key "$D/short.stream" end frames)" -eq 3 ]
	[ "$(stream_key "$D/short.stream" end samples)" -eq 10 ]
	sox -n -r 44100 -c 1 -b 16 "$D/empty.wav" trim 0 0
	tf-stft "$D/empty.wav" > "$D/empty.stream"
	[ "$(stream_key "$D/empty.stream" end frames)" -eq 3 ]
	[ "$(stream_key "$D/empty.stream" end samples)" -eq 0 ]
}

@test "-o writes the file only when complete" {
	tf-stft -o "$D/out.stream" "$D/mono.wav"
	[ "$(stream_key "$D/out.stream" end samples)" -eq 12347 ]
	random_bytes "$D/random.bin" 4000 4
	run tf-stft -o "$D/never.stream" "$D/random.bin"
	assert_clean_failure tf-stft
	[ ! -e "$D/never.stream" ]
	[ -z "$(ls -A "$D" | grep '^\.never')" ]
}

@test "bad input: random bytes, no file, junk from a pipe, empty input, bad sizes" {
	random_bytes "$D/random.bin" 4000 4
	run tf-stft "$D/random.bin"
	assert_clean_failure tf-stft
	assert_output --partial "not audio that libsndfile can read"
	run tf-stft < "$D/random.bin"
	assert_clean_failure tf-stft
	run tf-stft "$D/no-such-file.wav"
	assert_clean_failure tf-stft
	assert_output --partial "No such file"
	run sh -c "printf 'RIFF1234WAVEjunk' | tf-stft"
	assert_clean_failure tf-stft
	assert_output --partial "name the file instead, or pipe WAV"
	run tf-stft < /dev/null
	assert_clean_failure tf-stft
	run tf-stft -n 1023 "$D/mono.wav"
	assert_usage_failure tf-stft
	assert_output --partial "must be even"
	run tf-stft -n 256 -H 512 "$D/mono.wav"
	assert_usage_failure tf-stft
	run tf-stft -n abc "$D/mono.wav"
	assert_usage_failure tf-stft
	run tf-stft "$D/mono.wav" "$D/mono.wav"
	assert_usage_failure tf-stft
}

@test "a file cut short is an error, not a short stream; from a pipe, a warning" {
	head -c 20000 "$D/stereo.flac" > "$D/cut.flac"
	run tf-stft -o "$D/cut.stream" "$D/cut.flac"
	assert_clean_failure tf-stft
	[ ! -e "$D/cut.stream" ]
	# WAV and AIFF: libsndfile reads what is there; the header says more
	for ext in wav aiff; do
		sox "$D/stereo.wav" "$D/whole.$ext"
		head -c 20000 "$D/whole.$ext" > "$D/cut.$ext"
		run tf-stft -o "$D/cut.stream" "$D/cut.$ext"
		assert_clean_failure tf-stft
		assert_output --partial "cut short"
		[ ! -e "$D/cut.stream" ]
		run tf-stft -o "$D/whole.stream" "$D/whole.$ext"
		assert_success
	done
	# a pipe cannot tell a cut from a header's placeholder length: a warning
	run sh -c "head -c 30000 '$D/stereo.wav' | tf-stft -o '$D/cutp.stream'"
	assert_success
	assert_output "tf-stft: input ended after 7489 samples, but its header announced 30001: cut short?"
}

@test "-o onto a FIFO writes into it rather than replacing it" {
	mkfifo "$D/fifo"
	cat "$D/fifo" > "$D/from-fifo.stream" &
	tf-stft -o "$D/fifo" "$D/mono.wav"
	wait
	[ -p "$D/fifo" ]
	[ "$(stream_key "$D/from-fifo.stream" end samples)" -eq 12347 ]
}

@test "tf-stft will not write a binary stream to a terminal" {
	run script -qec "tf-stft $D/mono.wav" /dev/null
	[[ "$output" == *"will not write a binary stream to a terminal"* ]]
}

@test "a damaged MP3: one line naming tf-stft, none of the decoder's own notes" {
	cd "$BATS_TEST_TMPDIR"
	sox -n -r 44100 -c 2 a.wav synth 3 sine 440
	$PY "$BATS_TEST_DIRNAME/../tools/wav2mp3.py" a.wav a.mp3
	$PY -c "
import random
b = bytearray(open('a.mp3', 'rb').read())
random.seed(3)
for i in range(200):
    b[random.randrange(2000, len(b))] = random.randrange(256)
open('bad.mp3', 'wb').write(b)"
	run sh -c 'tf-stft bad.mp3 2>err >/dev/null'
	[ "$status" -eq 1 ]
	cat err
	[ "$(wc -l < err)" -eq 1 ]
	grep -q '^tf-stft: ' err
	# the undamaged file still reads, and as many samples as before
	tf-stft a.mp3 > a.stream
	[ -s a.stream ]
}
