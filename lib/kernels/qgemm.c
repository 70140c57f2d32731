/* Int8 products (qgemm.h). The weights are packed in panels of 16 output
 * channels, four k at a time: the 64 bytes of one k-group of a panel are
 * exactly what vpdpbusd takes as its signed operand, with the four
 * activation bytes of a row broadcast as the unsigned one. AVX2 has no
 * such instruction (vpmaddubsw saturates its 16-bit pair sums), so its path
 * widens both operands to 16 bits and uses vpmaddwd, which sums pairs into
 * exact 32-bit lanes, and adds the pairs at the end. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "qgemm.h"
#include "tensor.h"

#ifdef __x86_64__
#include <immintrin.h>
#include "rows16.h"
#define HAVE_X86 1
#define TGT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define TGT_AVX2 __attribute__((target("avx2")))
#define INLINE inline __attribute__((always_inline))
#else
#define HAVE_X86 0
#endif

#define GROUP_BYTES (QGEMM_NR * 4) /* one k-group of one panel */
#define ROW_BLOCK 128              /* rows per pass over the weights */

static int panels(int N)
{
	return (N + QGEMM_NR - 1) / QGEMM_NR;
}

int qmat_init(struct qmat *q, const int8_t *w, int ldw, const float *scale, int N, int K)
{
	memset(q, 0, sizeof *q);
	if (N < 1 || K < 1 || K > QGEMM_MAX_K)
		return tf_seterr("int8 product of %d x %d: sizes out of range (K at most %d)", N, K, QGEMM_MAX_K);
	int P = panels(N), Kp = (K + 3) & ~3, G = Kp / 4;
	q->N = N, q->K = K, q->Kp = Kp;
	q->packed = tf_alloc_aligned((size_t)P * G * GROUP_BYTES, 1);
	q->corr = tf_alloc_aligned((size_t)P * QGEMM_NR, sizeof(int32_t));
	q->scale = tf_alloc_aligned((size_t)P * QGEMM_NR, sizeof(float));
	if (!q->packed || !q->corr || !q->scale) {
		qmat_free(q);
		return -1;
	}
	memset(q->packed, 0, (size_t)P * G * GROUP_BYTES);
	for (int n = 0; n < P * QGEMM_NR; n++) {
		int32_t sum = 0;
		for (int k = 0; n < N && k < K; k++) {
			int8_t v = w[(size_t)n * ldw + k];
			q->packed[((size_t)(n / QGEMM_NR) * G + k / 4) * GROUP_BYTES + (n % QGEMM_NR) * 4 + k % 4] = v;
			sum += v;
		}
		q->corr[n] = QGEMM_ZERO * sum;
		q->scale[n] = n < N ? scale[n] : 0.0f;
	}
	return 0;
}

void qmat_free(struct qmat *q)
{
	free(q->packed), free(q->corr), free(q->scale);
	memset(q, 0, sizeof *q);
}

/* The float step every path shares: ((float)S * rowscale) * wscale. */
static inline float dequant(int32_t s, float rs, float ws)
{
	float v = (float)s * rs;
	return v * ws;
}

/* ------------------------------------------------------------ plain C */

static void quantize_scalar(uint8_t *q, int ldq, float *rowscale, const float *x, int ldx, int M, int K,
			    int Kp, float static_scale)
{
	for (int m = 0; m < M; m++) {
		const float *xr = x + (size_t)m * ldx;
		uint8_t *qr = q + (size_t)m * ldq;
		float s, inv;
		if (static_scale > 0) {
			s = static_scale, inv = 1.0f / static_scale;
		} else {
			float amax = 0.0f;
			for (int k = 0; k < K; k++)
				amax = fabsf(xr[k]) > amax ? fabsf(xr[k]) : amax;
			s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
		}
		for (int k = 0; k < K; k++) {
			float v = xr[k] * inv;
			v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
			qr[k] = (uint8_t)(lrintf(v) + QGEMM_ZERO);
		}
		for (int k = K; k < Kp; k++)
			qr[k] = QGEMM_ZERO;
		rowscale[m] = s;
	}
}

