/* Files: opening inputs ("-" is stdin) and writing outputs that appear
 * complete or not at all (temp file in the same directory, then rename).
 * An existing device or FIFO (/dev/null, a named pipe) is written in place,
 * as renaming over it would replace it. Missing directories on the way to
 * an output are created (and removed again if the run fails).
 *
 * SIGINT, SIGTERM and SIGHUP remove the temp files: atomic_open installs a
 * handler for each of them still at its default (one a program handles
 * itself should call atomic_remove_temps from its handler), which unlinks
 * them and dies of the signal. */
#ifndef TF_FILEIO_H
#define TF_FILEIO_H
#include <stdio.h>

/* Returns an fd for reading; NULL or "-" gives 0 (stdin). -1 with message. */
int file_open_read(const char *path);

struct atomic_file {
	char *path;   /* final name */
	char *tmp;    /* temp name in the same directory; NULL when in place */
	FILE *fp;
	int fd;
	int slot;     /* 1 + its place in the table the signal handler reads; 0 none */
};
/* Creates the temp file next to path (or opens a device or FIFO). */
int atomic_open(struct atomic_file *af, const char *path);
/* Flushes, syncs, closes and renames into place; on failure removes the
 * temp file. */
int atomic_commit(struct atomic_file *af);
/* Commits n files together: all are written out and synced first, then
 * renamed; if any step fails, the temp files are removed and so are the
 * files already renamed (whatever they replaced is lost then), so that
 * either all n appear or none. 0, or -1 with a message. */
int atomic_commit_set(struct atomic_file *const *afs, int n);
/* Closes and removes the temp file (safe to call twice or after commit). */
void atomic_abort(struct atomic_file *af);
/* Removes every temp file still open (for signal and exit paths). */
void atomic_abort_all(void);
/* Async-signal-safe: unlinks the temp files (and files of a set being
 * committed) and the directories made for them. For signal handlers. */
void atomic_remove_temps(void);

/* An output name pattern with every %s replaced by the stem name and %% by
 * % (tf-istft -o 'song-%s.wav'). Returns a malloc'd string, or NULL with a
 * message when another character follows a % or memory runs out. */
char *stem_path_expand(const char *pattern, const char *stem);

#endif
