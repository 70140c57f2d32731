/* The token sequences of a TFSWA block's three attention branches, shared by
 * the inference (lib/nn/unet_plan.c) and training (lib/nn/train_branch.c)
 * passes: sequences along H (one per column), along W (one per row), or the
 * ws x ws windows of the image zero-padded to multiples of ws and rolled by
 * -shift on both axes (torch.roll), tokens row-major inside a window. */
#ifndef TF_SEQMAP_H
#define TF_SEQMAP_H

enum axis { ALONG_H, ALONG_W, WINDOWS };

struct seqmap {
	enum axis axis;
	int H, W, ws, shift, Hp, Wp, nwin_w;
	int nseq, len; /* per image */
};

static inline struct seqmap seqmap(enum axis axis, int H, int W, int ws, int shift)
{
	struct seqmap s = {axis, H, W, ws, shift, 0, 0, 0, 0, 0};
	switch (axis) {
	case ALONG_H: s.nseq = W, s.len = H; break;
	case ALONG_W: s.nseq = H, s.len = W; break;
	case WINDOWS:
		s.Hp = (H + ws - 1) / ws * ws;
		s.Wp = (W + ws - 1) / ws * ws;
		s.nwin_w = s.Wp / ws;
		s.nseq = (s.Hp / ws) * s.nwin_w;
		s.len = ws * ws;
		break;
	}
	return s;
}

/* Pixel (within its image) of token t of sequence s, or -1 for the window
 * padding. region (may be NULL): Swin's region of the token in the shifted
 * image, for the optional shifted-window mask. Inline: it runs per token. */
static inline long source_pixel(const struct seqmap *m, int s, int t, int *region)
{
	int hs, wsx, hp, wp;
	switch (m->axis) {
	case ALONG_H: return (long)t * m->W + s;
	case ALONG_W: return (long)s * m->W + t;
	default: break;
	}
	/* window (i, j), token (ph, pw) in the shifted, padded image;
	 * roll(-shift) means shifted[h] = padded[(h + shift) mod Hp] */
	hs = (s / m->nwin_w) * m->ws + t / m->ws;
	wsx = (s % m->nwin_w) * m->ws + t % m->ws;
	if (region) {
		int rh = hs < m->Hp - m->ws ? 0 : hs < m->Hp - m->shift ? 1 : 2;
		int rw = wsx < m->Wp - m->ws ? 0 : wsx < m->Wp - m->shift ? 1 : 2;
		*region = 3 * rh + rw;
	}
	hp = (hs + m->shift) % m->Hp;
	wp = (wsx + m->shift) % m->Wp;
	return hp < m->H && wp < m->W ? (long)hp * m->W + wp : -1;
}

#endif
