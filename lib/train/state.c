#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "segment.h"
#include "train/ema.h"
#include "train/state.h"

/* The tensors of each parameter, by name prefix: the parameter, Adam's
 * two moments (trainable tensors only), the moving average (every tensor,
 * when the run keeps one). */
enum { PARAM, ADAM_M, ADAM_V, AVG, NBUFS };
static const char *const prefixes[NBUFS] = {"param/", "adam_m/", "adam_v/", "ema/"};

/* Whether the state holds tensor kind k of parameter s. */
static int holds(const struct train_state *st, int k, const struct param_spec *s)
{
	return k == PARAM || (k == AVG ? st->avg != NULL : s->trainable);
}

int train_state_alloc(struct train_state *st)
{
	st->mom1 = tf_alloc_aligned(st->m.nparams, sizeof(float));
	st->mom2 = tf_alloc_aligned(st->m.nparams, sizeof(float));
	if (!st->mom1 || !st->mom2) {
		free(st->mom1), free(st->mom2);
		st->mom1 = st->mom2 = NULL;
		return -1;
	}
	memset(st->mom1, 0, st->m.nparams * sizeof(float));
	memset(st->mom2, 0, st->m.nparams * sizeof(float));
	st->avg = NULL; /* train_state_set_ema makes it, a copy of the parameters */
	return train_state_set_ema(st, st->ema);
}

int train_state_set_ema(struct train_state *st, double decay)
{
	if (!(decay >= 0 && decay <= EMA_MAX_DECAY))
		return tf_seterr("ema %g is out of range (0 to %g)", decay, EMA_MAX_DECAY);
	if (decay > 0 && !st->avg) {
		if (!(st->avg = tf_alloc_aligned(st->m.nparams, sizeof(float))))
			return -1;
		memcpy(st->avg, st->m.params, st->m.nparams * sizeof(float));
	} else if (decay == 0) {
		free(st->avg);
		st->avg = NULL;
	}
	st->ema = decay;
	return 0;
}

struct model train_state_model(const struct train_state *st)
{
	struct model m = st->m;
	if (st->avg)
		m.params = st->avg;
	return m;
}

void train_state_free(struct train_state *st)
{
	free(st->mom1), free(st->mom2), free(st->avg);
	model_free(&st->m);
	st->mom1 = st->mom2 = st->avg = NULL;
}

int train_settings_validate(const struct train_settings *s)
{
	if (s->batch < 1 || s->batch > TRAIN_MAX_BATCH)
		return tf_seterr("batch %d is out of range (1 to %d)", s->batch, TRAIN_MAX_BATCH);
	if (!(s->segment_seconds > 0 && s->segment_seconds <= 600))
		return tf_seterr("segment_seconds %g is out of range (above 0, at most 600)", s->segment_seconds);
	if (s->aug.seg_len < 1 || s->aug.seg_len > ((int64_t)1 << 28))
		return tf_seterr("segment length %lld samples is out of range", (long long)s->aug.seg_len);
	if (!(s->lr.lr > 0 && s->lr.lr < 10) || !(s->lr.lr_min >= 0 && s->lr.lr_min <= s->lr.lr))
		return tf_seterr("learning rate %g (floor %g) is out of range", s->lr.lr, s->lr.lr_min);
	if (s->lr.total < 1 || s->lr.total > ((int64_t)1 << 40) || s->lr.warmup < 0 || s->lr.warmup > s->lr.total)
		return tf_seterr("steps %lld, warm-up %lld: out of range", (long long)s->lr.total,
				 (long long)s->lr.warmup);
	if ((unsigned)s->lr.kind > LR_CONSTANT || s->lr.step_size < 0 || !(s->lr.gamma > 0 && s->lr.gamma <= 1))
		return tf_seterr("learning-rate schedule settings are out of range");
	if (!(s->adam.beta1 >= 0 && s->adam.beta1 < 1) || !(s->adam.beta2 >= 0 && s->adam.beta2 < 1) ||
	    !(s->adam.eps > 0 && s->adam.eps < 1) || !(s->adam.weight_decay >= 0 && s->adam.weight_decay < 10))
		return tf_seterr("Adam settings (betas %g, %g, eps %g, weight decay %g) are out of range",
				 s->adam.beta1, s->adam.beta2, s->adam.eps, s->adam.weight_decay);
	if (!(s->clip >= 0 && s->clip < 1e12))
		return tf_seterr("clip %g is out of range", s->clip);
	if (!(s->aug.gain_lo > 0 && s->aug.gain_lo <= s->aug.gain_hi && s->aug.gain_hi <= 100))
		return tf_seterr("gain range %g to %g is out of range (0 < low <= high <= 100)", s->aug.gain_lo,
				 s->aug.gain_hi);
	if (!(s->aug.silence_db >= -400 && s->aug.silence_db <= 0))
		return tf_seterr("silence threshold %g dB is out of range (-400 to 0)", s->aug.silence_db);
	if (!(s->wave_loss >= 0 && s->wave_loss <= 1e6))
		return tf_seterr("wave loss weight %g is out of range", s->wave_loss);
	return 0;
}

