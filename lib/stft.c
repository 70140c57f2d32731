#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stft.h"

/* Below this the window envelope counts as zero (torch.istft's NOLA bound). */
#define ENVELOPE_MIN 1e-11f

/* torch.hann_window(n, periodic=True) */
static float *hann_new(int n)
{
	float *w = fftwf_alloc_real((size_t)n);
	if (!w)
		return NULL;
	for (int i = 0; i < n; i++)
		w[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / n));
	return w;
}

static int check_sizes(int n_fft, int hop, int channels, int max_hop)
{
	if (n_fft < 2 || n_fft > STFT_MAX_NFFT || n_fft % 2)
		return tf_seterr("n_fft %d: must be even, 2 to %d", n_fft, STFT_MAX_NFFT);
	if (hop < 1 || hop > max_hop)
		return tf_seterr("hop %d: must be 1 to %d for n_fft %d", hop, max_hop, n_fft);
	if (channels < 1 || channels > STFT_MAX_CHANNELS)
		return tf_seterr("%d channels: must be 1 to %d", channels, STFT_MAX_CHANNELS);
	return 0;
}

int64_t stft_frame_count(int64_t samples, int n_fft, int hop)
{
	if (samples < n_fft / 2 + 1)
		samples = n_fft / 2 + 1;
	return 1 + samples / hop;
}

/*
 * The STFT. Work in coordinates of the padded signal p, where p[j] = x[j - pad]
 * (pad = n_fft/2) and the ends are reflections; frame t covers p[t*hop, t*hop + n_fft).
 * buf holds p[buf_start, buf_start + buf_len) of every channel. Until pad + 1
 * samples have come, the left reflection cannot be made, and buf just collects
 * them at their padded positions.
 */
struct stft {
	int n_fft, hop, channels, bins, pad, chunk;
	float *window;         /* [n_fft] */
	float *fft_in;         /* [n_fft] */
	fftwf_complex *fft_out; /* [bins] */
	fftwf_plan plan;
	float *buf;            /* [channels][cap] */
	size_t cap;
	int64_t buf_start, buf_len;
	int64_t got;           /* samples per channel pushed (zero extension included) */
	int64_t real_got;      /* samples per channel pushed by the caller */
	int started, finished;
	int64_t next_frame;    /* the next frame to compute */
	float *out;            /* [channels][bins][chunk] complex */
	int out_frames;        /* frames in out */
	int64_t emitted;       /* frames handed to emit */
};

struct stft *stft_new(int n_fft, int hop, int channels, int chunk)
{
	struct stft *s;
	if (check_sizes(n_fft, hop, channels, n_fft))
		return NULL;
	if (chunk < 1 || chunk > (1 << 24))
		return tf_seterr("chunk of %d frames: must be 1 to %d", chunk, 1 << 24), NULL;
	if (!(s = calloc(1, sizeof *s)))
		return tf_seterr("out of memory"), NULL;
	s->n_fft = n_fft, s->hop = hop, s->channels = channels, s->chunk = chunk;
	s->bins = n_fft / 2 + 1, s->pad = n_fft / 2;
	/* room for n_fft leftover samples plus fresh ones: few, cheap memmoves */
	s->cap = 4 * (size_t)n_fft + 4096;
	s->window = hann_new(n_fft);
	s->fft_in = fftwf_alloc_real((size_t)n_fft);
	s->fft_out = fftwf_alloc_complex((size_t)s->bins);
	s->buf = malloc(s->cap * (size_t)channels * sizeof *s->buf);
	s->out = malloc((size_t)channels * s->bins * chunk * 2 * sizeof *s->out);
	if (s->window && s->fft_in && s->fft_out)
		s->plan = fftwf_plan_dft_r2c_1d(n_fft, s->fft_in, s->fft_out, FFTW_ESTIMATE);
	if (!s->plan || !s->buf || !s->out) {
		stft_free(s);
		return tf_seterr("out of memory for an STFT of n_fft %d", n_fft), NULL;
	}
	return s;
}

void stft_free(struct stft *s)
{
	if (!s)
		return;
	if (s->plan)
		fftwf_destroy_plan(s->plan);
	fftwf_free(s->window);
	fftwf_free(s->fft_in);
	fftwf_free(s->fft_out);
	free(s->buf);
	free(s->out);
	free(s);
}

int64_t stft_samples(const struct stft *s) { return s->real_got; }
int64_t stft_frames(const struct stft *s) { return s->emitted; }

