/* safetensors files: an 8-byte little-endian header length N, N bytes of
 * JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional
 * "__metadata__": {...}}, then the data; offsets are relative to the byte
 * after the header. Tensors are C-order, little-endian. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "safetensors.h"
#include "json.h"

#define MAX_HEADER 100000000u /* the format's own limit */

static const struct {
	const char *name;
	int dtype; /* -1: known but not supported */
} dtypes[] = {
	{"F32", DT_F32}, {"F16", DT_F16}, {"BF16", DT_BF16}, {"F64", DT_F64}, {"I64", DT_I64},
	{"I32", DT_I32}, {"I16", DT_I16}, {"I8", DT_I8},    {"U8", DT_U8},   {"BOOL", DT_U8},
	{"U16", -1},     {"U32", -1},     {"U64", -1},      {"F8_E4M3", -1}, {"F8_E5M2", -1},
};

static int json_u64(const struct json *j, uint64_t *out)
{
	if (j->kind != JSON_NUM || !j->is_int || j->i < 0)
		return -1;
	*out = (uint64_t)j->i;
	return 0;
}

static int tensor(struct import_set *s, const char *name, size_t name_len, const struct json *v,
		  const unsigned char *data, size_t dlen)
{
	struct import_tensor t = {0};
	const struct json *dt = json_get(v, "dtype"), *shape = json_get(v, "shape"),
			  *offs = json_get(v, "data_offsets");
	uint64_t begin, end;
	size_t bytes;
	if (v->kind != JSON_OBJ || !dt || !shape || !offs || dt->kind != JSON_STR || shape->kind != JSON_ARR ||
	    offs->kind != JSON_ARR || offs->n != 2 || json_u64(&offs->items[0], &begin) ||
	    json_u64(&offs->items[1], &end))
		return tf_seterr("safetensors: tensor %.100s needs \"dtype\", \"shape\" and two \"data_offsets\"", name);
	int found = 0;
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (!strcmp(dt->str, dtypes[i].name)) {
			if (dtypes[i].dtype < 0)
				return tf_seterr("safetensors: tensor %.100s has dtype %s, which is not supported", name,
						 dt->str);
			t.dtype = (enum dtype)dtypes[i].dtype;
			found = 1;
		}
	if (!found)
		return tf_seterr("safetensors: tensor %.100s has unknown dtype \"%.20s\"", name, dt->str);
	if (shape->n > TENSOR_MAX_DIMS)
		return tf_seterr("safetensors: tensor %.100s has %zu dimensions (at most %d)", name, shape->n,
				 TENSOR_MAX_DIMS);
	t.ndim = (int)shape->n;
	for (int i = 0; i < t.ndim; i++) {
		uint64_t d;
		if (json_u64(&shape->items[i], &d))
			return tf_seterr("safetensors: tensor %.100s has a bad shape", name);
		t.shape[i] = (int64_t)d;
	}
	if (shape_bytes(t.shape, t.ndim, t.dtype, &bytes))
		return tf_adderr("safetensors: tensor %.100s: ", name);
	if (begin > end || end > dlen)
		return tf_seterr("safetensors: tensor %.100s: data_offsets [%llu, %llu] lie outside the %zu data "
				 "bytes (truncated?)",
				 name, (unsigned long long)begin, (unsigned long long)end, dlen);
	if (end - begin != bytes)
		return tf_seterr("safetensors: tensor %.100s: %llu data bytes for shape %s of %s (%zu bytes)", name,
				 (unsigned long long)(end - begin), shape_str(t.shape, t.ndim, (char[128]){0}, 128),
				 dtype_traits[t.dtype].name, bytes);
	t.data = data + begin;
	import_set_c_strides(&t);
	return import_set_add(s, name, name_len, &t);
}

static int cmp_range(const void *a, const void *b, void *vset)
{
	const struct import_set *s = vset;
	const unsigned char *x = s->t[*(const int *)a].data, *y = s->t[*(const int *)b].data;
	return x < y ? -1 : x > y;
}

/* The format forbids tensors that share bytes; shared ranges would also let
 * a small file make a large model. */
static int check_overlap(const struct import_set *s)
{
	int *order = malloc((s->n ? (size_t)s->n : 1) * sizeof *order), rc = 0;
	const unsigned char *end = NULL;
	const char *last = NULL;
	if (!order)
		return tf_seterr("out of memory");
	for (int i = 0; i < s->n; i++)
		order[i] = i;
	qsort_r(order, (size_t)s->n, sizeof *order, cmp_range, (void *)s);
	for (int i = 0; i < s->n; i++) {
		const struct import_tensor *t = &s->t[order[i]];
		size_t bytes = import_numel(t) * dtype_size(t->dtype);
		if (!bytes)
			continue;
		if (end && t->data < end) {
			rc = tf_seterr("safetensors: tensors %.100s and %.100s share data bytes; the format gives each "
				       "tensor its own range",
				       last, t->name);
			break;
		}
		end = t->data + bytes, last = t->name;
	}
	free(order);
	return rc;
}

int import_safetensors(struct import_set *s, const void *buf, size_t len)
{
	const unsigned char *b = buf;
	struct json *root = NULL;
	uint64_t n = 0;
	int rc = -1;
	memset(s, 0, sizeof *s);
	snprintf(s->format, sizeof s->format, "safetensors");
	snprintf(s->source, sizeof s->source, "safetensors");
	if (len >= 4 && !memcmp(b, "PK\3\4", 4))
		return tf_seterr("this is a zip archive (a torch.save .pth?), not a safetensors file");
	if (len < 8)
		return tf_seterr("not a safetensors file (only %zu bytes)", len);
	for (int i = 8; i-- > 0;)
		n = n << 8 | b[i];
	if (n > MAX_HEADER || n < 2)
		return tf_seterr("not a safetensors file (header length %llu)", (unsigned long long)n);
	if (n > len - 8)
		return tf_seterr("safetensors header of %llu bytes runs past the end of the %zu-byte file (truncated?)",
				 (unsigned long long)n, len);
	if (b[8] != '{')
		return tf_seterr("not a safetensors file (the header is not a JSON object)");
	if (json_parse(&root, (const char *)b + 8, (size_t)n))
		return tf_adderr("safetensors header: ");
	if (root->kind != JSON_OBJ) {
		tf_seterr("safetensors header is not a JSON object");
		goto out;
	}
	const unsigned char *data = b + 8 + n;
	size_t dlen = len - 8 - (size_t)n;
	for (size_t i = 0; i < root->n; i++) {
		if (!strcmp(root->keys[i], "__metadata__")) {
			if (root->items[i].kind != JSON_OBJ) {
				tf_seterr("safetensors: __metadata__ is not an object");
				goto out;
			}
			/* a tfswa export keeps the model's settings here */
			const struct json *cfg = json_get(&root->items[i], "tfswa.config");
			if (cfg && cfg->kind == JSON_STR && strlen(cfg->str) == cfg->len && !s->settings &&
			    !(s->settings = strdup(cfg->str))) {
				tf_seterr("out of memory");
				goto out;
			}
			continue;
		}
		if (tensor(s, root->keys[i], strlen(root->keys[i]), &root->items[i], data, dlen))
			goto out;
	}
	rc = import_set_finish(s) || check_overlap(s) ? -1 : 0;
out:
	json_free(root);
	if (rc)
		import_set_free(s);
	return rc;
}
