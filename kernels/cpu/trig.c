/* SPDX-License-Identifier: MIT */
/*
 * trig: sin and cos over arrays, vectorized, by one of two paths for each
 * block of values:
 * - a block whose values all lie in [-1, 1]: one polynomial on x itself,
 *   with no argument reduction (over [-1, 1] cos stays above 0.54 and
 *   sin(x)/x above 0.84, so nothing cancels); about twice as fast.
 * - any other block: x is reduced to r in [-pi/4, pi/4] with
 *   k = round(x * 2/pi) and pi/2 split in three parts (Cody and Waite),
 *   exact enough while |x| < 2^19 * pi/2; both minimax polynomials are
 *   evaluated for every lane (Horner, in fused multiply-adds) and the
 *   quadrant picks one, so the loop has no branch and the compiler
 *   vectorizes it.
 * Both paths are within an ulp of the true value, but not always the same
 * ulp, so a value in [-1, 1] may round differently with different
 * neighbours (numpy's SIMD loops and their scalar tails behave alike).
 * Sorting each value into its own path keeps results neighbour-free but
 * cost values on both sides of 1 about 60% more (AVX-512 compress and
 * expand, measured); k_cos_f64_fixed() is the neighbour-free entry, for
 * random.normal, whose values must not depend on the chunking.
 * The same loops are built for AVX-512 and for AVX2 with FMA and chosen at
 * run time; other CPUs, arguments beyond the reduction's range, infinities
 * and NaN use libm. Results are within 2 ulp of libm's (a unit test checks
 * it; within 1 on [-1, 1]), and the same on both vector widths: the fused
 * multiply-adds are written out, and ISO C mode keeps the compiler from
 * fusing any others.
 */
#include "kernels.h"
#include "isa.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

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
 * The short path's polynomials on |x| <= 1, Chebyshev fits (mpmath's
 * chebyfit, 7 terms in z = x^2; the fits' own error is below 4e-19):
 * cos x = 1 - z/2 + z^2 (KC0 + KC1 z + ...), sin x = x + x z (KS0 + KS1 z + ...).
 */
#define KC0 0.041666666666666664
#define KC1 -0.001388888888888887
#define KC2 2.4801587301557676e-05
#define KC3 -2.7557319206204856e-07
#define KC4 2.087675190511727e-09
#define KC5 -1.1469999475427464e-11
#define KC6 4.7251147064766145e-14
#define KS0 -0.16666666666666666
#define KS1 0.0083333333333333
#define KS2 -0.00019841269841216566
#define KS3 2.755731919201122e-06
#define KS4 -2.5052099244914114e-08
#define KS5 1.6057701922579786e-10
#define KS6 -7.549371704181243e-13
#define ONE_BITS 0x3ff0000000000000ull /* |x| <= 1 as bits of |x| */
#define BLK 2048 /* values that take one path together */

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
 * @return the largest |x| as bits: beyond REDUCE_MAX (or NaN), some lanes
 * are out of the reduction's range and are recomputed with libm.
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
	return top;

/* The short path: the cos kernel's rounding (w = 1 - z/2, then what that
 * dropped) keeps the result within an ulp. */
#define SMALL_LOOP(SINE)                                                                       \
	uint64_t top = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i], z = v * v;                                                    \
		uint64_t vb;                                                                   \
		__builtin_memcpy(&vb, &v, 8);                                                  \
		vb &= ~(1ull << 63);                                                           \
		top = vb > top ? vb : top;                                                     \
		if (SINE) {                                                                    \
			double p = __builtin_fma(z, KS6, KS5);                                 \
			p = __builtin_fma(z, p, KS4);                                          \
			p = __builtin_fma(z, p, KS3);                                          \
			p = __builtin_fma(z, p, KS2);                                          \
			p = __builtin_fma(z, p, KS1);                                          \
			p = __builtin_fma(z, p, KS0);                                          \
			double s = __builtin_fma(z * v, p, v);                                 \
			out[i] = v == 0.0 ? v : s; /* sin(-0.0) is -0.0 */                     \
		} else {                                                                       \
			double p = __builtin_fma(z, KC6, KC5);                                 \
			p = __builtin_fma(z, p, KC4);                                          \
			p = __builtin_fma(z, p, KC3);                                          \
			p = __builtin_fma(z, p, KC2);                                          \
			p = __builtin_fma(z, p, KC1);                                          \
			p = __builtin_fma(z, p, KC0);                                          \
			double hz = 0.5 * z, w = 1.0 - hz;                                     \
			out[i] = w + __builtin_fma(z, z * p, (1.0 - w) - hz);                  \
		}                                                                              \
	}                                                                                      \
	return top;

/* The smallest and largest |x| of a block, as bits (NaN's are above every
 * finite value's, so NaN goes the long way, to libm). */
