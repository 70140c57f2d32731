/* q8 and q8s models: which tensors become int8 and how (per output channel,
 * the transposed convolutions' second axis), the file round trip, and the
 * int8 network's masks against the f32 network's on the golden cases (q8
 * with run-time scales; q8s calibrated on a stream of the case's own
 * input, then on another random stream); a stream that does not fit the
 * model is refused for calibration. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "error.h"
#include "golden.h"
#include "model.h"
#include "npy.h"
#include "quant.h"
#include "stream.h"
#include "test.h"
#include "unet.h"

static void tiny_model(struct model *m)
{
	struct unet_config c;
	config_default(&c);
	for (int s = 0; s < 4; s++)
		c.dims[s] = 8, c.depths[s] = 1;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	model_init(m, &c);
	for (size_t k = 0; k < m->nparams; k++)
		m->params[k] = (float)sin((double)k * 0.7) * 0.3f;
}

static void test_plan_and_file(void)
{
	struct model m;
	tiny_model(&m);
	struct quant_layer *q = calloc((size_t)m.nspecs, sizeof *q);
	int rc = quant_plan(&m, QUANT_Q8, q);
	ok(rc == 0, "q8 plan %s", rc ? tf_strerror() : "");
	int wrong = 0, kept_stem = 0, kept_head = 0, n8 = 0, bad_range = 0, bad_err = 0;
	for (int i = 0; i < m.nspecs; i++) {
		const struct param_spec *s = &m.specs[i];
		int want8 = s->ndim >= 2 && strncmp(s->name, "stem.", 5) && strncmp(s->name, "output_head.", 12);
		wrong += want8 != (q[i].dtype == DT_I8) || (q[i].kept == NULL) != want8;
		kept_stem += !strcmp(s->name, "stem.0.weight") && q[i].kept && strstr(q[i].kept, "first layer");
		kept_head += !strncmp(s->name, "output_head.", 12) && s->ndim > 1 && q[i].kept &&
			     strstr(q[i].kept, "mask head");
		if (!want8)
			continue;
		n8++;
		/* per output channel: the largest |q| is 127, and the error at most half a step */
		int axis = model_out_axis(s);
		size_t outs = (size_t)s->shape[axis], inner = 1;
		for (int d = axis + 1; d < s->ndim; d++)
			inner *= (size_t)s->shape[d];
		int *top = calloc(outs, sizeof *top);
		for (size_t k = 0; k < s->numel; k++) {
			size_t o = (k / inner) % outs;
			int v = m.q8[s->offset + k];
			top[o] = abs(v) > top[o] ? abs(v) : top[o];
			float back = v * m.q8_scale[i][o];
			bad_err += fabsf(back - m.params[s->offset + k]) > 0.5f * m.q8_scale[i][o] * 1.0001f;
		}
		for (size_t o = 0; o < outs; o++)
			bad_range += top[o] != 127;
		free(top);
	}
	ok(!wrong && kept_stem == 1 && kept_head == 2,
	   "q8: %d weight tensors int8; 1-D tensors, the stem and the mask head kept in f32 with reasons", n8);
	ok(!bad_range && !bad_err,
	   "every output channel (axis 1 of the transposed convolutions) reaches +-127; errors within half a "
	   "step (%d channels, %d values wrong)", bad_range, bad_err);

	/* written, read back: the same bytes and scales, params dequantised */
	m.cfg.quantization = QUANT_Q8;
	enum dtype *dt = calloc((size_t)m.nspecs, sizeof *dt);
	for (int i = 0; i < m.nspecs; i++)
		dt[i] = q[i].dtype;
	char path[] = "/tmp/tfswa-test-q8-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "wb");
	rc = model_write_as(&m, f, dt);
	fclose(f);
	struct model back;
	int rc2 = rc ? -1 : model_load(&back, path);
	if (ok(rc == 0, "q8 model written") && ok(rc2 == 0, "read back %s", rc2 ? tf_strerror() : "")) {
		int differ = 0;
		for (int i = 0; i < m.nspecs; i++) {
			const struct param_spec *s = &m.specs[i];
			if (dt[i] != DT_I8) {
				differ += memcmp(back.params + s->offset, m.params + s->offset, s->numel * sizeof(float)) != 0;
				continue;
			}
			differ += memcmp(back.q8 + s->offset, m.q8 + s->offset, s->numel) != 0;
			differ += memcmp(back.q8_scale[i], m.q8_scale[i], (size_t)s->shape[model_out_axis(s)] * sizeof(float)) != 0;
			size_t inner = 1, outs = (size_t)s->shape[model_out_axis(s)];
			for (int d = model_out_axis(s) + 1; d < s->ndim; d++)
				inner *= (size_t)s->shape[d];
			for (size_t k = 0; k < s->numel; k++)
				differ += back.params[s->offset + k] != m.q8[s->offset + k] * m.q8_scale[i][(k / inner) % outs];
		}
		ok(!differ && back.cfg.quantization == QUANT_Q8,
		   "int8 values, scales and f32 tensors read back exactly; params = q x scale (%d differ)", differ);
		rc = quant_plan(&back, QUANT_Q8, q);
		ok(rc < 0 && strstr(tf_strerror(), "already quantised (q8)"), "q8 twice refused: %s", tf_strerror());
		model_free(&back);
	}
	unlink(path);
	free(q), free(dt);
	model_free(&m);
}

