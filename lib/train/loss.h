/* The training loss and its gradient with respect to the masks.
 *
 * Shapes (B batch items, S stems, C audio channels, F bins, T frames):
 *   masks   [B][S*C][F][T]  the network's output; mask s*C + c is stem s of channel c
 *   mix     [B][C][F][T]    the mixture's spectrogram, complex (re, im interleaved)
 *   target  [B][S][C][F][T] each stem's spectrogram, complex
 *   dmasks  like masks: dLoss/dmasks (written, not added to)
 *
 * Spectral L1: the estimate of stem s is masks[s*C+c] * mix[c] (complex);
 *   loss = mean over B*S*C*F*T*2 elements of |re(est - target)| and
 *   |im(est - target)|. The sub-gradient of |x| at 0 is taken as 0.
 * Waveform L1 (optional, weight w): the estimate's inverse STFT against the
 *   stems' waveforms, wave [B][S][C][L]: w * mean |istft(est) - wave|; its
 *   gradient goes back through the adjoint of the inverse STFT.
 * Sums are in double, per (b, s, c) row and then in a fixed order, so the
 * result does not depend on the number of threads. */
#ifndef TF_TRAIN_LOSS_H
#define TF_TRAIN_LOSS_H
#include <stdint.h>

#include "train/spec.h"

struct loss_shape {
	int B, S, C, F, T;
};

/* Returns the spectral L1 loss; writes dmasks. */
double loss_spec_l1(const struct loss_shape *sh, const float *masks, const float *mix,
		    const float *target, float *dmasks);

/* Adds weight * waveform L1 to the loss (returned: the waveform term alone,
 * unweighted) and weight * its gradient to dmasks. L samples per signal.
 * -1 is returned as NAN with a message (out of memory). */
double loss_wave_l1(const struct loss_shape *sh, const struct spec *sp, const float *masks,
		    const float *mix, const float *wave, int64_t L, double weight, float *dmasks);

#endif
