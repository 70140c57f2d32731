#!/usr/bin/env bats
# tf-quant: models with their weights in half precision (f16, bf16) or int8 (q8, q8s),
# run by tf-unet with no extra option; refusals.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR" G="$BATS_TEST_DIRNAME/../data/golden" S="$BATS_TEST_DIRNAME/../tools/stream.py"
	tf-export --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" \
		--n-fft 62 --hop 16 --stems drums,bass,other,vocals -o "$D/m.bin"
	$PY "$S" spec 70 2 62 16 > "$D/in.stream"
	# calibration for q8s: other random spectrograms of the same shape
	$PY - "$D/cal.stream" <<-'EOF'
		import sys, msgpack, numpy as np
		rng = np.random.default_rng(99)
		with open(sys.argv[1], "wb") as f:
		    f.write(msgpack.packb({"tfswa": 1, "kind": "spectrogram", "sample_rate": 44100, "n_fft": 62,
		                           "hop": 16, "channels": 2}))
		    for _ in range(2):
		        a = (rng.standard_normal((2, 32, 40)) + 1j * rng.standard_normal((2, 32, 40))).astype("<c8")
		        f.write(msgpack.packb({"dtype": "c64", "shape": [2, 32, 40], "data": a.tobytes()}))
		    f.write(msgpack.packb({"end": True, "frames": 80}))
	EOF
}

# masks_diff A B MAX MEAN [FRACTION]: the largest and mean difference of two
# mask streams, where the largest is, and the share of masks that moved by
# more than 0.05; fails beyond the bounds.
masks_diff() {
	$PY -c "
import msgpack, numpy as np
def load(p):
    fr = list(msgpack.Unpacker(open(p, 'rb'), raw=False))
    return np.concatenate([np.frombuffer(f['data'], '<f4').reshape(f['shape']) for f in fr[1:-1]], axis=-1)
a, b = load('$1'), load('$2')
assert a.shape == b.shape, (a.shape, b.shape)
d = np.abs(a - b)
i = np.unravel_index(d.argmax(), d.shape)
frac = (d > 0.05).mean()
print('masks [stem, channel, bin, frame] %s: max difference %.3g at %s (%.4f vs %.4f), mean %.3g, '
      '%.2f %% moved by more than 0.05' % (a.shape, d.max(), i, a[i], b[i], d.mean(), 100 * frac))
assert d.max() <= $3 and d.mean() <= $4 and frac <= ${5:-1}, 'beyond the bounds $3 (max), $4 (mean), ${5:-1} (share)'
"
}

# frame_check MODEL PYTHON-EXPR: evaluates an assertion over the model's
# frames (fr: all of them, t: the tensor frames by name).
frame_check() {
	$PY -c "
import msgpack
fr = list(msgpack.Unpacker(open('$1', 'rb'), raw=False))
t = {f['name']: f for f in fr[1:-1]}
$2
"
}

@test "tf-quant --help and --version" {
	run tf-quant --help
	assert_success
	assert_output --partial "usage: tf-quant -t TYPE"
	run tf-quant --version
	assert_success
	assert_output --partial "tf-quant (tfswa)"
}

@test "f16: half the size, every weight matrix in f16, a report on stderr" {
	run tf-quant -t f16 -o "$D/h.bin" "$D/m.bin"
	assert_success
	assert_line --partial "tf-quant: f16: tensor data"
	assert_line --partial "kept in f32"
	f32=$(stat -c %s "$D/m.bin") f16=$(stat -c %s "$D/h.bin")
	echo "f32 $f32 bytes, f16 $f16 bytes"
	# this small model has a larger share of 1-D tensors and frame headers
	# than the default one (checked below at 51 %)
	[ $((f16 * 100)) -le $((f32 * 55)) ]
	[ "$(tf-export --info "$D/h.bin" | sed -n 's/^quantization: //p')" = f16 ]
	run $PY -c "
import msgpack
fr = list(msgpack.Unpacker(open('$D/h.bin', 'rb'), raw=False))
t = [f for f in fr[1:-1]]
bad = [f['name'] for f in t if (len(f['shape']) >= 2) != (f['dtype'] == 'f16')]
print(len(t), 'tensors;', 'wrong dtype:', bad[:3])
assert not bad and all(f['dtype'] in ('f16', 'f32') for f in t)
"
	echo "$output"
	assert_success
}

