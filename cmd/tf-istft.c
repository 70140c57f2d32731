/* tf-istft: spectrogram or stems stream in, audio out.
 * Inverts the STFT of each stem as its frames arrive and writes the samples
 * as soon as they are final: one stem to standard output, or any number of
 * stems to files named after them. Files appear only once complete. */
#include <errno.h>
#include <fcntl.h>
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
#include "stft.h"
#include "stream.h"

#define MAX_STEMS 64
#define STEM_NAME_MAX 64

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-istft [options] [INPUT]\n"
		"Turns a stems stream (from tf-unet) or a spectrogram stream (from tf-stft) back\n"
		"into audio. INPUT is a stream file, or standard input when absent or '-'.\n\n"
		"  -s, --stem NAME,...  the stems to write (default: the first; with -o, all)\n"
		"  -o, --output PATTERN write to files; %%s in PATTERN becomes the stem name\n"
		"                       (needed for several stems); '-' is standard output\n"
		"  -t, --type TYPE      wav or flac (default from the -o extension, else wav)\n"
		"  -b, --bits BITS      16, 24 (PCM, clipped to full scale) or 32f (float WAV)\n"
		"                       (default 16)\n"
		"  -q, --quiet          no progress bar, no clipping warning\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n");
}

/* One audio output: a stem's inverse STFT and where its samples go. */
struct output {
	const char *stem;
	int index;              /* in the stream's stems */
	struct istft *istft;
	struct audio_writer *writer;
	struct atomic_file af;  /* the file (whole or not at all) or standard output */
	char *path;             /* NULL for standard output */
};

static int write_audio(void *ctx, const float *audio, size_t nframes)
{
	struct output *o = ctx;
	if (audio_write(o->writer, audio, nframes))
		return tf_adderr("writing %s: ", o->path ? o->path : "standard output");
	return 0;
}

/* PATTERN with every %s replaced by the stem name and %% by %. */
static char *expand(const char *pattern, const char *stem)
{
	size_t n = strlen(pattern) + 1, len = 0;
	for (const char *p = pattern; *p; p++)
		n += strlen(stem) * (p[0] == '%' && p[1] == 's');
	char *out = malloc(n);
	if (!out)
		die("out of memory");
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '%' && p[1] == 's')
			len += (size_t)sprintf(out + len, "%s", stem), p++;
		else if (p[0] == '%' && p[1] == '%')
			out[len++] = '%', p++;
		else if (p[0] == '%')
			die("-o %s: only %%s (the stem name) and %%%% may follow %%", pattern);
		else
			out[len++] = *p;
	}
	out[len] = 0;
	return out;
}

static int has_stem_name(const char *pattern)
{
	for (const char *p = pattern; *p; p++)
		if (*p == '%') {
			if (p[1] == 's')
				return 1;
			if (p[1] == '%')
				p++;
		}
	return 0;
}

/* Whether name is one of the comma-separated list. */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : p)
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

