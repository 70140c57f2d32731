/* Importing checkpoints (lib/import): the goldens' .pth with exact values,
 * training checkpoints, safetensors equal to .pth, half precision, the
 * restricted unpickler's refusals, damaged zips, and the mapping's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "import/import.h"
#include "import/internal.h"
#include "import/json.h"
#include "import/zip.h"
#include "model.h"
#include "npy.h"
#include "test.h"

#define G "tests/data/golden/"
#define D "tests/data/import/"

static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *buf;
	if (import_read_file(path, (size_t)1 << 30, &buf, len)) {
		fprintf(stderr, "# %s\n", tf_strerror());
		return NULL;
	}
	return buf;
}

/* Loads a checkpoint into a set (the buffer is kept in *buf). */
static int load_set(struct import_set *w, const char *path, unsigned char **buf)
{
	size_t len;
	if (!(*buf = slurp(path, &len)))
		return -1;
	size_t n = strlen(path);
	if (n > 12 && !strcmp(path + n - 12, ".safetensors"))
		return import_safetensors(w, *buf, len);
	return import_pth(w, *buf, len, 0);
}

static int load_model(struct model *m, const char *path, const char *config)
{
	struct import_settings s = {0};
	if (config && import_settings_json(&s, config))
		return -1;
	return import_model_file(m, path, NULL, &s);
}

/* 1 if the last error holds want */
static int err_has(const char *want)
{
	if (strstr(tf_strerror(), want))
		return 1;
	printf("# error was: %s\n", tf_strerror());
	return 0;
}

static int ignorable(const char *name)
{
	size_t n = strlen(name);
	return (n > 20 && !strcmp(name + n - 20, ".num_batches_tracked")) ||
	       (n > 14 && !strcmp(name + n - 14, ".swa.attn_mask"));
}

/* ---------- goldens ---------- */

static void golden_case(const char *name, int want_n, unsigned want_crc)
{
	char pth[256], cfgpath[256];
	struct import_set w;
	struct import_settings s = {0};
	struct unet_config cfg;
	struct model m;
	unsigned char *buf;
	snprintf(pth, sizeof pth, G "%s/model.pth", name);
	snprintf(cfgpath, sizeof cfgpath, G "%s/config.json", name);
	int rc = load_set(&w, pth, &buf);
	if (!ok(rc == 0, "%s: import_pth %s", name, rc ? tf_strerror() : ""))
		return;
	/* the values: CRC-32 of every model tensor as f32, in file order */
	uint32_t crc = 0;
	int n = 0;
	for (int i = 0; i < w.n; i++) {
		if (ignorable(w.t[i].name))
			continue;
		size_t k = import_numel(&w.t[i]);
		float *f = malloc(k * sizeof *f + 1);
		import_to_f32(&w.t[i], f);
		/* zip_crc32 continues a CRC when given the running value inverted */
		crc = ~crc;
		for (size_t b = 0; b < k * 4; b++) {
			crc ^= ((unsigned char *)f)[b];
			for (int j = 0; j < 8; j++)
				crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
		}
		crc = ~crc;
		free(f);
		n++;
	}
	ok(n == want_n && crc == want_crc, "%s: %d model tensors, CRC-32 of their values %08x (want %d, %08x)", name,
	   n, crc, want_n, want_crc);

	/* the architecture the weights and config.json give */
	rc = import_settings_json(&s, cfgpath);
	ok(rc == 0, "%s: read config.json %s", name, rc ? tf_strerror() : "");
	/* the goldens' configs name no stems: as many as the masks need */
	if (s.c.out_channels != 2 * (s.c.in_channels / 2))
		import_settings_stems(&s, s.c.out_channels / (s.c.in_channels / 2) == 4 ? "drums,bass,other,vocals" : "a");
	rc = import_config(&cfg, &w, &s);
	if (!ok(rc == 0, "%s: configuration %s", name, rc ? tf_strerror() : ""))
		goto out;
	ok(cfg.in_channels == s.c.in_channels && cfg.out_channels == s.c.out_channels &&
	       !memcmp(cfg.depths, s.c.depths, sizeof cfg.depths) && !memcmp(cfg.dims, s.c.dims, sizeof cfg.dims) &&
	       cfg.num_heads == s.c.num_heads && cfg.window_size == s.c.window_size,
	   "%s: architecture in %d out %d depths %d,%d,%d,%d dims %d,%d,%d,%d heads %d window %d", name,
	   cfg.in_channels, cfg.out_channels, cfg.depths[0], cfg.depths[1], cfg.depths[2], cfg.depths[3],
	   cfg.dims[0], cfg.dims[1], cfg.dims[2], cfg.dims[3], cfg.num_heads, cfg.window_size);

	/* params from config.json */
	unsigned char *jb;
	size_t jl;
	struct json *j;
	int64_t want_params = -1;
	if ((jb = slurp(cfgpath, &jl)) && !json_parse(&j, (char *)jb, jl)) {
		const struct json *p = json_get(j, "params");
		if (p && p->is_int)
			want_params = p->i;
		json_free(j);
	}
	free(jb);
	ok(unet_param_count(&cfg) == want_params, "%s: %lld parameters (config.json: %lld)", name,
	   (long long)unet_param_count(&cfg), (long long)want_params);

	/* every tensor lands in the model exactly */
	rc = import_model(&m, &w, &cfg);
	if (!ok(rc == 0, "%s: import_model %s", name, rc ? tf_strerror() : ""))
		goto out;
	int same = 1;
	for (int i = 0; i < m.nspecs && same; i++) {
		const struct import_tensor *t = import_find(&w, m.specs[i].name);
		float *f = malloc(m.specs[i].numel * sizeof *f + 1);
		same = t && import_to_f32(t, f) == 0 &&
		       !memcmp(f, m.params + m.specs[i].offset, m.specs[i].numel * sizeof *f);
		if (!same)
			printf("# differs: %s\n", m.specs[i].name);
		free(f);
	}
	ok(same, "%s: all %d model tensors equal the checkpoint's", name, m.nspecs);
	model_free(&m);

	/* the window size told by attn_mask refuses a wrong --window-size */
	struct import_settings bad = s;
	bad.c.window_size = s.c.window_size * 2;
	if (w.n && import_find(&w, "encoder_stages.0.1.swa.attn_mask"))
		ok(import_config(&cfg, &w, &bad) < 0 && err_has("attn_mask is for"),
		   "%s: window_size %d against the attn_mask refused", name, bad.c.window_size);
out:
	import_set_free(&w);
	free(buf);
}

