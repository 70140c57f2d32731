/* A dataset in MUSDB18's layout: one folder per track, each holding
 * mixture.wav and one WAV per stem (<stem>.wav). Opening checks every
 * file's header (readable audio, one sample rate, the channels, the same
 * length as the mixture) and keeps only the names and lengths; segments
 * are read from the files when drawn (libsndfile seeks in WAV), so the
 * dataset's size is not limited by memory. Tracks are in name order. */
#ifndef TF_TRAIN_DATASET_H
#define TF_TRAIN_DATASET_H
#include <stdint.h>

#include "model.h"

#define DATASET_MAX_TRACKS 100000
/* The files a track is read from: a stem is one file, or three when it is
 * an accompaniment summed from them; then the mixture. */
#define DATASET_MAX_FILES (3 * MODEL_MAX_STEMS + 1)

struct ds_track {
	char *dir;            /* the track's folder */
	const char *name;     /* its last component (points into dir) */
	int64_t frames;       /* samples per channel, the same in every file */
	int file_channels[DATASET_MAX_FILES]; /* per file (dataset.files): channels or 1 */
};

struct dataset {
	int sample_rate, channels, nstems;
	char stems[MODEL_MAX_STEMS][32];
	/* the files of every track: stem s is the sum of files[first[s]] up to
	 * files[first[s + 1]] (exclusive); files[first[nstems]] is the mixture */
	int nfiles, first[MODEL_MAX_STEMS + 2];
	char files[DATASET_MAX_FILES][32];
	int ntracks;
	struct ds_track *tracks;
};

/* Opens dir (e.g. ROOT/train). A stem named accompaniment that the first
 * track has no accompaniment.wav for is read as drums + bass + other, as
 * MUSDB18 (and tf-eval) build it: a vocals/accompaniment model trains on a
 * four-stem set as it is. rate and channels: what every file must
 * have (0: what the first track has; a mono file is accepted for any
 * channel count and duplicated; for channels 1, files of any channel count
 * are accepted and read as the average of their channels). An empty folder, a track without one of
 * the files, a length, rate or channel count that disagrees, or a file
 * libsndfile cannot read are errors naming the file. */
int dataset_open(struct dataset *d, const char *dir, const char (*stems)[32], int nstems, int rate,
		 int channels);
void dataset_free(struct dataset *d);
/* Reads n frames from offset of stem s of track t (s == nstems: the
 * mixture) into out [channels][n] (planar); frames past the end are zeros.
 * -1 with a message when the file cannot be read. */
int dataset_read(const struct dataset *d, int t, int s, int64_t offset, int64_t n, float *out);
/* Total frames of every track. */
int64_t dataset_frames(const struct dataset *d);

#endif
