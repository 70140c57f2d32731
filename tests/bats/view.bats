#!/usr/bin/env bats
# tf-view: pictures of spectrogram, stems and masks streams.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	export S="$BATS_TEST_DIRNAME/../tools/stream.py" PNG="$BATS_TEST_DIRNAME/../tools/png.py"
	G="$BATS_TEST_DIRNAME/../data/golden"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 62 --hop 16 --stems vocals,other -o "$D/mono.bin"
	$PY "$S" spec 300 1 62 16 > "$D/mono.stream"
}

# synth FILE KIND STEMS CHANNELS FRAMES N_FFT EXPR: a stream whose tensor
# [stems, channels, bins, frames] (no stems axis for a spectrogram) is the
# numpy expression EXPR of s, c, b, t (index grids) and n_fft; magnitudes
# for spectrograms and stems (as real numbers), mask values for masks.
synth() {
	$PY - "$@" <<-'EOF'
		import sys, msgpack, numpy as np
		path, kind, S, C, T, nfft, expr = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7]), sys.argv[7]
		F = nfft // 2 + 1
		s, c, b, t = np.meshgrid(np.arange(S), np.arange(C), np.arange(F), np.arange(T), indexing="ij")
		a = np.broadcast_to(eval(expr), (S, C, F, T))
		if kind == "spectrogram":
		    a = a[0]
		out = open(path, "wb")
		h = {"tfswa": 1, "kind": kind, "sample_rate": 8000, "n_fft": nfft, "hop": nfft // 4, "channels": C}
		if kind != "spectrogram":
		    h["stems"] = ["s%d" % i for i in range(S)]
		out.write(msgpack.packb(h))
		dt = "<f4" if kind == "masks" else "<c8"
		for t0 in range(0, T, 37):
		    part = np.ascontiguousarray(a[..., t0:t0 + 37]).astype(dt)
		    out.write(msgpack.packb({"dtype": "f32" if kind == "masks" else "c64", "shape": list(part.shape),
		                             "data": part.tobytes(), "frame": t0}))
		out.write(msgpack.packb({"end": True, "frames": T}))
	EOF
}