static void goldens(void)
{
	FILE *f = fopen(D "golden.txt", "r");
	char name[64];
	int n;
	unsigned crc;
	if (!ok(f != NULL, "read " D "golden.txt"))
		return;
	while (fscanf(f, "%63s %d %x", name, &n, &crc) == 3)
		golden_case(name, n, crc);
	fclose(f);
}

/* ---------- the small fixtures ---------- */

static int models_equal(const struct model *a, const struct model *b)
{
	return a->nparams == b->nparams && !memcmp(a->params, b->params, a->nparams * sizeof(float)) &&
	       !memcmp(&a->cfg, &b->cfg, sizeof a->cfg);
}

static void check_npy(const struct model *m, const char *name)
{
	char path[256];
	struct npy a;
	snprintf(path, sizeof path, D "small-%s.npy", name);
	float *want = npy_load_f32(path, &a);
	const struct param_spec *s = model_spec(m, name);
	if (!ok(want && s && a.numel == s->numel, "%s: .npy dump read", name))
		return;
	ok(!memcmp(want, m->params + s->offset, s->numel * sizeof *want), "%s equals its .npy dump exactly", name);
	free(a.data);
}

static void small(void)
{
	struct model ref, m;
	struct import_set w;
	struct import_arch a;
	unsigned char *buf;

	int rc = load_set(&w, D "small.pth", &buf);
	if (!ok(rc == 0, "small.pth imports %s", rc ? tf_strerror() : ""))
		return;
	const struct import_tensor *t = import_find(&w, "output_head.0.weight");
	ok(t && !t->contiguous, "output_head.0.weight is a non-contiguous view");
	t = import_find(&w, "encoder_stages.0.0.swa.attn.qkv.weight");
	const struct import_tensor *t0 = import_find(&w, "encoder_stages.0.0.tsa.attn.qkv.weight");
	ok(t && t0 && t->data - t0->data == 2 * 6 * 2 * 4, "qkv weights are views at offsets into one storage");
	rc = import_infer_arch(&w, &a);
	ok(rc == 0 && a.in_channels == 4 && a.out_channels == 4 && a.depths[0] == 1 &&
	       a.depths[3] == 2 && a.dims[0] == 2 && a.dims[3] == 4 && a.mlp_hidden[0] == 4 && a.mlp_hidden[3] == 8,
	   "architecture inferred: in %d out %d depths %d..%d dims %d..%d mlp %d..%d", a.in_channels, a.out_channels,
	   a.depths[0], a.depths[3], a.dims[0], a.dims[3], a.mlp_hidden[0], a.mlp_hidden[3]);
	ok(!strcmp(w.source, "state_dict") && !strcmp(w.format, "pth"), "source %s, format %s", w.source, w.format);
	import_set_free(&w);
	free(buf);

	rc = load_model(&ref, D "small.pth", D "small.json");
	if (!ok(rc == 0, "small.pth -> model %s", rc ? tf_strerror() : ""))
		return;
	check_npy(&ref, "output_head.0.weight");
	check_npy(&ref, "bottleneck.1.fsa.attn.qkv.weight");
	ok(ref.cfg.channels == 2 && ref.cfg.nstems == 2 && !strcmp(ref.cfg.stems[0], "vocals") &&
	       ref.cfg.window_size == 4 && ref.cfg.shift_size == 2 && ref.cfg.mlp_ratio == 2.0,
	   "small: channels 2, stems vocals,other, window 4, shift 2, mlp_ratio 2");

	rc = load_model(&m, D "small.safetensors", D "small.json");
	ok(rc == 0, "small.safetensors -> model %s", rc ? tf_strerror() : "");
	ok(models_equal(&m, &ref), "safetensors import equals the .pth import exactly");
	model_free(&m);

	rc = load_model(&m, D "ckpt.pt", D "small.json");
	ok(rc == 0, "training checkpoint ckpt.pt -> model %s", rc ? tf_strerror() : "");
	ok(models_equal(&m, &ref), "the checkpoint's model_state_dict equals the bare state_dict");
	model_free(&m);
	if (load_set(&w, D "ckpt.pt", &buf) == 0)
		ok(!strcmp(w.source, "model_state_dict"), "ckpt.pt: tensors found in %s", w.source);
	import_set_free(&w);
	free(buf);

	/* half precision: the f32 values rounded */
	struct model r16;
	model_init(&r16, &ref.cfg);
	for (size_t i = 0; i < ref.nparams; i++)
		r16.params[i] = f16_to_f32(f32_to_f16(ref.params[i]));
	rc = load_model(&m, D "small-f16-p4.pth", D "small.json");
	ok(rc == 0, "float16, pickle protocol 4 -> model %s", rc ? tf_strerror() : "");
	ok(models_equal(&m, &r16), "float16 import equals the f32 values rounded to f16");
	model_free(&m);
	for (size_t i = 0; i < ref.nparams; i++)
		r16.params[i] = bf16_to_f32(f32_to_bf16(ref.params[i]));
	rc = load_model(&m, D "small-bf16.safetensors", D "small.json");
	ok(rc == 0, "bfloat16 safetensors -> model %s", rc ? tf_strerror() : "");
	ok(models_equal(&m, &r16), "bfloat16 import equals the f32 values rounded to bf16");
	model_free(&m);
	model_free(&r16);

	/* nn.Parameter values under a 'state_dict' key with a 'module.' prefix */
	rc = load_set(&w, D "ckpt-module.pt", &buf);
	if (ok(rc == 0, "ckpt-module.pt imports %s", rc ? tf_strerror() : "")) {
		const struct import_tensor *b = import_find(&w, "b.weight"), *h = import_find(&w, "c.half");
		float f[6], want[6] = {0, 2, 4, 1, 3, 5}, hf[2];
		ok(w.n == 4 && b && h && !strcmp(w.source, "state_dict"), "prefix module. removed, 4 tensors in %s",
		   w.source);
		ok(b && b->ndim == 2 && b->shape[0] == 2 && b->shape[1] == 3 && !import_to_f32(b, f) &&
		       !memcmp(f, want, sizeof f),
		   "a transposed parameter reads in logical order");
		ok(h && h->dtype == DT_F16 && !import_to_f32(h, hf) && hf[0] == 1.5f && hf[1] == -2.0f,
		   "a float16 tensor converts");
	}
	import_set_free(&w);
	free(buf);

	/* the mapping's errors: missing, unexpected, wrong shape, stems, mlp_ratio */
	struct import_settings s = {0};
	struct unet_config cfg;
	import_settings_json(&s, D "small.json");
	if (load_set(&w, D "small.pth", &buf) == 0) {
		struct import_set w2 = {0};
		struct import_tensor extra = w.t[0];
		for (int i = 0; i < w.n; i++)
			if (strcmp(w.t[i].name, "output_head.1.running_var"))
				import_set_add(&w2, w.t[i].name, strlen(w.t[i].name), &w.t[i]);
		import_set_finish(&w2);
		ok(import_config(&cfg, &w2, &s) == 0 && import_model(&m, &w2, &cfg) < 0 &&
		       err_has("missing tensor output_head.1.running_var"),
		   "a missing tensor is named");
		import_set_free(&w2);
		for (int i = 0; i < w.n; i++)
			import_set_add(&w2, w.t[i].name, strlen(w.t[i].name), &w.t[i]);
		import_set_add(&w2, "encoder_stages.0.0.extra.weight", 31, &extra);
		import_set_finish(&w2);
		ok(import_config(&cfg, &w2, &s) == 0 && import_model(&m, &w2, &cfg) < 0 &&
		       err_has("unexpected tensor encoder_stages.0.0.extra.weight"),
		   "an unexpected tensor is named");
		import_set_free(&w2);
		for (int i = 0; i < w.n; i++) {
			struct import_tensor x = w.t[i];
			if (!strcmp(x.name, "encoder_stages.0.0.tsa.attn.qkv.weight"))
				x.shape[1] = 1;
			import_set_add(&w2, x.name, strlen(x.name), &x);
		}
		import_set_finish(&w2);
		ok(import_config(&cfg, &w2, &s) == 0 && import_model(&m, &w2, &cfg) < 0 &&
		       err_has("encoder_stages.0.0.tsa.attn.qkv.weight: got [6, 1], expected [6, 2]"),
		   "a wrong shape says got [..], expected [..]");
		import_set_free(&w2);
		for (int i = 0; i < w.n; i++)
			if (strcmp(w.t[i].name, "encoder_stages.0.0.input_proj.0.weight"))
				import_set_add(&w2, w.t[i].name, strlen(w.t[i].name), &w.t[i]);
		import_set_finish(&w2);
		ok(import_config(&cfg, &w2, &s) < 0 &&
		       err_has("decoder_stages.2 has 1 blocks but encoder_stages.0 has 0"),
		   "encoder and decoder block counts must mirror");
		import_set_free(&w2);
		struct import_settings sd = s;
		sd.c.depths[3] = 1;
		ok(import_config(&cfg, &w, &sd) < 0 &&
		       err_has("the config gives depths [1, 1, 1, 1], but the weights have [1, 1, 1, 2]"),
		   "depths counted from the blocks, checked against the config");

		struct import_settings st = s;
		import_settings_stems(&st, "drums,bass,other,vocals");
		ok(import_config(&cfg, &w, &st) < 0 && err_has("4 stems (drums,bass,other,vocals) x 2 audio channels make 8: give 2 stem names"),
		   "a stems count that does not fit out_channels is explained");
		st = s;
		st.c.mlp_ratio = 4;
		ok(import_config(&cfg, &w, &st) < 0 && err_has("mlp_ratio should be 2"), "a wrong mlp_ratio is explained");
		st = s;
		st.c.channels = 1, st.set |= SET_CHANNELS;
		ok(import_config(&cfg, &w, &st) < 0 && err_has("need in_channels 2"), "a wrong channel count is explained");
		st = s;
		st.c.dims[2] = 8;
		ok(import_config(&cfg, &w, &st) < 0 && err_has("the config gives dims [2, 4, 8, 4], but the weights have [2, 4, 4, 4]"),
		   "config dims against the weights");
		ok(import_config(&cfg, &w, NULL) < 0 && err_has("default num_heads 8 does not divide"),
		   "default num_heads that cannot fit is explained");
	}
	import_set_free(&w);
	free(buf);
	model_free(&ref);
}

