/* tf-view: a picture of a stream, so that a user can see what was separated.
 * Reads a spectrogram (tf-stft), stems or masks (tf-unet) stream and writes
 * a PNG: one panel per stem (the mixture for a spectrogram), time across,
 * frequency up with ticks in kHz, log magnitude in dB or the mask in [0, 1]
 * as colour. Frames are averaged into the picture's columns as they arrive
 * (lib/timebin.h), so memory does not grow with the track. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "raster.h"
#include "stft.h"
#include "stream.h"
#include "specstream.h"
#include "timebin.h"

#define MAX_STEMS SPEC_MAX_STEMS
#define STEM_NAME_MAX SPEC_STEM_NAME_MAX
#define MAX_VALUES (1 << 24) /* columns x rows of all panels averaged at once */
#define MIN_PANEL 16
#define SHADES 240 /* colours of the map used: with the labels', a PNG palette holds them */

#define WHITE 0xFFFFFFu
#define BLACK 0x000000u
#define GREY 0x808080u

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-view [options] [INPUT] -o FILE.png\n"
		"Draws a spectrogram stream (tf-stft), a stems stream or a masks stream (tf-unet)\n"
		"as a PNG picture: one panel per stem, time across, frequency up (kHz), the\n"
		"magnitude in dB (0 dB: a full-scale sine) or the mask (0 to 1) as colour.\n"
		"INPUT is a stream file, or standard input when absent or '-'.\n\n"
		"  -o, --output FILE    the PNG file ('-' is standard output, not a terminal)\n"
		"  -W, --width PIXELS   width of the whole picture (default 1000)\n"
		"      --height PIXELS  height of the whole picture, shared by the panels\n"
		"                       (default: 240 pixels a panel for one, 160 for more)\n"
		"      --channel N      draw audio channel N (1 is the first; default: the mean\n"
		"                       power of all channels, or their mean mask)\n"
		"      --linear         frequency on a linear scale (default: logarithmic)\n"
		"      --fmin HZ        lowest frequency drawn on the logarithmic scale\n"
		"                       (default: the first bin above 0 Hz, at least 20 Hz)\n"
		"      --fmax HZ        highest frequency drawn (default: half the sample rate)\n"
		"      --range DB       dB below full scale drawn darkest (default 80)\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n");
}

struct options {
	const char *in_path, *out_path;
	int width, height, channel; /* height 0: default; channel 0: all */
	int linear;                 /* linear frequency axis */
	double fmin, fmax, range;   /* fmin 0: the first bin; fmax 0: Nyquist */
};

/* What the stream holds, from its header. */
struct input {
	char kind[32];
	int masks;   /* a masks stream: values in [0, 1], not complex */
	int ndim;    /* of its tensors: 3 for a spectrogram, 4 for stems and masks */
	int64_t rate, n_fft, hop, channels;
	int bins, nstems;
	char names[MAX_STEMS][STEM_NAME_MAX];
};

