/* The machine's floating-point peak, measured rather than looked up: a loop
 * of independent multiply-add chains on the widest vectors this CPU runs
 * (AVX-512, AVX2 with FMA, or plain C), on a given number of threads. It is
 * what a perfect kernel could reach, so a benchmark can say how far from it
 * the network runs. FLOPs count a multiply-add as 2, as unet_flops does. */
#ifndef TF_PEAK_H
#define TF_PEAK_H

/* "avx512", "avx2" or "scalar": the loop fma_peak_measure runs here. */
const char *fma_peak_isa(void);

/* What the probe found: the best rate of its trials (the one least
 * disturbed by other processes), the median, and whether they disagreed so
 * much that the machine looked busy (then the best is likely low too). */
struct fma_peak {
	double gflops;         /* best trial */
	double median_gflops;  /* median trial */
	int trials;
	int busy;              /* median below FMA_PEAK_BUSY x best */
};
#define FMA_PEAK_TRIALS 9
#define FMA_PEAK_BUSY 0.9

/* The loop on `threads` OpenMP threads, FMA_PEAK_TRIALS trials of about
 * 10 ms each. -1 with a message if threads < 1 or OpenMP would not give
 * that many. */
int fma_peak_measure(int threads, struct fma_peak *p);

/* Judges the rates (GFLOP/s) of n trials, n >= 1; sorts rates in place.
 * -1 with a message if n < 1 or a rate is not positive and finite. */
int fma_peak_judge(double *rates, int n, struct fma_peak *p);

#endif
