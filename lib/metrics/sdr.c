#include <math.h>

#include "sdr.h"

double global_sdr(const float *ref, const float *est, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double s = ref[i], d = s - est[i];
		num += s * s, den += d * d;
	}
	return 10 * log10((num + MDX_SDR_DELTA) / (den + MDX_SDR_DELTA));
}

double si_sdr(const float *ref, const float *est, size_t n)
{
	double ss = 0, sx = 0, xx = 0;
	for (size_t i = 0; i < n; i++)
		ss += (double)ref[i] * ref[i], sx += (double)ref[i] * est[i], xx += (double)est[i] * est[i];
	if (ss == 0 || xx == 0)
		return NAN; /* 0/0: no target and no error to compare */
	double a = sx / ss, target = 0, noise = 0;
	/* the residual summed directly, not as |x|^2 - a^2 |s|^2, which
	 * cancels catastrophically for good estimates */
	for (size_t i = 0; i < n; i++) {
		double t = a * ref[i], e = t - est[i];
		target += t * t, noise += e * e;
	}
	return noise == 0 ? INFINITY : 10 * log10(target / noise);
}
