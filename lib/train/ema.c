/* The parameters' moving average (lib/train/ema.h). */
#include "train/ema.h"

double ema_decay_at(double decay, int64_t t)
{
	double ramp = (1.0 + (double)t) / (10.0 + (double)t);
	return ramp < decay ? ramp : decay;
}

void ema_update(float *avg, const float *p, size_t n, double d)
{
	float a = (float)d, b = (float)(1.0 - d);
	for (size_t i = 0; i < n; i++)
		avg[i] = a * avg[i] + b * p[i];
}
