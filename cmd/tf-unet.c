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
#include "error.h"
#include "fileio.h"
#include "kernels/gemm.h"
#include "kernels/qgemm.h"
#include "model.h"
#include "modelpath.h"
#include "segment.h"
#include "stream.h"
#include "tensor.h"
#include "unet.h"

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
		"      --segment N      frames per segment (default from the model; 0 = the\n"
		"                       whole input as one segment, unpadded)\n"
		"      --overlap N      frames shared by neighbouring segments (default from the model)\n"
		"  -q, --quiet          no progress bar\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show version and the kernels chosen for this CPU\n");
}

struct out_state {
	struct stream_writer *w;
	struct frame *f;
	const struct unet_config *cfg;
	int masks, bins;
	enum mask_norm norm;
	float *stems, *normed; /* normed: the masks normalised, as many floats as stems_cap / 2 */
	size_t stems_cap;
	int64_t frames;
	struct progress *bar;
};

static int write_chunk(void *ctx, const float *masks, const float *mix, int64_t first, int n)
{
	struct out_state *o = ctx;
	const struct unet_config *c = o->cfg;
	struct tensor t = {.ndim = 4, .shape = {c->nstems, c->channels, o->bins, n}};
	if (o->masks) {
		t.dtype = DT_F32;
		t.data = (void *)masks;
	} else {
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
		t.dtype = DT_C64;
		t.data = o->stems;
	}
	frame_clear(o->f);
	if (frame_set_tensor(o->f, &t) || frame_set_int(o->f, "frame", first) ||
	    stream_write_frame(o->w, o->f))
		return -1;
	o->frames = first + n;
	progress_update(o->bar, o->frames);
	return 0;
}

