/* The training pass of the whole network on tiny configurations: gradients
 * of L = sum(masks * R) against central differences for every trainable
 * tensor, checkpointing bit for bit the same, the BatchNorm running
 * statistics after one forward pass equal to torch's formula, and runs
 * repeatable. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "kernels/conv.h"
#include "model.h"
#include "test.h"
#include "train_util.h"
#include "unet_train.h"

struct run {
	float *masks, *grad, *params; /* params after the forward pass */
};

static double loss(struct unet_train *t, struct model *m, const float *in, const float *R, size_t nout,
		   float *masks)
{
	double L = 0;
	if (unet_train_forward(t, m, in, masks))
		return NAN;
	for (size_t i = 0; i < nout; i++)
		L += (double)masks[i] * R[i];
	return L;
}

/* One forward and backward from the parameters p0. */
static int step_qat(struct model *m, const float *p0, const float *in, const float *R, int B, int H, int W,
		    int checkpoint, int qat, struct run *r)
{
	size_t nout = (size_t)B * m->cfg.out_channels * H * W;
	struct unet_train *t = unet_train_new(m, B, H, W, checkpoint, omp_get_max_threads());
	if (t)
		unet_train_set_qat(t, qat);
	memcpy(m->params, p0, m->nparams * sizeof(float));
	r->masks = calloc(nout, sizeof(float));
	r->grad = calloc(m->nparams, sizeof(float));
	r->params = malloc(m->nparams * sizeof(float));
	int rc = !t || unet_train_forward(t, m, in, r->masks) || unet_train_backward(t, m, R, r->grad);
	memcpy(r->params, m->params, m->nparams * sizeof(float));
	memcpy(m->params, p0, m->nparams * sizeof(float));
	unet_train_free(t);
	return rc ? -1 : 0;
}

static int step(struct model *m, const float *p0, const float *in, const float *R, int B, int H, int W,
		int checkpoint, struct run *r)
{
	return step_qat(m, p0, in, R, B, H, W, checkpoint, 0, r);
}

static void run_free(struct run *r)
{
	free(r->masks), free(r->grad), free(r->params);
}

static double central(struct unet_train *t, struct model *m, const float *in, const float *R, size_t nout,
		      float *masks, size_t at, float eps)
{
	float keep = m->params[at];
	m->params[at] = keep + eps;
	double lp = loss(t, m, in, R, nout, masks);
	m->params[at] = keep - eps;
	double lm = loss(t, m, in, R, nout, masks);
	m->params[at] = keep;
	return (lp - lm) / (2.0 * (double)eps);
}

/* Central differences on one entry of every trainable tensor whose name
 * contains only (all if NULL). BatchNorm over the few pixels of the deepest
 * level of a tiny input is strongly curved, so the differences at h and h/2
 * are combined (Richardson) to cancel the h^2 term; the float rounding of
 * the masks leaves an absolute noise of about 2e-3. */
static void finite_differences(struct model *m, const float *p0, const float *in, const float *R, int B,
			       int H, int W, const struct run *r, const char *label, const char *only)
{
	size_t nout = (size_t)B * m->cfg.out_channels * H * W;
	struct unet_train *t = unet_train_new(m, B, H, W, 0, omp_get_max_threads());
	float *masks = malloc(nout * sizeof *masks);
	double worst = 0, worst_g = 0, worst_fd = 0;
	int checked = 0, loose = 0, worst_spec = 0;
	size_t worst_j = 0;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		if (!s->trainable || (only && !strstr(s->name, only)))
			continue;
		size_t j = (size_t)((urand() + 1) / 2 * (double)s->numel) % s->numel, at = s->offset + j;
		memcpy(m->params, p0, m->nparams * sizeof(float));
		double f1 = central(t, m, in, R, nout, masks, at, 4e-3f);
		double f2 = central(t, m, in, R, nout, masks, at, 2e-3f);
		double fd = (4 * f2 - f1) / 3, g = r->grad[at];
		double err = fabs(fd - g) / (5e-3 + 0.05 * fabs(fd)); /* > 1: beyond tolerance */
		checked++;
		loose += err > 1;
		if (err > worst)
			worst = err, worst_spec = i, worst_j = j, worst_g = g, worst_fd = fd;
	}
	memcpy(m->params, p0, m->nparams * sizeof(float));
	ok(loose == 0,
	   "%s: one entry of each of %d tensors%s%s vs central differences: %d beyond 5e-3 + 5%%, worst "
	   "|g - fd| / (5e-3 + 0.05 |fd|) = %.3g at %s[%zu] (got %.6g, differences %.6g)",
	   label, checked, only ? " named *" : "", only ? only : "", loose, worst, m->specs[worst_spec].name,
	   worst_j, worst_g, worst_fd);
	free(masks);
	unet_train_free(t);
}

/* stem.1's running statistics after one forward pass: torch's update with
 * momentum 0.1 and the unbiased batch variance of the stem convolution. */
