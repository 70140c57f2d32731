/* The AVX2 path of the attention kernel: 8 queries in the lanes (the design
 * is described at the top of attention.c). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention_head.h"
#include "exp2_avx2.h"

#if SIMD_X86
#include <immintrin.h>

/* The scores of a key less the references, q.k - m for 8 lanes: one FMA
 * chain that starts from -m for d <= 4 (four dependent FMAs are cheaper
 * than a mul and adds, and the keys of a stage overlap their latencies),
 * two chains for larger d, the even channels' starting from -m. */
static inline __attribute__((always_inline)) TARGET_AVX2 __m256
dot256(const __m256 *q, const float *k, __m256 negm, const int D)
{
	__m256 x = _mm256_fmadd_ps(q[0], _mm256_set1_ps(k[0]), negm);
	if (D <= 4) {
#pragma GCC unroll 16
		for (int c = 1; c < D; c++)
			x = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), x);
		return x;
	}
	__m256 y = _mm256_mul_ps(q[1], _mm256_set1_ps(k[1]));
#pragma GCC unroll 16
	for (int c = 2; c < D; c++) {
		if (c % 2)
			y = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), y);
		else
			x = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), x);
	}
	return _mm256_add_ps(x, y);
}

/* store4x16 for 8 lanes. */
static inline TARGET_AVX2 void store4x8(float *out, size_t ldo, int n, __m256 a, __m256 b, __m256 c,
				   __m256 d, float *tmp)
{
	__m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
	__m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
	_mm256_store_ps(tmp, _mm256_shuffle_ps(t0, t2, 0x44));
	_mm256_store_ps(tmp + 16, _mm256_shuffle_ps(t0, t2, 0xee));
	_mm256_store_ps(tmp + 32, _mm256_shuffle_ps(t1, t3, 0x44));
	_mm256_store_ps(tmp + 48, _mm256_shuffle_ps(t1, t3, 0xee));
	for (int l = 0; l < n; l++)
		_mm_storeu_ps(out + (size_t)l * ldo, _mm_load_ps(tmp + 16 * (l & 3) + 4 * (l >> 2)));
}

/* Rows r[0..8) of 4 floats (row stride ld) to channels a..d across the 8
 * lanes: load16x4 for 8 lanes. */
static inline TARGET_AVX2 void load8x4(const float *r, size_t ld, __m256 *a, __m256 *b, __m256 *c, __m256 *d)
{
	__m256 u[4];
	for (int m = 0; m < 4; m++) /* chunk k of u[m] is row 4 k + m */
		u[m] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r + (size_t)m * ld)),
					    _mm_loadu_ps(r + (size_t)(4 + m) * ld), 1);
	__m256 t0 = _mm256_unpacklo_ps(u[0], u[1]), t1 = _mm256_unpackhi_ps(u[0], u[1]);
	__m256 t2 = _mm256_unpacklo_ps(u[2], u[3]), t3 = _mm256_unpackhi_ps(u[2], u[3]);
	*a = _mm256_shuffle_ps(t0, t2, 0x44);
	*b = _mm256_shuffle_ps(t0, t2, 0xee);
	*c = _mm256_shuffle_ps(t1, t3, 0x44);
	*d = _mm256_shuffle_ps(t1, t3, 0xee);
}

/* head_q512 for 8 lanes. Products and sums are rounded one at a time in
 * channel order, as head_load_q rounds them (no FMA), so the references m0
 * and hence the outputs are those of the scalar loader, bit for bit. */
static TARGET_AVX2 int head_q256(struct head *hd, const float *x, int C, int h, float qscale, float kmax)
{
	const __m256 km = _mm256_set1_ps(kmax), above = _mm256_set1_ps(ABOVE_SELF);
	const int L = hd->L, Lp = hd->Lp, d = hd->d;
	const __m256 sc = _mm256_set1_ps(qscale);
	const size_t ld = 3 * (size_t)C;
	int t0 = 0;
	if (d % 4)
		return 0;
	for (; t0 + 8 <= L; t0 += 8) {
		const float *r = x + (size_t)t0 * ld + (size_t)h * d;
		__m256 self = _mm256_setzero_ps(), n2 = _mm256_setzero_ps();
		for (int c = 0; c < d; c += 4) {
			__m256 q[4], k[4];
			load8x4(r + c, ld, &q[0], &q[1], &q[2], &q[3]);
			load8x4(r + C + c, ld, &k[0], &k[1], &k[2], &k[3]);
			for (int m = 0; m < 4; m++) {
				q[m] = _mm256_mul_ps(q[m], sc);
				_mm256_store_ps(hd->qt + (size_t)(c + m) * Lp + t0, q[m]);
				self = _mm256_add_ps(self, _mm256_mul_ps(q[m], k[m]));
				n2 = _mm256_add_ps(n2, _mm256_mul_ps(q[m], q[m]));
			}
		}
		/* reference_score */
		__m256 bound = _mm256_max_ps(_mm256_mul_ps(_mm256_sqrt_ps(n2), km), self);
		_mm256_store_ps(hd->m0 + t0, _mm256_min_ps(bound, _mm256_add_ps(self, above)));
	}
	return t0;
}

