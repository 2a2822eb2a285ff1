/* SPDX-License-Identifier: MIT */
/*
 * dist_tile: the CUDA plugin's tiled distance kernel, written as phases
 * that the device kernel (dist_tile.cu) and the CPU unit test
 * (tests/unit/cuda_emu_test.c) both run. Every function is K_HD and takes
 * its block and thread indices, the block's shape and the block's shared
 * memory explicitly, so the test can drive the same code over an emulated
 * grid: every block, every thread, one phase at a time, shared memory as a
 * host array. Plain C, compiled by gcc for the test; CUDA-only syntax sits
 * behind __CUDACC__.
 *
 * DESIGN: a block owns DT_BR x DT_BS pairs (rows r0.. of A against rows
 * s0.. of B) and walks the piece's features DT_KF at a time:
 *
 *   dt_init   each thread loads its pairs' statistics (DT_RT x DT_ST pairs:
 *             A rows r0 + ty + i * DT_TY, B rows s0 + tx + j * DT_TX) into
 *             its registers (struct dt_thread);
 *   loop over chunks of features:
 *     dt_load   the block copies a chunk of its A rows, its B rows and the
 *               weights into shared memory, converted to double (int8: a
 *               negative value becomes NaN, the one missing mark in shared
 *               memory); features are the slow index there, rows the fast
 *               one, so a warp reads consecutive doubles;
 *     __syncthreads()
 *     dt_accum  each thread updates its pairs feature by feature with
 *               kdm_update() from dist_math.h: the CPU's scalar engine
 *               (K_DIST_ISA_SCALAR), feature for feature in the same order;
 *     __syncthreads()
 *   dt_store  each thread writes its pairs' statistics back.
 *
 * On a diagonal tile only pairs s >= r are computed and stored (blocks
 * wholly below the diagonal do nothing: dt_block_live); dt_mirror() then
 * fills s < r as k_dist_map's mirror does, so the tile is exactly symmetric.
 * The statistics buffer is the device copy of distance.h's stat-major
 * buffer, so a piece continues from what earlier pieces left.
 */
#ifndef TESSERA_KERNELS_CUDA_DIST_TILE_H
#define TESSERA_KERNELS_CUDA_DIST_TILE_H

#include "dist_math.h"

#ifdef __CUDACC__
#define DT_INLINE static __forceinline__ __host__ __device__
#else
#define DT_INLINE static inline
#endif
#ifdef __CUDA_ARCH__ /* nvcc's device pass; its host pass and gcc do not know the pragma */
#define DT_UNROLL _Pragma("unroll")
#else
#define DT_UNROLL
#endif

#define DT_TX 16		  /* threads per block along B's rows */
#define DT_TY 16		  /* threads per block along A's rows */
#define DT_RT 4			  /* pairs per thread along A */
#define DT_ST 4			  /* pairs per thread along B */
#define DT_BR (DT_TY * DT_RT)	  /* rows of A per block */
#define DT_BS (DT_TX * DT_ST)	  /* rows of B per block */
#define DT_KF 32		  /* features per shared-memory chunk */
#define DT_PA (DT_BR + 1)	  /* shared pitch of a feature's A values (padded against bank conflicts) */
#define DT_PB (DT_BS + 1)	  /* the same for B */
#define DT_SH_A 0		  /* offsets into the block's shared doubles */
#define DT_SH_B (DT_KF * DT_PA)
#define DT_SH_W (DT_SH_B + DT_KF * DT_PB)
#define DT_SH_DOUBLES (DT_SH_W + DT_KF) /* 33.5 KiB: under the 48 KiB of static shared memory */

/* A block or thread index, or a block's shape (CUDA's dim3, x and y only). */
struct dt_ix {
	int x, y;
};

