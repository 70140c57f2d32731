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

/* The losses' workspace, made once by the training's set-up so that a step
 * allocates nothing: a sum per (b, s, c) row and, for the waveform loss
 * (sp given, L samples per signal), each thread's estimate, signal and
 * inverse-STFT scratch. threads: of the losses' parallel regions (the
 * result does not depend on it). NULL with a message. */
struct loss_work;
struct loss_work *loss_work_new(const struct loss_shape *sh, const struct spec *sp, int64_t L, int threads);
void loss_work_free(struct loss_work *w);

/* Returns the spectral L1 loss; writes dmasks. */
double loss_spec_l1(struct loss_work *w, const float *masks, const float *mix, const float *target, float *dmasks);

/* Adds weight * waveform L1 to the loss (returned: the waveform term alone,
 * unweighted) and weight * its gradient to dmasks. NAN with a message when
 * the workspace was made without sp. */
double loss_wave_l1(struct loss_work *w, const float *masks, const float *mix, const float *wave, double weight,
		    float *dmasks);

#endif
