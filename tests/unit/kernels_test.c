/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for kernels/: ARS known answers and the fillers' chunk
 * invariance and statistics, numpy-compatible reductions, and numpy's repr
 * of floats (a table checked against numpy 1.24's repr()).
 */
#include "test.h"
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator for test inputs and piece sizes. */
static uint64_t lcg_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

static double lcg_unit(uint64_t *s)
{
	return (double)lcg_next(s) / 9007199254740992.0;
}

static void test_ars_kat(void)
{
	/* Random123's kat_vectors, "ars4x32 10" lines: ctr[4] key[4] -> out[4]. */
	static const struct {
		uint32_t ctr[4], key[4], out[4];
	} kat[] = {
		{ { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0x8d73ee19, 0x506401ef, 0x13c2dbe4, 0x0cbe9c0d } },
		{ { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 },
		  { 0xa4093822, 0x299f31d0, 0x082efa98, 0xec4e6c89 },
		  { 0xa516e7d6, 0x8357ad74, 0x5b59b3ec, 0x8763fff3 } },
		{ { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
		  { 0xffffffff, 0xffffffff, 0, 0 },
		  { 0xbb3743b1, 0x9f635551, 0xecbc87fc, 0xa19478a9 } },
	};
	for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
		uint32_t out[4];
		k_ars4x32(10, kat[i].key, kat[i].ctr, out);
		CHECK(memcmp(out, kat[i].out, sizeof out) == 0);
		k_ars4x32_portable(10, kat[i].key, kat[i].ctr, out);
		CHECK(memcmp(out, kat[i].out, sizeof out) == 0);
	}
	/* In place. */
	uint32_t io[4] = { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 };
	k_ars4x32(10, kat[1].key, io, io);
	CHECK(memcmp(io, kat[1].out, sizeof io) == 0);
	/* Every round count, on arbitrary blocks: the CPU's instructions and the portable rounds agree. */
	uint64_t s = 7;
	for (int t = 0; t < 200; t++) {
		uint32_t key[4], ctr[4], a[4], b[4];
		for (int w = 0; w < 4; w++)
			key[w] = (uint32_t)lcg_next(&s), ctr[w] = (uint32_t)lcg_next(&s);
		int rounds = 1 + t % 10;
		k_ars4x32(rounds, key, ctr, a);
		k_ars4x32_portable(rounds, key, ctr, b);
		CHECK(memcmp(a, b, sizeof a) == 0);
	}
}

/* Half @h of the recipe's block of counter (c, stream, word3), by the portable rounds. */
static uint64_t recipe_half(uint64_t seed, uint64_t c, uint32_t stream, uint32_t word3, int h)
{
	uint32_t key[4] = { (uint32_t)seed, (uint32_t)(seed >> 32), 0, 0 };
	uint32_t ctr[4] = { (uint32_t)c, (uint32_t)(c >> 32), stream, word3 }, b[4];
	k_ars4x32_portable(K_ARS_ROUNDS, key, ctr, b);
	return (uint64_t)b[2 * h + 1] << 32 | b[2 * h];
}

/* The recipe of kernels.h, element by element, against the bulk fillers
 * (whose vector paths cover 32-block groups, groups cut by the range, and
 * the tails after them). */
static void test_rand_recipe(void)
{
	uint64_t seed = 0x0123456789abcdefull;
	enum { N = 300 };
	double u[N], z[N];
	float uf[N];
	int64_t q[N];
	/* every path this CPU has (VAES, AES-NI, the portable round), and an odd first index that
	 * crosses 2^32 */
	for (int isa = 2; isa >= 0; isa--)
	for (uint64_t first = 0xffffff71ull; first <= 0xffffff72ull; first++) {
		int got = k_rand_cap_isa(isa);
		CHECK(got <= isa);
		k_rand_uniform(seed, first, N, -1.0, 2.0, u);
		k_rand_uniform_f32(seed, first, N, -1.0f, 2.0f, uf);
		k_rand_normal(seed, first, N, 0.0, 1.0, z);
		k_rand_integers(seed, first, N, 0, 1000, q);
		for (int j = 0; j < N; j++) {
			uint64_t i = first + (uint64_t)j;
			uint64_t w = recipe_half(seed, i >> 1, K_STREAM_UNIFORM, 0, (int)(i & 1));
			CHECK(u[j] == -1.0 + 3.0 * ((double)(w >> 11) * 0x1p-53));
			CHECK(uf[j] == -1.0f + 3.0f * ((float)(w >> 40) * 0x1p-24f));

			double u1 = (double)((recipe_half(seed, i, K_STREAM_NORMAL, 0, 0) >> 11) + 1) * 0x1p-53;
			double u2 = (double)(recipe_half(seed, i, K_STREAM_NORMAL, 0, 1) >> 11) * 0x1p-53;
			double angle = 6.283185307179586 * u2, lg, c;
			k_log_f64(&u1, &lg, 1);
			k_cos_f64_fixed(&angle, &c, 1);
			CHECK(z[j] == 0.0 + 1.0 * (sqrt(-2.0 * lg) * c));

			w = recipe_half(seed, i, K_STREAM_INTEGERS, 0, 0);
			/* Span 1000 rejects with probability 616 / 2^64: the first half serves. */
			CHECK(q[j] == (int64_t)(((unsigned __int128)w * 1000) >> 64));
		}
	}
	k_rand_cap_isa(2);
}

/* Runs @call_piece for consecutive pieces [at_, at_ + len_) of [0, N) of
 * random sizes (some empty), then @call_whole once: the two calls name the
 * piece by at_ and len_. */
#define FILL_IN_PIECES(call_whole, call_piece)                                  \
	do {                                                                    \
		uint64_t s_ = 99;                                               \
		size_t at_ = 0;                                                 \
		while (at_ < N) {                                               \
			size_t len_ = (size_t)(lcg_next(&s_) % 41);             \
			if (len_ > N - at_)                                     \
				len_ = N - at_;                                 \
			call_piece;                                             \
			at_ += len_;                                            \
		}                                                               \
		call_whole;                                                     \
	} while (0)

static void test_rand_chunk_invariance(void)
{
	enum { N = 5000 };
	const uint64_t seed = 42, first = 0xffffff00ull;
	double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
	float *fa = malloc(N * sizeof *fa), *fb = malloc(N * sizeof *fb);
	int64_t *qa = malloc(N * sizeof *qa), *qb = malloc(N * sizeof *qb);

	FILL_IN_PIECES(k_rand_uniform(seed, first, N, -1.0, 2.0, a),
		       k_rand_uniform(seed, first + at_, len_, -1.0, 2.0, b + at_));
	CHECK(memcmp(a, b, N * sizeof *a) == 0);
	FILL_IN_PIECES(k_rand_uniform_f32(seed, first, N, -1.0f, 2.0f, fa),
		       k_rand_uniform_f32(seed, first + at_, len_, -1.0f, 2.0f, fb + at_));
	CHECK(memcmp(fa, fb, N * sizeof *fa) == 0);
	FILL_IN_PIECES(k_rand_normal(seed, first, N, 3.0, 0.5, a),
		       k_rand_normal(seed, first + at_, len_, 3.0, 0.5, b + at_));
	CHECK(memcmp(a, b, N * sizeof *a) == 0);
	FILL_IN_PIECES(k_rand_integers(seed, first, N, -7, 1000003, qa),
		       k_rand_integers(seed, first + at_, len_, -7, 1000003, qb + at_));
	CHECK(memcmp(qa, qb, N * sizeof *qa) == 0);
	/* A span of 2^63 + 1 rejects about half the candidates, so the retry
	 * path (counter word 3 = 1, 2, ...) runs often; still invariant. */
	const int64_t lo = -(INT64_C(1) << 62) - 1, hi = INT64_C(1) << 62;
	FILL_IN_PIECES(k_rand_integers(seed, first, N, lo, hi, qa),
		       k_rand_integers(seed, first + at_, len_, lo, hi, qb + at_));
	CHECK(memcmp(qa, qb, N * sizeof *qa) == 0);
	size_t below_mid = 0;
	for (size_t i = 0; i < N; i++) {
		CHECK(qa[i] >= lo && qa[i] < hi);
		below_mid += qa[i] < 0;
	}
	/* Half below zero, within 5 sigma (sigma = sqrt(N) / 2 ~ 35). */
	CHECK(below_mid > N / 2 - 180 && below_mid < N / 2 + 180);

	/* Different seeds and streams differ. */
	k_rand_uniform(seed, 0, N, 0.0, 1.0, a);
	k_rand_uniform(seed + 1, 0, N, 0.0, 1.0, b);
	CHECK(memcmp(a, b, N * sizeof *a) != 0);
	free(a), free(b), free(fa), free(fb), free(qa), free(qb);
}

static void test_rand_uniform_stats(void)
{
	enum { N = 1000000 };
	double *x = malloc(N * sizeof *x);
	k_rand_uniform(7, 0, N, -2.0, 3.0, x);
	long double s = 0, s2 = 0;
	bool in_range = true;
	for (size_t i = 0; i < N; i++) {
		in_range &= x[i] >= -2.0 && x[i] < 3.0;
		double u = (x[i] + 2.0) / 5.0;
		s += u;
		s2 += (long double)u * u;
	}
	CHECK(in_range);
	double mean = (double)(s / N), var = (double)(s2 / N) - mean * mean;
	/* U(0,1): mean 1/2, sd of the mean sqrt(1/12 / N); variance 1/12, sd of
	 * the sample variance sqrt((1/80 - 1/144) / N). */
	CHECK(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / N));
	CHECK(fabs(var - 1.0 / 12) < 5 * sqrt((1.0 / 80 - 1.0 / 144) / N));

	float *f = malloc(N * sizeof *f);
	k_rand_uniform_f32(7, 0, N, 0.0f, 1.0f, f);
	s = 0;
	for (size_t i = 0; i < N; i++) {
		in_range &= f[i] >= 0.0f && f[i] < 1.0f;
		s += f[i];
	}
	CHECK(in_range);
	CHECK(fabs((double)(s / N) - 0.5) < 5 * sqrt(1.0 / 12 / N));
	free(x), free(f);
}

