/* SPDX-License-Identifier: MIT */
/*
 * arena: bump allocation for things that live and die together (a spec's
 * document tree, a graph's nodes, tasks and edges). Nothing is freed alone;
 * arena_release() frees everything at once.
 */
#ifndef TESSERA_UTIL_ARENA_H
#define TESSERA_UTIL_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t used_total; /* bytes handed out, for reports */
};

void arena_init(struct arena *a);
void arena_release(struct arena *a);
/* arena_alloc() : @size bytes, zeroed, aligned for any type; dies on OOM. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* arena_cache_limit() : blocks of 1 MiB or more of released arenas are kept,
 * up to @per_thread bytes in each thread, for that thread's next arenas
 * (0, the default: none are); a thread's are freed when it exits.
 * arena_cache_trim() : frees the calling thread's kept blocks now. */
void arena_cache_limit(size_t per_thread);
void arena_cache_trim(void);

#endif
