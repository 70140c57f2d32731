/* Float products by our own kernel (see smallgemm.h).
 *
 * The fast paths put 8 output columns in the lanes of a 256-bit vector: a
 * block of R rows x NG groups of 8 columns is R x NG accumulators, and for
 * each k one load of the packed weight row per group and one broadcast of
 * A[r][k] per row feed R x NG FMAs. 256-bit rather than 512-bit vectors
 * because the narrowest layers have N = 8, and because on Zen 4 two 256-bit
 * FMAs issue per cycle, the same rate as one 512-bit one.
 *
 * Two paths of the same arithmetic: AVX-512 (VL, for the masked loads and
 * stores of a last partial group; R chosen so that the accumulators take
 * at most 24 of the 32 registers, panels of 64 columns) and AVX2 with FMA
 * (16 registers: at most 12 accumulators, panels of 32 columns, and the
 * last partial group through vector masks). Both give the plain twin's
 * bits.
 */
#include <math.h>
#include <stddef.h>

#include "cpu.h"
#include "smallgemm.h"

#define PANEL 64 /* columns per pass of the fast path: 8 groups of 8 */

void smallgemm_pack(float *Wt, const float *W, int ldw, int N, int K)
{
	for (int k = 0; k < K; k++)
		for (int n = 0; n < N; n++)
			Wt[(size_t)k * N + n] = W[(size_t)n * ldw + k];
}

void smallgemm_ref(int M, int N, int K, const float *A, int lda, const float *Wt, const float *bias,
		   int accumulate, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int n = 0; n < N; n++) {
			float s = 0.0f;
			for (int k = 0; k < K; k++)
				s = fmaf(A[(size_t)i * lda + k], Wt[(size_t)k * N + n], s);
			float *c = &C[(size_t)i * ldc + n];
			if (accumulate)
				s = *c + s;
			if (bias)
				s = s + bias[n];
			*c = s;
		}
}

#ifdef __x86_64__
#include <immintrin.h>

/* Rows i < R of C (one block): R and NG are constants after inlining, so
 * the accumulators live in registers. last masks the columns of the last
 * group (0xff when N is a multiple of 8). */
static inline __attribute__((always_inline)) TARGET_AVX512 void
block(int K, const float *A, int lda, const float *Wt, int ldt, const float *bias, int accumulate, float *C,
      int ldc, const int R, const int NG, __mmask8 last)
{
	__m256 acc[24];
#pragma GCC unroll 24
	for (int i = 0; i < R * NG; i++)
		acc[i] = _mm256_setzero_ps();
	const float *w = Wt;
	for (int k = 0; k < K; k++, w += ldt) {
		__m256 wv[8];
#pragma GCC unroll 8
		for (int g = 0; g < NG; g++)
			wv[g] = g == NG - 1 ? _mm256_maskz_loadu_ps(last, w + 8 * g) : _mm256_loadu_ps(w + 8 * g);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			__m256 a = _mm256_set1_ps(A[(size_t)r * lda + k]);
#pragma GCC unroll 8
			for (int g = 0; g < NG; g++)
				acc[r * NG + g] = _mm256_fmadd_ps(a, wv[g], acc[r * NG + g]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
#pragma GCC unroll 8
		for (int g = 0; g < NG; g++) {
			__mmask8 m = g == NG - 1 ? last : 0xff;
			float *c = C + (size_t)r * ldc + 8 * g;
			__m256 s = acc[r * NG + g];
			if (accumulate)
				s = _mm256_add_ps(_mm256_maskz_loadu_ps(m, c), s);
			if (bias)
				s = _mm256_add_ps(s, _mm256_maskz_loadu_ps(m, bias + 8 * g));
			_mm256_mask_storeu_ps(c, m, s);
		}
}

/* block() for AVX2: the same sums, with the partial group's columns masked
 * by a vector (vmaskmovps) and only when there is one, since AMD's masked
 * stores are slow. */
static inline __attribute__((always_inline)) TARGET_AVX2 void
block2(int K, const float *A, int lda, const float *Wt, int ldt, const float *bias, int accumulate, float *C,
       int ldc, const int R, const int NG, int partial, __m256i last)
{
	__m256 acc[12];
#pragma GCC unroll 12
	for (int i = 0; i < R * NG; i++)
		acc[i] = _mm256_setzero_ps();
	const float *w = Wt;
	for (int k = 0; k < K; k++, w += ldt) {
		__m256 wv[4];
#pragma GCC unroll 4
		for (int g = 0; g < NG; g++)
			wv[g] = partial && g == NG - 1 ? _mm256_maskload_ps(w + 8 * g, last) : _mm256_loadu_ps(w + 8 * g);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			__m256 a = _mm256_set1_ps(A[(size_t)r * lda + k]);
#pragma GCC unroll 4
			for (int g = 0; g < NG; g++)
				acc[r * NG + g] = _mm256_fmadd_ps(a, wv[g], acc[r * NG + g]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int g = 0; g < NG; g++) {
			int masked = partial && g == NG - 1;
			float *c = C + (size_t)r * ldc + 8 * g;
			__m256 s = acc[r * NG + g];
			if (accumulate)
				s = _mm256_add_ps(masked ? _mm256_maskload_ps(c, last) : _mm256_loadu_ps(c), s);
			if (bias)
				s = _mm256_add_ps(s, masked ? _mm256_maskload_ps(bias + 8 * g, last)
							    : _mm256_loadu_ps(bias + 8 * g));
			if (masked)
				_mm256_maskstore_ps(c, last, s);
			else
				_mm256_storeu_ps(c, s);
		}
}

#define SMALL2(NG, R)                                                                                               \
	static TARGET_AVX2 void small2_##NG(int M, int N, int K, const float *A, int lda, const float *Wt, int ldt, \
				     const float *bias, int accumulate, float *C, int ldc)                          \
	{                                                                                                           \
		int partial = N % 8 != 0;                                                                           \
		__m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(N % 8),                                         \
						  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));                       \
		int i = 0;                                                                                          \
		for (; i + R <= M; i += R)                                                                          \
			block2(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc,    \
			       R, NG, partial, last);                                                               \
		for (; i < M; i++)                                                                                  \
			block2(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc,    \
			       1, NG, partial, last);                                                               \
	}
