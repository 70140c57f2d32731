/* Bilinear resize of a channel-last image, align_corners=False (half-pixel
 * centres), as PyTorch's F.interpolate(mode="bilinear") computes it. */
#ifndef TF_RESIZE_H
#define TF_RESIZE_H

/* out[Ho][Wo][C] from in[H][W][C]; output rows [oh0, oh1). */
void resize_bilinear_rows(float *out, const float *in, int H, int W, int C, int Ho, int Wo, int oh0,
			  int oh1);

/* Plain reference, all in double: for the tests. */
void resize_bilinear_ref(float *out, const float *in, int H, int W, int C, int Ho, int Wo);

/* Backward: din[H][W][C] += the gradient of out = resize(in) given dout
 * [Ho][Wo][C]. Serial. */
void resize_bilinear_backward(float *din, const float *dout, int H, int W, int C, int Ho, int Wo);
void resize_bilinear_backward_ref(float *din, const float *dout, int H, int W, int C, int Ho, int Wo);

#endif
