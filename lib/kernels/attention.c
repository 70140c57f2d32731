/* Streaming multi-head attention on CPU.
 *
 * Layout. For each (sequence, head) the head's q, k and v are first copied
 * out of the wide qkv rows into scratch: q transposed to qt[c][i] (and
 * pre-multiplied by scale * log2(e), so that scores are in base-2 units and
 * the exponential is a bare 2^x), k and v of token j side by side in
 * kv[j][0..2d). The SIMD kernels then put 16 (AVX-512) or 8 (AVX2) queries in
 * the lanes of a vector and walk over the keys one at a time: a key's k and v
 * values are scalar broadcasts (folded into the FMAs as memory operands), so
 * there is no key tail to mask, no horizontal reduction, and the running max,
 * sum and output of each query simply live in its lane.
 *
 * Softmax. Each lane keeps a reference value m, accumulates p = 2^(s - m),
 * sum += p and o += p v, and divides at the end. The result does not depend
 * on m, which only has to keep the numbers in range: m starts at the query's
 * self-score (every token attends to itself, also under the region mask, so
 * that is a score of the row) raised towards the Cauchy-Schwarz bound
 * |q| max|k| (which no score exceeds) by at most ABOVE_SELF. So the largest p
 * is >= 2^-16, nothing that matters underflows, and usually no score exceeds
 * m at all. Each group of GROUP keys is checked afterwards: if some score of
 * a lane exceeded m by more than RESCALE_AT, that lane's m is raised to it,
 * the accumulators are restored from a checkpoint taken before the group and
 * rescaled, and the group is done again. That costs one max per score,
 * cheaper than a compare-and-branch per key or a running max with rescaling.
 *
 * Paths. d <= 8 and d = 16: "fused", q and the accumulators of a block of
 * queries in registers (for d = 16 the compiler keeps q in L1). Other d > 8:
 * keys in chunks of KC; the scores, then the probabilities, of a chunk are
 * staged in a small buffer, so that eight channels of q or of the
 * accumulators are held in registers at a time.
 *
 * Speed on Zen 4 (one core, d = 4): ~4 G scores/s with AVX-512, ~2.5 with
 * AVX2. 512-bit FMAs issue one per cycle there, and the d = 4 loop needs 11
 * FMA-unit operations per 16 scores (4 for q.k, 4 for p v, 3 in 2^x), which
 * is why the exponential avoids polynomials beyond degree 2.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention.h"
#include "cpu.h"

#if SIMD_X86
#include <immintrin.h>
#endif

#define LOG2E 1.44269504088896341f
/* a score may exceed the lane's reference by this much (base 2) before the
 * lane is rescaled: p <= 2^48, so sum(p) and sum(p v) stay finite for any
 * L < 2^20 and |v| < 2^60 */
#define RESCALE_AT 48.0f
/* how far above its self-score a query's starting reference may be put:
 * more means fewer redos, but the scores that matter, s - m, then carry the
 * rounding error of larger numbers */
#define ABOVE_SELF 16.0f
#define KC 64 /* keys per chunk in the d > 8 kernels */
/* keys per group in the fused kernels: the max check (and, rarely, a redo)
 * happens once per group rather than once per key */
#define GROUP 64
#define MASKED_OUT (-1e30f) /* score of a masked key: 2^that is exactly 0 */
/* keys per stage in the AVX2 fused kernel (see fused256) */
#define STAGE 8
#define ALIGN_FLOATS 16 /* 64 bytes */

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* One (sequence, head), prepared in scratch. */
struct head {
	float *qt; /* [d][Lp]: q * scale * log2e, transposed; lanes >= L are 0 */
	float *kv; /* [L+1][2d]: k of token j, then its v; row L is 0 (read ahead) */
	int *rg;   /* [Lp]: regions, lanes >= L repeat the last one; NULL: no mask */
	float *sp; /* [KC][16]: scores / probabilities of a chunk of keys */
	float *ob; /* [d][16]: output accumulators (chunked), output transpose */
	float *m0; /* [Lp]: starting references m (base 2) of the queries; 0 past L */
	int L, Lp, d;
};

