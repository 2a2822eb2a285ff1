/* SPDX-License-Identifier: MIT */
/*
 * spec_int: what spec.c, yaml.c and json.c share and nothing outside
 * src/spec/ may use: the growing list behind every map and sequence (with
 * the duplicate-key check both spellings need), byte offset -> line:col, and
 * the two parsers' entry points. Both parsers build the same `struct doc`
 * tree in the spec's arena; spec.c then validates the top level.
 */
#ifndef TESSERA_SPEC_SPEC_INT_H
#define TESSERA_SPEC_SPEC_INT_H

#include "spec/spec.h"
#include "util/strmap.h"

/* Deeper nesting than any real spec needs; the limit keeps recursion bounded. */
#define SPEC_MAX_DEPTH 256

/*
 * A map or sequence while it is being read: grows on the heap, then
 * doc_list_finish() copies it into the arena. Keys are borrowed arena
 * strings. @index is built only once a map has enough keys for a linear
 * duplicate search to hurt.
 */
struct doc_key {
	const char *key;
	struct loc loc;
};

struct doc_list {
	struct doc **items;
	struct doc_key *keys;
	size_t n_items, n_keys, cap_items, cap_keys;
	struct strmap index; /* key -> position in @keys; empty while the map is small */
};

void doc_list_init(struct doc_list *l);
void doc_list_release(struct doc_list *l);
/* doc_list_add_key() : appends a key; a repeated one is an error at @loc naming the first. */
int doc_list_add_key(struct doc_list *l, const char *key, struct loc loc, struct err *e);
void doc_list_add_item(struct doc_list *l, struct doc *item);
/* doc_list_finish() : moves the items (and keys) into @d's arena arrays. */
void doc_list_finish(struct doc_list *l, struct arena *a, struct doc *d);

struct doc *doc_new(struct arena *a, enum doc_kind kind, struct loc loc);
/* utf8_cols() : columns taken by @n bytes of UTF-8 (one per code point, as libyaml counts). */
uint32_t utf8_cols(const char *s, size_t n);

/*
 * Byte offset -> 1-based line:col, counting code points like libyaml and
 * skipping a leading UTF-8 BOM. Cheap when offsets come in increasing order
 * (the JSON walk); going backwards restarts from the top.
 */
struct linecur {
	const char *file, *text;
	size_t len, off, start;
	uint32_t line, col;
};

void linecur_init(struct linecur *c, const char *file, const char *text, size_t len);
struct loc linecur_loc(struct linecur *c, size_t off);

/*
 * spec_yaml_parse() / spec_json_parse() : @text (@len bytes, no NUL bytes,
 * valid UTF-8) -> *@root, allocated in @a, locations naming @file (an arena
 * string). *@root is NULL for a YAML stream with no document.
 * @return 0, or -1 with *e set (ERR_SPEC).
 */
int spec_yaml_parse(struct arena *a, const char *file, const char *text, size_t len,
		    struct doc **root, struct err *e);
int spec_json_parse(struct arena *a, const char *file, const char *text, size_t len,
		    struct doc **root, struct err *e);

#endif
