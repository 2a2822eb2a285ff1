/* SPDX-License-Identifier: MIT */
/*
 * compare: an array against one value, into 0/1 int64s, and one-pass loops
 * of the same kind (squares, sums of pairs and of their squares, a reversed
 * copy). Baseline x86-64 (SSE2) has no vector form of the compare and only
 * two lanes for the others, so each loop is also built for AVX2 (and
 * AVX-512) and chosen at run time:
 * in a Monte Carlo count ((x ** 2).sum(axis=1) < 1) they were a third of the
 * work otherwise. Each is one IEEE operation an element, so every build
 * gives the same bits (a sum of two squares is three, each rounded: ISO C
 * mode keeps the compiler from fusing them).
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

#define SQUARE_LOOP                          \
	for (size_t i = 0; i < n; i++)       \
		out[i] = a[i] * a[i];
#define PAIRS_LOOP                           \
	for (size_t i = 0; i < n; i++)       \
		out[i] = a[2 * i] + a[2 * i + 1];
#define PAIRSQ_LOOP                                                      \
	for (size_t i = 0; i < n; i++)                                   \
		out[i] = a[2 * i] * a[2 * i] + a[2 * i + 1] * a[2 * i + 1];

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC optimize("O3")
static void square_avx512(const double *restrict a, double *restrict out, size_t n)
{
	SQUARE_LOOP
}
static void pairs_avx512(const double *restrict a, double *restrict out, size_t n)
{
	PAIRS_LOOP
}
static void pairsq_avx512(const double *restrict a, double *restrict out, size_t n)
{
	PAIRSQ_LOOP
}
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2")
#pragma GCC optimize("O3")
static void square_avx2(const double *restrict a, double *restrict out, size_t n)
{
	SQUARE_LOOP
}
static void pairs_avx2(const double *restrict a, double *restrict out, size_t n)
{
	PAIRS_LOOP
}
static void pairsq_avx2(const double *restrict a, double *restrict out, size_t n)
{
	PAIRSQ_LOOP
}
#pragma GCC pop_options
#endif

void k_square_f64(const double *restrict a, double *restrict out, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f")) {
		square_avx512(a, out, n);
		return;
	}
	if (has_avx2()) {
		square_avx2(a, out, n);
		return;
	}
#endif
	SQUARE_LOOP
}

void k_pair_sums_f64(const double *restrict a, double *restrict out, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f")) {
		pairs_avx512(a, out, n);
		return;
	}
	if (has_avx2()) {
		pairs_avx2(a, out, n);
		return;
	}
#endif
	PAIRS_LOOP
}

void k_pair_sumsq_f64(const double *restrict a, double *restrict out, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f")) {
		pairsq_avx512(a, out, n);
		return;
	}
	if (has_avx2()) {
		pairsq_avx2(a, out, n);
		return;
	}
#endif
	PAIRSQ_LOOP
}

#define REVERSE_LOOP                         \
	for (size_t i = 0; i < n; i++)       \
		out[i] = a[n - 1 - i];

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC optimize("O3")
static void reverse_avx512(const uint64_t *restrict a, uint64_t *restrict out, size_t n)
{
	REVERSE_LOOP
}
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2")
#pragma GCC optimize("O3")
static void reverse_avx2(const uint64_t *restrict a, uint64_t *restrict out, size_t n)
{
	REVERSE_LOOP
}
#pragma GCC pop_options
#endif

void k_reverse_u64(const uint64_t *restrict a, uint64_t *restrict out, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f")) {
		reverse_avx512(a, out, n);
		return;
	}
	if (has_avx2()) {
		reverse_avx2(a, out, n);
		return;
	}
#endif
	REVERSE_LOOP
}
