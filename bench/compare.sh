#!/bin/sh
# make bench: tf-unet against the PyTorch reference and ONNX Runtime, side
# by side, on the default 15.4M configuration with random weights. Per input
# shape, one tf-bench run measures tf-unet's forward pass, the whole tf-unet
# command, ONNX Runtime's forward pass on the graph tf-export --to onnx
# writes, and the reference's forward pass as rows of one table (so every
# speed claim is a ratio measured in one run), then the masks of tf-unet and
# each comparator on the same input are compared.
#   bench/compare.sh [SHAPES...]      shapes as FxT, default 256x64 512x128 1025x259
# The reference is a local checkout of chynggi/TFSWA-UNet named by TFSWA_REF
# (not part of this repository: its licence forbids redistribution); without
# it only tf-unet and ONNX Runtime are measured. ONNX Runtime is npm
# onnxruntime-node (CPU), installed into build/ort by tools/ort.sh; ORT=0
# leaves it out. Its row is the time of one session.run after an untimed
# one in the same process (tests/tools/ort_run.js -w 1); its peak RSS is the
# whole node process's. THREADS (default 2, or a list such as 1,2) for
# both; BENCH_FLAGS go to tf-bench (default --runs 3 -w 1; each reference run
# at 1025x259 takes minutes).
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
FLAGS=${BENCH_FLAGS:---runs 3 -w 1}
PY=/usr/bin/python3
work=build/bench
mkdir -p "$work"
[ $# -gt 0 ] || set -- 256x64 512x128 1025x259

# bench SHAPE BASE [--ref-cmd ...]: the tf-bench table for one shape
bench() {
	shape=$1 base=$2
	shift 2
	[ -z "$ort_here" ] || set -- --ref-cmd \
		"onnxruntime=node tests/tools/ort_run.js -t {threads} -w 1 $base.onnx $base.npy $base.ort.npy" "$@"
	# BEFORE=DIR: the same command from another build's programs, a row beside
	[ -z "${BEFORE:-}" ] || set -- --ref-cmd \
		"tf-unet-command-before=$BEFORE/tf-unet -q --segment 0 --masks -j {threads} -m {model} $base.stream -o $base.before.stream" "$@"
	# shellcheck disable=SC2086 # FLAGS is a list of options
	bin/tf-bench $FLAGS -j "$THREADS" --shape "1x2x$shape" "$base.bin" \
		--ref-cmd "tf-unet-command=bin/tf-unet -q --segment 0 --masks -j {threads} -m {model} $base.stream -o $base.ours.stream" \
		"$@"
}

# masks_diff OURS.stream OTHER.npy: the largest difference and where
masks_diff() {
	$PY - "$1" "$2" <<'PYEOF'
import sys, msgpack, numpy as np
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
m = np.concatenate([np.frombuffer(f["data"], "<f4").reshape(f["shape"]) for f in fr[1:-1]], axis=-1)
r = np.load(sys.argv[2])[0]
d = np.abs(m.reshape(r.shape) - r)
print("%.2g at %s" % (d.max(), np.unravel_index(d.argmax(), d.shape)))
PYEOF
}

ort=""
if [ "${ORT:-1}" != 0 ]; then
	if sh tools/ort.sh >/dev/null; then
		ort=1
	else
		echo "ONNX Runtime could not be installed (tools/ort.sh): left out" >&2
	fi
fi

for shape in "$@"; do
	F=${shape%x*} T=${shape#*x}
	nfft=$((2 * (F - 1))) hop=$(((F - 1) / 2))
	base=$work/default-$shape
	$PY bench/make_default.py "$base.pth" "$base.stream" "$base.npy" "$F" "$T"
	bin/tf-export --from pth "$base.pth" --n-fft $nfft --hop $hop --stems vocals,other -o "$base.bin"
	# ONNX Runtime stores the attention scores and their softmax whole:
	# about 2 x 4 bytes x 8 heads x max(T F^2, F T^2) at the top level, twice
	# that in practice (4.3 GB at 512x128). Left out where that would not
	# fit in half the memory available (1025x259: about 35 GB).
	ort_here=$ort
	need_mb=$(( 128 * (T * F * F > F * T * T ? T * F * F : F * T * T) / 1048576 ))
	avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
	if [ -n "$ort" ] && [ "$need_mb" -gt $((avail_mb / 2)) ]; then
		echo "onnxruntime left out at 1x2x$shape: it would need about $need_mb MB, $avail_mb MB available" >&2
		ort_here=""
	fi
	[ -z "$ort_here" ] || bin/tf-export --from tfswa "$base.bin" --to onnx --shape "1x2x$shape" -o "$base.onnx"
	echo "## 1x2x$shape"
	echo
	if [ -z "${TFSWA_REF:-}" ]; then
		bench "$shape" "$base"
	else
		bench "$shape" "$base" --ref-cmd \
			"reference=$PY bench/run_reference.py '$TFSWA_REF' $base.pth $base.npy $base.ref.npy {threads}"
	fi
	echo
	if [ -n "$ort_here" ]; then
		printf 'Largest difference between the masks of tf-unet and ONNX Runtime on the same input: '
		masks_diff "$base.ours.stream" "$base.ort.npy"
	fi
	if [ -n "${TFSWA_REF:-}" ]; then
		printf 'Largest difference between the masks of tf-unet and the reference on the same input: '
		masks_diff "$base.ours.stream" "$base.ref.npy"
	fi
	echo
done
echo "tf-unet-command is the whole program (start, model load, stream in and out, forward pass);"
echo "the onnxruntime and reference rows are their forward passes alone, as they print them (seconds: X)."
echo "onnxruntime: npm onnxruntime-node 1.30.0 (CPU) on the graph of tf-export --to onnx."
