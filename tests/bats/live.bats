#!/usr/bin/env bats
# A live source: the pipeline fed at 1x real time through a pipe, as from
# arecord -f cd | tf-stft -m M | tf-unet -m M | tf-istft -s vocals | aplay.
# tests/tools/live.py writes the audio at the audio rate (a WAV header of
# unknown length first) and logs when each block went in and each read of
# the output came back.

load helpers

LIVE="$BATS_TEST_DIRNAME/../tools/live.py"

@test "live: the shipped model follows a 1x real-time pipe; output keeps pace and ends within a segment + 1 s of the input" {
	# keeping pace is what is tested, and AddressSanitizer's build runs the
	# network slower than real time here: the normal build runs this
	asan_build && skip "the sanitized build is slower than real time"
	D="$BATS_TEST_TMPDIR"
	make_wav "$D/in.wav" $((44100 * 8)) 2
	$PY "$LIVE" write "$D/in.wav" "$D/in.log" | tf-stft -q -m compact | tf-unet -q -m compact |
		tf-istft -q -s vocals | $PY "$LIVE" read "$D/out.log"
	read -r worst median tail share nin nout < <($PY "$LIVE" latency "$D/in.log" "$D/out.log")
	# the segment, in seconds, from the model
	seg=$(tf-export --info "$BATS_TEST_DIRNAME/../../models/compact.bin" |
		awk '/^segment:/ {s = $2} /^hop:/ {h = $2} /^sample_rate:/ {r = $2} END {print s * h / r}')
	echo "# latency: worst $worst s, median $median s; last output $tail s after the last input;" \
		"$share of the output out before the input ended (segment $seg s)" >&3
	# every sample came back, and no more
	[ "$nout" -eq "$nin" ]
	# the output kept pace: most of it came out while the input was still
	# being written (a stage that held everything until the end gives 0)
	awk -v s="$share" 'BEGIN {exit !(s >= 0.5)}'
	# at the end only the last segment or two were left to do
	awk -v t="$tail" -v s="$seg" 'BEGIN {exit !(t <= s + 1)}'
}

@test "live: tf-stft's stream frames are on the pipe whole while its input is still open" {
	D="$BATS_TEST_TMPDIR"
	make_wav "$D/in.wav" $((44100 * 3)) 2
	# one second of audio, then the input stays open until the test is done
	# looking: by then the stream must hold its header and first chunks,
	# each frame whole (a frame's tail left in stdio's buffer would stall
	# the next program of a pipe until the input ended)
	{ sox "$D/in.wav" -t wav - trim 0 1; while [ ! -e "$D/done" ]; do sleep 0.1; done; } 2>/dev/null |
		tf-stft -q -m compact > "$D/s.stream" &
	# up to 30 s for a loaded machine; a whole-frame stream shows in well under one
	for i in $(seq 300); do
		cp "$D/s.stream" "$D/early.stream"
		run $PY -c '
import sys, msgpack
data = open(sys.argv[1], "rb").read()
u = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)
u.feed(data)
n = sum(1 for _ in u)
print(n, len(data), u.tell())
sys.exit(not (n >= 3 and u.tell() == len(data)))' "$D/early.stream"
		[ "$status" -eq 0 ] && break
		sleep 0.1
	done
	touch "$D/done"
	wait
	echo "# while the input was open: frames, bytes, bytes in whole frames: $output" >&3
	assert_success
}

@test "live: a WAV on a pipe whose header says 0 bytes of data is read until the end of input" {
	D="$BATS_TEST_TMPDIR"
	make_wav "$D/in.wav" 20000 2
	make_wav "$D/f.wav" 7000 1 22050 "-e float -b 32"
	for w in in f; do
		tf-stft -q -m compact "$D/$w.wav" -o "$D/file.stream"
		# the same WAV with 0 in the data chunk's length, as some live writers put it
		$PY -c '
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
at = d.index(b"data") + 4
d[at:at + 4] = struct.pack("<I", 0)
sys.stdout.buffer.write(bytes(d))' "$D/$w.wav" | tf-stft -q -m compact > "$D/pipe.stream"
		# the same audio back (the streams differ only in the header's length)
		tf-istft -q -b 32f -o "$D/file.wav" "$D/file.stream"
		tf-istft -q -b 32f -o "$D/pipe.wav" "$D/pipe.stream"
		cmp "$D/file.wav" "$D/pipe.wav"
	done
}