size_t attention_scratch_floats(int L, int d)
{
	size_t Lp = round16((size_t)L), dd = (size_t)d;
	return ALIGN_FLOATS + dd * Lp + round16(2 * dd * ((size_t)L + 1)) + 2 * Lp + KC * 16 + dd * 16;
}

/* Carves scratch into the arrays of struct head (all 64-byte aligned). */
static void head_carve(struct head *hd, float *scratch, int L, int d, int masked)
{
	float *p = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
	size_t Lp = round16((size_t)L);
	hd->L = L, hd->Lp = (int)Lp, hd->d = d;
	hd->qt = p, p += (size_t)d * Lp;
	hd->kv = p, p += round16(2 * (size_t)d * ((size_t)L + 1));
	hd->rg = masked ? (int *)p : NULL, p += Lp;
	hd->sp = p, p += KC * 16;
	hd->ob = p, p += (size_t)d * 16;
	hd->m0 = p;
}

/* k and v of head h of sequence rows x[L][3C] into kv, for tokens t0..
 * (those before t0 are done by head_kv512, whose largest |k|^2 is kk).
 * Returns the largest norm of a k (for reference_score). */
static float head_load_kv(struct head *hd, const float *x, int C, int h, int t0, float kk)
{
	int L = hd->L, d = hd->d;
	for (int t = t0; t < L; t++) {
		const float *row = x + (size_t)t * 3 * C + (size_t)h * d + C;
		float *kv = hd->kv + (size_t)t * 2 * d, n2 = 0.0f;
		if (d % 4 == 0) { /* 16-byte moves: a runtime-length loop is slow for d = 4 */
			for (int c = 0; c < d; c += 4) {
				memcpy(kv + c, row + c, 16);
				memcpy(kv + d + c, row + C + c, 16);
			}
		} else {
			for (int c = 0; c < d; c++) {
				kv[c] = row[c];
				kv[d + c] = row[C + c];
			}
		}
		for (int c = 0; c < d; c++)
			n2 += kv[c] * kv[c];
		kk = n2 > kk ? n2 : kk;
	}
	memset(hd->kv + (size_t)L * 2 * d, 0, 2 * (size_t)d * sizeof(float));
	return sqrtf(kk);
}

/* The starting reference m of a query (see the top): its self-score, raised
 * towards the Cauchy-Schwarz bound |q| max|k| (>= every score of the row, so
 * that no rescaling is ever needed) by at most ABOVE_SELF. */
static float reference_score(float self, float qnorm2, float kmax)
{
	float bound = sqrtf(qnorm2) * kmax;
	bound = bound > self ? bound : self;
	return bound < self + ABOVE_SELF ? bound : self + ABOVE_SELF;
}

/* q of head h (scaled, transposed) and the references of tokens t0.. (those
 * before t0 are done by head_q512), the padding, and the regions. */
static void head_load_q(struct head *hd, const float *x, int C, int h, float qscale,
			const int *region, int t0, float kmax)
{
	int L = hd->L, Lp = hd->Lp, d = hd->d;
	for (int t = t0; t < L; t++) {
		const float *row = x + (size_t)t * 3 * C + (size_t)h * d;
		float self = 0.0f, n2 = 0.0f;
		for (int c = 0; c < d; c++) {
			float q = row[c] * qscale;
			hd->qt[(size_t)c * Lp + t] = q;
			self += q * row[C + c];
			n2 += q * q;
		}
		hd->m0[t] = reference_score(self, n2, kmax);
	}
	for (int t = L; t < Lp; t++) {
		for (int c = 0; c < d; c++)
			hd->qt[(size_t)c * Lp + t] = 0.0f;
		hd->m0[t] = 0.0f; /* a zero q scores 0 against anything */
	}
	if (hd->rg) {
		memcpy(hd->rg, region, (size_t)L * sizeof *region);
		for (int t = L; t < Lp; t++)
			hd->rg[t] = region[L - 1];
	}
}

