/* SPDX-License-Identifier: MIT */
/*
 * exp: e^x (and tanh, cosh and sinh, built on it) over arrays, vectorized. x = k ln2 + r with k = round(x / ln2)
 * and |r| <= ln2/2, ln 2 split in a high part whose products with k are
 * exact and a low part (the classic fdlibm exp's reduction); then
 * e^r = 1 + r + r c / (2 - c) with c = r - r^2 P(r^2), P the minimax
 * polynomial of that exp, and 2^k goes straight into the exponent bits.
 * One formula for every lane, no branches, so the compiler vectorizes the
 * loop; vmath.h builds it for AVX-512 and for AVX2, which give the same
 * bits (no fused multiply-add is written, and ISO C mode keeps the
 * compiler from fusing). Where the result would be subnormal,
 * overflow or is not finite (|x| >= 707), and on other CPUs, libm serves.
 * Within 1 ulp of libm (a unit test checks it).
 */
#include "kernels.h"
#include "vmath.h"

#include <math.h>
#include <stdint.h>

#define LN2_HI 6.93147180369123816490e-01  /* 0x3fe62e42fee00000 */
#define LN2_LO 1.90821492927058770002e-10  /* 0x3dea39ef35793c76 */
#define INV_LN2 1.44269504088896338700e+00 /* 0x3ff71547652b82fe */
#define P1 1.66666666666666019037e-01      /* 0x3fc555555555553e */
#define P2 -2.77777777770155933842e-03     /* 0xbf66c16c16bebd93 */
#define P3 6.61375632143793436117e-05      /* 0x3f11566aaf25de2c */
#define P4 -1.65339022054652515390e-06     /* 0xbebbbd41c5d26bf1 */
#define P5 4.13813679705723846039e-08      /* 0x3e66376972bea4d0 */
/* Past this, 2^k leaves the normal range (k from -1020 to 1020 is safe for
 * y in [0.7, 1.42]). */
#define FAST_MAX 707.0

/* e^v for |v| < FAST_MAX, the formula above; inlined into the vector loops. */
static inline __attribute__((always_inline)) double exp_fast(double v)
{
	double kd = __builtin_rint(v * INV_LN2);
	double hi = v - kd * LN2_HI, lo = kd * LN2_LO;
	double r = hi - lo, t = r * r;
	double c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
	double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
	uint64_t yb;
	__builtin_memcpy(&yb, &y, 8);
	/* through int32: AVX2 has no 64-bit integer conversions; |kd| <= 1020 here */
	yb += (uint64_t)(int64_t)(int32_t)kd << 52;
	__builtin_memcpy(&y, &yb, 8);
	return y;
}

/* v + v z P(z), z = v^2, P by Horner from the highest of its @n coefficients @c: the odd series of
 * tanh and sinh below their splits (unrolled where it is inlined, as @n is a constant there). */
static inline __attribute__((always_inline)) double odd_series(double v, const double *c, int n)
{
	double z = v * v, p = c[0];
	for (int k = 1; k < n; k++)
		p = p * z + c[k];
	return v + v * (z * p);
}

/* @return non-zero when some lane is out of the fast range (or NaN): those
 * lanes are recomputed with libm. */
#define EXP_LOOP                                                                               \
	uint64_t bad = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i];                                                               \
		bool ok = __builtin_fabs(v) < FAST_MAX;                                        \
		bad |= !ok;                                                                    \
		out[i] = exp_fast(ok ? v : 0.0); /* 0: keeps the bit arithmetic in range */   \
	}                                                                                      \
	return bad != 0;

/*
 * tanh: below TANH_SPLIT, x + x^3 P(x^2) with P a minimax fit (Chebyshev,
 * degree 11 in x^2, fitted with mpmath at 50 digits; its error is under
 * 4e-18); above, 1 - 2 / (e^(2|x|) + 1), where no digits cancel
 * ((1 - t) / (1 + t) with t = e^(-2|x|) compounded to 3 ulp). Both are computed for every lane and one is kept. Past
 * FAST_MAX / 2 (and for NaN) libm serves; tanh is +-1 there anyway.
 */
#define TANH_SPLIT 0.625
static const double TANH_C[12] = {
	6.485163482793113e-06,
	-3.12011014257974e-05,
	9.257116129556769e-05,
	-0.0002375906496055562,
	0.0005896606577757043,
	-0.0014557754120478055,
	0.0035921217511549622,
	-0.008863235103240878,
	0.021869488519008305,
	-0.05396825396789699,
	0.13333333333333042,
	-0.3333333333333333,
};

#define TANH_LOOP                                                                              \
	uint64_t bad = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i], ax = __builtin_fabs(v);                                       \
		bool ok = ax < FAST_MAX / 2;                                                   \
		bad |= !ok;                                                                    \
		double u = exp_fast(ok ? 2.0 * ax : 0.0);                                      \
		double big = 1.0 - 2.0 / (u + 1.0);                                            \
		double small = odd_series(v, TANH_C, 12); /* sign: tanh(-0) is -0 */          \
		out[i] = __builtin_copysign(ax < TANH_SPLIT ? small : big, v);                 \
	}                                                                                      \
	return bad != 0;

/*
 * cosh: (u + 1/u) / 2 with u = e^|x|, which cancels nothing. sinh: below
 * SINH_SPLIT, x + x^3 Q(x^2) with Q a Chebyshev fit of degree 6 in x^2
 * (mpmath, 50 digits, error under 5e-22); above, (u - 1/u) / 2, where u is at
 * least 1.87 and 1/u at most 0.54. Past FAST_MAX (and for NaN) libm serves.
 */
#define SINH_SPLIT 0.625
static const double SINH_C[7] = {
	7.685695063321702e-13,
	1.6058836717591534e-10,
	2.505210893728216e-08,
	2.7557319223231262e-06,
	0.00019841269841270332,
	0.008333333333333333,
	0.16666666666666666,
};

#define COSH_LOOP                                                                              \
	uint64_t bad = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double ax = __builtin_fabs(x[i]);                                              \
		bool ok = ax < FAST_MAX;                                                       \
		bad |= !ok;                                                                    \
		double u = exp_fast(ok ? ax : 0.0);                                            \
		out[i] = 0.5 * (u + 1.0 / u);                                                  \
	}                                                                                      \
	return bad != 0;

#define SINH_LOOP                                                                              \
	uint64_t bad = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i], ax = __builtin_fabs(v);                                       \
		bool ok = ax < FAST_MAX;                                                       \
		bad |= !ok;                                                                    \
		double u = exp_fast(ok ? ax : 0.0);                                            \
		double big = 0.5 * (u - 1.0 / u);                                              \
		double small = odd_series(v, SINH_C, 7);                                       \
		out[i] = __builtin_copysign(ax < SINH_SPLIT ? small : big, v);                 \
	}                                                                                      \
	return bad != 0;

/* The lanes the loops leave to libm: |x| past the fast range, and NaN. */
static inline bool past_fast(double v)
{
	return !(fabs(v) < FAST_MAX);
}

static inline bool past_fast_half(double v)
{
	return !(fabs(v) < FAST_MAX / 2);
}

VMATH_BUILDS(exp, EXP_LOOP)
VMATH_BUILDS(tanh, TANH_LOOP)
VMATH_BUILDS(cosh, COSH_LOOP)
VMATH_BUILDS(sinh, SINH_LOOP)

VMATH_DISPATCH(exp, exp, past_fast)
VMATH_DISPATCH(tanh, tanh, past_fast_half)
VMATH_DISPATCH(cosh, cosh, past_fast)
VMATH_DISPATCH(sinh, sinh, past_fast)
