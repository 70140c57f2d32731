/* Weight gradients of the training's linear layers and convolutions:
 * C[M][N] += A^T B over K rows (a chunk of tokens or pixels), A [K][M] (the
 * output gradients) and B [K][N] (the layer's input, or its im2col rows).
 * M and N are the network's channel counts (8 to a few hundred) and K is
 * thousands of rows: BLIS's AVX-512 kernel packs both operands (A
 * transposed, by its plain-C packing kernel) and spent about as long
 * packing as multiplying (a sixth of a training step went there). This
 * kernel reads A and B where they lie.
 *
 * Every output is summed in chunks of WGRAD_KB rows: from zero, one fused
 * multiply-add per k in increasing k, the chunk's sum then added to C. The
 * AVX-512 and AVX2 paths and the plain twin give the same bits. */
#ifndef TF_WGRAD_H
#define TF_WGRAD_H

#include "cpu.h"

#define WGRAD_KB 128

/* C[M][N] += A^T B: A [K][M] rows lda apart, B [K][N] rows ldb apart, C
 * rows ldc apart. M, N >= 1, K >= 0. Single-threaded, allocates nothing.
 * On the CPU's fast path; on a CPU with neither, BLIS's gemm_tn (faster
 * than the plain twin there, and not its bits). How it compares with BLIS
 * at the training's shapes: make bench-wgrad (README: about 1.5-10x
 * BLIS's AVX-512 kernel on Zen 5, about even with its AVX2 one). */
void wgrad(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* Bias gradients: g[M] += the column sums of A [K][M] (rows lda apart),
 * each summed from zero in increasing k, then added. The fast paths keep
 * the sums of 4 vectors of columns in registers; a plain loop adding each
 * row into g waited on the previous row's store. */
void wgrad_bias(int M, int K, const float *A, int lda, float *g);
void wgrad_bias_ref(int M, int K, const float *A, int lda, float *g);
/* wgrad_bias on a given path (tests): 0, or -1 and nothing done. */
int wgrad_bias_path(enum simd_path path, int M, int K, const float *A, int lda, float *g);

/* The plain C twin (fmaf in the same order): the same bits. */
void wgrad_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* wgrad on a given path of cpu.h, for the tests; -1 (and nothing done) if
 * this CPU cannot run it or the path has no kernel. */
int wgrad_path(enum simd_path path, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
	       float *C, int ldc);

#endif
