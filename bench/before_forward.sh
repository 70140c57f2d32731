#!/bin/sh
# One timed forward pass by another build's tf-bench, as a tf-bench
# --ref-cmd row beside this build's (speed changes measured side by side,
# interleaved):
#   bin/tf-bench --interleave -m models/compact.bin -j 1,2 --runs 3 \
#       --ref-cmd "before=bench/before_forward.sh OLD/bin {model} {threads} {shape}"
# prints "seconds: X", the pass's time as the other build measured it
# (after its own warm-up run), which tf-bench takes as the row's time.
set -eu
[ $# -eq 4 ] || { echo "usage: before_forward.sh BINDIR MODEL THREADS SHAPE" >&2; exit 2; }
"$1/tf-bench" -m "$2" -j "$3" --shape "$4" --runs 1 --json |
	sed -n 's/.*"median_s": \([0-9.]*\).*/seconds: \1/p' | grep . ||
	{ echo "before_forward.sh: no time from $1/tf-bench" >&2; exit 1; }
