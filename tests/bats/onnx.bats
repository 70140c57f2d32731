#!/usr/bin/env bats
# tf-export --to onnx: the ONNX model passes onnx's checker and strict shape
# inference, and ONNX Runtime (npm onnxruntime-node, CPU; tools/ort.sh) runs
# it to the masks tf-unet computes on the same input, within 1e-4, on the
# golden networks (tiny-ragged: padding, odd downsampling, the bilinear
# resize; stereo-4stem: batch 2), an f16 model and a Swin-masked one.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR" G="$BATS_TEST_DIRNAME/../data/golden"
	export RUN="$BATS_TEST_DIRNAME/../tools/ort_run.js"
	TFSWA_ORT=$(sh "$BATS_TEST_DIRNAME/../../tools/ort.sh")
	export TFSWA_ORT
	for c in tiny-aligned tiny-ragged stereo-4stem; do
		st=""
		[ $c = stereo-4stem ] && st="--stems drums,bass,other,vocals"
		# n_fft so that the bins are the golden input's H: tf-unet takes it as a spectrogram
		H=$($PY -c "import numpy as np; print(np.load('$G/$c/input.npy').shape[2])")
		# shellcheck disable=SC2086
		tf-export --from pth "$G/$c/model.pth" --config "$G/$c/config.json" $st \
			--n-fft $((2 * (H - 1))) --hop 16 -o "$D/$c.bin"
	done
}

# shape_of NPY: its shape as BxCxHxW
shape_of() {
	$PY -c "import numpy as np; print('x'.join(map(str, np.load('$1').shape)))"
}

# check_onnx MODEL: onnx's full checker and strict shape inference accept it
check_onnx() {
	$PY - "$1" <<-'EOF'
		import sys, onnx
		m = onnx.load(sys.argv[1])
		onnx.checker.check_model(m, full_check=True)
		onnx.shape_inference.infer_shapes(m, strict_mode=True)
		names = [t.name for t in m.graph.initializer]
		assert len(names) == len(set(names)), "an initializer twice"
		print("checker and strict shape inference: ok;", len(m.graph.node), "nodes,", len(names), "initializers,",
		      "opset", m.opset_import[0].version)
	EOF
}

# tf_unet_masks MODEL IN.npy OUT.npy: tf-unet --masks on every batch item of
# a network input [B, 2ch, H, W] given as a spectrogram (real parts, then
# imaginary parts), as [B, out_channels, H, W]
tf_unet_masks() {
	local model=$1 x=$2 out=$3 b B
	B=$($PY -c "import numpy as np; print(np.load('$x').shape[0])")
	for ((b = 0; b < B; b++)); do
		$PY - "$x" "$b" <<-'EOF' > "$D/item$b.stream"
			import sys, msgpack, numpy as np
			x = np.load(sys.argv[1])[int(sys.argv[2])]
			ch, H, W = x.shape[0] // 2, x.shape[1], x.shape[2]
			spec = (x[:ch] + 1j * x[ch:]).astype("<c8")
			out = sys.stdout.buffer
			out.write(msgpack.packb({"tfswa": 1, "kind": "spectrogram", "sample_rate": 44100,
			                         "n_fft": 2 * (H - 1), "hop": 16, "channels": ch}))
			out.write(msgpack.packb({"dtype": "c64", "shape": [ch, H, W], "data": spec.tobytes()}))
			out.write(msgpack.packb({"end": True, "frames": W, "samples": (W - 1) * 16}))
		EOF
		tf-unet -q --masks --segment 0 -m "$model" "$D/item$b.stream" -o "$D/item$b.masks" || return 1
		$PY "$STREAM_PY" cat "$D/item$b.masks" > "$D/item$b.npy" || return 1
	done
	$PY - "$out" "$B" "$D" <<-'EOF'
		import sys, numpy as np
		out, B, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		m = [np.load("%s/item%d.npy" % (d, b)) for b in range(B)]  # [stems, ch, H, W] each
		np.save(out, np.stack([a.reshape(-1, *a.shape[2:]) for a in m]))
	EOF
}

# compare A.npy B.npy TOL WHAT: same shape, largest difference (and where) within TOL
compare() {
	$PY - "$1" "$2" "$3" "$4" <<-'EOF'
		import sys, numpy as np
		a, b, tol, what = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
		assert a.shape == b.shape, (what, a.shape, b.shape)
		d = np.abs(a.astype(np.float64) - b)
		at = np.unravel_index(d.argmax(), d.shape)
		print("%s: largest difference %.3g at %s (%.7g vs %.7g), tolerance %g"
		      % (what, d.max(), at, a[at], b[at], tol))
		assert np.isfinite(a).all() and d.max() <= tol
	EOF
}

