/* SPDX-License-Identifier: MIT */
/*
 * dist_gemm: what the CUDA plugin does with one piece of features of one
 * tile, written once for the device (distance.cu) and for the CPU unit test
 * (tests/unit/cuda_emu_test.c). The plugin's own code is only CUDA
 * mechanics (memory, streams, copies, launches); the arithmetic and the
 * order of the steps are here, behind a small table of operations
 * (struct dg_ops) that the plugin implements with kernel launches and
 * cuBLAS, and the test with loops and CBLAS. The GEMM operation has
 * cuBLAS's column-major signature, so the row-major translation below is
 * what the test checks too.
 *
 * DESIGN: a metric takes one of five engines on the device (dg_family):
 *  - DG_EU (euclidean, sqeuclidean, seuclidean, minkowski p = 2): stat 0 =
 *    sum w (a-b)^2 in the expanded form |a|^2 + |b|^2 - 2ab, the cross term
 *    a DGEMM (DSYRK on a diagonal tile), on columns centred on their mean
 *    over (the first 256 of) A's rows in the piece; a pair whose sum is within 1e-4 of its
 *    rounding scale is recomputed from the definition, as the CPU does, so
 *    identical rows give exactly 0. A piece with missing values goes
 *    through one masked GEMM of three times the features,
 *    [d^2 w | m w | -2 d w] . [m | d^2 | d], over shared features only.
 *  - DG_COS (cosine): sum w ab by GEMM straight into the statistics, the
 *    norms per row; masked: three GEMMs.
 *  - DG_CORR (correlation): rows centred on their (weighted) mean over the
 *    piece, the cross moment by GEMM, the piece's statistics merged into
 *    the tile's by Chan's formula, the CPU's corr_unmasked; masked: six
 *    GEMMs give each pair's count, sums and moments over shared features
 *    (the CPU's corr_masked).
 *  - DG_BOOL (the six boolean metrics): true/true counts by GEMM of 0/1
 *    matrices, the rest from row sums; masked or weighted: four GEMMs of
 *    truth and presence matrices (weighted: so that a count that must be 0
 *    comes out exactly 0; row sums summed in another order leave residues
 *    that turn yule's 0 into nonsense).
 *  - DG_TILED (everything else): the tiled kernel of dist_tile.h.
 * int8 pieces are converted on the device while the operands are built;
 * int8 without weights is "exact": every product and sum is an integer far
 * below 2^53, so the GEMMs are exact, nothing is centred or checked, and
 * the results equal the CPU's exact float-GEMM runs.
 *
 * A piece is at most dg_piece_len() features, so every per-piece buffer
 * (operands, column centres, row values) is sized once per job
 * (dg_sizes_of); the statistics and the accumulators stay on the device for
 * the whole tile. Element functions run one index a thread (dg_apply):
 * column centres one feature a thread, operands one element a thread,
 * merges one pair a thread; row values a warp a row (dg_rows_lane).
 */
#ifndef TESSERA_KERNELS_CUDA_DIST_GEMM_H
#define TESSERA_KERNELS_CUDA_DIST_GEMM_H

#include "dist_tile.h"

#include <stddef.h>
#include <string.h>

enum dg_fam { DG_TILED, DG_EU, DG_COS, DG_CORR, DG_BOOL };

/* What one dg_ops.apply launch runs, one index per thread. */
enum dg_kind {
	DG_K_COLMEAN, /* i: a feature; the column centre over A's rows */
	DG_K_ROWS,    /* i: a row (A's, then B's); its sums and mean */
	DG_K_BUILD,   /* i: an element (A's rows, then B's); the GEMM operands */
	DG_K_POST,    /* i: a pair; the piece's sums into the statistics */
	DG_K_MIRROR,  /* i: a pair of a diagonal tile; dt_mirror */
	DG_K_N
};

#define DG_EU_RECHECK 1e-4 /* the CPU's EU_RECHECK */
#define DG_DIAG_RB 512	   /* rows per GEMM along a diagonal tile's masked GEMMs */
#define DG_CENTRE_ROWS 256 /* rows of A that place the euclidean column centres */
#define DG_PLANES 3	   /* the most operand planes per row block */
#define DG_STAGE_BYTES ((size_t)32 << 20) /* a piece's raw rows, about (dg_piece_len) */

/* dg_family() : the engine metric @m (with minkowski's @p) takes on the device. */
DT_INLINE int dg_family(int m, double p)
{
	if (m == K_DIST_EUCLIDEAN || m == K_DIST_SQEUCLIDEAN || m == K_DIST_SEUCLIDEAN ||
	    (m == K_DIST_MINKOWSKI && p == 2.0))
		return DG_EU;
	if (m == K_DIST_COSINE)
		return DG_COS;
	if (m == K_DIST_CORRELATION)
		return DG_CORR;
	if (kdm_is_bool(m))
		return DG_BOOL;
	return DG_TILED;
}

/* A job's device buffers, in doubles (0: not needed). */
struct dg_sizes {
	long long acc; /* per-pair accumulators */
	long long opa, opb; /* GEMM operands of A's and B's rows */
	long long col;	    /* column centres */
	long long ra, rb;   /* per-row values: 3 slots (sum, sum of squares, mean) */
};

