/* The tensor stream: frames as msgpack maps (formats/tensor-stream.md).
 *
 * Writing goes through msgpack-c's packer. Reading uses a small pull parser
 * of our own on top of read(2): msgpack-c's unpacker allocates memory for an
 * array or map as soon as it sees the header's element count, before the
 * elements arrive, so four bytes of garbage could make it ask for gigabytes.
 * Here every allocation is bounded by bytes actually received (or by a small
 * fixed step), and every count is checked against the frame's byte cap. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "stream.h"

#define DEFAULT_MAX_FRAME ((size_t)4 << 30)
#define MAX_DEPTH 16
#define GROW_STEP ((size_t)64 << 20) /* bins larger than this are read in steps */

struct entry {
	char *key;
	struct value val;
	int borrowed; /* VAL_BIN data not owned by the frame */
};

struct frame {
	struct entry *e;
	size_t n, cap;
};

/* ---------- values and frames ---------- */

static void value_free(struct value *v, int borrowed)
{
	if (v->kind == VAL_ARRAY) {
		for (size_t i = 0; i < v->len; i++)
			value_free(&v->items[i], 0);
		free(v->items);
	} else if ((v->kind == VAL_STR || v->kind == VAL_BIN) && !borrowed) {
		free((void *)v->str);
	}
	memset(v, 0, sizeof *v);
}

struct frame *frame_new(void)
{
	struct frame *f = calloc(1, sizeof *f);
	if (!f)
		tf_seterr("out of memory");
	return f;
}

void frame_clear(struct frame *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->e[i].key);
		value_free(&f->e[i].val, f->e[i].borrowed);
	}
	f->n = 0;
}

void frame_free(struct frame *f)
{
	if (!f)
		return;
	frame_clear(f);
	free(f->e);
	free(f);
}

size_t frame_nkeys(const struct frame *f) { return f->n; }
const char *frame_key(const struct frame *f, size_t i) { return f->e[i].key; }
const struct value *frame_value(const struct frame *f, size_t i) { return &f->e[i].val; }

const struct value *frame_get(const struct frame *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->e[i].key, key))
			return &f->e[i].val;
	return NULL;
}

int frame_get_int(const struct frame *f, const char *key, int64_t *out)
{
	const struct value *v = frame_get(f, key);
	if (!v)
		return 1;
	/* in range before the cast: converting a double outside int64's range is undefined */
	if (v->kind == VAL_FLOAT && v->f >= -0x1p63 && v->f < 0x1p63 && v->f == (double)(int64_t)v->f) {
		*out = (int64_t)v->f; /* 44100.0 written by a float-happy tool */
		return 0;
	}
	if (v->kind != VAL_INT)
		return tf_seterr("key \"%s\" should be an integer", key);
	*out = v->i;
	return 0;
}

int frame_get_int32(const struct frame *f, const char *key, int *out)
{
	int64_t v = 0;
	int rc = frame_get_int(f, key, &v);
	if (rc)
		return rc;
	if (v < -2147483647 || v > 2147483647)
		return tf_seterr("key \"%s\" is out of range (%lld)", key, (long long)v);
	*out = (int)v;
	return 0;
}

int frame_get_float(const struct frame *f, const char *key, double *out)
{
	const struct value *v = frame_get(f, key);
	if (!v)
		return 1;
	if (v->kind != VAL_FLOAT && v->kind != VAL_INT)
		return tf_seterr("key \"%s\" should be a number", key);
	*out = v->f;
	return 0;
}

int frame_get_bool(const struct frame *f, const char *key, int *out)
{
	const struct value *v = frame_get(f, key);
	if (!v)
		return 1;
	if (v->kind != VAL_BOOL && v->kind != VAL_INT)
		return tf_seterr("key \"%s\" should be true or false", key);
	*out = v->i != 0;
	return 0;
}

