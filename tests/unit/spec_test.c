/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for spec/: the two spellings (YAML, JSON) of one located tree,
 * scalar typing, locations checked to the column, the error lines a user
 * sees (compared whole, as main.c would print them), params with --set, and
 * ${name} substitution. Spec text is inline; spec_load() gets a temp folder.
 */
#include "test.h"

#include "spec/spec.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err_line[1024];

static int parse_sets(struct spec *s, struct err *e, const char *name, const char *text,
		      const char *const *sets, size_t n_sets)
{
	err_init(e);
	int rc = spec_parse_text(s, name, text, strlen(text), sets, n_sets, e);
	err_format(e, err_line, sizeof err_line);
	return rc;
}

static int parse(struct spec *s, struct err *e, const char *name, const char *text)
{
	return parse_sets(s, e, name, text, NULL, 0);
}

/* The error line for a spec that must fail to load ("" when it loads). */
static const char *fails(const char *name, const char *text)
{
	struct spec s;
	struct err e;
	int rc = parse(&s, &e, name, text);
	spec_release(&s);
	if (rc == 0)
		return "";
	CHECK(rc == -1 && e.code == ERR_SPEC);
	return err_line;
}

static bool loc_is(struct loc l, uint32_t line, uint32_t col)
{
	if (l.line == line && l.col == col)
		return true;
	fprintf(stderr, "  loc is %u:%u, expected %u:%u\n", l.line, l.col, line, col);
	return false;
}

static const struct doc *path(const struct doc *d, const char *a, const char *b, const char *c)
{
	const char *keys[] = { a, b, c };
	for (size_t i = 0; i < 3 && keys[i] && d; i++)
		d = doc_get(d, keys[i]);
	return d;
}

/* Same values, keys and kinds; locations and quoting are spelling, not content. */
static bool same_tree(const struct doc *a, const struct doc *b)
{
	if (!a || !b || a->kind != b->kind)
		return false;
	if ((a->str == NULL) != (b->str == NULL) || (a->str && strcmp(a->str, b->str) != 0))
		return false;
	switch (a->kind) {
	case DOC_BOOL: return a->b == b->b;
	case DOC_INT: return a->i == b->i && a->f == b->f;
	case DOC_FLOAT: return a->f == b->f || (isnan(a->f) && isnan(b->f));
	case DOC_SEQ:
	case DOC_MAP:
		if (a->n != b->n)
			return false;
		for (size_t i = 0; i < a->n; i++) {
			if (a->kind == DOC_MAP && strcmp(a->keys[i], b->keys[i]) != 0)
				return false;
			if (!same_tree(a->items[i], b->items[i]))
				return false;
		}
		return true;
	default: return true;
	}
}

static void test_yaml_json_same_tree(void)
{
	static const char yaml[] =
		"tessera: 1\n"
		"params:\n"
		"  files: 4\n"
		"  name: \"x\\ty\"\n"
		"nodes:\n"
		"  load:\n"
		"    op: read_csv\n"
		"    args: [1, -2.5, true, null, \"s\", 1e3]\n"
		"    big: 12345678901234567890\n"
		"    empty: {}\n"
		"    none: []\n"
		"outputs:\n"
		"  out: load\n";
	static const char json[] =
		"{\"tessera\": 1, \"params\": {\"files\": 4, \"name\": \"x\\ty\"},\n"
		" \"nodes\": {\"load\": {\"op\": \"read_csv\",\n"
		"   \"args\": [1, -2.5, true, null, \"s\", 1e3],\n"
		"   \"big\": 12345678901234567890, \"empty\": {}, \"none\": []}},\n"
		" \"outputs\": {\"out\": \"load\"}}\n";
	struct spec y, j;
	struct err ey, ej;
	CHECK(parse(&y, &ey, "t.yaml", yaml) == 0);
	CHECK(parse(&j, &ej, "t.yaml", json) == 0); /* JSON by its first byte */
	CHECK(y.root && j.root && same_tree(y.root, j.root));
	CHECK(y.n_params == 2 && j.n_params == 2);
	if (y.n_params == 2 && j.n_params == 2) {
		CHECK_STR(y.params[1].value, "x\ty");
		CHECK_STR(j.params[1].value, "x\ty");
		CHECK_STR(j.params[0].name, "files");
	}
	const struct doc *big = path(j.root, "nodes", "load", "big");
	CHECK(big && big->kind == DOC_FLOAT);
	const struct doc *args = path(y.root, "nodes", "load", "args");
	CHECK(args && args->kind == DOC_SEQ && args->n == 6);
	if (args && args->n == 6) {
		CHECK(args->items[5]->kind == DOC_FLOAT && args->items[5]->f == 1000);
		CHECK_STR(args->items[5]->str, "1e3");
	}
	spec_release(&y);
	spec_release(&j);
}

