#!/bin/sh
# The full quality table of a model on a MUSDB18-layout test split:
#
#   bench/quality.sh MODEL TEST OUT [START SECONDS]
#
# rows: the mixture (doing nothing), the best constant gain per stem (an
# oracle scalar, alpha = <s, m> / <m, m>: a model must beat it to show that
# it separates rather than only rescales), the model with each of tf-unet's
# --mask-norm choices (raw, sum1, power), and the oracle ratio mask;
# columns: median SDR (BSS Eval v4, museval) and median SI-SDR per stem over
# the tracks, and their mean over the stems. For the model rows it also
# prints how far the stems' sum is from the mixture (largest sample, of full
# scale). With START SECONDS every track is cut to that part first (saves
# time; OUT/test holds the cut). Trees and eval.json files stay in OUT.
set -e
[ $# -eq 3 ] || [ $# -eq 5 ] || { echo "usage: bench/quality.sh MODEL TEST OUT [START SECONDS]" >&2; exit 2; }
model=$1 test=$2 out=$3
here=$(dirname "$0") bin=$(dirname "$0")/../bin
norms=${TFSWA_NORMS:-"raw sum1 power"}
mkdir -p "$out"
info=$("$bin/tf-export" --info "$model")
nfft=$(echo "$info" | sed -n 's/^n_fft: //p') hop=$(echo "$info" | sed -n 's/^hop: //p')
stems=$(echo "$info" | sed -n 's/^stems: //p')
if [ $# -eq 5 ]; then
	/usr/bin/python3 "$here/oracle.py" --stems "$stems" "$test" "$out" "$nfft" "$hop" "$4" "$5" 2>/dev/null
	test=$out/test
else
	/usr/bin/python3 "$here/oracle.py" --stems "$stems" "$test" "$out" "$nfft" "$hop" 2>/dev/null
fi
for k in mixture gain irm; do
	"$bin/tf-eval" -q --json --musdb "$test" --est "$out/$k" > "$out/$k/eval.json"
done
for n in $norms; do
	"$here/eval_model.sh" "$model" "$test" "$out/model-$n" --mask-norm "$n" > /dev/null
done
/usr/bin/python3 - "$test" "$out" "$(basename "$model")" $norms <<'PY'
import json, os, struct, sys
import numpy as np
test, out, name, norms = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def wav(path):
    data = open(path, "rb").read()
    pos, ch, fmt, pcm = 12, 1, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt, ch = struct.unpack("<HH", data[pos + 8:pos + 12])
        elif cid == b"data":
            pcm = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    x = np.frombuffer(pcm, "<f4") if fmt in (3, 0xFFFE) else np.frombuffer(pcm, "<i2") / 32768.0
    return x.reshape(-1, ch)

rows = [("mixture (baseline)", "mixture"), ("best constant gain (oracle)", "gain")]
rows += [(f"{name}, --mask-norm {n}", f"model-{n}") for n in norms]
rows += [("oracle ratio mask", "irm")]
docs = {k: json.load(open(os.path.join(out, k, "eval.json"))) for _, k in rows}
order = ["vocals", "drums", "bass", "other", "accompaniment"]  # the README's order
stems = sorted(docs["mixture"]["median"], key=lambda s: (order.index(s) if s in order else len(order), s))
ntracks = min(v["tracks"] for v in docs["mixture"]["median"].values())
for metric, key in (("SDR", "SDR"), ("SI-SDR", "SI_SDR")):
    print(f"| {metric} (dB), {ntracks} tracks | " + " | ".join(stems) + " | mean |")
    print("|---|" + "---|" * (len(stems) + 1))
    for label, k in rows:
        v = [docs[k]["median"][s][key] for s in stems]
        v = [float("nan") if x is None else x for x in v]
        print(f"| {label} | " + " | ".join(f"{x:.2f}" for x in v) + f" | {np.mean(v):.2f} |")
    print()
for n in norms:
    worst = 0.0
    for t in sorted(os.listdir(test)):
        if not os.path.isfile(os.path.join(test, t, "mixture.wav")):
            continue
        mix = wav(os.path.join(test, t, "mixture.wav"))
        total = sum(wav(os.path.join(out, f"model-{n}", t, s + ".wav")) for s in stems)
        k = min(len(mix), len(total))
        worst = max(worst, float(np.max(np.abs(total[:k] - mix[:k]))))
    print(f"--mask-norm {n}: stems sum to the mixture within {worst:.2e} of full scale (largest sample)")
if "model-sum1" in docs:
    v = {s: docs["model-sum1"]["median"][s]["SDR"] for s in stems}
    if None not in v.values():
        args = " ".join(f"--provenance sdr.{s}={x:.2f}" for s, x in v.items())
        print(f"\nrecord the default's scores in the model (heldout: say which split and part):\n"
              f"tf-export --from tfswa --provenance heldout='...' --provenance sdr={np.mean(list(v.values())):.2f} "
              f"{args} MODEL -o MODEL")
PY
