/* 2^x on 16 lanes with AVX-512, for the AVX-512 paths of the attention
 * kernels (attention_avx512.c, attention_train.c) and of GELU
 * (activation.c). Include only inside #if SIMD_X86. */
#ifndef TF_EXP2_AVX512_H
#define TF_EXP2_AVX512_H
#include <immintrin.h>

#include "cpu.h"

/* 2^x, lanes not in k give 0. x = j + r with j = round(32 x) / 32 and
 * |r| <= 1/64, both by adding and subtracting 1.5*2^18 (whose ulp is 1/32);
 * 2^(j mod 1) comes from a 32-entry table held in two registers (vpermt2ps,
 * index = the low mantissa bits of x + 1.5*2^18), 2^r from a degree-2
 * minimax polynomial (relative error 5.3e-8), and vscalefps multiplies by
 * 2^floor(j), giving 0 or a subnormal for very negative x (below -2^17 the
 * split is inexact, but the result is 0 all the same). Only three operations
 * use the FMA units, which the dot products keep busy; on Zen 4 this beat a
 * degree-5 polynomial and vreduceps. For x > 128 the result is inf: callers
 * keep x <= RESCALE_AT or discard such results. */
static const float exp2_tab32[32] __attribute__((aligned(64))) = {
	1.000000000e+00f, 1.021897149e+00f, 1.044273782e+00f, 1.067140401e+00f,
	1.090507733e+00f, 1.114386743e+00f, 1.138788635e+00f, 1.163724859e+00f,
	1.189207115e+00f, 1.215247360e+00f, 1.241857812e+00f, 1.269050957e+00f,
	1.296839555e+00f, 1.325236643e+00f, 1.354255547e+00f, 1.383909882e+00f,
	1.414213562e+00f, 1.445180807e+00f, 1.476826146e+00f, 1.509164428e+00f,
	1.542210825e+00f, 1.575980845e+00f, 1.610490332e+00f, 1.645755478e+00f,
	1.681792831e+00f, 1.718619298e+00f, 1.756252160e+00f, 1.794709075e+00f,
	1.834008086e+00f, 1.874167634e+00f, 1.915206561e+00f, 1.957144124e+00f,
};
#define EXP2_C1 0.69315734356521075f
#define EXP2_C2 0.24022474583230552f
#define EXP2_MAGIC 393216.0f /* 1.5 * 2^18: its ulp is 1/32 */

struct exp2c512 {
	__m512 t0, t1, c1, c2, magic;
};

static inline TARGET_AVX512 struct exp2c512 exp2c512_load(void)
{
	struct exp2c512 e = {
		_mm512_load_ps(exp2_tab32), _mm512_load_ps(exp2_tab32 + 16), _mm512_set1_ps(EXP2_C1),
		_mm512_set1_ps(EXP2_C2), _mm512_set1_ps(EXP2_MAGIC),
	};
	return e;
}

static inline TARGET_AVX512 __m512 exp2_512(const struct exp2c512 *e, __mmask16 k, __m512 x)
{
	__m512 y = _mm512_add_ps(x, e->magic);
	__m512 j = _mm512_sub_ps(y, e->magic);
	__m512 r = _mm512_sub_ps(x, j);
	__m512i idx = _mm512_castps_si512(y);
	__m512 t = _mm512_permutex2var_ps(e->t0, idx, e->t1);
	__m512 u = _mm512_fmadd_ps(e->c2, r, e->c1);
	__m512 p = _mm512_fmadd_ps(_mm512_mul_ps(t, r), u, t);
	return _mm512_maskz_scalef_ps(k, p, j);
}

#endif
