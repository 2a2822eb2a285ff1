/* SPDX-License-Identifier: MIT */
/*
 * log: the natural logarithm over arrays, vectorized. x = 2^k m with m in
 * [sqrt(2)/2, sqrt(2)), taken from the bits; with f = m - 1 and
 * s = f / (2 + f), log(1 + f) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R(s^2)),
 * R the minimax polynomial of the classic fdlibm log (its coefficients and
 * its split of ln 2 in a high part whose products with k are exact and a low
 * part). One formula for every lane, no branches, so the compiler vectorizes
 * the loop; vmath.h builds it for AVX-512 and for AVX2, which give the same
 * bits (no fused multiply-add is written, and ISO C mode keeps the compiler
 * from fusing). Zero, negative, subnormal, infinite and
 * NaN inputs, and other CPUs, use libm. Within 1 ulp of libm (a unit test
 * checks it over millions of values).
 */
#include "kernels.h"
#include "vmath.h"

#include <math.h>
#include <stdint.h>

#define LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000: k * LN2_HI is exact */
#define LN2_LO 1.90821492927058770002e-10 /* 0x3dea39ef35793c76 */
#define SQRT2 1.41421356237309504880

#define LG1 6.666666666666735130e-01 /* 0x3fe5555555555593 */
#define LG2 3.999999999940941908e-01 /* 0x3fd999999997fa04 */
#define LG3 2.857142874366239149e-01 /* 0x3fd2492494229359 */
#define LG4 2.222219843214978396e-01 /* 0x3fcc71c51d8e78af */
#define LG5 1.818357216161805012e-01 /* 0x3fc7466496cb03de */
#define LG6 1.531383769920937332e-01 /* 0x3fc39a09d078c69f */
#define LG7 1.479819860511658591e-01 /* 0x3fc2f112df3e5244 */

#define MANT_MASK 0x000fffffffffffffull
#define ONE_BITS 0x3ff0000000000000ull
#define HALF_BITS 0x3fe0000000000000ull

/*
 * The lanes a normal positive finite x serves; @return non-zero when some
 * x is not one (zero, negative, subnormal, infinite, NaN): those lanes are
 * recomputed with libm.
 */
#define LOG_LOOP                                                                               \
	uint64_t bad = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i];                                                               \
		uint64_t b;                                                                    \
		__builtin_memcpy(&b, &v, 8);                                                   \
		uint64_t e = b >> 52; /* the sign is bit 11: negatives are "large" */         \
		bad |= (uint64_t)(e - 1 >= 0x7fe);                                             \
		uint64_t mb = (b & MANT_MASK) | ONE_BITS; /* m in [1, 2) */                    \
		double m;                                                                      \
		__builtin_memcpy(&m, &mb, 8);                                                  \
		uint64_t big = 0 - (uint64_t)(m > SQRT2);                                      \
		mb = (b & MANT_MASK) | (HALF_BITS & big) | (ONE_BITS & ~big);                  \
		__builtin_memcpy(&m, &mb, 8);                                                  \
		/* int32 so that AVX2, which has no 64-bit integer conversions, vectorizes it */ \
		double dk = (double)((int32_t)(e & 0x7ff) - 1023 + (int32_t)(big & 1));        \
		double f = m - 1.0;                                                            \
		double s = f / (2.0 + f);                                                      \
		double z = s * s, w = z * z;                                                   \
		double t1 = w * (LG2 + w * (LG4 + w * LG6));                                   \
		double t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));                       \
		double r = t2 + t1, hfsq = 0.5 * f * f;                                        \
		out[i] = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);          \
	}                                                                                      \
	return bad != 0;

/* The lanes the loop leaves to libm: zero, negative, subnormal, infinite, NaN (its own test). */
static inline bool not_normal_positive(double v)
{
	uint64_t b;
	__builtin_memcpy(&b, &v, 8);
	return (b >> 52) - 1 >= 0x7fe;
}

VMATH_BUILDS(log, LOG_LOOP)
VMATH_DISPATCH(log, log, not_normal_positive)
