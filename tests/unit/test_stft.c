/* STFT and inverse: torch.stft/torch.istft goldens, independence from how
 * the input is cut into pieces, early emission (streaming), exact lengths,
 * round trips of odd lengths, short signals and bad sizes. Also the audio
 * plumbing around them (audio.h): resampler lengths and chunking, the WAV
 * writer on files and pipes, quantisation and clipping. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "error.h"
#include "npy.h"
#include "stft.h"
#include "test.h"

#define GOLDEN "tests/data/golden/stft/"

static float frand(void)
{
	return (float)rng_uniform(fixed_rng()) * 2.0f - 1.0f;
}

/* Collects emitted chunks into one [channels][bins][frames] spectrogram. */
struct spec {
	float *data; /* complex */
	int channels, bins;
	int64_t frames, cap, chunks;
	int in_order, last_chunk;
};

static int collect_spec(void *ctx, const float *chunk, int64_t first, int n)
{
	struct spec *s = ctx;
	if (first != s->frames)
		s->in_order = 0;
	if (s->frames + n > s->cap) {
		int64_t cap = 2 * (s->frames + n);
		float *d = calloc((size_t)s->channels * s->bins * cap * 2, sizeof *d);
		for (int r = 0; r < s->channels * s->bins; r++)
			if (s->data)
				memcpy(d + (size_t)r * cap * 2, s->data + (size_t)r * s->cap * 2,
				       (size_t)s->frames * 2 * sizeof *d);
		free(s->data);
		s->data = d, s->cap = cap;
	}
	for (int r = 0; r < s->channels * s->bins; r++)
		memcpy(s->data + ((size_t)r * s->cap + s->frames) * 2, chunk + (size_t)r * n * 2,
		       (size_t)n * 2 * sizeof(float));
	s->frames += n;
	s->chunks++;
	s->last_chunk = n;
	return 0;
}

/* The collected spectrogram packed as [channels][bins][frames]. */
static float *spec_packed(struct spec *s)
{
	float *p = malloc((size_t)s->channels * s->bins * (s->frames ? s->frames : 1) * 2 * sizeof *p);
	for (int r = 0; r < s->channels * s->bins; r++)
		memcpy(p + (size_t)r * s->frames * 2, s->data + (size_t)r * s->cap * 2,
		       (size_t)s->frames * 2 * sizeof *p);
	return p;
}

/* STFT of interleaved audio, pushed in pieces cycling through `pieces`
 * (NULL: one piece). */
static float *stft_of(const float *audio, int64_t n, int ch, int n_fft, int hop, int chunk,
		      const size_t *pieces, int npieces, int64_t *frames)
{
	struct stft *st = stft_new(n_fft, hop, ch, chunk);
	struct spec s = {NULL, ch, n_fft / 2 + 1, 0, 0, 0, 1, 0};
	int64_t at = 0;
	int rc = 0, k = 0;
	if (!st) {
		printf("# stft_new: %s\n", tf_strerror());
		return NULL;
	}
	while (at < n && !rc) {
		size_t take = pieces ? pieces[k++ % npieces] : (size_t)n;
		if ((int64_t)take > n - at)
			take = (size_t)(n - at);
		rc = stft_push(st, audio + at * ch, take, collect_spec, &s);
		at += (int64_t)take;
	}
	rc = rc || stft_finish(st, collect_spec, &s);
	if (rc || !s.in_order || s.frames != stft_frames(st) || stft_samples(st) != n) {
		printf("# stft failed: rc %d, in order %d, %lld frames: %s\n", rc, s.in_order,
		       (long long)s.frames, rc ? tf_strerror() : "");
		stft_free(st);
		free(s.data);
		return NULL;
	}
	*frames = s.frames;
	float *p = spec_packed(&s);
	stft_free(st);
	free(s.data);
	return p;
}

/* Collects emitted audio (interleaved). */
struct audio {
	float *data;
	int channels;
	int64_t n, cap;
};

static int collect_audio(void *ctx, const float *x, size_t n)
{
	struct audio *a = ctx;
	if (a->n + (int64_t)n > a->cap) {
		a->cap = 2 * (a->n + (int64_t)n);
		a->data = realloc(a->data, (size_t)a->cap * a->channels * sizeof *a->data);
	}
	memcpy(a->data + a->n * a->channels, x, n * a->channels * sizeof *x);
	a->n += (int64_t)n;
	return 0;
}

