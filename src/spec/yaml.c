/* SPDX-License-Identifier: MIT */
/*
 * yaml: libyaml's event stream -> the located doc tree. libyaml checks the
 * syntax; this file adds what a spec needs on top of it: 1-based locations,
 * YAML 1.2 core-schema typing of plain scalars, the duplicate-key check that
 * libyaml leaves out, one document per file, the core tags (!!str, !!int,
 * !!float, !!bool, !!null, !!seq, !!map), and anchors with aliases.
 *
 * DESIGN: an alias shares the anchored subtree (the tree is read-only, so
 * sharing is safe); its nodes keep the anchor's locations. An anchor counts
 * as defined only once its node is complete, so an alias inside its own
 * anchor is an error and the tree stays acyclic. Shared subtrees could
 * expand to exponentially many nodes for whoever walks the tree ("billion
 * laughs"), so the expanded size is counted and capped.
 */
#include "spec/spec_int.h"
#include "util/xalloc.h"

#include <yaml.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Far beyond a hand-written spec, far below what would hurt a tree walk. */
#define YAML_MAX_EXPANDED ((uint64_t)1 << 20)
#define CORE_TAG "tag:yaml.org,2002:"

struct yaml_anchor {
	struct doc *d;
	uint64_t size; /* nodes in the subtree, aliases expanded */
};

/* The YAML tree builder: one per parse, on the stack. */
struct yb {
	yaml_parser_t parser;
	struct arena *a;
	const char *file;
	struct linecur cur; /* reader errors come as byte offsets */
	struct err *e;
	struct strmap anchor_index; /* name -> position in @anchors; -1 while its node is open */
	struct yaml_anchor *anchors;
	size_t n_anchors, cap_anchors;
	uint64_t expanded; /* nodes read so far, an alias counting as its whole subtree */
};

static int yb_node(struct yb *b, const yaml_event_t *ev, int depth, struct doc **out);

static struct loc yb_loc(const struct yb *b, yaml_mark_t m)
{
	return (struct loc){ b->file, (uint32_t)m.line + 1, (uint32_t)m.column + 1 };
}

/* The byte at a libyaml mark, which counts code points and lines from 0. */
static char yb_byte_at(const struct yb *b, yaml_mark_t m)
{
	const char *t = b->cur.text;
	size_t len = b->cur.len, line = 0, col = 0;
	for (size_t i = b->cur.start; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if ((c & 0xC0) == 0x80)
			continue;
		if (line == m.line && col == m.column)
			return t[i];
		if (c == '\n' || (c == '\r' && (i + 1 >= len || t[i + 1] != '\n')))
			line++, col = 0;
		else if (c != '\r')
			col++;
	}
	return '\0';
}

static int yb_syntax_error(struct yb *b)
{
	const yaml_parser_t *p = &b->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	struct loc at = p->error == YAML_READER_ERROR ? linecur_loc(&b->cur, p->problem_offset)
						      : yb_loc(b, p->problem_mark);
	if (p->error == YAML_MEMORY_ERROR)
		return err_at(b->e, at, "out of memory while reading YAML");
	/* libyaml's words for a tab in the indentation help nobody */
	if (p->error == YAML_SCANNER_ERROR &&
	    strcmp(problem, "found character that cannot start any token") == 0 &&
	    yb_byte_at(b, p->problem_mark) == '\t')
		return err_at(b->e, at,
			      "found a tab where YAML expects spaces (indent with spaces)");
	if (p->context) {
		struct loc ctx = yb_loc(b, p->context_mark);
		return err_at(b->e, at, "%s (%s at %u:%u)", problem, p->context, ctx.line, ctx.col);
	}
	return err_at(b->e, at, "%s", problem);
}

static int yb_next(struct yb *b, yaml_event_t *ev)
{
	return yaml_parser_parse(&b->parser, ev) ? 0 : yb_syntax_error(b);
}

