/* A picture in memory for tf-view: 8-bit RGB pixels, filled rectangles, text
 * in a small built-in bitmap font, and the colour map that shows a value in
 * [0, 1] (dark for low, bright for high). Writing it to a file (PNG) is the
 * program's business; nothing here needs a library. */
#ifndef TF_RASTER_H
#define TF_RASTER_H
#include <stddef.h>
#include <stdint.h>

#define RASTER_MAX_SIDE 16384

struct raster {
	int width, height;
	uint8_t *rgb; /* [height][width][3], row 0 at the top */
};

/* A picture filled with one colour; -1 with a message on a bad size or no memory. */
int raster_init(struct raster *r, int width, int height, uint32_t rgb);
void raster_free(struct raster *r);

static inline void raster_put(struct raster *r, int x, int y, uint32_t rgb)
{
	if (x < 0 || y < 0 || x >= r->width || y >= r->height)
		return;
	uint8_t *p = r->rgb + ((size_t)y * r->width + x) * 3;
	p[0] = (uint8_t)(rgb >> 16), p[1] = (uint8_t)(rgb >> 8), p[2] = (uint8_t)rgb;
}

/* The rectangle [x, x+w) x [y, y+h), clipped to the picture. */
void raster_fill(struct raster *r, int x, int y, int w, int h, uint32_t rgb);

/* The font: 5 x 7 pixel glyphs in cells of 6 x 8 (times scale). It has the
 * digits, A-Z, the lower-case letters k s z d, and . - : _ / ( ) = + % and
 * space; other lower-case letters are drawn as upper case, anything else
 * as '?'. */
#define FONT_CELL_W 6
#define FONT_CELL_H 8
/* Width in pixels of text at scale (the last cell's blank column included). */
int raster_text_width(const char *text, int scale);
/* Draws text with its top-left corner at (x, y). */
void raster_text(struct raster *r, int x, int y, const char *text, int scale, uint32_t rgb);
/* The 7 rows of c's glyph, 5 bits each, the leftmost pixel in bit 4. */
const uint8_t *font_glyph(int c);

/* The colour of v in [0, 1] (clamped; NaN is 0): from near black through
 * purple, red and orange to pale yellow, brightness rising all the way so
 * that it reads in grey too. */
uint32_t colormap(double v);

#endif