void quantize_rows_fake(float *x, int ldx, int M, int K)
{
	for (int m = 0; m < M; m++) {
		float *xr = x + (size_t)m * ldx, amax = 0.0f;
		for (int k = 0; k < K; k++)
			amax = fabsf(xr[k]) > amax ? fabsf(xr[k]) : amax;
		float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
		for (int k = 0; k < K; k++) {
			float v = xr[k] * inv;
			v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
			xr[k] = (float)lrintf(v) * s;
		}
	}
}

/* Sums of 16 output channels of panel p for row qr: the shift undone. */
static void sums_scalar(int32_t out[QGEMM_NR], const uint8_t *qr, const struct qmat *W, int p)
{
	int G = W->Kp / 4;
	const int8_t *b = W->packed + (size_t)p * G * GROUP_BYTES;
	for (int j = 0; j < QGEMM_NR; j++) {
		uint32_t s = 0; /* modular, as the SIMD lanes are */
		for (int g = 0; g < G; g++)
			for (int t = 0; t < 4; t++)
				s += (uint32_t)((int32_t)qr[4 * g + t] * b[(size_t)g * GROUP_BYTES + j * 4 + t]);
		out[j] = (int32_t)(s - (uint32_t)W->corr[p * QGEMM_NR + j]);
	}
}

static void qgemm_scalar(int M, const uint8_t *q, int ldq, const float *rowscale, const struct qmat *W,
			 int accumulate, float *C, int ldc, int32_t *S, int lds)
{
	int32_t s[QGEMM_NR];
	for (int m = 0; m < M; m++)
		for (int p = 0; p < panels(W->N); p++) {
			int n0 = p * QGEMM_NR, nn = W->N - n0 < QGEMM_NR ? W->N - n0 : QGEMM_NR;
			sums_scalar(s, q + (size_t)m * ldq, W, p);
			for (int j = 0; j < nn; j++) {
				if (S) {
					S[(size_t)m * lds + n0 + j] = s[j];
					continue;
				}
				float v = dequant(s[j], rowscale[m], W->scale[n0 + j]);
				float *c = &C[(size_t)m * ldc + n0 + j];
				*c = accumulate ? *c + v : v;
			}
		}
}

#if HAVE_X86
/* ------------------------------------------------------------ AVX-512 VNNI */

/* A row xr of K floats into qr with the inverse scale inv, clamped to
 * [-127, 127] (beyond 127 s with a static scale; with a row's own scale the
 * clamp only matters when 1/s overflows, for rows below 1e-36). */
TGT_VNNI static INLINE void quantize_row512(uint8_t *qr, const float *xr, int K, int Kp, float inv)
{
	const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
	const __m512i zero = _mm512_set1_epi32(QGEMM_ZERO);
	__m512 vinv = _mm512_set1_ps(inv);
	for (int k = 0; k < K; k += 16) {
		__mmask16 mk = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
		__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + k), vinv);
		v = _mm512_max_ps(_mm512_min_ps(v, hi), lo);
		__m512i i = _mm512_add_epi32(_mm512_cvtps_epi32(v), zero);
		_mm_mask_storeu_epi8(qr + k, mk, _mm512_cvtepi32_epi8(i));
	}
	for (int k = K; k < Kp; k++)
		qr[k] = QGEMM_ZERO;
}