int frame_get_str(const struct frame *f, const char *key, char *buf, size_t len)
{
	const struct value *v = frame_get(f, key);
	if (!v)
		return 1;
	if (v->kind != VAL_STR)
		return tf_seterr("key \"%s\" should be a string", key);
	if (v->len >= len)
		return tf_seterr("key \"%s\" is too long (%zu bytes, at most %zu)", key, v->len, len - 1);
	memcpy(buf, v->str, v->len + 1);
	return 0;
}

int frame_get_ints(const struct frame *f, const char *key, int64_t *out, size_t max, size_t *n)
{
	const struct value *v = frame_get(f, key);
	if (!v)
		return 1;
	if (v->kind != VAL_ARRAY)
		return tf_seterr("key \"%s\" should be an array of integers", key);
	if (v->len > max)
		return tf_seterr("key \"%s\" has %zu items, at most %zu allowed", key, v->len, max);
	for (size_t i = 0; i < v->len; i++) {
		if (v->items[i].kind != VAL_INT)
			return tf_seterr("key \"%s\" should be an array of integers", key);
		out[i] = v->items[i].i;
	}
	*n = v->len;
	return 0;
}

/* Returns the slot for key, replacing an existing value. */
static struct entry *frame_slot(struct frame *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->e[i].key, key)) {
			value_free(&f->e[i].val, f->e[i].borrowed);
			f->e[i].borrowed = 0;
			return &f->e[i];
		}
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct entry *e = realloc(f->e, cap * sizeof *e);
		if (!e)
			return tf_seterr("out of memory"), NULL;
		f->e = e;
		f->cap = cap;
	}
	struct entry *e = &f->e[f->n];
	memset(e, 0, sizeof *e);
	if (!(e->key = strdup(key)))
		return tf_seterr("out of memory"), NULL;
	f->n++;
	return e;
}

int frame_set_int(struct frame *f, const char *key, int64_t v)
{
	struct entry *e = frame_slot(f, key);
	if (!e)
		return -1;
	e->val.kind = VAL_INT;
	e->val.i = v;
	e->val.f = (double)v;
	return 0;
}

int frame_set_float(struct frame *f, const char *key, double v)
{
	struct entry *e = frame_slot(f, key);
	if (!e)
		return -1;
	e->val.kind = VAL_FLOAT;
	e->val.f = v;
	return 0;
}

int frame_set_bool(struct frame *f, const char *key, int v)
{
	struct entry *e = frame_slot(f, key);
	if (!e)
		return -1;
	e->val.kind = VAL_BOOL;
	e->val.i = v != 0;
	return 0;
}

static int set_str_value(struct value *v, const char *s)
{
	v->kind = VAL_STR;
	v->len = strlen(s);
	if (!(v->str = strdup(s)))
		return tf_seterr("out of memory");
	return 0;
}

int frame_set_str(struct frame *f, const char *key, const char *s)
{
	struct entry *e = frame_slot(f, key);
	return e ? set_str_value(&e->val, s) : -1;
}

int frame_set_ints(struct frame *f, const char *key, const int64_t *v, size_t n)
{
	struct entry *e = frame_slot(f, key);
	if (!e)
		return -1;
	e->val.kind = VAL_ARRAY;
	if (!(e->val.items = calloc(n ? n : 1, sizeof *e->val.items)))
		return tf_seterr("out of memory");
	e->val.len = n;
	for (size_t i = 0; i < n; i++) {
		e->val.items[i].kind = VAL_INT;
		e->val.items[i].i = v[i];
		e->val.items[i].f = (double)v[i];
	}
	return 0;
}

int frame_set_strs(struct frame *f, const char *key, const char *const *v, size_t n)
{
	struct entry *e = frame_slot(f, key);
	if (!e)
		return -1;
	e->val.kind = VAL_ARRAY;
	if (!(e->val.items = calloc(n ? n : 1, sizeof *e->val.items)))
		return tf_seterr("out of memory");
	e->val.len = n;
	for (size_t i = 0; i < n; i++)
		if (set_str_value(&e->val.items[i], v[i]))
			return -1;
	return 0;
}

