/* TFSWA-UNet training: the forward pass in training mode, keeping what the
 * backward pass needs, and the backward pass to parameter gradients.
 * Unlike lib/nn/unet.c (inference) nothing is folded: BatchNorm runs on batch
 * statistics and updates the model's running statistics, as
 * torch.nn.BatchNorm2d does in train() mode (momentum 0.1, unbiased
 * variance in the running estimate, biased in the normalisation).
 * Dropout is 0 in the reference and absent here. */
#ifndef TF_UNET_TRAIN_H
#define TF_UNET_TRAIN_H
#include "model.h"

struct unet_train; /* opaque: activation storage for one batch shape */

/* A workspace for batches of B inputs of H x W (H, W >= UNET_MIN_SIZE),
 * run on `threads` threads (results are the same bits on every run with
 * the same number). checkpoint: keep only each TFSWA block's input in the
 * forward pass and recompute the block inside the backward pass (less
 * memory, the same gradients bit for bit). Everything a step needs,
 * including each thread's scratch, is allocated here: the passes allocate
 * nothing and fail only when misused. NULL + message (tf_error) on failure. */
struct unet_train *unet_train_new(const struct model *m, int B, int H, int W, int checkpoint, int threads);
void unet_train_free(struct unet_train *t);

/* Forward in training mode. in [B][in_channels][H][W] (NCHW), masks
 * [B][out_channels][H][W] (sigmoid outputs). Updates the BatchNorm running
 * statistics held in m->params. Returns 0 (it cannot fail). */
int unet_train_forward(struct unet_train *t, struct model *m, const float *in, float *masks);

/* Backward of the last unet_train_forward: dmasks = dLoss/dmasks in the
 * masks' layout. Adds dLoss/dparam into grad, which has m->nparams floats
 * at the offsets of m->params (entries of non-trainable tensors, the
 * running statistics, are left as they are). -1 with message when no
 * forward pass came first, else 0. */
int unet_train_backward(struct unet_train *t, const struct model *m, const float *dmasks,
			float *grad);

/* Quantisation-aware training (tf-train --qat): with on, the products that a
 * q8 model runs in int8 (all but the stem, the mask head and, for now, the
 * six resampling convolutions) see their inputs fake-quantised per row as
 * q8 quantises them at run time; their weight gradients are taken at those
 * inputs, and the input gradients pass straight through. The weights' own
 * fake quantisation is quant_fake_q8's (lib/quant.h). */
void unet_train_set_qat(struct unet_train *t, int on);

/* Peak bytes of activation storage the workspace holds (for reports). */
size_t unet_train_bytes(const struct unet_train *t);

#endif
