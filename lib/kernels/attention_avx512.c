/* The AVX-512 path of the attention kernel: 16 queries in the lanes (the
 * design is described at the top of attention.c). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention_head.h"

#if SIMD_X86
#include <immintrin.h>

#include "exp2_avx512.h"

/* sum_c q[c] k[c] - m: two interleaved chains, as the score feeds a long
 * dependent chain (exp, then the sums) and a shorter one lets more keys be in
 * flight with the same scheduler space; m is subtracted last, because
 * starting the chain from -m rounds every partial sum at the magnitude of m
 * (that tripled the output error at d = 32). */
static inline __attribute__((always_inline)) TARGET_AVX512 __m512
dot512(const __m512 *q, const float *k, __m512 negm, const int D)
{
	__m512 x = _mm512_mul_ps(q[0], _mm512_set1_ps(k[0]));
	if (D < 4) {
#pragma GCC unroll 16
		for (int c = 1; c < D; c++)
			x = _mm512_fmadd_ps(q[c], _mm512_set1_ps(k[c]), x);
		return _mm512_add_ps(x, negm);
	}
	__m512 y = _mm512_mul_ps(q[1], _mm512_set1_ps(k[1]));
#pragma GCC unroll 16
	for (int c = 2; c < D; c++) {
		if (c % 2)
			y = _mm512_fmadd_ps(q[c], _mm512_set1_ps(k[c]), y);
		else
			x = _mm512_fmadd_ps(q[c], _mm512_set1_ps(k[c]), x);
	}
	return _mm512_add_ps(_mm512_add_ps(x, y), negm);
}

/* Rows l < n of out[l][0..4) = (a[l], b[l], c[l], d[l]): 4x4 transposes
 * within each 128-bit chunk, then one 16-byte copy per row (via tmp[64]). */
static inline TARGET_AVX512 void store4x16(float *out, size_t ldo, int n, __m512 a, __m512 b, __m512 c,
				    __m512 d, float *tmp)
{
	__m512 t0 = _mm512_unpacklo_ps(a, b), t1 = _mm512_unpackhi_ps(a, b);
	__m512 t2 = _mm512_unpacklo_ps(c, d), t3 = _mm512_unpackhi_ps(c, d);
	/* tmp[16 m + 4 k ..] is row 4 k + m */
	_mm512_store_ps(tmp, _mm512_shuffle_ps(t0, t2, 0x44));
	_mm512_store_ps(tmp + 16, _mm512_shuffle_ps(t0, t2, 0xee));
	_mm512_store_ps(tmp + 32, _mm512_shuffle_ps(t1, t3, 0x44));
	_mm512_store_ps(tmp + 48, _mm512_shuffle_ps(t1, t3, 0xee));
	for (int l = 0; l < n; l++)
		_mm_storeu_ps(out + (size_t)l * ldo, _mm_load_ps(tmp + 16 * (l & 3) + 4 * (l >> 2)));
}

/* The 4x4 transposes of store4x16 the other way: rows r[0..16) of 4 floats
 * (row stride ld) to channels a..d across the 16 lanes. */
static inline TARGET_AVX512 void load16x4(const float *r, size_t ld, __m512 *a, __m512 *b, __m512 *c,
				   __m512 *d)
{
	__m512 u[4];
	for (int m = 0; m < 4; m++) { /* chunk k of u[m] is row 4 k + m */
		__m512 v = _mm512_castps128_ps512(_mm_loadu_ps(r + (size_t)m * ld));
		v = _mm512_insertf32x4(v, _mm_loadu_ps(r + (size_t)(4 + m) * ld), 1);
		v = _mm512_insertf32x4(v, _mm_loadu_ps(r + (size_t)(8 + m) * ld), 2);
		u[m] = _mm512_insertf32x4(v, _mm_loadu_ps(r + (size_t)(12 + m) * ld), 3);
	}
	__m512 t0 = _mm512_unpacklo_ps(u[0], u[1]), t1 = _mm512_unpackhi_ps(u[0], u[1]);
	__m512 t2 = _mm512_unpacklo_ps(u[2], u[3]), t3 = _mm512_unpackhi_ps(u[2], u[3]);
	*a = _mm512_shuffle_ps(t0, t2, 0x44);
	*b = _mm512_shuffle_ps(t0, t2, 0xee);
	*c = _mm512_shuffle_ps(t1, t3, 0x44);
	*d = _mm512_shuffle_ps(t1, t3, 0xee);
}

