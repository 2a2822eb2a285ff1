/* SPDX-License-Identifier: MIT */
/*
 * format: numpy's repr of float64 and float32 scalars: the shortest decimal
 * that reads back to the same value, laid out as numpy (1.14 and later) lays
 * it out, so output that users compare with numpy's matches it character
 * for character.
 *
 * DESIGN: the digits come from the free-format algorithm of Steele & White
 * as refined by Burger & Dybvig ("Printing floating-point numbers quickly
 * and accurately", PLDI 1996), in exact integer arithmetic: the value and
 * the half-gaps to its neighbours are scaled into big integers r / s, m+ / s
 * and m- / s, and digits are produced until the digits so far, or the digits
 * so far with the last one raised, fall strictly inside the rounding
 * interval of the value. The interval's ends count as inside when the
 * mantissa is even, because a correctly rounding reader (strtod, numpy)
 * breaks the tie at an end towards the even mantissa; so 1e23 prints as
 * "1e+23" although it lies exactly halfway between two doubles. When both
 * candidates qualify, the closer one is taken. Binary exponents in
 * [-110, 56] (|v| from about 3.5e-18 to 6.5e32 for doubles, which includes
 * numpy's positional range) run the algorithm in native 128-bit integers,
 * 60-180 ns a value; the rest use stack-allocated big integers sized for
 * the widest double, up to about 3 us near the ends of the double range.
 * Checked against numpy 1.24's repr() on over a million doubles and floats
 * of every exponent, with no difference.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

/* 1280 bits: r, s and the margins of a double stay below about 1120 bits
 * (s = 2^1076 for the smallest subnormals, r = 2 f 10^325 while k's
 * estimate is two low, plus the normalising shift of shortest_big()). */
#define BIG_WORDS 40

/* An unsigned integer as little-endian 32-bit words; w[len - 1] != 0. */
struct big {
	uint32_t w[BIG_WORDS];
	int len; /* words in use; 0 for zero */
};

static void big_set(struct big *b, uint64_t v)
{
	b->len = 0;
	while (v) {
		b->w[b->len++] = (uint32_t)v;
		v >>= 32;
	}
}

/* @b *= 2^@k. */
static void big_shl(struct big *b, int k)
{
	if (b->len == 0)
		return;
	int words = k / 32, bits = k % 32;
	int len = b->len + words + 1;
	b->w[len - 1] = 0;
	for (int i = b->len - 1; i >= 0; i--) {
		uint64_t v = (uint64_t)b->w[i] << bits;
		b->w[i + words + 1] |= (uint32_t)(v >> 32);
		b->w[i + words] = (uint32_t)v;
	}
	for (int i = 0; i < words; i++)
		b->w[i] = 0;
	b->len = len;
	while (b->len && !b->w[b->len - 1])
		b->len--;
}

/* @b *= @m. */
static void big_mul(struct big *b, uint32_t m)
{
	uint64_t carry = 0;
	for (int i = 0; i < b->len; i++) {
		uint64_t v = (uint64_t)b->w[i] * m + carry;
		b->w[i] = (uint32_t)v;
		carry = v >> 32;
	}
	if (carry)
		b->w[b->len++] = (uint32_t)carry;
}

/* @b *= 10^@k, @k >= 0. */
static void big_mul_pow10(struct big *b, int k)
{
	static const uint32_t pow10[10] = { 1,	    10,	     100,      1000,	  10000,
					    100000, 1000000, 10000000, 100000000, 1000000000 };
	for (; k >= 9; k -= 9)
		big_mul(b, pow10[9]);
	big_mul(b, pow10[k]);
}

