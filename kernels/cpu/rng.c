/* SPDX-License-Identifier: MIT */
/*
 * rng: Philox4x32-10 counter-based random numbers and the bulk fillers
 * built on it (uniform, normal, integers). The recipe that maps (seed,
 * index, stream) to a value is in kernels.h; this file only has to follow it
 * quickly.
 *
 * DESIGN: the fillers compute Philox for LANES consecutive counters at once
 * (a "block") and then turn each lane's 128 bits into a value with plain
 * scalar code. A block comes from one of four routines, picked per call by
 * CPUID: AVX-512F (32 lanes in flight), AVX2 (16), SSE2 (every x86-64; 8,
 * four times), or portable C elsewhere. They are integer code and give the
 * same bits, so results never depend on the machine. Uniform doubles on
 * AVX-512DQ skip the block in memory: rounds and conversion stay in
 * registers (uniform_blocks_avx512), with the scalar path's operations.
 * The transforms (Box–Muller's libm calls aside) are exact or correctly
 * rounded IEEE operations, with contraction off in ISO C mode. The fillers
 * keep no state between calls.
 */
#include "kernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Multipliers and Weyl key increments of Philox4x32 (Salmon et al. 2011, table 2). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10

/* Counters per block: four AVX-512 vectors of eight, two AVX2 passes of
 * sixteen, four SSE2 passes of eight. */
#define LANES 32

#define TWO_PI 6.283185307179586476925286766559
#define INV_2_53 (1.0 / 9007199254740992.0) /* 2^-53 */
#define INV_2_24 (1.0f / 16777216.0f)       /* 2^-24 */

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define AVX2 __attribute__((target("avx2")))

void k_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4])
{
	uint32_t k0 = key[0], k1 = key[1];
	uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
	for (int r = 0; r < PHILOX_ROUNDS; r++) {
		/* The key is bumped between rounds, not before the first. */
		if (r) {
			k0 += PHILOX_W0;
			k1 += PHILOX_W1;
		}
		uint64_t p0 = (uint64_t)PHILOX_M0 * x0;
		uint64_t p1 = (uint64_t)PHILOX_M1 * x2;
		x0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
		x1 = (uint32_t)p1;
		x2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
		x3 = (uint32_t)p0;
	}
	out[0] = x0;
	out[1] = x1;
	out[2] = x2;
	out[3] = x3;
}

/* The round keys of one seed, widened to 64 bits so that SIMD code can
 * broadcast them straight from memory. Computed once per filler call. */
struct philox_keys {
	uint64_t k0[PHILOX_ROUNDS], k1[PHILOX_ROUNDS];
};

static void philox_keys_init(struct philox_keys *ks, uint64_t seed)
{
	uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
	for (int r = 0; r < PHILOX_ROUNDS; r++) {
		ks->k0[r] = k0;
		ks->k1[r] = k1;
		k0 += PHILOX_W0;
		k1 += PHILOX_W1;
	}
}

/*
 * Philox blocks for the LANES counters {first + j, stream, word3}, j < LANES.
 * x[w][j] is word w of lane j's output in the low 32 bits of a 64-bit slot
 * (structure of arrays; the high bits are garbage). 64-bit slots suit the
 * x86 32x32->64 multiply (pmuludq), which reads only the low half of each
 * slot, so a round needs no shuffles and no masking: every value that feeds
 * a multiply or ends up in the output is a low half.
 */
typedef void (*philox_block_fn)(const struct philox_keys *ks, uint64_t first, uint32_t stream,
				uint32_t word3, uint64_t x[4][LANES]);

