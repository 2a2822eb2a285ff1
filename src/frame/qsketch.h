/* SPDX-License-Identifier: MIT */
/*
 * qsketch: quantiles of a stream of numbers in bounded memory, mergeable.
 * It is the per-group state behind quantile(), median() and describe()'s
 * percentiles, so those run in the aggregation's map/combine/final tree
 * like a sum does, on data of any size.
 *
 * Up to 2k values the sketch keeps every value and answers exactly,
 * with pandas' linear interpolation between the two nearest values. Past
 * that it is a KLL sketch (Karnin, Lang and Liberty, "Optimal quantile
 * approximation in streams", 2016), written from the paper: levels of
 * items, an item of level h standing for 2^h values. New values go to level
 * 0. When the sketch holds more items than its levels' total capacity, the
 * lowest level over its own capacity is compacted: sorted, cut into pairs,
 * one item of each pair (the first or the second, by a coin flip for the
 * whole level) moves up a level with twice the weight, the other is
 * dropped. The top level has capacity k, each level below 2/3 of the one
 * above (at least 8), so a sketch holds at most about 3k items (48 KiB at
 * the default k = QSK_K) whatever it has seen; an exact one holds at most
 * 2k (32 KiB), so keeping small groups exact costs no more than sketching
 * them. Merging concatenates level by level, then compacts the same way,
 * under the smaller k of the two. A caller that holds many sketches lowers
 * k (qsk_set_k) to stay within memory: the error grows as 1/k.
 *
 * Error: a compaction at level h moves the rank of any value by at most
 * 2^h, up or down with equal chance, independently of the other
 * compactions; the KLL analysis bounds the sum. With QSK_K = 2048 the rank
 * error of a quantile (the distance between the rank the answer has in the
 * data and q (n - 1)) has a standard deviation of about 0.03% of n, and was
 * at most 0.07% in 200 trials (random, skewed, sorted and repetitive data,
 * one sketch or a hundred merged, n from 4097 to 10^7); at the smallest k,
 * QSK_K_MIN = 256, eight times that. The documented bound is 1% of n; tests/unit/table_test.c and
 * tests/frame/crosscheck.py check it on a million values. The smallest and
 * largest values are kept exactly, so q = 0 and q = 1 are exact.
 *
 * DESIGN: deterministic. The coin flips come from a splitmix64 state that
 * the caller seeds (gb seeds it with the global row of the group's first
 * value, so partitions flip independent coins), and that a merge combines
 * from both sides; results depend only on the values, their order and the
 * merge order, never on timing. A sketch is owned by one thread at a time;
 * a zeroed struct is an empty sketch.
 */
#ifndef TESSERA_FRAME_QSKETCH_H
#define TESSERA_FRAME_QSKETCH_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

#define QSK_K 2048          /* the top level's capacity k, by default (values kept exactly: 2k) */
#define QSK_K_MIN 256       /* the smallest k qsk_set_k() gives */
#define QSK_EXACT (2 * QSK_K)
#define QSK_MAX_LEVELS 60   /* 2^60 items' worth: never reached */

struct qsketch {
	double *it;     /* n_it items in room for cap: level n_lv - 1 first ... level 0 last; level 0
			 * unsorted, the others sorted ascending */
	uint32_t *len;  /* QSK_MAX_LEVELS level sizes, len[h] for level h; NULL while exact (then every
			 * value is an item of level 0, it[0 .. n_it)) */
	uint32_t n_it, cap;
	uint32_t n_lv;  /* levels when len != NULL */
	uint32_t k;     /* the top level's capacity; 0: QSK_K */
	uint32_t room;  /* items the levels may hold together; 0: not computed yet */
	uint64_t n;     /* values added: the items' total weight */
	uint64_t coin;  /* splitmix64 state of the coin flips */
	double lo, hi;  /* the smallest and largest value (when n > 0) */
};

/* Which interpolation an exact answer uses, so that it matches pandas to the bit. */
enum qsk_rule {
	QSK_SERIES,  /* Series.quantile, describe(): numpy's percentile of q * 100 (linear, symmetric lerp) */
	QSK_GROUPBY, /* groupby quantile: v[i] + (v[i + 1] - v[i]) * frac, as pandas' group_quantile */
	QSK_MEDIAN,  /* median: the middle value, or the mean of the two middle values */
};

/* qsk_release() : frees the sketch's memory and empties it. */
void qsk_release(struct qsketch *s);
/* qsk_seed() : sets the coin state; call it on an empty sketch (later calls are ignored). */
void qsk_seed(struct qsketch *s, uint64_t seed);

void qsk_grow_(struct qsketch *s, uint32_t need);
void qsk_compress_(struct qsketch *s);

/* qsk_add() : adds value @v (not NaN: the caller skips missing values). */
static inline void qsk_add(struct qsketch *s, double v)
{
	if (s->n_it == s->cap)
		qsk_grow_(s, s->n_it + 1);
	s->it[s->n_it++] = v;
	if (s->len)
		s->len[0]++;
	if (s->n++ == 0) {
		s->lo = s->hi = v;
	} else {
		s->lo = v < s->lo ? v : s->lo;
		s->hi = v > s->hi ? v : s->hi;
	}
	if (s->n_it > s->room)
		qsk_compress_(s);
}

/* qsk_set_k() : lowers the sketch's top capacity to @k (at least QSK_K_MIN), compacting
 * what it holds to fit; a larger @k than it has is ignored. */
void qsk_set_k(struct qsketch *s, uint32_t k);

/* qsk_bound_bytes() : the most memory a sketch of top capacity @k holds, whatever it has seen. */
size_t qsk_bound_bytes(uint32_t k);

/* qsk_merge() : adds everything @o has seen to @s (@o is unchanged; @s takes the smaller k). */
void qsk_merge(struct qsketch *s, const struct qsketch *o);

/* qsk_serialize() : appends the sketch's byte form (8-byte words) to @out. */
void qsk_serialize(const struct qsketch *s, struct buf *out);
/* qsk_check() : the length of the well-formed sketch serialized at @p (at most @len bytes;
 * level sizes and weights consistent, levels sorted, no NaN), or 0 when malformed. */
size_t qsk_check(const unsigned char *p, size_t len);
/* qsk_merge_bytes() : qsk_merge() of a sketch serialized at @p that qsk_check() accepted. */
void qsk_merge_bytes(struct qsketch *s, const unsigned char *p);

/*
 * qsk_quantile() : the @q quantile (0 <= q <= 1) of the values seen, NaN when
 * none. Exact (by @rule) while the sketch holds every value; past that, the
 * items weighted by 2^level are read as a step function of rank and
 * interpolated linearly between their mid-ranks (and the exact minimum and
 * maximum at ranks 0 and n - 1). It sorts level 0 in place (the sketch
 * stays valid).
 */
double qsk_quantile(struct qsketch *s, double q, enum qsk_rule rule);

/* qsk_exact() : whether the sketch still holds every value it has seen. */
static inline int qsk_exact(const struct qsketch *s)
{
	return s->len == NULL;
}

#endif