static void running_stats(struct model *m, const float *p0, const float *in, const struct run *r, int B,
			  int H, int W, const char *label)
{
	const struct unet_config *c = &m->cfg;
	int Ci = c->in_channels, C = c->dims[0];
	size_t n0 = (size_t)H * W;
	float *x = malloc(n0 * Ci * sizeof *x), *z = malloc((size_t)B * n0 * C * sizeof *z);
	const struct param_spec *w = model_spec(m, "stem.0.weight"), *b = model_spec(m, "stem.0.bias");
	const struct param_spec *rm = model_spec(m, "stem.1.running_mean"), *rv = model_spec(m, "stem.1.running_var");
	for (int bi = 0; bi < B; bi++) {
		for (int ch = 0; ch < Ci; ch++)
			for (size_t p = 0; p < n0; p++)
				x[p * Ci + ch] = in[((size_t)bi * Ci + ch) * n0 + p];
		conv2d_ref(z + (size_t)bi * n0 * C, x, p0 + w->offset, p0 + b->offset, H, W, Ci, C, 7, 1, 3);
	}
	double worst = 0;
	size_t N = (size_t)B * n0;
	for (int ch = 0; ch < C; ch++) {
		double mean = 0, var = 0;
		for (size_t p = 0; p < N; p++)
			mean += z[p * C + ch];
		mean /= (double)N;
		for (size_t p = 0; p < N; p++)
			var += (z[p * C + ch] - mean) * (z[p * C + ch] - mean);
		double want_m = 0.9 * p0[rm->offset + ch] + 0.1 * mean;
		double want_v = 0.9 * p0[rv->offset + ch] + 0.1 * var / (double)(N - 1);
		double e1 = fabs(r->params[rm->offset + ch] - want_m), e2 = fabs(r->params[rv->offset + ch] - want_v);
		worst = e1 > worst ? e1 : worst;
		worst = e2 > worst ? e2 : worst;
	}
	ok(worst < 2e-6, "%s: stem.1 running mean and variance after one forward pass match torch's update "
			 "(momentum 0.1, unbiased variance): max abs diff %.3g",
	   label, worst);
	free(x), free(z);
}

static void run_case(const char *label, const int depths[4], int B, int H, int W, int mask_shifted,
		     const char *fd_only)
{
	struct unet_config cfg;
	struct model m;
	tiny_config(&cfg, depths);
	cfg.mask_shifted = mask_shifted;
	if (!ok(model_init(&m, &cfg) == 0, "%s: model", label))
		return;
	random_params(&m);
	size_t nin = (size_t)B * cfg.in_channels * H * W, nout = (size_t)B * cfg.out_channels * H * W;
	float *in = malloc(nin * sizeof *in), *R = malloc(nout * sizeof *R);
	float *p0 = malloc(m.nparams * sizeof *p0);
	for (size_t i = 0; i < nin; i++)
		in[i] = (float)urand();
	for (size_t i = 0; i < nout; i++)
		R[i] = (float)urand();
	memcpy(p0, m.params, m.nparams * sizeof *p0);

	struct run plain, again, ckpt;
	int rc = step(&m, p0, in, R, B, H, W, 0, &plain);
	if (!ok(rc == 0, "%s: forward and backward %dx%dx%dx%d (%s)", label, B, cfg.in_channels, H, W,
		rc ? tf_strerror() : "ok"))
		return;
	size_t inside = 0;
	for (size_t i = 0; i < nout; i++)
		inside += plain.masks[i] > 0.02f && plain.masks[i] < 0.98f;
	ok(inside > nout * 9 / 10, "%s: %zu of %zu masks inside (0.02, 0.98), so gradients flow", label, inside, nout);
	step(&m, p0, in, R, B, H, W, 0, &again);
	ok(!memcmp(plain.grad, again.grad, m.nparams * sizeof(float)) &&
		   !memcmp(plain.masks, again.masks, nout * sizeof(float)),
	   "%s: a second run gives the same masks and gradients bit for bit", label);
	rc = step(&m, p0, in, R, B, H, W, 1, &ckpt);
	ok(rc == 0 && !memcmp(plain.grad, ckpt.grad, m.nparams * sizeof(float)),
	   "%s: gradients with checkpointing are bit-identical (memcmp of all %zu floats)", label, m.nparams);
	ok(rc == 0 && !memcmp(plain.masks, ckpt.masks, nout * sizeof(float)) &&
		   !memcmp(plain.params, ckpt.params, m.nparams * sizeof(float)),
	   "%s: masks and running statistics with checkpointing are bit-identical", label);
	int untouched = 1;
	for (int i = 0; i < m.nspecs; i++)
		if (!m.specs[i].trainable)
			for (size_t j = 0; j < m.specs[i].numel; j++)
				untouched &= plain.grad[m.specs[i].offset + j] == 0.0f;
	ok(untouched, "%s: gradient entries of the running statistics left alone", label);
	running_stats(&m, p0, in, &plain, B, H, W, label);
	finite_differences(&m, p0, in, R, B, H, W, &plain, label, fd_only);
	run_free(&plain), run_free(&again), run_free(&ckpt);
	free(in), free(R), free(p0);
	model_free(&m);
}

