#!/bin/sh
# Seed corpora for the fuzz targets, from real files: the import fixtures,
# the goldens' configs, and model files and streams that the programs in
# bin/ write (build them first: make all). Usage: seeds.sh DIR
set -u
cd "$(dirname "$0")/../.." || exit 2
out=${1:-build/fuzz/seeds}
I=tests/data/import
for t in stream specstream audio model pth safetensors config train_state; do
	rm -rf "$out/$t"
	mkdir -p "$out/$t"
done
# checkpoints: the small ones (and some that are refused, for their structure)
for f in tiny.pth ckpt-module.pt small.pth small-f16-p4.pth evil-system.pth module.pth legacy.pth deflate.pth scripted.pt; do
	cp "$I/$f" "$out/pth/"
done
# a legacy (non-zip) torch.save file of a whole state_dict
python3 tests/tools/pth_legacy.py "$I/small.pth" "$out/pth/small-legacy.pth" 2>/dev/null || rm -f "$out/pth/small-legacy.pth"
for f in small.safetensors small-bf16.safetensors badshape.safetensors; do
	cp "$I/$f" "$out/safetensors/"
done
printf '\070\000\000\000\000\000\000\000{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  \000\000\200\077\000\000\000\100' \
	> "$out/safetensors/tiny.safetensors"
cp "$I/small.json" "$out/config/"
for c in tests/data/golden/*/config.json; do
	cp "$c" "$out/config/$(basename "$(dirname "$c")").json"
done
# model files and streams written by the programs
if [ -x bin/tf-export ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	bin/tf-export --from pth "$I/small.pth" --config "$I/small.json" --sample-rate 8000 --n-fft 30 --hop 8 \
		--segment 16 --overlap 4 -o "$out/model/small.bin"
	head -c 4000 "$out/model/small.bin" > "$out/model/small-cut.bin"
	cp "$out/model/small.bin" "$out/stream/model.bin"
	G=tests/data/golden/tiny-ragged
	bin/tf-export --from pth $G/model.pth --config $G/config.json --sample-rate 8000 --n-fft 30 --hop 8 \
		--segment 16 --overlap 4 -o "$tmp/ragged.bin"
	if [ -x bin/tf-stft ] && command -v sox >/dev/null; then
		sox -n -r 8000 -c 1 -b 16 "$tmp/in.wav" synth 0.03 sine 440 2>/dev/null
		bin/tf-stft -q -m "$tmp/ragged.bin" --chunk 3 "$tmp/in.wav" > "$out/stream/spectrogram.stream"
		[ -x bin/tf-quant ] && bin/tf-quant -q -t q8s --calibrate "$out/stream/spectrogram.stream" \
			-o "$tmp/ragged-q8s.bin" "$tmp/ragged.bin"
		[ -x bin/tf-unet ] && bin/tf-unet -q -m "$tmp/ragged.bin" \
			"$out/stream/spectrogram.stream" > "$out/stream/stems.stream"
		[ -x bin/tf-unet ] && bin/tf-unet -q --masks -m "$tmp/ragged.bin" \
			"$out/stream/spectrogram.stream" > "$out/specstream/masks.stream"
		cp "$out/stream/spectrogram.stream" "$out/stream/stems.stream" "$out/specstream/" 2>/dev/null
	fi
fi
# audio in the formats libsndfile reads, small (the length matters little)
if command -v sox >/dev/null; then
	for f in wav:-b16 flac:-b16 aiff:-b16 au:-b8 wav:-b24 wav:-efloat; do
		ext=${f%%:*}
		sox -n -r 8000 -c 2 ${f#*:} "$out/audio/tone${f#*:}.$ext" synth 0.01 sine 440 2>/dev/null
	done
fi
# a training state: one step of a tiny network on a generated dataset; and
# a model as small as the architecture allows (dims 1), with its q8 and q8s
# versions: small inputs keep the model target fast
if [ -x bin/tf-train ] && [ -x /usr/bin/python3 ]; then
	ttmp=$(mktemp -d)
	trap 'rm -rf "${tmp:-}" "$ttmp"' EXIT
	/usr/bin/python3 tests/tools/train_dataset.py "$ttmp/data" 1 0 0.3 4000 &&
		printf '{"depths":[1,1,1,0],"dims":[2,2,2,2],"num_heads":1,"window_size":2,"shift_size":1,"n_fft":16,"hop":8}' \
			> "$ttmp/c.json" &&
		bin/tf-train -q -j 1 --init "$ttmp/c.json" --steps 1 --batch 1 --segment-seconds 0.1 --valid 0 \
			--state "$out/train_state/tiny.state" "$ttmp/data"
	[ -f "$out/train_state/tiny.state" ] && head -c 3000 "$out/train_state/tiny.state" > "$out/train_state/cut.state"
	printf '{"depths":[1,1,1,0],"dims":[1,1,1,1],"num_heads":1,"window_size":2,"shift_size":1,"mlp_ratio":1,"n_fft":16,"hop":8}' \
		> "$ttmp/c1.json" &&
		bin/tf-train -q -j 1 --init "$ttmp/c1.json" --steps 1 --batch 1 --segment-seconds 0.1 --valid 0 \
			-o "$out/model/dims1.bin" "$ttmp/data"
	if [ -f "$out/model/dims1.bin" ] && [ -x bin/tf-quant ] && [ -x bin/tf-stft ] && command -v sox >/dev/null; then
		bin/tf-quant -q -t q8 -o "$out/model/dims1-q8.bin" "$out/model/dims1.bin"
		sox -n -r 4000 -c 2 -b 16 "$ttmp/in2.wav" synth 0.05 sine 440 2>/dev/null
		bin/tf-stft -q -m "$out/model/dims1.bin" "$ttmp/in2.wav" > "$ttmp/in2.stream" &&
			bin/tf-quant -q -t q8s --calibrate "$ttmp/in2.stream" -o "$out/model/dims1-q8s.bin" "$out/model/dims1.bin"
	fi
fi
# the hostile ones, made from the valid ones above (tests/fuzz/hostile.py)
[ -x /usr/bin/python3 ] && /usr/bin/python3 tests/fuzz/hostile.py "$out"
exit 0
