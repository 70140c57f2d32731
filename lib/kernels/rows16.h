/* Reductions of 16 rows at once for AVX-512 kernels that need one number
 * per row (a row's largest |x| in qgemm.c, its mean and variance in
 * norm.c): the 16 vectors of per-lane partial results of 16 rows become one
 * vector holding each row's total. Four rounds of shuffle-and-combine halve
 * the lanes of a row and double the rows per vector, 45 operations for 16
 * rows, where a horizontal reduction per row takes 8 each. The rows come
 * out in the shuffles' order; rows16_order gives the permutation back to
 * row order (for _mm512_permutexvar_ps). Include only from files that
 * compile these functions for AVX-512 (ROWS16_TARGET). */
#ifndef TF_ROWS16_H
#define TF_ROWS16_H
#include <immintrin.h>
#include <stdint.h>

#define ROWS16_TARGET __attribute__((target("avx512f")))

#define ROWS16_REDUCE(name, op)                                                                  \
	static inline ROWS16_TARGET __attribute__((always_inline)) __m512 name(const __m512 v[16]) \
	{                                                                                        \
		__m512 t[8], u[4], w[2];                                                         \
		for (int i = 0; i < 8; i++)                                                      \
			t[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),            \
				  _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));           \
		for (int i = 0; i < 4; i++)                                                      \
			u[i] = op(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88),            \
				  _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xdd));           \
		for (int i = 0; i < 2; i++)                                                      \
			w[i] = op(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0x44),               \
				  _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0xee));              \
		return op(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xdd)); \
	}
ROWS16_REDUCE(rows16_max, _mm512_max_ps)
ROWS16_REDUCE(rows16_sum, _mm512_add_ps)
#undef ROWS16_REDUCE

/* rows16_sum after its first round, for rows of 8 floats: t[i] holds rows
 * 2i and 2i+1 (lanes 0-7, 8-15), as the first round leaves them when the
 * rows' lanes 8-15 are 0 (plus 0.0f: the first round's add, which turns a
 * -0 into +0, is the caller's). The same result, bit for bit. */
static inline ROWS16_TARGET __attribute__((always_inline)) __m512 rows16_sum8(const __m512 t[8])
{
	__m512 u[4], w[2];
	for (int i = 0; i < 4; i++)
		u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88),
				     _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xdd));
	for (int i = 0; i < 2; i++)
		w[i] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0x44),
				     _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0xee));
	return _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xdd));
}

/* The permutation to row order: found by running the network on vectors
 * whose lanes all hold their row's number. */
static inline ROWS16_TARGET __m512i rows16_order(void)
{
	__m512 v[16];
	float lane_row[16] __attribute__((aligned(64)));
	int32_t idx[16] __attribute__((aligned(64)));
	for (int i = 0; i < 16; i++)
		v[i] = _mm512_set1_ps((float)i);
	_mm512_store_ps(lane_row, rows16_max(v));
	for (int l = 0; l < 16; l++)
		idx[(int)lane_row[l]] = l;
	return _mm512_load_si512(idx);
}

#endif
