/* SPDX-License-Identifier: MIT */
/*
 * spec: loading a spec. Reads the bytes, picks YAML or JSON, has yaml.c or
 * json.c build the located tree, then checks the top level (`tessera: 1`,
 * the known keys, params, nodes, outputs), applies --set, and offers the
 * helpers later stages read the tree with, ${name} substitution among them.
 *
 * DESIGN: everything a spec owns lives in its arena; the file's bytes are
 * freed as soon as the tree is built, because every location and flag the
 * tree needs (including whether a quoted scalar had escapes) is taken while
 * parsing. No state lives outside struct spec.
 */
#include "spec/spec_int.h"
#include "util/buf.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Specs are written by hand; anything bigger is a mistake, or not a spec. */
#define SPEC_MAX_BYTES ((size_t)64 << 20)
/* Up to this many keys a map's duplicate check is a linear scan. */
#define DOC_LIST_LINEAR 16

static const char *const top_keys[] = { "tessera", "params", "nodes", "outputs" };

/* ---- the tree builders' shared helpers (spec_int.h) ---- */

void doc_list_init(struct doc_list *l)
{
	memset(l, 0, sizeof *l);
	strmap_init(&l->index);
}

void doc_list_release(struct doc_list *l)
{
	free(l->items);
	free(l->keys);
	strmap_release(&l->index);
	doc_list_init(l);
}

int doc_list_add_key(struct doc_list *l, const char *key, struct loc loc, struct err *e)
{
	int64_t first = -1;
	if (l->n_keys >= DOC_LIST_LINEAR && l->index.n == 0)
		for (size_t i = 0; i < l->n_keys; i++)
			strmap_put(&l->index, l->keys[i].key, (int64_t)i);
	if (l->index.n) {
		if (!strmap_get(&l->index, key, &first))
			first = -1;
	} else {
		for (size_t i = 0; i < l->n_keys && first < 0; i++)
			if (strcmp(l->keys[i].key, key) == 0)
				first = (int64_t)i;
	}
	if (first >= 0) {
		struct loc at = l->keys[first].loc;
		return err_at(e, loc, "duplicate key '%s' (first at %u:%u)", key, at.line, at.col);
	}
	XGROW(l->keys, l->cap_keys, l->n_keys + 1);
	l->keys[l->n_keys] = (struct doc_key){ key, loc };
	if (l->index.n)
		strmap_put(&l->index, key, (int64_t)l->n_keys);
	l->n_keys++;
	return 0;
}

void doc_list_add_item(struct doc_list *l, struct doc *item)
{
	XGROW(l->items, l->cap_items, l->n_items + 1);
	l->items[l->n_items++] = item;
}

void doc_list_finish(struct doc_list *l, struct arena *a, struct doc *d)
{
	d->n = l->n_items;
	d->items = arena_alloc(a, (l->n_items ? l->n_items : 1) * sizeof *d->items);
	if (l->n_items)
		memcpy(d->items, l->items, l->n_items * sizeof *d->items);
	if (d->kind != DOC_MAP)
		return;
	const char **keys = arena_alloc(a, (l->n_keys ? l->n_keys : 1) * sizeof *keys);
	struct loc *locs = arena_alloc(a, (l->n_keys ? l->n_keys : 1) * sizeof *locs);
	for (size_t i = 0; i < l->n_keys; i++) {
		keys[i] = l->keys[i].key;
		locs[i] = l->keys[i].loc;
	}
	d->keys = keys;
	d->key_locs = locs;
}

struct doc *doc_new(struct arena *a, enum doc_kind kind, struct loc loc)
{
	struct doc *d = arena_alloc(a, sizeof *d);
	d->kind = kind;
	d->loc = loc;
	return d;
}

uint32_t utf8_cols(const char *s, size_t n)
{
	uint32_t cols = 0;
	for (size_t i = 0; i < n; i++)
		cols += ((unsigned char)s[i] & 0xC0) != 0x80;
	return cols;
}

