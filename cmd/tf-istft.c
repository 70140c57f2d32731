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
#include "specstream.h"
#include "stft.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-istft [options] [INPUT]\n"
		"Turns a stems stream (from tf-unet) or a spectrogram stream (from tf-stft) back\n"
		"into audio. INPUT is a stream file, or standard input when absent or '-'.\n\n"
		"  -s, --stem NAME      the stem to write (default: the first; with -o, all)\n"
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
	struct spec_reader *r = fd >= 0 ? spec_reader_open(fd, in_path, SPEC_SPECTROGRAM | SPEC_STEMS) : NULL;
	if (!r)
		die_lib("");
	const struct spec_header *h = spec_reader_header(r);
	/* a spectrogram is one stem, "mix" */
	static const char mix[][SPEC_STEM_NAME_MAX] = {"mix"};
	const char(*names)[SPEC_STEM_NAME_MAX] = h->kind == SPEC_STEMS ? h->stems : mix;
	int nstems = h->kind == SPEC_STEMS ? h->nstems : 1;
	int64_t rate = h->sample_rate, n_fft = h->n_fft, hop = h->hop, channels = h->channels,
		header_samples = h->samples;
	int bins = h->bins;

	/* which stems go where */
	struct output outs[SPEC_MAX_STEMS];
	int nout = 0;
	for (int s = 0; s < nstems; s++) {
		if (stem ? strcmp(stem, names[s]) : to_files ? 0 : s > 0)
			continue;
		if (to_files && (strchr(names[s], '/') || !strcmp(names[s], ".") || !strcmp(names[s], "..")))
			die("stem name \"%s\" cannot be part of a file name", names[s]);
		for (int i = 0; i < nout; i++)
			if (!strcmp(outs[i].stem, names[s]))
				die("the stream names two stems \"%s\"", names[s]);
		outs[nout++] = (struct output){.stem = names[s], .index = s};
	}
	if (!nout) {
		char list[SPEC_MAX_STEMS * SPEC_STEM_NAME_MAX] = "";
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
	struct spec_chunk chunk;
	int got;
	progress_start(&bar, "istft", header_samples > 0 ? 1 + header_samples / hop : 0);
	while ((got = spec_read_chunk(r, &chunk)) > 0) {
		size_t stem_floats = (size_t)channels * bins * chunk.n * 2;
		for (int i = 0; i < nout; i++)
			if (istft_push(outs[i].istft, (const float *)chunk.data + outs[i].index * stem_floats, chunk.n,
				       write_audio, &outs[i]))
				die_lib("");
		progress_update(&bar, chunk.first + chunk.n);
	}
	if (got < 0)
		die_lib("");
	progress_end(&bar);

	/* the end frame: the exact length */
	int64_t samples = spec_reader_samples(r);
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
	spec_reader_close(r);
	return 0;
}