/* Writes the golden input [B][2C][H][W] as a spectrogram stream: batch
 * items one after another in time, real parts then imaginary parts. */
static int write_stream(const char *path, const struct unet_config *c, const float *x, int B, int H, int W,
			int n_fft)
{
	FILE *fp = fopen(path, "wb");
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	int C = c->channels, rc = 0;
	float *spec = malloc((size_t)C * H * W * 2 * sizeof *spec);
	frame_set_int(f, "sample_rate", c->sample_rate);
	frame_set_int(f, "n_fft", n_fft);
	frame_set_int(f, "hop", c->hop);
	frame_set_int(f, "channels", C);
	rc |= stream_write_header(w, "spectrogram", f);
	for (int b = 0; b < B; b++) {
		const float *xb = x + (size_t)b * 2 * C * H * W;
		for (int ch = 0; ch < C; ch++)
			for (size_t p = 0; p < (size_t)H * W; p++) {
				spec[((size_t)ch * H * W + p) * 2] = xb[(size_t)ch * H * W + p];
				spec[((size_t)ch * H * W + p) * 2 + 1] = xb[(size_t)(C + ch) * H * W + p];
			}
		struct tensor t = {.dtype = DT_C64, .ndim = 3, .shape = {C, H, W}, .data = spec};
		frame_clear(f);
		rc |= frame_set_tensor(f, &t) || stream_write_frame(w, f);
	}
	frame_clear(f);
	rc |= stream_write_end(w, f) || stream_writer_close(w);
	frame_free(f);
	free(spec);
	fclose(fp);
	return rc;
}

struct worst {
	double max, mean;
	size_t at;
};

static struct worst compare(const float *a, const float *b, size_t n)
{
	struct worst w = {0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		w.mean += d / n;
		if (d > w.max || !isfinite(d))
			w.max = d, w.at = i;
	}
	return w;
}

/* The stage activations of a forward pass (batch item 0): kept by the
 * first run, compared by the next (relative RMS error per stage). */
struct stages {
	float *act[UNET_STAGES];
	size_t n[UNET_STAGES];
	double rel[UNET_STAGES];
	int compare;
};

static void stage_tap(void *ctx, const char *name, int b, const float *x, int H, int W, int C)
{
	struct stages *st = ctx;
	int i = 0;
	while (i < UNET_STAGES - 1 && strcmp(unet_stage_names[i], name))
		i++;
	size_t n = (size_t)H * W * C;
	if (b != 0)
		return;
	if (!st->compare) {
		st->act[i] = malloc(n * sizeof(float));
		memcpy(st->act[i], x, n * sizeof(float));
		st->n[i] = n;
		return;
	}
	double e2 = 0, v2 = 0;
	for (size_t k = 0; k < n && n == st->n[i]; k++) {
		double d = (double)x[k] - st->act[i][k];
		e2 += d * d, v2 += (double)st->act[i][k] * st->act[i][k];
	}
	st->rel[i] = v2 > 0 ? sqrt(e2 / v2) : 0;
}

static int forward_tap(struct model *m, const float *x, int B, int H, int W, float *out, struct stages *st)
{
	struct unet *u = unet_prepare(m);
	int rc = u ? unet_forward(u, x, B, H, W, out, st ? stage_tap : NULL, st) : -1;
	unet_free(u);
	return rc;
}

static int forward(struct model *m, const float *x, int B, int H, int W, float *out)
{
	return forward_tap(m, x, B, H, W, out, NULL);
}

/* One line: the relative RMS error of every stage's output. */
static void print_stages(const char *what, const struct stages *st)
{
	printf("# %s, relative RMS error per stage:", what);
	for (int i = 0; i < UNET_STAGES - 1; i++)
		printf(" %s %.3g", unet_stage_names[i], st->rel[i]);
	printf("\n");
}

/* A model whose int8 layers see the golden case's input: the STFT settings
 * that give H bins, and the whole input as one segment. */
