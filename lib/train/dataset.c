#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "tensor.h"
#include "train/dataset.h"

static char *file_path(const struct dataset *d, int t, int f)
{
	const char *name = d->files[f];
	size_t n = strlen(d->tracks[t].dir) + strlen(name) + 6;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s.wav", d->tracks[t].dir, name);
	return p;
}

static int subdir(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Checks file f of track t against the dataset; sets the track's length
 * from the first file. */
static int check_file(struct dataset *d, int t, int f)
{
	struct ds_track *tr = &d->tracks[t];
	char *path = file_path(d, t, f);
	SF_INFO info = {0};
	SNDFILE *sf;
	int rc = 0;
	if (!path)
		return tf_seterr("out of memory");
	if (!(sf = sf_open(path, SFM_READ, &info))) {
		struct stat st;
		if (stat(path, &st))
			rc = tf_seterr("%s: missing (every track needs mixture.wav and one WAV per stem)", path);
		else
			rc = tf_seterr("%s: cannot read audio: %s", path, sf_strerror(NULL));
		free(path);
		return rc;
	}
	sf_close(sf);
	if (!d->sample_rate)
		d->sample_rate = info.samplerate;
	if (!d->channels)
		d->channels = info.channels;
	if (info.samplerate != d->sample_rate)
		rc = tf_seterr("%s: sample rate %d Hz, but %d Hz expected (all files must have one rate)", path,
			       info.samplerate, d->sample_rate);
	else if (info.channels != d->channels && info.channels != 1 && d->channels != 1)
		rc = tf_seterr("%s: %d channels, but %d expected (or mono)", path, info.channels, d->channels);
	else if (tr->frames < 0)
		tr->frames = info.frames;
	else if (info.frames != tr->frames)
		rc = tf_seterr("%s: %lld samples, but the track's other files have %lld (stems and mixture must "
			       "have the same length)", path, (long long)info.frames, (long long)tr->frames);
	tr->file_channels[f] = info.channels;
	free(path);
	return rc;
}

/* Whether file f of track t is there (a regular file). */
static int has_file(const struct dataset *d, int t, int f)
{
	char *path = file_path(d, t, f);
	struct stat st;
	int there = path && !stat(path, &st) && S_ISREG(st.st_mode);
	free(path);
	return there;
}

/* The files of each stem (struct dataset), from track t's folder. */
static void plan_files(struct dataset *d, int t)
{
	static const char *const parts[] = {"drums", "bass", "other"};
	d->nfiles = 0;
	for (int s = 0; s <= d->nstems; s++) {
		d->first[s] = d->nfiles;
		snprintf(d->files[d->nfiles], sizeof d->files[0], "%s", s < d->nstems ? d->stems[s] : "mixture");
		if (s < d->nstems && !strcmp(d->stems[s], "accompaniment") && !has_file(d, t, d->nfiles))
			for (int k = 0; k < 3; k++)
				snprintf(d->files[d->nfiles++], sizeof d->files[0], "%s", parts[k]);
		else
			d->nfiles++;
	}
	d->first[d->nstems + 1] = d->nfiles;
}

int dataset_open(struct dataset *d, const char *dir, const char (*stems)[32], int nstems, int rate,
		 int channels)
{
	struct dirent **names;
	memset(d, 0, sizeof *d);
	if (nstems < 1 || nstems > MODEL_MAX_STEMS)
		return tf_seterr("%d stems: 1 to %d", nstems, MODEL_MAX_STEMS);
	d->nstems = nstems, d->sample_rate = rate, d->channels = channels;
	memcpy(d->stems, stems, (size_t)nstems * sizeof *stems);
	int n = scandir(dir, &names, subdir, alphasort);
	if (n < 0)
		return tf_seterr("%s: %s", dir, strerror(errno));
	int rc = 0;
	if (n > DATASET_MAX_TRACKS)
		rc = tf_seterr("%s: more than %d tracks", dir, DATASET_MAX_TRACKS);
	else if (!(d->tracks = calloc((size_t)(n ? n : 1), sizeof *d->tracks)))
		rc = tf_seterr("out of memory");
	for (int i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		struct stat st;
		if (!rc && !path)
			rc = tf_seterr("out of memory");
		if (!rc) {
			snprintf(path, len, "%s/%s", dir, names[i]->d_name);
			if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
				free(path); /* a stray file beside the track folders */
			} else {
				struct ds_track *tr = &d->tracks[d->ntracks++];
				tr->dir = path;
				tr->name = path + strlen(dir) + 1;
				tr->frames = -1;
				if (d->ntracks == 1)
					plan_files(d, 0);
				for (int f = 0; f < d->nfiles && !rc; f++)
					rc = check_file(d, d->ntracks - 1, f);
			}
		} else {
			free(path);
		}
		free(names[i]);
	}
	free(names);
	if (!rc && !d->ntracks)
		rc = tf_seterr("%s: no track folders (expected %s/<track>/mixture.wav and a WAV per stem)", dir, dir);
	if (rc)
		dataset_free(d);
	return rc;
}

