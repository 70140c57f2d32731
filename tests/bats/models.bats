#!/usr/bin/env bats
# Models by name (lib/modelpath.c): -m NAME, $TFSWA_MODEL, $TFSWA_MODEL_PATH,
# tf-export --list, and the provenance keys of the model header.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	mkdir -p "$D/models"
	G="$BATS_TEST_DIRNAME/../data/golden"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 256 --hop 64 --stems vocals,other -o "$D/models/tiny.bin"
	make_wav "$D/mono.wav" 4000 1
}

@test "-m NAME finds NAME.bin on TFSWA_MODEL_PATH; the same stems as -m FILE" {
	tf-stft -m "$D/models/tiny.bin" "$D/mono.wav" > "$D/in.stream"
	tf-unet -q -m "$D/models/tiny.bin" "$D/in.stream" -o "$D/a.stream"
	TFSWA_MODEL_PATH="$D/nowhere:$D/models" tf-unet -q -m tiny "$D/in.stream" -o "$D/b.stream"
	cmp "$D/a.stream" "$D/b.stream"
	# TFSWA_MODEL when -m is absent, for tf-stft and tf-unet
	TFSWA_MODEL_PATH="$D/models" TFSWA_MODEL=tiny tf-stft "$D/mono.wav" > "$D/in2.stream"
	cmp "$D/in.stream" "$D/in2.stream"
	TFSWA_MODEL="$D/models/tiny.bin" tf-unet -q "$D/in.stream" -o "$D/c.stream"
	cmp "$D/a.stream" "$D/c.stream"
}

@test "the shipped model is found by name from the checkout" {
	run tf-export --info compact
	assert_success
	assert_line "stems: vocals,drums,bass,other"
}

@test "the shipped quantised models: their type, tf-quant in their provenance, their own scores, masks near f32's" {
	sox "$BATS_TEST_DIRNAME/../../examples/example.wav" "$D/ex3.wav" trim 0 3
	tf-stft -m compact "$D/ex3.wav" > "$D/ex3.stream"
	tf-unet -q --masks -m compact "$D/ex3.stream" -o "$D/f32.masks"
	# listed by name: compact, then its quantised versions
	run tf-export --list
	assert_line --index 1 --regexp "^compact +vocals,drums,bass,other .* f32 "
	assert_line --index 2 --regexp "^compact-f16 "
	assert_line --index 3 --regexp "^compact-q8s "
	# bounds from the measured differences (f16: max 0.043, mean 0.00025, none by more
	# than 0.05; q8s: max 0.87, mean 0.041, 21 % by more than 0.05, and q8 as much: the
	# grown model's int8 weights move its masks four times as much as step 4100's did,
	# for 0.06-0.08 dB of SDR on whole songs); a broken file moves them by a mean of 0.3
	params=$(tf-export --info compact | sed -n 's/^parameters: //p')
	for tb in "f16 0.06 0.001 0.001" "q8s 1.0 0.06 0.3"; do
		set -- $tb
		run tf-export --info compact-$1
		assert_success
		assert_line "quantization: $1"
		assert_line --regexp "^provenance.training: tf-train .*; then tf-quant -t $1"
		assert_line --regexp "^provenance.sdr: [0-9]+\.[0-9]+$"
		assert_line --regexp "^provenance.sdr.vocals: [0-9]+\.[0-9]+$"
		run tf-export --list
		assert_line --regexp "^compact-$1 +vocals,drums,bass,other +$params +[0-9.]+ MB $1 +[0-9]+\.[0-9]+ "
		tf-unet -q --masks -m compact-$1 "$D/ex3.stream" -o "$D/$1.masks"
		$PY - "$D/f32.masks" "$D/$1.masks" $2 $3 $4 <<-'EOF'
			import sys, msgpack, numpy as np
			def load(p):
			    fr = list(msgpack.Unpacker(open(p, 'rb'), raw=False))
			    return np.concatenate([np.frombuffer(f['data'], '<f4').reshape(f['shape']) for f in fr[1:-1]], axis=-1)
			a, b = load(sys.argv[1]), load(sys.argv[2])
			mx, mean, share = (float(x) for x in sys.argv[3:6])
			d = np.abs(a - b)
			i = np.unravel_index(d.argmax(), d.shape)
			print('%s masks [stem, channel, bin, frame] %s: max difference %.3g at %s, mean %.3g, %.2f %% by more than 0.05'
			      % (sys.argv[2], a.shape, d.max(), i, d.mean(), 100 * (d > 0.05).mean()))
			assert a.shape == b.shape and d.max() <= mx and d.mean() <= mean and (d > 0.05).mean() <= share
		EOF
	done
}

