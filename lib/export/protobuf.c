/* The protocol buffers wire format (see protobuf.h). */
#include <stdlib.h>
#include <string.h>

#include "export/protobuf.h"

void pb_free(struct pbuf *b)
{
	free(b->p);
	*b = (struct pbuf){0};
}

static int reserve(struct pbuf *b, size_t more)
{
	if (b->failed)
		return -1;
	if (b->cap - b->n >= more)
		return 0;
	if (more > SIZE_MAX / 2 - b->n) {
		b->failed = 1;
		return -1;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->n < more)
		cap *= 2;
	unsigned char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->p = p, b->cap = cap;
	return 0;
}

void pb_raw(struct pbuf *b, const void *p, size_t n)
{
	if (!n || reserve(b, n))
		return;
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static size_t varint_to(unsigned char *out, uint64_t v)
{
	size_t k = 0;
	while (v >= 0x80) {
		out[k++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	out[k++] = (unsigned char)v;
	return k;
}

size_t pb_varint_size(uint64_t v)
{
	size_t k = 1;
	while (v >= 0x80)
		v >>= 7, k++;
	return k;
}

void pb_varint(struct pbuf *b, uint64_t v)
{
	if (reserve(b, 10))
		return;
	b->n += varint_to(b->p + b->n, v);
}

void pb_key(struct pbuf *b, int field, enum pb_wire wire)
{
	pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

void pb_int(struct pbuf *b, int field, int64_t v)
{
	pb_key(b, field, PB_VARINT);
	pb_varint(b, (uint64_t)v);
}

static void le32(unsigned char *out, uint32_t u)
{
	for (int k = 0; k < 4; k++)
		out[k] = (unsigned char)(u >> (8 * k));
}

void pb_store_floats_le(unsigned char *out, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], sizeof v[i]);
		le32(out + 4 * i, u);
	}
}

void pb_float(struct pbuf *b, int field, float v)
{
	pb_key(b, field, PB_FIXED32);
	if (reserve(b, 4))
		return;
	pb_store_floats_le(b->p + b->n, &v, 1);
	b->n += 4;
}

void pb_bytes(struct pbuf *b, int field, const void *p, size_t n)
{
	pb_key(b, field, PB_LEN);
	pb_varint(b, n);
	pb_raw(b, p, n);
}

void pb_string(struct pbuf *b, int field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

void pb_message(struct pbuf *b, int field, const struct pbuf *m)
{
	if (m->failed) {
		b->failed = 1;
		return;
	}
	pb_bytes(b, field, m->p, m->n);
}

void pb_packed_int64(struct pbuf *b, int field, const int64_t *v, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += pb_varint_size((uint64_t)v[i]);
	pb_key(b, field, PB_LEN);
	pb_varint(b, len);
	for (size_t i = 0; i < n; i++)
		pb_varint(b, (uint64_t)v[i]);
}

void pb_packed_float(struct pbuf *b, int field, const float *v, size_t n)
{
	pb_floats_le(b, field, v, n); /* the same bytes: a packed fixed32 field */
}

void pb_floats_le(struct pbuf *b, int field, const float *v, size_t n)
{
	if (n > SIZE_MAX / 8) {
		b->failed = 1;
		return;
	}
	pb_key(b, field, PB_LEN);
	pb_varint(b, 4 * n);
	if (reserve(b, 4 * n))
		return;
	pb_store_floats_le(b->p + b->n, v, n);
	b->n += 4 * n;
}

void pb_int64s_le(struct pbuf *b, int field, const int64_t *v, size_t n)
{
	if (n > SIZE_MAX / 16) {
		b->failed = 1;
		return;
	}
	pb_key(b, field, PB_LEN);
	pb_varint(b, 8 * n);
	if (reserve(b, 8 * n))
		return;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 8; k++)
			b->p[b->n++] = (unsigned char)((uint64_t)v[i] >> (8 * k));
}

size_t pb_len_field_size(int field, size_t len)
{
	return pb_varint_size((uint64_t)field << 3 | PB_LEN) + pb_varint_size(len) + len;
}

size_t pb_len_header(unsigned char *out, int field, size_t len)
{
	size_t k = varint_to(out, (uint64_t)field << 3 | PB_LEN);
	return k + varint_to(out + k, len);
}
