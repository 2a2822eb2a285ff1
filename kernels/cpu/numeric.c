/* SPDX-License-Identifier: MIT */
/*
 * numeric: reductions over contiguous arrays with numpy's semantics: the
 * pairwise sum, exact wrapping integer sums, streaming moments (Welford /
 * Chan), NaN-propagating and NaN-skipping min/max, and first-index argmin/
 * argmax.
 *
 * DESIGN: every hot loop keeps 8 independent partial results (sums, minima)
 * in a small array indexed by lane. The lanes never mix until the end, so
 * the compiler may hold them in vector registers (SSE2 is enough) without
 * reassociating anything: the results are the same bits at any -O level and
 * on any x86-64, and the 8 chains hide the add latency. Nothing here
 * allocates or keeps state.
 */
#include "kernels.h"
#include "isa.h"

#include <math.h>
#include <stdbool.h>

#define ACC 8         /* independent partial results per loop */
#define PW_BLOCK 128  /* pairwise summation leaf size, as numpy's */
#define MOM_BLOCK 1024 /* values per two-pass moments block: 8 KiB stays in L1 */

/* The 8 partial sums of a leaf, combined as a balanced tree. */
static inline double combine8(const double r[ACC])
{
	return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
}

/*
 * Pairwise summation: leaves of up to PW_BLOCK values are summed with 8
 * accumulators; larger ranges split in two at a multiple of 8 and add the
 * halves. The rounding error grows as O(log n) instead of O(n), and the
 * recursion depth is only log2(n / PW_BLOCK). A leaf's 8 accumulators are
 * exactly one AVX-512 register, so that build adds the same numbers in the
 * same order: the same bits in a quarter of the instructions. The squared
 * variant sums x[i] * x[i], each product rounded, as numpy's
 * (x ** 2).sum() does after building the squares.
 */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE double leaf_body(const double *x, size_t n, bool sq)
{
	double r[ACC];
	for (int j = 0; j < ACC; j++)
		r[j] = sq ? x[j] * x[j] : x[j];
	size_t i = ACC;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++)
			r[j] += sq ? x[i + j] * x[i + j] : x[i + j];
	double s = combine8(r);
	for (; i < n; i++)
		s += sq ? x[i] * x[i] : x[i];
	return s;
}

typedef double (*leaf_fn)(const double *x, size_t n);

/* A leaf of products x[i] * y[i * step], each rounded, in leaf_body's order. */
ALWAYS_INLINE double leaf_prod_body(const double *x, const double *y, size_t n, long step)
{
	double r[ACC];
	for (int j = 0; j < ACC; j++)
		r[j] = x[j] * y[j * step];
	size_t i = ACC;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++)
			r[j] += x[i + j] * y[(long)(i + j) * step];
	double s = combine8(r);
	for (; i < n; i++)
		s += x[i] * y[(long)i * step];
	return s;
}

typedef double (*leaf_prod_fn)(const double *x, const double *y, size_t n);

static double leaf_prod(const double *x, const double *y, size_t n)
{
	return leaf_prod_body(x, y, n, 1);
}

static double leaf_prod_rev(const double *x, const double *y, size_t n)
{
	return leaf_prod_body(x, y, n, -1);
}

static double leaf_plain(const double *x, size_t n)
{
	return leaf_body(x, n, false);
}

static double leaf_sq(const double *x, size_t n)
{
	return leaf_body(x, n, true);
}

#if defined(__x86_64__)
K_ISA_BEGIN("avx512f")
K_REGION_OPT("O3")
static double leaf_plain_avx512(const double *x, size_t n)
{
	return leaf_body(x, n, false);
}

static double leaf_sq_avx512(const double *x, size_t n)
{
	return leaf_body(x, n, true);
}

static double leaf_prod_avx512(const double *x, const double *y, size_t n)
{
	return leaf_prod_body(x, y, n, 1);
}

static double leaf_prod_rev_avx512(const double *x, const double *y, size_t n)
{
	return leaf_prod_body(x, y, n, -1);
}
K_ISA_END
#endif

static double pairwise(const double *x, size_t n, bool sq, leaf_fn leaf)
{
	if (n < ACC) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += sq ? x[i] * x[i] : x[i];
		return s;
	}
	if (n <= PW_BLOCK)
		return leaf(x, n);
	size_t half = n / 2;
	half -= half % ACC;
	return pairwise(x, half, sq, leaf) + pairwise(x + half, n - half, sq, leaf);
}