/* One launch: a piece of features of one tile. Pointers are the device's. */
struct dt_args {
	int metric;	     /* enum k_dist_metric */
	double p;	     /* minkowski's p */
	const void *a, *b;   /* rows: element (r, f) at a[r * lda + f] */
	int a_i8, b_i8;	     /* int8 (negative: missing) rather than double (NaN: missing) */
	long long lda, ldb;  /* elements */
	long long na, nb;    /* rows of the tile */
	long long nf;	     /* features of the piece (>= 0) */
	const double *w;     /* nf weights, or NULL: all 1 */
	int same;	     /* a diagonal tile: only pairs s >= r */
	int miss;	     /* some value of the piece may be missing (0: none is, checks skipped) */
	double *st;	     /* statistics, stat-major, np pairs */
	long long np;	     /* na * nb */
};

/* A thread's registers between phases: its pairs' statistics. */
struct dt_thread {
	double s[DT_RT][DT_ST][KDM_MAX_STATS];
};

/* dt_grid() : the launch's grid (x along B's rows, y along A's). */
DT_INLINE struct dt_ix dt_grid(const struct dt_args *g)
{
	struct dt_ix d;
	d.x = (int)((g->nb + DT_BS - 1) / DT_BS);
	d.y = (int)((g->na + DT_BR - 1) / DT_BR);
	return d;
}

/* dt_block_live() : whether block @blk has a pair to compute (below a diagonal tile's diagonal: none). */
DT_INLINE int dt_block_live(const struct dt_args *g, struct dt_ix blk)
{
	long long r0 = (long long)blk.y * DT_BR, s0 = (long long)blk.x * DT_BS;
	return !g->same || s0 + DT_BS - 1 >= r0;
}

/* Whether pair (r, s) is the thread's to compute and store. */
DT_INLINE int dt_pair_live(const struct dt_args *g, long long r, long long s)
{
	return r < g->na && s < g->nb && (!g->same || s >= r);
}

/* Element (r, f) of a row block as a double: NaN where an int8 value is negative (missing). */
DT_INLINE double dt_elem(const void *x, int i8, long long ld, long long r, long long f)
{
	if (i8) {
		signed char v = ((const signed char *)x)[r * ld + f];
		return v < 0 ? (double)NAN : (double)v;
	}
	return ((const double *)x)[r * ld + f];
}

/* dt_init() : phase 1, the thread's pairs' statistics into its registers (0 for pairs it does not own).
 * @m: the launch's metric, a compile-time constant in the device kernel (so the registers stay registers). */
DT_INLINE void dt_init(int m, const struct dt_args *g, struct dt_ix blk, struct dt_ix thr, struct dt_thread *t)
{
	long long r0 = (long long)blk.y * DT_BR + thr.y, s0 = (long long)blk.x * DT_BS + thr.x;
	DT_UNROLL for (int i = 0; i < DT_RT; i++) DT_UNROLL for (int j = 0; j < DT_ST; j++)
	{
		long long r = r0 + (long long)i * DT_TY, s = s0 + (long long)j * DT_TX;
		if (dt_pair_live(g, r, s)) {
			kdm_load(m, t->s[i][j], g->st, r * g->nb + s, g->np);
		} else {
			DT_UNROLL for (int k = 0; k < KDM_MAX_STATS; k++) t->s[i][j][k] = 0.0;
		}
	}
}

/*
 * dt_load() : phase 2, the block's threads copy features [f0, f0 + DT_KF) of
 * the block's A and B rows and their weights into shared memory @sh
 * (DT_SH_DOUBLES): value (row, kf) at sh[DT_SH_A + kf * DT_PA + row]. Rows and
 * features past the ends read as 0 (dt_accum stops at the last feature, and
 * pairs past the ends are never stored).
 */
