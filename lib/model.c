#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "error.h"
#include "fileio.h"
#include "import/pth.h"
#include "unet.h"
#include "model.h"

void config_default(struct unet_config *c)
{
	static const int depths[] = {2, 2, 6, 2}, dims[] = {32, 64, 128, 256};
	memset(c, 0, sizeof *c);
	c->in_channels = 2;
	c->out_channels = 2;
	memcpy(c->depths, depths, sizeof depths);
	memcpy(c->dims, dims, sizeof dims);
	c->window_size = 8;
	c->shift_size = 4;
	c->num_heads = 8;
	c->mlp_ratio = 4.0;
	c->sample_rate = 44100;
	c->n_fft = 2048;
	c->hop = 512;
	c->window = WINDOW_HANN;
	c->channels = 1;
	c->nstems = 2;
	strcpy(c->stems[0], "vocals");
	strcpy(c->stems[1], "other");
	c->normalization = NORM_NONE;
	c->input_scale = 1.0;
	/* about 3 s at 44.1 kHz / hop 512, the length the reference trains on */
	c->segment = 256;
	c->overlap = 64;
	c->quantization = QUANT_NONE;
	c->prov.seed = c->prov.steps = -1;
	c->prov.sdr_mean = NAN;
	for (int s = 0; s < MODEL_MAX_STEMS; s++)
		c->prov.sdr[s] = NAN;
}

void provenance_then(struct model_provenance *p, const char *what)
{
	size_t len = strlen(p->training);
	snprintf(p->training + len, sizeof p->training - len, "%s%s", len ? "; then " : "", what);
}

void provenance_forget_scores(struct model_provenance *p)
{
	p->heldout[0] = 0;
	p->sdr_mean = NAN;
	for (int s = 0; s < MODEL_MAX_STEMS; s++)
		p->sdr[s] = NAN;
}

int config_mlp_hidden(const struct unet_config *c, int dim)
{
	return (int)((double)dim * c->mlp_ratio); /* python int() truncation */
}

int config_overlap_for(const struct unet_config *c, int segment)
{
	if (!segment)
		return 0;
	return c->overlap <= segment / 2 ? c->overlap : segment / 4;
}

int config_validate(const struct unet_config *c)
{
	/* each field in its range first (mlp_ratio before any width is
	 * computed from it: (int) of a huge or NaN double is undefined
	 * behaviour), then how the fields go together */
	if (config_check_ranges(c))
		return -1;
	for (int s = 0; s < UNET_LEVELS; s++) {
		/* every level but the bottleneck's has blocks */
		int least = s < UNET_LEVELS - 1;
		if (c->depths[s] < least)
			return tf_seterr("depths[%d] = %d is out of range (%d to 64)", s, c->depths[s], least);
		if (c->dims[s] % c->num_heads)
			return tf_seterr("num_heads %d does not divide dims[%d] = %d", c->num_heads, s, c->dims[s]);
		int h = config_mlp_hidden(c, c->dims[s]);
		if (h < 1 || h > 65536)
			return tf_seterr("mlp_ratio %g gives an MLP width of %d at dims[%d]", c->mlp_ratio, h, s);
	}
	if (c->shift_size >= c->window_size)
		return tf_seterr("shift_size %d must be at least 0 and less than window_size %d",
				 c->shift_size, c->window_size);
	if (c->in_channels != 2 * c->channels)
		return tf_seterr("in_channels %d should be 2 x channels (%d): real and imaginary parts",
				 c->in_channels, c->channels);
	if (c->out_channels != c->nstems * c->channels)
		return tf_seterr("out_channels %d should be stems x channels = %d x %d", c->out_channels,
				 c->nstems, c->channels);
	for (int s = 0; s < c->nstems; s++)
		if (!c->stems[s][0] || strchr(c->stems[s], '/'))
			return tf_seterr("stem name \"%s\" is empty or contains '/'", c->stems[s]);
	if (c->n_fft % 2)
		return tf_seterr("n_fft %d must be even, 4 to 65536", c->n_fft);
	if (c->hop > c->n_fft)
		return tf_seterr("hop %d must be between 1 and n_fft (%d)", c->hop, c->n_fft);
	if (c->segment > 0 && c->segment < UNET_MIN_SIZE)
		return tf_seterr("segment %d: at least %d frames, or 0 for the whole input", c->segment, UNET_MIN_SIZE);
	if (c->segment > 0 && 2 * c->overlap > c->segment)
		return tf_seterr("overlap %d must be between 0 and half the segment (%d)", c->overlap,
				 c->segment);
	if (strspn(c->assumed, "abcdefghijklmnopqrstuvwxyz_,") != strlen(c->assumed))
		return tf_seterr("\"assumed\" should be setting names separated by commas");
	return 0;
}

