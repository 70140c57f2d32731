#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "config.h"
#include "error.h"
#include "specstream.h"
#include "stft.h"
#include "unet.h"

/* The kinds' names as the header writes them: kind 1 << i is names[i]. */
#define SPEC_KIND_COUNT 3
static const char *const kind_name_list[SPEC_KIND_COUNT] = {"spectrogram", "stems", "masks"};
static const struct name_table kind_names = {"stream kind", kind_name_list, SPEC_KIND_COUNT};
_Static_assert(SPEC_SPECTROGRAM == 1 << 0 && SPEC_STEMS == 1 << 1 && SPEC_MASKS == 1 << 2,
	       "a kind is the bit of its name's index");

const char *spec_kind_name(enum spec_kind kind)
{
	for (int i = 0; i < SPEC_KIND_COUNT; i++)
		if ((unsigned)kind == 1u << i)
			return kind_names.names[i];
	return kind_names.names[0];
}

/* "spectrogram or stems" */
static const char *kinds_str(unsigned kinds, char *buf, size_t len)
{
	size_t used = 0;
	int n = 0;
	buf[0] = 0;
	for (int i = 0; i < SPEC_KIND_COUNT; i++)
		if (kinds & 1u << i)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", n++ ? " or " : "", kind_names.names[i]);
	return buf;
}

/* ---- the header ---- */

static int read_stems(const struct frame *f, struct spec_header *h)
{
	const struct value *v = frame_get(f, "stems");
	if (!v || v->kind != VAL_ARRAY || v->len < 1 || v->len > SPEC_MAX_STEMS)
		return tf_seterr("%s stream header needs \"stems\", an array of 1 to %d names", spec_kind_name(h->kind),
				 SPEC_MAX_STEMS);
	for (size_t i = 0; i < v->len; i++) {
		const struct value *s = &v->items[i];
		if (s->kind != VAL_STR || s->len < 1 || s->len >= SPEC_STEM_NAME_MAX || memchr(s->str, 0, s->len))
			return tf_seterr("stem %zu: expected a name of 1 to %d bytes", i, SPEC_STEM_NAME_MAX - 1);
		memcpy(h->stems[i], s->str, s->len + 1);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(h->stems[k], h->stems[i]))
				return tf_seterr("the stream names two stems \"%s\"", h->stems[i]);
	}
	h->nstems = (int)v->len;
	return 0;
}

/* The header frame f (tfswa and kind already checked) into h. */
static int parse_header(const struct frame *f, unsigned kinds, struct spec_header *h)
{
	char kind[32], window[32], want[64];
	int64_t rate, n_fft, hop, channels, samples = -1;
	int center = 1, k;
	memset(h, 0, sizeof *h);
	if (frame_get_str(f, "kind", kind, sizeof kind) < 0)
		return -1;
	/* the names become enums here, once */
	h->kind = (k = name_lookup(&kind_names, kind)) < 0 ? 0 : 1 << k;
	if (!(h->kind & kinds))
		return tf_seterr("expected a %s stream, got a %s stream%s", kinds_str(kinds, want, sizeof want), kind,
				 h->kind == SPEC_MASKS && (kinds & SPEC_STEMS)
					 ? " (tf-unet --masks); the stems come from tf-unet without --masks" : "");
	if (frame_get_int(f, "sample_rate", &rate) || frame_get_int(f, "n_fft", &n_fft) ||
	    frame_get_int(f, "hop", &hop) || frame_get_int(f, "channels", &channels))
		return tf_seterr("%s stream header needs sample_rate, n_fft, hop and channels (integers)", kind);
	snprintf(window, sizeof window, "%s", window_names.names[WINDOW_HANN]); /* when not given */
	if (frame_get_str(f, "window", window, sizeof window) < 0 || frame_get_bool(f, "center", &center) < 0 ||
	    frame_get_int(f, "samples", &samples) < 0)
		return tf_adderr("%s stream header: ", kind);
	if (name_lookup(&window_names, window) != WINDOW_HANN || !center)
		return tf_seterr("the stream's STFT (%s window%s) is not the one tfswa uses (hann, centred)", window,
				 center ? "" : ", not centred");
	if (n_fft < 2 || n_fft > STFT_MAX_NFFT || hop < 1 || hop > n_fft || channels < 1 ||
	    channels > AUDIO_MAX_CHANNELS || rate < 1 || rate > AUDIO_MAX_RATE)
		return tf_seterr("%s stream header: n_fft %lld, hop %lld, %lld channels, %lld Hz is out of range", kind,
				 (long long)n_fft, (long long)hop, (long long)channels, (long long)rate);
	if (samples < -1 || samples > INT64_MAX / 2)
		return tf_seterr("%s stream header: %lld samples", kind, (long long)samples);
	h->sample_rate = (int)rate, h->n_fft = (int)n_fft, h->hop = (int)hop, h->channels = (int)channels;
	h->bins = h->n_fft / 2 + 1;
	h->samples = samples;
	return h->kind == SPEC_SPECTROGRAM ? 0 : read_stems(f, h);
}