static void fit_to_input(struct model *m, int H)
{
	m->cfg.n_fft = 2 * (H - 1);
	m->cfg.hop = m->cfg.n_fft / 4;
	m->cfg.segment = 0, m->cfg.overlap = 0;
}

static void run_case(const char *dir)
{
	struct model m;
	struct npy in;
	char path[512];
	if (!ok(golden_model_load(&m, dir) == 0, "%s: model", dir))
		return;
	snprintf(path, sizeof path, "%s/input.npy", dir);
	float *x = npy_load_f32(path, &in);
	int B = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3];
	size_t n = (size_t)B * m.cfg.out_channels * H * W;
	float *f32 = malloc(n * sizeof(float)), *q8 = malloc(n * sizeof(float)), *q8s = malloc(n * sizeof(float)),
	      *other = malloc(n * sizeof(float));
	fit_to_input(&m, H);
	struct stages st = {0};
	forward_tap(&m, x, B, H, W, f32, &st);

	/* q8 and q8s from the same model: calibrated on this input's stream */
	char spath[] = "/tmp/tfswa-test-calib-XXXXXX";
	close(mkstemp(spath));
	write_stream(spath, &m.cfg, x, B, H, W, m.cfg.n_fft);
	struct calib_layer *cal = calloc((size_t)m.nspecs, sizeof *cal);
	struct quant_layer *q = calloc((size_t)m.nspecs, sizeof *q);
	const char *paths[1] = {spath};
	int rc = calibrate(&m, paths, 1, cal);
	int bad = 0;
	for (int i = 0; !rc && i < m.nspecs; i++)
		if (model_q8_tensor(&m.specs[i], NULL))
			bad += !(cal[i].clip > 0) || cal[i].clip > cal[i].absmax || cal[i].count <= 0 ||
			       m.act_scale[i] != (cal[i].rel_rms > CALIB_PER_ROW_ABOVE ? 0.0f : (float)(cal[i].clip / 127));
	ok(rc == 0 && !bad, "%s: calibrated: every int8 layer's input seen, clip within (0, max]; scale clip / 127, "
	   "or 0 (per row) where one scale would lose more than %g %% %s", dir, 100 * CALIB_PER_ROW_ABOVE,
	   rc ? tf_strerror() : "");
	/* the same scales with one thread as with several */
	float *first = malloc((size_t)m.nspecs * sizeof *first);
	memcpy(first, m.act_scale, (size_t)m.nspecs * sizeof *first);
	int threads = omp_get_max_threads();
	omp_set_num_threads(1);
	int rc1 = calibrate(&m, paths, 1, cal);
	omp_set_num_threads(threads > 1 ? threads : 2);
	ok(rc1 == 0 && !memcmp(first, m.act_scale, (size_t)m.nspecs * sizeof *first),
	   "%s: calibration gives the same scales on 1 thread as on %d", dir, threads > 1 ? threads : 2);
	free(first);
	rc = quant_plan(&m, QUANT_Q8S, q);
	ok(rc == 0, "%s: q8s plan %s", dir, rc ? tf_strerror() : "");
	m.cfg.quantization = QUANT_Q8;
	st.compare = 1;
	forward_tap(&m, x, B, H, W, q8, &st);
	print_stages("q8", &st);
	double worst = 0;
	for (int i = 0; i < UNET_STAGES - 1; i++)
		worst = st.rel[i] > worst ? st.rel[i] : worst;
	ok(st.rel[0] == 0 && worst > 0 && worst < 0.1,
	   "%s: q8 stage outputs within 10 %% relative RMS of f32 (largest %.3g); the stem, in float, exact",
	   dir, worst);
	/* a q8s model whose scales are all 0 is quantised per row: q8, bit for bit */
	float *kept = malloc((size_t)m.nspecs * sizeof *kept);
	memcpy(kept, m.act_scale, (size_t)m.nspecs * sizeof *kept);
	memset(m.act_scale, 0, (size_t)m.nspecs * sizeof *m.act_scale);
	m.cfg.quantization = QUANT_Q8S;
	forward(&m, x, B, H, W, q8s);
	ok(!memcmp(q8s, q8, n * sizeof *q8), "%s: q8s with every input scale 0 gives q8's masks bit for bit", dir);
	memcpy(m.act_scale, kept, (size_t)m.nspecs * sizeof *kept);
	free(kept);
	forward_tap(&m, x, B, H, W, q8s, &st);
	print_stages("q8s", &st);
	for (int i = 0; i < UNET_STAGES; i++)
		free(st.act[i]);

	/* random weights in ~40 layers: the int8 error compounds; the masks
	 * lie in [0, 1] and are mostly inside (0.01, 0.99) */
	struct worst a = compare(q8, f32, n), b = compare(q8s, f32, n);
	ok(a.max < 0.3 && a.mean < 0.02, "%s: q8 masks vs f32: max %.3g at [%zu] (%.4f vs %.4f), mean %.3g", dir,
	   a.max, a.at, q8[a.at], f32[a.at], a.mean);
	ok(b.max < 0.3 && b.mean < 0.02, "%s: q8s masks vs f32 (calibrated on this input): max %.3g at [%zu] "
	   "(%.4f vs %.4f), mean %.3g", dir, b.max, b.at, q8s[b.at], f32[b.at], b.mean);

	/* calibrated on another stream: random normal spectrogram values */
	float *noise = malloc((size_t)B * m.cfg.in_channels * H * W * sizeof *noise);
	struct rng r;
	rng_seed(&r, 12345);
	for (size_t i = 0; i < (size_t)B * m.cfg.in_channels * H * W; i++)
		noise[i] = (float)rng_normal(&r);
	write_stream(spath, &m.cfg, noise, B, H, W, m.cfg.n_fft);
	m.cfg.quantization = QUANT_NONE;
	rc = calibrate(&m, paths, 1, cal);
	m.cfg.quantization = QUANT_Q8S;
	forward(&m, x, B, H, W, other);
	struct worst c = compare(other, f32, n);
	ok(rc == 0 && c.max < 0.4 && c.mean < 0.03,
	   "%s: q8s masks vs f32 (calibrated on other, random data): max %.3g at [%zu], mean %.3g", dir, c.max,
	   c.at, c.mean);

	/* a stream with another n_fft is refused */
	write_stream(spath, &m.cfg, x, B, H, W, m.cfg.n_fft + 2);
	m.cfg.quantization = QUANT_NONE;
	rc = calibrate(&m, paths, 1, cal);
	ok(rc < 0 && strstr(tf_strerror(), "does not fit the model"), "%s: a stream that does not fit: %s", dir,
	   tf_strerror());
	unlink(spath);
	free(x), free(f32), free(q8), free(q8s), free(other), free(noise), free(cal), free(q);
	model_free(&m);
}

