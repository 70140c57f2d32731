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
#include "modelpath.h"
#include "stft.h"
#include "stream.h"

#define READ_BLOCK 4096 /* frames per read */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-stft [options] [INPUT]\n"
		"Turns audio into a spectrogram stream (for tf-unet or tf-istft).\n"
		"INPUT is any audio file libsndfile reads, or standard input when absent or '-'\n"
		"(from a pipe WAV, FLAC, AIFF, AU or Ogg; anything else through sox, e.g.\n"
		"sox song.mp3 -t wav - | tf-stft).\n\n"
		"  -m, --model MODEL    take FFT size, hop, sample rate and channels from a model\n"
		"                       (resampling and mixing the input to fit it)\n"
		"  -n, --n-fft N        FFT size, even (default 2048)\n"
		"  -H, --hop N          hop between frames in samples (default 512)\n"
		"  -r, --rate HZ        resample to HZ first (default: the input's rate)\n"
		"  -c, --channels N     mix to N channels: 1 averages the channels, N > 1 repeats\n"
		"                       a mono input (default: the input's channels)\n"
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
	struct stream_writer *w;
	struct frame *f;
	int channels, bins;
	struct progress *bar;
};

static int write_chunk(void *ctx, const float *spec, int64_t first, int nframes)
{
	struct pipeline *p = ctx;
	struct tensor t = {.dtype = DT_C64, .ndim = 3, .shape = {p->channels, p->bins, nframes},
			   .data = (void *)spec};
	frame_clear(p->f);
	if (frame_set_tensor(p->f, &t) || frame_set_int(p->f, "frame", first) || stream_write_frame(p->w, p->f))
		return tf_adderr("writing output: ");
	return 0;
}

