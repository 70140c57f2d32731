#include <math.h>
#include <string.h>

#include "cpu.h"
#include "norm.h"

__attribute__((target_clones("avx2", "default")))
static void layernorm_plain(float *out, const float *x, const float *w, const float *b, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C;
		float *o = out + r * (size_t)C;
		float mean = 0, var = 0;
#pragma omp simd reduction(+ : mean)
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= (float)C;
#pragma omp simd reduction(+ : var)
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		float inv = 1.0f / sqrtf(var / (float)C + LN_EPS);
#pragma omp simd
		for (int c = 0; c < C; c++)
			o[c] = (xr[c] - mean) * inv * w[c] + b[c];
	}
}

#ifdef __x86_64__
#include "rows16.h"
#define TGT512 __attribute__((target("avx512f,fma")))

/* [lo, hi]: two 8-float halves (insertf64x4: AVX-512 F only) */
static inline TGT512 __m512 pair8(__m512 lo, __m256 hi)
{
	return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(lo), _mm256_castps_pd(hi), 1));
}

/* C = 8 (the narrowest level of a small model): two rows per vector, so
 * that no lane is masked off; the same operations on every value as the
 * general version below, and the same sums (rows16_sum8), so the same
 * bits. */
static TGT512 void layernorm8_avx512(float *out, const float *x, const float *w, const float *b, size_t rows)
{
	const __m512i order = rows16_order();
	const __m512 invC = _mm512_set1_ps(1.0f / 8), eps = _mm512_set1_ps(LN_EPS), zero = _mm512_setzero_ps();
	const __m512 w2 = pair8(_mm512_castps256_ps512(_mm256_loadu_ps(w)), _mm256_loadu_ps(w));
	const __m512 b2 = pair8(_mm512_castps256_ps512(_mm256_loadu_ps(b)), _mm256_loadu_ps(b));
	for (size_t r0 = 0; r0 < rows; r0 += 16) {
		const int nr = rows - r0 < 16 ? (int)(rows - r0) : 16;
		const float *xb = x + r0 * 8;
		float mean[16] __attribute__((aligned(64))), inv[16] __attribute__((aligned(64)));
		__m512 xv[8], t[8], m2[8];
		for (int i = 0; i < 8; i++) {
			int left = nr - 2 * i; /* rows of this pair present */
			__mmask16 k = left >= 2 ? 0xffff : left == 1 ? 0x00ff : 0;
			xv[i] = _mm512_maskz_loadu_ps(k, xb + 16 * i);
			t[i] = _mm512_add_ps(xv[i], zero);
		}
		_mm512_store_ps(mean, _mm512_mul_ps(_mm512_permutexvar_ps(order, rows16_sum8(t)), invC));
		for (int i = 0; i < 8; i++) {
			m2[i] = pair8(_mm512_set1_ps(mean[2 * i]), _mm256_set1_ps(mean[2 * i + 1]));
			__m512 d = _mm512_sub_ps(xv[i], m2[i]);
			t[i] = _mm512_fmadd_ps(d, d, zero);
		}
		__m512 var = _mm512_fmadd_ps(_mm512_permutexvar_ps(order, rows16_sum8(t)), invC, eps);
		_mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(var)));
		for (int i = 0; 2 * i < nr; i++) {
			__mmask16 k = nr - 2 * i >= 2 ? 0xffff : 0x00ff;
			__m512 s2 = pair8(_mm512_set1_ps(inv[2 * i]), _mm256_set1_ps(inv[2 * i + 1]));
			__m512 y = _mm512_mul_ps(_mm512_sub_ps(xv[i], m2[i]), s2);
			_mm512_mask_storeu_ps(out + (r0 + 2 * i) * 8, k, _mm512_fmadd_ps(y, w2, b2));
		}
	}
}

/* The lanes of the 16 columns from c on of a row of C (the last group's
 * masked). */
static inline TGT512 __mmask16 lanes16(int C, int c)
{
	return C - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - c)) - 1);
}

/* The mean and 1 / sqrt(variance + eps) of rows xb[0..nr) (nr <= 16) of
 * C floats: the sums of all 16 rows as one vector each (rows16.h), the
 * variance of x - mean; rows past nr count as zero. For the forward and
 * backward passes alike, so that both see the same statistics. */
