/* wgrad (weight gradients C += A^T B): the AVX-512 and AVX2 paths against
 * their plain twin bit for bit, over all M, N up to 40 (each with several
 * row counts around the block of WGRAD_KB rows) and the network's wider
 * channel counts, with padded and with tight strides; operands allocated
 * to their last element (for the sanitizer builds) and C followed by a
 * guard row and padded between rows, both left alone; the twin and BLIS's
 * gemm_tn against a double-precision sum. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/wgrad.h"
#include "test.h"

static float unit(void) /* [-1, 1) */
{
	return (float)(uint32_t)(rng_next(fixed_rng()) >> 32) / 2147483648.0f - 1.0f;
}

struct tally {
	long bad[3], padding; /* each fast path's floats unlike the twin's; padding touched */
	int ran[3], shapes;   /* shapes each fast path ran, shapes in all */
	char where[3][160];   /* each path's first mismatch */
	double rel, rel_blis; /* worst |twin - exact| and |BLIS - exact| / (sum |a b| + |c|) */
};

/* One shape; tight: rows of A, B and C without padding. */
static void one(int M, int N, int K, int tight, struct tally *t)
{
	int lda = tight ? M : M + 3, ldb = tight ? N : N + 1, ldc = tight ? N : N + 5;
	size_t na = K ? (size_t)(K - 1) * lda + M : 1, nb = K ? (size_t)(K - 1) * ldb + N : 1;
	size_t nc = (size_t)(M + 1) * ldc; /* and a guard row */
	float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
	float *C0 = malloc(nc * sizeof *C0), *want = malloc(nc * sizeof *want), *got = malloc(nc * sizeof *got);
	for (size_t i = 0; i < na; i++)
		A[i] = unit();
	for (size_t i = 0; i < nb; i++)
		B[i] = unit();
	for (size_t i = 0; i < nc; i++)
		C0[i] = unit();
	t->shapes++;
	memcpy(want, C0, nc * sizeof *want);
	wgrad_path(SIMD_PLAIN, M, N, K, A, lda, B, ldb, want, ldc);
	for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++) {
		memcpy(got, C0, nc * sizeof *got);
		if (wgrad_path(path, M, N, K, A, lda, B, ldb, got, ldc) != 0)
			continue;
		t->ran[path]++;
		for (int i = 0; i <= M; i++)
			for (int j = 0; j < ldc; j++) {
				size_t at = (size_t)i * ldc + j;
				if (i == M || j >= N) {
					t->padding += memcmp(&got[at], &C0[at], sizeof *got) != 0;
				} else if (memcmp(&got[at], &want[at], sizeof *got)) {
					if (!t->bad[path])
						snprintf(t->where[path], sizeof t->where[path],
							 "M %d N %d K %d at (%d, %d): %.9g, twin %.9g", M, N, K, i, j,
							 got[at], want[at]);
					t->bad[path]++;
				}
			}
	}
	memcpy(got, C0, nc * sizeof *got);
	gemm_tn(M, N, K, A, lda, B, ldb, 1.0f, got, ldc);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = C0[(size_t)i * ldc + j], mag = fabs(s);
			for (int k = 0; k < K; k++) {
				double p = (double)A[(size_t)k * lda + i] * B[(size_t)k * ldb + j];
				s += p, mag += fabs(p);
			}
			double e = fabs(want[(size_t)i * ldc + j] - s) / (mag + 1e-30);
			double eb = fabs(got[(size_t)i * ldc + j] - s) / (mag + 1e-30);
			t->rel = e > t->rel ? e : t->rel;
			t->rel_blis = eb > t->rel_blis ? eb : t->rel_blis;
		}
	free(A), free(B), free(C0), free(want), free(got);
}

/* wgrad_bias: every path against the twin, bit for bit, and the element
 * after g left alone; returns the floats that differ. */
static long bias_one(int M, int K, int lda, int *ran)
{
	size_t na = K ? (size_t)(K - 1) * lda + M : 1;
	float *A = malloc(na * sizeof *A), *want = malloc((M + 1) * sizeof *want), *got = malloc((M + 1) * sizeof *got);
	for (size_t i = 0; i < na; i++)
		A[i] = unit();
	for (int i = 0; i <= M; i++)
		want[i] = unit();
	long bad = 0;
	float g0[1100];
	memcpy(g0, want, (M + 1) * sizeof *want);
	wgrad_bias_path(SIMD_PLAIN, M, K, A, lda, want);
	for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++) {
		memcpy(got, g0, (M + 1) * sizeof *got);
		if (wgrad_bias_path(path, M, K, A, lda, got) != 0)
			continue;
		ran[path]++;
		bad += memcmp(got, want, M * sizeof *got) != 0;
		bad += memcmp(&got[M], &g0[M], sizeof *got) != 0;
	}
	free(A), free(want), free(got);
	return bad;
}

int main(void)
{
	static const int Ks[] = {0, 1, 7, 127, 128, 129, 300};
	static const int wide[] = {48, 64, 96, 128, 192, 256};
	struct tally t = {0};
	gemm_init();
	for (int M = 1; M <= 40; M++)
		for (int N = 1; N <= 40; N++)
			for (int i = 0; i < 3; i++) /* three of the row counts, each (M, N) others */
				one(M, N, Ks[(M + 3 * N + 5 * i) % 7], (M + N + i) % 2, &t);
	for (size_t a = 0; a < sizeof wide / sizeof *wide; a++)
		for (size_t b = 0; b < sizeof wide / sizeof *wide; b++)
			one(wide[a], wide[b], 300, (a + b) % 2, &t);
	for (size_t a = 0; a < sizeof wide / sizeof *wide; a++) {
		one(8, wide[a], 1000, 0, &t), one(wide[a], 8, 1000, 1, &t);
		one(24, wide[a], 129, 1, &t), one(wide[a], 24, 129, 0, &t);
	}
	for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++)
		if (simd_path_supported(path))
			ok(t.ran[path] == t.shapes && t.bad[path] == 0,
			   "wgrad %s = plain twin bit for bit, %d shapes (%ld differ%s%s)", simd_path_name(path),
			   t.ran[path], t.bad[path], t.bad[path] ? "; first: " : "", t.where[path]);
		else
			printf("# no %s here: that path was not run\n", simd_path_name(path));
	ok(t.padding == 0, "wgrad leaves the padding between C's rows and the row after C alone (%ld touched)",
	   t.padding);
	long bias_bad = 0;
	int bias_ran[3] = {0}, bias_shapes = 0;
	static const int bias_M[] = {256, 512, 1024};
	for (int M = 1; M <= 70 + 3; M++)
		for (int i = 0; i < 2; i++, bias_shapes++) {
			int m = M <= 70 ? M : bias_M[M - 71];
			bias_bad += bias_one(m, Ks[(M + 3 * i) % 7], i ? m : m + 5, bias_ran);
		}
	for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++)
		if (simd_path_supported(path))
			ok(bias_ran[path] == bias_shapes && bias_bad == 0,
			   "wgrad_bias %s = plain twin bit for bit, g's next element untouched (%d shapes, %ld bad)",
			   simd_path_name(path), bias_ran[path], bias_bad);
	ok(t.rel < 2e-6, "wgrad's twin within 2e-6 of a double sum, relative to sum |a b| (worst %.3g)", t.rel);
	ok(t.rel_blis < 2e-6, "gemm_tn (BLIS) within 2e-6 of a double sum (worst %.3g)", t.rel_blis);
	return test_done();
}
