/* SPDX-License-Identifier: MIT */
/*
 * expr: the lexer and Pratt parser of spec expressions (grammar in expr.h).
 *
 * DESIGN: the lexer runs one token ahead of the parser and only on demand,
 * so errors come out in source order: a bad token is reported only once
 * everything before it has been accepted. Binary operators are parsed by
 * precedence climbing: a loop takes a chain of equally tight operators, and
 * recursion is needed only for a tighter right operand (bounded by the eight
 * levels), for brackets, for unary operators and for the right operand of
 * `**` -- the last three are counted against EXPR_MAX_DEPTH, and every node
 * checks its height against it too, so no input can exhaust the stack here
 * or in a later stage's recursive walk. Items of brackets (arguments, tuple
 * and list items, subscripts) wait on one scratch stack in the parser and
 * are copied into the arena when their closing bracket arrives, so after an
 * error there is nothing to free but the parser's own scratch space.
 */
#include "spec/expr.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok_kind {
	TK_END, TK_INT, TK_FLOAT, TK_STR, TK_NAME, TK_OP,
	TK_LPAREN, TK_RPAREN, TK_LBRACK, TK_RBRACK, TK_LBRACE, TK_RBRACE,
	TK_COMMA, TK_COLON, TK_DOT, TK_ELLIPSIS, TK_ASSIGN
};

struct tok {
	enum tok_kind kind;
	uint32_t off, len;  /* bytes of source text; TK_END: len 0 at the end */
	enum expr_op op;    /* TK_OP: the binary reading of '-' and '+' */
	int64_t i;          /* TK_INT */
	double f;           /* TK_FLOAT */
	const char *str;    /* TK_STR: unescaped, in the arena */
	bool word;          /* query mode: the operator was written and/or/not */
};

/* A waiting item of a bracket: an argument, a tuple/list item, a subscript. */
struct item {
	const char *name;   /* a keyword argument's name; NULL: positional */
	uint32_t name_off;
	struct expr *x;
};

struct parser {
	struct arena *arena;
	const char *src;
	size_t len;
	size_t pos;             /* where the lexer goes on: just after cur */
	struct tok cur;         /* the next token to accept */
	uint32_t prev_end;      /* end of the last accepted token: where a node ends */
	int depth;              /* brackets, unary operators and ** operands open now */
	char closers[EXPR_MAX_DEPTH]; /* of the brackets open now, innermost last */
	size_t n_open;
	struct item *stack;     /* items of the brackets open now, outermost first */
	size_t n_stack, cap_stack;
	struct buf scratch;     /* a number without '_' for strtod; a string being unescaped */
	struct loc (*where)(void *arg, size_t off);
	void *where_arg;
	struct err *e;
	bool query;             /* pandas' query() rules: see expr_parse_query() */
};

/* Binding powers, loosest first; 0: not a binary operator. */
enum { BP_CMP = 1, BP_OR, BP_XOR, BP_AND, BP_ADD, BP_MUL, BP_UNARY, BP_POW };

/* Longest first, so "**" wins over "*" and "..." over ".". */
static const struct punct {
	const char *text;
	enum tok_kind kind;
	enum expr_op op;
} puncts[] = {
	{ "...", TK_ELLIPSIS, 0 }, { "**", TK_OP, OPX_POW }, { "//", TK_OP, OPX_FLOORDIV },
	{ "<=", TK_OP, OPX_LE }, { ">=", TK_OP, OPX_GE }, { "==", TK_OP, OPX_EQ },
	{ "!=", TK_OP, OPX_NE }, { "+", TK_OP, OPX_ADD }, { "-", TK_OP, OPX_SUB },
	{ "*", TK_OP, OPX_MUL }, { "/", TK_OP, OPX_DIV }, { "%", TK_OP, OPX_MOD },
	{ "@", TK_OP, OPX_MATMUL }, { "<", TK_OP, OPX_LT }, { ">", TK_OP, OPX_GT },
	{ "&", TK_OP, OPX_AND }, { "|", TK_OP, OPX_OR }, { "^", TK_OP, OPX_XOR },
	{ "~", TK_OP, OPX_INVERT }, { "(", TK_LPAREN, 0 }, { ")", TK_RPAREN, 0 },
	{ "[", TK_LBRACK, 0 }, { "]", TK_RBRACK, 0 }, { "{", TK_LBRACE, 0 }, { "}", TK_RBRACE, 0 },
	{ ",", TK_COMMA, 0 },
	{ ":", TK_COLON, 0 }, { ".", TK_DOT, 0 }, { "=", TK_ASSIGN, 0 },
};

/* Python words a user may reach for, each with what to write instead. */
static const struct {
	const char *word;
	const char *msg;
} unsupported_words[] = {
	{ "and", "'and' is not supported: use '&' (with parentheses: (a > 0) & (b > 0))" },
	{ "or", "'or' is not supported: use '|' (with parentheses: (a > 0) | (b > 0))" },
	{ "not", "'not' is not supported: use '~' (with parentheses: ~(a > 0))" },
	{ "if", "'if' is not supported: use where(condition, a, b)" },
};

