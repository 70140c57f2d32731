/* Audio input as tf-stft reads it (lib/audio.c over libsndfile): the file
 * opened by name (a seekable file: the length checks, the cut-short test),
 * then, for inputs that fit a pipe, the same bytes on standard input (the
 * pipe path, with its FLAC source that keeps the sniffed bytes); the
 * samples remixed to mono, resampled to a fixed rate and transformed, as
 * tf-stft does. The transform's sizes are small and fixed, and at most
 * FUZZ_AUDIO_FRAMES frames are read, so that a header announcing hours of
 * audio costs the time of its bytes. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "audio.h"
#include "fuzz_common.h"
#include "stft.h"

#define FUZZ_AUDIO_FRAMES (1 << 14)
#define BLOCK 1024

static int sink(void *ctx, const float *spec, int64_t first, int nframes)
{
	volatile float *acc = ctx;
	if (nframes > 0)
		*acc += spec[0];
	return 0;
}

static int to_stft(void *ctx, const float *audio, size_t nframes)
{
	static volatile float acc;
	return stft_push(ctx, audio, nframes, sink, (void *)&acc);
}

static void read_audio(const char *path)
{
	static volatile float acc;
	struct audio_info in;
	struct audio_reader *r = audio_reader_open(path, &in);
	struct resampler *rs = NULL;
	struct stft *s = NULL;
	float *block = NULL, *mono = NULL;
	int64_t got = 0, total = 0;
	if (!r)
		return;
	/* 8 kHz as tf-stft -r 8000 would, but never more than twice the
	 * input's rate: a 1 Hz header resampled to 8 kHz makes 8000 frames of
	 * each one read, which tf-stft would do too, but slowly */
	int rate = in.sample_rate < 4000 ? 2 * in.sample_rate : 8000;
	if (rate != in.sample_rate && !(rs = resampler_new(in.sample_rate, rate, 1)))
		goto out;
	if (!(s = stft_new(32, 8, 1, 16)) || !(block = malloc((size_t)BLOCK * in.channels * sizeof *block)) ||
	    !(mono = malloc(BLOCK * sizeof *mono)))
		goto out;
	while (total < FUZZ_AUDIO_FRAMES && (got = audio_read(r, block, BLOCK)) > 0) {
		const float *a = block;
		if (in.channels != 1) {
			if (audio_remix(mono, 1, block, in.channels, (size_t)got))
				goto out;
			a = mono;
		}
		if (rs ? resampler_push(rs, a, (size_t)got, to_stft, s) : to_stft(s, a, (size_t)got))
			goto out;
		total += got;
	}
	if (got >= 0 && !(rs && resampler_finish(rs, to_stft, s)))
		stft_finish(s, sink, (void *)&acc);
out:
	free(block), free(mono);
	stft_free(s);
	resampler_free(rs);
	audio_reader_close(r);
}

/* The input on standard input through a pipe that holds all of it. */
static void read_audio_pipe(const uint8_t *data, size_t size)
{
	int p[2], saved;
	if (size > 65536 || pipe(p))
		return;
	if (write(p[1], data, size) != (ssize_t)size || (saved = dup(0)) < 0) {
		close(p[0]), close(p[1]);
		return;
	}
	close(p[1]);
	dup2(p[0], 0);
	close(p[0]);
	read_audio(NULL); /* the reader leaves fd 0 open */
	dup2(saved, 0);
	close(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_fd(data, size);
	if (fd < 0)
		return 0;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	read_audio(path);
	/* MPEG-looking input on a pipe goes through lib/audio.c's rewinding
	 * source: on a plain pipe libsndfile 1.2.0's MPEG reader read before a
	 * heap buffer (tests/fuzz/regressions/audio-mpeg-pipe) */
	read_audio_pipe(data, size);
	fuzz_alloc_end();
	return 0;
}