static void test_rand_normal_stats(void)
{
	enum { N = 1000000 };
	double *x = malloc(N * sizeof *x);
	k_rand_normal(11, 0, N, 10.0, 2.0, x);
	long double s = 0, s2 = 0;
	bool finite = true;
	for (size_t i = 0; i < N; i++) {
		double z = (x[i] - 10.0) / 2.0;
		finite &= isfinite(z) && fabs(z) < 8.6;
		s += z;
		s2 += (long double)z * z;
	}
	CHECK(finite);
	double mean = (double)(s / N), var = (double)(s2 / N) - mean * mean;
	/* N(0,1): sd of the mean 1/sqrt(N); of the sample variance sqrt(2 / N). */
	CHECK(fabs(mean) < 5 / sqrt(N));
	CHECK(fabs(var - 1.0) < 5 * sqrt(2.0 / N));
	free(x);
}

static void test_rand_integers_stats(void)
{
	enum { N = 1000000, K = 10 };
	int64_t *q = malloc(N * sizeof *q);
	k_rand_integers(3, 0, N, -5, 5, q);
	size_t count[K] = { 0 };
	bool in_range = true;
	for (size_t i = 0; i < N; i++) {
		in_range &= q[i] >= -5 && q[i] < 5;
		if (q[i] >= -5 && q[i] < 5)
			count[q[i] + 5]++;
	}
	CHECK(in_range);
	double chi2 = 0;
	for (int b = 0; b < K; b++) {
		CHECK(count[b] > 0); /* every value of [lo, hi) occurs */
		double d = (double)count[b] - N / K;
		chi2 += d * d / (N / K);
	}
	/* 9 degrees of freedom: P(chi2 > 45) is about 1e-6. */
	CHECK(chi2 < 45);

	/* Extreme spans: one value; the whole int64 range but one. */
	k_rand_integers(3, 0, 100, 7, 8, q);
	for (int i = 0; i < 100; i++)
		CHECK(q[i] == 7);
	k_rand_integers(3, 0, 1000, INT64_MIN, INT64_MAX, q);
	size_t neg = 0;
	for (int i = 0; i < 1000; i++) {
		CHECK(q[i] != INT64_MAX);
		neg += q[i] < 0;
	}
	CHECK(neg > 400 && neg < 600);
	free(q);
}

