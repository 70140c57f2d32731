/* Building a tensor set, shared by the readers in lib/import (pth.c,
 * safetensors.c; defined in tensorset.c; not part of the public API). */
#ifndef TF_IMPORT_INTERNAL_H
#define TF_IMPORT_INTERNAL_H
#include "tensorset.h"

/* Caps on what a checkpoint may contain. */
#define IMPORT_MAX_TENSORS (1 << 20)
#define IMPORT_MAX_NAME 1024

/* Appends a tensor (name copied) to s; -1 with message. */
int import_set_add(struct import_set *s, const char *name, size_t name_len, const struct import_tensor *t);
/* After the last add: removes a "module." / "_orig_mod." prefix common to
 * every name, sorts the index, refuses duplicate names. */
int import_set_finish(struct import_set *s);
/* The tensors of a checkpoint may address at most IMPORT_MAX_REUSE times
 * the bytes of the file (numel x element size summed over them): views
 * that repeat their storage (stride 0, or many views of one storage) would
 * otherwise make a tiny file a model of gigabytes. 2 allows a tied weight. */
#define IMPORT_MAX_REUSE 2
int import_set_check_size(const struct import_set *s, size_t file_len);
/* Fills stride and contiguous for a C-order tensor. */
void import_set_c_strides(struct import_tensor *t);

#endif