static inline __attribute__((always_inline)) TGT512 void rows16_stats(const float *xb, int nr, int C, __m512i order,
								      float mean[16], float inv[16])
{
	const __m512 invC = _mm512_set1_ps(1.0f / (float)C), eps = _mm512_set1_ps(LN_EPS);
	__m512 v[16];
	for (int r = 0; r < 16; r++) {
		v[r] = _mm512_setzero_ps();
		for (int c = 0; r < nr && c < C; c += 16)
			v[r] = _mm512_add_ps(v[r], _mm512_maskz_loadu_ps(lanes16(C, c), xb + (size_t)r * C + c));
	}
	_mm512_store_ps(mean, _mm512_mul_ps(_mm512_permutexvar_ps(order, rows16_sum(v)), invC));
	for (int r = 0; r < 16; r++) {
		__m512 m = _mm512_set1_ps(mean[r]);
		v[r] = _mm512_setzero_ps();
		for (int c = 0; r < nr && c < C; c += 16) {
			__mmask16 k = lanes16(C, c);
			__m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, xb + (size_t)r * C + c), m);
			v[r] = _mm512_fmadd_ps(d, d, v[r]);
		}
	}
	__m512 var = _mm512_fmadd_ps(_mm512_permutexvar_ps(order, rows16_sum(v)), invC, eps);
	_mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(var)));
}

/* 16 rows at a time: the means, then the variances (of x - mean, as the
 * plain version), of all 16 as one vector each (rows16.h), then the rows.
 * With FMAs, which the build does not form from plain C (-std=c11). A last
 * group of fewer rows runs the same code with zero rows added: every row's
 * result must not depend on where it falls in a call, because callers
 * split the rows differently for different thread counts (and calibration
 * promises the same scales on any number of threads). */
static TGT512 void layernorm_avx512(float *out, const float *x, const float *w, const float *b,
				    size_t rows, int C, int rows8)
{
	if (C == 8 && rows8) {
		layernorm8_avx512(out, x, w, b, rows);
		return;
	}
	const __m512i order = rows16_order();
	for (size_t r0 = 0; r0 < rows; r0 += 16) {
		const int nr = rows - r0 < 16 ? (int)(rows - r0) : 16;
		const float *xb = x + r0 * (size_t)C;
		float mean[16] __attribute__((aligned(64))), inv[16] __attribute__((aligned(64)));
		rows16_stats(xb, nr, C, order, mean, inv);
		for (int r = 0; r < nr; r++) {
			__m512 m = _mm512_set1_ps(mean[r]), s = _mm512_set1_ps(inv[r]);
			const float *xr = xb + (size_t)r * C;
			float *o = out + (r0 + r) * (size_t)C;
			for (int c = 0; c < C; c += 16) {
				__mmask16 k = lanes16(C, c);
				__m512 y = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + c), m), s);
				y = _mm512_fmadd_ps(y, _mm512_maskz_loadu_ps(k, w + c), _mm512_maskz_loadu_ps(k, b + c));
				_mm512_mask_storeu_ps(o + c, k, y);
			}
		}
	}
}
#endif

#if SIMD_X86
/* v[c] = element c of each of the 8 rows v[0..7] (an 8x8 transpose). */
static inline TARGET_AVX2 void transpose8(__m256 v[8])
{
	__m256 t[8], u[8];
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]);
	}
	for (int i = 0; i < 2; i++) {
		u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
		u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
		u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
		u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
	}
	for (int i = 0; i < 4; i++) {
		v[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
		v[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
	}
}

static inline TARGET_AVX2 __m256 sum8(const __m256 v[8])
{
	return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3])),
			     _mm256_add_ps(_mm256_add_ps(v[4], v[5]), _mm256_add_ps(v[6], v[7])));
}

/* C = 8 on AVX2 (the narrowest level of a small model, where the plain
 * loop's per-row reductions cost most): 8 rows at a time, transposed so
 * that each vector holds one channel of the 8 rows, and every row's mean
 * and variance is the same tree of vertical adds in its own lane. A row's
 * bits therefore do not depend on the rows beside it, and the last rows
 * of a call go through a zero-padded copy. */
static TARGET_AVX2 void layernorm8_avx2(float *out, const float *x, const float *w, const float *b, size_t rows)
{
	const __m256 eighth = _mm256_set1_ps(1.0f / 8), eps = _mm256_set1_ps(LN_EPS), one = _mm256_set1_ps(1.0f);
	for (size_t r0 = 0; r0 < rows; r0 += 8) {
		size_t nr = rows - r0 < 8 ? rows - r0 : 8;
		float pad[64];
		const float *src = x + r0 * 8;
		if (nr < 8) {
			memset(pad, 0, sizeof pad);
			memcpy(pad, src, nr * 8 * sizeof *pad);
			src = pad;
		}
		__m256 v[8], d2[8];
		for (int i = 0; i < 8; i++)
			v[i] = _mm256_loadu_ps(src + 8 * i);
		transpose8(v);
		__m256 mean = _mm256_mul_ps(sum8(v), eighth);
		for (int c = 0; c < 8; c++) {
			v[c] = _mm256_sub_ps(v[c], mean);
			d2[c] = _mm256_mul_ps(v[c], v[c]);
		}
		__m256 var = _mm256_mul_ps(sum8(d2), eighth);
		__m256 inv = _mm256_div_ps(one, _mm256_sqrt_ps(_mm256_add_ps(var, eps)));
		for (int c = 0; c < 8; c++)
			v[c] = _mm256_fmadd_ps(_mm256_mul_ps(v[c], inv), _mm256_set1_ps(w[c]), _mm256_set1_ps(b[c]));
		transpose8(v);
		float *dst = nr < 8 ? pad : out + r0 * 8;
		for (int i = 0; i < 8; i++)
			_mm256_storeu_ps(dst + 8 * i, v[i]);
		if (nr < 8)
			memcpy(out + r0 * 8, pad, nr * 8 * sizeof *pad);
	}
}
#endif

