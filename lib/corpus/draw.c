/* The composer's draws on lib/rng.h. Never rand(): the corpus must be the
 * same on every run. */
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

void rng_child(struct rng *child, const struct rng *parent, uint64_t id)
{
	rng_seed(child, parent->s[0] ^ corpus_mix64(parent->s[1] ^ corpus_mix64(id)));
}

int rng_int(struct rng *r, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)(rng_uniform(r) * (double)(hi - lo + 1));
}

double rng_range(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_uniform(r);
}

int rng_chance(struct rng *r, double p)
{
	return rng_uniform(r) < p;
}

int rng_weighted(struct rng *r, const double *w, int n)
{
	double total = 0, x;
	for (int i = 0; i < n; i++)
		total += w[i];
	x = rng_uniform(r) * total;
	for (int i = 0; i < n; i++)
		if ((x -= w[i]) < 0)
			return i;
	return n - 1;
}
