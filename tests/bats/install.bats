#!/usr/bin/env bats
# make install: programs, man pages, the shipped models and their licences,
# the pipelines and the documents, and what is installed works from there.

load helpers

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	cd "$BATS_TEST_TMPDIR"
}

@test "make install puts everything under PREFIX, works from there, and make uninstall takes it away" {
	make -s -C "$ROOT" install DESTDIR="$BATS_TEST_TMPDIR/d" PREFIX=/opt/tf >/dev/null
	p=$BATS_TEST_TMPDIR/d/opt/tf
	for f in bin/tf-separate bin/tf-stft bin/tf-unet bin/tf-istft share/man/man1/tf-separate.1 \
		share/man/man1/tf-unet.1 share/tfswa/models/compact.bin share/tfswa/models/LICENSES.md \
		share/tfswa/models/compact-f16.bin share/tfswa/models/compact-q8s.bin \
		share/tfswa/pipelines/separate.mk share/tfswa/pipelines/separate.sh \
		share/tfswa/pipelines/evaluate.mk share/doc/tfswa/LICENSE share/doc/tfswa/README.md \
		share/doc/tfswa/formats/tensor-stream.md share/doc/tfswa/formats/model.md; do
		[ -f "$p/$f" ] || { echo "not installed: $f"; return 1; }
	done
	grep -q "MIT" "$p/share/tfswa/models/LICENSES.md"
	grep -q "FluidR3" "$p/share/tfswa/models/LICENSES.md"
	# the installed programs and pipeline, with the installed model, and no
	# checkout on PATH
	mkdir in
	make_wav "in/a b.wav" 22050 2
	PATH="$p/bin:/usr/bin:/bin" run tf-separate -q -j 1 "in/a b.wav"
	[ "$status" -eq 0 ]
	PATH="$p/bin:/usr/bin:/bin" run env -u BIN make -s -f "$p/share/tfswa/pipelines/separate.mk" IN=in OUT=out
	echo "$output"
	[ "$status" -eq 0 ]
	for s in vocals drums bass other; do
		cmp "separated/a b/$s.wav" "out/a b/$s.wav"
	done
	make -s -C "$ROOT" uninstall DESTDIR="$BATS_TEST_TMPDIR/d" PREFIX=/opt/tf >/dev/null
	[ -z "$(find d -type f)" ]
}
