#!/bin/sh
# Is tf-unet's default thread count ever slower than one thread? Times the
# default and -j 1 in turn, three runs each, on an idle machine and then
# with one core busy (a CPU hog beside it: a shell loop), and prints the
# medians and their ratio (above 1: the default is faster), with the FMA
# peak tf-bench measures on 1 and 2 threads first:
#
#   bench/busy.sh [MODEL [SECONDS [SAMPLE_RATE]]]    (default: compact, 30 s)
#
# The input is SECONDS of pink noise at the model's rate (or SAMPLE_RATE).
# Leave the machine otherwise idle while it runs (make bench-busy).
set -eu
cd "$(dirname "$0")/.."
model=${1:-compact} secs=${2:-30}
work=build/bench/busy
mkdir -p "$work"
rate=${3:-$(bin/tf-export --info "$model" | sed -n 's/^sample_rate: //p')}
chans=$(bin/tf-export --info "$model" | sed -n 's/^channels: //p')
sox -q -n -r "$rate" -c "$chans" -b 16 "$work/in.wav" synth "$secs" pinknoise vol 0.3
bin/tf-stft -m "$model" "$work/in.wav" > "$work/in.spec"
bin/tf-bench -v --runs 1 -w 0 -j 1,2 -m "$model" 2>&1 >/dev/null | sed -n 's/^tf-bench: \(FMA peak.*\)/\1/p'

# seconds of one tf-unet run with the given options
run() {
	s=$(date +%s.%N)
	bin/tf-unet -q -m "$model" "$@" < "$work/in.spec" > /dev/null
	awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", e - s }'
}
median() { sort -n | sed -n 2p; }

echo "| machine | default (s) | -j 1 (s) | -j 1 / default |"
echo "|---|---|---|---|"
for load in idle "one core busy"; do
	hog=
	if [ "$load" != idle ]; then
		sh -c 'while :; do :; done' &
		hog=$!
	fi
	: > "$work/d" && : > "$work/j1"
	for i in 1 2 3; do
		run >> "$work/d"
		run -j 1 >> "$work/j1"
	done
	[ -z "$hog" ] || kill "$hog"
	d=$(median < "$work/d") j=$(median < "$work/j1")
	echo "| $load | $d | $j | $(awk -v j="$j" -v d="$d" 'BEGIN { printf "%.2f", j / d }') |"
done
