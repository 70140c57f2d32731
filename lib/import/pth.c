/* torch.save zip archives (PyTorch >= 1.6): <prefix>/data.pkl holds the
 * pickled object; every tensor storage is the entry <prefix>/data/<key>,
 * named by the persistent id ('storage', torch.<T>Storage, key, location,
 * numel) that the pickle gives for it; tensors are rebuilt by
 * torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...).
 * Here that call makes an inert view into the archive: nothing runs.
 *
 * Legacy torch.save files (before 1.6, or _use_new_zipfile_serialization=
 * False) are five pickles one after the other, then the storages:
 *   the magic number 0x1950a86a20f9469cfc6c; the protocol version, 1001;
 *   a dict of system info (little_endian, type_sizes); the object, whose
 *   storages are the persistent ids ('storage', torch.<T>Storage, key,
 *   location, numel, view_metadata); the list of the storage keys;
 *   then, for each key of that list in its order, the storage's element
 *   count (int64, little-endian) and its elements.
 * The object pickle is run twice: once to learn its storages (their types
 * and sizes), which the bytes after it are cut into, and once to make the
 * tensors, as views into those bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "pth.h"
#include "pickle.h"
#include "zip.h"

enum {
	G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_REBUILD_PARAMETER_STATE,
	G_INERT,        /* harmless constructors of training-checkpoint extras: an inert object */
	G_STORAGE = 64, /* + enum dtype: torch.<T>Storage */
};

enum { O_STORAGE = 1, O_TENSOR, O_INERT };

