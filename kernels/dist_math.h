/* SPDX-License-Identifier: MIT */
/*
 * dist_math: the arithmetic of every metric in distance.h for one pair of
 * rows, one feature at a time: how a feature updates a pair's statistics,
 * how the statistics of two disjoint feature ranges combine, and how merged
 * statistics become the distance. Plain C over doubles with nothing but
 * math.h, and every function is K_HD, so the CUDA kernel includes this same
 * header and computes the same thing the CPU tests check.
 *
 * A pair's statistics are a small array s[0 .. n_stats) here; in a
 * statistics buffer they are stat-major (distance.h), which kdm_load() and
 * kdm_store() translate. All statistics start at 0 (k_dist_init). What each
 * slot holds (w is the feature's weight, 1 when unweighted; sums run over
 * the features both rows have):
 *
 *   braycurtis      [0] sum w|a-b|   [1] sum w|a+b|
 *   canberra        [0] sum w|a-b| / (|a|+|b|), terms with |a|+|b| = 0 left out
 *   chebyshev       [0] max |a-b| over features with w > 0 (0 when none)
 *   cityblock       [0] sum w|a-b|
 *   correlation     [0] W = sum w  [1] mean a  [2] mean b  (w-weighted)
 *                   [3] sum w(a-ma)^2  [4] sum w(b-mb)^2  [5] sum w(a-ma)(b-mb)
 *   cosine          [0] sum w ab  [1] sum w a^2  [2] sum w b^2
 *   euclidean, seuclidean, sqeuclidean   [0] sum w (a-b)^2
 *   hamming         [0] sum w [a != b]  [1] sum w
 *   jensenshannon   [0] sum rel_entr(a, m) + rel_entr(b, m), m = (a+b)/2
 *   minkowski       [0] sum w|a-b|^p; for p = inf, chebyshev's max
 *   boolean metrics (t: nonzero; ntt = sum w [a t, b t], ntf = [a t, b f] ...)
 *     dice [0] ntt [1] ntf+nft     jaccard [0] ntf+nft [1] ntt+ntf+nft
 *     rogerstanimoto [0] ntf+nft [1] n     russellrao [0] ntt [1] n
 *     sokalsneath [0] ntt [1] ntf+nft      yule [0] ntt [1] ntf [2] nft [3] nff
 *
 * Swapping the roles of a and b permutes the slots (kdm_partner); every
 * formula here is written so that the swapped inputs give the permuted
 * statistics bit for bit (a*b, never a*b*c in an order that depends on
 * which row is which), which is what makes a diagonal tile exactly
 * symmetric.
 */
#ifndef TESSERA_KERNELS_DIST_MATH_H
#define TESSERA_KERNELS_DIST_MATH_H

#include <math.h>

#include "distance.h"

#ifdef __CUDACC__
#define K_HD __host__ __device__
#else
#define K_HD
#endif

#define KDM_MAX_STATS 6 /* the most statistics any metric keeps per pair */

/* kdm_n_stats() : statistics per pair of metric @m (the n_stats of k_dist_info). */
static inline K_HD int kdm_n_stats(int m)
{
	switch (m) {
	case K_DIST_CORRELATION:
		return 6;
	case K_DIST_YULE:
		return 4;
	case K_DIST_COSINE:
		return 3;
	case K_DIST_BRAYCURTIS:
	case K_DIST_DICE:
	case K_DIST_HAMMING:
	case K_DIST_JACCARD:
	case K_DIST_ROGERSTANIMOTO:
	case K_DIST_RUSSELLRAO:
	case K_DIST_SOKALSNEATH:
		return 2;
	default:
		return 1;
	}
}

/* kdm_partner() : the slot that holds slot @t's statistic once a and b swap roles. */
static inline K_HD int kdm_partner(int m, int t)
{
	if (m == K_DIST_CORRELATION && t >= 1 && t <= 4)
		return (t == 1 || t == 3) ? t + 1 : t - 1;
	if (m == K_DIST_COSINE && t >= 1)
		return 3 - t;
	if (m == K_DIST_YULE && (t == 1 || t == 2))
		return 3 - t;
	return t;
}

