/* The accompaniment: the bass line (several styles, locked to the harmony
 * and sometimes to the kick) and "other": a chord instrument comping in a
 * style that suits it, an arpeggiator, a pad, and an instrumental lead that
 * takes the bridge when the voice rests. */
#include <stdlib.h>

#include "corpus/melody.h"
#include "corpus/parts.h"
#include "corpus/plan.h"
#include "corpus/theory.h"

/* ---- bass ---- */

enum { B_ROOT, B_EIGHTHS, B_ROOT_FIFTH, B_OCTAVES, B_KICK, B_WALK, B_SYNC, NBASS };
static const char *const bass_names[] = {"roots", "eighths", "root-fifth", "octaves", "kick-locked", "walking",
					 "syncopated"};
/* How well each bass style suits each drum style (drums.c's order). */
static const double bass_fit[][NBASS] = {
	{2, 3, 1, 1, 2, 0, 1},    /* rock */
	{1, 1, 0, 3, 2, 0, 1},    /* four-on-the-floor */
	{2, 1, 1, 0, 2, 0, 1},    /* half-time */
	{0, 0, 0, 1, 2, 0, 3},    /* funk */
	{1, 1, 1, 0, 1, 3, 0},    /* shuffle */
	{2, 0, 0, 0, 3, 0, 2},    /* hip-hop */
	{0, 0, 3, 0, 1, 2, 0},    /* bossa */
	{3, 0, 2, 0, 1, 1, 0},    /* ballad */
	{1, 0, 0, 0, 2, 0, 2},    /* one-drop */
	{2, 0, 3, 0, 0, 1, 0},    /* waltz */
};

static int chord_of(const struct plan *p, int bar, int step)
{
	return p->bar[bar].chord[step >= p->steps / 2];
}

/* The root of a chord as a bass note in [lo, lo + 12). */
static int bass_root(const struct plan *p, int degree, int lo)
{
	int t[1];
	chord_tones(p, degree, 1, t);
	return into_octave(p->key + t[0], lo);
}

void compose_bass(struct plan *p)
{
	struct rng r;
	rng_child(&r, &p->rng, 20);
	struct corpus_part *part = &p->song->part[STEM_BASS];
	int program = pick_program(&r, prog_bass.programs, prog_bass.n);
	int chan = part_voice(p, part, 0, program, "bass", 64 + rng_int(&r, -8, 8), rng_int(&r, 95, 127),
			      rng_int(&r, 0, 30), rng_int(&r, 0, 20));
	int style = rng_weighted(&r, bass_fit[p->drum_style], NBASS);
	int lo = rng_int(&r, 26, 35); /* the register: lowest root */
	double legato = rng_range(&r, 0.45, 0.95);
	int base_vel = rng_int(&r, 80, 105), intro_rest = rng_chance(&r, 0.5);
	char sync[PLAN_MAX_STEPS + 1];
	for (int i = 0; i < p->steps; i++)
		sync[i] = i == 0 || rng_chance(&r, 0.3) ? 'x' : '.';
	sync[p->steps] = 0;
	p->song->bass_style = bass_names[style];

	for (int b = 0; b < p->nbars; b++) {
		const struct bar_plan *bp = &p->bar[b];
		if (b + 1 < p->first_bar || b > p->first_bar + p->song->bars)
			continue;
		if ((bp->section == SEC_INTRO && intro_rest) || (bp->section == SEC_OUTRO && bp->index % 2))
			continue;
		int sparse = bp->section == SEC_OUTRO || bp->section == SEC_INTRO;
		/* the steps where notes start */
		int on[PLAN_MAX_STEPS], n = 0;
		for (int st = 0; st < p->steps; st++) {
			int beat = st % 4 == 0, half = st % (p->steps / 2) == 0 && p->beats == 4;
			int yes;
			switch (sparse ? B_ROOT : style) {
			case B_ROOT: yes = half || st == 0 || (p->beats == 3 && beat); break;
			case B_EIGHTHS: case B_OCTAVES: yes = st % 2 == 0; break;
			case B_ROOT_FIFTH: case B_WALK: yes = beat; break;
			case B_KICK: yes = p->kick[st] != '.' || st == 0; break;
			default: yes = sync[st] == 'x';
			}
			if (yes)
				on[n++] = st;
		}
		for (int i = 0; i < n; i++) {
			int st = on[i], next = i + 1 < n ? on[i + 1] : p->steps;
			int degree = chord_of(p, b, st), root = bass_root(p, degree, lo), key = root, t[4];
			chord_tones(p, degree, 3, t);
			switch (sparse ? B_ROOT : style) {
			case B_OCTAVES: key = root + 12 * ((st / 2) % 2); break;
			case B_ROOT_FIFTH: key = (st / 4) % 2 ? root + (t[2] - t[0]) - (rng_chance(&r, 0.3) ? 12 : 0) : root; break;
			case B_WALK:
				if (st / 4 == p->beats - 1) {
					/* approach the next bar's root from a step above or below */
					int nb = b + 1 < p->nbars ? b + 1 : b;
					int target = bass_root(p, p->bar[nb].chord[0], lo);
					key = target + (rng_chance(&r, 0.5) ? 1 : -1) * (rng_chance(&r, 0.5) ? 1 : 2);
				} else if (st > 0)
					key = root + (t[rng_int(&r, 1, 2)] - t[0]) + (rng_chance(&r, 0.25) ? -12 : 0);
				break;
			case B_SYNC: case B_KICK:
				if (st && rng_chance(&r, 0.25))
					key = rng_chance(&r, 0.5) ? root + 12 : root + (t[2] - t[0]);
				break;
			case B_EIGHTHS:
				if (st == p->steps - 2 && rng_chance(&r, 0.3))
					key = root + (t[2] - t[0]);
				break;
			}
			if (key < 24)
				key += 12;
			int vel = (int)((base_vel + (st % 4 == 0 ? 10 : 0)) * (0.7 + 0.3 * bp->intensity)) + rng_int(&r, -7, 7);
			int64_t t0 = plan_time(p, b, st);
			int64_t t1 = t0 + (int64_t)((plan_time(p, b, next) - t0) * legato);
			part_note(p, part, chan, key, vel, t0, t1);
		}
	}
}