static const struct {
	const char *module, *name;
	int tag;
} allowed[] = {
	{"collections", "OrderedDict", G_ORDERED_DICT},
	{"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2},
	{"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER},
	{"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_STATE},
	{"torch", "FloatStorage", G_STORAGE + DT_F32},
	{"torch", "HalfStorage", G_STORAGE + DT_F16},
	{"torch", "BFloat16Storage", G_STORAGE + DT_BF16},
	{"torch", "DoubleStorage", G_STORAGE + DT_F64},
	{"torch", "LongStorage", G_STORAGE + DT_I64},
	{"torch", "IntStorage", G_STORAGE + DT_I32},
	{"torch", "ShortStorage", G_STORAGE + DT_I16},
	{"torch", "CharStorage", G_STORAGE + DT_I8},
	{"torch", "ByteStorage", G_STORAGE + DT_U8},
	{"torch", "BoolStorage", G_STORAGE + DT_U8},
	{"torch", "ComplexFloatStorage", G_STORAGE + DT_C64},
	/* what training checkpoints carry besides the weights: numpy scalars
	 * and arrays (metrics), torch.device, sets; all made inert */
	{"numpy.core.multiarray", "scalar", G_INERT},
	{"numpy._core.multiarray", "scalar", G_INERT},
	{"numpy.core.multiarray", "_reconstruct", G_INERT},
	{"numpy._core.multiarray", "_reconstruct", G_INERT},
	{"numpy", "ndarray", G_INERT},
	{"numpy", "dtype", G_INERT},
	{"_codecs", "encode", G_INERT},
	{"torch", "device", G_INERT},
	{"builtins", "set", G_INERT},
	{"builtins", "frozenset", G_INERT},
	{"__builtin__", "set", G_INERT}, /* protocol 2 spells builtins so */
	{"__builtin__", "frozenset", G_INERT},
};

struct storage {
	enum dtype dtype;
	const unsigned char *data;
	uint64_t numel;
};

/* a storage of a legacy file, found by its key */
struct legacy_storage {
	char *key;
	enum dtype dtype;
	uint64_t numel;            /* the most elements a persistent id gives it */
	const unsigned char *data; /* NULL until the bytes after the pickles are cut up */
	uint64_t count;            /* elements in the file */
};

struct ctx {
	const struct zip *z;       /* NULL: a legacy file */
	char prefix[256];
	unsigned flags;
	unsigned char *verified;   /* per zip entry: CRC checked */
	struct legacy_storage *ls; /* legacy: the storages, hashed by key into slot */
	size_t nls, capls, *slot, nslot;
};

static int find_class(void *vctx, const char *module, const char *name)
{
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
		if (!strcmp(allowed[i].module, module) && !strcmp(allowed[i].name, name))
			return allowed[i].tag;
	if (!strcmp(module, "torch") && strstr(name, "Storage"))
		return tf_seterr("unsupported tensor storage type torch.%.60s", name);
	return tf_seterr("refusing pickle global %.80s.%.80s: only the globals of a state_dict are allowed "
			 "(this is a pickled object, not a plain state_dict; save model.state_dict() instead)",
			 module, name);
}

static struct pk_value *inert(struct pk_machine *m, int tag)
{
	struct pk_value *v = pk_new(m, PK_OBJ);
	if (v)
		v->tag = tag;
	return v;
}

static int get_int(const struct pk_value *v, int64_t *out)
{
	if (v->kind != PK_INT || v->big)
		return -1;
	*out = v->i;
	return 0;
}

static struct pk_value *legacy_persistent_load(struct ctx *c, struct pk_machine *m, struct pk_value *pid);

static struct pk_value *new_storage(struct pk_machine *m, enum dtype dt, const unsigned char *data, uint64_t numel)
{
	struct pk_value *v = inert(m, O_STORAGE);
	struct storage *s = v ? calloc(1, sizeof *s) : NULL;
	if (!s) {
		if (v)
			tf_seterr("out of memory");
		return NULL;
	}
	s->dtype = dt, s->data = data, s->numel = numel;
	v->ext = s;
	return v;
}

/* Checks a storage's persistent id, ('storage', torch.<T>Storage, key,
 * location, numel, ...) with n items (5 in a zip file, 6 in the legacy
 * format), and gives its numel; -1 with a message if it is not one. */
static int storage_id(const struct pk_value *pid, size_t n, int64_t *numel)
{
	if (pid->kind != PK_TUPLE || pid->n != n || pid->items[0]->kind != PK_STR ||
	    strcmp(pid->items[0]->s, "storage"))
		return tf_seterr("pickle: persistent id is not a ('storage', ...) tuple");
	const struct pk_value *type = pid->items[1], *key = pid->items[2];
	if (type->kind != PK_GLOBAL || type->tag < G_STORAGE || key->kind != PK_STR ||
	    get_int(pid->items[4], numel) || *numel < 0)
		return tf_seterr("pickle: malformed storage persistent id");
	return 0;
}

/* ('storage', torch.<T>Storage, key, location, numel) */
static struct pk_value *persistent_load(void *vctx, struct pk_machine *m, struct pk_value *pid)
{
	struct ctx *c = vctx;
	int64_t numel;
	char name[512];
	if (!c->z)
		return legacy_persistent_load(c, m, pid);
	if (storage_id(pid, 5, &numel))
		return NULL;
	struct pk_value *type = pid->items[1], *key = pid->items[2];
	enum dtype dt = (enum dtype)(type->tag - G_STORAGE);
	if ((size_t)snprintf(name, sizeof name, "%sdata/%s", c->prefix, key->s) >= sizeof name) {
		tf_seterr("pickle: storage key too long");
		return NULL;
	}
	const struct zip_entry *e = zip_find(c->z, name);
	const unsigned char *data;
	size_t len;
	if (!e) {
		tf_seterr("storage %.100s is missing from the archive (truncated or damaged file)", name);
		return NULL;
	}
	size_t idx = (size_t)(e - c->z->e);
	if (zip_data(c->z, e, !(c->flags & IMPORT_NO_CRC) && !c->verified[idx], &data, &len))
		return NULL;
	c->verified[idx] = 1;
	if ((uint64_t)numel > len / dtype_size(dt)) {
		tf_seterr("storage %.100s holds %zu bytes, too few for %lld %s elements", name, len,
			  (long long)numel, dtype_traits[dt].name);
		return NULL;
	}
	return new_storage(m, dt, data, (uint64_t)numel);
}

static int int_tuple(const struct pk_value *v, int64_t *out, int max, int *n)
{
	if (v->kind != PK_TUPLE || v->n > (size_t)max)
		return -1;
	for (size_t i = 0; i < v->n; i++)
		if (get_int(v->items[i], &out[i]) || out[i] < 0)
			return -1;
	*n = (int)v->n;
	return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): a view of the storage, bounds-checked. */
static struct pk_value *rebuild_tensor(struct pk_machine *m, struct pk_value *args)
{
	struct import_tensor t = {0};
	int64_t offset;
	int nst;
	if (args->n < 4 || args->items[0]->kind != PK_OBJ || args->items[0]->tag != O_STORAGE ||
	    get_int(args->items[1], &offset) || offset < 0 ||
	    int_tuple(args->items[2], t.shape, TENSOR_MAX_DIMS, &t.ndim) ||
	    int_tuple(args->items[3], t.stride, TENSOR_MAX_DIMS, &nst) || nst != t.ndim) {
		tf_seterr("pickle: malformed _rebuild_tensor_v2 arguments");
		return NULL;
	}
	const struct storage *s = args->items[0]->ext;
	size_t numel;
	if (shape_numel(t.shape, t.ndim, &numel))
		return NULL;
	/* the last element reached must lie inside the storage */
	uint64_t last = (uint64_t)offset, expect = 1;
	t.contiguous = 1;
	for (int i = t.ndim; i-- > 0;) {
		uint64_t span;
		if (t.shape[i] == 0)
			continue;
		if (__builtin_mul_overflow((uint64_t)(t.shape[i] - 1), (uint64_t)t.stride[i], &span) ||
		    __builtin_add_overflow(last, span, &last)) {
			tf_seterr("pickle: tensor strides overflow");
			return NULL;
		}
		if (t.shape[i] != 1 && (uint64_t)t.stride[i] != expect)
			t.contiguous = 0;
		expect *= (uint64_t)t.shape[i]; /* <= numel: no overflow */
	}
	if (numel && last >= s->numel) {
		char b[128];
		tf_seterr("tensor of shape %s at offset %lld reaches element %llu of a %llu-element storage",
			  shape_str(t.shape, t.ndim, b, sizeof b), (long long)offset, (unsigned long long)last,
			  (unsigned long long)s->numel);
		return NULL;
	}
	if (!numel && (uint64_t)offset > s->numel) {
		tf_seterr("pickle: empty tensor at offset %lld past its storage", (long long)offset);
		return NULL;
	}
	t.dtype = s->dtype;
	t.data = s->data ? s->data + (size_t)offset * dtype_size(s->dtype) : NULL; /* NULL: a legacy first pass */
	struct pk_value *v = inert(m, O_TENSOR);
	struct import_tensor *copy = v ? malloc(sizeof *copy) : NULL;
	if (!copy) {
		if (v)
			tf_seterr("out of memory");
		return NULL;
	}
	*copy = t;
	v->ext = copy;
	return v;
}

static struct pk_value *call(void *vctx, struct pk_machine *m, struct pk_value *fn, struct pk_value *args)
{
	switch (fn->tag) {
	case G_ORDERED_DICT: {
		struct pk_value *d = pk_new(m, PK_DICT);
		if (!d || args->n == 0)
			return d;
		/* OrderedDict([(k, v), ...]) */
		struct pk_value *l = args->items[0];
		if (args->n != 1 || (l->kind != PK_LIST && l->kind != PK_TUPLE)) {
			tf_seterr("pickle: OrderedDict with unexpected arguments");
			return NULL;
		}
		for (size_t i = 0; i < l->n; i++) {
			struct pk_value *kv = l->items[i];
			if ((kv->kind != PK_TUPLE && kv->kind != PK_LIST) || kv->n != 2) {
				tf_seterr("pickle: OrderedDict item is not a pair");
				return NULL;
			}
			size_t need = 2 * d->n + 2;
			if (need > d->cap) {
				size_t cap = d->cap ? 2 * d->cap : 8;
				struct pk_value **a = realloc(d->items, cap * sizeof *a);
				if (!a) {
					tf_seterr("out of memory");
					return NULL;
				}
				d->items = a, d->cap = cap;
			}
			d->items[2 * d->n] = kv->items[0];
			d->items[2 * d->n + 1] = kv->items[1];
			d->n++;
		}
		return d;
	}
	case G_REBUILD_TENSOR_V2:
		return rebuild_tensor(m, args);
	case G_REBUILD_PARAMETER:
	case G_REBUILD_PARAMETER_STATE:
		if (args->n < 1 || args->items[0]->kind != PK_OBJ || args->items[0]->tag != O_TENSOR) {
			tf_seterr("pickle: _rebuild_parameter of something that is not a tensor");
			return NULL;
		}
		return args->items[0];
	case G_INERT:
		return inert(m, O_INERT);
	default:
		tf_seterr("pickle: %s cannot be called", fn->s);
		return NULL;
	}
}

static int is_tensor(const struct pk_value *v)
{
	return v->kind == PK_OBJ && v->tag == O_TENSOR;
}

static int has_tensors(const struct pk_value *d)
{
	if (d->kind != PK_DICT)
		return 0;
	for (size_t i = 0; i < d->n; i++)
		if (is_tensor(d->items[2 * i + 1]))
			return 1;
	return 0;
}

/* The state_dict: the root, or the root's model_state_dict / state_dict /
 * model entry in a training checkpoint. */
static const struct pk_value *find_state_dict(const struct pk_value *root, char *source, size_t len)
{
	static const char *keys[] = {"model_state_dict", "state_dict", "model"};
	if (root->kind != PK_DICT) {
		tf_seterr("the checkpoint holds a %s, not a state_dict", pk_kind_name(root->kind));
		return NULL;
	}
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const struct pk_value *d = pk_dict_get(root, keys[i]);
		if (d && has_tensors(d)) {
			snprintf(source, len, "%s", keys[i]);
			return d;
		}
	}
	if (has_tensors(root)) {
		snprintf(source, len, "state_dict");
		return root;
	}
	char list[200] = "";
	size_t used = 0;
	for (size_t i = 0; i < root->n && used < sizeof list - 1; i++) {
		const struct pk_value *k = root->items[2 * i];
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%.40s", i ? ", " : "",
					 k->kind == PK_STR ? k->s : pk_kind_name(k->kind));
	}
	tf_seterr("no state_dict in the checkpoint: a dict with %zu keys (%s) and no tensors, and no "
		  "model_state_dict or state_dict entry",
		  root->n, root->n ? list : "none");
	return NULL;
}

/* Legacy torch.save files start with a pickle of this magic number,
 * 0x1950a86a20f9469cfc6c, as a LONG1 (0x8a, 10 bytes, little-endian). */
static const unsigned char legacy_magic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

int pth_is_legacy(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	size_t at = 2, have;
	/* PROTO 2..5 (torch writes 2 unless told otherwise); from protocol 4 a
	 * FRAME (0x95, 8-byte length) comes first */
	if (len < 2 || b[0] != 0x80 || b[1] < 2 || b[1] > 5)
		return 0;
	if (b[1] >= 4 && len > 2 && b[2] == 0x95)
		at += 9;
	/* as much of the magic as the bytes given hold, at least its opcode, its
	 * length and 3 of its 10 bytes */
	if (len < at + 5)
		return 0;
	have = len - at < sizeof legacy_magic ? len - at : sizeof legacy_magic;
	return !memcmp(b + at, legacy_magic, have);
}

/* ---------- legacy files ---------- */

static size_t key_slot(const struct ctx *c, const char *key)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a, then murmur3's finaliser: every bit counts */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211u;
	h ^= h >> 33, h *= 0xff51afd7ed558ccdu, h ^= h >> 33, h *= 0xc4ceb9fe1a85ec53u, h ^= h >> 33;
	size_t i = (size_t)h & (c->nslot - 1);
	while (c->slot[i] != SIZE_MAX && strcmp(c->ls[c->slot[i]].key, key))
		i = (i + 1) & (c->nslot - 1);
	return i;
}