void dataset_free(struct dataset *d)
{
	for (int t = 0; t < d->ntracks; t++)
		free(d->tracks[t].dir);
	free(d->tracks);
	memset(d, 0, sizeof *d);
}

int64_t dataset_frames(const struct dataset *d)
{
	int64_t n = 0;
	for (int t = 0; t < d->ntracks; t++)
		n += d->tracks[t].frames;
	return n;
}

/* dataset_read for one file f. */
static int read_file(const struct dataset *d, int t, int f, int64_t offset, int64_t n, float *out)
{
	const struct ds_track *tr = &d->tracks[t];
	int C = d->channels, fc = tr->file_channels[f];
	int64_t avail = tr->frames - offset, got = 0;
	char *path = file_path(d, t, f);
	float *buf = NULL;
	SF_INFO info = {0};
	SNDFILE *sf = NULL;
	int rc = 0;
	if (avail < 0)
		avail = 0;
	if (avail > n)
		avail = n;
	if (!path || !(buf = tf_alloc((size_t)(avail ? avail : 1) * (size_t)fc, sizeof *buf)))
		rc = tf_seterr("out of memory");
	else if (avail && !(sf = sf_open(path, SFM_READ, &info)))
		rc = tf_seterr("%s: cannot read audio: %s", path, sf_strerror(NULL));
	else if (avail && (info.channels != fc || sf_seek(sf, offset, SEEK_SET) != offset))
		rc = tf_seterr("%s: changed since the dataset was opened, or cannot seek to sample %lld", path,
			       (long long)offset);
	else if (avail && (got = sf_readf_float(sf, buf, avail)) != avail)
		rc = tf_seterr("%s: read %lld of %lld samples at %lld: the file is damaged or cut short", path,
			       (long long)got, (long long)avail, (long long)offset);
	/* NaN would pass the silence test as "silent" and be redrawn forever */
	for (size_t i = 0; !rc && i < (size_t)avail * (size_t)fc; i++)
		if (!isfinite(buf[i]))
			rc = tf_seterr("%s: sample %lld (channel %d) is not finite (%g)", path,
				       (long long)offset + (long long)(i / (size_t)fc), (int)(i % (size_t)fc) + 1,
				       (double)buf[i]);
	if (!rc) {
		for (int c = 0; c < C; c++) {
			float *o = out + (size_t)c * (size_t)n;
			int fcc = fc == 1 ? 0 : c;
			if (C == 1 && fc > 1) /* a mono model: the channels' average */
				for (int64_t i = 0; i < avail; i++) {
					float sum = 0;
					for (int k = 0; k < fc; k++)
						sum += buf[(size_t)i * fc + k];
					o[i] = sum / (float)fc;
				}
			else
				for (int64_t i = 0; i < avail; i++)
					o[i] = buf[(size_t)i * fc + fcc];
			memset(o + avail, 0, (size_t)(n - avail) * sizeof *o);
		}
	}
	if (sf)
		sf_close(sf);
	free(buf);
	free(path);
	return rc;
}

int dataset_read(const struct dataset *d, int t, int s, int64_t offset, int64_t n, float *out)
{
	int f0 = d->first[s], f1 = d->first[s + 1];
	size_t len = (size_t)d->channels * (size_t)n;
	float *part = NULL;
	if (read_file(d, t, f0, offset, n, out))
		return -1;
	if (f1 - f0 > 1 && !(part = tf_alloc(len, sizeof *part)))
		return tf_seterr("out of memory");
	for (int f = f0 + 1; f < f1; f++) {
		if (read_file(d, t, f, offset, n, part)) {
			free(part);
			return -1;
		}
		for (size_t i = 0; i < len; i++)
			out[i] += part[i];
	}
	free(part);
	return 0;
}
