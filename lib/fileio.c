#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"

int file_open_read(const char *path)
{
	int fd;
	if (!path || !strcmp(path, "-"))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return tf_seterr("cannot open %s: %s", path, strerror(errno));
	return fd;
}

/* Open temp files, so that an exit on error can remove them. */
#define MAX_OPEN 64
static struct atomic_file *open_files[MAX_OPEN];

static void track(struct atomic_file *af, int on)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (on ? !open_files[i] : open_files[i] == af) {
			open_files[i] = on ? af : NULL;
			return;
		}
}

static void cleanup_at_exit(void)
{
	atomic_abort_all();
}

/* A run stopped by a signal (Ctrl-C, timeout, kill) removes its temp files
 * too: unlink is async-signal-safe; then the signal does what it would
 * have done (SA_RESETHAND). Only signals the program leaves at their
 * default are taken. */
static void cleanup_on_signal(int sig)
{
	for (int i = 0; i < MAX_OPEN; i++) {
		const struct atomic_file *af = open_files[i];
		if (af && af->tmp)
			unlink(af->tmp);
	}
	raise(sig);
}

static void catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXCPU, SIGXFSZ};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction old, sa = {0};
		if (sigaction(sigs[i], NULL, &old) || old.sa_handler != SIG_DFL)
			continue;
		sa.sa_handler = cleanup_on_signal;
		sa.sa_flags = SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

int atomic_open(struct atomic_file *af, const char *path)
{
	static int registered;
	size_t n = strlen(path);
	struct stat st;
	memset(af, 0, sizeof *af);
	af->fd = -1;
	if (!(af->path = strdup(path)))
		return tf_seterr("out of memory");
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		/* a device or FIFO (/dev/null, a named pipe): renaming over it
		 * would replace it, so it is written in place */
		if ((af->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
			int e = errno;
			free(af->path);
			memset(af, 0, sizeof *af);
			return tf_seterr("cannot open %s: %s", path, strerror(e));
		}
	} else {
		/* a dot-name next to the target: same filesystem, so rename is atomic */
		const char *slash = strrchr(path, '/');
		size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
		if (!(af->tmp = malloc(n + 16))) {
			free(af->path);
			return tf_seterr("out of memory");
		}
		snprintf(af->tmp, n + 16, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
		if ((af->fd = mkstemp(af->tmp)) < 0) {
			int e = errno;
			free(af->path);
			free(af->tmp);
			memset(af, 0, sizeof *af);
			return tf_seterr("cannot create %s: %s", path, strerror(e));
		}
		/* mkstemp makes 0600; give the file the mode a plain fopen would */
		mode_t mask = umask(0);
		umask(mask);
		fchmod(af->fd, 0666 & ~mask);
	}
	if (!(af->fp = fdopen(af->fd, "wb"))) {
		int e = errno;
		if (af->tmp)
			unlink(af->tmp);
		close(af->fd);
		free(af->path);
		free(af->tmp);
		memset(af, 0, sizeof *af);
		return tf_seterr("cannot open %s: %s", path, strerror(e));
	}
	if (!registered) {
		atexit(cleanup_at_exit);
		catch_signals();
		registered = 1;
	}
	track(af, 1);
	return 0;
}

int atomic_commit(struct atomic_file *af)
{
	int bad;
	if (!af->fp)
		return tf_seterr("output file is not open");
	bad = fflush(af->fp) != 0 || ferror(af->fp);
	bad |= fclose(af->fp) != 0;
	af->fp = NULL;
	if (bad) {
		int e = errno;
		atomic_abort(af);
		return tf_seterr("error writing %s: %s", af->path ? af->path : "output",
				 e ? strerror(e) : "write failed");
	}
	if (af->tmp && rename(af->tmp, af->path)) {
		int e = errno;
		char *p = af->path;
		af->path = NULL;
		atomic_abort(af);
		tf_seterr("cannot rename to %s: %s", p, strerror(e));
		free(p);
		return -1;
	}
	track(af, 0);
	free(af->tmp);
	free(af->path);
	memset(af, 0, sizeof *af);
	return 0;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->fp)
		fclose(af->fp);
	if (af->tmp)
		unlink(af->tmp);
	track(af, 0);
	free(af->tmp);
	free(af->path);
	memset(af, 0, sizeof *af);
}

void atomic_abort_all(void)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (open_files[i])
			atomic_abort(open_files[i]);
}
