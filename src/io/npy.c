/* SPDX-License-Identifier: MIT */
/*
 * npy: reading a .npy header, reading boxes with pread, and writing a .npy
 * by boxes into a temporary file that is renamed into place.
 *
 * DESIGN: every box, read or written, is walked the same way (struct
 * layout): its axes are listed in the file's storage order, the innermost
 * axes the box covers whole are merged with the first partial one into a
 * "run" (elements contiguous in the file), and the remaining outer axes are
 * counted through, one pread or pwrite per run. The only buffers are the
 * caller's and, where the file and the box disagree on order or byte order,
 * a scratch of at most PIECE_BYTES. The header parser accepts what numpy's
 * own reader accepts (a Python dict literal with exactly the three keys) and
 * is strict where numpy is, so a file tessera reads is one numpy reads too.
 */
#include "io/npy.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy aligns the data to 64 bytes and leaves room after the dict for the
 * first axis (the growth axis) to reach 21 digits, so a file can be appended
 * to by rewriting its header in place; writing the same keeps our files
 * byte-identical to numpy.save's. */
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21
/* Headers are a few hundred bytes; anything past this is not a real one. */
#define NPY_HEADER_MAX (1u << 20)
/* Scratch for byte-swapping and reordering: large enough that preads stay
 * efficient, small enough not to matter next to the chunks themselves. */
#define PIECE_BYTES ((int64_t)4 << 20)

#define DTYPES_READ "bool, int8..int64, uint8, float32, float64"

static const struct {
	const char *name;
	size_t size;
	char kind;      /* numpy's kind letter in descr */
	const char *le; /* descr numpy writes for little-endian data */
} dtypes[DT_N] = {
	[DT_BOOL] = { "bool", 1, 'b', "|b1" },
	[DT_INT8] = { "int8", 1, 'i', "|i1" },
	[DT_INT16] = { "int16", 2, 'i', "<i2" },
	[DT_INT32] = { "int32", 4, 'i', "<i4" },
	[DT_INT64] = { "int64", 8, 'i', "<i8" },
	[DT_UINT8] = { "uint8", 1, 'u', "|u1" },
	[DT_FLOAT32] = { "float32", 4, 'f', "<f4" },
	[DT_FLOAT64] = { "float64", 8, 'f', "<f8" },
};

static const bool host_big_endian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;

size_t dtype_size(enum dtype t)
{
	return (unsigned)t < DT_N ? dtypes[t].size : 0;
}

const char *dtype_name(enum dtype t)
{
	return (unsigned)t < DT_N ? dtypes[t].name : "?";
}

/* ---- I/O helpers ---- */

/* Reads up to @n bytes at @off, retrying short reads; fewer only at end of
 * file. @return bytes read, or -1 and errno. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* Writes all @n bytes at @off. @return 0, or -1 and errno. */
static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) { /* not expected from a regular file; do not spin */
			errno = EIO;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static void swap_bytes(void *p, int64_t n, size_t size)
{
	unsigned char *b = p;
	switch (size) {
	case 2:
		for (int64_t i = 0; i < n; i++) {
			uint16_t v;
			memcpy(&v, b + i * 2, 2);
			v = __builtin_bswap16(v);
			memcpy(b + i * 2, &v, 2);
		}
		break;
	case 4:
		for (int64_t i = 0; i < n; i++) {
			uint32_t v;
			memcpy(&v, b + i * 4, 4);
			v = __builtin_bswap32(v);
			memcpy(b + i * 4, &v, 4);
		}
		break;
	case 8:
		for (int64_t i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, b + i * 8, 8);
			v = __builtin_bswap64(v);
			memcpy(b + i * 8, &v, 8);
		}
		break;
	default: /* one byte: nothing to swap */
		break;
	}
}

/* Copies @n contiguous elements from @src to @dst, @stride elements apart.
 * Fixed-size memcpy per case so the compiler emits plain moves. */
static void scatter(unsigned char *dst, int64_t stride, const unsigned char *src, int64_t n,
		    size_t size)
{
	switch (size) {
	case 1:
		for (int64_t i = 0; i < n; i++)
			dst[i * stride] = src[i];
		break;
	case 2:
		for (int64_t i = 0; i < n; i++)
			memcpy(dst + i * stride * 2, src + i * 2, 2);
		break;
	case 4:
		for (int64_t i = 0; i < n; i++)
			memcpy(dst + i * stride * 4, src + i * 4, 4);
		break;
	default:
		for (int64_t i = 0; i < n; i++)
			memcpy(dst + i * stride * 8, src + i * 8, 8);
		break;
	}
}