static struct legacy_storage *legacy_find(const struct ctx *c, const char *key)
{
	if (!c->nslot)
		return NULL;
	size_t i = c->slot[key_slot(c, key)];
	return i == SIZE_MAX ? NULL : &c->ls[i];
}

/* a new key (not in the table) */
static struct legacy_storage *legacy_add(struct ctx *c, const char *key, enum dtype dt)
{
	if (c->nls >= IMPORT_MAX_TENSORS) {
		tf_seterr("more than %d storages", IMPORT_MAX_TENSORS);
		return NULL;
	}
	if (c->nls == c->capls) {
		size_t cap = c->capls ? 2 * c->capls : 64;
		struct legacy_storage *ls = realloc(c->ls, cap * sizeof *ls);
		size_t *slot = malloc(2 * cap * sizeof *slot);
		if (ls)
			c->ls = ls;
		if (!ls || !slot) {
			free(slot);
			tf_seterr("out of memory");
			return NULL;
		}
		/* twice as many slots as keys: probes stay short */
		free(c->slot);
		c->slot = slot, c->nslot = 2 * cap, c->capls = cap;
		for (size_t i = 0; i < c->nslot; i++)
			c->slot[i] = SIZE_MAX;
		for (size_t i = 0; i < c->nls; i++)
			c->slot[key_slot(c, c->ls[i].key)] = i;
	}
	struct legacy_storage *e = &c->ls[c->nls];
	if (!(e->key = strdup(key))) {
		tf_seterr("out of memory");
		return NULL;
	}
	e->dtype = dt, e->numel = 0, e->data = NULL, e->count = 0;
	c->slot[key_slot(c, key)] = c->nls++;
	return e;
}

