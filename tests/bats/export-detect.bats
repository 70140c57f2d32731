#!/usr/bin/env bats
# tf-export without --from: the format told by the input's first bytes; the
# settings a checkpoint does not carry, named in one warning and recorded as
# "assumed"; checkpoints given where a model file belongs.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR" I="$BATS_TEST_DIRNAME/../data/import"
	tf-export --from pth "$I/small.pth" --config "$I/small.json" -o "$D/ref.bin" 2>/dev/null
}

@test "without --from, .pth, safetensors and model files are told apart, from files and pipes" {
	tf-export "$I/small.pth" --config "$I/small.json" -o "$D/a.bin" 2>/dev/null
	cmp "$D/ref.bin" "$D/a.bin"
	tf-export - --config "$I/small.json" < "$I/small.pth" > "$D/b.bin" 2>/dev/null
	cmp "$D/ref.bin" "$D/b.bin"
	tf-export --from safetensors "$I/small.safetensors" --config "$I/small.json" -o "$D/st-ref.bin" 2>/dev/null
	cat "$I/small.safetensors" | tf-export - --config "$I/small.json" > "$D/c.bin" 2>/dev/null
	cmp "$D/st-ref.bin" "$D/c.bin"
	# a model file, named or piped (read back through a memory file)
	tf-export "$D/ref.bin" --to safetensors -o "$D/d.safetensors"
	cat "$D/ref.bin" | tf-export - --to safetensors > "$D/e.safetensors"
	cmp "$D/d.safetensors" "$D/e.safetensors"
	tf-export "$D/d.safetensors" -o "$D/f.bin"
	cmp "$D/ref.bin" "$D/f.bin"
}

@test "what is neither in the checkpoint nor given: one warning naming each value, recorded" {
	run bash -c "tf-export '$I/small.pth' --config '$I/small.json' -o '$D/w.bin' 2>&1 >/dev/null"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "tf-export: warning: "*"assumed sample_rate 44100, n_fft 2048, hop 512, stems vocals,other"* ]]
	run tf-export --info "$D/w.bin"
	assert_line "assumed: sample_rate,n_fft,hop,stems"
	# given on the command line: nothing assumed, nothing said
	run bash -c "tf-export '$I/small.pth' --config '$I/small.json' --sample-rate 22050 --n-fft 1024 --hop 256 \
		--stems a,b -o '$D/g.bin' 2>&1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run tf-export --info "$D/g.bin"
	assert_line "assumed: none"
	# the heads, window and shift too when no config gives them
	run bash -c "tf-export '$I/small.pth' --num-heads 2 --mlp-ratio 2 -o '$D/h.bin' 2>&1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"assumed shift_size 2, sample_rate 44100"* ]]
	run tf-export --info "$D/h.bin"
	assert_line "assumed: shift_size,sample_rate,n_fft,hop,stems"
}

@test "a checkpoint where a model file belongs: named, with the command that imports it" {
	run tf-unet -m "$I/small.pth" < /dev/null
	assert_clean_failure tf-unet
	[[ "$output" == *"this is a PyTorch checkpoint, not a tfswa model: import it with tf-export --from pth $I/small.pth"* ]]
	run tf-export --info "$I/small.safetensors" # described instead (export.bats)
	assert_success
	assert_line "kind: safetensors checkpoint"
	run tf-quant -t f16 "$I/small.pth"
	assert_clean_failure tf-quant
	[[ "$output" == *"import it with tf-export --from pth"* ]]
}

@test "an input that is none of the three: refused, asking for --from" {
	printf 'hello, world\n' > "$D/text"
	run tf-export "$D/text" -o "$D/x.bin"
	assert_clean_failure tf-export
	[[ "$output" == *"not a checkpoint or model this reads"*"give --from"* ]]
	[ ! -e "$D/x.bin" ]
	run bash -c "cat '$D/text' | tf-export - > '$D/y.bin'"
	assert_clean_failure tf-export
}

@test "a legacy (non-zip) torch.save file: told by its first bytes, read as --from pth reads it" {
	# torch's own, {"a": torch.ones(2)}: described; not a TFSWA-UNet to convert
	run tf-export --info "$I/legacy.pth"
	assert_success
	assert_line "kind: legacy pth checkpoint"
	assert_line "tensor: a f32 [2]"
	assert_line --partial "architecture: not a TFSWA-UNet's"
	run tf-export --from pth "$I/legacy.pth" -o "$D/l0.bin"
	assert_clean_failure tf-export
	local want="$output"
	run tf-export "$I/legacy.pth" -o "$D/l1.bin"
	[ "$output" = "$want" ]
	[ ! -e "$D/l1.bin" ]
	# small.pth rewritten in the legacy layout (tests/tools/pth_legacy.py): the
	# same tensors, the same model, with --from or without, from a file or a pipe
	$PY "$BATS_TEST_DIRNAME/../tools/pth_legacy.py" "$I/small.pth" "$D/small-legacy.pth"
	[ "$(head -c 14 "$D/small-legacy.pth" | od -An -tx1 | tr -d ' \n')" = 80028a0a6cfc9c46f9206aa85019 ]
	diff <(tf-export --info "$I/small.pth" | sed 1d) <(tf-export --info "$D/small-legacy.pth" | sed 1d)
	tf-export --from pth "$D/small-legacy.pth" --config "$I/small.json" -o "$D/l2.bin" 2>/dev/null
	cmp "$D/ref.bin" "$D/l2.bin"
	tf-export "$D/small-legacy.pth" --config "$I/small.json" -o "$D/l3.bin" 2>/dev/null
	cmp "$D/ref.bin" "$D/l3.bin"
	tf-export - --config "$I/small.json" < "$D/small-legacy.pth" > "$D/l4.bin" 2>/dev/null
	cmp "$D/ref.bin" "$D/l4.bin"
	# where a model file belongs: the command that imports it
	run tf-unet -m "$D/small-legacy.pth" < /dev/null
	assert_clean_failure tf-unet
	[[ "$output" == *"this is a PyTorch checkpoint, not a tfswa model: import it with tf-export --from pth"* ]]
}

@test "a damaged legacy file: one line naming what is wrong, never a short result" {
	$PY "$BATS_TEST_DIRNAME/../tools/pth_legacy.py" "$I/small.pth" "$D/whole.pth"
	n=$(stat -c %s "$D/whole.pth")
	for cut in 20 200 3000 $((n - 5000)) $((n - 1)); do
		head -c $cut "$D/whole.pth" > "$D/cut.pth"
		run tf-export --info "$D/cut.pth"
		assert_clean_failure tf-export
		run tf-export "$D/cut.pth" --config "$I/small.json" -o "$D/cut.bin"
		assert_clean_failure tf-export
		[ ! -e "$D/cut.bin" ]
	done
	[[ "$output" == *"(truncated file?)"* ]]
	{ cat "$D/whole.pth"; printf 'x'; } > "$D/long.pth"
	run tf-export --info "$D/long.pth"
	assert_clean_failure tf-export
	[[ "$output" == *"1 byte after the last storage"* ]]
}