/* numpy's pairwise sum written out plainly: the order k_sum_f64 must keep, whatever the vector width. */
static double ref_pairwise(const double *x, size_t n)
{
	if (n < 8) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += x[i];
		return s;
	}
	if (n <= 128) {
		double r[8];
		for (int j = 0; j < 8; j++)
			r[j] = x[j];
		size_t i = 8;
		for (; i + 8 <= n; i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += x[i + j];
		double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			s += x[i];
		return s;
	}
	size_t half = n / 2;
	half -= half % 8;
	return ref_pairwise(x, half) + ref_pairwise(x + half, n - half);
}

static void test_reverse(void)
{
	uint64_t a[37], b[37];
	for (int i = 0; i < 37; i++)
		a[i] = (uint64_t)i * 0x9E3779B97F4A7C15ull;
	for (size_t n = 0; n <= 37; n++) {
		memset(b, 0xab, sizeof b);
		k_reverse_u64(a, b, n);
		bool ok = true;
		for (size_t i = 0; i < n; i++)
			ok &= b[i] == a[n - 1 - i];
		ok &= n == 37 || b[n] == 0xababababababababull; /* nothing past n */
		CHECK(ok);
	}
}

/* The arithmetic kernels against the operators written plainly, bit for bit, on every stride pair
 * and on lengths around the vector widths; nothing past n is written. */
static void test_arith(void)
{
	enum { M = 45 };
	double a[M], b[M], o[M + 1];
	uint64_t s = 3;
	for (int i = 0; i < M; i++)
		a[i] = lcg_unit(&s) * 10 - 5, b[i] = lcg_unit(&s) * 3 + 0.25;
	void (*k[4])(const double *restrict, int, const double *restrict, int, double *restrict, size_t) = {
		k_add_f64, k_sub_f64, k_mul_f64, k_div_f64
	};
	static const int strides[3][2] = { { 1, 1 }, { 1, 0 }, { 0, 1 } };
	for (int op = 0; op < 4; op++)
		for (int st = 0; st < 3; st++)
			for (size_t n = 0; n <= M; n += (n < 20 ? 1 : 5)) {
				int sa = strides[st][0], sb = strides[st][1];
				o[n] = 12345.0;
				k[op](a, sa, b, sb, o, n);
				bool ok = o[n] == 12345.0;
				for (size_t i = 0; i < n; i++) {
					double x = a[i * (size_t)sa], y = b[i * (size_t)sb];
					double want = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
					ok &= memcmp(&o[i], &want, sizeof want) == 0;
				}
				CHECK(ok);
			}
}

/* The one-operation unary kernels against libm's, bit for bit, with the awkward values in among
 * ordinary ones at every position of a vector. */
static void test_unary(void)
{
	enum { M = 45 };
	double a[M], o[M + 1];
	static const double odd[] = { -0.0, 0.0, -2.5, 2.5, -1e-310, INFINITY, -INFINITY, NAN, 0x1p52 + 0.5, -3.0 };
	uint64_t s = 17;
	for (int i = 0; i < M; i++)
		a[i] = i % 3 == 0 ? odd[(i / 3) % 10] : lcg_unit(&s) * 200 - 100;
	void (*k[4])(const double *restrict, double *restrict, size_t) = { k_sqrt_f64, k_abs_f64, k_floor_f64,
									 k_ceil_f64 };
	for (int op = 0; op < 4; op++)
		for (size_t n = 0; n <= M; n++) {
			o[n] = 12345.0;
			k[op](a, o, n);
			bool ok = o[n] == 12345.0;
			for (size_t i = 0; i < n; i++) {
				double want = op == 0 ? sqrt(a[i]) : op == 1 ? fabs(a[i]) : op == 2 ? floor(a[i]) : ceil(a[i]);
				ok &= isnan(want) ? isnan(o[i]) : memcmp(&o[i], &want, sizeof want) == 0;
			}
			CHECK(ok);
		}
}

