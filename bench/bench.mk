# make bench: tf-unet against the PyTorch reference in one tf-bench run per
# shape (see bench/compare.sh; TFSWA_REF=/path/to/TFSWA-UNet for the reference).
bench: all
	sh bench/compare.sh $(BENCH_SHAPES)

# make bench-streaming: peak RSS of each program on a 1- and a 10-minute track.
bench-streaming: all
	sh bench/streaming_rss.sh

# make bench-train: peak RSS and time of one training step of the default
# network, with and without checkpointing (bench/train_step.c).
build/bench/train_step: build/bench/train_step.o build/libtfswa.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench-train: build/bench/train_step
	build/bench/train_step -H 513 -W 259
	build/bench/train_step -H 1025 -W 259

# make bench-attention: the attention kernel alone, G scores/s per path on
# one thread at the network's shapes (bench/attention_bench.c).
build/bench/attention_bench: build/bench/attention_bench.o build/libtfswa.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench-attention: build/bench/attention_bench
	build/bench/attention_bench

# make bench-wgrad: the training's weight-gradient products, BLIS against
# wgrad on one thread (bench/wgrad_bench.c): BLIS's kernel for this CPU,
# then its AVX2 one (what an AVX2 machine would run).
build/bench/wgrad_bench: build/bench/wgrad_bench.o build/libtfswa.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench-wgrad: build/bench/wgrad_bench
	build/bench/wgrad_bench
	TF_BLIS_ARCH=haswell build/bench/wgrad_bench

.PHONY: bench-train bench-attention bench-wgrad

# make bench-quant: f32 against q8 and q8s (bench/quant.sh; SHAPE=FxT).
bench-quant: all
	sh bench/quant.sh $(SHAPE)

.PHONY: bench-quant

# make bench-busy: the default thread count against -j 1, idle and with one
# core busy (bench/busy.sh; MODEL=, SECONDS=).
bench-busy: all
	sh bench/busy.sh $(or $(MODEL),compact) $(or $(SECONDS),30)

.PHONY: bench-busy
