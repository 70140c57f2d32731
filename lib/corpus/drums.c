/* Drums: a style (groove, metre, tempo range, swing, kits), its patterns on
 * a sixteenth grid with variants per section, fills before section ends,
 * crashes on section starts, a percussion layer in choruses, human timing
 * and velocity. One channel (9) in General MIDI's drum bank. */
#include <string.h>

#include "corpus/parts.h"
#include "corpus/plan.h"
#include "corpus/theory.h"

enum { KICK = 36, SIDESTICK = 37, SNARE = 38, CLAP = 39, HAT = 42, PEDAL_HAT = 44, OPEN_HAT = 46, CRASH = 49,
       RIDE = 51, TAMBOURINE = 54, CRASH2 = 57, SHAKER = 70 };
static const int toms[] = {50, 48, 47, 45, 43, 41};

/* Patterns, one character per sixteenth: X accent, x hit, g ghost note,
 * ? a hit in some bars, o open hi-hat, . nothing. */
struct drum_style {
	const char *name;
	int beats, bpm_lo, bpm_hi, swing_kind;
	double swing_lo, swing_hi, weight;
	int kits[4], nkits, snare;
	const char *kick[3], *snare_pat[3], *hat[3];
};

static const struct drum_style styles[] = {
	{"rock", 4, 90, 160, 0, 0, 0, 3, {0, 8, 16}, 3, SNARE,
	 {"X.......X.......", "X.....x.X.x.....", "X.......X.?...?."},
	 {"....X.......X...", "....X.......X..g", "....X..g....X..."},
	 {"x.x.x.x.x.x.x.x.", "X.x.X.x.X.x.X.x.", "xxxxxxxxxxxxxxxx"}},
	{"four-on-the-floor", 4, 110, 135, 0, 0, 0, 2, {24, 25, 0, 16}, 4, CLAP,
	 {"X...X...X...X...", "X...X...X...X..?", "X...X...X...X..."},
	 {"....X.......X...", "....X.......X...", "....X.......X.?."},
	 {"..o...o...o...o.", "x.o.x.o.x.o.x.o.", "xxoxxxoxxxoxxxox"}},
	{"half-time", 4, 70, 110, 0, 0, 0, 1.5, {0, 8, 16}, 3, SNARE,
	 {"X.........x.....", "X.......?.x.....", "X.x.......x....."},
	 {"........X.......", "........X......g", "........X...g..."},
	 {"x.x.x.x.x.x.x.x.", "xxxxxxxxxxxxxxxx", "x.x.x.x.x.x.x.o."}},
	{"funk", 4, 88, 118, 16, 0, 0.15, 1.5, {0, 8}, 2, SNARE,
	 {"X..x......x..x..", "X.x.......x...x.", "X..x..x...x....."},
	 {"....X..g.g..X..g", "....X.g.....X.g.", ".g..X..g.g..X..."},
	 {"xXxxxXxxxXxxxXxx", "x.x.x.x.x.x.x.o.", "xxxxxxxxxxxxxxxo"}},
	{"shuffle", 4, 80, 140, 8, 0.22, 0.33, 1.5, {0, 8, 32}, 3, SNARE,
	 {"X.......X.......", "X.....x.X.......", "X.......X.....x."},
	 {"....X.......X...", "....X.......X.g.", "....X...g...X..."},
	 {"x.x.x.x.x.x.x.x.", "X.x.X.x.X.x.X.x.", "x.x.x.x.x.x.x.o."}},
	{"hip-hop", 4, 70, 100, 16, 0.1, 0.3, 2, {25, 24, 0}, 3, SNARE,
	 {"X......x..X.....", "X.x.......X..x..", "X......X.XX....."},
	 {"....X.......X...", "....X.......X..g", "....X.....g.X..."},
	 {"x.x.x.x.x.x.x.x.", "xxxxxxxxxxxxxxxx", "x.x.x.xxx.x.x.x."}},
	{"bossa", 4, 100, 150, 0, 0, 0, 1, {32, 40, 0}, 3, SIDESTICK,
	 {"X..xX..xX..xX..x", "X..xX..xX..xX..x", "X...X..xX...X..x"},
	 {"x..x..x...x..x..", "..x..x...x..x...", "x..x..x...x..x.."},
	 {"x.x.x.x.x.x.x.x.", "xxxxxxxxxxxxxxxx", "x.x.x.x.x.x.x.x."}},
	{"ballad", 4, 70, 92, 0, 0, 0, 1.5, {0, 40, 32, 8}, 4, SIDESTICK,
	 {"X.........x.....", "X.......X.......", "X.........?....."},
	 {"....x.......x...", "....x.......x...", "....x.......x..g"},
	 {"x.x.x.x.x.x.x.x.", "x...x...x...x...", "x.x.x.x.x.x.x.x."}},
	{"one-drop", 4, 70, 95, 8, 0.1, 0.25, 0.7, {0, 8, 32}, 3, SIDESTICK,
	 {"........X.......", "........X.......", "........X.....?."},
	 {"........x.......", "........x.......", "........x...g..."},
	 {"x.x.x.x.x.x.x.x.", "x.xxx.xxx.xxx.xx", "..x...x...x...x."}},
	{"waltz", 3, 84, 160, 0, 0, 0, 1, {0, 32, 40}, 3, SNARE,
	 {"X...........", "X.......?...", "X..........."},
	 {"....x...x...", "....x...x...", "....x...x..g"},
	 {"x...x...x...", "x.x.x.x.x.x.", "x...x...x.x."}},
};
#define NSTYLES (int)(sizeof styles / sizeof *styles)

