/* The project's random numbers: xoshiro256** (Blackman and Vigna), seeded
 * through splitmix64. Its whole state is four 64-bit words, which the
 * training state stores, so a resumed run draws exactly what an
 * uninterrupted one would have. */
#ifndef TF_RNG_H
#define TF_RNG_H
#include <stdint.h>

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1), 53 bits. */
double rng_uniform(struct rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Standard normal (Box-Muller; two uniforms per draw). */
double rng_normal(struct rng *r);

#endif
