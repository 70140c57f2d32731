/* smallgemm (float products of our own): the AVX-512 and AVX2 paths
 * against their plain twin, and both against BLIS (gemm_nt, then bias_add_forward), bit for
 * bit, over every N up to 72 and wider ones in panels up to
 * SMALLGEMM_MAX_N, odd K and row counts (tails of
 * every block size), padded strides, with and without accumulation and
 * bias; and the plain twin against a double-precision sum. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "kernels/smallgemm.h"
#include "test.h"

static float unit(void) /* [-1, 1) */
{
	return (float)(uint32_t)(rng_next(fixed_rng()) >> 32) / 2147483648.0f - 1.0f;
}

/* Differing floats between a and b (rows x N, strides ld); the first
 * difference into *where. */
static long differ(const float *a, const float *b, int rows, int N, int ld, long *where)
{
	long bad = 0;
	for (int i = 0; i < rows; i++)
		for (int n = 0; n < N; n++) {
			size_t at = (size_t)i * ld + n;
			if (memcmp(&a[at], &b[at], sizeof *a)) {
				if (!bad)
					*where = (long)at;
				bad++;
			}
		}
	return bad;
}

/* One shape: adds up mismatches of each fast path (bad_fast[path]) and of
 * BLIS against the plain twin, and the worst error of the twin against a
 * double sum relative to sum |a w|. */
static void one(int M, int N, int K, int acc, int with_bias, long bad_fast[3], long *bad_blis, double *rel,
		double *rel_blis, int ran_fast[3])
{
	int lda = K + 3, ldw = K + 1, ldc = N + 5;
	float *A = malloc((size_t)M * lda * sizeof *A), *W = malloc((size_t)N * ldw * sizeof *W);
	float *Wt = malloc((size_t)K * N * sizeof *Wt), *bias = malloc((size_t)N * sizeof *bias);
	float *C0 = malloc((size_t)M * ldc * sizeof *C0), *want = malloc((size_t)M * ldc * sizeof *want);
	float *got = malloc((size_t)M * ldc * sizeof *got);
	for (size_t i = 0; i < (size_t)M * lda; i++)
		A[i] = unit();
	for (size_t i = 0; i < (size_t)N * ldw; i++)
		W[i] = unit();
	for (int n = 0; n < N; n++)
		bias[n] = unit();
	for (size_t i = 0; i < (size_t)M * ldc; i++)
		C0[i] = unit();
	smallgemm_pack(Wt, W, ldw, N, K);
	const float *b = with_bias ? bias : NULL;
	long where = 0;

	memcpy(want, C0, (size_t)M * ldc * sizeof *want);
	smallgemm_path(0, M, N, K, A, lda, Wt, b, acc, want, ldc);
	/* the padding between rows is left alone */
	for (int i = 0; i < M; i++)
		for (int n = N; n < ldc && (i + 1 < M || n < N); n++)
			bad_fast[SIMD_PLAIN] +=
				memcmp(&want[(size_t)i * ldc + n], &C0[(size_t)i * ldc + n], sizeof *want) != 0;

	for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++) {
		memcpy(got, C0, (size_t)M * ldc * sizeof *got);
		if (smallgemm_path(path, M, N, K, A, lda, Wt, b, acc, got, ldc))
			continue;
		ran_fast[path] = 1;
		bad_fast[path] += differ(got, want, M, N, ldc, &where);
		for (int i = 0; i < M; i++)
			for (int n = N; n < ldc && i + 1 < M; n++)
				bad_fast[path] +=
					memcmp(&got[(size_t)i * ldc + n], &C0[(size_t)i * ldc + n], sizeof *got) != 0;
	}

	memcpy(got, C0, (size_t)M * ldc * sizeof *got);
	gemm_nt(M, N, K, A, lda, W, ldw, acc ? 1.0f : 0.0f, got, ldc);
	if (with_bias)
		for (int i = 0; i < M; i++)
			bias_add_forward(got + (size_t)i * ldc, bias, 1, N);
	*bad_blis += differ(got, want, M, N, ldc, &where);

	for (int i = 0; i < M; i++)
		for (int n = 0; n < N; n++) {
			double s = 0, mag = 0;
			for (int k = 0; k < K; k++) {
				double p = (double)A[(size_t)i * lda + k] * W[(size_t)n * ldw + k];
				s += p, mag += fabs(p);
			}
			double c = acc ? C0[(size_t)i * ldc + n] : 0.0;
			double bb = with_bias ? bias[n] : 0.0;
			double den = mag + fabs(c) + fabs(bb) + 1e-30;
			double e = fabs(want[(size_t)i * ldc + n] - (s + c + bb)) / den;
			double eb = fabs(got[(size_t)i * ldc + n] - (s + c + bb)) / den;
			*rel = e > *rel ? e : *rel;
			*rel_blis = eb > *rel_blis ? eb : *rel_blis;
		}
	free(A), free(W), free(Wt), free(bias), free(C0), free(want), free(got);
}