@test "an unknown name says where it was looked for; no model at all says how to give one" {
	run env TFSWA_MODEL_PATH="$D/models" tf-unet -m nosuch "$D/in.stream"
	assert_failure
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "tf-unet: nosuch: no such model file, and no model of that name in $D/models"
	run env -u TFSWA_MODEL tf-unet "$D/in.stream"
	assert_failure
	assert_output "tf-unet: no model given: use -m MODEL (a file or a name; tf-export --list) or set TFSWA_MODEL"
}

@test "--provenance is recorded in the header, shown by --info and --list, and leaves the weights alone" {
	tf-export --from tfswa --provenance "corpus=tf-corpus generator 2, seed 11" --provenance seed=11 \
		--provenance steps=300 --provenance heldout="test split" --provenance sdr=1.5 \
		--provenance sdr.vocals=3.25 "$D/models/tiny.bin" -o "$D/models/prov.bin"
	run tf-export --info "$D/models/prov.bin"
	assert_line "provenance.corpus: tf-corpus generator 2, seed 11"
	assert_line "provenance.seed: 11"
	assert_line "provenance.steps: 300"
	assert_line "provenance.heldout: test split"
	assert_line "provenance.sdr: 1.50"
	assert_line "provenance.sdr.vocals: 3.25"
	tf-unet -q --masks -m "$D/models/tiny.bin" "$D/in.stream" -o "$D/m1.stream"
	tf-unet -q --masks -m "$D/models/prov.bin" "$D/in.stream" -o "$D/m2.stream"
	cmp "$D/m1.stream" "$D/m2.stream"
	run env TFSWA_MODEL_PATH="$D/models" tf-export --list
	assert_success
	assert_line --index 0 --regexp "^name +stems +parameters +size +type +SDR +file"
	assert_line --regexp "^prov +vocals,other +[0-9]+ +[0-9.]+ MB f32 +1.50  $D/models/prov.bin"
	assert_line --regexp "^tiny +vocals,other .* f32 +-  $D/models/tiny.bin"
}

@test "--segment and --overlap give a model file new defaults, used as tf-unet's options would be" {
	tf-stft -m "$D/models/tiny.bin" "$D/mono.wav" > "$D/in.stream"
	tf-export "$D/models/tiny.bin" --segment 32 --overlap 8 -o "$D/cut.bin"
	run tf-export --info "$D/cut.bin"
	assert_line "segment: 32"
	assert_line "overlap: 8"
	tf-unet -q --masks -m "$D/models/tiny.bin" --segment 32 --overlap 8 "$D/in.stream" -o "$D/m1.stream"
	tf-unet -q --masks -m "$D/cut.bin" "$D/in.stream" -o "$D/m2.stream"
	cmp "$D/m1.stream" "$D/m2.stream"
	tf-unet -q --masks -m "$D/models/tiny.bin" "$D/in.stream" -o "$D/m0.stream"
	! cmp -s "$D/m0.stream" "$D/m2.stream"
	run tf-export --from tfswa "$D/models/tiny.bin" --overlap 20 --segment 32 -o "$D/bad.bin"
	assert_failure
	assert_output "tf-export: $D/models/tiny.bin: overlap 20 must be between 0 and half the segment (32)"
	[ ! -e "$D/bad.bin" ]
	run tf-export "$D/models/tiny.bin" --num-heads 1 -o "$D/bad.bin"
	assert_failure
	assert_output --partial "options other than --segment and --overlap do not apply"
	[ ! -e "$D/bad.bin" ]
	# a segment the network cannot run is refused, not written
	run tf-export "$D/models/tiny.bin" --segment 4 --overlap 0 -o "$D/bad.bin"
	assert_failure
	assert_output "tf-export: $D/models/tiny.bin: segment 4: at least 8 frames, or 0 for the whole input"
	[ ! -e "$D/bad.bin" ]
	# --segment alone: the overlap tf-unet --segment alone would use
	tf-export "$D/cut.bin" --segment 12 -o "$D/cut12.bin"
	run tf-export --info "$D/cut12.bin"
	assert_line "overlap: 3"
	tf-unet -q --masks -m "$D/cut.bin" --segment 12 "$D/in.stream" -o "$D/m3.stream"
	tf-unet -q --masks -m "$D/cut12.bin" "$D/in.stream" -o "$D/m4.stream"
	cmp "$D/m3.stream" "$D/m4.stream"
}

