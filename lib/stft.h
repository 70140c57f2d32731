/* Streaming short-time Fourier transform and its inverse (FFTW3, single
 * precision), with exactly the conventions of
 *
 *   torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft, periodic=True),
 *              center=True, pad_mode="reflect", onesided=True, normalized=False)
 *   torch.istft(X, n_fft, hop, window=<the same>, center=True, length=samples)
 *
 * Both directions take their input in pieces of any size and hand results
 * on as soon as they are final, keeping O(n_fft) state per channel: a track
 * is never held whole.
 *
 * Layouts. Audio is interleaved float: sample i of channel c is x[i*channels + c].
 * Spectrogram chunks are complex [channels][bins][frames], each complex number
 * two floats (real, imaginary); bins = n_fft/2 + 1. That is the c64 tensor of
 * a "spectrogram" stream chunk (formats/tensor-stream.md).
 *
 * Frames. Frame t is the windowed FFT of samples [t*hop - n_fft/2,
 * t*hop + n_fft/2) of the signal extended by reflection at both ends
 * (x[-k] = x[k], x[n-1+k] = x[n-1-k]: the edge sample is not repeated);
 * there are 1 + samples/hop frames (integer division).
 *
 * Short signals. Reflection needs samples > n_fft/2 (torch.stft refuses
 * shorter ones). A shorter signal, including an empty one, is first extended
 * with zeros to n_fft/2 + 1 samples, so it gives 1 + (n_fft/2 + 1)/hop frames;
 * its inverse, cut to the original length, is still the original signal.
 *
 * Sizes: n_fft even, 2 <= n_fft <= STFT_MAX_NFFT; 1 <= hop <= n_fft for the
 * STFT, and hop < n_fft for the inverse (a Hann window hopped by its whole
 * length overlaps nowhere, so the overlap-add cannot be undone). */
#ifndef TF_STFT_H
#define TF_STFT_H
#include <stddef.h>
#include <stdint.h>

#define STFT_MAX_NFFT (1 << 20)
#define STFT_MAX_CHANNELS 64

/* Frames the STFT makes of a signal of `samples` samples per channel. */
int64_t stft_frame_count(int64_t samples, int n_fft, int hop);

/* Receives `nframes` consecutive frames, the first being frame `first`, as
 * complex [channels][bins][nframes]; the memory is reused after the call.
 * Returns 0, or -1 (with tf_seterr) to stop the transform with that error. */
typedef int (*stft_emit_fn)(void *ctx, const float *spec, int64_t first, int nframes);

struct stft;
/* chunk: frames per emitted chunk (every chunk but the last has exactly
 * this many). NULL with a message on bad sizes or no memory. */
struct stft *stft_new(int n_fft, int hop, int channels, int chunk);
void stft_free(struct stft *s);
/* Feeds nsamples samples per channel (interleaved); emits every chunk that
 * fills up. */
int stft_push(struct stft *s, const float *audio, size_t nsamples, stft_emit_fn emit, void *ctx);
/* End of the signal: the last frames (which reach into the reflected end)
 * and the last, partial chunk. Call once; nothing may be pushed after it. */
int stft_finish(struct stft *s, stft_emit_fn emit, void *ctx);
int64_t stft_samples(const struct stft *s); /* samples pushed so far, per channel */
int64_t stft_frames(const struct stft *s);  /* frames emitted so far */

/* Receives nsamples final samples per channel, interleaved; the memory is
 * reused after the call. Returns 0 or -1 (with tf_seterr) to stop. */
typedef int (*istft_emit_fn)(void *ctx, const float *audio, size_t nsamples);

struct istft;
/* length: the samples per channel of the result when known in advance, or
 * -1. When known, no sample beyond it is ever emitted. */
struct istft *istft_new(int n_fft, int hop, int channels, int64_t length);
void istft_free(struct istft *s);
/* Feeds nframes frames, complex [channels][bins][nframes]. Emits the
 * samples no later frame can change (hop per frame). While the length is
 * unknown, a sample also waits until it lies within every length the frames
 * so far allow (T frames: at least (T - 1) * hop samples, but possibly none
 * while T <= 1 + (n_fft/2 + 1)/hop, the frames of a zero-extended short
 * signal), so that nothing past the final length is ever emitted. */
int istft_push(struct istft *s, const float *spec, int nframes, istft_emit_fn emit, void *ctx);
/* End of the frames: emits the rest so that exactly `length` samples have
 * been emitted in all (-1: the length given to istft_new, or when that was
 * -1 too, (frames - 1) * hop as torch.istft without a length). Samples the
 * frames do not reach are zeros. -1 if more than length samples had already
 * been emitted (a length that does not fit the frames). */
int istft_finish(struct istft *s, int64_t length, istft_emit_fn emit, void *ctx);
int64_t istft_frames(const struct istft *s);   /* frames pushed so far */
int64_t istft_emitted(const struct istft *s);  /* samples emitted so far */

#endif
