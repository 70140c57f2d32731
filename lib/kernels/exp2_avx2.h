/* 2^x on 8 lanes with AVX2 and FMA, for the attention kernels' AVX2 paths
 * (attention_avx2.c, attention_train.c). Include only inside #if SIMD_X86. */
#ifndef TF_EXP2_AVX2_H
#define TF_EXP2_AVX2_H
#include <immintrin.h>
#include <stdint.h>

#include "cpu.h"

/* 2^x, lanes not set in k (all ones / zero) give 0. The AVX-512 scheme
 * with an 8-entry table (vpermps): x = j + r, j = round(8 x) / 8 by adding
 * and subtracting 1.5*2^20, |r| <= 1/16, 2^r by a degree-3 minimax
 * polynomial (relative error 1.8e-8), 2^j = 2^(i/8) 2^floor(j) with i the
 * low three bits of x + 1.5*2^20 and floor(j) the bits above them.
 *
 * 2^floor(j) goes into the table entry's exponent before the polynomial:
 * y << 20 puts floor(j) in the exponent field but i in the top of the
 * mantissa, so each entry is stored less i << 20 in its bits, and the
 * entry times 2^floor(j) is one integer add (no mask). Up to the rounding
 * of products in the subnormal range (x below about -116, terms no float
 * sum next to the lane's max >= 2^-16 can see) this is bit for bit the
 * polynomial on the plain entry scaled afterwards. x is clamped at -125 so
 * that the exponent stays normal: such terms come out as ~2e-38 instead of
 * 0. Results for x > 127 are garbage, which the callers discard. */
/* 2^(i/8) rounded to float, as bits, less i << 20 */
static const int32_t exp2_tab8[8] __attribute__((aligned(32))) = {
	0x3f800000 - (0 << 20), 0x3f8b95c2 - (1 << 20), 0x3f9837f0 - (2 << 20), 0x3fa5fed7 - (3 << 20),
	0x3fb504f3 - (4 << 20), 0x3fc5672a - (5 << 20), 0x3fd744fd - (6 << 20), 0x3feac0c7 - (7 << 20),
};

/* exp2_256 for x >= -125 only (no clamp), for callers that know it. */
static inline TARGET_AVX2 __m256 exp2_256_from_m125(__m256 k, __m256 x)
{
	const __m256 magic = _mm256_set1_ps(1572864.0f);
	__m256 y = _mm256_add_ps(x, magic);
	__m256 r = _mm256_sub_ps(x, _mm256_sub_ps(y, magic));
	__m256i yi = _mm256_castps_si256(y);
	__m256i tb = _mm256_castps_si256(_mm256_permutevar8x32_ps(_mm256_load_ps((const float *)exp2_tab8), yi));
	__m256 t = _mm256_castsi256_ps(_mm256_add_epi32(tb, _mm256_slli_epi32(yi, 20)));
	__m256 u = _mm256_fmadd_ps(_mm256_set1_ps(0.055498900460343004f), r,
				   _mm256_set1_ps(0.24026407289912532f));
	u = _mm256_fmadd_ps(u, r, _mm256_set1_ps(0.69314720853190248f));
	return _mm256_and_ps(k, _mm256_fmadd_ps(_mm256_mul_ps(t, r), u, t));
}

static inline TARGET_AVX2 __m256 exp2_256(__m256 k, __m256 x)
{
	return exp2_256_from_m125(k, _mm256_max_ps(x, _mm256_set1_ps(-125.0f)));
}

#endif
