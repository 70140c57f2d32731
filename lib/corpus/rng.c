/* The composer's PRNG: xoshiro256** (Blackman and Vigna), seeded through
 * splitmix64. Never rand(): the corpus must be the same on every run. */
#include "corpus/corpus.h"

uint64_t corpus_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Track i of a split depends only on (seed, split, i): adding tracks to a
 * corpus never changes the ones already there. */
uint64_t corpus_track_seed(uint64_t seed, int split, int index)
{
	return corpus_mix64(corpus_mix64(corpus_mix64(seed) ^ (uint64_t)split) ^ (uint64_t)index);
}

void rng_seed(struct corpus_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = seed = corpus_mix64(seed);
}

void rng_child(struct corpus_rng *child, const struct corpus_rng *parent, uint64_t id)
{
	rng_seed(child, parent->s[0] ^ corpus_mix64(parent->s[1] ^ corpus_mix64(id)));
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_u64(struct corpus_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double rng_unit(struct corpus_rng *r)
{
	return (double)(rng_u64(r) >> 11) * 0x1p-53;
}

int rng_int(struct corpus_rng *r, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)(rng_unit(r) * (double)(hi - lo + 1));
}

double rng_range(struct corpus_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

int rng_chance(struct corpus_rng *r, double p)
{
	return rng_unit(r) < p;
}

int rng_weighted(struct corpus_rng *r, const double *w, int n)
{
	double total = 0, x;
	for (int i = 0; i < n; i++)
		total += w[i];
	x = rng_unit(r) * total;
	for (int i = 0; i < n; i++)
		if ((x -= w[i]) < 0)
			return i;
	return n - 1;
}