/* out[l][c] = src[c][l] (src rows of 16 floats) for rows l < n, channels
 * c0 <= c < c1: the scalar part of writing a block's results. */
static void store_lanes(float *out, size_t ldo, int n, const float *src, int c0, int c1)
{
	for (int l = 0; l < n; l++)
		for (int c = c0; c < c1; c++)
			out[(size_t)l * ldo + c] = src[c * 16 + l];
}

/* ------------------------------------------------------------------ AVX-512 */
#if SIMD_X86

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
static const float exp2_tab[32] __attribute__((aligned(64))) = {
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
		_mm512_load_ps(exp2_tab), _mm512_load_ps(exp2_tab + 16), _mm512_set1_ps(EXP2_C1),
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

/* Computes queries i0 .. i0+lanes-1 and writes rows l < n of out[l][0..d). */
typedef void (*block_fn)(const struct head *hd, int i0, float *out, size_t ldo, int n);

static block_fn block512(int d)
{
	static const block_fn f[9] = {
		NULL, fused512_1, fused512_2, fused512_3, fused512_4,
		fused512_5, fused512_6, fused512_7, fused512_8,
	};
	return d <= 8 ? f[d] : d == 16 ? fused512_16 : chunked512;
}

/* -------------------------------------------------------------------- AVX2 */

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

/* dot512 for 8 lanes. */
static inline __attribute__((always_inline)) TARGET_AVX2 __m256
dot256(const __m256 *q, const float *k, __m256 negm, const int D)
{
	__m256 x = _mm256_mul_ps(q[0], _mm256_set1_ps(k[0]));
	if (D < 4) {
#pragma GCC unroll 16
		for (int c = 1; c < D; c++)
			x = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), x);
		return _mm256_add_ps(x, negm);
	}
	__m256 y = _mm256_mul_ps(q[1], _mm256_set1_ps(k[1]));
#pragma GCC unroll 16
	for (int c = 2; c < D; c++) {
		if (c % 2)
			y = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), y);
		else
			x = _mm256_fmadd_ps(q[c], _mm256_set1_ps(k[c]), x);
	}
	return _mm256_add_ps(_mm256_add_ps(x, y), negm);
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

/* One block of 8 queries starting at i0, d = D <= 8: the AVX2 twin of fused512
 * (with 16 registers, a q or two may live in memory for D = 8). */
static inline __attribute__((always_inline)) TARGET_AVX2 void
fused256(const struct head *hd, int i0, float *out, size_t ldo, int n, const int D,
	 const int masked)
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
		_mm256_store_ps(ck, sum);
#pragma GCC unroll 16
		for (int c = 0; c < D; c++)
			_mm256_store_ps(ck + 16 * (c + 1), o[c]);
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
					__m256 x = dot256(q, kv + b * 2 * D, negm, D);
					__m256 ok = all;
					if (masked) {
						ok = _mm256_castsi256_ps(_mm256_cmpeq_epi32(rq, _mm256_set1_epi32(hd->rg[j + b])));
						mx = _mm256_max_ps(mx, _mm256_blendv_ps(off, x, ok));
					} else {
						mx = _mm256_max_ps(mx, x);
					}
					xs[b] = x, oks[b] = ok;
				}
#pragma GCC unroll 8
				for (int b = 0; b < STAGE; b++)
					xs[b] = exp2_256(oks[b], xs[b]);
