/* Weight gradients C += A^T B by our own kernel (see wgrad.h).
 *
 * The fast paths put one operand's columns in the vector lanes (the "v"
 * side) and broadcast the other's (the "u" side): a tile of R u columns x
 * NV vectors of v columns in R x NV accumulators (AVX-512: up to 8 x 2
 * vectors of 16; AVX2: 6 x 2 of 8), so that each row k costs NV loads, R
 * broadcasts and R x NV FMAs, and neither operand is copied. The lanes go
 * along N (C's columns), unless N is narrower than a vector and M is wider
 * than N: then along M, with the sums stored transposed (a layer of 8
 * channels would otherwise leave half of every AVX-512 vector empty). Rows
 * are taken WGRAD_KB at a time, all tiles over one block of rows before
 * the next, so that the block stays in the core's caches. */
#include <math.h>
#include <stddef.h>

#include "cpu.h"
#include "gemm.h"
#include "wgrad.h"

static int min_i(int a, int b)
{
	return a < b ? a : b;
}

void wgrad_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
	for (int k0 = 0; k0 < K; k0 += WGRAD_KB) {
		int k1 = k0 + min_i(WGRAD_KB, K - k0);
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				float s = 0.0f;
				for (int k = k0; k < k1; k++)
					s = fmaf(A[(size_t)k * lda + i], B[(size_t)k * ldb + j], s);
				C[(size_t)i * ldc + j] += s;
			}
	}
}

void wgrad_bias_ref(int M, int K, const float *A, int lda, float *g)
{
	for (int i = 0; i < M; i++) {
		float s = 0.0f;
		for (int k = 0; k < K; k++)
			s += A[(size_t)k * lda + i];
		g[i] += s;
	}
}

#if SIMD_X86
#include <immintrin.h>

/* 64 columns (4 vectors) at a time; the lanes past M masked off. */
static TARGET_AVX512 void bias512(int M, int K, const float *A, int lda, float *g)
{
	for (int i0 = 0; i0 < M; i0 += 64) {
		int w = min_i(64, M - i0);
		__mmask16 m[4];
		__m512 acc[4];
		for (int v = 0; v < 4; v++) {
			int n = w - 16 * v; /* columns in this vector */
			m[v] = n >= 16 ? (__mmask16)0xffff : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
			acc[v] = _mm512_setzero_ps();
		}
		for (int k = 0; k < K; k++) {
			const float *a = A + (size_t)k * lda + i0;
			for (int v = 0; v < 4; v++)
				acc[v] = _mm512_add_ps(acc[v], _mm512_maskz_loadu_ps(m[v], a + 16 * v));
		}
		for (int v = 0; v < 4; v++)
			_mm512_mask_storeu_ps(g + i0 + 16 * v, m[v],
					      _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], g + i0 + 16 * v), acc[v]));
	}
}

/* 32 columns (4 vectors of 8) at a time. */
static TARGET_AVX2 void bias256(int M, int K, const float *A, int lda, float *g)
{
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	for (int i0 = 0; i0 < M; i0 += 32) {
		int w = min_i(32, M - i0);
		__m256i m[4];
		__m256 acc[4];
		for (int v = 0; v < 4; v++) {
			m[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(w - 8 * v), lane);
			acc[v] = _mm256_setzero_ps();
		}
		for (int k = 0; k < K; k++) {
			const float *a = A + (size_t)k * lda + i0;
			for (int v = 0; v < 4; v++)
				acc[v] = _mm256_add_ps(acc[v], _mm256_maskload_ps(a + 8 * v, m[v]));
		}
		for (int v = 0; v < 4 && 8 * v < w; v++) {
			float t[8] __attribute__((aligned(32)));
			_mm256_store_ps(t, acc[v]);
			for (int l = 0; l < 8 && 8 * v + l < w; l++)
				g[i0 + 8 * v + l] += t[l];
		}
	}
}

/* One tile over kn rows: U at the tile's first u column (rows ldu apart),
 * V at its first v column (rows ldv apart), rest lanes of the last vector
 * used; R and NV are constants after inlining (one function per pair,
 * below), so that the accumulators stay in registers. The sums are added
 * to C[u][v] (rows ldc apart), or to C[v][u] when transposed. */
static inline __attribute__((always_inline)) TARGET_AVX512 void
tile512(int kn, const float *U, int ldu, const float *V, int ldv, float *C, int ldc, int transposed, int rest,
	const int R, const int NV)
{
	const __mmask16 last = rest >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rest) - 1);
	__m512 acc[16];
