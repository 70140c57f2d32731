# Evaluates a folder of separated tracks against a MUSDB18-layout test set:
#
#   make -f pipelines/evaluate.mk TEST=musdb18/test EST=stems
#
# EST/<track>/<stem>.wav as pipelines/separate.mk writes them. Prints the
# table of tf-eval --musdb (BSS Eval v4 SDR/SIR/ISR/SAR, global SDR and
# SI-SDR per track and stem, then the medians over tracks) and keeps it,
# with the JSON, in EST/.eval.txt and EST/.eval.json.

EVAL_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BIN      ?= $(if $(wildcard $(EVAL_DIR)/../bin/tf-eval),$(EVAL_DIR)/../bin/,)

ifeq ($(and $(TEST),$(EST)),)
$(error usage: make -f pipelines/evaluate.mk TEST=DIR EST=DIR)
endif

.PHONY: evaluate
evaluate:
	$(BIN)tf-eval -q --json --musdb '$(TEST)' --est '$(EST)' > '$(EST)/.eval.json.tmp'
	$(BIN)tf-eval -q --musdb '$(TEST)' --est '$(EST)' > '$(EST)/.eval.txt.tmp'
	mv '$(EST)/.eval.json.tmp' '$(EST)/.eval.json' && mv '$(EST)/.eval.txt.tmp' '$(EST)/.eval.txt'
	@cat '$(EST)/.eval.txt'