static void test_yaml_locations(void)
{
	static const char text[] =
		"tessera: 1\n"             /* 1 */
		"nodes:\n"                 /* 2 */
		"  load:\n"                /* 3 */
		"    op: \"read\"\n"       /* 4 */
		"    args: [a, 'b']\n"     /* 5 */
		"    list:\n"              /* 6 */
		"    - 1\n"                /* 7 */
		"    text: |\n"            /* 8 */
		"      hi\n"               /* 9 */
		"    fold: a\n"            /* 10 */
		"      b\n";               /* 11 */
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "t.yaml", text) == 0);
	const struct doc *r = s.root, *load = path(r, "nodes", "load", NULL);
	CHECK(r && r->kind == DOC_MAP && loc_is(r->loc, 1, 1));
	CHECK(loc_is(doc_key_loc(r, "tessera"), 1, 1));
	CHECK(loc_is(doc_get(r, "tessera")->loc, 1, 10));
	CHECK(loc_is(doc_key_loc(r, "nodes"), 2, 1));
	CHECK(loc_is(doc_get(r, "nodes")->loc, 3, 3));
	CHECK(loc_is(doc_key_loc(doc_get(r, "nodes"), "load"), 3, 3));
	CHECK(load && loc_is(load->loc, 4, 5));
	CHECK(loc_is(doc_key_loc(load, "op"), 4, 5));
	const struct doc *op = doc_get(load, "op");
	CHECK(op && op->quoted && !op->escaped && !op->multiline && loc_is(op->loc, 4, 9));
	CHECK_STR(op->str, "read");
	const struct doc *args = doc_get(load, "args");
	CHECK(args && args->kind == DOC_SEQ && loc_is(args->loc, 5, 11));
	CHECK(args->n == 2 && loc_is(args->items[0]->loc, 5, 12) &&
	      loc_is(args->items[1]->loc, 5, 15));
	CHECK(args->items[1]->quoted && !args->items[0]->quoted);
	const struct doc *list = doc_get(load, "list");
	CHECK(list && list->kind == DOC_SEQ && loc_is(list->loc, 7, 5));
	CHECK(list->n == 1 && loc_is(list->items[0]->loc, 7, 7) && list->items[0]->kind == DOC_INT);
	const struct doc *txt = doc_get(load, "text");
	CHECK(txt && txt->multiline && loc_is(txt->loc, 8, 11));
	CHECK_STR(txt->str, "hi\n");
	CHECK(loc_is(doc_loc_at(txt, 1), 8, 11)); /* no column inside a block scalar */
	const struct doc *fold = doc_get(load, "fold");
	CHECK(fold && fold->multiline && !fold->quoted && loc_is(fold->loc, 10, 11));
	CHECK_STR(fold->str, "a b");
	/* absent key: the map's own place */
	CHECK(loc_is(doc_key_loc(load, "nope"), 4, 5));
	CHECK(doc_get(load, "nope") == NULL && doc_get(op, "x") == NULL);
	spec_release(&s);
}

static void test_json_locations(void)
{
	static const char text[] =
		"{\n"
		"  \"tessera\": 1,\n"
		"  \"nodes\": {\n"
		"    \"load\": {\"op\": \"r\\u00e9ad\", \"n\": -1.5e3, \"ok\": false},\n"
		"    \"x\": [null, \"plain\"]\n"
		"  }\n"
		"}\n";
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "t.json", text) == 0);
	const struct doc *r = s.root, *nodes = doc_get(r, "nodes"), *load = doc_get(nodes, "load");
	CHECK(r && loc_is(r->loc, 1, 1));
	CHECK(loc_is(doc_key_loc(r, "tessera"), 2, 3));
	CHECK(loc_is(doc_get(r, "tessera")->loc, 2, 14));
	CHECK(loc_is(doc_key_loc(r, "nodes"), 3, 3));
	CHECK(nodes && loc_is(nodes->loc, 3, 12));
	CHECK(loc_is(doc_key_loc(nodes, "load"), 4, 5));
	CHECK(load && loc_is(load->loc, 4, 13));
	CHECK(loc_is(doc_key_loc(load, "op"), 4, 14));
	const struct doc *op = doc_get(load, "op");
	CHECK(op && op->quoted && op->escaped && loc_is(op->loc, 4, 20));
	CHECK_STR(op->str, "r\xc3\xa9" "ad");
	CHECK(loc_is(doc_loc_at(op, 2), 4, 20)); /* escapes: no column inside */
	CHECK(loc_is(doc_key_loc(load, "n"), 4, 33));
	const struct doc *n = doc_get(load, "n");
	CHECK(n && n->kind == DOC_FLOAT && n->f == -1500 && loc_is(n->loc, 4, 38));
	CHECK_STR(n->str, "-1.5e3");
	CHECK(loc_is(doc_key_loc(load, "ok"), 4, 46));
	CHECK(loc_is(doc_get(load, "ok")->loc, 4, 52));
	const struct doc *x = doc_get(nodes, "x");
	CHECK(x && x->kind == DOC_SEQ && x->n == 2 && loc_is(x->loc, 5, 10));
	CHECK(loc_is(x->items[0]->loc, 5, 11) && loc_is(x->items[1]->loc, 5, 17));
	CHECK(loc_is(doc_loc_at(x->items[1], 2), 5, 20)); /* quote + 2 */
	spec_release(&s);
}