#pragma GCC unroll 16
	for (int i = 0; i < R * NV; i++)
		acc[i] = _mm512_setzero_ps();
	for (int k = 0; k < kn; k++) {
		const float *u = U + (size_t)k * ldu, *vr = V + (size_t)k * ldv;
		__m512 v[2];
#pragma GCC unroll 2
		for (int g = 0; g < NV; g++)
			v[g] = g == NV - 1 ? _mm512_maskz_loadu_ps(last, vr + 16 * g) : _mm512_loadu_ps(vr + 16 * g);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			__m512 a = _mm512_set1_ps(u[r]);
#pragma GCC unroll 2
			for (int g = 0; g < NV; g++)
				acc[r * NV + g] = _mm512_fmadd_ps(a, v[g], acc[r * NV + g]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
#pragma GCC unroll 2
		for (int g = 0; g < NV; g++) {
			__mmask16 m = g == NV - 1 ? last : 0xffff;
			if (!transposed) {
				float *c = C + (size_t)r * ldc + 16 * g;
				__m512 s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), acc[r * NV + g]);
				if (m == 0xffff) /* AMD's masked stores are slow: only where needed */
					_mm512_storeu_ps(c, s);
				else
					_mm512_mask_storeu_ps(c, m, s);
			} else {
				float t[16] __attribute__((aligned(64)));
				_mm512_store_ps(t, acc[r * NV + g]);
				for (int l = 0; l < (g == NV - 1 ? rest : 16); l++)
					C[(size_t)(16 * g + l) * ldc + r] += t[l];
			}
		}
}

/* The AVX2 path: 8 lanes per vector, tiles of up to 6 x 2 (12
 * accumulators of 16 registers). */
static inline __attribute__((always_inline)) TARGET_AVX2 void
tile256(int kn, const float *U, int ldu, const float *V, int ldv, float *C, int ldc, int transposed, int rest,
	const int R, const int NV)
{
	const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	__m256 acc[12];
#pragma GCC unroll 12
	for (int i = 0; i < R * NV; i++)
		acc[i] = _mm256_setzero_ps();
	for (int k = 0; k < kn; k++) {
		const float *u = U + (size_t)k * ldu, *vr = V + (size_t)k * ldv;
		__m256 v[2];
#pragma GCC unroll 2
		for (int g = 0; g < NV; g++)
			v[g] = g == NV - 1 && rest < 8 ? _mm256_maskload_ps(vr + 8 * g, last) : _mm256_loadu_ps(vr + 8 * g);
#pragma GCC unroll 6
		for (int r = 0; r < R; r++) {
			__m256 a = _mm256_broadcast_ss(u + r);
#pragma GCC unroll 2
			for (int g = 0; g < NV; g++)
				acc[r * NV + g] = _mm256_fmadd_ps(a, v[g], acc[r * NV + g]);
		}
	}
#pragma GCC unroll 6
	for (int r = 0; r < R; r++)
#pragma GCC unroll 2
		for (int g = 0; g < NV; g++) {
			int n = g == NV - 1 ? rest : 8;
			float t[8] __attribute__((aligned(32)));
			if (!transposed && n == 8) {
				float *c = C + (size_t)r * ldc + 8 * g;
				_mm256_storeu_ps(c, _mm256_add_ps(_mm256_loadu_ps(c), acc[r * NV + g]));
				continue;
			}
			_mm256_store_ps(t, acc[r * NV + g]);
			for (int l = 0; l < n; l++)
				if (transposed)
					C[(size_t)(8 * g + l) * ldc + r] += t[l];
				else
					C[(size_t)r * ldc + 8 * g + l] += t[l];
		}
}

#define TILE_FN(isa, target, r, g)                                                                      \
	static target void isa##_##r##x##g(int kn, const float *U, int ldu, const float *V, int ldv, float *C, \
					    int ldc, int transposed, int rest)                              \
	{                                                                                              \
		isa(kn, U, ldu, V, ldv, C, ldc, transposed, rest, r, g);                               \
	}
#define TILE_FNS(isa, target, r) TILE_FN(isa, target, r, 1) TILE_FN(isa, target, r, 2)
TILE_FNS(tile512, TARGET_AVX512, 1) TILE_FNS(tile512, TARGET_AVX512, 2) TILE_FNS(tile512, TARGET_AVX512, 3)
TILE_FNS(tile512, TARGET_AVX512, 4) TILE_FNS(tile512, TARGET_AVX512, 5) TILE_FNS(tile512, TARGET_AVX512, 6)
TILE_FNS(tile512, TARGET_AVX512, 7) TILE_FNS(tile512, TARGET_AVX512, 8)
TILE_FNS(tile256, TARGET_AVX2, 1) TILE_FNS(tile256, TARGET_AVX2, 2) TILE_FNS(tile256, TARGET_AVX2, 3)
TILE_FNS(tile256, TARGET_AVX2, 4) TILE_FNS(tile256, TARGET_AVX2, 5) TILE_FNS(tile256, TARGET_AVX2, 6)
#undef TILE_FNS
#undef TILE_FN