static int get_int_array(const struct frame *f, const char *key, int *out, size_t want)
{
	int64_t v[UNET_LEVELS];
	size_t n;
	int rc = frame_get_ints(f, key, v, UNET_LEVELS, &n);
	if (rc)
		return rc;
	if (n != want)
		return tf_seterr("key \"%s\" should have %zu items, has %zu", key, want, n);
	for (size_t i = 0; i < n; i++) {
		if (v[i] < 0 || v[i] > 1 << 20)
			return tf_seterr("key \"%s\" item %zu is out of range", key, i);
		out[i] = (int)v[i];
	}
	return 0;
}

/* The optional provenance.* keys; provenance.sdr.<stem> for the model's stems. */
static int provenance_from_frame(struct unet_config *c, const struct frame *h)
{
	struct model_provenance *p = &c->prov;
	char key[64];
	if (frame_get_str(h, "provenance.corpus", p->corpus, sizeof p->corpus) < 0 ||
	    frame_get_str(h, "provenance.training", p->training, sizeof p->training) < 0 ||
	    frame_get_int(h, "provenance.seed", &p->seed) < 0 || frame_get_int(h, "provenance.steps", &p->steps) < 0 ||
	    frame_get_str(h, "provenance.heldout", p->heldout, sizeof p->heldout) < 0 ||
	    frame_get_float(h, "provenance.sdr", &p->sdr_mean) < 0)
		return -1;
	for (int s = 0; s < c->nstems; s++) {
		snprintf(key, sizeof key, "provenance.sdr.%s", c->stems[s]);
		if (frame_get_float(h, key, &p->sdr[s]) < 0)
			return -1;
	}
	return 0;
}

static int provenance_to_frame(const struct unet_config *c, struct frame *h)
{
	const struct model_provenance *p = &c->prov;
	char key[64];
	if ((p->corpus[0] && frame_set_str(h, "provenance.corpus", p->corpus)) ||
	    (p->training[0] && frame_set_str(h, "provenance.training", p->training)) ||
	    (p->seed >= 0 && frame_set_int(h, "provenance.seed", p->seed)) ||
	    (p->steps >= 0 && frame_set_int(h, "provenance.steps", p->steps)) ||
	    (p->heldout[0] && frame_set_str(h, "provenance.heldout", p->heldout)) ||
	    (!isnan(p->sdr_mean) && frame_set_float(h, "provenance.sdr", p->sdr_mean)))
		return -1;
	for (int s = 0; s < c->nstems; s++) {
		snprintf(key, sizeof key, "provenance.sdr.%s", c->stems[s]);
		if (!isnan(p->sdr[s]) && frame_set_float(h, key, p->sdr[s]))
			return -1;
	}
	return 0;
}

