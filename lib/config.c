/* The name tables of the settings and the table of configuration fields
 * (lib/config.h). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "model.h"

int name_lookup(const struct name_table *t, const char *name)
{
	char list[128];
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->names[i], name))
			return i;
	tf_seterr("%s \"%s\" is not supported by this version (%s)", t->what, name, name_list(t, list, sizeof list));
	return -1;
}

const char *name_list(const struct name_table *t, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < t->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", t->names[i]);
	return buf;
}

const struct quant_traits quant_traits[QUANT_COUNT] = {
	[QUANT_NONE] = {"none", "f32", DT_F32, 0, 0},
	[QUANT_F16] = {"f16", "f16", DT_F16, 0, 0},
	[QUANT_Q8] = {"q8", "q8", DT_I8, 1, 0},
	[QUANT_Q8S] = {"q8s", "q8s", DT_I8, 1, 1},
	[QUANT_BF16] = {"bf16", "bf16", DT_BF16, 0, 0},
};
static const char *const quant_name_list[QUANT_COUNT] = {"none", "f16", "q8", "q8s", "bf16"};
const struct name_table quantization_names = {"quantization", quant_name_list, QUANT_COUNT};

static const char *const norm_name_list[NORM_COUNT] = {[NORM_NONE] = "none", [NORM_SCALE] = "scale"};
const struct name_table normalization_names = {"normalization", norm_name_list, NORM_COUNT};

static const char *const window_name_list[WINDOW_COUNT] = {[WINDOW_HANN] = "hann"};
const struct name_table window_names = {"window", window_name_list, WINDOW_COUNT};

/* The enums are read and written through int pointers. */
_Static_assert(sizeof(enum quantization) == sizeof(int) && sizeof(enum normalization) == sizeof(int) &&
		       sizeof(enum stft_window) == sizeof(int),
	       "settings enums are int-sized");

#define FIELD(m) offsetof(struct unet_config, m), sizeof(((struct unet_config *)0)->m)

/* key, type, where, range, unit, names, flags, json and --info positions, tf-export option */
const struct config_field config_fields[CFG_COUNT] = {
	[CFG_IN_CHANNELS] = {"in_channels", CT_INT, FIELD(in_channels), 2, 128, NULL, NULL, CFG_REQUIRED, 1, 1, NULL},
	[CFG_OUT_CHANNELS] = {"out_channels", CT_INT, FIELD(out_channels), 1, 64 * MODEL_MAX_STEMS, NULL, NULL,
			      CFG_REQUIRED, 2, 2, NULL},
	[CFG_DEPTHS] = {"depths", CT_LEVELS, FIELD(depths), 0, 64, NULL, NULL, CFG_REQUIRED, 3, 3, NULL},
	[CFG_DIMS] = {"dims", CT_LEVELS, FIELD(dims), 1, 4096, NULL, NULL, CFG_REQUIRED, 4, 4, NULL},
	[CFG_WINDOW_SIZE] = {"window_size", CT_INT, FIELD(window_size), 1, 64, NULL, NULL, 0, 5, 6, "window-size"},
	[CFG_SHIFT_SIZE] = {"shift_size", CT_INT, FIELD(shift_size), 0, 63, NULL, NULL, 0, 6, 7, "shift-size"},
	[CFG_NUM_HEADS] = {"num_heads", CT_INT, FIELD(num_heads), 1, 4096, NULL, NULL, CFG_REQUIRED, 7, 5,
			   "num-heads"},
	[CFG_MLP_RATIO] = {"mlp_ratio", CT_REAL, FIELD(mlp_ratio), 0, 1024, NULL, NULL, 0, 8, 8, "mlp-ratio"},
	[CFG_MASK_SHIFTED] = {"mask_shifted", CT_BOOL, FIELD(mask_shifted), 0, 1, NULL, NULL, 0, 9, 9,
			      "mask-shifted"},
	[CFG_SAMPLE_RATE] = {"sample_rate", CT_INT, FIELD(sample_rate), 1, 1000000, "Hz", NULL, 0, 10, 10,
			     "sample-rate"},
	[CFG_N_FFT] = {"n_fft", CT_INT, FIELD(n_fft), 4, 65536, NULL, NULL, 0, 11, 11, "n-fft"},
	[CFG_HOP] = {"hop", CT_INT, FIELD(hop), 1, 65536, NULL, NULL, 0, 12, 12, "hop"},
	[CFG_WINDOW] = {"window", CT_ENUM, FIELD(window), 0, 0, NULL, &window_names, 0, 0, 13, NULL},
	[CFG_CHANNELS] = {"channels", CT_INT, FIELD(channels), 1, 64, NULL, NULL, 0, 13, 14, "channels"},
	[CFG_STEMS] = {"stems", CT_STEMS, FIELD(stems), 1, MODEL_MAX_STEMS, NULL, NULL, 0, 14, 15, "stems"},
	[CFG_NORMALIZATION] = {"normalization", CT_ENUM, FIELD(normalization), 0, 0, NULL, &normalization_names,
			       0, 17, 16, NULL},
	[CFG_INPUT_SCALE] = {"input_scale", CT_REAL, FIELD(input_scale), 0, 1e12, NULL, NULL, 0, 18, 17, NULL},
	[CFG_SEGMENT] = {"segment", CT_INT, FIELD(segment), 0, MODEL_MAX_SEGMENT, "frames", NULL, 0, 15, 18,
			 "segment"},
	[CFG_OVERLAP] = {"overlap", CT_INT, FIELD(overlap), 0, MODEL_MAX_SEGMENT / 2, "frames", NULL, 0, 16, 19,
			 "overlap"},
	[CFG_QUANTIZATION] = {"quantization", CT_ENUM, FIELD(quantization), 0, 0, NULL, &quantization_names, 0,
			      0, 20, NULL},
	[CFG_ASSUMED] = {"assumed", CT_TEXT, FIELD(assumed), 0, 0, NULL, NULL, CFG_OMIT_EMPTY, 19, 21, NULL},
};

