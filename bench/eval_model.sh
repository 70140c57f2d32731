#!/bin/sh
# Scores a model on a MUSDB18-layout test split the way the README reports it:
#
#   bench/eval_model.sh MODEL TEST OUT
#
# separates TEST/<track>/mixture.wav into OUT/<track>/<stem>.wav with
# tf-stft | tf-unet | tf-istft, then runs tf-eval --musdb (table in
# OUT/eval.txt, JSON in OUT/eval.json). bench/oracle.py gives the mixture
# baseline and the oracle ratio mask for the same split.
set -e
[ $# -eq 3 ] || { echo "usage: bench/eval_model.sh MODEL TEST OUT" >&2; exit 2; }
model=$1 test=$2 out=$3
bin=$(dirname "$0")/../bin
for d in "$test"/*/; do
	t=$(basename "$d")
	[ -f "$d/mixture.wav" ] || continue
	mkdir -p "$out/$t"
	"$bin/tf-stft" -m "$model" "$d/mixture.wav" | "$bin/tf-unet" -q -m "$model" |
		"$bin/tf-istft" -o "$out/$t/%s.wav"
done
"$bin/tf-eval" -q --musdb "$test" --est "$out" > "$out/eval.txt"
"$bin/tf-eval" -q --json --musdb "$test" --est "$out" > "$out/eval.json"
tail -n 5 "$out/eval.txt"