static const char *const op_names[] = {
	[OPX_ADD] = "+", [OPX_SUB] = "-", [OPX_MUL] = "*", [OPX_DIV] = "/",
	[OPX_FLOORDIV] = "//", [OPX_MOD] = "%", [OPX_POW] = "**", [OPX_MATMUL] = "@",
	[OPX_LT] = "<", [OPX_LE] = "<=", [OPX_GT] = ">", [OPX_GE] = ">=",
	[OPX_EQ] = "==", [OPX_NE] = "!=", [OPX_AND] = "&", [OPX_OR] = "|", [OPX_XOR] = "^",
	[OPX_NEG] = "-", [OPX_POS] = "+", [OPX_INVERT] = "~",
};

const char *expr_op_name(enum expr_op op)
{
	if ((size_t)op >= sizeof op_names / sizeof op_names[0])
		return "?";
	return op_names[op];
}

/* ---- errors ---- */

static int syntax_error(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int syntax_error(struct parser *p, size_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct loc loc = { NULL, 1, (uint32_t)off + 1 };
	if (p->where)
		loc = p->where(p->where_arg, off);
	return err_at(p->e, loc, "%s", msg);
}

/* Source text for a message, cut short so one long token cannot swamp it. */
static const char *shown(const struct parser *p, size_t off, size_t len, char out[64])
{
	const size_t max = 40;
	if (len > max)
		snprintf(out, 64, "%.*s...", (int)max, p->src + off);
	else
		snprintf(out, 64, "%.*s", (int)len, p->src + off);
	return out;
}

/* One character for a message: itself, a whole UTF-8 sequence, or \xHH. */
static const char *char_shown(const struct parser *p, size_t off, char out[16])
{
	unsigned char c = (unsigned char)p->src[off];
	if (c > 0x20 && c < 0x7f) {
		out[0] = (char)c;
		out[1] = '\0';
		return out;
	}
	if (c >= 0xc2 && c <= 0xf4) {
		size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2, j;
		for (j = 1; j < k && off + j < p->len; j++)
			if (((unsigned char)p->src[off + j] & 0xc0) != 0x80)
				break;
		if (j == k) {
			memcpy(out, p->src + off, k);
			out[k] = '\0';
			return out;
		}
	}
	snprintf(out, 16, "\\x%02x", c);
	return out;
}

/* ---- lexer ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Not <ctype.h>: its answers depend on the locale and on char's signedness. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident(char c)
{
	return is_ident_start(c) || is_digit(c);
}

/* The value of digit @c in any base up to 16; 99 when it is no digit. */
static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/*
 * Skips digits of @base from *i, each but the first optionally after one
 * '_' (Python's rule; @lead_us allows a '_' before the first too, as right
 * after 0x). A '_' not followed by a digit is left for the caller to reject.
 * @return the number of digits.
 */
static size_t scan_digits(const char *s, size_t n, size_t *i, int base, bool lead_us)
{
	size_t count = 0, j = *i;
	for (;;) {
		size_t k = j;
		if (k < n && s[k] == '_' && (count > 0 || lead_us))
			k++;
		if (k >= n || digit_value(s[k]) >= base)
			break;
		j = k + 1;
		count++;
	}
	*i = j;
	return count;
}

static int lex_number(struct parser *p, size_t start)
{
	const char *s = p->src;
	size_t n = p->len, i = start;
	struct tok *t = &p->cur;
	int base = 10;
	bool is_float = false, bad = false;
	char shown_buf[64];

	char x = i + 1 < n && s[i] == '0' ? s[i + 1] : '\0';
	if (x == 'x' || x == 'X' || x == 'o' || x == 'O' || x == 'b' || x == 'B') {
		base = x == 'x' || x == 'X' ? 16 : x == 'o' || x == 'O' ? 8 : 2;
		i += 2;
		if (scan_digits(s, n, &i, base, true) == 0)
			bad = true;
	} else {
		scan_digits(s, n, &i, 10, false); /* none when it starts with '.' */
		if (i < n && s[i] == '.') {
			is_float = true;
			i++;
			scan_digits(s, n, &i, 10, false);
		}
		if (i < n && (s[i] == 'e' || s[i] == 'E')) {
			is_float = true;
			i++;
			if (i < n && (s[i] == '+' || s[i] == '-'))
				i++;
			if (scan_digits(s, n, &i, 10, false) == 0)
				bad = true;
		}
	}
	/* "12abc", "1_", "0x", "1e5x": the whole run is one bad number, not a number and a name. */
	while (i < n && is_ident(s[i])) {
		i++;
		bad = true;
	}
	t->len = (uint32_t)(i - start);
	p->pos = i;
	if (bad)
		return syntax_error(p, start, "invalid number '%s'",
				    shown(p, start, t->len, shown_buf));

	if (is_float) {
		/* strtod reads '.' as the decimal point: tessera never calls setlocale(). */
		buf_reset(&p->scratch);
		for (size_t k = start; k < i; k++)
			if (s[k] != '_')
				buf_putc(&p->scratch, s[k]);
		t->kind = TK_FLOAT;
		t->f = strtod(p->scratch.data, NULL); /* 1e999 is inf, as in Python */
		return 0;
	}
	if (base == 10 && s[start] == '0') {
		for (size_t k = start; k < i; k++)
			if (s[k] != '0' && s[k] != '_')
				return syntax_error(p, start,
						    "invalid number '%s' (leading zeros are not allowed)",
						    shown(p, start, t->len, shown_buf));
	}
	uint64_t v = 0;
	for (size_t k = start + (base == 10 ? 0 : 2); k < i; k++) {
		if (s[k] == '_')
			continue;
		unsigned d = (unsigned)digit_value(s[k]);
		if (v > ((uint64_t)INT64_MAX - d) / (unsigned)base)
			return syntax_error(p, start, "integer '%s' is too large",
					    shown(p, start, t->len, shown_buf));
		v = v * (unsigned)base + d;
	}
	t->kind = TK_INT;
	t->i = (int64_t)v;
	return 0;
}

static int lex_string(struct parser *p, size_t start)
{
	const char *s = p->src;
	size_t n = p->len, i = start + 1;
	char q = s[start], cs[16];

	buf_reset(&p->scratch);
	for (;;) {
		/* A raw line break ends a one-line string in Python too. */
		if (i >= n || s[i] == '\n' || s[i] == '\r')
			return syntax_error(p, start, "unterminated string");
		char c = s[i];
		if (c == q) {
			i++;
			break;
		}
		if (c == '\0') /* the tree keeps C strings */
			return syntax_error(p, i, "unknown character '\\x00'");
		if (c != '\\') {
			buf_putc(&p->scratch, c);
			i++;
			continue;
		}
		if (i + 1 >= n || s[i + 1] == '\n' || s[i + 1] == '\r')
			return syntax_error(p, start, "unterminated string");
		switch (s[i + 1]) {
		case 'n': buf_putc(&p->scratch, '\n'); break;
		case 't': buf_putc(&p->scratch, '\t'); break;
		case 'r': buf_putc(&p->scratch, '\r'); break;
		case '\\': buf_putc(&p->scratch, '\\'); break;
		case '\'': buf_putc(&p->scratch, '\''); break;
		case '"': buf_putc(&p->scratch, '"'); break;
		case 'x': {
			int hi = i + 2 < n ? digit_value(s[i + 2]) : 99;
			int lo = i + 3 < n ? digit_value(s[i + 3]) : 99;
			if (hi > 15 || lo > 15)
				return syntax_error(p, i, "invalid escape '\\x' (expected two hex digits)");
			if (hi == 0 && lo == 0)
				return syntax_error(p, i,
						    "invalid escape '\\x00' (strings cannot contain NUL)");
			buf_putc(&p->scratch, (char)(hi * 16 + lo));
			i += 2;
			break;
		}
		default:
			return syntax_error(p, i, "invalid escape '\\%s' (use '\\\\' for a backslash)",
					    char_shown(p, i + 1, cs));
		}
		i += 2;
	}
	p->cur.kind = TK_STR;
	p->cur.len = (uint32_t)(i - start);
	p->cur.str = arena_strndup(p->arena, p->scratch.data ? p->scratch.data : "", p->scratch.len);
	p->pos = i;
	return 0;
}

/* Reads the token after the current one into p->cur. @return 0, or -1 with *e set. */
static int lex(struct parser *p)
{
	const char *s = p->src;
	size_t n = p->len, i = p->pos;
	struct tok *t = &p->cur;
	char cs[16];

	while (i < n && is_space(s[i]))
		i++;
	memset(t, 0, sizeof *t);
	t->off = (uint32_t)i;
	p->pos = i;
	if (i >= n) {
		t->kind = TK_END;
		return 0;
	}
	char c = s[i];
	if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1])))
		return lex_number(p, i);
	if (c == '\'' || c == '"')
		return lex_string(p, i);
	if (c == '`' && p->query) {
		/* `a column name` with any characters but a backtick */
		const char *end = memchr(s + i + 1, '`', n - i - 1);
		if (!end)
			return syntax_error(p, i, "unterminated `name`");
		if (end == s + i + 1)
			return syntax_error(p, i, "empty `name`");
		t->kind = TK_NAME;
		t->off = (uint32_t)(i + 1);
		t->len = (uint32_t)(end - (s + i + 1));
		p->pos = (size_t)(end - s) + 1;
		return 0;
	}
	if (is_ident_start(c)) {
		size_t j = i;
		while (j < n && is_ident(s[j]))
			j++;
		t->kind = TK_NAME;
		t->len = (uint32_t)(j - i);
		p->pos = j;
		if (p->query) {
			static const struct {
				const char *w;
				enum expr_op op;
			} words[] = { { "and", OPX_AND }, { "or", OPX_OR }, { "not", OPX_INVERT } };
			for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
				if (strlen(words[k].w) == t->len && !memcmp(words[k].w, s + i, t->len)) {
					t->kind = TK_OP;
					t->op = words[k].op;
					t->word = true;
					return 0;
				}
		}
		for (size_t k = 0; k < sizeof unsupported_words / sizeof unsupported_words[0]; k++) {
			const char *w = unsupported_words[k].word;
			if (strlen(w) == t->len && memcmp(w, s + i, t->len) == 0)
				return syntax_error(p, i, "%s", unsupported_words[k].msg);
		}
		return 0;
	}
	if (n - i >= 2 && (memcmp(s + i, "<<", 2) == 0 || memcmp(s + i, ">>", 2) == 0))
		return syntax_error(p, i, "'%.2s' is not supported", s + i);
	for (size_t k = 0; k < sizeof puncts / sizeof puncts[0]; k++) {
		size_t m = strlen(puncts[k].text);
		if (m <= n - i && memcmp(puncts[k].text, s + i, m) == 0) {
			t->kind = puncts[k].kind;
			t->op = puncts[k].op;
			t->len = (uint32_t)m;
			p->pos = i + m;
			return 0;
		}
	}
	if (c == '#')
		return syntax_error(p, i, "unknown character '#' (comments are not allowed in expressions)");
	if (c == '!')
		return syntax_error(p, i, "unknown character '!' (did you mean '~' or '!='?)");
	return syntax_error(p, i, "unknown character '%s'", char_shown(p, i, cs));
}