void config_merge(struct unet_config *dst, const struct unet_config *src, unsigned set)
{
	for (int k = 0; k < CFG_COUNT; k++) {
		const struct config_field *f = &config_fields[k];
		if (!(set & CFG_BIT(k)))
			continue;
		memcpy(config_ptr(dst, f), config_cptr(src, f), f->size);
		if (f->type == CT_STEMS)
			dst->nstems = src->nstems;
	}
}

int config_check_value(const struct config_field *f, double v)
{
	const char *sp = f->unit ? " " : "", *unit = f->unit ? f->unit : "";
	if (f->type == CT_REAL) {
		if (!(v > f->min && v <= f->max))
			return tf_seterr("%s %g is out of range (above %g, at most %g%s%s)", f->key, v, f->min, f->max, sp,
					 unit);
	} else if (!(v >= f->min && v <= f->max)) {
		return tf_seterr("%s %.0f is out of range (%.0f to %.0f%s%s)", f->key, v, f->min, f->max, sp, unit);
	}
	return 0;
}

int config_check_ranges(const struct unet_config *c)
{
	for (int k = 0; k < CFG_COUNT; k++) {
		const struct config_field *f = &config_fields[k];
		const void *p = config_cptr(c, f);
		int v;
		switch (f->type) {
		case CT_INT:
			if (config_check_value(f, *(const int *)p))
				return -1;
			break;
		case CT_REAL:
			if (config_check_value(f, *(const double *)p))
				return -1;
			break;
		case CT_LEVELS:
			for (int l = 0; l < UNET_LEVELS; l++)
				if ((v = ((const int *)p)[l]) < f->min || v > f->max)
					return tf_seterr("%s[%d] = %d is out of range (%.0f to %.0f)", f->key, l, v, f->min,
							 f->max);
			break;
		case CT_BOOL:
			if ((v = *(const int *)p) != 0 && v != 1)
				return tf_seterr("%s %d should be 0 or 1", f->key, v);
			break;
		case CT_ENUM:
			if ((v = *(const int *)p) < 0 || v >= f->names->n)
				return tf_seterr("%s %d is not one of the %d known", f->key, v, f->names->n);
			break;
		case CT_STEMS:
			if (c->nstems < f->min || c->nstems > f->max)
				return tf_seterr("%d stems: between %.0f and %.0f supported", c->nstems, f->min, f->max);
			break;
		case CT_TEXT:
			if (!memchr(p, 0, f->size))
				return tf_seterr("%s is not terminated", f->key);
			break;
		}
	}
	return 0;
}

int config_order(int info, int *order)
{
	int n = 0;
	for (int pos = 1; pos <= CFG_COUNT; pos++)
		for (int k = 0; k < CFG_COUNT; k++)
			if ((info ? config_fields[k].info : config_fields[k].json) == pos)
				order[n++] = k;
	return n;
}
