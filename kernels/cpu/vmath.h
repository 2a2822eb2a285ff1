/* SPDX-License-Identifier: MIT */
/*
 * vmath: how log.c and exp.c build an elementwise function. Its loop body
 * is written once, as a macro: every lane by one branch-free formula, which
 * the compiler vectorizes, returning non-zero when some lane is left for
 * libm. VMATH_BUILDS compiles it for AVX-512 and for AVX2 (the same
 * operations, no fused multiply-add, so the same bits), and VMATH_DISPATCH
 * makes the k_NAME_f64() that runs this CPU's build and then libm on the
 * lanes it left (all of them on other CPUs).
 */
#ifndef TESSERA_KERNELS_VMATH_H
#define TESSERA_KERNELS_VMATH_H

#include "isa.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
/* Attributes, not pragmas: GCC 12 drops functions defined after a _Pragma in a macro. */
#define VMATH_BUILDS(name, LOOP)                                                                       \
	__attribute__((target("avx512f,avx512dq") K_ATTR_OPT("O3", "no-trapping-math"))) static int     \
	name##_avx512(const double *restrict x, double *restrict out, size_t n)                        \
	{                                                                                              \
		LOOP                                                                                   \
	}                                                                                              \
	__attribute__((target("avx2") K_ATTR_OPT("O3", "no-trapping-math"))) static int                 \
	name##_avx2(const double *restrict x, double *restrict out, size_t n)                          \
	{                                                                                              \
		LOOP                                                                                   \
	}

/* @needs_libm(v): whether the loop left the lane of input v (its own test, repeated). */
#define VMATH_DISPATCH(name, libm, needs_libm)                                                    \
	void k_##name##_f64(const double *restrict x, double *restrict out, size_t n)             \
	{                                                                                         \
		int bad;                                                                          \
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))      \
			bad = name##_avx512(x, out, n);                                           \
		else if (__builtin_cpu_supports("avx2"))                                          \
			bad = name##_avx2(x, out, n);                                             \
		else {                                                                            \
			for (size_t i = 0; i < n; i++)                                            \
				out[i] = libm(x[i]);                                              \
			return;                                                                   \
		}                                                                                 \
		if (!bad)                                                                         \
			return;                                                                   \
		for (size_t i = 0; i < n; i++)                                                    \
			if (needs_libm(x[i]))                                                     \
				out[i] = libm(x[i]);                                              \
	}
#else
#define VMATH_BUILDS(name, LOOP)
#define VMATH_DISPATCH(name, libm, needs_libm)                                                    \
	void k_##name##_f64(const double *restrict x, double *restrict out, size_t n)             \
	{                                                                                         \
		for (size_t i = 0; i < n; i++)                                                    \
			out[i] = libm(x[i]);                                                      \
	}
#endif

#endif