/* Inverse of a packed spectrogram fed in chunks of `step` frames. */
static float *istft_of(const float *spec, int64_t frames, int ch, int n_fft, int hop, int step,
		       int64_t length_early, int64_t length, int64_t *n)
{
	struct istft *is = istft_new(n_fft, hop, ch, length_early);
	struct audio a = {NULL, ch, 0, 0};
	int bins = n_fft / 2 + 1, rc = 0;
	float *piece = malloc((size_t)ch * bins * step * 2 * sizeof *piece);
	if (!is) {
		printf("# istft_new: %s\n", tf_strerror());
		free(piece);
		return NULL;
	}
	for (int64_t t = 0; t < frames && !rc; t += step) {
		int m = frames - t < step ? (int)(frames - t) : step;
		for (int r = 0; r < ch * bins; r++)
			memcpy(piece + (size_t)r * m * 2, spec + ((size_t)r * frames + t) * 2,
			       (size_t)m * 2 * sizeof *piece);
		rc = istft_push(is, piece, m, collect_audio, &a);
	}
	rc = rc || istft_finish(is, length, collect_audio, &a);
	free(piece);
	if (rc) {
		printf("# istft failed: %s\n", tf_strerror());
		istft_free(is);
		free(a.data);
		return NULL;
	}
	*n = a.n;
	istft_free(is);
	return a.data ? a.data : calloc(1, sizeof(float));
}

static float *interleave(const float *planar, int ch, int64_t n)
{
	float *x = malloc((size_t)(n ? n : 1) * ch * sizeof *x);
	for (int c = 0; c < ch; c++)
		for (int64_t i = 0; i < n; i++)
			x[i * ch + c] = planar[c * n + i];
	return x;
}

static double peak_abs(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

static double peak_complex(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, hypot(x[2 * i], x[2 * i + 1]));
	return m;
}

static const int configs[][2] = {{2048, 512}, {1024, 256}, {4096, 1024}};

static void test_goldens(const float *audio, int ch, int64_t n)
{
	for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
		int n_fft = configs[k][0], hop = configs[k][1], bins = n_fft / 2 + 1;
		char path[256];
		struct npy g, gi;
		int64_t frames, len;
		snprintf(path, sizeof path, GOLDEN "stft_%d_%d.npy", n_fft, hop);
		if (!ok(npy_load(path, &g) == 0 && !strcmp(g.descr, "<c8"), "load %s", path))
			continue;
		float *got = stft_of(audio, n, ch, n_fft, hop, 64, NULL, 0, &frames);
		ok(got && g.ndim == 3 && g.shape[0] == ch && g.shape[1] == bins && g.shape[2] == frames &&
			   frames == stft_frame_count(n, n_fft, hop),
		   "stft %d/%d: %lld frames of %d bins, as torch.stft", n_fft, hop, (long long)frames, bins);
		if (got && g.shape[2] == frames) {
			double peak = peak_complex(g.data, g.numel);
			char what[96];
			snprintf(what, sizeof what, "stft %d/%d vs torch.stft (peak |X| %.1f; floats of [c][bin][frame][re,im])",
				 n_fft, hop, peak);
			check_close(what, got, g.data, g.numel * 2, 1e-4 * peak);
		}

		/* the inverse of the golden spectrogram, fed in chunks of 7 frames */
		snprintf(path, sizeof path, GOLDEN "istft_%d_%d.npy", n_fft, hop);
		float *want = npy_load_f32(path, &gi);
		if (!ok(want != NULL, "load %s", path)) {
			free(got), free(g.data);
			continue;
		}
		float *y = istft_of(g.data, g.shape[2], ch, n_fft, hop, 7, -1, n, &len);
		ok(y && len == n, "istft %d/%d of the golden: %lld samples, want %lld", n_fft, hop,
		   (long long)len, (long long)n);
		if (y && len == n) {
			float *wi = interleave(want, ch, n);
			char what[96];
			snprintf(what, sizeof what, "istft %d/%d vs torch.istft (interleaved samples)", n_fft, hop);
			check_close(what, y, wi, (size_t)n * ch, 1e-5);
			free(wi);
		}
		free(y), free(want), free(got), free(g.data);
	}
}

