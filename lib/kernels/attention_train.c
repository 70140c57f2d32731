/* Attention for training. The forward pass is the inference kernel's
 * (attention.c) asked for the log-sum-exps as well. The backward pass goes
 * a query row at a time: for each (sequence, head) k and v are transposed
 * into kt[c][j], vt[c][j], so that every inner loop runs over the keys j
 * with unit stride and vectorises (the scores of query i, s[j] = sum_c q[c]
 * kt[c][j], their exponentials, the products with v); dk and dv are kept
 * transposed the same way and each query's contribution is added in query
 * order, so the result does not depend on threads (there are none inside).
 *
 * Instruction sets: every kernel below but pair4_avx2 and pair4_avx512 (two
 * queries of d = 4, written for each) is an always-inline body, compiled into one
 * function per path of cpu.h (AVX-512 with FMA, AVX2 with FMA, plain) and
 * picked at run time. GCC's target_clones cannot ask for
 * AVX2 and FMA together, and its "avx2" clones did each a*b+c as a multiply
 * and an add: with FMA (and -ffp-contract=fast for this file, see the
 * Makefile; -std=c11 turns contraction off) the backward pass was 1.3x
 * faster on an AVX2 machine. Contraction changes
 * roundings, so the paths agree with the reference within the tests'
 * tolerance, not bit for bit with each other; each path on its own is
 * deterministic. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "attention.h"
#include "attention_head.h"
#include "attention_train.h"
#include "fastexp.h"

#define BODY static inline __attribute__((always_inline))

#define MASKED (-INFINITY)

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

struct rows { /* one (sequence, head) in scratch */
	float *kt, *vt, *dkt, *dvt, *s, *p, *s2, *p2; /* s2, p2: a second query's */
	int Lp;
};

size_t attention_train_scratch_floats(int L, int d)
{
	size_t own = 16 + 4 * (size_t)d * round16((size_t)L) + 4 * round16((size_t)L) + 64;
	size_t forward = attention_scratch_floats(L, d);
	return own > forward ? own : forward;
}

static void carve(struct rows *r, float *scratch, int L, int d)
{
	float *p = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
	size_t Lp = round16((size_t)L);
	r->Lp = (int)Lp;
	r->kt = p, p += d * Lp;
	r->vt = p, p += d * Lp;
	r->dkt = p, p += d * Lp;
	r->dvt = p, p += d * Lp;
	r->s = p, p += Lp;
	r->p = p, p += Lp;
	r->s2 = p, p += Lp;
	r->p2 = p;
}

BODY void load_kv(struct rows *r, const float *x, int L, int C, int h, int d)
{
	for (int j = 0; j < L; j++) {
		const float *k = x + (size_t)j * 3 * C + C + (size_t)h * d;
		for (int c = 0; c < d; c++) {
			r->kt[(size_t)c * r->Lp + j] = k[c];
			r->vt[(size_t)c * r->Lp + j] = k[C + c];
		}
	}
	/* zero keys past L: pair4_avx2 runs over whole vectors, and a key of
	 * zeros adds nothing to dq */
	for (int c = 0; c < d; c++)
		for (int j = L; j < r->Lp; j++)
			r->kt[(size_t)c * r->Lp + j] = r->vt[(size_t)c * r->Lp + j] = 0.0f;
}

/* s[j] = scale q.k_j (or -inf where masked); returns the row's maximum. */
BODY float scores(const struct rows *r, const float *q, int L, int d, float scale,
		    const int *rg, int i)
{
	float *s = r->s, mx = MASKED;
	for (int j = 0; j < L; j++)
		s[j] = 0.0f;
	for (int c = 0; c < d; c++) {
		const float *kt = r->kt + (size_t)c * r->Lp;
		float qc = q[c] * scale;
#pragma omp simd
		for (int j = 0; j < L; j++)
			s[j] += qc * kt[j];
	}
	if (rg)
		for (int j = 0; j < L; j++)
			if (rg[j] != rg[i])
				s[j] = MASKED;
#pragma omp simd reduction(max : mx)
	for (int j = 0; j < L; j++)
		mx = s[j] > mx ? s[j] : mx;
	return mx;
}