/* ---- other ---- */

enum { C_SUSTAIN, C_STABS, C_STRUM, C_BROKEN, C_OFFBEAT, C_PULSE, NCOMP };
static const char *const comp_names[] = {"sustained", "stabs", "strummed", "broken", "off-beat", "pulse"};

/* Which comping styles an instrument family plays. */
static int comp_style_for(struct rng *r, int program, int beats)
{
	static const double piano[] = {1, 2, 0, 3, 1, 2}, organ[] = {3, 2, 0, 0, 2, 1}, guitar[] = {0, 1, 4, 0, 2, 2},
			    strings[] = {1, 0, 0, 0, 0, 0}, brass[] = {1, 3, 0, 0, 1, 0};
	const double *w = program < 8 ? piano : program < 24 ? organ : program < 32 ? guitar
			   : program < 60 ? strings : program < 64 ? brass : strings;
	int s = rng_weighted(r, w, NCOMP);
	if (beats == 3 && s != C_SUSTAIN && s != C_STRUM)
		s = C_BROKEN; /* in 3/4: bass note, then chords on 2 and 3 */
	return s;
}

/* A close voicing of the chord around center, lowest note first. */
static int voicing(const struct plan *p, int degree, int tones, int center, int *out)
{
	int t[4];
	chord_tones(p, degree, tones, t);
	for (int i = 0; i < tones; i++) {
		int k = into_octave(p->key + t[i], center - 6), j = i;
		while (j > 0 && out[j - 1] > k)
			out[j] = out[j - 1], j--;
		out[j] = k;
	}
	return tones;
}

static void chord_at(struct plan *p, struct corpus_part *part, int chan, const int *keys, int n, int vel,
		     int64_t t0, int64_t t1, int64_t spread, int downward)
{
	for (int i = 0; i < n; i++) {
		int j = downward ? n - 1 - i : i;
		part_note(p, part, chan, keys[j], vel - 3 * i, t0 + spread * i, t1);
	}
}

