/* The parameters' exponential moving average (Polyak averaging): after
 * every optimiser step t (1-based),
 *   avg = d avg + (1 - d) p,   d = min(decay, (1 + t) / (10 + t)),
 * over every tensor of the model, BatchNorm running statistics included.
 * The ramp (1 + t) / (10 + t) lets the average follow a new run's first
 * steps instead of keeping its random start for 1 / (1 - decay) steps.
 * With a high learning rate the parameters wander around a minimum from
 * one step to the next; their average sits nearer its middle, which is why
 * tf-train --ema writes the average as the model and validates it. Every
 * element is updated independently: the result does not depend on the
 * number of threads. */
#ifndef TF_TRAIN_EMA_H
#define TF_TRAIN_EMA_H
#include <stddef.h>
#include <stdint.h>

#define EMA_MAX_DECAY 0.99999 /* a horizon of 100,000 steps */

/* The decay used after step t (1-based) for a run's --ema decay. */
double ema_decay_at(double decay, int64_t t);

/* avg [n] = d avg + (1 - d) p [n]. */
void ema_update(float *avg, const float *p, size_t n, double d);

#endif