const char *drums_style_name(int style)
{
	return styles[style].name;
}

void drums_pick_style(struct plan *p, struct rng *r)
{
	double w[NSTYLES];
	for (int i = 0; i < NSTYLES; i++)
		w[i] = styles[i].weight;
	const struct drum_style *s = &styles[p->drum_style = rng_weighted(r, w, NSTYLES)];
	p->beats = s->beats;
	p->bpm = rng_int(r, s->bpm_lo, s->bpm_hi);
	p->swing_kind = s->swing_kind;
	p->swing = rng_range(r, s->swing_lo, s->swing_hi);
	if (p->swing_kind == 0 && p->beats == 4 && rng_chance(r, 0.12))
		p->swing_kind = 8, p->swing = rng_range(r, 0.15, 0.33); /* some straight grooves swing */
}

static int velocity(struct rng *r, char c, double intensity)
{
	int v = c == 'X' ? 112 : c == 'g' ? 42 : c == '?' ? 84 : 92;
	return clampi((int)(v * (0.62 + 0.38 * intensity)) + rng_int(r, -8, 8), 1, 127);
}

static void hit(struct plan *p, struct rng *r, int bar, int step, int note, char c, double intensity, double humanise)
{
	int64_t t = plan_time(p, bar, step) + (int64_t)(rng_range(r, -humanise, humanise) * CORPUS_RATE);
	part_note(p, &p->song->part[STEM_DRUMS], 9, note, velocity(r, c, intensity), t, t + CORPUS_RATE / 8);
}