/* Portable C, for targets without the SIMD versions. */
__attribute__((unused)) static void philox_block_c(const struct philox_keys *ks, uint64_t first,
						   uint32_t stream, uint32_t word3,
						   uint64_t x[4][LANES])
{
	uint32_t y[4][LANES];
	for (int j = 0; j < LANES; j++) {
		uint64_t i = first + (uint64_t)j;
		y[0][j] = (uint32_t)i;
		y[1][j] = (uint32_t)(i >> 32);
		y[2][j] = stream;
		y[3][j] = word3;
	}
	for (int r = 0; r < PHILOX_ROUNDS; r++) {
		uint32_t k0 = (uint32_t)ks->k0[r], k1 = (uint32_t)ks->k1[r];
		for (int j = 0; j < LANES; j++) {
			uint64_t p0 = (uint64_t)PHILOX_M0 * y[0][j];
			uint64_t p1 = (uint64_t)PHILOX_M1 * y[2][j];
			uint32_t y0 = (uint32_t)(p1 >> 32) ^ y[1][j] ^ k0;
			uint32_t y2 = (uint32_t)(p0 >> 32) ^ y[3][j] ^ k1;
			y[0][j] = y0;
			y[1][j] = (uint32_t)p1;
			y[2][j] = y2;
			y[3][j] = (uint32_t)p0;
		}
	}
	for (int w = 0; w < 4; w++)
		for (int j = 0; j < LANES; j++)
			x[w][j] = y[w][j];
}

#if defined(__x86_64__)
/*
 * One Philox round on one group of lanes held in vectors a, b, c, d (words
 * 0..3). Four groups run interleaved, in named variables rather than arrays
 * so that they stay in registers: four independent multiply chains cover
 * the multiply latency; fewer leave the core waiting, more spill.
 */
#define ROUND_SSE2(a, b, c, d)                                                     \
	do {                                                                       \
		__m128i p0_ = _mm_mul_epu32(a, m0), p1_ = _mm_mul_epu32(c, m1);    \
		a = _mm_xor_si128(_mm_srli_epi64(p1_, 32), _mm_xor_si128(b, key0)); \
		b = p1_;                                                           \
		c = _mm_xor_si128(_mm_srli_epi64(p0_, 32), _mm_xor_si128(d, key1)); \
		d = p0_;                                                           \
	} while (0)

#define ROUND_AVX2(a, b, c, d)                                                           \
	do {                                                                             \
		__m256i p0_ = _mm256_mul_epu32(a, m0), p1_ = _mm256_mul_epu32(c, m1);    \
		a = _mm256_xor_si256(_mm256_srli_epi64(p1_, 32), _mm256_xor_si256(b, key0)); \
		b = p1_;                                                                 \
		c = _mm256_xor_si256(_mm256_srli_epi64(p0_, 32), _mm256_xor_si256(d, key1)); \
		d = p0_;                                                                 \
	} while (0)

/* SSE2 (every x86-64): four groups of two lanes, so eight lanes from @j0. */
static void philox8_sse2(const struct philox_keys *ks, uint64_t first, uint32_t stream,
			 uint32_t word3, uint64_t x[4][LANES], int j0)
{
	uint64_t i = first + (uint64_t)j0;
	__m128i a0 = _mm_set_epi64x((long long)(i + 1), (long long)i);
	__m128i a1 = _mm_add_epi64(a0, _mm_set1_epi64x(2));
	__m128i a2 = _mm_add_epi64(a0, _mm_set1_epi64x(4));
	__m128i a3 = _mm_add_epi64(a0, _mm_set1_epi64x(6));
	__m128i b0 = _mm_srli_epi64(a0, 32), b1 = _mm_srli_epi64(a1, 32);
	__m128i b2 = _mm_srli_epi64(a2, 32), b3 = _mm_srli_epi64(a3, 32);
	__m128i c0 = _mm_set1_epi64x(stream), c1 = c0, c2 = c0, c3 = c0;
	__m128i d0 = _mm_set1_epi64x(word3), d1 = d0, d2 = d0, d3 = d0;
	const __m128i m0 = _mm_set1_epi64x(PHILOX_M0), m1 = _mm_set1_epi64x(PHILOX_M1);
	for (int r = 0; r < PHILOX_ROUNDS; r++) {
		const __m128i key0 = _mm_set1_epi64x((long long)ks->k0[r]);
		const __m128i key1 = _mm_set1_epi64x((long long)ks->k1[r]);
		ROUND_SSE2(a0, b0, c0, d0);
		ROUND_SSE2(a1, b1, c1, d1);
		ROUND_SSE2(a2, b2, c2, d2);
		ROUND_SSE2(a3, b3, c3, d3);
	}
	__m128i *out[4] = { (__m128i *)&x[0][j0], (__m128i *)&x[1][j0], (__m128i *)&x[2][j0],
			    (__m128i *)&x[3][j0] };
	_mm_storeu_si128(out[0], a0), _mm_storeu_si128(out[0] + 1, a1);
	_mm_storeu_si128(out[0] + 2, a2), _mm_storeu_si128(out[0] + 3, a3);
	_mm_storeu_si128(out[1], b0), _mm_storeu_si128(out[1] + 1, b1);
	_mm_storeu_si128(out[1] + 2, b2), _mm_storeu_si128(out[1] + 3, b3);
	_mm_storeu_si128(out[2], c0), _mm_storeu_si128(out[2] + 1, c1);
	_mm_storeu_si128(out[2] + 2, c2), _mm_storeu_si128(out[2] + 3, c3);
	_mm_storeu_si128(out[3], d0), _mm_storeu_si128(out[3] + 1, d1);
	_mm_storeu_si128(out[3] + 2, d2), _mm_storeu_si128(out[3] + 3, d3);
}

