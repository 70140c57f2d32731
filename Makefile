# tfswa: TFSWA-UNet music source separation as Unix filters.
# make            build every program into bin/
# make check      run all C unit tests and bats tests; ends with "N passed, N failed"
# make deps       install the Debian packages the build and tests need
# make install    PREFIX=/usr/local DESTDIR=
# make fuzz       longer libFuzzer runs (clang)
# make bench      speed and memory against the PyTorch reference
# make corpus     generate the training corpus (pipelines/corpus.mk)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man/man1
DATADIR   ?= $(PREFIX)/share/tfswa
DOCDIR    ?= $(PREFIX)/share/doc/tfswa
MODELDIR  ?= $(DATADIR)/models

MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLIS_INC  ?= /usr/include/$(MULTIARCH)/blis-openmp
BLIS_LIB  ?= /usr/lib/$(MULTIARCH)/blis-openmp
PKGS      := sndfile fftw3f fftw3 msgpack soxr

CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fopenmp -pthread \
             -Ilib -isystem $(BLIS_INC) -DTF_VERSION='"$(VERSION)"'
LDLIBS    += $(BLIS_LIB)/libblis.a $$(pkg-config --libs $(PKGS)) -fopenmp -pthread -lm

LIB_SRC   := $(sort $(wildcard lib/*.c lib/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=build/%.o)
CMD_SRC   := $(sort $(wildcard cmd/tf-*.c))
PROGS     := $(CMD_SRC:cmd/%.c=bin/%)
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TESTS     := $(TEST_SRC:tests/unit/%.c=build/tests/%)
MANPAGES  := $(wildcard man/*.1)
# what `make install` puts under share/: the shipped models and their
# licences, the pipelines that work outside a checkout, the documents
MODELS    := $(wildcard models/*.bin) models/LICENSES.md
PIPELINES := pipelines/separate.mk pipelines/separate.sh pipelines/evaluate.mk pipelines/train.mk
DOCS      := README.md LICENSE $(wildcard formats/*.md)

# the programs' and tests' objects are intermediate; keep them (and keep
# make from printing their removal after the test summary)
.SECONDARY: $(CMD_SRC:%.c=build/%.o) $(TEST_SRC:%.c=build/%.o)

.PHONY: all check test deps install uninstall clean fuzz bench bench-streaming demo
all: $(PROGS)

# Every build first makes sure the Debian packages are there (once: a stamp).
build/.deps: tools/deps.sh
	@sh tools/deps.sh
	@mkdir -p build && touch $@

# -MMD: each object also depends on the headers it includes (build/**/*.d).
build/%.o: %.c | build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $$(pkg-config --cflags $(PKGS)) -c -o $@ $<

build/libtfswa.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

bin/%: build/cmd/%.o build/libtfswa.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# fluidsynth: only tf-corpus links it. Its one user, lib/corpus/synth/render.c,
# is deeper than LIB_SRC looks, so that neither libtfswa.a nor the fuzz build
# needs fluidsynth.
CORPUS_SYNTH := build/lib/corpus/synth/render.o
$(CORPUS_SYNTH): CFLAGS += $$(pkg-config --cflags fluidsynth)
bin/tf-corpus: build/cmd/tf-corpus.o $(CORPUS_SYNTH) build/libtfswa.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $$(pkg-config --libs fluidsynth glib-2.0)

# libpng: only tf-view links it (it writes the pictures).
build/cmd/tf-view.o: CFLAGS += $$(pkg-config --cflags libpng)
bin/tf-view: build/cmd/tf-view.o build/libtfswa.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $$(pkg-config --libs libpng)

build/tests/%: build/tests/unit/%.o build/libtfswa.a
	@mkdir -p build/tests
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

check test: all $(TESTS)
	@sh tests/run.sh $(TESTS)

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
	rm -f $(PROGS:bin/%=$(DESTDIR)$(BINDIR)/%) $(MANPAGES:man/%=$(DESTDIR)$(MANDIR)/%)
	rm -f $(MODELS:models/%=$(DESTDIR)$(MODELDIR)/%) $(PIPELINES:pipelines/%=$(DESTDIR)$(DATADIR)/pipelines/%)
	rm -f $(DOCS:%=$(DESTDIR)$(DOCDIR)/%)
	-rmdir $(DESTDIR)$(MODELDIR) $(DESTDIR)$(DATADIR)/pipelines $(DESTDIR)$(DATADIR) \
		$(DESTDIR)$(DOCDIR)/formats $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:%.c=build/%.d) $(TEST_SRC:%.c=build/%.d) $(CORPUS_SYNTH:.o=.d)
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
-include pipelines/demo.mk
-include pipelines/corpus.mk
