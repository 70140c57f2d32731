/* e^x for x <= 0 in plain arithmetic the compiler can vectorise, shared by
 * GELU (lib/kernels/activation.c) and the training attention
 * (lib/kernels/attention_train.c): x = n ln2 + r with |r| <= ln2/2, a
 * degree-7 Taylor polynomial for e^r (relative error below 3e-9 there;
 * evaluated by Estrin's scheme), and
 * 2^n built in the exponent bits. Inputs at or below -87 (where float
 * underflows anyway), and -inf, give exactly 0.
 *
 * The clamp at -87 and the zero below it are done on the bits as integers,
 * not as float selects: with -ftrapping-math (GCC's default) a select
 * between a float product and a constant is control flow that GCC
 * if-converts only with AVX-512's masked operations, so the AVX2 clones of
 * the loops that call this stayed scalar. For a negative float, a larger
 * bit pattern is a more negative number, so min(bits, bits(-87)) clamps;
 * positive inputs have smaller patterns and pass as before. The results are
 * those of the float-select version for every input that is not NaN
 * (checked over all 2^32 patterns up to 88). */
#ifndef TF_FASTEXP_H
#define TF_FASTEXP_H
#include <stdint.h>
#include <string.h>

static inline float exp_nonpos(float x)
{
	const uint32_t minus87 = 0xc2ae0000u; /* -87.0f */
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	int32_t keep = -(int32_t)(u < minus87); /* all ones above -87, else 0 */
	u = u < minus87 ? u : minus87;
	memcpy(&x, &u, sizeof x);
	/* round to nearest by the 1.5 * 2^23 trick: a libm call would stop
	 * the loop from vectorising */
	float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
	/* Estrin's scheme: three dependent steps after r instead of Horner's
	 * seven, so that a loop of these is not bound by the latency of one
	 * polynomial (the training attention's loops were) */
	float r2 = r * r, r4 = r2 * r2;
	float p01 = 1.0f + r, p23 = 0.5f + r * (1.0f / 6);
	float p45 = 1.0f / 24 + r * (1.0f / 120), p67 = 1.0f / 720 + r * (1.0f / 5040);
	float p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
	int32_t bits = (((int32_t)n + 127) << 23) & keep; /* 2^n, or 0 at or below -87 */
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return p * scale;
}

#endif
