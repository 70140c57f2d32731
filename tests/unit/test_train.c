/* The trainer's pieces (lib/train): the loss gradients against finite
 * differences, the iSTFT adjoint by the dot-product test, the whole-signal
 * STFT against lib/stft.h, AdamW against a hand-computed case, the
 * learning-rate schedule and clipping, the dataset reader and its checks,
 * the augmentation's determinism, the training state's round trip and its
 * refusal of damaged files. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "stft.h"
#include "test.h"
#include "train/adam.h"
#include "train/augment.h"
#include "train/dataset.h"
#include "train/init.h"
#include "train/loss.h"
#include "rng.h"
#include "train/spec.h"
#include "train/ema.h"
#include "train/state.h"
#include "unet.h"

static struct rng R;

static float frand(float lo, float hi)
{
	return lo + (hi - lo) * (float)rng_uniform(&R);
}

/* ---------- losses ---------- */

static void test_spec_loss_gradient(void)
{
	struct loss_shape sh = {2, 3, 2, 5, 7};
	size_t plane = (size_t)sh.F * sh.T, nm = (size_t)sh.B * sh.S * sh.C * plane;
	float *m = malloc(nm * sizeof(float)), *d = malloc(nm * sizeof(float)), *dummy = malloc(nm * sizeof(float));
	float *mix = malloc((size_t)sh.B * sh.C * plane * 2 * sizeof(float)), *tgt = malloc(nm * 2 * sizeof(float));
	for (size_t i = 0; i < nm; i++)
		m[i] = frand(0.1f, 0.9f);
	for (size_t i = 0; i < (size_t)sh.B * sh.C * plane * 2; i++)
		mix[i] = frand(-1, 1);
	for (size_t i = 0; i < nm * 2; i++)
		tgt[i] = frand(-0.5f, 0.5f);
	struct loss_work *w = loss_work_new(&sh, NULL, 0, 2);
	double loss = loss_spec_l1(w, m, mix, tgt, d);
	/* the loss by hand: mean of |re| and |im| of mask * mix - target */
	double want = 0;
	for (int b = 0; b < sh.B; b++)
		for (int s = 0; s < sh.S; s++)
			for (int c = 0; c < sh.C; c++)
				for (size_t k = 0; k < plane; k++) {
					size_t r = ((size_t)(b * sh.S + s) * sh.C + c);
					const float *x = mix + ((size_t)b * sh.C + c) * plane * 2 + 2 * k;
					const float *y = tgt + r * plane * 2 + 2 * k;
					float mm = m[r * plane + k];
					want += fabs((double)(mm * x[0] - y[0])) + fabs((double)(mm * x[1] - y[1]));
				}
	want /= (double)nm * 2;
	ok(fabs(loss - want) < 1e-12, "spectral L1 = %.9f, by hand %.9f", loss, want);
	/* central differences, in double through the loss's double sum */
	double worst = 0, h = 1e-3, scale = 0;
	size_t at = 0;
	for (size_t i = 0; i < nm; i++)
		scale = fmax(scale, fabs(d[i]));
	for (size_t i = 0; i < nm; i += 7) {
		float keep = m[i];
		m[i] = keep + (float)h;
		double up = loss_spec_l1(w, m, mix, tgt, dummy);
		m[i] = keep - (float)h;
		double down = loss_spec_l1(w, m, mix, tgt, dummy);
		m[i] = keep;
		double fd = (up - down) / (2 * ((double)(keep + (float)h) - (double)keep));
		/* float rounding of the elements leaves ~1e-8 of noise in fd */
		double err = fabs(fd - d[i]) / scale;
		if (err > worst)
			worst = err, at = i;
	}
	ok(worst < 1e-3, "spectral L1 gradient vs central differences: worst error %.2g of the largest "
	   "gradient (%.3g) at [%zu] (analytic %.6g)", worst, scale, at, d[at]);
	struct loss_work *one = loss_work_new(&sh, NULL, 0, 1);
	double loss1 = loss_spec_l1(one, m, mix, tgt, dummy);
	ok(one && loss1 == loss && !memcmp(dummy, d, nm * sizeof *d),
	   "spectral L1 on one thread: the same loss and gradient, bit for bit");
	int refused = isnan(loss_wave_l1(one, m, mix, tgt, 1, dummy));
	ok(refused && strstr(tf_strerror(), "waveform loss"), "a workspace made without the STFT has no waveform loss: %s",
	   tf_strerror());
	loss_work_free(w), loss_work_free(one);
	free(m), free(d), free(dummy), free(mix), free(tgt);
}

struct collected {
	float *S;
	int F, got;
};

/* one chunk holds every frame */
static int collect(void *c, const float *spec, int64_t first, int n)
{
	struct collected *k = c;
	memcpy(k->S, spec, (size_t)k->F * n * 2 * sizeof(float));
	k->got = n;
	return 0;
}

