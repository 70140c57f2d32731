/* Backward passes of the convolutions in conv.h, same layouts: images
 * channel-last, weights prepared. Gradients are added (+=), never
 * overwritten. Single-threaded; the caller splits the rows. */
#ifndef TF_CONV_BACKWARD_H
#define TF_CONV_BACKWARD_H
#include <stddef.h>

/* Output rows [oh0, oh1) of a k x k convolution: dw [Co][k][k][Ci] +=
 * dy^T im2col(in); dx [H][W][Ci] += col2im(dy w) unless dx is NULL. dx
 * receives input rows oh0*stride-pad .. (oh1-1)*stride-pad+k-1: callers that
 * run row ranges in parallel must keep concurrent ranges that far apart.
 * scratch: conv2d_backward_scratch_floats(Wo, oh1-oh0, Ci, k) floats. */
size_t conv2d_backward_scratch_floats(int Wo, int rows, int Ci, int k);
void conv2d_backward_rows(float *dw, float *dx, const float *dy, const float *in, const float *w,
			  int H, int W, int Ci, int Co, int k, int stride, int pad, int oh0, int oh1,
			  float *scratch);
/* Plain reference, PyTorch layout dw [Co][Ci][k][k], whole image. */
void conv2d_backward_ref(float *dw_oikk, float *dx, const float *dy, const float *in,
			 const float *w_oikk, int H, int W, int Ci, int Co, int k, int stride, int pad);

/* ConvTranspose2d(4, 2, 1), input rows [m0, m1): dw (prepared layout) +=,
 * dx [H][W][Ci] += (rows m0-1 .. m1 are touched), dy [2H][2W][Co].
 * scratch: convt4s2_backward_scratch_floats(W, Ci) floats. */
size_t convt4s2_backward_scratch_floats(int W, int Ci);
void convt4s2_backward_rows(float *dw, float *dx, const float *dy, const float *in, const float *w,
			    int H, int W, int Ci, int Co, int m0, int m1, float *scratch);
/* Plain reference, PyTorch layout dw [Ci][Co][4][4]. */
void convt4s2_backward_ref(float *dw_iokk, float *dx, const float *dy, const float *in,
			   const float *w_iokk, int H, int W, int Ci, int Co);

#endif