/* kdm_load() / kdm_store() : pair @k's statistics from / to a stat-major buffer. */
static inline K_HD void kdm_load(int m, double *s, const double *stats, long long k, long long n_pairs)
{
	for (int t = 0; t < kdm_n_stats(m); t++)
		s[t] = stats[t * n_pairs + k];
}

static inline K_HD void kdm_store(int m, const double *s, double *stats, long long k, long long n_pairs)
{
	for (int t = 0; t < kdm_n_stats(m); t++)
		stats[t * n_pairs + k] = s[t];
}

/* x, or 0 when x < 0 (expanded-form rounding); NaN passes through, unlike fmax. */
static inline K_HD double kdm_clamp0(double x)
{
	return x < 0 ? 0.0 : x;
}

/* ---- Per-metric updates: one present feature (a, b) of weight w ---- */

static inline K_HD void kdm_braycurtis_update(double *s, double a, double b, double w)
{
	s[0] += w * fabs(a - b);
	s[1] += w * fabs(a + b);
}

/* scipy leaves out 0/0 terms: only |a| + |b| > 0 counts (inf/inf still adds NaN). */
static inline K_HD void kdm_canberra_update(double *s, double a, double b, double w)
{
	double den = fabs(a) + fabs(b);
	if (den > 0)
		s[0] += w * fabs(a - b) / den;
}

/* Weighted chebyshev is scipy's: the largest |a-b| among features with w > 0. */
static inline K_HD void kdm_chebyshev_update(double *s, double a, double b, double w)
{
	double d = fabs(a - b);
	if (w > 0 && d > s[0])
		s[0] = d;
}

static inline K_HD void kdm_cityblock_update(double *s, double a, double b, double w)
{
	s[0] += w * fabs(a - b);
}

/* Weighted Welford: g = w * W_old / W_new multiplies the products of the
 * deviations from the old means, which keeps a and b symmetric. Zero weights
 * add nothing (scipy's w / w.sum() gives them no say in the means either). */
static inline K_HD void kdm_correlation_update(double *s, double a, double b, double w)
{
	if (!(w > 0))
		return;
	double w_old = s[0], w_new = w_old + w;
	double da = a - s[1], db = b - s[2];
	double f = w / w_new, g = w_old * f;
	s[0] = w_new;
	s[1] += da * f;
	s[2] += db * f;
	s[3] += g * (da * da);
	s[4] += g * (db * db);
	s[5] += g * (da * db);
}

static inline K_HD void kdm_cosine_update(double *s, double a, double b, double w)
{
	s[0] += w * (a * b);
	s[1] += w * (a * a);
	s[2] += w * (b * b);
}

static inline K_HD void kdm_sqdiff_update(double *s, double a, double b, double w)
{
	double d = a - b;
	s[0] += w * (d * d);
}

/* hamming compares the raw values, as scipy does. */
static inline K_HD void kdm_hamming_update(double *s, double a, double b, double w)
{
	s[0] += w * (double)(a != b);
	s[1] += w;
}

/* rel_entr(x, m): x log(x / m) for x > 0, 0 for x = 0, inf for x < 0. */
static inline K_HD double kdm_rel_entr(double x, double m)
{
	if (x > 0)
		return x * log(x / m);
	return x == 0 ? 0.0 : INFINITY;
}

static inline K_HD void kdm_jensenshannon_update(double *s, double a, double b)
{
	double m = (a + b) / 2.0;
	s[0] += kdm_rel_entr(a, m) + kdm_rel_entr(b, m);
}

/* scipy's weighted minkowski: sum w |a-b|^p; p = 1, 2 as cityblock and
 * euclidean (no pow), p = inf as weighted chebyshev. */
static inline K_HD void kdm_minkowski_update(double *s, double a, double b, double w, double p)
{
	double d = fabs(a - b);
	if (p == 1.0)
		s[0] += w * d;
	else if (p == 2.0)
		s[0] += w * (d * d);
	else if (isinf(p))
		kdm_chebyshev_update(s, a, b, w);
	else
		s[0] += w * pow(d, p);
}

