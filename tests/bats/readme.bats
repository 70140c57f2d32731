#!/usr/bin/env bats
# The README's commands, run as written. Each indented block after a
# "<!-- run ... -->" line runs in order in one folder holding a short
# generated song (song.wav, song.flac, song.mp3), a music/ tree, model.bin
# (the shipped model), bin/ and pipelines/ of this checkout, and a Makefile
# whose `make` builds this checkout. "run, with ..." blocks (other
# machines, a scheduler) run with the substitutions written below.
# "not run: ..." blocks say which test covers them instead.

load helpers

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	cd "$BATS_TEST_TMPDIR"
	# the blocks, numbered: N.run, N.with or N.not
	$PY - "$ROOT/README.md" <<-'EOF2'
		import re, sys
		lines = open(sys.argv[1], encoding='utf-8').read().split('\n')
		n, i = 0, 0
		while i < len(lines):
		    m = re.match(r'<!-- (run, with|run|not run)\b', lines[i])
		    i += 1
		    if not m:
		        continue
		    while i < len(lines) and not lines[i].strip():
		        i += 1
		    block = []
		    while i < len(lines) and (lines[i].startswith('    ') or not lines[i].strip()):
		        block.append(lines[i][4:])
		        i += 1
		    n += 1
		    kind = {'run': 'run', 'run, with': 'with', 'not run': 'not'}[m.group(1)]
		    open('%02d.%s' % (n, kind), 'w').write('\n'.join(block).strip() + '\n')
	EOF2
	mkdir -p work/music/album1 work/music/album2
	make_wav work/song.wav 88200 2
	sox work/song.wav work/song.flac
	$PY "$ROOT/tests/tools/wav2mp3.py" work/song.wav work/song.mp3
	sox work/song.wav work/music/album1/a.flac trim 0 1
	sox work/song.wav work/music/album2/b.flac trim 1
	cp "$ROOT/models/compact.bin" work/model.bin
	ln -s "$ROOT/bin" "$ROOT/pipelines" work/
	printf 'all:\n\t+@$(MAKE) -s -C %s all\n' "$ROOT" > work/Makefile
}

# runs one block with bash -e in work/, showing it
run_block() {
	echo "--- $1"
	cat "$1"
	(cd work && PATH="$ROOT/bin:$PATH" bash -e "../$1")
}

@test "every README command marked to run runs as written, and does what it says" {
	ls [0-9]*.*
	[ "$(ls [0-9]*.run | wc -l)" -ge 5 ]
	for b in [0-9]*.run; do
		run_block "$b"
	done
	# the opening: the shipped model's four stems, 44.1 kHz stereo 16-bit
	for s in vocals drums bass other; do
		[ "$(soxi -r work/separated/song/$s.wav)" = 44100 ]
		[ "$(soxi -c work/separated/song/$s.wav)" = 2 ]
		[ "$(soxi -b work/separated/song/$s.wav)" = 16 ]
		[ "$(soxi -s work/separated/song/$s.wav)" = 88200 ]
	done
	[ -f work/song-vocals.wav ] && [ -f work/out/song/other.wav ] && [ -f work/out/vocals.wav ]
	[ -f work/vocals.wav ] && [ -f work/stems/a/bass.wav ] && [ -f work/stems/album2/b/drums.wav ]
}

@test "the scheduler and ssh examples, run here with substitutions" {
	for b in [0-9]*.with; do
		sed -e "s|/usr/local/share/tfswa/pipelines|$ROOT/pipelines|g" -e "s|/data/|$BATS_TEST_TMPDIR/work/|g" \
			-e "s|--workdir /data|--workdir $BATS_TEST_TMPDIR/work|" -e "s|host1,host2|:|" \
			-e 's|^\(\s*\)parallel |\1parallel --will-cite |' "$b" > "$b.here"
		SLURM_ARRAY_TASK_ID=1 SLURM_CPUS_PER_TASK=1 run_block "$b.here"
		ran=$((${ran:-0} + 1))
	done
	[ "$ran" -eq 2 ]
	[ -f work/stems/album1/a/vocals.wav ] && [ -f work/stems/album2/b/vocals.wav ]
}
