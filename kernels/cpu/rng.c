/* SPDX-License-Identifier: MIT */
/*
 * rng: ARS-7 counter-based random numbers and the bulk fillers built on it
 * (uniform, normal, integers). The recipe that maps (seed, index, stream) to
 * a value is in kernels.h; this file only has to follow it quickly.
 *
 * ARS (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3")
 * is AES's round function with a simple key schedule: the 128-bit counter
 * is xor'ed with the key, then goes through rounds of AES encryption whose
 * round keys are the key plus 1, 2, ... times a Weyl constant (per 64-bit
 * half). The paper finds 5 rounds enough to pass TestU01's BigCrush; 7,
 * Random123's default, leaves a margin. It replaced Philox4x32-10 here
 * because one AES round is one instruction: with VAES, a 512-bit register
 * holds four blocks (eight doubles), and a uniform double costs 0.64 ns
 * instead of Philox's 0.93 ns (one core of this project's Xeon, one run).
 *
 * DESIGN: a "run" computes the blocks of consecutive counters into memory;
 * it comes from one of three routines, picked by CPUID: VAES with
 * AVX-512 (thirty-two blocks in flight), AES-NI (eight), or portable C with a
 * table-driven AES round elsewhere. They give the same bits, so results
 * never depend on the machine (a unit test compares the portable block with
 * the fillers). Uniform doubles on VAES with AVX-512DQ skip memory: rounds
 * and conversion stay in registers, with the scalar path's operations. The
 * transforms (Box-Muller's log and cos aside) are exact or correctly rounded
 * IEEE operations, with contraction off in ISO C mode. The fillers keep no
 * state between calls.
 */
#include "kernels.h"
#include "isa.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#define ARS_MAX_ROUNDS 10
/* The Weyl increments of the two 64-bit key halves (golden ratio, sqrt(3) - 1). */
#define WEYL_LO 0x9E3779B97F4A7C15ull
#define WEYL_HI 0xBB67AE8584CAA73Bull

/* Counters per tile of the generic paths: 4 KiB of outputs, in L1. */
#define TILE 256

#define TWO_PI 6.283185307179586476925286766559
#define INV_2_53 (1.0 / 9007199254740992.0) /* 2^-53 */
#define INV_2_24 (1.0f / 16777216.0f)       /* 2^-24 */

#define ALWAYS_INLINE static inline __attribute__((always_inline))
/* Functions whose loops are the run time: aligned, so that where the linker
 * puts them cannot move their loops across fetch boundaries (pi's time moved
 * by 6% when an unrelated file grew). */
#define HOT __attribute__((aligned(64)))

/* The round keys of one key: rk[r] = {low half, high half} for r = 0 (the
 * initial xor) .. rounds (the last round's). Computed once per filler call. */
struct ars_keys {
	uint64_t rk[ARS_MAX_ROUNDS + 1][2];
	int rounds;
};

static void ars_keys_init(struct ars_keys *ks, uint64_t key_lo, uint64_t key_hi, int rounds)
{
	ks->rounds = rounds;
	for (int r = 0; r <= rounds; r++) {
		ks->rk[r][0] = key_lo;
		ks->rk[r][1] = key_hi;
		key_lo += WEYL_LO;
		key_hi += WEYL_HI;
	}
}

/* The keys of the arrays' recipe: the seed is the key's low half. */
static void seed_keys(struct ars_keys *ks, uint64_t seed)
{
	ars_keys_init(ks, seed, 0, K_ARS_ROUNDS);
}

/* ---- portable C: AES rounds byte by byte (FIPS-197) ---- */

/* The AES S-box, generated from its definition (the inverse in GF(2^8)
 * modulo x^8 + x^4 + x^3 + x + 1, then the affine map with 0x63). */
static const uint8_t sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
	0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
	0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
	0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
	0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
	0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
	0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
	0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
	0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
	0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
	0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
};

/* Multiplication by x in GF(2^8). */
static uint8_t xtime(uint8_t a)
{
	return (uint8_t)(a << 1 ^ (a >> 7) * 0x1b);
}

/* One AES encryption round on state @s (byte 4c + r is row r of column c,
 * the order of the x86 instructions' little-endian bytes): SubBytes,
 * ShiftRows, MixColumns unless @last, then the round key. */
