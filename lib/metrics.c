#include <math.h>

#include "metrics.h"

#define MDX_DELTA 1e-7

void metric_add(struct metric_sums *s, const float *r, const float *e, size_t n)
{
	double rr = 0, ee = 0, re = 0, dd = 0, sr = 0, se = 0;
	for (size_t i = 0; i < n; i++) {
		double a = r[i], b = e[i];
		rr += a * a, ee += b * b, re += a * b, dd += (a - b) * (a - b), sr += a, se += b;
	}
	s->rr += rr, s->ee += ee, s->re += re, s->dd += dd, s->r += sr, s->e += se;
	s->n += (int64_t)n;
}

double metric_global_sdr(const struct metric_sums *s)
{
	return 10 * log10((s->rr + MDX_DELTA) / (s->dd + MDX_DELTA));
}

double metric_si_sdr(const struct metric_sums *s)
{
	if (!s->n)
		return NAN;
	double n = (double)s->n, mr = s->r / n, me = s->e / n;
	/* centred sums */
	double rr = s->rr - n * mr * mr, ee = s->ee - n * me * me, re = s->re - n * mr * me;
	if (!(rr > 0))
		return NAN;
	double a = re / rr, target = a * a * rr, noise = ee - 2 * a * re + a * a * rr;
	if (noise <= 0)
		return INFINITY;
	return 10 * log10(target / noise);
}
