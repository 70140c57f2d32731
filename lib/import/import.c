/* Reading whole inputs, settings (JSON config), and the mapping of a
 * state_dict onto the model's parameter table (import.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "error.h"
#include "fileio.h"
#include "import.h"
#include "json.h"

/* ---------- reading inputs ---------- */

int import_read_fd(int fd, size_t cap, unsigned char **bufp, size_t *lenp)
{
	struct stat st;
	size_t len = 0, size;
	unsigned char *buf;
	*bufp = NULL, *lenp = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > cap)
			return tf_seterr("input of %lld bytes is larger than the %zu MiB cap", (long long)st.st_size,
					 cap >> 20);
		size = (size_t)st.st_size + 1;
	} else {
		size = 1 << 20;
	}
	if (!(buf = malloc(size)))
		return tf_seterr("out of memory reading input");
	for (;;) {
		if (len == size) {
			if (size > cap) {
				free(buf);
				return tf_seterr("input is larger than the %zu MiB cap", cap >> 20);
			}
			size_t ns = size * 2 > cap + 1 ? cap + 1 : size * 2;
			unsigned char *nb = realloc(buf, ns);
			if (!nb) {
				free(buf);
				return tf_seterr("out of memory reading input");
			}
			buf = nb, size = ns;
		}
		ssize_t got = read(fd, buf + len, size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			free(buf);
			return tf_seterr("read error: %s", strerror(e));
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > cap) {
		free(buf);
		return tf_seterr("input is larger than the %zu MiB cap", cap >> 20);
	}
	*bufp = buf, *lenp = len;
	return 0;
}

int import_read_file(const char *path, size_t cap, unsigned char **buf, size_t *len)
{
	int fd = file_open_read(path), rc;
	if (fd < 0)
		return -1;
	rc = import_read_fd(fd, cap, buf, len);
	if (fd > 0)
		close(fd);
	if (rc && path && strcmp(path, "-"))
		return tf_adderr("%s: ", path);
	return rc;
}

/* ---------- settings ---------- */

int import_settings_stems(struct import_settings *s, const char *list)
{
	int n = 0;
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (n >= MODEL_MAX_STEMS)
			return tf_seterr("more than %d stems", MODEL_MAX_STEMS);
		if (len == 0 || len >= sizeof s->c.stems[0])
			return tf_seterr("stem name \"%.*s\" is empty or longer than %zu bytes", (int)(len > 40 ? 40 : len),
					 p, sizeof s->c.stems[0] - 1);
		memcpy(s->c.stems[n], p, len);
		s->c.stems[n][len] = 0;
		if (strchr(s->c.stems[n], '/'))
			return tf_seterr("stem name \"%s\" contains '/'", s->c.stems[n]);
		n++;
		if (!e)
			break;
		p = e + 1;
	}
	s->c.nstems = n;
	s->set |= SET_STEMS;
	return 0;
}

static int json_int(const struct json *j, const char *key, int *out, int lo, int hi)
{
	if (j->kind != JSON_NUM || !j->is_int || j->i < lo || j->i > hi)
		return tf_seterr("\"%s\" should be an integer from %d to %d", key, lo, hi);
	*out = (int)j->i;
	return 0;
}

static int json_levels(const struct json *j, const struct config_field *f, int *out)
{
	if (j->kind != JSON_ARR || j->n != UNET_LEVELS)
		return tf_seterr("\"%s\" should be an array of %d integers", f->key, UNET_LEVELS);
	for (int i = 0; i < UNET_LEVELS; i++)
		if (j->items[i].kind != JSON_NUM || !j->items[i].is_int || j->items[i].i < f->min ||
		    j->items[i].i > f->max)
			return tf_seterr("\"%s\" should be an array of %d integers from %.0f to %.0f", f->key,
					 UNET_LEVELS, f->min, f->max);
		else
			out[i] = (int)j->items[i].i;
	return 0;
}

static int json_string(const struct json *j, const char *key, char *out, size_t len)
{
	if (j->kind != JSON_STR || j->len >= len || strlen(j->str) != j->len)
		return tf_seterr("\"%s\" should be a string of at most %zu bytes", key, len - 1);
	memcpy(out, j->str, j->len + 1);
	return 0;
}

