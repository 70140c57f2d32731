#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* The outputs being written, in a table of fixed strings that a signal
 * handler can read without allocating: slot i is in use while open_files[i]
 * is set; slot_state[i] says what to remove on a signal: the temp file
 * (TEMP), or the final file of a set being committed whose other members
 * are not renamed yet (RENAMED). Written before the state is set, so a
 * handler never sees half a name. */
#define MAX_OPEN 64
enum { FREE, TEMP, RENAMED };
static struct atomic_file *open_files[MAX_OPEN];
static char slot_tmp[MAX_OPEN][PATH_MAX], slot_final[MAX_OPEN][PATH_MAX];
static volatile sig_atomic_t slot_state[MAX_OPEN];

/* Directories made for outputs, removed again (when empty) on failure. */
#define MAX_DIRS 32
static char made_dirs[MAX_DIRS][PATH_MAX];
static volatile sig_atomic_t nmade_dirs;

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXCPU, SIGXFSZ};

void atomic_remove_temps(void)
{
	for (int i = 0; i < MAX_OPEN; i++) {
		if (slot_state[i] == TEMP)
			unlink(slot_tmp[i]);
		else if (slot_state[i] == RENAMED)
			unlink(slot_final[i]);
		slot_state[i] = FREE;
	}
	for (int i = nmade_dirs - 1; i >= 0; i--)
		rmdir(made_dirs[i]);
}

static void on_signal(int sig)
{
	atomic_remove_temps();
	/* the handler was reset to the default (SA_RESETHAND): die of the
	 * signal once it returns, so the parent sees what happened */
	raise(sig);
}

/* For each cleanup signal still at its default: the handler. Signals that
 * are ignored (nohup) or handled by the program are left alone. */
static void install_handlers(void)
{
	for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
		struct sigaction old, sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
		if (sigaction(cleanup_signals[i], NULL, &old) || (old.sa_flags & SA_SIGINFO) ||
		    old.sa_handler != SIG_DFL)
			continue;
		sigfillset(&sa.sa_mask);
		sigaction(cleanup_signals[i], &sa, NULL);
	}
}

/* Blocks the cleanup signals in this thread while the table and the files
 * on disk disagree (a temp file made but not yet listed, and the like). */
static void block_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++)
		sigaddset(&set, cleanup_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void unblock_signals(const sigset_t *old) { sigprocmask(SIG_SETMASK, old, NULL); }

/* Makes the missing directories above the file path, like mkdir -p. */
static int make_parents(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof dir)
		return tf_seterr("%s: name too long", path);
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		struct stat st;
		*p = 0;
		if (p[-1] != '/' && stat(dir, &st)) {
			int made = !mkdir(dir, 0777);
			if (!made && errno != EEXIST)
				return tf_seterr("cannot create directory %s: %s", dir, strerror(errno));
			if (made && nmade_dirs < MAX_DIRS) { /* not one another process just made */
				memcpy(made_dirs[nmade_dirs], dir, (size_t)(p - dir) + 1);
				nmade_dirs++;
			}
		} else if (p[-1] != '/' && !S_ISDIR(st.st_mode)) {
			return tf_seterr("cannot create %s: %s is not a directory", path, dir);
		}
		*p = '/';
	}
	return 0;
}

static void cleanup_at_exit(void)
{
	atomic_abort_all();
}