/* Accepts the current token and reads the next. */
static int advance(struct parser *p)
{
	p->prev_end = p->cur.off + p->cur.len;
	return lex(p);
}

/* ---- parser helpers ---- */

static bool is_closer(enum tok_kind k)
{
	return k == TK_RPAREN || k == TK_RBRACK || k == TK_RBRACE;
}

static bool starts_expr(const struct tok *t)
{
	switch (t->kind) {
	case TK_INT: case TK_FLOAT: case TK_STR: case TK_NAME:
	case TK_LPAREN: case TK_LBRACK: case TK_LBRACE: case TK_ELLIPSIS:
		return true;
	case TK_OP:
		return t->op == OPX_SUB || t->op == OPX_ADD || t->op == OPX_INVERT;
	default:
		return false;
	}
}

/* The current token cannot come here: says so, with a guess at what is missing. */
static struct expr *unexpected(struct parser *p)
{
	const struct tok *t = &p->cur;
	char want = p->n_open ? p->closers[p->n_open - 1] : '\0', buf[64];

	if (t->kind == TK_END) {
		if (want)
			syntax_error(p, t->off, "unexpected end of expression (missing '%c'?)", want);
		else
			syntax_error(p, t->off, "unexpected end of expression");
	} else if (is_closer(t->kind) && want && p->src[t->off] != want) {
		syntax_error(p, t->off, "unexpected '%c' (missing '%c'?)", p->src[t->off], want);
	} else if (t->kind == TK_ASSIGN) {
		syntax_error(p, t->off, "unexpected '=' (did you mean '=='?)");
	} else if (want && starts_expr(t)) {
		syntax_error(p, t->off, "unexpected '%s' (missing ','?)",
			     shown(p, t->off, t->len, buf));
	} else {
		syntax_error(p, t->off, "unexpected '%s'", shown(p, t->off, t->len, buf));
	}
	return NULL;
}

