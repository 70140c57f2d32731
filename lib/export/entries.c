/* The reference's state_dict, entry by entry, from a model. */
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "error.h"
#include "export/export.h"

static const int64_t zero_i64;

/* The reference registers, in every block with a shifted window, a mask
 * made for a fixed 8ws x 8ws image whatever the input: Swin's three regions
 * per axis ([0, n-ws), [n-ws, n-shift), [n-shift, n)), the image cut into
 * ws x ws windows in row-major order, and for each window mask[i][j] = -100
 * where tokens i and j lie in different regions, else 0. Shape
 * [64, ws*ws, ws*ws]. */
static float *shift_mask(int ws, int shift)
{
	int n = 8 * ws, L = ws * ws;
	float *m = malloc((size_t)64 * L * L * sizeof *m);
	if (!m)
		return NULL;
	for (int w = 0; w < 64; w++) {
		int h0 = w / 8 * ws, w0 = w % 8 * ws;
		for (int i = 0; i < L; i++)
			for (int j = 0; j < L; j++) {
				int hi = h0 + i / ws, wi = w0 + i % ws, hj = h0 + j / ws, wj = w0 + j % ws;
#define REGION(x) ((x) < n - ws ? 0 : (x) < n - shift ? 1 : 2)
				int ri = 3 * REGION(hi) + REGION(wi), rj = 3 * REGION(hj) + REGION(wj);
#undef REGION
				m[((size_t)w * L + i) * L + j] = ri == rj ? 0.0f : -100.0f;
			}
	}
	return m;
}

/* The shifted block whose window branch starts at each tensor (its
 * attn_mask goes before it), from the table: [nparams], NULL elsewhere. */
static const struct arch_block **mask_places(const struct arch *a)
{
	const struct arch_block **at = calloc((size_t)a->nparams, sizeof *at);
	for (int b = 0; at && b < a->nblocks; b++)
		if (a->blocks[b].shift > 0)
			at[a->blocks[b].br[BRANCH_WINDOWS].norm1_w] = &a->blocks[b];
	return at;
}

static int push(struct export_list *l, const char *name, size_t nlen, const char *suffix, enum dtype dt, int ndim,
		const int64_t *shape, const void *data, size_t bytes)
{
	struct export_entry *e = &l->e[l->n++];
	if (nlen + strlen(suffix) >= sizeof e->name)
		return tf_seterr("state_dict key too long: %.*s%s", (int)nlen, name, suffix);
	memcpy(e->name, name, nlen);
	strcpy(e->name + nlen, suffix);
	e->dtype = dt, e->ndim = ndim;
	if (ndim)
		memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
	e->data = data, e->bytes = bytes;
	return 0;
}

int export_list_make(struct export_list *l, const struct model *m)
{
	const struct unet_config *c = &m->cfg;
	int L = c->window_size * c->window_size, rc = -1;
	const int64_t mask_shape[3] = {64, L, L};
	struct arch a;
	const struct arch_block **mask_before = NULL;
	memset(l, 0, sizeof *l);
	if (arch_init(&a, c))
		return -1;
	/* at most two extra entries per tensor */
	if (!(mask_before = mask_places(&a)) || !(l->e = calloc((size_t)m->nspecs * 3, sizeof *l->e)) ||
	    (c->shift_size > 0 && !(l->mask = shift_mask(c->window_size, c->shift_size)))) {
		tf_seterr("out of memory");
		goto out;
	}
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *p = &m->specs[i];
		size_t len = strlen(p->name);
		/* a module's own buffers come before its children's entries */
		if (mask_before[i] && push(l, mask_before[i]->name, strlen(mask_before[i]->name),
					     ".swa.attn_mask", DT_F32, 3, mask_shape, l->mask,
					     (size_t)64 * L * L * sizeof(float)))
			goto out;
		if (push(l, p->name, len, "", DT_F32, p->ndim, p->shape, m->params + p->offset,
			 p->numel * sizeof(float)))
			goto out;
		if (p->role == PARAM_RUNNING_VAR) { /* "<bn>.running_var" -> "<bn>.num_batches_tracked" */
			size_t base = len - strlen(".running_var");
			if (push(l, p->name, base, ".num_batches_tracked", DT_I64, 0, NULL, &zero_i64, sizeof zero_i64))
				goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		export_list_free(l);
	free(mask_before);
	arch_free(&a);
	return rc;
}

void export_list_free(struct export_list *l)
{
	free(l->e);
	free(l->mask);
	memset(l, 0, sizeof *l);
}
