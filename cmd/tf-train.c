/* tf-train: trains TFSWA-UNet on a dataset in MUSDB18's layout, from
 * scratch (a named or JSON configuration) or from a model file, with
 * AdamW on the L1 loss of the separated spectrograms; writes a model file
 * that tf-unet runs as it is, and a training state to resume from. */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "import/import.h"
#include "metrics/sdr.h"
#include "model.h"
#include "modelpath.h"
#include "quant.h"
#include "segment.h"
#include "tensor.h"
#include "timing.h"
#include "train/csvlog.h"
#include "train/augment.h"
#include "train/dataset.h"
#include "train/ema.h"
#include "train/init.h"
#include "train/loss.h"
#include "train/spec.h"
#include "train/state.h"
#include "unet.h"
#include "unet_train.h"
#include "threads.h"

/* Examples drawn to estimate the input scale of a new model. */
#define SCALE_EXAMPLES 16

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-train (--init NAME|CONFIG.json | -m MODEL | --resume STATE) [options] DATASET\n"
		"Trains TFSWA-UNet on DATASET/train/<track>/{mixture,<stem>}.wav (MUSDB18's layout),\n"
		"validating on DATASET/test (or on --valid tracks held out of train/ when there is no test/).\n\n"
		"Where to start (one of):\n"
		"      --init NAME|FILE   from scratch: a named configuration (%s)\n"
		"                         or a JSON config (tf-export's keys) on top of \"default\"\n"
		"      --grow MODEL       with --init: start from MODEL's weights, the configuration's\n"
		"                         extra blocks (more per stage) adding 0 until trained;\n"
		"                         with --stems, the stems it shares keep its mask head\n"
		"  -m, --model MODEL      fine-tune a model (file or name; e.g. imported with tf-export)\n"
		"      --resume FILE      continue a training state exactly where it stopped\n"
		"Outputs (written atomically at every epoch's end and at the end):\n"
		"  -o, --output FILE      the model file\n"
		"      --state FILE       the training state (for --resume)\n"
		"Training settings (kept by a resumed run):\n"
		"      --seed N           random seed (default 0)\n"
		"      --steps N          optimiser steps in all (default 1000)\n"
		"      --batch N          examples per step (default 4)\n"
		"      --segment-seconds S  length of an example (default 3)\n"
		"      --stems A,B,...    stem names (default: the configuration's; accompaniment without\n"
		"                         its own WAV is drums + bass + other)\n"
		"      --lr X             peak learning rate (default 1e-3)\n"
		"      --lr-min X         cosine floor (default 0)\n"
		"      --schedule KIND    cosine, step or constant after the warm-up (default cosine)\n"
		"      --warmup N         linear warm-up steps (default steps/20)\n"
		"      --step-size N      step schedule: multiply by --gamma every N steps (default 1000)\n"
		"      --gamma X          (default 0.5)\n"
		"      --beta1 X --beta2 X --eps X   Adam's constants (default 0.9, 0.999, 1e-8)\n"
		"      --weight-decay X   decoupled weight decay of conv and linear weights (default 0.01)\n"
		"      --clip X           clip the gradient's global norm to X; 0: never (default 5)\n"
		"      --wave-loss W      add W x the waveform L1 through the iSTFT (default 0)\n"
		"      --gain LO,HI       random gain per stem (default 0.25,1.25)\n"
		"      --no-swap          no random channel swap\n"
		"      --no-remix         all stems of an example from one track and offset\n"
		"      --silence-db DB    redraw examples whose stems are all quieter (default -60)\n"
		"      --overfit          train on one fixed batch (to check that the loss falls)\n"
		"      --qat              quantisation-aware: the passes see the int8-rounded weights\n"
		"                         that tf-quant -t q8/q8s will store and int8-rounded inputs\n"
		"                         of those layers (straight-through gradients)\n"
		"Run options:\n"
		"      --valid N          validation tracks (default 2; 0: none; a resumed run keeps its own)\n"
		"      --until N          stop after step N (default: --steps)\n"
		"      --epoch-steps N    steps per epoch: validate and save after each (default 100)\n"
		"      --valid-seconds S  seconds of each validation track, from its middle (default 10;\n"
		"                         a resumed run keeps its own)\n"
		"      --ema D            keep a moving average of the parameters, decay D per step (0 to\n"
		"                         0.99999; 0: none, the default): the model file and validation\n"
		"                         use it. A resumed run keeps its own unless given again\n"
		"      --mask-norm HOW    the loss sees the masks raw (the default) or normalised as\n"
		"                         tf-unet --mask-norm sum1 or power makes them (its gradient goes\n"
		"                         through the normalisation). A resumed run keeps its own unless\n"
		"                         given again\n"
		"      --checkpoint       recompute blocks in the backward pass (less memory)\n"
		"      --log-every N      progress line every N steps when stderr is no terminal (default 10)\n"
		"      --csv FILE         progress as CSV too: loss every --log-every steps, validation SDR\n"
		"                         per stem (appended to by resumed runs; make plot draws it)\n"
		"  -j, --threads N        threads (default: all cores)\n"
		"  -q, --quiet            no progress or epoch reports\n"
		"  -v, --verbose          say more\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n",
		train_config_names());
}

/* Options that set training settings, which a resumed run must not change. */
enum {
	O_INIT = 256, O_RESUME, O_STATE, O_SEED, O_STEPS, O_BATCH, O_SEGSEC, O_STEMS, O_LR, O_LRMIN,
	O_SCHED, O_WARMUP, O_STEPSIZE, O_GAMMA, O_BETA1, O_BETA2, O_EPS, O_WD, O_CLIP, O_WAVE, O_GAIN,
	O_NOSWAP, O_NOREMIX, O_SILENCE, O_OVERFIT, O_QAT, O_VALID, O_UNTIL, O_EPOCH, O_VALSEC, O_CKPT, O_LOGEVERY, O_CSV,
	O_EMA, O_MASKNORM, O_GROW, O_LAST
};

struct args {
	const char *init, *model, *resume, *out, *state, *data, *stems, *csv, *grow;
	struct train_settings set;
	int warmup_given, valid;
	int64_t until, epoch_steps, log_every;
	double valid_seconds, ema;
	int mask_norm;
	int checkpoint, threads;
	unsigned char given[O_LAST];
};

