#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "timebin.h"

int timebin_init(struct timebin *t, int cap, int rows, int64_t max_values)
{
	memset(t, 0, sizeof *t);
	if (cap < 1 || rows < 1 || (int64_t)cap * rows > max_values)
		return tf_seterr("%d columns of %d values is out of range (at most %lld values)", cap, rows,
				 (long long)max_values);
	if (!(t->sum = calloc((size_t)cap * rows, sizeof *t->sum)))
		return tf_seterr("out of memory for %d columns of %d values", cap, rows);
	t->cap = cap, t->rows = rows, t->per = 1;
	return 0;
}

void timebin_free(struct timebin *t)
{
	free(t->sum);
	t->sum = NULL;
}

/* Buckets 2j and 2j+1 become bucket j; per doubles. Bucket j of per frames
 * held frames [j per, (j+1) per), so the pair holds those of the new j. */
static void merge_pairs(struct timebin *t)
{
	size_t rows = (size_t)t->rows;
	for (int j = 0; 2 * j < t->cap; j++) {
		double *dst = t->sum + j * rows, *a = t->sum + 2 * j * rows;
		const double *b = 2 * j + 1 < t->cap ? a + rows : NULL;
		for (size_t r = 0; r < rows; r++)
			dst[r] = a[r] + (b ? b[r] : 0);
	}
	int used = (t->cap + 1) / 2;
	memset(t->sum + used * rows, 0, (size_t)(t->cap - used) * rows * sizeof *t->sum);
	t->per *= 2;
}

void timebin_push(struct timebin *t, const float *values)
{
	if (t->frames / t->per >= t->cap)
		merge_pairs(t);
	double *dst = t->sum + (size_t)(t->frames / t->per) * t->rows;
	for (int r = 0; r < t->rows; r++)
		dst[r] += values[r];
	t->frames++;
}

void timebin_column(const struct timebin *t, int x, int width, double *out)
{
	int64_t F = t->frames;
	for (int r = 0; r < t->rows; r++)
		out[r] = 0;
	if (F < 1 || width < 1)
		return;
	int64_t start = (int64_t)((double)x * F / width), end = (int64_t)((double)(x + 1) * F / width);
	if (start >= F)
		start = F - 1;
	if (end <= start)
		end = start + 1;
	int64_t b0 = start / t->per, b1 = (end - 1) / t->per, count = 0;
	for (int64_t b = b0; b <= b1; b++) {
		const double *s = t->sum + (size_t)b * t->rows;
		int64_t last = (b + 1) * t->per < F ? (b + 1) * t->per : F;
		count += last - b * t->per;
		for (int r = 0; r < t->rows; r++)
			out[r] += s[r];
	}
	for (int r = 0; r < t->rows; r++)
		out[r] /= (double)count;
}
