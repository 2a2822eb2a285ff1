/* SPDX-License-Identifier: MIT */
/*
 * trig: sin and cos over arrays, vectorized. The argument is reduced to r in
 * [-pi/4, pi/4] with k = round(x * 2/pi) and pi/2 split in three parts
 * (Cody and Waite), exact enough while |x| < 2^19 * pi/2; both minimax
 * polynomials are evaluated for every lane and the quadrant picks one, so
 * the loop has no branch and the compiler vectorizes it. The same loop is
 * built for AVX-512 and for AVX2 with FMA and chosen at run time; other CPUs,
 * arguments beyond the reduction's range, infinities and NaN use libm.
 * Results are within 2 ulp of libm's (a unit test checks it), and the same
 * on every vector width: ISO C mode keeps the compiler from fusing
 * multiplies and adds differently per ISA.
 */
#include "kernels.h"

#include <math.h>
#include <stdint.h>

/* pi/2 in three parts of 33 bits each (so k * part is exact for k < 2^20),
 * and a fourth for results near 0, where x - k * pi/2 cancels the most. */
#define PIO2_1 1.57079632673412561417e+00
#define PIO2_2 6.07710050630396597660e-11
#define PIO2_3 2.02226624871116645580e-21
#define PIO2_3T 8.47842766036889956997e-32 /* what is left of pi/2 after the three parts */
#define INV_PIO2 6.36619772367581382433e-01
#define REDUCE_MAX 823549.6 /* 2^19 * pi/2 */

/* Minimax polynomials for sin and cos on [-pi/4, pi/4] (the classic fdlibm kernels' degrees). */
#define S1 -1.66666666666666324348e-01
#define S2 8.33333333332248946124e-03
#define S3 -1.98412698298579493134e-04
#define S4 2.75573137070700676789e-06
#define S5 -2.50507602534068634195e-08
#define S6 1.58969099521155010221e-10
#define C1 4.16666666666666019037e-02
#define C2 -1.38888888888741095749e-03
#define C3 2.48015872894767294178e-05
#define C4 -2.75573143513906633035e-07
#define C5 2.08757232129817482790e-09
#define C6 -1.13596475577881948265e-11

/* cos(x - shift * pi/2): shift 0 is cos, 3 (one quadrant back) is sin. */
#define TRIG_LOOP                                                                              \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i];                                                               \
		double kd = __builtin_rint(v * INV_PIO2);                                      \
		double r = (((v - kd * PIO2_1) - kd * PIO2_2) - kd * PIO2_3) - kd * PIO2_3T;   \
		double qd = kd + shift;                                                        \
		qd -= 4.0 * __builtin_floor(qd * 0.25);          /* quadrant 0..3 */          \
		double odd = qd - 2.0 * __builtin_floor(qd * 0.5); /* 1, 3: the sine */        \
		double t = __builtin_floor((qd + 1.0) * 0.5);                                  \
		double neg = t - 2.0 * __builtin_floor(t * 0.5);   /* 1, 2: negated */         \
		double z = r * r, w3 = z * r;                                                  \
		double s = r + w3 * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * S6))))); \
		double pc = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));     \
		double hz = 0.5 * z, w = 1.0 - hz;                                             \
		double c = w + (((1.0 - w) - hz) + z * pc);                                    \
		s = v == 0.0 ? v : s;                              /* sin(-0.0) is -0.0 */    \
		double res = odd != 0.0 ? s : c;                                               \
		out[i] = neg != 0.0 ? -res : res;                                              \
	}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
#pragma GCC optimize("O3", "no-trapping-math")
static void trig_avx512(const double *restrict x, double *restrict out, size_t n, double shift)
{
	TRIG_LOOP
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("O3", "no-trapping-math")
static void trig_avx2(const double *restrict x, double *restrict out, size_t n, double shift)
{
	TRIG_LOOP
}
#pragma GCC pop_options
#endif

static void trig(const double *restrict x, double *restrict out, size_t n, int sine)
{
	double shift = sine ? 3.0 : 0.0;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
		trig_avx512(x, out, n, shift);
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		trig_avx2(x, out, n, shift);
	else
#endif
	{
		for (size_t i = 0; i < n; i++)
			out[i] = sine ? sin(x[i]) : cos(x[i]);
		return;
	}
	/* the rare lanes the reduction cannot serve */
	for (size_t i = 0; i < n; i++)
		if (!(fabs(x[i]) < REDUCE_MAX))
			out[i] = sine ? sin(x[i]) : cos(x[i]);
}

void k_cos_f64(const double *restrict x, double *restrict out, size_t n)
{
	trig(x, out, n, 0);
}

void k_sin_f64(const double *restrict x, double *restrict out, size_t n)
{
	trig(x, out, n, 1);
}