static void legacy_free(struct ctx *c)
{
	for (size_t i = 0; i < c->nls; i++)
		free(c->ls[i].key);
	free(c->ls);
	free(c->slot);
}

/* ('storage', torch.<T>Storage, key, location, numel, view_metadata): the
 * first pass makes the table of storages (data NULL), the second finds
 * their bytes there. */
static struct pk_value *legacy_persistent_load(struct ctx *c, struct pk_machine *m, struct pk_value *pid)
{
	int64_t numel;
	if (storage_id(pid, 6, &numel))
		return NULL;
	struct pk_value *type = pid->items[1], *key = pid->items[2];
	if (pid->items[5]->kind != PK_NONE) {
		tf_seterr("storage %.100s is a view of another storage (old PyTorch): not supported", key->s);
		return NULL;
	}
	enum dtype dt = (enum dtype)(type->tag - G_STORAGE);
	struct legacy_storage *e = legacy_find(c, key->s);
	if (!e && !(e = legacy_add(c, key->s, dt)))
		return NULL;
	if (e->dtype != dt) {
		tf_seterr("storage %.100s is both %s and %s", key->s, dtype_traits[e->dtype].name, dtype_traits[dt].name);
		return NULL;
	}
	if ((uint64_t)numel > e->numel)
		e->numel = (uint64_t)numel;
	if (e->data && (uint64_t)numel > e->count) {
		tf_seterr("storage %.100s holds %llu elements, fewer than %lld", key->s, (unsigned long long)e->count,
			  (long long)numel);
		return NULL;
	}
	return new_storage(m, dt, e->data, (uint64_t)numel);
}

