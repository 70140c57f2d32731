/* What tf-view draws with: the time bins (averaging any number of frames
 * into a fixed number of columns), the colour map and the bitmap font. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "raster.h"
#include "timebin.h"
#include "test.h"

/* Column x of width over frames f(t) = value, the slow way: the mean of
 * the frames in the buckets of `per` frames that [x F / w, (x+1) F / w)
 * touches. */
static double naive_column(const float *v, int64_t F, int64_t per, int x, int w)
{
	int64_t start = (int64_t)((double)x * F / w), end = (int64_t)((double)(x + 1) * F / w);
	if (start >= F)
		start = F - 1;
	if (end <= start)
		end = start + 1;
	int64_t a = start / per * per, b = ((end - 1) / per + 1) * per;
	if (b > F)
		b = F;
	double sum = 0;
	for (int64_t t = a; t < b; t++)
		sum += v[t];
	return sum / (double)(b - a);
}

static void timebins(void)
{
	struct timebin tb;
	/* fewer frames than columns: nothing merged, each column a frame */
	ok(timebin_init(&tb, 8, 2, 1000) == 0, "8 columns of 2 rows");
	for (int t = 0; t < 5; t++)
		timebin_push(&tb, (float[]){(float)t, (float)(10 * t)});
	double out[4]; /* two rows here, four in the empty case below */
	int good = tb.per == 1;
	for (int x = 0; x < 10; x++) {
		timebin_column(&tb, x, 10, out);
		good &= out[0] == x / 2 && out[1] == 10 * (x / 2);
	}
	ok(good, "5 frames stretched over 10 columns: each frame twice");
	timebin_free(&tb);

	/* many frames: merged pairs; every column the mean of its buckets, in
	 * memory of the cap alone */
	const int64_t F = 1000;
	float *v = malloc(F * sizeof *v);
	for (int64_t t = 0; t < F; t++)
		v[t] = (float)((t * 7919) % 101);
	for (int cap = 1; cap <= 37; cap += 6) {
		ok(timebin_init(&tb, cap, 1, 1000) == 0, "cap %d", cap);
		for (int64_t t = 0; t < F; t++)
			timebin_push(&tb, &v[t]);
		int64_t used = (F + tb.per - 1) / tb.per;
		double worst = 0;
		for (int w = 1; w <= 40; w += 13)
			for (int x = 0; x < w; x++) {
				timebin_column(&tb, x, w, out);
				double d = fabs(out[0] - naive_column(v, F, tb.per, x, w));
				worst = d > worst ? d : worst;
			}
		ok(worst < 1e-9 && used <= cap && (cap == 1 || 2 * used > cap), "cap %d: %lld per bucket, %lld used, columns exact (%g)",
		   cap, (long long)tb.per, (long long)used, worst);
		timebin_free(&tb);
	}
	/* the mean of everything is kept whatever the merging */
	ok(timebin_init(&tb, 16, 1, 100) == 0, "16 columns");
	double total = 0;
	for (int64_t t = 0; t < F; t++)
		timebin_push(&tb, &v[t]), total += v[t];
	timebin_column(&tb, 0, 1, out);
	ok(fabs(out[0] - total / F) < 1e-9, "one column: the mean of all %lld frames (%g, %g)", (long long)F, out[0],
	   total / F);
	timebin_free(&tb);
	free(v);

	int rc = timebin_init(&tb, 0, 1, 100);
	ok(rc == -1, "no columns refused: %s", tf_strerror());
	rc = timebin_init(&tb, 100, 100, 1000);
	ok(rc == -1, "over the cap refused: %s", tf_strerror());
	ok(timebin_init(&tb, 4, 4, 100) == 0, "empty");
	timebin_column(&tb, 0, 4, (double[4]){0});
	timebin_column(&tb, 3, 4, out);
	ok(out[0] == 0 && out[1] == 0, "no frames: zeros");
	timebin_free(&tb);
}

