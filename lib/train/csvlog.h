/* tf-train's progress as CSV (--csv): a row every --log-every steps with
 * the mean loss since the last row, and a row after every validation with
 * the SDR of each stem, so that learning curves can be drawn (make plot)
 * and runs compared. Columns, in this order:
 *
 *   kind,step,epoch,elapsed_s,loss,lr,grad_norm,sdr_<stem>...,sdr_mean
 *
 * kind is "train" (sdr columns empty) or "valid" (loss, lr, grad_norm
 * empty). elapsed_s is wall time spent training, summed over resumed runs.
 * A resumed run appends to the same file; rows after the step it resumes
 * from (written by a run that was stopped before saving) are dropped first,
 * so the file always describes one unbroken run. */
#ifndef TF_TRAIN_CSVLOG_H
#define TF_TRAIN_CSVLOG_H
#include <stdint.h>
#include <stdio.h>

struct train_csv {
	FILE *fp;
	int nstems;
	double elapsed0; /* elapsed_s at the step the run started from */
};

/* Opens path for a run starting at step `from`, with the header for these
 * stems when the file is new or empty; a header that names other stems is
 * refused. 0, or -1 with a message. */
int train_csv_open(struct train_csv *c, const char *path, int64_t from, const char (*stems)[32], int nstems);
void train_csv_step(struct train_csv *c, int64_t step, int64_t epoch, double elapsed, double loss, double lr,
		    double grad_norm);
void train_csv_valid(struct train_csv *c, int64_t step, int64_t epoch, double elapsed, const double *sdr);
/* Closes; -1 with a message when something written was lost. */
int train_csv_close(struct train_csv *c);

#endif
