#!/usr/bin/env bats
# The separation pipeline end to end: tf-stft | tf-unet | tf-istft on real
# WAV files with models imported from the reference's golden checkpoints,
# and the bad inputs a user can hand tf-unet (models and streams).

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	G="$BATS_TEST_DIRNAME/../data/golden"
	# small FFT sizes keep the tests fast; the networks are the goldens'
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 256 --hop 64 --stems vocals,other -o "$D/mono.bin"
	tf-export --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" \
		--n-fft 256 --hop 64 --stems drums,bass,other,vocals -o "$D/stereo.bin"
	make_wav "$D/mono.wav" 12347 1
	make_wav "$D/stereo.wav" 9001 2
}

# separate MODEL IN OUT: the pipeline as a user types it, audio on stdout
separate() {
	tf-stft -m "$1" "$2" | tf-unet -q -m "$1" | tf-istft > "$3"
}

@test "mono WAV through the pipeline: the first stem, exactly the input's length and channels" {
	separate "$D/mono.bin" "$D/mono.wav" "$D/out.wav"
	[ "$(soxi -s "$D/out.wav")" -eq 12347 ]
	[ "$(soxi -c "$D/out.wav")" -eq 1 ]
	[ "$(soxi -r "$D/out.wav")" -eq 44100 ]
	# not silence: a sigmoid mask passes part of the signal
	peak=$(sox "$D/out.wav" -n stat 2>&1 | awk '/Maximum amplitude/ {print $3}')
	awk -v p="$peak" 'BEGIN {exit !(p > 0.01)}'
}

@test "stereo, four stems: -o writes one file per stem, each the stem -s picks" {
	tf-stft -m "$D/stereo.bin" "$D/stereo.wav" | tf-unet -q -m "$D/stereo.bin" > "$D/stems.stream"
	tf-istft -o "$D/sep-%s.wav" "$D/stems.stream"
	for s in drums bass other vocals; do
		[ "$(soxi -s "$D/sep-$s.wav")" -eq 9001 ]
		[ "$(soxi -c "$D/sep-$s.wav")" -eq 2 ]
		tf-istft -s "$s" "$D/stems.stream" > "$D/one-$s.wav"
		cmp "$D/sep-$s.wav" "$D/one-$s.wav"
	done
	# the stems differ from one another
	! cmp -s "$D/sep-drums.wav" "$D/sep-vocals.wav"
}

@test "the default stems add up to the mixture within 1e-5 of full scale (32f WAV); raw ones do not" {
	tf-stft -m "$D/stereo.bin" "$D/stereo.wav" > "$D/sum.stream"
	tf-unet -q -m "$D/stereo.bin" "$D/sum.stream" | tf-istft -q -b 32f -o "$D/sum-%s.wav"
	tf-unet -q -m "$D/stereo.bin" --mask-norm raw "$D/sum.stream" | tf-istft -q -b 32f -o "$D/raw-%s.wav"
	audio_npy "$D/stereo.wav" "$D/sum-x.npy"
	for k in sum raw; do
		for s in drums bass other vocals; do audio_npy "$D/$k-$s.wav" "$D/$k-$s.npy"; done
	done
	run $PY - "$D" <<-'EOF'
		import sys, numpy as np
		d = sys.argv[1]
		x = np.load(d + '/sum-x.npy').astype(np.float64)
		for kind, limit in (('sum', 1e-5), ('raw', None)):
		    y = sum(np.load(f'{d}/{kind}-{s}.npy').astype(np.float64) for s in ('drums', 'bass', 'other', 'vocals'))
		    err = np.abs(y - x).max() / np.abs(x).max()
		    print(kind, 'largest difference, of the peak', err)
		    assert (err < limit) if limit else (err > 0.01)
	EOF
	[ "$status" -eq 0 ]
}

@test "file input, cat into a pipe and sox into a pipe give the same audio" {
	separate "$D/stereo.bin" "$D/stereo.wav" "$D/a.wav"
	cat "$D/stereo.wav" | tf-stft -m "$D/stereo.bin" | tf-unet -q -m "$D/stereo.bin" | tf-istft > "$D/b.wav"
	sox "$D/stereo.wav" -t wav - | tf-stft -m "$D/stereo.bin" - | tf-unet -q -m "$D/stereo.bin" - |
		tf-istft - > "$D/c.wav"
	compare_audio "$D/a.wav" "$D/b.wav" 0
	compare_audio "$D/a.wav" "$D/c.wav" 0
}

