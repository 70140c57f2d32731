/* The event lists' plumbing every part composer uses: the time grid and
 * the notes, controls and voices of a part. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/plan.h"
#include "corpus/theory.h"

int64_t plan_time(const struct plan *p, int bar, double step)
{
	double t = ((double)(bar - p->first_bar) * p->steps + step) * p->step_frames;
	if (p->swing_kind && step == floor(step)) {
		int s = (int)step;
		if (p->swing_kind == 8 && s % 4 == 2)
			t += p->swing * 2 * p->step_frames;
		if (p->swing_kind == 16 && s % 2 == 1)
			t += p->swing * p->step_frames;
	}
	return (int64_t)floor(t + 0.5);
}

/* Nearest multiple of CORPUS_BLOCK: fluidsynth starts events at its blocks. */
static int64_t on_grid(int64_t t)
{
	int64_t b = CORPUS_BLOCK;
	return (t >= 0 ? (t + b / 2) / b : -((-t + b / 2) / b)) * b;
}

static void push(struct plan *p, struct corpus_part *part, struct corpus_event e)
{
	if (part->n == part->cap) {
		size_t cap = part->cap ? part->cap * 2 : 1024;
		struct corpus_event *ev = realloc(part->ev, cap * sizeof *ev);
		if (!ev) {
			p->oom = 1;
			return;
		}
		part->ev = ev, part->cap = cap;
	}
	e.seq = p->seq++;
	part->ev[part->n++] = e;
}

void part_note(struct plan *p, struct corpus_part *part, int chan, int key, int vel, int64_t on, int64_t off)
{
	on = on_grid(on), off = on_grid(off);
	if (off < on + CORPUS_BLOCK)
		off = on + CORPUS_BLOCK;
	if (on < 0 || on >= p->song->frames)
		return;
	key = clampi(key, 0, 127), vel = clampi(vel, 1, 127);
	push(p, part, (struct corpus_event){.time = on, .type = EV_NOTE_ON, .chan = (uint8_t)chan, .a = (uint8_t)key,
					    .b = (uint8_t)vel});
	if (off < p->song->frames)
		push(p, part, (struct corpus_event){.time = off, .type = EV_NOTE_OFF, .chan = (uint8_t)chan,
						    .a = (uint8_t)key});
}

void part_control(struct plan *p, struct corpus_part *part, int chan, int number, int value, int64_t t)
{
	t = on_grid(t);
	if (t >= p->song->frames)
		return;
	push(p, part, (struct corpus_event){.time = t < 0 ? 0 : t, .type = EV_CONTROL, .chan = (uint8_t)chan,
					    .a = (uint8_t)number, .b = (uint8_t)clampi(value, 0, 127)});
}

void part_bend(struct plan *p, struct corpus_part *part, int chan, int value, int64_t t)
{
	t = on_grid(t);
	if (t >= p->song->frames)
		return;
	push(p, part, (struct corpus_event){.time = t < 0 ? 0 : t, .type = EV_BEND, .chan = (uint8_t)chan,
					    .bend = (int16_t)clampi(value, -8192, 8191)});
}

int part_voice(struct plan *p, struct corpus_part *part, int bank, int program, const char *role, int pan,
	       int volume, int reverb, int chorus)
{
	if (part->nvoices == CORPUS_MAX_PARTCH)
		return part->voice[0].chan;
	struct corpus_voice *v = &part->voice[part->nvoices];
	/* channel 9 is General MIDI's drum channel: drums only */
	v->chan = bank == 128 ? 9 : part->nvoices;
	v->bank = bank, v->program = program;
	snprintf(v->role, sizeof v->role, "%s", role);
	part->nvoices++;
	part_control(p, part, v->chan, 7, volume, 0);
	part_control(p, part, v->chan, 10, pan, 0);
	part_control(p, part, v->chan, 91, reverb, 0);
	part_control(p, part, v->chan, 93, chorus, 0);
	return v->chan;
}

