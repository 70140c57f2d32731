/* Exporting (lib/export): what the writers produce reads back through our
 * own importers exactly; the zip writer's entries are aligned and carry
 * correct CRCs; the shifted-window mask has the reference's pattern. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "export/export.h"
#include "export/zipwrite.h"
#include "import/import.h"
#include "import/zip.h"
#include "test.h"

static void tiny_model(struct model *m)
{
	struct unet_config c;
	config_default(&c);
	c.in_channels = 2, c.out_channels = 2, c.channels = 1, c.nstems = 2;
	for (int s = 0; s < 4; s++)
		c.dims[s] = 8, c.depths[s] = 2;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	if (model_init(m, &c))
		return;
	struct rng r;
	rng_seed(&r, 7);
	for (size_t k = 0; k < m->nparams; k++)
		m->params[k] = (float)rng_uniform(&r) - 0.5f;
}

/* The bytes fn writes for m. */
static unsigned char *written(int (*fn)(const struct model *, FILE *), const struct model *m, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	int rc = f ? fn(m, f) : -1;
	if (f)
		fclose(f);
	if (rc) {
		free(buf);
		return NULL;
	}
	return (unsigned char *)buf;
}

/* Every model tensor of m is in w with the same values; the buffers too. */
static void same_tensors(const char *what, const struct model *m, const struct import_set *w)
{
	int missing = 0, differ = 0, masks = 0, counters = 0;
	for (int i = 0; i < m->nspecs; i++) {
		const struct import_tensor *t = import_find(w, m->specs[i].name);
		if (!t || import_numel(t) != m->specs[i].numel) {
			missing++;
			continue;
		}
		float *v = malloc(m->specs[i].numel * sizeof *v);
		import_to_f32(t, v);
		differ += memcmp(v, m->params + m->specs[i].offset, m->specs[i].numel * sizeof *v) != 0;
		free(v);
	}
	for (int i = 0; i < w->n; i++) {
		masks += strstr(w->t[i].name, ".swa.attn_mask") != NULL;
		counters += strstr(w->t[i].name, ".num_batches_tracked") != NULL;
	}
	ok(missing == 0 && differ == 0, "%s: %d model tensors read back, %d missing, %d differing", what, m->nspecs,
	   missing, differ);
	/* depth 2 in each of the 7 stages: block 1 of each is shifted */
	ok(masks == 7 && w->n == m->nspecs + masks + counters, "%s: %d attn_mask and %d num_batches_tracked buffers",
	   what, masks, counters);
}

static void test_pth(const struct model *m)
{
	size_t len;
	struct import_set w;
	struct zip z;
	unsigned char *b = written(export_pth, m, &len);
	if (!ok(b != NULL, "export_pth %s", b ? "" : tf_strerror()))
		return;
	int rc = import_pth(&w, b, len, 0);
	if (ok(rc == 0, "our importer reads the .pth %s", rc ? tf_strerror() : "")) {
		same_tensors(".pth", m, &w);
		import_set_free(&w);
	}
	/* every entry stored, CRC right, data 64-byte aligned */
	int aligned = 1, crc_ok = 1, n = 0;
	if (ok(zip_open(&z, b, len) == 0, "the .pth is a zip archive")) {
		for (size_t i = 0; i < z.n; i++) {
			const unsigned char *d;
			size_t dl;
			crc_ok &= zip_data(&z, &z.e[i], 1, &d, &dl) == 0;
			aligned &= (size_t)(d - b) % 64 == 0;
			n++;
		}
		ok(crc_ok && aligned && zip_find(&z, "archive/data.pkl") && zip_find(&z, "archive/version"),
		   "%d entries: CRCs check, data aligned to 64 bytes, data.pkl and version present", n);
		zip_close(&z);
	}
	free(b);
}

static void test_safetensors(const struct model *m)
{
	size_t len;
	struct import_set w;
	struct unet_config cfg;
	unsigned char *b = written(export_safetensors, m, &len);
	if (!ok(b != NULL, "export_safetensors %s", b ? "" : tf_strerror()))
		return;
	int rc = import_safetensors(&w, b, len);
	if (ok(rc == 0, "our importer reads the safetensors file %s", rc ? tf_strerror() : "")) {
		same_tensors("safetensors", m, &w);
		/* the settings travel in the metadata */
		rc = import_config(&cfg, &w, NULL);
		ok(rc == 0 && cfg.window_size == 4 && cfg.shift_size == 2 && cfg.num_heads == 2 &&
			   cfg.mlp_ratio == m->cfg.mlp_ratio && !strcmp(cfg.stems[1], m->cfg.stems[1]),
		   "settings from the metadata: window %d, shift %d, heads %d %s", cfg.window_size, cfg.shift_size,
		   cfg.num_heads, rc ? tf_strerror() : "");
		import_set_free(&w);
	}
	free(b);
}

static void test_mask(const struct model *m)
{
	struct export_list l;
	if (!ok(export_list_make(&l, m) == 0, "export list"))
		return;
	const struct export_entry *e = NULL;
	for (int i = 0; i < l.n && !e; i++)
		if (strstr(l.e[i].name, "attn_mask"))
			e = &l.e[i];
	/* window 4, shift 2 on a 32x32 image: window 0 is all region 0 (no
	 * mask); the last window (bottom right) has 4 regions of 4 tokens */
	const float *v = e ? e->data : NULL;
	int first_clear = 1, last_pattern = 1;
	for (int i = 0; v && i < 256; i++)
		first_clear &= v[i] == 0.0f;
	for (int i = 0; v && i < 16; i++)
		for (int j = 0; j < 16; j++) {
			int ri = (i / 4 >= 2) * 3 + (i % 4 >= 2), rj = (j / 4 >= 2) * 3 + (j % 4 >= 2);
			last_pattern &= v[63 * 256 + i * 16 + j] == (ri == rj ? 0.0f : -100.0f);
		}
	ok(e && e->ndim == 3 && e->shape[0] == 64 && e->shape[1] == 16 && first_clear && last_pattern,
	   "%s: [64, 16, 16], window 0 unmasked, the last window in Swin's four regions", e ? e->name : "attn_mask");
	export_list_free(&l);
}

int main(void)
{
	struct model m;
	tiny_model(&m);
	if (!ok(m.params != NULL, "tiny model"))
		return test_done();
	test_pth(&m);
	test_safetensors(&m);
	test_mask(&m);
	model_free(&m);
	return test_done();
}
