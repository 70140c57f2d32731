/* torch.save's zip format, written the way PyTorch 1.6+ writes a
 * state_dict: archive/data.pkl, a pickle (protocol 2) of
 *   collections.OrderedDict([(key, torch._utils._rebuild_tensor_v2(
 *       storage, 0, size, stride, False, collections.OrderedDict())), ...])
 * where each storage is a persistent id ("storage", torch.FloatStorage or
 * torch.LongStorage, "<n>", "cpu", numel) whose bytes are the entry
 * archive/data/<n>; then archive/version. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "export/export.h"
#include "export/zipwrite.h"

/* pickle opcodes used here */
enum {
	PROTO = 0x80, GLOBAL = 'c', EMPTY_TUPLE = ')', REDUCE = 'R', MARK = '(', TUPLE = 't',
	BINUNICODE = 'X', BININT = 'J', LONG1 = 0x8a, BINPERSID = 'Q', NEWFALSE = 0x89, SETITEMS = 'u',
	STOP = '.',
};

struct pickle {
	unsigned char *b;
	size_t n, cap;
	int failed;
};

static void bytes(struct pickle *p, const void *s, size_t len)
{
	if (p->failed)
		return;
	if (p->n + len > p->cap) {
		size_t cap = 2 * p->cap + len + 256;
		unsigned char *t = realloc(p->b, cap);
		if (!t) {
			p->failed = 1;
			return;
		}
		p->b = t, p->cap = cap;
	}
	memcpy(p->b + p->n, s, len);
	p->n += len;
}

static void op(struct pickle *p, int code)
{
	unsigned char c = (unsigned char)code;
	bytes(p, &c, 1);
}

static void global(struct pickle *p, const char *module, const char *name)
{
	op(p, GLOBAL);
	bytes(p, module, strlen(module));
	bytes(p, "\n", 1);
	bytes(p, name, strlen(name));
	bytes(p, "\n", 1);
}

static void str(struct pickle *p, const char *s)
{
	size_t len = strlen(s);
	unsigned char h[4] = {(unsigned char)len, (unsigned char)(len >> 8), (unsigned char)(len >> 16),
			      (unsigned char)(len >> 24)};
	op(p, BINUNICODE);
	bytes(p, h, 4);
	bytes(p, s, len);
}

/* BININT when it fits a signed 32-bit int, else LONG1 (little-endian
 * two's complement, 8 bytes). */
static void integer(struct pickle *p, int64_t v)
{
	unsigned char b[8];
	if (v >= INT32_MIN && v <= INT32_MAX) {
		for (int k = 0; k < 4; k++)
			b[k] = (unsigned char)((uint64_t)v >> (8 * k));
		op(p, BININT);
		bytes(p, b, 4);
		return;
	}
	for (int k = 0; k < 8; k++)
		b[k] = (unsigned char)((uint64_t)v >> (8 * k));
	op(p, LONG1);
	op(p, 8);
	bytes(p, b, 8);
}

static void int_tuple(struct pickle *p, const int64_t *v, int n)
{
	if (!n) {
		op(p, EMPTY_TUPLE);
		return;
	}
	op(p, MARK);
	for (int i = 0; i < n; i++)
		integer(p, v[i]);
	op(p, TUPLE);
}

static void empty_ordered_dict(struct pickle *p)
{
	global(p, "collections", "OrderedDict");
	op(p, EMPTY_TUPLE);
	op(p, REDUCE);
}

/* The state_dict pickle; storage i is entry i. */
static void state_dict_pickle(struct pickle *p, const struct export_list *l)
{
	op(p, PROTO);
	op(p, 2);
	empty_ordered_dict(p);
	op(p, MARK);
	for (int i = 0; i < l->n; i++) {
		const struct export_entry *e = &l->e[i];
		int64_t stride[4], numel = 1;
		char key[16];
		for (int d = e->ndim - 1; d >= 0; d--)
			stride[d] = numel, numel *= e->shape[d];
		snprintf(key, sizeof key, "%d", i);
		str(p, e->name);
		global(p, "torch._utils", "_rebuild_tensor_v2");
		op(p, MARK);
		op(p, MARK);
		str(p, "storage");
		global(p, "torch", e->dtype == DT_I64 ? "LongStorage" : "FloatStorage");
		str(p, key);
		str(p, "cpu");
		integer(p, numel);
		op(p, TUPLE);
		op(p, BINPERSID);
		integer(p, 0);
		int_tuple(p, e->shape, e->ndim);
		int_tuple(p, stride, e->ndim);
		op(p, NEWFALSE);
		empty_ordered_dict(p);
		op(p, TUPLE);
		op(p, REDUCE);
	}
	op(p, SETITEMS);
	op(p, STOP);
}

int export_pth(const struct model *m, FILE *fp)
{
	struct export_list l;
	struct pickle p = {0};
	struct zipw z;
	char name[64];
	if (export_list_make(&l, m))
		return -1;
	state_dict_pickle(&p, &l);
	if (p.failed) {
		free(p.b);
		export_list_free(&l);
		return tf_seterr("out of memory");
	}
	zipw_open(&z, fp);
	int rc = zipw_add(&z, "archive/data.pkl", p.b, p.n);
	for (int i = 0; i < l.n && !rc; i++) {
		snprintf(name, sizeof name, "archive/data/%d", i);
		rc = zipw_add(&z, name, l.e[i].data, l.e[i].bytes);
	}
	rc = rc || zipw_add(&z, "archive/version", "3\n", 2);
	if (rc)
		zipw_free(&z);
	else
		rc = zipw_close(&z);
	free(p.b);
	export_list_free(&l);
	return rc ? -1 : 0;
}
