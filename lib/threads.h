/* How many threads a program runs on. */
#ifndef TF_THREADS_H
#define TF_THREADS_H

/* The thread count to use: want, or OpenMP's default when want is 0. If
 * the system will not create that many threads now (a process or memory
 * limit), fewer: half of those it would create, and no more than the
 * cores, with a warning naming the program and the count it runs on
 * (libgomp would print its own message and exit at the first parallel
 * region). Also made OpenMP's default, and the team started, for the
 * regions that take it from there. At least 1, at most THREADS_MAX. */
#define THREADS_MAX 1024
int threads_choose(int want);

#endif
