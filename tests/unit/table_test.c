/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for frame/table: every aggregate over int, float, bool, string
 * and date columns with missing values (expected values worked out by hand
 * and checked against pandas 1.5's groupby(...).agg(...)), partials split,
 * serialized and merged in several orders, sorted keys, whole-column
 * reductions, CSV/TSV/JSON-lines writing, take/filter, the byte form of a
 * table, and malformed bytes.
 */
#include "test.h"

#include "frame/qsketch.h"
#include "frame/table.h"
#include "kernels.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static struct column col_i(int64_t *v, uint8_t *valid, int64_t n)
{
	return (struct column){ .type = COL_INT64, .n = n, .valid = valid, .i = v };
}

static struct column col_f(double *v, uint8_t *valid, int64_t n)
{
	return (struct column){ .type = COL_FLOAT64, .n = n, .valid = valid, .f = v };
}

static struct column col_b(uint8_t *v, uint8_t *valid, int64_t n)
{
	return (struct column){ .type = COL_BOOL, .n = n, .valid = valid, .b = v };
}

static struct column col_d(int32_t *v, uint8_t *valid, int64_t n)
{
	return (struct column){ .type = COL_DATE, .n = n, .valid = valid, .d = v };
}

/* A string column from NUL-terminated strings (NULL: missing), in @a. */
static struct column col_s(struct arena *a, const char *const *v, int64_t n)
{
	struct column c = { .type = COL_STRING, .n = n };
	size_t total = 0;
	for (int64_t r = 0; r < n; r++)
		total += v[r] ? strlen(v[r]) : 0;
	char *data = arena_alloc(a, total + 1);
	c.soff = arena_alloc(a, sizeof *c.soff * (size_t)(n + 1));
	c.valid = arena_alloc(a, (size_t)n + 1);
	uint64_t o = 0;
	for (int64_t r = 0; r < n; r++) {
		size_t len = v[r] ? strlen(v[r]) : 0;
		memcpy(data + o, v[r] ? v[r] : "", len);
		c.soff[r] = o;
		c.valid[r] = v[r] != NULL;
		o += len;
	}
	c.soff[n] = o;
	c.sdata = data;
	return c;
}

/* The CSV text of @t, in @a. */
static const char *csv_of(struct arena *a, const struct table *t, enum table_format fmt)
{
	struct buf b;
	buf_init(&b);
	table_write(t, fmt, true, &b);
	char *s = arena_strdup(a, b.data ? b.data : "");
	buf_release(&b);
	return s;
}

static const char *finish_csv(struct arena *a, struct gb *g)
{
	struct table t;
	gb_finish(g, a, true, &t);
	return csv_of(a, &t, TF_CSV);
}

/* ---- the shared data set ----
 * row:   0      1        2      3      4       5
 * k:     b      a        b      a      c       (missing: dropped)
 * x:     1      2        3      -      5       100
 * y:     0.5    -        1.5    2.0    -       7.0
 * z:     True   False    False  True   -       True
 * s:     pear   apple    fig    -      kiwi    zz
 * d:     10     20       -      5      7       1   (days)
 */
#define NROWS 6
static const char *const k_val[NROWS] = { "b", "a", "b", "a", "c", NULL };
static int64_t x_val[NROWS] = { 1, 2, 3, 0, 5, 100 };
static uint8_t x_ok[NROWS] = { 1, 1, 1, 0, 1, 1 };
static double y_val[NROWS] = { 0.5, NAN, 1.5, 2.0, NAN, 7.0 };
static uint8_t y_ok[NROWS] = { 1, 0, 1, 1, 0, 1 };
static uint8_t z_val[NROWS] = { 1, 0, 0, 1, 0, 1 };
static uint8_t z_ok[NROWS] = { 1, 1, 1, 1, 0, 1 };
static const char *const s_val[NROWS] = { "pear", "apple", "fig", NULL, "kiwi", "zz" };
static int32_t d_val[NROWS] = { 10, 20, 0, 5, 7, 1 };
static uint8_t d_ok[NROWS] = { 1, 1, 0, 1, 1, 1 };

enum { VX, VY, VZ, VS, VD, NV };
static const enum col_type vtypes[NV] = { COL_INT64, COL_FLOAT64, COL_BOOL, COL_STRING, COL_DATE };
static const enum col_type ktypes_s[1] = { COL_STRING };
static const char *const knames_k[1] = { "k" };

static void data_cols(struct arena *a, struct column *key, struct column vals[NV])
{
	*key = col_s(a, k_val, NROWS);
	vals[VX] = col_i(x_val, x_ok, NROWS);
	vals[VY] = col_f(y_val, y_ok, NROWS);
	vals[VZ] = col_b(z_val, z_ok, NROWS);
	vals[VS] = col_s(a, s_val, NROWS);
	vals[VD] = col_d(d_val, d_ok, NROWS);
}

/* Columns @c restricted to rows [lo, hi) (views, no copy). */
static struct column slice(struct column c, int64_t lo, int64_t hi)
{
	c.n = hi - lo;
	if (c.valid)
		c.valid += lo;
	switch (c.type) {
	case COL_INT64: c.i += lo; break;
	case COL_FLOAT64: c.f += lo; break;
	case COL_BOOL: c.b += lo; break;
	case COL_DATE: c.d += lo; break;
	default: c.soff += lo; break;
	}
	return c;
}

static const enum agg_fn all_fns[] = { AGG_SUM, AGG_MEAN, AGG_MIN, AGG_MAX, AGG_COUNT, AGG_SIZE,
				       AGG_STD, AGG_VAR, AGG_FIRST, AGG_LAST, AGG_NUNIQUE };
#define N_ALL (int)(sizeof all_fns / sizeof all_fns[0])

/* Aggregates @fns over value column @col, named by the function. */
static int make_aggs(struct agg_spec *out, const enum agg_fn *fns, int n, int col, int ddof)
{
	for (int i = 0; i < n; i++)
		out[i] = (struct agg_spec){ fns[i], col, ddof, agg_fn_name(fns[i]), 0 };
	return n;
}

/* One gb over all rows: its sorted CSV. */
static const char *agg_all(struct arena *a, const struct agg_spec *aggs, int n_aggs)
{
	struct column key, vals[NV];
	data_cols(a, &key, vals);
	struct gb *g = gb_new(1, ktypes_s, knames_k, n_aggs, aggs, NV, vtypes);
	gb_update(g, &key, vals, NROWS, 0);
	CHECK(gb_n_groups(g) == 3);
	const char *s = finish_csv(a, g);
	gb_free(g);
	return s;
}

/* ---- aggregates ---- */

static void test_agg_int(void)
{
	struct arena a;
	arena_init(&a);
	struct agg_spec aggs[N_ALL];
	make_aggs(aggs, all_fns, N_ALL, VX, 1);
	CHECK_STR(agg_all(&a, aggs, N_ALL), "k,sum,mean,min,max,count,size,std,var,first,last,nunique\n"
					     "a,2,2.0,2,2,1,2,,,2,2,1\n"
					     "b,4,2.0,1,3,2,2,1.4142135623730951,2.0,1,3,2\n"
					     "c,5,5.0,5,5,1,1,,,5,5,1\n");
	arena_release(&a);
}

static void test_agg_float(void)
{
	struct arena a;
	arena_init(&a);
	struct agg_spec aggs[N_ALL];
	make_aggs(aggs, all_fns, N_ALL, VY, 1);
	CHECK_STR(agg_all(&a, aggs, N_ALL), "k,sum,mean,min,max,count,size,std,var,first,last,nunique\n"
					     "a,2.0,2.0,2.0,2.0,1,2,,,2.0,2.0,1\n"
					     "b,2.0,1.0,0.5,1.5,2,2,0.7071067811865476,0.5,0.5,1.5,2\n"
					     "c,0.0,,,,0,1,,,,,0\n");
	/* ddof 0: one value has variance 0. */
	const enum agg_fn sv[] = { AGG_STD, AGG_VAR };
	make_aggs(aggs, sv, 2, VY, 0);
	CHECK_STR(agg_all(&a, aggs, 2), "k,std,var\na,0.0,0.0\nb,0.5,0.25\nc,,\n");
	arena_release(&a);
}

static void test_agg_bool(void)
{
	struct arena a;
	arena_init(&a);
	const enum agg_fn fns[] = { AGG_SUM, AGG_MEAN, AGG_MIN, AGG_MAX, AGG_FIRST, AGG_LAST, AGG_COUNT, AGG_NUNIQUE };
	struct agg_spec aggs[8];
	make_aggs(aggs, fns, 8, VZ, 1);
	CHECK_STR(agg_all(&a, aggs, 8), "k,sum,mean,min,max,first,last,count,nunique\n"
					 "a,1,0.5,False,True,False,True,2,2\n"
					 "b,1,0.5,False,True,True,False,2,2\n"
					 "c,0,,,,,,0,0\n");
	struct table t;
	struct column key, vals[NV];
	data_cols(&a, &key, vals);
	struct gb *g = gb_new(1, ktypes_s, knames_k, 8, aggs, NV, vtypes);
	gb_update(g, &key, vals, NROWS, 0);
	gb_finish(g, &a, true, &t);
	CHECK(t.cols[1].type == COL_INT64 && t.cols[3].type == COL_BOOL && t.cols[2].type == COL_FLOAT64);
	CHECK(t.cols[3].valid && !t.cols[3].valid[2] && t.cols[3].valid[0]);
	gb_free(g);
	arena_release(&a);
}

static void test_agg_string(void)
{
	struct arena a;
	arena_init(&a);
	const enum agg_fn fns[] = { AGG_MIN, AGG_MAX, AGG_FIRST, AGG_LAST, AGG_COUNT, AGG_SIZE, AGG_NUNIQUE };
	struct agg_spec aggs[7];
	make_aggs(aggs, fns, 7, VS, 1);
	CHECK_STR(agg_all(&a, aggs, 7), "k,min,max,first,last,count,size,nunique\n"
					 "a,apple,apple,apple,apple,1,2,1\n"
					 "b,fig,pear,pear,fig,2,2,2\n"
					 "c,kiwi,kiwi,kiwi,kiwi,1,1,1\n");
	CHECK(agg_result_type(AGG_SUM, COL_STRING) == -1);
	CHECK(agg_result_type(AGG_MEAN, COL_DATE) == -1);
	CHECK(agg_result_type(AGG_SUM, COL_BOOL) == COL_INT64);
	CHECK(agg_result_type(AGG_MAX, COL_STRING) == COL_STRING);
	CHECK(agg_result_type(AGG_NUNIQUE, COL_FLOAT64) == COL_INT64);
	CHECK(agg_fn_parse("nunique") == AGG_NUNIQUE && agg_fn_parse("mode") == -1);
	CHECK_STR(agg_fn_name(AGG_VAR), "var");
	arena_release(&a);
}

static void test_agg_date(void)
{
	struct arena a;
	arena_init(&a);
	const enum agg_fn fns[] = { AGG_MIN, AGG_MAX, AGG_FIRST, AGG_LAST, AGG_COUNT, AGG_NUNIQUE };
	struct agg_spec aggs[6];
	make_aggs(aggs, fns, 6, VD, 1);
	CHECK_STR(agg_all(&a, aggs, 6), "k,min,max,first,last,count,nunique\n"
					 "a,1970-01-06,1970-01-21,1970-01-21,1970-01-06,2,2\n"
					 "b,1970-01-11,1970-01-11,1970-01-11,1970-01-11,1,1\n"
					 "c,1970-01-08,1970-01-08,1970-01-08,1970-01-08,1,1\n");
	arena_release(&a);
}

/* Every aggregate on every column, one gb vs. partials merged in several orders. */
static void test_agg_partials(void)
{
	struct arena a;
	arena_init(&a);
	struct agg_spec aggs[5 * N_ALL];
	int n = 0;
	for (int v = 0; v < NV; v++)
		for (int f = 0; f < N_ALL; f++) {
			if (agg_result_type(all_fns[f], vtypes[v]) < 0)
				continue;
			aggs[n] = (struct agg_spec){ all_fns[f], v, 1, arena_printf(&a, "%s_%d", agg_fn_name(all_fns[f]), v), 0 };
			n++;
		}
	struct column key, vals[NV];
	data_cols(&a, &key, vals);
	struct gb *whole = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
	gb_update(whole, &key, vals, NROWS, 0);
	const char *want = finish_csv(&a, whole);
	gb_free(whole);

	/* Parts [0,1) [1,3) [3,6), each serialized. */
	const int64_t cut[4] = { 0, 1, 3, 6 };
	struct buf parts[3];
	for (int p = 0; p < 3; p++) {
		struct column k = slice(key, cut[p], cut[p + 1]), v[NV];
		for (int j = 0; j < NV; j++)
			v[j] = slice(vals[j], cut[p], cut[p + 1]);
		struct gb *g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
		gb_update(g, &k, v, cut[p + 1] - cut[p], cut[p]);
		buf_init(&parts[p]);
		gb_serialize(g, &parts[p]);
		gb_free(g);
	}
	static const int orders[4][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 1, 2, 0 }, { 2, 0, 1 } };
	for (int o = 0; o < 4; o++) {
		struct gb *g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
		struct err e;
		err_init(&e);
		for (int p = 0; p < 3; p++) {
			const struct buf *b = &parts[orders[o][p]];
			CHECK(gb_merge(g, b->data, b->len, &e) == 0);
		}
		CHECK_STR(finish_csv(&a, g), want);
		gb_free(g);
	}
	/* A tree: (part 2 updated directly + part 0), then that partial merged into part 1. */
	{
		struct column k = slice(key, 3, 6), v[NV];
		for (int j = 0; j < NV; j++)
			v[j] = slice(vals[j], 3, 6);
		struct gb *g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
		struct err e;
		err_init(&e);
		gb_update(g, &k, v, 3, 3);
		CHECK(gb_merge(g, parts[0].data, parts[0].len, &e) == 0);
		struct buf mid;
		buf_init(&mid);
		gb_serialize(g, &mid);
		gb_free(g);
		g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
		CHECK(gb_merge(g, parts[1].data, parts[1].len, &e) == 0);
		CHECK(gb_merge(g, mid.data, mid.len, &e) == 0);
		CHECK_STR(finish_csv(&a, g), want);
		gb_free(g);
		buf_release(&mid);
	}
	for (int p = 0; p < 3; p++)
		buf_release(&parts[p]);
	arena_release(&a);
}

