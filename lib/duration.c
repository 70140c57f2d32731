#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "error.h"

int duration_parse(const char *s, const char *what, long max_frames, struct duration *d)
{
	char *end;
	size_t n = strlen(s);
	*d = (struct duration){0};
	errno = 0;
	if (n > 1 && s[n - 1] == 's') {
		double v = strtod(s, &end);
		/* strtod takes "inf", "nan" and hex; a number of seconds is plain */
		if (errno || end != s + n - 1 || !isfinite(v) || strspn(s, "0123456789.") != n - 1)
			return tf_seterr("%s: '%s' is not a number of seconds (e.g. 3s or 1.5s)", what, s);
		d->in_seconds = 1;
		d->seconds = v;
		return 0;
	}
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || strspn(s, "0123456789") != n)
		return tf_seterr("%s: '%s' is not a number of frames or of seconds (e.g. 259 or 3s)", what, s);
	if (v > max_frames)
		return tf_seterr("%s: %ld frames is out of range (0 to %ld)", what, v, max_frames);
	d->frames = v;
	return 0;
}

long duration_frames(const struct duration *d, const char *what, int rate, int hop, long max_frames)
{
	if (!d->in_seconds)
		return d->frames;
	if (rate < 1 || hop < 1)
		return tf_seterr("%s: %d Hz and hop %d cannot turn seconds into frames", what, rate, hop);
	double frames = floor(d->seconds * rate / hop + 0.5);
	if (!(frames <= (double)max_frames))
		return tf_seterr("%s: %gs is %.0f frames at %d Hz and hop %d, more than %ld", what, d->seconds,
				 frames, rate, hop, max_frames);
	return (long)frames;
}
