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

int main(int argc, char **argv)
{
	enum { O_TWO_STEMS = 256 };
	static const struct option opts[] = {
		{"stem", required_argument, 0, 's'},  {"output", required_argument, 0, 'o'},
		{"type", required_argument, 0, 't'},  {"bits", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},       {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},        {"version", no_argument, 0, 'V'},
		{"quality", required_argument, 0, 'Q'}, {"two-stems", required_argument, 0, O_TWO_STEMS},
		{0, 0, 0, 0}};
	const char *stem = NULL, *pattern = NULL, *two_stems = NULL;
	int type = -1, encoding = AUDIO_PCM16, bits_set = 0, quality_set = 0, opt;
	double quality = AUDIO_QUALITY_DEFAULT;
	progname = "tf-istft";
	args_begin();
	while ((opt = getopt_long(argc, argv, "s:o:t:b:Q:qvhV", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 's': stem = optarg; break;
		case O_TWO_STEMS: two_stems = optarg; break;
		case 'o': pattern = optarg; break;
		case 't':
			if ((type = audio_type_from_name(optarg)) < 0)
				die_lib("-t");
			break;
		case 'b':
			if ((encoding = audio_encoding_from_name(optarg)) < 0)
				die_lib("-b");
			bits_set = 1;
			break;
		case 'Q':
			quality = parse_double(optarg, "--quality", 0, 10);
			quality_set = 1;
			break;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	int to_files = pattern && strcmp(pattern, "-");
	if (type < 0 && to_files && (type = audio_type_from_path(pattern, AUDIO_WAV)) < 0)
		die("-o %s: cannot tell the type from the extension (.wav, .flac, .mp3, .ogg, .opus); use -t",
		    pattern);
	if (type < 0)
		type = AUDIO_WAV;
	if (type == AUDIO_FLAC && encoding == AUDIO_FLOAT)
		die("FLAC holds 16- or 24-bit samples; use -b 16 or -b 24, or -t wav for float");
	if (audio_type_is_lossy(type) && bits_set)
		die("-b is for wav and flac; mp3, ogg and opus take --quality");
	if (!audio_type_is_lossy(type) && quality_set)
		die("--quality is for mp3, ogg and opus; wav and flac take -b");
	if (two_stems && (!*two_stems || strlen(two_stems) + 3 >= SPEC_STEM_NAME_MAX))
		die("--two-stems '%s': a stem name of 1 to %d bytes", two_stems, SPEC_STEM_NAME_MAX - 4);
	if (!to_files && isatty(1))
		die("will not write audio to a terminal; redirect the output or use -o FILE");
	args_end();

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
	char no_name[SPEC_STEM_NAME_MAX + 3] = "";
	if (two_stems) {
		/* the stem and the rest: names[nstems] is no_<stem> */
		int s = 0;
		while (s < nstems && strcmp(names[s], two_stems))
			s++;
		if (s == nstems)
			die("--two-stems %s: no such stem in this stream", two_stems);
		if (nstems < 2)
			die("--two-stems %s: the stream has no other stem", two_stems);
		snprintf(no_name, sizeof no_name, "no_%s", two_stems);
		for (int k = 0; k < nstems; k++)
			if (!strcmp(names[k], no_name))
				die("--two-stems %s: the stream has a stem named %s already", two_stems, no_name);
		const char *pair[2] = {names[s], no_name};
		for (int k = 0; k < 2; k++)
			if (!stem || listed(stem, pair[k]))
				outs[nout++] = (struct output){.stem = pair[k], .index = s, .others = k};
		if (!nout)
			die("-s %s: --two-stems %s writes %s and %s", stem, two_stems, pair[0], pair[1]);
		if (!to_files && !stem)
			nout = 1; /* standard output: the first, as without --two-stems */
	}
	for (int s = 0; s < nstems && !two_stems; s++) {
		if (stem ? !listed(stem, names[s]) : to_files ? 0 : s > 0)
			continue;
		if (to_files && (strchr(names[s], '/') || !strcmp(names[s], ".") || !strcmp(names[s], "..")))
			die("stem name \"%s\" cannot be part of a file name", names[s]);
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
	struct audio_format fmt = {(enum audio_type)type, (enum audio_encoding)encoding, (int)rate, (int)channels,
				   quality_set, quality};
	if (audio_type_rate(type, (int)rate) != rate)
		info("%s holds no %lld Hz: resampled to %d Hz", type == AUDIO_MP3 ? "MP3" : "Opus", (long long)rate,
		     audio_type_rate(type, (int)rate));
	for (int i = 0; i < nout; i++) {
		struct output *o = &outs[i];
		if (to_files)
			if (!(o->path = stem_path_expand(pattern, o->stem)))
				die_usage("-o %s", tf_strerror());
		if (to_files && nout > 1)
			for (int k = 0; k < i; k++)
				if (!strcmp(outs[k].path, o->path))
					die("-o %s: stems %s and %s would both go to %s", pattern, outs[k].stem, o->stem,
					    o->path);
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
	float *sum = NULL; /* a chunk's no_<stem> */
	size_t sum_cap = 0;
	progress_start(&bar, "istft", header_samples > 0 ? 1 + header_samples / hop : 0);
	while ((got = spec_read_chunk(r, &chunk)) > 0) {
		size_t stem_floats = (size_t)channels * bins * chunk.n * 2;
		if (two_stems && stem_floats > sum_cap) {
			free(sum);
			if (!(sum = malloc(stem_floats * sizeof *sum)))
				die("out of memory");
			sum_cap = stem_floats;
		}
		for (int i = 0; i < nout; i++)
			if (istft_push(outs[i].istft, stem_data(&outs[i], chunk.data, nstems, stem_floats, sum), chunk.n,
				       write_audio, &outs[i]))
				die_lib("");
		progress_update(&bar, chunk.first + chunk.n);
	}
	if (got < 0)
		die_lib("");
	progress_end(&bar);

	/* the end frame: the exact length */
	int64_t samples = spec_reader_samples(r);
	/* every stem finished, then the files committed together */
	struct atomic_file *files[SPEC_MAX_STEMS];
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
		info("%s: %lld samples per channel, %d channel%s at %lld Hz", where, (long long)written,
		     (int)channels, channels == 1 ? "" : "s", (long long)rate);
		istft_free(o->istft);
		files[i] = &o->af;
	}
	if (!to_files)
		output_close(&outs[0].af);
	else if (atomic_commit_set(files, nout))
		die_lib("");
	for (int i = 0; i < nout; i++)
		free(outs[i].path);
	free(sum);
	spec_reader_close(r);
	return 0;
}
