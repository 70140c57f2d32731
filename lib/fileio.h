/* Files: opening inputs ("-" is stdin) and writing outputs that appear
 * complete or not at all (temp file in the same directory, then rename).
 * An existing device or FIFO (/dev/null, a named pipe) is written in place,
 * as renaming over it would replace it. */
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
};
/* Creates the temp file next to path (or opens a device or FIFO). */
int atomic_open(struct atomic_file *af, const char *path);
/* Flushes, closes and renames into place; on failure removes the temp file. */
int atomic_commit(struct atomic_file *af);
/* Closes and removes the temp file (safe to call twice or after commit). */
void atomic_abort(struct atomic_file *af);
/* Removes every temp file still open (for signal and exit paths). */
void atomic_abort_all(void);

#endif