static void aes_round_c(uint8_t s[16], const uint8_t rk[16], bool last)
{
	uint8_t t[16];
	for (int c = 0; c < 4; c++)
		for (int r = 0; r < 4; r++)
			t[4 * c + r] = sbox[s[4 * ((c + r) & 3) + r]];
	for (int c = 0; c < 4; c++) {
		uint8_t *a = &t[4 * c];
		if (!last) {
			uint8_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], all = a0 ^ a1 ^ a2 ^ a3;
			/* b_r = a_r ^ all ^ x * (a_r ^ a_{r+1}): the MixColumns matrix (2 3 1 1 ...) */
			a[0] = (uint8_t)(a0 ^ all ^ xtime(a0 ^ a1));
			a[1] = (uint8_t)(a1 ^ all ^ xtime(a1 ^ a2));
			a[2] = (uint8_t)(a2 ^ all ^ xtime(a2 ^ a3));
			a[3] = (uint8_t)(a3 ^ all ^ xtime(a3 ^ a0));
		}
		for (int r = 0; r < 4; r++)
			s[4 * c + r] = a[r] ^ rk[4 * c + r];
	}
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int b = 0; b < 8; b++)
		p[b] = (uint8_t)(v >> 8 * b);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int b = 0; b < 8; b++)
		v |= (uint64_t)p[b] << 8 * b;
	return v;
}

/* One block: the counter (lo, hi) to out[0] (low half), out[1] (high half). */
static void ars_block_c(const struct ars_keys *ks, uint64_t lo, uint64_t hi, uint64_t out[2])
{
	uint8_t s[16], rk[16];
	put_le64(s, lo ^ ks->rk[0][0]);
	put_le64(s + 8, hi ^ ks->rk[0][1]);
	for (int r = 1; r <= ks->rounds; r++) {
		put_le64(rk, ks->rk[r][0]);
		put_le64(rk + 8, ks->rk[r][1]);
		aes_round_c(s, rk, r == ks->rounds);
	}
	out[0] = get_le64(s);
	out[1] = get_le64(s + 8);
}

/*
 * ars_run: the blocks of the @nb counters (c + j, @hi), j < @nb, into
 * out[2j] (low half) and out[2j + 1] (high half). c + j is the counter's
 * low 64 bits and wraps there; @hi is its high 64 bits.
 */
typedef void (*ars_run_fn)(const struct ars_keys *ks, uint64_t c, uint64_t hi, size_t nb, uint64_t *out);

static void ars_run_c(const struct ars_keys *ks, uint64_t c, uint64_t hi, size_t nb, uint64_t *out)
{
	for (size_t j = 0; j < nb; j++)
		ars_block_c(ks, c + j, hi, out + 2 * j);
}

#if defined(__x86_64__)
#define AESNI __attribute__((target("aes,sse4.1")))
#define VAES512 __attribute__((target("avx512f,avx512dq,vaes,aes,sse4.1")))

/* AES-NI: eight blocks in flight cover the round's latency. */
AESNI static void ars_run_aesni(const struct ars_keys *ks, uint64_t c, uint64_t hi, size_t nb, uint64_t *out)
{
	const int R = ks->rounds;
	__m128i rk[ARS_MAX_ROUNDS + 1];
	for (int r = 0; r <= R; r++)
		rk[r] = _mm_set_epi64x((long long)ks->rk[r][1], (long long)ks->rk[r][0]);
	size_t j = 0;
	for (; j + 8 <= nb; j += 8) {
		__m128i v[8];
		/* unrolled, so that v stays in registers (see ars_group_vaes) */
#pragma GCC unroll 8
		for (int g = 0; g < 8; g++)
			v[g] = _mm_xor_si128(_mm_set_epi64x((long long)hi, (long long)(c + j + (uint64_t)g)), rk[0]);
		for (int r = 1; r < R; r++) {
			__m128i k = rk[r];
#pragma GCC unroll 8
			for (int g = 0; g < 8; g++)
				v[g] = _mm_aesenc_si128(v[g], k);
		}
#pragma GCC unroll 8
		for (int g = 0; g < 8; g++)
			_mm_storeu_si128((__m128i *)(out + 2 * (j + (size_t)g)), _mm_aesenclast_si128(v[g], rk[R]));
	}
	for (; j < nb; j++) {
		__m128i v = _mm_xor_si128(_mm_set_epi64x((long long)hi, (long long)(c + j)), rk[0]);
		for (int r = 1; r < R; r++)
			v = _mm_aesenc_si128(v, rk[r]);
		_mm_storeu_si128((__m128i *)(out + 2 * j), _mm_aesenclast_si128(v, rk[R]));
	}
}

