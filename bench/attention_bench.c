/* Single-thread throughput of the attention kernel, per path, in G scores/s
 * (scores = nseq * heads * L * L).
 * make bench-attention                         the network's shapes
 * build/bench/attention_bench NSEQ L HEADS D [masked]   one shape */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/attention.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static const char *const names[] = {"scalar", "avx2", "avx512"};

/* As the network calls it: chunks of about 4096 tokens (whole sequences),
 * whose qkv the projection has just written, so they are warm in cache; one
 * buffer is reused for every chunk. Fast paths: best of 5 runs of the whole
 * shape; slow ones time a few chunks (or part of one) and extrapolate. */
static void bench(int nseq, int L, int heads, int d, int masked)
{
	int C = heads * d, chunk = L >= 4096 ? 1 : 4096 / L;
	if (chunk > nseq)
		chunk = nseq;
	size_t nx = (size_t)chunk * L * 3 * C, no = (size_t)chunk * L * C;
	float *qkv = malloc(nx * sizeof *qkv), *out = malloc(no * sizeof *out);
	float *scratch = malloc(attention_scratch_floats(L, d) * sizeof *scratch);
	int *region = NULL;
	unsigned s = 12345;
	for (size_t i = 0; i < nx; i++)
		s = s * 1664525u + 1013904223u, qkv[i] = (float)((s >> 8) * (2.0 / 16777216.0) - 1.0) * 1.7f;
	if (masked) {
		region = malloc((size_t)chunk * L * sizeof *region);
		for (size_t i = 0; i < (size_t)chunk * L; i++)
			region[i] = (int)(i % L) * 3 / L;
	}
	double scores = (double)nseq * heads * L * L, per_seq = (double)heads * L * L;
	printf("nseq %5d L %5d heads %d d %2d%s  (%.3f G scores, %d sequences per call)\n", nseq, L,
	       heads, d, masked ? " masked" : "", scores * 1e-9, chunk);
	for (int path = SIMD_AVX512; path >= -1; path--) {
		int fast = path == SIMD_AVX512 || path == SIMD_AVX2;
		/* sequences to time: all, or enough for ~1e8 scores on the slow ones */
		long todo = nseq;
		if (!fast && todo * per_seq > 1e8)
			todo = (long)(1e8 / per_seq) > 0 ? (long)(1e8 / per_seq) : 1;
		double best = 1e30;
		for (int r = 0; r < (fast ? 5 : 1); r++) {
			double t0 = now();
			for (long done = 0; done < todo; done += chunk) {
				int n = todo - done < chunk ? (int)(todo - done) : chunk;
				if (path < 0)
					attention_forward_ref(out, qkv, n, L, heads, d, 1.0f / sqrtf((float)d),
							      region, scratch);
				else if (attention_forward_path(path, out, qkv, n, L, heads, d,
								1.0f / sqrtf((float)d), region, scratch))
					goto next;
			}
			double t = now() - t0;
			if (t < best)
				best = t;
		}
		printf("  %-9s %8.3f G scores/s  (%.3f s for the whole shape%s)\n",
		       path < 0 ? "reference" : names[path], todo * per_seq / best * 1e-9,
		       best * nseq / todo, todo < nseq ? ", extrapolated" : "");
	next:;
	}
	free(qkv), free(out), free(scratch), free(region);
}

int main(int argc, char **argv)
{
	printf("attention_forward runs %s here; one thread\n", attention_kernel_name());
	if (argc >= 5) {
		bench(atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
		      argc > 5 && atoi(argv[5]));
		return 0;
	}
	/* the default configuration's shapes: along one axis, then the other,
	 * at each level (d = 4, 8, 16, 32), and 8x8 windows */
	bench(259, 1025, 8, 4, 0);
	bench(1025, 259, 8, 4, 0);
	bench(4096, 64, 8, 4, 0);
	bench(4096, 64, 8, 4, 1);
	bench(129, 512, 8, 8, 0);
	bench(512, 129, 8, 8, 0);
	bench(1024, 64, 8, 8, 0);
	bench(64, 256, 8, 16, 0);
	bench(256, 64, 8, 16, 0);
	bench(32, 128, 8, 32, 0);
	bench(128, 32, 8, 32, 0);
	bench(64, 64, 8, 32, 0);
	return 0;
}