/* dg_piece_len() : features per piece for a tile of @na x @nb rows: its raw
 * rows take about @stage bytes (0: DG_STAGE_BYTES) as doubles; a multiple of
 * 32 in [32, 8192]. */
DT_INLINE long long dg_piece_len(long long na, long long nb, int same, size_t stage)
{
	long long rows = na + (same ? 0 : nb);
	long long p = (long long)((stage ? stage : DG_STAGE_BYTES) / 8) / (rows > 0 ? rows : 1);
	p = p < 32 ? 32 : p > 8192 ? 8192 : p;
	return p / 32 * 32;
}

/* dg_plane() : doubles between operand planes of @rows rows of @n features (and between accumulator
 * slots of @rows x @n pairs): a multiple of 32, so that every plane is as aligned as the first and
 * cuBLAS treats them all alike (the weighted boolean counts rely on two GEMMs of the same shape
 * summing alike). */
DT_INLINE long long dg_plane(long long rows, long long n)
{
	return (rows * n + 31) / 32 * 32;
}

/* dg_sizes_of() : the buffers of engine @fam for na x nb pairs and pieces of up to @P features. */
DT_INLINE struct dg_sizes dg_sizes_of(int fam, long long na, long long nb, long long P)
{
	struct dg_sizes z;
	memset(&z, 0, sizeof z);
	if (fam == DG_TILED)
		return z;
	z.acc = (fam == DG_EU ? 1 : fam == DG_CORR ? 6 : fam == DG_BOOL ? 4 : 0) * dg_plane(na, nb);
	z.opa = DG_PLANES * dg_plane(na, P);
	z.opb = DG_PLANES * dg_plane(nb, P);
	z.col = fam == DG_EU ? P : 0;
	z.ra = 3 * na;
	z.rb = 3 * nb;
	return z;
}

/* One tile's job: its shape and its device buffers (sized by dg_sizes_of). */
struct dg_job {
	int metric, fam;
	double p;
	long long na, nb, np, P; /* rows, pairs, features per piece at most */
	int same, weighted;
	double *st;		     /* statistics, stat-major, n_stats * np */
	double *acc, *opa, *opb, *col, *ra, *rb;
};

/* dg_job_setup() : job @J's shape for metric @o on @na x @nb pairs (@same: a diagonal tile), on
 * the tiled kernel when @tiled, else on the metric's engine, with pieces sized for @stage bytes of
 * staging (0: the default); its buffers are the caller's to set. */
static inline void dg_job_setup(struct dg_job *J, const struct k_dist_opts *o, long long na, long long nb, int same,
				int tiled, size_t stage)
{
	memset(J, 0, sizeof *J);
	J->metric = (int)o->metric;
	J->p = o->p;
	J->fam = tiled ? DG_TILED : dg_family(J->metric, o->p);
	J->na = na;
	J->nb = nb;
	J->np = na * nb;
	J->same = same && na == nb;
	J->weighted = o->weighted && o->metric != K_DIST_JENSENSHANNON;
	J->P = dg_piece_len(na, nb, J->same, stage);
}

/* One piece on the device: rows packed (element (r, f) at r * n + f). */
struct dg_piece {
	const void *a, *b; /* b: NULL on a diagonal tile */
	int a_i8, b_i8;
	const double *w; /* n weights, or NULL */
	long long n;	 /* features (<= the job's P) */
	int miss;	 /* a value of the piece is missing */
	double wsum;	 /* the sum of the weights (n when unweighted) */
};

/* Everything an element function reads: one piece of one job. Device pointers. */
struct dg_args {
	int fam, metric;
	int masked; /* the piece has missing values: the masked forms */
	int exact;  /* int8 on both sides without weights: integer sums, exact in double */
	int same;   /* diagonal tile: b == a, rb == ra, pairs s >= r */
	const void *a, *b;
	int a_i8, b_i8;
	const double *w; /* NULL: all 1 */
	long long na, nb, np, n;
	long long as;  /* doubles between accumulator slots: dg_plane(na, nb) */
	long long nbb; /* B's rows whose operands are built (0: B's operand is A's) */
	double wsum;
	double *st, *acc, *opa, *opb, *col, *ra, *rb;
};

/* Element @idx of a packed piece: its value, and whether it is present. */
DT_INLINE double dg_get(const void *x, int i8, long long idx, int *ok)
{
	if (i8) {
		signed char q = ((const signed char *)x)[idx];
		*ok = q >= 0;
		return (double)q;
	}
	double v = ((const double *)x)[idx];
	*ok = v == v;
	return v;
}

DT_INLINE double dg_w(const struct dg_args *g, long long f)
{
	return g->w ? g->w[f] : 1.0;
}

/*
 * DG_K_COLMEAN: col[f] = the mean of feature f over A's first DG_CENTRE_ROWS
 * rows, present values only (0 if none). Any centre taken alike for both
 * sides leaves the distances as they are; it only has to lie near the data
 * for the expanded form to keep its digits, and a few hundred rows say
 * where that is (one thread a feature: fewer rows, shorter threads).
 */