/* The 512-bit round keys: each 128-bit key in all four lanes. */
VAES512 ALWAYS_INLINE void wide_keys(const struct ars_keys *ks, __m512i rk[ARS_MAX_ROUNDS + 1])
{
	for (int r = 0; r <= ks->rounds; r++)
		rk[r] = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)ks->rk[r][1], (long long)ks->rk[r][0]));
}

/* Blocks per VAES group: eight registers of four. AES rounds take several
 * cycles, so fewer independent registers leave the unit waiting (four: 0.74
 * ns a double, eight: 0.60 ns, measured while v still went through the
 * stack; 0.32 ns since). */
#define VGROUP 32

/* The blocks of counters (c + 4g + k, hi), k < 4, in v[g], g < 8: VGROUP
 * blocks, four per register, in counter order. */
VAES512 ALWAYS_INLINE void ars_group_vaes(const __m512i *rk, int R, uint64_t c, uint64_t hi, __m512i v[8])
{
	/* the high halves stay @hi; the low halves count: only even lanes get c added */
	const __m512i base = _mm512_set_epi64((long long)hi, 3, (long long)hi, 2, (long long)hi, 1, (long long)hi, 0);
	/* Unrolled, so that v stays in registers: as loops, gcc kept v on the
	 * stack and loaded and stored it around every round (0.65 -> 0.32 ns a
	 * uniform double, one core). */
#pragma GCC unroll 8
	for (int g = 0; g < 8; g++) {
		__m512i ctr = _mm512_add_epi64(base, _mm512_maskz_set1_epi64(0x55, (long long)(c + 4u * (unsigned)g)));
		v[g] = _mm512_xor_si512(ctr, rk[0]);
	}
	for (int r = 1; r < R; r++) {
		__m512i k = rk[r];
#pragma GCC unroll 8
		for (int g = 0; g < 8; g++)
			v[g] = _mm512_aesenc_epi128(v[g], k);
	}
#pragma GCC unroll 8
	for (int g = 0; g < 8; g++)
		v[g] = _mm512_aesenclast_epi128(v[g], rk[R]);
}

/* A part group at the end is computed whole and cut: single blocks cost
 * their whole latency (a 1000-value row took 0.90 ns a value that way,
 * against 0.64 in long runs). */
VAES512 HOT static void ars_run_vaes(const struct ars_keys *ks, uint64_t c, uint64_t hi, size_t nb, uint64_t *out)
{
	__m512i rk[ARS_MAX_ROUNDS + 1];
	wide_keys(ks, rk);
	for (size_t j = 0; j < nb; j += VGROUP) {
		__m512i v[8];
		uint64_t part[2 * VGROUP];
		uint64_t *to = nb - j >= VGROUP ? out + 2 * j : part;
		ars_group_vaes(rk, ks->rounds, c + j, hi, v);
		for (int g = 0; g < 8; g++)
			_mm512_storeu_si512(to + 8 * g, v[g]);
		if (to == part)
			memcpy(out + 2 * j, part, 2 * (nb - j) * sizeof *part);
	}
}

/*
 * AES-NI and VAES come from CPUID itself: not every compiler's
 * __builtin_cpu_supports knows them (clang 14 refuses "vaes"). The answer
 * is kept, because a CPUID instruction traps to the hypervisor in a virtual
 * machine (microseconds) and the fillers run once per tile; every thread
 * computes the same bits, so racing first calls agree.
 */
enum { AES_UNKNOWN, AES_NONE, AES_NI, AES_VAES512 };
static _Atomic int aes_level = AES_UNKNOWN;

