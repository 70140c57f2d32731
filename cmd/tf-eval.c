/* tf-eval: separation metrics of estimated stems against their references,
 * the way the field reports them: museval's BSS Eval v4 (SDR, SIR, ISR, SAR
 * over one-second windows, the median per track, the median over tracks),
 * the MDX challenge's global SDR and the scale-invariant SDR. Stem files,
 * two directories of stems, or a separated tree against a MUSDB18 test set. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio.h"
#include "cli.h"
#include "error.h"
#include "metrics/bsseval.h"
#include "metrics/sdr.h"
#include "threads.h"

#define MAX_STEMS 32
#define NAME_MAX_LEN 256
#define MAX_FRAMES ((int64_t)1 << 34)

enum { SDR, SIR, ISR, SAR, NBSS };
/* An estimate that is exactly zero everywhere. */
static int all_zero(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (x[i] != 0)
			return 0;
	return 1;
}

static const char *bss_names[NBSS] = {"SDR", "SIR", "ISR", "SAR"};

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-eval [options] --ref REF.wav --est EST.wav [--ref REF.wav --est EST.wav ...]\n"
		"       tf-eval [options] --ref-dir DIR --est-dir DIR\n"
		"       tf-eval [options] --musdb ROOT/test --est OUT\n"
		"Separation metrics of estimated stems against their references: BSS Eval v4\n"
		"(museval: SDR, SIR, ISR, SAR, median over windows), the MDX global SDR and the\n"
		"SI-SDR. Stems are named after the reference files (vocals.wav: vocals); with\n"
		"--musdb, OUT/<track>/<stem>.wav is compared with ROOT/test/<track>/<stem>.wav.\n\n"
		"      --ref FILE       a reference stem; pairs with the next --est\n"
		"  -e, --est FILE|DIR   its estimate (with --musdb: the separated tree)\n"
		"  -R, --ref-dir DIR    references, <stem>.wav (mixture.wav is left out)\n"
		"  -E, --est-dir DIR    estimates, <stem>.wav, the same stems\n"
		"      --musdb DIR      a MUSDB18 (wav) subset: DIR/<track>/<stem>.wav\n"
		"      --json           JSON on standard output instead of the table\n"
		"      --window SEC     BSS Eval window (default 1)\n"
		"  -H, --hop SEC        BSS Eval hop (default 1)\n"
		"      --taps N         distortion filter length (default 512)\n"
		"  -q, --quiet          no warnings\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n");
}

/* One stem of a track: where its audio comes from. A reference may be the
 * sum of several files (MUSDB's accompaniment: drums + bass + other). */
struct stem {
	char name[NAME_MAX_LEN];
	char *ref[3];
	int nref;
	char *est;
};

struct track {
	char name[NAME_MAX_LEN];
	struct stem stems[MAX_STEMS];
	int nstems;
};

/* What a track's evaluation gives, per stem. */
struct score {
	char name[NAME_MAX_LEN];
	int nwin;          /* 0: not in BSS Eval (see groups()) */
	double *win[NBSS]; /* per window */
	double median[NBSS], gsdr, sisdr;
};

struct result {
	char name[NAME_MAX_LEN];
	int rate, channels, window, hop;
	int64_t frames;
	struct score scores[MAX_STEMS];
	int nstems;
};

struct options {
	double window, hop;
	int taps, musdb;
};

static char *path_join(const char *dir, const char *name, const char *ext)
{
	size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
	char *p = malloc(n);
	if (!p)
		die("out of memory");
	snprintf(p, n, "%s/%s%s", dir, name, ext);
	return p;
}

static char *dup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

static int is_dir(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
	struct stat st;
	return !stat(path, &st) && !S_ISDIR(st.st_mode);
}

/* The file's name without directory and extension. */
static void stem_of(const char *path, char *name)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path, *dot = strrchr(base, '.');
	size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
	if (n == 0 || n >= NAME_MAX_LEN)
		die("%s: cannot name a stem after this file", path);
	memcpy(name, base, n);
	name[n] = 0;
}

/* A track named after its directory: the last component of the path. */
static void track_name(const char *dir, char *name)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	const char *base = dir + n;
	while (base > dir && base[-1] != '/')
		base--;
	n -= (size_t)(base - dir);
	if (!n || n >= NAME_MAX_LEN || (n == 1 && *base == '.'))
		strcpy(name, "-");
	else
		memcpy(name, base, n), name[n] = 0;
}

