/* SPDX-License-Identifier: MIT */
/*
 * join: hash joins of table partitions, and the keyed row matching that
 * merge() and drop_duplicates() are made of.
 *
 * A join index is built over the key columns of one table (the side that
 * fits in memory: the build side); the rows of another table (the probe
 * side, one partition at a time) are then matched against it. Keys match
 * as pandas' merge matches them: equal values, with an integer and a float
 * key compared as numbers, and a missing key matching another missing key
 * (NaN is missing).
 *
 * DESIGN: the index borrows the build table (its values must outlive it);
 * what join_probe() returns lives in the caller's arena. An index is used
 * by one thread.
 */
#ifndef TESSERA_FRAME_JOIN_H
#define TESSERA_FRAME_JOIN_H

#include "frame/table.h"

#include <stdbool.h>
#include <stdint.h>

struct join_index;

/*
 * join_key_type() : the type two key columns of types @a and @b compare as:
 * the type itself when equal, COL_FLOAT64 for an int64 and a float64, -1
 * when they cannot match (a string and a number, ...).
 */
int join_key_type(enum col_type a, enum col_type b);

/* join_index_new() : an index over @n_keys columns @keys of @build, each
 * compared as @as[k] (join_key_type()). */
struct join_index *join_index_new(const struct table *build, int n_keys, const int *keys, const enum col_type *as);
void join_index_free(struct join_index *ix);

/*
 * join_probe() : matches every row of @probe (key columns @keys, in the
 * index's order and types) against the index. The result is a list of
 * pairs, in probe row order and, for one probe row, build row order:
 * (*pi)[j] the probe row, (*bi)[j] the build row, or -1 for a probe row
 * with no match when @keep_unmatched. @matched (build rows, or NULL) gets
 * 1 at every build row that matched. @return the number of pairs; the
 * arrays are in @a. *pi is NULL when the pairs are exactly the probe rows in
 * order (each matched once, or kept unmatched): the probe side is then
 * unchanged.
 */
int64_t join_probe(struct arena *a, const struct join_index *ix, const struct table *probe, const int *keys,
		   bool keep_unmatched, uint8_t *matched, int64_t **pi, int64_t **bi);

/*
 * join_take() : column @col of @t at rows @idx[0..n), where -1 gives a
 * missing value, converted to @type (the column's own, or COL_FLOAT64 from
 * COL_INT64). Raw text is kept when the type is unchanged. With @alt
 * non-NULL, a row whose @idx is -1 takes @alt's column @alt_col at
 * @alt_idx instead (the key of an outer join comes from either side); raw
 * text is then dropped.
 */
void join_take(struct arena *a, const struct table *t, int col, const int64_t *idx, int64_t n, enum col_type type,
	       const struct table *alt, int alt_col, const int64_t *alt_idx, struct column *out);

#endif
