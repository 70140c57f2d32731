#!/bin/sh
# make bench-quant: the int8 models against f32 on the default 15.4M
# configuration with random weights, at the seed's input 1x2x1025x259 (or
# the FxT given). One tf-bench run measures f32, q8 and q8s side by side
# (the speed-ups are ratios from that run; their runs taken in turn, so
# that the machine's load falls on all alike), a second one says where the
# time goes (--profile, CPU time by kind of work); then the masks of q8 and q8s on one input are
# compared with the f32 model's. q8s is calibrated on a different random
# stream of the same distribution as the input. bf16 is measured beside them.
#   bench/quant.sh [FxT]     THREADS (default 2); BENCH_FLAGS (default --runs 3 -w 1)
# BEFORE=DIR: the whole tf-unet command of each type run by another build's
# tf-unet (in DIR) and by this one, as rows of the side-by-side run.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
FLAGS=${BENCH_FLAGS:---runs 3 -w 1}
PY=/usr/bin/python3
shape=${1:-1025x259}
F=${shape%x*} T=${shape#*x}
nfft=$((2 * (F - 1))) hop=$(((F - 1) / 2))
work=build/bench
base=$work/quant-$shape
mkdir -p "$work"
$PY bench/make_default.py "$base.pth" "$base.stream" "$base.npy" "$F" "$T"
bin/tf-export --from pth "$base.pth" --n-fft $nfft --hop $hop --stems vocals,other -o "$base-f32.bin"
$PY tests/tools/stream.py spec "$T" 1 $nfft $hop > "$base.cal.stream"
bin/tf-quant -t q8 -o "$base-q8.bin" "$base-f32.bin"
bin/tf-quant -t q8s --calibrate "$base.cal.stream" -o "$base-q8s.bin" "$base-f32.bin"
bin/tf-quant -t bf16 -o "$base-bf16.bin" "$base-f32.bin"
echo
echo "## sizes"
echo
for t in f32 q8 q8s bf16; do
	s=$(stat -c %s "$base-$t.bin")
	echo "$t: $s bytes ($(($s * 1000 / $(stat -c %s "$base-f32.bin")))/1000 of f32)"
done
echo
echo "## 1x2x$shape, side by side"
echo
# shellcheck disable=SC2086 # FLAGS is a list of options
set --
if [ -n "${BEFORE:-}" ]; then
	for t in f32 q8 q8s; do
		set -- "$@" --ref-cmd "$t-before=$BEFORE/tf-unet -q --segment 0 --masks -j {threads} -m $base-$t.bin $base.stream -o $base.before.stream" \
			--ref-cmd "$t-after=bin/tf-unet -q --segment 0 --masks -j {threads} -m $base-$t.bin $base.stream -o $base.after.stream"
	done
fi
bin/tf-bench $FLAGS -j "$THREADS" --interleave --compare --shape "1x2x$shape" "$base-f32.bin" "$base-q8.bin" "$base-q8s.bin" \
	"$base-bf16.bin" "$@"
echo
echo "## where the time goes"
echo
bin/tf-bench --runs 1 -w 0 -j "$THREADS" --interleave --profile --shape "1x2x$shape" "$base-f32.bin" "$base-q8.bin" "$base-q8s.bin" \
	"$base-bf16.bin"
echo
echo "## masks against f32 (the same input)"
echo
for t in f32 q8 q8s bf16; do
	bin/tf-unet -q --masks --segment 0 -j "$THREADS" -m "$base-$t.bin" "$base.stream" -o "$base-$t.masks"
done
$PY - "$base-f32.masks" "$base-q8.masks" "$base-q8s.masks" "$base-bf16.masks" <<'PYEOF'
import sys, msgpack, numpy as np
def load(p):
    fr = list(msgpack.Unpacker(open(p, "rb"), raw=False))
    return np.concatenate([np.frombuffer(f["data"], "<f4").reshape(f["shape"]) for f in fr[1:-1]], axis=-1)
ref = load(sys.argv[1])
inside = ((ref > 0.01) & (ref < 0.99)).mean()
print("f32 masks strictly inside (0.01, 0.99): %.1f %%" % (100 * inside))
for name, p in zip(("q8", "q8s", "bf16"), sys.argv[2:]):
    d = np.abs(load(p) - ref)
    i = np.unravel_index(d.argmax(), d.shape)
    print("%s: max %.3g at [stem, channel, bin, frame] %s, mean %.3g, %.2f %% moved by more than 0.05"
          % (name, d.max(), i, d.mean(), 100 * (d > 0.05).mean()))
PYEOF
