#!/bin/sh
# Speed and memory of tf-unet against the PyTorch reference, side by side in
# one run, on the default 15.4M configuration with random weights.
#   bench/compare.sh [SHAPES...]      shapes as FxT, default 256x64 512x128 1025x259
# The reference is a local checkout of chynggi/TFSWA-UNet named by TFSWA_REF
# (not part of this repository: its licence forbids redistribution); without
# it only tf-unet is measured. Threads: THREADS (default 2) for both.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
PY=/usr/bin/python3
work=build/bench
mkdir -p "$work"
[ $# -gt 0 ] || set -- 256x64 512x128 1025x259
echo "| input (1x2xFxT) | GFLOP | tf-unet s | tf-unet GFLOP/s | tf-unet peak RSS MB | reference s | reference peak RSS MB | speed-up | max abs diff of masks |"
echo "|---|---|---|---|---|---|---|---|---|"
for shape in "$@"; do
	F=${shape%x*} T=${shape#*x}
	nfft=$((2 * (F - 1))) hop=$(((F - 1) / 2))
	base=$work/default-$shape
	$PY bench/make_default.py "$base.pth" "$base.stream" "$base.npy" "$F" "$T"
	bin/tf-export --from pth "$base.pth" --n-fft $nfft --hop $hop --stems vocals,other -o "$base.bin"
	gflop=$(bin/tf-export --info "$base.bin" --flops "$F"x"$T" | sed -n 's/^flops: //p')
	/usr/bin/time -f '%e %M' -o "$base.ours.time" \
		bin/tf-unet -q -j "$THREADS" --segment 0 --masks -m "$base.bin" "$base.stream" -o "$base.ours.stream"
	read -r ours_s ours_kb <"$base.ours.time"
	ref_s=- ref_mb=- ratio=- diff=-
	if [ -n "${TFSWA_REF:-}" ]; then
		/usr/bin/time -f '%e %M' -o "$base.ref.time" \
			$PY bench/run_reference.py "$TFSWA_REF" "$base.pth" "$base.npy" "$base.ref.npy" "$THREADS" >"$base.ref.fwd"
		read -r _ ref_kb <"$base.ref.time"
		ref_s=$(cat "$base.ref.fwd")
		ref_mb=$((ref_kb / 1024))
		ratio=$(echo "$ref_s $ours_s" | awk '{printf "%.1fx", $1 / $2}')
		diff=$($PY - "$base.ours.stream" "$base.ref.npy" <<'PYEOF'
import sys, msgpack, numpy as np
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
m = np.concatenate([np.frombuffer(f["data"], "<f4").reshape(f["shape"]) for f in fr[1:-1]], axis=-1)
r = np.load(sys.argv[2])[0]
d = np.abs(m.reshape(r.shape) - r)
print("%.2g at %s" % (d.max(), np.unravel_index(d.argmax(), d.shape)))
PYEOF
)
	fi
	rate=$(echo "$gflop $ours_s" | awk '{printf "%.0f", $1 / $2}')
	echo "| $shape | $gflop | $ours_s | $rate | $((ours_kb / 1024)) | $ref_s | $ref_mb | $ratio | $diff |"
done
echo
echo "tf-unet: $(bin/tf-unet --version | tail -n 1); $THREADS threads; whole input as one segment (--segment 0);"
echo "times are wall-clock seconds of the whole command for tf-unet (load, stream, forward) and of the forward pass alone for the reference."
