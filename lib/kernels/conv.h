/* 2-D convolutions on channel-last images: x[h][w][c] (one batch item).
 * Weights are stored in the order the im2col columns are built, which the
 * model preparation step produces from PyTorch's layouts. */
#ifndef TF_CONV_H
#define TF_CONV_H
#include <stddef.h>

/* Output size of a convolution along one axis. */
static inline int conv_out_size(int in, int k, int stride, int pad)
{
	int span = in + 2 * pad - k;
	return span < 0 ? 0 : span / stride + 1;
}

/* Converts a PyTorch conv weight [Co][Ci][k][k] to [Co][k][k][Ci]. */
void conv2d_weight_prepare(float *dst, const float *src, int Co, int Ci, int k);

/* Output rows [oh0, oh1) of out[Ho][Wo][Co] = conv(in[H][W][Ci], w) + bias.
 * w: [Co][k][k][Ci] (prepared). scratch: conv2d_scratch_floats(...) floats.
 * Single-threaded; callers split the rows across threads. */
size_t conv2d_scratch_floats(int Wo, int rows, int Ci, int k);
void conv2d_rows(float *out, const float *in, const float *w, const float *bias, int H, int W,
		 int Ci, int Co, int k, int stride, int pad, int oh0, int oh1, float *scratch);
/* The im2col rows of output rows [oh0, oh1): col[(oh-oh0)*Wo + ow] holds
 * the k*k*Ci inputs of that output pixel (zeros outside the image), in the
 * order of the prepared weights. conv2d_rows multiplies them by w. */
void conv2d_im2col(float *col, const float *in, int H, int W, int Ci, int k, int stride, int pad, int oh0,
		   int oh1);
/* Plain reference, PyTorch weight layout [Co][Ci][k][k]. */
void conv2d_ref(float *out, const float *in, const float *w_oikk, const float *bias, int H, int W,
		int Ci, int Co, int k, int stride, int pad);

/* ConvTranspose2d with kernel 4, stride 2, padding 1 (out 2H x 2W), as four
 * 2x2 convolutions, one per output parity class, so no work is wasted on
 * the zeros a scatter formulation would insert.
 * Prepared weight: [2][2][Co][2][2][Ci] from PyTorch's [Ci][Co][4][4]. */
void convt4s2_weight_prepare(float *dst, const float *src, int Ci, int Co);
size_t convt4s2_scratch_floats(int W, int Ci);
/* Input rows [m0, m1) produce output rows 2*m0 .. 2*m1-1 of out[2H][2W][Co]. */
void convt4s2_rows(float *out, const float *in, const float *w, const float *bias, int H, int W,
		   int Ci, int Co, int m0, int m1, float *scratch);
/* The 2x2 input neighbourhoods feeding output parity (ph, pw) of output
 * row 2m+ph: col[n][4*Ci] for n < W (zeros outside). convt4s2_rows
 * multiplies them by parity block (ph, pw) of the prepared weight. */
void convt4s2_gather(float *col, const float *in, int H, int W, int Ci, int m, int ph, int pw);
/* Plain reference, PyTorch weight layout [Ci][Co][4][4]. */
void convt4s2_ref(float *out, const float *in, const float *w_iokk, const float *bias, int H, int W,
		  int Ci, int Co);

#endif
