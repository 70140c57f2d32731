/* The network described once (doc/architecture.md): the layers of
 * TFSWA-UNet for a configuration, with their shapes, where their
 * parameters are in the model's table, and the stages of the forward pass
 * in the order they run. Parameter names are made here and nowhere else;
 * every walker of the network (parameter table, inference, training, ONNX,
 * state_dict export, import) iterates this, so that no role or index is
 * read back from a name. */
#ifndef TF_ARCH_H
#define TF_ARCH_H
#include "model.h"

/* stem, an encoder stage per level above the bottleneck, the bottleneck, a
 * decoder stage per encoder stage, the head */
#define ARCH_MAX_STAGES (2 * UNET_LEVELS + 1)

enum arch_layer_kind {
	LAYER_CONV,  /* Conv2d(k, stride, pad), weight [co][ci][k][k] */
	LAYER_CONVT, /* ConvTranspose2d(4, 2, 1), weight [ci][co][4][4] */
};

/* A convolution with bias, optionally followed by eval-mode BatchNorm and
 * GELU. Parameters are indices into the table (struct arch.params). */
struct arch_conv {
	enum arch_layer_kind kind;
	int ci, co, k, stride, pad;
	int gelu;  /* GELU after it */
	int w, b;  /* weight, bias */
	int bn;    /* BatchNorm weight, then bias, running_mean, running_var at
		    * bn+1..bn+3; -1 for none */
};

/* One pre-norm transformer layer (tsa, fsa or swa): parameter indices. */
struct arch_tlayer {
	int norm1_w, norm1_b, qkv_w, proj_w, proj_b, norm2_w, norm2_b, fc1_w, fc1_b, fc2_w, fc2_b;
};

enum arch_branch { BRANCH_H, BRANCH_W, BRANCH_WINDOWS, ARCH_BRANCHES }; /* tsa, fsa, swa */

struct arch_block {
	char name[MODEL_NAME_MAX]; /* the module's state_dict prefix, "encoder_stages.0.1" */
	int C, hidden;             /* channels, MLP width */
	int shift;                 /* window shift: 0 in even blocks, shift_size in odd ones */
	struct arch_conv in_proj;  /* 1x1 C -> C + BatchNorm */
	struct arch_conv fusion;   /* 1x1 3C -> C + BatchNorm + GELU, over concat[tsa, fsa, swa] */
	struct arch_tlayer br[ARCH_BRANCHES];
};

enum arch_stage_role { STAGE_STEM, STAGE_ENCODER, STAGE_BOTTLENECK, STAGE_DECODER, STAGE_HEAD };

/* A stage: its convolutions (the stem's; the down- or upsampling that
 * feeds an encoder stage below the top, the bottleneck or a decoder stage;
 * the head's two), then its blocks. */
struct arch_stage {
	char name[16];             /* "stem", "enc0".., "bottleneck", "dec0".., "head" */
	char module[32];           /* the module prefix of its convolutions, "downsample_layers.0" */
	enum arch_stage_role role;
	int level;                 /* of its output: 0 full size, l after l stride-2 halvings */
	int nconvs;
	struct arch_conv conv[2];
	int nblocks;
	struct arch_block *blocks;
	int skip;                  /* a decoder stage: the stage whose output its first block adds; else -1 */
	int keep;                  /* a later stage adds its output (an encoder stage) */
};

struct arch {
	int nlevels;               /* UNET_LEVELS: the bottleneck's level is nlevels-1 */
	int nparams;
	struct param_spec *params; /* the model's table, in state_dict order */
	size_t nfloats;            /* floats of one buffer holding them all */
	int nstages;
	struct arch_stage stage[ARCH_MAX_STAGES];
	struct arch_block *blocks; /* every block, for the stages */
	int nblocks;
};

/* The table of c (validated first). -1 with message. */
int arch_init(struct arch *a, const struct unet_config *c);
void arch_free(struct arch *a);

/* The spatial size at every level for an H x W input: h[0] = H, then
 * each level the stride-2 convolution's output. */
void arch_level_sizes(const struct arch *a, int H, int W, int *h, int *w);

#endif
