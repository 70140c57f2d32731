/* tf-bench: what a TFSWA-UNet model costs on this machine, the numbers
 * users choose models by: latency of a forward pass, GFLOP/s and how far
 * that is from the machine's measured peak, real-time factor for a track,
 * peak memory; per stage with --profile; side by side with other models and
 * with external commands (the PyTorch reference) so that every comparison
 * is a ratio measured in one run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/peak.h"
#include "kernels/bgemm.h"
#include "kernels/qgemm.h"
#include "kernels/smallgemm.h"
#include "model.h"
#include "modelpath.h"
#include "segment.h"
#include "tensor.h"
#include "timing.h"
#include "unet.h"
#include "threads.h"

#define MAX_MODELS 16
#define MAX_CMDS 8
#define MAX_THREADS 16
#define MAX_SOURCES (MAX_MODELS + MAX_CMDS)

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-bench [options] -m MODEL [-m MODEL...] [MODEL...]\n"
		"Measures the forward pass of TFSWA-UNet models: latency, GFLOP/s against the\n"
		"machine's measured FMA peak, real-time factor, peak RSS.\n\n"
		"  -m, --model MODEL       a model file or name (repeatable; models may also follow the options)\n"
		"      --shape BxCxFxT     input shape, or FxT for batch 1 and the model's channels\n"
		"                          (default: 1 x in_channels x bins x the model's segment)\n"
		"  -j, --threads LIST      thread counts to measure, e.g. 1,2 (default: all cores)\n"
		"      --runs N            timed runs per configuration (default 5)\n"
		"  -w, --warmup N          untimed runs before them (default 1)\n"
		"      --track-seconds S   track length for the real-time factor (default 180)\n"
		"  -p, --profile           time per network stage as well\n"
		"      --ref-cmd [LABEL=]COMMAND\n"
		"                          time an external command per thread count as another row;\n"
		"                          {B} {C} {F} {T} {shape} {threads} {model} are replaced;\n"
		"                          a line 'seconds: X' it prints is taken as its time\n"
		"      --compare           markdown: one row per model, one column per thread count\n"
		"      --interleave        load every model at once and take their runs in turn\n"
		"                          (fairer on a loaded machine; peak RSS is then of them all)\n"
		"      --json              JSON output\n"
		"      --csv               CSV output\n"
		"  -v, --verbose           say what is being measured\n"
		"  -h, --help              show this help\n"
		"  -V, --version           show version and the kernels chosen for this CPU\n");
}

enum format { FMT_MARKDOWN, FMT_JSON, FMT_CSV };

struct options {
	const char *models[MAX_MODELS];
	int nmodels;
	const char *cmd_label[MAX_CMDS], *cmd[MAX_CMDS];
	int ncmds;
	int threads[MAX_THREADS], nthreads;
	const char *shape;
	int runs, warmup, profile, compare, interleave;
	double track_seconds;
	enum format format;
};

/* One thing measured: a model or a command. */
struct source {
	const char *label;        /* a model's name (file name without .bin), a command's label */
	const char *path;         /* a model's file; NULL for a command */
	const char *command;      /* NULL for a model */
	struct unet_config cfg;   /* a command's is the first model's */
	int64_t params;
	int64_t shape[4];         /* B, C, F, T */
	double gflop;             /* of one forward pass at shape */
	double stage_gflop[UNET_STAGES];
};

/* One source at one thread count. */
struct result {
	struct timing_summary t;
	double stage[UNET_STAGES]; /* median seconds per stage (--profile) */
	double work[UNET_WORKS];   /* CPU seconds per timed run by kind of work (--profile) */
	double cpu;                /* process CPU seconds per timed run (--profile) */
	double rss_mb;
	const char *timing;        /* "forward", "printed" or "wall" */
};

struct bench {
	struct options o;
	struct source src[MAX_SOURCES];
	int nsrc;
	double peak[MAX_THREADS]; /* FMA peak GFLOP/s per thread count */
	struct fma_peak probe[MAX_THREADS];
	struct result res[MAX_SOURCES][MAX_THREADS];
};

/* ---------- options ---------- */

static void parse_threads(const char *s, struct options *o)
{
	char buf[256], *save = NULL;
	if (strlen(s) >= sizeof buf)
		die("--threads %s: too long", s);
	strcpy(buf, s);
	o->nthreads = 0;
	for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (o->nthreads == MAX_THREADS)
			die("--threads %s: at most %d thread counts", s, MAX_THREADS);
		o->threads[o->nthreads++] = (int)parse_long(p, "--threads", 1, 1024);
	}
	if (!o->nthreads || s[strlen(s) - 1] == ',' || *s == ',' || strstr(s, ",,"))
		die("--threads %s: expected counts separated by commas, e.g. 1,2", s);
}

/* "label=command" when what precedes the first '=' looks like a label
 * (no blanks or shell syntax); otherwise the whole text is the command. */