static void test_sum_order(void)
{
	/* Values whose sums round, so any other order shows in the bits. */
	enum { M = 3000 };
	double *x = malloc(M * sizeof *x), *x2 = malloc(M * sizeof *x2);
	uint64_t st = 12345;
	for (size_t i = 0; i < M; i++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = ((double)(st >> 11) * 0x1p-53 - 0.3) * (i % 5 ? 1.0 : 1e7);
		x2[i] = x[i] * x[i];
	}
	/* products of x with y forwards and backwards, as stored products would sum */
	double *y = malloc(M * sizeof *y), *xy = malloc(M * sizeof *xy), *xr = malloc(M * sizeof *xr);
	for (size_t i = 0; i < M; i++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		y[i] = (double)(st >> 11) * 0x1p-50 - 3.0;
	}
	bool same = true, prod = true;
	for (size_t n = 0; n <= M; n += n < 300 ? 1 : 37) {
		same &= k_sum_f64(x, n) == 0.0 + ref_pairwise(x, n);
		same &= k_sumsq_f64(x, n) == 0.0 + ref_pairwise(x2, n);
		for (size_t i = 0; i < n; i++) {
			xy[i] = x[i] * y[i];
			xr[i] = x[i] * y[n - 1 - i];
		}
		double f = k_sumprod_f64(x, y, 1, n), b = n ? k_sumprod_f64(x, y + n - 1, -1, n) : 0.0;
		double wf = 0.0 + ref_pairwise(xy, n), wb = 0.0 + ref_pairwise(xr, n);
		prod &= !memcmp(&f, &wf, sizeof f) && !memcmp(&b, &wb, sizeof b);
	}
	CHECK(same);
	CHECK(prod);
	free(x);
	free(x2);
	free(y);
	free(xy);
	free(xr);
}

static void test_sum(void)
{
	CHECK(k_sum_f64(NULL, 0) == 0.0);
	/* Every length up to a few leaves, against an exact integer sum. */
	double x[700];
	int64_t xi[700];
	float xf[700];
	for (int i = 0; i < 700; i++) {
		xi[i] = (i * 7919) % 1001 - 500;
		x[i] = (double)xi[i];
		xf[i] = (float)xi[i];
	}
	bool exact = true;
	int64_t want = 0;
	for (size_t n = 0; n <= 700; n++) {
		exact &= k_sum_f64(x, n) == (double)want && k_sum_f32_as_f64(xf, n) == (double)want &&
			 k_sum_i64(xi, n) == want;
		if (n < 700)
			want += xi[n];
	}
	CHECK(exact);

	/* Pairwise: a million 0.1s come out near 1e5 (a running sum is off by
	 * about 1.3e-6). */
	enum { N = 1000000 };
	double *y = malloc(N * sizeof *y);
	for (size_t i = 0; i < N; i++)
		y[i] = 0.1;
	CHECK(fabs(k_sum_f64(y, N) - 100000.0) < 1e-9);
	y[N / 3] = INFINITY;
	CHECK(k_sum_f64(y, N) == INFINITY);
	y[N / 2] = NAN;
	CHECK(isnan(k_sum_f64(y, N)));
	free(y);

	/* numpy's sum starts from 0.0: all -0.0 sums to +0.0. */
	double nz[9] = { -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0 };
	CHECK(k_sum_f64(nz, 9) == 0.0 && !signbit(k_sum_f64(nz, 9)));

	/* Floats are widened before adding: 2^24 + 1 is not a float sum. */
	float f3[3] = { 16777216.0f, 1.0f, 0.0f };
	CHECK(k_sum_f32_as_f64(f3, 3) == 16777217.0);

	/* int64 wraps as numpy's does. */
	int64_t w[9] = { INT64_MAX, 1, 0, 0, 0, 0, 0, 0, 0 };
	CHECK(k_sum_i64(w, 2) == INT64_MIN);
	CHECK(k_sum_i64(w, 9) == INT64_MIN);
	int64_t w2[10] = { INT64_MIN, INT64_MIN, 5, 0, 0, 0, 0, 0, 0, -1 };
	CHECK(k_sum_i64(w2, 10) == 4);
}

