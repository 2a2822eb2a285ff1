/* SPDX-License-Identifier: MIT */
/*
 * distance: the CPU side of kernels/distance.h, scipy's pdist/cdist metrics
 * as map (features -> per-pair statistics), combine and finalize. The
 * per-feature arithmetic, the merges and the 0/0 rules live in dist_math.h,
 * shared with the CUDA kernel; this file is about doing the map fast.
 *
 * DESIGN: k_dist_map picks one of six engines by metric:
 *  - GEMM engines (euclidean, sqeuclidean, seuclidean, minkowski p=2,
 *    cosine, correlation): the expanded form |a|^2 + |b|^2 - 2ab with the
 *    cross term from cblas_dgemm (cblas_dsyrk on a diagonal tile), on
 *    pieces of features copied into scratch. Euclidean centres each column
 *    on its mean over A's rows first (the distance does not change; at
 *    offsets like 1e6 the uncentred form loses every digit), and recomputes
 *    from the definition the rare pairs whose result is within 1e-4 of the
 *    rounding scale (near-duplicate rows: identical ones get exactly 0, as
 *    in scipy). Correlation centres each row on its mean over the call's
 *    features and folds the small residual mean back in with Chan's merge,
 *    so offsets cost nothing; cosine is scale-safe and runs on the caller's
 *    rows as they are. A piece with missing values goes through masked
 *    GEMMs instead (missing entries zeroed; products with 0/1 masks give
 *    each pair's sums over its shared features), a piece without takes the
 *    unmasked path (correlation decides once per call: with any missing
 *    value every pair needs its own means, six sums by masked GEMMs, for a
 *    block of A's rows at a time). Unweighted int8 rows go through
 *    cblas_sgemm on a float copy of one piece at a time, exactly: the float
 *    accumulator is flushed into the double statistics before any partial
 *    sum could reach 2^24, a bound taken from the block's largest value.
 *  - tiles (cityblock (but see int8 bytes), chebyshev, minkowski p=1/inf, braycurtis, canberra,
 *    hamming, weighted boolean metrics): a register tile of rows of A times
 *    rows of B accumulates vectors of features (4x4 pairs of 8 lanes with
 *    AVX-512), over a block of B that stays in L2, a piece of features at a
 *    time. Canberra divides by a reciprocal estimate and two Newton steps
 *    (the hardware divide would cap it near scipy's speed).
 *  - int8 bytes (unweighted cityblock and minkowski p=1 on int8 rows, with
 *    AVX2 or AVX-512BW): psadbw sums |a - b| over the bytes themselves in
 *    4x4 tiles, missing (negative) bytes zeroed pairwise; exact integers.
 *  - bit counts (unweighted boolean metrics): rows packed into 64-bit words
 *    (value and presence bits), counted with popcount; exact.
 *  - row loops (jensenshannon, minkowski with other p): a pair at a time
 *    through a branch-free log/exp that GCC vectorizes.
 *  - scalar (K_DIST_ISA_SCALAR): dist_math.h feature by feature, the CUDA
 *    kernel's shape; the tests compare every engine with it.
 * The SIMD code is written once, after the "template" line at the end of
 * this file, against a few vector macros, and compiled three times (this
 * file includes itself) for AVX-512, AVX2+FMA and plain C; CPUID picks one
 * at run time, as in trig.c. A diagonal tile computes the pairs s >= r and
 * mirrors them, swapping a's and b's statistics, so it is exactly
 * symmetric. Nothing here allocates or keeps state: work memory is the
 * caller's scratch, carved by the same function that sizes it.
 */
#ifndef DIST_TEMPLATE

#include "distance.h"
#include "dist_math.h"
#include "isa.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PIECE_D 768	/* doubles per row of a GEMM operand piece (masked: 3 x PIECE_DM) */
#define PIECE_DM 256	/* features per masked double piece */
#define PIECE_F 768	/* floats per row of an int8 operand piece (masked: 3 x PIECE_FM) */
#define PIECE_FM 256	/* features per masked float piece */
#define PIECE_T 1024	/* features per tile / row-loop piece: a 4-row A tile stays in L1 */
#define PIECE_BITS 32768 /* features per bit-count piece (512 words, 4 KiB a row) */
#define SB_ROWS 128	/* rows of B per block: 128 x 1024 doubles = 1 MiB, in L2 */
#define CORR_T_BYTES ((size_t)24 << 20) /* masked correlation's accumulators per row block */
#define F32_EXACT 16777215.0            /* 2^24 - 1: the largest sum a float holds exactly */

/* Helpers the per-ISA code calls: GCC does not inline across different optimize options otherwise. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- The metric table ---- */

static const struct k_dist_info dist_table[K_DIST_N] = {
	[K_DIST_BRAYCURTIS] = { "braycurtis", 2, K_DISTF_W },
	[K_DIST_CANBERRA] = { "canberra", 1, K_DISTF_W },
	[K_DIST_CHEBYSHEV] = { "chebyshev", 1, K_DISTF_W },
	[K_DIST_CITYBLOCK] = { "cityblock", 1, K_DISTF_W },
	[K_DIST_CORRELATION] = { "correlation", 6, K_DISTF_W | K_DISTF_GEMM },
	[K_DIST_COSINE] = { "cosine", 3, K_DISTF_W | K_DISTF_GEMM },
	[K_DIST_DICE] = { "dice", 2, K_DISTF_W | K_DISTF_BOOL },
	[K_DIST_EUCLIDEAN] = { "euclidean", 1, K_DISTF_W | K_DISTF_GEMM },
	[K_DIST_HAMMING] = { "hamming", 2, K_DISTF_W },
	[K_DIST_JACCARD] = { "jaccard", 2, K_DISTF_W | K_DISTF_BOOL },
	[K_DIST_JENSENSHANNON] = { "jensenshannon", 1, 0 },
	[K_DIST_MINKOWSKI] = { "minkowski", 1, K_DISTF_W | K_DISTF_P },
	[K_DIST_ROGERSTANIMOTO] = { "rogerstanimoto", 2, K_DISTF_W | K_DISTF_BOOL },
	[K_DIST_RUSSELLRAO] = { "russellrao", 2, K_DISTF_W | K_DISTF_BOOL },
	[K_DIST_SEUCLIDEAN] = { "seuclidean", 1, K_DISTF_V | K_DISTF_GEMM },
	[K_DIST_SOKALSNEATH] = { "sokalsneath", 2, K_DISTF_W | K_DISTF_BOOL },
	[K_DIST_SQEUCLIDEAN] = { "sqeuclidean", 1, K_DISTF_W | K_DISTF_GEMM },
	[K_DIST_YULE] = { "yule", 4, K_DISTF_W | K_DISTF_BOOL },
};

const struct k_dist_info *k_dist_info_of(enum k_dist_metric m)
{
	return &dist_table[m];
}

int k_dist_lookup(const char *name)
{
	for (int m = 0; m < K_DIST_N; m++)
		if (strcmp(dist_table[m].name, name) == 0)
			return m;
	return -1;
}

/* ---- init, combine, finalize ---- */

void k_dist_init(const struct k_dist_opts *o, double *stats, int64_t n_pairs)
{
	memset(stats, 0, (size_t)(n_pairs * dist_table[o->metric].n_stats) * sizeof *stats);
}

void k_dist_combine(const struct k_dist_opts *o, double *dst, const double *src, int64_t n_pairs)
{
	int m = (int)o->metric;
	int64_t n = n_pairs * dist_table[m].n_stats;
	if (m == K_DIST_CORRELATION) {
		for (int64_t k = 0; k < n_pairs; k++) {
			double d[KDM_MAX_STATS], s[KDM_MAX_STATS];
			kdm_load(m, d, dst, k, n_pairs);
			kdm_load(m, s, src, k, n_pairs);
			kdm_correlation_combine(d, s);
			kdm_store(m, d, dst, k, n_pairs);
		}
	} else if (kdm_combine_is_max(m, o->p)) {
		for (int64_t k = 0; k < n; k++)
			dst[k] = src[k] > dst[k] ? src[k] : dst[k];
	} else {
		for (int64_t k = 0; k < n; k++)
			dst[k] += src[k];
	}
}

void k_dist_finalize(const struct k_dist_opts *o, const double *stats, int64_t n_pairs, double *out)
{
	int m = (int)o->metric;
	for (int64_t k = 0; k < n_pairs; k++) {
		double s[KDM_MAX_STATS];
		kdm_load(m, s, stats, k, n_pairs);
		out[k] = kdm_finalize(m, o->p, s);
	}
}

/* ---- The reference: scipy's definitions, one pair, written independently of dist_math.h ---- */

static double ref_cos_like(const double *u, const double *v, int64_t nf, const double *w, int centred)
{
	double sw = 0, su = 0, sv = 0;
	for (int64_t f = 0; f < nf; f++) {
		if (isnan(u[f]) || isnan(v[f]))
			continue;
		double wf = w ? w[f] : 1.0;
		sw += wf;
		su += wf * u[f];
		sv += wf * v[f];
	}
	double mu = centred ? su / sw : 0.0, mv = centred ? sv / sw : 0.0;
	double uv = 0, uu = 0, vv = 0;
	for (int64_t f = 0; f < nf; f++) {
		if (isnan(u[f]) || isnan(v[f]))
			continue;
		double wf = w ? w[f] : 1.0, x = u[f] - mu, y = v[f] - mv;
		uv += wf * x * y;
		uu += wf * x * x;
		vv += wf * y * y;
	}
	double dist = 1.0 - uv / sqrt(uu * vv);
	return dist < 0 ? 0.0 : dist > 2 ? 2.0 : dist; /* np.clip(dist, 0, 2); NaN stays */
}

double k_dist_pair_ref(const struct k_dist_opts *o, const double *u, const double *v, int64_t nf, const double *w)
{
	enum k_dist_metric m = o->metric;
	if (!o->weighted || m == K_DIST_JENSENSHANNON)
		w = NULL;
	if (m == K_DIST_CORRELATION || m == K_DIST_COSINE)
		return ref_cos_like(u, v, nf, w, m == K_DIST_CORRELATION);
	double s1 = 0, s2 = 0, ntt = 0, ntf = 0, nft = 0, nff = 0;
	for (int64_t f = 0; f < nf; f++) {
		double x = u[f], y = v[f], wf = w ? w[f] : 1.0;
		if (isnan(x) || isnan(y))
			continue;
		double ad = fabs(x - y);
		int tx = x != 0, ty = y != 0;
		ntt += wf * (tx && ty);
		ntf += wf * (tx && !ty);
		nft += wf * (!tx && ty);
		nff += wf * (!tx && !ty);
		switch (m) {
		case K_DIST_BRAYCURTIS:
			s1 += wf * ad;
			s2 += wf * fabs(x + y);
			break;
		case K_DIST_CANBERRA:
			if (fabs(x) + fabs(y) > 0)
				s1 += wf * ad / (fabs(x) + fabs(y));
			break;
		case K_DIST_CHEBYSHEV:
			if (wf > 0 && ad > s1)
				s1 = ad;
			break;
		case K_DIST_CITYBLOCK:
			s1 += wf * ad;
			break;
		case K_DIST_EUCLIDEAN:
		case K_DIST_SEUCLIDEAN:
		case K_DIST_SQEUCLIDEAN:
			s1 += wf * ad * ad;
			break;
		case K_DIST_HAMMING:
			s1 += wf * (x != y);
			s2 += wf;
			break;
		case K_DIST_JENSENSHANNON: {
			double mm = (x + y) / 2.0;
			if (x < 0 || y < 0)
				s1 = INFINITY;
			if (x > 0)
				s1 += x * log(x / mm);
			if (y > 0)
				s1 += y * log(y / mm);
			break;
		}
		case K_DIST_MINKOWSKI:
			if (isinf(o->p)) {
				if (wf > 0 && ad > s1)
					s1 = ad;
			} else {
				s1 += wf * pow(ad, o->p);
			}
			break;
		default:
			break;
		}
	}
	switch (m) {
	case K_DIST_BRAYCURTIS:
		return s1 / s2;
	case K_DIST_EUCLIDEAN:
	case K_DIST_SEUCLIDEAN:
		return sqrt(s1);
	case K_DIST_HAMMING:
		return s1 / s2;
	case K_DIST_JENSENSHANNON:
		return sqrt(s1 / 2.0);
	case K_DIST_MINKOWSKI:
		return isinf(o->p) ? s1 : pow(s1, 1.0 / o->p);
	case K_DIST_DICE:
		return (ntf + nft) / (2.0 * ntt + ntf + nft);
	case K_DIST_JACCARD:
		return ntt + ntf + nft != 0 ? (ntf + nft) / (ntt + ntf + nft) : 0.0;
	case K_DIST_ROGERSTANIMOTO:
		return 2.0 * (ntf + nft) / (ntt + nff + 2.0 * (ntf + nft));
	case K_DIST_RUSSELLRAO: {
		double n = ntt + ntf + nft + nff;
		return (n - ntt) / n;
	}
	case K_DIST_SOKALSNEATH:
		return 2.0 * (ntf + nft) / (ntt + 2.0 * (ntf + nft));
	case K_DIST_YULE: {
		double half_r = ntf * nft;
		return half_r == 0 ? 0.0 : 2.0 * half_r / (ntt * nff + half_r);
	}
	default:
		return s1;
	}
}

/* ---- Instruction sets ---- */

enum isa { ISA_SCALAR, ISA_PORTABLE, ISA_AVX2, ISA_AVX512 };

static enum isa isa_best(void)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		return ISA_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return ISA_AVX2;
#endif
	return ISA_PORTABLE;
}

