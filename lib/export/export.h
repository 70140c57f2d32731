/* Writing a model out as the reference's PyTorch state_dict: a torch.save
 * zip archive (.pth) or a safetensors file, with the reference's names,
 * shapes and order, including the two kinds of buffers the network does not
 * use but PyTorch's load_state_dict(strict=True) expects:
 * `<bn>.num_batches_tracked` (an int64 scalar, written as 0) and
 * `<block>.swa.attn_mask` (the reference's fixed shifted-window mask).
 * Library style: -1 with a message in tf_strerror(). */
#ifndef TF_EXPORT_H
#define TF_EXPORT_H
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "tensor.h"

/* One state_dict entry as written. */
struct export_entry {
	char name[MODEL_NAME_MAX];
	enum dtype dtype;       /* DT_F32 or DT_I64 */
	int ndim;               /* 0 for a scalar */
	int64_t shape[4];
	const void *data;       /* little-endian, C order */
	size_t bytes;
};

struct export_list {
	int n;
	struct export_entry *e;
	float *mask;            /* private: the attn_mask values, shared by all blocks */
};

/* Every entry of m's state_dict in the reference's order. The entries point
 * into m, which must outlive the list. */
int export_list_make(struct export_list *l, const struct model *m);
void export_list_free(struct export_list *l);

/* The model's settings (architecture and how it is run) as a JSON object in
 * the form tf-export --config reads. Returns a new string, or NULL. */
char *export_settings_json(const struct unet_config *c);

/* safetensors: the entries, and the settings in __metadata__ under
 * "tfswa.config", so that a round trip keeps them. */
int export_safetensors(const struct model *m, FILE *fp);
/* torch.save's zip format (as PyTorch 1.6 and later write it): a pickle of
 * an OrderedDict of tensors, one storage per tensor. A .pth cannot carry
 * the settings; give them to tf-export again when importing it. */
int export_pth(const struct model *m, FILE *fp);

/* ONNX (opset 17): the network for one input shape {B, in_channels, bins,
 * frames}, BatchNorm folded into the convolutions, the weights as float32
 * initializers (formats/onnx.md). Input "spec", output "masks". With
 * dynamic_frames the time axis is the symbolic dimension "frames" (any
 * number >= 8 at run time) and shape[3] is not used. */
int export_onnx(const struct model *m, FILE *fp, const int64_t shape[4], int dynamic_frames);
/* Whether shape fits m's network (channels, the minimum size, limits). */
int onnx_check_shape(const struct unet_config *c, const int64_t shape[4]);

#endif