/* first/last by global row even when the later partial is merged first; nunique as a union. */
static void test_agg_first_last_nunique(void)
{
	struct arena a;
	arena_init(&a);
	const enum col_type kt[1] = { COL_INT64 }, vt[2] = { COL_FLOAT64, COL_STRING };
	const char *const kn[1] = { "g" };
	const struct agg_spec aggs[5] = { { AGG_FIRST, 0, 1, "f", 0 }, { AGG_LAST, 0, 1, "l", 0 },
					  { AGG_NUNIQUE, 0, 1, "nu", 0 }, { AGG_NUNIQUE, 1, 1, "nus", 0 },
					  { AGG_LAST, 1, 1, "ls", 0 } };
	/* rows 0..3 (partial A) and 100..103 (partial B); group 1 only. */
	int64_t ka[4] = { 1, 1, 1, 1 }, kb[4] = { 1, 1, 1, 1 };
	double va[4] = { NAN, 2.0, -0.0, 2.0 }, vb[4] = { 0.0, 3.0, 7.5, NAN };
	uint8_t oka[4] = { 0, 1, 1, 1 }, okb[4] = { 1, 1, 1, 0 };
	const char *sa[4] = { "x", "y", NULL, "x" }, *sb[4] = { "y", "zz", NULL, NULL };
	struct column kca = col_i(ka, NULL, 4), kcb = col_i(kb, NULL, 4);
	struct column vca[2] = { col_f(va, oka, 4), col_s(&a, sa, 4) };
	struct column vcb[2] = { col_f(vb, okb, 4), col_s(&a, sb, 4) };
	struct gb *ga = gb_new(1, kt, kn, 5, aggs, 2, vt), *gbb = gb_new(1, kt, kn, 5, aggs, 2, vt);
	gb_update(ga, &kca, vca, 4, 0);
	gb_update(gbb, &kcb, vcb, 4, 100);
	struct buf ba, bb;
	buf_init(&ba);
	buf_init(&bb);
	gb_serialize(ga, &ba);
	gb_serialize(gbb, &bb);
	/* distinct floats: 2.0, 0.0 (= -0.0), 3.0, 7.5 -> 4; strings: x y zz -> 3 */
	const char *want = "g,f,l,nu,nus,ls\n1,2.0,7.5,4,3,zz\n";
	for (int o = 0; o < 2; o++) {
		struct gb *g = gb_new(1, kt, kn, 5, aggs, 2, vt);
		struct err e;
		err_init(&e);
		CHECK(gb_merge(g, o ? ba.data : bb.data, o ? ba.len : bb.len, &e) == 0);
		CHECK(gb_merge(g, o ? bb.data : ba.data, o ? bb.len : ba.len, &e) == 0);
		CHECK_STR(finish_csv(&a, g), want);
		gb_free(g);
	}
	CHECK_STR(finish_csv(&a, ga), "g,f,l,nu,nus,ls\n1,2.0,2.0,2,2,x\n");
	gb_free(ga);
	gb_free(gbb);
	buf_release(&ba);
	buf_release(&bb);
	arena_release(&a);
}