@test "the default 15.4M configuration in f16 and bf16: at most 51 % of the f32 file" {
	$PY bench/make_default.py "$D/default.pth" "$D/default.stream" "$D/default.npy" 64 16
	tf-export --from pth "$D/default.pth" -o "$D/default.bin"
	tf-quant -q -t f16 "$D/default.bin" > "$D/default-f16.bin"
	tf-quant -q -t bf16 "$D/default.bin" > "$D/default-bf16.bin"
	f32=$(stat -c %s "$D/default.bin") f16=$(stat -c %s "$D/default-f16.bin") bf16=$(stat -c %s "$D/default-bf16.bin")
	echo "f32 $f32 bytes, f16 $f16 bytes, bf16 $bf16 bytes"
	[ $((f16 * 100)) -le $((f32 * 51)) ] && [ $((bf16 * 100)) -le $((f32 * 51)) ]
}

@test "tf-unet runs the f16 model as it is; its masks are near the f32 ones" {
	tf-quant -q -t f16 < "$D/m.bin" > "$D/h.bin"
	tf-unet -q --masks -m "$D/m.bin" "$D/in.stream" -o "$D/a.stream"
	tf-unet -q --masks -m "$D/h.bin" "$D/in.stream" -o "$D/b.stream"
	run $PY -c "
import msgpack, numpy as np
def load(p):
    fr = list(msgpack.Unpacker(open(p, 'rb'), raw=False))
    return np.concatenate([np.frombuffer(f['data'], '<f4').reshape(f['shape']) for f in fr[1:-1]], axis=-1)
a, b = load('$D/a.stream'), load('$D/b.stream')
d = np.abs(a - b)
print('f16 vs f32 masks: max %.3g at %s' % (d.max(), np.unravel_index(d.argmax(), d.shape)))
# weights rounded at 2^-11 relative, through about 40 layers: 1e-2 at most
assert a.shape == b.shape and 0 < d.max() < 1e-2
"
	echo "$output"
	assert_success
}

@test "bad input: unknown type, no type, quantised twice, truncated, garbage" {
	run tf-quant -t q4 -o "$D/x.bin" "$D/m.bin"
	assert_usage_failure tf-quant
	assert_output --partial "unknown type"
	run tf-quant -o "$D/x.bin" "$D/m.bin"
	assert_usage_failure tf-quant
	tf-quant -q -t f16 -o "$D/h.bin" "$D/m.bin"
	run tf-quant -t f16 -o "$D/x.bin" "$D/h.bin"
	assert_clean_failure tf-quant
	assert_output --partial "already quantised (f16)"
	head -c 20000 "$D/m.bin" > "$D/cut.bin"
	run tf-quant -t f16 -o "$D/x.bin" "$D/cut.bin"
	assert_clean_failure tf-quant
	assert_output --partial "truncated"
	random_bytes "$D/junk.bin" 4000 5
	run tf-quant -t f16 -o "$D/x.bin" "$D/junk.bin"
	assert_clean_failure tf-quant
	[ ! -e "$D/x.bin" ]
}