@test "bad --provenance: one line, nothing written" {
	run tf-export --from tfswa --provenance sdr.drums=1 "$D/models/tiny.bin" -o "$D/bad.bin"
	assert_failure
	assert_output 'tf-export: --provenance sdr.drums: the model has no stem "drums"'
	[ ! -e "$D/bad.bin" ]
	run tf-export --from tfswa --provenance colour=red "$D/models/tiny.bin" -o "$D/bad.bin"
	assert_failure
	[ ! -e "$D/bad.bin" ]
}

@test "tf-train records the corpus, its command line, seed and steps" {
	$PY "$BATS_TEST_DIRNAME/../tools/train_dataset.py" "$D/data" 2 1 1 4000
	printf 'generator 2\nseed 11\nseconds 1\nsoundfont /x/FluidR3_GM.sf2\n' > "$D/data/corpus.txt"
	echo '{"depths": [1, 1, 1, 0], "dims": [4, 4, 8, 8], "num_heads": 2, "window_size": 4, "shift_size": 2, "n_fft": 64, "hop": 32}' > "$D/micro.json"
	tf-train -q -j 1 --init "$D/micro.json" --seed 5 --steps 2 --segment-seconds 0.5 --batch 2 --valid 0 \
		-o "$D/trained.bin" "$D/data"
	run tf-export --info "$D/trained.bin"
	assert_line "provenance.corpus: tf-corpus generator 2, seed 11, 1 s songs (data); soundfonts FluidR3_GM"
	assert_line "provenance.training: tf-train --init $D/micro.json: batch 2, segments of 0.5 s, lr 0.001 (cosine), 2 steps planned, seed 5"
	assert_line "provenance.seed: 5"
	assert_line "provenance.steps: 2"
	# how to make the data again, not where it sat: no path of the directory
	[[ "$(tf-export --info "$D/trained.bin" | grep '^provenance.corpus')" != *"$D"* ]]
	# a directory without corpus.txt, named as "." from inside it: its name
	rm "$D/data/corpus.txt"
	(cd "$D/data" && tf-train -q -j 1 --init "$D/micro.json" --seed 5 --steps 1 --segment-seconds 0.5 \
		--batch 2 --valid 0 -o "$D/bare.bin" .)
	run tf-export --info "$D/bare.bin"
	assert_line "provenance.corpus: data (no corpus.txt)"
	refute_output --partial "$D/data"
	# trained further: its step appended, the scores of the model it started from dropped
	tf-export --from tfswa --provenance heldout=split --provenance sdr=1.5 "$D/trained.bin" -o "$D/scored.bin"
	(cd "$D/data" && tf-train -q -j 1 -m "$D/scored.bin" --steps 1 --segment-seconds 0.5 \
		--batch 2 --valid 0 -o "$D/tuned.bin" .)
	run tf-export --info "$D/tuned.bin"
	assert_line --regexp "^provenance.training: tf-train --init $D/micro.json: .*, seed 5; then tf-train -m $D/scored.bin: batch 2, .*"
	refute_line --partial "provenance.sdr"
	refute_line --partial "provenance.heldout"
}