/* No keys: one group, even with no rows; a whole-column reduction. */
static void test_agg_no_keys(void)
{
	struct arena a;
	arena_init(&a);
	const enum agg_fn fns[] = { AGG_SUM, AGG_MEAN, AGG_COUNT, AGG_SIZE, AGG_MIN, AGG_STD };
	struct agg_spec ai[6], af[6];
	make_aggs(ai, fns, 6, VX, 1);
	make_aggs(af, fns, 6, VY, 1);
	struct gb *g = gb_new(0, NULL, NULL, 6, ai, NV, vtypes);
	CHECK(gb_n_groups(g) == 1);
	CHECK_STR(finish_csv(&a, g), "sum,mean,count,size,min,std\n0,,0,0,,\n");
	struct column key, vals[NV];
	data_cols(&a, &key, vals);
	gb_update(g, NULL, vals, 0, 0);
	gb_update(g, NULL, vals, NROWS, 0);
	/* x: 1 2 3 5 100 -> sum 111, mean 22.2, std of (1,2,3,5,100) */
	CHECK_STR(finish_csv(&a, g), "sum,mean,count,size,min,std\n111,22.2,5,6,1,43.51666347504137\n");
	gb_free(g);
	g = gb_new(0, NULL, NULL, 6, af, NV, vtypes);
	CHECK_STR(finish_csv(&a, g), "sum,mean,count,size,min,std\n0.0,,0,0,,\n");
	struct buf b;
	buf_init(&b);
	gb_serialize(g, &b);
	gb_update(g, NULL, vals, NROWS, 0);
	struct err e;
	err_init(&e);
	CHECK(gb_merge(g, b.data, b.len, &e) == 0);
	/* y: 0.5 1.5 2.0 7.0; std by Welford's updates as pandas' groupby computes it (numpy's
	 * two-pass std, and Series.std, give 2.9011491975882016, one ulp away) */
	CHECK_STR(finish_csv(&a, g), "sum,mean,count,size,min,std\n11.0,2.75,4,6,0.5,2.901149197588202\n");
	buf_release(&b);
	gb_free(g);
	arena_release(&a);
}

