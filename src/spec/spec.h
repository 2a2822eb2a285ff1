/* SPDX-License-Identifier: MIT */
/*
 * spec: text -> a located document tree. YAML (libyaml) and JSON (cJSON)
 * are two spellings of one model: every node, key and scalar carries the
 * file, line and column where it was written, so later stages can point at
 * the exact place of an error. The spec also owns the parameters
 * (`params:` overridden by --set) and their `${name}` substitution.
 *
 * DESIGN: everything (nodes, strings, arrays) lives in the spec's arena and
 * dies with spec_release(). The tree is read-only after spec_load().
 */
#ifndef TESSERA_SPEC_SPEC_H
#define TESSERA_SPEC_SPEC_H

#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum doc_kind { DOC_NULL, DOC_BOOL, DOC_INT, DOC_FLOAT, DOC_STR, DOC_SEQ, DOC_MAP };

/*
 * One value. Scalars keep the text as written in @str (for every scalar
 * kind, so "007" can still be had verbatim) and the typed value. Plain YAML
 * scalars are typed by the YAML 1.2 core schema (null ~ true false, ints,
 * floats, .inf .nan); quoted scalars and JSON strings are always DOC_STR.
 */
struct doc {
	enum doc_kind kind;
	struct loc loc;   /* where the value starts (the opening quote of a quoted scalar) */
	bool quoted;      /* scalar was quoted ('...' or "..."), or a JSON string */
	bool multiline;   /* a block scalar (| or >) or a scalar spanning lines: columns
			     inside it cannot be derived from @loc */
	bool escaped;     /* a quoted scalar whose text differs from its source (escapes,
			     ''): columns inside it cannot be derived from @loc either */
	const char *str;  /* scalars: the text (after unescaping); NULL for seq/map */
	bool b;           /* DOC_BOOL */
	int64_t i;        /* DOC_INT */
	double f;         /* DOC_FLOAT (and DOC_INT, converted) */
	size_t n;         /* DOC_SEQ / DOC_MAP: number of items */
	struct doc **items;     /* seq items, or map values, in document order */
	const char **keys;      /* DOC_MAP: keys, in document order */
	struct loc *key_locs;   /* DOC_MAP: where each key is written */
};

struct spec_param {
	const char *name;
	const char *value;  /* text after --set overrides */
	struct loc loc;     /* where the value came from (line 0 for --set) */
};

struct spec {
	struct arena arena;
	const char *path;     /* as given on the command line; "-" is stdin */
	const char *dir;      /* the spec file's folder, for ${spec_dir} */
	struct doc *root;     /* a DOC_MAP */
	size_t n_params;
	struct spec_param *params;
};

/*
 * spec_load() : reads @path ("-" for stdin), parses YAML or JSON (JSON when
 * the first non-blank byte is '{' or '[', or the name ends in .json), checks
 * duplicate keys (naming both places), `tessera: 1`, the top-level keys
 * (tessera, params, nodes, outputs), and applies @sets ("name=value",
 * @n_sets of them; an unknown name is an error) to the params.
 * @return 0, or -1 with *e set (ERR_SPEC for spec problems and for an
 * unreadable file, located at the path with line 0; ERR_USAGE for a bad
 * --set). Locations name the path ("<stdin>" for "-"). Call spec_release()
 * in both cases.
 */
int spec_load(struct spec *s, const char *path, const char *const *sets, size_t n_sets,
	      struct err *e);
/* spec_parse_text() : as spec_load() from memory (tests); @name is the file name for locations. */
int spec_parse_text(struct spec *s, const char *name, const char *text, size_t len,
		    const char *const *sets, size_t n_sets, struct err *e);
void spec_release(struct spec *s);

/*
 * spec_subst() : expands `${name}` (a param, or spec_dir) in @d->str;
 * `$${` stands for a literal `${`. Errors point at the `$` of the bad
 * reference when the column can be derived (single-line scalars).
 * @return an arena string (or @d->str itself when nothing changed), NULL
 * with *e set on an unknown or malformed reference.
 */
const char *spec_subst(struct spec *s, const struct doc *d, struct err *e);

/* doc_get() : the value of @key in map @m, or NULL (also when @m is not a map). */
const struct doc *doc_get(const struct doc *m, const char *key);
/* doc_key_loc() : where @key is written in map @m (@m's own loc if absent). */
struct loc doc_key_loc(const struct doc *m, const char *key);
/* doc_loc_at() : the location of byte @offset inside scalar @d's text, when
 * derivable (single-line, unescaped); else @d->loc. */
struct loc doc_loc_at(const struct doc *d, size_t offset);
/* doc_kind_name() : "string", "integer", "mapping", ... for messages. */
const char *doc_kind_name(enum doc_kind k);

#endif