/* Frees the file's names and its slot; the file itself is dealt with. */
static void release(struct atomic_file *af)
{
	if (af->slot) {
		slot_state[af->slot - 1] = FREE;
		open_files[af->slot - 1] = NULL;
	}
	free(af->tmp);
	free(af->path);
	memset(af, 0, sizeof *af);
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
			release(af);
			return tf_seterr("cannot open %s: %s", path, strerror(e));
		}
	} else {
		/* a dot-name next to the target: same filesystem, so rename is atomic */
		const char *slash = strrchr(path, '/');
		size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
		int slot = 0;
		sigset_t old;
		while (slot < MAX_OPEN && open_files[slot])
			slot++;
		if (slot == MAX_OPEN) {
			release(af);
			return tf_seterr("%s: more than %d outputs at once", path, MAX_OPEN);
		}
		if (n + 16 > PATH_MAX) {
			release(af);
			return tf_seterr("%s: name too long", path);
		}
		if (!(af->tmp = malloc(n + 16))) {
			release(af);
			return tf_seterr("out of memory");
		}
		install_handlers();
		block_signals(&old);
		snprintf(af->tmp, n + 16, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
		if ((af->fd = mkstemp(af->tmp)) < 0 && errno == ENOENT && dir) {
			if (make_parents(path)) {
				unblock_signals(&old);
				release(af);
				return -1;
			}
			snprintf(af->tmp, n + 16, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
			af->fd = mkstemp(af->tmp);
		}
		if (af->fd < 0) {
			int e = errno;
			unblock_signals(&old);
			release(af);
			return tf_seterr("cannot create %s: %s", path, strerror(e));
		}
		memcpy(slot_tmp[slot], af->tmp, strlen(af->tmp) + 1);
		memcpy(slot_final[slot], path, n + 1);
		open_files[slot] = af;
		af->slot = slot + 1;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		slot_state[slot] = TEMP;
		unblock_signals(&old);
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
		release(af);
		return tf_seterr("cannot open %s: %s", path, strerror(e));
	}
	if (!registered) {
		atexit(cleanup_at_exit);
		registered = 1;
	}
	return 0;
}

/* Writes out, syncs (so that a crash after the rename cannot leave an empty
 * file under the final name) and closes; the temp file stays. */
static int finish(struct atomic_file *af)
{
	int bad, e = 0;
	if (!af->fp)
		return tf_seterr("output file is not open");
	bad = fflush(af->fp) != 0 || ferror(af->fp);
	if (bad)
		e = errno;
	if (!bad && af->tmp && fsync(af->fd) && errno != EINVAL)
		bad = 1, e = errno;
	if (fclose(af->fp) && !bad)
		bad = 1, e = errno;
	af->fp = NULL;
	if (bad)
		return tf_seterr("error writing %s: %s", af->path, e ? strerror(e) : "write failed");
	return 0;
}

int atomic_commit_set(struct atomic_file *const *afs, int n)
{
	int failed = -1;
	for (int i = 0; i < n && failed < 0; i++)
		if (finish(afs[i]))
			failed = i;
	for (int i = 0; i < n && failed < 0; i++) {
		struct atomic_file *af = afs[i];
		sigset_t old;
		if (!af->tmp)
			continue;
		block_signals(&old);
		if (rename(af->tmp, af->path)) {
			tf_seterr("cannot rename to %s: %s", af->path, strerror(errno));
			failed = i;
		} else {
			slot_state[af->slot - 1] = RENAMED;
		}
		unblock_signals(&old);
	}
	if (failed >= 0) {
		/* take back the renamed ones, remove the others' temp files */
		for (int i = 0; i < n; i++) {
			struct atomic_file *af = afs[i];
			if (af->slot && slot_state[af->slot - 1] == RENAMED) {
				unlink(af->path);
				slot_state[af->slot - 1] = FREE;
			}
			atomic_abort(af);
		}
		return -1;
	}
	for (int i = 0; i < n; i++)
		release(afs[i]);
	return 0;
}

int atomic_commit(struct atomic_file *af)
{
	return atomic_commit_set(&af, 1);
}

void atomic_abort(struct atomic_file *af)
{
	if (af->fp)
		fclose(af->fp);
	if (af->tmp && af->slot && slot_state[af->slot - 1] == TEMP)
		unlink(af->tmp);
	release(af);
}

void atomic_abort_all(void)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (open_files[i])
			atomic_abort(open_files[i]);
	for (int i = nmade_dirs - 1; i >= 0; i--)
		rmdir(made_dirs[i]);
	nmade_dirs = 0;
}

char *stem_path_expand(const char *pattern, const char *stem)
{
	size_t n = strlen(pattern) + 1, len = 0;
	for (const char *p = pattern; *p; p++)
		n += strlen(stem) * (p[0] == '%' && p[1] == 's');
	char *out = malloc(n);
	if (!out) {
		tf_seterr("out of memory");
		return NULL;
	}
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			memcpy(out + len, stem, strlen(stem)), len += strlen(stem), p++;
		} else if (p[0] == '%' && p[1] == '%') {
			out[len++] = '%', p++;
		} else if (p[0] == '%') {
			free(out);
			tf_seterr("%s: only %%s (the stem name) and %%%% may follow %%", pattern);
			return NULL;
		} else {
			out[len++] = *p;
		}
	}
	out[len] = 0;
	return out;
}
