/* safetensors out: an 8-byte little-endian header length, a JSON header
 * {"__metadata__": {...}, name: {"dtype", "shape", "data_offsets"}, ...}
 * padded with spaces so that the data starts 8-byte aligned, then the data
 * in the same order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "export/export.h"
#include "export/textbuf.h"

int export_safetensors(const struct model *m, FILE *fp)
{
	struct export_list l;
	struct textbuf h = {0};
	char *settings = NULL;
	size_t offset = 0;
	int rc = -1;
	if (export_list_make(&l, m))
		return -1;
	if (!(settings = export_settings_json(&m->cfg))) {
		tf_seterr("out of memory");
		goto out;
	}
	textbuf_printf(&h, "{\"__metadata__\": {\"format\": \"pt\", \"tfswa.config\": ");
	textbuf_json_string(&h, settings);
	textbuf_printf(&h, "}");
	for (int i = 0; i < l.n; i++) {
		const struct export_entry *e = &l.e[i];
		textbuf_printf(&h, ", ");
		textbuf_json_string(&h, e->name);
		textbuf_printf(&h, ": {\"dtype\": \"%s\", \"shape\": [", e->dtype == DT_I64 ? "I64" : "F32");
		for (int d = 0; d < e->ndim; d++)
			textbuf_printf(&h, "%s%lld", d ? ", " : "", (long long)e->shape[d]);
		textbuf_printf(&h, "], \"data_offsets\": [%zu, %zu]}", offset, offset + e->bytes);
		offset += e->bytes;
	}
	textbuf_printf(&h, "}");
	while (!h.failed && (8 + h.n) % 8)
		textbuf_printf(&h, " ");
	if (h.failed) {
		tf_seterr("out of memory");
		goto out;
	}
	size_t n = h.n;
	unsigned char len8[8];
	for (int k = 0; k < 8; k++)
		len8[k] = (unsigned char)((uint64_t)n >> (8 * k));
	if (fwrite(len8, 1, 8, fp) != 8 || fwrite(h.s, 1, n, fp) != n)
		goto write_error;
	for (int i = 0; i < l.n; i++)
		if (l.e[i].bytes && fwrite(l.e[i].data, 1, l.e[i].bytes, fp) != l.e[i].bytes)
			goto write_error;
	rc = 0;
	goto out;
write_error:
	tf_seterr("writing safetensors: %s", strerror(errno));
out:
	free(h.s);
	free(settings);
	export_list_free(&l);
	return rc;
}