static double luma(uint32_t c)
{
	return 0.3 * (c >> 16 & 255) + 0.59 * (c >> 8 & 255) + 0.11 * (c & 255);
}

static void colours(void)
{
	int rising = 1;
	for (int i = 1; i <= 100; i++)
		rising &= luma(colormap(i / 100.0)) > luma(colormap((i - 1) / 100.0));
	ok(rising, "the colour map brightens all the way (it reads in grey)");
	ok(luma(colormap(0)) < 10 && luma(colormap(1)) > 230, "dark at 0 (%g), bright at 1 (%g)", luma(colormap(0)),
	   luma(colormap(1)));
	ok(colormap(-1) == colormap(0) && colormap(NAN) == colormap(0) && colormap(7) == colormap(1),
	   "clamped; NaN is 0");
}

static void font(void)
{
	/* every glyph the program draws is its own, not the '?' fallback */
	const char *drawn = "0123456789.-ABCDEFGHIJKLMNOPQRSTUVWXYZkzsd()";
	const uint8_t *unknown = font_glyph(0x7F);
	int own = 1;
	for (const char *p = drawn; *p; p++)
		own &= font_glyph(*p) != unknown;
	ok(own, "digits, capitals and the unit letters have glyphs");
	int distinct = 1;
	for (const char *p = drawn; *p; p++)
		for (const char *q = p + 1; *q; q++)
			distinct &= memcmp(font_glyph(*p), font_glyph(*q), 7) != 0;
	ok(distinct, "no two glyphs alike");
	ok(font_glyph('v') == font_glyph('V') && font_glyph('k') != font_glyph('K'),
	   "lower case without a glyph of its own is upper case");
	int fits = 1;
	for (const char *p = drawn; *p; p++)
		for (int r = 0; r < 7; r++)
			fits &= font_glyph(*p)[r] < 32;
	ok(fits, "glyphs are 5 pixels wide");

	/* drawing: "1" at scale 2 sets exactly its pixels, in black on white */
	struct raster r;
	int rc;
	ok(raster_init(&r, 20, 20, 0xFFFFFF) == 0, "a 20 x 20 picture");
	raster_text(&r, 3, 2, "1", 2, 0x000000);
	int set = 0, want = 0, right = 1;
	for (int row = 0; row < 7; row++)
		for (int col = 0; col < 5; col++)
			want += 4 * (font_glyph('1')[row] >> (4 - col) & 1);
	for (int y = 0; y < 20; y++)
		for (int x = 0; x < 20; x++) {
			const uint8_t *p = r.rgb + (y * 20 + x) * 3;
			int black = !p[0] && !p[1] && !p[2], inside = x >= 3 && x < 13 && y >= 2 && y < 16;
			set += black;
			if (black && !inside)
				right = 0;
			if (black && !(font_glyph('1')[(y - 2) / 2] >> (4 - (x - 3) / 2) & 1))
				right = 0;
		}
	ok(right && set == want, "'1' at scale 2: %d pixels set, %d wanted, all inside its glyph", set, want);
	ok(raster_text_width("12:34", 1) == 30 && raster_text_width("", 3) == 0, "text widths");
	/* clipped, never outside the buffer */
	raster_text(&r, 15, 15, "WWW", 3, 0x123456);
	raster_fill(&r, -5, -5, 100, 7, 0x00FF00);
	ok(r.rgb[0] == 0 && r.rgb[1] == 255 && r.rgb[2] == 0 && r.rgb[(20 + 19) * 3 + 1] == 255 &&
		   r.rgb[(2 * 20) * 3] == 255 && r.rgb[(17 * 20 + 17) * 3] == 0x12,
	   "drawing is clipped to the picture");
	raster_free(&r);
	rc = raster_init(&r, 0, 10, 0) == -1 && raster_init(&r, RASTER_MAX_SIDE + 1, 1, 0) == -1;
	ok(rc, "bad sizes refused: %s", tf_strerror());
}

int main(void)
{
	timebins();
	colours();
	font();
	return test_done();
}
