/* SPDX-License-Identifier: MIT */
/* Unit tests for util/: parsers, edit distance, hash map, buffers, errors. */
#include "test.h"
#include "ops/op.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/strmap.h"
#include "util/text.h"

#include <stdlib.h>

static void test_parse_size(void)
{
	uint64_t v;
	CHECK(parse_size("1048576", &v) && v == 1048576);
	CHECK(parse_size("64MiB", &v) && v == 64ull << 20);
	CHECK(parse_size("2G", &v) && v == 2ull << 30);
	CHECK(parse_size("1.5GB", &v) && v == 3ull << 29);
	CHECK(parse_size("512k", &v) && v == 512ull << 10);
	CHECK(!parse_size("lots", &v));
	CHECK(!parse_size("12Q", &v));
	CHECK(!parse_size("-1M", &v));
	CHECK(!parse_size("", &v));
}

static void test_parse_duration(void)
{
	double d;
	CHECK(parse_duration("30s", &d) && d == 30);
	CHECK(parse_duration("30", &d) && d == 30);
	CHECK(parse_duration("250ms", &d) && d > 0.2499 && d < 0.2501);
	CHECK(parse_duration("2m", &d) && d == 120);
	CHECK(parse_duration("1h", &d) && d == 3600);
	CHECK(!parse_duration("soon", &d));
	CHECK(!parse_duration("5 s", &d));
}

static void test_parse_int(void)
{
	int64_t v;
	CHECK(parse_int("-42", &v) && v == -42);
	CHECK(!parse_int("42x", &v));
	CHECK(!parse_int(" 1", &v));
	CHECK(!parse_int("99999999999999999999", &v));
}

static void test_did_you_mean(void)
{
	const char *names[] = { "run", "sql", "load", "value", "concat" };
	CHECK_STR(did_you_mean("rnu", names, 5), "run");
	CHECK_STR(did_you_mean("valeu", names, 5), "value");
	CHECK(did_you_mean("frobnicate", names, 5) == NULL);
	CHECK(edit_distance("kitten", "sitting") == 3);
	CHECK(edit_distance("", "abc") == 3);
}

static void test_strmap(void)
{
	struct strmap m;
	strmap_init(&m);
	char keys[1000][16];
	for (int i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		CHECK(strmap_put(&m, keys[i], i * 3));
	}
	CHECK(!strmap_put(&m, "k5", 7));
	int64_t v = -1;
	CHECK(strmap_get(&m, "k5", &v) && v == 7);
	CHECK(strmap_get(&m, "k999", &v) && v == 2997);
	CHECK(!strmap_get(&m, "k1000", &v));
	CHECK(m.n == 1000);
	strmap_release(&m);
}

static void test_buf(void)
{
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "%d,", i);
	CHECK(b.len == 290);
	CHECK(!strncmp(b.data, "0,1,2,", 6));
	size_t n;
	char *p = buf_detach(&b, &n);
	CHECK(n == 290 && p[n] == '\0' && b.data == NULL);
	free(p);
}

static void test_err_first_wins(void)
{
	struct err e;
	err_init(&e);
	struct loc l = { "x.yaml", 3, 7 };
	CHECK(err_at(&e, l, "first %d", 1) == -1);
	err_at(&e, l, "second");
	char line[256];
	err_format(&e, line, sizeof line);
	CHECK_STR(line, "tessera: x.yaml:3:7: first 1");
	CHECK(e.code == ERR_SPEC);
	err_init(&e);
	err_run(&e, "load[3]", "boom");
	err_set_loc(&e, l);
	err_format(&e, line, sizeof line);
	CHECK_STR(line, "tessera: task 'load[3]' (x.yaml:3:7): boom");
}

static void test_op_table_sorted_unique(void)
{
	size_t n, nn;
	const struct op *ops = op_table_get(&n);
	const char *const *names = op_names(&nn);
	CHECK(n == nn && n > 0);
	for (size_t i = 0; i < n; i++) {
		CHECK_STR(ops[i].name, names[i]);
		CHECK(ops[i].synopsis && ops[i].help);
		/* task ops run; array ops are lowered, and say how to bind their arguments */
		CHECK((ops[i].run && ops[i].check) || ((ops[i].flags & OP_ARRAY) && ops[i].args));
		CHECK(op_find(ops[i].name) == &ops[i]);
		if (i)
			CHECK(strcmp(ops[i - 1].name, ops[i].name) < 0);
	}
	CHECK(op_find("nope") == NULL);
}

const struct test util_tests[] = {
	{ "util/parse_size", test_parse_size },
	{ "util/parse_duration", test_parse_duration },
	{ "util/parse_int", test_parse_int },
	{ "util/did_you_mean", test_did_you_mean },
	{ "util/strmap", test_strmap },
	{ "util/buf", test_buf },
	{ "util/err_first_wins", test_err_first_wins },
	{ "ops/table_sorted_unique", test_op_table_sorted_unique },
	{ NULL, NULL },
};
