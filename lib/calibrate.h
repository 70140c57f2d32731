/* Calibration for q8s: one static scale for the input of every int8 layer,
 * from the activations the f32 network produces on representative
 * spectrogram streams (tf-stft output).
 *
 * Each layer's |input| values go into a histogram (32 logarithmic bins per
 * octave, read off the float's bits, so that it does not depend on the
 * order in which threads deliver the values). The scale is the
 * MSE-optimal clip: the c, among the bin edges, that minimises
 * the expected squared error of quantising those values with step c/127,
 * counting (v - c)^2 for each value beyond c and step^2/12 (rounding) for
 * each value below it. Min/max (c = the largest value) wastes most of the
 * 255 levels on rare outliers; a fixed percentile ignores how far the
 * outliers reach; the MSE choice weighs both.
 *
 * Some inputs defeat any one scale: the residual stream, which enters the
 * input projections, the fusions and the resampling convolutions, holds
 * quiet and loud bins of the spectrogram side by side. Measured on the
 * shipped model, the expected relative RMS error at the best clip is
 * 0.5-1 % for the inputs that follow a LayerNorm or attention, 0.7-2.7 %
 * after a GELU and 1.6-9.6 % on the residual stream. Layers above
 * CALIB_PER_ROW_ABOVE get scale 0: their rows are quantised per row at run
 * time, as in q8 (formats/model.md). */
#ifndef TF_CALIBRATE_H
#define TF_CALIBRATE_H
#include <stddef.h>

#include "model.h"

/* A layer whose best single scale is expected to lose more than this (RMS
 * error over RMS value) is quantised per row instead. With one scale
 * everywhere, q8s lost 0.43 dB of held-out SDR to f32 on the shipped model
 * (README, "Smaller and faster models"). */
#define CALIB_PER_ROW_ABOVE 0.02

struct calib_layer {
	double absmax;     /* largest |x| seen */
	double clip;       /* the chosen clip c; the scale is c / 127 */
	double rel_rms;    /* expected RMS quantisation error / RMS value */
	double clipped;    /* fraction of values beyond c */
	double count;      /* values seen */
};

/* Runs the f32 model m (quantization none) over the spectrogram streams
 * paths[0..n) ("-" = standard input), each checked against the model
 * (sample rate, n_fft, hop, window, channels: a stream that does not fit is
 * refused, naming the tf-stft options that would), and sets
 * m->act_scale[i] for every tensor that q8 stores as int8 (allocating the
 * q8 arrays). layers[i] (m->nspecs of them) receives what was measured.
 * -1 with a message. */
int calibrate(struct model *m, const char *const *paths, int n, struct calib_layer *layers);

#endif
