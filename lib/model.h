/* The model: its configuration (architecture + how it is run), the table of
 * its parameters named by the reference state_dict keys, and the model file
 * (formats/model.md), a tensor stream of kind "model". */
#ifndef TF_MODEL_H
#define TF_MODEL_H
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "stream.h"

#define UNET_LEVELS 4
#define MODEL_MAX_STEMS 16
#define MODEL_NAME_MAX 96
/* The most floats a model may hold (every tensor, padding included): 2^30,
 * 4.3 GB as f32, about 70 times the default model. A header declaring more
 * is refused before anything is allocated for it (formats/model.md). */
#define MODEL_MAX_PARAMS ((size_t)1 << 30)
/* The longest segment a model or --segment may ask for: 16384 frames, about
 * 190 s at 44.1 kHz and hop 512. Buffers follow the input actually present,
 * so a short input costs what it is, whatever the segment. */
#define MODEL_MAX_SEGMENT 16384

/* Where a model comes from: the optional header keys provenance.*
 * (formats/model.md). Absent: empty strings, -1, NaN. */
#define MODEL_PROV_TEXT 1024
struct model_provenance {
	char corpus[MODEL_PROV_TEXT];   /* the training corpus: generator, seed, soundfonts */
	char training[MODEL_PROV_TEXT]; /* how it was trained (tf-train's settings) */
	int64_t seed, steps;            /* tf-train's --seed; optimiser steps taken */
	char heldout[MODEL_PROV_TEXT];  /* what the held-out scores were measured on, and how */
	double sdr[MODEL_MAX_STEMS];    /* held-out median SDR per stem (dB), in stem order */
	double sdr_mean;                /* their mean (what tf-export --list shows) */
};

struct unet_config {
	/* architecture (names follow the reference's constructor) */
	int in_channels, out_channels;
	int depths[UNET_LEVELS], dims[UNET_LEVELS];
	int window_size, shift_size, num_heads;
	double mlp_ratio;
	int mask_shifted;          /* Swin mask in shifted windows; 0 for reference checkpoints */
	/* how it is run */
	int sample_rate, n_fft, hop;
	enum stft_window window;   /* WINDOW_HANN */
	int channels;              /* audio channels; in_channels = 2*channels */
	int nstems;                /* out_channels = nstems*channels */
	char stems[MODEL_MAX_STEMS][32];
	enum normalization normalization; /* NORM_SCALE: the input multiplied by input_scale */
	double input_scale;
	int segment, overlap;      /* frames per segment and overlap between segments */
	enum quantization quantization; /* how the tensors are stored (quant_traits) */
	char assumed[96];          /* settings an importer assumed (defaults), comma-separated; "" none */
	struct model_provenance prov; /* not used to run the model */
};

/* The reference defaults: the seed's 15.4M model run on mono 44.1 kHz
 * with stems vocals, other. */
void config_default(struct unet_config *c);
/* A step after the ones provenance.training records: "; then WHAT", or
 * WHAT alone when it records none (cut at MODEL_PROV_TEXT). */
void provenance_then(struct model_provenance *p, const char *what);
/* Forgets the held-out scores and what they were measured on: a model
 * trained further or quantised is not the one they describe. */
void provenance_forget_scores(struct model_provenance *p);

/* Checks internal consistency; -1 with a message naming the bad field. */
int config_validate(const struct unet_config *c);
/* The MLP width of a transformer layer of dim channels: int(dim * mlp_ratio),
 * Python's truncation, as the reference computes it. The one place the
 * formula lives. */
int config_mlp_hidden(const struct unet_config *c, int dim);
/* The overlap that goes with another segment length when none is given:
 * the model's own if it still fits (at most half), else a quarter of the
 * segment; 0 for segment 0 (the whole input). */
int config_overlap_for(const struct unet_config *c, int segment);
int config_from_frame(struct unet_config *c, const struct frame *hdr);
int config_to_frame(const struct unet_config *c, struct frame *hdr);

/* What a tensor is to the layer that holds it. */
enum param_role {
	PARAM_WEIGHT,       /* of a convolution or linear layer (2-D or more) */
	PARAM_BIAS,         /* of any layer, a norm's shift included */
	PARAM_SCALE,        /* a LayerNorm's or BatchNorm's weight */
	PARAM_RUNNING_MEAN, /* BatchNorm statistics (not trainable) */
	PARAM_RUNNING_VAR,
};

/* One tensor of the architecture (lib/arch.c makes the table). */
struct param_spec {
	char name[MODEL_NAME_MAX]; /* state_dict key */
	int ndim;
	int64_t shape[4];
	size_t numel, offset;      /* offset (floats) into model.params */
	int trainable;             /* 0 for BatchNorm running statistics */
	enum param_role role;
	const char *not_int8;      /* why a q8 model keeps it in float; NULL: int8 */
	int out_axis;              /* the axis of output channels (1: transposed convolution) */
};

