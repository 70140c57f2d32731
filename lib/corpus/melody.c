/* Melodies: the lead voice (and its double and backing voices) and the
 * instrumental solo. Phrases of two bars whose rhythm and contour are
 * motifs kept per section type, so that a chorus comes back recognisably
 * (A A' B A'); strong beats land on chord tones; every phrase ends with a
 * long note and a breath. Sung lines get what singers do: scoops into
 * notes (pitch bend), slides between near notes (portamento on legato
 * notes), delayed vibrato on long notes (modulation wheel), swells
 * (expression) and the odd fall-off at a phrase end (pitch bend). */
#include <stdlib.h>
#include <string.h>

#include "corpus/melody.h"
#include "corpus/parts.h"
#include "corpus/plan.h"
#include "corpus/theory.h"
#include "corpus/voice.h"

#define MOTIF_MAX 40
struct motif {
	int n, start;               /* notes; first pitch in scale steps from the center */
	int step[MOTIF_MAX], dur[MOTIF_MAX], delta[MOTIF_MAX];
};

struct mnote {
	int bar, step, dur, key, vel, phrase_end, glide; /* glide: slide in from the note before */
};

static void make_motif(const struct plan *p, struct rng *r, const struct melody_style *ms, int section,
		       struct motif *m)
{
	static const int durs[] = {1, 2, 3, 4, 6, 8};
	static const int deltas[] = {-3, -2, -1, 0, 1, 2, 3, 4};
	static const double delta_w[] = {0.3, 1, 3, 1, 3, 1, 0.4, 0.3};
	double dur_w[] = {ms->sixteenths * 3, 3, 0.4, 2, 0.7, 0.5};
	int len = 2 * p->steps, pos = (int[]){0, 0, 2, 4, 1}[rng_int(r, 0, 4)];
	int rest = rng_chance(r, 0.25) ? p->steps : (int[]){4, 6, 8}[rng_int(r, 0, 2)];
	int end = len - rest;
	memset(m, 0, sizeof *m);
	m->start = section == SEC_CHORUS ? rng_int(r, 1, 4) : rng_int(r, -3, 2);
	while (pos < end && m->n < MOTIF_MAX) {
		if (m->n && rng_chance(r, (1 - ms->density) * 0.4)) {
			pos += 2; /* a short rest inside the phrase */
			continue;
		}
		int d = durs[rng_weighted(r, dur_w, 6)];
		if (pos + d > end)
			d = end - pos;
		m->step[m->n] = pos, m->dur[m->n] = d;
		m->delta[m->n] = m->n ? deltas[rng_weighted(r, delta_w, 8)] : 0;
		m->n++;
		pos += d;
	}
	if (m->n && rest >= 6) /* hold the last note, then breathe */
		m->dur[m->n - 1] += rest - 4;
}

/* The scale step of the chord tone nearest to scale step s. */
static int snap_to_chord(const struct plan *p, int degree, int s)
{
	int t[3], midi = p->key + scale_semis(p, s), best = midi, bestd = 100;
	chord_tones(p, degree, 3, t);
	for (int i = 0; i < 3; i++)
		for (int o = -2; o <= 2; o++) {
			int k = into_octave(p->key + t[i], midi - 6) + 12 * o, d = abs(k - midi);
			if (d < bestd)
				best = k, bestd = d;
		}
	return scale_step_near(p, best);
}

/* The notes of the line over the bars it plays (vocal or solo bars). */
static int make_line(struct plan *p, struct rng *r, const struct melody_style *ms, int want_solo,
		     struct mnote **out)
{
	struct motif motifs[5][2];
	int have[5][2] = {{0}};
	size_t n = 0, cap = 0;
	struct mnote *notes = NULL;
	int lo = ms->center - ms->range / 2, hi = ms->center + (ms->range + 1) / 2;
	for (int b = 0; b < p->nbars;) {
		const struct bar_plan *bp = &p->bar[b];
		int wants = want_solo ? bp->solo : bp->vocal;
		if (!wants || bp->index % 2 || b > p->first_bar + p->song->bars || b + 2 < p->first_bar) {
			b++;
			continue;
		}
		/* a phrase of two bars: A A' B A' over the section; now and then
		 * the singer sits one out */
		int k = (bp->index / 2) % 4, which = k == 2, sec = bp->section;
		if (!want_solo && k && rng_chance(r, 0.12)) {
			b += 2;
			continue;
		}
		if (!have[sec][which]) {
			make_motif(p, r, ms, sec, &motifs[sec][which]);
			have[sec][which] = 1;
		}
		struct motif m = motifs[sec][which];
		if (k == 1 || k == 3)
			for (int i = m.n - 2; i < m.n; i++)
				if (i > 0)
					m.delta[i] = rng_int(r, -2, 2);
		/* two bars, unless the section or the plan ends first (the last
		 * section planned may be cut short: its length says more) */
		int s = scale_step_near(p, ms->center) + m.start,
		    phrase_bars = bp->length - bp->index >= 2 && b + 1 < p->nbars ? 2 : 1;
		for (int i = 0; i < m.n; i++) {
			int bar = b + m.step[i] / p->steps, st = m.step[i] % p->steps;
			if (bar >= b + phrase_bars)
				break;
			s += m.delta[i];
			int midi = p->key + scale_semis(p, s);
			if (midi > hi || midi < lo)
				s -= 2 * m.delta[i], s += midi > hi ? -1 : 1; /* turn back into the range */
			if (st % 4 == 0 && m.dur[i] >= 2)
				s = snap_to_chord(p, p->bar[bar].chord[st >= p->steps / 2], s);
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				struct mnote *t = realloc(notes, cap * sizeof *t);
				if (!t) {
					free(notes);
					p->oom = 1;
					return 0;
				}
				notes = t;
			}
			midi = p->key + scale_semis(p, s);
			int vel = (int)(ms->vel * (0.72 + 0.28 * p->bar[bar].intensity)) + (midi - ms->center) / 2 +
				  (st % 4 == 0 ? 5 : 0) + rng_int(r, -6, 6);
			int glide = i > 0 && m.step[i - 1] + m.dur[i - 1] == m.step[i] && midi != notes[n - 1].key &&
				    abs(midi - notes[n - 1].key) <= 5 && rng_chance(r, ms->glides);
			notes[n++] = (struct mnote){bar, st, m.dur[i], midi, vel, i == m.n - 1, glide};
		}
		b += phrase_bars;
	}
	*out = notes;
	return (int)n;
}

