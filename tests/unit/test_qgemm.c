/* Int8 products: every path this CPU runs (AVX512-VNNI, AVX2, plain C from
 * the packed weights) against the reference from the unpacked ones, int32
 * sums and float results bit for bit, over odd sizes and tails; the sums at
 * the extremes of the operands and the largest K; per-row and static
 * quantisation of activations (round trip, clamping, padding) equal on
 * every path; the TF_QGEMM override. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "kernels/qgemm.h"
#include "test.h"

static uint32_t next(void)
{
	return (uint32_t)(rng_next(fixed_rng()) >> 32);
}

static float unit(void) /* [-1, 1) */
{
	return (float)next() / 2147483648.0f - 1.0f;
}

static const char *const names[] = {"scalar", "avx2", "vnni"};

/* One product M x N x K with random bytes on every path against the
 * reference. Returns the number of mismatching values (sums and floats). */
static long compare_paths(int M, int N, int K, int fill, int *paths_run)
{
	int Kp = (K + 3) & ~3, ldq = Kp + 4, ldw = K + 3, ldc = N + 5;
	uint8_t *q = malloc((size_t)M * ldq);
	int8_t *w = malloc((size_t)N * ldw);
	float *rs = malloc((size_t)M * sizeof *rs), *ws = malloc((size_t)N * sizeof *ws);
	int32_t *want_s = malloc((size_t)M * N * sizeof *want_s), *got_s = malloc((size_t)M * N * sizeof *got_s);
	float *want_c = malloc((size_t)M * ldc * sizeof *want_c), *got_c = malloc((size_t)M * ldc * sizeof *got_c);
	long bad = 0;
	for (int m = 0; m < M; m++) {
		for (int k = 0; k < ldq; k++) {
			uint8_t v = fill == 1 ? 255 : fill == 2 ? 0 : (uint8_t)next();
			q[(size_t)m * ldq + k] = k < K ? v : QGEMM_ZERO; /* padding as quantize_rows leaves it */
		}
		rs[m] = 0.01f * (1 + m % 7);
	}
	for (int n = 0; n < N; n++) {
		for (int k = 0; k < ldw; k++)
			w[(size_t)n * ldw + k] = fill == 1 ? 127 : fill == 2 ? -128 : (int8_t)next();
		ws[n] = n % 5 == 4 ? -0.003f * n : 0.002f * (n + 1); /* BatchNorm can flip signs */
	}
	struct qmat W;
	if (qmat_init(&W, w, ldw, ws, N, K)) {
		ok(0, "qmat_init %dx%d: %s", N, K, tf_strerror());
		return 1;
	}
	qgemm_s32_ref(M, N, K, q, ldq, w, ldw, want_s, N);
	for (int acc = 0; acc < 2; acc++) {
		for (size_t i = 0; i < (size_t)M * ldc; i++)
			want_c[i] = unit();
		memcpy(got_c, want_c, (size_t)M * ldc * sizeof *got_c);
		qgemm_ref(M, N, K, q, ldq, rs, w, ldw, ws, acc, want_c, ldc);
		float *base = malloc((size_t)M * ldc * sizeof *base);
		memcpy(base, got_c, (size_t)M * ldc * sizeof *base);
		for (int p = 0; p < 3; p++) {
			memset(got_s, 0x55, (size_t)M * N * sizeof *got_s);
			if (qgemm_s32_path(p, M, q, ldq, &W, got_s, N))
				continue;
			paths_run[p]++;
			for (size_t i = 0; i < (size_t)M * N; i++)
				if (got_s[i] != want_s[i]) {
					if (!bad)
						printf("# %s %dx%dx%d: sum [%zu] = %d, want %d\n", names[p], M, N, K, i,
						       got_s[i], want_s[i]);
					bad++;
				}
			memcpy(got_c, base, (size_t)M * ldc * sizeof *got_c);
			qgemm_path(p, M, q, ldq, rs, &W, acc, got_c, ldc);
			/* bit for bit, also the columns past N that must stay untouched */
			for (size_t i = 0; i < (size_t)M * ldc; i++)
				if (memcmp(&got_c[i], &want_c[i], sizeof(float))) {
					if (!bad)
						printf("# %s %dx%dx%d acc %d: C[%zu] = %.9g, want %.9g\n", names[p], M, N,
						       K, acc, i, got_c[i], want_c[i]);
					bad++;
				}
		}
		free(base);
	}
	qmat_free(&W);
	free(q), free(w), free(rs), free(ws), free(want_s), free(got_s), free(want_c), free(got_c);
	return bad;
}

