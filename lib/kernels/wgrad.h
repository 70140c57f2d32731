/* Weight gradients of the training's linear layers and 1x1 convolutions:
 * C[M][N] += A^T B over the K rows of a chunk of tokens, A [K][M] (the
 * output gradients) and B [K][N] (the layer's input). M and N are the
 * network's channel counts (8 to a few hundred) and K is thousands of rows:
 * BLIS packs both operands (A transposed, by its plain-C packing kernel)
 * and spends about as long packing as multiplying (a tenth of a training
 * step went there). This kernel reads A and B where they lie.
 *
 * Every output is summed in chunks of WGRAD_KB rows: from zero, one fused
 * multiply-add per k in increasing k, the chunk's sum then added to C. The
 * fast path and the plain twin give the same bits. */
#ifndef TF_WGRAD_H
#define TF_WGRAD_H

#include "cpu.h"

#define WGRAD_KB 128

/* C[M][N] += A^T B: A [K][M] rows lda apart, B [K][N] rows ldb apart, C
 * rows ldc apart. M, N >= 1, K >= 0. Single-threaded, allocates nothing. */
void wgrad(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* The plain C twin (fmaf in the same order): the same bits. */
void wgrad_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* Does an M x N weight gradient run on wgrad here? On AVX-512 always
 * (1.5x BLIS at 256 x 64, 3-8x at 8 to 64 channels; Zen 5); on AVX2 where
 * M N <= 2048 (the AVX2 path was 1.8-7x BLIS's AVX-512 kernel at 8 to 64
 * channels and 0.75x at 256 x 64, measured on Zen 5; BLIS's own AVX2
 * kernel is left the wide ones). No: callers keep BLIS (gemm_tn), which
 * is faster than the plain twin. */
int wgrad_runs(int M, int N);

/* wgrad on a given path of cpu.h, for the tests; -1 (and nothing done) if
 * this CPU cannot run it or the path has no kernel. */
int wgrad_path(enum simd_path path, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
	       float *C, int ldc);

#endif
