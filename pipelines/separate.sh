#!/bin/sh
# The work behind pipelines/separate.mk (see there); names travel only in
# shell variables and files, never through make's syntax.
#   separate.sh run        list IN's tracks, run make on them, count
#   separate.sh track T    separate the track whose name is in file T
# Settings come from the environment: IN OUT MODEL BIN THREADS EXT SHARD
# FORMAT BITS QUALITY TWO_STEMS (from make), SEP_* (set by `run` for `track`).
set -u

fail() {
	printf 'separate: %s\n' "$*" >&2
	exit 2
}

# a name as one line of a message
shown() {
	printf '%s' "$1" | tr '\n\t' '??'
}

# absolute path of an existing directory
abs_dir() {
	(cd -- "$1" && pwd) || exit 2
}

run() {
	[ -n "${IN:-}" ] && [ -n "${OUT:-}" ] ||
		fail "usage: make -f pipelines/separate.mk IN=DIR OUT=DIR [MODEL=FILE] [-j N] [-k]"
	[ -e "$IN" ] || fail "IN=$IN: no such directory"
	[ -d "$IN" ] || fail "IN=$IN: not a directory"
	[ -f "$MODEL" ] || fail "model $MODEL not found"
	shard_i=1 shard_n=1
	if [ -n "${SHARD:-}" ]; then
		shard_i=${SHARD%%/*} shard_n=${SHARD#*/}
		case $shard_i/$shard_n in
		*[!0-9/]* | /* | */ | */*/*) shard_i=0 shard_n=0 ;;
		esac
		[ "$shard_i" -ge 1 ] && [ "$shard_i" -le "$shard_n" ] ||
			fail "SHARD=$SHARD: want i/n with 1 <= i <= n"
	fi
	mkdir -p -- "$OUT" || exit 2
	SEP_IN=$(abs_dir "$IN") && SEP_OUT=$(abs_dir "$OUT") || exit 2
	case $MODEL in /*) SEP_MODEL=$MODEL ;; *) SEP_MODEL=$PWD/$MODEL ;; esac
	case ${BIN:-} in '' | /*) SEP_BIN=${BIN:-} ;; *) SEP_BIN=$PWD/$BIN ;; esac
	case $SEP_MK in /*) ;; *) SEP_MK=$PWD/$SEP_MK ;; esac
	SEP_SH=${SEP_MK%/*}/separate.sh
	export SEP_IN SEP_OUT SEP_MODEL SEP_BIN SEP_SH

	rundir=$(mktemp -d "$SEP_OUT/.separate-run.XXXXXX") || exit 2
	mpid=
	trap 'rm -rf "$rundir"' EXIT
	for s in TERM INT HUP; do
		trap "[ -n \"\$mpid\" ] && kill -$s \$mpid 2>/dev/null; sig=$s" $s
	done
	sig=

	# every audio file (links followed), OUT itself left out when inside IN;
	# sorted bytewise, so that every machine of a SHARD sees one order
	set -- -false
	for e in $EXT; do
		set -- "$@" -o -iname "*.$e"
	done
	prune=
	case $SEP_OUT/ in "$SEP_IN"/?*) prune=./${SEP_OUT#"$SEP_IN"/} ;; esac
	prune=$(printf '%s' "$prune" | sed 's/[][*?\\]/\\&/g')
	mkdir "$rundir/t" "$rundir/r"
	(cd -- "$SEP_IN" && find -L . ${prune:+-path "$prune" -prune -o} -type f \( "$@" \) -print0) |
		LC_ALL=C sort -z | split -t '\0' -l 1 -a 8 -d - "$rundir/t/" || fail "cannot list $IN"
	k=0
	for f in "$rundir"/t/*; do
		[ -e "$f" ] || continue
		k=$((k + 1))
		[ $((k % shard_n)) -eq $((shard_i % shard_n)) ] || rm -f "$f"
	done
	total=$(find "$rundir/t" -type f | wc -l)

	st=0
	if [ "$total" -gt 0 ]; then
		(cd "$rundir" && exec "$MAKE" --no-print-directory -f "$SEP_MK" SEP_RUN=1 separate) &
		mpid=$!
		wait $mpid || st=$?
		[ -z "$sig" ] || wait $mpid
	fi

	done=0 failed=0 skipped=0
	for f in "$rundir"/r/*; do
		[ -e "$f" ] || continue
		read -r what <"$f"
		case $what in
		done) done=$((done + 1)) ;;
		failed) failed=$((failed + 1)) ;;
		*) skipped=$((skipped + 1)) ;;
		esac
	done
	rest=$((total - done - failed - skipped))
	printf 'separate: %d tracks in %s: %d done, %d failed, %d skipped%s\n' "$total" "$(shown "$OUT")" \
		"$done" "$failed" "$skipped" "$([ "$rest" -eq 0 ] || echo ", $rest not started")"
	if [ -n "$sig" ]; then
		rm -rf "$rundir"
		trap - "$sig" EXIT
		kill -"$sig" $$
	fi
	[ "$st" -eq 0 ] || exit 1
}

track() {
	id=${1##*/}
	result="$PWD/r/$id"
	rel=$(tr -d '\0' <"$1"; printf x)
	rel=${rel%x}
	rel=${rel#./}
	src=$SEP_IN/$rel
	base=${rel%.*}
	# a folder per track, named with the extension only if another audio
	# file of the same folder has the same name
	name=$base
	for g in "$SEP_IN/$base".*; do
		[ "$g" != "$src" ] && [ "${g%.*}" = "$SEP_IN/$base" ] && [ -f "$g" ] || continue
		e=$(printf '%s' "${g##*.}" | tr 'A-Z' 'a-z')
		for x in $EXT; do
			[ "$e" = "$x" ] && name=$rel
		done
	done
	# OUT's own hidden folders are not track names
	case $name in .logs | .locks | .separate-run.*) name=$rel ;; esac
	dest=$SEP_OUT/$name
	parent=${dest%/*} leaf=${dest##*/}
	log=$SEP_OUT/.logs/$name.log
	show=$(shown "$name")

	up_to_date() {
		[ -d "$dest" ] && [ "$dest" -nt "$src" ] && [ "$dest" -nt "$SEP_MODEL" ]
	}
	if up_to_date; then
		echo skipped >"$result"
		return 0
	fi
	# one run at a time on a track: others skip it
	mkdir -p "$SEP_OUT/.locks" "$parent" "${log%/*}" || { echo failed >"$result"; return 1; }
	lock=$SEP_OUT/.locks/$(printf '%s' "$name" | md5sum | cut -c1-32)
	exec 9>"$lock"
	if ! flock -n 9; then
		printf 'separate: %s: being separated by another run, skipped\n' "$show" >&2
		echo busy >"$result"
		return 0
	fi
	if up_to_date; then
		echo skipped >"$result"
		return 0
	fi
	# what a run killed outright left behind (we hold the lock)
	rm -rf "$parent/.$leaf.tmp."*
	tmp=$parent/.$leaf.tmp.$$
	mkdir "$tmp" || { echo failed >"$result"; return 1; }

	set -- -q -m "$SEP_MODEL" -j "${THREADS:-1}" -o "$tmp" --filename '{stem}.{ext}'
	[ -z "${FORMAT:-}" ] || set -- "$@" -t "$FORMAT"
	[ -z "${BITS:-}" ] || set -- "$@" -b "$BITS"
	[ -z "${QUALITY:-}" ] || set -- "$@" -Q "$QUALITY"
	[ -z "${TWO_STEMS:-}" ] || set -- "$@" --two-stems "$TWO_STEMS"
	sig= pid=
	for s in TERM INT HUP; do
		trap "[ -n \"\$pid\" ] && kill -$s \$pid 2>/dev/null; sig=$s" $s
	done
	"${SEP_BIN}tf-separate" "$@" -- "$src" 2>"$log" 9>&- &
	pid=$!
	st=0
	wait $pid || st=$?
	if [ -n "$sig" ]; then
		wait $pid
		rm -rf "$tmp"
		echo failed >"$result"
		trap - "$sig"
		kill -"$sig" $$
	fi
	if [ "$st" -eq 0 ] && rm -rf "$dest" && mv "$tmp" "$dest"; then
		rm -f "$log"
		echo done >"$result"
		printf 'separated: %s\n' "$show"
		return 0
	fi
	rm -rf "$tmp"
	msg=$(head -n 1 "$log")
	msg=${msg#"tf-separate: $src: "}
	printf 'separate: %s: failed: %s (log: %s)\n' "$show" "$msg" "$(shown "$log")" >&2
	echo failed >"$result"
	return 1
}

case ${1:-} in
run) run ;;
track) track "$2" ;;
*) fail "usage: separate.sh run | track FILE (run by pipelines/separate.mk)" ;;
esac
