/* SPDX-License-Identifier: MIT */
/*
 * kernels: pure compute over caller-owned buffers, the layer both the CPU
 * code and the (later) CUDA plugin implement. Plain C types only, so the
 * same declarations compile under nvcc; no allocation, no errors to report
 * (every precondition is stated at the declaration and is the caller's to
 * check), no global state: every function may be called from any thread at
 * once.
 *
 * DESIGN: random numbers are counter based (ARS-7: AES rounds with a Weyl
 * key schedule, Salmon et al., SC'11). Element i of a random array with
 * seed s is a pure function of (s, i, stream): the 128-bit key is s (high
 * half 0), the 128-bit counter holds an index derived from i in its low 64
 * bits and the stream in its high ones. So an array filled in one call
 * equals the same array filled chunk by chunk, by any number of threads, or
 * on a GPU that follows the same recipe; a chunk is just the index range
 * [first, first + n). Every draw kind has its own stream so that, with one
 * seed, uniform(), normal() and integers() arrays are independent of each
 * other.
 */
#ifndef TESSERA_KERNELS_H
#define TESSERA_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Counter-based random numbers (cpu/rng.c) ---- */

/* Counter word 2 (bits 64-95 of the counter): which kind of draw a block feeds. */
enum k_rand_stream {
	K_STREAM_UNIFORM = 0,  /* k_rand_uniform, k_rand_uniform_f32 */
	K_STREAM_NORMAL = 1,   /* k_rand_normal */
	K_STREAM_INTEGERS = 2, /* k_rand_integers */
};

/* The rounds of the arrays' generator: 5 pass BigCrush (Salmon et al.),
 * two more are the margin Random123 chose as its default. */
#define K_ARS_ROUNDS 7

/* k_ars4x32() : one ARS block of @rounds (1 to 10) rounds: @out = the
 * 128-bit bijection of @ctr under @key. Words are little-endian-first as in
 * Random123 (word 0 is bits 0-31), so its published known-answer vectors
 * apply as written. Below, "half 0" of a block is its words 0-1 as a 64-bit
 * number (word 1 on top), "half 1" its words 2-3. @out may alias @ctr.
 * k_ars4x32_portable() computes the same in portable C on any CPU, for
 * tests of the vector paths. */
void k_ars4x32(int rounds, const uint32_t key[4], const uint32_t ctr[4], uint32_t out[4]);
void k_ars4x32_portable(int rounds, const uint32_t key[4], const uint32_t ctr[4], uint32_t out[4]);
/* k_rand_cap_isa() : for tests only: the fillers take at most path @level from now on (0 the
 * portable round, 1 AES-NI, 2 VAES with AVX-512; the CPU may allow less) so that every path can be
 * compared on one machine. @return the path now in effect. Not for use while fillers run. */
int k_rand_cap_isa(int level);

/* The recipe: key = {seed & 0xffffffff, seed >> 32, 0, 0}, K_ARS_ROUNDS
 * rounds, counter = {c & 0xffffffff, c >> 32, stream, word3} with c and
 * word3 as each filler says. */

/* k_rand_uniform() : @out[j] for element index i = @first + j, j < @n, is
 * lo + (hi - lo) * u with u in [0, 1), a multiple of 2^-53 taken from the top
 * 53 bits of half i & 1 of the block of c = i / 2, word3 0, so one block makes
 * two doubles (numpy's formula; as in numpy, rounding can yield @hi itself
 * when hi - lo is not exact). @first + @n must not pass 2^64. */
void k_rand_uniform(uint64_t seed, uint64_t first, size_t n, double lo, double hi, double *out);

/* k_rand_uniform_f32() : as k_rand_uniform, in float: u is a multiple of
 * 2^-24 from the top 24 bits of the same half, so the float array is the
 * double one's u rounded down to 24 bits. */
void k_rand_uniform_f32(uint64_t seed, uint64_t first, size_t n, float lo, float hi, float *out);

/* k_rand_normal() : mean + sd * z, z standard normal by Box–Muller (cos
 * branch only, so one block per element, c = i, word3 0): u1 in (0, 1] from
 * the top 53 bits of half 0 plus one step (never 0, so log is finite), u2 in
 * [0, 1) from the top 53 bits of half 1; z = sqrt(-2 ln u1) cos(2 pi u2).
 * |z| is at most about 8.57 (u1 = 2^-53). log and cos are k_log_f64 and
 * k_cos_f64_fixed (libm's on CPUs without AVX2, which may differ in the last bit),
 * so a GPU's results may differ in the last bits too. */
void k_rand_normal(uint64_t seed, uint64_t first, size_t n, double mean, double sd, double *out);