static struct expr *expected_expr(struct parser *p)
{
	char buf[64];
	if (p->cur.kind == TK_END || is_closer(p->cur.kind))
		return unexpected(p);
	syntax_error(p, p->cur.off, "expected an expression, found '%s'",
		     shown(p, p->cur.off, p->cur.len, buf));
	return NULL;
}

/* Opens a nesting level at @off: a bracket (with its @closer) or, closer '\0', an operator. */
static int enter(struct parser *p, uint32_t off, char closer)
{
	if (p->depth >= EXPR_MAX_DEPTH)
		return syntax_error(p, off, "expression nested too deeply");
	p->depth++;
	if (closer)
		p->closers[p->n_open++] = closer;
	return 0;
}

static void leave(struct parser *p, char closer)
{
	p->depth--;
	if (closer)
		p->n_open--;
}

/* A node from @off to the end of the last accepted token. */
static struct expr *node(struct parser *p, enum expr_kind kind, uint32_t off)
{
	struct expr *x = arena_alloc(p->arena, sizeof *x);
	x->kind = kind;
	x->off = off;
	x->len = p->prev_end - off;
	x->height = 1;
	return x;
}

static void grow(struct expr *x, const struct expr *child)
{
	if (child && child->height + 1 > x->height)
		x->height = child->height + 1;
}

/* @x, or NULL and an error at @off when it is taller than the limit. */
static struct expr *finish(struct parser *p, struct expr *x, uint32_t off)
{
	if (x->height > EXPR_MAX_DEPTH) {
		syntax_error(p, off, "expression nested too deeply");
		return NULL;
	}
	return x;
}

static void push(struct parser *p, const char *name, uint32_t name_off, struct expr *x)
{
	XGROW(p->stack, p->cap_stack, p->n_stack + 1);
	p->stack[p->n_stack++] = (struct item){ name, name_off, x };
}

/* Moves the items above @base into @x: positional ones to items, named ones to kw_*. */
static void take_items(struct parser *p, struct expr *x, size_t base)
{
	size_t n_pos = 0, n_kw = 0;
	for (size_t k = base; k < p->n_stack; k++) {
		if (p->stack[k].name)
			n_kw++;
		else
			n_pos++;
		grow(x, p->stack[k].x);
	}
	if (n_pos)
		x->items = arena_alloc(p->arena, n_pos * sizeof *x->items);
	if (n_kw) {
		x->kw_names = arena_alloc(p->arena, n_kw * sizeof *x->kw_names);
		x->kw_vals = arena_alloc(p->arena, n_kw * sizeof *x->kw_vals);
		x->kw_offs = arena_alloc(p->arena, n_kw * sizeof *x->kw_offs);
	}
	for (size_t k = base; k < p->n_stack; k++) {
		const struct item *it = &p->stack[k];
		if (it->name) {
			x->kw_names[x->n_kw] = it->name;
			x->kw_offs[x->n_kw] = it->name_off;
			x->kw_vals[x->n_kw++] = it->x;
		} else {
			x->items[x->n++] = it->x;
		}
	}
	p->n_stack = base;
}