static void test_moments(void)
{
	enum { N = 100003 };
	double *x = malloc(N * sizeof *x);
	uint64_t s = 5;
	/* A large offset: sum-of-squares formulas lose every digit here. */
	for (size_t i = 0; i < N; i++)
		x[i] = 1e9 + lcg_unit(&s);
	long double mean = 0, m2 = 0;
	for (size_t i = 0; i < N; i++)
		mean += x[i];
	mean /= N;
	for (size_t i = 0; i < N; i++)
		m2 += (x[i] - mean) * (x[i] - mean);

	struct k_moments m = { 0, 0, 0 };
	k_moments_add(&m, x, N);
	CHECK(m.n == N);
	CHECK(fabs(m.mean - (double)mean) < 1e-6);
	CHECK(fabs(m.m2 / (double)m2 - 1) < 1e-6);
	double var = m.m2 / (m.n - 1); /* ddof = 1 */
	CHECK(fabs(var - 1.0 / 12) < 0.01);

	/* Pieces merged in any grouping give the same moments. */
	struct k_moments parts[3] = { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } };
	k_moments_add(&parts[0], x, 17);
	k_moments_add(&parts[1], x + 17, 50000);
	k_moments_add(&parts[2], x + 50017, N - 50017);
	struct k_moments all = { 0, 0, 0 };
	k_moments_merge(&all, &parts[2]);
	k_moments_merge(&all, &parts[0]);
	k_moments_merge(&all, &parts[1]);
	CHECK(all.n == N);
	CHECK(fabs(all.mean - m.mean) < 1e-6);
	CHECK(fabs(all.m2 / m.m2 - 1) < 1e-9);

	/* Empty on either side; merging with itself doubles every value. */
	struct k_moments empty = { 0, 0, 0 }, copy = m;
	k_moments_merge(&copy, &empty);
	CHECK(copy.n == m.n && copy.mean == m.mean && copy.m2 == m.m2);
	k_moments_merge(&empty, &m);
	CHECK(empty.n == m.n && empty.mean == m.mean && empty.m2 == m.m2);
	k_moments_merge(&copy, &copy);
	CHECK(copy.n == 2 * m.n && copy.mean == m.mean && copy.m2 == 2 * m.m2);

	/* Small exact case: {1, 2, 3, 4} has mean 2.5 and M2 5. */
	double four[4] = { 1, 2, 3, 4 };
	struct k_moments f = { 0, 0, 0 };
	k_moments_add(&f, four, 4);
	CHECK(f.n == 4 && f.mean == 2.5 && f.m2 == 5.0);
	free(x);
}

static void test_min_max(void)
{
	enum { N = 37 }; /* not a multiple of the 8 lanes: the tail counts too */
	double x[N];
	for (int i = 0; i < N; i++)
		x[i] = (double)((i * 13) % N) - 10; /* a permutation of -10..26 */
	CHECK(k_min_f64(x, N) == -10 && k_max_f64(x, N) == 26);
	CHECK(k_nanmin_f64(x, N) == -10 && k_nanmax_f64(x, N) == 26);
	CHECK(k_argmin_f64(x, N) == 0 && x[0] == -10);
	CHECK(k_argmax_f64(x, N) == 17 && x[17] == 26);

	/* A NaN anywhere wins min/max and argmin/argmax (its first index). */
	int at[] = { 0, 5, 20, 35, 36 };
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		double y[N];
		memcpy(y, x, sizeof y);
		y[at[k]] = NAN;
		if (at[k] + 1 < N)
			y[N - 1] = NAN;
		CHECK(isnan(k_min_f64(y, N)) && isnan(k_max_f64(y, N)));
		CHECK(k_argmin_f64(y, N) == (size_t)at[k] && k_argmax_f64(y, N) == (size_t)at[k]);
		/* -10 sits at 0 and -9 at 20, the maximum 26 at 17. */
		CHECK(k_nanmin_f64(y, N) == (at[k] == 0 ? -9 : -10));
		CHECK(k_nanmax_f64(y, N) == 26);
	}

	/* All NaN, empty, infinities. */
	double nan3[3] = { NAN, NAN, NAN };
	CHECK(isnan(k_nanmin_f64(nan3, 3)) && isnan(k_nanmax_f64(nan3, 3)));
	CHECK(isnan(k_min_f64(x, 0)) && isnan(k_nanmax_f64(x, 0)));
	CHECK(k_argmin_f64(x, 0) == SIZE_MAX && k_argmax_f64(x, 0) == SIZE_MAX);
	double inf2[2] = { NAN, INFINITY };
	CHECK(k_nanmin_f64(inf2, 2) == INFINITY && k_nanmax_f64(inf2, 2) == INFINITY);
	double ninf[2] = { -INFINITY, NAN };
	CHECK(k_nanmax_f64(ninf, 2) == -INFINITY);

	/* Ties: the first occurrence, with 0.0 and -0.0 equal. */
	double t[20] = { 0 };
	t[3] = -1, t[9] = -1, t[15] = 4, t[17] = 4;
	CHECK(k_argmin_f64(t, 20) == 3 && k_argmax_f64(t, 20) == 15);
	double z[10] = { 1, 0.0, -0.0, 1, 1, 1, 1, 1, 1, 1 };
	CHECK(k_argmin_f64(z, 10) == 1);
}

