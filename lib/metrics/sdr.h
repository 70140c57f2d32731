/* Whole-track signal-to-distortion ratios, one number per stem.
 *
 * The global SDR of the Music Demixing Challenge (MDX 2021, also reported as
 * "new SDR" or uSDR): over every sample of every channel,
 *
 *     10 log10((sum s^2 + delta) / (sum (s - x)^2 + delta)),  delta = 1e-7,
 *
 * with the challenge's delta, so that silent references and perfect
 * estimates give finite numbers.
 *
 * The scale-invariant SDR (Le Roux et al., "SDR - half-baked or well
 * done?", ICASSP 2019), over every sample of every channel taken as one
 * signal, without removing the mean: with a = <x, s> / <s, s>,
 *
 *     10 log10(|a s|^2 / |a s - x|^2),
 *
 * +inf when x is exactly a scaled copy of s (a > 0), NaN when s or x is
 * silent (all zero: the ratio is 0/0, undefined; the worst estimate must not
 * rank as a perfect one), -inf when x is orthogonal to s.
 * Sums are in double precision. */
#ifndef TF_SDR_H
#define TF_SDR_H
#include <stddef.h>

#define MDX_SDR_DELTA 1e-7

/* ref and est hold n samples each (frames times channels, interleaved). */
double global_sdr(const float *ref, const float *est, size_t n);
double si_sdr(const float *ref, const float *est, size_t n);

#endif
