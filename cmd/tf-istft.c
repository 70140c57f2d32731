/* tf-istft: spectrogram or stems stream in, audio out.
 * Inverts the STFT of each stem as its frames arrive and writes the samples
 * as soon as they are final: one stem to standard output, or any number of
 * stems to files named after them. Files appear only once complete, and
 * all together. --two-stems S writes S and no_S, the sum of the others. */
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
		"  -s, --stem NAME,...  the stems to write (default: the first; with -o, all)\n"
		"      --two-stems NAME two stems: NAME and no_NAME, the sum of the others\n"
		"  -o, --output PATTERN write to files; %%s in PATTERN becomes the stem name\n"
		"                       (needed for several stems); '-' is standard output\n"
		"  -t, --type TYPE      wav, flac, mp3, ogg (Vorbis) or opus (default from the\n"
		"                       -o extension, else wav)\n"
		"  -b, --bits BITS      wav and flac: 16, 24 (PCM, clipped to full scale) or\n"
		"                       32f (float WAV) (default 16)\n"
		"  -Q, --quality Q      mp3, ogg and opus: 0 (smallest) to 10 (best) (default 7)\n"
		"  -q, --quiet          no progress bar, no clipping warning\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n");
}

/* One audio output: a stem's inverse STFT and where its samples go. */
struct output {
	const char *stem;
	int index;              /* in the stream's stems */
	int others;             /* no_<stem>: the sum of every stem but index */
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

/* Stem o's spectrogram in a chunk of nstems stems of n floats each: a
 * stem's own, or for no_<stem> the sum of the others, made in sum. */
static const float *stem_data(const struct output *o, const float *chunk, int nstems, size_t n, float *sum)
{
	int first = 1;
	if (!o->others)
		return chunk + o->index * n;
	for (int s = 0; s < nstems; s++) {
		if (s == o->index)
			continue;
		const float *x = chunk + s * n;
		if (first)
			memcpy(sum, x, n * sizeof *sum);
		else
			for (size_t i = 0; i < n; i++)
				sum[i] += x[i];
		first = 0;
	}
	return sum;
}

/* What the command line asks for. */
struct args {
	const char *stem, *pattern, *two_stems, *in;
	int to_files;              /* -o names files (not standard output) */
	struct audio_format fmt;   /* type, encoding and quality; rate and channels from the stream */
	int bits_set;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_TWO_STEMS = 256 };
	static const struct option opts[] = {
		{"stem", required_argument, 0, 's'},  {"output", required_argument, 0, 'o'},
		{"type", required_argument, 0, 't'},  {"bits", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},       {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},        {"version", no_argument, 0, 'V'},
		{"quality", required_argument, 0, 'Q'}, {"two-stems", required_argument, 0, O_TWO_STEMS},
		{0, 0, 0, 0}};
	int type = -1, encoding = AUDIO_PCM16, opt;
	*a = (struct args){.fmt.quality = AUDIO_QUALITY_DEFAULT};
	while ((opt = getopt_long(argc, argv, "s:o:t:b:Q:qvhV", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 's': a->stem = optarg; break;
		case O_TWO_STEMS: a->two_stems = optarg; break;
		case 'o': a->pattern = optarg; break;
		case 't':
			if ((type = audio_type_from_name(optarg)) < 0)
				die_lib("-t");
			break;
		case 'b':
			if ((encoding = audio_encoding_from_name(optarg)) < 0)
				die_lib("-b");
			a->bits_set = 1;
			break;
		case 'Q':
			a->fmt.quality = parse_double(optarg, "--quality", 0, 10);
			a->fmt.quality_set = 1;
			break;
		default: usage(stderr); exit(2);
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	a->to_files = a->pattern && strcmp(a->pattern, "-");
	if (type < 0 && a->to_files && (type = audio_type_from_path(a->pattern, AUDIO_WAV)) < 0)
		die("-o %s: cannot tell the type from the extension (.wav, .flac, .mp3, .ogg, .opus); use -t",
		    a->pattern);
	if (type < 0)
		type = AUDIO_WAV;
	if (type == AUDIO_FLAC && encoding == AUDIO_FLOAT)
		die("FLAC holds 16- or 24-bit samples; use -b 16 or -b 24, or -t wav for float");
	if (audio_type_is_lossy(type) && a->bits_set)
		die("-b is for wav and flac; mp3, ogg and opus take --quality");
	if (!audio_type_is_lossy(type) && a->fmt.quality_set)
		die("--quality is for mp3, ogg and opus; wav and flac take -b");
	if (a->two_stems && (!*a->two_stems || strlen(a->two_stems) + 3 >= SPEC_STEM_NAME_MAX))
		die("--two-stems '%s': a stem name of 1 to %d bytes", a->two_stems, SPEC_STEM_NAME_MAX - 4);
	if (!a->to_files && isatty(1))
		die("will not write audio to a terminal; redirect the output or use -o FILE");
	a->fmt.type = (enum audio_type)type;
	a->fmt.encoding = (enum audio_encoding)encoding;
	a->in = optind < argc ? argv[optind] : NULL;
}

/* The outputs chosen, and a chunk's no_<stem> when there is one. */
struct outputs {
	struct output o[SPEC_MAX_STEMS];
	int n;
	char no_name[SPEC_STEM_NAME_MAX + 3]; /* --two-stems: no_<stem> */
	float *sum;                           /* a chunk's no_<stem> */
	size_t sum_cap;
};

/* --two-stems: the stem and the rest (no_<stem>, the sum of the others). */
static void pick_two_stems(const struct args *a, const char (*names)[SPEC_STEM_NAME_MAX], int nstems,
			   struct outputs *out)
{
	const char *two_stems = a->two_stems;
	int s = 0;
	while (s < nstems && strcmp(names[s], two_stems))
		s++;
	if (s == nstems)
		die("--two-stems %s: no such stem in this stream", two_stems);
	if (nstems < 2)
		die("--two-stems %s: the stream has no other stem", two_stems);
	snprintf(out->no_name, sizeof out->no_name, "no_%s", two_stems);
	for (int k = 0; k < nstems; k++)
		if (!strcmp(names[k], out->no_name))
			die("--two-stems %s: the stream has a stem named %s already", two_stems, out->no_name);
	const char *pair[2] = {names[s], out->no_name};
	for (int k = 0; k < 2; k++)
		if (!a->stem || listed(a->stem, pair[k]))
			out->o[out->n++] = (struct output){.stem = pair[k], .index = s, .others = k};
	if (!out->n)
		die("-s %s: --two-stems %s writes %s and %s", a->stem, two_stems, pair[0], pair[1]);
	if (!a->to_files && !a->stem)
		out->n = 1; /* standard output: the first, as without --two-stems */
}

/* Which stems go where: those -s lists, else every stem to files or the
 * first to standard output. */
static void pick_stems(const struct args *a, const struct spec_header *h, struct outputs *out)
{
	/* a spectrogram is one stem, "mix" */
	static const char mix[][SPEC_STEM_NAME_MAX] = {"mix"};
	const char(*names)[SPEC_STEM_NAME_MAX] = h->kind == SPEC_STEMS ? h->stems : mix;
	int nstems = h->kind == SPEC_STEMS ? h->nstems : 1;
	if (a->two_stems)
		pick_two_stems(a, names, nstems, out);
	for (int s = 0; s < nstems && !a->two_stems; s++) {
		if (a->stem ? !listed(a->stem, names[s]) : a->to_files ? 0 : s > 0)
			continue;
		if (a->to_files && (strchr(names[s], '/') || !strcmp(names[s], ".") || !strcmp(names[s], "..")))
			die("stem name \"%s\" cannot be part of a file name", names[s]);
		out->o[out->n++] = (struct output){.stem = names[s], .index = s};
	}
	if (!out->n) {
		char list[SPEC_MAX_STEMS * SPEC_STEM_NAME_MAX] = "";
		for (int s = 0; s < nstems; s++)
			strcat(strcat(list, s ? ", " : ""), names[s]);
		die("no stem \"%s\" in this stream (it has: %s)", a->stem, list);
	}
	if (a->to_files && out->n > 1 && !has_stem_name(a->pattern))
		die("-o %s: %d stems need %%s in the name (e.g. -o 'song-%%s.wav'), or pick one with -s", a->pattern,
		    out->n);
}

/* Each output's file (or standard output), inverse STFT and audio writer. */
static void open_outputs(const struct args *a, const struct spec_header *h, struct outputs *out)
{
	struct audio_format fmt = a->fmt;
	fmt.sample_rate = h->sample_rate, fmt.channels = h->channels;
	if (audio_type_rate(fmt.type, fmt.sample_rate) != h->sample_rate)
		info("%s holds no %lld Hz: resampled to %d Hz", fmt.type == AUDIO_MP3 ? "MP3" : "Opus",
		     (long long)h->sample_rate, audio_type_rate(fmt.type, fmt.sample_rate));
	for (int i = 0; i < out->n; i++) {
		struct output *o = &out->o[i];
		if (a->to_files)
			if (!(o->path = stem_path_expand(a->pattern, o->stem)))
				die_usage("-o %s", tf_strerror());
		if (a->to_files && out->n > 1)
			for (int k = 0; k < i; k++)
				if (!strcmp(out->o[k].path, o->path))
					die("-o %s: stems %s and %s would both go to %s", a->pattern, out->o[k].stem,
					    o->stem, o->path);
		output_open(o->path, &o->af, "audio");
		if (!(o->istft = istft_new(h->n_fft, h->hop, h->channels, h->samples)))
			die_lib("");
		if (!(o->writer = audio_writer_open(o->af.fd, &fmt, h->samples)))
			die_lib(o->path ? o->path : "standard output");
		info("stem %s -> %s", o->stem, o->path ? o->path : "standard output");
	}
}

/* One chunk of frames into every output's inverse STFT. */
static void push_chunk(struct outputs *out, const struct spec_header *h, const struct spec_chunk *chunk,
		       int two_stems)
{
	size_t stem_floats = (size_t)h->channels * h->bins * chunk->n * 2;
	int nstems = h->kind == SPEC_STEMS ? h->nstems : 1;
	if (two_stems && stem_floats > out->sum_cap) {
		free(out->sum);
		if (!(out->sum = malloc(stem_floats * sizeof *out->sum)))
			die("out of memory");
		out->sum_cap = stem_floats;
	}
	for (int i = 0; i < out->n; i++) {
		struct output *o = &out->o[i];
		if (istft_push(o->istft, stem_data(o, chunk->data, nstems, stem_floats, out->sum), chunk->n,
			       write_audio, o))
			die_lib("");
	}
}

/* Every stem finished at the exact length, then the files committed
 * together. */
static void close_outputs(const struct args *a, const struct spec_header *h, struct outputs *out, int64_t samples)
{
	struct atomic_file *files[SPEC_MAX_STEMS];
	for (int i = 0; i < out->n; i++) {
		struct output *o = &out->o[i];
		const char *where = o->path ? o->path : "standard output";
		if (istft_finish(o->istft, samples, write_audio, o))
			die_lib(where);
		int64_t clipped = audio_writer_clipped(o->writer), written = audio_writer_frames(o->writer);
		if (audio_writer_close(o->writer))
			die_lib(where);
		if (clipped && verbose >= 0)
			warn("%s: %lld samples clipped to full scale (-b 32f keeps them)", where, (long long)clipped);
		info("%s: %lld samples per channel, %d channel%s at %lld Hz", where, (long long)written,
		     (int)h->channels, h->channels == 1 ? "" : "s", (long long)h->sample_rate);
		istft_free(o->istft);
		files[i] = &o->af;
	}
	if (!a->to_files)
		output_close(&out->o[0].af);
	else if (atomic_commit_set(files, out->n))
		die_lib("");
	for (int i = 0; i < out->n; i++)
		free(out->o[i].path);
	free(out->sum);
}

int main(int argc, char **argv)
{
	struct args a;
	struct outputs out = {0};
	progname = "tf-istft";
	args_begin();
	parse_args(argc, argv, &a);
	args_end();

	/* the input stream and what it holds; which stems go where */
	if ((!a.in || !strcmp(a.in, "-")) && isatty(0))
		die("no input: give a stream file, or pipe one in (see --help)");
	int fd = open_input(a.in);
	struct spec_reader *r = fd >= 0 ? spec_reader_open(fd, a.in, SPEC_SPECTROGRAM | SPEC_STEMS) : NULL;
	if (!r)
		die_lib("");
	const struct spec_header *h = spec_reader_header(r);
	pick_stems(&a, h, &out);
	open_outputs(&a, h, &out);

	/* the loop: chunks of frames in, final samples out */
	struct progress bar;
	struct spec_chunk chunk;
	int got;
	progress_start(&bar, "istft", h->samples > 0 ? 1 + h->samples / h->hop : 0);
	while ((got = spec_read_chunk(r, &chunk)) > 0) {
		push_chunk(&out, h, &chunk, a.two_stems != NULL);
		progress_update(&bar, chunk.first + chunk.n);
	}
	if (got < 0)
		die_lib("");
	progress_end(&bar);

	/* the end frame: the exact length */
	close_outputs(&a, h, &out, spec_reader_samples(r));
	spec_reader_close(r);
	return 0;
}