static void test_istft_adjoint_and_stft(void)
{
	int n_fft = 64, hop = 16;
	int64_t L = 300;
	struct spec *sp = spec_new(n_fft, hop);
	int F = spec_bins(sp), T = (int)spec_frames(sp, L);
	float *X = malloc((size_t)F * T * 2 * sizeof(float)), *G = malloc((size_t)F * T * 2 * sizeof(float)),
	      *y = malloc(L * sizeof(float)), *g = malloc(L * sizeof(float));
	for (size_t i = 0; i < (size_t)F * T * 2; i++)
		X[i] = frand(-1, 1);
	for (int64_t i = 0; i < L; i++)
		g[i] = frand(-1, 1);
	/* <istft(X), g> = <X, istft^T g> over the parts the inverse uses */
	spec_istft(sp, X, T, L, y);
	spec_istft_adjoint(sp, g, T, L, G);
	double lhs = 0, rhs = 0;
	for (int64_t i = 0; i < L; i++)
		lhs += (double)y[i] * g[i];
	for (int k = 0; k < F; k++)
		for (int t = 0; t < T; t++) {
			size_t at = ((size_t)k * T + t) * 2;
			rhs += (double)X[at] * G[at];
			if (k && k < F - 1)
				rhs += (double)X[at + 1] * G[at + 1];
		}
	ok(fabs(lhs - rhs) < 1e-4 * fabs(lhs), "iSTFT adjoint: <istft X, g> = %.7g, <X, istft^T g> = %.7g", lhs, rhs);

	/* the whole-signal STFT equals the streaming one of lib/stft.h, and the
	 * inverse gives the signal back */
	float *x = malloc(L * sizeof(float)), *S = malloc((size_t)F * T * 2 * sizeof(float));
	for (int64_t i = 0; i < L; i++)
		x[i] = frand(-1, 1);
	spec_stft(sp, x, L, X);
	struct stft *st = stft_new(n_fft, hop, 1, T);
	struct collected ctx = {S, F, 0};
	stft_push(st, x, (size_t)L, collect, &ctx);
	stft_finish(st, collect, &ctx);
	stft_free(st);
	ok(ctx.got == T, "lib/stft.h made %d frames, spec %d", ctx.got, T);
	check_close("whole-signal STFT vs lib/stft.h", X, S, (size_t)F * T * 2, 1e-5);
	spec_istft(sp, X, T, L, y);
	check_close("iSTFT(STFT(x)) = x", y, x, (size_t)L, 1e-5);
	int refused = spec_stft(sp, x, 20, X) == -1;
	ok(refused && strstr(tf_strerror(), "too short"), "a signal shorter than n_fft/2 is refused: %s",
	   tf_strerror());
	free(x), free(S), free(X), free(G), free(y), free(g);
	spec_free(sp);
}

static void test_wave_loss_gradient(void)
{
	int n_fft = 32, hop = 8;
	int64_t L = 100;
	struct spec *sp = spec_new(n_fft, hop);
	struct loss_shape sh = {1, 2, 2, spec_bins(sp), (int)spec_frames(sp, L)};
	size_t plane = (size_t)sh.F * sh.T, nm = (size_t)sh.S * sh.C * plane;
	float *m = malloc(nm * sizeof(float)), *d = calloc(nm, sizeof(float)), *dummy = calloc(nm, sizeof(float));
	float *mix = malloc((size_t)sh.C * plane * 2 * sizeof(float)),
	      *wave = malloc((size_t)sh.S * sh.C * L * sizeof(float));
	for (size_t i = 0; i < nm; i++)
		m[i] = frand(0.1f, 0.9f);
	for (size_t i = 0; i < (size_t)sh.C * plane * 2; i++)
		mix[i] = frand(-1, 1);
	for (size_t i = 0; i < (size_t)sh.S * sh.C * L; i++)
		wave[i] = frand(-0.3f, 0.3f);
	double w = 0.7;
	struct loss_work *work = loss_work_new(&sh, sp, L, 2);
	loss_wave_l1(work, m, mix, wave, w, d);
	double worst = 0, h = 1e-4;
	size_t at = 0;
	for (size_t i = 0; i < nm; i += 5) {
		float keep = m[i];
		m[i] = keep + (float)h;
		double up = w * loss_wave_l1(work, m, mix, wave, w, dummy);
		m[i] = keep - (float)h;
		double down = w * loss_wave_l1(work, m, mix, wave, w, dummy);
		m[i] = keep;
		double fd = (up - down) / (2 * ((double)(keep + (float)h) - (double)keep));
		/* float iSTFT noise over a 2e-4 step: judge against the gradient's scale */
		double err = fabs(fd - d[i]) / (fabs(d[i]) + 1e-4);
		if (err > worst)
			worst = err, at = i;
	}
	ok(worst < 2e-2, "waveform L1 gradient vs central differences: worst relative error %.2g at [%zu] "
	   "(analytic %.6g)", worst, at, d[at]);
	/* on one thread and on three: the same sums, bit for bit */
	double lw[2];
	float *dw[2] = {calloc(nm, sizeof(float)), calloc(nm, sizeof(float))};
	for (int k = 0; k < 2; k++) {
		struct loss_work *t = loss_work_new(&sh, sp, L, k ? 3 : 1);
		lw[k] = loss_wave_l1(t, m, mix, wave, w, dw[k]);
		loss_work_free(t);
	}
	ok(lw[0] == lw[1] && !memcmp(dw[0], dw[1], nm * sizeof(float)),
	   "waveform L1 on 1 and 3 threads: the same loss (%.9f) and gradient, bit for bit", lw[0]);
	free(dw[0]), free(dw[1]);
	loss_work_free(work);
	free(m), free(d), free(dummy), free(mix), free(wave);
	spec_free(sp);
}

