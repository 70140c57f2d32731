/* The execution context of the network's passes, shared by inference
 * (lib/nn/unet_plan.c) and training (lib/nn/unet_train.c): the threads
 * every parallel region runs on, given by the caller (never read back from
 * OpenMP's global setting); each thread's scratch, sized once by the set-up
 * of the pass with the code that carves it, so that a pass allocates
 * nothing; and the profiling hook. Private to lib/nn/. */
#ifndef TF_NN_EXEC_H
#define TF_NN_EXEC_H
#include <omp.h>
#include <stddef.h>
#include <time.h>

#include "carve.h"
#include "parallel.h"

struct nn_exec {
	int threads;        /* of every parallel region, >= 1 */
	char *scratch;      /* threads x per_thread bytes, 64-byte aligned */
	size_t per_thread;
	double *prof;       /* CPU seconds by kind of work (enum unet_work), or NULL */
};

/* Runs a region function on the context's threads (lib/parallel.h). */
#define PARALLEL(ex, call) PARALLEL_ON((ex)->threads, call)

/* The calling thread's slice of the scratch. */
static inline struct carve thread_carve(const struct nn_exec *ex)
{
	return (struct carve){ex->scratch + (size_t)omp_get_thread_num() * ex->per_thread, 0};
}

/* Profiling: the thread's CPU clock when on, and the time since `since`
 * charged to a kind of work. */
static inline double nn_cpu_clock(const struct nn_exec *ex)
{
	struct timespec t;
	if (!ex->prof)
		return 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void nn_charge(const struct nn_exec *ex, int work, double since)
{
	if (!ex->prof)
		return;
	double d = nn_cpu_clock(ex) - since;
#pragma omp atomic
	ex->prof[work] += d;
}

#endif
