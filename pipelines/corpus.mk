# make corpus: generates the training corpus, a MUSDB18-layout tree of
# procedurally composed songs whose stems are rendered separately (fluidsynth
# and General MIDI soundfonts, the built-in formant singer, studio effects
# per stem), and a second test split of sounds the training never hears:
#
#   make corpus                        # data/corpus: 150 + 10 tracks of 30 s
#                                      # data/corpus-unseen: 10 test tracks
#   make corpus CORPUS=/big/disk/corpus CORPUS_TRAIN=1000 CORPUS_SEED=2 CORPUS_JOBS=8
#
# CORPUS/train/<track>/{mixture,vocals,drums,bass,other}.wav and CORPUS/test/...
# (44.1 kHz stereo float WAV). Deterministic by CORPUS_SEED (and tf-corpus's
# generator version, recorded in CORPUS/corpus.txt); a second run makes only
# the tracks that are missing (raise CORPUS_TRAIN to add more: the existing
# tracks stay the same).
#
# The training corpus draws each stem's soundfont from SOUNDFONTS and its
# singer from the default singers. UNSEEN is a test split rendered only with
# HELDOUT_SOUNDFONT (Debian's TimGM6mb) and the held-out singers (mezzo,
# bass-baritone): how a model does on timbres and voices it never heard.
# Point the training at real MUSDB18 instead by giving it that tree: the
# layout is the same. See man/tf-corpus.1.
CORPUS            ?= data/corpus
UNSEEN            ?= $(CORPUS)-unseen
CORPUS_TRAIN      ?= 150
CORPUS_TEST       ?= 10
CORPUS_SECONDS    ?= 30
CORPUS_JOBS       ?= 2
CORPUS_SEED       ?= 11
UNSEEN_SEED       ?= 12
SF2               := /usr/share/sounds/sf2
SOUNDFONTS        ?= $(SF2)/FluidR3_GM.sf2 /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 $(SF2)/OPL-3_FM_128M.sf2
HELDOUT_SOUNDFONT ?= $(SF2)/TimGM6mb.sf2

.PHONY: corpus
corpus: bin/tf-corpus
	bin/tf-corpus -o '$(CORPUS)' --seed $(CORPUS_SEED) --train $(CORPUS_TRAIN) --test $(CORPUS_TEST) \
		--seconds $(CORPUS_SECONDS) --jobs $(CORPUS_JOBS) $(foreach f,$(SOUNDFONTS),--soundfont '$(f)') -v
	bin/tf-corpus -o '$(UNSEEN)' --seed $(UNSEEN_SEED) --train 0 --test $(CORPUS_TEST) \
		--seconds $(CORPUS_SECONDS) --jobs $(CORPUS_JOBS) --soundfont '$(HELDOUT_SOUNDFONT)' --singers held-out -v
	@du -sh '$(CORPUS)' '$(UNSEEN)'

# make sweep: the architecture sweep (bench/arch_sweep.sh) goes on from its
# committed state in bench/sweep/runs, on the corpus above, until each
# candidate has had SWEEP_CPU CPU seconds; make plot draws every run's
# learning curves into build/plots/ (gnuplot).
SWEEP_DIR  ?= bench/sweep/runs
SWEEP_CPU  ?= 3600
SWEEP_CAND ?= compact bench/sweep/c2048.json bench/sweep/mid.json

# make train: the training run under way, resumed from its committed state
# in models/training/ on the corpus above: the depth-3 configuration grown
# from the shipped model again, on 600 training songs instead of 150
# (README, "The next model"); its corpus is made by
#
#   make corpus CORPUS_TRAIN=600       # the 150 stay as they are, 450 added (about 32 GB)
#
# (tf-train refuses a corpus of another size: the state records it). It
# runs to the run's last step; Ctrl-C (SIGINT) or SIGTERM makes tf-train
# save model and state after the step under way, so that every sitting, on
# any machine, goes on where the last one stopped (commit the state).
# THREADS=N and EMA=D as in pipelines/train.mk (the runs keep the
# parameters' moving average, decay 0.995: the model file is the average).
# The earlier runs, on the 150 songs of the default corpus:
# TRAIN_RUN=models/training/deep-g3.bin (the shipped model's run),
# deep3-g3.bin (depths 1,1,3,3, grown from deep-g3.bin's last step), compact-g3.bin (the
# compact configuration it grew from) and karaoke-g3.bin (two stems).
TRAIN_RUN ?= models/training/deep3-s600.bin

.PHONY: sweep plot train
train: $(PROGDIR)/tf-train
	@test -d '$(CORPUS)/train' || { echo 'train: $(CORPUS)/train not found: make corpus first' >&2; exit 1; }
	$(MAKE) --no-print-directory -f pipelines/train.mk CORPUS='$(CORPUS)' OUT='$(TRAIN_RUN)' BIN='$(PROGDIR)/' $(if $(THREADS),THREADS=$(THREADS)) $(if $(EMA),EMA=$(EMA))

sweep: $(PROGDIR)/tf-train
	@test -d '$(CORPUS)/train' || { echo 'sweep: $(CORPUS)/train not found: make corpus first' >&2; exit 1; }
	TF_TRAIN='$(PROGDIR)/tf-train' bench/arch_sweep.sh '$(CORPUS)' '$(SWEEP_DIR)' $(SWEEP_CPU) $(SWEEP_CAND)

plot:
	@mkdir -p build/plots
	@for f in $(SWEEP_DIR)/*.csv; do \
		n=$$(basename "$$f" .csv); \
		gnuplot -e "csv='$$f'; png='build/plots/$$n.png'; title='$$n'" pipelines/plot.gp && echo "build/plots/$$n.png"; \
	done
