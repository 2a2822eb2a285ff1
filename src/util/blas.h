/* SPDX-License-Identifier: MIT */
/*
 * blas: OpenBLAS, loaded with dlopen() by blas_init() rather than linked.
 *
 * Why: the workers are Tessera's parallelism, so every BLAS call must run
 * on its calling thread, and many run at once. Debian's serial OpenBLAS
 * (0.3.21) is not safe for that: with 16 workers on 16 cores its shared
 * buffer pool printed "Bad memory unallocation" and distances came out
 * wrong in about one run in five. The pthread build keeps a buffer per
 * calling thread and is safe, but linked, it starts a thread per core at
 * load time that spins before it sleeps. Loaded here with
 * OPENBLAS_NUM_THREADS=1 in the environment for the moment of the load, it
 * starts none. The module defines the few CBLAS and LAPACK entry points
 * Tessera uses (cblas_dgemm, cblas_sgemm, cblas_dsyrk, cblas_ssyrk,
 * dpotrf_, dtrtri_), forwarding to the loaded library, so callers include
 * <cblas.h> as usual. A library that says it is single-threaded (no
 * other is installed) is used one call at a time.
 */
#ifndef TESSERA_UTIL_BLAS_H
#define TESSERA_UTIL_BLAS_H

/* blas_init() : loads OpenBLAS. Call first thing in main(), before any
 * thread exists (it sets and restores an environment variable). A failure
 * is reported when a BLAS function is first called, not here. */
void blas_init(void);

/* blas_describe() : what was loaded ("OpenBLAS 0.3.21 ... from PATH"), or why nothing was. */
const char *blas_describe(void);

#endif
