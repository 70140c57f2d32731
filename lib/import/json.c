/* JSON parser: recursive descent, depth bounded (json.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"

#define MAX_DEPTH 64

struct parser {
	const char *s, *p, *end;
};

static int fail(struct parser *ps, const char *what)
{
	return tf_seterr("JSON at byte %zu: %s", (size_t)(ps->p - ps->s), what);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int hex4(struct parser *ps, unsigned *u)
{
	*u = 0;
	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;
		*u <<= 4;
		if (c >= '0' && c <= '9')
			*u |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*u |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*u |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "bad \\u escape");
	}
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Parses a string (ps->p at the opening quote) into a new buffer. */
static int string(struct parser *ps, char **out, size_t *outlen)
{
	const char *q = ++ps->p;
	/* the decoded string is never longer than the source */
	while (q < ps->end && *q != '"')
		q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
	if (q >= ps->end)
		return fail(ps, "unterminated string");
	char *o = malloc((size_t)(q - ps->p) + 1), *w = o;
	if (!o)
		return tf_seterr("out of memory");
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		if (c < 0x20) {
			free(o);
			return fail(ps, "control character in string");
		}
		if (c != '\\') {
			*w++ = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		char e = *ps->p++;
		unsigned cp;
		switch (e) {
		case '"': *w++ = '"'; break;
		case '\\': *w++ = '\\'; break;
		case '/': *w++ = '/'; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u':
			if (hex4(ps, &cp)) {
				free(o);
				return -1;
			}
			if (cp >= 0xD800 && cp < 0xDC00) {
				unsigned lo;
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
					free(o);
					return fail(ps, "unpaired surrogate in \\u escape");
				}
				ps->p += 2;
				if (hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
					free(o);
					return fail(ps, "bad surrogate pair in \\u escape");
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp < 0xE000) {
				free(o);
				return fail(ps, "unpaired surrogate in \\u escape");
			}
			/* at most 4 bytes out for the 6 or 12 read */
			w += put_utf8(w, cp);
			break;
		default:
			free(o);
			return fail(ps, "bad escape in string");
		}
	}
	ps->p++;
	*w = 0;
	*out = o;
	*outlen = (size_t)(w - o);
	return 0;
}

static int number(struct parser *ps, struct json *j)
{
	const char *q = ps->p;
	int integral = 1;
	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end || *q < '0' || *q > '9')
		return fail(ps, "bad number");
	if (*q == '0')
		q++;
	else
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	if (q < ps->end && *q == '.') {
		integral = 0;
		if (++q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, "bad number");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integral = 0;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, "bad number");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	char buf[64];
	size_t n = (size_t)(q - ps->p);
	if (n >= sizeof buf)
		return fail(ps, "number too long");
	memcpy(buf, ps->p, n);
	buf[n] = 0;
	j->kind = JSON_NUM;
	j->num = strtod(buf, NULL);
	if (integral) {
		errno = 0;
		long long v = strtoll(buf, NULL, 10);
		if (!errno) {
			j->is_int = 1;
			j->i = v;
		}
	}
	ps->p = q;
	return 0;
}

static int value(struct parser *ps, struct json *j, int depth);

/* Appends a member to an array or object being built. */
static struct json *member(struct parser *ps, struct json *j, size_t *cap)
{
	if (j->n == *cap) {
		size_t c = *cap ? 2 * *cap : 4;
		struct json *a = realloc(j->items, c * sizeof *a);
		if (!a) {
			tf_seterr("out of memory");
			return NULL;
		}
		j->items = a;
		if (j->kind == JSON_OBJ) {
			char **k = realloc(j->keys, c * sizeof *k);
			if (!k) {
				tf_seterr("out of memory");
				return NULL;
			}
			j->keys = k;
		}
		*cap = c;
	}
	memset(&j->items[j->n], 0, sizeof *j->items);
	if (j->kind == JSON_OBJ)
		j->keys[j->n] = NULL;
	return &j->items[j->n++];
}

static int container(struct parser *ps, struct json *j, int depth)
{
	int obj = *ps->p == '{';
	char close = obj ? '}' : ']';
	size_t cap = 0;
	j->kind = obj ? JSON_OBJ : JSON_ARR;
	if (depth >= MAX_DEPTH)
		return fail(ps, "nested too deeply");
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		skip_ws(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected a member name");
			if (string(ps, &key, &klen))
				return -1;
			if (strlen(key) != klen) {
				free(key);
				return fail(ps, "NUL character in a member name");
			}
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return fail(ps, "expected ':'");
			}
			ps->p++;
		}
		struct json *m = member(ps, j, &cap);
		if (!m) {
			free(key);
			return -1;
		}
		if (obj)
			j->keys[j->n - 1] = key;
		if (value(ps, m, depth + 1))
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		return fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int value(struct parser *ps, struct json *j, int depth)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end");
	switch (*ps->p) {
	case '{':
	case '[':
		return container(ps, j, depth);
	case '"':
		j->kind = JSON_STR;
		return string(ps, &j->str, &j->len);
	case 't':
		j->kind = JSON_BOOL, j->b = 1;
		return literal(ps, "true");
	case 'f':
		j->kind = JSON_BOOL;
		return literal(ps, "false");
	case 'n':
		j->kind = JSON_NULL;
		return literal(ps, "null");
	default:
		return number(ps, j);
	}
}

static void clear(struct json *j)
{
	for (size_t i = 0; i < j->n; i++) {
		clear(&j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
}

void json_free(struct json *j)
{
	if (j) {
		clear(j);
		free(j);
	}
}

int json_parse(struct json **out, const char *text, size_t len)
{
	struct parser ps = {text, text, text + len};
	struct json *j = calloc(1, sizeof *j);
	*out = NULL;
	if (!j)
		return tf_seterr("out of memory");
	if (value(&ps, j, 0)) {
		json_free(j);
		return -1;
	}
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(j);
		return fail(&ps, "text after the value");
	}
	*out = j;
	return 0;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->kind != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->keys[i] && !strcmp(obj->keys[i], key))
			return &obj->items[i];
	return NULL;
}

const char *json_kind_name(enum json_kind k)
{
	static const char *n[] = {"null", "boolean", "number", "string", "array", "object"};
	return (unsigned)k < 6 ? n[k] : "?";
}
