/* Float products by our own kernel (see smallgemm.h).
 *
 * The fast paths put output columns in the vector lanes: a block of R rows
 * x NG groups of columns is R x NG accumulators, and for each k one load of
 * the packed weight row per group and one broadcast of A[r][k] per row feed
 * R x NG FMAs. Every output is one FMA per k in order, so all paths give
 * the plain twin's bits (and BLIS's). The layouts:
 *  - AVX2: 8 columns per 256-bit vector (block), panels of 32 columns,
 *    at most 12 accumulators in its 16 registers.
 *  - AVX-512, N > 8: 16 columns per 512-bit vector (block16), panels of 64
 *    columns. A Zen 5 core issues two 512-bit FMAs per cycle, as many as
 *    256-bit ones, so full vectors double the work per instruction (Zen 4
 *    issues one 512-bit FMA or two 256-bit ones: the same there).
 *  - AVX-512, N <= 8 (the narrowest layers): two rows per 512-bit vector
 *    (block_pairs), the weight row in both halves.
 */
#include <math.h>
#include <stddef.h>

#include "cpu.h"
#include "gemm.h"
#include "smallgemm.h"


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

/* Rows i < R of C (one block), for both paths (inlined into each path's
 * functions, compiled for its target): R and NG are constants after
 * inlining, so the accumulators live in registers. When N is not a multiple
 * of 8 (partial), the last group's columns are masked by the vector last
 * (vmaskmovps, AVX), and only then, since AMD's masked stores are slow. */
static inline __attribute__((always_inline)) TARGET_AVX2 void
block(int K, const float *A, int lda, const float *Wt, int ldt, const float *bias, int accumulate, float *C,
      int ldc, const int R, const int NG, int partial, __m256i last)
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
			wv[g] = partial && g == NG - 1 ? _mm256_maskload_ps(w + 8 * g, last) : _mm256_loadu_ps(w + 8 * g);
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

typedef void (*small_fn)(int M, int N, int K, const float *A, int lda, const float *Wt, int ldt,
			 const float *bias, int accumulate, float *C, int ldc);

/* One path's function for NG groups: all rows, in blocks of R rows, then
 * the rest one by one. */
#define SMALL(NAME, TARGET, NG, R)                                                                              \
	static TARGET void NAME##_##NG(int M, int N, int K, const float *A, int lda, const float *Wt, int ldt, \
				       const float *bias, int accumulate, float *C, int ldc)                    \
	{                                                                                                       \
		int partial = N % 8 != 0;                                                                       \
		__m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(N % 8),                                     \
						  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));                   \
		int i = 0;                                                                                      \
		for (; i + R <= M; i += R)                                                                      \
			block(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, \
			      R, NG, partial, last);                                                            \
		for (; i < M; i++)                                                                              \
			block(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, \
			      1, NG, partial, last);                                                            \
	}

/* block() with 16 columns in the lanes of a 512-bit vector, for the
 * AVX-512 path where N > 8. When N is not a multiple of 16 the last group's
 * columns are masked by the mask register last (AVX-512 masked loads and
 * stores are cheap). */
static inline __attribute__((always_inline)) TARGET_AVX512 void
block16(int K, const float *A, int lda, const float *Wt, int ldt, const float *bias, int accumulate, float *C,
	int ldc, const int R, const int NG, int partial, __mmask16 last)
{
	__m512 acc[24];
#pragma GCC unroll 24
	for (int i = 0; i < R * NG; i++)
		acc[i] = _mm512_setzero_ps();
	const float *w = Wt;
	for (int k = 0; k < K; k++, w += ldt) {
		__m512 wv[4];
#pragma GCC unroll 4
		for (int g = 0; g < NG; g++)
			wv[g] = partial && g == NG - 1 ? _mm512_maskz_loadu_ps(last, w + 16 * g)
						       : _mm512_loadu_ps(w + 16 * g);
#pragma GCC unroll 12
		for (int r = 0; r < R; r++) {
			__m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);
#pragma GCC unroll 4
			for (int g = 0; g < NG; g++)
				acc[r * NG + g] = _mm512_fmadd_ps(a, wv[g], acc[r * NG + g]);
		}
	}
#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int g = 0; g < NG; g++) {
			__mmask16 m = partial && g == NG - 1 ? last : (__mmask16)0xffff;
			float *c = C + (size_t)r * ldc + 16 * g;
			__m512 s = acc[r * NG + g];
			if (accumulate)
				s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), s);
			if (bias)
				s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, bias + 16 * g));
			_mm512_mask_storeu_ps(c, m, s);
		}
}

#define SMALL16(NG, R)                                                                                          \
	static TARGET_AVX512 void small16_##NG(int M, int N, int K, const float *A, int lda, const float *Wt,   \
					       int ldt, const float *bias, int accumulate, float *C, int ldc)  \
	{                                                                                                       \
		int partial = N % 16 != 0;                                                                      \
		__mmask16 last = (__mmask16)((1u << (N % 16)) - 1);                                             \
		int i = 0;                                                                                      \
		for (; i + R <= M; i += R)                                                                      \
			block16(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, \
				R, NG, partial, last);                                                          \
		for (; i < M; i++)                                                                              \
			block16(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, \
				1, NG, partial, last);                                                          \
	}