/* Plays the line on one channel: shift moves it along the scale (a
 * harmony), detune (bend units) makes a double. */
static void emit_line(struct plan *p, struct corpus_part *part, int chan, const struct mnote *notes, int n,
		      const struct melody_style *ms, struct rng *r, int shift, int detune, double vel_scale)
{
	const int64_t ms1 = CORPUS_RATE / 1000;
	if (ms->glides > 0) {
		/* portamento on: fluidsynth slides between overlapping (legato) notes */
		part_control(p, part, chan, 5, ms->glide_ms >> 7, 0);
		part_control(p, part, chan, 37, ms->glide_ms & 127, 0);
		part_control(p, part, chan, 65, 127, 0);
	}
	for (int i = 0; i < n; i++) {
		const struct mnote *m = &notes[i];
		int key = shift ? p->key + scale_semis(p, scale_step_near(p, m->key) + shift) : m->key;
		int next_key = i + 1 < n ? shift ? p->key + scale_semis(p, scale_step_near(p, notes[i + 1].key) + shift)
						 : notes[i + 1].key : -1;
		int64_t t0 = plan_time(p, m->bar, m->step), t1 = t0 + (int64_t)((plan_time(p, m->bar, m->step + m->dur) - t0) * ms->legato);
		if (t0 < 0)
			continue; /* before the track: its controls would only pile up at the start */
		if (i + 1 < n) {
			int64_t next = plan_time(p, notes[i + 1].bar, notes[i + 1].step);
			if (t1 > next)
				t1 = next;
			if (notes[i + 1].glide && next_key != key)
				t1 = next + 2 * CORPUS_BLOCK; /* held into the next note: a slide */
		}
		int64_t len = t1 - t0;
		part_bend(p, part, chan, detune, t0);
		if (ms->vibrato)
			part_control(p, part, chan, 1, 0, t0), part_control(p, part, chan, 11, 100, t0);
		if (ms->scoops && !m->glide && len > 250 * ms1 && rng_chance(r, 0.35)) {
			/* scoop: start flat, slide up to the note */
			int depth = rng_int(r, 1200, 4096), steps = 6;
			int64_t glide = rng_int(r, 50, 140) * ms1;
			for (int k = 0; k < steps; k++)
				part_bend(p, part, chan, detune - depth * (steps - 1 - k) / (steps - 1), t0 + glide * k / (steps - 1));
		}
		if (ms->vibrato && len > 350 * ms1) {
			/* vibrato comes in after the onset and grows; the note swells */
			int depth = rng_int(r, 50, 120);
			int64_t start = t0 + rng_int(r, 150, 260) * ms1, grow = 250 * ms1;
			for (int k = 1; k <= 5; k++) {
				if (start + grow * k / 5 < t1)
					part_control(p, part, chan, 1, depth * k / 5, start + grow * k / 5);
				part_control(p, part, chan, 11, 100 + 24 * (k < 4 ? k : 6 - k) / 3, t0 + len * k / 6);
			}
		}
		if (ms->scoops && m->phrase_end && len > 300 * ms1 && rng_chance(r, 0.25)) {
			/* a fall-off at the end of the phrase */
			int64_t from = t1 - 150 * ms1;
			for (int k = 1; k <= 5; k++)
				part_bend(p, part, chan, detune - 3000 * k / 5, from + 30 * ms1 * k);
			t1 += 40 * ms1;
		}
		part_note(p, part, chan, key, (int)(m->vel * vel_scale), t0, t1);
	}
}