void compose_drums(struct plan *p)
{
	struct rng r;
	rng_child(&r, &p->rng, 10);
	const struct drum_style *s = &styles[p->drum_style];
	struct corpus_part *part = &p->song->part[STEM_DRUMS];
	int kit = s->kits[rng_int(&r, 0, s->nkits - 1)];
	part_voice(p, part, 128, kit, "kit", 64 + rng_int(&r, -6, 6), rng_int(&r, 100, 127), rng_int(&r, 10, 60),
		   rng_int(&r, 0, 25));
	int kv = rng_int(&r, 0, 2), sv = rng_int(&r, 0, 2), hv = rng_int(&r, 0, 2), chorus_hv = rng_int(&r, 0, 2);
	int snare = s->snare == SNARE && rng_chance(&r, 0.2) ? CLAP : s->snare;
	int chorus_ride = rng_chance(&r, 0.35), perc = rng_chance(&r, 0.5) ? (rng_chance(&r, 0.5) ? TAMBOURINE : SHAKER) : 0;
	int intro_mode = rng_int(&r, 0, 2); /* none, hats only, everything softly */
	int break_mode = rng_int(&r, 0, 1); /* none, kick and hats */
	double humanise = rng_range(&r, 0.0, 0.006);
	memcpy(p->kick, s->kick[kv], (size_t)p->steps);
	p->kick[p->steps] = 0;

	for (int b = 0; b < p->nbars; b++) {
		const struct bar_plan *bp = &p->bar[b];
		int sec = bp->section, last = bp->index == bp->length - 1;
		if (b + 1 < p->first_bar || b >= p->first_bar + p->song->bars + 1)
			continue;
		int play_kick = 1, play_snare = 1, play_hat = 1;
		if (sec == SEC_INTRO && intro_mode < 2)
			play_kick = play_snare = 0, play_hat = intro_mode;
		if (sec == SEC_OUTRO)
			play_snare = 0, play_kick = play_hat = break_mode;
		const char *hat = s->hat[sec == SEC_CHORUS ? chorus_hv : hv];
		int hat_note = sec == SEC_CHORUS && chorus_ride ? RIDE : HAT;
		int fill_from = last && bp->length >= 2 && play_snare && rng_chance(&r, 0.7) ? (rng_chance(&r, 0.6) ? p->steps - 4 : p->steps / 2) : p->steps;
		if (bp->index == 0 && b > 0 && play_kick && rng_chance(&r, 0.8))
			hit(p, &r, b, 0, rng_chance(&r, 0.7) ? CRASH : CRASH2, 'X', bp->intensity, humanise);
		for (int st = 0; st < p->steps; st++) {
			if (st >= fill_from) {
				/* a fill: sixteenths over snare and toms, louder to the end */
				double rise = 0.7 + 0.3 * (st - fill_from + 1) / (double)(p->steps - fill_from);
				int note = rng_chance(&r, 0.45) ? snare == SIDESTICK ? SNARE : snare
								: toms[clampi((st - fill_from) * 6 / (p->steps - fill_from) + rng_int(&r, -1, 1), 0, 5)];
				if (rng_chance(&r, 0.85))
					hit(p, &r, b, st, note, 'x', bp->intensity * rise, humanise);
				if (st == fill_from)
					hit(p, &r, b, st, KICK, 'x', bp->intensity, humanise);
				continue;
			}
			char k = s->kick[kv][st], sn = s->snare_pat[sv][st], h = hat[st];
			if (play_kick && k != '.' && (k != '?' || rng_chance(&r, 0.35)))
				hit(p, &r, b, st, KICK, k, bp->intensity, humanise);
			if (play_snare && sn != '.' && (sn != '?' || rng_chance(&r, 0.35)))
				hit(p, &r, b, st, sn == 'g' && snare == CLAP ? SNARE : snare, sn, bp->intensity, humanise);
			if (play_hat && h != '.' && (h != '?' || rng_chance(&r, 0.35)))
				hit(p, &r, b, st, h == 'o' ? (hat_note == RIDE ? RIDE : OPEN_HAT) : hat_note, h, bp->intensity * 0.85, humanise);
			if (!play_hat && play_kick && st % 4 == 0 && sec == SEC_OUTRO)
				hit(p, &r, b, st, PEDAL_HAT, 'x', bp->intensity * 0.7, humanise);
			if (perc && sec == SEC_CHORUS) {
				if (perc == TAMBOURINE && st % 8 == 4)
					hit(p, &r, b, st, TAMBOURINE, 'x', bp->intensity * 0.8, humanise);
				if (perc == SHAKER && st % 2 == 0)
					hit(p, &r, b, st, SHAKER, st % 4 ? 'g' : 'x', bp->intensity, humanise);
			}
		}
	}
}