static int to_stft(void *ctx, const float *audio, size_t nframes)
{
	struct pipeline *p = ctx;
	return stft_push(p->stft, audio, nframes, write_chunk, p);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'}, {"n-fft", required_argument, 0, 'n'},
		{"hop", required_argument, 0, 'H'},   {"rate", required_argument, 0, 'r'},
		{"channels", required_argument, 0, 'c'}, {"chunk", required_argument, 0, 'C'},
		{"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},     {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},     {0, 0, 0, 0}};
	const char *model_path = NULL, *out_path = NULL, *in_path = NULL;
	int n_fft = 0, hop = 0, rate = 0, channels = 0, chunk = 64, opt;
	progname = "tf-stft";
	while ((opt = getopt_long(argc, argv, "m:n:H:r:c:o:qvhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'm': model_path = optarg; break;
		case 'n': n_fft = (int)parse_long(optarg, "--n-fft", 2, STFT_MAX_NFFT); break;
		case 'H': hop = (int)parse_long(optarg, "--hop", 1, STFT_MAX_NFFT); break;
		case 'r': rate = (int)parse_long(optarg, "--rate", 1, AUDIO_MAX_RATE); break;
		case 'c': channels = (int)parse_long(optarg, "--channels", 1, AUDIO_MAX_CHANNELS); break;
		case 'C': chunk = (int)parse_long(optarg, "--chunk", 1, 1 << 16); break;
		case 'o': out_path = optarg; break;
		case 'q': verbose = -1; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V': print_version(); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	in_path = optind < argc ? argv[optind] : NULL;

	/* the model says how it was trained; options given as well win */
	if (!model_path && getenv("TFSWA_MODEL") && *getenv("TFSWA_MODEL"))
		model_path = getenv("TFSWA_MODEL");
	if (model_path) {
		struct unet_config cfg;
		char model_file[4096];
		if (model_resolve(model_path, model_file, sizeof model_file))
			die_lib("");
		if (model_read_config(&cfg, model_file))
			die_lib("reading the model");
		n_fft = n_fft ? n_fft : cfg.n_fft;
		hop = hop ? hop : cfg.hop;
		rate = rate ? rate : cfg.sample_rate;
		channels = channels ? channels : cfg.channels;
	}
	n_fft = n_fft ? n_fft : 2048;
	hop = hop ? hop : 512;
	if (n_fft % 2)
		die("--n-fft %d: must be even", n_fft);
	if (hop > n_fft)
		die("--hop %d: at most the FFT size (%d)", hop, n_fft);

	/* the input */
	if ((!in_path || !strcmp(in_path, "-")) && isatty(0))
		die("no input: give an audio file, or pipe audio in (see --help)");
	struct audio_info in;
	struct audio_reader *r = audio_reader_open(in_path, &in);
	if (!r)
		die_lib("");
	rate = rate ? rate : in.sample_rate;
	channels = channels ? channels : in.channels;
	if (channels != in.channels && in.channels != 1 && channels != 1)
		die("cannot mix %d channels into %d (only to mono, or mono to more)", in.channels, channels);
	int64_t total = in.frames >= 0 ? resampled_length(in.frames, in.sample_rate, rate) : -1;
	info("input: %s, %d Hz, %d channel%s, %s samples", in.format, in.sample_rate, in.channels,
	     in.channels == 1 ? "" : "s", in.frames >= 0 ? "known number of" : "unknown number of");
	if (rate != in.sample_rate)
		info("resampling %d Hz to %d Hz", in.sample_rate, rate);
	if (channels != in.channels)
		info("mixing %d channel%s to %d", in.channels, in.channels == 1 ? "" : "s", channels);

	/* the output stream */
	struct atomic_file af;
	FILE *out = output_open(out_path, &af, "a binary stream");
	struct pipeline p = {.channels = channels, .bins = n_fft / 2 + 1};
	struct frame *meta = frame_new(), *totals = frame_new();
	if (!(p.w = stream_writer_open(out)) || !(p.f = frame_new()) || !meta || !totals)
		die_lib("");
	if (!(p.stft = stft_new(n_fft, hop, channels, chunk)))
		die_lib("");
	if (rate != in.sample_rate && !(p.rs = resampler_new(in.sample_rate, rate, channels)))
		die_lib("");
	if (frame_set_int(meta, "sample_rate", rate) || frame_set_int(meta, "n_fft", n_fft) ||
	    frame_set_int(meta, "hop", hop) || frame_set_str(meta, "window", "hann") ||
	    frame_set_bool(meta, "center", 1) || frame_set_int(meta, "channels", channels) ||
	    (total >= 0 && frame_set_int(meta, "samples", total)) ||
	    stream_write_header(p.w, "spectrogram", meta))
		die_lib("writing output");

	/* the loop: blocks of audio in, chunks of frames out */
	float *block = malloc((size_t)READ_BLOCK * in.channels * sizeof *block);
	float *mixed = malloc((size_t)READ_BLOCK * channels * sizeof *mixed);
	struct progress bar;
	int64_t got, frames_read = 0;
	if (!block || !mixed)
		die("out of memory");
	progress_start(&bar, "stft", in.frames > 0 ? in.frames : 0);
	while ((got = audio_read(r, block, READ_BLOCK)) > 0) {
		const float *audio = block;
		if (channels != in.channels) {
			if (audio_remix(mixed, channels, block, in.channels, (size_t)got))
				die_lib("");
			audio = mixed;
		}
		if (p.rs ? resampler_push(p.rs, audio, (size_t)got, to_stft, &p) : to_stft(&p, audio, (size_t)got))
			die_lib("");
		frames_read += got;
		progress_update(&bar, frames_read);
	}
	progress_end(&bar);
	if (got < 0)
		die_lib("reading input");
	if (in.frames >= 0 && frames_read != in.frames)
		die("input ended after %lld of its %lld samples", (long long)frames_read, (long long)in.frames);
	if (in.header_frames >= 0 && frames_read < in.header_frames)
		warn("input ended after %lld samples, but its header announced %lld: cut short?",
		     (long long)frames_read, (long long)in.header_frames);
	if ((p.rs && resampler_finish(p.rs, to_stft, &p)) || stft_finish(p.stft, write_chunk, &p))
		die_lib("");

	if (frame_set_int(totals, "frames", stft_frames(p.stft)) ||
	    frame_set_int(totals, "samples", stft_samples(p.stft)) || stream_write_end(p.w, totals) ||
	    stream_writer_close(p.w))
		die_lib("writing output");
	output_close(&af);
	info("%lld samples per channel at %d Hz, %lld frames of %d bins", (long long)stft_samples(p.stft), rate,
	     (long long)stft_frames(p.stft), p.bins);
	audio_reader_close(r);
	resampler_free(p.rs);
	stft_free(p.stft);
	frame_free(p.f), frame_free(meta), frame_free(totals);
	free(block), free(mixed);
	return 0;
}
