#!/bin/sh
# Trains candidate configurations side by side for the same CPU time each,
# one thread per candidate, so that a busy machine slows them alike:
#
#   bench/arch_sweep.sh CORPUS OUTDIR CPU_SECONDS CANDIDATE...
#
# A CANDIDATE is a named configuration (compact) or a JSON config file. Each
# writes OUTDIR/<name>.bin, .state, .csv and .log, and OUTDIR/<name>.cpu, the
# CPU seconds it has had so far. A candidate whose state exists is resumed
# (tf-train --resume: exactly where it stopped), so a sweep longer than one
# sitting is run again with the same command and goes on; its CPU seconds
# add up. When a candidate has had CPU_SECONDS in all it gets SIGINT, which
# makes tf-train save model and state after the step under way. Compare the
# runs with their CSVs (validation SDR per stem every 50 steps) and score the
# models with bench/eval_model.sh; the chosen one goes on with
# `tf-train --resume`. Environment: TF_TRAIN (default bin/tf-train),
# TRAIN_ARGS (the shared settings of a new run; default below), NICE
# (default 10), SWEEP_POLL (seconds between the watcher's looks; default 5),
# SWEEP_LOG_EVERY (steps between the CSV's loss rows; default 10).
set -eu
[ $# -ge 4 ] || { echo "usage: $0 CORPUS OUTDIR CPU_SECONDS CANDIDATE..." >&2; exit 2; }
corpus=$1 out=$2 budget=$3
shift 3
train=${TF_TRAIN:-bin/tf-train}
args=${TRAIN_ARGS:---seed 1 --steps 6000 --warmup 30 --batch 4 --segment-seconds 1.5 --lr 2e-3 --epoch-steps 50 --valid 2 --valid-seconds 10}
mkdir -p "$out"
tick=$(getconf CLK_TCK)
pids="" names=""
for c in "$@"; do
	name=$(basename "$c" .json)
	[ -f "$out/$name.cpu" ] || echo 0 > "$out/$name.cpu"
	if [ "$(cat "$out/$name.cpu")" -ge "$budget" ]; then
		echo "$name: had its $budget CPU seconds"
		continue
	fi
	if [ -f "$out/$name.state" ]; then
		start="--resume $out/$name.state"
	else
		start="--init $c $args"
	fi
	# shellcheck disable=SC2086
	nice -n "${NICE:-10}" "$train" $start -j 1 --log-every "${SWEEP_LOG_EVERY:-10}" \
		-o "$out/$name.bin" --state "$out/$name.state" --csv "$out/$name.csv" "$corpus" >>"$out/$name.log" 2>&1 &
	echo "$name: pid $!, $(cat "$out/$name.cpu") CPU seconds before"
	pids="$pids $!" names="$names $name"
	echo "$(cat "$out/$name.cpu")" > "$out/.before.$!"
done
# the watcher: keeps each run's CPU total up to date, SIGINTs it at the budget
alive=1
while [ $alive -eq 1 ]; do
	sleep "${SWEEP_POLL:-5}"
	alive=0
	set -- $names
	for p in $pids; do
		name=$1
		shift
		[ -r /proc/$p/stat ] || continue
		alive=1
		# utime+stime are fields 14 and 15 (the name in field 2 has no spaces here)
		cpu=$(awk -v t="$tick" -v b="$(cat "$out/.before.$p")" '{ printf "%d", b + ($14 + $15) / t }' /proc/$p/stat)
		echo "$cpu" > "$out/$name.cpu"
		if [ "$cpu" -ge "$budget" ] && [ ! -e "$out/.stopped.$p" ]; then
			kill -INT "$p" && touch "$out/.stopped.$p"
		fi
	done
done
wait || true
rm -f "$out"/.stopped.* "$out"/.before.*
for name in $names; do
	echo "== $name: $(cat "$out/$name.cpu") CPU seconds"
	grep '^valid' "$out/$name.csv" | tail -n 1 || true
done
