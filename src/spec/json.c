/* SPDX-License-Identifier: MIT */
/*
 * json: cJSON -> the located doc tree. cJSON parses and unescapes but keeps
 * no positions, so a small walker re-reads the text in the order cJSON
 * produced its items and takes every value's and key's line:col, and each
 * number's text as written, from the source.
 *
 * DESIGN: the walker checks the grammar itself (strict RFC 8259), so it can
 * also explain a syntax error better than cJSON's bare offset ("expected ','
 * or '}', found '\"'"). When cJSON fails, the walker runs alone (no tree, so
 * no values and no duplicate-key check) to find the first error; cJSON's
 * offset is the fallback for the rare input only cJSON objects to. When
 * cJSON succeeds, any disagreement between the two is reported as invalid
 * JSON rather than trusted.
 */
#include "spec/spec_int.h"

#include <cjson/cJSON.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JSON walker: a cursor over the text, kept in step with cJSON's tree. */
struct jw {
	const char *text;
	size_t len, pos; /* pos: the next byte to read */
	struct arena *a;
	struct linecur cur;
	struct err *e;
};

static int jw_value(struct jw *w, const cJSON *item, int depth, struct doc **out);

static void jw_ws(struct jw *w)
{
	while (w->pos < w->len && strchr(" \t\r\n", w->text[w->pos]) && w->text[w->pos])
		w->pos++;
}

static bool jw_at(const struct jw *w, char c)
{
	return w->pos < w->len && w->text[w->pos] == c;
}

static int jw_fail(struct jw *w, size_t at, const char *what)
{
	return err_at(w->e, linecur_loc(&w->cur, at), "invalid JSON: %s", what);
}

/* What sits at the cursor, for "expected X, found Y": a word, a character, or the end. */
static const char *jw_found(const struct jw *w, char *buf, size_t size)
{
	const char *p = w->text + w->pos;
	size_t left = w->len - w->pos, n = 1;
	if (!left)
		return "end of input";
	unsigned char c = (unsigned char)*p;
	if (isalpha(c)) {
		while (n < left && n < 16 && isalnum((unsigned char)p[n]))
			n++;
	} else if (c >= 0x80) {
		while (n < left && n < 4 && ((unsigned char)p[n] & 0xC0) == 0x80)
			n++;
	} else if (!isprint(c)) {
		snprintf(buf, size, "byte 0x%02x", c);
		return buf;
	}
	snprintf(buf, size, "'%.*s'", (int)n, p);
	return buf;
}

static int jw_expected(struct jw *w, const char *what)
{
	char found[32];
	return err_at(w->e, linecur_loc(&w->cur, w->pos), "invalid JSON: expected %s, found %s",
		      what, jw_found(w, found, sizeof found));
}

/* The walker and cJSON disagree: trust neither. */
static int jw_lost(struct jw *w)
{
	return err_at(w->e, linecur_loc(&w->cur, w->pos), "invalid JSON");
}

