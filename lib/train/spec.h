/* The trainer's spectrograms: STFT, inverse STFT and the inverse's adjoint
 * of one whole signal at a time (a training segment or a validation
 * excerpt), with the conventions of lib/stft.h (torch.stft/torch.istft:
 * periodic Hann, centre reflect padding, onesided, window-sum-square
 * normalisation). Unlike lib/stft.h these see the whole signal at once,
 * which the adjoint needs and which makes batches simple to parallelise:
 * each call may run on its own thread once the plan is made.
 *
 * Layouts: a signal is L contiguous floats (one channel); a spectrogram is
 * complex [bins][frames], interleaved (re, im): one channel of a c64
 * [channels][bins][frames] tensor. frames = 1 + L / hop; L > n_fft / 2
 * (reflection needs it). */
#ifndef TF_TRAIN_SPEC_H
#define TF_TRAIN_SPEC_H
#include <stddef.h>
#include <stdint.h>

struct spec;

/* Plans the transforms (FFTW planning is not thread-safe: make plans on
 * one thread). NULL with a message on bad sizes. */
struct spec *spec_new(int n_fft, int hop);
void spec_free(struct spec *sp);
int spec_bins(const struct spec *sp);
int64_t spec_frames(const struct spec *sp, int64_t samples);

/* X[bins][frames] = STFT(x[L]). -1 with a message if L is too short or
 * memory runs out. */
int spec_stft(const struct spec *sp, const float *x, int64_t L, float *X);
/* y[L] = iSTFT(X[bins][T]) cut to L samples (torch.istft(length=L)). */
int spec_istft(const struct spec *sp, const float *X, int T, int64_t L, float *y);
/* G[bins][T] = iSTFT^T g: the gradient with respect to the real and
 * imaginary parts of X of a loss whose gradient with respect to
 * y = iSTFT(X) is g[L]. Imaginary parts of the DC and Nyquist bins, which
 * the inverse ignores, get 0. */
int spec_istft_adjoint(const struct spec *sp, const float *g, int T, int64_t L, float *G);
/* The same without allocating, for a caller that runs them at every
 * training step: scratch holds spec_istft_scratch(sp, T) floats, 64-byte
 * aligned. These return 0. */
size_t spec_istft_scratch(const struct spec *sp, int T);
int spec_istft_work(const struct spec *sp, const float *X, int T, int64_t L, float *y, float *scratch);
int spec_istft_adjoint_work(const struct spec *sp, const float *g, int T, int64_t L, float *G, float *scratch);

#endif