int frame_set_bin(struct frame *f, const char *key, const void *data, size_t len)
{
	struct entry *e = frame_slot(f, key);
	if (!e)
		return -1;
	e->val.kind = VAL_BIN;
	e->val.str = data;
	e->val.len = len;
	e->borrowed = 1;
	return 0;
}

static int value_copy(struct value *dst, const struct value *src)
{
	*dst = *src;
	if (src->kind == VAL_STR) {
		if (!(dst->str = strdup(src->str)))
			return tf_seterr("out of memory");
	} else if (src->kind == VAL_ARRAY) {
		if (!(dst->items = calloc(src->len ? src->len : 1, sizeof *dst->items)))
			return tf_seterr("out of memory");
		for (size_t i = 0; i < src->len; i++)
			if (value_copy(&dst->items[i], &src->items[i]))
				return -1;
	}
	return 0;
}

int frame_copy_keys(struct frame *dst, const struct frame *src)
{
	for (size_t i = 0; i < src->n; i++) {
		struct entry *e = frame_slot(dst, src->e[i].key);
		if (!e)
			return -1;
		if (src->e[i].val.kind == VAL_BIN) {
			e->val = src->e[i].val;
			e->borrowed = 1;
		} else if (value_copy(&e->val, &src->e[i].val)) {
			return -1;
		}
	}
	return 0;
}

int frame_set_tensor(struct frame *f, const struct tensor *t)
{
	int64_t shape[TENSOR_MAX_DIMS];
	memcpy(shape, t->shape, sizeof shape);
	if (t->name && frame_set_str(f, "name", t->name))
		return -1;
	if (frame_set_str(f, "dtype", dtype_traits[t->dtype].name) ||
	    frame_set_ints(f, "shape", shape, (size_t)t->ndim))
		return -1;
	return frame_set_bin(f, "data", t->data, tensor_bytes(t));
}

int frame_is_tensor(const struct frame *f)
{
	return frame_get(f, "data") != NULL;
}

int frame_is_end(const struct frame *f)
{
	const struct value *v = frame_get(f, "end");
	return v && (v->kind == VAL_BOOL || v->kind == VAL_INT) && v->i;
}

int frame_tensor(const struct frame *f, struct tensor *t)
{
	const struct value *dt = frame_get(f, "dtype"), *sh = frame_get(f, "shape"),
			   *data = frame_get(f, "data"), *name = frame_get(f, "name");
	char buf[160];
	size_t bytes;
	int d;
	memset(t, 0, sizeof *t);
	if (!data || data->kind != VAL_BIN)
		return tf_seterr("tensor frame has no binary \"data\"");
	if (!dt || dt->kind != VAL_STR)
		return tf_seterr("tensor frame has no \"dtype\" string");
	if ((d = dtype_from_name(dt->str, dt->len)) < 0)
		return tf_seterr("unknown dtype \"%.32s\"", dt->str);
	if (!sh || sh->kind != VAL_ARRAY)
		return tf_seterr("tensor frame has no \"shape\" array");
	if (sh->len > TENSOR_MAX_DIMS)
		return tf_seterr("tensor has %zu dimensions, at most %d supported", sh->len, TENSOR_MAX_DIMS);
	t->dtype = (enum dtype)d;
	t->ndim = (int)sh->len;
	for (size_t i = 0; i < sh->len; i++) {
		if (sh->items[i].kind != VAL_INT || sh->items[i].i < 0)
			return tf_seterr("tensor shape must be non-negative integers");
		t->shape[i] = sh->items[i].i;
	}
	if (shape_bytes(t->shape, t->ndim, t->dtype, &bytes))
		return -1;
	if (bytes != data->len)
		return tf_seterr("tensor data is %zu bytes but shape %s of %s needs %zu", data->len,
				 shape_str(t->shape, t->ndim, buf, sizeof buf), dtype_traits[d].name, bytes);
	t->data = (void *)data->str;
	t->name = name && name->kind == VAL_STR ? name->str : NULL;
	return 0;
}