/* Two keys, sort order, missing keys, NaN/-0.0 float keys, strings with common prefixes. */
static void test_agg_keys_sorted(void)
{
	struct arena a;
	arena_init(&a);
	const enum col_type kt[2] = { COL_INT64, COL_BOOL }, vt[1] = { COL_INT64 };
	const char *const kn[2] = { "n", "b" };
	const struct agg_spec aggs[2] = { { AGG_SIZE, 0, 1, "size", 0 }, { AGG_SUM, 0, 1, "s", 0 } };
	int64_t k1[6] = { 2, 1, 2, 1, -5, 9 }, v[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t k2[6] = { 1, 0, 0, 0, 1, 0 }, k2ok[6] = { 1, 1, 1, 1, 1, 0 };
	struct column keys[2] = { col_i(k1, NULL, 6), col_b(k2, k2ok, 6) }, vals[1] = { col_i(v, NULL, 6) };
	struct gb *g = gb_new(2, kt, kn, 2, aggs, 1, vt);
	gb_update(g, keys, vals, 6, 0);
	CHECK(gb_n_groups(g) == 4);
	CHECK_STR(finish_csv(&a, g), "n,b,size,s\n-5,True,1,5\n1,False,2,6\n2,False,1,3\n2,True,1,1\n");
	struct table t;
	gb_finish(g, &a, false, &t);
	CHECK_STR(csv_of(&a, &t, TF_CSV), "n,b,size,s\n2,True,1,1\n1,False,2,6\n2,False,1,3\n-5,True,1,5\n");
	gb_free(g);

	const char *sk[9] = { "ab", "a", "abc", "b", "", "\xc3\xa9", "A", NULL, "ab" };
	int64_t sv[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct column skc = col_s(&a, sk, 9), svc = col_i(sv, NULL, 9);
	const enum col_type kts[1] = { COL_STRING };
	g = gb_new(1, kts, knames_k, 2, aggs, 1, vt);
	gb_update(g, &skc, &svc, 9, 0);
	CHECK_STR(finish_csv(&a, g), "k,size,s\n,1,5\nA,1,7\na,1,2\nab,2,10\nabc,1,3\nb,1,4\n\xc3\xa9,1,6\n");
	gb_free(g);

	double fk[6] = { 0.0, -0.0, NAN, 1.5, -2.0, 1.5 };
	struct column fkc = col_f(fk, NULL, 6);
	const enum col_type ktf[1] = { COL_FLOAT64 };
	g = gb_new(1, ktf, kn, 2, aggs, 1, vt);
	gb_update(g, &fkc, vals, 6, 0);
	CHECK_STR(finish_csv(&a, g), "n,size,s\n-2.0,1,5\n0.0,2,3\n1.5,2,10\n");
	gb_free(g);

	int32_t dk[3] = { 19000, -1, 19000 };
	struct column dkc = col_d(dk, NULL, 3);
	const enum col_type ktd[1] = { COL_DATE };
	g = gb_new(1, ktd, kn, 2, aggs, 1, vt);
	gb_update(g, &dkc, vals, 3, 0);
	CHECK_STR(finish_csv(&a, g), "n,size,s\n1969-12-31,1,2\n2022-01-08,2,4\n");
	gb_free(g);
	arena_release(&a);
}

/* Many groups (rehashing, growth, chunking) against a direct count. */
static void test_agg_many_groups(void)
{
	struct arena a;
	arena_init(&a);
	enum { N = 50000, G = 7001 };
	int64_t *k = arena_alloc(&a, N * 8), *v = arena_alloc(&a, N * 8);
	for (int i = 0; i < N; i++) {
		k[i] = (int64_t)((i * 7919u) % G) - 3000;
		v[i] = i;
	}
	const enum col_type kt[1] = { COL_INT64 }, vt[1] = { COL_INT64 };
	const char *const kn[1] = { "k" };
	const struct agg_spec aggs[3] = { { AGG_SUM, 0, 1, "s", 0 }, { AGG_FIRST, 0, 1, "f", 0 },
					  { AGG_NUNIQUE, 0, 1, "u", 0 } };
	struct column kc = col_i(k, NULL, N), vc = col_i(v, NULL, N);
	struct gb *g = gb_new(1, kt, kn, 3, aggs, 1, vt);
	gb_update(g, &kc, &vc, N, 0);
	CHECK(gb_n_groups(g) == G);
	struct table t;
	gb_finish(g, &a, true, &t);
	CHECK(t.n_rows == G);
	int64_t total = 0;
	bool sorted = true, first_ok = true;
	for (int64_t r = 0; r < t.n_rows; r++) {
		total += t.cols[1].i[r];
		if (r && t.cols[0].i[r - 1] >= t.cols[0].i[r])
			sorted = false;
		int64_t f = t.cols[2].i[r];
		if (k[f] != t.cols[0].i[r])
			first_ok = false;
	}
	CHECK(total == (int64_t)N * (N - 1) / 2);
	CHECK(sorted && first_ok);
	gb_free(g);
	arena_release(&a);
}

/* ---- writing ---- */

static void test_write_csv(void)
{
	struct arena a;
	arena_init(&a);
	const char *sv[6] = { "plain", "a,b", "q\"x", "line\nbreak", "", NULL };
	double fv[6] = { 0.1, 1.0, 1e20, -0.0, NAN, INFINITY };
	uint8_t bv[6] = { 1, 0, 1, 0, 1, 0 }, bok[6] = { 1, 1, 1, 1, 1, 0 };
	int32_t dv[6] = { 0, 19000, -1, 11016, 0, 0 };
	uint8_t dok[6] = { 1, 1, 1, 1, 0, 1 };
	int64_t iv[6] = { INT64_MIN, -1, 0, 42, INT64_MAX, 1234567 };
	uint8_t iok[6] = { 1, 1, 1, 1, 1, 0 };
	struct column cols[5] = { col_s(&a, sv, 6), col_f(fv, NULL, 6), col_b(bv, bok, 6), col_d(dv, dok, 6),
				  col_i(iv, iok, 6) };
	const char *names[5] = { "s", "x,y", "b", "d\t", "i" };
	struct table t = { 5, 6, names, cols };
	CHECK_STR(csv_of(&a, &t, TF_CSV), "s,\"x,y\",b,d\t,i\n"
					   "plain,0.1,True,1970-01-01,-9223372036854775808\n"
					   "\"a,b\",1.0,False,2022-01-08,-1\n"
					   "\"q\"\"x\",1e+20,True,1969-12-31,0\n"
					   "\"line\nbreak\",-0.0,False,2000-02-29,42\n"
					   ",,True,,9223372036854775807\n"
					   ",inf,,1970-01-01,\n");
	CHECK_STR(csv_of(&a, &t, TF_TSV), "s\tx,y\tb\t\"d\t\"\ti\n"
					   "plain\t0.1\tTrue\t1970-01-01\t-9223372036854775808\n"
					   "a,b\t1.0\tFalse\t2022-01-08\t-1\n"
					   "\"q\"\"x\"\t1e+20\tTrue\t1969-12-31\t0\n"
					   "\"line\nbreak\"\t-0.0\tFalse\t2000-02-29\t42\n"
					   "\t\tTrue\t\t9223372036854775807\n"
					   "\tinf\t\t1970-01-01\t\n");
	CHECK_STR(csv_of(&a, &t, TF_JSONL),
		  "{\"s\":\"plain\",\"x,y\":0.1,\"b\":true,\"d\\t\":\"1970-01-01\",\"i\":-9223372036854775808}\n"
		  "{\"s\":\"a,b\",\"x,y\":1.0,\"b\":false,\"d\\t\":\"2022-01-08\",\"i\":-1}\n"
		  "{\"s\":\"q\\\"x\",\"x,y\":1e+20,\"b\":true,\"d\\t\":\"1969-12-31\",\"i\":0}\n"
		  "{\"s\":\"line\\nbreak\",\"x,y\":-0.0,\"b\":false,\"d\\t\":\"2000-02-29\",\"i\":42}\n"
		  "{\"s\":\"\",\"x,y\":null,\"b\":true,\"d\\t\":null,\"i\":9223372036854775807}\n"
		  "{\"s\":null,\"x,y\":null,\"b\":null,\"d\\t\":\"1970-01-01\",\"i\":null}\n");
	/* without header */
	struct buf b;
	buf_init(&b);
	struct table t1 = { 1, 2, names + 4, cols + 4 };
	table_write(&t1, TF_CSV, false, &b);
	CHECK_STR(b.data, "-9223372036854775808\n-1\n");
	/* a record of one empty field is quoted, as Python's csv module does */
	buf_reset(&b);
	struct table t2 = { 1, 6, names, cols };
	table_write(&t2, TF_CSV, false, &b);
	CHECK_STR(b.data, "plain\n\"a,b\"\n\"q\"\"x\"\n\"line\nbreak\"\n\"\"\n\"\"\n");
	/* JSON escapes and UTF-8 */
	buf_reset(&b);
	const char *js[1] = { "\\ \b\f\r\x01\x1f \xc3\xa9" };
	struct column jc = col_s(&a, js, 1);
	struct table t3 = { 1, 1, names, &jc };
	table_write(&t3, TF_JSONL, true, &b);
	CHECK_STR(b.data, "{\"s\":\"\\\\ \\b\\f\\r\\u0001\\u001f \xc3\xa9\"}\n");
	/* values alone */
	buf_reset(&b);
	table_write_value(&cols[0], 1, &b);
	table_write_value(&cols[0], 5, &b);
	table_write_value(&cols[1], 2, &b);
	table_write_value(&cols[2], 0, &b);
	table_write_value(&cols[3], 1, &b);
	CHECK_STR(b.data, "a,b1e+20True2022-01-08");
	buf_release(&b);
	arena_release(&a);
}

/* Raw text written verbatim in CSV only. */
static void test_write_raw(void)
{
	struct arena a;
	arena_init(&a);
	const char *raw = "007,\"x\"\"y\",1.50";
	uint32_t rs[3] = { 0, 4, 11 }, rl[3] = { 3, 6, 4 };
	int64_t iv[3] = { 7, 0, 0 };
	uint8_t ok[3] = { 1, 0, 0 };
	struct column c = col_i(iv, ok, 3);
	c.rbase = raw;
	c.rstart = rs;
	c.rlen = rl;
	const char *names[1] = { "zip" };
	struct table t = { 1, 3, names, &c };
	CHECK_STR(csv_of(&a, &t, TF_CSV), "zip\n007\n\"x\"\"y\"\n1.50\n");
	CHECK_STR(csv_of(&a, &t, TF_TSV), "zip\n7\n\"\"\n\"\"\n");
	CHECK_STR(csv_of(&a, &t, TF_JSONL), "{\"zip\":7}\n{\"zip\":null}\n{\"zip\":null}\n");
	arena_release(&a);
}

/* The fast float path prints exactly what k_format_double prints. */
static void test_write_floats(void)
{
	struct buf b;
	buf_init(&b);
	char want[K_FORMAT_LEN];
	uint64_t s = 88172645463325252ull;
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		double v;
		switch (i % 5) {
		case 0: v = (double)(int64_t)(s % 2000001) / 100.0 - 10000.0; break;
		case 1: v = (double)(s % 100000) * pow(10.0, (double)(int)((s >> 20) % 40) - 20); break;
		case 2: memcpy(&v, &s, 8); break;
		case 3: v = (double)(s >> 11) / 9007199254740992.0 * 1e6; break;
		default: v = (double)(int64_t)(s % 1000000007) / 1000.0; break;
		}
		if (isnan(v))
			continue;
		struct column c = col_f(&v, NULL, 1);
		buf_reset(&b);
		table_write_value(&c, 0, &b);
		k_format_double(v, want, sizeof want);
		if (strcmp(b.data, want) != 0 && bad++ < 5)
			fprintf(stderr, "float %.17g: '%s' != '%s'\n", v, b.data, want);
	}
	CHECK(bad == 0);
	const double fixed[] = { 0.0001, 0.3, 123456789012345.0, 999999999999999.9, 5e-324, 1e16, 0.1 + 0.2 };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		struct column c = col_f((double *)&fixed[i], NULL, 1);
		buf_reset(&b);
		table_write_value(&c, 0, &b);
		k_format_double(fixed[i], want, sizeof want);
		CHECK_STR(b.data, want);
	}
	buf_release(&b);
}

