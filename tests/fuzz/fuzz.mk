# libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer),
# included by the top Makefile:
#   make fuzz             every target for FUZZ_TIME seconds (default 60), or for
#                         FUZZ_RUNS executions; FUZZ_ONLY="model pth" for some
#                         (tests/fuzz/run.sh: exec counts and rates)
#   make fuzz-smoke       a few seconds each (tests/fuzz/smoke.sh, TAP lines)
#   make fuzz-build       just the binaries, in build/fuzz/
# The library is compiled again here with clang and the sanitizers (not
# build/libtfswa.a, which gcc builds without them).
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_RUNS    ?=
FUZZ_ONLY    ?=
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := stream specstream audio model pth safetensors config train_state
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -std=c11 -D_GNU_SOURCE -fopenmp -pthread -Ilib -isystem $(BLIS_INC) -Wno-pass-failed \
                -DTF_VERSION='"$(VERSION)"' '-Dtarget_clones(...)=' -DTF_FUZZING
# clang 14 emits no symbol for a target_clones function called only from other
# files (the link fails), so the fuzz build compiles the kernels unversioned.
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
.SECONDARY: $(FUZZ_OBJ)

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds

$(FUZZ_DIR)/obj/%.o: %.c $(wildcard lib/*.h lib/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $$(pkg-config --cflags $(PKGS)) -c -o $@ $<

# Every target links the failing allocator (tests/fuzz/fuzz_alloc.h): the
# wrapped allocation functions refuse big or chosen allocations while an
# input runs, so that the out-of-memory paths are fuzzed too.
FUZZ_WRAP    := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign

# (without coverage instrumentation: its hash of the input is no code to explore)
$(FUZZ_DIR)/fuzz_alloc.o: tests/fuzz/fuzz_alloc.c tests/fuzz/fuzz_alloc.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/fuzz_alloc.o $(wildcard tests/fuzz/*.h) $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $$(pkg-config --cflags $(PKGS)) -o $@ $< $(FUZZ_DIR)/fuzz_alloc.o \
		$(FUZZ_OBJ) $(BLIS_LIB)/libblis.a $$(pkg-config --libs $(PKGS)) -lm $(FUZZ_WRAP)

fuzz-build: $(FUZZ_BINS)

fuzz-seeds: all
	@sh tests/fuzz/seeds.sh $(FUZZ_DIR)/seeds

fuzz: fuzz-build fuzz-seeds
	@FUZZ_TIME=$(FUZZ_TIME) FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh $(FUZZ_ONLY)

fuzz-smoke: fuzz-build fuzz-seeds
	@sh tests/fuzz/smoke.sh
