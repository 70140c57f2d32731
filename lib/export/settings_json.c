/* A model's settings as JSON, in the form import_settings_json reads. */
#include <stdlib.h>

#include "export/export.h"
#include "export/textbuf.h"

char *export_settings_json(const struct unet_config *c)
{
	struct textbuf b = {0};
	textbuf_printf(&b, "{\"in_channels\": %d, \"out_channels\": %d, ", c->in_channels, c->out_channels);
	textbuf_printf(&b, "\"depths\": [%d, %d, %d, %d], ", c->depths[0], c->depths[1], c->depths[2], c->depths[3]);
	textbuf_printf(&b, "\"dims\": [%d, %d, %d, %d], ", c->dims[0], c->dims[1], c->dims[2], c->dims[3]);
	/* %.17g: the doubles come back bit for bit */
	textbuf_printf(&b, "\"window_size\": %d, \"shift_size\": %d, \"num_heads\": %d, \"mlp_ratio\": %.17g, ",
		       c->window_size, c->shift_size, c->num_heads, c->mlp_ratio);
	textbuf_printf(&b, "\"mask_shifted\": %s, ", c->mask_shifted ? "true" : "false");
	textbuf_printf(&b, "\"sample_rate\": %d, \"n_fft\": %d, \"hop\": %d, \"channels\": %d, ", c->sample_rate,
		       c->n_fft, c->hop, c->channels);
	textbuf_printf(&b, "\"stems\": [");
	for (int i = 0; i < c->nstems; i++) {
		textbuf_printf(&b, i ? ", " : "");
		textbuf_json_string(&b, c->stems[i]);
	}
	textbuf_printf(&b, "], \"segment\": %d, \"overlap\": %d, \"normalization\": ", c->segment, c->overlap);
	textbuf_json_string(&b, c->normalization);
	textbuf_printf(&b, ", \"input_scale\": %.17g", c->input_scale);
	if (c->assumed[0]) {
		textbuf_printf(&b, ", \"assumed\": ");
		textbuf_json_string(&b, c->assumed);
	}
	textbuf_printf(&b, "}");
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
