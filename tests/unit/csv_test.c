/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for io/csv: the scanning kernels against byte loops; the
 * tokenizer on RFC 4180 cases (quoted separators, doubled quotes, quoted
 * newlines, CRLF, blank records), on ragged and unterminated records, and
 * on generated blocks against a reference tokenizer written here; number,
 * bool and date parsers on hard cases (floats compared with strtod); NA
 * sets; type inference; column conversion; and csv_input_open on plain,
 * gzip (two members), zstd (two frames) and stdin copies of one generated
 * file whose quoted newlines straddle every 64 KiB block boundary.
 */
#include "test.h"

#include "io/csv.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

static const struct csv_dialect comma = {',', '"'};

/* ---- helpers ---- */

static char *tmpdir_new(void)
{
	const char *t = getenv("TMPDIR");
	char *d = xasprintf("%s/tessera-csv-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(d)) {
		perror("mkdtemp");
		abort();
	}
	return d;
}

static void file_write(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

static char *file_read(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if (!f) {
		*n = 0;
		return xstrdup("");
	}
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = xmalloc((size_t)len + 1);
	*n = fread(p, 1, (size_t)len, f);
	p[*n] = '\0';
	fclose(f);
	return p;
}

/* The field (r, c) of a tokenized block, unquoted, NUL-terminated in a static buffer. */
static const char *field(const char *block, const struct csv_tok *t, int c, int64_t r)
{
	static char out[4096];
	size_t n = csv_unquote(block + t->fstart[c][r], t->flen[c][r], '"', out);
	out[n] = '\0';
	return out;
}

static int tok(const char *s, int n_cols, struct csv_tok *t, struct csv_fail *f)
{
	return csv_tokenize(s, strlen(s), &comma, n_cols, NULL, t, f);
}

/* ---- scanning ---- */

static void test_count(void)
{
	char buf[300];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = "ab\"\n,x"[(i * 7 + i / 5) % 6];
	for (size_t n = 0; n <= sizeof buf; n += 13) {
		uint64_t q, l, q2 = 0, l2 = 0;
		for (size_t i = 0; i < n; i++) {
			q2 += buf[i] == '"';
			l2 += buf[i] == '\n';
		}
		csv_count(buf, n, '"', &q, &l);
		CHECK(q == q2);
		CHECK(l == l2);
	}
	const char *s = "a,\"b\nc\"\nd\n";
	CHECK(csv_next_record(s, strlen(s), '"', false) == 8);
	CHECK(csv_next_record(s + 3, strlen(s) - 3, '"', true) == 5); /* from inside the quotes */
	CHECK(csv_next_record("abc", 3, '"', false) == 3);
	CHECK(csv_next_record("\"a\nb", 4, '"', false) == 4);
}

/* ---- tokenizer ---- */

static void test_tokenize_rfc4180(void)
{
	const char *s = "a,\"b,c\",\"d\"\"e\"\r\n"
			"1,\"x\ny\",3\n"
			"\n"
			"\r\n"
			"4,,\"\"\n"
			"5,6,7"; /* no final newline */
	struct csv_tok t;
	struct csv_fail f;
	CHECK(tok(s, 3, &t, &f) == 0);
	CHECK(t.n_rows == 4);
	CHECK_STR(field(s, &t, 0, 0), "a");
	CHECK_STR(field(s, &t, 1, 0), "b,c");
	CHECK_STR(field(s, &t, 2, 0), "d\"e"); /* the '\r' is not part of it */
	CHECK(t.flen[2][0] == 6);
	CHECK_STR(field(s, &t, 1, 1), "x\ny");
	CHECK_STR(field(s, &t, 2, 1), "3");
	CHECK_STR(field(s, &t, 0, 2), "4");
	CHECK(t.flen[1][2] == 0);
	CHECK(t.flen[2][2] == 2);
	CHECK_STR(field(s, &t, 2, 2), "");
	CHECK_STR(field(s, &t, 2, 3), "7");
	CHECK(t.rec[0] == 0);
	CHECK(t.rec[1] == 16);
	CHECK(s[t.rec[2]] == '4');
	CHECK(t.rec[4] == strlen(s));
	csv_tok_release(&t);

	/* text after a closing quote stays in the field; a quote inside a field is a byte */
	const char *l = "\"ab\"cd,e\"f\n";
	CHECK(tok(l, 2, &t, &f) == 0);
	CHECK(t.n_rows == 1);
	CHECK_STR(field(l, &t, 0, 0), "abcd");
	CHECK_STR(field(l, &t, 1, 0), "e\"f");
	csv_tok_release(&t);

	/* only wanted columns are kept; other separators still counted */
	bool want[3] = {false, true, false};
	const char *w = "1,2,3\n4,5,6\n";
	CHECK(csv_tokenize(w, strlen(w), &comma, 3, want, &t, &f) == 0);
	CHECK(t.n_rows == 2);
	CHECK(t.fstart[0] == NULL && t.fstart[2] == NULL);
	CHECK_STR(field(w, &t, 1, 1), "5");
	csv_tok_release(&t);

	/* empty block, blank lines only */
	CHECK(tok("", 2, &t, &f) == 0);
	CHECK(t.n_rows == 0);
	csv_tok_release(&t);
	CHECK(tok("\n\r\n\n", 2, &t, &f) == 0);
	CHECK(t.n_rows == 0);
	csv_tok_release(&t);

	/* tab separator */
	const struct csv_dialect tab = {'\t', '"'};
	const char *ts = "a\tb,c\n";
	CHECK(csv_tokenize(ts, strlen(ts), &tab, 2, NULL, &t, &f) == 0);
	CHECK_STR(field(ts, &t, 1, 0), "b,c");
	csv_tok_release(&t);
}

static void test_tokenize_errors(void)
{
	struct csv_tok t;
	struct csv_fail f;
	const char *s = "a,b\n1,2\n1,2,3,4\n";
	CHECK(tok(s, 2, &t, &f) == -1);
	CHECK(f.off == 11); /* the separator that opens the third field */
	CHECK_STR(f.msg, "expected 2 fields, saw 4");
	csv_tok_release(&t);

	s = "a,b\n1\n";
	CHECK(tok(s, 2, &t, &f) == -1);
	CHECK(f.off == 5);
	CHECK_STR(f.msg, "expected 2 fields, saw 1");
	csv_tok_release(&t);

	s = "a,b\n1,\"open\nx,y\n";
	CHECK(tok(s, 2, &t, &f) == -1);
	CHECK(f.off == 6);
	CHECK_STR(f.msg, "unterminated quoted field");
	csv_tok_release(&t);

	/* csv_locate turns the offset into a line and column */
	struct csv_input in = {0};
	int64_t line0 = 10;
	in.n_blocks = 1;
	in.block_line = &line0;
	int64_t line, col;
	s = "a,b\n1,2\n1,2,3\n";
	csv_locate(&in, 0, s, 11, &line, &col);
	CHECK(line == 12);
	CHECK(col == 4);
	csv_locate(&in, 0, s, 0, &line, &col);
	CHECK(line == 10 && col == 1);
}

/* The reference: a byte at a time, fields unquoted; returns rows or -1. */
static int64_t ref_tokenize(const char *p, size_t n, int n_cols, char ***out)
{
	int64_t rows = 0;
	size_t cap = 16;
	char **cells = xmalloc(cap * sizeof *cells);
	size_t i = 0;
	while (i < n) {
		if (p[i] == '\n') {
			i++;
			continue;
		}
		for (int c = 0; c < n_cols; c++) {
			char *v = xmalloc(n - i + 1);
			size_t k = 0;
			if (p[i] == '"') {
				i++;
				for (;;) {
					if (p[i] == '"' && i + 1 < n && p[i + 1] == '"') {
						v[k++] = '"';
						i += 2;
					} else if (p[i] == '"') {
						i++;
						break;
					} else {
						v[k++] = p[i++];
					}
				}
			}
			while (i < n && p[i] != ',' && p[i] != '\n')
				v[k++] = p[i++];
			v[k] = '\0';
			if ((size_t)rows * (size_t)n_cols + (size_t)c + 1 > cap) {
				cap *= 2;
				cells = xrealloc(cells, cap * sizeof *cells);
			}
			cells[rows * n_cols + c] = v;
			i++; /* the separator or '\n' */
		}
		rows++;
	}
	*out = cells;
	return rows;
}

/* Appends one random record of 3 fields (quoted ones with separators, quotes and newlines). */
static size_t gen_record(char *p, unsigned *seed)
{
	size_t k = 0;
	for (int c = 0; c < 3; c++) {
		unsigned r = (unsigned)rand_r(seed);
		int len = (int)(r % 90);
		if (r % 3 == 0) {
			p[k++] = '"';
			for (int i = 0; i < len; i++) {
				char ch = "ab,\n\"x"[rand_r(seed) % 6];
				p[k++] = ch;
				if (ch == '"')
					p[k++] = '"';
			}
			p[k++] = '"';
		} else {
			for (int i = 0; i < len; i++)
				p[k++] = "abcdefg0123"[rand_r(seed) % 11];
		}
		p[k++] = c == 2 ? '\n' : ',';
	}
	if (rand_r(seed) % 17 == 0)
		p[k++] = '\n'; /* a blank line */
	return k;
}

static void test_tokenize_random(void)
{
	unsigned seed = 7;
	size_t cap = 400 * 600;
	char *p = xmalloc(cap);
	for (int round = 0; round < 20; round++) {
		size_t n = 0;
		int recs = 1 + round * 20;
		for (int r = 0; r < recs; r++)
			n += gen_record(p + n, &seed);
		if (round % 2 && p[n - 1] == '\n' && p[n - 2] != '\n')
			n--; /* no final newline */
		char **cells;
		int64_t rows = ref_tokenize(p, n, 3, &cells);
		struct csv_tok t;
		struct csv_fail f;
		CHECK(csv_tokenize(p, n, &comma, 3, NULL, &t, &f) == 0);
		CHECK(t.n_rows == rows);
		CHECK(csv_count_records(p, n, &comma) == rows);
		for (int64_t r = 0; r < rows && r < t.n_rows; r++)
			for (int c = 0; c < 3; c++) {
				char *out = xmalloc(t.flen[c][r] + 1);
				size_t len = csv_unquote(p + t.fstart[c][r], t.flen[c][r], '"', out);
				out[len] = '\0';
				CHECK_STR(out, cells[r * 3 + c]);
				free(out);
			}
		for (int64_t i = 0; i < rows * 3; i++)
			free(cells[i]);
		free(cells);
		csv_tok_release(&t);
	}
	free(p);
}

/* csv_count_records() agrees with the tokenizer on blank records, CRLF, quotes inside and outside fields. */
static void test_count_records(void)
{
	static const struct { const char *text; int n_cols; } cases[] = {
		{ "", 1 },
		{ "\n\n\r\n", 1 },
		{ "a\n", 1 },
		{ "a", 1 },
		{ "a\r", 1 },
		{ "a,b\r\n\r\nc,d\r\n", 2 },
		{ "a,b\nc,d", 2 },
		{ "\"x\ny\",1\n\"\"\"\n\",2\n", 2 },   /* quoted newlines, a doubled quote before one */
		{ "ab\"c,1\nd,2\n", 2 },                  /* a quote inside a field is a byte: no quoted newline */
		{ "\"a\"x\"y,1\n2,3\n", 2 },              /* text after a closing quote, then a plain quote */
		{ "1,\"\"\n2,\"\n\"\n", 2 },                /* an empty quoted field; a quoted lone newline */
		{ "  \n\n", 1 },                          /* spaces are a value */
		{ "\r\n\"a\r\n\"\r\n", 1 },
		{ "1,2\na,\"b\nc\"", 2 },                 /* a last record ending in a quoted field, no '\n' */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct csv_tok t;
		struct csv_fail f;
		size_t n = strlen(cases[i].text);
		CHECK(csv_tokenize(cases[i].text, n, &comma, cases[i].n_cols, NULL, &t, &f) == 0);
		int64_t got = csv_count_records(cases[i].text, n, &comma);
		if (got != t.n_rows)
			fprintf(stderr, "case %zu: counted %lld, tokenized %lld\n", i, (long long)got, (long long)t.n_rows);
		CHECK(got == t.n_rows);
		csv_tok_release(&t);
	}
	/* a quote left open: the records before it */
	CHECK(csv_count_records("a\nb\n\"c\nd\n", 10, &comma) == 2);
}

/* ---- values ---- */

static void test_parse_f64(void)
{
	static const char *const cases[] = {
		"0.1", "2.2250738585072011e-308", "2.2250738585072014e-308", "9007199254740993",
		"9007199254740992", "1.7976931348623157e308", "4.9e-324", "1e23", "8.589973e9", "1e22",
		"123456789012345678901234567890", "0.1234567890123456789012345", "3.14159265358979323846264338",
		"1e-400", "1e400", "-0.0", "0", "5.", ".5", "+1.5E+3", "0.000000000000000000000000001",
		"1234567.123456789", "7.038531e-26", "2.2250738585072012e-308", "0.123456789", "-12.5e-3",
		"900719925474099.7", "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
		"0171456000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
		"00000000000000000000000000000000000000000000000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double v = -1, want = strtod(cases[i], NULL);
		bool ok = csv_parse_f64(cases[i], strlen(cases[i]), &v);
		CHECK(ok);
		if (memcmp(&v, &want, sizeof v) != 0) {
			fprintf(stderr, "csv_parse_f64(\"%s\") = %.17g, strtod = %.17g\n", cases[i], v, want);
			CHECK(!"correctly rounded");
		}
	}
	static const char *const bad[] = {"1e", "--1", "1.2.3", " 1", "1 ", "0x10", "", ".", "-", "e5", "1e+",
					  "abc", "1,5", "in", "nana", "+-1", "1e5x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double v;
		if (csv_parse_f64(bad[i], strlen(bad[i]), &v)) {
			fprintf(stderr, "csv_parse_f64(\"%s\") accepted\n", bad[i]);
			CHECK(!"rejected");
		}
	}
	double v;
	CHECK(csv_parse_f64("inf", 3, &v) && isinf(v) && v > 0);
	CHECK(csv_parse_f64("-Infinity", 9, &v) && isinf(v) && v < 0);
	CHECK(csv_parse_f64("NaN", 3, &v) && isnan(v));
	/* never reads past n: "1.5" followed by digits that are not its own */
	CHECK(csv_parse_f64("1.5999", 3, &v) && v == 1.5);
	CHECK(csv_parse_f64("12e34", 2, &v) && v == 12);
}

static void test_parse_i64(void)
{
	int64_t v;
	CHECK(csv_parse_i64("9223372036854775807", 19, &v) && v == INT64_MAX);
	CHECK(csv_parse_i64("-9223372036854775808", 20, &v) && v == INT64_MIN);
	CHECK(!csv_parse_i64("9223372036854775808", 19, &v));
	CHECK(!csv_parse_i64("-9223372036854775809", 20, &v));
	CHECK(!csv_parse_i64("99999999999999999999999", 23, &v));
	CHECK(csv_parse_i64("+42", 3, &v) && v == 42);
	CHECK(csv_parse_i64("-007", 4, &v) && v == -7);
	CHECK(csv_parse_i64("123456", 3, &v) && v == 123);
	CHECK(!csv_parse_i64("", 0, &v));
	CHECK(!csv_parse_i64("-", 1, &v));
	CHECK(!csv_parse_i64(" 1", 2, &v));
	CHECK(!csv_parse_i64("1.0", 3, &v));
	CHECK(!csv_parse_i64("1e3", 3, &v));
	CHECK(!csv_parse_i64("--1", 3, &v));
}

static void test_parse_bool_date(void)
{
	bool b;
	CHECK(csv_parse_bool("True", 4, &b) && b);
	CHECK(csv_parse_bool("FALSE", 5, &b) && !b);
	CHECK(csv_parse_bool("true", 4, &b) && b);
	CHECK(!csv_parse_bool("1", 1, &b));
	CHECK(!csv_parse_bool("tRUE", 4, &b));
	CHECK(!csv_parse_bool("yes", 3, &b));

	int32_t d;
	CHECK(csv_parse_date("1970-01-01", 10, &d) && d == 0);
	CHECK(csv_parse_date("1969-12-31", 10, &d) && d == -1);
	CHECK(csv_parse_date("2000-03-01", 10, &d) && d == 11017);
	CHECK(csv_parse_date("2000-02-29", 10, &d) && d == 11016);
	CHECK(csv_parse_date("2016-02-29", 10, &d));
	CHECK(!csv_parse_date("2015-02-29", 10, &d));
	CHECK(!csv_parse_date("1900-02-29", 10, &d));
	CHECK(!csv_parse_date("2015-13-01", 10, &d));
	CHECK(!csv_parse_date("2015-04-31", 10, &d));
	CHECK(!csv_parse_date("2015-00-10", 10, &d));
	CHECK(!csv_parse_date("2015-1-10", 9, &d));
	CHECK(!csv_parse_date("2015/01/10", 10, &d));
	CHECK(csv_parse_date("0001-01-01", 10, &d) && d == -719162);
	char out[11];
	CHECK(csv_format_date(-1, out) == 10);
	CHECK_STR(out, "1969-12-31");
	csv_format_date(11016, out);
	CHECK_STR(out, "2000-02-29");
	for (int32_t k = -719468; k < 2932896; k += 997) { /* 0000-03-01 .. 9999-12-31 */
		csv_format_date(k, out);
		CHECK(csv_parse_date(out, 10, &d) && d == k);
	}
}

static void test_null(void)
{
	CHECK(csv_is_null("", 0, NULL));
	CHECK(csv_is_null("NA", 2, NULL));
	CHECK(csv_is_null("#N/A N/A", 8, NULL));
	CHECK(csv_is_null("-1.#QNAN", 8, NULL));
	CHECK(csv_is_null("<NA>", 4, NULL));
	CHECK(!csv_is_null("na", 2, NULL));
	CHECK(!csv_is_null("NAN", 3, NULL));
	CHECK(!csv_is_null("0", 1, NULL));
	const char *extra[] = {"-999", "missing"};
	struct csv_na na = {false, 2, extra};
	CHECK(csv_is_null("-999", 4, &na));
	CHECK(csv_is_null("NULL", 4, &na));
	na.no_defaults = true;
	CHECK(!csv_is_null("NULL", 4, &na));
	CHECK(csv_is_null("missing", 7, &na));
	CHECK(csv_is_null("", 0, &na));
}

static enum col_type infer(const char *const *v, size_t n)
{
	struct csv_infer s;
	csv_infer_init(&s);
	for (size_t i = 0; i < n; i++)
		csv_infer_add(&s, v[i], strlen(v[i]));
	return csv_infer_result(&s);
}

static void test_infer(void)
{
	const char *ints[] = {"1", "-2", "0"};
	const char *floats[] = {"1", "2.5", "1e3"};
	const char *bools[] = {"True", "false"};
	const char *zero_one[] = {"0", "1"};
	const char *dates[] = {"2020-01-01", "1999-12-31"};
	const char *mixed[] = {"2020-01-01", "3"};
	const char *strs[] = {"1", "x"};
	const char *boolint[] = {"True", "1"};
	CHECK(infer(ints, 3) == COL_INT64);
	CHECK(infer(floats, 3) == COL_FLOAT64);
	CHECK(infer(bools, 2) == COL_BOOL);
	CHECK(infer(zero_one, 2) == COL_INT64);
	CHECK(infer(dates, 2) == COL_DATE);
	CHECK(infer(mixed, 2) == COL_STRING);
	CHECK(infer(strs, 2) == COL_STRING);
	CHECK(infer(boolint, 2) == COL_STRING);
	CHECK(infer(NULL, 0) == COL_FLOAT64);
	CHECK_STR(col_type_name(COL_DATE), "date");
	CHECK(col_type_parse("f8") == COL_FLOAT64);
	CHECK(col_type_parse("i8") == COL_INT64);
	CHECK(col_type_parse("object") == COL_STRING);
	CHECK(col_type_parse("datetime64[D]") == COL_DATE);
	CHECK(col_type_parse("bool") == COL_BOOL);
	CHECK(col_type_parse("complex") == -1);
}

static void test_column_parse(void)
{
	const char *s = "1,0.5,True,2020-01-02,\"a\"\"b\"\n"
			"NA,\"2.5\",False,,x\n"
			"-3,nan,,1970-01-01,NA\n"
			"4,1e3,True,1969-12-31,\"\"\n";
	struct csv_tok t;
	struct csv_fail f;
	CHECK(tok(s, 5, &t, &f) == 0);
	CHECK(t.n_rows == 4);
	int64_t iv[4], bad = -1;
	double dv[4];
	uint8_t bv[4], valid[4];
	int32_t dates[4];
	CHECK(csv_column_parse(s, &t, 0, COL_INT64, NULL, '"', iv, valid, &bad) == 0);
	CHECK(iv[0] == 1 && valid[0] == 1 && valid[1] == 0 && iv[2] == -3 && iv[3] == 4);
	CHECK(csv_column_parse(s, &t, 1, COL_FLOAT64, NULL, '"', dv, valid, &bad) == 0);
	CHECK(dv[0] == 0.5 && dv[1] == 2.5 && valid[1] == 1 && valid[2] == 0 && isnan(dv[2]) && dv[3] == 1000);
	CHECK(csv_column_parse(s, &t, 2, COL_BOOL, NULL, '"', bv, valid, &bad) == 0);
	CHECK(bv[0] == 1 && bv[1] == 0 && valid[2] == 0 && valid[3] == 1 && bv[3] == 1);
	CHECK(csv_column_parse(s, &t, 3, COL_DATE, NULL, '"', dates, valid, &bad) == 0);
	CHECK(dates[0] == 18263 && valid[1] == 0 && dates[2] == 0 && valid[2] == 1 && dates[3] == -1);
	/* the first bad row stops it */
	CHECK(csv_column_parse(s, &t, 4, COL_INT64, NULL, '"', iv, valid, &bad) == -1);
	CHECK(bad == 0);
	CHECK(csv_column_parse(s, &t, 1, COL_INT64, NULL, '"', iv, valid, &bad) == -1);
	CHECK(bad == 0);
	/* "nan" with no defaults is a value; an extra NA string is not */
	const char *extra[] = {"1e3"};
	struct csv_na na = {true, 1, extra};
	CHECK(csv_column_parse(s, &t, 1, COL_FLOAT64, &na, '"', dv, valid, &bad) == 0);
	CHECK(valid[2] == 1 && isnan(dv[2]) && valid[3] == 0);
	/* strings: unquoted, missing ones empty */
	char data[64];
	uint64_t off[5];
	uint64_t used = csv_column_strings(s, &t, 4, NULL, '"', data, off, valid);
	CHECK(used == 4);
	CHECK(off[0] == 0 && off[1] == 3 && off[2] == 4 && off[3] == 4 && off[4] == 4);
	CHECK(!memcmp(data, "a\"bx", 4));
	CHECK(valid[0] == 1 && valid[1] == 1 && valid[2] == 0 && valid[3] == 0);
	csv_tok_release(&t);

	const char *q = "a\n\"x\"\"y\"\n\"\"\"\"\nplain\n";
	CHECK(tok(q, 1, &t, &f) == 0);
	CHECK(t.n_rows == 4);
	CHECK_STR(field(q, &t, 0, 1), "x\"y");
	CHECK_STR(field(q, &t, 0, 2), "\"");
	csv_tok_release(&t);
}

/* ---- inputs ---- */

static int open_input(const char *path, bool header, uint64_t bs, int jobs, const char *dir, struct csv_input *in,
		      struct err *e)
{
	err_init(e);
	struct loc loc = {"spec.yaml", 3, 5};
	return csv_input_open(path, &comma, header, bs, jobs, dir, loc, in, e);
}

static void test_input_small(void)
{
	char *dir = tmpdir_new();
	char *path = xasprintf("%s/a.csv", dir);
	const char *text = "\xEF\xBB\xBF\n"
			   "id,\"na,me\",id,id.1,id\r\n"
			   "1,x,2,3,4\r\n"
			   "\r\n"
			   "5,\"multi\nline\",6,7,8\r\n";
	file_write(path, text, strlen(text));
	struct csv_input in;
	struct err e;
	CHECK(open_input(path, true, 1 << 20, 2, dir, &in, &e) == 0);
	CHECK(in.n_cols == 5);
	if (in.n_cols == 5) {
		CHECK_STR(in.names[0], "id");
		CHECK_STR(in.names[1], "na,me");
		CHECK_STR(in.names[2], "id.1");
		CHECK_STR(in.names[3], "id.1.1");
		CHECK_STR(in.names[4], "id.2");
	}
	CHECK(!in.is_copy);
	CHECK(in.compression == CSV_PLAIN);
	CHECK(in.size == strlen(text));
	CHECK(in.data_start == 27);
	CHECK(in.n_blocks == 1);
	CHECK(in.block_off[0] == 27 && in.block_off[1] == in.size);
	CHECK(in.block_line[0] == 3);
	CHECK(in.sample_len == in.size - in.data_start);
	CHECK(in.sample && !memcmp(in.sample, text + 27, in.sample_len));
	csv_input_release(&in);

	/* no header: names are 0, 1, ...; data starts past the BOM */
	CHECK(open_input(path, false, 1 << 20, 1, dir, &in, &e) == 0);
	CHECK(in.n_cols == 5);
	CHECK(in.n_cols == 5 && !strcmp(in.names[0], "0") && !strcmp(in.names[4], "4"));
	CHECK(in.data_start == 3);
	CHECK(in.block_line[0] == 1);
	csv_input_release(&in);

	/* header only */
	file_write(path, "a,b\n", 4);
	CHECK(open_input(path, true, 0, 1, dir, &in, &e) == 0);
	CHECK(in.n_cols == 2 && in.n_blocks == 1 && in.data_start == 4 && in.block_off[1] == 4);
	CHECK(in.sample_len == 0);
	csv_input_release(&in);

	char msg[600];
	/* errors */
	file_write(path, "\n\r\n", 3);
	CHECK(open_input(path, true, 0, 1, dir, &in, &e) == -1);
	snprintf(msg, sizeof msg, "%s: empty input, no header line", path);
	CHECK_STR(e.msg, msg);
	CHECK(e.code == ERR_RUN);
	file_write(path, "", 0);
	CHECK(open_input(path, true, 0, 1, dir, &in, &e) == -1);
	CHECK_STR(e.msg, msg);

	file_write(path, "a,\xff\xfe\n1,2\n", 9);
	CHECK(open_input(path, true, 0, 1, dir, &in, &e) == -1);
	snprintf(msg, sizeof msg, "%s:1: invalid UTF-8 in the header", path);
	CHECK_STR(e.msg, msg);

	const char *open_q = "a,b\n1,2\n3,\"x\n\ny\n4,5\n";
	file_write(path, open_q, strlen(open_q));
	CHECK(open_input(path, true, 0, 1, dir, &in, &e) == -1);
	snprintf(msg, sizeof msg, "%s:3: unterminated quoted field (opened here)", path);
	CHECK_STR(e.msg, msg);
	CHECK(open_input(path, false, 0, 1, dir, &in, &e) == -1);
	CHECK_STR(e.msg, msg);

	file_write(path, "\"a\n,b\n", 6);
	CHECK(open_input(path, true, 0, 1, dir, &in, &e) == -1);
	snprintf(msg, sizeof msg, "%s:1: unterminated quoted field (opened here)", path);
	CHECK_STR(e.msg, msg);

	char *none = xasprintf("%s/missing.csv", dir);
	CHECK(open_input(none, true, 0, 1, dir, &in, &e) == -1);
	CHECK(e.code == ERR_SPEC);
	CHECK(e.loc.line == 3 && e.loc.col == 5);
	CHECK(strstr(e.msg, "cannot open") != NULL && strstr(e.msg, "missing.csv") != NULL);
	free(none);

	unlink(path);
	free(path);
	rmdir(dir);
	free(dir);
}

/* a quoted field as written and as read */
#define QRAW "a,\n\"\"b\n\n\nc\nyy\nyyyyyyyyyyyy\nyyyyyyyyyyyyyyyyy\nyyyyyyyyy"
#define QTEXT "a,\n\"b\n\n\nc\nyy\nyyyyyyyyyyyy\nyyyyyyyyyyyyyyyyy\nyyyyyyyyy"

/* A file of > 64 KiB blocks whose quoted fields hold newlines just around each 64 KiB boundary:
 * "id,text,x" then rows "I,"...",I*0.5". Returns the text; *rows and *lines are counted. */
static char *gen_big(size_t target, int64_t *rows)
{
	size_t cap = target + 4096, n = 0;
	char *p = xmalloc(cap);
	n += (size_t)sprintf(p, "id,text,x\n");
	int64_t r = 0;
	while (n < target) {
		size_t to_boundary = 65536 - ((n - 10) % 65536); /* to the next candidate cut */
		if (to_boundary < 40) {
			/* straddle the cut with quoted newlines (and a doubled quote) */
			n += (size_t)sprintf(p + n, "%lld,\"" QRAW "\",%lld.5\n", (long long)r, (long long)r);
		} else {
			n += (size_t)sprintf(p + n, "%lld,t%lld,%lld.5\n", (long long)r, (long long)r % 97, (long long)r);
		}
		r++;
	}
	*rows = r;
	p[n] = '\0';
	return p;
}

/* Tokenizes every block of @in and checks rows, ids, quoted texts and block lines against @text. */
static void check_blocks(const struct csv_input *in, const char *text, int64_t rows)
{
	size_t n;
	char *data = file_read(in->data_path, &n);
	CHECK(n == in->size);
	CHECK(in->size == strlen(text) && !memcmp(data, text, n));
	CHECK(in->n_blocks >= 4);
	int64_t next = 0;
	for (int64_t k = 0; k < in->n_blocks; k++) {
		uint64_t a = in->block_off[k], b = in->block_off[k + 1];
		CHECK(a < b);
		/* the line: 1 + '\n' before the block */
		int64_t line = 1;
		for (uint64_t i = 0; i < a; i++)
			line += data[i] == '\n';
		CHECK(in->block_line[k] == line);
		struct csv_tok t;
		struct csv_fail f;
		int rc = csv_tokenize(data + a, b - a, &comma, 3, NULL, &t, &f);
		CHECK(rc == 0);
		if (rc < 0) {
			fprintf(stderr, "block %lld: %s at %llu\n", (long long)k, f.msg, (unsigned long long)f.off);
			csv_tok_release(&t);
			continue;
		}
		int64_t ids[1];
		uint8_t valid[1];
		int64_t bad;
		for (int64_t r = 0; r < t.n_rows; r++, next++) {
			struct csv_tok one = t;
			/* each row's id against its position in the file */
			one.n_rows = 1;
			uint32_t *fs = t.fstart[0] + r, *fl = t.flen[0] + r;
			uint32_t *fsa[3] = {fs, NULL, NULL}, *fla[3] = {fl, NULL, NULL};
			one.fstart = fsa;
			one.flen = fla;
			CHECK(csv_column_parse(data + a, &one, 0, COL_INT64, NULL, '"', ids, valid, &bad) == 0);
			if (ids[0] != next) {
				CHECK(ids[0] == next);
				break;
			}
			const char *txt = field(data + a, &t, 1, r);
			CHECK(txt[0] == 't' || !strcmp(txt, QTEXT));
		}
		csv_tok_release(&t);
	}
	CHECK(next == rows);
	/* the records of each block, counted without tokenizing, on 1 and 3 threads */
	int64_t *counts = xmalloc((size_t)in->n_blocks * sizeof *counts);
	for (int jobs = 1; jobs <= 3; jobs += 2) {
		struct err e;
		err_init(&e);
		CHECK(csv_input_count_rows(in, &comma, jobs, counts, &e) == 0);
		int64_t total = 0;
		for (int64_t k = 0; k < in->n_blocks; k++) {
			struct csv_tok t;
			struct csv_fail f;
			uint64_t a = in->block_off[k], b = in->block_off[k + 1];
			CHECK(csv_tokenize(data + a, b - a, &comma, 3, NULL, &t, &f) == 0);
			CHECK(counts[k] == t.n_rows);
			total += counts[k];
			csv_tok_release(&t);
		}
		CHECK(total == rows);
	}
	free(counts);
	CHECK(in->sample_len > 0 && in->sample_len <= ((size_t)1 << 20));
	CHECK(in->sample[in->sample_len - 1] == '\n');
	CHECK(!memcmp(in->sample, text + in->data_start, in->sample_len));
	free(data);
}

static void test_input_blocks(void)
{
	char *dir = tmpdir_new();
	int64_t rows;
	char *text = gen_big(2600000, &rows); /* over 2 MiB: two scanning threads */
	size_t n = strlen(text);
	char *path = xasprintf("%s/big.csv", dir);
	file_write(path, text, n);
	struct csv_input in;
	struct err e;
	/* blocksize 1 is clamped to 64 KiB */
	CHECK(open_input(path, true, 1, 2, dir, &in, &e) == 0);
	CHECK(in.n_cols == 3);
	CHECK(in.data_start == 10);
	check_blocks(&in, text, rows);
	int64_t n_blocks = in.n_blocks;
	uint64_t *offs = xmalloc((size_t)(n_blocks + 1) * sizeof *offs);
	memcpy(offs, in.block_off, (size_t)(n_blocks + 1) * sizeof *offs);
	csv_input_release(&in);
	/* one thread cuts the same blocks */
	CHECK(open_input(path, true, 1, 1, dir, &in, &e) == 0);
	CHECK(in.n_blocks == n_blocks);
	CHECK(in.n_blocks == n_blocks && !memcmp(offs, in.block_off, (size_t)(n_blocks + 1) * sizeof *offs));
	csv_input_release(&in);

	/* gzip, two members */
	char *gz = xasprintf("%s/big.csv.data", dir); /* the name does not matter, the magic does */
	gzFile g = gzopen(gz, "wb");
	CHECK(gzwrite(g, text, (unsigned)(n / 2)) == (int)(n / 2));
	gzclose(g);
	g = gzopen(gz, "ab");
	CHECK(gzwrite(g, text + n / 2, (unsigned)(n - n / 2)) == (int)(n - n / 2));
	gzclose(g);
	CHECK(open_input(gz, true, 1, 2, dir, &in, &e) == 0);
	CHECK(in.compression == CSV_GZIP);
	CHECK(in.is_copy);
	check_blocks(&in, text, rows);
	CHECK(in.n_blocks == n_blocks && !memcmp(offs, in.block_off, (size_t)(n_blocks + 1) * sizeof *offs));
	char *copy = xstrdup(in.data_path);
	csv_input_release(&in);
	CHECK(access(copy, F_OK) != 0); /* the copy is gone */
	free(copy);

	/* zstd, two frames */
	size_t zcap = ZSTD_compressBound(n) + 64;
	char *z = xmalloc(zcap);
	size_t z1 = ZSTD_compress(z, zcap, text, n / 3, 3);
	size_t z2 = ZSTD_compress(z + z1, zcap - z1, text + n / 3, n - n / 3, 3);
	CHECK(!ZSTD_isError(z1) && !ZSTD_isError(z2));
	char *zs = xasprintf("%s/big.zst", dir);
	file_write(zs, z, z1 + z2);
	CHECK(open_input(zs, true, 1, 2, dir, &in, &e) == 0);
	CHECK(in.compression == CSV_ZSTD);
	check_blocks(&in, text, rows);
	CHECK(in.n_blocks == n_blocks && !memcmp(offs, in.block_off, (size_t)(n_blocks + 1) * sizeof *offs));
	csv_input_release(&in);

	/* a truncated zstd stream and a corrupt gzip one */
	file_write(zs, z, z1 + z2 / 2);
	CHECK(open_input(zs, true, 1, 2, dir, &in, &e) == -1);
	CHECK(strstr(e.msg, "zstd") != NULL);
	size_t gzn;
	char *gzdata = file_read(gz, &gzn);
	memset(gzdata + 100, 0x55, 200);
	file_write(gz, gzdata, gzn);
	CHECK(open_input(gz, true, 1, 2, dir, &in, &e) == -1);
	CHECK(strstr(e.msg, "gzip") != NULL);
	free(gzdata);

	/* stdin: the file on fd 0 */
	int saved = dup(0);
	int fd = open(path, O_RDONLY);
	CHECK(saved >= 0 && fd >= 0);
	dup2(fd, 0);
	close(fd);
	CHECK(open_input("-", true, 1, 2, dir, &in, &e) == 0);
	CHECK(!in.is_copy); /* a regular file is read in place */
	CHECK_STR(in.data_path, "/proc/self/fd/0");
	CHECK(in.compression == CSV_PLAIN);
	CHECK_STR(in.path, "-");
	check_blocks(&in, text, rows);
	CHECK(in.n_blocks == n_blocks && !memcmp(offs, in.block_off, (size_t)(n_blocks + 1) * sizeof *offs));
	csv_input_release(&in);
	/* ... unless something has read into it: then what is left is copied */
	CHECK(lseek(0, 3, SEEK_SET) == 3);
	CHECK(open_input("-", true, 1, 2, dir, &in, &e) == 0);
	CHECK(in.is_copy);
	CHECK(in.size + 3 == strlen(text));
	csv_input_release(&in);
	CHECK(lseek(0, 0, SEEK_SET) == 0);
	/* stdin through a pipe, zstd-compressed, no header */
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		size_t w = 0;
		while (w < z1 + z2) {
			ssize_t k = write(pfd[1], z + w, z1 + z2 - w);
			if (k <= 0)
				_exit(1);
			w += (size_t)k;
		}
		_exit(0);
	}
	close(pfd[1]);
	CHECK(pid > 0);
	dup2(pfd[0], 0);
	close(pfd[0]);
	CHECK(open_input("-", false, 1, 2, dir, &in, &e) == 0);
	CHECK(in.compression == CSV_ZSTD);
	CHECK(in.n_cols == 3 && in.data_start == 0 && !strcmp(in.names[2], "2"));
	CHECK(in.size == n);
	CHECK(in.n_blocks >= 4);
	csv_input_release(&in);
	waitpid(pid, NULL, 0);
	dup2(saved, 0);
	close(saved);

	unlink(path);
	unlink(gz);
	unlink(zs);
	rmdir(dir);
	free(path);
	free(gz);
	free(zs);
	free(z);
	free(offs);
	free(text);
	free(dir);
}

const struct test csv_tests[] = {
	{"csv_count", test_count},
	{"csv_tokenize_rfc4180", test_tokenize_rfc4180},
	{"csv_tokenize_errors", test_tokenize_errors},
	{"csv_tokenize_random", test_tokenize_random},
	{"csv_count_records", test_count_records},
	{"csv_parse_f64", test_parse_f64},
	{"csv_parse_i64", test_parse_i64},
	{"csv_parse_bool_date", test_parse_bool_date},
	{"csv_null", test_null},
	{"csv_infer", test_infer},
	{"csv_column_parse", test_column_parse},
	{"csv_input_small", test_input_small},
	{"csv_input_blocks", test_input_blocks},
	{NULL, NULL},
};
