#!/usr/bin/env bats
# tf-unet: separation of spectrogram streams, segmenting, and refusals.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	export PY=/usr/bin/python3 S="$BATS_TEST_DIRNAME/../tools/stream.py"
	G="$BATS_TEST_DIRNAME/../data/golden"
	# small models at a small FFT size so that the tests stay fast
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 62 --hop 16 --stems vocals,other -o "$D/mono.bin"
	tf-export --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" \
		--n-fft 62 --hop 16 --stems drums,bass,other,vocals -o "$D/stereo.bin"
	$PY "$S" spec 300 1 62 16 > "$D/mono.stream"
	$PY "$S" spec 41 2 62 16 > "$D/stereo.stream"
}

@test "tf-unet --help and --version" {
	run tf-unet --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: tf-unet"* ]]
	run tf-unet --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"tf-unet (tfswa)"* ]]
	[[ "$output" == *"gemm BLIS"* ]]
}

@test "tf-unet separates a mono stream into the model's stems, every frame once" {
	tf-unet -q -m "$D/mono.bin" < "$D/mono.stream" > "$D/out.stream"
	run $PY "$S" info "$D/out.stream"
	[[ "${lines[0]}" == *"('kind', 'stems')"* ]]
	[[ "${lines[0]}" == *"('stems', ['vocals', 'other'])"* ]]
	[[ "${lines[-1]}" == *"('frames', 300)"* ]]
	total=$(printf '%s\n' "$output" | awk -F'[][]' '/^tensor c64/ {split($2, s, ", "); n += s[4]} END {print n}')
	[ "$total" -eq 300 ]
}

@test "stems are the masks times the mixture (--mask-norm raw)" {
	tf-unet -q -m "$D/stereo.bin" --masks "$D/stereo.stream" -o "$D/m.stream"
	tf-unet -q -m "$D/stereo.bin" --mask-norm raw "$D/stereo.stream" -o "$D/s.stream"
	$PY "$S" cat "$D/m.stream" > "$D/m.npy"
	$PY "$S" cat "$D/s.stream" > "$D/s.npy"
	$PY "$S" cat "$D/stereo.stream" > "$D/x.npy"
	run $PY -c "
import numpy as np
m, s, x = (np.load('$D/%s.npy' % k) for k in 'msx')
assert m.shape == (4, 2, 32, 41) and s.shape == m.shape, (m.shape, s.shape)
assert m.min() >= 0 and m.max() <= 1
d = np.abs(s - m * x[None]).max()
print('max diff', d)
assert d < 1e-6
"
	[ "$status" -eq 0 ]
}

@test "by default (sum1) the stems are the masks over their sum times the mixture, and add up to it" {
	tf-unet -q -m "$D/stereo.bin" --masks "$D/stereo.stream" -o "$D/m.stream"
	tf-unet -q -m "$D/stereo.bin" "$D/stereo.stream" -o "$D/s.stream"
	tf-unet -q -m "$D/stereo.bin" --mask-norm sum1 "$D/stereo.stream" -o "$D/s1.stream"
	tf-unet -q -m "$D/stereo.bin" --mask-norm power "$D/stereo.stream" -o "$D/p.stream"
	cmp "$D/s.stream" "$D/s1.stream"
	$PY "$S" cat "$D/m.stream" > "$D/m.npy"
	$PY "$S" cat "$D/s.stream" > "$D/s.npy"
	$PY "$S" cat "$D/p.stream" > "$D/p.npy"
	$PY "$S" cat "$D/stereo.stream" > "$D/x.npy"
	run $PY -c "
import numpy as np
m, s, p, x = (np.load('$D/%s.npy' % k) for k in 'mspx')
m = m.astype(np.float64)
# the raw masks do not add up to one, so the test below means something
assert np.abs(m.sum(0) - 1).max() > 0.05, np.abs(m.sum(0) - 1).max()
d1 = np.abs(s - m / m.sum(0) * x[None]).max()
d2 = np.abs(p - m**2 / (m**2).sum(0) * x[None]).max()
d3 = np.abs(s.sum(0) - x).max() / np.abs(x).max()
d4 = np.abs(p.sum(0) - x).max() / np.abs(x).max()
print('sum1', d1, 'power', d2, 'sums', d3, d4)
assert d1 < 1e-5 and d2 < 1e-5 and d3 < 1e-6 and d4 < 1e-6
"
	[ "$status" -eq 0 ]
}