/* qt and m0 of whole 16-token blocks when d is a multiple of 4 (the scalar
 * gather in head_load costs a quarter of the time at L = 64 otherwise).
 * Returns the number of tokens done. */
static TARGET_AVX512 int head_q512(struct head *hd, const float *x, int C, int h, float qscale,
			    float kmax)
{
	const __m512 km = _mm512_set1_ps(kmax), above = _mm512_set1_ps(ABOVE_SELF);
	const int L = hd->L, Lp = hd->Lp, d = hd->d;
	const __m512 sc = _mm512_set1_ps(qscale);
	const size_t ld = 3 * (size_t)C;
	int t0 = 0;
	if (d % 4)
		return 0;
	for (; t0 + 16 <= L; t0 += 16) {
		const float *r = x + (size_t)t0 * ld + (size_t)h * d;
		__m512 self = _mm512_setzero_ps(), n2 = _mm512_setzero_ps();
		for (int c = 0; c < d; c += 4) {
			__m512 q[4], k[4];
			load16x4(r + c, ld, &q[0], &q[1], &q[2], &q[3]);
			load16x4(r + C + c, ld, &k[0], &k[1], &k[2], &k[3]);
			for (int m = 0; m < 4; m++) {
				q[m] = _mm512_mul_ps(q[m], sc);
				_mm512_store_ps(hd->qt + (size_t)(c + m) * Lp + t0, q[m]);
				self = _mm512_fmadd_ps(q[m], k[m], self);
				n2 = _mm512_fmadd_ps(q[m], q[m], n2);
			}
		}
		/* reference_score */
		__m512 bound = _mm512_max_ps(_mm512_mul_ps(_mm512_sqrt_ps(n2), km), self);
		_mm512_store_ps(hd->m0 + t0, _mm512_min_ps(bound, _mm512_add_ps(self, above)));
	}
	return t0;
}

/* kv of whole 16-token blocks when d is a multiple of 4: the rows copied
 * 16 bytes at a time, the norms of k with 16 tokens in the lanes (the
 * scalar loop in head_load_kv took a third of the time of attention over
 * 8x8 windows). Returns the number of tokens done, their largest |k|^2 in
 * *kk. */
static TARGET_AVX512 int head_kv512(struct head *hd, const float *x, int C, int h, float *kk)
{
	const int L = hd->L, d = hd->d;
	const size_t ld = 3 * (size_t)C;
	__m512 mx = _mm512_setzero_ps();
	int t0 = 0;
	*kk = 0.0f;
	if (d % 4)
		return 0;
	for (; t0 + 16 <= L; t0 += 16) {
		const float *r = x + (size_t)t0 * ld + (size_t)h * d + C;
		__m512 n2 = _mm512_setzero_ps();
		for (int c = 0; c < d; c += 4) {
			__m512 k[4];
			load16x4(r + c, ld, &k[0], &k[1], &k[2], &k[3]);
			for (int m = 0; m < 4; m++)
				n2 = _mm512_fmadd_ps(k[m], k[m], n2);
		}
		mx = _mm512_max_ps(mx, n2);
		for (int t = 0; t < 16; t++) {
			const float *row = r + (size_t)t * ld;
			float *kv = hd->kv + (size_t)(t0 + t) * 2 * d;
			for (int c = 0; c < d; c += 4) {
				_mm_storeu_ps(kv + c, _mm_loadu_ps(row + c));
				_mm_storeu_ps(kv + d + c, _mm_loadu_ps(row + C + c));
			}
		}
	}
	*kk = _mm512_reduce_max_ps(mx);
	return t0;
}

