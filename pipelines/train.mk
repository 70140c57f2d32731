# Trains a model on a corpus in MUSDB18's layout (CORPUS/train/<track>/ with
# mixture.wav and a WAV per stem; CORPUS/test/ for validation), e.g. the one
# `make corpus` generates:
#
#   make -f pipelines/train.mk CORPUS=data/corpus OUT=models/x.bin STEPS=2000
#
# Writes OUT (a model file tf-unet runs as it is) and OUT.state (the training
# state) at the end of every epoch and at the end, and appends the progress
# to CSV (default: OUT without .bin, plus .csv; pipelines/plot.gp draws it).
# Resumable: when OUT.state exists, the run continues from it (with the settings it was started with),
# so an interrupted training goes on where it stopped by running the same
# command again; delete OUT.state to start over. A finished run (its state at
# the last step) does nothing more.
#
# Variables: OUT (required); CORPUS (default data/corpus); STEPS (default 2000); CONFIG (a named
# configuration, default compact, or a JSON file); BATCH (default 4); SEED
# (default 0); SEGMENT seconds (default 3); EPOCH_STEPS (default 100); VALID
# test tracks (default 2); THREADS (default: all cores); EMA (tf-train --ema:
# the model file is the parameters' moving average with this decay per step;
# given on a resume, it starts, changes or stops the average from there, else
# the run keeps its own); ARGS (more tf-train
# options for a new run, e.g. ARGS='--lr 5e-4 --wave-loss 0.1'); BIN (the
# programs: this checkout's bin/ when built, else $PATH).

TRAIN_DIR   := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BIN         ?= $(if $(wildcard $(TRAIN_DIR)/../bin/tf-train),$(TRAIN_DIR)/../bin/,)
STEPS       ?= 2000
CONFIG      ?= compact
BATCH       ?= 4
SEED        ?= 0
SEGMENT     ?= 3
EPOCH_STEPS ?= 100
VALID       ?= 2
CORPUS      ?= data/corpus
STATE       := $(OUT).state
CSV         ?= $(basename $(OUT)).csv
TRAIN_J     := $(if $(THREADS),-j $(THREADS),)
TRAIN_EMA   := $(if $(EMA),--ema $(EMA),)

ifeq ($(OUT),)
$(error usage: make -f pipelines/train.mk CORPUS=DIR OUT=model.bin [STEPS=N] [CONFIG=compact])
endif

.PHONY: train
train:
	@test -d '$(CORPUS)/train' || { echo 'train: $(CORPUS)/train not found (make corpus makes data/corpus)' >&2; exit 1; }
	@mkdir -p '$(dir $(OUT))'
	@if [ -f '$(STATE)' ]; then \
		echo '$(BIN)tf-train --resume $(STATE) -o $(OUT) --state $(STATE) --csv $(CSV) --epoch-steps $(EPOCH_STEPS) $(TRAIN_J) $(TRAIN_EMA) $(CORPUS)'; \
		$(BIN)tf-train --resume '$(STATE)' -o '$(OUT)' --state '$(STATE)' --csv '$(CSV)' --epoch-steps $(EPOCH_STEPS) $(TRAIN_J) $(TRAIN_EMA) '$(CORPUS)'; \
	else \
		echo '$(BIN)tf-train --init $(CONFIG) --steps $(STEPS) --batch $(BATCH) --seed $(SEED) --segment-seconds $(SEGMENT) --valid $(VALID) --epoch-steps $(EPOCH_STEPS) $(TRAIN_J) $(TRAIN_EMA) $(ARGS) -o $(OUT) --state $(STATE) --csv $(CSV) $(CORPUS)'; \
		$(BIN)tf-train --init '$(CONFIG)' --steps $(STEPS) --batch $(BATCH) --seed $(SEED) \
			--segment-seconds $(SEGMENT) --valid $(VALID) --epoch-steps $(EPOCH_STEPS) $(TRAIN_J) $(TRAIN_EMA) $(ARGS) \
			-o '$(OUT)' --state '$(STATE)' --csv '$(CSV)' '$(CORPUS)'; \
	fi