void melody_line(struct plan *p, struct corpus_part *part, const int *chans, int nchans, struct rng *r,
		 const struct melody_style *ms, int want_solo)
{
	struct mnote *notes;
	int n = make_line(p, r, ms, want_solo, &notes);
	for (int c = 0; c < nchans; c++)
		emit_line(p, part, chans[c], notes, n, ms, r, 0, c ? (c % 2 ? 1 : -1) * rng_int(r, 120, 330) : 0,
			  c ? 0.85 : 1.0);
	free(notes);
}

/* The formant singer (voice.h) for the lead, drawn on its own stream from
 * the allowed ones of the melody's register (any allowed one when none
 * fits); -1: a General MIDI voice patch sings instead. */
static int pick_singer(struct plan *p, int high)
{
	struct rng r;
	rng_child(&r, &p->rng, 41);
	if (!p->singers || !rng_chance(&r, 0.75))
		return -1;
	int fit[CORPUS_MAX_SINGERS], nfit = 0, any[CORPUS_MAX_SINGERS], nany = 0;
	for (int i = 0; i < corpus_nsingers; i++)
		if (p->singers >> i & 1) {
			any[nany++] = i;
			if (corpus_singers[i].high == high)
				fit[nfit++] = i;
		}
	if (!nany)
		return -1;
	return nfit ? fit[rng_int(&r, 0, nfit - 1)] : any[rng_int(&r, 0, nany - 1)];
}

/* The vocals stem: a lead voice (a singer on syllables, or a voice patch),
 * sometimes double-tracked, sometimes with backing voices in the choruses
 * (a harmony line or sustained "oohs"). */
void compose_vocals(struct plan *p)
{
	struct rng r;
	rng_child(&r, &p->rng, 40);
	struct corpus_part *part = &p->song->part[STEM_VOCALS];
	int program = pick_program(&r, prog_lead_voice.programs, prog_lead_voice.n);
	int high = rng_chance(&r, 0.5), doubled = rng_chance(&r, 0.2), spread = doubled ? rng_int(&r, 15, 35) : 0;
	struct melody_style ms = {.center = high ? rng_int(&r, 64, 72) : rng_int(&r, 55, 62), .range = rng_int(&r, 11, 17),
				  .density = rng_range(&r, 0.5, 0.85), .sixteenths = rng_range(&r, 0, 0.25),
				  .legato = rng_range(&r, 0.8, 0.98), .vel = rng_int(&r, 85, 112),
				  .vibrato = rng_chance(&r, 0.85), .scoops = rng_chance(&r, 0.75)};
	if (rng_chance(&r, 0.6))
		ms.glides = rng_range(&r, 0.15, 0.5), ms.glide_ms = rng_int(&r, 40, 160);
	int reverb = rng_int(&r, 30, 100), chorus = rng_int(&r, 0, 50), volume = rng_int(&r, 105, 127);
	int chans[2], singer = pick_singer(p, high);
	int bank = singer >= 0 ? CORPUS_BANK_SUNG : 0, voice = singer >= 0 ? singer : program;
	chans[0] = part_voice(p, part, bank, voice, "lead", 64 - spread + rng_int(&r, -10, 10), volume, reverb, chorus);
	if (doubled)
		chans[1] = part_voice(p, part, bank, voice, "double", 64 + spread, volume - 8, reverb, chorus);
	struct mnote *notes;
	int n = make_line(p, &r, &ms, 0, &notes);
	for (int c = 0; c < 1 + doubled; c++)
		emit_line(p, part, chans[c], notes, n, &ms, &r, 0, c ? rng_int(&r, 120, 330) : 0, c ? 0.85 : 1.0);

	if (rng_chance(&r, 0.55)) {
		int bprog = pick_program(&r, prog_backing_voice.programs, prog_backing_voice.n);
		int chan = part_voice(p, part, 0, bprog, "backing", 64 + (rng_chance(&r, 0.5) ? -1 : 1) * rng_int(&r, 20, 50),
				      volume - rng_int(&r, 5, 25), reverb + 10, chorus + 10);
		if (rng_chance(&r, 0.5)) {
			/* a harmony a third above or below the lead, in the choruses */
			int shift = rng_chance(&r, 0.6) ? 2 : -2, k = 0;
			struct melody_style bs = ms;
			bs.scoops = 0, bs.glides = 0;
			for (int i = 0; i < n; i++)
				if (p->bar[notes[i].bar].section == SEC_CHORUS)
					notes[k++] = notes[i];
			emit_line(p, part, chan, notes, k, &bs, &r, shift, 0, 0.75);
		} else {
			/* "oohs": the chord, held, under the choruses */
			int center = ms.center - rng_int(&r, 0, 7), vel = rng_int(&r, 50, 80);
			for (int b = 0; b < p->nbars; b++) {
				const struct bar_plan *bp = &p->bar[b];
				if (bp->section != SEC_CHORUS || b + 1 < p->first_bar || b > p->first_bar + p->song->bars)
					continue;
				int t[3];
				chord_tones(p, bp->chord[0], 3, t);
				for (int i = 0; i < 3; i++)
					part_note(p, part, chan, into_octave(p->key + t[i], center - 6), vel, plan_time(p, b, 0),
						  plan_time(p, b, p->steps) - CORPUS_BLOCK);
			}
		}
	}
	free(notes);
}