typedef void tile_fn(int kn, const float *U, int ldu, const float *V, int ldv, float *C, int ldc, int transposed,
		     int rest);

/* A path's tiles: [R - 1][NV - 1], R up to rmax, NV up to 2 vectors of
 * lanes floats. */
struct tiles {
	int lanes, rmax;
	tile_fn *fn[8][2];
};

static const struct tiles tiles512 = {16, 8, {{tile512_1x1, tile512_1x2}, {tile512_2x1, tile512_2x2},
					      {tile512_3x1, tile512_3x2}, {tile512_4x1, tile512_4x2},
					      {tile512_5x1, tile512_5x2}, {tile512_6x1, tile512_6x2},
					      {tile512_7x1, tile512_7x2}, {tile512_8x1, tile512_8x2}}};
static const struct tiles tiles256 = {8, 6, {{tile256_1x1, tile256_1x2}, {tile256_2x1, tile256_2x2},
					     {tile256_3x1, tile256_3x2}, {tile256_4x1, tile256_4x2},
					     {tile256_5x1, tile256_5x2}, {tile256_6x1, tile256_6x2}}};

/* The tiles over C, a block of WGRAD_KB rows at a time. */
static void wgrad_tiles(const struct tiles *t, int M, int N, int K, const float *A, int lda, const float *B,
			int ldb, float *C, int ldc)
{
	const int transposed = N < t->lanes && M > N, panel = 2 * t->lanes;
	const float *U = transposed ? B : A, *V = transposed ? A : B;
	const int ldu = transposed ? ldb : lda, ldv = transposed ? lda : ldb;
	const int nu = transposed ? N : M, nv = transposed ? M : N;
	for (int k0 = 0; k0 < K; k0 += WGRAD_KB) {
		int kn = min_i(WGRAD_KB, K - k0);
		const float *Uk = U + (size_t)k0 * ldu, *Vk = V + (size_t)k0 * ldv;
		for (int v0 = 0; v0 < nv; v0 += panel) {
			int w = min_i(panel, nv - v0), NV = w > t->lanes ? 2 : 1, rest = w - t->lanes * (NV - 1);
			for (int u0 = 0; u0 < nu; u0 += t->rmax) {
				int R = min_i(t->rmax, nu - u0);
				float *c = transposed ? C + (size_t)v0 * ldc + u0 : C + (size_t)u0 * ldc + v0;
				t->fn[R - 1][NV - 1](kn, Uk + u0, ldu, Vk + v0, ldv, c, ldc, transposed, rest);
			}
		}
	}
}
#endif

int wgrad_path(enum simd_path path, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
	       float *C, int ldc)
{
	if (!simd_path_supported(path))
		return -1;
#if SIMD_X86
	if (path == SIMD_AVX512)
		return wgrad_tiles(&tiles512, M, N, K, A, lda, B, ldb, C, ldc), 0;
	if (path == SIMD_AVX2)
		return wgrad_tiles(&tiles256, M, N, K, A, lda, B, ldb, C, ldc), 0;
#endif
	if (path == SIMD_PLAIN)
		return wgrad_ref(M, N, K, A, lda, B, ldb, C, ldc), 0;
	return -1;
}

int wgrad_bias_path(enum simd_path path, int M, int K, const float *A, int lda, float *g)
{
	if (!simd_path_supported(path))
		return -1;
#if SIMD_X86
	if (path == SIMD_AVX512)
		return bias512(M, K, A, lda, g), 0;
	if (path == SIMD_AVX2)
		return bias256(M, K, A, lda, g), 0;
#endif
	wgrad_bias_ref(M, K, A, lda, g);
	return 0;
}

void wgrad_bias(int M, int K, const float *A, int lda, float *g)
{
	wgrad_bias_path(simd_best_path(), M, K, A, lda, g);
}

void wgrad(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
	enum simd_path path = simd_best_path();
	if (path == SIMD_PLAIN)
		gemm_tn(M, N, K, A, lda, B, ldb, 1.0f, C, ldc);
	else
		wgrad_path(path, M, N, K, A, lda, B, ldb, C, ldc);
}
