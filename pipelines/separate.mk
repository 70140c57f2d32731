# Separates every audio file under a directory into one folder of stems per
# track:
#
#   make -f pipelines/separate.mk IN=music OUT=stems [MODEL=model.bin] -j 2 -k
#
# music/album/song.flac becomes stems/album/song/<stem>.wav, one file per stem
# of the model (tf-separate does each track). Any file or folder name works
# (spaces, quotes, newlines, : ; # = $ % ( ...); symbolic links to files and
# folders are followed. Two audio files of one folder that differ only in
# their extension (song.flac, song.mp3) keep their stems apart: each gets a
# folder named with its extension (stems/album/song.flac/, .../song.mp3/).
#
# Incremental: a track whose folder is newer than its audio file and the
# model is not separated again (touch the audio file, or delete the folder,
# to redo it). Atomic: a track is separated into a hidden temporary folder
# that is renamed into place only when every stem is complete, so an
# interrupted or failed run leaves no folder that looks done. Each track is
# locked while it is separated (OUT/.locks/), so that runs sharing OUT never
# do one track twice: a track another run is doing is skipped. With -k a
# failing track is reported (its log is kept in OUT/.logs/) and the others
# go on. The run ends with a count of the tracks done, failed and skipped;
# make's exit status is non-zero if any failed. SIGTERM or Ctrl-C stops the
# tracks under way and leaves nothing of them.
#
# Variables: IN, OUT (required); MODEL (default: the shipped model); BIN (the
# programs: this checkout's bin/ when built, else $PATH); THREADS per job
# (default 1, so that make -j N uses N cores); EXT (audio extensions looked
# for); FORMAT (wav, flac, mp3, ogg, opus), BITS (16, 24, 32f: wav and flac),
# QUALITY (0 to 10: mp3, ogg and opus), TWO_STEMS
# (a stem: write it and no_<stem> only), passed to tf-separate; SHARD=i/n
# takes only the i-th of every n tracks (1 <= i <= n), so that n machines
# sharing OUT (or a job array) split a collection between them. make expands
# $ in variables given to it: a $ in IN or OUT is written $$.
#
# How: the recipe of `separate` (pipelines/separate.sh run) lists the files
# into a hidden run folder in OUT, one file per track named by its number,
# and runs make again there on targets that are those numbers, so that no
# file name is ever part of make's syntax. The run folder is removed at the
# end (also on SIGTERM or Ctrl-C); only a run killed outright (SIGKILL)
# leaves one, OUT/.separate-run.*, which may then be deleted.

SEP_MK  := $(lastword $(MAKEFILE_LIST))
SEP_DIR := $(patsubst %/,%,$(dir $(SEP_MK)))

.PHONY: separate
ifeq ($(SEP_RUN),)
BIN       ?= $(if $(wildcard $(SEP_DIR)/../bin/tf-separate),$(SEP_DIR)/../bin/,)
MODEL     ?= $(SEP_DIR)/../models/compact.bin
THREADS   ?= 1
EXT       ?= wav flac ogg aiff aif mp3
export IN OUT MODEL BIN THREADS EXT SHARD FORMAT BITS QUALITY TWO_STEMS

separate:
	+@MAKE='$(MAKE)' SEP_MK='$(SEP_MK)' exec sh '$(SEP_DIR)/separate.sh' run
else
# the run folder: t/<number> holds the name of one track
SEP_TRACKS := $(sort $(wildcard t/*))
.PHONY: $(SEP_TRACKS)
separate: $(SEP_TRACKS)
$(SEP_TRACKS):
	@exec sh "$$SEP_SH" track '$@'
endif
