#!/usr/bin/env bats
# Hostile files (issue 12): tiny inputs whose headers declare gigabytes or
# terabytes, checkpoints whose views or zip entries repeat the same bytes.
# Every program answers each with one line on stderr naming itself, an exit
# status from 1 to 125, no file left behind, and within a memory limit that a
# trusted header would break (ulimit -v: a huge allocation fails loudly
# rather than passing unnoticed). The files come from tests/tools/hostile.py.

load helpers

# virtual memory for each run, KiB: far below what any hostile header asks
LIMIT=1500000

setup_file() {
	export H="$BATS_FILE_TMPDIR/hostile" M="$BATS_TEST_DIRNAME/../../models/compact.bin"
	$PY "$BATS_TEST_DIRNAME/../tools/hostile.py" "$H"
}

setup() {
	export W="$BATS_TEST_TMPDIR/work"
	rm -rf "$W"
	mkdir -p "$W"
}

# answers PROG PATTERN CMD...: runs CMD in $W under the memory limit, with
# stderr apart; it must fail with status 1..125, say one line
# "PROG: ...PATTERN..." on stderr, and leave $W empty.
answers() {
	local prog=$1 pattern=$2
	shift 2
	run bash -c 'cd "$W" && '"$(mem_cap $LIMIT)"' && exec "$@" 2>"$BATS_TEST_TMPDIR/err" >"$BATS_TEST_TMPDIR/out"' \
		_ "$@"
	local err
	err=$(cat "$BATS_TEST_TMPDIR/err")
	echo "$* -> status $status: $err"
	[ "$status" -ge 1 ] && [ "$status" -le 125 ] || { echo "status $status"; return 1; }
	[ "$(wc -l < "$BATS_TEST_TMPDIR/err")" -eq 1 ] || { echo "want one line on stderr"; return 1; }
	[[ "$err" == "$prog: "* ]] || { echo "want '$prog: ...'"; return 1; }
	[[ "$err" == *"$pattern"* ]] || { echo "want '$pattern' in the message"; return 1; }
	[ -z "$(ls -A "$W")" ] || { echo "left behind: $(ls -A "$W")"; return 1; }
}

# every program that loads a model, on model file $1
model_programs() {
	local f=$1 pattern=$2
	answers tf-unet "$pattern" tf-unet -m "$f" -o out.bin </dev/null
	answers tf-quant "$pattern" tf-quant -t q8 -o out.bin "$f"
	answers tf-quant "$pattern" tf-quant -t q8s --calibrate /dev/null -o out.bin "$f"
	answers tf-train "$pattern" tf-train -m "$f" -o out.bin --state out.state "$W/no-dataset"
	answers tf-bench "$pattern" tf-bench -m "$f"
	answers tf-export "$pattern" tf-export --info "$f"
	answers tf-export "$pattern" tf-export "$f" -o out.bin
	answers tf-export "$pattern" tf-export --from tfswa "$f" --to safetensors -o out.bin
}

@test "a model header declaring 1.2 TB of parameters: refused by every loader, saying so" {
	model_programs "$H/model-huge.bin" "the model declares 1.2 TB of parameters"
	# through a pipe too (no file size to check: the cap answers)
	answers tf-export "declares 1.2 TB" sh -c 'cat "$1" | tf-export --info' _ "$H/model-huge.bin"
	answers tf-unet "declares 1.2 TB" sh -c 'cat "$1" | tf-unet -m - -o out.bin' _ "$H/model-huge.bin"
}

@test "--info describes a header over the cap without allocating it" {
	run bash -c "$(mem_cap $LIMIT) && tf-export --info '$H/model-huge.bin' 2>/dev/null"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dims: 4096,4096,4096,4096"* ]]
	[[ "$output" == *"depths: 64,64,64,64"* ]]
	[[ "$output" == *"parameters: "* ]]
}

@test "a model header the file cannot back: refused before allocating" {
	model_programs "$H/model-big.bin" "but the file holds only 102 bytes"
	# a pipe cannot be measured first: --info still allocates nothing
	answers tf-export "missing tensor stem.0.weight" sh -c 'cat "$1" | tf-export --info' _ "$H/model-big.bin"
}

@test "train-state headers: huge or unbacked, refused by tf-train --resume" {
	answers tf-train "the model declares 1.2 TB of parameters" \
		tf-train --resume "$H/state-huge.state" -o out.bin --state out.state "$W/no-dataset"
	answers tf-train "declares 1.2 TB" \
		sh -c 'cat "$1" | tf-train --resume - -o out.bin "$2"' _ "$H/state-huge.state" "$W/no-dataset"
	answers tf-train "but the file holds only 519 bytes" \
		tf-train --resume "$H/state-big.state" -o out.bin --state out.state "$W/no-dataset"
}