static int header(const struct train_state *st, struct frame *f)
{
	const struct train_settings *s = &st->set;
	int64_t rng[4];
	for (int i = 0; i < 4; i++)
		rng[i] = (int64_t)st->rng.s[i];
	if (config_to_frame(&st->m.cfg, f) || frame_set_int(f, "state_version", TRAIN_STATE_VERSION) ||
	    frame_set_int(f, "step", st->step) || frame_set_int(f, "epoch", st->epoch) ||
	    frame_set_int(f, "epoch_steps", st->epoch_steps) || frame_set_ints(f, "rng", rng, 4) ||
	    frame_set_str(f, "dataset", st->dataset) || frame_set_int(f, "seed", (int64_t)s->seed) ||
	    frame_set_int(f, "steps", s->lr.total) || frame_set_int(f, "batch", s->batch) ||
	    frame_set_float(f, "segment_seconds", s->segment_seconds) ||
	    frame_set_int(f, "segment_samples", s->aug.seg_len) || frame_set_float(f, "lr", s->lr.lr) ||
	    frame_set_float(f, "lr_min", s->lr.lr_min) || frame_set_str(f, "schedule", lr_kind_name(s->lr.kind)) ||
	    frame_set_int(f, "warmup", s->lr.warmup) || frame_set_int(f, "step_size", s->lr.step_size) ||
	    frame_set_float(f, "gamma", s->lr.gamma) || frame_set_float(f, "beta1", s->adam.beta1) ||
	    frame_set_float(f, "beta2", s->adam.beta2) || frame_set_float(f, "eps", s->adam.eps) ||
	    frame_set_float(f, "weight_decay", s->adam.weight_decay) || frame_set_float(f, "clip", s->clip) ||
	    frame_set_float(f, "gain_low", s->aug.gain_lo) || frame_set_float(f, "gain_high", s->aug.gain_hi) ||
	    frame_set_bool(f, "channel_swap", s->aug.swap) || frame_set_bool(f, "remix", s->aug.remix) ||
	    frame_set_float(f, "silence_db", s->aug.silence_db) || frame_set_float(f, "wave_loss", s->wave_loss) ||
	    frame_set_bool(f, "overfit", s->overfit) || frame_set_int(f, "holdout", s->holdout) ||
	    frame_set_int(f, "tracks", s->tracks) || frame_set_bool(f, "qat", s->qat) ||
	    frame_set_int(f, "valid", st->valid) || frame_set_float(f, "valid_seconds", st->valid_seconds) ||
	    frame_set_float(f, "ema", st->ema) || frame_set_str(f, "mask_norm", mask_norm_name(st->mask_norm)))
		return -1;
	return 0;
}