static void philox_block_sse2(const struct philox_keys *ks, uint64_t first, uint32_t stream,
			      uint32_t word3, uint64_t x[4][LANES])
{
	for (int j0 = 0; j0 < LANES; j0 += 8)
		philox8_sse2(ks, first, stream, word3, x, j0);
}

/* AVX2: four groups of four lanes, sixteen at once from @j0. */
AVX2 static void philox16_avx2(const struct philox_keys *ks, uint64_t first, uint32_t stream, uint32_t word3,
			       uint64_t x[4][LANES], int j0)
{
	first += (uint64_t)j0;
	const __m256i step = _mm256_set_epi64x(3, 2, 1, 0);
	__m256i a0 = _mm256_add_epi64(_mm256_set1_epi64x((long long)first), step);
	__m256i a1 = _mm256_add_epi64(a0, _mm256_set1_epi64x(4));
	__m256i a2 = _mm256_add_epi64(a0, _mm256_set1_epi64x(8));
	__m256i a3 = _mm256_add_epi64(a0, _mm256_set1_epi64x(12));
	__m256i b0 = _mm256_srli_epi64(a0, 32), b1 = _mm256_srli_epi64(a1, 32);
	__m256i b2 = _mm256_srli_epi64(a2, 32), b3 = _mm256_srli_epi64(a3, 32);
	__m256i c0 = _mm256_set1_epi64x(stream), c1 = c0, c2 = c0, c3 = c0;
	__m256i d0 = _mm256_set1_epi64x(word3), d1 = d0, d2 = d0, d3 = d0;
	const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0), m1 = _mm256_set1_epi64x(PHILOX_M1);
	for (int r = 0; r < PHILOX_ROUNDS; r++) {
		const __m256i key0 = _mm256_set1_epi64x((long long)ks->k0[r]);
		const __m256i key1 = _mm256_set1_epi64x((long long)ks->k1[r]);
		ROUND_AVX2(a0, b0, c0, d0);
		ROUND_AVX2(a1, b1, c1, d1);
		ROUND_AVX2(a2, b2, c2, d2);
		ROUND_AVX2(a3, b3, c3, d3);
	}
	__m256i *out[4] = { (__m256i *)&x[0][j0], (__m256i *)&x[1][j0], (__m256i *)&x[2][j0],
			    (__m256i *)&x[3][j0] };
	_mm256_storeu_si256(out[0], a0), _mm256_storeu_si256(out[0] + 1, a1);
	_mm256_storeu_si256(out[0] + 2, a2), _mm256_storeu_si256(out[0] + 3, a3);
	_mm256_storeu_si256(out[1], b0), _mm256_storeu_si256(out[1] + 1, b1);
	_mm256_storeu_si256(out[1] + 2, b2), _mm256_storeu_si256(out[1] + 3, b3);
	_mm256_storeu_si256(out[2], c0), _mm256_storeu_si256(out[2] + 1, c1);
	_mm256_storeu_si256(out[2] + 2, c2), _mm256_storeu_si256(out[2] + 3, c3);
	_mm256_storeu_si256(out[3], d0), _mm256_storeu_si256(out[3] + 1, d1);
	_mm256_storeu_si256(out[3] + 2, d2), _mm256_storeu_si256(out[3] + 3, d3);
}