/* "stems": an array of names, or one string "a,b". */
static int json_stems(struct import_settings *s, const struct json *j)
{
	if (j->kind == JSON_STR) {
		if (strlen(j->str) != j->len)
			return tf_seterr("\"stems\" holds a NUL byte");
		return import_settings_stems(s, j->str);
	}
	if (j->kind != JSON_ARR || j->n < 1 || j->n > MODEL_MAX_STEMS)
		return tf_seterr("\"stems\" should be an array of 1 to %d names", MODEL_MAX_STEMS);
	for (size_t i = 0; i < j->n; i++) {
		if (json_string(&j->items[i], "stems", s->c.stems[i], sizeof s->c.stems[i]))
			return -1;
		if (!s->c.stems[i][0] || strchr(s->c.stems[i], '/') || strchr(s->c.stems[i], ','))
			return tf_seterr("stem name \"%s\" is empty or contains '/' or ','", s->c.stems[i]);
	}
	s->c.nstems = (int)j->n;
	return 0;
}

/* One field of the table from its JSON value, checked against its range
 * or names. */
static int field_from_json(struct import_settings *s, const struct config_field *f, const struct json *j)
{
	void *p = config_ptr(&s->c, f);
	char name[32];
	int e;
	switch (f->type) {
	case CT_INT: return json_int(j, f->key, p, (int)f->min, (int)f->max);
	case CT_LEVELS: return json_levels(j, f, p);
	case CT_REAL:
		if (j->kind != JSON_NUM)
			return tf_seterr("\"%s\" should be a number", f->key);
		if (config_check_value(f, j->num))
			return -1;
		*(double *)p = j->num;
		return 0;
	case CT_BOOL:
		if (j->kind != JSON_BOOL)
			return tf_seterr("\"%s\" should be true or false", f->key);
		*(int *)p = j->b;
		return 0;
	case CT_TEXT: return json_string(j, f->key, p, f->size);
	case CT_ENUM:
		if (json_string(j, f->key, name, sizeof name) || (e = name_lookup(f->names, name)) < 0)
			return -1;
		*(int *)p = e;
		return 0;
	case CT_STEMS: return json_stems(s, j);
	}
	return 0;
}

static int settings_from_json(struct import_settings *s, const struct json *root)
{
	const struct json *j;
	if (root->kind != JSON_OBJ)
		return tf_seterr("the config should be a JSON object, not a%s %s",
				 root->kind == JSON_ARR ? "n" : "", json_kind_name(root->kind));
	for (int k = 0; k < CFG_COUNT; k++) {
		const struct config_field *f = &config_fields[k];
		if (!f->json || !(j = json_get(root, f->key)))
			continue;
		if (field_from_json(s, f, j))
			return -1;
		s->set |= CFG_BIT(k);
	}
	return 0;
}

int import_settings_json_text(struct import_settings *s, const char *text, size_t len)
{
	struct json *root;
	if (json_parse(&root, text, len))
		return -1;
	int rc = settings_from_json(s, root);
	json_free(root);
	return rc;
}

int import_settings_json(struct import_settings *s, const char *path)
{
	unsigned char *buf;
	size_t len;
	if (import_read_file(path, 16 << 20, &buf, &len))
		return -1;
	int rc = import_settings_json_text(s, (const char *)buf, len);
	free(buf);
	if (rc)
		return tf_adderr("%s: ", path);
	return 0;
}

void import_settings_merge(struct import_settings *s, const struct import_settings *o)
{
	config_merge(&s->c, &o->c, o->set);
	s->set |= o->set;
}

/* ---------- the architecture from the weights ---------- */

static int dim_ok(int64_t v)
{
	return v >= 1 && v <= 1 << 20;
}

