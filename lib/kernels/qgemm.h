/* Int8 matrix products for the q8 and q8s models: activations quantised per
 * row (or with one calibrated scale), weights int8 with a scale per output
 * channel, products summed exactly in int32, then scaled back to float.
 *
 * Activations are stored as unsigned bytes q + 128 (q in [-127, 127]),
 * because AVX512-VNNI's vpdpbusd multiplies unsigned by signed bytes; the
 * shift is undone with the weights' row sums: sum (q+128) w - 128 sum w.
 * Every path (plain C, AVX2, AVX512-VNNI) computes the same int32 sums and
 * the same float operations after them, so their results are bit-identical.
 * Paths are chosen at run time from the CPU's features; TF_QGEMM=scalar,
 * avx2 or vnni overrides (for tests; a path this CPU lacks is not taken). */
#ifndef TF_QGEMM_H
#define TF_QGEMM_H
#include <stddef.h>
#include <stdint.h>

#define QGEMM_NR 16       /* output channels per packed panel */
#define QGEMM_MAX_K 65536 /* |sum| <= 255 * 128 * K stays below 2^31 */
#define QGEMM_ZERO 128    /* the stored byte of a zero activation */

enum qgemm_path { QGEMM_SCALAR, QGEMM_AVX2, QGEMM_VNNI };

/* One weight matrix W[N][K], prepared once. */
struct qmat {
	int N, K, Kp;     /* Kp: K rounded up to a multiple of 4 */
	int8_t *packed;   /* [ceil(N/16)][Kp/4][16][4]: w[16p+j][4g+b] at [p][g][j][b] */
	int32_t *corr;    /* [ceil(N/16)*16]: 128 * sum_k w[n][k] */
	float *scale;     /* [ceil(N/16)*16]: per output channel, 0 past N */
};

/* Packs w (rows ldw apart) with per-row scales; allocates. -1 + message
 * (K above QGEMM_MAX_K, out of memory). */
int qmat_init(struct qmat *q, const int8_t *w, int ldw, const float *scale, int N, int K);
void qmat_free(struct qmat *q);

/* Quantises rows x[M][K] (rows ldx apart) into q[M][Kp] (rows ldq apart,
 * the columns K..Kp-1 set to QGEMM_ZERO) and their scales: with
 * static_scale <= 0 per row, s = max|x| / 127 (0 for a zero row);
 * otherwise s = static_scale for every row, values beyond 127 s clamped.
 * Stored: clamp(rint(x * (1/s)), -127, 127) + 128, where 1/s is 127 / max|x|
 * per row. */
void quantize_rows(uint8_t *q, int ldq, float *rowscale, const float *x, int ldx, int M, int K,
		   int Kp, float static_scale);

/* x[m][k] (rows ldx apart) replaced by what quantize_rows with a per-row
 * scale stores for it, dequantised: clamp(rint(x * (1/s)), -127, 127) * s,
 * with s and 1/s exactly as there. The activation fake-quantisation of
 * quantisation-aware training (tf-train --qat). */
void quantize_rows_fake(float *x, int ldx, int M, int K);

/* C[m][n] (+)= ((float)S[m][n] * rowscale[m]) * W.scale[n] for m < M,
 * n < W.N, where S[m][n] = sum_k (q[m][k] - 128) w[n][k]; accumulate: add
 * to C, else overwrite it (C is not read). Single-threaded, allocates
 * nothing. */
void qgemm(int M, const uint8_t *q, int ldq, const float *rowscale, const struct qmat *W,
	   int accumulate, float *C, int ldc);

/* What qgemm runs on this machine: "vnni", "avx2" or "scalar". */
const char *qgemm_kernel_name(void);

/* On a given path, for tests and benchmarks: -1 (doing nothing) if this CPU
 * cannot run it. qgemm_s32_path writes the int32 sums S (shift undone). */
int qgemm_path(enum qgemm_path path, int M, const uint8_t *q, int ldq, const float *rowscale,
	       const struct qmat *W, int accumulate, float *C, int ldc);
int qgemm_s32_path(enum qgemm_path path, int M, const uint8_t *q, int ldq, const struct qmat *W,
		   int32_t *S, int lds);
int quantize_rows_path(enum qgemm_path path, uint8_t *q, int ldq, float *rowscale, const float *x,
		       int ldx, int M, int K, int Kp, float static_scale);

/* Plain references from the unpacked weights w[N][K] (rows ldw apart):
 * int64 sums, then the same float steps as qgemm. */
void qgemm_s32_ref(int M, int N, int K, const uint8_t *q, int ldq, const int8_t *w, int ldw, int32_t *S,
		   int lds);
void qgemm_ref(int M, int N, int K, const uint8_t *q, int ldq, const float *rowscale, const int8_t *w,
	       int ldw, const float *wscale, int accumulate, float *C, int ldc);

#endif
