/* SPDX-License-Identifier: MIT */
/*
 * exp: e^x over arrays, vectorized. x = k ln2 + r with k = round(x / ln2)
 * and |r| <= ln2/2, ln 2 split in a high part whose products with k are
 * exact and a low part (the classic fdlibm exp's reduction); then
 * e^r = 1 + r + r c / (2 - c) with c = r - r^2 P(r^2), P the minimax
 * polynomial of that exp, and 2^k goes straight into the exponent bits.
 * One formula for every lane, no branches, so the compiler vectorizes the
 * loop; it is built for AVX-512 and for AVX2 and chosen at run time, and
 * both give the same bits (no fused multiply-add is written, and ISO C mode
 * keeps the compiler from fusing). Where the result would be subnormal,
 * overflow or is not finite (|x| >= 707), and on other CPUs, libm serves.
 * Within 1 ulp of libm (a unit test checks it).
 */
#include "kernels.h"

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

/* @return non-zero when some lane is out of the fast range (or NaN): those
 * lanes are recomputed with libm. */
#define EXP_LOOP                                                                               \
	uint64_t bad = 0;                                                                      \
	for (size_t i = 0; i < n; i++) {                                                       \
		double v = x[i];                                                               \
		bool ok = __builtin_fabs(v) < FAST_MAX;                                        \
		bad |= !ok;                                                                    \
		v = ok ? v : 0.0; /* keeps the bit arithmetic below in range */               \
		double kd = __builtin_rint(v * INV_LN2);                                       \
		double hi = v - kd * LN2_HI, lo = kd * LN2_LO;                                 \
		double r = hi - lo, t = r * r;                                                 \
		double c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));             \
		double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);                            \
		uint64_t yb;                                                                   \
		__builtin_memcpy(&yb, &y, 8);                                                  \
		/* through int32: AVX2 has no 64-bit integer conversions; |kd| <= 1020 here */ \
		yb += (uint64_t)(int64_t)(int32_t)kd << 52;                                    \
		__builtin_memcpy(&out[i], &yb, 8);                                             \
	}                                                                                      \
	return bad != 0;

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
#pragma GCC optimize("O3", "no-trapping-math")
static int exp_avx512(const double *restrict x, double *restrict out, size_t n)
{
	EXP_LOOP
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
#pragma GCC optimize("O3", "no-trapping-math")
static int exp_avx2(const double *restrict x, double *restrict out, size_t n)
{
	EXP_LOOP
}
#pragma GCC pop_options
#endif

void k_exp_f64(const double *restrict x, double *restrict out, size_t n)
{
	int bad;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
		bad = exp_avx512(x, out, n);
	else if (__builtin_cpu_supports("avx2"))
		bad = exp_avx2(x, out, n);
	else
#endif
	{
		for (size_t i = 0; i < n; i++)
			out[i] = exp(x[i]);
		return;
	}
	if (!bad)
		return;
	for (size_t i = 0; i < n; i++)
		if (!(fabs(x[i]) < FAST_MAX))
			out[i] = exp(x[i]);
}
