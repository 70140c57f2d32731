/* Models by name: "-m compact" finds compact.bin in the model directories.
 * The directories, searched in this order:
 *   1. each directory of $TFSWA_MODEL_PATH (colon-separated),
 *   2. models/ of the checkout the program runs from (<binary's dir>/../models),
 *   3. share/tfswa/models next to the program's bin/: an installation's
 *      $(PREFIX)/share/tfswa/models, found from where the program is (also
 *      when moved or staged with DESTDIR; no path is compiled in).
 * When a program gets no -m, $TFSWA_MODEL is the model (a name or a path). */
#ifndef TF_MODELPATH_H
#define TF_MODELPATH_H
#include <stddef.h>

#define MODEL_DIRS_MAX 16

/* The model a program should load: arg (its -m, may be NULL: then
 * $TFSWA_MODEL) as a path when it names a file that exists, contains a '/',
 * or is "-"; otherwise as a name, NAME.bin (or NAME) in the first model
 * directory that has it. path receives the result (size bytes). -1 with
 * a message (no model given; not found, and where it was looked for). */
int model_resolve(const char *arg, char *path, size_t size);

/* The model directories in search order, as written above (whether they
 * exist or not; duplicates removed). Returns how many (at most max). */
int model_dirs(char dirs[][4096], int max);

#endif
