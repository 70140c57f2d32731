/* Pieces 64-byte aligned off one buffer. With base NULL it only counts, so
 * that a set-up sizes a workspace with the code that carves it (and an
 * allocation, made once, cannot disagree with its use). */
#ifndef TF_CARVE_H
#define TF_CARVE_H
#include <stddef.h>

struct carve {
	char *base;
	size_t used;
};

static inline void *carve(struct carve *c, size_t n, size_t size)
{
	size_t at = (c->used + 63) & ~(size_t)63;
	c->used = at + n * size;
	return c->base ? c->base + at : NULL;
}

/* The larger of a running maximum and what a counting carve used. */
static inline size_t carve_max(size_t most, const struct carve *c)
{
	return c->used > most ? c->used : most;
}

#endif