@test "--mask-norm takes raw, sum1 or power and nothing else" {
	run tf-unet -m "$D/stereo.bin" --mask-norm sum "$D/stereo.stream"
	[ "$status" -ne 0 ]
	[ "$output" = "tf-unet: --mask-norm sum: one of sum1, power, raw" ]
}

@test "--segment 0 and one long segment agree; -j 1 and -j 2 agree" {
	tf-unet -q -m "$D/mono.bin" --masks --segment 0 -j 1 "$D/mono.stream" -o "$D/a.stream"
	tf-unet -q -m "$D/mono.bin" --masks --segment 512 -j 2 "$D/mono.stream" -o "$D/b.stream"
	$PY "$S" cat "$D/a.stream" > "$D/a.npy"
	$PY "$S" cat "$D/b.stream" > "$D/b.npy"
	run $PY -c "
import numpy as np
a, b = np.load('$D/a.npy'), np.load('$D/b.npy')
print(np.abs(a - b).max())
assert a.shape == b.shape and np.abs(a - b).max() < 1e-5
"
	[ "$status" -eq 0 ]
}

@test "--segment and --overlap in seconds: round(seconds x rate / hop) frames" {
	# 44.1 kHz, hop 16: 0.1 s is 275.6 frames (276), 0.02 s is 55.1 (55)
	run tf-unet -v -m "$D/mono.bin" --masks --segment 0.1s --overlap 0.02s "$D/mono.stream" -o "$D/sec.stream"
	[ "$status" -eq 0 ]
	[[ "$output" == *"segment 276 frames, overlap 55;"* ]]
	tf-unet -q -m "$D/mono.bin" --masks --segment 276 --overlap 55 "$D/mono.stream" -o "$D/frames.stream"
	cmp "$D/sec.stream" "$D/frames.stream"
	# 0s is the whole input, as 0 is
	tf-unet -q -m "$D/mono.bin" --masks --segment 0s "$D/mono.stream" -o "$D/whole-s.stream"
	tf-unet -q -m "$D/mono.bin" --masks --segment 0 "$D/mono.stream" -o "$D/whole.stream"
	cmp "$D/whole-s.stream" "$D/whole.stream"
	for bad in 3x 1e3s -1s s infs 3.s.s " 3" 2000000 100000s; do
		run tf-unet -m "$D/mono.bin" --segment "$bad" "$D/mono.stream" -o "$D/bad.stream"
		assert_usage_failure tf-unet
		[[ "$output" == "tf-unet: --segment: "* ]]
	done
	run tf-unet -m "$D/mono.bin" --overlap 1.5 "$D/mono.stream" -o "$D/bad.stream"
	assert_usage_failure tf-unet
	# an overlap given in seconds is checked in frames like any other
	run tf-unet -m "$D/mono.bin" --segment 0.1s --overlap 0.06s "$D/mono.stream" -o "$D/bad.stream"
	assert_usage_failure tf-unet
	[[ "$output" == *"--overlap 165: at most half the segment (138)"* ]]
	[ ! -e "$D/bad.stream" ]
}

@test "a stream that does not fit the model is refused with the tf-stft options that fit" {
	$PY "$S" spec 20 1 62 16 48000 > "$D/rate.stream"
	run tf-unet -m "$D/mono.bin" "$D/rate.stream"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "tf-unet: stream (48000 Hz"*"does not fit the model"*"tf-stft -r 44100 -n 62 -H 16 -c 1"* ]]
	run tf-unet -m "$D/mono.bin" "$D/stereo.stream"
	[ "$status" -eq 1 ]
	[[ "$output" == *"2 channels"*"does not fit"* ]]
}