/* k_rand_integers() : uniform on [lo, hi), exactly unbiased; requires
 * hi > lo (any span up to 2^64 - 1). Lemire's multiply-shift with rejection:
 * the block of c = i, word3 0 gives two 64-bit candidates, half 0 and half 1,
 * tried in that order. A candidate is rejected with probability
 * (2^64 mod span) / 2^64 < span / 2^64, under 2^-34 for spans below 2^30; if
 * both are rejected, the blocks with word3 = 1, 2, ... supply two more
 * candidates each until one is accepted, so the element still depends only
 * on (seed, index). */
void k_rand_integers(uint64_t seed, uint64_t first, size_t n, int64_t lo, int64_t hi, int64_t *out);

/* ---- Reductions (cpu/numeric.c) ---- */

/* k_sum_f64() : pairwise sum (blocks of up to 128 summed into 8 partial
 * sums, blocks combined pairwise), error O(log n) ulps; 0.0 when @n is 0.
 * NaN and inf propagate as in a plain sum. The same bits as numpy 1.24's
 * np.sum for n <= 8192; numpy sums longer arrays as a running total, from
 * 0.0, of k_sum_f64 over consecutive 8192-value pieces, so a caller wanting
 * numpy's exact bits does that. */
double k_sum_f64(const double *x, size_t n);
/* k_sumsq_f64() : k_sum_f64 of the squares x[i] * x[i] (each rounded), without storing them. */
double k_sumsq_f64(const double *x, size_t n);
/* k_sumprod_f64() : k_sum_f64 of the products x[i] * y[i * step] (each rounded), without
 * storing them; @step is 1 or -1 (y read backwards from y[0]). */
double k_sumprod_f64(const double *x, const double *y, long step, size_t n);

/* k_sum_f32_as_f64() : as k_sum_f64 over floats widened to double
 * (np.sum(x, dtype=np.float64) for n <= 8192). */
double k_sum_f32_as_f64(const float *x, size_t n);

/* k_sum_i64() : exact sum, wrapping modulo 2^64 on overflow as numpy does. */
int64_t k_sum_i64(const int64_t *x, size_t n);

/* Streaming mean and variance (Welford / Chan et al.). var = m2 / (n - ddof). */
struct k_moments {
	double n;    /* count of values added; 0 for an empty accumulator */
	double mean; /* running mean; 0 when n is 0 */
	double m2;   /* sum of squared deviations from mean */
};

/* k_moments_add() : adds @x[0..@n) to @m, block by block: each block's mean
 * and M2 are computed two-pass over the block (accurate), then merged into
 * @m with Chan's formula. Start from {0, 0, 0}. */
void k_moments_add(struct k_moments *m, const double *x, size_t n);

/* k_moments_merge() : @a becomes the moments of the union of @a's and @b's
 * values (Chan's pairwise update); @b is unchanged and may equal @a. */
void k_moments_merge(struct k_moments *a, const struct k_moments *b);

/* k_min_f64() / k_max_f64() : numpy's min/max: any NaN in @x gives NaN.
 * For @n == 0 they return NaN (numpy raises; the caller must reject empty
 * input). Between equal values of opposite sign (0.0, -0.0) either may be
 * returned. */
double k_min_f64(const double *x, size_t n);
double k_max_f64(const double *x, size_t n);

/* k_nanmin_f64() / k_nanmax_f64() : numpy's nanmin/nanmax: NaNs are
 * skipped; NaN when every value is NaN or @n == 0. */
double k_nanmin_f64(const double *x, size_t n);
double k_nanmax_f64(const double *x, size_t n);

/* k_argmin_f64() / k_argmax_f64() : numpy's argmin/argmax: the index of the
 * first minimum (maximum); NaN counts as the extreme, so with any NaN the
 * index of the first NaN. SIZE_MAX when @n == 0. */
size_t k_argmin_f64(const double *x, size_t n);
size_t k_argmax_f64(const double *x, size_t n);

/* ---- Shortest round-trip formatting (cpu/format.c) ---- */

/* Room k_format_double() and k_format_float32() need at most, NUL included. */
#define K_FORMAT_LEN 32

/* k_format_double() : numpy's repr of a float64 scalar into @out: the
 * shortest digit string that reads back to @v (ties in length broken by
 * closeness to @v), positional for 1e-4 <= |v| < 1e16 and zero ("0.1",
 * "1.0", "123456789012345.0", "0.0001", "-0.0"), scientific otherwise
 * ("1e+16", "1.5e-05", "5e-324"); "nan", "inf", "-inf".
 * @return the length written (without the NUL), or -1 with @out set to ""
 * (when @out_len > 0) if @out_len is too small; K_FORMAT_LEN always fits. */
int k_format_double(double v, char *out, size_t out_len);

/* k_format_float32() : the same for a float32 scalar: shortest digits that
 * read back to the same float (np.float32(0.1) gives "0.1"), with numpy's
 * thresholds applied to the float's exact value (so 1e-4f gives "1e-04"). */
