#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "export/zipwrite.h"
#include "import/zip.h"

#define ALIGN 64
#define LOCAL_HEADER 30
#define DOS_DATE 0x0021 /* 1980-01-01: fixed, so that a model exports to the same bytes */

static void le16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void le32(unsigned char *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

static int put(struct zipw *z, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, z->fp) != n)
		return tf_seterr("writing the archive: %s", strerror(errno));
	z->pos += n;
	return 0;
}

void zipw_open(struct zipw *z, FILE *fp)
{
	memset(z, 0, sizeof *z);
	z->fp = fp;
}

int zipw_add(struct zipw *z, const char *name, const void *data, size_t len)
{
	size_t nlen = strlen(name);
	unsigned char h[LOCAL_HEADER], pad[ALIGN + 4] = {0};
	if (z->pos + LOCAL_HEADER + nlen + sizeof pad + len > UINT32_MAX)
		return tf_seterr("the archive would pass 4 GiB, which needs ZIP64 (not written)");
	if (z->n == z->cap) {
		int cap = z->cap ? 2 * z->cap : 64;
		struct zipw_entry *e = realloc(z->e, (size_t)cap * sizeof *e);
		if (!e)
			return tf_seterr("out of memory");
		z->e = e, z->cap = cap;
	}
	struct zipw_entry *e = &z->e[z->n];
	if (!(e->name = strdup(name)))
		return tf_seterr("out of memory");
	z->n++;
	e->crc = zip_crc32(data, len);
	e->size = (uint32_t)len;
	e->offset = (uint32_t)z->pos;
	/* an extra field (id "FB", as PyTorch's writer uses) pads the data to
	 * the next multiple of 64 */
	size_t start = z->pos + LOCAL_HEADER + nlen, extra = (ALIGN - (start + 4) % ALIGN) % ALIGN + 4;
	le32(h, 0x04034b50);
	le16(h + 4, 20), le16(h + 6, 0), le16(h + 8, 0), le16(h + 10, 0), le16(h + 12, DOS_DATE);
	le32(h + 14, e->crc), le32(h + 18, e->size), le32(h + 22, e->size);
	le16(h + 26, (unsigned)nlen), le16(h + 28, (unsigned)extra);
	pad[0] = 'F', pad[1] = 'B';
	le16(pad + 2, (unsigned)(extra - 4));
	return put(z, h, sizeof h) || put(z, name, nlen) || put(z, pad, extra) || put(z, data, len) ? -1 : 0;
}

int zipw_close(struct zipw *z)
{
	uint64_t cd = z->pos;
	int rc = 0;
	for (int i = 0; i < z->n && !rc; i++) {
		const struct zipw_entry *e = &z->e[i];
		unsigned char c[46] = {0};
		le32(c, 0x02014b50);
		le16(c + 4, 20), le16(c + 6, 20), le16(c + 14, DOS_DATE);
		le32(c + 16, e->crc), le32(c + 20, e->size), le32(c + 24, e->size);
		le16(c + 28, (unsigned)strlen(e->name));
		le32(c + 42, e->offset);
		rc = put(z, c, sizeof c) || put(z, e->name, strlen(e->name));
	}
	if (!rc && (z->pos > UINT32_MAX || z->n > 65535))
		rc = tf_seterr("the archive needs ZIP64 (not written)");
	if (!rc) {
		unsigned char end[22] = {0};
		le32(end, 0x06054b50);
		le16(end + 8, (unsigned)z->n), le16(end + 10, (unsigned)z->n);
		le32(end + 12, (uint32_t)(z->pos - cd)), le32(end + 16, (uint32_t)cd);
		rc = put(z, end, sizeof end);
	}
	zipw_free(z);
	return rc ? -1 : 0;
}

void zipw_free(struct zipw *z)
{
	for (int i = 0; i < z->n; i++)
		free(z->e[i].name);
	free(z->e);
	memset(z, 0, sizeof *z);
}
