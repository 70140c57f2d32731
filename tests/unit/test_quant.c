/* f16 and bf16 storage: the conversion rounds to nearest even, handles
 * subnormals, overflow, infinities and NaN, and round-trips every half
 * exactly; the f16 and bf16 plans keep 1-D tensors in f32 and say why; a
 * quantised model is written, read back and refused a second time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "quant.h"
#include "test.h"

static float bits_f(uint32_t b)
{
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

static void test_conversion(void)
{
	/* every half converts to a float and back unchanged (NaNs stay NaN) */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = f16_to_f32((uint16_t)h);
		uint16_t back = f32_to_f16(f);
		int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
		bad += is_nan ? !((back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h;
	}
	ok(bad == 0, "all 65536 halves round-trip through f32 (%d differ)", bad);
	/* ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 */
	ok(f32_to_f16(1.0f + 0x1p-11f) == 0x3c00 && f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02,
	   "ties round to even: 1+2^-11 -> %04x (want 3c00), 1+3*2^-11 -> %04x (want 3c02)",
	   f32_to_f16(1.0f + 0x1p-11f), f32_to_f16(1.0f + 3 * 0x1p-11f));
	ok(f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01, "just above a tie rounds up");
	/* subnormals: 2^-24 is the smallest; half of it rounds to even (0) */
	ok(f32_to_f16(0x1p-24f) == 0x0001 && f32_to_f16(0x1p-25f) == 0x0000 &&
		   f32_to_f16(3 * 0x1p-25f) == 0x0002 && f32_to_f16(-0x1p-24f) == 0x8001,
	   "subnormals: 2^-24 -> 0001, 2^-25 -> 0000, 3*2^-25 -> 0002, -2^-24 -> 8001");
	ok(f32_to_f16(65504.0f) == 0x7bff && f32_to_f16(65520.0f) == 0x7c00 && f32_to_f16(1e9f) == 0x7c00 &&
		   f32_to_f16(-INFINITY) == 0xfc00,
	   "65504 is the largest half; 65520 and beyond overflow to infinity");
	uint16_t n = f32_to_f16(bits_f(0x7fc00001));
	ok((n & 0x7c00) == 0x7c00 && (n & 0x3ff), "NaN stays NaN (%04x)", n);
	/* bf16: the top half of a float, rounded to nearest even */
	bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		uint16_t back = f32_to_bf16(bf16_to_f32((uint16_t)h));
		int is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
		bad += is_nan ? !((back & 0x7f80) == 0x7f80 && (back & 0x7f)) : back != h;
	}
	ok(bad == 0, "all 65536 bfloat16s round-trip through f32 (%d differ)", bad);
	ok(f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 && f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82 &&
		   f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81,
	   "bf16 ties round to even: 1+2^-8 -> %04x (want 3f80), 1+3*2^-8 -> %04x (want 3f82)",
	   f32_to_bf16(1.0f + 0x1p-8f), f32_to_bf16(1.0f + 3 * 0x1p-8f));
	ok(f32_to_bf16(3.4e38f) == 0x7f80 && f32_to_bf16(-INFINITY) == 0xff80,
	   "bf16: floats beyond the largest bf16 round to infinity");
}

/* The f16 or bf16 plan: weight matrices rounded (relative error at most
 * half a unit in the last place: 2^-11 for f16, 2^-8 for bf16), written,
 * read back exactly. */
static void test_plan(enum quantization type)
{
	const enum dtype want_dt = quant_traits[type].store;
	const double ulp = type == QUANT_F16 ? 0x1p-11 : 0x1p-8;
	const char *tn = quant_traits[type].name;
	struct unet_config c;
	struct model m;
	config_default(&c);
	for (int s = 0; s < 4; s++)
		c.dims[s] = 8, c.depths[s] = 1;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	if (!ok(model_init(&m, &c) == 0, "tiny model"))
		return;
	for (size_t k = 0; k < m.nparams; k++)
		m.params[k] = (float)sin((double)k) * 0.3f;
	struct quant_layer *q = calloc((size_t)m.nspecs, sizeof *q);
	int rc = quant_plan(&m, type, q);
	ok(rc == 0, "%s plan %s", tn, rc ? tf_strerror() : "");
	int mismatched = 0, worst = 0;
	for (int i = 0; i < m.nspecs; i++) {
		mismatched += (m.specs[i].ndim >= 2) != (q[i].dtype == want_dt) ||
			      (q[i].kept == NULL) != (q[i].dtype == want_dt);
		/* relative error at most half an ulp per value (|values| <= 0.3) */
		worst |= q[i].rel_rms > ulp || q[i].max_err > 0.3 * ulp;
	}
	ok(!mismatched && !worst, "weight matrices in %s within %g, 1-D tensors kept in f32 with a reason", tn, ulp);
	rc = quant_type_parse("q4");
	ok(rc < 0 && strstr(tf_strerror(), "unknown type (f16, q8, q8s, bf16)"), "unknown type refused: %s", tf_strerror());
	ok(quant_type_parse("none") < 0 && quant_type_parse("q8s") == QUANT_Q8S, "none is not a type to narrow to");
	rc = quant_plan(&m, QUANT_NONE, q);
	ok(rc < 0, "a plan to none refused: %s", tf_strerror());
	/* written, read back: the stored values are the f16 ones */
	enum dtype *dt = calloc((size_t)m.nspecs, sizeof *dt);
	for (int i = 0; i < m.nspecs; i++)
		dt[i] = q[i].dtype;
	m.cfg.quantization = type;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	rc = model_write_as(&m, f, dt);
	fclose(f);
	char path[] = "/tmp/tfswa-test-quant-XXXXXX";
	int fd = mkstemp(path);
	struct model back;
	if (ok(rc == 0 && fd >= 0 && write(fd, buf, len) == (ssize_t)len, "%s model written (%zu bytes)", tn, len)) {
		close(fd);
		rc = model_load(&back, path);
		if (ok(rc == 0, "read back %s", rc ? tf_strerror() : "")) {
			int differ = 0;
			for (int i = 0; i < m.nspecs; i++)
				for (size_t k = 0; k < m.specs[i].numel; k++) {
					float x = m.params[m.specs[i].offset + k];
					float want = dt[i] == DT_F16	? f16_to_f32(f32_to_f16(x))
						     : dt[i] == DT_BF16 ? bf16_to_f32(f32_to_bf16(x))
									: x;
					differ += back.params[back.specs[i].offset + k] != want;
				}
			ok(differ == 0 && back.cfg.quantization == type,
			   "the loaded values are exactly the rounded ones (%d differ), quantization %s", differ, tn);
			rc = quant_plan(&back, type, q);
			ok(rc < 0 && strstr(tf_strerror(), "already quantised"), "a second quantisation is refused: %s",
			   tf_strerror());
			model_free(&back);
		}
	}
	unlink(path);
	free(buf), free(q), free(dt);
	model_free(&m);
}

int main(void)
{
	test_conversion();
	test_plan(QUANT_F16);
	test_plan(QUANT_BF16);
	return test_done();
}
