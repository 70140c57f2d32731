#!/bin/sh
# Scores a model on a MUSDB18-layout test split the way the README reports it:
#
#   bench/eval_model.sh MODEL TEST OUT [TF-UNET OPTIONS...]
#
# separates TEST/<track>/mixture.wav into OUT/<track>/<stem>.wav (float
# WAV) with tf-stft | tf-unet | tf-istft, then runs tf-eval --musdb (table
# in OUT/eval.txt, JSON in OUT/eval.json). Options after OUT go to tf-unet
# (e.g. --mask-norm raw). bench/oracle.py gives the mixture baseline, the
# best constant gain and the oracle ratio mask for the same split;
# bench/quality.sh prints them all in one table.
set -e
[ $# -ge 3 ] || { echo "usage: bench/eval_model.sh MODEL TEST OUT [TF-UNET OPTIONS...]" >&2; exit 2; }
model=$1 test=$2 out=$3
shift 3
bin=$(dirname "$0")/../bin
for d in "$test"/*/; do
	t=$(basename "$d")
	[ -f "$d/mixture.wav" ] || continue
	mkdir -p "$out/$t"
	"$bin/tf-stft" -m "$model" "$d/mixture.wav" | "$bin/tf-unet" -q -m "$model" "$@" |
		"$bin/tf-istft" -q -b 32f -o "$out/$t/%s.wav"
done
"$bin/tf-eval" -q --musdb "$test" --est "$out" > "$out/eval.txt"
"$bin/tf-eval" -q --json --musdb "$test" --est "$out" > "$out/eval.json"
tail -n 5 "$out/eval.txt"