/* One block of 16 queries starting at i0, d = D <= 8 or 16, in registers;
 * writes rows l < n of out (stride ldo). */
static inline __attribute__((always_inline)) TARGET_AVX512 void
fused512(const struct head *hd, int i0, float *out, size_t ldo, int n, const int D,
	 const int masked)
{
	const int L = hd->L, Lp = hd->Lp;
	const struct exp2c512 e = exp2c512_load();
	const __m512 thr = _mm512_set1_ps(RESCALE_AT);
	__m512 q[16], o[16], sum = _mm512_setzero_ps();
#pragma GCC unroll 16
	for (int c = 0; c < D; c++) {
		q[c] = _mm512_load_ps(hd->qt + (size_t)c * Lp + i0);
		o[c] = _mm512_setzero_ps();
	}
	__m512 negm = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_load_ps(hd->m0 + i0));
	__m512i rq = masked ? _mm512_load_si512(hd->rg + i0) : _mm512_setzero_si512();
	float *ck = hd->sp; /* checkpoint of sum and o at the start of a group */
	for (int j0 = 0; j0 < L; j0 += GROUP) {
		const int j1 = L - j0 < GROUP ? L : j0 + GROUP;
		_mm512_store_ps(ck, sum);
#pragma GCC unroll 16
		for (int c = 0; c < D; c++)
			_mm512_store_ps(ck + 16 * (c + 1), o[c]);
		for (;;) {
			__m512 mx = _mm512_set1_ps(-INFINITY);
			const float *kv = hd->kv + (size_t)j0 * 2 * D;
			__m512 xn = dot512(q, kv, negm, D);
			for (int j = j0; j < j1; j++, kv += 2 * D) {
				__m512 x = xn;
				xn = dot512(q, kv + 2 * D, negm, D);
				__mmask16 ok = masked ? _mm512_cmpeq_epi32_mask(rq, _mm512_set1_epi32(hd->rg[j]))
						      : (__mmask16)0xffff;
				mx = masked ? _mm512_mask_max_ps(mx, ok, mx, x) : _mm512_max_ps(mx, x);
				__m512 p = exp2_512(&e, ok, x);
				sum = _mm512_add_ps(sum, p);
#pragma GCC unroll 16
				for (int c = 0; c < D; c++)
					o[c] = _mm512_fmadd_ps(p, _mm512_set1_ps(kv[D + c]), o[c]);
			}
			__mmask16 big = _mm512_cmp_ps_mask(mx, thr, _CMP_GT_OQ);
			if (__builtin_expect(big == 0, 1))
				break;
			/* rare: some lane's max rose by more than RESCALE_AT (its sums
			 * may have overflowed). Move those references up to the group's
			 * max, rescale the checkpoint and do the group again; it cannot
			 * fire twice. */
			__m512 negm2 = _mm512_mask_sub_ps(negm, big, negm, mx);
			__m512 f = exp2_512(&e, 0xffff, _mm512_sub_ps(negm2, negm));
			sum = _mm512_mul_ps(_mm512_load_ps(ck), f);
#pragma GCC unroll 16
			for (int c = 0; c < D; c++)
				o[c] = _mm512_mul_ps(_mm512_load_ps(ck + 16 * (c + 1)), f);
			negm = negm2;
		}
	}
	__m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
#pragma GCC unroll 16
	for (int c = 0; c < D; c++)
		o[c] = _mm512_mul_ps(o[c], inv);
#pragma GCC unroll 4
	for (int c = 0; c + 4 <= D; c += 4)
		store4x16(out + c, ldo, n, o[c], o[c + 1], o[c + 2], o[c + 3], hd->sp);
	if (D % 4) {
#pragma GCC unroll 16
		for (int c = D & ~3; c < D; c++)
			_mm512_store_ps(hd->ob + c * 16, o[c]);
		store_lanes(out, ldo, n, hd->ob, D & ~3, D);
	}
	if (hd->lse) {
		_mm512_store_ps(hd->sp, negm);
		_mm512_store_ps(hd->sp + 16, sum);
		store_lse(hd, i0, n, hd->sp, hd->sp + 16);
	}
}

