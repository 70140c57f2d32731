/* Matrix products for convolutions and linear layers: BLIS sgemm with a
 * kernel family chosen for this CPU, and a plain reference twin.
 * All matrices are row-major float32. */
#ifndef TF_GEMM_H
#define TF_GEMM_H

/* Picks the BLIS kernels for this CPU (once; thread-safe). Debian's BLIS 0.9
 * does not recognise every new CPU and may fall back to slow generic code;
 * TF_BLIS_ARCH=skx|zen3|haswell|generic (or BLIS_ARCH_TYPE=N) overrides. */
void gemm_init(void);
/* BLIS's context for that family (a cntx_t *): pass it to BLIS's expert
 * interface (bli_?xxx_ex) so other BLIS calls run on the same kernels. */
struct cntx_s;
struct cntx_s *gemm_blis_context(void);
/* "BLIS 0.9.0 skx (avx512)" : what gemm_* run on this machine. */
const char *gemm_describe(void);

/* BLIS keeps pools of packing buffers and small blocks that grow to the
 * number of threads inside it at once, and to the largest block asked for.
 * This has `threads` threads multiply blocks of BLIS's largest sizes at the
 * same moment (after a barrier), so that the pools are grown before a
 * planned forward pass, which then allocates nothing. Once per process for
 * each larger thread count (a few tens of ms); allocates (and frees) its
 * own operands; -1 out of memory. */
int gemm_prime(int threads);

/* The longest K that gemm_* sum in one pass (BLIS's KC blocking for the
 * chosen family): up to it every output is one chain of fused
 * multiply-adds in increasing k, which lib/kernels/smallgemm.c repeats bit
 * for bit; beyond it BLIS adds partial sums. */
int gemm_single_pass_k(void);

/* C[M][N] = A[M][K] . B[N][K]^T + beta * C   (B is a weight matrix, out x in)
 * lda, ldb, ldc are row strides. Single-threaded; callers parallelise. */
void gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
	     float beta, float *C, int ldc);
/* C[M][N] = A[M][K] . B[K][N] + beta * C */
void gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
	     float beta, float *C, int ldc);
/* C[M][N] = A[K][M]^T . B[K][N] + beta * C */
void gemm_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
	     float beta, float *C, int ldc);

/* Plain reference versions (double accumulation) for the tests. */
void gemm_nt_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
		 float beta, float *C, int ldc);
void gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
		 float beta, float *C, int ldc);
void gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
		 float beta, float *C, int ldc);

#endif
