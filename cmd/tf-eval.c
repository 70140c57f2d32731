/* tf-eval: how well stems were separated, as the field reports it: the
 * global SDR of the Music Demixing Challenge and SI-SDR, per stem, per
 * track, and the median over tracks.
 *   tf-eval REF.wav EST.wav           one stem
 *   tf-eval REF_DIR EST_DIR           every REF_DIR/<stem>.wav but mixture.wav
 *   tf-eval --musdb TEST_DIR EST_DIR  every track folder of a MUSDB18-layout set */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio.h"
#include "cli.h"
#include "error.h"
#include "metrics.h"

#define MAX_ROWS 100000
#define BLOCK 65536

struct row {
	char *track, *stem;
	double sdr, si_sdr;
};

static struct row rows[MAX_ROWS];
static int nrows;

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-eval [--json] REF EST\n"
		"       tf-eval [--json] --musdb TEST_DIR EST_DIR\n"
		"Compares separated stems with their references: the global SDR of the Music\n"
		"Demixing Challenge and SI-SDR, in dB. REF and EST are two audio files, or two\n"
		"folders holding <stem>.wav (mixture.wav is skipped). With --musdb, TEST_DIR\n"
		"holds one folder per track (MUSDB18's layout) and EST_DIR the same folders of\n"
		"estimates; the table ends with the median over tracks per stem.\n\n"
		"      --musdb       TEST_DIR and EST_DIR are sets of track folders\n"
		"      --json        JSON on standard output instead of a table\n"
		"  -q, --quiet       no progress\n"
		"  -h, --help        show this help\n"
		"  -V, --version     show the version\n");
}

static int is_dir(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static char *join(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 2);
	if (!s)
		die("out of memory");
	sprintf(s, "%s/%s", a, b);
	return s;
}

/* One stem: both files streamed through, block by block. */
static void compare(const char *track, const char *stem, const char *ref, const char *est)
{
	struct audio_info ri, ei;
	struct audio_reader *r = audio_reader_open(ref, &ri), *e = r ? audio_reader_open(est, &ei) : NULL;
	if (!r || !e)
		die_lib("");
	if (ri.sample_rate != ei.sample_rate || ri.channels != ei.channels)
		die("%s: %d Hz, %d channels, but the reference %s has %d Hz, %d channels", est, ei.sample_rate,
		    ei.channels, ref, ri.sample_rate, ri.channels);
	float *a = malloc((size_t)BLOCK * ri.channels * sizeof *a), *b = malloc((size_t)BLOCK * ri.channels * sizeof *b);
	if (!a || !b)
		die("out of memory");
	struct metric_sums s = {0};
	int64_t na, nb;
	for (;;) {
		if ((na = audio_read(r, a, BLOCK)) < 0 || (nb = audio_read(e, b, BLOCK)) < 0)
			die_lib("");
		/* blocks of a file are full until its end, so the two stay in step */
		if (na != nb)
			die("%s and %s differ in length (%s is longer)", ref, est, na > nb ? ref : est);
		if (!na)
			break;
		metric_add(&s, a, b, (size_t)na * ri.channels);
	}
	free(a), free(b);
	audio_reader_close(r), audio_reader_close(e);
	if (nrows == MAX_ROWS)
		die("more than %d stems", MAX_ROWS);
	rows[nrows++] = (struct row){strdup(track), strdup(stem), metric_global_sdr(&s), metric_si_sdr(&s)};
}

/* Every <stem>.wav of ref_dir (but mixture.wav) against est_dir's. */
static void compare_dirs(const char *track, const char *ref_dir, const char *est_dir)
{
	struct dirent **list;
	int n = scandir(ref_dir, &list, NULL, alphasort), found = 0;
	if (n < 0)
		die("cannot read %s", ref_dir);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		size_t len = strlen(name);
		if (len > 4 && !strcmp(name + len - 4, ".wav") && strcmp(name, "mixture.wav")) {
			char *stem = strndup(name, len - 4), *ref = join(ref_dir, name), *est = join(est_dir, name);
			struct stat st;
			if (stat(est, &st))
				die("%s: no estimate for stem %s (%s)", track, stem, est);
			compare(track, stem, ref, est);
			found++;
			free(stem), free(ref), free(est);
		}
		free(list[i]);
	}
	free(list);
	if (!found)
		die("%s: no <stem>.wav files", ref_dir);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median over tracks of one stem's metric (NaNs, silent references,
 * left out, as museval does). */