/* ---- take, filter, bytes ---- */

static void make_mixed(struct arena *a, struct table *t, struct column *cols, const char **names)
{
	static const char *sv[5] = { "one", NULL, "three", "", "five" };
	static double fv[5] = { 1.5, NAN, -2.0, 0.1, 1e300 };
	static uint8_t fok[5] = { 1, 0, 1, 1, 1 };
	static int64_t iv[5] = { 10, 20, 30, 40, 50 };
	static uint8_t bv[5] = { 1, 0, 1, 1, 0 };
	static int32_t dv[5] = { 1, 2, 3, 4, 5 };
	static const char raw[] = "10|020|30|40|0050";
	static uint32_t rs[5] = { 0, 3, 7, 10, 13 }, rl[5] = { 2, 3, 2, 2, 4 };
	cols[0] = col_s(a, sv, 5);
	cols[1] = col_f(fv, fok, 5);
	cols[2] = col_i(iv, NULL, 5);
	cols[2].rbase = raw;
	cols[2].rstart = rs;
	cols[2].rlen = rl;
	cols[3] = col_b(bv, NULL, 5);
	cols[4] = col_d(dv, NULL, 5);
	names[0] = "s", names[1] = "f", names[2] = "i", names[3] = "b", names[4] = "d";
	*t = (struct table){ 5, 5, names, cols };
}

static void test_take_filter(void)
{
	struct arena a;
	arena_init(&a);
	struct table t, o;
	struct column cols[5];
	const char *names[5];
	make_mixed(&a, &t, cols, names);
	const int64_t idx[3] = { 4, 0, 1 };
	table_take(&a, &t, idx, 3, &o);
	CHECK(o.n_rows == 3 && o.n_cols == 5);
	CHECK_STR(csv_of(&a, &o, TF_CSV), "s,f,i,b,d\nfive,1e+300,0050,False,1970-01-06\n"
					   "one,1.5,10,True,1970-01-02\n,,020,False,1970-01-03\n");
	const uint8_t mask[5] = { 0, 1, 0, 1, 1 };
	table_filter(&a, &t, mask, &o);
	CHECK(o.n_rows == 3);
	CHECK_STR(csv_of(&a, &o, TF_TSV), "s\tf\ti\tb\td\n\t\t20\tFalse\t1970-01-03\n"
					   "\t0.1\t40\tTrue\t1970-01-05\nfive\t1e+300\t50\tFalse\t1970-01-06\n");
	CHECK(o.cols[0].valid && !o.cols[0].valid[0] && o.cols[0].valid[1]);
	const uint8_t none[5] = { 0 };
	table_filter(&a, &t, none, &o);
	CHECK(o.n_rows == 0);
	CHECK_STR(csv_of(&a, &o, TF_CSV), "s,f,i,b,d\n");
	arena_release(&a);
}

/* table_serialize_rows() gives the same bytes as serializing the gathered table: one source
 * against table_take(), and rows drawn from two sources (one without validity) against the expected CSV. */
static void test_serialize_rows(void)
{
	struct arena a;
	arena_init(&a);
	struct table t, o;
	struct column cols[5];
	const char *names[5];
	make_mixed(&a, &t, cols, names);
	const int64_t idx[4] = { 4, 0, 1, 1 };
	table_take(&a, &t, idx, 4, &o);
	struct buf want, got;
	buf_init(&want);
	buf_init(&got);
	table_serialize(&o, &want);
	table_serialize_rows(&t, 1, NULL, idx, 4, &got);
	CHECK(want.len == got.len && memcmp(want.data, got.data, want.len) == 0);
	/* two sources: the second has no missing values and another raw block */
	struct table t2;
	struct column c2[5];
	const char *n2[5];
	make_mixed(&a, &t2, c2, n2);
	c2[0].valid = NULL;
	c2[1].valid = NULL;
	static const char raw2[] = "7|8|9|11|12";
	static uint32_t rs2[5] = { 0, 2, 4, 6, 9 }, rl2[5] = { 1, 1, 1, 2, 2 };
	c2[2].rbase = raw2;
	c2[2].rstart = rs2;
	c2[2].rlen = rl2;
	struct table both[2] = { t, t2 };
	const int32_t src[3] = { 1, 0, 1 };
	const int64_t row[3] = { 3, 1, 0 };
	buf_reset(&got);
	table_serialize_rows(both, 2, src, row, 3, &got);
	struct table v;
	struct err e;
	err_init(&e);
	CHECK(table_view(&a, got.data, got.len, &v, &e) == 0);
	CHECK_STR(csv_of(&a, &v, TF_CSV), "s,f,i,b,d\n,0.1,11,True,1970-01-05\n,,020,False,1970-01-03\n"
					   "one,1.5,7,True,1970-01-02\n");
	buf_release(&want);
	buf_release(&got);
	arena_release(&a);
}