static void compose_comp(struct plan *p, struct corpus_part *part, struct rng *r)
{
	int program = pick_program(r, prog_comp.programs, prog_comp.n);
	int chan = part_voice(p, part, 0, program, "chords", 64 + rng_int(r, -40, 40), rng_int(r, 85, 120),
			      rng_int(r, 10, 80), rng_int(r, 0, 60));
	int style = comp_style_for(r, program, p->beats);
	int center = rng_int(r, 57, 70), tones = p->sevenths ? 4 : 3, vel = rng_int(r, 60, 95);
	static const char *const stab_pats[] = {"x..x..x.x..x.x..", "x...x.x...x.x...", "..x...x...x...x.",
						"x.x..x.x..x..x..", "x..x...x..x...x."};
	static const char *const strum_pats[] = {"x.xx.xxx", "x..x..x.", "x.x.x.x.", "x.xxx.xx", "x..xx.x."};
	const char *stab = stab_pats[rng_int(r, 0, 4)], *strum = strum_pats[rng_int(r, 0, 4)];
	int intro_plays = rng_chance(r, 0.7), ska = rng_chance(r, 0.5);
	double legato = rng_range(r, 0.3, 0.9);
	p->song->comp_style = comp_names[style];

	for (int b = 0; b < p->nbars; b++) {
		const struct bar_plan *bp = &p->bar[b];
		if (b + 1 < p->first_bar || b > p->first_bar + p->song->bars)
			continue;
		if (bp->section == SEC_INTRO && !intro_plays)
			continue;
		int v = (int)(vel * (0.65 + 0.35 * bp->intensity));
		for (int st = 0; st < p->steps; st++) {
			int degree = p->bar[b].chord[st >= p->steps / 2], keys[5], n = voicing(p, degree, tones, center, keys);
			int64_t t0 = plan_time(p, b, st), len2 = plan_time(p, b, st + 2) - t0;
			int half = p->beats == 4 ? p->steps / 2 : p->steps;
			switch (bp->section == SEC_OUTRO ? C_SUSTAIN : style) {
			case C_SUSTAIN:
				if (st % half == 0)
					chord_at(p, part, chan, keys, n, v, t0, plan_time(p, b, st + half) - CORPUS_BLOCK, 0, 0);
				break;
			case C_STABS:
				if (stab[st] == 'x')
					chord_at(p, part, chan, keys, n, v + (st % 4 ? 0 : 8), t0, t0 + (int64_t)(len2 * legato), 0, 0);
				break;
			case C_STRUM:
				if (st % 2 == 0 && strum[(st / 2) % 8] == 'x') {
					int up = (st / 2) % 2; /* down-strokes on the beat, up-strokes between */
					int next = st + 2;     /* rings until the next stroke */
					while (next < p->steps && strum[(next / 2) % 8] != 'x')
						next += 2;
					int64_t spread = (int64_t)(CORPUS_RATE * (up ? 0.008 : 0.014));
					chord_at(p, part, chan, keys, n, v - 10 * up, t0, plan_time(p, b, next) - CORPUS_BLOCK, spread, up);
				}
				break;
			case C_BROKEN:
				if (st == 0 || (p->beats == 4 && st == half)) {
					int bass = into_octave(keys[0], center - 18);
					part_note(p, part, chan, bass, v, t0, plan_time(p, b, st + (p->beats == 4 ? half : p->steps)));
				} else if (st % 4 == 0 || (stab[st] == 'x' && p->beats == 4))
					chord_at(p, part, chan, keys, n, v - 6, t0, t0 + (int64_t)(len2 * legato), 0, 0);
				break;
			case C_OFFBEAT:
				if (ska ? st % 4 == 2 : st % 8 == 4)
					chord_at(p, part, chan, keys, n, v, t0, t0 + len2 / 2, 0, 0);
				break;
			case C_PULSE:
				if (st % 2 == 0)
					chord_at(p, part, chan, keys, n, v + (st % 4 ? -8 : 4), t0, t0 + (int64_t)(len2 * legato), 0, 0);
				break;
			}
		}
	}
}

