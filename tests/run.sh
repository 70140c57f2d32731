#!/bin/sh
# Runs every C unit test given as an argument, a short fuzz run of every fuzz
# target, then the bats suites, and prints one closing line
# "N passed, N failed" covering them all. PROGDIR: where the programs are
# (default bin); with SANITIZE set (make check SANITIZE=...) the fuzz run
# is left out: the fuzz build has its own sanitizers and is not what is
# being checked.
# A suite that crashes or exits non-zero without reporting a failure counts
# as one failure, so nothing can pass by dying early.
cd "$(dirname "$0")/.." || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0 skip=0

# tap NAME COMMAND...: runs a command that prints TAP, shows it, counts it.
tap() {
	name=$1
	shift
	echo "# $name"
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep -c '^ok .* # skip' "$log")
	pass=$((pass + p - s)); fail=$((fail + f)); skip=$((skip + s))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		fail=$((fail + 1))
	fi
}

for t in "$@"; do
	tap "$t" "./$t"
done
[ -z "${SANITIZE:-}" ] && tap "fuzz smoke" sh tests/fuzz/smoke.sh
tap bats env PATH="$PWD/${PROGDIR:-bin}:$PATH" bats --tap tests/bats
# a skipped test did not pass: counted apart, said before the closing line
[ "$skip" -eq 0 ] || echo "($skip skipped, not counted as passed)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
