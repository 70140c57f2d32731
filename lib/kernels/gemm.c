#include <blis.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "gemm.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char description[96];
/* The kernels every product here runs on (see choose). */
static cntx_t *context;

static const struct {
	const char *name;
	arch_t id;
	const char *isa;
} archs[] = {
	{"skx", BLIS_ARCH_SKX, "avx512"},   {"zen3", BLIS_ARCH_ZEN3, "avx2"},
	{"zen2", BLIS_ARCH_ZEN2, "avx2"},   {"zen", BLIS_ARCH_ZEN, "avx2"},
	{"haswell", BLIS_ARCH_HASWELL, "avx2"}, {"sandybridge", BLIS_ARCH_SANDYBRIDGE, "avx"},
	{"penryn", BLIS_ARCH_PENRYN, "sse3"}, {"generic", BLIS_ARCH_GENERIC, "c"},
};

/* Chooses the kernel family. Debian's BLIS 0.9 picks its family from CPUID
 * or from BLIS_ARCH_TYPE when its global kernel structure is first built; it
 * has no call to change that choice afterwards (bli_arch_set_id reads only
 * the environment). Rather than setenv BLIS_ARCH_TYPE behind the caller's
 * back (which every later BLIS user in the process and every child would
 * inherit, and which races with getenv in other threads), the chosen
 * family's context is looked up in BLIS's kernel structure and passed to
 * each call through the expert interface (bli_?gemm_ex and friends); the
 * global choice is left to BLIS. bli_gks_lookup_nat_cntx is internal to
 * BLIS (hidden in libblis.so, linkable from libblis.a, which the Makefile
 * links); a BLIS without it fails at link time, not at run time. Error
 * checking stays off as before: with it on, BLIS 0.9 aborts on an
 * overridden family ("Accessed uninitialized context in gks"). */
static void choose(void)
{
	const char *want = getenv("TF_BLIS_ARCH");
	const struct cpu_features *cpu = cpu_features();
	int id = -1;
	if (want) {
		for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
			if (!strcmp(want, archs[i].name))
				id = (int)archs[i].id;
	} else if (!getenv("BLIS_ARCH_TYPE")) {
		/* BLIS picks well on CPUs it knows; on the ones it does not (it
		 * says "generic", or an AVX2 family on an AVX-512 CPU) use the
		 * best family this CPU can run. */
		if (cpu->avx512f && cpu->avx512dq && cpu->avx512bw && cpu->avx512vl)
			id = BLIS_ARCH_SKX;
		else if (cpu->avx2 && cpu->fma)
			id = BLIS_ARCH_HASWELL;
	}
	bli_error_checking_level_set(BLIS_NO_ERROR_CHECKING);
	bli_init();
	bli_thread_set_num_threads(1);
	arch_t got = bli_arch_query_id();
	context = bli_gks_query_cntx();
	if (id >= 0) {
		cntx_t *chosen = bli_gks_lookup_nat_cntx((arch_t)id);
		if (chosen) { /* NULL: a family this BLIS was built without */
			context = chosen;
			got = (arch_t)id;
		}
	}
	const char *isa = "?";
	for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
		if (archs[i].id == got)
			isa = archs[i].isa;
	snprintf(description, sizeof description, "BLIS %s %s (%s)", bli_info_get_version_str(),
		 bli_arch_string(got), isa);
}

void gemm_init(void)
{
	pthread_once(&once, choose);
}

struct cntx_s *gemm_blis_context(void)
{
	gemm_init();
	return context;
}

const char *gemm_describe(void)
{
	gemm_init();
	return description;
}

int gemm_single_pass_k(void)
{
	return (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, gemm_blis_context());
}

static void blis(trans_t ta, trans_t tb, int M, int N, int K, const float *A, inc_t rsa, inc_t csa,
		 const float *B, inc_t rsb, inc_t csb, float beta, float *C, int ldc)
{
	float one = 1.0f;
	if (M <= 0 || N <= 0)
		return;
	bli_sgemm_ex(ta, tb, M, N, K, &one, (float *)A, rsa, csa, (float *)B, rsb, csb, &beta, C, ldc, 1,
		     gemm_blis_context(), NULL);
}