/* ---------- reading ---------- */

struct stream_reader {
	int fd;
	int seen_end, failed;
	size_t max_frame, frame_used;
	uint64_t nframe;      /* frames read so far */
	size_t pos, len;
	unsigned char buf[1 << 16];
};

struct stream_reader *stream_reader_open(int fd, size_t max_frame)
{
	struct stream_reader *r = calloc(1, sizeof *r);
	if (!r)
		return tf_seterr("out of memory"), NULL;
	r->fd = fd;
	r->max_frame = max_frame ? max_frame : DEFAULT_MAX_FRAME;
	return r;
}

void stream_reader_close(struct stream_reader *r)
{
	free(r);
}

/* Refills the buffer: 1 if bytes are available, 0 at end of input, -1 error. */
static int fill(struct stream_reader *r)
{
	ssize_t n;
	if (r->pos < r->len)
		return 1;
	do
		n = read(r->fd, r->buf, sizeof r->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return tf_seterr("read error: %s", strerror(errno));
	r->pos = 0;
	r->len = (size_t)n;
	return n > 0;
}

static int truncated(struct stream_reader *r)
{
	return tf_seterr("truncated stream: input ends in the middle of frame %llu",
			 (unsigned long long)r->nframe + 1);
}

static int take(struct stream_reader *r, void *dst, size_t n)
{
	unsigned char *d = dst;
	if (n > r->max_frame - r->frame_used)
		return tf_seterr("frame %llu is larger than the %zu-byte cap",
				 (unsigned long long)r->nframe + 1, r->max_frame);
	r->frame_used += n;
	while (n) {
		int rc = fill(r);
		if (rc <= 0)
			return rc < 0 ? -1 : truncated(r);
		size_t k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(d, r->buf + r->pos, k);
		r->pos += k;
		d += k;
		n -= k;
	}
	return 0;
}

static int take_be(struct stream_reader *r, int bytes, uint64_t *out)
{
	unsigned char b[8];
	uint64_t v = 0;
	if (take(r, b, (size_t)bytes))
		return -1;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | b[i];
	*out = v;
	return 0;
}

/* Reads len bytes into a fresh 64-byte-aligned, NUL-terminated buffer.
 * Large blobs are grown step by step as bytes arrive, so a header that lies
 * about the length costs at most one step beyond what was really sent. */
static int take_blob(struct stream_reader *r, size_t len, char **out)
{
	size_t have = 0, cap = len < GROW_STEP ? len : GROW_STEP;
	char *p;
	*out = NULL;
	if (len > r->max_frame - r->frame_used)
		return tf_seterr("frame %llu is larger than the %zu-byte cap",
				 (unsigned long long)r->nframe + 1, r->max_frame);
	if (!(p = aligned_alloc(64, (cap + 64) & ~(size_t)63)))
		return tf_seterr("out of memory reading a %zu-byte blob", len);
	while (have < len) {
		size_t step = len - have < GROW_STEP ? len - have : GROW_STEP;
		if (have + step > cap) {
			size_t ncap = have + step;
			char *q = aligned_alloc(64, (ncap + 64) & ~(size_t)63);
			if (!q) {
				free(p);
				return tf_seterr("out of memory reading a %zu-byte blob", len);
			}
			memcpy(q, p, have);
			free(p);
			p = q;
			cap = ncap;
		}
		if (take(r, p + have, step)) {
			free(p);
			return -1;
		}
		have += step;
	}
	p[len] = 0;
	*out = p;
	return 0;
}

static int read_value(struct stream_reader *r, struct value *v, int depth);

static int read_items(struct stream_reader *r, struct value *v, uint64_t n, int depth)
{
	/* every element takes at least one byte, so n is bounded by the cap */
	if (n > r->max_frame - r->frame_used)
		return tf_seterr("array of %llu items is larger than the frame cap", (unsigned long long)n);
	size_t cap = 0;
	v->kind = VAL_ARRAY;
	v->len = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (v->len == cap) { /* grows with the items that really arrive */
			size_t ncap = cap ? 2 * cap : 4;
			struct value *it = realloc(v->items, ncap * sizeof *it);
			if (!it)
				return tf_seterr("out of memory");
			v->items = it;
			cap = ncap;
		}
		memset(&v->items[v->len], 0, sizeof *v->items);
		v->len++;
		if (read_value(r, &v->items[v->len - 1], depth + 1))
			return -1;
	}
	return 0;
}