static bool is_one_of(const char *s, const char *a, const char *b, const char *c)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c) == 0;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+; out of int64 range it becomes a float. */
static bool resolve_int(struct doc *d)
{
	const char *s = d->str, *digits = s;
	int base = 10;
	if (s[0] == '0' && s[1] == 'x')
		base = 16, digits = s + 2;
	else if (s[0] == '0' && s[1] == 'o')
		base = 8, digits = s + 2;
	else if (*s == '+' || *s == '-')
		digits = s + 1;
	if (!*digits)
		return false;
	for (const char *p = digits; *p; p++) {
		bool ok = base == 16  ? isxdigit((unsigned char)*p) != 0
			  : base == 8 ? *p >= '0' && *p <= '7'
				      : isdigit((unsigned char)*p) != 0;
		if (!ok)
			return false;
	}
	errno = 0;
	if (base == 10) {
		long long v = strtoll(s, NULL, 10);
		if (errno == ERANGE) {
			d->kind = DOC_FLOAT;
			d->f = strtod(s, NULL);
			return true;
		}
		d->i = v;
	} else {
		unsigned long long v = strtoull(digits, NULL, base);
		if (errno == ERANGE || v > INT64_MAX) {
			double f = 0;
			for (const char *p = digits; *p; p++)
				f = f * base + (isdigit((unsigned char)*p)
							? *p - '0'
							: tolower((unsigned char)*p) - 'a' + 10);
			d->kind = DOC_FLOAT;
			d->f = f;
			return true;
		}
		d->i = (int64_t)v;
	}
	d->kind = DOC_INT;
	d->f = (double)d->i;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.inf | \.nan (three spellings each).
 */
static bool resolve_float(struct doc *d)
{
	const char *s = d->str, *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (is_one_of(p, ".inf", ".Inf", ".INF")) {
		d->kind = DOC_FLOAT;
		d->f = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (p == s && is_one_of(p, ".nan", ".NaN", ".NAN")) {
		d->kind = DOC_FLOAT;
		d->f = NAN;
		return true;
	}
	size_t int_digits = strspn(p, "0123456789"), frac_digits = 0;
	p += int_digits;
	if (*p == '.') {
		frac_digits = strspn(p + 1, "0123456789");
		p += 1 + frac_digits;
	}
	if (int_digits == 0 && frac_digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		size_t exp_digits = strspn(p, "0123456789");
		if (!exp_digits)
			return false;
		p += exp_digits;
	}
	if (*p)
		return false;
	d->kind = DOC_FLOAT;
	d->f = strtod(s, NULL);
	return true;
}

/* The YAML 1.2 core schema, for plain scalars: sets @d's kind and value from its text. */
static void resolve_plain(struct doc *d)
{
	const char *s = d->str;
	d->kind = DOC_STR;
	if (!*s || strcmp(s, "~") == 0 || is_one_of(s, "null", "Null", "NULL")) {
		d->kind = DOC_NULL;
	} else if (is_one_of(s, "true", "True", "TRUE")) {
		d->kind = DOC_BOOL;
		d->b = true;
	} else if (is_one_of(s, "false", "False", "FALSE")) {
		d->kind = DOC_BOOL;
		d->b = false;
	} else if (!resolve_int(d)) {
		resolve_float(d);
	}
}

/* "!!int" for the core tags, the tag itself for any other. */
static const char *tag_name(struct arena *a, const char *tag)
{
	size_t n = strlen(CORE_TAG);
	return strncmp(tag, CORE_TAG, n) == 0 ? arena_printf(a, "!!%s", tag + n) : tag;
}

/* An explicit tag on a scalar (libyaml hands it over expanded to its full name). */
static int yb_scalar_tag(struct yb *b, struct doc *d, const char *tag)
{
	size_t n = strlen(CORE_TAG);
	const char *t = tag + n;
	bool ok;
	if (strcmp(tag, "!") == 0) /* the non-specific tag: a string */
		return 0;
	if (strncmp(tag, CORE_TAG, n) != 0)
		return err_at(b->e, d->loc, "unsupported tag '%s'", tag);
	if (strcmp(t, "str") == 0)
		return 0;
	resolve_plain(d);
	if (strcmp(t, "null") == 0) {
		ok = d->kind == DOC_NULL;
	} else if (strcmp(t, "bool") == 0) {
		ok = d->kind == DOC_BOOL;
	} else if (strcmp(t, "int") == 0) {
		ok = d->kind == DOC_INT;
	} else if (strcmp(t, "float") == 0) {
		ok = d->kind == DOC_INT || d->kind == DOC_FLOAT;
		d->kind = DOC_FLOAT; /* f is already set for an integer */
	} else {
		return err_at(b->e, d->loc, "unsupported tag '%s' on a scalar",
			      tag_name(b->a, tag));
	}
	if (!ok)
		return err_at(b->e, d->loc, "'%s' is not a valid %s", d->str, tag_name(b->a, tag));
	return 0;
}

static int yb_scalar(struct yb *b, const yaml_event_t *ev, struct doc **out)
{
	const char *value = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	yaml_scalar_style_t style = ev->data.scalar.style;
	struct doc *d = doc_new(b->a, DOC_STR, yb_loc(b, ev->start_mark));

	/* "\0" in a double-quoted scalar: a C string cannot hold it */
	if (memchr(value, '\0', len))
		return err_at(b->e, d->loc, "string contains a NUL character");
	d->str = arena_strndup(b->a, value, len);
	d->quoted = style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		    style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	d->multiline = style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE ||
		       ev->start_mark.line != ev->end_mark.line;
	/* every escape ("\n", "\u00e9", '') is longer than what it stands for */
	d->escaped =
		d->quoted && !d->multiline &&
		ev->end_mark.column - ev->start_mark.column != (size_t)utf8_cols(value, len) + 2;
	*out = d;
	if (tag)
		return yb_scalar_tag(b, d, tag);
	if (style == YAML_PLAIN_SCALAR_STYLE)
		resolve_plain(d);
	return 0;
}

static int yb_alias(struct yb *b, const yaml_event_t *ev, struct doc **out)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct loc at = yb_loc(b, ev->start_mark);
	int64_t i;
	if (!strmap_get(&b->anchor_index, name, &i))
		return err_at(b->e, at, "unknown alias '*%s'", name);
	if (i < 0)
		return err_at(b->e, at, "alias '*%s' is inside the node it refers to", name);
	b->expanded += b->anchors[i].size;
	if (b->expanded > YAML_MAX_EXPANDED)
		return err_at(b->e, at, "aliases expand the spec beyond %llu nodes",
			      (unsigned long long)YAML_MAX_EXPANDED);
	*out = b->anchors[i].d;
	return 0;
}

static int yb_collection(struct yb *b, const yaml_event_t *ev, int depth, struct doc **out)
{
	bool is_map = ev->type == YAML_MAPPING_START_EVENT;
	const char *tag =
		(const char *)(is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct doc *d = doc_new(b->a, is_map ? DOC_MAP : DOC_SEQ, yb_loc(b, ev->start_mark));
	struct doc_list l;
	yaml_event_t child;
	int rc = -1;

	doc_list_init(&l);
	memset(&child, 0, sizeof child);
	if (tag && strcmp(tag, "!") != 0 &&
	    strcmp(tag, is_map ? CORE_TAG "map" : CORE_TAG "seq") != 0) {
		err_at(b->e, d->loc, "unsupported tag '%s' on a %s", tag_name(b->a, tag),
		       doc_kind_name(d->kind));
		goto out;
	}
	if (depth > SPEC_MAX_DEPTH) {
		err_at(b->e, d->loc, "nesting deeper than %d levels", SPEC_MAX_DEPTH);
		goto out;
	}
	for (;;) {
		struct doc *item = NULL;
		if (yb_next(b, &child))
			goto out;
		if (child.type == end)
			break;
		if (is_map) {
			struct loc key_loc = yb_loc(b, child.start_mark);
			struct doc *key = NULL;
			if (yb_node(b, &child, depth + 1, &key))
				goto out;
			if (key->kind == DOC_SEQ || key->kind == DOC_MAP) {
				err_at(b->e, key_loc, "a mapping key must be a scalar, not a %s",
				       doc_kind_name(key->kind));
				goto out;
			}
			if (doc_list_add_key(&l, key->str, key_loc, b->e))
				goto out;
			yaml_event_delete(&child);
			if (yb_next(b, &child))
				goto out;
		}
		if (yb_node(b, &child, depth + 1, &item))
			goto out;
		doc_list_add_item(&l, item);
		yaml_event_delete(&child);
	}
	doc_list_finish(&l, b->a, d);
	*out = d;
	rc = 0;
out:
	yaml_event_delete(&child);
	doc_list_release(&l);
	return rc;
}

/* Reads the node that @ev starts (the caller still owns @ev). */
static int yb_node(struct yb *b, const yaml_event_t *ev, int depth, struct doc **out)
{
	const yaml_char_t *anchor = NULL;
	const char *name = NULL;
	uint64_t before = b->expanded;
	int rc;

	switch (ev->type) {
	case YAML_ALIAS_EVENT: return yb_alias(b, ev, out);
	case YAML_SCALAR_EVENT: anchor = ev->data.scalar.anchor; break;
	case YAML_SEQUENCE_START_EVENT: anchor = ev->data.sequence_start.anchor; break;
	case YAML_MAPPING_START_EVENT: anchor = ev->data.mapping_start.anchor; break;
	default: return err_at(b->e, yb_loc(b, ev->start_mark), "unexpected YAML event");
	}
	if (anchor) {
		name = arena_strdup(b->a, (const char *)anchor);
		strmap_put(&b->anchor_index, name, -1);
	}
	b->expanded++;
	rc = ev->type == YAML_SCALAR_EVENT ? yb_scalar(b, ev, out)
					   : yb_collection(b, ev, depth, out);
	if (rc == 0 && name) {
		XGROW(b->anchors, b->cap_anchors, b->n_anchors + 1);
		b->anchors[b->n_anchors] = (struct yaml_anchor){ *out, b->expanded - before };
		strmap_put(&b->anchor_index, name, (int64_t)b->n_anchors);
		b->n_anchors++;
	}
	return rc;
}

int spec_yaml_parse(struct arena *a, const char *file, const char *text, size_t len,
		    struct doc **root, struct err *e)
{
	struct yb b;
	yaml_event_t ev;
	bool seen_doc = false;
	int rc = -1;

	memset(&b, 0, sizeof b);
	memset(&ev, 0, sizeof ev);
	b.a = a;
	b.file = file;
	b.e = e;
	strmap_init(&b.anchor_index);
	linecur_init(&b.cur, file, text, len);
	*root = NULL;
	if (!yaml_parser_initialize(&b.parser)) {
		err_at(e, (struct loc){ file, 1, 1 }, "out of memory while reading YAML");
		goto out;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
	for (;;) {
		if (yb_next(&b, &ev))
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT)
			break;
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			if (seen_doc) {
				err_at(e, yb_loc(&b, ev.start_mark),
				       "a second YAML document (a spec is a single document)");
				goto out;
			}
			seen_doc = true;
		} else if (ev.type != YAML_STREAM_START_EVENT &&
			   ev.type != YAML_DOCUMENT_END_EVENT) {
			if (yb_node(&b, &ev, 1, root))
				goto out;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
out:
	yaml_event_delete(&ev);
	yaml_parser_delete(&b.parser);
	strmap_release(&b.anchor_index);
	free(b.anchors);
	return rc;
}