int train_state_write(const struct train_state *st, FILE *fp)
{
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	const struct model *m = &st->m;
	const float *bufs[NBUFS] = {m->params, st->mom1, st->mom2, st->avg};
	int rc = -1, n = 0;
	if (!w || !f || header(st, f) || stream_write_header(w, "train-state", f))
		goto out;
	for (int k = 0; k < NBUFS; k++)
		for (int i = 0; i < m->nspecs; i++) {
			const struct param_spec *s = &m->specs[i];
			char name[MODEL_NAME_MAX + 16];
			if (!holds(st, k, s))
				continue; /* running statistics have no moments */
			snprintf(name, sizeof name, "%s%s", prefixes[k], s->name);
			struct tensor t = {.dtype = DT_F32, .ndim = s->ndim, .data = (void *)(bufs[k] + s->offset),
					   .name = name};
			memcpy(t.shape, s->shape, sizeof s->shape);
			frame_clear(f);
			if (frame_set_tensor(f, &t) || stream_write_frame(w, f))
				goto out;
			n++;
		}
	frame_clear(f);
	if (frame_set_int(f, "tensors", n) || stream_write_end(w, f))
		goto out;
	rc = 0;
out:
	frame_free(f);
	if (stream_writer_close(w) && !rc)
		rc = -1;
	return rc;
}

/* Required header keys: absent is an error too. */
static int need_int(const struct frame *f, const char *key, int64_t *v)
{
	int rc = frame_get_int(f, key, v);
	return rc > 0 ? tf_seterr("header has no \"%s\"", key) : rc;
}

static int need_float(const struct frame *f, const char *key, double *v)
{
	int rc = frame_get_float(f, key, v);
	return rc > 0 ? tf_seterr("header has no \"%s\"", key) : rc;
}

static int need_bool(const struct frame *f, const char *key, int *v)
{
	int rc = frame_get_bool(f, key, v);
	return rc > 0 ? tf_seterr("header has no \"%s\"", key) : rc;
}

/* A regular file must be long enough for the f32 tensors its header
 * declares (every parameter, two moments of each trainable one, and the
 * moving average if any) before anything is allocated for them; a pipe is
 * bounded by MODEL_MAX_PARAMS. */
static int check_stream_size(const struct unet_config *cfg, int with_avg, int fd, off_t start)
{
	struct stat st;
	uint64_t want = 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 0;
	int n = unet_param_specs(cfg, NULL, 0);
	struct param_spec *specs = tf_calloc((size_t)n, sizeof *specs);
	if (!specs)
		return -1;
	unet_param_specs(cfg, specs, n);
	for (int i = 0; i < n; i++)
		want += (uint64_t)specs[i].numel * sizeof(float) * ((specs[i].trainable ? 3 : 1) + (with_avg ? 1 : 0));
	free(specs);
	uint64_t left = st.st_size > start ? (uint64_t)(st.st_size - start) : 0;
	char a[32], b[32];
	if (left < want)
		return tf_seterr("the header declares %d tensors of %s (parameters, Adam moments%s), but the file "
				 "holds only %s (truncated?)",
				 n, model_bytes_str((double)want, a, sizeof a), with_avg ? ", moving average" : "",
				 model_bytes_str((double)left, b, sizeof b));
	return 0;
}