#pragma GCC unroll 8
				for (int b = 0; b < STAGE; b++) {
					sum = _mm256_add_ps(sum, xs[b]);
#pragma GCC unroll 16
					for (int c = 0; c < D; c++)
						o[c] = _mm256_fmadd_ps(xs[b], _mm256_set1_ps(kv[b * 2 * D + D + c]), o[c]);
				}
			}
			__m256 xn = dot256(q, kv, negm, D);
			for (; j < j1; j++, kv += 2 * D) {
				__m256 x = xn;
				xn = dot256(q, kv + 2 * D, negm, D);
				__m256 ok = all;
				if (masked) {
					ok = _mm256_castsi256_ps(_mm256_cmpeq_epi32(rq, _mm256_set1_epi32(hd->rg[j])));
					mx = _mm256_max_ps(mx, _mm256_blendv_ps(off, x, ok));
				} else {
					mx = _mm256_max_ps(mx, x);
				}
				__m256 p = exp2_256(ok, x);
				sum = _mm256_add_ps(sum, p);
#pragma GCC unroll 16
				for (int c = 0; c < D; c++)
					o[c] = _mm256_fmadd_ps(p, _mm256_set1_ps(kv[D + c]), o[c]);
			}
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
}

#define FUSED256(D)                                                                    \
	static TARGET_AVX2 void fused256_##D(const struct head *hd, int i0, float *out, size_t ldo, \
				       int n)                                                \
	{                                                                              \
		if (hd->rg)                                                            \
			fused256(hd, i0, out, ldo, n, D, 1);                           \
		else                                                                   \
			fused256(hd, i0, out, ldo, n, D, 0);                           \
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

/* Runs a SIMD path: prepare each (sequence, head), then blocks of lanes
 * queries each. */
typedef int (*qload_fn)(struct head *hd, const float *x, int C, int h, float qscale,
			float kmax);
typedef int (*kvload_fn)(struct head *hd, const float *x, int C, int h, float *kk);

static void run_blocks(block_fn blk, qload_fn qload, kvload_fn kvload, int lanes, float *out, const float *qkv,
		       int nseq, int L,
		       int heads, int d, float scale, const int *region, float *scratch)
{
	const int C = heads * d;
	struct head hd;
	head_carve(&hd, scratch, L, d, region != NULL);
	for (int s = 0; s < nseq; s++) {
		const float *x = qkv + (size_t)s * L * 3 * C;
		const int *rg = region ? region + (size_t)s * L : NULL;
		for (int h = 0; h < heads; h++) {
			float kk = 0.0f;
			int k0 = kvload ? kvload(&hd, x, C, h, &kk) : 0;
			float kmax = head_load_kv(&hd, x, C, h, k0, kk);
			int t0 = qload ? qload(&hd, x, C, h, scale * LOG2E, kmax) : 0;
			head_load_q(&hd, x, C, h, scale * LOG2E, rg, t0, kmax);
			for (int i0 = 0; i0 < L; i0 += lanes) {
				blk(&hd, i0, out + ((size_t)s * L + i0) * C + (size_t)h * d, (size_t)C,
				    L - i0 < lanes ? L - i0 : lanes);
			}
		}
	}
}
#endif /* SIMD_X86 */

/* ------------------------------------------------------------------ scalar */

/* Plain C for CPUs without AVX2: per query, the max, then exp and sums, the
 * scores computed twice rather than stored. scratch holds the d outputs. */
static void scalar_forward(float *out, const float *qkv, int nseq, int L, int heads, int d,
			   float scale, const int *region, float *scratch)
{
	const int C = heads * d;
	float *o = scratch;
	for (int s = 0; s < nseq; s++) {
		const float *x = qkv + (size_t)s * L * 3 * C;
		const int *rg = region ? region + (size_t)s * L : NULL;
		for (int h = 0; h < heads; h++)
			for (int i = 0; i < L; i++) {
				const float *q = x + (size_t)i * 3 * C + (size_t)h * d;
				float m = -INFINITY, sum = 0.0f;
				for (int j = 0; j < L; j++) {
					const float *k = x + (size_t)j * 3 * C + C + (size_t)h * d;
					float sc = 0.0f;
					if (rg && rg[j] != rg[i])
						continue;
					for (int c = 0; c < d; c++)
						sc += q[c] * k[c];
					m = sc * scale > m ? sc * scale : m;
				}
				for (int c = 0; c < d; c++)
					o[c] = 0.0f;
				for (int j = 0; j < L; j++) {
					const float *k = x + (size_t)j * 3 * C + C + (size_t)h * d;
					float sc = 0.0f, p;
					if (rg && rg[j] != rg[i])
						continue;
					for (int c = 0; c < d; c++)
						sc += q[c] * k[c];
					p = expf(sc * scale - m);
					sum += p;
					for (int c = 0; c < d; c++)
						o[c] += p * k[C + c];
				}
				float *dst = out + ((size_t)s * L + i) * C + (size_t)h * d;
				for (int c = 0; c < d; c++)
					dst[c] = o[c] / sum;
			}
	}
}

/* Double-precision reference: per query the max score, then exp and the
 * weighted sums, 32 output channels per sweep over the keys. */
void attention_forward_ref(float *out, const float *qkv, int nseq, int L, int heads, int d,
			   float scale, const int *region, float *scratch)
{
	const int C = heads * d;
	(void)scratch;
	for (int s = 0; s < nseq; s++)
		for (int h = 0; h < heads; h++)
			for (int i = 0; i < L; i++) {
				const float *x = qkv + (size_t)s * L * 3 * C + (size_t)h * d;
				const int *rg = region ? region + (size_t)s * L : NULL;
				const float *q = x + (size_t)i * 3 * C;
				double m = -INFINITY;
				for (int j = 0; j < L; j++) {
					const float *k = x + (size_t)j * 3 * C + C;
					double sc = 0.0;
					if (rg && rg[j] != rg[i])
						continue;
					for (int e = 0; e < d; e++)
						sc += (double)q[e] * k[e];
					m = fmax(m, sc * scale);
				}
				for (int c0 = 0; c0 < d; c0 += 32) {
					int nc = d - c0 < 32 ? d - c0 : 32;
					double acc[32] = {0}, sum = 0.0;
					for (int j = 0; j < L; j++) {
						const float *k = x + (size_t)j * 3 * C + C;
						double sc = 0.0, p;
						if (rg && rg[j] != rg[i])
							continue;
						for (int e = 0; e < d; e++)
							sc += (double)q[e] * k[e];
						p = exp(sc * scale - m);
						sum += p;
						for (int c = 0; c < nc; c++)
							acc[c] += p * k[C + c0 + c];
					}
					for (int c = 0; c < nc; c++)
						out[((size_t)s * L + i) * C + (size_t)h * d + c0 + c] = (float)(acc[c] / sum);
				}
			}
}

const char *attention_kernel_name(void)
{
	return simd_path_name(simd_best_path());
}

int attention_forward_path(enum simd_path path, float *out, const float *qkv, int nseq,
			   int L, int heads, int d, float scale, const int *region, float *scratch)
{
	if (!simd_path_supported(path))
		return -1;
	if (nseq <= 0 || L <= 0 || heads <= 0 || d <= 0)
		return 0;
	switch (path) {
#if SIMD_X86
	case SIMD_AVX512:
		run_blocks(block512(d), head_q512, head_kv512, 16, out, qkv, nseq, L, heads, d, scale, region, scratch);
		break;
	case SIMD_AVX2:
		run_blocks(block256(d), head_q256, head_kv256, 8, out, qkv, nseq, L, heads, d, scale, region, scratch);
		break;
#endif
	default:
		scalar_forward(out, qkv, nseq, L, heads, d, scale, region, scratch);
		break;
	}
	return 0;
}

void attention_forward(float *out, const float *qkv, int nseq, int L, int heads, int d,
		       float scale, const int *region, float *scratch)
{
	attention_forward_path(simd_best_path(), out, qkv, nseq, L, heads, d, scale, region, scratch);
}
