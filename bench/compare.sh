#!/bin/sh
# make bench: tf-unet against the PyTorch reference, side by side, on the
# default 15.4M configuration with random weights. Per input shape, one
# tf-bench run measures tf-unet's forward pass, the whole tf-unet command
# and the reference's forward pass as rows of one table (so every speed
# claim is a ratio measured in one run), then the masks of tf-unet and the
# reference on the same input are compared.
#   bench/compare.sh [SHAPES...]      shapes as FxT, default 256x64 512x128 1025x259
# The reference is a local checkout of chynggi/TFSWA-UNet named by TFSWA_REF
# (not part of this repository: its licence forbids redistribution); without
# it only tf-unet is measured. THREADS (default 2, or a list such as 1,2) for
# both; BENCH_FLAGS go to tf-bench (default -r 3 -w 1; each reference run
# at 1025x259 takes minutes).
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
FLAGS=${BENCH_FLAGS:--r 3 -w 1}
PY=/usr/bin/python3
work=build/bench
mkdir -p "$work"
[ $# -gt 0 ] || set -- 256x64 512x128 1025x259

# bench SHAPE BASE [--ref-cmd ...]: the tf-bench table for one shape
bench() {
	shape=$1 base=$2
	shift 2
	# shellcheck disable=SC2086 # FLAGS is a list of options
	bin/tf-bench $FLAGS -t "$THREADS" --shape "1x2x$shape" "$base.bin" \
		--ref-cmd "tf-unet-command=bin/tf-unet -q --segment 0 --masks -j {threads} -m {model} $base.stream -o $base.ours.stream" \
		"$@"
}

for shape in "$@"; do
	F=${shape%x*} T=${shape#*x}
	nfft=$((2 * (F - 1))) hop=$(((F - 1) / 2))
	base=$work/default-$shape
	$PY bench/make_default.py "$base.pth" "$base.stream" "$base.npy" "$F" "$T"
	bin/tf-export --from pth "$base.pth" --n-fft $nfft --hop $hop --stems vocals,other -o "$base.bin"
	echo "## 1x2x$shape"
	echo
	if [ -z "${TFSWA_REF:-}" ]; then
		bench "$shape" "$base"
		continue
	fi
	bench "$shape" "$base" --ref-cmd \
		"reference=$PY bench/run_reference.py '$TFSWA_REF' $base.pth $base.npy $base.ref.npy {threads}"
	echo
	printf 'Largest difference between the masks of tf-unet and the reference on the same input: '
	$PY - "$base.ours.stream" "$base.ref.npy" <<'PYEOF'
import sys, msgpack, numpy as np
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
m = np.concatenate([np.frombuffer(f["data"], "<f4").reshape(f["shape"]) for f in fr[1:-1]], axis=-1)
r = np.load(sys.argv[2])[0]
d = np.abs(m.reshape(r.shape) - r)
print("%.2g at %s" % (d.max(), np.unravel_index(d.argmax(), d.shape)))
PYEOF
	echo
done
echo "tf-unet-command is the whole program (start, model load, stream in and out, forward pass);"
echo "the reference row is its forward pass alone, as it prints it (seconds: X)."