/* numpy 1.24 repr(np.float64(v)), v given by its bits. */
static const struct {
	uint64_t bits;
	const char *repr;
} f64_cases[] = {
	{ 0x3fb999999999999aull, "0.1" },
	{ 0x3ff0000000000000ull, "1.0" },
	{ 0x400921fb54442d18ull, "3.141592653589793" },
	{ 0x4341c37937e08000ull, "1e+16" },
	{ 0x3eef75104d551d69ull, "1.5e-05" },
	{ 0x7ff8000000000000ull, "nan" },
	{ 0xfff8000000000001ull, "nan" },
	{ 0x7ff0000000000000ull, "inf" },
	{ 0xfff0000000000000ull, "-inf" },
	{ 0x8000000000000000ull, "-0.0" },
	{ 0x0000000000000000ull, "0.0" },
	{ 0x42dc12218377de40ull, "123456789012345.0" },
	{ 0x3f1a36e2eb1c432dull, "0.0001" },
	{ 0x3f1a36e2eb1c432cull, "9.999999999999999e-05" },
	{ 0x44b52d02c7e14af6ull, "1e+23" }, /* exactly halfway: the even end counts */
	{ 0x0000000000000001ull, "5e-324" },
	{ 0x0000000000000003ull, "1.5e-323" },
	{ 0x0010000000000000ull, "2.2250738585072014e-308" },
	{ 0x7fefffffffffffffull, "1.7976931348623157e+308" },
	{ 0x430c6bf526340000ull, "1000000000000000.0" },
	{ 0x4341c37937e07fffull, "9999999999999998.0" },
	{ 0x43118b54f22aeb03ull, "1234567890123456.8" },
	{ 0x3fd3333333333333ull, "0.3" },
	{ 0x3fd3333333333334ull, "0.30000000000000004" },
	{ 0x3fe5555555555555ull, "0.6666666666666666" },
	{ 0xbff8000000000000ull, "-1.5" },
	{ 0x4059000000000000ull, "100.0" },
	{ 0x54b249ad2594c37dull, "1e+100" },
	{ 0x2b2bff2ee48e0530ull, "1e-100" },
	{ 0x43b0000000000000ull, "1.152921504606847e+18" },
	{ 0x3eb0000000000000ull, "9.5367431640625e-07" },
	{ 0x3f202e4b6ce5dc68ull, "0.00012345" },
	{ 0x01aa749ec2ff5c8aull, "1.2345e-300" },
	{ 0x44dfe185ca57c517ull, "6.02214076e+23" },
	{ 0xc071126666666666ull, "-273.15" },
	{ 0x3ff0000000000001ull, "1.0000000000000002" },
	{ 0x3fefffffffffffffull, "0.9999999999999999" },
	{ 0x4011666666666666ull, "4.35" },
	{ 0x51d066711c80317full, "1.2744034938430923e+86" },
	{ 0x5ee3eb1346685257ull, "1.273442472330788e+149" },
	{ 0x1c9bc89623b8c1e9ull, "7.189357272910367e-171" },
	{ 0x0d1bd9c6ad3c2d6dull, "1.593307029046277e-245" },
	{ 0x723164198b9d2434ull, "1.1596353763121233e+242" },
	{ 0x4b90822e6c031199ull, "1.0119693830854509e+56" },
	{ 0x03d37f8a17fc695aull, "3.1262141844784543e-290" },
	{ 0x5bab38a0a65ed389ull, "3.86434047718453e+133" },
	{ 0x45c386ec6b65a6a4ull, "1.2086655412100424e+28" },
	{ 0x3974737896da1dacull, "6.301969044794316e-32" },
};

/* numpy 1.24 repr(np.float32(v)). */
static const struct {
	uint32_t bits;
	const char *repr;
} f32_cases[] = {
	{ 0x3dcccccdu, "0.1" },
	{ 0x3f800000u, "1.0" },
	{ 0x38d1b717u, "1e-04" }, /* 1e-4f is below 1e-4: scientific */
	{ 0x5a0e1bcau, "1e+16" },
	{ 0x5a0e1bc9u, "9999999000000000.0" },
	{ 0x7f7fffffu, "3.4028235e+38" },
	{ 0x00000001u, "1e-45" },
	{ 0x00000005u, "7e-45" },
	{ 0x00800000u, "1.1754944e-38" },
	{ 0x4b800000u, "16777216.0" },
	{ 0x3e99999au, "0.3" },
	{ 0xc0200000u, "-2.5" },
	{ 0x40490fdbu, "3.1415927" },
	{ 0x501502f9u, "10000000000.0" },
	{ 0x47f12065u, "123456.79" },
	{ 0x80000000u, "-0.0" },
	{ 0xff800000u, "-inf" },
	{ 0x7fc00000u, "nan" },
};

static void test_format(void)
{
	char out[K_FORMAT_LEN];
	for (size_t i = 0; i < sizeof f64_cases / sizeof f64_cases[0]; i++) {
		double v;
		memcpy(&v, &f64_cases[i].bits, sizeof v);
		int len = k_format_double(v, out, sizeof out);
		CHECK_STR(out, f64_cases[i].repr);
		CHECK(len == (int)strlen(f64_cases[i].repr));
	}
	for (size_t i = 0; i < sizeof f32_cases / sizeof f32_cases[0]; i++) {
		float v;
		memcpy(&v, &f32_cases[i].bits, sizeof v);
		int len = k_format_float32(v, out, sizeof out);
		CHECK_STR(out, f32_cases[i].repr);
		CHECK(len == (int)strlen(f32_cases[i].repr));
	}
	/* Too small a buffer: -1 and an empty string; exactly enough works. */
	char small[4];
	CHECK(k_format_double(0.125, small, sizeof small) == -1 && small[0] == '\0');
	CHECK(k_format_double(0.5, small, sizeof small) == 3);
	CHECK_STR(small, "0.5");
	CHECK(k_format_float32(1.5f, small, 0) == -1);
}

/* Whatever the magnitude, the output fits and reads back to the same value. */
static void test_format_round_trip(void)
{
	uint64_t s = 17;
	char out[K_FORMAT_LEN];
	bool ok = true, fits = true;
	for (int i = 0; i < 20000; i++) {
		uint64_t bits = lcg_next(&s) << 11;
		bits ^= lcg_next(&s);
		double v;
		memcpy(&v, &bits, sizeof v);
		if (!isfinite(v))
			continue;
		int len = k_format_double(v, out, sizeof out);
		fits &= len > 0 && len < K_FORMAT_LEN;
		ok &= strtod(out, NULL) == v;
		float f = (float)v;
		if (!isfinite(f))
			continue;
		len = k_format_float32(f, out, sizeof out);
		fits &= len > 0 && len < K_FORMAT_LEN;
		ok &= strtof(out, NULL) == f;
	}
	CHECK(ok);
	CHECK(fits);
}