@test "bf16: half the size, every weight matrix in bf16 (the top half of the f32 value, rounded to nearest even)" {
	run tf-quant -t bf16 -o "$D/b.bin" "$D/m.bin"
	assert_success
	assert_line --partial "tf-quant: bf16: tensor data"
	assert_line --partial "kept in f32"
	[ "$(tf-export --info "$D/b.bin" | sed -n 's/^quantization: //p')" = bf16 ]
	f32=$(stat -c %s "$D/m.bin") bf16=$(stat -c %s "$D/b.bin")
	echo "f32 $f32 bytes, bf16 $bf16 bytes"
	[ $((bf16 * 100)) -le $((f32 * 55)) ]
	run $PY -c "
import msgpack, numpy as np
a = {f['name']: f for f in list(msgpack.Unpacker(open('$D/m.bin', 'rb'), raw=False))[1:-1]}
b = {f['name']: f for f in list(msgpack.Unpacker(open('$D/b.bin', 'rb'), raw=False))[1:-1]}
assert sorted(a) == sorted(b)
bad = [n for n in b if (len(b[n]['shape']) >= 2) != (b[n]['dtype'] == 'bf16')]
assert not bad and all(f['dtype'] in ('bf16', 'f32') for f in b.values()), bad[:3]
# numpy rounding to nearest even on the 32-bit patterns, independently of C
worst = 0
for n, f in b.items():
    x = np.frombuffer(a[n]['data'], '<u4')
    if f['dtype'] == 'f32':
        assert f['data'] == a[n]['data'], n
        continue
    want = ((x + 0x7fff + ((x >> 16) & 1)) >> 16).astype('<u2')
    got = np.frombuffer(f['data'], '<u2')
    assert np.array_equal(got, want), (n, np.flatnonzero(got != want)[:5])
    y = (got.astype('<u4') << 16).view('<f4'); xf = x.view('<f4')
    worst = max(worst, float(np.max(np.abs(y - xf) / np.maximum(np.abs(xf), 1e-30))))
print(len(b), 'tensors; largest relative rounding error %.3g (half a unit in the last place: 2^-8 = %.3g)' % (worst, 2.0 ** -8))
assert worst <= 2.0 ** -8
"
	echo "$output"
	assert_success
}

@test "tf-unet runs the bf16 model as it is; its masks are near the f32 ones" {
	tf-quant -q -t bf16 < "$D/m.bin" > "$D/b.bin"
	tf-unet -q --masks -m "$D/m.bin" "$D/in.stream" -o "$D/a.stream"
	tf-unet -q --masks -m "$D/b.bin" "$D/in.stream" -o "$D/bb.stream"
	# weights rounded at 2^-8 relative (and on AVX512-BF16 the products'
	# inputs too), through about 40 layers
	run masks_diff "$D/bb.stream" "$D/a.stream" 0.05 0.005
	echo "bf16 vs f32: $output"
	assert_success
	! cmp -s "$D/bb.stream" "$D/a.stream"
	# from a pipe too
	tf-quant -q -t bf16 < "$D/m.bin" | tf-unet -q --masks -m - "$D/in.stream" -o "$D/bp.stream"
	cmp "$D/bb.stream" "$D/bp.stream"
}

@test "bf16: the AVX512-BF16 and plain C bf16 paths give the same masks bit for bit; f32 on the widened weights close" {
	tf-quant -q -t bf16 -o "$D/b.bin" "$D/m.bin"
	for p in scalar avx512bf16 f32; do
		TF_BGEMM=$p tf-unet -v --masks -m "$D/b.bin" "$D/in.stream" -o "$D/bp-$p.stream" 2> "$D/bp-$p.log"
		echo "$p: $(grep -o 'bf16 products [a-z0-9]*' "$D/bp-$p.log"); $(TF_BGEMM=$p tf-unet --version | grep kernels)"
	done
	grep -q "bf16 products scalar" "$D/bp-scalar.log"
	! grep -q "bf16 products" "$D/bp-f32.log"
	if grep -qw avx512_bf16 /proc/cpuinfo; then
		grep -q "bf16 products avx512bf16" "$D/bp-avx512bf16.log"
		cmp "$D/bp-scalar.stream" "$D/bp-avx512bf16.stream"
	else
		# a path this CPU lacks is not taken: it computes in f32, as TF_BGEMM=f32
		echo "this CPU has no AVX512-BF16: its path could not be compared with the plain twin here"
		! grep -q "bf16 products" "$D/bp-avx512bf16.log"
		cmp "$D/bp-avx512bf16.stream" "$D/bp-f32.stream"
	fi
	# in f32 the products' inputs are not rounded: other masks, as near f32's
	! cmp -s "$D/bp-scalar.stream" "$D/bp-f32.stream"
	tf-unet -q --masks -m "$D/m.bin" "$D/in.stream" -o "$D/a.stream"
	run masks_diff "$D/bp-f32.stream" "$D/a.stream" 0.05 0.005
	echo "bf16 computed in f32 vs f32: $output"
	assert_success
}

