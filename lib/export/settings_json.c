/* A model's settings as JSON, in the form import_settings_json reads: the
 * fields of lib/config.h's table that have a JSON position, in its order. */
#include <stdlib.h>

#include "export/export.h"
#include "export/textbuf.h"

static void field_json(struct textbuf *b, const struct unet_config *c, const struct config_field *f)
{
	const void *p = config_cptr(c, f);
	switch (f->type) {
	case CT_INT: textbuf_printf(b, "%d", *(const int *)p); break;
	case CT_LEVELS:
		for (int l = 0; l < UNET_LEVELS; l++)
			textbuf_printf(b, "%s%d", l ? ", " : "[", ((const int *)p)[l]);
		textbuf_printf(b, "]");
		break;
	/* %.17g: the doubles come back bit for bit */
	case CT_REAL: textbuf_printf(b, "%.17g", *(const double *)p); break;
	case CT_BOOL: textbuf_printf(b, "%s", *(const int *)p ? "true" : "false"); break;
	case CT_ENUM: textbuf_json_string(b, f->names->names[*(const int *)p]); break;
	case CT_TEXT: textbuf_json_string(b, p); break;
	case CT_STEMS:
		textbuf_printf(b, "[");
		for (int i = 0; i < c->nstems; i++) {
			textbuf_printf(b, i ? ", " : "");
			textbuf_json_string(b, c->stems[i]);
		}
		textbuf_printf(b, "]");
		break;
	}
}

char *export_settings_json(const struct unet_config *c)
{
	struct textbuf b = {0};
	int order[CFG_COUNT], n = config_order(0, order), first = 1;
	textbuf_printf(&b, "{");
	for (int i = 0; i < n; i++) {
		const struct config_field *f = &config_fields[order[i]];
		if (f->type == CT_TEXT && (f->flags & CFG_OMIT_EMPTY) && !*(const char *)config_cptr(c, f))
			continue;
		textbuf_printf(&b, "%s\"%s\": ", first ? "" : ", ", f->key);
		field_json(&b, c, f);
		first = 0;
	}
	textbuf_printf(&b, "}");
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