static int aes_support(void)
{
	int level = atomic_load_explicit(&aes_level, memory_order_relaxed);
	if (level != AES_UNKNOWN)
		return level;
	unsigned a, b, c, d;
	level = AES_NONE;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_AES) && __builtin_cpu_supports("sse4.1")) {
		level = AES_NI;
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
		    __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & bit_VAES))
			level = AES_VAES512;
	}
	atomic_store_explicit(&aes_level, level, memory_order_relaxed);
	return level;
}

/* The highest path the fillers may take (k_rand_cap_isa(), for tests): AES_VAES512 unless capped. */
static _Atomic int aes_cap = AES_VAES512;

static bool have_aesni(void)
{
	return aes_support() >= AES_NI && atomic_load_explicit(&aes_cap, memory_order_relaxed) >= AES_NI;
}

static bool have_vaes512(void)
{
	return aes_support() == AES_VAES512 && atomic_load_explicit(&aes_cap, memory_order_relaxed) >= AES_VAES512;
}
#endif

int k_rand_cap_isa(int level)
{
#if defined(__x86_64__)
	static const int as_aes[3] = { AES_NONE, AES_NI, AES_VAES512 };
	atomic_store_explicit(&aes_cap, as_aes[level < 0 ? 0 : level > 2 ? 2 : level], memory_order_relaxed);
	return have_vaes512() ? 2 : have_aesni() ? 1 : 0;
#else
	(void)level;
	return 0;
#endif
}

/* The fastest run this CPU has. */
static ars_run_fn pick_run(void)
{
#if defined(__x86_64__)
	if (have_vaes512())
		return ars_run_vaes;
	if (have_aesni())
		return ars_run_aesni;
#endif
	return ars_run_c;
}

void k_ars4x32(int rounds, const uint32_t key[4], const uint32_t ctr[4], uint32_t out[4])
{
	struct ars_keys ks;
	ars_keys_init(&ks, (uint64_t)key[1] << 32 | key[0], (uint64_t)key[3] << 32 | key[2], rounds);
	uint64_t o[2];
	pick_run()(&ks, (uint64_t)ctr[1] << 32 | ctr[0], (uint64_t)ctr[3] << 32 | ctr[2], 1, o);
	out[0] = (uint32_t)o[0], out[1] = (uint32_t)(o[0] >> 32);
	out[2] = (uint32_t)o[1], out[3] = (uint32_t)(o[1] >> 32);
}

void k_ars4x32_portable(int rounds, const uint32_t key[4], const uint32_t ctr[4], uint32_t out[4])
{
	struct ars_keys ks;
	ars_keys_init(&ks, (uint64_t)key[1] << 32 | key[0], (uint64_t)key[3] << 32 | key[2], rounds);
	uint64_t o[2];
	ars_block_c(&ks, (uint64_t)ctr[1] << 32 | ctr[0], (uint64_t)ctr[3] << 32 | ctr[2], o);
	out[0] = (uint32_t)o[0], out[1] = (uint32_t)(o[0] >> 32);
	out[2] = (uint32_t)o[1], out[3] = (uint32_t)(o[1] >> 32);
}

/* u in [0, 1): the top 53 bits of @w, scaled. */
ALWAYS_INLINE double unit53(uint64_t w)
{
	return (double)(w >> 11) * INV_2_53;
}

#if defined(__x86_64__)
/*
 * The uniform doubles of elements [@first, @first + @n), VGROUP blocks at a
 * time: block k's low half is element 2k, its high half element 2k + 1,
 * which is exactly the order of the halves in a register, so the rounds and
 * the conversion stay in registers. A group that the range cuts (an odd
 * start, the end) goes through a buffer. AVX-512DQ has the 64-bit integer
 * to double conversion. The arithmetic is unit53's and the scalar path's,
 * operation for operation (no fused multiply-add), so the values are the
 * same bits.
 */