void linecur_init(struct linecur *c, const char *file, const char *text, size_t len)
{
	c->file = file;
	c->text = text;
	c->len = len;
	c->start = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	c->off = c->start;
	c->line = 1;
	c->col = 1;
}

struct loc linecur_loc(struct linecur *c, size_t off)
{
	if (off > c->len)
		off = c->len;
	if (off < c->start)
		off = c->start;
	if (off < c->off) {
		c->off = c->start;
		c->line = 1;
		c->col = 1;
	}
	for (; c->off < off; c->off++) {
		unsigned char b = (unsigned char)c->text[c->off];
		/* libyaml also ends a line at a lone CR; columns must agree with it */
		if (b == '\n' ||
		    (b == '\r' && (c->off + 1 >= c->len || c->text[c->off + 1] != '\n'))) {
			c->line++;
			c->col = 1;
		} else if (b != '\r' && (b & 0xC0) != 0x80) {
			c->col++;
		}
	}
	return (struct loc){ c->file, c->line, c->col };
}

/* ---- reading the tree ---- */

const char *doc_kind_name(enum doc_kind k)
{
	static const char *const names[] = {
		[DOC_NULL] = "null",   [DOC_BOOL] = "boolean", [DOC_INT] = "integer",
		[DOC_FLOAT] = "float", [DOC_STR] = "string",   [DOC_SEQ] = "sequence",
		[DOC_MAP] = "mapping",
	};
	return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* "a sequence", "an integer", "null": the kind as the object of "not ...". */
static const char *kind_phrase(enum doc_kind k)
{
	switch (k) {
	case DOC_NULL: return "null";
	case DOC_BOOL: return "a boolean";
	case DOC_INT: return "an integer";
	case DOC_FLOAT: return "a float";
	case DOC_STR: return "a string";
	case DOC_SEQ: return "a sequence";
	case DOC_MAP: return "a mapping";
	}
	return "?";
}

const struct doc *doc_get(const struct doc *m, const char *key)
{
	if (!m || m->kind != DOC_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->items[i];
	return NULL;
}

struct loc doc_key_loc(const struct doc *m, const char *key)
{
	if (!m)
		return (struct loc){ 0 };
	if (m->kind == DOC_MAP)
		for (size_t i = 0; i < m->n; i++)
			if (strcmp(m->keys[i], key) == 0)
				return m->key_locs[i];
	return m->loc;
}

struct loc doc_loc_at(const struct doc *d, size_t offset)
{
	if (!d->str || d->multiline || d->escaped || d->loc.line == 0)
		return d->loc;
	size_t n = strlen(d->str);
	struct loc at = d->loc;
	at.col += (d->quoted ? 1 : 0) + utf8_cols(d->str, offset < n ? offset : n);
	return at;
}

/* ---- ${name} ---- */

static const char *param_lookup(const struct spec *s, const char *name, size_t n)
{
	if (n == 8 && memcmp(name, "spec_dir", 8) == 0)
		return s->dir;
	for (size_t i = 0; i < s->n_params; i++)
		if (strlen(s->params[i].name) == n && memcmp(s->params[i].name, name, n) == 0)
			return s->params[i].value;
	return NULL;
}

static int subst_unknown(struct spec *s, const struct doc *d, size_t at, const char *name,
			 struct err *e)
{
	const char **names = xmalloc((s->n_params + 1) * sizeof *names);
	for (size_t i = 0; i < s->n_params; i++)
		names[i] = s->params[i].name;
	names[s->n_params] = "spec_dir";
	const char *near = did_you_mean(name, names, s->n_params + 1);
	/* ${HOME} in a command is usually a shell variable, not a typo */
	if (near)
		err_at(e, doc_loc_at(d, at),
		       "unknown parameter '%s' in '${%s}' (did you mean '%s'?)", name, name, near);
	else
		err_at(e, doc_loc_at(d, at),
		       "unknown parameter '%s' in '${%s}' (write $${%s} for a shell variable)",
		       name, name, name);
	free(names);
	return -1;
}

const char *spec_subst(struct spec *s, const struct doc *d, struct err *e)
{
	const char *str = d->str, *p, *out = NULL;
	struct buf b;
	if (!str) {
		err_at(e, d->loc, "expected a string, not %s", kind_phrase(d->kind));
		return NULL;
	}
	if (!strchr(str, '$'))
		return str;
	buf_init(&b);
	p = str;
	while (*p) {
		const char *dollar = strchr(p, '$');
		if (!dollar) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(dollar - p));
		p = dollar;
		if (p[1] == '$' && p[2] == '{') {
			buf_puts(&b, "${");
			p += 3;
		} else if (p[1] == '{') {
			const char *name = p + 2, *close = strchr(name, '}');
			size_t at = (size_t)(p - str);
			if (!close) {
				err_at(e, doc_loc_at(d, at), "unterminated '${' in string");
				goto out;
			}
			if (close == name) {
				err_at(e, doc_loc_at(d, at), "empty parameter name in '${}'");
				goto out;
			}
			const char *value = param_lookup(s, name, (size_t)(close - name));
			if (!value) {
				subst_unknown(
					s, d, at,
					arena_strndup(&s->arena, name, (size_t)(close - name)), e);
				goto out;
			}
			buf_puts(&b, value);
			p = close + 1;
		} else {
			buf_putc(&b, '$'); /* a lone '$' is just a dollar sign */
			p++;
		}
	}
	out = arena_strndup(&s->arena, b.data ? b.data : "", b.len);
out:
	buf_release(&b);
	return out;
}

/* ---- loading ---- */

static const char *spec_dirname(struct arena *a, const char *path)
{
	if (strcmp(path, "-") == 0)
		return ".";
	const char *slash = strrchr(path, '/');
	if (!slash)
		return ".";
	size_t n = (size_t)(slash - path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	return n ? arena_strndup(a, path, n) : "/";
}

/* Sets up @s for @path before anything can fail, so spec_release() is always safe. */
static void spec_start(struct spec *s, const char *path)
{
	memset(s, 0, sizeof *s);
	arena_init(&s->arena);
	s->path = arena_strdup(&s->arena, path);
	s->dir = spec_dirname(&s->arena, s->path);
}

/* Offset of the first byte that is not valid UTF-8, or @len. */
static size_t utf8_invalid_at(const char *text, size_t len)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t i = 0;
	while (i < len) {
		unsigned char c = t[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			if (c == 0xED)
				hi = 0x9F; /* UTF-16 surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else {
			return i;
		}
		if (i + n >= len)
			return i;
		if (t[i + 1] < lo || t[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if ((t[i + k] & 0xC0) != 0x80)
				return i;
		i += n + 1;
	}
	return len;
}

static bool spec_is_json(const char *path, const char *text, size_t len)
{
	size_t plen = strlen(path), i = 0;
	if (plen >= 5 && strcasecmp(path + plen - 5, ".json") == 0)
		return true;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	return i < len && (text[i] == '{' || text[i] == '[');
}

static int check_params(struct spec *s, const struct doc *params, struct err *e)
{
	if (!params)
		return 0;
	if (params->kind != DOC_MAP)
		return err_at(e, params->loc, "'params' must be a mapping, not %s",
			      kind_phrase(params->kind));
	s->params = arena_alloc(&s->arena, (params->n ? params->n : 1) * sizeof *s->params);
	for (size_t i = 0; i < params->n; i++) {
		const struct doc *v = params->items[i];
		if (strcmp(params->keys[i], "spec_dir") == 0)
			return err_at(e, params->key_locs[i],
				      "'spec_dir' is reserved: ${spec_dir} is the spec's folder");
		if (v->kind == DOC_SEQ || v->kind == DOC_MAP)
			return err_at(e, v->loc, "parameter '%s' must be a scalar, not %s",
				      params->keys[i], kind_phrase(v->kind));
		/* a default may name the spec's folder: "${spec_dir}/data.csv" (and nothing else: params are not recursive) */
		const char *val = v->str;
		const char *at = val ? strstr(val, "${spec_dir}") : NULL;
		if (at) {
			struct buf b;
			buf_init(&b);
			for (const char *p = val; (at = strstr(p, "${spec_dir}")); p = at + 11) {
				buf_append(&b, p, (size_t)(at - p));
				buf_puts(&b, s->dir);
				val = at + 11;
			}
			buf_puts(&b, val);
			val = arena_strdup(&s->arena, b.data);
			buf_release(&b);
		}
		s->params[i] = (struct spec_param){ params->keys[i], val, v->loc };
	}
	s->n_params = params->n;
	return 0;
}

static int check_top(struct spec *s, const char *file, struct doc *root, struct err *e)
{
	struct loc top = { file, 1, 1 };
	if (!root)
		return err_at(e, top, "empty spec (expected a mapping with 'tessera: 1')");
	if (root->kind != DOC_MAP)
		return err_at(e, root->loc, "the spec must be a mapping, not %s",
			      kind_phrase(root->kind));
	/* the version first: a newer spec may well have keys this tessera does not know */
	const struct doc *version = doc_get(root, "tessera");
	if (version && version->kind != DOC_INT)
		return err_at(e, version->loc, "'tessera' must be the integer 1, not %s",
			      kind_phrase(version->kind));
	if (version && version->i != 1)
		return err_at(e, version->loc,
			      "unsupported spec version '%s' (this tessera reads version 1)",
			      version->str);
	size_t n_top = sizeof top_keys / sizeof top_keys[0];
	for (size_t i = 0; i < root->n; i++) {
		bool known = false;
		for (size_t k = 0; k < n_top && !known; k++)
			known = strcmp(root->keys[i], top_keys[k]) == 0;
		if (known)
			continue;
		const char *near = did_you_mean(root->keys[i], top_keys, n_top);
		if (near)
			return err_at(e, root->key_locs[i],
				      "unknown top-level key '%s' (did you mean '%s'?)",
				      root->keys[i], near);
		return err_at(e, root->key_locs[i], "unknown top-level key '%s'", root->keys[i]);
	}
	if (!version)
		return err_at(e, top, "missing 'tessera: 1'");
	if (check_params(s, doc_get(root, "params"), e))
		return -1;
	const struct doc *nodes = doc_get(root, "nodes");
	if (!nodes)
		return err_at(e, top, "missing 'nodes'");
	if (nodes->kind != DOC_MAP)
		return err_at(e, nodes->loc, "'nodes' must be a mapping, not %s",
			      kind_phrase(nodes->kind));
	const struct doc *outputs = doc_get(root, "outputs");
	if (outputs && outputs->kind != DOC_MAP)
		return err_at(e, outputs->loc, "'outputs' must be a mapping, not %s",
			      kind_phrase(outputs->kind));
	return 0;
}

static int apply_sets(struct spec *s, const struct doc *root, const char *file, const char *const *sets,
		      size_t n_sets, struct err *e)
{
	for (size_t i = 0; i < n_sets; i++) {
		const char *eq = strchr(sets[i], '=');
		if (!eq || eq == sets[i])
			return err_code_at(e, ERR_SPEC, (struct loc){ 0 }, "bad --set '%s': expected NAME=VALUE",
					   sets[i]);
		size_t n = (size_t)(eq - sets[i]);
		struct spec_param *p = NULL;
		for (size_t k = 0; k < s->n_params && !p; k++)
			if (strlen(s->params[k].name) == n &&
			    memcmp(s->params[k].name, sets[i], n) == 0)
				p = &s->params[k];
		if (p) {
			p->value = arena_strdup(&s->arena, eq + 1);
			p->loc = (struct loc){ "--set", 0, 0 };
			continue;
		}
		const char *name = arena_strndup(&s->arena, sets[i], n);
		const char **names = xmalloc((s->n_params ? s->n_params : 1) * sizeof *names);
		for (size_t k = 0; k < s->n_params; k++)
			names[k] = s->params[k].name;
		const char *near = did_you_mean(name, names, s->n_params);
		free(names);
		/* Point at the params the user meant to override (or the top). */
		struct loc at = doc_key_loc(root, "params");
		if (!at.line)
			at = (struct loc){ file, 1, 1 };
		if (near)
			return err_at(e, at, "--set '%s': no parameter '%s' (did you mean '%s'?)", sets[i], name,
				      near);
		return err_at(e, at, "--set '%s': no parameter '%s'", sets[i], name);
	}
	return 0;
}

/* The common tail of spec_load() and spec_parse_text(): @s is started, @file names it. */
static int spec_parse(struct spec *s, const char *file, const char *text, size_t len,
		      const char *const *sets, size_t n_sets, struct err *e)
{
	struct linecur cur;
	struct doc *root = NULL;
	linecur_init(&cur, file, text, len);
	const char *nul = memchr(text, '\0', len);
	if (nul)
		return err_at(e, linecur_loc(&cur, (size_t)(nul - text)),
			      "spec contains a NUL byte");
	size_t bad = utf8_invalid_at(text, len);
	if (bad < len)
		return err_at(e, linecur_loc(&cur, bad), "invalid UTF-8 (byte 0x%02x)",
			      (unsigned char)text[bad]);
	int rc = spec_is_json(s->path, text, len)
			 ? spec_json_parse(&s->arena, file, text, len, &root, e)
			 : spec_yaml_parse(&s->arena, file, text, len, &root, e);
	if (rc || check_top(s, file, root, e) || apply_sets(s, root, file, sets, n_sets, e))
		return -1;
	s->root = root;
	return 0;
}

int spec_parse_text(struct spec *s, const char *name, const char *text, size_t len,
		    const char *const *sets, size_t n_sets, struct err *e)
{
	spec_start(s, name);
	return spec_parse(s, s->path, text, len, sets, n_sets, e);
}

/* An unreadable spec is a spec problem (exit 3), told at the path. */
static int read_failed(struct loc where, int saved, struct err *e)
{
	if (err_set(e))
		return -1;
	err_at(e, where, "cannot read spec: %s", strerror(saved));
	e->sys_errno = saved;
	return -1;
}

/* Reads all of @f into @text. @return 0, or -1 with *e set at @where. */
static int spec_read(FILE *f, struct buf *text, struct loc where, struct err *e)
{
	for (;;) {
		char chunk[65536];
		size_t n = fread(chunk, 1, sizeof chunk, f);
		buf_append(text, chunk, n);
		if (text->len > SPEC_MAX_BYTES)
			return err_at(e, where, "spec is too large (over %zu MiB)",
				      SPEC_MAX_BYTES >> 20);
		if (n < sizeof chunk)
			break;
	}
	return ferror(f) ? read_failed(where, errno, e) : 0;
}

int spec_load(struct spec *s, const char *path, const char *const *sets, size_t n_sets,
	      struct err *e)
{
	bool is_stdin = strcmp(path, "-") == 0;
	struct buf text;
	FILE *f = NULL;
	int rc = -1;
	spec_start(s, path);
	buf_init(&text);
	const char *file = is_stdin ? "<stdin>" : s->path;
	struct loc where = { file, 0, 0 };

	f = is_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		read_failed(where, errno, e);
		goto out;
	}
	if (spec_read(f, &text, where, e))
		goto out;
	rc = spec_parse(s, file, text.data ? text.data : "", text.len, sets, n_sets, e);
out:
	if (f && !is_stdin)
		fclose(f);
	buf_release(&text);
	return rc;
}

void spec_release(struct spec *s)
{
	arena_release(&s->arena);
	memset(s, 0, sizeof *s);
}