BODY void backward_row4(const struct rows *r, float *dq, const float *q, const float *o,
			  const float *dout, float lse, int L, float scale)
{
	size_t Lp = (size_t)r->Lp;
	const float *k0 = r->kt, *k1 = k0 + Lp, *k2 = k1 + Lp, *k3 = k2 + Lp;
	const float *v0 = r->vt, *v1 = v0 + Lp, *v2 = v1 + Lp, *v3 = v2 + Lp;
	float *dk0 = r->dkt, *dk1 = dk0 + Lp, *dk2 = dk1 + Lp, *dk3 = dk2 + Lp;
	float *dv0 = r->dvt, *dv1 = dv0 + Lp, *dv2 = dv1 + Lp, *dv3 = dv2 + Lp;
	float q0 = q[0] * scale, q1 = q[1] * scale, q2 = q[2] * scale, q3 = q[3] * scale;
	float g0 = dout[0], g1 = dout[1], g2 = dout[2], g3 = dout[3];
	float D = g0 * o[0] + g1 * o[1] + g2 * o[2] + g3 * o[3];
	float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, *pb = r->p, *dsb = r->s;
	/* two loops: GCC does not vectorise the exponential's selects in a
	 * loop that also stores to dk and dv */
#pragma omp simd
	for (int j = 0; j < L; j++) {
		float sc = q0 * k0[j] + q1 * k1[j] + q2 * k2[j] + q3 * k3[j];
		float p = exp_nonpos(sc - lse);
		float dp = g0 * v0[j] + g1 * v1[j] + g2 * v2[j] + g3 * v3[j];
		pb[j] = p;
		dsb[j] = p * (dp - D);
	}
#pragma omp simd reduction(+ : a0, a1, a2, a3)
	for (int j = 0; j < L; j++) {
		float p = pb[j], ds = dsb[j];
		dv0[j] += p * g0, dv1[j] += p * g1, dv2[j] += p * g2, dv3[j] += p * g3;
		dk0[j] += q0 * ds, dk1[j] += q1 * ds, dk2[j] += q2 * ds, dk3[j] += q3 * ds;
		a0 += ds * k0[j], a1 += ds * k1[j], a2 += ds * k2[j], a3 += ds * k3[j];
	}
	dq[0] = a0 * scale, dq[1] = a1 * scale, dq[2] = a2 * scale, dq[3] = a3 * scale;
}

/* backward_row4 for two queries a and b at once: each key's k and v are
 * loaded once for both, and dk, dv are loaded and stored once per pair of
 * queries instead of once per query. dk and dv still get a's contribution
 * and then b's, so the sums are those of two backward_row4 calls. */
struct query4 {
	float *dq;
	const float *q, *o, *dout;
	float lse;
};