static void add_command(struct options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : 0;
	if (o->ncmds == MAX_CMDS)
		die("--ref-cmd: at most %d commands", MAX_CMDS);
	if (n && strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+") == n) {
		o->cmd_label[o->ncmds] = strndup(arg, n);
		o->cmd[o->ncmds] = eq + 1;
	} else {
		o->cmd_label[o->ncmds] = arg;
		o->cmd[o->ncmds] = arg;
	}
	if (!o->cmd_label[o->ncmds] || !*o->cmd[o->ncmds])
		die("--ref-cmd '%s': no command", arg);
	o->ncmds++;
}

static void add_model(struct options *o, const char *path)
{
	if (o->nmodels == MAX_MODELS)
		die("at most %d models", MAX_MODELS);
	if (!strcmp(path, "-"))
		die("models must be files, not standard input");
	char file[4096];
	if (model_resolve(path, file, sizeof file) || !(path = strdup(file)))
		die_lib("");
	o->models[o->nmodels++] = path;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_TRACK = 256, O_REF, O_COMPARE, O_JSON, O_CSV, O_INTERLEAVE, O_SHAPE, O_RUNS };
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'},   {"shape", required_argument, 0, O_SHAPE},
		{"threads", required_argument, 0, 'j'}, {"runs", required_argument, 0, O_RUNS},
		{"warmup", required_argument, 0, 'w'},  {"track-seconds", required_argument, 0, O_TRACK},
		{"profile", no_argument, 0, 'p'},       {"ref-cmd", required_argument, 0, O_REF},
		{"compare", no_argument, 0, O_COMPARE}, {"json", no_argument, 0, O_JSON},
		{"interleave", no_argument, 0, O_INTERLEAVE},
		{"csv", no_argument, 0, O_CSV},         {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	int opt, json = 0, csv = 0;
	*o = (struct options){.runs = 5, .warmup = 1, .track_seconds = 180};
	/* -t, -r and -s: the old spellings of -j, --runs and --shape (doc/options.md) */
	while ((opt = getopt_long(argc, argv, "m:j:w:pvhVt:r:s:", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 'm': add_model(o, optarg); break;
		case O_SHAPE: case 's': o->shape = optarg; break;
		case 'j': case 't': parse_threads(optarg, o); break;
		case O_RUNS: case 'r': o->runs = (int)parse_long(optarg, "--runs", 1, 10000); break;
		case 'w': o->warmup = (int)parse_long(optarg, "--warmup", 0, 10000); break;
		case O_TRACK: o->track_seconds = parse_double(optarg, "--track-seconds", 1e-3, 1e7); break;
		case 'p': o->profile = 1; break;
		case O_REF: add_command(o, optarg); break;
		case O_COMPARE: o->compare = 1; break;
		case O_INTERLEAVE: o->interleave = 1; break;
		case O_JSON: json = 1; break;
		case O_CSV: csv = 1; break;
		default: usage(stderr); exit(2);
		}
	}
	for (int i = optind; i < argc; i++)
		add_model(o, argv[i]);
	if (!o->nmodels)
		die("no model given: use -m MODEL (see --help)");
	if (json && csv)
		die("--json and --csv: choose one");
	o->format = json ? FMT_JSON : csv ? FMT_CSV : FMT_MARKDOWN;
	if (!o->nthreads)
		o->threads[o->nthreads++] = omp_get_max_threads();
}

/* ---------- what is measured ---------- */

/* The input shape for model c: --shape as given (FxT: batch 1 and the
 * model's channels), or one segment of the model's own spectrogram. */
static void resolve_shape(const char *path, const struct unet_config *c, const char *spec, int64_t s[4])
{
	int64_t d[4];
	int n = 0;
	if (!spec) {
		s[0] = 1, s[1] = c->in_channels, s[2] = c->n_fft / 2 + 1;
		s[3] = c->segment ? c->segment : 256; /* "whole input" models: a typical segment */
	} else if ((n = shape_parse(spec, d, 4)) == 2) {
		s[0] = 1, s[1] = c->in_channels, s[2] = d[0], s[3] = d[1];
	} else if (n == 4) {
		memcpy(s, d, sizeof d);
	} else {
		die_usage("--shape %s: %s", spec, n < 0 ? tf_strerror() : "expected BxCxFxT or FxT");
	}
	if (s[1] != c->in_channels)
		die("%s: the input has %lld channels, the model takes %d (real and imaginary parts of "
		    "%d audio channel%s)", path, (long long)s[1], c->in_channels,
		    c->channels, c->channels == 1 ? "" : "s");
	if (s[2] < UNET_MIN_SIZE || s[3] < UNET_MIN_SIZE)
		die("%s: input %lld x %lld (bins x frames) is smaller than the network's minimum %d x %d", path,
		    (long long)s[2], (long long)s[3], UNET_MIN_SIZE, UNET_MIN_SIZE);
	size_t numel;
	if (shape_numel(s, 4, &numel) || numel > (size_t)1 << 31)
		die("%s: input %lld x %lld x %lld x %lld is too large", path, (long long)s[0],
		    (long long)s[1], (long long)s[2], (long long)s[3]);
}

/* A model's row label: its file name without the directory and ".bin";
 * the path when another model has the same name. */
static const char *model_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".bin"))
		n -= 4;
	char *name = strndup(base, n);
	if (!name)
		die("out of memory");
	return name;
}