DT_INLINE void dg_colmean(const struct dg_args *g, long long f)
{
	double sum = 0, cnt = 0;
	long long rows = g->na < DG_CENTRE_ROWS ? g->na : DG_CENTRE_ROWS;
	for (long long r = 0; r < rows; r++) {
		int ok;
		double x = dg_get(g->a, g->a_i8, r * g->n + f, &ok);
		sum += ok ? x : 0.0;
		cnt += ok;
	}
	g->col[f] = cnt > 0 ? sum / cnt : 0.0;
}

/*
 * DG_K_ROWS: row @i (A's rows, then B's) puts its sum in slot 0, its sum of
 * squares in slot 1 and its mean in slot 2 of ra (rb), as its engine wants
 * them: EU the squared norm of its centred operand (masked: sum w d^2 over
 * present values); COS the squared norm; CORR the weighted mean and the sums
 * of w(x - mean) and w(x - mean)^2 (exact: sum x, sum x^2; masked: the mean
 * over present values); BOOL the weighted count of true values.
 */
#define DG_LANES 32 /* the threads of one row in a ROWS launch on the device: a warp */

/* dg_rows_mean_pass() : whether the rows need their mean before their sums (correlation, but for
 * exact int8 without missing values). */
DT_INLINE int dg_rows_mean_pass(const struct dg_args *g)
{
	return g->fam == DG_CORR && !(g->exact && !g->masked);
}

/* dg_rows_lane() : pass @pass of row @i (0: the mean's weighted sum and count; 1: the sums, around
 * @mean) over its features lane, lane + lanes, ..., added to s[0] and s[1]. */
DT_INLINE void dg_rows_lane(const struct dg_args *g, long long i, int pass, double mean, long long lane,
			    long long lanes, double *s)
{
	int side = i >= g->na, ok;
	long long r = side ? i - g->na : i, n = g->n;
	const void *x = side ? g->b : g->a;
	int i8 = side ? g->b_i8 : g->a_i8;
	double s1 = s[0], s2 = s[1];
	for (long long f = lane; f < n; f += lanes) {
		double v = dg_get(x, i8, r * n + f, &ok);
		switch (g->fam) {
		case DG_EU: {
			double c = g->exact ? 0.0 : g->col[f];
			if (g->masked) {
				double d = ok ? v - c : 0.0;
				s1 += (d * d) * dg_w(g, f);
			} else {
				double o = (v - c) * sqrt(dg_w(g, f));
				s2 += o * o;
			}
			break;
		}
		case DG_COS: {
			double o = v * sqrt(dg_w(g, f));
			s2 += o * o;
			break;
		}
		case DG_CORR:
			if (!dg_rows_mean_pass(g)) {
				s1 += v;
				s2 += v * v;
			} else if (pass == 0) {
				double wf = dg_w(g, f);
				s1 += ok ? wf * v : 0.0;
				s2 += ok ? wf : 0.0;
			} else {
				double sw = sqrt(dg_w(g, f)), o = (v - mean) * sw;
				s1 += o * sw;
				s2 += o * o;
			}
			break;
		case DG_BOOL:
			s1 += dg_w(g, f) * (double)(v != 0);
			break;
		default:
			break;
		}
	}
	s[0] = s1;
	s[1] = s2;
}

/* dg_rows_mean() : the mean from pass 0's sums. */
DT_INLINE double dg_rows_mean(const double *s)
{
	return s[1] > 0 ? s[0] / s[1] : 0.0;
}

/* dg_rows_store() : row @i's sums @s (and @mean, with a mean pass) into ra or rb. */
DT_INLINE void dg_rows_store(const struct dg_args *g, long long i, const double *s, double mean)
{
	int side = i >= g->na;
	long long r = side ? i - g->na : i, nr = side ? g->nb : g->na;
	double *out = side ? g->rb : g->ra;
	if (dg_rows_mean_pass(g))
		out[2 * nr + r] = mean;
	out[r] = s[0];
	out[nr + r] = s[1];
}

/* dg_rows_sum_pass() : whether the rows need pass 1 (masked correlation wants only the mean). */
DT_INLINE int dg_rows_sum_pass(const struct dg_args *g)
{
	return !(g->fam == DG_CORR && g->masked);
}

/*
 * DG_K_BUILD: element @i (A's rows, then B's) of the GEMM operands. A side's
 * operands carry the weights; planes of a side are row blocks of its operand
 * buffer (plane t of A at opa + t * na * n); the masked euclidean operand is
 * one matrix of 3n columns. Planes are dg_plane() apart.
 */