int layernorm_forward_path(enum simd_path path, float *out, const float *x, const float *w, const float *b,
			   size_t rows, int C)
{
	if (!simd_path_supported(path))
		return -1;
#if SIMD_X86
	if (path == SIMD_AVX512)
		return layernorm_avx512(out, x, w, b, rows, C, 1), 0;
	if (path == SIMD_AVX2 && C == 8)
		return layernorm8_avx2(out, x, w, b, rows), 0;
#endif
	layernorm_plain(out, x, w, b, rows, C);
	return 0;
}

void layernorm_forward(float *out, const float *x, const float *w, const float *b, size_t rows, int C)
{
	layernorm_forward_path(simd_best_path(), out, x, w, b, rows, C);
}

int layernorm_rows16(float *out, const float *x, const float *w, const float *b, size_t rows, int C)
{
#ifdef __x86_64__
	const struct cpu_features *cpu = cpu_features();
	if (cpu->avx512f && cpu->fma) {
		layernorm_avx512(out, x, w, b, rows, C, 0);
		return 0;
	}
#endif
	return -1;
}

void layernorm_ref(float *out, const float *x, const float *w, const float *b, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C;
		double mean = 0, var = 0;
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= C;
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		double inv = 1.0 / sqrt(var / C + LN_EPS);
		for (int c = 0; c < C; c++)
			out[r * (size_t)C + c] = (float)((xr[c] - mean) * inv * w[c] + b[c]);
	}
}

void batchnorm_fold(float *w, float *b, size_t outer, size_t out, size_t inner, const float *gamma,
		    const float *beta, const float *mean, const float *var, double *factor)
{
	for (size_t o = 0; o < out; o++) {
		double s = gamma[o] / sqrt((double)var[o] + BN_EPS);
		for (size_t i = 0; w && i < outer; i++)
			for (size_t k = 0; k < inner; k++)
				w[(i * out + o) * inner + k] = (float)(w[(i * out + o) * inner + k] * s);
		b[o] = (float)(((double)b[o] - mean[o]) * s + beta[o]);
		if (factor)
			factor[o] = s;
	}
}

/* With xhat = (x - mean) rstd: dxhat = dy w, and
 * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
__attribute__((target_clones("avx2", "default")))
static void layernorm_backward_plain(float *dx, float *dw, float *db, const float *dy, const float *x,
				     const float *w, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C, *g = dy + r * (size_t)C;
		float *o = dx + r * (size_t)C;
		float mean = 0, var = 0, s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : mean)
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= (float)C;
#pragma omp simd reduction(+ : var)
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		float inv = 1.0f / sqrtf(var / (float)C + LN_EPS);
#pragma omp simd reduction(+ : s1, s2)
		for (int c = 0; c < C; c++) {
			float xh = (xr[c] - mean) * inv, d = g[c] * w[c];
			s1 += d;
			s2 += d * xh;
			dw[c] += g[c] * xh;
			db[c] += g[c];
		}
		s1 /= (float)C, s2 /= (float)C;
#pragma omp simd
		for (int c = 0; c < C; c++) {
			float xh = (xr[c] - mean) * inv;
			o[c] += inv * (g[c] * w[c] - s1 - xh * s2);
		}
	}
}

#ifdef __x86_64__
/* The same formula, 16 rows at a time as layernorm_avx512 does it: each of
 * the four per-row sums (mean, variance, mean(dxhat), mean(dxhat xhat)) of
 * all 16 rows as one vector (rows16.h) instead of a horizontal sum per row,
 * which at the training's 8 to 64 channels cost more than the arithmetic.
 * dw and db are summed over the 16 rows in registers, then added. */
