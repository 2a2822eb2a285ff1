/* SPDX-License-Identifier: MIT */
/*
 * strmap: string -> int64 open-addressing hash map. Keys are borrowed: the
 * caller keeps them alive (they usually live in an arena).
 */
#ifndef TESSERA_UTIL_STRMAP_H
#define TESSERA_UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap {
	const char **keys;
	int64_t *vals;
	size_t cap, n; /* cap is a power of two or 0 */
};

void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* strmap_put() : inserts or replaces. @return true when @key was new. */
bool strmap_put(struct strmap *m, const char *key, int64_t val);
/* strmap_get() : @return true and *val when found. */
bool strmap_get(const struct strmap *m, const char *key, int64_t *val);

#endif