@test "a segment of 131072 frames, in a header or an option: refused, the maximum named" {
	model_programs "$H/model-segment.bin" "segment 131072 is out of range (0 to 16384 frames)"
	answers tf-unet "131072 frames is out of range (0 to 16384)" tf-unet -m "$M" --segment 131072 -o out.bin
	answers tf-export "131072 is out of range (0 to 16384)" \
		tf-export "$BATS_TEST_DIRNAME/../data/import/small.pth" --segment 131072 -o out.bin
}

@test "the longest segment on a 0.5 s input costs what the input is" {
	make_wav "$BATS_TEST_TMPDIR/short.wav" 22050 2
	tf-stft -m "$M" "$BATS_TEST_TMPDIR/short.wav" > "$BATS_TEST_TMPDIR/short.spec"
	tf-unet -m "$M" --segment 256 < "$BATS_TEST_TMPDIR/short.spec" > "$BATS_TEST_TMPDIR/a.bin"
	# reserving the whole segment up front took 807 MB here
	run bash -c "$(mem_cap 600000) && tf-unet -m '$M' --segment 16384 < '$BATS_TEST_TMPDIR/short.spec' > '$BATS_TEST_TMPDIR/b.bin'"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/a.bin" "$BATS_TEST_TMPDIR/b.bin"
}

@test "a .pth of stride-0 views (5 kB addressing 4.3 GB): refused" {
	answers tf-export "the tensors address 4.3 GB of a 5.1 kB file" tf-export "$H/stride0.pth" -o out.bin
	answers tf-export "address 4.3 GB" tf-export --from pth - -o out.bin < "$H/stride0.pth"
	answers tf-unet "import it with tf-export --from pth" tf-unet -m "$H/stride0.pth" -o out.bin </dev/null
}

@test "a .pth whose zip entries nest: refused at once, not after a CRC of each" {
	answers tf-export "zip entries archive/data/0 and archive/data/1 overlap" tf-export "$H/nested.pth" -o out.bin
	answers tf-export "overlap" tf-export --from pth - -o out.bin < "$H/nested.pth"
}

@test "safetensors whose tensors share a data range: refused" {
	answers tf-export "tensors t0 and t1 share data bytes" tf-export "$H/shared.safetensors" -o out.bin
	answers tf-export "share data bytes" tf-export --from safetensors - -o out.bin < "$H/shared.safetensors"
	answers tf-export "share data bytes" tf-export --info "$H/shared.safetensors"
}

@test "a run stopped by a signal leaves no temporary file" {
	make_wav "$BATS_TEST_TMPDIR/short.wav" 22050 2
	tf-stft -m "$M" "$BATS_TEST_TMPDIR/short.wav" > "$BATS_TEST_TMPDIR/short.spec"
	# the header and part of a frame, then nothing: tf-unet waits with its output open
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	tf-unet -m "$M" -o "$W/out.bin" < "$BATS_TEST_TMPDIR/fifo" 3>&- &
	local pid=$! i
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	head -c 2000 "$BATS_TEST_TMPDIR/short.spec" >&4
	for i in $(seq 50); do
		ls -A "$W" | grep -q . && break
		sleep 0.1
	done
	ls -A "$W" | grep -q '^\.out\.bin\.' || { echo "no temporary file appeared: $(ls -A "$W")"; kill $pid; return 1; }
	kill -TERM $pid
	wait $pid || true
	exec 4>&-
	[ -z "$(ls -A "$W")" ] || { echo "left behind: $(ls -A "$W")"; return 1; }
}

@test "more threads than the system will create: a warning naming the program, then the same stems" {
	# thread stacks are address space, which ASan's build cannot be limited in
	# (and as root, RLIMIT_NPROC does not bind): the normal build runs this
	asan_build && skip "needs ulimit -v, which AddressSanitizer cannot run under"
	S="$BATS_TEST_DIRNAME/../tools/stream.py"
	$PY "$S" spec 200 2 1024 256 > "$BATS_TEST_TMPDIR/in.spec"
	tf-unet -q -m "$M" -j 1 < "$BATS_TEST_TMPDIR/in.spec" > "$BATS_TEST_TMPDIR/one.bin"
	# each thread's stack is 8 MiB of address space: 300 of them do not fit
	run bash -c "ulimit -v 900000 && OMP_NUM_THREADS=300 tf-unet -m '$M' < '$BATS_TEST_TMPDIR/in.spec' \
		> '$BATS_TEST_TMPDIR/many.bin'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "tf-unet: cannot create 300 threads ("*"); running on "* ]]
	[ "${#lines[@]}" -eq 1 ]
	cmp "$BATS_TEST_TMPDIR/one.bin" "$BATS_TEST_TMPDIR/many.bin"
}
