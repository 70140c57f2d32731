#!/bin/sh
# Peak RSS of each program of the pipeline on a short and a long track: a
# streaming program's memory does not grow with the length of its input.
#   bench/streaming_rss.sh [SHORT_S LONG_S]     default 60 600 (1 and 10 minutes)
# Stereo pink noise at 44.1 kHz through tf-stft | tf-unet | tf-istft, each
# stage under /usr/bin/time, with a small model (tests/data/import/small.pth,
# n_fft 2048, hop 1024) so that ten minutes of audio take minutes, not hours:
# what is measured is memory against length, not the network's speed.
set -eu
cd "$(dirname "$0")/.."
short=${1:-60} long=${2:-600}
work=build/bench/streaming
mkdir -p "$work"
bin/tf-export --from pth tests/data/import/small.pth --config tests/data/import/small.json --hop 1024 \
	-o "$work/model.bin"
echo "| program | peak RSS MB, ${short} s | peak RSS MB, ${long} s | ratio |"
echo "|---|---|---|---|"
for secs in "$short" "$long"; do
	sox -n -r 44100 -c 2 -b 16 "$work/in-$secs.wav" synth "$secs" pinknoise vol 0.3
	# one stage at a time through files, so each is measured alone
	/usr/bin/time -f %M -o "$work/stft-$secs" bin/tf-stft -m "$work/model.bin" "$work/in-$secs.wav" \
		-o "$work/spec-$secs.stream"
	/usr/bin/time -f %M -o "$work/unet-$secs" bin/tf-unet -q -m "$work/model.bin" "$work/spec-$secs.stream" \
		-o "$work/stems-$secs.stream"
	/usr/bin/time -f %M -o "$work/istft-$secs" bin/tf-istft -q -b 32f "$work/stems-$secs.stream" \
		-o "$work/out-$secs-%s.wav"
	[ "$(soxi -s "$work/out-$secs-vocals.wav")" -eq $((secs * 44100)) ] ||
		{ echo "streaming_rss: wrong output length for $secs s" >&2; exit 1; }
	rm -f "$work/spec-$secs.stream" "$work/stems-$secs.stream" "$work/in-$secs.wav" "$work"/out-"$secs"-*.wav
done
for p in stft unet istft; do
	a=$(tail -n 1 "$work/$p-$short") b=$(tail -n 1 "$work/$p-$long")
	echo "| tf-$p | $(echo "$a" | awk '{printf "%.1f", $1 / 1024}') | $(echo "$b" | awk '{printf "%.1f", $1 / 1024}') | $(echo "$a $b" | awk '{printf "%.3f", $2 / $1}') |"
done