/* ---------- refusals ---------- */

static void refuse(const char *file, const char *want)
{
	struct import_set w;
	unsigned char *buf;
	int rc = load_set(&w, file, &buf);
	ok(rc < 0 && err_has(want), "%s refused: %s", file, rc < 0 ? tf_strerror() : "(accepted!)");
	if (!rc)
		import_set_free(&w);
	free(buf);
}

static int try_pth(const unsigned char *buf, size_t len);

static void refusals(void)
{
	struct import_set w0;
	refuse(D "evil-system.pth", "refusing pickle global posix.system");
	refuse(D "evil-eval.pth", "refusing pickle global __builtin__.eval");
	refuse(D "module.pth", "torch.nn.modules.linear.Linear");
	refuse(D "scripted.pt", "TorchScript");
	refuse(D "deflate.pth", "compressed (deflate)");
	refuse(D "small.json", "not a zip archive");
	size_t len;
	unsigned char *buf = slurp(D "small.safetensors", &len);
	ok(buf && try_pth(buf, len) < 0 && err_has("safetensors file, not a torch.save"),
	   "a safetensors file given as .pth is recognised");
	free(buf);
	buf = slurp(D "small.pth", &len);
	ok(buf && import_safetensors(&w0, buf, len) < 0 && err_has("zip archive (a torch.save .pth?)"),
	   "a .pth given as safetensors is recognised");
	free(buf);
	FILE *f = fopen("/tmp/tfswa-pwned", "r");
	ok(!f, "nothing was executed (no /tmp/tfswa-pwned)");
	if (f)
		fclose(f);
}