VAES512 HOT static void uniform_vaes(const struct ars_keys *ks, uint64_t first, size_t n, double lo, double span,
				 double *restrict out)
{
	__m512i rk[ARS_MAX_ROUNDS + 1];
	wide_keys(ks, rk);
	const __m512d inv = _mm512_set1_pd(INV_2_53), vspan = _mm512_set1_pd(span), vlo = _mm512_set1_pd(lo);
	uint64_t c = first >> 1;
	size_t skip = (size_t)(first & 1);
	while (n) {
		__m512i v[8];
		double part[2 * VGROUP];
		size_t m = 2 * VGROUP - skip < n ? 2 * VGROUP - skip : n;
		double *to = m == 2 * VGROUP ? out : part;
		ars_group_vaes(rk, ks->rounds, c, K_STREAM_UNIFORM, v);
		for (int g = 0; g < 8; g++) {
			__m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(v[g], 11)), inv);
			_mm512_storeu_pd(to + 8 * g, _mm512_add_pd(vlo, _mm512_mul_pd(vspan, u)));
		}
		if (to == part)
			memcpy(out, part + skip, m * sizeof *part);
		out += m;
		n -= m;
		c += VGROUP;
		skip = 0;
	}
}
#endif

/*
 * The fillers' common shape: the 64-bit words of element indices [@first,
 * @first + @n) under the uniform recipe (element i is half i & 1 of counter
 * i / 2), a tile at a time; each filler turns words into values. Lanes of
 * a tile outside the range are computed and dropped: a value never depends
 * on its neighbours, so that is invariant too.
 */
#define FOR_UNIFORM_WORDS(run, ks, first, n, w, m, BODY)                                       \
	do {                                                                                   \
		uint64_t w_[2 * TILE];                                                         \
		uint64_t i_ = (first);                                                         \
		size_t left_ = (n);                                                            \
		while (left_) {                                                                \
			size_t skip_ = (size_t)(i_ & 1);                                       \
			size_t m = 2 * TILE - skip_ < left_ ? 2 * TILE - skip_ : left_;        \
			run(ks, i_ >> 1, K_STREAM_UNIFORM, (skip_ + m + 1) / 2, w_);           \
			const uint64_t *w = w_ + skip_;                                        \
			BODY;                                                                  \
			i_ += m;                                                               \
			left_ -= m;                                                            \
		}                                                                              \
	} while (0)

void k_rand_uniform(uint64_t seed, uint64_t first, size_t n, double lo, double hi, double *out)
{
	ars_run_fn run = pick_run();
	struct ars_keys ks;
	seed_keys(&ks, seed);
	double span = hi - lo;
#if defined(__x86_64__)
	if (have_vaes512()) {
		uniform_vaes(&ks, first, n, lo, span, out);
		return;
	}
#endif
	FOR_UNIFORM_WORDS(run, &ks, first, n, w, m, {
		for (size_t j = 0; j < m; j++)
			out[j] = lo + span * unit53(w[j]);
		out += m;
	});
}

void k_rand_uniform_f32(uint64_t seed, uint64_t first, size_t n, float lo, float hi, float *out)
{
	ars_run_fn run = pick_run();
	struct ars_keys ks;
	seed_keys(&ks, seed);
	float span = hi - lo;
	FOR_UNIFORM_WORDS(run, &ks, first, n, w, m, {
		for (size_t j = 0; j < m; j++)
			out[j] = lo + span * ((float)(w[j] >> 40) * INV_2_24);
		out += m;
	});
}

/*
 * Box-Muller's two steps around the log and the cos, vectorized for AVX-512
 * (which converts 64-bit integers to doubles in vectors) and chosen at run
 * time; the same operations in every build, so the same bits. Baseline code
 * made them cost more than the log and the cos.
 */
#define NORMAL_PREP_LOOP                                                                         \
	for (size_t j = 0; j < m; j++) {                                                         \
		/* +1 step maps [0, 1) onto (0, 1]: log(u1) stays finite. */                     \
		u1[j] = (double)(int64_t)((w[2 * j] >> 11) + 1) * INV_2_53;                      \
		angle[j] = TWO_PI * ((double)(int64_t)(w[2 * j + 1] >> 11) * INV_2_53);         \
	}
#define NORMAL_FINISH_LOOP                                                                       \
	for (size_t j = 0; j < m; j++)                                                           \
		out[j] = mean + sd * (sqrt(-2.0 * lg[j]) * c[j]);