/* Distance in units in the last place between two doubles of one sign. */
static int64_t ulp_diff(double a, double b)
{
	int64_t ia, ib;
	memcpy(&ia, &a, 8);
	memcpy(&ib, &b, 8);
	if (ia < 0)
		ia = INT64_MIN - ia;
	if (ib < 0)
		ib = INT64_MIN - ib;
	return ia > ib ? ia - ib : ib - ia;
}

static void test_trig(void)
{
	enum { N = 20000 };
	static double x[N], c[N], s[N];
	static const double ranges[] = { 1e-8, 1, 10, 1000, 8e5, 1e7, 1e300 };
	uint64_t st = 7;
	for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
		for (int i = 0; i < N; i++)
			x[i] = (lcg_unit(&st) * 2 - 1) * ranges[r];
		k_cos_f64(x, c, N);
		k_sin_f64(x, s, N);
		int64_t worst = 0;
		for (int i = 0; i < N; i++) {
			int64_t dc = ulp_diff(c[i], cos(x[i])), ds = ulp_diff(s[i], sin(x[i]));
			worst = dc > worst ? dc : worst;
			worst = ds > worst ? ds : worst;
		}
		CHECK(worst <= 2);
	}
	double sp[] = { 0.0, -0.0, INFINITY, -INFINITY, NAN, 1.5707963267948966, 3.141592653589793, -1e-310 };
	k_cos_f64(sp, c, 8);
	k_sin_f64(sp, s, 8);
	for (int i = 0; i < 8; i++) {
		CHECK(isnan(c[i]) == isnan(cos(sp[i])) && (isnan(c[i]) || ulp_diff(c[i], cos(sp[i])) <= 1));
		CHECK(isnan(s[i]) == isnan(sin(sp[i])) && (isnan(s[i]) || ulp_diff(s[i], sin(sp[i])) <= 1));
	}
	CHECK(signbit(s[1])); /* sin(-0) is -0 */

	/* [-1, 1], where blocks take the short path: within an ulp of libm, and
	 * k_cos_f64_fixed gives what the long path gives (a block with one value
	 * beyond 1 takes it), value by value. */
	static double y[1000], cf[1000], cy[1000];
	int64_t worst = 0;
	for (int i = 0; i < N; i++)
		x[i] = lcg_unit(&st) * 2 - 1;
	k_cos_f64(x, c, N);
	k_sin_f64(x, s, N);
	for (int i = 0; i < N; i++) {
		int64_t dc = ulp_diff(c[i], cos(x[i])), ds = ulp_diff(s[i], sin(x[i]));
		worst = dc > worst ? dc : worst;
		worst = ds > worst ? ds : worst;
	}
	CHECK(worst <= 1);
	y[0] = 3.0;
	memcpy(y + 1, x, 999 * sizeof *y);
	k_cos_f64(y, cy, 1000);
	k_cos_f64_fixed(x, cf, 999);
	CHECK(memcmp(cy + 1, cf, 999 * sizeof *cf) == 0);
	CHECK(cy[0] == cos(3.0) || ulp_diff(cy[0], cos(3.0)) <= 1);
}

typedef void (*vec_fn)(const double *restrict, double *restrict, size_t);

/* The most units in the last place by which @k over x[0..n) (into y) differs from @libm. */
static int64_t worst_ulp(vec_fn k, double (*libm)(double), const double *x, double *y, size_t n)
{
	k(x, y, n);
	int64_t worst = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t d = ulp_diff(y[i], libm(x[i]));
		worst = d > worst ? d : worst;
	}
	return worst;
}

/* Whether each of the first 40 values of @y, @k over @x, comes out the same computed alone: a
 * value does not depend on where it sits in the call (vector body or scalar tail). */
static bool same_alone(vec_fn k, const double *x, const double *y)
{
	bool same = true;
	for (int i = 0; i < 40; i++) {
		double y1;
		k(x + i, &y1, 1);
		same &= memcmp(&y1, &y[i], 8) == 0;
	}
	return same;
}

/* Whether @k gives libm's NaNs and otherwise stays within @max_ulp of it on the @n values @sp (into y). */
static bool specials_agree(vec_fn k, double (*libm)(double), const double *sp, double *y, size_t n, int64_t max_ulp)
{
	k(sp, y, n);
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		ok &= isnan(y[i]) == isnan(libm(sp[i])) && (isnan(y[i]) || ulp_diff(y[i], libm(sp[i])) <= max_ulp);
	return ok;
}

static void test_log(void)
{
	enum { N = 20000 };
	static double x[N], y[N];
	uint64_t st = 11;
	/* (0, 1] as the normal filler feeds it, near 1 (cancellation), and random bit patterns
	 * over every normal exponent */
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < N; i++) {
			uint64_t b = lcg_next(&st);
			double u = (double)(b + 1) * 0x1p-53; /* lcg_next gives 53 bits: u in (0, 1] */
			if (r == 0)
				x[i] = u;
			else if (r == 1)
				x[i] = 1 + (u - 0.5) * 1e-6;
			else {
				b = (b & 0x000fffffffffffffull) | ((lcg_next(&st) % 2046 + 1) << 52);
				memcpy(&x[i], &b, 8);
			}
		}
		CHECK(worst_ulp(k_log_f64, log, x, y, N) <= 1);
		CHECK(same_alone(k_log_f64, x, y));
	}
	double sp[] = { 0.0, -0.0, -1.0, INFINITY, NAN, 1e-310, 1.0, 0x1p-1022 };
	CHECK(specials_agree(k_log_f64, log, sp, y, 8, 1));
	CHECK(y[6] == 0.0 && isinf(y[0]) && y[0] < 0);
}