static leaf_fn pick_leaf(bool sq)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		return sq ? leaf_sq_avx512 : leaf_plain_avx512;
#endif
	return sq ? leaf_sq : leaf_plain;
}

/* pairwise() over the products x[i] * y[i * step]: the same splits, so the same bits as
 * k_sum_f64 of the stored products. */
static double pairwise_prod(const double *x, const double *y, long step, size_t n, leaf_prod_fn leaf)
{
	if (n < ACC) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += x[i] * y[(long)i * step];
		return s;
	}
	if (n <= PW_BLOCK)
		return leaf(x, y, n);
	size_t half = n / 2;
	half -= half % ACC;
	return pairwise_prod(x, y, step, half, leaf) +
	       pairwise_prod(x + half, y + (long)half * step, step, n - half, leaf);
}

double k_sumprod_f64(const double *x, const double *y, long step, size_t n)
{
	leaf_prod_fn leaf = step == 1 ? leaf_prod : leaf_prod_rev;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		leaf = step == 1 ? leaf_prod_avx512 : leaf_prod_rev_avx512;
#endif
	return 0.0 + pairwise_prod(x, y, step, n, leaf);
}

static double pairwise_f64(const double *x, size_t n)
{
	return pairwise(x, n, false, pick_leaf(false));
}

/* numpy's reduction starts from 0.0, so an array of -0.0 sums to 0.0. */
double k_sum_f64(const double *x, size_t n)
{
	return 0.0 + pairwise_f64(x, n);
}

double k_sumsq_f64(const double *x, size_t n)
{
	return 0.0 + pairwise(x, n, true, pick_leaf(true));
}

static double pairwise_f32(const float *x, size_t n)
{
	if (n < ACC) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += x[i];
		return s;
	}
	if (n <= PW_BLOCK) {
		double r[ACC];
		for (int j = 0; j < ACC; j++)
			r[j] = x[j];
		size_t i = ACC;
		for (; i + ACC <= n; i += ACC)
			for (int j = 0; j < ACC; j++)
				r[j] += (double)x[i + j];
		double s = combine8(r);
		for (; i < n; i++)
			s += x[i];
		return s;
	}
	size_t half = n / 2;
	half -= half % ACC;
	return pairwise_f32(x, half) + pairwise_f32(x + half, n - half);
}

double k_sum_f32_as_f64(const float *x, size_t n)
{
	return 0.0 + pairwise_f32(x, n);
}

int64_t k_sum_i64(const int64_t *x, size_t n)
{
	/* Unsigned arithmetic wraps by definition; signed overflow would be UB. */
	uint64_t r[ACC] = { 0 };
	size_t i = 0;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++)
			r[j] += (uint64_t)x[i + j];
	uint64_t s = 0;
	for (int j = 0; j < ACC; j++)
		s += r[j];
	for (; i < n; i++)
		s += (uint64_t)x[i];
	return (int64_t)s;
}

/* Sum of squared deviations of @x[0..@n) from @mean. */
static double sq_dev(const double *x, size_t n, double mean)
{
	double r[ACC] = { 0 };
	size_t i = 0;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++) {
			double d = x[i + j] - mean;
			r[j] += d * d;
		}
	double s = combine8(r);
	for (; i < n; i++) {
		double d = x[i] - mean;
		s += d * d;
	}
	return s;
}

void k_moments_merge(struct k_moments *a, const struct k_moments *b)
{
	struct k_moments bb = *b; /* @b may be @a */
	if (bb.n == 0)
		return;
	if (a->n == 0) {
		*a = bb;
		return;
	}
	double n = a->n + bb.n;
	double delta = bb.mean - a->mean;
	a->mean += delta * (bb.n / n);
	a->m2 += bb.m2 + delta * delta * (a->n * bb.n / n);
	a->n = n;
}

void k_moments_add(struct k_moments *m, const double *x, size_t n)
{
	for (size_t done = 0; done < n; done += MOM_BLOCK) {
		size_t len = n - done < MOM_BLOCK ? n - done : MOM_BLOCK;
		/* Two passes over a block still in L1: its mean first, then
		 * deviations from that mean, which do not cancel badly the way
		 * sum(x^2) - n mean^2 does. */
		double mean = pairwise_f64(x + done, len) / (double)len;
		struct k_moments b = { (double)len, mean, sq_dev(x + done, len, mean) };
		k_moments_merge(m, &b);
	}
}

