/* Tensors: dtype traits, shapes, overflow-checked sizes and allocation.
 * Every size that comes from a file passes through the checked helpers here
 * before anything is allocated. */
#ifndef TF_TENSOR_H
#define TF_TENSOR_H
#include <stddef.h>
#include <stdint.h>

enum dtype { DT_F32, DT_C64, DT_F16, DT_BF16, DT_I8, DT_U8, DT_I16, DT_I32, DT_I64, DT_F64, DT_COUNT };

/* One table describes every dtype; the wire name is what streams carry. */
struct dtype_traits {
	const char *name;     /* "f32", "c64", ... */
	size_t size;          /* bytes per element */
	int is_float;         /* can be converted to/from float */
};
extern const struct dtype_traits dtype_traits[DT_COUNT];

int dtype_from_name(const char *name, size_t len); /* -1 if unknown */
static inline size_t dtype_size(enum dtype t) { return dtype_traits[t].size; }

#define TENSOR_MAX_DIMS 8
/* Caps on what a file may make us allocate in one tensor (elements and bytes). */
#define TENSOR_MAX_BYTES ((size_t)8 << 30)

struct tensor {
	enum dtype dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	void *data;      /* prod(shape) * dtype_size bytes, C order, little-endian */
	const char *name; /* optional */
};

/* prod(shape) with overflow and negativity checks; -1 with message on failure. */
int shape_numel(const int64_t *shape, int ndim, size_t *numel);
/* numel * itemsize, checked against overflow and TENSOR_MAX_BYTES. */
int shape_bytes(const int64_t *shape, int ndim, enum dtype dt, size_t *bytes);
size_t tensor_numel(const struct tensor *t); /* for tensors already validated */
size_t tensor_bytes(const struct tensor *t);
/* Parses "1x2x1025x259" (dimensions joined by 'x', each 1 to 2^24) into
 * shape, at most max dimensions. Returns the number of dimensions, or -1
 * with a message naming what is wrong. */
int shape_parse(const char *s, int64_t *shape, int max);
/* "[2, 1025, 259]" into buf */
const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t len);

/* Checked allocation: n*size with overflow check; NULL + message on failure. */
void *tf_alloc(size_t n, size_t size);
void *tf_calloc(size_t n, size_t size);
/* 64-byte aligned (for SIMD); free with free(). */
void *tf_alloc_aligned(size_t n, size_t size);

/* Half-precision conversions (IEEE binary16 and bfloat16), round to nearest even. */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
/* Converts n elements of any float-like dtype to f32 (f32, f16, bf16, f64). */
int convert_to_f32(float *dst, const void *src, enum dtype dt, size_t n);

#endif