TGT_VNNI static void quantize_avx512(uint8_t *q, int ldq, float *rowscale, const float *x, int ldx, int M,
				    int K, int Kp, float static_scale)
{
	if (static_scale > 0) {
		for (int m = 0; m < M; m++) {
			quantize_row512(q + (size_t)m * ldq, x + (size_t)m * ldx, K, Kp, 1.0f / static_scale);
			rowscale[m] = static_scale;
		}
		return;
	}
	/* per-row scales, 16 rows at a time: their largest |x| as one vector,
	 * then s = amax / 127 and 1/s = 127 / amax by two vector divisions
	 * (correctly rounded, as the scalar path's); a last group of fewer
	 * rows runs the same code with zero rows added */
	const __m512i order = rows16_order();
	for (int m = 0; m < M; m += 16) {
		const int nr = M - m < 16 ? M - m : 16;
		__m512 v[16];
		float s[16] __attribute__((aligned(64))), inv[16] __attribute__((aligned(64)));
		for (int r = 0; r < 16; r++) {
			const float *xr = x + (size_t)(m + r) * ldx;
			v[r] = _mm512_setzero_ps();
			for (int k = 0; r < nr && k < K; k += 16) {
				__mmask16 mk = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
				v[r] = _mm512_max_ps(v[r], _mm512_abs_ps(_mm512_maskz_loadu_ps(mk, xr + k)));
			}
		}
		__m512 amax = _mm512_permutexvar_ps(order, rows16_max(v));
		__mmask16 nz = _mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ);
		_mm512_store_ps(s, _mm512_div_ps(amax, _mm512_set1_ps(127.0f)));
		_mm512_store_ps(inv, _mm512_maskz_div_ps(nz, _mm512_set1_ps(127.0f), amax));
		for (int r = 0; r < nr; r++) {
			quantize_row512(q + (size_t)(m + r) * ldq, x + (size_t)(m + r) * ldx, K, Kp, inv[r]);
			rowscale[m + r] = s[r];
		}
	}
}

/* The sums of 8 rows x 32 output channels (panels b0, b1), with named
 * accumulators: GCC keeps an array of them in memory. */
#define MR_VNNI 8
TGT_VNNI static void sums_8x2(__m512i out[16], const uint8_t *q, int ldq, const int8_t *b0, const int8_t *b1,
			     int G)
{
	__m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
		c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
	const uint8_t *q0 = q, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq, *q4 = q3 + ldq, *q5 = q4 + ldq,
		      *q6 = q5 + ldq, *q7 = q6 + ldq;
	for (int g = 0; g < G; g++) {
		__m512i w0 = _mm512_load_si512(b0 + (size_t)g * GROUP_BYTES);
		__m512i w1 = _mm512_load_si512(b1 + (size_t)g * GROUP_BYTES);
		int32_t a4;
#define ROW(r)                                                    \
	memcpy(&a4, q##r + 4 * g, 4);                             \
	c##r##0 = _mm512_dpbusd_epi32(c##r##0, _mm512_set1_epi32(a4), w0); \
	c##r##1 = _mm512_dpbusd_epi32(c##r##1, _mm512_set1_epi32(a4), w1);
		ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
	}
	out[0] = c00, out[1] = c01, out[2] = c10, out[3] = c11, out[4] = c20, out[5] = c21, out[6] = c30;
	out[7] = c31, out[8] = c40, out[9] = c41, out[10] = c50, out[11] = c51, out[12] = c60, out[13] = c61;
	out[14] = c70, out[15] = c71;
}

/* The sums of one row x np panels (1 or 2): tails. */
TGT_VNNI static void sums_1xn(__m512i out[2], const uint8_t *q, const int8_t *b0, const int8_t *b1, int np,
			     int G)
{
	__m512i c0 = _mm512_setzero_si512(), c1 = c0;
	for (int g = 0; g < G; g++) {
		int32_t a4;
		memcpy(&a4, q + 4 * g, 4);
		__m512i a = _mm512_set1_epi32(a4);
		c0 = _mm512_dpbusd_epi32(c0, a, _mm512_load_si512(b0 + (size_t)g * GROUP_BYTES));
		if (np > 1)
			c1 = _mm512_dpbusd_epi32(c1, a, _mm512_load_si512(b1 + (size_t)g * GROUP_BYTES));
	}
	out[0] = c0, out[1] = c1;
}

/* mr rows x np panels of output from their sums acc[r * 2 + j]: the shift
 * undone, then the int32 sums or the scaled floats stored. */
TGT_VNNI static void store_vnni(const __m512i *acc, int mr, int np, const struct qmat *W, int p,
				const float *rowscale, int accumulate, float *C, int ldc, int32_t *S, int lds)
{
	int n0 = p * QGEMM_NR;
	for (int j = 0; j < np; j++) {
		int left = W->N - n0 - j * QGEMM_NR;
		__mmask16 mk = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
		__m512i corr = _mm512_load_si512(W->corr + n0 + j * QGEMM_NR);
		__m512 ws = _mm512_load_ps(W->scale + n0 + j * QGEMM_NR);
		for (int r = 0; r < mr; r++) {
			__m512i s = _mm512_sub_epi32(acc[r * 2 + j], corr);
			if (S) {
				_mm512_mask_storeu_epi32(S + (size_t)r * lds + n0 + j * QGEMM_NR, mk, s);
				continue;
			}
			float *c = C + (size_t)r * ldc + n0 + j * QGEMM_NR;
			__m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(rowscale[r]));
			v = _mm512_mul_ps(v, ws);
			if (accumulate)
				v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, c), v);
			_mm512_mask_storeu_ps(c, mk, v);
		}
	}
}

