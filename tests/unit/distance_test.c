/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for kernels/distance.h: hand-computed values per metric, the
 * 0/0 cases as scipy 1.17 defines them, every engine and instruction set
 * against k_dist_pair_ref (odd sizes, one row, one feature, no features),
 * missing values, weights, int8 against the same values as float64, feature
 * pieces combined against one map, the 1e6 offset, and exact symmetry of
 * diagonal tiles.
 *
 * Where scipy 1.10 (Debian 12's python3-scipy) and 1.17 differ, these tests
 * follow 1.17:
 *  - jaccard: 1.15 made it boolean (nonzero is true); 1.10 compared raw
 *    values, so jaccard([1, 2], [2, 2]) was 0.5 there and is 0 here.
 *  - weighted correlation/cosine: 1.10 returned |1 - r| (np.abs), 1.17 clips
 *    1 - r to [0, 2]; they differ only in rounding at r ~ 1.
 *  - weighted chebyshev with every weight 0: 1.10 raised, 1.17 gives 0.
 *  - dice on non-boolean numbers: 1.17's pdist computes x(1-y) + y(1-x) on
 *    the raw values (1.10 converted to bool first); here it is boolean, as
 *    distance.h says, which agrees with both on 0/1 data.
 */
#include "test.h"
#include "distance.h"
#include "dist_math.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lcg_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

static double lcg_unit(uint64_t *s)
{
	return (double)lcg_next(s) / 9007199254740992.0;
}

/* Uniform on 0 .. n-1 from the high bits (an LCG's low bits have short periods). */
static int lcg_int(uint64_t *s, int n)
{
	return (int)(lcg_unit(s) * n);
}

/* Within @rel relative or @abs absolute; NaN matches NaN and infinities match exactly. */
static int close_to(double x, double y, double rel, double abs)
{
	if (isnan(x) || isnan(y))
		return isnan(x) && isnan(y);
	if (isinf(x) || isinf(y))
		return x == y;
	return fabs(x - y) <= abs + rel * fmax(fabs(x), fabs(y));
}

static const enum k_dist_isa isas[] = { K_DIST_ISA_AUTO, K_DIST_ISA_AVX2, K_DIST_ISA_PORTABLE, K_DIST_ISA_SCALAR };
#define N_ISAS (sizeof isas / sizeof isas[0])

/* A block of rows, as float64 (NaN missing) and, when made so, as int8 (-1 missing). */
struct block {
	int64_t rows, nf;
	double *d;
	int8_t *i;
};

static struct block block_new(int64_t rows, int64_t nf)
{
	struct block b = { rows, nf, calloc((size_t)(rows * nf + 1), sizeof(double)),
			   calloc((size_t)(rows * nf + 1), 1) };
	return b;
}

static void block_free(struct block *b)
{
	free(b->d);
	free(b->i);
}

static struct k_dist_rows rows_of(const struct block *b, bool i8)
{
	struct k_dist_rows r = { i8 ? K_DIST_I8 : K_DIST_F64, i8 ? (const void *)b->i : (const void *)b->d, b->rows,
				 b->nf };
	return r;
}

/* What a metric's random data looks like. */
enum fill { FILL_REAL, FILL_NONNEG, FILL_SMALLINT, FILL_PROB };

static enum fill fill_for(int m)
{
	if (kdm_is_bool(m) || m == K_DIST_HAMMING)
		return FILL_SMALLINT;
	if (m == K_DIST_JENSENSHANNON)
		return FILL_PROB;
	return FILL_REAL;
}

/* Random values; @miss: the fraction made missing. int8 gets values 0..3 (or their doubles). */
static void block_fill(struct block *b, enum fill fill, double miss, uint64_t *st)
{
	for (int64_t r = 0; r < b->rows; r++) {
		double sum = 0;
		for (int64_t f = 0; f < b->nf; f++) {
			double u = lcg_unit(st), v;
			int64_t k = r * b->nf + f;
			b->i[k] = (int8_t)lcg_int(st, 4);
			switch (fill) {
			case FILL_SMALLINT:
				v = (double)lcg_int(st, 3);
				break;
			case FILL_NONNEG:
				v = u < 0.1 ? 0.0 : u;
				break;
			case FILL_PROB:
				v = u < 0.2 ? 0.0 : u;
				sum += v;
				break;
			default:
				v = u < 0.05 ? 0.0 : 2 * u - 1;
				break;
			}
			b->d[k] = v;
		}
		if (fill == FILL_PROB && sum > 0)
			for (int64_t f = 0; f < b->nf; f++)
				b->d[r * b->nf + f] /= sum;
		for (int64_t f = 0; f < b->nf; f++)
			if (lcg_unit(st) < miss) {
				b->d[r * b->nf + f] = NAN;
				b->i[r * b->nf + f] = -1;
			}
	}
}

/* The doubles k_dist_pair_ref sees for an int8 block. */
static void block_i8_to_d(struct block *b)
{
	for (int64_t k = 0; k < b->rows * b->nf; k++)
		b->d[k] = b->i[k] < 0 ? NAN : (double)b->i[k];
}

/* Exactly the size asked for, so that ASan sees any overrun. */
static void *scratch_for(const struct k_dist_opts *o, int64_t na, int64_t nb, int64_t nf)
{
	size_t n = k_dist_scratch_size(o, na, nb, nf);
	void *p = NULL;
	if (posix_memalign(&p, 64, n ? n : 1) != 0)
		abort();
	return p;
}

/* Statistics of features [0, nf) in one map. */
static double *stats_of(const struct k_dist_opts *o, const struct k_dist_rows *a, const struct k_dist_rows *b,
			int64_t nf, const double *w, bool same)
{
	int64_t np = a->rows * b->rows;
	double *st = malloc((size_t)(np * k_dist_info_of(o->metric)->n_stats + 1) * sizeof(double));
	k_dist_init(o, st, np);
	void *scr = scratch_for(o, a->rows, b->rows, nf);
	k_dist_map(o, a, b, nf, w, same, st, scr);
	free(scr);
	return st;
}

static double *dist_of(const struct k_dist_opts *o, const double *st, int64_t np)
{
	double *d = malloc((size_t)(np + 1) * sizeof(double));
	k_dist_finalize(o, st, np, d);
	return d;
}

/* The number of features both rows have, of positive weight. */
static int shared(const double *u, const double *v, int64_t nf, const double *w)
{
	int n = 0;
	for (int64_t f = 0; f < nf; f++)
		n += !isnan(u[f]) && !isnan(v[f]) && (!w || w[f] > 0);
	return n;
}

/* Every pair of a map against k_dist_pair_ref; @return the number of mismatches (reported). */
static int check_vs_ref(const char *what, const struct k_dist_opts *o, const struct block *a, const struct block *b,
			bool i8, const double *w, bool same, double rel)
{
	struct k_dist_rows ra = rows_of(a, i8), rb = rows_of(b, i8);
	int64_t na = a->rows, nb = b->rows, nf = a->nf;
	double *st = stats_of(o, &ra, &rb, nf, w, same);
	double *d = dist_of(o, st, na * nb);
	int bad = 0;
	for (int64_t r = 0; r < na; r++)
		for (int64_t s = 0; s < nb; s++) {
			if (same && r == s)
				continue; /* a row and itself: the caller's business */
			if (o->metric == K_DIST_CORRELATION && shared(a->d + r * nf, b->d + s * nf, nf, w) < 3)
				continue; /* one or two points: r is 0/0 or +-1 by rounding alone, in scipy too */
			double want = k_dist_pair_ref(o, a->d + r * nf, b->d + s * nf, nf, w);
			double got = d[r * nb + s];
			if (!close_to(got, want, rel, 1e-12)) {
				if (bad++ < 3)
					fprintf(stderr, "  %s: %s p=%g isa=%d w=%d i8=%d same=%d %lldx%lldx%lld (%lld,%lld): "
							"got %.17g want %.17g\n",
						what, k_dist_info_of(o->metric)->name, o->p, (int)o->isa, w != NULL, i8,
						same, (long long)na, (long long)nb, (long long)nf, (long long)r,
						(long long)s, got, want);
			}
		}
	free(d);
	free(st);
	return bad;
}

/* ---- The table ---- */

static void test_table(void)
{
	for (int m = 0; m < K_DIST_N; m++) {
		const struct k_dist_info *in = k_dist_info_of((enum k_dist_metric)m);
		CHECK(k_dist_lookup(in->name) == m);
		CHECK(in->n_stats == kdm_n_stats(m));
		CHECK(in->n_stats <= KDM_MAX_STATS);
		CHECK(!!(in->flags & K_DISTF_BOOL) == kdm_is_bool(m));
		for (int t = 0; t < in->n_stats; t++)
			CHECK(kdm_partner(m, kdm_partner(m, t)) == t);
	}
	CHECK(k_dist_lookup("euclid") == -1);
	CHECK(k_dist_lookup("") == -1);
	CHECK(k_dist_info_of(K_DIST_SEUCLIDEAN)->flags & K_DISTF_V);
	CHECK(!(k_dist_info_of(K_DIST_JENSENSHANNON)->flags & K_DISTF_W));
	CHECK(k_dist_info_of(K_DIST_MINKOWSKI)->flags & K_DISTF_P);
	CHECK(k_dist_info_of(K_DIST_EUCLIDEAN)->flags & K_DISTF_GEMM);
}

/* ---- Hand-computed values ---- */

/* The distance of one pair through k_dist_map on every ISA (all must agree with @want). */
static void check_pair(enum k_dist_metric m, double p, const double *u, const double *v, int64_t nf,
		       const double *w, double want)
{
	for (size_t i = 0; i < N_ISAS; i++) {
		struct k_dist_opts o = { .metric = m, .p = p, .weighted = w != NULL, .isa = isas[i] };
		struct k_dist_rows ra = { K_DIST_F64, u, 1, nf }, rb = { K_DIST_F64, v, 1, nf };
		double *st = stats_of(&o, &ra, &rb, nf, w, false), d;
		k_dist_finalize(&o, st, 1, &d);
		free(st);
		if (!close_to(d, want, 1e-14, 1e-15)) {
			fprintf(stderr, "  %s isa %d: got %.17g want %.17g\n", k_dist_info_of(m)->name, (int)isas[i], d,
				want);
			CHECK(close_to(d, want, 1e-14, 1e-15));
		}
	}
	struct k_dist_opts o = { .metric = m, .p = p, .weighted = w != NULL };
	CHECK(close_to(k_dist_pair_ref(&o, u, v, nf, w), want, 1e-14, 1e-15));
}

static void test_hand_values(void)
{
	static const double u[] = { 1, 2, 0, 4 }, v[] = { 2, 0, 0, 1 };
	/* |u-v| = 1 2 0 3, |u+v| = 3 2 0 5 */
	check_pair(K_DIST_BRAYCURTIS, 0, u, v, 4, NULL, 6.0 / 10.0);
	check_pair(K_DIST_CANBERRA, 0, u, v, 4, NULL, 1.0 / 3 + 2.0 / 2 + 3.0 / 5); /* 0/0 left out */
	check_pair(K_DIST_CHEBYSHEV, 0, u, v, 4, NULL, 3.0);
	check_pair(K_DIST_CITYBLOCK, 0, u, v, 4, NULL, 6.0);
	check_pair(K_DIST_EUCLIDEAN, 0, u, v, 4, NULL, sqrt(1 + 4 + 0 + 9));
	check_pair(K_DIST_SQEUCLIDEAN, 0, u, v, 4, NULL, 14.0);
	check_pair(K_DIST_MINKOWSKI, 3, u, v, 4, NULL, cbrt(1 + 8 + 0 + 27));
	check_pair(K_DIST_MINKOWSKI, 1, u, v, 4, NULL, 6.0);
	check_pair(K_DIST_MINKOWSKI, 2, u, v, 4, NULL, sqrt(14.0));
	check_pair(K_DIST_MINKOWSKI, INFINITY, u, v, 4, NULL, 3.0);
	check_pair(K_DIST_MINKOWSKI, 0.5, u, v, 4, NULL, pow(1 + sqrt(2) + 0 + sqrt(3), 2));
	check_pair(K_DIST_HAMMING, 0, u, v, 4, NULL, 3.0 / 4); /* differ at 0, 1, 3 */
	/* u.v = 2 + 4 = 6, |u|^2 = 21, |v|^2 = 5 */
	check_pair(K_DIST_COSINE, 0, u, v, 4, NULL, 1 - 6 / sqrt(105.0));
	/* means 1.75 and 0.75: du = -.75 .25 -1.75 2.25, dv = 1.25 -.75 -.75 .25;
	 * sum du dv = .75, sum du^2 = 8.75, sum dv^2 = 2.75 */
	check_pair(K_DIST_CORRELATION, 0, u, v, 4, NULL, 1 - 0.75 / sqrt(8.75 * 2.75));
	/* seuclidean with V = 1 4 1 9: (1 + 4/4 + 0 + 9/9) = 3 */
	static const double inv_v[] = { 1, 0.25, 1, 1.0 / 9 };
	check_pair(K_DIST_SEUCLIDEAN, 0, u, v, 4, inv_v, sqrt(3.0));

	/* weights 1 2 3 4: cityblock 1 + 4 + 0 + 12, euclidean^2 1 + 8 + 0 + 36 */
	static const double w[] = { 1, 2, 3, 4 }, w0[] = { 1, 1, 1, 0 };
	check_pair(K_DIST_CITYBLOCK, 0, u, v, 4, w, 17.0);
	check_pair(K_DIST_EUCLIDEAN, 0, u, v, 4, w, sqrt(45.0));
	check_pair(K_DIST_MINKOWSKI, 3, u, v, 4, w, cbrt(1 + 16 + 0 + 108));
	check_pair(K_DIST_CHEBYSHEV, 0, u, v, 4, w0, 2.0); /* the 3 at weight 0 does not count */
	check_pair(K_DIST_MINKOWSKI, INFINITY, u, v, 4, w0, 2.0);
	check_pair(K_DIST_HAMMING, 0, u, v, 4, w, (1 + 2 + 4) / 10.0);
	/* weighted cosine: sum w uv = 2 + 16 = 18, sum w u^2 = 1 + 8 + 64 = 73, sum w v^2 = 4 + 4 = 8 */
	check_pair(K_DIST_COSINE, 0, u, v, 4, w, 1 - 18 / sqrt(73.0 * 8));
	/* weighted correlation: w/sum w = .1 .2 .3 .4; mu = .1 + .4 + 1.6 = 2.1, mv = .2 + .4 = .6;
	 * du = -1.1 -.1 -2.1 1.9, dv = 1.4 -.6 -.6 .4: sum w du dv = -1.54 + .12 + 3.78 + 3.04 = 5.4,
	 * sum w du^2 = 1.21 + .02 + 13.23 + 14.44 = 28.9, sum w dv^2 = 1.96 + .72 + 1.08 + .64 = 4.4 (x 1) */
	check_pair(K_DIST_CORRELATION, 0, u, v, 4, w, 1 - 5.4 / sqrt(28.9 * 4.4));

	/* jensenshannon of p = .5 .5 0 0 and q = .25 .25 .5 0: m = .375 .375 .25 0;
	 * rel_entr(p, m) = ln(4/3), rel_entr(q, m) = .5 ln(2/3) + .5 ln 2 = .5 ln(4/3) */
	static const double p[] = { 0.5, 0.5, 0, 0 }, q[] = { 0.25, 0.25, 0.5, 0 };
	check_pair(K_DIST_JENSENSHANNON, 0, p, q, 4, NULL, sqrt(1.5 * log(4.0 / 3) / 2));

	/* booleans: x = 1 1 0 0 2, y = 1 0 1 0 0 -> ntt 1, ntf 2, nft 1, nff 1 */
	static const double x[] = { 1, 1, 0, 0, 2 }, y[] = { 1, 0, 1, 0, 0 };
	check_pair(K_DIST_DICE, 0, x, y, 5, NULL, 3.0 / (2 + 3));
	check_pair(K_DIST_JACCARD, 0, x, y, 5, NULL, 3.0 / 4);
	check_pair(K_DIST_ROGERSTANIMOTO, 0, x, y, 5, NULL, 6.0 / (1 + 1 + 6));
	check_pair(K_DIST_RUSSELLRAO, 0, x, y, 5, NULL, 4.0 / 5);
	check_pair(K_DIST_SOKALSNEATH, 0, x, y, 5, NULL, 6.0 / (1 + 6));
	check_pair(K_DIST_YULE, 0, x, y, 5, NULL, 2.0 * 2 / (1 * 1 + 2)); /* half R = ntf nft = 2 */
	/* weighted booleans, w = 1 2 3 4 5: ntt 1, ntf 2 + 5, nft 3, nff 4 */
	static const double w5[] = { 1, 2, 3, 4, 5 };
	check_pair(K_DIST_DICE, 0, x, y, 5, w5, 10.0 / (2 + 10));
	check_pair(K_DIST_YULE, 0, x, y, 5, w5, 2.0 * 21 / (4 + 21));
	check_pair(K_DIST_RUSSELLRAO, 0, x, y, 5, w5, 14.0 / 15);
	/* jaccard is boolean since scipy 1.15: 1 vs 2 is true vs true */
	static const double j1[] = { 1, 2 }, j2[] = { 2, 2 };
	check_pair(K_DIST_JACCARD, 0, j1, j2, 2, NULL, 0.0);
	/* hamming compares raw values: 1 vs 2 differ */
	check_pair(K_DIST_HAMMING, 0, j1, j2, 2, NULL, 0.5);
}

/* ---- scipy's 0/0 cases ---- */

static void test_edge_cases(void)
{
	static const double w3[] = { 0.1, 0.7, 0.3 };
	static const double z[] = { 0, 0, 0 }, one[] = { 1, 0, 0 }, c3[] = { 3, 3, 3 }, r3[] = { 1, 2, 3 },
			    d3[] = { 3, 2, 1 }, neg[] = { 0.5, -0.5, 1 };
	check_pair(K_DIST_BRAYCURTIS, 0, z, z, 3, NULL, NAN); /* 0/0 */
	check_pair(K_DIST_CANBERRA, 0, z, z, 3, NULL, 0.0);   /* 0/0 terms left out */
	check_pair(K_DIST_COSINE, 0, z, one, 3, NULL, NAN);   /* a zero vector */
	check_pair(K_DIST_CORRELATION, 0, c3, r3, 3, NULL, NAN); /* a constant row */
	check_pair(K_DIST_CORRELATION, 0, r3, d3, 3, NULL, 2.0); /* r = -1 exactly */
	check_pair(K_DIST_CORRELATION, 0, r3, r3, 3, NULL, 0.0);
	check_pair(K_DIST_COSINE, 0, r3, r3, 3, NULL, 0.0);
	check_pair(K_DIST_DICE, 0, z, z, 3, NULL, NAN);
	check_pair(K_DIST_JACCARD, 0, z, z, 3, NULL, 0.0);
	check_pair(K_DIST_SOKALSNEATH, 0, z, z, 3, NULL, NAN);
	check_pair(K_DIST_YULE, 0, z, z, 3, NULL, 0.0); /* ntf nft = 0 */
	check_pair(K_DIST_YULE, 0, one, one, 3, NULL, 0.0);
	check_pair(K_DIST_ROGERSTANIMOTO, 0, z, z, 3, NULL, 0.0);
	check_pair(K_DIST_RUSSELLRAO, 0, z, z, 3, NULL, 1.0);
	check_pair(K_DIST_EUCLIDEAN, 0, r3, r3, 3, NULL, 0.0);
	check_pair(K_DIST_JENSENSHANNON, 0, one, one, 3, NULL, 0.0);
	check_pair(K_DIST_JENSENSHANNON, 0, neg, one, 3, NULL, INFINITY); /* rel_entr of a negative */

	/* yule's ntf nft = 0 test on weighted counts: u is all true, so nft = 0 exactly and the
	 * distance is 0, whatever order the weights are summed in (never a rounding leftover). */
	static const double yu[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, yv[] = { 1, 0, 1, 0, 0, 1, 1, 0, NAN },
			    yw[] = { 0.1, 0.7, 0.3, 0.9, 1.3, 0.2, 0.6, 0.11, 0.5 };
	check_pair(K_DIST_YULE, 0, yu, yv, 9, yw, 0.0);
	check_pair(K_DIST_YULE, 0, yu, yv, 8, yw, 0.0);
	check_pair(K_DIST_YULE, 0, yv, yu, 8, yw, 0.0);
	check_pair(K_DIST_DICE, 0, z, z, 3, w3, NAN); /* weighted, both all false: 0/0 */
	check_pair(K_DIST_JACCARD, 0, z, z, 3, w3, 0.0);
	static const double w0[] = { 0, 0, 0 };
	check_pair(K_DIST_CHEBYSHEV, 0, r3, d3, 3, w0, 0.0); /* every weight 0: 0 (scipy 1.10 raised) */
	check_pair(K_DIST_HAMMING, 0, r3, d3, 3, w0, NAN);   /* 0/0 */

	/* No shared feature at all (every value missing on one side). */
	static const double nan3[] = { NAN, NAN, NAN };
	check_pair(K_DIST_HAMMING, 0, nan3, r3, 3, NULL, NAN);
	check_pair(K_DIST_EUCLIDEAN, 0, nan3, r3, 3, NULL, 0.0);
	check_pair(K_DIST_CORRELATION, 0, nan3, r3, 3, NULL, NAN);
	check_pair(K_DIST_JACCARD, 0, nan3, r3, 3, NULL, 0.0);

	/* No features: the statistics stay as k_dist_init made them. */
	for (int m = 0; m < K_DIST_N; m++) {
		struct k_dist_opts o = { .metric = (enum k_dist_metric)m, .p = 3 };
		struct k_dist_rows ra = { K_DIST_F64, r3, 1, 3 };
		double st[KDM_MAX_STATS], d;
		k_dist_init(&o, st, 1);
		k_dist_map(&o, &ra, &ra, 0, NULL, false, st, NULL);
		for (int t = 0; t < k_dist_info_of(o.metric)->n_stats; t++)
			CHECK(st[t] == 0);
		k_dist_finalize(&o, st, 1, &d);
		CHECK(close_to(d, k_dist_pair_ref(&o, r3, r3, 0, NULL), 0, 0));
	}
	CHECK(k_dist_scratch_size(&(struct k_dist_opts){ .metric = K_DIST_EUCLIDEAN }, 5, 5, 0) == 0);
}

/* ---- Every engine and ISA against the reference ---- */

struct shape {
	int64_t na, nb, nf;
	bool same;
};

static const struct shape shapes[] = {
	{ 7, 5, 37, false }, { 1, 9, 1, false }, { 13, 13, 100, true }, { 1, 1, 1, false }, { 6, 11, 1000, false },
	{ 9, 9, 9, true },   { 3, 2, 0, false }, { 1, 1, 5, true },	{ 5, 7, 8, false },
};

static const double mink_p[] = { 1, 2, 3, INFINITY, 2.5, 0.5 };

/* Runs @fn(metric, p, weighted) for every metric, every p of minkowski and both weightings. */
static void each_case(void (*fn)(enum k_dist_metric, double, bool))
{
	for (int m = 0; m < K_DIST_N; m++) {
		unsigned fl = k_dist_info_of((enum k_dist_metric)m)->flags;
		size_t n_p = m == K_DIST_MINKOWSKI ? sizeof mink_p / sizeof mink_p[0] : 1;
		for (size_t ip = 0; ip < n_p; ip++)
			for (int weighted = 0; weighted < 2; weighted++) {
				if (weighted && !(fl & (K_DISTF_W | K_DISTF_V)))
					continue;
				if (!weighted && (fl & K_DISTF_V))
					continue;
				fn((enum k_dist_metric)m, m == K_DIST_MINKOWSKI ? mink_p[ip] : 0, weighted);
			}
	}
}

static double *random_weights(int64_t nf, uint64_t *st)
{
	double *w = malloc((size_t)(nf + 1) * sizeof(double));
	for (int64_t f = 0; f < nf; f++)
		w[f] = lcg_unit(st) < 0.1 ? 0.0 : 0.1 + 2 * lcg_unit(st);
	return w;
}

static double case_miss; /* the fraction of missing values the next cases use */

static void vs_ref_case(enum k_dist_metric m, double p, bool weighted)
{
	uint64_t seed = 1000 + (uint64_t)m * 31 + (uint64_t)(p * 10) + weighted;
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		const struct shape *sh = &shapes[k];
		struct block a = block_new(sh->na, sh->nf), b = block_new(sh->nb, sh->nf);
		enum fill fill = fill_for(m);
		if (m == K_DIST_BRAYCURTIS && k % 2)
			fill = FILL_NONNEG; /* braycurtis has a non-negative fast path */
		block_fill(&a, fill, case_miss, &seed);
		block_fill(&b, fill, case_miss, &seed);
		const struct block *bb = sh->same ? &a : &b;
		double *w = weighted ? random_weights(sh->nf, &seed) : NULL;
		for (size_t i = 0; i < N_ISAS; i++) {
			struct k_dist_opts o = { .metric = m, .p = p, .weighted = weighted, .isa = isas[i] };
			CHECK(check_vs_ref("vs_ref", &o, &a, bb, false, w, sh->same, 1e-10) == 0);
		}
		free(w);
		block_free(&a);
		block_free(&b);
	}
}

static void test_fast_vs_ref(void)
{
	case_miss = 0;
	each_case(vs_ref_case);
}

static void test_missing_vs_ref(void)
{
	case_miss = 0.1;
	each_case(vs_ref_case);
	case_miss = 0.6;
	each_case(vs_ref_case);
	case_miss = 0;
}

/* Sizes past the tiles' blocks of B (128 rows), the pieces (512, 768, 8192 features), and int8 runs. */
static void big_case(enum k_dist_metric m, double p, bool weighted)
{
	uint64_t seed = 77 + (uint64_t)m;
	if (m == K_DIST_MINKOWSKI && p != 3 && p != 2.5)
		return;
	static const struct shape big[] = { { 131, 140, 800, false }, { 40, 40, 9000, true } };
	for (size_t k = 0; k < 2; k++) {
		const struct shape *sh = &big[k];
		if (sh->nf > 2000 && m != K_DIST_DICE && m != K_DIST_EUCLIDEAN && m != K_DIST_CORRELATION &&
		    m != K_DIST_CITYBLOCK)
			continue;
		struct block a = block_new(sh->na, sh->nf), b = block_new(sh->nb, sh->nf);
		block_fill(&a, fill_for(m), case_miss, &seed);
		block_fill(&b, fill_for(m), case_miss, &seed);
		double *w = weighted ? random_weights(sh->nf, &seed) : NULL;
		struct k_dist_opts o = { .metric = m, .p = p, .weighted = weighted };
		CHECK(check_vs_ref("big", &o, &a, sh->same ? &a : &b, false, w, sh->same, 1e-10) == 0);
		free(w);
		block_free(&a);
		block_free(&b);
	}
}

static void test_big_vs_ref(void)
{
	case_miss = 0;
	each_case(big_case);
	case_miss = 0.05;
	each_case(big_case);
	case_miss = 0;
}

/* ---- int8 ---- */

static void i8_case(enum k_dist_metric m, double p, bool weighted)
{
	uint64_t seed = 500 + (uint64_t)m;
	static const struct shape sh8[] = { { 7, 5, 37, false }, { 12, 12, 2000, true }, { 130, 3, 800, false } };
	for (size_t k = 0; k < 3; k++)
		for (int miss = 0; miss < 2; miss++) {
			const struct shape *sh = &sh8[k];
			struct block a = block_new(sh->na, sh->nf), b = block_new(sh->nb, sh->nf);
			block_fill(&a, FILL_SMALLINT, miss ? 0.1 : 0, &seed);
			block_fill(&b, FILL_SMALLINT, miss ? 0.1 : 0, &seed);
			block_i8_to_d(&a);
			block_i8_to_d(&b);
			double *w = weighted ? random_weights(sh->nf, &seed) : NULL;
			const struct block *bb = sh->same ? &a : &b;
			for (size_t i = 0; i < N_ISAS; i++) {
				struct k_dist_opts o = { .metric = m, .p = p, .weighted = weighted, .isa = isas[i] };
				CHECK(check_vs_ref("i8", &o, &a, bb, true, w, sh->same, 1e-10) == 0);
				/* and the same values given as float64 */
				struct k_dist_rows a8 = rows_of(&a, true), b8 = rows_of(bb, true);
				struct k_dist_rows ad = rows_of(&a, false), bd = rows_of(bb, false);
				int64_t np = a.rows * bb->rows;
				double *s8 = stats_of(&o, &a8, &b8, sh->nf, w, sh->same), *d8 = dist_of(&o, s8, np);
				double *sd = stats_of(&o, &ad, &bd, sh->nf, w, sh->same), *dd = dist_of(&o, sd, np);
				int bad = 0;
				for (int64_t q = 0; q < np; q++)
					bad += !close_to(d8[q], dd[q], 1e-12, 1e-13);
				CHECK(bad == 0);
				free(s8);
				free(d8);
				free(sd);
				free(dd);
			}
			free(w);
			block_free(&a);
			block_free(&b);
		}
}

static void test_i8(void)
{
	each_case(i8_case);
	/* Exact: int8 squared euclidean is an integer, and a range that forces float flushes (max 127:
	 * a flush every 260 features) still gives it exactly. */
	enum { NA = 9, NB = 6, NF = 3001 };
	struct block a = block_new(NA, NF), b = block_new(NB, NF);
	uint64_t st = 9;
	for (int64_t k = 0; k < NA * NF; k++)
		a.i[k] = (int8_t)lcg_int(&st, 128);
	for (int64_t k = 0; k < NB * NF; k++)
		b.i[k] = (int8_t)lcg_int(&st, 128);
	a.i[5] = -1;
	for (int masked = 0; masked < 2; masked++) {
		if (masked)
			a.i[7 * NF + 100] = b.i[2 * NF + 2000] = -1;
		struct k_dist_opts o = { .metric = K_DIST_SQEUCLIDEAN };
		struct k_dist_rows ra = rows_of(&a, true), rb = rows_of(&b, true);
		double *s = stats_of(&o, &ra, &rb, NF, NULL, false);
		for (int64_t r = 0; r < NA; r++)
			for (int64_t c = 0; c < NB; c++) {
				int64_t want = 0;
				for (int64_t f = 0; f < NF; f++) {
					int x = a.i[r * NF + f], y = b.i[c * NF + f];
					if (x >= 0 && y >= 0)
						want += (int64_t)(x - y) * (x - y);
				}
				CHECK(s[r * NB + c] == (double)want);
			}
		free(s);
	}
	block_free(&a);
	block_free(&b);
}

/* int8 cityblock runs on the bytes (psadbw): exact sums over the full 0..127
 * range, missing calls anywhere in a row, rows past one block of B (128) and
 * features past one block (4096) with a ragged end, against itself and not. */
static void test_i8_cityblock_exact(void)
{
	enum { NA = 150, NB = 9, NF = 4096 + 1000 + 37 };
	struct block a = block_new(NA, NF), b = block_new(NB, NF);
	uint64_t st = 17;
	for (int64_t k = 0; k < NA * NF; k++)
		a.i[k] = (int8_t)lcg_int(&st, 128);
	for (int64_t k = 0; k < NB * NF; k++)
		b.i[k] = (int8_t)lcg_int(&st, 128);
	a.i[3 * NF + 5] = a.i[140 * NF + NF - 1] = a.i[77 * NF + 4100] = -1;
	b.i[4 * NF + 63] = -128;
	static const enum k_dist_isa isa2[] = { K_DIST_ISA_AUTO, K_DIST_ISA_AVX2 };
	for (size_t i = 0; i < 2; i++)
		for (int same = 0; same < 2; same++) {
			const struct block *bb = same ? &a : &b;
			struct k_dist_opts o = { .metric = K_DIST_CITYBLOCK, .isa = isa2[i] };
			struct k_dist_rows ra = rows_of(&a, true), rb = rows_of(bb, true);
			double *s = stats_of(&o, &ra, &rb, NF, NULL, same);
			int bad = 0;
			for (int64_t r = 0; r < NA; r++)
				for (int64_t c = 0; c < bb->rows; c++) {
					int64_t want = 0;
					for (int64_t f = 0; f < NF; f++) {
						int x = a.i[r * NF + f], y = bb->i[c * NF + f];
						if (x >= 0 && y >= 0)
							want += x > y ? x - y : y - x;
					}
					bad += s[r * bb->rows + c] != (double)want;
				}
			CHECK(bad == 0);
			free(s);
		}
	block_free(&a);
	block_free(&b);
}

/* ---- Pieces of features: combine, and maps into the same statistics ---- */

static void pieces_case(enum k_dist_metric m, double p, bool weighted)
{
	uint64_t seed = 4242 + (uint64_t)m;
	enum { NA = 6, NB = 5, NF = 301 };
	static const int64_t cut[] = { 0, 3, 50, 51, 300, NF };
	for (int miss = 0; miss < 2; miss++)
		for (int i8 = 0; i8 < 2; i8++) {
			struct block a = block_new(NA, NF), b = block_new(NB, NF);
			block_fill(&a, i8 ? FILL_SMALLINT : fill_for(m), miss ? 0.1 : 0, &seed);
			block_fill(&b, i8 ? FILL_SMALLINT : fill_for(m), miss ? 0.1 : 0, &seed);
			if (i8) {
				block_i8_to_d(&a);
				block_i8_to_d(&b);
			}
			double *w = weighted ? random_weights(NF, &seed) : NULL;
			struct k_dist_opts o = { .metric = m, .p = p, .weighted = weighted };
			int ns = k_dist_info_of(m)->n_stats;
			double *whole, *comb = malloc(sizeof(double) * NA * NB * ns),
				       *seq = malloc(sizeof(double) * NA * NB * ns);
			struct k_dist_rows ra = rows_of(&a, i8), rb = rows_of(&b, i8);
			whole = stats_of(&o, &ra, &rb, NF, w, false);
			k_dist_init(&o, comb, NA * NB);
			k_dist_init(&o, seq, NA * NB);
			for (int c = 0; c + 1 < (int)(sizeof cut / sizeof cut[0]); c++) {
				int64_t f0 = cut[c], n = cut[c + 1] - cut[c];
				struct k_dist_rows pa = ra, pb = rb;
				pa.data = i8 ? (const void *)(a.i + f0) : (const void *)(a.d + f0);
				pb.data = i8 ? (const void *)(b.i + f0) : (const void *)(b.d + f0);
				double *part = stats_of(&o, &pa, &pb, n, w ? w + f0 : NULL, false);
				k_dist_combine(&o, comb, part, NA * NB);
				free(part);
				void *scr = scratch_for(&o, NA, NB, n);
				k_dist_map(&o, &pa, &pb, n, w ? w + f0 : NULL, false, seq, scr);
				free(scr);
			}
			double *d0 = dist_of(&o, whole, NA * NB), *d1 = dist_of(&o, comb, NA * NB),
			       *d2 = dist_of(&o, seq, NA * NB);
			for (int k = 0; k < NA * NB; k++) {
				CHECK(close_to(d1[k], d0[k], 1e-11, 1e-13));
				CHECK(close_to(d2[k], d0[k], 1e-11, 1e-13));
			}
			free(d0);
			free(d1);
			free(d2);
			free(whole);
			free(comb);
			free(seq);
			free(w);
			block_free(&a);
			block_free(&b);
		}
}

static void test_pieces(void)
{
	each_case(pieces_case);
}

/* ---- Precision at large offsets ---- */

static void test_offset(void)
{
	enum { NA = 9, NB = 8, NF = 1500 };
	uint64_t seed = 31337;
	static const enum k_dist_metric ms[] = { K_DIST_EUCLIDEAN, K_DIST_SQEUCLIDEAN, K_DIST_CORRELATION,
						 K_DIST_SEUCLIDEAN };
	for (int miss = 0; miss < 2; miss++) {
		struct block a = block_new(NA, NF), b = block_new(NB, NF);
		block_fill(&a, FILL_REAL, miss ? 0.1 : 0, &seed);
		block_fill(&b, FILL_REAL, miss ? 0.1 : 0, &seed);
		for (int64_t k = 0; k < NA * NF; k++)
			a.d[k] += 1e6 + (double)(k % NF); /* every column its own offset, around 1e6 */
		for (int64_t k = 0; k < NB * NF; k++)
			b.d[k] += 1e6 + (double)(k % NF);
		double *w = random_weights(NF, &seed);
		for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
			for (int same = 0; same < 2; same++) {
				bool weighted = ms[i] == K_DIST_SEUCLIDEAN;
				struct k_dist_opts o = { .metric = ms[i], .weighted = weighted };
				CHECK(check_vs_ref("offset", &o, &a, same ? &a : &b, false, weighted ? w : NULL,
						   same, 1e-10) == 0);
			}
		/* correlation with per-row offsets too */
		for (int64_t k = 0; k < NA * NF; k++)
			a.d[k] += 1e6 * (double)(k / NF);
		struct k_dist_opts o = { .metric = K_DIST_CORRELATION };
		CHECK(check_vs_ref("row offset", &o, &a, &b, false, NULL, false, 1e-10) == 0);
		free(w);
		block_free(&a);
		block_free(&b);
	}
}

/* Identical rows in different blocks: euclidean is exactly 0, as scipy computes it. */
static void test_duplicates(void)
{
	enum { NA = 5, NF = 700 };
	uint64_t seed = 5;
	struct block a = block_new(NA, NF), b = block_new(NA, NF);
	block_fill(&a, FILL_REAL, 0, &seed);
	for (int64_t k = 0; k < NA * NF; k++)
		b.d[k] = a.d[k] + 3.0; /* b's rows are a's, shifted: no pair is a duplicate... */
	memcpy(b.d + 2 * NF, a.d + 4 * NF, NF * sizeof(double)); /* ...except b[2] = a[4] */
	static const enum k_dist_metric ms[] = { K_DIST_EUCLIDEAN, K_DIST_SQEUCLIDEAN, K_DIST_MINKOWSKI };
	for (size_t i = 0; i < 3; i++) {
		struct k_dist_opts o = { .metric = ms[i], .p = 2 };
		struct k_dist_rows ra = rows_of(&a, false), rb = rows_of(&b, false);
		double *st = stats_of(&o, &ra, &rb, NF, NULL, false), *d = dist_of(&o, st, NA * NA);
		CHECK(d[4 * NA + 2] == 0);
		CHECK(check_vs_ref("dup", &o, &a, &b, false, NULL, false, 1e-10) == 0);
		free(st);
		free(d);
	}
	block_free(&a);
	block_free(&b);
}

/* Canberra with magnitudes the reciprocal estimate cannot take (the true-division kernel). */
static void test_canberra_range(void)
{
	static const double u[] = { 1e-300, 3e300, 5, 0, 2e-310 }, v[] = { 2e-300, 1e300, 4, 1e-320, 1e-310 };
	struct k_dist_opts ref = { .metric = K_DIST_CANBERRA };
	check_pair(K_DIST_CANBERRA, 0, u, v, 5, NULL, k_dist_pair_ref(&ref, u, v, 5, NULL));
	CHECK(close_to(k_dist_pair_ref(&ref, u, v, 5, NULL), 1.0 / 3 + 0.5 + 1.0 / 9 + 1 + 1.0 / 3, 1e-15, 0));
}

/* ---- Diagonal tiles are exactly symmetric ---- */

static void sym_case(enum k_dist_metric m, double p, bool weighted)
{
	uint64_t seed = 99 + (uint64_t)m;
	enum { N = 21, NF = 333 };
	int ns = k_dist_info_of(m)->n_stats;
	for (int miss = 0; miss < 2; miss++)
		for (int i8 = 0; i8 < 2; i8++) {
			struct block a = block_new(N, NF);
			block_fill(&a, i8 ? FILL_SMALLINT : fill_for(m), miss ? 0.1 : 0, &seed);
			double *w = weighted ? random_weights(NF, &seed) : NULL;
			for (size_t i = 0; i < N_ISAS; i++) {
				struct k_dist_opts o = { .metric = m, .p = p, .weighted = weighted, .isa = isas[i] };
				struct k_dist_rows ra = rows_of(&a, i8);
				double *st = stats_of(&o, &ra, &ra, NF, w, true), *d = dist_of(&o, st, N * N);
				int bad = 0;
				for (int r = 0; r < N; r++)
					for (int s = 0; s < N; s++) {
						for (int t = 0; t < ns; t++) {
							double x = st[t * N * N + r * N + s];
							double y = st[kdm_partner(m, t) * N * N + s * N + r];
							bad += memcmp(&x, &y, sizeof x) != 0;
						}
						bad += memcmp(&d[r * N + s], &d[s * N + r], sizeof(double)) != 0;
					}
				if (bad)
					fprintf(stderr, "  symmetry: %s p=%g w=%d i8=%d miss=%d isa=%d: %d\n",
						k_dist_info_of(m)->name, p, weighted, i8, miss, (int)isas[i], bad);
				CHECK(bad == 0);
				free(st);
				free(d);
			}
			free(w);
			block_free(&a);
		}
}

static void test_symmetry(void)
{
	each_case(sym_case);
}

/* ---- dist_math.h directly ---- */

static void test_dist_math(void)
{
	/* A missing feature changes nothing; a zero-weight one changes no correlation mean. */
	for (int m = 0; m < K_DIST_N; m++) {
		double s[KDM_MAX_STATS] = { 1, 2, 3, 4, 5, 6 }, t[KDM_MAX_STATS];
		memcpy(t, s, sizeof s);
		kdm_update(m, 3, s, 1.5, NAN, 1, 1);
		CHECK(memcmp(s, t, sizeof s) == 0);
	}
	double c[KDM_MAX_STATS] = { 0 };
	kdm_update(K_DIST_CORRELATION, 0, c, 5, 7, 0, 0);
	CHECK(c[0] == 0 && c[1] == 0);
	/* Welford over 1 2 3 4 and 2 4 6 9: means 2.5, 5.25; M2a = 5, M2b = 26.75, C = 11.5 */
	static const double x[] = { 1, 2, 3, 4 }, y[] = { 2, 4, 6, 9 };
	double s1[KDM_MAX_STATS] = { 0 }, s2[KDM_MAX_STATS] = { 0 }, all[KDM_MAX_STATS] = { 0 };
	for (int f = 0; f < 4; f++) {
		kdm_update(K_DIST_CORRELATION, 0, f < 2 ? s1 : s2, x[f], y[f], 1, 0);
		kdm_update(K_DIST_CORRELATION, 0, all, x[f], y[f], 1, 0);
	}
	kdm_combine(K_DIST_CORRELATION, 0, s1, s2);
	static const double want[] = { 4, 2.5, 5.25, 5, 26.75, 11.5 };
	for (int t = 0; t < 6; t++) {
		CHECK(close_to(s1[t], want[t], 1e-15, 0));
		CHECK(close_to(all[t], want[t], 1e-15, 0));
	}
	/* Swapping a and b permutes the statistics exactly (the symmetry of diagonal tiles). */
	for (int m = 0; m < K_DIST_N; m++) {
		double sa[KDM_MAX_STATS] = { 0 }, sb[KDM_MAX_STATS] = { 0 };
		for (int f = 0; f < 4; f++) {
			kdm_update(m, 2.5, sa, x[f] * 0.3, y[f] - 4, 0.5 + f, 0);
			kdm_update(m, 2.5, sb, y[f] - 4, x[f] * 0.3, 0.5 + f, 0);
		}
		for (int t = 0; t < kdm_n_stats(m); t++)
			CHECK(close_to(sa[t], sb[kdm_partner(m, t)], 0, 0)); /* jensenshannon: NaN (negatives) */
	}
	CHECK(kdm_clamp0(-1e-17) == 0 && isnan(kdm_clamp0(NAN)));
	CHECK(kdm_one_minus_cos(2, 1, 1) == 0); /* |c| > 1 from rounding is clipped */
	CHECK(kdm_one_minus_cos(-2, 1, 1) == 2);
}

const struct test distance_tests[] = {
	{ "distance/table", test_table },
	{ "distance/hand_values", test_hand_values },
	{ "distance/edge_cases", test_edge_cases },
	{ "distance/dist_math", test_dist_math },
	{ "distance/fast_vs_ref", test_fast_vs_ref },
	{ "distance/missing_vs_ref", test_missing_vs_ref },
	{ "distance/big_vs_ref", test_big_vs_ref },
	{ "distance/int8", test_i8 },
	{ "distance/int8_cityblock_exact", test_i8_cityblock_exact },
	{ "distance/pieces", test_pieces },
	{ "distance/offset_1e6", test_offset },
	{ "distance/duplicates", test_duplicates },
	{ "distance/canberra_range", test_canberra_range },
	{ "distance/symmetry", test_symmetry },
	{ NULL, NULL },
};
