/* Zip archives in memory: see zip.h. Layout facts (PKWARE APPNOTE):
 * end of central directory "PK\5\6" (22 bytes + comment), ZIP64 locator
 * "PK\6\7" (20 bytes, just before it) and record "PK\6\6", central
 * directory entries "PK\1\2" (46 bytes + name + extra + comment), local
 * headers "PK\3\4" (30 bytes + name + extra), ZIP64 extra field id 1. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "zip.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* 1 if [off, off+n) lies inside [0, len) */
static int inside(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t zip_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xFFFFFFFFu;
	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* Finds the end-of-central-directory record: the last "PK\5\6" whose
 * comment ends at or before the end of the buffer. */
static int find_end(const unsigned char *b, size_t len, size_t *at)
{
	*at = 0; /* defined on failure too */
	if (len < 22)
		return tf_seterr("not a zip archive (only %zu bytes)", len);
	size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
	for (size_t i = len - 22 + 1; i-- > lo;)
		if (rd32(b + i) == SIG_END && (size_t)rd16(b + i + 20) <= len - 22 - i) {
			*at = i;
			return 0;
		}
	return tf_seterr("not a zip archive (no end of central directory record)");
}

/* The ZIP64 extra field of a central directory entry: the 8-byte values
 * present are those whose 32-bit field is 0xFFFFFFFF, in this order. */
static int zip64_extra(const unsigned char *x, size_t n, struct zip_entry *e, int need_u, int need_c,
		       int need_off)
{
	while (n >= 4) {
		uint16_t id = rd16(x), sz = rd16(x + 2);
		if (sz > n - 4)
			return tf_seterr("zip entry %s: extra field overruns the directory", e->name);
		if (id == 1) {
			const unsigned char *p = x + 4;
			size_t left = sz;
			uint64_t *want[3] = {need_u ? &e->usize : NULL, need_c ? &e->csize : NULL,
					     need_off ? &e->header : NULL};
			for (int k = 0; k < 3; k++) {
				if (!want[k])
					continue;
				if (left < 8)
					return tf_seterr("zip entry %s: ZIP64 extra field too short", e->name);
				*want[k] = rd64(p);
				p += 8, left -= 8;
			}
			return 0;
		}
		x += 4 + sz, n -= 4 + sz;
	}
	if (need_u || need_c || need_off)
		return tf_seterr("zip entry %s: ZIP64 sizes without a ZIP64 extra field", e->name);
	return 0;
}

/* The bytes an entry occupies: its local header, name, extra field and
 * data. -1 if the local header is not where the directory says. */
static int entry_span(const struct zip *z, const struct zip_entry *e, uint64_t *begin, uint64_t *end)
{
	const unsigned char *h = z->buf + e->header;
	if (!inside(e->header, 30, z->len) || rd32(h) != SIG_LOCAL)
		return tf_seterr("zip entry %s: local header at offset %llu is missing or out of bounds", e->name,
				 (unsigned long long)e->header);
	*begin = e->header;
	*end = e->header + 30 + rd16(h + 26) + rd16(h + 28);
	if (!inside(*end, e->csize, z->len))
		return tf_seterr("zip entry %s: %llu bytes at offset %llu run past the end of the %zu-byte file "
				 "(truncated?)",
				 e->name, (unsigned long long)e->csize, (unsigned long long)*end, z->len);
	*end += e->csize;
	return 0;
}

struct span {
	uint64_t begin, end;
	size_t entry;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Each byte of the archive belongs to one entry at most: entries that
 * share bytes would let a small file cost work (CRC checks, copies) that
 * grows with the square of its size. */
static int check_overlap(const struct zip *z)
{
	struct span *s = malloc((z->n ? z->n : 1) * sizeof *s);
	int rc = 0;
	if (!s)
		return tf_seterr("out of memory");
	for (size_t i = 0; i < z->n && !rc; i++) {
		s[i].entry = i;
		rc = entry_span(z, &z->e[i], &s[i].begin, &s[i].end);
	}
	if (!rc) {
		qsort(s, z->n, sizeof *s, cmp_span);
		for (size_t i = 1; i < z->n; i++)
			if (s[i].begin < s[i - 1].end) {
				rc = tf_seterr("zip entries %.100s and %.100s overlap (offsets %llu and %llu): each byte "
					       "of an archive belongs to one entry at most",
					       z->e[s[i - 1].entry].name, z->e[s[i].entry].name,
					       (unsigned long long)s[i - 1].begin, (unsigned long long)s[i].begin);
				break;
			}
	}
	free(s);
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct zip_entry *)a)->name, ((const struct zip_entry *)b)->name);
}