/* ---------- telling a legacy torch.save file by its first bytes ---------- */

static void legacy_detection(void)
{
	size_t len;
	unsigned char *buf = slurp(D "legacy.pth", &len);
	ok(buf && len > 16 && pth_is_legacy(buf, 16) && !strcmp(model_file_format(buf, 16), "pth"),
	   "legacy.pth (torch, protocol 2) is told from its first 16 bytes");
	ok(buf && !pth_is_legacy(buf, 6) && !model_file_format(buf, 6), "6 bytes are too few to tell");
	free(buf);
	/* pickle_protocol=4: PROTO 4, FRAME of 13 bytes, then the same LONG1 (as Python 3 pickles it) */
	static const unsigned char p4[] = {0x80, 0x04, 0x95, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c};
	ok(pth_is_legacy(p4, sizeof p4), "a protocol-4 legacy file (after a FRAME) is told too");
	unsigned char other[sizeof p4];
	memcpy(other, p4, sizeof p4);
	other[15] ^= 1;
	ok(!pth_is_legacy(other, sizeof other), "one byte of the magic number changed: not legacy");
	static const unsigned char bare[] = {0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x01, 0, 0, 0, 0x61, 0x4b, 0x01, 0x75, 0x2e};
	ok(!pth_is_legacy(bare, sizeof bare) && !model_file_format(bare, sizeof bare), "a bare pickled dict: not legacy");
	static const unsigned char p1[] = {0x80, 0x01, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46};
	ok(!pth_is_legacy(p1, sizeof p1), "protocol 1 (torch never writes it): not legacy");
}

