/* The spectrogram-like streams (spectrogram, stems, masks) as their
 * consumers read them: tf-unet (a spectrogram) and tf-istft (stems, or a
 * spectrogram): the header's STFT settings and stem names, each chunk's
 * dtype and shape against them, the frame numbering, the end frame's
 * totals, and the chunks through the inverse STFT with the length the
 * stream claims, as tf-istft does.
 *
 * With lib/specstream.h (the module that gathers those checks for every
 * program) this target reads through it; without it, the checks of
 * cmd/tf-unet.c and cmd/tf-istft.c (where they die()) are restated below.
 * The inverse STFT runs only for n_fft up to FUZZ_MAX_NFFT (the programs
 * allow STFT_MAX_NFFT), so that an input costs the time of its bytes. */
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "fuzz_common.h"
#include "stft.h"
#include "stream.h"

#define FUZZ_MAX_NFFT 1024

static int emit(void *ctx, const float *audio, size_t n)
{
	volatile float *acc = ctx;
	if (n)
		*acc += audio[0];
	return 0;
}

/* tf-istft's last check before the inverse's end: a length the frames can hold */
static int length_fits(int64_t samples, int64_t frames, int hop, int n_fft)
{
	return samples >= -1 && samples <= (frames + 1) * hop + n_fft;
}

#if __has_include("specstream.h")
#include "specstream.h"

static void consume(int fd)
{
	static volatile float acc;
	struct spec_reader *r = spec_reader_open(fd, NULL, SPEC_SPECTROGRAM | SPEC_STEMS | SPEC_MASKS);
	const struct spec_header *h;
	struct istft *is = NULL;
	struct spec_chunk c;
	int got;
	if (!r)
		return;
	h = spec_reader_header(r);
	/* tf-istft inverts the first stem of stems, or a spectrogram */
	if (h->kind != SPEC_MASKS && h->n_fft <= FUZZ_MAX_NFFT && !(is = istft_new(h->n_fft, h->hop, h->channels, h->samples)))
		goto out;
	while ((got = spec_read_chunk(r, &c)) == 1)
		if (is && istft_push(is, c.data, c.n, emit, (void *)&acc))
			goto out;
	if (got == 0 && is && length_fits(spec_reader_samples(r), spec_reader_frames(r), h->hop, h->n_fft))
		istft_finish(is, spec_reader_samples(r), emit, (void *)&acc);
out:
	istft_free(is);
	spec_reader_close(r);
}
#else
#define SPEC_MAX_NFFT FUZZ_MAX_NFFT
#define SPEC_MAX_STEMS 16

struct spec {
	char kind[32];
	int64_t rate, n_fft, hop, channels, samples, bins;
	int nstems; /* 0 for a spectrogram */
	int64_t frames;
};

/* The header: 0, or -1 where tf-unet / tf-istft would stop. */
static int restated_header(struct spec *s, const struct frame *h)
{
	char window[32] = "hann", name[64];
	int center = 1;
	const struct value *v;
	memset(s, 0, sizeof *s);
	s->samples = -1;
	if (frame_get_str(h, "kind", s->kind, sizeof s->kind) < 0)
		return -1;
	if (!strcmp(s->kind, "stems") || !strcmp(s->kind, "masks")) {
		if (!(v = frame_get(h, "stems")) || v->kind != VAL_ARRAY || v->len < 1 || v->len > SPEC_MAX_STEMS)
			return -1;
		for (size_t i = 0; i < v->len; i++)
			if (v->items[i].kind != VAL_STR || v->items[i].len < 1 || v->items[i].len >= sizeof name)
				return -1;
		s->nstems = (int)v->len;
	} else if (strcmp(s->kind, "spectrogram")) {
		return -1;
	}
	if (frame_get_int(h, "sample_rate", &s->rate) || frame_get_int(h, "n_fft", &s->n_fft) ||
	    frame_get_int(h, "hop", &s->hop) || frame_get_int(h, "channels", &s->channels))
		return -1;
	if (frame_get_str(h, "window", window, sizeof window) < 0 || frame_get_bool(h, "center", &center) < 0 ||
	    frame_get_int(h, "samples", &s->samples) < 0)
		return -1;
	if (strcmp(window, "hann") || !center || s->n_fft < 2 || s->n_fft > SPEC_MAX_NFFT || s->n_fft % 2 ||
	    s->hop < 1 || s->hop > s->n_fft || s->channels < 1 || s->channels > AUDIO_MAX_CHANNELS ||
	    s->rate < 1 || s->rate > AUDIO_MAX_RATE || s->samples < -1)
		return -1;
	s->bins = s->n_fft / 2 + 1;
	return 0;
}

/* A tensor frame: its frame count, or -1 where the consumers would stop. */
static int64_t restated_chunk(struct spec *s, const struct frame *f, struct tensor *t)
{
	int ndim = s->nstems ? 4 : 3;
	const int64_t *shape;
	int64_t first = s->frames;
	if (frame_tensor(f, t))
		return -1;
	shape = t->shape + (ndim - 3);
	if (t->dtype != (strcmp(s->kind, "masks") ? DT_C64 : DT_F32) || t->ndim != ndim ||
	    (ndim == 4 && t->shape[0] != s->nstems) || shape[0] != s->channels || shape[1] != s->bins)
		return -1;
	if (frame_get_int(f, "frame", &first) < 0 || first != s->frames || shape[2] > 1 << 24)
		return -1;
	return shape[2];
}

static void consume(int fd)
{
	static volatile float acc;
	int got;
	struct stream_reader *r = stream_reader_open(fd, 0);
	struct frame *f = frame_new();
	struct istft *is = NULL;
	struct spec s;
	if (!r || !f || stream_read_header(r, f, NULL) || restated_header(&s, f))
		goto out;
	if (strcmp(s.kind, "masks") && !(is = istft_new((int)s.n_fft, (int)s.hop, (int)s.channels, s.samples)))
		goto out;
	while ((got = stream_read_frame(r, f)) > 0 && !frame_is_end(f)) {
		struct tensor t;
		int64_t n;
		if (!frame_is_tensor(f))
			continue;
		if ((n = restated_chunk(&s, f, &t)) < 0)
			goto out;
		/* the first stem, as tf-istft -s does */
		if (is && n > 0 && istft_push(is, t.data, (int)n, emit, (void *)&acc))
			goto out;
		s.frames += n;
	}
	if (got <= 0)
		goto out;
	/* the end frame, as tf-istft checks it */
	int64_t samples = s.samples, end_frames = s.frames;
	if (frame_get_int(f, "samples", &samples) < 0 || frame_get_int(f, "frames", &end_frames) < 0 ||
	    end_frames != s.frames || (s.samples >= 0 && samples != s.samples) ||
	    !length_fits(samples, s.frames, (int)s.hop, (int)s.n_fft))
		goto out;
	if (is)
		istft_finish(is, samples, emit, (void *)&acc);
out:
	istft_free(is);
	frame_free(f);
	stream_reader_close(r);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_fd(data, size);
	if (fd < 0)
		return 0;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	consume(fd);
	fuzz_alloc_end();
	return 0;
}