/*
 * kdm_bool_add() : adds to a boolean metric's statistics the (weighted)
 * counts of shared features where a and b are true/true (@ntt), true/false
 * (@ntf), false/true (@nft) and false/false (@nff). The per-feature update
 * and the bit-count and GEMM paths all go through here.
 */
static inline K_HD void kdm_bool_add(int m, double *s, double ntt, double ntf, double nft, double nff)
{
	switch (m) {
	case K_DIST_DICE:
	case K_DIST_SOKALSNEATH:
		s[0] += ntt;
		s[1] += ntf + nft;
		break;
	case K_DIST_JACCARD:
		s[0] += ntf + nft;
		s[1] += ntt + (ntf + nft);
		break;
	case K_DIST_ROGERSTANIMOTO:
		s[0] += ntf + nft;
		s[1] += (ntt + nff) + (ntf + nft);
		break;
	case K_DIST_RUSSELLRAO:
		s[0] += ntt;
		s[1] += (ntt + nff) + (ntf + nft);
		break;
	case K_DIST_YULE:
		s[0] += ntt;
		s[1] += ntf;
		s[2] += nft;
		s[3] += nff;
		break;
	default:
		break;
	}
}

static inline K_HD int kdm_is_bool(int m)
{
	return m == K_DIST_DICE || m == K_DIST_JACCARD || m == K_DIST_ROGERSTANIMOTO || m == K_DIST_RUSSELLRAO ||
	       m == K_DIST_SOKALSNEATH || m == K_DIST_YULE;
}

/*
 * kdm_update() : feature (@a, @b) of weight @w (1 when unweighted) updates
 * the statistics @s of metric @m (@p: minkowski's p). @miss: either value is
 * missing, and then nothing changes (a pair uses only the features both rows
 * have, with no rescaling).
 */
static inline K_HD void kdm_update(int m, double p, double *s, double a, double b, double w, int miss)
{
	if (miss)
		return;
	if (kdm_is_bool(m)) {
		int ta = a != 0, tb = b != 0;
		kdm_bool_add(m, s, w * (double)(ta && tb), w * (double)(ta && !tb), w * (double)(!ta && tb),
			     w * (double)(!ta && !tb));
		return;
	}
	switch (m) {
	case K_DIST_BRAYCURTIS:
		kdm_braycurtis_update(s, a, b, w);
		break;
	case K_DIST_CANBERRA:
		kdm_canberra_update(s, a, b, w);
		break;
	case K_DIST_CHEBYSHEV:
		kdm_chebyshev_update(s, a, b, w);
		break;
	case K_DIST_CITYBLOCK:
		kdm_cityblock_update(s, a, b, w);
		break;
	case K_DIST_CORRELATION:
		kdm_correlation_update(s, a, b, w);
		break;
	case K_DIST_COSINE:
		kdm_cosine_update(s, a, b, w);
		break;
	case K_DIST_EUCLIDEAN:
	case K_DIST_SEUCLIDEAN:
	case K_DIST_SQEUCLIDEAN:
		kdm_sqdiff_update(s, a, b, w);
		break;
	case K_DIST_HAMMING:
		kdm_hamming_update(s, a, b, w);
		break;
	case K_DIST_JENSENSHANNON:
		kdm_jensenshannon_update(s, a, b);
		break;
	case K_DIST_MINKOWSKI:
		kdm_minkowski_update(s, a, b, w, p);
		break;
	default:
		break;
	}
}

/* ---- Combining two disjoint feature ranges ---- */