@test "tf-bench --interleave: f32 and bf16 side by side, bf16 products in the profile" {
	tf-quant -q -t bf16 -o "$D/b.bin" "$D/m.bin"
	run tf-bench --interleave --compare --profile -r 2 -w 1 --shape 1x4x32x40 "$D/m.bin" "$D/b.bin"
	assert_success
	echo "$output"
	assert_line --regexp '^\| b \| [0-9.]+ \([0-9.]+x\) \|$'
	assert_output --regexp "bf16 products (avx512bf16|f32)"
	if grep -qw avx512_bf16 /proc/cpuinfo; then
		assert_line --partial "| bf16 products |"
	fi
}

@test "damaged bf16 models: truncated, a tensor's data cut short, refused cleanly" {
	tf-quant -q -t bf16 -o "$D/b.bin" "$D/m.bin"
	head -c 100000 "$D/b.bin" > "$D/bcut.bin"
	run tf-unet -q --masks -m "$D/bcut.bin" "$D/in.stream" -o "$D/x.stream"
	assert_clean_failure tf-unet
	assert_output --partial "truncated"
	run tf-quant -t q8 -o "$D/x.bin" "$D/b.bin"
	assert_clean_failure tf-quant
	assert_output --partial "already quantised (bf16)"
	$PY -c "
import msgpack
fr = list(msgpack.Unpacker(open('$D/b.bin', 'rb'), raw=False))
f = [f for f in fr[1:-1] if f['dtype'] == 'bf16'][3]
f['data'] = f['data'][:-2]
open('$D/bshort.bin', 'wb').write(b''.join(msgpack.packb(f) for f in fr))
"
	run tf-unet -q --masks -m "$D/bshort.bin" "$D/in.stream" -o "$D/x.stream"
	assert_clean_failure tf-unet
	assert_output --partial "of bf16 needs"
	[ ! -e "$D/x.stream" ] && [ ! -e "$D/x.bin" ]
}

@test "q8: int8 weights with a scale per output channel, about a quarter of the size, a report" {
	run tf-quant -t q8 -o "$D/q8.bin" "$D/m.bin"
	assert_success
	echo "$output"
	assert_line --partial "tf-quant: q8: tensor data"
	assert_line --partial "kept in f32"
	assert_output --partial "mask head"
	assert_output --partial "in float: attention scores, softmax, LayerNorm"
	[ "$(tf-export --info "$D/q8.bin" | sed -n 's/^quantization: //p')" = q8 ]
	f32=$(stat -c %s "$D/m.bin") q8=$(stat -c %s "$D/q8.bin")
	echo "f32 $f32 bytes, q8 $q8 bytes"
	# a small model: 1-D tensors, scales and frame headers weigh more
	[ $((q8 * 100)) -le $((f32 * 35)) ]
	run frame_check "$D/q8.bin" "
import numpy as np
w = [n for n, f in t.items() if ':' not in n and len(f['shape']) >= 2]
i8 = [n for n in w if t[n]['dtype'] == 'i8']
kept = sorted(set(w) - set(i8))
print(len(i8), 'int8 tensors; weights kept in float:', kept)
assert kept == ['output_head.0.weight', 'output_head.3.weight', 'stem.0.weight'], kept
for n in i8:
    s, out = t[n + ':scale'], t[n]['shape'][1 if n.startswith('upsample_layers.') else 0]
    assert s['dtype'] == 'f32' and s['shape'] == [out], (n, s['shape'], out)
    q = np.frombuffer(t[n]['data'], 'i1')
    assert q.min() >= -127 and np.abs(q).max() == 127, (n, q.min(), q.max())
assert not [n for n in t if n.endswith(':act_scale')]
assert fr[-1]['tensors'] == len(t), (fr[-1]['tensors'], len(t))
"
	echo "$output"
	assert_success
}

@test "tf-unet runs a q8 model from a pipe; its masks are near the f32 ones" {
	tf-unet -q --masks -m "$D/m.bin" "$D/in.stream" -o "$D/a.stream"
	tf-quant -q -t q8 < "$D/m.bin" | tf-unet -q --masks -m - "$D/in.stream" -o "$D/q.stream"
	# random weights through ~20 int8 layers: measured max 0.08, mean 0.006
	run masks_diff "$D/q.stream" "$D/a.stream" 0.3 0.02
	echo "$output"
	assert_success
}

