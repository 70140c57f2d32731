/* safetensors out: an 8-byte little-endian header length, a JSON header
 * {"__metadata__": {...}, name: {"dtype", "shape", "data_offsets"}, ...}
 * padded with spaces so that the data starts 8-byte aligned, then the data
 * in the same order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "export/export.h"

/* Appends to a growing string; sets *failed on out-of-memory. */
static void append(char **s, size_t *n, size_t *cap, int *failed, const char *text, size_t len)
{
	if (*failed)
		return;
	if (*n + len + 1 > *cap) {
		size_t c = 2 * *cap + len + 1;
		char *t = realloc(*s, c);
		if (!t) {
			*failed = 1;
			return;
		}
		*s = t, *cap = c;
	}
	memcpy(*s + *n, text, len);
	*n += len;
	(*s)[*n] = 0;
}

/* A JSON string of text (names are ASCII identifiers; the settings JSON
 * has quotes and backslashes to escape). */
static void append_json_string(char **s, size_t *n, size_t *cap, int *failed, const char *text)
{
	append(s, n, cap, failed, "\"", 1);
	for (; *text; text++) {
		char esc[8];
		unsigned char ch = (unsigned char)*text;
		if (ch == '"' || ch == '\\')
			snprintf(esc, sizeof esc, "\\%c", ch);
		else if (ch < 0x20)
			snprintf(esc, sizeof esc, "\\u%04x", ch);
		else
			esc[0] = (char)ch, esc[1] = 0;
		append(s, n, cap, failed, esc, strlen(esc));
	}
	append(s, n, cap, failed, "\"", 1);
}

int export_safetensors(const struct model *m, FILE *fp)
{
	struct export_list l;
	char *h = NULL, *settings = NULL, tmp[256];
	size_t n = 0, cap = 0, offset = 0;
	int failed = 0, rc = -1;
	if (export_list_make(&l, m))
		return -1;
	if (!(settings = export_settings_json(&m->cfg))) {
		tf_seterr("out of memory");
		goto out;
	}
	append(&h, &n, &cap, &failed, "{\"__metadata__\": {\"format\": \"pt\", \"tfswa.config\": ", 50);
	append_json_string(&h, &n, &cap, &failed, settings);
	append(&h, &n, &cap, &failed, "}", 1);
	for (int i = 0; i < l.n; i++) {
		const struct export_entry *e = &l.e[i];
		append(&h, &n, &cap, &failed, ", ", 2);
		append_json_string(&h, &n, &cap, &failed, e->name);
		snprintf(tmp, sizeof tmp, ": {\"dtype\": \"%s\", \"shape\": [", e->dtype == DT_I64 ? "I64" : "F32");
		append(&h, &n, &cap, &failed, tmp, strlen(tmp));
		for (int d = 0; d < e->ndim; d++) {
			snprintf(tmp, sizeof tmp, "%s%lld", d ? ", " : "", (long long)e->shape[d]);
			append(&h, &n, &cap, &failed, tmp, strlen(tmp));
		}
		snprintf(tmp, sizeof tmp, "], \"data_offsets\": [%zu, %zu]}", offset, offset + e->bytes);
		append(&h, &n, &cap, &failed, tmp, strlen(tmp));
		offset += e->bytes;
	}
	append(&h, &n, &cap, &failed, "}", 1);
	while (!failed && (8 + n) % 8)
		append(&h, &n, &cap, &failed, " ", 1);
	if (failed) {
		tf_seterr("out of memory");
		goto out;
	}
	unsigned char len8[8];
	for (int k = 0; k < 8; k++)
		len8[k] = (unsigned char)((uint64_t)n >> (8 * k));
	if (fwrite(len8, 1, 8, fp) != 8 || fwrite(h, 1, n, fp) != n)
		goto write_error;
	for (int i = 0; i < l.n; i++)
		if (l.e[i].bytes && fwrite(l.e[i].data, 1, l.e[i].bytes, fp) != l.e[i].bytes)
			goto write_error;
	rc = 0;
	goto out;
write_error:
	tf_seterr("writing safetensors: %s", strerror(errno));
out:
	free(h);
	free(settings);
	export_list_free(&l);
	return rc;
}