/* Any cutting of the input, any chunk size: the very same frames. */
static void test_pieces(const float *audio, int ch, int64_t n)
{
	static const size_t odd[] = {1, 7, 1000, 4099}, tiny[] = {1, 2, 3}, big[] = {30000, 1};
	int64_t f0, f1, f2, f3;
	float *one = stft_of(audio, n, ch, 2048, 512, 64, NULL, 0, &f0);
	float *a = stft_of(audio, n, ch, 2048, 512, 64, odd, 4, &f1);
	float *b = stft_of(audio, n, ch, 2048, 512, 64, tiny, 3, &f2);
	float *c = stft_of(audio, n, ch, 2048, 512, 5, big, 2, &f3);
	size_t bytes = (size_t)ch * 1025 * f0 * 2 * sizeof(float);
	ok(one && a && f1 == f0 && !memcmp(one, a, bytes), "pieces of 1, 7, 1000, 4099 samples: identical frames");
	ok(one && b && f2 == f0 && !memcmp(one, b, bytes), "pieces of 1, 2, 3 samples: identical frames");
	ok(one && c && f3 == f0 && !memcmp(one, c, bytes), "pieces of 30000, 1 samples, chunks of 5: identical frames");
	free(one), free(a), free(b), free(c);
}

/* Frames come out as soon as their samples are in; samples as soon as no
 * later frame can change them. */
static void test_streaming(void)
{
	int n_fft = 1024, hop = 256, pad = n_fft / 2, good = 1;
	struct stft *st = stft_new(n_fft, hop, 2, 1);
	struct spec s = {NULL, 2, n_fft / 2 + 1, 0, 0, 0, 1, 0};
	float x[2 * 100] = {0};
	for (int64_t k = 100; k <= 20000; k += 100) {
		stft_push(st, x, 100, collect_spec, &s);
		/* frame t needs padded samples up to t*hop + n_fft, i.e. input up to t*hop + pad */
		int64_t want = k > pad ? (k - pad) / hop + 1 : 0;
		if (s.frames != want) {
			printf("# after %lld samples: %lld frames, want %lld\n", (long long)k, (long long)s.frames,
			       (long long)want);
			good = 0;
			break;
		}
	}
	ok(good, "stft emits every frame as soon as its last sample arrives");
	stft_finish(st, collect_spec, &s);
	ok(s.frames == stft_frame_count(20000, n_fft, hop) && s.frames == 1 + 20000 / hop,
	   "stft: 1 + samples/hop frames in all (%lld)", (long long)s.frames);
	stft_free(st);
	free(s.data);

	/* length unknown: a sample also waits until no length the frames allow
	 * can end before it (T frames: L >= (T - 1) * hop, or any L while the
	 * frames could be those of a zero-extended short signal) */
	float *frame = calloc(2 * (n_fft / 2 + 1) * 2, sizeof *frame);
	good = 1;
	for (int known = 0; known <= 1; known++) {
		struct istft *is = istft_new(n_fft, hop, 2, known ? 100000 : -1);
		struct audio a = {NULL, 2, 0, 0};
		for (int t = 1; t <= 50 && good; t++) {
			istft_push(is, frame, 1, collect_audio, &a);
			int64_t want = (int64_t)t * hop > pad ? (int64_t)t * hop - pad : 0;
			if (!known && t <= 1 + (pad + 1) / hop)
				want = 0;
			if (a.n != want) {
				printf("# length %s, after %d frames: %lld samples, want %lld\n", known ? "known" : "unknown",
				       t, (long long)a.n, (long long)want);
				good = 0;
			}
		}
		istft_free(is);
		free(a.data);
	}
	ok(good, "istft emits samples once no later frame overlaps them");
	free(frame);
}

/* Round trips of random signals of odd lengths, mono and stereo, at several
 * sizes; lengths shorter than n_fft/2 + 1 go through the zero extension. */
