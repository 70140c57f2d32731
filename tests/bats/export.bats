#!/usr/bin/env bats
# tf-export: importing .pth and safetensors checkpoints, --info, settings,
# and clean refusals of every bad input.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	export G="$BATS_TEST_DIRNAME/../data/golden" I="$BATS_TEST_DIRNAME/../data/import"
}

# info_key FILE KEY: the value of "KEY: value" in tf-export --info FILE
info_key() {
	tf-export --info "$1" | sed -n "s/^$2: //p"
}

# json_key FILE KEY: a key of a JSON file, lists as a,b,c
json_key() {
	$PY -c "
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(','.join(map(str, v)) if isinstance(v, list) else v)" "$1" "$2"
}

# refused ARGS...: tf-export fails cleanly and leaves no output file; with
# STATUS=2 in the environment, as a bad command line
refused() {
	rm -f "$D/out.bin" "$D"/.out.bin.*
	run tf-export "$@" -o "$D/out.bin"
	if [ "${STATUS:-1}" = 2 ]; then assert_usage_failure tf-export; else assert_clean_failure tf-export; fi
	[ ! -e "$D/out.bin" ] || { echo "output file left behind"; return 1; }
	! ls "$D"/.out.bin.* >/dev/null 2>&1 || { echo "temp file left behind"; return 1; }
}