/* CRLF line ends, a BOM, and non-ASCII text must not shift columns. */
static void test_locations_bom_crlf_utf8(void)
{
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "t.json",
		    "\xEF\xBB\xBF{\r\n \"tessera\": 1,\r\n"
		    " \"nodes\": {\"\xC3\xA9\": \"\xC3\xBC ${x}\"}}") == 0);
	const struct doc *nodes = doc_get(s.root, "nodes");
	CHECK(loc_is(doc_key_loc(s.root, "tessera"), 2, 2));
	CHECK(loc_is(doc_key_loc(s.root, "nodes"), 3, 2));
	CHECK(loc_is(doc_key_loc(nodes, "\xC3\xA9"), 3, 12));
	const struct doc *v = doc_get(nodes, "\xC3\xA9");
	CHECK(v && loc_is(v->loc, 3, 17) && loc_is(doc_loc_at(v, 3), 3, 20));
	spec_release(&s);

	CHECK(parse(&s, &e, "t.yaml",
		    "\xEF\xBB\xBFtessera: 1\r\nnodes:\r\n  \xC3\xA9: \xC3\xBC ${x}\r\n") == 0);
	nodes = doc_get(s.root, "nodes");
	CHECK(loc_is(doc_key_loc(s.root, "tessera"), 1, 1));
	v = doc_get(nodes, "\xC3\xA9");
	CHECK(v && loc_is(v->loc, 3, 6) && loc_is(doc_loc_at(v, 3), 3, 8));
	spec_release(&s);
}

struct typing {
	const char *text;
	enum doc_kind kind;
	double value; /* b, i or f */
};

static void test_yaml_scalar_types(void)
{
	static const struct typing table[] = {
		{ "", DOC_NULL, 0 },          { "~", DOC_NULL, 0 },
		{ "null", DOC_NULL, 0 },      { "Null", DOC_NULL, 0 },
		{ "NULL", DOC_NULL, 0 },      { "nULL", DOC_STR, 0 },
		{ "true", DOC_BOOL, 1 },      { "True", DOC_BOOL, 1 },
		{ "TRUE", DOC_BOOL, 1 },      { "false", DOC_BOOL, 0 },
		{ "False", DOC_BOOL, 0 },     { "FALSE", DOC_BOOL, 0 },
		{ "yes", DOC_STR, 0 },        { "on", DOC_STR, 0 },
		{ "42", DOC_INT, 42 },        { "-17", DOC_INT, -17 },
		{ "+5", DOC_INT, 5 },         { "0", DOC_INT, 0 },
		{ "007", DOC_INT, 7 },        { "0x1F", DOC_INT, 31 },
		{ "0o17", DOC_INT, 15 },      { "0x", DOC_STR, 0 },
		{ "0o8", DOC_STR, 0 },        { "0b11", DOC_STR, 0 },
		{ "1_000", DOC_STR, 0 },      { "1.5", DOC_FLOAT, 1.5 },
		{ "-.5", DOC_FLOAT, -0.5 },   { "1.", DOC_FLOAT, 1 },
		{ "1e3", DOC_FLOAT, 1000 },   { "6.5E-1", DOC_FLOAT, 0.65 },
		{ ".inf", DOC_FLOAT, INFINITY }, { "-.Inf", DOC_FLOAT, -INFINITY },
		{ "+.INF", DOC_FLOAT, INFINITY }, { ".nan", DOC_FLOAT, NAN },
		{ ".NaN", DOC_FLOAT, NAN },   { "-.nan", DOC_STR, 0 },
		{ "1e", DOC_STR, 0 },         { ".", DOC_STR, 0 },
		{ "1.2.3", DOC_STR, 0 },      { "abc", DOC_STR, 0 },
		{ "inf", DOC_STR, 0 },
		{ "12345678901234567890", DOC_FLOAT, 12345678901234567890.0 },
		{ "0xFFFFFFFFFFFFFFFFF", DOC_FLOAT, 295147905179352825855.0 },
		{ "\"42\"", DOC_STR, 0 },     { "'true'", DOC_STR, 0 },
		{ "!!str 42", DOC_STR, 0 },   { "! 42", DOC_STR, 0 },
		{ "!!float 3", DOC_FLOAT, 3 }, { "!!int \"12\"", DOC_INT, 12 },
		{ "!!bool true", DOC_BOOL, 1 }, { "!!null ~", DOC_NULL, 0 },
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct typing *t = &table[i];
		char text[256];
		struct spec s;
		struct err e;
		snprintf(text, sizeof text, "tessera: 1\nnodes: {}\nparams:\n  v: %s\n", t->text);
		int rc = parse(&s, &e, "t.yaml", text);
		const struct doc *v = path(s.root, "params", "v", NULL);
		bool ok = rc == 0 && v && v->kind == t->kind;
		if (ok && t->kind == DOC_BOOL)
			ok = v->b == (t->value != 0);
		if (ok && t->kind == DOC_INT)
			ok = v->i == (int64_t)t->value && v->f == t->value;
		if (ok && t->kind == DOC_FLOAT)
			ok = isnan(t->value) ? isnan(v->f) : v->f == t->value;
		/* the text as written, whatever the kind */
		if (ok && t->text[0] != '"' && t->text[0] != '\'' && t->text[0] != '!')
			ok = strcmp(v->str, t->text) == 0;
		if (!ok)
			fprintf(stderr, "  typing '%s': rc %d kind %s (%s)\n", t->text, rc,
				v ? doc_kind_name(v->kind) : "-", err_line);
		CHECK(ok);
		spec_release(&s);
	}
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "t.yaml",
		    "tessera: 1\nnodes: {}\nparams: {max: 9223372036854775807}\n") == 0);
	const struct doc *max = path(s.root, "params", "max", NULL);
	CHECK(max && max->kind == DOC_INT && max->i == INT64_MAX);
	spec_release(&s);
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {a: !!int x}\n"),
		  "tessera: t.yaml:2:12: 'x' is not a valid !!int");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {a: !custom x}\n"),
		  "tessera: t.yaml:2:12: unsupported tag '!custom'");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: !!seq {a: 1}\n"),
		  "tessera: t.yaml:2:8: unsupported tag '!!seq' on a mapping");
}

