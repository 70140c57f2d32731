/* Internals of the training pass (lib/unet_train.c): layer drivers that
 * split work over OpenMP threads and add parameter gradients into one
 * gradient buffer per thread (summed in thread order at the end, so the
 * result is the same on every run with the same number of threads).
 * Activations are channel-last, [B][H][W][C], n = B*H*W rows. */
#ifndef TF_TRAIN_H
#define TF_TRAIN_H
#include <stddef.h>

#include "model.h"
#include "seqmap.h"

struct tctx {
	int T;          /* threads of every parallel region */
	float *params;  /* the model's parameter buffer */
	float **tgrad;  /* [T] gradient buffers of nparams floats */
	int update_running; /* BatchNorm: update the running statistics */
	int fq_act;     /* fake-quantise the inputs of the layers q8 runs in int8 (--qat) */
};

#define P(ctx, off) ((ctx)->params + (off))

/* BatchNorm2d "<prefix>": offsets of weight, bias, running_mean, running_var. */
struct bn_off {
	size_t g, b, rm, rv;
};
struct bn_stat {
	float *mean, *istd; /* [C] batch mean and 1/sqrt(biased var + eps) */
};

/* --qat's activation fake-quantisation (lib/kernels/qgemm.h's
 * quantize_rows_fake): rows x[rows][K] as an int8 product sees them, x
 * itself when not on, else a fake-quantised copy in buf (rows * K floats). */
const float *fq_rows(float *buf, const float *x, size_t rows, int K, int on);
/* A thread's buffer for fq_rows: NULL when not on; on failure NULL and
 * *failed set. */
float *fq_buf(size_t floats, int on, int *failed);

/* 1x1 convolution / linear over rows: z[n][co] = x[n][ci] w^T + b; with fq
 * the product sees x fake-quantised per row (quantize_rows_fake). -1 out of
 * memory. */
int pw_forward(struct tctx *ctx, float *z, const float *x, size_t n, int ci, int co, size_t w,
	       size_t b, int fq);
/* dw += dz^T x, db += colsum dz, dx += dz w (dx NULL: not wanted); with fq,
 * dw at the fake-quantised x and dx straight through. -1 out of memory. */
int pw_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, size_t n, int ci,
		int co, size_t w, size_t b, int fq);

/* y = BN(z) with batch statistics (kept in st), then GELU if gelu; updates
 * the running statistics if ctx->update_running. -1 out of memory. */
int bn_forward(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
	       struct bn_stat *st, int gelu);
/* y = BN(z) (then GELU) with the statistics of an earlier bn_forward. */
void bn_apply(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
	      const struct bn_stat *st, int gelu);
/* dz from dy (the gradient of y above); dz and dy distinct. dgamma, dbeta
 * into thread 0's buffer. -1 out of memory. */
int bn_backward(struct tctx *ctx, float *dz, const float *dy, const float *z, size_t n, int C,
		const struct bn_off *o, const struct bn_stat *st, int gelu);

/* k x k convolution (torch weight w at offset, prepared copy wp) over B
 * images: z = conv(x) + bias. -1 out of memory. */
int conv_forward(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
		 int k, int stride, int pad, const float *wp, size_t b);
/* dw (torch layout) and db into the thread buffers; dx += (NULL: skip). */
int conv_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, int B, int H,
		  int W, int ci, int co, int k, int stride, int pad, const float *wp, size_t w,
		  size_t b);
/* ConvTranspose2d(4, 2, 1), x [B][H][W][ci] -> z [B][2H][2W][co]. */
int convt_forward(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
		  const float *wp, size_t b);
int convt_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, int B, int H,
		   int W, int ci, int co, const float *wp, size_t w, size_t b);

/* ---- the attention branches (branch.c) ---- */

struct tl_off { /* one transformer layer tsa/fsa/swa */
	size_t n1w, n1b, n2w, n2b, qkv, proj_w, proj_b, fc1_w, fc1_b, fc2_w, fc2_b;
};
struct branch_acts { /* kept for the backward pass, tokens in sequence order */
	float *qkv, *o, *lse, *t1, *hpre;
};
/* Tokens of a branch over B images (the window branch counts its padding). */
size_t branch_tokens(enum axis axis, int B, int H, int W, int ws);
/* Floats of branch_acts for that many tokens. */
size_t branch_acts_floats(size_t tokens, int C, int hid, int heads);
void branch_acts_carve(struct branch_acts *a, float *mem, size_t tokens, int C, int hid, int heads);

/* out[B][H][W][C] = branch(x); keeps what the backward needs in a. */
int branch_forward(struct tctx *ctx, float *out, const float *x, int B, int H, int W, int C,
		   const struct unet_config *cfg, const struct tl_off *L, enum axis axis, int shift,
		   struct branch_acts *a);
/* dx += dL/dx given dout = dL/dout. */
int branch_backward(struct tctx *ctx, float *dx, const float *dout, const float *x, int B, int H,
		    int W, int C, const struct unet_config *cfg, const struct tl_off *L,
		    enum axis axis, int shift, const struct branch_acts *a);

#endif