/* ---- grammar ---- */

static struct expr *parse_expr(struct parser *p, int min_bp);

static bool is_cmp(enum expr_op op)
{
	return op >= OPX_LT && op <= OPX_NE;
}

static int binary_bp(const struct parser *p, enum expr_op op)
{
	/* query(): | and & (and/or) bind more loosely than comparisons, as in pandas.eval */
	if (p->query && (is_cmp(op) || op == OPX_OR || op == OPX_XOR || op == OPX_AND))
		return op == OPX_OR ? BP_CMP : op == OPX_XOR ? BP_OR : op == OPX_AND ? BP_XOR : BP_AND;
	switch (op) {
	case OPX_LT: case OPX_LE: case OPX_GT: case OPX_GE: case OPX_EQ: case OPX_NE:
		return BP_CMP;
	case OPX_OR: return BP_OR;
	case OPX_XOR: return BP_XOR;
	case OPX_AND: return BP_AND;
	case OPX_ADD: case OPX_SUB: return BP_ADD;
	case OPX_MUL: case OPX_DIV: case OPX_FLOORDIV: case OPX_MOD: case OPX_MATMUL:
		return BP_MUL;
	case OPX_POW: return BP_POW;
	default: return 0;
	}
}

/* ( ... ): a parenthesized expression, or a tuple when empty or with a comma. */
static struct expr *parse_group(struct parser *p)
{
	uint32_t off = p->cur.off;
	size_t base = p->n_stack;
	bool comma = false;

	if (enter(p, off, ')') < 0 || advance(p) < 0)
		return NULL;
	while (p->cur.kind != TK_RPAREN) {
		struct expr *x = parse_expr(p, 0);
		if (!x)
			return NULL;
		push(p, NULL, 0, x);
		if (p->cur.kind == TK_COMMA) {
			comma = true;
			if (advance(p) < 0)
				return NULL;
		} else if (p->cur.kind != TK_RPAREN) {
			return unexpected(p);
		}
	}
	if (advance(p) < 0)
		return NULL;
	leave(p, ')');
	if (p->n_stack - base == 1 && !comma)
		return p->stack[--p->n_stack].x;
	struct expr *t = node(p, EX_TUPLE, off);
	take_items(p, t, base);
	return finish(p, t, off);
}

/* After an item of a bracket: a ',' (taken) or the closing @closer (left for close_items()). */
static int item_sep(struct parser *p, enum tok_kind closer)
{
	if (p->cur.kind == TK_COMMA)
		return advance(p);
	if (p->cur.kind != closer) {
		unexpected(p);
		return -1;
	}
	return 0;
}

/* Takes the bracket's closer and makes its node of @kind from the items above @base. */
static struct expr *close_items(struct parser *p, char closer, enum expr_kind kind, uint32_t off, size_t base)
{
	if (advance(p) < 0)
		return NULL;
	leave(p, closer);
	struct expr *x = node(p, kind, off);
	take_items(p, x, base);
	return finish(p, x, off);
}

static struct expr *parse_list(struct parser *p)
{
	uint32_t off = p->cur.off;
	size_t base = p->n_stack;

	if (enter(p, off, ']') < 0 || advance(p) < 0)
		return NULL;
	while (p->cur.kind != TK_RBRACK) {
		struct expr *x = parse_expr(p, 0);
		if (!x)
			return NULL;
		push(p, NULL, 0, x);
		if (item_sep(p, TK_RBRACK) < 0)
			return NULL;
	}
	return close_items(p, ']', EX_LIST, off, base);
}

/* {k: v, ...}: a list of (k, v) tuples, the form a YAML mapping takes in a spec, so that both
 * spellings of a mapping (agg({"a": "sum"}), dtype=...) reach the ops alike. */
static struct expr *parse_dict(struct parser *p)
{
	uint32_t off = p->cur.off;
	size_t base = p->n_stack;

	if (enter(p, off, '}') < 0 || advance(p) < 0)
		return NULL;
	while (p->cur.kind != TK_RBRACE) {
		uint32_t koff = p->cur.off;
		size_t pair = p->n_stack;
		struct expr *k = parse_expr(p, 0);
		if (!k)
			return NULL;
		if (p->cur.kind != TK_COLON) {
			syntax_error(p, p->cur.off, "expected ':' after a key of '{...}'");
			return NULL;
		}
		if (advance(p) < 0)
			return NULL;
		struct expr *v = parse_expr(p, 0);
		if (!v)
			return NULL;
		push(p, NULL, 0, k);
		push(p, NULL, 0, v);
		struct expr *t = node(p, EX_TUPLE, koff);
		take_items(p, t, pair);
		if (!(t = finish(p, t, koff)))
			return NULL;
		push(p, NULL, 0, t);
		if (item_sep(p, TK_RBRACE) < 0)
			return NULL;
	}
	return close_items(p, '}', EX_LIST, off, base);
}