/* ---- boxes ---- */

/* A box seen in the file's storage order (axis 0 slowest). */
struct layout {
	int n;                          /* axes */
	int64_t cnt[NPY_MAX_DIMS];      /* the box's extent on each storage axis */
	int64_t fstride[NPY_MAX_DIMS];  /* elements between neighbours in the file */
	int64_t bstride[NPY_MAX_DIMS];  /* elements between neighbours in the C-ordered box buffer */
	int64_t first;                  /* file element index of the box's first element */
	int r;                          /* axes r..n-1 form one run; 0..r-1 are counted through */
	int64_t run;                    /* elements per run */
	bool contig;                    /* a run is contiguous in the box buffer too */
};

static void layout_init(struct layout *l, int ndim, const int64_t *shape, bool fortran,
			const int64_t *start, const int64_t *count)
{
	int64_t bs[NPY_MAX_DIMS], fs = 1, b = 1;
	for (int k = ndim - 1; k >= 0; k--) {
		bs[k] = b;
		b *= count[k];
	}
	l->n = ndim;
	l->first = 0;
	for (int j = ndim - 1; j >= 0; j--) {
		int k = fortran ? ndim - 1 - j : j;
		l->cnt[j] = count[k];
		l->fstride[j] = fs;
		l->bstride[j] = bs[k];
		l->first += start[k] * fs;
		fs *= shape[k];
	}
	/* An axis joins the run while every axis inside it is covered whole. */
	l->run = 1;
	l->r = 0;
	for (int j = ndim - 1; j >= 0; j--) {
		int k = fortran ? ndim - 1 - j : j;
		l->run *= l->cnt[j];
		l->r = j;
		if (count[k] != shape[k])
			break;
	}
	/* Axes of extent 1 have no say in contiguity, so Fortran files read
	 * straight into the buffer when the box is a single column or row. */
	l->contig = true;
	int64_t want = 1;
	for (int j = ndim - 1; j >= l->r; j--) {
		if (l->cnt[j] > 1 && l->bstride[j] != want)
			l->contig = false;
		want *= l->cnt[j];
	}
}

/* Moves to the next run: @idx counts through the outer axes. @return false after the last. */
static bool layout_next(const struct layout *l, int64_t *idx)
{
	for (int j = l->r - 1; j >= 0; j--) {
		if (++idx[j] < l->cnt[j])
			return true;
		idx[j] = 0;
	}
	return false;
}

/* Element offsets of the run at @idx in the file and in the box buffer. */
static void layout_where(const struct layout *l, const int64_t *idx, int64_t *file, int64_t *box)
{
	int64_t f = l->first, b = 0;
	for (int j = 0; j < l->r; j++) {
		f += idx[j] * l->fstride[j];
		b += idx[j] * l->bstride[j];
	}
	*file = f;
	*box = b;
}

/* @return the number of elements, or -1 and *e when the box leaves the shape. */
static int64_t box_check(int ndim, const int64_t *shape, const int64_t *start,
			 const int64_t *count, struct err *e)
{
	int64_t n = 1;
	for (int k = 0; k < ndim; k++) {
		if (start[k] < 0 || count[k] < 0 || start[k] > shape[k] ||
		    count[k] > shape[k] - start[k])
			return err_run(e, NULL,
				       "box [%" PRId64 ", %" PRId64 ") on axis %d is outside the "
				       "array's extent %" PRId64,
				       start[k], start[k] + count[k], k, shape[k]);
		n *= count[k];
	}
	return n;
}

/* Reads exactly @len bytes of array data at @off. */
static int read_data(int fd, void *buf, size_t len, uint64_t off, struct err *e)
{
	ssize_t got = pread_full(fd, buf, len, off);
	if (got < 0)
		return err_sys(e, NULL, "cannot read .npy data at byte %" PRIu64, off);
	if ((size_t)got < len)
		return err_run(e, NULL, "unexpected end of .npy data at byte %" PRIu64
			       " (the file shrank after its header was read)", off + (uint64_t)got);
	return 0;
}