/* The stem names: a stems stream lists them; a spectrogram is one stem, "mix". */
static int read_stems(const struct frame *h, const char *kind, char names[][STEM_NAME_MAX])
{
	const struct value *v;
	if (!strcmp(kind, "spectrogram")) {
		strcpy(names[0], "mix");
		return 1;
	}
	if (!strcmp(kind, "masks"))
		die("this is a masks stream (tf-unet --masks): tf-istft needs the separated stems, "
		    "from tf-unet without --masks");
	if (strcmp(kind, "stems"))
		die("input is a \"%s\" stream; tf-istft reads stems (tf-unet) or a spectrogram (tf-stft)", kind);
	if (!(v = frame_get(h, "stems")) || v->kind != VAL_ARRAY || v->len < 1 || v->len > MAX_STEMS)
		die("stems stream header needs \"stems\", an array of 1 to %d names", MAX_STEMS);
	for (size_t i = 0; i < v->len; i++) {
		const struct value *s = &v->items[i];
		if (s->kind != VAL_STR || s->len < 1 || s->len >= STEM_NAME_MAX)
			die("stem %zu: expected a name of 1 to %d bytes", i, STEM_NAME_MAX - 1);
		memcpy(names[i], s->str, s->len + 1);
	}
	return (int)v->len;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"stem", required_argument, 0, 's'},  {"output", required_argument, 0, 'o'},
		{"type", required_argument, 0, 't'},  {"bits", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},       {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},        {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *stem = NULL, *pattern = NULL;
	int type = -1, encoding = AUDIO_PCM16, opt;
	progname = "tf-istft";
	while ((opt = getopt_long(argc, argv, "s:o:t:b:qvhV", opts, NULL)) != -1) {
		switch (opt) {
		case 's': stem = optarg; break;
		case 'o': pattern = optarg; break;
		case 't':
			if ((type = audio_type_from_name(optarg)) < 0)
				die_lib("-t");
			break;
		case 'b':
			if ((encoding = audio_encoding_from_name(optarg)) < 0)
				die_lib("-b");
			break;
		case 'q': verbose = -1; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V': print_version(); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	int to_files = pattern && strcmp(pattern, "-");
	if (type < 0 && to_files && (type = audio_type_from_path(pattern, AUDIO_WAV)) < 0)
		die("-o %s: cannot tell wav or flac from the extension; use -t", pattern);
	if (type < 0)
		type = AUDIO_WAV;
	if (type == AUDIO_FLAC && encoding == AUDIO_FLOAT)
		die("FLAC holds 16- or 24-bit samples; use -b 16 or -b 24, or -t wav for float");
	if (!to_files && isatty(1))
		die("will not write audio to a terminal; redirect the output or use -o FILE");

	/* the input stream and what it holds */
	const char *in_path = optind < argc ? argv[optind] : NULL;
	if ((!in_path || !strcmp(in_path, "-")) && isatty(0))
		die("no input: give a stream file, or pipe one in (see --help)");
	int fd = open_input(in_path);
	if (fd < 0)
		die_lib("");
	struct stream_reader *r = stream_reader_open(fd, 0);
	struct frame *f = frame_new();
	char kind[32] = "", window[32] = "hann";
	int64_t rate = 0, n_fft = 0, hop = 0, channels = 0, header_samples = -1;
	int center = 1;
	if (!r || !f)
		die_lib("");
	if (stream_read_header(r, f, NULL))
		die_lib("reading input");
	if (frame_get_str(f, "kind", kind, sizeof kind) < 0)
		die_lib("reading input");
	char names[MAX_STEMS][STEM_NAME_MAX];
	int nstems = read_stems(f, kind, names);
	if (frame_get_int(f, "sample_rate", &rate) || frame_get_int(f, "n_fft", &n_fft) ||
	    frame_get_int(f, "hop", &hop) || frame_get_int(f, "channels", &channels))
		die("%s stream header needs sample_rate, n_fft, hop and channels", kind);
	if (frame_get_str(f, "window", window, sizeof window) < 0 || frame_get_bool(f, "center", &center) < 0 ||
	    frame_get_int(f, "samples", &header_samples) < 0)
		die_lib("stream header");
	if (strcmp(window, "hann") || !center)
		die("the stream's STFT (%s window%s) is not one tf-istft inverts (hann, centred)", window,
		    center ? "" : ", not centred");
	if (n_fft < 2 || n_fft > STFT_MAX_NFFT || hop < 1 || hop > n_fft || channels < 1 ||
	    channels > AUDIO_MAX_CHANNELS || rate < 1 || rate > AUDIO_MAX_RATE)
		die("stream header: n_fft %lld, hop %lld, %lld channels, %lld Hz is out of range", (long long)n_fft,
		    (long long)hop, (long long)channels, (long long)rate);
	if (header_samples < -1)
		die("stream header: %lld samples", (long long)header_samples);
	int bins = (int)n_fft / 2 + 1;

	/* which stems go where */
	struct output outs[MAX_STEMS];
	int nout = 0;
	for (int s = 0; s < nstems; s++) {
		if (stem ? !listed(stem, names[s]) : to_files ? 0 : s > 0)
			continue;
		if (to_files && (strchr(names[s], '/') || !strcmp(names[s], ".") || !strcmp(names[s], "..")))
			die("stem name \"%s\" cannot be part of a file name", names[s]);
		for (int i = 0; i < nout; i++)
			if (!strcmp(outs[i].stem, names[s]))
				die("the stream names two stems \"%s\"", names[s]);
		outs[nout++] = (struct output){.stem = names[s], .index = s};
	}
	if (!nout) {
		char list[MAX_STEMS * STEM_NAME_MAX] = "";
		for (int s = 0; s < nstems; s++)
			strcat(strcat(list, s ? ", " : ""), names[s]);
		die("no stem \"%s\" in this stream (it has: %s)", stem, list);
	}
	if (to_files && nout > 1 && !has_stem_name(pattern))
		die("-o %s: %d stems need %%s in the name (e.g. -o 'song-%%s.wav'), or pick one with -s", pattern,
		    nout);
	struct audio_format fmt = {(enum audio_type)type, (enum audio_encoding)encoding, (int)rate, (int)channels};
	for (int i = 0; i < nout; i++) {
		struct output *o = &outs[i];
		if (to_files)
			o->path = expand(pattern, o->stem);
		output_open(o->path, &o->af, "audio");
		if (!(o->istft = istft_new((int)n_fft, (int)hop, (int)channels, header_samples)))
			die_lib("");
		if (!(o->writer = audio_writer_open(o->af.fd, &fmt, header_samples)))
			die_lib(o->path ? o->path : "standard output");
		info("stem %s -> %s", o->stem, o->path ? o->path : "standard output");
	}

	/* the loop: chunks of frames in, final samples out */
	struct progress bar;
	int64_t frames = 0, chunks = 0;
	int got;
	progress_start(&bar, "istft", header_samples > 0 ? 1 + header_samples / hop : 0);
	while ((got = stream_read_frame(r, f)) > 0 && !frame_is_end(f)) {
		struct tensor t;
		int64_t first = frames;
		if (!frame_is_tensor(f))
			continue;
		if (frame_tensor(f, &t))
			die_lib("reading input");
		int ndim = !strcmp(kind, "stems") ? 4 : 3;
		const int64_t *shape = t.shape + (ndim - 3);
		if (t.dtype != DT_C64 || t.ndim != ndim || (ndim == 4 && t.shape[0] != nstems) || shape[0] != channels ||
		    shape[1] != bins) {
			char want[80], have[160];
			snprintf(want, sizeof want, ndim == 4 ? "[%d, %lld, %d, frames]" : "[%.0d%lld, %d, frames]",
				 ndim == 4 ? nstems : 0, (long long)channels, bins);
			die("chunk %lld: expected c64 %s, got %s %s", (long long)chunks, want, dtype_traits[t.dtype].name,
			    shape_str(t.shape, t.ndim, have, sizeof have));
		}
		if (frame_get_int(f, "frame", &first) < 0)
			die_lib("reading input");
		if (first != frames)
			die("chunk %lld starts at frame %lld, expected %lld (frames missing or out of order)",
			    (long long)chunks, (long long)first, (long long)frames);
		if (shape[2] > 1 << 24)
			die("chunk %lld: %lld frames is too many for one chunk", (long long)chunks, (long long)shape[2]);
		int n = (int)shape[2];
		size_t stem_floats = (size_t)channels * bins * n * 2;
		for (int i = 0; i < nout && n > 0; i++)
			if (istft_push(outs[i].istft, (const float *)t.data + outs[i].index * stem_floats, n, write_audio,
				       &outs[i]))
				die_lib("");
		frames += n;
		chunks++;
		progress_update(&bar, frames);
	}
	if (got < 0)
		die_lib("reading input");
	progress_end(&bar);

	/* the end frame: the exact length */
	int64_t samples = header_samples, end_frames = frames;
	if (frame_get_int(f, "samples", &samples) < 0 || frame_get_int(f, "frames", &end_frames) < 0)
		die_lib("end frame");
	if (end_frames != frames)
		die("the stream ends claiming %lld frames, but it held %lld", (long long)end_frames, (long long)frames);
	if (header_samples >= 0 && samples != header_samples)
		die("the stream ends claiming %lld samples, but its header said %lld", (long long)samples,
		    (long long)header_samples);
	if (samples < -1)
		die("end frame: %lld samples", (long long)samples);
	/* torch.istft pads a length beyond the frames with zeros; a little (the
	 * frames of any real signal) is fine, a lot is a damaged stream */
	if (samples > (frames + 1) * hop + n_fft)
		die("the stream claims %lld samples, more than its %lld frames can hold", (long long)samples,
		    (long long)frames);
	for (int i = 0; i < nout; i++) {
		struct output *o = &outs[i];
		const char *where = o->path ? o->path : "standard output";
		if (istft_finish(o->istft, samples, write_audio, o))
			die_lib(where);
		int64_t clipped = audio_writer_clipped(o->writer), written = audio_writer_frames(o->writer);
		if (audio_writer_close(o->writer))
			die_lib(where);
		if (clipped && verbose >= 0)
			warn("%s: %lld samples clipped to full scale (-b 32f keeps them)", where, (long long)clipped);
		output_close(&o->af);
		info("%s: %lld samples per channel, %d channel%s at %lld Hz", where, (long long)written,
		     (int)channels, channels == 1 ? "" : "s", (long long)rate);
		istft_free(o->istft);
		free(o->path);
	}
	frame_free(f);
	stream_reader_close(r);
	return 0;
}