/* legacy.pth: torch's {"a": torch.ones(2)}, five pickles and the storage */
static int try_legacy(const unsigned char *orig, size_t len, size_t at, unsigned char was, unsigned char now,
		      const char *want, const char *what)
{
	struct import_set w;
	unsigned char *b = malloc(len ? len : 1);
	memcpy(b, orig, len);
	if (at < len) {
		if (b[at] != was) {
			free(b);
			return ok(0, "legacy.pth %s: byte 0x%zx is 0x%02x, not 0x%02x", what, at, orig[at], was);
		}
		b[at] = now;
	}
	int rc = import_pth(&w, b, len, 0);
	ok(rc < 0 && err_has(want), "legacy.pth %s: refused (%s)", what, rc < 0 ? tf_strerror() : "accepted!");
	if (!rc)
		import_set_free(&w);
	free(b);
	return rc;
}

static void legacy_read(void)
{
	struct import_set w;
	size_t len;
	unsigned char *buf = slurp(D "legacy.pth", &len);
	int rc = buf ? import_pth(&w, buf, len, 0) : -1;
	ok(!rc, "legacy.pth reads: %s", rc ? tf_strerror() : "ok");
	if (!rc) {
		float a[2];
		if (w.n == 1)
			memcpy(a, w.t[0].data, sizeof a);
		ok(w.n == 1 && !strcmp(w.t[0].name, "a") && w.t[0].dtype == DT_F32 && w.t[0].ndim == 1 &&
		       w.t[0].shape[0] == 2 && w.t[0].contiguous && a[0] == 1 && a[1] == 1 &&
		       !strcmp(w.format, "legacy pth"),
		   "its one tensor: a, f32 [2], ones, the last 8 bytes of the file");
		import_set_free(&w);
	}
	/* every cut is refused (never a short result); so is a byte too many */
	int cuts = 0;
	for (size_t n = 0; buf && n < len; n++) {
		if (import_pth(&w, buf, n, 0) < 0)
			cuts++;
		else
			import_set_free(&w);
	}
	ok(buf && cuts == (int)len, "every one of its %zu cuts is refused (%d were)", len, cuts);
	unsigned char *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	try_legacy(longer, len + 1, len + 1, 0, 0, "1 byte after the last storage", "with a byte after it");
	free(longer);
	/* the bytes below are legacy.pth's (try_legacy checks them first) */
	try_legacy(buf, len, 0x12, 0xe9, 0xea, "protocol version is not 1001", "protocol version 1002");
	try_legacy(buf, len, 0x49, 0x88, 0x89, "big-endian", "big-endian");
	try_legacy(buf, len, 0xf3, 'N', ')', "a view of another storage", "storage view");
	try_legacy(buf, len, 0x13b, 2, 1, "holds 1 elements, fewer than 2", "storage of 1 element for 2");
	try_legacy(buf, len, 0x13b, 2, 3, "truncated file?", "storage of 3 elements in the bytes of 2");
	try_legacy(buf, len, 0xe4, '0', '1', "storage key 0 is none of the object's storages", "another key");
	free(buf);
}

/* ---------- damaged zips ---------- */

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
	p[3] = (unsigned char)(v >> 24);
}

static int try_pth(const unsigned char *buf, size_t len)
{
	struct import_set w;
	if (import_pth(&w, buf, len, 0))
		return -1;
	import_set_free(&w);
	return 0;
}

static void damaged(void)
{
	size_t len;
	unsigned char *buf = slurp(D "small.pth", &len), *c;
	if (!ok(buf != NULL, "read small.pth"))
		return;
	/* truncated anywhere: a clean error, never a crash */
	size_t cuts[] = {0, 1, 21, 22, 100, len / 3, len / 2, len - 23, len - 22, len - 1};
	int all = 1;
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		c = malloc(cuts[i] + 1);
		memcpy(c, buf, cuts[i]);
		if (try_pth(c, cuts[i]) == 0 || !*tf_strerror()) {
			printf("# cut at %zu accepted\n", cuts[i]);
			all = 0;
		}
		free(c);
	}
	ok(all, "small.pth truncated at 10 places: refused every time");
	/* a cut inside the data: the end record is gone */
	ok(try_pth(buf, len - 1000) < 0 && err_has("not a zip archive"), "truncated archive: %s", tf_strerror());

	/* the end record and its central directory offset */
	size_t end = len - 22;
	ok(rd32(buf + end) == 0x06054b50, "end of central directory record found");
	/* torch writes a ZIP64 end record (and its locator) even for small files */
	size_t z64 = 0, cd;
	if (ok(rd32(buf + end - 20) == 0x07064b50, "ZIP64 locator found"))
		z64 = rd32(buf + end - 20 + 8);
	c = malloc(len);
	memcpy(c, buf, len);
	wr32(c + z64 + 48, rd32(buf + z64 + 48) + 100000);
	ok(try_pth(c, len) < 0 && err_has("lies outside"), "central directory offset past the end refused");
	memcpy(c, buf, len);
	wr32(c + z64 + 40, 0xFFFFFFF0u);
	ok(try_pth(c, len) < 0 && err_has("lies outside"), "central directory size past the end refused");
	memcpy(c, buf, len);
	wr32(c + z64 + 32, 0x7FFFFFFF);
	ok(try_pth(c, len) < 0 && err_has("entries cannot fit"), "an entry count too large for the directory refused");
	memcpy(c, buf, len);
	wr32(c + end - 20 + 8, (uint32_t)len);
	ok(try_pth(c, len) < 0 && err_has("ZIP64 end of central directory out of bounds"),
	   "ZIP64 record offset past the end refused");
	/* a local header offset in the first central directory entry */
	cd = rd32(buf + z64 + 48);
	memcpy(c, buf, len);
	wr32(c + cd + 42, (uint32_t)len + 5);
	ok(try_pth(c, len) < 0 && err_has("out of bounds"), "local header offset past the end refused");
	/* a compressed size that runs past the end */
	memcpy(c, buf, len);
	wr32(c + cd + 20, 0x7FFFFFFF);
	wr32(c + cd + 24, 0x7FFFFFFF);
	ok(try_pth(c, len) < 0 && err_has("run past the end"), "entry size past the end refused");
	/* a flipped byte in the pickle: CRC */
	memcpy(c, buf, len);
	c[rd32(buf + cd + 42) + 30 + (buf[rd32(buf + cd + 42) + 26] | buf[rd32(buf + cd + 42) + 27] << 8) +
	  (buf[rd32(buf + cd + 42) + 28] | buf[rd32(buf + cd + 42) + 29] << 8) + 40] ^= 0x20;
	ok(try_pth(c, len) < 0 && err_has("CRC-32 mismatch"), "a damaged entry fails its CRC check");
	free(c);
	free(buf);
}