static void test_serialize_view(void)
{
	struct arena a;
	arena_init(&a);
	struct table t, v;
	struct column cols[5];
	const char *names[5];
	make_mixed(&a, &t, cols, names);
	struct buf b;
	buf_init(&b);
	table_serialize(&t, &b);
	struct err e;
	err_init(&e);
	CHECK(table_view(&a, b.data, b.len, &v, &e) == 0);
	CHECK(v.n_rows == 5 && v.n_cols == 5);
	CHECK_STR(csv_of(&a, &v, TF_CSV), csv_of(&a, &t, TF_CSV));
	CHECK_STR(csv_of(&a, &v, TF_JSONL), csv_of(&a, &t, TF_JSONL));
	/* zero copy: arrays point into the bytes */
	CHECK((const char *)v.cols[2].i > b.data && (const char *)v.cols[2].i < b.data + b.len);
	CHECK(v.cols[0].sdata > b.data && v.cols[0].sdata < b.data + b.len);
	CHECK(v.cols[2].rbase > b.data && v.cols[2].rbase < b.data + b.len);
	/* a filtered table (raw text from a shared block) round-trips too */
	struct table f, fv;
	const uint8_t mask[5] = { 1, 0, 1, 0, 1 };
	table_filter(&a, &t, mask, &f);
	struct buf b2;
	buf_init(&b2);
	buf_append(&b2, "x", 1); /* at an odd offset: arrays get copied */
	table_serialize(&f, &b2);
	CHECK(table_view(&a, b2.data + 1, b2.len - 1, &fv, &e) == 0);
	CHECK_STR(csv_of(&a, &fv, TF_CSV), "s,f,i,b,d\none,1.5,10,True,1970-01-02\nthree,-2.0,30,True,1970-01-04\n"
					    "five,1e+300,0050,False,1970-01-06\n");
	/* empty table */
	struct table z = { 0, 0, NULL, NULL }, zv;
	buf_reset(&b2);
	table_serialize(&z, &b2);
	CHECK(table_view(&a, b2.data, b2.len, &zv, &e) == 0 && zv.n_cols == 0 && zv.n_rows == 0);
	struct table rows_only = { 0, 1000, NULL, NULL };
	buf_reset(&b2);
	table_serialize(&rows_only, &b2);
	CHECK(table_view(&a, b2.data, b2.len, &zv, &e) == 0 && zv.n_cols == 0 && zv.n_rows == 1000);
	buf_release(&b2);

	/* every truncation fails; byte flips never crash */
	int fails = 0;
	for (size_t n = 0; n < b.len; n++) {
		struct err e2;
		err_init(&e2);
		char *copy = malloc(n ? n : 1);
		memcpy(copy, b.data, n);
		fails += table_view(&a, copy, n, &v, &e2) == -1;
		free(copy);
	}
	CHECK(fails == (int)b.len);
	for (size_t i = 0; i < b.len; i++) {
		char *copy = malloc(b.len);
		memcpy(copy, b.data, b.len);
		copy[i] ^= (char)(0x5a + i);
		struct err e2;
		err_init(&e2);
		if (table_view(&a, copy, b.len, &v, &e2) == 0) {
			struct buf o;
			buf_init(&o);
			table_write(&v, TF_CSV, true, &o);
			buf_release(&o);
		} else {
			CHECK(strstr(e2.msg, "corrupt") != NULL);
		}
		free(copy);
	}
	buf_release(&b);
	arena_release(&a);
}

static void test_gb_malformed(void)
{
	struct arena a;
	arena_init(&a);
	struct agg_spec aggs[5 * N_ALL];
	int n = 0;
	for (int v = 0; v < NV; v++)
		for (int f = 0; f < N_ALL; f++)
			if (agg_result_type(all_fns[f], vtypes[v]) >= 0)
				aggs[n++] = (struct agg_spec){ all_fns[f], v, 1, "x", 0 };
	struct column key, vals[NV];
	data_cols(&a, &key, vals);
	struct gb *g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
	gb_update(g, &key, vals, NROWS, 0);
	struct buf b;
	buf_init(&b);
	gb_serialize(g, &b);
	gb_free(g);
	int fails = 0;
	for (size_t len = 0; len < b.len; len++) {
		char *copy = malloc(len ? len : 1);
		memcpy(copy, b.data, len);
		struct err e;
		err_init(&e);
		g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
		if (gb_merge(g, copy, len, &e) == -1 && strstr(e.msg, "corrupt partial"))
			fails++;
		gb_free(g);
		free(copy);
	}
	CHECK(fails == (int)b.len);
	for (size_t i = 0; i < b.len; i += 3) {
		char *copy = malloc(b.len);
		memcpy(copy, b.data, b.len);
		copy[i] ^= (char)(0x81 + i);
		struct err e;
		err_init(&e);
		g = gb_new(1, ktypes_s, knames_k, n, aggs, NV, vtypes);
		if (gb_merge(g, copy, b.len, &e) == 0) {
			struct table t;
			gb_finish(g, &a, true, &t);
		}
		gb_free(g);
		free(copy);
	}
	/* a partial of other aggregates is refused */
	struct gb *other = gb_new(1, ktypes_s, knames_k, 1, aggs, NV, vtypes);
	struct err e;
	err_init(&e);
	CHECK(gb_merge(other, b.data, b.len, &e) == -1);
	gb_free(other);
	buf_release(&b);
	arena_release(&a);
}

/* ---- quantiles ---- */

/* median and quantile per group, over int, float and bool columns with missing values (the groupby rule:
 * v[i] + (v[i + 1] - v[i]) * frac; pandas 1.5 gives the same), then without keys (numpy's rule). */
static void test_agg_quantile(void)
{
	struct arena a;
	arena_init(&a);
	const struct agg_spec aggs[6] = {
		{ AGG_MEDIAN, VX, 1, "mx", 0 }, { AGG_QUANTILE, VX, 1, "qx", 0.25 }, { AGG_MEDIAN, VY, 1, "my", 0 },
		{ AGG_QUANTILE, VY, 1, "qy", 0.9 }, { AGG_MEDIAN, VZ, 1, "mz", 0 }, { AGG_QUANTILE, VX, 1, "q1", 1 },
	};
	CHECK(agg_result_type(AGG_QUANTILE, COL_INT64) == COL_FLOAT64);
	CHECK(agg_result_type(AGG_MEDIAN, COL_STRING) < 0 && agg_result_type(AGG_QUANTILE, COL_DATE) < 0);
	CHECK(agg_fn_parse("median") == AGG_MEDIAN && agg_fn_parse("quantile") == AGG_QUANTILE);
	/* x: a 2 | b 1 3 | c 5; y: a 2.0 | b 0.5 1.5 | c none; z: a F T | b T F | c none */
	const char *want = "k,mx,qx,my,qy,mz,q1\n"
			   "a,2.0,2.0,2.0,2.0,0.5,2.0\n"
			   "b,2.0,1.5,1.0,1.4,0.5,3.0\n"
			   "c,5.0,5.0,,,,5.0\n";
	CHECK_STR(agg_all(&a, aggs, 6), want);
	/* the same from partials [0,2) [2,6) merged in both orders */
	struct column key, vals[NV];
	data_cols(&a, &key, vals);
	struct buf parts[2];
	const int64_t cut[3] = { 0, 2, 6 };
	for (int p = 0; p < 2; p++) {
		struct column k = slice(key, cut[p], cut[p + 1]), v[NV];
		for (int j = 0; j < NV; j++)
			v[j] = slice(vals[j], cut[p], cut[p + 1]);
		struct gb *g = gb_new(1, ktypes_s, knames_k, 6, aggs, NV, vtypes);
		gb_update(g, &k, v, cut[p + 1] - cut[p], cut[p]);
		buf_init(&parts[p]);
		gb_serialize(g, &parts[p]);
		gb_free(g);
	}
	for (int o = 0; o < 2; o++) {
		struct gb *g = gb_new(1, ktypes_s, knames_k, 6, aggs, NV, vtypes);
		struct err e;
		err_init(&e);
		CHECK(gb_merge(g, parts[o].data, parts[o].len, &e) == 0);
		CHECK(gb_merge(g, parts[1 - o].data, parts[1 - o].len, &e) == 0);
		CHECK_STR(finish_csv(&a, g), want);
		gb_free(g);
	}
	/* truncated partials are refused, damaged ones never crash */
	const struct buf *b = &parts[1];
	int fails = 0;
	for (size_t len = 0; len < b->len; len++) {
		struct gb *g = gb_new(1, ktypes_s, knames_k, 6, aggs, NV, vtypes);
		struct err e;
		err_init(&e);
		fails += gb_merge(g, b->data, len, &e) == -1 && strstr(e.msg, "corrupt partial") != NULL;
		gb_free(g);
	}
	CHECK(fails == (int)b->len);
	for (size_t i = 0; i < b->len; i++) {
		char *copy = malloc(b->len);
		memcpy(copy, b->data, b->len);
		copy[i] ^= (char)(0x81 + i);
		struct gb *g = gb_new(1, ktypes_s, knames_k, 6, aggs, NV, vtypes);
		struct err e;
		err_init(&e);
		if (gb_merge(g, copy, b->len, &e) == 0) {
			struct table t;
			gb_finish(g, &a, true, &t);
		}
		gb_free(g);
		free(copy);
	}
	buf_release(&parts[0]);
	buf_release(&parts[1]);
	/* no keys: numpy's percentile (pandas' Series.quantile) for x = 1 2 3 5 100 */
	const struct agg_spec series[3] = { { AGG_QUANTILE, VX, 1, "q90", 0.9 }, { AGG_QUANTILE, VX, 1, "q33", 1.0 / 3 },
					    { AGG_MEDIAN, VY, 1, "my", 0 } };
	struct gb *g = gb_new(0, NULL, NULL, 3, series, NV, vtypes);
	CHECK_STR(finish_csv(&a, g), "q90,q33,my\n,,\n");
	gb_update(g, NULL, vals, NROWS, 0);
	CHECK_STR(finish_csv(&a, g), "q90,q33,my\n62.00000000000001,2.333333333333333,1.75\n");
	gb_free(g);
	arena_release(&a);
}

