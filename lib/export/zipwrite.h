/* A small zip writer for torch.save archives: STORED entries only (PyTorch
 * reads nothing else), each entry's data aligned to 64 bytes as PyTorch
 * aligns it (padding in an extra field), no ZIP64 (4 GiB at most). */
#ifndef TF_EXPORT_ZIPWRITE_H
#define TF_EXPORT_ZIPWRITE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct zipw_entry {
	char *name;
	uint32_t crc, size, offset;
};

struct zipw {
	FILE *fp;
	uint64_t pos;           /* bytes written so far */
	int n, cap;
	struct zipw_entry *e;
};

void zipw_open(struct zipw *z, FILE *fp);
/* Writes one entry (its local header, then data[len]). */
int zipw_add(struct zipw *z, const char *name, const void *data, size_t len);
/* The central directory and its end record; frees z. */
int zipw_close(struct zipw *z);
/* Frees z after a failure. */
void zipw_free(struct zipw *z);

#endif
