/* The prepared weights of lib/nn/unet.c, for the forward pass in
 * lib/nn/unet_plan.c: private to the two. */
#ifndef TF_UNET_PREPARED_H
#define TF_UNET_PREPARED_H
#include "arch.h"
#include "kernels/bgemm.h"
#include "kernels/qgemm.h"
#include "unet.h"

/* One matrix product C (+)= A . W^T, W [N][K]: float weights (BLIS, or
 * smallgemm for N <= SMALLGEMM_MAX_N), or
 * int8 ones (q8 and q8s models) with the input quantised per row or with
 * a calibrated scale, or bf16 ones (bf16 models) with the input rounded to
 * bf16. */
struct op {
	const float *w;    /* float: W, rows ldw apart */
	int ldw, N, K;
	struct qmat *q;    /* int8: packed W with per-channel scales, or NULL */
	struct bmat *bf;   /* bf16: packed W, or NULL */
	const float *wt;   /* float with few outputs: W^T [K][N] for smallgemm, or NULL */
	float act_scale;   /* q8s: the input's calibrated scale; 0: per row */
	int id;            /* the weight's index in the model table, for the
			    * calibration observer; -1 for layers kept in float */
};

struct linear {
	struct op op;
	const float *b;
	int out, in;
};

struct tlayer { /* one pre-norm transformer layer: tsa, fsa or swa */
	const float *n1w, *n1b, *n2w, *n2b;
	struct linear qkv, proj, fc1, fc2;
};

struct conv { /* BatchNorm folded in; weights in the kernels' layouts */
	float *w, *b;
	enum arch_layer_kind kind;
	int ci, co, k, stride, pad, gelu;
	struct op op[4]; /* the products: one; the fusion's three K-slices;
			  * the transposed convolution's four parities */
};

struct block {
	int C, shift;
	struct conv in_proj, fusion; /* 1x1: [C][C], [C][3C] */
	struct tlayer br[ARCH_BRANCHES]; /* tsa (along H), fsa (along W), swa (windows) */
};

struct stage { /* what the table's stage of the same index runs */
	struct conv conv[2];
	struct block *blocks;
};

struct unet {
	struct unet_config cfg;
	struct arch arch;
	struct stage st[ARCH_MAX_STAGES];
	float **owned;
	int nowned;
	struct qmat **qmats;
	int nqmats;
	int int8;          /* some products run in int8 */
	struct bmat **bmats;
	int nbmats;
	int bf16;          /* some products run in bf16 */
	unet_observe_fn observe;
	void *observe_ctx;
};

#endif