/* One field of the header into c, if the header has it. */
static int field_from_frame(struct unet_config *c, const struct config_field *f, const struct frame *h)
{
	void *p = config_ptr(c, f);
	const struct value *v;
	char name[16];
	int e;
	switch (f->type) {
	case CT_INT: return frame_get_int32(h, f->key, p);
	case CT_LEVELS: return get_int_array(h, f->key, p, UNET_LEVELS);
	case CT_REAL: return frame_get_float(h, f->key, p);
	case CT_BOOL: return frame_get_bool(h, f->key, p);
	case CT_TEXT: return frame_get_str(h, f->key, p, f->size);
	case CT_ENUM:
		/* an unknown name is refused here, naming the known ones */
		if ((e = frame_get_str(h, f->key, name, sizeof name)))
			return e < 0 ? -1 : 0; /* absent: the default */
		if ((e = name_lookup(f->names, name)) < 0)
			return -1;
		*(int *)p = e;
		return 0;
	case CT_STEMS:
		if (!(v = frame_get(h, f->key)))
			return 0;
		if (v->kind != VAL_ARRAY || v->len < 1 || v->len > MODEL_MAX_STEMS)
			return tf_seterr("\"stems\" should be an array of 1 to %d names", MODEL_MAX_STEMS);
		c->nstems = (int)v->len;
		for (size_t i = 0; i < v->len; i++) {
			if (v->items[i].kind != VAL_STR || v->items[i].len >= sizeof c->stems[0])
				return tf_seterr("stem %zu should be a name of at most %zu bytes", i,
						 sizeof c->stems[0] - 1);
			strcpy(c->stems[i], v->items[i].str);
		}
		return 0;
	}
	return 0;
}

int config_from_frame(struct unet_config *c, const struct frame *h)
{
	config_default(c);
	for (int k = 0; k < CFG_COUNT; k++)
		if ((config_fields[k].flags & CFG_REQUIRED) && !frame_get(h, config_fields[k].key))
			return tf_seterr("model header has no \"%s\"", config_fields[k].key);
	for (int k = 0; k < CFG_COUNT; k++)
		if (field_from_frame(c, &config_fields[k], h) < 0)
			return -1;
	/* channels and stems default from the channel counts */
	if (!frame_get(h, config_fields[CFG_CHANNELS].key))
		c->channels = c->in_channels / 2;
	if (!frame_get(h, config_fields[CFG_STEMS].key) && c->channels > 0) {
		c->nstems = c->out_channels / c->channels;
		for (int s = 0; s < c->nstems && s < MODEL_MAX_STEMS; s++)
			snprintf(c->stems[s], sizeof c->stems[s], "stem%d", s);
	}
	if (config_validate(c))
		return -1;
	return provenance_from_frame(c, h);
}

static int field_to_frame(const struct unet_config *c, const struct config_field *f, struct frame *h)
{
	const void *p = config_cptr(c, f);
	int64_t levels[UNET_LEVELS];
	const char *stems[MODEL_MAX_STEMS];
	switch (f->type) {
	case CT_INT: return frame_set_int(h, f->key, *(const int *)p);
	case CT_LEVELS:
		for (int l = 0; l < UNET_LEVELS; l++)
			levels[l] = ((const int *)p)[l];
		return frame_set_ints(h, f->key, levels, UNET_LEVELS);
	case CT_REAL: return frame_set_float(h, f->key, *(const double *)p);
	case CT_BOOL: return frame_set_bool(h, f->key, *(const int *)p);
	case CT_ENUM: return frame_set_str(h, f->key, f->names->names[*(const int *)p]);
	case CT_TEXT:
		return (f->flags & CFG_OMIT_EMPTY) && !*(const char *)p ? 0 : frame_set_str(h, f->key, p);
	case CT_STEMS:
		for (int s = 0; s < c->nstems; s++)
			stems[s] = c->stems[s];
		return frame_set_strs(h, f->key, stems, (size_t)c->nstems);
	}
	return 0;
}

int config_to_frame(const struct unet_config *c, struct frame *h)
{
	for (int k = 0; k < CFG_COUNT; k++)
		if (field_to_frame(c, &config_fields[k], h))
			return -1;
	return provenance_to_frame(c, h);
}

/* ---------- the parameter table: lib/arch.c ---------- */

int unet_param_specs(const struct unet_config *c, struct param_spec *specs, int max)
{
	struct arch a;
	int n;
	if (arch_init(&a, c))
		return 0;
	n = a.nparams;
	if (specs)
		memcpy(specs, a.params, (size_t)(n < max ? n : max) * sizeof *specs);
	arch_free(&a);
	return n;
}

int64_t unet_param_count(const struct unet_config *c)
{
	int n = unet_param_specs(c, NULL, 0);
	struct param_spec *s = calloc((size_t)n, sizeof *s);
	int64_t total = 0;
	if (!s)
		return -1;
	unet_param_specs(c, s, n);
	for (int i = 0; i < n; i++)
		if (s[i].trainable)
			total += (int64_t)s[i].numel;
	free(s);
	return total;
}

