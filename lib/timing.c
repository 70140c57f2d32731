#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"
#include "timing.h"

double tf_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int timing_summarise(double *t, int n, struct timing_summary *s)
{
	if (n < 1)
		return tf_seterr("no measurements to summarise");
	for (int i = 0; i < n; i++)
		if (!isfinite(t[i]))
			return tf_seterr("measurement %d is not a finite number", i);
	qsort(t, (size_t)n, sizeof *t, by_value);
	s->min = t[0];
	s->max = t[n - 1];
	s->median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	return 0;
}
