/* Internals of the training pass (lib/nn/unet_train.c): layer drivers that
 * split work over the context's threads and add parameter gradients into
 * one gradient buffer per thread (summed in thread order at the end, so the
 * result is the same on every run with the same number of threads).
 * Activations are channel-last, [B][H][W][C], n = B*H*W rows. The drivers
 * allocate nothing: each thread's scratch comes from the context, sized at
 * set-up by the *_scratch_bytes functions below (the same code that carves
 * it), and cannot fail. */
#ifndef TF_TRAIN_H
#define TF_TRAIN_H
#include <stddef.h>

#include "exec.h"
#include "model.h"
#include "seqmap.h"

struct tctx {
	struct nn_exec ex; /* threads, each thread's scratch (the largest layer's) */
	char *shared;      /* BatchNorm's partial sums, shared by the threads */
	size_t shared_bytes;
	float *params;  /* the model's parameter buffer */
	float *wt;      /* NULL, or params' mirror: at a narrow product's weight's offset (or, for
			 * the fusion's, at offset + r C C per branch r), that weight transposed
			 * for smallgemm, packed before each pass (lib/nn/unet_train.c) */
	float **tgrad;  /* [threads] gradient buffers of nparams floats */
	int update_running; /* BatchNorm: update the running statistics */
	int fq_act;     /* fake-quantise the inputs of the layers q8 runs in int8 (--qat) */
};

#define P(ctx, off) ((ctx)->params + (off))
#define WT(ctx, off) ((ctx)->wt ? (ctx)->wt + (off) : NULL)

/* The training pass's float products, on smallgemm where tf-unet runs them
 * on it (smallgemm_runs), else on BLIS: the narrow products of a small
 * model's levels, where BLIS pads N = 8 or 16 to its tiles.
 * product_nt: C[M][N] = A[M][K] . W^T (+ C when accumulate), W [N][K] rows
 * ldw apart and Wt its smallgemm_pack copy (NULL: none; then BLIS).
 * product_nn: C[M][N] = A[M][K] . W (+ C), W [K][N] rows ldw apart (the
 * backward pass's dx = dz . w; smallgemm reads W as it is when ldw = N). */
void product_nt(int M, int N, int K, const float *A, int lda, const float *W, int ldw, const float *Wt,
		int accumulate, float *C, int ldc);
void product_nn(int M, int N, int K, const float *A, int lda, const float *W, int ldw, int accumulate,
		float *C, int ldc);

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
/* A thread's buffer for fq_rows of rows x K, carved whether or not --qat is
 * on (it may be turned on after set-up). */
float *fq_carve(struct carve *c, size_t rows, int K);
/* The calling thread's fq_carve buffer of ROW_CHUNK x K, from the start of
 * its scratch slice: a pixel-wise region's only scratch. */
float *fq_scratch(const struct tctx *ctx, int K);

/* Bytes of a thread's scratch each driver carves (the backward pass's and
 * the forward pass's larger), for inputs W wide; and of the shared buffer
 * BatchNorm over n rows of C channels takes. */
size_t pw_scratch_bytes(int ci);
size_t conv_scratch_bytes(int W, int ci, int co, int k, int stride, int pad);
size_t convt_scratch_bytes(int W, int ci, int co);
size_t bn_shared_bytes(size_t n, int C);

/* 1x1 convolution / linear over rows: z[n][co] = x[n][ci] w^T + b; with fq
 * the product sees x fake-quantised per row (quantize_rows_fake). */
void pw_forward(struct tctx *ctx, float *z, const float *x, size_t n, int ci, int co, size_t w,
		size_t b, int fq);
/* dw += dz^T x, db += colsum dz, dx += dz w (dx NULL: not wanted); with fq,
 * dw at the fake-quantised x and dx straight through. */
void pw_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, size_t n, int ci,
		 int co, size_t w, size_t b, int fq);

/* y = BN(z) with batch statistics (kept in st), then GELU if gelu; updates
 * the running statistics if ctx->update_running. */
void bn_forward(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
		struct bn_stat *st, int gelu);
/* y = BN(z) (then GELU) with the statistics of an earlier bn_forward. */
void bn_apply(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
	      const struct bn_stat *st, int gelu);
/* dz from dy (the gradient of y above); dz and dy distinct. dgamma, dbeta
 * into thread 0's buffer. */
void bn_backward(struct tctx *ctx, float *dz, const float *dy, const float *z, size_t n, int C,
		 const struct bn_off *o, const struct bn_stat *st, int gelu);

/* k x k convolution (torch weight w at offset, prepared copy wp) over B
 * images: z = conv(x) + bias. */
void conv_forward(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
		  int k, int stride, int pad, const float *wp, size_t b);
/* dw (torch layout) and db into the thread buffers; dx += (NULL: skip). */
void conv_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, int B, int H,
		   int W, int ci, int co, int k, int stride, int pad, const float *wp, size_t w,
		   size_t b);
/* ConvTranspose2d(4, 2, 1), x [B][H][W][ci] -> z [B][2H][2W][co]. */
void convt_forward(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
		   const float *wp, size_t b);
void convt_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, int B, int H,
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

/* Bytes of a thread's scratch a branch carves at that size. */
size_t branch_scratch_bytes(const struct tctx *ctx, int B, int H, int W, int C, const struct unet_config *cfg,
			    enum axis axis, int shift);

/* out[B][H][W][C] = branch(x); keeps what the backward needs in a. */
void branch_forward(struct tctx *ctx, float *out, const float *x, int B, int H, int W, int C,
		    const struct unet_config *cfg, const struct tl_off *L, enum axis axis, int shift,
		    struct branch_acts *a);
/* dx += dL/dx given dout = dL/dout. */
void branch_backward(struct tctx *ctx, float *dx, const float *dout, const float *x, int B, int H,
		     int W, int C, const struct unet_config *cfg, const struct tl_off *L,
		     enum axis axis, int shift, const struct branch_acts *a);

#endif