/* head_kv512 for 8 lanes, the norms rounded as head_load_kv rounds them. */
static TARGET_AVX2 int head_kv256(struct head *hd, const float *x, int C, int h, float *kk)
{
	const int L = hd->L, d = hd->d;
	const size_t ld = 3 * (size_t)C;
	__m256 mx = _mm256_setzero_ps();
	int t0 = 0;
	*kk = 0.0f;
	if (d % 4)
		return 0;
	for (; t0 + 8 <= L; t0 += 8) {
		const float *r = x + (size_t)t0 * ld + (size_t)h * d + C;
		__m256 n2 = _mm256_setzero_ps();
		for (int c = 0; c < d; c += 4) {
			__m256 k[4];
			load8x4(r + c, ld, &k[0], &k[1], &k[2], &k[3]);
			for (int m = 0; m < 4; m++)
				n2 = _mm256_add_ps(n2, _mm256_mul_ps(k[m], k[m]));
		}
		mx = _mm256_max_ps(mx, n2);
		for (int t = 0; t < 8; t++) {
			const float *row = r + (size_t)t * ld;
			float *kv = hd->kv + (size_t)(t0 + t) * 2 * d;
			for (int c = 0; c < d; c += 4) {
				_mm_storeu_ps(kv + c, _mm_loadu_ps(row + c));
				_mm_storeu_ps(kv + d + c, _mm_loadu_ps(row + C + c));
			}
		}
	}
	__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	*kk = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
	return t0;
}

/* For one key (its region rk) and 8 queries' scores x: the lanes that may
 * attend to it (all ones or zero), and their scores folded into the max mx
 * unless the block is bounded (block_bounded: no max needed). */
static inline __attribute__((always_inline)) TARGET_AVX2 __m256
key_mask256(__m256 x, __m256i rq, int rk, __m256 *mx, const int masked, const int bounded)
{
	if (!masked) {
		if (!bounded)
			*mx = _mm256_max_ps(*mx, x);
		return _mm256_castsi256_ps(_mm256_set1_epi32(-1));
	}
	__m256 ok = _mm256_castsi256_ps(_mm256_cmpeq_epi32(rq, _mm256_set1_epi32(rk)));
	if (!bounded)
		*mx = _mm256_max_ps(*mx, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, ok));
	return ok;
}

/* Whether no score of the block's queries can need a rescale or the
 * clamp of 2^x: every score s of query i lies within its Cauchy-Schwarz
 * bound b = |q_i| max|k|, so s - m0 <= b - m0 and s - m0 >= -b - m0. With
 * b - m0 <= 40 no score passes m0 by RESCALE_AT (48), and with b + m0 <= 116
 * none falls below -125 (margins far above the rounding of b and the
 * scores). Then the block needs neither the max per score nor the clamp:
 * the same bits, 2 of 21 operations per 8 scores fewer. Padding lanes
 * (q = 0, m0 = 0) pass. */
static inline __attribute__((always_inline)) TARGET_AVX2 int
block_bounded(const struct head *hd, const __m256 *q, int i0, const int D)
{
	__m256 n2 = _mm256_mul_ps(q[0], q[0]);
#pragma GCC unroll 16
	for (int c = 1; c < D; c++)
		n2 = _mm256_fmadd_ps(q[c], q[c], n2);
	__m256 b = _mm256_mul_ps(_mm256_sqrt_ps(n2), _mm256_set1_ps(hd->kmax));
	__m256 m0 = _mm256_load_ps(hd->m0 + i0);
	__m256 over = _mm256_or_ps(_mm256_cmp_ps(_mm256_sub_ps(b, m0), _mm256_set1_ps(40.0f), _CMP_GT_OQ),
				   _mm256_cmp_ps(_mm256_add_ps(b, m0), _mm256_set1_ps(116.0f), _CMP_GT_OQ));
	return _mm256_movemask_ps(over) == 0;
}

