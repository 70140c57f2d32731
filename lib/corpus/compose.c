/* The song: key, mode, tempo, form and harmony (the plan), then each part
 * written from it (parts.h) and the mix settings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/parts.h"
#include "corpus/plan.h"
#include "corpus/theory.h"
#include "corpus/voice.h"
#include "error.h"

const char *const corpus_stem_names[CORPUS_STEMS] = {"vocals", "drums", "bass", "other"};

/* The form: an intro, then verses and choruses with a bridge (an
 * instrumental solo or more singing) and quiet breaks, repeating for as
 * long as the track needs. The track may start at any section. */
static int plan_form(struct plan *p, int64_t frames)
{
	struct rng *r = &p->rng;
	double bar_frames = p->steps * p->step_frames;
	int track_bars = (int)ceil((double)frames / bar_frames) + 1;
	int cap = track_bars + 96, nb = 0, secno = 0, starts[64], nstarts = 0;
	int prog[4][4], cpb[4];
	double dyn = rng_range(r, 0.4, 1.0);
	static const int cycle[] = {SEC_VERSE, SEC_CHORUS, SEC_VERSE, SEC_CHORUS, SEC_BRIDGE, SEC_CHORUS, SEC_OUTRO};
	static const double base[] = {0.5, 0.7, 0.95, 0.8, 0.4};
	if (!(p->bar = calloc((size_t)cap, sizeof *p->bar)))
		return -1;
	for (int s = 0; s < 4; s++) {
		pick_progression(p, r, prog[s]);
		cpb[s] = p->beats == 4 && rng_chance(r, 0.3) ? 2 : 1;
	}
	int intro = (int[]){0, 1, 2, 2, 4, 4, 8}[rng_int(r, 0, 6)];
	int verse_len = (int[]){4, 8, 8, 8, 16}[rng_int(r, 0, 4)], chorus_len = rng_chance(r, 0.7) ? 8 : 4;
	int bridge_solo = rng_chance(r, 0.65);
	for (int k = -1; nb < cap; k++) {
		int type = k < 0 ? SEC_INTRO : cycle[k % 7], len;
		switch (type) {
		case SEC_INTRO: len = intro; break;
		case SEC_VERSE: len = verse_len; break;
		case SEC_CHORUS: len = chorus_len; break;
		case SEC_BRIDGE: len = rng_chance(r, 0.5) ? 8 : 4; break;
		default: len = rng_chance(r, 0.5) ? 4 : 2;
		}
		if (!len)
			continue;
		if (nstarts < 64)
			starts[nstarts++] = nb;
		double level = 1 - dyn * (1 - base[type]) + rng_range(r, -0.05, 0.05);
		int pi = type == SEC_CHORUS ? 1 : type == SEC_BRIDGE ? 2 : type == SEC_VERSE ? 0 : 3;
		for (int i = 0; i < len && nb < cap; i++, nb++) {
			struct bar_plan *b = &p->bar[nb];
			b->section = type, b->index = i, b->length = len, b->section_no = secno;
			b->intensity = level < 0.15 ? 0.15 : level > 1 ? 1 : level;
			int slot = (i * cpb[pi]) % 4;
			b->chord[0] = prog[pi][slot];
			b->chord[1] = prog[pi][(slot + cpb[pi] - 1) % 4];
			b->vocal = type == SEC_VERSE || type == SEC_CHORUS || (type == SEC_BRIDGE && !bridge_solo);
			b->solo = type == SEC_BRIDGE && bridge_solo;
		}
		secno++;
	}
	p->nbars = nb;
	/* start at the top, or at a section that leaves room for the track */
	p->first_bar = 0;
	if (rng_chance(r, 0.45)) {
		int n = 0;
		while (n < nstarts && starts[n] + track_bars <= nb)
			n++;
		p->first_bar = n ? starts[rng_int(r, 0, n - 1)] : 0;
	}
	return 0;
}

static void pick_fx(struct rng *r, struct corpus_fx *fx)
{
	fx->room = rng_range(r, 0.2, 0.9);
	fx->damp = rng_range(r, 0.1, 0.7);
	fx->width = rng_range(r, 0.5, 1.0);
	fx->level = rng_range(r, 0.3, 0.9);
	fx->chorus_voices = rng_int(r, 2, 5);
	fx->chorus_level = rng_range(r, 1.0, 3.0);
	fx->chorus_speed = rng_range(r, 0.2, 1.2);
	fx->chorus_depth = rng_range(r, 3.0, 12.0);
}