static struct expr *parse_atom(struct parser *p)
{
	struct tok t = p->cur;
	struct expr *x;

	switch (t.kind) {
	case TK_LPAREN:
		return parse_group(p);
	case TK_LBRACK:
		return parse_list(p);
	case TK_LBRACE:
		return parse_dict(p);
	case TK_INT: case TK_FLOAT: case TK_STR: case TK_ELLIPSIS: case TK_NAME:
		break;
	default:
		return expected_expr(p);
	}
	if (advance(p) < 0)
		return NULL;
	const char *s = p->src + t.off;
	switch (t.kind) {
	case TK_INT:
		x = node(p, EX_INT, t.off);
		x->i = t.i;
		x->f = (double)t.i;
		break;
	case TK_FLOAT:
		x = node(p, EX_FLOAT, t.off);
		x->f = t.f;
		break;
	case TK_STR:
		x = node(p, EX_STR, t.off);
		x->str = t.str;
		break;
	case TK_ELLIPSIS:
		x = node(p, EX_ELLIPSIS, t.off);
		break;
	default:
		if (t.len == 4 && memcmp(s, "True", 4) == 0) {
			x = node(p, EX_BOOL, t.off);
			x->b = true;
		} else if (t.len == 5 && memcmp(s, "False", 5) == 0) {
			x = node(p, EX_BOOL, t.off);
		} else if (t.len == 4 && memcmp(s, "None", 4) == 0) {
			x = node(p, EX_NONE, t.off);
		} else {
			x = node(p, EX_NAME, t.off);
			x->str = arena_strndup(p->arena, s, t.len);
		}
		break;
	}
	return x;
}

/* Is the current token (a name) a keyword argument's, i.e. followed by '=' but not '=='? */
static bool at_keyword(const struct parser *p)
{
	const char *s = p->src + p->cur.off;
	uint32_t len = p->cur.len;
	if (p->cur.kind != TK_NAME || (len == 4 && memcmp(s, "True", 4) == 0) ||
	    (len == 5 && memcmp(s, "False", 5) == 0) || (len == 4 && memcmp(s, "None", 4) == 0))
		return false;
	size_t j = p->pos;
	while (j < p->len && is_space(p->src[j]))
		j++;
	return j < p->len && p->src[j] == '=' && (j + 1 >= p->len || p->src[j + 1] != '=');
}

/* @callee ( args ), the call spanning from @start. */
static struct expr *parse_call(struct parser *p, struct expr *callee, uint32_t start)
{
	uint32_t open_off = p->cur.off;
	size_t base = p->n_stack;
	bool seen_kw = false;

	if (enter(p, open_off, ')') < 0 || advance(p) < 0)
		return NULL;
	while (p->cur.kind != TK_RPAREN) {
		uint32_t arg_off = p->cur.off;
		const char *name = NULL;
		if (at_keyword(p)) {
			name = arena_strndup(p->arena, p->src + arg_off, p->cur.len);
			for (size_t k = base; k < p->n_stack; k++) {
				if (p->stack[k].name && strcmp(p->stack[k].name, name) == 0) {
					syntax_error(p, arg_off, "keyword argument '%s' repeated", name);
					return NULL;
				}
			}
			if (advance(p) < 0 || advance(p) < 0) /* the name, the '=' */
				return NULL;
			seen_kw = true;
		}
		struct expr *x = parse_expr(p, 0);
		if (!x)
			return NULL;
		if (!name && seen_kw) {
			syntax_error(p, arg_off, "positional argument after a keyword argument");
			return NULL;
		}
		push(p, name, arg_off, x);
		if (p->cur.kind == TK_COMMA) {
			if (advance(p) < 0)
				return NULL;
		} else if (p->cur.kind != TK_RPAREN) {
			return unexpected(p);
		}
	}
	if (advance(p) < 0)
		return NULL;
	leave(p, ')');
	struct expr *c = node(p, EX_CALL, start);
	c->a = callee;
	grow(c, callee);
	take_items(p, c, base);
	return finish(p, c, open_off);
}

/* Does the current token end a slice part (start:stop:step)? */
static bool ends_part(const struct parser *p, bool colon_too)
{
	enum tok_kind k = p->cur.kind;
	return k == TK_COMMA || k == TK_RBRACK || (colon_too && k == TK_COLON);
}

/* One subscript: an expression, or a slice with any part left out. */
static struct expr *parse_subscript(struct parser *p)
{
	uint32_t start = p->cur.off;
	struct expr *lo = NULL, *hi = NULL, *step = NULL;

	if (p->cur.kind != TK_COLON) {
		lo = parse_expr(p, 0);
		if (!lo || p->cur.kind != TK_COLON)
			return lo;
	}
	if (advance(p) < 0)
		return NULL;
	if (!ends_part(p, true) && !(hi = parse_expr(p, 0)))
		return NULL;
	if (p->cur.kind == TK_COLON) {
		if (advance(p) < 0)
			return NULL;
		if (!ends_part(p, false) && !(step = parse_expr(p, 0)))
			return NULL;
	}
	struct expr *x = node(p, EX_SLICE, start);
	x->start = lo;
	x->stop = hi;
	x->step = step;
	grow(x, lo);
	grow(x, hi);
	grow(x, step);
	return finish(p, x, start);
}