/*
 * min/max keep 8 running extremes. A NaN must win in k_min_f64/k_max_f64,
 * so a lane takes the new value when it is smaller or is NaN; once a lane
 * holds NaN nothing compares smaller, so it stays. The nan* variants only
 * take values that compare smaller, which NaN never does.
 */

double k_min_f64(const double *x, size_t n)
{
	if (n == 0)
		return NAN;
	double r[ACC];
	for (int j = 0; j < ACC; j++)
		r[j] = x[0];
	size_t i = 0;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++) {
			double v = x[i + j];
			r[j] = (v < r[j] || v != v) ? v : r[j];
		}
	for (; i < n; i++)
		r[0] = (x[i] < r[0] || x[i] != x[i]) ? x[i] : r[0];
	double m = r[0];
	for (int j = 1; j < ACC; j++)
		m = (r[j] < m || r[j] != r[j]) ? r[j] : m;
	return m;
}

double k_max_f64(const double *x, size_t n)
{
	if (n == 0)
		return NAN;
	double r[ACC];
	for (int j = 0; j < ACC; j++)
		r[j] = x[0];
	size_t i = 0;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++) {
			double v = x[i + j];
			r[j] = (v > r[j] || v != v) ? v : r[j];
		}
	for (; i < n; i++)
		r[0] = (x[i] > r[0] || x[i] != x[i]) ? x[i] : r[0];
	double m = r[0];
	for (int j = 1; j < ACC; j++)
		m = (r[j] > m || r[j] != r[j]) ? r[j] : m;
	return m;
}

/* Whether @x[0..@n) holds a value that is not NaN. */
static bool any_number(const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (x[i] == x[i])
			return true;
	return false;
}

double k_nanmin_f64(const double *x, size_t n)
{
	double r[ACC];
	for (int j = 0; j < ACC; j++)
		r[j] = INFINITY;
	size_t i = 0;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++)
			r[j] = x[i + j] < r[j] ? x[i + j] : r[j];
	for (; i < n; i++)
		r[0] = x[i] < r[0] ? x[i] : r[0];
	double m = r[0];
	for (int j = 1; j < ACC; j++)
		m = r[j] < m ? r[j] : m;
	/* inf is also the answer for all-NaN input, told apart off the hot loop. */
	return m == INFINITY && !any_number(x, n) ? NAN : m;
}

double k_nanmax_f64(const double *x, size_t n)
{
	double r[ACC];
	for (int j = 0; j < ACC; j++)
		r[j] = -INFINITY;
	size_t i = 0;
	for (; i + ACC <= n; i += ACC)
		for (int j = 0; j < ACC; j++)
			r[j] = x[i + j] > r[j] ? x[i + j] : r[j];
	for (; i < n; i++)
		r[0] = x[i] > r[0] ? x[i] : r[0];
	double m = r[0];
	for (int j = 1; j < ACC; j++)
		m = r[j] > m ? r[j] : m;
	return m == -INFINITY && !any_number(x, n) ? NAN : m;
}

/*
 * argmin/argmax in two passes: the extreme by the vectorised reduction,
 * then the first index holding it. The second pass usually stops early, and
 * both passes are branch-free per element, which beats a one-pass loop
 * that carries an index through a compare-and-branch. Equal values
 * (including 0.0 and -0.0) tie, and the first wins, as numpy's strict
 * comparison gives.
 */
static size_t first_equal(const double *x, size_t n, double m)
{
	size_t i = 0;
	/* Blocks of ACC tested branch-free (vectorisable), then the block
	 * with the hit searched one by one. */
	if (m != m) {
		for (; i + ACC <= n; i += ACC) {
			int64_t hit = 0;
			for (int j = 0; j < ACC; j++)
				hit |= x[i + j] != x[i + j];
			if (hit)
				break;
		}
		for (; i < n; i++)
			if (x[i] != x[i])
				return i;
	} else {
		for (; i + ACC <= n; i += ACC) {
			int64_t hit = 0;
			for (int j = 0; j < ACC; j++)
				hit |= x[i + j] == m;
			if (hit)
				break;
		}
		for (; i < n; i++)
			if (x[i] == m)
				return i;
	}
	return SIZE_MAX; /* not reached: m came from x */
}

size_t k_argmin_f64(const double *x, size_t n)
{
	return n ? first_equal(x, n, k_min_f64(x, n)) : SIZE_MAX;
}

size_t k_argmax_f64(const double *x, size_t n)
{
	return n ? first_equal(x, n, k_max_f64(x, n)) : SIZE_MAX;
}
