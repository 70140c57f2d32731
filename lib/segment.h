/* Running the network over a spectrogram that arrives in chunks: fixed-length
 * segments of frames with overlap, masks cross-faded where segments overlap,
 * frames handed on as soon as no later segment can change them. Memory is
 * bounded by the segment length, not the track length. */
#ifndef TF_SEGMENT_H
#define TF_SEGMENT_H
#include <stdint.h>

#include "unet.h"

/* Receives finished frames: masks [out_channels][bins][n] (f32) and the
 * mixture they apply to, mix [channels][bins][n] (complex, interleaved),
 * starting at absolute frame `first`. Returns 0, or -1 to stop. */
typedef int (*segment_emit_fn)(void *ctx, const float *masks, const float *mix, int64_t first, int n);

struct segmenter;

/* segment = 0: the whole input is one segment, unpadded (memory grows with
 * the input). Otherwise segment >= UNET_MIN_SIZE and 0 <= overlap <= segment/2.
 * The network runs on `threads` threads (0: OpenMP's default), on a plan
 * (unet_plan_new) made at the first run and kept for the others. */
struct segmenter *segmenter_new(const struct unet *u, int bins, int segment, int overlap, int threads);
void segmenter_free(struct segmenter *s);
/* spec: complex [channels][bins][n], interleaved re/im. */
int segmenter_push(struct segmenter *s, const float *spec, int n, segment_emit_fn emit, void *ctx);
/* End of input: runs what is left and emits every remaining frame. */
int segmenter_finish(struct segmenter *s, segment_emit_fn emit, void *ctx);
/* Segments run so far (for progress). */
int64_t segmenter_runs(const struct segmenter *s);

/* How many segments a segmenter (segment, overlap as for segmenter_new)
 * runs for an input of `frames` frames: what a forward pass costs per
 * track. 0 for no frames. */
int64_t segment_count(int64_t frames, int segment, int overlap);

/* stems[s][c][f][t] = masks[s*C + c][f][t] * mix[c][f][t] (complex).
 * masks: [S*C][F][n], mix and stems complex; n frames. */
void mask_apply(float *stems, const float *masks, const float *mix, int S, int C, int F, int n);

/* How stems are made from the network's masks (tf-unet --mask-norm). */
enum mask_norm {
	MASK_RAW,   /* as they are: independent sigmoids, need not sum to 1 */
	MASK_SUM1,  /* m_s / sum_k m_k per bin and channel */
	MASK_POWER, /* m_s^2 / sum_k m_k^2 per bin and channel: the Wiener
		     * filter with (m_s |X|)^2 as stem s's power, no EM steps */
};
/* tf-unet's --mask-norm when none is given, and what tf-train validates with */
#define MASK_NORM_DEFAULT MASK_SUM1
/* Where the masks of a bin sum (sum1) or their squares sum (power) to less
 * than this, every stem gets 1/S of it, so the stems still add up. */
#define MASK_NORM_EPS 1e-12f
/* "raw", "sum1", "power" to enum mask_norm; -1 if none of them. */
int mask_norm_parse(const char *name);
/* The name mask_norm_parse takes; NULL for no enum mask_norm. */
const char *mask_norm_name(int norm);
/* out = masks normalised per bin and channel as `norm` says; out may be
 * masks (in place). Shapes as for mask_apply. With sum1 and power the
 * masks of each bin sum to 1 up to rounding. */
void mask_normalize(float *out, const float *masks, int S, int C, int F, int n, enum mask_norm norm);
/* The gradient through mask_normalize (training with normalised masks):
 * from dout = dLoss/dout, writes dmasks = dLoss/dmasks; dmasks may be dout
 * (in place). With w_s = m_s (sum1) or m_s^2 (power), D = sum_k w_k and
 * out_s = w_s / D:
 *   dLoss/dw_k = (dout_k - sum_s dout_s out_s) / D,
 *   dLoss/dm_k = dLoss/dw_k (sum1) or 2 m_k dLoss/dw_k (power);
 * 0 where D is below MASK_NORM_EPS (out is the constant 1/S there). */
void mask_normalize_backward(float *dmasks, const float *dout, const float *masks, int S, int C, int F, int n,
			     enum mask_norm norm);

#endif
