/* SPDX-License-Identifier: MIT */
/*
 * distance: pairwise distances between the rows of two matrices, as a
 * map-reduce over chunks of features (columns). For one pair of row blocks
 * (A: na rows, B: nb rows) the map step turns a chunk of features into
 * per-pair partial statistics, the combine step merges the partials of two
 * disjoint feature ranges, and the finalize step turns merged statistics
 * into distances. The metrics are one table (k_dist_info): a metric is its
 * statistics and its three steps.
 *
 * Conventions shared by every function here:
 *  - A statistics buffer for na × nb pairs is stat-major: statistic t of pair
 *    (r, s) is stats[t * n_pairs + r * nb + s], n_pairs = na * nb. So each
 *    statistic is a row-major na × nb matrix that a GEMM can write.
 *  - Missing values: a NaN in a K_DIST_F64 block, a negative value in a
 *    K_DIST_I8 block. A pair's statistics use only the features both rows
 *    have, with no rescaling (sgkit's rule). Rows without missing values get
 *    scipy.spatial.distance's values exactly as scipy defines them.
 *  - Definitions, parameters and 0/0 cases are scipy 1.17's pdist/cdist.
 *    Boolean metrics (dice, jaccard, rogerstanimoto, russellrao, sokalsneath,
 *    yule) read "nonzero" as true; hamming compares the raw values, as scipy
 *    does. (scipy 1.15 made jaccard boolean, nonzero as true; 1.10-1.14
 *    compared raw values. scipy 1.17's pdist/cdist dice on non-boolean
 *    numbers computes x(1-y) + y(1-x) on the raw values; here it is boolean
 *    like the others, which agrees on 0/1 input.)
 *  - Everything is single-threaded (the caller runs one map per worker) and
 *    allocates nothing: work memory is the caller's (k_dist_scratch_size).
 *    BLAS calls (cblas_dgemm / cblas_sgemm) are made with whatever thread
 *    count the caller configured.
 *
 * Metrics the array layer builds from these (not in the table):
 * mahalanobis is euclidean on rows whitened by x @ cholesky(VI);
 * seuclidean passes w = 1 / V; jensenshannon expects rows already divided by
 * their sums (the array layer does it), and applies scipy's natural-log
 * formula to them.
 */
#ifndef TESSERA_KERNELS_DISTANCE_H
#define TESSERA_KERNELS_DISTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum k_dist_metric {
	K_DIST_BRAYCURTIS,
	K_DIST_CANBERRA,
	K_DIST_CHEBYSHEV,
	K_DIST_CITYBLOCK,
	K_DIST_CORRELATION,
	K_DIST_COSINE,
	K_DIST_DICE,
	K_DIST_EUCLIDEAN,
	K_DIST_HAMMING,
	K_DIST_JACCARD,
	K_DIST_JENSENSHANNON,
	K_DIST_MINKOWSKI,
	K_DIST_ROGERSTANIMOTO,
	K_DIST_RUSSELLRAO,
	K_DIST_SEUCLIDEAN,
	K_DIST_SOKALSNEATH,
	K_DIST_SQEUCLIDEAN,
	K_DIST_YULE,
	K_DIST_N
};

enum k_dist_flags {
	K_DISTF_W = 1 << 0,    /* takes per-feature weights w (scipy's w=) */
	K_DISTF_P = 1 << 1,    /* takes p (minkowski) */
	K_DISTF_V = 1 << 2,    /* seuclidean: w must be given, as 1 / V */
	K_DISTF_BOOL = 1 << 3, /* a boolean metric: nonzero is true */
	K_DISTF_GEMM = 1 << 4, /* the map step is done with BLAS GEMMs */
};

struct k_dist_info {
	const char *name; /* scipy's name: "euclidean" */
	int n_stats;      /* doubles per pair in a statistics buffer */
	unsigned flags;   /* enum k_dist_flags */
};

/* k_dist_info_of() : the table row of @m (m < K_DIST_N). */
const struct k_dist_info *k_dist_info_of(enum k_dist_metric m);
/* k_dist_lookup() : the metric named @name (scipy's spelling), or -1. */
int k_dist_lookup(const char *name);