@test "q8: the VNNI, AVX2 and plain C int8 paths give the same masks bit for bit" {
	tf-quant -q -t q8 -o "$D/q8.bin" "$D/m.bin"
	for p in scalar avx2 vnni; do
		TF_QGEMM=$p tf-unet -q --masks -m "$D/q8.bin" "$D/in.stream" -o "$D/p-$p.stream"
		echo "$p: $(TF_QGEMM=$p tf-unet --version | grep kernels)"
	done
	cmp "$D/p-scalar.stream" "$D/p-avx2.stream"
	cmp "$D/p-scalar.stream" "$D/p-vnni.stream"
}

@test "q8s: calibrated input scales in the file; tf-unet uses them; masks near the f32 ones" {
	run tf-quant -v -t q8s --calibrate "$D/cal.stream" -o "$D/q8s.bin" "$D/m.bin"
	assert_success
	assert_output --partial "activation scales: MSE-optimal clip per layer"
	assert_output --partial "input scale"
	[ "$(tf-export --info "$D/q8s.bin" | sed -n 's/^quantization: //p')" = q8s ]
	run frame_check "$D/q8s.bin" "
import struct
a = {n: struct.unpack('<f', f['data'])[0] for n, f in t.items() if n.endswith(':act_scale')}
i8 = [n for n, f in t.items() if f['dtype'] == 'i8']
print(len(a), 'input scales for', len(i8), 'int8 tensors; range %.3g to %.3g' % (min(a.values()), max(a.values())))
assert sorted(a) == sorted(n + ':act_scale' for n in i8) and min(a.values()) >= 0 and max(a.values()) > 0
"
	echo "$output"
	assert_success
	tf-unet -q --masks -m "$D/m.bin" "$D/in.stream" -o "$D/a.stream"
	tf-unet -q --masks -m "$D/q8s.bin" "$D/in.stream" -o "$D/s.stream"
	run masks_diff "$D/s.stream" "$D/a.stream" 0.4 0.03
	echo "$output"
	assert_success
	# calibration does not depend on how the threads interleave
	OMP_NUM_THREADS=1 tf-quant -q -t q8s --calibrate "$D/cal.stream" -o "$D/q8s-1.bin" "$D/m.bin"
	cmp "$D/q8s.bin" "$D/q8s-1.bin"
	# static scales really are used: not the same masks as q8's
	tf-quant -q -t q8 -o "$D/q8.bin" "$D/m.bin"
	tf-unet -q --masks -m "$D/q8.bin" "$D/in.stream" -o "$D/q.stream"
	! cmp -s "$D/s.stream" "$D/q.stream"
}

@test "the default 15.4M configuration: q8 and q8s at most 27 % of the f32 file; masks near f32" {
	$PY bench/make_default.py "$D/def.pth" "$D/def.stream" "$D/def.npy" 64 24
	tf-export --from pth "$D/def.pth" --n-fft 126 --hop 31 -o "$D/def.bin"
	$PY "$S" spec 48 1 126 31 > "$D/defcal.stream"
	tf-quant -q -t q8 "$D/def.bin" > "$D/def-q8.bin"
	tf-quant -q -t q8s --calibrate "$D/defcal.stream" "$D/def.bin" > "$D/def-q8s.bin"
	f32=$(stat -c %s "$D/def.bin") q8=$(stat -c %s "$D/def-q8.bin") q8s=$(stat -c %s "$D/def-q8s.bin")
	echo "f32 $f32 bytes, q8 $q8 bytes ($((q8 * 1000 / f32)) per mille), q8s $q8s bytes ($((q8s * 1000 / f32)) per mille)"
	[ $((q8 * 100)) -le $((f32 * 27)) ] && [ $((q8s * 100)) -le $((f32 * 27)) ]
	for t in def def-q8 def-q8s; do
		tf-unet -q --masks --segment 0 -m "$D/$t.bin" "$D/def.stream" -o "$D/$t.masks"
	done
	# this random model's masks are 99 % saturated (within 0.01 of 0 or
	# 1); the few that are not sit on large logits and move most: by up to
	# 0.42 with only the weights rounded to int8 and computed in f32. So
	# the bounds are on the mean and on the share that moves.
	run masks_diff "$D/def-q8.masks" "$D/def.masks" 1 0.01 0.02
	echo "q8: $output"
	assert_success
	run masks_diff "$D/def-q8s.masks" "$D/def.masks" 1 0.01 0.02
	echo "q8s: $output"
	assert_success
}

