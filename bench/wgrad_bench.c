/* Single-thread speed of the weight-gradient products C += A^T B at the
 * training's shapes: BLIS (gemm_tn, with whichever kernel TF_BLIS_ARCH
 * gives it) against wgrad's paths, taking turns in one process, the best of
 * 30 rounds each, GFLOP/s and the ratio to BLIS.
 * make bench-wgrad     BLIS's own kernel for this CPU, then its AVX2 one */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu.h"
#include "kernels/gemm.h"
#include "kernels/wgrad.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(void)
{
	/* M x N of C over K rows: the depth-3 configuration's layers (8 to 64
	 * channels, MLP 4x) over chunks of its tokens */
	static const int shapes[][3] = {{8, 8, 4096},     {24, 8, 4096},    {8, 32, 4096},   {32, 8, 4096},
					{16, 64, 2048},   {64, 16, 2048},   {48, 16, 2048},  {32, 128, 1024},
					{128, 32, 1024},  {64, 256, 512},   {256, 64, 512},  {192, 64, 512}};
	gemm_init();
	printf("| M x N, K | BLIS (%s) GFLOP/s |", gemm_describe());
	for (int path = SIMD_AVX2; path <= SIMD_AVX512; path++)
		if (simd_path_supported(path))
			printf(" wgrad %s GFLOP/s | vs BLIS |", simd_path_name(path));
	printf("\n|---|---|%s\n", simd_path_supported(SIMD_AVX512) ? "---|---|---|---|" : "---|---|");
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
		float *A = malloc(sizeof *A * M * K), *B = malloc(sizeof *B * N * K), *C = calloc((size_t)M * N, sizeof *C);
		for (long i = 0; i < (long)M * K; i++)
			A[i] = (float)(i % 7) * 0.1f;
		for (long i = 0; i < (long)N * K; i++)
			B[i] = (float)(i % 5) * 0.1f;
		double best[3] = {1e9, 1e9, 1e9}; /* BLIS, AVX2, AVX-512 */
		for (int round = 0; round < 30; round++)
			for (int w = 0; w < 3; w++) {
				if (w && !simd_path_supported(w))
					continue;
				double t = now();
				if (w == 0)
					gemm_tn(M, N, K, A, M, B, N, 1.0f, C, N);
				else
					wgrad_path(w, M, N, K, A, M, B, N, C, N);
				t = now() - t;
				best[w] = t < best[w] ? t : best[w];
			}
		double flop = 2.0 * M * N * K;
		printf("| %d x %d, %d | %.1f |", M, N, K, flop / best[0] * 1e-9);
		for (int w = 1; w < 3; w++)
			if (simd_path_supported(w))
				printf(" %.1f | %.2fx |", flop / best[w] * 1e-9, best[0] / best[w]);
		printf("\n");
		free(A), free(B), free(C);
	}
	return 0;
}
