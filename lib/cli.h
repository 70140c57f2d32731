/* Shared command-line plumbing for the programs in cmd/: the one error
 * function, number parsing, --version text, progress bar, stdout closing.
 * Library code never calls die(); it returns errors (see error.h). */
#ifndef TF_CLI_H
#define TF_CLI_H
#include <stdint.h>
#include <stdio.h>

extern const char *progname;

/* "progname: message" on stderr, and exit. The status: 2 for a bad command
 * line (an unknown option, a bad option value, wrong arguments), which is
 * while main checks it, between args_begin() and args_end(); 1 for any
 * error after that. */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void args_begin(void);
void args_end(void);
/* die() with status 2 for a bad command line found later (an option that
 * does not fit the model, say). */
_Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the usage text given by the program to stdout (for --help),
 * checks that it was written, and exits 0. */
_Noreturn void help_exit(void (*usage)(FILE *));
/* die() with the library's last error message after a context prefix. */
_Noreturn void die_lib(const char *context);
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Verbosity from -v flags; info() prints only when verbose > 0. */
extern int verbose;
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options every program shares, handled here once: -q (--quiet) sets
 * verbose to -1, -v (--verbose) adds one, -h (--help) prints the usage to
 * stdout and exits 0, -V (--version) prints the version and exits 0. Call
 * it with each option getopt returns: 1 when it was one of these (done),
 * 0 when it is the program's own. A program offers the ones its getopt
 * string and option table name. */
int common_option(int opt, void (*usage)(FILE *));

/* Strict number parsing for option values; exit 2 naming opt on bad input. */
long parse_long(const char *s, const char *opt, long min, long max);
double parse_double(const char *s, const char *opt, double min, double max);

/* The kernels chosen on this CPU, "gemm ...; narrow products ...; ...",
 * without a newline: --version and tf-bench's footer print the same list. */
void print_kernels(FILE *fp);

/* Prints "<progname> (tfswa) <version>" and the kernels chosen on this CPU.
 * version_exit() does so, checks that it was written, and exits 0. */
void print_version(void);
_Noreturn void version_exit(void);

/* Flushes and closes stdout; die()s if anything written was lost (full
 * disk, broken pipe). Call at the end of main of every program. */
void close_stdout(void);

/* Outputs: NULL or "-" is standard output, refused when it is a terminal
 * (what says what would be written there, e.g. "a binary stream"); a file
 * name goes through atomic_open (complete or not at all). Returns the
 * stream; af->fd is its descriptor. output_close commits the file or closes
 * standard output, and die()s if anything was lost. */
struct atomic_file;
FILE *output_open(const char *path, struct atomic_file *af, const char *what);
void output_close(struct atomic_file *af);

/* Progress bar on stderr, only when stderr is a terminal and verbose >= 0.
 * total may be 0 when unknown (then a counter is shown). */
struct progress {
	const char *label;
	int64_t total, done;
	double start, last;
	int active;
};
void progress_start(struct progress *p, const char *label, int64_t total);
void progress_update(struct progress *p, int64_t done);
void progress_end(struct progress *p);

/* Opens a file argument for reading; "-" or NULL means stdin. Returns fd. */
int open_input(const char *path);

#endif
