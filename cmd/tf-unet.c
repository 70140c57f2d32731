/* tf-unet: separates a spectrogram stream with TFSWA-UNet.
 * Reads a spectrogram stream (tf-stft), writes the separated stems
 * (complex, mask x mixture) or the masks themselves. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "duration.h"
#include "error.h"
#include "fileio.h"
#include "kernels/gemm.h"
#include "kernels/bgemm.h"
#include "kernels/qgemm.h"
#include "model.h"
#include "modelpath.h"
#include "segment.h"
#include "specstream.h"
#include "tensor.h"
#include "unet.h"
#include "threads.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-unet -m MODEL [options] [INPUT]\n"
		"Separates a spectrogram stream (from tf-stft) into stems with TFSWA-UNet.\n"
		"INPUT is a stream file, or standard input when absent or '-'.\n\n"
		"  -m, --model MODEL    model file or name (tf-export --list; default $TFSWA_MODEL)\n"
		"  -o, --output FILE    write the stream to FILE (default standard output)\n"
		"      --masks          write the network's masks (f32, raw) instead of the stems\n"
		"      --mask-norm HOW  how the stems are made from the masks: sum1 (default;\n"
		"                       m_s / sum of the masks per bin, the stems add up to the\n"
		"                       mixture), power (m_s^2 / sum m^2, Wiener-like) or raw\n"
		"  -j, --threads N      threads to use (default: all cores)\n"
		"      --segment N      frames per segment, or seconds as in 3s (default from the\n"
		"                       model; 0 = the whole input as one segment, unpadded;\n"
		"                       at most 16384 frames)\n"
		"      --overlap N      frames (or seconds, 1s) shared by neighbouring segments\n"
		"                       (default from the model)\n"
		"  -q, --quiet          no progress bar\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show version and the kernels chosen for this CPU\n");
}

struct out_state {
	struct spec_writer *w;
	const struct unet_config *cfg;
	int masks, bins;
	enum mask_norm norm;
	float *stems, *normed; /* normed: the masks normalised, as many floats as stems_cap / 2 */
	size_t stems_cap;
	struct progress *bar;
};

static int write_chunk(void *ctx, const float *masks, const float *mix, int64_t first, int n)
{
	struct out_state *o = ctx;
	const struct unet_config *c = o->cfg;
	if (!o->masks) {
		size_t need = (size_t)c->nstems * c->channels * o->bins * n * 2;
		if (need > o->stems_cap) {
			free(o->stems), free(o->normed);
			o->normed = NULL, o->stems_cap = 0;
			if (!(o->stems = tf_alloc(need, sizeof(float))) || !(o->normed = tf_alloc(need / 2, sizeof(float))))
				return -1;
			o->stems_cap = need;
		}
		if (o->norm != MASK_RAW) {
			mask_normalize(o->normed, masks, c->nstems, c->channels, o->bins, n, o->norm);
			masks = o->normed;
		}
		mask_apply(o->stems, masks, mix, c->nstems, c->channels, o->bins, n);
	}
	if (spec_write_chunk(o->w, o->masks ? masks : o->stems, first, n))
		return -1;
	progress_update(o->bar, first + n);
	return 0;
}

