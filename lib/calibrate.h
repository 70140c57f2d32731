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
 * outliers reach; the MSE choice weighs both. */
#ifndef TF_CALIBRATE_H
#define TF_CALIBRATE_H
#include <stddef.h>

#include "model.h"

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
