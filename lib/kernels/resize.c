#include <stddef.h>

#include "resize.h"

/* Source coordinate of output index i, PyTorch's area_pixel_compute_source_index
 * for align_corners=False. In double: in float, the coordinate of row 1000
 * is off by about 6e-5 of a pixel (a relative error of the scale, times
 * the index), which becomes an error of that fraction of the difference
 * between neighbouring pixels, 1e-3 and more on the decoder's large
 * activations, where PyTorch's own float result is within 1e-4. */
static void source(int i, int in, int out, int *i0, int *i1, float *frac)
{
	double s = (double)in / out * (i + 0.5) - 0.5;
	if (s < 0)
		s = 0;
	*i0 = (int)s;
	if (*i0 > in - 1)
		*i0 = in - 1;
	*i1 = *i0 + (*i0 < in - 1);
	*frac = (float)(s - *i0);
}

void resize_bilinear_rows(float *out, const float *in, int H, int W, int C, int Ho, int Wo, int oh0,
			  int oh1)
{
	for (int oh = oh0; oh < oh1; oh++) {
		int h0, h1;
		float fh;
		source(oh, H, Ho, &h0, &h1, &fh);
		for (int ow = 0; ow < Wo; ow++) {
			int w0, w1;
			float fw;
			source(ow, W, Wo, &w0, &w1, &fw);
			const float *a = in + ((size_t)h0 * W + w0) * C, *b = in + ((size_t)h0 * W + w1) * C;
			const float *c = in + ((size_t)h1 * W + w0) * C, *d = in + ((size_t)h1 * W + w1) * C;
			float *o = out + ((size_t)oh * Wo + ow) * C;
			for (int k = 0; k < C; k++)
				o[k] = (1 - fh) * ((1 - fw) * a[k] + fw * b[k]) + fh * ((1 - fw) * c[k] + fw * d[k]);
		}
	}
}

void resize_bilinear_ref(float *out, const float *in, int H, int W, int C, int Ho, int Wo)
{
	for (int oh = 0; oh < Ho; oh++)
		for (int ow = 0; ow < Wo; ow++) {
			double sh = (double)H / Ho * (oh + 0.5) - 0.5, sw = (double)W / Wo * (ow + 0.5) - 0.5;
			sh = sh < 0 ? 0 : sh, sw = sw < 0 ? 0 : sw;
			int h0 = (int)sh < H - 1 ? (int)sh : H - 1, w0 = (int)sw < W - 1 ? (int)sw : W - 1;
			int h1 = h0 + (h0 < H - 1), w1 = w0 + (w0 < W - 1);
			double fh = sh - h0, fw = sw - w0;
			for (int k = 0; k < C; k++) {
				double a = in[((size_t)h0 * W + w0) * C + k], b = in[((size_t)h0 * W + w1) * C + k];
				double c = in[((size_t)h1 * W + w0) * C + k], d = in[((size_t)h1 * W + w1) * C + k];
				out[((size_t)oh * Wo + ow) * C + k] =
					(float)((1 - fh) * ((1 - fw) * a + fw * b) + fh * ((1 - fw) * c + fw * d));
			}
		}
}

/* The transpose of resize_bilinear_rows: each output's gradient goes to its
 * four source pixels with the same weights. Serial, in output order, so the
 * sums do not depend on threads. */
void resize_bilinear_backward(float *din, const float *dout, int H, int W, int C, int Ho, int Wo)
{
	for (int oh = 0; oh < Ho; oh++) {
		int h0, h1;
		float fh;
		source(oh, H, Ho, &h0, &h1, &fh);
		for (int ow = 0; ow < Wo; ow++) {
			int w0, w1;
			float fw;
			source(ow, W, Wo, &w0, &w1, &fw);
			const float *g = dout + ((size_t)oh * Wo + ow) * C;
			float *a = din + ((size_t)h0 * W + w0) * C, *b = din + ((size_t)h0 * W + w1) * C;
			float *c = din + ((size_t)h1 * W + w0) * C, *d = din + ((size_t)h1 * W + w1) * C;
			float wa = (1 - fh) * (1 - fw), wb = (1 - fh) * fw, wc = fh * (1 - fw), wd = fh * fw;
			for (int k = 0; k < C; k++) {
				a[k] += wa * g[k];
				b[k] += wb * g[k];
				c[k] += wc * g[k];
				d[k] += wd * g[k];
			}
		}
	}
}

void resize_bilinear_backward_ref(float *din, const float *dout, int H, int W, int C, int Ho, int Wo)
{
	for (int oh = 0; oh < Ho; oh++)
		for (int ow = 0; ow < Wo; ow++) {
			double sh = (double)H / Ho * (oh + 0.5) - 0.5, sw = (double)W / Wo * (ow + 0.5) - 0.5;
			sh = sh < 0 ? 0 : sh, sw = sw < 0 ? 0 : sw;
			int h0 = (int)sh < H - 1 ? (int)sh : H - 1, w0 = (int)sw < W - 1 ? (int)sw : W - 1;
			int h1 = h0 + (h0 < H - 1), w1 = w0 + (w0 < W - 1);
			double fh = sh - h0, fw = sw - w0;
			for (int k = 0; k < C; k++) {
				double g = dout[((size_t)oh * Wo + ow) * C + k];
				din[((size_t)h0 * W + w0) * C + k] += (float)((1 - fh) * (1 - fw) * g);
				din[((size_t)h0 * W + w1) * C + k] += (float)((1 - fh) * fw * g);
				din[((size_t)h1 * W + w0) * C + k] += (float)(fh * (1 - fw) * g);
				din[((size_t)h1 * W + w1) * C + k] += (float)(fh * fw * g);
			}
		}
}
