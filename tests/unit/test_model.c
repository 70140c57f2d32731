/* The model table and model file: parameter count of the reference default,
 * write/read round trip, and the loader's refusals. */
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "test.h"

static int roundtrip(struct model *out, const struct model *in)
{
	char path[] = "/tmp/tfswa-test-model-XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *fp = fdopen(fd, "wb");
	rc = model_write(in, fp);
	fclose(fp);
	if (!rc)
		rc = model_load(out, path);
	unlink(path);
	return rc;
}

/* Writes a model file whose tensor `victim` has its first dim changed. */
static int write_altered(const struct model *m, const char *victim, int cut, char *path)
{
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "wb");
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	config_to_frame(&m->cfg, f);
	stream_write_header(w, "model", f);
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		struct tensor t = {.dtype = DT_F32, .ndim = s->ndim, .data = m->params + s->offset,
				   .name = s->name};
		memcpy(t.shape, s->shape, sizeof s->shape);
		if (!strcmp(s->name, victim))
			t.shape[0] -= 1;
		frame_clear(f);
		frame_set_tensor(f, &t);
		stream_write_frame(w, f);
	}
	if (!cut)
		stream_write_end(w, NULL);
	stream_writer_close(w);
	frame_free(f);
	fclose(fp);
	return 0;
}

int main(void)
{
	struct unet_config c;
	struct model m, m2;
	config_default(&c);
	ok(unet_param_count(&c) == 15404834, "default configuration has %lld trainable parameters (want 15404834)",
	   (long long)unet_param_count(&c));
	ok(unet_param_specs(&c, NULL, 0) == 1103 - 11 - 52, "default table has %d tensors (1103 state_dict entries less 11 attn_mask and 52 num_batches_tracked)",
	   unet_param_specs(&c, NULL, 0));

	/* a small configuration, like the goldens */
	c.depths[0] = 1, c.depths[1] = 2, c.depths[2] = 1, c.depths[3] = 2;
	c.dims[0] = 8, c.dims[1] = 16, c.dims[2] = 24, c.dims[3] = 32;
	c.window_size = 4, c.shift_size = 2, c.num_heads = 4;
	ok(unet_param_count(&c) == 223738, "tiny-ragged configuration: %lld parameters (want 223738)",
	   (long long)unet_param_count(&c));
	ok(model_init(&m, &c) == 0, "model_init");
	for (int k = 0; k < m.nspecs; k++)
		for (size_t i = 0; i < m.specs[k].numel; i++)
			m.params[m.specs[k].offset + i] = (float)(((m.specs[k].offset + i) * 2654435761u) % 1000) / 1000.0f;
	ok(roundtrip(&m2, &m) == 0, "write and read back: %s", tf_strerror());
	ok(m2.nparams == m.nparams && !memcmp(m2.params, m.params, m.nparams * sizeof(float)) &&
	       !strcmp(m2.cfg.stems[1], "other") && m2.cfg.num_heads == 4,
	   "round trip is exact, configuration kept");
	model_free(&m2);

	char p1[] = "/tmp/tfswa-test-bad-XXXXXX";
	write_altered(&m, "encoder_stages.1.0.tsa.attn.qkv.weight", 0, p1);
	int rc = model_load(&m2, p1);
	ok(rc < 0 && strstr(tf_strerror(), "encoder_stages.1.0.tsa.attn.qkv.weight: got [47, 16], expected [48, 16]"),
	   "wrong shape refused: %s", tf_strerror());
	unlink(p1);
	char p2[] = "/tmp/tfswa-test-cut-XXXXXX";
	write_altered(&m, "", 1, p2);
	rc = model_load(&m2, p2);
	ok(rc < 0 && strstr(tf_strerror(), "truncated"), "model without end frame refused: %s", tf_strerror());
	unlink(p2);

	c.num_heads = 3;
	ok(config_validate(&c) < 0 && strstr(tf_strerror(), "num_heads"), "bad heads refused: %s", tf_strerror());
	model_free(&m);
	return test_done();
}
