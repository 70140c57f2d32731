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
# The two tables are written under temporary names and renamed when both
# are complete; a failure or a signal (SIGINT, SIGTERM, SIGHUP: tf-eval is
# stopped) removes the temporary files.
evaluate:
	@json='$(EST)/.eval.json.tmp' txt='$(EST)/.eval.txt.tmp' pid=; \
	trap 'rm -f "$$json" "$$txt"' EXIT; trap '[ -z "$$pid" ] || kill $$pid; exit 1' INT TERM HUP; \
	$(BIN)tf-eval -q --json --musdb '$(TEST)' --est '$(EST)' > "$$json" & pid=$$!; wait $$pid && \
	{ $(BIN)tf-eval -q --musdb '$(TEST)' --est '$(EST)' > "$$txt" & pid=$$!; wait $$pid; } && \
	mv "$$json" '$(EST)/.eval.json' && mv "$$txt" '$(EST)/.eval.txt'
	@cat '$(EST)/.eval.txt'