/* The stream must be what the model was trained on; say how to get it. */
static void check_fits(const struct frame *h, const struct unet_config *c, int64_t *bins)
{
	int64_t sr = 0, nfft = 0, hop = 0, ch = 0;
	char win[32] = "hann";
	if (frame_get_int(h, "sample_rate", &sr) || frame_get_int(h, "n_fft", &nfft) ||
	    frame_get_int(h, "hop", &hop) || frame_get_int(h, "channels", &ch))
		die("spectrogram header needs sample_rate, n_fft, hop and channels");
	if (frame_get_str(h, "window", win, sizeof win) < 0)
		die_lib("spectrogram header");
	if (sr != c->sample_rate || nfft != c->n_fft || hop != c->hop || ch != c->channels ||
	    strcmp(win, c->window))
		die("stream (%lld Hz, n_fft %lld, hop %lld, %lld channel%s, %s window) does not fit the "
		    "model (%d Hz, n_fft %d, hop %d, %d channel%s); make it with: tf-stft -r %d -n %d -H %d -c %d "
		    "(or tf-stft -m MODEL)",
		    (long long)sr, (long long)nfft, (long long)hop, (long long)ch, ch == 1 ? "" : "s", win,
		    c->sample_rate, c->n_fft, c->hop, c->channels, c->channels == 1 ? "" : "s", c->sample_rate,
		    c->n_fft, c->hop, c->channels);
	*bins = nfft / 2 + 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'},  {"output", required_argument, 0, 'o'},
		{"masks", no_argument, 0, 'M'},        {"threads", required_argument, 0, 'j'},
		{"mask-norm", required_argument, 0, 'N'},
		{"segment", required_argument, 0, 'S'}, {"overlap", required_argument, 0, 'O'},
		{"quiet", no_argument, 0, 'q'},        {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *model_path = NULL, *out_path = NULL;
	int masks = 0, threads = 0, segment = -1, overlap = -1, opt;
	int norm = MASK_SUM1;
	progname = "tf-unet";
	tf_alloc_keep_freed();
	while ((opt = getopt_long(argc, argv, "m:o:j:qvhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'm': model_path = optarg; break;
		case 'o': out_path = optarg; break;
		case 'M': masks = 1; break;
		case 'N':
			if ((norm = mask_norm_parse(optarg)) < 0)
				die("--mask-norm %s: one of sum1, power, raw", optarg);
			break;
		case 'j': threads = (int)parse_long(optarg, "--threads", 1, 1024); break;
		case 'S': segment = (int)parse_long(optarg, "--segment", 0, 1 << 20); break;
		case 'O': overlap = (int)parse_long(optarg, "--overlap", 0, 1 << 19); break;
		case 'q': verbose = -1; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V': print_version(); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	char model_file[4096];
	if (model_resolve(model_path, model_file, sizeof model_file))
		die_lib("");
	model_path = model_file;

	/* the model */
	struct model m;
	struct unet *u;
	if (model_load(&m, model_path))
		die_lib("");
	const struct unet_config *c = &m.cfg;
	if (segment < 0)
		segment = c->segment;
	if (overlap < 0)
		overlap = segment ? (c->overlap <= segment / 2 ? c->overlap : segment / 4) : 0;
	if (segment && segment < UNET_MIN_SIZE)
		die("--segment %d: at least %d frames, or 0 for the whole input", segment, UNET_MIN_SIZE);
	if (2 * overlap > segment && segment)
		die("--overlap %d: at most half the segment (%d)", overlap, segment / 2);
	if (threads)
		omp_set_num_threads(threads);
	if (!(u = unet_prepare(&m)))
		die_lib("preparing the model");

	/* the input stream */
	int fd = open_input(optind < argc ? argv[optind] : NULL);
	if (fd < 0)
		die_lib("");
	struct stream_reader *r = stream_reader_open(fd, 0);
	struct frame *f = frame_new();
	if (!r || !f)
		die_lib("");
	if (stream_read_header(r, f, "spectrogram"))
		die_lib("reading input");
	int64_t bins;
	check_fits(f, c, &bins);
	if (bins < UNET_MIN_SIZE)
		die("n_fft %d gives %lld bins; the network needs at least %d", c->n_fft, (long long)bins,
		    UNET_MIN_SIZE);

	/* the output stream: the input's metadata, plus the stems */
	struct atomic_file af;
	FILE *out = output_open(out_path, &af, "a binary stream");
	struct stream_writer *w = stream_writer_open(out);
	struct frame *meta = frame_new();
	const char *stems[MODEL_MAX_STEMS];
	for (int s = 0; s < c->nstems; s++)
		stems[s] = c->stems[s];
	if (!w || !meta)
		die_lib("");
	/* header keys are copied whole; the writer's own tfswa and kind win */
	if (frame_copy_keys(meta, f) || frame_set_strs(meta, "stems", stems, (size_t)c->nstems) ||
	    stream_write_header(w, masks ? "masks" : "stems", meta))
		die_lib("writing output");

	struct segmenter *seg = segmenter_new(u, (int)bins, segment, overlap);
	if (!seg)
		die_lib("");
	struct progress bar;
	int64_t total = 0;
	frame_get_int(f, "samples", &total);
	progress_start(&bar, "separating", total > 0 ? 1 + total / c->hop : 0);
	struct out_state os = {w, frame_new(), c, masks, (int)bins, norm, NULL, NULL, 0, 0, &bar};
	struct frame *totals = frame_new();
	int64_t frames_in = 0;
	info("model: %s (quantization %s); segment %d frames, overlap %d; %d threads; %s%s%s", model_path,
	     c->quantization, segment, overlap, omp_get_max_threads(), gemm_describe(),
	     unet_is_int8(u) ? "; int8 products " : "", unet_is_int8(u) ? qgemm_kernel_name() : "");

	/* the loop: chunks in, finished frames out */
	int got;
	while ((got = stream_read_frame(r, f)) > 0 && !frame_is_end(f)) {
		struct tensor t;
		if (!frame_is_tensor(f))
			continue;
		if (frame_tensor(f, &t))
			die_lib("reading input");
		if (t.dtype != DT_C64 || t.ndim != 3 || t.shape[0] != c->channels || t.shape[1] != bins)
			die("input chunk %lld: expected c64 [%d, %lld, frames], got %s %s", (long long)frames_in,
			    c->channels, (long long)bins, dtype_traits[t.dtype].name,
			    shape_str(t.shape, t.ndim, (char[160]){0}, 160));
		if (t.shape[2] > 1 << 24)
			die("input chunk of %lld frames is too long", (long long)t.shape[2]);
		if (segmenter_push(seg, t.data, (int)t.shape[2], write_chunk, &os))
			die_lib("separating");
		frames_in += t.shape[2];
	}
	if (got < 0)
		die_lib("reading input");
	if (segmenter_finish(seg, write_chunk, &os))
		die_lib("separating");
	progress_end(&bar);

	/* the end frame carries the input's totals through */
	if (frame_copy_keys(totals, f) || frame_set_int(totals, "frames", frames_in) ||
	    stream_write_end(w, totals) || stream_writer_close(w))
		die_lib("writing output");
	output_close(&af);
	info("%lld frames in %lld segments", (long long)frames_in, (long long)segmenter_runs(seg));
	segmenter_free(seg);
	frame_free(f), frame_free(meta), frame_free(totals), frame_free(os.f);
	free(os.stems), free(os.normed);
	stream_reader_close(r);
	unet_free(u);
	model_free(&m);
	return 0;
}