int corpus_compose(struct corpus_song *song, uint64_t seed, int64_t frames, unsigned singers)
{
	struct plan p = {0};
	struct rng r, fx_rng;
	static const int *const scales[] = {scale_major, scale_minor, scale_dorian, scale_mixolydian};
	static const char *const mode_names[] = {"major", "minor", "dorian", "mixolydian"};
	static const double mode_weights[] = {0.45, 0.4, 0.08, 0.07};
	memset(song, 0, sizeof *song);
	song->seed = seed, song->frames = frames;
	p.song = song;
	p.singers = singers;
	rng_seed(&p.rng, seed);
	rng_child(&r, &p.rng, 1);

	drums_pick_style(&p, &r); /* metre, tempo, swing */
	p.steps = 4 * p.beats;
	p.step_frames = 60.0 * CORPUS_RATE / p.bpm / 4;
	p.key = rng_int(&r, 0, 11);
	int mode = rng_weighted(&r, mode_weights, 4);
	p.scale = scales[mode];
	p.minor = mode == 1 || mode == 2;
	p.raised_v = mode == 1 && rng_chance(&r, 0.5);
	p.sevenths = rng_chance(&r, 0.3);
	song->key = p.key, song->bpm = p.bpm, song->beats = p.beats;
	song->mode = mode_names[mode];
	song->style = drums_style_name(p.drum_style);
	if (plan_form(&p, frames))
		return tf_seterr("out of memory");

	/* the mix: levels of the stems, their rooms, the final peak */
	rng_child(&fx_rng, &p.rng, 2);
	static const double level_lo[] = {-1, -4, -5, -5}, level_hi[] = {3, 1, 0, 0};
	struct corpus_fx room;
	pick_fx(&fx_rng, &room);
	for (int s = 0; s < CORPUS_STEMS; s++) {
		song->part[s].level_db = rng_range(&fx_rng, level_lo[s], level_hi[s]);
		song->part[s].fx = room;
		if (rng_chance(&fx_rng, 0.35))
			pick_fx(&fx_rng, &song->part[s].fx);
	}
	song->peak_db = rng_range(&fx_rng, -6, -1);

	song->bars = (int)ceil((double)frames / (p.steps * p.step_frames));
	compose_drums(&p);
	compose_bass(&p);
	compose_other(&p);
	compose_vocals(&p);
	/* studio effects per stem, on their own draws */
	for (int s = 0; s < CORPUS_STEMS; s++) {
		struct rng er;
		rng_child(&er, &p.rng, 60 + (uint64_t)s);
		int sung = s == STEM_VOCALS && song->part[s].nvoices && song->part[s].voice[0].bank == CORPUS_BANK_SUNG;
		corpus_effects_pick(&er, s, 60.0 / p.bpm, sung, &song->part[s].effects);
	}
	for (int b = p.first_bar; b < p.nbars && b < p.first_bar + song->bars; b++)
		song->vocal_bars += p.bar[b].vocal;
	free(p.bar);
	if (p.oom) {
		corpus_song_free(song);
		return tf_seterr("out of memory");
	}
	return 0;
}

void corpus_song_free(struct corpus_song *song)
{
	for (int s = 0; s < CORPUS_STEMS; s++) {
		free(song->part[s].ev);
		song->part[s].ev = NULL;
		song->part[s].n = song->part[s].cap = 0;
	}
}

void corpus_describe(const struct corpus_song *song, char *buf, size_t size)
{
	static const char *const keys[] = {"C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
	size_t len = (size_t)snprintf(buf, size, "%s %s, %d bpm, %d/4, %s; bass %s, other %s; vocals in %d of %d bars",
				      keys[song->key], song->mode, song->bpm, song->beats, song->style,
				      song->bass_style, song->comp_style, song->vocal_bars, song->bars);
	for (int s = 0; s < CORPUS_STEMS && len < size; s++) {
		const struct corpus_part *pt = &song->part[s];
		char fx[64];
		corpus_effects_describe(&pt->effects, fx, sizeof fx);
		len += (size_t)snprintf(buf + len, size - len, "; %s [%s]:", corpus_stem_names[s], fx);
		for (int v = 0; v < pt->nvoices && len < size; v++)
			len += (size_t)snprintf(buf + len, size - len, "%s %s (%s)", v ? "," : "",
						corpus_program_name(pt->voice[v].bank, pt->voice[v].program),
						pt->voice[v].role);
	}
}
