/* tf-train's CSV progress log (csvlog.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fileio.h"
#include "train/csvlog.h"

#define MAX_LINE 4096

static int header_line(char *buf, size_t size, const char (*stems)[32], int nstems)
{
	size_t at = (size_t)snprintf(buf, size, "kind,step,epoch,elapsed_s,loss,lr,grad_norm");
	for (int s = 0; s < nstems && at < size; s++)
		at += (size_t)snprintf(buf + at, size - at, ",sdr_%s", stems[s]);
	if (at < size)
		at += (size_t)snprintf(buf + at, size - at, ",sdr_mean\n");
	return at < size ? 0 : tf_seterr("too many stems for the CSV header");
}

/* Keeps the header and the rows up to step `from`; notes the last elapsed_s. */
static int trim(const char *path, const char *header, int64_t from, double *elapsed)
{
	FILE *in = fopen(path, "r");
	if (!in)
		return errno == ENOENT ? 0 : tf_seterr("%s: %s", path, strerror(errno));
	char line[MAX_LINE];
	struct atomic_file af;
	int ret = 0, first = 1;
	if (atomic_open(&af, path)) {
		fclose(in);
		return -1;
	}
	while (fgets(line, sizeof line, in)) {
		if (first) {
			first = 0;
			if (strcmp(line, header)) {
				ret = tf_seterr("%s: a CSV log of another run (its header: %.*s)", path,
						(int)strcspn(line, "\n"), line);
				break;
			}
			fputs(line, af.fp);
			continue;
		}
		char kind[8];
		long long step;
		double t;
		if (sscanf(line, "%7[a-z],%lld,%*[0-9],%lf", kind, &step, &t) != 3) {
			ret = tf_seterr("%s: a row that is not the log's: %.*s", path, (int)strcspn(line, "\n"), line);
			break;
		}
		if (step <= from) {
			fputs(line, af.fp);
			*elapsed = t;
		}
	}
	fclose(in);
	if (ret) {
		atomic_abort(&af);
		return -1;
	}
	if (first)
		fputs(header, af.fp); /* an empty file */
	return atomic_commit(&af);
}

int train_csv_open(struct train_csv *c, const char *path, int64_t from, const char (*stems)[32], int nstems)
{
	char header[MAX_LINE];
	memset(c, 0, sizeof *c);
	c->nstems = nstems;
	if (header_line(header, sizeof header, stems, nstems) || trim(path, header, from, &c->elapsed0))
		return -1;
	if (!(c->fp = fopen(path, "a")))
		return tf_seterr("%s: %s", path, strerror(errno));
	if (ftell(c->fp) == 0)
		fputs(header, c->fp);
	fflush(c->fp);
	return 0;
}

void train_csv_step(struct train_csv *c, int64_t step, int64_t epoch, double elapsed, double loss, double lr,
		    double grad_norm)
{
	if (!c->fp)
		return;
	fprintf(c->fp, "train,%lld,%lld,%.1f,%.6g,%.6g,%.6g", (long long)step, (long long)epoch,
		c->elapsed0 + elapsed, loss, lr, grad_norm);
	for (int s = 0; s <= c->nstems; s++)
		fputc(',', c->fp);
	fputc('\n', c->fp);
	fflush(c->fp);
}

void train_csv_valid(struct train_csv *c, int64_t step, int64_t epoch, double elapsed, const double *sdr)
{
	if (!c->fp)
		return;
	double mean = 0;
	fprintf(c->fp, "valid,%lld,%lld,%.1f,,,", (long long)step, (long long)epoch, c->elapsed0 + elapsed);
	for (int s = 0; s < c->nstems; s++) {
		fprintf(c->fp, ",%.4f", sdr[s]);
		mean += sdr[s] / c->nstems;
	}
	fprintf(c->fp, ",%.4f\n", mean);
	fflush(c->fp);
}

int train_csv_close(struct train_csv *c)
{
	if (!c->fp)
		return 0;
	int bad = ferror(c->fp);
	bad |= fclose(c->fp) != 0;
	c->fp = NULL;
	return bad ? tf_seterr("the CSV log: %s", strerror(errno)) : 0;
}