DT_INLINE void dg_build(const struct dg_args *g, long long i)
{
	long long n = g->n, ea = g->na * n;
	int side = i >= ea, ok;
	long long j = side ? i - ea : i, r = j / n, f = j % n, nr = side ? g->nb : g->na, pl = dg_plane(nr, n);
	double v = dg_get(side ? g->b : g->a, side ? g->b_i8 : g->a_i8, j, &ok), w = dg_w(g, f);
	double *op = side ? g->opb : g->opa;
	switch (g->fam) {
	case DG_EU: {
		double c = g->exact ? 0.0 : g->col[f];
		if (!g->masked) {
			op[j] = (v - c) * sqrt(w);
			break;
		}
		double d = ok ? v - c : 0.0, *o = op + r * 3 * n;
		if (!side) {
			o[f] = d * d * w;
			o[n + f] = ok ? w : 0.0;
			o[2 * n + f] = -2.0 * d * w;
		} else {
			o[f] = ok ? 1.0 : 0.0;
			o[n + f] = d * d;
			o[2 * n + f] = d;
		}
		break;
	}
	case DG_COS: {
		if (!g->masked) {
			op[j] = v * sqrt(w);
			break;
		}
		double x = ok ? v : 0.0;
		if (!side) {
			op[j] = x * w;
			op[pl + j] = x * x * w;
			op[2 * pl + j] = ok ? w : 0.0;
		} else {
			op[j] = x;
			op[pl + j] = ok ? 1.0 : 0.0;
			op[2 * pl + j] = x * x;
		}
		break;
	}
	case DG_CORR: {
		double mean = (side ? g->rb : g->ra)[2 * nr + r];
		if (!g->masked) {
			op[j] = g->exact ? v : (v - mean) * sqrt(w);
			break;
		}
		double d = ok ? v - mean : 0.0;
		if (!side) {
			op[j] = ok ? w : 0.0;
			op[pl + j] = d * w;
			op[2 * pl + j] = d * d * w;
		} else {
			op[j] = ok ? 1.0 : 0.0;
			op[pl + j] = d;
			op[2 * pl + j] = d * d;
		}
		break;
	}
	case DG_BOOL: {
		double t = ok && v != 0 ? 1.0 : 0.0, pr = ok ? 1.0 : 0.0;
		op[j] = side ? t : t * w;
		if (g->masked)
			op[pl + j] = side ? pr : pr * w;
		break;
	}
	default:
		break;
	}
}

/* sum w (a-b)^2 over pair (r, s)'s shared features of the piece, from the definition (the CPU's eu_direct). */
DT_INLINE double dg_eu_direct(const struct dg_args *g, long long r, long long s)
{
	double sum = 0;
	for (long long f = 0; f < g->n; f++) {
		double x = dt_elem(g->a, g->a_i8, g->n, r, f), y = dt_elem(g->b, g->b_i8, g->n, s, f);
		double d = x - y, t = dg_w(g, f) * (d * d);
		sum += t == t ? t : 0.0; /* missing: NaN */
	}
	return sum;
}

/* DG_K_POST: pair @k's sums over the piece merged into its statistics. */
DT_INLINE void dg_post(const struct dg_args *g, long long k)
{
	long long na = g->na, nb = g->nb, np = g->np, as = g->as, r = k / nb, s = k % nb;
	if (g->same && s < r)
		return;
	const double *ra = g->ra, *rb = g->rb, *acc = g->acc;
	double *st = g->st, sv[KDM_MAX_STATS], d[KDM_MAX_STATS];
	switch (g->fam) {
	case DG_EU: {
		/* a row and itself: its distance is 0 whatever is summed (the finished diagonal is set to 0), and
		 * its expanded form is all cancellation, which the recheck would sum again one thread a pair */
		if (g->same && r == s)
			break;
		double c = acc[k];
		if (!g->masked)
			c = c + (ra[na + r] + rb[nb + s]);
		if (!g->exact) {
			double scale = g->masked ? ra[r] + rb[s] : ra[na + r] + rb[nb + s];
			if (!(c > DG_EU_RECHECK * scale))
				c = dg_eu_direct(g, r, s);
		}
		st[k] += c;
		break;
	}
	case DG_COS:
		if (!g->masked) {
			st[np + k] += ra[na + r];
			st[2 * np + k] += rb[nb + s];
		}
		break;
	case DG_CORR:
		if (g->masked) {
			double n = acc[k];
			if (!(n > 0))
				return;
			double sa = acc[as + k], saa = acc[2 * as + k], sb = acc[3 * as + k], sbb = acc[4 * as + k],
			       sab = acc[5 * as + k];
			sv[0] = n;
			sv[1] = ra[2 * na + r] + sa / n;
			sv[2] = rb[2 * nb + s] + sb / n;
			sv[3] = saa - (sa * sa) / n;
			sv[4] = sbb - (sb * sb) / n;
			sv[5] = sab - (sa * sb) / n;
		} else if (g->exact) {
			double n = (double)g->n, sa = ra[r], sb = rb[s], saa = ra[na + r], sbb = rb[nb + s];
			sv[0] = n;
			sv[1] = sa / n;
			sv[2] = sb / n;
			sv[3] = (n * saa - sa * sa) / n;
			sv[4] = (n * sbb - sb * sb) / n;
			sv[5] = acc[k] - (sa * sb) / n;
		} else {
			double wsum = g->wsum, ea = ra[r] / wsum, eb = rb[s] / wsum;
			sv[0] = wsum;
			sv[1] = ra[2 * na + r] + ea;
			sv[2] = rb[2 * nb + s] + eb;
			sv[3] = ra[na + r] - wsum * (ea * ea);
			sv[4] = rb[nb + s] - wsum * (eb * eb);
			sv[5] = acc[k] - wsum * (ea * eb);
		}
		kdm_load(K_DIST_CORRELATION, d, st, k, np);
		kdm_correlation_combine(d, sv);
		kdm_store(K_DIST_CORRELATION, d, st, k, np);
		break;
	case DG_BOOL: {
		double tt = acc[k], ta, tb, n;
		if (g->masked) {
			ta = acc[as + k];
			tb = acc[2 * as + k];
			n = acc[3 * as + k];
		} else {
			ta = ra[r];
			tb = rb[s];
			n = g->wsum;
		}
		kdm_load(g->metric, sv, st, k, np);
		kdm_bool_add(g->metric, sv, tt, ta - tt, tb - tt, ((n - ta) - tb) + tt);
		kdm_store(g->metric, sv, st, k, np);
		break;
	}
	default:
		break;
	}
}