/* --qat's activation fake-quantisation: it changes the masks by about
 * int8 rounding and no more, the gradients stay close to the float ones
 * (straight through), and checkpointing, which runs the blocks' forward
 * pass again inside the backward pass, rounds the same inputs the same way. */
static void qat_case(void)
{
	static const int depths[4] = {2, 1, 1, 1};
	const int B = 2, H = 16, W = 12;
	struct unet_config cfg;
	struct model m;
	tiny_config(&cfg, depths);
	if (!ok(model_init(&m, &cfg) == 0, "qat: model"))
		return;
	random_params(&m);
	size_t nin = (size_t)B * cfg.in_channels * H * W, nout = (size_t)B * cfg.out_channels * H * W;
	float *in = malloc(nin * sizeof *in), *R = malloc(nout * sizeof *R), *p0 = malloc(m.nparams * sizeof *p0);
	for (size_t i = 0; i < nin; i++)
		in[i] = (float)urand();
	for (size_t i = 0; i < nout; i++)
		R[i] = (float)urand();
	memcpy(p0, m.params, m.nparams * sizeof *p0);
	struct run plain, fq, fq_ckpt;
	int rc = step(&m, p0, in, R, B, H, W, 0, &plain) || step_qat(&m, p0, in, R, B, H, W, 0, 1, &fq) ||
		 step_qat(&m, p0, in, R, B, H, W, 1, 1, &fq_ckpt);
	if (!ok(rc == 0, "qat: forward and backward (%s)", rc ? tf_strerror() : "ok"))
		return;
	double dmax = 0, dot = 0, n1 = 0, n2 = 0;
	size_t at = 0;
	for (size_t i = 0; i < nout; i++)
		if (fabs(fq.masks[i] - plain.masks[i]) > dmax)
			dmax = fabs(fq.masks[i] - plain.masks[i]), at = i;
	for (size_t i = 0; i < m.nparams; i++)
		dot += (double)fq.grad[i] * plain.grad[i], n1 += (double)fq.grad[i] * fq.grad[i],
			n2 += (double)plain.grad[i] * plain.grad[i];
	double cosine = dot / sqrt(n1 * n2);
	ok(dmax > 0 && dmax < 0.05, "qat: fake-quantised inputs move the masks by int8 rounding: max %.3g at [%zu]",
	   dmax, at);
	ok(cosine > 0.98, "qat: gradients close to the float ones (cosine %.6f)", cosine);
	ok(!memcmp(fq.grad, fq_ckpt.grad, m.nparams * sizeof(float)) && !memcmp(fq.masks, fq_ckpt.masks, nout * sizeof(float)),
	   "qat: masks and gradients with checkpointing are bit-identical");
	run_free(&plain), run_free(&fq), run_free(&fq_ckpt);
	free(in), free(R), free(p0);
	model_free(&m);
}

int main(int argc, char **argv)
{
	static const int d2111[4] = {2, 1, 1, 1}, d1112[4] = {1, 1, 1, 2}, d1110[4] = {1, 1, 1, 0};
	/* hundreds of tiny forward passes: threads that spin while waiting
	 * make them a hundred times slower on a shared machine. The OpenMP
	 * runtime reads this when it starts, hence the re-exec. */
	if (!getenv("OMP_WAIT_POLICY") && argc > 0) {
		setenv("OMP_WAIT_POLICY", "passive", 1);
		execv("/proc/self/exe", argv);
	}
	/* misuse: a clear error, no crash */
	{
		struct unet_config cfg;
		struct model m;
		tiny_config(&cfg, d2111);
		model_init(&m, &cfg);
		struct unet_train *t = unet_train_new(&m, 1, 7, 12, 0, omp_get_max_threads());
		ok(!t && strstr(tf_strerror(), "7 x 12"), "a 7 x 12 input is refused: %s", tf_strerror());
		t = unet_train_new(&m, 1, 16, 12, 0, 0);
		ok(!t && strstr(tf_strerror(), "0 threads"), "0 threads are refused: %s", tf_strerror());
		t = unet_train_new(&m, 1, 16, 12, 1, omp_get_max_threads());
		float *g = calloc(m.nparams, sizeof *g), *d = calloc(2 * 16 * 12, sizeof *d);
		ok(t && unet_train_backward(t, &m, d, g) == -1, "backward before any forward pass is refused: %s",
		   tf_strerror());
		unet_train_free(t);
		free(g), free(d);
		model_free(&m);
	}
	run_case("aligned 16x12, depths 2,1,1,1", d2111, 2, 16, 12, 0, NULL);
	run_case("ragged 19x13, depths 1,1,1,2", d1112, 2, 19, 13, 0, NULL);
	run_case("ragged 19x13, Swin mask in shifted windows", d2111, 2, 19, 13, 1, "swa");
	run_case("16x12, no bottleneck blocks", d1110, 2, 16, 12, 0, "upsample_layers.0");
	qat_case();
	return test_done();
}
