#include <string.h>

#include "conv.h"
#include "gemm.h"

void conv2d_weight_prepare(float *dst, const float *src, int Co, int Ci, int k)
{
	for (int o = 0; o < Co; o++)
		for (int i = 0; i < Ci; i++)
			for (int y = 0; y < k; y++)
				for (int x = 0; x < k; x++)
					dst[(((size_t)o * k + y) * k + x) * Ci + i] =
						src[(((size_t)o * Ci + i) * k + y) * k + x];
}

void conv2d_im2col(float *col, const float *in, int H, int W, int Ci, int k, int stride, int pad, int oh0,
		   int oh1)
{
	/* one row of k*k*Ci values per output pixel, zeros outside */
	int Wo = conv_out_size(W, k, stride, pad);
	size_t K = (size_t)k * k * Ci;
	for (int oh = oh0; oh < oh1; oh++)
		for (int ow = 0; ow < Wo; ow++) {
			float *c = col + ((size_t)(oh - oh0) * Wo + ow) * K;
			int iw0 = ow * stride - pad;
			for (int y = 0; y < k; y++) {
				int ih = oh * stride - pad + y;
				if (ih >= 0 && ih < H && iw0 >= 0 && iw0 + k <= W) {
					/* the k taps of a kernel row are k adjacent pixels: one copy
					 * (a call per tap of Ci = 4 floats cost more than the copy) */
					memcpy(c, in + ((size_t)ih * W + iw0) * Ci, (size_t)k * Ci * sizeof *c);
					c += (size_t)k * Ci;
					continue;
				}
				for (int x = 0; x < k; x++, c += Ci) {
					int iw = ow * stride - pad + x;
					if (ih < 0 || ih >= H || iw < 0 || iw >= W)
						memset(c, 0, (size_t)Ci * sizeof *c);
					else
						memcpy(c, in + ((size_t)ih * W + iw) * Ci, (size_t)Ci * sizeof *c);
				}
			}
		}
}

size_t conv2d_scratch_floats(int Wo, int rows, int Ci, int k)
{
	return (size_t)Wo * rows * k * k * Ci;
}

void conv2d_rows(float *out, const float *in, const float *w, const float *bias, int H, int W,
		 int Ci, int Co, int k, int stride, int pad, int oh0, int oh1, float *scratch)
{
	int Wo = conv_out_size(W, k, stride, pad);
	size_t K = (size_t)k * k * Ci;
	if (oh1 <= oh0 || Wo <= 0)
		return;
	if (k == 1 && stride == 1 && pad == 0) {
		/* a 1x1 convolution is a plain matrix product over the pixels */
		gemm_nt((oh1 - oh0) * Wo, Co, Ci, in + (size_t)oh0 * W * Ci, Ci, w, Ci, 0.0f,
			out + (size_t)oh0 * Wo * Co, Co);
	} else {
		float *col = scratch;
		conv2d_im2col(col, in, H, W, Ci, k, stride, pad, oh0, oh1);
		gemm_nt((oh1 - oh0) * Wo, Co, (int)K, col, (int)K, w, (int)K, 0.0f,
			out + (size_t)oh0 * Wo * Co, Co);
	}
	if (bias)
		for (size_t p = 0; p < (size_t)(oh1 - oh0) * Wo; p++) {
			float *o = out + ((size_t)oh0 * Wo + p) * Co;
			for (int c = 0; c < Co; c++)
				o[c] += bias[c];
		}
}

void conv2d_ref(float *out, const float *in, const float *w, const float *bias, int H, int W, int Ci,
		int Co, int k, int stride, int pad)
{
	int Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
	for (int oh = 0; oh < Ho; oh++)
		for (int ow = 0; ow < Wo; ow++)
			for (int o = 0; o < Co; o++) {
				double s = bias ? bias[o] : 0;
				for (int i = 0; i < Ci; i++)
					for (int y = 0; y < k; y++)
						for (int x = 0; x < k; x++) {
							int ih = oh * stride - pad + y, iw = ow * stride - pad + x;
							if (ih >= 0 && ih < H && iw >= 0 && iw < W)
								s += (double)in[((size_t)ih * W + iw) * Ci + i] *
								     w[(((size_t)o * Ci + i) * k + y) * k + x];
						}
				out[((size_t)oh * Wo + ow) * Co + o] = (float)s;
			}
}