/* dg_apply() : element @i of launch @kind. */
DT_INLINE void dg_apply(int kind, long long i, const struct dg_args *g)
{
	switch (kind) {
	case DG_K_COLMEAN:
		dg_colmean(g, i);
		break;
	case DG_K_BUILD:
		dg_build(g, i);
		break;
	case DG_K_POST:
		dg_post(g, i);
		break;
	case DG_K_MIRROR:
		dt_mirror(g->metric, g->st, g->na, i);
		break;
	default:
		break;
	}
}

/* ---- The host side: the steps of a piece, over the operations the plugin (or the test) provides ---- */

/* The operations; each returns 0, or -1 with the reason kept by @ctx. */
struct dg_ops {
	/* dg_apply(kind, i, g) for every i in [0, count); DG_K_ROWS: for every row i, dg_rows_lane() of
	 * each of DG_LANES lanes, their sums added in a butterfly (warp_sum2), dg_rows_store() */
	int (*apply)(void *ctx, int kind, long long count, const struct dg_args *g);
	/* cublasDgemm: column-major C (m x n) = alpha op(A) op(B) + beta C; @ta, @tb: transpose */
	int (*gemm)(void *ctx, int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda,
		    const double *b, int ldb, double beta, double *c, int ldc);
	/* cublasDsyrk: column-major C (n x n, the @lower or upper triangle) = alpha op(A) op(A)^T + beta C */
	int (*syrk)(void *ctx, int lower, int trans, int n, int k, double alpha, const double *a, int lda, double beta,
		    double *c, int ldc);
	/* the tiled kernel over @t's grid (dt_grid) */
	int (*tiled)(void *ctx, const struct dt_args *t);
};

/* Row-major C (m x n, @ldc) = alpha A B^T + beta C with A (m x k) and B (n x k) row-major:
 * in cuBLAS's column-major terms C^T = op_T(B) op_N(A). */
static inline int dg_gemm_rm(const struct dg_ops *ops, void *ctx, long long m, long long n, long long k, double alpha,
			     const double *a, long long lda, const double *b, long long ldb, double beta, double *c,
			     long long ldc)
{
	if (m <= 0 || n <= 0 || k <= 0)
		return 0;
	return ops->gemm(ctx, 1, 0, (int)n, (int)m, (int)k, alpha, b, (int)ldb, a, (int)lda, beta, c, (int)ldc);
}

/* The upper triangle (s >= r) of row-major C (n x n) = alpha A A^T + beta C: column-major, that is the lower
 * triangle of op_T(A') op_T(A')^T with A' = A read column-major (k x n). */
static inline int dg_syrk_rm(const struct dg_ops *ops, void *ctx, long long n, long long k, double alpha,
			     const double *a, long long lda, double beta, double *c, long long ldc)
{
	if (n <= 0 || k <= 0)
		return 0;
	return ops->syrk(ctx, 1, 1, (int)n, (int)k, alpha, a, (int)lda, beta, c, (int)ldc);
}

/* C = alpha A B^T + beta C over the pairs the tile computes (C: na x nb, the statistics' layout); on a diagonal
 * tile, row blocks of A against B's rows from the block's first on. */
static inline int dg_gemm_pairs(const struct dg_ops *ops, void *ctx, const struct dg_args *g, long long k,
				double alpha, const double *a, long long lda, const double *b, long long ldb,
				double beta, double *c)
{
	if (!g->same)
		return dg_gemm_rm(ops, ctx, g->na, g->nb, k, alpha, a, lda, b, ldb, beta, c, g->nb);
	for (long long r0 = 0; r0 < g->na; r0 += DG_DIAG_RB) {
		long long rb = g->na - r0 < DG_DIAG_RB ? g->na - r0 : DG_DIAG_RB;
		if (dg_gemm_rm(ops, ctx, rb, g->nb - r0, k, alpha, a + r0 * lda, lda, b + r0 * ldb, ldb, beta,
			       c + r0 * g->nb + r0, g->nb) < 0)
			return -1;
	}
	return 0;
}