static int skip_map(struct stream_reader *r, uint64_t n, int depth)
{
	for (uint64_t i = 0; i < 2 * n; i++) {
		struct value tmp = {0};
		int rc = read_value(r, &tmp, depth + 1);
		value_free(&tmp, 0);
		if (rc)
			return -1;
	}
	return 0;
}

static int read_value(struct stream_reader *r, struct value *v, int depth)
{
	unsigned char t;
	uint64_t u;
	memset(v, 0, sizeof *v);
	if (depth > MAX_DEPTH)
		return tf_seterr("values nested more than %d deep", MAX_DEPTH);
	if (take(r, &t, 1))
		return -1;
	if (t <= 0x7f || t >= 0xe0) {
		v->kind = VAL_INT;
		v->i = t <= 0x7f ? t : (int8_t)t;
		v->f = (double)v->i;
		return 0;
	}
	if (t >= 0x80 && t <= 0x8f)
		return v->kind = VAL_OTHER, skip_map(r, t & 0x0f, depth);
	if (t >= 0x90 && t <= 0x9f)
		return read_items(r, v, t & 0x0f, depth);
	if (t >= 0xa0 && t <= 0xbf) {
		v->kind = VAL_STR;
		v->len = t & 0x1f;
		return take_blob(r, v->len, (char **)&v->str);
	}
	switch (t) {
	case 0xc0: v->kind = VAL_NIL; return 0;
	case 0xc2: case 0xc3: v->kind = VAL_BOOL; v->i = t == 0xc3; return 0;
	case 0xc4: case 0xc5: case 0xc6:
	case 0xd9: case 0xda: case 0xdb: {
		int w = (t == 0xc4 || t == 0xd9) ? 1 : (t == 0xc5 || t == 0xda) ? 2 : 4;
		if (take_be(r, w, &u))
			return -1;
		v->kind = t <= 0xc6 ? VAL_BIN : VAL_STR;
		v->len = (size_t)u;
		return take_blob(r, v->len, (char **)&v->str);
	}
	case 0xc7: case 0xc8: case 0xc9: { /* ext: skipped */
		unsigned char type;
		char *blob;
		if (take_be(r, t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4, &u) || take(r, &type, 1) ||
		    take_blob(r, (size_t)u, &blob))
			return -1;
		free(blob);
		v->kind = VAL_OTHER;
		return 0;
	}
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: {
		unsigned char skip[17];
		v->kind = VAL_OTHER;
		return take(r, skip, 1 + ((size_t)1 << (t - 0xd4)));
	}
	case 0xca: case 0xcb: {
		if (take_be(r, t == 0xca ? 4 : 8, &u))
			return -1;
		v->kind = VAL_FLOAT;
		if (t == 0xca) {
			uint32_t b = (uint32_t)u;
			float f;
			memcpy(&f, &b, sizeof f);
			v->f = f;
		} else {
			memcpy(&v->f, &u, 8);
		}
		return 0;
	}
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		if (take_be(r, 1 << (t - 0xcc), &u))
			return -1;
		if (u > INT64_MAX)
			return tf_seterr("integer %llu is out of range", (unsigned long long)u);
		v->kind = VAL_INT;
		v->i = (int64_t)u;
		v->f = (double)v->i;
		return 0;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
		int w = 1 << (t - 0xd0);
		if (take_be(r, w, &u))
			return -1;
		v->kind = VAL_INT;
		v->i = w == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * w)) >> (64 - 8 * w);
		v->f = (double)v->i;
		return 0;
	}
	case 0xdc: case 0xdd:
		if (take_be(r, t == 0xdc ? 2 : 4, &u))
			return -1;
		return read_items(r, v, u, depth);
	case 0xde: case 0xdf:
		if (take_be(r, t == 0xde ? 2 : 4, &u))
			return -1;
		v->kind = VAL_OTHER;
		return skip_map(r, u, depth);
	default:
		return tf_seterr("invalid msgpack byte 0x%02x in frame %llu", t,
				 (unsigned long long)r->nframe + 1);
	}
}