/* Where everything goes in the picture (pixels). */
struct layout {
	int scale;                  /* of the font */
	int left, right, strip, bottom, tick;
	int plot_w, panel_h;
	int width, height;
	int linear;                 /* frequency axis: linear from 0 Hz, or logarithmic from fmin */
	double fmin, fmax, df;      /* Hz: the axis' ends, the bin spacing */
	int bins_drawn;             /* bins 0 .. bins_drawn-1 are on the frequency axis */
	int *row_lo, *row_hi;       /* [panel_h]: bins [lo, hi) of pixel row r (0 at the bottom) */
};

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_FMAX = 256, O_FMIN, O_LINEAR, O_RANGE, O_HEIGHT, O_CHANNEL };
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"width", required_argument, 0, 'W'},
		{"height", required_argument, 0, O_HEIGHT}, {"channel", required_argument, 0, O_CHANNEL},
		{"fmax", required_argument, 0, O_FMAX}, {"fmin", required_argument, 0, O_FMIN},
		{"linear", no_argument, 0, O_LINEAR},  {"range", required_argument, 0, O_RANGE},
		{"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
	int opt;
	*o = (struct options){.width = 1000, .range = 80};
	/* -H, -c: the old spellings of --height, --channel (doc/options.md) */
	while ((opt = getopt_long(argc, argv, "o:W:vhVH:c:", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 'o': o->out_path = optarg; break;
		case 'W': o->width = (int)parse_long(optarg, "--width", 64, RASTER_MAX_SIDE); break;
		case O_HEIGHT: case 'H': o->height = (int)parse_long(optarg, "--height", 32, RASTER_MAX_SIDE); break;
		case O_CHANNEL: case 'c': o->channel = (int)parse_long(optarg, "--channel", 1, AUDIO_MAX_CHANNELS); break;
		case O_FMAX: o->fmax = parse_double(optarg, "--fmax", 1, 1e7); break;
		case O_FMIN: o->fmin = parse_double(optarg, "--fmin", 1, 1e7); break;
		case O_LINEAR: o->linear = 1; break;
		case O_RANGE: o->range = parse_double(optarg, "--range", 1, 300); break;
		default: usage(stderr); exit(2);
		}
	}
	if (argc - optind > 1)
		die("too many arguments (one input at most); see --help");
	o->in_path = optind < argc ? argv[optind] : NULL;
	if (!o->out_path)
		die("no output: give -o FILE.png (or -o - to write the PNG to a pipe)");
	if (!strcmp(o->out_path, "-") && isatty(1))
		die("will not write a PNG picture to a terminal; redirect the output or use -o FILE");
	if ((!o->in_path || !strcmp(o->in_path, "-")) && isatty(0))
		die("no input: give a stream file, or pipe one in (see --help)");
	args_end();
}

/* ---------- the stream ---------- */

/* What to draw, from the header lib/specstream has read and checked. */
static void input_from_header(const struct spec_header *h, struct input *in)
{
	snprintf(in->kind, sizeof in->kind, "%s", spec_kind_name(h->kind));
	in->masks = h->kind == SPEC_MASKS;
	in->ndim = h->kind == SPEC_SPECTROGRAM ? 3 : 4;
	in->rate = h->sample_rate, in->n_fft = h->n_fft, in->hop = h->hop, in->channels = h->channels;
	in->bins = h->bins;
	if (h->kind == SPEC_SPECTROGRAM) {
		in->nstems = 1;
		strcpy(in->names[0], "mix");
	} else {
		in->nstems = h->nstems;
		for (int s = 0; s < h->nstems; s++)
			snprintf(in->names[s], sizeof in->names[s], "%s", h->stems[s]);
	}
}

/* Frame j of a chunk of n frames, as one value per pixel row of every
 * panel: the mean over the row's bins (and the channels, or the one chosen)
 * of the power |X|^2, or of the mask. */
static void frame_rows(const void *data, int n, int j, const struct input *in, const struct layout *l,
		       int channel, float *bin_value, float *rows)
{
	int c0 = channel ? channel - 1 : 0, c1 = channel ? channel : (int)in->channels;
	size_t per_channel = (size_t)in->bins * n;
	for (int s = 0; s < in->nstems; s++) {
		for (int b = 0; b < l->bins_drawn; b++) {
			double sum = 0;
			for (int c = c0; c < c1; c++) {
				size_t i = ((size_t)s * in->channels + c) * per_channel + (size_t)b * n + j;
				if (in->masks) {
					sum += ((const float *)data)[i];
				} else {
					const float *z = (const float *)data + 2 * i;
					sum += (double)z[0] * z[0] + (double)z[1] * z[1];
				}
			}
			bin_value[b] = (float)(sum / (c1 - c0));
		}
		for (int r = 0; r < l->panel_h; r++) {
			double sum = 0;
			for (int b = l->row_lo[r]; b < l->row_hi[r]; b++)
				sum += bin_value[b];
			rows[(size_t)s * l->panel_h + r] = (float)(sum / (l->row_hi[r] - l->row_lo[r]));
		}
	}
}

/* Reads every chunk into the time bins; returns the number of frames. */
static int64_t read_frames(struct spec_reader *rd, const struct input *in, const struct layout *l, int channel,
			   struct timebin *tb)
{
	struct spec_chunk c;
	float *bin_value = malloc((size_t)in->bins * sizeof *bin_value);
	float *rows = malloc((size_t)in->nstems * l->panel_h * sizeof *rows);
	int got;
	if (!bin_value || !rows)
		die("out of memory");
	while ((got = spec_read_chunk(rd, &c)) > 0)
		for (int j = 0; j < c.n; j++) {
			frame_rows(c.data, c.n, j, in, l, channel, bin_value, rows);
			timebin_push(tb, rows);
		}
	if (got < 0)
		die_lib("");
	int64_t frames = spec_reader_frames(rd);
	if (!frames)
		die("the stream holds no frames: nothing to draw");
	free(bin_value);
	free(rows);
	return frames;
}

/* ---------- the picture ---------- */

/* The frequency at height p of a panel (0 at the bottom, panel_h at the top). */
static double row_hz(const struct layout *l, double p)
{
	if (l->linear)
		return l->fmax * p / l->panel_h;
	return l->fmin * pow(l->fmax / l->fmin, p / l->panel_h);
}

/* Its inverse: the height of frequency hz. */
static double hz_row(const struct layout *l, double hz)
{
	if (l->linear)
		return hz / l->fmax * l->panel_h;
	return log(hz / l->fmin) / log(l->fmax / l->fmin) * l->panel_h;
}

static void plan_layout(const struct options *o, const struct input *in, struct layout *l)
{
	int f = l->scale = o->width >= 1600 ? 2 : 1;
	int cw = FONT_CELL_W * f, ch = FONT_CELL_H * f;
	l->tick = 4 * f;
	l->left = 2 * f + 4 * cw + 2 * f + l->tick;
	l->right = 6 * f + 10 * f + 2 * f + l->tick + 4 * cw + 2 * f;
	l->strip = ch + 4 * f;
	l->bottom = l->tick + 2 * f + ch + 4 * f;
	l->width = o->width;
	l->plot_w = o->width - l->left - l->right;
	int fixed = in->nstems * l->strip + l->bottom;
	if (o->height) {
		l->height = o->height;
		l->panel_h = (o->height - fixed) / in->nstems;
	} else {
		l->panel_h = (in->nstems == 1 ? 240 : 160) * f;
		l->height = fixed + in->nstems * l->panel_h;
	}
	if (l->plot_w < MIN_PANEL)
		die("--width %d leaves %d pixels for the plot; at least %d", o->width, l->plot_w, MIN_PANEL);
	if (l->panel_h < MIN_PANEL || l->height > RASTER_MAX_SIDE)
		die("a height of %d pixels for %d panel%s of at least %d pixels (and their labels) is out of range; "
		    "at least %d, at most %d",
		    l->height, in->nstems, in->nstems == 1 ? "" : "s", MIN_PANEL, fixed + in->nstems * MIN_PANEL,
		    RASTER_MAX_SIDE);
	if ((int64_t)l->plot_w * l->panel_h * in->nstems > MAX_VALUES)
		die("a picture of %d panel%s of %d x %d pixels is too large", in->nstems, in->nstems == 1 ? "" : "s",
		    l->plot_w, l->panel_h);

	/* the frequency axis: bins from fmin (0 Hz on a linear axis) up to fmax */
	double nyquist = in->rate / 2.0;
	l->linear = o->linear;
	l->df = (double)in->rate / (double)in->n_fft;
	l->fmax = o->fmax && o->fmax < nyquist ? o->fmax : nyquist;
	l->fmin = l->linear ? 0 : o->fmin ? o->fmin : l->df > 20 ? l->df : 20;
	if (l->fmax < l->df || l->fmin * 2 > l->fmax)
		die("frequencies %g to %g Hz: fewer than an octave, or below the first bin above 0 Hz (%g Hz)",
		    l->fmin, l->fmax, l->df);
	l->bins_drawn = (int)floor(l->fmax / l->df) + 1;
	if (l->bins_drawn > in->bins)
		l->bins_drawn = in->bins;
	l->row_lo = malloc((size_t)l->panel_h * sizeof *l->row_lo);
	l->row_hi = malloc((size_t)l->panel_h * sizeof *l->row_hi);
	if (!l->row_lo || !l->row_hi)
		die("out of memory");
	for (int r = 0; r < l->panel_h; r++) {
		/* the bins whose frequencies fall in the row; the nearest bin when none does */
		int lo = (int)ceil(row_hz(l, r) / l->df - 1e-9), hi = (int)ceil(row_hz(l, r + 1) / l->df - 1e-9);
		if (r == l->panel_h - 1)
			hi = l->bins_drawn;
		if (hi > l->bins_drawn)
			hi = l->bins_drawn;
		if (hi <= lo) {
			lo = (int)lround(row_hz(l, r + 0.5) / l->df);
			lo = lo < l->bins_drawn ? lo : l->bins_drawn - 1;
			hi = lo + 1;
		}
		l->row_lo[r] = lo, l->row_hi[r] = hi;
	}
}

/* The first step of the list whose ticks are at least min_px apart. */
static double tick_step(double px_per_unit, double min_px)
{
	static const double steps[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1,    2,    2.5,  5,
				       10,   15,   20,   30,  60,  120,  300, 600, 1200, 1800, 3600, 7200};
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		if (steps[i] * px_per_unit >= min_px)
			return steps[i];
	return steps[sizeof steps / sizeof *steps - 1];
}

/* A tick value as text: "%g" of the value rounded to the step's precision. */
static void tick_label(char *buf, size_t len, double v, const char *unit)
{
	snprintf(buf, len, "%g%s", round(v * 100) / 100, unit);
}

/* The value of a pixel: 0 (dark) to 1 (bright), in SHADES steps. */
static double shade(double v, const struct input *in, double ref_power, double range)
{
	if (!in->masks)
		v = v > 0 ? 1 + 10 * log10(v / ref_power) / range : 0;
	v = v > 0 ? v < 1 ? v : 1 : 0; /* NaN too */
	return round(v * (SHADES - 1)) / (SHADES - 1);
}

static void draw(struct raster *rs, const struct layout *l, const struct input *in, const struct options *o,
		 const struct timebin *tb, int64_t frames)
{
	int f = l->scale, ch = FONT_CELL_H * f, cw = FONT_CELL_W * f;
	/* 0 dB: a full-scale sine, whose peak bin is n_fft/4 (Hann window, unnormalised FFT) */
	double ref_power = (double)in->n_fft * in->n_fft / 16;
	double *col = malloc((size_t)tb->rows * sizeof *col);
	char text[128];
	if (!col)
		die("out of memory");
	if (raster_init(rs, l->width, l->height, WHITE))
		die_lib("");
	int top0 = l->strip, panels_h = in->nstems * (l->strip + l->panel_h) - l->strip;

	/* the panels, column by column */
	for (int x = 0; x < l->plot_w; x++) {
		timebin_column(tb, x, l->plot_w, col);
		for (int s = 0; s < in->nstems; s++) {
			int top = top0 + s * (l->strip + l->panel_h);
			for (int r = 0; r < l->panel_h; r++)
				raster_put(rs, l->left + x, top + l->panel_h - 1 - r,
					   colormap(shade(col[(size_t)s * l->panel_h + r], in, ref_power, o->range)));
		}
	}
	free(col);

	/* titles, frames and the frequency axis of each panel */
	double khz_step = tick_step(l->panel_h / (l->fmax / 1000), 3 * ch);
	for (int s = 0; s < in->nstems; s++) {
		int top = top0 + s * (l->strip + l->panel_h), bottom = top + l->panel_h;
		snprintf(text, sizeof text, "%s%s", in->names[s], in->masks ? " mask" : "");
		if (o->channel)
			snprintf(text + strlen(text), sizeof text - strlen(text), "  (channel %d)", o->channel);
		for (char *p = text; *p; p++) /* titles in capitals; the font's few small letters are for units */
			*p = (char)toupper((unsigned char)*p);
		raster_text(rs, l->left, top - l->strip + 2 * f, text, f, BLACK);
		raster_fill(rs, l->left - f, top - f, l->plot_w + 2 * f, f, BLACK);
		raster_fill(rs, l->left - f, bottom, l->plot_w + 2 * f, f, BLACK);
		raster_fill(rs, l->left - f, top, f, l->panel_h, BLACK);
		raster_fill(rs, l->left + l->plot_w, top, f, l->panel_h, BLACK);
		int last_y = bottom + 2 * ch;
		for (int i = 0; i < 64; i++) {
			/* linear: every khz_step; logarithmic: 1, 2, 5 times powers of ten */
			static const double mant[] = {1, 2, 5};
			double k = l->linear ? i * khz_step : 0.01 * mant[i % 3] * pow(10, i / 3);
			if (k * 1000 < l->fmin - 1e-6)
				continue;
			if (k * 1000 > l->fmax + 1e-6)
				break;
			int y = bottom - 1 - (int)lround(hz_row(l, k * 1000));
			if (y < top || last_y - y < 2 * ch) /* no room for its label */
				continue;
			last_y = y;
			raster_fill(rs, l->left - f - l->tick, y, l->tick, f, BLACK);
			tick_label(text, sizeof text, k, "");
			int ty = y - ch / 2 + f / 2;
			if (ty < top)
				ty = top;
			raster_text(rs, l->left - f - l->tick - 2 * f - raster_text_width(text, f), ty, text, f, BLACK);
		}
	}
	raster_text(rs, l->left - f - l->tick - 2 * f - raster_text_width("kHz", f), 2 * f, "kHz", f, BLACK);

	/* the time axis under the last panel */
	double seconds = (double)frames * in->hop / in->rate;
	int axis_y = top0 + panels_h + f;
	snprintf(text, sizeof text, "%gs", seconds);
	double s_step = tick_step(l->plot_w / seconds, raster_text_width(text, f) + 2 * cw);
	for (double t = 0; t <= seconds + 1e-9; t += s_step) {
		int x = l->left + (int)lround(t / seconds * l->plot_w);
		if (x >= l->left + l->plot_w)
			x = l->left + l->plot_w - 1;
		raster_fill(rs, x, axis_y, f, l->tick, BLACK);
		tick_label(text, sizeof text, t, "s");
		int tx = x - raster_text_width(text, f) / 2;
		if (tx + raster_text_width(text, f) > l->width)
			tx = l->width - raster_text_width(text, f);
		raster_text(rs, tx < 0 ? 0 : tx, axis_y + l->tick + 2 * f, text, f, BLACK);
	}

	/* the colour bar, beside all the panels */
	int bx = l->left + l->plot_w + 6 * f, bw = 10 * f;
	for (int y = 0; y < panels_h; y++)
		raster_fill(rs, bx, top0 + y, bw, 1,
			    colormap(round((1 - (double)y / (panels_h - 1)) * (SHADES - 1)) / (SHADES - 1)));
	raster_fill(rs, bx - f, top0 - f, bw + 2 * f, f, BLACK);
	raster_fill(rs, bx - f, top0 + panels_h, bw + 2 * f, f, BLACK);
	int lx = bx + bw + 2 * f + l->tick;
	if (in->masks) {
		raster_text(rs, lx, top0, "1", f, BLACK);
		raster_text(rs, lx, top0 + panels_h - ch, "0", f, BLACK);
		raster_text(rs, bx, 2 * f, "MASK", f, BLACK);
	} else {
		raster_text(rs, lx, top0, "0", f, BLACK);
		snprintf(text, sizeof text, "-%g", o->range);
		raster_text(rs, lx, top0 + panels_h - ch, text, f, BLACK);
		raster_text(rs, bx, 2 * f, "dB", f, BLACK);
	}
	raster_fill(rs, bx + bw, top0, l->tick, f, BLACK);
	raster_fill(rs, bx + bw, top0 + panels_h - f, l->tick, f, BLACK);
}

/* ---------- PNG ---------- */

static void png_fail(png_structp png, png_const_charp msg)
{
	tf_seterr("%s", msg);
	png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg)
{
	(void)png, (void)msg;
}

/* The picture's colours as a palette and each pixel's index in it; 0 if
 * it has more than 256 colours. */
static int make_palette(const struct raster *r, png_color *palette, uint8_t *index)
{
	enum { SLOTS = 1024 }; /* open addressing, well under half full */
	uint32_t key[SLOTS];
	int16_t slot_colour[SLOTS];
	int n = 0;
	memset(slot_colour, -1, sizeof slot_colour);
	for (size_t i = 0; i < (size_t)r->width * r->height; i++) {
		const uint8_t *p = r->rgb + 3 * i;
		uint32_t c = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		size_t h = (c * 2654435761u) % SLOTS;
		while (slot_colour[h] >= 0 && key[h] != c)
			h = (h + 1) % SLOTS;
		if (slot_colour[h] < 0) {
			if (n == 256)
				return 0;
			key[h] = c;
			slot_colour[h] = (int16_t)n;
			palette[n++] = (png_color){p[0], p[1], p[2]};
		}
		index[i] = (uint8_t)slot_colour[h];
	}
	return n;
}

/* The PNG: indexed when index is not NULL, RGB otherwise. */
static int png_write_picture(FILE *fp, const struct raster *r, const uint8_t *index, const png_color *palette,
			     int ncolours)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_quiet);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, &info);
		return tf_seterr("out of memory for the PNG writer");
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -1;
	}
	png_init_io(png, fp);
	png_set_IHDR(png, info, (png_uint_32)r->width, (png_uint_32)r->height, 8,
		     index ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (index)
		png_set_PLTE(png, info, (png_colorp)palette, ncolours);
	png_set_compression_level(png, 9);
	png_text t = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Software",
		      .text = "tf-view (tfswa) " TF_VERSION};
	png_set_text(png, info, &t, 1);
	png_write_info(png, info);
	for (int y = 0; y < r->height; y++)
		png_write_row(png, index ? index + (size_t)y * r->width : r->rgb + (size_t)y * r->width * 3);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

