#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tensor.h"

const struct dtype_traits dtype_traits[DT_COUNT] = {
	[DT_F32] = {"f32", 4, 1},  [DT_C64] = {"c64", 8, 0}, [DT_F16] = {"f16", 2, 1},
	[DT_BF16] = {"bf16", 2, 1}, [DT_I8] = {"i8", 1, 0},  [DT_U8] = {"u8", 1, 0},
	[DT_I16] = {"i16", 2, 0},  [DT_I32] = {"i32", 4, 0}, [DT_I64] = {"i64", 8, 0},
	[DT_F64] = {"f64", 8, 1},
};

int dtype_from_name(const char *name, size_t len)
{
	for (int i = 0; i < DT_COUNT; i++)
		if (strlen(dtype_traits[i].name) == len && !memcmp(dtype_traits[i].name, name, len))
			return i;
	return -1;
}

int shape_numel(const int64_t *shape, int ndim, size_t *numel)
{
	size_t n = 1;
	if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
		return tf_seterr("tensor has %d dimensions (at most %d supported)", ndim, TENSOR_MAX_DIMS);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return tf_seterr("negative dimension %lld in shape", (long long)shape[i]);
		if (shape[i] != 0 && n > SIZE_MAX / (uint64_t)shape[i])
			return tf_seterr("shape %s overflows", shape_str(shape, ndim, (char[128]){0}, 128));
		n *= (size_t)shape[i];
	}
	*numel = n;
	return 0;
}

int shape_parse(const char *s, int64_t *shape, int max)
{
	const char *p = s;
	int n = 0;
	for (;;) {
		char *end;
		long long v;
		if (*p < '0' || *p > '9')
			return tf_seterr("shape '%s': expected dimensions joined by 'x', e.g. 1x2x1025x259", s);
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || v < 1 || v > 1 << 24)
			return tf_seterr("shape '%s': dimension %d is out of range (1 to %d)", s, n + 1, 1 << 24);
		if (n == max)
			return tf_seterr("shape '%s': more than %d dimensions", s, max);
		shape[n++] = v;
		if (!*end)
			return n;
		if (*end != 'x')
			return tf_seterr("shape '%s': expected dimensions joined by 'x', e.g. 1x2x1025x259", s);
		p = end + 1;
	}
}

int shape_bytes(const int64_t *shape, int ndim, enum dtype dt, size_t *bytes)
{
	size_t n;
	char buf[128];
	if (shape_numel(shape, ndim, &n))
		return -1;
	if (n > TENSOR_MAX_BYTES / dtype_size(dt))
		return tf_seterr("shape %s of %s is larger than the %zu GiB cap",
				 shape_str(shape, ndim, buf, sizeof buf), dtype_traits[dt].name,
				 TENSOR_MAX_BYTES >> 30);
	*bytes = n * dtype_size(dt);
	return 0;
}

size_t tensor_numel(const struct tensor *t)
{
	size_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->shape[i];
	return n;
}

size_t tensor_bytes(const struct tensor *t)
{
	return tensor_numel(t) * dtype_size(t->dtype);
}

const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t len)
{
	size_t used = 0;
	if (!len)
		return buf;
	buf[0] = 0;
	used += (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}

void *tf_alloc(size_t n, size_t size)
{
	void *p;
	if (size && n > SIZE_MAX / size)
		return tf_seterr("allocation of %zu x %zu bytes overflows", n, size), NULL;
	if (!(p = malloc(n * size > 0 ? n * size : 1)))
		return tf_seterr("out of memory allocating %zu bytes", n * size), NULL;
	return p;
}

void *tf_calloc(size_t n, size_t size)
{
	void *p;
	if (size && n > SIZE_MAX / size)
		return tf_seterr("allocation of %zu x %zu bytes overflows", n, size), NULL;
	if (!(p = calloc(n ? n : 1, size ? size : 1)))
		return tf_seterr("out of memory allocating %zu bytes", n * size), NULL;
	return p;
}

void *tf_alloc_aligned(size_t n, size_t size)
{
	void *p;
	size_t bytes;
	if (size && n > (SIZE_MAX - 64) / size)
		return tf_seterr("allocation of %zu x %zu bytes overflows", n, size), NULL;
	bytes = (n * size + 63) & ~(size_t)63;
	if (!(p = aligned_alloc(64, bytes ? bytes : 64)))
		return tf_seterr("out of memory allocating %zu bytes", bytes), NULL;
	return p;
}

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	float f;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000 | man << 13;
	} else if (exp) {
		bits = sign | (exp + 112) << 23 | man << 13;
	} else if (man) { /* subnormal: value = man * 2^-24 */
		f = (float)man * 0x1p-24f;
		memcpy(&bits, &f, sizeof f);
		bits |= sign;
	} else {
		bits = sign;
	}
	memcpy(&f, &bits, sizeof f);
	return f;
}

uint16_t f32_to_f16(float f)
{
	uint32_t x, sign, mag;
	memcpy(&x, &f, sizeof f);
	sign = (x >> 16) & 0x8000;
	mag = x & 0x7fffffff;
	if (mag > 0x7f800000) /* NaN: keep it quiet */
		return (uint16_t)(sign | 0x7e00);
	if (mag >= 0x477ff000) /* rounds to >= 65520: infinity */
		return (uint16_t)(sign | 0x7c00);
	if (mag < 0x38800000) { /* below the smallest normal half: subnormal or zero */
		float a;
		uint32_t m;
		memcpy(&a, &mag, sizeof a);
		/* adding 0.5 makes the FPU round to nearest even at 2^-24 units */
		a += 0.5f;
		memcpy(&m, &a, sizeof a);
		return (uint16_t)(sign | (m - 0x3f000000));
	}
	/* normal: rebias exponent, round mantissa to nearest even */
	uint32_t odd = (mag >> 13) & 1;
	mag += 0xc8000fff + odd; /* (-112 << 23) + rounding bias */
	return (uint16_t)(sign | (mag >> 13));
}

float bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

uint16_t f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof f);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

int convert_to_f32(float *dst, const void *src, enum dtype dt, size_t n)
{
	const unsigned char *s = src;
	switch (dt) {
	case DT_F32:
		memcpy(dst, src, n * sizeof *dst);
		return 0;
	case DT_F16:
		for (size_t i = 0; i < n; i++)
			dst[i] = f16_to_f32((uint16_t)(s[2 * i] | s[2 * i + 1] << 8));
		return 0;
	case DT_BF16:
		for (size_t i = 0; i < n; i++)
			dst[i] = bf16_to_f32((uint16_t)(s[2 * i] | s[2 * i + 1] << 8));
		return 0;
	case DT_F64:
		for (size_t i = 0; i < n; i++) {
			double d;
			memcpy(&d, s + 8 * i, 8);
			dst[i] = (float)d;
		}
		return 0;
	default:
		return tf_seterr("cannot convert %s to f32", dtype_traits[dt].name);
	}
}