static enum isa isa_pick(enum k_dist_isa want)
{
	enum isa best = isa_best();
	switch (want) {
	case K_DIST_ISA_SCALAR:
		return ISA_SCALAR;
	case K_DIST_ISA_PORTABLE:
		return ISA_PORTABLE;
	case K_DIST_ISA_AVX2:
		return best < ISA_AVX2 ? best : ISA_AVX2;
	default:
		return best;
	}
}

/* ---- Scratch: one carving function per engine sizes it (p == NULL) and hands it out ---- */

struct carve {
	char *p; /* NULL: only count */
	size_t used;
};

static void *carve(struct carve *c, size_t bytes)
{
	size_t at = (c->used + 63) & ~(size_t)63;
	c->used = at + bytes;
	return c->p ? c->p + at : NULL;
}

#define CARVE(c, n, type) ((type *)carve((c), (size_t)(n) * sizeof(type)))

/* ---- Reading rows ---- */

/* The whole job of one k_dist_map call. */
struct job {
	int metric;
	double p;
	enum isa isa;
	const struct k_dist_rows *a, *b;
	int64_t na, nb, nf;
	const double *w; /* NULL: unweighted */
	bool same;
	double *st; /* statistics, stat-major */
	int64_t np; /* na * nb */
};

static inline bool is_i8(const struct k_dist_rows *x)
{
	return x->type == K_DIST_I8;
}

/* Row r, features [f0, f0 + n) as doubles, NaN where missing: the caller's
 * memory for K_DIST_F64, else converted into @tmp. */
static const double *row_f64(const struct k_dist_rows *x, int64_t r, int64_t f0, int64_t n, double *tmp)
{
	if (!is_i8(x))
		return (const double *)x->data + r * x->ld + f0;
	const int8_t *p = (const int8_t *)x->data + r * x->ld + f0;
	for (int64_t f = 0; f < n; f++)
		tmp[f] = p[f] < 0 ? NAN : (double)p[f];
	return tmp;
}

static inline const int8_t *row_i8(const struct k_dist_rows *x, int64_t r, int64_t f0)
{
	return (const int8_t *)x->data + r * x->ld + f0;
}

/* Whether rows [0, rows) of @x have a missing value among features [f0, f0 + n). */
static bool has_missing(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n)
{
	for (int64_t r = 0; r < rows; r++) {
		int any = 0;
		if (is_i8(x)) {
			const int8_t *p = row_i8(x, r, f0);
			for (int64_t f = 0; f < n; f++)
				any |= p[f] < 0;
		} else {
			const double *p = (const double *)x->data + r * x->ld + f0;
			for (int64_t f = 0; f < n; f++)
				any |= p[f] != p[f];
		}
		if (any)
			return true;
	}
	return false;
}

static bool job_missing(const struct job *j, int64_t f0, int64_t n)
{
	return has_missing(j->a, j->na, f0, n) || (!j->same && has_missing(j->b, j->nb, f0, n));
}

/* The largest value among rows [0, rows) of an int8 block (missing ones, negative, ignored). */
static int i8_max(const struct k_dist_rows *x, int64_t rows, int64_t nf)
{
	int mx = 0;
	for (int64_t r = 0; r < rows; r++) {
		const int8_t *p = row_i8(x, r, 0);
		int8_t m = 0;
		for (int64_t f = 0; f < nf; f++)
			m = p[f] > m ? p[f] : m;
		mx = m > mx ? m : mx;
	}
	return mx;
}

/* An 8-lane sum (the lanes vectorize, the order is fixed). */
static double lane_sum(const double *x, int64_t n)
{
	double s[8] = { 0 };
	int64_t f = 0;
	for (; f + 8 <= n; f += 8)
		for (int l = 0; l < 8; l++)
			s[l] += x[f + l];
	double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
	for (; f < n; f++)
		t += x[f];
	return t;
}

static double lane_dot(const double *x, const double *y, int64_t n)
{
	double s[8] = { 0 };
	int64_t f = 0;
	for (; f + 8 <= n; f += 8)
		for (int l = 0; l < 8; l++)
			s[l] += x[f + l] * y[f + l];
	double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
	for (; f < n; f++)
		t += x[f] * y[f];
	return t;
}

/* Weights of features [f0, f0 + n) (1 when unweighted) and their square roots. */
static void piece_weights(const struct job *j, int64_t f0, int64_t n, double *w, double *sw)
{
	for (int64_t f = 0; f < n; f++) {
		w[f] = j->w ? j->w[f0 + f] : 1.0;
		if (sw)
			sw[f] = sqrt(w[f]);
	}
}

/* ---- BLAS (row-major; B is used transposed: C = alpha A B^T + beta C) ---- */

static void gemm_d(int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda, const double *b,
		   int64_t ldb, double *c, int64_t ldc)
{
	if (m > 0 && n > 0 && k > 0)
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
			    (int)ldb, 1.0, c, (int)ldc);
}

/* The upper triangle of C += alpha A A^T. */
static void syrk_d(int64_t n, int64_t k, double alpha, const double *a, int64_t lda, double *c, int64_t ldc)
{
	if (n > 0 && k > 0)
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)k, alpha, a, (int)lda, 1.0, c,
			    (int)ldc);
}

static void gemm_f(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
		   int64_t ldb, float beta, float *c, int64_t ldc)
{
	if (m > 0 && n > 0 && k > 0)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
			    (int)ldb, beta, c, (int)ldc);
}

static void syrk_f(int64_t n, int64_t k, float alpha, const float *a, int64_t lda, float beta, float *c, int64_t ldc)
{
	if (n > 0 && k > 0)
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)k, alpha, a, (int)lda, beta, c,
			    (int)ldc);
}

/* ---- Mirroring a diagonal tile ---- */

/* Pairs (s, r), s > r, get pair (r, s)'s statistics with a and b swapped; a pair (r, r)
 * gets its a-side statistics on the b side too. */
static void mirror(int m, double *st, int64_t n)
{
	enum { B = 32 };
	int64_t np = n * n;
	for (int t = 0; t < kdm_n_stats(m); t++) {
		const double *src = st + t * np;
		double *dst = st + kdm_partner(m, t) * np;
		if (kdm_partner(m, t) > t) /* pair (r, r): a's version for both (b's differs by rounding) */
			for (int64_t r = 0; r < n; r++)
				dst[r * n + r] = src[r * n + r];
		for (int64_t r0 = 0; r0 < n; r0 += B)
			for (int64_t s0 = r0; s0 < n; s0 += B)
				for (int64_t r = r0; r < r0 + B && r < n; r++)
					for (int64_t s = s0 > r + 1 ? s0 : r + 1; s < s0 + B && s < n; s++)
						dst[s * n + r] = src[r * n + s];
	}
}

/* ---- The scalar engine: dist_math.h one feature at a time (the CUDA kernel's shape) ---- */

static void map_scalar(const struct job *j, double *tmp_a, double *tmp_b)
{
	for (int64_t r = 0; r < j->na; r++) {
		const double *u = row_f64(j->a, r, 0, j->nf, tmp_a);
		for (int64_t s = j->same ? r : 0; s < j->nb; s++) {
			const double *v = row_f64(j->b, s, 0, j->nf, tmp_b);
			double sv[KDM_MAX_STATS];
			int64_t k = r * j->nb + s;
			kdm_load(j->metric, sv, j->st, k, j->np);
			for (int64_t f = 0; f < j->nf; f++)
				kdm_update(j->metric, j->p, sv, u[f], v[f], j->w ? j->w[f] : 1.0,
					   u[f] != u[f] || v[f] != v[f]);
			kdm_store(j->metric, sv, j->st, k, j->np);
		}
	}
}

static void carve_scalar(struct carve *c, const struct job *j, double **ta, double **tb)
{
	*ta = CARVE(c, j->nf, double);
	*tb = CARVE(c, j->nf, double);
}

/* ---- Tiles: the job the per-ISA tile loops run, and what a tile's sums mean ---- */

enum tile_kind {
	TK_L1,	     /* [0] sum w|a-b| */
	TK_LP3,	     /* [0] sum w|a-b|^3 (minkowski p = 3) */
	TK_LINF,     /* [0] max |a-b| over w > 0 */
	TK_BRAY,     /* [0] sum w|a-b|  [1] sum w|a+b| */
	TK_CANB,     /* [0] sum w|a-b|/(|a|+|b|), reciprocal estimate + Newton */
	TK_CANB_DIV, /* the same with a true division (values the estimate cannot take) */
	TK_HAMM,     /* [0] sum w[a != b]  (missing: [1] sum w over shared) */
	TK_BOOLW,    /* [0] ntt [1] ntf [2] nft, each summed directly (never by subtraction: yule's
			ntf nft = 0 test needs exact zeros)  (missing: [3] sum w over shared) */
};

ALWAYS_INLINE int tk_nacc(int kind, int miss)
{
	if (kind == TK_BRAY || (kind == TK_HAMM && miss))
		return 2;
	if (kind == TK_BOOLW)
		return miss ? 4 : 3;
	return 1;
}

struct tile_job {
	int kind, miss;
	const double *a, *b; /* rows of the piece: a + r * lda, features [0, k) */
	int64_t lda, ldb, k;
	const double *w; /* k weights (ones when unweighted) */
	int64_t na, nb;
	bool same;
	/* what tile_emit needs */
	int metric;
	double *st;
	int64_t np;
	const double *rsa, *rsb; /* braycurtis on a non-negative piece: each row's sum w x */
	double wsum;		 /* sum of the piece's weights */
};

/* Adds a tile's sums res[n][i][j] (nr x ns pairs at (r0, s0)) to the statistics. */
static void tile_emit(const struct tile_job *t, int64_t r0, int64_t s0, int nr, int ns, const double *res)
{
	int64_t np = t->np, stride = (int64_t)nr * ns;
	double *st = t->st + r0 * t->nb + s0;
	switch (t->kind) {
	case TK_L1:
	case TK_LP3:
	case TK_CANB:
	case TK_CANB_DIV:
		for (int i = 0; i < nr; i++)
			for (int jj = 0; jj < ns; jj++)
				st[i * t->nb + jj] += res[i * ns + jj];
		if (t->kind == TK_L1 && t->metric == K_DIST_BRAYCURTIS) /* non-negative piece: |a+b| = a + b */
			for (int i = 0; i < nr; i++)
				for (int jj = 0; jj < ns; jj++)
					st[np + i * t->nb + jj] += t->rsa[r0 + i] + t->rsb[s0 + jj];
		break;
	case TK_LINF:
		for (int i = 0; i < nr; i++)
			for (int jj = 0; jj < ns; jj++) {
				double v = res[i * ns + jj], *d = &st[i * t->nb + jj];
				*d = v > *d ? v : *d;
			}
		break;
	case TK_BRAY:
	case TK_HAMM:
		for (int i = 0; i < nr; i++)
			for (int jj = 0; jj < ns; jj++) {
				st[i * t->nb + jj] += res[i * ns + jj];
				st[np + i * t->nb + jj] += t->kind == TK_HAMM && !t->miss ? t->wsum : res[stride + i * ns + jj];
			}
		break;
	case TK_BOOLW:
		for (int i = 0; i < nr; i++)
			for (int jj = 0; jj < ns; jj++) {
				int64_t k = (r0 + i) * t->nb + s0 + jj;
				const double *v = res + i * ns + jj;
				double s4[KDM_MAX_STATS], ntt = v[0], ntf = v[stride], nft = v[2 * stride];
				double n = t->miss ? v[3 * stride] : t->wsum;
				kdm_load(t->metric, s4, t->st, k, np);
				kdm_bool_add(t->metric, s4, ntt, ntf, nft, ((n - ntt) - ntf) - nft);
				kdm_store(t->metric, s4, t->st, k, np);
			}
		break;
	default:
		break;
	}
}

/* One pair at a time (jensenshannon, minkowski with general p): stat 0 += the piece's sum. */
struct row_job {
	const double *a, *b, *la, *lb; /* rows; la/lb: log of a/b (jensenshannon) */
	int64_t lda, ldb, k;
	const double *w;
	double p;
	int64_t na, nb;
	bool same;
	double *st0;
	double *tmp; /* k doubles */
};

/* ---- Branch-free log and exp that GCC vectorizes (the row loops use them) ---- */

ALWAYS_INLINE uint64_t dbits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