/* Two different files of one name would share a label: label them by path. */
static void unique_names(struct bench *b)
{
	int clash[MAX_SOURCES] = {0};
	for (int i = 0; i < b->nsrc; i++)
		for (int j = 0; j < b->nsrc; j++)
			clash[i] |= i != j && b->src[i].path && b->src[j].path &&
				    !strcmp(b->src[i].label, b->src[j].label) && strcmp(b->src[i].path, b->src[j].path);
	for (int i = 0; i < b->nsrc; i++)
		if (clash[i]) {
			free((char *)b->src[i].label); /* model_name's copy */
			b->src[i].label = b->src[i].path;
		}
}

/* Reads every model's header and checks the shape against it before any
 * time is spent measuring; commands borrow the first model's figures. */
static void describe_sources(struct bench *b)
{
	const struct options *o = &b->o;
	for (int i = 0; i < o->nmodels; i++) {
		struct source *s = &b->src[b->nsrc++];
		s->path = o->models[i];
		s->label = model_name(s->path);
		/* the whole file checked (nothing stored) before the peak probe,
		 * so that a bad model is refused first, and at once */
		struct model check;
		int described;
		if (model_check(&check, s->path, &described))
			die_lib("");
		s->cfg = check.cfg;
		model_free(&check);
		resolve_shape(s->path, &s->cfg, o->shape, s->shape);
		s->params = unet_param_count(&s->cfg);
		unet_stage_flops(&s->cfg, (int)s->shape[2], (int)s->shape[3], s->stage_gflop);
		for (int k = 0; k < UNET_STAGES; k++)
			s->gflop += (s->stage_gflop[k] *= 1e-9 * (double)s->shape[0]);
	}
	unique_names(b);
	if (o->profile && b->src[0].shape[0] != 1)
		die_usage("--profile needs a batch of 1 (the stages of several items interleave)");
	for (int i = 0; i < o->ncmds; i++) {
		struct source *s = &b->src[b->nsrc++];
		*s = b->src[0];
		s->label = o->cmd_label[i];
		s->path = NULL;
		s->command = o->cmd[i];
		s->params = 0;
	}
}

/* Frames tf-stft makes of S seconds (centred frames: one per hop, plus
 * one), and the segments tf-unet --segment T would run over them. */
static int64_t track_segments(const struct source *s, double seconds)
{
	const struct unet_config *c = &s->cfg;
	int T = (int)s->shape[3];
	int64_t frames = 1 + (int64_t)(seconds * c->sample_rate) / c->hop;
	int overlap = c->overlap <= T / 2 ? c->overlap : T / 4; /* as tf-unet chooses */
	return segment_count(frames, T, overlap);
}

/* The real-time factor, or -1 where it means nothing: the input is not one
 * segment of this model's spectrogram (a batch, or other bins). */
static double real_time_factor(const struct source *s, double median, double seconds)
{
	if (s->shape[0] != 1 || s->shape[2] != s->cfg.n_fft / 2 + 1)
		return -1;
	return (double)track_segments(s, seconds) * median / seconds;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

/* ---------- measuring a model ---------- */

/* CPU seconds this process has used, all threads. */
static double process_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
	       1e-6 * ru.ru_stime.tv_usec;
}

/* Stage boundaries from the tap: time spent since the previous boundary
 * goes to the stage whose tap this is; what follows the last tap is the
 * head. */
struct stage_clock {
	double last, t[UNET_STAGES];
};

static void stage_tap(void *ctx, const char *name, int b, const float *x, int H, int W, int C)
{
	struct stage_clock *k = ctx;
	double now = tf_clock();
	for (int i = 0; i < UNET_STAGES; i++)
		if (!strcmp(name, unet_stage_names[i]))
			k->t[i] += now - k->last;
	k->last = now;
}