/* What the command line asks for. */
struct args {
	const char *model, *out, *in;
	int masks, threads;
	enum mask_norm norm;
	struct duration segment, overlap;
	int segment_given, overlap_given;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_MASKS = 256, O_MASK_NORM, O_SEGMENT, O_OVERLAP };
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'},  {"output", required_argument, 0, 'o'},
		{"masks", no_argument, 0, O_MASKS},        {"threads", required_argument, 0, 'j'},
		{"mask-norm", required_argument, 0, O_MASK_NORM},
		{"segment", required_argument, 0, O_SEGMENT}, {"overlap", required_argument, 0, O_OVERLAP},
		{"quiet", no_argument, 0, 'q'},        {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	int opt, norm;
	*a = (struct args){.norm = MASK_NORM_DEFAULT};
	while ((opt = getopt_long(argc, argv, "m:o:j:qvhV", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 'm': a->model = optarg; break;
		case 'o': a->out = optarg; break;
		case O_MASKS: a->masks = 1; break;
		case O_MASK_NORM:
			if ((norm = mask_norm_parse(optarg)) < 0)
				die("--mask-norm %s: one of sum1, power, raw", optarg);
			a->norm = norm;
			break;
		case 'j': a->threads = (int)parse_long(optarg, "--threads", 1, 1024); break;
		case O_SEGMENT:
			if (duration_parse(optarg, "--segment", MODEL_MAX_SEGMENT, &a->segment))
				die_lib("");
			a->segment_given = 1;
			break;
		case O_OVERLAP:
			if (duration_parse(optarg, "--overlap", MODEL_MAX_SEGMENT / 2, &a->overlap))
				die_lib("");
			a->overlap_given = 1;
			break;
		default: usage(stderr); exit(2);
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	if (!a->model && !getenv("TFSWA_MODEL"))
		die("no model given: use -m MODEL (a file or a name; tf-export --list) or set TFSWA_MODEL");
	a->in = optind < argc ? argv[optind] : NULL;
}

/* Segment and overlap in frames: as given (seconds in frames of the
 * model's STFT, which the stream must match), else the model's. */
static void segmenting(const struct args *a, const struct unet_config *c, int *segment, int *overlap)
{
	*segment = -1, *overlap = -1;
	if (a->segment_given && (*segment = (int)duration_frames(&a->segment, "--segment", c->sample_rate, c->hop,
								 MODEL_MAX_SEGMENT)) < 0)
		die_usage("%s", tf_strerror());
	if (a->overlap_given && (*overlap = (int)duration_frames(&a->overlap, "--overlap", c->sample_rate, c->hop,
								 MODEL_MAX_SEGMENT / 2)) < 0)
		die_usage("%s", tf_strerror());
	if (*segment < 0)
		*segment = c->segment;
	if (*overlap < 0)
		*overlap = config_overlap_for(c, *segment);
	if (*segment && *segment < UNET_MIN_SIZE)
		die_usage("--segment %d: at least %d frames, or 0 for the whole input", *segment, UNET_MIN_SIZE);
	if (2 * *overlap > *segment && *segment)
		die_usage("--overlap %d: at most half the segment (%d)", *overlap, *segment / 2);
}

/* The output stream: the input's header keys, plus the stems (or masks). */
static struct spec_writer *output_stream(const struct args *a, const struct spec_reader *r,
					 const struct unet_config *c, struct atomic_file *af)
{
	struct spec_header out = *spec_reader_header(r);
	out.kind = a->masks ? SPEC_MASKS : SPEC_STEMS;
	out.nstems = c->nstems;
	for (int s = 0; s < c->nstems; s++)
		snprintf(out.stems[s], sizeof out.stems[s], "%s", c->stems[s]);
	FILE *fp = output_open(a->out, af, "a binary stream");
	struct spec_writer *w = spec_writer_open(fp, &out, spec_reader_meta(r));
	if (!w)
		die_lib("");
	return w;
}

int main(int argc, char **argv)
{
	struct args a;
	char model_file[4096];
	struct model m;
	int segment, overlap;
	threads_wait_policy(argv);
	progname = "tf-unet";
	args_begin();
	parse_args(argc, argv, &a);
	args_end();

	/* the model */
	if (model_resolve(a.model, model_file, sizeof model_file) || model_load(&m, model_file))
		die_lib("");
	const struct unet_config *c = &m.cfg;
	segmenting(&a, c, &segment, &overlap);
	int threads = threads_choose(a.threads);
	struct unet *u = unet_prepare(&m);
	if (!u)
		die_lib("preparing the model");

	/* the streams: the input must fit the model */
	int fd = open_input(a.in);
	struct spec_reader *r = fd >= 0 ? spec_reader_open(fd, a.in, SPEC_SPECTROGRAM) : NULL;
	if (!r || spec_fits(spec_reader_header(r), c))
		die_lib("");
	const struct spec_header *in = spec_reader_header(r);
	struct atomic_file af;
	struct spec_writer *w = output_stream(&a, r, c, &af);
	struct segmenter *seg = segmenter_new(u, in->bins, segment, overlap, threads);
	if (!seg)
		die_lib("");
	struct progress bar;
	progress_start(&bar, "separating", in->samples > 0 ? 1 + in->samples / c->hop : 0);
	struct out_state os = {w, c, a.masks, in->bins, a.norm, NULL, NULL, 0, &bar};
	info("model: %s (quantization %s); segment %d frames, overlap %d; %d threads (%s); %s%s%s%s%s", model_file,
	     quant_traits[c->quantization].name, segment, overlap, threads, threads_wait_describe(), gemm_describe(),
	     unet_is_int8(u) ? "; int8 products " : "", unet_is_int8(u) ? qgemm_kernel_name() : "",
	     unet_is_bf16(u) ? "; bf16 products " : "", unet_is_bf16(u) ? bgemm_kernel_name() : "");

	/* the loop: chunks in, finished frames out */
	struct spec_chunk chunk;
	int got;
	while ((got = spec_read_chunk(r, &chunk)) > 0)
		if (segmenter_push(seg, chunk.data, chunk.n, write_chunk, &os))
			die_lib("separating");
	if (got < 0)
		die_lib("");
	if (segmenter_finish(seg, write_chunk, &os))
		die_lib("separating");
	progress_end(&bar);

	/* the end frame carries the input's totals through */
	if (spec_writer_close(w, spec_reader_end(r), -1))
		die_lib("writing output");
	output_close(&af);
	info("%lld frames in %lld segments", (long long)spec_reader_frames(r), (long long)segmenter_runs(seg));
	segmenter_free(seg);
	free(os.stems), free(os.normed);
	spec_reader_close(r);
	unet_free(u);
	model_free(&m);
	return 0;
}
