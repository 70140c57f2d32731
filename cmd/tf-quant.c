/* tf-quant: a model file in, the same model with its weights stored in a
 * smaller type out, and a report on standard error. A filter:
 *   tf-quant -t f16 < model.bin > model-f16.bin
 *   tf-quant -t bf16 < model.bin > model-bf16.bin
 *   tf-quant -t q8 < model.bin > model-q8.bin
 *   tf-quant -t q8s --calibrate song.stream model.bin > model-q8s.bin */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "model.h"
#include "quant.h"
#include "tensor.h"
#include "threads.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-quant -t TYPE [--calibrate STREAM]... [-o FILE] [MODEL]\n"
		"Writes MODEL (standard input when absent or '-') with its weights stored as\n"
		"TYPE, to standard output or FILE, and reports on standard error what it did.\n\n"
		"  -t, --type TYPE    f16: weights as half floats, computed in f32\n"
		"                     q8: int8 weights, activations quantised per row at run\n"
		"                     time, convolutions and linear layers as int8 products\n"
		"                     q8s: as q8, with activation scales calibrated once\n"
		"                     bf16: weights as bfloat16, convolutions and linear\n"
		"                     layers as bf16 products summed in f32 (AVX512-BF16)\n"
		"      --calibrate STREAM\n"
		"                     for q8s: a spectrogram stream (tf-stft -m MODEL output) of\n"
		"                     representative audio; repeatable\n"
		"  -o, --output FILE  write to FILE (complete or not at all)\n"
		"  -v, --verbose      the error of every tensor too\n"
		"  -q, --quiet        no report\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n");
}

static void report(const struct model *m, const struct quant_layer *q, enum quantization type,
		   const struct calib_layer *cal)
{
	size_t before = 0, after = 0, kept_bytes = 0;
	int kept = 0, worst = -1;
	const char *reasons[8];
	int nreasons = 0, counts[8] = {0};
	for (int i = 0; i < m->nspecs; i++) {
		before += q[i].bytes_before, after += q[i].bytes_after;
		kept += q[i].kept != NULL;
		kept_bytes += q[i].kept ? q[i].bytes_before : 0;
		if (q[i].kept) {
			int r = 0;
			while (r < nreasons && strcmp(reasons[r], q[i].kept))
				r++;
			if (r == nreasons && nreasons < 8)
				reasons[nreasons++] = q[i].kept;
			counts[r < 8 ? r : 7]++;
		}
		if (!q[i].kept && (worst < 0 || q[i].rel_rms > q[worst].rel_rms))
			worst = i;
		if (verbose > 0)
			fprintf(stderr, "%s: %-60s %-4s max error %.3g, relative RMS error %.3g%s%s\n", progname,
				m->specs[i].name, dtype_traits[q[i].dtype].name, q[i].max_err, q[i].rel_rms,
				q[i].kept ? "; kept: " : "", q[i].kept ? q[i].kept : "");
		if (verbose > 0 && cal && !q[i].kept && m->act_scale[i] > 0)
			fprintf(stderr, "%s: %-60s input scale %.4g (clip %.4g of max %.4g, %.2g %% of %.0f values "
				"clipped, relative RMS error %.3g)\n", progname, m->specs[i].name, m->act_scale[i],
				cal[i].clip, cal[i].absmax, 100 * cal[i].clipped, cal[i].count, cal[i].rel_rms);
		else if (verbose > 0 && cal && !q[i].kept)
			fprintf(stderr, "%s: %-60s input per row (one scale, clip %.4g of max %.4g: relative RMS "
				"error %.3g)\n", progname, m->specs[i].name, cal[i].clip, cal[i].absmax, cal[i].rel_rms);
	}
	if (verbose < 0)
		return;
	fprintf(stderr, "%s: %s: tensor data %.2f MB -> %.2f MB (%.1f %%)\n", progname, quant_traits[type].name, before / 1e6,
		after / 1e6, 100.0 * after / before);
	if (worst >= 0)
		fprintf(stderr, "%s: largest relative RMS error %.3g (max error %.3g) in %s\n", progname,
			q[worst].rel_rms, q[worst].max_err, m->specs[worst].name);
	fprintf(stderr, "%s: %d of %d tensors kept in f32 (%.2f %% of the data):", progname, kept, m->nspecs,
		100.0 * kept_bytes / before);
	for (int r = 0; r < nreasons; r++)
		fprintf(stderr, "%s %d %s", r ? ";" : "", counts[r], reasons[r]);
	fprintf(stderr, "\n");
	if (cal) {
		int worst_a = -1, per_row = 0, layers = 0;
		for (int i = 0; i < m->nspecs; i++) {
			if (q[i].kept)
				continue;
			layers++;
			if (!(m->act_scale[i] > 0))
				per_row++;
			else if (worst_a < 0 || cal[i].rel_rms > cal[worst_a].rel_rms)
				worst_a = i;
		}
		fprintf(stderr, "%s: activation scales: MSE-optimal clip per layer for %d of %d layers", progname,
			layers - per_row, layers);
		if (worst_a >= 0)
			fprintf(stderr, " (largest expected relative RMS error %.3g, %.2g %% clipped, at the input of %s)",
				cal[worst_a].rel_rms, 100 * cal[worst_a].clipped, m->specs[worst_a].name);
		fprintf(stderr, "; %d per row at run time, where one scale would lose more than %g %%\n", per_row,
			100 * CALIB_PER_ROW_ABOVE);
	}
	if (quant_traits[type].int8)
		fprintf(stderr, "%s: int8 products: convolutions and linear layers; in float: attention scores, "
			"softmax, LayerNorm, GELU, the stem and the mask head\n", progname);
}