ALWAYS_INLINE double bitsd(uint64_t u)
{
	double x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/*
 * kd_log() : natural log for x > 0 finite and normal, within 1 ulp (the
 * classic fdlibm reduction: x = 2^k (1 + f) with 1 + f in [sqrt(2)/2,
 * sqrt(2)), log(1 + f) from s = f / (2 + f) and a polynomial in s^2). The
 * exponent goes to double through the 2^52 trick, so AVX2 needs no 64-bit
 * integer conversion. Anything else gives a finite wrong value, for the
 * caller to mask.
 */
ALWAYS_INLINE double kd_log(double x)
{
	const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
	const double lg1 = 6.666666666666735130e-01, lg2 = 3.999999999940941908e-01, lg3 = 2.857142874366239149e-01,
		     lg4 = 2.222219843214978396e-01, lg5 = 1.818357216161805012e-01, lg6 = 1.531383769920937332e-01,
		     lg7 = 1.479819860511658591e-01;
	uint64_t u = dbits(x) + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
	double dk = bitsd(0x4330000000000000ull | (u >> 52)) - (4503599627370496.0 + 1023.0);
	double f = bitsd((u & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull) - 1.0;
	double hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, ww = z * z;
	double t1 = ww * (lg2 + ww * (lg4 + ww * lg6)), t2 = z * (lg1 + ww * (lg3 + ww * (lg5 + ww * lg7)));
	double r = t2 + t1;
	return s * (hfsq + r) + dk * ln2_lo - hfsq + f + dk * ln2_hi;
}

/* 2^k for integer-valued k in [-1022, 1023], through the 1.5 * 2^52 trick. */
ALWAYS_INLINE double kd_pow2i(double k)
{
	uint64_t u = dbits(k + 6755399441055744.0) - 0x4338000000000000ull;
	return bitsd((u + 1023) << 52);
}

/* kd_exp() : e^x within a few ulp; inf above 709.78; 0 below -708 (results under 3.3e-308:
 * subnormal arithmetic is a hundred times slower, and such terms vanish in any sum of normal ones). */
ALWAYS_INLINE double kd_exp(double x)
{
	const double inv_ln2 = 1.44269504088896338700e+00, ln2_hi = 6.93147180369123816490e-01,
		     ln2_lo = 1.90821492927058770002e-10;
	double x0 = x;
	x = x < -708.0 ? -708.0 : x > 710.0 ? 710.0 : x;
	double k = __builtin_rint(x * inv_ln2); /* |r| <= ln2 / 2 */
	double r = (x - k * ln2_hi) - k * ln2_lo;
	/* Taylor to r^12 (the remainder is below 2e-16), by Estrin's scheme: a short dependency chain */
	double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
	double q0 = 1.0 + r, q1 = 0.5 + r * (1.0 / 6), q2 = 1.0 / 24 + r * (1.0 / 120),
	       q3 = 1.0 / 720 + r * (1.0 / 5040), q4 = 1.0 / 40320 + r * (1.0 / 362880),
	       q5 = 1.0 / 3628800 + r * (1.0 / 39916800), q6 = 1.0 / 479001600;
	double s0 = q0 + r2 * q1, s1 = q2 + r2 * q3, s2 = q4 + r2 * q5;
	double pr = (s0 + r4 * s1) + r8 * (s2 + r4 * q6);
	double k1 = __builtin_floor(k * 0.5), k2 = k - k1; /* two factors: 2^1024 must overflow to inf */
	return x0 < -708.0 ? 0.0 : pr * kd_pow2i(k1) * kd_pow2i(k2);
}

/* ---- Per-ISA kernels (the template at the end of this file) ---- */

struct isa_fns {
	void (*tiles)(const struct tile_job *t);
	void (*log_rows)(const double *x, int64_t ld, int64_t rows, int64_t k, double *out, int64_t ldo);
	void (*js_pairs)(const struct row_job *r);
	void (*pow_pairs)(const struct row_job *r);
	double canb_lo, canb_hi; /* |values| the reciprocal estimate takes (besides 0) */
};

#if defined(__x86_64__)
#define DIST_TEMPLATE 1
#include "distance.c"
#undef DIST_TEMPLATE
#define DIST_TEMPLATE 2
#include "distance.c"
#undef DIST_TEMPLATE
#endif
#define DIST_TEMPLATE 3
#include "distance.c"
#undef DIST_TEMPLATE

static const struct isa_fns *isa_fns(enum isa isa)
{
#if defined(__x86_64__)
	static const struct isa_fns f512 = { tiles_avx512, log_rows_avx512, js_pairs_avx512, pow_pairs_avx512,
					     0x1p-1000, 0x1p1000 };
	static const struct isa_fns f2 = { tiles_avx2, log_rows_avx2, js_pairs_avx2, pow_pairs_avx2, 0x1p-60,
					   0x1p60 };
	if (isa == ISA_AVX512)
		return &f512;
	if (isa == ISA_AVX2)
		return &f2;
#endif
	static const struct isa_fns fp = { tiles_portable, log_rows_portable, js_pairs_portable, pow_pairs_portable,
					   0x1p-1000, 0x1p1000 };
	return &fp;
}

/* ---- The tile engine ---- */

struct tile_bufs {
	uint8_t *ma, *mb;  /* int8 cityblock: whether each row has a missing value */
	double *ca, *cb;   /* int8 rows converted: PIECE_T doubles per row */
	double *w;	   /* the piece's weights */
	double *rsa, *rsb; /* per-row sums */
	double *la, *lb;   /* jensenshannon: logs of the piece */
	double *tmp;
};

static void carve_tiles(struct carve *c, int64_t na, int64_t nb, bool logs, struct tile_bufs *t)
{
	t->ma = CARVE(c, na, uint8_t);
	t->mb = CARVE(c, nb, uint8_t);
	t->ca = CARVE(c, na * PIECE_T, double);
	t->cb = CARVE(c, nb * PIECE_T, double);
	t->w = CARVE(c, PIECE_T, double);
	t->rsa = CARVE(c, na, double);
	t->rsb = CARVE(c, nb, double);
	t->la = logs ? CARVE(c, na * PIECE_T, double) : NULL;
	t->lb = logs ? CARVE(c, nb * PIECE_T, double) : NULL;
	t->tmp = CARVE(c, PIECE_T, double);
}

/* Rows of a block for features [f0, f0 + n) as doubles: the caller's memory or a converted copy. */
static const double *piece_rows(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n, double *buf,
				int64_t *ld)
{
	if (!is_i8(x)) {
		*ld = x->ld;
		return (const double *)x->data + f0;
	}
	for (int64_t r = 0; r < rows; r++)
		row_f64(x, r, f0, n, buf + r * PIECE_T);
	*ld = PIECE_T;
	return buf;
}

/* Whether every value (missing ones aside) lies in [lo, hi] or is 0. */
static bool in_range(const double *x, int64_t ld, int64_t rows, int64_t n, double lo, double hi)
{
	for (int64_t r = 0; r < rows; r++) {
		int bad = 0;
		for (int64_t f = 0; f < n; f++) {
			double v = fabs(x[r * ld + f]);
			bad |= v != 0 && (v < lo || v > hi) && v == v;
		}
		if (bad)
			return false;
	}
	return true;
}

static bool all_nonneg(const double *x, int64_t ld, int64_t rows, int64_t n)
{
	for (int64_t r = 0; r < rows; r++) {
		int neg = 0;
		for (int64_t f = 0; f < n; f++)
			neg |= !(x[r * ld + f] >= 0); /* NaN too */
		if (neg)
			return false;
	}
	return true;
}

static bool has_missing_rows(const double *x, int64_t ld, int64_t rows, int64_t n)
{
	for (int64_t r = 0; r < rows; r++) {
		int any = 0;
		for (int64_t f = 0; f < n; f++)
			any |= x[r * ld + f] != x[r * ld + f];
		if (any)
			return true;
	}
	return false;
}

/* jensenshannon's fast loop takes values >= 0 (or missing); rel_entr of a negative is inf. */
static bool all_nonneg_or_nan(const double *x, int64_t ld, int64_t rows, int64_t n)
{
	for (int64_t r = 0; r < rows; r++) {
		int neg = 0;
		for (int64_t f = 0; f < n; f++)
			neg |= x[r * ld + f] < 0;
		if (neg)
			return false;
	}
	return true;
}

/* Each row's sum w x. */
static void row_sums(const double *x, int64_t ld, int64_t rows, int64_t n, const double *w, double *out)
{
	for (int64_t r = 0; r < rows; r++)
		out[r] = lane_dot(x + r * ld, w, n);
}

/* A piece of the scalar engine: for values the fast kernels do not take (jensenshannon's negatives). */
static void piece_scalar(const struct job *j, const double *a, int64_t lda, const double *b, int64_t ldb,
			 int64_t f0, int64_t n)
{
	for (int64_t r = 0; r < j->na; r++)
		for (int64_t s = j->same ? r : 0; s < j->nb; s++) {
			double sv[KDM_MAX_STATS];
			int64_t k = r * j->nb + s;
			kdm_load(j->metric, sv, j->st, k, j->np);
			for (int64_t f = 0; f < n; f++) {
				double x = a[r * lda + f], y = b[s * ldb + f];
				kdm_update(j->metric, j->p, sv, x, y, j->w ? j->w[f0 + f] : 1.0, x != x || y != y);
			}
			kdm_store(j->metric, sv, j->st, k, j->np);
		}
}

/*
 * ---- Cityblock on int8 rows, on the bytes themselves ----
 *
 * The sum of absolute differences instruction (psadbw) adds |a - b| over
 * eight unsigned bytes into a 64-bit lane, so an L1 distance costs two
 * instructions per 64 (AVX-512) or 32 (AVX2) features of a pair, against
 * eight doubles a vector in the tile engine. Missing values (negative
 * bytes) are zeroed in both rows of the pair where either has one, which
 * adds nothing, as skipping the feature would; values 0..127 are then the
 * same signed or unsigned. Sums are exact integers until converted.
 * Tiles of L1_TR x L1_TS pairs over L1_FB features, with L1_SB rows of B
 * at a time, keep what a tile reads in L1 and the rows of B in L2.
 */
#define L1_TR 4
#define L1_TS 4
#define L1_FB 4096
#define L1_SB 128

/* Whether row r of x has a negative (missing) byte in [0, nf). */
static bool i8_row_missing(const struct k_dist_rows *x, int64_t r, int64_t nf)
{
	const int8_t *p = (const int8_t *)x->data + r * x->ld;
	int neg = 0;
	for (int64_t f = 0; f < nf; f++)
		neg |= p[f] < 0;
	return neg;
}

/* The tile's row pointers: rows past the end repeat the last one, whose results are dropped. */
static void l1_rows(const struct k_dist_rows *x, int64_t r0, int64_t n, int64_t f0, int cnt, const int8_t **out)
{
	for (int i = 0; i < cnt; i++) {
		int64_t r = r0 + i < n ? r0 + i : n - 1;
		out[i] = (const int8_t *)x->data + r * x->ld + f0;
	}
}

/* Adds the tile's sums to the statistics: the first @ns columns of pairs
 * (r0 + i, s0 + k) that exist and, for rows against themselves, lie on or
 * above the diagonal. */
static void l1_emit(const struct job *j, int64_t r0, int64_t s0, int64_t ns, const uint64_t sum[L1_TR][L1_TS])
{
	for (int i = 0; i < L1_TR && r0 + i < j->na; i++)
		for (int k = 0; k < L1_TS && k < ns; k++)
			if (!j->same || s0 + k >= r0 + i)
				j->st[(r0 + i) * j->nb + s0 + k] += (double)sum[i][k];
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw"))) static void
l1_tile_avx512(const int8_t *const *a, const int8_t *const *b, int64_t n, bool miss, uint64_t sum[L1_TR][L1_TS])
{
	__m512i acc[L1_TR][L1_TS];
	for (int i = 0; i < L1_TR; i++)
		for (int k = 0; k < L1_TS; k++)
			acc[i][k] = _mm512_setzero_si512();
	for (int64_t f = 0; f < n; f += 64) {
		__mmask64 ld = n - f >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - f)) - 1;
		__m512i va[L1_TR], vb[L1_TS];
		for (int i = 0; i < L1_TR; i++)
			va[i] = _mm512_maskz_loadu_epi8(ld, a[i] + f);
		for (int k = 0; k < L1_TS; k++)
			vb[k] = _mm512_maskz_loadu_epi8(ld, b[k] + f);
		if (!miss) {
			for (int i = 0; i < L1_TR; i++)
				for (int k = 0; k < L1_TS; k++)
					acc[i][k] = _mm512_add_epi64(acc[i][k], _mm512_sad_epu8(va[i], vb[k]));
			continue;
		}
		for (int i = 0; i < L1_TR; i++)
			for (int k = 0; k < L1_TS; k++) {
				__mmask64 keep = ~_mm512_movepi8_mask(_mm512_or_si512(va[i], vb[k]));
				__m512i x = _mm512_maskz_mov_epi8(keep, va[i]), y = _mm512_maskz_mov_epi8(keep, vb[k]);
				acc[i][k] = _mm512_add_epi64(acc[i][k], _mm512_sad_epu8(x, y));
			}
	}
	for (int i = 0; i < L1_TR; i++)
		for (int k = 0; k < L1_TS; k++)
			sum[i][k] = (uint64_t)_mm512_reduce_add_epi64(acc[i][k]);
}

__attribute__((target("avx2"))) static void l1_tile_avx2(const int8_t *const *a, const int8_t *const *b, int64_t n,
							 bool miss, uint64_t sum[L1_TR][L1_TS])
{
	__m256i acc[L1_TR][L1_TS];
	for (int i = 0; i < L1_TR; i++)
		for (int k = 0; k < L1_TS; k++)
			acc[i][k] = _mm256_setzero_si256();
	const __m256i zero = _mm256_setzero_si256();
	int64_t f = 0;
	for (; f + 32 <= n; f += 32) {
		__m256i va[L1_TR], vb[L1_TS];
		for (int i = 0; i < L1_TR; i++)
			va[i] = _mm256_loadu_si256((const __m256i *)(a[i] + f));
		for (int k = 0; k < L1_TS; k++)
			vb[k] = _mm256_loadu_si256((const __m256i *)(b[k] + f));
		for (int i = 0; i < L1_TR; i++)
			for (int k = 0; k < L1_TS; k++) {
				__m256i x = va[i], y = vb[k];
				if (miss) {
					__m256i gone = _mm256_cmpgt_epi8(zero, _mm256_or_si256(x, y));
					x = _mm256_andnot_si256(gone, x);
					y = _mm256_andnot_si256(gone, y);
				}
				acc[i][k] = _mm256_add_epi64(acc[i][k], _mm256_sad_epu8(x, y));
			}
	}
	for (int i = 0; i < L1_TR; i++)
		for (int k = 0; k < L1_TS; k++) {
			uint64_t l[4];
			_mm256_storeu_si256((__m256i *)l, acc[i][k]);
			uint64_t t = l[0] + l[1] + l[2] + l[3];
			for (int64_t g = f; g < n; g++) { /* the last < 32 features */
				int x = a[i][g], y = b[k][g];
				if (x >= 0 && y >= 0)
					t += (uint64_t)(x > y ? x - y : y - x);
			}
			sum[i][k] = t;
		}
}
#endif

/* Whether this job takes the byte engine: unweighted L1 on int8 rows, on a CPU with psadbw vectors. */
static bool l1_i8_takes(const struct job *j)
{
	return (j->metric == K_DIST_CITYBLOCK || (j->metric == K_DIST_MINKOWSKI && j->p == 1.0)) && !j->w &&
	       is_i8(j->a) && is_i8(j->b) && (j->isa == ISA_AVX512 || j->isa == ISA_AVX2);
}

static void map_l1_i8(const struct job *j, const struct tile_bufs *tb)
{
#if defined(__x86_64__)
	for (int64_t r = 0; r < j->na; r++)
		tb->ma[r] = i8_row_missing(j->a, r, j->nf);
	const uint8_t *mb = tb->ma;
	if (!j->same) {
		for (int64_t s = 0; s < j->nb; s++)
			tb->mb[s] = i8_row_missing(j->b, s, j->nf);
		mb = tb->mb;
	}
	const struct k_dist_rows *b = j->same ? j->a : j->b;
	for (int64_t f0 = 0; f0 < j->nf; f0 += L1_FB) {
		int64_t n = j->nf - f0 < L1_FB ? j->nf - f0 : L1_FB;
		for (int64_t sb = 0; sb < j->nb; sb += L1_SB) {
			int64_t se = sb + L1_SB < j->nb ? sb + L1_SB : j->nb;
			for (int64_t r0 = 0; r0 < j->na; r0 += L1_TR) {
				if (j->same && r0 >= se)
					break; /* the rest lies below the diagonal */
				const int8_t *ra[L1_TR];
				l1_rows(j->a, r0, j->na, f0, L1_TR, ra);
				bool ma = false;
				for (int i = 0; i < L1_TR && r0 + i < j->na; i++)
					ma |= tb->ma[r0 + i];
				int64_t s_first = sb;
				if (j->same && r0 > sb)
					s_first = sb + (r0 - sb) / L1_TS * L1_TS;
				for (int64_t s0 = s_first; s0 < se; s0 += L1_TS) {
					const int8_t *rb[L1_TS];
					l1_rows(b, s0, se, f0, L1_TS, rb);
					bool miss = ma;
					for (int k = 0; k < L1_TS && s0 + k < se; k++)
						miss |= mb[s0 + k];
					uint64_t sum[L1_TR][L1_TS];
					if (j->isa == ISA_AVX512)
						l1_tile_avx512(ra, rb, n, miss, sum);
					else
						l1_tile_avx2(ra, rb, n, miss, sum);
					l1_emit(j, r0, s0, se - s0, sum);
				}
			}
		}
	}
#else
	(void)j;
	(void)tb;
#endif
}

static void map_tiles(const struct job *j, const struct tile_bufs *tb)
{
	const struct isa_fns *fn = isa_fns(j->isa);
	int m = j->metric;
	if (l1_i8_takes(j)) {
		map_l1_i8(j, tb);
		return;
	}
	bool rowloop = m == K_DIST_JENSENSHANNON ||
		       (m == K_DIST_MINKOWSKI && j->p != 1.0 && j->p != 3.0 && !isinf(j->p));
	for (int64_t f0 = 0; f0 < j->nf; f0 += PIECE_T) {
		int64_t n = j->nf - f0 < PIECE_T ? j->nf - f0 : PIECE_T, lda, ldb;
		const double *a = piece_rows(j->a, j->na, f0, n, tb->ca, &lda);
		const double *b = j->same ? a : piece_rows(j->b, j->nb, f0, n, tb->cb, &ldb);
		if (j->same)
			ldb = lda;
		piece_weights(j, f0, n, tb->w, NULL);
		if (rowloop) {
			struct row_job rj = { .a = a, .b = b, .lda = lda, .ldb = ldb, .k = n, .w = tb->w, .p = j->p,
					      .na = j->na, .nb = j->nb, .same = j->same, .st0 = j->st, .tmp = tb->tmp };
			if (m == K_DIST_JENSENSHANNON) {
				if (!all_nonneg_or_nan(a, lda, j->na, n) ||
				    (!j->same && !all_nonneg_or_nan(b, ldb, j->nb, n))) {
					piece_scalar(j, a, lda, b, ldb, f0, n);
					continue;
				}
				fn->log_rows(a, lda, j->na, n, tb->la, PIECE_T);
				if (!j->same)
					fn->log_rows(b, ldb, j->nb, n, tb->lb, PIECE_T);
				rj.la = tb->la;
				rj.lb = j->same ? tb->la : tb->lb;
				fn->js_pairs(&rj);
			} else {
				fn->pow_pairs(&rj);
			}
			continue;
		}
		struct tile_job t = { .a = a, .b = b, .lda = lda, .ldb = ldb, .k = n, .w = tb->w, .na = j->na,
				      .nb = j->nb, .same = j->same, .metric = m, .st = j->st, .np = j->np,
				      .rsa = tb->rsa, .rsb = j->same ? tb->rsa : tb->rsb };
		t.miss = has_missing_rows(a, lda, j->na, n) || (!j->same && has_missing_rows(b, ldb, j->nb, n));
		t.wsum = lane_sum(tb->w, n);
		switch (m) {
		case K_DIST_CITYBLOCK:
			t.kind = TK_L1;
			break;
		case K_DIST_MINKOWSKI:
			t.kind = j->p == 1.0 ? TK_L1 : j->p == 3.0 ? TK_LP3 : TK_LINF;
			break;
		case K_DIST_CHEBYSHEV:
			t.kind = TK_LINF;
			break;
		case K_DIST_BRAYCURTIS:
			t.kind = TK_BRAY;
			if (!t.miss && all_nonneg(a, lda, j->na, n) && (j->same || all_nonneg(b, ldb, j->nb, n))) {
				t.kind = TK_L1;
				row_sums(a, lda, j->na, n, tb->w, tb->rsa);
				if (!j->same)
					row_sums(b, ldb, j->nb, n, tb->w, tb->rsb);
			}
			break;
		case K_DIST_CANBERRA:
			t.kind = in_range(a, lda, j->na, n, fn->canb_lo, fn->canb_hi) &&
						 (j->same || in_range(b, ldb, j->nb, n, fn->canb_lo, fn->canb_hi))
					 ? TK_CANB
					 : TK_CANB_DIV;
			break;
		case K_DIST_HAMMING:
			t.kind = TK_HAMM;
			break;
		default: /* weighted boolean metrics */
			t.kind = TK_BOOLW;
			break;
		}
		fn->tiles(&t);
	}
}

/* ---- Bit counts: unweighted boolean metrics ---- */

#define BITS_W (PIECE_BITS / 64) /* words per row of a piece */

struct bits_bufs {
	uint64_t *va, *pa, *vb, *pb; /* value (present and nonzero) and presence bits, BITS_W words per row */
	double *rca, *rcb;	     /* per row: count of true values */
	uint8_t *fv, *fp;	     /* one row's value and presence flags, PIECE_BITS each */
};

static void carve_bits(struct carve *c, int64_t na, int64_t nb, struct bits_bufs *b)
{
	b->va = CARVE(c, na * BITS_W, uint64_t);
	b->pa = CARVE(c, na * BITS_W, uint64_t);
	b->vb = CARVE(c, nb * BITS_W, uint64_t);
	b->pb = CARVE(c, nb * BITS_W, uint64_t);
	b->rca = CARVE(c, na, double);
	b->rcb = CARVE(c, nb, double);
	b->fv = CARVE(c, PIECE_BITS, uint8_t);
	b->fp = CARVE(c, PIECE_BITS, uint8_t);
}

/* Eight 0/1 bytes -> eight bits, byte k to bit k: the products land on distinct bits, no carries. */
static inline uint64_t pack8(const uint8_t *b)
{
	uint64_t x;
	memcpy(&x, b, sizeof x);
	return (x * 0x0102040810204080ull) >> 56;
}

/* Packs features [f0, f0 + n) of each row into words, through 0/1 flag bytes (a loop GCC
 * vectorizes). @return whether any value is missing. */
static bool pack_bits(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n, uint64_t *val,
		      uint64_t *pres, double *rc, uint8_t *fv, uint8_t *fp)
{
	int64_t nw = (n + 63) / 64;
	bool miss = false;
	memset(fv + n, 0, (size_t)(nw * 64 - n));
	memset(fp + n, 0, (size_t)(nw * 64 - n));
	for (int64_t r = 0; r < rows; r++) {
		uint64_t *v = val + r * BITS_W, *p = pres + r * BITS_W;
		if (is_i8(x)) {
			const int8_t *q = row_i8(x, r, f0);
			for (int64_t f = 0; f < n; f++) {
				fv[f] = q[f] > 0;
				fp[f] = q[f] >= 0;
			}
		} else {
			const double *q = (const double *)x->data + r * x->ld + f0;
			for (int64_t f = 0; f < n; f++) {
				fv[f] = q[f] != 0 && q[f] == q[f];
				fp[f] = q[f] == q[f];
			}
		}
		int64_t count = 0;
		for (int64_t wd = 0; wd < nw; wd++) {
			uint64_t vv = 0, pp = 0;
			for (int k = 0; k < 8; k++) {
				vv |= pack8(fv + wd * 64 + 8 * k) << (8 * k);
				pp |= pack8(fp + wd * 64 + 8 * k) << (8 * k);
			}
			v[wd] = vv;
			p[wd] = pp;
			count += __builtin_popcountll(vv);
			int64_t cnt = n - wd * 64 < 64 ? n - wd * 64 : 64;
			if (pp != (cnt == 64 ? ~0ull : (1ull << cnt) - 1))
				miss = true;
		}
		rc[r] = (double)count;
	}
	return miss;
}

struct bits_job {
	const uint64_t *va, *pa, *vb, *pb;
	const double *rca, *rcb;
	int64_t nw, na, nb, n; /* words, rows, features in the piece */
	int miss;
	bool same;
	int metric;
	double *st;
	int64_t np;
};

static void bits_emit(const struct bits_job *j, int64_t r, int64_t s, uint64_t tt, uint64_t ta, uint64_t tb,
		      uint64_t n)
{
	double sv[KDM_MAX_STATS], dtt = (double)tt, dta, dtb, dn;
	if (j->miss) {
		dta = (double)ta;
		dtb = (double)tb;
		dn = (double)n;
	} else {
		dta = j->rca[r];
		dtb = j->rcb[s];
		dn = (double)j->n;
	}
	int64_t k = r * j->nb + s;
	kdm_load(j->metric, sv, j->st, k, j->np);
	kdm_bool_add(j->metric, sv, dtt, dta - dtt, dtb - dtt, ((dn - dta) - dtb) + dtt);
	kdm_store(j->metric, sv, j->st, k, j->np);
}

/* The pair loop, compiled three times: with AVX-512 VPOPCNTDQ (GCC vectorizes the
 * popcount sums), with the popcnt instruction, and plain. */
#define BITS_PAIRS_BODY                                                                                 \
	for (int64_t r = 0; r < j->na; r++) {                                                           \
		const uint64_t *a = j->va + r * BITS_W, *pa = j->pa + r * BITS_W;                       \
		for (int64_t s = j->same ? r : 0; s < j->nb; s++) {                                    \
			const uint64_t *b = j->vb + s * BITS_W, *pb = j->pb + s * BITS_W;               \
			uint64_t tt = 0, ta = 0, tb = 0, n = 0;                                         \
			if (j->miss) {                                                                  \
				for (int64_t wd = 0; wd < j->nw; wd++) {                                \
					tt += (uint64_t)__builtin_popcountll(a[wd] & b[wd]);            \
					ta += (uint64_t)__builtin_popcountll(a[wd] & pb[wd]);           \
					tb += (uint64_t)__builtin_popcountll(pa[wd] & b[wd]);           \
					n += (uint64_t)__builtin_popcountll(pa[wd] & pb[wd]);           \
				}                                                                       \
			} else {                                                                        \
				for (int64_t wd = 0; wd < j->nw; wd++)                                  \
					tt += (uint64_t)__builtin_popcountll(a[wd] & b[wd]);            \
			}                                                                               \
			bits_emit(j, r, s, tt, ta, tb, n);                                              \
		}                                                                                       \
	}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vpopcntdq,popcnt") K_ATTR_OPT("O3"))) static void
bits_pairs_vpopcnt(const struct bits_job *j)
{
	BITS_PAIRS_BODY
}

__attribute__((target("popcnt") K_ATTR_OPT("O3"))) static void bits_pairs_popcnt(const struct bits_job *j)
{
	BITS_PAIRS_BODY
}
#endif

static void bits_pairs_plain(const struct bits_job *j)
{
	BITS_PAIRS_BODY
}

static void map_bits(const struct job *j, const struct bits_bufs *bb)
{
	void (*pairs)(const struct bits_job *) = bits_pairs_plain;
#if defined(__x86_64__)
	if (j->isa == ISA_AVX512 && __builtin_cpu_supports("avx512vpopcntdq"))
		pairs = bits_pairs_vpopcnt;
	else if (j->isa >= ISA_AVX2 && __builtin_cpu_supports("popcnt"))
		pairs = bits_pairs_popcnt;
#endif
	for (int64_t f0 = 0; f0 < j->nf; f0 += PIECE_BITS) {
		int64_t n = j->nf - f0 < PIECE_BITS ? j->nf - f0 : PIECE_BITS;
		bool miss = pack_bits(j->a, j->na, f0, n, bb->va, bb->pa, bb->rca, bb->fv, bb->fp);
		if (!j->same)
			miss |= pack_bits(j->b, j->nb, f0, n, bb->vb, bb->pb, bb->rcb, bb->fv, bb->fp);
		struct bits_job bj = { .va = bb->va, .pa = bb->pa, .vb = j->same ? bb->va : bb->vb,
				       .pb = j->same ? bb->pa : bb->pb, .rca = bb->rca,
				       .rcb = j->same ? bb->rca : bb->rcb, .nw = (n + 63) / 64, .na = j->na,
				       .nb = j->nb, .n = n, .miss = miss, .same = j->same, .metric = j->metric,
				       .st = j->st, .np = j->np };
		pairs(&bj);
	}
}

/* ---- GEMM engines: euclidean family, cosine, correlation ---- */

struct gemm_bufs {
	double *opa, *opb;		/* double operands, PIECE_D per row */
	float *fa, *fb;			/* float operands (int8), PIECE_F per row: the same memory */
	float *cf;			/* na x nb float accumulator of an exact int8 run */
	double *x;			/* euclidean: na x nb, this call's sum w (a-b)^2 before the checks */
	double *col, *cnt, *w, *sw, *tmp, *tmp2; /* per piece */
	double *ra1, *ra2, *rb1, *rb2;	/* per-row sums over this call */
	int64_t *ia1, *ia2, *ib1, *ib2; /* the same, exact, for int8 */
	double *sha, *shb;		/* correlation: each row's shift (mean) */
	double *t;			/* masked correlation: 6 x rb x nb accumulators */
	int64_t rb;			/* rows per block of t */
};

static void carve_gemm(struct carve *c, int metric, int64_t na, int64_t nb, bool weighted, struct gemm_bufs *g)
{
	size_t dbytes = (size_t)(na + nb) * PIECE_D * sizeof(double);
	size_t fbytes = weighted ? 0 : (size_t)(na + nb) * PIECE_F * sizeof(float);
	char *ops = carve(c, dbytes > fbytes ? dbytes : fbytes);
	g->opa = (double *)(void *)ops;
	g->opb = ops ? g->opa + na * PIECE_D : NULL;
	g->fa = (float *)(void *)ops;
	g->fb = ops ? g->fa + na * PIECE_F : NULL;
	/* euclidean's double accumulator (the call's contribution, checked before it is added)
	 * and the int8 float accumulator are never used by one call together */
	if (metric != K_DIST_CORRELATION && metric != K_DIST_COSINE) {
		g->x = CARVE(c, na * nb, double);
		g->cf = (float *)(void *)g->x;
	} else {
		g->x = NULL;
		g->cf = weighted ? NULL : CARVE(c, na * nb, float);
	}
	g->tmp2 = CARVE(c, PIECE_D, double);
	g->col = CARVE(c, PIECE_D, double);
	g->cnt = CARVE(c, PIECE_D, double);
	g->w = CARVE(c, PIECE_D, double);
	g->sw = CARVE(c, PIECE_D, double);
	g->tmp = CARVE(c, PIECE_D, double);
	g->ra1 = CARVE(c, na, double);
	g->ra2 = CARVE(c, na, double);
	g->rb1 = CARVE(c, nb, double);
	g->rb2 = CARVE(c, nb, double);
	g->ia1 = CARVE(c, na, int64_t);
	g->ia2 = CARVE(c, na, int64_t);
	g->ib1 = CARVE(c, nb, int64_t);
	g->ib2 = CARVE(c, nb, int64_t);
	g->sha = g->shb = NULL;
	g->t = NULL;
	g->rb = 0;
	if (metric == K_DIST_CORRELATION) {
		g->sha = CARVE(c, na, double);
		g->shb = CARVE(c, nb, double);
		int64_t rb = (int64_t)(CORR_T_BYTES / (6 * sizeof(double) * (size_t)nb));
		g->rb = rb < 1 ? 1 : rb > na ? na : rb;
		g->t = CARVE(c, 6 * g->rb * nb, double);
	}
}

/* C += alpha A B^T for all pairs, or for the row blocks on and right of the diagonal of a
 * diagonal tile (what mirror() reads). A, B: row-major with k columns; C: the statistics' layout. */
static void gemm_pairs_d(const struct job *j, int64_t k, const double *a, const double *b, double *c)
{
	if (!j->same) {
		gemm_d(j->na, j->nb, k, 1.0, a, k, b, k, c, j->nb);
		return;
	}
	for (int64_t r0 = 0; r0 < j->na; r0 += 256) {
		int64_t rb = j->na - r0 < 256 ? j->na - r0 : 256;
		gemm_d(rb, j->nb - r0, k, 1.0, a + r0 * k, k, b + r0 * k, k, c + r0 * j->nb + r0, j->nb);
	}
}

static void gemm_pairs_f(const struct job *j, int64_t k, const float *a, const float *b, float beta, float *c)
{
	if (!j->same) {
		gemm_f(j->na, j->nb, k, 1.0f, a, k, b, k, beta, c, j->nb);
		return;
	}
	for (int64_t r0 = 0; r0 < j->na; r0 += 256) {
		int64_t rb = j->na - r0 < 256 ? j->na - r0 : 256;
		gemm_f(rb, j->nb - r0, k, 1.0f, a + r0 * k, k, b + r0 * k, k, beta, c + r0 * j->nb + r0, j->nb);
	}
}

/*
 * An exact int8 run: float GEMMs accumulate into cf until one more piece could
 * take a partial sum past 2^24; then cf is added to a double statistic. Every
 * product and partial sum of a run is an integer of magnitude at most
 * run_len * (max_a + max_b)^2, which bounds all three forms used here
 * (a b, -2 a b, and the masked a^2 m + m b^2 - 2 a b).
 */
struct f32run {
	int64_t cap, used;
	bool live;
};

static struct f32run run_start(const struct job *j)
{
	int ma = i8_max(j->a, j->na, j->nf), mb = j->same ? ma : i8_max(j->b, j->nb, j->nf);
	double s = (double)(ma + mb) * (double)(ma + mb);
	struct f32run run = { .cap = s > 0 ? (int64_t)(F32_EXACT / s) : INT64_MAX, .used = 0, .live = false };
	return run;
}

static void run_flush(const struct job *j, const struct gemm_bufs *g, struct f32run *run, int slot)
{
	if (!run->live)
		return;
	double *st = j->st + slot * j->np;
	for (int64_t r = 0; r < j->na; r++)
		for (int64_t s = j->same ? r : 0; s < j->nb; s++)
			st[r * j->nb + s] += (double)g->cf[r * j->nb + s];
	run->live = false;
	run->used = 0;
}

/* Makes room for @n features in the run. @return the beta for the next GEMM into cf. */
static float run_take(const struct job *j, const struct gemm_bufs *g, struct f32run *run, int64_t n, int slot)
{
	if (run->used + n > run->cap)
		run_flush(j, g, run, slot);
	float beta = run->live ? 1.0f : 0.0f;
	run->live = true;
	run->used += n;
	return beta;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void zero_rows(const struct gemm_bufs *g, int64_t na, int64_t nb)
{
	memset(g->ra1, 0, (size_t)na * sizeof(double));
	memset(g->ra2, 0, (size_t)na * sizeof(double));
	memset(g->rb1, 0, (size_t)nb * sizeof(double));
	memset(g->rb2, 0, (size_t)nb * sizeof(double));
	memset(g->ia1, 0, (size_t)na * sizeof(int64_t));
	memset(g->ia2, 0, (size_t)na * sizeof(int64_t));
	memset(g->ib1, 0, (size_t)nb * sizeof(int64_t));
	memset(g->ib2, 0, (size_t)nb * sizeof(int64_t));
}

/* Float copies of int8 features [f0, f0 + n) (no missing values) with exact row sums. */
static void build_f(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n, float *op, int64_t *s1,
		    int64_t *s2)
{
	for (int64_t r = 0; r < rows; r++) {
		const int8_t *q = row_i8(x, r, f0);
		float *o = op + r * n;
		int64_t a1 = 0, a2 = 0;
		for (int64_t f = 0; f < n; f++) {
			o[f] = (float)q[f];
			a1 += q[f];
			a2 += q[f] * q[f];
		}
		s1[r] += a1;
		s2[r] += a2;
	}
}

/* Adds per-row terms to every computed pair: st_a[k] += ra[r], st_b[k] += rb[s] (st_b may equal st_a). */
static void add_rows(const struct job *j, double *st_a, const double *ra, double *st_b, const double *rb)
{
	for (int64_t r = 0; r < j->na; r++)
		for (int64_t s = j->same ? r : 0; s < j->nb; s++) {
			int64_t k = r * j->nb + s;
			if (st_a == st_b) {
				st_a[k] += ra[r] + rb[s];
			} else {
				st_a[k] += ra[r];
				st_b[k] += rb[s];
			}
		}
}

static void i64_to_f64(const int64_t *x, double *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = (double)x[i];
}

/* -- euclidean, sqeuclidean, seuclidean, minkowski p = 2: stat 0 = sum w (a-b)^2 -- */

/* Columns centred on their mean over A's rows, times sqrt(w); row norms into @norm2. */
static void eu_build_d(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n, const double *col,
		       const double *sw, double *op, double *norm2, double *tmp)
{
	for (int64_t r = 0; r < rows; r++) {
		const double *xr = row_f64(x, r, f0, n, tmp);
		double *o = op + r * n;
		for (int64_t f = 0; f < n; f++)
			o[f] = (xr[f] - col[f]) * sw[f];
		norm2[r] += lane_dot(o, o, n);
	}
}

/* col[f] = the mean over A's rows of feature f0 + f, present values only (0 if none). */
static void col_means(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n)
{
	for (int64_t f = 0; f < n; f++)
		g->col[f] = g->cnt[f] = 0;
	for (int64_t r = 0; r < j->na; r++) {
		const double *x = row_f64(j->a, r, f0, n, g->tmp);
		for (int64_t f = 0; f < n; f++) {
			int ok = x[f] == x[f];
			g->col[f] += ok ? x[f] : 0.0;
			g->cnt[f] += ok;
		}
	}
	for (int64_t f = 0; f < n; f++)
		g->col[f] = g->cnt[f] > 0 ? g->col[f] / g->cnt[f] : 0.0;
}

static void eu_unmasked_d(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n)
{
	piece_weights(j, f0, n, g->w, g->sw);
	col_means(j, g, f0, n);
	eu_build_d(j->a, j->na, f0, n, g->col, g->sw, g->opa, g->ra2, g->tmp);
	if (j->same) {
		syrk_d(j->na, n, -2.0, g->opa, n, g->x, j->nb);
		return;
	}
	eu_build_d(j->b, j->nb, f0, n, g->col, g->sw, g->opb, g->rb2, g->tmp);
	gemm_d(j->na, j->nb, n, -2.0, g->opa, n, g->opb, n, g->x, j->nb);
}

/* Masked: [d^2 w | m w | -2 d w] . [m | d^2 | d] over shared features, d = x - col (0 if missing). */
static void eu_masked_d(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n)
{
	piece_weights(j, f0, n, g->w, NULL);
	col_means(j, g, f0, n);
	const double *w = g->w, *col = g->col;
	for (int64_t r = 0; r < j->na; r++) {
		const double *x = row_f64(j->a, r, f0, n, g->tmp);
		double *o = g->opa + r * 3 * n;
		for (int64_t f = 0; f < n; f++) {
			int ok = x[f] == x[f];
			double d = ok ? x[f] - col[f] : 0.0;
			o[f] = d * d * w[f];
			o[n + f] = ok ? w[f] : 0.0;
			o[2 * n + f] = -2.0 * d * w[f];
		}
		g->ra1[r] += lane_sum(o, n);
	}
	const struct k_dist_rows *xb = j->same ? j->a : j->b;
	for (int64_t s = 0; s < j->nb; s++) {
		const double *x = row_f64(xb, s, f0, n, g->tmp);
		double *o = g->opb + s * 3 * n;
		for (int64_t f = 0; f < n; f++) {
			int ok = x[f] == x[f];
			double d = ok ? x[f] - col[f] : 0.0;
			o[f] = ok ? 1.0 : 0.0;
			o[n + f] = d * d;
			o[2 * n + f] = d;
		}
		g->rb1[s] += lane_dot(o + n, w, n);
	}
	gemm_pairs_d(j, 3 * n, g->opa, g->opb, g->x);
}

/* sum w (a-b)^2 over the call's shared features of rows r and s, straight from the definition. */
static double eu_direct(const struct job *j, const struct gemm_bufs *g, int64_t r, int64_t s)
{
	const struct k_dist_rows *xb = j->same ? j->a : j->b;
	double sum = 0;
	for (int64_t f0 = 0; f0 < j->nf; f0 += PIECE_D) {
		int64_t n = min64(PIECE_D, j->nf - f0);
		const double *x = row_f64(j->a, r, f0, n, g->tmp), *y = row_f64(xb, s, f0, n, g->tmp2);
		double part[8] = { 0 };
		int64_t f = 0;
		for (; f + 8 <= n; f += 8)
			for (int l = 0; l < 8; l++) {
				double d = x[f + l] - y[f + l], t = (j->w ? j->w[f0 + f + l] : 1.0) * (d * d);
				part[l] += t == t ? t : 0.0; /* missing: NaN */
			}
		for (; f < n; f++) {
			double d = x[f] - y[f], t = (j->w ? j->w[f0 + f] : 1.0) * (d * d);
			part[0] += t == t ? t : 0.0;
		}
		sum += ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
	}
	return sum;
}

/*
 * Adds the call's contributions to the statistics. The expanded form's
 * rounding error is a few ulps of |a - c|^2 + |b - c|^2 (c: the column
 * centres), so a pair whose sum is within EU_RECHECK of that is recomputed
 * from the definition: near-duplicate rows keep 1e-10 relative accuracy, and
 * identical rows get exactly 0, as scipy gives them.
 */
#define EU_RECHECK 1e-4
static void eu_finish_d(const struct job *j, const struct gemm_bufs *g, bool unmasked)
{
	const double *ra2 = g->ra2, *rb2 = j->same ? g->ra2 : g->rb2, *ra1 = g->ra1, *rb1 = j->same ? g->ra1 : g->rb1;
	for (int64_t r = 0; r < j->na; r++)
		for (int64_t s = j->same ? r : 0; s < j->nb; s++) {
			int64_t k = r * j->nb + s;
			double c = g->x[k] + (unmasked ? ra2[r] + rb2[s] : 0.0);
			if (!(c > EU_RECHECK * ((ra2[r] + ra1[r]) + (rb2[s] + rb1[s]))))
				c = eu_direct(j, g, r, s);
			j->st[k] += c;
		}
}

static void eu_unmasked_f(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n, float beta)
{
	build_f(j->a, j->na, f0, n, g->fa, g->ia1, g->ia2);
	if (j->same) {
		syrk_f(j->na, n, -2.0f, g->fa, n, beta, g->cf, j->nb);
		return;
	}
	build_f(j->b, j->nb, f0, n, g->fb, g->ib1, g->ib2);
	gemm_f(j->na, j->nb, n, -2.0f, g->fa, n, g->fb, n, beta, g->cf, j->nb);
}

static void eu_masked_f(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n, float beta)
{
	for (int64_t r = 0; r < j->na; r++) {
		const int8_t *q = row_i8(j->a, r, f0);
		float *o = g->fa + r * 3 * n;
		for (int64_t f = 0; f < n; f++) {
			int ok = q[f] >= 0;
			float d = ok ? (float)q[f] : 0.0f;
			o[f] = d * d;
			o[n + f] = (float)ok;
			o[2 * n + f] = -2.0f * d;
		}
	}
	const struct k_dist_rows *xb = j->same ? j->a : j->b;
	for (int64_t s = 0; s < j->nb; s++) {
		const int8_t *q = row_i8(xb, s, f0);
		float *o = g->fb + s * 3 * n;
		for (int64_t f = 0; f < n; f++) {
			int ok = q[f] >= 0;
			float d = ok ? (float)q[f] : 0.0f;
			o[f] = (float)ok;
			o[n + f] = d * d;
			o[2 * n + f] = d;
		}
	}
	gemm_pairs_f(j, 3 * n, g->fa, g->fb, beta, g->cf);
}

static void map_eu(const struct job *j, const struct gemm_bufs *g, bool f32)
{
	zero_rows(g, j->na, j->nb);
	if (!f32)
		memset(g->x, 0, (size_t)j->np * sizeof(double));
	bool unmasked = false;
	struct f32run run = f32 ? run_start(j) : (struct f32run){ 0, 0, false };
	for (int64_t f0 = 0; f0 < j->nf;) {
		int64_t win = min64(f32 ? min64(PIECE_F, run.cap) : PIECE_D, j->nf - f0);
		if (!job_missing(j, f0, win)) {
			unmasked = true;
			if (f32)
				eu_unmasked_f(j, g, f0, win, run_take(j, g, &run, win, 0));
			else
				eu_unmasked_d(j, g, f0, win);
			f0 += win;
		} else {
			int64_t n = min64(f32 ? PIECE_FM : PIECE_DM, win);
			if (f32)
				eu_masked_f(j, g, f0, n, run_take(j, g, &run, n, 0));
			else
				eu_masked_d(j, g, f0, n);
			f0 += n;
		}
	}
	if (!f32) {
		eu_finish_d(j, g, unmasked);
		return;
	}
	run_flush(j, g, &run, 0);
	i64_to_f64(g->ia2, g->ra2, j->na);
	i64_to_f64(j->same ? g->ia2 : g->ib2, g->rb2, j->nb);
	if (unmasked) /* exact integers: nothing to check */
		add_rows(j, j->st, g->ra2, j->st, j->same ? g->ra2 : g->rb2);
}

/* -- cosine: stats sum w ab, sum w a^2, sum w b^2 -- */

/* x sqrt(w) with row norms (cosine is scale-safe: nothing to centre). */
static void cos_build_d(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n, const double *sw,
			double *op, double *norm2, double *tmp)
{
	for (int64_t r = 0; r < rows; r++) {
		const double *xr = row_f64(x, r, f0, n, tmp);
		double *o = op + r * n;
		for (int64_t f = 0; f < n; f++)
			o[f] = xr[f] * sw[f];
		norm2[r] += lane_dot(o, o, n);
	}
}

static void cos_unmasked_d(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n)
{
	double *st = j->st;
	if (!is_i8(j->a) && !j->w) { /* the caller's rows as they are */
		const struct k_dist_rows *xa = j->a, *xb = j->same ? j->a : j->b;
		const double *a = (const double *)xa->data + f0, *b = (const double *)xb->data + f0;
		for (int64_t r = 0; r < j->na; r++)
			g->ra2[r] += lane_dot(a + r * xa->ld, a + r * xa->ld, n);
		if (j->same) {
			syrk_d(j->na, n, 1.0, a, xa->ld, st, j->nb);
			return;
		}
		for (int64_t s = 0; s < j->nb; s++)
			g->rb2[s] += lane_dot(b + s * xb->ld, b + s * xb->ld, n);
		gemm_d(j->na, j->nb, n, 1.0, a, xa->ld, b, xb->ld, st, j->nb);
		return;
	}
	piece_weights(j, f0, n, g->w, g->sw);
	cos_build_d(j->a, j->na, f0, n, g->sw, g->opa, g->ra2, g->tmp);
	if (j->same) {
		syrk_d(j->na, n, 1.0, g->opa, n, st, j->nb);
		return;
	}
	cos_build_d(j->b, j->nb, f0, n, g->sw, g->opb, g->rb2, g->tmp);
	gemm_d(j->na, j->nb, n, 1.0, g->opa, n, g->opb, n, st, j->nb);
}

/* Masked: (a0 w).b0, (a0^2 w).m_b, (m_a w).b0^2 over shared features (a0: 0 where missing). */
static void cos_masked_d(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n)
{
	piece_weights(j, f0, n, g->w, NULL);
	int64_t na = j->na, nb = j->nb;
	for (int64_t r = 0; r < na; r++) {
		const double *x = row_f64(j->a, r, f0, n, g->tmp);
		double *p0 = g->opa + r * n, *p1 = p0 + na * n, *p2 = p1 + na * n;
		for (int64_t f = 0; f < n; f++) {
			int ok = x[f] == x[f];
			double v = ok ? x[f] : 0.0;
			p0[f] = v * g->w[f];
			p1[f] = v * v * g->w[f];
			p2[f] = ok ? g->w[f] : 0.0;
		}
	}
	const struct k_dist_rows *xb = j->same ? j->a : j->b;
	for (int64_t s = 0; s < nb; s++) {
		const double *x = row_f64(xb, s, f0, n, g->tmp);
		double *q0 = g->opb + s * n, *q1 = q0 + nb * n, *q2 = q1 + nb * n;
		for (int64_t f = 0; f < n; f++) {
			int ok = x[f] == x[f];
			double v = ok ? x[f] : 0.0;
			q0[f] = v;
			q1[f] = ok ? 1.0 : 0.0;
			q2[f] = v * v;
		}
	}
	for (int t = 0; t < 3; t++)
		gemm_pairs_d(j, n, g->opa + t * na * n, g->opb + t * nb * n, j->st + t * j->np);
}

static void cos_unmasked_f(const struct job *j, const struct gemm_bufs *g, int64_t f0, int64_t n, float beta)
{
	build_f(j->a, j->na, f0, n, g->fa, g->ia1, g->ia2);
	if (j->same) {
		syrk_f(j->na, n, 1.0f, g->fa, n, beta, g->cf, j->nb);
		return;
	}
	build_f(j->b, j->nb, f0, n, g->fb, g->ib1, g->ib2);
	gemm_f(j->na, j->nb, n, 1.0f, g->fa, n, g->fb, n, beta, g->cf, j->nb);
}

static void map_cos(const struct job *j, const struct gemm_bufs *g, bool f32)
{
	zero_rows(g, j->na, j->nb);
	bool unmasked = false;
	struct f32run run = f32 ? run_start(j) : (struct f32run){ 0, 0, false };
	for (int64_t f0 = 0; f0 < j->nf;) {
		int64_t win = min64(f32 ? min64(PIECE_F, run.cap) : PIECE_D, j->nf - f0);
		if (!job_missing(j, f0, win)) {
			unmasked = true;
			if (f32)
				cos_unmasked_f(j, g, f0, win, run_take(j, g, &run, win, 0));
			else
				cos_unmasked_d(j, g, f0, win);
			f0 += win;
		} else { /* int8 too: three outputs, so straight into the double statistics */
			int64_t n = min64(PIECE_DM, win);
			cos_masked_d(j, g, f0, n);
			f0 += n;
		}
	}
	if (f32) {
		run_flush(j, g, &run, 0);
		i64_to_f64(g->ia2, g->ra2, j->na);
		i64_to_f64(j->same ? g->ia2 : g->ib2, g->rb2, j->nb);
	}
	if (unmasked)
		add_rows(j, j->st + j->np, g->ra2, j->st + 2 * j->np, j->same ? g->ra2 : g->rb2);
}

/* -- correlation: Chan's (W, mean a, mean b, M2a, M2b, C) -- */

/* Merges the statistics @s of this call's features into pair k's. */
static void corr_merge(const struct job *j, int64_t k, double *s)
{
	double d[KDM_MAX_STATS];
	kdm_load(K_DIST_CORRELATION, d, j->st, k, j->np);
	kdm_correlation_combine(d, s);
	kdm_store(K_DIST_CORRELATION, d, j->st, k, j->np);
}

/* Each row's w-weighted mean over the call's features (present ones: nanmean when @masked). */
static void row_means(const struct job *j, const struct gemm_bufs *g, const struct k_dist_rows *x, int64_t rows,
		      double *mean)
{
	for (int64_t r = 0; r < rows; r++) {
		double s = 0, c = 0;
		for (int64_t f0 = 0; f0 < j->nf; f0 += PIECE_D) {
			int64_t n = min64(PIECE_D, j->nf - f0);
			const double *xr = row_f64(x, r, f0, n, g->tmp);
			for (int64_t f = 0; f < n; f++) {
				double wf = j->w ? j->w[f0 + f] : 1.0;
				int ok = xr[f] == xr[f];
				s += ok ? wf * xr[f] : 0.0;
				c += ok ? wf : 0.0;
			}
		}
		mean[r] = c > 0 ? s / c : 0.0;
	}
}

/* Rows centred on their means, times sqrt(w); sums of w(x - mean) and w(x - mean)^2 per row. */
static void corr_build_d(const struct k_dist_rows *x, int64_t rows, int64_t f0, int64_t n, const double *mean,
			 const double *sw, double *op, double *s1, double *s2, double *tmp)
{
	for (int64_t r = 0; r < rows; r++) {
		const double *xr = row_f64(x, r, f0, n, tmp);
		double *o = op + r * n;
		for (int64_t f = 0; f < n; f++)
			o[f] = (xr[f] - mean[r]) * sw[f];
		s1[r] += lane_dot(o, sw, n);
		s2[r] += lane_dot(o, o, n);
	}
}

static void corr_unmasked(const struct job *j, const struct gemm_bufs *g, bool f32)
{
	int64_t na = j->na, nb = j->nb;
	double *st5 = j->st + 5 * j->np;
	zero_rows(g, na, nb);
	if (f32) { /* exact integer sums: C = sum ab - sum a sum b / n */
		struct f32run run = run_start(j);
		for (int64_t f0 = 0; f0 < j->nf;) {
			int64_t n = min64(min64(PIECE_F, run.cap), j->nf - f0);
			float beta = run_take(j, g, &run, n, 5);
			build_f(j->a, na, f0, n, g->fa, g->ia1, g->ia2);
			if (j->same) {
				syrk_f(na, n, 1.0f, g->fa, n, beta, g->cf, nb);
			} else {
				build_f(j->b, nb, f0, n, g->fb, g->ib1, g->ib2);
				gemm_f(na, nb, n, 1.0f, g->fa, n, g->fb, n, beta, g->cf, nb);
			}
			f0 += n;
		}
		run_flush(j, g, &run, 5);
		const int64_t *b1 = j->same ? g->ia1 : g->ib1, *b2 = j->same ? g->ia2 : g->ib2;
		double n = (double)j->nf;
		for (int64_t r = 0; r < na; r++)
			for (int64_t s = j->same ? r : 0; s < nb; s++) {
				double sa = (double)g->ia1[r], sb = (double)b1[s];
				double saa = (double)g->ia2[r], sbb = (double)b2[s];
				int64_t k = r * nb + s;
				double sv[KDM_MAX_STATS] = { n,
							     sa / n,
							     sb / n,
							     (n * saa - sa * sa) / n,
							     (n * sbb - sb * sb) / n,
							     st5[k] - (sa * sb) / n };
				st5[k] = 0;
				corr_merge(j, k, sv);
			}
		return;
	}
	double wsum = 0;
	for (int64_t f = 0; f < j->nf; f++)
		wsum += j->w ? j->w[f] : 1.0;
	if (!(wsum > 0))
		return;
	row_means(j, g, j->a, na, g->sha);
	if (!j->same)
		row_means(j, g, j->b, nb, g->shb);
	for (int64_t f0 = 0; f0 < j->nf; f0 += PIECE_D) {
		int64_t n = min64(PIECE_D, j->nf - f0);
		piece_weights(j, f0, n, g->w, g->sw);
		corr_build_d(j->a, na, f0, n, g->sha, g->sw, g->opa, g->ra1, g->ra2, g->tmp);
		if (j->same) {
			syrk_d(na, n, 1.0, g->opa, n, st5, nb);
		} else {
			corr_build_d(j->b, nb, f0, n, g->shb, g->sw, g->opb, g->rb1, g->rb2, g->tmp);
			gemm_d(na, nb, n, 1.0, g->opa, n, g->opb, n, st5, nb);
		}
	}
	/* The rows' means were rounded: e = the mean of x - mean, a small correction. */
	const double *shb = j->same ? g->sha : g->shb, *b1 = j->same ? g->ra1 : g->rb1,
		     *b2 = j->same ? g->ra2 : g->rb2;
	for (int64_t r = 0; r < na; r++)
		for (int64_t s = j->same ? r : 0; s < nb; s++) {
			int64_t k = r * nb + s;
			double ea = g->ra1[r] / wsum, eb = b1[s] / wsum;
			double sv[KDM_MAX_STATS] = { wsum,
						     g->sha[r] + ea,
						     shb[s] + eb,
						     g->ra2[r] - wsum * (ea * ea),
						     b2[s] - wsum * (eb * eb),
						     st5[k] - wsum * (ea * eb) };
			st5[k] = 0;
			corr_merge(j, k, sv);
		}
}

/*
 * With missing values every pair has its own shared features, so its sums
 * come from masked GEMMs: n, sum a, sum a^2 = [m w; d w; d^2 w] . m,
 * sum b, sum b^2 = (m w) . [d; d^2], sum ab = (d w) . d, with d = x - the
 * row's mean (0 where missing), for a block of A's rows at a time.
 */
static void corr_masked(const struct job *j, const struct gemm_bufs *g)
{
	int64_t na = j->na, nb = j->nb;
	row_means(j, g, j->a, na, g->sha);
	if (!j->same)
		row_means(j, g, j->b, nb, g->shb);
	const double *shb = j->same ? g->sha : g->shb;
	const struct k_dist_rows *xb = j->same ? j->a : j->b;
	for (int64_t r0 = 0; r0 < na; r0 += g->rb) {
		int64_t rb = min64(g->rb, na - r0), c0 = j->same ? r0 : 0, nc = nb - c0;
		double *tn = g->t, *tb = tn + 3 * rb * nc, *tab = tn + 5 * rb * nc;
		memset(tn, 0, (size_t)(6 * rb * nc) * sizeof(double));
		for (int64_t f0 = 0; f0 < j->nf; f0 += PIECE_DM) {
			int64_t n = min64(PIECE_DM, j->nf - f0);
			piece_weights(j, f0, n, g->w, NULL);
			for (int64_t i = 0; i < rb; i++) {
				const double *x = row_f64(j->a, r0 + i, f0, n, g->tmp);
				double *om = g->opa + i * n, *od = om + rb * n, *od2 = od + rb * n;
				for (int64_t f = 0; f < n; f++) {
					int ok = x[f] == x[f];
					double d = ok ? x[f] - g->sha[r0 + i] : 0.0;
					om[f] = ok ? g->w[f] : 0.0;
					od[f] = d * g->w[f];
					od2[f] = d * d * g->w[f];
				}
			}
			for (int64_t c = 0; c < nc; c++) {
				const double *x = row_f64(xb, c0 + c, f0, n, g->tmp);
				double *om = g->opb + c * n, *od = om + nc * n, *od2 = od + nc * n;
				for (int64_t f = 0; f < n; f++) {
					int ok = x[f] == x[f];
					double d = ok ? x[f] - shb[c0 + c] : 0.0;
					om[f] = ok ? 1.0 : 0.0;
					od[f] = d;
					od2[f] = d * d;
				}
			}
			gemm_d(3 * rb, nc, n, 1.0, g->opa, n, g->opb, n, tn, nc);
			gemm_d(rb, 2 * nc, n, 1.0, g->opa, n, g->opb + nc * n, n, tb, 2 * nc);
			gemm_d(rb, nc, n, 1.0, g->opa + rb * n, n, g->opb + nc * n, n, tab, nc);
		}
		for (int64_t i = 0; i < rb; i++)
			for (int64_t c = 0; c < nc; c++) {
				int64_t r = r0 + i, s = c0 + c;
				double n = tn[i * nc + c];
				if ((j->same && s < r) || !(n > 0))
					continue;
				double sa = tn[(rb + i) * nc + c], saa = tn[(2 * rb + i) * nc + c];
				double sb = tb[i * 2 * nc + c], sbb = tb[i * 2 * nc + nc + c], sab = tab[i * nc + c];
				double sv[KDM_MAX_STATS] = { n,
							     g->sha[r] + sa / n,
							     shb[s] + sb / n,
							     saa - (sa * sa) / n,
							     sbb - (sb * sb) / n,
							     sab - (sa * sb) / n };
				corr_merge(j, r * nb + s, sv);
			}
	}
}

/* ---- Sizing and running ---- */

enum engine { ENG_SCALAR, ENG_EU, ENG_COS, ENG_CORR, ENG_BITS, ENG_TILES };

static enum engine engine_of(const struct k_dist_opts *o)
{
	int m = (int)o->metric;
	if (o->isa == K_DIST_ISA_SCALAR)
		return ENG_SCALAR;
	if (m == K_DIST_EUCLIDEAN || m == K_DIST_SQEUCLIDEAN || m == K_DIST_SEUCLIDEAN ||
	    (m == K_DIST_MINKOWSKI && o->p == 2.0))
		return ENG_EU;
	if (m == K_DIST_COSINE)
		return ENG_COS;
	if (m == K_DIST_CORRELATION)
		return ENG_CORR;
	if (kdm_is_bool(m) && !o->weighted)
		return ENG_BITS;
	return ENG_TILES;
}

/* The scratch of one call; sizing and k_dist_map carve it the same way. */
struct all_bufs {
	double *ta, *tb;
	struct gemm_bufs g;
	struct bits_bufs b;
	struct tile_bufs t;
};

static void carve_all(struct carve *c, const struct k_dist_opts *o, int64_t na, int64_t nb, int64_t nf,
		      struct all_bufs *u)
{
	switch (engine_of(o)) {
	case ENG_SCALAR:
		carve_scalar(c, &(struct job){ .nf = nf }, &u->ta, &u->tb);
		break;
	case ENG_EU:
	case ENG_COS:
	case ENG_CORR:
		carve_gemm(c, (int)o->metric, na, nb, o->weighted, &u->g);
		break;
	case ENG_BITS:
		carve_bits(c, na, nb, &u->b);
		break;
	case ENG_TILES:
		carve_tiles(c, na, nb, o->metric == K_DIST_JENSENSHANNON, &u->t);
		break;
	}
}

size_t k_dist_scratch_size(const struct k_dist_opts *o, int64_t na, int64_t nb, int64_t nf)
{
	if (na <= 0 || nb <= 0 || nf <= 0)
		return 0;
	struct carve c = { NULL, 0 };
	struct all_bufs u;
	carve_all(&c, o, na, nb, nf, &u);
	return c.used;
}

void k_dist_map(const struct k_dist_opts *o, const struct k_dist_rows *a, const struct k_dist_rows *b, int64_t nf,
		const double *w, bool same, double *stats, void *scratch)
{
	int64_t na = a->rows, nb = b->rows;
	if (na <= 0 || nb <= 0 || nf <= 0)
		return;
	int m = (int)o->metric;
	struct job j = { .metric = m,
			 .p = o->p,
			 .isa = isa_pick(o->isa),
			 .a = a,
			 .b = b,
			 .na = na,
			 .nb = nb,
			 .nf = nf,
			 .w = o->weighted && m != K_DIST_JENSENSHANNON ? w : NULL,
			 .same = same && na == nb,
			 .st = stats,
			 .np = na * nb };
	struct carve c = { scratch, 0 };
	struct all_bufs u;
	carve_all(&c, o, na, nb, nf, &u);
	/* exact float GEMMs for unweighted int8 (weights are not integers); correlation's
	 * integer products in double stay exact while nf is below ~7e5 */
	bool f32 = is_i8(a) && is_i8(b) && !o->weighted && (m != K_DIST_CORRELATION || nf <= 500000);
	switch (engine_of(o)) {
	case ENG_SCALAR:
		map_scalar(&j, u.ta, u.tb);
		break;
	case ENG_EU:
		map_eu(&j, &u.g, f32);
		break;
	case ENG_COS:
		map_cos(&j, &u.g, f32);
		break;
	case ENG_CORR:
		if (job_missing(&j, 0, nf))
			corr_masked(&j, &u.g);
		else
			corr_unmasked(&j, &u.g, f32);
		break;
	case ENG_BITS:
		map_bits(&j, &u.b);
		break;
	case ENG_TILES:
		map_tiles(&j, &u.t);
		break;
	}
	if (j.same)
		mirror(m, stats, na);
}

#else /* DIST_TEMPLATE: one instruction set's kernels; this file includes itself once per ISA */

/*
 * Each ISA's code is optimized at O3 (full unrolling keeps a tile's
 * accumulators in registers), with no-trapping-math (so GCC vectorizes the
 * row loops' selects) and fp-contract=fast: a*b + c becomes one fused
 * multiply-add where the ISA has one, a quarter fewer instructions in
 * kd_log/kd_exp. Results therefore differ between ISAs in the last bits;
 * nothing here promises more than scipy's accuracy, and symmetry does not
 * depend on it (diagonal tiles are mirrored, never computed twice).
 */

#if DIST_TEMPLATE == 1
K_ISA_BEGIN("avx512f,avx512dq,avx512bw,avx512vl,fma")
K_REGION_OPT("O3", "no-trapping-math", "fp-contract=fast")
#define FN(x) x##_avx512
#define VN 8 /* doubles per vector */
#define TR 4 /* tile: rows of A */
#define TS 4 /* tile: rows of B */
typedef __m512d vd_avx512;
typedef __mmask8 vm_avx512;
#define V_ZERO() _mm512_setzero_pd()
#define V_SET1(x) _mm512_set1_pd(x)
#define V_LD(p) _mm512_loadu_pd(p)
#define V_LDT(p, rem) _mm512_maskz_loadu_pd((__mmask8)((1u << (rem)) - 1), (p))
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_SUB(a, b) _mm512_sub_pd(a, b)
#define V_MUL(a, b) _mm512_mul_pd(a, b)
#define V_DIV(a, b) _mm512_div_pd(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_FNMA(a, b, c) _mm512_fnmadd_pd(a, b, c) /* c - a b */
#define V_ABS(a) _mm512_abs_pd(a)
#define V_RCP(a) _mm512_rcp14_pd(a) /* 14 bits */
#define V_HSUM(a) _mm512_reduce_add_pd(a)
#define V_HMAX(a) _mm512_reduce_max_pd(a)
#define M_ORD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_ORD_Q)
#define M_NE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_NEQ_OQ)
#define M_GT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define M_AND(a, b) ((__mmask8)((a) & (b)))
#define M_ANDN(a, b) ((__mmask8)((a) & ~(b))) /* a and not b */
#define V_MADD(acc, m, x) _mm512_mask_add_pd(acc, m, acc, x)	    /* acc + (m ? x : 0) */
#define V_MFMA(acc, m, a, b) _mm512_mask3_fmadd_pd(a, b, acc, m) /* m ? a b + acc : acc */
#define V_MMAX(acc, m, x) _mm512_mask_max_pd(acc, m, x, acc)	    /* NaN x leaves acc */

#elif DIST_TEMPLATE == 2
K_ISA_BEGIN("avx2,fma")
K_REGION_OPT("O3", "no-trapping-math", "fp-contract=fast")
#define FN(x) x##_avx2
#define VN 4
#define TR 2
#define TS 4
typedef __m256d vd_avx2;
typedef __m256d vm_avx2; /* all-ones lanes */
static inline double hsum_avx2(__m256d v)
{
	__m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
	return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static inline double hmax_avx2(__m256d v)
{
	__m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
	return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}
#define V_ZERO() _mm256_setzero_pd()
#define V_SET1(x) _mm256_set1_pd(x)
#define V_LD(p) _mm256_loadu_pd(p)
#define V_LDT(p, rem) \
	_mm256_maskload_pd((p), _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem), _mm256_setr_epi64x(0, 1, 2, 3)))
#define V_ADD(a, b) _mm256_add_pd(a, b)
#define V_SUB(a, b) _mm256_sub_pd(a, b)
#define V_MUL(a, b) _mm256_mul_pd(a, b)
#define V_DIV(a, b) _mm256_div_pd(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define V_FNMA(a, b, c) _mm256_fnmadd_pd(a, b, c)
#define V_ABS(a) _mm256_andnot_pd(_mm256_set1_pd(-0.0), a)
#define V_RCP(a) _mm256_cvtps_pd(_mm_rcp_ps(_mm256_cvtpd_ps(a))) /* 12 bits, float range */
#define V_HSUM(a) hsum_avx2(a)
#define V_HMAX(a) hmax_avx2(a)
#define M_ORD(a, b) _mm256_cmp_pd(a, b, _CMP_ORD_Q)
#define M_NE(a, b) _mm256_cmp_pd(a, b, _CMP_NEQ_OQ)
#define M_GT(a, b) _mm256_cmp_pd(a, b, _CMP_GT_OQ)
#define M_AND(a, b) _mm256_and_pd(a, b)
#define M_ANDN(a, b) _mm256_andnot_pd(b, a)
#define V_MADD(acc, m, x) _mm256_add_pd(acc, _mm256_and_pd(m, x))
#define V_MFMA(acc, m, a, b) _mm256_fmadd_pd(a, _mm256_and_pd(m, b), acc) /* a: a weight, never NaN */
#define V_MMAX(acc, m, x) _mm256_max_pd(_mm256_and_pd(m, x), acc)	      /* x >= 0 or NaN */

#else
K_OPT_BEGIN("O3", "no-trapping-math", "fp-contract=fast")
#define FN(x) x##_portable
#define VN 1
#define TR 2
#define TS 4
typedef double vd_portable;
typedef int vm_portable;
#define V_ZERO() 0.0
#define V_SET1(x) (x)
#define V_LD(p) (*(p))
#define V_ADD(a, b) ((a) + (b))
#define V_SUB(a, b) ((a) - (b))
#define V_MUL(a, b) ((a) * (b))
#define V_DIV(a, b) ((a) / (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_FNMA(a, b, c) ((c) - (a) * (b))
#define V_ABS(a) fabs(a)
#define V_RCP(a) (1.0 / (a))
#define V_HSUM(a) (a)
#define V_HMAX(a) (a)
#define M_ORD(a, b) ((a) == (a) && (b) == (b))
#define M_NE(a, b) ((a) != (b) && M_ORD(a, b))
#define M_GT(a, b) ((a) > (b))
#define M_AND(a, b) ((a) && (b))
#define M_ANDN(a, b) ((a) && !(b))
#define V_MADD(acc, m, x) ((m) ? (acc) + (x) : (acc))
#define V_MFMA(acc, m, a, b) ((m) ? (a) * (b) + (acc) : (acc))
#define V_MMAX(acc, m, x) ((m) && (x) > (acc) ? (x) : (acc))
#endif

#define VD FN(vd)
#define VM FN(vm)
#define UNROLL _Pragma("GCC unroll 8")

/* One vector of features for an R x S tile: the sums of tile kind KIND (enum tile_kind). */
static inline __attribute__((always_inline)) void FN(step)(const int KIND, const int MISS, const int R, const int S,
							   const VD *av, const VD *bv, VD wv, VD acc[4][TR][TS])
{
	const VD zero = V_ZERO();
	switch (KIND) {
	case TK_L1:
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			VD x = V_ABS(V_SUB(av[i], bv[s]));
			acc[0][i][s] = MISS ? V_MFMA(acc[0][i][s], M_ORD(av[i], bv[s]), wv, x) : V_FMA(wv, x, acc[0][i][s]);
		}
		break;
	case TK_LP3:
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			VD d = V_SUB(av[i], bv[s]), x = V_MUL(V_MUL(d, d), V_ABS(d));
			acc[0][i][s] = MISS ? V_MFMA(acc[0][i][s], M_ORD(av[i], bv[s]), wv, x) : V_FMA(wv, x, acc[0][i][s]);
		}
		break;
	case TK_LINF: {
		VM wpos = M_GT(wv, zero);
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			VD x = V_ABS(V_SUB(av[i], bv[s]));
			acc[0][i][s] = V_MMAX(acc[0][i][s], MISS ? M_AND(wpos, M_ORD(av[i], bv[s])) : wpos, x);
		}
		break;
	}
	case TK_BRAY:
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			VD d = V_ABS(V_SUB(av[i], bv[s])), t = V_ABS(V_ADD(av[i], bv[s]));
			if (MISS) {
				VM o = M_ORD(av[i], bv[s]);
				acc[0][i][s] = V_MFMA(acc[0][i][s], o, wv, d);
				acc[1][i][s] = V_MFMA(acc[1][i][s], o, wv, t);
			} else {
				acc[0][i][s] = V_FMA(wv, d, acc[0][i][s]);
				acc[1][i][s] = V_FMA(wv, t, acc[1][i][s]);
			}
		}
		break;
	case TK_CANB:
	case TK_CANB_DIV: {
		const VD one = V_SET1(1.0);
		VD aa[TR], ba[TS];
		UNROLL for (int i = 0; i < R; i++) aa[i] = V_ABS(av[i]);
		UNROLL for (int s = 0; s < S; s++) ba[s] = V_ABS(bv[s]);
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			VD num = V_MUL(V_ABS(V_SUB(av[i], bv[s])), wv), den = V_ADD(aa[i], ba[s]), q;
			if (KIND == TK_CANB_DIV) {
				q = V_DIV(num, den);
			} else { /* two Newton steps: 14 (12) bits -> 56 (48) */
				VD r = V_RCP(den);
				r = V_FMA(r, V_FNMA(den, r, one), r);
				r = V_FMA(r, V_FNMA(den, r, one), r);
				q = V_MUL(num, r);
			}
			acc[0][i][s] = V_MADD(acc[0][i][s], M_GT(den, zero), q); /* 0/0 and missing: left out */
		}
		break;
	}
	case TK_HAMM:
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			acc[0][i][s] = V_MADD(acc[0][i][s], M_NE(av[i], bv[s]), wv);
			if (MISS)
				acc[1][i][s] = V_MADD(acc[1][i][s], M_ORD(av[i], bv[s]), wv);
		}
		break;
	case TK_BOOLW: { /* t: present and nonzero; f: present and zero */
		VM ta[TR], tb[TS], fa[TR], fb[TS], pa[TR], pb[TS];
		UNROLL for (int i = 0; i < R; i++)
		{
			ta[i] = M_NE(av[i], zero);
			pa[i] = M_ORD(av[i], av[i]);
			fa[i] = M_ANDN(pa[i], ta[i]);
		}
		UNROLL for (int s = 0; s < S; s++)
		{
			tb[s] = M_NE(bv[s], zero);
			pb[s] = M_ORD(bv[s], bv[s]);
			fb[s] = M_ANDN(pb[s], tb[s]);
		}
		UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		{
			acc[0][i][s] = V_MADD(acc[0][i][s], M_AND(ta[i], tb[s]), wv);
			acc[1][i][s] = V_MADD(acc[1][i][s], M_AND(ta[i], fb[s]), wv);
			acc[2][i][s] = V_MADD(acc[2][i][s], M_AND(fa[i], tb[s]), wv);
			if (MISS)
				acc[3][i][s] = V_MADD(acc[3][i][s], M_AND(pa[i], pb[s]), wv);
		}
		break;
	}
	default:
		break;
	}
}

