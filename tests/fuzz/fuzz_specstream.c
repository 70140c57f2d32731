/* The spectrogram-like streams (spectrogram, stems, masks) as their
 * consumers read them: tf-unet (a spectrogram) and tf-istft (stems, or a
 * spectrogram): the header's STFT settings and stem names, each chunk's
 * dtype and shape against them, the frame numbering, the end frame's
 * totals, and the chunks through the inverse STFT with the length the
 * stream claims, as tf-istft does.
 *
 * Today those checks live in cmd/tf-unet.c and cmd/tf-istft.c (where they
 * die()), so spec_header() and spec_chunk() below restate them; when
 * lib/specstream.c gathers them into the library, these two functions
 * become calls to it. n_fft is capped at SPEC_MAX_NFFT (the programs allow
 * STFT_MAX_NFFT) so that an input costs the time of its bytes. */
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "fuzz_common.h"
#include "stft.h"
#include "stream.h"

#define SPEC_MAX_NFFT 1024
#define SPEC_MAX_STEMS 16

struct spec {
	char kind[32];
	int64_t rate, n_fft, hop, channels, samples, bins;
	int nstems; /* 0 for a spectrogram */
	int64_t frames;
};

/* The header: 0, or -1 where tf-unet / tf-istft would stop. */
static int spec_header(struct spec *s, const struct frame *h)
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
static int64_t spec_chunk(struct spec *s, const struct frame *f, struct tensor *t)
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

static int emit(void *ctx, const float *audio, size_t n)
{
	volatile float *acc = ctx;
	if (n)
		*acc += audio[0];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static volatile float acc;
	int fd = fuzz_fd(data, size), got;
	if (fd < 0)
		return 0;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	struct stream_reader *r = stream_reader_open(fd, 0);
	struct frame *f = frame_new();
	struct istft *is = NULL;
	struct spec s;
	if (!r || !f || stream_read_header(r, f, NULL) || spec_header(&s, f))
		goto out;
	if (strcmp(s.kind, "masks") && !(is = istft_new((int)s.n_fft, (int)s.hop, (int)s.channels, s.samples)))
		goto out;
	while ((got = stream_read_frame(r, f)) > 0 && !frame_is_end(f)) {
		struct tensor t;
		int64_t n;
		if (!frame_is_tensor(f))
			continue;
		if ((n = spec_chunk(&s, f, &t)) < 0)
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
	    end_frames != s.frames || (s.samples >= 0 && samples != s.samples) || samples < -1 ||
	    samples > (s.frames + 1) * s.hop + s.n_fft)
		goto out;
	if (is)
		istft_finish(is, samples, emit, (void *)&acc);
out:
	istft_free(is);
	frame_free(f);
	stream_reader_close(r);
	fuzz_alloc_end();
	return 0;
}
