/* Frames or seconds (lib/duration.c): parsing and the rounding rule. */
#include <string.h>

#include "duration.h"
#include "error.h"
#include "test.h"

static long frames_of(const char *s, int rate, int hop)
{
	struct duration d;
	if (duration_parse(s, "--segment", 1 << 20, &d))
		return -2;
	return duration_frames(&d, "--segment", rate, hop, 1 << 20);
}

int main(void)
{
	ok(frames_of("259", 44100, 256) == 259, "frames pass through");
	ok(frames_of("0", 44100, 256) == 0, "0 frames");
	ok(frames_of("3s", 44100, 256) == 517, "3s at 44.1 kHz, hop 256: 516.8 -> 517");
	ok(frames_of("1.5s", 44100, 256) == 258, "1.5s: 258.4 -> 258");
	ok(frames_of("0s", 44100, 256) == 0, "0s is 0 frames");
	ok(frames_of(".5s", 16000, 100) == 80, ".5s at 16 kHz, hop 100: 80");
	ok(frames_of("0.0125s", 16000, 100) == 2, "a half frame rounds up: 1.5 -> 2");
	ok(frames_of("0.0075s", 16000, 100) == 1, "1.2 -> 1");
	const char *bad[] = {"", "s", "3x", "-1", "-1s", "1e3s", "infs", "nans", "0x10", " 3", "3 ", "3ss", "3.s.s",
			     "+3", "2000000"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct duration d;
		int rc = duration_parse(bad[i], "--segment", 1 << 20, &d);
		ok(rc == -1 && !strncmp(tf_strerror(), "--segment: ", 11), "'%s' refused: %s", bad[i], tf_strerror());
	}
	struct duration d;
	ok(duration_parse("100000s", "--segment", 1 << 20, &d) == 0 &&
		   duration_frames(&d, "--segment", 44100, 256, 1 << 20) == -1,
	   "too many seconds refused once in frames: %s", tf_strerror());
	ok(duration_parse("1s", "--segment", 1 << 20, &d) == 0 && duration_frames(&d, "--segment", 0, 256, 100) == -1,
	   "no sample rate: refused");
	return test_done();
}
