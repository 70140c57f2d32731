/* A small strict JSON (RFC 8259) parser for safetensors headers and config
 * files: a tree of values, nesting bounded, strings decoded to UTF-8. */
#ifndef TF_IMPORT_JSON_H
#define TF_IMPORT_JSON_H
#include <stddef.h>
#include <stdint.h>

enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_kind kind;
	int b;               /* JSON_BOOL */
	double num;          /* JSON_NUM */
	int is_int;          /* JSON_NUM written without fraction or exponent, fits int64 */
	int64_t i;           /* JSON_NUM when is_int */
	char *str;           /* JSON_STR (NUL-terminated; may hold NULs: see len) */
	size_t len;
	size_t n;            /* JSON_ARR, JSON_OBJ: members */
	struct json *items;  /* the members' values */
	char **keys;         /* JSON_OBJ: the members' names */
};

/* Parses text[len] (the whole of it must be one value, whitespace around
 * allowed). -1 with a message "at byte N: ..." on error. */
int json_parse(struct json **out, const char *text, size_t len);
void json_free(struct json *j);
/* The first member named key of an object, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
const char *json_kind_name(enum json_kind k);

#endif
