/* BSS Eval version 4, as museval computes it for SiSEC 2018 and MUSDB18
 * results (museval.metrics.bss_eval with compute_permutation=False,
 * framewise_filters=False, the bss_eval_images variant):
 *
 * For each estimate, two least-squares projections with time-invariant
 * filters of filter_len taps fitted once over the whole track: Pj, on the
 * delayed versions of its own reference's channels, and P, on those of all
 * the references. The normal equations use the Gram matrix of the delayed
 * references and their correlations with the estimate (museval adds the
 * machine epsilon to the Gram matrix's diagonal; so does this).
 *
 * Then, window by window, the references restricted to the window are
 * filtered (their convolutions run filter_len - 1 samples past the window's
 * end) and, with s the reference, x the estimate (both zero past the end):
 *
 *     SDR = 10 log10(|s|^2 / |x - s|^2)     ISR = 10 log10(|s|^2 / |Pj - s|^2)
 *     SIR = 10 log10(|Pj|^2 / |P - Pj|^2)   SAR = 10 log10(|P|^2 / |x - P|^2)
 *
 * summed over the channels. A window in which any reference or estimate is
 * silent (every sample's channel sum exactly zero) is NaN for every source;
 * a ratio with a zero denominator is +inf (museval's conventions; museval
 * then stores infinities as NaN, see bss_median). Windows: museval's, start
 * t * hop, length window, as many as fit whole; one window, the whole
 * track, when window >= frames. */
#ifndef TF_BSSEVAL_H
#define TF_BSSEVAL_H
#include <stdint.h>

#define BSS_MAX_SOURCES 64

struct bss_params {
	int window, hop;    /* samples; museval: one second each */
	int filter_len;     /* taps; museval: 512 */
};

/* Scores per source and window: x[j * nwin + t]. */
struct bss_scores {
	int nsrc, nwin;
	double *sdr, *isr, *sir, *sar;
	int regularised;    /* the Gram matrix needed diagonal loading (see bss_eval) */
	/* Estimated condition numbers of the Gram matrices: of all the
	 * references (P) and of each source's own channels (Pj), by power and
	 * inverse iteration on their Cholesky factors (a few steps: an estimate
	 * from below, good to an order of magnitude). Above about 1e12 SIR, ISR
	 * and SAR depend on rounding: two correct implementations can differ by
	 * tenths of a dB. */
	double cond_all, cond[BSS_MAX_SOURCES];
};
#define BSS_ILL_CONDITIONED 1e12

/* museval's window count. */
int64_t bss_windows(int64_t frames, int window, int hop);

/* refs[j], ests[j]: nsrc sources of frames interleaved frames of channels
 * each; estimate j goes with reference j. A Gram matrix that is not
 * numerically positive definite (a reference silent, one channel a copy or
 * delay of another) gets the smallest diagonal loading that makes it so,
 * from 1e-10 of its mean diagonal up, and out->regularised says so; museval
 * would solve the singular system and report noise. Returns 0, or -1 with a
 * message. */
int bss_eval(const float *const *refs, const float *const *ests, int nsrc, int channels, int64_t frames,
	     const struct bss_params *p, struct bss_scores *out);
void bss_scores_free(struct bss_scores *s);

/* The median of the finite values of v[0, n) (the mean of the middle two
 * for an even count), NaN when there are none: museval's summary of a
 * track (its JSON turns infinities into NaN, its median skips NaN) and of
 * a set of tracks. */
double bss_median(const double *v, int64_t n);

#endif