# ort_vs_tf_unet MODEL.bin X.npy NAME: export at X's shape, check, run both
ort_vs_tf_unet() {
	local model=$1 x=$2 name=$3
	tf-export --from tfswa "$model" --to onnx --shape "$(shape_of "$x")" -o "$D/$name.onnx" || return 1
	check_onnx "$D/$name.onnx" || return 1
	node "$RUN" "$D/$name.onnx" "$x" "$D/$name.ort.npy" || return 1
	tf_unet_masks "$model" "$x" "$D/$name.ours.npy" || return 1
	compare "$D/$name.ort.npy" "$D/$name.ours.npy" 1e-4 "$name: ONNX Runtime vs tf-unet"
}

@test "tiny-aligned: ONNX Runtime's masks are tf-unet's and the reference's within 1e-4" {
	run ort_vs_tf_unet "$D/tiny-aligned.bin" "$G/tiny-aligned/input.npy" tiny-aligned
	echo "$output"
	[ "$status" -eq 0 ]
	run compare "$D/tiny-aligned.ort.npy" "$G/tiny-aligned/output.npy" 1e-4 "ONNX Runtime vs PyTorch reference"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "tiny-ragged (37x29: window padding, odd downsampling, bilinear resize) within 1e-4" {
	run ort_vs_tf_unet "$D/tiny-ragged.bin" "$G/tiny-ragged/input.npy" tiny-ragged
	echo "$output"
	[ "$status" -eq 0 ]
	# the graph has the resize and the window padding
	$PY -c "
import onnx
ops = {n.op_type for n in onnx.load('$D/tiny-ragged.onnx').graph.node}
assert {'Resize', 'Pad', 'ConvTranspose', 'LayerNormalization', 'Erf', 'Softmax'} <= ops, ops
assert 'BatchNormalization' not in ops
"
	run compare "$D/tiny-ragged.ort.npy" "$G/tiny-ragged/output.npy" 1e-4 "ONNX Runtime vs PyTorch reference"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "stereo-4stem, batch 2: 4 inputs, 8 masks, within 1e-4" {
	run ort_vs_tf_unet "$D/stereo-4stem.bin" "$G/stereo-4stem/input.npy" stereo-4stem
	echo "$output"
	[ "$status" -eq 0 ]
	run compare "$D/stereo-4stem.ort.npy" "$G/stereo-4stem/output.npy" 1e-4 "ONNX Runtime vs PyTorch reference"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "an f16 model exports as a float graph of its dequantised weights and runs" {
	tf-quant -t f16 < "$D/tiny-ragged.bin" > "$D/f16.bin" 2>/dev/null
	run ort_vs_tf_unet "$D/f16.bin" "$G/tiny-ragged/input.npy" f16
	echo "$output"
	[ "$status" -eq 0 ]
	run $PY -c "
import onnx
m = onnx.load('$D/f16.onnx')
meta = {p.key: p.value for p in m.metadata_props}
types = {t.data_type for t in m.graph.initializer}
print('quantization', meta['tfswa.quantization'], 'initializer types', types)
assert meta['tfswa.quantization'] == 'f16' and types <= {1, 7}
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a model with the Swin mask in shifted windows: ONNX Runtime agrees with tf-unet" {
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" --mask-shifted \
		--n-fft 72 --hop 16 -o "$D/masked.bin"
	run ort_vs_tf_unet "$D/masked.bin" "$G/tiny-ragged/input.npy" masked
	echo "$output"
	[ "$status" -eq 0 ]
	# and the mask matters: the unmasked model's masks differ
	run compare "$D/masked.ort.npy" "$D/tiny-ragged.ort.npy" 1e-4 "masked vs unmasked"
	echo "$output"
	[ "$status" -ne 0 ]
}

@test "--dynamic-frames: one graph runs at any number of frames, each as tf-unet does" {
	tf-export --from tfswa "$D/tiny-ragged.bin" --to onnx --shape 37x29 --dynamic-frames -o "$D/dyn.onnx"
	run check_onnx "$D/dyn.onnx"
	echo "$output"
	[ "$status" -eq 0 ]
	run $PY -c "
import onnx
g = onnx.load('$D/dyn.onnx').graph
dim = lambda d: d.dim_param or d.dim_value
print([dim(d) for d in g.input[0].type.tensor_type.shape.dim], [dim(d) for d in g.output[0].type.tensor_type.shape.dim])
assert [dim(d) for d in g.input[0].type.tensor_type.shape.dim] == [1, 2, 37, 'frames']
assert [dim(d) for d in g.output[0].type.tensor_type.shape.dim] == [1, 2, 37, 'frames']
"
	echo "$output"
	[ "$status" -eq 0 ]
	# 8: the smallest; 13, 29: window padding and odd sizes; 40: none of that at level 0
	for T in 8 13 29 40; do
		$PY -c "import numpy as np; np.save('$D/x$T.npy', np.random.default_rng($T).standard_normal((1, 2, 37, $T)).astype('f4'))"
		node "$RUN" "$D/dyn.onnx" "$D/x$T.npy" "$D/dyn$T.npy"
		tf_unet_masks "$D/tiny-ragged.bin" "$D/x$T.npy" "$D/ours$T.npy"
		run compare "$D/dyn$T.npy" "$D/ours$T.npy" 1e-4 "$T frames: ONNX Runtime vs tf-unet"
		echo "$output"
		[ "$status" -eq 0 ]
	done
	# a Swin-masked model needs a fixed number of frames
	run tf-export --from tfswa "$D/masked.bin" --to onnx --dynamic-frames -o "$D/x.onnx"
	assert_clean_failure tf-export
	assert_output --partial "needs a fixed number of frames"
	[ ! -e "$D/x.onnx" ]
}

@test "without --shape: one segment of the model's spectrogram, 1 x C x bins x segment" {
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 62 --hop 16 --segment 24 -o "$D/seg.bin"
	tf-export --from tfswa "$D/seg.bin" --to onnx > "$D/seg.onnx"
	run $PY -c "
import onnx
g = onnx.load('$D/seg.onnx').graph
dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
print(g.input[0].name, dims(g.input[0]), g.output[0].name, dims(g.output[0]))
assert dims(g.input[0]) == [1, 2, 32, 24] and dims(g.output[0]) == [1, 2, 32, 24]
assert g.input[0].name == 'spec' and g.output[0].name == 'masks'
"
	echo "$output"
	[ "$status" -eq 0 ]
	# FxT: batch 1 and the model's channels
	tf-export --from tfswa "$D/seg.bin" --to onnx --shape 40x9 -o "$D/ft.onnx"
	run $PY -c "
import onnx
g = onnx.load('$D/ft.onnx').graph
print([d.dim_value for d in g.input[0].type.tensor_type.shape.dim])
assert [d.dim_value for d in g.input[0].type.tensor_type.shape.dim] == [1, 2, 40, 9]
"
	[ "$status" -eq 0 ]
}

@test "the default 15.4M model: about the size of its weights, every weight once" {
	$PY bench/make_default.py "$D/default.pth" "$D/default.stream" "$D/default.npy" 64 16
	tf-export --from pth "$D/default.pth" -o "$D/default.bin"
	tf-export --from tfswa "$D/default.bin" --to onnx --shape 1x2x64x16 -o "$D/default.onnx"
	run $PY - "$D/default.onnx" "$D/default.bin" <<-'EOF'
		import os, sys, onnx, numpy as np
		m = onnx.load(sys.argv[1])
		onnx.checker.check_model(m, full_check=True)
		floats = sum(int(np.prod(t.dims)) for t in m.graph.initializer if t.data_type == 1)
		size, model = os.path.getsize(sys.argv[1]), os.path.getsize(sys.argv[2])
		print("onnx %d bytes, float32 initializers %d bytes, model file %d bytes" % (size, 4 * floats, model))
		# BatchNorm is folded: 15,393,641 floats (15,404,834 trainable, less the BN affine pairs)
		assert 15_300_000 < floats < 15_404_834
		assert size < 4 * floats * 1.01 and size < model * 1.01
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "bad --shape, too small a shape, a truncated model: one line, exit 1 (2 for a bad value), no file" {
	for bad in 1x2x37 axb 1x2x0x29 1x2x37x29x1 ""; do
		run tf-export --from tfswa "$D/tiny-ragged.bin" --to onnx --shape "$bad" -o "$D/x.onnx"
		assert_usage_failure tf-export
		assert_output --partial "--shape"
		[ ! -e "$D/x.onnx" ]
	done
	run tf-export --from tfswa "$D/tiny-ragged.bin" --to onnx --shape 1x2x7x29 -o "$D/x.onnx"
	assert_clean_failure tf-export
	assert_output --partial "smaller than the network's minimum 8 x 8"
	[ ! -e "$D/x.onnx" ]
	run tf-export --from tfswa "$D/tiny-ragged.bin" --to onnx --shape 1x4x37x29 -o "$D/x.onnx"
	assert_clean_failure tf-export
	assert_output --partial "the model takes 2"
	[ ! -e "$D/x.onnx" ]
	run tf-export --from tfswa "$D/tiny-ragged.bin" --to pth --shape 1x2x37x29 -o "$D/x.onnx"
	assert_usage_failure tf-export
	assert_output --partial "--shape goes with --to onnx"
	[ ! -e "$D/x.onnx" ]
	head -c 30000 "$D/tiny-ragged.bin" > "$D/cut.bin"
	run tf-export --from tfswa "$D/cut.bin" --to onnx --shape 1x2x37x29 -o "$D/x.onnx"
	assert_clean_failure tf-export
	assert_output --partial "truncated"
	[ ! -e "$D/x.onnx" ]
	# a model without a segment length needs --shape
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" --segment 0 -o "$D/noseg.bin"
	run tf-export --from tfswa "$D/noseg.bin" --to onnx -o "$D/x.onnx"
	assert_clean_failure tf-export
	assert_output --partial "give --shape"
	[ ! -e "$D/x.onnx" ]
	run tf-export --from tfswa "$D/tiny-ragged.bin" --dynamic-frames -o "$D/x.onnx"
	assert_usage_failure tf-export
	assert_output --partial "--dynamic-frames goes with --to onnx"
	[ ! -e "$D/x.onnx" ]
}
