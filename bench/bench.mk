# make bench: tf-unet against the PyTorch reference, side by side (see bench/compare.sh).
bench: all
	sh bench/compare.sh $(BENCH_SHAPES)

# make bench-streaming: peak RSS of each program on a 1- and a 10-minute track.
bench-streaming: all
	sh bench/streaming_rss.sh
