/* Timing for benchmarks: a monotonic wall clock and the summary of repeated
 * measurements (median, fastest, slowest). */
#ifndef TF_TIMING_H
#define TF_TIMING_H

/* Seconds on a monotonic clock (only differences mean anything). */
double tf_clock(void);

struct timing_summary {
	double median, min, max;
};

/* Sorts t[0..n) in place and summarises it; the median of an even count is
 * the mean of the middle two. -1 with a message if n < 1 or a value is not
 * a finite number. */
int timing_summarise(double *t, int n, struct timing_summary *s);

#endif
