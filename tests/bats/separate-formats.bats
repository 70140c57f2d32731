#!/usr/bin/env bats
# tf-separate's output options, passed through to tf-istft: -t, -b, -Q,
# --two-stems.

load helpers

setup() {
	G="$BATS_TEST_DIRNAME/../data/golden"
	cd "$BATS_TEST_TMPDIR"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 256 --hop 64 --stems vocals,other -o m.bin
	make_wav a.wav 8000 2
}

@test "-t flac -b 24: FLAC files, 24-bit, named .flac" {
	run tf-separate -m m.bin -t flac -b 24 "a.wav"
	[ "$status" -eq 0 ]
	[ "$(soxi -t separated/a/vocals.flac)" = flac ]
	[ "$(soxi -b separated/a/other.flac)" -eq 24 ]
	[ "$(soxi -s separated/a/other.flac)" -eq 8000 ]
	[ ! -e separated/a/vocals.wav ]
}

@test "--two-stems vocals: vocals and no_vocals, the same as the pipeline" {
	tf-stft -m m.bin a.wav | tf-unet -m m.bin | tf-istft --two-stems vocals -o 'ref-%s.wav'
	run tf-separate -m m.bin --two-stems vocals --filename '{track} {stem}.{ext}' -o 'o/x' a.wav
	[ "$status" -eq 0 ]
	cmp ref-vocals.wav "o/x/a vocals.wav"
	cmp ref-no_vocals.wav "o/x/a no_vocals.wav"
	[ "$(find o -type f | wc -l)" -eq 2 ]
}

@test "-t mp3, ogg, opus: files of that type, named after it, that read back" {
	for t in mp3 ogg opus; do
		run tf-separate -m m.bin -t $t -o out a.wav
		[ "$status" -eq 0 ]
		for s in vocals other; do
			[ -s out/a/$s.$t ]
			tf-stft out/a/$s.$t > /dev/null
		done
	done
}

@test "separate.mk TWO_STEMS=vocals FORMAT=ogg: vocals.ogg and no_vocals.ogg per track" {
	mkdir -p "in/x y"
	cp a.wav "in/x y/s;1.wav"
	run make -s -f "$BATS_TEST_DIRNAME/../../pipelines/separate.mk" IN=in OUT=out MODEL=m.bin \
		TWO_STEMS=vocals FORMAT=ogg
	[ "$status" -eq 0 ]
	[ "$(ls "out/x y/s;1")" = "$(printf 'no_vocals.ogg\nvocals.ogg')" ]
}
