#!/usr/bin/env bats
# tf-quant: models with their weights in half precision, run by tf-unet with
# no extra option; refusals.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR" G="$BATS_TEST_DIRNAME/../data/golden" S="$BATS_TEST_DIRNAME/../tools/stream.py"
	tf-export --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" \
		--n-fft 62 --hop 16 --stems drums,bass,other,vocals -o "$D/m.bin"
	$PY "$S" spec 70 2 62 16 > "$D/in.stream"
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

@test "the default 15.4M configuration in f16: at most 51 % of the f32 file" {
	$PY bench/make_default.py "$D/default.pth" "$D/default.stream" "$D/default.npy" 64 16
	tf-export --from pth "$D/default.pth" -o "$D/default.bin"
	tf-quant -q -t f16 "$D/default.bin" > "$D/default-f16.bin"
	f32=$(stat -c %s "$D/default.bin") f16=$(stat -c %s "$D/default-f16.bin")
	echo "f32 $f32 bytes, f16 $f16 bytes"
	[ $((f16 * 100)) -le $((f32 * 51)) ]
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

@test "bad input: unknown type, planned type, no type, quantised twice, truncated, garbage" {
	run tf-quant -t q4 -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
	assert_output --partial "unknown type"
	run tf-quant -t q8 -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
	assert_output --partial "not written yet"
	run tf-quant -o "$D/x.bin" "$D/m.bin"
	assert_clean_failure tf-quant
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
