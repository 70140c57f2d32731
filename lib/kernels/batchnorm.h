/* BatchNorm2d in training mode on channel-last rows z[rows][C]: statistics
 * over all rows (the batch and the pixels), biased variance in the
 * normalisation. The kernels work on a range of rows and leave the
 * reduction over ranges (in a fixed order) to the caller. */
#ifndef TF_BATCHNORM_H
#define TF_BATCHNORM_H
#include <stddef.h>

/* s[c] = sum of z[r][c] over the rows. */
void batchnorm_sum(double *s, const float *z, size_t rows, int C);
/* s[c] = sum of (z[r][c] - mean[c])^2. */
void batchnorm_sqdev(double *s, const float *z, const double *mean, size_t rows, int C);
/* y = (z - mean) * invstd * g + b. y may alias z. */
void batchnorm_apply(float *y, const float *z, const float *mean, const float *invstd,
		     const float *g, const float *b, size_t rows, int C);
/* sdy[c] = sum dy, sdyx[c] = sum dy * xhat with xhat = (z - mean) invstd. */
void batchnorm_grad_sums(double *sdy, double *sdyx, const float *dy, const float *z,
			 const float *mean, const float *invstd, size_t rows, int C);
/* dz = g invstd (dy - mdy - xhat mdyx), mdy and mdyx the sums above divided
 * by the number of rows of the whole batch. dz may alias dy. */
void batchnorm_backward_apply(float *dz, const float *dy, const float *z, const float *mean,
			      const float *invstd, const float *g, const float *mdy,
			      const float *mdyx, size_t rows, int C);

/* Plain references, all in double, whole batch at once: y = BN(z) with
 * batch statistics (mean and biased variance returned too); backward to dz,
 * dg, db (dg, db overwritten). */
void batchnorm_train_ref(float *y, double *mean, double *var, const float *z, const float *g,
			 const float *b, size_t rows, int C);
void batchnorm_backward_ref(float *dz, float *dg, float *db, const float *dy, const float *z,
			    const float *g, size_t rows, int C);

#endif