int main(void)
{
	static const int Ks[] = {1, 3, 8, 16, 24, 32, 64, 72, 196};
	static const int Ms[] = {1, 5, 13, 37};
	long bad_fast[3] = {0}, bad_blis = 0;
	double rel = 0, rel_blis = 0;
	int ran_fast[3] = {0}, shapes = 0;
	gemm_init();
	static const int wide[] = {96, 100, 128, 131, 192, 256, 384, 509, SMALLGEMM_MAX_N};
	for (int ni = 0; ni < 72 + (int)(sizeof wide / sizeof *wide); ni++)
		for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
			for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++) {
				int N = ni < 72 ? ni + 1 : wide[ni - 72], K = Ks[ki], M = Ms[mi] + N % 7;
				if (((N > 24 && N % 8 != 0 && N % 8 != 3) || N > 72) && ki % 2)
					continue; /* fewer of the big shapes: the test stays quick */
				one(M, N, K, (N + (int)ki) % 2, (N + (int)mi) % 3 != 0, bad_fast, &bad_blis, &rel,
				    &rel_blis, ran_fast);
				shapes++;
			}
	ok(bad_fast[SIMD_PLAIN] == 0, "plain twin leaves the padding between rows alone");
		for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++)
		if (ran_fast[path])
			ok(bad_fast[path] == 0, "%s path equals the plain twin bit for bit over %d shapes (%ld differ)",
			   simd_path_name(path), shapes, bad_fast[path]);
		else
			printf("# [this CPU cannot run the %s path: not compared]\n", simd_path_name(path));
	/* BLIS's AVX-512 kernels sum one FMA per k in increasing k, as
	 * smallgemm does: there the two must agree bit for bit, so that the
	 * network's output does not depend on which one runs a product. Its
	 * AVX2 "sup" kernels reduce k across lanes: there BLIS is held to a
	 * double sum, and the network takes smallgemm's sums. */
	if (ran_fast[SIMD_AVX512])
		ok(bad_blis == 0, "BLIS (gemm_nt, bias_add_forward) equals the plain twin bit for bit (%ld differ)",
		   bad_blis);
	else
		ok(rel_blis < 1e-6, "BLIS (gemm_nt, bias_add_forward) against a double sum: largest error %.3g of "
		   "sum |a w| [no AVX-512 on this CPU; BLIS here (%s) sums in its own order: %ld of "
		   "the plain twin's outputs differ]", rel_blis, gemm_describe(), bad_blis);
	ok(rel < 1e-6, "plain twin against a double sum: largest error %.3g of sum |a w|", rel);
	/* M = 0 writes nothing */
	float c = 7.0f, a = 1.0f, wt = 2.0f;
	smallgemm(0, 1, 1, &a, 1, &wt, NULL, 0, &c, 1);
	ok(c == 7.0f, "no rows: C untouched");
	return test_failed != 0;
}