static inline int dg_gemms(const struct dg_ops *ops, void *ctx, const struct dg_args *g)
{
	long long n = g->n, na = g->na, nb = g->nb, np = g->np, pa = dg_plane(na, n), pb = dg_plane(nb, n);
	const double *A = g->opa, *B = g->opb;
	switch (g->fam) {
	case DG_EU:
		if (g->masked)
			return dg_gemm_pairs(ops, ctx, g, 3 * n, 1.0, A, 3 * n, B, 3 * n, 0.0, g->acc);
		if (g->same)
			return dg_syrk_rm(ops, ctx, na, n, -2.0, A, n, 0.0, g->acc, nb);
		return dg_gemm_rm(ops, ctx, na, nb, n, -2.0, A, n, B, n, 0.0, g->acc, nb);
	case DG_COS:
		if (g->masked) {
			for (int t = 0; t < 3; t++)
				if (dg_gemm_pairs(ops, ctx, g, n, 1.0, A + t * pa, n, B + t * pb, n, 1.0, g->st + t * np) < 0)
					return -1;
			return 0;
		}
		if (g->same)
			return dg_syrk_rm(ops, ctx, na, n, 1.0, A, n, 1.0, g->st, nb);
		return dg_gemm_rm(ops, ctx, na, nb, n, 1.0, A, n, B, n, 1.0, g->st, nb);
	case DG_CORR:
		if (g->masked) {
			/* count, sum a, sum a^2, sum b, sum b^2, sum ab: A's plane x B's plane */
			static const int pla[6] = { 0, 1, 2, 0, 0, 1 }, plb[6] = { 0, 0, 0, 1, 2, 1 };
			for (int t = 0; t < 6; t++)
				if (dg_gemm_pairs(ops, ctx, g, n, 1.0, A + pla[t] * pa, n, B + plb[t] * pb, n, 0.0,
						  g->acc + t * g->as) < 0)
					return -1;
			return 0;
		}
		if (g->same)
			return dg_syrk_rm(ops, ctx, na, n, 1.0, A, n, 0.0, g->acc, nb);
		return dg_gemm_rm(ops, ctx, na, nb, n, 1.0, A, n, B, n, 0.0, g->acc, nb);
	case DG_BOOL:
		if (g->masked) {
			/* tt, t_a p_b, p_a t_b, p_a p_b */
			static const int pla[4] = { 0, 0, 1, 1 }, plb[4] = { 0, 1, 0, 1 };
			for (int t = 0; t < 4; t++)
				if (dg_gemm_pairs(ops, ctx, g, n, 1.0, A + pla[t] * pa, n, B + plb[t] * pb, n, 0.0,
						  g->acc + t * g->as) < 0)
					return -1;
			return 0;
		}
		return dg_gemm_pairs(ops, ctx, g, n, 1.0, A, n, B, n, 0.0, g->acc);
	default:
		return 0;
	}
}

/*
 * dg_piece() : the piece @pc of job @J merged into the job's statistics:
 * column centres, row values, operands, GEMMs, merge (or the tiled kernel),
 * in that order on one stream. @return 0, or -1 from the failing operation.
 */
static inline int dg_piece(const struct dg_ops *ops, void *ctx, const struct dg_job *J, const struct dg_piece *pc)
{
	if (pc->n <= 0 || J->np <= 0)
		return 0;
	const void *b = J->same ? pc->a : pc->b;
	int b_i8 = J->same ? pc->a_i8 : pc->b_i8;
	if (J->fam == DG_TILED) {
		struct dt_args t;
		memset(&t, 0, sizeof t);
		t.metric = J->metric;
		t.p = J->p;
		t.a = pc->a;
		t.b = b;
		t.a_i8 = pc->a_i8;
		t.b_i8 = b_i8;
		t.lda = t.ldb = pc->n;
		t.na = J->na;
		t.nb = J->nb;
		t.nf = pc->n;
		t.w = pc->w;
		t.same = J->same;
		t.miss = pc->miss;
		t.st = J->st;
		t.np = J->np;
		return ops->tiled(ctx, &t);
	}
	struct dg_args g;
	memset(&g, 0, sizeof g);
	g.fam = J->fam;
	g.metric = J->metric;
	/* weighted booleans always take the four GEMMs: t_a p_b - t_a t_b is then exactly 0 when no feature
	 * is true in a and false in b (the same products summed the same way), which yule's 0 test needs */
	g.masked = pc->miss || (J->fam == DG_BOOL && J->weighted);
	g.exact = pc->a_i8 && b_i8 && !J->weighted;
	g.same = J->same;
	g.a = pc->a;
	g.b = b;
	g.a_i8 = pc->a_i8;
	g.b_i8 = b_i8;
	g.w = pc->w;
	g.na = J->na;
	g.nb = J->nb;
	g.np = J->np;
	g.as = dg_plane(J->na, J->nb);
	g.n = pc->n;
	g.nbb = !J->same || g.masked || J->fam == DG_BOOL ? J->nb : 0;
	g.wsum = pc->wsum;
	g.st = J->st;
	g.acc = J->acc;
	g.opa = J->opa;
	g.opb = J->opb;
	g.col = J->col;
	g.ra = J->ra;
	g.rb = J->same ? J->ra : J->rb;
	if (g.fam == DG_CORR && !g.masked && !g.exact && !(g.wsum > 0))
		return 0; /* no weight: the piece adds nothing (the CPU's corr_unmasked) */
	if (g.fam == DG_EU && !g.exact && ops->apply(ctx, DG_K_COLMEAN, g.n, &g) < 0)
		return -1;
	int rows = g.fam == DG_CORR || (g.fam == DG_EU && !(g.exact && g.masked)) ||
		   ((g.fam == DG_COS || g.fam == DG_BOOL) && !g.masked);
	if (rows && ops->apply(ctx, DG_K_ROWS, g.na + (g.same ? 0 : g.nb), &g) < 0)
		return -1;
	if (ops->apply(ctx, DG_K_BUILD, (g.na + g.nbb) * g.n, &g) < 0)
		return -1;
	if (dg_gemms(ops, ctx, &g) < 0)
		return -1;
	if (!(g.fam == DG_COS && g.masked) && ops->apply(ctx, DG_K_POST, g.np, &g) < 0)
		return -1;
	return 0;
}

