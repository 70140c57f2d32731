#!/bin/sh
# Trains candidate configurations side by side for the same CPU time each,
# one thread per candidate, so that a busy machine slows them alike:
#
#   bench/arch_sweep.sh CORPUS OUTDIR CPU_SECONDS CANDIDATE...
#
# A CANDIDATE is a named configuration (compact) or a JSON config file. Each
# writes OUTDIR/<name>.bin, .state, .csv and .log; when its process has used
# CPU_SECONDS of CPU time it gets SIGINT, which makes tf-train save both after
# the step under way. Score the models afterwards with bench/eval_model.sh;
# the training state lets the chosen one go on with `tf-train --resume`.
# Environment: TF_TRAIN (default bin/tf-train), TRAIN_ARGS (the shared
# settings; default below), NICE (default 10).
set -eu
[ $# -ge 4 ] || { echo "usage: $0 CORPUS OUTDIR CPU_SECONDS CANDIDATE..." >&2; exit 2; }
corpus=$1 out=$2 budget=$3
shift 3
train=${TF_TRAIN:-bin/tf-train}
args=${TRAIN_ARGS:---seed 1 --steps 6000 --warmup 30 --batch 4 --segment-seconds 1.5 --lr 2e-3 --epoch-steps 50 --valid 2 --valid-seconds 10}
mkdir -p "$out"
tick=$(getconf CLK_TCK)
pids=""
for c in "$@"; do
	name=$(basename "$c" .json)
	# shellcheck disable=SC2086
	nice -n "${NICE:-10}" "$train" --init "$c" $args -j 1 --log-every 10 \
		-o "$out/$name.bin" --state "$out/$name.state" --csv "$out/$name.csv" "$corpus" >"$out/$name.log" 2>&1 &
	pids="$pids $!"
	echo "$name: pid $!"
done
# the watcher: SIGINT each run once it has had its CPU time
alive=1
while [ $alive -eq 1 ]; do
	sleep 5
	alive=0
	for p in $pids; do
		[ -r /proc/$p/stat ] || continue
		alive=1
		# utime+stime are fields 14 and 15 (the name in field 2 has no spaces here)
		cpu=$(awk -v t="$tick" '{ printf "%d", ($14 + $15) / t }' /proc/$p/stat)
		if [ "$cpu" -ge "$budget" ] && [ ! -e "$out/.stopped.$p" ]; then
			kill -INT "$p" && touch "$out/.stopped.$p"
		fi
	done
done
wait || true
rm -f "$out"/.stopped.*
for c in "$@"; do
	name=$(basename "$c" .json)
	echo "== $name"; grep -Ei 'valid|sdr|step' "$out/$name.log" | tail -n 3
done