static void test_round_trips(void)
{
	static const int sizes[][2] = {{2048, 512}, {1024, 256}, {62, 16}, {8, 2}, {2, 1}, {512, 200}};
	static const int64_t lengths[] = {0, 1, 5, 31, 32, 1023, 1025, 4097, 12345, 44101};
	for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++)
		for (int ch = 1; ch <= 2; ch++) {
			int n_fft = sizes[z][0], hop = sizes[z][1], good = 1;
			double worst = 0;
			for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
				int64_t n = lengths[l], frames, len, len2;
				float *x = malloc((size_t)(n + 1) * ch * sizeof *x);
				for (int64_t i = 0; i < n * ch; i++)
					x[i] = frand();
				float *X = stft_of(x, n, ch, n_fft, hop, 3, (const size_t[]){777, 5}, 2, &frames);
				float *y = X ? istft_of(X, frames, ch, n_fft, hop, 4, -1, n, &len) : NULL;
				float *y2 = X ? istft_of(X, frames, ch, n_fft, hop, 1, n, -1, &len2) : NULL;
				if (!y || !y2 || len != n || len2 != n || frames != stft_frame_count(n, n_fft, hop) ||
				    memcmp(y, y2, (size_t)n * ch * sizeof *y)) {
					printf("# %d/%d, %d ch, %lld samples: round trip failed (%lld frames, %lld samples)\n",
					       n_fft, hop, ch, (long long)n, X ? (long long)frames : -1LL,
					       y ? (long long)len : -1LL);
					good = 0;
				} else {
					for (int64_t i = 0; i < n * ch; i++)
						worst = fmax(worst, fabs(y[i] - x[i]));
				}
				free(x), free(X), free(y), free(y2);
			}
			ok(good && worst < 1e-5, "round trip %d/%d, %s, lengths 0 to 44101: max abs error %.3g",
			   n_fft, hop, ch == 1 ? "mono" : "stereo", worst);
		}
}

/* Exact lengths: torch.istft without a length, padding with zeros, and a
 * length the frames overshoot. */
static void test_lengths(void)
{
	int64_t frames, len;
	float x[3000];
	for (int i = 0; i < 3000; i++)
		x[i] = frand();
	float *X = stft_of(x, 3000, 1, 256, 64, 16, NULL, 0, &frames);
	float *y = istft_of(X, frames, 1, 256, 64, 5, -1, -1, &len);
	ok(y && len == (frames - 1) * 64, "no length: (frames - 1) * hop = %lld samples", (long long)len);
	free(y);
	y = istft_of(X, frames, 1, 256, 64, 5, -1, 5000, &len);
	int zeros = 1;
	for (int64_t i = (frames - 1) * 64 + 256 - 128; y && i < len; i++)
		zeros &= y[i] == 0.0f;
	zeros &= y && fabsf(y[2999] - x[2999]) < 1e-5;
	ok(y && len == 5000 && zeros, "a length beyond the frames' reach is padded with zeros");
	free(y);
	y = istft_of(X, frames, 1, 256, 64, 5, 100, -1, &len);
	ok(y && len == 100 && fabsf(y[99] - x[99]) < 1e-5, "a length known early caps the output: %lld",
	   (long long)len);
	free(y);
	y = istft_of(X, frames, 1, 256, 64, 5, -1, 100, &len);
	ok(!y && strstr(tf_strerror(), "more than the length"), "a length the frames overshoot is an error: %s",
	   tf_strerror());
	free(y);
	free(X);

	/* the empty signal: zero frames of silence, and back to nothing */
	X = stft_of(x, 0, 2, 2048, 512, 64, NULL, 0, &frames);
	int silent = X != NULL;
	for (int64_t i = 0; X && i < 2 * 1025 * frames * 2; i++)
		silent &= X[i] == 0.0f;
	ok(X && frames == 3 && silent, "an empty signal gives %lld silent frames (zero-extended to 1025)",
	   (long long)frames);
	y = X ? istft_of(X, frames, 2, 2048, 512, 64, -1, 0, &len) : NULL;
	ok(y && len == 0, "and comes back empty");
	free(X), free(y);
}