int zip_open(struct zip *z, const void *buf, size_t len)
{
	const unsigned char *b = buf;
	size_t end;
	uint64_t count, cd_size, cd_off;
	memset(z, 0, sizeof *z);
	z->buf = b, z->len = len;
	if (find_end(b, len, &end))
		return -1;
	if (rd16(b + end + 4) != 0 || rd16(b + end + 6) != 0)
		return tf_seterr("multi-disk zip archives are not supported");
	count = rd16(b + end + 10);
	cd_size = rd32(b + end + 12);
	cd_off = rd32(b + end + 16);
	if (end >= 20 && rd32(b + end - 20) == SIG_LOC64) {
		uint64_t off = rd64(b + end - 20 + 8);
		if (!inside(off, 56, len) || rd32(b + off) != SIG_END64)
			return tf_seterr("zip: ZIP64 end of central directory out of bounds or damaged");
		if (rd32(b + off + 16) != 0 || rd32(b + off + 20) != 0)
			return tf_seterr("multi-disk zip archives are not supported");
		count = rd64(b + off + 32);
		cd_size = rd64(b + off + 40);
		cd_off = rd64(b + off + 48);
	}
	if (!inside(cd_off, cd_size, len))
		return tf_seterr("zip: central directory (offset %llu, %llu bytes) lies outside the %zu-byte file",
				 (unsigned long long)cd_off, (unsigned long long)cd_size, len);
	if (count > cd_size / 46)
		return tf_seterr("zip: %llu entries cannot fit in a %llu-byte central directory",
				 (unsigned long long)count, (unsigned long long)cd_size);
	z->n = (size_t)count;
	z->e = calloc(z->n ? z->n : 1, sizeof *z->e);
	z->names = malloc((size_t)cd_size + 1);
	if (!z->e || !z->names) {
		zip_close(z);
		return tf_seterr("out of memory");
	}
	const unsigned char *p = b + cd_off, *cd_end = p + cd_size;
	char *nm = z->names;
	for (size_t i = 0; i < z->n; i++) {
		struct zip_entry *e = &z->e[i];
		if (cd_end - p < 46 || rd32(p) != SIG_CENTRAL) {
			zip_close(z);
			return tf_seterr("zip: central directory entry %zu is damaged", i);
		}
		size_t nlen = rd16(p + 28), xlen = rd16(p + 30), clen = rd16(p + 32);
		if ((size_t)(cd_end - p) - 46 < nlen + xlen + clen) {
			zip_close(z);
			return tf_seterr("zip: central directory entry %zu overruns the directory", i);
		}
		if (memchr(p + 46, 0, nlen)) {
			zip_close(z);
			return tf_seterr("zip: entry %zu has a NUL byte in its name", i);
		}
		memcpy(nm, p + 46, nlen);
		nm[nlen] = 0;
		e->name = nm;
		nm += nlen + 1;
		e->flags = rd16(p + 8);
		e->method = rd16(p + 10);
		e->crc = rd32(p + 16);
		e->csize = rd32(p + 20);
		e->usize = rd32(p + 24);
		e->header = rd32(p + 42);
		if (zip64_extra(p + 46 + nlen, xlen, e, e->usize == 0xFFFFFFFFu, e->csize == 0xFFFFFFFFu,
				e->header == 0xFFFFFFFFu)) {
			zip_close(z);
			return -1;
		}
		p += 46 + nlen + xlen + clen;
	}
	if (check_overlap(z)) {
		zip_close(z);
		return -1;
	}
	qsort(z->e, z->n, sizeof *z->e, cmp_entry);
	return 0;
}

void zip_close(struct zip *z)
{
	free(z->e);
	free(z->names);
	z->e = NULL, z->names = NULL, z->n = 0;
}

const struct zip_entry *zip_find(const struct zip *z, const char *name)
{
	struct zip_entry key = {.name = name};
	if (!z->n)
		return NULL;
	return bsearch(&key, z->e, z->n, sizeof *z->e, cmp_entry);
}

int zip_data(const struct zip *z, const struct zip_entry *e, int check_crc, const unsigned char **data,
	     size_t *len)
{
	const unsigned char *b = z->buf;
	if (e->flags & 1)
		return tf_seterr("zip entry %s is encrypted", e->name);
	if (e->method == 8)
		return tf_seterr("zip entry %s is compressed (deflate); torch.save writes stored entries: "
				 "load and save it again with torch.save",
				 e->name);
	if (e->method != 0)
		return tf_seterr("zip entry %s uses compression method %u; only stored entries are supported",
				 e->name, e->method);
	if (e->csize != e->usize)
		return tf_seterr("zip entry %s is stored but its sizes differ (%llu and %llu)", e->name,
				 (unsigned long long)e->csize, (unsigned long long)e->usize);
	if (!inside(e->header, 30, z->len) || rd32(b + e->header) != SIG_LOCAL)
		return tf_seterr("zip entry %s: local header at offset %llu is missing or out of bounds", e->name,
				 (unsigned long long)e->header);
	const unsigned char *h = b + e->header;
	uint64_t start = e->header + 30 + rd16(h + 26) + rd16(h + 28);
	size_t nlen = rd16(h + 26);
	if (nlen != strlen(e->name) || !inside(e->header + 30, nlen, z->len) || memcmp(h + 30, e->name, nlen))
		return tf_seterr("zip entry %s: local header names another file", e->name);
	if (!inside(start, e->csize, z->len))
		return tf_seterr("zip entry %s: %llu bytes at offset %llu run past the end of the %zu-byte file "
				 "(truncated?)",
				 e->name, (unsigned long long)e->csize, (unsigned long long)start, z->len);
	if (check_crc && zip_crc32(b + start, (size_t)e->csize) != e->crc)
		return tf_seterr("zip entry %s: CRC-32 mismatch (damaged file)", e->name);
	*data = b + start;
	*len = (size_t)e->csize;
	return 0;
}