int npy_read_box(int fd, const struct npy_info *info, const int64_t *start, const int64_t *count,
		 void *out, struct err *e)
{
	size_t isz = dtype_size(info->dtype);
	bool swap = isz > 1 && info->big_endian != host_big_endian;
	unsigned char *tmp = NULL;
	struct layout l;
	int64_t idx[NPY_MAX_DIMS] = { 0 }, in[NPY_MAX_DIMS] = { 0 };
	int rc = -1;

	int64_t n = box_check(info->ndim, info->shape, start, count, e);
	if (n <= 0)
		return (int)n; /* an empty box reads nothing */
	layout_init(&l, info->ndim, info->shape, info->fortran_order, start, count);
	/* The scratch: at most one run, and never more than PIECE_BYTES. */
	int64_t piece = PIECE_BYTES / (int64_t)isz;
	if (l.run < piece)
		piece = l.run;
	if (!l.contig)
		tmp = xmalloc((size_t)piece * isz);

	do {
		int64_t f, b;
		layout_where(&l, idx, &f, &b);
		if (l.contig) {
			if (read_data(fd, (unsigned char *)out + b * (int64_t)isz, (size_t)l.run * isz,
				      info->data_offset + (uint64_t)f * isz, e) < 0)
				goto done;
			if (swap)
				swap_bytes((unsigned char *)out + b * (int64_t)isz, l.run, isz);
			continue;
		}
		/* Reorder through the scratch, a piece at a time; @in counts the
		 * run's own axes so a piece may end anywhere inside a row. */
		memset(in, 0, sizeof in);
		int last = l.n - 1;
		for (int64_t left = l.run; left > 0;) {
			int64_t k = left < piece ? left : piece;
			if (read_data(fd, tmp, (size_t)k * isz,
				      info->data_offset + (uint64_t)(f + l.run - left) * isz, e) < 0)
				goto done;
			if (swap)
				swap_bytes(tmp, k, isz);
			for (int64_t pos = 0; pos < k;) {
				int64_t span = l.cnt[last] - in[last];
				if (span > k - pos)
					span = k - pos;
				int64_t at = b;
				for (int j = l.r; j < l.n; j++)
					at += in[j] * l.bstride[j];
				scatter((unsigned char *)out + at * (int64_t)isz, l.bstride[last],
					tmp + pos * (int64_t)isz, span, isz);
				pos += span;
				in[last] += span;
				for (int j = last; j > l.r && in[j] == l.cnt[j]; j--) {
					in[j] = 0;
					in[j - 1]++;
				}
			}
			left -= k;
		}
	} while (layout_next(&l, idx));
	rc = 0;
done:
	free(tmp);
	return rc;
}

/* ---- the header dict ---- */

/* A cursor over the dict text, with what errors need to name. */
struct hdr {
	const char *s;
	size_t len, pos;
	const char *path;
	struct err *e;
};

