/* A small protocol buffers encoder (the wire format only, no schema): the
 * ONNX writer builds its messages with it. A message is built in a growing
 * byte buffer; a nested message is built in a buffer of its own and then
 * added to its parent as a length-delimited field. Out of memory sets
 * failed; later calls do nothing, so callers check once at the end.
 *
 * Wire format: every field is a key varint (field number << 3 | wire type)
 * then the value: a varint (type 0), 8 little-endian bytes (type 1), a
 * varint length and that many bytes (type 2), or 4 little-endian bytes
 * (type 5). Varints are 7 bits per byte, least significant group first, the
 * top bit set on every byte but the last; a negative int64 is its two's
 * complement as an unsigned 64-bit number (10 bytes). */
#ifndef TF_EXPORT_PROTOBUF_H
#define TF_EXPORT_PROTOBUF_H
#include <stddef.h>
#include <stdint.h>

enum pb_wire { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

struct pbuf {
	unsigned char *p;
	size_t n, cap;
	int failed;
};

void pb_free(struct pbuf *b);
void pb_raw(struct pbuf *b, const void *p, size_t n);   /* bytes as they are */
void pb_varint(struct pbuf *b, uint64_t v);
size_t pb_varint_size(uint64_t v);
void pb_key(struct pbuf *b, int field, enum pb_wire wire);

/* One field each. */
void pb_int(struct pbuf *b, int field, int64_t v);         /* int32/int64/enum: varint */
void pb_float(struct pbuf *b, int field, float v);         /* float: fixed32 */
void pb_bytes(struct pbuf *b, int field, const void *p, size_t n);
void pb_string(struct pbuf *b, int field, const char *s);
void pb_message(struct pbuf *b, int field, const struct pbuf *m);
/* Packed repeated fields: one length-delimited field holding the values. */
void pb_packed_int64(struct pbuf *b, int field, const int64_t *v, size_t n);
void pb_packed_float(struct pbuf *b, int field, const float *v, size_t n);
/* floats as a bytes field of little-endian IEEE 754 values (ONNX raw_data) */
void pb_floats_le(struct pbuf *b, int field, const float *v, size_t n);
/* int64s as a bytes field of little-endian values */
void pb_int64s_le(struct pbuf *b, int field, const int64_t *v, size_t n);

/* Bytes a length-delimited field of len bytes takes, key included. */
size_t pb_len_field_size(int field, size_t len);

/* Writes the key and length of a length-delimited field of len bytes into
 * out (at least 20 bytes); returns how many bytes that took. For messages
 * too large to build in memory: the caller writes the content itself. */
size_t pb_len_header(unsigned char *out, int field, size_t len);
/* Four little-endian bytes per float, for content written that way. */
void pb_store_floats_le(unsigned char *out, const float *v, size_t n);

#endif