/* ---------- hand-made pickles in a hand-made zip ---------- */

struct bytes {
	unsigned char b[8192];
	size_t n;
};

static void put(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n <= sizeof b->b)
		memcpy(b->b + b->n, p, n);
	b->n += n;
}
static void op(struct bytes *b, int c)
{
	unsigned char x = (unsigned char)c;
	put(b, &x, 1);
}
static void u32(struct bytes *b, uint32_t v)
{
	unsigned char x[4];
	wr32(x, v);
	put(b, x, 4);
}
static void u16(struct bytes *b, unsigned v)
{
	op(b, (int)(v & 0xFF)), op(b, (int)(v >> 8));
}
static void ustr(struct bytes *b, const char *s)
{
	op(b, 'X'), u32(b, (uint32_t)strlen(s)), put(b, s, strlen(s));
}
static void glob(struct bytes *b, const char *mod, const char *name)
{
	op(b, 'c'), put(b, mod, strlen(mod)), op(b, '\n'), put(b, name, strlen(name)), op(b, '\n');
}
static void k1(struct bytes *b, int v)
{
	op(b, 'K'), op(b, v);
}

/* A stored zip of data.pkl and data/0 (storage bytes) under "t/". */
static size_t make_zip(unsigned char *out, const struct bytes *pkl, const void *storage, size_t slen)
{
	struct bytes z = {{0}, 0};
	const char *names[2] = {"t/data.pkl", "t/data/0"};
	const void *data[2] = {pkl->b, storage};
	size_t lens[2] = {pkl->n, slen}, offs[2];
	for (int i = 0; i < 2; i++) {
		offs[i] = z.n;
		u32(&z, 0x04034b50), u16(&z, 20), u16(&z, 0), u16(&z, 0), u32(&z, 0);
		u32(&z, zip_crc32(data[i], lens[i])), u32(&z, (uint32_t)lens[i]), u32(&z, (uint32_t)lens[i]);
		u16(&z, (unsigned)strlen(names[i])), u16(&z, 0);
		put(&z, names[i], strlen(names[i])), put(&z, data[i], lens[i]);
	}
	size_t cd = z.n;
	for (int i = 0; i < 2; i++) {
		u32(&z, 0x02014b50), u16(&z, 20), u16(&z, 20), u16(&z, 0), u16(&z, 0), u32(&z, 0);
		u32(&z, zip_crc32(data[i], lens[i])), u32(&z, (uint32_t)lens[i]), u32(&z, (uint32_t)lens[i]);
		u16(&z, (unsigned)strlen(names[i])), u16(&z, 0), u16(&z, 0), u16(&z, 0), u16(&z, 0), u32(&z, 0);
		u32(&z, (uint32_t)offs[i]);
		put(&z, names[i], strlen(names[i]));
	}
	size_t cdlen = z.n - cd;
	u32(&z, 0x06054b50), u16(&z, 0), u16(&z, 0), u16(&z, 2), u16(&z, 2), u32(&z, (uint32_t)cdlen);
	u32(&z, (uint32_t)cd), u16(&z, 0);
	memcpy(out, z.b, z.n);
	return z.n;
}

/* {"w": _rebuild_tensor_v2(storage(numel), offset, (2, 2), stride, False, ())} */
static void tensor_pickle(struct bytes *b, int numel, int offset, int s0, int s1)
{
	op(b, 0x80), op(b, 2), op(b, '}'), op(b, '('), ustr(b, "w");
	glob(b, "torch._utils", "_rebuild_tensor_v2");
	op(b, '('), op(b, '('), ustr(b, "storage"), glob(b, "torch", "FloatStorage"), ustr(b, "0"), ustr(b, "cpu");
	k1(b, numel), op(b, 't'), op(b, 'Q');
	k1(b, offset), k1(b, 2), k1(b, 2), op(b, 0x86), k1(b, s0), k1(b, s1), op(b, 0x86), op(b, 0x89), op(b, ')');
	op(b, 't'), op(b, 'R'), op(b, 'u'), op(b, '.');
}