BODY void backward_pair4(const struct rows *r, struct query4 a, struct query4 b, int L, float scale)
{
	size_t Lp = (size_t)r->Lp;
	const float *k0 = r->kt, *k1 = k0 + Lp, *k2 = k1 + Lp, *k3 = k2 + Lp;
	const float *v0 = r->vt, *v1 = v0 + Lp, *v2 = v1 + Lp, *v3 = v2 + Lp;
	float *dk0 = r->dkt, *dk1 = dk0 + Lp, *dk2 = dk1 + Lp, *dk3 = dk2 + Lp;
	float *dv0 = r->dvt, *dv1 = dv0 + Lp, *dv2 = dv1 + Lp, *dv3 = dv2 + Lp;
	float qa0 = a.q[0] * scale, qa1 = a.q[1] * scale, qa2 = a.q[2] * scale, qa3 = a.q[3] * scale;
	float qb0 = b.q[0] * scale, qb1 = b.q[1] * scale, qb2 = b.q[2] * scale, qb3 = b.q[3] * scale;
	float ga0 = a.dout[0], ga1 = a.dout[1], ga2 = a.dout[2], ga3 = a.dout[3];
	float gb0 = b.dout[0], gb1 = b.dout[1], gb2 = b.dout[2], gb3 = b.dout[3];
	float Da = ga0 * a.o[0] + ga1 * a.o[1] + ga2 * a.o[2] + ga3 * a.o[3];
	float Db = gb0 * b.o[0] + gb1 * b.o[1] + gb2 * b.o[2] + gb3 * b.o[3];
	float *pa = r->p, *dsa = r->s, *pb = r->p2, *dsb = r->s2, lsea = a.lse, lseb = b.lse;
#pragma omp simd
	for (int j = 0; j < L; j++) {
		float sa = qa0 * k0[j] + qa1 * k1[j] + qa2 * k2[j] + qa3 * k3[j];
		float sb = qb0 * k0[j] + qb1 * k1[j] + qb2 * k2[j] + qb3 * k3[j];
		float ea = exp_nonpos(sa - lsea), eb = exp_nonpos(sb - lseb);
		float dpa = ga0 * v0[j] + ga1 * v1[j] + ga2 * v2[j] + ga3 * v3[j];
		float dpb = gb0 * v0[j] + gb1 * v1[j] + gb2 * v2[j] + gb3 * v3[j];
		pa[j] = ea, dsa[j] = ea * (dpa - Da);
		pb[j] = eb, dsb[j] = eb * (dpb - Db);
	}
	float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;
#pragma omp simd reduction(+ : a0, a1, a2, a3, b0, b1, b2, b3)
	for (int j = 0; j < L; j++) {
		float ea = pa[j], eb = pb[j], sa = dsa[j], sb = dsb[j];
		dv0[j] = dv0[j] + ea * ga0 + eb * gb0, dv1[j] = dv1[j] + ea * ga1 + eb * gb1;
		dv2[j] = dv2[j] + ea * ga2 + eb * gb2, dv3[j] = dv3[j] + ea * ga3 + eb * gb3;
		dk0[j] = dk0[j] + qa0 * sa + qb0 * sb, dk1[j] = dk1[j] + qa1 * sa + qb1 * sb;
		dk2[j] = dk2[j] + qa2 * sa + qb2 * sb, dk3[j] = dk3[j] + qa3 * sa + qb3 * sb;
		a0 += sa * k0[j], a1 += sa * k1[j], a2 += sa * k2[j], a3 += sa * k3[j];
		b0 += sb * k0[j], b1 += sb * k1[j], b2 += sb * k2[j], b3 += sb * k3[j];
	}
	a.dq[0] = a0 * scale, a.dq[1] = a1 * scale, a.dq[2] = a2 * scale, a.dq[3] = a3 * scale;
	b.dq[0] = b0 * scale, b.dq[1] = b1 * scale, b.dq[2] = b2 * scale, b.dq[3] = b3 * scale;
}

/* One query row of the backward pass: p = exp(s - lse), dp = dO.v_j,
 * ds = p (dp - dO.O); dq = scale ds.k, dk_j += scale q ds_j, dv_j += p_j dO. */
BODY void backward_row(const struct rows *r, float *dq, const float *q, const float *o,
			 const float *dout, float lse, int L, int d, float scale, const int *rg, int i)
{
	float *s = r->s, *p = r->p, D = 0.0f;
	scores(r, q, L, d, scale, rg, i);
	for (int c = 0; c < d; c++)
		D += dout[c] * o[c];
#pragma omp simd
	for (int j = 0; j < L; j++) {
		p[j] = exp_nonpos(s[j] - lse);
		s[j] = 0.0f; /* now dp */
	}
	for (int c = 0; c < d; c++) {
		const float *vt = r->vt + (size_t)c * r->Lp;
		float g = dout[c];
		float *dvt = r->dvt + (size_t)c * r->Lp;
#pragma omp simd
		for (int j = 0; j < L; j++) {
			s[j] += g * vt[j];
			dvt[j] += p[j] * g;
		}
	}
#pragma omp simd
	for (int j = 0; j < L; j++)
		s[j] = p[j] * (s[j] - D); /* now ds */
	for (int c = 0; c < d; c++) {
		const float *kt = r->kt + (size_t)c * r->Lp;
		float *dkt = r->dkt + (size_t)c * r->Lp, qc = q[c] * scale, acc = 0.0f;
#pragma omp simd reduction(+ : acc)
		for (int j = 0; j < L; j++) {
			acc += s[j] * kt[j];
			dkt[j] += qc * s[j];
		}
		dq[c] = acc * scale;
	}
}

#if SIMD_X86
#include "exp2_avx2.h"
#include "exp2_avx512.h"