static void test_json_scalar_types(void)
{
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "t.json",
		    "{\"tessera\": 1, \"nodes\": {},"
		    " \"params\": {\"a\": 1.50, \"b\": -0, \"c\": 1E2,"
		    " \"d\": \"x\\\"y\", \"e\": true, \"f\": null, \"g\": 9223372036854775807,"
		    " \"h\": 9223372036854775808, \"i\": false}}") == 0);
	const struct doc *p = doc_get(s.root, "params");
	const struct doc *a = doc_get(p, "a"), *b = doc_get(p, "b"), *c = doc_get(p, "c");
	const struct doc *d = doc_get(p, "d"), *t = doc_get(p, "e"), *n = doc_get(p, "f");
	const struct doc *g = doc_get(p, "g"), *h = doc_get(p, "h"), *f = doc_get(p, "i");
	CHECK(a && a->kind == DOC_FLOAT && a->f == 1.5);
	CHECK_STR(a->str, "1.50");
	CHECK(b && b->kind == DOC_INT && b->i == 0);
	CHECK_STR(b->str, "-0");
	CHECK(c && c->kind == DOC_FLOAT && c->f == 100);
	CHECK_STR(c->str, "1E2");
	CHECK(d && d->kind == DOC_STR && d->quoted && d->escaped);
	CHECK_STR(d->str, "x\"y");
	CHECK(t && t->kind == DOC_BOOL && t->b);
	CHECK_STR(t->str, "true");
	CHECK(f && f->kind == DOC_BOOL && !f->b);
	CHECK_STR(f->str, "false");
	CHECK(n && n->kind == DOC_NULL);
	CHECK_STR(n->str, "null");
	CHECK(g && g->kind == DOC_INT && g->i == INT64_MAX);
	CHECK(h && h->kind == DOC_FLOAT);
	CHECK_STR(h->str, "9223372036854775808");
	CHECK_STR(s.params[1].value, "-0");
	spec_release(&s);
}

static void test_duplicate_keys(void)
{
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes:\n  load: {}\n  load: {}\n"),
		  "tessera: t.yaml:4:3: duplicate key 'load' (first at 3:3)");
	CHECK_STR(fails("t.json", "{\"tessera\": 1,\n \"nodes\": {\"load\": {}, \"load\": {}}}"),
		  "tessera: t.json:2:24: duplicate key 'load' (first at 2:12)");
	/* JSON escapes are compared after unescaping */
	CHECK_STR(fails("t.json", "{\"tessera\": 1, \"nodes\": {}, \"t\\u0065ssera\": 1}"),
		  "tessera: t.json:1:29: duplicate key 'tessera' (first at 1:2)");
	/* a big map takes the hashed path */
	char text[4096] = "tessera: 1\nnodes:\n";
	for (int i = 0; i < 40; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "  n%d: {}\n", i);
	strcat(text, "  n7: {}\n");
	CHECK_STR(fails("t.yaml", text),
		  "tessera: t.yaml:43:3: duplicate key 'n7' (first at 10:3)");
}

static void test_top_level(void)
{
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodez: {}\n"),
		  "tessera: t.yaml:2:1: unknown top-level key 'nodez' (did you mean 'nodes'?)");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {}\nfrobnicate: 1\n"),
		  "tessera: t.yaml:3:1: unknown top-level key 'frobnicate'");
	CHECK_STR(fails("t.json", "{\"tessera\": 1, \"nodes\": {}, \"output\": {}}"),
		  "tessera: t.json:1:29: unknown top-level key 'output' (did you mean 'outputs'?)");
	CHECK_STR(fails("t.yaml", "tessera: 1\n"), "tessera: t.yaml:1:1: missing 'nodes'");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: [a]\n"),
		  "tessera: t.yaml:2:8: 'nodes' must be a mapping, not a sequence");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes:\n"),
		  "tessera: t.yaml:2:7: 'nodes' must be a mapping, not null");
	CHECK_STR(fails("t.yaml", "tessera: 1\nparams: 3\nnodes: {}\n"),
		  "tessera: t.yaml:2:9: 'params' must be a mapping, not an integer");
	CHECK_STR(fails("t.yaml", "tessera: 1\nparams: {a: [1]}\nnodes: {}\n"),
		  "tessera: t.yaml:2:13: parameter 'a' must be a scalar, not a sequence");
	CHECK_STR(fails("t.yaml", "tessera: 1\nparams: {spec_dir: x}\nnodes: {}\n"),
		  "tessera: t.yaml:2:10: 'spec_dir' is reserved: ${spec_dir} is the spec's folder");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {}\noutputs: x\n"),
		  "tessera: t.yaml:3:10: 'outputs' must be a mapping, not a string");
	CHECK_STR(fails("t.yaml", "- a\n"),
		  "tessera: t.yaml:1:1: the spec must be a mapping, not a sequence");
	CHECK_STR(fails("t.yaml", "[1]\n"), /* JSON by its first byte */
		  "tessera: t.yaml:1:1: the spec must be a mapping, not a sequence");
	CHECK_STR(fails("t.yaml", "# nothing\n"),
		  "tessera: t.yaml:1:1: empty spec (expected a mapping with 'tessera: 1')");
}

