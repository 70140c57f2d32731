/* Minimal TAP test helpers shared by the C unit tests.
 * Each test program prints "ok N - what" / "not ok N - what" lines;
 * tests/run.sh counts them together with the bats results. */
#ifndef TEST_H
#define TEST_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rng.h"

static int test_count, test_failed;

/* The tests' random numbers: the project's generator (lib/rng) with a fixed
 * seed, so every run draws the same values. A test that needs a stream of
 * its own seeds a struct rng of its own. */
static __attribute__((unused)) struct rng *fixed_rng(void)
{
	static struct rng r;
	static int seeded;
	if (!seeded)
		rng_seed(&r, 1), seeded = 1;
	return &r;
}

static int __attribute__((format(printf, 2, 3), unused)) ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++test_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		test_failed++;
	return cond;
}

/* Compares two float arrays; reports the largest absolute difference and
 * where it is, whether or not it is within tol. */
static int __attribute__((unused))
check_close(const char *what, const float *got, const float *want, size_t n, double tol)
{
	double worst = 0;
	size_t at = 0;
	int nonfinite = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - (double)want[i]);
		if (!isfinite(got[i]) && isfinite(want[i]))
			nonfinite = 1, d = INFINITY;
		if (d > worst || (i == 0 && n))
			worst = d, at = i;
	}
	return ok(!nonfinite && worst <= tol,
		  "%s: max abs diff %.3g at [%zu] (got %.7g, want %.7g), tol %.3g",
		  what, worst, at, n ? got[at] : 0.f, n ? want[at] : 0.f, tol);
}

static int __attribute__((unused)) test_done(void)
{
	printf("# %d tests, %d failed\n", test_count, test_failed);
	return test_failed ? 1 : 0;
}
#endif