/* sum += p and o[c] += p v[c] for one key's probabilities p and its v. */
static inline __attribute__((always_inline)) TARGET_AVX2 void
accumulate256(__m256 p, const float *v, __m256 *sum, __m256 *o, const int D)
{
	*sum = _mm256_add_ps(*sum, p);
#pragma GCC unroll 16
	for (int c = 0; c < D; c++)
		o[c] = _mm256_fmadd_ps(p, _mm256_set1_ps(v[c]), o[c]);
}

/* One block of 8 queries starting at i0, d = D <= 8: the AVX2 twin of fused512
 * (with 16 registers, a q or two may live in memory for D = 8). */
static inline __attribute__((always_inline)) TARGET_AVX2 void
fused256(const struct head *hd, int i0, float *out, size_t ldo, int n, const int D,
	 const int masked, const int bounded)
{
	const int L = hd->L, Lp = hd->Lp;
	const __m256 thr = _mm256_set1_ps(RESCALE_AT);
	const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
	__m256 q[8], o[8], sum = _mm256_setzero_ps();
#pragma GCC unroll 16
	for (int c = 0; c < D; c++) {
		q[c] = _mm256_load_ps(hd->qt + (size_t)c * Lp + i0);
		o[c] = _mm256_setzero_ps();
	}
	__m256 negm = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_load_ps(hd->m0 + i0));
	__m256i rq = masked ? _mm256_load_si256((const __m256i *)(hd->rg + i0)) : _mm256_setzero_si256();
	const __m256 off = _mm256_set1_ps(-INFINITY);
	float *ck = hd->sp; /* checkpoint, as in fused512 */
	for (int j0 = 0; j0 < L; j0 += GROUP) {
		const int j1 = L - j0 < GROUP ? L : j0 + GROUP;
		if (!bounded) {
			_mm256_store_ps(ck, sum);
#pragma GCC unroll 16
			for (int c = 0; c < D; c++)
				_mm256_store_ps(ck + 16 * (c + 1), o[c]);
		}
		for (;;) {
			__m256 mx = off;
			const float *kv = hd->kv + (size_t)j0 * 2 * D;
			int j = j0;
			/* STAGE keys at a time: their scores, then their exponentials,
			 * then their sums, so that the independent work of several keys
			 * sits close together in the instruction stream (each key's
			 * chain from score to sums is long, and the loop below,
			 * one key at a time, only overlaps as many keys as the
			 * scheduler holds). The same operations in the same order of
			 * keys: the same bits. */
			for (; j + STAGE <= j1; j += STAGE, kv += STAGE * 2 * D) {
				__m256 xs[STAGE], oks[STAGE];
#pragma GCC unroll 8
				for (int b = 0; b < STAGE; b++) {
					xs[b] = dot256(q, kv + b * 2 * D, negm, D);
					oks[b] = key_mask256(xs[b], rq, masked ? hd->rg[j + b] : 0, &mx, masked, bounded);
				}
#pragma GCC unroll 8
				for (int b = 0; b < STAGE; b++)
					xs[b] = bounded ? exp2_256_from_m125(oks[b], xs[b]) : exp2_256(oks[b], xs[b]);
#pragma GCC unroll 8
				for (int b = 0; b < STAGE; b++)
					accumulate256(xs[b], kv + b * 2 * D + D, &sum, o, D);
			}
			__m256 xn = dot256(q, kv, negm, D);
			for (; j < j1; j++, kv += 2 * D) {
				__m256 x = xn;
				xn = dot256(q, kv + 2 * D, negm, D);
				__m256 ok = key_mask256(x, rq, masked ? hd->rg[j] : 0, &mx, masked, bounded);
				accumulate256(bounded ? exp2_256_from_m125(ok, x) : exp2_256(ok, x), kv + D, &sum, o, D);
			}
			if (bounded)
				break;
			__m256 big = _mm256_cmp_ps(mx, thr, _CMP_GT_OQ);
			if (__builtin_expect(_mm256_movemask_ps(big) == 0, 1))
				break;
			__m256 negm2 = _mm256_blendv_ps(negm, _mm256_sub_ps(negm, mx), big);
			__m256 f = exp2_256(all, _mm256_sub_ps(negm2, negm));
			sum = _mm256_mul_ps(_mm256_load_ps(ck), f);
#pragma GCC unroll 16
			for (int c = 0; c < D; c++)
				o[c] = _mm256_mul_ps(_mm256_load_ps(ck + 16 * (c + 1)), f);
			negm = negm2;
		}
	}
	__m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