int spec_fits(const struct spec_header *h, const struct unet_config *c)
{
	if (h->sample_rate != c->sample_rate || h->n_fft != c->n_fft || h->hop != c->hop || h->channels != c->channels)
		return tf_seterr("stream (%d Hz, n_fft %d, hop %d, %d channel%s) does not fit the model (%d Hz, n_fft %d, "
				 "hop %d, %d channel%s); make it with: tf-stft -r %d -n %d -H %d -c %d (or tf-stft -m MODEL)",
				 h->sample_rate, h->n_fft, h->hop, h->channels, h->channels == 1 ? "" : "s", c->sample_rate,
				 c->n_fft, c->hop, c->channels, c->channels == 1 ? "" : "s", c->sample_rate, c->n_fft,
				 c->hop, c->channels);
	if (h->bins < UNET_MIN_SIZE)
		return tf_seterr("n_fft %d gives %d bins; the network needs at least %d", h->n_fft, h->bins,
				 UNET_MIN_SIZE);
	return 0;
}

/* ---- reading ---- */

struct spec_reader {
	struct stream_reader *sr;
	struct frame *meta, *f;
	struct spec_header h;
	char name[256]; /* "" for standard input */
	int64_t frames, chunks, tensors, samples;
	int ended, failed;
};

/* The message so far, prefixed with the input's name; -1. */
static int fail(struct spec_reader *r)
{
	r->failed = 1;
	return r->name[0] ? tf_adderr("%s: ", r->name) : -1;
}

static struct spec_reader *reader_open(int fd, const char *name, unsigned kinds, size_t max_frame)
{
	struct spec_reader *r = calloc(1, sizeof *r);
	if (!r)
		return tf_seterr("out of memory"), NULL;
	if (name && strcmp(name, "-"))
		snprintf(r->name, sizeof r->name, "%s", name);
	r->samples = -1;
	if (!(r->sr = stream_reader_open(fd, max_frame)) || !(r->meta = frame_new()) || !(r->f = frame_new()) ||
	    stream_read_header(r->sr, r->meta, NULL) || parse_header(r->meta, kinds, &r->h)) {
		fail(r);
		spec_reader_close(r);
		return NULL;
	}
	return r;
}

struct spec_reader *spec_reader_open(int fd, const char *name, unsigned kinds)
{
	return reader_open(fd, name, kinds, 0);
}

void spec_reader_close(struct spec_reader *r)
{
	if (!r)
		return;
	stream_reader_close(r->sr);
	frame_free(r->meta);
	frame_free(r->f);
	free(r);
}

const struct spec_header *spec_reader_header(const struct spec_reader *r) { return &r->h; }
const struct frame *spec_reader_meta(const struct spec_reader *r) { return r->meta; }
int64_t spec_reader_frames(const struct spec_reader *r) { return r->frames; }
int64_t spec_reader_samples(const struct spec_reader *r) { return r->samples; }
const struct frame *spec_reader_end(const struct spec_reader *r) { return r->ended ? r->f : NULL; }