static void compose_arp(struct plan *p, struct corpus_part *part, struct rng *r)
{
	int program = pick_program(r, prog_arp.programs, prog_arp.n);
	int chan = part_voice(p, part, 0, program, "arpeggio", 64 + rng_int(r, -50, 50), rng_int(r, 70, 110),
			      rng_int(r, 20, 90), rng_int(r, 0, 70));
	int rate = p->bpm < 110 && rng_chance(r, 0.6) ? 1 : 2; /* sixteenths or eighths */
	int shape = rng_int(r, 0, 3), center = rng_int(r, 62, 76), octaves = rng_int(r, 1, 2);
	int in_verse = rng_chance(r, 0.5), in_intro = rng_chance(r, 0.5), vel = rng_int(r, 55, 90);
	for (int b = 0; b < p->nbars; b++) {
		const struct bar_plan *bp = &p->bar[b];
		if (b + 1 < p->first_bar || b > p->first_bar + p->song->bars)
			continue;
		if (bp->section == SEC_OUTRO || (bp->section == SEC_VERSE && !in_verse) ||
		    (bp->section == SEC_INTRO && !in_intro))
			continue;
		for (int st = 0, i = 0; st < p->steps; st += rate, i++) {
			int keys[4], n = voicing(p, p->bar[b].chord[st >= p->steps / 2], 3, center, keys), len = n * octaves;
			int k, pos = i % (shape == 2 ? 2 * len - 2 : len);
			switch (shape) {
			case 0: k = pos; break;                          /* up */
			case 1: k = len - 1 - pos; break;                /* down */
			case 2: k = pos < len ? pos : 2 * len - 2 - pos; break; /* up and down */
			default: k = (int[]){0, 2, 1, 2}[i % 4]; break;  /* Alberti: low, high, middle, high */
			}
			int key = keys[k % n] + 12 * (k / n);
			int64_t t0 = plan_time(p, b, st);
			part_note(p, part, chan, key, (int)(vel * (0.7 + 0.3 * bp->intensity)) + (st % 4 ? 0 : 8) + rng_int(r, -5, 5),
				  t0, plan_time(p, b, st + rate));
		}
	}
}

static void compose_pad(struct plan *p, struct corpus_part *part, struct rng *r)
{
	int program = pick_program(r, prog_pad.programs, prog_pad.n);
	int chan = part_voice(p, part, 0, program, "pad", 64 + rng_int(r, -40, 40), rng_int(r, 70, 105),
			      rng_int(r, 40, 100), rng_int(r, 20, 90));
	int center = rng_int(r, 55, 68), vel = rng_int(r, 45, 75), in_intro = rng_chance(r, 0.5);
	for (int b = 0; b < p->nbars; b++) {
		const struct bar_plan *bp = &p->bar[b];
		if (b + 1 < p->first_bar || b > p->first_bar + p->song->bars)
			continue;
		if (!(bp->section == SEC_CHORUS || bp->section == SEC_BRIDGE || (bp->section == SEC_INTRO && in_intro)))
			continue;
		int chords = p->beats == 4 && bp->chord[0] != bp->chord[1] ? 2 : 1;
		for (int h = 0; h < chords; h++) {
			int keys[5], n = voicing(p, bp->chord[h], 3, center, keys);
			int s0 = h * p->steps / chords, s1 = (h + 1) * p->steps / chords;
			chord_at(p, part, chan, keys, n, (int)(vel * (0.7 + 0.3 * bp->intensity)), plan_time(p, b, s0),
				 plan_time(p, b, s1), 0, 0);
		}
	}
}

void compose_other(struct plan *p)
{
	struct rng r, rc, ra, rp, rs;
	rng_child(&r, &p->rng, 30);
	rng_child(&rc, &r, 1), rng_child(&ra, &r, 2), rng_child(&rp, &r, 3), rng_child(&rs, &r, 4);
	struct corpus_part *part = &p->song->part[STEM_OTHER];
	compose_comp(p, part, &rc);
	if (rng_chance(&r, 0.55))
		compose_arp(p, part, &ra);
	if (rng_chance(&r, 0.4))
		compose_pad(p, part, &rp);
	/* an instrumental lead: the bridge's solo, when the voice rests there */
	int any_solo = 0;
	for (int b = 0; b < p->nbars; b++)
		any_solo |= p->bar[b].solo;
	if (any_solo) {
		int program = pick_program(&rs, prog_solo.programs, prog_solo.n);
		int chan = part_voice(p, part, 0, program, "solo", 64 + rng_int(&rs, -30, 30), rng_int(&rs, 95, 125),
				      rng_int(&rs, 20, 80), rng_int(&rs, 0, 40));
		struct melody_style ms = {.center = rng_int(&rs, 62, 76), .range = rng_int(&rs, 10, 19),
					  .density = rng_range(&rs, 0.55, 0.9), .sixteenths = rng_range(&rs, 0.1, 0.5),
					  .legato = rng_range(&rs, 0.6, 0.95), .vel = rng_int(&rs, 80, 110),
					  .vibrato = rng_chance(&rs, 0.5), .scoops = 0};
		melody_line(p, part, &chan, 1, &rs, &ms, 1);
	}
}
