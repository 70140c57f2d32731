/* Streaming attention kernel: the reference against a naive double-precision
 * softmax, then every SIMD path this CPU can run (and the scalar one) against
 * the reference over the network's shapes, with tails, masks, large scores
 * and forced rescaling. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "test.h"

static double uniform(void) /* [0, 1) */
{
	return rng_uniform(fixed_rng());
}

static float normal(double sd)
{
	double u = uniform() + 1e-300, v = uniform();
	return (float)(sd * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Naive: the full score matrix in double, softmax, product with v. */
static void naive(float *out, const float *qkv, int nseq, int L, int heads, int d, float scale,
		  const int *region)
{
	int C = heads * d;
	double *p = malloc((size_t)L * sizeof *p);
	for (int s = 0; s < nseq; s++)
		for (int h = 0; h < heads; h++)
			for (int i = 0; i < L; i++) {
				const float *rows = qkv + (size_t)s * L * 3 * C;
				double m = -INFINITY, sum = 0;
				for (int j = 0; j < L; j++) {
					double sc = 0;
					for (int c = 0; c < d; c++)
						sc += (double)rows[(size_t)i * 3 * C + h * d + c] *
						      rows[(size_t)j * 3 * C + C + h * d + c];
					p[j] = sc * scale;
					if (region && region[s * L + i] != region[s * L + j])
						p[j] = -INFINITY;
					if (p[j] > m)
						m = p[j];
				}
				for (int j = 0; j < L; j++)
					sum += p[j] = exp(p[j] - m);
				for (int c = 0; c < d; c++) {
					double acc = 0;
					for (int j = 0; j < L; j++)
						acc += p[j] * rows[(size_t)j * 3 * C + 2 * C + h * d + c];
					out[((size_t)s * L + i) * C + h * d + c] = (float)(acc / sum);
				}
			}
	free(p);
}

enum mask_kind { NO_MASK, SWIN_MASK, RANDOM_MASK, SELF_ONLY };
static const char *const mask_names[] = {"", " swin-mask", " random-mask", " self-only"};

/* Regions as Swin makes them for a window of L tokens (rows of 8 split
 * 4/2/2 both ways), random ones with a lone token, or all distinct. */
static int *make_region(enum mask_kind kind, int nseq, int L)
{
	int *r;
	if (kind == NO_MASK)
		return NULL;
	r = malloc((size_t)nseq * L * sizeof *r);
	for (int s = 0; s < nseq; s++)
		for (int t = 0; t < L; t++) {
			int v;
			if (kind == SWIN_MASK) {
				int y = t / 8, x = t % 8;
				v = 3 * (y < 4 ? 0 : y < 6 ? 1 : 2) + (x < 4 ? 0 : x < 6 ? 1 : 2);
			} else if (kind == RANDOM_MASK) {
				v = t == L / 2 ? 99 : (int)(uniform() * 3);
			} else {
				v = t;
			}
			r[s * L + t] = v + 1000 * s; /* only equality within a sequence matters */
		}
	return r;
}

static float *make_qkv(int nseq, int L, int C, double sd_qk)
{
	size_t n = (size_t)nseq * L * 3 * C;
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = normal((i % (3 * C)) < (size_t)2 * C ? sd_qk : 1.0);
	return x;
}


/* Runs one path with a misaligned scratch surrounded by guards and an output
 * with a guard after it; checks the guards survive. */
static int run_path(enum simd_path path, float *out, const float *qkv, int nseq, int L,
		    int heads, int d, float scale, const int *region)
{
	size_t ns = attention_scratch_floats(L, d), no = (size_t)nseq * L * heads * d;
	float *buf = malloc((ns + 16) * sizeof *buf);
	int rc, guards = 1;
	for (size_t i = 0; i < ns + 16; i++)
		buf[i] = 12345.0f;
	out[no] = 54321.0f;
	rc = attention_forward_path(path, out, qkv, nseq, L, heads, d, scale, region, buf + 1);
	guards = buf[0] == 12345.0f && buf[ns + 1] == 12345.0f && buf[ns + 15] == 12345.0f &&
		 out[no] == 54321.0f;
	free(buf);
	if (!guards)
		ok(0, "%s: writes outside scratch or out (L %d d %d)", simd_path_name(path), L, d);
	return rc;
}

static void compare_paths(int nseq, int L, int heads, int d, enum mask_kind mk, double sd_qk,
			  double tol, const char *what)
{
	int C = heads * d;
	size_t no = (size_t)nseq * L * C;
	float *qkv = make_qkv(nseq, L, C, sd_qk);
	int *region = make_region(mk, nseq, L);
	float *want = malloc(no * sizeof *want), *got = malloc((no + 1) * sizeof *got);
	float scale = 1.0f / sqrtf((float)d);
	char name[200];
	attention_forward_ref(want, qkv, nseq, L, heads, d, scale, region, NULL);
	for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++) {
		for (size_t i = 0; i < no; i++)
			got[i] = NAN;
		if (run_path(path, got, qkv, nseq, L, heads, d, scale, region)) {
			static int said[3];
			if (!said[path]++)
				printf("# %s path not supported on this CPU: skipped\n", simd_path_name(path));
			continue;
		}
		snprintf(name, sizeof name, "%s %s nseq %d L %d heads %d d %d%s", simd_path_name(path), what,
			 nseq, L, heads, d, mask_names[mk]);
		check_close(name, got, want, no, tol);
	}
	free(qkv), free(region), free(want), free(got);
}

/* Scores that grow (or shrink) steadily along the keys, so that the lazy
 * rescaling fires again and again (or never, with the reference set by the
 * first self-score far above the rest). */
static void rescale_stress(int L, int d, int sign)
{
	int heads = 1, C = d, nseq = 1;
	size_t no = (size_t)L * C;
	float *qkv = malloc((size_t)L * 3 * C * sizeof *qkv);
	float *want = malloc(no * sizeof *want), *got = malloc((no + 1) * sizeof *got);
	char name[160];
	for (int t = 0; t < L; t++)
		for (int c = 0; c < d; c++) {
			qkv[(size_t)t * 3 * C + c] = 1.0f + 0.01f * (float)((t + c) % 7);
			qkv[(size_t)t * 3 * C + C + c] = sign * 0.35f * (float)t / (float)d * sqrtf((float)d);
			qkv[(size_t)t * 3 * C + 2 * C + c] = normal(1.0);
		}
	attention_forward_ref(want, qkv, nseq, L, heads, d, 1.0f / sqrtf((float)d), NULL, NULL);
	for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++) {
		if (run_path(path, got, qkv, nseq, L, heads, d, 1.0f / sqrtf((float)d), NULL))
			continue;
		snprintf(name, sizeof name, "%s rescale stress %s L %d d %d", simd_path_name(path),
			 sign > 0 ? "rising" : "falling", L, d);
		check_close(name, got, want, no, 2e-5);
	}
	free(qkv), free(want), free(got);
}