/* @obj [ subscripts ], spanning from @start. */
static struct expr *parse_index(struct parser *p, struct expr *obj, uint32_t start)
{
	uint32_t open_off = p->cur.off;
	size_t base = p->n_stack;

	if (enter(p, open_off, ']') < 0 || advance(p) < 0)
		return NULL;
	do {
		struct expr *x = parse_subscript(p);
		if (!x)
			return NULL;
		push(p, NULL, 0, x);
		if (p->cur.kind == TK_COMMA) {
			if (advance(p) < 0)
				return NULL;
		} else if (p->cur.kind != TK_RBRACK) {
			return unexpected(p);
		}
	} while (p->cur.kind != TK_RBRACK);
	if (advance(p) < 0)
		return NULL;
	leave(p, ']');
	struct expr *ix = node(p, EX_INDEX, start);
	ix->a = obj;
	grow(ix, obj);
	take_items(p, ix, base);
	return finish(p, ix, open_off);
}

/* @obj . name, spanning from @start. */
static struct expr *parse_attr(struct parser *p, struct expr *obj, uint32_t start)
{
	char buf[64];
	if (advance(p) < 0)
		return NULL;
	if (p->cur.kind != TK_NAME) {
		if (p->cur.kind == TK_END || is_closer(p->cur.kind))
			return unexpected(p);
		syntax_error(p, p->cur.off, "expected a name after '.', found '%s'",
			     shown(p, p->cur.off, p->cur.len, buf));
		return NULL;
	}
	uint32_t name_off = p->cur.off;
	const char *name = arena_strndup(p->arena, p->src + name_off, p->cur.len);
	if (advance(p) < 0)
		return NULL;
	struct expr *x = node(p, EX_ATTR, start);
	x->a = obj;
	x->str = name;
	grow(x, obj);
	return finish(p, x, name_off);
}

/* An atom and what follows it: .name, (args), [subscripts], in a loop. */
static struct expr *parse_primary(struct parser *p)
{
	uint32_t start = p->cur.off;
	struct expr *x = parse_atom(p);
	while (x) {
		switch (p->cur.kind) {
		case TK_DOT: x = parse_attr(p, x, start); break;
		case TK_LPAREN: x = parse_call(p, x, start); break;
		case TK_LBRACK: x = parse_index(p, x, start); break;
		default: return x;
		}
	}
	return NULL;
}

/* Unary - + ~ bind looser than ** (so -x**2 is -(x**2)) and tighter than the rest. */
static struct expr *parse_unary(struct parser *p)
{
	if (p->cur.kind != TK_OP ||
	    (p->cur.op != OPX_SUB && p->cur.op != OPX_ADD && p->cur.op != OPX_INVERT))
		return parse_primary(p);
	uint32_t off = p->cur.off;
	enum expr_op op = p->cur.op == OPX_SUB ? OPX_NEG : p->cur.op == OPX_ADD ? OPX_POS : OPX_INVERT;
	bool word = p->cur.word; /* query's `not a > 1` negates the comparison */
	if (enter(p, off, '\0') < 0 || advance(p) < 0)
		return NULL;
	struct expr *a = parse_expr(p, word ? BP_AND : BP_UNARY);
	if (!a)
		return NULL;
	leave(p, '\0');
	struct expr *x = node(p, EX_UNARY, off);
	x->op = op;
	x->a = a;
	grow(x, a);
	return finish(p, x, off);
}

/* Everything binding at least as tightly as @min_bp, by precedence climbing. */
static struct expr *parse_expr(struct parser *p, int min_bp)
{
	uint32_t start = p->cur.off;
	struct expr *left = parse_unary(p);
	bool chained = false; /* left is a comparison this loop made */

	while (left && p->cur.kind == TK_OP) {
		enum expr_op op = p->cur.op;
		int bp = binary_bp(p, op);
		if (bp == 0 || bp < min_bp)
			break;
		uint32_t op_off = p->cur.off;
		/* Python reads a < b < c as (a < b) and (b < c); numpy users expect
		 * (a < b) < c. Neither silently: make the user say which. */
		if (is_cmp(op) && chained) {
			syntax_error(p, op_off,
				     "chained comparisons are not supported; use (a < b) & (b < c)");
			return NULL;
		}
		if (advance(p) < 0)
			return NULL;
		struct expr *right;
		if (op == OPX_POW) {
			/* right-assoc, and the right operand may be unary: 2 ** -x ** 2 */
			if (enter(p, op_off, '\0') < 0)
				return NULL;
			right = parse_expr(p, BP_UNARY);
			leave(p, '\0');
		} else {
			right = parse_expr(p, bp + 1);
		}
		if (!right)
			return NULL;
		struct expr *x = node(p, EX_BINARY, start);
		x->op = op;
		x->a = left;
		x->b2 = right;
		grow(x, left);
		grow(x, right);
		left = finish(p, x, op_off);
		chained = is_cmp(op);
	}
	return left;
}

