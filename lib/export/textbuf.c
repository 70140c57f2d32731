#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "export/textbuf.h"

void textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	while (!b->failed) {
		va_start(ap, fmt);
		int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->failed = 1;
		} else if (b->s && (size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		} else {
			size_t cap = 2 * b->cap + (size_t)k + 64;
			char *t = realloc(b->s, cap);
			if (!t)
				b->failed = 1;
			else
				b->s = t, b->cap = cap;
		}
	}
}

void textbuf_json_string(struct textbuf *b, const char *s)
{
	textbuf_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			textbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			textbuf_printf(b, "\\u%04x", c);
		else
			textbuf_printf(b, "%c", c);
	}
	textbuf_printf(b, "\"");
}