static void test_products(void)
{
	static const int Ms[] = {1, 2, 7, 8, 9, 17, 130, 257};
	static const int Ns[] = {1, 3, 15, 16, 17, 31, 32, 33, 48, 96};
	static const int Ks[] = {1, 2, 3, 4, 5, 31, 32, 33, 98, 129, 512};
	int paths[3] = {0};
	long bad = 0, cases = 0;
	for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
		for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
			for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
				if (Ms[a] * Ns[b] * Ks[c] > 2000000)
					continue;
				bad += compare_paths(Ms[a], Ns[b], Ks[c], 0, paths);
				cases++;
			}
	ok(bad == 0 && paths[QGEMM_SCALAR] > 0,
	   "%ld products (M, N, K with tails): int32 sums and float results of every path equal the "
	   "reference bit for bit (%ld differ; runs: scalar %d, avx2 %d, vnni %d)",
	   cases, bad, paths[0], paths[1], paths[2]);
	ok(paths[QGEMM_AVX2] > 0 || !cpu_features()->avx2, "the AVX2 path ran where the CPU has it");
	ok(paths[QGEMM_VNNI] > 0 || !cpu_features()->avx512vnni,
	   "the VNNI path ran where the CPU has it");
}

/* The largest sums: every activation byte 255 (q = 127) against weights
 * 127, and byte 0 (q = -128) against -128, at K = QGEMM_MAX_K. */
static void test_extremes(void)
{
	int paths[3] = {0};
	long bad = compare_paths(3, 17, QGEMM_MAX_K, 1, paths);
	bad += compare_paths(3, 17, QGEMM_MAX_K, 2, paths);
	bad += compare_paths(9, 33, 4099, 1, paths);
	ok(bad == 0, "extreme operands at K = %d (sums up to 2^30, no path wraps or saturates): %ld differ",
	   QGEMM_MAX_K, bad);
	/* and the sum itself is what it should be */
	uint8_t q[8] = {255, 255, 255, 255, 0, 0, 0, 0};
	int8_t w[8] = {127, 127, 127, 127, -128, -128, -128, -128};
	float one = 1.0f;
	struct qmat W;
	int32_t s = 0;
	qmat_init(&W, w, 8, &one, 1, 8);
	qgemm_s32_path(QGEMM_SCALAR, 1, q, 8, &W, &s, 1);
	ok(s == 4 * 127 * 127 + 4 * 128 * 128, "127 x 127 x 4 + (-128) x (-128) x 4 = %d (want %d)", s,
	   4 * 127 * 127 + 4 * 128 * 128);
	qmat_free(&W);
	int rc = qmat_init(&W, w, 8, &one, 1, QGEMM_MAX_K + 1);
	const char *msg = tf_strerror();
	ok(rc < 0 && strstr(msg, "out of range"), "K above %d refused: %s", QGEMM_MAX_K, msg);
}

