/* Cholesky factorisation and solves of symmetric positive definite systems
 * in double precision: the least-squares fits of BSS Eval's distortion
 * filters (normal equations of a few thousand unknowns). Blocked, with the
 * bulk of the work in BLIS's double-precision matrix products, on one
 * thread: BLIS's own threading (and a two-way split by hand) ran slower
 * than one thread on the shared two-core machine (4096 unknowns: 0.58 s on
 * one thread, 0.69 s split, 7 s with BLIS's threads). Matrices are
 * row-major with row stride n. */
#ifndef TF_CHOLESKY_H
#define TF_CHOLESKY_H

/* Factors A = L L^T in place: L ends up in the lower triangle (the strict
 * upper triangle is not read and is left as it was). Returns 0, or k > 0
 * when the leading k x k minor is not positive definite (A is then partly
 * overwritten). */
int cholesky_factor(double *A, int n);
/* Solves L L^T X = B for the nrhs columns of B (n x nrhs, row-major),
 * overwriting B with X. L as left by cholesky_factor. */
void cholesky_solve(const double *L, int n, double *B, int nrhs);

/* Plain unblocked version of cholesky_factor, for the tests. */
int cholesky_factor_ref(double *A, int n);

#endif