/* Fills specs (up to max; may be NULL to count) with every tensor of the
 * architecture in state_dict order, excluding swa.attn_mask and
 * num_batches_tracked (which the network does not use). Returns the count. */
int unet_param_specs(const struct unet_config *c, struct param_spec *specs, int max);
/* Trainable parameters (15,404,834 for the default configuration). */
int64_t unet_param_count(const struct unet_config *c);

struct model {
	struct unet_config cfg;
	int nspecs;
	struct param_spec *specs;
	float *params;     /* one buffer holding every tensor, f32 */
	size_t nparams;    /* floats in params */
	/* q8 and q8s models: the int8 tensors as stored (params holds them
	 * dequantised), at the same offsets as in params; NULL otherwise */
	int8_t *q8;
	float **q8_scale;  /* [nspecs]: per-output-channel scales of the int8 tensors, else NULL */
	float *act_scale;  /* [nspecs]: q8s, the calibrated input scale of each int8 layer, else 0 */
};

/* Which tensors a q8 or q8s model stores as int8: the weights of every
 * convolution and linear layer except the stem and the output head (see
 * formats/model.md). 0 or 1; *why (may be NULL) says why not. */
int model_q8_tensor(const struct param_spec *s, const char **why);
/* Which tensors an f16 or bf16 model stores in 16 bits: those of two or
 * more axes (weights); biases, norms and BatchNorm statistics stay f32. */
int model_half_tensor(const struct param_spec *s);
/* The axis of a weight tensor that indexes output channels: 1 for the
 * transposed convolutions ([in, out, kh, kw]), else 0. */
int model_out_axis(const struct param_spec *s);
/* Allocates m->q8, m->q8_scale (each tensor's scales) and m->act_scale. */
int model_q8_alloc(struct model *m);
/* A model of any type as f32 from now on: params already holds every
 * tensor widened (as loaded), so the int8 copies and scales are freed and
 * the header says "none"; model_write then writes f32 throughout. */
void model_to_f32(struct model *m);

/* "1.2 TB": a byte count in decimal units, as disk sizes are given. */
const char *model_bytes_str(double bytes, char *buf, size_t len);
/* Floats the parameter buffer of a model for cfg (validated) holds,
 * computed without allocating it. */
size_t model_nparams(const struct unet_config *cfg);
/* 0 if a model for cfg (validated) fits MODEL_MAX_PARAMS; else -1 with
 * "the model declares 1.2 TB of parameters (...); refusing". */
int model_check_size(const struct unet_config *cfg);
/* Allocates a zeroed model for cfg (validated and size-checked first). On
 * failure m is left empty: each buffer has one owner, and model_free on it
 * is harmless. */
int model_init(struct model *m, const struct unet_config *cfg);
void model_free(struct model *m);
/* The tensor with this state_dict key, or NULL. */
float *model_param(const struct model *m, const char *name);
const struct param_spec *model_spec(const struct model *m, const char *name);
/* The same, searching from *hint on (and round), and leaving *hint after
 * the one found: tensors read in the table's order are found at once, so a
 * file of n tensors costs n look-ups, not n^2 / 2 (start *hint at 0). */
const struct param_spec *model_spec_near(const struct model *m, const char *name, int *hint);

/* Reads a model file from fd: header, every tensor checked by name, dtype and
 * shape ("got [..], expected [..]"), end frame. -1 with message on error. */
int model_read(struct model *m, int fd);
int model_load(struct model *m, const char *path); /* "-" = stdin */
/* Reads and checks the whole model file as model_load does, but stores no
 * tensor (m->params and m->q8 stay NULL), so memory stays bounded by one
 * frame whatever the header declares: for tf-export --info. *described is
 * set to 1 once the header is read; m then holds its configuration and
 * table even when -1 is returned (over MODEL_MAX_PARAMS, a bad tensor),
 * and is freed with model_free. */
int model_check(struct model *m, const char *path, int *described);
int model_write(const struct model *m, FILE *fp);
/* The same with tensor i stored as dtypes[i] (DT_F32, DT_F16 or DT_BF16
 * rounded to nearest even, or DT_I8 from m->q8, followed by "<name>:scale"
 * and, in a q8s model, "<name>:act_scale"); NULL: as the model's type
 * stores them (int8 where m->q8 has them; in an f16 or bf16 model the
 * tensors of model_half_tensor in 16 bits, exact since they were loaded
 * from 16 bits; else f32). */
int model_write_as(const struct model *m, FILE *fp, const enum dtype *dtypes);
/* "pth" (a zip archive, or a legacy torch.save pickle), "safetensors" (8-byte length, then JSON), "tfswa"
 * (a tensor stream) or NULL, from a file's first bytes (16 suffice). */
const char *model_file_format(const void *buf, size_t len);
/* Reads only the header of a model file into cfg (for tf-stft -m). */
int model_read_config(struct unet_config *cfg, const char *path);

#endif
