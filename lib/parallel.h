/* Runs a call on n threads: an OpenMP team for two or more; on one thread
 * a plain call, whose orphaned `omp for` loops then run whole (libgomp
 * allocates a team for every parallel region, even one of a single thread,
 * and a pass must allocate nothing). */
#ifndef TF_PARALLEL_H
#define TF_PARALLEL_H

#define PARALLEL_ON(n, call)                                                   \
	do {                                                                   \
		const int parallel_threads_ = (n);                             \
		if (parallel_threads_ > 1) {                                   \
			_Pragma("omp parallel num_threads(parallel_threads_)") call; \
		} else {                                                       \
			call;                                                  \
		}                                                              \
	} while (0)

#endif