static int run_pickle(const struct bytes *pkl, struct import_set *w)
{
	static unsigned char zip[16384];
	float storage[4] = {1, 2, 3, 4};
	size_t n = make_zip(zip, pkl, storage, sizeof storage);
	return import_pth(w, zip, n, 0);
}

static void pickles(void)
{
	struct import_set w;
	struct bytes b;
	float f[4];

	b.n = 0, tensor_pickle(&b, 4, 0, 2, 1);
	int rc = run_pickle(&b, &w);
	ok(rc == 0 && w.n == 1 && !strcmp(w.t[0].name, "w") && !import_to_f32(&w.t[0], f) && f[0] == 1 && f[3] == 4,
	   "hand-made pickle: a 2x2 tensor %s", rc ? tf_strerror() : "");
	if (!rc)
		import_set_free(&w);
	b.n = 0, tensor_pickle(&b, 4, 0, 1, 2);
	rc = run_pickle(&b, &w);
	ok(rc == 0 && !w.t[0].contiguous && !import_to_f32(&w.t[0], f) && f[0] == 1 && f[1] == 3 && f[2] == 2 &&
	       f[3] == 4,
	   "strides (1, 2): the transpose");
	if (!rc)
		import_set_free(&w);
	b.n = 0, tensor_pickle(&b, 4, 1, 2, 1);
	ok(run_pickle(&b, &w) < 0 && err_has("reaches element 4 of a 4-element storage"),
	   "a view past the end of its storage is refused");
	b.n = 0, tensor_pickle(&b, 4, 0, 3, 1);
	ok(run_pickle(&b, &w) < 0 && err_has("reaches element"), "strides past the end are refused");
	b.n = 0, tensor_pickle(&b, 8, 0, 2, 1);
	ok(run_pickle(&b, &w) < 0 && err_has("too few for 8"), "a storage longer than its entry is refused");

	/* foreign globals, by GLOBAL and by STACK_GLOBAL */
	b.n = 0, op(&b, 0x80), op(&b, 2), glob(&b, "os", "system"), ustr(&b, "true"), op(&b, 0x85), op(&b, 'R'),
	op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("refusing pickle global os.system"), "os.system refused");
	b.n = 0, op(&b, 0x80), op(&b, 4), op(&b, 0x8c), op(&b, 10), put(&b, "subprocess", 10), op(&b, 0x8c), op(&b, 5),
	put(&b, "Popen", 5), op(&b, 0x93), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("refusing pickle global subprocess.Popen"),
	   "subprocess.Popen by STACK_GLOBAL refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), glob(&b, "torch", "QInt8Storage"), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("unsupported tensor storage type torch.QInt8Storage"),
	   "quantized storage refused");

	/* opcodes */
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 0xFF);
	ok(run_pickle(&b, &w) < 0 && err_has("unknown opcode 0xff"), "unknown opcode refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, '('), op(&b, 'i'), put(&b, "os\nsystem\n", 10), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("opcode INST is not allowed"), "INST refused by name");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 0x82), op(&b, 1), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("EXT1"), "EXT1 refused by name");
	b.n = 0, op(&b, 0x80), op(&b, 2);
	for (int i = 0; i < 1001; i++)
		op(&b, '(');
	ok(run_pickle(&b, &w) < 0 && err_has("nested deeper than 1000"), "nesting is bounded");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 'h'), op(&b, 5), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("memo index 5 was never set"), "reading an unset memo refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 'N'), op(&b, 'r'), u32(&b, 0xFFFFFFF0u), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("memo index 4294967280 is out of range"), "the memo is bounded");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 't');
	ok(run_pickle(&b, &w) < 0 && err_has("no MARK"), "TUPLE without MARK refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 'R');
	ok(run_pickle(&b, &w) < 0 && err_has("stack underflow"), "stack underflow refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), ustr(&b, "x"), op(&b, ')'), op(&b, 'R'), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("REDUCE of a str"), "calling a non-global refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, '}');
	ok(run_pickle(&b, &w) < 0 && err_has("without STOP"), "a pickle without STOP refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, 'X'), u32(&b, 1000), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("runs past the end"), "a string past the end refused");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, ']'), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("holds a list, not a state_dict"), "a list is not a state_dict");
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, '}'), ustr(&b, "epoch"), k1(&b, 3), op(&b, 's'), op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("no state_dict in the checkpoint: a dict with 1 keys (epoch)"),
	   "a dict without tensors is explained");
	/* integers of every width, floats, bools, None, bytes, lists, sets in a checkpoint dict */
	b.n = 0, op(&b, 0x80), op(&b, 2), op(&b, '}'), op(&b, '('), ustr(&b, "i"), op(&b, 'J'), u32(&b, 0xFFFFFFFFu);
	ustr(&b, "l"), op(&b, 0x8a), op(&b, 9), put(&b, "\1\2\3\4\5\6\7\x80\xff", 9);
	ustr(&b, "f"), op(&b, 'G'), put(&b, "\x3f\xf8\0\0\0\0\0\0", 8);
	ustr(&b, "n"), op(&b, 'N'), ustr(&b, "t"), op(&b, 0x88);
	ustr(&b, "b"), op(&b, 'C'), op(&b, 2), put(&b, "ab", 2);
	ustr(&b, "li"), op(&b, ']'), op(&b, '('), k1(&b, 1), k1(&b, 2), op(&b, 'e'), k1(&b, 3), op(&b, 'a');
	ustr(&b, "s"), op(&b, 0x8f), op(&b, '('), k1(&b, 1), op(&b, 0x90);
	op(&b, 'u'), op(&b, 'q'), op(&b, 0);
	op(&b, '.');
	ok(run_pickle(&b, &w) < 0 && err_has("a dict with 8 keys (i, l, f, n, t, b, li, s)"),
	   "the plain data opcodes all parse");
}