/* dg_end() : the last step of a job: a diagonal tile's mirror. */
static inline int dg_end(const struct dg_ops *ops, void *ctx, const struct dg_job *J)
{
	if (!J->same || J->np <= 0)
		return 0;
	struct dg_args g;
	memset(&g, 0, sizeof g);
	g.metric = J->metric;
	g.st = J->st;
	g.na = g.nb = J->na;
	g.np = J->np;
	return ops->apply(ctx, DG_K_MIRROR, J->np, &g);
}

/* ---- Staging a piece on the host ---- */

/* Where a piece's parts lie in its staging buffer (bytes). */
struct dg_layout {
	size_t a, b, w, bytes;
};

static inline size_t dg_align(size_t x)
{
	return (x + 255) & ~(size_t)255;
}

/* dg_layout_of() : the staging layout of a piece of @n features (B's rows absent on a diagonal tile). */
static inline struct dg_layout dg_layout_of(long long na, long long nb, long long n, int a_i8, int b_i8, int same,
					    int weighted)
{
	struct dg_layout L;
	L.a = 0;
	size_t at = dg_align((size_t)(na * n) * (a_i8 ? 1 : 8));
	L.b = same ? 0 : at;
	if (!same)
		at = dg_align(at + (size_t)(nb * n) * (b_i8 ? 1 : 8));
	L.w = at;
	L.bytes = at + (weighted ? (size_t)n * 8 : 0);
	return L;
}

/* dg_stage_bytes() : the largest staging layout of any piece of up to @P features. */
static inline size_t dg_stage_bytes(long long na, long long nb, long long P, int same)
{
	return dg_layout_of(na, nb, P, 0, 0, same, 1).bytes;
}

/* Copies features [f0, f0 + n) of @rows rows of @x into @dst (ld n). @return whether one is missing. */
static inline int dg_pack_rows(const struct k_dist_rows *x, long long rows, long long f0, long long n, void *dst)
{
	int miss = 0;
	if (x->type == K_DIST_I8) {
		for (long long r = 0; r < rows; r++) {
			const signed char *s = (const signed char *)x->data + r * x->ld + f0;
			signed char *d = (signed char *)dst + r * n;
			int any = 0;
			for (long long f = 0; f < n; f++) {
				d[f] = s[f];
				any |= s[f] < 0;
			}
			miss |= any;
		}
		return miss;
	}
	for (long long r = 0; r < rows; r++) {
		const double *s = (const double *)x->data + r * x->ld + f0;
		double *d = (double *)dst + r * n;
		int any = 0;
		for (long long f = 0; f < n; f++) {
			d[f] = s[f];
			any |= s[f] != s[f];
		}
		miss |= any;
	}
	return miss;
}

/* The piece's weights (from @f0 of @w; NULL: unweighted, each 1) into the staging buffer, and their sum. */
static inline void dg_pack_weights(const double *w, long long f0, long long n, struct dg_layout L, void *buf,
				   const void *dev, struct dg_piece *pc)
{
	pc->wsum = 0;
	if (w) {
		memcpy((char *)buf + L.w, w + f0, (size_t)n * 8);
		pc->w = (const double *)(const void *)((const char *)dev + L.w);
		for (long long f = 0; f < n; f++)
			pc->wsum += w[f0 + f];
	} else {
		pc->wsum = (double)n;
	}
}

/*
 * dg_pack() : features [f0, f0 + n) of @a, @b (not on a diagonal tile) and
 * their weights @w (NULL: unweighted; indexed from f0) into @buf as laid out
 * by @L, and the piece's description @pc pointing into @dev (the device copy
 * of @buf, or @buf itself).
 */