static void test_version(void)
{
	CHECK_STR(fails("t.yaml", "tessera: 2\nnodes: {}\n"),
		  "tessera: t.yaml:1:10: unsupported spec version '2'"
		  " (this tessera reads version 1)");
	/* the version is checked before unknown keys: a newer spec has newer keys */
	CHECK_STR(fails("t.yaml", "shiny: 1\ntessera: 2\n"),
		  "tessera: t.yaml:2:10: unsupported spec version '2'"
		  " (this tessera reads version 1)");
	CHECK_STR(fails("t.json", "{\"nodes\": {}, \"tessera\": 0}"),
		  "tessera: t.json:1:26: unsupported spec version '0'"
		  " (this tessera reads version 1)");
	CHECK_STR(fails("t.yaml", "nodes: {}\n"), "tessera: t.yaml:1:1: missing 'tessera: 1'");
	CHECK_STR(fails("t.yaml", "tessera: \"1\"\nnodes: {}\n"),
		  "tessera: t.yaml:1:10: 'tessera' must be the integer 1, not a string");
	CHECK_STR(fails("t.yaml", "tessera: 1.0\nnodes: {}\n"),
		  "tessera: t.yaml:1:10: 'tessera' must be the integer 1, not a float");
	CHECK_STR(fails("t.yaml", "tesera: 1\nnodes: {}\n"),
		  "tessera: t.yaml:1:1: unknown top-level key 'tesera' (did you mean 'tessera'?)");
}

static const char param_spec[] =
	"tessera: 1\n"
	"params:\n"
	"  files: 4\n"
	"  mode: fast\n"
	"nodes:\n"
	"  a: {n: \"${files}-${mode}\"}\n";

static void test_set(void)
{
	struct spec s;
	struct err e;
	const char *sets[] = { "files=8", "mode=a=b", "files=16" };
	CHECK(parse_sets(&s, &e, "t.yaml", param_spec, sets, 3) == 0);
	CHECK(s.n_params == 2);
	if (s.n_params == 2) {
		CHECK_STR(s.params[0].name, "files");
		CHECK_STR(s.params[0].value, "16"); /* the last --set wins */
		CHECK_STR(s.params[0].loc.file, "--set");
		CHECK(s.params[0].loc.line == 0);
		CHECK_STR(s.params[1].value, "a=b");
	}
	const struct doc *n = path(s.root, "nodes", "a", "n");
	CHECK_STR(spec_subst(&s, n, &e), "16-a=b");
	spec_release(&s);

	CHECK(parse_sets(&s, &e, "t.yaml", param_spec, NULL, 0) == 0);
	CHECK(s.params[1].loc.line == 4 && s.params[1].loc.col == 9);
	CHECK_STR(s.params[1].loc.file, "t.yaml");
	CHECK_STR(spec_subst(&s, path(s.root, "nodes", "a", "n"), &e), "4-fast");
	spec_release(&s);

	const char *bad[] = { "xyz" };
	CHECK(parse_sets(&s, &e, "t.yaml", param_spec, bad, 1) == -1 && e.code == ERR_SPEC);
	CHECK_STR(err_line, "tessera: bad --set 'xyz': expected NAME=VALUE");
	spec_release(&s);
	const char *empty[] = { "=3" };
	CHECK(parse_sets(&s, &e, "t.yaml", param_spec, empty, 1) == -1 && e.code == ERR_SPEC);
	CHECK_STR(err_line, "tessera: bad --set '=3': expected NAME=VALUE");
	spec_release(&s);
	const char *typo[] = { "filez=3" };
	CHECK(parse_sets(&s, &e, "t.yaml", param_spec, typo, 1) == -1 && e.code == ERR_SPEC);
	CHECK_STR(err_line, "tessera: t.yaml:2:1: --set 'filez=3': no parameter 'filez' (did you mean 'files'?)");
	spec_release(&s);
	const char *far[] = { "verbosity=3" };
	CHECK(parse_sets(&s, &e, "t.yaml", param_spec, far, 1) == -1 && e.code == ERR_SPEC);
	CHECK_STR(err_line, "tessera: t.yaml:2:1: --set 'verbosity=3': no parameter 'verbosity'");
	spec_release(&s);
}

