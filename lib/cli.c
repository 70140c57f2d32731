#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "kernels/attention.h"
#include "kernels/bgemm.h"
#include "kernels/qgemm.h"
#include "kernels/gemm.h"
#include "kernels/smallgemm.h"

const char *progname = "tfswa";
int verbose;
/* die()'s exit status: 2 while the command line is being checked */
static int die_status = 1;

/* A library that aborts (an assertion in BLIS, FFTW, libsndfile...) would
 * otherwise end the program with the library's own words or none: one line
 * names the program first. Async-signal-safe: write(2) and raise. The temp
 * files of atomic outputs are removed by lib/fileio's handlers as for other
 * fatal signals. */
static void say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r; /* nothing more can be done about a failed write here */
}

static void on_abort(int sig)
{
	say(progname ? progname : "tfswa");
	say(": aborted inside a library (a bug: please report it with the input)\n");
	atomic_remove_temps();
	signal(sig, SIG_DFL);
	raise(sig);
}

void args_begin(void)
{
	die_status = 2;
	struct sigaction old, sa = {.sa_handler = on_abort, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	if (!sigaction(SIGABRT, NULL, &old) && old.sa_handler == SIG_DFL)
		sigaction(SIGABRT, &sa, NULL);
}
void args_end(void) { die_status = 1; }

static void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Under LeakSanitizer (make check-asan): a program that dies leaves its
 * buffers to main's locals, which exit() makes unreachable, so the leak
 * check at exit would list them; the system takes them back, nothing
 * leaks. The check is turned off for such a run only: runs that end
 * normally are still checked. (The runtime calls this hook at exit.) */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_LEAK__)
#define TF_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define TF_LSAN 1
#endif
#endif
#ifdef TF_LSAN
static volatile int dying;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return dying;
}
#endif

void die(const char *fmt, ...)
{
	va_list ap;
#ifdef TF_LSAN
	dying = 1;
#endif
	fflush(stdout);
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(die_status);
}

void die_usage(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(2);
}

void die_lib(const char *context)
{
	if (context && *context)
		die("%s: %s", context, tf_strerror());
	die("%s", tf_strerror());
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;
	if (verbose <= 0)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

long parse_long(const char *s, const char *opt, long min, long max)
{
	char *end;
	long v;
	int status = die_status;
	errno = 0;
	v = strtol(s, &end, 10);
	args_begin(); /* a bad option value is a bad command line */
	if (errno || end == s || *end)
		die("%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		die("%s: %ld is out of range (%ld to %ld)", opt, v, min, max);
	die_status = status;
	return v;
}

double parse_double(const char *s, const char *opt, double min, double max)
{
	char *end;
	double v;
	int status = die_status;
	errno = 0;
	v = strtod(s, &end);
	args_begin(); /* a bad option value is a bad command line */
	if (errno || end == s || *end || v != v)
		die("%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		die("%s: %g is out of range (%g to %g)", opt, v, min, max);
	die_status = status;
	return v;
}

void print_kernels(FILE *fp)
{
	fprintf(fp, "gemm %s; narrow products %s; attention %s; int8 products %s; bf16 products %s", gemm_describe(),
		smallgemm_available() ? smallgemm_kernel_name() : "BLIS", attention_kernel_name(), qgemm_kernel_name(),
		bgemm_wanted() ? bgemm_kernel_name() : "f32");
}

void print_version(void)
{
	printf("%s (tfswa) %s\nkernels: ", progname, TF_VERSION);
	print_kernels(stdout);
	putchar('\n');
}

void version_exit(void)
{
	print_version();
	args_end(); /* a lost write is no bad command line */
	close_stdout();
	exit(0);
}

void help_exit(void (*usage)(FILE *))
{
	usage(stdout);
	args_end();
	close_stdout();
	exit(0);
}

int common_option(int opt, void (*usage)(FILE *))
{
	switch (opt) {
	case 'q': verbose = -1; return 1;
	case 'v': verbose++; return 1;
	case 'h': help_exit(usage);
	case 'V': version_exit();
	default: return 0;
	}
}

void close_stdout(void)
{
	int err = ferror(stdout);
	if (fclose(stdout) || err)
		die("error writing output: %s", errno ? strerror(errno) : "write failed");
}

FILE *output_open(const char *path, struct atomic_file *af, const char *what)
{
	memset(af, 0, sizeof *af);
	if (!path || !strcmp(path, "-")) {
		if (isatty(1))
			die("will not write %s to a terminal; redirect the output or use -o FILE", what);
		af->fd = 1;
		return stdout;
	}
	if (atomic_open(af, path))
		die_lib("");
	return af->fp;
}

void output_close(struct atomic_file *af)
{
	if (!af->path)
		close_stdout();
	else if (atomic_commit(af))
		die_lib("");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_start(struct progress *p, const char *label, int64_t total)
{
	memset(p, 0, sizeof *p);
	p->label = label;
	p->total = total;
	p->start = p->last = now();
	p->active = verbose >= 0 && isatty(2);
}

void progress_update(struct progress *p, int64_t done)
{
	double t;
	p->done = done;
	if (!p->active || (t = now()) - p->last < 0.2)
		return;
	p->last = t;
	if (p->total > 0) {
		/* a total may be an estimate (MP3): never past 100 % or a negative ETA */
		int64_t d = done < p->total ? done : p->total;
		int width = 30, fill = (int)(width * (double)d / (double)p->total);
		double eta = d > 0 ? (t - p->start) * (double)(p->total - d) / (double)d : 0;
		if (fill > width)
			fill = width;
		fprintf(stderr, "\r%s: %s [%.*s%*s] %3d%% ETA %.0fs ", progname, p->label, fill,
			"##############################", width - fill, "",
			(int)(100.0 * (double)d / (double)p->total), eta);
	} else {
		fprintf(stderr, "\r%s: %s %lld (%.0fs) ", progname, p->label, (long long)done, t - p->start);
	}
}

void progress_end(struct progress *p)
{
	if (p->active && now() - p->start >= 0.2)
		fprintf(stderr, "\r%s: %s done in %.1fs%20s\n", progname, p->label, now() - p->start, "");
	p->active = 0;
}

int open_input(const char *path)
{
	return file_open_read(path);
}
