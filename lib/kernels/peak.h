/* The machine's floating-point peak, measured rather than looked up: a loop
 * of independent multiply-add chains on the widest vectors this CPU runs
 * (AVX-512, AVX2 with FMA, or plain C), on a given number of threads. It is
 * what a perfect kernel could reach, so a benchmark can say how far from it
 * the network runs. FLOPs count a multiply-add as 2, as unet_flops does. */
#ifndef TF_PEAK_H
#define TF_PEAK_H

/* "avx512", "avx2" or "scalar": the loop fma_peak_measure runs here. */
const char *fma_peak_isa(void);

/* GFLOP/s of the loop on `threads` OpenMP threads, best of a few trials of
 * about 20 ms each. -1 with a message if threads < 1 or OpenMP would not
 * give that many. */
int fma_peak_measure(int threads, double *gflops);

#endif
