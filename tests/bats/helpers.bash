# Shared helpers for the bats suites: load with `load helpers`.
# tests/run.sh runs bats from the repository root with bin/ first in PATH.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# numpy and msgpack live with the system python, whatever else is on PATH
PY=/usr/bin/python3
STREAM_PY="$BATS_TEST_DIRNAME/../tools/stream.py"
export PY STREAM_PY

# The pipelines/ makefiles run the programs under test (bin/, or the
# sanitized build's under make check-asan), not whatever bin/ holds: their
# BIN ?= default gives way to the environment.
BIN="$(dirname "$(command -v tf-unet)")/"
export BIN

# asan_build: the programs under test are built with AddressSanitizer.
asan_build() {
	ldd "$(command -v tf-unet)" 2>/dev/null | grep -q libasan
}

# mem_cap KIB: shell words that cap what a run may allocate at KIB. Normally
# ulimit -v; ASan reserves terabytes of address space and cannot start under
# that, so there its allocator refuses any one allocation over the cap
# instead (a huge allocation because a header said so still fails loudly).
mem_cap() {
	if asan_build; then
		echo "export ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=$(($1 / 1024))"
	else
		echo "ulimit -v $1"
	fi
}

# make_wav FILE FRAMES CHANNELS [RATE] [ENCODING]: a reproducible random
# test signal (smoothed noise plus a 1 kHz sine, peak about 0.6) of exactly
# FRAMES frames; ENCODING is a sox -e/-b pair: "-b 16" (default), "-e float -b 32".
make_wav() {
	local file=$1 frames=$2 channels=$3 rate=${4:-44100} enc=${5:--b 16}
	$PY - "$frames" "$channels" "$rate" <<-'EOF' | sox -t f32 -r "$rate" -c "$channels" - $enc "$file"
		import sys, numpy as np
		n, ch, rate = (int(a) for a in sys.argv[1:4])
		rng = np.random.default_rng(n * 10 + ch)
		t = np.arange(n) / rate
		x = rng.uniform(-0.3, 0.3, (n, ch))
		x = (x + np.roll(x, 1, 0) + np.roll(x, 2, 0)) / 3
		x += 0.3 * np.sin(2 * np.pi * 1000 * t)[:, None] * np.linspace(1, 0.5, ch)[None, :]
		sys.stdout.buffer.write(x.astype('<f4').tobytes())
	EOF
}

# random_bytes FILE N SEED: N pseudo-random bytes, the same for the same
# SEED, so that a failure can be reproduced.
random_bytes() {
	$PY -c "import random, sys; sys.stdout.buffer.write(random.Random($3).randbytes($2))" > "$1"
}

# Writes audio FILE (any format sox reads) as float32 .npy [frames, channels].
audio_npy() {
	local ch
	ch=$(soxi -c "$1") || return 1
	sox "$1" -t f32 - | $PY -c "
import sys, numpy as np
a = np.frombuffer(sys.stdin.buffer.read(), '<f4').reshape(-1, $ch)
np.save('$2', a)"
}

# compare_audio A B TOL: the same number of frames and channels, and every
# sample within TOL (absolute); prints what it found.
compare_audio() {
	audio_npy "$1" "$BATS_TEST_TMPDIR/cmp_a.npy" && audio_npy "$2" "$BATS_TEST_TMPDIR/cmp_b.npy" || return 1
	$PY -c "
import numpy as np
a, b = np.load('$BATS_TEST_TMPDIR/cmp_a.npy'), np.load('$BATS_TEST_TMPDIR/cmp_b.npy')
print('shapes', a.shape, b.shape)
assert a.shape == b.shape, 'shapes differ'
d = float(np.abs(a - b).max()) if a.size else 0.0
print('max abs diff', d)
assert d <= $3, 'difference above $3'
"
}

# stream_npy STREAM OUT.npy: every tensor of the stream concatenated on the
# last axis (stream.py cat).
stream_npy() {
	$PY "$STREAM_PY" cat "$1" > "$2"
}

# stream_key STREAM header|end KEY: prints a key of the header or end frame
# (nothing when absent).
stream_key() {
	$PY -c "
import msgpack, sys
fr = list(msgpack.Unpacker(open('$1', 'rb'), raw=False))
f = fr[0] if '$2' == 'header' else fr[-1]
v = f.get('$3')
print('' if v is None else v)"
}

# Asserts that a command failed cleanly: status 1 (not a signal), one line
# on stderr starting with the program's name.
# Asserts a bad command line: status 2, one line on stderr naming the program.
assert_usage_failure() {
	local prog=$1
	[ "$status" -eq 2 ] || { echo "status $status, want 2: $output"; return 1; }
	[ "${#lines[@]}" -eq 1 ] || { echo "want one line, got: $output"; return 1; }
	[[ "$output" == "$prog: "* ]] || { echo "want '$prog: ...', got: $output"; return 1; }
}

assert_clean_failure() {
	local prog=$1
	[ "$status" -eq 1 ] || { echo "status $status, want 1: $output"; return 1; }
	[ "${#lines[@]}" -eq 1 ] || { echo "want one line, got: $output"; return 1; }
	[[ "$output" == "$prog: "* ]] || { echo "want '$prog: ...', got: $output"; return 1; }
}