DT_INLINE void dt_load(const struct dt_args *g, struct dt_ix blk, struct dt_ix thr, struct dt_ix bdim, long long f0,
		       double *sh)
{
	int tid = thr.y * bdim.x + thr.x, nthr = bdim.x * bdim.y;
	long long r0 = (long long)blk.y * DT_BR, s0 = (long long)blk.x * DT_BS;
	for (int e = tid; e < DT_BR * DT_KF; e += nthr) {
		int row = e / DT_KF, kf = e % DT_KF;
		long long r = r0 + row, f = f0 + kf;
		sh[DT_SH_A + kf * DT_PA + row] = r < g->na && f < g->nf ? dt_elem(g->a, g->a_i8, g->lda, r, f) : 0.0;
	}
	for (int e = tid; e < DT_BS * DT_KF; e += nthr) {
		int row = e / DT_KF, kf = e % DT_KF;
		long long s = s0 + row, f = f0 + kf;
		sh[DT_SH_B + kf * DT_PB + row] = s < g->nb && f < g->nf ? dt_elem(g->b, g->b_i8, g->ldb, s, f) : 0.0;
	}
	for (int e = tid; e < DT_KF; e += nthr) {
		long long f = f0 + e;
		sh[DT_SH_W + e] = f < g->nf ? (g->w ? g->w[f] : 1.0) : 0.0;
	}
}

/*
 * dt_accum() : phase 3, the thread's pairs take features [f0, f0 + DT_KF) (or
 * to the piece's end) from shared memory, one at a time, through
 * kdm_update(). @m and @miss are the launch's metric and whether the piece
 * may have missing values: the device kernel passes them as compile-time
 * constants so the metric's switch folds away.
 */
DT_INLINE void dt_accum(int m, int miss, const struct dt_args *g, struct dt_ix thr, long long f0, const double *sh,
			struct dt_thread *t)
{
	long long left = g->nf - f0;
	int kn = left < DT_KF ? (int)left : DT_KF;
	double p = g->p;
	for (int kf = 0; kf < kn; kf++) {
		double av[DT_RT], bv[DT_ST], w = sh[DT_SH_W + kf];
		DT_UNROLL for (int i = 0; i < DT_RT; i++) av[i] = sh[DT_SH_A + kf * DT_PA + thr.y + i * DT_TY];
		DT_UNROLL for (int j = 0; j < DT_ST; j++) bv[j] = sh[DT_SH_B + kf * DT_PB + thr.x + j * DT_TX];
		DT_UNROLL for (int i = 0; i < DT_RT; i++) DT_UNROLL for (int j = 0; j < DT_ST; j++)
			kdm_update(m, p, t->s[i][j], av[i], bv[j], w, miss ? (av[i] != av[i] || bv[j] != bv[j]) : 0);
	}
}

/* dt_store() : phase 4, the thread's pairs' statistics back into the buffer (@m as for dt_init). */
DT_INLINE void dt_store(int m, const struct dt_args *g, struct dt_ix blk, struct dt_ix thr, const struct dt_thread *t)
{
	long long r0 = (long long)blk.y * DT_BR + thr.y, s0 = (long long)blk.x * DT_BS + thr.x;
	DT_UNROLL for (int i = 0; i < DT_RT; i++) DT_UNROLL for (int j = 0; j < DT_ST; j++)
	{
		long long r = r0 + (long long)i * DT_TY, s = s0 + (long long)j * DT_TX;
		if (dt_pair_live(g, r, s))
			kdm_store(m, t->s[i][j], g->st, r * g->nb + s, g->np);
	}
}

/* dt_n_chunks() : how many dt_load/dt_accum rounds a launch makes. */
DT_INLINE long long dt_n_chunks(const struct dt_args *g)
{
	return (g->nf + DT_KF - 1) / DT_KF;
}

/*
 * dt_mirror() : on a diagonal tile of @n rows, element @k (r = k / n, s =
 * k % n) of the mirror: pair (s, r), s > r, gets pair (r, s)'s statistics
 * with a's and b's swapped (kdm_partner); pair (r, r) gets its a-side
 * statistics on the b side too. k_dist_map's mirror, one pair a thread;
 * threads of different pairs touch different memory.
 */
DT_INLINE void dt_mirror(int m, double *st, long long n, long long k)
{
	long long r = k / n, s = k % n, np = n * n;
	int ns = kdm_n_stats(m);
	if (s < r)
		return;
	for (int t = 0; t < ns; t++) {
		int pt = kdm_partner(m, t);
		if (s > r)
			st[pt * np + s * n + r] = st[t * np + r * n + s];
		else if (pt > t)
			st[pt * np + r * n + r] = st[t * np + r * n + r];
	}
}

#endif