/* The first non-finite value of t, as an index into its shape; 0 if none. */
static int find_nonfinite(const struct tensor *t, char *where, size_t len, double *value)
{
	const float *x = t->data;
	size_t n = tensor_numel(t) * (t->dtype == DT_C64 ? 2 : 1);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i])) {
			size_t e = t->dtype == DT_C64 ? i / 2 : i, used = 0;
			int64_t idx[TENSOR_MAX_DIMS];
			for (int d = t->ndim - 1; d >= 0; d--)
				idx[d] = (int64_t)(e % (size_t)t->shape[d]), e /= (size_t)t->shape[d];
			for (int d = 0; d < t->ndim && used < len; d++)
				used += (size_t)snprintf(where + used, len - used, "%s%lld", d ? ", " : "[",
							 (long long)idx[d]);
			if (used < len)
				snprintf(where + used, len - used, "]");
			*value = x[i];
			return 1;
		}
	return 0;
}

/* A tensor frame r->f into c, every check made. */
static int take_chunk(struct spec_reader *r, struct spec_chunk *c)
{
	const struct spec_header *h = &r->h;
	struct tensor t;
	int64_t first = r->frames;
	int stacked = h->kind != SPEC_SPECTROGRAM;
	enum dtype want = h->kind == SPEC_MASKS ? DT_F32 : DT_C64;
	char have[160], where[96];
	double bad;
	if (frame_tensor(r->f, &t))
		return tf_adderr("chunk %lld: ", (long long)r->chunks);
	const int64_t *s = t.shape + stacked;
	if (t.dtype != want || t.ndim != 3 + stacked || (stacked && t.shape[0] != h->nstems) ||
	    s[0] != h->channels || s[1] != h->bins) {
		char shape[80];
		if (stacked)
			snprintf(shape, sizeof shape, "[%d, %d, %d, frames]", h->nstems, h->channels, h->bins);
		else
			snprintf(shape, sizeof shape, "[%d, %d, frames]", h->channels, h->bins);
		return tf_seterr("chunk %lld: expected %s %s, got %s %s", (long long)r->chunks, dtype_traits[want].name,
				 shape, dtype_traits[t.dtype].name, shape_str(t.shape, t.ndim, have, sizeof have));
	}
	if (s[2] > SPEC_MAX_CHUNK)
		return tf_seterr("chunk %lld: %lld frames is too many for one chunk (at most %d)", (long long)r->chunks,
				 (long long)s[2], SPEC_MAX_CHUNK);
	if (frame_get_int(r->f, "frame", &first) < 0)
		return tf_adderr("chunk %lld: ", (long long)r->chunks);
	if (first != r->frames)
		return tf_seterr("chunk %lld starts at frame %lld, expected %lld (frames missing, repeated or out of order)",
				 (long long)r->chunks, (long long)first, (long long)r->frames);
	if (find_nonfinite(&t, where, sizeof where, &bad))
		return tf_seterr("chunk %lld: a value that is not finite (%g) at %s", (long long)r->chunks, bad, where);
	c->data = t.data;
	c->first = first;
	c->n = (int)s[2];
	r->frames += c->n;
	return 0;
}

/* The end frame in r->f: its totals against what came. */
static int check_end(struct spec_reader *r)
{
	const struct spec_header *h = &r->h;
	int64_t frames = r->frames, tensors = r->tensors, samples = h->samples;
	if (frame_get_int(r->f, "frames", &frames) < 0 || frame_get_int(r->f, "tensors", &tensors) < 0 ||
	    frame_get_int(r->f, "samples", &samples) < 0)
		return tf_adderr("end frame: ");
	if (frames != r->frames)
		return tf_seterr("the stream ends claiming %lld frames, but it held %lld", (long long)frames,
				 (long long)r->frames);
	if (tensors != r->tensors)
		return tf_seterr("the stream ends claiming %lld tensors, but it held %lld", (long long)tensors,
				 (long long)r->tensors);
	if (samples < -1)
		return tf_seterr("end frame: %lld samples", (long long)samples);
	if (h->samples >= 0 && samples != h->samples)
		return tf_seterr("the stream ends claiming %lld samples, but its header said %lld", (long long)samples,
				 (long long)h->samples);
	/* torch.istft pads a length beyond the frames with zeros; a little (the
	 * frames of any real signal) is fine, a lot is a damaged stream */
	if (samples > (r->frames + 1) * h->hop + h->n_fft)
		return tf_seterr("the stream claims %lld samples, more than its %lld frames can hold", (long long)samples,
				 (long long)r->frames);
	r->samples = samples;
	return 0;
}