static const char *levels_str(const int *v, char *buf, size_t len)
{
	size_t n = 0;
	for (int l = 0; l < UNET_LEVELS && n < len; l++)
		n += (size_t)snprintf(buf + n, len - n, "%s%d", l ? ", " : "[", v[l]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
	return buf;
}

/* The names come from the table (lib/arch.c) of a probe configuration with
 * the most blocks a level may have: the names of the layers do not depend
 * on the sizes, and a level's blocks are the first of the probe's that the
 * file holds. */
static int infer_from(const struct import_set *w, struct import_arch *a, const struct arch *p)
{
	const struct import_tensor *t;
	const struct param_spec *s = p->params;
	char b[160];
	const struct arch_stage *stem = &p->stage[0], *head = &p->stage[p->nstages - 1];
	const char *name = s[stem->conv[0].w].name;
	if (!(t = import_find(w, name))) {
		tf_seterr("no %s among the %d tensors%s%.80s%s: not a TFSWA-UNet state_dict", name, w->n,
			  w->n ? " (the first is " : "", w->n ? w->t[0].name : "", w->n ? ")" : "");
		return -1;
	}
	if (t->ndim != 4 || !dim_ok(t->shape[0]) || !dim_ok(t->shape[1]) || t->shape[2] != 7 || t->shape[3] != 7)
		return tf_seterr("%s has shape %s, expected [dims0, in_channels, 7, 7]", name,
				 shape_str(t->shape, t->ndim, b, sizeof b));
	a->dims[0] = (int)t->shape[0];
	a->in_channels = (int)t->shape[1];
	/* the downsampling that feeds each level below the top */
	for (int i = 1; i < p->nstages; i++) {
		const struct arch_stage *st = &p->stage[i];
		if (st->role == STAGE_DECODER || st->role == STAGE_HEAD || !st->nconvs)
			continue;
		name = s[st->conv[0].w].name;
		if (!(t = import_find(w, name)))
			return tf_seterr("missing tensor %s", name);
		if (t->ndim != 4 || !dim_ok(t->shape[0]))
			return tf_seterr("%s has shape %s, expected [dims%d, dims%d, 4, 4]", name,
					 shape_str(t->shape, t->ndim, b, sizeof b), st->level, st->level - 1);
		a->dims[st->level] = (int)t->shape[0];
	}
	/* blocks: each level's from its encoder stage (or the bottleneck), the
	 * MLP width from its first block; decoder stages must mirror them */
	for (int i = 1; i < p->nstages; i++) {
		const struct arch_stage *st = &p->stage[i];
		int n = 0;
		while (n < st->nblocks && import_find(w, s[st->blocks[n].in_proj.w].name))
			n++;
		if (st->role == STAGE_ENCODER || st->role == STAGE_BOTTLENECK) {
			a->depths[st->level] = n;
			name = s[st->blocks[0].br[BRANCH_H].fc1_w].name;
			if (n && (t = import_find(w, name)) && t->ndim == 2 && dim_ok(t->shape[0])) {
				a->mlp_hidden[st->level] = (int)t->shape[0];
				snprintf(a->mlp_tensor[st->level], sizeof a->mlp_tensor[st->level], "%s", name);
			}
		} else if (st->role == STAGE_DECODER && n != a->depths[st->level]) {
			/* the encoder stage of the level */
			for (int e = 1; e < p->nstages; e++)
				if (p->stage[e].role == STAGE_ENCODER && p->stage[e].level == st->level)
					return tf_seterr("%.*s has %d blocks but %.*s has %d; they should mirror each other",
							 (int)(strrchr(st->blocks[0].name, '.') - st->blocks[0].name),
							 st->blocks[0].name, n,
							 (int)(strrchr(p->stage[e].blocks[0].name, '.') - p->stage[e].blocks[0].name),
							 p->stage[e].blocks[0].name, a->depths[st->level]);
		}
	}
	name = s[head->conv[head->nconvs - 1].w].name;
	if (!(t = import_find(w, name)))
		return tf_seterr("missing tensor %s", name);
	if (t->ndim != 4 || !dim_ok(t->shape[0]))
		return tf_seterr("%s has shape %s, expected [out_channels, dims0, 1, 1]", name,
				 shape_str(t->shape, t->ndim, b, sizeof b));
	a->out_channels = (int)t->shape[0];
	return 0;
}

int import_infer_arch(const struct import_set *w, struct import_arch *a)
{
	/* a small probe first (its table is quick to make), the largest only
	 * when a level may have more blocks or the small one found fault */
	static const int probes[] = {8, 64}; /* 64: config_validate's most */
	int rc = -1;
	for (size_t k = 0; k < sizeof probes / sizeof *probes; k++) {
		struct unet_config c;
		struct arch p;
		int full = 0;
		memset(a, 0, sizeof *a);
		config_default(&c);
		for (int l = 0; l < UNET_LEVELS; l++)
			c.depths[l] = probes[k];
		if (arch_init(&p, &c))
			return -1;
		rc = infer_from(w, a, &p);
		arch_free(&p);
		for (int l = 0; l < UNET_LEVELS; l++)
			full |= a->depths[l] == probes[k];
		if (!rc && !full)
			break;
	}
	return rc;
}

/* The window side told by a shifted block's attn_mask [windows, ws*ws, ws*ws], or 0. */
static int mask_window(const struct import_set *w, const char **name)
{
	for (int i = 0; i < w->n; i++) {
		const struct import_tensor *t = &w->t[i];
		size_t len = strlen(t->name);
		if (len < 14 || strcmp(t->name + len - 14, ".swa.attn_mask") || t->ndim != 3)
			continue;
		int64_t a = t->shape[1];
		if (a != t->shape[2] || a < 1)
			continue;
		int64_t ws = (int64_t)(sqrt((double)a) + 0.5);
		if (ws * ws == a) {
			*name = t->name;
			return (int)ws;
		}
	}
	return 0;
}

int import_config(struct unet_config *cfg, const struct import_set *w, const struct import_settings *given)
{
	return import_resolve(cfg, w, given, NULL);
}

int import_resolve(struct unet_config *cfg, const struct import_set *w, const struct import_settings *given,
		   unsigned *assumed)
{
	struct import_settings merged = {0};
	const struct import_settings *s = &merged;
	struct import_arch a;
	char b1[64], b2[64];
	/* what the file says, then what the caller says over it */
	if (w->settings && import_settings_json_text(&merged, w->settings, strlen(w->settings)))
		return tf_adderr("the file's tfswa.config: ");
	if (given)
		import_settings_merge(&merged, given);
	if (import_infer_arch(w, &a))
		return -1;
	const struct unet_config *o = &s->c;
	if ((s->set & SET_IN_CHANNELS) && o->in_channels != a.in_channels)
		return tf_seterr("the config gives in_channels %d, but the weights have %d (stem.0.weight)",
				 o->in_channels, a.in_channels);
	if ((s->set & SET_OUT_CHANNELS) && o->out_channels != a.out_channels)
		return tf_seterr("the config gives out_channels %d, but the weights have %d (output_head.3.weight)",
				 o->out_channels, a.out_channels);
	if ((s->set & SET_DIMS) && memcmp(o->dims, a.dims, sizeof a.dims))
		return tf_seterr("the config gives dims %s, but the weights have %s", levels_str(o->dims, b1, sizeof b1),
				 levels_str(a.dims, b2, sizeof b2));
	if ((s->set & SET_DEPTHS) && memcmp(o->depths, a.depths, sizeof a.depths))
		return tf_seterr("the config gives depths %s, but the weights have %s",
				 levels_str(o->depths, b1, sizeof b1), levels_str(a.depths, b2, sizeof b2));

	config_default(cfg);
	cfg->in_channels = a.in_channels;
	cfg->out_channels = a.out_channels;
	memcpy(cfg->depths, a.depths, sizeof a.depths);
	memcpy(cfg->dims, a.dims, sizeof a.dims);

	/* what the weights cannot tell */
	const char *mask_name = NULL;
	int ws = mask_window(w, &mask_name);
	if (s->set & SET_WINDOW_SIZE) {
		cfg->window_size = o->window_size;
		if (ws && ws != o->window_size)
			return tf_seterr("window_size %d, but %s is for %dx%d windows", o->window_size, mask_name, ws,
					 ws);
	} else if (ws) {
		cfg->window_size = ws;
	}
	if (assumed)
		*assumed = (SET_NUM_HEADS | SET_WINDOW_SIZE | SET_SHIFT_SIZE | SET_SAMPLE_RATE | SET_N_FFT | SET_HOP |
			    SET_STEMS) & ~s->set & ~(ws ? SET_WINDOW_SIZE : 0u);
	/* the rest as given; the architecture is the weights' (checked above),
	 * and channels and stems are checked against them below */
	config_merge(cfg, o,
		     s->set & ~(SET_IN_CHANNELS | SET_OUT_CHANNELS | SET_DEPTHS | SET_DIMS | SET_WINDOW_SIZE |
				SET_CHANNELS | SET_STEMS));
	if (!(s->set & SET_SHIFT_SIZE) && cfg->shift_size >= cfg->window_size)
		cfg->shift_size = cfg->window_size / 2;
	/* an overlap of more than half a shorter segment follows the segment */
	if ((s->set & SET_SEGMENT) && !(s->set & SET_OVERLAP) && 2 * cfg->overlap > cfg->segment)
		cfg->overlap = cfg->segment / 4;

	/* channels and stems */
	if (s->set & SET_CHANNELS) {
		cfg->channels = o->channels;
		if (a.in_channels != 2 * o->channels)
			return tf_seterr("%d audio channel%s need in_channels %d (real and imaginary parts), but the "
					 "weights have %d",
					 o->channels, o->channels == 1 ? "" : "s", 2 * o->channels, a.in_channels);
	} else {
		if (a.in_channels % 2)
			return tf_seterr("the weights have in_channels %d, an odd number; the network takes the real "
					 "and imaginary parts of each audio channel",
					 a.in_channels);
		cfg->channels = a.in_channels / 2;
	}
	if (s->set & SET_STEMS) {
		cfg->nstems = o->nstems;
		memcpy(cfg->stems, o->stems, sizeof cfg->stems);
	}
	if (cfg->out_channels != cfg->nstems * cfg->channels) {
		char names[MODEL_MAX_STEMS * 33] = "";
		for (int i = 0; i < cfg->nstems; i++)
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
				 cfg->stems[i]);
		if (cfg->out_channels % cfg->channels)
			return tf_seterr("the weights have %d output channels, not a multiple of the %d audio "
					 "channel%s (in_channels %d / 2)",
					 cfg->out_channels, cfg->channels, cfg->channels == 1 ? "" : "s", a.in_channels);
		return tf_seterr("the weights have %d output channels (masks), but %d stem%s (%s) x %d audio "
				 "channel%s make %d: give %d stem names",
				 cfg->out_channels, cfg->nstems, cfg->nstems == 1 ? "" : "s", names, cfg->channels,
				 cfg->channels == 1 ? "" : "s", cfg->nstems * cfg->channels,
				 cfg->out_channels / cfg->channels);
	}

	/* defaults that cannot fit: say which setting is missing */
	if (!(s->set & SET_NUM_HEADS))
		for (int l = 0; l < UNET_LEVELS; l++)
			if (cfg->dims[l] % cfg->num_heads)
				return tf_seterr("the default num_heads %d does not divide dims[%d] = %d: give the "
						 "checkpoint's num_heads",
						 cfg->num_heads, l, cfg->dims[l]);

	/* mlp_ratio against the MLP weights */
	if (!(cfg->mlp_ratio > 0 && cfg->mlp_ratio <= 1024))
		return tf_seterr("mlp_ratio %g is out of range (above 0, at most 1024)", cfg->mlp_ratio);
	for (int l = 0; l < UNET_LEVELS; l++) {
		int want = config_mlp_hidden(cfg, cfg->dims[l]);
		if (!a.mlp_hidden[l] || want == a.mlp_hidden[l])
			continue;
		return tf_seterr("mlp_ratio %g gives an MLP width of %d at dims[%d] = %d, but the weights have %d "
				 "(%s): mlp_ratio should be %g",
				 cfg->mlp_ratio, want, l, cfg->dims[l], a.mlp_hidden[l], a.mlp_tensor[l],
				 (double)a.mlp_hidden[l] / cfg->dims[l]);
	}
	return config_validate(cfg);
}

