#!/usr/bin/env bats
# tf-export --to pth|safetensors: the reference's state_dict written back
# out, readable by torch.load and by a plain JSON + numpy reader, and round
# trips that give the same model file byte for byte.

load helpers

setup_file() {
	export D="$BATS_FILE_TMPDIR" G="$BATS_TEST_DIRNAME/../data/golden"
	for c in tiny-aligned tiny-ragged stereo-4stem; do
		st=""
		[ $c = stereo-4stem ] && st="--stems drums,bass,other,vocals"
		# shellcheck disable=SC2086
		tf-export --from pth "$G/$c/model.pth" --config "$G/$c/config.json" $st -o "$D/$c.bin"
	done
}

@test "pth and safetensors round trips give the same model file, byte for byte" {
	for c in tiny-aligned tiny-ragged stereo-4stem; do
		st=""
		[ $c = stereo-4stem ] && st="--stems drums,bass,other,vocals"
		tf-export --from tfswa "$D/$c.bin" --to pth -o "$D/$c.pth"
		tf-export --from tfswa "$D/$c.bin" --to safetensors -o "$D/$c.safetensors"
		# a .pth carries no settings: they are given again
		# shellcheck disable=SC2086
		tf-export --from pth "$D/$c.pth" --config "$G/$c/config.json" $st -o "$D/$c.pth.bin"
		# a tfswa safetensors file carries them in its metadata
		tf-export --from safetensors "$D/$c.safetensors" -o "$D/$c.st.bin"
		cmp "$D/$c.bin" "$D/$c.pth.bin"
		cmp "$D/$c.bin" "$D/$c.st.bin"
	done
}

@test "torch.load reads the .pth: the reference's keys in its order, every tensor equal" {
	for c in tiny-aligned tiny-ragged stereo-4stem; do
		tf-export --from tfswa "$D/$c.bin" --to pth > "$D/$c.pth"
		run $PY - "$G/$c/model.pth" "$D/$c.pth" <<-'EOF'
			import sys, torch
			orig, ours = torch.load(sys.argv[1]), torch.load(sys.argv[2])
			assert list(orig) == list(ours), "keys or order differ"
			for k, v in orig.items():
			    w = ours[k]
			    assert w.dtype == v.dtype and w.shape == v.shape, (k, w.dtype, v.dtype, w.shape, v.shape)
			    # training steps are not kept: written as 0
			    if not k.endswith("num_batches_tracked"):
			        assert torch.equal(v, w), k
			print(len(ours), "entries equal")
		EOF
		echo "$output"
		[ "$status" -eq 0 ]
	done
}

@test "the safetensors file reads with json and numpy alone" {
	tf-export --from tfswa "$D/tiny-ragged.bin" --to safetensors -o "$D/t.safetensors"
	run $PY - "$D/t.safetensors" "$G/tiny-ragged/model.pth" <<-'EOF'
		import json, struct, sys
		import numpy as np, torch
		b = open(sys.argv[1], "rb").read()
		n, = struct.unpack("<Q", b[:8])
		assert (8 + n) % 8 == 0
		h = json.loads(b[8:8 + n])
		meta = h.pop("__metadata__")
		cfg = json.loads(meta["tfswa.config"])
		assert cfg["stems"] == ["vocals", "other"] and cfg["window_size"] == 4, cfg
		data = b[8 + n:]
		orig = torch.load(sys.argv[2])
		assert list(h) == list(orig)
		for k, t in h.items():
		    a, e = t["data_offsets"]
		    x = np.frombuffer(data[a:e], {"F32": "<f4", "I64": "<i8"}[t["dtype"]]).reshape(t["shape"])
		    if not k.endswith("num_batches_tracked"):
		        assert np.array_equal(x, orig[k].numpy()), k
		print(len(h), "tensors")
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the default 15.4M configuration exports to a .pth torch loads, 1103 entries" {
	$PY bench/make_default.py "$D/default.pth" "$D/default.stream" "$D/default.npy" 64 16
	# the window as the exported attn_mask will tell it on the way back, so
	# that both models record the same assumed settings
	tf-export --from pth "$D/default.pth" --window-size 8 -o "$D/default.bin"
	tf-export --from tfswa "$D/default.bin" --to pth -o "$D/back.pth"
	run $PY -c "
import torch
a, b = torch.load('$D/default.pth'), torch.load('$D/back.pth')
extra = [k for k in b if k not in a]
missing = [k for k in a if k not in b]
print(len(b), 'entries; not in the original:', extra[:3], '; missing:', missing[:3])
assert len(b) == 1103 and all(k.endswith('attn_mask') for k in extra) and not missing
assert all(torch.equal(a[k], b[k]) for k in a if not k.endswith('num_batches_tracked'))
"
	echo "$output"
	[ "$status" -eq 0 ]
	tf-export --from pth "$D/back.pth" -o "$D/back.bin"
	cmp "$D/default.bin" "$D/back.bin"
}

@test "bad output formats and options: one line, exit 1 (2 for a bad command line), no file" {
	run tf-export --from tfswa "$D/tiny-ragged.bin" --to onnx2 -o "$D/x.out"
	assert_usage_failure tf-export
	assert_output --partial "--to onnx2: unknown format"
	[ ! -e "$D/x.out" ]
	run tf-export --from tfswa "$D/tiny-ragged.bin" --num-heads 2 --to pth -o "$D/x.out"
	assert_usage_failure tf-export
	[ ! -e "$D/x.out" ]
	head -c 3000 "$D/tiny-ragged.bin" > "$D/cut.bin"
	run tf-export --from tfswa "$D/cut.bin" --to pth -o "$D/x.out"
	assert_clean_failure tf-export
	assert_output --partial "truncated"
	[ ! -e "$D/x.out" ]
}