static void test_bad_sizes(void)
{
	ok(!stft_new(1023, 256, 1, 64) && strstr(tf_strerror(), "even"), "odd n_fft refused: %s", tf_strerror());
	ok(!stft_new(0, 1, 1, 64), "n_fft 0 refused");
	ok(!stft_new(1024, 0, 1, 64) && !stft_new(1024, 1025, 1, 64), "hop 0 and hop > n_fft refused: %s",
	   tf_strerror());
	ok(!stft_new(1024, 256, 0, 64) && !stft_new(1024, 256, 1, 0), "0 channels, chunk 0 refused");
	ok(!istft_new(1024, 1024, 1, -1), "istft with hop = n_fft refused (no overlap): %s", tf_strerror());
	struct stft *st = stft_new(1024, 1024, 1, 1);
	ok(st != NULL, "stft with hop = n_fft is fine");
	stft_free(st);
	stft_free(NULL);
	istft_free(NULL);
}

/* ---- audio.h ---- */

static int collect_resampled(void *ctx, const float *x, size_t n) { return collect_audio(ctx, x, n); }

static void test_resampler(void)
{
	static const int rates[][2] = {{48000, 44100}, {44100, 48000}, {22050, 44100}, {8000, 44100}, {44100, 44100}};
	static const int64_t lengths[] = {0, 1, 7, 1000, 48001};
	static const size_t pieces[] = {1, 7, 1000};
	for (size_t k = 0; k < sizeof rates / sizeof *rates; k++) {
		int good = 1;
		double worst = 0;
		for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
			int64_t n = lengths[l];
			float *x = malloc((size_t)(n + 1) * 2 * sizeof *x);
			for (int64_t i = 0; i < n; i++)
				x[2 * i] = sinf((float)i * 0.01f), x[2 * i + 1] = frand() * 0.1f;
			struct audio one = {NULL, 2, 0, 0}, cut = {NULL, 2, 0, 0};
			struct resampler *a = resampler_new(rates[k][0], rates[k][1], 2);
			struct resampler *b = resampler_new(rates[k][0], rates[k][1], 2);
			int rc = !a || !b || resampler_push(a, x, (size_t)n, collect_resampled, &one) ||
				 resampler_finish(a, collect_resampled, &one);
			for (int64_t at = 0, p = 0; at < n && !rc; p++) {
				size_t take = pieces[p % 3] < (size_t)(n - at) ? pieces[p % 3] : (size_t)(n - at);
				rc = resampler_push(b, x + at * 2, take, collect_resampled, &cut);
				at += (int64_t)take;
			}
			rc = rc || resampler_finish(b, collect_resampled, &cut);
			int64_t want = resampled_length(n, rates[k][0], rates[k][1]);
			if (rc || one.n != want || cut.n != want) {
				printf("# %d -> %d Hz, %lld frames: got %lld and %lld, want %lld (%s)\n", rates[k][0],
				       rates[k][1], (long long)n, (long long)one.n, (long long)cut.n, (long long)want,
				       rc ? tf_strerror() : "");
				good = 0;
			} else {
				for (int64_t i = 0; i < want * 2; i++)
					worst = fmax(worst, fabs(one.data[i] - cut.data[i]));
			}
			resampler_free(a), resampler_free(b);
			free(x), free(one.data), free(cut.data);
		}
		ok(good && worst < 1e-6, "resample %d -> %d Hz: round(n * ratio) frames; pieces of 1, 7, 1000 vs one: max diff %.3g",
		   rates[k][0], rates[k][1], worst);
	}
	ok(resampled_length(30001, 44100, 22050) == 15001 && resampled_length(7, 48000, 44100) == 6,
	   "resampled_length rounds halves up");
}

