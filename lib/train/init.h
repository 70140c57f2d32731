/* Where training starts: the named model configurations and the initial
 * parameters of a model trained from scratch. */
#ifndef TF_TRAIN_INIT_H
#define TF_TRAIN_INIT_H
#include "model.h"
#include "rng.h"

/* The named configurations (all stereo, stems vocals, drums, bass, other,
 * normalisation "scale"):
 *   default  the reference's 15.4M network (depths 2,2,6,2, dims
 *            32,64,128,256, heads 8, window 8), n_fft 2048, hop 512
 *   compact  0.37M parameters, for a small machine: depths 1,1,1,1, dims
 *            8,16,32,64, heads 2, window 8, n_fft 1024, hop 256. A 3 s
 *            example costs 37 GFLOP forward (unet_flops), a third of the
 *            111 of dims 16..128 with depths 1,1,2,1, and a training step
 *            measured 2.3 times faster (man tf-train)
 *   tiny     for tests: depths 1,1,1,1, dims 8,8,16,16, heads 2, window 4,
 *            n_fft 256, hop 64
 * -1 with a message listing the names when name is not one. */
int train_config_named(struct unet_config *c, const char *name);
/* "default, compact, tiny" */
const char *train_config_names(void);

/* Fills m->params as PyTorch initialises the layers: convolution and
 * linear weights and their biases uniform in +-1/sqrt(fan_in) (kaiming
 * uniform with a = sqrt(5)), normalisation weights 1 and biases 0,
 * BatchNorm running means 0 and variances 1. The draws come from r in
 * state_dict order. */
void train_init_params(struct model *m, struct rng *r);

/* Grows a trained model into a deeper one (tf-train --grow): m, built and
 * initialised for a configuration that differs from from's only in having
 * as many blocks per stage or more, takes every tensor of from (same name,
 * same shape), and each block from lacks has its fusion BatchNorm's scale
 * and shift set to 0, so that the block adds 0 to its residual: m computes
 * what from computes until training moves those scales. The stems may
 * differ if at least one is shared (a 2-stem model started from a 4-stem
 * one): the mask head's rows of the shared stems are copied, the others keep
 * their fresh initialisation. m's run settings
 * (input scale, segment, overlap) become from's. -1 with a message naming
 * the first difference ("dims: got 12,24,48,96, expected 8,16,32,64"), m
 * unchanged. */
int train_grow(struct model *m, const struct model *from);

#endif