static float *channel_buf(const struct stft *s, int c) { return s->buf + (size_t)c * s->cap; }

static int emit_chunk(struct stft *s, stft_emit_fn emit, void *ctx)
{
	int n = s->out_frames;
	if (!n)
		return 0;
	/* out was laid out for chunk frames per bin; close the gaps of a short chunk */
	if (n < s->chunk)
		for (size_t row = 1; row < (size_t)s->channels * s->bins; row++)
			memmove(s->out + row * n * 2, s->out + row * s->chunk * 2, (size_t)n * 2 * sizeof *s->out);
	s->out_frames = 0;
	if (emit(ctx, s->out, s->emitted, n))
		return -1;
	s->emitted += n;
	return 0;
}

/* Frame next_frame of every channel into the chunk. */
static int compute_frame(struct stft *s, stft_emit_fn emit, void *ctx)
{
	size_t off = (size_t)(s->next_frame * s->hop - s->buf_start);
	for (int c = 0; c < s->channels; c++) {
		const float *p = channel_buf(s, c) + off;
		float *o = s->out + (size_t)c * s->bins * s->chunk * 2 + (size_t)s->out_frames * 2;
		for (int i = 0; i < s->n_fft; i++)
			s->fft_in[i] = p[i] * s->window[i];
		fftwf_execute(s->plan);
		for (int k = 0; k < s->bins; k++, o += (size_t)s->chunk * 2) {
			o[0] = s->fft_out[k][0];
			o[1] = s->fft_out[k][1];
		}
	}
	s->next_frame++;
	if (++s->out_frames == s->chunk)
		return emit_chunk(s, emit, ctx);
	return 0;
}

/* Computes every frame the buffer holds, then drops what no frame to come
 * needs: the end reflection will need the last pad + 1 samples, which sit
 * at padded positions got - 1 and on. */
static int drain(struct stft *s, stft_emit_fn emit, void *ctx)
{
	while (s->next_frame * s->hop + s->n_fft <= s->buf_start + s->buf_len)
		if (compute_frame(s, emit, ctx))
			return -1;
	int64_t keep = s->next_frame * s->hop;
	if (keep > s->got - 1)
		keep = s->got - 1;
	if (keep > s->buf_start + s->buf_len)
		keep = s->buf_start + s->buf_len;
	size_t drop = (size_t)(keep - s->buf_start);
	if (drop) {
		for (int c = 0; c < s->channels; c++) {
			float *b = channel_buf(s, c);
			memmove(b, b + drop, (size_t)(s->buf_len - (int64_t)drop) * sizeof *b);
		}
		s->buf_start += (int64_t)drop;
		s->buf_len -= (int64_t)drop;
	}
	return 0;
}

static int push(struct stft *s, const float *audio, size_t n, stft_emit_fn emit, void *ctx)
{
	if (!s->started && s->buf_len == 0)
		s->buf_len = s->pad; /* left reflection goes here */
	while (n) {
		size_t room = s->cap - (size_t)s->buf_len, take = n < room ? n : room;
		for (int c = 0; c < s->channels; c++) {
			float *b = channel_buf(s, c) + s->buf_len;
			if (audio)
				for (size_t i = 0; i < take; i++)
					b[i] = audio[i * s->channels + c];
			else
				memset(b, 0, take * sizeof *b);
		}
		if (audio)
			audio += take * s->channels;
		n -= take;
		s->buf_len += (int64_t)take;
		s->got += (int64_t)take;
		if (!s->started && s->got >= s->pad + 1) {
			/* p[j] = x[pad - j], and x[i] is at buf[pad + i] */
			for (int c = 0; c < s->channels; c++) {
				float *b = channel_buf(s, c);
				for (int j = 0; j < s->pad; j++)
					b[j] = b[2 * s->pad - j];
			}
			s->started = 1;
		}
		if (s->started && drain(s, emit, ctx))
			return -1;
	}
	return 0;
}

int stft_push(struct stft *s, const float *audio, size_t nsamples, stft_emit_fn emit, void *ctx)
{
	if (s->finished)
		return tf_seterr("stft: push after finish");
	s->real_got += (int64_t)nsamples;
	return push(s, audio, nsamples, emit, ctx);
}