/* Reads a whole WAV from fd (at offset 0) with libsndfile. */
static float *read_back(int fd, SF_INFO *si)
{
	lseek(fd, 0, SEEK_SET);
	memset(si, 0, sizeof *si);
	SNDFILE *sf = sf_open_fd(fd, SFM_READ, si, 0);
	if (!sf)
		return NULL;
	float *x = malloc((size_t)(si->frames + 1) * si->channels * sizeof *x);
	sf_count_t n = sf_readf_float(sf, x, si->frames);
	sf_close(sf);
	if (n != si->frames) {
		free(x);
		return NULL;
	}
	return x;
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void test_writer(void)
{
	enum { N = 1001 };
	static float x[N * 2];
	for (int i = 0; i < N * 2; i++)
		x[i] = frand() * 0.9f;
	x[0] = 1.0f, x[1] = -1.0f, x[2] = 2.0f, x[3] = -3.0f, x[4] = NAN;
	static const struct {
		enum audio_type type;
		enum audio_encoding enc;
		double tol;
		const char *name;
	} kinds[] = {{AUDIO_WAV, AUDIO_PCM16, 0.5 / 32768, "WAV 16"},   {AUDIO_WAV, AUDIO_PCM24, 0.5 / 8388608, "WAV 24"},
		     {AUDIO_WAV, AUDIO_FLOAT, 0, "WAV float"},           {AUDIO_FLAC, AUDIO_PCM16, 0.5 / 32768, "FLAC 16"},
		     {AUDIO_FLAC, AUDIO_PCM24, 0.5 / 8388608, "FLAC 24"}};
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
		struct audio_format fmt = {kinds[k].type, kinds[k].enc, 44100, 2, 0, 0};
		FILE *tmp = tmpfile();
		struct audio_writer *w = audio_writer_open(fileno(tmp), &fmt, -1);
		int rc = !w || audio_write(w, x, 5) || audio_write(w, x + 10, N - 5);
		int64_t clipped = w ? audio_writer_clipped(w) : -1;
		rc = rc || audio_writer_close(w);
		SF_INFO si;
		float *y = rc ? NULL : read_back(fileno(tmp), &si);
		int good = y && si.frames == N && si.channels == 2 && si.samplerate == 44100;
		double worst = 0;
		for (int i = 10; good && i < N * 2; i++)
			worst = fmax(worst, fabs(y[i] - x[i]));
		if (good && kinds[k].enc != AUDIO_FLOAT) {
			/* 1.0 is one step past the top: clipped; -1.0 is the bottom: exact */
			good = y[0] == (kinds[k].enc == AUDIO_PCM16 ? 32767 / 32768.0f : 8388607 / 8388608.0f) && y[1] == -1.0f &&
			       y[2] == y[0] && y[3] == -1.0f && y[4] == 0.0f && clipped == 3;
		}
		ok(good && worst <= kinds[k].tol * 1.0001, "%s to a file: %d frames, max error %.3g (tol %.3g), %lld clipped",
		   kinds[k].name, N, worst, kinds[k].tol, (long long)clipped);
		free(y);
		fclose(tmp);
	}

	/* to a pipe: the header is sent first, with the length or sox's
	 * placeholder; 1001 frames of 24-bit mono are 3003 bytes, so a known
	 * length also gets the pad byte that keeps RIFF chunks even */
	for (int known = 0; known <= 1; known++) {
		int p[2];
		unsigned char buf[8192];
		struct audio_format fmt = {AUDIO_WAV, AUDIO_PCM24, 8000, 1, 0, 0};
		if (pipe(p))
			return;
		struct audio_writer *w = audio_writer_open(p[1], &fmt, known ? 1001 : -1);
		int rc = !w || audio_write(w, x, 1001) || audio_writer_close(w);
		close(p[1]);
		ssize_t n = read(p[0], buf, sizeof buf);
		close(p[0]);
		ok(!rc && n == 44 + 3003 + known && !memcmp(buf + 36, "data", 4) &&
			   le32(buf + 40) == (known ? 3003u : 0x7ffff000u) &&
			   le32(buf + 4) == (known ? 3004u + 36 : 0x7ffff000u + 36),
		   "WAV to a pipe, length %s: data size %#x", known ? "known" : "unknown", n >= 44 ? le32(buf + 40) : 0);
	}
	int p[2];
	struct audio_format fmt = {AUDIO_WAV, AUDIO_PCM16, 8000, 1, 0, 0};
	if (!pipe(p)) {
		struct audio_writer *w = audio_writer_open(p[1], &fmt, 10);
		int rc = !w || audio_write(w, x, 5);
		rc = rc || audio_writer_close(w);
		ok(rc && strstr(tf_strerror(), "sent ahead says 10"), "fewer frames than announced on a pipe: %s",
		   tf_strerror());
		close(p[0]), close(p[1]);
	}
	ok(audio_type_from_path("a/b.FLAC", -2) == AUDIO_FLAC && audio_type_from_path("x.wav", -2) == AUDIO_WAV &&
		   audio_type_from_path("dir.d/x", -2) == -2 && audio_type_from_path(".hidden", -2) == -2 &&
		   audio_type_from_path("x.aiff", -2) == -1 &&
		   audio_type_from_path("x.Opus", -2) == AUDIO_OPUS && audio_type_from_path("x.mp3", -2) == AUDIO_MP3,
	   "types from file names");
	float mono[3], stereo[6] = {1, 3, -1, 1, 0.5f, 0.5f}, up[6];
	ok(!audio_remix(mono, 1, stereo, 2, 3) && mono[0] == 2 && mono[1] == 0 && mono[2] == 0.5f &&
		   !audio_remix(up, 2, mono, 1, 3) && up[0] == 2 && up[1] == 2 && up[5] == 0.5f &&
		   audio_remix(up, 4, stereo, 2, 1) == -1 && audio_remix(up, 2, stereo, 9, 0) == -1,
	   "remix: average to mono, repeat mono, refuse stereo to 4 and 9 channels to 2");
	/* 5.1 (L R C LFE Ls Rs) to stereo: ITU-R BS.775, each side / (1 + 2 * 0.7071) */
	float six[12] = {1, 0, 0, 0, 0, 0, /* L alone */ 0, 0, 1, 5, 1, 0 /* C, LFE, Ls */}, lr[4], m[2];
	double k = sqrt(0.5), norm = 1 + 2 * k;
	int rc = audio_remix(lr, 2, six, 6, 2);
	ok(!rc && fabs(lr[0] - 1 / norm) < 1e-6 && lr[1] == 0 &&
		   fabs(lr[2] - 2 * k / norm) < 1e-6 && fabs(lr[3] - k / norm) < 1e-6,
	   "remix: 5.1 to stereo by ITU-R BS.775 gains, LFE left out (%g %g %g %g)", lr[0], lr[1], lr[2], lr[3]);
	ok(!audio_remix(m, 1, six, 6, 2) && fabs(m[0] - lr[0] / 2) < 1e-6 && fabs(m[1] - (lr[2] + lr[3]) / 2) < 1e-6,
	   "remix: 5.1 to mono is the average of its stereo downmix");
	float nf[5] = {0.5f, NAN, 1, INFINITY, -INFINITY};
	size_t first = 99;
	ok(audio_nonfinite(nf, 3, 0, &first) == 1 && first == 1 && isnan(nf[1]) &&
		   audio_nonfinite(nf, 5, 1, &first) == 3 && first == 1 && nf[1] == 0 && nf[3] == 0 && nf[4] == 0 &&
		   nf[2] == 1 && audio_nonfinite(nf, 5, 0, &first) == 0,
	   "non-finite samples counted, the first found, zeroed on request");
}