/* ---------- optimiser ---------- */

static void test_adamw(void)
{
	/* two steps of AdamW (lr 0.1, betas 0.9/0.999, eps 1e-8, weight decay
	 * 0.01) from p = [1, -2] with gradients [0.5, 0.1] then [-0.25, 0.3].
	 * By hand, element 0: step 1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25,
	 * p = 1 * 0.999 - 0.1 * 0.5 / 0.5 = 0.899; step 2: m = 0.02,
	 * v = 0.00031225, m^ = 0.02 / 0.19, v^ = 0.00031225 / 0.001999,
	 * p = 0.899 * 0.999 - 0.1 * 0.1052632 / 0.3952254 = 0.8714674.
	 * Element 1 likewise: -2.098, then -2.1876802 (torch.optim.AdamW agrees:
	 * 0.89900005, -2.098; 0.87146735, -2.18768). */
	struct adamw o = {0.9, 0.999, 1e-8, 0.01};
	float p[2] = {1, -2}, m[2] = {0}, v[2] = {0}, g1[2] = {0.5f, 0.1f}, g2[2] = {-0.25f, 0.3f};
	adamw_update(&o, p, g1, m, v, 2, 0.1, 1, 1);
	float want1[2] = {0.899f, -2.098f};
	check_close("AdamW step 1", p, want1, 2, 5e-7);
	adamw_update(&o, p, g2, m, v, 2, 0.1, 2, 1);
	float want2[2] = {0.8714674f, -2.1876802f};
	check_close("AdamW step 2", p, want2, 2, 5e-7);
	/* without decay (biases, norms): step 1 moves by exactly lr */
	float q[1] = {1}, mq[1] = {0}, vq[1] = {0}, gq[1] = {0.5f}, wantq[1] = {0.9f};
	adamw_update(&o, q, gq, mq, vq, 1, 0.1, 1, 0);
	check_close("AdamW step 1 without weight decay", q, wantq, 1, 2e-7);

	struct lr_schedule s = {LR_COSINE, 1e-3, 1e-5, 10, 110, 0, 1};
	ok(fabs(lr_at(&s, 0) - 1e-4) < 1e-12 && fabs(lr_at(&s, 9) - 1e-3) < 1e-12,
	   "warm-up: step 0 %g, step 9 %g (want 1e-4, 1e-3)", lr_at(&s, 0), lr_at(&s, 9));
	ok(fabs(lr_at(&s, 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12 && fabs(lr_at(&s, 110) - 1e-5) < 1e-15,
	   "cosine: half-way %g, end %g", lr_at(&s, 60), lr_at(&s, 110));
	s = (struct lr_schedule){LR_STEP, 1e-3, 0, 0, 100, 30, 0.5};
	ok(lr_at(&s, 29) == 1e-3 && lr_at(&s, 30) == 5e-4 && lr_at(&s, 65) == 2.5e-4, "step schedule: %g %g %g",
	   lr_at(&s, 29), lr_at(&s, 30), lr_at(&s, 65));
}

static void test_clip_and_init(void)
{
	struct unet_config c;
	struct model m;
	train_config_named(&c, "tiny");
	model_init(&m, &c);
	float *g = calloc(m.nparams, sizeof *g);
	double want = 0;
	for (int i = 0; i < m.nspecs; i++)
		for (size_t k = 0; k < m.specs[i].numel; k++) {
			float x = frand(-1, 1);
			g[m.specs[i].offset + k] = x;
			if (m.specs[i].trainable)
				want += (double)x * x;
		}
	want = sqrt(want);
	double norm = grad_clip(&m, g, want / 4);
	ok(fabs(norm - want) < 1e-9 * want, "global norm %.9g, by hand %.9g (running statistics left out)", norm, want);
	double after = grad_norm(&m, g);
	ok(fabs(after - want / 4) < 1e-5 * want, "clipped to %.6g (limit %.6g)", after, want / 4);

	struct rng r1, r2;
	rng_seed(&r1, 7);
	train_init_params(&m, &r1);
	const struct param_spec *w = model_spec(&m, "stem.0.weight"), *rv = model_spec(&m, "stem.1.running_var"),
				*bw = model_spec(&m, "stem.1.weight"), *bb = model_spec(&m, "stem.1.bias");
	double bound = 1 / sqrt((double)c.in_channels * 49), worst = 0;
	for (size_t k = 0; k < w->numel; k++)
		worst = fmax(worst, fabs(m.params[w->offset + k]));
	ok(worst <= bound && worst > 0.9 * bound, "stem conv weights within +-1/sqrt(fan_in) = %.4f: largest %.4f",
	   bound, worst);
	ok(m.params[rv->offset] == 1 && m.params[bw->offset] == 1 && m.params[bb->offset] == 0,
	   "BatchNorm starts at weight 1, bias 0, running variance 1");
	float *copy = malloc(m.nparams * sizeof(float));
	memcpy(copy, m.params, m.nparams * sizeof(float));
	rng_seed(&r2, 7);
	train_init_params(&m, &r2);
	ok(!memcmp(copy, m.params, m.nparams * sizeof(float)), "the same seed gives the same initial parameters");
	free(copy), free(g);
	model_free(&m);
}

/* A trained model grown deeper (tf-train --grow) computes the same masks,
 * bit for bit, until its new blocks are trained; what cannot grow is refused. */
static void test_grow(void)
{
	struct unet_config c, d;
	struct model small, big;
	struct rng r;
	train_config_named(&c, "tiny");
	c.input_scale = 0.75, c.segment = 40, c.overlap = 8;
	model_init(&small, &c);
	rng_seed(&r, 3);
	train_init_params(&small, &r);
	/* trained: BatchNorm statistics and norms away from their defaults */
	for (size_t k = 0; k < small.nparams; k++)
		small.params[k] += 0.05f * (float)rng_uniform(&r);
	d = c;
	d.depths[1] = 2, d.depths[3] = 3;
	d.input_scale = 1, d.segment = 64;
	ok(model_init(&big, &d) == 0, "a deeper network built");
	rng_seed(&r, 4);
	train_init_params(&big, &r);
	int rc = train_grow(&big, &small);
	ok(rc == 0 && big.cfg.input_scale == 0.75 && big.cfg.segment == 40 && big.cfg.overlap == 8,
	   "grown: depths 1,2,1,3 from 1,1,1,1, the model's input scale and segments%s%s", rc ? ": " : "",
	   rc ? tf_strerror() : "");
	const struct param_spec *s = model_spec(&big, "bottleneck.2.fusion.1.weight"),
				*w = model_spec(&big, "bottleneck.2.fusion.0.weight");
	ok(s && w && big.params[s->offset] == 0 && big.params[w->offset] != 0,
	   "a new block: fusion BatchNorm scale 0, its other weights initialised");
	int H = 24, W = 20;
	size_t nin = (size_t)c.in_channels * H * W, nout = (size_t)c.out_channels * H * W;
	float *x = malloc(nin * sizeof *x), *a = malloc(nout * sizeof *a), *b = malloc(nout * sizeof *b);
	for (size_t k = 0; k < nin; k++)
		x[k] = (float)rng_uniform(&r) - 0.5f;
	struct unet *us = unet_prepare(&small), *ub = unet_prepare(&big);
	rc = us && ub ? unet_forward(us, x, 1, H, W, a, NULL, NULL) || unet_forward(ub, x, 1, H, W, b, NULL, NULL) : -1;
	double worst = 0;
	for (size_t k = 0; !rc && k < nout; k++)
		worst = fmax(worst, fabs((double)a[k] - b[k]));
	ok(rc == 0 && !memcmp(a, b, nout * sizeof *a), "the grown network's masks are the model's, bit for bit "
	   "(largest difference %g)", worst);
	unet_free(us), unet_free(ub);
	free(x), free(a), free(b);
	model_free(&big);
	/* what is not growth */
	d = c;
	d.dims[2] = 24;
	rc = model_init(&big, &d);
	ok(rc == 0 && train_grow(&big, &small) == -1 && strstr(tf_strerror(), "dims: got 8,8,24,16, expected 8,8,16,16"),
	   "other widths refused: %s", tf_strerror());
	model_free(&big);
	d = c;
	d.depths[3] = 2;
	rc = model_init(&big, &d);
	ok(rc == 0 && train_grow(&small, &big) == -1 && strstr(tf_strerror(), "1,1,1,2 blocks, more than 1,1,1,1 at level 3"),
	   "fewer blocks refused: %s", tf_strerror());
	model_free(&big);
	model_free(&small);
}

/* ---------- dataset and augmentation ---------- */

static char root[256];

static void write_wav(const char *dir, const char *name, int rate, int ch, int64_t n, float amp, int seed)
{
	char path[512];
	SF_INFO info = {.samplerate = rate, .channels = ch, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	snprintf(path, sizeof path, "%s/%s.wav", dir, name);
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	float *x = malloc((size_t)n * ch * sizeof(float));
	for (int64_t i = 0; i < n * ch; i++)
		x[i] = amp * (float)sin(0.01 * (double)(i + 1) * (seed + 1)) + amp * 0.001f * (float)(i % 7);
	sf_writef_float(sf, x, n);
	sf_close(sf);
	free(x);
}

static const char stems[2][32] = {"a", "b"};

/* root/<sub>/<track>: mixture, a, b */
static void make_track(const char *sub, const char *track, int64_t n, float amp, int seed)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/%s", root, sub);
	mkdir(dir, 0777);
	snprintf(dir, sizeof dir, "%s/%s/%s", root, sub, track);
	mkdir(dir, 0777);
	write_wav(dir, "mixture", 8000, 2, n, amp, seed);
	write_wav(dir, "a", 8000, 2, n, amp, seed + 10);
	write_wav(dir, "b", 8000, 1, n, amp, seed + 20);
}

static int open_sub(struct dataset *d, const char *sub)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/%s", root, sub);
	return dataset_open(d, dir, stems, 2, 0, 0);
}

static void test_dataset(void)
{
	struct dataset d;
	int rc;
	char path[600];
	snprintf(root, sizeof root, "/tmp/test_train.XXXXXX");
	if (!mkdtemp(root)) {
		ok(0, "mkdtemp");
		return;
	}
	make_track("good", "t1", 4000, 0.5f, 1);
	make_track("good", "t0", 3000, 0.5f, 2);
	make_track("good", "t2", 500, 0.5f, 3); /* shorter than a segment */
	int opened = open_sub(&d, "good") == 0;
	ok(opened && d.ntracks == 3 && d.sample_rate == 8000 && d.channels == 2,
	   "dataset: 3 tracks at 8000 Hz, 2 channels%s%s", opened ? "" : ": ", opened ? "" : tf_strerror());
	ok(d.ntracks == 3 && !strcmp(d.tracks[0].name, "t0") && d.tracks[0].frames == 3000 &&
	   d.tracks[1].frames == 4000, "tracks in name order with their lengths");
	/* reading: planar, a mono file duplicated, zeros past the end */
	float *x = malloc(2 * 100 * sizeof(float));
	ok(dataset_read(&d, 1, 1, 3950, 100, x) == 0, "read 100 samples at 3950 of a 4000-sample mono stem");
	SF_INFO info = {0};
	snprintf(path, sizeof path, "%s/good/t1/b.wav", root);
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	float ref[50];
	sf_seek(sf, 3950, SEEK_SET);
	sf_readf_float(sf, ref, 50);
	sf_close(sf);
	int same = !memcmp(x, ref, 50 * sizeof(float)) && !memcmp(x + 100, ref, 50 * sizeof(float)), zeros = 1;
	for (int i = 50; i < 100; i++)
		zeros &= x[i] == 0 && x[100 + i] == 0;
	ok(same && zeros, "the samples as written, in both channels, then zeros");

	/* a mono reading of stereo files: the channels' average */
	struct dataset mono;
	char dir[512];
	snprintf(dir, sizeof dir, "%s/good", root);
	rc = dataset_open(&mono, dir, stems, 2, 8000, 1);
	float avg[100], st2[200];
	int avg_ok = rc == 0 && dataset_read(&mono, 1, 0, 100, 100, avg) == 0 && dataset_read(&d, 1, 0, 100, 100, st2) == 0;
	for (int i = 0; avg_ok && i < 100; i++)
		avg_ok = avg[i] == (st2[i] + st2[100 + i]) / 2.0f;
	ok(avg_ok, "a mono dataset reads stereo files as the average of their channels");
	if (rc == 0)
		dataset_free(&mono);

	/* accompaniment without its own file: drums + bass + other, as MUSDB18 builds it */
	{
		static const char karaoke[2][32] = {"vocals", "accompaniment"};
		snprintf(dir, sizeof dir, "%s/musdb", root);
		mkdir(dir, 0777);
		strcat(dir, "/t");
		mkdir(dir, 0777);
		const char *parts[5] = {"mixture", "vocals", "drums", "bass", "other"};
		for (int k = 0; k < 5; k++)
			write_wav(dir, parts[k], 8000, k == 3 ? 1 : 2, 1500, 0.25f, k);
		*strrchr(dir, '/') = 0;
		struct dataset kd;
		rc = dataset_open(&kd, dir, karaoke, 2, 0, 0);
		float acc[2 * 300], part[2 * 300], want[2 * 300] = {0};
		struct dataset one = {0};
		int acc_ok = rc == 0 && dataset_read(&kd, 0, 1, 1300, 300, acc) == 0;
		for (int k = 2; acc_ok && k < 5; k++) {
			/* each part alone, read as a one-stem dataset of that name */
			char name[1][32];
			snprintf(name[0], sizeof name[0], "%s", parts[k]);
			acc_ok = dataset_open(&one, dir, (const char(*)[32])name, 1, 0, 2) == 0 &&
				 dataset_read(&one, 0, 0, 1300, 300, part) == 0;
			for (int i = 0; acc_ok && i < 600; i++)
				want[i] += part[i];
			dataset_free(&one);
		}
		for (int i = 0; acc_ok && i < 600; i++)
			acc_ok = acc[i] == want[i];
		ok(acc_ok && acc[250] == 0 && acc[599] == 0,
		   "accompaniment: the sum of drums, bass (mono, both channels) and other, zeros past the end%s%s",
		   rc ? ": " : "", rc ? tf_strerror() : "");
		if (rc == 0)
			dataset_free(&kd);
		/* its own file, when the set has one, comes first */
		write_wav(dir, "t/accompaniment", 8000, 2, 1500, 0.25f, 9);
		rc = dataset_open(&kd, dir, karaoke, 2, 0, 0);
		ok(rc == 0 && kd.nfiles == 3 && !strcmp(kd.files[1], "accompaniment"),
		   "accompaniment.wav is read when the track has one");
		if (rc == 0)
			dataset_free(&kd);
		snprintf(path, sizeof path, "%s/t/accompaniment.wav", dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/t/bass.wav", dir);
		unlink(path);
		rc = dataset_open(&kd, dir, karaoke, 2, 0, 0);
		ok(rc == -1 && strstr(tf_strerror(), "bass.wav: missing"), "a part missing is named: %s", tf_strerror());
	}

	/* augmentation */
	struct augment a = {1000, 0.5, 1.5, 1, 1, -60};
	ok(augment_eligible(&d, &a) == 2, "two tracks are long enough for a 1000-sample segment");
	float *s1 = malloc(2 * 2 * 1000 * sizeof(float)), *m1 = malloc(2 * 1000 * sizeof(float)),
	      *s2 = malloc(2 * 2 * 1000 * sizeof(float)), *m2 = malloc(2 * 1000 * sizeof(float));
	struct rng r1, r2;
	rng_seed(&r1, 42), rng_seed(&r2, 42);
	int same_all = 1, sums = 1;
	for (int k = 0; k < 5; k++) {
		augment_draw(&d, &a, &r1, s1, m1, NULL);
		augment_draw(&d, &a, &r2, s2, m2, NULL);
		same_all &= !memcmp(s1, s2, 4000 * sizeof(float)) && !memcmp(m1, m2, 2000 * sizeof(float));
		for (int i = 0; i < 2000; i++)
			sums &= m1[i] == s1[i] + s1[2000 + i];
	}
	ok(same_all, "augmentation: the same seed draws the same examples");
	ok(sums, "the mixture is the sum of the augmented stems");
	rng_seed(&r2, 43);
	augment_draw(&d, &a, &r2, s2, m2, NULL);
	ok(memcmp(s1, s2, 4000 * sizeof(float)), "another seed draws other examples");
	/* without augmentation an example is a slice of one track */
	struct augment plain = {1000, 1, 1, 0, 0, -60};
	rng_seed(&r1, 5);
	augment_draw(&d, &plain, &r1, s1, m1, NULL);
	int found = 0;
	float *full = malloc(2 * 4000 * sizeof(float));
	for (int t = 0; t < 2 && !found; t++) {
		dataset_read(&d, t, 0, 0, d.tracks[t].frames, full);
		for (int64_t off = 0; off + 1000 <= d.tracks[t].frames && !found; off++)
			found = !memcmp(full + off, s1, 1000 * sizeof(float)) &&
				!memcmp(full + d.tracks[t].frames + off, s1 + 1000, 1000 * sizeof(float));
	}
	ok(found, "without remix, gain and swap, an example's stem is a slice of a track");
	dataset_free(&d);

	/* silent tracks are skipped */
	make_track("quiet", "loud", 2000, 0.5f, 1);
	make_track("quiet", "silent", 2000, 0.0f, 1);
	int64_t skipped = 0;
	int audible = 1;
	ok(open_sub(&d, "quiet") == 0, "a dataset with a silent track opens");
	struct augment same_track = {1000, 1, 1, 0, 0, -60};
	rng_seed(&r1, 1);
	for (int k = 0; k < 20; k++) {
		augment_draw(&d, &same_track, &r1, s1, m1, &skipped);
		double e = 0;
		for (int i = 0; i < 2000; i++)
			e += (double)m1[i] * m1[i];
		audible &= e > 0;
	}
	ok(audible && skipped > 0, "silent draws redrawn: 20 audible examples, %lld silent ones skipped",
	   (long long)skipped);
	dataset_free(&d);

	/* a stem with a NaN sample is "not finite", not silent */
	make_track("nan", "t", 2000, 0.5f, 1);
	snprintf(path, sizeof path, "%s/nan/t/a.wav", root);
	{
		SF_INFO ni = {0};
		SNDFILE *nf = sf_open(path, SFM_RDWR, &ni);
		float bad[2] = {NAN, NAN};
		sf_seek(nf, 1234, SEEK_SET);
		sf_writef_float(nf, bad, 1);
		sf_close(nf);
	}
	rc = open_sub(&d, "nan");
	ok(rc == 0, "a dataset with a NaN sample opens (samples are read later)");
	if (rc == 0) {
		rng_seed(&r1, 1);
		for (int k = 0; k < 50 && (rc = augment_draw(&d, &same_track, &r1, s1, m1, NULL)) == 0; k++)
			;
		ok(rc == -1 && strstr(tf_strerror(), "a.wav: sample 1234 (channel 1) is not finite"),
		   "a NaN sample is reported as not finite: %s", tf_strerror());
		dataset_free(&d);
	}

	/* bad datasets: one clear message each */
	make_track("missing", "t", 2000, 0.5f, 1);
	snprintf(path, sizeof path, "%s/missing/t/b.wav", root);
	unlink(path);
	rc = open_sub(&d, "missing");
	ok(rc == -1 && strstr(tf_strerror(), "b.wav: missing"), "missing stem: %s",
	   tf_strerror());
	make_track("length", "t", 2000, 0.5f, 1);
	snprintf(path, sizeof path, "%s/length/t", root);
	write_wav(path, "a", 8000, 2, 1999, 0.5f, 1);
	rc = open_sub(&d, "length");
	ok(rc == -1 && strstr(tf_strerror(), "same length"), "mismatched length: %s",
	   tf_strerror());
	make_track("rate", "t", 2000, 0.5f, 1);
	snprintf(path, sizeof path, "%s/rate/t", root);
	write_wav(path, "b", 16000, 2, 2000, 0.5f, 1);
	rc = open_sub(&d, "rate");
	ok(rc == -1 && strstr(tf_strerror(), "sample rate"), "mismatched rate: %s",
	   tf_strerror());
	make_track("junk", "t", 2000, 0.5f, 1);
	snprintf(path, sizeof path, "%s/junk/t/a.wav", root);
	FILE *fp = fopen(path, "w");
	fputs("not audio at all", fp);
	fclose(fp);
	rc = open_sub(&d, "junk");
	ok(rc == -1 && strstr(tf_strerror(), "cannot read audio"), "unreadable audio: %s",
	   tf_strerror());
	snprintf(path, sizeof path, "%s/empty", root);
	mkdir(path, 0777);
	rc = open_sub(&d, "empty");
	ok(rc == -1 && strstr(tf_strerror(), "no track"), "empty dataset: %s", tf_strerror());
	free(x), free(s1), free(s2), free(m1), free(m2), free(full);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd))
		printf("# could not remove %s\n", root);
}

