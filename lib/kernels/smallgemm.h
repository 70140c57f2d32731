/* Float products C = A . W^T of the network's layers whose K is at most
 * BLIS's KC, on a kernel of our own: the 1x1 convolutions and linear
 * layers of the narrow levels of a small model (8 or 16 channels), where
 * BLIS pads N to its 12- or 32-wide tiles and spends as long packing as
 * multiplying, and up to N = 512, where it is still faster than BLIS here
 * (Zen 4). The weights are packed once, transposed, and the product keeps
 * a block of rows' outputs in registers with N in the vector lanes, in
 * panels of 64 columns.
 *
 * Every output is summed as BLIS's AVX-512 kernels sum it: from zero, one
 * fused multiply-add per k in increasing k, then the old C added
 * (accumulate) and then the bias, each rounded once. So the fast paths,
 * the plain twin and, on an AVX-512 machine, gemm_nt (followed by
 * bias_add_forward) give the same bits. BLIS's AVX2 kernels sum across
 * lanes in another order; on an AVX2 machine the network's narrow products
 * are smallgemm's, in this order, whatever BLIS would give. */
#ifndef TF_SMALLGEMM_H
#define TF_SMALLGEMM_H

#include "cpu.h"

#define SMALLGEMM_MAX_N 512

/* Wt[K][N] = W[N][K]^T (rows ldw floats apart). */
void smallgemm_pack(float *Wt, const float *W, int ldw, int N, int K);

/* C[M][N] = A[M][K] . Wt (+ C when accumulate) (+ bias[n] when bias is
 * not NULL); A rows lda apart, C rows ldc apart, Wt from smallgemm_pack.
 * 1 <= N <= SMALLGEMM_MAX_N, K >= 1. Single-threaded, allocates nothing. */
void smallgemm(int M, int N, int K, const float *A, int lda, const float *Wt, const float *bias,
	       int accumulate, float *C, int ldc);

/* The plain C twin (fmaf in the same order): the same bits. */
void smallgemm_ref(int M, int N, int K, const float *A, int lda, const float *Wt, const float *bias,
		   int accumulate, float *C, int ldc);

/* Does this CPU run a fast path (AVX-512 F and VL, or AVX2, each with
 * FMA)? Without one callers keep BLIS, which is faster than the plain
 * twin. */
int smallgemm_available(void);

/* Does a float product of N outputs over K run on smallgemm? Where BLIS
 * would sum it in one pass (K up to its KC, gemm_single_pass_k): there
 * BLIS's AVX-512 kernels sum as smallgemm does, so that on such a machine
 * the output does not depend on the choice (BLIS's AVX2 kernels sum in
 * their own order, and on an AVX2 machine the output is smallgemm's). The
 * network's products (lib/nn/unet.c) and the training's
 * (lib/nn/train_layers.c) both ask this. */
int smallgemm_runs(int N, int K);

/* "avx512" or "avx2", or NULL when smallgemm_available() is false. */
const char *smallgemm_kernel_name(void);

/* smallgemm on a given path of cpu.h, for the tests; -1 (and nothing done) if this
 * CPU cannot run it. */
int smallgemm_path(enum simd_path path, int M, int N, int K, const float *A, int lda, const float *Wt, const float *bias,
		   int accumulate, float *C, int ldc);

#endif