AVX2 static void philox_block_avx2(const struct philox_keys *ks, uint64_t first, uint32_t stream,
				   uint32_t word3, uint64_t x[4][LANES])
{
	for (int j0 = 0; j0 < LANES; j0 += 16)
		philox16_avx2(ks, first, stream, word3, x, j0);
}

/* AVX-512F: four groups of eight lanes, the whole block at once; four
 * independent chains keep the multiplier busy through its latency. */
#define AVX512 __attribute__((target("avx512f")))
/* 0x96 is the truth table of a ^ b ^ c: one ternary-logic op for two xors,
 * which matters because 512-bit code has only two vector ports to share. */
#define ROUND_AVX512(a, b, c, d)                                                         \
	do {                                                                             \
		__m512i p0_ = _mm512_mul_epu32(a, m0), p1_ = _mm512_mul_epu32(c, m1);    \
		a = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1_, 32), b, key0, 0x96); \
		b = p1_;                                                                 \
		c = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0_, 32), d, key1, 0x96); \
		d = p0_;                                                                 \
	} while (0)

/* The rounds for the LANES counters {first + j, stream, word3}: word w of group g's lanes in
 * x[w][g], in registers (the callers are inlined into their loops). */
AVX512 static inline __attribute__((always_inline)) void
philox_rounds_avx512(const struct philox_keys *ks, uint64_t first, uint32_t stream, uint32_t word3,
		     __m512i x[4][4])
{
	const __m512i step = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
	__m512i *a = x[0], *b = x[1], *c = x[2], *d = x[3];
	for (int g = 0; g < 4; g++) {
		a[g] = _mm512_add_epi64(_mm512_set1_epi64((long long)(first + 8u * (unsigned)g)), step);
		b[g] = _mm512_srli_epi64(a[g], 32);
		c[g] = _mm512_set1_epi64(stream);
		d[g] = _mm512_set1_epi64(word3);
	}
	const __m512i m0 = _mm512_set1_epi64(PHILOX_M0), m1 = _mm512_set1_epi64(PHILOX_M1);
	for (int r = 0; r < PHILOX_ROUNDS; r++) {
		const __m512i key0 = _mm512_set1_epi64((long long)ks->k0[r]);
		const __m512i key1 = _mm512_set1_epi64((long long)ks->k1[r]);
		ROUND_AVX512(a[0], b[0], c[0], d[0]);
		ROUND_AVX512(a[1], b[1], c[1], d[1]);
		ROUND_AVX512(a[2], b[2], c[2], d[2]);
		ROUND_AVX512(a[3], b[3], c[3], d[3]);
	}
}

AVX512 static void philox_block_avx512(const struct philox_keys *ks, uint64_t first, uint32_t stream,
				       uint32_t word3, uint64_t x[4][LANES])
{
	__m512i w[4][4];
	philox_rounds_avx512(ks, first, stream, word3, w);
	__m512i *a = w[0], *b = w[1], *c = w[2], *d = w[3];
	for (int g = 0; g < 4; g++) {
		_mm512_storeu_si512(&x[0][8 * g], a[g]);
		_mm512_storeu_si512(&x[1][8 * g], b[g]);
		_mm512_storeu_si512(&x[2][8 * g], c[g]);
		_mm512_storeu_si512(&x[3][8 * g], d[g]);
	}
}
#endif

/* The fastest block routine this CPU runs; asked per call, as CPUID is cheap
 * (libgcc caches it) and a file static would be shared mutable state. */
static philox_block_fn pick_block(void)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		return philox_block_avx512;
	return __builtin_cpu_supports("avx2") ? philox_block_avx2 : philox_block_sse2;
#else
	return philox_block_c;
#endif
}

/* The 64-bit word whose top half is the low half of slot @hi and whose
 * bottom half is the low half of slot @lo. */
ALWAYS_INLINE uint64_t word64(uint64_t hi, uint64_t lo)
{
	return hi << 32 | (uint32_t)lo;
}

/* u in [0, 1): the top 53 bits of @w, scaled. */
ALWAYS_INLINE double unit53(uint64_t w)
{
	return (double)(w >> 11) * INV_2_53;
}

/*
 * Each filler handles whole LANES-blocks from @first and then a partial
 * block whose extra lanes are computed and dropped: a lane's value never
 * depends on its neighbours, so that is invariant too.
 */