/* @k against @libm within @max_ulp on x uniform over (-range / 2, range / 2) for each of @ranges (the
 * first @n_ranges), @scale 1, or over (-range, range), @scale 2. */
static void check_ranges(vec_fn k, double (*libm)(double), const double *ranges, size_t n_ranges, double scale,
			 uint64_t seed, int64_t max_ulp)
{
	enum { N = 20000 };
	static double x[N], y[N];
	uint64_t st = seed;
	for (size_t r = 0; r < n_ranges; r++) {
		for (int i = 0; i < N; i++)
			x[i] = (lcg_unit(&st) * scale - scale / 2) * ranges[r];
		CHECK(worst_ulp(k, libm, x, y, N) <= max_ulp);
		CHECK(same_alone(k, x, y));
	}
}

static void test_exp(void)
{
	static const double ranges[] = { 1e-12, 1, 40, 1414 }; /* the last also crosses the libm lanes */
	check_ranges(k_exp_f64, exp, ranges, 4, 1, 13, 1);
	double sp[] = { 0.0, -745.0, INFINITY, NAN, 710.0, -INFINITY, 706.99, -706.99 }, y[8];
	CHECK(specials_agree(k_exp_f64, exp, sp, y, 8, 1));
	CHECK(y[0] == 1.0 && isinf(y[2]) && isinf(y[4]) && y[5] == 0.0);
}

static void test_tanh(void)
{
	/* around the split at 0.625, into the exp branch, to where tanh is 1, and past the fast range */
	static const double ranges[] = { 1e-9, 0.7, 1.3, 25, 800 };
	check_ranges(k_tanh_f64, tanh, ranges, 5, 2, 19, 2);
	double sp[] = { 0.0, -0.0, INFINITY, -INFINITY, NAN, 0.625, -0.625, 400 }, y[8];
	CHECK(specials_agree(k_tanh_f64, tanh, sp, y, 8, 2));
	CHECK(signbit(y[1]) && y[2] == 1.0 && y[3] == -1.0 && y[7] == 1.0);
}

static void test_sinh_cosh(void)
{
	static const double ranges[] = { 1e-9, 0.7, 1.3, 25, 720 }; /* the last crosses the libm lanes */
	check_ranges(k_sinh_f64, sinh, ranges, 5, 2, 23, 2);
	check_ranges(k_cosh_f64, cosh, ranges, 5, 2, 29, 2);
	double sp[] = { 0.0, -0.0, INFINITY, -INFINITY, NAN, 0.625, -0.625, 710 }, y[8], c[8];
	CHECK(specials_agree(k_sinh_f64, sinh, sp, y, 8, 2));
	CHECK(specials_agree(k_cosh_f64, cosh, sp, c, 8, 2));
	CHECK(signbit(y[1]) && c[0] == 1.0 && isinf(c[3]) && c[3] > 0);
}

static void test_compare_scalar(void)
{
	enum { N = 1001 };
	static double a[N];
	static int64_t lt[N], gt[N];
	uint64_t st = 3;
	for (int i = 0; i < N; i++)
		a[i] = (double)(lcg_next(&st) % 7) - 3;
	a[5] = NAN;
	a[6] = 0.5;
	k_lt_scalar_f64(a, 0.5, lt, N);
	k_gt_scalar_f64(a, 0.5, gt, N);
	for (int i = 0; i < N; i++) {
		CHECK(lt[i] == (a[i] < 0.5));
		CHECK(gt[i] == (a[i] > 0.5));
	}
	CHECK(lt[5] == 0 && gt[5] == 0); /* NaN compares false */
	CHECK(lt[6] == 0 && gt[6] == 0); /* equal is neither */
}

const struct test kernels_tests[] = {
	{ "kernels/trig_vs_libm", test_trig },
	{ "kernels/compare_scalar", test_compare_scalar },
	{ "kernels/ars_kat", test_ars_kat },
	{ "kernels/rand_recipe", test_rand_recipe },
	{ "kernels/rand_chunk_invariance", test_rand_chunk_invariance },
	{ "kernels/rand_uniform_stats", test_rand_uniform_stats },
	{ "kernels/rand_normal_stats", test_rand_normal_stats },
	{ "kernels/rand_integers_stats", test_rand_integers_stats },
	{ "kernels/sum", test_sum },
	{ "kernels/arith", test_arith },
	{ "kernels/unary", test_unary },
	{ "kernels/log", test_log },
	{ "kernels/exp", test_exp },
	{ "kernels/tanh", test_tanh },
	{ "kernels/sinh_cosh", test_sinh_cosh },
	{ "kernels/sum_order", test_sum_order },
	{ "kernels/reverse", test_reverse },
	{ "kernels/moments", test_moments },
	{ "kernels/min_max", test_min_max },
	{ "kernels/format", test_format },
	{ "kernels/format_round_trip", test_format_round_trip },
	{ NULL, NULL },
};