/* For output index 2m+p, the two kernel taps and the input offsets they read:
 * out[2m+p] gathers in[m + tap_di[p][a]] * w[tap_k[p][a]], a = 0, 1
 * (from oh = 2 ih - 1 + kh). */
static const int tap_k[2][2] = {{1, 3}, {0, 2}};
static const int tap_di[2][2] = {{0, -1}, {1, 0}};

void convt4s2_weight_prepare(float *dst, const float *src, int Ci, int Co)
{
	for (int ph = 0; ph < 2; ph++)
		for (int pw = 0; pw < 2; pw++)
			for (int o = 0; o < Co; o++)
				for (int a = 0; a < 2; a++)
					for (int b = 0; b < 2; b++)
						for (int i = 0; i < Ci; i++)
							dst[((((((size_t)ph * 2 + pw) * Co + o) * 2 + a) * 2 + b) * Ci) + i] =
								src[(((size_t)i * Co + o) * 4 + tap_k[ph][a]) * 4 +
								    tap_k[pw][b]];
}

void convt4s2_gather(float *col, const float *in, int H, int W, int Ci, int m, int ph, int pw)
{
	/* the 2x2 input neighbourhood of each output column n */
	size_t K = 4 * (size_t)Ci;
	for (int n = 0; n < W; n++) {
		float *c = col + (size_t)n * K;
		for (int a = 0; a < 2; a++) {
			int ih = m + tap_di[ph][a];
			for (int b = 0; b < 2; b++, c += Ci) {
				int iw = n + tap_di[pw][b];
				if (ih < 0 || ih >= H || iw < 0 || iw >= W)
					memset(c, 0, (size_t)Ci * sizeof *c);
				else
					memcpy(c, in + ((size_t)ih * W + iw) * Ci, (size_t)Ci * sizeof *c);
			}
		}
	}
}

size_t convt4s2_scratch_floats(int W, int Ci)
{
	return (size_t)W * 4 * Ci;
}

void convt4s2_rows(float *out, const float *in, const float *w, const float *bias, int H, int W,
		   int Ci, int Co, int m0, int m1, float *scratch)
{
	size_t K = 4 * (size_t)Ci, Wo = 2 * (size_t)W;
	for (int m = m0; m < m1; m++)
		for (int ph = 0; ph < 2; ph++)
			for (int pw = 0; pw < 2; pw++) {
				convt4s2_gather(scratch, in, H, W, Ci, m, ph, pw);
				/* outputs (2m+ph, 2n+pw) for n = 0.. are 2*Co floats apart */
				float *o = out + ((size_t)(2 * m + ph) * Wo + pw) * Co;
				gemm_nt(W, Co, (int)K, scratch, (int)K, w + ((size_t)ph * 2 + pw) * Co * K,
					(int)K, 0.0f, o, 2 * Co);
				if (bias)
					for (int n = 0; n < W; n++)
						for (int c = 0; c < Co; c++)
							o[(size_t)n * 2 * Co + c] += bias[c];
			}
}

void convt4s2_ref(float *out, const float *in, const float *w, const float *bias, int H, int W, int Ci,
		  int Co)
{
	int Ho = 2 * H, Wo = 2 * W;
	for (size_t p = 0; p < (size_t)Ho * Wo; p++)
		for (int o = 0; o < Co; o++)
			out[p * Co + o] = bias ? bias[o] : 0;
	/* scatter form, straight from the definition: oh = 2 ih - 1 + kh */
	for (int ih = 0; ih < H; ih++)
		for (int iw = 0; iw < W; iw++)
			for (int kh = 0; kh < 4; kh++)
				for (int kw = 0; kw < 4; kw++) {
					int oh = 2 * ih - 1 + kh, ow = 2 * iw - 1 + kw;
					if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo)
						continue;
					for (int o = 0; o < Co; o++) {
						double s = 0;
						for (int i = 0; i < Ci; i++)
							s += (double)in[((size_t)ih * W + iw) * Ci + i] *
							     w[(((size_t)i * Co + o) * 4 + kh) * 4 + kw];
						out[((size_t)oh * Wo + ow) * Co + o] += (float)s;
					}
				}
}