static inline void dg_pack(const struct k_dist_rows *a, const struct k_dist_rows *b, int same, const double *w,
			   long long f0, long long n, struct dg_layout L, void *buf, const void *dev, struct dg_piece *pc)
{
	memset(pc, 0, sizeof *pc);
	char *h = (char *)buf;
	const char *d = (const char *)dev;
	pc->n = n;
	pc->a = d + L.a;
	pc->a_i8 = a->type == K_DIST_I8;
	pc->miss = dg_pack_rows(a, a->rows, f0, n, h + L.a);
	if (!same) {
		pc->b = d + L.b;
		pc->b_i8 = b->type == K_DIST_I8;
		pc->miss |= dg_pack_rows(b, b->rows, f0, n, h + L.b);
	}
	dg_pack_weights(w, f0, n, L, buf, dev, pc);
}

/* dg_scan_rows() : whether one of @count packed values at @p is missing (NaN; negative for int8). */
static inline int dg_scan_rows(const void *p, int i8, long long count)
{
	int miss = 0;
	if (i8) {
		const signed char *v = (const signed char *)p;
		for (long long k = 0; k < count; k++)
			miss |= v[k] < 0;
	} else {
		const double *v = (const double *)p;
		for (long long k = 0; k < count; k++)
			miss |= v[k] != v[k];
	}
	return miss;
}

/*
 * dg_staged() : @pc for a piece of @n features whose rows the caller has
 * already read into @buf as laid out by @L (a's rows at L.a, b's at L.b
 * unless @same, each row n values): its missing values noted, its weights
 * @w (from f0; NULL: unweighted) added. Pointers into @dev as for dg_pack.
 */
static inline void dg_staged(long long na, long long nb, int a_i8, int b_i8, int same, const double *w, long long f0,
			     long long n, struct dg_layout L, void *buf, const void *dev, struct dg_piece *pc)
{
	memset(pc, 0, sizeof *pc);
	const char *h = (const char *)buf, *d = (const char *)dev;
	pc->n = n;
	pc->a = d + L.a;
	pc->a_i8 = a_i8;
	pc->miss = dg_scan_rows(h + L.a, a_i8, na * n);
	if (!same) {
		pc->b = d + L.b;
		pc->b_i8 = b_i8;
		pc->miss |= dg_scan_rows(h + L.b, b_i8, nb * n);
	}
	dg_pack_weights(w, f0, n, L, buf, dev, pc);
}

/* Where a feed's rows come from: rows in memory (@a, and @b unless the job is a diagonal tile), or
 * a reader called once a piece for each side (tcu.h's tcu_reader). */
struct dg_source {
	const struct k_dist_rows *a, *b;
	int (*read)(void *ctx, int side, int64_t f0, int64_t n, void *dst);
	void *ctx;
	int a_i8, b_i8;
};

/* dg_source_rows() : rows @a and @b in memory as job @J's source of @nf features; -1 when they do
 * not fit the job. */
static inline int dg_source_rows(const struct dg_job *J, const struct k_dist_rows *a, const struct k_dist_rows *b,
				 long long nf, struct dg_source *s)
{
	memset(s, 0, sizeof *s);
	if (a->rows != J->na || (!J->same && b->rows != J->nb) || a->ld < nf || (!J->same && b->ld < nf))
		return -1;
	s->a = a;
	s->b = b;
	s->a_i8 = a->type == K_DIST_I8;
	s->b_i8 = !J->same && b->type == K_DIST_I8;
	return 0;
}

/* dg_source_reader() : a reader of elements @a_i8 / @b_i8 (int8, else double) as job @J's source. */
static inline void dg_source_reader(const struct dg_job *J, int (*read)(void *, int, int64_t, int64_t, void *),
				    void *ctx, int a_i8, int b_i8, struct dg_source *s)
{
	memset(s, 0, sizeof *s);
	s->read = read;
	s->ctx = ctx;
	s->a_i8 = a_i8;
	s->b_i8 = !J->same && b_i8;
}

/* dg_source_layout() : the staging layout of a piece of @n features of @src (@weighted: with weights). */
static inline struct dg_layout dg_source_layout(const struct dg_job *J, const struct dg_source *src, long long n,
						int weighted)
{
	return dg_layout_of(J->na, J->nb, n, src->a_i8, src->b_i8, J->same, weighted);
}

/* dg_stage() : features [f0, f0 + n) of @src and their weights @w (NULL: unweighted) staged in @buf
 * as @L lays them out, @pc pointing into @dev. @return 0, or -1 when the reader failed. */
static inline int dg_stage(const struct dg_job *J, const struct dg_source *src, const double *w, long long f0,
			   long long n, struct dg_layout L, void *buf, const void *dev, struct dg_piece *pc)
{
	if (src->a) {
		dg_pack(src->a, src->b, J->same, w, f0, n, L, buf, dev, pc);
		return 0;
	}
	char *h = (char *)buf;
	if (src->read(src->ctx, 0, f0, n, h + L.a) < 0 || (!J->same && src->read(src->ctx, 1, f0, n, h + L.b) < 0))
		return -1;
	dg_staged(J->na, J->nb, src->a_i8, src->b_i8, J->same, w, f0, n, L, buf, dev, pc);
	return 0;
}

#endif
