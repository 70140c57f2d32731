#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "modelpath.h"

static int is_file(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISREG(st.st_mode);
}

static int add_dir(char dirs[][4096], int n, int max, const char *dir, size_t len)
{
	if (n >= max || !len || len >= 4096)
		return n;
	for (int i = 0; i < n; i++)
		if (strlen(dirs[i]) == len && !memcmp(dirs[i], dir, len))
			return n;
	memcpy(dirs[n], dir, len);
	dirs[n][len] = 0;
	return n + 1;
}

int model_dirs(char dirs[][4096], int max)
{
	int n = 0;
	const char *env = getenv("TFSWA_MODEL_PATH");
	for (const char *p = env; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		n = add_dir(dirs, n, max, p, len);
		p = colon ? colon + 1 : p + len;
	}
	/* the checkout's models/, next to its bin/; then an installation's
	 * share/tfswa/models next to its bin/ (wherever PREFIX was, also when
	 * it was moved or staged with DESTDIR: nothing is compiled in) */
	static const char *const beside[] = {"/../models", "/../share/tfswa/models"};
	for (int b = 0; b < 2; b++) {
		char exe[4096];
		ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (len <= 0)
			break;
		exe[len] = 0;
		char *slash = strrchr(exe, '/');
		if (slash && (size_t)(slash - exe) + strlen(beside[b]) + 1 <= sizeof exe) {
			strcpy(slash, beside[b]);
			char real[PATH_MAX];
			if (realpath(exe, real))
				n = add_dir(dirs, n, max, real, strlen(real));
		}
	}
	return n;
}

int model_resolve(const char *arg, char *path, size_t size)
{
	if (!arg || !*arg)
		arg = getenv("TFSWA_MODEL");
	if (!arg || !*arg)
		return tf_seterr("no model given: use -m MODEL (a file or a name; tf-export --list) or set TFSWA_MODEL");
	if (!strcmp(arg, "-") || strchr(arg, '/') || is_file(arg)) {
		if (strlen(arg) >= size)
			return tf_seterr("model path too long");
		strcpy(path, arg);
		return 0;
	}
	char dirs[MODEL_DIRS_MAX][4096], where[1024] = "";
	int n = model_dirs(dirs, MODEL_DIRS_MAX);
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			char cand[8192];
			if (strlen(dirs[i]) + strlen(arg) + sizeof "/.bin" > sizeof cand)
				continue;
			snprintf(cand, sizeof cand, k ? "%.4095s/%.4000s" : "%.4095s/%.4000s.bin", dirs[i], arg);
			if (is_file(cand)) {
				if (strlen(cand) >= size)
					return tf_seterr("model path too long");
				strcpy(path, cand);
				return 0;
			}
		}
		size_t w = strlen(where);
		snprintf(where + w, sizeof where - w, "%s%.200s", i ? ", " : "", dirs[i]);
	}
	return tf_seterr("%s: no such model file, and no model of that name in %s (see tf-export --list)", arg,
			 where);
}
