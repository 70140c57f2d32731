/* The reference's state_dict, entry by entry, from a model. */
#include <stdlib.h>
#include <string.h>

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

/* "encoder_stages.0.1.swa.norm1.weight": the block prefix's length when the
 * name is inside a shifted block's window branch (odd block index), else 0. */
static size_t shifted_swa_prefix(const char *name)
{
	const char *swa = strstr(name, ".swa.");
	if (!swa)
		return 0;
	const char *p = swa;
	while (p > name && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == swa || p == name || p[-1] != '.')
		return 0;
	return (swa[-1] - '0') % 2 ? (size_t)(swa - name) : 0;
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
	int L = c->window_size * c->window_size;
	const int64_t mask_shape[3] = {64, L, L};
	size_t last_masked = 0;
	const char *last_block = NULL;
	memset(l, 0, sizeof *l);
	/* at most two extra entries per tensor */
	if (!(l->e = calloc((size_t)m->nspecs * 3, sizeof *l->e)))
		return tf_seterr("out of memory");
	if (c->shift_size > 0 && !(l->mask = shift_mask(c->window_size, c->shift_size))) {
		export_list_free(l);
		return tf_seterr("out of memory");
	}
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *p = &m->specs[i];
		size_t len = strlen(p->name), pre = c->shift_size > 0 ? shifted_swa_prefix(p->name) : 0;
		int rc = 0;
		/* a module's own buffers come before its children's entries */
		if (pre && !(last_block && last_masked == pre && !strncmp(last_block, p->name, pre))) {
			rc = push(l, p->name, pre, ".swa.attn_mask", DT_F32, 3, mask_shape, l->mask,
				  (size_t)64 * L * L * sizeof(float));
			last_block = p->name, last_masked = pre;
		}
		rc = rc || push(l, p->name, len, "", DT_F32, p->ndim, p->shape, m->params + p->offset,
				p->numel * sizeof(float));
		if (!rc && len > 12 && !strcmp(p->name + len - 12, ".running_var"))
			rc = push(l, p->name, len - 12, ".num_batches_tracked", DT_I64, 0, NULL, &zero_i64,
				  sizeof zero_i64);
		if (rc) {
			export_list_free(l);
			return -1;
		}
	}
	return 0;
}

void export_list_free(struct export_list *l)
{
	free(l->e);
	free(l->mask);
	memset(l, 0, sizeof *l);
}
