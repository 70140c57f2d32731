/* Multi-head attention for training: a forward pass that also returns each
 * query's log-sum-exp, and the backward pass in the flash-attention manner:
 * scores and probabilities are recomputed one query row at a time from q, k
 * and the log-sum-exp, so no L x L matrix is stored, and
 * dS = P o (dP - rowsum(dO o O)).
 * Layouts as in attention.h: qkv [nseq*L][3C] (q | k | v, head h at columns
 * h*d..h*d+d-1 of each), out [nseq*L][C]; lse [nseq*L][heads] (natural log).
 * region: NULL, or [nseq*L] ints (token i sees token j of its sequence only
 * if their regions are equal). Single-threaded, allocates nothing: scratch
 * is attention_train_scratch_floats(L, d) floats. */
#ifndef TF_ATTENTION_TRAIN_H
#define TF_ATTENTION_TRAIN_H
#include <stddef.h>

#include "cpu.h"

size_t attention_train_scratch_floats(int L, int d);
void attention_train_forward(float *out, float *lse, const float *qkv, int nseq, int L, int heads,
			     int d, float scale, const int *region, float *scratch);
/* dqkv [nseq*L][3C] = dL/dqkv given dout = dL/dout (overwritten, not added). */
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
			const float *lse, int nseq, int L, int heads, int d, float scale,
			const int *region, float *scratch);

/* The two on a given path of cpu.h (tests, benchmarks): 0, or -1
 * and nothing done if this CPU cannot run it. The functions above take
 * simd_best_path(). */
int attention_train_forward_path(enum simd_path path, float *out, float *lse,
				 const float *qkv, int nseq, int L, int heads, int d, float scale,
				 const int *region, float *scratch);
int attention_backward_path(enum simd_path path, float *dqkv, const float *dout,
			    const float *qkv, const float *out, const float *lse, int nseq, int L,
			    int heads, int d, float scale, const int *region, float *scratch);

/* Plain references in double that build each head's whole probability
 * matrix (tests only; scratch unused). */
void attention_train_forward_ref(float *out, float *lse, const float *qkv, int nseq, int L,
				 int heads, int d, float scale, const int *region, float *scratch);
void attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *out,
			    const float *lse, int nseq, int L, int heads, int d, float scale,
			    const int *region, float *scratch);

#endif