# panels PNG: for each panel, top to bottom, the mean brightness (0-255) of
# its middle half, found as the runs of non-white rows down the picture's
# middle column (each panel is framed by a black line).
panels() {
	$PY - "$1" "$(dirname "$PNG")" <<-'EOF'
		import sys, numpy as np
		sys.path.insert(0, sys.argv[2])
		from png import read_png
		img = read_png(sys.argv[1]).astype(float)
		luma = img @ [0.3, 0.59, 0.11]
		col = luma[:, img.shape[1] // 2]
		runs, start = [], None
		for y, v in enumerate(list(col) + [255]):
		    if v < 250 and start is None:
		        start = y
		    elif v >= 250 and start is not None:
		        if y - start > 8:
		            runs.append((start, y))
		        start = None
		w = img.shape[1]
		print(" ".join("%.0f" % luma[a + (e - a) // 4:e - (e - a) // 4, w // 4:3 * w // 4].mean() for a, e in runs))
	EOF
}

@test "tf-view --help and --version" {
	run tf-view --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: tf-view"* ]]
	run tf-view --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"tf-view (tfswa)"* ]]
}

@test "a spectrogram stream becomes a valid PNG of the size asked" {
	tf-view -W 320 --height 200 "$D/mono.stream" -o "$D/mono.png"
	run file "$D/mono.png"
	[[ "$output" == *"PNG image data, 320 x 200, 8-bit colormap"* ]]
	run $PY "$PNG" "$D/mono.png"
	[ "$status" -eq 0 ]
	[ "$output" = "320 200" ]
	# from standard input, to standard output
	tf-view -W 200 -o - < "$D/mono.stream" > "$D/piped.png"
	run $PY "$PNG" "$D/piped.png"
	[ "$status" -eq 0 ]
	[[ "$output" == "200 "* ]]
}

@test "stems: one panel per stem, in order, brightness following the level" {
	# stem 0 at full scale (0 dB), stem 1 silent, stem 2 at -40 dB
	synth "$D/stems.stream" stems 3 1 50 64 "(s == 0) * 16.0 + (s == 2) * 0.16"
	tf-view -W 240 "$D/stems.stream" -o "$D/stems.png"
	run panels "$D/stems.png"
	echo "$output"
	read -r -a l <<< "$output"
	[ "${#l[@]}" -eq 3 ]
	[ "${l[0]}" -gt 230 ]
	[ "${l[1]}" -lt 10 ]
	[ "${l[2]}" -gt 60 ] && [ "${l[2]}" -lt 200 ]
	# more stems, more panels; the default height grows with them
	synth "$D/five.stream" stems 5 1 20 64 "s * 0.0 + 1"
	tf-view -W 240 "$D/five.stream" -o "$D/five.png"
	run panels "$D/five.png"
	read -r -a l <<< "$output"
	[ "${#l[@]}" -eq 5 ]
	h3=$($PY "$PNG" "$D/stems.png" | cut -d' ' -f2)
	h5=$($PY "$PNG" "$D/five.png" | cut -d' ' -f2)
	[ "$h5" -gt "$h3" ]
	# --height is the whole picture's, shared by the panels
	tf-view -W 240 --height 300 "$D/five.stream" -o "$D/five300.png"
	[ "$($PY "$PNG" "$D/five300.png")" = "240 300" ]
}

@test "masks: a heat map from 0 (dark) to 1 (bright)" {
	synth "$D/masks.stream" masks 3 2 40 64 "(s == 0) * 1.0 + (s == 2) * 0.5"
	tf-view -W 240 "$D/masks.stream" -o "$D/masks.png"
	run panels "$D/masks.png"
	echo "$output"
	read -r -a l <<< "$output"
	[ "${#l[@]}" -eq 3 ]
	[ "${l[0]}" -gt 230 ]
	[ "${l[1]}" -lt 10 ]
	[ "${l[2]}" -gt 80 ] && [ "${l[2]}" -lt 180 ]
}

@test "frequency up, time across: a tone in the upper half, sound in the first half" {
	# bins 24-32 of 33 loud in the first half of the frames only
	synth "$D/tf.stream" spectrogram 1 1 200 64 "(b >= 24) * (t < 100) * 16.0"
	tf-view -W 300 --linear "$D/tf.stream" -o "$D/tf.png"
	$PY "$PNG" "$D/tf.png" "$D/tf.npy"
	run $PY -c "
import numpy as np
img = np.load('$D/tf.npy').astype(float) @ [0.3, 0.59, 0.11]
def longest(line):  # the longest run of non-white pixels: the framed plot
    best, start = (0, 0), None
    for i, v in enumerate(list(line) + [255]):
        if v < 250 and start is None:
            start = i
        elif v >= 250 and start is not None:
            best = max(best, (start, i), key=lambda r: r[1] - r[0])
            start = None
    return best
top, bottom = longest(img[:, img.shape[1] // 2])
left, right = longest(img[(top + bottom) // 2])
plot = img[top + 1:bottom - 1, left + 1:right - 1]
h, w = plot.shape
q = lambda a: a.mean()
print(q(plot[:h // 5, :w // 3]), q(plot[-h // 5:, :w // 3]), q(plot[:h // 5, -w // 3:]))
assert q(plot[:h // 5, :w // 3]) > 230     # high frequencies, early: loud
assert q(plot[-h // 5:, :w // 3]) < 10     # low frequencies: silent
assert q(plot[:h // 5, -w // 3:]) < 10     # late: silent
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--channel draws one channel; by default their mean power" {
	synth "$D/st.stream" stems 1 2 30 64 "(c == 0) * 16.0"
	tf-view -W 200 --channel 1 "$D/st.stream" -o "$D/c1.png"
	tf-view -W 200 --channel 2 "$D/st.stream" -o "$D/c2.png"
	tf-view -W 200 "$D/st.stream" -o "$D/both.png"
	c1=$(panels "$D/c1.png") c2=$(panels "$D/c2.png") both=$(panels "$D/both.png")
	echo "$c1 $c2 $both"
	[ "$c1" -gt 230 ] && [ "$c2" -lt 10 ]
	# half the power is -3 dB: a little below full brightness
	[ "$both" -lt "$c1" ] && [ "$both" -gt 200 ]
	run tf-view --channel 3 "$D/st.stream" -o "$D/c3.png"
	assert_clean_failure tf-view
	[[ "$output" == *"--channel 3: the stream has 2 channels"* ]]
	[ ! -e "$D/c3.png" ]
}

@test "a long stream is averaged into the columns as it comes" {
	# 300000 frames of n_fft 8 (5 bins), chunks of 1000, into 120 columns:
	# buckets of 4096 frames (2048 would need 147 columns), so 74 of them
	$PY "$S" spec 300000 1 8 2 8000 1000 > "$D/long.stream"
	tf-view -v -W 200 --height 64 "$D/long.stream" -o "$D/long.png" 2> "$D/long.err"
	cat "$D/long.err"
	grep -q "300000 frames, 4096 per column" "$D/long.err"
	[ "$($PY "$PNG" "$D/long.png")" = "200 64" ]
}

@test "bad input: one clean line, and no picture" {
	head -c 5000 "$D/mono.stream" > "$D/cut.stream"
	run tf-view "$D/cut.stream" -o "$D/cut.png"
	assert_clean_failure tf-view
	[[ "$output" == *"truncated"* ]]
	[ ! -e "$D/cut.png" ]
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/mono.stream', 'rb'), raw=False))
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in fr[:-1]))" > "$D/noend.stream"
	run tf-view "$D/noend.stream" -o "$D/noend.png"
	assert_clean_failure tf-view
	[[ "$output" == *"without an end frame"* ]]
	[ ! -e "$D/noend.png" ]
	# a model is a stream too, of the wrong kind
	run tf-view "$D/mono.bin" -o "$D/model.png"
	assert_clean_failure tf-view
	[[ "$output" == *'got a model stream'* ]]
	# masks of the wrong type; stems of the wrong count
	$PY -c "
import msgpack, sys, numpy as np
w = sys.stdout.buffer.write
w(msgpack.packb({'tfswa': 1, 'kind': 'masks', 'sample_rate': 8000, 'n_fft': 8, 'hop': 2, 'channels': 1, 'stems': ['a', 'b']}))
w(msgpack.packb({'dtype': 'c64', 'shape': [2, 1, 5, 3], 'data': np.zeros((2, 1, 5, 3), '<c8').tobytes()}))
w(msgpack.packb({'end': True, 'frames': 3}))" > "$D/c64masks.stream"
	run tf-view "$D/c64masks.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	[[ "$output" == *"expected f32 [2, 1, 5, frames], got c64"* ]]
	synth "$D/two.stream" stems 2 1 10 8 "s * 0.0"
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/two.stream', 'rb'), raw=False))
fr[0]['stems'] = ['a', 'b', 'c']
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in fr))" > "$D/three.stream"
	run tf-view "$D/three.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	[[ "$output" == *"expected c64 [3, 1, 5, frames], got c64 [2, 1, 5, 10]"* ]]
	# frames claimed but not there; no frames at all
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/two.stream', 'rb'), raw=False))
fr[-1]['frames'] = 11
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in fr))" > "$D/claim.stream"
	run tf-view "$D/claim.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	[[ "$output" == *"claiming 11 frames, but it held 10"* ]]
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$D/two.stream', 'rb'), raw=False))
fr[-1]['frames'] = 0
sys.stdout.buffer.write(b''.join(msgpack.packb(f) for f in (fr[0], fr[-1])))" > "$D/empty.stream"
	run tf-view "$D/empty.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	[[ "$output" == *"no frames"* ]]
	for seed in 1 2 3; do
		random_bytes "$D/random.bin" 3000 $seed
		run tf-view "$D/random.bin" -o "$D/x.png"
		assert_clean_failure tf-view
	done
	[ ! -e "$D/x.png" ]
	# options
	run tf-view "$D/mono.stream"
	assert_usage_failure tf-view
	[[ "$output" == *"no output"* ]]
	run tf-view -W 70 "$D/mono.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	run tf-view --height 40 "$D/mono.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	run tf-view --fmax 100 "$D/mono.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	run tf-view -W abc "$D/mono.stream" -o "$D/x.png"
	assert_usage_failure tf-view
	run tf-view "$D/nonexistent.stream" -o "$D/x.png"
	assert_clean_failure tf-view
	[ ! -e "$D/x.png" ]
}

@test "tf-view will not write a picture to a terminal" {
	run script -qec "tf-view -o - $D/mono.stream" /dev/null
	[[ "$output" == *"will not write a PNG picture to a terminal"* ]]
}
