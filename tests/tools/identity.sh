#!/bin/sh
# identity.sh [BIN]: sha256 sums of everything the network produces, to show
# that a refactoring changed no output byte. Run it before and after and
# compare:  sh tests/tools/identity.sh > /tmp/before.sha256 ... diff -u
#
# Covers: masks and stems of the three golden models (tests/data/golden) on a
# random spectrogram, of the shipped model (models/compact.bin) on
# examples/held-out/mixture.wav and of a default-configuration model (a small
# input), each as f32, f16, q8 and q8s, on 1 and 2 threads; tf-export's
# onnx (fixed and dynamic frames), pth and safetensors of the shipped and a
# golden model, and the models imported back; tf-export --info --flops;
# tf-train steps of a tiny network (1 and 2 threads, with checkpointing and
# with --qat), the model files. BIN defaults to ./bin. Needs python3 with
# numpy and msgpack (as the tests do). Takes a few minutes.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "${1:-$ROOT/bin}" && pwd)
PATH=$BIN:$PATH
G=$ROOT/tests/data/golden
S=$ROOT/tests/tools/stream.py
PY=${PY:-/usr/bin/python3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cd "$D"

sum() { for f in "$@"; do printf '%s %s\n' "$(sha256sum < "$f" | cut -c1-64)" "$f"; done; }

# models: name, import, input stream, calibration stream
tf-export --from pth "$G/tiny-aligned/model.pth" --config "$G/tiny-aligned/config.json" \
	--n-fft 62 --hop 16 -o tiny-aligned.bin
tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
	--n-fft 62 --hop 16 -o tiny-ragged.bin
tf-export --from pth "$G/stereo-4stem/model.pth" --config "$G/stereo-4stem/config.json" \
	--n-fft 62 --hop 16 --stems drums,bass,other,vocals -o stereo-4stem.bin
cp "$ROOT/models/compact.bin" shipped.bin
# the default configuration, initialised (tf-train --steps 0 would need data:
# one step on a tiny dataset at n_fft 2048 instead)
$PY "$ROOT/tests/tools/train_dataset.py" data 2 1 1 8000 >/dev/null
tf-train -q -j 2 --init default --seed 3 --segment-seconds 0.5 --batch 1 --valid 0 --steps 1 \
	--stems vocals,drums,bass,other -o default.bin data
sum tiny-aligned.bin tiny-ragged.bin stereo-4stem.bin default.bin

$PY "$S" spec 70 1 62 16 > mono62.stream
$PY "$S" spec 70 2 62 16 > stereo62.stream
$PY "$S" spec 16 2 2048 512 8000 8 > default.stream
tf-stft -q -m shipped.bin -o shipped.stream "$ROOT/examples/held-out/mixture.wav"
for m in tiny-aligned:mono62 tiny-ragged:mono62 stereo-4stem:stereo62 shipped:shipped default:default; do
	name=${m%%:*} in=${m#*:}.stream opt=
	# the default configuration: one 16-frame segment, not 256 padded frames
	[ $name = default ] && opt="--segment 0"
	tf-quant -q -t f16 -o $name.f16.bin $name.bin
	tf-quant -q -t q8 -o $name.q8.bin $name.bin
	tf-quant -q -t q8s --calibrate $in -o $name.q8s.bin $name.bin
	sum $name.f16.bin $name.q8.bin $name.q8s.bin
	for t in f32 f16 q8 q8s; do
		mf=$name.$t.bin
		[ $t = f32 ] && mf=$name.bin
		for j in 1 2; do
			tf-unet -q -j $j $opt -m $mf --masks -o $name.$t.j$j.masks $in
			tf-unet -q -j $j $opt -m $mf -o $name.$t.j$j.stems $in
			sum $name.$t.j$j.masks $name.$t.j$j.stems
		done
	done
	# whole-input segment (odd sizes through the network)
	tf-unet -q -j 2 -m $name.bin --segment 0 --masks -o $name.seg0.masks $in
	sum $name.seg0.masks
done

# export and import back
for name in shipped stereo-4stem; do
	tf-export --from tfswa --to onnx -o $name.onnx $name.bin
	tf-export --from tfswa --to onnx --dynamic-frames -o $name.dyn.onnx $name.bin
	tf-export --from tfswa --to pth -o $name.pth $name.bin
	tf-export --from tfswa --to safetensors -o $name.safetensors $name.bin
	tf-export --from safetensors -o $name.st.bin $name.safetensors
	sum $name.onnx $name.dyn.onnx $name.pth $name.safetensors $name.st.bin
done
tf-export --from tfswa --to onnx --shape 1x4x1025x16 -o default.onnx default.bin
sum default.onnx
for m in shipped default tiny-ragged stereo-4stem; do
	tf-export --info --flops 513x259 $m.bin > $m.info
	sum $m.info
done

# training: a tiny network with every level populated, fixed seed
cat > micro.json <<-'JSON'
	{"depths": [1, 2, 1, 1], "dims": [4, 4, 8, 8], "num_heads": 2, "window_size": 4,
	 "shift_size": 2, "n_fft": 64, "hop": 32}
JSON
$PY "$ROOT/tests/tools/train_dataset.py" tdata 3 1 1 4000 >/dev/null
for j in 1 2; do
	tf-train -q -j $j --init micro.json --seed 5 --segment-seconds 0.5 --batch 2 --valid 0 --steps 3 \
		-o train.j$j.bin tdata
	tf-train -q -j $j --init micro.json --seed 5 --segment-seconds 0.5 --batch 2 --valid 0 --steps 3 \
		--checkpoint -o train.ckpt.j$j.bin tdata
	tf-train -q -j $j --init micro.json --seed 5 --segment-seconds 0.5 --batch 2 --valid 0 --steps 3 \
		--qat -o train.qat.j$j.bin tdata
	sum train.j$j.bin train.ckpt.j$j.bin train.qat.j$j.bin
done