/* The header pickles and the key list hold plain values only. */
static int plain_class(void *ctx, const char *module, const char *name)
{
	(void)ctx;
	return tf_seterr("refusing pickle global %.80s.%.80s outside the object", module, name);
}

static struct pk_value *plain_persistent_load(void *ctx, struct pk_machine *m, struct pk_value *pid)
{
	(void)ctx, (void)m, (void)pid;
	tf_seterr("pickle: a persistent id outside the object");
	return NULL;
}

static struct pk_value *plain_call(void *ctx, struct pk_machine *m, struct pk_value *fn, struct pk_value *args)
{
	(void)ctx, (void)m, (void)fn, (void)args;
	tf_seterr("pickle: a call outside the object");
	return NULL;
}

/* The next pickle of a legacy file, from b[*at], with its value in *v
 * (owned by *m, which the caller frees, as it frees the one before). */
static int next_pickle(struct pk_machine **m, const unsigned char *b, size_t len, size_t *at,
		       const struct pk_hooks *hooks, struct pk_value **v, const char *what)
{
	pk_free(*m);
	*m = NULL;
	if (*at >= len)
		return tf_seterr("the file ends before its %s (truncated?)", what);
	if (pk_load(m, b + *at, len - *at, hooks, v))
		return tf_adderr("%s: ", what);
	*at += pk_used(*m);
	return 0;
}

