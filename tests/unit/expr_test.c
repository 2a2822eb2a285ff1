/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for spec/expr: precedence, associativity, every atom and
 * postfix form, node spans, and every syntax error with where it points.
 * Every text is parsed from an exact-size heap copy with no NUL after it,
 * so ASan catches any read past @len.
 */
#include "test.h"
#include "spec/expr.h"

#include <math.h>
#include <stdlib.h>

/* Line 1, column = offset + 1: tests read the offset back from the column. */
static struct loc where_col(void *arg, size_t off)
{
	(*(int *)arg)++;
	return (struct loc){ "expr", 1, (uint32_t)off + 1 };
}

static struct arena arena;
static struct err err;
static char result[8192];

/* Parses @len bytes of @text: the tree (in the static arena, released by
 * the next call; the tree keeps no pointer into the text), or NULL with err set. */
static bool query_mode; /* parse by expr_parse_query() */

static const struct expr *parse_n(const char *text, size_t len)
{
	int calls = 0;
	char *copy = malloc(len ? len : 1);
	memcpy(copy, text, len);
	arena_release(&arena);
	arena_init(&arena);
	err_init(&err);
	const struct expr *x = (query_mode ? expr_parse_query : expr_parse)(&arena, copy, len, where_col, &calls, &err);
	free(copy);
	CHECK((x == NULL) == err_set(&err));
	CHECK(calls == (x ? 0 : 1)); /* where() is asked once, for the error */
	return x;
}

static const struct expr *parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* The dump of @text, or "error OFFSET: message". */
static const char *dump(const char *text)
{
	const struct expr *x = parse(text);
	if (!x) {
		snprintf(result, sizeof result, "error %u: %s", err.loc.col - 1, err.msg);
		return result;
	}
	struct buf b;
	buf_init(&b);
	expr_dump(x, &b);
	snprintf(result, sizeof result, "%s", b.data);
	buf_release(&b);
	return result;
}

#define PARSES(text, want) CHECK_STR(dump(text), want)
#define FAILS(text, off, msg) CHECK_STR(dump(text), "error " #off ": " msg)

static void test_expr_precedence_pairs(void)
{
	/* each pair of adjacent levels, both ways round */
	PARSES("a < b | c", "(< a (| b c))");
	PARSES("a | b < c", "(< (| a b) c)");
	PARSES("a | b ^ c", "(| a (^ b c))");
	PARSES("a ^ b | c", "(| (^ a b) c)");
	PARSES("a ^ b & c", "(^ a (& b c))");
	PARSES("a & b ^ c", "(^ (& a b) c)");
	PARSES("a & b + c", "(& a (+ b c))");
	PARSES("a - b & c", "(& (- a b) c)");
	PARSES("a + b * c", "(+ a (* b c))");
	PARSES("a @ b - c", "(- (@ a b) c)");
	PARSES("a * -b", "(* a (- b))");
	PARSES("-a / b", "(/ (- a) b)");
	PARSES("-a ** b", "(- (** a b))");
	PARSES("a ** -b", "(** a (- b))");
	PARSES("a ** b.c", "(** a (attr b c))");
	PARSES("a.b ** c[0]", "(** (attr a b) (index c 0))");
	PARSES("-a.b(c)", "(- (call (attr a b) c))");
	/* every level against the loosest and the tightest */
	PARSES("a == b ** c", "(== a (** b c))");
	PARSES("a ** b != c", "(!= (** a b) c)");
	PARSES("~a <= b & c % d", "(<= (~ a) (& b (% c d)))");
	PARSES("a >= b", "(>= a b)");
	PARSES("a > b", "(> a b)");
	/* the whole ladder at once */
	PARSES("a < b | c ^ d & e + f * -g ** h",
	       "(< a (| b (^ c (& d (+ e (* f (- (** g h))))))))");
	PARSES("a ** b * c + d & e ^ f | g == h",
	       "(== (| (^ (& (+ (* (** a b) c) d) e) f) g) h)");
}

