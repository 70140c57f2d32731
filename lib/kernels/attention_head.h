/* The attention kernels' shared parts, private to lib/kernels/attention*.c:
 * the constants of the streaming softmax, one (sequence, head) prepared in
 * scratch, and the driver that runs a SIMD path's blocks of queries over it
 * (attention.c). The design is described at the top of attention.c; the
 * paths are attention_avx512.c and attention_avx2.c. */
#ifndef TF_ATTENTION_HEAD_H
#define TF_ATTENTION_HEAD_H
#include <math.h>
#include <stddef.h>

#include "cpu.h"

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

/* One (sequence, head), prepared in scratch. */
struct head {
	float *qt; /* [d][Lp]: q * scale * log2e, transposed; lanes >= L are 0 */
	float *kv; /* [L+1][2d]: k of token j, then its v; row L is 0 (read ahead) */
	int *rg;   /* [Lp]: regions, lanes >= L repeat the last one; NULL: no mask */
	float *sp; /* [KC][16]: scores / probabilities of a chunk of keys */
	float *ob; /* [d][16]: output accumulators (chunked), output transpose */
	float *m0; /* [Lp]: starting references m (base 2) of the queries; 0 past L */
	float *lse; /* NULL, or query 0's log-sum-exp, query i's at lse[i * lse_ld] */
	float kmax; /* the largest |k| of the head's keys */
	int L, Lp, d, lse_ld;
};

/* Computes queries i0 .. i0+lanes-1 and writes rows l < n of out[l][0..d). */
typedef void (*block_fn)(const struct head *hd, int i0, float *out, size_t ldo, int n);
/* Vector loaders of q (with the references m0) and of k/v for whole blocks
 * of tokens; they return the number of tokens done, the scalar loaders do
 * the rest. NULL: all scalar. */
typedef int (*qload_fn)(struct head *hd, const float *x, int C, int h, float qscale, float kmax);
typedef int (*kvload_fn)(struct head *hd, const float *x, int C, int h, float *kk);

/* Runs a SIMD path: prepare each (sequence, head), then blocks of lanes
 * queries each (attention.c). lse: NULL or as attention_forward_lse's. */
void attention_run_blocks(block_fn blk, qload_fn qload, kvload_fn kvload, int lanes, float *out,
			  float *lse, const float *qkv, int nseq, int L, int heads, int d, float scale,
			  const int *region, float *scratch);

/* out[l][c] = src[c][l] (src rows of 16 floats) for rows l < n, channels
 * c0 <= c < c1: the scalar part of writing a block's results. */
static inline void store_lanes(float *out, size_t ldo, int n, const float *src, int c0, int c1)
{
	for (int l = 0; l < n; l++)
		for (int c = c0; c < c1; c++)
			out[(size_t)l * ldo + c] = src[c * 16 + l];
}

/* A block's log-sum-exps, if asked for: lanes l < n of its final
 * references m (as -m, the kernels' negm) and sums of 2^(s - m), both
 * stored as 16-float rows; the natural log-sum-exp of the scaled scores is
 * ln 2 (m + log2 sum). */
static inline void store_lse(const struct head *hd, int i0, int n, const float *negm, const float *sum)
{
	float *lse = hd->lse + (size_t)i0 * hd->lse_ld;
	for (int l = 0; l < n; l++)
		lse[(size_t)l * hd->lse_ld] = logf(sum[l]) - negm[l] * 0.693147180559945309f;
}

#if SIMD_X86
/* The two SIMD paths, arguments as attention_forward_lse's. */
void attention_avx512(float *out, float *lse, const float *qkv, int nseq, int L, int heads, int d,
		      float scale, const int *region, float *scratch);
void attention_avx2(float *out, float *lse, const float *qkv, int nseq, int L, int heads, int d,
		    float scale, const int *region, float *scratch);
#endif

#endif
