/* The tensor stream (formats/tensor-stream.md): msgpack maps written back to
 * back, one map per frame: a header frame, tensor frames, an end frame.
 * This module is the only code that sees msgpack bytes.
 *
 * A frame is an ordered list of key -> value. Values are scalars, strings,
 * binary blobs, or arrays of scalars/strings. Nested maps are accepted on
 * read (and ignored: frame_get returns VAL_OTHER for them). */
#ifndef TF_STREAM_H
#define TF_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor.h"

#define STREAM_VERSION 1

enum value_kind { VAL_NIL, VAL_BOOL, VAL_INT, VAL_FLOAT, VAL_STR, VAL_BIN, VAL_ARRAY, VAL_OTHER };

struct value {
	enum value_kind kind;
	int64_t i;            /* VAL_BOOL (0/1), VAL_INT */
	double f;             /* VAL_FLOAT; also set for VAL_INT */
	const char *str;      /* VAL_STR: NUL-terminated copy; VAL_BIN: the bytes */
	size_t len;           /* VAL_STR / VAL_BIN length, VAL_ARRAY item count */
	struct value *items;  /* VAL_ARRAY */
};

struct frame; /* opaque */

struct frame *frame_new(void);
void frame_free(struct frame *f);
void frame_clear(struct frame *f);   /* empty it for reuse */
size_t frame_nkeys(const struct frame *f);
const char *frame_key(const struct frame *f, size_t i);
const struct value *frame_value(const struct frame *f, size_t i);
const struct value *frame_get(const struct frame *f, const char *key); /* NULL if absent */

/* Typed getters: 0 when found and of the right type (out set), 1 when absent
 * (out left as is, so callers preset defaults), -1 with message when present
 * with the wrong type or out of range. */
int frame_get_int(const struct frame *f, const char *key, int64_t *out);
int frame_get_int32(const struct frame *f, const char *key, int *out);
int frame_get_float(const struct frame *f, const char *key, double *out); /* ints accepted */
int frame_get_bool(const struct frame *f, const char *key, int *out);
/* Copies into buf (NUL-terminated); -1 if longer than len-1. */
int frame_get_str(const struct frame *f, const char *key, char *buf, size_t len);
/* Array of ints into out[max]; *n set to the count; -1 if more than max. */
int frame_get_ints(const struct frame *f, const char *key, int64_t *out, size_t max, size_t *n);

/* Setters copy keys and scalar/string values; a key set twice is replaced.
 * frame_set_bin does NOT copy: data must outlive the write of the frame. */
int frame_set_int(struct frame *f, const char *key, int64_t v);
int frame_set_float(struct frame *f, const char *key, double v);
int frame_set_bool(struct frame *f, const char *key, int v);
int frame_set_str(struct frame *f, const char *key, const char *s);
int frame_set_ints(struct frame *f, const char *key, const int64_t *v, size_t n);
int frame_set_strs(struct frame *f, const char *key, const char *const *v, size_t n);
int frame_set_bin(struct frame *f, const char *key, const void *data, size_t len);
/* Copies every key of src into dst (values deep-copied, bins referenced). */
int frame_copy_keys(struct frame *dst, const struct frame *src);

/* Tensor frames: "dtype", "shape", "data" (and "name" if t->name).
 * frame_set_tensor references t->data (no copy). */
int frame_set_tensor(struct frame *f, const struct tensor *t);
/* 1 if the frame has a "data" key (a tensor frame). */
int frame_is_tensor(const struct frame *f);
/* 1 if the frame is an end frame ("end": true). */
int frame_is_end(const struct frame *f);
/* Validates dtype, shape and data length and fills t with a view into the
 * frame's memory (valid until the frame is cleared or freed); data is
 * aligned to at least 16 bytes. -1 with message when anything disagrees. */
int frame_tensor(const struct frame *f, struct tensor *t);

/* Reading. Reads with read(2) so pipes deliver frames as they are written.
 * max_frame caps the bytes of one frame (0 = default, 4 GiB). */
struct stream_reader;
struct stream_reader *stream_reader_open(int fd, size_t max_frame);
void stream_reader_close(struct stream_reader *r);
/* Reads the next frame into f (cleared first). Returns 1 with a frame,
 * 0 at a clean end of input after the end frame has been read, -1 with a
 * message on error: a frame cut short, input ending without an end frame,
 * bytes that are not a msgpack map, a frame over the cap. */
int stream_read_frame(struct stream_reader *r, struct frame *f);
/* Reads the first frame and checks "tfswa" == 1 and "kind"; if want_kind is
 * not NULL the kind must match it. */
int stream_read_header(struct stream_reader *r, struct frame *f, const char *want_kind);

/* Writing to a FILE (buffered); errors (full disk, broken pipe) are reported
 * by the write that hits them and by stream_writer_close. */
struct stream_writer;
struct stream_writer *stream_writer_open(FILE *fp);
int stream_write_frame(struct stream_writer *w, const struct frame *f);
/* Writes a header frame {"tfswa": 1, "kind": kind, ...extra keys of meta}. */
int stream_write_header(struct stream_writer *w, const char *kind, const struct frame *meta);
/* Writes {"end": true, ...extra keys of totals (may be NULL)}. */
int stream_write_end(struct stream_writer *w, const struct frame *totals);
/* Flushes; does not close the FILE. -1 if any write failed. */
int stream_writer_close(struct stream_writer *w);

#endif