static void test_expr_associativity(void)
{
	PARSES("a - b - c", "(- (- a b) c)");
	PARSES("a / b / c", "(/ (/ a b) c)");
	PARSES("a // b % c @ d * e", "(* (@ (% (// a b) c) d) e)");
	PARSES("a | b | c", "(| (| a b) c)");
	PARSES("a ** b ** c", "(** a (** b c))");
	PARSES("2 ** 3 ** 2 ** 1", "(** 2 (** 3 (** 2 1)))");
	PARSES("-x ** 2", "(- (** x 2))");
	PARSES("2 ** -1", "(** 2 (- 1))");
	PARSES("2 ** -x ** 2", "(** 2 (- (** x 2)))");
	PARSES("a ** -b * c", "(* (** a (- b)) c)");
	PARSES("(-2) ** 2", "(** (- 2) 2)");
	PARSES("--x", "(- (- x))");
	PARSES("+-~x", "(+ (- (~ x)))");
	PARSES("a - -b", "(- a (- b))");
	PARSES("(a < b) < c", "(< (< a b) c)");
	PARSES("a < (b < c)", "(< a (< b c))");
	PARSES("(a < b) & (b < c)", "(& (< a b) (< b c))");
}

static void test_expr_examples(void)
{
	PARSES("4 * ((xy ** 2).sum(axis=1) < 1).sum() / 200000000",
	       "(/ (* 4 (call (attr (< (call (attr (** xy 2) sum) (kw axis 1)) 1) sum))) 200000000)");
	PARSES("random.uniform(0, 1, size=(200000000, 2), chunks=(2500000, 2), seed=42)",
	       "(call (attr random uniform) 0 1 (kw size (tuple 200000000 2)) "
	       "(kw chunks (tuple 2500000 2)) (kw seed 42))");
	PARSES("(big * big[::-1, ::-1]).mean()",
	       "(call (attr (* big (index big (slice _ _ (- 1)) (slice _ _ (- 1)))) mean))");
	PARSES("x.astype(\"float32\")", "(call (attr x astype) \"float32\")");
	PARSES("where(x > 0, x, -x)", "(call where (> x 0) x (- x))");
	PARSES("x[10:-3:2, ..., None]", "(index x (slice 10 (- 3) 2) ... None)");
	PARSES("x[[1, 5, 7]]", "(index x (list 1 5 7))");
	PARSES("a @ a.T", "(@ a (attr a T))");
	/* YAML block scalars bring newlines and tabs */
	PARSES("a +\n\tb *\r\n  c\n", "(+ a (* b c))");
	PARSES("f(x)(y)[0].z", "(attr (index (call (call f x) y) 0) z)");
	PARSES("(f)(x)", "(call f x)");
}

