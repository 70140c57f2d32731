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

@test "missing variables, model or IN: one line, and nothing done" {
	run make -s -f "$MK" IN=in
	[ "$status" -ne 0 ]
	assert_output --partial "usage: make -f pipelines/separate.mk"
	run make -s -f "$MK" IN=in OUT=out MODEL=nope.bin
	[ "$status" -ne 0 ]
	assert_output --partial "model nope.bin not found"
	run make -s -f "$MK" IN=inn OUT=out MODEL=m.bin
	[ "$status" -ne 0 ]
	assert_output --partial "separate: IN=inn: no such directory"
	run make -s -f "$MK" IN=in/a.wav OUT=out MODEL=m.bin
	[ "$status" -ne 0 ]
	assert_output --partial "separate: IN=in/a.wav: not a directory"
	[ ! -e out ]
}

# hostile_tree DIR: audio files and folders with every kind of awkward name;
# prints the tracks (their folders under OUT), one per line, NUL-free
hostile_tree() {
	local d=$1
	mkdir -p "$d/my album" "$d/a:b;c#d=e\$f%g" "$d/ünï ♪" "$d/real dir"
	make_wav "$d/my album/song one.wav" 3000 1
	make_wav "$d/my album/song.wav" 3100 1
	sox "$d/my album/song.wav" "$d/my album/song.flac"
	make_wav "$d/a:b;c#d=e\$f%g/x:y;z#w=v\$u%t.wav" 3200 1
	make_wav "$d/live_(remix).wav" 3300 2
	make_wav "$d/ünï ♪/quo'te\"s & <x>|*?.wav" 3400 1
	make_wav "$d/-dash [1].wav" 3500 1
	make_wav "$d/real dir/inner.wav" 3600 1
	make_wav "$d/.hidden.wav" 3700 1
	make_wav "$d/.logs.wav" 3700 1
	make_wav "$BATS_TEST_TMPDIR/target.wav" 3800 1
	ln -s "$BATS_TEST_TMPDIR/target.wav" "$d/linked file.wav"
	ln -s "real dir" "$d/linked dir"
}

@test "a tree of hostile names: every track, each in its own folder, counted" {
	rm -rf in
	hostile_tree "in put"
	run make -s -f "$MK" IN="in put" OUT="out put" MODEL=m.bin -j 2 -k
	echo "$output"
	[ "$status" -eq 0 ]
	tracks=("my album/song one" "my album/song.wav" "my album/song.flac" "a:b;c#d=e\$f%g/x:y;z#w=v\$u%t"
	        "live_(remix)" "ünï ♪/quo'te\"s & <x>|*?" "-dash [1]" "real dir/inner" ".hidden" ".logs.wav" "linked file"
	        "linked dir/inner")
	for t in "${tracks[@]}"; do
		[ -f "out put/$t/vocals.wav" ] || { echo "missing: $t"; return 1; }
		[ -f "out put/$t/other.wav" ]
	done
	[ "$(soxi -s "out put/my album/song.flac/vocals.wav")" -eq 3100 ]
	[ "$(soxi -s "out put/linked file/vocals.wav")" -eq 3800 ]
	[ ! -e "out put/my album/song" ] && [ ! -e "out put/live_" ]
	assert_output --partial "separate: ${#tracks[@]} tracks in out put: ${#tracks[@]} done, 0 failed, 0 skipped"
	# nothing else: no temporary folder, no log
	[ "$(find "out put" -type f -name '*.wav' | wc -l)" -eq $((2 * ${#tracks[@]})) ]
	[ -z "$(find "out put" -name '.*.tmp.*')" ]
	[ -z "$(find "out put/.logs" -type f)" ]
	# the second run: nothing to do, nothing rewritten
	before=$(find "out put" -name '*.wav' -printf '%T@ %p\n' | sort)
	run make -s -f "$MK" IN="in put" OUT="out put" MODEL=m.bin -j 2 -k
	[ "$status" -eq 0 ]
	refute_output --partial "separated:"
	assert_output --partial ": 0 done, 0 failed, ${#tracks[@]} skipped"
	[ "$(find "out put" -name '*.wav' -printf '%T@ %p\n' | sort)" = "$before" ]
}

@test "FORMAT and BITS reach the stems" {
	rm in/bad.wav
	run make -s -f "$MK" IN=in OUT=out MODEL=m.bin FORMAT=flac BITS=24 -j 2
	[ "$status" -eq 0 ]
	[ "$(soxi -b out/album/b/vocals.flac)" -eq 24 ]
	[ ! -e out/album/b/vocals.wav ]
}

@test "two runs on one OUT at once: each track done once, both succeed, nothing left over" {
	rm -rf in
	mkdir in
	for i in 1 2 3 4 5 6; do make_wav "in/t $i.wav" 40000 2; done
	make -s -f "$MK" IN=in OUT=out MODEL=m.bin -j 2 >one.log 2>&1 &
	p1=$!
	make -s -f "$MK" IN=in OUT=out MODEL=m.bin -j 2 >two.log 2>&1 &
	p2=$!
	s1=0 s2=0
	wait $p1 || s1=$?
	wait $p2 || s2=$?
	cat one.log two.log
	[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ]
	[ "$(cat one.log two.log | grep -c '^separated:')" -eq 6 ]
	for i in 1 2 3 4 5 6; do
		[ "$(ls -A "out/t $i")" = "$(printf 'other.wav\nvocals.wav')" ]
	done
	[ -z "$(find out -name '.*.tmp.*' -o -name '.separate-run.*')" ]
}

@test "SIGTERM to make: the pipelines stop, nothing of their tracks stays" {
	rm -rf in
	mkdir in
	make_wav in/long1.wav 3000000 2
	make_wav in/long2.wav 3000000 2
	make -s -f "$MK" IN=in OUT=out MODEL="$BATS_TEST_TMPDIR/m.bin" -j 2 -k >log 2>&1 &
	pid=$!
	for i in $(seq 100); do
		[ "$(pgrep -fc "tf-unet -m $BATS_TEST_TMPDIR/m.bin")" -ge 2 ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	cat log
	[ "$st" -ne 0 ]
	sleep 0.5
	run pgrep -f "$BATS_TEST_TMPDIR/m.bin"
	[ "$status" -eq 1 ] || { echo "still running: $output"; return 1; }
	[ ! -e out/long1 ] && [ ! -e out/long2 ]
	[ -z "$(find out -name '.*.tmp.*' -o -name '.separate-run.*')" ]
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