static const char subst_spec[] =
	"tessera: 1\n"                                     /* 1 */
	"params:\n"                                        /* 2 */
	"  files: data/*.csv\n"                            /* 3 */
	"  n: 3\n"                                         /* 4 */
	"nodes:\n"                                         /* 5 */
	"  a:\n"                                           /* 6 */
	"    cmd: \"cat ${files} > ${spec_dir}/out${n}\"\n" /* 7 */
	"    lit: cost $$5 $${files} $HOME $\n"            /* 8 */
	"    plain: echo ${flies}\n"                       /* 9 */
	"    quoted: 'run ${HOME}'\n"                      /* 10 */
	"    open: x ${files\n"                            /* 11 */
	"    esc: \"a\\tb ${bad}\"\n"                      /* 12 */
	"    none: no dollars\n"                           /* 13 */
	"    block: |\n"                                   /* 14 */
	"      echo ${HOME}\n"                             /* 15 */
	"    num: 5\n"                                     /* 16 */
	"    nothing: ${}\n";                              /* 17 */

static const char *subst(struct spec *s, const char *key, struct err *e)
{
	err_init(e);
	const char *out = spec_subst(s, path(s->root, "nodes", "a", key), e);
	err_format(e, err_line, sizeof err_line);
	return out;
}

static void test_subst(void)
{
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "graphs/x.yaml", subst_spec) == 0);
	CHECK_STR(s.dir, "graphs");
	CHECK_STR(subst(&s, "cmd", &e), "cat data/*.csv > graphs/out3");
	CHECK_STR(subst(&s, "lit", &e), "cost $$5 ${files} $HOME $");
	const struct doc *none = path(s.root, "nodes", "a", "none");
	CHECK(subst(&s, "none", &e) == none->str);
	CHECK_STR(subst(&s, "num", &e), "5");

	CHECK(subst(&s, "plain", &e) == NULL && e.code == ERR_SPEC);
	CHECK_STR(err_line, "tessera: graphs/x.yaml:9:17: unknown parameter 'flies' in '${flies}'"
			    " (did you mean 'files'?)");
	CHECK(subst(&s, "quoted", &e) == NULL);
	CHECK_STR(err_line, "tessera: graphs/x.yaml:10:18: unknown parameter 'HOME' in '${HOME}'"
			    " (write $${HOME} for a shell variable)");
	CHECK(subst(&s, "open", &e) == NULL);
	CHECK_STR(err_line, "tessera: graphs/x.yaml:11:13: unterminated '${' in string");
	/* escapes and block scalars: no column inside, so the value's own */
	CHECK(subst(&s, "esc", &e) == NULL);
	CHECK_STR(err_line, "tessera: graphs/x.yaml:12:10: unknown parameter 'bad' in '${bad}'"
			    " (write $${bad} for a shell variable)");
	CHECK(subst(&s, "block", &e) == NULL);
	CHECK_STR(err_line, "tessera: graphs/x.yaml:14:12: unknown parameter 'HOME' in '${HOME}'"
			    " (write $${HOME} for a shell variable)");
	CHECK(subst(&s, "nothing", &e) == NULL);
	CHECK_STR(err_line, "tessera: graphs/x.yaml:17:14: empty parameter name in '${}'");
	/* a typo of spec_dir is offered too */
	struct doc typo = { .kind = DOC_STR, .str = "${spec_dri}", .loc = { "h.yaml", 2, 3 } };
	err_init(&e);
	CHECK(spec_subst(&s, &typo, &e) == NULL);
	err_format(&e, err_line, sizeof err_line);
	CHECK_STR(err_line, "tessera: h.yaml:2:3: unknown parameter 'spec_dri' in '${spec_dri}'"
			    " (did you mean 'spec_dir'?)");
	spec_release(&s);

	CHECK(parse(&s, &e, "x.yaml", subst_spec) == 0);
	CHECK_STR(s.dir, ".");
	CHECK_STR(subst(&s, "cmd", &e), "cat data/*.csv > ./out3");
	spec_release(&s);
	CHECK(parse(&s, &e, "/x.yaml", subst_spec) == 0);
	CHECK_STR(s.dir, "/");
	spec_release(&s);
	CHECK(parse(&s, &e, "-", subst_spec) == 0);
	CHECK_STR(s.dir, ".");
	spec_release(&s);

	/* JSON: the column of the '$' inside a string */
	CHECK(parse(&s, &e, "t.json",
		    "{\"tessera\":1,\"nodes\":{\"a\":{\"c\":\"ab ${nope}\"}}}") == 0);
	err_init(&e);
	CHECK(spec_subst(&s, path(s.root, "nodes", "a", "c"), &e) == NULL);
	err_format(&e, err_line, sizeof err_line);
	CHECK_STR(err_line, "tessera: t.json:1:36: unknown parameter 'nope' in '${nope}'"
			    " (write $${nope} for a shell variable)");
	spec_release(&s);
}