@test "q8 and q8s refusals: twice, calibration missing or misplaced, bad calibration streams" {
	tf-quant -q -t q8 -o "$D/q8.bin" "$D/m.bin"
	for t in q8 q8s f16; do
		run tf-quant -t $t --calibrate "$D/cal.stream" -o "$D/x.bin" "$D/q8.bin"
		[ $t = q8s ] || { assert_usage_failure tf-quant; assert_output --partial "calibrate is for -t q8s"; continue; }
		assert_clean_failure tf-quant
		assert_output --partial "already quantised (q8)"
	done
	run tf-quant -t q8 -o "$D/x.bin" "$D/q8.bin"
	assert_clean_failure tf-quant
	assert_output --partial "already quantised (q8)"
	run tf-quant -t q8s -o "$D/x.bin" "$D/m.bin"
	assert_usage_failure tf-quant
	assert_output --partial "needs --calibrate"
	# a stream made for another model: 1 channel, n_fft 64
	$PY "$S" spec 40 1 64 16 > "$D/other.stream"
	run tf-quant -t q8s --calibrate "$D/other.stream" -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
	assert_output --partial "does not fit the model"
	head -c 9000 "$D/cal.stream" > "$D/cutcal.stream"
	run tf-quant -t q8s --calibrate "$D/cutcal.stream" -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
	assert_output --partial "truncated"
	tf-export --info "$D/m.bin" > /dev/null
	run tf-quant -t q8s --calibrate "$D/m.bin" -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
	assert_output --partial "spectrogram"
	run tf-quant -t q8s --calibrate "$D/nonexistent.stream" -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
	[ ! -e "$D/x.bin" ]
}

@test "damaged q8 models: truncated, a scale missing, a weight not int8, a bad scale" {
	tf-quant -q -t q8s --calibrate "$D/cal.stream" -o "$D/q8s.bin" "$D/m.bin"
	head -c 200000 "$D/q8s.bin" > "$D/cut.bin"
	run tf-unet -q --masks -m "$D/cut.bin" "$D/in.stream" -o "$D/x.stream"
	assert_clean_failure tf-unet
	assert_output --partial "truncated"
	run tf-quant -t q8 -o "$D/x.bin" "$D/cut.bin"
	assert_clean_failure tf-quant
	[ ! -e "$D/x.stream" ] && [ ! -e "$D/x.bin" ]
	# rewrite the model with one change each
	edit() {
		$PY -c "
import msgpack, struct, sys
fr = list(msgpack.Unpacker(open('$D/q8s.bin', 'rb'), raw=False))
n = '$n'
$1
open('$D/bad.bin', 'wb').write(b''.join(msgpack.packb(f) for f in fr))
"
		run tf-unet -q --masks -m "$D/bad.bin" "$D/in.stream" -o "$D/x.stream"
		assert_clean_failure tf-unet
		assert_output --partial "$2"
		[ ! -e "$D/x.stream" ]
	}
	n=encoder_stages.0.0.tsa.attn.qkv.weight
	edit "fr = [f for f in fr if f.get('name') != n + ':scale']" "missing tensor $n:scale"
	edit "fr = [f for f in fr if f.get('name') != n + ':act_scale']" "missing tensor $n:act_scale"
	edit "f = [f for f in fr if f.get('name') == n][0]; f['dtype'] = 'u8'" "$n: dtype u8, expected i8"
	edit "f = [f for f in fr if f.get('name') == n + ':scale'][0]; f['data'] = struct.pack('<f', float('nan')) + f['data'][4:]" "$n:scale: value nan"
	edit "f = [f for f in fr if f.get('name') == n + ':act_scale'][0]; f['data'] = struct.pack('<f', -1.0)" "not a non-negative finite scale"
	edit "f = [f for f in fr if f.get('name') == n + ':scale'][0]; f['shape'] = [5]; f['data'] = f['data'][:20]" "got f32 [5], expected f32 [48]"
	edit "fr[0]['quantization'] = 'q8'" "unexpected tensor encoder_stages.0.0.input_proj.0.weight:act_scale"
	edit "fr[0]['quantization'] = 'none'" "dtype i8 is not a float type"
}