static void parse_gain(const char *s, double *lo, double *hi)
{
	char *comma = strchr(s, ','), buf[64];
	if (!comma || (size_t)(comma - s) >= sizeof buf)
		die("--gain: want LO,HI (e.g. 0.25,1.25), got '%s'", s);
	memcpy(buf, s, (size_t)(comma - s));
	buf[comma - s] = 0;
	*lo = parse_double(buf, "--gain", 1e-6, 100);
	*hi = parse_double(comma + 1, "--gain", 1e-6, 100);
	if (*lo > *hi)
		die("--gain: low %g above high %g", *lo, *hi);
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"init", required_argument, 0, O_INIT},        {"model", required_argument, 0, 'm'},
		{"resume", required_argument, 0, O_RESUME},    {"output", required_argument, 0, 'o'},
		{"state", required_argument, 0, O_STATE},      {"seed", required_argument, 0, O_SEED},
		{"steps", required_argument, 0, O_STEPS},      {"batch", required_argument, 0, O_BATCH},
		{"segment-seconds", required_argument, 0, O_SEGSEC},
		{"stems", required_argument, 0, O_STEMS},      {"lr", required_argument, 0, O_LR},
		{"lr-min", required_argument, 0, O_LRMIN},     {"schedule", required_argument, 0, O_SCHED},
		{"warmup", required_argument, 0, O_WARMUP},    {"step-size", required_argument, 0, O_STEPSIZE},
		{"gamma", required_argument, 0, O_GAMMA},      {"beta1", required_argument, 0, O_BETA1},
		{"beta2", required_argument, 0, O_BETA2},      {"eps", required_argument, 0, O_EPS},
		{"weight-decay", required_argument, 0, O_WD},  {"clip", required_argument, 0, O_CLIP},
		{"wave-loss", required_argument, 0, O_WAVE},   {"gain", required_argument, 0, O_GAIN},
		{"no-swap", no_argument, 0, O_NOSWAP},         {"no-remix", no_argument, 0, O_NOREMIX},
		{"silence-db", required_argument, 0, O_SILENCE}, {"overfit", no_argument, 0, O_OVERFIT},
		{"qat", no_argument, 0, O_QAT},
		{"valid", required_argument, 0, O_VALID},      {"until", required_argument, 0, O_UNTIL},
		{"epoch-steps", required_argument, 0, O_EPOCH}, {"valid-seconds", required_argument, 0, O_VALSEC},
		{"checkpoint", no_argument, 0, O_CKPT},        {"log-every", required_argument, 0, O_LOGEVERY},
		{"csv", required_argument, 0, O_CSV},          {"ema", required_argument, 0, O_EMA},
		{"mask-norm", required_argument, 0, O_MASKNORM}, {"grow", required_argument, 0, O_GROW},
		{"threads", required_argument, 0, 'j'},        {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},              {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},              {0, 0, 0, 0}};
	struct train_settings *s = &a->set;
	int opt;
	memset(a, 0, sizeof *a);
	s->batch = 4, s->segment_seconds = 3.0;
	s->lr = (struct lr_schedule){LR_COSINE, 1e-3, 0.0, 0, 1000, 1000, 0.5};
	s->adam = (struct adamw){0.9, 0.999, 1e-8, 0.01};
	s->clip = 5.0;
	s->aug = (struct augment){0, 0.25, 1.25, 1, 1, -60.0};
	a->valid = 2, a->until = -1, a->epoch_steps = 100, a->log_every = 10, a->valid_seconds = 10;
	while ((opt = getopt_long(argc, argv, "m:o:j:qvhV", opts, NULL)) != -1) {
		if (opt >= O_INIT && opt < O_LAST)
			a->given[opt] = 1;
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case O_INIT: a->init = optarg; break;
		case O_GROW: a->grow = optarg; break;
		case 'm': a->model = optarg; break;
		case O_RESUME: a->resume = optarg; break;
		case 'o': a->out = optarg; break;
		case O_STATE: a->state = optarg; break;
		case O_SEED: s->seed = (uint64_t)parse_long(optarg, "--seed", 0, INT64_MAX); break;
		case O_STEPS: s->lr.total = parse_long(optarg, "--steps", 1, (long)1 << 40); break;
		case O_BATCH: s->batch = (int)parse_long(optarg, "--batch", 1, TRAIN_MAX_BATCH); break;
		case O_SEGSEC: s->segment_seconds = parse_double(optarg, "--segment-seconds", 0.01, 600); break;
		case O_STEMS: a->stems = optarg; break;
		case O_LR: s->lr.lr = parse_double(optarg, "--lr", 1e-12, 1); break;
		case O_LRMIN: s->lr.lr_min = parse_double(optarg, "--lr-min", 0, 1); break;
		case O_SCHED:
			if (lr_kind_from_name(optarg) < 0)
				die("--schedule: '%s' is not one of cosine, step, constant", optarg);
			s->lr.kind = (enum lr_kind)lr_kind_from_name(optarg);
			break;
		case O_WARMUP: s->lr.warmup = parse_long(optarg, "--warmup", 0, (long)1 << 40); a->warmup_given = 1; break;
		case O_STEPSIZE: s->lr.step_size = parse_long(optarg, "--step-size", 1, (long)1 << 40); break;
		case O_GAMMA: s->lr.gamma = parse_double(optarg, "--gamma", 1e-6, 1); break;
		case O_BETA1: s->adam.beta1 = parse_double(optarg, "--beta1", 0, 0.999999); break;
		case O_BETA2: s->adam.beta2 = parse_double(optarg, "--beta2", 0, 0.999999999); break;
		case O_EPS: s->adam.eps = parse_double(optarg, "--eps", 1e-30, 0.1); break;
		case O_WD: s->adam.weight_decay = parse_double(optarg, "--weight-decay", 0, 1); break;
		case O_CLIP: s->clip = parse_double(optarg, "--clip", 0, 1e9); break;
		case O_WAVE: s->wave_loss = parse_double(optarg, "--wave-loss", 0, 1e6); break;
		case O_GAIN: parse_gain(optarg, &s->aug.gain_lo, &s->aug.gain_hi); break;
		case O_NOSWAP: s->aug.swap = 0; break;
		case O_NOREMIX: s->aug.remix = 0; break;
		case O_SILENCE: s->aug.silence_db = parse_double(optarg, "--silence-db", -400, 0); break;
		case O_OVERFIT: s->overfit = 1; break;
		case O_QAT: s->qat = 1; break;
		case O_VALID: a->valid = (int)parse_long(optarg, "--valid", 0, 1000); break;
		case O_UNTIL: a->until = parse_long(optarg, "--until", 0, (long)1 << 40); break;
		case O_EPOCH: a->epoch_steps = parse_long(optarg, "--epoch-steps", 1, (long)1 << 40); break;
		case O_VALSEC: a->valid_seconds = parse_double(optarg, "--valid-seconds", 0.1, 3600); break;
		case O_CKPT: a->checkpoint = 1; break;
		case O_LOGEVERY: a->log_every = parse_long(optarg, "--log-every", 1, (long)1 << 40); break;
		case O_CSV: a->csv = optarg; break;
		case O_EMA: a->ema = parse_double(optarg, "--ema", 0, EMA_MAX_DECAY); break;
		case O_MASKNORM:
			if ((a->mask_norm = mask_norm_parse(optarg)) < 0)
				die("--mask-norm %s: one of raw, sum1, power", optarg);
			break;
		case 'j': a->threads = (int)parse_long(optarg, "--threads", 1, 1024); break;
		default: usage(stderr); exit(2);
		}
	}
	if (argc - optind != 1)
		die(argc - optind ? "one dataset directory, please (see --help)" : "no dataset given (see --help)");
	a->data = argv[optind];
	if (!!a->init + !!a->model + !!a->resume != 1)
		die("say where to start with exactly one of --init NAME|CONFIG.json, -m MODEL, --resume STATE");
	if (a->grow && !a->init)
		die("--grow MODEL goes with --init CONFIG.json: the deeper configuration to grow the model into");
	if (!a->out && !a->state)
		die("nothing would be kept: give -o MODEL and/or --state FILE");
	if (a->resume) {
		/* the settings are the state's; changing them would not continue the same run */
		static const int fixed[] = {O_SEED, O_STEPS, O_BATCH, O_SEGSEC, O_STEMS, O_LR, O_LRMIN, O_SCHED,
					    O_WARMUP, O_STEPSIZE, O_GAMMA, O_BETA1, O_BETA2, O_EPS, O_WD, O_CLIP,
					    O_WAVE, O_GAIN, O_NOSWAP, O_NOREMIX, O_SILENCE, O_OVERFIT, O_QAT};
		for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
			if (a->given[fixed[i]]) {
				const char *name = "";
				for (const struct option *o = opts; o->name; o++)
					if (o->val == fixed[i])
						name = o->name;
				die("--%s: a resumed run keeps the settings of its state (start a new run to change them)",
				    name);
			}
	}
	if (!a->warmup_given)
		s->lr.warmup = s->lr.total / 20;
	if (s->lr.warmup > s->lr.total)
		die("--warmup %lld: more than --steps %lld", (long long)s->lr.warmup, (long long)s->lr.total);
	if (s->lr.lr_min > s->lr.lr)
		die("--lr-min %g: above --lr %g", s->lr.lr_min, s->lr.lr);
}