/* The rank error of @v as the @q quantile of @sorted (n values), in ranks: 0 when some position of @v in
 * the data is within one rank of q (n - 1) (an interpolated answer sits between two neighbours). */
static double rank_error(const double *sorted, int64_t n, double v, double q)
{
	int64_t lo = 0, hi = n;
	while (lo < hi) {
		int64_t m = (lo + hi) / 2;
		if (sorted[m] < v)
			lo = m + 1;
		else
			hi = m;
	}
	int64_t below = lo;
	hi = n;
	while (lo < hi) {
		int64_t m = (lo + hi) / 2;
		if (sorted[m] <= v)
			lo = m + 1;
		else
			hi = m;
	}
	double t = q * (double)(n - 1);
	return fmax(0, fmax((double)below - t - 1, t - (double)lo));
}

static int cmp_dbl(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

/* A sketch budget: 500 groups of 3000 values (each a permutation of 0..2999), medians and 0.9
 * quantiles, from two partials: within budget the partials are cut to the smallest capacity
 * (and are smaller than without it), and the answers stay within 1% of n in rank. */
static void test_agg_quantile_budget(void)
{
	struct arena a;
	arena_init(&a);
	enum { G = 500, PER = 3000, N = G * PER };
	int64_t *k = arena_alloc(&a, N * 8), *v = arena_alloc(&a, N * 8);
	for (int i = 0; i < N; i++) {
		k[i] = i % G;
		v[i] = (int64_t)(((uint64_t)(i / G) * 7919u) % PER);
	}
	const enum col_type kt[1] = { COL_INT64 }, vt[1] = { COL_INT64 };
	const char *const kn[1] = { "k" };
	const struct agg_spec aggs[3] = { { AGG_MEDIAN, 0, 1, "m", 0 }, { AGG_QUANTILE, 0, 1, "q", 0.9 },
					  { AGG_COUNT, 0, 1, "n", 0 } };
	const uint64_t budget = 4u << 20;
	size_t bytes[2][2];
	struct buf parts[2];
	for (int with = 0; with < 2; with++)
		for (int p = 0; p < 2; p++) {
			struct column kc = col_i(k + p * (N / 2), NULL, N / 2), vc = col_i(v + p * (N / 2), NULL, N / 2);
			struct gb *g = gb_new(1, kt, kn, 3, aggs, 1, vt);
			if (with)
				gb_set_sketch_budget(g, budget);
			gb_update(g, &kc, &vc, N / 2, (int64_t)p * (N / 2));
			struct buf b;
			buf_init(&b);
			gb_serialize(g, &b);
			bytes[with][p] = b.len;
			if (with)
				parts[p] = b;
			else
				buf_release(&b);
			gb_free(g);
		}
	CHECK(bytes[1][0] <= budget + 64 * G && bytes[1][1] <= budget + 64 * G);
	CHECK(bytes[0][0] > budget + 64 * G); /* exact 1500 values a group: the budget did cut */
	struct gb *g = gb_new(1, kt, kn, 3, aggs, 1, vt);
	gb_set_sketch_budget(g, budget);
	struct err e;
	err_init(&e);
	CHECK(gb_merge(g, parts[0].data, parts[0].len, &e) == 0 && gb_merge(g, parts[1].data, parts[1].len, &e) == 0);
	struct table t;
	gb_finish(g, &a, true, &t);
	CHECK(t.n_rows == G);
	double worst = 0;
	bool counts = true;
	for (int64_t r = 0; r < t.n_rows; r++) {
		double dm = fabs(t.cols[1].f[r] - 0.5 * (PER - 1)), dq = fabs(t.cols[2].f[r] - 0.9 * (PER - 1));
		worst = dm > worst ? dm : worst;
		worst = dq > worst ? dq : worst;
		counts &= t.cols[3].i[r] == PER;
	}
	CHECK(counts);
	CHECK(worst <= 0.01 * PER);
	CHECK(worst > 0); /* sketched, not exact */
	gb_free(g);
	buf_release(&parts[0]);
	buf_release(&parts[1]);
	arena_release(&a);
}

/* The sketch: exact up to QSK_EXACT values (also when merged), then within 1% of n in rank, in one sketch and
 * in 250 partials merged through their byte form in a tree of 8, for random, sorted and repetitive data;
 * bounded in size; the same answers when run twice. */
static void test_qsketch(void)
{
	/* exact: hand-checked, and merging exact sketches stays exact */
	struct qsketch s = { 0 }, t = { 0 };
	CHECK(isnan(qsk_quantile(&s, 0.5, QSK_SERIES)));
	const double v[6] = { 7, -1, 3, 3, 10, 0.5 };
	for (int i = 0; i < 3; i++)
		qsk_add(&s, v[i]);
	for (int i = 3; i < 6; i++)
		qsk_add(&t, v[i]);
	qsk_merge(&s, &t);
	/* sorted: -1 0.5 3 3 7 10 */
	CHECK(qsk_exact(&s) && s.n == 6);
	CHECK(qsk_quantile(&s, 0, QSK_SERIES) == -1 && qsk_quantile(&s, 1, QSK_GROUPBY) == 10);
	CHECK(qsk_quantile(&s, 0.5, QSK_MEDIAN) == 3);
	CHECK(qsk_quantile(&s, 0.1, QSK_GROUPBY) == -0.25);  /* pos 0.5: -1 + 1.5 * 0.5 */
	CHECK(qsk_quantile(&s, 0.9, QSK_SERIES) == 8.5);     /* pos 4.5: 7 + 3 * 0.5 */
	qsk_add(&s, 8);
	CHECK(qsk_quantile(&s, 0.5, QSK_MEDIAN) == 3 && qsk_quantile(&s, 0.75, QSK_SERIES) == 7.5);
	qsk_release(&t);
	for (int i = 0; i < QSK_EXACT - 7; i++)
		qsk_add(&t, i);
	qsk_merge(&s, &t);
	CHECK(qsk_exact(&s) && s.n == QSK_EXACT);
	qsk_add(&s, 1e9);
	CHECK(!qsk_exact(&s) && s.n == QSK_EXACT + 1 && s.n_it <= QSK_K + 1);
	CHECK(qsk_quantile(&s, 1, QSK_SERIES) == 1e9 && qsk_quantile(&s, 0, QSK_SERIES) == -1);
	/* a smaller k gives the room back: 4000 values kept exactly, then cut to QSK_K_MIN */
	{
		struct qsketch c = { 0 };
		for (int i = 0; i < 4000; i++)
			qsk_add(&c, (double)((i * 7919) % 4000));
		qsk_set_k(&c, QSK_K_MIN);
		CHECK(!qsk_exact(&c) && c.n == 4000 && c.cap * 8 <= qsk_bound_bytes(QSK_K_MIN));
		for (int i = 0; i < 100000; i++)
			qsk_add(&c, (double)i);
		CHECK(c.cap * 8 <= qsk_bound_bytes(QSK_K_MIN));
		qsk_release(&c);
	}
	/* a sketch's bytes: every truncation refused, damage refused or harmless */
	for (int i = 0; i < 9000; i++)
		qsk_add(&s, (double)((i * 7919) % 9000));
	CHECK(!qsk_exact(&s));
	struct buf sb;
	buf_init(&sb);
	qsk_serialize(&s, &sb);
	const unsigned char *bytes = (const unsigned char *)sb.data;
	int refused = 0;
	for (size_t len = 0; len < sb.len; len += 8)
		refused += qsk_check(bytes, len) == 0;
	CHECK(refused == (int)(sb.len / 8));
	unsigned char *copy = malloc(sb.len);
	for (size_t i = 0; i < sb.len; i += 5) {
		memcpy(copy, bytes, sb.len);
		copy[i] ^= (unsigned char)(0x81 + i);
		if (qsk_check(copy, sb.len)) {
			qsk_merge_bytes(&t, copy);
			qsk_quantile(&t, 0.5, QSK_SERIES);
		}
	}
	free(copy);
	buf_release(&sb);
	qsk_release(&s);
	qsk_release(&t);

	enum { N = 1000000, PARTS = 250 };
	double *data = malloc(sizeof *data * N), *sorted = malloc(sizeof *sorted * N);
	static const double qs[] = { 0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 };
	for (int kind = 0; kind < 3; kind++) {
		uint64_t x = 88172645463325252ull;
		for (int i = 0; i < N; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			double u = (double)(x >> 11) * 0x1p-53;
			data[i] = kind == 0 ? exp(8 * u) : kind == 1 ? (double)i : (double)(x % 17);
		}
		memcpy(sorted, data, sizeof *data * N);
		qsort(sorted, N, sizeof *sorted, cmp_dbl);
		double first[2][11];
		/* at the default capacity, then at the smallest (cut to it half way through, or on
		 * every other partial: merged sketches take the smaller) */
		for (int run = 0; run < 4; run++) {
			uint32_t kk = run < 2 ? QSK_K : QSK_K_MIN;
			/* one sketch */
			struct qsketch one = { 0 };
			qsk_seed(&one, 1);
			for (int i = 0; i < N; i++) {
				if (i == N / 2)
					qsk_set_k(&one, kk);
				qsk_add(&one, data[i]);
			}
			CHECK(one.n == N && one.n_it <= 3 * kk && one.cap * 8 <= qsk_bound_bytes(kk));
			/* partials, merged 8 at a time from their bytes */
			int n_cur = PARTS;
			struct qsketch *cur = calloc(PARTS, sizeof *cur);
			for (int p = 0; p < PARTS; p++) {
				qsk_seed(&cur[p], (uint64_t)p << 32);
				if (p % 2)
					qsk_set_k(&cur[p], kk);
				for (int i = N / PARTS * p; i < N / PARTS * (p + 1); i++)
					qsk_add(&cur[p], data[i]);
			}
			while (n_cur > 1) {
				int n_next = (n_cur + 7) / 8;
				struct qsketch *next = calloc((size_t)n_next, sizeof *next);
				for (int p = 0; p < n_cur; p++) {
					struct buf b;
					buf_init(&b);
					qsk_serialize(&cur[p], &b);
					CHECK(qsk_check((const unsigned char *)b.data, b.len) == b.len);
					CHECK(qsk_check((const unsigned char *)b.data, b.len - 8) == 0);
					qsk_merge_bytes(&next[p / 8], (const unsigned char *)b.data);
					buf_release(&b);
					qsk_release(&cur[p]);
				}
				free(cur);
				cur = next;
				n_cur = n_next;
			}
			CHECK(cur[0].n == N && cur[0].n_it <= 3 * kk && cur[0].cap * 8 <= qsk_bound_bytes(kk));
			for (int i = 0; i < 11; i++) {
				double a = qsk_quantile(&one, qs[i], QSK_SERIES), b = qsk_quantile(&cur[0], qs[i], QSK_GROUPBY);
				CHECK(rank_error(sorted, N, a, qs[i]) <= 0.01 * N);
				CHECK(rank_error(sorted, N, b, qs[i]) <= 0.01 * N);
				if (rank_error(sorted, N, a, qs[i]) > 0.01 * N || rank_error(sorted, N, b, qs[i]) > 0.01 * N)
					fprintf(stderr, "kind %d q %g: %g %g\n", kind, qs[i], rank_error(sorted, N, a, qs[i]),
						rank_error(sorted, N, b, qs[i]));
				if (getenv("QSK_ERRORS"))
					fprintf(stderr, "k %u kind %d q %g: rank error %.4f%% %.4f%%\n", kk, kind, qs[i],
						100.0 * rank_error(sorted, N, a, qs[i]) / N,
						100.0 * rank_error(sorted, N, b, qs[i]) / N);
				if (run % 2 == 0)
					first[0][i] = a, first[1][i] = b;
				else
					CHECK(first[0][i] == a && first[1][i] == b);
			}
			CHECK(qsk_quantile(&cur[0], 0, QSK_SERIES) == sorted[0]);
			CHECK(qsk_quantile(&cur[0], 1, QSK_SERIES) == sorted[N - 1]);
			qsk_release(&one);
			qsk_release(&cur[0]);
			free(cur);
		}
	}
	free(data);
	free(sorted);
}

const struct test table_tests[] = {
	{ "table_agg_int", test_agg_int },
	{ "table_agg_float", test_agg_float },
	{ "table_agg_bool", test_agg_bool },
	{ "table_agg_string", test_agg_string },
	{ "table_agg_date", test_agg_date },
	{ "table_agg_partials", test_agg_partials },
	{ "table_agg_first_last_nunique", test_agg_first_last_nunique },
	{ "table_agg_no_keys", test_agg_no_keys },
	{ "table_agg_keys_sorted", test_agg_keys_sorted },
	{ "table_agg_many_groups", test_agg_many_groups },
	{ "table_write_csv", test_write_csv },
	{ "table_write_raw", test_write_raw },
	{ "table_write_floats", test_write_floats },
	{ "table_take_filter", test_take_filter },
	{ "table_serialize_view", test_serialize_view },
	{ "table_serialize_rows", test_serialize_rows },
	{ "table_gb_malformed", test_gb_malformed },
	{ "table_agg_quantile", test_agg_quantile },
	{ "table_qsketch", test_qsketch },
	{ "table_agg_quantile_budget", test_agg_quantile_budget },
	{ NULL, NULL },
};
