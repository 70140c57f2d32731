/* The protobuf encoder (lib/export/protobuf.c) against known bytes: the
 * varint table and the examples of the protocol buffers encoding guide,
 * and small ONNX messages as python's onnx 1.12 serialises them; then the
 * ONNX writer's whole output walked field by field: every length adds up
 * (the graph's length is computed before its weights are streamed) and
 * every initializer holds as many bytes as its dims say. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/protobuf.h"
#include "test.h"

static int same_bytes(const char *what, const struct pbuf *b, const unsigned char *want, size_t n)
{
	int same = !b->failed && b->n == n && !memcmp(b->p, want, n);
	ok(same, "%s (%zu bytes, want %zu)", what, b->n, n);
	if (!same) {
		printf("#  got: ");
		for (size_t i = 0; i < b->n; i++)
			printf("%02x ", b->p[i]);
		printf("\n# want: ");
		for (size_t i = 0; i < n; i++)
			printf("%02x ", want[i]);
		printf("\n");
	}
	return same;
}

#define BYTES(...) (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__})

static void test_varints(void)
{
	static const struct {
		uint64_t v;
		unsigned char bytes[10];
		size_t n;
	} table[] = {
		{0, {0x00}, 1},
		{1, {0x01}, 1},
		{127, {0x7f}, 1},
		{128, {0x80, 0x01}, 2},
		{150, {0x96, 0x01}, 2},
		{300, {0xac, 0x02}, 2},
		{16383, {0xff, 0x7f}, 2},
		{16384, {0x80, 0x80, 0x01}, 3},
		{UINT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
		{(uint64_t)1 << 63, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 10},
		{UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
	};
	for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
		struct pbuf b = {0};
		char what[64];
		pb_varint(&b, table[i].v);
		snprintf(what, sizeof what, "varint %llu", (unsigned long long)table[i].v);
		same_bytes(what, &b, table[i].bytes, table[i].n);
		ok(pb_varint_size(table[i].v) == table[i].n, "varint size of %llu is %zu", (unsigned long long)table[i].v,
		   table[i].n);
		pb_free(&b);
	}
	/* a negative int64 is its two's complement: ten bytes */
	struct pbuf b = {0};
	pb_int(&b, 3, -1);
	same_bytes("int64 field 3 = -1", &b, BYTES(0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
	pb_free(&b);
}

/* The examples of the protocol buffers encoding guide. */
static void test_guide_examples(void)
{
	struct pbuf b = {0}, inner = {0};
	pb_int(&b, 1, 150);
	same_bytes("int32 a = 150 (field 1)", &b, BYTES(0x08, 0x96, 0x01));
	pb_free(&b);
	pb_string(&b, 2, "testing");
	same_bytes("string b = \"testing\" (field 2)", &b, BYTES(0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'));
	pb_free(&b);
	pb_int(&inner, 1, 150);
	pb_message(&b, 3, &inner);
	same_bytes("embedded message c (field 3)", &b, BYTES(0x1a, 0x03, 0x08, 0x96, 0x01));
	pb_free(&b), pb_free(&inner);
	pb_packed_int64(&b, 4, (const int64_t[]){3, 270, 86942}, 3);
	same_bytes("packed repeated d = [3, 270, 86942] (field 4)", &b,
		   BYTES(0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05));
	pb_free(&b);
	pb_float(&b, 2, 1.0f);
	same_bytes("float 1.0 (field 2, fixed32)", &b, BYTES(0x15, 0x00, 0x00, 0x80, 0x3f));
	pb_free(&b);
	pb_packed_float(&b, 4, (const float[]){1.0f, -2.0f}, 2);
	same_bytes("packed floats [1, -2] (field 4)", &b,
		   BYTES(0x22, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0));
	pb_free(&b);
	pb_int64s_le(&b, 9, (const int64_t[]){1, -2}, 2);
	same_bytes("int64s as raw little-endian bytes (field 9)", &b,
		   BYTES(0x4a, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
	pb_free(&b);
	unsigned char hdr[24];
	size_t k = pb_len_header(hdr, 7, 300);
	ok(k == 3 && hdr[0] == 0x3a && hdr[1] == 0xac && hdr[2] == 0x02, "key and length of field 7, 300 bytes");
	ok(pb_len_field_size(7, 300) == 303 && pb_len_field_size(16, 5) == 8, "length-delimited field sizes");
}

/* The same messages as python's onnx serialises them:
 * numpy_helper.from_array(np.array([1, 2], np.float32), "x"),
 * helper.make_node("Transpose", ["a"], ["b"], name="t", perm=[0, 2, 1, 3]),
 * helper.make_attribute("epsilon", 1e-5). */
static void test_onnx_messages(void)
{
	struct pbuf t = {0}, n = {0}, a = {0};
	pb_int(&t, 1, 2);
	pb_int(&t, 2, 1);
	pb_string(&t, 8, "x");
	pb_floats_le(&t, 9, (const float[]){1.0f, 2.0f}, 2);
	same_bytes("TensorProto x = [1, 2] as raw_data", &t,
		   BYTES(0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x78, 0x4a, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00,
			 0x40));
	pb_string(&n, 1, "a");
	pb_string(&n, 2, "b");
	pb_string(&n, 3, "t");
	pb_string(&n, 4, "Transpose");
	pb_string(&a, 1, "perm");
	for (int i = 0; i < 4; i++)
		pb_int(&a, 8, (int64_t[]){0, 2, 1, 3}[i]);
	pb_int(&a, 20, 7);
	pb_message(&n, 5, &a);
	same_bytes("NodeProto Transpose with perm [0, 2, 1, 3]", &n,
		   BYTES(0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x1a, 0x01, 0x74, 0x22, 0x09, 'T', 'r', 'a', 'n', 's', 'p',
			 'o', 's', 'e', 0x2a, 0x11, 0x0a, 0x04, 'p', 'e', 'r', 'm', 0x40, 0x00, 0x40, 0x02, 0x40, 0x01,
			 0x40, 0x03, 0xa0, 0x01, 0x07));
	pb_free(&a);
	pb_string(&a, 1, "epsilon");
	pb_float(&a, 2, 1e-5f);
	pb_int(&a, 20, 1);
	same_bytes("AttributeProto epsilon = 1e-5", &a,
		   BYTES(0x0a, 0x07, 'e', 'p', 's', 'i', 'l', 'o', 'n', 0x15, 0xac, 0xc5, 0x27, 0x37, 0xa0, 0x01, 0x01));
	pb_free(&t), pb_free(&n), pb_free(&a);
}

/* ---------- walking the writer's output ---------- */

struct reader {
	const unsigned char *p, *end;
	int bad;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;
	for (int s = 0; s < 64; s += 7) {
		if (r->p >= r->end) {
			r->bad = 1;
			return 0;
		}
		unsigned char c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

/* Next field: number, wire type, and for length-delimited ones the content. */
static int next_field(struct reader *r, int *field, int *wire, struct reader *sub, uint64_t *value)
{
	if (r->p >= r->end || r->bad)
		return 0;
	uint64_t key = get_varint(r);
	*field = (int)(key >> 3), *wire = (int)(key & 7);
	switch (*wire) {
	case 0: *value = get_varint(r); break;
	case 5: if (r->end - r->p < 4) r->bad = 1; else r->p += 4; break;
	case 1: if (r->end - r->p < 8) r->bad = 1; else r->p += 8; break;
	case 2: {
		uint64_t n = get_varint(r);
		if (r->bad || n > (uint64_t)(r->end - r->p)) {
			r->bad = 1;
			return 0;
		}
		*sub = (struct reader){r->p, r->p + n, 0};
		r->p += n;
		break;
	}
	default: r->bad = 1;
	}
	return !r->bad;
}

struct walk {
	int ir_version, opset, nodes, initializers, inputs, outputs, sized_right, bad;
};

static void walk_tensor(struct reader r, struct walk *w)
{
	int f, wire, dtype = 0;
	uint64_t v = 0, numel = 1, raw = UINT64_MAX;
	struct reader sub;
	while (next_field(&r, &f, &wire, &sub, &v)) {
		if (f == 1)
			numel *= v;
		else if (f == 2)
			dtype = (int)v;
		else if (f == 9)
			raw = (uint64_t)(sub.end - sub.p);
	}
	w->bad |= r.bad;
	w->initializers++;
	w->sized_right += raw == numel * (dtype == 7 ? 8 : 4);
}

static void walk_graph(struct reader r, struct walk *w)
{
	int f, wire;
	uint64_t v;
	struct reader sub;
	while (next_field(&r, &f, &wire, &sub, &v)) {
		if (f == 1)
			w->nodes++;
		else if (f == 5)
			walk_tensor(sub, w);
		else if (f == 11)
			w->inputs++;
		else if (f == 12)
			w->outputs++;
	}
	w->bad |= r.bad;
}

static void test_writer(void)
{
	struct unet_config c;
	struct model m;
	config_default(&c);
	c.in_channels = 2, c.out_channels = 2, c.channels = 1, c.nstems = 2;
	for (int s = 0; s < 4; s++)
		c.dims[s] = 8, c.depths[s] = 1;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	if (!ok(model_init(&m, &c) == 0, "tiny model"))
		return;
	for (size_t k = 0; k < m.nparams; k++)
		m.params[k] = 1.0f + (float)(k % 7) * 0.01f; /* running_var must stay positive */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = export_onnx(&m, f, (const int64_t[]){1, 2, 19, 13}, 0);
	fclose(f);
	ok(rc == 0, "export_onnx of a 19 x 13 input");
	struct reader r = {(unsigned char *)buf, (unsigned char *)buf + len, 0}, sub;
	struct walk w = {0};
	int field, wire, graphs = 0;
	uint64_t v;
	while (next_field(&r, &field, &wire, &sub, &v)) {
		if (field == 1)
			w.ir_version = (int)v;
		else if (field == 7)
			graphs++, walk_graph(sub, &w);
		else if (field == 8) {
			int f2, w2;
			uint64_t v2;
			struct reader s2;
			while (next_field(&sub, &f2, &w2, &s2, &v2))
				if (f2 == 2)
					w.opset = (int)v2;
		}
	}
	ok(!r.bad && !w.bad && r.p == r.end, "every field's length adds up to the file's %zu bytes", len);
	ok(graphs == 1 && w.ir_version == 8 && w.opset == 17, "one graph, IR version %d, opset %d", w.ir_version,
	   w.opset);
	ok(w.nodes > 100 && w.inputs == 1 && w.outputs == 1, "%d nodes, %d input, %d output", w.nodes, w.inputs,
	   w.outputs);
	ok(w.initializers > 0 && w.sized_right == w.initializers, "%d of %d initializers hold 4 (or 8) bytes per element",
	   w.sized_right, w.initializers);
	/* a shape that does not fit is refused with a message, nothing written */
	free(buf);
	buf = NULL, len = 0;
	f = open_memstream(&buf, &len);
	rc = export_onnx(&m, f, (const int64_t[]){1, 2, 7, 13}, 0);
	fclose(f);
	ok(rc == -1 && len == 0, "7 x 13 is refused before anything is written");
	free(buf);
	model_free(&m);
}

int main(void)
{
	test_varints();
	test_guide_examples();
	test_onnx_messages();
	test_writer();
	return test_done();
}