/* A reproducible input: the same for every run, model and invocation. */
static void fill_random(float *x, size_t n)
{
	uint64_t r = 0x2545f4914f6cdd1dull;
	for (size_t i = 0; i < n; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		x[i] = (float)((double)(r >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
	}
}

/* A model loaded and prepared, its input and the times of its runs. */
struct bench_model {
	struct model m;
	struct unet *u;
	struct unet_plan *plan; /* for the thread count being measured */
	float *in, *out;
	double *times; /* [runs], then [UNET_STAGES][runs] */
	int B, H, W;
};

static void model_open(const struct bench *b, int si, struct bench_model *bm)
{
	const struct source *s = &b->src[si];
	bm->plan = NULL;
	bm->B = (int)s->shape[0], bm->H = (int)s->shape[2], bm->W = (int)s->shape[3];
	if (model_load(&bm->m, s->path))
		die_lib("");
	if (!(bm->u = unet_prepare(&bm->m)))
		die_lib(s->path);
	size_t nin = (size_t)bm->B * bm->m.cfg.in_channels * bm->H * bm->W,
	       nout = (size_t)bm->B * bm->m.cfg.out_channels * bm->H * bm->W;
	bm->in = tf_alloc_aligned(nin, sizeof(float));
	bm->out = tf_alloc_aligned(nout, sizeof(float));
	bm->times = tf_alloc((size_t)b->o.runs * (UNET_STAGES + 1), sizeof(double));
	if (!bm->in || !bm->out || !bm->times)
		die_lib(s->label);
	fill_random(bm->in, nin);
}

static void model_close(struct bench_model *bm)
{
	free(bm->in), free(bm->out), free(bm->times);
	unet_plan_free(bm->plan);
	unet_free(bm->u);
	model_free(&bm->m);
}

/* The workspace of a forward pass on this many threads (planning is not
 * timed: a program plans once per run). */
static void model_plan(const struct bench *b, int si, struct bench_model *bm, int threads)
{
	unet_plan_free(bm->plan);
	if (!(bm->plan = unet_plan_new(bm->u, bm->H, bm->W, threads)))
		die_lib(b->src[si].label);
}

/* The B items of the input, NCHW as the other runtimes take it. */
static void model_forward(struct bench_model *bm, unet_tap_fn tap, void *ctx)
{
	const struct unet_config *c = &bm->m.cfg;
	size_t n = (size_t)bm->H * bm->W;
	for (int i = 0; i < bm->B; i++)
		unet_run_nchw(bm->plan, bm->in + (size_t)i * c->in_channels * n, bm->out + (size_t)i * c->out_channels * n,
			      i, tap, ctx);
}

/* Timed run i of model si at thread count ti; its process CPU time is
 * added to the result (divided by the runs in model_summarise). */
static void model_run(struct bench *b, int si, struct bench_model *bm, int ti, int i)
{
	const struct options *o = &b->o;
	struct result *r = &b->res[si][ti];
	struct stage_clock k = {0};
	double *stage = bm->times + o->runs;
	if (o->profile)
		unet_plan_set_profile(bm->plan, r->work);
	double cpu0 = process_cpu(), t0 = k.last = tf_clock();
	model_forward(bm, o->profile ? stage_tap : NULL, &k);
	double t1 = tf_clock();
	r->cpu += process_cpu() - cpu0;
	unet_plan_set_profile(bm->plan, NULL);
	bm->times[i] = t1 - t0;
	k.t[UNET_STAGES - 1] += t1 - k.last;
	for (int j = 0; j < UNET_STAGES; j++)
		stage[j * o->runs + i] = k.t[j];
}

static void model_summarise(struct bench *b, int si, struct bench_model *bm, int ti)
{
	const struct options *o = &b->o;
	struct result *r = &b->res[si][ti];
	double *stage = bm->times + o->runs;
	r->cpu /= o->runs;
	for (int j = 0; j < UNET_WORKS; j++)
		r->work[j] /= o->runs;
	if (timing_summarise(bm->times, o->runs, &r->t))
		die_lib(b->src[si].label);
	for (int j = 0; o->profile && j < UNET_STAGES; j++) {
		struct timing_summary st;
		if (timing_summarise(stage + j * o->runs, o->runs, &st))
			die_lib(b->src[si].label);
		r->stage[j] = st.median;
	}
	r->rss_mb = peak_rss_mb();
	r->timing = "forward";
}

static void measure_model(struct bench *b, int si)
{
	const struct options *o = &b->o;
	struct bench_model bm = {0};
	model_open(b, si, &bm);
	for (int ti = 0; ti < o->nthreads; ti++) {
		omp_set_num_threads(o->threads[ti]);
		info("%s: %d threads, %d warm-up and %d timed runs", b->src[si].label, o->threads[ti], o->warmup,
		     o->runs);
		model_plan(b, si, &bm, o->threads[ti]);
		for (int i = 0; i < o->warmup; i++)
			model_forward(&bm, NULL, NULL);
		for (int i = 0; i < o->runs; i++)
			model_run(b, si, &bm, ti, i);
		model_summarise(b, si, &bm, ti);
	}
	model_close(&bm);
}

/* --interleave: every model loaded at once, and their runs taken in turn
 * (run 1 of each model, then run 2 of each, ...), so that a change in the
 * machine's load over the measurement falls on all of them alike. */
static void measure_models_interleaved(struct bench *b)
{
	const struct options *o = &b->o;
	int n = o->nmodels;
	struct bench_model *bm = calloc((size_t)n, sizeof *bm);
	if (!bm)
		die("out of memory");
	for (int si = 0; si < n; si++)
		model_open(b, si, &bm[si]);
	for (int ti = 0; ti < o->nthreads; ti++) {
		omp_set_num_threads(o->threads[ti]);
		info("%d models in turn: %d threads, %d warm-up and %d timed runs each", n, o->threads[ti], o->warmup,
		     o->runs);
		for (int si = 0; si < n; si++)
			model_plan(b, si, &bm[si], o->threads[ti]);
		for (int i = 0; i < o->warmup; i++)
			for (int si = 0; si < n; si++)
				model_forward(&bm[si], NULL, NULL);
		for (int i = 0; i < o->runs; i++)
			for (int si = 0; si < n; si++)
				model_run(b, si, &bm[si], ti, i);
		for (int si = 0; si < n; si++)
			model_summarise(b, si, &bm[si], ti);
	}
	for (int si = 0; si < n; si++)
		model_close(&bm[si]);
	free(bm);
}

/* ---------- measuring a command ---------- */

/* The command with its placeholders filled in for this configuration;
 * unknown {words} are left alone (they may be shell or awk syntax). */
static char *expand(const char *cmd, const struct source *s, const char *model, int threads)
{
	static const char *const keys[] = {"{B}", "{C}", "{F}", "{T}", "{shape}", "{threads}", "{model}"};
	char val[7][64];
	size_t cap = strlen(cmd) + 1, len = 0;
	for (int i = 0; i < 4; i++)
		snprintf(val[i], sizeof val[i], "%lld", (long long)s->shape[i]);
	snprintf(val[4], sizeof val[4], "%lldx%lldx%lldx%lld", (long long)s->shape[0],
		 (long long)s->shape[1], (long long)s->shape[2], (long long)s->shape[3]);
	snprintf(val[5], sizeof val[5], "%d", threads);
	for (const char *p = strchr(cmd, '{'); p; p = strchr(p + 1, '{'))
		cap += strlen(model) + 64;
	char *out = malloc(cap);
	if (!out)
		die("out of memory");
	for (const char *p = cmd; *p;) {
		int k = -1;
		for (int i = 0; i < 7 && k < 0; i++)
			if (!strncmp(p, keys[i], strlen(keys[i])))
				k = i;
		if (k < 0) {
			out[len++] = *p++;
			continue;
		}
		const char *v = k == 6 ? model : val[k];
		memcpy(out + len, v, strlen(v));
		len += strlen(v);
		p += strlen(keys[k]);
	}
	out[len] = 0;
	return out;
}

/* Looks for a line "seconds: X" in what the command printed; the last one
 * counts. 1 and *sec if found, 0 if not; die()s on one that is not a number. */
static int printed_seconds(const char *text, const char *label, double *sec)
{
	int found = 0;
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "seconds:", 8))
			continue;
		char *end;
		errno = 0;
		double v = strtod(p + 8, &end);
		if (errno || end == p + 8 || !isfinite(v) || v < 0 || (*end && *end != '\n' && *end != '\r'))
			die("--ref-cmd '%s' printed '%.*s', not a number of seconds", label,
			    (int)strcspn(p, "\r\n"), p);
		*sec = v, found = 1;
	}
	return found;
}

