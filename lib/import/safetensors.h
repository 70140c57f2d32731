/* Reading safetensors files (safetensors.c). */
#ifndef TF_IMPORT_SAFETENSORS_H
#define TF_IMPORT_SAFETENSORS_H
#include <stddef.h>

#include "tensorset.h"

/* Reads a safetensors file held in buf[len] (which must outlive s). */
int import_safetensors(struct import_set *s, const void *buf, size_t len);
#endif
