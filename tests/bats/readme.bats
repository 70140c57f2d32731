#!/usr/bin/env bats
# The README's commands, run as written. Each indented block after a
# "<!-- run ... -->" line runs in order in one folder holding a short
# generated song (song.wav, song.flac, song.mp3, typical.flac), a music/
# tree, model.bin and models/compact.bin (the shipped model), best_model.pth
# (a small checkpoint in the reference's layout with the settings the README
# gives it: tests/data/import/make_fixtures.py), bin/, pipelines/ and
# examples/ of this checkout, and a Makefile whose `make` builds this
# checkout and which has the checkout's pipeline targets (demo, corpus, ...)
# working in the folder. "run, with ..." blocks (other machines, a
# scheduler, hours of work) run with the substitutions written below.
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
	cp work/song.flac work/typical.flac
	cp "$ROOT/models/compact.bin" work/model.bin
	mkdir work/models
	cp "$ROOT/models/compact.bin" work/models/
	cp "$ROOT/tests/data/import/readme.pth" work/best_model.pth
	# bin/ is the programs under test (BIN: build/san/bin under make check-asan)
	ln -s "${BIN%/}" work/bin
	ln -s "$ROOT/pipelines" "$ROOT/examples" work/
	mkdir work/bench
	ln -s "$ROOT"/bench/*.sh "$ROOT"/bench/*.py work/bench/
	# `make` builds the checkout; the other targets are the checkout's own
	# pipeline files (what its Makefile includes), run in this folder
	printf 'all:\n\t+@$(MAKE) -s -C %s all\ninclude pipelines/demo.mk pipelines/corpus.mk\n' "$ROOT" > work/Makefile
}

# runs one block with bash -e in work/, showing it and its output (kept
# in BLOCK.out)
run_block() {
	echo "--- $1"
	cat "$1"
	(cd work && PATH="${BIN%/}:$PATH" bash -e "../$1") > "$1.out" || { cat "$1.out"; return 1; }
	cat "$1.out"
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
	# make demo: the bundled example's four stems and their picture
	for s in vocals drums bass other; do
		[ "$(soxi -s work/build/demo/$s.wav)" = "$(soxi -s "$ROOT/examples/held-out/mixture.wav")" ]
	done
	[ "$(head -c 4 work/build/demo/stems.png | tail -c 3)" = PNG ]
	# the import: the checkpoint with the settings the options gave, then
	# the same model back from .pth and safetensors, and in f16
	info() { tf-export --info "$1" | grep -E "^($2): "; }
	keys='stems|num_heads|window_size|shift_size|dims|parameters'
	info work/model.bin "$keys" > imported.txt
	cat imported.txt
	grep -qx 'stems: vocals,other' imported.txt && grep -qx 'num_heads: 8' imported.txt
	grep -qx 'window_size: 8' imported.txt && grep -qx 'shift_size: 4' imported.txt
	tf-export --from safetensors work/model.safetensors -o st.bin
	[ "$(info st.bin "$keys")" = "$(cat imported.txt)" ]
	tf-export --from pth work/model.pth --num-heads 8 --window-size 8 --shift-size 4 --stems vocals,other -o pth.bin
	[ "$(info pth.bin "$keys")" = "$(cat imported.txt)" ]
	[ "$(info work/model-f16.bin quantization)" = "quantization: f16" ]
	# ONNX: one shape, then any number of frames
	$PY - <<-'EOF2'
		import onnx
		for f, frames in (('work/model.onnx', 256), ('work/model-frames.onnx', None)):
		    m = onnx.load(f)
		    onnx.checker.check_model(m)
		    d = m.graph.input[0].type.tensor_type.shape.dim
		    dims = [x.dim_value if x.HasField('dim_value') else None for x in d]
		    print(f, dims)
		    assert dims == [1, 4, 1025, frames], dims
	EOF2
	# the separations with the imported model: its two stems
	[ -f work/out/song/vocals.wav ] && [ -f work/out/song/other.wav ] && [ ! -e work/out/song/drums.wav ]
	# tf-view: the stems and the masks as pictures
	[ -s work/song.stems ]
	for p in stems masks; do [ "$(head -c 4 work/$p.png | tail -c 3)" = PNG ]; done
	# tf-quant: each type, the q8s scales calibrated from the stream
	[ -s work/typical.stream ]
	for t in f16 q8 q8s; do [ "$(info work/model-$t.bin quantization)" = "quantization: $t" ]; done
}

@test "the scheduler, ssh, corpus and training examples, run here with substitutions" {
	# other machines: this one; hours of work: fewer, shorter tracks and
	# fewer, smaller steps (sizes and counts only: the commands stay as written)
	export CORPUS_TRAIN=2 CORPUS_TEST=1 CORPUS_SECONDS=1 BATCH=1 SEGMENT=0.5
	for b in [0-9]*.with; do
		sed -e "s|/usr/local/share/tfswa/pipelines|$ROOT/pipelines|g" -e "s|/data/|$BATS_TEST_TMPDIR/work/|g" \
			-e "s|--workdir /data|--workdir $BATS_TEST_TMPDIR/work|" -e "s|host1,host2|:|" \
			-e 's|^\(\s*\)parallel |\1parallel --will-cite |' \
			-e 's|--train 1000 --test 50 --seconds 30 --jobs 8|--train 1 --test 1 --seconds 1 --jobs 2|' \
			-e 's|--steps 2000|--steps 2|; s|--until 1000|--until 1|; s|--steps 500|--steps 1|; s|STEPS=2000|STEPS=2|' \
			-e 's|--batch 4 --segment-seconds 3|--batch 1 --segment-seconds 0.5|' \
			-e 's|\( out/[a-z]*\) 10 10|\1 0 1|' "$b" > "$b.here"
		SLURM_ARRAY_TASK_ID=1 SLURM_CPUS_PER_TASK=1 run_block "$b.here"
		ran=$((${ran:-0} + 1))
	done
	[ "$ran" -eq 6 ]
	[ -f work/stems/album1/a/vocals.wav ] && [ -f work/stems/album2/b/vocals.wav ]
	# the corpora: MUSDB18's layout, as many tracks as asked for
	tracks() { find "work/$1" -name mixture.wav | wc -l; }
	[ "$(tracks data/corpus/train)" -eq 2 ] && [ "$(tracks data/corpus/test)" -eq 1 ]
	[ "$(tracks data/corpus-unseen/test)" -eq 1 ] && [ ! -e work/data/corpus-unseen/train/s12-train-0001 ]
	[ "$(tracks data/corpus-1000/train)" -eq 1 ] && [ "$(tracks data/corpus-1000/test)" -eq 1 ]
	for s in mixture vocals drums bass other; do
		[ "$(soxi -D work/data/corpus/train/s11-train-0001/$s.wav)" = 1.000000 ]
	done
	# training: stopped after step 1, resumed to step 2, fine-tuned, trained
	# by the pipeline; every model runs as it is
	[ "$(tf-export --info work/model.bin | grep '^provenance.steps:')" = "provenance.steps: 2" ]
	grep -q 'then tf-train -m model.bin' <(tf-export --info work/tuned.bin)
	[ "$(tf-export --info work/models/mine.bin | grep '^provenance.steps:')" = "provenance.steps: 2" ]
	[ -f work/models/mine.bin.state ] && [ -s work/models/mine.csv ]
	for m in model tuned models/mine; do
		tf-stft -m work/$m.bin work/song.wav | tf-unet -m work/$m.bin | tf-istft -s vocals > v.wav
		[ "$(soxi -s v.wav)" = 88200 ]
	done
	# the CSV of both sittings, and its learning curves drawn
	[ "$(grep -c '^train,1,' work/run.csv)" -eq 1 ] && [ "$(grep -c '^train,2,' work/run.csv)" -eq 1 ]
	[ "$(head -c 4 work/curves.png | tail -c 3)" = PNG ]
	# the quality tables of both splits, on the cut songs, every row there
	q=$(grep -l 'bench/quality.sh' [0-9]*.with.here).out
	for row in 'mixture (baseline)' 'best constant gain (oracle)' 'compact.bin, --mask-norm sum1' 'oracle ratio mask'; do
		[ "$(grep -c "^| $row | -\?[0-9]" "$q")" -eq 4 ]
	done
	for d in corpus unseen; do
		[ "$(soxi -D work/out/$d/test/*/mixture.wav)" = 1.000000 ]
		for k in mixture gain irm model-raw model-sum1 model-power; do [ -s work/out/$d/$k/eval.json ]; done
	done
	# the overlap tables: a row per overlap, whole songs then the cut
	o=$(grep -l 'bench/overlap.sh' [0-9]*.with.here).out
	for n in 0 16 32 64; do [ "$(grep -c "^| $n | -\?[0-9]" "$o")" -eq 2 ]; done
	[ "$(soxi -D work/out/overlap/test/*/mixture.wav)" = 1.000000 ]
}

@test "every indented block of the README is marked: run, run with, not run (naming its test), or not a command" {
	$PY - "$ROOT/README.md" <<-'EOF2'
		import re, sys
		lines = open(sys.argv[1], encoding='utf-8').read().split('\n')
		bad, inside = [], False
		for n, l in enumerate(lines):
		    if l.startswith('    ') and l.strip():
		        if not inside and (n == 0 or not lines[n - 1].strip()):
		            k = n - 1
		            while k >= 0 and not lines[k].strip():
		                k -= 1
		            if k < 0 or not re.match(r'<!-- (run|run, with|not run|not a command)\b', lines[k]):
		                bad.append('line %d: %s' % (n + 1, l.strip()))
		        inside = True
		    elif l.strip():
		        inside = False
		print('\n'.join(bad))
		sys.exit(1 if bad else 0)
	EOF2
}
