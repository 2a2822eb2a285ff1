/* SPDX-License-Identifier: MIT */
/* blas: OpenBLAS through dlopen(); see blas.h for why. */
#include "util/blas.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TESSERA_BLAS_DIR
#define TESSERA_BLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-pthread"
#endif

typedef void (*dgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
			 double, const double *, blasint, const double *, blasint, double, double *, blasint);
typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
			 float, const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*dsyrk_fn)(enum CBLAS_ORDER, enum CBLAS_UPLO, enum CBLAS_TRANSPOSE, blasint, blasint, double,
			 const double *, blasint, double, double *, blasint);
typedef void (*ssyrk_fn)(enum CBLAS_ORDER, enum CBLAS_UPLO, enum CBLAS_TRANSPOSE, blasint, blasint, float,
			 const float *, blasint, float, float *, blasint);
typedef void (*potrf_fn)(const char *, const int *, double *, const int *, int *);
typedef void (*trtri_fn)(const char *, const char *, const int *, double *, const int *, int *);

/* Written once by blas_init() before any other thread exists; read-only afterwards. */
static struct {
	bool loaded;
	bool serialize; /* a single-threaded build: one call at a time */
	char what[320]; /* blas_describe() */
	dgemm_fn dgemm;
	sgemm_fn sgemm;
	dsyrk_fn dsyrk;
	ssyrk_fn ssyrk;
	potrf_fn potrf;
	trtri_fn trtri;
} lib;

static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;

void blas_init(void)
{
	if (lib.loaded || lib.what[0])
		return;
	/* The pthread flavour first (safe for concurrent callers); then whatever the loader finds. */
	static const char *const paths[] = { TESSERA_BLAS_DIR "/libopenblas.so.0", "libopenblas.so.0",
					     "libopenblas.so" };
	const char *old = getenv("OPENBLAS_NUM_THREADS");
	char *saved = old ? strdup(old) : NULL;
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	void *h = NULL;
	const char *path = NULL;
	char why[200] = "";
	for (size_t i = 0; i < sizeof paths / sizeof paths[0] && !h; i++) {
		h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
		if (h) {
			path = paths[i];
		} else {
			/* the most telling reason: a library that exists but does not load */
			const char *d = dlerror();
			if (d && (!why[0] || !strstr(d, "No such file")))
				snprintf(why, sizeof why, "%s", d);
		}
	}
	/* shell tasks inherit the user's value, not ours */
	if (saved) {
		setenv("OPENBLAS_NUM_THREADS", saved, 1);
		free(saved);
	} else {
		unsetenv("OPENBLAS_NUM_THREADS");
	}
	if (!h) {
		snprintf(lib.what, sizeof lib.what,
			 "OpenBLAS (libopenblas.so.0) could not be loaded: %s; install libopenblas0-pthread", why);
		return;
	}
	lib.dgemm = (dgemm_fn)dlsym(h, "cblas_dgemm");
	lib.sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	lib.dsyrk = (dsyrk_fn)dlsym(h, "cblas_dsyrk");
	lib.ssyrk = (ssyrk_fn)dlsym(h, "cblas_ssyrk");
	lib.potrf = (potrf_fn)dlsym(h, "dpotrf_");
	lib.trtri = (trtri_fn)dlsym(h, "dtrtri_");
	char *(*config)(void) = (char *(*)(void))dlsym(h, "openblas_get_config");
	void (*threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
	if (!lib.dgemm || !lib.sgemm || !lib.dsyrk || !lib.ssyrk || !lib.potrf || !lib.trtri) {
		snprintf(lib.what, sizeof lib.what, "%s lacks a CBLAS or LAPACK function Tessera needs", path);
		return;
	}
	if (threads)
		threads(1); /* in case the library read another variable (GOTO_NUM_THREADS) */
	const char *cfg = config ? config() : "BLAS";
	lib.serialize = strstr(cfg, "SINGLE_THREADED") != NULL;
	snprintf(lib.what, sizeof lib.what, "%s from %s%s", cfg, path,
		 lib.serialize ? " (single-threaded build: one call at a time)" : "");
	lib.loaded = true;
}

const char *blas_describe(void)
{
	return lib.what[0] ? lib.what : "OpenBLAS is not loaded (blas_init was not called)";
}

static void need(void)
{
	if (!lib.loaded) {
		fprintf(stderr, "tessera: %s\n", blas_describe());
		exit(1);
	}
	if (lib.serialize)
		pthread_mutex_lock(&serial_lock);
}

static void done(void)
{
	if (lib.serialize)
		pthread_mutex_unlock(&serial_lock);
}

void cblas_dgemm(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
		 OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n,
		 OPENBLAS_CONST blasint k, OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
		 OPENBLAS_CONST blasint lda, OPENBLAS_CONST double *b, OPENBLAS_CONST blasint ldb,
		 OPENBLAS_CONST double beta, double *c, OPENBLAS_CONST blasint ldc)
{
	need();
	lib.dgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	done();
}

void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
		 OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n,
		 OPENBLAS_CONST blasint k, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a,
		 OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *b, OPENBLAS_CONST blasint ldb,
		 OPENBLAS_CONST float beta, float *c, OPENBLAS_CONST blasint ldc)
{
	need();
	lib.sgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	done();
}

void cblas_dsyrk(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_UPLO u,
		 OPENBLAS_CONST enum CBLAS_TRANSPOSE t, OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
		 OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a, OPENBLAS_CONST blasint lda,
		 OPENBLAS_CONST double beta, double *c, OPENBLAS_CONST blasint ldc)
{
	need();
	lib.dsyrk(o, u, t, n, k, alpha, a, lda, beta, c, ldc);
	done();
}

void cblas_ssyrk(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_UPLO u,
		 OPENBLAS_CONST enum CBLAS_TRANSPOSE t, OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
		 OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda,
		 OPENBLAS_CONST float beta, float *c, OPENBLAS_CONST blasint ldc)
{
	need();
	lib.ssyrk(o, u, t, n, k, alpha, a, lda, beta, c, ldc);
	done();
}

/* LAPACK's Fortran entry points (not in any header of OpenBLAS's). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info);

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info)
{
	need();
	lib.potrf(uplo, n, a, lda, info);
	done();
}

void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info)
{
	need();
	lib.trtri(uplo, diag, n, a, lda, info);
	done();
}