static struct expr *parse_text(struct arena *arena, const char *text, size_t len,
			       struct loc (*where)(void *arg, size_t off), void *where_arg, struct err *e, bool query)
{
	struct parser p;
	struct expr *root = NULL;

	memset(&p, 0, sizeof p);
	p.query = query;
	p.arena = arena;
	p.src = text;
	p.len = len;
	p.where = where;
	p.where_arg = where_arg;
	p.e = e;
	buf_init(&p.scratch);

	if (len >= UINT32_MAX) { /* offsets are 32-bit */
		syntax_error(&p, 0, "expression is too long");
		goto out;
	}
	if (lex(&p) < 0)
		goto out;
	if (p.cur.kind == TK_END) {
		syntax_error(&p, 0, "empty expression");
		goto out;
	}
	root = parse_expr(&p, 0);
	if (root && p.cur.kind != TK_END)
		root = unexpected(&p);
out:
	free(p.stack);
	buf_release(&p.scratch);
	return root;
}

struct expr *expr_parse(struct arena *arena, const char *text, size_t len,
			struct loc (*where)(void *arg, size_t off), void *where_arg, struct err *e)
{
	return parse_text(arena, text, len, where, where_arg, e, false);
}

struct expr *expr_parse_query(struct arena *arena, const char *text, size_t len,
			      struct loc (*where)(void *arg, size_t off), void *where_arg, struct err *e)
{
	return parse_text(arena, text, len, where, where_arg, e, true);
}

void expr_shift(struct expr *x, uint32_t by)
{
	if (!x)
		return;
	x->off += by;
	expr_shift(x->a, by);
	expr_shift(x->b2, by);
	for (size_t i = 0; i < x->n; i++)
		expr_shift(x->items[i], by);
	for (size_t i = 0; i < x->n_kw; i++) {
		x->kw_offs[i] += by;
		expr_shift(x->kw_vals[i], by);
	}
	expr_shift(x->start, by);
	expr_shift(x->stop, by);
	expr_shift(x->step, by);
}

/* ---- dump ---- */

/* Python's repr: the fewest digits that read back as the same double, in
 * positional notation for exponents -4..15, else scientific; always a '.' or 'e'. */
static void dump_float(double f, struct buf *out)
{
	char s[64];
	int prec;

	if (isnan(f) || isinf(f)) {
		buf_puts(out, isnan(f) ? "nan" : "inf");
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(s, sizeof s, "%.*e", prec, f);
		if (strtod(s, NULL) == f)
			break;
	}
	int exp = atoi(strchr(s, 'e') + 1);
	if (exp >= -4 && exp < 16) {
		snprintf(s, sizeof s, "%.*f", prec - exp > 0 ? prec - exp : 0, f);
		if (!strchr(s, '.'))
			strcat(s, ".0");
	}
	buf_puts(out, s);
}

static void dump_str(const char *s, struct buf *out)
{
	buf_putc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\t': buf_puts(out, "\\t"); break;
		case '\r': buf_puts(out, "\\r"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(out, "\\x%02x", c);
			else
				buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}

void expr_dump(const struct expr *x, struct buf *out)
{
	if (!x) {
		buf_putc(out, '_');
		return;
	}
	switch (x->kind) {
	case EX_INT: buf_printf(out, "%lld", (long long)x->i); return;
	case EX_FLOAT: dump_float(x->f, out); return;
	case EX_STR: dump_str(x->str, out); return;
	case EX_BOOL: buf_puts(out, x->b ? "True" : "False"); return;
	case EX_NONE: buf_puts(out, "None"); return;
	case EX_ELLIPSIS: buf_puts(out, "..."); return;
	case EX_NAME: buf_puts(out, x->str); return;
	case EX_TUPLE: buf_puts(out, "(tuple"); break;
	case EX_LIST: buf_puts(out, "(list"); break;
	case EX_UNARY:
	case EX_BINARY:
		buf_printf(out, "(%s ", expr_op_name(x->op));
		expr_dump(x->a, out);
		if (x->kind == EX_BINARY) {
			buf_putc(out, ' ');
			expr_dump(x->b2, out);
		}
		buf_putc(out, ')');
		return;
	case EX_CALL: buf_puts(out, "(call "); expr_dump(x->a, out); break;
	case EX_ATTR:
		buf_puts(out, "(attr ");
		expr_dump(x->a, out);
		buf_printf(out, " %s)", x->str);
		return;
	case EX_INDEX: buf_puts(out, "(index "); expr_dump(x->a, out); break;
	case EX_SLICE:
		buf_puts(out, "(slice ");
		expr_dump(x->start, out);
		buf_putc(out, ' ');
		expr_dump(x->stop, out);
		buf_putc(out, ' ');
		expr_dump(x->step, out);
		buf_putc(out, ')');
		return;
	}
	/* the kinds with items: tuple, list, call, index */
	for (size_t k = 0; k < x->n; k++) {
		buf_putc(out, ' ');
		expr_dump(x->items[k], out);
	}
	for (size_t k = 0; k < x->n_kw; k++) {
		buf_printf(out, " (kw %s ", x->kw_names[k]);
		expr_dump(x->kw_vals[k], out);
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
}
