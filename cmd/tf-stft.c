/* tf-stft: audio in, spectrogram stream out.
 * Reads any audio libsndfile reads (a file, or standard input, also a pipe),
 * optionally resamples and up/down-mixes it, and writes its STFT as a
 * "spectrogram" tensor stream in chunks, holding only a few frames at once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio.h"
#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "model.h"
#include "specstream.h"
#include "modelpath.h"
#include "stft.h"

#define READ_BLOCK 4096 /* frames per read */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-stft [options] [INPUT]\n"
		"Turns audio into a spectrogram stream (for tf-unet or tf-istft).\n"
		"INPUT is any audio file libsndfile reads (WAV, FLAC, MP3, Ogg, AIFF, ...), or\n"
		"standard input when absent or '-' (from a pipe WAV, FLAC, MP3, AIFF, AU or Ogg;\n"
		"anything else through ffmpeg, e.g. ffmpeg -i song.m4a -f wav - | tf-stft).\n\n"
		"  -m, --model MODEL    take FFT size, hop, sample rate and channels from a model\n"
		"                       (resampling and mixing the input to fit it)\n"
		"  -n, --n-fft N        FFT size, even (default 2048)\n"
		"  -H, --hop N          hop between frames in samples (default 512)\n"
		"  -r, --rate HZ        resample to HZ first (default: the input's rate)\n"
		"  -c, --channels N     mix to N channels: 1 averages the channels, N > 1 repeats\n"
		"                       a mono input, 2 downmixes surround (3 to 8 channels,\n"
		"                       ITU-R BS.775) (default: the input's channels)\n"
		"      --zero-nonfinite replace NaN and infinite samples with 0 (with a warning)\n"
		"                       instead of refusing the input\n"
		"      --chunk FRAMES   STFT frames per tensor frame (default 64)\n"
		"  -o, --output FILE    write the stream to FILE (default standard output)\n"
		"  -q, --quiet          no progress bar\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n");
}

/* Where the audio goes after mixing: resampler (optional), STFT, stream. */
struct pipeline {
	struct resampler *rs;
	struct stft *stft;
	struct spec_writer *w;
	const struct audio_info *in;
	const char *in_name;
	int channels; /* after mixing */
	int zero_nonfinite;
	int64_t nonfinite, first_nonfinite; /* samples replaced with 0; the first one's frame */
	float *block, *mixed;               /* READ_BLOCK frames as read, and mixed */
};

static int write_chunk(void *ctx, const float *spec, int64_t first, int nframes)
{
	struct pipeline *p = ctx;
	if (spec_write_chunk(p->w, spec, first, nframes))
		return tf_adderr("writing output: ");
	return 0;
}

static int to_stft(void *ctx, const float *audio, size_t nframes)
{
	struct pipeline *p = ctx;
	return stft_push(p->stft, audio, nframes, write_chunk, p);
}

/* A block of nframes frames read at frame `at` (in p->block): its
 * non-finite samples refused (or replaced with 0 and counted), then mixed
 * (into p->mixed) and sent on. */
static void feed(struct pipeline *p, int64_t nframes, int64_t at)
{
	float *block = p->block, *mixed = p->mixed;
	int in_ch = p->in->channels;
	size_t first, bad = audio_nonfinite(block, (size_t)nframes * in_ch, p->zero_nonfinite, &first);
	int64_t where = at + (int64_t)(first / in_ch);
	if (bad && !p->zero_nonfinite)
		die("%s: sample %lld (channel %d, at %.3f s) is not finite (%g); --zero-nonfinite replaces such "
		    "samples with 0", p->in_name, (long long)where, (int)(first % in_ch) + 1,
		    (double)where / p->in->sample_rate, (double)block[first]);
	if (bad && !p->nonfinite)
		p->first_nonfinite = where;
	p->nonfinite += (int64_t)bad;
	const float *audio = block;
	if (p->channels != in_ch) {
		if (audio_remix(mixed, p->channels, block, in_ch, (size_t)nframes))
			die_lib("");
		audio = mixed;
	}
	if (p->rs ? resampler_push(p->rs, audio, (size_t)nframes, to_stft, p) : to_stft(p, audio, (size_t)nframes))
		die_lib("");
}

