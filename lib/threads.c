#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "threads.h"

/* The probe's threads wait until every one has been created, so that they
 * are alive at once as OpenMP's team will be. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go;

static void *wait_for_go(void *unused)
{
	pthread_mutex_lock(&lock);
	while (!go)
		pthread_cond_wait(&go_cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Threads the process can have besides this one, up to want - 1 (the
 * error of the first refusal in *err). */
static int probe(int want, int *err)
{
	pthread_t t[THREADS_MAX];
	int n = 0;
	go = 0;
	*err = 0;
	while (n < want - 1 && n < (int)(sizeof t / sizeof *t)) {
		if ((*err = pthread_create(&t[n], NULL, wait_for_go, NULL)))
			break;
		n++;
	}
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return n;
}

int threads_choose(int want)
{
	int err, got;
	if (want <= 0)
		want = omp_get_max_threads();
	want = want < 1 ? 1 : want > THREADS_MAX ? THREADS_MAX : want;
	if (want > 1 && (got = probe(want, &err)) < want - 1) {
		/* under a memory limit the stacks took all the room: half of
		 * them, and no more than the cores, leaves the data some */
		int use = (got + 1) / 2, cores = omp_get_num_procs();
		use = use > cores ? cores : use < 1 ? 1 : use;
		warn("cannot create %d threads (%s); running on %d", want, strerror(err), use);
		want = use;
	}
	omp_set_num_threads(want);
	/* libgomp keeps a team's threads for the regions after it: made now,
	 * while the probe's room is still free, they need none later */
	int started = 0;
#pragma omp parallel num_threads(want) reduction(+ : started)
	started++;
	return started < want ? started : want;
}

/* GOMP_SPINCOUNT as this program set it for itself, or "" */
static char chosen[32];

void threads_wait_policy(char **argv)
{
	char spin[32];
	if (getenv("TFSWA_SPIN_SET")) {
		/* the re-executed program: libgomp has read the setting, and the
		 * programs this one runs (a comparator in tf-bench) get the
		 * environment the user gave */
		snprintf(chosen, sizeof chosen, "%s", getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "");
		unsetenv("GOMP_SPINCOUNT");
		unsetenv("TFSWA_SPIN_SET");
		return;
	}
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
		return;
	snprintf(spin, sizeof spin, "%d", THREADS_SPIN);
	/* TFSWA_SPIN_SET: the program after the exec knows it is that one */
	if (setenv("GOMP_SPINCOUNT", spin, 1) || setenv("TFSWA_SPIN_SET", "1", 1))
		return;
	/* the program's own path, so that ps and top show its name rather
	 * than "exe" */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0 && n < (ssize_t)sizeof self - 1) {
		self[n] = 0;
		execv(self, argv);
	}
	/* no /proc: go on with libgomp's default, and say so only under -v */
	unsetenv("GOMP_SPINCOUNT");
}

const char *threads_wait_describe(void)
{
	static char buf[96];
	const char *policy = getenv("OMP_WAIT_POLICY"), *spin = *chosen ? chosen : getenv("GOMP_SPINCOUNT");
	if (policy)
		snprintf(buf, sizeof buf, "OMP_WAIT_POLICY=%s", policy);
	else if (spin)
		snprintf(buf, sizeof buf, "spin %s rounds, then sleep (GOMP_SPINCOUNT)", spin);
	else
		snprintf(buf, sizeof buf, "libgomp's default waiting");
	return buf;
}