/* The sums of an R x S tile at rows (r0, s0) over the piece: res[(n R + i) S + s]. */
static inline __attribute__((always_inline)) void FN(tile)(const int KIND, const int MISS, const int R, const int S,
							   const struct tile_job *t, int64_t r0, int64_t s0,
							   double *res)
{
	const int nacc = tk_nacc(KIND, MISS);
	VD acc[4][TR][TS];
	UNROLL for (int n = 0; n < nacc; n++) UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		acc[n][i][s] = V_ZERO();
	const double *a = t->a + r0 * t->lda, *b = t->b + s0 * t->ldb;
	int64_t lda = t->lda, ldb = t->ldb, k = t->k, f = 0;
	for (; f + VN <= k; f += VN) {
		VD av[TR], bv[TS];
		UNROLL for (int i = 0; i < R; i++) av[i] = V_LD(a + i * lda + f);
		UNROLL for (int s = 0; s < S; s++) bv[s] = V_LD(b + s * ldb + f);
		FN(step)(KIND, MISS, R, S, av, bv, V_LD(t->w + f), acc);
	}
#if VN > 1
	if (f < k) { /* the tail: zeros of weight 0 add nothing to any sum */
		int rem = (int)(k - f);
		VD av[TR], bv[TS];
		UNROLL for (int i = 0; i < R; i++) av[i] = V_LDT(a + i * lda + f, rem);
		UNROLL for (int s = 0; s < S; s++) bv[s] = V_LDT(b + s * ldb + f, rem);
		FN(step)(KIND, MISS, R, S, av, bv, V_LDT(t->w + f, rem), acc);
	}
#endif
	UNROLL for (int n = 0; n < nacc; n++) UNROLL for (int i = 0; i < R; i++) UNROLL for (int s = 0; s < S; s++)
		res[(n * R + i) * S + s] = KIND == TK_LINF ? V_HMAX(acc[n][i][s]) : V_HSUM(acc[n][i][s]);
}

