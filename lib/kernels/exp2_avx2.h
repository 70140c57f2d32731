/* 2^x on 8 lanes with AVX2 and FMA, for the attention kernels' AVX2 paths
 * (attention_avx2.c, attention_train.c). Include only inside #if SIMD_X86. */
#ifndef TF_EXP2_AVX2_H
#define TF_EXP2_AVX2_H
#include <immintrin.h>

#include "cpu.h"

/* 2^x, lanes not set in k (all ones / zero) give 0. The AVX-512 scheme
 * with an 8-entry table (vpermps): x = j + r, j = round(8 x) / 8 by adding
 * and subtracting 1.5*2^20, |r| <= 1/16, 2^r by a degree-3 minimax
 * polynomial (relative error 1.8e-8), and 2^floor(j) added into the exponent
 * bits (floor(j) is the mantissa of x + 1.5*2^20 shifted). x is clamped at
 * -125 so that the exponent stays normal: such terms come out as ~2e-38
 * instead of 0, far below float resolution next to the lane's max >= 1.
 * Results for x > 127 are garbage, which the callers discard. */
static const float exp2_tab8[8] __attribute__((aligned(32))) = {
	1.000000000e+00f, 1.090507733e+00f, 1.189207115e+00f, 1.296839555e+00f,
	1.414213562e+00f, 1.542210825e+00f, 1.681792831e+00f, 1.834008086e+00f,
};

static inline TARGET_AVX2 __m256 exp2_256(__m256 k, __m256 x)
{
	const __m256 magic = _mm256_set1_ps(1572864.0f);
	x = _mm256_max_ps(x, _mm256_set1_ps(-125.0f));
	__m256 y = _mm256_add_ps(x, magic);
	__m256 r = _mm256_sub_ps(x, _mm256_sub_ps(y, magic));
	__m256i yi = _mm256_castps_si256(y);
	__m256 t = _mm256_permutevar8x32_ps(_mm256_load_ps(exp2_tab8), yi);
	__m256 u = _mm256_fmadd_ps(_mm256_set1_ps(0.055498900460343004f), r,
				   _mm256_set1_ps(0.24026407289912532f));
	u = _mm256_fmadd_ps(u, r, _mm256_set1_ps(0.69314720853190248f));
	__m256 p = _mm256_fmadd_ps(_mm256_mul_ps(t, r), u, t);
	__m256i nb = _mm256_and_si256(_mm256_slli_epi32(yi, 20), _mm256_set1_epi32((int)0xff800000u));
	return _mm256_and_ps(k, _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), nb)));
}

#endif
