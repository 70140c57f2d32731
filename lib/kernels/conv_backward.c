#include <string.h>

#include "conv.h"
#include "conv_backward.h"
#include "gemm.h"
#include "wgrad.h"

size_t conv2d_backward_scratch_floats(int Wo, int rows, int Ci, int k)
{
	return 2 * (size_t)Wo * rows * k * k * Ci;
}

void conv2d_backward_rows(float *dw, float *dx, const float *dy, const float *in, const float *w,
			  int H, int W, int Ci, int Co, int k, int stride, int pad, int oh0, int oh1,
			  float *scratch)
{
	int Wo = conv_out_size(W, k, stride, pad), M = (oh1 - oh0) * Wo;
	size_t K = (size_t)k * k * Ci;
	const float *g = dy + (size_t)oh0 * Wo * Co;
	float *col = scratch, *dcol = scratch + (size_t)M * K;
	if (M <= 0)
		return;
	if (k == 1 && stride == 1 && pad == 0) {
		wgrad(Co, Ci, M, g, Co, in + (size_t)oh0 * W * Ci, Ci, dw, Ci);
		if (dx)
			gemm_nn(M, Ci, Co, g, Co, w, Ci, 1.0f, dx + (size_t)oh0 * W * Ci, Ci);
		return;
	}
	conv2d_im2col(col, in, H, W, Ci, k, stride, pad, oh0, oh1);
	wgrad(Co, (int)K, M, g, Co, col, (int)K, dw, (int)K);
	if (!dx)
		return;
	gemm_nn(M, (int)K, Co, g, Co, w, (int)K, 0.0f, dcol, (int)K);
	for (int oh = oh0; oh < oh1; oh++)
		for (int ow = 0; ow < Wo; ow++) {
			const float *c = dcol + ((size_t)(oh - oh0) * Wo + ow) * K;
			for (int y = 0; y < k; y++) {
				int ih = oh * stride - pad + y;
				for (int x = 0; x < k; x++, c += Ci) {
					int iw = ow * stride - pad + x;
					if (ih < 0 || ih >= H || iw < 0 || iw >= W)
						continue;
					float *d = dx + ((size_t)ih * W + iw) * Ci;
					for (int i = 0; i < Ci; i++)
						d[i] += c[i];
				}
			}
		}
}

void conv2d_backward_ref(float *dw, float *dx, const float *dy, const float *in, const float *w,
			 int H, int W, int Ci, int Co, int k, int stride, int pad)
{
	int Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
	for (int o = 0; o < Co; o++)
		for (int i = 0; i < Ci; i++)
			for (int y = 0; y < k; y++)
				for (int x = 0; x < k; x++) {
					double s = 0;
					for (int oh = 0; oh < Ho; oh++)
						for (int ow = 0; ow < Wo; ow++) {
							int ih = oh * stride - pad + y, iw = ow * stride - pad + x;
							if (ih >= 0 && ih < H && iw >= 0 && iw < W)
								s += (double)dy[((size_t)oh * Wo + ow) * Co + o] *
								     in[((size_t)ih * W + iw) * Ci + i];
						}
					dw[(((size_t)o * Ci + i) * k + y) * k + x] += (float)s;
				}
	if (!dx)
		return;
	for (int ih = 0; ih < H; ih++)
		for (int iw = 0; iw < W; iw++)
			for (int i = 0; i < Ci; i++) {
				double s = 0;
				for (int y = 0; y < k; y++)
					for (int x = 0; x < k; x++) {
						int oh = ih + pad - y, ow = iw + pad - x;
						if (oh % stride || ow % stride || oh < 0 || ow < 0)
							continue;
						oh /= stride, ow /= stride;
						if (oh >= Ho || ow >= Wo)
							continue;
						for (int o = 0; o < Co; o++)
							s += (double)dy[((size_t)oh * Wo + ow) * Co + o] *
							     w[(((size_t)o * Ci + i) * k + y) * k + x];
					}
				dx[((size_t)ih * W + iw) * Ci + i] += (float)s;
			}
}

/* as in conv.c: out[2m+p] gathers in[m + tap_di[p][a]] (times tap a's weight) */
static const int tap_di[2][2] = {{0, -1}, {1, 0}};

size_t convt4s2_backward_scratch_floats(int W, int Ci)
{
	return 2 * (size_t)W * 4 * Ci;
}

void convt4s2_backward_rows(float *dw, float *dx, const float *dy, const float *in, const float *w,
			    int H, int W, int Ci, int Co, int m0, int m1, float *scratch)
{
	size_t K = 4 * (size_t)Ci, Wo = 2 * (size_t)W;
	float *col = scratch, *dcol = scratch + (size_t)W * K;
	for (int m = m0; m < m1; m++)
		for (int ph = 0; ph < 2; ph++)
			for (int pw = 0; pw < 2; pw++) {
				const float *g = dy + ((size_t)(2 * m + ph) * Wo + pw) * Co;
				const float *wc = w + ((size_t)ph * 2 + pw) * Co * K;
				convt4s2_gather(col, in, H, W, Ci, m, ph, pw);
				wgrad(Co, (int)K, W, g, 2 * Co, col, (int)K, dw + ((size_t)ph * 2 + pw) * Co * K, (int)K);
				if (!dx)
					continue;
				gemm_nn(W, (int)K, Co, g, 2 * Co, wc, (int)K, 0.0f, dcol, (int)K);
				for (int n = 0; n < W; n++) {
					const float *c = dcol + (size_t)n * K;
					for (int a = 0; a < 2; a++) {
						int ih = m + tap_di[ph][a];
						for (int b = 0; b < 2; b++, c += Ci) {
							int iw = n + tap_di[pw][b];
							if (ih < 0 || ih >= H || iw < 0 || iw >= W)
								continue;
							float *d = dx + ((size_t)ih * W + iw) * Ci;
							for (int i = 0; i < Ci; i++)
								d[i] += c[i];
						}
					}
				}
			}
}

void convt4s2_backward_ref(float *dw, float *dx, const float *dy, const float *in, const float *w,
			   int H, int W, int Ci, int Co)
{
	int Wo = 2 * W, Ho = 2 * H;
	for (int ih = 0; ih < H; ih++)
		for (int iw = 0; iw < W; iw++)
			for (int kh = 0; kh < 4; kh++)
				for (int kw = 0; kw < 4; kw++) {
					int oh = 2 * ih - 1 + kh, ow = 2 * iw - 1 + kw;
					if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo)
						continue;
					const float *g = dy + ((size_t)oh * Wo + ow) * Co;
					const float *x = in + ((size_t)ih * W + iw) * Ci;
					for (int i = 0; i < Ci; i++) {
						double s = 0;
						for (int o = 0; o < Co; o++) {
							size_t wi = (((size_t)i * Co + o) * 4 + kh) * 4 + kw;
							dw[wi] += (float)((double)g[o] * x[i]);
							s += (double)g[o] * w[wi];
						}
						if (dx)
							dx[((size_t)ih * W + iw) * Ci + i] += (float)s;
					}
				}
}