/* Every tile of the job: blocks of B that stay in L2, R x S tiles across them, the edges one row or column at
 * a time; on a diagonal tile only tiles holding some pair s >= r. */
static inline __attribute__((always_inline)) void FN(tiles_kind)(const int KIND, const int MISS,
								 const struct tile_job *t)
{
	const int nacc = tk_nacc(KIND, MISS);
	const int R = nacc >= 3 && TR > 1 ? TR / 2 : TR, S = nacc >= 2 && TS > 1 ? TS / 2 : TS;
	double res[4 * TR * TS];
	for (int64_t sb = 0; sb < t->nb; sb += SB_ROWS) {
		int64_t se = sb + SB_ROWS < t->nb ? sb + SB_ROWS : t->nb;
		for (int64_t r = 0; r < t->na; r += R) {
			if (t->same && r >= se)
				break;
			int rr = t->na - r < R ? (int)(t->na - r) : R;
			for (int64_t s = sb; s < se; s += S) {
				int ss = se - s < S ? (int)(se - s) : S;
				if (t->same && s + ss <= r)
					continue;
				if (rr == R && ss == S) {
					FN(tile)(KIND, MISS, R, S, t, r, s, res);
					tile_emit(t, r, s, R, S, res);
				} else if (rr == R) {
					for (int c = 0; c < ss; c++) {
						FN(tile)(KIND, MISS, R, 1, t, r, s + c, res);
						tile_emit(t, r, s + c, R, 1, res);
					}
				} else {
					for (int i = 0; i < rr; i++)
						for (int c = 0; c < ss; c++) {
							FN(tile)(KIND, MISS, 1, 1, t, r + i, s + c, res);
							tile_emit(t, r + i, s + c, 1, 1, res);
						}
				}
			}
		}
	}
}