static double median(const char *stem, int si)
{
	double *v = malloc((size_t)nrows * sizeof *v);
	int n = 0;
	for (int i = 0; i < nrows; i++) {
		double x = si ? rows[i].si_sdr : rows[i].sdr;
		if (!strcmp(rows[i].stem, stem) && !isnan(x))
			v[n++] = x;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	double m = n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : NAN;
	free(v);
	return m;
}

static void json_string(const char *s)
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

static void json_number(double x)
{
	if (isnan(x) || isinf(x))
		printf("null");
	else
		printf("%.6f", x);
}

static void print(int json)
{
	/* stems in order of first appearance */
	const char *stems[64];
	int ns = 0;
	for (int i = 0; i < nrows && ns < 64; i++) {
		int seen = 0;
		for (int k = 0; k < ns; k++)
			seen |= !strcmp(stems[k], rows[i].stem);
		if (!seen)
			stems[ns++] = rows[i].stem;
	}
	if (json) {
		printf("{\"tracks\": [");
		for (int i = 0; i < nrows; i++) {
			printf("%s{\"track\": ", i ? ", " : "");
			json_string(rows[i].track);
			printf(", \"stem\": ");
			json_string(rows[i].stem);
			printf(", \"sdr\": ");
			json_number(rows[i].sdr);
			printf(", \"si_sdr\": ");
			json_number(rows[i].si_sdr);
			printf("}");
		}
		printf("], \"median\": {");
		for (int k = 0; k < ns; k++) {
			printf("%s", k ? ", " : "");
			json_string(stems[k]);
			printf(": {\"sdr\": ");
			json_number(median(stems[k], 0));
			printf(", \"si_sdr\": ");
			json_number(median(stems[k], 1));
			printf("}");
		}
		printf("}}\n");
		return;
	}
	printf("%-32s %-12s %9s %9s\n", "track", "stem", "SDR", "SI-SDR");
	for (int i = 0; i < nrows; i++)
		printf("%-32s %-12s %9.3f %9.3f\n", rows[i].track, rows[i].stem, rows[i].sdr, rows[i].si_sdr);
	printf("\n%-32s %-12s %9s %9s\n", "median over tracks", "stem", "SDR", "SI-SDR");
	for (int k = 0; k < ns; k++)
		printf("%-32s %-12s %9.3f %9.3f\n", "", stems[k], median(stems[k], 0), median(stems[k], 1));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"musdb", no_argument, 0, 'M'}, {"json", no_argument, 0, 'J'}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},  {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
	int musdb = 0, json = 0, opt;
	progname = "tf-eval";
	while ((opt = getopt_long(argc, argv, "qhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'M': musdb = 1; break;
		case 'J': json = 1; break;
		case 'q': verbose = -1; break;
		case 'h': usage(stdout); return 0;
		case 'V': print_version(); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2)
		die("want a reference and an estimate (files or folders); see --help");
	const char *ref = argv[optind], *est = argv[optind + 1];
	if (musdb) {
		struct dirent **list;
		int n = scandir(ref, &list, NULL, alphasort), tracks = 0;
		if (n < 0 || !is_dir(est))
			die("--musdb: %s and %s must be folders", ref, est);
		for (int i = 0; i < n; i++) {
			char *rd = join(ref, list[i]->d_name), *ed = join(est, list[i]->d_name);
			if (list[i]->d_name[0] != '.' && is_dir(rd)) {
				if (!is_dir(ed))
					die("no estimates for track %s (%s)", list[i]->d_name, ed);
				compare_dirs(list[i]->d_name, rd, ed);
				tracks++;
			}
			free(rd), free(ed), free(list[i]);
		}
		free(list);
		if (!tracks)
			die("--musdb: no track folders in %s", ref);
	} else if (is_dir(ref)) {
		if (!is_dir(est))
			die("%s is a folder, %s is not", ref, est);
		compare_dirs(ref, ref, est);
	} else {
		compare("-", "-", ref, est);
	}
	print(json);
	close_stdout();
	return 0;
}