/* Which code k_dist_map runs; tests force each one, callers leave 0. */
enum k_dist_isa {
	K_DIST_ISA_AUTO = 0, /* the best this CPU has (CPUID at run time) */
	K_DIST_ISA_AVX512,   /* AVX-512 F/DQ/BW/VL (+VPOPCNTDQ when present) tiles; falls back if absent */
	K_DIST_ISA_AVX2,     /* AVX2 + FMA tiles; falls back to PORTABLE if absent */
	K_DIST_ISA_PORTABLE, /* the same tiles and GEMMs in plain C: any x86-64 or other CPU */
	K_DIST_ISA_SCALAR,   /* no GEMMs, no tiles: each pair feature by feature through
				dist_math.h, as the CUDA kernel does; slow, for tests */
};

struct k_dist_opts {
	enum k_dist_metric metric;
	double p;      /* minkowski: p > 0 (inf allowed: chebyshev); ignored by the others */
	bool weighted; /* w is passed to k_dist_map (K_DISTF_W or K_DISTF_V metrics only) */
	enum k_dist_isa isa; /* 0 (AUTO) unless a test wants one code path */
};

enum k_dist_elem {
	K_DIST_F64, /* double; NaN is missing */
	K_DIST_I8,  /* int8_t; negative is missing (genotype alt-allele counts, -1 for a missing call) */
};

/* A block of rows: element (r, f) is at data[r * ld + f], f < the nf of the call. */
struct k_dist_rows {
	enum k_dist_elem type;
	const void *data;
	int64_t rows;
	int64_t ld; /* elements, >= nf */
};

/* k_dist_init() : an empty statistics buffer (no features seen) for @n_pairs pairs. */
void k_dist_init(const struct k_dist_opts *o, double *stats, int64_t n_pairs);

/* k_dist_scratch_size() : bytes of work memory k_dist_map needs for these sizes
 * (any element type, any data; 0 when a size is 0). Roughly: GEMM metrics
 * 6 KiB per row of A and B plus 8 bytes per pair (cosine 4; correlation 4
 * and up to 24 MiB more); tile metrics 8 KiB per row (jensenshannon 16);
 * unweighted boolean metrics 2 KiB per row. */
size_t k_dist_scratch_size(const struct k_dist_opts *o, int64_t na, int64_t nb, int64_t nf);

/*
 * k_dist_map() : merges into @stats (a->rows × b->rows pairs, initialized by
 * k_dist_init or holding earlier features' statistics) the statistics of
 * features [0, @nf) of @a and @b. @w: the weights of these nf features
 * (w >= 0; for seuclidean 1 / V) when o->weighted, else NULL. @same: @a and
 * @b are the same rows (a diagonal tile): the result must then be exactly
 * symmetric (stat (r, s) equal to stat (s, r) with a and b's roles swapped).
 * @scratch: k_dist_scratch_size(o, a->rows, b->rows, nf) bytes, 64-aligned.
 * Any nf >= 0 works; the kernel splits features internally as precision
 * needs (an fp32 GEMM on int8 input only while its sums stay exact, below
 * 2^24; expanded-form GEMMs on columns centred per piece of features).
 */
void k_dist_map(const struct k_dist_opts *o, const struct k_dist_rows *a, const struct k_dist_rows *b, int64_t nf,
		const double *w, bool same, double *stats, void *scratch);

/* k_dist_combine() : @dst becomes the statistics of the union of the feature
 * ranges behind @dst and @src (disjoint); @src is unchanged. */
void k_dist_combine(const struct k_dist_opts *o, double *dst, const double *src, int64_t n_pairs);

/* k_dist_finalize() : out[k] = the distance of pair k from merged statistics. */
void k_dist_finalize(const struct k_dist_opts *o, const double *stats, int64_t n_pairs, double *out);

/*
 * k_dist_pair_ref() : the distance between rows @u and @v (nf doubles, NaN
 * missing) straight from the definition, one feature at a time, with
 * nothing shared with the fast paths: the reference the tests compare to.
 */
double k_dist_pair_ref(const struct k_dist_opts *o, const double *u, const double *v, int64_t nf, const double *w);

#ifdef __cplusplus
}
#endif

#endif
