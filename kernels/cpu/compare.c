/* SPDX-License-Identifier: MIT */
/*
 * compare: an array against one value, into 0/1 int64s, and one-pass loops
 * of the same kind (squares, sums of pairs and of their squares, counts of
 * a comparison, a reversed copy, the four arithmetic operators). Baseline
 * x86-64 (SSE2) has no vector form of the compare and only two lanes for
 * the others, so each loop is also built for AVX-512 and AVX2 and chosen at
 * run time (KERNEL below):
 * in a Monte Carlo count ((x ** 2).sum(axis=1) < 1) they were a third of the
 * work otherwise. Each is one IEEE operation an element, so every build
 * gives the same bits (a sum of two squares is three, each rounded: ISO C
 * mode keeps the compiler from fusing them).
 */
#include "kernels.h"
#include "isa.h"

#if defined(__x86_64__)
#define X86_VARIANT(isa, name, params, ...)                                                       \
	__attribute__((target(isa) K_ATTR_OPT("O3", "no-trapping-math"))) static void name params \
	{                                                                      \
		__VA_ARGS__                                                    \
	}

/*
 * KERNEL(k_name, (params), (args), loop): k_name() runs the loop built for
 * AVX-512 when the CPU has it, else for AVX2, else as baseline code. The
 * loop is written once; only the instruction set differs.
 */
#define KERNEL(kname, params, args, ...)                                              \
	X86_VARIANT("avx512f", kname##_avx512, params, __VA_ARGS__)                   \
	X86_VARIANT("avx2", kname##_avx2, params, __VA_ARGS__)                        \
	void kname params                                                             \
	{                                                                             \
		if (__builtin_cpu_supports("avx512f"))                                \
			kname##_avx512 args;                                          \
		else if (__builtin_cpu_supports("avx2"))                              \
			kname##_avx2 args;                                            \
		else {                                                                \
			__VA_ARGS__                                                   \
		}                                                                     \
	}
#else
#define KERNEL(kname, params, args, ...) \
	void kname params                \
	{                                \
		__VA_ARGS__              \
	}
#endif

KERNEL(k_lt_scalar_f64, (const double *restrict a, double b, int64_t *restrict out, size_t n), (a, b, out, n),
       for (size_t i = 0; i < n; i++) out[i] = a[i] < b;)

KERNEL(k_gt_scalar_f64, (const double *restrict a, double b, int64_t *restrict out, size_t n), (a, b, out, n),
       for (size_t i = 0; i < n; i++) out[i] = a[i] > b;)

KERNEL(k_square_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = a[i] * a[i];)

KERNEL(k_pair_sums_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = a[2 * i] + a[2 * i + 1];)

KERNEL(k_pair_sumsq_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = a[2 * i] * a[2 * i] + a[2 * i + 1] * a[2 * i + 1];)

KERNEL(k_count_lt_f64, (const double *restrict a, double b, size_t n, int64_t *restrict count), (a, b, n, count),
       int64_t c = 0; for (size_t i = 0; i < n; i++) c += a[i] < b; *count = c;)

KERNEL(k_count_gt_f64, (const double *restrict a, double b, size_t n, int64_t *restrict count), (a, b, n, count),
       int64_t c = 0; for (size_t i = 0; i < n; i++) c += a[i] > b; *count = c;)

KERNEL(k_reverse_u64, (const uint64_t *restrict a, uint64_t *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = a[n - 1 - i];)

/* The four arithmetic operators over unit-stride runs or one broadcast value
 * (a stride of 0). As compiled baseline code inside the evaluator, their
 * 128-bit loads kept too few cache lines in flight: the first op of a chain
 * over mapped .npy data waited on memory for 89% of its time. */
#define ARITH_KERNEL(kname, OP)                                                                          \
	KERNEL(kname,                                                                                    \
	       (const double *restrict a, int sa, const double *restrict b, int sb, double *restrict out, \
		size_t n),                                                                               \
	       (a, sa, b, sb, out, n),                                                                   \
	       if (sa && sb) for (size_t i = 0; i < n; i++) out[i] = a[i] OP b[i];                       \
	       else if (sa) {                                                                            \
		       double bv = b[0];                                                                 \
		       for (size_t i = 0; i < n; i++) out[i] = a[i] OP bv;                               \
	       } else {                                                                                  \
		       double av = a[0];                                                                 \
		       for (size_t i = 0; i < n; i++) out[i] = av OP b[i];                               \
	       })

ARITH_KERNEL(k_add_f64, +)
ARITH_KERNEL(k_sub_f64, -)
ARITH_KERNEL(k_mul_f64, *)
ARITH_KERNEL(k_div_f64, /)

/* One IEEE operation an element: vector instructions do each exactly as the scalar ones (floor and
 * ceil vectorize without trapping math, sqrt without errno: the Makefile builds kernels/ so). */
KERNEL(k_sqrt_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = __builtin_sqrt(a[i]);)
KERNEL(k_abs_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = __builtin_fabs(a[i]);)
KERNEL(k_floor_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = __builtin_floor(a[i]);)
KERNEL(k_ceil_f64, (const double *restrict a, double *restrict out, size_t n), (a, out, n),
       for (size_t i = 0; i < n; i++) out[i] = __builtin_ceil(a[i]);)