@test "tf-bench --interleave: f32 and q8 measured in turn, a row and a ratio each" {
	tf-quant -q -t q8 -o "$D/q8.bin" "$D/m.bin"
	run tf-bench --interleave --compare --runs 2 -w 1 --shape 1x4x32x40 "$D/m.bin" "$D/q8.bin"
	assert_success
	echo "$output"
	assert_line --regexp '^\| m \| [0-9.]+ \(1\.00x\) \|$'
	assert_line --regexp '^\| q8 \| [0-9.]+ \([0-9.]+x\) \|$'
	assert_output --regexp "int8 products (vnni|avx2|scalar)"
	run tf-bench --interleave --profile --runs 1 -w 0 --shape 1x4x32x40 "$D/m.bin" "$D/q8.bin"
	assert_success
	assert_line --partial "| int8 products |"
	assert_line --partial "| quantising activations |"
	assert_line --partial "| float products (BLIS, smallgemm) |"
}

@test "a quantised model records tf-quant in provenance.training and drops the f32 model's scores" {
	tf-export --from tfswa --provenance "training=tf-train --init compact" --provenance steps=40 \
		--provenance heldout="test split" --provenance sdr=2.5 --provenance sdr.vocals=4.25 \
		"$D/m.bin" -o "$D/prov.bin"
	tf-quant -q -t f16 -o "$D/prov-f16.bin" "$D/prov.bin"
	run tf-export --info "$D/prov-f16.bin"
	assert_line "provenance.training: tf-train --init compact; then tf-quant -t f16"
	assert_line "provenance.steps: 40"
	refute_line --partial "provenance.sdr"
	refute_line --partial "provenance.heldout"
	tf-quant -q -t q8s --calibrate "$D/cal.stream" --calibrate "$D/cal.stream" -o "$D/prov-q8s.bin" "$D/prov.bin"
	run tf-export --info "$D/prov-q8s.bin"
	assert_line "provenance.training: tf-train --init compact; then tf-quant -t q8s, calibrated on 2 streams"
	# a model that records no training: the step alone
	tf-quant -q -t bf16 -o "$D/noprov-bf16.bin" "$D/m.bin"
	run tf-export --info "$D/noprov-bf16.bin"
	assert_line "provenance.training: tf-quant -t bf16"
}

@test "tf-export --from tfswa rewrites a quantised model in its own storage: every tensor's dtype and bytes kept" {
	tf-quant -q -t q8s --calibrate "$D/cal.stream" -o "$D/keep-q8s.bin" "$D/m.bin"
	for t in f16 bf16 q8 q8s; do
		[ -f "$D/keep-$t.bin" ] || tf-quant -q -t $t -o "$D/keep-$t.bin" "$D/m.bin"
		tf-export --from tfswa --provenance sdr=1.25 "$D/keep-$t.bin" -o "$D/kept-$t.bin"
		$PY - "$D/keep-$t.bin" "$D/kept-$t.bin" <<-'EOF'
			import sys, msgpack
			def tensors(p):
			    return [(f['name'], f['dtype'], f['shape'], f['data']) for f in msgpack.Unpacker(open(p, 'rb'), raw=False)
			            if 'data' in f]
			a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
			print(sys.argv[1], len(a), 'tensors:', sorted(set(t[1] for t in a)), '->', sorted(set(t[1] for t in b)))
			assert [t[:3] for t in a] == [t[:3] for t in b], 'names, dtypes or shapes changed'
			bad = [t[0] for t, u in zip(a, b) if t[3] != u[3]]
			assert not bad, 'data changed: %s' % bad[:5]
		EOF
		run tf-export --info "$D/kept-$t.bin"
		assert_line "quantization: $t"
		assert_line "provenance.sdr: 1.25"
	done
}