/* Chan et al.'s pairwise merge of weighted means and (co-)moments. */
static inline K_HD void kdm_correlation_combine(double *d, const double *s)
{
	double n1 = d[0], n2 = s[0];
	if (n2 == 0)
		return;
	if (n1 == 0) {
		for (int t = 0; t < 6; t++)
			d[t] = s[t];
		return;
	}
	double n = n1 + n2, f = n2 / n, g = n1 * f;
	double da = s[1] - d[1], db = s[2] - d[2];
	d[0] = n;
	d[1] += da * f;
	d[2] += db * f;
	d[3] = (d[3] + s[3]) + g * (da * da);
	d[4] = (d[4] + s[4]) + g * (db * db);
	d[5] = (d[5] + s[5]) + g * (da * db);
}

/* kdm_combine_is_max() : whether metric @m (with @p) merges by maximum rather than sum. */
static inline K_HD int kdm_combine_is_max(int m, double p)
{
	return m == K_DIST_CHEBYSHEV || (m == K_DIST_MINKOWSKI && isinf(p));
}

/* kdm_combine() : @d becomes the statistics of the union of @d's and @s's features. */
static inline K_HD void kdm_combine(int m, double p, double *d, const double *s)
{
	if (m == K_DIST_CORRELATION) {
		kdm_correlation_combine(d, s);
	} else if (kdm_combine_is_max(m, p)) {
		if (s[0] > d[0])
			d[0] = s[0];
	} else {
		for (int t = 0; t < kdm_n_stats(m); t++)
			d[t] += s[t];
	}
}

/* ---- Finalizing ---- */

/* 1 - c with c = xy / (|x| |y|) clipped to [-1, 1] as scipy's cosine does; NaN (0/0) stays NaN. */
static inline K_HD double kdm_one_minus_cos(double xy, double xx, double yy)
{
	double c = xy / (sqrt(xx) * sqrt(yy));
	if (fabs(c) > 1.0)
		c = copysign(1.0, c);
	return 1.0 - c;
}

/* kdm_finalize() : the distance from merged statistics @s; the 0/0 cases are scipy's. */
static inline K_HD double kdm_finalize(int m, double p, const double *s)
{
	switch (m) {
	case K_DIST_BRAYCURTIS:
		return s[0] / s[1]; /* two all-zero rows: 0/0 = NaN */
	case K_DIST_CANBERRA:
	case K_DIST_CHEBYSHEV:
	case K_DIST_CITYBLOCK:
		return s[0];
	case K_DIST_CORRELATION:
		return kdm_one_minus_cos(s[5], s[3], s[4]); /* a constant row: NaN */
	case K_DIST_COSINE:
		return kdm_one_minus_cos(s[0], s[1], s[2]); /* a zero row: NaN */
	case K_DIST_EUCLIDEAN:
	case K_DIST_SEUCLIDEAN:
		return sqrt(kdm_clamp0(s[0]));
	case K_DIST_SQEUCLIDEAN:
		return kdm_clamp0(s[0]);
	case K_DIST_HAMMING:
		return s[0] / s[1];
	case K_DIST_JENSENSHANNON:
		return sqrt(kdm_clamp0(s[0]) / 2.0);
	case K_DIST_MINKOWSKI:
		if (p == 1.0 || isinf(p))
			return s[0];
		if (p == 2.0)
			return sqrt(kdm_clamp0(s[0]));
		return pow(kdm_clamp0(s[0]), 1.0 / p);
	case K_DIST_DICE:
		return s[1] / (2.0 * s[0] + s[1]); /* both all-false: NaN */
	case K_DIST_JACCARD:
		return s[1] != 0 ? s[0] / s[1] : 0.0; /* both all-false: 0 */
	case K_DIST_ROGERSTANIMOTO:
		return (2.0 * s[0]) / (s[1] + s[0]);
	case K_DIST_RUSSELLRAO:
		return (s[1] - s[0]) / s[1];
	case K_DIST_SOKALSNEATH:
		return (2.0 * s[1]) / (2.0 * s[1] + s[0]); /* both all-false: NaN */
	case K_DIST_YULE: {
		double half_r = s[1] * s[2]; /* ntf * nft; 0 gives distance 0 */
		return (2.0 * half_r) / (s[0] * s[3] + half_r + (double)(half_r == 0));
	}
	default:
		return NAN;
	}
}

#endif