SMALL16(1, 12)
SMALL16(2, 8)
SMALL16(3, 6)
SMALL16(4, 5)
static const small_fn small16_by_groups[5] = {NULL, small16_1, small16_2, small16_3, small16_4};

/* block() for N <= 8 on the AVX-512 path: two rows per 512-bit vector (row
 * 2p in the low 8 lanes, row 2p+1 in the high 8), the weight row broadcast
 * to both halves, A[2p][k] and A[2p+1][k] joined by one insert. Half the
 * FMAs of 256-bit vectors for one more shuffle per pair; every output is
 * still one FMA per k in order: the same bits. P pairs of rows. */
static inline __attribute__((always_inline)) TARGET_AVX512 void
block_pairs(int K, const float *A, int lda, const float *Wt, int ldt, const float *bias, int accumulate,
	    float *C, int ldc, const int P, int partial, __mmask8 last)
{
	__m512 acc[12];
#pragma GCC unroll 12
	for (int i = 0; i < P; i++)
		acc[i] = _mm512_setzero_ps();
	const float *w = Wt;
	for (int k = 0; k < K; k++, w += ldt) {
		__m256 w8 = partial ? _mm256_maskz_loadu_ps(last, w) : _mm256_loadu_ps(w);
		__m512 wv = _mm512_insertf32x8(_mm512_castps256_ps512(w8), w8, 1);
#pragma GCC unroll 12
		for (int p = 0; p < P; p++) {
			__m512 a = _mm512_insertf32x8(_mm512_set1_ps(A[(size_t)(2 * p) * lda + k]),
						      _mm256_set1_ps(A[(size_t)(2 * p + 1) * lda + k]), 1);
			acc[p] = _mm512_fmadd_ps(a, wv, acc[p]);
		}
	}
	__m256 b8 = bias ? (partial ? _mm256_maskz_loadu_ps(last, bias) : _mm256_loadu_ps(bias)) : _mm256_setzero_ps();
#pragma GCC unroll 12
	for (int p = 0; p < P; p++)
#pragma GCC unroll 2
		for (int h = 0; h < 2; h++) {
			float *c = C + (size_t)(2 * p + h) * ldc;
			__m256 s = h ? _mm512_extractf32x8_ps(acc[p], 1) : _mm512_castps512_ps256(acc[p]);
			if (accumulate)
				s = _mm256_add_ps(partial ? _mm256_maskz_loadu_ps(last, c) : _mm256_loadu_ps(c), s);
			if (bias)
				s = _mm256_add_ps(s, b8);
			if (partial)
				_mm256_mask_storeu_ps(c, last, s);
			else
				_mm256_storeu_ps(c, s);
		}
}

/* all rows of an N <= 8 panel: blocks of 8 pairs, then pairs, then an odd
 * last row by the 256-bit block */
static TARGET_AVX512 void small_pairs(int M, int N, int K, const float *A, int lda, const float *Wt, int ldt,
				      const float *bias, int accumulate, float *C, int ldc)
{
	int partial = N % 8 != 0;
	__mmask8 last = (__mmask8)((1u << (N % 8)) - 1);
	int i = 0;
	for (; i + 16 <= M; i += 16)
		block_pairs(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, 8,
			    partial, last);
	for (; i + 2 <= M; i += 2)
		block_pairs(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, 1,
			    partial, last);
	if (i < M)
		block(K, A + (size_t)i * lda, lda, Wt, ldt, bias, accumulate, C + (size_t)i * ldc, ldc, 1, 1, partial,
		      _mm256_cmpgt_epi32(_mm256_set1_epi32(N % 8), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}


/* AVX2: 16 registers, up to 12 accumulators (8 for 4 groups: with 12 the
 * 4 weight vectors and the broadcast no longer fit, and the loop spilled),
 * panels of 32 columns */
SMALL(small256, TARGET_AVX2, 1, 8)
SMALL(small256, TARGET_AVX2, 2, 6)
SMALL(small256, TARGET_AVX2, 3, 4)
SMALL(small256, TARGET_AVX2, 4, 2)
static const small_fn small256_by_groups[5] = {NULL, small256_1, small256_2, small256_3, small256_4};
#endif

int smallgemm_available(void)
{
	return simd_path_supported(SIMD_AVX2) || simd_path_supported(SIMD_AVX512);
}

int smallgemm_runs(int N, int K)
{
	return smallgemm_available() && N >= 1 && N <= SMALLGEMM_MAX_N && K <= gemm_single_pass_k();
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
		int panel = path == SIMD_AVX512 ? 64 : 32; /* columns per pass: 4 groups of 16 or 8 */
		/* panels of up to panel columns, each over all the rows (the rows
		 * of a caller's chunk stay in L1/L2 across panels) */
		for (int n0 = 0; M > 0 && n0 < N; n0 += panel) {
			int nn = N - n0 < panel ? N - n0 : panel;
			small_fn f = path != SIMD_AVX512 ? small256_by_groups[(nn + 7) / 8]
				   : nn <= 8	     ? small_pairs
						     : small16_by_groups[(nn + 15) / 16];
			f(M, nn, K, A, lda, Wt + n0, N, bias ? bias + n0 : NULL, accumulate, C + n0, ldc);
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