int gemm_prime(int threads)
{
	/* once per process for each larger team: the pools only grow */
	static atomic_int primed;
	if (threads <= atomic_load(&primed))
		return 0;
	/* the largest blocks BLIS packs, so that no later product asks for a
	 * larger one (which would make it reallocate its pool) */
	cntx_t *cx = gemm_blis_context();
	size_t M = (size_t)bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_MC, cx),
	       K = (size_t)bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, cx),
	       N = (size_t)bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_NC, cx), S = 16;
	/* A and B shared (only read); per thread C, M x S and S x N: the
	 * largest A block and the largest B panel in two products */
	size_t shared = M * K + N * K, each = M * S + S * N;
	/* BLIS aborts the process when its pools cannot grow: the room they
	 * will take (an A block and a B panel per thread, and some) is tried
	 * first, so that a lack of it is an error here instead */
	void *room = malloc((size_t)threads * (M * K + K * N + 4096) * sizeof(float));
	if (!room)
		return -1;
	free(room);
	float *buf = calloc(shared + (size_t)threads * each, sizeof *buf);
	if (!buf)
		return -1;
	/* BLIS also keeps one array of small-block pools per product running at
	 * once, and makes another the first time more products overlap than it
	 * has arrays. So the products must really run at the same time: on a
	 * busy machine one thread can finish before the other starts. Each
	 * thread's time span is kept, and the round repeated until they all
	 * overlap (a few tries at most in practice). */
	for (int tries = 0; tries < 50; tries++) {
		double latest_start = 0, earliest_end = 1e300;
#pragma omp parallel num_threads(threads) reduction(max : latest_start) reduction(min : earliest_end)
		{
			const float *a = buf, *b = buf + M * K;
			float *c = buf + shared + (size_t)omp_get_thread_num() * each;
#pragma omp barrier
			latest_start = omp_get_wtime();
			gemm_nt((int)M, (int)S, (int)K, a, (int)K, b, (int)K, 0.0f, c, (int)S);
			gemm_nt((int)S, (int)N, (int)K, a, (int)K, b, (int)K, 0.0f, c, (int)N);
			for (int i = 0; i < 4; i++)
				gemm_nt(16, 8, 8, a, 8, b, 8, 0.0f, c, 8); /* small */
			earliest_end = omp_get_wtime();
		}
		if (threads == 1 || latest_start < earliest_end)
			break;
	}
	free(buf);
	int was = atomic_load(&primed);
	while (was < threads && !atomic_compare_exchange_weak(&primed, &was, threads))
		;
	return 0;
}

void gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
	     float *C, int ldc)
{
	/* op(B) = B^T: element (k, n) of B^T is B[n*ldb + k] */
	blis(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, N, K, A, lda, 1, B, 1, ldb, beta, C, ldc);
}

void gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
	     float *C, int ldc)
{
	blis(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, N, K, A, lda, 1, B, ldb, 1, beta, C, ldc);
}

void gemm_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
	     float *C, int ldc)
{
	blis(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, N, K, A, 1, lda, B, ldb, 1, beta, C, ldc);
}

/* Reference twins: element (i, j) of each operand spelled out. */
static void gemm_ref(int M, int N, int K, const float *A, long ai, long ak, const float *B, long bk,
		     long bj, float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)A[i * ai + k * ak] * (double)B[k * bk + j * bj];
			float *c = &C[(long)i * ldc + j];
			*c = (float)(s + (beta != 0.0f ? (double)beta * *c : 0.0));
		}
}

void gemm_nt_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
		 float *C, int ldc)
{
	gemm_ref(M, N, K, A, lda, 1, B, 1, ldb, beta, C, ldc);
}

void gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
		 float *C, int ldc)
{
	gemm_ref(M, N, K, A, lda, 1, B, ldb, 1, beta, C, ldc);
}

void gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
		 float *C, int ldc)
{
	gemm_ref(M, N, K, A, 1, lda, B, ldb, 1, beta, C, ldc);
}
