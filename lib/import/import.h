/* Importing checkpoints of the PyTorch reference into a model:
 *
 *   1. read the checkpoint into a list of named tensors (import_pth for
 *      torch.save zip archives, import_safetensors for safetensors files);
 *   2. work out the configuration: the architecture from the tensors'
 *      shapes, everything the weights cannot tell from settings (a JSON
 *      config file and/or command-line options) or the defaults
 *      (import_config);
 *   3. check every tensor against the architecture and copy it into the
 *      model as f32 (import_model).
 *
 * Nothing in a checkpoint is ever executed: the pickle inside a .pth is read
 * by a restricted unpickler that knows only the globals a state_dict uses.
 * Library style: -1 (or NULL) with a message in tf_strerror(). */
#ifndef TF_IMPORT_H
#define TF_IMPORT_H
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tensor.h"

/* ---------- named tensors ---------- */

/* struct import_set and its queries (tensorset.h); the readers that fill
 * one: import_pth (pth.h) and import_safetensors (safetensors.h). */
#include "pth.h"
#include "safetensors.h"
#include "tensorset.h"

/* Reads all of fd (a file or a pipe) into a new buffer, at most cap bytes. */
int import_read_fd(int fd, size_t cap, unsigned char **buf, size_t *len);
/* The same for a path; NULL or "-" is standard input. */
int import_read_file(const char *path, size_t cap, unsigned char **buf, size_t *len);

/* ---------- settings: what the weights cannot tell ---------- */

/* Which fields of import_settings.c were given: the bits of lib/config.h's
 * field table (CFG_BIT). */
enum {
	SET_IN_CHANNELS = CFG_BIT(CFG_IN_CHANNELS), SET_OUT_CHANNELS = CFG_BIT(CFG_OUT_CHANNELS),
	SET_DEPTHS = CFG_BIT(CFG_DEPTHS), SET_DIMS = CFG_BIT(CFG_DIMS), SET_NUM_HEADS = CFG_BIT(CFG_NUM_HEADS),
	SET_WINDOW_SIZE = CFG_BIT(CFG_WINDOW_SIZE), SET_SHIFT_SIZE = CFG_BIT(CFG_SHIFT_SIZE),
	SET_MLP_RATIO = CFG_BIT(CFG_MLP_RATIO), SET_MASK_SHIFTED = CFG_BIT(CFG_MASK_SHIFTED),
	SET_SAMPLE_RATE = CFG_BIT(CFG_SAMPLE_RATE), SET_N_FFT = CFG_BIT(CFG_N_FFT), SET_HOP = CFG_BIT(CFG_HOP),
	SET_CHANNELS = CFG_BIT(CFG_CHANNELS), SET_STEMS = CFG_BIT(CFG_STEMS), SET_SEGMENT = CFG_BIT(CFG_SEGMENT),
	SET_OVERLAP = CFG_BIT(CFG_OVERLAP), SET_NORMALIZATION = CFG_BIT(CFG_NORMALIZATION),
	SET_INPUT_SCALE = CFG_BIT(CFG_INPUT_SCALE),
	SET_ASSUMED = CFG_BIT(CFG_ASSUMED), /* what an earlier import assumed (a tfswa export carries it) */
};

struct import_settings {
	unsigned set;           /* SET_* bits */
	struct unet_config c;   /* the values of the fields that are set */
};

/* Reads a JSON config file (the goldens' config.json form: in_channels,
 * out_channels, depths, dims, window_size, shift_size, num_heads,
 * mlp_ratio; also sample_rate, n_fft, hop, channels, stems (array or
 * "a,b"), segment, overlap, mask_shifted, normalization, input_scale: the
 * fields of lib/config.h's table with a JSON position) into s, on top of
 * what s already holds, each checked against its range or names. Unknown
 * keys are ignored. */
int import_settings_json(struct import_settings *s, const char *path);
int import_settings_json_text(struct import_settings *s, const char *text, size_t len);
/* Copies the fields set in over into s (over wins). */
void import_settings_merge(struct import_settings *s, const struct import_settings *over);
/* Parses "a,b,c" into the stems of s. */
int import_settings_stems(struct import_settings *s, const char *list);

/* ---------- the model ---------- */

/* The architecture as the tensors tell it: in/out channels, dims, depths,
 * and the MLP width at each level (0 at a level with no blocks). */
struct import_arch {
	int in_channels, out_channels;
	int depths[UNET_LEVELS], dims[UNET_LEVELS], mlp_hidden[UNET_LEVELS];
	char mlp_tensor[UNET_LEVELS][MODEL_NAME_MAX]; /* the weight mlp_hidden is from */
};
int import_infer_arch(const struct import_set *w, struct import_arch *a);

/* The full configuration: the architecture from w, checked against s where
 * s sets it; the rest from s, then the settings the file carries (w->settings),
 * or the defaults (config_default: heads 8,
 * window 8, shift 4, mlp_ratio 4, 44100 Hz, n_fft 2048, hop 512, stems
 * vocals,other; channels = in_channels/2). Says what to change when the
 * pieces disagree (e.g. the stems count, or mlp_ratio against the MLP
 * weights' shape). */
int import_config(struct unet_config *cfg, const struct import_set *w, const struct import_settings *s);
/* import_config, and which of the settings a checkpoint may not carry
 * (num_heads, window_size, shift_size, sample_rate, n_fft, hop, stems:
 * SET_* bits) neither the file nor s gave, so that defaults were assumed. */
int import_resolve(struct unet_config *cfg, const struct import_set *w, const struct import_settings *s,
		   unsigned *assumed);
/* "num_heads 8, window_size 8, stems vocals,other" for the assumed bits of
 * cfg into buf; the names alone (comma-separated) when with_values is 0. */
const char *import_assumed_str(const struct unet_config *cfg, unsigned assumed, int with_values, char *buf,
			       size_t len);

/* Allocates m for cfg and fills every parameter from w, checking each
 * shape ("name: got [..], expected [..]"); a missing tensor, or one that is
 * neither part of the architecture nor ignorable (num_batches_tracked,
 * swa.attn_mask), is an error naming it. All of that is checked before
 * anything is allocated; on failure m is left empty. */
int import_model(struct model *m, const struct import_set *w, const struct unet_config *cfg);

/* The whole path for one file: format "pth", "safetensors" or NULL (by the
 * file's first bytes); settings may be NULL. */
int import_model_file(struct model *m, const char *path, const char *format, const struct import_settings *s);

#endif
