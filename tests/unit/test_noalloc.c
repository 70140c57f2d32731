/* A forward pass allocates nothing once it is planned: this binary replaces
 * malloc and its relatives with counting versions (glibc's own underneath),
 * (or counts through AddressSanitizer's hooks in the sanitizer build),
 * plans a pass, and counts what the passes after it allocate, for float
 * and int8 models on one and two threads, through unet_run and through the
 * segmenter that tf-unet uses. The first pass on a new thread team may
 * let BLIS and libgomp fill their own pools (their lazy set-up, not ours):
 * it is run once before counting, and its count is printed. The same for
 * a training step (forward, the spectral and waveform losses, backward)
 * after its set-up, with and without checkpointing and --qat. */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "quant.h"
#include "segment.h"
#include "test.h"
#include "train/loss.h"
#include "train/spec.h"
#include "unet.h"
#include "unet_train.h"

/* ---------- counting allocator ---------- */

static atomic_int counting;
static atomic_long allocations;

static void count(void)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer owns malloc: it counts through its hooks instead */
/* from the sanitizer runtime (gcc ships no header for it) */
int __sanitizer_install_malloc_and_free_hooks(void (*on_malloc)(const volatile void *, size_t),
					      void (*on_free)(const volatile void *));

static void on_malloc(const volatile void *p, size_t n)
{
	count();
}

static void on_free(const volatile void *p)
{
}

static void install_counter(void)
{
	/* both hooks, or it installs neither */
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

int posix_memalign(void **p, size_t align, size_t n)
{
	count();
	*p = __libc_memalign(align, n);
	return *p ? 0 : 12; /* ENOMEM */
}

static void install_counter(void)
{
}
#endif

static long counted(void (*fn)(void *), void *arg)
{
	atomic_store(&allocations, 0);
	atomic_store(&counting, 1);
	fn(arg);
	atomic_store(&counting, 0);
	return atomic_load(&allocations);
}

/* ---------- the passes ---------- */

static void small_model(struct model *m)
{
	struct unet_config c;
	config_default(&c);
	for (int s = 0; s < 4; s++)
		c.dims[s] = 8 << (s > 1 ? 1 : 0), c.depths[s] = 1;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	model_init(m, &c);
	for (size_t k = 0; k < m->nparams; k++)
		m->params[k] = (float)sin((double)k * 0.37) * 0.2f;
}

static void fill(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)cos((double)i * 0.11);
}

static void one_allocation(void *unused)
{
	void *volatile p = malloc(24);
	free(p);
}

static void run_plan(void *p)
{
	unet_run(p, NULL, NULL);
}

struct seg_run {
	struct segmenter *s;
	const float *spec;
	int frames, emitted;
};

static int take(void *ctx, const float *masks, const float *mix, int64_t first, int n)
{
	struct seg_run *r = ctx;
	(void)masks, (void)mix, (void)first;
	r->emitted += n;
	return 0;
}

/* Chunks of 8 frames, as a stream brings them. */
static void run_segments(void *ctx)
{
	struct seg_run *r = ctx;
	for (int t = 0; t + 8 <= r->frames; t += 8)
		if (segmenter_push(r->s, r->spec, 8, take, r))
			return;
}

static void check_model(struct model *m, const char *what)
{
	struct unet *u = unet_prepare(m);
	const struct unet_config *c = &m->cfg;
	int F = 40, T = 32;
	if (!ok(u != NULL, "%s: prepared %s", what, u ? "" : tf_strerror()))
		return;
	for (int threads = 1; threads <= 2; threads++) {
		struct unet_plan *p = unet_plan_new(u, F, T, threads);
		if (!ok(p != NULL, "%s, %d threads: planned (%zu bytes)", what, threads, p ? unet_plan_bytes(p) : 0))
			continue;
		fill(unet_plan_input(p), (size_t)F * T * c->in_channels);
		long first = counted(run_plan, p);
		fill(unet_plan_input(p), (size_t)F * T * c->in_channels);
		long second = counted(run_plan, p);
		ok(second == 0, "%s, %d threads: a planned pass allocates nothing (%ld allocations; %ld in the first "
				"pass, BLIS's and libgomp's set-up)", what, threads, second, first);
		unet_plan_free(p);
	}

	/* the segmenter: planned at its first segment, then nothing per segment */
	int L = 16, frames = 16 * 12;
	float *spec = calloc((size_t)c->channels * F * 8 * 2, sizeof *spec);
	fill(spec, (size_t)c->channels * F * 8 * 2);
	struct seg_run r = {segmenter_new(u, F, L, 4, 2), spec, frames, 0};
	if (ok(r.s != NULL, "%s: segmenter", what)) {
		/* the first segments plan and grow the held frames */
		for (int t = 0; t < 4 * L; t += 8)
			segmenter_push(r.s, spec, 8, take, &r);
		long n = counted(run_segments, &r);
		ok(n == 0 && r.emitted > 0, "%s: %d more frames through the segmenter allocate nothing (%ld allocations)",
		   what, frames, n);
	}
	segmenter_free(r.s);
	free(spec);
	unet_free(u);
}

