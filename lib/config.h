/* Settings as types: the named settings of a model (quantization,
 * normalization, the STFT window) as enums with their name tables, and the
 * table of the configuration's fields that every reader and writer of a
 * configuration walks (msgpack model headers, the JSON settings, merging,
 * validation, tf-export --info and its options). The names are the strings
 * written in model files and JSON (formats/model.md); they do not change. */
#ifndef TF_CONFIG_H
#define TF_CONFIG_H
#include <stddef.h>

#include "tensor.h"

/* The names of an enum's values, in value order. */
struct name_table {
	const char *what;          /* "quantization": for messages */
	const char *const *names;
	int n;
};
/* The value named name, or -1 with "WHAT \"NAME\" is not supported (a, b, c)". */
int name_lookup(const struct name_table *t, const char *name);
/* "a, b, c": every name of t, into buf. */
const char *name_list(const struct name_table *t, char *buf, size_t len);

/* How the tensors of a model are stored. */
enum quantization { QUANT_NONE, QUANT_F16, QUANT_Q8, QUANT_Q8S, QUANT_BF16, QUANT_COUNT };
struct quant_traits {
	const char *name;          /* as written in model files: "none", "f16", "q8", "q8s", "bf16" */
	const char *type;          /* the storage type as tf-export --list shows it ("f32" for none) */
	enum dtype store;          /* how a tensor that may be narrowed is stored: DT_F32, DT_F16, DT_I8, DT_BF16 */
	int int8;                  /* int8 weights with per-output-channel ":scale" tensors */
	int act_scales;            /* and calibrated input scales (":act_scale"), run as static int8 */
};
extern const struct quant_traits quant_traits[QUANT_COUNT];
extern const struct name_table quantization_names;

/* What is done to the network's input. */
enum normalization { NORM_NONE, NORM_SCALE, NORM_COUNT }; /* scale: multiplied by input_scale */
extern const struct name_table normalization_names;

/* The STFT window (periodic). */
enum stft_window { WINDOW_HANN, WINDOW_COUNT };
extern const struct name_table window_names;

/* ---------- the fields of struct unet_config ---------- */

/* The fields, in the order of the model header (formats/model.md). */
enum config_key {
	CFG_IN_CHANNELS, CFG_OUT_CHANNELS, CFG_DEPTHS, CFG_DIMS, CFG_WINDOW_SIZE, CFG_SHIFT_SIZE,
	CFG_NUM_HEADS, CFG_MLP_RATIO, CFG_MASK_SHIFTED, CFG_SAMPLE_RATE, CFG_N_FFT, CFG_HOP, CFG_WINDOW,
	CFG_CHANNELS, CFG_STEMS, CFG_NORMALIZATION, CFG_INPUT_SCALE, CFG_SEGMENT, CFG_OVERLAP,
	CFG_QUANTIZATION, CFG_ASSUMED, CFG_COUNT
};
/* A set of fields: bit 1 << key. */
#define CFG_BIT(key) (1u << (key))

enum config_type {
	CT_INT,    /* int */
	CT_LEVELS, /* int[UNET_LEVELS] */
	CT_REAL,   /* double */
	CT_BOOL,   /* int, 0 or 1 */
	CT_ENUM,   /* an enum stored as int, written by name */
	CT_STEMS,  /* stems[] and nstems */
	CT_TEXT,   /* char[] */
};

/* Flags of a field. */
enum {
	CFG_REQUIRED = 1,  /* a model header must have it */
	CFG_OMIT_EMPTY = 2, /* CT_TEXT: not written when empty (shown as "none") */
};

struct config_field {
	const char *key;           /* the header and JSON key */
	enum config_type type;
	size_t offset, size;       /* in struct unet_config */
	/* CT_INT, CT_LEVELS: min to max; CT_REAL: above min, at most max */
	double min, max;
	const char *unit;          /* after the range in messages ("frames"), or NULL */
	const struct name_table *names; /* CT_ENUM */
	unsigned flags;
	/* The position of the field in the JSON settings and in tf-export
	 * --info (0: not there). Each keeps the key order of earlier versions
	 * (their bytes do not change); a new field takes the next of each. */
	int json, info;
	const char *option;        /* tf-export's option setting it at import ("num-heads"), or NULL */
};
extern const struct config_field config_fields[CFG_COUNT];

struct unet_config;
/* The field's value inside c. */
static inline void *config_ptr(struct unet_config *c, const struct config_field *f)
{
	return (char *)c + f->offset;
}
static inline const void *config_cptr(const struct unet_config *c, const struct config_field *f)
{
	return (const char *)c + f->offset;
}
/* Copies the fields in set (CFG_BIT) from src into dst. */
void config_merge(struct unet_config *dst, const struct unet_config *src, unsigned set);
/* Checks each field of c against its own range or names, in table order:
 * -1 with "KEY VALUE is out of range (MIN to MAX UNIT)". */
int config_check_ranges(const struct unet_config *c);
/* An int or real value v checked against field f's range, the same message. */
int config_check_value(const struct config_field *f, double v);
/* The fields in the order of their json or info position (order[CFG_COUNT],
 * those at 0 left out); returns how many. */
int config_order(int info, int *order);

#endif
