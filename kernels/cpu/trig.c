/* SPDX-License-Identifier: MIT */
/*
 * trig: sin and cos over arrays, vectorized. The argument is reduced to r in
 * [-pi/4, pi/4] with k = round(x * 2/pi) and pi/2 split in three parts
 * (Cody and Waite), exact enough while |x| < 2^19 * pi/2; both minimax
 * polynomials are evaluated for every lane (Horner, in fused multiply-adds)
 * and the quadrant picks one, so the loop has no branch and the compiler
 * vectorizes it. The same loop is built for AVX-512 and for AVX2 with FMA
 * and chosen at run time; other CPUs, arguments beyond the reduction's
 * range, infinities and NaN use libm. Results are within 2 ulp of libm's (a
 * unit test checks it), and the same on both vector widths: the fused
 * multiply-adds are written out, and ISO C mode keeps the compiler from
 * fusing any others.
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

/*
 * cos(x - SHIFT * pi/2): SHIFT 0 is cos, 3 (one quadrant back) is sin, a
 * constant, so that cos skips what only sin needs.
 * Every step is an IEEE operation or an explicit fused multiply-add, so
 * the AVX-512 and the AVX2+FMA builds give the same bits. The quadrant
 * comes out of kd's bits (adding 1.5 * 2^52 puts the integer in the low
 * mantissa bits, two's complement included), and the choice of polynomial
 * and the sign are bit operations, so the whole body is straight-line
 * vector code. The range check keeps the largest |x| as bits (an integer
 * maximum, one instruction; NaN's bits are above every finite value's).
 * @return non-zero when some x is out of the reduction's range (or not
 * finite): those lanes are recomputed with libm.
 */
#define TRIG_LOOP(SHIFT)                                                                       \
	uint64_t top = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i];                                                               \
		uint64_t vb;                                                                   \
		__builtin_memcpy(&vb, &v, 8);                                                  \
		vb &= ~(1ull << 63);                                                           \
		top = vb > top ? vb : top;                                                     \
		double kd = __builtin_rint(v * INV_PIO2);                                      \
		double r = __builtin_fma(-kd, PIO2_1, v);                                      \
		r = __builtin_fma(-kd, PIO2_2, r);                                             \
		r = __builtin_fma(-kd, PIO2_3, r);                                             \
		r = __builtin_fma(-kd, PIO2_3T, r);                                            \
		double kb = kd + 0x1.8p52;                                                     \
		uint64_t q;                                                                    \
		__builtin_memcpy(&q, &kb, 8);                                                  \
		q += (SHIFT);                                                                  \
		double z = r * r;                                                              \
		double p = __builtin_fma(z, S6, S5);                                           \
		p = __builtin_fma(z, p, S4);                                                   \
		p = __builtin_fma(z, p, S3);                                                   \
		p = __builtin_fma(z, p, S2);                                                   \
		p = __builtin_fma(z, p, S1);                                                   \
		double s = __builtin_fma(z * r, p, r);                                         \
		double pc = __builtin_fma(z, C6, C5);                                          \
		pc = __builtin_fma(z, pc, C4);                                                 \
		pc = __builtin_fma(z, pc, C3);                                                 \
		pc = __builtin_fma(z, pc, C2);                                                 \
		pc = __builtin_fma(z, pc, C1);                                                 \
		double hz = 0.5 * z, w = 1.0 - hz;                                             \
		double c = w + __builtin_fma(z, z * pc, (1.0 - w) - hz);                       \
		if ((SHIFT) != 0)                                                              \
			s = v == 0.0 ? v : s; /* sin(-0.0) is -0.0 */                          \
		uint64_t sb, cb;                                                               \
		__builtin_memcpy(&sb, &s, 8);                                                  \
		__builtin_memcpy(&cb, &c, 8);                                                  \
		uint64_t odd = 0 - (q & 1);            /* quadrants 1, 3: the sine */         \
		uint64_t rb = (sb & odd) | (cb & ~odd);                                        \
		rb ^= ((q + 1) & 2) << 62;             /* quadrants 1, 2: negated */          \
		__builtin_memcpy(&out[i], &rb, 8);                                             \
	}                                                                                      \
	double big;                                                                            \
	__builtin_memcpy(&big, &top, 8);                                                       \
	return !(big < REDUCE_MAX);

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,fma")
#pragma GCC optimize("O3", "no-trapping-math")
static int cos_avx512(const double *restrict x, double *restrict out, size_t n)
{
	TRIG_LOOP(0)
}

static int sin_avx512(const double *restrict x, double *restrict out, size_t n)
{
	TRIG_LOOP(3)
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("O3", "no-trapping-math")
static int cos_avx2(const double *restrict x, double *restrict out, size_t n)
{
	TRIG_LOOP(0)
}

static int sin_avx2(const double *restrict x, double *restrict out, size_t n)
{
	TRIG_LOOP(3)
}
#pragma GCC pop_options
#endif

static void trig(const double *restrict x, double *restrict out, size_t n, int sine)
{
	int bad;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
		bad = (sine ? sin_avx512 : cos_avx512)(x, out, n);
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		bad = (sine ? sin_avx2 : cos_avx2)(x, out, n);
	else
#endif
	{
		for (size_t i = 0; i < n; i++)
			out[i] = sine ? sin(x[i]) : cos(x[i]);
		return;
	}
	if (!bad)
		return;
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