static inline TARGET_AVX2 float hsum256(__m256 v)
{
	__m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	a = _mm_add_ps(a, _mm_movehl_ps(a, a));
	return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
}

/* backward_pair4 on AVX2, 8 keys in the lanes, in one pass: the scores in
 * base 2 (q pre-scaled by scale log2 e, so that p is 2^(s - lse log2 e)
 * by the attention kernel's table exponential, exp2_avx2.h), dp, ds, and
 * the updates of dv, dk and dq together, dk and dv loaded and stored once
 * for both queries. Keys past L are zero (load_kv): their p is not 0, but
 * their k and v are, so they add nothing to dq, and what they add to dk and
 * dv lies past L, which is never read. */
struct qconst {
	__m256 qs[4], qd[4], g[4], negl, negD;
};

static inline TARGET_AVX2 void qconst_set(struct qconst *k, const struct query4 *a, float scale)
{
	const float *q = a->q, *o = a->o, *g = a->dout;
	for (int c = 0; c < 4; c++) {
		k->qs[c] = _mm256_set1_ps(q[c] * scale * LOG2E);
		k->qd[c] = _mm256_set1_ps(q[c] * scale);
		k->g[c] = _mm256_set1_ps(g[c]);
	}
	k->negl = _mm256_set1_ps(-a->lse * LOG2E);
	k->negD = _mm256_set1_ps(-(g[0] * o[0] + g[1] * o[1] + g[2] * o[2] + g[3] * o[3]));
}

static TARGET_AVX2 void pair4_avx2(const struct rows *r, struct query4 a, struct query4 b, int L, float scale)
{
	const size_t Lp = (size_t)r->Lp;
	const float *kt = r->kt, *vt = r->vt;
	float *dkt = r->dkt, *dvt = r->dvt;
	const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
	struct qconst A, B;
	qconst_set(&A, &a, scale);
	qconst_set(&B, &b, scale);
	__m256 acca[4], accb[4];
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++)
		acca[c] = accb[c] = _mm256_setzero_ps();
	for (int j = 0; j < L; j += 8) {
		__m256 k[4], v[4];
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			k[c] = _mm256_load_ps(kt + c * Lp + j);
			v[c] = _mm256_load_ps(vt + c * Lp + j);
		}
		__m256 xa = A.negl, xb = B.negl, dpa = A.negD, dpb = B.negD;
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			xa = _mm256_fmadd_ps(A.qs[c], k[c], xa);
			xb = _mm256_fmadd_ps(B.qs[c], k[c], xb);
			dpa = _mm256_fmadd_ps(A.g[c], v[c], dpa);
			dpb = _mm256_fmadd_ps(B.g[c], v[c], dpb);
		}
		__m256 pa = exp2_256(all, xa), pb = exp2_256(all, xb);
		__m256 dsa = _mm256_mul_ps(pa, dpa), dsb = _mm256_mul_ps(pb, dpb);
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			float *dv = dvt + c * Lp + j, *dk = dkt + c * Lp + j;
			_mm256_store_ps(dv, _mm256_fmadd_ps(pb, B.g[c], _mm256_fmadd_ps(pa, A.g[c], _mm256_load_ps(dv))));
			_mm256_store_ps(dk, _mm256_fmadd_ps(dsb, B.qd[c], _mm256_fmadd_ps(dsa, A.qd[c], _mm256_load_ps(dk))));
			acca[c] = _mm256_fmadd_ps(dsa, k[c], acca[c]);
			accb[c] = _mm256_fmadd_ps(dsb, k[c], accb[c]);
		}
	}
	for (int c = 0; c < 4; c++) {
		a.dq[c] = hsum256(acca[c]) * scale;
		b.dq[c] = hsum256(accb[c]) * scale;
	}
}

/* pair4_avx2 with 16 keys in the lanes, 2^x by the AVX-512 attention
 * kernel's exponential (exp2_avx512.h); the same steps in the same order. */
struct qconst512 {
	__m512 qs[4], qd[4], g[4], negl, negD;
};