static void test_expr_slices(void)
{
	PARSES("x[:]", "(index x (slice _ _ _))");
	PARSES("x[::]", "(index x (slice _ _ _))");
	PARSES("x[1:]", "(index x (slice 1 _ _))");
	PARSES("x[:5]", "(index x (slice _ 5 _))");
	PARSES("x[::-1]", "(index x (slice _ _ (- 1)))");
	PARSES("x[1:2]", "(index x (slice 1 2 _))");
	PARSES("x[1:2:3]", "(index x (slice 1 2 3))");
	PARSES("x[:2:3]", "(index x (slice _ 2 3))");
	PARSES("x[1::3]", "(index x (slice 1 _ 3))");
	PARSES("x[1:2:]", "(index x (slice 1 2 _))");
	PARSES("x[1:]", "(index x (slice 1 _ _))");
	PARSES("x[a+1 : b*2 : -c]", "(index x (slice (+ a 1) (* b 2) (- c)))");
	PARSES("x[:, 0]", "(index x (slice _ _ _) 0)");
	PARSES("x[0, :, ::2,]", "(index x 0 (slice _ _ _) (slice _ _ 2))");
	PARSES("x[i, j]", "(index x i j)");
	PARSES("x[(i, j)]", "(index x (tuple i j))");
	PARSES("x[i,]", "(index x i)");
	PARSES("x[..., None]", "(index x ... None)");
	PARSES("x[[1, 5, 7], :]", "(index x (list 1 5 7) (slice _ _ _))");
	PARSES("x[y[0]:y[1]]", "(index x (slice (index y 0) (index y 1) _))");

	const struct expr *x = parse("x[10:-3:2, ...]");
	CHECK(x && x->kind == EX_INDEX && x->n == 2);
	if (x && x->n == 2) {
		const struct expr *s = x->items[0];
		CHECK(s->kind == EX_SLICE && s->off == 2 && s->len == 7);
		CHECK(s->start->kind == EX_INT && s->start->i == 10);
		CHECK(s->stop->kind == EX_UNARY && s->stop->op == OPX_NEG);
		CHECK(s->step->i == 2);
		CHECK(x->items[1]->kind == EX_ELLIPSIS && x->items[1]->off == 11);
	}
	x = parse("x[::-1]");
	CHECK(x && x->items[0]->off == 2 && x->items[0]->len == 4 && !x->items[0]->start &&
	      !x->items[0]->stop);
}

static void test_expr_tuples_lists(void)
{
	PARSES("(a)", "a");
	PARSES("((a))", "a");
	PARSES("(a,)", "(tuple a)");
	PARSES("()", "(tuple)");
	PARSES("(a, b)", "(tuple a b)");
	PARSES("(a, b,)", "(tuple a b)");
	PARSES("((a, b), (c,), ())", "(tuple (tuple a b) (tuple c) (tuple))");
	PARSES("[]", "(list)");
	/* a mapping is a list of (key, value) tuples, as a YAML mapping arrives */
	PARSES("{}", "(list)");
	PARSES("{\"a\": \"sum\", \"b\": [1, 2],}", "(list (tuple \"a\" \"sum\") (tuple \"b\" (list 1 2)))");
	PARSES("f({1: x + 1})", "(call f (list (tuple 1 (+ x 1))))");
	PARSES("[a]", "(list a)");
	PARSES("[a,]", "(list a)");
	PARSES("[(a), (a,), [a]]", "(list a (tuple a) (list a))");
	PARSES("f((a, b))", "(call f (tuple a b))");
	PARSES("f(a, b)", "(call f a b)");
	PARSES("(a + b) * c", "(* (+ a b) c)");

	const struct expr *x = parse("(a)");
	CHECK(x && x->kind == EX_NAME && x->off == 1 && x->len == 1);
	x = parse("(1, 2)");
	CHECK(x && x->kind == EX_TUPLE && x->n == 2 && x->off == 0 && x->len == 6);
	x = parse("()");
	CHECK(x && x->kind == EX_TUPLE && x->n == 0 && x->len == 2);
}

static void test_expr_calls(void)
{
	PARSES("f()", "(call f)");
	PARSES("f(a,)", "(call f a)");
	PARSES("f(a, b=1,)", "(call f a (kw b 1))");
	PARSES("f(b=1, c=x == y)", "(call f (kw b 1) (kw c (== x y)))");
	PARSES("f(a == 1)", "(call f (== a 1))");
	PARSES("f(a\n  = 1)", "(call f (kw a 1))");
	PARSES("x.sum(axis=(0, 1), keepdims=True)",
	       "(call (attr x sum) (kw axis (tuple 0 1)) (kw keepdims True))");

	const struct expr *x = parse("f(1, 2, a=3, b=4)");
	CHECK(x && x->kind == EX_CALL && x->n == 2 && x->n_kw == 2);
	if (x && x->n_kw == 2) {
		CHECK_STR(x->a->str, "f");
		CHECK_STR(x->kw_names[0], "a");
		CHECK_STR(x->kw_names[1], "b");
		CHECK(x->kw_vals[1]->i == 4 && x->kw_offs[0] == 8 && x->kw_offs[1] == 13);
	}
}

