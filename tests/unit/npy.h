/* Tiny .npy reader for the golden vectors (NumPy format 1.0/2.0, little-endian
 * float32/complex64/float64, C order). Test code only. */
#ifndef TEST_NPY_H
#define TEST_NPY_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct npy {
	char descr[8];   /* "<f4", "<c8", "<f8" */
	int ndim;
	int64_t shape[8];
	size_t numel, itemsize;
	void *data;
};

static int __attribute__((unused)) npy_load(const char *path, struct npy *a)
{
	FILE *f = fopen(path, "rb");
	unsigned char pre[12];
	memset(a, 0, sizeof *a);
	if (!f)
		return -1;
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
		fclose(f);
		return -1;
	}
	size_t hlen = pre[8] | pre[9] << 8;
	if (pre[6] >= 2) {
		if (fread(pre + 10, 1, 2, f) != 2) {
			fclose(f);
			return -1;
		}
		hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	}
	char *h = calloc(1, hlen + 1);
	if (!h || fread(h, 1, hlen, f) != hlen) {
		free(h);
		fclose(f);
		return -1;
	}
	char *d = strstr(h, "'descr': '"), *s = strstr(h, "'shape': (");
	if (!d || !s || strstr(h, "'fortran_order': True")) {
		free(h);
		fclose(f);
		return -1;
	}
	memcpy(a->descr, d + 10, 3);
	a->itemsize = (size_t)atoi(a->descr + 2);
	s += 10;
	a->numel = 1;
	while (*s && *s != ')') {
		char *e;
		long v = strtol(s, &e, 10);
		if (e == s)
			break;
		a->shape[a->ndim++] = v;
		a->numel *= (size_t)v;
		s = e;
		while (*s == ',' || *s == ' ')
			s++;
	}
	free(h);
	a->data = malloc(a->numel * a->itemsize + 1);
	size_t got = fread(a->data, a->itemsize, a->numel, f);
	fclose(f);
	if (got != a->numel) {
		free(a->data);
		return -1;
	}
	return 0;
}

/* Loads a float array (f4, or f8 converted); returns NULL on failure. */
static float *__attribute__((unused)) npy_load_f32(const char *path, struct npy *a)
{
	if (npy_load(path, a))
		return NULL;
	if (!strcmp(a->descr, "<f8")) {
		float *o = malloc(a->numel * sizeof *o);
		for (size_t i = 0; i < a->numel; i++)
			o[i] = (float)((double *)a->data)[i];
		free(a->data);
		a->data = o;
		a->itemsize = 4;
		strcpy(a->descr, "<f4");
	}
	return strcmp(a->descr, "<f4") ? NULL : a->data;
}
#endif
