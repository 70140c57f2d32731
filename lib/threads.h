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

/* How OpenMP's threads wait for work between parallel regions. libgomp
 * spins 300,000 rounds before it sleeps when OMP_WAIT_POLICY is unset, and
 * on a machine whose cores are busy with other processes those spins take
 * the time slices the other threads need: a small model on two threads ran
 * 6x slower than on one. Unless the environment says otherwise
 * (OMP_WAIT_POLICY or GOMP_SPINCOUNT), this re-executes the program (argv,
 * /proc/self/exe) with GOMP_SPINCOUNT=THREADS_SPIN, since libgomp reads its
 * settings when it is loaded. Call first thing in main; on any failure it
 * returns and the program runs as it is. */
#define THREADS_SPIN 10000
void threads_wait_policy(char **argv);
/* "spin 10000, then sleep (GOMP_SPINCOUNT)" or the like: for -v. */
const char *threads_wait_describe(void);

#endif