static int read_header(struct train_state *st, const struct frame *f, int fd, off_t start)
{
	struct train_settings *s = &st->set;
	int64_t version = 0, seed, batch, rng[4], holdout, tracks;
	size_t nrng = 0;
	char sched[16];
	struct unet_config cfg;
	if (need_int(f, "state_version", &version))
		return -1;
	if (version < 1 || version > TRAIN_STATE_VERSION)
		return tf_seterr("state_version %lld: this version reads 1 to %d", (long long)version,
				 TRAIN_STATE_VERSION);
	if (config_from_frame(&cfg, f))
		return -1;
	if (need_int(f, "step", &st->step) || need_int(f, "epoch", &st->epoch) ||
	    need_int(f, "epoch_steps", &st->epoch_steps) || need_int(f, "seed", &seed) ||
	    need_int(f, "steps", &s->lr.total) || need_int(f, "batch", &batch) ||
	    need_float(f, "segment_seconds", &s->segment_seconds) ||
	    need_int(f, "segment_samples", &s->aug.seg_len) || need_float(f, "lr", &s->lr.lr) ||
	    need_float(f, "lr_min", &s->lr.lr_min) || need_int(f, "warmup", &s->lr.warmup) ||
	    need_int(f, "step_size", &s->lr.step_size) || need_float(f, "gamma", &s->lr.gamma) ||
	    need_float(f, "beta1", &s->adam.beta1) || need_float(f, "beta2", &s->adam.beta2) ||
	    need_float(f, "eps", &s->adam.eps) || need_float(f, "weight_decay", &s->adam.weight_decay) ||
	    need_float(f, "clip", &s->clip) || need_float(f, "gain_low", &s->aug.gain_lo) ||
	    need_float(f, "gain_high", &s->aug.gain_hi) || need_bool(f, "channel_swap", &s->aug.swap) ||
	    need_bool(f, "remix", &s->aug.remix) || need_float(f, "silence_db", &s->aug.silence_db) ||
	    need_float(f, "wave_loss", &s->wave_loss) || need_bool(f, "overfit", &s->overfit) ||
	    need_int(f, "holdout", &holdout) || need_int(f, "tracks", &tracks))
		return -1;
	if (holdout < 0 || holdout > DATASET_MAX_TRACKS || tracks < 1 || tracks > DATASET_MAX_TRACKS)
		return tf_seterr("holdout %lld, tracks %lld: out of range", (long long)holdout, (long long)tracks);
	s->holdout = (int)holdout, s->tracks = (int)tracks;
	st->valid = -1, st->valid_seconds = 0; /* version 1 has no validation settings */
	if (version >= 2) {
		int64_t valid;
		if (need_int(f, "valid", &valid) || need_float(f, "valid_seconds", &st->valid_seconds))
			return -1;
		if (valid < 0 || valid > DATASET_MAX_TRACKS || !(st->valid_seconds >= 0.1 && st->valid_seconds <= 3600))
			return tf_seterr("valid %lld, valid_seconds %g: out of range", (long long)valid,
					 st->valid_seconds);
		st->valid = (int)valid;
	}
	st->ema = 0; /* versions 1 and 2 have no moving average */
	if (version >= 3) {
		if (need_float(f, "ema", &st->ema))
			return -1;
		if (!(st->ema >= 0 && st->ema <= EMA_MAX_DECAY))
			return tf_seterr("ema %g is out of range (0 to %g)", st->ema, EMA_MAX_DECAY);
	}
	char norm[16] = "raw"; /* optional: states written before --mask-norm lack it */
	if (frame_get_str(f, "mask_norm", norm, sizeof norm) < 0 || mask_norm_parse(norm) < 0)
		return tf_seterr("header: \"mask_norm\" should be one of raw, sum1, power");
	st->mask_norm = mask_norm_parse(norm);
	s->qat = 0; /* optional: states written before --qat lack it */
	if (frame_get_bool(f, "qat", &s->qat) < 0)
		return -1;
	if (frame_get_str(f, "schedule", sched, sizeof sched) || lr_kind_from_name(sched) < 0)
		return tf_seterr("header: \"schedule\" missing or not one of cosine, step, constant");
	s->lr.kind = (enum lr_kind)lr_kind_from_name(sched);
	if (frame_get_ints(f, "rng", rng, 4, &nrng) || nrng != 4)
		return tf_seterr("header: \"rng\" should be 4 integers");
	for (int i = 0; i < 4; i++)
		st->rng.s[i] = (uint64_t)rng[i];
	if (!(st->rng.s[0] | st->rng.s[1] | st->rng.s[2] | st->rng.s[3]))
		return tf_seterr("header: \"rng\" is all zeros (not a generator state)");
	if (frame_get_str(f, "dataset", st->dataset, sizeof st->dataset) < 0)
		return -1;
	if (batch < 1 || batch > TRAIN_MAX_BATCH)
		return tf_seterr("batch %lld is out of range", (long long)batch);
	s->seed = (uint64_t)seed, s->batch = (int)batch;
	if (train_settings_validate(s))
		return -1;
	if (st->step < 0 || st->step > s->lr.total || st->epoch_steps < 1 || st->epoch < 0 ||
	    st->epoch > st->step)
		return tf_seterr("step %lld, epoch %lld, epoch_steps %lld: out of range (steps in all: %lld)",
				 (long long)st->step, (long long)st->epoch, (long long)st->epoch_steps,
				 (long long)s->lr.total);
	if (s->aug.seg_len != (int64_t)llround(s->segment_seconds * cfg.sample_rate))
		return tf_seterr("segment_samples %lld does not match %g s at %d Hz", (long long)s->aug.seg_len,
				 s->segment_seconds, cfg.sample_rate);
	if (model_check_size(&cfg) || check_stream_size(&cfg, st->ema > 0, fd, start))
		return -1;
	return model_init(&st->m, &cfg);
}