#pragma GCC unroll 16
	for (int c = 0; c < D; c++)
		o[c] = _mm256_mul_ps(o[c], inv);
#pragma GCC unroll 4
	for (int c = 0; c + 4 <= D; c += 4)
		store4x8(out + c, ldo, n, o[c], o[c + 1], o[c + 2], o[c + 3], hd->sp);
	if (D % 4) {
#pragma GCC unroll 16
		for (int c = D & ~3; c < D; c++)
			_mm256_store_ps(hd->ob + c * 16, o[c]);
		store_lanes(out, ldo, n, hd->ob, D & ~3, D);
	}
	if (hd->lse) {
		_mm256_store_ps(hd->sp, negm);
		_mm256_store_ps(hd->sp + 16, sum);
		store_lse(hd, i0, n, hd->sp, hd->sp + 16);
	}
}

/* One block of 8 queries, any d: the AVX2 twin of chunked512 (sp and ob keep
 * their 16-float stride, using 8 of them). */
static TARGET_AVX2 void chunked256(const struct head *hd, int i0, float *out, size_t ldo, int n)
{
	const int L = hd->L, Lp = hd->Lp, d = hd->d;
	const __m256 thr = _mm256_set1_ps(RESCALE_AT), off = _mm256_set1_ps(MASKED_OUT);
	const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
	float *sp = hd->sp, *ob = hd->ob;
	__m256 sum = _mm256_setzero_ps();
	__m256 negm = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_load_ps(hd->m0 + i0));
	__m256i rq = hd->rg ? _mm256_load_si256((const __m256i *)(hd->rg + i0)) : _mm256_setzero_si256();
	for (int c = 0; c < d; c++)
		_mm256_store_ps(ob + c * 16, _mm256_setzero_ps());
	for (int j0 = 0; j0 < L; j0 += KC) {
		const int nk = L - j0 < KC ? L - j0 : KC;
		const float *kv = hd->kv + (size_t)j0 * 2 * d;
		int c0 = 0;
		for (; c0 + 8 <= d; c0 += 8) {
			__m256 q[8];
#pragma GCC unroll 16
			for (int c = 0; c < 8; c++)
				q[c] = _mm256_load_ps(hd->qt + (size_t)(c0 + c) * Lp + i0);
			for (int j = 0; j < nk; j++) {
				const float *k = kv + (size_t)j * 2 * d + c0;
				__m256 x = c0 ? _mm256_load_ps(sp + j * 16) : _mm256_setzero_ps();
#pragma GCC unroll 16
				for (int c = 0; c < 8; c++)
					x = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), x);
				_mm256_store_ps(sp + j * 16, x);
			}
		}
		for (; c0 < d; c0++) {
			__m256 qc = _mm256_load_ps(hd->qt + (size_t)c0 * Lp + i0);
			for (int j = 0; j < nk; j++) {
				__m256 x = c0 ? _mm256_load_ps(sp + j * 16) : _mm256_setzero_ps();
				x = _mm256_fmadd_ps(qc, _mm256_set1_ps(kv[(size_t)j * 2 * d + c0]), x);
				_mm256_store_ps(sp + j * 16, x);
			}
		}
		__m256 mx = off;
		for (int j = 0; j < nk; j++) {
			__m256 x = _mm256_add_ps(_mm256_load_ps(sp + j * 16), negm);
			if (hd->rg) {
				__m256 ok = _mm256_castsi256_ps(
					_mm256_cmpeq_epi32(rq, _mm256_set1_epi32(hd->rg[j0 + j])));
				x = _mm256_blendv_ps(off, x, ok);
			}
			_mm256_store_ps(sp + j * 16, x);
			mx = _mm256_max_ps(mx, x);
		}
		__m256 big = _mm256_cmp_ps(mx, thr, _CMP_GT_OQ);
		__m256 delta = _mm256_setzero_ps();
		if (_mm256_movemask_ps(big)) {
			__m256 negm2 = _mm256_blendv_ps(negm, _mm256_sub_ps(negm, mx), big);
			delta = _mm256_sub_ps(negm2, negm);
			__m256 f = exp2_256(all, delta);
			sum = _mm256_mul_ps(sum, f);
			for (int c = 0; c < d; c++)
				_mm256_store_ps(ob + c * 16, _mm256_mul_ps(_mm256_load_ps(ob + c * 16), f));
			negm = negm2;
		}
		for (int j = 0; j < nk; j++) {
			__m256 p = exp2_256(all, _mm256_add_ps(_mm256_load_ps(sp + j * 16), delta));
			sum = _mm256_add_ps(sum, p);
			_mm256_store_ps(sp + j * 16, p);
		}
		for (c0 = 0; c0 + 8 <= d; c0 += 8) {
			__m256 o[8];
#pragma GCC unroll 16
			for (int c = 0; c < 8; c++)
				o[c] = _mm256_load_ps(ob + (c0 + c) * 16);
			for (int j = 0; j < nk; j++) {
				const float *v = kv + (size_t)j * 2 * d + d + c0;
				__m256 p = _mm256_load_ps(sp + j * 16);
#pragma GCC unroll 16
				for (int c = 0; c < 8; c++)
					o[c] = _mm256_fmadd_ps(p, _mm256_set1_ps(v[c]), o[c]);
			}
#pragma GCC unroll 16
			for (int c = 0; c < 8; c++)
				_mm256_store_ps(ob + (c0 + c) * 16, o[c]);
		}
		for (; c0 < d; c0++) {
			__m256 oc = _mm256_load_ps(ob + c0 * 16);
			for (int j = 0; j < nk; j++)
				oc = _mm256_fmadd_ps(_mm256_load_ps(sp + j * 16),
						     _mm256_set1_ps(kv[(size_t)j * 2 * d + d + c0]), oc);
			_mm256_store_ps(ob + c0 * 16, oc);
		}
	}
	__m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
	int c = 0;
	for (; c + 4 <= d; c += 4)
		store4x8(out + c, ldo, n, _mm256_mul_ps(_mm256_load_ps(ob + c * 16), inv),
			 _mm256_mul_ps(_mm256_load_ps(ob + c * 16 + 16), inv),
			 _mm256_mul_ps(_mm256_load_ps(ob + c * 16 + 32), inv),
			 _mm256_mul_ps(_mm256_load_ps(ob + c * 16 + 48), inv), sp);
	for (int r = c; r < d; r++)
		_mm256_store_ps(ob + r * 16, _mm256_mul_ps(_mm256_load_ps(ob + r * 16), inv));
	store_lanes(out, ldo, n, ob, c, d);
	if (hd->lse) {
		_mm256_store_ps(hd->sp, negm);
		_mm256_store_ps(hd->sp + 16, sum);
		store_lse(hd, i0, n, hd->sp, hd->sp + 16);
	}
}