SMALL2(1, 8)
SMALL2(2, 6)
SMALL2(3, 4)
SMALL2(4, 3)

typedef void (*small_fn)(int M, int N, int K, const float *A, int lda, const float *Wt, int ldt,
			 const float *bias, int accumulate, float *C, int ldc);

/* All rows for NG groups: blocks of R rows, then the rest one by one. */
#define SMALL(NG, R)                                                                                                 \
	static TARGET_AVX512 void small_##NG(int M, int N, int K, const float *A, int lda, const float *Wt, int ldt, \
				   const float *bias, int accumulate, float *C, int ldc)                             \
	{                                                                                                            \
		__mmask8 last = (__mmask8)(N % 8 ? (1u << (N % 8)) - 1 : 0xff);                                      \
		int i = 0;                                                                                           \
		for (; i + R <= M; i += R)                                                                           \
			block(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc,      \
			      R, NG, last);                                                                          \
		for (; i < M; i++)                                                                                   \
			block(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc,      \
			      1, NG, last);                                                                          \
	}
SMALL(1, 8)
SMALL(2, 8)
SMALL(3, 8)
SMALL(4, 6)
SMALL(5, 4)
SMALL(6, 4)
SMALL(7, 3)
SMALL(8, 3)

static const small_fn small_by_groups[9] = {NULL,    small_1, small_2, small_3, small_4,
					    small_5, small_6, small_7, small_8};
static const small_fn small2_by_groups[5] = {NULL, small2_1, small2_2, small2_3, small2_4};
#define PANEL2 32 /* columns per pass of the AVX2 path */
#endif

int smallgemm_available(void)
{
	return simd_path_supported(SIMD_AVX2) || simd_path_supported(SIMD_AVX512);
}

const char *smallgemm_kernel_name(void)
{
	return smallgemm_available() ? simd_path_name(simd_best_path()) : NULL;
}

int smallgemm_path(enum simd_path path, int M, int N, int K, const float *A, int lda, const float *Wt, const float *bias,
		   int accumulate, float *C, int ldc)
{
	if (path == SIMD_PLAIN) {
		smallgemm_ref(M, N, K, A, lda, Wt, bias, accumulate, C, ldc);
		return 0;
	}
#ifdef __x86_64__
	if (path != SIMD_PLAIN && simd_path_supported(path) && N >= 1 && N <= SMALLGEMM_MAX_N) {
		int panel = path == SIMD_AVX512 ? PANEL : PANEL2;
		const small_fn *by_groups = path == SIMD_AVX512 ? small_by_groups : small2_by_groups;
		/* panels of up to panel columns, each over all the rows (the rows
		 * of a caller's chunk stay in L1/L2 across panels) */
		for (int n0 = 0; M > 0 && n0 < N; n0 += panel) {
			int nn = N - n0 < panel ? N - n0 : panel;
			by_groups[(nn + 7) / 8](M, nn, K, A, lda, Wt + n0, N, bias ? bias + n0 : NULL, accumulate,
						C + n0, ldc);
		}
		return 0;
	}
#endif
	return -1;
}

void smallgemm(int M, int N, int K, const float *A, int lda, const float *Wt, const float *bias, int accumulate,
	       float *C, int ldc)
{
	if (smallgemm_path(simd_best_path(), M, N, K, A, lda, Wt, bias, accumulate, C, ldc))
		smallgemm_ref(M, N, K, A, lda, Wt, bias, accumulate, C, ldc);
}
