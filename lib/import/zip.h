/* A small read-only zip reader for archives held in memory (torch.save
 * files): the end-of-central-directory record (ZIP64 too), the central
 * directory, and the local header of each entry, every offset and size
 * checked against the buffer. Stored entries only: a compressed entry is
 * refused with a message naming it. */
#ifndef TF_IMPORT_ZIP_H
#define TF_IMPORT_ZIP_H
#include <stddef.h>
#include <stdint.h>

struct zip_entry {
	const char *name;     /* NUL-terminated copy */
	uint64_t header;      /* offset of the local header */
	uint64_t csize, usize;
	uint32_t crc;
	uint16_t method, flags;
};

struct zip {
	const unsigned char *buf;
	size_t len;
	size_t n;
	struct zip_entry *e;  /* sorted by name */
	char *names;
};

/* Parses the directory of the archive in buf[len] (which must outlive z).
 * -1 with a message if it is not a zip archive or anything is out of bounds. */
int zip_open(struct zip *z, const void *buf, size_t len);
void zip_close(struct zip *z);
/* The entry with this exact name, or NULL. */
const struct zip_entry *zip_find(const struct zip *z, const char *name);
/* The bytes of a stored entry (a view into the buffer). check_crc compares
 * the CRC-32 with the directory's. -1 with a message naming the entry. */
int zip_data(const struct zip *z, const struct zip_entry *e, int check_crc, const unsigned char **data,
	     size_t *len);
uint32_t zip_crc32(const void *data, size_t len);

#endif
