/* SPDX-License-Identifier: MIT */
/*
 * compare: an array against one value, into 0/1 int64s. Baseline x86-64
 * (SSE2) has no vector form of this, so the same loop is also built for AVX2
 * and chosen at run time: in a Monte Carlo count (x < 1) it is a quarter of
 * the work otherwise.
 */
#include "kernels.h"

#define LOOP(OP)                                     \
	for (size_t i = 0; i < n; i++)               \
		out[i] = a[i] OP b;

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2")
#pragma GCC optimize("O3")
static void lt_avx2(const double *restrict a, double b, int64_t *restrict out, size_t n)
{
	LOOP(<)
}
static void gt_avx2(const double *restrict a, double b, int64_t *restrict out, size_t n)
{
	LOOP(>)
}
#pragma GCC pop_options
#endif

static int has_avx2(void)
{
#if defined(__x86_64__)
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

void k_lt_scalar_f64(const double *restrict a, double b, int64_t *restrict out, size_t n)
{
#if defined(__x86_64__)
	if (has_avx2()) {
		lt_avx2(a, b, out, n);
		return;
	}
#endif
	LOOP(<)
}

void k_gt_scalar_f64(const double *restrict a, double b, int64_t *restrict out, size_t n)
{
#if defined(__x86_64__)
	if (has_avx2()) {
		gt_avx2(a, b, out, n);
		return;
	}
#endif
	LOOP(>)
}
