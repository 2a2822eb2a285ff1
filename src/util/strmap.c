/* SPDX-License-Identifier: MIT */
/* strmap: linear-probing hash map from borrowed strings to int64. */
#include "util/strmap.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof *m);
}

void strmap_release(struct strmap *m)
{
	free(m->keys);
	free(m->vals);
	strmap_init(m);
}

static void rehash(struct strmap *m, size_t cap)
{
	struct strmap n = { xcalloc(cap, sizeof *n.keys), xcalloc(cap, sizeof *n.vals), cap, 0 };
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			strmap_put(&n, m->keys[i], m->vals[i]);
	strmap_release(m);
	*m = n;
}

bool strmap_put(struct strmap *m, const char *key, int64_t val)
{
	if ((m->n + 1) * 2 > m->cap)
		rehash(m, m->cap ? m->cap * 2 : 16);
	size_t i = hash(key) & (m->cap - 1);
	while (m->keys[i]) {
		if (strcmp(m->keys[i], key) == 0) {
			m->vals[i] = val;
			return false;
		}
		i = (i + 1) & (m->cap - 1);
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return true;
}

bool strmap_get(const struct strmap *m, const char *key, int64_t *val)
{
	if (!m->cap)
		return false;
	size_t i = hash(key) & (m->cap - 1);
	while (m->keys[i]) {
		if (strcmp(m->keys[i], key) == 0) {
			if (val)
				*val = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}
