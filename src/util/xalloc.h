/* SPDX-License-Identifier: MIT */
/*
 * xalloc: control-plane allocation that dies with the size on failure.
 * Data (task results) never comes from here: it goes through the store,
 * which enforces the memory budget.
 */
#ifndef TESSERA_UTIL_XALLOC_H
#define TESSERA_UTIL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf() : a malloc'ed formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xhuge() : asks the kernel to back the whole 2 MiB pages inside a large
 * buffer (fresh or not yet touched) with huge pages: one page fault instead
 * of 512 when it is first written. A hint; buffers under 4 MiB are left
 * alone. xmalloc() and xcalloc() do it for every buffer they return. */
void xhuge(void *p, size_t size);

/* Grow *p (of *cap elements of @elem bytes) to hold at least @need elements. */
void xgrow(void **p, size_t *cap, size_t need, size_t elem);
#define XGROW(p, cap, need) xgrow((void **)&(p), &(cap), (need), sizeof *(p))

#endif
