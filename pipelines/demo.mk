# make demo: the separation pipeline end to end on the bundled example.
#
# Until a trained model ships, the model is imported from a golden test
# checkpoint of the PyTorch reference: its weights are RANDOM, so the "stems"
# it writes show that the pipeline runs, not what separation sounds like.
DEMO      := build/demo
DEMO_IN   ?= examples/example.wav
DEMO_PTH  ?= tests/data/golden/tiny-aligned/model.pth

demo: all
	@mkdir -p $(DEMO)
	bin/tf-export --from pth $(DEMO_PTH) --config $(dir $(DEMO_PTH))config.json -o $(DEMO)/model.bin
	bin/tf-export --info $(DEMO)/model.bin
	bin/tf-stft -m $(DEMO)/model.bin $(DEMO_IN) | bin/tf-unet -m $(DEMO)/model.bin | bin/tf-istft -o '$(DEMO)/%s.wav'
	@ls -l $(DEMO)/*.wav
	@echo
	@echo "demo: wrote one WAV per stem in $(DEMO)/ from $(DEMO_IN)."
	@echo "demo: NOTE: this model is UNTRAINED (random weights from a golden test checkpoint);"
	@echo "demo: the output shows the pipeline working end to end, not separation quality."
