/* Averaging a stream of frames down to a fixed number of columns without
 * knowing in advance how many frames will come, in memory that does not
 * grow with them.
 *
 * Each frame is a vector of `rows` values. Frames are summed into at most
 * `cap` buckets of `per` consecutive frames each; per starts at 1, and when
 * the buckets are full, neighbouring pairs are merged and per doubles. So
 * at the end between cap/2 and cap buckets are in use (fewer only for a
 * short stream), and any column of the picture is the mean of the whole
 * buckets its frames fall in: exact for a stream of up to cap frames,
 * otherwise smoothed over at most 2 x frames/cap frames. */
#ifndef TF_TIMEBIN_H
#define TF_TIMEBIN_H
#include <stdint.h>

struct timebin {
	int cap, rows;
	int64_t per;     /* frames per bucket */
	int64_t frames;  /* frames pushed */
	double *sum;     /* [cap][rows] */
};

/* -1 with a message if cap or rows < 1, or cap x rows is over max_values. */
int timebin_init(struct timebin *t, int cap, int rows, int64_t max_values);
void timebin_free(struct timebin *t);
/* Adds one frame of `rows` values. */
void timebin_push(struct timebin *t, const float *values);
/* Column x of `width` columns spread evenly over the frames pushed: the mean
 * of the buckets holding frames [x F / width, (x+1) F / width) (at least one
 * frame), into out[rows]. Zeros when no frame was pushed. */
void timebin_column(const struct timebin *t, int x, int width, double *out);

#endif
