#!/usr/bin/env bats
# pipelines/separate.mk: a directory of tracks separated with make -j,
# incrementally, atomically, failures reported per track.

load helpers

setup() {
	G="$BATS_TEST_DIRNAME/../data/golden"
	MK="$BATS_TEST_DIRNAME/../../pipelines/separate.mk"
	cd "$BATS_TEST_TMPDIR"
	tf-export --from pth "$G/tiny-ragged/model.pth" --config "$G/tiny-ragged/config.json" \
		--n-fft 256 --hop 64 --stems vocals,other -o m.bin
	mkdir -p in/album
	make_wav in/a.wav 8000 1
	make_wav in/album/b.wav 5001 2
	sox in/album/b.wav in/album/c.flac
	random_bytes in/bad.wav 3000 11
}

@test "every track separated into OUT/<track>/<stem>.wav; a bad one reported, the others done" {
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin -j 2 -k
	[ "$status" -ne 0 ]
	assert_output --partial "separate: bad: failed: tf-stft: "
	for t in a album/b album/c; do
		[ "$(soxi -s out/$t/vocals.wav)" -eq "$(soxi -s in/$t.*)" ]
		[ -f out/$t/other.wav ]
	done
	[ ! -e out/bad ]
	[ -z "$(find out -name '*.tmp')" ]
	[ -f out/.logs/bad.log ]
}

@test "incremental: a second run separates only what changed" {
	rm in/bad.wav
	make -s -f "$MK" IN=in OUT=out MODEL=m.bin -j 2
	before=$(stat -c %Y.%s out/a/vocals.wav)
	sleep 1.1
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin -j 2
	[ "$status" -eq 0 ]
	refute_output --partial "separated:"
	[ "$(stat -c %Y.%s out/a/vocals.wav)" = "$before" ]
	touch in/album/b.wav
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin -j 2
	[ "$status" -eq 0 ]
	assert_output --partial "separated: album/b"
	refute_line "separated: a"
}

@test "a track interrupted half way leaves no folder that looks done" {
	rm in/bad.wav
	# a file cut short: tf-stft refuses it, after which nothing of it may stay
	head -c 20000 in/album/b.wav > in/cut.wav
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin -k
	[ "$status" -ne 0 ]
	assert_output --partial "separate: cut: failed"
	[ ! -e out/cut ]
	[ -z "$(ls -A out | grep tmp)" ]
}

@test "missing variables or model: a usage line" {
	run make -s -f "$MK" IN=in OUT=out
	[ "$status" -ne 0 ]
	assert_output --partial "usage: make -f pipelines/separate.mk"
	run make -s -f "$MK" IN=in OUT=out MODEL=nope.bin
	[ "$status" -ne 0 ]
	assert_output --partial "model nope.bin not found"
}

@test "SHARD=i/n splits the tracks between machines: together they do all, each once" {
	rm in/bad.wav
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin SHARD=1/2
	[ "$status" -eq 0 ]
	one=$(printf '%s\n' "$output" | grep -c '^separated:')
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin SHARD=2/2
	[ "$status" -eq 0 ]
	two=$(printf '%s\n' "$output" | grep -c '^separated:')
	[ "$one" -ge 1 ] && [ "$two" -ge 1 ] && [ $((one + two)) -eq 3 ]
	for t in a album/b album/c; do [ -f out/$t/vocals.wav ]; done
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin SHARD=3/2
	[ "$status" -ne 0 ]
	assert_output --partial "want i/n"
}

