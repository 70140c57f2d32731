/* The part composers (internal to lib/corpus), which compose.c calls in
 * turn once the plan is made: drums.c, accomp.c (bass, other), melody.c
 * (vocals). */
#ifndef TF_CORPUS_PARTS_H
#define TF_CORPUS_PARTS_H
#include "corpus/plan.h"

void compose_drums(struct plan *p);
void compose_bass(struct plan *p);
void compose_other(struct plan *p);
void compose_vocals(struct plan *p);

/* Drum styles set the metre, tempo range and swing (drums.c). */
void drums_pick_style(struct plan *p, struct rng *r);
const char *drums_style_name(int style);

#endif