int stft_finish(struct stft *s, stft_emit_fn emit, void *ctx)
{
	if (s->finished)
		return tf_seterr("stft: finished twice");
	s->finished = 1;
	/* too short to reflect: zeros up to pad + 1 samples (see stft.h) */
	if (s->got < s->pad + 1 && push(s, NULL, (size_t)(s->pad + 1 - s->got), emit, ctx))
		return -1;
	/* p[pad + got + k] = x[got - 2 - k], and x[i] is at buf[pad + i - buf_start] */
	for (int c = 0; c < s->channels; c++) {
		float *b = channel_buf(s, c);
		int64_t last = s->pad + s->got - 2 - s->buf_start; /* x[got - 2] */
		for (int k = 0; k < s->pad; k++)
			b[s->buf_len + k] = b[last - k];
	}
	s->buf_len += s->pad;
	if (drain(s, emit, ctx) || emit_chunk(s, emit, ctx))
		return -1;
	return 0;
}

/*
 * The inverse. acc and envelope hold padded positions [done, done + cap):
 * the overlap-added windowed frames and the sum of the squared windows laid
 * on them. Once frame t has been added, positions before (t + 1) * hop are
 * complete (no later frame reaches back there). Output sample i is padded
 * position i + pad.
 *
 * A complete sample may still have to wait: while the length is unknown it
 * may turn out shorter than the frames reach, and samples beyond it must
 * never be emitted. T frames of a signal of L samples mean L >= (T - 1) * hop
 * (or, zero-extended short signals, any L when T <= 1 + (pad + 1)/hop), so
 * samples below that bound are safe. The wait is at most about n_fft.
 */
struct istft {
	int n_fft, hop, channels, bins, pad;
	float *window;           /* [n_fft] */
	fftwf_complex *fft_in;   /* [bins] */
	float *fft_out;          /* [n_fft] */
	fftwf_plan plan;
	size_t cap;              /* positions held */
	float *acc;              /* [channels][cap] */
	float *envelope;         /* [cap] */
	float *out;              /* [out_cap][channels] */
	size_t out_cap;
	int64_t frames, done, emitted, length;
	int finished;
};

struct istft *istft_new(int n_fft, int hop, int channels, int64_t length)
{
	struct istft *s;
	if (check_sizes(n_fft, hop, channels, n_fft - 1))
		return NULL;
	if (!(s = calloc(1, sizeof *s)))
		return tf_seterr("out of memory"), NULL;
	s->n_fft = n_fft, s->hop = hop, s->channels = channels, s->length = length;
	s->bins = n_fft / 2 + 1, s->pad = n_fft / 2;
	s->cap = 2 * (size_t)n_fft + 2 * (size_t)hop;
	s->out_cap = (size_t)n_fft;
	s->window = hann_new(n_fft);
	s->fft_in = fftwf_alloc_complex((size_t)s->bins);
	s->fft_out = fftwf_alloc_real((size_t)n_fft);
	s->acc = calloc((size_t)channels * s->cap, sizeof *s->acc);
	s->envelope = calloc(s->cap, sizeof *s->envelope);
	s->out = malloc(s->out_cap * channels * sizeof *s->out);
	if (s->window && s->fft_in && s->fft_out)
		s->plan = fftwf_plan_dft_c2r_1d(n_fft, s->fft_in, s->fft_out, FFTW_ESTIMATE);
	if (!s->plan || !s->acc || !s->envelope || !s->out) {
		istft_free(s);
		return tf_seterr("out of memory for an inverse STFT of n_fft %d", n_fft), NULL;
	}
	return s;
}

void istft_free(struct istft *s)
{
	if (!s)
		return;
	if (s->plan)
		fftwf_destroy_plan(s->plan);
	fftwf_free(s->window);
	fftwf_free(s->fft_in);
	fftwf_free(s->fft_out);
	free(s->acc);
	free(s->envelope);
	free(s->out);
	free(s);
}

int64_t istft_frames(const struct istft *s) { return s->frames; }
int64_t istft_emitted(const struct istft *s) { return s->emitted; }

/* Hands on positions [done, upto) (those that are output samples below
 * `limit`, divided by the envelope), then drops them from acc. */
