/* A track directory that appears complete or not at all: the five WAV
 * files are written into DIR/.NAME.XXXXXX and the directory is renamed to
 * DIR/NAME once they are all closed. A signal or an exit on error removes
 * the temporary directory (corpus_track_abort). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio.h"
#include "corpus/corpus.h"
#include "error.h"

static const char *const file_names[CORPUS_STEMS + 1] = {"mixture.wav", "vocals.wav", "drums.wav", "bass.wav",
							  "other.wav"};
/* The directory being written and its files' paths: plain arrays, so that
 * a signal handler can remove them. */
static char tmp_dir[PATH_MAX];
static char tmp_files[CORPUS_STEMS + 1][PATH_MAX + 16];
static volatile sig_atomic_t tmp_active;

void corpus_track_abort(void)
{
	if (!tmp_active)
		return;
	for (int i = 0; i <= CORPUS_STEMS; i++)
		unlink(tmp_files[i]);
	rmdir(tmp_dir);
	tmp_active = 0;
}

int corpus_track_done(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int write_wav(const char *path, const float *audio, int64_t frames)
{
	struct audio_format fmt = {AUDIO_WAV, AUDIO_FLOAT, CORPUS_RATE, CORPUS_CHANNELS, 0, 0};
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return tf_seterr("cannot create %s: %s", path, strerror(errno));
	struct audio_writer *w = audio_writer_open(fd, &fmt, frames);
	int bad = !w;
	for (int64_t i = 0; !bad && i < frames; i += 1 << 16) {
		size_t n = (size_t)(frames - i < 1 << 16 ? frames - i : 1 << 16);
		bad = audio_write(w, audio + i * CORPUS_CHANNELS, n) != 0;
	}
	if (w && audio_writer_close(w))
		bad = 1;
	if (close(fd) && !bad) {
		tf_seterr("error writing %s: %s", path, strerror(errno));
		return -1;
	}
	return bad ? tf_adderr("%s: ", path) : 0;
}

int corpus_write_track(const char *dir, const char *name, float *const stems[CORPUS_STEMS], const float *mix,
		       int64_t frames)
{
	char final[PATH_MAX];
	if (snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final ||
	    snprintf(tmp_dir, sizeof tmp_dir, "%s/.%s.XXXXXX", dir, name) >= (int)sizeof tmp_dir)
		return tf_seterr("%s/%s: path too long", dir, name);
	if (!mkdtemp(tmp_dir))
		return tf_seterr("cannot create a directory in %s: %s", dir, strerror(errno));
	for (int i = 0; i <= CORPUS_STEMS; i++)
		snprintf(tmp_files[i], sizeof tmp_files[i], "%s/%s", tmp_dir, file_names[i]);
	tmp_active = 1;
	mode_t mask = umask(0); /* mkdtemp makes 0700: give it the mode mkdir would */
	umask(mask);
	chmod(tmp_dir, 0777 & ~mask);
	for (int i = 0; i <= CORPUS_STEMS; i++)
		if (write_wav(tmp_files[i], i ? stems[i - 1] : mix, frames)) {
			corpus_track_abort();
			return -1;
		}
	if (rename(tmp_dir, final)) {
		int e = errno;
		corpus_track_abort();
		if (e == EEXIST || e == ENOTEMPTY)
			return 1; /* another run finished it first */
		return tf_seterr("cannot rename %s to %s: %s", tmp_dir, final, strerror(e));
	}
	tmp_active = 0;
	return 0;
}