struct train_run {
	struct unet_train *t;
	struct loss_work *loss;
	struct model *m;
	const float *in, *mix, *target, *wave;
	float *masks, *dmasks, *grad;
	int failed;
};

/* A step as tf-train takes it: the losses between the passes. */
static void train_step(void *ctx)
{
	struct train_run *r = ctx;
	if (unet_train_forward(r->t, r->m, r->in, r->masks))
		r->failed = 1;
	double loss = loss_spec_l1(r->loss, r->masks, r->mix, r->target, r->dmasks);
	loss += 0.5 * loss_wave_l1(r->loss, r->masks, r->mix, r->wave, 0.5, r->dmasks);
	if (!isfinite(loss) || unet_train_backward(r->t, r->m, r->dmasks, r->grad))
		r->failed = 1;
}

/* Ragged sizes (a resize after an upsampling), two examples: 18 bins (n_fft
 * 34) by 13 frames (hop 8) of 100-sample signals. */
static void check_training(struct model *m)
{
	const struct unet_config *c = &m->cfg;
	int B = 2, H = 18, W = 13, S = c->nstems, C = c->channels;
	int64_t L = 100;
	struct spec *sp = spec_new(34, 8);
	struct loss_shape sh = {B, S, C, H, W};
	size_t nin = (size_t)B * c->in_channels * H * W, nout = (size_t)B * c->out_channels * H * W;
	size_t nmix = (size_t)B * C * H * W * 2, nwave = (size_t)B * S * C * L;
	float *in = malloc(nin * sizeof *in), *dmasks = malloc(nout * sizeof *dmasks);
	float *masks = malloc(nout * sizeof *masks), *grad = calloc(m->nparams, sizeof *grad);
	float *mix = malloc(nmix * sizeof *mix), *target = malloc(nmix * S * sizeof *target);
	float *wave = malloc(nwave * sizeof *wave);
	fill(in, nin), fill(mix, nmix), fill(target, nmix * S), fill(wave, nwave);
	if (!ok(sp && spec_bins(sp) == H && spec_frames(sp, L) == W && c->out_channels == S * C,
		"training: the losses' shapes fit the network's output"))
		return;
	for (int threads = 1; threads <= 2; threads++)
		for (int mode = 0; mode < 3; mode++) {
			const char *name[] = {"", ", checkpointing", ", --qat"};
			struct train_run r = {unet_train_new(m, B, H, W, mode == 1, threads), loss_work_new(&sh, sp, L, threads),
					      m, in, mix, target, wave, masks, dmasks, grad, 0};
			if (!ok(r.t && r.loss, "training%s, %d threads: set up %s", name[mode], threads,
				r.t && r.loss ? "" : tf_strerror()))
				continue;
			unet_train_set_qat(r.t, mode == 2);
			long first = counted(train_step, &r);
			long second = counted(train_step, &r);
			ok(!r.failed && second == 0,
			   "training%s, %d threads: a step with its losses allocates nothing (%ld allocations; %ld in "
			   "the first step)", name[mode], threads, second, first);
			unet_train_free(r.t);
			loss_work_free(r.loss);
		}
	free(in), free(dmasks), free(masks), free(grad), free(mix), free(target), free(wave);
	spec_free(sp);
}

int main(void)
{
	struct model m;
	install_counter();
	long one = counted(one_allocation, NULL);
	ok(one == 1, "the counter sees a malloc (%ld)", one);
	small_model(&m);
	check_model(&m, "f32");
	check_training(&m);
	/* bf16: its products in bf16 (the values need not be bf16 ones) */
	m.cfg.quantization = QUANT_BF16;
	check_model(&m, "bf16");
	m.cfg.quantization = QUANT_NONE;
	struct quant_layer *q = calloc((size_t)m.nspecs, sizeof *q);
	if (ok(quant_plan(&m, QUANT_Q8, q) == 0, "q8 plan")) {
		m.cfg.quantization = QUANT_Q8;
		check_model(&m, "q8");
	}
	free(q);
	model_free(&m);
	return test_done();
}