static inline TARGET_AVX512 void qconst512_set(struct qconst512 *k, const struct query4 *a, float scale)
{
	const float *q = a->q, *o = a->o, *g = a->dout;
	for (int c = 0; c < 4; c++) {
		k->qs[c] = _mm512_set1_ps(q[c] * scale * LOG2E);
		k->qd[c] = _mm512_set1_ps(q[c] * scale);
		k->g[c] = _mm512_set1_ps(g[c]);
	}
	k->negl = _mm512_set1_ps(-a->lse * LOG2E);
	k->negD = _mm512_set1_ps(-(g[0] * o[0] + g[1] * o[1] + g[2] * o[2] + g[3] * o[3]));
}

static TARGET_AVX512 void pair4_avx512(const struct rows *r, struct query4 a, struct query4 b, int L,
				       float scale)
{
	const size_t Lp = (size_t)r->Lp;
	const float *kt = r->kt, *vt = r->vt;
	float *dkt = r->dkt, *dvt = r->dvt;
	const struct exp2c512 e = exp2c512_load();
	struct qconst512 A, B;
	qconst512_set(&A, &a, scale);
	qconst512_set(&B, &b, scale);
	__m512 acca[4], accb[4];
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++)
		acca[c] = accb[c] = _mm512_setzero_ps();
	for (int j = 0; j < L; j += 16) {
		__m512 k[4], v[4];
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			k[c] = _mm512_load_ps(kt + c * Lp + j);
			v[c] = _mm512_load_ps(vt + c * Lp + j);
		}
		__m512 xa = A.negl, xb = B.negl, dpa = A.negD, dpb = B.negD;
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			xa = _mm512_fmadd_ps(A.qs[c], k[c], xa);
			xb = _mm512_fmadd_ps(B.qs[c], k[c], xb);
			dpa = _mm512_fmadd_ps(A.g[c], v[c], dpa);
			dpb = _mm512_fmadd_ps(B.g[c], v[c], dpb);
		}
		__m512 pa = exp2_512(&e, 0xffff, xa), pb = exp2_512(&e, 0xffff, xb);
		__m512 dsa = _mm512_mul_ps(pa, dpa), dsb = _mm512_mul_ps(pb, dpb);
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			float *dv = dvt + c * Lp + j, *dk = dkt + c * Lp + j;
			_mm512_store_ps(dv, _mm512_fmadd_ps(pb, B.g[c], _mm512_fmadd_ps(pa, A.g[c], _mm512_load_ps(dv))));
			_mm512_store_ps(dk, _mm512_fmadd_ps(dsb, B.qd[c], _mm512_fmadd_ps(dsa, A.qd[c], _mm512_load_ps(dk))));
			acca[c] = _mm512_fmadd_ps(dsa, k[c], acca[c]);
			accb[c] = _mm512_fmadd_ps(dsb, k[c], accb[c]);
		}
	}
	for (int c = 0; c < 4; c++) {
		a.dq[c] = _mm512_reduce_add_ps(acca[c]) * scale;
		b.dq[c] = _mm512_reduce_add_ps(accb[c]) * scale;
	}
}

/* One query row of the backward pass for any d <= ROW512_MAX_D, masked or
 * not, 16 keys in the lanes in one pass (as pair4_avx512 does for two
 * queries of d = 4): the score in base 2, p, dp, ds, then dv, dk and the
 * lanes of dq. Masked keys and keys past L get p = 0 through the
 * exponential's lane mask, so they add nothing anywhere (the generic
 * backward_row's per-channel loops were bound by loads and stores of the
 * score row, and GCC summed its dq reduction one float at a time). */
#define ROW512_MAX_D 32

