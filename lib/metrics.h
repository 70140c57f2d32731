/* Separation quality of an estimate against its reference, from running
 * sums, so that tracks of any length stream through in constant memory:
 *   global SDR (the Music Demixing Challenge's "SDR"):
 *     10 log10((sum r^2 + d) / (sum (r - e)^2 + d)), d = 1e-7,
 *     over all samples and channels;
 *   SI-SDR (Le Roux et al., 2019), over all samples and channels, after
 *     removing each signal's mean: a = <e, r> / <r, r>,
 *     10 log10(|a r|^2 / |e - a r|^2).
 * BSS Eval's SDR/SIR/ISR/SAR (museval) are not computed here. */
#ifndef TF_METRICS_H
#define TF_METRICS_H
#include <stddef.h>
#include <stdint.h>

struct metric_sums {
	double rr, ee, re, dd, r, e; /* sums of r^2, e^2, r e, (r - e)^2, r, e */
	int64_t n;
};

/* Adds n samples of reference r and estimate e (any layout, the same for both). */
void metric_add(struct metric_sums *s, const float *r, const float *e, size_t n);
double metric_global_sdr(const struct metric_sums *s);
/* +inf for a perfect (scaled) estimate; NaN when the reference is silent. */
double metric_si_sdr(const struct metric_sums *s);

#endif
