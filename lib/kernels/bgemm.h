/* bfloat16 matrix products for bf16 models: C (f32) (+)= A (bf16) . W^T
 * (bf16), the products of pairs summed in f32 as AVX512-BF16's vdpbf16ps
 * sums them.
 *
 * What vdpbf16ps does, per f32 lane i and pair (a0, a1) . (w0, w1):
 * acc = acc + a1 * w1, rounded once; then acc = acc + a0 * w0, rounded once
 * (the odd element first; each step a fused multiply-add: a product below
 * the smallest normal float is not flushed). Inputs and results below the
 * smallest normal float count as zero of their sign (DAZ, FTZ), whatever
 * MXCSR says; rounding is to nearest even.
 * vcvtne2ps2bf16 rounds f32 to bf16 to nearest even, a subnormal to zero
 * of its sign, a NaN to a quiet NaN. (Checked on Zen 4 against 3.2 million
 * random lanes: the odd-first order matches every one, the other orders
 * and a single rounding of both products do not; tests/unit/test_bgemm.c
 * checks products below FLT_MIN.)
 *
 * The plain C path does exactly those steps in the same order, so every
 * path's results are bit-identical. Paths are chosen at run time from the
 * CPU's features; TF_BGEMM=scalar or avx512bf16 overrides (for tests; a
 * path this CPU lacks is not taken), and TF_BGEMM=f32 makes a bf16 model
 * compute in f32 on its widened weights, as it does on a CPU without
 * AVX512-BF16 (bgemm_native). */
#ifndef TF_BGEMM_H
#define TF_BGEMM_H
#include <stddef.h>
#include <stdint.h>

#define BGEMM_NR 16 /* output channels per packed panel */

enum bgemm_path { BGEMM_SCALAR, BGEMM_AVX512BF16 };

/* One weight matrix W[N][K], prepared once. */
struct bmat {
	int N, K, Kp;     /* Kp: K rounded up to even */
	uint16_t *packed; /* [ceil(N/16)][Kp/2][16][2]: w[16p+j][2g+b] at [p][g][j][b], 0 past N, K */
};

/* Rounds w (rows ldw apart) to bf16 as vcvtne2ps2bf16 does and packs it;
 * allocates. -1 + message (sizes out of range, out of memory). */
int bmat_init(struct bmat *b, const float *w, int ldw, int N, int K);
void bmat_free(struct bmat *b);

/* f32 to bf16 as vcvtne2ps2bf16: nearest even, subnormals to zero of
 * their sign, NaN quiet. */
uint16_t bf16_round(float x);

/* Rows x[M][K] (rows ldx apart) rounded to bf16 into a[M][Kp] (rows lda
 * apart, the columns K..Kp-1 set to 0). */
void bf16_rows(uint16_t *a, int lda, const float *x, int ldx, int M, int K, int Kp);

/* C[m][n] (+)= S[m][n] for m < M, n < W.N, where S[m][n] is the f32 sum
 * over the pairs of a[m] (rows lda apart, Kp columns) and w[n], in order,
 * as vdpbf16ps sums them from 0; accumulate: C + S, else C = S (C is not
 * read). Single-threaded, allocates nothing. */
void bgemm(int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate, float *C, int ldc);

/* Does this machine run bgemm natively (AVX512-BF16, and TF_BGEMM does not
 * say f32 or scalar)? If not, a bf16 model computes in f32 instead, except
 * with TF_BGEMM=scalar (the plain path, for tests). */
int bgemm_wanted(void);
/* What bgemm runs: "avx512bf16" or "scalar". */
const char *bgemm_kernel_name(void);

/* On a given path, for tests and benchmarks: -1 (doing nothing) if this CPU
 * cannot run it. */
int bgemm_path(enum bgemm_path path, int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate,
	       float *C, int ldc);
int bf16_rows_path(enum bgemm_path path, uint16_t *a, int lda, const float *x, int ldx, int M, int K, int Kp);

/* Plain reference from the unpacked bf16 weights w[N][K] (rows ldw apart),
 * K columns of a: the same steps as bgemm (a last odd column paired with
 * zeros). */
void bgemm_ref(int M, int N, int K, const uint16_t *a, int lda, const uint16_t *w, int ldw, int accumulate,
	       float *C, int ldc);

#endif
