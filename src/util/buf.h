/* SPDX-License-Identifier: MIT */
/* buf: a growable byte buffer, always NUL-terminated (curl's dynbuf). */
#ifndef TESSERA_UTIL_BUF_H
#define TESSERA_UTIL_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len, cap;
};

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
/* buf_reserve() : room for @n more bytes, so that appends up to that size never move the data. */
void buf_reserve(struct buf *b, size_t n);
/* buf_grow() : @n more bytes at the end, uninitialized, for the caller to fill. */
char *buf_grow(struct buf *b, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_detach() : hands the bytes to the caller (never NULL) and empties @b. */
char *buf_detach(struct buf *b, size_t *len);
/* buf_put_pystr() : @s as a double-quoted string literal of the expression language. */
void buf_put_pystr(struct buf *b, const char *s);

#endif