static int hdr_bad(struct hdr *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int hdr_bad(struct hdr *h, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return err_run(h->e, NULL, "%s: malformed header: %s", h->path, what);
}

static int hdr_peek(const struct hdr *h)
{
	return h->pos < h->len ? (unsigned char)h->s[h->pos] : -1;
}

static void hdr_space(struct hdr *h)
{
	while (h->pos < h->len && (h->s[h->pos] == ' ' || h->s[h->pos] == '\t' ||
				   h->s[h->pos] == '\r' || h->s[h->pos] == '\n'))
		h->pos++;
}

static int hdr_expect(struct hdr *h, char c, const char *after)
{
	hdr_space(h);
	if (hdr_peek(h) != c)
		return hdr_bad(h, "expected '%c' %s at byte %zu", c, after, h->pos);
	h->pos++;
	return 0;
}

/* Reads a quoted string into @out (cut to fit; a cut is marked "..."). */
static int hdr_string(struct hdr *h, char *out, size_t out_len, const char *what)
{
	size_t n = 0;
	bool cut = false;
	int q = hdr_peek(h);
	if (q != '\'' && q != '"')
		return hdr_bad(h, "expected a quoted %s at byte %zu", what, h->pos);
	for (h->pos++; h->pos < h->len && h->s[h->pos] != q; h->pos++) {
		if (h->s[h->pos] == '\\' && h->pos + 1 < h->len)
			h->pos++;
		if (n + 1 < out_len)
			out[n++] = h->s[h->pos];
		else
			cut = true;
	}
	if (h->pos >= h->len)
		return hdr_bad(h, "unterminated string");
	h->pos++;
	if (cut)
		memcpy(out + out_len - 4, "...", 3);
	out[n] = '\0';
	return 0;
}

/* Skips a bracketed value ([...] or (...) or {...}), copying its text into
 * @raw for the message that rejects it. */
static int hdr_skip_nested(struct hdr *h, char *raw, size_t raw_len)
{
	char closers[64]; /* what each open bracket expects; structured dtypes nest a few deep */
	size_t from = h->pos, depth = 0;
	char q = 0;
	do {
		char c = h->pos < h->len ? h->s[h->pos] : '\0';
		if (!c)
			return hdr_bad(h, "unbalanced brackets in 'descr'");
		if (q) {
			if (c == '\\')
				h->pos++;
			else if (c == q)
				q = 0;
		} else if (c == '\'' || c == '"') {
			q = c;
		} else if (c == '[' || c == '(' || c == '{') {
			if (depth == sizeof closers)
				return hdr_bad(h, "'descr' nests too deep");
			closers[depth++] = c == '[' ? ']' : c == '(' ? ')' : '}';
		} else if (c == ']' || c == ')' || c == '}') {
			if (closers[--depth] != c)
				return hdr_bad(h, "unbalanced brackets in 'descr'");
		}
		h->pos++;
	} while (depth > 0);
	size_t n = h->pos - from;
	if (n + 1 > raw_len)
		snprintf(raw, raw_len, "%.*s...", (int)(raw_len - 4), h->s + from);
	else
		snprintf(raw, raw_len, "%.*s", (int)n, h->s + from);
	return 0;
}

static bool hdr_word(struct hdr *h, const char *w)
{
	size_t n = strlen(w);
	if (h->len - h->pos < n || memcmp(h->s + h->pos, w, n) != 0)
		return false;
	/* "Trueish" is another name, not True followed by junk. */
	char next = h->pos + n < h->len ? h->s[h->pos + n] : ' ';
	if (isalnum((unsigned char)next) || next == '_')
		return false;
	h->pos += n;
	return true;
}

/* shape: a Python tuple of non-negative ints: (), (n,), (n, m), (n, m,). */
static int hdr_shape(struct hdr *h, struct npy_info *info)
{
	int n = 0;
	bool comma = false;
	if (hdr_expect(h, '(', "opening the value of 'shape'") < 0)
		return -1;
	for (;;) {
		hdr_space(h);
		int c = hdr_peek(h);
		if (c == ')') {
			h->pos++;
			break;
		}
		if (c == '-')
			return hdr_bad(h, "negative dimension in 'shape' at byte %zu", h->pos);
		if (c < '0' || c > '9')
			return hdr_bad(h, "expected a dimension or ')' in 'shape' at byte %zu", h->pos);
		int64_t v = 0;
		for (; (c = hdr_peek(h)) >= '0' && c <= '9'; h->pos++) {
			if (v > (INT64_MAX - (c - '0')) / 10)
				return hdr_bad(h, "dimension %d of 'shape' is too large", n);
			v = v * 10 + (c - '0');
		}
		/* Python 2 wrote longs with an L; numpy still reads those files. */
		if (hdr_peek(h) == 'L' || hdr_peek(h) == 'l')
			h->pos++;
		if (n < NPY_MAX_DIMS)
			info->shape[n] = v;
		n++;
		hdr_space(h);
		comma = hdr_peek(h) == ',';
		if (comma)
			h->pos++;
		else if (hdr_peek(h) != ')')
			return hdr_bad(h, "expected ',' or ')' in 'shape' at byte %zu", h->pos);
	}
	if (n == 1 && !comma) /* (5) is the int 5 in Python, and numpy refuses it */
		return hdr_bad(h, "'shape' is (%" PRId64 "), not a tuple (write (%" PRId64 ",))",
			       info->shape[0], info->shape[0]);
	if (n > NPY_MAX_DIMS)
		return err_run(h->e, NULL, "%s: %d dimensions (tessera reads at most %d)", h->path, n,
			       NPY_MAX_DIMS);
	info->ndim = n;
	return 0;
}

/* Maps a descr string to a dtype and byte order. @return false if unsupported. */
static bool descr_parse(const char *d, struct npy_info *info)
{
	char order = '=';
	if (*d && strchr("<>|=", *d))
		order = *d++;
	char kind = d[0];
	if (!kind || d[1] < '1' || d[1] > '8' || d[2])
		return false;
	size_t size = (size_t)(d[1] - '0');
	for (int t = 0; t < DT_N; t++) {
		if (dtypes[t].kind == kind && dtypes[t].size == size) {
			info->dtype = (enum dtype)t;
			/* One byte has no order, whatever the descr says. */
			info->big_endian = size > 1 && (order == '>' || (order != '<' && host_big_endian));
			return true;
		}
	}
	return false;
}

static int header_parse(const char *path, const char *text, size_t len, struct npy_info *info,
			struct err *e)
{
	struct hdr h = { .s = text, .len = len, .path = path, .e = e };
	char key[64], descr[64] = "";
	bool seen_descr = false, seen_order = false, seen_shape = false, structured = false;

	if (hdr_expect(&h, '{', "opening the header dict") < 0)
		return -1;
	for (;;) {
		hdr_space(&h);
		if (hdr_peek(&h) == '}') {
			h.pos++;
			break;
		}
		size_t key_at = h.pos;
		if (hdr_string(&h, key, sizeof key, "key or '}'") < 0 ||
		    hdr_expect(&h, ':', "after a key") < 0)
			return -1;
		hdr_space(&h);
		bool *seen;
		if (!strcmp(key, "descr"))
			seen = &seen_descr;
		else if (!strcmp(key, "fortran_order"))
			seen = &seen_order;
		else if (!strcmp(key, "shape"))
			seen = &seen_shape;
		else
			return hdr_bad(&h, "unknown key '%s' at byte %zu", key, key_at);
		if (*seen)
			return hdr_bad(&h, "duplicate key '%s' at byte %zu", key, key_at);
		*seen = true;

		if (seen == &seen_descr) {
			int c = hdr_peek(&h);
			if (c == '[' || c == '(' || c == '{') {
				structured = true;
				if (hdr_skip_nested(&h, descr, sizeof descr) < 0)
					return -1;
			} else if (hdr_string(&h, descr, sizeof descr, "dtype for 'descr'") < 0) {
				return -1;
			}
		} else if (seen == &seen_order) {
			if (hdr_word(&h, "True"))
				info->fortran_order = true;
			else if (hdr_word(&h, "False"))
				info->fortran_order = false;
			else
				return hdr_bad(&h, "'fortran_order' is not True or False at byte %zu", h.pos);
		} else if (hdr_shape(&h, info) < 0) {
			return -1;
		}

		hdr_space(&h);
		if (hdr_peek(&h) == ',')
			h.pos++;
		else if (hdr_peek(&h) != '}')
			return hdr_bad(&h, "expected ',' or '}' at byte %zu", h.pos);
	}
	hdr_space(&h);
	if (h.pos < h.len)
		return hdr_bad(&h, "unexpected text after the dict at byte %zu", h.pos);
	if (!seen_descr || !seen_order || !seen_shape)
		return hdr_bad(&h, "missing key '%s'",
			       !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
	if (structured)
		return err_run(e, NULL, "%s: unsupported dtype %s (tessera reads " DTYPES_READ ")",
			       path, descr);
	if (!descr_parse(descr, info))
		return err_run(e, NULL, "%s: unsupported dtype '%s' (tessera reads " DTYPES_READ ")",
			       path, descr);
	return 0;
}

int npy_read_header(const char *path, struct npy_info *info, struct err *e)
{
	unsigned char pre[12];
	char *text = NULL;
	struct stat st;
	int rc = -1;

	memset(info, 0, sizeof *info);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, NULL, "cannot read '%s'", path);
	ssize_t got = pread_full(fd, pre, sizeof pre, 0);
	if (got < 0 || fstat(fd, &st) != 0) {
		err_sys(e, NULL, "cannot read '%s'", path);
		goto done;
	}
	if (got < 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
		err_run(e, NULL, "%s: not a .npy file (bad magic)", path);
		goto done;
	}
	if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
		err_run(e, NULL, "%s: unsupported .npy version %d.%d (tessera reads 1.0, 2.0 and 3.0)",
			path, pre[6], pre[7]);
		goto done;
	}
	size_t prefix = pre[6] == 1 ? 10 : 12;
	if ((size_t)got < prefix) {
		err_run(e, NULL, "%s: truncated header (%zu bytes expected, %zd present)", path,
			prefix, got);
		goto done;
	}
	uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
	if (prefix == 12)
		hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
	if (hlen > NPY_HEADER_MAX) {
		err_run(e, NULL, "%s: header of %" PRIu32 " bytes is too large (at most %u)", path,
			hlen, NPY_HEADER_MAX);
		goto done;
	}
	text = xmalloc(hlen + 1);
	got = pread_full(fd, text, hlen, prefix);
	if (got < 0) {
		err_sys(e, NULL, "cannot read '%s'", path);
		goto done;
	}
	if ((size_t)got < hlen) {
		err_run(e, NULL, "%s: truncated header (%zu bytes expected, %zu present)", path,
			prefix + hlen, prefix + (size_t)got);
		goto done;
	}
	text[hlen] = '\0';
	if (header_parse(path, text, hlen, info, e) < 0)
		goto done;

	info->data_offset = prefix + hlen;
	uint64_t bytes = dtype_size(info->dtype);
	for (int k = 0; k < info->ndim; k++) {
		if (__builtin_mul_overflow(bytes, (uint64_t)info->shape[k], &bytes) ||
		    bytes > (uint64_t)INT64_MAX - info->data_offset) {
			err_run(e, NULL, "%s: array too large (its shape overflows 63 bits)", path);
			goto done;
		}
	}
	info->data_bytes = bytes;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t have = size > info->data_offset ? size - info->data_offset : 0;
	if (have < bytes) {
		err_run(e, NULL, "%s: truncated: %" PRIu64 " bytes of data expected, %" PRIu64
			" present", path, bytes, have);
		goto done;
	}
	rc = 0;
done:
	free(text);
	close(fd);
	return rc;
}