static void FN(tiles)(const struct tile_job *t)
{
#define TILES_CASE(K)                                   \
	case K:                                         \
		if (t->miss)                            \
			FN(tiles_kind)(K, 1, t);        \
		else                                    \
			FN(tiles_kind)(K, 0, t);        \
		break;
	switch (t->kind) {
		TILES_CASE(TK_L1)
		TILES_CASE(TK_LP3)
		TILES_CASE(TK_LINF)
		TILES_CASE(TK_BRAY)
		TILES_CASE(TK_CANB)
		TILES_CASE(TK_CANB_DIV)
		TILES_CASE(TK_HAMM)
		TILES_CASE(TK_BOOLW)
	default:
		break;
	}
#undef TILES_CASE
}

/* ---- Row loops: branch-free per feature, vectorized by GCC for this ISA ---- */

static inline __attribute__((always_inline)) double FN(lsum)(const double *x, int64_t n)
{
	double s[8] = { 0 };
	int64_t f = 0;
	for (; f + 8 <= n; f += 8)
		for (int l = 0; l < 8; l++)
			s[l] += x[f + l];
	double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
	for (; f < n; f++)
		t += x[f];
	return t;
}

static void FN(log_rows)(const double *x, int64_t ld, int64_t rows, int64_t k, double *out, int64_t ldo)
{
	for (int64_t r = 0; r < rows; r++) {
		const double *p = x + r * ld;
		double *o = out + r * ldo;
		for (int64_t f = 0; f < k; f++) {
			double v = p[f];
			o[f] = v > 0 ? kd_log(v) : 0.0;
		}
	}
}