/* ---------- training state ---------- */

static void test_state(void)
{
	int rc;
	struct train_state st = {0}, back;
	struct unet_config c;
	train_config_named(&c, "tiny");
	model_init(&st.m, &c);
	train_state_alloc(&st);
	st.set = (struct train_settings){123, 2, 1.0, {LR_COSINE, 1e-3, 0, 5, 50, 10, 0.5}, {0.9, 0.999, 1e-8, 0.01},
					  5, {44100, 0.25, 1.25, 1, 1, -60}, 0.5, 0, 0, 3, 0};
	st.step = 17, st.epoch = 3, st.epoch_steps = 5, st.valid = 0, st.valid_seconds = 7.5;
	rng_seed(&st.rng, 99);
	strcpy(st.dataset, "data/x");
	for (size_t i = 0; i < st.m.nparams; i++)
		st.m.params[i] = frand(-1, 1), st.mom1[i] = frand(-1, 1), st.mom2[i] = frand(0, 1);
	char path[] = "/tmp/test_train_state.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w+b");
	ok(train_state_write(&st, fp) == 0, "state written");
	fflush(fp);
	long size = ftell(fp);
	int loaded = train_state_load(&back, path) == 0;
	ok(loaded, "state read back%s%s", loaded ? "" : ": ", loaded ? "" : tf_strerror());
	/* the moments of running statistics are not stored: compare trainable ones */
	int same = back.step == 17 && back.epoch == 3 && back.epoch_steps == 5 && back.valid == 0 &&
		   back.valid_seconds == 7.5 &&
		   !memcmp(&back.rng, &st.rng, sizeof st.rng) && !memcmp(&back.set, &st.set, sizeof st.set) &&
		   !strcmp(back.dataset, "data/x") && back.m.nparams == st.m.nparams;
	for (int i = 0; same && i < st.m.nspecs; i++) {
		const struct param_spec *s = &st.m.specs[i];
		same &= !memcmp(back.m.params + s->offset, st.m.params + s->offset, s->numel * sizeof(float));
		if (s->trainable)
			same &= !memcmp(back.mom1 + s->offset, st.mom1 + s->offset, s->numel * sizeof(float)) &&
				!memcmp(back.mom2 + s->offset, st.mom2 + s->offset, s->numel * sizeof(float));
	}
	ok(same, "every field, parameter and moment comes back bit for bit");
	train_state_free(&back);
	/* cut short anywhere: refused */
	int refused = 1;
	for (long cut = 1; cut < size; cut += size / 13) {
		if (ftruncate(fd, cut))
			break;
		refused &= train_state_load(&back, path) == -1;
	}
	ok(refused, "a state cut short is refused: %s", tf_strerror());
	/* a damaged header value */
	rewind(fp);
	if (ftruncate(fd, 0) == 0) {
		st.set.batch = 0;
		train_state_write(&st, fp);
		fflush(fp);
	}
	rc = train_state_load(&back, path);
	ok(rc == -1 && strstr(tf_strerror(), "batch"), "a bad setting is refused: %s",
	   tf_strerror());
	fclose(fp);
	unlink(path);
	train_state_free(&st);
}

