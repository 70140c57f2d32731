# tfswa: TFSWA-UNet music source separation as Unix filters.
# make            build every program into bin/
# make check      run all C unit tests and bats tests; ends with "N passed, N failed"
# make deps       install the Debian packages the build and tests need
# make install    PREFIX=/usr/local DESTDIR=
# make fuzz       longer libFuzzer runs (clang)
# make bench      speed and memory against the PyTorch reference
# make corpus     generate the training corpus (pipelines/corpus.mk)
# make sweep      continue the architecture sweep from bench/sweep/runs; make plot draws it
# make train      continue the long training run of the next model (models/training/)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man/man1
DATADIR   ?= $(PREFIX)/share/tfswa
DOCDIR    ?= $(PREFIX)/share/doc/tfswa
MODELDIR  ?= $(DATADIR)/models

MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLIS_INC  ?= /usr/include/$(MULTIARCH)/blis-serial
BLIS_LIB  ?= /usr/lib/$(MULTIARCH)/blis-serial
PKGS      := sndfile fftw3f fftw3 msgpack soxr

CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fopenmp -pthread \
             -Ilib -isystem $(BLIS_INC) -DTF_VERSION='"$(VERSION)"'
LDLIBS    += $(BLIS_LIB)/libblis.a $$(pkg-config --libs $(PKGS)) -fopenmp -pthread -lm

# make check SANITIZE=address,undefined (or make check-asan): everything built
# with those sanitizers (gcc) into build/san/, programs in build/san/bin/,
# and the unit and bats tests run on them; every sanitizer report is fatal.
SANITIZE  ?=
ifneq ($(SANITIZE),)
B         := build/san
PROGDIR   := build/san/bin
CFLAGS    += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
else
B         := build
PROGDIR   := bin
endif

LIB_SRC   := $(sort $(wildcard lib/*.c lib/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
CMD_SRC   := $(sort $(wildcard cmd/tf-*.c))
PROGS     := $(CMD_SRC:cmd/%.c=$(PROGDIR)/%)
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TESTS     := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
MANPAGES  := $(wildcard man/*.1)
# what `make install` puts under share/: the shipped models and their
# licences, the pipelines that work outside a checkout, the documents
MODELS    := $(wildcard models/*.bin) models/LICENSES.md
PIPELINES := pipelines/separate.mk pipelines/separate.sh pipelines/evaluate.mk pipelines/train.mk
DOCS      := README.md LICENSE $(wildcard formats/*.md)

# the programs' and tests' objects are intermediate; keep them (and keep
# make from printing their removal after the test summary)
.SECONDARY: $(CMD_SRC:%.c=$(B)/%.o) $(TEST_SRC:%.c=$(B)/%.o)

.PHONY: all check check-asan valgrind test deps install uninstall clean fuzz bench bench-streaming demo
all: $(PROGS)

# Every build first makes sure the Debian packages are there (once: a stamp).
build/.deps: tools/deps.sh
	@sh tools/deps.sh
	@mkdir -p build && touch $@

# -MMD: each object also depends on the headers it includes (build/**/*.d).
$(B)/%.o: %.c | build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $$(pkg-config --cflags $(PKGS)) -c -o $@ $<

# The training attention's paths for AVX2 and AVX-512 are compiled with FMA:
# let the compiler fuse a*b+c there (-std=c11 turns that off). The plain
# path has no FMA instruction to fuse into, so it computes as before.
$(B)/lib/kernels/attention_train.o: CFLAGS += -ffp-contract=fast

$(B)/libtfswa.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(PROGDIR)/%: $(B)/cmd/%.o $(B)/libtfswa.a
	@mkdir -p $(PROGDIR)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# fluidsynth: only tf-corpus links it. Its one user, lib/corpus/synth/render.c,
# is deeper than LIB_SRC looks, so that neither libtfswa.a nor the fuzz build
# needs fluidsynth.
CORPUS_SYNTH := $(B)/lib/corpus/synth/render.o
$(CORPUS_SYNTH): CFLAGS += $$(pkg-config --cflags fluidsynth)
$(PROGDIR)/tf-corpus: $(B)/cmd/tf-corpus.o $(CORPUS_SYNTH) $(B)/libtfswa.a
	@mkdir -p $(PROGDIR)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $$(pkg-config --libs fluidsynth glib-2.0)

# libpng: only tf-view links it (it writes the pictures).
$(B)/cmd/tf-view.o: CFLAGS += $$(pkg-config --cflags libpng)
$(PROGDIR)/tf-view: $(B)/cmd/tf-view.o $(B)/libtfswa.a
	@mkdir -p $(PROGDIR)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $$(pkg-config --libs libpng)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libtfswa.a
	@mkdir -p $(B)/tests
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

check test: all $(TESTS)
	@PROGDIR=$(PROGDIR) SANITIZE=$(SANITIZE) sh tests/run.sh $(TESTS)

check-asan:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined check

# The sanitized programs find the shipped models as the checkout's do, in
# models/ beside their bin/.
ifneq ($(SANITIZE),)
all: $(B)/models
$(B)/models:
	@mkdir -p $(B) && ln -sfn ../../models $@
endif

# memcheck on one small tf-stft | tf-unet | tf-istft run (tests/valgrind.sh)
valgrind: all
	@sh tests/valgrind.sh $(PROGDIR)

deps:
	sh tools/deps.sh
	@mkdir -p build && touch build/.deps

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(MODELDIR) \
		$(DESTDIR)$(DATADIR)/pipelines $(DESTDIR)$(DOCDIR)/formats
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)
	install -m 644 $(MODELS) $(DESTDIR)$(MODELDIR)
	install -m 644 $(PIPELINES) $(DESTDIR)$(DATADIR)/pipelines
	install -m 644 README.md LICENSE $(DESTDIR)$(DOCDIR)
	install -m 644 $(wildcard formats/*.md) $(DESTDIR)$(DOCDIR)/formats

uninstall:
	rm -f $(PROGS:$(PROGDIR)/%=$(DESTDIR)$(BINDIR)/%) $(MANPAGES:man/%=$(DESTDIR)$(MANDIR)/%)
	rm -f $(MODELS:models/%=$(DESTDIR)$(MODELDIR)/%) $(PIPELINES:pipelines/%=$(DESTDIR)$(DATADIR)/pipelines/%)
	rm -f $(DOCS:%=$(DESTDIR)$(DOCDIR)/%)
	-rmdir $(DESTDIR)$(MODELDIR) $(DESTDIR)$(DATADIR)/pipelines $(DESTDIR)$(DATADIR) \
		$(DESTDIR)$(DOCDIR)/formats $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:%.c=$(B)/%.d) $(TEST_SRC:%.c=$(B)/%.d) $(CORPUS_SYNTH:.o=.d)
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
-include pipelines/demo.mk
-include pipelines/corpus.mk