#define BLOCK_RANGE(x, m, lo, hi)                                                              \
	do {                                                                                   \
		uint64_t l_ = UINT64_MAX, h_ = 0;                                              \
		for (size_t i_ = 0; i_ < (m); i_++) {                                          \
			uint64_t b_;                                                           \
			__builtin_memcpy(&b_, &(x)[i_], 8);                                    \
			b_ &= ~(1ull << 63);                                                   \
			l_ = b_ < l_ ? b_ : l_;                                                \
			h_ = b_ > h_ ? b_ : h_;                                                \
		}                                                                              \
		(lo) = l_;                                                                     \
		(hi) = h_;                                                                     \
	} while (0)

/*
 * A block whose values all lie in [-1, 1] takes the short path; any other
 * block, the long one. Both loops find the block's largest |x| as they go
 * (a pass of its own to find it first cost 12% on the long path), so a
 * block is tried on the path its predecessor needed and done again on the
 * other when that was wrong: a cost only where the data changes sides. The
 * guess carries over from call to call in @hint (one per thread and
 * function), as the tiles of one array come one call at a time; it changes
 * only the speed, never a result.
 */
#define SPLIT(SMALL, LONG, hint)                                                               \
	uint64_t worst = 0;                                                                    \
	int small = (hint);                                                                    \
	for (size_t b = 0; b < n; b += BLK) {                                                  \
		size_t m = n - b < BLK ? n - b : BLK;                                          \
		uint64_t top = small ? SMALL(x + b, out + b, m) : LONG(x + b, out + b, m);     \
		if (small && top > ONE_BITS)                                                   \
			top = LONG(x + b, out + b, m);                                         \
		else if (!small && top <= ONE_BITS)                                            \
			SMALL(x + b, out + b, m);                                              \
		small = top <= ONE_BITS;                                                       \
		worst = top > worst ? top : worst;                                             \
	}                                                                                      \
	(hint) = small;                                                                        \
	return worst;

static _Thread_local int cos_hint = 1, sin_hint = 1;

/* The six functions of one instruction set: each path alone, and the two by blocks. */
#define TRIG_FNS(isa)                                                                          \
	static uint64_t cos_small_##isa(const double *restrict x, double *restrict out, size_t n) \
	{                                                                                      \
		SMALL_LOOP(0)                                                                  \
	}                                                                                      \
	static uint64_t sin_small_##isa(const double *restrict x, double *restrict out, size_t n) \
	{                                                                                      \
		SMALL_LOOP(1)                                                                  \
	}                                                                                      \
	static uint64_t cos_long_##isa(const double *restrict x, double *restrict out, size_t n) \
	{                                                                                      \
		TRIG_LOOP(0)                                                                   \
	}                                                                                      \
	static uint64_t sin_long_##isa(const double *restrict x, double *restrict out, size_t n) \
	{                                                                                      \
		TRIG_LOOP(3)                                                                   \
	}                                                                                      \
	static uint64_t cos_##isa(const double *restrict x, double *restrict out, size_t n)   \
	{                                                                                      \
		SPLIT(cos_small_##isa, cos_long_##isa, cos_hint)                               \
	}                                                                                      \
	static uint64_t sin_##isa(const double *restrict x, double *restrict out, size_t n)   \
	{                                                                                      \
		SPLIT(sin_small_##isa, sin_long_##isa, sin_hint)                               \
	}

#if defined(__x86_64__)
K_ISA_BEGIN("avx512f,avx512dq,fma")
K_REGION_OPT("O3", "no-trapping-math")
TRIG_FNS(avx512)
K_ISA_END

K_ISA_BEGIN("avx2,fma")
K_REGION_OPT("O3", "no-trapping-math")
TRIG_FNS(avx2)
K_ISA_END
#endif

/* @fixed: every value by the long path, so that a value's result never
 * depends on its neighbours. */
static void trig(const double *restrict x, double *restrict out, size_t n, int sine, int fixed)
{
	uint64_t top;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
		if (fixed)
			top = (sine ? sin_long_avx512 : cos_long_avx512)(x, out, n);
		else
			top = (sine ? sin_avx512 : cos_avx512)(x, out, n);
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		if (fixed)
			top = (sine ? sin_long_avx2 : cos_long_avx2)(x, out, n);
		else
			top = (sine ? sin_avx2 : cos_avx2)(x, out, n);
	} else
#endif
	{
		for (size_t i = 0; i < n; i++)
			out[i] = sine ? sin(x[i]) : cos(x[i]);
		return;
	}
	double big;
	memcpy(&big, &top, 8);
	if (big < REDUCE_MAX)
		return;
	/* the rare lanes the reduction cannot serve */
	for (size_t i = 0; i < n; i++)
		if (!(fabs(x[i]) < REDUCE_MAX))
			out[i] = sine ? sin(x[i]) : cos(x[i]);
}

void k_cos_f64(const double *restrict x, double *restrict out, size_t n)
{
	trig(x, out, n, 0, 0);
}

void k_sin_f64(const double *restrict x, double *restrict out, size_t n)
{
	trig(x, out, n, 1, 0);
}

void k_cos_f64_fixed(const double *restrict x, double *restrict out, size_t n)
{
	trig(x, out, n, 0, 1);
}
