/* SPDX-License-Identifier: MIT */
/* buf: growable NUL-terminated byte buffer. */
#include "util/buf.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t c = b->cap ? b->cap : 64;
	while (c < need)
		c *= 2;
	b->data = xrealloc(b->data, c);
	b->cap = c;
}

void buf_reserve(struct buf *b, size_t n)
{
	size_t need = b->len + n + 1;
	if (need > b->cap) {
		/* exactly: a reservation says the size, and doubling past it is what it avoids */
		b->data = xrealloc(b->data, need);
		b->cap = need;
	}
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

char *buf_grow(struct buf *b, size_t n)
{
	reserve(b, n);
	char *p = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return p;
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
}

char *buf_detach(struct buf *b, size_t *len)
{
	if (!b->data)
		reserve(b, 0), b->data[0] = '\0';
	char *p = b->data;
	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

void buf_put_pystr(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		if (*s == '\n') {
			buf_puts(b, "\\n");
			continue;
		}
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}
