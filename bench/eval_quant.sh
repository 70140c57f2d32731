#!/bin/sh
# SDR of a model's quantised versions against the f32 model on a
# MUSDB18-layout test split (the table in the README's "Smaller and faster
# models"):
#
#   bench/eval_quant.sh MODEL TEST CALIB.wav OUT [TYPES]
#
# makes OUT/<type>.bin for each type (default "f16 q8 q8s"; q8s is
# calibrated on the spectrogram of CALIB.wav, a training track), scores each
# with bench/eval_model.sh into OUT/<type>/, and prints the median SDR per
# stem and its change against f32, and the mean SI-SDR and its change (f32
# is scored too; a type whose OUT/<type>/eval.json exists is not scored again).
set -e
[ $# -ge 4 ] || { echo "usage: bench/eval_quant.sh MODEL TEST CALIB.wav OUT [TYPES]" >&2; exit 2; }
model=$1 test=$2 calib=$3 out=$4 types=${5:-"f16 q8 q8s"}
here=$(dirname "$0") bin=$(dirname "$0")/../bin
mkdir -p "$out"
cp "$model" "$out/f32.bin"
[ -f "$out/f32/eval.json" ] || "$here/eval_model.sh" "$model" "$test" "$out/f32" >/dev/null
for t in $types; do
	if [ "$t" = q8s ]; then
		"$bin/tf-stft" -m "$model" "$calib" > "$out/calib.stream"
		"$bin/tf-quant" -t q8s --calibrate "$out/calib.stream" -o "$out/$t.bin" "$model" 2>"$out/$t.report"
	else
		"$bin/tf-quant" -t "$t" -o "$out/$t.bin" "$model" 2>"$out/$t.report"
	fi
	[ -f "$out/$t/eval.json" ] || "$here/eval_model.sh" "$out/$t.bin" "$test" "$out/$t" >/dev/null
done
/usr/bin/python3 - "$out" f32 $types <<'PY'
import json, os, sys
out, kinds = sys.argv[1], sys.argv[2:]
def medians(k, metric):
    j = json.load(open(os.path.join(out, k, "eval.json")))
    return {stem: v[metric] for stem, v in sorted(j["median"].items())}
base = medians("f32", "SDR")
base_si = medians("f32", "SI_SDR")
mean = lambda m: sum(m.values()) / len(m)
print("| type | size | " + " | ".join(f"{s} SDR" for s in base) + " | mean | vs f32 | mean SI-SDR | vs f32 |")
print("|---" * (len(base) + 6) + "|")
for k in kinds:
    m, si = medians(k, "SDR"), medians(k, "SI_SDR")
    f = os.path.join(out, k + ".bin")
    size = os.path.getsize(f) if os.path.exists(f) else 0
    print(f"| {k} | {size/1e6:.2f} MB | " + " | ".join(f"{m[s]:.3f}" for s in base) +
          f" | {mean(m):.3f} | {mean(m) - mean(base):+.3f} dB | {mean(si):.3f} | {mean(si) - mean(base_si):+.3f} dB |")
PY
