/* bfloat16 products (bgemm.h). The weights are packed in panels of 16
 * output channels, two k at a time: the 64 bytes of one k-pair of a panel
 * are exactly what vdpbf16ps takes as one operand, with the pair of a row
 * broadcast to every lane as the other (the layout of qgemm.c's int8
 * panels, with pairs for quads). */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bgemm.h"
#include "cpu.h"
#include "error.h"
#include "tensor.h"

#ifdef __x86_64__
#include <immintrin.h>
#define HAVE_X86 1
#define TGT_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#else
#define HAVE_X86 0
#endif

#define PAIR_BYTES (BGEMM_NR * 4) /* one k-pair of one panel */
#define ROW_BLOCK 128             /* rows per pass over the weights */
#define MAX_K (1 << 24)

static int panels(int N)
{
	return (N + BGEMM_NR - 1) / BGEMM_NR;
}

uint16_t bf16_round(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	if ((u & 0x7f800000) == 0)
		return (uint16_t)((u >> 16) & 0x8000); /* zero or subnormal */
	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((u >> 16) | 0x40); /* NaN, quiet */
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

int bmat_init(struct bmat *b, const float *w, int ldw, int N, int K)
{
	memset(b, 0, sizeof *b);
	if (N < 1 || K < 1 || K > MAX_K)
		return tf_seterr("bf16 product of %d x %d: sizes out of range (K at most %d)", N, K, MAX_K);
	int P = panels(N), Kp = (K + 1) & ~1, G = Kp / 2;
	b->N = N, b->K = K, b->Kp = Kp;
	size_t n = (size_t)P * G * BGEMM_NR * 2;
	if (!(b->packed = tf_alloc_aligned(n, sizeof *b->packed)))
		return -1;
	memset(b->packed, 0, n * sizeof *b->packed);
	for (int o = 0; o < N; o++)
		for (int k = 0; k < K; k++)
			b->packed[(((size_t)(o / BGEMM_NR) * G + k / 2) * BGEMM_NR + o % BGEMM_NR) * 2 + k % 2] =
				bf16_round(w[(size_t)o * ldw + k]);
	return 0;
}

void bmat_free(struct bmat *b)
{
	free(b->packed);
	memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ plain C */

static float widen(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* below the smallest normal float: zero of the same sign */
static inline float flush(float x)
{
	return fabsf(x) < FLT_MIN ? copysignf(0.0f, x) : x;
}

/* One vdpbf16ps step of one lane: acc + a * w with one rounding (the
 * product is not rounded, nor flushed when below FLT_MIN), the inputs and
 * the result flushed. */
static inline float step(float acc, uint16_t a, uint16_t w)
{
	return flush(fmaf(flush(widen(a)), flush(widen(w)), flush(acc)));
}

static void rows_scalar(uint16_t *a, int lda, const float *x, int ldx, int M, int K, int Kp)
{
	for (int m = 0; m < M; m++) {
		for (int k = 0; k < K; k++)
			a[(size_t)m * lda + k] = bf16_round(x[(size_t)m * ldx + k]);
		for (int k = K; k < Kp; k++)
			a[(size_t)m * lda + k] = 0;
	}
}

static void bgemm_scalar(int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate, float *C,
			 int ldc)
{
	int G = W->Kp / 2;
	for (int m = 0; m < M; m++) {
		const uint16_t *ar = a + (size_t)m * lda;
		for (int p = 0; p < panels(W->N); p++) {
			int n0 = p * BGEMM_NR, nn = W->N - n0 < BGEMM_NR ? W->N - n0 : BGEMM_NR;
			const uint16_t *b = W->packed + (size_t)p * G * BGEMM_NR * 2;
			for (int j = 0; j < nn; j++) {
				float s = 0.0f;
				for (int g = 0; g < G; g++) {
					const uint16_t *wp = b + ((size_t)g * BGEMM_NR + j) * 2;
					s = step(s, ar[2 * g + 1], wp[1]);
					s = step(s, ar[2 * g], wp[0]);
				}
				float *c = &C[(size_t)m * ldc + n0 + j];
				*c = accumulate ? *c + s : s;
			}
		}
	}
}

#if HAVE_X86
/* ------------------------------------------------------------ AVX-512 BF16 */

TGT_BF16 static void rows_avx512(uint16_t *a, int lda, const float *x, int ldx, int M, int K, int Kp)
{
	for (int m = 0; m < M; m++) {
		const float *xr = x + (size_t)m * ldx;
		uint16_t *ar = a + (size_t)m * lda;
		for (int k = 0; k < Kp; k += 32) {
			int left = K - k, lo = left >= 16 ? 16 : left > 0 ? left : 0;
			int hi = left >= 32 ? 16 : left > 16 ? left - 16 : 0, out = Kp - k >= 32 ? 32 : Kp - k;
			__m512 vlo = _mm512_maskz_loadu_ps((__mmask16)((1u << lo) - 1), xr + k);
			__m512 vhi = _mm512_maskz_loadu_ps((__mmask16)((1u << hi) - 1), xr + k + 16);
			__m512bh v = _mm512_cvtne2ps_pbh(vhi, vlo);
			_mm512_mask_storeu_epi16(ar + k, (__mmask32)(out >= 32 ? 0xffffffffu : (1u << out) - 1),
						 (__m512i)v);
		}
	}
}

/* 8 rows x 32 output channels (panels b0, b1), with named accumulators:
 * GCC keeps an array of them in memory. */
#define MR 8
TGT_BF16 static void sums_8x2(__m512 out[16], const uint16_t *a, int lda, const uint16_t *b0,
			     const uint16_t *b1, int G)
{
	__m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
	       c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
	const uint16_t *a0 = a, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda,
		       *a6 = a5 + lda, *a7 = a6 + lda;
	for (int g = 0; g < G; g++) {
		__m512bh w0 = (__m512bh)_mm512_load_si512(b0 + (size_t)g * BGEMM_NR * 2);
		__m512bh w1 = (__m512bh)_mm512_load_si512(b1 + (size_t)g * BGEMM_NR * 2);
		int32_t pr;
#define ROW(r)                                                              \
	memcpy(&pr, a##r + 2 * g, 4);                                       \
	c##r##0 = _mm512_dpbf16_ps(c##r##0, (__m512bh)_mm512_set1_epi32(pr), w0); \
	c##r##1 = _mm512_dpbf16_ps(c##r##1, (__m512bh)_mm512_set1_epi32(pr), w1);
		ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
	}
	out[0] = c00, out[1] = c01, out[2] = c10, out[3] = c11, out[4] = c20, out[5] = c21, out[6] = c30;
	out[7] = c31, out[8] = c40, out[9] = c41, out[10] = c50, out[11] = c51, out[12] = c60, out[13] = c61;
	out[14] = c70, out[15] = c71;
}

/* One row x np panels (1 or 2): tails. */
TGT_BF16 static void sums_1xn(__m512 out[2], const uint16_t *a, const uint16_t *b0, const uint16_t *b1, int np,
			     int G)
{
	__m512 c0 = _mm512_setzero_ps(), c1 = c0;
	for (int g = 0; g < G; g++) {
		int32_t pr;
		memcpy(&pr, a + 2 * g, 4);
		__m512bh v = (__m512bh)_mm512_set1_epi32(pr);
		c0 = _mm512_dpbf16_ps(c0, v, (__m512bh)_mm512_load_si512(b0 + (size_t)g * BGEMM_NR * 2));
		if (np > 1)
			c1 = _mm512_dpbf16_ps(c1, v, (__m512bh)_mm512_load_si512(b1 + (size_t)g * BGEMM_NR * 2));
	}
	out[0] = c0, out[1] = c1;
}

/* mr rows x np panels of sums acc[r * 2 + j] into C. */
TGT_BF16 static void store_avx512(const __m512 *acc, int mr, int np, int N, int n0, int accumulate, float *C,
				  int ldc)
{
	for (int j = 0; j < np; j++) {
		int left = N - n0 - j * BGEMM_NR;
		__mmask16 mk = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
		for (int r = 0; r < mr; r++) {
			float *c = C + (size_t)r * ldc + n0 + j * BGEMM_NR;
			__m512 v = acc[r * 2 + j];
			if (accumulate)
				v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, c), v);
			_mm512_mask_storeu_ps(c, mk, v);
		}
	}
}

TGT_BF16 static void bgemm_avx512(int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate,
				  float *C, int ldc)
{
	int P = panels(W->N), G = W->Kp / 2;
	__m512 acc[2 * MR];
	for (int m0 = 0; m0 < M; m0 += ROW_BLOCK) {
		int m1 = M - m0 < ROW_BLOCK ? M : m0 + ROW_BLOCK;
		for (int p = 0; p < P; p += 2) {
			int np = P - p >= 2 ? 2 : 1;
			const uint16_t *b0 = W->packed + (size_t)p * G * BGEMM_NR * 2;
			/* one panel left: its second operand is the first again */
			const uint16_t *b1 = np > 1 ? b0 + (size_t)G * BGEMM_NR * 2 : b0;
			for (int m = m0; m < m1;) {
				int mr = m1 - m >= MR ? MR : 1;
				const uint16_t *am = a + (size_t)m * lda;
				if (mr == MR)
					sums_8x2(acc, am, lda, b0, b1, G);
				else
					sums_1xn(acc, am, b0, b1, np, G);
				store_avx512(acc, mr, np, W->N, p * BGEMM_NR, accumulate, C + (size_t)m * ldc, ldc);
				m += mr;
			}
		}
	}
}
#endif

/* ------------------------------------------------------------ dispatch */

static int path_supported(enum bgemm_path path)
{
#if HAVE_X86
	const struct cpu_features *cpu = cpu_features();
	if (path == BGEMM_AVX512BF16)
		return cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq && cpu->avx512bf16;
#endif
	return path == BGEMM_SCALAR;
}

static const char *const path_names[] = {"scalar", "avx512bf16"};

static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;
static enum bgemm_path chosen;
static int wanted;

static void choose(void)
{
	const char *want = getenv("TF_BGEMM");
	chosen = path_supported(BGEMM_AVX512BF16) ? BGEMM_AVX512BF16 : BGEMM_SCALAR;
	wanted = chosen == BGEMM_AVX512BF16;
	if (want && !strcmp(want, "scalar"))
		chosen = BGEMM_SCALAR, wanted = 1;
	else if (want && !strcmp(want, "f32"))
		wanted = 0;
}

/* The best path this CPU runs, or the one TF_BGEMM names if it can (read
 * once, at the first call). */
static enum bgemm_path chosen_path(void)
{
	pthread_once(&chosen_once, choose);
	return chosen;
}

int bgemm_wanted(void)
{
	chosen_path();
	return wanted;
}

const char *bgemm_kernel_name(void)
{
	return path_names[chosen_path()];
}

static void run(enum bgemm_path path, int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate,
		float *C, int ldc)
{
	if (M <= 0)
		return;
#if HAVE_X86
	if (path == BGEMM_AVX512BF16) {
		bgemm_avx512(M, a, lda, W, accumulate, C, ldc);
		return;
	}
#endif
	bgemm_scalar(M, a, lda, W, accumulate, C, ldc);
}

int bgemm_path(enum bgemm_path path, int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate,
	       float *C, int ldc)
{
	if (!path_supported(path))
		return -1;
	run(path, M, a, lda, W, accumulate, C, ldc);
	return 0;
}

void bgemm(int M, const uint16_t *a, int lda, const struct bmat *W, int accumulate, float *C, int ldc)
{
	run(chosen_path(), M, a, lda, W, accumulate, C, ldc);
}

int bf16_rows_path(enum bgemm_path path, uint16_t *a, int lda, const float *x, int ldx, int M, int K, int Kp)
{
	if (!path_supported(path))
		return -1;
#if HAVE_X86
	if (path == BGEMM_AVX512BF16) {
		rows_avx512(a, lda, x, ldx, M, K, Kp);
		return 0;
	}
#endif
	rows_scalar(a, lda, x, ldx, M, K, Kp);
	return 0;
}

void bf16_rows(uint16_t *a, int lda, const float *x, int ldx, int M, int K, int Kp)
{
	bf16_rows_path(chosen_path(), a, lda, x, ldx, M, K, Kp);
}

/* ------------------------------------------------------------ reference */

void bgemm_ref(int M, int N, int K, const uint16_t *a, int lda, const uint16_t *w, int ldw, int accumulate,
	       float *C, int ldc)
{
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			const uint16_t *ar = a + (size_t)m * lda, *wr = w + (size_t)n * ldw;
			float s = 0.0f;
			for (int k = 0; k < K; k += 2) {
				uint16_t a1 = k + 1 < K ? ar[k + 1] : 0, w1 = k + 1 < K ? wr[k + 1] : 0;
				s = step(s, a1, w1);
				s = step(s, ar[k], wr[k]);
			}
			float *c = &C[(size_t)m * ldc + n];
			*c = accumulate ? *c + s : s;
		}
}