TGT_VNNI static void qgemm_vnni(int M, const uint8_t *q, int ldq, const float *rowscale, const struct qmat *W,
				int accumulate, float *C, int ldc, int32_t *S, int lds)
{
	int P = panels(W->N), G = W->Kp / 4;
	__m512i acc[2 * MR_VNNI];
	for (int m0 = 0; m0 < M; m0 += ROW_BLOCK) {
		int m1 = M - m0 < ROW_BLOCK ? M : m0 + ROW_BLOCK;
		for (int p = 0; p < P; p += 2) {
			int np = P - p >= 2 ? 2 : 1;
			const int8_t *b0 = W->packed + (size_t)p * G * GROUP_BYTES;
			/* one panel left: its second operand is the first again */
			const int8_t *b1 = np > 1 ? b0 + (size_t)G * GROUP_BYTES : b0;
			for (int m = m0; m < m1;) {
				int mr = m1 - m >= MR_VNNI ? MR_VNNI : 1;
				const uint8_t *qm = q + (size_t)m * ldq;
				if (mr == MR_VNNI)
					sums_8x2(acc, qm, ldq, b0, b1, G);
				else
					sums_1xn(acc, qm, b0, b1, np, G);
				store_vnni(acc, mr, np, W, p, rowscale + m, accumulate, C ? C + (size_t)m * ldc : NULL,
					   ldc, S ? S + (size_t)m * lds : NULL, lds);
				m += mr;
			}
		}
	}
}

/* ------------------------------------------------------------ AVX2 */

/* mr rows (1 or 2) x one panel. Lane layout of acc[r][h]: output channels
 * 4h..4h+3, each as two partial sums (k-pairs 0-1 and 2-3 of every group). */
