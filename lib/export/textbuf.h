/* A growing text buffer for the JSON the exporters write. Out of memory
 * sets failed; later calls do nothing, so callers check once at the end. */
#ifndef TF_EXPORT_TEXTBUF_H
#define TF_EXPORT_TEXTBUF_H
#include <stddef.h>

struct textbuf {
	char *s;   /* NUL-terminated */
	size_t n, cap;
	int failed;
};

void textbuf_printf(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted and escaped. */
void textbuf_json_string(struct textbuf *b, const char *s);

#endif