/* Commands run through a fresh copy of tf-bench (`tf-bench --run-command
 * CMD`, not for users) that forks /bin/sh -c CMD, times it, and reports on
 * descriptor 3. A child forked straight from this process, with its models
 * loaded, would carry their pages into its peak RSS: Linux keeps a process's
 * high-water mark across exec. The fresh copy is a few MB. */
#define REPORT_FD 3

static int run_command_helper(const char *cmd)
{
	int status;
	struct rusage ru;
	double t0 = tf_clock();
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		close(REPORT_FD);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 127;
	dprintf(REPORT_FD, "%.9f %ld %d\n", tf_clock() - t0, (long)ru.ru_maxrss, status);
	return 0;
}

/* Reads all of fd into a string (what the command printed). */
static char *slurp(int fd)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096 && !(text = realloc(text, cap = cap ? 2 * cap : 8192)))
			die("out of memory");
		ssize_t n = read(fd, text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	text[len] = 0;
	return text;
}

/* Runs cmd once: wall-clock seconds around it, or the time it printed; its
 * peak RSS (and that of what it waited for). */
static double run_command(const char *cmd, const char *label, int threads, double *rss_mb, int *printed)
{
	int out[2], report[2], status;
	char nthreads[16];
	if (pipe(out) || pipe(report))
		die("--ref-cmd '%s': pipe: %s", label, strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("--ref-cmd '%s': fork: %s", label, strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		dup2(out[1], 1);
		if (report[1] != REPORT_FD)
			dup2(report[1], REPORT_FD);
		snprintf(nthreads, sizeof nthreads, "%d", threads);
		setenv("OMP_NUM_THREADS", nthreads, 1);
		for (int fd = REPORT_FD + 1; fd < 64; fd++)
			close(fd);
		execl("/proc/self/exe", "tf-bench", "--run-command", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]), close(report[1]);
	char *text = slurp(out[0]), *rep = slurp(report[0]);
	close(out[0]), close(report[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("--ref-cmd '%s': wait: %s", label, strerror(errno));
	double wall;
	long maxrss;
	int cstatus;
	if (status || sscanf(rep, "%lf %ld %d", &wall, &maxrss, &cstatus) != 3)
		die("--ref-cmd '%s': could not run it through /proc/self/exe", label);
	if (WIFSIGNALED(cstatus))
		die("--ref-cmd '%s': killed by signal %d", label, WTERMSIG(cstatus));
	if (WEXITSTATUS(cstatus))
		die("--ref-cmd '%s': exit status %d (ran: %s)", label, WEXITSTATUS(cstatus), cmd);
	*rss_mb = (double)maxrss / 1024.0;
	double sec = wall;
	*printed = printed_seconds(text, label, &sec);
	free(text), free(rep);
	return sec;
}

static void measure_command(struct bench *b, int si)
{
	const struct options *o = &b->o;
	const struct source *s = &b->src[si];
	double *times = tf_alloc((size_t)o->runs, sizeof(double));
	if (!times)
		die_lib("");
	for (int ti = 0; ti < o->nthreads; ti++) {
		struct result *r = &b->res[si][ti];
		char *cmd = expand(s->command, s, b->src[0].path, o->threads[ti]);
		int printed = 1, p;
		double rss;
		info("%s: %s", s->label, cmd);
		for (int i = 0; i < o->warmup; i++)
			run_command(cmd, s->label, o->threads[ti], &rss, &p);
		r->rss_mb = 0;
		for (int i = 0; i < o->runs; i++) {
			times[i] = run_command(cmd, s->label, o->threads[ti], &rss, &p);
			printed &= p;
			r->rss_mb = rss > r->rss_mb ? rss : r->rss_mb;
		}
		if (timing_summarise(times, o->runs, &r->t))
			die_lib(s->label);
		r->timing = printed ? "printed" : "wall";
		free(cmd);
	}
	free(times);
}

/* ---------- output ---------- */

/* Figures of one result that every format shows. */
struct figures {
	double gflops, peak_fraction, rtf, ratio;
	int64_t segments;
};

static struct figures figures(const struct bench *b, int si, int ti)
{
	const struct source *s = &b->src[si];
	const struct result *r = &b->res[si][ti];
	struct figures f;
	f.gflops = s->gflop / r->t.median;
	f.peak_fraction = f.gflops / b->peak[ti];
	f.rtf = real_time_factor(s, r->t.median, b->o.track_seconds);
	f.segments = f.rtf < 0 ? -1 : track_segments(s, b->o.track_seconds);
	f.ratio = r->t.median / b->res[0][ti].t.median;
	return f;
}

/* Writes s with the characters that would break the format escaped. */
static void put_escaped(const char *s, enum format fmt)
{
	for (; *s; s++) {
		if (fmt == FMT_MARKDOWN && *s == '|')
			fputs("\\|", stdout);
		else if (fmt == FMT_JSON && (*s == '"' || *s == '\\'))
			printf("\\%c", *s);
		else if (fmt == FMT_JSON && (unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else if (fmt == FMT_CSV && *s == '"')
			fputs("\"\"", stdout);
		else
			putchar(*s);
	}
}

static void put_ms(double sec)
{
	double ms = sec * 1e3;
	printf(ms < 10 ? "%.2f" : ms < 1000 ? "%.1f" : "%.0f", ms);
}

static void put_params(int64_t n)
{
	if (!n)
		printf("-");
	else if (n >= 1000000)
		printf("%.2fM", (double)n * 1e-6);
	else
		printf("%.1fk", (double)n * 1e-3);
}

static void put_shape(const int64_t *s)
{
	printf("%lldx%lldx%lldx%lld", (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
}

static void markdown_table(const struct bench *b)
{
	printf("| model | params | shape | threads | GFLOP | median ms | min ms | max ms | GFLOP/s "
	       "| %% of peak | RTF (%g s) | peak RSS MB | vs first |\n",
	       b->o.track_seconds);
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		for (int si = 0; si < b->nsrc; si++) {
			const struct source *s = &b->src[si];
			const struct result *r = &b->res[si][ti];
			struct figures f = figures(b, si, ti);
			printf("| ");
			put_escaped(s->label, FMT_MARKDOWN);
			printf(" | ");
			put_params(s->params);
			printf(" | ");
			put_shape(s->shape);
			printf(" | %d | %.3f | ", b->o.threads[ti], s->gflop);
			put_ms(r->t.median), printf(" | ");
			put_ms(r->t.min), printf(" | ");
			put_ms(r->t.max);
			printf(" | %.1f | %.1f%% | ", f.gflops, 100 * f.peak_fraction);
			printf(f.rtf < 0 ? "-" : "%.3g", f.rtf);
			printf(" | %.1f | %.2fx |\n", r->rss_mb, f.ratio);
		}
}

/* --compare: one row per source, one column per thread count. */
static void markdown_compare(const struct bench *b)
{
	printf("| model |");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		printf(" %d thread%s, median ms (vs first) |", b->o.threads[ti], b->o.threads[ti] == 1 ? "" : "s");
	printf("\n|---|");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		printf("---|");
	printf("\n");
	for (int si = 0; si < b->nsrc; si++) {
		printf("| ");
		put_escaped(b->src[si].label, FMT_MARKDOWN);
		printf(" |");
		for (int ti = 0; ti < b->o.nthreads; ti++) {
			printf(" ");
			put_ms(b->res[si][ti].t.median);
			printf(" (%.2fx) |", figures(b, si, ti).ratio);
		}
		printf("\n");
	}
}

static void markdown_profile(const struct bench *b)
{
	printf("\n| model | threads | stage | GFLOP | median ms | share | GFLOP/s |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		for (int si = 0; si < b->nsrc && !b->src[si].command; si++) {
			const struct source *s = &b->src[si];
			const struct result *r = &b->res[si][ti];
			double sum = 0;
			for (int k = 0; k < UNET_STAGES; k++)
				sum += r->stage[k];
			for (int k = 0; k < UNET_STAGES; k++) {
				printf("| ");
				put_escaped(s->label, FMT_MARKDOWN);
				printf(" | %d | %s | %.3f | ", b->o.threads[ti], unet_stage_names[k], s->stage_gflop[k]);
				put_ms(r->stage[k]);
				printf(" | %.1f%% | %.1f |\n", sum > 0 ? 100 * r->stage[k] / sum : 0,
				       r->stage[k] > 0 ? s->stage_gflop[k] / r->stage[k] : 0);
			}
			printf("| ");
			put_escaped(s->label, FMT_MARKDOWN);
			printf(" | %d | sum of stages | %.3f | ", b->o.threads[ti], s->gflop);
			put_ms(sum);
			printf(" | (total ");
			put_ms(r->t.median);
			printf(") | %.1f |\n", sum > 0 ? s->gflop / sum : 0);
		}
	/* by kind of work, in CPU time, which the load of other processes
	 * does not inflate the way it does wall time */
	printf("\n| model | threads | work | CPU s per run | share of CPU time |\n");
	printf("|---|---|---|---|---|\n");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		for (int si = 0; si < b->nsrc && !b->src[si].command; si++) {
			const struct result *r = &b->res[si][ti];
			double rest = r->cpu;
			for (int k = 0; k < UNET_WORKS + 1; k++) {
				double v = k < UNET_WORKS ? r->work[k] : rest;
				if (k < UNET_WORKS)
					rest -= v;
				if (k < UNET_WORKS && v == 0)
					continue;
				printf("| ");
				put_escaped(b->src[si].label, FMT_MARKDOWN);
				printf(" | %d | %s | %.3f | %.1f%% |\n", b->o.threads[ti],
				       k < UNET_WORKS ? unet_work_names[k] : "the rest (norms, GELU, gathers, im2col, ...)", v,
				       r->cpu > 0 ? 100 * v / r->cpu : 0);
			}
		}
}

static void markdown(const struct bench *b)
{
	if (b->o.compare)
		markdown_compare(b);
	else
		markdown_table(b);
	if (b->o.profile)
		markdown_profile(b);
	printf("\nFMA peak (%s loop, measured):", fma_peak_isa());
	for (int ti = 0; ti < b->o.nthreads; ti++)
		printf("%s %d thread%s %.1f GFLOP/s%s", ti ? "," : "", b->o.threads[ti],
		       b->o.threads[ti] == 1 ? "" : "s", b->peak[ti], b->probe[ti].busy ? " (busy)" : "");
	printf(". Kernels: ");
	print_kernels(stdout);
	printf(".\n");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		if (b->probe[ti].busy)
			printf("The machine looked busy while the peak was measured on %d thread%s: the median of %d "
			       "short trials was %.1f GFLOP/s, %.0f%% of the best; the peak and %% of peak may be low.\n",
			       b->o.threads[ti], b->o.threads[ti] == 1 ? "" : "s", b->probe[ti].trials,
			       b->probe[ti].median_gflops, 100 * b->probe[ti].median_gflops / b->peak[ti]);
	printf("Forward pass of random input after %d warm-up run%s, %d timed; RTF: seconds to run the "
	       "network over a %g s track in segments of T frames, per second of audio.\n",
	       b->o.warmup, b->o.warmup == 1 ? "" : "s", b->o.runs, b->o.track_seconds);
	printf("Peak RSS of a model row is of the whole tf-bench process so far (ru_maxrss is per "
	       "process); of a command row, of the command.\n");
	for (int si = 0; si < b->nsrc; si++)
		if (b->src[si].command) {
			printf("Command ");
			put_escaped(b->src[si].label, FMT_MARKDOWN);
			printf(": %s; GFLOP are the first model's.\n",
			       !strcmp(b->res[si][0].timing, "printed") ? "the time it printed"
									: "wall clock around it");
		}
}

static void csv(const struct bench *b)
{
	printf("label,kind,params,shape,threads,gflop,median_s,min_s,max_s,gflops,peak_gflops,"
	       "peak_fraction,rtf,segments,peak_rss_mb,ratio,timing,peak_busy");
	for (int k = 0; b->o.profile && k < UNET_STAGES; k++)
		printf(",%s_s", unet_stage_names[k]);
	printf("\n");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		for (int si = 0; si < b->nsrc; si++) {
			const struct source *s = &b->src[si];
			const struct result *r = &b->res[si][ti];
			struct figures f = figures(b, si, ti);
			printf("\"");
			put_escaped(s->label, FMT_CSV);
			printf("\",%s,%lld,", s->command ? "command" : "model", (long long)s->params);
			put_shape(s->shape);
			printf(",%d,%.6f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,", b->o.threads[ti], s->gflop, r->t.median,
			       r->t.min, r->t.max, f.gflops, b->peak[ti], f.peak_fraction);
			if (f.rtf >= 0)
				printf("%.6g,%lld", f.rtf, (long long)f.segments);
			else
				printf(",");
			printf(",%.1f,%.6g,%s,%d", r->rss_mb, f.ratio, r->timing, b->probe[ti].busy);
			for (int k = 0; b->o.profile && k < UNET_STAGES; k++)
				printf(s->command ? "," : ",%.6g", r->stage[k]);
			printf("\n");
		}
}

static void json_string(const char *key, const char *v)
{
	printf("\"%s\": \"", key);
	put_escaped(v, FMT_JSON);
	printf("\"");
}

static void json_result(const struct bench *b, int si, int ti)
{
	const struct source *s = &b->src[si];
	const struct result *r = &b->res[si][ti];
	struct figures f = figures(b, si, ti);
	printf("    {");
	json_string("label", s->label);
	printf(", \"kind\": \"%s\", ", s->command ? "command" : "model");
	if (s->command)
		json_string("command", s->command);
	else
		json_string("model", s->path);
	printf(", \"params\": %lld, \"shape\": [%lld, %lld, %lld, %lld], \"threads\": %d,\n",
	       (long long)s->params, (long long)s->shape[0], (long long)s->shape[1],
	       (long long)s->shape[2], (long long)s->shape[3], b->o.threads[ti]);
	printf("     \"gflop\": %.6f, \"median_s\": %.6g, \"min_s\": %.6g, \"max_s\": %.6g, "
	       "\"gflops\": %.6g, \"peak_gflops\": %.6g, \"peak_fraction\": %.6g,\n",
	       s->gflop, r->t.median, r->t.min, r->t.max, f.gflops, b->peak[ti], f.peak_fraction);
	if (f.rtf >= 0)
		printf("     \"rtf\": %.6g, \"segments\": %lld, ", f.rtf, (long long)f.segments);
	else
		printf("     \"rtf\": null, \"segments\": null, ");
	printf("\"peak_rss_mb\": %.1f, \"ratio\": %.6g, \"timing\": \"%s\"", r->rss_mb, f.ratio, r->timing);
	if (b->o.profile && !s->command) {
		printf(",\n     \"stages\": [");
		for (int k = 0; k < UNET_STAGES; k++)
			printf("%s{\"name\": \"%s\", \"gflop\": %.6f, \"median_s\": %.6g}", k ? ", " : "",
			       unet_stage_names[k], s->stage_gflop[k], r->stage[k]);
		printf("]");
	}
	printf("}");
}

static void json(const struct bench *b)
{
	printf("{\n  \"program\": \"tf-bench\", \"version\": \"%s\",\n  ", TF_VERSION);
	json_string("gemm", gemm_describe());
	printf(", \"attention\": \"%s\", \"fma_isa\": \"%s\",\n", attention_kernel_name(), fma_peak_isa());
	printf("  \"fma_peak_gflops\": [");
	for (int ti = 0; ti < b->o.nthreads; ti++)
		printf("%s{\"threads\": %d, \"gflops\": %.6g, \"median_gflops\": %.6g, \"trials\": %d, \"busy\": %s}",
		       ti ? ", " : "", b->o.threads[ti], b->peak[ti], b->probe[ti].median_gflops, b->probe[ti].trials,
		       b->probe[ti].busy ? "true" : "false");
	printf("],\n  \"runs\": %d, \"warmup\": %d, \"track_seconds\": %g,\n  \"results\": [\n", b->o.runs,
	       b->o.warmup, b->o.track_seconds);
	for (int ti = 0; ti < b->o.nthreads; ti++)
		for (int si = 0; si < b->nsrc; si++) {
			json_result(b, si, ti);
			printf(ti == b->o.nthreads - 1 && si == b->nsrc - 1 ? "\n" : ",\n");
		}
	printf("  ]\n}\n");
}

int main(int argc, char **argv)
{
	threads_wait_policy(argv);
	static struct bench b;
	progname = "tf-bench";
	args_begin();
	if (argc == 3 && !strcmp(argv[1], "--run-command"))
		return run_command_helper(argv[2]);
	parse_options(argc, argv, &b.o);
	args_end();
	for (int ti = 0; ti < b.o.nthreads; ti++)
		b.o.threads[ti] = threads_choose(b.o.threads[ti]);
	describe_sources(&b);

	for (int ti = 0; ti < b.o.nthreads; ti++) {
		struct fma_peak *p = &b.probe[ti];
		if (fma_peak_measure(b.o.threads[ti], p))
			die_lib("");
		b.peak[ti] = p->gflops;
		info("FMA peak on %d threads (%s): best of %d trials %.1f GFLOP/s, median %.1f", b.o.threads[ti],
		     fma_peak_isa(), p->trials, p->gflops, p->median_gflops);
		if (p->busy)
			warn("the machine looks busy: the FMA peak trials on %d thread%s disagree (median %.1f, best "
			     "%.1f GFLOP/s); the peak and %% of peak may be low", b.o.threads[ti],
			     b.o.threads[ti] == 1 ? "" : "s", p->median_gflops, p->gflops);
	}
	if (b.o.interleave)
		measure_models_interleaved(&b);
	for (int si = 0; si < b.nsrc; si++) {
		if (b.src[si].command)
			measure_command(&b, si);
		else if (!b.o.interleave)
			measure_model(&b, si);
	}

	if (b.o.format == FMT_JSON)
		json(&b);
	else if (b.o.format == FMT_CSV)
		csv(&b);
	else
		markdown(&b);
	close_stdout();
	return 0;
}
