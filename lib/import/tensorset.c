/* Named tensor sets (tensorset.h, internal.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "model.h"

/* ---------- the set ---------- */

int import_set_add(struct import_set *s, const char *name, size_t name_len, const struct import_tensor *t)
{
	if (s->n >= IMPORT_MAX_TENSORS)
		return tf_seterr("more than %d tensors", IMPORT_MAX_TENSORS);
	if (name_len > IMPORT_MAX_NAME || memchr(name, 0, name_len))
		return tf_seterr("tensor name \"%.60s...\" is too long or holds a NUL byte", name);
	if ((s->n & (s->n - 1)) == 0) { /* grow at powers of two */
		size_t cap = s->n ? 2 * (size_t)s->n : 64;
		struct import_tensor *a = realloc(s->t, cap * sizeof *a);
		if (!a)
			return tf_seterr("out of memory");
		s->t = a;
	}
	struct import_tensor *d = &s->t[s->n];
	*d = *t;
	if (!(d->name = malloc(name_len + 1)))
		return tf_seterr("out of memory");
	memcpy(d->name, name, name_len);
	d->name[name_len] = 0;
	s->n++;
	return 0;
}

void import_set_c_strides(struct import_tensor *t)
{
	int64_t st = 1;
	for (int i = t->ndim; i-- > 0;) {
		t->stride[i] = st;
		st *= t->shape[i] ? t->shape[i] : 1;
	}
	t->contiguous = 1;
}

static int cmp_index_r(const void *a, const void *b, void *set)
{
	const struct import_set *s = set;
	return strcmp(s->t[*(const int *)a].name, s->t[*(const int *)b].name);
}

int import_set_finish(struct import_set *s)
{
	static const char *prefixes[] = {"module.", "_orig_mod."};
	for (int again = 1; again && s->n;) {
		again = 0;
		for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
			size_t pl = strlen(prefixes[p]);
			int all = 1;
			for (int i = 0; i < s->n && all; i++)
				all = !strncmp(s->t[i].name, prefixes[p], pl) && s->t[i].name[pl];
			if (!all)
				continue;
			for (int i = 0; i < s->n; i++)
				memmove(s->t[i].name, s->t[i].name + pl, strlen(s->t[i].name + pl) + 1);
			again = 1;
		}
	}
	if (!(s->sorted = malloc((s->n ? (size_t)s->n : 1) * sizeof *s->sorted)))
		return tf_seterr("out of memory");
	for (int i = 0; i < s->n; i++)
		s->sorted[i] = i;
	qsort_r(s->sorted, (size_t)s->n, sizeof *s->sorted, cmp_index_r, s);
	for (int i = 1; i < s->n; i++)
		if (!strcmp(s->t[s->sorted[i]].name, s->t[s->sorted[i - 1]].name))
			return tf_seterr("tensor %.100s appears twice", s->t[s->sorted[i]].name);
	return 0;
}

int import_set_check_size(const struct import_set *s, size_t file_len)
{
	double sum = 0;
	char a[32], b[32];
	for (int i = 0; i < s->n; i++)
		sum += (double)import_numel(&s->t[i]) * (double)dtype_size(s->t[i].dtype);
	if (sum > (double)IMPORT_MAX_REUSE * (double)file_len)
		return tf_seterr("the tensors address %s of a %s file, more than %d times its size: views that "
				 "repeat their storage (stride 0, or overlapping views) are refused",
				 model_bytes_str(sum, a, sizeof a), model_bytes_str((double)file_len, b, sizeof b), IMPORT_MAX_REUSE);
	return 0;
}

void import_set_free(struct import_set *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->t[i].name);
	free(s->t);
	free(s->sorted);
	free(s->settings);
	memset(s, 0, sizeof *s);
}

const struct import_tensor *import_find(const struct import_set *s, const char *name)
{
	int lo = 0, hi = s->n - 1;
	if (!s->sorted)
		return NULL;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(s->t[s->sorted[mid]].name, name);
		if (!c)
			return &s->t[s->sorted[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

size_t import_numel(const struct import_tensor *t)
{
	size_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->shape[i];
	return n;
}

static float elem_f32(const unsigned char *p, enum dtype dt)
{
	float f;
	switch (dt) {
	case DT_F32:
		memcpy(&f, p, sizeof f);
		return f;
	case DT_F16:
		return f16_to_f32((uint16_t)(p[0] | p[1] << 8));
	case DT_BF16:
		return bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
	default: {
		double d;
		memcpy(&d, p, 8);
		return (float)d;
	}
	}
}

int import_to_f32(const struct import_tensor *t, float *dst)
{
	size_t n = import_numel(t), isz = dtype_size(t->dtype);
	if (t->dtype != DT_F32 && t->dtype != DT_F16 && t->dtype != DT_BF16 && t->dtype != DT_F64)
		return tf_seterr("%s: dtype %s is not a float type", t->name, dtype_traits[t->dtype].name);
	if (t->contiguous)
		return convert_to_f32(dst, t->data, t->dtype, n);
	/* strided: walk the index like an odometer */
	int64_t idx[TENSOR_MAX_DIMS] = {0};
	size_t off = 0;
	for (size_t k = 0; k < n; k++) {
		dst[k] = elem_f32(t->data + off * isz, t->dtype);
		for (int d = t->ndim; d-- > 0;) {
			if (++idx[d] < t->shape[d]) {
				off += (size_t)t->stride[d];
				break;
			}
			off -= (size_t)(t->stride[d] * (t->shape[d] - 1));
			idx[d] = 0;
		}
	}
	return 0;
}