#define MR_AVX2 2
TGT_AVX2 static INLINE void tile_avx2(const int mr, const uint8_t *q, int ldq, const struct qmat *W, int p,
				      const float *rowscale, int accumulate, float *C, int ldc, int32_t *S,
				      int lds)
{
	int G = W->Kp / 4, n0 = p * QGEMM_NR, nn = W->N - n0 < QGEMM_NR ? W->N - n0 : QGEMM_NR;
	const int8_t *b = W->packed + (size_t)p * G * GROUP_BYTES;
	__m256i acc[MR_AVX2][4];
	_Pragma("GCC unroll 2") for (int r = 0; r < mr; r++)
		_Pragma("GCC unroll 4") for (int h = 0; h < 4; h++)
			acc[r][h] = _mm256_setzero_si256();
	for (int g = 0; g < G; g++) {
		__m256i a[MR_AVX2];
		_Pragma("GCC unroll 2") for (int r = 0; r < mr; r++) {
			int32_t a4;
			memcpy(&a4, q + (size_t)r * ldq + 4 * g, 4);
			/* four bytes widened to 16 bits, repeated in every 64-bit lane */
			a[r] = _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(a4)));
		}
		_Pragma("GCC unroll 4") for (int h = 0; h < 4; h++) {
			__m256i w = _mm256_cvtepi8_epi16(
				_mm_load_si128((const __m128i *)(b + (size_t)g * GROUP_BYTES + 16 * h)));
			_Pragma("GCC unroll 2") for (int r = 0; r < mr; r++)
				acc[r][h] = _mm256_add_epi32(acc[r][h], _mm256_madd_epi16(a[r], w));
		}
	}
	for (int r = 0; r < mr; r++) {
		int32_t s[QGEMM_NR] __attribute__((aligned(32)));
		/* pair sums: hadd gives channels 0 1 4 5 | 2 3 6 7; the permute
		 * puts them in order */
		__m256i lo = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
		__m256i hi = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][2], acc[r][3]), 0xD8);
		lo = _mm256_sub_epi32(lo, _mm256_load_si256((const __m256i *)(W->corr + n0)));
		hi = _mm256_sub_epi32(hi, _mm256_load_si256((const __m256i *)(W->corr + n0 + 8)));
		_mm256_store_si256((__m256i *)s, lo);
		_mm256_store_si256((__m256i *)(s + 8), hi);
		for (int j = 0; j < nn; j++) {
			if (S) {
				S[(size_t)r * lds + n0 + j] = s[j];
				continue;
			}
			float v = dequant(s[j], rowscale[r], W->scale[n0 + j]);
			float *c = &C[(size_t)r * ldc + n0 + j];
			*c = accumulate ? *c + v : v;
		}
	}
}

TGT_AVX2 static void qgemm_avx2(int M, const uint8_t *q, int ldq, const float *rowscale, const struct qmat *W,
				int accumulate, float *C, int ldc, int32_t *S, int lds)
{
	int P = panels(W->N);
	for (int m0 = 0; m0 < M; m0 += ROW_BLOCK) {
		int m1 = M - m0 < ROW_BLOCK ? M : m0 + ROW_BLOCK;
		for (int p = 0; p < P; p++) {
			int m = m0;
			for (; m + MR_AVX2 <= m1; m += MR_AVX2)
				tile_avx2(MR_AVX2, q + (size_t)m * ldq, ldq, W, p, rowscale + m, accumulate,
					  C ? C + (size_t)m * ldc : NULL, ldc, S ? S + (size_t)m * lds : NULL, lds);
			for (; m < m1; m++)
				tile_avx2(1, q + (size_t)m * ldq, ldq, W, p, rowscale + m, accumulate,
					  C ? C + (size_t)m * ldc : NULL, ldc, S ? S + (size_t)m * lds : NULL, lds);
		}
	}
}
#endif

/* ------------------------------------------------------------ dispatch */

static int path_supported(enum qgemm_path path)
{
#if HAVE_X86
	const struct cpu_features *cpu = cpu_features();
	switch (path) {
	case QGEMM_VNNI:
		return cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq && cpu->avx512vnni;
	case QGEMM_AVX2:
		return cpu->avx2;
	default:
		return path == QGEMM_SCALAR;
	}
#else
	return path == QGEMM_SCALAR;
#endif
}

static const char *const path_names[] = {"scalar", "avx2", "vnni"};

static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;
static enum qgemm_path chosen;

static void choose(void)
{
	const char *want = getenv("TF_QGEMM");
	int best = path_supported(QGEMM_VNNI) ? QGEMM_VNNI : path_supported(QGEMM_AVX2) ? QGEMM_AVX2
											: QGEMM_SCALAR;
	for (int i = 0; want && i < 3; i++)
		if (!strcmp(want, path_names[i]) && path_supported((enum qgemm_path)i))
			best = i;
	chosen = (enum qgemm_path)best;
}

