#!/bin/sh
# Valgrind (memcheck) on one small pipeline run: tf-stft | tf-unet | tf-istft
# on 0.2 s of stereo audio with a small model, each program on its own
# under valgrind, one thread. Fails on any memcheck error or definite
# leak; "possibly lost" blocks are BLIS's memory pools (aligned pointers
# into blocks it keeps for the process's life) and are not counted.
# Usage: tests/valgrind.sh [BIN] (default bin; needs valgrind, sox, make all).
cd "$(dirname "$0")/.." || exit 2
B=${1:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
# set, so that the programs do not re-execute themselves (lib/threads.h)
# from under valgrind
export GOMP_SPINCOUNT=10000
sox -n -r 8000 -c 2 -b 16 "$tmp/in.wav" synth 0.2 sine 440 || exit 2
$B/tf-export --from pth tests/data/import/small.pth --config tests/data/import/small.json --sample-rate 8000 \
	--n-fft 30 --hop 8 --segment 16 --overlap 4 -o "$tmp/m.bin" || exit 2
vg() {
	name=$1
	shift
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite "$@" 2>"$tmp/$name.vg"
	rc=$?
	if [ $rc -eq 0 ] && ! [ -s "$tmp/$name.vg" ]; then
		echo "valgrind $name: no errors, no definite leaks"
	else
		echo "valgrind $name: exit $rc"
		head -n 40 "$tmp/$name.vg"
		fail=1
	fi
}
fail=0
vg tf-stft $B/tf-stft -q -m "$tmp/m.bin" -o "$tmp/spec.stream" "$tmp/in.wav"
vg tf-unet $B/tf-unet -q -m "$tmp/m.bin" -o "$tmp/stems.stream" "$tmp/spec.stream"
vg tf-istft $B/tf-istft -q -o "$tmp/out-%s.wav" "$tmp/stems.stream"
exit $fail