/* ---------- the model ---------- */

size_t model_nparams(const struct unet_config *cfg)
{
	struct arch a;
	if (arch_init(&a, cfg))
		return 0; /* an invalid configuration: refused where it is planned */
	size_t n = a.nfloats;
	arch_free(&a);
	return n;
}

const char *model_bytes_str(double b, char *buf, size_t len)
{
	static const char *units[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
	int u = 0;
	while (b >= 1000 && u < 6)
		b /= 1000, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
	return buf;
}

int model_check_size(const struct unet_config *cfg)
{
	size_t n = model_nparams(cfg);
	char have[32], cap[32];
	if (n <= MODEL_MAX_PARAMS)
		return 0;
	return tf_seterr("the model declares %s of parameters (%.3g G floats), more than the %s (2^30 floats) "
			 "a model may hold; refusing",
			 model_bytes_str((double)n * sizeof(float), have, sizeof have), (double)n * 1e-9,
			 model_bytes_str((double)MODEL_MAX_PARAMS * sizeof(float), cap, sizeof cap));
}

/* The configuration and the table of tensors, nothing allocated for their
 * values yet. On failure m is left empty (model_free is harmless). */
static int model_plan(struct model *m, const struct unet_config *cfg, int check_size)
{
	struct arch a;
	memset(m, 0, sizeof *m);
	if (check_size && model_check_size(cfg))
		return -1;
	if (arch_init(&a, cfg))
		return -1;
	m->cfg = *cfg;
	m->nspecs = a.nparams;
	m->specs = a.params; /* the model owns the table's parameters */
	m->nparams = a.nfloats;
	a.params = NULL;
	arch_free(&a);
	return 0;
}

/* The zeroed parameter buffer of a planned model. m owns everything it
 * holds: on failure the caller frees it with model_free, once. */
static int model_alloc_params(struct model *m)
{
	if (!(m->params = tf_alloc_aligned(m->nparams, sizeof(float))))
		return -1;
	memset(m->params, 0, m->nparams * sizeof(float));
	return 0;
}

int model_init(struct model *m, const struct unet_config *cfg)
{
	if (model_plan(m, cfg, 1))
		return -1;
	if (model_alloc_params(m)) {
		model_free(m); /* leaves m empty: a caller's model_free is harmless */
		return -1;
	}
	return 0;
}

int model_half_tensor(const struct param_spec *s)
{
	return s->ndim >= 2;
}

int model_q8_tensor(const struct param_spec *s, const char **why)
{
	if (why)
		*why = s->not_int8;
	return !s->not_int8;
}

int model_out_axis(const struct param_spec *s)
{
	return s->out_axis;
}

/* values 0: only the scales (model_check stores no tensor) */
static int q8_alloc(struct model *m, int values)
{
	if ((values && !(m->q8 = tf_alloc_aligned(m->nparams, 1))) ||
	    !(m->q8_scale = tf_calloc((size_t)m->nspecs, sizeof *m->q8_scale)) ||
	    !(m->act_scale = tf_calloc((size_t)m->nspecs, sizeof *m->act_scale)))
		return -1;
	if (values)
		memset(m->q8, 0, m->nparams);
	for (int i = 0; i < m->nspecs; i++)
		if (model_q8_tensor(&m->specs[i], NULL) &&
		    !(m->q8_scale[i] = tf_calloc((size_t)m->specs[i].shape[model_out_axis(&m->specs[i])], sizeof(float))))
			return -1;
	return 0;
}

int model_q8_alloc(struct model *m)
{
	return q8_alloc(m, 1);
}

/* Frees what q8_alloc made; the pointers become NULL. */
static void q8_free(struct model *m)
{
	for (int i = 0; m->q8_scale && i < m->nspecs; i++)
		free(m->q8_scale[i]);
	free(m->q8_scale), free(m->act_scale), free(m->q8);
	m->q8_scale = NULL, m->act_scale = NULL, m->q8 = NULL;
}

void model_to_f32(struct model *m)
{
	q8_free(m);
	m->cfg.quantization = QUANT_NONE;
}

void model_free(struct model *m)
{
	q8_free(m);
	free(m->specs);
	free(m->params);
	memset(m, 0, sizeof *m);
}

const struct param_spec *model_spec(const struct model *m, const char *name)
{
	int hint = 0;
	return model_spec_near(m, name, &hint);
}

const struct param_spec *model_spec_near(const struct model *m, const char *name, int *hint)
{
	int n = m->nspecs, start = *hint >= 0 && *hint < n ? *hint : 0;
	for (int k = 0; k < n; k++) {
		int i = (start + k) % n;
		if (!strcmp(m->specs[i].name, name)) {
			*hint = i + 1;
			return &m->specs[i];
		}
	}
	return NULL;
}

float *model_param(const struct model *m, const char *name)
{
	const struct param_spec *s = model_spec(m, name);
	return s ? m->params + s->offset : NULL;
}

static int spec_index(const struct model *m, const char *name, int hint)
{
	/* tensors normally arrive in table order: try the next one first */
	if (hint >= 0 && hint < m->nspecs && !strcmp(m->specs[hint].name, name))
		return hint;
	for (int i = 0; i < m->nspecs; i++)
		if (!strcmp(m->specs[i].name, name))
			return i;
	return -1;
}

/* In a q8 model, "<name>:scale" and "<name>:act_scale" travel with an int8
 * tensor: which suffix name has (SEEN_SCALE, SEEN_ACT, or SEEN_TENSOR for
 * none), and its length without it. */
enum { SEEN_TENSOR = 1, SEEN_SCALE = 2, SEEN_ACT = 4 };

static int name_part(const char *name, size_t *base)
{
	const char *colon = strrchr(name, ':');
	*base = strlen(name);
	if (!colon)
		return SEEN_TENSOR;
	*base = (size_t)(colon - name);
	return !strcmp(colon, ":scale") ? SEEN_SCALE : !strcmp(colon, ":act_scale") ? SEEN_ACT : 0;
}

/* A scale tensor of an int8 weight: f32 of the right shape, finite and not
 * negative (an act_scale of 0: the layer's rows are quantised per row),
 * stored into dst. */
static int read_scale(const struct param_spec *s, const struct tensor *t, const char *what, size_t n,
		      float *dst)
{
	char gs[160];
	if (t->dtype != DT_F32 || t->ndim != 1 || (size_t)t->shape[0] != n)
		return tf_seterr("%s:%s: got %s %s, expected f32 [%zu]", s->name, what, dtype_traits[t->dtype].name,
				 shape_str(t->shape, t->ndim, gs, sizeof gs), n);
	memcpy(dst, t->data, n * sizeof *dst);
	for (size_t k = 0; k < n; k++)
		if (!isfinite(dst[k]) || dst[k] < 0)
			return tf_seterr("%s:%s: value %g at [%zu] is not a non-negative finite scale", s->name, what,
					 dst[k], k);
	return 0;
}

/* params of an int8 tensor: q times its output channel's scale */
static void dequantize(struct model *m, int i)
{
	const struct param_spec *s = &m->specs[i];
	int axis = model_out_axis(s);
	size_t inner = 1;
	for (int d = axis + 1; d < s->ndim; d++)
		inner *= (size_t)s->shape[d];
	for (size_t k = 0; k < s->numel; k++) {
		size_t o = (k / inner) % (size_t)s->shape[axis];
		m->params[s->offset + k] = (float)m->q8[s->offset + k] * m->q8_scale[i][o];
	}
}

/* The fewest bytes of tensor data a stream of m can carry: one byte per
 * element (the smallest dtype a frame may hold: a frame of the wrong dtype
 * is refused later, naming the tensor), and the f32 scales of a q8 model. */
static uint64_t min_data_bytes(const struct model *m)
{
	const struct quant_traits *qt = &quant_traits[m->cfg.quantization];
	int q8 = qt->int8, q8s = qt->act_scales;
	uint64_t n = 0;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		n += s->numel;
		if (q8 && model_q8_tensor(s, NULL))
			n += sizeof(float) * ((uint64_t)s->shape[model_out_axis(s)] + (q8s ? 1 : 0));
	}
	return n;
}