/*
 * @nblk whole blocks of 2 * LANES uniform doubles in element order from
 * counter @ctr, with the Philox rounds and the conversion in registers: the
 * block never goes through memory as integers. AVX-512DQ has the 64-bit
 * integer to double conversion (AVX2 has none). The arithmetic is the
 * scalar path's, operation for operation (no fused multiply-add), so the
 * values are the same bits.
 */
#if defined(__x86_64__)
AVX512 __attribute__((target("avx512dq"))) static void
uniform_blocks_avx512(const struct philox_keys *ks, uint64_t ctr, size_t nblk, double lo, double span,
		      double *restrict out)
{
	const __m512i low32 = _mm512_set1_epi64(0xffffffff);
	const __m512d inv = _mm512_set1_pd(INV_2_53), vspan = _mm512_set1_pd(span), vlo = _mm512_set1_pd(lo);
	/* element j of the even values and of the odd ones, side by side */
	const __m512i lo_idx = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
	const __m512i hi_idx = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
	for (size_t blk = 0; blk < nblk; blk++, ctr += LANES, out += 2 * LANES) {
		__m512i w[4][4];
		philox_rounds_avx512(ks, ctr, K_STREAM_UNIFORM, 0, w);
		__m512i *a = w[0], *b = w[1], *c = w[2], *d = w[3];
		for (int g = 0; g < 4; g++) {
			/* 0xF8 is x | (y & z): the high word shifted up, or'ed with the low word. */
			__m512i we = _mm512_ternarylogic_epi64(_mm512_slli_epi64(a[g], 32), b[g], low32, 0xF8);
			__m512i wo = _mm512_ternarylogic_epi64(_mm512_slli_epi64(c[g], 32), d[g], low32, 0xF8);
			__m512d ue = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(we, 11)), inv);
			__m512d uo = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(wo, 11)), inv);
			ue = _mm512_add_pd(vlo, _mm512_mul_pd(vspan, ue));
			uo = _mm512_add_pd(vlo, _mm512_mul_pd(vspan, uo));
			_mm512_storeu_pd(out + 16 * g, _mm512_permutex2var_pd(ue, lo_idx, uo));
			_mm512_storeu_pd(out + 16 * g + 8, _mm512_permutex2var_pd(ue, hi_idx, uo));
		}
	}
}
#endif

void k_rand_uniform(uint64_t seed, uint64_t first, size_t n, double lo, double hi, double *out)
{
	/* 128 bits per counter make two doubles: element i takes counter i / 2,
	 * words 0-1 when i is even and 2-3 when odd, so half the Philox calls. */
	philox_block_fn block = pick_block();
	struct philox_keys ks;
	philox_keys_init(&ks, seed);
	double span = hi - lo;
	uint64_t x[4][LANES];
	uint64_t i = first, end = first + n;
	if (n && (i & 1)) { /* an odd start: the upper half of its counter */
		block(&ks, i >> 1, K_STREAM_UNIFORM, 0, x);
		*out++ = lo + span * unit53(word64(x[2][0], x[3][0]));
		i++;
	}
	/* whole blocks: 2 * LANES values, even then odd, straight through */
#if defined(__x86_64__)
	bool dq = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
	bool dq = false;
#endif
#if defined(__x86_64__)
	if (dq && end - i >= 2 * LANES) {
		size_t nblk = (size_t)((end - i) / (2 * LANES));
		uniform_blocks_avx512(&ks, i >> 1, nblk, lo, span, out);
		out += nblk * 2 * LANES;
		i += nblk * 2 * LANES;
	}
#endif
	while (end - i >= 2 * LANES) {
		block(&ks, i >> 1, K_STREAM_UNIFORM, 0, x);
		for (size_t j = 0; j < LANES; j++) {
			out[2 * j] = lo + span * unit53(word64(x[0][j], x[1][j]));
			out[2 * j + 1] = lo + span * unit53(word64(x[2][j], x[3][j]));
		}
		out += 2 * LANES;
		i += 2 * LANES;
	}
	if (i < end) {
		block(&ks, i >> 1, K_STREAM_UNIFORM, 0, x);
		for (size_t j = 0; i < end; j++) {
			*out++ = lo + span * unit53(word64(x[0][j], x[1][j]));
			if (++i < end) {
				*out++ = lo + span * unit53(word64(x[2][j], x[3][j]));
				i++;
			}
		}
	}
}

