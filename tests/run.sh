#!/bin/sh
# Runs every C unit test given as an argument, then the bats suites, and
# prints one closing line "N passed, N failed" covering them all.
# A test program that crashes or exits non-zero without reporting a failure
# counts as one failure, so nothing can pass by dying early.
cd "$(dirname "$0")/.." || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0
count() { # counts TAP lines in $log
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	pass=$((pass + p)); fail=$((fail + f))
}
for t in "$@"; do
	echo "# $t"
	"./$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	count
	if [ $rc -ne 0 ] && [ "$(grep -c '^not ok ' "$log")" -eq 0 ]; then
		echo "not ok - $t exited with status $rc"
		fail=$((fail + 1))
	fi
done
if [ -d tests/bats ] && ls tests/bats/*.bats >/dev/null 2>&1; then
	echo "# bats"
	PATH="$PWD/bin:$PATH" bats --tap tests/bats >"$log" 2>&1
	rc=$?
	cat "$log"
	count
	if [ $rc -ne 0 ] && [ "$(grep -c '^not ok ' "$log")" -eq 0 ]; then
		echo "not ok - bats exited with status $rc"
		fail=$((fail + 1))
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