/* A regular file must be long enough for what its header declares before
 * anything is allocated for it; a pipe is bounded by MODEL_MAX_PARAMS. */
static int check_stream_size(const struct model *m, int fd, off_t start)
{
	struct stat st;
	char need[32], have[32];
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 0;
	uint64_t left = st.st_size > start ? (uint64_t)(st.st_size - start) : 0, want = min_data_bytes(m);
	if (left < want)
		return tf_seterr("the header declares %d tensors of at least %s, but the file holds only %s "
				 "(truncated?)",
				 m->nspecs, model_bytes_str((double)want, need, sizeof need),
				 model_bytes_str((double)left, have, sizeof have));
	return 0;
}

/* model_read (store 1) and model_check (store 0: no parameter buffer;
 * *described is set once m holds the header's configuration and table,
 * which it keeps on failure then). */
static int read_model(struct model *m, int fd, int store, int *described)
{
	off_t start = lseek(fd, 0, SEEK_CUR);
	struct stream_reader *r = stream_reader_open(fd, 0);
	struct frame *f = frame_new();
	struct unet_config cfg;
	unsigned char *seen = NULL;
	int rc = -1, next = 0, got, q8 = 0, q8s = 0;
	memset(m, 0, sizeof *m);
	if (described)
		*described = 0;
	if (!r || !f)
		goto out;
	if (stream_read_header(r, f, "model") || config_from_frame(&cfg, f) || model_plan(m, &cfg, store))
		goto out;
	if (described)
		*described = 1;
	if (!store && model_check_size(&cfg))
		goto out;
	if (check_stream_size(m, fd, start < 0 ? 0 : start) || (store && model_alloc_params(m)))
		goto out;
	if (!(seen = tf_calloc((size_t)m->nspecs, 1)))
		goto out;
	q8 = quant_traits[cfg.quantization].int8, q8s = quant_traits[cfg.quantization].act_scales;
	if (q8 && q8_alloc(m, store))
		goto out;
	while ((got = stream_read_frame(r, f)) > 0 && !frame_is_end(f)) {
		struct tensor t;
		char gs[160], ws[160];
		if (!frame_is_tensor(f))
			continue; /* frames of other kinds are allowed and ignored */
		if (frame_tensor(f, &t))
			goto out;
		if (!t.name) {
			tf_seterr("tensor %d has no name", next);
			goto out;
		}
		size_t base;
		int part = name_part(t.name, &base), i = -1;
		char key[MODEL_NAME_MAX];
		if (part && base < sizeof key) {
			memcpy(key, t.name, base);
			key[base] = 0;
			i = spec_index(m, key, part == SEEN_TENSOR ? next : next - 1);
		}
		if (i < 0 || (part != SEEN_TENSOR && !(q8 && model_q8_tensor(&m->specs[i], NULL))) ||
		    (part == SEEN_ACT && !q8s)) {
			tf_seterr("unexpected tensor %.100s (not part of this architecture%s)", t.name,
				  q8s ? " in q8s" : q8 ? " in q8" : "");
			goto out;
		}
		const struct param_spec *s = &m->specs[i];
		if (seen[i] & part) {
			tf_seterr("tensor %.100s appears twice", t.name);
			goto out;
		}
		if (part != SEEN_TENSOR) {
			if (read_scale(s, &t, part == SEEN_SCALE ? "scale" : "act_scale",
				       part == SEEN_SCALE ? (size_t)s->shape[model_out_axis(s)] : 1,
				       part == SEEN_SCALE ? m->q8_scale[i] : &m->act_scale[i]))
				goto out;
			seen[i] |= part;
			continue;
		}
		if (t.ndim != s->ndim || memcmp(t.shape, s->shape, (size_t)s->ndim * sizeof *t.shape)) {
			tf_seterr("%s: got %s, expected %s", s->name, shape_str(t.shape, t.ndim, gs, sizeof gs),
				  shape_str(s->shape, s->ndim, ws, sizeof ws));
			goto out;
		}
		if (q8 && model_q8_tensor(s, NULL)) {
			if (t.dtype != DT_I8) {
				tf_seterr("%s: dtype %s, expected i8 in a %s model", s->name, dtype_traits[t.dtype].name,
					  quant_traits[cfg.quantization].name);
				goto out;
			}
			if (store)
				memcpy(m->q8 + s->offset, t.data, s->numel);
		} else if (!dtype_traits[t.dtype].is_float) {
			tf_seterr("%s: dtype %s is not a float type", s->name, dtype_traits[t.dtype].name);
			goto out;
		} else if (store && convert_to_f32(m->params + s->offset, t.data, t.dtype, s->numel)) {
			goto out;
		}
		seen[i] |= SEEN_TENSOR;
		next = i + 1;
	}
	if (got < 0)
		goto out;
	for (int i = 0; i < m->nspecs; i++) {
		int want = SEEN_TENSOR, is8 = q8 && model_q8_tensor(&m->specs[i], NULL);
		if (is8)
			want |= SEEN_SCALE | (q8s ? SEEN_ACT : 0);
		if (seen[i] != want) {
			int miss = want & ~seen[i];
			tf_seterr("missing tensor %s%s", m->specs[i].name,
				  miss & SEEN_TENSOR ? "" : miss & SEEN_SCALE ? ":scale" : ":act_scale");
			goto out;
		}
		if (is8 && store)
			dequantize(m, i);
	}
	rc = 0;
out:
	if (rc && !(described && *described))
		model_free(m);
	free(seen);
	frame_free(f);
	stream_reader_close(r);
	return rc;
}