static void test_quantize(void)
{
	enum { M = 37, K = 45, KP = 48, LDQ = 52 };
	float x[M][K], rs[3][M], back_err = 0;
	uint8_t q[3][M][LDQ];
	int ran[3] = {0}, differ = 0, bad_extreme = 0, bad_pad = 0;
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++)
			x[m][k] = m == 3 ? 0.0f : unit() * (float)pow(10.0, m % 9 - 4);
	x[5][7] = 1e30f, x[6][44] = -2.5f;
	for (int p = 0; p < 3; p++) {
		memset(q[p], 0xee, sizeof q[p]);
		if (quantize_rows_path(p, &q[p][0][0], LDQ, rs[p], &x[0][0], K, M, K, KP, 0.0f) == 0)
			ran[p] = 1;
	}
	for (int p = 1; p < 3; p++)
		if (ran[p])
			differ += memcmp(q[p], q[0], sizeof q[0]) != 0 || memcmp(rs[p], rs[0], sizeof rs[0]) != 0;
	ok(differ == 0, "per-row quantisation: bytes and scales of every path equal the scalar ones (%d differ)",
	   differ);
	for (int m = 0; m < M; m++) {
		float amax = 0;
		int hit = 0;
		for (int k = 0; k < K; k++) {
			float err = fabsf(((int)q[0][m][k] - QGEMM_ZERO) * rs[0][m] - x[m][k]);
			if (rs[0][m] > 0 && err / rs[0][m] > back_err)
				back_err = err / rs[0][m];
			amax = fmaxf(amax, fabsf(x[m][k]));
			hit |= q[0][m][k] == 1 || q[0][m][k] == 255;
		}
		bad_extreme += amax > 0 ? !hit || rs[0][m] != amax / 127.0f : rs[0][m] != 0 || q[0][m][0] != QGEMM_ZERO;
		for (int k = K; k < KP; k++)
			bad_pad += q[0][m][k] != QGEMM_ZERO;
	}
	ok(back_err <= 0.5f + 1e-4f, "round trip: |q s - x| <= s/2 (largest %.6f s)", back_err);
	ok(!bad_extreme, "each row's largest |x| maps to +-127, scale max|x|/127; the zero row has scale 0");
	ok(!bad_pad, "padding K..Kp holds the zero byte %d", QGEMM_ZERO);

	/* --qat's fake quantisation is exactly that round trip, in float */
	float fx[M][K];
	int bad_fake = 0;
	memcpy(fx, x, sizeof fx);
	quantize_rows_fake(&fx[0][0], K, M, K);
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++)
			bad_fake += fx[m][k] != (float)((int)q[0][m][k] - QGEMM_ZERO) * rs[0][m];
	ok(!bad_fake, "quantize_rows_fake = (byte - %d) x row scale of quantize_rows, bit for bit (%d differ)",
	   QGEMM_ZERO, bad_fake);

	/* a static scale clamps what lies beyond 127 s */
	float s = 0.01f;
	for (int p = 0; p < 3; p++)
		ran[p] = quantize_rows_path(p, &q[p][0][0], LDQ, rs[p], &x[0][0], K, M, K, KP, s) == 0;
	differ = 0;
	for (int p = 1; p < 3; p++)
		if (ran[p])
			differ += memcmp(q[p], q[0], sizeof q[0]) != 0 || memcmp(rs[p], rs[0], sizeof rs[0]) != 0;
	int bad_clamp = 0;
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++) {
			int want = x[m][k] >= 127 * s ? 255 : x[m][k] <= -127 * s ? 1 : -1;
			if (want > 0)
				bad_clamp += q[0][m][k] != want;
			bad_clamp += rs[0][m] != s;
		}
	ok(differ == 0 && bad_clamp == 0 && q[0][5][7] == 255 && q[0][6][44] == 1,
	   "static scale: values beyond 127 s saturate at +-127, paths equal (%d differ, %d wrong)", differ,
	   bad_clamp);
}

int main(void)
{
	/* the override: the path named by TF_QGEMM when this CPU has it */
	setenv("TF_QGEMM", "avx2", 1);
	const char *k = qgemm_kernel_name();
	ok(!strcmp(k, cpu_features()->avx2 ? "avx2" : "scalar"), "TF_QGEMM=avx2 chooses %s", k);
	test_products();
	test_extremes();
	test_quantize();
	return test_done();
}