/* ---------- safetensors and JSON ---------- */

static int try_st(const char *header, const void *data, size_t dlen, struct import_set *w)
{
	static unsigned char buf[4096];
	size_t h = strlen(header);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
	memcpy(buf + 8, header, h);
	memcpy(buf + 8 + h, data, dlen);
	int rc = import_safetensors(w, buf, 8 + h + dlen);
	if (!rc)
		import_set_free(w);
	return rc;
}

static void safetensors(void)
{
	struct import_set w;
	float d[4] = {1, 2, 3, 4};
	int rc = try_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"__metadata__\":{\"x\":\"y\"}}",
			d, 16, &w);
	ok(rc == 0, "a minimal safetensors file %s", rc ? tf_strerror() : "");
	ok(try_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,20]}}", d, 16, &w) < 0 &&
		   err_has("lie outside"),
	   "offsets past the data refused");
	ok(try_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", d, 16, &w) < 0 &&
		   err_has("16 data bytes for shape [2, 3]"),
	   "a size that does not fit the shape refused");
	ok(try_st("{\"a\":{\"dtype\":\"U32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16, &w) < 0 &&
		   err_has("dtype U32, which is not supported"),
	   "an unsupported dtype named");
	ok(try_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
		  "\"data_offsets\":[0,16]}}",
		  d, 16, &w) < 0 &&
		   err_has("appears twice"),
	   "a name given twice refused");
	ok(try_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", d, 16, &w) < 0 &&
		   err_has("JSON at byte"),
	   "a broken header refused with its position");
	unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{'};
	ok(import_safetensors(&w, big, sizeof big) < 0 && err_has("not a safetensors file (header length"),
	   "a huge header length refused");
	unsigned char cut[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{'};
	ok(import_safetensors(&w, cut, sizeof cut) < 0 && err_has("runs past the end"), "a truncated header refused");

	struct json *j;
	const char *text = "{\"a\": [1, -2.5e3, \"\\u00e9\\ud834\\udd1e\", true, null]}";
	ok(json_parse(&j, text, strlen(text)) == 0 &&
		   json_get(j, "a")->n == 5 && json_get(j, "a")->items[1].num == -2500 &&
		   !strcmp(json_get(j, "a")->items[2].str, "\xc3\xa9\xf0\x9d\x84\x9e"),
	   "JSON: numbers, escapes, surrogate pairs");
	json_free(j);
	ok(json_parse(&j, "[1,]", 4) < 0 && json_parse(&j, "01", 2) < 0 && json_parse(&j, "\"\\ud834\"", 8) < 0 &&
		   json_parse(&j, "{} x", 4) < 0,
	   "JSON: trailing comma, leading zero, lone surrogate, trailing text refused");
	char deep[200];
	memset(deep, '[', sizeof deep);
	ok(json_parse(&j, deep, sizeof deep) < 0 && err_has("nested too deeply"), "JSON nesting bounded");

	struct import_settings s = {0};
	const char *cfg = "{\"num_heads\": 2, \"stems\": \"a,b\", \"mlp_ratio\": 2, \"input_shape\": [1]}";
	ok(import_settings_json_text(&s, cfg, strlen(cfg)) == 0 && s.c.num_heads == 2 && s.c.nstems == 2 &&
		   !strcmp(s.c.stems[1], "b") && s.c.mlp_ratio == 2 && s.set == (SET_NUM_HEADS | SET_STEMS | SET_MLP_RATIO),
	   "config: values and which were set");
	cfg = "{\"depths\": [1, 2]}";
	ok(import_settings_json_text(&s, cfg, strlen(cfg)) < 0 && err_has("\"depths\" should be an array of 4"),
	   "config: a wrong type is named");
	struct import_settings over = {0};
	over.c.num_heads = 4, over.set = SET_NUM_HEADS;
	import_settings_merge(&s, &over);
	ok(s.c.num_heads == 4 && s.c.nstems == 2, "options override the config file");
}

int main(void)
{
	struct unet_config c;
	config_default(&c);
	ok(unet_param_count(&c) == 15404834, "default configuration: %lld trainable parameters (want 15404834)",
	   (long long)unet_param_count(&c));
	goldens();
	small();
	refusals();
	legacy_detection();
	legacy_read();
	damaged();
	pickles();
	safetensors();
	return test_done();
}
