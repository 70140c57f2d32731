#include <omp.h>

#include "cpu.h"
#include "error.h"
#include "peak.h"
#include "timing.h"

/* Twelve independent chains: enough to cover an FMA latency of 4 cycles on
 * two (or three) FMA pipes, few enough to stay in 16 AVX2 registers with the
 * two constants. Each step a = a*m + c with m just below 1 converges to
 * c / (1 - m) = 1, so the values never overflow or turn denormal. */
#define CHAINS 12

#ifdef __x86_64__
#include <immintrin.h>
#define HAVE_X86 1
#define TGT512 __attribute__((target("avx512f,fma")))
#define TGT256 __attribute__((target("avx2,fma")))
#else
#define HAVE_X86 0
#endif

/* The macros spell the chains out so that they live in registers whatever
 * the compiler's unrolling decides. The chains must start from different
 * values (init(k) is chain k's start): identical chains compute identical
 * numbers, and the compiler then keeps one of them. It did, and the probe
 * reported 12 times the rate of one dependent chain, three times this
 * machine's real peak. */
#define DECLARE(T, init) T a0 = init(0), a1 = init(1), a2 = init(2), a3 = init(3), a4 = init(4), \
	a5 = init(5), a6 = init(6), a7 = init(7), a8 = init(8), a9 = init(9), a10 = init(10), a11 = init(11)
#define START(k) (0.25f + (float)(k) / 32.0f)
#define STEP(f) a0 = f(a0), a1 = f(a1), a2 = f(a2), a3 = f(a3), a4 = f(a4), a5 = f(a5), \
	a6 = f(a6), a7 = f(a7), a8 = f(a8), a9 = f(a9), a10 = f(a10), a11 = f(a11)
#define SUM(add) add(add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7))), \
	add(add(a8, a9), add(a10, a11)))

#if HAVE_X86
TGT512 static float loop_avx512(long n)
{
	const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
#define INIT512(k) _mm512_set1_ps(START(k))
	DECLARE(__m512, INIT512);
#define F512(a) _mm512_fmadd_ps(a, m, c)
	for (long i = 0; i < n; i++)
		STEP(F512);
	return _mm512_reduce_add_ps(SUM(_mm512_add_ps));
}

TGT256 static float loop_avx2(long n)
{
	const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
#define INIT256(k) _mm256_set1_ps(START(k))
	DECLARE(__m256, INIT256);
#define F256(a) _mm256_fmadd_ps(a, m, c)
	for (long i = 0; i < n; i++)
		STEP(F256);
	float v[8];
	_mm256_storeu_ps(v, SUM(_mm256_add_ps));
	return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

#endif

/* A multiply and an add (the build does not contract them into an FMA, and
 * this path is for CPUs without one). */
static float loop_scalar(long n)
{
	const float m = 0.999f, c = 0.001f;
	DECLARE(float, START);
#define F1(a) ((a) * m + c)
#define ADD1(x, y) ((x) + (y))
	for (long i = 0; i < n; i++)
		STEP(F1);
	return SUM(ADD1);
}

enum isa { ISA_SCALAR, ISA_AVX2, ISA_AVX512 };

static enum isa best_isa(void)
{
#if HAVE_X86
	const struct cpu_features *cpu = cpu_features();
	if (cpu->avx512f && cpu->fma)
		return ISA_AVX512;
	if (cpu->avx2 && cpu->fma)
		return ISA_AVX2;
#endif
	return ISA_SCALAR;
}

const char *fma_peak_isa(void)
{
	static const char *const names[] = {"scalar", "avx2", "avx512"};
	return names[best_isa()];
}

static float run_loop(enum isa isa, long n)
{
#if HAVE_X86
	if (isa == ISA_AVX512)
		return loop_avx512(n);
	if (isa == ISA_AVX2)
		return loop_avx2(n);
#endif
	return loop_scalar(n);
}

/* Seconds for every thread of the team to run n steps; *team gets the
 * team's size. The clock starts when all threads have arrived. */
static double trial(enum isa isa, int threads, long n, int *team)
{
	double t0 = 0, t1 = 0;
	volatile float sink = 0;
#pragma omp parallel num_threads(threads)
	{
#pragma omp barrier
#pragma omp master
		t0 = tf_clock();
		float r = run_loop(isa, n);
#pragma omp barrier
#pragma omp master
		{
			t1 = tf_clock();
			*team = omp_get_num_threads();
		}
#pragma omp atomic
		sink += r;
	}
	(void)sink;
	return t1 - t0;
}

int fma_peak_judge(double *rates, int n, struct fma_peak *p)
{
	struct timing_summary t;
	if (n < 1)
		return tf_seterr("fma peak: no trials");
	for (int i = 0; i < n; i++)
		if (!(rates[i] > 0) || rates[i] > 1e300)
			return tf_seterr("fma peak: trial %d ran at %g GFLOP/s", i, rates[i]);
	if (timing_summarise(rates, n, &t))
		return -1;
	p->gflops = t.max;
	p->median_gflops = t.median;
	p->trials = n;
	p->busy = t.median < FMA_PEAK_BUSY * t.max;
	return 0;
}

/* Many short trials rather than a few long ones: on a shared machine some
 * of them find the cores free, and the best of those is the peak. */
int fma_peak_measure(int threads, struct fma_peak *p)
{
	static const int lanes[] = {1, 8, 16};
	enum isa isa = best_isa();
	int team = 0;
	long n = 1000;
	double t, rates[FMA_PEAK_TRIALS];
	if (threads < 1)
		return tf_seterr("fma peak: %d threads", threads);
	/* grow the loop until one trial takes about 10 ms */
	while ((t = trial(isa, threads, n, &team)) < 0.01 && n < (1L << 40))
		n = t > 1e-4 ? (long)((double)n * 0.01 / t) + 1 : n * 10;
	if (team != threads)
		return tf_seterr("fma peak: asked for %d threads, OpenMP gave %d", threads, team);
	for (int i = 0; i < FMA_PEAK_TRIALS; i++) {
		if ((t = trial(isa, threads, n, &team)) <= 0)
			return tf_seterr("fma peak: the clock did not advance");
		rates[i] = (double)threads * (double)n * CHAINS * lanes[isa] * 2 / t * 1e-9;
	}
	return fma_peak_judge(rates, FMA_PEAK_TRIALS, p);
}