int k_format_float32(float v, char *out, size_t out_len);

/* k_cos_f64() / k_sin_f64() : elementwise over @n values; @out must not
 * overlap @x. Within 2 ulp of libm, vectorized (AVX-512 or AVX2+FMA, chosen
 * at run time) for |x| < 2^19 * pi/2; libm beyond that and on other CPUs.
 * Blocks of values within [-1, 1] take a faster path whose last bit may
 * differ, so a value's result can depend on its neighbours.
 * k_cos_f64_fixed() : k_cos_f64 with every value on the one general path,
 * so a result depends on its value alone. */
void k_cos_f64(const double *restrict x, double *restrict out, size_t n);
void k_sin_f64(const double *restrict x, double *restrict out, size_t n);
void k_cos_f64_fixed(const double *restrict x, double *restrict out, size_t n);
/* k_log_f64() : the natural log, elementwise over @n values; @out must not
 * overlap @x. Within 1 ulp of libm, vectorized (AVX-512 or AVX2, the same
 * bits, chosen at run time) for positive normal x; libm for the rest and on
 * other CPUs. */
void k_log_f64(const double *restrict x, double *restrict out, size_t n);
/* k_exp_f64() : e^x, elementwise over @n values; @out must not overlap @x.
 * Within 1 ulp of libm, vectorized (AVX-512 or AVX2, the same bits, chosen
 * at run time) for |x| < 707; libm for the rest and on other CPUs. */
void k_exp_f64(const double *restrict x, double *restrict out, size_t n);
/* k_tanh_f64() : tanh, the same way: within 2 ulp of libm, vectorized for |x| < 353.5 (libm, which
 * gives +-1, past that and for NaN, and on other CPUs). */
void k_tanh_f64(const double *restrict x, double *restrict out, size_t n);
/* k_cosh_f64() / k_sinh_f64() : the same way, within 2 ulp of libm, vectorized for |x| < 707. */
void k_cosh_f64(const double *restrict x, double *restrict out, size_t n);
void k_sinh_f64(const double *restrict x, double *restrict out, size_t n);

/* k_lt_scalar_f64() / k_gt_scalar_f64() : out[i] = a[i] < b (or >) as 0 or 1;
 * NaN compares false. @out must not overlap @a. */
void k_lt_scalar_f64(const double *restrict a, double b, int64_t *restrict out, size_t n);
void k_gt_scalar_f64(const double *restrict a, double b, int64_t *restrict out, size_t n);
/* k_square_f64() : out[i] = a[i] * a[i]. k_pair_sums_f64() : out[i] = a[2i] + a[2i + 1] (the sums
 * of @n rows of two). @out must not overlap @a. */
void k_square_f64(const double *restrict a, double *restrict out, size_t n);
void k_pair_sums_f64(const double *restrict a, double *restrict out, size_t n);
/* k_pair_sumsq_f64() : out[i] = a[2i] * a[2i] + a[2i + 1] * a[2i + 1], each operation rounded. */
void k_pair_sumsq_f64(const double *restrict a, double *restrict out, size_t n);
/* k_count_lt_f64() / k_count_gt_f64() : *count = how many a[i] < b (> b); NaN counts as false. */
void k_count_lt_f64(const double *restrict a, double b, size_t n, int64_t *restrict count);
void k_count_gt_f64(const double *restrict a, double b, size_t n, int64_t *restrict count);
/* k_reverse_u64() : out[i] = a[n - 1 - i] (8-byte values: doubles or int64s, copied as bits). */
void k_reverse_u64(const uint64_t *restrict a, uint64_t *restrict out, size_t n);
/* k_add_f64() / k_sub_f64() / k_mul_f64() / k_div_f64() : out[i] = a[i * sa] OP b[i * sb], for
 * strides @sa and @sb of 1 or 0 (one value, broadcast), not both 0. @out must not overlap a or b. */
void k_add_f64(const double *restrict a, int sa, const double *restrict b, int sb, double *restrict out, size_t n);
void k_sub_f64(const double *restrict a, int sa, const double *restrict b, int sb, double *restrict out, size_t n);
void k_mul_f64(const double *restrict a, int sa, const double *restrict b, int sb, double *restrict out, size_t n);
void k_div_f64(const double *restrict a, int sa, const double *restrict b, int sb, double *restrict out, size_t n);
/* k_sqrt_f64() / k_abs_f64() / k_floor_f64() / k_ceil_f64() : out[i] = f(a[i]), IEEE exact (sqrt of a
 * negative is NaN; errno is not set). @out must not overlap @a. */
void k_sqrt_f64(const double *restrict a, double *restrict out, size_t n);
void k_abs_f64(const double *restrict a, double *restrict out, size_t n);
void k_floor_f64(const double *restrict a, double *restrict out, size_t n);
void k_ceil_f64(const double *restrict a, double *restrict out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