#define FUSED256(D)                                                                    \
	static TARGET_AVX2 void fused256_##D(const struct head *hd, int i0, float *out, size_t ldo, \
				       int n)                                                \
	{                                                                              \
		__m256 q[D];                                                           \
		for (int c = 0; c < D; c++)                                            \
			q[c] = _mm256_load_ps(hd->qt + (size_t)c * hd->Lp + i0);       \
		int bd = block_bounded(hd, q, i0, D);                                  \
		if (hd->rg && bd)                                                      \
			fused256(hd, i0, out, ldo, n, D, 1, 1);                        \
		else if (hd->rg)                                                       \
			fused256(hd, i0, out, ldo, n, D, 1, 0);                        \
		else if (bd)                                                           \
			fused256(hd, i0, out, ldo, n, D, 0, 1);                        \
		else                                                                   \
			fused256(hd, i0, out, ldo, n, D, 0, 0);                        \
	}
FUSED256(1)
FUSED256(2)
FUSED256(3)
FUSED256(4)
FUSED256(5)
FUSED256(6)
FUSED256(7)
FUSED256(8)

static block_fn block256(int d)
{
	static const block_fn f[9] = {
		NULL, fused256_1, fused256_2, fused256_3, fused256_4,
		fused256_5, fused256_6, fused256_7, fused256_8,
	};
	return d <= 8 ? f[d] : chunked256;
}

void attention_avx2(float *out, float *lse, const float *qkv, int nseq, int L, int heads, int d,
		    float scale, const int *region, float *scratch)
{
	attention_run_blocks(block256(d), head_q256, head_kv256, 8, out, lse, qkv, nseq, L, heads, d, scale, region,
			     scratch);
}
#endif /* SIMD_X86 */