@test "tf-export --help and --version" {
	run tf-export --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: tf-export [--from pth|safetensors"* ]]
	[[ "$output" == *"--num-heads"* && "$output" == *"--window-size"* && "$output" == *"--info"* ]]
	run tf-export --version
	[ "$status" -eq 0 ]
	[[ "$output" == "tf-export (tfswa) "* ]]
}

@test "the goldens import with their config.json: architecture and parameter count" {
	for c in tiny-aligned tiny-ragged stereo-4stem; do
		stems=vocals,other
		[ "$c" = stereo-4stem ] && stems=drums,bass,other,vocals
		tf-export --from pth "$G/$c/model.pth" --config "$G/$c/config.json" --stems $stems -o "$D/$c.bin"
		tf-export --info "$D/$c.bin" > "$D/$c.info"
		cat "$D/$c.info"
		grep -qx "parameters: $(json_key "$G/$c/config.json" params)" "$D/$c.info"
		for k in in_channels out_channels depths dims num_heads window_size shift_size mlp_ratio; do
			want=$(json_key "$G/$c/config.json" $k)
			[ "$k" = mlp_ratio ] && want=${want%.0}
			grep -qx "$k: $want" "$D/$c.info" || { echo "$c: $k is not $want"; return 1; }
		done
		grep -qx "stems: $stems" "$D/$c.info"
		grep -qx "mask_shifted: false" "$D/$c.info"
	done
	grep -qx "channels: 2" "$D/stereo-4stem.info"
	grep -qx "tensors: 680" "$D/tiny-aligned.info"
}

@test "defaults: pipeline settings, and the window size an attn_mask shows" {
	tf-export --from pth "$G/tiny-aligned/model.pth" --num-heads 2 -o "$D/def.bin"
	run tf-export --info "$D/def.bin"
	[ "$status" -eq 0 ]
	for kv in "sample_rate: 44100" "n_fft: 2048" "hop: 512" "bins: 1025" "channels: 1" \
		"stems: vocals,other" "mlp_ratio: 4" "window_size: 4" "shift_size: 2" "segment: 256" "overlap: 64" \
		"normalization: none" "quantization: none" "kind: model"; do
		[[ "$output" == *"$kv"* ]] || { echo "missing: $kv"; return 1; }
	done
}

@test "options override --config; pipeline settings land in the model" {
	tf-export --from pth "$G/tiny-aligned/model.pth" --config "$G/tiny-aligned/config.json" \
		--num-heads 4 --stems voice,rest --sample-rate 48000 --n-fft 1024 --hop 256 \
		--segment 128 --overlap 16 --channels 1 --mask-shifted -o "$D/o.bin"
	run tf-export --info "$D/o.bin"
	for kv in "num_heads: 4" "stems: voice,rest" "sample_rate: 48000" "n_fft: 1024" "hop: 256" "bins: 513" \
		"segment: 128" "overlap: 16" "channels: 1" "mask_shifted: true" "window_size: 4"; do
		[[ "$output" == *"$kv"* ]] || { echo "missing: $kv"; return 1; }
	done
	# a config file may carry pipeline settings too; options still win
	printf '{"num_heads": 2, "mlp_ratio": 4.0, "n_fft": 512, "hop": 128, "stems": ["x", "y"]}\n' > "$D/c.json"
	tf-export --from pth "$G/tiny-aligned/model.pth" --config "$D/c.json" --hop 64 -o "$D/c.bin"
	[ "$(info_key "$D/c.bin" n_fft)" = 512 ]
	[ "$(info_key "$D/c.bin" hop)" = 64 ]
	[ "$(info_key "$D/c.bin" stems)" = x,y ]
	[ "$(info_key "$D/c.bin" num_heads)" = 2 ]
}

@test "stdin in, stdout out, and a pipe into --info" {
	tf-export --from pth - --config "$I/small.json" < "$I/small.pth" > "$D/a.bin"
	tf-export --from pth "$I/small.pth" --config "$I/small.json" -o "$D/b.bin"
	cmp "$D/a.bin" "$D/b.bin"
	run sh -c "tf-export --from pth '$I/small.pth' --config '$I/small.json' | tf-export --info"
	[ "$status" -eq 0 ]
	[[ "$output" == *"parameters: $(json_key "$I/small.json" params)"* ]]
	run sh -c "tf-export --info < '$D/a.bin'"
	[[ "$output" == *"in_channels: 4"* ]]
}

@test "safetensors, a training checkpoint and float16 give the same model file as the .pth" {
	tf-export --from pth "$I/small.pth" --config "$I/small.json" -o "$D/pth.bin"
	tf-export --from safetensors "$I/small.safetensors" --config "$I/small.json" -o "$D/st.bin"
	tf-export --from pth "$I/ckpt.pt" --config "$I/small.json" -o "$D/ckpt.bin"
	cmp "$D/pth.bin" "$D/st.bin"
	cmp "$D/pth.bin" "$D/ckpt.bin"
	tf-export --from pth "$I/small-f16-p4.pth" --config "$I/small.json" -o "$D/f16.bin"
	tf-export --from safetensors "$I/small-bf16.safetensors" --config "$I/small.json" -o "$D/bf16.bin"
	run $PY -c "
import msgpack, numpy as np
def load(p):
    fr = list(msgpack.Unpacker(open(p, 'rb'), raw=False))
    return {f['name']: np.frombuffer(f['data'], '<f4') for f in fr[1:-1]}
a, h, b = load('$D/pth.bin'), load('$D/f16.bin'), load('$D/bf16.bin')
assert a.keys() == h.keys() == b.keys()
for k in a:
    assert (a[k].astype(np.float16).astype(np.float32) == h[k]).all(), k
    assert np.abs(a[k] - b[k]).max() <= np.abs(a[k]).max() / 128, k
print(len(a), 'tensors')
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--flops with --info" {
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" -o "$D/r.bin"
	run tf-export --info "$D/r.bin" --flops 37x29
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^flops:\ [0-9]+\.[0-9]+$ ]]
	run tf-export --info "$D/r.bin" --flops 37
	assert_usage_failure tf-export
}

@test "foreign pickle globals are refused by name and never run" {
	rm -f /tmp/tfswa-pwned
	refused --from pth "$I/evil-system.pth"
	[[ "$output" == *"refusing pickle global posix.system"* ]]
	refused --from pth "$I/evil-eval.pth"
	[[ "$output" == *"refusing pickle global __builtin__.eval"* ]]
	refused --from pth "$I/module.pth"
	[[ "$output" == *"torch.nn.modules.linear.Linear"* ]]
	[ ! -e /tmp/tfswa-pwned ]
}