/* The pairs of a row loop, blocks of B that stay in L2 at a time (s >= r on a diagonal tile). */
#define FOR_PAIRS(j)                                                                                    \
	for (int64_t sb = 0; sb < (j)->nb; sb += SB_ROWS)                                               \
		for (int64_t r = 0, se = sb + SB_ROWS < (j)->nb ? sb + SB_ROWS : (j)->nb;               \
		     r < (j)->na && !((j)->same && r >= se); r++)                                        \
			for (int64_t s = (j)->same && r > sb ? r : sb; s < se; s++)

/* rel_entr(p, m) + rel_entr(q, m) as p (log p - log m) + q (log q - log m): identical rows give exactly 0. */
static void FN(js_pairs)(const struct row_job *j)
{
	double *t = j->tmp;
	FOR_PAIRS(j)
	{
		const double *a = j->a + r * j->lda, *la = j->la + r * PIECE_T;
		const double *b = j->b + s * j->ldb, *lb = j->lb + s * PIECE_T;
		for (int64_t f = 0; f < j->k; f++) {
			double p = a[f], q = b[f];
			double lm = kd_log((p + q) / 2.0);
			double tp = p > 0 ? p * (la[f] - lm) : 0.0, tq = q > 0 ? q * (lb[f] - lm) : 0.0;
			t[f] = p == p && q == q ? tp + tq : 0.0;
		}
		j->st0[r * j->nb + s] += FN(lsum)(t, j->k);
	}
}