static int big_cmp(const struct big *a, const struct big *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	for (int i = a->len - 1; i >= 0; i--)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

/* @out = @a + @b (@out may be @a or @b). */
static void big_add(struct big *out, const struct big *a, const struct big *b)
{
	const struct big *lo = a->len < b->len ? a : b, *hi = a->len < b->len ? b : a;
	int n = hi->len, nlo = lo->len;
	uint64_t carry = 0;
	for (int i = 0; i < n; i++) {
		uint64_t v = (uint64_t)hi->w[i] + (i < nlo ? lo->w[i] : 0) + carry;
		out->w[i] = (uint32_t)v;
		carry = v >> 32;
	}
	out->len = n;
	if (carry)
		out->w[out->len++] = (uint32_t)carry;
}

/* @a -= @b, where @a >= @b. */
static void big_sub(struct big *a, const struct big *b)
{
	int64_t borrow = 0;
	for (int i = 0; i < a->len; i++) {
		int64_t v = (int64_t)a->w[i] - (i < b->len ? b->w[i] : 0) - borrow;
		borrow = v < 0;
		a->w[i] = (uint32_t)(v + (borrow << 32));
	}
	while (a->len && !a->w[a->len - 1])
		a->len--;
}

/* -1, 0 or 1 as @a + @b compares with @c. */
static int big_cmp_sum(const struct big *a, const struct big *b, const struct big *c)
{
	struct big t;
	big_add(&t, a, b);
	return big_cmp(&t, c);
}

/* @a -= @q * @b, where the result is known to be >= 0. */
static void big_mulsub(struct big *a, const struct big *b, uint32_t q)
{
	uint64_t carry = 0;
	int64_t borrow = 0;
	for (int i = 0; i < a->len; i++) {
		uint64_t p = (i < b->len ? (uint64_t)b->w[i] * q : 0) + carry;
		carry = p >> 32;
		int64_t v = (int64_t)a->w[i] - (int64_t)(uint32_t)p - borrow;
		borrow = v < 0;
		a->w[i] = (uint32_t)(v + (borrow << 32));
	}
	while (a->len && !a->w[a->len - 1])
		a->len--;
}

/*
 * Digit generation, the same in both arithmetics below. The state is
 * r / s = v's digits not yet produced, m+ / s and m- / s = the half-gaps to
 * v's neighbours, all scaled by 10^-k so that r + m+ < s (<= s when even).
 * Each pass takes digit d = floor(10 r / s) and stops when d is within the
 * lower half-gap ("low": d alone reads back) or d + 1 is within the upper
 * one ("high"). Invariants: r < s and m- <= m+ <= s at the top of a pass,
 * so no value reaches 20 s.
 */

/* The general path, for any double or float. */
static int shortest_big(uint64_t f, int e, bool unequal, bool even, int k, char *digits,
			int *k_out)
{
	struct big r, s, mplus, mminus;
	big_set(&r, f);
	if (e >= 0) {
		big_shl(&r, e + (unequal ? 2 : 1));
		big_set(&s, unequal ? 4 : 2);
		big_set(&mplus, 1);
		big_shl(&mplus, e + (unequal ? 1 : 0));
		big_set(&mminus, 1);
		big_shl(&mminus, e);
	} else {
		big_shl(&r, unequal ? 2 : 1);
		big_set(&s, 1);
		big_shl(&s, -e + (unequal ? 2 : 1));
		big_set(&mplus, unequal ? 2 : 1);
		big_set(&mminus, 1);
	}
	if (k >= 0) {
		big_mul_pow10(&s, k);
	} else {
		big_mul_pow10(&r, -k);
		big_mul_pow10(&mplus, -k);
		big_mul_pow10(&mminus, -k);
	}
	for (;;) { /* @k was low */
		int c = big_cmp_sum(&r, &mplus, &s);
		if (even ? c < 0 : c <= 0)
			break;
		big_mul(&s, 10);
		k++;
	}
	for (;;) { /* @k was high */
		struct big t;
		big_add(&t, &r, &mplus);
		big_mul(&t, 10);
		int c = big_cmp(&t, &s);
		if (even ? c >= 0 : c > 0)
			break;
		big_mul(&r, 10);
		big_mul(&mplus, 10);
		big_mul(&mminus, 10);
		k--;
	}
	*k_out = k;

	/* Scale all four so that s's top word lies in [2^27, 2^28): then
	 * r < 10 s has no more words than s, and the top words alone estimate
	 * each digit to within one. */
	int top_bit = 31 - __builtin_clz(s.w[s.len - 1]);
	int shift = top_bit <= 27 ? 27 - top_bit : 59 - top_bit;
	big_shl(&r, shift);
	big_shl(&s, shift);
	big_shl(&mplus, shift);
	big_shl(&mminus, shift);

	int n = 0;
	for (;;) {
		big_mul(&r, 10);
		big_mul(&mplus, 10);
		big_mul(&mminus, 10);
		uint32_t d = r.len < s.len ? 0 : r.w[s.len - 1] / (s.w[s.len - 1] + 1);
		if (d)
			big_mulsub(&r, &s, d);
		if (big_cmp(&r, &s) >= 0) {
			big_sub(&r, &s);
			d++;
		}
		int clo = big_cmp(&r, &mminus);
		int chi = big_cmp_sum(&r, &mplus, &s);
		bool low = even ? clo <= 0 : clo < 0;
		bool high = even ? chi >= 0 : chi > 0;
		if (!low && !high) {
			digits[n++] = (char)('0' + d);
			continue;
		}
		if (low && high) {
			/* Both read back: the closer, 2r against s; a tie cannot
			 * occur for binary formats but would go to even. */
			big_shl(&r, 1);
			int c = big_cmp(&r, &s);
			high = c > 0 || (c == 0 && (d & 1));
		}
		digits[n++] = (char)('0' + d + (high ? 1 : 0));
		return n;
	}
}

/* 10^@k as a 128-bit integer, 0 <= k <= 38. */
static unsigned __int128 pow10_u128(int k)
{
	static const uint64_t p[20] = { 1ull,
					10ull,
					100ull,
					1000ull,
					10000ull,
					100000ull,
					1000000ull,
					10000000ull,
					100000000ull,
					1000000000ull,
					10000000000ull,
					100000000000ull,
					1000000000000ull,
					10000000000000ull,
					100000000000000ull,
					1000000000000000ull,
					10000000000000000ull,
					100000000000000000ull,
					1000000000000000000ull,
					10000000000000000000ull };
	return k <= 19 ? p[k] : (unsigned __int128)p[19] * p[k - 19];
}

static double u128_to_double(unsigned __int128 x)
{
	return (double)(uint64_t)(x >> 64) * 0x1p64 + (double)(uint64_t)x;
}

/*
 * The same in native 128-bit integers, for binary exponents in
 * [U128_MIN_E, U128_MAX_E]: there s stays below 2^119 even while k is
 * being corrected, so 20 s fits. That covers numpy's whole positional
 * range and then some, at a fraction of the general path's cost.
 */
#define U128_MIN_E (-110)
#define U128_MAX_E 56
static int shortest_u128(uint64_t f, int e, bool unequal, bool even, int k, char *digits,
			 int *k_out)
{
	unsigned __int128 one = 1, r = f, s, mplus, mminus;
	if (e >= 0) {
		r <<= e + (unequal ? 2 : 1);
		s = unequal ? 4 : 2;
		mplus = one << (e + (unequal ? 1 : 0));
		mminus = one << e;
	} else {
		r <<= unequal ? 2 : 1;
		s = one << (-e + (unequal ? 2 : 1));
		mplus = unequal ? 2 : 1;
		mminus = 1;
	}
	if (k >= 0) {
		s *= pow10_u128(k);
	} else {
		unsigned __int128 p = pow10_u128(-k);
		r *= p;
		mplus *= p;
		mminus *= p;
	}
	while (even ? r + mplus >= s : r + mplus > s) { /* @k was low */
		s *= 10;
		k++;
	}
	while (even ? (r + mplus) * 10 < s : (r + mplus) * 10 <= s) { /* @k was high */
		r *= 10;
		mplus *= 10;
		mminus *= 10;
		k--;
	}
	*k_out = k;

	/* Each digit from a floating-point estimate of 10 r / s, exact
	 * except within about 2^-50 of an integer, then corrected. */
	double inv_s = 1.0 / u128_to_double(s);
	int n = 0;
	for (;;) {
		r *= 10;
		mplus *= 10;
		mminus *= 10;
		int d = (int)(u128_to_double(r) * inv_s);
		d = d > 9 ? 9 : d;
		unsigned __int128 q = s * (unsigned)d;
		if (q > r) {
			d--;
			q -= s;
		} else if (r - q >= s) {
			d++;
			q += s;
		}
		r -= q;
		bool low = even ? r <= mminus : r < mminus;
		bool high = even ? r + mplus >= s : r + mplus > s;
		if (!low && !high) {
			digits[n++] = (char)('0' + d);
			continue;
		}
		if (low && high)
			high = 2 * r > s || (2 * r == s && (d & 1));
		digits[n++] = (char)('0' + d + (high ? 1 : 0));
		return n;
	}
}

/*
 * The shortest digits of v = @f * 2^@e (f > 0), for a format whose
 * mantissas have @prec bits and whose smallest exponent is @min_e, into
 * @digits (no NUL). *@k receives the decimal exponent such that
 * v = 0.d1d2... * 10^k, rounded. @return the number of digits.
 */
static int shortest_digits(uint64_t f, int e, int prec, int min_e, char *digits, int *k)
{
	/* A power of two above the smallest exponent has a gap below it half
	 * the gap above: the margins differ. */
	bool unequal = f == (uint64_t)1 << (prec - 1) && e > min_e;
	bool even = (f & 1) == 0;

	/* k, the number of digits before the point, is the smallest integer
	 * with v + m+ < 10^k (<= when even). Start from floor(log10 2^b) + 1
	 * for v's binary exponent b (78913 / 2^18 ~ log10 2, exact enough for
	 * |b| < 1650), which the paths correct by a step or two. */
	int b = e + 63 - __builtin_clzll(f);
	int t = b * 78913;
	int k0 = (t >= 0 ? t >> 18 : -((-t + (1 << 18) - 1) >> 18)) + 1;
	if (e >= U128_MIN_E && e <= U128_MAX_E)
		return shortest_u128(f, e, unequal, even, k0, digits, k);
	return shortest_big(f, e, unequal, even, k0, digits, k);
}

/* Writes @s into @out if it fits. @return its length or -1. */
static int emit(const char *s, int len, char *out, size_t out_len)
{
	if ((size_t)len >= out_len) {
		if (out_len)
			out[0] = '\0';
		return -1;
	}
	memcpy(out, s, (size_t)len + 1);
	return len;
}

/*
 * numpy's layout of the digits @d[0..@n) of 0.d * 10^@k: positional
 * ("123.45", "1000.0", "0.00012") or scientific with the trailing ".0"
 * trimmed and at least two exponent digits ("1e+16", "1.5e-05", "5e-324").
 */
static int layout(bool neg, const char *d, int n, int k, bool positional, char *out,
		  size_t out_len)
{
	char buf[64];
	int len = 0;
	if (neg)
		buf[len++] = '-';
	if (positional) {
		if (k <= 0) {
			buf[len++] = '0';
			buf[len++] = '.';
			for (int i = 0; i < -k; i++)
				buf[len++] = '0';
			for (int i = 0; i < n; i++)
				buf[len++] = d[i];
		} else {
			for (int i = 0; i < k; i++)
				buf[len++] = i < n ? d[i] : '0';
			buf[len++] = '.';
			if (n > k)
				for (int i = k; i < n; i++)
					buf[len++] = d[i];
			else
				buf[len++] = '0';
		}
	} else {
		buf[len++] = d[0];
		if (n > 1) {
			buf[len++] = '.';
			for (int i = 1; i < n; i++)
				buf[len++] = d[i];
		}
		int x = k - 1;
		buf[len++] = 'e';
		buf[len++] = x < 0 ? '-' : '+';
		x = x < 0 ? -x : x;
		if (x >= 100)
			buf[len++] = (char)('0' + x / 100);
		buf[len++] = (char)('0' + x / 10 % 10);
		buf[len++] = (char)('0' + x % 10);
	}
	buf[len] = '\0';
	return emit(buf, len, out, out_len);
}

/* numpy's choice: positional for zero and 1e-4 <= |v| < 1e16, compared in
 * long double as numpy does (which matters for float32: 1e-4f < 1e-4). */
static bool use_positional(long double a)
{
	return a == 0 || (a >= 1e-4L && a < 1e16L);
}

int k_format_double(double v, char *out, size_t out_len)
{
	if (isnan(v))
		return emit("nan", 3, out, out_len);
	if (isinf(v))
		return v < 0 ? emit("-inf", 4, out, out_len) : emit("inf", 3, out, out_len);
	bool neg = signbit(v);
	if (v == 0)
		return neg ? emit("-0.0", 4, out, out_len) : emit("0.0", 3, out, out_len);
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	uint64_t frac = bits & (((uint64_t)1 << 52) - 1);
	int bexp = (int)(bits >> 52 & 0x7ff);
	/* v = f * 2^e with an integer f; subnormals have no hidden bit. */
	uint64_t f = bexp ? frac | (uint64_t)1 << 52 : frac;
	int e = (bexp ? bexp : 1) - 1075;
	char d[32];
	int k;
	int n = shortest_digits(f, e, 53, -1074, d, &k);
	return layout(neg, d, n, k, use_positional(fabsl((long double)v)), out, out_len);
}

int k_format_float32(float v, char *out, size_t out_len)
{
	if (isnan(v))
		return emit("nan", 3, out, out_len);
	if (isinf(v))
		return v < 0 ? emit("-inf", 4, out, out_len) : emit("inf", 3, out, out_len);
	bool neg = signbit(v);
	if (v == 0)
		return neg ? emit("-0.0", 4, out, out_len) : emit("0.0", 3, out, out_len);
	uint32_t bits;
	memcpy(&bits, &v, sizeof bits);
	uint32_t frac = bits & ((1u << 23) - 1);
	int bexp = (int)(bits >> 23 & 0xff);
	uint64_t f = bexp ? frac | 1u << 23 : frac;
	int e = (bexp ? bexp : 1) - 150;
	char d[32];
	int k;
	int n = shortest_digits(f, e, 24, -149, d, &k);
	return layout(neg, d, n, k, use_positional(fabsl((long double)v)), out, out_len);
}