/* A legacy file's object, with its tensors viewing b (see the top). */
static int legacy_load(struct ctx *c, const unsigned char *b, size_t len, struct pk_machine **m,
		       struct pk_value **root)
{
	static const struct pk_hooks plain = {NULL, plain_class, plain_persistent_load, plain_call};
	struct pk_hooks hooks = {c, find_class, persistent_load, call};
	const struct pk_value *le;
	struct pk_value *v;
	size_t at = 0, object;
	int64_t version;
	/* the magic number (its bytes are checked: pth_is_legacy), the
	 * protocol version, the system info */
	if (next_pickle(m, b, len, &at, &plain, &v, "magic number") ||
	    next_pickle(m, b, len, &at, &plain, &v, "protocol version"))
		return -1;
	if (get_int(v, &version) || version != 1001)
		return tf_seterr("protocol version is not 1001");
	if (next_pickle(m, b, len, &at, &plain, &v, "system info"))
		return -1;
	if (v->kind != PK_DICT || !(le = pk_dict_get(v, "little_endian")) || le->kind != PK_BOOL)
		return tf_seterr("the system info does not say little_endian");
	if (!le->i)
		return tf_seterr("the checkpoint was saved on a big-endian machine; only little-endian is supported");
	/* the object, a first time: the table of its storages */
	object = at;
	if (next_pickle(m, b, len, &at, &hooks, &v, "object"))
		return -1;
	if (next_pickle(m, b, len, &at, &plain, &v, "storage keys"))
		return -1;
	if (v->kind != PK_LIST)
		return tf_seterr("the storage keys are a %s, not a list", pk_kind_name(v->kind));
	/* the bytes after the pickles: each listed storage's count and elements */
	for (size_t i = 0; i < v->n; i++) {
		const struct pk_value *k = v->items[i];
		struct legacy_storage *e = k->kind == PK_STR ? legacy_find(c, k->s) : NULL;
		if (!e)
			return tf_seterr("storage key %.100s is none of the object's storages",
					 k->kind == PK_STR ? k->s : pk_kind_name(k->kind));
		if (e->data)
			return tf_seterr("storage key %.100s is listed twice", k->s);
		if (len - at < 8)
			return tf_seterr("the file ends before storage %.100s (truncated?)", k->s);
		uint64_t count = 0;
		for (int j = 8; j-- > 0;)
			count = count << 8 | b[at + (size_t)j];
		at += 8;
		size_t size = dtype_size(e->dtype);
		if (count > (len - at) / size)
			return tf_seterr("storage %.100s: %llu %s elements, but %zu bytes left (truncated file?)", k->s,
					 (unsigned long long)count, dtype_traits[e->dtype].name, len - at);
		e->data = b + at, e->count = count;
		at += (size_t)count * size;
	}
	for (size_t i = 0; i < c->nls; i++) {
		const struct legacy_storage *e = &c->ls[i];
		if (!e->data)
			return tf_seterr("storage %.100s is not in the file (truncated or damaged)", e->key);
		if (e->count < e->numel)
			return tf_seterr("storage %.100s holds %llu elements, fewer than %llu", e->key,
					 (unsigned long long)e->count, (unsigned long long)e->numel);
	}
	if (at != len)
		return tf_seterr("%zu byte%s after the last storage", len - at, len - at == 1 ? "" : "s");
	/* the object again, its tensors now views of those bytes */
	at = object;
	return next_pickle(m, b, len, &at, &hooks, root, "object");
}

static int sniff(const unsigned char *b, size_t len)
{
	if (len >= 2 && b[0] == 0x80 && b[1] <= 5)
		return tf_seterr("a bare pickle, not a torch.save zip archive");
	if (len >= 9 && b[8] == '{') {
		uint64_t n = 0;
		for (int i = 8; i-- > 0;)
			n = n << 8 | b[i];
		if (n <= len - 8)
			return tf_seterr("this looks like a safetensors file, not a torch.save zip archive");
	}
	return 0;
}

