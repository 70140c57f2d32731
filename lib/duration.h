/* Lengths in STFT frames that a user may give in frames ("259") or in
 * seconds ("3s", "1.5s"): options such as tf-unet --segment and --overlap.
 * Seconds become frames once the sample rate and hop are known:
 * round(seconds x rate / hop), halves rounded up, so "3s" at 44.1 kHz and
 * hop 256 is round(516.8) = 517 frames. */
#ifndef TF_DURATION_H
#define TF_DURATION_H

struct duration {
	int in_seconds;  /* 1: seconds is set; 0: frames is */
	double seconds;
	long frames;
};

/* Parses "N" (frames, 0 <= N <= max_frames) or "Xs" (seconds, finite,
 * X >= 0). -1 with a message naming what on bad input. */
int duration_parse(const char *s, const char *what, long max_frames, struct duration *d);

/* The length in frames at rate Hz and hop samples; -1 with a message if it
 * comes to more than max_frames (or rate or hop is not positive). */
long duration_frames(const struct duration *d, const char *what, int rate, int hop, long max_frames);

#endif
