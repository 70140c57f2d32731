#!/bin/bash
# What the overlap between segments costs and buys, on a MUSDB18-layout test split:
#
#   bench/overlap.sh MODEL TEST OUT [START SECONDS] [OVERLAPS]
#
# for each overlap (frames; default "0 16 32 64") separates every
# TEST/<track>/mixture.wav with tf-unet --overlap N (-j 1, so that the CPU
# time is the work done and not other processes' load), scores the stems
# with tf-eval --musdb and prints one table row: museval median SDR per stem
# and their mean, and tf-unet's CPU time (user + system) for the split,
# also relative to the first overlap. With START SECONDS every track is cut
# to that part first (bench/oracle.py; OUT/test holds the cut). Each tf-stft
# stream is made once and reused. Trees and eval.json files stay in OUT.
set -e
[ $# -ge 3 ] || { echo "usage: bench/overlap.sh MODEL TEST OUT [START SECONDS] [OVERLAPS]" >&2; exit 2; }
model=$1 test=$2 out=$3
here=$(dirname "$0") bin=$(dirname "$0")/../bin
overlaps=${6:-"0 16 32 64"}
mkdir -p "$out/streams"
if [ $# -ge 5 ]; then
	info=$("$bin/tf-export" --info "$model")
	nfft=$(echo "$info" | sed -n 's/^n_fft: //p') hop=$(echo "$info" | sed -n 's/^hop: //p')
	/usr/bin/python3 "$here/oracle.py" "$test" "$out" "$nfft" "$hop" "$4" "$5" 2>/dev/null
	test=$out/test
fi
for d in "$test"/*/; do
	t=$(basename "$d")
	[ -f "$d/mixture.wav" ] && "$bin/tf-stft" -q -m "$model" "$d/mixture.wav" -o "$out/streams/$t.stream"
done
TIMEFORMAT=%U+%S
for n in $overlaps; do
	: > "$out/cpu-$n"
	for s in "$out"/streams/*.stream; do
		t=$(basename "$s" .stream)
		mkdir -p "$out/overlap-$n/$t"
		{ time "$bin/tf-unet" -q -j 1 -m "$model" --overlap "$n" "$s" -o "$out/sep.stream"; } 2>> "$out/cpu-$n"
		"$bin/tf-istft" -q -b 32f -o "$out/overlap-$n/$t/%s.wav" "$out/sep.stream"
	done
	rm -f "$out/sep.stream"
	"$bin/tf-eval" -q --json --musdb "$test" --est "$out/overlap-$n" > "$out/overlap-$n/eval.json"
done
/usr/bin/python3 - "$out" "$(basename "$model")" $overlaps <<'PY'
import json, os, sys
out, name, overlaps = sys.argv[1], sys.argv[2], sys.argv[3:]
order = ["vocals", "drums", "bass", "other", "accompaniment"]
cpu = {n: sum(eval(l) for l in open(os.path.join(out, f"cpu-{n}")) if l.strip()) for n in overlaps}
docs = {n: json.load(open(os.path.join(out, f"overlap-{n}", "eval.json"))) for n in overlaps}
med = docs[overlaps[0]]["median"]
stems = sorted(med, key=lambda s: (order.index(s) if s in order else len(order), s))
ntracks = min(v["tracks"] for v in med.values())
print(f"| {name}, --overlap (frames) | " + " | ".join(f"{s} SDR" for s in stems) +
      f" | mean SDR (dB), {ntracks} tracks | tf-unet CPU s | time vs {overlaps[0]} |")
print("|---|" + "---|" * (len(stems) + 3))
for n in overlaps:
    v = [docs[n]["median"][s]["SDR"] for s in stems]
    print(f"| {n} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {sum(v) / len(v):.3f} | {cpu[n]:.1f} | "
          f"{cpu[n] / cpu[overlaps[0]]:.2f}x |")
PY