/* The best path this CPU runs, or the one TF_QGEMM names if it can (read
 * once, at the first call). */
static enum qgemm_path chosen_path(void)
{
	pthread_once(&chosen_once, choose);
	return chosen;
}

const char *qgemm_kernel_name(void)
{
	return path_names[chosen_path()];
}

static void run(enum qgemm_path path, int M, const uint8_t *q, int ldq, const float *rowscale,
		const struct qmat *W, int accumulate, float *C, int ldc, int32_t *S, int lds)
{
	if (M <= 0)
		return;
	switch (path) {
#if HAVE_X86
	case QGEMM_VNNI: qgemm_vnni(M, q, ldq, rowscale, W, accumulate, C, ldc, S, lds); break;
	case QGEMM_AVX2: qgemm_avx2(M, q, ldq, rowscale, W, accumulate, C, ldc, S, lds); break;
#endif
	default: qgemm_scalar(M, q, ldq, rowscale, W, accumulate, C, ldc, S, lds); break;
	}
}

int qgemm_path(enum qgemm_path path, int M, const uint8_t *q, int ldq, const float *rowscale,
	       const struct qmat *W, int accumulate, float *C, int ldc)
{
	if (!path_supported(path))
		return -1;
	run(path, M, q, ldq, rowscale, W, accumulate, C, ldc, NULL, 0);
	return 0;
}

int qgemm_s32_path(enum qgemm_path path, int M, const uint8_t *q, int ldq, const struct qmat *W,
		   int32_t *S, int lds)
{
	if (!path_supported(path))
		return -1;
	run(path, M, q, ldq, NULL, W, 0, NULL, 0, S, lds);
	return 0;
}

void qgemm(int M, const uint8_t *q, int ldq, const float *rowscale, const struct qmat *W, int accumulate,
	   float *C, int ldc)
{
	run(chosen_path(), M, q, ldq, rowscale, W, accumulate, C, ldc, NULL, 0);
}

int quantize_rows_path(enum qgemm_path path, uint8_t *q, int ldq, float *rowscale, const float *x,
		       int ldx, int M, int K, int Kp, float static_scale)
{
	if (!path_supported(path))
		return -1;
#if HAVE_X86
	if (path == QGEMM_VNNI) {
		quantize_avx512(q, ldq, rowscale, x, ldx, M, K, Kp, static_scale);
		return 0;
	}
#endif
	quantize_scalar(q, ldq, rowscale, x, ldx, M, K, Kp, static_scale);
	return 0;
}

void quantize_rows(uint8_t *q, int ldq, float *rowscale, const float *x, int ldx, int M, int K, int Kp,
		   float static_scale)
{
	quantize_rows_path(chosen_path(), q, ldq, rowscale, x, ldx, M, K, Kp, static_scale);
}

/* ------------------------------------------------------------ references */

void qgemm_s32_ref(int M, int N, int K, const uint8_t *q, int ldq, const int8_t *w, int ldw, int32_t *S,
		   int lds)
{
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			int64_t s = 0;
			for (int k = 0; k < K; k++)
				s += (int64_t)((int)q[(size_t)m * ldq + k] - QGEMM_ZERO) * w[(size_t)n * ldw + k];
			S[(size_t)m * lds + n] = (int32_t)s;
		}
}

void qgemm_ref(int M, int N, int K, const uint8_t *q, int ldq, const float *rowscale, const int8_t *w,
	       int ldw, const float *wscale, int accumulate, float *C, int ldc)
{
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			int32_t s;
			qgemm_s32_ref(1, 1, K, q + (size_t)m * ldq, ldq, w + (size_t)n * ldw, ldw, &s, 1);
			float v = dequant(s, rowscale[m], wscale[n]);
			float *c = &C[(size_t)m * ldc + n];
			*c = accumulate ? *c + v : v;
		}
}
