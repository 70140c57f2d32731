# Separates every audio file under a directory into one folder of stems per
# track:
#
#   make -f pipelines/separate.mk IN=music OUT=stems MODEL=model.bin -j 2 -k
#
# music/album/song.flac becomes stems/album/song/<stem>.wav, one WAV per stem
# of the model. Incremental: a track whose folder is newer than its audio
# file is not separated again (touch the audio file, or delete the folder, to
# redo it). Atomic: a track is separated into a hidden temporary folder that
# is renamed into place only when every stem is complete, so an interrupted
# or failed run leaves no folder that looks done. With -k a failing track is
# reported (its log is kept in OUT/.logs/) and the others go on; make's exit
# status is non-zero if any failed.
#
# Variables: IN, OUT, MODEL (required); BIN (the programs: this checkout's
# bin/ when built, else $PATH); THREADS per job (default 1, so that make -j N
# uses N cores); EXT (audio extensions looked for); SHARD=i/n takes only
# the i-th of every n tracks (1 <= i <= n), so that n machines sharing OUT
# (or a job array) split a collection between them. File names with spaces
# are not supported (make splits words on them); such files are listed and
# skipped. FORMAT (wav, flac, mp3, ogg, opus; default wav), BITS (16, 24,
# 32f: wav and flac) and QUALITY (0 to 10: mp3, ogg, opus) are tf-istft's
# -t, -b and -Q; TWO_STEMS=vocals writes vocals and no_vocals (the sum of
# the other stems) instead of every stem. An interrupted run (SIGINT,
# SIGTERM, SIGHUP) stops the track's pipeline and removes its temporary
# folder.

SEP_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BIN     ?= $(if $(wildcard $(SEP_DIR)/../bin/tf-unet),$(SEP_DIR)/../bin/,)
THREADS ?= 1
EXT     ?= wav flac ogg aiff aif mp3
FORMAT  ?= wav
SEP_ISTFT := $(if $(TWO_STEMS),--two-stems '$(TWO_STEMS)') $(if $(BITS),-b '$(BITS)') $(if $(QUALITY),-Q '$(QUALITY)')

ifeq ($(and $(IN),$(OUT),$(MODEL)),)
$(error usage: make -f pipelines/separate.mk IN=DIR OUT=DIR MODEL=FILE [-j N] [-k])
endif
ifeq ($(wildcard $(MODEL)),)
$(error separate: model $(MODEL) not found)
endif

# every audio file under IN, relative to it, extension kept
SEP_FIND   := $(foreach e,$(EXT),-o -iname '*.$(e)')
SEP_FILES  := $(shell cd '$(IN)' 2>/dev/null && find . -type f \( -false $(SEP_FIND) \) ! -name '* *' | sed 's|^\./||' | sort)
SEP_SPACES := $(shell cd '$(IN)' 2>/dev/null && find . -type f -name '* *' | sed 's|^\./||')
ifneq ($(SHARD),)
SEP_I := $(word 1,$(subst /, ,$(SHARD)))
SEP_N := $(word 2,$(subst /, ,$(SHARD)))
ifneq ($(shell [ "$(SEP_I)" -ge 1 ] 2>/dev/null && [ "$(SEP_I)" -le "$(SEP_N)" ] && echo ok),ok)
$(error separate: SHARD=$(SHARD): want i/n with 1 <= i <= n)
endif
SEP_FILES := $(shell printf '%s\n' $(SEP_FILES) | awk 'NR % $(SEP_N) == $(SEP_I) % $(SEP_N)')
endif
SEP_TRACKS := $(foreach f,$(SEP_FILES),$(OUT)/$(basename $(f)))

.PHONY: separate
separate: $(SEP_TRACKS)
	@echo "separate: $(words $(SEP_TRACKS)) tracks in $(OUT)/"
	$(if $(SEP_SPACES),@echo "separate: skipped (spaces in the name): $(SEP_SPACES)" >&2)

# One rule per track, so that make knows each track's own audio file.
define SEP_RULE
$(OUT)/$(basename $(1)): $(IN)/$(1) $(MODEL)
	@mkdir -p '$$(dir $$@)' '$(OUT)/.logs/$$(dir $(basename $(1)))'
	@tmp='$$(dir $$@).$$(notdir $$@).tmp'; log='$(OUT)/.logs/$(basename $(1)).log'; \
	rm -rf "$$$$tmp" && mkdir "$$$$tmp" && : >"$$$$log" || exit 1; \
	pid=; trap '[ -z "$$$$pid" ] || { kill $$$$pid; wait $$$$pid; }; rm -rf "$$$$tmp"; exit 1' INT TERM HUP; \
	$(BIN)tf-stft -q -m '$(MODEL)' '$$<' 2>>"$$$$log" | $(BIN)tf-unet -q -j $(THREADS) -m '$(MODEL)' 2>>"$$$$log" | \
	     $(BIN)tf-istft -q $(SEP_ISTFT) -o "$$$$tmp/%s.$(FORMAT)" 2>>"$$$$log" & pid=$$$$!; \
	if wait $$$$pid; then \
		rm -rf '$$@' && mv "$$$$tmp" '$$@' && rm -f "$$$$log" && echo "separated: $(basename $(1))"; \
	else \
		rm -rf "$$$$tmp"; echo "separate: $(basename $(1)): failed: $$$$(head -n 1 "$$$$log") (log: $$$$log)" >&2; exit 1; \
	fi
endef
$(foreach f,$(SEP_FILES),$(eval $(call SEP_RULE,$(f))))