/* Chunk scores sp[j] = q . k_j over channels c0 .. c0+G-1 of keys
 * kv[0 .. nk), added to sp unless c0 is 0 (the first channels). */
static inline __attribute__((always_inline)) TARGET_AVX512 void
scores512(const struct head *hd, int i0, const float *kv, int nk, int c0, const int G)
{
	const int d = hd->d;
	__m512 q[16];
#pragma GCC unroll 16
	for (int c = 0; c < G; c++)
		q[c] = _mm512_load_ps(hd->qt + (size_t)(c0 + c) * hd->Lp + i0);
	for (int j = 0; j < nk; j++) {
		const float *k = kv + (size_t)j * 2 * d + c0;
		__m512 x = c0 ? _mm512_load_ps(hd->sp + j * 16) : _mm512_setzero_ps();
		__m512 y = _mm512_setzero_ps();
#pragma GCC unroll 16
		for (int c = 0; c < G; c++) /* two chains: half the latency */
			if (c % 2)
				y = _mm512_fmadd_ps(q[c], _mm512_set1_ps(k[c]), y);
			else
				x = _mm512_fmadd_ps(q[c], _mm512_set1_ps(k[c]), x);
		_mm512_store_ps(hd->sp + j * 16, G > 1 ? _mm512_add_ps(x, y) : x);
	}
}

/* ob[c] += sum_j sp[j] v_j[c] for channels c0 .. c0+G-1. */
static inline __attribute__((always_inline)) TARGET_AVX512 void
accum512(const struct head *hd, const float *kv, int nk, int c0, const int G)
{
	const int d = hd->d;
	__m512 o[16];
#pragma GCC unroll 16
	for (int c = 0; c < G; c++)
		o[c] = _mm512_load_ps(hd->ob + (c0 + c) * 16);
	for (int j = 0; j < nk; j++) {
		const float *v = kv + (size_t)j * 2 * d + d + c0;
		__m512 p = _mm512_load_ps(hd->sp + j * 16);
#pragma GCC unroll 16
		for (int c = 0; c < G; c++)
			o[c] = _mm512_fmadd_ps(p, _mm512_set1_ps(v[c]), o[c]);
	}
#pragma GCC unroll 16
	for (int c = 0; c < G; c++)
		_mm512_store_ps(hd->ob + (c0 + c) * 16, o[c]);
}