const char *import_assumed_str(const struct unet_config *c, unsigned assumed, int with_values, char *buf,
			       size_t len)
{
	char stems[MODEL_MAX_STEMS * 33] = "";
	int order[CFG_COUNT], n = config_order(1, order); /* in --info's order */
	size_t used = 0;
	for (int i = 0; i < c->nstems; i++)
		snprintf(stems + strlen(stems), sizeof stems - strlen(stems), "%s%s", i ? "," : "", c->stems[i]);
	buf[0] = 0;
	for (int i = 0; i < n && used < len; i++) {
		const struct config_field *f = &config_fields[order[i]];
		if (!(assumed & CFG_BIT(order[i])))
			continue;
		const char *sep = used ? (with_values ? ", " : ",") : "";
		if (!with_values)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", sep, f->key);
		else if (f->type == CT_STEMS)
			used += (size_t)snprintf(buf + used, len - used, "%s%s %s", sep, f->key, stems);
		else if (f->type == CT_INT)
			used += (size_t)snprintf(buf + used, len - used, "%s%s %d", sep, f->key,
						 *(const int *)config_cptr(c, f));
	}
	return buf;
}

/* ---------- the model ---------- */

static int ignorable(const char *name)
{
	static const char *tails[] = {".num_batches_tracked", ".swa.attn_mask"};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
		size_t k = strlen(tails[i]);
		if (n > k && !strcmp(name + n - k, tails[i]))
			return 1;
	}
	return 0;
}