static inline __attribute__((always_inline)) TARGET_AVX512 void
row512(const struct rows *r, float *dq, const float *q, const float *o, const float *dout, float lse, int L,
       const int d, float scale, const int *rg, int i)
{
	const size_t Lp = (size_t)r->Lp;
	const struct exp2c512 e = exp2c512_load();
	float qs[ROW512_MAX_D], qd[ROW512_MAX_D], D = 0.0f;
	__m512 acc[ROW512_MAX_D];
	for (int c = 0; c < d; c++) {
		qs[c] = q[c] * scale * LOG2E;
		qd[c] = q[c] * scale;
		D += dout[c] * o[c];
		acc[c] = _mm512_setzero_ps();
	}
	const __m512 negl = _mm512_set1_ps(-lse * LOG2E), negD = _mm512_set1_ps(-D);
	const __m512i ri = _mm512_set1_epi32(rg ? rg[i] : 0);
	for (int j = 0; j < L; j += 16) {
		__mmask16 live = L - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (L - j)) - 1);
		if (rg)
			live = _mm512_mask_cmpeq_epi32_mask(live, _mm512_maskz_loadu_epi32(live, rg + j), ri);
		__m512 x = negl, dp = negD;
		for (int c = 0; c < d; c++) {
			x = _mm512_fmadd_ps(_mm512_set1_ps(qs[c]), _mm512_load_ps(r->kt + c * Lp + j), x);
			dp = _mm512_fmadd_ps(_mm512_set1_ps(dout[c]), _mm512_load_ps(r->vt + c * Lp + j), dp);
		}
		__m512 p = exp2_512(&e, live, x);
		__m512 ds = _mm512_mul_ps(p, dp);
		for (int c = 0; c < d; c++) {
			float *dv = r->dvt + c * Lp + j, *dk = r->dkt + c * Lp + j;
			_mm512_store_ps(dv, _mm512_fmadd_ps(p, _mm512_set1_ps(dout[c]), _mm512_load_ps(dv)));
			_mm512_store_ps(dk, _mm512_fmadd_ps(ds, _mm512_set1_ps(qd[c]), _mm512_load_ps(dk)));
			acc[c] = _mm512_fmadd_ps(ds, _mm512_load_ps(r->kt + c * Lp + j), acc[c]);
		}
	}
	for (int c = 0; c < d; c++)
		dq[c] = _mm512_reduce_add_ps(acc[c]) * scale;
}

/* row512 with d a constant where the network has it (its loops unrolled) */
#define ROW512(D)                                                                                              \
	static TARGET_AVX512 void row512_##D(const struct rows *r, float *dq, const float *q, const float *o,   \
					     const float *dout, float lse, int L, float scale, const int *rg, int i) \
	{                                                                                                      \
		row512(r, dq, q, o, dout, lse, L, D, scale, rg, i);                                            \
	}
ROW512(4)
ROW512(8)
ROW512(16)
ROW512(32)

static TARGET_AVX512 void row512_any(const struct rows *r, float *dq, const float *q, const float *o,
				     const float *dout, float lse, int L, int d, float scale, const int *rg, int i)
{
	switch (d) {
	case 4: row512_4(r, dq, q, o, dout, lse, L, scale, rg, i); break;
	case 8: row512_8(r, dq, q, o, dout, lse, L, scale, rg, i); break;
	case 16: row512_16(r, dq, q, o, dout, lse, L, scale, rg, i); break;
	case 32: row512_32(r, dq, q, o, dout, lse, L, scale, rg, i); break;
	default: row512(r, dq, q, o, dout, lse, L, d, scale, rg, i); break;
	}
}
#endif