int main(void)
{
	struct npy sig;
	float *planar = npy_load_f32(GOLDEN "signal.npy", &sig);
	if (ok(planar && sig.ndim == 2, "load signal.npy")) {
		int ch = (int)sig.shape[0];
		int64_t n = sig.shape[1];
		float *audio = interleave(planar, ch, n);
		test_goldens(audio, ch, n);
		test_pieces(audio, ch, n);
		/* mono: the golden's left channel alone must give its channel 0 */
		float *left = malloc((size_t)n * sizeof *left);
		struct npy g;
		int64_t frames;
		memcpy(left, planar, (size_t)n * sizeof *left);
		float *X = stft_of(left, n, 1, 2048, 512, 64, NULL, 0, &frames);
		if (npy_load(GOLDEN "stft_2048_512.npy", &g) == 0 && X) {
			double peak = peak_complex(g.data, (size_t)1025 * frames);
			check_close("mono stft 2048/512 vs torch.stft channel 0", X, g.data, (size_t)1025 * frames * 2,
				    1e-4 * peak);
			free(g.data);
		}
		free(X), free(left), free(audio);
		(void)peak_abs;
	}
	free(planar);
	test_streaming();
	test_round_trips();
	test_lengths();
	test_bad_sizes();
	test_resampler();
	test_writer();
	return test_done();
}