static int is_wav(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 4 && !strcmp(d->d_name + n - 4, ".wav");
}

static int is_subdir(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* The names in dir that filter accepts, sorted; dies when dir cannot be read. */
static int list_dir(const char *dir, int (*filter)(const struct dirent *), struct dirent ***names)
{
	int n = scandir(dir, names, filter, alphasort);
	if (n < 0)
		die("%s: %s", dir, strerror(errno));
	return n;
}

static void free_list(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static struct stem *add_stem(struct track *t, const char *name, const char *where)
{
	for (int i = 0; i < t->nstems; i++)
		if (!strcmp(t->stems[i].name, name))
			die("%s: two stems named \"%s\"", where, name);
	if (t->nstems == MAX_STEMS)
		die("%s: more than %d stems", where, MAX_STEMS);
	struct stem *s = &t->stems[t->nstems++];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	return s;
}

/* --ref-dir/--est-dir: the same stems on both sides (but the mixture). */
static void track_from_dirs(struct track *t, const char *ref_dir, const char *est_dir)
{
	struct dirent **est, **ref;
	int nest = list_dir(est_dir, is_wav, &est), nref = list_dir(ref_dir, is_wav, &ref);
	char name[NAME_MAX_LEN];
	track_name(ref_dir, t->name);
	for (int i = 0; i < nest; i++) {
		stem_of(est[i]->d_name, name);
		struct stem *s = add_stem(t, name, est_dir);
		s->est = path_join(est_dir, est[i]->d_name, "");
		s->ref[s->nref++] = path_join(ref_dir, est[i]->d_name, "");
		if (!is_file(s->ref[0]))
			die("%s: no reference for the estimate %s", s->ref[0], s->est);
	}
	for (int i = 0; i < nref; i++) {
		stem_of(ref[i]->d_name, name);
		char *e = path_join(est_dir, ref[i]->d_name, "");
		if (strcmp(name, "mixture") && !is_file(e))
			die("%s: missing stem \"%s\" (the reference is %s/%s)", e, name, ref_dir, ref[i]->d_name);
		free(e);
	}
	if (!t->nstems)
		die("%s: no estimates (<stem>.wav)", est_dir);
	free_list(est, nest);
	free_list(ref, nref);
}

/* --musdb: one track per directory of OUT, its references in ROOT. */
static int tracks_from_musdb(struct track **tracks, const char *root, const char *out)
{
	struct dirent **dirs, **wavs;
	int ndirs, ntracks = 0, nroot;
	if (!is_dir(root))
		die("--musdb %s: not a directory", root);
	if (!is_dir(out))
		die("--est %s: with --musdb, give the directory of separated tracks", out);
	ndirs = list_dir(out, is_subdir, &dirs);
	*tracks = calloc((size_t)(ndirs ? ndirs : 1), sizeof **tracks);
	if (!*tracks)
		die("out of memory");
	for (int i = 0; i < ndirs; i++) {
		char *est_dir = path_join(out, dirs[i]->d_name, ""), *ref_dir = path_join(root, dirs[i]->d_name, "");
		if (!is_dir(est_dir)) {
			free(est_dir), free(ref_dir);
			continue;
		}
		if (!is_dir(ref_dir))
			die("%s: no track \"%s\" in %s", est_dir, dirs[i]->d_name, root);
		struct track *t = &(*tracks)[ntracks++];
		snprintf(t->name, sizeof t->name, "%s", dirs[i]->d_name);
		int nwav = list_dir(est_dir, is_wav, &wavs);
		for (int k = 0; k < nwav; k++) {
			char name[NAME_MAX_LEN];
			stem_of(wavs[k]->d_name, name);
			if (!strcmp(name, "mixture")) {
				info("%s/%s: the mixture is not a stem; left out", est_dir, wavs[k]->d_name);
				continue;
			}
			struct stem *s = add_stem(t, name, est_dir);
			s->est = path_join(est_dir, wavs[k]->d_name, "");
			s->ref[s->nref++] = path_join(ref_dir, wavs[k]->d_name, "");
			if (!is_file(s->ref[0]) && !strcmp(name, "accompaniment")) {
				/* MUSDB's accompaniment is the sum of the other three */
				static const char *parts[3] = {"drums", "bass", "other"};
				free(s->ref[0]);
				for (int p = 0; p < 3; p++)
					s->ref[p] = path_join(ref_dir, parts[p], ".wav");
				s->nref = 3;
			}
			for (int p = 0; p < s->nref; p++)
				if (!is_file(s->ref[p]))
					die("%s: no reference for the estimate %s", s->ref[p], s->est);
		}
		if (!t->nstems)
			die("%s: no estimates (<stem>.wav)", est_dir);
		free_list(wavs, nwav);
		free(est_dir), free(ref_dir);
	}
	free_list(dirs, ndirs);
	if (!ntracks)
		die("--est %s: no track directories (OUT/<track>/<stem>.wav)", out);
	nroot = list_dir(root, is_subdir, &dirs);
	int missing = 0;
	for (int i = 0; i < nroot; i++) {
		char *p = path_join(root, dirs[i]->d_name, "");
		int found = 0;
		for (int k = 0; k < ntracks && !found; k++)
			found = !strcmp((*tracks)[k].name, dirs[i]->d_name);
		missing += is_dir(p) && !found;
		free(p);
	}
	free_list(dirs, nroot);
	if (missing && verbose >= 0)
		warn("%d track%s of %s %s no estimates in %s; the medians are over the %d evaluated", missing,
		     missing == 1 ? "" : "s", root, missing == 1 ? "has" : "have", out, ntracks);
	return ntracks;
}

/* ---- audio ---- */

struct audio {
	float *x;
	int64_t frames;
	int rate, channels;
};

static void load(const char *path, struct audio *a)
{
	struct audio_info info;
	struct audio_reader *r = audio_reader_open(path, &info);
	/* one frame more than announced, so that the end is seen without growing */
	int64_t cap = info.frames >= 0 ? info.frames + 1 : 1 << 16, got;
	if (!r)
		die_lib("");
	a->rate = info.sample_rate, a->channels = info.channels, a->frames = 0;
	if (!(a->x = malloc(sizeof(float) * cap * a->channels)))
		die("%s: out of memory", path);
	for (;;) {
		if (a->frames == cap) {
			if (cap >= MAX_FRAMES)
				die("%s: too long", path);
			cap *= 2;
			if (!(a->x = realloc(a->x, sizeof(float) * cap * a->channels)))
				die("%s: out of memory", path);
		}
		if ((got = audio_read(r, a->x + a->frames * a->channels, (size_t)(cap - a->frames))) < 0)
			die_lib(path);
		if (!got)
			break;
		a->frames += got;
	}
	audio_reader_close(r);
	for (int64_t i = 0; i < a->frames * a->channels; i++)
		if (!isfinite(a->x[i]))
			die("%s: sample %lld is not a finite number", path, (long long)(i / a->channels));
	if (!a->frames)
		die("%s: no audio", path);
}

/* Every file of the track, checked to agree in rate, channels and length. */
static void load_track(const struct track *t, struct audio *ref, struct audio *est)
{
	const char *first = t->stems[0].ref[0];
	struct audio part;
	for (int i = 0; i < t->nstems; i++) {
		const struct stem *s = &t->stems[i];
		for (int k = 0; k <= s->nref; k++) {
			const char *path = k < s->nref ? s->ref[k] : s->est;
			struct audio *a = k == 0 ? &ref[i] : k == s->nref ? &est[i] : &part;
			load(path, a);
			const struct audio *f = &ref[0];
			if (a->rate != f->rate)
				die("%s: %d Hz, but %s is %d Hz", path, a->rate, first, f->rate);
			if (a->channels != f->channels)
				die("%s: %d channel%s, but %s has %d", path, a->channels, a->channels == 1 ? "" : "s",
				    first, f->channels);
			if (a->frames != f->frames)
				die("%s: %lld frames, but %s has %lld (references and estimates must be as long)", path,
				    (long long)a->frames, first, (long long)f->frames);
			if (a == &part) {
				for (int64_t n = 0; n < a->frames * a->channels; n++)
					ref[i].x[n] += a->x[n];
				free(a->x);
			}
		}
	}
}

/* ---- evaluation ---- */

/* The stems evaluated together, as museval's eval_mus_track does for
 * MUSDB: with both vocals and accompaniment, all but the accompaniment form
 * one group (vocals not reported from it) and vocals + accompaniment
 * another; a first group of fewer than two stems is skipped. Elsewhere all
 * stems form one group. Returns the number of groups; member[g][i] says
 * whether stem i is in group g, report[g][i] whether its scores come from g. */
static int groups(const struct track *t, int musdb, int member[2][MAX_STEMS], int report[2][MAX_STEMS])
{
	int voc = -1, acc = -1, n = 0;
	memset(member, 0, sizeof(int[2][MAX_STEMS]));
	memset(report, 0, sizeof(int[2][MAX_STEMS]));
	for (int i = 0; i < t->nstems; i++) {
		voc = !strcmp(t->stems[i].name, "vocals") ? i : voc;
		acc = !strcmp(t->stems[i].name, "accompaniment") ? i : acc;
	}
	if (!musdb || voc < 0 || acc < 0) {
		for (int i = 0; i < t->nstems; i++)
			member[0][i] = report[0][i] = 1;
		return 1;
	}
	int size = 0;
	for (int i = 0; i < t->nstems; i++)
		if (i != acc)
			member[n][i] = 1, report[n][i] = i != voc, size++;
	n += size >= 2;
	memset(member[n], 0, sizeof member[n]);
	memset(report[n], 0, sizeof report[n]);
	member[n][voc] = member[n][acc] = report[n][voc] = report[n][acc] = 1;
	return n + 1;
}

static void evaluate(const struct track *t, const struct options *o, struct result *res)
{
	struct audio ref[MAX_STEMS], est[MAX_STEMS];
	int member[2][MAX_STEMS], report[2][MAX_STEMS];
	double start = omp_get_wtime();
	load_track(t, ref, est);
	memset(res, 0, sizeof *res);
	snprintf(res->name, sizeof res->name, "%s", t->name);
	res->rate = ref[0].rate, res->channels = ref[0].channels, res->frames = ref[0].frames;
	res->nstems = t->nstems;
	/* museval: int(seconds * rate) */
	double w = o->window * res->rate, h = o->hop * res->rate;
	if (w < 1 || h < 1 || w > INT32_MAX || h > INT32_MAX)
		die("%s: a window of %g s and a hop of %g s at %d Hz is out of range", t->name, o->window, o->hop,
		    res->rate);
	res->window = (int)w, res->hop = (int)h;
	int silent_ref = 0, silent[MAX_STEMS]; /* silent[i]: reference i is all zero */
	for (int i = 0; i < t->nstems; i++) {
		struct score *s = &res->scores[i];
		size_t n = (size_t)res->frames * res->channels;
		snprintf(s->name, sizeof s->name, "%s", t->stems[i].name);
		s->gsdr = global_sdr(ref[i].x, est[i].x, n);
		s->sisdr = si_sdr(ref[i].x, est[i].x, n);
		silent_ref += silent[i] = all_zero(ref[i].x, n);
		if (silent[i] && verbose >= 0)
			warn("%s: the %s reference is silent (all zero): its scores, and every BSS Eval window of the "
			     "track, are undefined (NaN; museval's convention)", t->name, s->name);
		if (all_zero(est[i].x, n) && verbose >= 0)
			warn("%s: the %s estimate is silent (all zero): its SI-SDR and BSS Eval scores are undefined "
			     "(NaN; museval refuses such an estimate)", t->name, s->name);
		for (int k = 0; k < NBSS; k++)
			s->median[k] = NAN;
	}
	int ng = groups(t, o->musdb, member, report);
	for (int g = 0; g < ng; g++) {
		const float *r[MAX_STEMS], *e[MAX_STEMS];
		int idx[MAX_STEMS], n = 0;
		for (int i = 0; i < t->nstems; i++)
			if (member[g][i])
				idx[n] = i, r[n] = ref[i].x, e[n++] = est[i].x;
		struct bss_params p = {res->window, res->hop, o->taps};
		struct bss_scores bs;
		if (bss_eval(r, e, n, res->channels, res->frames, &p, &bs))
			die_lib(t->name);
		if (bs.regularised && verbose >= 0)
			warn("%s: the references are not linearly independent (a silent channel, or one channel a "
			     "copy of another?); their Gram matrix needed diagonal loading",
			     t->name);
		for (int k = 0; k < n; k++)
			info("%s: %s: Gram matrix condition number about %.1e (its own channels), %.1e (all the stems)",
			     t->name, t->stems[idx[k]].name, bs.cond[k], bs.cond_all);
		if (bs.cond_all > BSS_ILL_CONDITIONED && !silent_ref && verbose >= 0)
			warn("%s: the references are nearly collinear taken together (Gram matrix condition number "
			     "about %.1e): SIR, ISR and SAR can differ by tenths of a dB between correct implementations",
			     t->name, bs.cond_all);
		for (int k = 0; k < n && verbose >= 0; k++)
			if (bs.cond[k] > BSS_ILL_CONDITIONED && !silent[idx[k]])
				warn("%s: %s: its reference's channels are nearly collinear (nearly mono? Gram matrix "
				     "condition number about %.1e): its ISR can differ by tenths of a dB between correct "
				     "implementations", t->name, t->stems[idx[k]].name, bs.cond[k]);
		for (int k = 0; k < n; k++) {
			struct score *s = &res->scores[idx[k]];
			if (!report[g][idx[k]])
				continue;
			const double *src[NBSS] = {bs.sdr, bs.sir, bs.isr, bs.sar};
			s->nwin = bs.nwin;
			for (int m = 0; m < NBSS; m++) {
				if (!(s->win[m] = malloc(sizeof(double) * bs.nwin)))
					die("out of memory");
				memcpy(s->win[m], src[m] + (size_t)k * bs.nwin, sizeof(double) * bs.nwin);
				s->median[m] = bss_median(s->win[m], bs.nwin);
			}
		}
		bss_scores_free(&bs);
	}
	for (int i = 0; i < t->nstems; i++)
		free(ref[i].x), free(est[i].x);
	info("%s: %d stems, %.1f s of audio, evaluated in %.2f s", t->name, t->nstems,
	     (double)res->frames / res->rate, omp_get_wtime() - start);
}

/* ---- output ---- */

/* Stems in the order first seen over the tracks. */
static int stem_list(const struct result *res, int nres, const char **names)
{
	int n = 0;
	for (int t = 0; t < nres; t++)
		for (int i = 0; i < res[t].nstems; i++) {
			int k = 0;
			while (k < n && strcmp(names[k], res[t].scores[i].name))
				k++;
			if (k == n && n < MAX_STEMS * 4)
				names[n++] = res[t].scores[i].name;
		}
	return n;
}

/* The median over tracks of each column for one stem (NaN tracks left out). */
static int stem_medians(const struct result *res, int nres, const char *stem, double *med)
{
	double v[6][nres];
	int n = 0;
	for (int t = 0; t < nres; t++)
		for (int i = 0; i < res[t].nstems; i++)
			if (!strcmp(res[t].scores[i].name, stem)) {
				const struct score *s = &res[t].scores[i];
				for (int m = 0; m < NBSS; m++)
					v[m][n] = s->median[m];
				v[4][n] = s->gsdr, v[5][n++] = s->sisdr;
			}
	for (int m = 0; m < 6; m++)
		med[m] = bss_median(v[m], n);
	return n;
}

static void print_num(double v)
{
	if (isnan(v))
		printf(" %8s", "nan");
	else
		printf(" %8.3f", v);
}

static void print_table(const struct result *res, int nres, int summary)
{
	int width = 5;
	for (int t = 0; t < nres; t++)
		width = (int)strlen(res[t].name) > width ? (int)strlen(res[t].name) : width;
	width = width > 40 ? 40 : width;
	width = summary && width < 10 ? 10 : width; /* "NNN tracks" */
	int swidth = 5;
	for (int t = 0; t < nres; t++)
		for (int i = 0; i < res[t].nstems; i++)
			swidth = (int)strlen(res[t].scores[i].name) > swidth ? (int)strlen(res[t].scores[i].name) : swidth;
	printf("%-*s  %-*s %8s %8s %8s %8s %8s %8s\n", width, "track", swidth, "stem", "SDR", "SIR", "ISR", "SAR",
	       "gSDR", "SI-SDR");
	for (int t = 0; t < nres; t++)
		for (int i = 0; i < res[t].nstems; i++) {
			const struct score *s = &res[t].scores[i];
			printf("%-*.*s  %-*s", width, width, res[t].name, swidth, s->name);
			for (int m = 0; m < NBSS; m++)
				print_num(s->median[m]);
			print_num(s->gsdr);
			print_num(s->sisdr);
			putchar('\n');
		}
	if (!summary)
		return;
	const char *names[MAX_STEMS * 4];
	int nstems = stem_list(res, nres, names);
	printf("\nmedian over tracks\n");
	for (int k = 0; k < nstems; k++) {
		double med[6];
		int n = stem_medians(res, nres, names[k], med);
		char label[64];
		snprintf(label, sizeof label, "%d track%s", n, n == 1 ? "" : "s");
		printf("%-*s  %-*s", width, label, swidth, names[k]);
		for (int m = 0; m < 6; m++)
			print_num(med[m]);
		putchar('\n');
	}
}

/* JSON numbers; NaN (undefined) is null, infinities are 1e999 and -1e999,
 * which JSON's grammar allows and parsers read as infinities. */
static void json_num(double v)
{
	if (isnan(v))
		fputs("null", stdout);
	else if (isinf(v))
		fputs(v > 0 ? "1e999" : "-1e999", stdout);
	else
		printf("%.6f", v);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct result *res, int nres, const struct options *o)
{
	printf("{\n  \"window_seconds\": %g, \"hop_seconds\": %g, \"taps\": %d,\n  \"tracks\": [", o->window, o->hop,
	       o->taps);
	for (int t = 0; t < nres; t++) {
		const struct result *r = &res[t];
		printf("%s\n    {\"name\": ", t ? "," : "");
		json_str(r->name);
		printf(", \"sample_rate\": %d, \"channels\": %d, \"frames\": %lld, \"window\": %d, \"hop\": %d,\n"
		       "     \"stems\": {",
		       r->rate, r->channels, (long long)r->frames, r->window, r->hop);
		for (int i = 0; i < r->nstems; i++) {
			const struct score *s = &r->scores[i];
			printf("%s\n      ", i ? "," : "");
			json_str(s->name);
			printf(": {");
			for (int m = 0; m < NBSS; m++) {
				printf("\"%s\": ", bss_names[m]);
				json_num(s->median[m]);
				printf(", ");
			}
			printf("\"global_SDR\": ");
			json_num(s->gsdr);
			printf(", \"SI_SDR\": ");
			json_num(s->sisdr);
			printf(",\n        \"windows\": {");
			for (int m = 0; m < NBSS; m++) {
				printf("%s\"%s\": [", m ? ", " : "", bss_names[m]);
				for (int w = 0; w < s->nwin; w++) {
					if (w)
						putchar(',');
					json_num(s->win[m][w]);
				}
				putchar(']');
			}
			printf("}}");
		}
		printf("\n     }}");
	}
	printf("\n  ],\n  \"median\": {");
	const char *names[MAX_STEMS * 4];
	int nstems = stem_list(res, nres, names);
	static const char *cols[6] = {"SDR", "SIR", "ISR", "SAR", "global_SDR", "SI_SDR"};
	for (int k = 0; k < nstems; k++) {
		double med[6];
		int n = stem_medians(res, nres, names[k], med);
		printf("%s\n    ", k ? "," : "");
		json_str(names[k]);
		printf(": {\"tracks\": %d", n);
		for (int m = 0; m < 6; m++) {
			printf(", \"%s\": ", cols[m]);
			json_num(med[m]);
		}
		putchar('}');
	}
	printf("\n  }\n}\n");
}

/* What the command line asks for. */
struct args {
	struct options o;
	const char *refs[MAX_STEMS], *ests[MAX_STEMS], *ref_dir, *est_dir, *musdb;
	int nref, nest, json;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_REF = 256, O_MUSDB, O_JSON, O_WINDOW, O_TAPS };
	static const struct option opts[] = {
		{"ref", required_argument, 0, O_REF},     {"est", required_argument, 0, 'e'},
		{"ref-dir", required_argument, 0, 'R'},   {"est-dir", required_argument, 0, 'E'},
		{"musdb", required_argument, 0, O_MUSDB}, {"json", no_argument, 0, O_JSON},
		{"window", required_argument, 0, O_WINDOW}, {"hop", required_argument, 0, 'H'},
		{"taps", required_argument, 0, O_TAPS},   {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},       {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},       {0, 0, 0, 0}};
	int opt;
	*a = (struct args){.o = {.window = 1, .hop = 1, .taps = 512}};
	/* -r, -m, -j, -w, -t: the old spellings of --ref, --musdb, --json,
	 * --window, --taps (doc/options.md) */
	while ((opt = getopt_long(argc, argv, "e:R:E:H:qvhVr:m:jw:t:", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case O_REF: case 'r':
			if (a->nref == MAX_STEMS)
				die("more than %d --ref", MAX_STEMS);
			a->refs[a->nref++] = optarg;
			break;
		case 'e':
			if (a->nest == MAX_STEMS)
				die("more than %d --est", MAX_STEMS);
			a->ests[a->nest++] = optarg;
			break;
		case 'R': a->ref_dir = optarg; break;
		case 'E': a->est_dir = optarg; break;
		case O_MUSDB: case 'm': a->musdb = optarg; break;
		case O_JSON: case 'j': a->json = 1; break;
		case O_WINDOW: case 'w': a->o.window = parse_double(optarg, "--window", 1e-3, 1e6); break;
		case 'H': a->o.hop = parse_double(optarg, "--hop", 1e-3, 1e6); break;
		case O_TAPS: case 't': a->o.taps = (int)parse_long(optarg, "--taps", 1, 4096); break;
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\"; inputs are given with --ref/--est, --ref-dir/--est-dir or --musdb",
		    argv[optind]);
}

/* What to compare with what: the tracks, from --musdb, --ref-dir/--est-dir
 * or --ref/--est pairs (one track, "-"). Returns their number. */
static int tracks_to_compare(struct args *a, struct track **tracks)
{
	*tracks = NULL;
	if (a->musdb) {
		if (a->nref || a->ref_dir || a->est_dir || a->nest != 1)
			die_usage("--musdb ROOT takes one --est OUT (the separated tree) and nothing else");
		a->o.musdb = 1;
		return tracks_from_musdb(tracks, a->musdb, a->ests[0]);
	}
	if (a->ref_dir || a->est_dir) {
		if (!a->ref_dir || !a->est_dir || a->nref || a->nest)
			die_usage("--ref-dir and --est-dir go together, without --ref or --est");
		if (!(*tracks = calloc(1, sizeof **tracks)))
			die("out of memory");
		track_from_dirs(*tracks, a->ref_dir, a->est_dir);
		return 1;
	}
	if (!a->nref && !a->nest) {
		usage(stderr);
		exit(2);
	}
	if (a->nref != a->nest)
		die_usage("%d --ref but %d --est: give them in pairs", a->nref, a->nest);
	if (!(*tracks = calloc(1, sizeof **tracks)))
		die("out of memory");
	strcpy((*tracks)->name, "-");
	for (int i = 0; i < a->nref; i++) {
		char name[NAME_MAX_LEN];
		stem_of(a->refs[i], name);
		struct stem *s = add_stem(*tracks, name, "--ref");
		s->ref[s->nref++] = dup(a->refs[i]);
		s->est = dup(a->ests[i]);
	}
	return 1;
}

static void free_tracks(struct track *tracks, struct result *res, int ntracks)
{
	for (int t = 0; t < ntracks; t++) {
		for (int i = 0; i < tracks[t].nstems; i++) {
			for (int k = 0; k < tracks[t].stems[i].nref; k++)
				free(tracks[t].stems[i].ref[k]);
			free(tracks[t].stems[i].est);
			for (int m = 0; m < NBSS; m++)
				free(res[t].scores[i].win[m]);
		}
	}
	free(tracks);
	free(res);
}

int main(int argc, char **argv)
{
	struct args a;
	struct track *tracks;
	threads_wait_policy(argv);
	progname = "tf-eval";
	args_begin();
	parse_args(argc, argv, &a);
	args_end();
	threads_choose(0);
	int ntracks = tracks_to_compare(&a, &tracks);

	struct result *res = calloc((size_t)ntracks, sizeof *res);
	if (!res)
		die("out of memory");
	for (int t = 0; t < ntracks; t++)
		evaluate(&tracks[t], &a.o, &res[t]);
	if (a.json)
		print_json(res, ntracks, &a.o);
	else
		print_table(res, ntracks, a.o.musdb || ntracks > 1);
	close_stdout();
	free_tracks(tracks, res, ntracks);
	return 0;
}