const char *model_file_format(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	if ((len >= 4 && !memcmp(b, "PK\3\4", 4)) || pth_is_legacy(b, len))
		return "pth";
	if (len >= 9 && b[8] == '{') {
		uint64_t n = 0;
		for (int i = 8; i-- > 0;)
			n = n << 8 | b[i];
		if (n >= 2 && n <= 100000000)
			return "safetensors";
	}
	if (len >= 7 && ((b[0] & 0xf0) == 0x80 || b[0] == 0xde || b[0] == 0xdf) &&
	    memmem(b, len < 16 ? len : 16, "\xa5tfswa", 6))
		return "tfswa";
	return NULL;
}

/* A checkpoint given where a model file belongs: say how to import it
 * (regular files only: a pipe's first bytes are gone). */
static void checkpoint_hint(int fd, const char *path)
{
	unsigned char head[16];
	struct stat st;
	ssize_t n;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (n = pread(fd, head, sizeof head, 0)) <= 0)
		return;
	const char *f = model_file_format(head, (size_t)n);
	if (f && strcmp(f, "tfswa"))
		tf_seterr("this is a %s checkpoint, not a tfswa model: import it with tf-export --from %s %s -o "
			  "model.bin",
			  strcmp(f, "pth") ? "safetensors" : "PyTorch", f, path && strcmp(path, "-") ? path : "FILE");
}