static void test_expr_ints(void)
{
	static const struct {
		const char *text;
		int64_t v;
	} cases[] = {
		{ "0", 0 }, { "00", 0 }, { "0_0", 0 }, { "42", 42 }, { "1_000_000", 1000000 },
		{ "0xff", 255 }, { "0XFF", 255 }, { "0x_f_f", 255 }, { "0o17", 15 }, { "0O17", 15 },
		{ "0b1010", 10 }, { "0B1_0", 2 }, { "9223372036854775807", INT64_MAX },
		{ "0x7fffffffffffffff", INT64_MAX },
		{ "0b111111111111111111111111111111111111111111111111111111111111111", INT64_MAX },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct expr *x = parse(cases[k].text);
		CHECK(x && x->kind == EX_INT && x->i == cases[k].v && x->f == (double)cases[k].v);
		CHECK(x && x->off == 0 && x->len == strlen(cases[k].text));
	}
	PARSES("-9223372036854775807", "(- 9223372036854775807)");
	PARSES("0xff + 0o7", "(+ 255 7)");
}

static void test_expr_floats(void)
{
	static const struct {
		const char *text;
		double v;
		const char *dump;
	} cases[] = {
		{ "1.5", 1.5, "1.5" }, { ".5", 0.5, "0.5" }, { "1e-3", 1e-3, "0.001" },
		{ "2.", 2.0, "2.0" }, { "1_000.5", 1000.5, "1000.5" }, { "1E3", 1000.0, "1000.0" },
		{ "1.e5", 1e5, "100000.0" }, { "2.5e+2", 250.0, "250.0" }, { "1e1_0", 1e10, "10000000000.0" },
		{ "0.1", 0.1, "0.1" }, { "1e20", 1e20, "1e+20" }, { "00.5", 0.5, "0.5" },
		{ "0e0", 0.0, "0.0" }, { "3.141592653589793", 3.141592653589793, "3.141592653589793" },
		{ "1e16", 1e16, "1e+16" }, { "1.5e-5", 1.5e-5, "1.5e-05" }, { "0.0001", 1e-4, "0.0001" },
		{ "123456789012345.6", 123456789012345.6, "123456789012345.6" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct expr *x = parse(cases[k].text);
		CHECK(x && x->kind == EX_FLOAT && x->f == cases[k].v);
		CHECK(x && x->len == strlen(cases[k].text));
		CHECK_STR(dump(cases[k].text), cases[k].dump);
	}
	const struct expr *x = parse("1e999"); /* as Python: inf */
	CHECK(x && x->kind == EX_FLOAT && isinf(x->f));
	PARSES("1e999", "inf");
	PARSES("x[1.5:]", "(index x (slice 1.5 _ _))");
	PARSES("inf + nan", "(+ inf nan)"); /* just names */
}

static void test_expr_strings_and_words(void)
{
	const struct expr *x = parse("'a\\nb\\t\\\\\\'\\\"\\x41\\r'");
	CHECK(x && x->kind == EX_STR);
	CHECK_STR(x ? x->str : NULL, "a\nb\t\\'\"A\r");
	x = parse("\"it's\"");
	CHECK_STR(x ? x->str : NULL, "it's");
	x = parse("'say \"hi\"'");
	CHECK_STR(x ? x->str : NULL, "say \"hi\"");
	x = parse("''");
	CHECK(x && x->kind == EX_STR && x->str && !x->str[0] && x->len == 2);
	x = parse("'\xc3\xa9\\xe9'"); /* bytes pass through; \xHH is one byte */
	CHECK_STR(x ? x->str : NULL, "\xc3\xa9\xe9");
	PARSES("'a\\nb\"'", "\"a\\nb\\\"\"");
	PARSES("'\\x01'", "\"\\x01\"");

	x = parse("True");
	CHECK(x && x->kind == EX_BOOL && x->b);
	x = parse("False");
	CHECK(x && x->kind == EX_BOOL && !x->b);
	x = parse("None");
	CHECK(x && x->kind == EX_NONE);
	x = parse("...");
	CHECK(x && x->kind == EX_ELLIPSIS && x->len == 3);
	x = parse("_x1");
	CHECK(x && x->kind == EX_NAME && x->str && strcmp(x->str, "_x1") == 0);
	PARSES("[True, False, None, Truex, ...]", "(list True False None Truex ...)");
	PARSES("android | order | nothing", "(| (| android order) nothing)");
}

static void test_expr_offsets(void)
{
	const struct expr *x = parse("a + foo(1, bar=2)");
	CHECK(x && x->kind == EX_BINARY && x->op == OPX_ADD && x->off == 0 && x->len == 17);
	if (x && x->kind == EX_BINARY) {
		const struct expr *c = x->b2;
		CHECK(c->kind == EX_CALL && c->off == 4 && c->len == 13);
		CHECK(c->a->kind == EX_NAME && c->a->off == 4 && c->a->len == 3);
		CHECK(c->n == 1 && c->items[0]->off == 8 && c->items[0]->len == 1);
		CHECK(c->n_kw == 1 && c->kw_offs[0] == 11 && c->kw_vals[0]->off == 15);
		CHECK(x->height == 3 && c->height == 2 && x->a->height == 1);
	}

	/* parentheses belong to the parent's span, not the child's */
	x = parse("(a + b).sum()");
	CHECK(x && x->kind == EX_CALL && x->off == 0 && x->len == 13);
	if (x && x->kind == EX_CALL) {
		const struct expr *at = x->a;
		CHECK(at->kind == EX_ATTR && at->off == 0 && at->len == 11);
		CHECK(at->off + at->len - strlen(at->str) == 8); /* where the name is */
		CHECK(at->a->kind == EX_BINARY && at->a->off == 1 && at->a->len == 5);
	}
	x = parse("  (a) * -b  ");
	CHECK(x && x->off == 2 && x->len == 8 && x->b2->off == 8 && x->b2->len == 2);
	x = parse("x[1][2]");
	CHECK(x && x->kind == EX_INDEX && x->off == 0 && x->len == 7 && x->a->len == 4);
	x = parse("'a\\n' + \"b\"");
	CHECK(x && x->a->len == 5 && x->b2->off == 8 && x->b2->len == 3);
	x = parse("1.5e3+.5");
	CHECK(x && x->a->len == 5 && x->b2->off == 6 && x->b2->len == 2);
	x = parse("a +\n  b");
	CHECK(x && x->b2->off == 6);
	/* the span ends at @len, whatever follows in memory */
	x = parse_n("1+2junk", 3);
	CHECK(x && x->kind == EX_BINARY && x->len == 3);
}

static void test_expr_errors(void)
{
	FAILS("a + )", 4, "unexpected ')'");
	FAILS("a)", 1, "unexpected ')'");
	FAILS("x[1]]", 4, "unexpected ']'");
	FAILS("(a + b", 6, "unexpected end of expression (missing ')'?)");
	FAILS("f(a, g(b)", 9, "unexpected end of expression (missing ')'?)");
	FAILS("[1, 2", 5, "unexpected end of expression (missing ']'?)");
	FAILS("x[1:", 4, "unexpected end of expression (missing ']'?)");
	FAILS("1 +", 3, "unexpected end of expression");
	FAILS("1 + \n", 5, "unexpected end of expression");
	FAILS("(1]", 2, "unexpected ']' (missing ')'?)");
	FAILS("[f(1]", 4, "unexpected ']' (missing ')'?)");
	FAILS("f(x y)", 4, "unexpected 'y' (missing ','?)");
	FAILS("a b", 2, "unexpected 'b'");
	FAILS("a, b", 1, "unexpected ','");
	FAILS("a = 1", 2, "unexpected '=' (did you mean '=='?)");
	FAILS("f(True=1)", 6, "unexpected '=' (did you mean '=='?)");
	FAILS("* 2", 0, "expected an expression, found '*'");
	FAILS("1 + * 2", 4, "expected an expression, found '*'");
	FAILS("f(*x)", 2, "expected an expression, found '*'");
	FAILS("f(,)", 2, "expected an expression, found ','");
	FAILS("f(a=)", 4, "unexpected ')'");
	FAILS("x[]", 2, "unexpected ']'");
	FAILS("x[1:2:3:4]", 7, "unexpected ':'");
	FAILS("f(1:2)", 3, "unexpected ':'");
	FAILS("x.(1)", 2, "expected a name after '.', found '('");
	FAILS("x.", 2, "unexpected end of expression");
	FAILS("", 0, "empty expression");
	FAILS(" \n\t", 0, "empty expression");

	FAILS("'abc", 0, "unterminated string");
	FAILS("x + \"ab\ncd\"", 4, "unterminated string");
	FAILS("'ab\\", 0, "unterminated string");
	FAILS("'a\\qb'", 2, "invalid escape '\\q' (use '\\\\' for a backslash)");
	FAILS("'\\x4'", 1, "invalid escape '\\x' (expected two hex digits)");
	FAILS("'\\x4", 1, "invalid escape '\\x' (expected two hex digits)");
	FAILS("'\\x00'", 1, "invalid escape '\\x00' (strings cannot contain NUL)");

	FAILS("1e", 0, "invalid number '1e'");
	FAILS("x * 1e+", 4, "invalid number '1e+'");
	FAILS("0x", 0, "invalid number '0x'");
	FAILS("0b12", 0, "invalid number '0b12'");
	FAILS("12abc", 0, "invalid number '12abc'");
	FAILS("1__0", 0, "invalid number '1__0'");
	FAILS("1_", 0, "invalid number '1_'");
	FAILS("1._5", 0, "invalid number '1._5'");
	FAILS("1.sum()", 0, "invalid number '1.sum'");
	FAILS("007", 0, "invalid number '007' (leading zeros are not allowed)");
	FAILS("99999999999999999999", 0, "integer '99999999999999999999' is too large");
	FAILS("-9223372036854775808", 1, "integer '9223372036854775808' is too large");
	FAILS("0x8000000000000000", 0, "integer '0x8000000000000000' is too large");
	FAILS("1111111111111111111111111111111111111111111111111111", 0,
	      "integer '1111111111111111111111111111111111111111...' is too large");

	FAILS("a $ b", 2, "unknown character '$'");
	FAILS("a # note", 2, "unknown character '#' (comments are not allowed in expressions)");
	FAILS("!a", 0, "unknown character '!' (did you mean '~' or '!='?)");
	FAILS("a;", 1, "unknown character ';'");
	FAILS("{1 2}", 3, "expected ':' after a key of '{...}'");
	FAILS("{1: 2", 5, "unexpected end of expression (missing '}'?)");
	FAILS("{1: 2]", 5, "unexpected ']' (missing '}'?)");
	FAILS("{1: 2 3: 4}", 6, "unexpected '3' (missing ','?)");
	FAILS("x \xc3\xa9", 2, "unknown character '\xc3\xa9'");
	FAILS("x \xff", 2, "unknown character '\\xff'");
	FAILS("x\x01", 1, "unknown character '\\x01'");
	FAILS("a << 2", 2, "'<<' is not supported");
	FAILS("a >> 2", 2, "'>>' is not supported");

	FAILS("a and b", 2, "'and' is not supported: use '&' (with parentheses: (a > 0) & (b > 0))");
	FAILS("a or b", 2, "'or' is not supported: use '|' (with parentheses: (a > 0) | (b > 0))");
	FAILS("not a", 0, "'not' is not supported: use '~' (with parentheses: ~(a > 0))");
	FAILS("x if c else y", 2, "'if' is not supported: use where(condition, a, b)");

	FAILS("f(a=1, 2)", 7, "positional argument after a keyword argument");
	FAILS("f(a=1, (b))", 7, "positional argument after a keyword argument");
	FAILS("f(a=1, b=2, a=3)", 12, "keyword argument 'a' repeated");

	FAILS("a < b < c", 6, "chained comparisons are not supported; use (a < b) & (b < c)");
	FAILS("a == b != c", 7, "chained comparisons are not supported; use (a < b) & (b < c)");
	FAILS("a < b | c < d", 10, "chained comparisons are not supported; use (a < b) & (b < c)");

	/* the first error in the text wins, also when a later one is a lexer's */
	FAILS("(a + ) $", 5, "unexpected ')'");
	FAILS("f(a=1, 2, $)", 7, "positional argument after a keyword argument");
	FAILS("f(x, 1e)", 5, "invalid number '1e'");
	/* long tokens are cut short in messages */
	FAILS("a 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'", 2,
	      "unexpected ''aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
}

/* Line and column from an offset, as the spec layer maps a multi-line scalar. */
static struct loc where_lines(void *arg, size_t off)
{
	const char *text = arg;
	struct loc l = { "g.yaml", 10, 1 };
	for (size_t k = 0; k < off; k++) {
		if (text[k] == '\n')
			l.line++, l.col = 1;
		else
			l.col++;
	}
	return l;
}

static void test_expr_error_location(void)
{
	const char *text = "a +\n  b *\n  (c $ d)";
	struct arena a;
	struct err e;
	arena_init(&a);
	err_init(&e);
	CHECK(expr_parse(&a, text, strlen(text), where_lines, (void *)text, &e) == NULL);
	CHECK(e.code == ERR_SPEC && e.loc.line == 12 && e.loc.col == 6);
	CHECK_STR(e.file, "g.yaml");
	CHECK_STR(e.msg, "unknown character '$'");

	/* no where(): line 1, column offset + 1; the first error already set wins */
	err_init(&e);
	CHECK(expr_parse(&a, "1 +", 3, NULL, NULL, &e) == NULL);
	CHECK(e.loc.line == 1 && e.loc.col == 4);
	CHECK(expr_parse(&a, ")", 1, NULL, NULL, &e) == NULL);
	CHECK_STR(e.msg, "unexpected end of expression");
	arena_release(&a);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *q = s;
	memcpy(q, head, hl), q += hl;
	for (size_t k = 0; k < n; k++)
		memcpy(q, unit, ul), q += ul;
	memcpy(q, tail, tl + 1);
	return s;
}

/* Parses head + unit * n + mid + tail * n; returns the error offset or -1. */
static long nest(const char *head, const char *unit, size_t n, const char *mid, const char *tail)
{
	char *open = repeat(head, unit, n, mid), *close = repeat("", tail, n, "");
	char *text = repeat(open, close, 1, "");
	const struct expr *x = parse(text);
	long off = x ? -1 : (long)err.loc.col - 1;
	if (x)
		CHECK(x->height <= EXPR_MAX_DEPTH);
	else
		CHECK_STR(err.msg, "expression nested too deeply");
	free(open), free(close), free(text);
	return off;
}

static void test_expr_depth(void)
{
	/* brackets: 200 open at once are fine, the 201st is not */
	CHECK(nest("", "(", 200, "1", ")") == -1);
	CHECK(nest("", "(", 201, "1", ")") == 200);
	CHECK(nest("", "[", 199, "1", "]") == -1);
	CHECK(nest("", "[", 201, "1", "]") == 200);
	CHECK(nest("", "f(", 199, "1", ")") == -1);
	CHECK(nest("", "x[", 210, "1", "]") == 401);
	/* tree height: 199 operators above a leaf */
	CHECK(nest("", "-", 199, "1", "") == -1);
	CHECK(nest("", "-", 200, "1", "") == 0);
	CHECK(nest("", "-", 100000, "1", "") == 200);
	CHECK(nest("1", "+1", 199, "", "") == -1);
	CHECK(nest("1", "+1", 200, "", "") == 399);
	CHECK(nest("1", "+1", 100000, "", "") == 399);
	CHECK(nest("x", ".a", 199, "", "") == -1);
	CHECK(nest("x", ".a", 200, "", "") == 400);
	CHECK(nest("x", "()", 100000, "", "") == 399);
	CHECK(nest("2", "**2", 150, "", "") == -1);
	CHECK(nest("2", "**2", 100000, "", "") >= 0);
	CHECK(nest("", "(-", 100000, "1", ")") >= 0);
	/* wide is not deep */
	char *wide = repeat("f(", "1,", 100000, "x)");
	const struct expr *x = parse(wide);
	CHECK(x && x->kind == EX_CALL && x->n == 100001 && x->height == 2);
	free(wide);
	wide = repeat("[", "(1, 2), ", 20000, "]");
	x = parse(wide);
	CHECK(x && x->n == 20000 && x->height == 3);
	free(wide);
}

static void test_expr_op_names(void)
{
	static const char *const want[] = { "+", "-", "*", "/", "//", "%", "**", "@", "<", "<=",
					    ">", ">=", "==", "!=", "&", "|", "^", "-", "+", "~" };
	for (int op = OPX_ADD; op <= OPX_INVERT; op++)
		CHECK_STR(expr_op_name((enum expr_op)op), want[op]);
	CHECK_STR(expr_op_name((enum expr_op)99), "?");
}

static void test_expr_query(void)
{
	query_mode = true;
	/* & and | (and, or) below the comparisons, or loosest, not over a whole comparison */
	PARSES("a > 1 & b < 2", "(& (> a 1) (< b 2))");
	PARSES("a > 1 | b < 2 & c == 3", "(| (> a 1) (& (< b 2) (== c 3)))");
	PARSES("a > 1 and b < 2 or c", "(| (& (> a 1) (< b 2)) c)");
	PARSES("not a > 1 and b", "(& (~ (> a 1)) b)");
	PARSES("~a > 1", "(> (~ a) 1)");
	PARSES("a + b * 2 >= c - 1", "(>= (+ a (* b 2)) (- c 1))");
	PARSES("`temp max` > 3 and `a$b`.str.len() == 2",
	       "(& (> temp max 3) (== (call (attr (attr a$b str) len)) 2))");
	FAILS("`a > 1", 0, "unterminated `name`");
	FAILS("a > `` ", 4, "empty `name`");
	FAILS("1 < a < 2", 6, "chained comparisons are not supported; use (a < b) & (b < c)");
	query_mode = false;
	/* outside query() the words stay errors and & binds tighter than comparisons */
	FAILS("a and b", 2, "'and' is not supported: use '&' (with parentheses: (a > 0) & (b > 0))");
	PARSES("a > 1 & b", "(> a (& 1 b))");
}

const struct test expr_tests[] = {
	{ "expr_query", test_expr_query },
	{ "expr_precedence_pairs", test_expr_precedence_pairs },
	{ "expr_associativity", test_expr_associativity },
	{ "expr_examples", test_expr_examples },
	{ "expr_slices", test_expr_slices },
	{ "expr_tuples_lists", test_expr_tuples_lists },
	{ "expr_calls", test_expr_calls },
	{ "expr_ints", test_expr_ints },
	{ "expr_floats", test_expr_floats },
	{ "expr_strings_and_words", test_expr_strings_and_words },
	{ "expr_offsets", test_expr_offsets },
	{ "expr_errors", test_expr_errors },
	{ "expr_error_location", test_expr_error_location },
	{ "expr_depth", test_expr_depth },
	{ "expr_op_names", test_expr_op_names },
	{ NULL, NULL },
};