/* What the command line asks for; 0 where it says nothing (the model's,
 * the input's or the default value then). */
struct args {
	const char *model, *out, *in;
	const char *in_name; /* for messages */
	int n_fft, hop, rate, channels, chunk, zero_nonfinite;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_CHUNK = 256, O_ZERO_NONFINITE };
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'}, {"n-fft", required_argument, 0, 'n'},
		{"hop", required_argument, 0, 'H'},   {"rate", required_argument, 0, 'r'},
		{"channels", required_argument, 0, 'c'}, {"chunk", required_argument, 0, O_CHUNK},
		{"output", required_argument, 0, 'o'}, {"zero-nonfinite", no_argument, 0, O_ZERO_NONFINITE},
		{"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},     {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},     {0, 0, 0, 0}};
	int opt;
	*a = (struct args){.chunk = 64};
	while ((opt = getopt_long(argc, argv, "m:n:H:r:c:o:qvhV", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 'm': a->model = optarg; break;
		case 'n': a->n_fft = (int)parse_long(optarg, "--n-fft", 2, STFT_MAX_NFFT); break;
		case 'H': a->hop = (int)parse_long(optarg, "--hop", 1, STFT_MAX_NFFT); break;
		case 'r': a->rate = (int)parse_long(optarg, "--rate", 1, AUDIO_MAX_RATE); break;
		case 'c': a->channels = (int)parse_long(optarg, "--channels", 1, AUDIO_MAX_CHANNELS); break;
		case O_CHUNK: a->chunk = (int)parse_long(optarg, "--chunk", 1, 1 << 16); break;
		case 'o': a->out = optarg; break;
		case O_ZERO_NONFINITE: a->zero_nonfinite = 1; break;
		default: usage(stderr); exit(2);
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	a->in = optind < argc ? argv[optind] : NULL;
	a->in_name = a->in && strcmp(a->in, "-") ? a->in : "standard input";
}

/* The STFT: the model says how it was trained; options given as well win. */
static void stft_settings(struct args *a)
{
	const char *model = a->model;
	if (!model && getenv("TFSWA_MODEL") && *getenv("TFSWA_MODEL"))
		model = getenv("TFSWA_MODEL");
	if (model) {
		struct unet_config cfg;
		char model_file[4096];
		if (model_resolve(model, model_file, sizeof model_file))
			die_lib("");
		if (model_read_config(&cfg, model_file))
			die_lib("reading the model");
		a->n_fft = a->n_fft ? a->n_fft : cfg.n_fft;
		a->hop = a->hop ? a->hop : cfg.hop;
		a->rate = a->rate ? a->rate : cfg.sample_rate;
		a->channels = a->channels ? a->channels : cfg.channels;
	}
	a->n_fft = a->n_fft ? a->n_fft : 2048;
	a->hop = a->hop ? a->hop : 512;
	if (a->n_fft % 2)
		die_usage("--n-fft %d: must be even", a->n_fft);
	if (a->hop > a->n_fft)
		die_usage("--hop %d: at most the FFT size (%d)", a->hop, a->n_fft);
}

/* The input; rate and channels not given become the input's. */
static struct audio_reader *open_audio(struct args *a, struct audio_info *in)
{
	if ((!a->in || !strcmp(a->in, "-")) && isatty(0))
		die("no input: give an audio file, or pipe audio in (see --help)");
	struct audio_reader *r = audio_reader_open(a->in, in);
	if (!r)
		die_lib("");
	a->rate = a->rate ? a->rate : in->sample_rate;
	a->channels = a->channels ? a->channels : in->channels;
	if (audio_remix_check(a->channels, in->channels))
		die_lib(a->in_name);
	info("input: %s, %d Hz, %d channel%s, %s samples", in->format, in->sample_rate, in->channels,
	     in->channels == 1 ? "" : "s", in->frames >= 0 ? "known number of" : "unknown number of");
	if (a->rate != in->sample_rate)
		info("resampling %d Hz to %d Hz", in->sample_rate, a->rate);
	if (a->channels != in->channels)
		info("mixing %d channel%s to %d%s", in->channels, in->channels == 1 ? "" : "s", a->channels,
		     in->channels > 2 ? " (ITU-R BS.775 downmix)" : "");
	return r;
}

/* The output stream and what feeds it: resampler, STFT, read buffers. */
static void open_pipeline(const struct args *a, const struct audio_info *in, struct atomic_file *af,
			  struct pipeline *p)
{
	int64_t total = in->frames >= 0 ? resampled_length(in->frames, in->sample_rate, a->rate) : -1;
	FILE *out = output_open(a->out, af, "a binary stream");
	struct spec_header h = {.kind = SPEC_SPECTROGRAM, .sample_rate = a->rate, .n_fft = a->n_fft, .hop = a->hop,
				.channels = a->channels, .bins = a->n_fft / 2 + 1, .samples = total};
	*p = (struct pipeline){.in = in, .in_name = a->in_name, .channels = a->channels,
			       .zero_nonfinite = a->zero_nonfinite};
	if (!(p->w = spec_writer_open(out, &h, NULL)))
		die_lib("writing output");
	if (!(p->stft = stft_new(a->n_fft, a->hop, a->channels, a->chunk)))
		die_lib("");
	if (a->rate != in->sample_rate && !(p->rs = resampler_new(in->sample_rate, a->rate, a->channels)))
		die_lib("");
	p->block = malloc((size_t)READ_BLOCK * in->channels * sizeof *p->block);
	p->mixed = malloc((size_t)READ_BLOCK * a->channels * sizeof *p->mixed);
	if (!p->block || !p->mixed)
		die("out of memory");
}

/* All of the input read: it must be as long as it said. */
static void check_length(const struct audio_info *in, int64_t frames_read)
{
	if (in->frames >= 0 && frames_read != in->frames)
		die("input ended after %lld of its %lld samples", (long long)frames_read, (long long)in->frames);
	if (in->header_frames >= 0 && frames_read < in->header_frames)
		warn("input ended after %lld samples, but its header announced %lld: cut short?",
		     (long long)frames_read, (long long)in->header_frames);
}

/* The last frames out, the stream closed with the exact length. */
static void close_pipeline(const struct args *a, struct pipeline *p, struct atomic_file *af)
{
	if ((p->rs && resampler_finish(p->rs, to_stft, p)) || stft_finish(p->stft, write_chunk, p))
		die_lib("");
	if (spec_writer_close(p->w, NULL, stft_samples(p->stft)))
		die_lib("writing output");
	if (p->nonfinite)
		warn("%s: %lld samples that were not finite (the first at sample %lld) replaced with 0", p->in_name,
		     (long long)p->nonfinite, (long long)p->first_nonfinite);
	output_close(af);
	info("%lld samples per channel at %d Hz, %lld frames of %d bins", (long long)stft_samples(p->stft),
	     a->rate, (long long)stft_frames(p->stft), a->n_fft / 2 + 1);
	resampler_free(p->rs);
	stft_free(p->stft);
	free(p->block), free(p->mixed);
}

int main(int argc, char **argv)
{
	struct args a;
	struct audio_info in;
	struct atomic_file af;
	struct pipeline p;
	progname = "tf-stft";
	args_begin();
	parse_args(argc, argv, &a);
	args_end();
	stft_settings(&a);
	struct audio_reader *r = open_audio(&a, &in);
	open_pipeline(&a, &in, &af, &p);

	/* the loop: blocks of audio in, chunks of frames out */
	struct progress bar;
	int64_t got, frames_read = 0;
	progress_start(&bar, "stft", in.approx_frames > 0 ? in.approx_frames : 0);
	while ((got = audio_read(r, p.block, READ_BLOCK)) > 0) {
		feed(&p, got, frames_read);
		frames_read += got;
		progress_update(&bar, frames_read);
	}
	progress_end(&bar);
	if (got < 0)
		die_lib("reading input");
	check_length(&in, frames_read);
	close_pipeline(&a, &p, &af);
	audio_reader_close(r);
	return 0;
}