int main(void)
{
	printf("# attention_forward runs the %s path here\n", attention_kernel_name());
	ok(!strcmp(attention_kernel_name(), "avx512") || !strcmp(attention_kernel_name(), "avx2") ||
		   !strcmp(attention_kernel_name(), "scalar"),
	   "attention_kernel_name is one of the paths");

	/* the reference against the naive double-precision softmax */
	{
		static const int shapes[][4] = {{2, 1, 2, 4}, {3, 5, 2, 3}, {2, 17, 3, 4}, {1, 37, 2, 8},
						{2, 64, 1, 5}, {1, 29, 2, 33}};
		for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
			for (int mk = NO_MASK; mk <= SELF_ONLY; mk++) {
				int nseq = shapes[k][0], L = shapes[k][1], heads = shapes[k][2], d = shapes[k][3];
				size_t no = (size_t)nseq * L * heads * d;
				float *qkv = make_qkv(nseq, L, heads * d, 1.0);
				int *region = make_region(mk, nseq, L);
				float *a = malloc(no * sizeof *a), *b = malloc(no * sizeof *b);
				naive(a, qkv, nseq, L, heads, d, 0.7f, region);
				attention_forward_ref(b, qkv, nseq, L, heads, d, 0.7f, region, NULL);
				char name[120];
				snprintf(name, sizeof name, "reference vs naive nseq %d L %d heads %d d %d%s",
					 nseq, L, heads, d, mask_names[mk]);
				check_close(name, b, a, no, 1e-6);
				free(qkv), free(region), free(a), free(b);
			}
	}

	/* self-only regions: each token's output is its own v */
	{
		int nseq = 2, L = 21, heads = 3, d = 5, C = heads * d;
		float *qkv = make_qkv(nseq, L, C, 3.0), *got = malloc((nseq * L * C + 1) * sizeof *got);
		float *want = malloc(nseq * L * C * sizeof *want);
		int *region = make_region(SELF_ONLY, nseq, L);
		for (int r = 0; r < nseq * L; r++)
			memcpy(want + r * C, qkv + (size_t)r * 3 * C + 2 * C, C * sizeof *want);
		for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++)
			if (!run_path(path, got, qkv, nseq, L, heads, d, 0.5f, region)) {
				char name[80];
				snprintf(name, sizeof name, "%s self-only mask gives v", simd_path_name(path));
				check_close(name, got, want, (size_t)nseq * L * C, 1e-6);
			}
		free(qkv), free(got), free(want), free(region);
	}

	/* every path against the reference: tails in L, all the network's d,
	 * odd d, masks. Long sequences with one sequence and two heads. */
	{
		static const int Ls[] = {1, 2, 15, 16, 17, 29, 37, 64, 259, 1025};
		static const int ds[] = {4, 8, 16, 32, 3, 5};
		for (size_t a = 0; a < sizeof Ls / sizeof *Ls; a++)
			for (size_t b = 0; b < sizeof ds / sizeof *ds; b++) {
				int L = Ls[a], d = ds[b];
				int nseq = L >= 259 ? 1 : 3, heads = L >= 259 ? 2 : d <= 8 ? 8 : 2;
				if (L == 1025 && d > 8)
					heads = 1;
				compare_paths(nseq, L, heads, d, NO_MASK, 1.0, 1e-5, "N(0,1)");
				if (L == 64 || L == 29 || L == 259 || (L == 1025 && d == 4))
					compare_paths(nseq, L, heads, d, L == 64 ? SWIN_MASK : RANDOM_MASK, 1.0,
						      1e-5, "N(0,1)");
			}
		/* d between the fused and chunked kernels, and beyond 32 */
		compare_paths(2, 45, 2, 9, NO_MASK, 1.0, 1e-5, "N(0,1)");
		compare_paths(2, 45, 2, 12, RANDOM_MASK, 1.0, 1e-5, "N(0,1)");
		compare_paths(2, 70, 1, 40, RANDOM_MASK, 1.0, 1e-5, "N(0,1)");
		compare_paths(2, 64, 2, 7, SWIN_MASK, 1.0, 1e-5, "N(0,1)");
	}

	/* large scores: q, k ~ N(0, 10^2), so rows span hundreds in the
	 * exponent; the float scores themselves carry ~1e-5 relative error */
	{
		static const int cfg[][3] = {{64, 4, 1}, {259, 4, 0}, {37, 8, 1}, {64, 16, 1}, {129, 32, 0}};
		for (size_t k = 0; k < sizeof cfg / sizeof *cfg; k++)
			compare_paths(2, cfg[k][0], 2, cfg[k][1], cfg[k][2] ? SWIN_MASK : NO_MASK, 10.0,
				      2e-4, "N(0,100)");
	}

	rescale_stress(300, 4, 1);
	rescale_stress(300, 4, -1);
	rescale_stress(200, 16, 1);
	rescale_stress(200, 16, -1);
	return test_done();
}