static void test_json_syntax_errors(void)
{
	CHECK_STR(fails("t.json", "{\n  \"tessera\": 1,\n  \"nodes\": {\"a\": 1 \"b\": 2}\n}\n"),
		  "tessera: t.json:3:20: invalid JSON: expected ',' or '}', found '\"'");
	CHECK_STR(fails("t.json", "{\"tessera\": 1,\n \"nodes\": {},\n}"),
		  "tessera: t.json:3:1: invalid JSON: expected a string key, found '}'");
	CHECK_STR(fails("t.json", "{\"tessera\": 1, \"nodes\": "),
		  "tessera: t.json:1:25: invalid JSON: expected a value, found end of input");
	CHECK_STR(fails("t.json", "{\"tessera\": tru}"),
		  "tessera: t.json:1:13: invalid JSON: expected a value, found 'tru'");
	CHECK_STR(fails("t.json", "{\"tessera\": 1} x"),
		  "tessera: t.json:1:16: invalid JSON: expected end of input, found 'x'");
	CHECK_STR(fails("t.json", "{\"tessera\": 01}"),
		  "tessera: t.json:1:13: invalid JSON: invalid number");
	CHECK_STR(fails("t.json", "{\"tessera\": 1, \"nodes\": {\"a\": \"abc\n\"}}"),
		  "tessera: t.json:1:31: invalid JSON: unterminated string");
	CHECK_STR(fails("t.json", "{\"tessera\": \"a\\qb\"}"),
		  "tessera: t.json:1:15: invalid JSON: invalid escape '\\q'");
	CHECK_STR(fails("t.json", "{\"tessera\" 1}"),
		  "tessera: t.json:1:12: invalid JSON: expected ':', found '1'");
	CHECK_STR(fails("t.json", "[1, 2,]"),
		  "tessera: t.json:1:7: invalid JSON: expected a value, found ']'");
	CHECK_STR(fails("t.json", "{'a': 1}"),
		  "tessera: t.json:1:2: invalid JSON: expected a string key or '}', found '''");
	CHECK_STR(fails("t.json", ""),
		  "tessera: t.json:1:1: invalid JSON: expected a value, found end of input");
	CHECK_STR(fails("t.json", "{\"a\": \"\\u0000\"}"),
		  "tessera: t.json:1:8: invalid JSON: \\u0000 is not allowed in a string");
	CHECK_STR(fails("t.json", "{\"a\": \"\\ud83d\\u0041\"}"),
		  "tessera: t.json:1:8: invalid JSON: unpaired UTF-16 surrogate in \\u escape");
	/* a .json name makes it JSON whatever it starts with */
	CHECK_STR(fails("t.json", "tessera: 1\n"),
		  "tessera: t.json:1:1: invalid JSON: expected a value, found 'tessera'");
}

static void test_yaml_syntax_errors(void)
{
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes:\n  a: 1\n   b: 2\n"),
		  "tessera: t.yaml:4:5: mapping values are not allowed in this context");
	CHECK_STR(fails("t.yaml", "tessera: \"1\nnodes: {}\n"),
		  "tessera: t.yaml:3:1: found unexpected end of stream"
		  " (while scanning a quoted scalar at 1:10)");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {}\n---\ntessera: 1\n"),
		  "tessera: t.yaml:3:1: a second YAML document (a spec is a single document)");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes:\n\ta: 1\n"),
		  "tessera: t.yaml:3:1: found a tab where YAML expects spaces"
		  " (indent with spaces)");
	CHECK_STR(fails("t.yaml", "tessera: 1\n? [a, b]\n: 1\n"),
		  "tessera: t.yaml:2:3: a mapping key must be a scalar, not a sequence");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {a: \"x\\0y\"}\n"),
		  "tessera: t.yaml:2:12: string contains a NUL character");
}

static void test_bad_bytes(void)
{
	struct spec s;
	struct err e;
	static const char nul[] = "tessera: 1\nno\0des: {}\n";
	err_init(&e);
	CHECK(spec_parse_text(&s, "t.yaml", nul, sizeof nul - 1, NULL, 0, &e) == -1);
	err_format(&e, err_line, sizeof err_line);
	CHECK_STR(err_line, "tessera: t.yaml:2:3: spec contains a NUL byte");
	spec_release(&s);
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes: {a: \"\xC3\xA9\xFF\"}\n"),
		  "tessera: t.yaml:2:14: invalid UTF-8 (byte 0xff)");
	CHECK_STR(fails("t.json", "{\"a\": \"\xC0\xAF\"}"), /* overlong */
		  "tessera: t.json:1:8: invalid UTF-8 (byte 0xc0)");
}