/* <prefix>/data.pkl, the only top-level one */
static int find_pickle(const struct zip *z, char *prefix, size_t plen, const struct zip_entry **pkl)
{
	*pkl = NULL;
	for (size_t i = 0; i < z->n; i++) {
		const char *n = z->e[i].name, *slash = strchr(n, '/');
		if (!slash || strchr(slash + 1, '/'))
			continue;
		if (!strcmp(slash + 1, "constants.pkl"))
			return tf_seterr("a TorchScript archive (torch.jit.save), not a state_dict: save one with "
					 "torch.save(model.state_dict(), path)");
		if (strcmp(slash + 1, "data.pkl"))
			continue;
		if (*pkl)
			return tf_seterr("the archive holds more than one data.pkl");
		if ((size_t)(slash - n) + 2 > plen)
			return tf_seterr("archive prefix too long");
		*pkl = &z->e[i];
		memcpy(prefix, n, (size_t)(slash - n) + 1);
		prefix[slash - n + 1] = 0;
	}
	if (!*pkl)
		return tf_seterr("a zip archive without <name>/data.pkl: not a torch.save file");
	return 0;
}

int import_pth(struct import_set *s, const void *buf, size_t len, unsigned flags)
{
	struct zip z = {0};
	struct ctx c = {&z, "", flags, NULL, NULL, 0, 0, NULL, 0};
	struct pk_machine *m = NULL;
	struct pk_value *root;
	const struct zip_entry *pkl, *bo;
	const unsigned char *data;
	size_t dlen;
	int rc = -1;
	char name[300];
	memset(s, 0, sizeof *s);
	snprintf(s->format, sizeof s->format, "pth");
	if (pth_is_legacy(buf, len)) {
		snprintf(s->format, sizeof s->format, "legacy pth");
		c.z = NULL;
		if (legacy_load(&c, buf, len, &m, &root)) {
			tf_adderr("legacy torch.save file: ");
			goto out;
		}
		goto loaded;
	}
	if (sniff(buf, len) || zip_open(&z, buf, len))
		return -1;
	if (find_pickle(&z, c.prefix, sizeof c.prefix, &pkl))
		goto out;
	snprintf(name, sizeof name, "%sbyteorder", c.prefix);
	if ((bo = zip_find(&z, name))) {
		if (zip_data(&z, bo, !(flags & IMPORT_NO_CRC), &data, &dlen))
			goto out;
		if (dlen != 6 || memcmp(data, "little", 6)) {
			tf_seterr("the checkpoint was saved on a big-endian machine; only little-endian is supported");
			goto out;
		}
	}
	if (!(c.verified = calloc(z.n ? z.n : 1, 1))) {
		tf_seterr("out of memory");
		goto out;
	}
	if (zip_data(&z, pkl, !(flags & IMPORT_NO_CRC), &data, &dlen))
		goto out;
	struct pk_hooks hooks = {&c, find_class, persistent_load, call};
	if (pk_load(&m, data, dlen, &hooks, &root)) {
		tf_adderr("%s: ", pkl->name);
		goto out;
	}
loaded:;
	const struct pk_value *sd = find_state_dict(root, s->source, sizeof s->source);
	if (!sd)
		goto out;
	for (size_t i = 0; i < sd->n; i++) {
		const struct pk_value *k = sd->items[2 * i], *v = sd->items[2 * i + 1];
		if (k->kind != PK_STR) {
			tf_seterr("%s has a %s key; state_dict keys are strings", s->source, pk_kind_name(k->kind));
			goto out;
		}
		if (!is_tensor(v)) {
			tf_seterr("%s entry %.100s is a %s, not a tensor", s->source, k->s, pk_kind_name(v->kind));
			goto out;
		}
		if (import_set_add(s, k->s, k->len, v->ext))
			goto out;
	}
	rc = import_set_finish(s) || import_set_check_size(s, len) ? -1 : 0;
out:
	if (rc)
		import_set_free(s);
	pk_free(m);
	free(c.verified);
	legacy_free(&c);
	zip_close(&z);
	return rc;
}
