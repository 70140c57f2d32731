/* e^x for x <= 0 in plain arithmetic the compiler can vectorise, shared by
 * GELU (lib/kernels/activation.c) and the training attention
 * (lib/kernels/attention_train.c): x = n ln2 + r with |r| <= ln2/2, a
 * degree-7 Taylor polynomial for e^r (relative error below 3e-9 there), and
 * 2^n built in the exponent bits. Inputs at or below -87 (where float
 * underflows anyway), and -inf, give exactly 0. */
#ifndef TF_FASTEXP_H
#define TF_FASTEXP_H
#include <stdint.h>
#include <string.h>

static inline float exp_nonpos(float x)
{
	x = x < -87.0f ? -87.0f : x;
	/* round to nearest by the 1.5 * 2^23 trick: a libm call would stop
	 * the loop from vectorising */
	float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
	float p = 1.0f / 5040;
	p = p * r + 1.0f / 720;
	p = p * r + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	int32_t bits = ((int32_t)n + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return x <= -87.0f ? 0.0f : p * scale;
}

#endif
