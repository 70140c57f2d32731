/* One training step (forward + backward) of the default 15.4M network on
 * a B x 2 x H x W input, with and without checkpointing, each in its own
 * process so that its peak RSS (getrusage of the child) is its own; the
 * inference forward pass (tf-unet's unet_forward) on the same input runs
 * the same way as the comparator.
 *   build/bench/train_step [-H 1025] [-W 259] [-B 1] [-m plain,checkpoint,inference]
 * make bench-train runs 1025x259 and 513x259. Weights are random (the
 * numbers do not depend on them); other processes on the machine share the
 * cores, so times are indicative, the ratios more so. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "unet.h"
#include "unet_train.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static unsigned long long rng = 88172645463325252ull;
static float frand(void) /* uniform in [-1, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void init(struct model *m)
{
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		float *p = m->params + s->offset;
		size_t len = strlen(s->name);
		int bias = len > 5 && !strcmp(s->name + len - 5, ".bias");
		double fan = s->ndim > 1 ? (double)s->numel / (double)s->shape[0] : 1;
		for (size_t j = 0; j < s->numel; j++)
			p[j] = strstr(s->name, "running_mean") || bias ? 0.0f
			       : s->ndim == 1                          ? 1.0f
								       : frand() * (float)sqrt(3.0 / fan);
	}
}

/* The child: one run of mode, times on stdout as "key value" pairs. */
static int child(const char *mode, int B, int H, int W)
{
	struct unet_config cfg;
	struct model m;
	config_default(&cfg);
	if (model_init(&m, &cfg))
		return fprintf(stderr, "train_step: %s\n", tf_strerror()), 1;
	init(&m);
	size_t nin = (size_t)B * cfg.in_channels * H * W, nout = (size_t)B * cfg.out_channels * H * W;
	float *in = malloc(nin * sizeof *in), *masks = malloc(nout * sizeof *masks);
	for (size_t i = 0; i < nin; i++)
		in[i] = frand();
	if (!strcmp(mode, "inference")) {
		struct unet *u = unet_prepare(&m);
		double t0 = now();
		if (!u || unet_forward(u, in, B, H, W, masks, NULL, NULL))
			return fprintf(stderr, "train_step: %s\n", tf_strerror()), 1;
		printf("forward %.3f backward 0 bytes 0\n", now() - t0);
		return 0;
	}
	float *grad = calloc(m.nparams, sizeof *grad), *dmasks = malloc(nout * sizeof *dmasks);
	for (size_t i = 0; i < nout; i++)
		dmasks[i] = frand();
	struct unet_train *t = unet_train_new(&m, B, H, W, !strcmp(mode, "checkpoint"), omp_get_max_threads());
	if (!t)
		return fprintf(stderr, "train_step: %s\n", tf_strerror()), 1;
	double t0 = now();
	if (unet_train_forward(t, &m, in, masks))
		return fprintf(stderr, "train_step: %s\n", tf_strerror()), 1;
	double t1 = now();
	if (unet_train_backward(t, &m, dmasks, grad))
		return fprintf(stderr, "train_step: %s\n", tf_strerror()), 1;
	double t2 = now(), sum = 0;
	for (size_t i = 0; i < m.nparams; i++)
		sum += fabs(grad[i]);
	printf("forward %.3f backward %.3f bytes %zu\n", t1 - t0, t2 - t1, unet_train_bytes(t));
	fprintf(stderr, "# %s: sum |grad| %.6g\n", mode, sum);
	return 0;
}

int main(int argc, char **argv)
{
	int B = 1, H = 1025, W = 259, o;
	char modes[128] = "inference,plain,checkpoint";
	while ((o = getopt(argc, argv, "B:H:W:m:")) != -1) {
		switch (o) {
		case 'B': B = atoi(optarg); break;
		case 'H': H = atoi(optarg); break;
		case 'W': W = atoi(optarg); break;
		case 'm': snprintf(modes, sizeof modes, "%s", optarg); break;
		default: fprintf(stderr, "usage: train_step [-B n] [-H n] [-W n] [-m modes]\n"); return 2;
		}
	}
	printf("# default 15.4M configuration, input %d x 2 x %d x %d, %d threads\n", B, H, W,
	       omp_get_max_threads());
	printf("%-11s %10s %10s %10s %12s %12s\n", "mode", "forward_s", "backward_s", "step_s", "peak_rss_MB",
	       "held_MB");
	double rss[2] = {0}, step[3] = {0}; /* plain, checkpoint, inference */
	for (char *mode = strtok(modes, ","); mode; mode = strtok(NULL, ",")) {
		int fd[2];
		char buf[256] = "";
		if (pipe(fd))
			return perror("train_step: pipe"), 1;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(fd[1], 1);
			close(fd[0]);
			exit(child(mode, B, H, W));
		}
		close(fd[1]);
		ssize_t n = read(fd[0], buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		close(fd[0]);
		int status;
		struct rusage ru;
		wait4(pid, &status, 0, &ru);
		double f = 0, b = 0;
		size_t bytes = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) || sscanf(buf, "forward %lf backward %lf bytes %zu", &f, &b, &bytes) != 3) {
			printf("%-11s failed (status %d)\n", mode, status);
			continue;
		}
		double mb = ru.ru_maxrss / 1024.0;
		printf("%-11s %10.2f %10.2f %10.2f %12.0f %12.0f\n", mode, f, b, f + b, mb, bytes / 1048576.0);
		fflush(stdout);
		if (!strcmp(mode, "plain"))
			rss[0] = mb, step[0] = f + b;
		if (!strcmp(mode, "checkpoint"))
			rss[1] = mb, step[1] = f + b;
		if (!strcmp(mode, "inference"))
			step[2] = f;
	}
	if (rss[0] > 0 && rss[1] > 0)
		printf("# checkpointing: peak RSS %.1f%% lower, step time x%.2f\n", 100.0 * (1 - rss[1] / rss[0]),
		       step[1] / step[0]);
	for (int i = 0; i < 2; i++)
		if (step[i] > 0 && step[2] > 0)
			printf("# %s step = %.1f x the inference forward pass\n", i ? "checkpointed" : "plain",
			       step[i] / step[2]);
	return 0;
}
