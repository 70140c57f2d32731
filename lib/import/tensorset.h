/* A checkpoint's named tensors, as the readers (pth.c, safetensors.c) leave
 * them: a list in file order with an index by name (tensorset.c). Part of
 * the public API through import.h; the readers' side is in internal.h. */
#ifndef TF_IMPORT_TENSORSET_H
#define TF_IMPORT_TENSORSET_H
#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

struct import_tensor {
	char *name;                       /* state_dict key */
	enum dtype dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	int64_t stride[TENSOR_MAX_DIMS];  /* in elements; C order when contiguous */
	int contiguous;
	const unsigned char *data;        /* first element; little-endian, may be unaligned */
};

struct import_set {
	int n;
	struct import_tensor *t;          /* in file order */
	char format[16];                  /* "pth" or "safetensors" */
	char source[64];                  /* where the tensors were found, e.g. "model_state_dict" */
	int *sorted;                      /* private: indices sorted by name */
	char *settings;                   /* a tfswa export's settings (JSON, safetensors
	                                     "__metadata__" "tfswa.config"), or NULL */
};

void import_set_free(struct import_set *s);
/* The tensor with this name, or NULL. */
const struct import_tensor *import_find(const struct import_set *s, const char *name);
/* Elements of t (its shape is checked when the set is made). */
size_t import_numel(const struct import_tensor *t);
/* Converts t (f32, f16, bf16 or f64, any strides) into dst[numel]. */
int import_to_f32(const struct import_tensor *t, float *dst);

#endif
