#include <blis.h>
#include <math.h>

#include "cholesky.h"
#include "kernels/gemm.h"

/* Block size: big enough that the trailing updates (all but O(n^2 nb) of
 * the work) are large matrix products, small enough that the unblocked
 * diagonal factorisations stay cheap. */
#define NB 128

/* Unblocked left-looking factorisation of the n x n block at A (row stride
 * lda). Returns 0 or the 1-based index of the first non-positive pivot. */
static int factor_block(double *A, int n, int lda)
{
	for (int j = 0; j < n; j++) {
		double *rj = A + (size_t)j * lda;
		double d = rj[j];
		for (int k = 0; k < j; k++)
			d -= rj[k] * rj[k];
		if (!(d > 0))
			return j + 1;
		d = sqrt(d);
		rj[j] = d;
		for (int i = j + 1; i < n; i++) {
			double *ri = A + (size_t)i * lda, s = ri[j];
			for (int k = 0; k < j; k++)
				s -= ri[k] * rj[k];
			ri[j] = s / d;
		}
	}
	return 0;
}

int cholesky_factor_ref(double *A, int n)
{
	return factor_block(A, n, n);
}

int cholesky_factor(double *A, int n)
{
	double one = 1, minus_one = -1;
	cntx_t *cntx = gemm_blis_context();
	/* right-looking: factor the diagonal block, solve the panel below it,
	 * subtract the panel's outer product from the trailing matrix */
	for (int k = 0; k < n; k += NB) {
		int kb = n - k < NB ? n - k : NB, rest = n - k - kb;
		double *a11 = A + (size_t)k * n + k, *a21 = a11 + (size_t)kb * n, *a22 = a21 + kb;
		int bad = factor_block(a11, kb, n);
		if (bad)
			return k + bad;
		if (!rest)
			break;
		/* A21 := A21 L11^-T */
		bli_dtrsm_ex(BLIS_RIGHT, BLIS_LOWER, BLIS_TRANSPOSE, BLIS_NONUNIT_DIAG, rest, kb, &one, a11, n, 1, a21,
			     n, 1, cntx, NULL);
		/* A22 -= A21 A21^T (lower triangle) */
		bli_dsyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, rest, kb, &minus_one, a21, n, 1, &one, a22, n, 1, cntx,
			     NULL);
	}
	return 0;
}

void cholesky_solve(const double *L, int n, double *B, int nrhs)
{
	double one = 1;
	cntx_t *cntx = gemm_blis_context();
	bli_dtrsm_ex(BLIS_LEFT, BLIS_LOWER, BLIS_NO_TRANSPOSE, BLIS_NONUNIT_DIAG, n, nrhs, &one, (double *)L, n, 1, B,
		     nrhs, 1, cntx, NULL);
	bli_dtrsm_ex(BLIS_LEFT, BLIS_LOWER, BLIS_TRANSPOSE, BLIS_NONUNIT_DIAG, n, nrhs, &one, (double *)L, n, 1, B,
		     nrhs, 1, cntx, NULL);
}