/* The quantised model says what was done to it, like tf-train's steps (no
 * paths: they say nothing on another machine), and drops the f32 model's
 * held-out scores, which are not its own until it is scored. */
static void record_provenance(struct model_provenance *p, enum quantization type, int ncalib)
{
	char what[64];
	if (ncalib)
		snprintf(what, sizeof what, "tf-quant -t %s, calibrated on %d stream%s", quant_traits[type].name,
			 ncalib, ncalib > 1 ? "s" : "");
	else
		snprintf(what, sizeof what, "tf-quant -t %s", quant_traits[type].name);
	provenance_then(p, what);
	provenance_forget_scores(p);
}

/* What the command line asks for. */
struct args {
	int type;                  /* enum quantization */
	const char *in_path, *out_path;
	const char **calib;        /* --calibrate streams, ncalib of them */
	int ncalib;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_CALIBRATE = 256 };
	static const struct option opts[] = {
		{"type", required_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
		{"calibrate", required_argument, 0, O_CALIBRATE},
		{"verbose", no_argument, 0, 'v'},    {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},       {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *type_name = NULL;
	int opt;
	memset(a, 0, sizeof *a);
	if (!(a->calib = calloc((size_t)argc, sizeof *a->calib)))
		die("out of memory");
	/* -c: the old spelling of --calibrate (doc/options.md) */
	while ((opt = getopt_long(argc, argv, "t:o:vqhVc:", opts, NULL)) != -1) {
		if (opt == 'h' || opt == 'V')
			free(a->calib); /* they exit */
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 't': type_name = optarg; break;
		case O_CALIBRATE: case 'c': a->calib[a->ncalib++] = optarg; break;
		case 'o': a->out_path = optarg; break;
		default: usage(stderr); free(a->calib); exit(2);
		}
	}
	if (!type_name)
		die("no type given: use -t f16, bf16, q8 or q8s (see --help)");
	if ((a->type = quant_type_parse(type_name)) < 0)
		die_lib("");
	int q8s = quant_traits[a->type].act_scales;
	if (q8s && !a->ncalib)
		die("-t q8s needs --calibrate STREAM: a spectrogram stream (tf-stft -m MODEL) of typical audio");
	if (!q8s && a->ncalib)
		die("--calibrate is for -t q8s (q8 quantises activations at run time; f16 and bf16 need none)");
	if (argc - optind > 1)
		die("one model at a time; see --help");
	a->in_path = optind < argc ? argv[optind] : NULL;
	int model_stdin = !a->in_path || !strcmp(a->in_path, "-");
	if (model_stdin && isatty(0))
		die("no model: name a file, or pipe one in (see --help)");
	for (int i = 0; i < a->ncalib; i++)
		if (!strcmp(a->calib[i], "-") && model_stdin)
			die("the model and a calibration stream cannot both come from standard input");
}

int main(int argc, char **argv)
{
	struct args a;
	threads_wait_policy(argv);
	progname = "tf-quant";
	args_begin();
	parse_args(argc, argv, &a);
	args_end();
	threads_choose(0);

	struct model m;
	if (model_load(&m, a.in_path))
		die_lib("");
	if (m.cfg.quantization != QUANT_NONE)
		die("the model is already quantised (%s): quantise the f32 model instead",
		    quant_traits[m.cfg.quantization].name);
	int q8s = quant_traits[a.type].act_scales;
	struct quant_layer *q = calloc((size_t)m.nspecs, sizeof *q);
	enum dtype *dt = calloc((size_t)m.nspecs, sizeof *dt);
	struct calib_layer *cal = q8s ? calloc((size_t)m.nspecs, sizeof *cal) : NULL;
	if (!q || !dt || (q8s && !cal))
		die("out of memory");
	if (q8s && calibrate(&m, a.calib, a.ncalib, cal))
		die_lib("calibration");
	if (quant_plan(&m, a.type, q))
		die_lib("");
	for (int i = 0; i < m.nspecs; i++)
		dt[i] = q[i].dtype;
	m.cfg.quantization = a.type;
	record_provenance(&m.cfg.prov, a.type, a.ncalib);

	struct atomic_file af;
	FILE *out = output_open(a.out_path, &af, "a binary model");
	if (model_write_as(&m, out, dt))
		die_lib("writing the model");
	output_close(&af);
	report(&m, q, a.type, cal);
	free(q), free(dt), free(cal), free(a.calib);
	model_free(&m);
	return 0;
}
