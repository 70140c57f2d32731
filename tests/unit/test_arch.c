/* The architecture table (lib/arch.c): stages in forward order with their
 * levels and skips, the layers' shapes against their parameters, the
 * parameters' roles (int8 or not, output axis, BatchNorm statistics), and
 * a depth changed in the configuration changing only the table. */
#include <string.h>

#include "arch.h"
#include "error.h"
#include "test.h"

/* Does conv l's weight, bias and BatchNorm match its sizes in a's table? */
static int conv_consistent(const struct arch *a, const struct arch_conv *l)
{
	const struct param_spec *w = &a->params[l->w], *b = &a->params[l->b];
	int out_axis = l->kind == LAYER_CONVT;
	if (w->role != PARAM_WEIGHT || b->role != PARAM_BIAS || w->ndim != 4 || w->out_axis != out_axis)
		return 0;
	if (w->shape[out_axis] != l->co || w->shape[1 - out_axis] != l->ci || w->shape[2] != l->k || b->shape[0] != l->co)
		return 0;
	if (l->bn >= 0 && (a->params[l->bn].role != PARAM_SCALE || a->params[l->bn + 2].role != PARAM_RUNNING_MEAN ||
			   a->params[l->bn + 3].role != PARAM_RUNNING_VAR || a->params[l->bn + 3].trainable ||
			   a->params[l->bn].shape[0] != l->co))
		return 0;
	return 1;
}

int main(void)
{
	struct unet_config c;
	struct arch a;
	config_default(&c);
	ok(!arch_init(&a, &c), "default table built");

	/* stages in the order the forward pass runs them */
	static const char *names[] = {"stem", "enc0", "enc1", "enc2", "bottleneck", "dec0", "dec1", "dec2", "head"};
	static const int levels[] = {0, 0, 1, 2, 3, 2, 1, 0, 0};
	int names_ok = a.nstages == 9;
	for (int s = 0; names_ok && s < a.nstages; s++)
		names_ok = !strcmp(a.stage[s].name, names[s]) && a.stage[s].level == levels[s];
	ok(names_ok, "9 stages stem, enc0-2, bottleneck, dec0-2, head at levels 0 0 1 2 3 2 1 0 0");
	ok(a.stage[5].skip == 3 && a.stage[6].skip == 2 && a.stage[7].skip == 1 && a.stage[3].keep &&
		   !a.stage[4].keep && a.stage[4].skip < 0,
	   "decoder i adds the output of the encoder stage of its level (dec0 <- enc2, dec2 <- enc0)");
	ok(a.stage[2].nconvs == 1 && !strcmp(a.params[a.stage[2].conv[0].w].name, "downsample_layers.0.downsample.0.weight") &&
		   a.stage[5].conv[0].kind == LAYER_CONVT &&
		   !strcmp(a.params[a.stage[5].conv[0].w].name, "upsample_layers.0.upsample.0.weight"),
	   "enc1 starts with downsampling 0, dec0 with upsampling 0 (transposed)");

	/* every layer against its parameters */
	int convs_ok = 1, blocks = 0, shifts_ok = 1;
	for (int s = 0; s < a.nstages; s++) {
		for (int k = 0; k < a.stage[s].nconvs; k++)
			convs_ok &= conv_consistent(&a, &a.stage[s].conv[k]);
		for (int b = 0; b < a.stage[s].nblocks; b++) {
			const struct arch_block *k = &a.stage[s].blocks[b];
			convs_ok &= conv_consistent(&a, &k->in_proj) && conv_consistent(&a, &k->fusion) &&
				    k->fusion.ci == 3 * k->C && a.params[k->br[BRANCH_WINDOWS].fc1_w].shape[0] == k->hidden;
			shifts_ok &= k->shift == (b % 2 ? c.shift_size : 0);
			blocks++;
		}
	}
	ok(convs_ok, "every convolution's weight, bias and BatchNorm have the layer's shapes and roles");
	ok(shifts_ok, "odd blocks are shifted by shift_size, even ones not");
	ok(blocks == a.nblocks && blocks == 2 + 2 + 6 + 2 + 6 + 2 + 2, "%d blocks (22 in the default)", blocks);

	/* the roles the int8 code and the export read */
	const struct param_spec *stem_w = &a.params[a.stage[0].conv[0].w], *head_w = &a.params[a.stage[8].conv[1].w];
	const struct param_spec *qkv = &a.params[a.blocks[0].br[BRANCH_H].qkv_w];
	ok(stem_w->not_int8 && head_w->not_int8 && !qkv->not_int8 &&
		   !a.params[a.stage[5].conv[0].w].not_int8 && a.params[a.stage[5].conv[0].w].out_axis == 1,
	   "int8: not the stem, not the mask head, the attention and the resampling; output axis 1 of ConvT");
	size_t end = 0;
	int offsets_ok = 1;
	for (int i = 0; i < a.nparams; i++) {
		offsets_ok &= a.params[i].offset == end && a.params[i].offset % 16 == 0;
		end = a.params[i].offset + ((a.params[i].numel + 15) & ~(size_t)15);
	}
	ok(offsets_ok && end == a.nfloats, "tensors 64-byte aligned, in order, in one buffer of %zu floats", a.nfloats);
	int total = a.nparams;
	arch_free(&a);

	/* a deeper level: more blocks in its encoder and decoder stage, nothing else moves */
	c.depths[1] = 3;
	ok(!arch_init(&a, &c), "depths 2,3,6,2 built");
	/* a block: input_proj and fusion 2 + 4 tensors each, three branches of 11 */
	ok(a.stage[2].nblocks == 3 && a.stage[6].nblocks == 3 && a.nblocks == 24 && a.nparams == total + 2 * 45,
	   "enc1 and dec1 have 3 blocks each: %d blocks, %d tensors (%d before)", a.nblocks, a.nparams, total);
	ok(a.stage[2].blocks[2].shift == 0 && !strcmp(a.stage[2].blocks[2].name, "encoder_stages.1.2") &&
		   !strcmp(a.stage[6].blocks[2].name, "decoder_stages.1.2"),
	   "the new blocks are encoder_stages.1.2 and decoder_stages.1.2, unshifted");
	arch_free(&a);

	c.num_heads = 3;
	int refused = arch_init(&a, &c) < 0;
	ok(refused && strstr(tf_strerror(), "num_heads"), "an invalid configuration is refused: %s", tf_strerror());
	return test_done();
}