@test "segmenting does not change the length; short segments cross-fade without gaps" {
	tf-stft -m "$D/mono.bin" "$D/mono.wav" > "$D/mono.stream"
	tf-unet -q -m "$D/mono.bin" --segment 0 "$D/mono.stream" | tf-istft > "$D/whole.wav"
	tf-unet -q -m "$D/mono.bin" --segment 64 --overlap 16 "$D/mono.stream" | tf-istft > "$D/seg.wav"
	[ "$(soxi -s "$D/seg.wav")" -eq 12347 ]
	# the same network on different context: close, not equal
	compare_audio "$D/whole.wav" "$D/seg.wav" 0.5
}

@test "a model file cut short is refused, and nothing is written" {
	size=$(stat -c %s "$D/mono.bin")
	head -c $((size / 2)) "$D/mono.bin" > "$D/cut.bin"
	tf-stft -m "$D/mono.bin" "$D/mono.wav" > "$D/mono.stream"
	run tf-unet -m "$D/cut.bin" -o "$D/cut.out" "$D/mono.stream"
	assert_clean_failure tf-unet
	assert_output --partial "truncated"
	[ ! -e "$D/cut.out" ]
}

@test "a model with a wrong tensor shape: got [..], expected [..]" {
	$PY - "$D/mono.bin" "$D/wrong.bin" <<-'EOF'
		import msgpack, sys
		fr = list(msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False))
		t = next(f for f in fr if f.get('name') == 'stem.0.weight')
		t['shape'][0] += 1
		t['data'] += bytes(len(t['data']) // (t['shape'][0] - 1))
		open(sys.argv[2], 'wb').write(b''.join(msgpack.packb(f) for f in fr))
	EOF
	tf-stft -m "$D/mono.bin" "$D/mono.wav" > "$D/mono.stream"
	run tf-unet -m "$D/wrong.bin" "$D/mono.stream"
	assert_clean_failure tf-unet
	assert_output --partial "stem.0.weight: got [9, 2, 7, 7], expected [8, 2, 7, 7]"
}

@test "a frame claiming more data than memory holds: an error, not a giant allocation" {
	# a c64 chunk of 2^40 frames whose bin claims 4 GiB, then the stream ends
	$PY - > "$D/huge.stream" <<-'EOF'
		import msgpack, struct, sys
		o = sys.stdout.buffer
		o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 256,
		                       'hop': 64, 'channels': 1}))
		o.write(b'\x83' + msgpack.packb('dtype') + msgpack.packb('c64') + msgpack.packb('shape') +
		        msgpack.packb([1, 129, 1 << 40]) + msgpack.packb('data') + b'\xc6' + struct.pack('>I', 0xfffffff0) +
		        bytes(1000))
	EOF
	run /usr/bin/time -f 'rss %M' tf-unet -m "$D/mono.bin" -o "$D/huge.out" "$D/huge.stream"
	[ "$status" -eq 1 ]
	[ ! -e "$D/huge.out" ]
	[[ "${lines[0]}" == "tf-unet: "* ]]
	rss=$(printf '%s\n' "$output" | sed -n 's/^rss //p')
	echo "peak RSS $rss kB"
	[ "$rss" -lt 200000 ]
	# and a shape whose element count overflows
	$PY - > "$D/overflow.stream" <<-'EOF'
		import msgpack, sys
		o = sys.stdout.buffer
		o.write(msgpack.packb({'tfswa': 1, 'kind': 'spectrogram', 'sample_rate': 44100, 'n_fft': 256,
		                       'hop': 64, 'channels': 1}))
		o.write(msgpack.packb({'dtype': 'c64', 'shape': [1 << 31, 1 << 31, 1 << 31], 'data': b''}))
		o.write(msgpack.packb({'end': True}))
	EOF
	run tf-unet -m "$D/mono.bin" -o "$D/overflow.out" "$D/overflow.stream"
	assert_clean_failure tf-unet
	echo "$output"
	[ ! -e "$D/overflow.out" ]
}

@test "audio libsndfile cannot read stops the pipeline with tf-stft's message" {
	random_bytes "$D/noise.wav" 5000 7
	run bash -c "set -o pipefail; tf-stft -m '$D/mono.bin' '$D/noise.wav' | tf-unet -q -m '$D/mono.bin' | tf-istft -o '$D/x-%s.wav'"
	[ "$status" -ne 0 ]
	[[ "${lines[0]}" == "tf-stft: "* ]]
	[ -z "$(ls "$D" | grep '^x-')" ]
}
