# make bench: tf-unet against the PyTorch reference, side by side (see bench/compare.sh).
bench: all
	sh bench/compare.sh $(BENCH_SHAPES)