/* tf-train --qat: quant_fake_q8 puts into params exactly the weights a q8
 * model stores (int8 times its channel's scale) and nothing else;
 * quant_fake_restore gives back the float weights bit for bit. */
static void test_fake_quant(void)
{
	struct model m, q;
	tiny_model(&m);
	tiny_model(&q);
	struct quant_layer *layers = calloc((size_t)q.nspecs, sizeof *layers);
	float *orig = malloc(m.nparams * sizeof *orig), *keep = calloc(m.nparams, sizeof *keep);
	memcpy(orig, m.params, m.nparams * sizeof *orig);
	ok(quant_plan(&q, QUANT_Q8, layers) == 0, "q8 plan of the comparison model");
	int rc = quant_fake_q8(&m, keep);
	ok(rc == 0, "quant_fake_q8 %s", rc ? tf_strerror() : "");
	size_t worst_k = 0;
	double worst = 0;
	int changed_float = 0, n8 = 0;
	for (int i = 0; i < m.nspecs; i++) {
		const struct param_spec *s = &m.specs[i];
		if (!model_q8_tensor(s, NULL)) {
			changed_float += memcmp(m.params + s->offset, orig + s->offset, s->numel * sizeof(float)) != 0;
			continue;
		}
		n8++;
		int axis = model_out_axis(s);
		size_t outs = (size_t)s->shape[axis], inner = 1;
		for (int d = axis + 1; d < s->ndim; d++)
			inner *= (size_t)s->shape[d];
		for (size_t k = 0; k < s->numel; k++) {
			float want = (float)q.q8[s->offset + k] * q.q8_scale[i][(k / inner) % outs];
			double d = fabs((double)m.params[s->offset + k] - want);
			if (d > worst)
				worst = d, worst_k = s->offset + k;
		}
	}
	ok(n8 > 0 && worst == 0, "fake-quantised weights = the q8 model's dequantised weights in %d tensors "
	   "(largest difference %g at float %zu)", n8, worst, worst_k);
	ok(changed_float == 0, "tensors q8 keeps in float are untouched (%d changed)", changed_float);
	quant_fake_restore(&m, keep);
	ok(memcmp(m.params, orig, m.nparams * sizeof *orig) == 0, "quant_fake_restore gives the float weights back");
	free(layers), free(orig), free(keep);
	model_free(&m), model_free(&q);
}

int main(void)
{
	test_plan_and_file();
	test_fake_quant();
	run_case("tests/data/golden/tiny-aligned");
	run_case("tests/data/golden/tiny-ragged");
	run_case("tests/data/golden/stereo-4stem");
	return test_done();
}