@test "separate a MUSDB-layout test set, then evaluate it" {
	rm in/bad.wav
	mkdir -p test/t1 test/t2
	make_wav test/t1/mixture.wav 6000 1
	make_wav test/t2/mixture.wav 7001 1
	for t in t1 t2; do
		cp test/$t/mixture.wav test/$t/vocals.wav
		sox test/$t/mixture.wav test/$t/other.wav vol 0.5
	done
	make -s -f "$MK" IN=test OUT=sep MODEL=m.bin EXT=wav >/dev/null
	# separate.mk names each track after its file: sep/t1/mixture/<stem>.wav
	mkdir -p est
	for t in t1 t2; do mv sep/$t/mixture est/$t; done
	run make -s -f "$BATS_TEST_DIRNAME/../../pipelines/evaluate.mk" TEST=test EST=est
	assert_success
	assert_line --partial "median over tracks"
	# the medians: SDR SIR ISR SAR, global SDR, SI-SDR of each stem
	assert_line --regexp '^2 tracks +vocals( +-?[0-9.]+){6}$'
	assert_line --regexp '^2 tracks +other( +-?[0-9.]+){6}$'
	[ -s est/.eval.json ]
	$PY -c "import json; j = json.load(open('est/.eval.json')); assert [len(t['stems']) for t in j['tracks']] == [2, 2], j"
	# a failed evaluation leaves no temporary table
	mkdir -p est2/t9
	run make -s -f "$BATS_TEST_DIRNAME/../../pipelines/evaluate.mk" TEST=test EST=est2
	[ "$status" -ne 0 ]
	run ls -A est2
	assert_output "t9"
}

@test "GNU parallel runs the shards (here on this machine as its one 'host')" {
	rm in/bad.wav
	# --sshlogin : is the local machine; on a cluster, host1,host2 (ssh)
	run parallel --will-cite --sshlogin : make -s -f "$MK" IN=in OUT=out MODEL=m.bin SHARD={}/2 ::: 1 2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | grep -c '^separated:')" -eq 3 ]
	for t in a album/b album/c; do [ -f out/$t/vocals.wav ]; done
}

@test "FORMAT, BITS, QUALITY and TWO_STEMS reach tf-istft" {
	rm in/bad.wav
	make -s -f "$MK" IN=in OUT=flac MODEL=m.bin FORMAT=flac BITS=24 TWO_STEMS=vocals -j 2
	for t in a album/b album/c; do
		run ls flac/$t
		assert_output "$(printf 'no_vocals.flac\nvocals.flac')"
		[ "$(soxi -b flac/$t/vocals.flac)" -eq 24 ]
		[ "$(soxi -s flac/$t/no_vocals.flac)" -eq "$(soxi -s in/$t.*)" ]
	done
	make -s -f "$MK" IN=in OUT=mp3 MODEL=m.bin FORMAT=mp3 QUALITY=2 -j 2
	[ -s mp3/album/b/vocals.mp3 ] && [ -s mp3/album/b/other.mp3 ]
	# a bad value fails the track, with tf-istft's message
	run make -s -f "$MK" IN=in OUT=bad MODEL=m.bin FORMAT=mp3 BITS=24
	[ "$status" -ne 0 ]
	assert_output --partial "failed: tf-istft: -b is for wav and flac"
	[ -z "$(find bad -name '*.tmp')" ]
}

@test "SIGTERM to make: the track's pipeline stops, its temporary folder goes" {
	rm in/bad.wav in/album/b.wav in/album/c.flac
	make_wav in/a.wav 200000 1
	# a tf-stft that sends the start of its stream, then stalls
	mkdir slow
	cat > slow/tf-stft <<-EOF2
		#!/bin/sh
		$(command -v tf-stft) "\$@" | { head -c 600000; exec sleep 10 3>&-; }
	EOF2
	chmod +x slow/tf-stft
	ln -s "$(command -v tf-unet)" "$(command -v tf-istft)" slow/
	make -s -f "$MK" IN=in OUT=out MODEL=m.bin BIN="$PWD/slow/" 3>&- &
	pid=$!
	i=0
	while [ -z "$(find out -name '.*.??????' -type f 2>/dev/null)" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	find out -name '.*.??????' -type f | grep -q .
	kill -TERM $pid
	rc=0
	wait $pid || rc=$?
	[ "$rc" -ne 0 ]
	sleep 0.5
	run find out -name '.*' ! -path 'out/.logs*'
	echo "$output"
	assert_output ""
	[ ! -e out/a ]
}