static void test_aliases(void)
{
	struct spec s;
	struct err e;
	CHECK(parse(&s, &e, "t.yaml",
		    "tessera: 1\n"
		    "nodes:\n"
		    "  base: &b {op: x, n: 2}\n"
		    "  copy: *b\n"
		    "  &k key: *b\n"
		    "  other: {*k : 1}\n") == 0);
	const struct doc *nodes = doc_get(s.root, "nodes");
	CHECK(doc_get(nodes, "copy") == doc_get(nodes, "base"));
	CHECK(doc_get(nodes, "key") == doc_get(nodes, "base"));
	CHECK(loc_is(doc_key_loc(doc_get(nodes, "other"), "key"), 6, 11));
	spec_release(&s);
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes:\n  a: *nope\n"),
		  "tessera: t.yaml:3:6: unknown alias '*nope'");
	CHECK_STR(fails("t.yaml", "tessera: 1\nnodes:\n  a: &s [1, *s]\n"),
		  "tessera: t.yaml:3:13: alias '*s' is inside the node it refers to");
	/* billion laughs: each level doubles ten times over */
	char text[2048] = "tessera: 1\nnodes:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
	for (int i = 1; i < 9; i++) {
		snprintf(text + strlen(text), sizeof text - strlen(text), "  l%d: &l%d [", i, i);
		for (int k = 0; k < 10; k++)
			snprintf(text + strlen(text), sizeof text - strlen(text), "%s*l%d",
				 k ? ", " : "", i - 1);
		strcat(text, "]\n");
	}
	/* l4 expands to 111111 nodes: the ninth *l4 in l5 crosses the cap */
	CHECK_STR(fails("t.yaml", text),
		  "tessera: t.yaml:8:52: aliases expand the spec beyond 1048576 nodes");
}

static void test_deep_nesting(void)
{
	char text[1024] = "{\"tessera\": 1, \"nodes\": {\"a\": ";
	size_t n = strlen(text);
	for (int i = 0; i < 300; i++)
		text[n++] = '[';
	text[n] = '\0';
	CHECK_STR(fails("t.json", text), "tessera: t.json:1:285: nesting deeper than 256 levels");
	strcpy(text, "tessera: 1\nnodes: {a: ");
	n = strlen(text);
	for (int i = 0; i < 300; i++)
		text[n++] = '[';
	for (int i = 0; i < 300; i++)
		text[n++] = ']';
	strcpy(text + n, "}\n");
	CHECK_STR(fails("t.yaml", text), "tessera: t.yaml:2:266: nesting deeper than 256 levels");
}

static void test_load_file(void)
{
	char dir[] = "/tmp/spec_test_XXXXXX", file[64], missing[80];
	struct spec s;
	struct err e;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof file, "%s/x.yaml", dir);
	snprintf(missing, sizeof missing, "%s/missing.yaml", dir);
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(param_spec, f);
	fclose(f);

	const char *sets[] = { "mode=slow" };
	err_init(&e);
	CHECK(spec_load(&s, file, sets, 1, &e) == 0);
	CHECK_STR(s.path, file);
	CHECK_STR(s.dir, dir);
	CHECK_STR(s.params[1].value, "slow");
	CHECK_STR(doc_get(s.root, "tessera")->loc.file, file);
	spec_release(&s);

	err_init(&e);
	CHECK(spec_load(&s, missing, NULL, 0, &e) == -1);
	CHECK(e.code == ERR_SPEC && e.sys_errno == ENOENT && e.loc.line == 0);
	err_format(&e, err_line, sizeof err_line);
	char want[200];
	snprintf(want, sizeof want, "tessera: %s: cannot read spec: No such file or directory",
		 missing);
	CHECK_STR(err_line, want);
	spec_release(&s);

	err_init(&e);
	CHECK(spec_load(&s, dir, NULL, 0, &e) == -1 && e.sys_errno == EISDIR);
	spec_release(&s);
	spec_release(&s); /* twice is harmless */

	unlink(file);
	rmdir(dir);
}

static void test_kind_names(void)
{
	CHECK_STR(doc_kind_name(DOC_NULL), "null");
	CHECK_STR(doc_kind_name(DOC_BOOL), "boolean");
	CHECK_STR(doc_kind_name(DOC_INT), "integer");
	CHECK_STR(doc_kind_name(DOC_FLOAT), "float");
	CHECK_STR(doc_kind_name(DOC_STR), "string");
	CHECK_STR(doc_kind_name(DOC_SEQ), "sequence");
	CHECK_STR(doc_kind_name(DOC_MAP), "mapping");
}

const struct test spec_tests[] = {
	{ "spec/yaml_json_same_tree", test_yaml_json_same_tree },
	{ "spec/yaml_locations", test_yaml_locations },
	{ "spec/json_locations", test_json_locations },
	{ "spec/locations_bom_crlf_utf8", test_locations_bom_crlf_utf8 },
	{ "spec/yaml_scalar_types", test_yaml_scalar_types },
	{ "spec/json_scalar_types", test_json_scalar_types },
	{ "spec/duplicate_keys", test_duplicate_keys },
	{ "spec/top_level", test_top_level },
	{ "spec/version", test_version },
	{ "spec/set", test_set },
	{ "spec/subst", test_subst },
	{ "spec/json_syntax_errors", test_json_syntax_errors },
	{ "spec/yaml_syntax_errors", test_yaml_syntax_errors },
	{ "spec/bad_bytes", test_bad_bytes },
	{ "spec/aliases", test_aliases },
	{ "spec/deep_nesting", test_deep_nesting },
	{ "spec/load_file", test_load_file },
	{ "spec/kind_names", test_kind_names },
	{ NULL, NULL },
};