int model_read(struct model *m, int fd)
{
	return read_model(m, fd, 1, NULL);
}

/* A model file by path: read (store: the tensors kept) or only checked,
 * with the checkpoint hint and the path on an error. */
static int open_model(struct model *m, const char *path, int store, int *described)
{
	int fd = file_open_read(path), rc, said = 0;
	memset(m, 0, sizeof *m);
	if (fd < 0)
		return -1;
	rc = read_model(m, fd, store, &said);
	if (described)
		*described = said;
	else if (rc && said)
		model_free(m); /* a caller that cannot ask for the header gets nothing to free */
	if (rc && !said)
		checkpoint_hint(fd, path);
	if (fd > 0)
		close(fd);
	if (rc && path && strcmp(path, "-"))
		return tf_adderr("%s: ", path);
	return rc;
}

int model_check(struct model *m, const char *path, int *described)
{
	return open_model(m, path, 0, described);
}

int model_load(struct model *m, const char *path)
{
	return open_model(m, path, 1, NULL);
}

int model_read_config(struct unet_config *cfg, const char *path)
{
	int fd = file_open_read(path), rc;
	struct stream_reader *r;
	struct frame *f;
	if (fd < 0)
		return -1;
	r = stream_reader_open(fd, 1 << 20);
	f = frame_new();
	rc = !r || !f || stream_read_header(r, f, "model") || config_from_frame(cfg, f) ? -1 : 0;
	frame_free(f);
	stream_reader_close(r);
	if (fd > 0)
		close(fd);
	if (rc && path && strcmp(path, "-"))
		return tf_adderr("%s: ", path);
	return rc;
}