int train_state_read(struct train_state *st, int fd)
{
	off_t start = lseek(fd, 0, SEEK_CUR);
	struct stream_reader *r = stream_reader_open(fd, 0);
	struct frame *f = frame_new();
	unsigned char *seen = NULL;
	int rc = -1, got, nspecs = 0;
	memset(st, 0, sizeof *st);
	if (!r || !f)
		goto out;
	if (stream_read_header(r, f, "train-state") || read_header(st, f, fd, start < 0 ? 0 : start))
		goto out;
	nspecs = st->m.nspecs;
	if (train_state_alloc(st) || !(seen = tf_calloc((size_t)nspecs * NBUFS, 1)))
		goto out;
	float *bufs[NBUFS] = {st->m.params, st->mom1, st->mom2, st->avg};
	int hint = 0; /* the tables come in the model's order: see model_spec_near */
	while ((got = stream_read_frame(r, f)) > 0 && !frame_is_end(f)) {
		struct tensor t;
		char gs[160], ws[160];
		int k;
		if (!frame_is_tensor(f))
			continue;
		if (frame_tensor(f, &t))
			goto out;
		if (!t.name) {
			tf_seterr("a tensor has no name");
			goto out;
		}
		for (k = 0; k < NBUFS; k++)
			if (!strncmp(t.name, prefixes[k], strlen(prefixes[k])))
				break;
		const struct param_spec *s =
			k < NBUFS ? model_spec_near(&st->m, t.name + strlen(prefixes[k]), &hint) : NULL;
		if (!s || !holds(st, k, s)) {
			tf_seterr("unexpected tensor %.100s", t.name);
			goto out;
		}
		int i = (int)(s - st->m.specs);
		if (seen[k * nspecs + i]) {
			tf_seterr("tensor %s appears twice", t.name);
			goto out;
		}
		if (t.dtype != DT_F32 || t.ndim != s->ndim ||
		    memcmp(t.shape, s->shape, (size_t)s->ndim * sizeof *t.shape)) {
			tf_seterr("%s: got %s %s, expected f32 %s", t.name, dtype_traits[t.dtype].name,
				  shape_str(t.shape, t.ndim, gs, sizeof gs), shape_str(s->shape, s->ndim, ws, sizeof ws));
			goto out;
		}
		memcpy(bufs[k] + s->offset, t.data, s->numel * sizeof(float));
		seen[k * nspecs + i] = 1;
	}
	if (got < 0)
		goto out;
	for (int k = 0; k < NBUFS; k++)
		for (int i = 0; i < nspecs; i++)
			if (!seen[k * nspecs + i] && holds(st, k, &st->m.specs[i])) {
				tf_seterr("missing tensor %s%s", prefixes[k], st->m.specs[i].name);
				goto out;
			}
	rc = 0;
out:
	if (rc)
		train_state_free(st);
	free(seen);
	frame_free(f);
	stream_reader_close(r);
	return rc;
}

int train_state_load(struct train_state *st, const char *path)
{
	int fd = file_open_read(path), rc;
	if (fd < 0)
		return -1;
	rc = train_state_read(st, fd);
	if (fd > 0)
		close(fd);
	if (rc && path && strcmp(path, "-"))
		return tf_adderr("%s: ", path);
	return rc;
}
