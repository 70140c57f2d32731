#include <stddef.h>

#include "resize.h"

/* Source coordinate of output index i, PyTorch's area_pixel_compute_source_index
 * for align_corners=False, in float as PyTorch computes it for float tensors. */
static void source(int i, int in, int out, int *i0, int *i1, float *frac)
{
	float scale = (float)in / (float)out;
	float s = scale * ((float)i + 0.5f) - 0.5f;
	if (s < 0)
		s = 0;
	*i0 = (int)s;
	if (*i0 > in - 1)
		*i0 = in - 1;
	*i1 = *i0 + (*i0 < in - 1);
	*frac = s - (float)*i0;
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