int model_write(const struct model *m, FILE *fp)
{
	return model_write_as(m, fp, NULL);
}

/* An int8 tensor, its scales, and in a q8s model its input scale. */
static int write_q8(struct stream_writer *w, struct frame *f, const struct model *m, int i, int *frames)
{
	const struct param_spec *s = &m->specs[i];
	char name[MODEL_NAME_MAX + 16];
	struct tensor t = {.dtype = DT_I8, .ndim = s->ndim, .data = m->q8 + s->offset, .name = s->name};
	memcpy(t.shape, s->shape, sizeof s->shape);
	frame_clear(f);
	if (frame_set_tensor(f, &t) || stream_write_frame(w, f))
		return -1;
	snprintf(name, sizeof name, "%s:scale", s->name);
	t = (struct tensor){.dtype = DT_F32, .ndim = 1, .shape = {s->shape[model_out_axis(s)]},
			    .data = m->q8_scale[i], .name = name};
	frame_clear(f);
	if (frame_set_tensor(f, &t) || stream_write_frame(w, f))
		return -1;
	*frames += 2;
	if (!quant_traits[m->cfg.quantization].act_scales)
		return 0;
	snprintf(name, sizeof name, "%s:act_scale", s->name);
	t = (struct tensor){.dtype = DT_F32, .ndim = 1, .shape = {1}, .data = &m->act_scale[i], .name = name};
	frame_clear(f);
	if (frame_set_tensor(f, &t) || stream_write_frame(w, f))
		return -1;
	*frames += 1;
	return 0;
}

/* How model_write stores tensor i (see model_write_as). */
static enum dtype stored_dtype(const struct model *m, int i)
{
	enum dtype store = quant_traits[m->cfg.quantization].store;
	if (m->q8 && m->q8_scale[i])
		return DT_I8;
	if ((store == DT_F16 || store == DT_BF16) && model_half_tensor(&m->specs[i]))
		return store;
	return DT_F32;
}

int model_write_as(const struct model *m, FILE *fp, const enum dtype *dtypes)
{
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	uint16_t *half = NULL;
	int rc = -1;
	if (!w || !f || config_to_frame(&m->cfg, f) || stream_write_header(w, "model", f))
		goto out;
	int frames = 0;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		struct tensor t = {.dtype = DT_F32, .ndim = s->ndim, .data = m->params + s->offset,
				   .name = s->name};
		enum dtype want = dtypes ? dtypes[i] : stored_dtype(m, i);
		memcpy(t.shape, s->shape, sizeof s->shape);
		if (want == DT_I8) {
			if (!m->q8 || !m->q8_scale[i]) {
				tf_seterr("%s: no int8 values to write", s->name);
				goto out;
			}
			if (write_q8(w, f, m, i, &frames))
				goto out;
			continue;
		}
		if (want == DT_F16 || want == DT_BF16) {
			uint16_t *h = realloc(half, s->numel * sizeof *h + 1);
			if (!h) {
				tf_seterr("out of memory");
				goto out;
			}
			half = h;
			for (size_t k = 0; k < s->numel; k++)
				half[k] = want == DT_F16 ? f32_to_f16(m->params[s->offset + k])
							 : f32_to_bf16(m->params[s->offset + k]);
			t.dtype = want, t.data = half;
		} else if (want != DT_F32) {
			tf_seterr("%s: cannot write as %s", s->name, dtype_traits[want].name);
			goto out;
		}
		frame_clear(f);
		if (frame_set_tensor(f, &t) || stream_write_frame(w, f))
			goto out;
		frames++;
	}
	frame_clear(f);
	if (frame_set_int(f, "tensors", frames) || stream_write_end(w, f))
		goto out;
	rc = 0;
out:
	free(half);
	frame_free(f);
	if (stream_writer_close(w) && !rc)
		rc = -1;
	return rc;
}