BODY void backward_all(float *dqkv, const float *dout, const float *qkv, const float *out,
		       const float *lse, int nseq, int L, int heads, int d, float scale,
		       const int *region, float *scratch, const enum simd_path path)
{
	int C = heads * d;
	struct rows r;
	carve(&r, scratch, L, d);
	for (int sq = 0; sq < nseq; sq++) {
		const float *x = qkv + (size_t)sq * L * 3 * C;
		float *dx = dqkv + (size_t)sq * L * 3 * C;
		const int *rg = region ? region + (size_t)sq * L : NULL;
		for (int h = 0; h < heads; h++) {
			load_kv(&r, x, L, C, h, d);
			memset(r.dkt, 0, 2 * (size_t)d * r.Lp * sizeof(float)); /* dkt, dvt */
			int i = 0;
			if (d == 4 && !rg)
				for (; i + 1 < L; i += 2) {
					size_t row = (size_t)sq * L + i;
					struct query4 a = {dx + (size_t)i * 3 * C + (size_t)h * d,
							   x + (size_t)i * 3 * C + (size_t)h * d,
							   out + row * C + (size_t)h * d, dout + row * C + (size_t)h * d,
							   lse[row * heads + h]};
					struct query4 b = {a.dq + 3 * C, a.q + 3 * C, a.o + C, a.dout + C,
							   lse[(row + 1) * heads + h]};
#if SIMD_X86
					if (path == SIMD_AVX512)
						pair4_avx512(&r, a, b, L, scale);
					else if (path == SIMD_AVX2)
						pair4_avx2(&r, a, b, L, scale);
					else
#endif
						backward_pair4(&r, a, b, L, scale);
				}
			for (; i < L; i++) {
				size_t row = (size_t)sq * L + i;
#if SIMD_X86
				if (path == SIMD_AVX512 && d <= ROW512_MAX_D) {
					row512_any(&r, dx + (size_t)i * 3 * C + (size_t)h * d,
						   x + (size_t)i * 3 * C + (size_t)h * d, out + row * C + (size_t)h * d,
						   dout + row * C + (size_t)h * d, lse[row * heads + h], L, d, scale, rg, i);
					continue;
				}
#endif
				if (d == 4 && !rg)
					backward_row4(&r, dx + (size_t)i * 3 * C + (size_t)h * d,
						      x + (size_t)i * 3 * C + (size_t)h * d, out + row * C + (size_t)h * d,
						      dout + row * C + (size_t)h * d, lse[row * heads + h], L, scale);
				else
					backward_row(&r, dx + (size_t)i * 3 * C + (size_t)h * d,
						     x + (size_t)i * 3 * C + (size_t)h * d,
						     out + row * C + (size_t)h * d, dout + row * C + (size_t)h * d,
						     lse[row * heads + h], L, d, scale, rg, i);
			}
			for (int j = 0; j < L; j++)
				for (int c = 0; c < d; c++) {
					dx[(size_t)j * 3 * C + C + (size_t)h * d + c] = r.dkt[(size_t)c * r.Lp + j];
					dx[(size_t)j * 3 * C + 2 * C + (size_t)h * d + c] = r.dvt[(size_t)c * r.Lp + j];
				}
		}
	}
}

/* ------------------------------------------------------- one function per path */

#define FWD_PARAMS                                                                              \
	float *out, float *lse, const float *qkv, int nseq, int L, int heads, int d, float scale, \
		const int *region, float *scratch
#define FWD_ARGS out, lse, qkv, nseq, L, heads, d, scale, region, scratch
#define BWD_PARAMS                                                                          \
	float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse, \
		int nseq, int L, int heads, int d, float scale, const int *region, float *scratch
#define BWD_ARGS dqkv, dout, qkv, out, lse, nseq, L, heads, d, scale, region, scratch

static void backward_plain(BWD_PARAMS)
{
	backward_all(BWD_ARGS, SIMD_PLAIN);
}

#if SIMD_X86
TARGET_AVX512 static void backward_avx512(BWD_PARAMS)
{
	backward_all(BWD_ARGS, SIMD_AVX512);
}

TARGET_AVX2 static void backward_avx2(BWD_PARAMS)
{
	backward_all(BWD_ARGS, SIMD_AVX2);
}
#endif

/* The forward pass is the inference kernel's (attention.c), which gives the
 * log-sum-exps too: queries in the lanes and one pass over the keys, about
 * 1.75 times as fast as a row at a time here (d = 4, AVX2). */
int attention_train_forward_path(enum simd_path path, FWD_PARAMS)
{
	return attention_forward_lse_path(path, out, lse, qkv, nseq, L, heads, d, scale, region, scratch);
}

int attention_backward_path(enum simd_path path, BWD_PARAMS)
{
	if (!simd_path_supported(path))
		return -1;
#if SIMD_X86
	if (path == SIMD_AVX512)
		return backward_avx512(BWD_ARGS), 0;
	if (path == SIMD_AVX2)
		return backward_avx2(BWD_ARGS), 0;
#endif
	backward_plain(BWD_ARGS);
	return 0;
}

void attention_train_forward(FWD_PARAMS)
{
	attention_train_forward_path(simd_best_path(), FWD_ARGS);
}

void attention_backward(BWD_PARAMS)
{
	attention_backward_path(simd_best_path(), BWD_ARGS);
}

/* ---------------------------------------------------------------- references */