@test "bad input: truncated stream, missing end frame, random bytes, no model" {
	head -c 5000 "$D/mono.stream" > "$D/cut.stream"
	run tf-unet -m "$D/mono.bin" -o "$D/cut.out" "$D/cut.stream"
	[ "$status" -eq 1 ]
	[[ "$output" == "tf-unet: "*"truncated"* ]]
	[ ! -e "$D/cut.out" ]
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/mono.stream', 'rb'), raw=False))
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in fr[:-1]))" > "$D/noend.stream"
	run tf-unet -m "$D/mono.bin" -o "$D/noend.out" "$D/noend.stream"
	[ "$status" -eq 1 ]
	[[ "$output" == *"without an end frame"* ]]
	[ ! -e "$D/noend.out" ]
	for seed in 1 2 3 4 5; do
		random_bytes "$D/random.bin" 3000 $seed
		run tf-unet -m "$D/mono.bin" "$D/random.bin"
		assert_clean_failure tf-unet
	done
	run tf-unet "$D/mono.stream"
	[ "$status" -eq 2 ]
	[[ "$output" == "tf-unet: no model given"* ]]
	run tf-unet -m "$D/random.bin" "$D/mono.stream"
	[ "$status" -eq 1 ]
	[[ "$output" == "tf-unet: "*"not a tfswa stream"* ]]
}

@test "a chunk whose data length disagrees with its shape is refused" {
	$PY -c "
import msgpack, sys, numpy as np
o = sys.stdout.buffer
o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 62, 'hop': 16, 'channels': 1}))
o.write(msgpack.packb({'dtype': 'c64', 'shape': [1, 32, 10], 'data': np.zeros(319, '<c8').tobytes()}))
o.write(msgpack.packb({'end': True}))" > "$D/badlen.stream"
	run tf-unet -m "$D/mono.bin" "$D/badlen.stream"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tensor data is 2552 bytes but shape [1, 32, 10] of c64 needs 2560"* ]]
	$PY -c "
import msgpack, sys
o = sys.stdout.buffer
o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 62, 'hop': 16, 'channels': 1}))
o.write(msgpack.packb({'dtype': 'c64', 'shape': [1, 32, 1 << 40], 'data': b'1234'}))
o.write(msgpack.packb({'end': True}))" > "$D/huge.stream"
	run tf-unet -m "$D/mono.bin" "$D/huge.stream"
	[ "$status" -eq 1 ]
	[[ "$output" == *"larger than the"*"cap"* ]]
}

@test "tf-unet will not write a binary stream to a terminal" {
	run script -qec "tf-unet -m $D/mono.bin $D/mono.stream" /dev/null
	[[ "$output" == *"will not write a binary stream to a terminal"* ]]
}

@test "OpenMP's waiting: short spins unless the environment says otherwise (tf-unet -v says which)" {
	run env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT tf-unet -v -m "$D/mono.bin" "$D/mono.stream" -o "$D/w.stream"
	[ "$status" -eq 0 ]
	[[ "$output" == *"threads (spin 10000 rounds, then sleep (GOMP_SPINCOUNT))"* ]]
	run env OMP_WAIT_POLICY=passive tf-unet -v -m "$D/mono.bin" "$D/mono.stream" -o "$D/p.stream"
	[[ "$output" == *"threads (OMP_WAIT_POLICY=passive)"* ]]
	run env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=77 tf-unet -v -m "$D/mono.bin" "$D/mono.stream" -o "$D/s.stream"
	[[ "$output" == *"threads (spin 77 rounds, then sleep (GOMP_SPINCOUNT))"* ]]
	cmp "$D/w.stream" "$D/p.stream"
	cmp "$D/w.stream" "$D/s.stream"
}
