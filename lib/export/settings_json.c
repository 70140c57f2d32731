/* A model's settings as JSON, in the form import_settings_json reads. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

struct buf {
	char *s;
	size_t n, cap;
	int failed;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		char *t = realloc(b->s, 2 * b->cap + (size_t)k);
		if (!t) {
			b->failed = 1;
			return;
		}
		b->s = t, b->cap = 2 * b->cap + (size_t)k;
	}
}

/* Stem names are free text: escape what JSON requires. */
static void put_string(struct buf *b, const char *s)
{
	put(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			put(b, "\\%c", ch);
		else if (ch < 0x20)
			put(b, "\\u%04x", ch);
		else
			put(b, "%c", ch);
	}
	put(b, "\"");
}

char *export_settings_json(const struct unet_config *c)
{
	struct buf b = {malloc(256), 0, 256, 0};
	if (!b.s)
		return NULL;
	put(&b, "{\"in_channels\": %d, \"out_channels\": %d, ", c->in_channels, c->out_channels);
	put(&b, "\"depths\": [%d, %d, %d, %d], ", c->depths[0], c->depths[1], c->depths[2], c->depths[3]);
	put(&b, "\"dims\": [%d, %d, %d, %d], ", c->dims[0], c->dims[1], c->dims[2], c->dims[3]);
	/* %.17g: the doubles come back bit for bit */
	put(&b, "\"window_size\": %d, \"shift_size\": %d, \"num_heads\": %d, \"mlp_ratio\": %.17g, ",
	    c->window_size, c->shift_size, c->num_heads, c->mlp_ratio);
	put(&b, "\"mask_shifted\": %s, ", c->mask_shifted ? "true" : "false");
	put(&b, "\"sample_rate\": %d, \"n_fft\": %d, \"hop\": %d, \"channels\": %d, ", c->sample_rate, c->n_fft,
	    c->hop, c->channels);
	put(&b, "\"stems\": [");
	for (int i = 0; i < c->nstems; i++) {
		put(&b, i ? ", " : "");
		put_string(&b, c->stems[i]);
	}
	put(&b, "], \"segment\": %d, \"overlap\": %d, \"normalization\": ", c->segment, c->overlap);
	put_string(&b, c->normalization);
	put(&b, ", \"input_scale\": %.17g}", c->input_scale);
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
