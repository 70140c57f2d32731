/* The training state (formats/train-state.md): everything a run needs to
 * continue exactly where it stopped, as a tensor stream of kind
 * "train-state": a header with the model's configuration, the training
 * settings, the step, the epoch and the random number generator's state;
 * then the parameters, Adam's first and second moments, one tensor frame
 * per parameter tensor each; then the end frame. */
#ifndef TF_TRAIN_STATE_H
#define TF_TRAIN_STATE_H
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "train/adam.h"
#include "train/augment.h"
#include "rng.h"

#define TRAIN_STATE_VERSION 3 /* reads 1 (no valid, valid_seconds) and 2 (no ema) too */
#define TRAIN_MAX_BATCH 1024

/* What a run is trained with; fixed for its whole life (a resumed run keeps them). */
struct train_settings {
	uint64_t seed;
	int batch;
	double segment_seconds;
	struct lr_schedule lr;   /* lr.total: the run's steps in all */
	struct adamw adam;
	double clip;             /* gradient norm limit; 0: none */
	struct augment aug;      /* aug.seg_len = segment_seconds * sample_rate */
	double wave_loss;        /* weight of the waveform L1 term; 0: none */
	int overfit;             /* one fixed batch, every step */
	int holdout;             /* training tracks held out for validation (no test/) */
	int tracks;              /* training tracks (checked when resuming) */
	int qat;                 /* fake-quantised int8 weights in the passes (quant_fake_q8) */
};

struct train_state {
	struct train_settings set;
	int64_t step;            /* steps done */
	int64_t epoch;           /* epochs done */
	int64_t epoch_steps;     /* steps per epoch */
	int valid;               /* validation tracks asked for (--valid); -1: not recorded (version 1) */
	double valid_seconds;    /* seconds of each, from its middle; 0: not recorded */
	double ema;              /* decay of the parameters' moving average (--ema, train/ema.h); 0: none */
	int mask_norm;           /* enum mask_norm: the masks the loss sees (--mask-norm; a resumed run may change it) */
	struct rng rng;          /* the data draws' generator after `step` steps */
	char dataset[1024];      /* where the run's data came from (informative) */
	struct model m;          /* parameters and BatchNorm running statistics */
	float *mom1, *mom2;      /* Adam's moments, laid out like m.params */
	float *avg;              /* the moving average, laid out like m.params; NULL when ema is 0 */
};

/* Allocates the moments (zeroed) for st->m, which must be initialised,
 * and the moving average (a copy of the parameters) when st->ema > 0. */
int train_state_alloc(struct train_state *st);
/* A new decay for the moving average (a resumed run may change it): 0
 * drops the average; from 0 to above 0 it starts as the parameters. */
int train_state_set_ema(struct train_state *st, double decay);
/* The model to write and validate: the moving average's parameters when
 * there is one, else st->m itself (a view: it shares st's buffers). */
struct model train_state_model(const struct train_state *st);
void train_state_free(struct train_state *st);
/* Checks the settings' ranges; -1 with a message naming the bad one. */
int train_settings_validate(const struct train_settings *s);

int train_state_write(const struct train_state *st, FILE *fp);
/* Reads and checks a state file: header keys, every tensor by name and
 * shape, each once, none missing, the end frame. -1 with a message. */
int train_state_read(struct train_state *st, int fd);
int train_state_load(struct train_state *st, const char *path);

#endif
