/* Multi-head softmax attention for the transformer layers, streaming (online
 * softmax): no L x L score matrix is ever stored. */
#ifndef TF_ATTENTION_H
#define TF_ATTENTION_H
#include "cpu.h"
#include <stddef.h>

/* Multi-head attention, softmax(q k^T * scale) v per head, for nseq independent
 * sequences of L tokens each.
 * qkv: [nseq*L][3C] row-major: token t of sequence s is row s*L+t; columns
 *      [0,C) are q, [C,2C) k, [2C,3C) v; head h uses columns h*d..h*d+d-1 of each.
 * out: [nseq*L][C]; head h writes columns h*d..h*d+d-1 (heads concatenated).
 * C = heads*d, scale is normally 1/sqrt(d). L >= 1, d >= 1, any values.
 * region: NULL for no mask, or [nseq*L] ints: token i may attend to token j of the
 *         same sequence only if region[i] == region[j] (Swin shifted-window mask;
 *         a token always attends at least to itself).
 * scratch: at least attention_scratch_floats(L, d) floats, owned by the caller
 *         (one per thread); any alignment (the kernel aligns inside it). The
 *         kernel allocates nothing. Single-threaded: the caller parallelises
 *         over sequences. out must not overlap qkv. */
size_t attention_scratch_floats(int L, int d);
void attention_forward(float *out, const float *qkv, int nseq, int L, int heads, int d,
		       float scale, const int *region, float *scratch);

/* Plain C reference (double accumulation, libm exp), obviously correct and
 * slow; scratch is not used (may be NULL). For the tests. */
void attention_forward_ref(float *out, const float *qkv, int nseq, int L, int heads, int d,
			   float scale, const int *region, float *scratch);

/* "avx512", "avx2" or "scalar": what attention_forward runs on this machine
 * (simd_best_path, cpu.h). */
const char *attention_kernel_name(void);

/* attention_forward on a given path, for the tests and the benchmark.
 * Returns 0, or -1 (and does nothing) if this CPU cannot run that path. */
int attention_forward_path(enum simd_path path, float *out, const float *qkv, int nseq,
			   int L, int heads, int d, float scale, const int *region,
			   float *scratch);

/* attention_forward_path that also writes each query's log-sum-exp of its
 * scaled scores, lse[(s*L + i)*heads + h] = ln sum_j e^(scale q_i.k_j) over
 * the keys it may attend to (natural log): what the training's backward
 * pass needs (attention_train.h), at the inference kernel's speed. lse may
 * be NULL. */
int attention_forward_lse_path(enum simd_path path, float *out, float *lse, const float *qkv, int nseq,
			       int L, int heads, int d, float scale, const int *region, float *scratch);

#endif