void k_rand_uniform_f32(uint64_t seed, uint64_t first, size_t n, float lo, float hi, float *out)
{
	philox_block_fn block = pick_block();
	struct philox_keys ks;
	philox_keys_init(&ks, seed);
	float span = hi - lo;
	uint64_t x[4][LANES];
	for (size_t done = 0; done < n; done += LANES) {
		block(&ks, first + done, K_STREAM_UNIFORM, 0, x);
		size_t m = n - done < LANES ? n - done : LANES;
		for (size_t j = 0; j < m; j++)
			out[done + j] = lo + span * ((float)((uint32_t)x[0][j] >> 8) * INV_2_24);
	}
}

void k_rand_normal(uint64_t seed, uint64_t first, size_t n, double mean, double sd, double *out)
{
	philox_block_fn block = pick_block();
	struct philox_keys ks;
	philox_keys_init(&ks, seed);
	uint64_t x[4][LANES];
	for (size_t done = 0; done < n; done += LANES) {
		block(&ks, first + done, K_STREAM_NORMAL, 0, x);
		size_t m = n - done < LANES ? n - done : LANES;
		for (size_t j = 0; j < m; j++) {
			/* +1 step maps [0, 1) onto (0, 1]: log(u1) stays finite. */
			double u1 = (double)((word64(x[0][j], x[1][j]) >> 11) + 1) * INV_2_53;
			double u2 = unit53(word64(x[2][j], x[3][j]));
			out[done + j] = mean + sd * (sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2));
		}
	}
}

/*
 * Lemire's nearly-divisionless method: w * span is a 128-bit number whose
 * top word is uniform on [0, span) once low words below (2^64 mod span) are
 * rejected. @return false on rejection.
 */
ALWAYS_INLINE bool lemire(uint64_t w, uint64_t span, uint64_t reject_below, uint64_t *r)
{
	unsigned __int128 p = (unsigned __int128)w * span;
	*r = (uint64_t)(p >> 64);
	return (uint64_t)p >= reject_below;
}

/* The rare path: both candidates of element @i were rejected; walk counter word 3. */
static uint64_t integers_retry(uint64_t seed, uint64_t i, uint64_t span, uint64_t reject_below)
{
	uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
	uint32_t ctr[4] = { (uint32_t)i, (uint32_t)(i >> 32), K_STREAM_INTEGERS, 0 };
	uint64_t r = 0;
	/* Each pass fails with probability under 1/4, so word 3 never wraps
	 * in practice (and wrapping would still be well defined). */
	for (uint32_t w3 = 1;; w3++) {
		uint32_t b[4];
		ctr[3] = w3;
		k_philox4x32(key, ctr, b);
		if (lemire(word64(b[0], b[1]), span, reject_below, &r) ||
		    lemire(word64(b[2], b[3]), span, reject_below, &r))
			return r;
	}
}

void k_rand_integers(uint64_t seed, uint64_t first, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
	philox_block_fn block = pick_block();
	struct philox_keys ks;
	philox_keys_init(&ks, seed);
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	/* 2^64 mod span, computed as (2^64 - span) mod span in 64 bits. */
	uint64_t reject_below = (0 - span) % span;
	uint64_t x[4][LANES];
	for (size_t done = 0; done < n; done += LANES) {
		block(&ks, first + done, K_STREAM_INTEGERS, 0, x);
		size_t m = n - done < LANES ? n - done : LANES;
		for (size_t j = 0; j < m; j++) {
			uint64_t r;
			if (!lemire(word64(x[0][j], x[1][j]), span, reject_below, &r) &&
			    !lemire(word64(x[2][j], x[3][j]), span, reject_below, &r))
				r = integers_retry(seed, first + done + j, span, reject_below);
			/* lo + r in unsigned arithmetic lands in [lo, hi) for any
			 * lo; the conversion back wraps (GCC, Clang: modulo 2^64). */
			out[done + j] = (int64_t)((uint64_t)lo + r);
		}
	}
}
