/* The optimiser: AdamW (Adam with decoupled weight decay, Loshchilov and
 * Hutter; torch.optim.AdamW's update), the learning-rate schedule and
 * gradient clipping by global norm.
 *
 * For step t = 1, 2, ... with learning rate lr:
 *   p -= lr * wd * p                      (decayed tensors only)
 *   m  = b1 m + (1 - b1) g
 *   v  = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * Weight decay applies to weights of two or more dimensions (convolutions,
 * linear layers), not to biases or normalisation parameters.
 * Every element is updated independently, so the result does not depend on
 * the number of threads. */
#ifndef TF_TRAIN_ADAM_H
#define TF_TRAIN_ADAM_H
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct adamw {
	double beta1, beta2, eps, weight_decay;
};

/* One update of n elements with learning rate lr at step t (1-based);
 * decay: apply the weight decay to these elements. */
void adamw_update(const struct adamw *o, float *p, const float *g, float *m, float *v, size_t n,
		  double lr, int64_t t, int decay);
/* The update of every trainable tensor of m (grad, mom1, mom2 laid out
 * like m->params). */
void adamw_step(const struct adamw *o, struct model *m, const float *grad, float *mom1, float *mom2,
		double lr, int64_t t);

enum lr_kind { LR_COSINE, LR_STEP, LR_CONSTANT };
struct lr_schedule {
	enum lr_kind kind;
	double lr, lr_min;      /* peak rate; cosine floor */
	int64_t warmup, total;  /* warm-up steps; steps in all (cosine) */
	int64_t step_size;      /* step: every step_size steps after warm-up ... */
	double gamma;           /* ... multiply by gamma */
};
/* The rate of step t (0-based): linear warm-up from lr/warmup to lr over
 * the first `warmup` steps, then cosine from lr down to lr_min at `total`,
 * or steps of gamma, or constant. */
double lr_at(const struct lr_schedule *s, int64_t t);
/* "cosine", "step", "constant" -> kind, or -1. */
int lr_kind_from_name(const char *name);
const char *lr_kind_name(enum lr_kind k);

/* The global L2 norm of the trainable gradients (summed in double, in
 * fixed blocks, the same for any number of threads). */
double grad_norm(const struct model *m, const float *grad);
/* Scales the trainable gradients by max_norm / norm when norm > max_norm
 * (max_norm <= 0: no clipping). Returns the norm before clipping. */
double grad_clip(const struct model *m, float *grad, double max_norm);

#endif
