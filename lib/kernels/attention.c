/* Streaming multi-head attention on CPU: the design, the scalar path, the
 * double-precision reference and the driver of the SIMD paths, which are
 * attention_avx512.c and attention_avx2.c (their shared parts:
 * attention_head.h).
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
 * is why the exponential avoids polynomials beyond degree 2. On a Zen 3
 * core (AVX2, two 256-bit FMA pipes) the d = 4 kernel does ~2.4 G scores/s
 * (bench/attention_bench.c), about 11 cycles per 8 scores for 12 FMA-unit
 * operations: it is bound by how many keys' chains of dependent operations
 * the scheduler holds more than by the FMA pipes, and every operation
 * taken out of a key's chain counted, so the AVX2 scores start their FMA
 * chain from -m and 2^floor(j) goes into the table entry (exp2_avx2.h),
 * and a block of queries whose scores are bounded well inside the range
 * (block_bounded; every block of the shipped model) skips the max per
 * score and the clamp of 2^x.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention.h"
#include "attention_head.h"
#include "cpu.h"

#define ALIGN_FLOATS 16 /* 64 bytes */

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* One (sequence, head), prepared in scratch. */

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

/* The driver of the SIMD paths (attention_head.h). */
void attention_run_blocks(block_fn blk, qload_fn qload, kvload_fn kvload, int lanes, float *out,
			  float *lse, const float *qkv, int nseq, int L, int heads, int d, float scale,
			  const int *region, float *scratch)
{
	const int C = heads * d;
	struct head hd;
	head_carve(&hd, scratch, L, d, region != NULL);
	hd.lse_ld = heads;
	for (int s = 0; s < nseq; s++) {
		const float *x = qkv + (size_t)s * L * 3 * C;
		const int *rg = region ? region + (size_t)s * L : NULL;
		for (int h = 0; h < heads; h++) {
			float kk = 0.0f;
			hd.lse = lse ? lse + (size_t)s * L * heads + h : NULL;
			int k0 = kvload ? kvload(&hd, x, C, h, &kk) : 0;
			float kmax = head_load_kv(&hd, x, C, h, k0, kk);
			hd.kmax = kmax;
			int t0 = qload ? qload(&hd, x, C, h, scale * LOG2E, kmax) : 0;
			head_load_q(&hd, x, C, h, scale * LOG2E, rg, t0, kmax);
			for (int i0 = 0; i0 < L; i0 += lanes) {
				blk(&hd, i0, out + ((size_t)s * L + i0) * C + (size_t)h * d, (size_t)C,
				    L - i0 < lanes ? L - i0 : lanes);
			}
		}
	}
}

/* ------------------------------------------------------------------ scalar */

/* Plain C for CPUs without AVX2: per query, the max, then exp and sums, the
 * scores computed twice rather than stored. scratch holds the d outputs. */
static void scalar_forward(float *out, float *lse, const float *qkv, int nseq, int L, int heads, int d,
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
				if (lse)
					lse[((size_t)s * L + i) * heads + h] = m + logf(sum);
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

int attention_forward_lse_path(enum simd_path path, float *out, float *lse, const float *qkv, int nseq,
			       int L, int heads, int d, float scale, const int *region, float *scratch)
{
	if (!simd_path_supported(path))
		return -1;
	if (nseq <= 0 || L <= 0 || heads <= 0 || d <= 0)
		return 0;
	switch (path) {
#if SIMD_X86
	case SIMD_AVX512:
		attention_avx512(out, lse, qkv, nseq, L, heads, d, scale, region, scratch);
		break;
	case SIMD_AVX2:
		attention_avx2(out, lse, qkv, nseq, L, heads, d, scale, region, scratch);
		break;
#endif
	default:
		scalar_forward(out, lse, qkv, nseq, L, heads, d, scale, region, scratch);
		break;
	}
	return 0;
}

int attention_forward_path(enum simd_path path, float *out, const float *qkv, int nseq,
			   int L, int heads, int d, float scale, const int *region, float *scratch)
{
	return attention_forward_lse_path(path, out, NULL, qkv, nseq, L, heads, d, scale, region, scratch);
}

void attention_forward(float *out, const float *qkv, int nseq, int L, int heads, int d,
		       float scale, const int *region, float *scratch)
{
	attention_forward_path(simd_best_path(), out, qkv, nseq, L, heads, d, scale, region, scratch);
}
