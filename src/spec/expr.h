/* SPDX-License-Identifier: MIT */
/*
 * expr: the expression language of spec nodes, a subset of Python/numpy
 * expression syntax: `4 * ((xy ** 2).sum(axis=1) < 1).sum() / 200000000`,
 * `x[10:-3:2, ..., None]`, `where(x > 0, x, -x)`, `a @ a.T`. Text (after
 * ${param} substitution) goes in, a located syntax tree comes out; what the
 * names and calls mean is decided by later stages, never here.
 *
 * Grammar, loosest to tightest, as in Python 3:
 *   comparisons  < <= > >= == !=   (non-associative: `a < b < c` is an error)
 *   |   ^   &   + -   * / // % @   unary - + ~   ** (right-assoc; `-x**2` is
 *   -(x**2), `2**-1` is allowed)   primary: atom then any of .name (args) [subs]
 * Atoms: ints (decimal with `_`, 0x 0o 0b), floats, '...'/"..." strings with
 * \n \t \r \\ \' \" \xHH escapes, names, True False None, ..., (parenthesized),
 * tuples (a, b) (a,) (), lists [a, b]. Python's `and`/`or`/`not`, comments,
 * dicts, lambdas and chained comparisons are rejected with a message that
 * says what to write instead. Ints must fit int64 before any sign is applied,
 * so INT64_MIN has no literal (as in C).
 *
 * DESIGN: every node and string lives in the caller's arena; the parser
 * itself keeps no state between calls and frees its scratch space before it
 * returns. No tree is taller than EXPR_MAX_DEPTH nodes and the parser never
 * recurses deeper than that many brackets/unary operators, so later stages
 * may walk a tree recursively without fear for their stack.
 */
#ifndef TESSERA_SPEC_EXPR_H
#define TESSERA_SPEC_EXPR_H

#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting limit: tree height, and brackets/unary operators open at once. */
#define EXPR_MAX_DEPTH 200

enum expr_kind {
	EX_INT, EX_FLOAT, EX_STR, EX_BOOL, EX_NONE, EX_ELLIPSIS, EX_NAME, EX_TUPLE, EX_LIST,
	EX_UNARY, EX_BINARY, EX_CALL, EX_ATTR, EX_INDEX, EX_SLICE
};

/* In the order of numpy's elementwise functions they stand for (array.h's ew_op). */
enum expr_op {
	/* binary */
	OPX_ADD, OPX_SUB, OPX_MUL, OPX_DIV, OPX_FLOORDIV, OPX_MOD, OPX_POW, OPX_MATMUL,
	OPX_LT, OPX_LE, OPX_GT, OPX_GE, OPX_EQ, OPX_NE,
	OPX_AND /* & */, OPX_OR /* | */, OPX_XOR /* ^ */,
	/* unary */
	OPX_NEG, OPX_POS, OPX_INVERT /* ~ */
};

/*
 * One node. @off/@len is the byte span in the source text, parentheses
 * around an operand included in its parent's span but not in its own (as
 * Python's ast): `(a + b).sum()` gives the call the span of the whole text
 * and the `+` node the span of `a + b`. Binary, call, attribute and index
 * nodes start where their left operand / object starts; an EX_ATTR's name is
 * the last strlen(str) bytes of its span.
 */
struct expr {
	enum expr_kind kind;
	uint32_t off, len;      /* bytes into the source text; errors point at off */
	uint32_t height;        /* 1 for a leaf, else 1 + the tallest child; <= EXPR_MAX_DEPTH */
	enum expr_op op;        /* EX_UNARY, EX_BINARY */
	int64_t i;              /* EX_INT */
	double f;               /* EX_FLOAT, and EX_INT converted */
	bool b;                 /* EX_BOOL */
	const char *str;        /* EX_STR (unescaped; no NUL inside), EX_NAME, EX_ATTR (the attribute name) */
	struct expr *a, *b2;    /* EX_UNARY: a; EX_BINARY: a, b2; EX_ATTR/EX_INDEX/EX_CALL: a = the object/callee */
	size_t n;               /* count of @items */
	struct expr **items;    /* EX_TUPLE/EX_LIST items; EX_INDEX subscripts (x[i, j] gives n = 2,
				   x[(i, j)] n = 1 with a tuple); EX_CALL positional args */
	size_t n_kw;            /* EX_CALL keyword args, in the order written, names unique: */
	const char **kw_names;
	struct expr **kw_vals;
	uint32_t *kw_offs;      /* where each name is written */
	struct expr *start, *stop, *step; /* EX_SLICE parts (only ever a subscript), each may be NULL */
};

/*
 * expr_parse() : parses @text (@len bytes, need not be NUL-terminated) into a
 * tree allocated in @arena. On a syntax error, one message located with
 * @where(@where_arg, byte offset) at the offending token (the caller maps
 * offsets into file:line:col; the offset may be @len, the end of the text;
 * @where NULL: line 1, column offset + 1). @where is called only on error.
 * @return the root, or NULL with *e set (ERR_SPEC). Whatever was allocated
 * in @arena before the error stays there until the arena is released.
 */
struct expr *expr_parse(struct arena *arena, const char *text, size_t len,
			struct loc (*where)(void *arg, size_t off), void *where_arg, struct err *e);

/*
 * expr_parse_query() : expr_parse() by the rules of pandas' DataFrame.query():
 * `and`, `or` and `not` mean &, | and ~; & and | bind more loosely than the
 * comparisons (a > 1 & b < 2 is (a > 1) & (b < 2)), and `not` negates a
 * whole comparison; `a name` in backticks is a name of any characters.
 */
struct expr *expr_parse_query(struct arena *arena, const char *text, size_t len,
			      struct loc (*where)(void *arg, size_t off), void *where_arg, struct err *e);
/* expr_shift() : adds @by to every offset in @x's tree (an expression parsed out of a string literal). */
void expr_shift(struct expr *x, uint32_t by);

/*
 * expr_dump() : appends a canonical fully-parenthesized S-expression to @out,
 * for tests and debugging: `(* 4 (call (attr (< a 1) sum)))`. Leaves: ints
 * in decimal, floats in their shortest round-trip form with a `.` or `e`,
 * strings double-quoted with C escapes, True False None ... and names.
 * Nodes: (OP a b), (OP a) for unary, (tuple ...), (list ...),
 * (call f args... (kw name val)...), (attr x name), (index x subs...),
 * (slice start stop step) with `_` for an omitted part.
 */
void expr_dump(const struct expr *x, struct buf *out);

/* expr_op_name() : the operator as written: "+", "**", "@", "~"; "-" for both OPX_SUB and OPX_NEG. */
const char *expr_op_name(enum expr_op op);

#endif