@test "tests/data/import/make_fixtures.py, run again, writes the committed fixtures byte for byte" {
	d="$BATS_TEST_TMPDIR"
	cp -r "$I" "$d/import"
	for c in tiny-aligned tiny-ragged stereo-4stem; do mkdir -p "$d/golden/$c" && cp "$G/$c/model.pth" "$d/golden/$c/"; done
	$PY "$d/import/make_fixtures.py" > /dev/null
	for f in "$I"/*; do cmp "$f" "$d/import/$(basename "$f")"; done
}

@test "--info describes a safetensors or pth checkpoint as far as the file says" {
	for f in small.safetensors small.pth; do
		run tf-export --info "$I/$f"
		assert_success
		assert_line "kind: ${f#small.} checkpoint"
		assert_line "tensors: 435"
		assert_line "architecture: in 4, out 4, depths 1,1,1,2, dims 2,4,4,4"
		assert_line "tensor: stem.0.weight f32 [2, 4, 7, 7]"
	done
	run tf-export --info "$I/readme.pth"
	assert_success
	assert_line --regexp '^parameters: [0-9]+$'
	run tf-export --info "$I/tiny.pth"
	assert_success
	assert_line --partial "architecture: not a TFSWA-UNet's"
	assert_line "tensor: c.half f16 [2]"
	head -c 3000 "$I/small.safetensors" > "$BATS_TEST_TMPDIR/cut.safetensors"
	run tf-export --info "$BATS_TEST_TMPDIR/cut.safetensors"
	assert_clean_failure tf-export
}

@test "other files that are not state_dicts are refused, saying what they are" {
	refused --from pth "$I/legacy.pth" # read (export-detect.bats), but {"a": ones(2)}
	[[ "$output" == *"not a TFSWA-UNet state_dict"* ]]
	refused --from pth "$I/scripted.pt"
	[[ "$output" == *"TorchScript"* ]]
	refused --from pth "$I/deflate.pth"
	[[ "$output" == *"compressed (deflate)"* ]]
	refused --from pth "$I/tiny.pth"
	[[ "$output" == *"no stem.0.weight"* ]]
	refused --from pth "$I/small.safetensors"
	[[ "$output" == *"safetensors file"* ]]
	refused --from safetensors "$I/small.pth"
	[[ "$output" == *"zip archive"* ]]
}

@test "truncated files and random bytes are refused cleanly" {
	size=$(stat -c %s "$I/small.pth")
	for n in 0 10 100 5000 $((size / 2)) $((size - 30)) $((size - 1)); do
		head -c $n "$I/small.pth" > "$D/cut.pth"
		refused --from pth "$D/cut.pth" --config "$I/small.json"
	done
	head -c 20000 "$I/small.safetensors" > "$D/cut.safetensors"
	refused --from safetensors "$D/cut.safetensors" --config "$I/small.json"
	[[ "$output" == *"runs past the end"* ]]
	head -c 60000 "$I/small.safetensors" > "$D/cut.safetensors"
	refused --from safetensors "$D/cut.safetensors" --config "$I/small.json"
	[[ "$output" == *"lie outside"* ]]
	$PY -c "import random, sys; r = random.Random(5); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(4096)))" > "$D/random.bin"
	refused --from pth "$D/random.bin"
	refused --from safetensors "$D/random.bin"
	refused --from pth - < "$D/random.bin"
	tf-export --from pth "$I/small.pth" --config "$I/small.json" -o "$D/whole.bin"
	head -c 3000 "$D/whole.bin" > "$D/cut.bin"
	run tf-export --info "$D/cut.bin"
	assert_clean_failure tf-export
}

@test "shapes, stems, mlp_ratio and heads that do not fit are explained" {
	refused --from safetensors "$I/badshape.safetensors" --config "$I/small.json"
	[[ "$output" == *"encoder_stages.0.0.tsa.attn.qkv.weight: got [12, 2], expected [6, 2]"* ]]
	refused --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json"
	[[ "$output" == *"8 output channels (masks), but 2 stems (vocals,other) x 2 audio channels make 4: give 4 stem names"* ]]
	refused --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" --stems a,b,c
	[[ "$output" == *"3 stems (a,b,c)"* ]]
	refused --from pth "$I/small.pth" --num-heads 2
	[[ "$output" == *"mlp_ratio should be 2"* ]]
	refused --from pth "$I/small.pth" --mlp-ratio 2
	[[ "$output" == *"num_heads"* ]]
	refused --from pth "$I/small.pth" --config "$I/small.json" --num-heads 3
	[[ "$output" == *"num_heads 3 does not divide"* ]]
	refused --from pth "$G/tiny-aligned/model.pth" --config "$G/tiny-aligned/config.json" --window-size 8
	[[ "$output" == *"attn_mask is for 4x4 windows"* ]]
	refused --from pth "$I/small.pth" --config "$I/small.json" --channels 1
	[[ "$output" == *"in_channels 2"* ]]
	refused --from pth "$G/tiny-aligned/model.pth" --config "$I/small.json"
	[[ "$output" == *"the config gives in_channels 4, but the weights have 2"* ]]
}

@test "bad options and settings: one line, exit 1 (2 for a bad command line), no output" {
	STATUS=2 refused --from pth "$I/small.pth" --no-such-option
	[[ "$output" == *"unknown option --no-such-option"* ]]
	STATUS=2 refused --from onnx "$I/small.pth"
	STATUS=2 refused --from pth "$I/small.pth" --config "$I/small.json" --to tflite
	[[ "$output" == *"--to tflite: unknown format (tfswa, safetensors, pth, onnx)"* ]]
	# without --from the format is told by the first bytes: this one needs its heads
	refused "$I/small.pth"
	[[ "$output" == *"give the checkpoint's num_heads"* ]]
	printf 'not a checkpoint' > "$D/junk.bin"
	refused "$D/junk.bin"
	[[ "$output" == *"give --from if it is one"* ]]
	STATUS=2 refused --from pth
	refused --from pth "$D/no-such-file.pth"
	[[ "$output" == *"no-such-file.pth"* ]]
	STATUS=2 refused --from pth "$I/small.pth" --num-heads zero
	STATUS=2 refused --from pth "$I/small.pth" --stems a,,b
	printf '{"num_heads": 2,' > "$D/bad.json"
	refused --from pth "$I/small.pth" --config "$D/bad.json"
	[[ "$output" == *"JSON at byte"* ]]
	printf '{"depths": "1,1,1,2"}' > "$D/bad.json"
	refused --from pth "$I/small.pth" --config "$D/bad.json"
	[[ "$output" == *'"depths" should be an array of 4 integers'* ]]
	run tf-export --info "$I/deflate.pth" # a checkpoint it cannot read (a readable one is described)
	assert_clean_failure tf-export
	run tf-export --info --num-heads 2 "$I/small.pth"
	assert_usage_failure tf-export
}

@test "a failed import leaves an existing -o file untouched" {
	echo keep > "$D/keep.bin"
	run tf-export --from pth "$I/evil-system.pth" -o "$D/keep.bin"
	[ "$status" -eq 1 ]
	[ "$(cat "$D/keep.bin")" = keep ]
}

@test "tf-export will not write a model to a terminal" {
	run script -qec "tf-export --from pth $I/small.pth --config $I/small.json" /dev/null
	[[ "$output" == *"will not write a binary model to a terminal"* ]]
}

@test "the default 15.4M configuration imports (random weights, saved by torch)" {
	$PY -c "
import sys, torch
sys.dont_write_bytecode = True
sys.path.insert(0, '$I')
from make_fixtures import small_state_dict, trainable
cfg = dict(in_channels=2, out_channels=2, depths=[2, 2, 6, 2], dims=[32, 64, 128, 256],
           window_size=8, shift_size=4, num_heads=8, mlp_ratio=4.0)
sd = small_state_dict(cfg, seed=3)
assert trainable(sd) == 15404834, trainable(sd)
for k in list(sd):
    sd[k] = sd[k].contiguous()
torch.save(sd, '$D/default.pth')
print(len(sd), 'entries')
"
	tf-export --from pth "$D/default.pth" -o "$D/default.bin"
	run tf-export --info "$D/default.bin"
	echo "$output"
	[[ "$output" == *"parameters: 15404834"* ]]
	[[ "$output" == *"tensors: 1040"* ]]
	[[ "$output" == *"depths: 2,2,6,2"* && "$output" == *"dims: 32,64,128,256"* ]]
	[[ "$output" == *"num_heads: 8"* && "$output" == *"window_size: 8"* && "$output" == *"shift_size: 4"* ]]
	rm -f "$D/default.pth" "$D/default.bin"
}
