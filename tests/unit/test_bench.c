/* The pieces tf-bench is built from that do not depend on timing: summaries
 * of repeated measurements, shape parsing, segment counts, the split of the
 * FLOP count by stage, and that the peak probe runs. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "kernels/peak.h"
#include "model.h"
#include "segment.h"
#include "tensor.h"
#include "timing.h"
#include "unet.h"
#include "test.h"

static void summaries(void)
{
	struct timing_summary s;
	double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2}, one[] = {7}, bad[] = {1, NAN};
	int rc = timing_summarise(odd, 3, &s);
	ok(rc == 0 && s.median == 2 && s.min == 1 && s.max == 3, "odd count: median is the middle value (%g, %g, %g)",
	   s.median, s.min, s.max);
	ok(odd[0] == 1 && odd[1] == 2 && odd[2] == 3, "the measurements are sorted in place");
	rc = timing_summarise(even, 4, &s);
	ok(rc == 0 && s.median == 2.5 && s.min == 1 && s.max == 4,
	   "even count: median is the mean of the middle two (%g)", s.median);
	ok(timing_summarise(one, 1, &s) == 0 && s.median == 7 && s.min == 7 && s.max == 7, "one measurement");
	rc = timing_summarise(one, 0, &s);
	ok(rc == -1 && strstr(tf_strerror(), "no measurements"), "none: %s", tf_strerror());
	rc = timing_summarise(bad, 2, &s);
	ok(rc == -1 && strstr(tf_strerror(), "not a finite"), "NaN: %s", tf_strerror());
	double t0 = tf_clock(), t1 = tf_clock();
	ok(t1 >= t0, "the clock does not go backwards");
}

static void shapes(void)
{
	int64_t d[4];
	ok(shape_parse("1x2x1025x259", d, 4) == 4 && d[0] == 1 && d[1] == 2 && d[2] == 1025 && d[3] == 259,
	   "1x2x1025x259");
	ok(shape_parse("256x64", d, 4) == 2 && d[0] == 256 && d[1] == 64, "256x64");
	ok(shape_parse("7", d, 4) == 1 && d[0] == 7, "one dimension");
	static const char *const bad[] = {"", "x", "1x", "x1", "1xx2", "1x2x", "1x0", "1x-2", "1x+2",
					  "1 x2", "1x2 ", "a", "1x2x3x4x5", "1x99999999999999999999",
					  "1x16777217"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int n = shape_parse(bad[i], d, 4);
		ok(n == -1 && strstr(tf_strerror(), "shape '"), "refused '%s': %s",
		   bad[i], tf_strerror());
	}
	ok(shape_parse("16777216x1", d, 4) == 2, "2^24 is the largest dimension");
}

static void segments(void)
{
	ok(segment_count(0, 256, 64) == 0, "no frames, no segments");
	ok(segment_count(100, 256, 64) == 1, "shorter than a segment: one");
	ok(segment_count(100, 0, 0) == 1, "segment 0: the whole input is one");
	ok(segment_count(256, 256, 64) == 1, "exactly one segment");
	ok(segment_count(256 + 64, 256, 64) == 2, "64 frames past it: a padded tail");
	ok(segment_count(256 + 192, 256, 64) == 2, "two exact segments");
	ok(segment_count(256 + 193, 256, 64) == 3, "one frame more: a third");
	ok(segment_count(512, 256, 0) == 2, "no overlap, an exact fit: no tail");
	/* three minutes at 44.1 kHz, hop 512: 15504 frames, step 192 */
	ok(segment_count(15504, 256, 64) == 81, "three minutes: %lld segments",
	   (long long)segment_count(15504, 256, 64));
}

static void stage_flops(void)
{
	struct unet_config c;
	double f[UNET_STAGES], sum = 0;
	config_default(&c);
	unet_stage_flops(&c, 1025, 259, f);
	int positive = 1;
	for (int i = 0; i < UNET_STAGES; i++)
		sum += f[i], positive &= f[i] > 0;
	ok(positive, "every stage has work");
	ok(sum == unet_flops(&c, 1025, 259), "stages add up to unet_flops exactly (%.0f)", sum);
	ok(fabs(sum * 1e-9 - 780.636) < 1e-3, "the default model at 1025x259: %.3f GFLOP", sum * 1e-9);
	ok(!strcmp(unet_stage_names[0], "stem") && !strcmp(unet_stage_names[4], "bottleneck") &&
		   !strcmp(unet_stage_names[UNET_STAGES - 1], "head"),
	   "stage names");
	/* level 1 is 512 x 129, upsampled to 1024 x 258 before the resize */
	ok(f[1] == f[7] - 2.0 * 1024 * 258 * 32 * 64 * 4,
	   "enc0 and dec2 run the same blocks; dec2 adds the upsampling (%g, %g)", f[1], f[7]);
}

static void peak(void)
{
	struct fma_peak p = {0};
	const char *isa = fma_peak_isa();
	ok(!strcmp(isa, "avx512") || !strcmp(isa, "avx2") || !strcmp(isa, "scalar"), "peak loop: %s", isa);
	int rc = fma_peak_measure(1, &p);
	ok(rc == 0 && p.gflops > 0 && p.median_gflops > 0 && p.median_gflops <= p.gflops &&
		   p.trials == FMA_PEAK_TRIALS,
	   "one thread: a positive rate, best of %d trials (%g, median %g)", p.trials, p.gflops, p.median_gflops);
	rc = fma_peak_measure(0, &p);
	ok(rc == -1, "zero threads refused: %s", tf_strerror());
}

/* The judgement of the trials, on made-up rates (no timing involved). */
static void peak_judge(void)
{
	struct fma_peak p;
	double steady[] = {40, 41, 39.5, 40.5, 40.2};
	ok(fma_peak_judge(steady, 5, &p) == 0 && p.gflops == 41 && p.median_gflops == 40.2 && !p.busy &&
		   p.trials == 5,
	   "steady trials: best 41, median 40.2, not busy");
	/* three of five trials shared the cores with something else */
	double shared[] = {20, 41, 22, 40, 21};
	ok(fma_peak_judge(shared, 5, &p) == 0 && p.gflops == 41 && p.median_gflops == 22 && p.busy,
	   "disagreeing trials: best 41 kept, busy flagged");
	double edge[] = {100, 91, 90};  /* median just above 0.9 x best */
	ok(fma_peak_judge(edge, 3, &p) == 0 && !p.busy, "median 91%% of the best is not busy");
	double edge2[] = {100, 89, 88};
	ok(fma_peak_judge(edge2, 3, &p) == 0 && p.busy, "median 89%% of the best is busy");
	double one[] = {7};
	ok(fma_peak_judge(one, 1, &p) == 0 && p.gflops == 7 && !p.busy, "one trial");
	double bad[] = {40, 0, 41};
	ok(fma_peak_judge(bad, 3, &p) == -1, "a zero rate refused: %s", tf_strerror());
	double nan_[] = {40, NAN};
	ok(fma_peak_judge(nan_, 2, &p) == -1, "NaN refused");
	ok(fma_peak_judge(steady, 0, &p) == -1, "no trials refused");
}

int main(void)
{
	summaries();
	shapes();
	segments();
	stage_flops();
	peak();
	peak_judge();
	return test_done();
}
