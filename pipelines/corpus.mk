# make corpus: generates the training corpus, a MUSDB18-layout tree of
# procedurally composed songs whose stems fluidsynth renders separately:
#
#   make corpus                                   # data/corpus, 100 + 10 tracks of 30 s
#   make corpus CORPUS=/big/disk/corpus CORPUS_TRAIN=1000 SEED=2 CORPUS_JOBS=8
#
# CORPUS/train/<track>/{mixture,vocals,drums,bass,other}.wav and CORPUS/test/...
# (44.1 kHz stereo float WAV). Deterministic by SEED; a second run makes only
# the tracks that are missing (raise CORPUS_TRAIN to add more: the existing
# tracks stay the same). Point the training at real MUSDB18 instead by
# giving it that tree: the layout is the same. SOUNDFONTS may list several
# General MIDI soundfonts (e.g. also TimGM6mb.sf2 from Debian's
# timgm6mb-soundfont): each stem of each track draws one. See man/tf-corpus.1.
CORPUS         ?= data/corpus
CORPUS_TRAIN   ?= 100
CORPUS_TEST    ?= 10
CORPUS_SECONDS ?= 30
CORPUS_JOBS    ?= 2
SEED           ?= 1
SOUNDFONTS     ?= /usr/share/sounds/sf2/FluidR3_GM.sf2

.PHONY: corpus
corpus: bin/tf-corpus
	bin/tf-corpus -o '$(CORPUS)' --seed $(SEED) --train $(CORPUS_TRAIN) --test $(CORPUS_TEST) \
		--seconds $(CORPUS_SECONDS) -j $(CORPUS_JOBS) $(foreach f,$(SOUNDFONTS),--soundfont '$(f)') -v
	@du -sh '$(CORPUS)'