static TGT512 void layernorm_backward_avx512(float *dx, float *dw, float *db, const float *dy, const float *x,
					     const float *w, size_t rows, int C)
{
	const __m512i order = rows16_order();
	const __m512 invC = _mm512_set1_ps(1.0f / (float)C);
	for (size_t r0 = 0; r0 < rows; r0 += 16) {
		const int nr = rows - r0 < 16 ? (int)(rows - r0) : 16;
		const float *xb = x + r0 * (size_t)C, *gb = dy + r0 * (size_t)C;
		float *ob = dx + r0 * (size_t)C;
		float mean[16] __attribute__((aligned(64))), inv[16] __attribute__((aligned(64)));
		float s1[16] __attribute__((aligned(64))), s2[16] __attribute__((aligned(64)));
		__m512 v[16];
		rows16_stats(xb, nr, C, order, mean, inv);
		/* s1 = mean(g w) */
		for (int r = 0; r < 16; r++) {
			v[r] = _mm512_setzero_ps();
			for (int c = 0; r < nr && c < C; c += 16) {
				__mmask16 k = lanes16(C, c);
				v[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, gb + (size_t)r * C + c),
						       _mm512_maskz_loadu_ps(k, w + c), v[r]);
			}
		}
		_mm512_store_ps(s1, _mm512_mul_ps(_mm512_permutexvar_ps(order, rows16_sum(v)), invC));
		/* s2 = mean(g w xhat) */
		for (int r = 0; r < 16; r++) {
			__m512 m = _mm512_set1_ps(mean[r]), s = _mm512_set1_ps(inv[r]);
			v[r] = _mm512_setzero_ps();
			for (int c = 0; r < nr && c < C; c += 16) {
				__mmask16 k = lanes16(C, c);
				__m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xb + (size_t)r * C + c), m), s);
				__m512 d = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, gb + (size_t)r * C + c),
							 _mm512_maskz_loadu_ps(k, w + c));
				v[r] = _mm512_fmadd_ps(d, xh, v[r]);
			}
		}
		_mm512_store_ps(s2, _mm512_mul_ps(_mm512_permutexvar_ps(order, rows16_sum(v)), invC));
		/* dx += inv (g w - s1 - xhat s2); dw += g xhat, db += g */
		for (int c = 0; c < C; c += 16) {
			__mmask16 k = lanes16(C, c);
			__m512 wv = _mm512_maskz_loadu_ps(k, w + c), dwa = _mm512_setzero_ps(), dba = _mm512_setzero_ps();
			for (int r = 0; r < nr; r++) {
				__m512 xh = _mm512_mul_ps(
					_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xb + (size_t)r * C + c), _mm512_set1_ps(mean[r])),
					_mm512_set1_ps(inv[r]));
				__m512 g = _mm512_maskz_loadu_ps(k, gb + (size_t)r * C + c);
				__m512 t = _mm512_fnmadd_ps(xh, _mm512_set1_ps(s2[r]),
							    _mm512_fmsub_ps(g, wv, _mm512_set1_ps(s1[r])));
				float *o = ob + (size_t)r * C + c;
				__m512 y = _mm512_fmadd_ps(t, _mm512_set1_ps(inv[r]), _mm512_maskz_loadu_ps(k, o));
				if (k == 0xffff) /* AMD's masked stores are slow: only where needed */
					_mm512_storeu_ps(o, y);
				else
					_mm512_mask_storeu_ps(o, k, y);
				dwa = _mm512_fmadd_ps(g, xh, dwa);
				dba = _mm512_add_ps(dba, g);
			}
			_mm512_mask_storeu_ps(dw + c, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, dw + c), dwa));
			_mm512_mask_storeu_ps(db + c, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, db + c), dba));
		}
	}
}
#endif

int layernorm_backward_path(enum simd_path path, float *dx, float *dw, float *db, const float *dy, const float *x,
			    const float *w, size_t rows, int C)
{
	if (!simd_path_supported(path))
		return -1;
#ifdef __x86_64__
	if (path == SIMD_AVX512)
		return layernorm_backward_avx512(dx, dw, db, dy, x, w, rows, C), 0;
#endif
	layernorm_backward_plain(dx, dw, db, dy, x, w, rows, C);
	return 0;
}

void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
			size_t rows, int C)
{
	layernorm_backward_path(simd_best_path(), dx, dw, db, dy, x, w, rows, C);
}

void layernorm_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
			    const float *w, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C, *g = dy + r * (size_t)C;
		double mean = 0, var = 0, s1 = 0, s2 = 0;
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= C;
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		double inv = 1.0 / sqrt(var / C + LN_EPS);
		for (int c = 0; c < C; c++) {
			double xh = (xr[c] - mean) * inv;
			s1 += (double)g[c] * w[c];
			s2 += (double)g[c] * w[c] * xh;
			dw[c] = (float)(dw[c] + g[c] * xh);
			db[c] += g[c];
		}
		for (int c = 0; c < C; c++) {
			double xh = (xr[c] - mean) * inv;
			dx[r * (size_t)C + c] = (float)(dx[r * (size_t)C + c] +
						       inv * ((double)g[c] * w[c] - s1 / C - xh * s2 / C));
		}
	}
}