/* The value of the 4 hex digits after the "\\u" at @at, or -1. */
static long jw_hex4(const struct jw *w, size_t at)
{
	long v = 0;
	for (size_t k = at + 2; k < at + 6; k++) {
		if (k >= w->len || !isxdigit((unsigned char)w->text[k]))
			return -1;
		char c = (char)tolower((unsigned char)w->text[k]);
		v = v * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

/* Skips the string at the cursor; *@escaped: it held a backslash. */
static int jw_string(struct jw *w, bool *escaped)
{
	size_t open = w->pos;
	*escaped = false;
	w->pos++;
	for (;;) {
		if (w->pos >= w->len || w->text[w->pos] == '\n' || w->text[w->pos] == '\r')
			return jw_fail(w, open, "unterminated string");
		unsigned char c = (unsigned char)w->text[w->pos];
		if (c == '"') {
			w->pos++;
			return 0;
		}
		if (c < 0x20)
			return jw_fail(w, w->pos,
				       "control character in string (write it as an escape)");
		if (c != '\\') {
			w->pos++;
			continue;
		}
		*escaped = true;
		char x = w->pos + 1 < w->len ? w->text[w->pos + 1] : '\0';
		if (x == 'u') {
			long u = jw_hex4(w, w->pos);
			if (u < 0)
				return jw_fail(w, w->pos,
					       "invalid \\u escape (expected 4 hex digits)");
			if (u == 0)
				return jw_fail(w, w->pos, "\\u0000 is not allowed in a string");
			/* UTF-16 surrogates come in pairs: high D800-DBFF, then low DC00-DFFF */
			if (u >= 0xDC00 && u <= 0xDFFF)
				return jw_fail(w, w->pos,
					       "unpaired UTF-16 surrogate in \\u escape");
			if (u >= 0xD800 && u <= 0xDBFF) {
				long lo = w->pos + 7 < w->len && w->text[w->pos + 6] == '\\' &&
							  w->text[w->pos + 7] == 'u'
						  ? jw_hex4(w, w->pos + 6)
						  : -1;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return jw_fail(w, w->pos,
						       "unpaired UTF-16 surrogate in \\u escape");
				w->pos += 6;
			}
			w->pos += 6;
		} else if (x && strchr("\"\\/bfnrt", x)) {
			w->pos += 2;
		} else if (isprint((unsigned char)x)) {
			return err_at(w->e, linecur_loc(&w->cur, w->pos),
				      "invalid JSON: invalid escape '\\%c'", x);
		} else {
			return jw_fail(w, w->pos, "invalid escape");
		}
	}
}

static size_t jw_digits(struct jw *w)
{
	size_t start = w->pos;
	while (w->pos < w->len && isdigit((unsigned char)w->text[w->pos]))
		w->pos++;
	return w->pos - start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, and nothing glued to it. */
static int jw_number(struct jw *w)
{
	size_t start = w->pos;
	if (jw_at(w, '-'))
		w->pos++;
	if (jw_at(w, '0'))
		w->pos++;
	else if (!jw_digits(w))
		goto bad;
	if (jw_at(w, '.')) {
		w->pos++;
		if (!jw_digits(w))
			goto bad;
	}
	if (jw_at(w, 'e') || jw_at(w, 'E')) {
		w->pos++;
		if (jw_at(w, '+') || jw_at(w, '-'))
			w->pos++;
		if (!jw_digits(w))
			goto bad;
	}
	if (w->pos < w->len && (isalnum((unsigned char)w->text[w->pos]) || w->text[w->pos] == '.'))
		goto bad;
	return 0;
bad:
	return jw_fail(w, start, "invalid number");
}

static struct doc *jw_number_doc(struct jw *w, size_t start, struct loc at)
{
	struct doc *d = doc_new(w->a, DOC_INT, at);
	d->str = arena_strndup(w->a, w->text + start, w->pos - start);
	errno = 0;
	if (!strpbrk(d->str, ".eE")) {
		long long v = strtoll(d->str, NULL, 10);
		if (errno != ERANGE) {
			d->i = v;
			d->f = (double)v;
			return d;
		}
	}
	/* a fraction, an exponent, or too big for int64 (as YAML does) */
	d->kind = DOC_FLOAT;
	d->f = strtod(d->str, NULL);
	return d;
}

static int jw_container(struct jw *w, const cJSON *item, int depth, struct loc at, struct doc **out)
{
	bool is_map = jw_at(w, '{');
	char close = is_map ? '}' : ']';
	struct doc *d = doc_new(w->a, is_map ? DOC_MAP : DOC_SEQ, at);
	const cJSON *child = item ? item->child : NULL;
	struct doc_list l;
	size_t n = 0;
	int rc = -1;

	doc_list_init(&l);
	if (item && !(is_map ? cJSON_IsObject(item) : cJSON_IsArray(item))) {
		jw_lost(w);
		goto out;
	}
	if (depth > SPEC_MAX_DEPTH) {
		err_at(w->e, at, "nesting deeper than %d levels", SPEC_MAX_DEPTH);
		goto out;
	}
	w->pos++;
	jw_ws(w);
	if (jw_at(w, close)) {
		w->pos++;
	} else {
		for (;;) {
			struct doc *value = NULL;
			if (item && !child) {
				jw_lost(w);
				goto out;
			}
			if (is_map) {
				bool escaped;
				if (!jw_at(w, '"')) {
					jw_expected(w, n ? "a string key" : "a string key or '}'");
					goto out;
				}
				struct loc key_loc = linecur_loc(&w->cur, w->pos);
				if (jw_string(w, &escaped))
					goto out;
				/* without cJSON's tree there are no key texts to compare */
				if (item && doc_list_add_key(&l, arena_strdup(w->a, child->string),
							     key_loc, w->e))
					goto out;
				jw_ws(w);
				if (!jw_at(w, ':')) {
					jw_expected(w, "':'");
					goto out;
				}
				w->pos++;
			}
			if (jw_value(w, child, depth + 1, &value))
				goto out;
			doc_list_add_item(&l, value);
			child = child ? child->next : NULL;
			n++;
			jw_ws(w);
			if (jw_at(w, ',')) {
				w->pos++;
				jw_ws(w);
				continue;
			}
			if (jw_at(w, close)) {
				w->pos++;
				break;
			}
			jw_expected(w, is_map ? "',' or '}'" : "',' or ']'");
			goto out;
		}
	}
	if (child) {
		jw_lost(w);
		goto out;
	}
	if (item)
		doc_list_finish(&l, w->a, d);
	*out = d;
	rc = 0;
out:
	doc_list_release(&l);
	return rc;
}

/* Reads the value at the cursor (after blanks). @item: cJSON's twin, NULL when checking only. */
static int jw_value(struct jw *w, const cJSON *item, int depth, struct doc **out)
{
	struct doc *d;
	jw_ws(w);
	if (w->pos >= w->len)
		return jw_expected(w, "a value");
	size_t start = w->pos;
	struct loc at = linecur_loc(&w->cur, start);
	char c = w->text[start];
	bool ok;
	if (c == '{' || c == '[')
		return jw_container(w, item, depth, at, out);
	if (c == '"') {
		d = doc_new(w->a, DOC_STR, at);
		if (jw_string(w, &d->escaped))
			return -1;
		ok = !item || cJSON_IsString(item);
		d->quoted = true;
		d->str = arena_strdup(w->a, item && ok ? item->valuestring : "");
	} else if (c == '-' || isdigit((unsigned char)c)) {
		if (jw_number(w))
			return -1;
		ok = !item || cJSON_IsNumber(item);
		d = jw_number_doc(w, start, at);
	} else if (w->len - start >= 4 && memcmp(w->text + start, "true", 4) == 0) {
		w->pos += 4;
		ok = !item || cJSON_IsTrue(item);
		d = doc_new(w->a, DOC_BOOL, at);
		d->b = true;
		d->str = "true";
	} else if (w->len - start >= 5 && memcmp(w->text + start, "false", 5) == 0) {
		w->pos += 5;
		ok = !item || cJSON_IsFalse(item);
		d = doc_new(w->a, DOC_BOOL, at);
		d->str = "false";
	} else if (w->len - start >= 4 && memcmp(w->text + start, "null", 4) == 0) {
		w->pos += 4;
		ok = !item || cJSON_IsNull(item);
		d = doc_new(w->a, DOC_NULL, at);
		d->str = "null";
	} else {
		return jw_expected(w, "a value");
	}
	if (!ok) {
		w->pos = start;
		return jw_lost(w);
	}
	*out = d;
	return 0;
}

int spec_json_parse(struct arena *a, const char *file, const char *text, size_t len,
		    struct doc **root, struct err *e)
{
	const char *end = NULL;
	cJSON *tree = cJSON_ParseWithLengthOpts(text, len, &end, false);
	struct jw w = { .text = text, .len = len, .a = a, .e = e };
	int rc = -1;

	*root = NULL;
	linecur_init(&w.cur, file, text, len);
	w.pos = w.cur.start; /* past a UTF-8 BOM, as cJSON skips it too */
	if (jw_value(&w, tree, 1, root))
		goto out;
	jw_ws(&w);
	if (w.pos < w.len) {
		jw_expected(&w, "end of input");
		goto out;
	}
	if (!tree) {
		size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		err_at(e, linecur_loc(&w.cur, off), "invalid JSON");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(tree);
	return rc;
}