static int read_frame(struct stream_reader *r, struct frame *f)
{
	unsigned char t;
	uint64_t n;
	int rc;
	frame_clear(f);
	r->frame_used = 0;
	if ((rc = fill(r)) < 0)
		return -1;
	if (rc == 0) {
		if (r->nframe == 0)
			return tf_seterr("empty input: expected a tfswa stream");
		return tf_seterr("truncated stream: input ends after frame %llu without an end frame",
				 (unsigned long long)r->nframe);
	}
	if (take(r, &t, 1))
		return -1;
	if (t >= 0x80 && t <= 0x8f)
		n = t & 0x0f;
	else if (t == 0xde || t == 0xdf) {
		if (take_be(r, t == 0xde ? 2 : 4, &n))
			return -1;
	} else {
		return tf_seterr("not a tfswa stream: frame %llu is not a msgpack map (byte 0x%02x)",
				 (unsigned long long)r->nframe + 1, t);
	}
	if (n > r->max_frame / 2)
		return tf_seterr("frame %llu claims %llu keys", (unsigned long long)r->nframe + 1,
				 (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++) {
		struct value key;
		if (read_value(r, &key, 1))
			return value_free(&key, 0), -1;
		if (key.kind != VAL_STR) {
			value_free(&key, 0);
			return tf_seterr("frame %llu has a key that is not a string",
					 (unsigned long long)r->nframe + 1);
		}
		struct entry *e = frame_slot(f, key.str);
		value_free(&key, 0);
		if (!e || read_value(r, &e->val, 1))
			return -1;
	}
	r->nframe++;
	if (frame_is_end(f))
		r->seen_end = 1;
	return 1;
}

int stream_read_frame(struct stream_reader *r, struct frame *f)
{
	int rc;
	if (r->failed)
		return tf_seterr("stream already failed");
	if (r->seen_end)
		return frame_clear(f), 0;
	if ((rc = read_frame(r, f)) < 0)
		r->failed = 1;
	return rc;
}

int stream_read_header(struct stream_reader *r, struct frame *f, const char *want_kind)
{
	int64_t version;
	char kind[64];
	int rc = stream_read_frame(r, f);
	if (rc <= 0)
		return -1;
	if (frame_get_int(f, "tfswa", &version) != 0)
		return tf_seterr("not a tfswa stream: first frame has no \"tfswa\" version key");
	if (version != STREAM_VERSION)
		return tf_seterr("stream format version %lld is not supported (this is version %d)",
				 (long long)version, STREAM_VERSION);
	if (frame_get_str(f, "kind", kind, sizeof kind) != 0)
		return tf_seterr("stream header has no \"kind\"");
	if (want_kind && strcmp(kind, want_kind))
		return tf_seterr("expected a %s stream, got a %s stream", want_kind, kind);
	if (frame_is_end(f))
		return tf_seterr("stream header is also an end frame");
	return 0;
}

/* ---------- writing ---------- */

struct stream_writer {
	FILE *fp;
	int failed;
	msgpack_packer pk;
};

static int write_cb(void *data, const char *buf, size_t len)
{
	struct stream_writer *w = data;
	if (w->failed)
		return -1;
	if (len && fwrite(buf, 1, len, w->fp) != len) {
		w->failed = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

struct stream_writer *stream_writer_open(FILE *fp)
{
	struct stream_writer *w = calloc(1, sizeof *w);
	if (!w)
		return tf_seterr("out of memory"), NULL;
	w->fp = fp;
	msgpack_packer_init(&w->pk, w, write_cb);
	return w;
}

static void pack_value(msgpack_packer *pk, const struct value *v)
{
	switch (v->kind) {
	case VAL_NIL: case VAL_OTHER: msgpack_pack_nil(pk); break;
	case VAL_BOOL: v->i ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
	case VAL_INT: msgpack_pack_int64(pk, v->i); break;
	case VAL_FLOAT: msgpack_pack_double(pk, v->f); break;
	case VAL_STR:
		msgpack_pack_str(pk, v->len);
		msgpack_pack_str_body(pk, v->str, v->len);
		break;
	case VAL_BIN:
		msgpack_pack_bin(pk, v->len);
		msgpack_pack_bin_body(pk, v->str, v->len);
		break;
	case VAL_ARRAY:
		msgpack_pack_array(pk, v->len);
		for (size_t i = 0; i < v->len; i++)
			pack_value(pk, &v->items[i]);
		break;
	}
}

static int write_failed(struct stream_writer *w)
{
	return tf_seterr("write error: %s", strerror(w->failed));
}

int stream_write_frame(struct stream_writer *w, const struct frame *f)
{
	if (w->failed)
		return write_failed(w);
	msgpack_pack_map(&w->pk, f->n);
	for (size_t i = 0; i < f->n; i++) {
		size_t kl = strlen(f->e[i].key);
		msgpack_pack_str(&w->pk, kl);
		msgpack_pack_str_body(&w->pk, f->e[i].key, kl);
		pack_value(&w->pk, &f->e[i].val);
	}
	/* each frame leaves whole, so that the next program of a pipe can
	 * start on it now (a live source) rather than when stdio's buffer
	 * fills with the start of the next one */
	if (!w->failed && fflush(w->fp))
		w->failed = errno ? errno : EIO;
	return w->failed ? write_failed(w) : 0;
}

/* Writes {fixed keys..., extra keys of meta} as one frame. */
static int write_with(struct stream_writer *w, struct frame *base, const struct frame *extra)
{
	int rc = -1;
	if (extra) {
		for (size_t i = 0; i < extra->n; i++)
			if (frame_get(base, extra->e[i].key))
				continue; /* the fixed keys win */
			else {
				struct entry *e = frame_slot(base, extra->e[i].key);
				if (!e)
					goto out;
				if (extra->e[i].val.kind == VAL_BIN) {
					e->val = extra->e[i].val;
					e->borrowed = 1;
				} else if (value_copy(&e->val, &extra->e[i].val)) {
					goto out;
				}
			}
	}
	rc = stream_write_frame(w, base);
out:
	frame_free(base);
	return rc;
}

int stream_write_header(struct stream_writer *w, const char *kind, const struct frame *meta)
{
	struct frame *h = frame_new();
	if (!h || frame_set_int(h, "tfswa", STREAM_VERSION) || frame_set_str(h, "kind", kind)) {
		frame_free(h);
		return -1;
	}
	return write_with(w, h, meta);
}

int stream_write_end(struct stream_writer *w, const struct frame *totals)
{
	struct frame *e = frame_new();
	if (!e || frame_set_bool(e, "end", 1)) {
		frame_free(e);
		return -1;
	}
	return write_with(w, e, totals);
}

int stream_writer_close(struct stream_writer *w)
{
	int rc = 0;
	if (!w)
		return 0;
	if (!w->failed && fflush(w->fp))
		w->failed = errno ? errno : EIO;
	if (w->failed)
		rc = write_failed(w);
	free(w);
	return rc;
}
