/* Cross-correlations at short lags of long signals, in double precision:
 *
 *     r_ab[k] = sum_m a[m] b[m + k],   -maxlag <= k <= maxlag,
 *
 * with the signals zero outside [0, frames). Computed as museval does, from
 * products of Fourier transforms, but block by block: each block of a is
 * correlated with the stretch of b around it (maxlag more on either side),
 * and the products of their spectra are summed over blocks before one
 * inverse transform per pair. Memory stays small however long the signals,
 * and the result equals the whole-track transform's up to rounding. */
#ifndef TF_XCORR_H
#define TF_XCORR_H
#include <stdint.h>

/* A signal: frames samples at x[0], x[stride], ... (one channel of
 * interleaved audio). */
struct signal {
	const float *x;
	int stride;
};

/* For each pair p, r[p * (2 maxlag + 1) + maxlag + k] = r_ab[k] with a =
 * sig[pairs[p][0]], b = sig[pairs[p][1]]. Runs on every thread OpenMP
 * allows. -1 with a message when out of memory. */
int xcorr_lags(const struct signal *sig, int nsig, int64_t frames, const int (*pairs)[2], int npairs, int maxlag,
	       double *r);

#endif