/* An indexed PNG when the colours fit a palette (a third of the bytes
 * before compression, and they compress better), RGB otherwise. */
static int write_png(FILE *fp, const struct raster *r)
{
	png_color palette[256];
	uint8_t *index = malloc((size_t)r->width * r->height);
	if (!index)
		return tf_seterr("out of memory for the PNG writer");
	int ncolours = make_palette(r, palette, index);
	int rc = png_write_picture(fp, r, ncolours ? index : NULL, palette, ncolours);
	free(index);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	struct input in = {0};
	struct layout l = {0};
	progname = "tf-view";
	args_begin();
	parse_options(argc, argv, &o);

	/* the stream's header: what to draw */
	int fd = open_input(o.in_path);
	struct spec_reader *rd =
		fd >= 0 ? spec_reader_open(fd, o.in_path, SPEC_SPECTROGRAM | SPEC_STEMS | SPEC_MASKS) : NULL;
	if (!rd)
		die_lib("");
	input_from_header(spec_reader_header(rd), &in);
	if (o.channel > in.channels)
		die("--channel %d: the stream has %lld channel%s", o.channel, (long long)in.channels,
		    in.channels == 1 ? "" : "s");
	plan_layout(&o, &in, &l);
	info("%s stream, %d stem%s, %lld Hz, n_fft %lld, hop %lld: a %d x %d picture, %d x %d per panel",
	     in.kind, in.nstems, in.nstems == 1 ? "" : "s", (long long)in.rate, (long long)in.n_fft,
	     (long long)in.hop, l.width, l.height, l.plot_w, l.panel_h);

	/* the frames, averaged into columns as they come */
	struct timebin tb;
	if (timebin_init(&tb, l.plot_w, in.nstems * l.panel_h, MAX_VALUES))
		die_lib("");
	int64_t frames = read_frames(rd, &in, &l, o.channel, &tb);
	info("%lld frames, %lld per column", (long long)frames, (long long)tb.per);

	/* the picture */
	struct raster rs;
	draw(&rs, &l, &in, &o, &tb, frames);
	struct atomic_file af;
	FILE *out = output_open(o.out_path, &af, "a PNG picture");
	if (write_png(out, &rs))
		die_lib(strcmp(o.out_path, "-") ? o.out_path : "standard output");
	output_close(&af);

	raster_free(&rs);
	timebin_free(&tb);
	free(l.row_lo), free(l.row_hi);
	spec_reader_close(rd);
	return 0;
}