#if defined(__x86_64__)
K_ISA_BEGIN("avx512f,avx512dq")
K_REGION_OPT("O3", "no-trapping-math")
static void normal_prep_avx512(const uint64_t *restrict w, size_t m, double *restrict u1, double *restrict angle)
{
	NORMAL_PREP_LOOP
}
/* Written out: the compiler keeps sqrt scalar while errno could be set, and
 * the optimize attribute does not lift that. */
static void normal_finish_avx512(const double *restrict lg, const double *restrict c, size_t m, double mean,
				 double sd, double *restrict out)
{
	const __m512d vmean = _mm512_set1_pd(mean), vsd = _mm512_set1_pd(sd), m2 = _mm512_set1_pd(-2.0);
	for (size_t j = 0; j < m; j += 8) {
		__mmask8 k = m - j >= 8 ? 0xff : (__mmask8)((1u << (m - j)) - 1);
		__m512d r = _mm512_sqrt_pd(_mm512_mul_pd(m2, _mm512_maskz_loadu_pd(k, lg + j)));
		__m512d z = _mm512_mul_pd(r, _mm512_maskz_loadu_pd(k, c + j));
		_mm512_mask_storeu_pd(out + j, k, _mm512_add_pd(vmean, _mm512_mul_pd(vsd, z)));
	}
}
K_ISA_END
#endif

static void normal_prep(const uint64_t *restrict w, size_t m, double *restrict u1, double *restrict angle)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
		normal_prep_avx512(w, m, u1, angle);
		return;
	}
#endif
	NORMAL_PREP_LOOP
}

static void normal_finish(const double *restrict lg, const double *restrict c, size_t m, double mean, double sd,
			  double *restrict out)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
		normal_finish_avx512(lg, c, m, mean, sd, out);
		return;
	}
#endif
	NORMAL_FINISH_LOOP
}

void k_rand_normal(uint64_t seed, uint64_t first, size_t n, double mean, double sd, double *out)
{
	ars_run_fn run = pick_run();
	struct ars_keys ks;
	seed_keys(&ks, seed);
	uint64_t w[2 * TILE];
	double u1[TILE], angle[TILE], lg[TILE], c[TILE];
	for (size_t done = 0; done < n; done += TILE) {
		size_t m = n - done < TILE ? n - done : TILE;
		run(&ks, first + done, K_STREAM_NORMAL, m, w);
		normal_prep(w, m, u1, angle);
		/* the vector kernels: libm's log and cos cost 20 ns a value */
		k_log_f64(u1, lg, m);
		k_cos_f64_fixed(angle, c, m);
		normal_finish(lg, c, m, mean, sd, out + done);
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
static uint64_t integers_retry(ars_run_fn run, const struct ars_keys *ks, uint64_t i, uint64_t span,
			       uint64_t reject_below)
{
	uint64_t r = 0;
	/* Each pass fails with probability under 1/4, so word 3 never wraps
	 * in practice (and wrapping would still be well defined). */
	for (uint32_t w3 = 1;; w3++) {
		uint64_t b[2];
		run(ks, i, K_STREAM_INTEGERS | (uint64_t)w3 << 32, 1, b);
		if (lemire(b[0], span, reject_below, &r) || lemire(b[1], span, reject_below, &r))
			return r;
	}
}

void k_rand_integers(uint64_t seed, uint64_t first, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
	ars_run_fn run = pick_run();
	struct ars_keys ks;
	seed_keys(&ks, seed);
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	/* 2^64 mod span, computed as (2^64 - span) mod span in 64 bits. */
	uint64_t reject_below = (0 - span) % span;
	uint64_t w[2 * TILE];
	for (size_t done = 0; done < n; done += TILE) {
		size_t m = n - done < TILE ? n - done : TILE;
		run(&ks, first + done, K_STREAM_INTEGERS, m, w);
		for (size_t j = 0; j < m; j++) {
			uint64_t r;
			if (!lemire(w[2 * j], span, reject_below, &r) && !lemire(w[2 * j + 1], span, reject_below, &r))
				r = integers_retry(run, &ks, first + done + j, span, reject_below);
			/* lo + r in unsigned arithmetic lands in [lo, hi) for any
			 * lo; the conversion back wraps (GCC, Clang: modulo 2^64). */
			out[done + j] = (int64_t)((uint64_t)lo + r);
		}
	}
}
