/* SPDX-License-Identifier: MIT */
/*
 * hash: fast non-cryptographic hashing of bytes and words, for the hash
 * tables of groupby, joins and duplicate detection. Inline because the
 * callers hash one key per row in their innermost loops.
 */
#ifndef TESSERA_UTIL_HASH_H
#define TESSERA_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_K0 0xa0761d6478bd642full
#define HASH_K1 0xe7037ed1a0b428dbull
#define HASH_K2 0x8ebc6af09c88c6e3ull

static inline uint64_t hash_ld64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t hash_ld32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t hash_mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* wyhash-like: short strings in one or two multiplies. */
static inline uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t a, b, h = HASH_K0 ^ n;
	if (n <= 16) {
		if (n >= 4) {
			size_t q = (n >> 3) << 2;
			a = (uint64_t)hash_ld32(p) << 32 | hash_ld32(p + q);
			b = (uint64_t)hash_ld32(p + n - 4) << 32 | hash_ld32(p + n - 4 - q);
		} else if (n > 0) {
			a = (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n >> 1] << 8 |
			    (unsigned char)p[n - 1];
			b = 0;
		} else {
			a = b = 0;
		}
	} else {
		size_t i = n;
		while (i > 16) {
			h = hash_mix(hash_ld64(p) ^ HASH_K1, hash_ld64(p + 8) ^ h);
			p += 16;
			i -= 16;
		}
		a = hash_ld64(p + i - 16);
		b = hash_ld64(p + i - 8);
	}
	return hash_mix(HASH_K1 ^ n, hash_mix(a ^ HASH_K1, b ^ h));
}

static inline uint64_t hash_word(uint64_t v)
{
	return hash_mix(v ^ HASH_K0, HASH_K1);
}

static inline uint64_t hash_combine(uint64_t h, uint64_t k)
{
	return hash_mix(h ^ HASH_K2, k ^ HASH_K0);
}

#endif
