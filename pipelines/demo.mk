# make demo: the separation pipeline end to end with the shipped model on a
# bundled held-out example, scored against its true stems.
#
# models/compact.bin was trained by tf-train on the corpus tf-corpus
# generates (README: "The shipped model"); examples/held-out/ is 6 s of a
# test-split track it never trained on, with its four true stems, so the
# demo prints how far the separation is from them and from doing nothing
# (every stem estimated as the mixture), and draws the separated stems
# (build/demo/stems.png; doc/demo-stems.png is one such picture, in the README).
DEMO       := build/demo
DEMO_MODEL ?= models/compact.bin
DEMO_DIR   ?= examples/held-out
DEMO_STEMS := vocals drums bass other

demo: all
	@mkdir -p $(DEMO)
	bin/tf-export --info $(DEMO_MODEL)
	bin/tf-stft -m $(DEMO_MODEL) $(DEMO_DIR)/mixture.wav | bin/tf-unet -m $(DEMO_MODEL) | \
		tee $(DEMO)/stems.stream | bin/tf-istft -o '$(DEMO)/%s.wav'
	bin/tf-view -W 800 --height 520 $(DEMO)/stems.stream -o $(DEMO)/stems.png
	@rm -f $(DEMO)/stems.stream
	@ls -l $(DEMO)/*.wav $(DEMO)/stems.png
	@echo
	@echo "demo: separated $(DEMO_DIR)/mixture.wav into $(DEMO)/<stem>.wav (a picture of them: $(DEMO)/stems.png);"
	@echo "demo: against the true stems:"
	bin/tf-eval -q --ref-dir $(DEMO_DIR) --est-dir $(DEMO)
	@echo "demo: doing nothing (each stem estimated as the mixture) scores:"
	bin/tf-eval -q $(foreach s,$(DEMO_STEMS),--ref $(DEMO_DIR)/$(s).wav --est $(DEMO_DIR)/mixture.wav)

# The pipeline on a model imported from a PyTorch checkpoint: a golden test
# checkpoint of the reference, whose weights are RANDOM (it shows the import
# and the pipeline, not separation).
DEMO_PTH  ?= tests/data/golden/tiny-aligned/model.pth
DEMO_IN   ?= examples/example.wav

demo-imported: all
	@mkdir -p $(DEMO)/imported
	bin/tf-export --from pth $(DEMO_PTH) --config $(dir $(DEMO_PTH))config.json -o $(DEMO)/imported/model.bin
	bin/tf-stft -m $(DEMO)/imported/model.bin $(DEMO_IN) | bin/tf-unet -m $(DEMO)/imported/model.bin | \
		bin/tf-istft -o '$(DEMO)/imported/%s.wav'
	@ls -l $(DEMO)/imported/*.wav
	@echo "demo-imported: NOTE: this model is UNTRAINED (random weights from a golden test checkpoint)."

.PHONY: demo demo-imported