/* The moving average: its decay ramp, its update against the formula in
 * double, and a state that keeps it (a version 3 state with ema/ tensors)
 * read back bit for bit (tests/bats/train.bats: one without them refused). */
static void test_ema(void)
{
	ok(fabs(ema_decay_at(0.999, 1) - 2.0 / 11.0) < 1e-15 && ema_decay_at(0.999, 1000000) == 0.999 &&
		   ema_decay_at(0.9, 100) == 0.9,
	   "the decay ramps up as (1 + t) / (10 + t) to the run's decay");
	float avg[37], p[37], want[37];
	double worst = 0;
	for (int i = 0; i < 37; i++)
		avg[i] = frand(-1, 1), p[i] = frand(-1, 1), want[i] = (float)(0.75 * avg[i] + 0.25 * p[i]);
	ema_update(avg, p, 37, 0.75);
	for (int i = 0; i < 37; i++)
		worst = fmax(worst, fabs(avg[i] - want[i]));
	ok(worst < 1e-6, "avg = d avg + (1 - d) p (largest difference %.2g)", worst);

	struct train_state st = {0}, back;
	struct unet_config c;
	train_config_named(&c, "tiny");
	model_init(&st.m, &c);
	for (size_t i = 0; i < st.m.nparams; i++)
		st.m.params[i] = frand(-1, 1);
	st.ema = 0.99;
	ok(train_state_alloc(&st) == 0 && st.avg && !memcmp(st.avg, st.m.params, st.m.nparams * sizeof(float)),
	   "the average starts as the parameters");
	st.set = (struct train_settings){1, 2, 1.0, {LR_COSINE, 1e-3, 0, 5, 50, 10, 0.5}, {0.9, 0.999, 1e-8, 0.01},
					  5, {44100, 0.25, 1.25, 1, 1, -60}, 0, 0, 0, 3, 0};
	st.epoch_steps = 5, st.valid = 0, st.valid_seconds = 1;
	rng_seed(&st.rng, 9);
	for (size_t i = 0; i < st.m.nparams; i++)
		st.avg[i] = frand(-1, 1);
	struct model view = train_state_model(&st);
	ok(view.params == st.avg && view.nparams == st.m.nparams, "the model written is the average");
	char path[] = "/tmp/test_train_ema.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w+b");
	train_state_write(&st, fp);
	fflush(fp);
	int loaded = train_state_load(&back, path) == 0;
	int same = loaded && back.ema == 0.99 && back.avg;
	for (int i = 0; same && i < st.m.nspecs; i++) /* tensor by tensor: the buffer has gaps */
		same &= !memcmp(back.avg + st.m.specs[i].offset, st.avg + st.m.specs[i].offset,
				st.m.specs[i].numel * sizeof(float));
	ok(same, "ema and the average come back bit for bit%s%s", loaded ? "" : ": ", loaded ? "" : tf_strerror());
	if (loaded)
		train_state_free(&back);
	ok(train_state_set_ema(&st, 1.0) == -1 && strstr(tf_strerror(), "ema"), "ema 1 is refused: %s",
	   tf_strerror());
	ok(train_state_set_ema(&st, 0) == 0 && !st.avg && st.ema == 0, "ema 0 drops the average");
	fclose(fp);
	unlink(path);
	train_state_free(&st);
}

int main(void)
{
	rng_seed(&R, 2024);
	test_spec_loss_gradient();
	test_istft_adjoint_and_stft();
	test_wave_loss_gradient();
	test_adamw();
	test_clip_and_init();
	test_grow();
	test_dataset();
	test_state();
	test_ema();
	return test_done();
}