/* Every tensor of the architecture present with its shape, and nothing
 * else: checked on the table alone, before the parameters are allocated. */
static int check_mapping(const struct import_set *w, const struct param_spec *specs, int n, unsigned char *used)
{
	char g[160], e[160];
	for (int i = 0; i < n; i++) {
		const struct param_spec *p = &specs[i];
		const struct import_tensor *t = import_find(w, p->name);
		if (!t)
			return tf_seterr("missing tensor %s", p->name);
		if (t->ndim != p->ndim || memcmp(t->shape, p->shape, (size_t)p->ndim * sizeof *p->shape))
			return tf_seterr("%s: got %s, expected %s", p->name, shape_str(t->shape, t->ndim, g, sizeof g),
					 shape_str(p->shape, p->ndim, e, sizeof e));
		used[t - w->t] = 1;
	}
	for (int i = 0; i < w->n; i++)
		if (!used[i] && !ignorable(w->t[i].name))
			return tf_seterr("unexpected tensor %.100s %s (not part of this architecture)", w->t[i].name,
					 shape_str(w->t[i].shape, w->t[i].ndim, g, sizeof g));
	return 0;
}

int import_model(struct model *m, const struct import_set *w, const struct unet_config *cfg)
{
	unsigned char *used = NULL;
	struct param_spec *specs = NULL;
	int n, rc = -1;
	memset(m, 0, sizeof *m);
	if (config_validate(cfg) || model_check_size(cfg))
		return -1;
	n = unet_param_specs(cfg, NULL, 0);
	if (!(specs = tf_calloc((size_t)n, sizeof *specs)) || !(used = tf_calloc(w->n ? (size_t)w->n : 1, 1)))
		goto out;
	unet_param_specs(cfg, specs, n);
	if (check_mapping(w, specs, n, used) || model_init(m, cfg))
		goto out;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *p = &m->specs[i];
		if (import_to_f32(import_find(w, p->name), m->params + p->offset)) {
			model_free(m);
			goto out;
		}
	}
	rc = 0;
out:
	free(specs);
	free(used);
	return rc;
}

int import_model_file(struct model *m, const char *path, const char *format, const struct import_settings *s)
{
	struct import_set w;
	struct unet_config cfg;
	unsigned char *buf;
	size_t len;
	int rc;
	if (import_read_file(path, (size_t)16 << 30, &buf, &len))
		return -1;
	if (!format)
		format = len >= 4 && !memcmp(buf, "PK", 2) ? "pth" : "safetensors";
	if (!strcmp(format, "pth"))
		rc = import_pth(&w, buf, len, 0);
	else if (!strcmp(format, "safetensors"))
		rc = import_safetensors(&w, buf, len);
	else
		rc = tf_seterr("unknown checkpoint format \"%s\" (pth, safetensors)", format);
	if (!rc) {
		rc = import_config(&cfg, &w, s) || import_model(m, &w, &cfg) ? -1 : 0;
		import_set_free(&w);
	}
	free(buf);
	if (rc && path && strcmp(path, "-"))
		return tf_adderr("%s: ", path);
	return rc;
}