/* One block of 16 queries, any d, keys in chunks of KC (see the top). */
static TARGET_AVX512 void chunked512(const struct head *hd, int i0, float *out, size_t ldo, int n)
{
	const int L = hd->L, d = hd->d;
	const struct exp2c512 e = exp2c512_load();
	const __m512 thr = _mm512_set1_ps(RESCALE_AT), off = _mm512_set1_ps(MASKED_OUT);
	float *sp = hd->sp, *ob = hd->ob;
	__m512 sum = _mm512_setzero_ps();
	__m512 negm = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_load_ps(hd->m0 + i0));
	__m512i rq = hd->rg ? _mm512_load_si512(hd->rg + i0) : _mm512_setzero_si512();
	for (int c = 0; c < d; c++)
		_mm512_store_ps(ob + c * 16, _mm512_setzero_ps());
	for (int j0 = 0; j0 < L; j0 += KC) {
		const int nk = L - j0 < KC ? L - j0 : KC;
		const float *kv = hd->kv + (size_t)j0 * 2 * d;
		/* scores, up to 16 channels of q in registers at a time */
		int c0 = 0;
		for (; c0 + 16 <= d; c0 += 16)
			scores512(hd, i0, kv, nk, c0, 16);
		if (c0 + 8 <= d)
			scores512(hd, i0, kv, nk, c0, 8), c0 += 8;
		for (; c0 < d; c0++)
			scores512(hd, i0, kv, nk, c0, 1);
		/* - m, mask, and the chunk's max to decide about rescaling */
		__m512 mx = off;
		for (int j = 0; j < nk; j++) {
			__m512 x = _mm512_add_ps(_mm512_load_ps(sp + j * 16), negm);
			if (hd->rg) {
				__mmask16 ok = _mm512_cmpeq_epi32_mask(rq, _mm512_set1_epi32(hd->rg[j0 + j]));
				x = _mm512_mask_mov_ps(off, ok, x);
			}
			_mm512_store_ps(sp + j * 16, x);
			mx = _mm512_max_ps(mx, x);
		}
		__mmask16 big = _mm512_cmp_ps_mask(mx, thr, _CMP_GT_OQ);
		__m512 delta = _mm512_setzero_ps();
		if (big) {
			__m512 negm2 = _mm512_mask_sub_ps(negm, big, negm, mx);
			delta = _mm512_sub_ps(negm2, negm);
			__m512 f = exp2_512(&e, 0xffff, delta);
			sum = _mm512_mul_ps(sum, f);
			for (int c = 0; c < d; c++)
				_mm512_store_ps(ob + c * 16, _mm512_mul_ps(_mm512_load_ps(ob + c * 16), f));
			negm = negm2;
		}
		/* probabilities */
		for (int j = 0; j < nk; j++) {
			__m512 p = exp2_512(&e, 0xffff, _mm512_add_ps(_mm512_load_ps(sp + j * 16), delta));
			sum = _mm512_add_ps(sum, p);
			_mm512_store_ps(sp + j * 16, p);
		}
		/* o += p v, up to 16 channels of o in registers at a time */
		for (c0 = 0; c0 + 16 <= d; c0 += 16)
			accum512(hd, kv, nk, c0, 16);
		if (c0 + 8 <= d)
			accum512(hd, kv, nk, c0, 8), c0 += 8;
		for (; c0 < d; c0++)
			accum512(hd, kv, nk, c0, 1);
	}
	__m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
	int c = 0;
	for (; c + 4 <= d; c += 4)
		store4x16(out + c, ldo, n, _mm512_mul_ps(_mm512_load_ps(ob + c * 16), inv),
			  _mm512_mul_ps(_mm512_load_ps(ob + c * 16 + 16), inv),
			  _mm512_mul_ps(_mm512_load_ps(ob + c * 16 + 32), inv),
			  _mm512_mul_ps(_mm512_load_ps(ob + c * 16 + 48), inv), sp);
	for (int r = c; r < d; r++)
		_mm512_store_ps(ob + r * 16, _mm512_mul_ps(_mm512_load_ps(ob + r * 16), inv));
	store_lanes(out, ldo, n, ob, c, d);
	if (hd->lse) {
		_mm512_store_ps(hd->sp, negm);
		_mm512_store_ps(hd->sp + 16, sum);
		store_lse(hd, i0, n, hd->sp, hd->sp + 16);
	}
}

/* The fused kernel specialised per d (constant channel loops fully unrolled). */
#define FUSED512(D)                                                                    \
	static TARGET_AVX512 void fused512_##D(const struct head *hd, int i0, float *out, size_t ldo, \
				       int n)                                                \
	{                                                                              \
		if (hd->rg)                                                            \
			fused512(hd, i0, out, ldo, n, D, 1);                           \
		else                                                                   \
			fused512(hd, i0, out, ldo, n, D, 0);                           \
	}
FUSED512(1)
FUSED512(2)
FUSED512(3)
FUSED512(4)
FUSED512(5)
FUSED512(6)
FUSED512(7)
FUSED512(8)
FUSED512(16)

static block_fn block512(int d)
{
	static const block_fn f[9] = {
		NULL, fused512_1, fused512_2, fused512_3, fused512_4,
		fused512_5, fused512_6, fused512_7, fused512_8,
	};
	return d <= 8 ? f[d] : d == 16 ? fused512_16 : chunked512;
}

void attention_avx512(float *out, float *lse, const float *qkv, int nseq, int L, int heads, int d,
		      float scale, const int *region, float *scratch)
{
	attention_run_blocks(block512(d), head_q512, head_kv512, 16, out, lse, qkv, nseq, L, heads, d, scale, region,
			     scratch);
}
#endif /* SIMD_X86 */