static int is_dir(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (!p)
		die("out of memory");
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void set_stems(struct unet_config *c, const char *list)
{
	struct import_settings s = {0};
	if (import_settings_stems(&s, list))
		die_lib("--stems");
	c->nstems = s.c.nstems;
	memcpy(c->stems, s.c.stems, sizeof c->stems);
}

/* The configuration of a new model: named, or a JSON file over "default".
 * *fixed_io: the JSON set the sample rate or the channels (else the data do). */
static void config_new(struct unet_config *c, const char *init, unsigned *set)
{
	*set = 0;
	if (!strchr(init, '/') && !strchr(init, '.')) {
		if (train_config_named(c, init))
			die_lib("--init");
		return;
	}
	struct import_settings s = {0};
	if (import_settings_json(&s, init))
		die_lib("--init");
	train_config_named(c, "default");
	struct import_settings base = {0, *c};
	import_settings_merge(&base, &s);
	*c = base.c;
	*set = s.set;
}

/* Everything a step works on, sized once. */
struct batch {
	int B, S, C, F, T;
	int64_t L;
	float *audio;   /* [B][S][C][L] stems */
	float *mixwav;  /* [B][C][L] */
	float *Xmix;    /* [B][C][F][T] complex */
	float *Xtgt;    /* [B][S][C][F][T] complex */
	float *input;   /* [B][2C][F][T] */
	float *masks, *dmasks; /* [B][S*C][F][T] */
};

static void batch_alloc(struct batch *b, int B, int S, int C, int F, int T, int64_t L)
{
	size_t plane = (size_t)F * T;
	*b = (struct batch){B, S, C, F, T, L, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	b->audio = tf_alloc((size_t)B * S * C * (size_t)L, sizeof(float));
	b->mixwav = tf_alloc((size_t)B * C * (size_t)L, sizeof(float));
	b->Xmix = tf_alloc((size_t)B * C * plane * 2, sizeof(float));
	b->Xtgt = tf_alloc((size_t)B * S * C * plane * 2, sizeof(float));
	b->input = tf_alloc((size_t)B * 2 * C * plane, sizeof(float));
	b->masks = tf_alloc((size_t)B * S * C * plane, sizeof(float));
	b->dmasks = tf_alloc((size_t)B * S * C * plane, sizeof(float));
	if (!b->audio || !b->mixwav || !b->Xmix || !b->Xtgt || !b->input || !b->masks || !b->dmasks)
		die_lib("batch buffers");
}

static void batch_free(struct batch *b)
{
	free(b->audio), free(b->mixwav), free(b->Xmix), free(b->Xtgt);
	free(b->input), free(b->masks), free(b->dmasks);
}

/* Draws B examples, then their spectrograms and the network's input. */
static void batch_draw(struct batch *b, const struct dataset *d, const struct augment *aug, struct rng *r,
		       int64_t *skipped)
{
	size_t per = (size_t)b->C * (size_t)b->L;
	for (int i = 0; i < b->B; i++)
		if (augment_draw(d, aug, r, b->audio + (size_t)i * b->S * per, b->mixwav + (size_t)i * per, skipped))
			die_lib("drawing a training example");
}

static void batch_spectra(struct batch *b, const struct spec *sp, float scale)
{
	int B = b->B, S = b->S, C = b->C, rows = B * (S + 1) * C, failed = 0;
	size_t plane = (size_t)b->F * b->T;
#pragma omp parallel for schedule(dynamic)
	for (int r = 0; r < rows; r++) {
		int i = r / ((S + 1) * C), s = r / C % (S + 1), c = r % C;
		const float *x;
		float *X;
		if (s < S) {
			x = b->audio + (((size_t)i * S + s) * C + c) * (size_t)b->L;
			X = b->Xtgt + (((size_t)i * S + s) * C + c) * plane * 2;
		} else {
			x = b->mixwav + ((size_t)i * C + c) * (size_t)b->L;
			X = b->Xmix + ((size_t)i * C + c) * plane * 2;
		}
		if (spec_stft(sp, x, b->L, X))
#pragma omp atomic write
			failed = 1;
	}
	if (failed)
		die_lib("STFT");
	/* the model's input: all real parts, then all imaginary parts, scaled */
	for (int i = 0; i < B; i++)
		for (int c = 0; c < C; c++) {
			const float *X = b->Xmix + ((size_t)i * C + c) * plane * 2;
			float *re = b->input + ((size_t)i * 2 * C + c) * plane, *im = re + (size_t)C * plane;
			for (size_t k = 0; k < plane; k++)
				re[k] = X[2 * k] * scale, im[k] = X[2 * k + 1] * scale;
		}
}

/* 1 / the RMS magnitude of the mixture spectrogram over a few examples
 * drawn with their own generator: the scale that gives the network inputs
 * of about unit size. */
static double estimate_scale(struct batch *b, const struct dataset *d, const struct augment *aug,
			     const struct spec *sp, uint64_t seed)
{
	struct rng r;
	double sum = 0, n = 0;
	size_t plane = (size_t)b->F * b->T;
	rng_seed(&r, seed ^ 0x5ca1e5ca1eull);
	for (int k = 0; k < (SCALE_EXAMPLES + b->B - 1) / b->B; k++) {
		batch_draw(b, d, aug, &r, NULL);
		batch_spectra(b, sp, 1.0f);
		for (size_t i = 0; i < (size_t)b->B * b->C * plane * 2; i++)
			sum += (double)b->Xmix[i] * b->Xmix[i];
		n += (double)b->B * b->C * plane;
	}
	return sum > 0 ? 1.0 / sqrt(sum / n) : 1.0;
}

/* The activation storage of a step. When keeping every activation would
 * take more than half the machine's memory, only the blocks' inputs are
 * kept and the blocks recomputed in the backward pass (the same gradients,
 * bit for bit, so this changes nothing but time and memory). */
static struct unet_train *train_workspace(const struct model *m, int B, int F, int T, int checkpoint, int threads)
{
	double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	struct unet_train *ut = unet_train_new(m, B, F, T, checkpoint, threads);
	if (ut && !checkpoint && phys > 0 && (double)unet_train_bytes(ut) > phys / 2) {
		info("keeping every activation would take %.0f MB of %.0f MB: recomputing blocks instead",
		     unet_train_bytes(ut) / 1e6, phys / 1e6);
		unet_train_free(ut);
		ut = unet_train_new(m, B, F, T, 1, threads);
	}
	if (!ut)
		die_lib("training workspace");
	if (phys > 0 && (double)unet_train_bytes(ut) > phys * 0.8)
		die("a step of %d examples of %d x %d needs %.0f MB of activations, more than this machine's %.0f MB "
		    "allows; lower --batch or --segment-seconds", B, F, T, unet_train_bytes(ut) / 1e6, phys / 1e6);
	return ut;
}

/* ---------- validation: the inference path on held-out excerpts ---------- */

struct collect {
	float *stems;  /* [S][C][F][T] complex */
	float *normed; /* [S*C][F][T]: a chunk's masks (at most T frames; a model with segment 0
			* hands the whole excerpt at once) as tf-unet's default normalises them */
	int S, C, F, T;
};

static int collect_chunk(void *ctx, const float *masks, const float *mix, int64_t first, int n)
{
	struct collect *k = ctx;
	size_t chunk = (size_t)k->F * n;
	mask_normalize(k->normed, masks, k->S, k->C, k->F, n, MASK_NORM_DEFAULT);
	masks = k->normed;
	for (int s = 0; s < k->S; s++)
		for (int c = 0; c < k->C; c++) {
			const float *m = masks + ((size_t)s * k->C + c) * chunk, *x = mix + (size_t)c * chunk * 2;
			float *o = k->stems + (((size_t)s * k->C + c) * k->F) * k->T * 2;
			for (int f = 0; f < k->F; f++)
				for (int t = 0; t < n; t++) {
					size_t at = ((size_t)f * k->T + (size_t)(first + t)) * 2, in = (size_t)f * n + t;
					o[at] = m[in] * x[2 * in];
					o[at + 1] = m[in] * x[2 * in + 1];
				}
		}
	return 0;
}

/* The global SDR of every stem of the first n tracks of v, as tf-unet
 * would separate them (its default --mask-norm); sdr[s] is the mean over
 * tracks. */
static void validate(const struct model *m, const struct dataset *v, int n, double seconds, const struct spec *sp,
		     double *sdr)
{
	const struct unet_config *c = &m->cfg;
	int S = c->nstems, C = c->channels, F = spec_bins(sp);
	struct unet *u = unet_prepare(m);
	if (!u)
		die_lib("validation");
	for (int s = 0; s < S; s++)
		sdr[s] = 0;
	for (int t = 0; t < n; t++) {
		int64_t frames = v->tracks[t].frames, L = (int64_t)(seconds * c->sample_rate);
		if (L > frames)
			L = frames;
		int64_t off = (frames - L) / 2;
		int T = (int)spec_frames(sp, L);
		size_t plane = (size_t)F * T;
		float *ref = tf_alloc((size_t)(S + 1) * C * (size_t)L, sizeof(float));
		float *X = tf_alloc((size_t)C * plane * 2, sizeof(float));
		float *est = tf_alloc((size_t)S * C * (size_t)L, sizeof(float));
		struct collect k = {tf_calloc((size_t)S * C * plane * 2, sizeof(float)),
				    tf_alloc((size_t)S * C * plane, sizeof(float)), S, C, F, T};
		if (!ref || !X || !est || !k.stems || !k.normed)
			die_lib("validation");
		for (int s = 0; s <= S; s++)
			if (dataset_read(v, t, s, off, L, ref + (size_t)s * C * (size_t)L))
				die_lib("validation");
		const float *mix = ref + (size_t)S * C * (size_t)L;
		for (int ch = 0; ch < C; ch++)
			if (spec_stft(sp, mix + (size_t)ch * (size_t)L, L, X + (size_t)ch * plane * 2))
				die_lib(v->tracks[t].name);
		struct segmenter *seg = segmenter_new(u, F, c->segment, c->overlap, 0);
		if (!seg || segmenter_push(seg, X, T, collect_chunk, &k) || segmenter_finish(seg, collect_chunk, &k))
			die_lib("validation");
		segmenter_free(seg);
		for (int r = 0; r < S * C; r++)
			if (spec_istft(sp, k.stems + (size_t)r * plane * 2, T, L, est + (size_t)r * (size_t)L))
				die_lib("validation");
		for (int s = 0; s < S; s++)
			sdr[s] += global_sdr(ref + (size_t)s * C * (size_t)L, est + (size_t)s * C * (size_t)L,
					     (size_t)C * (size_t)L) / n;
		free(ref), free(X), free(est), free(k.stems), free(k.normed);
	}
	unet_free(u);
}

/* One line: the validation SDR of every stem (into sdr) and their mean. */
static void report_validation(const struct train_state *st, const struct dataset *v, int n, double seconds,
			      const struct spec *sp, int epoch_end, double *sdr)
{
	const struct unet_config *c = &st->m.cfg;
	double mean = 0;
	char line[1024];
	int at = 0;
	struct model m = train_state_model(st); /* the model file's parameters */
	validate(&m, v, n, seconds, sp, sdr);
	for (int s = 0; s < c->nstems; s++) {
		at += snprintf(line + at, sizeof line - (size_t)at, " %s %.2f", c->stems[s], sdr[s]);
		mean += sdr[s] / c->nstems;
	}
	if (verbose >= 0)
		fprintf(stderr, "%s: %s %lld (step %lld): validation SDR (dB, %d track%s):%s; mean %.2f\n", progname,
		epoch_end ? "epoch" : "stopped in epoch", (long long)(epoch_end ? st->epoch : st->epoch + 1),
		(long long)st->step, n, n == 1 ? "" : "s", line, mean);
}

/* ---------- provenance ---------- */

/* The data directory's own name ("corpus" for /work/data/g3/corpus or
 * for . inside it): where it sat on one machine says nothing about how to
 * make it again. */
static void directory_name(char *out, size_t n, const char *data)
{
	char *full = realpath(data, NULL);
	const char *p = full ? full : data;
	size_t end = strlen(p), start;
	while (end > 1 && p[end - 1] == '/')
		end--;
	for (start = end; start > 0 && p[start - 1] != '/'; start--)
		;
	if (start == end) /* the root */
		start = 0;
	snprintf(out, n, "%.*s", (int)(end - start), p + start);
	free(full);
}

/* DATA/corpus.txt (tf-corpus's manifest) in one line: "tf-corpus generator
 * 2, seed 11, 30 s songs (corpus); soundfonts FluidR3_GM, ..."; else the
 * directory's name. */
static void describe_corpus(char *out, size_t n, const char *data)
{
	char *path = join(data, "corpus.txt"), line[4200], key[32], val[4096], dir[256];
	char gen[32] = "?", seed[32] = "?", secs[32] = "?", fonts[2048] = "";
	FILE *fp = fopen(path, "r");
	free(path);
	directory_name(dir, sizeof dir, data);
	if (!fp) {
		snprintf(out, n, "%s (no corpus.txt)", dir);
		return;
	}
	while (fgets(line, sizeof line, fp)) {
		if (sscanf(line, "%31s %4095s", key, val) != 2)
			continue;
		if (!strcmp(key, "generator"))
			snprintf(gen, sizeof gen, "%.31s", val);
		else if (!strcmp(key, "seed"))
			snprintf(seed, sizeof seed, "%.31s", val);
		else if (!strcmp(key, "seconds"))
			snprintf(secs, sizeof secs, "%.31s", val);
		else if (!strcmp(key, "soundfont")) {
			const char *base = strrchr(val, '/') ? strrchr(val, '/') + 1 : val;
			size_t len = strcspn(base, ".");
			size_t at = strlen(fonts);
			snprintf(fonts + at, sizeof fonts - at, "%s%.*s", at ? ", " : "", (int)len, base);
		}
	}
	fclose(fp);
	snprintf(out, n, "tf-corpus generator %s, seed %s, %s s songs (%s); soundfonts %s", gen, seed, secs, dir,
		 fonts[0] ? fonts : "none listed");
}

/* Where the model comes from, in its header (formats/model.md): the corpus
 * and seed of a run from scratch, and the run's settings after what a model
 * it was fine-tuned from already says. Only settings, no paths or options
 * that do not change the result, so that a run resumed from its state
 * writes the same file as one run straight through. */
static void record_provenance(struct train_state *st, const struct args *a)
{
	struct model_provenance *p = &st->m.cfg.prov;
	const struct train_settings *t = &st->set;
	char run[MODEL_PROV_TEXT], ema[48] = "", norm[32] = "", stems[MODEL_PROV_TEXT / 4] = "";
	if (a->resume && p->training[0])
		return; /* the state carries it from the run's start */
	/* else a state from before provenance was recorded: it is named */
	if (st->ema > 0)
		snprintf(ema, sizeof ema, ", parameters averaged (ema %g)", st->ema);
	if (a->stems)
		snprintf(stems, sizeof stems, " --stems %s", a->stems);
	if (st->mask_norm != MASK_RAW)
		snprintf(norm, sizeof norm, ", loss on %s masks", mask_norm_name(st->mask_norm));
	snprintf(run, sizeof run,
		 "tf-train %s %s%s%s%s: batch %d, segments of %.6g s, lr %.3g (%s), %lld steps planned, seed %llu%s%s%s%s",
		 a->init ? "--init" : a->model ? "-m" : "--resume", a->init ? a->init : a->model ? a->model : a->resume,
		 stems, a->grow ? " --grow " : "", a->grow ? a->grow : "",
		 t->batch, t->segment_seconds, t->lr.lr,
		 lr_kind_name(t->lr.kind), (long long)t->lr.total, (unsigned long long)t->seed,
		 t->wave_loss > 0 ? ", waveform loss" : "", t->qat ? ", QAT" : "", ema, norm);
	if ((a->init && !a->grow) || !p->corpus[0])
		describe_corpus(p->corpus, sizeof p->corpus, a->data);
	if (!a->model && !a->grow)
		p->training[0] = 0;
	provenance_then(p, run);
	if (a->init && !a->grow)
		p->seed = (int64_t)t->seed;
	provenance_forget_scores(p);
}

/* A resumed run that changes the moving average or the loss's masks says
 * so in the training provenance (a run of other settings from here on):
 * "; from step N, <what>". */
static void note_change(struct model_provenance *p, int64_t step, const char *what)
{
	size_t len = strlen(p->training);
	snprintf(p->training + len, sizeof p->training - len, "; from step %lld, %s", (long long)step, what);
}

/* ---------- saving ---------- */

/* The model and the state go together: both are written out before
 * either is renamed into place, so a failure (a full disk) leaves neither
 * new one rather than a model without its state. */
static void save(const struct args *a, struct train_state *st)
{
	struct atomic_file model, state, *files[2];
	int n = 0;
	st->m.cfg.prov.steps = st->step;
	if (a->out) {
		struct model out = train_state_model(st); /* the average, if kept */
		if (atomic_open(&model, a->out) || model_write(&out, model.fp))
			die_lib(a->out);
		files[n++] = &model;
	}
	if (a->state) {
		if (atomic_open(&state, a->state) || train_state_write(st, state.fp))
			die_lib(a->state);
		files[n++] = &state;
	}
	if (atomic_commit_set(files, n))
		die_lib("saving");
}

/* ---------- interruption ---------- */

/* The first SIGINT or SIGTERM ends the run after the step under way, which
 * then saves the model and state as at an epoch's end (a resumed run goes
 * on exactly); a second one kills at once. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
	signal(sig, SIG_DFL);
}

/* ---------- progress ---------- */

static void fmt_duration(char *buf, size_t n, double s)
{
	if (!(s >= 0) || s > 1e8)
		snprintf(buf, n, "?");
	else if (s >= 3600)
		snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	else
		snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* ---------- the run ---------- */

/* What a run holds from its start to its end. */
struct run {
	struct args a;
	struct train_state st;
	struct unet_config cfg; /* where the run starts, before the data fills it in */
	unsigned json_set;      /* which settings a JSON configuration gave (SET_*) */
	int from_scratch;
	char *train_dir, *test_dir;
	struct dataset d, v;     /* training tracks; validation tracks (may alias d's) */
	int valid, holdout;      /* tracks validated on; of them held out of train/ */
	struct spec *sp;
	int F, T;                /* bins and frames of an example */
	int64_t L;               /* its samples */
	float scale;             /* the input scale the examples are multiplied by */
	struct batch b;
	struct unet_train *ut;
	struct loss_work *loss;  /* the loss's workspace */
	float *grad, *qat_keep;
	float *normed;           /* the masks the loss sees when st.mask_norm is not raw */
	struct train_csv csv;
	int64_t skipped;         /* silent examples redrawn */
	/* the loop's account */
	int64_t first;           /* the step the run started at */
	double start, t_data, t_fwd, t_bwd, t_opt;
	int line_open;           /* a live progress line waits for its newline */
};

/* Where the run starts: a state to resume, a model to fine-tune or a
 * configuration to build a new one from. */
static void start(struct run *r)
{
	struct args *a = &r->a;
	struct train_state *st = &r->st;
	r->from_scratch = a->init != NULL;
	if (a->resume) {
		if (train_state_load(st, a->resume))
			die_lib("--resume");
		r->cfg = st->m.cfg;
	} else if (a->model) {
		char model_file[4096];
		if (model_resolve(a->model, model_file, sizeof model_file) || model_load(&st->m, model_file))
			die_lib("");
		r->cfg = st->m.cfg;
		if (a->stems) {
			struct unet_config want = r->cfg;
			set_stems(&want, a->stems);
			if (want.nstems != r->cfg.nstems ||
			    memcmp(want.stems, r->cfg.stems, (size_t)r->cfg.nstems * sizeof r->cfg.stems[0]))
				die("--stems %s: the model separates other stems (its own: see tf-export --info)", a->stems);
		}
		st->set = a->set;
	} else {
		config_new(&r->cfg, a->init, &r->json_set);
		if (a->stems)
			set_stems(&r->cfg, a->stems);
		st->set = a->set;
	}
	if (a->until < 0 || a->until > st->set.lr.total)
		a->until = st->set.lr.total;
}

/* The data: every file checked before anything is trained or written. */
static void open_data(struct run *r)
{
	const struct args *a = &r->a;
	struct unet_config *cfg = &r->cfg;
	struct train_settings *set = &r->st.set;
	struct dataset *d = &r->d, *v = &r->v;
	r->train_dir = join(a->data, "train"), r->test_dir = join(a->data, "test");
	int rate = r->from_scratch && !(r->json_set & SET_SAMPLE_RATE) ? 0 : cfg->sample_rate;
	int channels = r->from_scratch && !(r->json_set & SET_CHANNELS) ? 0 : cfg->channels;
	if (!is_dir(r->train_dir))
		die("%s: no such directory (a dataset holds train/<track>/mixture.wav and a WAV per stem)",
		    r->train_dir);
	if (dataset_open(d, r->train_dir, (const char(*)[32])cfg->stems, cfg->nstems, rate, channels))
		die_lib("");
	if (r->from_scratch) {
		cfg->sample_rate = d->sample_rate;
		cfg->channels = d->channels;
		cfg->in_channels = 2 * cfg->channels;
		cfg->out_channels = cfg->nstems * cfg->channels;
	}
	/* validation: the first tracks of test/, or tracks held out of train/
	 * (a split a resumed run keeps). A resumed run validates as its state
	 * says unless told again; a version 1 state does not say: then the
	 * held-out tracks, or --valid's default on test/. */
	int valid = a->valid, holdout = 0;
	if (a->resume) {
		struct train_state *st = &r->st;
		if (!a->given[O_VALID] && st->valid >= 0)
			valid = st->valid;
		else if (!a->given[O_VALID] && set->holdout)
			valid = set->holdout;
		if (!a->given[O_VALSEC] && st->valid_seconds > 0)
			r->a.valid_seconds = st->valid_seconds;
		if (set->holdout && valid > set->holdout)
			die("--valid %d: the state holds %d tracks of train/ out for validation (start a new run to "
			    "hold out more)", valid, set->holdout);
		if (!set->holdout && valid && !is_dir(r->test_dir)) {
			if (a->given[O_VALID])
				die("--valid %d: %s has no test/ and the state holds no tracks of train/ out", valid,
				    a->data);
			valid = 0;
		}
	}
	r->st.valid = valid, r->st.valid_seconds = r->a.valid_seconds;
	int hold = a->resume ? set->holdout : is_dir(r->test_dir) ? 0 : valid;
	if (valid && !hold) {
		if (dataset_open(v, r->test_dir, (const char(*)[32])cfg->stems, cfg->nstems, d->sample_rate,
				 d->channels))
			die_lib("");
		if (valid > v->ntracks)
			valid = v->ntracks;
	} else if (hold) {
		if (d->ntracks <= hold)
			die("%s has no test/ and %d training tracks: too few to hold %d out for validation (--valid 0: none)",
			    a->data, d->ntracks, hold);
		holdout = hold;
		*v = *d;
		v->tracks = d->tracks + d->ntracks - holdout;
		v->ntracks = holdout;
		d->ntracks -= holdout;
	}
	if (a->resume && d->ntracks != set->tracks)
		die("%s: %d training tracks, but the state was trained on %d (resume on the same data)", r->train_dir,
		    d->ntracks, set->tracks);
	set->holdout = holdout, set->tracks = d->ntracks;
	r->valid = valid, r->holdout = holdout;

	for (int t = 0; t < valid && t < v->ntracks; t++)
		if (v->tracks[t].frames <= cfg->n_fft / 2)
			die("%s: %lld samples, too short to validate on with n_fft %d", v->tracks[t].dir,
			    (long long)v->tracks[t].frames, cfg->n_fft);
}

/* --grow: the new network takes the model's weights and its provenance
 * (corpus, seed of the run from scratch, training, which this run's
 * settings are appended to), as a model fine-tuned with -m keeps its own. */
static void grow(struct train_state *st, const char *name)
{
	char file[4096];
	struct model from;
	if (model_resolve(name, file, sizeof file) || model_load(&from, file))
		die_lib("--grow");
	if (train_grow(&st->m, &from))
		die_lib(file);
	st->m.cfg.prov = from.cfg.prov;
	model_free(&from);
}

/* The model and the optimiser, the example size, the batch and the
 * training workspace. */
static void prepare(struct run *r)
{
	const struct args *a = &r->a;
	const struct unet_config *cfg = &r->cfg;
	struct train_state *st = &r->st;
	struct train_settings *set = &st->set;
	set->aug.seg_len = (int64_t)llround(set->segment_seconds * cfg->sample_rate);
	if (!a->resume) {
		if (train_settings_validate(set))
			die_lib("");
		if (r->from_scratch) {
			struct rng init;
			rng_seed(&init, set->seed ^ 0x1417ull);
			if (model_init(&st->m, cfg))
				die_lib("configuration");
			train_init_params(&st->m, &init);
			if (a->grow)
				grow(st, a->grow);
		}
		model_to_f32(&st->m); /* trained in f32, written in f32 (a q8 model's int8 copies dropped) */
		rng_seed(&st->rng, set->seed);
		st->epoch_steps = a->epoch_steps;
		snprintf(st->dataset, sizeof st->dataset, "%s", a->data);
		st->ema = a->ema;
		st->mask_norm = a->mask_norm;
		if (train_state_alloc(st))
			die_lib("");
	} else if (a->given[O_EPOCH]) {
		st->epoch_steps = a->epoch_steps;
	}
	record_provenance(st, a);
	if (a->resume && a->given[O_EMA] && a->ema != st->ema) {
		char what[64];
		if (a->ema > 0)
			snprintf(what, sizeof what, "parameters averaged (ema %g)", a->ema);
		else
			snprintf(what, sizeof what, "no average");
		note_change(&st->m.cfg.prov, st->step, what);
		if (train_state_set_ema(st, a->ema))
			die_lib("--ema");
	}
	if (a->resume && a->given[O_MASKNORM] && a->mask_norm != st->mask_norm) {
		char what[64];
		snprintf(what, sizeof what, "loss on %s masks", mask_norm_name(a->mask_norm));
		note_change(&st->m.cfg.prov, st->step, what);
		st->mask_norm = a->mask_norm;
	}
	int S = cfg->nstems, C = cfg->channels;
	if (!(r->sp = spec_new(cfg->n_fft, cfg->hop)))
		die_lib("");
	int F = spec_bins(r->sp);
	int64_t L = set->aug.seg_len, T64 = spec_frames(r->sp, L);
	if (L <= cfg->n_fft / 2 || T64 < UNET_MIN_SIZE || F < UNET_MIN_SIZE)
		die("--segment-seconds %g gives %lld samples, %lld frames: the network needs at least %d frames of "
		    "%d bins (n_fft %d, hop %d)", set->segment_seconds, (long long)L, (long long)T64, UNET_MIN_SIZE, F,
		    cfg->n_fft, cfg->hop);
	if (T64 > 1 << 20)
		die("--segment-seconds %g is too long", set->segment_seconds);
	int T = (int)T64;
	r->F = F, r->T = T, r->L = L;
	if (!augment_eligible(&r->d, &set->aug))
		die("%s: no training track is as long as a segment (%g s); shorten --segment-seconds",
		    r->train_dir, set->segment_seconds);
	if (r->from_scratch && !a->resume && !a->grow && !(r->json_set & SET_SEGMENT)) {
		/* separate in segments as wide as the examples it learnt from */
		st->m.cfg.segment = T;
		st->m.cfg.overlap = r->json_set & SET_OVERLAP && st->m.cfg.overlap <= T / 2 ? st->m.cfg.overlap : T / 4;
	}
	batch_alloc(&r->b, set->batch, S, C, F, T, L);
	if (!a->resume && st->m.cfg.normalization == NORM_SCALE &&
	    !(r->from_scratch && (r->json_set & SET_INPUT_SCALE)) && r->from_scratch && !a->grow)
		st->m.cfg.input_scale = estimate_scale(&r->b, &r->d, &set->aug, r->sp, set->seed);
	r->scale = st->m.cfg.normalization == NORM_SCALE ? (float)st->m.cfg.input_scale : 1.0f;
	r->ut = train_workspace(&st->m, set->batch, F, T, a->checkpoint, a->threads);
	struct loss_shape sh = {set->batch, S, C, F, T};
	r->loss = loss_work_new(&sh, set->wave_loss > 0 ? r->sp : NULL, L, a->threads);
	r->grad = tf_alloc_aligned(st->m.nparams, sizeof(float));
	r->qat_keep = set->qat ? tf_alloc_aligned(st->m.nparams, sizeof(float)) : NULL;
	r->normed = st->mask_norm != MASK_RAW ? tf_alloc((size_t)set->batch * S * C * F * (size_t)T, sizeof(float)) : NULL;
	if (!r->loss || !r->grad || (set->qat && !r->qat_keep) || (st->mask_norm != MASK_RAW && !r->normed))
		die_lib("training workspace");
	unet_train_set_qat(r->ut, set->qat);
	info("%d training tracks, %d validation tracks%s; %d Hz, %d channels, stems %d; n_fft %d hop %d; "
	     "examples %d x %d frames; %lld parameters; input scale %g; %d threads; activations %.1f MB",
	     r->d.ntracks, r->v.ntracks, r->holdout ? " (held out of train/)" : "", cfg->sample_rate, C, S,
	     cfg->n_fft, cfg->hop, F, T, (long long)unet_param_count(&st->m.cfg), st->m.cfg.input_scale,
	     a->threads, unet_train_bytes(r->ut) / 1e6);

	/* --overfit: one batch, drawn with its own generator, every step */
	if (set->overfit) {
		struct rng fixed;
		rng_seed(&fixed, set->seed ^ 0xf1ced5eedull);
		batch_draw(&r->b, &r->d, &set->aug, &fixed, &r->skipped);
		batch_spectra(&r->b, r->sp, r->scale);
	}
}

/* The masks the loss sees: the network's, or (--mask-norm) each batch
 * item's normalised as tf-unet would. */
static const float *loss_masks(struct run *r)
{
	const struct unet_config *c = &r->st.m.cfg;
	size_t item = (size_t)c->nstems * c->channels * r->F * (size_t)r->T;
	if (r->st.mask_norm == MASK_RAW)
		return r->b.masks;
	for (int i = 0; i < r->st.set.batch; i++)
		mask_normalize(r->normed + i * item, r->b.masks + i * item, c->nstems, c->channels, r->F, r->T,
			       r->st.mask_norm);
	return r->normed;
}

/* dLoss/d(the loss's masks) in b.dmasks to dLoss/d(the network's masks). */
static void loss_masks_backward(struct run *r)
{
	const struct unet_config *c = &r->st.m.cfg;
	size_t item = (size_t)c->nstems * c->channels * r->F * (size_t)r->T;
	if (r->st.mask_norm == MASK_RAW)
		return;
	for (int i = 0; i < r->st.set.batch; i++)
		mask_normalize_backward(r->b.dmasks + i * item, r->b.dmasks + i * item, r->b.masks + i * item,
					c->nstems, c->channels, r->F, r->T, r->st.mask_norm);
}

/* One optimiser step on a new batch (the --overfit one again); returns the
 * loss and sets *norm to the gradient's norm before clipping, *lr to the
 * learning rate used. */
static double step(struct run *r, double *norm, double *lr)
{
	struct train_state *st = &r->st;
	const struct train_settings *set = &st->set;
	struct batch *b = &r->b;
	double t0 = tf_clock();
	if (!set->overfit) {
		batch_draw(b, &r->d, &set->aug, &st->rng, &r->skipped);
		batch_spectra(b, r->sp, r->scale);
	}
	r->t_data += tf_clock() - t0, t0 = tf_clock();
	if (set->qat && quant_fake_q8(&st->m, r->qat_keep))
		die_lib("--qat");
	if (unet_train_forward(r->ut, &st->m, b->input, b->masks))
		die_lib("forward");
	const float *masks = loss_masks(r);
	double loss = loss_spec_l1(r->loss, masks, b->Xmix, b->Xtgt, b->dmasks);
	if (set->wave_loss > 0) {
		double w = loss_wave_l1(r->loss, masks, b->Xmix, b->audio, set->wave_loss, b->dmasks);
		if (isnan(w))
			die_lib("waveform loss");
		loss += set->wave_loss * w;
	}
	loss_masks_backward(r);
	if (!isfinite(loss))
		die("step %lld: the loss is %g (diverged; try a lower --lr)", (long long)st->step + 1, loss);
	r->t_fwd += tf_clock() - t0, t0 = tf_clock();
	memset(r->grad, 0, st->m.nparams * sizeof *r->grad);
	if (unet_train_backward(r->ut, &st->m, b->dmasks, r->grad))
		die_lib("backward");
	if (set->qat) /* the gradient at the rounded weights updates the floats */
		quant_fake_restore(&st->m, r->qat_keep);
	r->t_bwd += tf_clock() - t0, t0 = tf_clock();
	*norm = grad_clip(&st->m, r->grad, set->clip);
	*lr = lr_at(&set->lr, st->step);
	st->step++;
	adamw_step(&set->adam, &st->m, r->grad, st->mom1, st->mom2, *lr, st->step);
	if (st->avg)
		ema_update(st->avg, st->m.params, st->m.nparams, ema_decay_at(st->ema, st->step));
	r->t_opt += tf_clock() - t0;
	return loss;
}

/* The epoch's end (or the run's): save, then validate. */
static void epoch_done(struct run *r, int epoch_end)
{
	struct train_state *st = &r->st;
	if (epoch_end)
		st->epoch = st->step / st->epoch_steps;
	save(&r->a, st); /* before validating: a validation error loses nothing */
	if (r->v.ntracks && r->valid && (verbose >= 0 || r->csv.fp)) {
		double sdr[MODEL_MAX_STEMS];
		if (r->line_open)
			fputc('\n', stderr), r->line_open = 0;
		report_validation(st, &r->v, r->valid, r->a.valid_seconds, r->sp, epoch_end, sdr);
		train_csv_valid(&r->csv, st->step, st->step / st->epoch_steps, tf_clock() - r->start, sdr);
	}
}

/* Steps until --until, --steps or a signal, with a live progress line on a
 * terminal, a line every --log-every steps otherwise, the CSV log, and a
 * save and validation at every epoch's end. */
static void train(struct run *r)
{
	const struct args *a = &r->a;
	struct train_state *st = &r->st;
	const struct train_settings *set = &st->set;
	int tty = isatty(2) && verbose >= 0;
	double last, loss_sum = 0, csv_loss = 0;
	int64_t since = 0, csv_since = 0;
	r->start = last = tf_clock();
	r->first = st->step;
	if (a->csv &&
	    train_csv_open(&r->csv, a->csv, st->step, (const char (*)[32])st->m.cfg.stems, st->m.cfg.nstems))
		die_lib("--csv");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (st->step < a->until && !stop_signal) {
		double norm, lr, loss = step(r, &norm, &lr);
		loss_sum += loss, since++;
		csv_loss += loss, csv_since++;

		double now = tf_clock(), rate_s = (double)(st->step - r->first) / (now - r->start);
		char eta[32];
		fmt_duration(eta, sizeof eta, (double)(a->until - st->step) / rate_s);
		if (tty && (now - last > 0.2 || st->step == a->until)) {
			fprintf(stderr, "\r%s: step %lld/%lld epoch %lld loss %.5f lr %.2e |g| %.3g %.2f steps/s ETA %s  ",
				progname, (long long)st->step, (long long)set->lr.total,
				(long long)(st->step / st->epoch_steps), loss, lr, norm, rate_s, eta);
			last = now, r->line_open = 1;
		} else if (!tty && verbose >= 0 && (st->step % a->log_every == 0 || st->step == a->until)) {
			fprintf(stderr, "%s: step %lld/%lld epoch %lld loss %.5f lr %.2e |g| %.3g %.2f steps/s ETA %s\n",
				progname, (long long)st->step, (long long)set->lr.total,
				(long long)(st->step / st->epoch_steps), loss_sum / (double)since, lr, norm, rate_s, eta);
			loss_sum = 0, since = 0;
		}
		if (st->step % a->log_every == 0 || st->step == a->until) {
			train_csv_step(&r->csv, st->step, st->step / st->epoch_steps, now - r->start,
				       csv_loss / (double)csv_since, lr, norm);
			csv_loss = 0, csv_since = 0;
		}
		int at_epoch_end = st->step % st->epoch_steps == 0;
		if (at_epoch_end || st->step == a->until)
			epoch_done(r, at_epoch_end);
	}
	if (r->line_open)
		fputc('\n', stderr);
}

/* The last save (nothing done, or interrupted: what was asked for), the
 * CSV closed, and the summary. Returns the exit status. */
static int finish(struct run *r)
{
	const struct args *a = &r->a;
	struct train_state *st = &r->st;
	if (st->step == r->first || (stop_signal && st->step % st->epoch_steps && st->step != a->until))
		save(a, st);
	if (train_csv_close(&r->csv))
		die_lib("--csv");
	if (stop_signal) {
		warn("interrupted at step %lld; %s%s", (long long)st->step, a->state ? "--resume " : "model saved",
		     a->state ? a->state : "");
		return 128 + stop_signal;
	}
	double took = tf_clock() - r->start;
	int64_t steps = st->step - r->first;
	if (verbose >= 0)
		fprintf(stderr, "%s: %lld steps in %.1f s (%.3f s/step)%s%s\n", progname, (long long)steps, took,
			steps > 0 ? took / (double)steps : 0.0, a->out ? "; model " : "", a->out ? a->out : "");
	if (steps > 0) {
		double n = (double)steps;
		info("per step: data %.3f s, forward and loss %.3f s, backward %.3f s, optimiser %.3f s",
		     r->t_data / n, r->t_fwd / n, r->t_bwd / n, r->t_opt / n);
	}
	info("%lld silent examples redrawn", (long long)r->skipped);
	return 0;
}

static void close_run(struct run *r)
{
	free(r->grad), free(r->qat_keep);
	unet_train_free(r->ut);
	loss_work_free(r->loss);
	free(r->normed);
	batch_free(&r->b);
	spec_free(r->sp);
	if (r->holdout)
		r->d.ntracks += r->holdout;
	dataset_free(&r->d);
	if (!r->holdout && r->v.tracks)
		dataset_free(&r->v);
	free(r->train_dir), free(r->test_dir);
	train_state_free(&r->st);
}

int main(int argc, char **argv)
{
	threads_wait_policy(argv);
	static struct run r;
	progname = "tf-train";
	args_begin();
	parse_args(argc, argv, &r.a);
	args_end();
	r.a.threads = threads_choose(r.a.threads);
	start(&r);
	open_data(&r);
	prepare(&r);
	train(&r);
	int status = finish(&r);
	if (!status)
		close_run(&r);
	return status;
}