static int release(struct istft *s, int64_t upto, int64_t limit, istft_emit_fn emit, void *ctx)
{
	while (s->done < upto) {
		int64_t n = upto - s->done;
		if (n > (int64_t)s->out_cap)
			n = (int64_t)s->out_cap;
		int64_t first = s->done - s->pad; /* output index of acc[0] */
		int64_t from = first < 0 ? -first : 0, to = n;
		if (from > n)
			from = n;
		if (first + to > limit)
			to = limit - first;
		for (int64_t i = from; i < to; i++) {
			float e = s->envelope[i];
			for (int c = 0; c < s->channels; c++) {
				float v = s->acc[(size_t)c * s->cap + (size_t)i];
				s->out[(size_t)(i - from) * s->channels + c] = e > ENVELOPE_MIN ? v / e : 0.0f;
			}
		}
		if (to > from) {
			if (emit(ctx, s->out, (size_t)(to - from)))
				return -1;
			s->emitted += to - from;
		}
		size_t keep = s->cap - (size_t)n;
		for (int c = 0; c < s->channels; c++) {
			float *a = s->acc + (size_t)c * s->cap;
			memmove(a, a + n, keep * sizeof *a);
			memset(a + keep, 0, (size_t)n * sizeof *a);
		}
		memmove(s->envelope, s->envelope + n, keep * sizeof *s->envelope);
		memset(s->envelope + keep, 0, (size_t)n * sizeof *s->envelope);
		s->done += n;
	}
	return 0;
}

int istft_push(struct istft *s, const float *spec, int nframes, istft_emit_fn emit, void *ctx)
{
	const float scale = 1.0f / (float)s->n_fft; /* FFTW's inverse is unnormalised */
	if (s->finished)
		return tf_seterr("istft: push after finish");
	for (int t = 0; t < nframes; t++) {
		size_t off = (size_t)(s->frames * s->hop - s->done);
		if (off + (size_t)s->n_fft > s->cap)
			return tf_seterr("istft: internal error: frame beyond the buffer");
		for (int c = 0; c < s->channels; c++) {
			const float *x = spec + (size_t)c * s->bins * nframes * 2 + (size_t)t * 2;
			float *a = s->acc + (size_t)c * s->cap + off;
			for (int k = 0; k < s->bins; k++, x += (size_t)nframes * 2) {
				s->fft_in[k][0] = x[0];
				s->fft_in[k][1] = x[1];
			}
			/* a real signal's DC and Nyquist bins are real; irfft ignores their imaginary parts */
			s->fft_in[0][1] = 0.0f;
			s->fft_in[s->bins - 1][1] = 0.0f;
			fftwf_execute(s->plan);
			for (int i = 0; i < s->n_fft; i++)
				a[i] += s->fft_out[i] * scale * s->window[i];
		}
		for (int i = 0; i < s->n_fft; i++)
			s->envelope[off + (size_t)i] += s->window[i] * s->window[i];
		s->frames++;
		int64_t complete = s->frames * s->hop, upto = complete, limit = s->length;
		if (limit < 0) { /* unknown length: only what every length the frames allow keeps */
			limit = s->frames > 1 + (s->pad + 1) / s->hop ? (s->frames - 1) * s->hop : 0;
			if (upto > s->pad + limit)
				upto = s->pad + limit;
		}
		if (upto > s->done && release(s, upto, limit, emit, ctx))
			return -1;
	}
	return 0;
}

int istft_finish(struct istft *s, int64_t length, istft_emit_fn emit, void *ctx)
{
	if (s->finished)
		return tf_seterr("istft: finished twice");
	s->finished = 1;
	if (length < 0)
		length = s->length >= 0 ? s->length : (s->frames > 0 ? (s->frames - 1) * s->hop : 0);
	if (s->length >= 0 && length != s->length)
		return tf_seterr("length %lld differs from the %lld given at the start", (long long)length,
				 (long long)s->length);
	if (s->emitted > length)
		return tf_seterr("%lld frames make at least %lld samples, more than the length %lld",
				 (long long)s->frames, (long long)s->emitted, (long long)length);
	/* what the frames left in acc, up to where they reach */
	int64_t reach = s->frames > 0 ? (s->frames - 1) * s->hop + s->n_fft : 0;
	if (reach > s->pad + length)
		reach = s->pad + length;
	if (release(s, reach, length, emit, ctx))
		return -1;
	/* beyond the reach of the frames: silence */
	memset(s->out, 0, s->out_cap * s->channels * sizeof *s->out);
	while (s->emitted < length) {
		int64_t n = length - s->emitted;
		if (n > (int64_t)s->out_cap)
			n = (int64_t)s->out_cap;
		if (emit(ctx, s->out, (size_t)n))
			return -1;
		s->emitted += n;
	}
	return 0;
}