/* P[i][j] of one (sequence, head) in double; lse[i] too. */
static void ref_probs(double *P, double *lse, const float *x, int L, int C, int h, int d,
		      float scale, const int *rg)
{
	for (int i = 0; i < L; i++) {
		double mx = -INFINITY, sum = 0;
		for (int j = 0; j < L; j++) {
			double s = 0;
			for (int c = 0; c < d; c++)
				s += (double)x[(size_t)i * 3 * C + h * d + c] * x[(size_t)j * 3 * C + C + h * d + c];
			s *= scale;
			if (rg && rg[i] != rg[j])
				s = -INFINITY;
			P[(size_t)i * L + j] = s;
			mx = s > mx ? s : mx;
		}
		for (int j = 0; j < L; j++)
			sum += exp(P[(size_t)i * L + j] - mx);
		lse[i] = mx + log(sum);
		for (int j = 0; j < L; j++)
			P[(size_t)i * L + j] = exp(P[(size_t)i * L + j] - lse[i]);
	}
}

void attention_train_forward_ref(float *out, float *lse, const float *qkv, int nseq, int L,
				 int heads, int d, float scale, const int *region, float *scratch)
{
	int C = heads * d;
	double *P = malloc((size_t)L * L * sizeof *P), *ls = malloc((size_t)L * sizeof *ls);
	for (int sq = 0; sq < nseq; sq++) {
		const float *x = qkv + (size_t)sq * L * 3 * C;
		for (int h = 0; h < heads; h++) {
			ref_probs(P, ls, x, L, C, h, d, scale, region ? region + (size_t)sq * L : NULL);
			for (int i = 0; i < L; i++) {
				size_t row = (size_t)sq * L + i;
				lse[row * heads + h] = (float)ls[i];
				for (int c = 0; c < d; c++) {
					double o = 0;
					for (int j = 0; j < L; j++)
						o += P[(size_t)i * L + j] * x[(size_t)j * 3 * C + 2 * C + h * d + c];
					out[row * C + h * d + c] = (float)o;
				}
			}
		}
	}
	free(P), free(ls);
}

void attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *out,
			    const float *lse, int nseq, int L, int heads, int d, float scale,
			    const int *region, float *scratch)
{
	int C = heads * d;
	double *P = malloc((size_t)L * L * sizeof *P), *ls = malloc((size_t)L * sizeof *ls);
	double *dS = malloc((size_t)L * L * sizeof *dS);
	for (int sq = 0; sq < nseq; sq++) {
		const float *x = qkv + (size_t)sq * L * 3 * C, *g = dout + (size_t)sq * L * C;
		float *dx = dqkv + (size_t)sq * L * 3 * C;
		for (int h = 0; h < heads; h++) {
			ref_probs(P, ls, x, L, C, h, d, scale, region ? region + (size_t)sq * L : NULL);
			for (int i = 0; i < L; i++) {
				double rowsum = 0;
				for (int j = 0; j < L; j++) {
					double dp = 0;
					for (int c = 0; c < d; c++)
						dp += (double)g[(size_t)i * C + h * d + c] * x[(size_t)j * 3 * C + 2 * C + h * d + c];
					dS[(size_t)i * L + j] = dp;
					rowsum += P[(size_t)i * L + j] * dp;
				}
				for (int j = 0; j < L; j++)
					dS[(size_t)i * L + j] = P[(size_t)i * L + j] * (dS[(size_t)i * L + j] - rowsum);
			}
			for (int i = 0; i < L; i++)
				for (int c = 0; c < d; c++) {
					double dq = 0, dk = 0, dv = 0;
					for (int j = 0; j < L; j++) {
						dq += dS[(size_t)i * L + j] * x[(size_t)j * 3 * C + C + h * d + c];
						dk += dS[(size_t)j * L + i] * x[(size_t)j * 3 * C + h * d + c];
						dv += P[(size_t)j * L + i] * g[(size_t)j * C + h * d + c];
					}
					dx[(size_t)i * 3 * C + h * d + c] = (float)(dq * scale);
					dx[(size_t)i * 3 * C + C + h * d + c] = (float)(dk * scale);
					dx[(size_t)i * 3 * C + 2 * C + h * d + c] = (float)dv;
				}
		}
	}
	free(P), free(ls), free(dS);
}