/* ---- writing ---- */

struct npy_writer {
	int fd;               /* the temporary file; -1 once closed */
	char *path;           /* the target */
	char *tmp;            /* beside it; renamed onto it by commit */
	bool tmp_live;        /* the temporary file exists and is registered for cleanup */
	struct npy_info info; /* C order, little-endian */
	_Atomic uint64_t written; /* bytes put so far (several threads may put boxes) */
	struct flusher *fl;       /* for files of FLUSH_EVERY bytes or more; NULL if it could not start */
};

/*
 * A large output goes to disk while the rest of it is computed, so that
 * commit's fsync waits for the tail only (it took half a second of a
 * 1.15 GB .npy's run, after the last task). The disk is asked by a thread
 * of the writer's own: sync_file_range() blocks while it submits the
 * pages (50 ms per 64 MiB here), which would stall the output thread.
 */
#define FLUSH_EVERY ((uint64_t)64 << 20)

struct flusher {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;
	bool want, stop;
};

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->want && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop)
			break;
		f->want = false;
		pthread_mutex_unlock(&f->mu);
		/* a hint: where it fails (a filesystem without it), commit's fsync does it all */
		(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* Starts the writer's flusher (none if the thread cannot be had: fsync still does it all). */
static void flusher_start(struct npy_writer *w)
{
	struct flusher *f = xcalloc(1, sizeof *f);
	f->fd = w->fd;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (pthread_create(&f->th, NULL, flusher_main, f) != 0) {
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return;
	}
	w->fl = f;
}

/* Wakes the writer's flusher. Any thread. */
static void flusher_wake(struct npy_writer *w)
{
	if (!w->fl)
		return;
	pthread_mutex_lock(&w->fl->mu);
	w->fl->want = true;
	pthread_cond_signal(&w->fl->cv);
	pthread_mutex_unlock(&w->fl->mu);
}

/* Stops and joins the flusher, before the file is synced or closed. */
static void flusher_stop(struct npy_writer *w)
{
	struct flusher *f = w->fl;
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	w->fl = NULL;
}

/* Formats the header numpy.save writes for this array, byte for byte. */
static void header_format(struct buf *b, enum dtype t, int ndim, const int64_t *shape)
{
	struct buf d;
	buf_init(&d);
	buf_printf(&d, "{'descr': '%s', 'fortran_order': False, 'shape': (", dtypes[t].le);
	for (int k = 0; k < ndim; k++)
		buf_printf(&d, "%s%" PRId64, k ? ", " : "", shape[k]);
	buf_printf(&d, "%s), }", ndim == 1 ? "," : "");
	if (ndim > 0) {
		int digits = snprintf(NULL, 0, "%" PRId64, shape[0]);
		for (int i = digits; i < NPY_GROWTH_DIGITS; i++)
			buf_putc(&d, ' ');
	}
	/* numpy pads with 1..64 spaces (64 rather than none when already
	 * aligned), then the newline. */
	size_t prefix = 10, hlen = d.len + 1;
	size_t pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
	if (hlen + pad > 65535) {
		prefix = 12;
		pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
	}
	uint32_t total = (uint32_t)(hlen + pad);
	unsigned char pre[12];
	memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
	pre[6] = prefix == 10 ? 1 : 2;
	pre[7] = 0;
	for (int i = 0; i < 4; i++) /* little-endian; v1.0 keeps the low two bytes */
		pre[8 + i] = (unsigned char)(total >> (8 * i));
	buf_append(b, pre, prefix);
	buf_append(b, d.data, d.len);
	for (size_t i = 0; i < pad; i++)
		buf_putc(b, ' ');
	buf_putc(b, '\n');
	buf_release(&d);
}

/* The process umask without changing it: umask() can only be read by
 * setting it, and meanwhile another thread's files would get the wrong mode. */
static mode_t umask_now(void)
{
	char line[256];
	unsigned mask;
	FILE *f = fopen("/proc/self/status", "re");
	if (f) {
		while (fgets(line, sizeof line, f)) {
			if (sscanf(line, "Umask: %o", &mask) == 1) {
				fclose(f);
				return (mode_t)mask;
			}
		}
		fclose(f);
	}
	mode_t m = umask(022); /* no /proc: the racy way */
	umask(m);
	return m;
}

static void writer_free(struct npy_writer *w)
{
	if (!w)
		return;
	flusher_stop(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_live) {
		unlink(w->tmp);
		cleanup_forget(w->tmp);
	}
	free(w->path);
	free(w->tmp);
	free(w);
}

struct npy_writer *npy_writer_new(const char *path, enum dtype t, int ndim, const int64_t *shape,
				  struct err *e)
{
	struct npy_writer *w = NULL;
	struct buf hdr;
	buf_init(&hdr);

	if ((unsigned)t >= DT_N) {
		err_run(e, NULL, "cannot write '%s': unknown dtype %d", path, (int)t);
		goto fail;
	}
	if (ndim < 0 || ndim > NPY_MAX_DIMS) {
		err_run(e, NULL, "cannot write '%s': %d dimensions (at most %d)", path, ndim,
			NPY_MAX_DIMS);
		goto fail;
	}
	uint64_t bytes = dtypes[t].size;
	for (int k = 0; k < ndim; k++) {
		if (shape[k] < 0) {
			err_run(e, NULL, "cannot write '%s': negative extent %" PRId64 " on axis %d",
				path, shape[k], k);
			goto fail;
		}
		if (__builtin_mul_overflow(bytes, (uint64_t)shape[k], &bytes) ||
		    bytes > (uint64_t)INT64_MAX / 2) {
			err_run(e, NULL, "cannot write '%s': array too large", path);
			goto fail;
		}
	}
	header_format(&hdr, t, ndim, shape);

	w = xcalloc(1, sizeof *w);
	w->fd = -1;
	w->path = xstrdup(path);
	w->info.dtype = t;
	w->info.ndim = ndim;
	memcpy(w->info.shape, shape, (size_t)ndim * sizeof *shape);
	w->info.data_offset = hdr.len;
	w->info.data_bytes = bytes;
	/* Beside the target, so rename() is atomic; hidden, so a half-written
	 * file is not mistaken for output. */
	char *dir = xstrdup(path), *base = xstrdup(path);
	w->tmp = xasprintf("%s/.%s.tessera-XXXXXX", dirname(dir), basename(base));
	free(dir);
	free(base);
	w->fd = mkostemp(w->tmp, O_CLOEXEC);
	if (w->fd < 0) {
		err_sys(e, NULL, "cannot write '%s'", path);
		goto fail;
	}
	w->tmp_live = true;
	cleanup_add_file(w->tmp);
	/* Sized now: boxes may arrive in any order, and any never put read as zeros. */
	if (pwrite_full(w->fd, hdr.data, hdr.len, 0) < 0 ||
	    ftruncate(w->fd, (off_t)(hdr.len + bytes)) != 0) {
		err_sys(e, NULL, "cannot write '%s'", path);
		goto fail;
	}
	if (bytes >= FLUSH_EVERY)
		flusher_start(w);
	buf_release(&hdr);
	return w;
fail:
	buf_release(&hdr);
	writer_free(w);
	return NULL;
}

static int write_data(struct npy_writer *w, const void *buf, size_t len, uint64_t off,
		      struct err *e)
{
	if (pwrite_full(w->fd, buf, len, off) < 0)
		return err_sys(e, NULL, "cannot write '%s'", w->path);
	uint64_t before = atomic_fetch_add(&w->written, (uint64_t)len);
	if ((before + len) / FLUSH_EVERY != before / FLUSH_EVERY)
		flusher_wake(w);
	return 0;
}

int npy_writer_put_box(struct npy_writer *w, const int64_t *start, const int64_t *count,
		       const void *data, struct err *e)
{
	const struct npy_info *info = &w->info;
	size_t isz = dtypes[info->dtype].size;
	bool swap = isz > 1 && host_big_endian;
	unsigned char *tmp = NULL;
	struct layout l;
	int64_t idx[NPY_MAX_DIMS] = { 0 };
	int rc = -1;

	int64_t n = box_check(info->ndim, info->shape, start, count, e);
	if (n <= 0)
		return (int)n;
	layout_init(&l, info->ndim, info->shape, false, start, count);
	int64_t piece = PIECE_BYTES / (int64_t)isz;
	if (swap)
		tmp = xmalloc((size_t)(l.run < piece ? l.run : piece) * isz);
	do {
		int64_t f, b;
		layout_where(&l, idx, &f, &b);
		const unsigned char *src = (const unsigned char *)data + b * (int64_t)isz;
		uint64_t off = info->data_offset + (uint64_t)f * isz;
		if (!swap) {
			if (write_data(w, src, (size_t)l.run * isz, off, e) < 0)
				goto done;
			continue;
		}
		/* A big-endian host writes little-endian through the scratch. */
		for (int64_t put = 0; put < l.run;) {
			int64_t k = l.run - put < piece ? l.run - put : piece;
			memcpy(tmp, src + put * (int64_t)isz, (size_t)k * isz);
			swap_bytes(tmp, k, isz);
			if (write_data(w, tmp, (size_t)k * isz, off + (uint64_t)put * isz, e) < 0)
				goto done;
			put += k;
		}
	} while (layout_next(&l, idx));
	rc = 0;
done:
	free(tmp);
	return rc;
}

int npy_writer_commit(struct npy_writer *w, struct err *e)
{
	int rc = -1;
	flusher_stop(w);
	/* Some filesystems (pipes, a few FUSE ones) cannot fsync; that is no
	 * reason to lose the output. */
	if (fsync(w->fd) != 0 && errno != EINVAL) {
		err_sys(e, NULL, "cannot write '%s'", w->path);
		goto done;
	}
	/* mkstemp made it 0600; give it what a plain create would. */
	if (fchmod(w->fd, 0666 & ~umask_now()) != 0) {
		err_sys(e, NULL, "cannot write '%s'", w->path);
		goto done;
	}
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) != 0) {
		err_sys(e, NULL, "cannot write '%s'", w->path);
		goto done;
	}
	if (rename(w->tmp, w->path) != 0) {
		err_sys(e, NULL, "cannot rename output into '%s'", w->path);
		goto done;
	}
	cleanup_forget(w->tmp);
	w->tmp_live = false;
	rc = 0;
done:
	writer_free(w);
	return rc;
}

void npy_writer_abort(struct npy_writer *w)
{
	writer_free(w);
}