int spec_read_chunk(struct spec_reader *r, struct spec_chunk *c)
{
	int got;
	if (r->failed)
		return tf_seterr("stream already failed");
	if (r->ended)
		return 0;
	while ((got = stream_read_frame(r->sr, r->f)) > 0) {
		if (frame_is_end(r->f)) {
			if (check_end(r))
				return fail(r);
			r->ended = 1;
			return 0;
		}
		if (!frame_is_tensor(r->f))
			continue;
		r->tensors++;
		if (take_chunk(r, c))
			return fail(r);
		r->chunks++;
		if (c->n > 0)
			return 1;
	}
	/* the stream reader reports input that ends before the end frame */
	return got < 0 ? fail(r) : tf_seterr("internal error: no end frame");
}

int64_t spec_check_fd(int fd, unsigned kinds, size_t max_frame)
{
	struct spec_reader *r = reader_open(fd, NULL, kinds, max_frame);
	struct spec_chunk c;
	int got;
	if (!r)
		return -1;
	while ((got = spec_read_chunk(r, &c)) > 0)
		;
	int64_t frames = got < 0 ? -1 : r->frames;
	spec_reader_close(r);
	return frames;
}

/* ---- writing ---- */

struct spec_writer {
	struct stream_writer *w;
	struct frame *f;
	struct spec_header h;
	int64_t frames, tensors;
};

struct spec_writer *spec_writer_open(FILE *fp, const struct spec_header *h, const struct frame *extra)
{
	struct spec_writer *w = calloc(1, sizeof *w);
	const char *stems[SPEC_MAX_STEMS];
	if (!w)
		return tf_seterr("out of memory"), NULL;
	w->h = *h;
	w->h.bins = h->n_fft / 2 + 1;
	for (int s = 0; s < h->nstems && s < SPEC_MAX_STEMS; s++)
		stems[s] = w->h.stems[s];
	if (!(w->w = stream_writer_open(fp)) || !(w->f = frame_new()) || (extra && frame_copy_keys(w->f, extra)) ||
	    frame_set_int(w->f, "sample_rate", h->sample_rate) || frame_set_int(w->f, "n_fft", h->n_fft) ||
	    frame_set_int(w->f, "hop", h->hop) || frame_set_str(w->f, "window", window_names.names[WINDOW_HANN]) ||
	    frame_set_bool(w->f, "center", 1) || frame_set_int(w->f, "channels", h->channels) ||
	    (h->samples >= 0 && frame_set_int(w->f, "samples", h->samples)) ||
	    (h->kind != SPEC_SPECTROGRAM && frame_set_strs(w->f, "stems", stems, (size_t)h->nstems)) ||
	    stream_write_header(w->w, spec_kind_name(h->kind), w->f)) {
		if (w->w)
			stream_writer_close(w->w);
		frame_free(w->f);
		free(w);
		return NULL;
	}
	return w;
}

int spec_write_chunk(struct spec_writer *w, const void *data, int64_t first, int n)
{
	const struct spec_header *h = &w->h;
	struct tensor t = {.dtype = h->kind == SPEC_MASKS ? DT_F32 : DT_C64, .data = (void *)data};
	int stacked = h->kind != SPEC_SPECTROGRAM;
	if (stacked)
		t.shape[0] = h->nstems;
	t.ndim = 3 + stacked;
	t.shape[stacked] = h->channels, t.shape[stacked + 1] = h->bins, t.shape[stacked + 2] = n;
	frame_clear(w->f);
	if (frame_set_tensor(w->f, &t) || frame_set_int(w->f, "frame", first) || stream_write_frame(w->w, w->f))
		return -1;
	w->frames = first + n;
	w->tensors++;
	return 0;
}

int spec_writer_close(struct spec_writer *w, const struct frame *extra, int64_t samples)
{
	frame_clear(w->f);
	int rc = (extra && frame_copy_keys(w->f, extra)) || frame_set_int(w->f, "frames", w->frames) ||
			 (frame_get(w->f, "tensors") && frame_set_int(w->f, "tensors", w->tensors)) ||
			 (samples >= 0 && frame_set_int(w->f, "samples", samples)) || stream_write_end(w->w, w->f)
		 ? -1
		 : 0;
	if (stream_writer_close(w->w))
		rc = -1;
	frame_free(w->f);
	free(w);
	return rc;
}