/* sum w |a-b|^p for p other than 1, 2, 3, inf: exp(p log d). */
static void FN(pow_pairs)(const struct row_job *j)
{
	double *t = j->tmp, p = j->p;
	const double *w = j->w;
	FOR_PAIRS(j)
	{
		const double *a = j->a + r * j->lda, *b = j->b + s * j->ldb;
		for (int64_t f = 0; f < j->k; f++) {
			double d = fabs(a[f] - b[f]);
			int ok = d > 0 && d <= DBL_MAX; /* not 0, inf or missing (NaN) */
			double v = kd_exp(p * kd_log(ok ? d : 1.0));
			t[f] = ok ? w[f] * v : d > 0 ? w[f] * d : 0.0; /* inf^p = inf */
		}
		j->st0[r * j->nb + s] += FN(lsum)(t, j->k);
	}
}

#undef FOR_PAIRS
#undef VD
#undef VM
#undef UNROLL
#undef FN
#undef VN
#undef TR
#undef TS
#undef V_ZERO
#undef V_SET1
#undef V_LD
#undef V_LDT
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_FMA
#undef V_FNMA
#undef V_ABS
#undef V_RCP
#undef V_HSUM
#undef V_HMAX
#undef M_ORD
#undef M_NE
#undef M_GT
#undef M_AND
#undef M_ANDN
#undef V_MADD
#undef V_MFMA
#undef V_MMAX
#if DIST_TEMPLATE == 1 || DIST_TEMPLATE == 2
K_ISA_END
#else
K_OPT_END
#endif

#endif /* DIST_TEMPLATE */
